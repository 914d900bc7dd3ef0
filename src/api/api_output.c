/* api_output.c - ngx.flush/eof/exit/redirect, ngx.status and the
 * ngx.header proxy (ngx.say and ngx.print: api_say.c). */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "log.h"
#include "sandbox.h"

/* nil, why: an output call that does nothing, as lua-nginx-module says. */
static int output_refused(lua_State *L, const char *why)
{
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
}

int lf_api_output_refused(lua_State *L, lf_request_t *r)
{
    /* A HEAD response is complete once its headers are out. */
    if (r->header_only && r->headers_sent)
        return output_refused(L, "header only");
    if (r->eof)
        return output_refused(L, "seen eof");
    return 0;
}

/* ngx.flush(wait?): only once body bytes were written (or wait is true
 * and the headers are out), else nil, "nothing to flush". */
static int api_flush(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    int n = lua_gettop(L), wait = 0;
    if (n > 1)
        return luaL_error(L, "attempt to pass %d arguments, but accepted 0 or 1", n);
    if (n == 1) {
        luaL_checktype(L, 1, LUA_TBOOLEAN);
        wait = lua_toboolean(L, 1);
    }
    int refused = lf_api_output_refused(L, r);
    if (refused)
        return refused;
    if (!r->headers_sent || (!r->body_seen && !wait))
        return output_refused(L, "nothing to flush");
    if (lf_request_flush(r) != 0)
        return output_refused(L, "output error: the connection to the web server failed");
    /* ngx.flush(true): the request waits until the web server has taken
     * it all (the worker serves others meanwhile); resumed with 1, or nil
     * and the error.  A sandboxed request never waits (no other request
     * may run while its budgets count): its output leaves as the socket
     * takes it. */
    if (wait && lf_fcgi_conn_pending(r->conn) && !r->sandboxed) {
        r->yield = LF_YIELD_FLUSH;
        return lua_yield(L, 0);
    }
    lua_pushinteger(L, 1);
    return 1;
}

static int api_eof(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    if (lua_gettop(L) != 0)
        return luaL_error(L, "no argument is expected");
    if (r->eof)
        return output_refused(L, "seen eof");
    /* After a HEAD response's headers OpenResty counts the response as
     * ended already: the same answer, but the response still ends now. */
    int ended = r->header_only && r->headers_sent;
    int rc = lf_request_eof(r);
    if (rc == LF_REQUEST_WAIT && !ended) {
        /* stdin has to end first: resumed with 1, or nil and the error. */
        r->yield = LF_YIELD_EOF;
        return lua_yield(L, 0);
    }
    if (rc == -1)
        return output_refused(L, "output error: the connection to the web server failed");
    if (ended)
        return output_refused(L, "seen eof");
    lua_pushinteger(L, 1);
    return 1;
}

/* ngx.exit(status): ends the request by yielding to C, so pcall cannot
 * stop it (LuaJIT yields across pcall). */
static int api_exit(lua_State *L)
{
    lf_request_t *r = lf_api_context(L);
    lua_Number code = luaL_checknumber(L, 1);
    if (code != floor(code) || code < -5 || code > 999)
        return luaL_error(L, "bad argument #1 to 'exit' (invalid status %f)", code);
    r->exit_code = (int)code;
    r->yield = LF_YIELD_EXIT;
    return lua_yield(L, 0);
}

static int header_add(lf_request_t *r, const char *name, size_t nlen, const char *v, size_t vlen);
static int header_refused(lua_State *L, lf_request_t *r, int rc, const char *name, size_t nlen);

/* Bytes a Location must not hold (0x00-0x08, 0x0a-0x1f, 0x7f), as
 * lua-nginx-module checks: CR/LF would start a header of their own. */
static int redirect_unsafe(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* The URI for the error message: odd bytes, '"' and '\' as \xHH.  sp++ */
static const char *redirect_escape(lua_State *L, const char *p, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            luaL_addlstring(&b, e, 4);
        } else {
            luaL_addchar(&b, (char)c);
        }
    }
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

