/* fcgi_codec.h - luafpm's own FastCGI record codec: an incremental record
 * parser, the params decoder with its lookup index, and the few records a
 * responder writes.  Pure functions over buffers (no I/O), so that any
 * split of the input across reads parses the same, and so that they can
 * be unit-tested and fuzzed.
 *
 * libfcgi's reader is not used (only its fastcgi.h, for the record layout
 * and constants): it has no non-blocking interface, and it overflows a
 * 64-byte stack buffer on FCGI_GET_VALUES with four or more names and
 * overflows an int on a param length of 0x7ffffffe (design.md point 6). */
#ifndef LF_FCGI_CODEC_H
#define LF_FCGI_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <fastcgi.h>

#include "buf.h"

/* All params of one request together (names, values and their length
 * prefixes): more is a protocol error, logged, and the connection closed.
 * nginx's request headers are bounded by large_client_header_buffers
 * (4 x 8k), Apache's by LimitRequestFields x LimitRequestFieldSize
 * (100 x 8190): 1 MiB leaves room for both and bounds what a peer can
 * make a worker hold. */
#define LF_FCGI_PARAMS_MAX (1024 * 1024)

/* What the parser found; data points into the buffer it was given. */
typedef enum {
    LF_FCGI_NEED_MORE = 0, /* every byte consumed, no event */
    LF_FCGI_RECORD,        /* a record header: type, id, length */
    LF_FCGI_CONTENT,       /* a piece of the current record's content */
    LF_FCGI_RECORD_END,    /* the current record's content and padding are done */
    LF_FCGI_BAD,           /* not FastCGI (a version other than 1): stop reading */
} lf_fcgi_event_t;

typedef struct {
    unsigned char hdr[FCGI_HEADER_LEN];
    unsigned hdr_got;
    int type;
    unsigned id;
    unsigned length;       /* the current record's content length */
    unsigned content_left; /* of it, still to come */
    unsigned padding_left;
    int in_record;
} lf_fcgi_parser_t;

typedef struct {
    lf_fcgi_event_t kind;
    int type;              /* LF_FCGI_RECORD, _CONTENT, _RECORD_END */
    unsigned id;
    unsigned length;       /* _RECORD, _RECORD_END: the record's content
                              length; _CONTENT: this piece's */
    const char *data;      /* LF_FCGI_CONTENT */
} lf_fcgi_ev_t;

void lf_fcgi_parser_init(lf_fcgi_parser_t *p);
/* Parse from buf[0..len): the number of bytes consumed and, in ev, what
 * they made (LF_FCGI_NEED_MORE when all of them went into a partial
 * header or padding).  Call again with the rest. */
size_t lf_fcgi_parse(lf_fcgi_parser_t *p, const char *buf, size_t len, lf_fcgi_ev_t *ev);

/* One request's params, decoded: names and values NUL-terminated (a NUL
 * inside a value ends it for lf_fcgi_params_get, as with getenv) with
 * their lengths, in the order sent, and a hash index so that a lookup
 * costs the same with 5 params or 5000 (ngx.var reads them). */
typedef struct {
    uint32_t name, name_len;   /* offsets into strings */
    uint32_t value, value_len;
    uint32_t hash;
    int32_t next;              /* next param in the same bucket, -1 = none */
} lf_fcgi_param_t;

typedef struct {
    lf_buf_t raw;              /* the PARAMS stream as received */
    lf_buf_t strings;
    lf_fcgi_param_t *v;
    size_t n, cap;
    int32_t *buckets;
    size_t nbuckets;           /* a power of two, or 0 */
} lf_fcgi_params_t;

/* Append a piece of the PARAMS stream; -1 past LF_FCGI_PARAMS_MAX or out
 * of memory (why says which). */
int lf_fcgi_params_add(lf_fcgi_params_t *ps, const char *p, size_t n, const char **why);
/* Decode the whole stream (after its empty record) and build the index;
 * 0, or -1 with why (a truncated pair, out of memory). */
int lf_fcgi_params_decode(lf_fcgi_params_t *ps, const char **why);
/* The first value of name, or NULL. */
const char *lf_fcgi_params_get(const lf_fcgi_params_t *ps, const char *name, size_t len);
static inline const char *lf_fcgi_param_name(const lf_fcgi_params_t *ps, size_t i)
{
    return ps->strings.data + ps->v[i].name;
}
static inline const char *lf_fcgi_param_value(const lf_fcgi_params_t *ps, size_t i)
{
    return ps->strings.data + ps->v[i].value;
}
void lf_fcgi_params_reset(lf_fcgi_params_t *ps);
void lf_fcgi_params_free(lf_fcgi_params_t *ps);

/* Read one name-value pair's two lengths at *pos (1 or 4 bytes each, the
 * high bit telling which); 0 and *pos past them, or -1 when the lengths
 * are cut off or the pair runs past len. */
int lf_fcgi_pair(const unsigned char *p, size_t len, size_t *pos, uint32_t *nlen, uint32_t *vlen);

/* A record header for content of len bytes (no padding). */
void lf_fcgi_header(unsigned char out[FCGI_HEADER_LEN], int type, unsigned id, unsigned len);
/* FCGI_END_REQUEST for id with protocolStatus: a whole record (16 bytes). */
void lf_fcgi_end_request(unsigned char out[16], unsigned id, int protocol_status);
/* FCGI_UNKNOWN_TYPE for type: a whole record (16 bytes). */
void lf_fcgi_unknown_type(unsigned char out[16], int type);
/* The FCGI_GET_VALUES_RESULT record for a GET_VALUES content: the names
 * it asks for that luafpm knows (FCGI_MAX_CONNS and FCGI_MAX_REQS =
 * max_conns, FCGI_MPXS_CONNS = 0), others left out as the spec says; any
 * number of names, each bounded by the content.  0, or -1 (out of
 * memory, or malformed content: why). */
int lf_fcgi_get_values_result(const char *content, size_t len, unsigned max_conns, lf_buf_t *out,
                              const char **why);

#endif
