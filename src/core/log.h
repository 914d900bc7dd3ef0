/* log.h - the one error logger: nginx-style lines with time, level, pid. */
#ifndef LF_LOG_H
#define LF_LOG_H

#include <stdarg.h>

enum {
    LF_LOG_STDERR = 0, /* nginx's numbering: lower is more severe */
    LF_LOG_EMERG,
    LF_LOG_ALERT,
    LF_LOG_CRIT,
    LF_LOG_ERR,
    LF_LOG_WARN,
    LF_LOG_NOTICE,
    LF_LOG_INFO,
    LF_LOG_DEBUG
};

extern int lf_log_level;

/* The level is tested before the arguments are evaluated. */
#define lf_log(level, ...)                                                     \
    do {                                                                       \
        if ((level) <= lf_log_level)                                           \
            lf_log_write((level), 0, __VA_ARGS__);                             \
    } while (0)

/* Same, appending ": (errno: strerror)" for the errno given. */
#define lf_log_errno(level, err, ...)                                          \
    do {                                                                       \
        if ((level) <= lf_log_level)                                           \
            lf_log_write((level), (err), __VA_ARGS__);                         \
    } while (0)

/* The interval luafpm's own repeating error paths use with lf_log_every. */
#define LF_LOG_REPEAT_SECS 10.0

/* For an error path that can repeat in a tight loop (a failing accept,
 * fork, ...): at most one line every `secs` seconds from this call site.
 * The first one is written at once; those that come sooner after it are
 * counted, not written, and the next line written from the site ends with
 * " (N similar lines in the last T s not logged)".  A count is written
 * only with a later line from the site.  err as in lf_log_errno (0 =
 * none); the level is tested first, as in lf_log. */
#define lf_log_every(secs, level, err, ...)                                    \
    do {                                                                       \
        static lf_log_limit_t lf_log_site_;                                    \
        if ((level) <= lf_log_level)                                           \
            lf_log_limited(&lf_log_site_, (secs), (level), (err), __VA_ARGS__); \
    } while (0)

typedef struct {
    int written;            /* a line went out from this site */
    double last;            /* when (CLOCK_MONOTONIC, seconds) */
    unsigned long skipped;  /* lines counted since */
} lf_log_limit_t;

void lf_log_write(int level, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lf_log_limited(lf_log_limit_t *lim, double secs, int level, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* lf_log_every's decision at time now: 1 when a line is due (*skipped =
 * how many were left out before it), 0 when this one is only counted. */
int lf_log_limit_due(lf_log_limit_t *lim, double secs, double now, unsigned long *skipped);
void lf_log_vwrite(int level, int err, const char *fmt, va_list ap);
int lf_log_open(const char *path, char *errbuf, size_t errlen);
int lf_log_reopen(void);
/* The log's file descriptor, for a prebuilt line written from a signal handler. */
int lf_log_fd(void);
int lf_log_level_parse(const char *name);
const char *lf_log_level_name(int level);
void lf_log_set_request(unsigned long long number);
void lf_log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

/* Which request a line is about: method, URI and script, each escaped
 * (they come from the web server, the client and file names: a newline
 * there must not forge a line); timer: an ngx.timer callback instead. */
typedef struct {
    char method[64], uri[1024], script[1024];
    int has_script;
    const char *context;        /* a request without a connection: "ngx.timer", ... */
} lf_log_who_t;
/* `script: S, request: "METHOD URI"` (or `context: ngx.timer`, ...) into buf. */
#define LF_LOG_WHO_TEXT 2200
const char *lf_log_who_text(const lf_log_who_t *who, char *buf, size_t len);

#endif
