/* request.c - the life of one request: resolve, run the handler in its own
 * coroutine with its own globals, send the response.  A request that
 * waits (ngx.sleep, a body still arriving, output the web server has not
 * taken) parks its coroutine and the worker's loop serves others; the
 * loop wakes it (lf_request_io, its timers) and it goes on where it was.
 *
 *   start -> [prefetch: a sandboxed request's body] -> launch -> run
 *   run -> parked (sleep, body, flush, eof) -> run ... -> handler over
 *   handler over -> [drain: the rest of stdin] -> send -> [queue empties]
 *   -> complete: the connection ends its request or closes; env.done. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <lauxlib.h>

#include "clock.h"
#include "http.h"
#include "log.h"
#include "request.h"
#include "sandbox.h"
#include "script.h"
#include "timeout.h"

lf_request_t *lf_request_current;
void (*lf_request_on_end)(lf_request_t *r);
lf_request_t *volatile lf_request_inflight;
unsigned lf_request_inflight_count;

static lf_request_t *free_requests; /* their buffers kept for the next */
static unsigned long long request_counter;

/* After a 413, what the web server still sends of the body is read and
 * dropped for at most this long (and at most LF_LINGER_IDLE without a
 * byte) before the connection is closed. */
#define LF_LINGER_TIME 5.0
#define LF_LINGER_IDLE 1.0
/* Before the record that cuts a response after flushed output: nginx
 * drops what it has read but not passed on when the error comes in the
 * same read. */
#define LF_CUT_PAUSE 0.02

static void request_watch(lf_request_t *r);
static char key_script_map; /* registry: SCRIPT_FILENAME -> resolved path */
static unsigned script_map_entries;
#define LF_SCRIPT_MAP_MAX 4096

const char *lf_request_param(const lf_request_t *r, const char *name)
{
    return lf_fcgi_conn_param(r->conn, name, strlen(name));
}

void lf_request_log_fill(const lf_request_t *r, lf_request_log_t *out)
{
    lf_request_log_fill_conn(r->conn, r->script, out);
    out->has_script = r->script != NULL;
    out->context = !r->is_timer ? NULL : r->phase && r->phase[0] == 'i' ? "init_worker" : "ngx.timer";
}

/* The deadline's way to name its request (timeout.c). */
static void request_describe(const lf_deadline_t *d, lf_log_who_t *who)
{
    const lf_request_t *r = (const lf_request_t *)((const char *)d - offsetof(lf_request_t, dl));
    lf_request_log_fill(r, who);
}

void lf_request_log_fill_conn(const lf_fcgi_conn_t *conn, const char *script,
                              lf_request_log_t *out)
{
    const char *method = lf_fcgi_conn_param(conn, "REQUEST_METHOD", 14);
    const char *uri = lf_fcgi_conn_param(conn, "REQUEST_URI", 11);
    if (script == NULL)
        script = "-";
    lf_log_escape(out->method, sizeof(out->method), method ? method : "-",
                  method ? strlen(method) : 1);
    lf_log_escape(out->uri, sizeof(out->uri), uri ? uri : "-", uri ? strlen(uri) : 1);
    lf_log_escape(out->script, sizeof(out->script), script, strlen(script));
    out->has_script = 0;
    out->context = NULL;
}

const char *lf_request_log_text(const lf_request_t *r, char *buf, size_t len)
{
    lf_request_log_t e;
    lf_request_log_fill(r, &e);
    return lf_log_who_text(&e, buf, len);
}

const char *lf_request_args(lf_request_t *r, size_t *len)
{
    if (r->args_ref != LUA_NOREF) {
        lua_State *L = r->vm->L;
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->args_ref);
        const char *a = lua_tolstring(L, -1, len); /* anchored by the registry */
        lua_pop(L, 1);
        return a;
    }
    const char *q = lf_request_param(r, "QUERY_STRING");
    if (q == NULL)
        q = "";
    *len = strlen(q);
    return q;
}

/* Output: the header block and body gather in r->out and leave as
 * FastCGI STDOUT records through writev(2) (fcgi_conn.c) -- one system
 * call for a small response, records included. */

#define LF_OUT_SEND_AT (64 * 1024)  /* buffered bytes that trigger a send */
/* Output queued for a web server that reads slowly, past which ngx.say
 * and ngx.print wait for it (the request parks): memory stays bounded
 * whatever the handler prints. */
#define LF_OUT_QUEUE_MAX (512 * 1024)

static int request_serialize_headers(lf_request_t *r, int streaming);

/* Send what r->out holds, then extra (not copied); with last, the end of
 * the stream and FCGI_END_REQUEST too. */
static int request_send(lf_request_t *r, const char *extra, size_t extralen, int last)
{
    if (r->write_failed)
        return -1;
    if (r->conn->fd < 0) {
        r->write_failed = 1;
        return -1;
    }
    lf_fcgi_out_t b;
    lf_fcgi_out_begin(&b, r->conn);
    lf_timeout_sending(&r->dl, last);
    if (!r->headers_written) {
        r->headers_written = 1;
        if (request_serialize_headers(r, r->flushed) != 0) {
            r->write_failed = 1;
            lf_log(LF_LOG_ERR, "out of memory serializing the response headers");
            return -1;
        }
        lf_fcgi_out_stdout(&b, r->hdr.data, r->hdr.len);
    }
    lf_fcgi_out_stdout(&b, r->out.data, r->out.len);
    lf_fcgi_out_stdout(&b, extra, extralen);
    if (last) {
        lf_fcgi_out_end_request(&b);
        r->end_sent = 1;
    }
    int failed = lf_fcgi_out_flush(&b);
    lf_buf_reset(&r->out);
    if (failed) {
        r->write_failed = 1;
        lf_log_errno(LF_LOG_INFO, failed, "writing the response to the web server failed");
        return -1;
    }
    /* What the socket did not take leaves when it is writable. */
    if (lf_fcgi_conn_pending(r->conn) && !(r->env.io->events & EPOLLOUT))
        request_watch(r);
    return 0;
}

/* The CGI-style header block (Status, headers, blank line) into r->hdr;
 * a streamed response asks nginx not to buffer it (nginx does not pass
 * X-Accel-Buffering on to the client). */
static int request_serialize_headers(lf_request_t *r, int streaming)
{
    int status = r->status ? r->status : 200;
    lf_buf_t *o = &r->hdr;
    int rc = 0;
    lf_buf_reset(o);
    if (status != 200) {
        const char *reason = lf_http_status_reason(status);
        rc |= reason ? lf_buf_appendf(o, "Status: %d %s\r\n", status, reason)
                     : lf_buf_appendf(o, "Status: %d\r\n", status);
    }
    /* 204 has no body, hence no type (nginx's header filter agrees). */
    int has_type = status == 204;
    lf_headers_t *h = &r->headers;
    for (size_t i = 0; i < h->n; i++) {
        if (lf_headers_name_eq(lf_header_name(h, i), h->v[i].name_len, "content-type", 12)) {
            if (status == 204)
                continue;
            has_type = 1;
        }
        rc |= lf_buf_append(o, lf_header_name(h, i), h->v[i].name_len);
        rc |= lf_buf_append(o, ": ", 2);
        rc |= lf_buf_append(o, lf_header_value(h, i), h->v[i].value_len);
        rc |= lf_buf_append(o, "\r\n", 2);
    }
    if (!has_type)
        rc |= lf_buf_append(o, "Content-Type: text/plain\r\n", 26);
    if (streaming)
        rc |= lf_buf_append(o, "X-Accel-Buffering: no\r\n", 23);
    rc |= lf_buf_append(o, "\r\n", 2);
    return rc ? -1 : 0;
}

int lf_request_write(lf_request_t *r, const char *p, size_t n)
{
    if (r->eof)
        return 0;
    /* The headers are frozen at the first output (later changes are
     * refused, as in OpenResty); they are serialized when bytes leave. */
    r->headers_sent = 1;
    if (r->write_failed)
        return -1;
    if (r->header_only || n == 0)
        return 0;
    if (r->out.len + n < LF_OUT_SEND_AT)
        return lf_buf_append(&r->out, p, n);
    return request_send(r, p, n, 0); /* large: straight from the caller's bytes */
}

int lf_request_flush(lf_request_t *r)
{
    if (r->eof)
        return 0;
    r->headers_sent = 1;
    r->flushed = 1;
    return request_send(r, NULL, 0, 0);
}

