/* resolver.c - see resolver.h.  c-ares tells which descriptors it wants
 * watched (the socket-state callback); the loop hands their events to
 * ares_process_fd, and one timer follows ares_timeout. */
#include "config.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"
#include "resolver.h"

#define LF_RESOLVER_FDS 16
#define LF_RESOLVER_CACHE 1024

typedef struct {
    int fd;
    lf_io_t io;
} lf_res_fd_t;

typedef struct lf_res_query {
    struct lf_res_query *next, *prev;
    lf_resolve_cb cb;
    void *data;                /* NULL: cancelled */
    char name[256];
} lf_res_query_t;

typedef struct {
    char name[256];
    struct in_addr addr;
    double expires;
} lf_res_entry_t;

static struct {
    int on;
    ares_channel channel;
    lf_loop_t *loop;
    lf_timer_t timer;
    lf_res_fd_t fds[LF_RESOLVER_FDS];
    lf_res_query_t *queries;
    lf_res_entry_t *cache;     /* LF_RESOLVER_CACHE slots, by hash */
    double valid;              /* --resolver-valid, 0 = the TTL */
} res;

static void res_timer_fired(lf_loop_t *loop, void *data);

static void res_arm_timer(void)
{
    struct timeval tv, *t = ares_timeout(res.channel, NULL, &tv);
    if (t == NULL) {
        lf_timer_stop(res.loop, &res.timer);
        return;
    }
    lf_loop_update_time(res.loop);
    lf_timer_start(res.loop, &res.timer, (double)t->tv_sec + (double)t->tv_usec / 1e6);
}

static void res_fd_ready(lf_loop_t *loop, void *data, uint32_t events)
{
    lf_res_fd_t *f = data;
    (void)loop;
    int fd = f->fd;
    ares_process_fd(res.channel, (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
                    (events & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
    res_arm_timer();
}

static void res_timer_fired(lf_loop_t *loop, void *data)
{
    (void)loop;
    (void)data;
    ares_process_fd(res.channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    res_arm_timer();
}

/* c-ares opens, changes or closes a descriptor it wants watched. */
static void res_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    (void)data;
    lf_res_fd_t *f = NULL, *free_slot = NULL;
    for (int i = 0; i < LF_RESOLVER_FDS; i++) {
        if (res.fds[i].fd == fd)
            f = &res.fds[i];
        else if (res.fds[i].fd < 0 && free_slot == NULL)
            free_slot = &res.fds[i];
    }
    if (!readable && !writable) {
        if (f) {
            lf_io_stop(res.loop, &f->io);
            f->fd = -1;
        }
        return;
    }
    if (f == NULL) {
        if (free_slot == NULL) {
            lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_ERR, 0, "the resolver has too many sockets");
            return;
        }
        f = free_slot;
        f->fd = fd;
        lf_io_init(&f->io, fd, res_fd_ready, f);
    }
    if (lf_io_watch(res.loop, &f->io, (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0)) != 0)
        lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_ERR, 0, "epoll_ctl() of a resolver socket failed");
}

int lf_resolver_init(lf_loop_t *loop, const lf_conf_t *conf)
{
    if (conf->resolver == NULL)
        return 0;
    int system = strcmp(conf->resolver, "system") == 0;
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
        lf_log(LF_LOG_ERR, "ares_library_init() failed: no --resolver");
        return -1;
    }
    struct ares_options o;
    memset(&o, 0, sizeof(o));
    o.sock_state_cb = res_sock_state;
    o.timeout = (int)(conf->resolver_timeout * 1000);
    o.tries = 1;
    o.lookups = system ? "fb" : "b"; /* nginx's resolver reads no /etc/hosts */
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
    for (int i = 0; i < LF_RESOLVER_FDS; i++)
        res.fds[i].fd = -1;
    res.loop = loop;
    if (ares_init_options(&res.channel, &o, mask) != ARES_SUCCESS) {
        lf_log(LF_LOG_ERR, "ares_init_options() failed: no --resolver");
        return -1;
    }
    if (!system) {
        /* "127.0.0.1:53 [::1]:5353": c-ares takes them comma-separated. */
        char csv[1024];
        size_t n = 0;
        for (const char *p = conf->resolver; *p && n < sizeof(csv) - 1; p++)
            csv[n++] = *p == ' ' ? ',' : *p;
        csv[n] = '\0';
        int rc = ares_set_servers_ports_csv(res.channel, csv);
        if (rc != ARES_SUCCESS) {
            lf_log(LF_LOG_ERR, "--resolver \"%s\": %s", conf->resolver, ares_strerror(rc));
            ares_destroy(res.channel);
            return -1;
        }
    }
    res.cache = calloc(LF_RESOLVER_CACHE, sizeof(*res.cache));
    if (res.cache == NULL) {
        ares_destroy(res.channel);
        return -1;
    }
    res.valid = conf->resolver_valid;
    lf_timer_init(&res.timer, res_timer_fired, NULL);
    res.on = 1;
    return 0;
}

