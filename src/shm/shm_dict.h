/* shm_dict.h - ngx.shared.DICT's store in one zone (shm_zone.h): a hash
 * index, an LRU list, items and lists in chunk chains, expiry in
 * milliseconds of CLOCK_MONOTONIC (one clock for every process of a
 * boot).  Each call takes the zone's lock and leaves the zone consistent;
 * no call allocates process memory except through the caller's reserve
 * callback (for values copied out). */
#ifndef LF_SHM_DICT_H
#define LF_SHM_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "shm_zone.h"

#define LF_DICT_NAME_MAX 63

/* Value types: Lua's numbering, as lua-nginx-module stores them. */
enum { LF_DICT_NIL = 0, LF_DICT_BOOL = 1, LF_DICT_NUM = 3, LF_DICT_STR = 4, LF_DICT_LIST = 5 };

/* Results: 0, or one of these (lf_dict_strerror gives OpenResty's text). */
enum {
    LF_DICT_OK = 0,
    LF_DICT_ENOTFOUND = -1,   /* "not found" */
    LF_DICT_EEXISTS = -2,     /* "exists" */
    LF_DICT_ENOMEM = -3,      /* "no memory" */
    LF_DICT_ENOTNUM = -4,     /* "not a number" */
    LF_DICT_ENOTLIST = -5,    /* "value not a list" */
    LF_DICT_EISLIST = -6,     /* "value is a list" */
    LF_DICT_ENILVAL = -7,     /* "attempt to add or replace nil values" */
    LF_DICT_ELOCK = -8,       /* the lock failed */
};

/* Store operations (lua-nginx-module's bits). */
enum { LF_DICT_SET = 0, LF_DICT_ADD = 1, LF_DICT_REPLACE = 2, LF_DICT_SAFE = 4 };

typedef struct {
    char name[LF_DICT_NAME_MAX + 1];
    size_t size;              /* as configured: capacity() */
    lf_zone_t zone;
    int refs;                 /* the master's sets holding it */
} lf_dict_t;

typedef struct {
    int type;
    double num;               /* NUM; BOOL as 0/1 */
    const char *str;          /* STR */
    size_t len;
} lf_dict_value_t;

typedef struct {
    int type;                 /* LF_DICT_NIL when there is none */
    double num;
    char *str;                /* STR: in the caller's reserved buffer */
    size_t len;
    uint32_t flags;
    int stale;                /* get_stale: the item had expired */
} lf_dict_out_t;

/* Room for len bytes of a value copied out, or NULL.  Called with the
 * zone locked: it must not raise a Lua error. */
typedef char *(*lf_dict_reserve_t)(void *ud, size_t len);

const char *lf_dict_strerror(int rc);

/* A new zone of size bytes; 0 or -1 with errno. */
int lf_dict_create(lf_dict_t *d, const char *name, size_t size);
void lf_dict_destroy(lf_dict_t *d);

int lf_dict_get(lf_dict_t *d, const char *key, size_t klen, int stale_ok, lf_dict_out_t *out,
                lf_dict_reserve_t reserve, void *ud);
/* op: LF_DICT_SET, ADD or REPLACE, with LF_DICT_SAFE for no eviction;
 * a NIL value deletes; exptime_ms 0 = never. */
int lf_dict_store(lf_dict_t *d, int op, const char *key, size_t klen, const lf_dict_value_t *v,
                  int64_t exptime_ms, uint32_t flags, int *forcible);
int lf_dict_incr(lf_dict_t *d, const char *key, size_t klen, double delta, int has_init,
                 double init, int64_t init_ttl_ms, double *result, int *forcible);
/* Milliseconds left (0 = never expires, negative = expired not yet
 * removed), or LF_DICT_ENOTFOUND. */
int lf_dict_ttl(lf_dict_t *d, const char *key, size_t klen, int64_t *ms);
int lf_dict_expire(lf_dict_t *d, const char *key, size_t klen, int64_t exptime_ms);
void lf_dict_flush_all(lf_dict_t *d);
/* Remove expired items, at most max (0 = all): how many. */
int lf_dict_flush_expired(lf_dict_t *d, int max);
/* The keys not expired, oldest first, at most max (0 = all), packed into
 * one reserved buffer as (uint16_t length, bytes)...; their number, or
 * LF_DICT_ENOMEM when reserve failed. */
int lf_dict_keys(lf_dict_t *d, int max, lf_dict_reserve_t reserve, void *ud, char **packed);
/* Push a STR or NUM value; *len gets the list's new length. */
int lf_dict_push(lf_dict_t *d, int left, const char *key, size_t klen, const lf_dict_value_t *v,
                 uint32_t *len);
int lf_dict_pop(lf_dict_t *d, int left, const char *key, size_t klen, lf_dict_out_t *out,
                lf_dict_reserve_t reserve, void *ud);
int lf_dict_llen(lf_dict_t *d, const char *key, size_t klen, uint32_t *len);

/* capacity() is the zone's size; free_space() whole free 4 KiB pages as
 * bytes (what lua-nginx-module reports), items counts those stored,
 * expired ones not yet removed included. */
typedef struct {
    size_t capacity, free_space, items;
    unsigned recoveries;      /* updates undone after their process died */
} lf_dict_stats_t;
void lf_dict_stats(lf_dict_t *d, lf_dict_stats_t *st);

/* Walk the whole zone under its lock and check every invariant (index,
 * LRU, chains, lists, counts, no chunk lost or shared): NULL when sound,
 * else what is wrong (a static string). */
const char *lf_dict_check(lf_dict_t *d);

#endif