int lf_request_output_backlog(lf_request_t *r, lua_State *L)
{
    lf_fcgi_conn_t *c = r->conn;
    if (c->fd < 0 || c->wq.len - c->wq_pos <= LF_OUT_QUEUE_MAX)
        return 0;
    if (!r->sandboxed && lua_isyieldable(L))
        return LF_REQUEST_WAIT;
    /* A sandboxed request (no other request may run while its budgets
     * count), or one that cannot yield here, waits in place: bounded by
     * --send-timeout, cut short by its --request-timeout (SIGALRM). */
    int ms = (int)(r->conf->send_timeout * 1000);
    while (c->wq.len - c->wq_pos > LF_OUT_QUEUE_MAX) {
        struct pollfd p = {.fd = c->fd, .events = POLLOUT};
        int n = poll(&p, 1, ms);
        if (n < 0 && errno == EINTR && !lf_timeout_expired())
            continue;
        if (n <= 0 || lf_fcgi_conn_send_pending(c) < 0) {
            lf_log_errno(LF_LOG_INFO, n == 0 ? ETIMEDOUT : c->err ? c->err : errno,
                         "writing the response to the web server failed");
            r->write_failed = 1;
            lf_buf_reset(&c->wq);
            c->wq_pos = 0;
            return -1;
        }
    }
    return 0;
}

/* Our side of a connection the web server does not keep: shut once the
 * response has left, the params stay readable. */
static void request_shut(lf_request_t *r)
{
    lf_fcgi_conn_t *c = r->conn;
    if (r->shut || c->keep_conn || c->fd < 0 || lf_fcgi_conn_pending(c))
        return;
    r->shut = 1;
    if (shutdown(c->fd, SHUT_WR) != 0)
        lf_log_errno(LF_LOG_INFO, errno, "shutdown() of the web server connection failed");
}

/* ngx.eof's end of the response, once stdin has ended. */
static int request_eof_send(lf_request_t *r)
{
    if (request_send(r, NULL, 0, 1) != 0)
        return -1;
    /* Without FCGI_KEEP_CONN the web server waits for the close that
     * ends a response. */
    request_shut(r);
    return 0;
}

/* ngx.eof: the response is complete for the web server (and the client)
 * now, while the handler may go on working.  stdin is read to its end
 * first so that the connection stays in step for the next request: when
 * it has not all come, LF_REQUEST_WAIT (the handler yields until it has). */
int lf_request_eof(lf_request_t *r)
{
    if (r->eof)
        return 0;
    r->headers_sent = 1;
    r->eof = 1;
    lf_body_discard(r);
    lf_fcgi_conn_t *c = r->conn;
    if (c->fd >= 0 && !c->stdin_done && !c->err &&
        lf_fcgi_conn_drain_stdin(c, &r->body_dropped) == LF_FCGI_AGAIN && !r->sandboxed)
        return LF_REQUEST_WAIT;
    return request_eof_send(r);
}

void lf_request_error_page(lf_request_t *r, int status)
{
    char page[512];
    size_t n = lf_http_error_html(status, page, sizeof(page));
    r->status = status;
    lf_headers_remove(&r->headers, "content-type", 12);
    lf_headers_add(&r->headers, "Content-Type", 12, "text/html", 9);
    /* 204 and 304 have no body; nginx would drop one anyway. */
    if (status == 204 || status == 304)
        n = 0;
    lf_request_write(r, page, n);
}

/* Where the request's script lives: cached per SCRIPT_FILENAME while the
 * code cache is on, so a hit costs no system call.  0 or an HTTP status. */
static int request_script(lf_request_t *r, const lf_root_t *root, const char *param, int use_map,
                          char *path, size_t pathlen)
{
    lua_State *L = r->vm->L;
    if (use_map && param) {
        lua_pushlightuserdata(L, &key_script_map);
        lua_rawget(L, LUA_REGISTRYINDEX);            /* sp: map? */
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, param);              /* sp: map, resolved? */
            size_t len;
            const char *p = lua_tolstring(L, -1, &len);
            if (p && len < pathlen) {
                memcpy(path, p, len + 1);
                lua_pop(L, 2);
                return 0;
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    char why[PATH_MAX + 256];
    int status = lf_script_resolve(root, param, path, pathlen, why, sizeof(why));
    if (status != 0) {
        char esc[1024];
        lf_log_escape(esc, sizeof(esc), param ? param : "", param ? strlen(param) : 0);
        lf_log(LF_LOG_ERR, "script \"%s\" refused with %d: %s", esc,
               status, why);
        return status;
    }
    if (use_map) {
        lua_pushlightuserdata(L, &key_script_map);
        lua_rawget(L, LUA_REGISTRYINDEX);            /* sp: map? */
        /* The key comes from the web server and may carry client data
         * (Apache's ProxyPassMatch puts the path info in it): start over
         * past a bound rather than grow without one. */
        if (!lua_istable(L, -1) || script_map_entries >= LF_SCRIPT_MAP_MAX) {
            script_map_entries = 0;
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushlightuserdata(L, &key_script_map);
            lua_pushvalue(L, -2);
            lua_rawset(L, LUA_REGISTRYINDEX);        /* sp: map */
        }
        lua_pushstring(L, path);
        lua_setfield(L, -2, param);
        lua_pop(L, 1);
        script_map_entries++;
    }
    return 0;
}

/* __tostring of the error object at 1 (a protected call's body). */
static int request_error_meta(lua_State *L)
{
    return luaL_callmeta(L, 1, "__tostring") && lua_isstring(L, -1) ? 1 : 0;
}

/* The error object at the top of co made a string in its place: a
 * trusted script's __tostring runs in a protected call (it may fail or
 * be stopped by the timeout that is still armed), a sandboxed script's
 * never (it would run outside every budget). */
static void request_error_text(lf_request_t *r, lua_State *L, lua_State *co)
{
    if (lua_type(co, -1) == LUA_TSTRING || lua_type(co, -1) == LUA_TNUMBER)
        return;
    if (!r->sandboxed) {
        int top = lua_gettop(L);
        lua_pushcfunction(L, request_error_meta);
        lua_pushvalue(co, -1);
        lua_xmove(co, L, 1);
        if (lua_pcall(L, 1, 1, 0) == 0 && lua_isstring(L, -1)) {
            lua_xmove(L, co, 1);
            lua_replace(co, -2);
            lua_settop(L, top);
            return;
        }
        lua_settop(L, top);
    }
    lua_pushfstring(co, "(error object is a %s value)", luaL_typename(co, -1));
    lua_replace(co, -2);
}

/* Log an uncaught error (made a string by request_error_text) with the
 * coroutine's traceback; 500 when possible. */
static void request_failed(lf_request_t *r, lua_State *L, lua_State *co)
{
    r->handler_failed = 1;
    const char *msg = lua_tostring(co, -1);
    luaL_traceback(L, co, msg ? msg : "?", 0);       /* sp++ */
    char where[LF_REQUEST_LOG_TEXT];
    lf_log(LF_LOG_ERR, "lua entry thread aborted: runtime error: %s, %s", lua_tostring(L, -1),
           lf_request_log_text(r, where, sizeof(where)));
    lua_pop(L, 1);
    if (!r->headers_sent)
        lf_request_error_page(r, 500);
    else if (!r->eof)
        r->aborted = 1;
}

/* ngx.exit's effect once the handler's coroutine is gone. */
static void request_exit(lf_request_t *r)
{
    int code = r->exit_code;
    if (r->eof)
        return; /* the response is already complete */
    if (code == -1 || code == 444 || code == 499 || code == 408) {
        r->aborted = 1; /* ngx.ERROR and friends close the connection */
        return;
    }
    if (r->headers_sent || code == 0)
        return;
    if (code >= 300) {
        lf_request_error_page(r, code);
        return;
    }
    if (code >= 200 && r->status == 0)
        r->status = code;
}

/* The request ends before its handler did: status when nothing has left
 * the worker yet (what it buffered is dropped), else the response is cut. */
static void request_end_early(lf_request_t *r, int status)
{
    if (r->eof)
        return;
    if (!r->headers_written) {
        lf_buf_reset(&r->out);
        lf_request_error_page(r, status);
    } else {
        r->aborted = 1;
    }
}

/* The handler was stopped (the message and traceback at the top of L,
 * popped): log where it was; status when nothing has left the worker yet
 * (what it buffered is dropped), else the response is cut. */
static void request_stopped(lf_request_t *r, lua_State *L, int status)
{
    r->handler_failed = 1;
    char where[LF_REQUEST_LOG_TEXT];
    lf_log(LF_LOG_ERR, "lua entry thread aborted: %s, %s", lua_tostring(L, -1),
           lf_request_log_text(r, where, sizeof(where)));
    lua_pop(L, 1);
    request_end_early(r, status);
}

/* The handler ran past --request-timeout: 504. */
static void request_timed_out(lf_request_t *r, lua_State *L, lua_State *co)
{
    if (r->dl.timeout_ref != LUA_NOREF)
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->dl.timeout_ref); /* sp++: from the hook */
    else
        luaL_traceback(L, co, lf_timeout_message(), 0);    /* sp++ */
    request_stopped(r, L, 504);
}

