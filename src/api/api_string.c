/* api_string.c - ngx.escape_uri/unescape_uri, encode_args/decode_args,
 * md5/md5_bin/sha1_bin/hmac_sha1 (libcrypto's), crc32_short/crc32_long, base64 and
 * quote_sql_str, with the behaviour of lua-nginx-module + lua-resty-core.
 * The digests are OpenSSL's libcrypto (linked for the cosockets' TLS);
 * CRC-32 (the reflected 0xEDB88320 one of zlib) is written here.
 *
 * lf_api_decode_args (declared in api.h), for the other API files, parses
 * a query string like ngx.req.get_uri_args / ngx.decode_args and pushes
 * the table, then "truncated" if max > 0 pairs were reached before
 * the end; returns the number of values pushed (1 or 2).
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api.h"

#define API_STRING_MAX_ARGS   100   /* NGX_HTTP_LUA_MAX_ARGS */
#define API_STRING_ESC_COMP   2     /* NGX_ESCAPE_URI_COMPONENT */
#define API_STRING_ESC_LAST   6     /* NGX_ESCAPE_MAIL_AUTH */

#define API_STRING_ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* Which bytes each escape type turns into %XX (one bit per byte value),
 * as lua-nginx-module's tables: uri, args, uri_component, html, refresh,
 * memcached, mail_auth (= memcached). */
static const uint32_t api_string_escape_map[API_STRING_ESC_LAST + 1][8] = {
    /* 0: " ", "#", "%", "?", controls, 0x7f-0xff */
    { 0xffffffff, 0x80000029, 0x00000000, 0x80000000,
      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff },
    /* 1: " ", "#", "%", "+", "?", controls, 0x7f-0xff */
    { 0xffffffff, 0x80000829, 0x00000000, 0x80000000,
      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff },
    /* 2: all but ALPHA DIGIT - . _ ~ and the sub-delims ! ' ( ) * */
    { 0xffffffff, 0xfc00987d, 0x78000001, 0xb8000001,
      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff },
    /* 3: " ", "#", "\"", "%", "'", controls, 0x7f-0xff */
    { 0xffffffff, 0x000000ad, 0x00000000, 0x80000000,
      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff },
    /* 4: " ", "\"", "%", "'", controls, 0x7f-0xff */
    { 0xffffffff, 0x00000085, 0x00000000, 0x80000000,
      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff },
    /* 5: " ", "%", controls */
    { 0xffffffff, 0x00000021, 0, 0, 0, 0, 0, 0 },
    /* 6: as 5 */
    { 0xffffffff, 0x00000021, 0, 0, 0, 0, 0, 0 },
};

static uint32_t api_string_crc32_table[256];

/* One 64-byte MD5 block (RFC 1321 section 3.4). */
/* One-shot digest of a buffer: MD5 (sha1 = 0) or SHA-1, libcrypto's. */
static void api_string_digest(int sha1, const void *p, size_t n, unsigned char *out)
{
    unsigned int len = 0;
    EVP_Digest(p, n, out, &len, sha1 ? EVP_sha1() : EVP_md5(), NULL);
}

