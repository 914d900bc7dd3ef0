/* status.c - the status and ping pages (--status-path, --ping-path),
 * answered by the worker from the shared scoreboard without running Lua.
 * The figures and their names follow php-fpm's status page, so existing
 * dashboards and habits carry over; ?json, ?openmetrics and ?full as there. */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "request.h"
#include "scoreboard.h"
#include "shm_set.h"
#include "status.h"

typedef enum { FMT_TEXT, FMT_JSON, FMT_OPENMETRICS } lf_status_fmt_t;

typedef struct {
    uint64_t accepted, slow, skipped;
    uint32_t max_active;
    int idle, active, total;
    long queue, queue_len;    /* -1: the OS does not tell */
    double start;
} lf_pool_t;

static const char *state_name(uint32_t state)
{
    switch (state) {
    case LF_SB_STARTING:
        return "Starting";
    case LF_SB_IDLE:
        return "Idle";
    case LF_SB_BUSY:
        return "Running";
    case LF_SB_STOPPING:
        return "Finishing";
    default:
        return "Free";
    }
}

/* The accept queue of a TCP listening socket: Linux reports the current
 * length in tcpi_unacked and the limit in tcpi_sacked. */
static void listen_queue(int fd, long *queue, long *len)
{
    *queue = *len = -1;
#ifdef TCP_INFO
    struct tcp_info info;
    socklen_t sl = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &sl) == 0) {
        *queue = (long)info.tcpi_unacked;
        *len = (long)info.tcpi_sacked;
    }
#else
    (void)fd;
#endif
}

static void pool_read(lf_pool_t *p, int listen_fd)
{
    memset(p, 0, sizeof(*p));
    p->accepted = __atomic_load_n(&lf_sb->accepted, __ATOMIC_RELAXED);
    p->slow = __atomic_load_n(&lf_sb->slow_requests, __ATOMIC_RELAXED);
    p->skipped = __atomic_load_n(&lf_sb->skipped_requests, __ATOMIC_RELAXED);
    p->max_active = __atomic_load_n(&lf_sb->max_active, __ATOMIC_RELAXED);
    p->start = lf_sb->start_time;
    for (int i = 0; i < LF_SB_SLOTS; i++) {
        uint32_t st = __atomic_load_n(&lf_sb->slots[i].state, __ATOMIC_RELAXED);
        if (st == LF_SB_FREE)
            continue;
        p->total++;
        p->idle += st == LF_SB_IDLE;
        p->active += st == LF_SB_BUSY;
    }
    listen_queue(listen_fd, &p->queue, &p->queue_len);
}

/* The next worker slot in use after *i (start with -1): a consistent copy
 * in s; 0 at the end. */
static int next_worker(int *i, lf_sb_slot_t *s)
{
    while (++*i < LF_SB_SLOTS) {
        if (__atomic_load_n(&lf_sb->slots[*i].state, __ATOMIC_RELAXED) == LF_SB_FREE)
            continue;
        lf_sb_read(*i, s);
        if (s->state != LF_SB_FREE)
            return 1;
    }
    return 0;
}

static void append_time(lf_buf_t *b, double t)
{
    char s[64];
    time_t secs = (time_t)t;
    struct tm tm;
    if (localtime_r(&secs, &tm) == NULL || strftime(s, sizeof(s), "%d/%b/%Y:%H:%M:%S %z", &tm) == 0)
        snprintf(s, sizeof(s), "%.0f", t);
    lf_buf_append(b, s, strlen(s));
}

/* JSON string contents: quotes, backslashes and control bytes escaped. */
static void append_json(lf_buf_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            lf_buf_appendf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            lf_buf_appendf(b, "\\u%04x", c);
        else
            lf_buf_append(b, s, 1);
    }
}

