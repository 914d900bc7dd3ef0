/* timeout.h - --request-timeout: stop a handler that runs too long;
 * --slowlog-timeout: log where a slow one is. */
#ifndef LF_TIMEOUT_H
#define LF_TIMEOUT_H

#include "request.h"

/* The hard deadline comes this long after the timeout (see timeout.c). */
#define LF_TIMEOUT_GRACE 1.0
/* Exit status of a worker that the hard deadline ended (the master
 * replaces it). */
#define LF_EXIT_TIMEOUT 3

/* Start the request's clock (its deadlines from --request-timeout and
 * --slowlog-timeout; nothing is armed yet). */
void lf_timeout_arm(lf_request_t *r);
/* Around each lua_resume of the request's coroutine: while inside, the
 * one interval timer serves this request's next deadline, and the timeout
 * stops Lua code with a hook.  enter returns -1 (and does not enter) once
 * the timeout has passed; leave returns 1 when it passed inside (finished:
 * the handler is done, so a slowlog entry still due is written). */
int lf_timeout_enter(lf_request_t *r);
int lf_timeout_leave(lf_request_t *r, int finished);
/* Has the timeout of the request that runs now passed? */
int lf_timeout_expired(void);
/* Response bytes are about to leave (last: the response is complete). */
void lf_timeout_sending(int last);
/* While the request is parked: when its next deadline is (monotonic
 * seconds, 0 = none), and what to do when it came: a slowlog entry with
 * the parked coroutine's traceback; 1 when the timeout passed. */
double lf_timeout_next(const lf_request_t *r);
int lf_timeout_due(lf_request_t *r);
/* SIGUSR1: the slowlog file is opened again at its next entry. */
void lf_timeout_reopen(void);
/* "request timed out after N s" */
const char *lf_timeout_message(void);

#endif
