/* vm.h - a worker's LuaJIT VM: creation, the ngx API, the chunk cache. */
#ifndef LF_VM_H
#define LF_VM_H

#include <stddef.h>

#include <lua.h>

#include "conf.h"
#include "script.h"

typedef struct {
    lua_State *L;
    size_t heap;      /* bytes currently allocated by the VM */
    size_t heap_peak;
    size_t heap_cap;  /* a sandboxed request's limit on heap, 0 = none */
    double revalidate;        /* --revalidate, < 0 = never */
    double modules_checked;   /* when its modules' files were last checked */
    /* While a sandboxed request runs: may the heap grow past heap_cap by
     * grow (to size)?  Its budget decides (sandbox.c). */
    int (*admit)(size_t size, size_t grow);
    unsigned refs;            /* requests in flight in it */
    unsigned retired : 1;     /* closed when the last of them ends */
} lf_vm_t;

/* What a new VM gets on top of Lua's libraries and the package paths:
 * the ngx API and the sandbox's set-up, from the layers above the VM
 * (main.c sets it before the first VM).  It may raise errors. */
typedef void (*lf_vm_install_fn)(lua_State *L, const lf_conf_t *conf);
extern lf_vm_install_fn lf_vm_install;
/* What runs outside a request: "init" (the --init script, module loading)
 * or "init_worker" (ngx.get_phase). */
extern const char *lf_vm_phase;

/* A ready VM (libraries, ngx, package paths); NULL with errbuf set. */
lf_vm_t *lf_vm_new(const lf_conf_t *conf, char *errbuf, size_t errlen);
void lf_vm_close(lf_vm_t *vm);
/* A VM no new request goes to (replaced by --revalidate, or made for one
 * request in development mode): closed now, or when the last request in
 * it ends (lf_vm_release). */
void lf_vm_retire(lf_vm_t *vm);
void lf_vm_release(lf_vm_t *vm);

/* A VM ready to serve: lf_vm_new, then the --init script (phase "init")
 * and, with --preload, every handler under root compiled.  NULL with
 * errbuf set (an init error names the file and has a traceback). */
lf_vm_t *lf_vm_prepare(const lf_conf_t *conf, const lf_root_t *root, char *errbuf, size_t errlen);

/* Run a plain Lua file (an init script) in the VM with the given phase;
 * 0 or -1 with the error and traceback in errbuf. */
int lf_vm_run_file(lf_vm_t *vm, const char *path, const char *phase, char *errbuf, size_t errlen);

/* With --revalidate: has a file some module was loaded from (require
 * through package.path) changed since?  Checked at most every
 * --revalidate seconds; 1 with its name in which. */
int lf_vm_modules_changed(lf_vm_t *vm, char *which, size_t whichlen);
/* Does the Lua file compile (nothing is run)?  0, or -1 with the error. */
int lf_vm_compiles(lf_vm_t *vm, const char *path, char *errbuf, size_t errlen);
/* Take the module files as they are now as seen (after a failed reload). */
void lf_vm_modules_accept(lf_vm_t *vm);

/* Push the closure factory for the script at the resolved path, compiling
 * and caching it on first use (sandboxed: by the sandbox's rules, in a
 * cache of its own).  sp++ : the factory, or an error message when it
 * returns -1. */
int lf_vm_push_factory(lf_vm_t *vm, const char *path, int sandboxed);

/* Compile the script at path as the worker does, without caching: the
 * source wrapped as "return function(...) <source>\nend" (line numbers
 * kept, a "#!" line skipped), errors as "path:line: message".  Sandboxed:
 * source text only (a binary chunk is refused) and the JIT off for all of
 * it.  sp++ : the factory, or an error message when it returns -1.  Used
 * by -t too. */
int lf_vm_compile(lua_State *L, const char *path, int sandboxed);

/* Run fn(L, ud) in a protected call: 0, or -1 with the error value at
 * the top of L (an out-of-memory error or any other that fn raises).  The
 * stack as it was, plus that error.  Allocates nothing before the
 * protection is in place. */
int lf_vm_protect(lua_State *L, int (*fn)(lua_State *L, void *ud), void *ud);

/* Push a fresh per-request globals table reading through to _G.  sp++ */
void lf_vm_push_request_env(lua_State *L);

/* Registry keys (addresses of statics), shared by the api_*.c files. */
extern char lf_vm_key_cache;
extern char lf_vm_key_env_mt;

#endif
