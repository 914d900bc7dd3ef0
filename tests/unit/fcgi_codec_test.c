/* fcgi_codec_test.c - the FastCGI codec on its own: any split of the
 * input parses the same, lengths from the peer never run past the data,
 * GET_VALUES with any number of names, params lookups; and real nginx and
 * Apache requests (tests/unit/data) at every split point, cut short and
 * made malformed.  TAP output. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_codec.h"

/* ASan builds poison what lies past the piece the parser is given. */
#if defined(__SANITIZE_ADDRESS__)
#define LF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LF_ASAN 1
#endif
#endif
#ifdef LF_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* Where the captures are when LUAFPM_SRCDIR (make check sets it) is not. */
#ifndef LF_TOP_SRCDIR
#define LF_TOP_SRCDIR "."
#endif

static int tests, failures;

static void ok(int cond, const char *what)
{
    tests++;
    if (!cond)
        failures++;
    printf("%s %d - %s\n", cond ? "ok" : "not ok", tests, what);
}

static size_t put_record(unsigned char *out, int type, unsigned id, const void *content,
                         size_t len, unsigned padding)
{
    lf_fcgi_header(out, type, id, (unsigned)len);
    out[6] = (unsigned char)padding;
    memcpy(out + 8, content, len);
    memset(out + 8 + len, 0xee, padding);
    return 8 + len + padding;
}

static size_t put_pair(unsigned char *out, const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value), o = 0;
    out[o++] = (unsigned char)n;
    if (v < 128) {
        out[o++] = (unsigned char)v;
    } else {
        out[o++] = (unsigned char)(0x80 | (v >> 24));
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    memcpy(out + o, name, n);
    memcpy(out + o + n, value, v);
    return o + n + v;
}

/* A request as nginx sends it: BEGIN, PARAMS in two records (padded), the
 * empty PARAMS, STDIN, the empty STDIN. */
static size_t make_request(unsigned char *buf)
{
    static unsigned char params[4096];
    char longval[300];
    memset(longval, 'v', sizeof(longval) - 1);
    longval[sizeof(longval) - 1] = '\0';
    size_t p = 0;
    p += put_pair(params + p, "SCRIPT_FILENAME", "/srv/www/index.lua");
    p += put_pair(params + p, "REQUEST_METHOD", "POST");
    p += put_pair(params + p, "HTTP_X_LONG", longval);
    p += put_pair(params + p, "HTTP_ACCEPT", "a");
    p += put_pair(params + p, "HTTP_ACCEPT", "b");
    p += put_pair(params + p, "EMPTY", "");
    size_t o = 0;
    unsigned char begin[8] = {0, 1, 1, 0, 0, 0, 0, 0};
    o += put_record(buf + o, FCGI_BEGIN_REQUEST, 1, begin, 8, 0);
    o += put_record(buf + o, FCGI_PARAMS, 1, params, 100, 4);
    o += put_record(buf + o, FCGI_PARAMS, 1, params + 100, p - 100, 7);
    o += put_record(buf + o, FCGI_PARAMS, 1, "", 0, 0);
    o += put_record(buf + o, FCGI_STDIN, 1, "hello=world", 11, 5);
    o += put_record(buf + o, FCGI_STDIN, 1, "", 0, 0);
    return o;
}

/* Everything the parser reports, as text, for input fed in pieces of at
 * most step bytes (0: split once at split). */
static void transcript(const unsigned char *in, size_t len, size_t split, size_t step,
                       char *out, size_t outlen)
{
    lf_fcgi_parser_t p;
    lf_fcgi_parser_init(&p);
    size_t o = 0, pos = 0;
    out[0] = '\0';
    while (pos < len) {
        size_t end = step ? pos + step : (pos < split ? split : len);
        if (end > len)
            end = len;
        const char *chunk = (const char *)in + pos;
        size_t clen = end - pos, used = 0;
        while (used < clen || (p.in_record && p.content_left == 0 && p.padding_left == 0)) {
            lf_fcgi_ev_t ev;
            used += lf_fcgi_parse(&p, chunk + used, clen - used, &ev);
            if (ev.kind == LF_FCGI_NEED_MORE)
                break;
            if (ev.kind == LF_FCGI_CONTENT) {
                /* Bytes as hex: params hold NULs. */
                for (unsigned i = 0; i < ev.length && o + 3 < outlen; i++)
                    o += (size_t)snprintf(out + o, outlen - o, "%02x", (unsigned char)ev.data[i]);
            } else {
                o += (size_t)snprintf(out + o, outlen - o, "[%d %d %u %u]", ev.kind, ev.type, ev.id,
                                      ev.length);
            }
            if (o >= outlen)
                return;
        }
        pos = end;
    }
}

static void test_splits(void)
{
    static unsigned char req[8192];
    static char whole[65536], piece[65536];
    size_t len = make_request(req);
    transcript(req, len, len, 0, whole, sizeof(whole));
    ok(strstr(whole, "68656c6c6f3d776f726c64") != NULL && strstr(whole, "[3 5 1 0]") != NULL,
       "a whole request parses: content and the empty STDIN's end");
    int same = 1;
    for (size_t split = 1; split < len; split++) {
        transcript(req, len, split, 0, piece, sizeof(piece));
        /* Content may come in two pieces; compare without the split. */
        same &= strcmp(whole, piece) == 0;
    }
    ok(same, "every split point of a request parses the same");
    transcript(req, len, 0, 1, piece, sizeof(piece));
    ok(strcmp(whole, piece) == 0, "a byte at a time parses the same");
    transcript(req, len, 0, 3, piece, sizeof(piece));
    ok(strcmp(whole, piece) == 0, "three bytes at a time parses the same");
}

static void test_bad_version(void)
{
    unsigned char rec[16];
    lf_fcgi_header(rec, FCGI_BEGIN_REQUEST, 1, 8);
    rec[0] = 2;
    lf_fcgi_parser_t p;
    lf_fcgi_parser_init(&p);
    lf_fcgi_ev_t ev;
    lf_fcgi_parse(&p, (const char *)rec, sizeof(rec), &ev);
    ok(ev.kind == LF_FCGI_BAD, "a record of version 2 is refused");
}

