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
 * TLS is OpenSSL's (sslhandshake: SNI, session reuse, verification
 * against --ssl-trusted-certificate to --ssl-verify-depth), non-blocking
 * on the loop like the rest.
 *
 * Not yet: host names (no resolver: "no resolver defined to resolve"),
 * UDP, setoption. */
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

enum { WANT_NONE, WANT_READ, WANT_WRITE, WANT_CONNECT, WANT_RESOLVE };

typedef struct lf_sock {
    struct lf_sock *next, *prev;  /* the request's sockets */
    lf_request_t *r;              /* NULL: not connected */
    lf_uthread_t *waiter;
    lf_loop_t *loop;
    lf_io_t io;
    lf_timer_t timer;
    int fd;
    int want;
    int timed_out;                /* the wait ended by the timeout */
    int connecting;
    int connect_ms, send_ms, read_ms;
    unsigned reused;
    size_t sent;                  /* of the send under way */
    lf_buf_t rbuf;                /* read, not yet taken: rbuf.data[rpos, len) */
    size_t rpos;
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

/* An idle connection in the pool. */
typedef struct lf_pooled {
    struct lf_pooled *next, *prev;
    lf_io_t io;
    lf_timer_t timer;
    lf_loop_t *loop;
    int fd;
    SSL *ssl;
    unsigned reused;
    char key[LF_SOCK_KEY];
} lf_pooled_t;

static lf_pooled_t *pool;
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
    if (s->loop) {
        lf_timer_stop(s->loop, &s->timer);
        if (s->fd >= 0 && s->io.fd == s->fd)
            lf_io_watch(s->loop, &s->io, 0);
    }
    s->want = WANT_NONE;
}

