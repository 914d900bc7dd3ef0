/* api_semaphore.c - ngx.semaphore (lua-resty-core's ngx/semaphore.lua on
 * lua-nginx-module's ngx_http_lua_semaphore.c): a count and a queue of
 * light threads parked on the worker's loop.  A post wakes the waiters on
 * the next turn of the loop, the longest waiting first, as nginx's posted
 * event does; a wait past its timeout gets nil, "timeout".  The Lua half
 * is lua/luafpm/semaphore.lua. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "api.h"

#define LF_SEMA_MT "luafpm.semaphore"
#define LF_SEMA_WAIT_MT "luafpm.semaphore.wait"

typedef struct lf_sema_wait lf_sema_wait_t;

typedef struct {
    lf_sema_wait_t *head, *tail;  /* parked, longest waiting first */
    lf_loop_t *loop;              /* the worker's, from the first wait */
    lf_timer_t posted;            /* a post with waiters: their turn */
    long long count;              /* resources */
    long long waiting;
    lua_State *L;                 /* its VM, for ref */
    int ref;                      /* anchors it while threads wait on it */
    int posting;                  /* in sema_posted */
} lf_sema_t;

/* One parked wait: a userdata on the waiting coroutine's stack, so it
 * lives as long as the wait. */
struct lf_sema_wait {
    lf_sema_wait_t *next, *prev;
    lf_sema_t *sema;
    lf_uthread_t *ut;
    lf_timer_t timer;             /* its timeout */
    int state;                    /* WAIT_*, below */
};

enum { WAIT_NEW, WAIT_QUEUED, WAIT_OK, WAIT_TIMEOUT };

/* No thread waits: nothing keeps it but its users. */
static void sema_release(lf_sema_t *s)
{
    if (s->head == NULL && s->ref != LUA_NOREF && !s->posting) {
        int ref = s->ref;
        s->ref = LUA_NOREF;
        luaL_unref(s->L, LUA_REGISTRYINDEX, ref);
    }
}

static void wait_unlink(lf_sema_wait_t *w)
{
    lf_sema_t *s = w->sema;
    if (w->prev)
        w->prev->next = w->next;
    else
        s->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        s->tail = w->prev;
    w->next = w->prev = NULL;
    s->waiting--;
    lf_timer_stop(s->loop, &w->timer);
    w->ut->on_bury = NULL;
    sema_release(s); /* the last thing done with s: it may go now */
}

/* The thread ends while parked here (killed, its request over). */
static void wait_buried(lf_uthread_t *ut, void *data)
{
    lf_sema_wait_t *w = data;
    (void)ut;
    if (w->state == WAIT_QUEUED) {
        wait_unlink(w);
        w->state = WAIT_TIMEOUT;
    }
}

static void wait_end(lf_sema_wait_t *w, int state)
{
    lf_uthread_t *ut = w->ut;
    wait_unlink(w);
    w->state = state;
    lf_request_thread_wake(ut);
}

static void wait_timed_out(lf_loop_t *loop, void *data)
{
    (void)loop;
    wait_end(data, WAIT_TIMEOUT);
}

/* After a post: the waiters, in order, while there are resources. */
static void sema_posted(lf_loop_t *loop, void *data)
{
    lf_sema_t *s = data;
    (void)loop;
    s->posting = 1; /* a woken thread's Lua must not free s under us */
    while (s->head && s->count > 0) {
        s->count--;
        wait_end(s->head, WAIT_OK);
    }
    s->posting = 0;
    sema_release(s);
}

static lf_sema_t *sema_check(lua_State *L)
{
    lf_sema_t *s = luaL_testudata(L, 1, LF_SEMA_MT);
    if (s == NULL)
        luaL_error(L, "not a semaphore instance");
    return s;
}

