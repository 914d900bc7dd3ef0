/* main.c - start-up in one visible order: options, log, root, socket,
 * then the master (or, with --workers 0, a single serving process). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <luajit.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "script.h"
#include "worker.h"

int main(int argc, char **argv)
{
    lf_conf_t conf;
    lf_listen_t listen;
    lf_root_t root;
    char err[1024];

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
    lf_log_level = conf.log_level;
    if (lf_log_open(conf.error_log, err, sizeof(err)) != 0 ||
        lf_root_init(&root, conf.root, err, sizeof(err)) != 0) {
        fprintf(stderr, "luafpm: %s\n", err);
        lf_conf_free(&conf);
        return 1;
    }
    /* libfcgi installs its own handlers here; ours come after it. */
    if (FCGX_Init() != 0) {
        fprintf(stderr, "luafpm: FCGX_Init() failed\n");
        lf_conf_free(&conf);
        return 1;
    }
    if (lf_listen_open(&listen, conf.listen, (int)conf.backlog, err, sizeof(err)) != 0) {
        fprintf(stderr, "luafpm: %s\n", err);
        lf_log(LF_LOG_EMERG, "%s", err);
        lf_conf_free(&conf);
        return 1;
    }

    int rc;
    if (conf.workers == 0) {
        lf_worker_signals_install();
        lf_log(LF_LOG_NOTICE, "luafpm %s serving on %s in this process (no master)",
               PACKAGE_VERSION, listen.name);
        lf_worker_args_t args = {
            .conf = &conf, .listen = &listen, .root = &root, .id = 0, .life_fd = -1, .ready_fd = -1};
        rc = lf_worker_run(&args);
    } else {
        rc = lf_master_run(&conf, &listen, &root);
    }
    lf_listen_close(&listen, 1);
    lf_conf_free(&conf);
    return rc;
}
