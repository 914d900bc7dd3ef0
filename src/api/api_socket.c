/* api_socket.c - ngx.socket.tcp: cosockets on the worker's loop.  A
 * socket call that would block parks the calling light thread (the
 * worker serves others) until the descriptor is ready or the socket's
 * timeout passes; the Lua half (lua/luafpm/socket.lua) retries the call
 * then.  Semantics and error strings are lua-nginx-module's
 * (ngx_http_lua_socket_tcp.c): a read timeout leaves the socket usable,
 * every other error closes it; setkeepalive puts the connection in this
 * worker's pool for its key ("host:port", "unix:path" or opts.pool).
 * When a request ends, every socket it still holds is closed.
 *
 * A connection's descriptor is in epoll once, edge-triggered for input
 * and output, from its connect to its close (nginx's way): waiting, going
 * into the pool and coming out of it cost no epoll_ctl.  Every call tries
 * its syscall first and waits only after EAGAIN, so an edge that came
 * while nobody waited is never needed.
 *
 * TLS is OpenSSL's (sslhandshake: SNI, session reuse, verification
 * against --ssl-trusted-certificate to --ssl-verify-depth), non-blocking
 * on the loop like the rest.  Host names go through the worker's resolver
 * (src/event/resolver.c); ngx.socket.udp shares the machinery. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <lauxlib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "api.h"
#include "buf.h"
#include "fdutil.h"
#include "log.h"
#include "resolver.h"

#define LF_SOCK_MT "luafpm.socket.tcp"
#define LF_SESSION_MT "luafpm.ssl.session"
#define LF_UDP_MT "luafpm.socket.udp"
#define LF_SOCK_DEFAULT_MS 60000     /* lua_socket_*_timeout */
#define LF_SOCK_POOL_SIZE 30         /* lua_socket_pool_size */
#define LF_SOCK_KEEPALIVE_MS 60000   /* lua_socket_keepalive_timeout */
#define LF_SOCK_KEY 256
#define LF_SOCK_READ 16384

enum { WANT_NONE, WANT_READ, WANT_WRITE, WANT_CONNECT, WANT_RESOLVE, WANT_POOL };

struct lf_sock;
struct lf_spool;

/* One connection to a server: its socket's while in use, the pool's while
 * idle (then an event on it means the server closed it or sent what
 * nobody asked for: it goes). */
typedef struct lf_conn {
    struct lf_conn *next, *prev;  /* its pool's idle ones, most recently put back first */
    struct lf_sock *sock;         /* in use by it; NULL: idle in the pool */
    struct lf_spool *spool;       /* the pool it counts in, or NULL */
    lf_io_t io;
    lf_timer_t timer;             /* the idle timeout, in the pool */
    lf_loop_t *loop;
    int fd;
    int input;                    /* input or a close came since a read last drained it */
    SSL *ssl;                     /* idle only: in use, the socket holds it */
    unsigned reused;
} lf_conn_t;

/* A pool: one key's idle connections (at most size, least recently put
 * back evicted) and, with a backlog, the bound on all of its connections
 * (size open at once, backlog connects queued).  Made by the first
 * connect with pool_size or backlog, or the first setkeepalive; its size
 * is fixed then (lua-nginx-module's rules).  Freed with its last
 * connection. */
typedef struct lf_spool {
    struct lf_spool *next, *prev;
    lf_conn_t *idle;
    struct lf_sock *wait_head, *wait_tail; /* connects queued for a slot */
    int size, backlog;            /* backlog -1: no bound on connections */
    int nidle, waiting;
    long connections;             /* open (in use, idle) or reserved for a queued connect */
    char key[LF_SOCK_KEY];
} lf_spool_t;

typedef struct lf_sock {
    struct lf_sock *next, *prev;  /* the request's sockets */
    lf_request_t *r;              /* NULL: not connected */
    lf_uthread_t *waiter;
    lf_loop_t *loop;
    lf_conn_t *conn;              /* its connection; NULL with fd < 0 */
    lf_timer_t timer;
    int fd;
    int want;
    int write_closed;             /* after a send timeout: reads only, as nginx */
    lf_spool_t *spool;            /* the pool its connect counts in, or NULL */
    struct lf_sock *qnext;        /* in spool's queue of connects */
    int queued;                   /* 1: waiting for a slot; 2: given one */
    int slot;                     /* counted in spool->connections, no conn yet */
    lf_conn_t *granted;           /* an idle connection handed over while queued */
    int ever_connected;           /* getoption/setoption raise before that */
    int timed_out;                /* the wait ended by the timeout */
    int connecting;
    int connect_ms, send_ms, read_ms;
    unsigned reused;
    size_t sent;                  /* of the send under way */
    lf_buf_t rbuf;                /* read, not yet taken: rbuf.data[rpos, len) */
    size_t rpos;
    const char *upat;             /* receiveuntil: the pattern searched last, */
    size_t uscan;                 /* and where in rbuf past rpos a match may still start */
    SSL *ssl;                     /* after sslhandshake */
    int handshaking;
    int udp;                      /* ngx.socket.udp */
    int resolving;                /* 1: asked, 2: answered */
    const char *resolve_err;
    struct in_addr resolved;
    int port;
    char host[256];
    char key[LF_SOCK_KEY];
} lf_sock_t;

static lf_spool_t *pools;
static SSL_CTX *ssl_ctx;          /* this worker's, made on first use */

static void ssl_free(SSL *ssl)
{
    if (ssl == NULL)
        return;
    SSL_shutdown(ssl); /* one try, non-blocking: a close_notify if it fits */
    SSL_free(ssl);
}

/* "connection refused" as lua-nginx-module words an errno. */
static int sock_push_errno(lua_State *L, int err)
{
    char buf[128];
    const char *s = strerror(err);
    size_t i = 0;
    for (; s[i] && i < sizeof(buf) - 1; i++)
        buf[i] = (char)tolower((unsigned char)s[i]);
    buf[i] = '\0';
    lua_pushnil(L);
    lua_pushstring(L, buf);
    return 2;
}

/* nil and a fixed reason ("closed", "timeout", ...). */
static int sock_fail(lua_State *L, const char *why)
{
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
}

