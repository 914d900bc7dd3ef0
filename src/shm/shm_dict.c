/* shm_dict.c - the store behind ngx.shared.DICT (see shm_dict.h).
 *
 * An item is one chain of chunks: a 48-byte header, the key, then a
 * string's bytes (a number or boolean lives in the header).  A list's
 * chain goes on into its elements, each a 20-byte element header and its
 * value, so the whole item is still one chain and frees in O(1) journal
 * writes.  Items hang in a hash table (chained through hnext) and in one
 * LRU list (prev/next), most recently used at the head.
 *
 * Every store into a live structure is journalled (lf_zone_set32/64);
 * bytes go unjournalled only into chunks the current update allocated.
 * Updates commit at unlock, and between removals when one call removes
 * many items (each removal is then a whole update of its own). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "shm_dict.h"

#define DICT_MAGIC 0x6c666463 /* "lfdc" */
#define ITEM_HDR 48
#define ELEM_HDR 20
#define EVICT_TRIES 30        /* as lua-nginx-module */

typedef struct {
    uint32_t hnext;           /* next item in the hash bucket */
    uint32_t prev, next;      /* LRU neighbours (prev: more recent) */
    uint32_t hash;
    uint32_t nchunks;         /* of the whole chain, list elements included */
    uint32_t vlen;            /* a string's length; a list's element count */
    uint32_t flags;           /* the user's flags */
    uint32_t kt;              /* key length | type << 16 */
    uint64_t expires;         /* ms on CLOCK_MONOTONIC, 0 = never */
    union {
        uint64_t num;         /* a double's bits, a boolean as 0/1 */
        struct {
            uint32_t first, last; /* a list's first and last elements */
        } l;
    } u;
} item_t;

typedef struct {
    uint32_t prev;            /* the element before, NIL for the first */
    uint32_t last;            /* its own last chunk (links to the next element) */
    uint32_t nchunks;
    uint32_t len;
    uint32_t type;
} elem_t;

typedef struct {
    uint32_t magic;
    uint32_t nbuckets;        /* a power of two */
    uint32_t lru_head, lru_tail;
    uint32_t nitems;
    uint64_t key[2];          /* dict_hash's */
    uint32_t buckets[];
} dict_hdr_t;

_Static_assert(sizeof(item_t) == ITEM_HDR, "item header size");
_Static_assert(sizeof(elem_t) == ELEM_HDR, "element header size");
_Static_assert(ITEM_HDR <= LF_ZONE_PAYLOAD, "item header fits a chunk");

static const char *const errors[] = {
    "", "not found", "exists", "no memory", "not a number", "value not a list",
    "value is a list", "attempt to add or replace nil values", "shared dict lock failed",
};

const char *lf_dict_strerror(int rc)
{
    if (rc > 0 || -rc >= (int)(sizeof(errors) / sizeof(errors[0])))
        return "unknown error";
    return errors[-rc];
}

static inline dict_hdr_t *DH(lf_dict_t *d)
{
    return lf_zone_reserved(&d->zone);
}

static inline item_t *IT(lf_dict_t *d, uint32_t i)
{
    return (item_t *)lf_zone_chunk(&d->zone, i);
}

static inline elem_t *EL(lf_dict_t *d, uint32_t i)
{
    return (elem_t *)lf_zone_chunk(&d->zone, i);
}

static inline uint32_t item_klen(const item_t *it)
{
    return it->kt & 0xffff;
}

