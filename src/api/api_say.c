/* api_say.c - ngx.say and ngx.print: strings, numbers, booleans, nil,
 * ngx.null and array tables, written as OpenResty writes them.
 *
 * A call is measured whole before any byte is written, as OpenResty sizes
 * its buffer first; unlike OpenResty the host's work stays linear in what
 * the script allocated (doc/api.md, "Tables in ngx.say"):
 *   - a table's keys must be positive integers and the table at least half
 *     full (any holes below LF_SAY_SMALL), so walking 1..max key costs at
 *     most twice its entries, never its largest key;
 *   - each nested table's output length and the slots read to write it
 *     are memoized in the size pass, so a table reached many times (a
 *     DAG) is measured once and a table reached inside itself is an error;
 *   - the bytes and the slots of one call are capped (LF_SAY_MAX; for a
 *     sandboxed script the bytes by its memory budget left, and the slots
 *     are charged to its instruction budget) before the write pass. */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "sandbox.h"

#define LF_SAY_DEPTH 100               /* tables inside tables */
#define LF_SAY_SMALL 16                /* a max key up to this may leave any holes */
#define LF_SAY_MAX ((size_t)256 << 20) /* bytes, and slots read, in one call */

typedef struct {
    int argn;           /* the argument being measured, for errors */
    int len_memo;       /* stack index: table -> output length (false: being measured) */
    int slots_memo;     /* stack index: table -> slots read to write it */
    size_t max_bytes;   /* what the call may write */
    size_t bytes;       /* measured so far, over all arguments */
    size_t slots;
    size_t keys;        /* keys the size pass read (host work too) */
} say_t;

size_t lf_api_number(lua_Number n, char *buf)
{
    /* lua-nginx-module: integers that fit 32 bits as integers, anything
     * else with C's "%.14g" (so -0 is "0", 0/0 is glibc's "-nan", and
     * 123456789012345 rounds to even: "1.2345678901234e+14", where
     * LuaJIT's tostring gives "...235"). */
    int len;
    if (n >= INT32_MIN && n <= INT32_MAX && n == (lua_Number)(int32_t)n)
        len = snprintf(buf, LF_API_NUMBER, "%d", (int)(int32_t)n);
    else
        len = snprintf(buf, LF_API_NUMBER, "%.14g", n);
    return len > 0 ? (size_t)len : 0;
}

/* What a number takes in the output: exact for a 32-bit integer, else
 * at most 21 bytes ("-1.2345678901234e-308"), as OpenResty sizes its
 * buffer, without formatting it twice. */
static size_t say_number_len(lua_Number n)
{
    if (!(n >= INT32_MIN && n <= INT32_MAX && n == (lua_Number)(int32_t)n))
        return 21;
    int32_t v = (int32_t)n;
    size_t len = v < 0 ? 2 : 1;
    for (int64_t m = v < 0 ? -(int64_t)v : v; m >= 10; m /= 10)
        len++;
    return len;
}

/* Raise "bad argument #N to 'say' (msg)", naming the argument measured. */
static int say_error(lua_State *L, const say_t *s, const char *msg)
{
    return luaL_argerror(L, s->argn, msg);
}

/* The running totals went past a cap: the call is refused. */
static void say_check_totals(lua_State *L, const say_t *s)
{
    char msg[160];
    if (s->bytes > s->max_bytes) {
        if (s->max_bytes < LF_SAY_MAX)
            snprintf(msg, sizeof(msg), "output too large (over the %zu bytes left of the "
                     "sandbox memory budget)", s->max_bytes);
        else
            snprintf(msg, sizeof(msg), "output too large (over %zu bytes in one call)",
                     s->max_bytes);
        say_error(L, s, msg);
    }
    if (s->slots > LF_SAY_MAX) {
        snprintf(msg, sizeof(msg), "table too large (over %zu array slots to read in one call)",
                 LF_SAY_MAX);
        say_error(L, s, msg);
    }
}

static void say_measure_table(lua_State *L, say_t *s, int idx, int depth);

/* Add the value at idx (a table's slot when depth > 0) to the totals. */
static void say_measure(lua_State *L, say_t *s, int idx, int depth)
{
    size_t len;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        lua_tolstring(L, idx, &len);
        s->bytes += len;
        break;
    case LUA_TNUMBER:
        s->bytes += say_number_len(lua_tonumber(L, idx));
        break;
    case LUA_TNIL:
        s->bytes += 3;
        break;
    case LUA_TBOOLEAN:
        s->bytes += lua_toboolean(L, idx) ? 4 : 5;
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) != NULL)
            goto bad;
        s->bytes += 4;
        break;
    case LUA_TTABLE:
        say_measure_table(L, s, idx, depth);
        break;
    default:
    bad:
        if (depth == 0)
            lua_pushfstring(L, "string, number, boolean, nil, ngx.null, or array table "
                            "expected, but got %s", luaL_typename(L, idx));
        else
            lua_pushfstring(L, "bad data type %s found", luaL_typename(L, idx));
        say_error(L, s, lua_tostring(L, -1));
    }
    say_check_totals(L, s);
}

/* Measure the table at idx once: later visits add the memoized figures.
 * An argument itself is not memoized (only a table inside one can be
 * reached twice in one walk, or from inside itself); the memo tables are
 * made when the first argument holding a table is walked, so a flat
 * table costs no allocation. */
