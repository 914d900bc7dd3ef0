/* api_coroutine.c - ngx.sleep and OpenResty's coroutine semantics: API
 * calls yield to the C side through any user coroutines (see
 * lua/luafpm/coroutine.lua for the Lua half). */
#include "config.h"

#include <limits.h>
#include <stdio.h>

#include <lauxlib.h>

#include "api.h"
#include "sandbox.h"
#include "timeout.h"

/* Is the yield in progress one of ours (ngx.exit, ngx.sleep, abort)? */
static int api_co_yielded(lua_State *L)
{
    lf_request_t *r = lf_request_current;
    /* The hooks of the timeout and the sandbox yield without a word to
     * the request: their flags say it. */
    lua_pushboolean(L, r != NULL && (r->yield != LF_YIELD_NONE || lf_timeout_expired() ||
                                     (r->sandboxed && lf_sandbox_stopping())));
    return 1;
}

/* End the request with the error at 1, past any pcall.  Outside a request
 * (init code, the main thread) it is an ordinary error. */
static int api_co_abort(lua_State *L)
{
    lf_request_t *r = lf_request_current;
    lua_settop(L, 1);
    if (r == NULL || r->co == NULL || L == r->vm->L) {
        if (lua_type(L, 1) == LUA_TSTRING) {
            luaL_where(L, 1);
            lua_insert(L, 1);
            lua_concat(L, 2);
        }
        return lua_error(L);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, r->abort_ref);
    r->abort_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    r->yield = LF_YIELD_ABORT;
    return lua_yield(L, 0);
}

/* ngx.sleep(seconds): the request's coroutine yields, a timer of the
 * worker's loop resumes it, other requests run meanwhile (request.c). */
static int api_sleep(lua_State *L)
{
    int n = lua_gettop(L);
    if (n != 1)
        return luaL_error(L, "attempt to pass %d arguments, but accepted 1", n);
    lf_request_t *r = lf_api_context(L);
    /* Whole milliseconds, as lua-nginx-module counts (and says) them. */
    lua_Number ms = luaL_checknumber(L, 1) * 1000;
    if (!(ms > -1) || ms > 1e12) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", ms > -9e18 && ms < 9e18 ? (long long)ms : LLONG_MIN);
        return luaL_error(L, "invalid sleep duration \"%s\"", buf);
    }
    r->sleep_seconds = (lua_Number)(long long)ms / 1000;
    r->yield = LF_YIELD_SLEEP;
    return lua_yield(L, 0);
}

void lf_api_coroutine_init(lua_State *L)
{
    lua_pushcfunction(L, api_sleep);                 /* sp: ngx, sleep */
    lua_setfield(L, -2, "sleep");
    lua_getglobal(L, "require");
    lua_pushliteral(L, "luafpm.coroutine");
    lua_call(L, 1, 1);                               /* sp: ngx, install */
    lua_pushcfunction(L, api_co_yielded);
    lua_pushcfunction(L, api_co_abort);
    lua_call(L, 2, 0);                               /* sp: ngx */
}
