/* worker.c - a worker's event loop (design.md point 6): the listening
 * socket, every connection, idle kept-alive ones included, and the
 * requests in flight on them, in one epoll loop, so no connection stalls
 * behind another and a request that waits holds only itself. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <time.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include "api.h"
#include "event.h"
#include "resolver.h"
#include "fdutil.h"
#include "log.h"
#include "proc.h"
#include "request.h"
#include "scoreboard.h"
#include "status.h"
#include "timeout.h"
#include "timer.h"
#include "vm.h"
#include "worker.h"

/* A stopping worker waits this long for requests that have begun to
 * arrive (their web server sent them before it saw the worker go). */
#define LF_STOP_PARTIAL_WAIT 5.0
/* A stopping worker closes a kept-alive connection once it has been idle
 * this long (or at LF_STOP_PARTIAL_WAIT): the web server reuses its most
 * recently used connections first, so one idle for a while is the least
 * likely to carry a request already on its way (nginx retries such a
 * request on a new connection, but logs it). */
#define LF_STOP_IDLE_CLOSE 0.05

/* One FastCGI connection of this worker: the codec's state, its place in
 * the event loop, its read timer, and the free list it returns to. */
typedef struct lf_wconn {
    lf_fcgi_conn_t conn;
    lf_io_t io;
    lf_timer_t read_timer;
    lf_request_t *req;             /* the request in flight on it, or NULL */
    double sb_started;             /* its scoreboard start */
    double last_active;            /* loop time of its last event or request end */
    int sb_entry;                  /* and its entry there */
    struct lf_wconn *next_free;
    struct lf_worker *w;
} lf_wconn_t;

/* The worker's state, for the loop's callbacks. */
typedef struct lf_worker {
    const lf_worker_args_t *a;
    lf_loop_t loop;
    lf_vm_t *vm;
    lf_io_t listen_io, life_io;
    lf_timer_t accept_timer;       /* accepting again after a shortage */
    lf_wconn_t *conns;
    lf_wconn_t *free_conns;
    size_t nconns, max_conns;      /* open now, --worker-connections */
    size_t used_conns;             /* conns[0, used_conns) were ever taken: the
                                      rest stays untouched (no memory) */
    unsigned long long served, max_requests;
    int accepting;                 /* the listening socket is watched */
    int accept_paused;
    int listen_gone, master_gone;
} lf_worker_t;

static volatile sig_atomic_t quit_requested;   /* QUIT: finish, then exit */
static volatile sig_atomic_t reopen_requested; /* USR1 */
/* ngx.worker.pids() (proc.h): this generation's live workers by id, from
 * the scoreboard. */
static int worker_pids(pid_t *pids, int max)
{
    static struct {
        pid_t pid;
        int id;
        unsigned gen;
    } live[LF_SB_SLOTS];
    pid_t self = getpid();
    int n = 0, found = 0;
    unsigned gen = 0;
    for (int i = 0; lf_sb && i < LF_SB_SLOTS; i++) {
        lf_sb_slot_t slot;
        lf_sb_read(i, &slot);
        if (slot.state == LF_SB_FREE || slot.state == LF_SB_STOPPING || slot.pid <= 0)
            continue;
        if (slot.pid == self)
            gen = slot.gen, found = 1;
        live[n].pid = slot.pid;
        live[n].id = slot.id;
        live[n].gen = slot.gen;
        n++;
    }
    if (!found)
        return 0;
    int k = 0;
    for (int id = 0; id < lf_proc_worker_count && k < max; id++) {
        for (int i = 0; i < n; i++) {
            if (live[i].gen == gen && live[i].id == id) {
                pids[k++] = live[i].pid;
                break;
            }
        }
    }
    return k;
}

