/* fcgi_codec.c - the FastCGI record parser, params decoder and the
 * records a responder writes (see fcgi_codec.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_codec.h"

void lf_fcgi_parser_init(lf_fcgi_parser_t *p)
{
    memset(p, 0, sizeof(*p));
}

size_t lf_fcgi_parse(lf_fcgi_parser_t *p, const char *buf, size_t len, lf_fcgi_ev_t *ev)
{
    size_t used = 0;
    ev->kind = LF_FCGI_NEED_MORE;
    ev->data = NULL;
    ev->length = 0;
    if (!p->in_record) {
        while (p->hdr_got < FCGI_HEADER_LEN && used < len)
            p->hdr[p->hdr_got++] = (unsigned char)buf[used++];
        if (p->hdr_got < FCGI_HEADER_LEN)
            return used;
        if (p->hdr[0] != FCGI_VERSION_1) {
            ev->kind = LF_FCGI_BAD;
            return used;
        }
        p->type = p->hdr[1];
        p->id = (unsigned)p->hdr[2] << 8 | p->hdr[3];
        p->length = p->content_left = (unsigned)p->hdr[4] << 8 | p->hdr[5];
        p->padding_left = p->hdr[6];
        p->in_record = 1;
        p->hdr_got = 0;
        ev->kind = LF_FCGI_RECORD;
        ev->type = p->type;
        ev->id = p->id;
        ev->length = p->content_left;
        return used;
    }
    ev->type = p->type;
    ev->id = p->id;
    if (p->content_left > 0) {
        if (len == 0)
            return 0;
        size_t n = len < p->content_left ? len : p->content_left;
        p->content_left -= (unsigned)n;
        ev->kind = LF_FCGI_CONTENT;
        ev->data = buf;
        ev->length = (unsigned)n;
        return n;
    }
    while (p->padding_left > 0 && used < len) {
        size_t n = len - used < p->padding_left ? len - used : p->padding_left;
        p->padding_left -= (unsigned)n;
        used += n;
    }
    if (p->padding_left == 0) {
        p->in_record = 0;
        ev->kind = LF_FCGI_RECORD_END;
        ev->length = p->length;
    }
    return used;
}

int lf_fcgi_pair(const unsigned char *p, size_t len, size_t *pos, uint32_t *nlen, uint32_t *vlen)
{
    size_t i = *pos;
    uint32_t l[2];
    for (int k = 0; k < 2; k++) {
        if (i >= len)
            return -1;
        if (p[i] & 0x80) {
            if (len - i < 4)
                return -1;
            l[k] = ((uint32_t)(p[i] & 0x7f) << 24) | ((uint32_t)p[i + 1] << 16) |
                   ((uint32_t)p[i + 2] << 8) | p[i + 3];
            i += 4;
        } else {
            l[k] = p[i++];
        }
    }
    /* Compared without adding: the lengths come from the peer. */
    if (l[0] > len - i || l[1] > len - i - l[0])
        return -1;
    *pos = i;
    *nlen = l[0];
    *vlen = l[1];
    return 0;
}

int lf_fcgi_params_add(lf_fcgi_params_t *ps, const char *p, size_t n, const char **why)
{
    if (n > LF_FCGI_PARAMS_MAX - ps->raw.len) {
        *why = "the request's params are larger than 1 MiB";
        return -1;
    }
    if (lf_buf_append(&ps->raw, p, n) != 0) {
        *why = "out of memory reading the params";
        return -1;
    }
    return 0;
}

/* FNV-1a: short keys, no attacker-chosen collisions worth worrying about
 * within one request's bounded params (at worst the chains get long, and
 * the total is bounded by LF_FCGI_PARAMS_MAX). */
static uint32_t param_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

int lf_fcgi_params_decode(lf_fcgi_params_t *ps, const char **why)
{
    const unsigned char *p = (const unsigned char *)ps->raw.data;
    size_t len = ps->raw.len, pos = 0;
    ps->n = 0;
    lf_buf_reset(&ps->strings);
    /* A pair takes two NULs here and at least two length bytes in raw. */
    if (lf_buf_reserve(&ps->strings, len + 1) != 0) {
        *why = "out of memory decoding the params";
        return -1;
    }
    while (pos < len) {
        uint32_t nlen, vlen;
        if (lf_fcgi_pair(p, len, &pos, &nlen, &vlen) != 0) {
            *why = "a param's length runs past the end of the params";
            return -1;
        }
        if (ps->n == ps->cap) {
            size_t cap = ps->cap ? ps->cap * 2 : 64;
            lf_fcgi_param_t *v = realloc(ps->v, cap * sizeof(*v));
            if (v == NULL) {
                *why = "out of memory decoding the params";
                return -1;
            }
            ps->v = v;
            ps->cap = cap;
        }
        lf_fcgi_param_t *e = &ps->v[ps->n++];
        char *s = ps->strings.data;
        e->name = (uint32_t)ps->strings.len;
        e->name_len = nlen;
        memcpy(s + ps->strings.len, p + pos, nlen);
        ps->strings.len += nlen;
        s[ps->strings.len++] = '\0';
        e->value = (uint32_t)ps->strings.len;
        e->value_len = vlen;
        memcpy(s + ps->strings.len, p + pos + nlen, vlen);
        ps->strings.len += vlen;
        s[ps->strings.len++] = '\0';
        e->hash = param_hash((const char *)p + pos, nlen);
        pos += (size_t)nlen + vlen;
    }
    size_t want = 16;
    while (want < ps->n * 2)
        want *= 2;
    if (want > ps->nbuckets) {
        int32_t *b = realloc(ps->buckets, want * sizeof(*b));
        if (b == NULL) {
            *why = "out of memory decoding the params";
            return -1;
        }
        ps->buckets = b;
        ps->nbuckets = want;
    }
    for (size_t i = 0; i < ps->nbuckets; i++)
        ps->buckets[i] = -1;
    /* Backwards, each pushed on its chain's head: a lookup meets the first
     * of repeated names first (as getenv on libfcgi's envp did). */
    for (size_t i = ps->n; i-- > 0;) {
        size_t b = ps->v[i].hash & (ps->nbuckets - 1);
        ps->v[i].next = ps->buckets[b];
        ps->buckets[b] = (int32_t)i;
    }
    return 0;
}

