/* globals.c - the warning a handler gets at run time when it writes a
 * global variable (luafpm --lint finds them beforehand: lint.c). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "globals.h"
#include "log.h"

/* Stop recording new sites after this many, so a handler that writes
 * globals under generated names cannot grow the VM without bound. */
#define LF_LINT_MAX_SITES 1000

static char key_sites; /* registry: "file:line" -> true, and [0] = their count */

/* Record site in the VM's table of sites warned about; 1 when it is new
 * (warn), 0 when it was seen or the table is full.  sp unchanged */
static int lint_site_is_new(lua_State *L, const char *site)
{
    lua_pushlightuserdata(L, &key_sites);
    lua_rawget(L, LUA_REGISTRYINDEX);            /* sp: sites? */
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushlightuserdata(L, &key_sites);
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);        /* sp: sites */
    }
    lua_getfield(L, -1, site);                   /* sp: sites, seen? */
    int seen = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, -1, 0);                       /* sp: sites, count? */
    lua_Integer count = lua_tointeger(L, -1);
    lua_pop(L, 1);
    int is_new = 0;
    if (!seen && count < LF_LINT_MAX_SITES) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, site);
        is_new = 1;
    } else if (!seen && count == LF_LINT_MAX_SITES) {
        lf_log(LF_LOG_WARN, "more than %d sites write global Lua variables: "
                            "no more warnings about them from this worker", LF_LINT_MAX_SITES);
    }
    if (!seen && count <= LF_LINT_MAX_SITES) {
        lua_pushinteger(L, count + 1);
        lua_rawseti(L, -2, 0);
    }
    lua_pop(L, 1);
    return is_new;
}

int lf_globals_write(lua_State *L)
{
    lua_settop(L, 3);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, 1);                            /* the write itself */
    if (LF_LOG_WARN > lf_log_level)
        return 0;

    lua_Debug ar;
    const char *file = "?";
    int line = 0;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar)) {
        file = ar.source[0] == '@' ? ar.source + 1 : ar.short_src;
        line = ar.currentline;
    }
    char name[128];
    if (lua_type(L, 2) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, 2, &len);
        lf_log_escape(name, sizeof(name), s, len);
    } else {
        snprintf(name, sizeof(name), "(a %s key)", luaL_typename(L, 2));
    }
    lua_pushfstring(L, "%s:%d", file, line);
    if (lint_site_is_new(L, lua_tostring(L, -1))) {
        char where[512];
        size_t flen = strlen(file);
        lf_log_escape(where, sizeof(where), file, flen);
        lf_log(LF_LOG_WARN,
               "writing a global Lua variable ('%s') at %s:%d: it lives for this request only "
               "(luafpm gives each request its own globals); use a local or a module",
               name, where, line);
    }
    return 0;
}
