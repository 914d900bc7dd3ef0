/* api_req.c - ngx.req: what the request says about itself, its
 * arguments, headers and body. */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "log.h"

#define LF_MAX_ARGS 100     /* lua-nginx-module's default for *_args */
#define LF_MAX_HEADERS 100  /* and for get_headers */

/* The methods ngx.req.set_method knows, by their ngx.HTTP_* number. */
static const struct {
    int number;
    const char *name;
} req_methods[] = {
    {0x0002, "GET"},      {0x0004, "HEAD"},      {0x0008, "POST"},   {0x0010, "PUT"},
    {0x0020, "DELETE"},   {0x0040, "MKCOL"},     {0x0080, "COPY"},   {0x0100, "MOVE"},
    {0x0200, "OPTIONS"},  {0x0400, "PROPFIND"},  {0x0800, "PROPPATCH"},
    {0x1000, "LOCK"},     {0x2000, "UNLOCK"},    {0x4000, "PATCH"},  {0x8000, "TRACE"},
};

static int api_req_get_method(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    const char *m = r->method ? r->method : lf_request_param(r, "REQUEST_METHOD");
    lua_pushstring(L, m ? m : "GET");
    return 1;
}

/* ngx.req.set_method(ngx.HTTP_*): what get_method and $request_method
 * say from now on, as in OpenResty's content phase ($request, the log
 * and the web server keep the method the client sent).  HEAD set before
 * the headers leave makes the response header-only, as nginx does. */
static int api_req_set_method(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    if (lua_type(L, 1) != LUA_TNUMBER)
        return luaL_error(L, "bad method number");
    lua_Number n = lua_tonumber(L, 1);
    int number = n > -2147483649.0 && n < 2147483648.0 ? (int)n : 0;
    for (size_t i = 0; i < sizeof(req_methods) / sizeof(req_methods[0]); i++) {
        if (req_methods[i].number == number) {
            r->method = req_methods[i].name;
            if (!r->headers_sent)
                r->header_only = number == 0x0004;
            return 0;
        }
    }
    return luaL_error(L, "unsupported HTTP method: %s", lua_tostring(L, 1));
}

static int api_req_http_version(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    const char *p = lf_request_param(r, "SERVER_PROTOCOL");
    if (p == NULL) {
        lua_pushnil(L);
        return 1;
    }
    if (strcmp(p, "HTTP/1.1") == 0)
        lua_pushnumber(L, 1.1);
    else if (strcmp(p, "HTTP/1.0") == 0)
        lua_pushnumber(L, 1.0);
    else if (strcmp(p, "HTTP/2.0") == 0 || strcmp(p, "HTTP/2") == 0)
        lua_pushnumber(L, 2.0);
    else if (strcmp(p, "HTTP/3.0") == 0 || strcmp(p, "HTTP/3") == 0)
        lua_pushnumber(L, 3.0);
    else if (strcmp(p, "HTTP/0.9") == 0)
        lua_pushnumber(L, 0.9);
    else
        lua_pushnil(L);
    return 1;
}

static int api_req_start_time(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    lua_pushnumber(L, (lua_Number)(long long)(r->start_time * 1000) / 1000.0);
    return 1;
}

/* The max argument of the *_args / get_headers functions: 0 = no limit. */
static int api_req_max(lua_State *L, int idx, int dflt)
{
    if (lua_isnoneornil(L, idx))
        return dflt;
    int max = luaL_checkint(L, idx);
    return max < 0 ? 0 : max;
}

/* ngx.req.get_uri_args(max?) */
static int api_req_get_uri_args(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    int max = api_req_max(L, 1, LF_MAX_ARGS);
    size_t len;
    const char *args = lf_request_args(r, &len);
    return lf_api_decode_args(L, args, len, max);
}

/* ngx.req.set_uri_args(str | number | table): what ngx.var.args and
 * get_uri_args read from now on.  A string has its spaces and control
 * bytes %-escaped, as lua-nginx-module does; a table is encode_args'. */
