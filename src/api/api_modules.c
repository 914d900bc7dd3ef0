/* api_modules.c - the modules OpenResty libraries require (resty.core,
 * resty.core.base, ngx.process, ngx.errlog, ...) as luafpm's own
 * built-ins: lua/luafpm/modules.lua installs them over luafpm's native
 * API; this file gives it the little C it needs.  Debian's lua-resty-core
 * files (FFI calls into lua-nginx-module) are never loaded instead. */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "api.h"
#include "log.h"
#include "proc.h"

/* raw.process_type(): "single" (--workers 0), "master" or "worker". */
static int mod_process_type(lua_State *L)
{
    if (lf_proc_master_pid == 0)
        lua_pushliteral(L, "single");
    else if (getpid() == lf_proc_master_pid)
        lua_pushliteral(L, "master");
    else
        lua_pushliteral(L, "worker");
    return 1;
}

static int mod_master_pid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)(lf_proc_master_pid ? lf_proc_master_pid : getpid()));
    return 1;
}

/* raw.graceful_exit(): this worker finishes what it has and exits (its
 * SIGQUIT); the master starts another, as nginx's does. */
static int mod_graceful_exit(lua_State *L)
{
    (void)L;
    if (lf_proc_master_pid != 0 && getpid() != lf_proc_master_pid)
        kill(getpid(), SIGQUIT);
    return 0;
}

static int mod_log_level(lua_State *L)
{
    lua_pushinteger(L, lf_log_level);
    return 1;
}

/* raw.raw_log(level, msg): msg as it is, no "[lua] file:line:" prefix.
 * false for a level out of range. */
static int mod_raw_log(lua_State *L)
{
    lua_Integer level = luaL_checkinteger(L, 1);
    size_t len;
    const char *msg = luaL_checklstring(L, 2, &len);
    if (level < LF_LOG_STDERR || level > LF_LOG_DEBUG) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lf_api_log_message((int)level, msg, len);
    lua_pushboolean(L, 1);
    return 1;
}

void lf_api_modules_init(lua_State *L)
{
    static const luaL_Reg raw[] = {
        {"process_type", mod_process_type}, {"master_pid", mod_master_pid},
        {"graceful_exit", mod_graceful_exit}, {"log_level", mod_log_level},
        {"raw_log", mod_raw_log}, {NULL, NULL},
    };
    lua_getglobal(L, "require");
    lua_pushliteral(L, "luafpm.modules");
    lua_call(L, 1, 1);
    lua_createtable(L, 0, 8);
    for (const luaL_Reg *f = raw; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_call(L, 1, 0);
}