static void say_measure_table(lua_State *L, say_t *s, int idx, int depth)
{
    if (depth > 0) {
        lua_pushvalue(L, idx);
        lua_rawget(L, s->len_memo);                  /* sp: len|false|nil */
        if (lua_type(L, -1) == LUA_TNUMBER) {
            s->bytes += (size_t)lua_tonumber(L, -1);
            lua_pushvalue(L, idx);
            lua_rawget(L, s->slots_memo);            /* sp: len, slots */
            s->slots += (size_t)lua_tonumber(L, -1);
            lua_pop(L, 2);
            return;
        }
        if (lua_type(L, -1) == LUA_TBOOLEAN)
            say_error(L, s, "cyclic table found");
        lua_pop(L, 1);
    }
    if (depth >= LF_SAY_DEPTH || !lua_checkstack(L, 8))
        say_error(L, s, "table nested too deeply");

    /* Keys: positive integers, few enough holes. */
    lua_Number max = 0;
    size_t n = 0;
    int nested = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {                  /* sp: key, value */
        lua_Number k = lua_type(L, -2) == LUA_TNUMBER ? lua_tonumber(L, -2) : 0;
        if (k < 1 || k != floor(k))
            say_error(L, s, "non-array table found");
        if (k > max)
            max = k;
        n++;
        nested |= lua_istable(L, -1);
        lua_pop(L, 1);
    }
    s->keys += n;
    if (max > LF_SAY_SMALL && (max > INT_MAX || max > 2.0 * (double)n))
        say_error(L, s, "non-array table found (more holes than elements)");
    if (nested && s->len_memo == 0) {
        /* Only at depth 0: nothing of the walk is above the arguments. */
        lua_newtable(L);
        s->len_memo = lua_gettop(L);
        lua_newtable(L);
        s->slots_memo = lua_gettop(L);
    }
    if (depth > 0) {
        lua_pushvalue(L, idx);
        lua_pushboolean(L, 0);
        lua_rawset(L, s->len_memo);                  /* being measured */
    }

    /* Values 1..max, holes written as nil. */
    size_t bytes0 = s->bytes, slots0 = s->slots;
    s->slots += (size_t)max;
    for (int i = 1; i <= (int)max; i++) {
        lua_rawgeti(L, idx, i);
        say_measure(L, s, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    if (depth > 0) {
        lua_pushvalue(L, idx);
        lua_pushnumber(L, (lua_Number)(s->bytes - bytes0));
        lua_rawset(L, s->len_memo);
        lua_pushvalue(L, idx);
        lua_pushnumber(L, (lua_Number)(s->slots - slots0));
        lua_rawset(L, s->slots_memo);
    }
}

/* Write the value at idx, measured and found good. */
static int say_write(lf_request_t *r, lua_State *L, int idx)
{
    char num[LF_API_NUMBER];
    size_t len;
    const char *p;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        p = lua_tolstring(L, idx, &len);
        return lf_request_write(r, p, len);
    case LUA_TNUMBER:
        len = lf_api_number(lua_tonumber(L, idx), num);
        return lf_request_write(r, num, len);
    case LUA_TNIL:
        return lf_request_write(r, "nil", 3);
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? lf_request_write(r, "true", 4)
                                     : lf_request_write(r, "false", 5);
    case LUA_TLIGHTUSERDATA:
        return lf_request_write(r, "null", 4);
    case LUA_TTABLE:
        break;
    default:
        return 0;
    }
    lua_Number max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_Number k = lua_tonumber(L, -2);
        if (k > max)
            max = k;
        lua_pop(L, 1);
    }
    int rc = 0;
    if (!lua_checkstack(L, 4)) /* the size pass had room this deep: not expected */
        return luaL_error(L, "no memory");
    for (int i = 1; i <= (int)max && rc == 0; i++) {
        lua_rawgeti(L, idx, i);
        rc = say_write(r, L, lua_gettop(L));
        lua_pop(L, 1);
    }
    return rc;
}

static int api_output(lua_State *L, int newline)
{
    lf_request_t *r = lf_api_request(L);
    int refused = lf_api_output_refused(L, r);
    if (refused)
        return refused;
    int n = lua_gettop(L);
    say_t s = {0};
    s.max_bytes = LF_SAY_MAX;
    if (r->sandboxed) {
        size_t left = lf_sandbox_memory_left();
        if (left < s.max_bytes)
            s.max_bytes = left;
    }
    for (int i = 1; i <= n; i++) {
        s.argn = i;
        say_measure(L, &s, i, 0);
    }
    s.argn = n > 0 ? n : 1;
    s.bytes += newline ? 1 : 0;
    say_check_totals(L, &s);
    /* The walks cost a sandboxed script instructions, as its own loops would. */
    if (r->sandboxed && s.keys + s.slots > 0 && lf_sandbox_charge(s.keys + s.slots) != 0)
        return luaL_error(L, "sandbox: the request's budget is spent");

    if (s.bytes > 0)
        r->body_seen = 1;
    int rc = 0;
    for (int i = 1; i <= n && rc == 0; i++)
        rc = say_write(r, L, i);
    if (rc == 0 && newline)
        rc = lf_request_write(r, "\n", 1);
    if (rc == 0 && (rc = lf_request_output_backlog(r, L)) == LF_REQUEST_WAIT) {
        /* Resumed with 1 once the web server has taken it. */
        r->yield = LF_YIELD_FLUSH;
        return lua_yield(L, 0);
    }
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "output error: the connection to the web server failed");
        return 2;
    }
    lua_pushinteger(L, 1);
    return 1;
}

static int api_say(lua_State *L)
{
    return api_output(L, 1);
}

static int api_print(lua_State *L)
{
    return api_output(L, 0);
}

void lf_api_say_init(lua_State *L)
{
    lua_pushcfunction(L, api_say);
    lua_setfield(L, -2, "say");
    lua_pushcfunction(L, api_print);
    lua_setfield(L, -2, "print");
}
