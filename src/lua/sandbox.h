/* sandbox.h - untrusted scripts (--sandbox-root): their environment and
 * their instruction and memory budgets (doc/sandbox.md). */
#ifndef LF_SANDBOX_H
#define LF_SANDBOX_H

#include <lua.h>

#include "conf.h"
#include "vm.h"

typedef enum {
    LF_SANDBOX_WITHIN = 0,
    LF_SANDBOX_INSTRUCTIONS, /* --sandbox-instructions spent */
    LF_SANDBOX_MEMORY,       /* an allocation past --sandbox-memory refused */
} lf_sandbox_over_t;

/* At VM set-up with --sandbox-root: build the whitelisted environment
 * (lua/luafpm/sandbox.lua).  Raises a Lua error on failure. */
void lf_sandbox_init(lua_State *L);

/* Around the run of a sandboxed request: begin arms the budgets (the
 * count hook, the heap cap) and swaps in the sandbox's string methods;
 * end undoes all of it and tells whether a budget was spent. */
void lf_sandbox_begin(lf_vm_t *vm, const lf_conf_t *conf);
lf_sandbox_over_t lf_sandbox_end(void);
/* The running script spent a budget and is being stopped: its yield is
 * the sandbox's (through any pcall and user coroutine), not a wait. */
int lf_sandbox_stopping(void);

/* A fresh globals table for a sandboxed request.  sp++ */
void lf_sandbox_push_env(lua_State *L);

/* From the VM's allocator, for an allocation of size bytes that would
 * grow the heap by grow past the running request's cap: 1 = let it
 * happen (garbage is collected before the next instruction, and the
 * budget checked then), 0 = refuse it (the budget is spent). */
int lf_sandbox_admit(size_t size, size_t grow);

/* Memory the host allocated for the running sandboxed request outside
 * the Lua heap (its response headers' buffers): it counts against
 * --sandbox-memory like the request's share of the heap and, unlike
 * that, is not garbage.  0 = within the budget (or no sandboxed request
 * runs), -1 = the budget is spent: the caller drops what it copied and
 * the script stops before its next instruction. */
int lf_sandbox_charge_memory(size_t bytes);

/* Put back the running sandboxed request's count hook, or no hook at all
 * (for timeout.c, whose hooks take its place for a while). */
void lf_sandbox_rehook(lua_State *L);

/* For host work a sandboxed script asks for in one call (ngx.say of a
 * table): the bytes of its memory budget not in use now (SIZE_MAX when
 * nothing sandboxed runs or there is no memory budget), and a charge of n
 * instructions' worth of work to its instruction budget: -1 when that
 * spends the budget (the script is then stopped before its next
 * instruction, as by the hook), else 0. */
size_t lf_sandbox_memory_left(void);
int lf_sandbox_charge(size_t n);

/* "ran out of its instruction budget (--sandbox-instructions N)" and the
 * like, for the log. */
const char *lf_sandbox_describe(lf_sandbox_over_t over, char *buf, size_t len);

#endif
