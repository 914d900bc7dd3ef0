/* api_time.c - ngx.time/now/update_time/today/localtime/utctime and
 * ngx.http_time/cookie_time/parse_http_time.
 *
 * The clock is cached, as in nginx: ngx.time() and ngx.now() read the
 * cache (clock.c) and lf_clock_update() refreshes it.  nginx refreshes it once per
 * event-loop iteration; the request code calls lf_clock_update() at the
 * start of every request and every time a parked one is resumed (declared
 * in api.h), and ngx.update_time() calls it too.  Within a request the cached time never goes backwards. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <lauxlib.h>

#include "api.h"
#include "clock.h"

#define LF_TIME_BUF 64

static const char *api_time_week[] = {
    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};

static const char *api_time_months[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static const unsigned api_time_mday[] = {
    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};



/* Raise msg at the caller's position, as resty.core's error(msg, 2). */
static int api_time_error(lua_State *L, const char *msg)
{
    return luaL_error(L, "%s", msg);
}


/* The time_t argument of http_time/cookie_time, broken down in UTC. */
static void api_time_arg_gmtime(lua_State *L, struct tm *tm)
{
    lua_Number  n;
    time_t      t;

    if (lua_type(L, 1) != LUA_TNUMBER)
        api_time_error(L, "number argument only");

    n = lua_tonumber(L, 1);

    /* NaN fails both comparisons; 2^63 bounds a 64-bit time_t */
    if (!(n > -9223372036854775808.0 && n < 9223372036854775808.0))
        api_time_error(L, "number argument out of range");

    t = (time_t) n;                       /* truncates, as the FFI does */

    if (gmtime_r(&t, tm) == NULL)
        api_time_error(L, "number argument out of range");
}


/* Push "yyyy-mm-dd" or "yyyy-mm-dd hh:mm:ss" for tm. */
static int api_time_push_date(lua_State *L, const struct tm *tm, int with_time)
{
    char  buf[LF_TIME_BUF];
    int   n;

    if (with_time) {
        n = snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d",
                     tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
                     tm->tm_hour, tm->tm_min, tm->tm_sec);
    } else {
        n = snprintf(buf, sizeof(buf), "%04d-%02d-%02d",
                     tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday);
    }

    if (n < 0 || (size_t) n >= sizeof(buf))
        return luaL_error(L, "time formatting failed");

    lua_pushlstring(L, buf, (size_t) n);
    return 1;
}


/* The cached time broken down in local time or UTC. */
static void api_time_cached_tm(lua_State *L, struct tm *tm, int local)
{
    time_t  t = lf_clock_sec;

    if ((local ? localtime_r(&t, tm) : gmtime_r(&t, tm)) == NULL)
        luaL_error(L, "cannot convert the current time");
}


/* ngx.time(): the cached time in whole seconds. */
static int api_time_time(lua_State *L)
{
    lua_pushnumber(L, (lua_Number) lf_clock_sec);
    return 1;
}


/* ngx.now(): the cached time in seconds with millisecond precision. */
static int api_time_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number) lf_clock_now());
    return 1;
}


/* ngx.update_time(): refresh the cache, never moving it backwards. */
static int api_time_update_time(lua_State *L)
{
    time_t  sec = lf_clock_sec;
    long    msec = lf_clock_msec;

    (void) L;

    lf_clock_update();

    if (lf_clock_sec < sec || (lf_clock_sec == sec && lf_clock_msec < msec)) {
        lf_clock_sec = sec;
        lf_clock_msec = msec;
    }

    return 0;
}


/* ngx.today(): "yyyy-mm-dd" of the cached time, local time. */
static int api_time_today(lua_State *L)
{
    struct tm  tm;

    api_time_cached_tm(L, &tm, 1);
    return api_time_push_date(L, &tm, 0);
}


/* ngx.localtime(): "yyyy-mm-dd hh:mm:ss" of the cached time, local time. */
static int api_time_localtime(lua_State *L)
{
    struct tm  tm;

    api_time_cached_tm(L, &tm, 1);
    return api_time_push_date(L, &tm, 1);
}


/* ngx.utctime(): "yyyy-mm-dd hh:mm:ss" of the cached time, UTC. */
static int api_time_utctime(lua_State *L)
{
    struct tm  tm;

    api_time_cached_tm(L, &tm, 0);
    return api_time_push_date(L, &tm, 1);
}


