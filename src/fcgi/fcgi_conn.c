/* fcgi_conn.c - a FastCGI connection on luafpm's codec (see fcgi_conn.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fcgi_conn.h"
#include "fdutil.h"

/* Read buffers and params are held only while a connection needs them
 * (bytes not parsed yet; a request under way), and kept in free lists in
 * between, so that an idle kept-alive connection costs its struct alone
 * (1000 of them added 6.4 MB when each kept its own) and no request
 * allocates once the lists are warm.  A worker is one thread. */
typedef union lf_free_buf {
    union lf_free_buf *next;
    char bytes[LF_FCGI_RBUF_SIZE];
} lf_free_buf_t;

typedef struct lf_free_params {
    lf_fcgi_params_t params;    /* first: the object handed out */
    struct lf_free_params *next;
} lf_free_params_t;

static lf_free_buf_t *free_bufs;
static lf_free_params_t *free_params;

static char *pool_buf(void)
{
    lf_free_buf_t *b = free_bufs;
    if (b == NULL)
        return malloc(sizeof(lf_free_buf_t));
    free_bufs = b->next;
    return b->bytes;
}

static void pool_buf_put(char *p)
{
    lf_free_buf_t *b = (lf_free_buf_t *)(void *)p;
    b->next = free_bufs;
    free_bufs = b;
}

static lf_fcgi_params_t *pool_params(void)
{
    lf_free_params_t *p = free_params;
    if (p == NULL)
        return calloc(1, sizeof(lf_free_params_t));
    free_params = p->next;
    return &p->params;
}

static void pool_params_put(lf_fcgi_params_t *ps)
{
    lf_free_params_t *p = (lf_free_params_t *)(void *)ps;
    lf_fcgi_params_reset(ps);
    p->next = free_params;
    free_params = p;
}

void lf_fcgi_conn_pool_free(void)
{
    while (free_bufs) {
        lf_free_buf_t *b = free_bufs;
        free_bufs = b->next;
        free(b);
    }
    while (free_params) {
        lf_free_params_t *p = free_params;
        free_params = p->next;
        lf_fcgi_params_free(&p->params);
        free(p);
    }
}

/* The read buffer back to the pool once everything in it is parsed (the
 * parser keeps a partial header itself). */
static void conn_release_buf(lf_fcgi_conn_t *c)
{
    if (c->rbuf && c->rpos == c->rlen) {
        pool_buf_put(c->rbuf);
        c->rbuf = NULL;
        c->rpos = c->rlen = 0;
    }
}

void lf_fcgi_conn_init(lf_fcgi_conn_t *c, unsigned max_conns)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->max_conns = max_conns;
}

void lf_fcgi_conn_free(lf_fcgi_conn_t *c)
{
    lf_fcgi_conn_close(c);
    lf_buf_free(&c->mgmt);
    lf_buf_free(&c->wq);
}

/* The request state back to "between requests". */
static void conn_forget_request(lf_fcgi_conn_t *c)
{
    c->id = 0;
    c->keep_conn = c->params_done = c->stdin_done = c->aborted = 0;
    if (c->params) {
        pool_params_put(c->params);
        c->params = NULL;
    }
}

