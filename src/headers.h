/* headers.h - the response headers of one request (ngx.header). */
#ifndef LF_HEADERS_H
#define LF_HEADERS_H

#include <stddef.h>

#include "buf.h"

typedef struct {
    size_t name, name_len;   /* offsets into the arena */
    size_t value, value_len;
} lf_header_t;

typedef struct {
    lf_buf_t arena;
    lf_header_t *v;
    size_t n, cap;
} lf_headers_t;

void lf_headers_reset(lf_headers_t *h);
void lf_headers_free(lf_headers_t *h);
/* Remove every value of name (case-insensitive, '_' matches '-'). */
void lf_headers_remove(lf_headers_t *h, const char *name, size_t len);
int lf_headers_add(lf_headers_t *h, const char *name, size_t nlen, const char *value, size_t vlen);
/* Index of the next header named name at or after start, or -1. */
long lf_headers_find(const lf_headers_t *h, const char *name, size_t len, size_t start);
int lf_headers_name_eq(const char *a, size_t alen, const char *b, size_t blen);

static inline const char *lf_header_name(const lf_headers_t *h, size_t i)
{
    return h->arena.data + h->v[i].name;
}
static inline const char *lf_header_value(const lf_headers_t *h, size_t i)
{
    return h->arena.data + h->v[i].value;
}

#endif
