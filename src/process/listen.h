/* listen.h - the listening socket: tcp, tcp6, unix, or an inherited fd. */
#ifndef LF_LISTEN_H
#define LF_LISTEN_H

#include <stddef.h>

typedef struct {
    int fd;
    int is_unix;
    int is_inet6;
    char unix_path[108]; /* sizeof(sun_path): removed at exit */
    char name[160];      /* for logs */
} lf_listen_t;

/* Open (or adopt) the socket named by addr; NULL is the default: the first
 * socket systemd passes ($LISTEN_FDS, fd 3), else fd 0 when it listens
 * (spawn-fcgi), else 127.0.0.1:9000.  Errors go into errbuf. */
int lf_listen_open(lf_listen_t *ls, const char *addr, int backlog, char *errbuf, size_t errlen);
void lf_listen_close(lf_listen_t *ls, int unlink_path);
int lf_listen_fd_is_listening(int fd);

#endif