static lf_sock_t *sock_check(lua_State *L)
{
    lf_sock_t *s = luaL_testudata(L, 1, LF_SOCK_MT);
    if (s == NULL)
        s = luaL_checkudata(L, 1, LF_UDP_MT);
    return s;
}

static void sock_unwatch(lf_sock_t *s)
{
    if (s->loop)
        lf_timer_stop(s->loop, &s->timer);
    s->want = WANT_NONE;
}

static lf_spool_t *spool_find(const char *key)
{
    for (lf_spool_t *sp = pools; sp; sp = sp->next)
        if (strcmp(sp->key, key) == 0)
            return sp;
    return NULL;
}

static lf_spool_t *spool_new(const char *key, int size, int backlog)
{
    lf_spool_t *sp = calloc(1, sizeof(*sp));
    if (sp == NULL)
        return NULL;
    snprintf(sp->key, sizeof(sp->key), "%s", key);
    sp->size = size;
    sp->backlog = backlog;
    sp->next = pools;
    if (pools)
        pools->prev = sp;
    pools = sp;
    return sp;
}

/* A pool with nothing left in it goes (keys are the handlers' to make). */
static void spool_release(lf_spool_t *sp)
{
    if (sp->connections > 0 || sp->idle || sp->waiting > 0)
        return;
    if (sp->prev)
        sp->prev->next = sp->next;
    else
        pools = sp->next;
    if (sp->next)
        sp->next->prev = sp->prev;
    free(sp);
}

static void idle_unlink(lf_conn_t *c)
{
    lf_spool_t *sp = c->spool;
    if (c->prev)
        c->prev->next = c->next;
    else
        sp->idle = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    sp->nidle--;
}

static lf_sock_t *spool_dequeue(lf_spool_t *sp)
{
    lf_sock_t *w = sp->wait_head;
    if (w) {
        sp->wait_head = w->qnext;
        if (sp->wait_head == NULL)
            sp->wait_tail = NULL;
        w->qnext = NULL;
        sp->waiting--;
    }
    return w;
}

static void spool_unqueue(lf_spool_t *sp, lf_sock_t *s)
{
    lf_sock_t **pp = &sp->wait_head, *prev = NULL;
    while (*pp && *pp != s) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (*pp == NULL)
        return;
    *pp = s->qnext;
    if (sp->wait_tail == s)
        sp->wait_tail = prev;
    s->qnext = NULL;
    sp->waiting--;
}

/* A queued connect gets its turn on the next loop turn (not from inside
 * the call that freed the slot, which runs another request's Lua). */
static void spool_grant(lf_sock_t *w)
{
    w->queued = 2;
    lf_timer_stop(w->loop, &w->timer);
    lf_timer_start(w->loop, &w->timer, 0);
}

/* One of sp's connections closed: its slot to the first queued connect. */
static void spool_slot_freed(lf_spool_t *sp)
{
    lf_sock_t *w;
    if (sp->backlog >= 0 && sp->connections < sp->size && (w = spool_dequeue(sp)) != NULL) {
        sp->connections++;
        w->slot = 1;
        spool_grant(w);
        return;
    }
    spool_release(sp);
}

/* Out of epoll (a forked child may hold the descriptor too), closed, freed. */
static void conn_free(lf_conn_t *c)
{
    lf_spool_t *sp = c->spool;
    if (c->sock == NULL && sp)
        idle_unlink(c);
    lf_timer_stop(c->loop, &c->timer);
    lf_io_stop(c->loop, &c->io);
    ssl_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    if (sp) {
        sp->connections--;
        spool_slot_freed(sp);
    }
}

/* A queued connect that will not take what it was given, or wait. */
static void sock_unqueue(lf_sock_t *s)
{
    lf_spool_t *sp = s->spool;
    if (sp == NULL)
        return;
    if (s->queued == 1)
        spool_unqueue(sp, s);
    s->queued = 0;
    if (s->granted) {
        lf_conn_t *c = s->granted; /* back where it was, for the next one */
        s->granted = NULL;
        c->sock = NULL;
        conn_free(c);
    }
    if (s->slot) {
        s->slot = 0;
        sp->connections--;
        spool_slot_freed(sp);
    } else {
        spool_release(sp);
    }
    s->spool = NULL;
}

/* Close it (not pooled) and forget the request. */
static void sock_close(lf_sock_t *s)
{
    sock_unwatch(s);
    if (s->queued || s->slot || s->granted)
        sock_unqueue(s);
    s->spool = NULL;
    ssl_free(s->ssl); /* its close_notify before the descriptor goes */
    s->ssl = NULL;
    if (s->conn)
        conn_free(s->conn);
    else if (s->fd >= 0)
        close(s->fd);
    s->conn = NULL;
    if (s->resolving == 1)
        lf_resolve_cancel(s);
    s->resolving = 0;
    s->fd = -1;
    s->connecting = 0;
    s->write_closed = 0;
    s->handshaking = 0;
    lf_buf_reset(&s->rbuf);
    s->rpos = 0;
    s->uscan = 0;
    s->upat = NULL;
    if (s->r) {
        if (s->prev)
            s->prev->next = s->next;
        else
            s->r->sockets = s->next;
        if (s->next)
            s->next->prev = s->prev;
        s->next = s->prev = NULL;
        s->r = NULL;
    }
    s->waiter = NULL;
}

static const char *conn_idle_check(lf_conn_t *c, SSL *ssl);

#define LF_EV_INPUT (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define LF_EV_OUTPUT (EPOLLOUT | EPOLLHUP | EPOLLERR)

/* An edge on a connection: wake its socket's waiter if this is what it
 * waits for; on an idle one, the end of it. */
static void conn_event(lf_loop_t *loop, void *data, uint32_t events)
{
    (void)loop;
    lf_conn_t *c = data;
    lf_sock_t *s = c->sock;
    if (s == NULL) {
        /* An edge queued before it went idle may be stale: look. */
        if ((events & LF_EV_INPUT) &&
            ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) || conn_idle_check(c, c->ssl)))
            conn_free(c);
        return;
    }
    if (events & LF_EV_INPUT)
        c->input = 1;
    if (s->waiter == NULL || s->want == WANT_NONE || s->want == WANT_RESOLVE || s->want == WANT_POOL)
        return; /* (a connection handed to a queued connect: not its socket's yet) */
    if (!(events & (s->want == WANT_READ ? LF_EV_INPUT : LF_EV_OUTPUT)))
        return;
    lf_uthread_t *w = s->waiter;
    sock_unwatch(s);
    s->waiter = NULL;
    lf_request_thread_wake(w);
}

