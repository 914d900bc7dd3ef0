/*
 * fcgi_hello.c - the "physical limit" row of the peer benchmark.
 * Copied from the team's shared benchmark (../shared/bench/fcgi_hello.c);
 * tests/bench/run.sh (`make bench`) builds it with -lfcgi.
 *
 * A minimal libfcgi responder with the same workloads as the Lua and PHP
 * handlers, so that every other FastCGI peer can be read as a fraction of
 * what libfcgi itself costs:
 *
 *   .../hello    -> "hello world\n"
 *   .../compute  -> 200 table rows built in a loop (~6 KB)
 *   .../post     -> reads the whole request body, answers its length
 *   .../wait     -> sleeps 10 ms (usleep: no CPU), answers "waited\n"
 *
 * The ka workload is .../hello again, reached over kept-alive connections.
 *
 * It serves the listening socket it inherits on fd 0
 * (FCGI_LISTENSOCK_FILENO), which is how spawn-fcgi -F N runs N copies of
 * it on one shared socket. It keeps no state between requests except one
 * body buffer per process, grown as needed.
 *
 * Build: cc -O2 -Wall -Wextra -o fcgi-hello fcgi_hello.c -lfcgi
 */
#include <fastcgi.h>
#include <fcgiapp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMPUTE_ROWS 200
#define WAIT_USEC 10000 /* the wait workload: 10 ms */
#define MAX_BODY (8u * 1024u * 1024u) /* refuse anything larger */

static char *body_buf;
static size_t body_cap;

/* True when the path's last segment, up to an optional extension, is name. */
static int script_is(const char *script, const char *name)
{
    const char *base = strrchr(script, '/');
    size_t n = strlen(name);

    base = base ? base + 1 : script;
    return strncmp(base, name, n) == 0 && (base[n] == '\0' || base[n] == '.');
}

static void send_text(FCGX_Request *r, const char *status, const char *type,
                      const char *body, size_t len)
{
    FCGX_FPrintF(r->out, "Status: %s\r\nContent-Type: %s\r\n\r\n", status,
                 type);
    FCGX_PutStr(body, (int)len, r->out);
}

static void do_hello(FCGX_Request *r)
{
    static const char msg[] = "hello world\n";

    send_text(r, "200 OK", "text/plain", msg, sizeof msg - 1);
}

static void do_compute(FCGX_Request *r)
{
    /* 200 rows of at most 40 bytes each, plus the table tags. */
    char buf[COMPUTE_ROWS * 40 + 64];
    size_t len = 0;
    int i, n;

    n = snprintf(buf, sizeof buf, "<table>\n");
    len = (size_t)n;
    for (i = 1; i <= COMPUTE_ROWS; i++) {
        n = snprintf(buf + len, sizeof buf - len,
                     "<tr><td>%d</td><td>%d</td></tr>\n", i, i * i);
        if (n < 0 || (size_t)n >= sizeof buf - len) {
            send_text(r, "500 Internal Server Error", "text/plain",
                      "compute buffer too small\n", 25);
            return;
        }
        len += (size_t)n;
    }
    n = snprintf(buf + len, sizeof buf - len, "</table>\n");
    if (n < 0 || (size_t)n >= sizeof buf - len) {
        send_text(r, "500 Internal Server Error", "text/plain",
                  "compute buffer too small\n", 25);
        return;
    }
    len += (size_t)n;
    send_text(r, "200 OK", "text/html", buf, len);
}

static void do_wait(FCGX_Request *r)
{
    static const char msg[] = "waited\n";

    usleep(WAIT_USEC);
    send_text(r, "200 OK", "text/plain", msg, sizeof msg - 1);
}

static void do_post(FCGX_Request *r)
{
    size_t len = 0;
    char out[32];
    int got, n;

    for (;;) {
        if (len == body_cap) {
            size_t cap = body_cap ? body_cap * 2 : 64 * 1024;
            char *p;

            if (cap > MAX_BODY) {
                send_text(r, "413 Payload Too Large", "text/plain",
                          "body too large\n", 15);
                return;
            }
            p = realloc(body_buf, cap);
            if (!p) {
                send_text(r, "500 Internal Server Error", "text/plain",
                          "out of memory\n", 14);
                return;
            }
            body_buf = p;
            body_cap = cap;
        }
        got = FCGX_GetStr(body_buf + len, (int)(body_cap - len), r->in);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    n = snprintf(out, sizeof out, "%zu\n", len);
    send_text(r, "200 OK", "text/plain", out, (size_t)n);
}

int main(void)
{
    FCGX_Request req;

    if (FCGX_Init() != 0) {
        fprintf(stderr, "fcgi-hello: FCGX_Init failed\n");
        return 1;
    }
    if (FCGX_IsCGI()) {
        fprintf(stderr, "fcgi-hello: fd 0 is not a listening socket; "
                        "run me under spawn-fcgi\n");
        return 1;
    }
    if (FCGX_InitRequest(&req, FCGI_LISTENSOCK_FILENO, 0) != 0) {
        fprintf(stderr, "fcgi-hello: FCGX_InitRequest failed\n");
        return 1;
    }
    while (FCGX_Accept_r(&req) >= 0) {
        const char *script = FCGX_GetParam("SCRIPT_NAME", req.envp);

        if (!script)
            script = "";
        if (script_is(script, "hello"))
            do_hello(&req);
        else if (script_is(script, "compute"))
            do_compute(&req);
        else if (script_is(script, "post"))
            do_post(&req);
        else if (script_is(script, "wait"))
            do_wait(&req);
        else
            send_text(&req, "404 Not Found", "text/plain", "not found\n", 10);
        FCGX_Finish_r(&req);
    }
    return 0;
}
