/* clock.c - the cached wall clock (see clock.h). */
#include "config.h"

#include "clock.h"

time_t lf_clock_sec;
long lf_clock_msec;

void lf_clock_update(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return;
    lf_clock_sec = ts.tv_sec;
    lf_clock_msec = ts.tv_nsec / 1000000;
}

double lf_clock_now(void)
{
    /* one correctly rounded division: equal milliseconds, equal doubles */
    return (double)((long long)lf_clock_sec * 1000 + lf_clock_msec) / 1000.0;
}
