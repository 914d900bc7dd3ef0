/* log.c - error log: one write(2) per line so lines from workers never mix. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fdutil.h"
#include "log.h"

int lf_log_level = LF_LOG_NOTICE;

/* Until lf_log_open: stderr itself.  Then always a descriptor of our own,
 * >= 3, even for "stderr" (a dup of it): a handler that closes fd 2 must
 * not take the log with it, nor let a new connection receive its lines. */
static int log_fd = STDERR_FILENO;
static int log_own;                    /* log_fd is ours to close */
static char log_path[4096];
static unsigned long long log_request; /* current request number, 0 = none */

static const char *const level_names[] = {
    "stderr", "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
};

/* Parse a --log-level name; -1 when unknown. */
int lf_log_level_parse(const char *name)
{
    for (int i = LF_LOG_EMERG; i <= LF_LOG_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    if (strcmp(name, "err") == 0)
        return LF_LOG_ERR;
    return -1;
}

const char *lf_log_level_name(int level)
{
    if (level < 0 || level > LF_LOG_DEBUG)
        return "?";
    return level_names[level];
}

/* Open the log file (or "stderr"); errors go into errbuf, not the log. */
int lf_log_open(const char *path, char *errbuf, size_t errlen)
{
    int fd;
    int to_stderr = path == NULL || strcmp(path, "stderr") == 0;
    if (to_stderr) {
        fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
            snprintf(errbuf, errlen, "fcntl(2, F_DUPFD_CLOEXEC) of stderr for the error log failed (%d: %s)",
                     errno, strerror(errno));
            return -1;
        }
    } else {
        if (strlen(path) >= sizeof(log_path)) {
            snprintf(errbuf, errlen, "error log path too long: %s", path);
            return -1;
        }
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(errbuf, errlen, "open(\"%s\") failed (%d: %s)", path, errno, strerror(errno));
            return -1;
        }
        /* A reopen after a handler closed fd 2 would land there. */
        int hi = lf_fd_above_stdio(fd);
        if (hi < 0) {
            snprintf(errbuf, errlen, "fcntl(F_DUPFD) of the error log \"%s\" failed (%d: %s)", path,
                     errno, strerror(errno));
            close(fd);
            return -1;
        }
        fd = hi;
    }
    if (log_own)
        close(log_fd);
    log_fd = fd;
    log_own = 1;
    if (to_stderr)
        log_path[0] = '\0';
    else
        memcpy(log_path, path, strlen(path) + 1);
    return 0;
}

/* Reopen the log file after logrotate moved it (SIGUSR1). */
int lf_log_reopen(void)
{
    char err[256];
    if (log_path[0] == '\0')
        return 0;
    char path[sizeof(log_path)];
    memcpy(path, log_path, sizeof(path));
    if (lf_log_open(path, err, sizeof(err)) != 0) {
        lf_log(LF_LOG_ALERT, "%s", err);
        return -1;
    }
    return 0;
}

int lf_log_fd(void)
{
    return log_fd;
}

void lf_log_set_request(unsigned long long number)
{
    log_request = number;
}

/* Copy srclen bytes of untrusted text, escaping control and non-ASCII bytes. */
void lf_log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (dstlen == 0)
        return;
    for (size_t i = 0; i < srclen; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (o + 1 >= dstlen)
                break;
            dst[o++] = (char)c;
        } else {
            if (o + 4 >= dstlen)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    dst[o] = '\0';
}

/* One line: the message, errno's text when err, then suffix (or none). */
static void log_line(int level, int err, const char *suffix, const char *fmt, va_list ap)
{
    char line[8192];
    size_t n, cap = sizeof(line) - 2; /* room for "\n" and NUL */
    struct timespec ts;
    struct tm tm;
    int saved_errno = errno;

    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    n = strftime(line, cap, "%Y/%m/%d %H:%M:%S", &tm);
    int w;
    if (log_request)
        w = snprintf(line + n, cap - n, " [%s] %ld#0: *%llu ", lf_log_level_name(level),
                     (long)getpid(), log_request);
    else
        w = snprintf(line + n, cap - n, " [%s] %ld#0: ", lf_log_level_name(level), (long)getpid());
    if (w > 0)
        n += (size_t)w < cap - n ? (size_t)w : cap - n - 1;
    w = vsnprintf(line + n, cap - n, fmt, ap);
    if (w > 0)
        n += (size_t)w < cap - n ? (size_t)w : cap - n - 1;
    if (err && n < cap) {
        w = snprintf(line + n, cap - n, " (%d: %s)", err, strerror(err));
        if (w > 0)
            n += (size_t)w < cap - n ? (size_t)w : cap - n - 1;
    }
    if (suffix && n < cap) {
        w = snprintf(line + n, cap - n, "%s", suffix);
        if (w > 0)
            n += (size_t)w < cap - n ? (size_t)w : cap - n - 1;
    }
    line[n++] = '\n';
    /* A short write to a log has nowhere better to be reported. */
    ssize_t r;
    do
        r = write(log_fd, line, n);
    while (r < 0 && errno == EINTR);
    errno = saved_errno;
}

void lf_log_vwrite(int level, int err, const char *fmt, va_list ap)
{
    log_line(level, err, NULL, fmt, ap);
}

int lf_log_limit_due(lf_log_limit_t *lim, double secs, double now, unsigned long *skipped)
{
    *skipped = 0;
    if (lim->written && now - lim->last < secs) {
        lim->skipped++;
        return 0;
    }
    *skipped = lim->skipped;
    lim->skipped = 0;
    lim->written = 1;
    lim->last = now;
    return 1;
}

void lf_log_limited(lf_log_limit_t *lim, double secs, int level, int err, const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    double since = now - lim->last;
    unsigned long skipped;
    if (!lf_log_limit_due(lim, secs, now, &skipped))
        return;
    char suffix[96] = "";
    if (skipped > 0)
        snprintf(suffix, sizeof(suffix), " (%lu similar line%s in the last %.1f s not logged)",
                 skipped, skipped == 1 ? "" : "s", since);
    va_list ap;
    va_start(ap, fmt);
    log_line(level, err, suffix, fmt, ap);
    va_end(ap);
}

void lf_log_write(int level, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lf_log_vwrite(level, err, fmt, ap);
    va_end(ap);
}

const char *lf_log_who_text(const lf_log_who_t *who, char *buf, size_t len)
{
    if (who->context)
        snprintf(buf, len, "context: %s", who->context);
    else if (who->has_script)
        snprintf(buf, len, "script: %s, request: \"%s %s\"", who->script, who->method, who->uri);
    else
        snprintf(buf, len, "request: \"%s %s\"", who->method, who->uri);
    return buf;
}
