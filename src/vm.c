/* vm.c - one LuaJIT VM per worker, and its chunk cache. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "api.h"
#include "embedded.h"
#include "log.h"
#include "vm.h"

char lf_vm_key_cache;
char lf_vm_key_env_mt;

#define LF_MAX_SCRIPT_SIZE (64 * 1024 * 1024)

/* The VM's allocator: plain realloc, counting the heap for the scoreboard
 * and the sandbox's memory budget (LuaJIT here is GC64, so this is allowed). */
static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lf_vm_t *vm = ud;
    if (nsize == 0) {
        free(ptr);
        vm->heap -= ptr ? osize : 0;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL)
        return NULL;
    vm->heap += nsize - (ptr ? osize : 0);
    if (vm->heap > vm->heap_peak)
        vm->heap_peak = vm->heap;
    return p;
}

static int vm_panic(lua_State *L)
{
    lf_log(LF_LOG_ALERT, "unprotected error in the Lua VM: %s", lua_tostring(L, -1));
    abort();
}

/* package[field] = prefix .. ";" .. default; ";;" in prefix stands for the default. */
static void vm_set_path(lua_State *L, const char *field, const char *prefix)
{
    if (prefix == NULL)
        return;
    lua_getglobal(L, "package");                 /* sp: package */
    lua_getfield(L, -1, field);                  /* sp: package, default */
    const char *def = lua_tostring(L, -1);
    if (strstr(prefix, ";;")) {
        lua_pushfstring(L, ";%s;", def);         /* sp: package, default, ";def;" */
        luaL_gsub(L, prefix, ";;", lua_tostring(L, -1)); /* sp: ..., new */
        lua_remove(L, -2);
    } else {
        lua_pushfstring(L, "%s;%s", prefix, def);
    }
    lua_setfield(L, -3, field);                  /* sp: package, default */
    lua_pop(L, 2);
}

/* package.preload loader for the Lua files compiled into the binary. */
static int vm_embedded_loader(lua_State *L)
{
    const lf_embedded_t *e = lua_touserdata(L, lua_upvalueindex(1));
    char chunkname[128];
    snprintf(chunkname, sizeof(chunkname), "=[luafpm %s]", e->name);
    if (luaL_loadbuffer(L, e->source, e->length, chunkname) != 0)
        return lua_error(L);
    lua_pushstring(L, e->name);
    lua_call(L, 1, 1);
    return 1;
}

static void vm_register_embedded(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");              /* sp: package, preload */
    for (const lf_embedded_t *e = lf_embedded; e->name; e++) {
        lua_pushlightuserdata(L, (void *)e);
        lua_pushcclosure(L, vm_embedded_loader, 1);
        lua_setfield(L, -2, e->name);
    }
    lua_pop(L, 2);
}

/* Everything that may raise a Lua error while a VM is built, run protected. */
static int vm_setup(lua_State *L)
{
    const lf_conf_t *conf = lua_touserdata(L, 1);
    luaL_openlibs(L);
    vm_set_path(L, "path", conf->lua_path);
    vm_set_path(L, "cpath", conf->lua_cpath);
    vm_register_embedded(L);

    /* The per-request environment's metatable: reads go through to _G. */
    lua_pushlightuserdata(L, &lf_vm_key_env_mt);
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_setfield(L, -2, "__index");
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_pushlightuserdata(L, &lf_vm_key_cache);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);

    lf_api_init(L, conf);
    return 0;
}

lf_vm_t *lf_vm_new(const lf_conf_t *conf, char *errbuf, size_t errlen)
{
    lf_vm_t *vm = calloc(1, sizeof(*vm));
    if (vm == NULL) {
        snprintf(errbuf, errlen, "out of memory creating a Lua VM");
        return NULL;
    }
    vm->L = lua_newstate(vm_alloc, vm);
    if (vm->L == NULL) {
        snprintf(errbuf, errlen, "lua_newstate() failed");
        free(vm);
        return NULL;
    }
    lua_atpanic(vm->L, vm_panic);
    lua_pushcfunction(vm->L, vm_setup);
    lua_pushlightuserdata(vm->L, (void *)conf);
    if (lua_pcall(vm->L, 1, 0, 0) != 0) {
        snprintf(errbuf, errlen, "Lua VM set-up failed: %s", lua_tostring(vm->L, -1));
        lf_vm_close(vm);
        return NULL;
    }
    return vm;
}

