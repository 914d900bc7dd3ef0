/* event.c - epoll and a timer heap (see event.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "event.h"

#define LF_LOOP_EVENTS 64 /* ready descriptors taken per wait */

int lf_loop_init(lf_loop_t *loop)
{
    memset(loop, 0, sizeof(*loop));
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return -1;
    lf_loop_update_time(loop);
    return 0;
}

void lf_loop_free(lf_loop_t *loop)
{
    if (loop->epfd >= 0)
        close(loop->epfd);
    loop->epfd = -1;
    free(loop->heap);
    loop->heap = NULL;
    loop->nheap = loop->heap_cap = 0;
}

double lf_loop_update_time(lf_loop_t *loop)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    loop->now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return loop->now;
}

double lf_loop_now(lf_loop_t *loop)
{
    return loop->now;
}

void lf_io_init(lf_io_t *io, int fd, lf_io_cb cb, void *data)
{
    io->fd = fd;
    io->events = 0;
    io->cb = cb;
    io->data = data;
}

/* io leaves epoll: what this turn still holds for it must not reach it. */
static void io_scrub(lf_loop_t *loop, const lf_io_t *io)
{
    struct epoll_event *ev = loop->batch;
    for (int i = loop->batch_next; i < loop->batch_n; i++)
        if (ev[i].data.ptr == io)
            ev[i].data.ptr = NULL;
}

int lf_io_watch(lf_loop_t *loop, lf_io_t *io, uint32_t events)
{
    if (events == io->events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    int op = io->events == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    /* EPOLLEXCLUSIVE cannot be changed by MOD: take it out, then add. */
    if (op == EPOLL_CTL_MOD && ((events | io->events) & EPOLLEXCLUSIVE)) {
        if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL) != 0)
            return -1;
        op = EPOLL_CTL_ADD;
    }
    if (epoll_ctl(loop->epfd, op, io->fd, &ev) != 0)
        return -1;
    io->events = events;
    if (events == 0)
        io_scrub(loop, io);
    return 0;
}

void lf_io_stop(lf_loop_t *loop, lf_io_t *io)
{
    if (io->events != 0) {
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
        io_scrub(loop, io);
    }
    io->events = 0;
}

void lf_timer_init(lf_timer_t *t, lf_timer_cb cb, void *data)
{
    t->when = 0;
    t->cb = cb;
    t->data = data;
    t->heap_index = -1;
}

static int timer_before(const lf_timer_t *a, const lf_timer_t *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void heap_set(lf_loop_t *loop, size_t i, lf_timer_t *t)
{
    loop->heap[i] = t;
    t->heap_index = (long)i;
}

static void heap_up(lf_loop_t *loop, size_t i)
{
    lf_timer_t *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, loop->heap[parent]))
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void heap_down(lf_loop_t *loop, size_t i)
{
    lf_timer_t *t = loop->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= loop->nheap)
            break;
        if (child + 1 < loop->nheap && timer_before(loop->heap[child + 1], loop->heap[child]))
            child++;
        if (!timer_before(loop->heap[child], t))
            break;
        heap_set(loop, i, loop->heap[child]);
        i = child;
    }
    heap_set(loop, i, t);
}

void lf_timer_stop(lf_loop_t *loop, lf_timer_t *t)
{
    if (t->heap_index < 0)
        return;
    size_t i = (size_t)t->heap_index;
    t->heap_index = -1;
    lf_timer_t *last = loop->heap[--loop->nheap];
    if (i == loop->nheap)
        return;
    heap_set(loop, i, last);
    heap_up(loop, i);
    heap_down(loop, (size_t)last->heap_index);
}

int lf_timer_start(lf_loop_t *loop, lf_timer_t *t, double seconds)
{
    lf_timer_stop(loop, t);
    if (loop->nheap == loop->heap_cap) {
        size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        lf_timer_t **h = realloc(loop->heap, cap * sizeof(*h));
        if (h == NULL)
            return -1;
        loop->heap = h;
        loop->heap_cap = cap;
    }
    t->when = loop->now + seconds;
    t->seq = loop->seq++;
    heap_set(loop, loop->nheap++, t);
    heap_up(loop, (size_t)t->heap_index);
    return 0;
}

int lf_loop_run_once(lf_loop_t *loop, double max_wait)
{
    int timeout = -1;
    if (loop->nheap > 0) {
        double left = loop->heap[0]->when - lf_loop_update_time(loop);
        if (left < 0)
            left = 0;
        if (max_wait < 0 || left < max_wait)
            max_wait = left;
    }
    if (max_wait >= 0)
        timeout = max_wait > 3600 ? 3600 * 1000 : (int)(max_wait * 1000 + 0.999);
    struct epoll_event ev[LF_LOOP_EVENTS];
    int n = epoll_wait(loop->epfd, ev, LF_LOOP_EVENTS, timeout);
    int err = errno;
    lf_loop_update_time(loop);
    void *outer = loop->batch; /* a nested turn (none today) keeps the outer one's */
    int outer_next = loop->batch_next, outer_n = loop->batch_n;
    loop->batch = ev;
    loop->batch_n = n > 0 ? n : 0;
    for (int i = 0; i < n; i++) {
        lf_io_t *io = ev[i].data.ptr;
        loop->batch_next = i + 1;
        /* A callback may have stopped (and freed) a later one's io. */
        if (io != NULL && io->events != 0)
            io->cb(loop, io->data, ev[i].events);
    }
    loop->batch = outer;
    loop->batch_next = outer_next;
    loop->batch_n = outer_n;
    unsigned long long started_before = loop->seq;
    while (loop->nheap > 0 && loop->heap[0]->when <= loop->now &&
           loop->heap[0]->seq < started_before) {
        lf_timer_t *t = loop->heap[0];
        lf_timer_stop(loop, t);
        t->cb(loop, t->data);
    }
    if (n < 0)
        errno = err;
    return n;
}
