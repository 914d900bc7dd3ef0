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

/* Start the request's clock (nothing when --request-timeout is 0). */
void lf_timeout_arm(lf_request_t *r);
/* Stop it; 1 when the timeout had passed.  No signal comes after this. */
int lf_timeout_disarm(void);
/* Has the timeout passed? */
int lf_timeout_expired(void);
/* Around each lua_resume of the request's coroutine: while inside, the
 * timeout stops Lua code with a hook.  enter returns -1 (and does not
 * enter) once the timeout has passed. */
int lf_timeout_enter_lua(void);
void lf_timeout_leave_lua(void);
/* Response bytes are about to leave (last: the response is complete). */
void lf_timeout_sending(int last);
/* Outside Lua (ngx.sleep's wait): write a slowlog entry that fell due. */
void lf_timeout_slow_check(lf_request_t *r);
/* SIGUSR1: the slowlog file is opened again at its next entry. */
void lf_timeout_reopen(void);
/* "request timed out after N s" */
const char *lf_timeout_message(void);

#endif