static int api_req_set_uri_args(lua_State *L)
{
    static const char hex[] = "0123456789ABCDEF";
    if (lua_gettop(L) != 1)
        return luaL_error(L, "expecting 1 argument but seen %d", lua_gettop(L));
    lf_request_t *r = lf_api_request(L);
    if (lua_istable(L, 1)) {
        lua_getfield(L, LUA_GLOBALSINDEX, "ngx");
        lua_getfield(L, -1, "encode_args");
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
    } else if (lua_type(L, 1) == LUA_TNUMBER) {
        lua_pushstring(L, lua_tostring(L, 1));
    } else if (lua_type(L, 1) == LUA_TSTRING) {
        size_t len;
        const char *p = lua_tolstring(L, 1, &len);
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c <= 0x20 || c == 0x7f) {
                char e[3] = {'%', hex[c >> 4], hex[c & 15]};
                luaL_addlstring(&b, e, 3);
            } else {
                luaL_addchar(&b, (char)c);
            }
        }
        luaL_pushresult(&b);
    } else {
        lua_pushfstring(L, "string, number, or table expected, but got %s", luaL_typename(L, 1));
        return luaL_argerror(L, 1, lua_tostring(L, -1));
    }
    luaL_unref(L, LUA_REGISTRYINDEX, r->args_ref);
    r->args_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* ngx.req.read_body(): a failure is the request's failure (500 before any
 * output) with the cause in the error log.  A body over --max-body ends
 * the request with 413, as ngx.exit(413) would (OpenResty does the same
 * when nginx refuses the body).  When the rest has not come yet the
 * request yields until it has (the worker serves others meanwhile); it
 * is resumed with nothing, or false and the error that the Lua half
 * (read_body_lua below) raises. */
static int api_req_read_body(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    char err[512];
    int rc = lf_body_read(r, err, sizeof(err));
    if (rc == LF_BODY_AGAIN) {
        r->yield = LF_YIELD_BODY;
        return lua_yield(L, 0);
    }
    if (rc == LF_BODY_TOO_LARGE) {
        r->exit_code = 413;
        r->yield = LF_YIELD_EXIT;
        return lua_yield(L, 0);
    }
    if (rc != 0)
        return luaL_error(L, "failed to read the request body: %s", err);
    return 0;
}

static int api_req_discard_body(lua_State *L)
{
    lf_body_discard(lf_api_request(L));
    return 0;
}

/* ngx.req.get_body_data(max_bytes?): nil unless read into memory. */
static int api_req_get_body_data(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    if (r->body_state != LF_BODY_READ || r->body_hidden || r->body_fd >= 0 || r->body.len == 0) {
        lua_pushnil(L);
        return 1;
    }
    size_t n = r->body.len;
    if (!lua_isnoneornil(L, 1)) {
        lua_Integer max = luaL_checkinteger(L, 1);
        if (max > 0 && (size_t)max < n)
            n = (size_t)max;
    }
    lua_pushlstring(L, r->body.data, n);
    return 1;
}

static int api_req_get_body_file(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    if (r->body_path == NULL || r->body_hidden || r->body_state != LF_BODY_READ) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushstring(L, r->body_path);
    return 1;
}

/* ngx.req.get_post_args(max?): the form in the body read by read_body. */
static int api_req_get_post_args(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    int max = api_req_max(L, 1, LF_MAX_ARGS);
    if (r->body_state == LF_BODY_UNREAD || r->body_hidden)
        return luaL_error(L, "no request body found; maybe you should turn on lua_need_request_body?");
    if (r->body_fd >= 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "request body in temp file not supported");
        return 2;
    }
    if (r->body_state == LF_BODY_DISCARDED) {
        lua_newtable(L);
        return 1;
    }
    return lf_api_decode_args(L, r->body.data ? r->body.data : "", r->body.len, max);
}

