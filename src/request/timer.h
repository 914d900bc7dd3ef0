/* timer.h - ngx.timer: callbacks that run later, each in a coroutine of
 * its own with fresh globals, as a request without a connection (its
 * API is what OpenResty allows in a timer). */
#ifndef LF_TIMER_H
#define LF_TIMER_H

#include <lua.h>

#include "conf.h"
#include "event.h"
#include "vm.h"

/* The worker's loop and settings, once. */
void lf_timers_init(lf_loop_t *loop, const lf_conf_t *conf);
/* A timer of the callback and arguments at 2..top of L (1 is the delay),
 * in vm: 0, or -1 with OpenResty's reason ("too many pending timers",
 * "process exiting"). */
int lf_timers_add(lua_State *L, lf_vm_t *vm, double delay, double every, const char **why);
unsigned lf_timers_pending(void);
unsigned lf_timers_running(void);
/* The worker stops gracefully: every pending timer runs now with
 * premature = true, none is added or repeated after. */
void lf_timers_stop(void);
int lf_timers_exiting(void);
/* At the worker's exit: what is left (not run) is freed. */
void lf_timers_free(void);

#endif