const char *lf_fcgi_params_get(const lf_fcgi_params_t *ps, const char *name, size_t len)
{
    if (ps->nbuckets == 0 || ps->n == 0)
        return NULL;
    uint32_t h = param_hash(name, len);
    for (int32_t i = ps->buckets[h & (ps->nbuckets - 1)]; i >= 0; i = ps->v[i].next) {
        const lf_fcgi_param_t *e = &ps->v[i];
        if (e->hash == h && e->name_len == len &&
            memcmp(ps->strings.data + e->name, name, len) == 0)
            return ps->strings.data + e->value;
    }
    return NULL;
}

void lf_fcgi_params_reset(lf_fcgi_params_t *ps)
{
    lf_buf_reset(&ps->raw);
    lf_buf_reset(&ps->strings);
    ps->n = 0;
    /* One large request's params are not held for good. */
    lf_buf_shrink(&ps->raw, 64 * 1024);
    lf_buf_shrink(&ps->strings, 128 * 1024);
    if (ps->cap > 4096) {
        free(ps->v);
        free(ps->buckets);
        ps->v = NULL;
        ps->buckets = NULL;
        ps->cap = ps->nbuckets = 0;
    }
}

void lf_fcgi_params_free(lf_fcgi_params_t *ps)
{
    lf_buf_free(&ps->raw);
    lf_buf_free(&ps->strings);
    free(ps->v);
    free(ps->buckets);
    memset(ps, 0, sizeof(*ps));
}

void lf_fcgi_header(unsigned char out[FCGI_HEADER_LEN], int type, unsigned id, unsigned len)
{
    out[0] = FCGI_VERSION_1;
    out[1] = (unsigned char)type;
    out[2] = (unsigned char)(id >> 8);
    out[3] = (unsigned char)id;
    out[4] = (unsigned char)(len >> 8);
    out[5] = (unsigned char)len;
    out[6] = out[7] = 0;
}

void lf_fcgi_end_request(unsigned char out[16], unsigned id, int protocol_status)
{
    lf_fcgi_header(out, FCGI_END_REQUEST, id, 8);
    memset(out + 8, 0, 8);           /* appStatus 0 */
    out[12] = (unsigned char)protocol_status;
}

void lf_fcgi_unknown_type(unsigned char out[16], int type)
{
    lf_fcgi_header(out, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, 8);
    memset(out + 8, 0, 8);
    out[8] = (unsigned char)type;
}

/* One pair, short lengths (the names and values here are short). */
static int put_pair(lf_buf_t *out, const char *name, const char *value)
{
    unsigned char l[2] = {(unsigned char)strlen(name), (unsigned char)strlen(value)};
    return lf_buf_append(out, l, 2) | lf_buf_append(out, name, l[0]) |
           lf_buf_append(out, value, l[1]);
}

int lf_fcgi_get_values_result(const char *content, size_t len, unsigned max_conns, lf_buf_t *out,
                              const char **why)
{
    static const char *const known[] = {FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS};
    char conns[16];
    snprintf(conns, sizeof(conns), "%u", max_conns);
    const char *values[] = {conns, conns, "0"};
    int asked[3] = {0, 0, 0};
    const unsigned char *p = (const unsigned char *)content;
    size_t pos = 0;
    while (pos < len) {
        uint32_t nlen, vlen;
        if (lf_fcgi_pair(p, len, &pos, &nlen, &vlen) != 0) {
            *why = "a FCGI_GET_VALUES name's length runs past the record";
            return -1;
        }
        for (int k = 0; k < 3; k++)
            if (nlen == strlen(known[k]) && memcmp(p + pos, known[k], nlen) == 0)
                asked[k] = 1;
        pos += (size_t)nlen + vlen;
    }
    lf_buf_reset(out);
    int rc = lf_buf_reserve(out, FCGI_HEADER_LEN);
    if (rc == 0)
        out->len = FCGI_HEADER_LEN;
    for (int k = 0; k < 3; k++)
        if (asked[k])
            rc |= put_pair(out, known[k], values[k]);
    if (rc != 0 || out->oom) {
        *why = "out of memory answering FCGI_GET_VALUES";
        return -1;
    }
    lf_fcgi_header((unsigned char *)out->data, FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID,
                   (unsigned)(out->len - FCGI_HEADER_LEN));
    return 0;
}