int lf_fcgi_conn_accept(lf_fcgi_conn_t *c, int listen_fd)
{
    int fd;
    do
        fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    /* A handler closed one of 0-2: a connection there would receive
     * whatever still writes to stdout or stderr. */
    int high = lf_fd_above_stdio(fd);
    if (high < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    fd = high; /* TCP_NODELAY came from the listening socket (listen.c) */
    c->fd = fd;
    c->rpos = c->rlen = 0;
    c->err = 0;
    c->why = NULL;
    lf_fcgi_parser_init(&c->parser);
    conn_forget_request(c);
    return 0;
}

void lf_fcgi_conn_close(lf_fcgi_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rpos = c->rlen = 0;
    conn_release_buf(c);
    conn_forget_request(c);
    lf_buf_reset(&c->wq);
    lf_buf_shrink(&c->wq, 64 * 1024);
    c->wq_pos = 0;
}

/* Bytes for the web server: written now as far as the socket takes them
 * (nothing goes ahead of what is queued), the rest queued.  0, or -1 with
 * c->err. */
static int conn_fail(lf_fcgi_conn_t *c, int err, const char *why);

static int conn_queue(lf_fcgi_conn_t *c, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0 && !lf_fcgi_conn_pending(c)) {
        ssize_t w = write(c->fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        if (w <= 0)
            return conn_fail(c, w < 0 ? errno : EIO, NULL);
        s += w;
        n -= (size_t)w;
    }
    if (n > 0 && lf_buf_append(&c->wq, s, n) != 0)
        return conn_fail(c, ENOMEM, "out of memory for the output queue");
    return 0;
}

int lf_fcgi_conn_send_pending(lf_fcgi_conn_t *c)
{
    while (lf_fcgi_conn_pending(c)) {
        ssize_t w = write(c->fd, c->wq.data + c->wq_pos, c->wq.len - c->wq_pos);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return LF_FCGI_AGAIN;
        if (w <= 0)
            return conn_fail(c, w < 0 ? errno : EIO, NULL);
        c->wq_pos += (size_t)w;
    }
    lf_buf_reset(&c->wq);
    lf_buf_shrink(&c->wq, 64 * 1024); /* a large response is not held for good */
    c->wq_pos = 0;
    return 0;
}

static int conn_fail(lf_fcgi_conn_t *c, int err, const char *why)
{
    c->err = err;
    c->why = why;
    return -1;
}

/* Read more input: 1, 0 at the peer's close, LF_FCGI_AGAIN when nothing
 * has come, -1 on error. */
static int conn_fill(lf_fcgi_conn_t *c)
{
    if (c->rbuf == NULL && (c->rbuf = pool_buf()) == NULL)
        return conn_fail(c, ENOMEM, "out of memory for a read buffer");
    if (c->rpos == c->rlen)
        c->rpos = c->rlen = 0;
    if (c->rlen == LF_FCGI_RBUF_SIZE) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    for (;;) {
        ssize_t n = read(c->fd, c->rbuf + c->rlen, LF_FCGI_RBUF_SIZE - c->rlen);
        if (n > 0) {
            c->rlen += (size_t)n;
            return 1;
        }
        if (n == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return LF_FCGI_AGAIN;
        return conn_fail(c, errno, NULL);
    }
}

/* What conn_process stopped for. */
enum {
    CONN_NEED_INPUT,  /* the buffer is used up */
    CONN_PARAMS_DONE, /* a request is ready */
    CONN_STDIN,       /* *got bytes of STDIN went to dst */
    CONN_STDIN_END,
    CONN_ERROR,
};

/* A management record (id 0) is complete. */
static int conn_management(lf_fcgi_conn_t *c, int type)
{
    unsigned char rec[16];
    if (type == FCGI_GET_VALUES) {
        const char *why;
        lf_buf_t reply = {0};
        int rc = lf_fcgi_get_values_result(c->mgmt.data, c->mgmt.len, c->max_conns, &reply, &why);
        if (rc == 0)
            rc = conn_queue(c, reply.data, reply.len);
        else
            conn_fail(c, -1, why);
        lf_buf_free(&reply);
        return rc;
    }
    lf_fcgi_unknown_type(rec, type);
    return conn_queue(c, rec, sizeof(rec));
}

/* A BEGIN_REQUEST record is complete. */
static int conn_begin(lf_fcgi_conn_t *c, unsigned id)
{
    unsigned char rec[16];
    if (id == FCGI_NULL_REQUEST_ID)
        return conn_fail(c, -1, "FCGI_BEGIN_REQUEST with request id 0");
    if (c->begin_got < 8)
        return conn_fail(c, -1, "FCGI_BEGIN_REQUEST shorter than 8 bytes");
    int role = c->begin[0] << 8 | c->begin[1];
    if (c->begin_busy) {
        /* nginx and Apache never multiplex; say so, as the spec asks. */
        lf_fcgi_end_request(rec, id, FCGI_CANT_MPX_CONN);
    } else if (role != FCGI_RESPONDER) {
        lf_fcgi_end_request(rec, id, FCGI_UNKNOWN_ROLE);
    } else {
        conn_forget_request(c);
        if ((c->params = pool_params()) == NULL)
            return conn_fail(c, ENOMEM, "out of memory for a request's params");
        c->id = id;
        c->keep_conn = (c->begin[2] & FCGI_KEEP_CONN) != 0;
        return 0;
    }
    return conn_queue(c, rec, sizeof(rec));
}

/* Parse buffered input, acting on records, until something the caller
 * asked for happens: a request's params complete (want_stdin 0), or STDIN
 * bytes into dst (want_stdin 1). */
static int conn_process(lf_fcgi_conn_t *c, int want_stdin, char *dst, size_t room, size_t *got)
{
    lf_fcgi_parser_t *p = &c->parser;
    while (c->rpos < c->rlen || (p->in_record && p->content_left == 0 && p->padding_left == 0)) {
        size_t avail = c->rlen - c->rpos;
        int mine = p->in_record && p->id == c->id && c->id != 0;
        if (want_stdin && mine && p->type == FCGI_STDIN && avail > room)
            avail = room;
        lf_fcgi_ev_t ev;
        /* No buffer: nothing left to parse but the end of an empty record. */
        c->rpos += lf_fcgi_parse(p, c->rbuf ? c->rbuf + c->rpos : "", avail, &ev);
        switch (ev.kind) {
        case LF_FCGI_NEED_MORE:
            break;
        case LF_FCGI_BAD:
            return conn_fail(c, -1, "a record of an unknown FastCGI version"), CONN_ERROR;
        case LF_FCGI_RECORD:
            if (ev.id == FCGI_NULL_REQUEST_ID && ev.type != FCGI_BEGIN_REQUEST) {
                lf_buf_reset(&c->mgmt);
            } else if (ev.type == FCGI_BEGIN_REQUEST) {
                c->begin_got = 0;
                c->begin_busy = c->id != 0;
            }
            break;
        case LF_FCGI_CONTENT:
            if (ev.id == FCGI_NULL_REQUEST_ID && ev.type != FCGI_BEGIN_REQUEST) {
                if (ev.type == FCGI_GET_VALUES && lf_buf_append(&c->mgmt, ev.data, ev.length) != 0)
                    return conn_fail(c, ENOMEM, NULL), CONN_ERROR;
            } else if (ev.type == FCGI_BEGIN_REQUEST) {
                for (unsigned i = 0; i < ev.length && c->begin_got < 8; i++)
                    c->begin[c->begin_got++] = (unsigned char)ev.data[i];
            } else if (ev.id == c->id && c->id != 0) {
                if (ev.type == FCGI_PARAMS && !c->params_done) {
                    const char *why;
                    if (lf_fcgi_params_add(c->params, ev.data, ev.length, &why) != 0)
                        return conn_fail(c, -1, why), CONN_ERROR;
                } else if (ev.type == FCGI_STDIN && c->params_done && !c->stdin_done) {
                    if (want_stdin) {
                        memcpy(dst, ev.data, ev.length);
                        *got = ev.length;
                        return CONN_STDIN;
                    }
                    /* STDIN while params are read: out of order. */
                    return conn_fail(c, -1, "FCGI_STDIN before the end of FCGI_PARAMS"), CONN_ERROR;
                }
            }
            break; /* records of other ids and types are skipped */
        case LF_FCGI_RECORD_END:
            if (ev.id == FCGI_NULL_REQUEST_ID && ev.type != FCGI_BEGIN_REQUEST) {
                if (conn_management(c, ev.type) != 0)
                    return CONN_ERROR;
            } else if (ev.type == FCGI_BEGIN_REQUEST) {
                if (conn_begin(c, ev.id) != 0)
                    return CONN_ERROR;
            } else if (ev.id == c->id && c->id != 0) {
                if (ev.type == FCGI_ABORT_REQUEST) {
                    c->aborted = 1;
                    if (!c->params_done) {
                        /* Not started: it ends here, answered. */
                        unsigned char rec[16];
                        lf_fcgi_end_request(rec, c->id, FCGI_REQUEST_COMPLETE);
                        conn_forget_request(c);
                        if (conn_queue(c, rec, sizeof(rec)) != 0)
                            return CONN_ERROR;
                    } else if (want_stdin) {
                        return CONN_STDIN_END;
                    }
                } else if (ev.type == FCGI_PARAMS && ev.length == 0 && !c->params_done) {
                    const char *why;
                    if (lf_fcgi_params_decode(c->params, &why) != 0)
                        return conn_fail(c, -1, why), CONN_ERROR;
                    c->params_done = 1;
                    if (!want_stdin)
                        return CONN_PARAMS_DONE;
                } else if (ev.type == FCGI_STDIN && ev.length == 0 && c->params_done) {
                    c->stdin_done = 1;
                    if (want_stdin)
                        return CONN_STDIN_END;
                }
            }
            break;
        }
    }
    return CONN_NEED_INPUT;
}

int lf_fcgi_conn_peer_closed(const lf_fcgi_conn_t *c)
{
    char b;
    ssize_t n;
    do
        n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n == 0;
}

int lf_fcgi_conn_read_request(lf_fcgi_conn_t *c)
{
    if (c->fd < 0)
        return conn_fail(c, EBADF, NULL);
    for (;;) {
        /* A peer that does not read its replies is not read either. */
        if (c->wq.len - c->wq_pos > LF_FCGI_WQ_HIGH)
            return LF_FCGI_AGAIN;
        int rc = conn_process(c, 0, NULL, 0, NULL);
        if (rc == CONN_PARAMS_DONE)
            return 1;
        if (rc == CONN_ERROR)
            return -1;
        int filled = conn_fill(c);
        if (filled == LF_FCGI_AGAIN) {
            conn_release_buf(c);
            return LF_FCGI_AGAIN;
        }
        if (filled < 0)
            return -1;
        if (filled == 0) {
            /* A close between records and requests is the normal end. */
            if (c->id == 0 && !c->parser.in_record && c->parser.hdr_got == 0)
                return 0;
            return conn_fail(c, -1, "the web server closed the connection in the middle of a request");
        }
    }
}

long lf_fcgi_conn_read_stdin(lf_fcgi_conn_t *c, char *dst, size_t room)
{
    if (c->fd < 0 || c->err)
        return -1;
    if (c->aborted)
        return conn_fail(c, ECONNABORTED, NULL);
    if (c->stdin_done || room == 0)
        return 0;
    for (;;) {
        size_t got = 0;
        int rc = conn_process(c, 1, dst, room, &got);
        if (rc == CONN_STDIN)
            return (long)got;
        if (rc == CONN_STDIN_END)
            return c->aborted ? conn_fail(c, ECONNABORTED, NULL) : 0;
        if (rc == CONN_ERROR)
            return -1;
        int filled = conn_fill(c);
        if (filled == LF_FCGI_AGAIN) {
            conn_release_buf(c);
            return LF_FCGI_STDIN_AGAIN;
        }
        if (filled < 0)
            return -1;
        if (filled == 0)
            return conn_fail(c, ECONNRESET, "the web server closed the connection before the end of the request body");
    }
}

int lf_fcgi_conn_poll_abort(lf_fcgi_conn_t *c)
{
    if (c->fd < 0 || c->err || !c->stdin_done || c->id == 0)
        return 0;
    int filled = conn_fill(c);
    if (filled < 0 || filled == 0)
        return -1;
    /* Only a whole FCGI_ABORT_REQUEST for this request, next in line, is
     * taken; anything else (the next pipelined request) waits unparsed. */
    const lf_fcgi_parser_t *p = &c->parser;
    if (p->in_record || p->hdr_got > 0 || c->rlen - c->rpos < FCGI_HEADER_LEN)
        return 0;
    const unsigned char *h = (const unsigned char *)c->rbuf + c->rpos;
    unsigned id = (unsigned)h[2] << 8 | h[3];
    size_t total = FCGI_HEADER_LEN + ((size_t)h[4] << 8 | h[5]) + h[6];
    if (h[0] != FCGI_VERSION_1 || h[1] != FCGI_ABORT_REQUEST || id != c->id ||
        c->rlen - c->rpos < total)
        return 0;
    c->rpos += total;
    conn_release_buf(c);
    c->aborted = 1;
    return 1;
}

int lf_fcgi_conn_drain_stdin(lf_fcgi_conn_t *c, unsigned long long *dropped)
{
    char chunk[8192];
    long n;
    while ((n = lf_fcgi_conn_read_stdin(c, chunk, sizeof(chunk))) > 0)
        if (dropped)
            *dropped += (unsigned long long)n;
    return n == 0 ? 0 : n == LF_FCGI_STDIN_AGAIN ? LF_FCGI_AGAIN : -1;
}

void lf_fcgi_conn_end_request(lf_fcgi_conn_t *c)
{
    conn_forget_request(c);
    conn_release_buf(c);
}

void lf_fcgi_out_begin(lf_fcgi_out_t *o, lf_fcgi_conn_t *c)
{
    o->n = 0;
    o->c = c;
    o->id = c->id;
    o->failed = 0;
}

/* Write the batch as far as the socket takes it (nothing goes ahead of
 * what is queued already), then queue the rest. */
static int writev_queue(lf_fcgi_conn_t *c, struct iovec *iov, int n)
{
    while (n > 0 && !lf_fcgi_conn_pending(c)) {
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return errno;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    for (; n > 0; iov++, n--)
        if (lf_buf_append(&c->wq, iov->iov_base, iov->iov_len) != 0)
            return ENOMEM;
    return 0;
}

int lf_fcgi_out_flush(lf_fcgi_out_t *o)
{
    if (o->n > 0 && !o->failed) {
        if (o->c->fd < 0)
            o->failed = EBADF;
        else
            o->failed = writev_queue(o->c, o->iov, o->n);
    }
    o->n = 0;
    return o->failed;
}

/* One record: header, then content (which must outlive the batch). */
static void out_record(lf_fcgi_out_t *o, int type, const void *p, size_t len)
{
    if (o->n + 2 > LF_FCGI_IOV_BATCH)
        lf_fcgi_out_flush(o);
    unsigned char *h = o->hdr[o->n];
    lf_fcgi_header(h, type, o->id, (unsigned)len);
    o->iov[o->n++] = (struct iovec){.iov_base = h, .iov_len = FCGI_HEADER_LEN};
    if (len > 0)
        o->iov[o->n++] = (struct iovec){.iov_base = (void *)p, .iov_len = len};
}

void lf_fcgi_out_stdout(lf_fcgi_out_t *o, const char *p, size_t len)
{
    while (len > 0) {
        size_t chunk = len < FCGI_MAX_LENGTH ? len : FCGI_MAX_LENGTH;
        out_record(o, FCGI_STDOUT, p, chunk);
        p += chunk;
        len -= chunk;
    }
}

void lf_fcgi_out_end_request(lf_fcgi_out_t *o)
{
    out_record(o, FCGI_STDOUT, NULL, 0);
    if (o->n + 1 > LF_FCGI_IOV_BATCH)
        lf_fcgi_out_flush(o);
    lf_fcgi_end_request(o->end, o->id, FCGI_REQUEST_COMPLETE);
    o->iov[o->n++] = (struct iovec){.iov_base = o->end, .iov_len = sizeof(o->end)};
}
