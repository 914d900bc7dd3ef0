/* vm.c - one LuaJIT VM per worker, and its chunk cache. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>

#include "embedded.h"
#include "globals.h"
#include "log.h"
#include "vm.h"

char lf_vm_key_cache;
char lf_vm_key_env_mt;

lf_vm_install_fn lf_vm_install;
const char *lf_vm_phase = "init";

static char key_sandbox_cache; /* registry: as lf_vm_key_cache, for sandboxed scripts */
static char key_stamps;   /* registry: handler path -> lf_stamp_t (--revalidate) */
static char key_sandbox_stamps; /* the same for the sandbox's cache */
static char key_modules;  /* registry: module file -> lf_stamp_t (--revalidate) */
static char key_protect;  /* registry: vm_protected, made once */

/* What identifies a version of a file: a change in any is a new version. */
typedef struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    time_t mtime;
    long mtime_ns;
} lf_file_id_t;

typedef struct {
    lf_file_id_t id;       /* the version compiled and serving */
    lf_file_id_t failed;   /* a version that did not compile (not retried) */
    double checked;        /* CLOCK_MONOTONIC of the last stat */
} lf_stamp_t;

static double vm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int file_id(const char *path, lf_file_id_t *id)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    memset(id, 0, sizeof(*id));
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->size = st.st_size;
    id->mtime = st.st_mtim.tv_sec;
    id->mtime_ns = st.st_mtim.tv_nsec;
    return 0;
}

static int file_id_eq(const lf_file_id_t *a, const lf_file_id_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime == b->mtime &&
           a->mtime_ns == b->mtime_ns;
}

/* registry[key][path] as a stamp, created when missing.  sp unchanged */
static lf_stamp_t *vm_stamp(lua_State *L, void *key, const char *path)
{
    lua_pushlightuserdata(L, key);
    lua_rawget(L, LUA_REGISTRYINDEX);            /* sp: stamps */
    lua_getfield(L, -1, path);                   /* sp: stamps, stamp? */
    lf_stamp_t *st = lua_touserdata(L, -1);
    if (st == NULL) {
        lua_pop(L, 1);
        st = lua_newuserdata(L, sizeof(*st));    /* sp: stamps, stamp */
        memset(st, 0, sizeof(*st));
        lua_setfield(L, -2, path);
    } else {
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return st;
}

/* package.loaders[2] with --revalidate: the Lua file searcher, noting
 * which file each module came from (upvalue 1: the original searcher). */
static int vm_watching_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushstring(L, name);
    lua_getfield(L, -3, "path");
    if (lua_isfunction(L, -3) && lua_pcall(L, 2, 1, 0) == 0 && lua_isstring(L, -1)) {
        const char *file = lua_tostring(L, -1);
        lf_stamp_t *st = vm_stamp(L, &key_modules, file);
        if (file_id(file, &st->id) == 0)
            st->checked = vm_now();
    }
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 1, LUA_MULTRET);
    return lua_gettop(L);
}

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
    size_t old = ptr ? osize : 0;
    /* A sandboxed request's memory budget (a refusal makes the VM raise
     * "not enough memory"); shrinking is always allowed. */
    if (vm->heap_cap && nsize > old &&
        (vm->heap >= vm->heap_cap || nsize - old > vm->heap_cap - vm->heap) &&
        !(vm->admit && vm->admit(nsize, nsize - old)))
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p == NULL)
        return NULL;
    vm->heap += nsize - old;
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

typedef struct {
    int (*fn)(lua_State *L, void *ud);
    void *ud;
} lf_protected_t;

/* lf_vm_protect's trampoline: the C function a protected call runs. */
static int vm_protected(lua_State *L)
{
    lf_protected_t *p = lua_touserdata(L, 1);
    lua_settop(L, 0);
    p->fn(L, p->ud);
    return 0;
}

