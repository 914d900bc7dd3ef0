/* api_var.c - ngx.var: nginx variables computed from the FastCGI params. */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "log.h"

#define LF_VAR_NAME_MAX 256

/* nil for a missing or (for args) empty value. */
static int push_param(lua_State *L, lf_request_t *r, const char *name, int empty_is_nil)
{
    const char *v = lf_request_param(r, name);
    if (v == NULL || (empty_is_nil && v[0] == '\0'))
        return 0;
    lua_pushstring(L, v);
    return 1;
}

/* Find key (case-insensitive) in a "k=v<sep>k=v" list; push the raw value. */
static int push_list_value(lua_State *L, const char *list, const char *key, size_t klen, char sep)
{
    if (list == NULL)
        return 0;
    const char *p = list;
    while (*p) {
        while (sep == ';' && *p == ' ')
            p++;
        const char *end = strchr(p, sep);
        if (end == NULL)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq && (size_t)(eq - p) == klen && strncasecmp(p, key, klen) == 0) {
            lua_pushlstring(L, eq + 1, (size_t)(end - eq - 1));
            return 1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* $host: the Host header without its port, lower-cased, else SERVER_NAME. */
static int push_host(lua_State *L, lf_request_t *r)
{
    const char *h = lf_request_param(r, "HTTP_HOST");
    if (h == NULL || h[0] == '\0')
        return push_param(L, r, "SERVER_NAME", 0);
    size_t n = strlen(h);
    const char *colon = h[0] == '[' ? strchr(h, ']') : strchr(h, ':');
    if (colon && h[0] == '[')
        colon++;
    if (colon && (*colon == ':' || *colon == '\0'))
        n = (size_t)(colon - h);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++)
        luaL_addchar(&b, (char)tolower((unsigned char)h[i]));
    luaL_pushresult(&b);
    return 1;
}

static int push_scheme(lua_State *L, lf_request_t *r)
{
    const char *s = lf_request_param(r, "REQUEST_SCHEME");
    if (s && s[0]) {
        lua_pushstring(L, s);
        return 1;
    }
    const char *https = lf_request_param(r, "HTTPS");
    lua_pushstring(L, https && (strcasecmp(https, "on") == 0 || strcmp(https, "1") == 0) ? "https" : "http");
    return 1;
}

/* SCRIPT_FILENAME in Apache mod_proxy_fcgi's "proxy:fcgi://..." form. */
static int is_apache(lf_request_t *r)
{
    const char *f = lf_request_param(r, "SCRIPT_FILENAME");
    return f && strncmp(f, "proxy:", 6) == 0;
}

/* $uri without DOCUMENT_URI (Apache, lighttpd): the decoded path is
 * SCRIPT_NAME followed by PATH_INFO (RFC 3875); Apache's SetHandler form
 * sends "/x.lua" and "/extra/path" for /x.lua/extra/path. */
static int push_uri(lua_State *L, lf_request_t *r)
{
    const char *sn = lf_request_param(r, "SCRIPT_NAME");
    const char *pi = lf_request_param(r, "PATH_INFO");
    if (sn == NULL)
        return 0;
    lua_pushstring(L, sn);
    lua_pushstring(L, pi ? pi : "");
    lua_concat(L, 2);
    return 1;
}

/* $path_info without PATH_INFO: Apache's ProxyPassMatch form sends the
 * whole decoded path as SCRIPT_NAME ("/x.lua/extra/path"); split it like
 * nginx's fastcgi_split_path_info ^(.+?\.lua)(/.*)$ (and script.c). */
static int push_apache_path_info(lua_State *L, lf_request_t *r)
{
    const char *sn = lf_request_param(r, "SCRIPT_NAME");
    if (sn == NULL || !is_apache(r))
        return 0;
    for (const char *p = sn; (p = strstr(p, ".lua/")) != NULL; p++) {
        if (p > sn && p[-1] != '/') {
            lua_pushstring(L, p + 4);
            return 1;
        }
    }
    return 0;
}

/* The variable name of ngx.var[key] in lower case into buf, as nginx
 * looks names up: 0; 1 when it is longer than any variable; -1 when key
 * is no string. */
static int var_name(lua_State *L, int idx, char *buf, size_t buflen, size_t *len)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        return -1;
    const char *name = lua_tolstring(L, idx, len);
    if (*len >= buflen)
        return 1;
    for (size_t i = 0; i < *len; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[*len] = '\0';
    return 0;
}

/* A FastCGI param, nil when it is empty (nginx always sends some). */
static int push_nonempty_param(lua_State *L, lf_request_t *r, const char *param)
{
    return push_param(L, r, param, 1);
}

/* ngx.var[name] */
static int api_var_index(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    char name[LF_VAR_NAME_MAX];
    size_t len;
    if (lua_type(L, 2) == LUA_TNUMBER)
        return 0; /* $1..$9, regex captures: luafpm's location has none */
    int named = var_name(L, 2, name, sizeof(name), &len);
    if (named < 0)
        return luaL_error(L, "bad variable name");
    if (named > 0 || len == 0)
        return 0;

    if (strcmp(name, "uri") == 0 || strcmp(name, "document_uri") == 0)
        return push_param(L, r, "DOCUMENT_URI", 0) || push_uri(L, r);
    if (strcmp(name, "path_info") == 0)
        return push_param(L, r, "PATH_INFO", 0) || push_apache_path_info(L, r);
    if (strcmp(name, "args") == 0 || strcmp(name, "query_string") == 0) {
        size_t alen;
        const char *a = lf_request_args(r, &alen);
        if (alen == 0)
            return 0;
        lua_pushlstring(L, a, alen);
        return 1;
    }
    if (strcmp(name, "is_args") == 0) {
        size_t alen;
        lf_request_args(r, &alen);
        lua_pushstring(L, alen ? "?" : "");
        return 1;
    }
    if (strcmp(name, "request_method") == 0) {
        if (r->method == NULL)
            return push_param(L, r, "REQUEST_METHOD", 0);
        lua_pushstring(L, r->method);
        return 1;
    }
    if (strcmp(name, "content_length") == 0 || strcmp(name, "content_type") == 0 ||
        strcmp(name, "remote_user") == 0) {
        char upper[16];
        for (size_t i = 0; i <= len; i++)
            upper[i] = (char)toupper((unsigned char)name[i]);
        return push_nonempty_param(L, r, upper);
    }
    if (strcmp(name, "limit_rate") == 0) {
        char num[32];
        snprintf(num, sizeof(num), "%lld", r->limit_rate);
        lua_pushstring(L, num);
        return 1;
    }
    if (strcmp(name, "host") == 0)
        return push_host(L, r);
    if (strcmp(name, "scheme") == 0)
        return push_scheme(L, r);
    if (strcmp(name, "request_filename") == 0) {
        /* Apache's "proxy:fcgi://host:port/path" is no file name (and may
         * hold the path info, percent-encoded): the script luafpm runs. */
        if (is_apache(r) && r->script) {
            lua_pushstring(L, r->script);
            return 1;
        }
        return push_param(L, r, "SCRIPT_FILENAME", 0);
    }
    if (strcmp(name, "request") == 0) {
        const char *m = lf_request_param(r, "REQUEST_METHOD");
        const char *u = lf_request_param(r, "REQUEST_URI");
        const char *p = lf_request_param(r, "SERVER_PROTOCOL");
        if (m == NULL || u == NULL)
            return 0;
        lua_pushfstring(L, "%s %s %s", m, u, p ? p : "HTTP/1.0");
        return 1;
    }
    if (strncmp(name, "arg_", 4) == 0) {
        size_t alen;
        return push_list_value(L, lf_request_args(r, &alen), name + 4, len - 4, '&');
    }
    if (strncmp(name, "cookie_", 7) == 0)
        return push_list_value(L, lf_request_param(r, "HTTP_COOKIE"), name + 7, len - 7, ';');
    int n = lf_api_var_nginx(L, r, name, len);
    if (n >= 0)
        return n;

    /* Any other name is the FastCGI param of the same name in upper case:
     * remote_addr, server_port, http_*, ...  A name nginx could not have
     * (a '-' in it) is no variable. */
    char upper[LF_VAR_NAME_MAX];
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '_')
            return 0;
        upper[i] = (char)toupper(c);
    }
    upper[len] = '\0';
    return push_param(L, r, upper, 0);
}