static int api_redirect(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    int n = lua_gettop(L);
    if (n != 1 && n != 2)
        return luaL_error(L, "expecting one or two arguments");
    size_t len;
    const char *uri = luaL_checklstring(L, 1, &len);
    lua_Number sn = n == 2 ? luaL_checknumber(L, 2) : 302;
    int status = sn >= 0 && sn < 1000 ? (int)sn : 0;
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
        return luaL_error(L, "only ngx.HTTP_MOVED_TEMPORARILY, ngx.HTTP_MOVED_PERMANENTLY, "
                             "ngx.HTTP_PERMANENT_REDIRECT, ngx.HTTP_SEE_OTHER, and "
                             "ngx.HTTP_TEMPORARY_REDIRECT are allowed");
    if (r->headers_sent)
        return luaL_error(L, "attempt to call ngx.redirect after sending out the headers");
    for (size_t i = 0; i < len; i++) {
        if (redirect_unsafe((unsigned char)uri[i])) {
            char byte[8];
            snprintf(byte, sizeof(byte), "0x%02x", (unsigned char)uri[i]);
            return luaL_error(L, "unsafe byte \"%s\" in redirect uri \"%s\"", byte,
                              redirect_escape(L, uri, len));
        }
    }
    lf_headers_remove(&r->headers, "location", 8);
    int rc = header_add(r, "Location", 8, uri, len);
    if (rc != LF_HEADERS_OK)
        return header_refused(L, r, rc, "Location", 8);
    r->exit_code = status;
    r->yield = LF_YIELD_EXIT;
    return lua_yield(L, 0);
}

/* ngx.status: as set, else 200 once the headers are out (what was sent),
 * else 0. */
int lf_api_status_get(lua_State *L, lf_request_t *r)
{
    lua_pushinteger(L, r->status ? r->status : r->headers_sent ? 200 : 0);
    return 1;
}

/* ngx.status = n: a number is cut to an integer as OpenResty's FFI does;
 * 0 unsets it; outside 100..999 it is refused (nginx cannot pass such a
 * status line from FastCGI). */
int lf_api_status_set(lua_State *L, lf_request_t *r, int idx)
{
    if (r->headers_sent) {
        lf_log(LF_LOG_ERR, "attempt to set ngx.status after sending out response headers");
        return 0;
    }
    lua_Number n = luaL_checknumber(L, idx);
    if (n > -1 && n < 1) {
        r->status = 0;
        return 0;
    }
    if (!(n >= 100 && n < 1000))
        return luaL_error(L, "invalid HTTP status %f", n);
    r->status = (int)n;
    return 0;
}

/* Header names: odd bytes %-escaped; '_' becomes '-'. */
static const char *header_name(lua_State *L, int idx, size_t *len)
{
    size_t n;
    const char *s = luaL_checklstring(L, idx, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '_')
            luaL_addchar(&b, '-');
        else if (c > 0x20 && c < 0x7f && c != ':')
            luaL_addchar(&b, (char)c);
        else {
            char hex[4];
            snprintf(hex, sizeof(hex), "%%%02X", c);
            luaL_addlstring(&b, hex, 3);
        }
    }
    luaL_pushresult(&b);
    lua_replace(L, idx);
    return lua_tolstring(L, idx, len);
}

/* The bytes of a header value as the script gave it (a number is turned
 * into a string in place), and the length it is sent with: CR and LF
 * become %0D and %0A, never passed through.  Nothing is copied. */