int lf_vm_protect(lua_State *L, int (*fn)(lua_State *L, void *ud), void *ud)
{
    lf_protected_t p = {fn, ud};
    /* The trampoline is made at set-up: a call allocates nothing that
     * could fail before the protection is in place. */
    lua_pushlightuserdata(L, &key_protect);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return lua_cpcall(L, vm_protected, &p) == 0 ? 0 : -1; /* p as the light userdata */
    }
    lua_pushlightuserdata(L, &p);
    return lua_pcall(L, 1, 0, 0) == 0 ? 0 : -1;
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
    /* Writes stay in the request's table, with a warning once per site. */
    lua_pushcfunction(L, lf_globals_write);
    lua_setfield(L, -2, "__newindex");
    lua_rawset(L, LUA_REGISTRYINDEX);

    /* The chunk caches and --revalidate's stamps, each a registry table. */
    char *const tables[] = {&lf_vm_key_cache, &key_sandbox_cache, &key_stamps,
                            &key_sandbox_stamps, &key_modules};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        lua_pushlightuserdata(L, tables[i]);
        lua_newtable(L);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }

    if (conf->revalidate >= 0) {
        lua_getglobal(L, "package");
        lua_getfield(L, -1, "loaders");          /* sp: package, loaders */
        lua_rawgeti(L, -1, 2);
        lua_pushcclosure(L, vm_watching_searcher, 1);
        lua_rawseti(L, -2, 2);
        lua_pop(L, 2);
    }

    /* OpenResty code says require "resty.redis"; Debian installs
     * OpenResty's libraries as nginx.* (lua-nginx-redis, ...).  Last in
     * line: a real resty.X wins. */
    static const char resty_alias[] =
        "local loaders = package.loaders\n"
        "local lua_searcher = loaders[2]\n"
        "loaders[#loaders + 1] = function(name)\n"
        "  local rest = name:match('^resty%.(.+)$')\n"
        "  if not rest then return nil end\n"
        "  local f = lua_searcher('nginx.' .. rest)\n"
        "  if type(f) == 'function' then return f end\n"
        "  return \"\\n\\tno module 'nginx.\" .. rest .. \"' (luafpm loads resty.X as Debian's nginx.X)\"\n"
        "end\n";
    if (luaL_loadbuffer(L, resty_alias, sizeof(resty_alias) - 1, "=luafpm.resty_alias") != 0)
        lua_error(L);
    lua_call(L, 0, 0);

    lua_pushlightuserdata(L, &key_protect);
    lua_pushcfunction(L, vm_protected);
    lua_rawset(L, LUA_REGISTRYINDEX);

    if (lf_vm_install)
        lf_vm_install(L, conf);
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
    vm->revalidate = conf->revalidate;
    vm->modules_checked = vm_now();
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

void lf_vm_retire(lf_vm_t *vm)
{
    if (vm == NULL)
        return;
    vm->retired = 1;
    if (vm->refs == 0)
        lf_vm_close(vm);
}

void lf_vm_release(lf_vm_t *vm)
{
    if (vm && --vm->refs == 0 && vm->retired)
        lf_vm_close(vm);
}

/* A binary chunk (luajit -b) cannot be wrapped: its factory keeps the
 * bytecode (upvalue 1, checked when it was first loaded; upvalue 2 the
 * chunk name) and loads it again for each request, so that every request
 * has a function of its own to set its environment on, as the wrapped
 * source gives (loading bytecode does not parse). */
static int vm_binary_factory(lua_State *L)
{
    size_t len;
    const char *code = lua_tolstring(L, lua_upvalueindex(1), &len);
    if (luaL_loadbuffer(L, code, len, lua_tostring(L, lua_upvalueindex(2))) != 0)
        return lua_error(L);
    return 1;
}

/* Is the file open on fd the one at path, a resolved path (no links)?
 * What was checked when path was resolved can be undone since: a name on
 * the way replaced by a link (mv -T of a symlink over the file or a
 * directory) would make open() follow it outside --root.  The kernel's
 * name for what was really opened says. */
