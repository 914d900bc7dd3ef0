/* main.c - start-up in one visible order: fds 0-2 (/dev/null where
 * closed), options (--lint stops there),
 * log, root, user (and -t stops there), pid file check, socket, pid file,
 * privilege drop, then the master (or, with --workers 0, a single serving
 * process). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <luajit.h>

#include "api.h"
#include "check.h"
#include "conf.h"
#include "fdutil.h"
#include "lint.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "pidfile.h"
#include "priv.h"
#include "sandbox.h"
#include "script.h"
#include "shm_set.h"
#include "vm.h"
#include "worker.h"

/* Everything that needs root, done: the log, the socket and the pid file
 * are open.  Give the unix socket to --user and become that user. */
static int main_drop_privileges(const lf_conf_t *conf, const lf_listen_t *listen,
                                const lf_root_t *root, const lf_priv_t *priv, char *err,
                                size_t errlen)
{
    if (!priv->active)
        return 0;
    if (lf_priv_chown(priv, listen->unix_path, err, errlen) != 0 ||
        lf_priv_drop(priv, err, errlen) != 0)
        return -1;
    lf_log(LF_LOG_NOTICE, "running as user %s (uid %lu, gid %lu)", conf->user,
           (unsigned long)priv->uid, (unsigned long)priv->gid);
    lf_priv_warn_access("the root", root->real, R_OK | X_OK);
    lf_priv_warn_access("the temporary directory", conf->tmp_dir, W_OK | X_OK);
    return 0;
}

/* What every new VM gets: the ngx API, and the sandbox's environment
 * when there is a --sandbox-root (the layers above the VM, wired here). */
static void main_vm_install(lua_State *L, const lf_conf_t *conf)
{
    lf_api_init(L, conf);
    if (conf->sandbox_root)
        lf_sandbox_init(L);
}

/* A start-up failure after the socket and the pid file: say why, undo
 * them, exit 1. */
static int main_give_up(lf_conf_t *conf, lf_listen_t *listen, const char *err)
{
    fprintf(stderr, "luafpm: %s\n", err);
    lf_log(LF_LOG_EMERG, "%s", err);
    if (conf->pid_file)
        lf_pidfile_remove(conf->pid_file);
    lf_listen_close(listen, 1);
    lf_conf_free(conf);
    return 1;
}

int main(int argc, char **argv)
{
    lf_vm_install = main_vm_install;
    lf_conf_t conf;
    lf_listen_t listen;
    lf_root_t root;
    lf_priv_t priv;
    char err[1024];

    /* Before anything opens a descriptor: none of ours may become 0-2. */
    if (lf_fd_stdio_init() != 0) {
        perror("luafpm: open(\"/dev/null\") for a closed descriptor 0-2 failed");
        return 1;
    }
    if (lf_conf_load(&conf, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "luafpm: %s\nTry 'luafpm --help' for more information.\n", err);
        return 1;
    }
    if (conf.help) {
        lf_conf_usage(argv[0]);
        lf_conf_free(&conf);
        return 0;
    }
    if (conf.version) {
        printf("luafpm %s (%s)\n", PACKAGE_VERSION, LUAJIT_VERSION);
        lf_conf_free(&conf);
        return 0;
    }
    if (conf.print_options) {
        int bad = lf_conf_print_options(conf.print_options) != 0;
        if (bad)
            fprintf(stderr, "luafpm: --print-options takes man or conf\n");
        lf_conf_free(&conf);
        return bad;
    }
    if (conf.lint) {
        /* Before the log is opened: the report is for the terminal. */
        int rc = lf_lint_run(&conf, argv + conf.lint_paths, argc - conf.lint_paths);
        lf_conf_free(&conf);
        return rc;
    }
    lf_log_level = conf.log_level;
    if (lf_log_open(conf.error_log, err, sizeof(err)) != 0 ||
        lf_root_init(&root, conf.root, conf.sandbox_root, err, sizeof(err)) != 0 ||
        lf_priv_init(&priv, conf.user, conf.group, err, sizeof(err)) != 0) {
        fprintf(stderr, "luafpm: %s\n", err);
        lf_conf_free(&conf);
        return 1;
    }
    if (conf.sandbox_root && conf.request_timeout == 0 && !conf.test)
        lf_log(LF_LOG_WARN, "--sandbox-root without --request-timeout: a sandboxed script stuck in "
               "one long C call (a string pattern that backtracks, say) holds its worker until "
               "the call ends; the budgets cannot stop it");
    if (conf.test) {
        int rc = lf_check_run(&conf, &root);
        lf_conf_free(&conf);
        return rc;
    }
    if (conf.pid_file && lf_pidfile_check(conf.pid_file, err, sizeof(err)) != 0) {
        fprintf(stderr, "luafpm: %s\n", err);
        lf_log(LF_LOG_EMERG, "%s", err);
        lf_conf_free(&conf);
        return 1;
    }
    if (lf_listen_open(&listen, conf.listen, (int)conf.backlog, err, sizeof(err)) != 0) {
        fprintf(stderr, "luafpm: %s\n", err);
        lf_log(LF_LOG_EMERG, "%s", err);
        lf_conf_free(&conf);
        return 1;
    }
    if ((conf.pid_file && lf_pidfile_write(conf.pid_file, err, sizeof(err)) != 0) ||
        main_drop_privileges(&conf, &listen, &root, &priv, err, sizeof(err)) != 0)
        return main_give_up(&conf, &listen, err);

    /* The shared dicts, before any VM or fork: every worker maps them. */
    lf_dict_set_t dicts;
    if (lf_dict_set_open(&dicts, &conf, NULL, err, sizeof(err)) != 0)
        return main_give_up(&conf, &listen, err);
    lf_dict_set_current = &dicts;

    int rc;
    if (conf.workers == 0) {
        /* Ready as far as systemd is concerned: the socket accepts (the
         * master says so once its workers are up). */
        char ready[64];
        snprintf(ready, sizeof(ready), "READY=1\nMAINPID=%ld", (long)getpid());
        lf_notify(ready);
        lf_worker_signals_install();
        lf_log(LF_LOG_NOTICE, "luafpm %s serving on %s in this process (no master)",
               PACKAGE_VERSION, listen.name);
        lf_worker_args_t args = {
            .conf = &conf, .listen = &listen, .root = &root, .id = 0, .life_fd = -1, .ready_fd = -1,
            .sb_slot = -1};
        rc = lf_worker_run(&args);
    } else {
        rc = lf_master_run(&conf, &listen, &root);
    }
    lf_listen_close(&listen, 1);
    if (conf.pid_file)
        lf_pidfile_remove(conf.pid_file);
    lf_dict_set_current = NULL;
    lf_dict_set_close(&dicts);
    lf_conf_free(&conf);
    return rc;
}
