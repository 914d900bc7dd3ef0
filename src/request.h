/* request.h - one FastCGI request: its coroutine, its response. */
#ifndef LF_REQUEST_H
#define LF_REQUEST_H

#include <lua.h>

#include "conf.h"
#include "buf.h"
#include "fcgi_conn.h"
#include "headers.h"
#include "script.h"
#include "vm.h"

/* Why the request's coroutine yielded back to C. */
typedef enum {
    LF_YIELD_NONE = 0, /* a plain coroutine.yield reached the top */
    LF_YIELD_EXIT,     /* ngx.exit / ngx.redirect: the request is done */
    LF_YIELD_SLEEP,    /* ngx.sleep: wait, then resume */
    LF_YIELD_ABORT,    /* an error that no pcall may catch (coroutine.wrap) */
    LF_YIELD_TIMEOUT,  /* --request-timeout passed (yielded from a hook) */
    LF_YIELD_SANDBOX,  /* a sandboxed script spent a budget (sandbox.c) */
} lf_yield_t;

/* What ngx.req.read_body / discard_body did with the request body. */
typedef enum {
    LF_BODY_UNREAD = 0, /* stdin untouched (drained at the end) */
    LF_BODY_READ,       /* in r->body, or spooled to r->body_path */
    LF_BODY_DISCARDED,
} lf_body_state_t;


typedef struct {
    lf_fcgi_conn_t *conn;       /* the web server's connection */
    const lf_conf_t *conf;
    lf_vm_t *vm;
    lua_State *co;              /* the handler's coroutine */
    const char *script;         /* resolved path */
    unsigned long long number;  /* per worker, for logs */
    double start_time;

    int status;                 /* ngx.status; 0 until set */
    int exit_code;              /* argument of ngx.exit */
    lf_yield_t yield;
    int ctx_ref;                /* ngx.ctx, LUA_NOREF until used */
    double sleep_seconds;       /* argument of ngx.sleep */
    int abort_ref;              /* LF_YIELD_ABORT's error value */
    int timeout_ref;            /* the timeout's message and traceback */
    lf_body_state_t body_state;
    int body_fd;                /* spooled body, else -1 */
    const char *body_path;      /* its name, removed at the end */
    unsigned long long body_len;
    int args_ref;               /* ngx.var.args once written, else LUA_NOREF */
    const char *method;         /* set by ngx.req.set_method, else NULL (REQUEST_METHOD) */
    long long limit_rate;       /* ngx.var.limit_rate, bytes/s, 0 = none */
    unsigned headers_sent : 1;    /* frozen: output has begun */
    unsigned headers_written : 1; /* serialized into the stream */
    unsigned flushed : 1;       /* output reached the socket */
    unsigned header_only : 1;   /* HEAD: the body is not sent */
    unsigned eof : 1;           /* ngx.eof: later output is dropped */
    unsigned aborted : 1;       /* the connection is to be cut */
    unsigned write_failed : 1;  /* the web server went away */
    unsigned body_refused : 1;  /* over --max-body: stdin is not in step */
    unsigned sandboxed : 1;     /* the script is under --sandbox-root */
    unsigned body_seen : 1;     /* ngx.say/print had body bytes (ngx.flush needs some) */
    lf_headers_t headers;
    lf_buf_t out;               /* body not yet sent */
    lf_buf_t hdr;               /* the serialized header block */
    lf_buf_t body;              /* an in-memory request body */
} lf_request_t;

/* The request being served, NULL outside one (init, between requests). */
extern lf_request_t *lf_request_current;

/* Serve one accepted FastCGI request with the given VM. */
void lf_request_serve(lf_fcgi_conn_t *conn, lf_vm_t *vm, const lf_conf_t *conf,
                      const lf_root_t *root);
void lf_request_cleanup(void);

const char *lf_request_param(const lf_request_t *r, const char *name);
/* Which request it is, for a log line: method, URI and script, each
 * escaped (they come from the web server, the client and file names: a
 * newline there must not forge a line).  Every line that names a request
 * is built from these. */
typedef struct {
    char method[64], uri[1024], script[1024];
} lf_request_log_t;
void lf_request_log_fill(const lf_request_t *r, lf_request_log_t *out);
/* The same for a request on conn that has no lf_request_t (yet): script
 * is "-". */
void lf_request_log_fill_conn(const lf_fcgi_conn_t *conn, const char *script,
                              lf_request_log_t *out);
/* `script: S, request: "METHOD URI"`, from lf_request_log_fill.  Returns buf. */
#define LF_REQUEST_LOG_TEXT 2200
const char *lf_request_log_text(const lf_request_t *r, char *buf, size_t len);
int lf_request_write(lf_request_t *r, const char *p, size_t n);
int lf_request_flush(lf_request_t *r);
int lf_request_eof(lf_request_t *r);
/* A complete response with nginx's kind of error page, before any output. */
void lf_request_error_page(lf_request_t *r, int status);
/* That page's HTML into buf (NUL-terminated); its length. */
size_t lf_request_error_html(int status, char *buf, size_t len);
const char *lf_request_status_reason(int status);
/* The query string as ngx.var.args sees it now ("" when there is none). */
const char *lf_request_args(lf_request_t *r, size_t *len);

/* request_body.c: read the whole body into memory or a temporary file
 * (0; -1 with the reason in err; or LF_BODY_TOO_LARGE, logged, when it
 * grows past --max-body); discard it; forget it at the end. */
#define LF_BODY_TOO_LARGE 413
int lf_body_read(lf_request_t *r, char *err, size_t errlen);
/* A CONTENT_LENGTH over --max-body: 413 before the handler runs. */
int lf_body_check_length(lf_request_t *r);
/* After a 413 was sent: read and drop what the web server still sends, for
 * a bounded time; 0 when stdin reached its end (the connection is usable). */
int lf_body_linger(lf_request_t *r);
void lf_body_discard(lf_request_t *r);
/* Read the request's stdin to its end, dropping the bytes: a kept
 * connection must be in step before the response ends. */
void lf_body_drain(lf_fcgi_conn_t *conn);
void lf_body_done(lf_request_t *r);
/* From a signal handler: remove a spooled file (async-signal-safe). */
void lf_body_unlink_on_kill(void);

#endif
