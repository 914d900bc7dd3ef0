/* sandbox.c - scripts under --sandbox-root run with a whitelisted
 * environment and two budgets per request (doc/sandbox.md):
 *
 *   instructions: a count hook fires every slice of VM instructions and
 *     adds them up.  Hooks fire in the interpreter only, so the sandboxed
 *     code is compiled with the JIT off (vm.c).  One hook covers every
 *     coroutine of the VM.
 *   memory: the VM's allocator (vm.c) asks here before the heap grows
 *     past the request's cap (its heap at the start plus the budget, less
 *     the host's copies charged to it: lf_sandbox_charge_memory).  The
 *     allocator cannot collect garbage itself, so the allocation goes
 *     ahead and the hook runs a full collection before the next
 *     instruction; a request still over its cap then has spent its budget.
 *     An allocation larger than the budget, or one that would take the
 *     heap past the cap plus the budget, is refused before it happens.
 *
 * Once a budget is spent the hook fires at every instruction and stops the
 * script: it yields the request's coroutine (lf_sandbox_stopping; through
 * pcall and user coroutines, as ngx.exit does), or raises where no yield is
 * possible (Lua called from C), again and again until a yield is possible,
 * so nothing the script does can catch it.  The guarded pcall/xpcall of
 * lua/luafpm/sandbox.lua stop the script too when what they caught was
 * the budget. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "globals.h"
#include "sandbox.h"

/* Instructions between two runs of the hook (fewer when the budget is
 * smaller): small enough to bound the overshoot, large enough that the
 * hook (a C call) costs little next to the instructions. */
#define LF_SANDBOX_SLICE 1000

static char key_env_mt;         /* registry: the sandboxed env's metatable */
static char key_string_methods; /* registry: string methods for sandboxed code */
static char key_string_saved;   /* registry: the string metatable's __index outside */
static char key_reset;          /* registry: sandbox.lua's per-request reset */
static char key_message;        /* registry: the error a stopped script sees */

static struct {
    int active;               /* a sandboxed request runs */
    lf_vm_t *vm;
    lf_sandbox_over_t over;
    long long budget;         /* instructions, 0 = no limit */
    long long used;           /* instructions counted so far */
    int slice;                /* the hook's count between checks */
    int count;                /* the count it runs with now (slice or 1) */
    int collect;              /* the heap passed the cap: collect, then check */
    size_t base;              /* the heap when the request began */
    long long memory;         /* --sandbox-memory, 0 = no limit */
    size_t host;              /* bytes the host copied for the request */
    size_t refused;           /* the allocation that was refused */
    int refused_host;         /* it was a host copy, not the VM's */
    size_t in_use;            /* what the request had added by then */
} sb;

/* What the request adds to the worker: its share of the heap and the
 * host's copies. */
static size_t sandbox_in_use(void)
{
    lf_vm_t *vm = sb.vm;
    return (vm->heap > sb.base ? vm->heap - sb.base : 0) + sb.host;
}

/* The heap's cap: the budget less what the host's copies took of it. */
static void sandbox_set_cap(void)
{
    size_t room = (size_t)sb.memory - sb.host;
    lf_vm_t *vm = sb.vm;
    vm->heap_cap = sb.base + room < sb.base ? (size_t)-1 : sb.base + room;
}

static void sandbox_hook(lua_State *L, lua_Debug *ar);

/* The hook at the count the state asks for: every instruction once a
 * budget is spent or a collection is due, else every slice. */
static void sandbox_arm(lua_State *L)
{
    sb.count = sb.over != LF_SANDBOX_WITHIN || sb.collect ? 1 : sb.slice;
    lua_sethook(L, sandbox_hook, LUA_MASKCOUNT, sb.count);
}

/* Stop the script: yield to C, or raise where no yield is possible. */
static int sandbox_stop_here(lua_State *L)
{
    if (lua_isyieldable(L))
        return lua_yield(L, 0); /* the request sees lf_sandbox_stopping() */
    lua_pushlightuserdata(L, &key_message);
    lua_rawget(L, LUA_REGISTRYINDEX);
    return lua_error(L);
}

