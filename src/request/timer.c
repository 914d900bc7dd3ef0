/* timer.c - ngx.timer.at / ngx.timer.every (see timer.h).  A pending
 * timer is a loop timer and a registry reference to {f, args...}; when it
 * fires, a request without a connection runs f(premature, args...) in a
 * coroutine of its own (request.c), counted as running until it ends.
 * Limits and messages as lua-nginx-module's: --max-pending-timers
 * (lua_max_pending_timers), --max-running-timers (lua_max_running_timers). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "log.h"
#include "request.h"
#include "timer.h"

typedef struct lf_ltimer {
    struct lf_ltimer *next, *prev; /* pending */
    lf_timer_t t;
    lf_vm_t *vm;
    int fn_ref;                    /* {f, args...; n = their count} */
    double every;                  /* 0: once */
} lf_ltimer_t;

static lf_loop_t *tloop;
static const lf_conf_t *tconf;
static lf_ltimer_t *pending;
static unsigned npending, nrunning;
static int exiting;

static void ltimer_fired(lf_loop_t *loop, void *data);

void lf_timers_init(lf_loop_t *loop, const lf_conf_t *conf)
{
    tloop = loop;
    tconf = conf;
}

unsigned lf_timers_pending(void)
{
    return npending;
}

unsigned lf_timers_running(void)
{
    return nrunning;
}

int lf_timers_exiting(void)
{
    return exiting;
}

static void ltimer_unlink(lf_ltimer_t *lt)
{
    if (lt->prev)
        lt->prev->next = lt->next;
    else
        pending = lt->next;
    if (lt->next)
        lt->next->prev = lt->prev;
    lt->next = lt->prev = NULL;
    npending--;
}

static void ltimer_link(lf_ltimer_t *lt)
{
    lt->prev = NULL;
    lt->next = pending;
    if (pending)
        pending->prev = lt;
    pending = lt;
    npending++;
}

static void ltimer_free(lf_ltimer_t *lt)
{
    luaL_unref(lt->vm->L, LUA_REGISTRYINDEX, lt->fn_ref);
    lf_vm_release(lt->vm);
    free(lt);
}

int lf_timers_add(lua_State *L, lf_vm_t *vm, double delay, double every, const char **why)
{
    if (exiting) {
        *why = "process exiting";
        return -1;
    }
    if (tloop == NULL || vm == NULL) {
        *why = "no event loop";
        return -1;
    }
    if (npending >= (unsigned)tconf->max_pending_timers) {
        *why = "too many pending timers";
        return -1;
    }
    int top = lua_gettop(L);
    lf_ltimer_t *lt = calloc(1, sizeof(*lt));
    if (lt == NULL)
        return luaL_error(L, "out of memory for a timer");
    /* {f, args...}, n: nils among the arguments are kept. */
    lua_createtable(L, top - 1, 1);
    for (int i = 2; i <= top; i++) {
        lua_pushvalue(L, i);
        lua_rawseti(L, -2, i - 1);
    }
    lua_pushinteger(L, top - 1);
    lua_setfield(L, -2, "n");
    lt->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (lt->fn_ref == LUA_REFNIL || lt->fn_ref == LUA_NOREF) {
        free(lt);
        return luaL_error(L, "out of memory for a timer");
    }
    lt->vm = vm;
    vm->refs++; /* a replaced VM stays until its timers are done */
    lt->every = every;
    lf_timer_init(&lt->t, ltimer_fired, lt);
    lf_loop_update_time(tloop);
    if (lf_timer_start(tloop, &lt->t, delay > 0 ? delay : 0) != 0) {
        ltimer_free(lt);
        return luaL_error(L, "out of memory for a timer");
    }
    ltimer_link(lt);
    return 0;
}

static void timer_request_done(lf_request_t *r, void *data)
{
    (void)r;
    (void)data;
    nrunning--;
}

/* Run the callback now, in a request of its own. */
static void ltimer_run(lf_ltimer_t *lt, int premature)
{
    if (nrunning >= (unsigned)tconf->max_running_timers) {
        lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_ALERT, 0,
                     "%u lua_max_running_timers are not enough (--max-running-timers): a timer was not run",
                     nrunning);
        return;
    }
    lua_State *L = lt->vm->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, lt->fn_ref);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);        /* the run's own reference */
    if (ref == LUA_REFNIL || ref == LUA_NOREF) {
        lf_log(LF_LOG_ERR, "out of memory for a timer's run: it was not run");
        return;
    }
    lf_request_env_t env = {
        .conn = NULL, .io = NULL, .loop = tloop, .vm = lt->vm, .conf = tconf,
        .done = timer_request_done,
    };
    nrunning++;
    if (lf_request_start_timer(&env, ref, premature) == 0)
        nrunning--; /* over already */
}

static void ltimer_fired(lf_loop_t *loop, void *data)
{
    lf_ltimer_t *lt = data;
    (void)loop;
    ltimer_unlink(lt);
    int again = lt->every > 0 && !exiting;
    ltimer_run(lt, 0);
    if (again && lf_timer_start(tloop, &lt->t, lt->every) == 0) {
        ltimer_link(lt);
        return;
    }
    ltimer_free(lt);
}

void lf_timers_stop(void)
{
    if (exiting)
        return;
    exiting = 1;
    /* Every pending timer runs now, premature. */
    while (pending) {
        lf_ltimer_t *lt = pending;
        ltimer_unlink(lt);
        lf_timer_stop(tloop, &lt->t);
        ltimer_run(lt, 1);
        ltimer_free(lt);
    }
}

void lf_timers_free(void)
{
    while (pending) {
        lf_ltimer_t *lt = pending;
        ltimer_unlink(lt);
        lf_timer_stop(tloop, &lt->t);
        ltimer_free(lt);
    }
}