static void test_pairs(void)
{
    uint32_t n, v;
    size_t pos = 0;
    const unsigned char huge[] = {0xff, 0xff, 0xff, 0xfe, 0x01, 'X', 'X'};
    ok(lf_fcgi_pair(huge, sizeof(huge), &pos, &n, &v) == -1 && pos == 0,
       "a name length of 0x7ffffffe is refused, nothing consumed");
    const unsigned char cut[] = {0x80, 0x00};
    pos = 0;
    ok(lf_fcgi_pair(cut, sizeof(cut), &pos, &n, &v) == -1, "a four-byte length cut short is refused");
    const unsigned char past[] = {0x03, 0x05, 'a', 'b', 'c', 'd'};
    pos = 0;
    ok(lf_fcgi_pair(past, sizeof(past), &pos, &n, &v) == -1, "a value running past the data is refused");
    const unsigned char good[] = {0x01, 0x02, 'a', 'b', 'c'};
    pos = 0;
    ok(lf_fcgi_pair(good, sizeof(good), &pos, &n, &v) == 0 && n == 1 && v == 2 && pos == 2,
       "a well-formed pair decodes");
    const unsigned char max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    pos = 0;
    ok(lf_fcgi_pair(max, sizeof(max), &pos, &n, &v) == -1, "two lengths of 2^31-1 do not wrap");
}

static void test_params(void)
{
    static unsigned char raw[1 << 16];
    size_t p = 0;
    char name[32], value[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof(name), "HTTP_X_%d", i);
        snprintf(value, sizeof(value), "v%d", i);
        p += put_pair(raw + p, name, value);
    }
    p += put_pair(raw + p, "HTTP_X_7", "second");
    lf_fcgi_params_t ps;
    memset(&ps, 0, sizeof(ps));
    const char *why = NULL;
    ok(lf_fcgi_params_add(&ps, (const char *)raw, 10, &why) == 0 &&
           lf_fcgi_params_add(&ps, (const char *)raw + 10, p - 10, &why) == 0 &&
           lf_fcgi_params_decode(&ps, &why) == 0,
       "3001 params in two pieces decode");
    const char *v = lf_fcgi_params_get(&ps, "HTTP_X_2999", 11);
    ok(ps.n == 3001 && v && strcmp(v, "v2999") == 0, "the last one is found");
    v = lf_fcgi_params_get(&ps, "HTTP_X_7", 8);
    ok(v && strcmp(v, "v7") == 0, "a repeated name finds its first value");
    ok(lf_fcgi_params_get(&ps, "HTTP_X_3000", 11) == NULL, "a missing name is NULL");
    lf_fcgi_params_reset(&ps);
    unsigned char bad[] = {0x05, 0x81};
    ok(lf_fcgi_params_add(&ps, (const char *)bad, sizeof(bad), &why) == 0 &&
           lf_fcgi_params_decode(&ps, &why) == -1,
       "a truncated pair is a decode error");
    lf_fcgi_params_reset(&ps);
    static char big[64 * 1024];
    int refused = 0;
    for (int i = 0; i < 20 && !refused; i++)
        refused = lf_fcgi_params_add(&ps, big, sizeof(big), &why) != 0;
    ok(refused && ps.raw.len <= LF_FCGI_PARAMS_MAX, "params stop at LF_FCGI_PARAMS_MAX");
    lf_fcgi_params_free(&ps);
}

static void test_get_values(void)
{
    static unsigned char content[8192];
    size_t p = 0;
    char name[32];
    p += put_pair(content + p, "FCGI_MAX_CONNS", "");
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "X_UNKNOWN_NAME_%d", i);
        p += put_pair(content + p, name, "");
    }
    p += put_pair(content + p, "FCGI_MPXS_CONNS", "");
    lf_buf_t out = {0};
    const char *why = NULL;
    int rc = lf_fcgi_get_values_result((const char *)content, p, 64, &out, &why);
    ok(rc == 0 && (unsigned char)out.data[1] == FCGI_GET_VALUES_RESULT,
       "GET_VALUES with 102 names is answered");
    const char expect[] = "\x0e\x02" "FCGI_MAX_CONNS64" "\x0f\x01" "FCGI_MPXS_CONNS0";
    ok(out.len == 8 + sizeof(expect) - 1 && memcmp(out.data + 8, expect, sizeof(expect) - 1) == 0,
       "it names only what was asked and luafpm knows");
    content[p++] = 0x7f; /* a name length past the end */
    ok(lf_fcgi_get_values_result((const char *)content, p, 64, &out, &why) == -1,
       "a malformed GET_VALUES is refused");
    lf_buf_free(&out);
}

/* ---- Real requests: nginx and Apache, captured once (tests/unit/data,
 * made by tests/unit/capture.sh).  Each capture is parsed whole for the
 * reference, its requests checked against what was sent, then parsed cut
 * at every length, in two pieces at every split point and a byte at a
 * time, and in malformed variants. ---- */

/* One thing the parser reported.  off: where a content piece's bytes are
 * in the input (pieces cut by a split are joined again); at: how many
 * input bytes had been consumed when it was reported.  Two runs with the
 * same events saw the same bytes in the same places. */
typedef struct {
    int kind, type;
    unsigned id, length;
    size_t off, at;
} event_t;

typedef struct {
    event_t *v;
    size_t n, cap;
    size_t used; /* input bytes consumed */
    int bad;     /* LF_FCGI_BAD */
    int broken;  /* the parser broke its contract (see feed) */
    int idle;    /* events in a row that consumed nothing */
} run_t;

/* An input alone in a buffer whose readable part ends where the piece
 * given to the parser ends: ASan builds poison the rest, so that reading
 * one byte past it is an error, not a look at the next piece. */
typedef struct {
    unsigned char *data;
    size_t len, cap, end;
} input_t;

static void input_end(input_t *in, size_t end)
{
#ifdef LF_ASAN
    /* Addressable is [0, in->end), all else up to cap (a whole number of
     * 8-byte granules) poisoned: moving the end is exact either way. */
    if (end < in->end)
        ASAN_POISON_MEMORY_REGION(in->data + end, in->end - end);
    else if (end > in->end)
        ASAN_UNPOISON_MEMORY_REGION(in->data + in->end, end - in->end);
#endif
    in->end = end;
}