static void sock_timeout(lf_loop_t *loop, void *data)
{
    lf_sock_t *s = data;
    (void)loop;
    lf_uthread_t *w = s->waiter;
    sock_unwatch(s);
    if (s->queued != 2) /* 2: its turn in the pool's queue came */
        s->timed_out = 1;
    s->waiter = NULL;
    lf_request_thread_wake(w);
}

/* Every socket of a request that ends: closed. */
static void sock_request_end(lf_request_t *r)
{
    while (r->sockets)
        sock_close(r->sockets);
}

/* raw.new(): a fresh, unconnected socket. */
static int sock_new(lua_State *L)
{
    lf_request_t *r = lf_api_context(L);
    lf_sock_t *s = lua_newuserdata(L, sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->loop = r->env.loop;
    s->connect_ms = s->send_ms = s->read_ms = LF_SOCK_DEFAULT_MS;
    lf_timer_init(&s->timer, sock_timeout, s);
    luaL_getmetatable(L, LF_SOCK_MT);
    lua_setmetatable(L, -2);
    return 1;
}

static int sock_gc(lua_State *L)
{
    lf_sock_t *s = lua_touserdata(L, 1);
    sock_close(s);
    lf_buf_free(&s->rbuf);
    return 0;
}

/* raw.wait(s): park the calling thread until what the last call wanted. */
static int sock_wait(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    lf_request_t *r = lf_api_context(L);
    if ((s->fd < 0 && s->want != WANT_RESOLVE && s->want != WANT_POOL) || s->want == WANT_NONE)
        return 0;
    if (r->cur == NULL || !lua_isyieldable(L) || r->sandboxed)
        return luaL_error(L, "attempt to yield across C-call boundary");
    int ms = s->want == WANT_READ ? s->read_ms
             : s->want == WANT_WRITE ? s->send_ms : s->connect_ms;
    lf_loop_update_time(s->loop);
    lf_timer_start(s->loop, &s->timer, ms / 1000.0);
    s->waiter = r->cur;
    s->timed_out = 0;
    r->yield = LF_YIELD_SOCKET;
    return lua_yield(L, 0);
}

static int sock_timeout_arg(lua_State *L, int idx)
{
    lua_Number ms = luaL_checknumber(L, idx);
    if (!(ms >= 0)) /* NaN too */
        return luaL_error(L, "bad timeout value");
    return ms == 0 ? LF_SOCK_DEFAULT_MS : ms > 2147483647 ? 2147483647 : (int)ms;
}

static int sock_settimeout(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    s->connect_ms = s->send_ms = s->read_ms = sock_timeout_arg(L, 2);
    return 0;
}

static int sock_settimeouts(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    s->connect_ms = sock_timeout_arg(L, 2);
    s->send_ms = sock_timeout_arg(L, 3);
    s->read_ms = sock_timeout_arg(L, 4);
    return 0;
}

/* The connection in use by the socket, which the running request holds. */
/* The socket among the running request's, from the start of its connect:
 * a request that ends while the socket waits for the resolver or for a
 * slot of its pool closes it, so nothing wakes a thread that is gone. */
static void sock_join(lf_sock_t *s, lf_request_t *r)
{
    if (s->r == r)
        return;
    s->r = r;
    s->prev = NULL;
    s->next = r->sockets;
    if (s->next)
        s->next->prev = s;
    r->sockets = s;
}

static void sock_attach(lf_sock_t *s, lf_request_t *r, lf_conn_t *c)
{
    c->sock = s;
    s->conn = c;
    s->fd = c->fd;
    s->ever_connected = 1;
    sock_join(s, r);
}

static void conn_expired(lf_loop_t *loop, void *data);

/* A new descriptor's connection, in epoll for good: 0, or -1 with errno
 * (the descriptor closed). */
static int sock_attach_fd(lf_sock_t *s, lf_request_t *r, int fd)
{
    lf_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    c->fd = fd;
    c->loop = s->loop;
    lf_io_init(&c->io, fd, conn_event, c);
    lf_timer_init(&c->timer, conn_expired, c);
    if (lf_io_watch(c->loop, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0) {
        int e = errno;
        close(fd);
        free(c);
        errno = e;
        return -1;
    }
    if (s->spool) { /* it counts in the pool its connect found */
        c->spool = s->spool;
        if (s->slot)
            s->slot = 0; /* counted when the slot was reserved */
        else
            c->spool->connections++;
    }
    sock_attach(s, r, c);
    return 0;
}

/* The resolver's answer for a socket that waits in connect. */
static void sock_resolved(void *data, const char *err, struct in_addr addr)
{
    lf_sock_t *s = data;
    s->resolving = 2;
    s->resolve_err = err;
    s->resolved = addr;
    lf_uthread_t *w = s->waiter;
    sock_unwatch(s);
    s->waiter = NULL;
    lf_request_thread_wake(w);
}

static int sock_start(lua_State *L, lf_sock_t *s, lf_request_t *r, struct sockaddr_storage *sa,
                      socklen_t salen, int unix_path);

static int sock_connect_to(lua_State *L, lf_sock_t *s, lf_request_t *r, const char *host, int port);

/* Back into the pool: to the first queued connect if there is one, else
 * idle, the least recently put back going past the size. */
static void spool_put_idle(lf_conn_t *c, double timeout_ms)
{
    lf_spool_t *sp = c->spool;
    lf_sock_t *w;
    c->sock = NULL;
    if (sp->backlog >= 0 && (w = spool_dequeue(sp)) != NULL) {
        c->sock = w; /* reserved: nothing else may take it */
        w->granted = c;
        spool_grant(w);
        return;
    }
    if (sp->nidle >= sp->size) {
        lf_conn_t *last = sp->idle;
        while (last && last->next)
            last = last->next;
        if (last)
            conn_free(last);
    }
    c->prev = NULL;
    c->next = sp->idle;
    if (sp->idle)
        sp->idle->prev = c;
    sp->idle = c;
    sp->nidle++;
    if (timeout_ms > 0) {
        lf_loop_update_time(c->loop);
        lf_timer_start(c->loop, &c->timer, timeout_ms / 1000.0);
    }
}

/* The connection c (idle, or handed over) in use by s again. */
static int sock_reuse(lua_State *L, lf_sock_t *s, lf_request_t *r, lf_conn_t *c)
{
    lf_timer_stop(c->loop, &c->timer);
    sock_attach(s, r, c);
    s->ssl = c->ssl;
    c->ssl = NULL;
    s->reused = c->reused + 1;
    lua_pushinteger(L, 1);
    return 1;
}

/* The pool's part of a connect: 0 (open a new connection), or the
 * results pushed (1: a pooled one; false: queued, wait; nil, error). */
static int sock_pool_connect(lua_State *L, lf_sock_t *s, lf_request_t *r, int pool_size, int backlog)
{
    lf_spool_t *sp = spool_find(s->key);
    if (sp == NULL && pool_size > 0) {
        sp = spool_new(s->key, pool_size, backlog);
        if (sp == NULL)
            return sock_fail(L, "no memory");
    }
    if (sp == NULL)
        return 0;
    s->spool = sp;
    if (sp->idle) {
        lf_conn_t *c = sp->idle;
        idle_unlink(c);
        return sock_reuse(L, s, r, c);
    }
    if (sp->backlog < 0)
        return 0;
    if (sp->connections >= sp->size) {
        if (sp->waiting >= sp->backlog) {
            s->spool = NULL;
            spool_release(sp);
            return sock_fail(L, "too many waiting connect operations");
        }
        s->queued = 1;
        if (sp->wait_tail)
            sp->wait_tail->qnext = s;
        else
            sp->wait_head = s;
        sp->wait_tail = s;
        sp->waiting++;
        s->want = WANT_POOL;
        lua_pushboolean(L, 0);
        return 1;
    }
    sp->connections++;
    s->slot = 1;
    return 0;
}

static int sock_connect_step(lua_State *L);

/* raw.connect(s, host, port, pool_name, pool_size, backlog): 1, false
 * (wait, then call again with s alone), or nil and the error; a connect
 * that fails gives back what it held of its pool. */
static int sock_connect(lua_State *L)
{
    int n = sock_connect_step(L);
    lf_sock_t *s = lua_touserdata(L, 1);
    if (lua_isnil(L, -n) && s->fd < 0 && (s->queued || s->slot || s->spool))
        sock_unqueue(s);
    return n;
}

static int sock_connect_step(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    lf_request_t *r = lf_api_context(L);
    if (lua_gettop(L) == 1 && s->queued) {
        /* After waiting for a slot of the pool. */
        if (s->queued == 1) {
            s->timed_out = 0;
            return sock_fail(L, "timeout");
        }
        s->queued = 0;
        if (s->granted) {
            lf_conn_t *c = s->granted;
            s->granted = NULL;
            return sock_reuse(L, s, r, c);
        }
        return sock_connect_to(L, s, r, s->host, s->port);
    }
    if (lua_gettop(L) == 1 && s->resolving) {
        /* After waiting for the resolver. */
        if (s->resolving == 1 || s->resolve_err) {
            const char *why = s->resolving == 1 ? "110: Operation timed out" : s->resolve_err;
            if (s->resolving == 1)
                lf_resolve_cancel(s);
            s->resolving = 0;
            s->timed_out = 0;
            lua_pushnil(L);
            lua_pushfstring(L, "%s could not be resolved (%s)", s->host, why);
            return 2;
        }
        s->resolving = 0;
        struct sockaddr_storage sa;
        memset(&sa, 0, sizeof(sa));
        struct sockaddr_in *in4 = (struct sockaddr_in *)&sa;
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)s->port);
        in4->sin_addr = s->resolved;
        return sock_start(L, s, r, &sa, sizeof(*in4), 0);
    }
    if (lua_gettop(L) == 1 && s->connecting) {
        /* After the wait. */
        if (s->timed_out) {
            s->timed_out = 0;
            sock_close(s);
            return sock_fail(L, "timeout");
        }
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        s->connecting = 0;
        if (err != 0) {
            sock_close(s);
            return sock_push_errno(L, err);
        }
        lua_pushinteger(L, 1);
        return 1;
    }
    const char *host = luaL_checkstring(L, 2);
    if (s->fd >= 0 || s->spool)
        sock_close(s); /* connect again: the old connection goes */
    sock_join(s, r);
    int unix_path = strncmp(host, "unix:", 5) == 0;
    int port = 0;
    if (!unix_path) {
        if (lua_isnoneornil(L, 3) || !lua_isnumber(L, 3)) {
            return sock_fail(L, "missing the port number");
        }
        lua_Number pn = lua_tonumber(L, 3);
        if (pn < 0 || pn > 65535 || pn != (lua_Number)(int)pn) {
            lua_pushnil(L);
            lua_pushfstring(L, "bad port number: %d", (int)pn);
            return 2;
        }
        port = (int)pn;
    }
    if (lua_isstring(L, 4))
        snprintf(s->key, sizeof(s->key), "%s", lua_tostring(L, 4));
    else if (unix_path)
        snprintf(s->key, sizeof(s->key), "%s", host);
    else
        snprintf(s->key, sizeof(s->key), "%s:%d", host, port);
    s->reused = 0;
    if (!s->udp) {
        int backlog = lua_isnumber(L, 6) ? (int)lua_tointeger(L, 6) : -1;
        int size = lua_isnumber(L, 5) ? (int)lua_tointeger(L, 5) : backlog >= 0 ? LF_SOCK_POOL_SIZE : 0;
        snprintf(s->host, sizeof(s->host), "%s", host); /* for a queued connect */
        s->port = port;
        int n = sock_pool_connect(L, s, r, size, backlog);
        if (n != 0)
            return n;
    }
    return sock_connect_to(L, s, r, host, port);
}

