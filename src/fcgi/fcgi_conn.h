/* fcgi_conn.h - one FastCGI connection from the web server: requests read
 * through luafpm's codec (fcgi_codec.h), management records answered,
 * responses written as records.  Nothing here blocks: reads return
 * LF_FCGI_AGAIN when nothing has come, and what the socket does not take
 * at once waits in the connection's output queue for the loop to send
 * when it is writable.  The bytes already read past the current request
 * stay buffered for the next one (pipelining). */
#ifndef LF_FCGI_CONN_H
#define LF_FCGI_CONN_H

#include <stddef.h>
#include <sys/uio.h>

#include "fcgi_codec.h"

#define LF_FCGI_RBUF_SIZE (16 * 1024)
/* A connection whose output queue holds more than this is not read until
 * the web server has taken some (management replies to a peer that does
 * not read must not grow without bound). */
#define LF_FCGI_WQ_HIGH (64 * 1024)

typedef struct {
    int fd;                     /* -1 = no connection */
    unsigned max_conns;         /* what FCGI_GET_VALUES reports */
    lf_fcgi_parser_t parser;
    char *rbuf;                 /* unparsed input is rbuf[rpos, rlen); from a
                                   pool, held only while it holds bytes */
    size_t rpos, rlen;
    lf_buf_t mgmt;              /* a management record's content */
    lf_buf_t wq;                /* output the socket did not take yet: wq.data[wq_pos, wq.len) */
    size_t wq_pos;

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

    int err;                    /* why it is unusable: errno, or -1 (protocol) */
    const char *why;            /* a protocol error's cause, for the log */
} lf_fcgi_conn_t;

/* Connections start closed; lf_fcgi_conn_free gives back their memory. */
void lf_fcgi_conn_init(lf_fcgi_conn_t *c, unsigned max_conns);
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
/* Has the web server closed its side (a FIN read but not yet seen by
 * us)?  One recv(MSG_PEEK): for a connection not watched by epoll yet. */
int lf_fcgi_conn_peer_closed(const lf_fcgi_conn_t *c);
/* The current request's param, or NULL. */
static inline const char *lf_fcgi_conn_param(const lf_fcgi_conn_t *c, const char *name,
                                             size_t len)
{
    return c->params ? lf_fcgi_params_get(c->params, name, len) : NULL;
}

/* Up to room bytes of the current request's STDIN: > 0 bytes, 0 at its
 * end, LF_FCGI_STDIN_AGAIN when nothing more has come yet (wait for the
 * socket), -1 on error (c->err; an FCGI_ABORT_REQUEST is ECONNABORTED). */
#define LF_FCGI_STDIN_AGAIN (-2)
long lf_fcgi_conn_read_stdin(lf_fcgi_conn_t *c, char *dst, size_t room);
/* Read what has come of STDIN, dropping it: 0 at its end, LF_FCGI_AGAIN
 * when more is to come, -1 on error.  *dropped grows by the bytes. */
int lf_fcgi_conn_drain_stdin(lf_fcgi_conn_t *c, unsigned long long *dropped);
/* While a request whose stdin has ended runs: read what came, and take
 * an FCGI_ABORT_REQUEST for it if that is what came next (1); 0 when
 * something else came (it waits, unparsed), -1 when the web server
 * closed the connection or reading failed. */
int lf_fcgi_conn_poll_abort(lf_fcgi_conn_t *c);
/* The request is answered: forget it (its STDIN must have ended). */
void lf_fcgi_conn_end_request(lf_fcgi_conn_t *c);

/* Is output waiting in the queue for the socket? */
static inline int lf_fcgi_conn_pending(const lf_fcgi_conn_t *c)
{
    return c->wq.len > c->wq_pos;
}
/* Write what the queue holds, as far as the socket takes it: 0 when it is
 * empty, LF_FCGI_AGAIN when some is left (wait for EPOLLOUT), -1 on error
 * (c->err). */
int lf_fcgi_conn_send_pending(lf_fcgi_conn_t *c);

/* Output: records gathered into one writev(2) where they fit; what the
 * socket does not take goes to the connection's queue. */
#define LF_FCGI_IOV_BATCH 64
typedef struct {
    struct iovec iov[LF_FCGI_IOV_BATCH];
    unsigned char hdr[LF_FCGI_IOV_BATCH][FCGI_HEADER_LEN];
    unsigned char end[16];
    int n;
    lf_fcgi_conn_t *c;
    unsigned id;
    int failed;                 /* errno of the first failed write */
} lf_fcgi_out_t;

void lf_fcgi_out_begin(lf_fcgi_out_t *o, lf_fcgi_conn_t *c);
/* STDOUT records for p (not copied: it must live until the flush). */
void lf_fcgi_out_stdout(lf_fcgi_out_t *o, const char *p, size_t len);
/* The end of STDOUT and FCGI_END_REQUEST (REQUEST_COMPLETE). */
void lf_fcgi_out_end_request(lf_fcgi_out_t *o);
/* Write what is gathered, queueing what the socket does not take; 0, or
 * the errno of the failure (ENOMEM: the queue could not grow). */
int lf_fcgi_out_flush(lf_fcgi_out_t *o);

#endif