/* OpenMetrics label values: backslash, quote and newline escaped. */
static void append_label(lf_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            lf_buf_appendf(b, "\\%c", *s);
        else if (*s == '\n')
            lf_buf_append(b, "\\n", 2);
        else
            lf_buf_append(b, s, 1);
    }
}

static double slot_duration(const lf_sb_slot_t *s, double now)
{
    return s->state == LF_SB_BUSY ? now - s->request_start : s->last_duration;
}

/* Each --shared-dict zone of this worker's generation: capacity, free
 * space (whole 4k pages, as free_space()) and items stored. */
static void render_dicts_text(lf_buf_t *b, int check)
{
    const lf_dict_set_t *set = lf_dict_set_current;
    for (int i = 0; set && i < set->n; i++) {
        lf_dict_stats_t st;
        lf_dict_stats(set->dicts[i], &st);
        lf_buf_appendf(b, "shared dict:          %s capacity %zu free space %zu items %zu recovered %u\n",
                       set->dicts[i]->name, st.capacity, st.free_space, st.items, st.recoveries);
        if (check) {
            const char *bad = lf_dict_check(set->dicts[i]);
            lf_buf_appendf(b, "shared dict check:    %s %s\n", set->dicts[i]->name, bad ? bad : "ok");
        }
    }
}

static void render_dicts_json(lf_buf_t *b, int check)
{
    const lf_dict_set_t *set = lf_dict_set_current;
    lf_buf_appendf(b, ",\"shared dicts\":[");
    for (int i = 0; set && i < set->n; i++) {
        lf_dict_stats_t st;
        lf_dict_stats(set->dicts[i], &st);
        lf_buf_appendf(b, "%s{\"name\":\"", i ? "," : "");
        append_json(b, set->dicts[i]->name);
        lf_buf_appendf(b, "\",\"capacity\":%zu,\"free space\":%zu,\"items\":%zu,\"recovered\":%u",
                       st.capacity, st.free_space, st.items, st.recoveries);
        if (check) {
            const char *bad = lf_dict_check(set->dicts[i]);
            lf_buf_appendf(b, ",\"check\":\"%s\"", bad ? bad : "ok");
        }
        lf_buf_appendf(b, "}");
    }
    lf_buf_appendf(b, "]");
}

static void render_dicts_openmetrics(lf_buf_t *b)
{
    const lf_dict_set_t *set = lf_dict_set_current;
    if (set == NULL || set->n == 0)
        return;
    static const char *const names[] = {"shared_dict_capacity_bytes", "shared_dict_free_bytes",
                                        "shared_dict_items"};
    static const char *const helps[] = {"The zone's size.", "Free space, in whole 4 KiB pages.",
                                        "Items stored, expired ones not yet removed included."};
    lf_dict_stats_t st[64];
    int n = set->n < 64 ? set->n : 64;
    for (int i = 0; i < n; i++)
        lf_dict_stats(set->dicts[i], &st[i]);
    for (int m = 0; m < 3; m++) {
        lf_buf_appendf(b, "# TYPE luafpm_%s gauge\n# HELP luafpm_%s %s\n", names[m], names[m], helps[m]);
        for (int i = 0; i < n; i++) {
            lf_buf_appendf(b, "luafpm_%s{dict=\"", names[m]);
            append_label(b, set->dicts[i]->name);
            lf_buf_appendf(b, "\"} %zu\n", m == 0 ? st[i].capacity : m == 1 ? st[i].free_space : st[i].items);
        }
    }
}

