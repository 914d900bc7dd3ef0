/* request_body.c - the request body (FastCGI stdin): read on demand by
 * ngx.req.read_body as it arrives (the request waits for the rest, the
 * worker does not), kept in memory up to --body-buffer-size (16k, as
 * OpenResty's default client_body_buffer_size on 64-bit systems) and
 * spooled to a temporary file beyond.
 * Either way memory stays flat whatever the body's size. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fdutil.h"
#include "log.h"
#include "request.h"

#define LF_BODY_CHUNK (64 * 1024)

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int body_spool_open(lf_request_t *r, char *err, size_t errlen)
{
    char *spool_path = r->spool_path;
    int n = snprintf(spool_path, sizeof(r->spool_path), "%s/luafpm-body-XXXXXX", r->conf->tmp_dir);
    if (n < 0 || (size_t)n >= sizeof(r->spool_path)) {
        snprintf(err, errlen, "--tmp-dir \"%s\" is too long", r->conf->tmp_dir);
        return -1;
    }
    int fd = mkostemp(spool_path, O_CLOEXEC);
    if (fd >= 0) {
        /* Not where a stray write to stdout or stderr would land. */
        int high = lf_fd_above_stdio(fd);
        if (high < 0) {
            int e = errno;
            close(fd);
            unlink(spool_path);
            errno = e;
        }
        fd = high;
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file in \"%s\" for the request body (%d: %s)",
                 r->conf->tmp_dir, errno, strerror(errno));
        return -1;
    }
    r->spool_active = 1;
    r->body_fd = fd;
    r->body_path = spool_path;
    /* What is in memory so far moves to the file. */
    if (write_all(fd, r->body.data, r->body.len) != 0) {
        snprintf(err, errlen, "cannot write the request body to \"%s\" (%d: %s)", spool_path, errno,
                 strerror(errno));
        return -1;
    }
    lf_buf_reset(&r->body);
    return 0;
}

/* CONTENT_LENGTH as a number, -1 when absent or not a plain number. */
static long long body_expected_length(lf_request_t *r)
{
    const char *cl = lf_request_param(r, "CONTENT_LENGTH");
    if (cl == NULL || cl[0] < '0' || cl[0] > '9')
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(cl, &end, 10);
    return errno || *end != '\0' ? -1 : v;
}

int lf_body_check_length(lf_request_t *r)
{
    long long max = r->conf->max_body;
    long long expected = max > 0 ? body_expected_length(r) : -1;
    if (expected <= max)
        return 0;
    char req[LF_REQUEST_LOG_TEXT];
    lf_request_log_text(r, req, sizeof(req));
    lf_log(LF_LOG_WARN, "client intended to send too large body: %lld bytes, --max-body is %lld, %s",
           expected, max, req);
    r->body_refused = 1;
    return LF_BODY_TOO_LARGE;
}

/* The body grew past --max-body while it was read: refuse it. */
static int body_too_large(lf_request_t *r, long long expected)
{
    char req[LF_REQUEST_LOG_TEXT], said[64] = "no CONTENT_LENGTH";
    if (expected >= 0)
        snprintf(said, sizeof(said), "CONTENT_LENGTH %lld", expected);
    lf_request_log_text(r, req, sizeof(req));
    lf_log(LF_LOG_WARN, "client sent too large body: more than --max-body %lld bytes (%s), %s",
           r->conf->max_body, said, req);
    r->body_refused = 1;
    return LF_BODY_TOO_LARGE;
}

/* Read what has come of the body: 0 at its end, LF_BODY_AGAIN, -1,
 * LF_BODY_TOO_LARGE. */