/* A sandboxed script spent a budget: 500. */
static void request_over_budget(lf_request_t *r, lua_State *L, lua_State *co,
                                lf_sandbox_over_t over)
{
    char what[512];
    luaL_traceback(L, co, lf_sandbox_describe(over, what, sizeof(what)), 0); /* sp++ */
    request_stopped(r, L, 500);
}

/* ---- The request's life in the loop ---- */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What a parked coroutine is resumed with (the yielding API call's
 * results). */
enum {
    RESUME_NOTHING = 0,
    RESUME_ONE,         /* 1 */
    RESUME_NIL_ERR,     /* nil, resume_msg */
    RESUME_FALSE_ERR,   /* false, resume_msg (read_body's Lua half raises it) */
};

static void request_handler_over(lf_request_t *r, int rc, lf_sandbox_over_t over, int timed_out,
                                 int failed);
static void request_finish(lf_request_t *r);
static void request_complete(lf_request_t *r);
static void request_finish_send(lf_request_t *r);

/* The events the request needs from its connection now: its output
 * queue, stdin while it waits for it.  Nothing else is read while a
 * request runs (a pipelined next request waits in the socket). */
static void request_watch(lf_request_t *r)
{
    lf_fcgi_conn_t *c = r->conn;
    if (c->fd < 0)
        return;
    uint32_t ev = 0;
    if (lf_fcgi_conn_pending(c))
        ev |= EPOLLOUT;
    if (r->wait == LF_WAIT_BODY || r->wait == LF_WAIT_PREFETCH || r->wait == LF_WAIT_EOF ||
        r->wait == LF_WAIT_DRAIN)
        ev |= EPOLLIN;
    /* --check-client-abort: nginx closes the connection when the client
     * goes away (it never sends FCGI_ABORT_REQUEST). */
    if (r->conf->check_client_abort && !r->handler_done && !r->client_gone && !r->is_timer)
        ev |= EPOLLRDHUP;
    /* What the worker watched stays until an event comes that nobody
     * wants: a request that parks and ends costs no epoll_ctl (the worker
     * wants the same again next). */
    if (!r->io_strict)
        ev |= r->env.io->events & (EPOLLIN | EPOLLRDHUP);
    if (lf_io_watch(r->env.loop, r->env.io, ev) != 0) {
        lf_log_errno(LF_LOG_ERR, errno, "epoll_ctl() of a FastCGI connection failed");
        c->err = errno ? errno : EIO;
    }
}

/* ---- light threads ---- */

static lf_uthread_t *free_threads;
static char key_threads; /* registry: a light thread's coroutine -> its lf_uthread_t */

static void thread_timer_fired(lf_loop_t *loop, void *data);

/* A new light thread of r for the coroutine at the top of L (popped):
 * anchored, findable from its coroutine.  Raises out of memory. */
static lf_uthread_t *thread_new(lf_request_t *r, lua_State *L)
{
    lf_uthread_t *ut = free_threads;
    if (ut)
        free_threads = ut->next;
    else if ((ut = calloc(1, sizeof(*ut))) == NULL)
        luaL_error(L, "out of memory for a light thread");
    memset(ut, 0, sizeof(*ut));
    ut->r = r;
    ut->co = lua_tothread(L, -1);
    lf_timer_init(&ut->timer, thread_timer_fired, ut);
    ut->next = r->threads;
    r->threads = ut;
    r->alive++;
    ut->co_ref = LUA_NOREF;
    lua_pushlightuserdata(L, &key_threads);
    lua_rawget(L, LUA_REGISTRYINDEX);                /* sp: co, map? */
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushlightuserdata(L, &key_threads);
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);            /* sp: co, map */
    }
    lua_pushvalue(L, -2);
    lua_pushlightuserdata(L, ut);
    lua_rawset(L, -3);                               /* map[co] = ut */
    lua_pop(L, 1);                                   /* sp: co */
    ut->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);     /* sp: */
    return ut;
}

