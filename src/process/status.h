/* status.h - the status and ping pages (--status-path, --ping-path). */
#ifndef LF_STATUS_H
#define LF_STATUS_H

#include "fcgi_conn.h"
#include "request.h"

#include "buf.h"
#include "conf.h"

enum { LF_PAGE_NONE = 0, LF_PAGE_PING, LF_PAGE_STATUS };

/* Which page the request's path names, matched exactly against
 * --ping-path and --status-path (LF_PAGE_NONE: a script). */
int lf_status_page(const char *path, const lf_conf_t *conf);

/* The page's body into out, with its content type; -1 out of memory. */
int lf_status_render(lf_buf_t *out, int page, const char *query, int listen_fd,
                     const char **content_type);

/* The page an accepted request names (SCRIPT_NAME, else DOCUMENT_URI). */
int lf_status_request_page(const lf_fcgi_conn_t *conn, const lf_conf_t *conf);
/* Its response, written into the request (which sends it as any other). */
void lf_status_respond(lf_request_t *r, int page, int listen_fd);

#endif
