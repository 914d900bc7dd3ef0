/* conf.c - the option table and everything it drives. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"

typedef enum {
    LF_OPT_FLAG,   /* no value */
    LF_OPT_STRING,
    LF_OPT_INT,
    LF_OPT_SIZE,   /* bytes, with an optional k, m or g suffix */
    LF_OPT_SECONDS, /* a duration: 1.5, 500ms, 2s, 1m; stored in a double */
    LF_OPT_ONOFF,
    LF_OPT_LEVEL,
    LF_OPT_DICT,   /* NAME:SIZE, repeatable: appended to a lf_conf_dict_t list */
} lf_opt_type_t;

typedef struct {
    const char *name;
    int short_name;
    lf_opt_type_t type;
    size_t offset;
    const char *arg;   /* placeholder shown in --help */
    long long min, max; /* for LF_OPT_INT and LF_OPT_SIZE */
    int in_file;       /* may appear in a config file */
    const char *help;
} lf_option_t;

#define OFF(field) offsetof(lf_conf_t, field)

static const lf_option_t options[] = {
    {"listen", 'l', LF_OPT_STRING, OFF(listen), "ADDR", 0, 0, 1,
     "host:port | [v6]:port | :port | unix:/path | fd:N (default: the socket systemd passes, else fd 0 if it is a listening socket, else 127.0.0.1:9000)"},
    {"backlog", 0, LF_OPT_INT, OFF(backlog), "N", 1, INT_MAX, 1,
     "listen queue length (default 511)"},
    {"workers", 'w', LF_OPT_INT, OFF(workers), "N", 0, 1024, 1,
     "worker processes (default 2); 0 = serve in this process, no master"},
    {"read-timeout", 0, LF_OPT_SECONDS, OFF(read_timeout), "SECONDS", 1, 86400, 1,
     "how long a worker waits for more of a request from the web server (a record, the params, the body) before it closes the connection (default 60, as nginx's client_body_timeout)"},
    {"send-timeout", 0, LF_OPT_SECONDS, OFF(send_timeout), "SECONDS", 1, 86400, 1,
     "how long a worker waits for the web server to take more of a response before it gives the response up (default 60, as nginx's fastcgi_send_timeout)"},
    {"worker-connections", 0, LF_OPT_INT, OFF(worker_connections), "N", 1, 1048576, 1,
     "FastCGI connections one worker holds, idle kept-alive ones included; at N it stops accepting and the other workers take new connections (default 1024, as nginx's worker_connections)"},
    {"max-pending-timers", 0, LF_OPT_INT, OFF(max_pending_timers), "N", 1, 1048576, 1,
     "ngx.timer timers one worker holds waiting to run; past N ngx.timer.at returns nil, \"too many pending timers\" (default 1024, as lua_max_pending_timers)"},
    {"max-running-timers", 0, LF_OPT_INT, OFF(max_running_timers), "N", 1, 1048576, 1,
     "ngx.timer callbacks one worker runs at once; a timer due past N is not run and logged (default 256, as lua_max_running_timers)"},
    {"regex-cache-max-entries", 0, LF_OPT_INT, OFF(regex_cache_max_entries), "N", 0, 1048576, 1,
     "compiled ngx.re patterns (the \"o\" option) one worker keeps, the least recently used dropped first; 0 = none kept (default 1024, as lua_regex_cache_max_entries)"},
    {"regex-match-limit", 0, LF_OPT_INT, OFF(regex_match_limit), "N", 0, 4294967295LL, 1,
     "PCRE2's match limit for ngx.re: past it a match returns nil, \"pcre_exec() failed: -8\" instead of backtracking on (default 0 = PCRE2's own, 10000000, as lua_regex_match_limit); sandboxed scripts have at most 100000"},
    {"check-client-abort", 0, LF_OPT_ONOFF, OFF(check_client_abort), "on|off", 0, 0, 1,
     "watch the web server's connection while a request runs: when it closes (the client went away), the ngx.on_abort callback runs, or the request is stopped (default off, as lua_check_client_abort)"},
    {"ssl-trusted-certificate", 0, LF_OPT_STRING, OFF(ssl_trusted_certificate), "FILE", 0, 0, 1,
     "PEM certificates the cosockets' sslhandshake verifies servers against (default: none, so verification fails, as with lua_ssl_trusted_certificate unset)"},
    {"ssl-verify-depth", 0, LF_OPT_INT, OFF(ssl_verify_depth), "N", 0, 100, 1,
     "how deep a server's certificate chain may be for sslhandshake's verification (default 1, as lua_ssl_verify_depth)"},
    {"resolver", 0, LF_OPT_STRING, OFF(resolver), "\"ADDR[:PORT] ...\"|system", 0, 0, 1,
     "DNS servers for cosockets' host names, as nginx's resolver (no /etc/hosts); system: /etc/resolv.conf and /etc/hosts (default: none, a name fails with \"no resolver defined to resolve\")"},
    {"resolver-valid", 0, LF_OPT_SECONDS, OFF(resolver_valid), "SECONDS", 0, 86400, 1,
     "cache answers this long instead of their TTL (default: the TTL)"},
    {"resolver-timeout", 0, LF_OPT_SECONDS, OFF(resolver_timeout), "SECONDS", 0, 3600, 1,
     "how long a DNS query may take (default 30, as resolver_timeout)"},
    {"root", 'r', LF_OPT_STRING, OFF(root), "DIR", 0, 0, 1,
     "scripts must resolve inside DIR (default: the current directory)"},
    {"conf", 'c', LF_OPT_STRING, OFF(conf_file), "FILE", 0, 0, 0,
     "config file: long option names as `name = value`, `#` comments"},
    {"code-cache", 0, LF_OPT_ONOFF, OFF(code_cache), "on|off", 0, 0, 1,
     "off = a fresh Lua VM for every request (development mode; default on)"},
    {"revalidate", 0, LF_OPT_SECONDS, OFF(revalidate), "SECONDS", 0, 86400, 1,
     "check a cached handler's file at most every SECONDS (0 = every request) and recompile it when it changed; a changed module replaces the worker's VM (default: never check)"},
    {"init", 0, LF_OPT_STRING, OFF(init), "FILE", 0, 0, 1,
     "run FILE once to prepare the VM before any request (init_by_lua_file): in the master before the workers fork, again at each reload"},
    {"init-worker", 0, LF_OPT_STRING, OFF(init_worker), "FILE", 0, 0, 1,
     "run FILE in each worker once it has forked (init_worker_by_lua_file)"},
    {"preload", 0, LF_OPT_ONOFF, OFF(preload), "on|off", 0, 0, 1,
     "compile every .lua under the root when a VM is made, so no first request pays for it (default off)"},
    {"lua-path", 0, LF_OPT_STRING, OFF(lua_path), "STR", 0, 0, 1,
     "prepended to package.path"},
    {"lua-cpath", 0, LF_OPT_STRING, OFF(lua_cpath), "STR", 0, 0, 1,
     "prepended to package.cpath"},
    {"tmp-dir", 0, LF_OPT_STRING, OFF(tmp_dir), "DIR", 0, 0, 1,
     "request bodies over --body-buffer-size are spooled here (default $TMPDIR, else /tmp)"},
    {"body-buffer-size", 0, LF_OPT_SIZE, OFF(body_buffer_size), "SIZE", 0, 1LL << 30, 1,
     "request bodies up to SIZE stay in memory, larger ones go to --tmp-dir (default 16k, as nginx's client_body_buffer_size)"},
    {"max-requests", 0, LF_OPT_INT, OFF(max_requests), "N", 0, LLONG_MAX, 1,
     "replace a worker after N requests (default 0 = never)"},
    {"max-requests-jitter", 0, LF_OPT_INT, OFF(max_requests_jitter), "N", 0, LLONG_MAX, 1,
     "add 0..N (random, per worker) to --max-requests so workers do not recycle together (default 0)"},
    {"request-timeout", 0, LF_OPT_SECONDS, OFF(request_timeout), "SECONDS", 0, 86400, 1,
     "stop a handler that runs longer (504 if nothing was sent; default 0 = no limit)"},
    {"max-body", 0, LF_OPT_SIZE, OFF(max_body), "SIZE", 0, LLONG_MAX >> 30, 1,
     "refuse larger request bodies with 413, without reading them (default 0 = no limit)"},
    {"sandbox-root", 0, LF_OPT_STRING, OFF(sandbox_root), "DIR", 0, 0, 1,
     "scripts inside DIR (by the name the web server sends or by the file it resolves to) are untrusted: they run in the sandbox, a whitelisted environment with the JIT off, source text only, under the two budgets below; DIR must be inside --root (default: none)"},
    {"sandbox-instructions", 0, LF_OPT_INT, OFF(sandbox_instructions), "N", 0, LLONG_MAX, 1,
     "Lua VM instructions a sandboxed request may run before it ends with 500 (default 10000000; 0 = no limit)"},
    {"sandbox-memory", 0, LF_OPT_SIZE, OFF(sandbox_memory), "SIZE", 0, 1LL << 40, 1,
     "bytes a sandboxed request may add to its worker's Lua heap before it ends with 500, counted after garbage is collected; one allocation over SIZE is refused before it happens (default 32m; 0 = no limit)"},
    {"shared-dict", 0, LF_OPT_DICT, OFF(shared_dicts), "NAME:SIZE", 8192, 1LL << 40, 1,
     "a shared memory zone for ngx.shared.NAME, SIZE bytes (k, m or g suffix; at least 8k), made by the master and shared by every worker; repeatable (in a config file too, one line each); a reload keeps a zone whose name and size are unchanged, contents and all (as lua_shared_dict)"},
    {"status-path", 0, LF_OPT_STRING, OFF(status_path), "PATH", 0, 0, 1,
     "answer this SCRIPT_NAME (or DOCUMENT_URI) with the pool's status: text, ?json, ?openmetrics, ?full for every worker"},
    {"ping-path", 0, LF_OPT_STRING, OFF(ping_path), "PATH", 0, 0, 1,
     "answer this SCRIPT_NAME (or DOCUMENT_URI) with \"pong\" (health checks)"},
    {"slowlog", 0, LF_OPT_STRING, OFF(slowlog), "FILE", 0, 0, 1,
     "where --slowlog-timeout writes (default: the error log)"},
    {"slowlog-timeout", 0, LF_OPT_SECONDS, OFF(slowlog_timeout), "SECONDS", 0, 86400, 1,
     "log the Lua traceback of a request still running after SECONDS, taken in the worker (default 0 = off)"},
    {"user", 0, LF_OPT_STRING, OFF(user), "USER", 0, 0, 1,
     "when started as root, switch the master and its workers to USER once the socket, the error log and the pid file are open (a name or a number; a reload cannot change it)"},
    {"group", 0, LF_OPT_STRING, OFF(group), "GROUP", 0, 0, 1,
     "with --user: the group (default: USER's primary group); a unix socket is given to USER and GROUP"},
    {"pid", 0, LF_OPT_STRING, OFF(pid_file), "FILE", 0, 0, 1,
     "write the master's pid to FILE once the socket is open, remove it at a clean exit; refuse to start while FILE names a running luafpm"},
    {"error-log", 'e', LF_OPT_STRING, OFF(error_log), "FILE|stderr", 0, 0, 1,
     "where the error log goes (default stderr)"},
    {"log-level", 0, LF_OPT_LEVEL, OFF(log_level), "LEVEL", 0, 0, 1,
     "debug|info|notice|warn|error|crit|alert|emerg (default notice)"},
    {"test", 't', LF_OPT_FLAG, OFF(test), NULL, 0, 0, 0,
     "check the config and compile every .lua under the root, then exit 0 (fine) or 1"},
    {"lint", 0, LF_OPT_FLAG, OFF(lint), "[PATH...]", 0, 0, 0,
     "check the Lua files given after the options (a directory: every *.lua below it, symbolic links not followed; none: the root) for globals, as lua-releng does, from LuaJIT's bytecode: each write (`file:line: writing global 'x'`) and each read of a global that is not known (`file:line: reading undefined global 'x'`; a warning only); exit 1 when a global is written or a file does not compile, else 0"},
    {"lint-globals", 0, LF_OPT_STRING, OFF(lint_globals), "NAME,...", 0, 0, 1,
     "for --lint: globals known besides LuaJIT's standard library, ngx and print (such as ones an --init script sets)"},
    {"version", 'V', LF_OPT_FLAG, OFF(version), NULL, 0, 0, 0, "print the version and exit"},
    {"help", 'h', LF_OPT_FLAG, OFF(help), NULL, 0, 0, 0, "print this help and exit"},
    /* Hidden (no help text): the build generates the man page's option
     * list and examples/luafpm.conf from this table. */
    {"print-options", 0, LF_OPT_STRING, OFF(print_options), "man|conf", 0, 0, 0, NULL},
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* Where each option's value came from. */
enum { SRC_NONE, SRC_CLI, SRC_FILE };

static void conf_init(lf_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    for (size_t i = 0; i < NOPTIONS; i++) {
        void *field = (char *)conf + options[i].offset;
        switch (options[i].type) {
        case LF_OPT_INT:
        case LF_OPT_SIZE:
            *(long long *)field = LF_UNSET;
            break;
        case LF_OPT_SECONDS:
            *(double *)field = LF_UNSET;
            break;
        case LF_OPT_ONOFF:
        case LF_OPT_LEVEL:
        case LF_OPT_FLAG:
            *(int *)field = LF_UNSET;
            break;
        case LF_OPT_STRING:
            *(char **)field = NULL;
            break;
        case LF_OPT_DICT:
            break; /* memset: an empty list */
        }
    }
}

static int conf_set(lf_conf_t *conf, const lf_option_t *opt, const char *value, char *err,
                    size_t errlen);

/* --shared-dict NAME:SIZE: a name of letters, digits, '_', '-' or '.'
 * (at most 63), a size as LF_OPT_SIZE's; a name given twice is an error. */
static int conf_add_dict(lf_conf_t *conf, const lf_option_t *opt, const char *value, char *err,
                         size_t errlen)
{
    const char *colon = strrchr(value, ':');
    size_t nlen = colon ? (size_t)(colon - value) : 0;
    int good = nlen > 0 && nlen <= 63;
    for (size_t i = 0; good && i < nlen; i++)
        good = isalnum((unsigned char)value[i]) || strchr("_-.", value[i]) != NULL;
    if (!good) {
        snprintf(err, errlen, "invalid value \"%s\" for option \"%s\" (expected NAME:SIZE, a name of at most 63 letters, digits, '_', '-' or '.')",
                 value, opt->name);
        return -1;
    }
    for (int i = 0; i < conf->nshared_dicts; i++)
        if (strlen(conf->shared_dicts[i].name) == nlen &&
            memcmp(conf->shared_dicts[i].name, value, nlen) == 0) {
            snprintf(err, errlen, "shared dict \"%.*s\" is defined twice", (int)nlen, value);
            return -1;
        }
    /* The size through the LF_OPT_SIZE parser, with this option's range. */
    lf_option_t size_opt = *opt;
    size_opt.type = LF_OPT_SIZE;
    size_opt.offset = OFF(max_body); /* a scratch field, restored below */
    long long saved = conf->max_body;
    if (conf_set(conf, &size_opt, colon + 1, err, errlen) != 0)
        return -1;
    long long size = conf->max_body;
    conf->max_body = saved;
    lf_conf_dict_t *v = realloc(conf->shared_dicts, (size_t)(conf->nshared_dicts + 1) * sizeof(*v));
    char *name = strndup(value, nlen);
    if (v == NULL || name == NULL) {
        free(name);
        if (v)
            conf->shared_dicts = v;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    conf->shared_dicts = v;
    v[conf->nshared_dicts].name = name;
    v[conf->nshared_dicts].size = size;
    conf->nshared_dicts++;
    return 0;
}

/* Store one option's value; -1 with a message (without location) on error. */
static int conf_set(lf_conf_t *conf, const lf_option_t *opt, const char *value, char *err,
                    size_t errlen)
{
    void *field = (char *)conf + opt->offset;
    switch (opt->type) {
    case LF_OPT_FLAG:
        *(int *)field = 1;
        return 0;
    case LF_OPT_STRING: {
        if (value[0] == '\0') {
            snprintf(err, errlen, "option \"%s\" needs a value", opt->name);
            return -1;
        }
        char *copy = strdup(value);
        if (copy == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case LF_OPT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0' || v < opt->min || v > opt->max) {
            snprintf(err, errlen, "invalid value \"%s\" for option \"%s\" (expected an integer %lld..%lld)",
                     value, opt->name, opt->min, opt->max);
            return -1;
        }
        *(long long *)field = v;
        return 0;
    }
    case LF_OPT_SIZE: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        int shift = 0;
        if (*end == 'k' || *end == 'K')
            shift = 10;
        else if (*end == 'm' || *end == 'M')
            shift = 20;
        else if (*end == 'g' || *end == 'G')
            shift = 30;
        if (shift)
            end++;
        if (errno || end == value || *end != '\0' || v < 0 || v > (opt->max >> shift) ||
            (v << shift) < opt->min) {
            snprintf(err, errlen,
                     "invalid value \"%s\" for option \"%s\" (expected a size %lld..%lld bytes, k, m or g suffix allowed)",
                     value, opt->name, opt->min, opt->max);
            return -1;
        }
        *(long long *)field = v << shift;
        return 0;
    }
    case LF_OPT_DICT:
        return conf_add_dict(conf, opt, value, err, errlen);
    case LF_OPT_SECONDS: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        double unit = 1;
        if (strcmp(end, "ms") == 0)
            unit = 0.001, end += 2;
        else if (*end == 's')
            end++;
        else if (*end == 'm')
            unit = 60, end++;
        else if (*end == 'h')
            unit = 3600, end++;
        v *= unit;
        if (errno || end == value || *end != '\0' || !(v >= (double)opt->min) ||
            v > (double)opt->max) {
            snprintf(err, errlen,
                     "invalid value \"%s\" for option \"%s\" (expected seconds %lld..%lld, ms, s, m or h suffix allowed)",
                     value, opt->name, opt->min, opt->max);
            return -1;
        }
        *(double *)field = v;
        return 0;
    }
    case LF_OPT_ONOFF:
        if (strcmp(value, "on") == 0)
            *(int *)field = 1;
        else if (strcmp(value, "off") == 0)
            *(int *)field = 0;
        else {
            snprintf(err, errlen, "invalid value \"%s\" for option \"%s\" (expected on or off)", value,
                     opt->name);
            return -1;
        }
        return 0;
    case LF_OPT_LEVEL: {
        int level = lf_log_level_parse(value);
        if (level < 0) {
            snprintf(err, errlen,
                     "invalid value \"%s\" for option \"%s\" (expected debug, info, notice, warn, error, crit, alert or emerg)",
                     value, opt->name);
            return -1;
        }
        *(int *)field = level;
        return 0;
    }
    }
    return -1;
}