/* ngx.http_time(sec): "Thu, 18 Nov 2010 11:27:35 GMT". */
static int api_time_http_time(lua_State *L)
{
    struct tm  tm;
    char       buf[LF_TIME_BUF];
    int        n;

    api_time_arg_gmtime(L, &tm);

    n = snprintf(buf, sizeof(buf), "%s, %02d %s %4d %02d:%02d:%02d GMT",
                 api_time_week[tm.tm_wday], tm.tm_mday,
                 api_time_months[tm.tm_mon], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);

    if (n < 0 || (size_t) n >= sizeof(buf))
        return luaL_error(L, "time formatting failed");

    lua_pushlstring(L, buf, (size_t) n);
    return 1;
}


/* ngx.cookie_time(sec): "Thu, 18-Nov-10 11:27:35 GMT"; like nginx, a
 * 4-digit year only past 2037 (old browsers misread 2-digit years > 37). */
static int api_time_cookie_time(lua_State *L)
{
    struct tm  tm;
    char       buf[LF_TIME_BUF];
    int        n, year;

    api_time_arg_gmtime(L, &tm);

    year = tm.tm_year + 1900;

    n = snprintf(buf, sizeof(buf),
                 year > 2037 ? "%s, %02d-%s-%d %02d:%02d:%02d GMT"
                             : "%s, %02d-%s-%02d %02d:%02d:%02d GMT",
                 api_time_week[tm.tm_wday], tm.tm_mday,
                 api_time_months[tm.tm_mon],
                 year > 2037 ? year : year % 100,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);

    if (n < 0 || (size_t) n >= sizeof(buf))
        return luaL_error(L, "time formatting failed");

    lua_pushlstring(L, buf, (size_t) n);
    return 1;
}


/* Is s[i] a decimal digit (the caller has checked i < len). */
#define api_time_digit(s, i)  ((s)[i] >= '0' && (s)[i] <= '9')

/* Two digits at s[i] as a number. */
#define api_time_2d(s, i)  (((s)[i] - '0') * 10 + ((s)[(i) + 1] - '0'))


/* Parse an HTTP date as nginx's ngx_parse_http_time does; -1 on error.
 * RFC 822/1123 "Tue, 10 Nov 2002 23:50:13", RFC 850
 * "Tuesday, 10-Dec-02 23:50:13", asctime "Tue Dec 10 23:50:13 2002";
 * the weekday is skipped unchecked and anything after the time (or the
 * asctime year) is ignored. */