static void render_text(lf_buf_t *b, const lf_pool_t *p, int full, int check, double now)
{
    lf_buf_appendf(b, "pool:                 luafpm\nprocess manager:      static\nstart time:           ");
    append_time(b, p->start);
    lf_buf_appendf(b, "\nstart since:          %.0f\naccepted conn:        %llu\n", now - p->start,
                   (unsigned long long)p->accepted);
    lf_buf_appendf(b, "listen queue:         %ld\nlisten queue len:     %ld\n", p->queue, p->queue_len);
    lf_buf_appendf(b,
                   "idle processes:       %d\nactive processes:     %d\ntotal processes:      %d\n"
                   "max active processes: %u\nslow requests:        %llu\n"
                   "skipped requests:     %llu\n",
                   p->idle, p->active, p->total, p->max_active, (unsigned long long)p->slow,
                   (unsigned long long)p->skipped);
    render_dicts_text(b, check);
    if (!full)
        return;
    lf_sb_slot_t s;
    for (int i = -1; next_worker(&i, &s);) {
        lf_buf_appendf(b, "\n************************\npid:                  %d\nid:                   %d\n"
                          "generation:           %u\nstate:                %s\nstart time:           ",
                       s.pid, s.id, s.gen, state_name(s.state));
        append_time(b, s.started);
        lf_buf_appendf(b, "\nstart since:          %.0f\nrequests:             %llu\n"
                          "connections:          %u\n"
                          "request duration:     %.0f\nrequest method:       %s\n"
                          "request URI:          %s\nscript:               %s\n"
                          "last request memory:  %llu\n",
                       now - s.started, (unsigned long long)s.requests, s.connections,
                       slot_duration(&s, now) * 1e6, s.method[0] ? s.method : "-",
                       s.uri[0] ? s.uri : "-", s.script[0] ? s.script : "-",
                       (unsigned long long)s.lua_heap);
        /* Every request in flight: duration (us), method, URI, script. */
        lf_buf_appendf(b, "requests in flight:   %u\n", s.inflight);
        unsigned listed = 0;
        for (int k = 0; k < LF_SB_REQS; k++) {
            const lf_sb_req_t *e = &s.reqs[k];
            if (e->start <= 0)
                continue;
            listed++;
            lf_buf_appendf(b, "in flight:            %.0f %s %s %s\n", (now - e->start) * 1e6,
                           e->method[0] ? e->method : "-", e->uri[0] ? e->uri : "-",
                           e->script[0] ? e->script : "-");
        }
        if (s.inflight > listed)
            lf_buf_appendf(b, "in flight:            (%u more not listed)\n", s.inflight - listed);
    }
}

static void render_json(lf_buf_t *b, const lf_pool_t *p, int full, int check, double now)
{
    lf_buf_appendf(b,
                   "{\"pool\":\"luafpm\",\"process manager\":\"static\",\"start time\":%.0f,"
                   "\"start since\":%.0f,\"accepted conn\":%llu,\"listen queue\":%ld,"
                   "\"listen queue len\":%ld,\"idle processes\":%d,\"active processes\":%d,"
                   "\"total processes\":%d,\"max active processes\":%u,\"slow requests\":%llu,"
                   "\"skipped requests\":%llu",
                   p->start, now - p->start, (unsigned long long)p->accepted, p->queue, p->queue_len,
                   p->idle, p->active, p->total, p->max_active, (unsigned long long)p->slow,
                   (unsigned long long)p->skipped);
    render_dicts_json(b, check);
    if (full) {
        lf_buf_appendf(b, ",\"processes\":[");
        int first = 1;
        lf_sb_slot_t s;
        for (int i = -1; next_worker(&i, &s);) {
            lf_buf_appendf(b, "%s{\"pid\":%d,\"id\":%d,\"generation\":%u,\"state\":\"%s\","
                              "\"start time\":%.0f,\"start since\":%.0f,\"requests\":%llu,"
                              "\"connections\":%u,\"request duration\":%.0f,\"request method\":\"",
                           first ? "" : ",", s.pid, s.id, s.gen, state_name(s.state), s.started,
                           now - s.started, (unsigned long long)s.requests, s.connections,
                           slot_duration(&s, now) * 1e6);
            append_json(b, s.method);
            lf_buf_appendf(b, "\",\"request uri\":\"");
            append_json(b, s.uri);
            lf_buf_appendf(b, "\",\"script\":\"");
            append_json(b, s.script);
            lf_buf_appendf(b, "\",\"last request memory\":%llu,\"requests in flight\":%u,\"in flight\":[",
                           (unsigned long long)s.lua_heap, s.inflight);
            int first_req = 1;
            for (int k = 0; k < LF_SB_REQS; k++) {
                const lf_sb_req_t *e = &s.reqs[k];
                if (e->start <= 0)
                    continue;
                lf_buf_appendf(b, "%s{\"request duration\":%.0f,\"request method\":\"",
                               first_req ? "" : ",", (now - e->start) * 1e6);
                append_json(b, e->method);
                lf_buf_appendf(b, "\",\"request uri\":\"");
                append_json(b, e->uri);
                lf_buf_appendf(b, "\",\"script\":\"");
                append_json(b, e->script);
                lf_buf_appendf(b, "\"}");
                first_req = 0;
            }
            lf_buf_appendf(b, "]}");
            first = 0;
        }
        lf_buf_appendf(b, "]");
    }
    lf_buf_appendf(b, "}\n");
}