/* A new connection to host:port (or "unix:path"). */
static int sock_connect_to(lua_State *L, lf_sock_t *s, lf_request_t *r, const char *host, int port)
{
    int unix_path = strncmp(host, "unix:", 5) == 0;
    struct sockaddr_storage sa;
    socklen_t salen;
    memset(&sa, 0, sizeof(sa));
    if (unix_path) {
        struct sockaddr_un *un = (struct sockaddr_un *)&sa;
        size_t n = strlen(host + 5);
        if (n == 0 || n >= sizeof(un->sun_path)) {
            return sock_fail(L, "bad unix socket path");
        }
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, host + 5, n + 1);
        salen = (socklen_t)sizeof(*un);
    } else {
        struct sockaddr_in *in4 = (struct sockaddr_in *)&sa;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
        char h[128];
        snprintf(h, sizeof(h), "%s", host);
        size_t hl = strlen(h);
        if (hl > 2 && h[0] == '[' && h[hl - 1] == ']') {
            memmove(h, h + 1, hl - 2);
            h[hl - 2] = '\0';
        }
        if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
            in4->sin_family = AF_INET;
            in4->sin_port = htons((uint16_t)port);
            salen = sizeof(*in4);
        } else if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons((uint16_t)port);
            salen = sizeof(*in6);
        } else {
            /* The answer may come at once (the hosts file): the socket
             * is ready for it before asking. */
            s->resolving = 1;
            s->resolve_err = NULL;
            s->port = port;
            snprintf(s->host, sizeof(s->host), "%s", h);
            int rc = lf_resolve(h, sock_resolved, s, &in4->sin_addr);
            if (rc < 0) {
                s->resolving = 0;
                lua_pushnil(L);
                lua_pushfstring(L, "no resolver defined to resolve \"%s\"", host);
                return 2;
            }
            if (rc == 0 && s->resolving == 2) {
                lua_settop(L, 1);
                return sock_connect_step(L); /* answered already */
            }
            if (rc == 0) {
                /* The answer comes from the loop: wait for it. */
                s->want = WANT_RESOLVE;
                lua_pushboolean(L, 0);
                return 1;
            }
            s->resolving = 0;
            in4->sin_family = AF_INET;
            in4->sin_port = htons((uint16_t)port);
            salen = sizeof(*in4);
        }
    }
    return sock_start(L, s, r, &sa, salen, unix_path);
}