/* raw.new(n) */
static int sema_new(lua_State *L)
{
    lua_Number n = luaL_checknumber(L, 1);
    lf_sema_t *s = lua_newuserdata(L, sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->count = n > 2147483647 ? 2147483647 : (long long)n;
    s->ref = LUA_NOREF;
    lf_timer_init(&s->posted, sema_posted, s);
    luaL_getmetatable(L, LF_SEMA_MT);
    lua_setmetatable(L, -2);
    return 1;
}

static int sema_gc(lua_State *L)
{
    lf_sema_t *s = lua_touserdata(L, 1);
    if (s->loop)
        lf_timer_stop(s->loop, &s->posted);
    return 0;
}

/* raw.wait(sema, ms): true, nil and "timeout" (ms 0, nothing to take),
 * or false and a wait to park on (raw.park, then raw.result). */
static int sema_wait(lua_State *L)
{
    lf_sema_t *s = sema_check(L);
    lua_Number ms = luaL_checknumber(L, 2);
    if (s->head == NULL && s->count > 0) {
        s->count--;
        lua_pushboolean(L, 1);
        return 1;
    }
    if (!(ms > 0)) { /* NaN too: it must not reach the timer heap */
        lua_pushnil(L);
        lua_pushliteral(L, "timeout");
        return 2;
    }
    lf_request_t *r = lf_api_context(L);
    if (r->cur == NULL || !lua_isyieldable(L) || r->sandboxed)
        return luaL_error(L, "attempt to yield across C-call boundary");
    lf_sema_wait_t *w = lua_newuserdata(L, sizeof(*w));
    memset(w, 0, sizeof(*w));
    luaL_getmetatable(L, LF_SEMA_WAIT_MT);
    lua_setmetatable(L, -2);
    w->sema = s;
    w->ut = r->cur;
    s->loop = r->env.loop;
    if (s->ref == LUA_NOREF) {
        s->L = r->vm->L;
        lua_pushvalue(L, 1);
        s->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lf_timer_init(&w->timer, wait_timed_out, w);
    lf_loop_update_time(s->loop);
    if (lf_timer_start(s->loop, &w->timer, ms > 1e12 ? 1e9 : ms / 1000.0) != 0)
        return luaL_error(L, "no memory");
    w->prev = s->tail;
    if (s->tail)
        s->tail->next = w;
    else
        s->head = w;
    s->tail = w;
    s->waiting++;
    w->state = WAIT_QUEUED;
    w->ut->on_bury = wait_buried;
    w->ut->bury_data = w;
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

/* raw.park(w): the calling thread waits (the loop resumes it). */
static int sema_park(lua_State *L)
{
    lf_sema_wait_t *w = luaL_checkudata(L, 1, LF_SEMA_WAIT_MT);
    lf_request_t *r = lf_api_context(L);
    if (w->state != WAIT_QUEUED)
        return 0;
    r->yield = LF_YIELD_SOCKET; /* parked until lf_request_thread_wake */
    return lua_yield(L, 0);
}

/* raw.result(w): true, or false and "timeout" (lua-nginx-module resumes
 * a wait that timed out so; only wait(0) says nil). */
static int sema_result(lua_State *L)
{
    lf_sema_wait_t *w = luaL_checkudata(L, 1, LF_SEMA_WAIT_MT);
    if (w->state == WAIT_QUEUED) /* resumed by something else: give up */
        wait_unlink(w);
    lua_pushboolean(L, w->state == WAIT_OK);
    if (w->state == WAIT_OK)
        return 1;
    lua_pushliteral(L, "timeout");
    return 2;
}

/* raw.post(sema, n) */
static int sema_post(lua_State *L)
{
    lf_sema_t *s = sema_check(L);
    lua_Number n = luaL_checknumber(L, 2);
    s->count += n > 2147483647 ? 2147483647 : (long long)n;
    if (s->head && s->loop && !lf_timer_armed(&s->posted))
        lf_timer_start(s->loop, &s->posted, 0);
    lua_pushboolean(L, 1);
    return 1;
}

/* raw.count(sema): resources less waiters (negative while some wait). */
static int sema_count(lua_State *L)
{
    lf_sema_t *s = sema_check(L);
    lua_pushinteger(L, (lua_Integer)(s->count - s->waiting));
    return 1;
}

void lf_api_semaphore_init(lua_State *L)
{
    static const luaL_Reg raw[] = {
        {"new", sema_new}, {"wait", sema_wait}, {"park", sema_park},
        {"result", sema_result}, {"post", sema_post}, {"count", sema_count},
        {NULL, NULL},
    };
    luaL_newmetatable(L, LF_SEMA_MT);
    lua_pushcfunction(L, sema_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, LF_SEMA_WAIT_MT);
    lua_pop(L, 1);
    /* package.loaded["ngx.semaphore"] = require("luafpm.semaphore")(raw) */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getglobal(L, "require");
    lua_pushliteral(L, "luafpm.semaphore");
    lua_call(L, 1, 1);
    lua_createtable(L, 0, 8);
    for (const luaL_Reg *f = raw; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_call(L, 1, 1);
    lua_setfield(L, -2, "ngx.semaphore");
    lua_pop(L, 2);
}