/* A header name as the client most likely wrote it: HTTP_X_ONE -> X-One. */
static void api_req_push_header_name(lua_State *L, const char *p, size_t n, int raw)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int word_start = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '_') {
            luaL_addchar(&b, '-');
            word_start = 1;
            continue;
        }
        luaL_addchar(&b, (char)(raw && word_start ? toupper(c) : tolower(c)));
        word_start = 0;
    }
    luaL_pushresult(&b);
}

/* Add value (at the top) under the name below it; repeats make a table. */
void lf_api_add_header_value(lua_State *L, int t)
{
    lua_pushvalue(L, -2);
    lua_rawget(L, t);                                /* sp: name, value, old */
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_rawset(L, t);
        return;
    }
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, -2);
        lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
        lua_pop(L, 3);
        return;
    }
    lua_createtable(L, 2, 0);                        /* sp: name, value, old, list */
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
    lua_insert(L, -2);                               /* sp: name, list, value */
    lua_rawseti(L, -2, 2);
    lua_rawset(L, t);
}

/* ngx.req.get_headers(max?, raw?): from the HTTP_* params (plus
 * CONTENT_TYPE and CONTENT_LENGTH, which Apache sends only unprefixed).
 * Keys are lower-case and the table's lookups accept any case and '_';
 * with raw, keys are in the usual Title-Case (FastCGI does not keep the
 * client's spelling) and lookups are exact. */
static int api_req_get_headers(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    int max = api_req_max(L, 1, LF_MAX_HEADERS);
    int raw = lua_toboolean(L, 2);
    lua_createtable(L, 0, 8);
    int t = lua_gettop(L), count = 0;
    const lf_fcgi_params_t *ps = r->conn->params;
    for (size_t i = 0; ps && i < ps->n; i++) {
        const char *e = lf_fcgi_param_name(ps, i), *value = lf_fcgi_param_value(ps, i);
        const char *name;
        size_t n = ps->v[i].name_len;
        if (n > 5 && memcmp(e, "HTTP_", 5) == 0) {
            name = e + 5;
            n -= 5;
        } else if ((n == 12 && memcmp(e, "CONTENT_TYPE", 12) == 0) ||
                   (n == 14 && memcmp(e, "CONTENT_LENGTH", 14) == 0)) {
            if (value[0] == '\0')
                continue; /* nginx always sends them; empty = no such header */
            /* nginx also passes these two headers as HTTP_CONTENT_TYPE /
             * HTTP_CONTENT_LENGTH (Apache does not): count them once, or
             * every POST's content-type would become a table of two. */
            char prefixed[5 + 14 + 1] = "HTTP_";
            memcpy(prefixed + 5, e, n);
            prefixed[5 + n] = '\0';
            if (lf_request_param(r, prefixed) != NULL)
                continue;
            name = e;
        } else {
            continue;
        }
        if (max > 0 && count == max) {
            lua_pushliteral(L, "truncated");
            return 2;
        }
        count++;
        api_req_push_header_name(L, name, n, raw);
        lua_pushstring(L, value);
        lf_api_add_header_value(L, t);
    }
    if (!raw) {
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_setmetatable(L, t);
    }
    return 1;
}

/* get_headers' __index: "X_One" finds "x-one". */
static int api_req_headers_index(lua_State *L)
{
    size_t n;
    const char *k = lua_tolstring(L, 2, &n);
    if (k == NULL || lua_type(L, 2) != LUA_TSTRING)
        return 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++)
        luaL_addchar(&b, k[i] == '_' ? '-' : (char)tolower((unsigned char)k[i]));
    luaL_pushresult(&b);
    lua_rawget(L, 1);
    return 1;
}