static void sandbox_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (!sb.active) {
        lua_sethook(L, NULL, 0, 0); /* a late one: nothing is sandboxed now */
        return;
    }
    if (sb.over == LF_SANDBOX_WITHIN) {
        sb.used += sb.count;
        if (sb.collect) {
            lf_vm_t *vm = sb.vm;
            sb.collect = 0;
            lua_gc(L, LUA_GCCOLLECT, 0);
            if (vm->heap > vm->heap_cap) {
                sb.over = LF_SANDBOX_MEMORY;
                sb.refused = 0;
                sb.in_use = sandbox_in_use();
            }
        }
        if (sb.over == LF_SANDBOX_WITHIN && sb.budget > 0 && sb.used >= sb.budget)
            sb.over = LF_SANDBOX_INSTRUCTIONS;
        if (sb.over == LF_SANDBOX_WITHIN) {
            if (sb.count != sb.slice)
                sandbox_arm(L);
            return;
        }
        sandbox_arm(L);
    }
    if (L == sb.vm->L)
        return; /* not the script's code: wait until it runs again */
    sandbox_stop_here(L);
}

/* over() for sandbox.lua: has the running request spent a budget? */
static int sandbox_over_fn(lua_State *L)
{
    lua_pushboolean(L, sb.active && sb.over != LF_SANDBOX_WITHIN);
    return 1;
}

/* stop() for sandbox.lua: called once over() said so. */
static int sandbox_stop_fn(lua_State *L)
{
    if (!sb.active || sb.over == LF_SANDBOX_WITHIN)
        return 0;
    return sandbox_stop_here(L);
}

void lf_sandbox_init(lua_State *L)
{
    lua_pushlightuserdata(L, &key_message);
    lua_pushliteral(L, "sandbox: the request's budget is spent");
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_getglobal(L, "require");
    lua_pushliteral(L, "luafpm.sandbox");
    lua_call(L, 1, 1);                               /* sp: build */
    lua_pushcfunction(L, sandbox_over_fn);
    lua_pushcfunction(L, sandbox_stop_fn);
    lua_call(L, 2, 3);                               /* sp: globals, methods, reset */
    lua_pushlightuserdata(L, &key_reset);
    lua_insert(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);                /* sp: globals, methods */
    lua_pushlightuserdata(L, &key_string_methods);
    lua_insert(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);                /* sp: globals */

    /* The env reads through to the whitelist; its own writes stay in it,
     * with the run-time lint's warning. */
    lua_pushlightuserdata(L, &key_env_mt);
    lua_createtable(L, 0, 2);                        /* sp: globals, key, mt */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lf_globals_write);
    lua_setfield(L, -2, "__newindex");
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
}

void lf_sandbox_push_env(lua_State *L)
{
    lua_createtable(L, 0, 4);                        /* sp: env */
    lua_pushlightuserdata(L, &key_env_mt);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);
    lua_pushliteral(L, "_G");
    lua_pushvalue(L, -2);
    lua_rawset(L, -3);                               /* env._G = env */
}

/* Put the string metatable's __index to the registry's value at from,
 * keeping the one it had at save (NULL: do not keep it). */
