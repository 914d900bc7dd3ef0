/* notify.c - one datagram to $NOTIFY_SOCKET (a path, or "@name" for an
 * abstract socket), which is all sd_notify(3) does for a Type=notify unit. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

void lf_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0')
        return;
    struct sockaddr_un sun;
    size_t plen = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path)) {
        lf_log(LF_LOG_WARN, "NOTIFY_SOCKET=\"%s\" is not a socket path or @name, ignored", path);
        return;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, plen);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
    if (path[0] == '@')
        sun.sun_path[0] = '\0'; /* abstract: the length counts, no trailing NUL */
    else
        alen++;

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        lf_log_errno(LF_LOG_ALERT, errno, "socket(AF_UNIX, SOCK_DGRAM) for NOTIFY_SOCKET failed");
        return;
    }
    ssize_t n;
    do
        n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, alen);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        lf_log_errno(LF_LOG_WARN, errno, "sendto(NOTIFY_SOCKET=%s) failed", path);
    else if (LF_LOG_DEBUG <= lf_log_level) {
        char esc[256];
        lf_log_escape(esc, sizeof(esc), state, strlen(state));
        lf_log(LF_LOG_DEBUG, "sent \"%s\" to NOTIFY_SOCKET", esc);
    }
    close(fd);
}
