/* headers.h - the response headers of one request (ngx.header). */
#ifndef LF_HEADERS_H
#define LF_HEADERS_H

#include <stddef.h>

#include "buf.h"

/* The bounds on one response's headers (doc/api.md): bytes as sent (name,
 * ": ", value, CRLF) and entries.  nginx takes no more than
 * fastcgi_buffer_size (one page by default) anyway. */
#define LF_HEADERS_MAX_BYTES (64 * 1024)
#define LF_HEADERS_MAX_COUNT 1000

/* What lf_headers_add and lf_headers_check answer. */
enum {
    LF_HEADERS_OK = 0,
    LF_HEADERS_NOMEM = -1,
    LF_HEADERS_TOO_MANY = -2,    /* past LF_HEADERS_MAX_COUNT */
    LF_HEADERS_TOO_BIG = -3,     /* past LF_HEADERS_MAX_BYTES */
    LF_HEADERS_OVER_BUDGET = -4, /* the charge callback refused the memory */
};

typedef struct {
    size_t name, name_len;   /* offsets into the arena */
    size_t value, value_len;
    unsigned hash;           /* of the folded name: most lookups stop here */
} lf_header_t;

typedef struct {
    lf_buf_t arena;          /* name NUL value NUL, in the order of v */
    lf_header_t *v;
    size_t n, cap;
    size_t live;             /* arena bytes the n entries use (the rest was removed) */
} lf_headers_t;

void lf_headers_reset(lf_headers_t *h);
/* At the end of a request: reset, and give back what a large response grew. */
void lf_headers_release(lf_headers_t *h);
void lf_headers_free(lf_headers_t *h);
/* Remove every value of name (case-insensitive, '_' matches '-'). */
void lf_headers_remove(lf_headers_t *h, const char *name, size_t len);
/* Would count more headers of bytes names and values in all stay within the
 * bounds?  LF_HEADERS_OK, TOO_MANY or TOO_BIG; nothing is copied. */
int lf_headers_check(const lf_headers_t *h, size_t count, size_t bytes);
/* Append one header, bounds checked before anything is copied. */
int lf_headers_add(lf_headers_t *h, const char *name, size_t nlen, const char *value, size_t vlen);
/* The same, telling charge (when not NULL) the bytes of memory the buffers
 * grew by; if it answers non-zero the header is not kept
 * (LF_HEADERS_OVER_BUDGET). */
int lf_headers_add_charged(lf_headers_t *h, const char *name, size_t nlen, const char *value,
                           size_t vlen, int (*charge)(size_t bytes));
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
