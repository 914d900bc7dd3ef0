/* request.h - one FastCGI request: its coroutine, its response. */
#ifndef LF_REQUEST_H
#define LF_REQUEST_H

#include <limits.h>

#include <lua.h>

#include "conf.h"
#include "buf.h"
#include "event.h"
#include "fcgi_conn.h"
#include "headers.h"
#include "log.h"
#include "script.h"
#include "timeout.h"
#include "vm.h"

/* Why the request's coroutine yielded back to C. */
typedef enum {
    LF_YIELD_NONE = 0, /* a plain coroutine.yield reached the top */
    LF_YIELD_EXIT,     /* ngx.exit / ngx.redirect: the request is done */
    LF_YIELD_SLEEP,    /* ngx.sleep: wait, then resume */
    LF_YIELD_ABORT,    /* an error that no pcall may catch (coroutine.wrap) */
    LF_YIELD_TIMEOUT,  /* --request-timeout passed (yielded from a hook) */
    LF_YIELD_SANDBOX,  /* a sandboxed script spent a budget (sandbox.c) */
    LF_YIELD_BODY,     /* ngx.req.read_body: the rest of stdin has to come */
    LF_YIELD_FLUSH,    /* ngx.flush(true): the output queue has to empty */
    LF_YIELD_EOF,      /* ngx.eof: stdin has to end before the response can */
    LF_YIELD_THREAD,   /* ngx.thread.wait: none of the threads is done yet */
    LF_YIELD_SOCKET,   /* a cosocket or ngx.semaphore waits (they wake it) */
} lf_yield_t;

/* What a request in flight waits for (the loop wakes it). */
typedef enum {
    LF_WAIT_NONE = 0,  /* running, or about to */
    LF_WAIT_SLEEP,     /* ngx.sleep: its timer */
    LF_WAIT_BODY,      /* ngx.req.read_body: stdin */
    LF_WAIT_PREFETCH,  /* a sandboxed request's body, read before it runs */
    LF_WAIT_FLUSH,     /* ngx.flush(true): the output queue to empty */
    LF_WAIT_EOF,       /* ngx.eof: stdin to end */
    LF_WAIT_DRAIN,     /* the handler is done: stdin to end */
    LF_WAIT_SEND,      /* the handler is done: the output queue to empty */
    LF_WAIT_CUT,       /* a pause before the record that cuts the response */
    LF_WAIT_THREAD,    /* (a light thread) ngx.thread.wait */
    LF_WAIT_CONN,      /* (a light thread) the request's BODY, FLUSH or EOF wait */
    LF_WAIT_SOCKET,    /* (a light thread) a cosocket (api_socket.c wakes it) */
} lf_wait_t;

/* A light thread: the handler's entry thread, or one ngx.thread.spawn
 * made.  Each is a coroutine the loop resumes on its own. */
typedef enum {
    LF_UT_RUNNING = 0,
    LF_UT_PARKED,      /* waits (wait says for what) */
    LF_UT_ZOMBIE,      /* done, its results kept for ngx.thread.wait */
    LF_UT_DEAD,        /* waited for, killed, or the entry thread done */
} lf_ut_state_t;

typedef struct lf_uthread {
    struct lf_uthread *next;    /* the request's threads, or the free list */
    struct lf_request *r;
    struct lf_uthread *waiter;  /* the thread waiting for it in ngx.thread.wait */
    lua_State *parent;          /* the coroutine that spawned it; NULL: the entry thread */
    lua_State *co;
    int co_ref;                 /* anchors co */
    lf_ut_state_t state;
    lf_wait_t wait;
    lf_timer_t timer;           /* ngx.sleep */
    /* What it waits in (an ngx.semaphore's queue) lets go of it when the
     * thread ends parked: killed, or its request over. */
    void (*on_bury)(struct lf_uthread *ut, void *data);
    void *bury_data;
    unsigned failed : 1;        /* its result is an error */
} lf_uthread_t;

/* What ngx.req.read_body / discard_body did with the request body. */
typedef enum {
    LF_BODY_UNREAD = 0, /* stdin untouched (drained at the end) */
    LF_BODY_READ,       /* in r->body, or spooled to r->body_path */
    LF_BODY_DISCARDED,
} lf_body_state_t;


typedef struct lf_request lf_request_t;

