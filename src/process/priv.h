/* priv.h - --user/--group: drop root once everything privileged is open. */
#ifndef LF_PRIV_H
#define LF_PRIV_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
    int active;      /* running as root with --user: lf_priv_drop switches */
    uid_t uid;
    gid_t gid;
    char user[256];  /* for initgroups(); "" for a uid without a passwd entry */
} lf_priv_t;

/* Resolve --user/--group (names or numbers).  As root the switch is
 * planned; otherwise they must name the current user and group.  -1 with
 * the reason in errbuf. */
int lf_priv_init(lf_priv_t *priv, const char *user, const char *group, char *errbuf,
                 size_t errlen);

/* Give path (the unix socket) to the user and group, when switching. */
int lf_priv_chown(const lf_priv_t *priv, const char *path, char *errbuf, size_t errlen);

/* initgroups (or setgroups), setgid, setuid, each checked, then make sure
 * root cannot be regained; nothing to do unless priv->active. */
int lf_priv_drop(const lf_priv_t *priv, char *errbuf, size_t errlen);

/* Log a warning when path is not accessible with mode (access(2)) to the
 * user we now run as: the root or the temporary directory, say. */
void lf_priv_warn_access(const char *what, const char *path, int mode);

#endif
