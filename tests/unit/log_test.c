/* log_test.c - unit tests (TAP) for the logger's pure parts and the fd
 * helpers: lf_log_every's rate limit, lf_log_escape, lf_fd_*. */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fdutil.h"
#include "log.h"

static int tests, failures;

static void ok(int cond, const char *what)
{
    tests++;
    if (!cond)
        failures++;
    printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
}

/* The whole of file path, NUL-terminated, into buf. */
static size_t slurp(const char *path, char *buf, size_t len)
{
    size_t n = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        n = fread(buf, 1, len - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return n;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_limit_due(void)
{
    lf_log_limit_t lim;
    unsigned long skipped = 99;
    memset(&lim, 0, sizeof(lim));
    ok(lf_log_limit_due(&lim, 10, 1000.0, &skipped) == 1 && skipped == 0,
       "limit: the first line is written at once");
    int counted = 1;
    for (int i = 0; i < 1000; i++)
        counted &= lf_log_limit_due(&lim, 10, 1000.0 + i * 0.009, &skipped) == 0;
    ok(counted, "limit: 1000 more within the interval are only counted");
    ok(lf_log_limit_due(&lim, 10, 1010.0, &skipped) == 1 && skipped == 1000,
       "limit: the next one after the interval is written, with the count");
    ok(lf_log_limit_due(&lim, 10, 1025.0, &skipped) == 1 && skipped == 0,
       "limit: the count starts again");
    ok(lf_log_limit_due(&lim, 0, 1025.0, &skipped) == 1, "limit: interval 0 writes every line");
}

static void test_log_every(const char *dir)
{
    char path[PATH_MAX], err[256], text[8192];
    snprintf(path, sizeof(path), "%s/every.log", dir);
    ok(lf_log_open(path, err, sizeof(err)) == 0, "log_every: the log file opens");
    lf_log_level = LF_LOG_NOTICE;
    for (int i = 0; i < 100000; i++)
        lf_log_every(3600, LF_LOG_ERR, 24, "accept() failed, try %d", i);
    slurp(path, text, sizeof(text));
    ok(count_lines(text) == 1 && strstr(text, "[error]") &&
           strstr(text, "accept() failed, try 0 (24: Too many open files)\n"),
       "log_every: a tight loop of 100000 failures writes one line");

    /* A short interval: five counted, then a line with the count. */
    struct timespec pause = {0, 80 * 1000 * 1000};
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 6; i++)
            lf_log_every(0.05, LF_LOG_WARN, 0, "round %d, line %d", round, i);
        nanosleep(&pause, NULL);
    }
    slurp(path, text, sizeof(text));
    ok(count_lines(text) == 3 && strstr(text, "round 0, line 0\n") &&
           strstr(text, "round 1, line 0 (5 similar lines in the last 0.") &&
           strstr(text, " s not logged)\n"),
       "log_every: the next line written says how many were left out");

    for (int i = 0; i < 10; i++)
        lf_log_every(0, LF_LOG_DEBUG, 0, "below the level");
    slurp(path, text, sizeof(text));
    ok(strstr(text, "below the level") == NULL, "log_every: the level is tested first");
    unlink(path);
}

static void test_escape(void)
{
    char out[64];
    lf_log_escape(out, sizeof(out), "a\nb\x1b[1m\\c\xff", 10);
    ok(strcmp(out, "a\\x0ab\\x1b[1m\\x5cc\\xff") == 0, "escape: control, backslash and 8-bit bytes");
    lf_log_escape(out, 6, "\n\n\n", 3);
    ok(strcmp(out, "\\x0a") == 0, "escape: never past the buffer, never half an escape");
}

static void test_fds(const char *dir)
{
    char path[PATH_MAX], link[PATH_MAX];
    snprintf(path, sizeof(path), "%s/fd.txt", dir);
    close(0);
    ok(lf_fd_stdio_init() == 0 && fcntl(0, F_GETFD) >= 0, "stdio_init: a closed fd 0 is open again");
    ssize_t n = readlink("/proc/self/fd/0", link, sizeof(link) - 1);
    link[n > 0 ? n : 0] = '\0';
    ok(strcmp(link, "/dev/null") == 0, "stdio_init: on /dev/null");

    close(0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int hi = lf_fd_above_stdio(fd);
    ok(fd == 0 && hi >= 3, "above_stdio: a file opened on fd 0 moves above 2");
    ok(hi >= 3 && (fcntl(hi, F_GETFD) & FD_CLOEXEC), "above_stdio: close-on-exec is kept");
    n = readlink("/proc/self/fd/0", link, sizeof(link) - 1);
    link[n > 0 ? n : 0] = '\0';
    ok(strcmp(link, "/dev/null") == 0, "above_stdio: /dev/null takes the number it left");
    ok(hi >= 3 && write(hi, "x", 1) == 1, "above_stdio: the moved descriptor is the file");
    close(hi);
    int other = open(path, O_RDONLY);
    ok(lf_fd_above_stdio(other) == other, "above_stdio: a descriptor above 2 stays as it is");
    close(other);
    unlink(path);
}

int main(void)
{
    char dir[] = "/tmp/luafpm-unit.XXXXXX";
    if (mkdtemp(dir) == NULL) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    test_limit_due();
    test_log_every(dir);
    test_escape();
    test_fds(dir);
    rmdir(dir);
    printf("1..%d\n", tests);
    return failures ? 1 : 0;
}