static void worker_on_signal(int signo)
{
    switch (signo) {
    case SIGTERM:
    case SIGINT:
        /* Stop now: requests in flight are abandoned (the web server
         * answers 502), an idle worker leaves through the loop. */
        if (lf_request_inflight != NULL) {
            lf_body_unlink_on_kill();
            _exit(0);
        }
        quit_requested = 2;
        break;
    case SIGQUIT:
        if (!quit_requested)
            quit_requested = 1;
        break;
    case SIGUSR1:
        reopen_requested = 1;
        break;
    default:
        break;
    }
}

void lf_worker_signals_install(void)
{
    static const int handled[] = {SIGTERM, SIGINT, SIGQUIT, SIGUSR1};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: epoll_wait is interrupted regardless, which is how the
     * loop sees the flags. */
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = worker_on_signal;
    for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
        sigaction(handled[i], &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
}

/* --init-worker in a VM this worker is about to use; 0 or -1 with err. */
static int worker_init_vm(lf_vm_t *vm, const lf_conf_t *conf, char *err, size_t errlen)
{
    if (conf->init_worker == NULL)
        return 0;
    return lf_vm_run_file(vm, conf->init_worker, "init_worker", err, errlen);
}

/* A new VM for this worker: --init (and --preload below root, NULL =
 * none), then --init-worker unless the loop runs it (the first VM).  NULL
 * with err set. */
static lf_vm_t *worker_new_vm_init(const lf_conf_t *conf, const lf_root_t *root, char *err,
                                   size_t errlen, int init_worker)
{
    lf_vm_t *vm = lf_vm_prepare(conf, root, err, errlen);
    if (vm && init_worker && worker_init_vm(vm, conf, err, errlen) != 0) {
        lf_vm_close(vm);
        vm = NULL;
    }
    return vm;
}

static lf_vm_t *worker_new_vm(const lf_conf_t *conf, const lf_root_t *root, char *err,
                              size_t errlen)
{
    return worker_new_vm_init(conf, root, err, errlen, 1);
}

/* --init-worker's chunk as {f, n = 1} in the registry (protected). */
typedef struct {
    const char *path;
    int ref;
} lf_init_chunk_t;

static int worker_load_init(lua_State *L, void *ud)
{
    lf_init_chunk_t *c = ud;
    int *ref = &c->ref;
    if (luaL_loadfile(L, c->path) != 0)
        return lua_error(L);
    lua_createtable(L, 1, 1);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, 1);
    lua_setfield(L, -2, "n");
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static void worker_init_done(lf_request_t *r, void *data)
{
    int *state = data;
    *state = r->handler_failed ? -1 : 1;
}

/* The first VM's --init-worker on the loop, as a request without a
 * connection: it may use cosockets, ngx.sleep, timers (beyond OpenResty,
 * lua-nginx-module #1020), bounded by --request-timeout and at most
 * LF_INIT_WORKER_WAIT.  0, or -1 with err. */
#define LF_INIT_WORKER_WAIT 60.0
static int worker_init_on_loop(lf_worker_t *w, lf_vm_t *vm, char *err, size_t errlen)
{
    const lf_conf_t *conf = w->a->conf;
    lua_State *L = vm->L;
    lf_init_chunk_t chunk = {conf->init_worker, LUA_NOREF};
    int rc = lf_vm_protect(L, worker_load_init, &chunk);
    int ref = chunk.ref;
    if (rc != 0) {
        snprintf(err, errlen, "init_worker script %s failed: %s", conf->init_worker,
                 lua_isstring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)");
        lua_settop(L, 0);
        return -1;
    }
    lua_settop(L, 0);
    int state = 0;
    lf_request_env_t env = {
        .conn = NULL, .io = NULL, .loop = &w->loop, .vm = vm, .conf = conf,
        .done = worker_init_done, .data = &state,
    };
    rc = lf_request_start_init(&env, ref);
    if (rc <= 0)
        state = rc == 0 ? 1 : -1;
    double deadline = lf_loop_update_time(&w->loop) + LF_INIT_WORKER_WAIT;
    while (state == 0 && quit_requested != 2 && lf_loop_now(&w->loop) < deadline) {
        if (lf_loop_run_once(&w->loop, deadline - lf_loop_now(&w->loop)) < 0 && errno != EINTR)
            break;
    }
    if (state == 1)
        return 0;
    snprintf(err, errlen, "init_worker script %s %s", conf->init_worker,
             state < 0 ? "failed (the error is logged above)" : "did not finish in 60 s");
    return -1;
}

/* --revalidate: a module file changed, so the whole VM is replaced for
 * new requests (module state, upvalues and FFI definitions are never
 * half-swapped) while the requests in flight finish in the old one, which
 * is closed after the last; a new VM that fails keeps the old one. */
static void worker_revalidate_modules(lf_vm_t **vmp, const lf_worker_args_t *a)
{
    char which[PATH_MAX], err[2048];
    if (*vmp == NULL || !lf_vm_modules_changed(*vmp, which, sizeof(which)))
        return;
    /* A module that no longer compiles keeps the old VM (and its last good
     * version) serving until it is fixed. */
    if (access(which, F_OK) == 0 && lf_vm_compiles(*vmp, which, err, sizeof(err)) != 0) {
        lf_log(LF_LOG_ERR, "module %s changed but does not compile, the previous version goes on serving: %s",
               which, err);
        lf_vm_modules_accept(*vmp);
        return;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lf_vm_t *fresh = worker_new_vm(a->conf, a->root, err, sizeof(err));
    if (fresh == NULL) {
        lf_log(LF_LOG_ERR, "module %s changed but a new Lua VM failed, the old one goes on serving: %s",
               which, err);
        lf_vm_modules_accept(*vmp);
        return;
    }
    unsigned left = (*vmp)->refs;
    lf_vm_retire(*vmp);
    *vmp = fresh;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    lf_log(LF_LOG_NOTICE, "module %s changed: Lua VM replaced in %.1f ms%s", which,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
           left ? " (the requests in flight finish in the old one)" : "");
}

/* Whether the worker takes new connections: not when stopping, not at
 * --worker-connections (the other workers take them meanwhile, and no
 * connection that may carry a request is closed to make room), not
 * during a pause after a shortage. */
static void worker_update_accepting(lf_worker_t *w, int stopping)
{
    if (w->listen_gone) {
        w->accepting = 0; /* its descriptor is not ours to change any more */
        return;
    }
    int want = !stopping && !w->accept_paused && w->nconns < w->max_conns;
    if (want == w->accepting)
        return;
    /* EPOLLEXCLUSIVE: one connection wakes one waiting worker, not all. */
    if (lf_io_watch(&w->loop, &w->listen_io, want ? EPOLLIN | EPOLLEXCLUSIVE : 0) != 0) {
        lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_ALERT, errno, "epoll_ctl() of the listening socket failed");
        return;
    }
    w->accepting = want;
}

static void worker_accept_resume(lf_loop_t *loop, void *data)
{
    lf_worker_t *w = data;
    (void)loop;
    w->accept_paused = 0;
}

/* A failed accept: the listening socket itself is gone (a handler closed
 * it, or its descriptor now names something else), and the worker must go
 * so that the master starts one that has it; or a passing shortage
 * (descriptors, memory) that pauses accepting for a moment instead of
 * spinning on a socket that stays readable. */
static void worker_accept_failed(lf_worker_t *w, int err)
{
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case ECONNABORTED:
    case EPROTO:
    case EINTR:
        return; /* another worker took it, or the peer left: nothing to do */
    case EBADF:
    case ENOTSOCK:
    case EINVAL:
    case EOPNOTSUPP:
        lf_log_errno(LF_LOG_ALERT, err, "the listening socket is gone, the worker exits");
        w->listen_gone = 1;
        return;
    default:
        lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_ERR, err,
                     "FastCGI accept failed, accepting again in 100 ms");
        w->accept_paused = 1;
        if (lf_timer_start(&w->loop, &w->accept_timer, 0.1) != 0)
            w->accept_paused = 0;
        return;
    }
}