static inline uint32_t item_type(const item_t *it)
{
    return it->kt >> 16;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline int expired(const item_t *it, uint64_t now)
{
    return it->expires != 0 && it->expires <= now;
}

static uint64_t expiry(uint64_t now, int64_t ms)
{
    return ms > 0 ? now + (uint64_t)ms : 0;
}

/* SipHash-1-3 (Aumasson and Bernstein) keyed per zone: keys come from
 * clients, and an unkeyed or merely seeded hash lets them be chosen to
 * fall into one bucket, each lookup then walking them all under the
 * zone's lock. */
#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3)                                                              \
    do {                                                                                       \
        v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0; v0 = SIP_ROTL(v0, 32);                        \
        v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2;                                               \
        v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0;                                               \
        v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2; v2 = SIP_ROTL(v2, 32);                        \
    } while (0)

static uint64_t sip_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t siphash13(const uint64_t k[2], const unsigned char *m, size_t len)
{
    uint64_t v0 = k[0] ^ 0x736f6d6570736575ull, v1 = k[1] ^ 0x646f72616e646f6dull;
    uint64_t v2 = k[0] ^ 0x6c7967656e657261ull, v3 = k[1] ^ 0x7465646279746573ull;
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t w = sip_le64(m + i);
        v3 ^= w;
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= w;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)m[full + i] << (8 * i);
    v3 ^= b;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

static uint32_t dict_hash(const lf_dict_t *d, const char *key, size_t len)
{
    const dict_hdr_t *h = lf_zone_reserved(&d->zone);
    uint64_t x = siphash13(h->key, (const unsigned char *)key, len);
    return (uint32_t)(x ^ (x >> 32));
}

/* The zone's hash key: the kernel's randomness (a mix of the clock and
 * the pid only if it has none to give). */
static void random_key(uint64_t key[2])
{
    unsigned char buf[16];
    ssize_t n = getrandom(buf, sizeof(buf), GRND_NONBLOCK);
    if (n == (ssize_t)sizeof(buf)) {
        key[0] = sip_le64(buf);
        key[1] = sip_le64(buf + 8);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
    key[1] = (uint64_t)getpid() * 0xbf58476d1ce4e5b9ull ^ (uint64_t)(uintptr_t)&ts;
}

int lf_dict_create(lf_dict_t *d, const char *name, size_t size)
{
    if (strlen(name) > LF_DICT_NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    size_t want = size;
    size -= size % LF_ZONE_CHUNK;
    /* About two chunks per bucket: a bucket holds few items even when
     * every item is as small as one chunk. */
    uint32_t nb = 16;
    while ((size_t)nb * 2 * LF_ZONE_CHUNK < size)
        nb <<= 1;
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s", name);
    if (lf_zone_create(&d->zone, size, sizeof(dict_hdr_t) + (size_t)nb * sizeof(uint32_t)) != 0)
        return -1;
    dict_hdr_t *h = DH(d);
    h->magic = DICT_MAGIC;
    h->nbuckets = nb;
    random_key(h->key);
    d->size = want;
    d->refs = 1;
    return 0;
}

void lf_dict_destroy(lf_dict_t *d)
{
    lf_zone_destroy(&d->zone);
}

/* The item for key, or NIL; *link gets the word that points at it. */
static uint32_t dict_find(lf_dict_t *d, const char *key, size_t klen, uint32_t hash,
                          uint32_t **link)
{
    dict_hdr_t *h = DH(d);
    uint32_t *p = &h->buckets[hash & (h->nbuckets - 1)];
    while (*p != LF_ZONE_NIL) {
        item_t *it = IT(d, *p);
        if (it->hash == hash && item_klen(it) == klen &&
            lf_zone_cmp(&d->zone, *p, ITEM_HDR, key, klen) == 0) {
            if (link)
                *link = p;
            return *p;
        }
        p = &it->hnext;
    }
    return LF_ZONE_NIL;
}

static uint32_t *dict_link_of(lf_dict_t *d, uint32_t i)
{
    dict_hdr_t *h = DH(d);
    uint32_t *p = &h->buckets[IT(d, i)->hash & (h->nbuckets - 1)];
    while (*p != i && *p != LF_ZONE_NIL)
        p = &IT(d, *p)->hnext;
    return p;
}

static void lru_unlink(lf_dict_t *d, uint32_t i)
{
    dict_hdr_t *h = DH(d);
    item_t *it = IT(d, i);
    lf_zone_t *z = &d->zone;
    if (it->prev)
        lf_zone_set32(z, &IT(d, it->prev)->next, it->next);
    else
        lf_zone_set32(z, &h->lru_head, it->next);
    if (it->next)
        lf_zone_set32(z, &IT(d, it->next)->prev, it->prev);
    else
        lf_zone_set32(z, &h->lru_tail, it->prev);
}

static void lru_push_head(lf_dict_t *d, uint32_t i)
{
    dict_hdr_t *h = DH(d);
    item_t *it = IT(d, i);
    lf_zone_t *z = &d->zone;
    lf_zone_set32(z, &it->prev, LF_ZONE_NIL);
    lf_zone_set32(z, &it->next, h->lru_head);
    if (h->lru_head)
        lf_zone_set32(z, &IT(d, h->lru_head)->prev, i);
    else
        lf_zone_set32(z, &h->lru_tail, i);
    lf_zone_set32(z, &h->lru_head, i);
}

static void lru_touch(lf_dict_t *d, uint32_t i)
{
    if (DH(d)->lru_head == i)
        return;
    lru_unlink(d, i);
    lru_push_head(d, i);
}

/* The last chunk of the item's key part (before a list's elements). */
static uint32_t item_key_last(lf_dict_t *d, uint32_t i)
{
    return lf_zone_walk(&d->zone, i, lf_zone_chunks_for(ITEM_HDR + item_klen(IT(d, i))) - 1);
}

static uint32_t item_last(lf_dict_t *d, uint32_t i)
{
    item_t *it = IT(d, i);
    if (item_type(it) == LF_DICT_LIST)
        return it->u.l.last ? EL(d, it->u.l.last)->last : item_key_last(d, i);
    return lf_zone_walk(&d->zone, i, it->nchunks - 1);
}

/* Take item i out of the index and the LRU list and free its chain. */
static void item_remove(lf_dict_t *d, uint32_t i, uint32_t *link)
{
    lf_zone_t *z = &d->zone;
    item_t *it = IT(d, i);
    if (link == NULL)
        link = dict_link_of(d, i);
    lf_zone_set32(z, link, it->hnext);
    lru_unlink(d, i);
    lf_zone_free(z, i, item_last(d, i), it->nchunks);
    lf_zone_set32(z, &DH(d)->nitems, DH(d)->nitems - 1);
}

/* Hook a new item (written in fresh chunks) into the index and the LRU. */
static void item_insert(lf_dict_t *d, uint32_t i)
{
    dict_hdr_t *h = DH(d);
    item_t *it = IT(d, i);
    uint32_t *bucket = &h->buckets[it->hash & (h->nbuckets - 1)];
    it->hnext = *bucket;
    it->prev = LF_ZONE_NIL;
    it->next = h->lru_head;
    lf_zone_set32(&d->zone, bucket, i);
    if (h->lru_head)
        lf_zone_set32(&d->zone, &IT(d, h->lru_head)->prev, i);
    else
        lf_zone_set32(&d->zone, &h->lru_tail, i);
    lf_zone_set32(&d->zone, &h->lru_head, i);
    lf_zone_set32(&d->zone, &h->nitems, h->nitems + 1);
}

/* lua-nginx-module's expire(): force = 0 removes up to two expired items
 * at the LRU's tail; force = 1 removes the tail item whatever it is, then
 * up to two expired ones.  Each removal commits on its own. */
static int dict_reclaim(lf_dict_t *d, uint64_t now, int force)
{
    int freed = 0;
    for (int k = force ? 0 : 1; k < 3; k++) {
        uint32_t t = DH(d)->lru_tail;
        if (t == LF_ZONE_NIL)
            break;
        if (k != 0 && !expired(IT(d, t), now))
            break;
        item_remove(d, t, NULL);
        lf_zone_commit(&d->zone);
        freed++;
    }
    return freed;
}

/* n chunks, evicting LRU items when allowed (*forcible set then). */
static uint32_t dict_alloc(lf_dict_t *d, uint32_t n, int evict, uint64_t now, int *forcible)
{
    uint32_t c = lf_zone_alloc(&d->zone, n, NULL);
    if (c != LF_ZONE_NIL || !evict)
        return c;
    for (int i = 0; i < EVICT_TRIES; i++) {
        if (dict_reclaim(d, now, 1) == 0)
            break;
        if (forcible)
            *forcible = 1;
        c = lf_zone_alloc(&d->zone, n, NULL);
        if (c != LF_ZONE_NIL)
            return c;
    }
    return LF_ZONE_NIL;
}

static int dict_lock(lf_dict_t *d)
{
    int rc = lf_zone_lock(&d->zone);
    if (rc == 1)
        lf_log(LF_LOG_WARN, "shared dict \"%s\": a process died holding its lock; its unfinished "
               "update was undone", d->name);
    else if (rc < 0)
        lf_log_every(LF_LOG_REPEAT_SECS, LF_LOG_ALERT, errno, "shared dict \"%s\": lock failed",
                     d->name);
    return rc < 0 ? LF_DICT_ELOCK : 0;
}

static void dict_unlock(lf_dict_t *d)
{
    lf_zone_unlock(&d->zone);
}

static void num_out(lf_dict_out_t *out, uint64_t bits)
{
    memcpy(&out->num, &bits, sizeof(out->num));
}

static uint64_t num_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof(b));
    return b;
}

int lf_dict_get(lf_dict_t *d, const char *key, size_t klen, int stale_ok, lf_dict_out_t *out,
                lf_dict_reserve_t reserve, void *ud)
{
    uint32_t hash = dict_hash(d, key, klen);
    out->type = LF_DICT_NIL;
    out->stale = 0;
    if (dict_lock(d) != 0)
        return LF_DICT_ELOCK;
    uint64_t now = now_ms();
    if (!stale_ok)
        dict_reclaim(d, now, 0);
    int rc = LF_DICT_OK;
    uint32_t i = dict_find(d, key, klen, hash, NULL);
    if (i == LF_ZONE_NIL)
        goto done;
    item_t *it = IT(d, i);
    int old = expired(it, now);
    if (old && !stale_ok)
        goto done;
    if (!old)
        lru_touch(d, i);
    switch (item_type(it)) {
    case LF_DICT_LIST:
        rc = LF_DICT_EISLIST;
        goto done;
    case LF_DICT_STR:
        out->len = it->vlen;
        out->str = reserve(ud, it->vlen);
        if (out->str == NULL) {
            rc = LF_DICT_ENOMEM;
            goto done;
        }
        lf_zone_read(&d->zone, i, ITEM_HDR + item_klen(it), out->str, it->vlen);
        break;
    default:
        num_out(out, it->u.num);
        break;
    }
    out->type = (int)item_type(it);
    out->flags = it->flags;
    out->stale = old;
done:
    dict_unlock(d);
    return rc;
}

/* Write a new item into the fresh chain i of n chunks (not linked yet). */
static void item_fill(lf_dict_t *d, uint32_t i, uint32_t n, const char *key, size_t klen,
                      uint32_t hash, const lf_dict_value_t *v, uint64_t expires, uint32_t flags)
{
    size_t vlen = v->type == LF_DICT_STR ? v->len : 0;
    item_t *it = IT(d, i);
    memset(it, 0, ITEM_HDR);
    it->hash = hash;
    it->nchunks = n;
    it->vlen = (uint32_t)vlen;
    it->flags = flags;
    it->kt = (uint32_t)klen | (uint32_t)v->type << 16;
    it->expires = expires;
    if (v->type == LF_DICT_NUM || v->type == LF_DICT_BOOL)
        it->u.num = num_bits(v->num);
    lf_zone_write(&d->zone, i, ITEM_HDR, key, klen);
    if (vlen)
        lf_zone_write(&d->zone, i, ITEM_HDR + klen, v->str, vlen);
}

static uint32_t item_chunks(size_t klen, const lf_dict_value_t *v)
{
    return lf_zone_chunks_for(ITEM_HDR + klen + (v->type == LF_DICT_STR ? v->len : 0));
}

/* A new item's chain, written but not yet linked; NIL when no memory. */
static uint32_t item_new(lf_dict_t *d, const char *key, size_t klen, uint32_t hash,
                         const lf_dict_value_t *v, uint64_t expires, uint32_t flags, int evict,
                         uint64_t now, int *forcible)
{
    uint32_t n = item_chunks(klen, v);
    uint32_t i = dict_alloc(d, n, evict, now, forcible);
    if (i != LF_ZONE_NIL)
        item_fill(d, i, n, key, klen, hash, v, expires, flags);
    return i;
}

/* Replace item old by a new one in one update, when there is room for
 * both for a moment: the new item then exists entirely or not at all,
 * whenever the process dies.  NIL when there is no room. */
static uint32_t item_swap(lf_dict_t *d, uint32_t old, uint32_t *link, const char *key,
                          size_t klen, uint32_t hash, const lf_dict_value_t *v, uint64_t expires,
                          uint32_t flags)
{
    uint32_t n = item_chunks(klen, v);
    uint32_t i = lf_zone_alloc(&d->zone, n, NULL);
    if (i == LF_ZONE_NIL)
        return i;
    item_fill(d, i, n, key, klen, hash, v, expires, flags);
    item_remove(d, old, link);
    item_insert(d, i);
    return i;
}

int lf_dict_store(lf_dict_t *d, int op, const char *key, size_t klen, const lf_dict_value_t *v,
                  int64_t exptime_ms, uint32_t flags, int *forcible)
{
    *forcible = 0;
    if (v->type == LF_DICT_NIL && (op & (LF_DICT_ADD | LF_DICT_REPLACE)))
        return LF_DICT_ENILVAL;
    uint32_t hash = dict_hash(d, key, klen);
    if (dict_lock(d) != 0)
        return LF_DICT_ELOCK;
    uint64_t now = now_ms();
    dict_reclaim(d, now, 0);
    int rc = LF_DICT_OK;
    uint32_t *link = NULL;
    uint32_t i = dict_find(d, key, klen, hash, &link);
    int live = i != LF_ZONE_NIL && !expired(IT(d, i), now);
    if ((op & LF_DICT_REPLACE) && !live) {
        rc = LF_DICT_ENOTFOUND;
        goto done;
    }
    if ((op & LF_DICT_ADD) && live) {
        rc = LF_DICT_EEXISTS;
        goto done;
    }
    if (i != LF_ZONE_NIL) {
        item_t *it = IT(d, i);
        uint32_t t = item_type(it);
        if (v->type != LF_DICT_NIL && v->type != LF_DICT_STR && (t == LF_DICT_NUM || t == LF_DICT_BOOL)) {
            /* A number or boolean over one: its header words, in place. */
            lru_touch(d, i);
            lf_zone_set64(&d->zone, &it->expires, expiry(now, exptime_ms));
            lf_zone_set32(&d->zone, &it->flags, flags);
            lf_zone_set32(&d->zone, &it->kt, (uint32_t)klen | (uint32_t)v->type << 16);
            lf_zone_set64(&d->zone, &it->u.num, num_bits(v->num));
            goto done;
        }
        if (v->type != LF_DICT_NIL &&
            item_swap(d, i, link, key, klen, hash, v, expiry(now, exptime_ms), flags) != LF_ZONE_NIL)
            goto done;
        /* No room for both: the old item goes first, its space may be
         * what the new one needs (as in lua-nginx-module).  Its chunks
         * are reused only after that removal has committed: a rollback
         * must find them as they were. */
        item_remove(d, i, link);
        lf_zone_commit(&d->zone);
    }
    if (v->type == LF_DICT_NIL)
        goto done;
    i = item_new(d, key, klen, hash, v, expiry(now, exptime_ms), flags, !(op & LF_DICT_SAFE), now,
                 forcible);
    if (i == LF_ZONE_NIL) {
        rc = LF_DICT_ENOMEM;
        goto done;
    }
    item_insert(d, i);
done:
    dict_unlock(d);
    return rc;
}

int lf_dict_incr(lf_dict_t *d, const char *key, size_t klen, double delta, int has_init,
                 double init, int64_t init_ttl_ms, double *result, int *forcible)
{
    *forcible = 0;
    uint32_t hash = dict_hash(d, key, klen);
    if (dict_lock(d) != 0)
        return LF_DICT_ELOCK;
    uint64_t now = now_ms();
    dict_reclaim(d, now, 0);
    int rc = LF_DICT_OK;
    uint32_t *link = NULL;
    uint32_t i = dict_find(d, key, klen, hash, &link);
    if (i != LF_ZONE_NIL && !expired(IT(d, i), now)) {
        item_t *it = IT(d, i);
        if (item_type(it) != LF_DICT_NUM) {
            rc = LF_DICT_ENOTNUM;
            goto done;
        }
        lru_touch(d, i);
        double n;
        memcpy(&n, &it->u.num, sizeof(n));
        n += delta;
        lf_zone_set64(&d->zone, &it->u.num, num_bits(n));
        *result = n;
        goto done;
    }
    if (!has_init) {
        rc = LF_DICT_ENOTFOUND;
        goto done;
    }
    double n = init + delta;
    if (i != LF_ZONE_NIL) {
        item_t *it = IT(d, i);
        uint32_t t = item_type(it);
        if (t == LF_DICT_NUM || t == LF_DICT_BOOL) {
            /* An expired number: reused in place. */
            lru_touch(d, i);
            lf_zone_set32(&d->zone, &it->flags, 0);
            lf_zone_set64(&d->zone, &it->expires, expiry(now, init_ttl_ms));
            lf_zone_set32(&d->zone, &it->kt, (uint32_t)klen | (uint32_t)LF_DICT_NUM << 16);
            lf_zone_set64(&d->zone, &it->u.num, num_bits(n));
            *result = n;
            goto done;
        }
        item_remove(d, i, link);
        lf_zone_commit(&d->zone);
    }
    lf_dict_value_t v = {.type = LF_DICT_NUM, .num = n};
    i = item_new(d, key, klen, hash, &v, expiry(now, init_ttl_ms), 0, 1, now, forcible);
    if (i == LF_ZONE_NIL) {
        rc = LF_DICT_ENOMEM;
        goto done;
    }
    item_insert(d, i);
    *result = n;
done:
    dict_unlock(d);
    return rc;
}

int lf_dict_ttl(lf_dict_t *d, const char *key, size_t klen, int64_t *ms)
{
    uint32_t hash = dict_hash(d, key, klen);
    if (dict_lock(d) != 0)
        return LF_DICT_ELOCK;
    int rc = LF_DICT_OK;
    uint32_t i = dict_find(d, key, klen, hash, NULL);
    if (i == LF_ZONE_NIL)
        rc = LF_DICT_ENOTFOUND;
    else
        *ms = IT(d, i)->expires ? (int64_t)IT(d, i)->expires - (int64_t)now_ms() : 0;
    dict_unlock(d);
    return rc;
}

int lf_dict_expire(lf_dict_t *d, const char *key, size_t klen, int64_t exptime_ms)
{
    uint32_t hash = dict_hash(d, key, klen);
    if (dict_lock(d) != 0)
        return LF_DICT_ELOCK;
    int rc = LF_DICT_OK;
    uint32_t i = dict_find(d, key, klen, hash, NULL);
    if (i == LF_ZONE_NIL)
        rc = LF_DICT_ENOTFOUND;
    else
        lf_zone_set64(&d->zone, &IT(d, i)->expires, expiry(now_ms(), exptime_ms));
    dict_unlock(d);
    return rc;
}

/* As lua-nginx-module: every item is marked expired (reads miss it at
 * once), and the memory comes back as stores reclaim the tail or
 * flush_expired runs. */
void lf_dict_flush_all(lf_dict_t *d)
{
    if (dict_lock(d) != 0)
        return;
    for (uint32_t i = DH(d)->lru_head; i != LF_ZONE_NIL; i = IT(d, i)->next) {
        lf_zone_set64(&d->zone, &IT(d, i)->expires, 1);
        lf_zone_commit(&d->zone);
    }
    dict_reclaim(d, now_ms(), 1);
    dict_unlock(d);
}

int lf_dict_flush_expired(lf_dict_t *d, int max)
{
    if (dict_lock(d) != 0)
        return 0;
    uint64_t now = now_ms();
    int freed = 0;
    uint32_t i = DH(d)->lru_tail;
    while (i != LF_ZONE_NIL) {
        uint32_t prev = IT(d, i)->prev;
        if (expired(IT(d, i), now)) {
            item_remove(d, i, NULL);
            lf_zone_commit(&d->zone);
            if (++freed == max)
                break;
        }
        i = prev;
    }
    dict_unlock(d);
    return freed;
}

int lf_dict_keys(lf_dict_t *d, int max, lf_dict_reserve_t reserve, void *ud, char **packed)
{
    if (dict_lock(d) != 0)
        return LF_DICT_ELOCK;
    uint64_t now = now_ms();
    size_t bytes = 0;
    int n = 0;
    for (uint32_t i = DH(d)->lru_tail; i != LF_ZONE_NIL && (max <= 0 || n < max); i = IT(d, i)->prev)
        if (!expired(IT(d, i), now)) {
            bytes += 2 + item_klen(IT(d, i));
            n++;
        }
    char *p = reserve(ud, bytes);
    if (p == NULL) {
        dict_unlock(d);
        return LF_DICT_ENOMEM;
    }
    *packed = p;
    int k = 0;
    for (uint32_t i = DH(d)->lru_tail; i != LF_ZONE_NIL && k < n; i = IT(d, i)->prev) {
        item_t *it = IT(d, i);
        if (expired(it, now))
            continue;
        uint16_t len = (uint16_t)item_klen(it);
        memcpy(p, &len, 2);
        lf_zone_read(&d->zone, i, ITEM_HDR, p + 2, len);
        p += 2 + len;
        k++;
    }
    dict_unlock(d);
    return n;
}

/* Empty list item i of its elements (an expired list pushed to again). */
static void list_clear(lf_dict_t *d, uint32_t i)
{
    item_t *it = IT(d, i);
    if (it->u.l.first) {
        uint32_t kl = item_key_last(d, i);
        uint32_t kchunks = lf_zone_chunks_for(ITEM_HDR + item_klen(it));
        lf_zone_free(&d->zone, it->u.l.first, EL(d, it->u.l.last)->last, it->nchunks - kchunks);
        lf_zone_set32(&d->zone, lf_zone_next(&d->zone, kl), LF_ZONE_NIL);
        lf_zone_set32(&d->zone, &it->u.l.first, LF_ZONE_NIL);
        lf_zone_set32(&d->zone, &it->u.l.last, LF_ZONE_NIL);
        lf_zone_set32(&d->zone, &it->nchunks, kchunks);
    }
    lf_zone_set32(&d->zone, &it->vlen, 0);
    lf_zone_set64(&d->zone, &it->expires, 0);
}

int lf_dict_push(lf_dict_t *d, int left, const char *key, size_t klen, const lf_dict_value_t *v,
                 uint32_t *len)
{
    uint32_t hash = dict_hash(d, key, klen);
    if (dict_lock(d) != 0)
        return LF_DICT_ELOCK;
    lf_zone_t *z = &d->zone;
    uint64_t now = now_ms();
    dict_reclaim(d, now, 0);
    int rc = LF_DICT_OK;
    uint32_t *link = NULL;
    uint32_t i = dict_find(d, key, klen, hash, &link);
    if (i != LF_ZONE_NIL) {
        item_t *it = IT(d, i);
        int old = expired(it, now);
        if (item_type(it) != LF_DICT_LIST) {
            if (!old) {
                rc = LF_DICT_ENOTLIST;
                goto done;
            }
            item_remove(d, i, link);
            lf_zone_commit(z);
            i = LF_ZONE_NIL;
        } else {
            if (old) {
                list_clear(d, i);
                lf_zone_commit(z); /* before its chunks can be reused */
            }
            lru_touch(d, i);
        }
    }
    if (i == LF_ZONE_NIL) {
        /* lua-nginx-module evicts nothing for lists: "no memory" at once. */
        lf_dict_value_t list = {.type = LF_DICT_LIST};
        i = item_new(d, key, klen, hash, &list, 0, 0, 0, now, NULL);
        if (i == LF_ZONE_NIL) {
            rc = LF_DICT_ENOMEM;
            goto done;
        }
        item_insert(d, i);
    }
    size_t vlen = v->type == LF_DICT_STR ? v->len : sizeof(double);
    uint32_t en = lf_zone_chunks_for(ELEM_HDR + vlen), elast;
    uint32_t e = lf_zone_alloc(z, en, &elast);
    item_t *it = IT(d, i);
    if (e == LF_ZONE_NIL) {
        if (it->vlen == 0)
            item_remove(d, i, NULL);
        rc = LF_DICT_ENOMEM;
        goto done;
    }
    elem_t *el = EL(d, e);
    el->last = elast;
    el->nchunks = en;
    el->len = (uint32_t)vlen;
    el->type = (uint32_t)v->type;
    if (v->type == LF_DICT_STR) {
        lf_zone_write(z, e, ELEM_HDR, v->str, vlen);
    } else {
        uint64_t b = num_bits(v->num);
        lf_zone_write(z, e, ELEM_HDR, &b, sizeof(b));
    }
    if (left || it->u.l.last == LF_ZONE_NIL) {
        /* At the front: after the key, before the first element. */
        uint32_t kl = item_key_last(d, i);
        el->prev = LF_ZONE_NIL;
        *lf_zone_next(z, elast) = *lf_zone_next(z, kl);
        lf_zone_set32(z, lf_zone_next(z, kl), e);
        if (it->u.l.first)
            lf_zone_set32(z, &EL(d, it->u.l.first)->prev, e);
        else
            lf_zone_set32(z, &it->u.l.last, e);
        lf_zone_set32(z, &it->u.l.first, e);
    } else {
        el->prev = it->u.l.last;
        lf_zone_set32(z, lf_zone_next(z, EL(d, it->u.l.last)->last), e);
        lf_zone_set32(z, &it->u.l.last, e);
    }
    lf_zone_set32(z, &it->vlen, it->vlen + 1);
    lf_zone_set32(z, &it->nchunks, it->nchunks + en);
    *len = it->vlen;
done:
    dict_unlock(d);
    return rc;
}

int lf_dict_pop(lf_dict_t *d, int left, const char *key, size_t klen, lf_dict_out_t *out,
                lf_dict_reserve_t reserve, void *ud)
{
    uint32_t hash = dict_hash(d, key, klen);
    out->type = LF_DICT_NIL;
    if (dict_lock(d) != 0)
        return LF_DICT_ELOCK;
    lf_zone_t *z = &d->zone;
    uint64_t now = now_ms();
    dict_reclaim(d, now, 0);
    int rc = LF_DICT_OK;
    uint32_t *link = NULL;
    uint32_t i = dict_find(d, key, klen, hash, &link);
    if (i == LF_ZONE_NIL || expired(IT(d, i), now))
        goto done;
    item_t *it = IT(d, i);
    if (item_type(it) != LF_DICT_LIST) {
        rc = LF_DICT_ENOTLIST;
        goto done;
    }
    uint32_t e = left ? it->u.l.first : it->u.l.last;
    if (e == LF_ZONE_NIL) /* not reached: an emptied list is removed */
        goto done;
    elem_t *el = EL(d, e);
    if (el->type == LF_DICT_STR) {
        out->str = reserve(ud, el->len);
        if (out->str == NULL) {
            rc = LF_DICT_ENOMEM;
            goto done;
        }
        out->len = el->len;
        lf_zone_read(z, e, ELEM_HDR, out->str, el->len);
    } else {
        uint64_t b;
        lf_zone_read(z, e, ELEM_HDR, &b, sizeof(b));
        num_out(out, b);
    }
    out->type = (int)el->type;
    if (it->vlen <= 1) {
        item_remove(d, i, link);
        goto done;
    }
    uint32_t en = el->nchunks;
    if (left) {
        uint32_t after = *lf_zone_next(z, el->last);
        lf_zone_set32(z, lf_zone_next(z, item_key_last(d, i)), after);
        lf_zone_set32(z, &EL(d, after)->prev, LF_ZONE_NIL);
        lf_zone_set32(z, &it->u.l.first, after);
    } else {
        uint32_t before = el->prev;
        lf_zone_set32(z, lf_zone_next(z, EL(d, before)->last), LF_ZONE_NIL);
        lf_zone_set32(z, &it->u.l.last, before);
    }
    lf_zone_free(z, e, el->last, en);
    lf_zone_set32(z, &it->vlen, it->vlen - 1);
    lf_zone_set32(z, &it->nchunks, it->nchunks - en);
    lru_touch(d, i);
done:
    dict_unlock(d);
    return rc;
}

int lf_dict_llen(lf_dict_t *d, const char *key, size_t klen, uint32_t *len)
{
    uint32_t hash = dict_hash(d, key, klen);
    *len = 0;
    if (dict_lock(d) != 0)
        return LF_DICT_ELOCK;
    uint64_t now = now_ms();
    dict_reclaim(d, now, 0);
    int rc = LF_DICT_OK;
    uint32_t i = dict_find(d, key, klen, hash, NULL);
    if (i != LF_ZONE_NIL && !expired(IT(d, i), now)) {
        if (item_type(IT(d, i)) != LF_DICT_LIST) {
            rc = LF_DICT_ENOTLIST;
        } else {
            lru_touch(d, i);
            *len = IT(d, i)->vlen;
        }
    }
    dict_unlock(d);
    return rc;
}

void lf_dict_stats(lf_dict_t *d, lf_dict_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    st->capacity = d->size;
    if (dict_lock(d) != 0)
        return;
    lf_zone_hdr_t *h = lf_zone_hdr(&d->zone);
    st->free_space = ((size_t)h->free_count * LF_ZONE_CHUNK) & ~(size_t)4095;
    st->items = DH(d)->nitems;
    st->recoveries = h->recoveries;
    dict_unlock(d);
}

/* Mark the n chunks of the chain from c as used; the chunk after them. */
static const char *mark_chain(lf_dict_t *d, uint32_t c, uint32_t n, unsigned char *seen,
                              uint32_t *after, uint32_t *last)
{
    const lf_zone_hdr_t *zh = lf_zone_hdr(&d->zone);
    for (uint32_t k = 0; k < n; k++) {
        if (c < zh->first_chunk || c >= zh->nchunks)
            return "a chain leaves the zone";
        if (seen[c])
            return "a chunk is in two chains";
        seen[c] = 1;
        *last = c;
        c = *lf_zone_next(&d->zone, c);
    }
    *after = c;
    return NULL;
}

static const char *check_item(lf_dict_t *d, uint32_t i, unsigned char *seen, char *key)
{
    item_t *it = IT(d, i);
    uint32_t klen = item_klen(it), t = item_type(it), after, last;
    if (t != LF_DICT_STR && t != LF_DICT_NUM && t != LF_DICT_BOOL && t != LF_DICT_LIST)
        return "an item of an unknown type";
    lf_zone_read(&d->zone, i, ITEM_HDR, key, klen);
    if (dict_hash(d, key, klen) != it->hash)
        return "an item's hash does not match its key";
    uint32_t *link = NULL;
    if (dict_find(d, key, klen, it->hash, &link) != i)
        return "an item is not found by its key";
    if (t != LF_DICT_LIST) {
        if (it->nchunks != lf_zone_chunks_for(ITEM_HDR + klen + (t == LF_DICT_STR ? it->vlen : 0)))
            return "an item's chunk count is wrong";
        const char *e = mark_chain(d, i, it->nchunks, seen, &after, &last);
        if (e)
            return e;
        return after == LF_ZONE_NIL ? NULL : "an item's chain does not end";
    }
    uint32_t kchunks = lf_zone_chunks_for(ITEM_HDR + klen), total = kchunks, count = 0;
    const char *e = mark_chain(d, i, kchunks, seen, &after, &last);
    if (e)
        return e;
    if (after != it->u.l.first)
        return "a list's first element does not follow its key";
    uint32_t prev = LF_ZONE_NIL;
    for (uint32_t el = it->u.l.first; el != LF_ZONE_NIL; el = after) {
        elem_t *x = EL(d, el);
        if (x->prev != prev)
            return "a list element's back link is wrong";
        if (x->nchunks != lf_zone_chunks_for(ELEM_HDR + x->len))
            return "a list element's chunk count is wrong";
        if (x->type != LF_DICT_STR && !(x->type == LF_DICT_NUM && x->len == sizeof(double)))
            return "a list element of an unknown type";
        if ((e = mark_chain(d, el, x->nchunks, seen, &after, &last)) != NULL)
            return e;
        if (last != x->last)
            return "a list element's last chunk is wrong";
        total += x->nchunks;
        count++;
        prev = el;
        if (count > it->vlen)
            break;
    }
    if (prev != it->u.l.last)
        return "a list's last element is wrong";
    if (count != it->vlen || count == 0)
        return "a list's length is wrong";
    if (total != it->nchunks)
        return "a list's chunk count is wrong";
    return NULL;
}

const char *lf_dict_check(lf_dict_t *d)
{
    if (dict_lock(d) != 0)
        return "the lock failed";
    static char msg[160];
    const char *bad = NULL;
    const lf_zone_hdr_t *zh = lf_zone_hdr(&d->zone);
    dict_hdr_t *h = DH(d);
    unsigned char *seen = calloc(zh->nchunks, 1);
    char *key = malloc(65536);
    if (seen == NULL || key == NULL) {
        free(seen);
        free(key);
        dict_unlock(d);
        return "out of memory";
    }
    if (h->magic != DICT_MAGIC) {
        bad = "bad dict magic";
        goto out;
    }
    if ((bad = lf_zone_check_free(&d->zone, seen)) != NULL)
        goto out;
    uint32_t n = 0, prev = LF_ZONE_NIL;
    for (uint32_t i = h->lru_head; i != LF_ZONE_NIL; i = IT(d, i)->next) {
        if (i < zh->first_chunk || i >= zh->nchunks || seen[i]) {
            bad = "the LRU list points at a chunk not an item's";
            goto out;
        }
        if (IT(d, i)->prev != prev) {
            bad = "an LRU back link is wrong";
            goto out;
        }
        if ((bad = check_item(d, i, seen, key)) != NULL)
            goto out;
        prev = i;
        if (++n > h->nitems) {
            bad = "more items in the LRU list than counted";
            goto out;
        }
    }
    if (prev != h->lru_tail) {
        bad = "the LRU tail is wrong";
        goto out;
    }
    if (n != h->nitems) {
        bad = "fewer items in the LRU list than counted";
        goto out;
    }
    uint32_t inbuckets = 0;
    for (uint32_t b = 0; b < h->nbuckets; b++)
        for (uint32_t i = h->buckets[b]; i != LF_ZONE_NIL; i = IT(d, i)->hnext)
            if (++inbuckets > n) {
                bad = "more items in the index than in the LRU list";
                goto out;
            }
    if (inbuckets != n) {
        bad = "fewer items in the index than in the LRU list";
        goto out;
    }
    for (uint32_t c = zh->first_chunk; c < zh->nchunks; c++)
        if (!seen[c]) {
            snprintf(msg, sizeof(msg), "chunk %u is neither free nor an item's (lost)", c);
            bad = msg;
            goto out;
        }
out:
    free(seen);
    free(key);
    dict_unlock(d);
    return bad;
}
