/* globals.h - the run-time warning about writes to global variables. */
#ifndef LF_GLOBALS_H
#define LF_GLOBALS_H

#include <lua.h>

/* The __newindex of a request's globals table (args: table, key, value):
 * stores the value in that table, as a plain write would, and logs a
 * warning once per writing site (file:line) for the life of the VM, for
 * at most 1000 sites.  vm.c sets it on the environment's metatable. */
int lf_globals_write(lua_State *L);

#endif
