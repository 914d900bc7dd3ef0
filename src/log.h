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

void lf_log_write(int level, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lf_log_vwrite(int level, int err, const char *fmt, va_list ap);
int lf_log_open(const char *path, char *errbuf, size_t errlen);
int lf_log_reopen(void);
/* The log's file descriptor, for a prebuilt line written from a signal handler. */
int lf_log_fd(void);
int lf_log_level_parse(const char *name);
const char *lf_log_level_name(int level);
void lf_log_set_request(unsigned long long number);
void lf_log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
