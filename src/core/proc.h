/* proc.h - this process's place among the workers, for ngx.worker: set
 * by the worker (process layer), read by the API below it. */
#ifndef LF_PROC_H
#define LF_PROC_H

#include <sys/types.h>

extern int lf_proc_worker_id;    /* ngx.worker.id() */
extern int lf_proc_worker_count; /* ngx.worker.count() */
extern pid_t lf_proc_master_pid; /* set by the master; 0: no master (--workers 0) */
/* The pids of this generation's workers by id into pids (at most max):
 * how many, 0 when this process is not among them (no scoreboard). */
extern int (*lf_proc_worker_pids)(pid_t *pids, int max);

#endif
