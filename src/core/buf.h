/* buf.h - a growable byte buffer, reused across requests (reset, not freed). */
#ifndef LF_BUF_H
#define LF_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    int oom;        /* an append failed since the last reset: output incomplete */
} lf_buf_t;

int lf_buf_reserve(lf_buf_t *b, size_t extra);
int lf_buf_append(lf_buf_t *b, const void *p, size_t n);
int lf_buf_appendf(lf_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lf_buf_free(lf_buf_t *b);
/* Give memory back when a single large response grew the buffer. */
void lf_buf_shrink(lf_buf_t *b, size_t keep);

static inline void lf_buf_reset(lf_buf_t *b)
{
    b->len = 0;
    b->oom = 0;
}

#endif
