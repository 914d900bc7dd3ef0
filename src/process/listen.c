/* listen.c - open the listening socket before any worker starts. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdutil.h"
#include "listen.h"

/* Is fd a socket in the listening state (spawn-fcgi hands one over)? */
int lf_listen_fd_is_listening(int fd)
{
    int val = 0;
    socklen_t len = sizeof(val);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) != 0)
        return 0;
    return val != 0;
}

static int set_flags(int fd, char *errbuf, size_t errlen)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        snprintf(errbuf, errlen, "fcntl(O_NONBLOCK) failed (%d: %s)", errno, strerror(errno));
        return -1;
    }
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) {
        snprintf(errbuf, errlen, "fcntl(FD_CLOEXEC) failed (%d: %s)", errno, strerror(errno));
        return -1;
    }
    /* Small responses must not wait for Nagle.  Set on the listening
     * socket, Linux copies it into every connection accept(2) returns:
     * no syscall per connection. */
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return 0;
}

/* A new socket, never on 0-2 (an --init script may have closed them
 * before a reload opens a new address). */
static int listen_socket(int domain)
{
    int fd = socket(domain, SOCK_STREAM, 0);
    int hi = lf_fd_above_stdio(fd);
    if (hi < 0 && fd >= 0) {
        int err = errno;
        close(fd);
        errno = err;
    }
    return hi;
}

static int adopt_fd(lf_listen_t *ls, int fd, char *errbuf, size_t errlen)
{
    if (!lf_listen_fd_is_listening(fd)) {
        snprintf(errbuf, errlen, "fd %d is not a listening socket", fd);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        ls->is_unix = ss.ss_family == AF_UNIX;
        ls->is_inet6 = ss.ss_family == AF_INET6;
    }
    ls->fd = fd;
    snprintf(ls->name, sizeof(ls->name), "fd:%d", fd);
    return set_flags(fd, errbuf, errlen);
}

/* A unix socket file that nobody answers on is stale and may go. */
static int unix_path_in_use(const struct sockaddr_un *sun)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1; /* cannot tell: do not remove */
    int rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
    int err = errno;
    close(fd);
    if (rc == 0)
        return 1;
    return err != ECONNREFUSED;
}