/* Fill the byte-at-a-time table of the reflected CRC-32 polynomial. */
static void api_string_crc32_init(void)
{
    uint32_t n, c;
    int k;

    if (api_string_crc32_table[1] != 0)
        return;
    for (n = 0; n < 256; n++) {
        c = n;
        for (k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320 ^ (c >> 1) : c >> 1;
        api_string_crc32_table[n] = c;
    }
}

/* CRC-32 as zlib's crc32(0, p, n). */
static uint32_t api_string_crc32(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xffffffff;

    while (n-- > 0)
        crc = api_string_crc32_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffff;
}

/* Value of a hex digit, or -1 (locale-independent). */
static int api_string_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Value of a standard base64 digit, or -1. */
static int api_string_b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* An argument as lua-resty-core takes it: nil/false/none are "", other
 * non-strings go through tostring (upvalue 1).  Replaces the slot. */
static const char *api_string_arg(lua_State *L, int idx, size_t *len)
{
    const char *s;

    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
    case LUA_TNUMBER:
        return lua_tolstring(L, idx, len);
    default:
        break;
    }
    if (!lua_toboolean(L, idx)) {
        *len = 0;
        return "";
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
    lua_replace(L, idx);
    s = lua_tolstring(L, idx, len);
    if (s == NULL) {
        *len = 0;
        return "";
    }
    return s;
}

/* Raise the message on top of the stack like Lua's error(msg, 3). */
static int api_string_error3(lua_State *L)
{
    luaL_where(L, 2);
    lua_insert(L, -2);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Append s to b, %XX-escaping (uppercase hex) the bytes set in map. */
static void api_string_escape(luaL_Buffer *b, const unsigned char *s, size_t n,
                              const uint32_t *map)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; n > 0; n--, s++) {
        if (map[*s >> 5] & (1U << (*s & 0x1f))) {
            luaL_addchar(b, '%');
            luaL_addchar(b, hex[*s >> 4]);
            luaL_addchar(b, hex[*s & 0xf]);
        } else {
            luaL_addchar(b, *s);
        }
    }
}

/* Push s decoded as a URI component: %XX, '+' is a space, a '%' not
 * followed by two hex digits stays as it is. */
static void api_string_push_unescaped(lua_State *L, const char *src, size_t n)
{
    const unsigned char *s = (const unsigned char *)src;
    luaL_Buffer b;
    size_t i = 0;
    int hi, lo;

    luaL_buffinit(L, &b);
    while (i < n) {
        if (s[i] == '%' && n - i > 2
            && (hi = api_string_hexval(s[i + 1])) >= 0
            && (lo = api_string_hexval(s[i + 2])) >= 0)
        {
            luaL_addchar(&b, (char)(hi << 4 | lo));
            i += 3;
            continue;
        }
        luaL_addchar(&b, s[i] == '+' ? ' ' : (char)s[i]);
        i++;
    }
    luaL_pushresult(&b);
}

/* ngx.escape_uri(str, type?) */
static int api_string_escape_uri(lua_State *L)
{
    const char *s;
    size_t len;
    int type = API_STRING_ESC_COMP;
    luaL_Buffer b;

    s = api_string_arg(L, 1, &len);
    if (!lua_isnoneornil(L, 2)) {
        lua_Number n;
        if (lua_type(L, 2) != LUA_TNUMBER) {
            lua_pushliteral(L, "\"esc_type\" is not number");
            return api_string_error3(L);
        }
        n = lua_tonumber(L, 2);
        if (!(n >= 0 && n <= API_STRING_ESC_LAST)) {
            lua_pushfstring(L, "\"esc_type\" %s out of range", lua_tostring(L, 2));
            return api_string_error3(L);
        }
        type = (int)n;
    }
    luaL_buffinit(L, &b);
    api_string_escape(&b, (const unsigned char *)s, len, api_string_escape_map[type]);
    luaL_pushresult(&b);
    return 1;
}

/* ngx.unescape_uri(str) */
static int api_string_unescape_uri(lua_State *L)
{
    size_t len;
    const char *s = api_string_arg(L, 1, &len);

    api_string_push_unescaped(L, s, len);
    return 1;
}

/* Append "&" (unless first), the escaped key and, if vidx, "=" value. */
static void api_string_add_arg(lua_State *L, luaL_Buffer *b, int *first,
                               int kidx, int vidx)
{
    const char *s;
    size_t len;

    if (!*first)
        luaL_addchar(b, '&');
    *first = 0;
    s = lua_tolstring(L, kidx, &len);
    api_string_escape(b, (const unsigned char *)s, len,
                      api_string_escape_map[API_STRING_ESC_COMP]);
    if (vidx == 0)
        return;
    luaL_addchar(b, '=');
    s = lua_tolstring(L, vidx, &len);
    api_string_escape(b, (const unsigned char *)s, len,
                      api_string_escape_map[API_STRING_ESC_COMP]);
}

