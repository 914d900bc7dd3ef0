/* master.c - the master process as a small state machine:
 *   RUNNING     keep N workers alive, respawning with back-off
 *   STOPPING    QUIT sent: workers finish their requests in flight
 *   TERMINATING TERM sent (or the QUIT deadline passed): then KILL
 * Signal handlers only write to a self-pipe; the loop acts on them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "worker.h"

#define LF_QUIT_TIMEOUT 60.0    /* graceful stop: then TERM */
#define LF_TERM_TIMEOUT 5.0     /* then KILL */
#define LF_BACKOFF_MIN 0.1
#define LF_BACKOFF_MAX 30.0
#define LF_STABLE_AFTER 1.0     /* a worker that lived this long resets its back-off */

typedef enum { MASTER_RUNNING, MASTER_STOPPING, MASTER_TERMINATING } lf_master_state_t;

typedef struct {
    pid_t pid;          /* 0 = not running */
    double started;
    double respawn_at;  /* when a dead worker may be forked again */
    double backoff;
} lf_child_t;

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

static int master_signals_install(void)
{
    if (pipe(sig_pipe) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(sig_pipe[i], F_GETFL);
        if (fl < 0 || fcntl(sig_pipe[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC) != 0)
            return -1;
    }
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

/* Fork worker id; the child never returns into master code. */
static pid_t master_spawn(const lf_conf_t *conf, const lf_listen_t *listen, const lf_root_t *root,
                          int id, int life[2])
{
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        close(sig_pipe[0]);
        close(sig_pipe[1]);
        close(life[1]);
        lf_worker_signals_install();
        sigprocmask(SIG_SETMASK, &old, NULL);
        lf_worker_args_t args = {
            .conf = conf, .listen = listen, .root = root, .id = id, .life_fd = life[0],
        };
        exit(lf_worker_run(&args));
    }
    int err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
        lf_log_errno(LF_LOG_ALERT, err, "fork() of worker %d failed", id);
    return pid;
}

static void master_signal_all(lf_child_t *children, int n, int signo)
{
    for (int i = 0; i < n; i++)
        if (children[i].pid > 0 && kill(children[i].pid, signo) != 0 && errno != ESRCH)
            lf_log_errno(LF_LOG_ALERT, errno, "kill(%ld, %s) failed", (long)children[i].pid,
                         signal_name(signo));
}

/* Reap every dead worker; log how it died and plan its respawn. */
static void master_reap(lf_child_t *children, int n, lf_master_state_t state)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        int id = -1;
        for (int i = 0; i < n; i++)
            if (children[i].pid == pid)
                id = i;
        if (id < 0)
            continue;
        lf_child_t *c = &children[id];
        double now = now_mono();
        int failed = 1, fatal = 0;
        if (WIFSIGNALED(status)) {
            int sig = WTERMSIG(status);
            lf_log(state == MASTER_RUNNING ? LF_LOG_ALERT : LF_LOG_NOTICE,
                   "worker %d (pid %ld) killed by signal %d (%s)%s", id, (long)pid, sig,
                   signal_name(sig), WCOREDUMP(status) ? ", core dumped" : "");
        } else {
            int code = WEXITSTATUS(status);
            failed = code != 0;
            fatal = code == LF_EXIT_FATAL;
            lf_log(code ? LF_LOG_ALERT : LF_LOG_NOTICE, "worker %d (pid %ld) exited with code %d",
                   id, (long)pid, code);
        }
        c->pid = 0;
        /* A worker that died young or could not start waits before the
         * next try, doubling up to LF_BACKOFF_MAX: no tight crash loop. */
        if (failed && (now - c->started < LF_STABLE_AFTER || fatal)) {
            c->backoff = c->backoff ? c->backoff * 2 : LF_BACKOFF_MIN;
            if (c->backoff > LF_BACKOFF_MAX)
                c->backoff = LF_BACKOFF_MAX;
            c->respawn_at = now + c->backoff;
            if (state == MASTER_RUNNING)
                lf_log(LF_LOG_WARN, "worker %d failed soon after start; next try in %.1f s", id,
                       c->backoff);
        } else {
            c->backoff = 0;
            c->respawn_at = now;
        }
    }
}

