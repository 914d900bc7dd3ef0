/* pidfile.h - --pid FILE: written once the socket is open, removed at exit. */
#ifndef LF_PIDFILE_H
#define LF_PIDFILE_H

#include <stddef.h>

/* -1 with the reason in errbuf when path names a running luafpm (another
 * process, of the same program); a missing or stale file is fine. */
int lf_pidfile_check(const char *path, char *errbuf, size_t errlen);

/* Write our pid to path (created 0644, replaced if it exists). */
int lf_pidfile_write(const char *path, char *errbuf, size_t errlen);

/* Remove path if it still holds our pid; a failure is logged. */
void lf_pidfile_remove(const char *path);

#endif
