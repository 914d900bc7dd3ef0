/* pidfile.c - the pid file, php-fpm's way: a file naming a live luafpm
 * stops a second start; a stale one (the process gone, or the pid reused
 * by another program) is overwritten. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "log.h"
#include "pidfile.h"

/* The pid in path; 0 when the file is missing, empty or not a pid, -1
 * (errno set) when it cannot be read. */
static long pidfile_read(const char *path)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    ssize_t n;
    do
        n = read(fd, buf, sizeof(buf) - 1);
    while (n < 0 && errno == EINTR);
    int err = errno;
    close(fd);
    if (n < 0) {
        errno = err;
        return -1;
    }
    buf[n] = '\0';
    char *end;
    errno = 0;
    long pid = strtol(buf, &end, 10);
    if (errno || end == buf || (*end != '\0' && *end != '\n') || pid <= 0 || pid > INT_MAX)
        return 0;
    return pid;
}

/* The command name of pid from /proc ("" when it cannot be read). */
static void proc_comm(const char *pid, char *out, size_t len)
{
    char path[64];
    out[0] = '\0';
    snprintf(path, sizeof(path), "/proc/%s/comm", pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    if (fgets(out, (int)len, f) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

int lf_pidfile_check(const char *path, char *errbuf, size_t errlen)
{
    long pid = pidfile_read(path);
    if (pid < 0) {
        snprintf(errbuf, errlen, "cannot read pid file \"%s\" (%d: %s)", path, errno,
                 strerror(errno));
        return -1;
    }
    if (pid == 0 || pid == (long)getpid())
        return 0;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
        return 0; /* gone: stale */
    char theirs[64], ours[64], num[24];
    snprintf(num, sizeof(num), "%ld", pid);
    proc_comm(num, theirs, sizeof(theirs));
    proc_comm("self", ours, sizeof(ours));
    /* Without /proc, a live pid is taken as ours: refusing is safer. */
    if (theirs[0] && ours[0] && strcmp(theirs, ours) != 0)
        return 0;
    snprintf(errbuf, errlen, "pid file \"%s\" names a running luafpm (pid %ld): already running?",
             path, pid);
    return -1;
}

int lf_pidfile_write(const char *path, char *errbuf, size_t errlen)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        snprintf(errbuf, errlen, "open(\"%s\") of the pid file failed (%d: %s)", path, errno,
                 strerror(errno));
        return -1;
    }
    ssize_t w;
    do
        w = write(fd, buf, (size_t)n);
    while (w < 0 && errno == EINTR);
    int err = w < 0 ? errno : EIO;
    if (w != n || close(fd) != 0) {
        if (w == n)
            err = errno;
        else
            close(fd);
        snprintf(errbuf, errlen, "write to the pid file \"%s\" failed (%d: %s)", path, err,
                 strerror(err));
        unlink(path);
        return -1;
    }
    return 0;
}

void lf_pidfile_remove(const char *path)
{
    long pid = pidfile_read(path);
    if (pid != (long)getpid())
        return; /* replaced by someone else, or gone: not ours to remove */
    if (unlink(path) != 0)
        lf_log_errno(LF_LOG_WARN, errno, "unlink(\"%s\") of the pid file failed", path);
}
