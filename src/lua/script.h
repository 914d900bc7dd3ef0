/* script.h - map SCRIPT_FILENAME to a file inside the root, safely. */
#ifndef LF_SCRIPT_H
#define LF_SCRIPT_H

#include <stddef.h>

typedef struct {
    char real[4096];   /* realpath of --root */
    size_t real_len;
    char given[4096];  /* --root made absolute, as the web server may name it */
    size_t given_len;
    /* --sandbox-root, the same two ways; sandbox_real_len 0 = none */
    char sandbox_real[4096];
    size_t sandbox_real_len;
    char sandbox_given[4096];
    size_t sandbox_given_len;
} lf_root_t;

/* --root and --sandbox-root (NULL = none), which must be inside --root. */
int lf_root_init(lf_root_t *root, const char *dir, const char *sandbox_dir, char *errbuf,
                 size_t errlen);

/* Is the script untrusted: the web server's name for it (param, may be
 * NULL) or the file it resolved to inside --sandbox-root? */
int lf_script_sandboxed(const lf_root_t *root, const char *param, const char *resolved);

/* Resolve the web server's SCRIPT_FILENAME; 0 with out set to the real
 * path, or an HTTP status (403, 404) with the reason in why.  Nothing
 * outside the root is opened, and nothing is opened at all. */
int lf_script_resolve(const lf_root_t *root, const char *param, char *out, size_t outlen,
                      char *why, size_t whylen);

#endif