int lf_master_run(const lf_conf_t *conf, const lf_listen_t *listen, const lf_root_t *root)
{
    int n = (int)conf->workers;
    int life[2];
    lf_child_t *children = calloc((size_t)n, sizeof(*children));
    if (children == NULL) {
        lf_log(LF_LOG_EMERG, "out of memory");
        return 1;
    }
    if (master_signals_install() != 0 || pipe(life) != 0 ||
        fcntl(life[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(life[1], F_SETFD, FD_CLOEXEC) != 0) {
        lf_log_errno(LF_LOG_EMERG, errno, "master set-up failed");
        free(children);
        return 1;
    }

    lf_master_state_t state = MASTER_RUNNING;
    double deadline = 0;
    lf_log(LF_LOG_NOTICE, "luafpm %s master started on %s with %d workers", PACKAGE_VERSION,
           listen->name, n);

    for (;;) {
        double now = now_mono();
        double next = -1;
        if (state == MASTER_RUNNING) {
            for (int i = 0; i < n; i++) {
                lf_child_t *c = &children[i];
                if (c->pid != 0)
                    continue;
                if (c->respawn_at <= now) {
                    c->started = now;
                    c->pid = master_spawn(conf, listen, root, i, life);
                    if (c->pid < 0) {
                        c->pid = 0;
                        c->backoff = c->backoff ? c->backoff * 2 : LF_BACKOFF_MIN;
                        c->respawn_at = now + c->backoff;
                    }
                }
                if (c->pid == 0 && (next < 0 || c->respawn_at < next))
                    next = c->respawn_at;
            }
        } else {
            int alive = 0;
            for (int i = 0; i < n; i++)
                alive += children[i].pid > 0;
            if (alive == 0)
                break;
            if (now >= deadline) {
                if (state == MASTER_STOPPING) {
                    lf_log(LF_LOG_WARN, "workers still busy after %.0f s: sending SIGTERM", LF_QUIT_TIMEOUT);
                    master_signal_all(children, n, SIGTERM);
                    state = MASTER_TERMINATING;
                    deadline = now + LF_TERM_TIMEOUT;
                } else {
                    lf_log(LF_LOG_WARN, "workers still alive after SIGTERM: sending SIGKILL");
                    master_signal_all(children, n, SIGKILL);
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
        struct pollfd pfd = {.fd = sig_pipe[0], .events = POLLIN};
        int rc = poll(&pfd, 1, timeout);
        if (rc < 0 && errno != EINTR) {
            lf_log_errno(LF_LOG_ALERT, errno, "poll() failed");
            continue;
        }
        unsigned char sigs[64];
        ssize_t got;
        while ((got = read(sig_pipe[0], sigs, sizeof(sigs))) > 0) {
            for (ssize_t i = 0; i < got; i++) {
                int signo = sigs[i];
                switch (signo) {
                case SIGCHLD:
                    master_reap(children, n, state);
                    break;
                case SIGTERM:
                case SIGINT:
                    if (state != MASTER_TERMINATING) {
                        lf_log(LF_LOG_NOTICE, "%s received: stopping now", signal_name(signo));
                        master_signal_all(children, n, SIGTERM);
                        state = MASTER_TERMINATING;
                        deadline = now_mono() + LF_TERM_TIMEOUT;
                    }
                    break;
                case SIGQUIT:
                    if (state == MASTER_RUNNING) {
                        lf_log(LF_LOG_NOTICE, "SIGQUIT received: stopping after the requests in flight");
                        master_signal_all(children, n, SIGQUIT);
                        state = MASTER_STOPPING;
                        deadline = now_mono() + LF_QUIT_TIMEOUT;
                    }
                    break;
                case SIGUSR1:
                    lf_log(LF_LOG_NOTICE, "SIGUSR1 received: reopening the logs");
                    lf_log_reopen();
                    master_signal_all(children, n, SIGUSR1);
                    break;
                case SIGHUP:
                    lf_log(LF_LOG_NOTICE, "SIGHUP received: reload is not supported yet, ignored");
                    break;
                default:
                    break;
                }
            }
        }
        /* A SIGCHLD may have been merged with an earlier one: reap anyway. */
        master_reap(children, n, state);
    }
    close(life[0]);
    close(life[1]);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    free(children);
    lf_log(LF_LOG_NOTICE, "master exiting");
    return 0;
}
