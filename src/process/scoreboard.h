/* scoreboard.h - what every worker is doing, in memory shared by the
 * master and all workers (the status page reads it from any worker).
 * Each slot has one writer, its worker; readers copy a slot under its
 * sequence counter and retry when it changed meanwhile, so a reader never
 * sees a half-written slot and a writer never waits. */
#ifndef LF_SCOREBOARD_H
#define LF_SCOREBOARD_H

#include <stdint.h>
#include <sys/types.h>

#define LF_SB_SLOTS 2048      /* workers alive at once, old generations included */
#define LF_SB_TEXT 256        /* script and URI are cut to this length */

typedef enum {
    LF_SB_FREE = 0,
    LF_SB_STARTING,           /* forked, building its VM */
    LF_SB_IDLE,
    LF_SB_BUSY,
    LF_SB_STOPPING,           /* told to go (QUIT, reload, max-requests) */
} lf_sb_state_t;

#define LF_SB_REQS 16         /* requests in flight listed per worker */

typedef struct {
    double start;             /* wall clock; 0 = unused */
    char method[16];
    char uri[LF_SB_TEXT];
    char script[LF_SB_TEXT];
} lf_sb_req_t;

typedef struct {
    uint32_t seq;             /* odd while the worker writes */
    uint32_t state;           /* lf_sb_state_t */
    int32_t pid;
    int32_t id;               /* ngx.worker.id */
    uint32_t gen;             /* configuration generation */
    double started;           /* wall clock, seconds */
    uint64_t requests;        /* served by this worker */
    double request_start;     /* wall clock of the current/last request */
    double last_duration;     /* seconds the last request took */
    uint64_t lua_heap;        /* bytes, after the last request */
    uint32_t connections;     /* FastCGI connections it holds now */
    uint32_t inflight;        /* requests in flight in it now */
    /* The request shown as the worker's (php-fpm's fields): the oldest in
     * flight, or the last one when it is idle. */
    char method[16];
    char uri[LF_SB_TEXT];
    char script[LF_SB_TEXT];
    lf_sb_req_t reqs[LF_SB_REQS]; /* each in flight (the first LF_SB_REQS) */
} lf_sb_slot_t;

typedef struct {
    double start_time;        /* the master's start, wall clock */
    uint64_t accepted;        /* requests accepted by all workers */
    uint64_t slow_requests;
    uint64_t skipped_requests; /* their web server had gone before they started */
    uint32_t active;          /* workers in a request now */
    uint32_t max_active;      /* the most at once since start */
    lf_sb_slot_t slots[LF_SB_SLOTS];
} lf_scoreboard_t;

/* The shared scoreboard (NULL with --workers 0 until lf_sb_create). */
extern lf_scoreboard_t *lf_sb;

/* Map it; before the first fork.  0 or -1 (errno). */
int lf_sb_create(void);
/* Master: a free slot for a new worker (-1 when full), and freeing it
 * when the worker is reaped (counting a request it died in). */
int lf_sb_claim(pid_t pid, int id, unsigned gen);
void lf_sb_release(int slot);

/* Worker side: its own slot. */
void lf_sb_attach(int slot);
void lf_sb_set_state(lf_sb_state_t state);
/* A request begins: its entry in the worker's list (-1 when the list is
 * full); and ends (started: its lf_sb_now() at the beginning). */
int lf_sb_request_begin(const char *method, const char *uri, const char *script, double started);
void lf_sb_request_end(uint64_t lua_heap, double started, int entry);
void lf_sb_set_connections(uint32_t n);
void lf_sb_count_slow(void);
void lf_sb_count_skipped(void);

/* A consistent copy of slot i. */
void lf_sb_read(int i, lf_sb_slot_t *out);
double lf_sb_now(void);

#endif
