/* conf.h - options: one table drives the command line, the config file,
 * validation and --help. */
#ifndef LF_CONF_H
#define LF_CONF_H

#include <stddef.h>

#define LF_UNSET (-1)

/* One --shared-dict NAME:SIZE. */
typedef struct {
    char *name;
    long long size;
} lf_conf_dict_t;

typedef struct {
    char *listen;
    long long backlog;
    long long workers;
    long long worker_connections; /* per worker, idle kept-alive ones included */
    long long max_pending_timers, max_running_timers; /* ngx.timer, per worker */
    long long regex_cache_max_entries; /* ngx.re's "o" cache, per worker */
    long long regex_match_limit; /* PCRE2's match limit, 0 = its default */
    int check_client_abort; /* 0/1: ngx.on_abort */
    const char *ssl_trusted_certificate; /* cosockets' TLS: CA file, NULL = none */
    long long ssl_verify_depth;
    const char *resolver;       /* "ADDR[:PORT] ...", "system", NULL = none */
    double resolver_valid, resolver_timeout;
    double read_timeout;         /* seconds between two reads of a request */
    double send_timeout;         /* seconds between two writes of a response */
    char *root;
    char *conf_file;
    int code_cache; /* 0/1 */
    double revalidate;           /* seconds; LF_UNSET (< 0) = never check */
    char *init;
    char *init_worker;
    int preload;
    char *lua_path;
    char *lua_cpath;
    char *tmp_dir;
    long long body_buffer_size;
    long long max_requests;
    long long max_requests_jitter;
    double request_timeout;      /* seconds, 0 = none */
    long long max_body;          /* bytes, 0 = no limit */
    char *slowlog;
    double slowlog_timeout;      /* seconds, 0 = off */
    char *sandbox_root;          /* untrusted scripts, NULL = none */
    long long sandbox_instructions; /* per sandboxed request, 0 = no limit */
    long long sandbox_memory;    /* bytes per sandboxed request, 0 = no limit */
    lf_conf_dict_t *shared_dicts;  /* --shared-dict, repeatable */
    int nshared_dicts;
    char *status_path;
    char *ping_path;
    char *user;
    char *group;
    char *pid_file;
    int test;                    /* -t */
    int lint;                    /* --lint */
    char *lint_globals;          /* --lint-globals: "a,b,c" */
    int lint_paths;              /* argv index of --lint's first path (argv is permuted) */
    char *print_options;         /* hidden: "man" or "conf", for the build */
    char *error_log;
    int log_level;
    int help;
    int version;
} lf_conf_t;

/* Parse argv and the config file it names; defaults applied; 0 or -1 with
 * the reason in errbuf ("file:line: ..." for config file errors). */
int lf_conf_load(lf_conf_t *conf, int argc, char **argv, char *errbuf, size_t errlen);
/* SIGHUP: the same command line again, the config file read anew. */
int lf_conf_reload(lf_conf_t *conf, char *errbuf, size_t errlen);
void lf_conf_free(lf_conf_t *conf);
void lf_conf_usage(const char *prog);

/* Print the option table as the man page's OPTIONS section ("man") or as
 * an example config file with every option commented out ("conf"); -1
 * for another format. */
int lf_conf_print_options(const char *format);

#endif
