/* request.h - one FastCGI request: its coroutine, its response. */
#ifndef LF_REQUEST_H
#define LF_REQUEST_H

#include <fcgiapp.h>
#include <lua.h>

#include "conf.h"
#include "buf.h"
#include "headers.h"
#include "script.h"
#include "vm.h"

/* Why the request's coroutine yielded back to C. */
typedef enum {
    LF_YIELD_NONE = 0, /* a plain coroutine.yield reached the top */
    LF_YIELD_EXIT,     /* ngx.exit / ngx.redirect: the request is done */
} lf_yield_t;

typedef struct {
    FCGX_Request *fcgx;
    lf_vm_t *vm;
    lua_State *co;              /* the handler's coroutine */
    const char *script;         /* resolved path */
    unsigned long long number;  /* per worker, for logs */
    double start_time;

    int status;                 /* ngx.status; 0 until set */
    int exit_code;              /* argument of ngx.exit */
    lf_yield_t yield;
    int ctx_ref;                /* ngx.ctx, LUA_NOREF until used */
    unsigned headers_sent : 1;    /* frozen: output has begun */
    unsigned headers_written : 1; /* serialized into the stream */
    unsigned flushed : 1;       /* output reached the socket */
    unsigned header_only : 1;   /* HEAD: the body is not sent */
    unsigned eof : 1;           /* ngx.eof: later output is dropped */
    unsigned aborted : 1;       /* the connection is to be cut */
    unsigned write_failed : 1;  /* the web server went away */
    lf_headers_t headers;
    lf_buf_t out;               /* body not yet sent */
    lf_buf_t hdr;               /* the serialized header block */
} lf_request_t;

/* The request being served, NULL outside one (init, between requests). */
extern lf_request_t *lf_request_current;

/* Serve one accepted FastCGI request with the given VM. */
void lf_request_serve(FCGX_Request *fcgx, lf_vm_t *vm, const lf_conf_t *conf,
                      const lf_root_t *root);
void lf_request_cleanup(void);

const char *lf_request_param(const lf_request_t *r, const char *name);
int lf_request_write(lf_request_t *r, const char *p, size_t n);
int lf_request_flush(lf_request_t *r);
/* A complete response with nginx's kind of error page, before any output. */
void lf_request_error_page(lf_request_t *r, int status);
const char *lf_request_status_reason(int status);

#endif
