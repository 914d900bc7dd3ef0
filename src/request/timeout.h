/* timeout.h - --request-timeout: stop a handler that runs too long;
 * --slowlog-timeout: log where a slow one is. */
#ifndef LF_TIMEOUT_H
#define LF_TIMEOUT_H

#include <lua.h>

#include "conf.h"
#include "fcgi_conn.h"
#include "log.h"

/* The hard deadline comes this long after the timeout (see timeout.c). */
#define LF_TIMEOUT_GRACE 1.0
/* Exit status of a worker that the hard deadline ended (the master
 * replaces it). */
#define LF_EXIT_TIMEOUT 3

/* A request's deadlines and what the timeout needs to know of it (the
 * request embeds one; timeout.c knows nothing else of requests). */
typedef struct lf_deadline {
    struct lf_deadline *next, *prev; /* armed: the hard deadline answers each */
    lf_fcgi_conn_t *conn;       /* its connection (fd -1: none, a timer) */
    lua_State *L;               /* the VM */
    lua_State *const *co;       /* where the request keeps its running or parked coroutine */
    const char *slowlog;        /* --slowlog, NULL: the error log */
    void (*describe)(const struct lf_deadline *d, lf_log_who_t *who);
    unsigned long long number;  /* for the log */
    double mono_start;          /* CLOCK_MONOTONIC seconds at the start */
    double slow_secs, soft_secs; /* from the start, 0 = none */
    int timeout_ref;            /* the hook's message and traceback, LUA_NOREF */
    unsigned slow_written : 1;  /* its slowlog entry is out */
    unsigned sent : 1;          /* response bytes left */
    unsigned complete : 1;      /* ... all of it, END_REQUEST too */
    unsigned linked : 1;
} lf_deadline_t;

/* What the worker does for the timeout: count a slow request (the status
 * page), and remove what must not outlive a worker the hard deadline ends
 * (async-signal-safe). */
extern void (*lf_timeout_on_slow)(void);
extern void (*lf_timeout_on_kill)(void);

/* Start the request's clock (its deadlines from conf; nothing is armed
 * yet) and register it; forget it when the request is over. */
void lf_timeout_arm(lf_deadline_t *d, const lf_conf_t *conf);
void lf_timeout_forget(lf_deadline_t *d);
/* Around each lua_resume of the request's coroutine: while inside, the
 * one interval timer serves this request's next deadline, and the timeout
 * stops Lua code with a hook (its yield is seen by lf_timeout_expired).
 * enter returns -1 (and does not enter) once the timeout has passed;
 * leave returns 1 when it passed inside (finished: the handler is done,
 * so a slowlog entry still due is written). */
int lf_timeout_enter(lf_deadline_t *d);
int lf_timeout_leave(lf_deadline_t *d, int finished);
/* Has the timeout of the request that runs now passed? */
int lf_timeout_expired(void);
/* Response bytes are about to leave (last: the response is complete). */
void lf_timeout_sending(lf_deadline_t *d, int last);
/* While the request is parked: when its next deadline is (monotonic
 * seconds, 0 = none), and what to do when it came: a slowlog entry with
 * the parked coroutine's traceback; 1 when the timeout passed. */
double lf_timeout_next(const lf_deadline_t *d);
int lf_timeout_due(lf_deadline_t *d);
/* SIGUSR1: the slowlog file is opened again at its next entry. */
void lf_timeout_reopen(void);
/* "request timed out after N s" */
const char *lf_timeout_message(void);

#endif
