/* worker.c - the keepalive-safe accept loop (design.md point 6): poll the
 * listening socket and every idle kept-alive connection together, and
 * serve whichever has a request, so no connection stalls behind another. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <time.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include "fdutil.h"
#include "log.h"
#include "request.h"
#include "scoreboard.h"
#include "status.h"
#include "timeout.h"
#include "vm.h"
#include "worker.h"

/* Kept-alive connections one worker holds; the oldest idle one is closed
 * when a new connection needs its slot (nginx retries a cached connection
 * that fails). */
#define LF_MAX_CONNS 64

typedef struct {
    lf_fcgi_conn_t conn;
    unsigned long long last_used; /* 0 = free (no connection) */
} lf_slot_t;

static volatile sig_atomic_t quit_requested;   /* QUIT: finish, then exit */
static volatile sig_atomic_t reopen_requested; /* USR1 */
static volatile sig_atomic_t in_request;
static int worker_id_value;
static int worker_count_value = 1;

int lf_worker_id(void)
{
    return worker_id_value;
}

int lf_worker_count(void)
{
    return worker_count_value;
}

static void worker_on_signal(int signo)
{
    switch (signo) {
    case SIGTERM:
    case SIGINT:
        /* Stop now: a request in flight is abandoned (the web server
         * answers 502), an idle worker leaves through the loop. */
        if (in_request) {
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
    /* SA_RESTART: libfcgi does not retry a read cut by a signal; poll is
     * interrupted regardless, which is how the loop sees the flags. */
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

static int slot_fd(const lf_slot_t *s)
{
    return s->conn.fd;
}

/* --init-worker in a VM this worker is about to use; 0 or -1 with err. */
static int worker_init_vm(lf_vm_t *vm, const lf_conf_t *conf, char *err, size_t errlen)
{
    if (conf->init_worker == NULL)
        return 0;
    return lf_vm_run_file(vm, conf->init_worker, "init_worker", err, errlen);
}

/* A new VM for this worker: --init (and --preload below root, NULL =
 * none), then --init-worker.  NULL with err set. */
static lf_vm_t *worker_new_vm(const lf_conf_t *conf, const lf_root_t *root, char *err,
                              size_t errlen)
{
    lf_vm_t *vm = lf_vm_prepare(conf, root, err, errlen);
    if (vm && worker_init_vm(vm, conf, err, errlen) != 0) {
        lf_vm_close(vm);
        vm = NULL;
    }
    return vm;
}

/* --revalidate: a module file changed, so the whole VM is replaced
 * between two requests (module state, upvalues and FFI definitions are
 * never half-swapped); a new VM that fails keeps the old one. */
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
    lf_vm_close(*vmp);
    *vmp = fresh;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    lf_log(LF_LOG_NOTICE, "module %s changed: Lua VM replaced in %.1f ms", which,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
}

static double worker_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A failed accept: 1 when the listening socket itself is gone (a handler
 * closed it, or its descriptor now names something else), and the worker
 * must go so that the master starts one that has it; otherwise a passing
 * shortage (descriptors, memory) that pauses accepting for a moment
 * instead of spinning on a socket that stays readable. */
static int worker_accept_failed(int err, double *pause_until)
{
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case ECONNABORTED:
    case EPROTO:
    case EINTR:
        return 0; /* another worker took it, or the peer left: nothing to do */
    case EBADF:
    case ENOTSOCK:
    case EINVAL:
    case EOPNOTSUPP:
        lf_log_errno(LF_LOG_ALERT, err, "the listening socket is gone, the worker exits");
        return 1;
    default:
        lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_ERR, err,
                     "FastCGI accept failed, accepting again in 100 ms");
        *pause_until = worker_now() + 0.1;
        return 0;
    }
}

/* Log why a connection is given up mid-request (a protocol error is the
 * web server's or an attacker's; a reset is routine). */
static void worker_conn_failed(const lf_fcgi_conn_t *c)
{
    if (c->why)
        lf_log(LF_LOG_WARN, "FastCGI connection closed: %s", c->why);
    else if (c->err != ECONNRESET && c->err != EPIPE)
        lf_log_errno(LF_LOG_INFO, c->err, "FastCGI connection closed");
}

/* Serve the request now complete on a slot's connection. */
static void worker_serve_request(lf_slot_t *s, lf_vm_t **vmp, const lf_worker_args_t *a,
                                 unsigned long long *served)
{
    lf_fcgi_conn_t *c = &s->conn;
    int page = lf_status_request_page(c, a->conf);
    lf_sb_request_begin(lf_fcgi_conn_param(c, "REQUEST_METHOD", 14),
                        lf_fcgi_conn_param(c, "REQUEST_URI", 11),
                        page ? "-" : lf_fcgi_conn_param(c, "SCRIPT_FILENAME", 15));
    if (page) {
        /* The page counts as a request, as php-fpm's does. */
        lf_status_serve(c, page, a->listen->fd);
        lf_sb_request_end(*vmp ? (*vmp)->heap : 0);
        (*served)++;
        return;
    }
    worker_revalidate_modules(vmp, a);
    lf_vm_t *vm = *vmp;
    lf_vm_t *fresh = NULL;
    if (vm == NULL) {
        /* Development mode: a new VM for every request, init scripts too. */
        char err[2048];
        fresh = worker_new_vm(a->conf, NULL, err, sizeof(err));
        if (fresh == NULL)
            lf_log(LF_LOG_ERR, "%s", err);
    }
    lf_request_serve(c, vm ? vm : fresh, a->conf, a->root);
    lf_sb_request_end(vm ? vm->heap : fresh ? fresh->heap : 0);
    lf_vm_close(fresh);
    (*served)++;
}

/* Accept on (or read the next requests of) a slot's connection and serve
 * them; the slot stays busy while the web server keeps the connection.
 * Requests already buffered (pipelined) are served before polling again,
 * unless the worker is to stop taking new ones.  1 when the worker must
 * exit (its listening socket is gone). */
static int worker_serve_slot(lf_slot_t *s, lf_vm_t **vmp, const lf_worker_args_t *a,
                             unsigned long long *served, double *pause_until)
{
    lf_fcgi_conn_t *c = &s->conn;
    if (c->fd < 0) {
        int rc = lf_fcgi_conn_accept(c, a->listen->fd);
        if (rc < 0) {
            s->last_used = 0;
            return worker_accept_failed(-rc, pause_until);
        }
    }
    do {
        in_request = 1;
        int rc = lf_fcgi_conn_read_request(c);
        if (rc <= 0) {
            in_request = 0;
            if (rc < 0)
                worker_conn_failed(c);
            lf_fcgi_conn_close(c);
            break;
        }
        worker_serve_request(s, vmp, a, served);
        in_request = 0;
    } while (c->fd >= 0 && lf_fcgi_conn_buffered(c) && !quit_requested);
    s->last_used = c->fd >= 0 ? *served : 0;
    return 0;
}

/* The slot for a new connection: a free one, else the longest idle. */
static lf_slot_t *worker_free_slot(lf_slot_t *slots)
{
    lf_slot_t *oldest = &slots[0];
    for (int i = 0; i < LF_MAX_CONNS; i++) {
        if (slot_fd(&slots[i]) < 0)
            return &slots[i];
        if (slots[i].last_used < oldest->last_used)
            oldest = &slots[i];
    }
    lf_fcgi_conn_close(&oldest->conn);
    oldest->last_used = 0;
    return oldest;
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
    worker_id_value = a->id;
    int slot = a->sb_slot;
    if (slot < 0 && lf_sb == NULL && lf_sb_create() == 0)
        slot = lf_sb_claim(0, a->id, 0); /* no master: a scoreboard of its own */
    lf_sb_attach(slot);
    worker_count_value = conf->workers > 0 ? (int)conf->workers : 1;
    if (a->life_fd >= 0) {
        worker_die_with_master();
        if (getppid() == 1)
            return 0; /* the master is already gone */
    }

    /* The master's VM (its --init already run, shared copy-on-write), or
     * one of our own without a master. */
    lf_vm_t *vm = a->vm;
    char err[2048];
    if (vm && worker_init_vm(vm, conf, err, sizeof(err)) != 0) {
        lf_vm_close(vm);
        lf_log(LF_LOG_EMERG, "worker %d cannot start: %s", a->id, err);
        return LF_EXIT_FATAL;
    }
    if (vm == NULL && conf->code_cache) {
        vm = worker_new_vm(conf, a->root, err, sizeof(err));
        if (vm == NULL) {
            lf_log(LF_LOG_EMERG, "worker %d cannot start: %s", a->id, err);
            return LF_EXIT_FATAL;
        }
    }

    lf_slot_t *slots = calloc(LF_MAX_CONNS, sizeof(*slots));
    struct pollfd *fds = calloc(LF_MAX_CONNS + 2, sizeof(*fds));
    lf_slot_t **owner = calloc(LF_MAX_CONNS + 2, sizeof(*owner));
    if (slots == NULL || fds == NULL || owner == NULL) {
        lf_log(LF_LOG_EMERG, "worker %d cannot start: out of memory", a->id);
        free(slots);
        free(fds);
        free(owner);
        lf_vm_close(vm);
        return LF_EXIT_FATAL;
    }
    for (int i = 0; i < LF_MAX_CONNS; i++)
        lf_fcgi_conn_init(&slots[i].conn, LF_MAX_CONNS);

    lf_log(LF_LOG_INFO, "worker %d started", a->id);
    unsigned long long max_requests = worker_max_requests(conf);
    if (max_requests > 0)
        lf_log(LF_LOG_INFO, "worker %d will be replaced after %llu requests", a->id, max_requests);
    lf_sb_set_state(LF_SB_IDLE);
    worker_report_ready(a);
    unsigned long long served = 0;
    int master_gone = 0, stopping_seen = 0, listen_gone = 0;
    double accept_pause_until = 0;
    while (!listen_gone) {
        if (reopen_requested) {
            reopen_requested = 0;
            lf_log_reopen();
            lf_timeout_reopen();
        }
        int stopping = quit_requested || master_gone ||
                       (max_requests > 0 && served >= max_requests);
        if (quit_requested == 2)
            break;
        if (stopping && !stopping_seen) {
            stopping_seen = 1;
            lf_sb_set_state(LF_SB_STOPPING);
        }

        nfds_t n = 0;
        if (a->life_fd >= 0 && !master_gone) {
            fds[n] = (struct pollfd){.fd = a->life_fd, .events = POLLIN};
            owner[n++] = NULL;
        }
        int listen_idx = -1, timeout = stopping ? 0 : -1;
        if (accept_pause_until > 0) {
            double left = accept_pause_until - worker_now();
            if (left <= 0)
                accept_pause_until = 0;
            else if (!stopping)
                timeout = (int)(left * 1000) + 1;
        }
        if (!stopping && accept_pause_until == 0) {
            listen_idx = (int)n;
            fds[n] = (struct pollfd){.fd = a->listen->fd, .events = POLLIN};
            owner[n++] = NULL;
        }
        for (int i = 0; i < LF_MAX_CONNS; i++)
            if (slot_fd(&slots[i]) >= 0) {
                fds[n] = (struct pollfd){.fd = slot_fd(&slots[i]), .events = POLLIN};
                owner[n++] = &slots[i];
            }
        /* Stopping: serve what already waits on kept-alive connections, then go. */
        int ready = poll(fds, n, timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            lf_log_errno(LF_LOG_ALERT, errno, "poll() failed");
            break;
        }
        if (ready == 0 && stopping)
            break;
        if (ready == 0)
            continue; /* the accept pause is over */
        for (nfds_t i = 0; i < n; i++) {
            if (fds[i].revents == 0)
                continue;
            if (owner[i]) {
                listen_gone |= worker_serve_slot(owner[i], &vm, a, &served, &accept_pause_until);
            } else if ((int)i == listen_idx) {
                listen_gone |= worker_serve_slot(worker_free_slot(slots), &vm, a, &served,
                                                 &accept_pause_until);
            } else {
                master_gone = 1;
                lf_log(LF_LOG_NOTICE, "worker %d: the master is gone, exiting", a->id);
            }
        }
    }

    for (int i = 0; i < LF_MAX_CONNS; i++)
        lf_fcgi_conn_free(&slots[i].conn);
    free(slots);
    free(fds);
    free(owner);
    lf_request_cleanup();
    lf_vm_close(vm);
    lf_log(LF_LOG_INFO, "worker %d exiting after %llu requests", a->id, served);
    return listen_gone ? LF_EXIT_LISTEN_GONE : 0;
}
