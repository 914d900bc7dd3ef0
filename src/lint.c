/* lint.c - globals in Lua code.  --lint loads each file as a worker does
 * and hands its function to lua/luafpm/lint.lua, which reads the bytecode
 * (LuaJIT's jit.util); at run time, lf_lint_global_write warns when a
 * handler writes a global, which lives for that request only. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>

#include "check.h"
#include "lint.h"
#include "log.h"
#include "vm.h"

/* Stop recording new sites after this many, so a handler that writes
 * globals under generated names cannot grow the VM without bound. */
#define LF_LINT_MAX_SITES 1000

static char key_sites; /* registry: "file:line" -> true, and [0] = their count */

typedef struct {
    const lf_conf_t *conf;
    char **paths;
    int npaths;
    int status;
} lf_lint_t;

/* compile(path) for lint.lua: the factory lf_vm_compile makes, or nil and
 * the error message.  sp: path -> factory | nil, message */
static int lint_compile(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (lf_vm_compile(L, path, 0) != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

/* Append path to the array at the top of the stack.  sp unchanged */
static void lint_add(void *ud, const char *path)
{
    lua_State *L = ud;
    lua_pushstring(L, path);
    lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
}

/* Push the --lint-globals names as an array.  sp++ */
static void lint_push_globals(lua_State *L, const char *list)
{
    lua_newtable(L);
    int n = 0;
    while (list && *list) {
        size_t len = strcspn(list, ", \t");
        if (len > 0) {
            lua_pushlstring(L, list, len);
            lua_rawseti(L, -2, ++n);
        }
        list += len;
        list += strspn(list, ", \t");
    }
}

/* The whole of --lint, run protected (lua_cpcall) with an lf_lint_t. */
static int lint_main(lua_State *L)
{
    lf_lint_t *lint = lua_touserdata(L, 1);
    char *root = lint->conf->root;
    char **paths = lint->npaths > 0 ? lint->paths : &root;
    int npaths = lint->npaths > 0 ? lint->npaths : 1;

    lua_getglobal(L, "require");
    lua_pushstring(L, "luafpm.lint");
    lua_call(L, 1, 1);                           /* sp: lint */
    lua_newtable(L);                             /* sp: lint, files */
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            fprintf(stderr, "luafpm: cannot lint %s (%d: %s)\n", paths[i], errno, strerror(errno));
            lint->status = 1;
        } else if (S_ISDIR(st.st_mode)) {
            lf_check_walk(paths[i], lint_add, L);
        } else {
            lint_add(L, paths[i]);
        }
    }
    lint_push_globals(L, lint->conf->lint_globals); /* sp: lint, files, globals */
    lua_pushcfunction(L, lint_compile);
    lua_call(L, 3, 2);                           /* sp: lines, failed */
    int n = (int)lua_objlen(L, -2);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -2, i);
        printf("%s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    if (lua_toboolean(L, -1))
        lint->status = 1;
    return 0;
}

int lf_lint_run(const lf_conf_t *conf, char **paths, int npaths)
{
    char err[1024];
    lf_vm_t *vm = lf_vm_new(conf, err, sizeof(err));
    if (vm == NULL) {
        fprintf(stderr, "luafpm: %s\n", err);
        return 1;
    }
    lf_lint_t lint = {.conf = conf, .paths = paths, .npaths = npaths, .status = 0};
    if (lua_cpcall(vm->L, lint_main, &lint) != 0) {
        fprintf(stderr, "luafpm: --lint failed: %s\n", lua_tostring(vm->L, -1));
        lint.status = 1;
    }
    lf_vm_close(vm);
    fflush(stdout);
    return lint.status;
}

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

int lf_lint_global_write(lua_State *L)
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
