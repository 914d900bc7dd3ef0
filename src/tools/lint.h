/* lint.h - luafpm --lint: the globals Lua code reads and writes (the
 * warning at run time is globals.c's). */
#ifndef LF_LINT_H
#define LF_LINT_H

#include <lua.h>

#include "conf.h"

/* luafpm --lint: report the global variables the files (directories are
 * walked for *.lua) read and write, on stdout, sorted by file and line;
 * returns the exit status (1 when a global is written or a file does not
 * compile, else 0).  No path: the root. */
int lf_lint_run(const lf_conf_t *conf, char **paths, int npaths);

#endif