static void input_new(input_t *in, const void *bytes, size_t len)
{
    in->cap = (len + 8) & ~(size_t)7;
    in->data = malloc(in->cap);
    if (in->data == NULL) {
        perror("malloc");
        exit(2);
    }
    if (len)
        memcpy(in->data, bytes, len);
    in->len = len;
    in->end = in->cap;
    input_end(in, len);
}

static void input_free(input_t *in)
{
    input_end(in, in->cap);
    free(in->data);
    memset(in, 0, sizeof(*in));
}

static void run_free(run_t *r)
{
    free(r->v);
    memset(r, 0, sizeof(*r));
}

static void event_push(run_t *r, const event_t *e)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = realloc(r->v, r->cap * sizeof(*r->v));
        if (r->v == NULL) {
            perror("realloc");
            exit(2);
        }
    }
    r->v[r->n++] = *e;
}

static void event_add(run_t *r, const lf_fcgi_ev_t *ev, const unsigned char *base, size_t at)
{
    event_t e = {ev->kind, 0, 0, 0, 0, at};
    if (ev->kind != LF_FCGI_BAD) {
        e.type = ev->type;
        e.id = ev->id;
        e.length = ev->length;
    }
    if (ev->kind == LF_FCGI_CONTENT) {
        e.off = (size_t)((const unsigned char *)ev->data - base);
        event_t *last = r->n ? &r->v[r->n - 1] : NULL;
        if (last && last->kind == LF_FCGI_CONTENT && last->off + last->length == e.off) {
            last->length += e.length;
            last->at = at;
            return;
        }
    }
    event_push(r, &e);
}

/* Parse in[from..to), driving the parser as fcgi_conn.c does.  Broken:
 * more consumed than given, NEED_MORE with bytes left, a content piece
 * not at the next byte or not as long as what was consumed, or events
 * that go on without consuming anything. */
static void feed(lf_fcgi_parser_t *p, run_t *r, const input_t *in, size_t from, size_t to)
{
    const char *chunk = (const char *)in->data + from;
    size_t len = to - from, used = 0;
    while (!r->bad && !r->broken &&
           (used < len || (p->in_record && p->content_left == 0 && p->padding_left == 0))) {
        lf_fcgi_ev_t ev;
        size_t n = lf_fcgi_parse(p, chunk + used, len - used, &ev);
        if (n > len - used || (ev.kind == LF_FCGI_NEED_MORE && n != len - used) ||
            (ev.kind == LF_FCGI_CONTENT && (ev.data != chunk + used || ev.length != n || n == 0))) {
            r->broken = 1;
            break;
        }
        used += n;
        if (ev.kind == LF_FCGI_NEED_MORE)
            break;
        r->idle = n ? 0 : r->idle + 1;
        if (r->idle > 2)
            r->broken = 1;
        event_add(r, &ev, in->data, from + used);
        if (ev.kind == LF_FCGI_BAD)
            r->bad = 1;
    }
    r->used = from + used;
}

/* The whole input in pieces of step bytes (0: one piece). */
static void parse_steps(input_t *in, size_t step, run_t *r)
{
    lf_fcgi_parser_t p;
    lf_fcgi_parser_init(&p);
    memset(r, 0, sizeof(*r));
    if (step == 0)
        step = in->len ? in->len : 1;
    for (size_t pos = 0; pos < in->len && !r->bad && !r->broken; pos += step) {
        size_t end = in->len - pos < step ? in->len : pos + step;
        input_end(in, end);
        feed(&p, r, in, pos, end);
    }
    input_end(in, in->len);
}

static int same_event(const event_t *a, const event_t *b)
{
    return a->kind == b->kind && a->type == b->type && a->id == b->id && a->length == b->length &&
           a->off == b->off && a->at == b->at;
}

static int same_events(const event_t *a, size_t na, const event_t *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (!same_event(&a[i], &b[i]))
            return 0;
    return 1;
}

/* What a parse of the first len bytes must report: the reference's
 * events up to there, and the content piece that len cuts, cut. */
static size_t ref_prefix(const run_t *ref, size_t len, event_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < ref->n; i++) {
        const event_t *e = &ref->v[i];
        if (e->at <= len) {
            out[n++] = *e;
            continue;
        }
        if (e->kind == LF_FCGI_CONTENT && e->off < len) {
            out[n] = *e;
            out[n].length = (unsigned)(len - e->off);
            out[n++].at = len;
        }
        break;
    }
    return n;
}

/* A run as expected: the whole input consumed (or up to what ended it),
 * nothing broken, the events given. */
static int run_is(const run_t *r, size_t used, int bad, const event_t *v, size_t n)
{
    return !r->broken && r->bad == bad && r->used == used && same_events(r->v, r->n, v, n);
}

/* Cut at every length, and split in two at every point: the first piece
 * alone must consume all it is given and report the reference's events
 * up to there (nothing read past its end), both pieces what the whole
 * did.  *cut_ok and *split_ok say whether all lengths passed. */
static void parse_every_split(input_t *in, const run_t *ref, int *cut_ok, int *split_ok)
{
    event_t *want = malloc((ref->n + 1) * sizeof(*want));
    if (want == NULL)
        exit(2);
    run_t r = {0};
    *cut_ok = *split_ok = 1;
    for (size_t s = 0; s <= in->len; s++) {
        lf_fcgi_parser_t p;
        lf_fcgi_parser_init(&p);
        r.n = r.used = 0;
        r.bad = r.broken = r.idle = 0;
        input_end(in, s);
        feed(&p, &r, in, 0, s);
        size_t nwant = ref_prefix(ref, s, want);
        if (*cut_ok && !run_is(&r, s, 0, want, nwant)) {
            printf("# cut at %zu of %zu: %zu events, %zu used%s\n", s, in->len, r.n, r.used,
                   r.broken ? ", broken" : "");
            *cut_ok = 0;
        }
        input_end(in, in->len);
        feed(&p, &r, in, s, in->len);
        if (*split_ok && !run_is(&r, in->len, ref->bad, ref->v, ref->n)) {
            printf("# split at %zu of %zu: %zu events, %zu used\n", s, in->len, r.n, r.used);
            *split_ok = 0;
        }
    }
    run_free(&r);
    free(want);
}