/* A socket to sa, connecting: 1, false (wait), or nil and the error. */
static int sock_start(lua_State *L, lf_sock_t *s, lf_request_t *r, struct sockaddr_storage *sa,
                      socklen_t salen, int unix_path)
{
    int fd = socket(sa->ss_family, (s->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        int high = lf_fd_above_stdio(fd);
        if (high < 0) {
            int e = errno;
            close(fd);
            errno = e;
        }
        fd = high;
    }
    if (fd < 0)
        return sock_push_errno(L, errno);
    if (!unix_path && !s->udp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (sock_attach_fd(s, r, fd) != 0)
        return sock_push_errno(L, errno);
    int rc;
    do
        rc = connect(fd, (struct sockaddr *)sa, salen);
    while (rc != 0 && errno == EINTR);
    if (rc == 0) {
        lua_pushinteger(L, 1);
        return 1;
    }
    if (errno == EINPROGRESS || errno == EAGAIN) {
        s->connecting = 1;
        s->want = WANT_CONNECT;
        lua_pushboolean(L, 0);
        return 1;
    }
    int err = errno;
    sock_close(s);
    return sock_push_errno(L, err);
}

/* raw.send(s, data): the bytes sent (all of data), false (wait, then call
 * again with the same data), or nil and the error. */
static int sock_send(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    size_t len;
    const char *p = luaL_checklstring(L, 2, &len);
    if (s->fd < 0 || s->connecting || s->write_closed) {
        return sock_fail(L, "closed");
    }
    if (s->timed_out) {
        /* nginx's write side is done; reading goes on (and close is 1) */
        s->timed_out = 0;
        s->sent = 0;
        s->write_closed = 1;
        return sock_fail(L, "timeout");
    }
    while (s->sent < len) {
        if (s->ssl) {
            ERR_clear_error();
            int n = SSL_write(s->ssl, p + s->sent, (int)(len - s->sent > INT_MAX ? INT_MAX : len - s->sent));
            if (n > 0) {
                s->sent += (size_t)n;
                continue;
            }
            int e = SSL_get_error(s->ssl, n);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                s->want = e == SSL_ERROR_WANT_WRITE ? WANT_WRITE : WANT_READ;
                lua_pushboolean(L, 0);
                return 1;
            }
            s->sent = 0;
            sock_close(s);
            return sock_fail(L, "closed");
        }
        ssize_t n = send(s->fd, p + s->sent, len - s->sent, MSG_NOSIGNAL);
        if (n > 0) {
            s->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            s->want = WANT_WRITE;
            lua_pushboolean(L, 0);
            return 1;
        }
        int err = n < 0 ? errno : EPIPE;
        s->sent = 0;
        sock_close(s);
        if (err == EPIPE || err == ECONNRESET) {
            return sock_fail(L, "closed");
        }
        return sock_push_errno(L, err);
    }
    s->sent = 0;
    lua_pushinteger(L, (lua_Integer)len);
    return 1;
}

/* Read what has come into the buffer: 1 (bytes), 0 (nothing yet), -1
 * (the peer closed), -2 (an error: errno). */
static int sock_fill(lf_sock_t *s)
{
    if (s->rpos > 0 && s->rpos == s->rbuf.len) {
        lf_buf_reset(&s->rbuf);
        s->rpos = 0;
    }
    if (lf_buf_reserve(&s->rbuf, LF_SOCK_READ) != 0) {
        errno = ENOMEM;
        return -2;
    }
    if (s->ssl) {
        ERR_clear_error();
        int n = SSL_read(s->ssl, s->rbuf.data + s->rbuf.len, LF_SOCK_READ);
        if (n > 0) {
            s->rbuf.len += (size_t)n;
            return 1;
        }
        int e = SSL_get_error(s->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            s->want = e == SSL_ERROR_WANT_READ ? WANT_READ : WANT_WRITE;
            if (e == SSL_ERROR_WANT_READ)
                s->conn->input = 0;
            return 0;
        }
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0))
            return -1;
        errno = e == SSL_ERROR_SYSCALL && errno ? errno : EPROTO;
        return -2;
    }
    for (;;) {
        ssize_t n = recv(s->fd, s->rbuf.data + s->rbuf.len, LF_SOCK_READ, 0);
        if (n > 0) {
            s->rbuf.len += (size_t)n;
            if (n < LF_SOCK_READ)
                s->conn->input = 0; /* a short read emptied the socket */
            return 1;
        }
        if (n == 0)
            return -1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->want = WANT_READ;
            s->conn->input = 0;
            return 0;
        }
        return -2;
    }
}

