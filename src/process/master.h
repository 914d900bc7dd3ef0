/* master.h - the prefork master: fork, reap, respawn, signals. */
#ifndef LF_MASTER_H
#define LF_MASTER_H

#include "conf.h"
#include "listen.h"
#include "script.h"

/* Run the master until it is told to stop; returns the exit status.  A
 * reload replaces *conf, *listen and *root in place (the caller frees
 * what is there at the end). */
int lf_master_run(lf_conf_t *conf, lf_listen_t *listen, lf_root_t *root);

#endif