/* Log why a connection is given up (a protocol error is the web server's
 * or an attacker's; a reset is routine). */
static void worker_conn_failed(const lf_fcgi_conn_t *c)
{
    if (c->why)
        lf_log(LF_LOG_WARN, "FastCGI connection closed: %s", c->why);
    else if (c->err != ECONNRESET && c->err != EPIPE)
        lf_log_errno(LF_LOG_INFO, c->err, "FastCGI connection closed");
}

static void worker_conn_process(lf_wconn_t *wc, uint32_t events, int fresh);
static void worker_conn_release(lf_worker_t *w, lf_wconn_t *wc);

/* The status page, in place of a Lua handler. */
static void worker_respond_page(lf_request_t *r, void *data)
{
    lf_wconn_t *wc = data;
    lf_status_respond(r, lf_status_request_page(&wc->conn, wc->w->a->conf), wc->w->a->listen->fd);
}

/* A request that was in flight is over: the connection takes the next. */
static void worker_request_done(lf_request_t *r, void *data)
{
    lf_wconn_t *wc = data;
    lf_worker_t *w = wc->w;
    (void)r;
    wc->req = NULL;
    wc->last_active = lf_loop_update_time(&w->loop);
    lf_sb_request_end(w->vm ? w->vm->heap : 0, wc->sb_started, wc->sb_entry);
    w->served++;
    if (wc->conn.fd < 0) {
        worker_conn_release(w, wc);
        return;
    }
    if (lf_io_watch(&w->loop, &wc->io, EPOLLIN | EPOLLRDHUP) != 0) {
        lf_log_errno(LF_LOG_ERR, errno, "epoll_ctl() of a FastCGI connection failed");
        worker_conn_release(w, wc);
        return;
    }
    /* Pipelined requests already read come next. */
    if (lf_fcgi_conn_buffered(&wc->conn))
        worker_conn_process(wc, 0, 0);
    else if (lf_fcgi_conn_partial(&wc->conn))
        lf_timer_start(&w->loop, &wc->read_timer, w->a->conf->read_timeout);
}

