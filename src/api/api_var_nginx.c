/* api_var_nginx.c - the ngx.var variables nginx computes itself instead of
 * passing them as FastCGI params: the process, the clock, the response
 * so far, the connection's address in binary; and the list of nginx's
 * built-in variable names, for the error a write to one of them gets. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>

#include "api.h"
#include "clock.h"

/* nginx's own variables (ngx_http_core_variables, 1.22, without the
 * prefix ones): a write to one is 'variable "x" not changeable'; args and
 * limit_rate are the writable ones. */
static const char *const nginx_variables[] = {
    "http_host", "http_user_agent", "http_referer", "http_via", "http_x_forwarded_for",
    "http_cookie", "content_length", "content_type", "host", "binary_remote_addr",
    "remote_addr", "remote_port", "proxy_protocol_addr", "proxy_protocol_port",
    "proxy_protocol_server_addr", "proxy_protocol_server_port", "server_addr", "server_port",
    "server_protocol", "scheme", "https", "request_uri", "uri", "document_uri", "request",
    "document_root", "realpath_root", "query_string", "args", "is_args", "request_filename",
    "server_name", "request_method", "remote_user", "bytes_sent", "body_bytes_sent", "pipe",
    "request_completion", "request_body", "request_body_file", "request_length",
    "request_time", "request_id", "status", "sent_http_content_type",
    "sent_http_content_length", "sent_http_location", "sent_http_last_modified",
    "sent_http_connection", "sent_http_keep_alive", "sent_http_transfer_encoding",
    "sent_http_cache_control", "sent_http_link", "limit_rate", "connection",
    "connection_requests", "connection_time", "nginx_version", "hostname", "pid", "msec",
    "time_iso8601", "time_local", "tcpinfo_rtt", "tcpinfo_rttvar", "tcpinfo_snd_cwnd",
    "tcpinfo_rcv_space", NULL,
};

int lf_api_var_is_nginx(const char *name)
{
    for (const char *const *v = nginx_variables; *v; v++)
        if (strcmp(*v, name) == 0)
            return 1;
    return 0;
}

/* The cached clock as nginx's "%T.%03M" (seconds and milliseconds). */
static int var_msec(lua_State *L, double t)
{
    long long ms = (long long)(t * 1000 + 0.5);
    char buf[48];
    snprintf(buf, sizeof(buf), "%lld.%03lld", ms / 1000, ms % 1000);
    lua_pushstring(L, buf);
    return 1;
}

/* time_local ("01/Dec/2026:09:32:31 +0000") or time_iso8601
 * ("2026-12-01T09:32:31+00:00") of the cached clock, in local time. */
static int var_time(lua_State *L, int iso)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)lf_clock_now();
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL)
        return 0;
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    off = off < 0 ? -off : off;
    char buf[64];
    if (iso)
        snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, sign, off / 60, off % 60);
    else
        snprintf(buf, sizeof(buf), "%02d/%s/%d:%02d:%02d:%02d %c%02ld%02ld", tm.tm_mday,
                 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 sign, off / 60, off % 60);
    lua_pushstring(L, buf);
    return 1;
}

/* $hostname: gethostname(), lower-cased as nginx does at start. */
static int var_hostname(lua_State *L)
{
    char name[HOST_NAME_MAX + 1];
    if (gethostname(name, sizeof(name)) != 0)
        return 0;
    name[sizeof(name) - 1] = '\0';
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    lua_pushstring(L, name);
    return 1;
}

/* $binary_remote_addr: REMOTE_ADDR as 4 or 16 bytes. */
static int var_binary_addr(lua_State *L, lf_request_t *r)
{
    const char *a = lf_request_param(r, "REMOTE_ADDR");
    unsigned char bin[16];
    if (a == NULL)
        return 0;
    if (inet_pton(AF_INET, a, bin) == 1) {
        lua_pushlstring(L, (const char *)bin, 4);
        return 1;
    }
    if (inet_pton(AF_INET6, a, bin) == 1) {
        lua_pushlstring(L, (const char *)bin, 16);
        return 1;
    }
    return 0;
}

