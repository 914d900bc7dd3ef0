/* lint.h - globals in Lua code: luafpm --lint, and the warning a handler
 * gets at run time when it writes one. */
#ifndef LF_LINT_H
#define LF_LINT_H

#include <lua.h>

#include "conf.h"

/* luafpm --lint: report the global variables the files (directories are
 * walked for *.lua) read and write, on stdout, sorted by file and line;
 * returns the exit status (1 when a global is written or a file does not
 * compile, else 0).  No path: the root. */
int lf_lint_run(const lf_conf_t *conf, char **paths, int npaths);

/* The __newindex of a request's globals table (args: table, key, value):
 * stores the value in that table, as a plain write would, and logs a
 * warning once per writing site (file:line) for the life of the VM, for
 * at most 1000 sites.  vm.c sets it on the environment's metatable. */
int lf_lint_global_write(lua_State *L);

#endif
