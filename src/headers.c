/* headers.c - response headers kept in one arena, reset per request. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "headers.h"

static unsigned char fold(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return (unsigned char)(c + 32);
    if (c == '_')
        return '-';
    return c;
}

int lf_headers_name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
            return 0;
    return 1;
}

void lf_headers_reset(lf_headers_t *h)
{
    lf_buf_reset(&h->arena);
    h->n = 0;
}

void lf_headers_free(lf_headers_t *h)
{
    lf_buf_free(&h->arena);
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

long lf_headers_find(const lf_headers_t *h, const char *name, size_t len, size_t start)
{
    for (size_t i = start; i < h->n; i++)
        if (lf_headers_name_eq(lf_header_name(h, i), h->v[i].name_len, name, len))
            return (long)i;
    return -1;
}

void lf_headers_remove(lf_headers_t *h, const char *name, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < h->n; i++)
        if (!lf_headers_name_eq(lf_header_name(h, i), h->v[i].name_len, name, len))
            h->v[o++] = h->v[i];
    h->n = o;
}

int lf_headers_add(lf_headers_t *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        lf_header_t *v = realloc(h->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    /* Each string is NUL-terminated in the arena for the C side's sake. */
    if (lf_buf_reserve(&h->arena, nlen + vlen + 2) != 0)
        return -1;
    lf_header_t *e = &h->v[h->n];
    e->name = h->arena.len;
    e->name_len = nlen;
    lf_buf_append(&h->arena, name, nlen);
    lf_buf_append(&h->arena, "", 1);
    e->value = h->arena.len;
    e->value_len = vlen;
    lf_buf_append(&h->arena, value, vlen);
    lf_buf_append(&h->arena, "", 1);
    h->n++;
    return 0;
}
