/* fdutil.h - descriptors 0, 1 and 2 stay stdin, stdout and stderr: luafpm's
 * own descriptors (the log, connections, files) live from 3 up, so that a
 * handler that closes 0-2 cannot make a client's stream or the log the
 * target of another library's writes to stdout or stderr. */
#ifndef LF_FDUTIL_H
#define LF_FDUTIL_H

/* At start: /dev/null on whichever of 0, 1, 2 is not open (an open one,
 * spawn-fcgi's listening socket on 0 say, is left alone).  0, or -1 with
 * errno. */
int lf_fd_stdio_init(void);

/* fd when it is >= 3 (or < 0).  Otherwise a new descriptor >= 3 for the
 * same open file, with fd's close-on-exec flag, and /dev/null put in fd's
 * place so that the low number stays taken (nothing else lands there and
 * stray writes to it go nowhere).  -1 with errno when no descriptor is
 * free; fd is then left as it was. */
int lf_fd_above_stdio(int fd);

#endif