lf_uthread_t *lf_request_thread_of(lf_request_t *r, lua_State *L, lua_State *co)
{
    lua_pushlightuserdata(L, &key_threads);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lf_uthread_t *ut = NULL;
    if (lua_istable(L, -1)) {
        lua_pushthread(co);
        lua_xmove(co, L, 1);
        lua_rawget(L, -2);
        ut = lua_touserdata(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* A thread of another request (kept in a module) is not ours. */
    return ut && ut->r == r ? ut : NULL;
}

/* Done with a thread: no timer, no wait, no anchor of its own.  It stays
 * findable from its coroutine until the request ends (a dead thread is
 * "already waited or killed", not "not user thread"). */
static void thread_bury(lf_uthread_t *ut)
{
    lf_request_t *r = ut->r;
    if (ut->on_bury) {
        void (*f)(lf_uthread_t *, void *) = ut->on_bury;
        ut->on_bury = NULL;
        f(ut, ut->bury_data);
    }
    lf_timer_stop(r->env.loop, &ut->timer);
    if (r->io_waiter == ut) {
        r->io_waiter = NULL;
        r->wait = LF_WAIT_NONE;
        lf_timer_stop(r->env.loop, &r->timer);
    }
    if (ut->state != LF_UT_ZOMBIE && ut->state != LF_UT_DEAD)
        r->alive--;
    if (ut->co_ref != LUA_NOREF && r->vm)
        luaL_unref(r->vm->L, LUA_REGISTRYINDEX, ut->co_ref);
    ut->co_ref = LUA_NOREF;
    ut->waiter = NULL;
    ut->state = LF_UT_DEAD;
}

/* The thread out of the coroutine -> thread map (setting an existing key
 * to nil allocates nothing), at the request's end. */
static void thread_unmap(lf_uthread_t *ut)
{
    lf_request_t *r = ut->r;
    if (ut->co && r->vm) {
        lua_State *L = r->vm->L;
        lua_pushlightuserdata(L, &key_threads);
        lua_rawget(L, LUA_REGISTRYINDEX);
        if (lua_istable(L, -1)) {
            lua_pushthread(ut->co);
            lua_xmove(ut->co, L, 1);
            lua_pushnil(L);
            lua_rawset(L, -3);
        }
        lua_pop(L, 1);
    }
    ut->co = NULL;
}

void lf_request_thread_kill(lf_uthread_t *ut)
{
    thread_bury(ut);
}

/* Every thread of the request, gone (the handler is over). */
static void threads_free(lf_request_t *r)
{
    while (r->threads) {
        lf_uthread_t *ut = r->threads;
        r->threads = ut->next;
        thread_bury(ut);
        thread_unmap(ut);
        ut->next = free_threads;
        free_threads = ut;
    }
    r->alive = 0;
    r->cur = r->io_waiter = r->wake = NULL;
}

int lf_request_thread_results(lf_uthread_t *ut, lua_State *L)
{
    lua_State *co = ut->co;
    int n = lua_gettop(co);
    lua_pushboolean(L, !ut->failed);
    lua_xmove(co, L, n);
    thread_bury(ut);
    return n + 1;
}

/* Some thread still waiting, for the parked request's traceback. */
static lua_State *request_any_co(lf_request_t *r)
{
    for (lf_uthread_t *ut = r->threads; ut; ut = ut->next)
        if (ut->state == LF_UT_PARKED)
            return ut->co;
    return NULL;
}

static void request_timer_start(lf_request_t *r, double seconds)
{
    lf_loop_update_time(r->env.loop);
    if (lf_timer_start(r->env.loop, &r->timer, seconds) != 0)
        lf_log(LF_LOG_ERR, "out of memory for a timer: the request waits without one");
}

/* The next --request-timeout / --slowlog-timeout deadline, while parked. */
static void request_arm_deadline(lf_request_t *r)
{
    double at = lf_timeout_next(&r->dl);
    if (at <= 0)
        return;
    double left = at - mono_now();
    lf_loop_update_time(r->env.loop);
    if (lf_timer_start(r->env.loop, &r->deadline, left > 0 ? left : 0) != 0)
        lf_log(LF_LOG_ERR, "out of memory for a timer: no --request-timeout while the request waits");
}

/* The handler is over (or given up): nothing of it stays. */
static void request_handler_end(lf_request_t *r)
{
    if (r->wait == LF_WAIT_BODY || r->wait == LF_WAIT_FLUSH || r->wait == LF_WAIT_EOF ||
        r->wait == LF_WAIT_PREFETCH) {
        lf_timer_stop(r->env.loop, &r->timer);
        r->wait = LF_WAIT_NONE;
    }
    lf_timer_stop(r->env.loop, &r->deadline);
    /* Its cosockets go before the threads that could wait on them. */
    if (lf_request_on_end && r->sockets)
        lf_request_on_end(r);
    threads_free(r);
    r->handler_done = 1;
    r->co = NULL;
}

/* Does the yield just seen park the thread (the loop resumes it), or is
 * the request over? */
static int request_parks(const lf_request_t *r)
{
    switch (r->yield) {
    case LF_YIELD_NONE:
    case LF_YIELD_SLEEP:
    case LF_YIELD_BODY:
    case LF_YIELD_FLUSH:
    case LF_YIELD_EOF:
    case LF_YIELD_THREAD:
    case LF_YIELD_SOCKET:
        return 1;
    default:
        return 0;
    }
}

/* The thread yielded to wait: say for what, then the loop takes over. */
static void thread_park(lf_request_t *r, lf_uthread_t *ut)
{
    const lf_conf_t *conf = r->conf;
    lua_settop(ut->co, 0);
    ut->state = LF_UT_PARKED;
    ut->wait = LF_WAIT_CONN;
    switch (r->yield) {
    case LF_YIELD_SLEEP:
    case LF_YIELD_NONE:
        /* A bare coroutine.yield() that reached the thread's own
         * coroutine is ngx.sleep(0): the others ready go first (timers
         * due together fire in the order they were started). */
        ut->wait = LF_WAIT_SLEEP;
        lf_loop_update_time(r->env.loop);
        if (lf_timer_start(r->env.loop, &ut->timer, r->yield == LF_YIELD_SLEEP ? r->sleep_seconds : 0) != 0)
            lf_log(LF_LOG_ERR, "out of memory for a timer: ngx.sleep cannot end");
        break;
    case LF_YIELD_BODY:
        r->wait = LF_WAIT_BODY;
        request_timer_start(r, conf->read_timeout);
        break;
    case LF_YIELD_FLUSH:
        r->wait = LF_WAIT_FLUSH;
        request_timer_start(r, conf->send_timeout);
        break;
    case LF_YIELD_EOF:
        r->wait = LF_WAIT_EOF;
        request_timer_start(r, conf->read_timeout);
        break;
    case LF_YIELD_SOCKET: /* the cosocket names it as its waiter */
        ut->wait = LF_WAIT_SOCKET;
        break;
    default: /* LF_YIELD_THREAD: the waited threads name it as their waiter */
        ut->wait = LF_WAIT_THREAD;
        break;
    }
    if (ut->wait == LF_WAIT_CONN)
        r->io_waiter = ut;
    r->yield = LF_YIELD_NONE;
}

/* A user thread is done (its results, or its error, on its coroutine):
 * the thread waiting for it goes next, with them. */
static lf_uthread_t *thread_done(lf_request_t *r, lf_uthread_t *ut, int failed)
{
    r->alive--;
    ut->state = LF_UT_ZOMBIE;
    ut->failed = failed != 0;
    lf_uthread_t *w = ut->waiter;
    if (w == NULL)
        return NULL;
    for (lf_uthread_t *o = r->threads; o; o = o->next)
        if (o->waiter == w)
            o->waiter = NULL;
    lua_settop(w->co, 0);
    lf_request_thread_results(ut, w->co);
    w->state = LF_UT_RUNNING;
    w->wait = LF_WAIT_NONE;
    return w;
}

/* A user thread failed: logged as OpenResty does, its error (the value
 * as it was raised) kept for ngx.thread.wait.  The request goes on. */
static void thread_failed(lf_request_t *r, lua_State *L, lf_uthread_t *ut)
{
    lua_State *co = ut->co;
    lua_insert(co, 1);
    lua_settop(co, 1);                               /* co: the error */
    lua_pushvalue(co, 1);
    request_error_text(r, L, co);                    /* co: the error, its text */
    const char *msg = lua_tostring(co, -1);
    luaL_traceback(L, co, msg ? msg : "?", 0);       /* sp++ */
    char where[LF_REQUEST_LOG_TEXT];
    lf_log(LF_LOG_ERR, "lua user thread aborted: runtime error: %s, %s", lua_tostring(L, -1),
           lf_request_log_text(r, where, sizeof(where)));
    lua_pop(L, 1);
    lua_settop(co, 1);
}

/* Resume thread ut (nargs values on its coroutine), and whatever its
 * outcome wakes, until each parks or the request is over.  Inside a
 * protected call, on L. */
static void request_run(lf_request_t *r, lf_uthread_t *ut, int nargs)
{
    lua_State *L = r->vm->L;
    lf_timer_stop(r->env.loop, &r->deadline);
    lf_clock_update();
    while (ut != NULL && !r->handler_done) {
        lua_State *co = ut->co;
        int rc = LUA_YIELD, timed_out = 0, failed = 0, parks = 0;
        lf_sandbox_over_t over = LF_SANDBOX_WITHIN;
        r->cur = ut;
        r->co = co;
        ut->state = LF_UT_RUNNING;
        ut->wait = LF_WAIT_NONE;
        for (;;) {
            r->yield = LF_YIELD_NONE;
            if (lf_timeout_enter(&r->dl) != 0) {
                timed_out = 1; /* passed while it was parked */
                break;
            }
            rc = lua_resume(co, nargs);
            nargs = 0;
            if (rc == LUA_YIELD && r->sandboxed && lf_sandbox_stopping())
                r->yield = LF_YIELD_SANDBOX;
            else if (rc == LUA_YIELD && lf_timeout_expired())
                r->yield = LF_YIELD_TIMEOUT; /* the hook's yield */
            parks = rc == LUA_YIELD && request_parks(r);
            if (!parks && r->sandboxed)
                over = lf_sandbox_end();
            /* An error, raised or through abort (its value in the registry). */
            int aborted = rc == LUA_YIELD && r->yield == LF_YIELD_ABORT;
            failed = !parks && over == LF_SANDBOX_WITHIN && ((rc != 0 && rc != LUA_YIELD) || aborted);
            if (failed && aborted) {
                lua_settop(co, 0);
                lua_rawgeti(co, LUA_REGISTRYINDEX, r->abort_ref);
            }
            /* Made a string before the timeout is disarmed; a user
             * thread's error stays as it is for ngx.thread.wait. */
            if (failed && !lf_timeout_expired()) {
                if (ut->parent == NULL || r->yield == LF_YIELD_ABORT)
                    request_error_text(r, L, co);
                else
                    thread_failed(r, L, ut);
            }
            timed_out = lf_timeout_leave(&r->dl, !parks && ut->parent == NULL && r->alive <= 1);
            if (parks && !timed_out && r->sandboxed) {
                /* Nothing a sandboxed script can call waits; a bare yield
                 * goes on at once, so that no other request runs in the
                 * VM while its budgets count. */
                lua_settop(co, 0);
                continue;
            }
            break;
        }
        r->cur = NULL;
        lf_uthread_t *next = NULL;
        if (parks && !timed_out) {
            thread_park(r, ut);
        } else if (ut->parent != NULL && !timed_out && rc == 0) {
            next = thread_done(r, ut, 0);
        } else if (ut->parent != NULL && !timed_out && failed && r->yield != LF_YIELD_ABORT) {
            next = thread_done(r, ut, 1);
        } else if (ut->parent == NULL && rc == 0 && over == LF_SANDBOX_WITHIN && !timed_out) {
            /* The entry thread returned; its light threads go on. */
            thread_bury(ut);
        } else {
            /* ngx.exit, an error of the entry thread, a timeout, a spent
             * budget: the request is over, every thread with it. */
            request_handler_over(r, rc, over, timed_out, failed);
            request_handler_end(r);
            return;
        }
        ut = next;
        nargs = next ? lua_gettop(next->co) : 0; /* what it waited for */
    }
    if (r->handler_done)
        return;
    if (r->alive == 0) {
        request_handler_end(r); /* every thread is done */
        return;
    }
    r->co = request_any_co(r);
    request_arm_deadline(r);
    request_watch(r);
}

int lf_request_thread_spawn(lf_request_t *r, lua_State *L)
{
    int n = lua_gettop(L);                           /* L: f, args */
    lua_State *co = lua_newthread(L);                /* L: f, args, co */
    lua_pushvalue(L, -1);                            /* L: f, args, co, co */
    lf_uthread_t *ut = thread_new(r, L);             /* L: f, args, co */
    ut->parent = L;
    lua_insert(L, 1);                                /* L: co, f, args */
    lua_xmove(L, co, n);                             /* L: co; co: f, args */
    /* It runs now, until it waits or ends; then its parent goes on. */
    lf_uthread_t *parent = r->cur;
    lua_State *parent_co = r->co;
    r->cur = ut;
    r->co = co;
    r->yield = LF_YIELD_NONE;
    ut->state = LF_UT_RUNNING;
    int rc = lua_resume(co, n - 1);
    if (rc == LUA_YIELD && lf_timeout_expired())
        r->yield = LF_YIELD_TIMEOUT; /* the hook's yield */
    r->cur = parent;
    r->co = parent_co;
    if (rc == LUA_YIELD && request_parks(r)) {
        thread_park(r, ut);
        return 0;
    }
    if (rc == 0) {
        thread_done(r, ut, 0); /* nobody waits for it yet */
        return 0;
    }
    if (rc != LUA_YIELD) {
        if (!lf_timeout_expired()) {
            thread_failed(r, L, ut);
            thread_done(r, ut, 1);
            return 0;
        }
        r->yield = LF_YIELD_TIMEOUT;
    }
    /* ngx.exit, abort or the timeout inside it: the whole request ends,
     * through the parent's own yield.  The thread is gone with the rest. */
    if (r->yield == LF_YIELD_ABORT) {
        lua_settop(co, 0);
    }
    return 1;
}

/* The handler is over (returned, failed, stopped): its response.  co is
 * the thread that ended it. */
static void request_handler_over(lf_request_t *r, int rc, lf_sandbox_over_t over, int timed_out,
                                 int failed)
{
    lua_State *L = r->vm->L, *co = r->co;
    if (over != LF_SANDBOX_WITHIN) {
        /* Whatever the script did after, the spent budget ended it. */
        request_over_budget(r, L, co, over);
    } else if (rc == 0) {
        /* returned */
    } else if (rc == LUA_YIELD && r->yield == LF_YIELD_EXIT) {
        request_exit(r);
    } else if (timed_out) {
        /* Whatever stopped it after the deadline (the hook's yield or
         * error) is the timeout. */
        request_timed_out(r, L, co);
    } else if (failed) {
        request_failed(r, L, co);
    }
}

/* The protected part raised an error of its own (out of memory, most
 * likely): undo what it had set up, log it, 500 or a cut response. */
static void request_internal_error(lf_request_t *r, lua_State *L)
{
    if (r->sandboxed && !r->handler_done)
        lf_sandbox_end();
    lf_timeout_leave(&r->dl, 1);
    char where[LF_REQUEST_LOG_TEXT];
    lf_log(LF_LOG_ERR, "request failed inside luafpm: %s, %s",
           lua_isstring(L, -1) ? lua_tostring(L, -1) : "(no message)",
           lf_request_log_text(r, where, sizeof(where)));
    lua_pop(L, 1);
    request_handler_end(r);
    request_end_early(r, 500);
}

/* Run fn(r) protected with r as the current request: everything of a
 * request that touches Lua goes through here, so an error anywhere is
 * the request's (request_internal_error), never the worker's. */
static void request_protected(lf_request_t *r, int (*fn)(lua_State *L, void *ud))
{
    lua_State *L = r->vm->L;
    lf_request_current = r;
    if (lf_vm_protect(L, fn, r) != 0)
        request_internal_error(r, L);
    lf_request_current = NULL;
}

/* Make the handler's coroutine and run it: factory -> fresh closure ->
 * fresh env.  The handler is over (handler_done) when this cannot. */
static int request_launch(lua_State *L, void *ud)
{
    lf_request_t *r = ud;
    int base = lua_gettop(L);
    if (lf_vm_push_factory(r->vm, r->script, r->sandboxed) != 0) { /* sp: factory | error */
        lf_log(LF_LOG_ERR, "failed to load Lua script %s: %s", r->script, lua_tostring(L, -1));
        lf_request_error_page(r, 500);
        lua_settop(L, base);
        request_handler_end(r);
        return 0;
    }
    /* A sandboxed request's budgets count from here: its coroutine,
     * closure and globals are its own memory. */
    if (r->sandboxed)
        lf_sandbox_begin(r->vm, r->conf);
    lua_State *co = lua_newthread(L);                /* sp: factory, co */
    /* The factory only makes a closure (the text was proved a chunk of
     * its own), called protected all the same. */
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 0, 1, 0) != 0 || !lua_isfunction(L, -1)) { /* sp: factory, co, handler */
        if (r->sandboxed)
            lf_sandbox_end();
        lf_log(LF_LOG_ERR, "failed to load Lua script %s: %s", r->script,
               lua_isstring(L, -1) ? lua_tostring(L, -1) : "the factory returned no function");
        lf_request_error_page(r, 500);
        lua_settop(L, base);
        request_handler_end(r);
        return 0;
    }
    lua_xmove(L, co, 1);                             /* co: handler */
    if (r->sandboxed)
        lf_sandbox_push_env(co);                     /* co: handler, env */
    else
        lf_vm_push_request_env(co);
    lua_setfenv(co, -2);                             /* co: handler */
    lf_uthread_t *ut = thread_new(r, L);             /* sp: factory */
    lua_settop(L, base);
    request_run(r, ut, 0);
    return 0;
}