/* Push n buffered bytes (every CR dropped with strip_cr) and take them. */
static void sock_take(lua_State *L, lf_sock_t *s, size_t n, size_t skip, int strip_cr)
{
    const char *p = s->rbuf.data + s->rpos;
    if (strip_cr) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (size_t i = 0; i < n; i++)
            if (p[i] != '\r')
                luaL_addchar(&b, p[i]);
        luaL_pushresult(&b);
    } else {
        lua_pushlstring(L, p, n);
    }
    s->rpos += n + skip;
    s->uscan = 0;
}

/* The error of a read: nil, err, and what had come (taken). */
static int sock_read_error(lua_State *L, lf_sock_t *s, const char *err, int strip_cr, int keep)
{
    lua_pushnil(L);
    lua_pushstring(L, err);
    sock_take(L, s, s->rbuf.len - s->rpos, 0, strip_cr);
    if (!keep)
        sock_close(s);
    return 3;
}

/* raw.read(s, mode, arg, inclusive): mode "l" (a line), "n" (arg bytes),
 * "a" (to the close), "u" (up to the pattern arg, at most inclusive...):
 * the data, false (wait, then call again), or nil, the error, the partial
 * data.  For "u": size at 5 (0 = none); nil, nil when a piece ended in
 * size mode. */
static int sock_read(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    const char *mode = luaL_checkstring(L, 2);
    if (s->fd < 0 || s->connecting) {
        return sock_fail(L, "closed");
    }
    size_t plen = 0;
    const char *pat = NULL;
    size_t want = 0, size = 0;
    int inclusive = lua_toboolean(L, 4);
    if (mode[0] == 'n')
        want = (size_t)luaL_checkinteger(L, 3);
    if (mode[0] == 'u') {
        pat = luaL_checklstring(L, 3, &plen);
        size = (size_t)luaL_optinteger(L, 5, 0);
    }
    int closed = 0;
    for (;;) {
        const char *p = s->rbuf.data + s->rpos;
        size_t have = s->rbuf.len - s->rpos;
        switch (mode[0]) {
        case 'l': {
            const char *nl = have ? memchr(p, '\n', have) : NULL;
            if (nl) {
                sock_take(L, s, (size_t)(nl - p), 1, 1);
                return 1;
            }
            break;
        }
        case 'n':
            if (have >= want) {
                sock_take(L, s, want, 0, 0);
                return 1;
            }
            break;
        case 'u': {
            /* Data comes in pieces: what was searched is not searched
             * again (a match can start only plen - 1 back from its end). */
            size_t from = s->upat == pat && s->uscan <= have ? s->uscan : 0;
            const char *at = plen && have >= plen ? memmem(p + from, have - from, pat, plen) : NULL;
            s->upat = pat;
            if (at == NULL && plen && have >= plen)
                s->uscan = have - (plen - 1);
            if (at) {
                size_t before = (size_t)(at - p);
                if (size > 0) {
                    if (before == 0) {
                        s->rpos += plen; /* the piece is over */
                        lua_pushnil(L);
                        lua_pushnil(L);
                        return 2;
                    }
                    sock_take(L, s, before < size ? before : size, 0, 0);
                    return 1;
                }
                sock_take(L, s, before + (inclusive ? plen : 0), inclusive ? 0 : plen, 0);
                return 1;
            }
            /* In size mode, what cannot be the start of the pattern can go. */
            if (size > 0 && have >= plen && have - (plen - 1) > 0 && plen > 0) {
                size_t safe = have - (plen - 1);
                sock_take(L, s, safe < size ? safe : size, 0, 0);
                return 1;
            }
            break;
        }
        default: /* 'a' */
            break;
        }
        if (closed) {
            if (mode[0] == 'a') {
                sock_take(L, s, have, 0, 0);
                sock_close(s);
                return 1;
            }
            return sock_read_error(L, s, "closed", mode[0] == 'l', 0);
        }
        if (s->timed_out) {
            s->timed_out = 0;
            return sock_read_error(L, s, "timeout", mode[0] == 'l', 1);
        }
        int rc = sock_fill(s);
        if (rc == 1)
            continue;
        if (rc == 0) {
            lua_pushboolean(L, 0); /* sock_fill said what to wait for */
            return 1;
        }
        if (rc == -1) {
            closed = 1;
            continue;
        }
        int err = errno;
        if (err == ECONNRESET) {
            closed = 1;
            continue;
        }
        sock_push_errno(L, err);                     /* nil, the error */
        sock_take(L, s, s->rbuf.len - s->rpos, 0, 0); /* the partial data */
        sock_close(s);
        return 3;
    }
}

static int sock_close_api(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    if (s->fd < 0) {
        return sock_fail(L, "closed");
    }
    sock_close(s);
    lua_pushinteger(L, 1);
    return 1;
}

static int sock_getreusedtimes(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    if (s->fd < 0) {
        return sock_fail(L, "closed");
    }
    lua_pushinteger(L, (lua_Integer)s->reused);
    return 1;
}

static void conn_expired(lf_loop_t *loop, void *data)
{
    (void)loop;
    conn_free(data); /* idle past its keepalive timeout */
}

/* Did the server close the connection or send something nobody asked
 * for?  NULL (no: the edge, if any, was stale), or the error. */
static const char *conn_idle_check(lf_conn_t *c, SSL *ssl)
{
    char b;
    if (ssl) {
        ERR_clear_error();
        int n = SSL_read(ssl, &b, 1); /* takes what TLS sends on its own (tickets) */
        if (n > 0)
            return "connection in dubious state";
        int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            c->input = 0;
            return NULL;
        }
        return e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ? "closed" : "connection in dubious state";
    }
    ssize_t n;
    do
        n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->input = 0;
        return NULL;
    }
    return n > 0 ? "connection in dubious state" : "closed";
}