/* $sent_http_NAME: the response header as set so far ('_' is '-'), the
 * first one of a repeated name; Content-Type falls back to the default
 * type once the headers are out. */
static int var_sent_header(lua_State *L, lf_request_t *r, const char *name, size_t len)
{
    char h[256];
    if (len >= sizeof(h))
        return 0;
    for (size_t i = 0; i < len; i++)
        h[i] = name[i] == '_' ? '-' : name[i];
    h[len] = '\0';
    long i = lf_headers_find(&r->headers, h, len, 0);
    if (i >= 0) {
        lua_pushlstring(L, lf_header_value(&r->headers, (size_t)i), r->headers.v[i].value_len);
        return 1;
    }
    if (strcmp(h, "content-type") == 0 && r->headers_sent && r->status != 204) {
        lua_pushliteral(L, "text/plain");
        return 1;
    }
    return 0;
}

/* What a sandboxed script does not see, as it gets no ngx.worker and no
 * ngx.req.get_body_file (doc/sandbox.md): the process and paths. */
static const char *const sandbox_hidden[] = {
    "pid", "hostname", "realpath_root", "request_body_file", NULL,
};

int lf_api_var_nginx(lua_State *L, lf_request_t *r, const char *name, size_t len)
{
    for (const char *const *h = sandbox_hidden; r->sandboxed && *h; h++)
        if (strcmp(*h, name) == 0)
            return 0;
    if (strcmp(name, "pid") == 0) {
        lua_pushfstring(L, "%d", (int)getpid());
        return 1;
    }
    if (strcmp(name, "hostname") == 0)
        return var_hostname(L);
    if (strcmp(name, "nginx_version") == 0) {
        /* The web server's, from Debian's and nginx's SERVER_SOFTWARE. */
        const char *s = lf_request_param(r, "SERVER_SOFTWARE");
        if (s == NULL || strncmp(s, "nginx/", 6) != 0)
            return 0;
        lua_pushstring(L, s + 6);
        return 1;
    }
    if (strcmp(name, "msec") == 0)
        return var_msec(L, lf_clock_now());
    if (strcmp(name, "request_time") == 0) {
        double d = lf_clock_now() - r->start_time;
        return var_msec(L, d > 0 ? d : 0);
    }
    if (strcmp(name, "time_local") == 0)
        return var_time(L, 0);
    if (strcmp(name, "time_iso8601") == 0)
        return var_time(L, 1);
    if (strcmp(name, "status") == 0) {
        int status = r->status ? r->status : r->headers_sent ? 200 : 0;
        char buf[16];
        snprintf(buf, sizeof(buf), "%03d", status);
        lua_pushstring(L, buf);
        return 1;
    }
    if (strcmp(name, "binary_remote_addr") == 0)
        return var_binary_addr(L, r);
    if (strcmp(name, "https") == 0) {
        const char *h = lf_request_param(r, "HTTPS");
        if (h && strcasecmp(h, "on") == 0)
            lua_pushliteral(L, "on");
        else
            lua_pushliteral(L, "");
        return 1;
    }
    if (strcmp(name, "realpath_root") == 0) {
        const char *root = lf_request_param(r, "DOCUMENT_ROOT");
        char real[PATH_MAX];
        if (root == NULL || realpath(root, real) == NULL)
            return 0;
        lua_pushstring(L, real);
        return 1;
    }
    if (strcmp(name, "request_body") == 0) {
        /* What ngx.req.read_body() kept in memory, as in nginx. */
        if (r->body_state != LF_BODY_READ || r->body_fd >= 0 || r->body.len == 0)
            return 0;
        lua_pushlstring(L, r->body.data, r->body.len);
        return 1;
    }
    if (strcmp(name, "request_body_file") == 0) {
        if (r->body_path == NULL)
            return 0;
        lua_pushstring(L, r->body_path);
        return 1;
    }
    if (len > 10 && strncmp(name, "sent_http_", 10) == 0)
        return var_sent_header(L, r, name + 10, len - 10);
    return -1;
}