/* One request as its records made it. */
#define MAX_REQUESTS 4
#define MAX_PIECES 128
typedef struct {
    unsigned id;
    unsigned char begin[8];
    size_t begin_got;
    lf_fcgi_params_t ps;
    int params_done, params_rc;
    const char *why;
    lf_buf_t body;
    int stdin_done;
    /* Where the PARAMS stream's bytes are in the input. */
    struct {
        size_t stream, off, len;
    } piece[MAX_PIECES];
    size_t npieces;
} request_t;

typedef struct {
    request_t req[MAX_REQUESTS];
    size_t n;
    int stray; /* records for no request, or of a type no request has */
} requests_t;

static void requests_free(requests_t *rq)
{
    for (size_t i = 0; i < rq->n; i++) {
        lf_fcgi_params_free(&rq->req[i].ps);
        lf_buf_free(&rq->req[i].body);
    }
    free(rq);
}

static request_t *request_find(requests_t *rq, unsigned id)
{
    for (size_t i = rq->n; i-- > 0;)
        if (rq->req[i].id == id)
            return &rq->req[i];
    return NULL;
}

static void request_content(request_t *q, const event_t *e, const unsigned char *d, size_t step,
                            int *stray)
{
    switch (e->type) {
    case FCGI_BEGIN_REQUEST:
        if (e->length > sizeof(q->begin) - q->begin_got) {
            (*stray)++;
            break;
        }
        memcpy(q->begin + q->begin_got, d, e->length);
        q->begin_got += e->length;
        break;
    case FCGI_PARAMS:
        if (q->params_done) {
            (*stray)++;
            break;
        }
        if (q->npieces < MAX_PIECES) {
            q->piece[q->npieces].stream = q->ps.raw.len;
            q->piece[q->npieces].off = e->off;
            q->piece[q->npieces++].len = e->length;
        }
        for (size_t k = 0; k < e->length; k += step) {
            size_t n = e->length - k < step ? e->length - k : step;
            if (q->params_rc == 0 &&
                lf_fcgi_params_add(&q->ps, (const char *)d + k, n, &q->why) != 0)
                q->params_rc = -1;
        }
        break;
    case FCGI_STDIN:
        if (q->stdin_done || lf_buf_append(&q->body, d, e->length) != 0)
            (*stray)++;
        break;
    default:
        (*stray)++;
    }
}

/* The requests in a run's events; PARAMS content goes to the decoder in
 * pieces of step bytes (0: as the records brought it). */
static requests_t *requests_of(const input_t *in, const run_t *r, size_t step)
{
    requests_t *rq = calloc(1, sizeof(*rq));
    if (rq == NULL)
        exit(2);
    for (size_t i = 0; i < r->n; i++) {
        const event_t *e = &r->v[i];
        if (e->kind == LF_FCGI_BAD) {
            rq->stray++;
            continue;
        }
        if (e->kind == LF_FCGI_RECORD && e->type == FCGI_BEGIN_REQUEST) {
            if (rq->n == MAX_REQUESTS)
                rq->stray++;
            else
                rq->req[rq->n++].id = e->id;
            continue;
        }
        request_t *q = request_find(rq, e->id);
        if (q == NULL) {
            rq->stray++;
        } else if (e->kind == LF_FCGI_CONTENT) {
            request_content(q, e, in->data + e->off, step ? step : e->length, &rq->stray);
        } else if (e->kind == LF_FCGI_RECORD_END && e->length == 0 && e->type == FCGI_PARAMS) {
            if (q->params_done++ == 0 && q->params_rc == 0)
                q->params_rc = lf_fcgi_params_decode(&q->ps, &q->why);
        } else if (e->kind == LF_FCGI_RECORD_END && e->length == 0 && e->type == FCGI_STDIN) {
            q->stdin_done++;
        }
    }
    return rq;
}

static int same_request(const request_t *a, const request_t *b)
{
    if (a->id != b->id || a->begin_got != b->begin_got || memcmp(a->begin, b->begin, 8) != 0 ||
        a->params_done != b->params_done || a->params_rc != b->params_rc ||
        a->stdin_done != b->stdin_done || a->body.len != b->body.len ||
        (a->body.len && memcmp(a->body.data, b->body.data, a->body.len) != 0))
        return 0;
    if (a->params_rc != 0)
        return 1;
    if (a->ps.n != b->ps.n)
        return 0;
    for (size_t i = 0; i < a->ps.n; i++) {
        const lf_fcgi_param_t *x = &a->ps.v[i], *y = &b->ps.v[i];
        if (x->name_len != y->name_len || x->value_len != y->value_len ||
            memcmp(lf_fcgi_param_name(&a->ps, i), lf_fcgi_param_name(&b->ps, i), x->name_len) !=
                0 ||
            memcmp(lf_fcgi_param_value(&a->ps, i), lf_fcgi_param_value(&b->ps, i), x->value_len) !=
                0)
            return 0;
    }
    return 1;
}

static int same_requests(const requests_t *a, const requests_t *b)
{
    if (a->n != b->n || a->stray != b->stray)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (!same_request(&a->req[i], &b->req[i]))
            return 0;
    return 1;
}

/* What was sent: the params that say so, and the STDIN stream. */
enum { EXACT = 1, PREFIX, SUFFIX, ABSENT };
typedef struct {
    const char *name;
    int how;
    const char *value;
} want_param_t;
typedef struct {
    int flags; /* BEGIN_REQUEST's: FCGI_KEEP_CONN or 0 */
    want_param_t params[12];
    const char *body; /* NULL: body_len bytes of the pattern */
    size_t body_len;
} want_request_t;
typedef struct {
    const char *file;
    size_t nreq;
    want_request_t req[2];
} capture_t;

/* X-Long: 300 l's (a value with a four-byte length). */
#define LONG30 "llllllllllllllllllllllllllllll"
#define LONG300 LONG30 LONG30 LONG30 LONG30 LONG30 LONG30 LONG30 LONG30 LONG30 LONG30

