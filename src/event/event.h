/* event.h - a worker's event loop: epoll for descriptors, a binary heap
 * for timers.  Callbacks run from lf_loop_run_once; nothing here blocks
 * but the wait itself. */
#ifndef LF_EVENT_H
#define LF_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct lf_loop lf_loop_t;

/* What a descriptor's callback is told: EPOLLIN, EPOLLOUT, EPOLLERR,
 * EPOLLHUP, ... as epoll reported them. */
typedef void (*lf_io_cb)(lf_loop_t *loop, void *data, uint32_t events);
typedef void (*lf_timer_cb)(lf_loop_t *loop, void *data);

/* A descriptor watched by the loop; it lives where its owner keeps it
 * (no allocation per descriptor). */
typedef struct {
    int fd;
    uint32_t events;     /* what is asked for now; 0 = not in epoll */
    lf_io_cb cb;
    void *data;
} lf_io_t;

/* A timer; it too lives in its owner.  heap_index < 0: not armed. */
typedef struct {
    double when;         /* lf_loop_now() time */
    unsigned long long seq; /* order of starting: timers due together fire in it */
    lf_timer_cb cb;
    void *data;
    long heap_index;
} lf_timer_t;

struct lf_loop {
    int epfd;
    double now;          /* CLOCK_MONOTONIC seconds, updated each turn */
    lf_timer_t **heap;
    size_t nheap, heap_cap;
    unsigned long long seq;
    void *batch;         /* this turn's epoll events, while they are handed out */
    int batch_next, batch_n;
};

/* 0, or -1 with errno. */
int lf_loop_init(lf_loop_t *loop);
void lf_loop_free(lf_loop_t *loop);
double lf_loop_now(lf_loop_t *loop);
double lf_loop_update_time(lf_loop_t *loop);

void lf_io_init(lf_io_t *io, int fd, lf_io_cb cb, void *data);
/* Watch io for events (EPOLLIN, EPOLLOUT, EPOLLEXCLUSIVE, ...): added,
 * changed, or with 0 taken out of epoll.  0, or -1 with errno. */
int lf_io_watch(lf_loop_t *loop, lf_io_t *io, uint32_t events);
/* Forget io before its descriptor is closed.  Events of this turn not yet
 * handed out for it are dropped, so its owner may free it at once. */
void lf_io_stop(lf_loop_t *loop, lf_io_t *io);

void lf_timer_init(lf_timer_t *t, lf_timer_cb cb, void *data);
/* Arm (or re-arm) t to fire after seconds.  0, or -1 out of memory. */
int lf_timer_start(lf_loop_t *loop, lf_timer_t *t, double seconds);
void lf_timer_stop(lf_loop_t *loop, lf_timer_t *t);
static inline int lf_timer_armed(const lf_timer_t *t)
{
    return t->heap_index >= 0;
}

/* Wait at most max_wait seconds (< 0: until an event or a timer; 0: do
 * not wait), run the callbacks of what is ready and of the timers due
 * (in the order they were started; one started by a callback now waits
 * for the next turn, even with 0 seconds, so it cannot starve the rest).
 * The number of descriptors that were ready, or -1 with errno (EINTR: a
 * signal came; the caller looks at its flags and calls again). */
int lf_loop_run_once(lf_loop_t *loop, double max_wait);

#endif
