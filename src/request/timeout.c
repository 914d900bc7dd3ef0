/* timeout.c - --request-timeout.  A request has two deadlines, both
 * delivered by one ITIMER_REAL (SIGALRM):
 *
 *   soft, at the timeout: the signal handler sets a count hook on the VM
 *     (LuaJIT documents lua_sethook as safe in a signal handler).  The hook
 *     yields the request's coroutine (lf_timeout_expired tells why), through pcall
 *     and user coroutines as ngx.exit does; where no yield is possible (Lua
 *     called from C) it raises the timeout error, and it fires again at
 *     every instruction, so no pcall swallows it.  A blocked system call
 *     returns EINTR (no SA_RESTART), ngx.sleep stops early.  request.c then
 *     ends the request with 504 (or cuts it after output), logs the
 *     traceback, and the worker goes on.
 *
 *   hard, LF_TIMEOUT_GRACE later: hooks never run inside a JIT-compiled
 *     trace or C code (a compiled `while true do end`, os.execute, an FFI
 *     call), so the signal handler itself answers: a complete FastCGI 504
 *     (or, after output, the record that cuts the response), a log line,
 *     all prebuilt when the request was armed and written with write(2)
 *     on the connection made non-blocking (a web server that stopped
 *     reading must not hold the exit up), then _exit(LF_EXIT_TIMEOUT);
 *     the master forks a replacement.
 *
 * Everything the handler touches is async-signal-safe: flags, prebuilt
 * bytes, fcntl, write, shutdown, poll, read, clock_gettime, nanosleep,
 * _exit. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "fdutil.h"
#include "log.h"
#include "http.h"
#include "sandbox.h"
#include "timeout.h"

#define LF_HARD_LINGER_MS 1000 /* reading what the web server still sends */

/* The request that runs now (between lf_timeout_enter and _leave): the
 * one ITIMER_REAL serves its next deadline only, so a parked request costs
 * no signal (its deadlines are the loop's timers, lf_timeout_due). */
static struct {
    volatile sig_atomic_t armed;
    volatile sig_atomic_t expired;  /* the soft deadline passed */
    volatile sig_atomic_t in_lua;   /* inside lua_resume of the request */
    volatile sig_atomic_t sending;  /* response bytes went out */
    volatile sig_atomic_t complete; /* ngx.eof sent the whole response */
    volatile sig_atomic_t phase;    /* next deadline: SLOW, SOFT, HARD */
    volatile sig_atomic_t slow_due; /* the slowlog deadline passed */
    int slow_written;               /* this request's slowlog entry is out */
    lf_deadline_t *r;               /* the request that runs now */
    lua_State *volatile L;
    volatile int fd;
    long gmtoff;                    /* for the log line's local time */
    double slow_secs, soft_secs;    /* from the request's start; 0 = none */
    double start;                   /* CLOCK_MONOTONIC at the request's start */
    unsigned long long line_for;    /* the request hard_line was built for */
} t;

enum { PHASE_SLOW, PHASE_SOFT, PHASE_HARD };

static int slowlog_fd = -1;         /* --slowlog, opened on first use */
static lf_deadline_t *armed_list;   /* every request in flight */

void (*lf_timeout_on_slow)(void);
void (*lf_timeout_on_kill)(void);

static int installed;
static char message[64];            /* request timed out after N s */

/* The hard deadline's FastCGI 504: STDOUT with the page, an empty STDOUT,
 * END_REQUEST; the request id is patched in at arm time. */
static char resp504[1024];
static size_t resp504_len;
static size_t resp504_ids[3];       /* offsets of the three record headers */

/* The 502 for every other request in flight when the hard deadline ends
 * the worker: the same records (ids patched on a copy). */
static char resp502[1024];
static size_t resp502_len;
static size_t resp502_ids[3];

/* Its log line: the timestamp's 19 characters are written at the time,
 * the count of other requests after it. */