/* Start the request now complete on a connection: 1 when it is in flight
 * (worker_request_done follows), 0 when it is over already. */
static int worker_serve_request(lf_worker_t *w, lf_wconn_t *wc)
{
    const lf_worker_args_t *a = w->a;
    lf_fcgi_conn_t *c = &wc->conn;
    int page = lf_status_request_page(c, a->conf);
    wc->sb_started = lf_sb_now();
    wc->sb_entry = lf_sb_request_begin(lf_fcgi_conn_param(c, "REQUEST_METHOD", 14),
                                       lf_fcgi_conn_param(c, "REQUEST_URI", 11),
                                       page ? "-" : lf_fcgi_conn_param(c, "SCRIPT_FILENAME", 15),
                                       wc->sb_started);
    lf_request_env_t env = {
        .conn = c, .io = &wc->io, .loop = &w->loop, .conf = a->conf, .root = a->root,
        .done = worker_request_done, .data = wc,
    };
    if (page) {
        /* The page counts as a request, as php-fpm's does. */
        env.respond = worker_respond_page;
        env.vm = NULL;
    } else {
        worker_revalidate_modules(&w->vm, a);
        env.vm = w->vm;
        if (w->vm == NULL) {
            /* Development mode: a new VM for every request, init scripts
             * too, closed when the request ends. */
            char err[2048];
            env.vm = worker_new_vm(a->conf, NULL, err, sizeof(err));
            if (env.vm == NULL)
                lf_log(LF_LOG_ERR, "%s", err);
            else
                env.vm->retired = 1;
        }
    }
    if (lf_request_start(&env)) {
        wc->req = lf_request_inflight; /* the newest is first */
        return 1;
    }
    lf_sb_request_end(w->vm ? w->vm->heap : 0, wc->sb_started, wc->sb_entry);
    w->served++;
    return 0;
}

/* A request whose web server is gone is not run (under overload every
 * prefork server would work through such dead requests one by one). */
