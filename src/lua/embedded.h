/* embedded.h - the Lua files under lua/, compiled into the binary. */
#ifndef LF_EMBEDDED_H
#define LF_EMBEDDED_H

#include <stddef.h>

typedef struct {
    const char *name;   /* module name for require, e.g. "luafpm.ngx" */
    const char *source;
    size_t length;
} lf_embedded_t;

extern const lf_embedded_t lf_embedded[]; /* ends with a NULL name */

#endif