static const lf_option_t *conf_find(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Read `name = value` lines; the command line (src[] == SRC_CLI) wins. */
static int conf_read_file(lf_conf_t *conf, const char *path, unsigned char *src, char *errbuf,
                          size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errbuf, errlen, "cannot open config file \"%s\" (%d: %s)", path, errno,
                 strerror(errno));
        return -1;
    }
    char line[8192];
    char err[512];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            snprintf(errbuf, errlen, "%s:%u: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(errbuf, errlen, "%s:%u: expected \"name = value\", got \"%s\"", path, lineno, s);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        const lf_option_t *opt = conf_find(name);
        if (opt == NULL || !opt->in_file) {
            snprintf(errbuf, errlen, "%s:%u: unknown option \"%s\"", path, lineno, name);
            rc = -1;
            break;
        }
        size_t idx = (size_t)(opt - options);
        if (src[idx] == SRC_FILE && opt->type != LF_OPT_DICT) {
            snprintf(errbuf, errlen, "%s:%u: duplicate option \"%s\"", path, lineno, name);
            rc = -1;
            break;
        }
        if (opt->type == LF_OPT_FLAG) {
            snprintf(errbuf, errlen, "%s:%u: option \"%s\" is for the command line only", path,
                     lineno, name);
            rc = -1;
            break;
        }
        /* Validate even when the command line overrides it. */
        lf_conf_t scratch;
        conf_init(&scratch);
        lf_conf_t *target = src[idx] == SRC_CLI ? &scratch : conf;
        if (conf_set(target, opt, value, err, sizeof(err)) != 0) {
            snprintf(errbuf, errlen, "%s:%u: %s", path, lineno, err);
            lf_conf_free(&scratch);
            rc = -1;
            break;
        }
        lf_conf_free(&scratch);
        if (src[idx] != SRC_CLI)
            src[idx] = SRC_FILE;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(errbuf, errlen, "cannot read config file \"%s\" (%d: %s)", path, errno,
                 strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

static int set_default_string(char **field, const char *value)
{
    if (*field)
        return 0;
    *field = strdup(value);
    return *field ? 0 : -1;
}

/* Fill in what neither the command line nor the file set; tmpdir is
 * $TMPDIR (NULL when the defaults are printed for the docs). */
static int conf_defaults(lf_conf_t *conf, const char *tmpdir)
{
    if (conf->backlog == LF_UNSET)
        conf->backlog = 511;
    if (conf->workers == LF_UNSET)
        conf->workers = 2;
    if (conf->worker_connections == LF_UNSET)
        conf->worker_connections = 1024;
    if (conf->max_pending_timers == LF_UNSET)
        conf->max_pending_timers = 1024;
    if (conf->max_running_timers == LF_UNSET)
        conf->max_running_timers = 256;
    if (conf->regex_cache_max_entries == LF_UNSET)
        conf->regex_cache_max_entries = 1024;
    if (conf->regex_match_limit == LF_UNSET)
        conf->regex_match_limit = 0;
    if (conf->check_client_abort == LF_UNSET)
        conf->check_client_abort = 0;
    if (conf->ssl_verify_depth == LF_UNSET)
        conf->ssl_verify_depth = 1;
    if (conf->resolver_valid == LF_UNSET)
        conf->resolver_valid = 0;
    if (conf->resolver_timeout == LF_UNSET)
        conf->resolver_timeout = 30;
    if (conf->read_timeout == LF_UNSET)
        conf->read_timeout = 60;
    if (conf->send_timeout == LF_UNSET)
        conf->send_timeout = 60;
    if (conf->code_cache == LF_UNSET)
        conf->code_cache = 1;
    if (conf->body_buffer_size == LF_UNSET)
        conf->body_buffer_size = 16 * 1024;
    if (conf->max_requests_jitter == LF_UNSET)
        conf->max_requests_jitter = 0;
    if (conf->request_timeout == LF_UNSET)
        conf->request_timeout = 0;
    if (conf->preload == LF_UNSET)
        conf->preload = 0;
    if (conf->sandbox_instructions == LF_UNSET)
        conf->sandbox_instructions = 10000000;
    if (conf->sandbox_memory == LF_UNSET)
        conf->sandbox_memory = 32 * 1024 * 1024;
    if (conf->slowlog_timeout == LF_UNSET)
        conf->slowlog_timeout = 0;
    if (conf->max_body == LF_UNSET)
        conf->max_body = 0;
    if (conf->test == LF_UNSET)
        conf->test = 0;
    if (conf->lint == LF_UNSET)
        conf->lint = 0;
    if (conf->max_requests == LF_UNSET)
        conf->max_requests = 0;
    if (conf->log_level == LF_UNSET)
        conf->log_level = LF_LOG_NOTICE;
    if (conf->help == LF_UNSET)
        conf->help = 0;
    if (conf->version == LF_UNSET)
        conf->version = 0;
    if (set_default_string(&conf->tmp_dir, tmpdir && tmpdir[0] ? tmpdir : "/tmp") != 0 ||
        set_default_string(&conf->root, ".") != 0 ||
        set_default_string(&conf->error_log, "stderr") != 0)
        return -1;
    return 0;
}

/* The command line, kept for a reload. */
static int saved_argc;
static char **saved_argv;

int lf_conf_reload(lf_conf_t *conf, char *errbuf, size_t errlen)
{
    if (saved_argv == NULL) {
        snprintf(errbuf, errlen, "no command line to reload from");
        return -1;
    }
    return lf_conf_load(conf, saved_argc, saved_argv, errbuf, errlen);
}

int lf_conf_load(lf_conf_t *conf, int argc, char **argv, char *errbuf, size_t errlen)
{
    saved_argc = argc;
    saved_argv = argv;
    struct option longopts[NOPTIONS + 1];
    char shortopts[NOPTIONS * 2 + 2];
    unsigned char src[NOPTIONS];
    size_t ns = 0;
    char err[512];

    conf_init(conf);
    memset(src, SRC_NONE, sizeof(src));
    shortopts[ns++] = ':'; /* report a missing value as ':' */
    for (size_t i = 0; i < NOPTIONS; i++) {
        longopts[i].name = options[i].name;
        longopts[i].has_arg = options[i].type == LF_OPT_FLAG ? no_argument : required_argument;
        longopts[i].flag = NULL;
        longopts[i].val = 256 + (int)i;
        if (options[i].short_name) {
            shortopts[ns++] = (char)options[i].short_name;
            if (options[i].type != LF_OPT_FLAG)
                shortopts[ns++] = ':';
        }
    }
    memset(&longopts[NOPTIONS], 0, sizeof(longopts[0]));
    shortopts[ns] = '\0';

    optind = 1;
    opterr = 0;
    for (;;) {
        int longindex = -1;
        int c = getopt_long(argc, argv, shortopts, longopts, &longindex);
        if (c == -1)
            break;
        if (c == '?' || c == ':') {
            const char *what = argv[optind - 1];
            if (c == ':')
                snprintf(errbuf, errlen, "option \"%s\" needs a value", what);
            else if (optopt && optopt < 256)
                snprintf(errbuf, errlen, "unknown option \"-%c\"", optopt);
            else
                snprintf(errbuf, errlen, "unknown option \"%s\"", what);
            goto fail;
        }
        const lf_option_t *opt = NULL;
        if (c >= 256)
            opt = &options[c - 256];
        else
            for (size_t i = 0; i < NOPTIONS; i++)
                if (options[i].short_name == c)
                    opt = &options[i];
        if (opt == NULL) {
            snprintf(errbuf, errlen, "unknown option \"%s\"", argv[optind - 1]);
            goto fail;
        }
        if (conf_set(conf, opt, optarg ? optarg : "", err, sizeof(err)) != 0) {
            snprintf(errbuf, errlen, "%s", err);
            goto fail;
        }
        src[opt - options] = SRC_CLI;
    }
    if (optind < argc && conf->lint != 1) {
        snprintf(errbuf, errlen, "unexpected argument \"%s\"", argv[optind]);
        goto fail;
    }
    conf->lint_paths = optind;
    if (conf->help == 1 || conf->version == 1 || conf->print_options)
        goto done;
    if (conf->conf_file && conf_read_file(conf, conf->conf_file, src, errbuf, errlen) != 0)
        goto fail;
done:
    if (conf_defaults(conf, getenv("TMPDIR")) != 0) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    return 0;
fail:
    lf_conf_free(conf);
    return -1;
}

void lf_conf_free(lf_conf_t *conf)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (options[i].type == LF_OPT_STRING) {
            char **field = (char **)((char *)conf + options[i].offset);
            free(*field);
            *field = NULL;
        }
    for (int i = 0; i < conf->nshared_dicts; i++)
        free(conf->shared_dicts[i].name);
    free(conf->shared_dicts);
    conf->shared_dicts = NULL;
    conf->nshared_dicts = 0;
}

