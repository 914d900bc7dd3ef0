/* request.c - the life of one request: resolve, run the handler in its own
 * coroutine with its own globals, send the response. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <lauxlib.h>

#include "api.h"
#include "log.h"
#include "request.h"
#include "sandbox.h"
#include "script.h"
#include "timeout.h"

lf_request_t *lf_request_current;

static lf_request_t the_request; /* a worker serves one request at a time */
static unsigned long long request_counter;
static char key_script_map; /* registry: SCRIPT_FILENAME -> resolved path */
static unsigned script_map_entries;
#define LF_SCRIPT_MAP_MAX 4096

typedef struct {
    int status;
    const char *reason;
} lf_status_t;

static const lf_status_t status_reasons[] = {
    {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
    {206, "Partial Content"}, {301, "Moved Permanently"}, {302, "Found"},
    {303, "See Other"}, {304, "Not Modified"}, {307, "Temporary Redirect"},
    {308, "Permanent Redirect"}, {400, "Bad Request"}, {401, "Unauthorized"},
    {402, "Payment Required"}, {403, "Forbidden"}, {404, "Not Found"},
    {405, "Not Allowed"}, {406, "Not Acceptable"}, {408, "Request Time-out"},
    {409, "Conflict"}, {410, "Gone"}, {411, "Length Required"},
    {412, "Precondition Failed"}, {413, "Request Entity Too Large"},
    {414, "Request-URI Too Large"}, {415, "Unsupported Media Type"},
    {416, "Requested Range Not Satisfiable"}, {421, "Misdirected Request"},
    {429, "Too Many Requests"}, {500, "Internal Server Error"},
    {501, "Not Implemented"}, {502, "Bad Gateway"}, {503, "Service Temporarily Unavailable"},
    {504, "Gateway Time-out"}, {505, "HTTP Version Not Supported"},
    {507, "Insufficient Storage"},
};

const char *lf_request_status_reason(int status)
{
    for (size_t i = 0; i < sizeof(status_reasons) / sizeof(status_reasons[0]); i++)
        if (status_reasons[i].status == status)
            return status_reasons[i].reason;
    return NULL;
}

const char *lf_request_param(const lf_request_t *r, const char *name)
{
    return lf_fcgi_conn_param(r->conn, name, strlen(name));
}

void lf_request_log_fill(const lf_request_t *r, lf_request_log_t *out)
{
    lf_request_log_fill_conn(r->conn, r->script, out);
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
}

const char *lf_request_log_text(const lf_request_t *r, char *buf, size_t len)
{
    lf_request_log_t e;
    lf_request_log_fill(r, &e);
    if (r->script)
        snprintf(buf, len, "script: %s, request: \"%s %s\"", e.script, e.method, e.uri);
    else
        snprintf(buf, len, "request: \"%s %s\"", e.method, e.uri);
    return buf;
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

static int request_serialize_headers(lf_request_t *r, int streaming);

/* Send what r->out holds, then extra (not copied); with last, the end of
 * the stream and FCGI_END_REQUEST too. */
static int request_send(lf_request_t *r, const char *extra, size_t extralen, int last)
{
    if (r->write_failed)
        return -1;
    lf_fcgi_out_t b;
    lf_fcgi_out_begin(&b, r->conn);
    lf_timeout_sending(last);
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
    if (last)
        lf_fcgi_out_end_request(&b);
    int failed = lf_fcgi_out_flush(&b);
    lf_buf_reset(&r->out);
    if (failed) {
        r->write_failed = 1;
        lf_log_errno(LF_LOG_INFO, failed, "writing the response to the web server failed");
        return -1;
    }
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
        const char *reason = lf_request_status_reason(status);
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

/* ngx.eof: the response is complete for the web server (and the client)
 * now, while the handler may go on working.  stdin is read to its end
 * first so that the connection stays in step for the next request. */
int lf_request_eof(lf_request_t *r)
{
    if (r->eof)
        return 0;
    r->headers_sent = 1;
    r->eof = 1;
    lf_body_discard(r);
    if (request_send(r, NULL, 0, 1) != 0)
        return -1;
    /* Without FCGI_KEEP_CONN the web server waits for the close that
     * ends a response; half-close now, the params stay readable. */
    if (!r->conn->keep_conn && shutdown(r->conn->fd, SHUT_WR) != 0)
        lf_log_errno(LF_LOG_INFO, errno, "shutdown() of the web server connection failed");
    return 0;
}

size_t lf_request_error_html(int status, char *buf, size_t len)
{
    const char *reason = lf_request_status_reason(status);
    int n = snprintf(buf, len,
                     "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
                     "<center><h1>%d %s</h1></center>\r\n<hr><center>luafpm</center>\r\n"
                     "</body>\r\n</html>\r\n",
                     status, reason ? reason : "", status, reason ? reason : "");
    if (n < 0)
        return 0;
    return (size_t)n < len ? (size_t)n : len - 1;
}

void lf_request_error_page(lf_request_t *r, int status)
{
    char page[512];
    size_t n = lf_request_error_html(status, page, sizeof(page));
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
    char where[LF_REQUEST_LOG_TEXT];
    lf_log(LF_LOG_ERR, "lua entry thread aborted: %s, %s", lua_tostring(L, -1),
           lf_request_log_text(r, where, sizeof(where)));
    lua_pop(L, 1);
    request_end_early(r, status);
}

/* The handler ran past --request-timeout: 504. */
static void request_timed_out(lf_request_t *r, lua_State *L, lua_State *co)
{
    if (r->timeout_ref != LUA_NOREF)
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->timeout_ref); /* sp++: from the hook */
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

/* ngx.sleep: a worker serves one request at a time, so waiting here
 * holds up nobody else.  The request timeout cuts it short. */
static void request_sleep(double seconds)
{
    struct timespec left;
    left.tv_sec = (time_t)seconds;
    left.tv_nsec = (long)((seconds - (double)left.tv_sec) * 1e9);
    while (nanosleep(&left, &left) != 0 && errno == EINTR && !lf_timeout_expired())
        lf_timeout_slow_check(lf_request_current);
    lf_api_time_update();
}

/* Run the handler: factory -> fresh closure -> fresh env -> resume loop. */
static void request_run(lf_request_t *r)
{
    lua_State *L = r->vm->L;
    int base = lua_gettop(L);
    if (lf_vm_push_factory(r->vm, r->script, r->sandboxed) != 0) { /* sp: factory | error */
        lf_log(LF_LOG_ERR, "failed to load Lua script %s: %s", r->script, lua_tostring(L, -1));
        lf_request_error_page(r, 500);
        lua_settop(L, base);
        return;
    }
    /* A sandboxed request's budgets count from here: its coroutine,
     * closure and globals are its own memory. */
    if (r->sandboxed)
        lf_sandbox_begin(r);
    lua_State *co = lua_newthread(L);                /* sp: factory, co (anchors it) */
    r->co = co;
    /* The factory only makes a closure (the text was proved a chunk of
     * its own), called protected all the same. */
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 0, 1, 0) != 0 || !lua_isfunction(L, -1)) { /* sp: factory, co, handler */
        lf_sandbox_end();
        lf_log(LF_LOG_ERR, "failed to load Lua script %s: %s", r->script,
               lua_isstring(L, -1) ? lua_tostring(L, -1) : "the factory returned no function");
        lf_request_error_page(r, 500);
        r->co = NULL;
        lua_settop(L, base);
        return;
    }
    lua_xmove(L, co, 1);                             /* co: handler */
    if (r->sandboxed)
        lf_sandbox_push_env(co);                     /* co: handler, env */
    else
        lf_vm_push_request_env(co);
    lua_setfenv(co, -2);                             /* co: handler */

    /* Resume until the handler is done: a sleep, or a bare
     * coroutine.yield() that reached the handler's own coroutine, goes on. */
    int rc = LUA_YIELD;
    for (;;) {
        if (lf_timeout_enter_lua() != 0)
            break; /* timed out between two resumes (in ngx.sleep) */
        rc = lua_resume(co, 0);
        lf_timeout_leave_lua();
        if (rc != LUA_YIELD || (r->yield != LF_YIELD_SLEEP && r->yield != LF_YIELD_NONE))
            break;
        if (r->yield == LF_YIELD_SLEEP)
            request_sleep(r->sleep_seconds);
        r->yield = LF_YIELD_NONE;
        lua_settop(co, 0);
    }
    lf_sandbox_over_t over = r->sandboxed ? lf_sandbox_end() : LF_SANDBOX_WITHIN;
    /* An error, raised or through abort (its value kept in the registry). */
    int aborted = rc == LUA_YIELD && r->yield == LF_YIELD_ABORT;
    int failed = over == LF_SANDBOX_WITHIN && ((rc != 0 && rc != LUA_YIELD) || aborted);
    if (failed && aborted) {
        lua_settop(co, 0);
        lua_rawgeti(co, LUA_REGISTRYINDEX, r->abort_ref);
    }
    if (failed && !lf_timeout_expired())
        request_error_text(r, L, co); /* before the timeout is disarmed */
    int timed_out = lf_timeout_disarm();
    if (over != LF_SANDBOX_WITHIN) {
        /* Whatever the script did after, the spent budget ended it. */
        request_over_budget(r, L, co, over);
    } else if (rc == 0) {
        /* returned */
    } else if (rc == LUA_YIELD && r->yield == LF_YIELD_EXIT) {
        request_exit(r);
    } else if (timed_out) {
        /* Whatever stopped it after the deadline (the hook's yield or
         * error, a read cut by the signal) is the timeout. */
        request_timed_out(r, L, co);
    } else if (failed) {
        request_failed(r, L, co);
    }
    r->co = NULL;
    lua_settop(L, base);
}

/* Cut the response: the web server must not take it as complete.  A
 * closed connection alone is not enough (nginx ends the response as if
 * FCGI_END_REQUEST had come), so a record header of an unknown protocol
 * version goes last: nginx then logs an upstream error and closes the
 * client connection without the final chunk, as OpenResty does.  nginx
 * drops output it has read but not yet passed on when that error comes in
 * the same read, so on this (rare, failing) path the flushed bytes get a
 * moment to be read first. */
static void request_abort(lf_fcgi_conn_t *conn, int flushed)
{
    static const char bad_record[8] = {0};
    if (conn->fd >= 0) {
        if (flushed) {
            struct timespec pause = {0, 20 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        ssize_t n = write(conn->fd, bad_record, sizeof(bad_record));
        (void)n; /* the connection is closed next either way */
    }
    lf_fcgi_conn_close(conn);
}

/* What the protected part of a request needs. */
typedef struct {
    lf_request_t *r;
    const lf_root_t *root;
    const char *param;   /* SCRIPT_FILENAME */
    char path[PATH_MAX]; /* the resolved script */
    int status;          /* a refusal before the handler ran */
} lf_request_job_t;

/* Everything of a request that touches Lua, in one protected call: the
 * script cache, the coroutine and its globals, the sandbox's set-up, the
 * run and what follows it.  An error anywhere in it is the request's
 * (request_internal_error), never the worker's. */
static int request_protected(lua_State *L, void *ud)
{
    (void)L;
    lf_request_job_t *job = ud;
    lf_request_t *r = job->r;
    job->status = request_script(r, job->root, job->param, r->conf->code_cache, job->path,
                                 sizeof(job->path));
    if (job->status != 0)
        return 0;
    r->script = job->path;
    r->sandboxed = lf_script_sandboxed(job->root, job->param, job->path);
    lf_timeout_arm(r);
    request_run(r);
    lf_timeout_disarm(); /* where the handler never started (a compile error) */
    return 0;
}

/* The protected part raised an error of its own (out of memory, most
 * likely): undo what it had set up, log it, 500 or a cut response. */
static void request_internal_error(lf_request_t *r, lua_State *L)
{
    lf_sandbox_end();
    lf_timeout_disarm();
    r->co = NULL;
    char where[LF_REQUEST_LOG_TEXT];
    lf_log(LF_LOG_ERR, "request failed inside luafpm: %s, %s",
           lua_isstring(L, -1) ? lua_tostring(L, -1) : "(no message)",
           lf_request_log_text(r, where, sizeof(where)));
    lua_pop(L, 1);
    request_end_early(r, 500);
}

void lf_request_serve(lf_fcgi_conn_t *conn, lf_vm_t *vm, const lf_conf_t *conf,
                      const lf_root_t *root)
{
    lf_request_t *r = &the_request;
    lf_headers_t headers = r->headers; /* keep the buffers' memory */
    lf_buf_t out = r->out, hdr = r->hdr, body = r->body;
    memset(r, 0, sizeof(*r));
    lf_headers_reset(&headers);
    lf_buf_reset(&out);
    lf_buf_reset(&body);
    r->headers = headers;
    r->out = out;
    r->hdr = hdr;
    r->body = body;
    r->conn = conn;
    r->conf = conf;
    r->vm = vm;
    r->ctx_ref = LUA_NOREF;
    r->abort_ref = LUA_NOREF;
    r->timeout_ref = LUA_NOREF;
    r->args_ref = LUA_NOREF;
    r->body_fd = -1;
    r->number = ++request_counter;
    lf_api_time_update();
    r->start_time = lf_api_time_now();
    lf_log_set_request(r->number);

    const char *method = lf_request_param(r, "REQUEST_METHOD");
    r->header_only = method && strcmp(method, "HEAD") == 0;

    static lf_request_job_t job;
    job.r = r;
    job.root = root;
    job.param = lf_request_param(r, "SCRIPT_FILENAME");
    job.status = 0;
    lf_request_current = r;
    /* A body over --max-body is refused before anything else, as nginx
     * checks client_max_body_size before the content handler. */
    int status = lf_body_check_length(r);
    if (status == 0 && vm == NULL)
        status = 500;
    if (status == 0) {
        if (lf_vm_protect(vm->L, request_protected, &job) != 0)
            request_internal_error(r, vm->L);
        status = job.status;
    }
    if (status != 0)
        lf_request_error_page(r, status);
    /* A refused body is left in the stream until the 413 is out. */
    if (!r->body_refused)
        lf_body_drain(r->conn);
    lf_body_done(r);
    if (vm) {
        luaL_unref(vm->L, LUA_REGISTRYINDEX, r->ctx_ref);
        luaL_unref(vm->L, LUA_REGISTRYINDEX, r->abort_ref);
        luaL_unref(vm->L, LUA_REGISTRYINDEX, r->timeout_ref);
        luaL_unref(vm->L, LUA_REGISTRYINDEX, r->args_ref);
    }
    r->ctx_ref = r->abort_ref = r->timeout_ref = r->args_ref = LUA_NOREF;
    r->script = NULL;
    lf_request_current = NULL;

    if (r->aborted) {
        request_abort(conn, r->flushed);
    } else {
        int lost = 0;
        if (r->body_refused && !r->eof) {
            /* The 413 goes out now and its end (FCGI_END_REQUEST) after
             * the rest of the body was read away, bounded: a web server
             * with our complete answer could send the next request on
             * this connection while libfcgi still reads this one's body.
             * Closing at once would reset the connection, and nginx,
             * still sending the body, would answer 502 instead. */
            request_send(r, NULL, 0, 0);
            lost = r->write_failed || lf_body_linger(r) != 0;
        }
        if (!r->eof)
            request_send(r, NULL, 0, 1);
        /* The response is complete: the connection stays when the web
         * server asked for it and is still in step (stdin read to its
         * end, so a plain close cannot reset it either). */
        if (conn->err != 0 || !conn->stdin_done)
            lost = 1; /* stdin was cut (a read failed): out of step */
        if (!conn->keep_conn || r->write_failed || lost)
            lf_fcgi_conn_close(conn);
        else
            lf_fcgi_conn_end_request(conn);
    }
    lf_buf_reset(&r->out);
    lf_headers_release(&r->headers);
    lf_log_set_request(0);
}

void lf_request_cleanup(void)
{
    lf_headers_free(&the_request.headers);
    lf_buf_free(&the_request.out);
    lf_buf_free(&the_request.hdr);
    lf_buf_free(&the_request.body);
}