/* A timer's callback in its coroutine: f(premature, args...) with a fresh
 * globals table for the coroutine (the callback's own function keeps the
 * globals of the request that made it). */
static int request_launch_timer(lua_State *L, void *ud)
{
    lf_request_t *r = ud;
    int base = lua_gettop(L);
    lua_State *co = lua_newthread(L);                /* sp: co */
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->timer_ref); /* sp: co, {f, args..., n} */
    lua_getfield(L, -1, "n");
    int n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    luaL_checkstack(co, n + 2, "too many timer arguments");
    lua_rawgeti(L, -1, 1);
    lua_xmove(L, co, 1);                             /* co: f */
    lua_pushboolean(co, r->timer_premature);
    for (int i = 2; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_xmove(L, co, 1);                         /* co: f, premature, args */
    }
    lua_pop(L, 1);                                   /* sp: co */
    lf_vm_push_request_env(L);
    lua_setfenv(L, -2);                              /* the coroutine's globals */
    if (r->timer_premature < 0) {
        lua_remove(co, 2); /* init_worker: no premature argument */
        n--;
    }
    lf_uthread_t *ut = thread_new(r, L);             /* sp: */
    lua_settop(L, base);
    request_run(r, ut, n);
    return 0;
}

/* Resume r->wake with what it waited for. */
static int request_resume(lua_State *L, void *ud)
{
    lf_request_t *r = ud;
    (void)L;
    lf_uthread_t *ut = r->wake;
    r->wake = NULL;
    lua_State *co = ut->co;
    int nargs = 0;
    switch (r->resume_kind) {
    case RESUME_ONE:
        lua_pushinteger(co, 1);
        nargs = 1;
        break;
    case RESUME_NIL_ERR:
        lua_pushnil(co);
        lua_pushstring(co, r->resume_msg);
        nargs = 2;
        break;
    case RESUME_FALSE_ERR:
        lua_pushboolean(co, 0);
        lua_pushstring(co, r->resume_msg);
        nargs = 2;
        break;
    default:
        break;
    }
    r->resume_kind = RESUME_NOTHING;
    request_run(r, ut, nargs);
    return 0;
}