static const capture_t captures[] = {
    {"nginx-get.bin", 1, {{0, {{"REQUEST_METHOD", EXACT, "GET"},
                               {"QUERY_STRING", EXACT, "a=1&b=two%20words&c="},
                               {"REQUEST_URI", EXACT, "/capture.lua?a=1&b=two%20words&c="},
                               {"SCRIPT_FILENAME", EXACT, "/srv/luafpm/capture.lua"},
                               {"CONTENT_LENGTH", EXACT, ""},
                               {"HTTP_ACCEPT", EXACT, "text/plain"},
                               {"HTTP_X_CAPTURE", EXACT, "one two"},
                               {"HTTP_COOKIE", EXACT, "a=1; b=2"},
                               {"HTTP_X_LONG", EXACT, LONG300},
                               {"SERVER_SOFTWARE", EXACT, "nginx/1.22.1"}},
                           "", 0}}},
    {"nginx-post100k.bin", 1, {{0, {{"REQUEST_METHOD", EXACT, "POST"},
                                    {"QUERY_STRING", EXACT, "post=100k"},
                                    {"SCRIPT_FILENAME", EXACT, "/srv/luafpm/capture.lua"},
                                    {"CONTENT_LENGTH", EXACT, "102400"},
                                    {"CONTENT_TYPE", EXACT, "application/octet-stream"}},
                                NULL, 102400}}},
    {"nginx-keepconn.bin",
     2,
     {{FCGI_KEEP_CONN,
       {{"REQUEST_METHOD", EXACT, "GET"},
        {"QUERY_STRING", EXACT, "n=1"},
        {"SCRIPT_FILENAME", EXACT, "/srv/luafpm/kept/capture.lua"},
        {"CONTENT_LENGTH", EXACT, ""}},
       "", 0},
      {FCGI_KEEP_CONN,
       {{"REQUEST_METHOD", EXACT, "POST"},
        {"QUERY_STRING", EXACT, "n=2"},
        {"SCRIPT_FILENAME", EXACT, "/srv/luafpm/kept/capture.lua"},
        {"CONTENT_LENGTH", EXACT, "11"},
        {"CONTENT_TYPE", EXACT, "application/x-www-form-urlencoded"}},
       "hello=world", 11}}},
    {"apache-get.bin", 1, {{0, {{"REQUEST_METHOD", EXACT, "GET"},
                                {"QUERY_STRING", EXACT, "a=1&b=two%20words"},
                                {"SCRIPT_FILENAME", PREFIX, "proxy:fcgi://127.0.0.1:"},
                                {"SCRIPT_FILENAME", SUFFIX, "/root/capture.lua"},
                                {"CONTENT_LENGTH", ABSENT, NULL},
                                {"HTTP_ACCEPT", EXACT, "text/plain"},
                                {"HTTP_X_CAPTURE", EXACT, "one two"},
                                {"HTTP_X_LONG", EXACT, LONG300},
                                {"SERVER_SOFTWARE", PREFIX, "Apache/2.4."}},
                            "", 0}}},
    {"apache-chunked.bin", 1, {{0, {{"REQUEST_METHOD", EXACT, "POST"},
                                    {"QUERY_STRING", EXACT, "post=chunked"},
                                    {"SCRIPT_FILENAME", SUFFIX, "/root/capture.lua"},
                                    {"CONTENT_LENGTH", ABSENT, NULL},
                                    {"HTTP_TRANSFER_ENCODING", EXACT, "chunked"},
                                    {"CONTENT_TYPE", EXACT, "application/octet-stream"}},
                                NULL, 20000}}},
};

/* The bodies capture.sh sends: byte i is i % 251. */
static int is_pattern(const lf_buf_t *b, size_t len)
{
    if (b->len != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)b->data[i] != i % 251)
            return 0;
    return 1;
}

/* NULL, or what differs from what was sent. */
static const char *check_sent(const capture_t *c, const requests_t *rq)
{
    static char why[300];
    if (rq->n != c->nreq || rq->stray) {
        snprintf(why, sizeof(why), "%zu requests (%zu sent), %d stray records", rq->n, c->nreq,
                 rq->stray);
        return why;
    }
    for (size_t r = 0; r < rq->n; r++) {
        const request_t *q = &rq->req[r];
        const want_request_t *w = &c->req[r];
        unsigned role = (unsigned)q->begin[0] << 8 | q->begin[1];
        if (q->id != 1 || q->begin_got != 8 || role != FCGI_RESPONDER || q->begin[2] != w->flags) {
            snprintf(why, sizeof(why), "request %zu: id %u, role %u, flags %d", r, q->id, role,
                     q->begin[2]);
            return why;
        }
        if (q->params_done != 1 || q->params_rc != 0 || q->stdin_done != 1) {
            snprintf(why, sizeof(why), "request %zu: params end %d (%s), stdin end %d", r,
                     q->params_done, q->params_rc ? q->why : "decoded", q->stdin_done);
            return why;
        }
        for (const want_param_t *wp = w->params; wp->name; wp++) {
            const char *v = lf_fcgi_params_get(&q->ps, wp->name, strlen(wp->name));
            size_t vl = v ? strlen(v) : 0, wl = wp->value ? strlen(wp->value) : 0;
            int good = wp->how == ABSENT   ? v == NULL
                       : v == NULL         ? 0
                       : wp->how == EXACT  ? strcmp(v, wp->value) == 0
                       : wp->how == PREFIX ? strncmp(v, wp->value, wl) == 0
                                           : vl >= wl && strcmp(v + vl - wl, wp->value) == 0;
            if (!good) {
                snprintf(why, sizeof(why), "request %zu: %s is %s%s%s", r, wp->name, v ? "'" : "",
                         v ? v : "missing", v ? "'" : "");
                return why;
            }
        }
        if (w->body ? q->body.len != w->body_len ||
                          (w->body_len && memcmp(q->body.data, w->body, w->body_len) != 0)
                    : !is_pattern(&q->body, w->body_len)) {
            snprintf(why, sizeof(why), "request %zu: STDIN of %zu bytes, not the %zu sent", r,
                     q->body.len, w->body_len);
            return why;
        }
    }
    return NULL;
}

