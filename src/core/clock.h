/* clock.h - the cached wall clock that ngx.time and ngx.now read: as in
 * nginx, refreshed when a request starts or is resumed (and by
 * ngx.update_time), so within a run it never goes backwards. */
#ifndef LF_CLOCK_H
#define LF_CLOCK_H

#include <time.h>

/* Seconds and milliseconds, like nginx's ngx_time_t. */
extern time_t lf_clock_sec;
extern long lf_clock_msec;

/* Refresh the cache from the wall clock. */
void lf_clock_update(void);
/* The cached time as seconds with millisecond precision. */
double lf_clock_now(void);

#endif