static void worker_skip_request(const lf_fcgi_conn_t *c)
{
    lf_request_log_t e;
    lf_request_log_fill_conn(c, NULL, &e);
    lf_log(LF_LOG_INFO, "request \"%s %s\" not run: the web server closed its connection before it started",
           e.method, e.uri);
    lf_sb_count_skipped();
}

static int worker_stopping(const lf_worker_t *w)
{
    return quit_requested || w->master_gone ||
           (w->max_requests > 0 && w->served >= w->max_requests);
}

/* The connection's slot back to the free list (its descriptor closed: the
 * kernel took it out of epoll then). */
static void worker_conn_release(lf_worker_t *w, lf_wconn_t *wc)
{
    if (wc->conn.fd >= 0) {
        lf_io_stop(&w->loop, &wc->io);
        lf_fcgi_conn_close(&wc->conn);
    }
    wc->io.events = 0;
    lf_timer_stop(&w->loop, &wc->read_timer);
    wc->next_free = w->free_conns;
    w->free_conns = wc;
    w->nconns--;
    lf_sb_set_connections((uint32_t)w->nconns);
}

/* Read what came on a connection and serve each request that is
 * complete (pipelined ones in order), until it would block or a request
 * stays in flight.  fresh: just accepted, before epoll has said anything
 * of it. */
static void worker_conn_process(lf_wconn_t *wc, uint32_t events, int fresh)
{
    lf_worker_t *w = wc->w;
    lf_loop_t *loop = &w->loop;
    lf_fcgi_conn_t *c = &wc->conn;
    for (;;) {
        int rc = lf_fcgi_conn_read_request(c);
        if (rc == LF_FCGI_AGAIN)
            break;
        if (rc <= 0) {
            if (rc < 0)
                worker_conn_failed(c);
            worker_conn_release(w, wc);
            return;
        }
        lf_timer_stop(loop, &wc->read_timer);
        /* (Without epoll's word, a peek: it may have waited in the accept
         * queue while this worker was busy, and been given up.) */
        if ((events & EPOLLRDHUP) || (fresh && lf_fcgi_conn_peer_closed(c))) {
            /* The web server closed the connection after it sent the
             * request: it gave up on it (its timeout, the client gone)
             * while the request waited.  nginx and Apache never half-close
             * a FastCGI connection they still want an answer on. */
            worker_skip_request(c);
            worker_conn_release(w, wc);
            return;
        }
        if (worker_serve_request(w, wc)) {
            /* In flight: worker_request_done goes on from here.  Its
             * connection is watched for what comes meanwhile (an abort,
             * the close), as it is between requests. */
            uint32_t ev = wc->io.events | EPOLLIN | EPOLLRDHUP;
            if (c->fd >= 0 && ev != wc->io.events && lf_io_watch(loop, &wc->io, ev) != 0)
                lf_log_errno(LF_LOG_ERR, errno, "epoll_ctl() of a FastCGI connection failed");
            return;
        }
        if (c->fd < 0) {
            /* The request closed it (no keep-alive, or out of step). */
            worker_conn_release(w, wc);
            return;
        }
        if (worker_stopping(w) && !lf_fcgi_conn_buffered(c))
            break;
    }
    /* Replies the web server has not read yet leave when it does. */
    uint32_t want = EPOLLIN | EPOLLRDHUP | (lf_fcgi_conn_pending(c) ? EPOLLOUT : 0);
    if (lf_io_watch(loop, &wc->io, want) != 0) {
        lf_log_errno(LF_LOG_ERR, errno, "epoll_ctl() of a FastCGI connection failed");
        worker_conn_release(w, wc);
        return;
    }
    /* Half a request may wait for its rest, but not for ever. */
    if (lf_fcgi_conn_partial(c))
        lf_timer_start(loop, &wc->read_timer, w->a->conf->read_timeout);
    else
        lf_timer_stop(loop, &wc->read_timer);
}