/* The value of a write as OpenResty takes it: nil and strings as they
 * are, anything else as tostring would write it (a __tostring runs, in
 * the sandbox under its budget as any metamethod).  sp++ */
static void var_value(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TSTRING:
        lua_pushvalue(L, idx);
        return;
    case LUA_TNUMBER:
        lua_pushstring(L, lua_tostring(L, idx)); /* tostring's own digits */
        return;
    case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
        return;
    default:
        if (luaL_callmeta(L, idx, "__tostring")) {
            if (!lua_isstring(L, -1))
                luaL_error(L, "'__tostring' must return a string");
            return;
        }
        lua_pushfstring(L, "%s: %p", luaL_typename(L, idx), lua_topointer(L, idx));
    }
}

/* $limit_rate = "100k": bytes per second, as nginx's ngx_parse_size reads
 * it (k and m suffixes); -1 when it is no size. */
static long long var_parse_size(const char *s, size_t len)
{
    long long scale = 1, v = 0;
    if (len > 0 && (s[len - 1] == 'k' || s[len - 1] == 'K'))
        scale = 1024, len--;
    else if (len > 0 && (s[len - 1] == 'm' || s[len - 1] == 'M'))
        scale = 1024 * 1024, len--;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (LLONG_MAX / 10 - 9) / scale)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v * scale;
}