/* Every param's name finds the first param of that name. */
static int lookups_agree(const requests_t *rq)
{
    for (size_t r = 0; r < rq->n; r++) {
        const lf_fcgi_params_t *ps = &rq->req[r].ps;
        for (size_t i = 0; i < ps->n; i++) {
            size_t first = 0;
            while (ps->v[first].name_len != ps->v[i].name_len ||
                   memcmp(lf_fcgi_param_name(ps, first), lf_fcgi_param_name(ps, i),
                          ps->v[i].name_len) != 0)
                first++;
            if (lf_fcgi_params_get(ps, lf_fcgi_param_name(ps, i), ps->v[i].name_len) !=
                lf_fcgi_param_value(ps, first))
                return 0;
        }
    }
    return 1;
}

static int load(const char *dir, const char *file, lf_buf_t *out)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
        return -1;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        printf("# %s: cannot open it\n", path);
        return -1;
    }
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        lf_buf_append(out, chunk, n);
    int rc = ferror(f) || out->oom || out->len == 0 ? -1 : 0;
    fclose(f);
    return rc;
}

/* One record into out: header, content, pad bytes of 1 (a version byte:
 * a parser that takes padding for a header gets no error from it). */
static void put_framed(lf_buf_t *out, int type, unsigned id, const void *content, size_t len,
                       unsigned pad)
{
    unsigned char h[FCGI_HEADER_LEN], padding[255];
    lf_fcgi_header(h, type, id, (unsigned)len);
    h[6] = (unsigned char)pad;
    memset(padding, 1, sizeof(padding));
    lf_buf_append(out, h, sizeof(h));
    lf_buf_append(out, content, len);
    lf_buf_append(out, padding, pad);
}

/* The same requests framed anew: each stream's content joined across its
 * records and cut into records of at most maxlen bytes, every record
 * padded with pad bytes (BEGIN_REQUEST and the empty records as they
 * were, padded too). */
static void reframe(const input_t *in, const run_t *ref, size_t maxlen, unsigned pad, lf_buf_t *out)
{
    lf_buf_t stream = {0};
    lf_buf_reset(out);
    for (size_t i = 0; i < ref->n; i++) {
        const event_t *e = &ref->v[i];
        if (e->kind != LF_FCGI_RECORD)
            continue;
        const unsigned char *content = in->data + e->at;
        if (e->type == FCGI_BEGIN_REQUEST || e->length == 0) {
            put_framed(out, e->type, e->id, content, e->length, pad);
            continue;
        }
        lf_buf_append(&stream, content, e->length);
        /* The next record continues this stream: join it. */
        const event_t *next = NULL;
        for (size_t j = i + 1; j < ref->n && next == NULL; j++)
            if (ref->v[j].kind == LF_FCGI_RECORD)
                next = &ref->v[j];
        if (next && next->type == e->type && next->id == e->id && next->length > 0)
            continue;
        for (size_t k = 0; k < stream.len; k += maxlen)
            put_framed(out, e->type, e->id, stream.data + k,
                       stream.len - k < maxlen ? stream.len - k : maxlen, pad);
        lf_buf_reset(&stream);
    }
    lf_buf_free(&stream);
}

/* Where a PARAMS stream byte is in the input, or (size_t)-1. */
static size_t stream_to_input(const request_t *q, size_t pos)
{
    for (size_t i = 0; i < q->npieces; i++)
        if (pos >= q->piece[i].stream && pos - q->piece[i].stream < q->piece[i].len)
            return q->piece[i].off + (pos - q->piece[i].stream);
    return (size_t)-1;
}

/* Each one-byte length of every pair given the high bit: it becomes a
 * four-byte length of at least 2^24 (a name's first letter or more in
 * its second byte), past the end of the params.  The records parse as
 * before; that request's params are refused, the others' unchanged; and
 * lf_fcgi_pair, on an exact copy of the stream, stops at that very pair.
 * *count: how many lengths were tried. */
static int params_high_bit(const input_t *in, const run_t *ref, const requests_t *rq, size_t *count)
{
    int good = 1;
    *count = 0;
    for (size_t r = 0; r < rq->n; r++) {
        const request_t *q = &rq->req[r];
        const unsigned char *raw = (const unsigned char *)q->ps.raw.data;
        size_t len = q->ps.raw.len, pos = 0;
        for (size_t pair = 0; pos < len; pair++) {
            size_t start = pos, at[2], nat = 0;
            if (!(raw[pos] & 0x80))
                at[nat++] = pos;
            size_t second = pos + (raw[pos] & 0x80 ? 4 : 1);
            if (second < len && !(raw[second] & 0x80))
                at[nat++] = second;
            uint32_t nl, vl;
            if (lf_fcgi_pair(raw, len, &pos, &nl, &vl) != 0)
                return 0;
            pos += (size_t)nl + vl;
            for (size_t k = 0; k < nat; k++) {
                size_t off = stream_to_input(q, at[k]);
                if (off == (size_t)-1)
                    return 0;
                input_t bad;
                input_new(&bad, in->data, in->len);
                bad.data[off] |= 0x80;
                run_t r2;
                parse_steps(&bad, 0, &r2);
                requests_t *rq2 = requests_of(&bad, &r2, 0);
                const request_t *q2 = &rq2->req[r];
                int one = run_is(&r2, in->len, 0, ref->v, ref->n) && rq2->n == rq->n &&
                          q2->params_done == 1 && q2->params_rc == -1 && q2->why != NULL;
                for (size_t o = 0; o < rq->n && one; o++)
                    one = o == r || same_request(&rq->req[o], &rq2->req[o]);
                /* The pair walk on a copy that ends where the stream does. */
                input_t stream;
                input_new(&stream, q2->ps.raw.data, q2->ps.raw.len);
                size_t p2 = 0, n2 = 0;
                while (p2 < stream.len &&
                       lf_fcgi_pair(stream.data, stream.len, &p2, &nl, &vl) == 0) {
                    p2 += (size_t)nl + vl;
                    n2++;
                }
                one = one && n2 == pair && p2 == start;
                if (!one && good)
                    printf("# request %zu, pair %zu: a high bit at stream byte %zu not refused "
                           "there\n",
                           r, pair, at[k]);
                good &= one;
                (*count)++;
                input_free(&stream);
                requests_free(rq2);
                run_free(&r2);
                input_free(&bad);
            }
        }
    }
    return good;
}

/* A record header changed at each record: a version byte of 0 or 2 (BAD
 * once its header is in, what came before as it was), or a content
 * length past the end of the data (the rest taken as its content, all
 * of it consumed, nothing read past it).  Whole and a byte at a time. */
