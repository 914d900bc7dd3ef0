/* master.h - the prefork master: fork, reap, respawn, signals. */
#ifndef LF_MASTER_H
#define LF_MASTER_H

#include "conf.h"
#include "listen.h"
#include "script.h"

/* Run the master until it is told to stop; returns the exit status. */
int lf_master_run(const lf_conf_t *conf, const lf_listen_t *listen, const lf_root_t *root);

#endif