/* How a worker starts a request and hears of its end. */
typedef struct {
    lf_fcgi_conn_t *conn;
    lf_io_t *io;                /* conn's place in the loop (the worker's) */
    lf_loop_t *loop;
    lf_vm_t *vm;                /* NULL: the VM could not be made (500) */
    const lf_conf_t *conf;
    const lf_root_t *root;
    /* Instead of a Lua handler (the status page): write the response. */
    void (*respond)(lf_request_t *r, void *data);
    /* The request is over and its connection ended or closed: called from
     * the loop, never from lf_request_start itself. */
    void (*done)(lf_request_t *r, void *data);
    void *data;
} lf_request_env_t;

struct lf_request {
    struct lf_request *next, *prev; /* in flight (lf_request_inflight), or free */
    lf_request_env_t env;
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

    /* In flight: what it waits for, and the loop's hold on it. */
    lf_wait_t wait;             /* the connection's: BODY, FLUSH, EOF, DRAIN, ... */
    lf_uthread_t *threads;      /* its light threads, the entry thread among them */
    lf_uthread_t *cur;          /* the one running now */
    lf_uthread_t *io_waiter;    /* the one in the BODY, FLUSH or EOF wait */
    lf_uthread_t *wake;         /* the one to resume next (with resume_kind) */
    unsigned alive;             /* threads not done yet */
    lf_timer_t timer;           /* a read or send timeout */
    void *sockets;              /* its cosockets (api_socket.c), closed at its end */
    lf_timer_t deadline;        /* --request-timeout / --slowlog-timeout while parked */
    lf_deadline_t dl;           /* --request-timeout, --slowlog-timeout */
    double linger_until;        /* a refused body is dropped until then */
    unsigned long long body_dropped;
    unsigned end_sent : 1;      /* FCGI_END_REQUEST is written or queued */
    unsigned shut : 1;          /* our side is shut (ngx.eof without keep-alive) */
    unsigned handler_done : 1;  /* the coroutine is over */
    unsigned starting : 1;      /* inside lf_request_start: done is not called */
    unsigned complete : 1;      /* over; lf_request_start returns 0 */
    unsigned spool_active : 1;  /* spool_path names a file to remove */
    unsigned body_hidden : 1;   /* read before the handler: not shown until read_body */
    unsigned body_complete : 1; /* all of stdin is in body / the file */
    unsigned lost : 1;          /* stdin was cut: the connection is out of step */
    unsigned is_timer : 1;      /* an ngx.timer callback: no connection, no response */
    unsigned client_gone : 1;   /* --check-client-abort saw the connection close */
    unsigned io_strict : 1;     /* input came that it does not want: watch only what it does */
    int resume_kind;            /* what the parked coroutine is resumed with */
    int refusal;                /* an HTTP status before the handler ran */
    int timer_ref;              /* a timer's {f, args..., n} */
    int on_abort_ref;           /* ngx.on_abort's callback */
    int timer_premature;        /* -1: no premature argument (init_worker) */
    const char *phase;          /* ngx.get_phase() of a request without a connection */
    unsigned handler_failed : 1; /* an error or a timeout ended the handler */
    /* Last: a request from the pool is cleared up to path. */
    char path[PATH_MAX];        /* the resolved script (r->script) */
    char spool_path[PATH_MAX];  /* a spooled body's file */
    char resume_msg[512];       /* the resumed call's error message */
};

/* The request whose Lua code runs now, NULL outside one (init, the loop). */
extern lf_request_t *lf_request_current;
/* Every request in flight in this worker (read by signal handlers). */
extern lf_request_t *volatile lf_request_inflight;
extern unsigned lf_request_inflight_count;

/* Start a request that the connection has ready: it runs as far as it can
 * now.  0 when it is over already (its connection ended or closed);
 * 1 when it waits for something, and env->done is called when it ends. */
int lf_request_start(const lf_request_env_t *env);
/* The same for an ngx.timer callback (timer.c): fn_ref is {f, args...,
 * n = count} in env->vm's registry (the request takes it); f runs with
 * premature and the arguments. */
int lf_request_start_timer(const lf_request_env_t *env, int fn_ref, int premature);
/* The same for --init-worker's chunk on the loop (phase "init_worker", no
 * arguments); env->conn may be NULL for these.  0 when it is over and
 * went well, -1 when it failed (logged), 1 in flight (env->done follows:
 * r->handler_failed says how it went). */
