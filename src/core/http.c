/* http.c - HTTP status reasons and nginx's kind of error page. */
#include "config.h"

#include <stdio.h>

#include "http.h"

typedef struct {
    int status;
    const char *reason;
} lf_status_t;

static const lf_status_t status_reasons[] = {
    {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
    {206, "Partial Content"}, {301, "Moved Permanently"}, {302, "Found"},
    {303, "See Other"}, {304, "Not Modified"}, {307, "Temporary Redirect"},
    {308, "Permanent Redirect"}, {400, "Bad Request"}, {401, "Unauthorized"},
    {402, "Payment Required"}, {403, "Forbidden"}, {404, "Not Found"},
    {405, "Not Allowed"}, {406, "Not Acceptable"}, {408, "Request Time-out"},
    {409, "Conflict"}, {410, "Gone"}, {411, "Length Required"},
    {412, "Precondition Failed"}, {413, "Request Entity Too Large"},
    {414, "Request-URI Too Large"}, {415, "Unsupported Media Type"},
    {416, "Requested Range Not Satisfiable"}, {421, "Misdirected Request"},
    {429, "Too Many Requests"}, {500, "Internal Server Error"},
    {501, "Not Implemented"}, {502, "Bad Gateway"}, {503, "Service Temporarily Unavailable"},
    {504, "Gateway Time-out"}, {505, "HTTP Version Not Supported"},
    {507, "Insufficient Storage"},
};

const char *lf_http_status_reason(int status)
{
    for (size_t i = 0; i < sizeof(status_reasons) / sizeof(status_reasons[0]); i++)
        if (status_reasons[i].status == status)
            return status_reasons[i].reason;
    return NULL;
}

size_t lf_http_error_html(int status, char *buf, size_t len)
{
    const char *reason = lf_http_status_reason(status);
    int n = snprintf(buf, len,
                     "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
                     "<center><h1>%d %s</h1></center>\r\n<hr><center>luafpm</center>\r\n"
                     "</body>\r\n</html>\r\n",
                     status, reason ? reason : "", status, reason ? reason : "");
    if (n < 0)
        return 0;
    return (size_t)n < len ? (size_t)n : len - 1;
}