/* raw.setkeepalive(s, timeout_ms, size): 1, or nil and the error. */
static int sock_setkeepalive(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    if (s->fd < 0 || s->connecting || s->write_closed || s->conn == NULL) {
        return sock_fail(L, "closed");
    }
    if (s->rbuf.len > s->rpos) {
        return sock_fail(L, "unread data in buffer");
    }
    lua_Number tmo = luaL_optnumber(L, 2, LF_SOCK_KEEPALIVE_MS);
    lua_Integer size = luaL_optinteger(L, 3, LF_SOCK_POOL_SIZE); /* for a new pool only */
    /* No edge since a read last drained it: nothing to check, no syscall. */
    const char *bad = s->conn->input ? conn_idle_check(s->conn, s->ssl) : NULL;
    if (bad != NULL) {
        /* nginx: a close seen is "closed" and the socket stays; data
         * nobody asked for closes it */
        if (strcmp(bad, "closed") != 0)
            sock_close(s);
        return sock_fail(L, bad);
    }
    lf_conn_t *c = s->conn;
    lf_spool_t *sp = c->spool ? c->spool : spool_find(s->key);
    if (sp == NULL) {
        if (size <= 0)
            return luaL_error(L, "bad \"pool_size\" option value: %d", (int)size);
        sp = spool_new(s->key, (int)(size > INT_MAX ? INT_MAX : size), -1);
        if (sp == NULL) {
            sock_close(s);
            return sock_fail(L, "no memory");
        }
    }
    if (c->spool == NULL) {
        c->spool = sp;
        sp->connections++;
    }
    sock_unwatch(s);
    c->ssl = s->ssl;
    c->reused = s->reused;
    s->ssl = NULL;
    s->conn = NULL;
    s->fd = -1; /* the pool has it now */
    s->spool = NULL;
    sock_close(s);
    spool_put_idle(c, tmo);
    lua_pushinteger(L, 1);
    return 1;
}

static int session_gc(lua_State *L)
{
    SSL_SESSION **sp = lua_touserdata(L, 1);
    if (*sp)
        SSL_SESSION_free(*sp);
    *sp = NULL;
    return 0;
}

/* This worker's client context: the trusted certificates, the depth. */
static SSL_CTX *sock_ssl_ctx(const lf_conf_t *conf, char *err, size_t errlen)
{
    if (ssl_ctx)
        return ssl_ctx;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "SSL_CTX_new() failed");
        return NULL;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify_depth(ctx, (int)conf->ssl_verify_depth);
    if (conf->ssl_trusted_certificate &&
        SSL_CTX_load_verify_locations(ctx, conf->ssl_trusted_certificate, NULL) != 1) {
        lf_log(LF_LOG_ERR, "cannot load --ssl-trusted-certificate \"%s\": %s",
               conf->ssl_trusted_certificate, ERR_reason_error_string(ERR_get_error()));
    }
    ssl_ctx = ctx;
    return ctx;
}

/* raw.sslhandshake(s, reused_session, server_name, verify): the session
 * (or true when reused_session is false), false (wait, then call again),
 * or nil and the error. */