static int body_step(lf_request_t *r, char *err, size_t errlen)
{
    long long expected = body_expected_length(r);
    unsigned long long max = r->conf->max_body > 0 ? (unsigned long long)r->conf->max_body : 0;
    unsigned long long limit = (unsigned long long)r->conf->body_buffer_size;
    /* In memory, the codec copies straight into the body buffer; one byte
     * more than the limit allows tells that the body goes to a file. */
    char chunk[LF_BODY_CHUNK];
    long n;
    for (;;) {
        char *dst = chunk;
        size_t room = sizeof(chunk);
        if (r->body_fd < 0) {
            room = (size_t)(limit - r->body.len) + 1;
            if (room > LF_BODY_CHUNK)
                room = LF_BODY_CHUNK;
            if (lf_buf_reserve(&r->body, room) != 0) {
                snprintf(err, errlen, "out of memory reading the request body");
                return -1;
            }
            dst = r->body.data + r->body.len;
        }
        n = lf_fcgi_conn_read_stdin(r->conn, dst, room);
        if (n <= 0)
            break;
        r->body_len += (unsigned long long)n;
        if (max && r->body_len > max)
            return body_too_large(r, expected);
        if (r->body_fd < 0) {
            r->body.len += (size_t)n;
            if (r->body.len > limit && body_spool_open(r, err, errlen) != 0)
                return -1;
        } else if (write_all(r->body_fd, chunk, (size_t)n) != 0) {
            snprintf(err, errlen, "cannot write the request body to \"%s\" (%d: %s)", r->spool_path,
                     errno, strerror(errno));
            return -1;
        }
    }
    if (n == LF_FCGI_STDIN_AGAIN)
        return LF_BODY_AGAIN;
    int e = r->conn->err;
    if (e != 0) {
        snprintf(err, errlen, "reading the request body failed (%d: %s)", e,
                 r->conn->why ? r->conn->why : e > 0 ? strerror(e) : "FastCGI protocol error");
        return -1;
    }
    if (expected >= 0 && r->body_len != (unsigned long long)expected) {
        snprintf(err, errlen, "the request body has %llu bytes but CONTENT_LENGTH says %lld",
                 r->body_len, expected);
        return -1;
    }
    r->body_complete = 1;
    return 0;
}

int lf_body_read(lf_request_t *r, char *err, size_t errlen)
{
    if (r->body_state == LF_BODY_DISCARDED)
        return 0;
    if (r->body_state == LF_BODY_UNREAD) {
        r->body_state = LF_BODY_READ;
        long long expected = body_expected_length(r);
        if (expected >= 0 && (unsigned long long)expected > (unsigned long long)r->conf->body_buffer_size &&
            body_spool_open(r, err, errlen) != 0)
            return -1;
    }
    if (r->body_complete) {
        r->body_hidden = 0; /* read before the handler: shown from now on */
        return 0;
    }
    return body_step(r, err, errlen);
}

void lf_body_discard(lf_request_t *r)
{
    if (r->body_state == LF_BODY_DISCARDED || (r->body_state == LF_BODY_READ && !r->body_hidden))
        return;
    /* What is left of stdin is read away when the handler is done. */
    r->body_state = LF_BODY_DISCARDED;
    r->body_hidden = 0;
    lf_buf_reset(&r->body);
}

void lf_body_done(lf_request_t *r)
{
    if (r->body_fd >= 0) {
        if (close(r->body_fd) != 0)
            lf_log_errno(LF_LOG_WARN, errno, "close(\"%s\") failed", r->spool_path);
        r->body_fd = -1;
    }
    if (r->body_path != NULL) {
        r->spool_active = 0;
        if (unlink(r->spool_path) != 0 && errno != ENOENT)
            lf_log_errno(LF_LOG_WARN, errno, "cannot remove the request body file \"%s\"", r->spool_path);
        r->body_path = NULL;
    }
    lf_buf_reset(&r->body);
    lf_buf_shrink(&r->body, 64 * 1024); /* a large --body-buffer-size is not held for good */
}

void lf_body_unlink_on_kill(void)
{
    for (lf_request_t *r = lf_request_inflight; r; r = r->next)
        if (r->spool_active)
            unlink(r->spool_path);
}
