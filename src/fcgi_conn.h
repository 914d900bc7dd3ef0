/* fcgi_conn.h - one FastCGI connection from the web server: requests read
 * through luafpm's codec (fcgi_codec.h), management records answered,
 * responses written as records.  Reads block (one request at a time per
 * worker); the bytes already read past the current request stay buffered
 * for the next one (pipelining). */
#ifndef LF_FCGI_CONN_H
#define LF_FCGI_CONN_H

#include <stddef.h>
#include <sys/uio.h>

#include "fcgi_codec.h"

#define LF_FCGI_RBUF_SIZE (16 * 1024)
/* While a request runs, a read or write waits at most --read-timeout /
 * --send-timeout (60 s, as nginx's client_body_timeout and
 * fastcgi_send_timeout) for the web server: a peer that stops sending the
 * body or reading the response costs the request, never the worker for
 * good. */

typedef struct {
    int fd;                     /* -1 = no connection */
    unsigned max_conns;         /* what FCGI_GET_VALUES reports */
    lf_fcgi_parser_t parser;
    char *rbuf;                 /* unparsed input is rbuf[rpos, rlen); from a
                                   pool, held only while it holds bytes */
    size_t rpos, rlen;
    lf_buf_t mgmt;              /* a management record's content, and replies */

    /* The current request: id 0 = none (between requests). */
    unsigned id;
    unsigned keep_conn : 1;     /* FCGI_KEEP_CONN: the web server keeps it */
    unsigned params_done : 1;
    unsigned stdin_done : 1;    /* the empty STDIN record came */
    unsigned aborted : 1;       /* FCGI_ABORT_REQUEST for it */
    unsigned begin_busy : 1;    /* the BEGIN_REQUEST being read finds one in progress */
    unsigned char begin[8];     /* a BEGIN_REQUEST's body */
    unsigned begin_got;
    lf_fcgi_params_t *params;   /* the request's, from a pool; NULL between requests */

    int read_wait_ms;           /* a request's reads wait at most this */
    int read_timeout_ms;        /* --read-timeout, what read_wait_ms goes back to */
    int send_timeout_ms;        /* --send-timeout */
    int err;                    /* why it is unusable: errno, or -1 (protocol) */
    const char *why;            /* a protocol error's cause, for the log */
    /* While stdin is read: EINTR ends the read when this says so (the
     * request timed out), else the read goes on. */
    int (*interrupted)(void);
} lf_fcgi_conn_t;

/* Connections start closed; lf_fcgi_conn_free gives back their memory. */
void lf_fcgi_conn_init(lf_fcgi_conn_t *c, unsigned max_conns, int read_timeout_ms,
                       int send_timeout_ms);
void lf_fcgi_conn_free(lf_fcgi_conn_t *c);
/* Give back the read buffers and params the connections no longer hold
 * (at the worker's exit). */
void lf_fcgi_conn_pool_free(void);
/* Accept one connection on listen_fd (close-on-exec, never on fd 0-2,
 * TCP_NODELAY on TCP).  0, or -errno. */
int lf_fcgi_conn_accept(lf_fcgi_conn_t *c, int listen_fd);
void lf_fcgi_conn_close(lf_fcgi_conn_t *c);

/* Read what has arrived (the socket is non-blocking) until the next
 * request's params are complete, answering management records and
 * refusing what cannot be served.  1: a request is ready; LF_FCGI_AGAIN:
 * not yet, wait for the socket to be readable; 0: the web server closed
 * the connection between requests; -1: a read or protocol error (c->err,
 * c->why; logged by the caller). */
#define LF_FCGI_AGAIN 2
int lf_fcgi_conn_read_request(lf_fcgi_conn_t *c);
/* Is a request begun but not complete (bytes of it buffered, or its
 * records under way)? */
static inline int lf_fcgi_conn_partial(const lf_fcgi_conn_t *c)
{
    return c->id != 0 || c->rlen > c->rpos || c->parser.in_record || c->parser.hdr_got > 0;
}
/* Has input already arrived that has not been parsed (the next request
 * may be complete without a read)? */
static inline int lf_fcgi_conn_buffered(const lf_fcgi_conn_t *c)
{
    return c->rlen > c->rpos;
}
/* The current request's param, or NULL. */
static inline const char *lf_fcgi_conn_param(const lf_fcgi_conn_t *c, const char *name,
                                             size_t len)
{
    return c->params ? lf_fcgi_params_get(c->params, name, len) : NULL;
}

/* Up to room bytes of the current request's STDIN: > 0 bytes, 0 at its
 * end, -1 on error (c->err; an FCGI_ABORT_REQUEST is ECONNABORTED). */
long lf_fcgi_conn_read_stdin(lf_fcgi_conn_t *c, char *dst, size_t room);
/* Read STDIN to its end, dropping it; 0 at the end, -1 on error. */
int lf_fcgi_conn_drain_stdin(lf_fcgi_conn_t *c);
/* The request is answered: forget it (its STDIN must have ended). */
void lf_fcgi_conn_end_request(lf_fcgi_conn_t *c);

/* Output: records gathered into one writev(2) where they fit. */
#define LF_FCGI_IOV_BATCH 64
typedef struct {
    struct iovec iov[LF_FCGI_IOV_BATCH];
    unsigned char hdr[LF_FCGI_IOV_BATCH][FCGI_HEADER_LEN];
    unsigned char end[16];
    int n;
    int fd;
    unsigned id;
    int send_timeout_ms;
    int failed;                 /* errno of the first failed write */
} lf_fcgi_out_t;

void lf_fcgi_out_begin(lf_fcgi_out_t *o, const lf_fcgi_conn_t *c);
/* STDOUT records for p (not copied: it must live until the flush). */
void lf_fcgi_out_stdout(lf_fcgi_out_t *o, const char *p, size_t len);
/* The end of STDOUT and FCGI_END_REQUEST (REQUEST_COMPLETE). */
void lf_fcgi_out_end_request(lf_fcgi_out_t *o);
/* Write what is gathered; 0, or the errno of the failure. */
int lf_fcgi_out_flush(lf_fcgi_out_t *o);

#endif