void lf_conf_usage(const char *prog)
{
    printf("usage: %s [OPTIONS]\n\nA FastCGI process manager for Lua (OpenResty's ngx.* API on LuaJIT).\n\n",
           prog);
    for (size_t i = 0; i < NOPTIONS; i++) {
        const lf_option_t *o = &options[i];
        if (o->help == NULL)
            continue;
        char left[64];
        int n;
        if (o->short_name)
            n = snprintf(left, sizeof(left), "  -%c, --%s", o->short_name, o->name);
        else
            n = snprintf(left, sizeof(left), "      --%s", o->name);
        if (o->arg && n > 0 && (size_t)n < sizeof(left))
            snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->arg);
        printf("%-30s %s\n", left, o->help);
    }
    printf("\nSignals to the master: TERM/INT stop now, QUIT stop after the requests in flight,\n"
           "HUP reload the configuration (no request dropped), USR1 reopen the logs.\n");
}

/* Write s for groff: backslashes, hyphens (as minus signs, so that options
 * can be copied), `quoted` words as typographic quotes, no leading dot. */
static void man_escape(FILE *out, const char *s)
{
    int open_quote = 0;
    if (*s == '.' || *s == '\'')
        fputs("\\&", out);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else if (*s == '`')
            fputs((open_quote = !open_quote) ? "\\(lq" : "\\(rq", out);
        else
            fputc(*s, out);
    }
}

