/* scoreboard.c - the shared scoreboard (see scoreboard.h).  One anonymous
 * shared mapping made by the master before it forks; seqlock per slot. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "scoreboard.h"

lf_scoreboard_t *lf_sb;
static lf_sb_slot_t *my_slot;

double lf_sb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int lf_sb_create(void)
{
    void *p = mmap(NULL, sizeof(lf_scoreboard_t), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    lf_sb = p; /* zero-filled: every slot free */
    lf_sb->start_time = lf_sb_now();
    return 0;
}

static void write_begin(lf_sb_slot_t *s)
{
    __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(lf_sb_slot_t *s)
{
    __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
}

int lf_sb_claim(pid_t pid, int id, unsigned gen)
{
    if (lf_sb == NULL)
        return -1;
    for (int i = 0; i < LF_SB_SLOTS; i++) {
        lf_sb_slot_t *s = &lf_sb->slots[i];
        if (s->state != LF_SB_FREE)
            continue;
        write_begin(s);
        uint32_t seq = s->seq;
        memset((char *)s + sizeof(s->seq), 0, sizeof(*s) - sizeof(s->seq));
        s->seq = seq;
        s->state = LF_SB_STARTING;
        s->pid = (int32_t)pid;
        s->id = id;
        s->gen = gen;
        s->started = lf_sb_now();
        write_end(s);
        return i;
    }
    return -1;
}

void lf_sb_release(int slot)
{
    if (lf_sb == NULL || slot < 0 || slot >= LF_SB_SLOTS)
        return;
    lf_sb_slot_t *s = &lf_sb->slots[slot];
    /* A worker that died in a request never said it ended. */
    if (s->state == LF_SB_BUSY)
        __atomic_sub_fetch(&lf_sb->active, 1, __ATOMIC_RELAXED);
    write_begin(s);
    s->state = LF_SB_FREE;
    s->pid = 0;
    write_end(s);
}

void lf_sb_attach(int slot)
{
    if (lf_sb == NULL || slot < 0 || slot >= LF_SB_SLOTS)
        return;
    my_slot = &lf_sb->slots[slot];
    write_begin(my_slot);
    my_slot->pid = (int32_t)getpid();
    my_slot->started = lf_sb_now();
    write_end(my_slot);
}

void lf_sb_set_state(lf_sb_state_t state)
{
    if (my_slot == NULL)
        return;
    write_begin(my_slot);
    my_slot->state = state;
    write_end(my_slot);
}

static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= size)
        n = size - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

int lf_sb_request_begin(const char *method, const char *uri, const char *script, double started)
{
    if (my_slot == NULL)
        return -1;
    __atomic_add_fetch(&lf_sb->accepted, 1, __ATOMIC_RELAXED);
    if (my_slot->inflight == 0) {
        /* "active": workers with a request in flight */
        uint32_t active = __atomic_add_fetch(&lf_sb->active, 1, __ATOMIC_RELAXED);
        uint32_t max = __atomic_load_n(&lf_sb->max_active, __ATOMIC_RELAXED);
        while (active > max &&
               !__atomic_compare_exchange_n(&lf_sb->max_active, &max, active, 0, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED))
            ;
    }
    int entry = -1;
    for (int i = 0; i < LF_SB_REQS; i++)
        if (my_slot->reqs[i].start == 0) {
            entry = i;
            break;
        }
    write_begin(my_slot);
    if (my_slot->state != LF_SB_STOPPING)
        my_slot->state = LF_SB_BUSY;
    if (my_slot->inflight++ == 0) {
        my_slot->request_start = started;
        copy_text(my_slot->method, sizeof(my_slot->method), method);
        copy_text(my_slot->uri, sizeof(my_slot->uri), uri);
        copy_text(my_slot->script, sizeof(my_slot->script), script);
    }
    if (entry >= 0) {
        lf_sb_req_t *e = &my_slot->reqs[entry];
        e->start = started > 0 ? started : 1e-9;
        copy_text(e->method, sizeof(e->method), method);
        copy_text(e->uri, sizeof(e->uri), uri);
        copy_text(e->script, sizeof(e->script), script);
    }
    write_end(my_slot);
    return entry;
}

void lf_sb_request_end(uint64_t lua_heap, double started, int entry)
{
    if (my_slot == NULL)
        return;
    if (my_slot->inflight == 1)
        __atomic_sub_fetch(&lf_sb->active, 1, __ATOMIC_RELAXED);
    write_begin(my_slot);
    if (my_slot->inflight > 0)
        my_slot->inflight--;
    if (entry >= 0 && entry < LF_SB_REQS) {
        lf_sb_req_t *e = &my_slot->reqs[entry];
        if (my_slot->inflight == 0) {
            /* Idle: the fields show the last request. */
            memcpy(my_slot->method, e->method, sizeof(my_slot->method));
            memcpy(my_slot->uri, e->uri, sizeof(my_slot->uri));
            memcpy(my_slot->script, e->script, sizeof(my_slot->script));
        }
        e->start = 0;
    }
    if (my_slot->inflight > 0) {
        /* The worker's fields show the oldest request still in flight. */
        const lf_sb_req_t *oldest = NULL;
        for (int i = 0; i < LF_SB_REQS; i++)
            if (my_slot->reqs[i].start > 0 && (!oldest || my_slot->reqs[i].start < oldest->start))
                oldest = &my_slot->reqs[i];
        if (oldest) {
            my_slot->request_start = oldest->start;
            memcpy(my_slot->method, oldest->method, sizeof(my_slot->method));
            memcpy(my_slot->uri, oldest->uri, sizeof(my_slot->uri));
            memcpy(my_slot->script, oldest->script, sizeof(my_slot->script));
        }
    } else if (my_slot->state == LF_SB_BUSY) {
        my_slot->state = LF_SB_IDLE;
    }
    my_slot->requests++;
    my_slot->last_duration = lf_sb_now() - started;
    my_slot->lua_heap = lua_heap;
    write_end(my_slot);
}

void lf_sb_set_connections(uint32_t n)
{
    if (my_slot == NULL)
        return;
    write_begin(my_slot);
    my_slot->connections = n;
    write_end(my_slot);
}

void lf_sb_count_slow(void)
{
    if (lf_sb)
        __atomic_add_fetch(&lf_sb->slow_requests, 1, __ATOMIC_RELAXED);
}

void lf_sb_count_skipped(void)
{
    if (lf_sb)
        __atomic_add_fetch(&lf_sb->skipped_requests, 1, __ATOMIC_RELAXED);
}

void lf_sb_read(int i, lf_sb_slot_t *out)
{
    const lf_sb_slot_t *s = &lf_sb->slots[i];
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t before = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        if (before & 1)
            continue;
        memcpy(out, s, sizeof(*out));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == before)
            return;
    }
    memcpy(out, s, sizeof(*out)); /* a writer stuck mid-update: take it as it is */
}