static void metric(lf_buf_t *b, const char *name, const char *type, const char *help, double v)
{
    lf_buf_appendf(b, "# TYPE luafpm_%s %s\n# HELP luafpm_%s %s\nluafpm_%s%s %.17g\n", name, type,
                   name, help, name, strcmp(type, "counter") == 0 ? "_total" : "", v);
}

static void render_openmetrics(lf_buf_t *b, const lf_pool_t *p, int full, double now)
{
    metric(b, "start_time_seconds", "gauge", "When the master started (Unix time).", p->start);
    metric(b, "accepted_connections", "counter", "Requests accepted by the workers.", (double)p->accepted);
    if (p->queue >= 0) {
        metric(b, "listen_queue", "gauge", "Connections waiting in the accept queue.", (double)p->queue);
        metric(b, "listen_queue_length", "gauge", "The accept queue's limit.", (double)p->queue_len);
    }
    metric(b, "idle_processes", "gauge", "Workers waiting for a request.", p->idle);
    metric(b, "active_processes", "gauge", "Workers serving a request.", p->active);
    metric(b, "total_processes", "gauge", "Workers, old generations included.", p->total);
    metric(b, "max_active_processes", "gauge", "The most workers serving at once since the start.",
           p->max_active);
    metric(b, "slow_requests", "counter", "Requests that went over --slowlog-timeout.", (double)p->slow);
    metric(b, "skipped_requests", "counter",
           "Requests not run: their web server had closed the connection before they started.",
           (double)p->skipped);
    render_dicts_openmetrics(b);
    if (full) {
        static const char *const names[] = {"process_requests", "process_request_duration_seconds",
                                            "process_lua_heap_bytes", "process_state"};
        static const char *const types[] = {"counter", "gauge", "gauge", "stateset"};
        static const char *const helps[] = {"Requests served by the worker.",
                                            "The current request's duration, or the last one's.",
                                            "Lua heap after the worker's last request.",
                                            "The worker's state."};
        for (int m = 0; m < 4; m++) {
            lf_buf_appendf(b, "# TYPE luafpm_%s %s\n# HELP luafpm_%s %s\n", names[m], types[m],
                           names[m], helps[m]);
            lf_sb_slot_t s;
            for (int i = -1; next_worker(&i, &s);) {
                if (m == 3) {
                    for (uint32_t st = LF_SB_STARTING; st <= LF_SB_STOPPING; st++)
                        lf_buf_appendf(b, "luafpm_process_state{pid=\"%d\",id=\"%d\",luafpm_process_state=\"%s\"} %d\n",
                                       s.pid, s.id, state_name(st), s.state == st);
                    continue;
                }
                lf_buf_appendf(b, "luafpm_%s%s{pid=\"%d\",id=\"%d\",script=\"", names[m],
                               m == 0 ? "_total" : "", s.pid, s.id);
                append_label(b, s.script);
                if (m == 0)
                    lf_buf_appendf(b, "\"} %llu\n", (unsigned long long)s.requests);
                else if (m == 1)
                    lf_buf_appendf(b, "\"} %.6f\n", slot_duration(&s, now));
                else
                    lf_buf_appendf(b, "\"} %llu\n", (unsigned long long)s.lua_heap);
            }
        }
    }
    lf_buf_appendf(b, "# EOF\n");
}