static void worker_conn_ready(lf_loop_t *loop, void *data, uint32_t events)
{
    lf_wconn_t *wc = data;
    wc->last_active = lf_loop_now(loop);
    if (wc->req) {
        lf_request_io(wc->req, events);
        return;
    }
    if (lf_fcgi_conn_pending(&wc->conn) && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) &&
        lf_fcgi_conn_send_pending(&wc->conn) < 0) {
        worker_conn_failed(&wc->conn);
        worker_conn_release(wc->w, wc);
        return;
    }
    worker_conn_process(wc, events, 0);
}

/* Stopping: close the connections that hold no request and have been
 * idle a while (all of them with force, partial requests too).  How many
 * are left open. */
static size_t worker_close_idle(lf_worker_t *w, double now, int force)
{
    for (size_t i = 0; i < w->used_conns; i++) {
        lf_wconn_t *wc = &w->conns[i];
        lf_fcgi_conn_t *c = &wc->conn;
        if (c->fd < 0 || wc->req != NULL)
            continue;
        if (force || (!lf_fcgi_conn_partial(c) && !lf_fcgi_conn_pending(c) &&
                      now - wc->last_active >= LF_STOP_IDLE_CLOSE))
            worker_conn_release(w, wc);
    }
    return w->nconns;
}

static void worker_read_timeout(lf_loop_t *loop, void *data)
{
    lf_wconn_t *wc = data;
    (void)loop;
    if (wc->req)
        return; /* a request is in flight: its own timers run */
    lf_log(LF_LOG_INFO, "FastCGI connection closed: no more of its request for %g s (--read-timeout)",
           wc->w->a->conf->read_timeout);
    worker_conn_release(wc->w, wc);
}

/* The listening socket is readable: take connections while there is room. */
/* A free connection slot: one given back, else the next never used (set
 * up now, so that an idle worker's slots cost no memory until needed). */
static lf_wconn_t *worker_free_slot(lf_worker_t *w)
{
    if (w->free_conns == NULL && w->used_conns < w->max_conns) {
        lf_wconn_t *wc = &w->conns[w->used_conns++];
        lf_fcgi_conn_init(&wc->conn, (unsigned)w->max_conns);
        lf_timer_init(&wc->read_timer, worker_read_timeout, wc);
        wc->w = w;
        wc->next_free = NULL;
        w->free_conns = wc;
    }
    return w->free_conns;
}

static void worker_listen_ready(lf_loop_t *loop, void *data, uint32_t events)
{
    lf_worker_t *w = data;
    (void)events;
    /* One connection per wakeup (nginx's multi_accept off): the socket
     * stays readable for the other workers, so a worker busy with a
     * handler does not hoard connections another could serve now. */
    for (int taken = 0; taken < 1 && worker_free_slot(w) && !w->listen_gone && !w->accept_paused;
         taken++) {
        lf_wconn_t *wc = w->free_conns;
        int rc = lf_fcgi_conn_accept(&wc->conn, w->a->listen->fd);
        if (rc < 0) {
            worker_accept_failed(w, -rc);
            break;
        }
        w->free_conns = wc->next_free;
        w->nconns++;
        lf_sb_set_connections((uint32_t)w->nconns);
        lf_io_init(&wc->io, wc->conn.fd, worker_conn_ready, wc);
        wc->last_active = lf_loop_now(loop);
        /* The request has usually come with the connection: read it at
         * once.  The descriptor enters epoll only when it has not, or when
         * the request stays in flight: one served at once and closed
         * costs no epoll_ctl. */
        worker_conn_process(wc, 0, 1);
    }
    worker_update_accepting(w, worker_stopping(w));
}

static void worker_life_ready(lf_loop_t *loop, void *data, uint32_t events)
{
    lf_worker_t *w = data;
    (void)events;
    w->master_gone = 1;
    lf_io_stop(loop, &w->life_io);
    lf_log(LF_LOG_NOTICE, "worker %d: the master is gone, exiting", w->a->id);
}

/* --worker-connections needs that many descriptors and a few more (the
 * log, the listening socket, a spooled body, the handler's own files):
 * raise the soft limit as far as the hard one allows. */