void lf_resolver_free(void)
{
    if (!res.on)
        return;
    res.on = 0;
    lf_timer_stop(res.loop, &res.timer);
    ares_destroy(res.channel); /* the pending callbacks run, cancelled */
    while (res.queries) {
        lf_res_query_t *q = res.queries;
        res.queries = q->next;
        free(q);
    }
    for (int i = 0; i < LF_RESOLVER_FDS; i++)
        if (res.fds[i].fd >= 0)
            lf_io_stop(res.loop, &res.fds[i].io);
    free(res.cache);
    res.cache = NULL;
    ares_library_cleanup();
}

static lf_res_entry_t *res_slot(const char *name)
{
    unsigned h = 5381;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = h * 33 + *p;
    return &res.cache[h % LF_RESOLVER_CACHE];
}

/* OpenResty's words for a failed lookup (nginx's ngx_resolver_strerror). */
static const char *res_reason(int status)
{
    switch (status) {
    case ARES_EFORMERR: return "1: Format error";
    case ARES_ESERVFAIL: return "2: Server failure";
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME: return "3: Host not found";
    case ARES_ENOTIMP: return "4: Unimplemented";
    case ARES_EREFUSED: return "5: Operation refused";
    case ARES_ETIMEOUT: return "110: Operation timed out";
    default: return "2: Server failure";
    }
}

static void res_answer(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    lf_res_query_t *q = arg;
    (void)timeouts;
    struct in_addr addr = {0};
    const char *err = NULL;
    int ttl = 0, found = 0;
    if (status == ARES_SUCCESS && ai) {
        for (struct ares_addrinfo_node *n = ai->nodes; n; n = n->ai_next) {
            if (n->ai_family == AF_INET) {
                addr = ((struct sockaddr_in *)(void *)n->ai_addr)->sin_addr;
                ttl = n->ai_ttl;
                found = 1;
                break;
            }
        }
    }
    if (ai)
        ares_freeaddrinfo(ai);
    if (!found)
        err = res_reason(status == ARES_SUCCESS ? ARES_ENODATA : status);
    if (found && res.on) {
        lf_res_entry_t *e = res_slot(q->name);
        snprintf(e->name, sizeof(e->name), "%s", q->name);
        e->addr = addr;
        double valid = res.valid > 0 ? res.valid : ttl;
        e->expires = lf_loop_update_time(res.loop) + valid;
    }
    if (q->prev)
        q->prev->next = q->next;
    else
        res.queries = q->next;
    if (q->next)
        q->next->prev = q->prev;
    if (q->data && status != ARES_EDESTRUCTION)
        q->cb(q->data, err, addr);
    free(q);
}

int lf_resolve(const char *name, lf_resolve_cb cb, void *data, struct in_addr *addr)
{
    if (!res.on)
        return -1;
    lf_res_entry_t *e = res_slot(name);
    if (strcmp(e->name, name) == 0 && lf_loop_update_time(res.loop) < e->expires) {
        *addr = e->addr;
        return 1;
    }
    lf_res_query_t *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return -1;
    snprintf(q->name, sizeof(q->name), "%s", name);
    q->cb = cb;
    q->data = data;
    q->next = res.queries;
    if (q->next)
        q->next->prev = q;
    res.queries = q;
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(res.channel, q->name, NULL, &hints, res_answer, q);
    res_arm_timer();
    return 0;
}

void lf_resolve_cancel(void *data)
{
    for (lf_res_query_t *q = res.queries; q; q = q->next)
        if (q->data == data)
            q->data = NULL;
}