/* Wake a parked thread; then, if the handler is over, the rest of the
 * request. */
static void thread_wake(lf_uthread_t *ut, int kind)
{
    lf_request_t *r = ut->r;
    lf_timer_stop(r->env.loop, &ut->timer);
    r->wake = ut;
    r->resume_kind = kind;
    request_protected(r, request_resume);
    if (r->handler_done)
        request_finish(r);
}

void lf_request_thread_wake(lf_uthread_t *ut)
{
    if (ut == NULL || ut->state != LF_UT_PARKED || ut->wait != LF_WAIT_SOCKET)
        return;
    lf_log_set_request(ut->r->number);
    thread_wake(ut, RESUME_NOTHING);
    lf_log_set_request(0);
}

/* The thread in the connection's wait (BODY, FLUSH, EOF): wake it. */
static void request_wake(lf_request_t *r, int kind)
{
    lf_uthread_t *ut = r->io_waiter;
    lf_timer_stop(r->env.loop, &r->timer);
    r->io_waiter = NULL;
    r->wait = LF_WAIT_NONE;
    if (ut == NULL || ut->state != LF_UT_PARKED)
        return;
    thread_wake(ut, kind);
}

static void thread_timer_fired(lf_loop_t *loop, void *data)
{
    lf_uthread_t *ut = data;
    (void)loop;
    if (ut->state != LF_UT_PARKED || ut->wait != LF_WAIT_SLEEP)
        return;
    lf_log_set_request(ut->r->number);
    thread_wake(ut, RESUME_NOTHING);
    lf_log_set_request(0);
}

/* The timeout passed while the handler was parked: 504, as if the hook
 * had stopped it. */
static int request_parked_timeout(lua_State *L, void *ud)
{
    lf_request_t *r = ud;
    luaL_traceback(L, r->co, lf_timeout_message(), 0); /* sp++ */
    request_stopped(r, L, 504);
    request_handler_end(r);
    return 0;
}

static void request_deadline_fired(lf_loop_t *loop, void *data)
{
    lf_request_t *r = data;
    (void)loop;
    if (r->handler_done || r->co == NULL)
        return;
    lf_log_set_request(r->number);
    lf_request_current = r;
    int expired = lf_timeout_due(&r->dl); /* a slowlog entry, or the timeout */
    lf_request_current = NULL;
    if (expired) {
        request_protected(r, request_parked_timeout);
        request_finish(r);
    } else {
        request_arm_deadline(r);
    }
    lf_log_set_request(0);
}

/* ---- stdin while the request is in flight ---- */

/* The handler waits in read_body: read what came. */
static void request_body_ready(lf_request_t *r)
{
    char err[sizeof(r->resume_msg) - 40];
    int rc = lf_body_read(r, err, sizeof(err));
    if (rc == LF_BODY_AGAIN) {
        request_timer_start(r, r->conf->read_timeout); /* from the last bytes */
        request_watch(r);
        return;
    }
    if (rc == LF_BODY_TOO_LARGE) {
        /* As ngx.exit(413) would. */
        lf_timer_stop(r->env.loop, &r->timer);
        r->exit_code = 413;
        request_exit(r);
        request_handler_end(r);
        request_finish(r);
        return;
    }
    if (rc != 0)
        snprintf(r->resume_msg, sizeof(r->resume_msg), "failed to read the request body: %s", err);
    request_wake(r, rc == 0 ? RESUME_NOTHING : RESUME_FALSE_ERR);
}

/* ngx.eof waits for stdin's end. */
static void request_eof_ready(lf_request_t *r)
{
    int rc = lf_fcgi_conn_drain_stdin(r->conn, &r->body_dropped);
    if (rc == LF_FCGI_AGAIN) {
        request_timer_start(r, r->conf->read_timeout);
        request_watch(r);
        return;
    }
    if (rc != 0)
        r->lost = 1;
    int sent = request_eof_send(r);
    snprintf(r->resume_msg, sizeof(r->resume_msg), "output error: the connection to the web server failed");
    request_wake(r, sent == 0 ? RESUME_ONE : RESUME_NIL_ERR);
}

static void request_launch_now(lf_request_t *r)
{
    request_protected(r, request_launch);
    if (r->handler_done)
        request_finish(r);
}

/* A sandboxed request's body is read before its handler runs (nothing a
 * sandboxed script calls may wait: its budgets count while it runs). */
static void request_prefetch_ready(lf_request_t *r)
{
    char err[512];
    int rc = lf_body_read(r, err, sizeof(err));
    if (rc == LF_BODY_AGAIN) {
        r->wait = LF_WAIT_PREFETCH;
        request_timer_start(r, r->conf->read_timeout);
        request_watch(r);
        return;
    }
    lf_timer_stop(r->env.loop, &r->timer);
    r->wait = LF_WAIT_NONE;
    if (rc == 0) {
        r->body_hidden = 1; /* as if unread until the handler reads it */
        request_launch_now(r);
        return;
    }
    if (rc != LF_BODY_TOO_LARGE) {
        char where[LF_REQUEST_LOG_TEXT];
        lf_log(LF_LOG_ERR, "failed to read the request body: %s, %s", err,
               lf_request_log_text(r, where, sizeof(where)));
        r->lost = 1;
    }
    request_handler_end(r);
    lf_request_error_page(r, rc == LF_BODY_TOO_LARGE ? 413 : 500);
    request_finish(r);
}

/* The handler is done: the rest of stdin, read away. */
static void request_drain_ready(lf_request_t *r)
{
    lf_fcgi_conn_t *c = r->conn;
    int rc = lf_fcgi_conn_drain_stdin(c, &r->body_dropped);
    int lingering = r->body_refused;
    if (rc == LF_FCGI_AGAIN && !(lingering && mono_now() > r->linger_until)) {
        request_timer_start(r, lingering ? LF_LINGER_IDLE : r->conf->read_timeout);
        request_watch(r);
        return;
    }
    lf_timer_stop(r->env.loop, &r->timer);
    if (rc != 0)
        r->lost = 1;
    if (lingering)
        lf_log(LF_LOG_INFO, "refused request body: %llu more bytes dropped%s", r->body_dropped,
               rc == 0 ? "" : ", connection closed before its end");
    r->wait = LF_WAIT_NONE;
    request_finish_send(r);
}

/* ---- the end of a request ---- */

/* The response is cut (see request_send's callers): a record header of
 * an unknown protocol version goes last, so nginx logs an upstream error
 * and closes the client connection without the final chunk, as OpenResty
 * does.  A plain close is not enough (nginx ends the response as if
 * FCGI_END_REQUEST had come). */
static void request_cut(lf_request_t *r)
{
    static const char bad_record[8] = {0};
    lf_fcgi_conn_t *c = r->conn;
    if (c->fd >= 0 && !lf_fcgi_conn_pending(c)) {
        ssize_t n = write(c->fd, bad_record, sizeof(bad_record));
        (void)n; /* the connection is closed next either way */
    }
    r->lost = 1;
    request_complete(r);
}

/* The handler is over: read the rest of stdin (the connection must be in
 * step for the next request), then send the end. */
static void request_finish(lf_request_t *r)
{
    lf_fcgi_conn_t *c = r->conn;
    if (r->aborted) {
        if (r->flushed && c->fd >= 0) {
            r->wait = LF_WAIT_CUT;
            lf_io_watch(r->env.loop, r->env.io, 0);
            request_timer_start(r, LF_CUT_PAUSE);
            return;
        }
        request_cut(r);
        return;
    }
    if (c->fd >= 0 && !c->stdin_done && !c->err) {
        int rc = lf_fcgi_conn_drain_stdin(c, &r->body_dropped);
        if (rc == LF_FCGI_AGAIN) {
            /* A refused body's 413 goes out now and its end
             * (FCGI_END_REQUEST) after the rest of the body was read
             * away, bounded: closing at once would reset the connection,
             * and nginx, still sending the body, would answer 502. */
            if (r->body_refused && !r->eof) {
                request_send(r, NULL, 0, 0);
                r->linger_until = mono_now() + LF_LINGER_TIME;
            }
            r->wait = LF_WAIT_DRAIN;
            request_timer_start(r, r->body_refused ? LF_LINGER_IDLE : r->conf->read_timeout);
            request_watch(r);
            return;
        }
        if (rc != 0)
            r->lost = 1;
    }
    request_finish_send(r);
}