/* The metatable of get_headers' tables, one per VM.  sp++ */
void lf_api_push_headers_mt(lua_State *L)
{
    static char key;
    lua_pushlightuserdata(L, &key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_istable(L, -1))
        return;
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, api_req_headers_index);
    lua_setfield(L, -2, "__index");
    lua_pushlightuserdata(L, &key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

static int api_req_is_internal(lua_State *L)
{
    lf_api_request(L);
    lua_pushboolean(L, 0);
    return 1;
}

/* What FastCGI cannot do: the function exists and says why it fails. */
static int api_unsupported(lua_State *L)
{
    return luaL_error(L, "%s", lua_tostring(L, lua_upvalueindex(1)));
}

static void api_set_unsupported(lua_State *L, const char *name, const char *why)
{
    lua_pushfstring(L, "%s is not supported by luafpm: %s", name, why);
    lua_pushcclosure(L, api_unsupported, 1);
    lua_setfield(L, -2, strrchr(name, '.') + 1);
}

void lf_api_req_init(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"get_method", api_req_get_method},
        {"set_method", api_req_set_method},
        {"http_version", api_req_http_version},
        {"start_time", api_req_start_time},
        {"get_uri_args", api_req_get_uri_args},
        {"set_uri_args", api_req_set_uri_args},
        {"discard_body", api_req_discard_body},
        {"get_body_data", api_req_get_body_data},
        {"get_body_file", api_req_get_body_file},
        {"get_post_args", api_req_get_post_args},
        {"is_internal", api_req_is_internal},
        {NULL, NULL},
    };
    static const char *const no_headers =
        "the request headers belong to the web server; FastCGI passes a read-only copy";
    static const char *const no_body =
        "the request body comes from the web server as a read-only stream";
    lua_createtable(L, 0, 32);                       /* sp: ngx, req */
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lf_api_push_headers_mt(L);
    lua_pushcclosure(L, api_req_get_headers, 1);
    lua_setfield(L, -2, "get_headers");
    /* read_body's Lua half: an error that came while the request waited
     * (the C half cannot raise it after a yield) is raised here. */
    static const char read_body_lua[] =
        "local raw, error = ...\n"
        "return function(...)\n"
        "  local ok, err = raw(...)\n"
        "  if ok == false then error(err, 2) end\n"
        "end\n";
    if (luaL_loadbuffer(L, read_body_lua, sizeof(read_body_lua) - 1, "=ngx.req.read_body") != 0)
        lua_error(L);
    lua_pushcfunction(L, api_req_read_body);
    lua_getglobal(L, "error");
    lua_call(L, 2, 1);
    lua_setfield(L, -2, "read_body");

    api_set_unsupported(L, "ngx.req.socket", "FastCGI gives the worker no access to the client connection");
    api_set_unsupported(L, "ngx.req.raw_header", "FastCGI passes headers as parameters, not the raw request");
    api_set_unsupported(L, "ngx.req.set_header", no_headers);
    api_set_unsupported(L, "ngx.req.clear_header", no_headers);
    api_set_unsupported(L, "ngx.req.set_uri", "internal redirects happen inside the web server, not over FastCGI");
    api_set_unsupported(L, "ngx.req.set_body_data", no_body);
    api_set_unsupported(L, "ngx.req.set_body_file", no_body);
    api_set_unsupported(L, "ngx.req.init_body", no_body);
    api_set_unsupported(L, "ngx.req.append_body", no_body);
    api_set_unsupported(L, "ngx.req.finish_body", no_body);
    lua_setfield(L, -2, "req");                      /* sp: ngx */

    lua_createtable(L, 0, 2);                        /* sp: ngx, location */
    api_set_unsupported(L, "ngx.location.capture", "subrequests run inside nginx; a FastCGI backend cannot make them");
    api_set_unsupported(L, "ngx.location.capture_multi", "subrequests run inside nginx; a FastCGI backend cannot make them");
    lua_setfield(L, -2, "location");
    api_set_unsupported(L, "ngx.exec", "internal redirects happen inside the web server, not over FastCGI");
}
