/* api_var.c - ngx.var: nginx variables computed from the FastCGI params. */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include <lauxlib.h>

#include "api.h"

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

/* ngx.var[name] */
static int api_var_index(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    if (len == 0 || len >= LF_VAR_NAME_MAX)
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

    /* Any other name is the FastCGI param of the same name in upper case:
     * request_method, remote_addr, server_port, content_type, http_*, ... */
    char upper[LF_VAR_NAME_MAX];
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        upper[i] = c == '-' ? '_' : (char)toupper(c);
    }
    upper[len] = '\0';
    return push_param(L, r, upper, 0);
}

/* ngx.var[name] = value: only $args (and $query_string) are writable,
 * as in nginx; get_uri_args and $arg_* follow. */
static int api_var_newindex(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    const char *name = luaL_checkstring(L, 2);
    if (strcmp(name, "args") == 0 || strcmp(name, "query_string") == 0) {
        if (lua_isnil(L, 3))
            lua_pushliteral(L, "");
        else if (lua_type(L, 3) == LUA_TSTRING || lua_type(L, 3) == LUA_TNUMBER)
            lua_pushstring(L, lua_tostring(L, 3));
        else
            return luaL_error(L, "bad variable value");
        luaL_unref(L, LUA_REGISTRYINDEX, r->args_ref);
        r->args_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return 0;
    }
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