/* Does the query string ask for flag (a bare "json", "full", ...)? */
static int query_has(const char *q, const char *flag)
{
    size_t n = strlen(flag);
    for (const char *p = q; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if ((len == n && memcmp(p, flag, n) == 0) ||
            (len > n && memcmp(p, flag, n) == 0 && p[n] == '='))
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int lf_status_page(const char *path, const lf_conf_t *conf)
{
    if (path == NULL)
        return LF_PAGE_NONE;
    if (conf->ping_path && strcmp(path, conf->ping_path) == 0)
        return LF_PAGE_PING;
    if (conf->status_path && strcmp(path, conf->status_path) == 0)
        return LF_PAGE_STATUS;
    return LF_PAGE_NONE;
}

int lf_status_render(lf_buf_t *out, int page, const char *query, int listen_fd,
                     const char **content_type)
{
    lf_buf_reset(out);
    if (page == LF_PAGE_PING) {
        *content_type = "text/plain";
        return lf_buf_append(out, "pong\n", 5);
    }
    if (lf_sb == NULL) {
        *content_type = "text/plain";
        return lf_buf_appendf(out, "no status: the scoreboard is not available\n");
    }
    lf_pool_t pool;
    pool_read(&pool, listen_fd);
    double now = lf_sb_now();
    int full = query_has(query, "full");
    /* ?check walks every zone under its lock (lf_dict_check): a debug aid. */
    int check = query_has(query, "check");
    if (query_has(query, "json")) {
        *content_type = "application/json";
        render_json(out, &pool, full, check, now);
    } else if (query_has(query, "openmetrics")) {
        *content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        render_openmetrics(out, &pool, full, now);
    } else {
        *content_type = "text/plain";
        render_text(out, &pool, full, check, now);
    }
    return 0;
}

/* A param of the connection's request, or NULL. */
static const char *status_param(const lf_fcgi_conn_t *conn, const char *name)
{
    return lf_fcgi_conn_param(conn, name, strlen(name));
}

int lf_status_request_page(const lf_fcgi_conn_t *conn, const lf_conf_t *conf)
{
    if (conf->status_path == NULL && conf->ping_path == NULL)
        return LF_PAGE_NONE;
    int page = lf_status_page(status_param(conn, "SCRIPT_NAME"), conf);
    if (page == LF_PAGE_NONE)
        page = lf_status_page(status_param(conn, "DOCUMENT_URI"), conf);
    return page;
}

void lf_status_respond(lf_request_t *r, int page, int listen_fd)
{
    static lf_buf_t body;

    const char *type = "text/plain";
    if (lf_status_render(&body, page, lf_request_param(r, "QUERY_STRING"), listen_fd, &type) != 0 ||
        body.oom) {
        lf_log(LF_LOG_ERR, "out of memory rendering the status page");
        lf_buf_reset(&body);
        lf_request_error_page(r, 500);
        return;
    }
    lf_headers_add(&r->headers, "Content-Type", 12, type, strlen(type));
    lf_headers_add(&r->headers, "Cache-Control", 13, "no-cache, no-store, must-revalidate", 35);
    lf_headers_add(&r->headers, "Expires", 7, "Thu, 01 Jan 1970 00:00:00 GMT", 29);
    /* The request copies what it sends or queues. */
    lf_request_write(r, body.data ? body.data : "", body.len);
    lf_buf_reset(&body);
    lf_buf_shrink(&body, 64 * 1024);
}
