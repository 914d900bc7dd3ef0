/* master.c - the master process as a small state machine:
 *   RUNNING     keep N workers of the current configuration alive,
 *               respawning with back-off
 *   STOPPING    QUIT sent: workers finish their requests in flight
 *   TERMINATING TERM sent (or the QUIT deadline passed): then KILL
 * and, while RUNNING, a reload (SIGHUP): the configuration is read and
 * checked again; a good one starts a new generation of workers, and once
 * every one of them reports that it can serve, the old generation gets
 * QUIT and finishes its requests in flight.  A bad one is logged and the
 * old one keeps serving.  The listening socket stays open throughout.
 * Signal handlers only write to a self-pipe; the loop acts on them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "notify.h"
#include "scoreboard.h"
#include "proc.h"
#include "shm_set.h"
#include "timeout.h"
#include "vm.h"
#include "worker.h"

#define LF_QUIT_TIMEOUT 60.0    /* graceful stop: then TERM */
#define LF_TERM_TIMEOUT 5.0     /* then KILL */
#define LF_READY_TIMEOUT 60.0   /* a reload's workers must be ready by then */
#define LF_BACKOFF_MIN 0.1
#define LF_BACKOFF_MAX 30.0
#define LF_STABLE_AFTER 1.0     /* a worker that lived this long resets its back-off */

typedef enum { MASTER_RUNNING, MASTER_STOPPING, MASTER_TERMINATING } lf_master_state_t;

typedef struct {
    pid_t pid;          /* 0 = not running */
    int id;             /* ngx.worker.id within its generation */
    unsigned gen;       /* the configuration generation it serves */
    int ready;          /* reported that it can serve */
    int retiring;       /* told to stop by a reload: never respawned */
    double started;
    double respawn_at;  /* when a dead worker may be forked again */
    double backoff;
    double kill_at;     /* retiring: when QUIT turns into TERM, then KILL */
    int term_sent;
    int sb_slot;        /* its scoreboard slot while it lives, else -1 */
} lf_child_t;

/* A configuration being started by a reload, not serving yet. */
typedef struct {
    lf_conf_t conf;
    lf_root_t root;
    lf_listen_t listen;
    lf_vm_t *vm;        /* prepared with the new --init, NULL without cache */
    lf_dict_set_t dicts; /* its shared dicts: unchanged ones are the old zones */
    int new_listen;     /* listen differs: a socket of its own */
    unsigned gen;
    double deadline;    /* every worker ready by then, or the reload fails */
} lf_pending_t;

typedef struct {
    lf_conf_t *conf;    /* the serving configuration (main's structs, */
    lf_listen_t *listen; /* replaced in place by a reload) */
    lf_root_t *root;
    lf_vm_t *vm;        /* prepared before the fork: the workers share it */
    lf_dict_set_t *dicts; /* the serving shared dicts (main's, replaced in place) */
    unsigned gen;
    lf_child_t *kids;
    int nkids, cap;
    lf_pending_t *pending;
    int reload_again;   /* HUP during a reload: another one after it */
    int announced;      /* READY=1 sent to systemd */
    int life[2];        /* workers see EOF when the master is gone */
    int ready[2];       /* workers write their pid when they can serve */
    lf_master_state_t state;
} lf_master_t;

