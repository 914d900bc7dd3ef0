/* api.h - the ngx.* API: one file per area, registered into the ngx table. */
#ifndef LF_API_H
#define LF_API_H

#include <lua.h>

#include "conf.h"
#include "request.h"

/* Build ngx (and the global print) in a new VM. */
void lf_api_init(lua_State *L, const lf_conf_t *conf);

/* Each area adds its functions to the table at the top of the stack. */
void lf_api_output_init(lua_State *L);
void lf_api_say_init(lua_State *L);
void lf_api_var_init(lua_State *L);
void lf_api_req_init(lua_State *L);
void lf_api_log_init(lua_State *L);
void lf_api_string_init(lua_State *L);
void lf_api_time_init(lua_State *L);
void lf_api_coroutine_init(lua_State *L);
void lf_api_thread_init(lua_State *L);
void lf_api_timer_init(lua_State *L);
void lf_api_socket_init(lua_State *L);
void lf_api_semaphore_init(lua_State *L);
void lf_api_modules_init(lua_State *L);
void lf_api_re_init(lua_State *L, const lf_conf_t *conf);
/* ngx.shared: the zones of lf_dict_set_current (shm_set.h). */
void lf_api_shdict_init(lua_State *L);
/* The cosocket pool's idle connections closed (at the worker's exit). */
void lf_api_socket_pool_free(void);

/* Decode a query string into a new table (1 value, or 2 with "truncated"). */
int lf_api_decode_args(lua_State *L, const char *buf, size_t len, int max);

/* A number as ngx.say, ngx.print and ngx.log write it, into buf (at
 * least LF_API_NUMBER bytes); its length. */
#define LF_API_NUMBER 32
size_t lf_api_number(lua_Number n, char *buf);
/* One line into the error log at an ngx.* level (0: ngx.STDERR), escaped,
 * when --log-level lets it through. */
void lf_api_log_message(int level, const char *msg, size_t len);

/* api_var_nginx.c: push the variables nginx computes itself (pid,
 * hostname, msec, status, sent_http_*, ...) for a lower-case name: the
 * number of values pushed (0 = nil), or -1 when name is none of them.
 * And: is name one of nginx's own variables? */
int lf_api_var_nginx(lua_State *L, lf_request_t *r, const char *name, size_t len);
int lf_api_var_is_nginx(const char *name);

/* The metatable that makes header tables answer to any case and '_'. */
void lf_api_push_headers_mt(lua_State *L);
/* Pop name and value into header table t; a repeated name makes a list. */
void lf_api_add_header_value(lua_State *L, int t);


/* The current request, or a Lua error naming the context (init, or
 * ngx.timer: a timer has no request of its own to read or answer). */
lf_request_t *lf_api_request(lua_State *L);
/* The same, a timer's included (what a timer may call: ngx.sleep,
 * ngx.thread, ngx.timer, ngx.exit, ngx.ctx). */
lf_request_t *lf_api_context(lua_State *L);

/* An output call after a HEAD response's headers or ngx.eof: pushes
 * nil and OpenResty's reason ("header only", "seen eof") and returns 2;
 * else 0. */
int lf_api_output_refused(lua_State *L, lf_request_t *r);

/* ngx.status / ngx.ctx, read and written through ngx's metatable. */
int lf_api_status_get(lua_State *L, lf_request_t *r);
int lf_api_status_set(lua_State *L, lf_request_t *r, int idx);

#endif
