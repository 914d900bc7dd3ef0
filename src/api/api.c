/* api.c - assemble the ngx table; ngx.ctx and ngx.status go through its
 * metatable because they belong to the request, not to the table. */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "timer.h"
#include "log.h"
#include "proc.h"

#include <unistd.h>


lf_request_t *lf_api_context(lua_State *L)
{
    lf_request_t *r = lf_request_current;
    if (r == NULL)
        luaL_error(L, "API disabled in the context of %s", lf_vm_phase);
    return r;
}

lf_request_t *lf_api_request(lua_State *L)
{
    lf_request_t *r = lf_api_context(L);
    if (r->is_timer)
        luaL_error(L, "API disabled in the context of %s",
                   r->phase && r->phase[0] == 't' ? "ngx.timer" : r->phase ? r->phase : "ngx.timer");
    return r;
}

/* ngx.ctx: a table per request, made on first use.  sp++ */
static void api_push_ctx(lua_State *L, lf_request_t *r)
{
    if (r->ctx_ref == LUA_NOREF) {
        lua_newtable(L);
        lua_pushvalue(L, -1);
        r->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->ctx_ref);
}

/* __index(ngx, key) */
static int api_ngx_index(lua_State *L)
{
    size_t len;
    const char *key = lua_tolstring(L, 2, &len);
    if (key == NULL)
        return 0;
    if (len == 6 && memcmp(key, "status", 6) == 0)
        return lf_api_status_get(L, lf_api_request(L));
    if (len == 3 && memcmp(key, "ctx", 3) == 0) {
        api_push_ctx(L, lf_api_context(L));
        return 1;
    }
    if (len == 12 && memcmp(key, "headers_sent", 12) == 0) {
        lua_pushboolean(L, lf_api_request(L)->headers_sent);
        return 1;
    }
    if (len == 13 && memcmp(key, "is_subrequest", 13) == 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    return 0;
}

/* __newindex(ngx, key, value) */
static int api_ngx_newindex(lua_State *L)
{
    size_t len;
    const char *key = lua_tolstring(L, 2, &len);
    if (key && len == 6 && memcmp(key, "status", 6) == 0)
        return lf_api_status_set(L, lf_api_request(L), 3);
    if (key && len == 3 && memcmp(key, "ctx", 3) == 0) {
        lf_request_t *r = lf_api_request(L);
        if (!lua_istable(L, 3))
            return luaL_error(L, "ctx should be a table while getting a %s", luaL_typename(L, 3));
        if (r->ctx_ref != LUA_NOREF)
            luaL_unref(L, LUA_REGISTRYINDEX, r->ctx_ref);
        lua_pushvalue(L, 3);
        r->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return 0;
    }
    lua_rawset(L, 1);
    return 0;
}

static int api_worker_id(lua_State *L)
{
    lua_pushinteger(L, lf_proc_worker_id);
    return 1;
}

static int api_worker_pid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

static int api_worker_count(lua_State *L)
{
    lua_pushinteger(L, lf_proc_worker_count);
    return 1;
}

/* ngx.worker.pids(): the pids of this generation's workers, by id (from
 * the scoreboard); just this process without one (--workers 0). */
static int api_worker_pids(lua_State *L)
{
    static pid_t pids[1024];
    if (lf_request_current == NULL && strncmp(lf_vm_phase, "init", 4) == 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "API disabled in the current context");
        return 2;
    }
    int n = lf_proc_worker_pids ? lf_proc_worker_pids(pids, (int)(sizeof(pids) / sizeof(pids[0]))) : 0;
    lua_createtable(L, n > 0 ? n : 1, 0);
    if (n == 0) {
        lua_pushinteger(L, (lua_Integer)getpid());
        lua_rawseti(L, -2, 1);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)pids[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int api_worker_exiting(lua_State *L)
{
    lua_pushboolean(L, lf_timers_exiting());
    return 1;
}

/* ngx.worker.*  sp: ngx */
static void api_worker_init(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"id", api_worker_id}, {"pid", api_worker_pid}, {"count", api_worker_count},
        {"exiting", api_worker_exiting}, {"pids", api_worker_pids}, {NULL, NULL},
    };
    lua_createtable(L, 0, 5);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_setfield(L, -2, "worker");
}

/* ngx.get_phase(): "content" in a request, else what runs: "init" (the
 * --init script, module loading) or "init_worker". */
static int api_get_phase(lua_State *L)
{
    lua_pushstring(L, lf_request_current ? (lf_request_current->is_timer ? lf_request_current->phase : "content")
                                         : lf_vm_phase);
    return 1;
}

static int api_config_prefix(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    return 1;
}

static int api_config_nginx_configure(lua_State *L)
{
    lua_pushliteral(L, "");
    return 1;
}

/* ngx.config: the API level luafpm follows, so libraries that check
 * ngx_lua_version accept it (lua-nginx-module 0.10.26, OpenResty 1.25.3).
 * prefix() is the script root, with a trailing slash as nginx's prefix. */
static void api_config_init(lua_State *L, const lf_conf_t *conf)
{
    char root[PATH_MAX];
    const char *dir = conf && conf->root && realpath(conf->root, root) ? root : ".";
    lua_createtable(L, 0, 8);
    lua_pushliteral(L, "http");
    lua_setfield(L, -2, "subsystem");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "debug");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "is_console");
    lua_pushinteger(L, 10026);
    lua_setfield(L, -2, "ngx_lua_version");
    lua_pushinteger(L, 1025003);
    lua_setfield(L, -2, "nginx_version");
    lua_pushfstring(L, "%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/");
    lua_pushcclosure(L, api_config_prefix, 1);
    lua_setfield(L, -2, "prefix");
    lua_pushcfunction(L, api_config_nginx_configure);
    lua_setfield(L, -2, "nginx_configure");
    lua_setfield(L, -2, "config");
}

void lf_api_init(lua_State *L, const lf_conf_t *conf)
{
    lua_createtable(L, 0, 96);                       /* sp: ngx */
    lua_pushlightuserdata(L, NULL);                  /* ngx.null, as cjson.null */
    lua_setfield(L, -2, "null");
    lf_api_output_init(L);
    lf_api_say_init(L);
    lf_api_var_init(L);
    lf_api_req_init(L);
    lf_api_log_init(L);
    api_worker_init(L);
    api_config_init(L, conf);
    lua_pushcfunction(L, api_get_phase);
    lua_setfield(L, -2, "get_phase");
    lf_api_string_init(L);
    lf_api_time_init(L);
    lf_api_coroutine_init(L);
    lf_api_thread_init(L);
    lf_api_timer_init(L);
    lf_api_socket_init(L);
    lf_api_semaphore_init(L);
    lf_api_re_init(L, conf);
    lf_api_shdict_init(L);

    lua_createtable(L, 0, 2);                        /* sp: ngx, mt */
    lua_pushcfunction(L, api_ngx_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, api_ngx_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);                         /* sp: ngx */

    lua_pushvalue(L, -1);
    lua_setglobal(L, "ngx");
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");                   /* sp: ngx, package, loaded */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "ngx");
    lua_pop(L, 2);                                   /* sp: ngx */

    /* The parts simpler in Lua (constants, small helpers). */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "luafpm.ngx");
    lua_call(L, 1, 1);                               /* sp: ngx, init */
    lua_pushvalue(L, -2);
    lua_call(L, 1, 0);                               /* sp: ngx */
    lua_pop(L, 1);
    lf_api_modules_init(L); /* resty.core, ngx.process, ...: over the ngx table */
}