static const char *header_value_raw(lua_State *L, int idx, size_t *len, size_t *sent)
{
    size_t n;
    const char *s;
    if (lua_type(L, idx) == LUA_TBOOLEAN)
        s = lua_toboolean(L, idx) ? "true" : "false", n = strlen(s);
    else if ((s = lua_tolstring(L, idx, &n)) == NULL)
        luaL_error(L, "bad value type %s for a header", luaL_typename(L, idx));
    size_t escaped = n;
    for (const char *p = s, *end = s + n; (p = memchr(p, '\r', (size_t)(end - p))) != NULL; p++)
        escaped += 2;
    for (const char *p = s, *end = s + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        escaped += 2;
    *len = n;
    *sent = escaped;
    return s;
}

/* The value at idx as sent; an escaped copy is pushed when it needs one
 * (the caller restores the stack). */
static const char *header_value(lua_State *L, int idx, size_t *len)
{
    size_t n, sent;
    const char *s = header_value_raw(L, idx, &n, &sent);
    *len = n;
    if (sent == n)
        return s;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r')
            luaL_addlstring(&b, "%0D", 3);
        else if (s[i] == '\n')
            luaL_addlstring(&b, "%0A", 3);
        else
            luaL_addchar(&b, s[i]);
    }
    luaL_pushresult(&b);
    return lua_tolstring(L, -1, len);
}

/* A header could not be kept (rc from lf_headers_*).  Past a bound the
 * request fails: 500 and a log line, through any pcall (as ngx.exit
 * goes; an ordinary error where no yield is possible), and the headers
 * set so far are dropped so that the error page can get through nginx.
 * A spent sandbox budget stops the script at its next instruction. */
static int header_refused(lua_State *L, lf_request_t *r, int rc, const char *name, size_t nlen)
{
    char msg[256];
    int shown = nlen > 64 ? 64 : (int)nlen;
    if (rc == LF_HEADERS_NOMEM)
        return luaL_error(L, "out of memory");
    lf_headers_reset(&r->headers);
    if (rc == LF_HEADERS_OVER_BUDGET)
        return 0;
    if (rc == LF_HEADERS_TOO_MANY)
        snprintf(msg, sizeof(msg), "too many response headers: %.*s%s would make more than %d",
                 shown, name, shown < (int)nlen ? "..." : "", LF_HEADERS_MAX_COUNT);
    else
        snprintf(msg, sizeof(msg), "response headers too large: %.*s%s would take them past "
                 "%d bytes", shown, name, shown < (int)nlen ? "..." : "", LF_HEADERS_MAX_BYTES);
    luaL_where(L, 1);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    if (r->co == NULL || !lua_isyieldable(L))
        return lua_error(L);
    luaL_unref(L, LUA_REGISTRYINDEX, r->abort_ref);
    r->abort_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    r->yield = LF_YIELD_ABORT;
    return lua_yield(L, 0);
}

/* Add one header, charged to a sandboxed request's memory budget. */
static int header_add(lf_request_t *r, const char *name, size_t nlen, const char *v, size_t vlen)
{
    return lf_headers_add_charged(&r->headers, name, nlen, v, vlen,
                                  r->sandboxed ? lf_sandbox_charge_memory : NULL);
}

