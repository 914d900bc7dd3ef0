/* shm_zone.h - one shared memory zone: a MAP_SHARED mapping the master
 * makes before it forks, a robust process-shared lock, an undo journal
 * that makes an interrupted update as if it never began, and an
 * allocator of fixed 64-byte chunks linked into chains (no external
 * fragmentation: any free chunk serves any request).
 *
 * Every write to shared bookkeeping goes through lf_zone_set32/64, which
 * first journals the old value.  Bytes written into chunks the current
 * update allocated need no journal: undone, they are free again.  When a
 * process dies holding the lock, the next locker gets EOWNERDEAD, plays
 * the journal backwards and marks the lock consistent. */
#ifndef LF_SHM_ZONE_H
#define LF_SHM_ZONE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define LF_ZONE_CHUNK 64                  /* bytes per chunk */
#define LF_ZONE_PAYLOAD 60                /* of which data; the last 4: next */
#define LF_ZONE_NIL 0                     /* chunk 0 holds the header: never a link */
#define LF_ZONE_UNDO_MAX 64               /* journalled writes in one update */
#define LF_ZONE_MIN_SIZE 8192             /* as lua_shared_dict's minimum */

typedef struct {
    uint32_t off;                         /* byte offset in the zone */
    uint32_t len;                         /* 4 or 8 */
    uint64_t old;
} lf_zone_undo_t;

typedef struct {
    uint32_t magic;
    uint32_t nchunks;                     /* size / LF_ZONE_CHUNK */
    uint64_t size;
    uint32_t free_head, free_count;       /* the free chain */
    uint32_t first_chunk;                 /* chunks before it are reserved */
    uint32_t recoveries;                  /* journals played back */
    pthread_mutex_t lock;
    uint32_t undo_n;                      /* entries in undo[]: the commit word */
    lf_zone_undo_t undo[LF_ZONE_UNDO_MAX];
} lf_zone_hdr_t;

typedef struct {
    unsigned char *base;                  /* the mapping; the header at its start */
    size_t size;
} lf_zone_t;

/* Map a zone of size bytes (a multiple of LF_ZONE_CHUNK, at least
 * LF_ZONE_MIN_SIZE) with `reserved` bytes after the header kept out of
 * the allocator (for the user's index); 0, or -1 with errno. */
int lf_zone_create(lf_zone_t *z, size_t size, size_t reserved);
void lf_zone_destroy(lf_zone_t *z);
/* The reserved area, aligned to 8 bytes. */
void *lf_zone_reserved(const lf_zone_t *z);

/* Lock; a dead owner's update is undone first.  Returns 1 when it had
 * to recover, 0 otherwise, -1 when the lock is unusable (errno). */
int lf_zone_lock(lf_zone_t *z);
/* Commit the update (the journal is emptied) and unlock. */
void lf_zone_unlock(lf_zone_t *z);
/* Commit what was written so far: what follows is a new update. */
void lf_zone_commit(lf_zone_t *z);

/* Journalled stores into the zone. */
void lf_zone_set32(lf_zone_t *z, uint32_t *p, uint32_t v);
void lf_zone_set64(lf_zone_t *z, uint64_t *p, uint64_t v);

/* Chunk i's bytes, and its link to the next chunk of its chain. */
static inline unsigned char *lf_zone_chunk(const lf_zone_t *z, uint32_t i)
{
    return z->base + (size_t)i * LF_ZONE_CHUNK;
}
static inline uint32_t *lf_zone_next(const lf_zone_t *z, uint32_t i)
{
    return (uint32_t *)(lf_zone_chunk(z, i) + LF_ZONE_PAYLOAD);
}
static inline lf_zone_hdr_t *lf_zone_hdr(const lf_zone_t *z)
{
    return (lf_zone_hdr_t *)z->base;
}
/* Chunks needed for len payload bytes. */
static inline uint32_t lf_zone_chunks_for(size_t len)
{
    return len == 0 ? 1 : (uint32_t)((len + LF_ZONE_PAYLOAD - 1) / LF_ZONE_PAYLOAD);
}

/* A chain of n chunks off the free chain, its last link NIL; its first
 * chunk, or LF_ZONE_NIL when fewer than n are free.  *last (if not NULL)
 * gets its last chunk. */
uint32_t lf_zone_alloc(lf_zone_t *z, uint32_t n, uint32_t *last);
/* Give the chain first..last (n chunks) back. */
void lf_zone_free(lf_zone_t *z, uint32_t first, uint32_t last, uint32_t n);
/* The chunk `steps` links after i. */
uint32_t lf_zone_walk(const lf_zone_t *z, uint32_t i, uint32_t steps);

/* Bytes of a chain's payload, seen as one run that skips the links:
 * copy in (into chunks this update allocated: not journalled), copy out,
 * compare (0 = equal). */
void lf_zone_write(lf_zone_t *z, uint32_t first, size_t off, const void *src, size_t len);
void lf_zone_read(const lf_zone_t *z, uint32_t first, size_t off, void *dst, size_t len);
int lf_zone_cmp(const lf_zone_t *z, uint32_t first, size_t off, const void *s, size_t len);

/* The allocator's own invariants (the free chain is as long as the count,
 * inside the zone, without a cycle); marks every free chunk in seen[]
 * (nchunks bytes, 0 = not seen yet) and fails on one seen twice.  NULL
 * when fine, else what is wrong. */
const char *lf_zone_check_free(const lf_zone_t *z, unsigned char *seen);

#ifdef LF_ZONE_FAULTS
/* Tests: the process _exit()s (holding the lock) when this many
 * journal steps have passed (each write has two: journalled, stored). */
extern long lf_zone_fault_after;
#endif

#endif
