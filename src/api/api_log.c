/* api_log.c - ngx.log and the global print, into the error log. */
#include "config.h"

#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "log.h"

void lf_api_log_message(int level, const char *msg, size_t len)
{
    if (level > lf_log_level)
        return;
    char esc[4096];
    lf_log_escape(esc, sizeof(esc), msg, len);
    lf_log_write(level == 0 ? LF_LOG_STDERR : level, 0, "%s", esc);
}

/* "[lua] file.lua:line: func(): " then the arguments, like lua-nginx-module. */
static int log_args(lua_State *L, int level, int first)
{
    int n = lua_gettop(L);
    if (level > lf_log_level) {
        return 0;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Snl", &ar)) {
        const char *src = strrchr(ar.short_src, '/');
        src = src ? src + 1 : ar.short_src;
        lua_pushfstring(L, "[lua] %s:%d: %s%s", src, ar.currentline, ar.name ? ar.name : "",
                        ar.name ? "(): " : "");
        luaL_addvalue(&b);
    } else {
        luaL_addstring(&b, "[lua] ");
    }
    for (int i = first; i <= n; i++) {
        switch (lua_type(L, i)) {
        case LUA_TNIL:
            luaL_addstring(&b, "nil");
            break;
        case LUA_TBOOLEAN:
            luaL_addstring(&b, lua_toboolean(L, i) ? "true" : "false");
            break;
        case LUA_TLIGHTUSERDATA:
            /* ngx.null; any other light userdata is left out, as
             * lua-nginx-module does */
            if (lua_touserdata(L, i) == NULL)
                luaL_addstring(&b, "null");
            break;
        case LUA_TSTRING:
            lua_pushvalue(L, i);
            luaL_addvalue(&b);
            break;
        case LUA_TNUMBER: {
            char num[LF_API_NUMBER];
            luaL_addlstring(&b, num, lf_api_number(lua_tonumber(L, i), num));
            break;
        }
        case LUA_TTABLE:
            if (!luaL_callmeta(L, i, "__tostring"))
                return luaL_argerror(L, i - first + 1, "expected table to have __tostring metamethod");
            if (!lua_isstring(L, -1))
                return luaL_argerror(L, i - first + 1, "'__tostring' must return a string");
            luaL_addvalue(&b);
            break;
        default:
            /* Arguments count from the first message, as OpenResty's. */
            lua_pushfstring(L, "string, number, boolean, or nil expected, got %s",
                            luaL_typename(L, i));
            return luaL_argerror(L, i - first + 1, lua_tostring(L, -1));
        }
    }
    luaL_pushresult(&b);
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    lf_api_log_message(level, msg, len);
    return 0;
}

static int api_log(lua_State *L)
{
    int level = (int)luaL_checkinteger(L, 1);
    if (level < 0 || level > LF_LOG_DEBUG)
        return luaL_argerror(L, 1, lua_pushfstring(L, "bad log level: %d", level));
    return log_args(L, level, 2);
}

static int api_print(lua_State *L)
{
    return log_args(L, LF_LOG_NOTICE, 1);
}

void lf_api_log_init(lua_State *L)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {
        {"STDERR", LF_LOG_STDERR}, {"EMERG", LF_LOG_EMERG}, {"ALERT", LF_LOG_ALERT},
        {"CRIT", LF_LOG_CRIT},     {"ERR", LF_LOG_ERR},     {"WARN", LF_LOG_WARN},
        {"NOTICE", LF_LOG_NOTICE}, {"INFO", LF_LOG_INFO},   {"DEBUG", LF_LOG_DEBUG},
    };
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        lua_pushinteger(L, levels[i].level);
        lua_setfield(L, -2, levels[i].name);
    }
    lua_pushcfunction(L, api_log);
    lua_setfield(L, -2, "log");
    lua_pushcfunction(L, api_print);
    lua_setglobal(L, "print");
}