static void worker_raise_nofile(size_t conns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)conns + 64;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
        return;
    rlim_t can = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (can > rl.rlim_cur) {
        rl.rlim_cur = can;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            can = 0;
    }
    if (can < want)
        lf_log(LF_LOG_WARN, "--worker-connections %zu needs %llu open files, but the limit is %llu "
               "(RLIMIT_NOFILE hard limit %llu): connections past it are refused",
               conns, (unsigned long long)want, (unsigned long long)rl.rlim_cur,
               (unsigned long long)rl.rlim_max);
}

static void worker_die_with_master(void)
{
#if defined(HAVE_PRCTL) && defined(PR_SET_PDEATHSIG)
    /* A worker must not outlive the master, even mid-request. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
        lf_log_errno(LF_LOG_ALERT, errno, "prctl(PR_SET_PDEATHSIG) failed");
#endif
}

/* Tell the master this worker can serve (its VM is up): a reload waits
 * for that before it retires the old workers.  One write of a pid is
 * atomic on a pipe. */
static void worker_report_ready(const lf_worker_args_t *a)
{
    if (a->ready_fd < 0)
        return;
    pid_t pid = getpid();
    ssize_t n;
    do
        n = write(a->ready_fd, &pid, sizeof(pid));
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(pid))
        lf_log_errno(LF_LOG_ALERT, errno, "worker %d cannot report readiness", a->id);
    close(a->ready_fd);
}

/* This worker's --max-requests plus a random 0..--max-requests-jitter
 * (seeded from its pid and the clock), so that workers started together
 * do not all recycle together; 0 = no limit. */
static unsigned long long worker_max_requests(const lf_conf_t *conf)
{
    if (conf->max_requests <= 0)
        return 0;
    unsigned long long limit = (unsigned long long)conf->max_requests;
    if (conf->max_requests_jitter > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        /* splitmix64 */
        unsigned long long x = ((unsigned long long)getpid() << 32) ^
                               (unsigned long long)ts.tv_sec * 1000000000ULL ^ (unsigned long long)ts.tv_nsec;
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        x ^= x >> 31;
        limit += x % ((unsigned long long)conf->max_requests_jitter + 1);
    }
    return limit;
}

