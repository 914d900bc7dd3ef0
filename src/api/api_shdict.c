/* api_shdict.c - ngx.shared.NAME: a table holding the zone (as
 * lua-nginx-module's {zone userdata}) whose metatable's __index has the
 * methods, called with ':'.  Arguments, return values and messages are
 * lua-resty-core's shdict.lua (get, set, incr, ttl, ...) and
 * lua-nginx-module's ngx_http_lua_shdict.c (get_keys, flush_expired,
 * lists); the store is src/shm/shm_dict.c.  Values copied out of the zone
 * go through one buffer per worker, so a call allocates nothing but the
 * Lua string it returns. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "api.h"
#include "shm_set.h"

#define MAX_KEY 65535

/* Where values are copied out under the zone's lock (grows, never
 * shrinks below what the largest value needed). */
static char *out_buf;
static size_t out_cap;

static char *shd_reserve(void *ud, size_t len)
{
    (void)ud;
    if (len <= out_cap && out_buf)
        return out_buf;
    size_t cap = out_cap ? out_cap : 4096;
    while (cap < len)
        cap *= 2;
    char *p = realloc(out_buf, cap);
    if (p == NULL)
        return NULL;
    out_buf = p;
    out_cap = cap;
    return p;
}

/* The zone of the table at index 1 (upvalue 1: the zone userdata's
 * metatable), or a Lua error as shdict.lua's check_zone raises. */
static lf_dict_t *shd_zone(lua_State *L)
{
    lf_dict_t **u = NULL;
    if (lua_type(L, 1) == LUA_TTABLE) {
        int top = lua_gettop(L);
        lua_rawgeti(L, 1, 1);
        u = lua_touserdata(L, -1);
        if (u && (!lua_getmetatable(L, -1) || !lua_rawequal(L, -1, lua_upvalueindex(1))))
            u = NULL;
        lua_settop(L, top);
    }
    if (u == NULL || *u == NULL)
        luaL_error(L, "bad \"zone\" argument");
    return *u;
}

/* The key at idx as shdict.lua takes it (tostring of a non-string); 1
 * with *key set, or 0 with nil and the reason pushed (2 values). */
static int shd_key(lua_State *L, int idx, const char **key, size_t *len)
{
    int t = lua_type(L, idx);
    if (t == LUA_TNIL || t == LUA_TNONE) {
        lua_pushnil(L);
        lua_pushliteral(L, "nil key");
        return 0;
    }
    if (t != LUA_TSTRING && t != LUA_TNUMBER) {
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, idx);
        lua_call(L, 1, 1);
        lua_replace(L, idx);
    }
    *key = lua_tolstring(L, idx, len);
    if (*key == NULL)
        luaL_error(L, "bad key");
    if (*len == 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "empty key");
        return 0;
    }
    if (*len > MAX_KEY) {
        lua_pushnil(L);
        lua_pushliteral(L, "key too long");
        return 0;
    }
    return 1;
}

/* The value at idx for a store; 0 when its type cannot be stored. */
static int shd_value(lua_State *L, int idx, lf_dict_value_t *v)
{
    memset(v, 0, sizeof(*v));
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        v->type = LF_DICT_STR;
        v->str = lua_tolstring(L, idx, &v->len);
        return 1;
    case LUA_TNUMBER:
        v->type = LF_DICT_NUM;
        v->num = lua_tonumber(L, idx);
        return 1;
    case LUA_TBOOLEAN:
        v->type = LF_DICT_BOOL;
        v->num = lua_toboolean(L, idx);
        return 1;
    case LUA_TNIL:
    case LUA_TNONE:
        v->type = LF_DICT_NIL;
        return 1;
    default:
        return 0;
    }
}

/* nil, message: 2 values. */
static int shd_fail(lua_State *L, int rc)
{
    lua_pushnil(L);
    lua_pushstring(L, lf_dict_strerror(rc));
    return 2;
}