static void request_finish_send(lf_request_t *r)
{
    lf_fcgi_conn_t *c = r->conn;
    if (!r->end_sent)
        request_send(r, NULL, 0, 1);
    if (c->fd >= 0 && lf_fcgi_conn_pending(c) && !r->write_failed) {
        r->wait = LF_WAIT_SEND;
        request_timer_start(r, r->conf->send_timeout);
        request_watch(r);
        return;
    }
    request_complete(r);
}

/* The request is over: its connection ends the request (kept, in step)
 * or closes, its Lua state and VM reference go, the worker hears of it. */
static void request_complete(lf_request_t *r)
{
    lf_fcgi_conn_t *c = r->conn;
    lf_timer_stop(r->env.loop, &r->timer);
    lf_timer_stop(r->env.loop, &r->deadline);
    if (c->fd >= 0) {
        if (c->err != 0 || !c->stdin_done)
            r->lost = 1; /* stdin was cut (a read failed): out of step */
        if (!c->keep_conn || r->write_failed || r->lost || r->aborted) {
            lf_io_stop(r->env.loop, r->env.io);
            lf_fcgi_conn_close(c);
        } else {
            lf_fcgi_conn_end_request(c);
        }
    }
    lf_body_done(r);
    if (r->vm) {
        lua_State *L = r->vm->L;
        luaL_unref(L, LUA_REGISTRYINDEX, r->ctx_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, r->abort_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, r->dl.timeout_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, r->args_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, r->timer_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, r->on_abort_ref);
        lf_vm_release(r->vm);
        r->vm = NULL;
    }
    r->ctx_ref = r->abort_ref = r->dl.timeout_ref = r->args_ref = r->timer_ref = r->on_abort_ref = LUA_NOREF;
    r->script = NULL;
    r->co = NULL;
    lf_buf_reset(&r->out);
    lf_headers_release(&r->headers);
    lf_timeout_forget(&r->dl);
    /* Out of the in-flight list. */
    if (r->prev)
        r->prev->next = r->next;
    else
        lf_request_inflight = r->next;
    if (r->next)
        r->next->prev = r->prev;
    lf_request_inflight_count--;
    r->complete = 1;
    if (!r->starting) {
        r->env.done(r, r->env.data);
        r->next = free_requests;
        free_requests = r;
    }
}

/* ---- the loop's callbacks ---- */

static void request_timer_fired(lf_loop_t *loop, void *data)
{
    lf_request_t *r = data;
    (void)loop;
    lf_log_set_request(r->number);
    char where[LF_REQUEST_LOG_TEXT];
    switch (r->wait) {
    case LF_WAIT_BODY:
        r->conn->err = ETIMEDOUT;
        request_body_ready(r);
        break;
    case LF_WAIT_PREFETCH:
        r->conn->err = ETIMEDOUT;
        request_prefetch_ready(r);
        break;
    case LF_WAIT_EOF:
        r->conn->err = ETIMEDOUT;
        request_eof_ready(r);
        break;
    case LF_WAIT_DRAIN:
        if (!r->body_refused) {
            lf_log(LF_LOG_INFO, "no more of the request body for %g s (--read-timeout), %s",
                   r->conf->read_timeout, lf_request_log_text(r, where, sizeof(where)));
            r->conn->err = ETIMEDOUT;
        }
        r->linger_until = 0;
        request_drain_ready(r);
        break;
    case LF_WAIT_FLUSH:
    case LF_WAIT_SEND:
        lf_log(LF_LOG_INFO, "the web server took no output for %g s (--send-timeout), %s",
               r->conf->send_timeout, lf_request_log_text(r, where, sizeof(where)));
        r->write_failed = 1;
        lf_buf_reset(&r->conn->wq);
        r->conn->wq_pos = 0;
        if (r->wait == LF_WAIT_FLUSH) {
            snprintf(r->resume_msg, sizeof(r->resume_msg), "timeout");
            request_wake(r, RESUME_NIL_ERR);
        } else {
            request_complete(r);
        }
        break;
    case LF_WAIT_CUT:
        request_cut(r);
        break;
    default:
        break;
    }
    lf_log_set_request(0);
}

int lf_request_on_abort(lf_request_t *r, lua_State *L, const char **why)
{
    if (!r->conf->check_client_abort) {
        *why = "lua_check_client_abort is off";
        return -1;
    }
    if (r->on_abort_ref != LUA_NOREF) {
        *why = "duplicate call";
        return -1;
    }
    lua_pushvalue(L, 1);
    r->on_abort_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* The client went away: ngx.on_abort's callback runs in a light thread of
 * its own (the request goes on unless it ends it), or without one the
 * request is stopped, its threads with it. */
static int request_client_abort(lua_State *L, void *ud)
{
    lf_request_t *r = ud;
    if (r->on_abort_ref == LUA_NOREF) {
        r->exit_code = 499;
        request_exit(r);
        request_handler_end(r);
        return 0;
    }
    lua_State *co = lua_newthread(L);                /* sp: co */
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->on_abort_ref);
    lua_xmove(L, co, 1);                             /* co: f */
    lf_uthread_t *ut = thread_new(r, L);             /* sp: */
    ut->parent = L; /* no handler's coroutine: nobody waits for or kills it */
    request_run(r, ut, 0);
    return 0;
}

static void request_client_gone(lf_request_t *r)
{
    char where[LF_REQUEST_LOG_TEXT];
    r->client_gone = 1;
    lf_log(LF_LOG_INFO, "the web server closed the connection while the request ran (the client went away)%s, %s",
           r->on_abort_ref != LUA_NOREF ? ": ngx.on_abort's callback runs" : ": the request is stopped",
           lf_request_log_text(r, where, sizeof(where)));
    request_protected(r, request_client_abort);
    if (r->handler_done)
        request_finish(r);
    else
        request_watch(r);
}

/* FCGI_ABORT_REQUEST while the handler waits: it is stopped, its
 * threads with it; what it had not sent is dropped and FCGI_END_REQUEST
 * answers, as the protocol asks, then the connection closes. */
static int request_aborted_by_server(lua_State *L, void *ud)
{
    lf_request_t *r = ud;
    (void)L;
    request_handler_end(r);
    lf_buf_reset(&r->out);
    r->headers_sent = r->headers_written = 1; /* no header block from here on */
    r->lost = 1;
    return 0;
}

static void request_web_server_abort(lf_request_t *r)
{
    char where[LF_REQUEST_LOG_TEXT];
    lf_log(LF_LOG_INFO, "FCGI_ABORT_REQUEST from the web server: the request is stopped, %s",
           lf_request_log_text(r, where, sizeof(where)));
    request_protected(r, request_aborted_by_server);
    request_finish(r);
}