int lf_worker_run(const lf_worker_args_t *a)
{
    const lf_conf_t *conf = a->conf;
    lf_proc_worker_id = a->id;
    lf_proc_worker_pids = worker_pids;
    int slot = a->sb_slot;
    if (slot < 0 && lf_sb == NULL && lf_sb_create() == 0)
        slot = lf_sb_claim(0, a->id, 0); /* no master: a scoreboard of its own */
    lf_sb_attach(slot);
    lf_proc_worker_count = conf->workers > 0 ? (int)conf->workers : 1;
    if (a->life_fd >= 0) {
        worker_die_with_master();
        if (getppid() == 1)
            return 0; /* the master is already gone */
    }

    /* The master's VM (its --init already run, shared copy-on-write), or
     * one of our own without a master. */
    lf_vm_t *vm = a->vm;
    char err[2048];
    if (vm == NULL && conf->code_cache) {
        vm = worker_new_vm_init(conf, a->root, err, sizeof(err), 0);
        if (vm == NULL) {
            lf_log(LF_LOG_EMERG, "worker %d cannot start: %s", a->id, err);
            return LF_EXIT_FATAL;
        }
    }

    static lf_worker_t worker;
    lf_worker_t *w = &worker;
    memset(w, 0, sizeof(*w));
    w->a = a;
    w->vm = vm;
    w->max_conns = (size_t)conf->worker_connections;
    w->conns = calloc(w->max_conns, sizeof(*w->conns));
    if (w->conns == NULL || lf_loop_init(&w->loop) != 0) {
        lf_log(LF_LOG_EMERG, "worker %d cannot start: %s", a->id,
               w->conns == NULL ? "out of memory" : strerror(errno));
        free(w->conns);
        lf_vm_close(vm);
        return LF_EXIT_FATAL;
    }
    worker_raise_nofile(w->max_conns);
    lf_timers_init(&w->loop, conf);
    lf_resolver_init(&w->loop, conf);
    lf_timeout_on_slow = lf_sb_count_slow;
    lf_timeout_on_kill = lf_body_unlink_on_kill;
    /* --init-worker of the first VM runs on the loop before the worker
     * reports ready (later VMs, --revalidate's and development mode's, run
     * it in place, without sockets). */
    if (vm && conf->init_worker && worker_init_on_loop(w, vm, err, sizeof(err)) != 0) {
        lf_log(LF_LOG_EMERG, "worker %d cannot start: %s", a->id, err);
        lf_timers_free();
        lf_api_socket_pool_free();
        lf_resolver_free();
        lf_request_cleanup();
        free(w->conns);
        lf_loop_free(&w->loop);
        lf_vm_close(vm);
        return LF_EXIT_FATAL;
    }
    lf_io_init(&w->listen_io, a->listen->fd, worker_listen_ready, w);
    lf_timer_init(&w->accept_timer, worker_accept_resume, w);
    if (a->life_fd >= 0) {
        lf_io_init(&w->life_io, a->life_fd, worker_life_ready, w);
        if (lf_io_watch(&w->loop, &w->life_io, EPOLLIN) != 0)
            lf_log_errno(LF_LOG_ALERT, errno, "epoll_ctl() of the master's pipe failed");
    }

    lf_log(LF_LOG_INFO, "worker %d started", a->id);
    w->max_requests = worker_max_requests(conf);
    if (w->max_requests > 0)
        lf_log(LF_LOG_INFO, "worker %d will be replaced after %llu requests", a->id, w->max_requests);
    lf_sb_set_state(LF_SB_IDLE);
    worker_report_ready(a);
    int stopping_seen = 0;
    double stop_at = 0;
    while (!w->listen_gone && quit_requested != 2) {
        if (reopen_requested) {
            reopen_requested = 0;
            lf_log_reopen();
            lf_timeout_reopen();
        }
        int stopping = worker_stopping(w);
        if (stopping && !stopping_seen) {
            stopping_seen = 1;
            lf_sb_set_state(LF_SB_STOPPING);
            /* Pending timers run now, premature; the loop waits for them
             * as for the requests in flight. */
            lf_timers_stop();
        }
        worker_update_accepting(w, stopping);
        /* Stopping: requests in flight finish (the master bounds a
         * graceful stop); kept-alive connections are served until each
         * has been idle a moment, and requests that have begun to arrive
         * get their rest, for a while; then the worker goes. */
        double wait = -1;
        if (stopping) {
            double now = lf_loop_update_time(&w->loop);
            if (stop_at == 0)
                stop_at = now + LF_STOP_PARTIAL_WAIT;
            size_t open = worker_close_idle(w, now, now >= stop_at);
            if (open == 0 && lf_request_inflight_count == 0)
                break;
            wait = open > 0 ? LF_STOP_IDLE_CLOSE : -1;
        }
        int ready = lf_loop_run_once(&w->loop, wait);
        if (ready < 0 && errno != EINTR) {
            lf_log_errno(LF_LOG_ALERT, errno, "epoll_wait() failed");
            break;
        }
    }

    for (size_t i = 0; i < w->used_conns; i++)
        lf_fcgi_conn_free(&w->conns[i].conn);
    lf_fcgi_conn_pool_free();
    free(w->conns);
    lf_timers_free(); /* before the loop they are in */
    lf_api_socket_pool_free();
    lf_resolver_free();
    lf_loop_free(&w->loop);
    vm = w->vm;
    unsigned long long served = w->served;
    int listen_gone = w->listen_gone;
    lf_request_cleanup();
    lf_vm_close(vm);
    lf_log(LF_LOG_INFO, "worker %d exiting after %llu requests", a->id, served);
    return listen_gone ? LF_EXIT_LISTEN_GONE : 0;
}