/* Close it (not pooled) and forget the request. */
static void sock_close(lf_sock_t *s)
{
    sock_unwatch(s);
    if (s->fd >= 0) {
        if (s->loop)
            lf_io_stop(s->loop, &s->io);
        close(s->fd);
    }
    if (s->resolving == 1)
        lf_resolve_cancel(s);
    s->resolving = 0;
    s->fd = -1;
    s->connecting = 0;
    ssl_free(s->ssl);
    s->ssl = NULL;
    s->handshaking = 0;
    lf_buf_reset(&s->rbuf);
    s->rpos = 0;
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

static void sock_ready(lf_loop_t *loop, void *data, uint32_t events)
{
    lf_sock_t *s = data;
    (void)loop;
    (void)events;
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
    if ((s->fd < 0 && s->want != WANT_RESOLVE) || s->want == WANT_NONE)
        return 0;
    if (r->cur == NULL || !lua_isyieldable(L) || r->sandboxed)
        return luaL_error(L, "attempt to yield across C-call boundary");
    int ms = s->want == WANT_READ ? s->read_ms
             : s->want == WANT_CONNECT || s->want == WANT_RESOLVE ? s->connect_ms : s->send_ms;
    if (s->want != WANT_RESOLVE) {
        lf_io_init(&s->io, s->fd, sock_ready, s);
        s->io.events = 0;
        if (lf_io_watch(s->loop, &s->io, s->want == WANT_READ ? EPOLLIN | EPOLLRDHUP : EPOLLOUT) != 0)
            return luaL_error(L, "epoll_ctl() of a socket failed");
    }
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
    if (ms < 0)
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

/* Attach a connected descriptor to the socket and the running request. */
static void sock_attach(lf_sock_t *s, lf_request_t *r, int fd)
{
    s->fd = fd;
    s->r = r;
    s->prev = NULL;
    s->next = r->sockets;
    if (s->next)
        s->next->prev = s;
    r->sockets = s;
    lf_io_init(&s->io, fd, sock_ready, s);
}

static void pooled_free(lf_pooled_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        pool = p->next;
    if (p->next)
        p->next->prev = p->prev;
    lf_timer_stop(p->loop, &p->timer);
    lf_io_stop(p->loop, &p->io);
    ssl_free(p->ssl);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
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

/* raw.connect(s, host, port, pool_name): 1, false (wait, then call again
 * with s alone), or nil and the error. */
static int sock_connect(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    lf_request_t *r = lf_api_context(L);
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
    if (s->fd >= 0)
        sock_close(s); /* connect again: the old connection goes */
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
    /* A pooled connection for the key, most recently put back first. */
    for (lf_pooled_t *p = s->udp ? NULL : pool; p; p = p->next) {
        if (strcmp(p->key, s->key) == 0) {
            int fd = p->fd;
            unsigned reused = p->reused;
            SSL *ssl = p->ssl;
            lf_io_stop(p->loop, &p->io);
            p->fd = -1; /* the socket takes it */
            p->ssl = NULL;
            pooled_free(p);
            sock_attach(s, r, fd);
            s->ssl = ssl;
            s->reused = reused + 1;
            lua_pushinteger(L, 1);
            return 1;
        }
    }
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
                return sock_connect(L); /* answered already */
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
    sock_attach(s, r, fd);
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
    if (s->fd < 0 || s->connecting) {
        return sock_fail(L, "closed");
    }
    if (s->timed_out) {
        s->timed_out = 0;
        s->sent = 0;
        sock_close(s);
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
            return 1;
        }
        if (n == 0)
            return -1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->want = WANT_READ;
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
            const char *at = plen && have >= plen ? memmem(p, have, pat, plen) : NULL;
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

static void pooled_gone(lf_loop_t *loop, void *data, uint32_t events)
{
    (void)loop;
    (void)events;
    pooled_free(data); /* data or the close on an idle connection */
}

static void pooled_expired(lf_loop_t *loop, void *data)
{
    (void)loop;
    pooled_free(data);
}

/* raw.setkeepalive(s, timeout_ms, size): 1, or nil and the error. */
static int sock_setkeepalive(lua_State *L)
{
    lf_sock_t *s = sock_check(L);
    if (s->fd < 0 || s->connecting) {
        return sock_fail(L, "closed");
    }
    if (s->rbuf.len > s->rpos) {
        return sock_fail(L, "unread data in buffer");
    }
    lua_Number tmo = luaL_optnumber(L, 2, LF_SOCK_KEEPALIVE_MS);
    lua_Integer size = luaL_optinteger(L, 3, LF_SOCK_POOL_SIZE);
    if (size <= 0)
        return luaL_error(L, "bad \"pool_size\" option value: %d", (int)size);
    /* At the key's size the least recently put back goes. */
    lf_pooled_t *last = NULL;
    int n = 0;
    for (lf_pooled_t *p = pool; p; p = p->next)
        if (strcmp(p->key, s->key) == 0) {
            n++;
            last = p;
        }
    if (n >= size && last)
        pooled_free(last);
    lf_pooled_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        sock_close(s);
        return sock_fail(L, "no memory");
    }
    sock_unwatch(s);
    lf_io_stop(s->loop, &s->io);
    p->fd = s->fd;
    p->ssl = s->ssl;
    s->ssl = NULL;
    p->loop = s->loop;
    p->reused = s->reused;
    memcpy(p->key, s->key, sizeof(p->key));
    s->fd = -1; /* the pool has it now */
    sock_close(s);
    lf_io_init(&p->io, p->fd, pooled_gone, p);
    lf_timer_init(&p->timer, pooled_expired, p);
    if (lf_io_watch(p->loop, &p->io, EPOLLIN | EPOLLRDHUP) != 0) {
        close(p->fd);
        free(p);
        lua_pushinteger(L, 1);
        return 1;
    }
    if (tmo > 0) {
        lf_loop_update_time(p->loop);
        lf_timer_start(p->loop, &p->timer, tmo / 1000.0);
    }
    p->next = pool;
    if (pool)
        pool->prev = p;
    pool = p;
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
    while (pool)
        pooled_free(pool);
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