static int vm_opened_is(int fd, const char *path)
{
    char proc[64], real[PATH_MAX];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, real, sizeof(real) - 1);
    if (n >= 0) {
        real[n] = '\0';
        return strcmp(real, path) == 0;
    }
    /* No /proc (a chroot): resolve again and compare the files. */
    struct stat a, b;
    return realpath(path, real) != NULL && strcmp(real, path) == 0 && fstat(fd, &a) == 0 &&
           stat(real, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Read a whole script into a buffer wrapped as a closure factory:
 * "return function(...) <source>\nend", the prefix on line 1 so that line
 * numbers stay right, a "#!" first line turned into a comment.  Binary
 * chunks are returned as they are.  sp++ : the compiled factory or error. */
static int vm_compile(lua_State *L, const char *path, int sandboxed, int resolved)
{
    static const char prefix[] = "return function(...) ";
    static const char suffix[] = "\nend";
    int fd = open(path, O_RDONLY | O_CLOEXEC | (resolved ? O_NOFOLLOW : 0));
    if (fd < 0) {
        lua_pushfstring(L, "cannot open %s: %s", path,
                        errno == ELOOP ? "it was replaced by a symbolic link" : strerror(errno));
        return -1;
    }
    if (resolved && !vm_opened_is(fd, path)) {
        close(fd);
        lua_pushfstring(L, "cannot load %s: a directory on its path was replaced by a symbolic "
                        "link since it was resolved", path);
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
    if (size > 0 && src[0] == LUA_SIGNATURE[0] && sandboxed) {
        /* Bytecode is not verified by LuaJIT: crafted, it reads and
         * writes memory. */
        lua_pushfstring(L, "cannot load %s: a precompiled (binary) chunk, and the sandbox takes "
                        "source text only", path);
        rc = -1;
    } else if (size > 0 && src[0] == LUA_SIGNATURE[0]) {
        rc = luaL_loadbuffer(L, src, size, chunkname);
        if (rc == 0) {
            lua_pop(L, 1);                       /* it loads: keep its bytes */
            lua_pushlstring(L, src, size);
            lua_pushstring(L, chunkname);
            lua_pushcclosure(L, vm_binary_factory, 2);
        }
    } else {
        if (size >= 2 && src[0] == '#' && src[1] == '!') {
            src[0] = '-';
            src[1] = '-';
        }
        /* The text must be a chunk on its own before it is spliced into
         * the wrapper: text that closes the wrapper's function early
         * ("end, (function() ... end)(), function(...)") would otherwise
         * run when the factory is called, with the real _G, outside any
         * sandbox.  A text that compiles alone is a block, and a block
         * followed by "end" is exactly the wrapper's body (the parser
         * stops a block at "end" as at the end of the chunk), so nothing
         * of it can run outside the handler's function. */
        rc = luaL_loadbufferx(L, src, size, chunkname, "t");
        if (rc == 0) {
            lua_pop(L, 1);
            memcpy(buf, prefix, sizeof(prefix) - 1);
            memcpy(src + size, suffix, sizeof(suffix) - 1);
            /* The compiled wrapper is the factory: each call returns a new closure. */
            rc = luaL_loadbufferx(L, buf, cap - 1, chunkname, "t");
        }
        /* Count hooks do not fire in JIT-compiled traces: sandboxed code
         * (this function and every one defined in it) stays interpreted. */
        if (rc == 0 && sandboxed)
            luaJIT_setmode(L, -1, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
    }
    free(buf);
    lua_remove(L, -2);                           /* sp: factory or error */
    return rc == 0 ? 0 : -1;
}

int lf_vm_compile(lua_State *L, const char *path, int sandboxed)
{
    return vm_compile(L, path, sandboxed, 0);
}

/* --revalidate: the cached factory (at the top) stays unless the file
 * changed and the new version compiles; a version that does not compile
 * is logged once and the last good one goes on serving (as opcache).
 * sp: cache, factory -> cache, factory (maybe another) */
static void vm_revalidate(lf_vm_t *vm, const char *path, int sandboxed)
{
    lua_State *L = vm->L;
    lf_stamp_t *st = vm_stamp(L, sandboxed ? &key_sandbox_stamps : &key_stamps, path);
    double now = vm_now();
    if (now - st->checked < vm->revalidate)
        return;
    st->checked = now;
    lf_file_id_t id;
    if (file_id(path, &id) != 0 || file_id_eq(&id, &st->id) || file_id_eq(&id, &st->failed))
        return;
    if (vm_compile(L, path, sandboxed, 1) != 0) {    /* sp: cache, old, error */
        lf_log(LF_LOG_ERR, "%s changed but does not compile, the previous version goes on serving: %s",
               path, lua_tostring(L, -1));
        lua_pop(L, 1);
        st->failed = id;
        return;
    }
    lf_log(LF_LOG_NOTICE, "%s changed: recompiled", path);
    st->id = id;
    lua_replace(L, -2);                              /* sp: cache, new */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, path);
}

int lf_vm_push_factory(lf_vm_t *vm, const char *path, int sandboxed)
{
    lua_State *L = vm->L;
    /* A file reached both ways (a symbolic link) is compiled for each. */
    lua_pushlightuserdata(L, sandboxed ? &key_sandbox_cache : &lf_vm_key_cache);
    lua_rawget(L, LUA_REGISTRYINDEX);            /* sp: cache */
    lua_getfield(L, -1, path);                   /* sp: cache, factory? */
    if (!lua_isnil(L, -1)) {
        if (vm->revalidate >= 0)
            vm_revalidate(vm, path, sandboxed);
        lua_remove(L, -2);                       /* sp: factory */
        return 0;
    }
    lua_pop(L, 1);                               /* sp: cache */
    lf_file_id_t id;
    int have_id = vm->revalidate >= 0 && file_id(path, &id) == 0;
    if (vm_compile(L, path, sandboxed, 1) != 0) {
        lua_remove(L, -2);                       /* sp: error */
        return -1;
    }
    if (have_id) {
        lf_stamp_t *st = vm_stamp(L, sandboxed ? &key_sandbox_stamps : &key_stamps, path);
        st->id = id;
        st->checked = vm_now();
    }
    lua_pushvalue(L, -1);                        /* sp: cache, factory, factory */
    lua_setfield(L, -3, path);                   /* sp: cache, factory */
    lua_remove(L, -2);                           /* sp: factory */
    return 0;
}

int lf_vm_modules_changed(lf_vm_t *vm, char *which, size_t whichlen)
{
    if (vm == NULL || vm->revalidate < 0)
        return 0;
    double now = vm_now();
    if (now - vm->modules_checked < vm->revalidate)
        return 0;
    vm->modules_checked = now;
    lua_State *L = vm->L;
    int changed = 0;
    lua_pushlightuserdata(L, &key_modules);
    lua_rawget(L, LUA_REGISTRYINDEX);            /* sp: modules */
    lua_pushnil(L);
    while (!changed && lua_next(L, -2) != 0) {   /* sp: modules, file, stamp */
        const lf_stamp_t *st = lua_touserdata(L, -1);
        const char *file = lua_tostring(L, -2);
        lf_file_id_t id;
        if (st && file && (file_id(file, &id) != 0 || !file_id_eq(&id, &st->id))) {
            snprintf(which, whichlen, "%s", file);
            changed = 1;
            lua_pop(L, 2);
            break;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return changed;
}

int lf_vm_compiles(lf_vm_t *vm, const char *path, char *errbuf, size_t errlen)
{
    int rc = luaL_loadfile(vm->L, path);
    if (rc != 0)
        snprintf(errbuf, errlen, "%s", lua_tostring(vm->L, -1) ? lua_tostring(vm->L, -1) : "?");
    lua_pop(vm->L, 1);
    return rc == 0 ? 0 : -1;
}

void lf_vm_modules_accept(lf_vm_t *vm)
{
    lua_State *L = vm->L;
    lua_pushlightuserdata(L, &key_modules);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        lf_stamp_t *st = lua_touserdata(L, -1);
        const char *file = lua_tostring(L, -2);
        if (st && file)
            file_id(file, &st->id);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Traceback for errors in init scripts. */
static int vm_traceback(lua_State *L)
{
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

typedef struct {
    const char *path, *phase;
    char *errbuf;
    size_t errlen;
    int rc;
} lf_run_file_t;

/* lf_vm_run_file's body, in a protected call (the traceback function is
 * an allocation too). */
static int vm_run_file(lua_State *L, void *ud)
{
    lf_run_file_t *a = ud;
    int base = lua_gettop(L);
    lua_pushcfunction(L, vm_traceback);
    a->rc = luaL_loadfile(L, a->path);
    if (a->rc == 0)
        a->rc = lua_pcall(L, 0, 0, base + 1);
    if (a->rc != 0)
        snprintf(a->errbuf, a->errlen, "%s script %s failed: %s",
                 a->phase == NULL ? "init" : a->phase, a->path,
                 lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)");
    lua_settop(L, base);
    return 0;
}

int lf_vm_run_file(lf_vm_t *vm, const char *path, const char *phase, char *errbuf, size_t errlen)
{
    lua_State *L = vm->L;
    const char *saved = lf_vm_phase;
    lf_vm_phase = phase;
    lf_run_file_t a = {path, phase, errbuf, errlen, 0};
    if (lf_vm_protect(L, vm_run_file, &a) != 0) {
        snprintf(errbuf, errlen, "%s script %s failed: %s", phase == NULL ? "init" : phase, path,
                 lua_isstring(L, -1) ? lua_tostring(L, -1) : "(error in luafpm)");
        lua_pop(L, 1);
        a.rc = -1;
    }
    lf_vm_phase = saved;
    return a.rc == 0 ? 0 : -1;
}

typedef struct {
    lf_vm_t *vm;
    const char *path;
    int sandboxed, ok;
} lf_preload_t;

/* One --preload file into the cache, in a protected call. */
static int vm_preload_one(lua_State *L, void *ud)
{
    lf_preload_t *p = ud;
    if (lf_vm_push_factory(p->vm, p->path, p->sandboxed) != 0)
        lf_log(LF_LOG_WARN, "--preload: %s", lua_tostring(L, -1));
    else
        p->ok = 1;
    lua_pop(L, 1);
    return 0;
}

/* --preload: compile every .lua below dir into the cache. */
static void vm_preload_dir(lf_vm_t *vm, const lf_root_t *root, const char *dir, int depth,
                           int *count)
{
    if (depth > 32)
        return;
    DIR *d = opendir(dir);
    if (d == NULL) {
        lf_log_errno(LF_LOG_WARN, errno, "--preload cannot read \"%s\"", dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            vm_preload_dir(vm, root, path, depth + 1, count);
        } else if (S_ISREG(st.st_mode) && n > 4 && strcmp(path + n - 4, ".lua") == 0) {
            lf_preload_t one = {vm, path, lf_script_sandboxed(root, NULL, path), 0};
            if (lf_vm_protect(vm->L, vm_preload_one, &one) != 0) {
                lf_log(LF_LOG_WARN, "--preload: %s: %s", path,
                       lua_isstring(vm->L, -1) ? lua_tostring(vm->L, -1) : "error in luafpm");
                lua_pop(vm->L, 1);
            } else if (one.ok) {
                (*count)++;
            }
        }
    }
    closedir(d);
}

lf_vm_t *lf_vm_prepare(const lf_conf_t *conf, const lf_root_t *root, char *errbuf, size_t errlen)
{
    lf_vm_t *vm = lf_vm_new(conf, errbuf, errlen);
    if (vm == NULL)
        return NULL;
    if (conf->init && lf_vm_run_file(vm, conf->init, "init", errbuf, errlen) != 0) {
        lf_vm_close(vm);
        return NULL;
    }
    if (conf->preload && root) {
        int count = 0;
        vm_preload_dir(vm, root, root->real, 0, &count);
        lf_log(LF_LOG_INFO, "--preload: %d handlers compiled", count);
    }
    return vm;
}

void lf_vm_push_request_env(lua_State *L)
{
    lua_createtable(L, 0, 4);                    /* sp: env */
    lua_pushlightuserdata(L, &lf_vm_key_env_mt);
    lua_rawget(L, LUA_REGISTRYINDEX);            /* sp: env, mt */
    lua_setmetatable(L, -2);                     /* sp: env */
}