/* ngx.encode_args(table).  Slots 2-5 hold the outer and inner next() key
 * and value so that the stack stays balanced around the luaL_Buffer. */
static int api_string_encode_args(lua_State *L)
{
    luaL_Buffer b;
    int first = 1;

    if (lua_gettop(L) != 1)
        return luaL_error(L, "expecting 1 argument but seen %d", lua_gettop(L));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 5);
    luaL_checkstack(L, LUA_MINSTACK, "encode_args");
    luaL_buffinit(L, &b);

    for (;;) {
        lua_pushvalue(L, 2);
        if (lua_next(L, 1) == 0)
            break;
        lua_replace(L, 3);
        lua_replace(L, 2);
        if (lua_type(L, 2) != LUA_TSTRING)
            return luaL_error(L, "attempt to use a non-string key in the "
                              "\"args\" option table");

        switch (lua_type(L, 3)) {
        case LUA_TNUMBER:
        case LUA_TSTRING:
            api_string_add_arg(L, &b, &first, 2, 3);
            break;
        case LUA_TBOOLEAN:
            if (lua_toboolean(L, 3))
                api_string_add_arg(L, &b, &first, 2, 0);
            break;
        case LUA_TTABLE:
            lua_pushnil(L);
            lua_replace(L, 4);
            for (;;) {
                lua_pushvalue(L, 4);
                if (lua_next(L, 3) == 0)
                    break;
                lua_replace(L, 5);
                lua_replace(L, 4);
                switch (lua_type(L, 5)) {
                case LUA_TBOOLEAN:
                    if (lua_toboolean(L, 5))
                        api_string_add_arg(L, &b, &first, 2, 0);
                    break;
                case LUA_TNUMBER:
                case LUA_TSTRING:
                    api_string_add_arg(L, &b, &first, 2, 5);
                    break;
                default:
                    return luaL_error(L, "attempt to use %s as query arg value",
                                      luaL_typename(L, 5));
                }
            }
            break;
        default:
            return luaL_error(L, "attempt to use %s as query arg value",
                              luaL_typename(L, 3));
        }
    }

    luaL_pushresult(&b);
    return 1;
}

/* Store value (-1) under key (-2) in table t, both popped; a repeated key
 * turns the entry into an array of its values, in order. */
static void api_string_set_arg(lua_State *L, int t)
{
    lua_pushvalue(L, -2);
    lua_rawget(L, t);                       /* key value old */
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_rawset(L, t);
    } else if (!lua_istable(L, -1)) {
        lua_createtable(L, 4, 0);           /* key value old arr */
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);              /* key value arr */
        lua_insert(L, -2);
        lua_rawseti(L, -2, 2);              /* key arr */
        lua_rawset(L, t);
    } else {
        lua_insert(L, -2);                  /* key arr value */
        lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
        lua_pop(L, 2);
    }
}

/* Set the pair on the stack (key, value) unless the key is empty. */
static void api_string_end_pair(lua_State *L, int t)
{
    size_t klen;

    (void)lua_tolstring(L, -2, &klen);
    if (klen == 0)
        lua_pop(L, 2);
    else
        api_string_set_arg(L, t);
}

/* Parse a query string into a new table (see the top of the file). */
int lf_api_decode_args(lua_State *L, const char *buf, size_t len, int max)
{
    const char *p = buf, *q = buf, *end = buf + len;
    int t, value = 0, count = 0;

    luaL_checkstack(L, LUA_MINSTACK, "decode_args");
    lua_createtable(L, 0, 4);
    t = lua_gettop(L);

    while (p != end) {
        if (*p == '=' && !value) {
            api_string_push_unescaped(L, q, (size_t)(p - q));      /* key */
            q = ++p;
            value = 1;
        } else if (*p == '&') {
            api_string_push_unescaped(L, q, (size_t)(p - q));
            q = ++p;
            if (value)
                value = 0;
            else
                lua_pushboolean(L, 1);
            api_string_end_pair(L, t);
            if (max > 0 && ++count == max) {
                lua_pushliteral(L, "truncated");
                return 2;
            }
        } else {
            p++;
        }
    }

    if (p != q || value) {
        api_string_push_unescaped(L, q, (size_t)(p - q));
        if (!value)
            lua_pushboolean(L, 1);
        api_string_end_pair(L, t);
    }
    return 1;
}

