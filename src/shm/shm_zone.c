/* shm_zone.c - a shared zone: mapping, robust lock, undo journal, chunk
 * chains (see shm_zone.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm_zone.h"

#define ZONE_MAGIC 0x6c66737a /* "lfsz" */

#ifdef LF_ZONE_FAULTS
long lf_zone_fault_after = -1;
#define FAULT_POINT()                                                          \
    do {                                                                       \
        if (lf_zone_fault_after >= 0 && lf_zone_fault_after-- == 0)            \
            _exit(99);                                                         \
    } while (0)
#else
#define FAULT_POINT() ((void)0)
#endif

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

int lf_zone_create(lf_zone_t *z, size_t size, size_t reserved)
{
    size_t head = align8(sizeof(lf_zone_hdr_t)) + reserved;
    if (size < LF_ZONE_MIN_SIZE || size % LF_ZONE_CHUNK || size / LF_ZONE_CHUNK > UINT32_MAX ||
        head + 2 * LF_ZONE_CHUNK > size) {
        errno = EINVAL;
        return -1;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    z->base = p;
    z->size = size;
    lf_zone_hdr_t *h = lf_zone_hdr(z);
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a) != 0)
        goto fail;
    int rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(&h->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (rc != 0) {
        errno = rc;
        goto fail;
    }
    h->magic = ZONE_MAGIC;
    h->size = size;
    h->nchunks = (uint32_t)(size / LF_ZONE_CHUNK);
    h->first_chunk = (uint32_t)((head + LF_ZONE_CHUNK - 1) / LF_ZONE_CHUNK);
    /* The free chain: every chunk after the reserved ones, in order. */
    for (uint32_t i = h->first_chunk; i < h->nchunks; i++)
        *lf_zone_next(z, i) = i + 1 < h->nchunks ? i + 1 : LF_ZONE_NIL;
    h->free_head = h->first_chunk;
    h->free_count = h->nchunks - h->first_chunk;
    return 0;
fail:
    rc = errno;
    munmap(p, size);
    z->base = NULL;
    errno = rc;
    return -1;
}

void lf_zone_destroy(lf_zone_t *z)
{
    if (z->base)
        munmap(z->base, z->size);
    z->base = NULL;
}

void *lf_zone_reserved(const lf_zone_t *z)
{
    return z->base + align8(sizeof(lf_zone_hdr_t));
}

/* Play the journal backwards: the interrupted update never happened.
 * Idempotent, so a recoverer that dies in here is recovered in turn. */
