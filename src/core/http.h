/* http.h - HTTP status reasons and error pages, as nginx words them. */
#ifndef LF_HTTP_H
#define LF_HTTP_H

#include <stddef.h>

/* "Not Found" for 404; NULL for a status nginx has no reason for. */
const char *lf_http_status_reason(int status);
/* nginx's kind of error page for status into buf (NUL-terminated), with
 * luafpm in the footer; its length. */
size_t lf_http_error_html(int status, char *buf, size_t len);

#endif
