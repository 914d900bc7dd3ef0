/* vm.h - a worker's LuaJIT VM: creation, the ngx API, the chunk cache. */
#ifndef LF_VM_H
#define LF_VM_H

#include <stddef.h>

#include <lua.h>

#include "conf.h"

typedef struct {
    lua_State *L;
    size_t heap;      /* bytes currently allocated by the VM */
    size_t heap_peak;
} lf_vm_t;

/* A ready VM (libraries, ngx, package paths); NULL with errbuf set. */
lf_vm_t *lf_vm_new(const lf_conf_t *conf, char *errbuf, size_t errlen);
void lf_vm_close(lf_vm_t *vm);

/* Push the closure factory for the script at the resolved path, compiling
 * and caching it on first use.  sp++ : the factory, or an error message
 * when it returns -1. */
int lf_vm_push_factory(lf_vm_t *vm, const char *path);

/* Compile the script at path as the worker does, without caching: the
 * source wrapped as "return function(...) <source>\nend" (line numbers
 * kept, a "#!" line skipped), errors as "path:line: message".  sp++ : the
 * factory, or an error message when it returns -1.  Used by -t too. */
int lf_vm_compile(lua_State *L, const char *path);

/* Push a fresh per-request globals table reading through to _G.  sp++ */
void lf_vm_push_request_env(lua_State *L);

/* Registry keys (addresses of statics), shared by the api_*.c files. */
extern char lf_vm_key_cache;
extern char lf_vm_key_env_mt;

#endif