static int sock_sslhandshake(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    lf_request_t *r = lf_api_context(L);
    if (s->fd < 0 || s->connecting) {
        return sock_fail(L, "closed");
    }
    int want_session = !(lua_isboolean(L, 2) && !lua_toboolean(L, 2));
    const char *name = lua_isstring(L, 3) ? lua_tostring(L, 3) : NULL;
    int verify = lua_toboolean(L, 4);
    if (s->timed_out) {
        s->timed_out = 0;
        sock_close(s);
        return sock_fail(L, "timeout");
    }
    if (!s->handshaking) {
        if (s->ssl) {
            return sock_fail(L, "already in ssl mode");
        }
        char why[128];
        SSL_CTX *ctx = sock_ssl_ctx(r->conf, why, sizeof(why));
        if (ctx == NULL || (s->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(s->ssl, s->fd) != 1) {
            sock_close(s);
            return sock_fail(L, "failed to create ssl connection");
        }
        if (name && name[0]) {
            SSL_set_tlsext_host_name(s->ssl, name);
            if (verify)
                SSL_set1_host(s->ssl, name);
        }
        SSL_SESSION **sp = luaL_testudata(L, 2, LF_SESSION_MT);
        if (sp && *sp)
            SSL_set_session(s->ssl, *sp);
        s->handshaking = 1;
    }
    ERR_clear_error();
    int rc = SSL_connect(s->ssl);
    if (rc != 1) {
        int e = SSL_get_error(s->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            s->want = e == SSL_ERROR_WANT_READ ? WANT_READ : WANT_WRITE;
            lua_pushboolean(L, 0);
            return 1;
        }
        long v = SSL_get_verify_result(s->ssl);
        sock_close(s);
        lua_pushnil(L);
        if (v != X509_V_OK)
            lua_pushfstring(L, "%d: %s", (int)v, X509_verify_cert_error_string(v));
        else
            lua_pushliteral(L, "handshake failed");
        return 2;
    }
    s->handshaking = 0;
    if (verify) {
        long v = SSL_get_verify_result(s->ssl);
        if (v != X509_V_OK) {
            sock_close(s);
            lua_pushnil(L);
            if (v == X509_V_ERR_HOSTNAME_MISMATCH)
                lua_pushliteral(L, "certificate host mismatch");
            else
                lua_pushfstring(L, "%d: %s", (int)v, X509_verify_cert_error_string(v));
            return 2;
        }
    }
    if (!want_session) {
        lua_pushboolean(L, 1);
        return 1;
    }
    SSL_SESSION **sp = lua_newuserdata(L, sizeof(*sp));
    *sp = SSL_get1_session(s->ssl);
    luaL_getmetatable(L, LF_SESSION_MT);
    lua_setmetatable(L, -2);
    return 1;
}

/* getoption/setoption: lua-resty-core's names, lua-nginx-module's checks. */
static int sock_option(lua_State *L, int set)
{
    static const struct {
        const char *name;
        int level, opt;
    } opts[] = {
        {"keepalive", SOL_SOCKET, SO_KEEPALIVE}, {"reuseaddr", SOL_SOCKET, SO_REUSEADDR},
        {"tcp-nodelay", IPPROTO_TCP, TCP_NODELAY}, {"sndbuf", SOL_SOCKET, SO_SNDBUF},
        {"rcvbuf", SOL_SOCKET, SO_RCVBUF},
    };
    lf_sock_t *s = luaL_checkudata(L, 1, LF_SOCK_MT);
    if (!s->ever_connected)
        return luaL_error(L, "socket is never created nor connected");
    if (lua_isnoneornil(L, 2))
        return sock_fail(L, "missing the \"option\" argument");
    if (set && lua_isnoneornil(L, 3))
        return sock_fail(L, "missing the \"value\" argument");
    const char *name = lua_tostring(L, 2);
    size_t i = 0;
    while (i < sizeof(opts) / sizeof(opts[0]) && (name == NULL || strcmp(name, opts[i].name) != 0))
        i++;
    if (i == sizeof(opts) / sizeof(opts[0])) {
        lua_pushnil(L);
        int t = lua_type(L, 2);
        if (t == LUA_TSTRING || t == LUA_TNUMBER)
            lua_pushfstring(L, "unsupported option %s", lua_tostring(L, 2));
        else if (t == LUA_TBOOLEAN)
            lua_pushfstring(L, "unsupported option %s", lua_toboolean(L, 2) ? "true" : "false");
        else
            lua_pushfstring(L, "unsupported option %s: %p", lua_typename(L, t), lua_topointer(L, 2));
        return 2;
    }
    if (s->fd < 0)
        return sock_fail(L, "closed");
    int val = 0;
    socklen_t len = sizeof(val);
    if (set) {
        val = lua_isboolean(L, 3) ? lua_toboolean(L, 3) : (int)luaL_checkinteger(L, 3);
        if (setsockopt(s->fd, opts[i].level, opts[i].opt, &val, len) != 0)
            return sock_fail(L, strerror(errno));
        lua_pushboolean(L, 1);
        return 1;
    }
    if (getsockopt(s->fd, opts[i].level, opts[i].opt, &val, &len) != 0)
        return sock_fail(L, strerror(errno));
    lua_pushinteger(L, val);
    return 1;
}

static int sock_getoption(lua_State *L)
{
    return sock_option(L, 0);
}

static int sock_setoption(lua_State *L)
{
    return sock_option(L, 1);
}

/* raw.udp(): a fresh UDP socket (setpeername is connect). */
static int sock_new_udp(lua_State *L)
{
    sock_new(L);
    lf_sock_t *s = lua_touserdata(L, -1);
    s->udp = 1;
    luaL_getmetatable(L, LF_UDP_MT);
    lua_setmetatable(L, -2);
    return 1;
}

/* raw.udp_send(s, data): 1, false (wait), or nil and the error. */
static int sock_udp_send(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    size_t len;
    const char *p = luaL_checklstring(L, 2, &len);
    if (s->fd < 0) {
        return sock_fail(L, "closed");
    }
    if (s->timed_out) {
        s->timed_out = 0;
        return sock_fail(L, "timeout");
    }
    for (;;) {
        ssize_t n = send(s->fd, p, len, 0);
        if (n >= 0) {
            lua_pushinteger(L, 1);
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->want = WANT_WRITE;
            lua_pushboolean(L, 0);
            return 1;
        }
        return sock_push_errno(L, errno);
    }
}

/* raw.udp_receive(s, size): a datagram (at most size bytes), false (wait),
 * or nil and the error; a timeout leaves the socket usable. */
static int sock_udp_receive(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    lua_Integer size = luaL_optinteger(L, 2, 8192);
    if (size <= 0 || size > 8192)
        size = 8192;
    if (s->fd < 0) {
        return sock_fail(L, "closed");
    }
    if (s->timed_out) {
        s->timed_out = 0;
        return sock_fail(L, "timeout");
    }
    char buf[8192];
    for (;;) {
        ssize_t n = recv(s->fd, buf, (size_t)size, 0);
        if (n >= 0) {
            lua_pushlstring(L, buf, (size_t)n);
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->want = WANT_READ;
            lua_pushboolean(L, 0);
            return 1;
        }
        return sock_push_errno(L, errno);
    }
}

void lf_api_socket_pool_free(void)
{
    while (pools) {
        lf_spool_t *sp = pools;
        if (sp->idle) {
            conn_free(sp->idle); /* may free sp with its last connection */
            continue;
        }
        pools = sp->next; /* left: connections of requests (none at exit) */
        free(sp);
    }
    if (ssl_ctx)
        SSL_CTX_free(ssl_ctx);
    ssl_ctx = NULL;
}

void lf_api_socket_init(lua_State *L)
{
    static const luaL_Reg raw[] = {
        {"new", sock_new}, {"wait", sock_wait}, {"connect", sock_connect},
        {"send", sock_send}, {"read", sock_read}, {"close", sock_close_api},
        {"getreusedtimes", sock_getreusedtimes}, {"setkeepalive", sock_setkeepalive},
        {"settimeout", sock_settimeout}, {"settimeouts", sock_settimeouts},
        {"sslhandshake", sock_sslhandshake},
        {"getoption", sock_getoption}, {"setoption", sock_setoption},
        {"udp", sock_new_udp}, {"udp_send", sock_udp_send}, {"udp_receive", sock_udp_receive},
        {NULL, NULL},
    };
    lf_request_on_end = sock_request_end;
    luaL_newmetatable(L, LF_SESSION_MT);
    lua_pushcfunction(L, session_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, LF_UDP_MT);                 /* sp: ngx, udp_mt */
    lua_pushcfunction(L, sock_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newmetatable(L, LF_SOCK_MT);                /* sp: ngx, udp_mt, mt */
    lua_pushcfunction(L, sock_gc);
    lua_setfield(L, -2, "__gc");
    lua_getglobal(L, "require");
    lua_pushliteral(L, "luafpm.socket");
    lua_call(L, 1, 1);                               /* sp: ngx, udp_mt, mt, install */
    lua_createtable(L, 0, 16);
    for (const luaL_Reg *f = raw; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }                                                /* sp: ngx, udp_mt, mt, install, raw */
    lua_pushvalue(L, -3);
    lua_pushvalue(L, -5);                            /* sp: ..., install, raw, mt, udp_mt */
    lua_call(L, 3, 1);                               /* sp: ngx, udp_mt, mt, socket */
    lua_setfield(L, -4, "socket");
    lua_pop(L, 2);                                   /* sp: ngx */
}