static void bad_headers(const input_t *in, const run_t *ref, int *version_ok, int *length_ok,
                        size_t *nrecords)
{
    event_t *want = malloc((ref->n + 2) * sizeof(*want));
    if (want == NULL)
        exit(2);
    *version_ok = *length_ok = 1;
    *nrecords = 0;
    for (size_t i = 0; i < ref->n; i++) {
        const event_t *e = &ref->v[i];
        if (e->kind != LF_FCGI_RECORD)
            continue;
        (*nrecords)++;
        size_t hdr = e->at - FCGI_HEADER_LEN, rest = in->len - e->at;
        for (int v = 0; v <= 2; v += 2) {
            input_t bad;
            input_new(&bad, in->data, in->len);
            bad.data[hdr] = (unsigned char)v;
            size_t n = ref_prefix(ref, hdr, want);
            want[n++] = (event_t){LF_FCGI_BAD, 0, 0, 0, 0, e->at};
            for (size_t step = 0; step <= 1; step++) {
                run_t r;
                parse_steps(&bad, step, &r);
                if (*version_ok && !run_is(&r, e->at, 1, want, n))
                    printf("# version %d in record %zu (at %zu) not refused there\n", v, *nrecords,
                           hdr);
                *version_ok &= run_is(&r, e->at, 1, want, n);
                run_free(&r);
            }
            input_free(&bad);
        }
        unsigned lengths[2] = {(unsigned)rest + 1, 0xffff};
        for (int k = 0; k < 2; k++) {
            if (lengths[k] <= rest || lengths[k] > 0xffff)
                continue;
            input_t bad;
            input_new(&bad, in->data, in->len);
            bad.data[hdr + 4] = (unsigned char)(lengths[k] >> 8);
            bad.data[hdr + 5] = (unsigned char)lengths[k];
            size_t n = ref_prefix(ref, hdr, want);
            want[n++] = (event_t){LF_FCGI_RECORD, e->type, e->id, lengths[k], 0, e->at};
            if (rest > 0)
                want[n++] =
                    (event_t){LF_FCGI_CONTENT, e->type, e->id, (unsigned)rest, e->at, in->len};
            for (size_t step = 0; step <= 1; step++) {
                run_t r;
                parse_steps(&bad, step, &r);
                if (*length_ok && !run_is(&r, in->len, 0, want, n))
                    printf("# a content length of %u in record %zu (at %zu) read wrong\n",
                           lengths[k], *nrecords, hdr);
                *length_ok &= run_is(&r, in->len, 0, want, n);
                run_free(&r);
            }
            input_free(&bad);
        }
    }
    free(want);
}

/* Each request's params stream cut at every length, alone in a buffer
 * that ends there: lf_fcgi_pair takes exactly the pairs that are whole
 * and stops at the first that is not (lengths cut, four-byte ones too,
 * or a name or value cut) where it starts; the decoder succeeds exactly
 * at pair boundaries.  *lengths: how many cuts were tried. */
static int params_cut(const requests_t *rq, size_t *lengths)
{
    int good = 1;
    *lengths = 0;
    for (size_t r = 0; r < rq->n; r++) {
        const lf_buf_t *raw = &rq->req[r].ps.raw;
        input_t in;
        input_new(&in, raw->data, raw->len);
        size_t ends[4096], nends = 0, pos = 0;
        uint32_t nl, vl;
        while (pos < in.len && nends < 4096 && lf_fcgi_pair(in.data, in.len, &pos, &nl, &vl) == 0)
            ends[nends++] = pos += (size_t)nl + vl;
        good &= pos == in.len;
        for (size_t cut = 0; cut <= in.len; cut++) {
            input_end(&in, cut);
            size_t whole = 0, p = 0, n = 0;
            while (whole < nends && ends[whole] <= cut)
                whole++;
            int rc = 0;
            while (p < cut && (rc = lf_fcgi_pair(in.data, cut, &p, &nl, &vl)) == 0) {
                p += (size_t)nl + vl;
                n++;
            }
            int boundary = cut == (whole ? ends[whole - 1] : 0);
            int one = n == whole && (boundary ? rc == 0 && p == cut
                                              : rc == -1 && p == (whole ? ends[whole - 1] : 0));
            lf_fcgi_params_t ps;
            memset(&ps, 0, sizeof(ps));
            const char *why = NULL;
            one = one && lf_fcgi_params_add(&ps, (const char *)in.data, cut, &why) == 0 &&
                  (lf_fcgi_params_decode(&ps, &why) == 0) == boundary &&
                  (!boundary || ps.n == whole);
            lf_fcgi_params_free(&ps);
            if (!one && good)
                printf("# request %zu: params cut at %zu of %zu taken wrong\n", r, cut, in.len);
            good &= one;
            (*lengths)++;
        }
        input_free(&in);
    }
    return good;
}

/* A request's params stream replayed up to LF_FCGI_PARAMS_MAX: taken up
 * to exactly that many bytes, refused one byte past, nothing kept of a
 * refused piece. */
static int params_oversize(const lf_buf_t *stream)
{
    lf_fcgi_params_t ps;
    memset(&ps, 0, sizeof(ps));
    const char *why = NULL;
    int good = stream->len > 0;
    while (good && ps.raw.len + stream->len <= LF_FCGI_PARAMS_MAX)
        good = lf_fcgi_params_add(&ps, stream->data, stream->len, &why) == 0;
    size_t had = ps.raw.len;
    good = good && lf_fcgi_params_add(&ps, stream->data, stream->len, &why) == -1 && why != NULL &&
           ps.raw.len == had;
    good = good && lf_fcgi_params_add(&ps, stream->data, LF_FCGI_PARAMS_MAX - had, &why) == 0 &&
           ps.raw.len == LF_FCGI_PARAMS_MAX;
    good = good && lf_fcgi_params_add(&ps, stream->data, 1, &why) == -1 &&
           ps.raw.len == LF_FCGI_PARAMS_MAX;
    lf_fcgi_params_free(&ps);
    return good;
}