/* ngx.decode_args(str, max_args?) */
static int api_string_decode_args(lua_State *L)
{
    int n = lua_gettop(L), max = API_STRING_MAX_ARGS;
    const char *s;
    size_t len;

    if (n != 1 && n != 2)
        return luaL_error(L, "expecting 1 or 2 arguments but seen %d", n);
    s = luaL_checklstring(L, 1, &len);
    if (n == 2)
        max = luaL_checkint(L, 2);
    return lf_api_decode_args(L, s, len, max);
}

/* ngx.md5(str): lowercase hex. */
static int api_string_md5(lua_State *L)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[16];
    char out[32];
    size_t len;
    const char *s = api_string_arg(L, 1, &len);
    int i;

    api_string_digest(0, s, len, md);
    for (i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    lua_pushlstring(L, out, sizeof(out));
    return 1;
}

/* ngx.md5_bin(str) */
static int api_string_md5_bin(lua_State *L)
{
    unsigned char md[16];
    size_t len;
    const char *s = api_string_arg(L, 1, &len);

    api_string_digest(0, s, len, md);
    lua_pushlstring(L, (const char *)md, sizeof(md));
    return 1;
}

/* ngx.sha1_bin(str) */
static int api_string_sha1_bin(lua_State *L)
{
    unsigned char md[20];
    size_t len;
    const char *s = api_string_arg(L, 1, &len);

    api_string_digest(1, s, len, md);
    lua_pushlstring(L, (const char *)md, sizeof(md));
    return 1;
}

/* ngx.hmac_sha1(key, str): binary. */
static int api_string_hmac_sha1(lua_State *L)
{
    unsigned char md[20];
    const char *key, *s;
    size_t klen, len;

    if (lua_gettop(L) != 2)
        return luaL_error(L, "expecting 2 arguments, but got %d", lua_gettop(L));
    key = luaL_checklstring(L, 1, &klen);
    s = luaL_checklstring(L, 2, &len);
    unsigned int mdlen = 0;
    if (HMAC(EVP_sha1(), key, (int)(klen > INT_MAX ? INT_MAX : klen), (const unsigned char *)s, len,
             md, &mdlen) == NULL)
        return luaL_error(L, "hmac_sha1 failed");
    lua_pushlstring(L, (const char *)md, sizeof(md));
    return 1;
}

/* ngx.crc32_short(str) and ngx.crc32_long(str): the same CRC-32. */
static int api_string_crc32_lua(lua_State *L)
{
    size_t len;
    const char *s = api_string_arg(L, 1, &len);

    lua_pushnumber(L, (lua_Number)api_string_crc32((const unsigned char *)s, len));
    return 1;
}

/* ngx.encode_base64(str, no_padding?) */
static int api_string_encode_base64(lua_State *L)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s;
    size_t len;
    int pad = 1;
    luaL_Buffer b;

    s = (const unsigned char *)api_string_arg(L, 1, &len);
    if (lua_toboolean(L, 2)) {
        if (lua_type(L, 2) != LUA_TBOOLEAN)
            return luaL_error(L, "bad no_padding: boolean expected, got %s",
                              luaL_typename(L, 2));
        pad = 0;
    }

    luaL_buffinit(L, &b);
    for (; len > 2; len -= 3, s += 3) {
        luaL_addchar(&b, digits[s[0] >> 2]);
        luaL_addchar(&b, digits[(s[0] & 3) << 4 | s[1] >> 4]);
        luaL_addchar(&b, digits[(s[1] & 0xf) << 2 | s[2] >> 6]);
        luaL_addchar(&b, digits[s[2] & 0x3f]);
    }
    if (len > 0) {
        luaL_addchar(&b, digits[s[0] >> 2]);
        if (len == 1) {
            luaL_addchar(&b, digits[(s[0] & 3) << 4]);
            if (pad)
                luaL_addchar(&b, '=');
        } else {
            luaL_addchar(&b, digits[(s[0] & 3) << 4 | s[1] >> 4]);
            luaL_addchar(&b, digits[(s[1] & 0xf) << 2]);
        }
        if (pad)
            luaL_addchar(&b, '=');
    }
    luaL_pushresult(&b);
    return 1;
}