static time_t api_time_parse(const char *s, size_t len)
{
    enum { none, rfc822, rfc850, isoc } fmt = none;
    size_t    i;
    int       month;
    unsigned  day = 0, year = 0, hour, min, sec;
    uint64_t  t, y, m;

    /* the weekday ends at ',' (RFC 822/850) or ' ' (asctime) */
    for (i = 0; i < len; i++) {
        if (s[i] == ',')
            break;
        if (s[i] == ' ') {
            fmt = isoc;
            break;
        }
    }

    if (i == len)
        return -1;

    for (i++; i < len && s[i] == ' '; i++) { /* void */ }

    if (len - i < 18)
        return -1;

    if (fmt != isoc) {
        if (!api_time_digit(s, i) || !api_time_digit(s, i + 1))
            return -1;

        day = api_time_2d(s, i);
        i += 2;

        if (s[i] == ' ') {
            if (len - i < 18)
                return -1;
            fmt = rfc822;

        } else if (s[i] == '-') {
            fmt = rfc850;

        } else {
            return -1;
        }

        i++;
    }

    /* at least 15 bytes are left: the month is checked as loosely as nginx */
    switch (s[i]) {
    case 'J':
        month = s[i + 1] == 'a' ? 0 : s[i + 2] == 'n' ? 5 : 6;
        break;
    case 'F':
        month = 1;
        break;
    case 'M':
        month = s[i + 2] == 'r' ? 2 : 4;
        break;
    case 'A':
        month = s[i + 1] == 'p' ? 3 : 7;
        break;
    case 'S':
        month = 8;
        break;
    case 'O':
        month = 9;
        break;
    case 'N':
        month = 10;
        break;
    case 'D':
        month = 11;
        break;
    default:
        return -1;
    }

    i += 3;

    if ((fmt == rfc822 && s[i] != ' ') || (fmt == rfc850 && s[i] != '-'))
        return -1;

    i++;

    if (fmt == rfc822) {
        if (!api_time_digit(s, i) || !api_time_digit(s, i + 1)
            || !api_time_digit(s, i + 2) || !api_time_digit(s, i + 3))
        {
            return -1;
        }

        year = api_time_2d(s, i) * 100 + api_time_2d(s, i + 2);
        i += 4;

    } else if (fmt == rfc850) {
        if (!api_time_digit(s, i) || !api_time_digit(s, i + 1))
            return -1;

        year = api_time_2d(s, i);
        year += year < 70 ? 2000 : 1900;
        i += 2;

    } else {
        /* asctime: the day, space-padded or not, then 14 bytes at least */
        if (s[i] == ' ')
            i++;

        if (!api_time_digit(s, i))
            return -1;

        day = s[i++] - '0';

        if (s[i] != ' ') {
            if (!api_time_digit(s, i))
                return -1;
            day = day * 10 + (s[i++] - '0');
        }

        if (len - i < 14)
            return -1;
    }

    /* " hh:mm:ss": 9 bytes, all within the length checked above */
    if (s[i++] != ' ')
        return -1;

    if (!api_time_digit(s, i) || !api_time_digit(s, i + 1))
        return -1;
    hour = api_time_2d(s, i);
    i += 2;

    if (s[i++] != ':')
        return -1;

    if (!api_time_digit(s, i) || !api_time_digit(s, i + 1))
        return -1;
    min = api_time_2d(s, i);
    i += 2;

    if (s[i++] != ':')
        return -1;

    if (!api_time_digit(s, i) || !api_time_digit(s, i + 1))
        return -1;
    sec = api_time_2d(s, i);

    if (fmt == isoc) {
        i += 2;

        if (s[i++] != ' ')
            return -1;

        if (!api_time_digit(s, i) || !api_time_digit(s, i + 1)
            || !api_time_digit(s, i + 2) || !api_time_digit(s, i + 3))
        {
            return -1;
        }

        year = api_time_2d(s, i) * 100 + api_time_2d(s, i + 2);
    }

    if (hour > 23 || min > 59 || sec > 59)
        return -1;

    if (day == 29 && month == 1) {
        if ((year & 3) || (year % 100 == 0 && year % 400 != 0))
            return -1;

    } else if (day > api_time_mday[month]) {
        return -1;
    }

    /* Gauss' formula counts days since 1 March 1 BC, with the year
     * starting in March: March is month 1, February month 12 of the year
     * before.  Unsigned 64-bit arithmetic like nginx's, so that the few
     * dates before 1970 wrap to the same (negative) values. */
    y = year;
    m = (uint64_t) month - 1;
    if (month < 2) {
        m += 12;
        y -= 1;
    }

    t = (365 * y + y / 4 - y / 100 + y / 400     /* days before the year */
         + 367 * m / 12 - 30                     /* days before the month */
         + day - 1                               /* days before the day */
         - 719527 + 31 + 28)                     /* 1 March 1 BC .. 1970 */
        * 86400 + hour * 3600 + min * 60 + sec;

    if (sizeof(time_t) <= 4 && t > 0x7fffffff)
        return -1;

    return (time_t) t;
}


/* ngx.parse_http_time(str): seconds since the epoch, or nil. */
static int api_time_parse_http_time(lua_State *L)
{
    const char  *s;
    size_t       len;
    time_t       t;

    if (lua_type(L, 1) != LUA_TSTRING)
        return api_time_error(L, "string argument only");

    s = lua_tolstring(L, 1, &len);
    t = api_time_parse(s, len);

    if (t == -1) {
        lua_pushnil(L);
        return 1;
    }

    lua_pushnumber(L, (lua_Number) t);
    return 1;
}


void lf_api_time_init(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"time", api_time_time},
        {"now", api_time_now},
        {"update_time", api_time_update_time},
        {"today", api_time_today},
        {"localtime", api_time_localtime},
        {"utctime", api_time_utctime},
        {"http_time", api_time_http_time},
        {"cookie_time", api_time_cookie_time},
        {"parse_http_time", api_time_parse_http_time},
        {NULL, NULL},
    };
    const luaL_Reg *f;

    lf_clock_update();                            /* for init-time code */

    for (f = fns; f->name; f++) {                    /* sp: ngx */
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
}
