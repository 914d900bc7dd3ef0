/* fcgi_codec_test.c - the FastCGI codec on its own: any split of the
 * input parses the same, lengths from the peer never run past the data,
 * GET_VALUES with any number of names, params lookups.  TAP output. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_codec.h"

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

int main(void)
{
    test_splits();
    test_bad_version();
    test_pairs();
    test_params();
    test_get_values();
    printf("1..%d\n", tests);
    return failures ? 1 : 0;
}
