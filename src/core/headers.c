/* headers.c - response headers kept in one arena, reset per request.
 *
 * Entries are appended at the arena's end and removal only drops them
 * from the vector, so offsets grow with the index; the bytes of removed
 * entries are reclaimed by moving the live ones down before the arena
 * would grow.  With the bounds of headers.h the arena never needs more
 * than LF_HEADERS_MAX_BYTES, whatever the script does. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "headers.h"

/* What a request leaves allocated for the next one. */
#define LF_HEADERS_KEEP_BYTES (16 * 1024)
#define LF_HEADERS_KEEP_COUNT 64

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

/* FNV-1a of the name as lf_headers_name_eq sees it: a scan for one name
 * among a thousand compares integers, not names. */
static unsigned headers_hash(const char *name, size_t len)
{
    unsigned x = 2166136261u;
    for (size_t i = 0; i < len; i++)
        x = (x ^ fold((unsigned char)name[i])) * 16777619u;
    return x;
}

static int headers_is(const lf_headers_t *h, size_t i, unsigned hash, const char *name, size_t len)
{
    return h->v[i].hash == hash &&
           lf_headers_name_eq(lf_header_name(h, i), h->v[i].name_len, name, len);
}

void lf_headers_reset(lf_headers_t *h)
{
    lf_buf_reset(&h->arena);
    h->n = 0;
    h->live = 0;
}

void lf_headers_release(lf_headers_t *h)
{
    lf_headers_reset(h);
    lf_buf_shrink(&h->arena, LF_HEADERS_KEEP_BYTES);
    if (h->cap > LF_HEADERS_KEEP_COUNT) {
        lf_header_t *v = realloc(h->v, LF_HEADERS_KEEP_COUNT * sizeof(*v));
        if (v != NULL) { /* else keeping the larger block is harmless */
            h->v = v;
            h->cap = LF_HEADERS_KEEP_COUNT;
        }
    }
}

void lf_headers_free(lf_headers_t *h)
{
    lf_buf_free(&h->arena);
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
    h->live = 0;
}

long lf_headers_find(const lf_headers_t *h, const char *name, size_t len, size_t start)
{
    unsigned hash = headers_hash(name, len);
    for (size_t i = start; i < h->n; i++)
        if (headers_is(h, i, hash, name, len))
            return (long)i;
    return -1;
}

void lf_headers_remove(lf_headers_t *h, const char *name, size_t len)
{
    unsigned hash = headers_hash(name, len);
    size_t o = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (headers_is(h, i, hash, name, len))
            h->live -= h->v[i].name_len + h->v[i].value_len + 2;
        else
            h->v[o++] = h->v[i];
    }
    h->n = o;
}

int lf_headers_check(const lf_headers_t *h, size_t count, size_t bytes)
{
    if (count > LF_HEADERS_MAX_COUNT - h->n)
        return LF_HEADERS_TOO_MANY;
    /* As sent: the arena's two NULs per entry become ": " and CRLF. */
    size_t sent = h->live + 2 * h->n;
    if (bytes > LF_HEADERS_MAX_BYTES || 4 * count > LF_HEADERS_MAX_BYTES - bytes ||
        sent > LF_HEADERS_MAX_BYTES - bytes - 4 * count)
        return LF_HEADERS_TOO_BIG;
    return LF_HEADERS_OK;
}

/* Move the live entries down over the bytes of removed ones. */
static void headers_compact(lf_headers_t *h)
{
    size_t to = 0;
    for (size_t i = 0; i < h->n; i++) {
        lf_header_t *e = &h->v[i];
        size_t len = e->name_len + e->value_len + 2; /* name NUL value NUL */
        if (e->name != to)
            memmove(h->arena.data + to, h->arena.data + e->name, len);
        e->name = to;
        e->value = to + e->name_len + 1;
        to += len;
    }
    h->arena.len = to;
}

int lf_headers_add_charged(lf_headers_t *h, const char *name, size_t nlen, const char *value,
                           size_t vlen, int (*charge)(size_t bytes))
{
    /* (A sum that could overflow is over the bound anyway.) */
    size_t bytes = nlen > LF_HEADERS_MAX_BYTES || vlen > LF_HEADERS_MAX_BYTES ? SIZE_MAX : nlen + vlen;
    int rc = lf_headers_check(h, 1, bytes);
    if (rc != LF_HEADERS_OK)
        return rc;
    size_t grew = 0;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        if (cap > LF_HEADERS_MAX_COUNT)
            cap = LF_HEADERS_MAX_COUNT;
        lf_header_t *v = realloc(h->v, cap * sizeof(*v));
        if (v == NULL)
            return LF_HEADERS_NOMEM;
        grew += (cap - h->cap) * sizeof(*v);
        h->v = v;
        h->cap = cap;
    }
    /* Each string is NUL-terminated in the arena for the C side's sake. */
    size_t need = nlen + vlen + 2;
    if (need > h->arena.cap - h->arena.len && h->arena.len > h->live)
        headers_compact(h);
    size_t before = h->arena.cap;
    if (lf_buf_reserve(&h->arena, need) != 0)
        return LF_HEADERS_NOMEM;
    grew += h->arena.cap - before;
    /* The bounds keep what grew small, so it is charged once it happened. */
    if (grew && charge && charge(grew) != 0)
        return LF_HEADERS_OVER_BUDGET;
    lf_header_t *e = &h->v[h->n];
    e->name = h->arena.len;
    e->name_len = nlen;
    e->hash = headers_hash(name, nlen);
    lf_buf_append(&h->arena, name, nlen);
    lf_buf_append(&h->arena, "", 1);
    e->value = h->arena.len;
    e->value_len = vlen;
    lf_buf_append(&h->arena, value, vlen);
    lf_buf_append(&h->arena, "", 1);
    h->n++;
    h->live += need;
    return LF_HEADERS_OK;
}

int lf_headers_add(lf_headers_t *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    return lf_headers_add_charged(h, name, nlen, value, vlen, NULL);
}