/* One table drives the handlers and the log lines. */
static const struct {
    int signo;
    const char *name;
} signals[] = {
    {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"}, {SIGQUIT, "SIGQUIT"}, {SIGHUP, "SIGHUP"},
    {SIGUSR1, "SIGUSR1"}, {SIGCHLD, "SIGCHLD"},
};

static int sig_pipe[2] = {-1, -1};

static const char *signal_name(int signo)
{
    static const struct {
        int signo;
        const char *name;
    } names[] = {
        {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
        {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
        {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
        {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGCHLD, "SIGCHLD"},
        {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].signo == signo)
            return names[i].name;
    return "unknown signal";
}

static void master_on_signal(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    ssize_t r = write(sig_pipe[1], &b, 1); /* a full pipe already wakes the loop */
    (void)r;
    errno = saved;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Both ends close-on-exec, the read end non-blocking. */
static int master_pipe(int p[2], int nonblock_write)
{
    if (pipe(p) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        if (fcntl(p[i], F_SETFD, FD_CLOEXEC) != 0)
            return -1;
        int fl = fcntl(p[i], F_GETFL);
        if ((i == 0 || nonblock_write) && (fl < 0 || fcntl(p[i], F_SETFL, fl | O_NONBLOCK) != 0))
            return -1;
    }
    return 0;
}

static int master_signals_install(void)
{
    if (master_pipe(sig_pipe, 1) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = master_on_signal;
    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
        if (sigaction(signals[i].signo, &sa, NULL) != 0)
            return -1;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* Fork worker c of a generation; the child never returns into master code. */
static void master_spawn(lf_master_t *m, lf_child_t *c, const lf_conf_t *conf,
                         const lf_listen_t *listen, const lf_root_t *root, lf_vm_t *vm,
                         lf_dict_set_t *dicts)
{
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    double now = now_mono();
    c->sb_slot = lf_sb_claim(0, c->id, c->gen);
    if (c->sb_slot < 0)
        lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_WARN, 0,
                     "the scoreboard is full: worker %d will not show on the status page", c->id);
    pid_t pid = fork();
    if (pid == 0) {
        close(sig_pipe[0]);
        close(sig_pipe[1]);
        close(m->life[1]);
        close(m->ready[0]);
        lf_worker_signals_install();
        sigprocmask(SIG_SETMASK, &old, NULL);
        lf_dict_set_current = dicts; /* its generation's zones */
        lf_worker_args_t args = {
            .conf = conf, .listen = listen, .root = root, .id = c->id,
            .life_fd = m->life[0], .ready_fd = m->ready[1], .sb_slot = c->sb_slot,
            .vm = vm,
        };
        exit(lf_worker_run(&args));
    }
    int err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    c->started = now;
    c->ready = 0;
    if (pid < 0) {
        /* Retried with back-off, for every worker: one line now and then. */
        lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_ALERT, err, "fork() of worker %d failed", c->id);
        lf_sb_release(c->sb_slot);
        c->sb_slot = -1;
        c->pid = 0;
        c->backoff = c->backoff ? c->backoff * 2 : LF_BACKOFF_MIN;
        c->respawn_at = now + c->backoff;
        return;
    }
    c->pid = pid;
}

static void master_kill(const lf_child_t *c, int signo)
{
    if (c->pid > 0 && kill(c->pid, signo) != 0 && errno != ESRCH)
        lf_log_errno(LF_LOG_ALERT, errno, "kill(%ld, %s) failed", (long)c->pid, signal_name(signo));
}

static void master_signal_all(lf_master_t *m, int signo)
{
    for (int i = 0; i < m->nkids; i++)
        master_kill(&m->kids[i], signo);
}

/* A new child slot (the array grows by reloads that overlap). */
static lf_child_t *master_add_child(lf_master_t *m, int id, unsigned gen)
{
    for (int i = 0; i < m->nkids; i++) {
        lf_child_t *c = &m->kids[i];
        if (c->pid == 0 && (c->retiring || c->gen != m->gen)) {
            memset(c, 0, sizeof(*c));
            c->id = id;
            c->gen = gen;
            return c;
        }
    }
    if (m->nkids == m->cap) {
        int cap = m->cap ? m->cap * 2 : 8;
        lf_child_t *k = realloc(m->kids, (size_t)cap * sizeof(*k));
        if (k == NULL)
            return NULL;
        m->kids = k;
        m->cap = cap;
    }
    lf_child_t *c = &m->kids[m->nkids++];
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->gen = gen;
    return c;
}

static void pending_free(lf_master_t *m, lf_pending_t *p, int unlink_path)
{
    lf_vm_close(p->vm);
    lf_dict_set_close(&p->dicts);
    if (p->new_listen)
        lf_listen_close(&p->listen, unlink_path);
    lf_conf_free(&p->conf);
    free(p);
    if (m->pending == p)
        m->pending = NULL;
}

/* The reload failed: stop its workers, keep serving with the old ones. */
static void master_reload_abandon(lf_master_t *m, const char *why)
{
    lf_pending_t *p = m->pending;
    lf_log(LF_LOG_ERR, "reload failed: %s; still serving with the previous configuration", why);
    /* Those already ready may be serving a request: let them finish it. */
    double now = now_mono();
    for (int i = 0; i < m->nkids; i++) {
        lf_child_t *c = &m->kids[i];
        if (c->gen == p->gen && !c->retiring) {
            master_kill(c, SIGQUIT);
            c->retiring = 1;
            c->kill_at = now + LF_QUIT_TIMEOUT;
        }
    }
    if (strcmp(p->conf.error_log, m->conf->error_log) != 0) {
        char err[512];
        if (lf_log_open(m->conf->error_log, err, sizeof(err)) != 0)
            lf_log(LF_LOG_ALERT, "%s", err);
    }
    lf_log_level = m->conf->log_level;
    pending_free(m, p, 1);
    lf_notify("READY=1\nSTATUS=reload failed, serving the previous configuration");
}

static int same_string(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* SIGHUP: read the configuration again and start its workers. */
static void master_reload_start(lf_master_t *m)
{
    char err[1024];
    if (m->pending) {
        m->reload_again = 1;
        lf_log(LF_LOG_NOTICE, "SIGHUP received during a reload: another reload follows it");
        return;
    }
    lf_pending_t *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        lf_log(LF_LOG_ERR, "reload failed: out of memory; still serving with the previous configuration");
        return;
    }
    p->listen.fd = -1;
    if (lf_conf_reload(&p->conf, err, sizeof(err)) != 0) {
        lf_log(LF_LOG_ERR, "reload failed: %s; still serving with the previous configuration", err);
        free(p);
        return;
    }
    const char *why = NULL;
    if (p->conf.workers == 0)
        why = "--workers 0 (no master) cannot be reached by a reload";
    else if (!same_string(p->conf.user, m->conf->user) || !same_string(p->conf.group, m->conf->group))
        why = "--user and --group cannot change at a reload (the master no longer runs as root)";
    else if (!same_string(p->conf.pid_file, m->conf->pid_file))
        why = "--pid cannot change at a reload";
    if (why == NULL && lf_root_init(&p->root, p->conf.root, p->conf.sandbox_root, err, sizeof(err)) != 0)
        why = err;
    if (why == NULL && !same_string(p->conf.listen, m->conf->listen)) {
        if (lf_listen_open(&p->listen, p->conf.listen, (int)p->conf.backlog, err, sizeof(err)) != 0)
            why = err;
        else
            p->new_listen = 1;
    }
    if (why == NULL && strcmp(p->conf.error_log, m->conf->error_log) != 0 &&
        lf_log_open(p->conf.error_log, err, sizeof(err)) != 0)
        why = err;
    if (why == NULL && lf_dict_set_open(&p->dicts, &p->conf, m->dicts, err, sizeof(err)) != 0)
        why = err;
    if (why == NULL && p->conf.code_cache) {
        /* The new --init runs here, as at start, with the new zones; an
         * error keeps the old. */
        lf_dict_set_current = &p->dicts;
        p->vm = lf_vm_prepare(&p->conf, &p->root, err, sizeof(err));
        lf_dict_set_current = m->dicts;
        if (p->vm == NULL)
            why = err;
    }
    if (why) {
        lf_log(LF_LOG_ERR, "reload failed: %s; still serving with the previous configuration", why);
        pending_free(m, p, 1);
        return;
    }
    lf_log_level = p->conf.log_level;
    lf_notify("RELOADING=1");
    p->gen = m->gen + 1;
    p->deadline = now_mono() + LF_READY_TIMEOUT;
    m->pending = p;
    lf_log(LF_LOG_NOTICE, "reloading: starting %lld workers with the new configuration",
           p->conf.workers);
    const lf_listen_t *ls = p->new_listen ? &p->listen : m->listen;
    for (int id = 0; id < (int)p->conf.workers; id++) {
        lf_child_t *c = master_add_child(m, id, p->gen);
        if (c == NULL) {
            master_reload_abandon(m, "out of memory");
            return;
        }
        master_spawn(m, c, &p->conf, ls, &p->root, p->vm, &p->dicts);
        if (c->pid == 0) {
            master_reload_abandon(m, "fork() failed");
            return;
        }
    }
}

/* Every new worker is ready: it serves now, the old generation retires. */
static void master_reload_finish(lf_master_t *m)
{
    lf_pending_t *p = m->pending;
    double now = now_mono();
    int retired = 0;
    for (int i = 0; i < m->nkids; i++) {
        lf_child_t *c = &m->kids[i];
        if (c->gen != m->gen || c->retiring)
            continue;
        c->retiring = 1;
        c->kill_at = now + LF_QUIT_TIMEOUT;
        if (c->pid > 0) {
            master_kill(c, SIGQUIT);
            retired++;
        }
    }
    if (p->new_listen) {
        /* The old workers keep their copy of the old socket until they go. */
        int unlink_old = m->listen->unix_path[0] &&
                         strcmp(m->listen->unix_path, p->listen.unix_path) != 0;
        lf_listen_close(m->listen, unlink_old);
        *m->listen = p->listen;
        p->new_listen = 0;
    }
    lf_vm_close(m->vm);
    m->vm = p->vm;
    p->vm = NULL;
    lf_dict_set_close(m->dicts);
    *m->dicts = p->dicts;
    memset(&p->dicts, 0, sizeof(p->dicts));
    lf_conf_free(m->conf);
    *m->conf = p->conf;
    memset(&p->conf, 0, sizeof(p->conf));
    *m->root = p->root;
    m->gen = p->gen;
    free(p);
    m->pending = NULL;
    lf_log(LF_LOG_NOTICE, "reload done: %lld new workers serve, %d old ones finish their requests",
           m->conf->workers, retired);
    lf_notify("READY=1\nSTATUS=reloaded");
    if (m->reload_again) {
        m->reload_again = 0;
        master_reload_start(m);
    }
}

/* A worker wrote its pid: it can serve. */
static void master_read_ready(lf_master_t *m)
{
    pid_t pids[64];
    ssize_t got;
    while ((got = read(m->ready[0], pids, sizeof(pids))) > 0) {
        for (ssize_t k = 0; k < got / (ssize_t)sizeof(pid_t); k++)
            for (int i = 0; i < m->nkids; i++)
                if (m->kids[i].pid == pids[k])
                    m->kids[i].ready = 1;
    }
    if (!m->announced) {
        /* systemd's READY=1 once the first workers can serve. */
        int all = 1;
        for (int i = 0; i < m->nkids; i++)
            if (m->kids[i].gen == m->gen && !m->kids[i].retiring && !m->kids[i].ready)
                all = 0;
        if (all) {
            char ready[64];
            snprintf(ready, sizeof(ready), "READY=1\nMAINPID=%ld", (long)getpid());
            lf_notify(ready);
            m->announced = 1;
        }
    }
    if (m->pending == NULL)
        return;
    for (int i = 0; i < m->nkids; i++)
        if (m->kids[i].gen == m->pending->gen && !m->kids[i].ready)
            return;
    master_reload_finish(m);
}

/* What worker slot `slot` was doing when it died: the request it was
 * in, escaped, as ` in request "GET /uri" (script /path)` into buf (empty
 * when it was not in one); *served says whether it had begun serving. */
static void master_last_request(int slot, char *buf, size_t len, int *served)
{
    buf[0] = '\0';
    *served = 0;
    if (slot < 0)
        return;
    lf_sb_slot_t s;
    lf_sb_read(slot, &s);
    *served = s.requests > 0 || s.state == LF_SB_BUSY;
    if (s.state != LF_SB_BUSY)
        return;
    char method[4 * sizeof(s.method) + 1], uri[4 * sizeof(s.uri) + 1];
    char script[4 * sizeof(s.script) + 1];
    lf_log_escape(method, sizeof(method), s.method, strnlen(s.method, sizeof(s.method)));
    lf_log_escape(uri, sizeof(uri), s.uri, strnlen(s.uri, sizeof(s.uri)));
    lf_log_escape(script, sizeof(script), s.script, strnlen(s.script, sizeof(s.script)));
    snprintf(buf, len, " in request \"%s %s\" (script %s)", method[0] ? method : "-",
             uri[0] ? uri : "-", script[0] ? script : "-");
}

/* Reap every dead worker; log how it died and plan its respawn. */
static void master_reap(lf_master_t *m)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        lf_child_t *c = NULL;
        for (int i = 0; i < m->nkids; i++)
            if (m->kids[i].pid == pid)
                c = &m->kids[i];
        if (c == NULL)
            continue;
        int expected = m->state != MASTER_RUNNING || c->retiring;
        double now = now_mono();
        int failed = 1, fatal = 0, served;
        char how[96], in[2600];
        master_last_request(c->sb_slot, in, sizeof(in), &served);
        if (WIFSIGNALED(status)) {
            int sig = WTERMSIG(status);
            snprintf(how, sizeof(how), "killed by signal %d (%s)%s", sig, signal_name(sig),
                     WCOREDUMP(status) ? ", core dumped" : "");
            lf_log(expected ? LF_LOG_NOTICE : LF_LOG_ALERT, "worker %d (pid %ld) %s%s", c->id,
                   (long)pid, how, in);
        } else {
            int code = WEXITSTATUS(status);
            failed = code != 0 && code != LF_EXIT_TIMEOUT;
            fatal = code == LF_EXIT_FATAL;
            snprintf(how, sizeof(how), "exited with code %d", code);
            if (code == LF_EXIT_TIMEOUT)
                lf_log(LF_LOG_ERR, "worker %d (pid %ld) %s%s: its request ran past --request-timeout, replacing it",
                       c->id, (long)pid, how, in);
            else
                lf_log(code ? LF_LOG_ALERT : LF_LOG_NOTICE, "worker %d (pid %ld) %s%s", c->id,
                       (long)pid, how, in);
        }
        c->pid = 0;
        lf_sb_release(c->sb_slot);
        c->sb_slot = -1;
        if (m->pending && c->gen == m->pending->gen) {
            char why[160];
            snprintf(why, sizeof(why), "new worker %d %s before it was ready", c->id, how);
            master_reload_abandon(m, why);
            continue;
        }
        /* A worker that could not start, or died young before it served
         * a request, waits before the next try, doubling up to
         * LF_BACKOFF_MAX: no tight crash loop.  One that a request killed
         * is replaced at once (a stream of such requests must not keep
         * the pool down). */
        if (failed && (fatal || (!served && now - c->started < LF_STABLE_AFTER))) {
            c->backoff = c->backoff ? c->backoff * 2 : LF_BACKOFF_MIN;
            if (c->backoff > LF_BACKOFF_MAX)
                c->backoff = LF_BACKOFF_MAX;
            c->respawn_at = now + c->backoff;
            if (!expected)
                lf_log(LF_LOG_WARN, "worker %d failed soon after start; next try in %.1f s", c->id,
                       c->backoff);
        } else {
            c->backoff = 0;
            c->respawn_at = now;
        }
    }
}

static int master_alive(const lf_master_t *m)
{
    int alive = 0;
    for (int i = 0; i < m->nkids; i++)
        alive += m->kids[i].pid > 0;
    return alive;
}

/* Keep the current generation complete; push retiring workers along.
 * Returns the next time something is due (-1 = nothing). */
static double master_tend(lf_master_t *m, double now)
{
    double next = -1;
#define DUE(t) (next = (next < 0 || (t) < next) ? (t) : next)
    for (int i = 0; i < m->nkids; i++) {
        lf_child_t *c = &m->kids[i];
        if (c->retiring) {
            if (c->pid > 0 && now >= c->kill_at) {
                lf_log(LF_LOG_WARN, "old worker %d (pid %ld) still busy: sending %s", c->id,
                       (long)c->pid, c->term_sent ? "SIGKILL" : "SIGTERM");
                master_kill(c, c->term_sent ? SIGKILL : SIGTERM);
                c->term_sent = 1;
                c->kill_at = now + LF_TERM_TIMEOUT;
            }
            if (c->pid > 0)
                DUE(c->kill_at);
            continue;
        }
        if (c->gen != m->gen || c->pid != 0)
            continue;
        if (c->respawn_at <= now)
            master_spawn(m, c, m->conf, m->listen, m->root, m->vm, m->dicts);
        if (c->pid == 0)
            DUE(c->respawn_at);
    }
    if (m->pending) {
        if (now >= m->pending->deadline) {
            master_reload_abandon(m, "the new workers were not ready in time");
        } else {
            DUE(m->pending->deadline);
        }
    }
#undef DUE
    return next;
}

int lf_master_run(lf_conf_t *conf, lf_listen_t *listen, lf_root_t *root)
{
    lf_proc_master_pid = getpid(); /* ngx.process.get_master_pid() in the workers */
    lf_master_t m;
    memset(&m, 0, sizeof(m));
    m.conf = conf;
    m.listen = listen;
    m.root = root;
    m.dicts = lf_dict_set_current;
    m.state = MASTER_RUNNING;
    m.life[0] = m.life[1] = m.ready[0] = m.ready[1] = -1;
    if (master_signals_install() != 0 || master_pipe(m.life, 0) != 0 ||
        master_pipe(m.ready, 0) != 0 || lf_sb_create() != 0) {
        lf_log_errno(LF_LOG_EMERG, errno, "master set-up failed");
        return 1;
    }
    if (conf->code_cache) {
        /* --init runs once, here; the workers inherit the VM as it is. */
        char err[2048];
        m.vm = lf_vm_prepare(conf, root, err, sizeof(err));
        if (m.vm == NULL) {
            lf_log(LF_LOG_EMERG, "%s", err);
            fprintf(stderr, "luafpm: %s\n", err);
            return 1;
        }
    }
    for (int id = 0; id < (int)conf->workers; id++)
        if (master_add_child(&m, id, 0) == NULL) {
            lf_log(LF_LOG_EMERG, "out of memory");
            return 1;
        }

    double deadline = 0;
    lf_log(LF_LOG_NOTICE, "luafpm %s master started on %s with %lld workers", PACKAGE_VERSION,
           listen->name, conf->workers);

    for (;;) {
        double now = now_mono();
        double next;
        if (m.state == MASTER_RUNNING) {
            next = master_tend(&m, now);
        } else {
            if (master_alive(&m) == 0)
                break;
            if (now >= deadline) {
                if (m.state == MASTER_STOPPING) {
                    lf_log(LF_LOG_WARN, "workers still busy after %.0f s: sending SIGTERM", LF_QUIT_TIMEOUT);
                    master_signal_all(&m, SIGTERM);
                    m.state = MASTER_TERMINATING;
                    deadline = now + LF_TERM_TIMEOUT;
                } else {
                    lf_log(LF_LOG_WARN, "workers still alive after SIGTERM: sending SIGKILL");
                    master_signal_all(&m, SIGKILL);
                    deadline = now + LF_TERM_TIMEOUT;
                }
            }
            next = deadline;
        }

        int timeout = -1;
        if (next >= 0) {
            double wait = next - now_mono();
            timeout = wait <= 0 ? 0 : (int)(wait * 1000) + 1;
        }
        struct pollfd pfd[2] = {
            {.fd = sig_pipe[0], .events = POLLIN},
            {.fd = m.ready[0], .events = POLLIN},
        };
        int rc = poll(pfd, 2, timeout);
        if (rc < 0 && errno != EINTR) {
            lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_ALERT, errno, "poll() failed");
            continue;
        }
        if (rc > 0 && pfd[1].revents)
            master_read_ready(&m);
        unsigned char sigs[64];
        ssize_t got;
        while ((got = read(sig_pipe[0], sigs, sizeof(sigs))) > 0) {
            for (ssize_t i = 0; i < got; i++) {
                int signo = sigs[i];
                switch (signo) {
                case SIGCHLD:
                    master_reap(&m);
                    break;
                case SIGTERM:
                case SIGINT:
                    if (m.state != MASTER_TERMINATING) {
                        lf_log(LF_LOG_NOTICE, "%s received: stopping now", signal_name(signo));
                        lf_notify("STOPPING=1");
                        master_signal_all(&m, SIGTERM);
                        m.state = MASTER_TERMINATING;
                        deadline = now_mono() + LF_TERM_TIMEOUT;
                    }
                    break;
                case SIGQUIT:
                    if (m.state == MASTER_RUNNING) {
                        lf_log(LF_LOG_NOTICE, "SIGQUIT received: stopping after the requests in flight");
                        lf_notify("STOPPING=1");
                        master_signal_all(&m, SIGQUIT);
                        m.state = MASTER_STOPPING;
                        deadline = now_mono() + LF_QUIT_TIMEOUT;
                    }
                    break;
                case SIGUSR1:
                    lf_log(LF_LOG_NOTICE, "SIGUSR1 received: reopening the logs");
                    lf_log_reopen();
                    master_signal_all(&m, SIGUSR1);
                    break;
                case SIGHUP:
                    if (m.state == MASTER_RUNNING) {
                        lf_log(LF_LOG_NOTICE, "SIGHUP received: reloading the configuration");
                        master_reload_start(&m);
                    }
                    break;
                default:
                    break;
                }
            }
        }
        /* A SIGCHLD may have been merged with an earlier one: reap anyway. */
        master_reap(&m);
    }
    if (m.pending)
        pending_free(&m, m.pending, 1);
    close(m.life[0]);
    close(m.life[1]);
    close(m.ready[0]);
    close(m.ready[1]);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    free(m.kids);
    lf_vm_close(m.vm);
    lf_log(LF_LOG_NOTICE, "master exiting");
    return 0;
}
