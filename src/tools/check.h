/* check.h - luafpm -t: check the config and compile every script. */
#ifndef LF_CHECK_H
#define LF_CHECK_H

#include "conf.h"
#include "script.h"

/* Compile every *.lua under the root the way a worker does, errors as
 * "file:line: message" on stderr and a summary line; returns the exit
 * status (0 all compiled, 1 otherwise).  The config is already loaded. */
int lf_check_run(const lf_conf_t *conf, const lf_root_t *root);

typedef void (*lf_check_file_pt)(void *ud, const char *path);

/* Call fn(ud, path) for every regular *.lua file under dir, recursively in
 * name order, symbolic links not followed (shared with --lint); a
 * directory that cannot be read is reported on stderr and skipped. */
void lf_check_walk(const char *dir, lf_check_file_pt fn, void *ud);

#endif