static void test_capture(const char *dir, const capture_t *c)
{
    char what[200];
    const char *name = c->file;
    lf_buf_t bytes = {0};
    int loaded = load(dir, c->file, &bytes) == 0;
    snprintf(what, sizeof(what), "%s: loaded (%zu bytes)", name, bytes.len);
    ok(loaded, what);
    if (!loaded) {
        lf_buf_free(&bytes);
        return;
    }
    input_t in;
    input_new(&in, bytes.data, bytes.len);
    lf_buf_free(&bytes);

    run_t ref;
    parse_steps(&in, 0, &ref);
    size_t records = 0;
    for (size_t i = 0; i < ref.n; i++)
        records += ref.v[i].kind == LF_FCGI_RECORD;
    snprintf(what, sizeof(what), "%s: parses whole, every byte (%zu records)", name, records);
    ok(!ref.broken && !ref.bad && ref.used == in.len && ref.n > 0 &&
           ref.v[ref.n - 1].kind == LF_FCGI_RECORD_END,
       what);
    requests_t *rq = requests_of(&in, &ref, 0);
    const char *why = check_sent(c, rq);
    if (why)
        printf("# %s: %s\n", name, why);
    snprintf(what, sizeof(what), "%s: %zu request(s), known params and the STDIN as sent", name,
             c->nreq);
    ok(why == NULL, what);
    snprintf(what, sizeof(what), "%s: every param's name finds its first value", name);
    ok(lookups_agree(rq), what);
    requests_t *rq1 = requests_of(&in, &ref, 1);
    snprintf(what, sizeof(what), "%s: params given to the decoder a byte at a time decode the same",
             name);
    ok(same_requests(rq, rq1), what);
    requests_free(rq1);

    int cut_ok, split_ok;
    parse_every_split(&in, &ref, &cut_ok, &split_ok);
    snprintf(
        what, sizeof(what),
        "%s: cut at each of %zu lengths, all consumed, nothing read past, events as far as it goes",
        name, in.len + 1);
    ok(cut_ok, what);
    snprintf(what, sizeof(what), "%s: in two pieces at each of %zu split points, as whole", name,
             in.len - 1);
    ok(split_ok, what);
    run_t r;
    parse_steps(&in, 1, &r);
    snprintf(what, sizeof(what), "%s: a byte at a time, as whole", name);
    ok(run_is(&r, in.len, 0, ref.v, ref.n), what);
    run_free(&r);

    int version_ok, length_ok;
    size_t n;
    bad_headers(&in, &ref, &version_ok, &length_ok, &n);
    snprintf(what, sizeof(what), "%s: version 0 or 2 in any of its %zu records: BAD at that header",
             name, n);
    ok(version_ok, what);
    snprintf(what, sizeof(what),
             "%s: a content length past the data in any record: the rest is its content, no more",
             name);
    ok(length_ok, what);
    int high_ok = params_high_bit(&in, &ref, rq, &n);
    snprintf(what, sizeof(what),
             "%s: the high bit on any of its %zu param lengths: refused, no read past the params",
             name, n);
    ok(high_ok, what);
    int cut_params = params_cut(rq, &n);
    snprintf(what, sizeof(what),
             "%s: its params cut at each of %zu lengths: the whole pairs taken, no read past", name,
             n);
    ok(cut_params, what);
    snprintf(what, sizeof(what), "%s: its params replayed: taken to exactly 1 MiB, refused past",
             name);
    ok(params_oversize(&rq->req[0].ps.raw), what);

    /* Framed anew: the largest records (65535) with the most padding
     * (255), then 5-byte records with padding 3 (pairs across records). */
    lf_buf_t framed = {0};
    reframe(&in, &ref, 65535, 255, &framed);
    input_t big;
    input_new(&big, framed.data, framed.len);
    run_t bigref;
    parse_steps(&big, 0, &bigref);
    requests_t *rqb = requests_of(&big, &bigref, 0);
    snprintf(what, sizeof(what),
             "%s in records of up to 65535 bytes padded by 255 (%zu bytes): same requests", name,
             big.len);
    ok(!bigref.broken && !bigref.bad && bigref.used == big.len && same_requests(rq, rqb), what);
    requests_free(rqb);
    parse_every_split(&big, &bigref, &cut_ok, &split_ok);
    snprintf(what, sizeof(what), "%s padded by 255: cut at every length, and split at every point",
             name);
    ok(cut_ok && split_ok, what);
    parse_steps(&big, 1, &r);
    snprintf(what, sizeof(what), "%s padded by 255: a byte at a time, as whole", name);
    ok(run_is(&r, big.len, 0, bigref.v, bigref.n), what);
    run_free(&r);
    run_free(&bigref);
    input_free(&big);

    reframe(&in, &ref, 5, 3, &framed);
    input_t small;
    input_new(&small, framed.data, framed.len);
    run_t smallref;
    parse_steps(&small, 0, &smallref);
    requests_t *rqs = requests_of(&small, &smallref, 0);
    snprintf(what, sizeof(what), "%s in 5-byte records padded by 3 (%zu bytes): same requests",
             name, small.len);
    ok(!smallref.broken && !smallref.bad && smallref.used == small.len && same_requests(rq, rqs),
       what);
    requests_free(rqs);
    int steps_ok = 1;
    for (size_t step = 1; step <= 13; step += 2) {
        parse_steps(&small, step, &r);
        steps_ok &= run_is(&r, small.len, 0, smallref.v, smallref.n);
        run_free(&r);
    }
    snprintf(what, sizeof(what), "%s in 5-byte records: 1, 3, ... 13 bytes at a time, as whole",
             name);
    ok(steps_ok, what);
    run_free(&smallref);
    input_free(&small);
    lf_buf_free(&framed);

    requests_free(rq);
    run_free(&ref);
    input_free(&in);
}

static void test_captures(void)
{
    char dir[4096];
    const char *top = getenv("LUAFPM_SRCDIR");
    snprintf(dir, sizeof(dir), "%s/tests/unit/data", top && *top ? top : LF_TOP_SRCDIR);
    printf("# captures from %s\n", dir);
    for (size_t i = 0; i < sizeof(captures) / sizeof(captures[0]); i++)
        test_capture(dir, &captures[i]);
}

int main(void)
{
    test_splits();
    test_bad_version();
    test_pairs();
    test_params();
    test_get_values();
    test_captures();
    printf("1..%d\n", tests);
    return failures ? 1 : 0;
}
