/* script.h - map SCRIPT_FILENAME to a file inside the root, safely. */
#ifndef LF_SCRIPT_H
#define LF_SCRIPT_H

#include <stddef.h>

typedef struct {
    char real[4096];   /* realpath of --root */
    size_t real_len;
    char given[4096];  /* --root made absolute, as the web server may name it */
    size_t given_len;
} lf_root_t;

int lf_root_init(lf_root_t *root, const char *dir, char *errbuf, size_t errlen);

/* Resolve the web server's SCRIPT_FILENAME; 0 with out set to the real
 * path, or an HTTP status (403, 404) with the reason in why.  Nothing
 * outside the root is opened, and nothing is opened at all. */
int lf_script_resolve(const lf_root_t *root, const char *param, char *out, size_t outlen,
                      char *why, size_t whylen);

#endif