/* The OPTIONS section: one .TP entry per option, in table order. */
static void print_man(FILE *out)
{
    for (size_t i = 0; i < NOPTIONS; i++) {
        const lf_option_t *o = &options[i];
        if (o->help == NULL)
            continue;
        fputs(".TP\n", out);
        fputs(o->arg ? ".BI \"" : ".B \"", out);
        if (o->short_name)
            fprintf(out, "\\-%c, ", o->short_name);
        fputs("\\-\\-", out);
        man_escape(out, o->name);
        if (o->arg) {
            fputs(" \" ", out);
            man_escape(out, o->arg);
            fputc('\n', out);
        } else {
            fputs("\"\n", out);
        }
        man_escape(out, o->help);
        fputs(o->help[strlen(o->help) - 1] == '.' ? "\n" : ".\n", out);
    }
}

/* The default of option o as a config file value, from conf_defaults();
 * -1 when it has none (the placeholder is shown instead). */
static int format_default(const lf_conf_t *d, const lf_option_t *o, char *buf, size_t len)
{
    const void *field = (const char *)d + o->offset;
    switch (o->type) {
    case LF_OPT_STRING: {
        const char *v = *(char *const *)field;
        if (v == NULL)
            return -1;
        snprintf(buf, len, "%s", v);
        return 0;
    }
    case LF_OPT_INT:
    case LF_OPT_SIZE: {
        long long v = *(const long long *)field;
        if (v == LF_UNSET)
            return -1;
        static const char *const units[] = {"", "k", "m", "g"};
        int u = 0;
        while (o->type == LF_OPT_SIZE && v > 0 && v % 1024 == 0 && u < 3) {
            v /= 1024;
            u++;
        }
        const char *suffix = units[u];
        snprintf(buf, len, "%lld%s", v, suffix);
        return 0;
    }
    case LF_OPT_SECONDS: {
        double v = *(const double *)field;
        if (v == LF_UNSET)
            return -1;
        snprintf(buf, len, "%g", v);
        return 0;
    }
    case LF_OPT_ONOFF: {
        int v = *(const int *)field;
        if (v == LF_UNSET)
            return -1;
        snprintf(buf, len, "%s", v ? "on" : "off");
        return 0;
    }
    case LF_OPT_LEVEL: {
        int v = *(const int *)field;
        if (v == LF_UNSET)
            return -1;
        snprintf(buf, len, "%s", lf_log_level_name(v));
        return 0;
    }
    case LF_OPT_FLAG:
    case LF_OPT_DICT:
        break;
    }
    return -1;
}

