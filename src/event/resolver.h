/* resolver.h - host names for cosockets: asynchronous on the worker's
 * loop through c-ares, answers cached for their TTL.  --resolver ADDR...
 * asks those servers only (as nginx's resolver: no /etc/hosts);
 * --resolver system uses /etc/resolv.conf and /etc/hosts. */
#ifndef LF_RESOLVER_H
#define LF_RESOLVER_H

#include <netinet/in.h>

#include "conf.h"
#include "event.h"

/* The answer: err NULL and the address, or OpenResty's reason
 * ("3: Host not found", "110: Operation timed out", ...). */
typedef void (*lf_resolve_cb)(void *data, const char *err, struct in_addr addr);

/* With --resolver: set up on the worker's loop.  0, or -1 (logged). */
int lf_resolver_init(lf_loop_t *loop, const lf_conf_t *conf);
void lf_resolver_free(void);
/* Resolve name: 1 with *addr from the cache, 0 when cb(data, ...) comes
 * later (from the loop), -1 when there is no resolver. */
int lf_resolve(const char *name, lf_resolve_cb cb, void *data, struct in_addr *addr);
/* data no longer wants its answer (its socket is gone). */
void lf_resolve_cancel(void *data);

#endif