static char hard_line[2048];
static size_t hard_line_len;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *lf_timeout_message(void)
{
    return message;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void put_digits(char *p, long v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* "YYYY/MM/DD HH:MM:SS" from the clock, in local time, without localtime
 * (not async-signal-safe): days to a civil date (H. Hinnant's algorithm). */
static void stamp(char *p)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long s = (long long)ts.tv_sec + t.gmtoff;
    long long days = s / 86400, sec = s % 86400;
    if (sec < 0) {
        sec += 86400;
        days--;
    }
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    long long d = doy - (153 * mp + 2) / 5 + 1;
    long long m = mp < 10 ? mp + 3 : mp - 9;
    long long y = yoe + era * 400 + (m <= 2);
    put_digits(p, (long)y, 4);
    p[4] = '/';
    put_digits(p + 5, (long)m, 2);
    p[7] = '/';
    put_digits(p + 8, (long)d, 2);
    p[10] = ' ';
    put_digits(p + 11, (long)(sec / 3600), 2);
    p[13] = ':';
    put_digits(p + 14, (long)(sec / 60 % 60), 2);
    p[16] = ':';
    put_digits(p + 17, (long)(sec % 60), 2);
}

static const char bad_record[8] = {0}; /* as request.c's request_abort */

/* The hard deadline ends the worker with other requests in flight: each
 * gets its answer now, non-blocking (a 502 when nothing of its response
 * left, else the record that cuts it), and its connection is shut.  How
 * many. */
static unsigned answer_others(void)
{
    unsigned n = 0;
    for (lf_deadline_t *o = armed_list; o; o = o->next) {
        int fd = o->conn ? o->conn->fd : -1;
        if (o == t.r || fd < 0 || o->conn->id == 0)
            continue;
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        /* Queued output may end mid-record: nothing more can follow it. */
        if (!lf_fcgi_conn_pending(o->conn)) {
            if (!o->sent) {
                char copy[sizeof(resp502)];
                memcpy(copy, resp502, resp502_len);
                for (int i = 0; i < 3; i++) {
                    copy[resp502_ids[i] + 2] = (char)(o->conn->id >> 8);
                    copy[resp502_ids[i] + 3] = (char)o->conn->id;
                }
                write_all(fd, copy, resp502_len);
            } else if (!o->complete) {
                write_all(fd, bad_record, sizeof(bad_record));
            }
        }
        shutdown(fd, SHUT_WR);
        n++;
    }
    return n;
}

/* The hard deadline: answer for the handler and end the worker. */
static void timeout_hard(void)
{
    int fd = t.fd;
    unsigned others = answer_others();
    if (hard_line_len > 0 && lf_log_level >= LF_LOG_ERR) {
        char tail[96] = "; the worker exits, ";
        size_t n = strlen(tail);
        char digits[16];
        int nd = 0;
        unsigned v = others;
        do {
            digits[nd++] = (char)('0' + v % 10);
            v /= 10;
        } while (v && nd < (int)sizeof(digits));
        while (nd > 0)
            tail[n++] = digits[--nd];
        const char *rest = " other requests in flight answered 502\n";
        size_t rl = strlen(rest);
        memcpy(tail + n, rest, rl);
        n += rl;
        stamp(hard_line);
        write_all(lf_log_fd(), hard_line, hard_line_len);
        write_all(lf_log_fd(), tail, n);
    }
    if (fd >= 0) {
        /* A web server that stopped reading (its socket buffer full)
         * must not keep us here: what does not fit is dropped. */
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        if (t.r && lf_fcgi_conn_pending(t.r->conn)) {
            /* Queued output may end mid-record: nothing can follow it. */
        } else if (!t.sending) {
            write_all(fd, resp504, resp504_len);
        } else if (!t.complete) {
            struct timespec pause = {0, 20 * 1000 * 1000}; /* see request_abort */
            nanosleep(&pause, NULL);
            write_all(fd, bad_record, sizeof(bad_record));
        }
        /* The end of our side, even if a child process shares the socket;
         * then read what the web server still sends until it closes, so
         * that unread bytes do not turn our exit into a reset (nginx would
         * answer 502 instead of the 504). */
        shutdown(fd, SHUT_WR);
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (long)(now.tv_sec - start.tv_sec) * 1000 +
                      (now.tv_nsec - start.tv_nsec) / 1000000;
            if (ms >= LF_HARD_LINGER_MS)
                break;
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            if (poll(&pfd, 1, (int)(LF_HARD_LINGER_MS - ms)) <= 0)
                break;
            char sink[4096];
            if (read(fd, sink, sizeof(sink)) <= 0)
                break;
        }
    }
    if (lf_timeout_on_kill)
        lf_timeout_on_kill();
    _exit(LF_EXIT_TIMEOUT);
}

static void timeout_hook(lua_State *L, lua_Debug *ar);

static void slowlog_hook(lua_State *L, lua_Debug *ar);

/* The next deadline after now, counted from the request's start. */
static void timeout_rearm(double at)
{
    double left = at - (mono_now() - t.start);
    if (left < 1e-6)
        left = 1e-6;
    struct itimerval it;
    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = (time_t)left;
    it.it_value.tv_usec = (suseconds_t)((left - (double)it.it_value.tv_sec) * 1e6);
    setitimer(ITIMER_REAL, &it, NULL);
}

static void timeout_on_alarm(int signo)
{
    int saved = errno;
    (void)signo;
    if (t.armed) {
        if (t.phase == PHASE_SLOW) {
            /* The slowlog's traceback is taken by a hook in Lua's own
             * context (or when the request next runs Lua). */
            t.slow_due = 1;
            if (t.in_lua && !t.expired)
                lua_sethook(t.L, slowlog_hook, LUA_MASKCOUNT, 1);
            t.phase = PHASE_SOFT;
            if (t.soft_secs > 0)
                timeout_rearm(t.soft_secs);
        } else if (t.phase == PHASE_SOFT) {
            t.expired = 1;
            if (t.in_lua)
                lua_sethook(t.L, timeout_hook, LUA_MASKCOUNT, 1);
            t.phase = PHASE_HARD;
            timeout_rearm(t.soft_secs + LF_TIMEOUT_GRACE);
        } else {
            timeout_hard();
        }
    }
    errno = saved;
}

/* One slowlog entry: when, who, how long, and where the handler is. */
static void slowlog_write(lf_deadline_t *r, const char *where)
{
    if (slowlog_fd < 0 && r->slowlog) {
        int fd = open(r->slowlog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        slowlog_fd = lf_fd_above_stdio(fd);
        if (slowlog_fd < 0) {
            int err = errno;
            if (fd >= 0)
                close(fd);
            lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_ERR, err, "cannot open --slowlog \"%s\"",
                         r->slowlog);
        }
    }
    double running = mono_now() - r->mono_start;
    char esc[LF_LOG_WHO_TEXT];
    lf_log_who_t e;
    r->describe(r, &e);
    if (slowlog_fd < 0) {
        lf_log(LF_LOG_WARN, "slow request: running %.3f s, %s\n%s", running,
               lf_log_who_text(&e, esc, sizeof(esc)), where);
    } else {
        char stamp_buf[64];
        time_t wall = time(NULL);
        struct tm tm;
        if (localtime_r(&wall, &tm) == NULL ||
            strftime(stamp_buf, sizeof(stamp_buf), "%d-%b-%Y %H:%M:%S", &tm) == 0)
            snprintf(stamp_buf, sizeof(stamp_buf), "%lld", (long long)wall);
        char head[2400];
        int n = snprintf(head, sizeof(head),
                         "\n[%s] pid %ld, request *%llu \"%s %s\" running %.3f s\nscript_filename = %s\n",
                         stamp_buf, (long)getpid(), r->number, e.method, e.uri, running, e.script);
        if (n > 0)
            write_all(slowlog_fd, head, (size_t)n < sizeof(head) ? (size_t)n : sizeof(head) - 1);
        write_all(slowlog_fd, where, strlen(where));
        write_all(slowlog_fd, "\n", 1);
    }
    if (lf_timeout_on_slow)
        lf_timeout_on_slow();
    r->slow_written = 1;
    if (r == t.r)
        t.slow_written = 1;
}

/* Runs once the slowlog deadline passed: the traceback of where the
 * handler is now, then the hook goes. */
static void slowlog_hook(lua_State *L, lua_Debug *ar)
{
    lf_deadline_t *r = t.armed ? t.r : NULL;
    (void)ar;
    if (t.expired)
        return; /* the timeout's hook takes over */
    if (r == NULL || *r->co == NULL || t.slow_written) {
        lf_sandbox_rehook(L);
        return;
    }
    if (L == r->L)
        return; /* not the handler's code: wait until it runs again */
    lf_sandbox_rehook(L);
    luaL_traceback(L, L, NULL, 0);                   /* sp: tb */
    if (L != *r->co) {
        luaL_traceback(L, *r->co, "in the request's coroutine:", 0);
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
    slowlog_write(r, lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* The request's coroutine is parked: its traceback shows where it waits. */
static void slowlog_parked(lf_deadline_t *r)
{
    lua_State *L = r->L;
    luaL_traceback(L, *r->co, NULL, 0);
    slowlog_write(r, lua_tostring(L, -1));
    lua_pop(L, 1);
}

double lf_timeout_next(const lf_deadline_t *r)
{
    if (r->slow_secs > 0 && !r->slow_written)
        return r->mono_start + r->slow_secs;
    if (r->soft_secs > 0)
        return r->mono_start + r->soft_secs;
    return 0;
}

int lf_timeout_due(lf_deadline_t *r)
{
    double now = mono_now();
    if (r->slow_secs > 0 && !r->slow_written && now >= r->mono_start + r->slow_secs - 1e-4 &&
        *r->co != NULL)
        slowlog_parked(r);
    return r->soft_secs > 0 && now >= r->mono_start + r->soft_secs - 1e-4;
}

void lf_timeout_reopen(void)
{
    if (slowlog_fd >= 0)
        close(slowlog_fd);
    slowlog_fd = -1; /* opened again at the next slow request */
}

/* Runs at every Lua instruction once the timeout has passed. */
static void timeout_hook(lua_State *L, lua_Debug *ar)
{
    lf_deadline_t *r = t.armed ? t.r : NULL;
    (void)ar;
    if (!t.expired || !t.in_lua || r == NULL || *r->co == NULL) {
        lf_sandbox_rehook(L); /* a late one: nothing to stop */
        return;
    }
    if (L == r->L)
        return; /* not the handler's code: wait until it runs again */
    if (r->timeout_ref == LUA_NOREF) {
        luaL_traceback(L, L, message, 0);            /* sp: tb */
        if (L != *r->co) {
            /* Inside a user coroutine: where the handler resumed it too. */
            luaL_traceback(L, *r->co, "in the request's coroutine:", 0);
            lua_pushliteral(L, "\n");
            lua_insert(L, -2);
            lua_concat(L, 3);                        /* sp: tb */
        }
        r->timeout_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    if (lua_isyieldable(L)) {
        lua_yield(L, 0); /* the request sees lf_timeout_expired() */
        return;
    }
    lua_pushstring(L, message);
    lua_error(L);
}

/* A prebuilt error response (STDOUT with nginx's kind of page, an empty
 * STDOUT, END_REQUEST), once; the request id is patched in per request. */
static size_t timeout_build_response(int status, char *out, size_t ids[3])
{
    char page[512], head[128];
    size_t plen = lf_http_error_html(status, page, sizeof(page));
    int hl = snprintf(head, sizeof(head), "Status: %d %s\r\nContent-Type: text/html\r\n\r\n", status,
                      lf_http_status_reason(status));
    size_t clen = (size_t)hl + plen;
    unsigned char *p = (unsigned char *)out;
    size_t n = 0;
    const size_t lens[3] = {clen, 0, 8};
    const int types[3] = {6 /* FCGI_STDOUT */, 6, 3 /* FCGI_END_REQUEST */};
    for (int i = 0; i < 3; i++) {
        ids[i] = n;
        p[n] = 1;
        p[n + 1] = (unsigned char)types[i];
        p[n + 2] = p[n + 3] = 0;
        p[n + 4] = (unsigned char)(lens[i] >> 8);
        p[n + 5] = (unsigned char)lens[i];
        p[n + 6] = p[n + 7] = 0;
        n += 8;
        if (i == 0) {
            memcpy(p + n, head, (size_t)hl);
            memcpy(p + n + hl, page, plen);
            n += clen;
        } else if (i == 2) {
            memset(p + n, 0, 8); /* appStatus 0, FCGI_REQUEST_COMPLETE */
            n += 8;
        }
    }
    return n;
}

static void timeout_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigfillset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read returns EINTR */
    sa.sa_handler = timeout_on_alarm;
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        lf_log_errno(LF_LOG_ALERT, errno, "sigaction(SIGALRM) failed");
    resp504_len = timeout_build_response(504, resp504, resp504_ids);
    resp502_len = timeout_build_response(502, resp502, resp502_ids);
    installed = 1;
}

/* The hard deadline's log line, but for its timestamp. */
static void timeout_build_line(lf_deadline_t *r)
{
    char esc[LF_LOG_WHO_TEXT];
    lf_log_who_t e;
    r->describe(r, &e);
    int n = snprintf(hard_line, sizeof(hard_line),
                     "0000/00/00 00:00:00 [error] %ld#0: *%llu lua entry thread killed: %s, still "
                     "running %g s later (a JIT-compiled loop or C code), %s",
                     (long)getpid(), r->number, message, LF_TIMEOUT_GRACE,
                     lf_log_who_text(&e, esc, sizeof(esc)));
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(hard_line))
        n = sizeof(hard_line) - 1;
    hard_line_len = (size_t)n;
}

void lf_timeout_arm(lf_deadline_t *r, const lf_conf_t *conf)
{
    double secs = conf->request_timeout;
    double slow = conf->slowlog_timeout;
    if (slow > 0 && secs > 0 && slow >= secs)
        slow = 0; /* the timeout's own log line comes first */
    r->slow_secs = slow > 0 ? slow : 0;
    r->soft_secs = secs > 0 ? secs : 0;
    r->slow_written = r->sent = r->complete = 0;
    r->timeout_ref = LUA_NOREF;
    r->mono_start = mono_now();
    if ((secs > 0 || slow > 0) && !installed)
        timeout_install();
    if (!r->linked) {
        r->prev = NULL;
        r->next = armed_list;
        if (armed_list)
            armed_list->prev = r;
        armed_list = r;
        r->linked = 1;
    }
}

void lf_timeout_forget(lf_deadline_t *r)
{
    if (!r->linked)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        armed_list = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->next = r->prev = NULL;
    r->linked = 0;
}

/* Set the timer for the next deadline of the request that runs now. */
static void timeout_start_timer(void)
{
    double elapsed = mono_now() - t.start;
    double at;
    if (t.slow_secs > 0 && !t.slow_written && elapsed < t.slow_secs) {
        t.phase = PHASE_SLOW;
        at = t.slow_secs;
    } else if (t.soft_secs > 0) {
        t.phase = PHASE_SOFT;
        at = t.soft_secs;
        if (t.slow_secs > 0 && !t.slow_written)
            t.slow_due = 1; /* passed while it was parked, not yet written */
    } else {
        if (t.slow_secs > 0 && !t.slow_written)
            t.slow_due = 1;
        return;
    }
    double left = at - elapsed;
    if (left < 1e-6)
        left = 1e-6;
    struct itimerval it;
    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = (time_t)left;
    it.it_value.tv_usec = (suseconds_t)((left - (double)it.it_value.tv_sec) * 1e6);
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
        it.it_value.tv_usec = 1;
    if (setitimer(ITIMER_REAL, &it, NULL) != 0) {
        t.armed = 0;
        lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_ALERT, errno,
                     "setitimer() failed: no --request-timeout for this request");
    }
}

int lf_timeout_enter(lf_deadline_t *r)
{
    if (r->soft_secs <= 0 && (r->slow_secs <= 0 || r->slow_written))
        return 0;
    if (r->soft_secs > 0 && mono_now() - r->mono_start >= r->soft_secs)
        return -1;
    if (r->number != t.line_for) {
        /* Once per request: the answers the hard deadline would give. */
        time_t now = time(NULL);
        struct tm tm;
        t.gmtoff = localtime_r(&now, &tm) ? tm.tm_gmtoff : 0;
        snprintf(message, sizeof(message), "request timed out after %g s", r->soft_secs);
        timeout_build_line(r);
        t.line_for = r->number;
    }
    for (int i = 0; i < 3; i++) {
        resp504[resp504_ids[i] + 2] = (char)(r->conn->id >> 8);
        resp504[resp504_ids[i] + 3] = (char)r->conn->id;
    }
    t.r = r;
    t.L = r->L;
    t.fd = r->conn->fd;
    t.expired = 0;
    t.sending = r->sent;
    t.complete = r->complete;
    t.slow_due = 0;
    t.slow_written = r->slow_written;
    t.slow_secs = r->slow_secs;
    t.soft_secs = r->soft_secs;
    t.start = r->mono_start;
    t.armed = 1;
    timeout_start_timer();
    t.in_lua = 1;
    /* The slowlog deadline passed while it was parked: the traceback is
     * taken as soon as the handler runs. */
    if (t.armed && t.slow_due && !t.slow_written)
        lua_sethook(t.L, slowlog_hook, LUA_MASKCOUNT, 1);
    return 0;
}

int lf_timeout_leave(lf_deadline_t *r, int finished)
{
    if (!t.armed || t.r != r) {
        t.in_lua = 0;
        return 0;
    }
    struct itimerval off;
    memset(&off, 0, sizeof(off));
    setitimer(ITIMER_REAL, &off, NULL);
    /* No SIGALRM from here on. */
    t.armed = 0;
    t.in_lua = 0;
    int expired = t.expired;
    if (expired || t.slow_due)
        lf_sandbox_rehook(t.L);
    if (finished && t.slow_due && !t.slow_written && !expired)
        slowlog_write(r, "(no Lua traceback: the handler was in C code or a JIT-compiled loop "
                         "from the slowlog deadline to its end)");
    t.expired = 0;
    t.slow_due = 0;
    t.r = NULL;
    return expired;
}

int lf_timeout_expired(void)
{
    return t.expired;
}

void lf_timeout_sending(lf_deadline_t *d, int last)
{
    d->sent = 1;
    if (last)
        d->complete = 1;
    if (!t.armed || t.r != d)
        return;
    t.sending = 1;
    if (last)
        t.complete = 1;
}