/* "# text" lines of at most 78 columns. */
static void print_comment(FILE *out, const char *text)
{
    const size_t width = 76;
    while (*text) {
        size_t n = strlen(text);
        if (n > width) {
            n = width;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = strcspn(text, " ");
        }
        size_t shown = n;
        while (shown > 0 && text[shown - 1] == ' ')
            shown--;
        fprintf(out, "# %.*s\n", (int)shown, text);
        text += n;
        while (*text == ' ')
            text++;
    }
}

/* The example config: the options a file may set, commented out. */
static int print_conf(FILE *out)
{
    lf_conf_t d;
    char value[256];
    conf_init(&d);
    if (conf_defaults(&d, NULL) != 0) {
        lf_conf_free(&d);
        return -1;
    }
    print_comment(out, "luafpm.conf: every option luafpm reads from a config file (--conf FILE), "
                       "commented out, with its default where it has one.  Syntax: `name = value`, "
                       "one per line; `#` starts a comment; the command line overrides the file.  "
                       "Generated from luafpm's option table (see luafpm(8)).");
    for (size_t i = 0; i < NOPTIONS; i++) {
        const lf_option_t *o = &options[i];
        if (o->help == NULL || !o->in_file)
            continue;
        fputc('\n', out);
        print_comment(out, o->help);
        if (format_default(&d, o, value, sizeof(value)) != 0)
            snprintf(value, sizeof(value), "%s", o->arg);
        fprintf(out, "#%s = %s\n", o->name, value);
    }
    lf_conf_free(&d);
    return 0;
}

int lf_conf_print_options(const char *format)
{
    if (strcmp(format, "man") == 0) {
        print_man(stdout);
        return 0;
    }
    if (strcmp(format, "conf") == 0)
        return print_conf(stdout);
    return -1;
}
