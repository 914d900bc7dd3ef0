/* api_thread.c - ngx.thread.spawn/wait/kill: light threads of the request
 * with lua-nginx-module's rules (its ngx_http_lua_uthread.c): wait and
 * kill only from the coroutine that spawned the thread, wait returns the
 * first of several to finish, an error stays in its thread, ngx.exit in
 * any ends them all.  The scheduling is request.c's. */
#include "config.h"

#include <lauxlib.h>

#include "api.h"

/* spawn(f, ...): the new thread runs until it waits or ends; its
 * coroutine is the handle. */
static int api_thread_spawn(lua_State *L)
{
    lf_request_t *r = lf_api_context(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    if (lf_request_thread_spawn(r, L) != 0) {
        /* It ended the request (ngx.exit, a timeout): so does its parent. */
        if (!lua_isyieldable(L))
            return luaL_error(L, "a light thread ended the request where no yield is possible");
        return lua_yield(L, 0);
    }
    return 1;
}

/* wait(t1, t2, ...): the results of the first to finish. */
static int api_thread_wait(lua_State *L)
{
    lf_request_t *r = lf_api_context(L);
    int n = lua_gettop(L);
    if (n == 0)
        return luaL_error(L, "at least one coroutine should be specified");
    lf_uthread_t *ut[64];
    if (n > 64)
        return luaL_error(L, "too many threads to wait for: %d (at most 64)", n);
    for (int i = 1; i <= n; i++) {
        lua_State *co = lua_tothread(L, i);
        if (co == NULL)
            return luaL_argerror(L, i, "lua thread expected");
        ut[i - 1] = lf_request_thread_of(r, L, co);
        if (ut[i - 1] == NULL)
            return luaL_error(L, "attempt to wait on a coroutine that is not a user thread");
        if (ut[i - 1]->parent != L)
            return luaL_error(L, "only the parent coroutine can wait on the thread");
    }
    for (int i = 0; i < n; i++) {
        if (ut[i]->state == LF_UT_ZOMBIE)
            return lf_request_thread_results(ut[i], L);
        if (ut[i]->state == LF_UT_DEAD && n == 1) {
            lua_pushnil(L);
            lua_pushliteral(L, "already waited or killed");
            return 2;
        }
    }
    if (r->cur == NULL || !lua_isyieldable(L))
        return luaL_error(L, "attempt to yield across C-call boundary");
    for (int i = 0; i < n; i++)
        if (ut[i]->state != LF_UT_DEAD)
            ut[i]->waiter = r->cur;
    r->yield = LF_YIELD_THREAD;
    return lua_yield(L, 0);
}

/* kill(t): 1, or nil and why not. */
static int api_thread_kill(lua_State *L)
{
    lf_request_t *r = lf_api_context(L);
    lua_State *co = lua_tothread(L, 1);
    if (co == NULL)
        return luaL_argerror(L, 1, "lua thread expected");
    lf_uthread_t *ut = lf_request_thread_of(r, L, co);
    const char *why = NULL;
    if (ut == NULL)
        why = "not user thread";
    else if (ut->parent != L)
        why = "killer not parent";
    else if (ut->state == LF_UT_ZOMBIE)
        why = "already terminated";
    else if (ut->state == LF_UT_DEAD)
        why = "already waited or killed";
    if (why) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    lf_request_thread_kill(ut);
    lua_pushinteger(L, 1);
    return 1;
}

/* ngx.on_abort(f): 1, or nil and why not (--check-client-abort off, a
 * second call). */
static int api_on_abort(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *why;
    if (lf_request_on_abort(r, L, &why) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    lua_pushinteger(L, 1);
    return 1;
}

void lf_api_thread_init(lua_State *L)
{
    lua_pushcfunction(L, api_on_abort);
    lua_setfield(L, -2, "on_abort");
    lua_createtable(L, 0, 3);                        /* sp: ngx, thread */
    lua_pushcfunction(L, api_thread_spawn);
    lua_setfield(L, -2, "spawn");
    lua_pushcfunction(L, api_thread_wait);
    lua_setfield(L, -2, "wait");
    lua_pushcfunction(L, api_thread_kill);
    lua_setfield(L, -2, "kill");
    lua_setfield(L, -2, "thread");                   /* sp: ngx */
}