void lf_vm_close(lf_vm_t *vm)
{
    if (vm == NULL)
        return;
    lua_close(vm->L);
    free(vm);
}

/* A binary chunk (luajit -b) cannot be wrapped: its factory hands out the
 * one loaded function, which is safe because a worker runs one request at
 * a time and the request's environment is set on it before each run. */
static int vm_binary_factory(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    return 1;
}

/* Read a whole script into a buffer wrapped as a closure factory:
 * "return function(...) <source>\nend", the prefix on line 1 so that line
 * numbers stay right, a "#!" first line turned into a comment.  Binary
 * chunks are returned as they are.  sp++ : the compiled factory or error. */
int lf_vm_compile(lua_State *L, const char *path)
{
    static const char prefix[] = "return function(...) ";
    static const char suffix[] = "\nend";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lua_pushfstring(L, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > LF_MAX_SCRIPT_SIZE) {
        close(fd);
        lua_pushfstring(L, "cannot load %s: not a regular file of at most %d bytes", path,
                        LF_MAX_SCRIPT_SIZE);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    size_t cap = sizeof(prefix) - 1 + size + sizeof(suffix);
    char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        lua_pushfstring(L, "out of memory loading %s", path);
        return -1;
    }
    char *src = buf + sizeof(prefix) - 1;
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, src + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != size) {
        free(buf);
        lua_pushfstring(L, "cannot read %s: short read", path);
        return -1;
    }
    lua_pushfstring(L, "@%s", path);             /* sp: chunkname */
    const char *chunkname = lua_tostring(L, -1);
    int rc;
    if (size > 0 && src[0] == LUA_SIGNATURE[0]) {
        rc = luaL_loadbuffer(L, src, size, chunkname);
        if (rc == 0)
            lua_pushcclosure(L, vm_binary_factory, 1);
    } else {
        if (size >= 2 && src[0] == '#' && src[1] == '!') {
            src[0] = '-';
            src[1] = '-';
        }
        memcpy(buf, prefix, sizeof(prefix) - 1);
        memcpy(src + size, suffix, sizeof(suffix) - 1);
        /* The compiled wrapper is the factory: each call returns a new closure. */
        rc = luaL_loadbuffer(L, buf, cap - 1, chunkname);
    }
    free(buf);
    lua_remove(L, -2);                           /* sp: factory or error */
    return rc == 0 ? 0 : -1;
}

int lf_vm_push_factory(lf_vm_t *vm, const char *path)
{
    lua_State *L = vm->L;
    lua_pushlightuserdata(L, &lf_vm_key_cache);
    lua_rawget(L, LUA_REGISTRYINDEX);            /* sp: cache */
    lua_getfield(L, -1, path);                   /* sp: cache, factory? */
    if (!lua_isnil(L, -1)) {
        lua_remove(L, -2);                       /* sp: factory */
        return 0;
    }
    lua_pop(L, 1);                               /* sp: cache */
    if (lf_vm_compile(L, path) != 0) {
        lua_remove(L, -2);                       /* sp: error */
        return -1;
    }
    lua_pushvalue(L, -1);                        /* sp: cache, factory, factory */
    lua_setfield(L, -3, path);                   /* sp: cache, factory */
    lua_remove(L, -2);                           /* sp: factory */
    return 0;
}

void lf_vm_push_request_env(lua_State *L)
{
    lua_createtable(L, 0, 4);                    /* sp: env */
    lua_pushlightuserdata(L, &lf_vm_key_env_mt);
    lua_rawget(L, LUA_REGISTRYINDEX);            /* sp: env, mt */
    lua_setmetatable(L, -2);                     /* sp: env */
}
