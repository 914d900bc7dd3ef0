/* api_timer.c - ngx.timer.at/every/running_count/pending_count and
 * ngx.worker.exiting, with lua-nginx-module's arguments and messages
 * (its ngx_http_lua_timer.c); the timers themselves are timer.c's. */
#include "config.h"

#include <lauxlib.h>

#include "api.h"
#include "timer.h"

static int api_timer_add(lua_State *L, int every)
{
    int n = lua_gettop(L);
    if (n < 2)
        return luaL_error(L, "expecting at least 2 arguments but got %d", n);
    lua_Number delay = luaL_checknumber(L, 1);
    if (!lua_isfunction(L, 2) || lua_iscfunction(L, 2))
        return luaL_argerror(L, 2, "Lua function expected");
    if (every && delay == 0)
        return luaL_error(L, "delay cannot be zero");
    if (every && delay < 0)
        return luaL_error(L, "delay cannot be negative");
    lf_request_t *r = lf_api_context(L);
    const char *why = NULL;
    if (lf_timers_add(L, r->vm, delay, every ? delay : 0, &why) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    lua_pushinteger(L, 1);
    return 1;
}

static int api_timer_at(lua_State *L)
{
    return api_timer_add(L, 0);
}

static int api_timer_every(lua_State *L)
{
    return api_timer_add(L, 1);
}

static int api_timer_running_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lf_timers_running());
    return 1;
}

static int api_timer_pending_count(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lf_timers_pending());
    return 1;
}

void lf_api_timer_init(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"at", api_timer_at}, {"every", api_timer_every},
        {"running_count", api_timer_running_count}, {"pending_count", api_timer_pending_count},
        {NULL, NULL},
    };
    lua_createtable(L, 0, 4);                        /* sp: ngx, timer */
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_setfield(L, -2, "timer");                    /* sp: ngx */
}
