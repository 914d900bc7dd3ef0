/* fdutil.c - keep luafpm's descriptors out of 0-2 (see fdutil.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fdutil.h"

/* /dev/null on descriptor fd, which the caller knows to be free or
 * wants replaced; 0 or -1 with errno. */
static int fd_null_on(int fd)
{
    int n = open("/dev/null", O_RDWR);
    if (n < 0)
        return -1;
    if (n == fd)
        return 0;
    int rc = dup2(n, fd) < 0 ? -1 : 0;
    int err = errno;
    close(n);
    errno = err;
    return rc;
}

int lf_fd_stdio_init(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && fd_null_on(fd) != 0)
            return -1;
    return 0;
}

int lf_fd_above_stdio(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0)
        return -1;
    int hi = fcntl(fd, (flags & FD_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 3);
    if (hi < 0)
        return -1;
    /* dup2 closes fd's old entry; without /dev/null it is simply closed. */
    if (fd_null_on(fd) != 0)
        close(fd);
    return hi;
}
