/* notify.h - systemd's readiness protocol (sd_notify), without libsystemd. */
#ifndef LF_NOTIFY_H
#define LF_NOTIFY_H

/* Send state ("READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...", or
 * several joined by newlines) to $NOTIFY_SOCKET, when it is set; failures
 * are logged, not returned: the service goes on either way. */
void lf_notify(const char *state);

#endif