/* ngx.header[name] */
static int api_header_index(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    if (lua_type(L, 2) != LUA_TSTRING)
        return 0;
    size_t nlen;
    const char *name = header_name(L, 2, &nlen);
    lf_headers_t *h = &r->headers;
    long first = lf_headers_find(h, name, nlen, 0);
    if (first < 0)
        return 0;
    long next = lf_headers_find(h, name, nlen, (size_t)first + 1);
    if (next < 0) {
        lua_pushlstring(L, lf_header_value(h, (size_t)first), h->v[first].value_len);
        return 1;
    }
    lua_newtable(L);
    int n = 0;
    for (long i = first; i >= 0; i = lf_headers_find(h, name, nlen, (size_t)i + 1)) {
        lua_pushlstring(L, lf_header_value(h, (size_t)i), h->v[i].value_len);
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

/* ngx.header[name] = {values}: every value is checked against the bounds
 * before the first is copied. */
static int header_set_list(lua_State *L, lf_request_t *r, const char *name, size_t nlen)
{
    size_t n = lua_objlen(L, 3), bytes = 0, vlen, sent;
    int rc = n > LF_HEADERS_MAX_COUNT ? LF_HEADERS_TOO_MANY : LF_HEADERS_OK;
    for (size_t i = 1; i <= n && rc == LF_HEADERS_OK; i++) {
        lua_rawgeti(L, 3, (int)i);
        header_value_raw(L, lua_gettop(L), &vlen, &sent);
        lua_pop(L, 1);
        if (sent > LF_HEADERS_MAX_BYTES - bytes || nlen > LF_HEADERS_MAX_BYTES - bytes - sent)
            rc = LF_HEADERS_TOO_BIG;
        else
            bytes += nlen + sent;
    }
    if (rc == LF_HEADERS_OK)
        rc = lf_headers_check(&r->headers, n, bytes);
    int top = lua_gettop(L);
    for (size_t i = 1; i <= n && rc == LF_HEADERS_OK; i++) {
        lua_rawgeti(L, 3, (int)i);
        const char *v = header_value(L, lua_gettop(L), &vlen);
        rc = header_add(r, name, nlen, v, vlen);
        lua_settop(L, top);
    }
    return rc == LF_HEADERS_OK ? 0 : header_refused(L, r, rc, name, nlen);
}

/* ngx.header[name] = value | {values} | nil */
static int api_header_newindex(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    size_t nlen, vlen;
    const char *name = header_name(L, 2, &nlen);
    if (r->headers_sent) {
        lf_log(LF_LOG_ERR, "attempt to set ngx.header.HEADER after sending out response headers");
        return 0;
    }
    lf_headers_remove(&r->headers, name, nlen);
    if (lua_isnil(L, 3))
        return 0;
    if (lua_istable(L, 3))
        return header_set_list(L, r, name, nlen);
    const char *v = header_value(L, 3, &vlen);
    int rc = header_add(r, name, nlen, v, vlen);
    return rc == LF_HEADERS_OK ? 0 : header_refused(L, r, rc, name, nlen);
}

/* ngx.resp.get_headers(max?, raw?): the response headers set so far. */
static int api_resp_get_headers(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    int max = lua_isnoneornil(L, 1) ? 100 : luaL_checkint(L, 1);
    int raw = lua_toboolean(L, 2);
    lf_headers_t *h = &r->headers;
    lua_createtable(L, 0, (int)h->n);
    int t = lua_gettop(L);
    for (size_t i = 0; i < h->n; i++) {
        if (max > 0 && (int)i == max) {
            lua_pushliteral(L, "truncated");
            return 2;
        }
        const char *name = lf_header_name(h, i);
        size_t nlen = h->v[i].name_len;
        if (raw) {
            lua_pushlstring(L, name, nlen);
        } else {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (size_t j = 0; j < nlen; j++)
                luaL_addchar(&b, (char)tolower((unsigned char)name[j]));
            luaL_pushresult(&b);
        }
        lua_pushlstring(L, lf_header_value(h, i), h->v[i].value_len);
        lf_api_add_header_value(L, t);
    }
    if (!raw) {
        lf_api_push_headers_mt(L);
        lua_setmetatable(L, t);
    }
    return 1;
}

void lf_api_output_init(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"flush", api_flush}, {"eof", api_eof}, {"exit", api_exit}, {"redirect", api_redirect},
        {NULL, NULL},
    };
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_newtable(L);                                 /* sp: ngx, header */
    lua_createtable(L, 0, 2);                        /* sp: ngx, header, mt */
    lua_pushcfunction(L, api_header_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, api_header_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "header");                   /* sp: ngx */
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, api_resp_get_headers);
    lua_setfield(L, -2, "get_headers");
    lua_setfield(L, -2, "resp");
}