static int open_unix(lf_listen_t *ls, const char *path, int backlog, char *errbuf, size_t errlen)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(errbuf, errlen, "unix socket path \"%s\" is empty or longer than %zu bytes", path,
                 sizeof(sun.sun_path) - 1);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(errbuf, errlen, "\"%s\" exists and is not a socket", path);
            return -1;
        }
        if (unix_path_in_use(&sun)) {
            snprintf(errbuf, errlen, "unix socket \"%s\" is in use by another process", path);
            return -1;
        }
        if (unlink(path) != 0) {
            snprintf(errbuf, errlen, "unlink(\"%s\") of a stale socket failed (%d: %s)", path, errno,
                     strerror(errno));
            return -1;
        }
    }
    int fd = listen_socket(AF_UNIX);
    if (fd < 0) {
        snprintf(errbuf, errlen, "socket(AF_UNIX) failed (%d: %s)", errno, strerror(errno));
        return -1;
    }
    /* Created 0660 from the start: no window where others may connect. */
    mode_t old = umask(0117);
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    int err = errno;
    umask(old);
    if (rc != 0) {
        snprintf(errbuf, errlen, "bind(unix:%s) failed (%d: %s)", path, err, strerror(err));
        close(fd);
        return -1;
    }
    if (chmod(path, 0660) != 0 || listen(fd, backlog) != 0) {
        snprintf(errbuf, errlen, "listen(unix:%s) failed (%d: %s)", path, errno, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    ls->fd = fd;
    ls->is_unix = 1;
    memcpy(ls->unix_path, path, strlen(path) + 1);
    snprintf(ls->name, sizeof(ls->name), "unix:%s", path);
    if (set_flags(fd, errbuf, errlen) != 0) {
        lf_listen_close(ls, 1);
        return -1;
    }
    return 0;
}

static int open_tcp(lf_listen_t *ls, const char *addr, int backlog, char *errbuf, size_t errlen)
{
    char host[128];
    const char *port;
    if (addr[0] == '[') {
        const char *close_br = strchr(addr, ']');
        if (close_br == NULL || close_br[1] != ':' || (size_t)(close_br - addr - 1) >= sizeof(host)) {
            snprintf(errbuf, errlen, "invalid listen address \"%s\" (expected [v6]:port)", addr);
            return -1;
        }
        memcpy(host, addr + 1, (size_t)(close_br - addr - 1));
        host[close_br - addr - 1] = '\0';
        port = close_br + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (colon == NULL || (size_t)(colon - addr) >= sizeof(host) || strchr(addr, ':') != colon) {
            snprintf(errbuf, errlen, "invalid listen address \"%s\" (expected host:port, [v6]:port, :port, unix:/path or fd:N)", addr);
            return -1;
        }
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || p < 1 || p > 65535) {
        snprintf(errbuf, errlen, "invalid port in listen address \"%s\"", addr);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        snprintf(errbuf, errlen, "cannot resolve listen address \"%s\" (%s)", addr, gai_strerror(gai));
        return -1;
    }
    int fd = listen_socket(res->ai_family);
    if (fd < 0) {
        snprintf(errbuf, errlen, "socket() for \"%s\" failed (%d: %s)", addr, errno, strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        snprintf(errbuf, errlen, "bind(%s) failed (%d: %s)", addr, errno, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    ls->is_inet6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    ls->fd = fd;
    snprintf(ls->name, sizeof(ls->name), "%s", addr);
    if (set_flags(fd, errbuf, errlen) != 0) {
        lf_listen_close(ls, 0);
        return -1;
    }
    return 0;
}

/* systemd socket activation (sd_listen_fds(3)): the number of sockets
 * passed from fd 3 on when $LISTEN_PID is ours, else 0.  The variables
 * are removed either way so that no child takes them for its own. */
static int listen_fds_from_systemd(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    long n = 0;
    if (pid != NULL && fds != NULL) {
        char *end;
        long p = strtol(pid, &end, 10);
        if (*pid != '\0' && *end == '\0' && p == (long)getpid()) {
            n = strtol(fds, &end, 10);
            if (*fds == '\0' || *end != '\0' || n < 0 || n > 1024)
                n = 0;
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    for (int fd = 3; fd < 3 + n; fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0)
            fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    }
    return (int)n;
}

int lf_listen_open(lf_listen_t *ls, const char *addr, int backlog, char *errbuf, size_t errlen)
{
    memset(ls, 0, sizeof(*ls));
    ls->fd = -1;
    int activated = listen_fds_from_systemd();
    if (addr == NULL && activated > 0) {
        if (adopt_fd(ls, 3, errbuf, errlen) != 0)
            return -1;
        snprintf(ls->name, sizeof(ls->name), "fd:3 (systemd)");
        return 0;
    }
    if (addr == NULL) {
        if (lf_listen_fd_is_listening(0))
            return adopt_fd(ls, 0, errbuf, errlen);
        addr = "127.0.0.1:9000";
    }
    if (strncmp(addr, "unix:", 5) == 0)
        return open_unix(ls, addr + 5, backlog, errbuf, errlen);
    if (strncmp(addr, "fd:", 3) == 0) {
        char *end;
        long fd = strtol(addr + 3, &end, 10);
        if (addr[3] == '\0' || *end != '\0' || fd < 0 || fd > 65535) {
            snprintf(errbuf, errlen, "invalid listen address \"%s\" (expected fd:N)", addr);
            return -1;
        }
        return adopt_fd(ls, (int)fd, errbuf, errlen);
    }
    return open_tcp(ls, addr, backlog, errbuf, errlen);
}

void lf_listen_close(lf_listen_t *ls, int unlink_path)
{
    if (ls->fd >= 0)
        close(ls->fd);
    ls->fd = -1;
    if (unlink_path && ls->unix_path[0])
        unlink(ls->unix_path);
    ls->unix_path[0] = '\0';
}