static void sandbox_string_index(lua_State *L, void *from, void *save)
{
    lua_pushliteral(L, "");
    if (!lua_getmetatable(L, -1)) {
        lua_pop(L, 1);
        return;
    }                                                /* sp: "", mt */
    if (save) {
        lua_pushlightuserdata(L, save);
        lua_getfield(L, -2, "__index");
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    lua_pushliteral(L, "__index");
    lua_pushlightuserdata(L, from);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_rawset(L, -3);
    lua_pop(L, 2);
}

int lf_sandbox_stopping(void)
{
    return sb.active && sb.over != LF_SANDBOX_WITHIN;
}

void lf_sandbox_begin(lf_vm_t *vm, const lf_conf_t *conf)
{
    lua_State *L = vm->L;
    sb.active = 1;
    sb.vm = vm;
    vm->admit = lf_sandbox_admit;
    sb.over = LF_SANDBOX_WITHIN;
    sb.used = 0;
    sb.budget = conf->sandbox_instructions;
    sb.memory = conf->sandbox_memory;
    sb.host = sb.refused = sb.in_use = 0;
    sb.refused_host = 0;
    sb.collect = 0;
    /* Slices of equal size that add up to the budget (to within one slice
     * count per slice): the hook never runs more often than needed. */
    sb.slice = LF_SANDBOX_SLICE;
    if (sb.budget > 0) {
        long long slices = (sb.budget + LF_SANDBOX_SLICE - 1) / LF_SANDBOX_SLICE;
        sb.slice = (int)((sb.budget + slices - 1) / slices);
    }

    lua_pushlightuserdata(L, &key_reset);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_call(L, 0, 0);
    /* ("x"):dump() would reach the real string table: while sandboxed code
     * runs, string methods are the whitelisted ones. */
    sandbox_string_index(L, &key_string_methods, &key_string_saved);

    sb.base = vm->heap;
    if (sb.memory > 0)
        sandbox_set_cap();
    sandbox_arm(L);
}

lf_sandbox_over_t lf_sandbox_end(void)
{
    if (!sb.active)
        return LF_SANDBOX_WITHIN;
    lf_vm_t *vm = sb.vm;
    lua_sethook(vm->L, NULL, 0, 0);
    vm->heap_cap = 0;
    vm->admit = NULL;
    sandbox_string_index(vm->L, &key_string_saved, NULL);
    sb.active = 0;
    return sb.over;
}

/* The heap passed its cap: a full collection before the next instruction
 * tells whether the request is still over. */
static void sandbox_collect_soon(void)
{
    if (sb.collect)
        return;
    /* The slice under way is charged whole: what it had run is not known,
     * and the budget must not lose it. */
    sb.used += sb.count;
    sb.collect = 1;
    /* Safe inside the allocator as in a signal handler: it only sets the
     * hook. */
    sandbox_arm(sb.vm->L);
}

/* The budget is spent by an allocation of size bytes, refused. */
static void sandbox_refuse(size_t size, int host)
{
    sb.over = LF_SANDBOX_MEMORY;
    sb.refused = size;
    sb.refused_host = host;
    sb.in_use = sandbox_in_use();
    sandbox_arm(sb.vm->L);
}

int lf_sandbox_admit(size_t size, size_t grow)
{
    lf_vm_t *vm = sb.vm;
    if (!sb.active)
        return 0;
    if (sb.over == LF_SANDBOX_WITHIN) {
        size_t budget = (size_t)sb.memory;
        size_t over = vm->heap + grow - vm->heap_cap; /* the caller saw it pass */
        if (grow <= budget && over <= budget) {
            sandbox_collect_soon();
            return 1;
        }
        sandbox_refuse(size, 0);
    }
    return 0;
}

int lf_sandbox_charge_memory(size_t bytes)
{
    if (!sb.active || bytes == 0)
        return 0;
    if (sb.over != LF_SANDBOX_WITHIN)
        return -1;
    if (sb.memory <= 0)
        return 0;
    /* No collection gives host copies back: past the budget on their own,
     * they are refused at once.  Else the heap's cap comes down by them,
     * and a heap above the new cap is collected before it counts. */
    size_t budget = (size_t)sb.memory;
    if (bytes > budget - sb.host) {
        sandbox_refuse(bytes, 1);
        return -1;
    }
    sb.host += bytes;
    sandbox_set_cap();
    if (sb.vm->heap > sb.vm->heap_cap)
        sandbox_collect_soon();
    return 0;
}

void lf_sandbox_rehook(lua_State *L)
{
    /* L may be any coroutine of the VM: the hook is the VM's. */
    if (sb.active)
        sandbox_arm(L);
    else
        lua_sethook(L, NULL, 0, 0);
}

size_t lf_sandbox_memory_left(void)
{
    if (!sb.active || sb.memory <= 0)
        return (size_t)-1;
    return sb.vm->heap < sb.vm->heap_cap ? sb.vm->heap_cap - sb.vm->heap : 0;
}

int lf_sandbox_charge(size_t n)
{
    if (!sb.active || sb.budget <= 0)
        return 0;
    if (sb.over == LF_SANDBOX_WITHIN) {
        sb.used += n > (size_t)sb.budget ? sb.budget : (long long)n;
        if (sb.used < sb.budget)
            return 0;
        sb.over = LF_SANDBOX_INSTRUCTIONS;
        sandbox_arm(sb.vm->L);
    }
    return -1;
}

const char *lf_sandbox_describe(lf_sandbox_over_t over, char *buf, size_t len)
{
    char host[64] = "";
    if (sb.host)
        snprintf(host, sizeof(host), " (%zu of them host copies)", sb.host);
    if (over == LF_SANDBOX_INSTRUCTIONS)
        snprintf(buf, len, "sandbox: the script ran out of its instruction budget "
                 "(--sandbox-instructions %lld)", sb.budget);
    else if (over == LF_SANDBOX_MEMORY && sb.refused)
        snprintf(buf, len, "sandbox: the script ran out of its memory budget "
                 "(--sandbox-memory %lld bytes): %s of %zu bytes was refused with "
                 "%zu bytes in use%s", sb.memory,
                 sb.refused_host ? "a host copy (response headers)" : "an allocation",
                 sb.refused, sb.in_use, host);
    else if (over == LF_SANDBOX_MEMORY)
        snprintf(buf, len, "sandbox: the script ran out of its memory budget "
                 "(--sandbox-memory %lld bytes): %zu bytes in use after a full collection%s",
                 sb.memory, sb.in_use, host);
    else
        snprintf(buf, len, "sandbox: within its budgets");
    return buf;
}
