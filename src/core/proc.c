/* proc.c - see proc.h. */
#include "config.h"

#include "proc.h"

int lf_proc_worker_id;
pid_t lf_proc_master_pid;
int lf_proc_worker_count = 1;
int (*lf_proc_worker_pids)(pid_t *pids, int max);
