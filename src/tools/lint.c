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