int lf_request_start_init(const lf_request_env_t *env, int fn_ref);
/* The connection of a request in flight is ready (epoll's events). */
void lf_request_io(lf_request_t *r, uint32_t events);

/* ngx.thread (api_thread.c): spawn runs a new light thread of f (at 1 of
 * L, its arguments after) until it waits or ends; its coroutine is
 * pushed on L.  1 when the new thread ended the request (ngx.exit, a
 * timeout): the caller yields with r->yield as it is.  The light thread
 * whose coroutine co is, or NULL. */
int lf_request_thread_spawn(lf_request_t *r, lua_State *L);
lf_uthread_t *lf_request_thread_of(lf_request_t *r, lua_State *L, lua_State *co);
/* Its results onto L (true, values... or false, error); it is done with. */
int lf_request_thread_results(lf_uthread_t *ut, lua_State *L);
/* ngx.thread.kill of a parked thread. */
void lf_request_thread_kill(lf_uthread_t *ut);
/* Resume a light thread parked in LF_WAIT_SOCKET (its cosocket is ready
 * or timed out); nothing when it is no longer waiting there. */
void lf_request_thread_wake(lf_uthread_t *ut);
/* Called when a request's handler is over (api_socket.c closes its
 * cosockets: none outlives it, none is pooled then). */
extern void (*lf_request_on_end)(lf_request_t *r);
/* ngx.on_abort(f) (f at 1 of L): 0, or -1 with OpenResty's reason. */
int lf_request_on_abort(lf_request_t *r, lua_State *L, const char **why);
void lf_request_cleanup(void);

const char *lf_request_param(const lf_request_t *r, const char *name);
/* Which request it is, for a log line (log.h: each part escaped).  Every
 * line that names a request is built from these. */
typedef lf_log_who_t lf_request_log_t;
void lf_request_log_fill(const lf_request_t *r, lf_request_log_t *out);
/* The same for a request on conn that has no lf_request_t (yet): script
 * is "-". */
void lf_request_log_fill_conn(const lf_fcgi_conn_t *conn, const char *script,
                              lf_request_log_t *out);
/* `script: S, request: "METHOD URI"`, from lf_request_log_fill.  Returns buf. */
#define LF_REQUEST_LOG_TEXT LF_LOG_WHO_TEXT
const char *lf_request_log_text(const lf_request_t *r, char *buf, size_t len);
int lf_request_write(lf_request_t *r, const char *p, size_t n);
int lf_request_flush(lf_request_t *r);
/* After output: more is queued for the web server than a request may
 * hold.  0 (it was sent meanwhile, or there is room), -1 (the connection
 * failed), or LF_REQUEST_WAIT: the caller yields LF_YIELD_FLUSH. */
int lf_request_output_backlog(lf_request_t *r, lua_State *L);
/* ngx.eof: 0, -1 (the connection failed), or LF_REQUEST_WAIT: stdin has
 * not ended yet, the handler yields LF_YIELD_EOF until it has. */
#define LF_REQUEST_WAIT 2
int lf_request_eof(lf_request_t *r);
/* A complete response with nginx's kind of error page, before any output. */
void lf_request_error_page(lf_request_t *r, int status);
/* The query string as ngx.var.args sees it now ("" when there is none). */
const char *lf_request_args(lf_request_t *r, size_t *len);

/* request_body.c: read the whole body into memory or a temporary file as
 * it arrives (0 when it is all there; LF_BODY_AGAIN when more is to come,
 * call again when the connection is readable; -1 with the reason in err;
 * or LF_BODY_TOO_LARGE, logged, when it grows past --max-body); discard
 * it; forget it at the end. */
#define LF_BODY_TOO_LARGE 413
#define LF_BODY_AGAIN 2
int lf_body_read(lf_request_t *r, char *err, size_t errlen);
/* A CONTENT_LENGTH over --max-body: 413 before the handler runs. */
int lf_body_check_length(lf_request_t *r);
/* ngx.req.discard_body: what comes of stdin is dropped (at the end). */
void lf_body_discard(lf_request_t *r);
void lf_body_done(lf_request_t *r);
/* From a signal handler: remove a spooled file (async-signal-safe). */
void lf_body_unlink_on_kill(void);

#endif