/* Push a value copied out; 1 value. */
static void shd_push_out(lua_State *L, const lf_dict_out_t *o)
{
    switch (o->type) {
    case LF_DICT_STR:
        lua_pushlstring(L, o->str, o->len);
        break;
    case LF_DICT_NUM:
        lua_pushnumber(L, o->num);
        break;
    case LF_DICT_BOOL:
        lua_pushboolean(L, o->num != 0);
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

static int shd_get_common(lua_State *L, int stale)
{
    lf_dict_t *d = shd_zone(L);
    const char *key;
    size_t klen;
    if (!shd_key(L, 2, &key, &klen))
        return 2;
    lf_dict_out_t o;
    int rc = lf_dict_get(d, key, klen, stale, &o, shd_reserve, NULL);
    if (rc != 0)
        return shd_fail(L, rc);
    if (o.type == LF_DICT_NIL) {
        lua_pushnil(L);
        return 1;
    }
    shd_push_out(L, &o);
    if (o.flags)
        lua_pushinteger(L, (lua_Integer)(int32_t)o.flags);
    else if (!stale)
        return 1;
    else
        lua_pushnil(L);
    if (!stale)
        return 2;
    lua_pushboolean(L, o.stale);
    return 3;
}

static int shd_get(lua_State *L)
{
    return shd_get_common(L, 0);
}

static int shd_get_stale(lua_State *L)
{
    return shd_get_common(L, 1);
}

/* exptime in seconds -> ms as lua-resty-core converts it (truncated). */
static int64_t shd_ms(lua_Number secs)
{
    lua_Number ms = secs * 1000;
    if (ms >= 9.2e18)
        return INT64_MAX;
    return (int64_t)ms;
}

static int shd_store(lua_State *L, int op)
{
    lf_dict_t *d = shd_zone(L);
    int64_t exptime = 0;
    if (!lua_isnoneornil(L, 4)) {
        lua_Number e = luaL_checknumber(L, 4);
        if (e < 0)
            return luaL_error(L, "bad \"exptime\" argument");
        exptime = shd_ms(e);
    }
    uint32_t flags = (uint32_t)(int32_t)luaL_optinteger(L, 5, 0);
    const char *key;
    size_t klen;
    if (!shd_key(L, 2, &key, &klen))
        return 2;
    lf_dict_value_t v;
    if (!shd_value(L, 3, &v)) {
        lua_pushnil(L);
        lua_pushliteral(L, "bad value type");
        return 2;
    }
    int forcible = 0;
    int rc = lf_dict_store(d, op, key, klen, &v, exptime, flags, &forcible);
    lua_pushboolean(L, rc == 0);
    if (rc == 0)
        lua_pushnil(L);
    else
        lua_pushstring(L, lf_dict_strerror(rc));
    lua_pushboolean(L, forcible);
    return 3;
}

static int shd_set(lua_State *L)
{
    return shd_store(L, LF_DICT_SET);
}

static int shd_safe_set(lua_State *L)
{
    return shd_store(L, LF_DICT_SET | LF_DICT_SAFE);
}

static int shd_add(lua_State *L)
{
    return shd_store(L, LF_DICT_ADD);
}

static int shd_safe_add(lua_State *L)
{
    return shd_store(L, LF_DICT_ADD | LF_DICT_SAFE);
}

static int shd_replace(lua_State *L)
{
    return shd_store(L, LF_DICT_REPLACE);
}

static int shd_delete(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushnil(L);
    return shd_store(L, LF_DICT_SET);
}

/* A number argument as shdict.lua converts one (tonumber), or an error. */
static lua_Number shd_number(lua_State *L, int idx, const char *what)
{
    if (lua_type(L, idx) == LUA_TNUMBER)
        return lua_tonumber(L, idx);
    const char *t = luaL_typename(L, idx);
    if (lua_isnumber(L, idx))
        return lua_tonumber(L, idx);
    return luaL_error(L, "bad %s arg: number expected, got %s", what, t);
}

static int shd_incr(lua_State *L)
{
    lf_dict_t *d = shd_zone(L);
    const char *key;
    size_t klen;
    if (!shd_key(L, 2, &key, &klen))
        return 2;
    lua_Number delta = shd_number(L, 3, "value");
    int has_init = lua_toboolean(L, 4);
    lua_Number init = has_init ? shd_number(L, 4, "init") : 0;
    int64_t ttl = 0;
    if (!lua_isnoneornil(L, 5)) {
        lua_Number t = shd_number(L, 5, "init_ttl");
        if (t < 0)
            return luaL_error(L, "bad \"init_ttl\" argument");
        if (!has_init)
            return luaL_error(L, "must provide \"init\" when providing \"init_ttl\"");
        ttl = shd_ms(t);
    }
    double result = 0;
    int forcible = 0;
    int rc = lf_dict_incr(d, key, klen, delta, has_init, init, ttl, &result, &forcible);
    if (rc != 0)
        return shd_fail(L, rc);
    lua_pushnumber(L, result);
    if (!has_init)
        return 1;
    lua_pushnil(L);
    lua_pushboolean(L, forcible);
    return 3;
}

static int shd_ttl(lua_State *L)
{
    lf_dict_t *d = shd_zone(L);
    const char *key;
    size_t klen;
    if (!shd_key(L, 2, &key, &klen))
        return 2;
    int64_t ms = 0;
    int rc = lf_dict_ttl(d, key, klen, &ms);
    if (rc != 0)
        return shd_fail(L, rc);
    lua_pushnumber(L, (lua_Number)ms / 1000);
    return 1;
}

static int shd_expire(lua_State *L)
{
    lf_dict_t *d = shd_zone(L);
    if (lua_isnoneornil(L, 3))
        return luaL_error(L, "bad \"exptime\" argument");
    lua_Number e = luaL_checknumber(L, 3);
    const char *key;
    size_t klen;
    if (!shd_key(L, 2, &key, &klen))
        return 2;
    int rc = lf_dict_expire(d, key, klen, shd_ms(e));
    if (rc != 0)
        return shd_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static int shd_flush_all(lua_State *L)
{
    lf_dict_flush_all(shd_zone(L));
    return 0;
}

/* lua-nginx-module checks the argument count of its C methods. */
static lf_dict_t *shd_zone_n(lua_State *L, int lo, int hi)
{
    int n = lua_gettop(L);
    if (n < lo || n > hi) {
        if (lo == hi)
            luaL_error(L, "expecting %d arguments, but only seen %d", lo, n);
        luaL_error(L, "expecting %d or %d argument(s), but saw %d", lo, hi, n);
    }
    return shd_zone(L);
}

static int shd_flush_expired(lua_State *L)
{
    lf_dict_t *d = shd_zone_n(L, 1, 2);
    int max = lua_gettop(L) == 2 ? luaL_checkint(L, 2) : 0;
    lua_pushnumber(L, lf_dict_flush_expired(d, max));
    return 1;
}

static int shd_get_keys(lua_State *L)
{
    lf_dict_t *d = shd_zone_n(L, 1, 2);
    int max = lua_gettop(L) == 2 ? luaL_checkint(L, 2) : 1024;
    char *p = NULL;
    int n = lf_dict_keys(d, max, shd_reserve, NULL, &p);
    if (n < 0)
        return luaL_error(L, "%s", lf_dict_strerror(n));
    /* The buffer is ours until the next call: read it before any other. */
    lua_createtable(L, n, 0);
    for (int i = 1; i <= n; i++) {
        uint16_t len;
        memcpy(&len, p, 2);
        lua_pushlstring(L, p + 2, len);
        lua_rawseti(L, -2, i);
        p += 2 + len;
    }
    return 1;
}

static int shd_push(lua_State *L, int left)
{
    lf_dict_t *d = shd_zone_n(L, 3, 3);
    if (lua_isnil(L, 2)) {
        lua_pushnil(L);
        lua_pushliteral(L, "nil key");
        return 2;
    }
    size_t klen;
    const char *key = luaL_checklstring(L, 2, &klen);
    if (klen == 0 || klen > MAX_KEY) {
        lua_pushnil(L);
        lua_pushstring(L, klen ? "key too long" : "empty key");
        return 2;
    }
    lf_dict_value_t v;
    int t = lua_type(L, 3);
    if ((t != LUA_TSTRING && t != LUA_TNUMBER) || !shd_value(L, 3, &v)) {
        lua_pushnil(L);
        lua_pushliteral(L, "bad value type");
        return 2;
    }
    uint32_t len = 0;
    int rc = lf_dict_push(d, left, key, klen, &v, &len);
    if (rc != 0)
        return shd_fail(L, rc);
    lua_pushnumber(L, len);
    return 1;
}

static int shd_lpush(lua_State *L)
{
    return shd_push(L, 1);
}

static int shd_rpush(lua_State *L)
{
    return shd_push(L, 0);
}

/* The key of a list call with 2 arguments; 0 with nil, reason pushed. */
static int shd_list_key(lua_State *L, lf_dict_t **d, const char **key, size_t *klen)
{
    *d = shd_zone_n(L, 2, 2);
    if (lua_isnil(L, 2)) {
        lua_pushnil(L);
        lua_pushliteral(L, "nil key");
        return 0;
    }
    *key = luaL_checklstring(L, 2, klen);
    if (*klen == 0 || *klen > MAX_KEY) {
        lua_pushnil(L);
        lua_pushstring(L, *klen ? "key too long" : "empty key");
        return 0;
    }
    return 1;
}

static int shd_pop(lua_State *L, int left)
{
    lf_dict_t *d;
    const char *key;
    size_t klen;
    if (!shd_list_key(L, &d, &key, &klen))
        return 2;
    lf_dict_out_t o;
    int rc = lf_dict_pop(d, left, key, klen, &o, shd_reserve, NULL);
    if (rc != 0)
        return shd_fail(L, rc);
    shd_push_out(L, &o);
    return 1;
}

static int shd_lpop(lua_State *L)
{
    return shd_pop(L, 1);
}

static int shd_rpop(lua_State *L)
{
    return shd_pop(L, 0);
}

static int shd_llen(lua_State *L)
{
    lf_dict_t *d;
    const char *key;
    size_t klen;
    if (!shd_list_key(L, &d, &key, &klen))
        return 2;
    uint32_t len;
    int rc = lf_dict_llen(d, key, klen, &len);
    if (rc != 0)
        return shd_fail(L, rc);
    lua_pushnumber(L, len);
    return 1;
}

static int shd_capacity(lua_State *L)
{
    lf_dict_stats_t st;
    lf_dict_t *d = shd_zone(L);
    st.capacity = d->size;
    lua_pushnumber(L, (lua_Number)st.capacity);
    return 1;
}

static int shd_free_space(lua_State *L)
{
    lf_dict_stats_t st;
    lf_dict_stats(shd_zone(L), &st);
    lua_pushnumber(L, (lua_Number)st.free_space);
    return 1;
}

void lf_api_shdict_init(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"get", shd_get}, {"get_stale", shd_get_stale}, {"set", shd_set},
        {"safe_set", shd_safe_set}, {"add", shd_add}, {"safe_add", shd_safe_add},
        {"replace", shd_replace}, {"delete", shd_delete}, {"incr", shd_incr},
        {"ttl", shd_ttl}, {"expire", shd_expire}, {"flush_all", shd_flush_all},
        {"flush_expired", shd_flush_expired}, {"get_keys", shd_get_keys},
        {"lpush", shd_lpush}, {"rpush", shd_rpush}, {"lpop", shd_lpop},
        {"rpop", shd_rpop}, {"llen", shd_llen}, {"capacity", shd_capacity},
        {"free_space", shd_free_space}, {NULL, NULL},
    };
    const lf_dict_set_t *set = lf_dict_set_current;
    int n = set ? set->n : 0;
    lua_createtable(L, 0, n);                        /* sp: ngx, shared */
    lua_newtable(L);                                 /* sp: ngx, shared, udata_mt */
    lua_pushliteral(L, "shared dict");
    lua_setfield(L, -2, "__metatable");
    lua_createtable(L, 0, 1);                        /* sp: ..., udata_mt, dict_mt */
    lua_createtable(L, 0, 24);                       /* sp: ..., dict_mt, methods */
    for (const luaL_Reg *m = methods; m->name; m++) {
        lua_pushvalue(L, -3);
        lua_pushcclosure(L, m->func, 1);
        lua_setfield(L, -2, m->name);
    }
    lua_setfield(L, -2, "__index");                  /* sp: ngx, shared, udata_mt, dict_mt */
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 1, 0);                    /* sp: ..., dict_mt, dict */
        lf_dict_t **u = lua_newuserdata(L, sizeof(*u));
        *u = set->dicts[i];
        lua_pushvalue(L, -4);
        lua_setmetatable(L, -2);
        lua_rawseti(L, -2, 1);
        lua_pushvalue(L, -2);
        lua_setmetatable(L, -2);
        lua_setfield(L, -4, set->dicts[i]->name);
    }
    lua_pop(L, 2);                                   /* sp: ngx, shared */
    lua_setfield(L, -2, "shared");
}