static void zone_rollback(lf_zone_t *z)
{
    lf_zone_hdr_t *h = lf_zone_hdr(z);
    uint32_t n = h->undo_n;
    if (n > LF_ZONE_UNDO_MAX)
        n = LF_ZONE_UNDO_MAX;
    for (uint32_t i = n; i-- > 0;) {
        const lf_zone_undo_t *u = &h->undo[i];
        if (u->off > z->size - u->len || (u->off & (u->len - 1)) != 0)
            continue;
        if (u->len == 4)
            __atomic_store_n((uint32_t *)(z->base + u->off), (uint32_t)u->old, __ATOMIC_RELAXED);
        else if (u->len == 8)
            __atomic_store_n((uint64_t *)(z->base + u->off), u->old, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&h->undo_n, 0, __ATOMIC_RELEASE);
}

int lf_zone_lock(lf_zone_t *z)
{
    lf_zone_hdr_t *h = lf_zone_hdr(z);
    int rc = pthread_mutex_lock(&h->lock);
    if (rc == 0)
        return 0;
    if (rc == EOWNERDEAD) {
        zone_rollback(z);
        h->recoveries++;
        if (pthread_mutex_consistent(&h->lock) != 0)
            return -1;
        return 1;
    }
    errno = rc;
    return -1;
}

void lf_zone_commit(lf_zone_t *z)
{
    FAULT_POINT();
    __atomic_store_n(&lf_zone_hdr(z)->undo_n, 0, __ATOMIC_RELEASE);
}

void lf_zone_unlock(lf_zone_t *z)
{
    lf_zone_commit(z);
    pthread_mutex_unlock(&lf_zone_hdr(z)->lock);
}

/* Journal the old value of the len bytes at p, then (the caller) store. */
static void zone_journal(lf_zone_t *z, void *p, uint32_t len, uint64_t old)
{
    lf_zone_hdr_t *h = lf_zone_hdr(z);
    uint32_t n = h->undo_n;
    if (n >= LF_ZONE_UNDO_MAX) {
        /* An update larger than the journal is a bug in the caller: stop
         * before anything is written that could not be undone. */
        static const char msg[] = "luafpm: shared zone journal overflow\n";
        ssize_t r = write(2, msg, sizeof(msg) - 1);
        (void)r;
        abort();
    }
    FAULT_POINT();
    h->undo[n].off = (uint32_t)((unsigned char *)p - z->base);
    h->undo[n].len = len;
    h->undo[n].old = old;
    /* The entry is complete before it counts, and counts before the store. */
    __atomic_store_n(&h->undo_n, n + 1, __ATOMIC_RELEASE);
    FAULT_POINT();
}

void lf_zone_set32(lf_zone_t *z, uint32_t *p, uint32_t v)
{
    zone_journal(z, p, 4, *p);
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

void lf_zone_set64(lf_zone_t *z, uint64_t *p, uint64_t v)
{
    zone_journal(z, p, 8, *p);
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

uint32_t lf_zone_walk(const lf_zone_t *z, uint32_t i, uint32_t steps)
{
    while (steps-- > 0 && i != LF_ZONE_NIL)
        i = *lf_zone_next(z, i);
    return i;
}

/* The free chain's first n chunks become the caller's chain: two links
 * and the count are all that change, whatever n. */
uint32_t lf_zone_alloc(lf_zone_t *z, uint32_t n, uint32_t *last)
{
    lf_zone_hdr_t *h = lf_zone_hdr(z);
    if (n == 0 || h->free_count < n)
        return LF_ZONE_NIL;
    uint32_t first = h->free_head;
    uint32_t end = lf_zone_walk(z, first, n - 1);
    lf_zone_set32(z, &h->free_head, *lf_zone_next(z, end));
    lf_zone_set32(z, lf_zone_next(z, end), LF_ZONE_NIL);
    lf_zone_set32(z, &h->free_count, h->free_count - n);
    if (last)
        *last = end;
    return first;
}

void lf_zone_free(lf_zone_t *z, uint32_t first, uint32_t last, uint32_t n)
{
    lf_zone_hdr_t *h = lf_zone_hdr(z);
    lf_zone_set32(z, lf_zone_next(z, last), h->free_head);
    lf_zone_set32(z, &h->free_head, first);
    lf_zone_set32(z, &h->free_count, h->free_count + n);
}

/* The chunk holding payload byte off of the chain, and the offset in it. */
static uint32_t zone_seek(const lf_zone_t *z, uint32_t first, size_t *off)
{
    uint32_t i = lf_zone_walk(z, first, (uint32_t)(*off / LF_ZONE_PAYLOAD));
    *off %= LF_ZONE_PAYLOAD;
    return i;
}

void lf_zone_write(lf_zone_t *z, uint32_t first, size_t off, const void *src, size_t len)
{
    const unsigned char *s = src;
    uint32_t i = zone_seek(z, first, &off);
    while (len > 0 && i != LF_ZONE_NIL) {
        size_t n = LF_ZONE_PAYLOAD - off;
        if (n > len)
            n = len;
        memcpy(lf_zone_chunk(z, i) + off, s, n);
        s += n, len -= n, off = 0;
        i = *lf_zone_next(z, i);
    }
}

void lf_zone_read(const lf_zone_t *z, uint32_t first, size_t off, void *dst, size_t len)
{
    unsigned char *d = dst;
    uint32_t i = zone_seek(z, first, &off);
    while (len > 0 && i != LF_ZONE_NIL) {
        size_t n = LF_ZONE_PAYLOAD - off;
        if (n > len)
            n = len;
        memcpy(d, lf_zone_chunk(z, i) + off, n);
        d += n, len -= n, off = 0;
        i = *lf_zone_next(z, i);
    }
}

int lf_zone_cmp(const lf_zone_t *z, uint32_t first, size_t off, const void *src, size_t len)
{
    const unsigned char *s = src;
    uint32_t i = zone_seek(z, first, &off);
    while (len > 0) {
        if (i == LF_ZONE_NIL)
            return 1;
        size_t n = LF_ZONE_PAYLOAD - off;
        if (n > len)
            n = len;
        if (memcmp(lf_zone_chunk(z, i) + off, s, n) != 0)
            return 1;
        s += n, len -= n, off = 0;
        i = *lf_zone_next(z, i);
    }
    return 0;
}

const char *lf_zone_check_free(const lf_zone_t *z, unsigned char *seen)
{
    const lf_zone_hdr_t *h = lf_zone_hdr(z);
    if (h->magic != ZONE_MAGIC)
        return "bad magic";
    if (h->undo_n != 0)
        return "journal not empty outside an update";
    if (h->free_count > h->nchunks - h->first_chunk)
        return "free count larger than the zone";
    uint32_t n = 0;
    for (uint32_t i = h->free_head; i != LF_ZONE_NIL; i = *lf_zone_next(z, i)) {
        if (i < h->first_chunk || i >= h->nchunks)
            return "free chain leaves the zone";
        if (seen[i])
            return "free chunk seen twice";
        seen[i] = 1;
        if (++n > h->free_count)
            return "free chain longer than its count";
    }
    if (n != h->free_count)
        return "free chain shorter than its count";
    return NULL;
}