/* ngx.var.limit_rate = v: nginx in front applies it from the response's
 * X-Accel-Limit-Rate header, so it counts only before the headers leave. */
static int var_set_limit_rate(lua_State *L, lf_request_t *r)
{
    size_t len = 0;
    const char *v = lua_isnil(L, -1) ? "" : lua_tolstring(L, -1, &len);
    long long rate = var_parse_size(v, len);
    if (rate < 0) {
        char esc[256];
        lf_log_escape(esc, sizeof(esc), v, len);
        lf_log(LF_LOG_ERR, "invalid $limit_rate \"%s\"", esc);
        return 0;
    }
    r->limit_rate = rate;
    if (r->headers_sent) {
        lf_log(LF_LOG_WARN, "ngx.var.limit_rate set after the response headers were sent: "
                            "nginx reads it from them, so it has no effect");
        return 0;
    }
    char num[32];
    int n = snprintf(num, sizeof(num), "%lld", rate);
    lf_headers_remove(&r->headers, "x-accel-limit-rate", 18);
    if (lf_headers_add(&r->headers, "X-Accel-Limit-Rate", 18, num, (size_t)n) != 0)
        return luaL_error(L, "no memory");
    return 0;
}

/* ngx.var[name] = value: $args and $limit_rate are writable, as in nginx
 * (get_uri_args and $arg_* follow $args); nginx's other variables are
 * "not changeable"; any other name was never defined. */
static int api_var_newindex(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    char name[LF_VAR_NAME_MAX];
    size_t len;
    int named = var_name(L, 2, name, sizeof(name), &len);
    if (named < 0)
        return luaL_error(L, "bad variable name");
    if (named > 0)
        return luaL_error(L, "variable \"%s\" not found for writing", lua_tostring(L, 2));
    if (strcmp(name, "args") == 0) {
        var_value(L, 3);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushliteral(L, "");
        }
        luaL_unref(L, LUA_REGISTRYINDEX, r->args_ref);
        r->args_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return 0;
    }
    if (strcmp(name, "limit_rate") == 0) {
        var_value(L, 3);
        return var_set_limit_rate(L, r);
    }
    if (lf_api_var_is_nginx(name))
        return luaL_error(L, "variable \"%s\" not changeable", name);
    return luaL_error(L, "variable \"%s\" not found for writing; maybe it is a built-in variable that is not changeable or you forgot to use \"set $%s '';\" in the config file to define it first",
                      name, name);
}

void lf_api_var_init(lua_State *L)
{
    lua_newtable(L);                                 /* sp: ngx, var */
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, api_var_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, api_var_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "var");                      /* sp: ngx */
}