/* ngx.decode_base64(str): as nginx, input stops at the first '=', so
 * padding may be missing; nil when a digit is invalid or one is left. */
static int api_string_decode_base64(lua_State *L)
{
    const unsigned char *s;
    size_t len, n, i;
    uint32_t v;
    luaL_Buffer b;

    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "string argument only");
    s = (const unsigned char *)lua_tolstring(L, 1, &len);

    for (n = 0; n < len && s[n] != '='; n++) {
        if (api_string_b64val(s[n]) < 0) {
            lua_pushnil(L);
            return 1;
        }
    }
    if (n % 4 == 1) {
        lua_pushnil(L);
        return 1;
    }

    luaL_buffinit(L, &b);
    for (i = 0; i < n; i += 4) {
        size_t left = n - i < 4 ? n - i : 4, k;
        v = 0;
        for (k = 0; k < 4; k++)
            v = v << 6 | (k < left ? (uint32_t)api_string_b64val(s[i + k]) : 0);
        luaL_addchar(&b, (char)(v >> 16));
        if (left > 2)
            luaL_addchar(&b, (char)(v >> 8));
        if (left > 3)
            luaL_addchar(&b, (char)v);
    }
    luaL_pushresult(&b);
    return 1;
}

/* ngx.quote_sql_str(str): MySQL string literal. */
static int api_string_quote_sql_str(lua_State *L)
{
    const unsigned char *s;
    size_t len;
    luaL_Buffer b;
    char e;

    if (lua_gettop(L) != 1)
        return luaL_error(L, "expecting one argument");
    s = (const unsigned char *)luaL_checklstring(L, 1, &len);

    luaL_buffinit(L, &b);
    luaL_addchar(&b, '\'');
    for (; len > 0; len--, s++) {
        switch (*s) {
        case '\0': e = '0'; break;
        case '\b': e = 'b'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\t': e = 't'; break;
        case 26:   e = 'Z'; break;
        case '\\': e = '\\'; break;
        case '\'': e = '\''; break;
        case '"':  e = '"'; break;
        default:   e = 0; break;
        }
        if (e) {
            luaL_addchar(&b, '\\');
            luaL_addchar(&b, e);
        } else {
            luaL_addchar(&b, *s);
        }
    }
    luaL_addchar(&b, '\'');
    luaL_pushresult(&b);
    return 1;
}

/* Add the functions to the ngx table at the top of the stack. */
void lf_api_string_init(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"escape_uri", api_string_escape_uri},
        {"unescape_uri", api_string_unescape_uri},
        {"encode_args", api_string_encode_args},
        {"decode_args", api_string_decode_args},
        {"md5", api_string_md5},
        {"md5_bin", api_string_md5_bin},
        {"sha1_bin", api_string_sha1_bin},
        {"hmac_sha1", api_string_hmac_sha1},
        {"crc32_short", api_string_crc32_lua},
        {"crc32_long", api_string_crc32_lua},
        {"encode_base64", api_string_encode_base64},
        {"decode_base64", api_string_decode_base64},
        {"quote_sql_str", api_string_quote_sql_str},
        {NULL, NULL},
    };

    api_string_crc32_init();
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_getglobal(L, "tostring");       /* upvalue for api_string_arg */
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
}
