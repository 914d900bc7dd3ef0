/* priv.c - the privilege drop.  The master drops root before it forks any
 * worker, so the workers, their respawns and every reload run as --user;
 * the price is that a reload cannot change the user, the group, or a
 * privileged listen port (nginx and php-fpm keep a root master instead). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include "log.h"
#include "priv.h"

/* s as a non-negative decimal id; -1 when it is not one. */
static long long parse_id(const char *s)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v > (long long)(unsigned)-2)
        return -1;
    return v;
}

/* NULL from getpwnam()/getgrnam() with one of these errno values means
 * "no such entry", not a failed lookup (see getpwnam(3)). */
static int not_found(int err)
{
    return err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM;
}

/* --user: uid, and the primary group unless the user is a bare uid. */
static int priv_user(lf_priv_t *priv, const char *user, int *have_gid, char *errbuf,
                     size_t errlen)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    long long id = parse_id(user);
    if (pw == NULL && id >= 0) {
        errno = 0;
        pw = getpwuid((uid_t)id);
        if (pw == NULL && not_found(errno)) {
            priv->uid = (uid_t)id; /* a bare uid: --group must give the group */
            priv->user[0] = '\0';
            return 0;
        }
    }
    if (pw == NULL) {
        if (not_found(errno))
            snprintf(errbuf, errlen, "unknown user \"%s\" (option \"user\")", user);
        else
            snprintf(errbuf, errlen, "getpwnam(\"%s\") failed (%d: %s)", user, errno,
                     strerror(errno));
        return -1;
    }
    if (strlen(pw->pw_name) >= sizeof(priv->user)) {
        snprintf(errbuf, errlen, "user name \"%s\" too long", pw->pw_name);
        return -1;
    }
    priv->uid = pw->pw_uid;
    priv->gid = pw->pw_gid;
    *have_gid = 1;
    memcpy(priv->user, pw->pw_name, strlen(pw->pw_name) + 1);
    return 0;
}

/* --group: a group name or a gid. */
static int priv_group(lf_priv_t *priv, const char *group, char *errbuf, size_t errlen)
{
    errno = 0;
    struct group *gr = getgrnam(group);
    long long id = parse_id(group);
    if (gr == NULL && id >= 0 && not_found(errno)) {
        priv->gid = (gid_t)id;
        return 0;
    }
    if (gr == NULL) {
        if (not_found(errno))
            snprintf(errbuf, errlen, "unknown group \"%s\" (option \"group\")", group);
        else
            snprintf(errbuf, errlen, "getgrnam(\"%s\") failed (%d: %s)", group, errno,
                     strerror(errno));
        return -1;
    }
    priv->gid = gr->gr_gid;
    return 0;
}

int lf_priv_init(lf_priv_t *priv, const char *user, const char *group, char *errbuf,
                 size_t errlen)
{
    int have_gid = 0;
    memset(priv, 0, sizeof(*priv));
    if (user == NULL) {
        if (group != NULL) {
            snprintf(errbuf, errlen, "option \"group\" needs option \"user\"");
            return -1;
        }
        return 0;
    }
    if (priv_user(priv, user, &have_gid, errbuf, errlen) != 0)
        return -1;
    if (group != NULL) {
        if (priv_group(priv, group, errbuf, errlen) != 0)
            return -1;
        have_gid = 1;
    }
    if (!have_gid) {
        snprintf(errbuf, errlen, "user %s has no passwd entry: option \"group\" is needed", user);
        return -1;
    }
    if (geteuid() == 0) {
        priv->active = 1;
        return 0;
    }
    /* Not root: nothing to switch, so the options must describe us. */
    if (priv->uid != getuid() || priv->uid != geteuid()) {
        snprintf(errbuf, errlen,
                 "cannot run as user \"%s\": not started as root (running as uid %lu)", user,
                 (unsigned long)geteuid());
        return -1;
    }
    if (group != NULL && (priv->gid != getgid() || priv->gid != getegid())) {
        snprintf(errbuf, errlen,
                 "cannot run as group \"%s\": not started as root (running as gid %lu)", group,
                 (unsigned long)getegid());
        return -1;
    }
    return 0;
}

int lf_priv_chown(const lf_priv_t *priv, const char *path, char *errbuf, size_t errlen)
{
    if (!priv->active || path == NULL || path[0] == '\0')
        return 0;
    if (chown(path, priv->uid, priv->gid) != 0) {
        snprintf(errbuf, errlen, "chown(\"%s\", %lu, %lu) failed (%d: %s)", path,
                 (unsigned long)priv->uid, (unsigned long)priv->gid, errno, strerror(errno));
        return -1;
    }
    return 0;
}

int lf_priv_drop(const lf_priv_t *priv, char *errbuf, size_t errlen)
{
    if (!priv->active)
        return 0;
    unsigned long uid = priv->uid, gid = priv->gid;
    /* Groups first: once the uid is gone, they cannot change any more. */
    if (priv->user[0] ? initgroups(priv->user, priv->gid) != 0
                      : setgroups(1, &priv->gid) != 0) {
        snprintf(errbuf, errlen, "%s(\"%s\", %lu) failed (%d: %s)",
                 priv->user[0] ? "initgroups" : "setgroups", priv->user, gid, errno,
                 strerror(errno));
        return -1;
    }
    if (setgid(priv->gid) != 0) {
        snprintf(errbuf, errlen, "setgid(%lu) failed (%d: %s)", gid, errno, strerror(errno));
        return -1;
    }
    if (setuid(priv->uid) != 0) {
        snprintf(errbuf, errlen, "setuid(%lu) failed (%d: %s)", uid, errno, strerror(errno));
        return -1;
    }
    if (getuid() != priv->uid || geteuid() != priv->uid || getgid() != priv->gid ||
        getegid() != priv->gid) {
        snprintf(errbuf, errlen, "after setuid(%lu)/setgid(%lu) the process runs as %lu/%lu", uid,
                 gid, (unsigned long)geteuid(), (unsigned long)getegid());
        return -1;
    }
    if (priv->uid != 0 && setuid(0) == 0) {
        snprintf(errbuf, errlen, "setuid(0) succeeded after dropping to uid %lu", uid);
        return -1;
    }
#if defined(HAVE_PRCTL) && defined(PR_SET_DUMPABLE)
    /* setuid() cleared it: keep core dumps (and the sanitizers' ptrace)
     * working for the workers, as nginx does. */
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
        lf_log_errno(LF_LOG_WARN, errno, "prctl(PR_SET_DUMPABLE) failed");
#endif
    return 0;
}

void lf_priv_warn_access(const char *what, const char *path, int mode)
{
    if (path != NULL && access(path, mode) != 0)
        lf_log_errno(LF_LOG_WARN, errno, "%s \"%s\" is not accessible to uid %lu", what, path,
                     (unsigned long)geteuid());
}