void lf_request_io(lf_request_t *r, uint32_t events)
{
    lf_fcgi_conn_t *c = r->conn;
    lf_log_set_request(r->number);
    if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && r->conf->check_client_abort &&
        !r->handler_done && !r->client_gone && !r->is_timer) {
        request_client_gone(r);
        goto out;
    }
    if (lf_fcgi_conn_pending(c) && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int rc = lf_fcgi_conn_send_pending(c);
        if (rc < 0) {
            lf_log_errno(LF_LOG_INFO, c->err, "writing the response to the web server failed");
            r->write_failed = 1;
            lf_buf_reset(&c->wq);
            c->wq_pos = 0;
        } else if (rc == 0 && r->eof) {
            request_shut(r);
        }
        if (r->wait == LF_WAIT_FLUSH || r->wait == LF_WAIT_SEND) {
            if (rc == LF_FCGI_AGAIN) {
                request_timer_start(r, r->conf->send_timeout); /* from the last progress */
            } else if (r->wait == LF_WAIT_FLUSH) {
                snprintf(r->resume_msg, sizeof(r->resume_msg),
                         "output error: the connection to the web server failed");
                request_wake(r, rc == 0 ? RESUME_ONE : RESUME_NIL_ERR);
                goto out;
            } else {
                request_complete(r);
                goto out;
            }
        }
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
        switch (r->wait) {
        case LF_WAIT_BODY:
            request_body_ready(r);
            goto out;
        case LF_WAIT_PREFETCH:
            request_prefetch_ready(r);
            goto out;
        case LF_WAIT_EOF:
            request_eof_ready(r);
            goto out;
        case LF_WAIT_DRAIN:
            request_drain_ready(r);
            goto out;
        default:
            /* The web server may end the request (FCGI_ABORT_REQUEST;
             * nginx never sends it, other servers may); anything else is
             * not read now: it waits in the socket, unwatched. */
            if ((events & EPOLLIN) && !r->handler_done && !r->is_timer) {
                /* stdin's end may come first: read it away when there is
                 * no body to keep (read or discarded already, a length
                 * of 0, or a GET or HEAD without one; Apache streams a
                 * body of unknown length with no CONTENT_LENGTH). */
                const char *cl = lf_request_param(r, "CONTENT_LENGTH");
                const char *m = lf_request_param(r, "REQUEST_METHOD");
                int bodiless = m && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0);
                int no_body = r->body_state != LF_BODY_UNREAD || (cl && strcmp(cl, "0") == 0) ||
                              ((cl == NULL || cl[0] == '\0') && bodiless);
                if (!c->stdin_done && no_body && !c->err)
                    lf_fcgi_conn_drain_stdin(c, &r->body_dropped);
                if (c->aborted || lf_fcgi_conn_poll_abort(c) == 1) {
                    request_web_server_abort(r);
                    goto out;
                }
            }
            r->io_strict = 1;
            break;
        }
    }
    request_watch(r);
out:
    lf_log_set_request(0);
}

/* ---- the start ---- */

/* The request's deadlines (--request-timeout, --slowlog-timeout), from
 * now; registered, so the hard deadline can answer it too. */
static void request_deadline_init(lf_request_t *r)
{
    lf_deadline_t *d = &r->dl;
    d->conn = r->conn;
    d->L = r->vm ? r->vm->L : NULL;
    d->co = &r->co;
    d->number = r->number;
    d->slowlog = r->conf->slowlog;
    d->describe = request_describe;
    lf_timeout_arm(d, r->conf);
}

static lf_request_t *request_alloc(void)
{
    lf_request_t *r = free_requests;
    if (r) {
        free_requests = r->next;
    } else {
        r = calloc(1, sizeof(*r));
        if (r == NULL)
            return NULL;
    }
    lf_headers_t headers = r->headers; /* keep the buffers' memory */
    lf_buf_t out = r->out, hdr = r->hdr, body = r->body;
    memset(r, 0, offsetof(lf_request_t, path));
    r->path[0] = r->spool_path[0] = r->resume_msg[0] = '\0';
    lf_headers_reset(&headers);
    lf_buf_reset(&out);
    lf_buf_reset(&body);
    r->headers = headers;
    r->out = out;
    r->hdr = hdr;
    r->body = body;
    return r;
}

/* Resolve the script, then read a sandboxed request's body or launch. */
static int request_begin(lua_State *L, void *ud)
{
    (void)L;
    lf_request_t *r = ud;
    const char *param = lf_request_param(r, "SCRIPT_FILENAME");
    r->refusal = request_script(r, r->env.root, param, r->conf->code_cache, r->path,
                                sizeof(r->path));
    if (r->refusal != 0) {
        request_handler_end(r);
        return 0;
    }
    r->script = r->path;
    r->sandboxed = lf_script_sandboxed(r->env.root, param, r->path);
    if (r->sandboxed) {
        r->wait = LF_WAIT_PREFETCH; /* request_prefetch_ready launches it */
        return 0;
    }
    return request_launch(L, ud);
}

static lf_fcgi_conn_t no_conn = {.fd = -1};
static lf_io_t no_io = {.fd = -1};

/* What every request starts with, from its environment (a request
 * without a connection gets a closed one). */
static void request_setup(lf_request_t *r, const lf_request_env_t *env)
{
    r->env = *env;
    if (r->env.conn == NULL) {
        r->env.conn = &no_conn;
        r->env.io = &no_io;
    }
    r->conn = r->env.conn;
    r->conf = env->conf;
    r->vm = env->vm;
    if (r->vm)
        r->vm->refs++;
    r->ctx_ref = r->abort_ref = r->args_ref = r->timer_ref = r->on_abort_ref = LUA_NOREF;
    r->body_fd = -1;
    lf_timer_init(&r->timer, request_timer_fired, r);
    lf_timer_init(&r->deadline, request_deadline_fired, r);
    r->number = ++request_counter;
    lf_clock_update();
    r->start_time = lf_clock_now();
}

/* In flight from now: its deadlines run, it is listed, env.done is not
 * called until request_started. */
static void request_take_off(lf_request_t *r)
{
    request_deadline_init(r);
    lf_log_set_request(r->number);
    r->next = lf_request_inflight;
    r->prev = NULL;
    if (r->next)
        r->next->prev = r;
    lf_request_inflight = r;
    lf_request_inflight_count++;
    r->starting = 1;
}

/* The start is done: 0 when the request is over already (back to the
 * pool), 1 when it waits. */
static int request_started(lf_request_t *r)
{
    r->starting = 0;
    lf_log_set_request(0);
    if (r->complete) {
        r->next = free_requests;
        free_requests = r;
        return 0;
    }
    return 1;
}

int lf_request_start(const lf_request_env_t *env)
{
    lf_request_t *r = request_alloc();
    if (r == NULL) {
        lf_log(LF_LOG_ERR, "out of memory for a request: its connection is closed");
        lf_io_stop(env->loop, env->io);
        lf_fcgi_conn_close(env->conn);
        return 0;
    }
    request_setup(r, env);
    const char *method = lf_request_param(r, "REQUEST_METHOD");
    r->header_only = method && strcmp(method, "HEAD") == 0;
    request_take_off(r);

    /* A body over --max-body is refused before anything else, as nginx
     * checks client_max_body_size before the content handler. */
    int status = lf_body_check_length(r);
    if (status == 0 && env->respond) {
        env->respond(r, env->data);
        r->handler_done = 1;
        request_finish(r);
    } else if (status == 0 && r->vm == NULL) {
        status = 500;
    } else if (status == 0) {
        request_protected(r, request_begin);
        status = r->refusal;
        if (status == 0 && r->wait == LF_WAIT_PREFETCH)
            request_prefetch_ready(r);
        else if (status == 0 && r->handler_done)
            request_finish(r);
    }
    if (status != 0) {
        r->handler_done = 1;
        lf_request_error_page(r, status);
        request_finish(r);
    }
    return request_started(r);
}

static int last_sync_failed; /* of the last request over within its start */

int lf_request_start_init(const lf_request_env_t *env, int fn_ref)
{
    int rc = lf_request_start_timer(env, fn_ref, -1);
    return rc == 0 ? (last_sync_failed ? -1 : 0) : 1;
}

int lf_request_start_timer(const lf_request_env_t *env, int fn_ref, int premature)
{
    lf_request_t *r = request_alloc();
    if (r == NULL) {
        lf_log(LF_LOG_ERR, "out of memory for a timer's run: it was not run");
        luaL_unref(env->vm->L, LUA_REGISTRYINDEX, fn_ref);
        return 0;
    }
    request_setup(r, env);
    r->phase = premature < 0 ? "init_worker" : "timer";
    r->timer_ref = fn_ref;
    r->timer_premature = premature < 0 ? -1 : premature != 0;
    r->is_timer = 1;
    /* No response: nothing is written, nothing read. */
    r->headers_sent = r->headers_written = r->eof = r->end_sent = 1;
    r->body_state = LF_BODY_DISCARDED;
    request_take_off(r);
    request_protected(r, request_launch_timer);
    if (r->handler_done)
        request_finish(r);
    last_sync_failed = r->handler_failed;
    return request_started(r);
}

void lf_request_cleanup(void)
{
    while (free_requests) {
        lf_request_t *r = free_requests;
        free_requests = r->next;
        lf_headers_free(&r->headers);
        lf_buf_free(&r->out);
        lf_buf_free(&r->hdr);
        lf_buf_free(&r->body);
        free(r);
    }
}
