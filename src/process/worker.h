/* worker.h - a worker process: poll, accept, serve, repeat. */
#ifndef LF_WORKER_H
#define LF_WORKER_H

#include "conf.h"
#include "listen.h"
#include "script.h"
#include "vm.h"

/* Exit status of a worker that cannot start (the master backs off). */
#define LF_EXIT_FATAL 2
/* Its listening socket is gone (a handler closed it): replace the worker. */
#define LF_EXIT_LISTEN_GONE 4

typedef struct {
    const lf_conf_t *conf;
    const lf_listen_t *listen;
    const lf_root_t *root;
    int id;       /* 0..workers-1, ngx.worker.id */
    int life_fd;  /* read end of the master's pipe: EOF = master gone; -1 = no master */
    int ready_fd; /* write end of the master's readiness pipe, -1 = none */
    int sb_slot;  /* its scoreboard slot, -1 = none (then it makes its own) */
    lf_vm_t *vm;  /* the master's prepared VM, NULL = make one (or dev mode) */
} lf_worker_args_t;

/* Serve until told to stop; returns the exit status.  The caller exits. */
int lf_worker_run(const lf_worker_args_t *args);

/* The signal handlers of a worker (or of the --workers 0 process). */
void lf_worker_signals_install(void);

#endif
