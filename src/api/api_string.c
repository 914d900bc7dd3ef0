/* api_string.c - ngx.escape_uri/unescape_uri, encode_args/decode_args,
 * md5/md5_bin/sha1_bin/hmac_sha1, crc32_short/crc32_long, base64 and
 * quote_sql_str, with the behaviour of lua-nginx-module + lua-resty-core.
 * MD5 (RFC 1321), SHA-1 (FIPS 180-4), HMAC (RFC 2104) and CRC-32 (the
 * reflected 0xEDB88320 one of zlib) are written here from the specs.
 *
 * lf_api_decode_args (declared in api.h), for the other API files, parses
 * a query string like ngx.req.get_uri_args / ngx.decode_args and pushes
 * the table, then "truncated" if max > 0 pairs were reached before
 * the end; returns the number of values pushed (1 or 2).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

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

static const uint32_t api_string_md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
    0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
    0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
    0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
    0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* MD5 and SHA-1 share the Merkle-Damgard framing, not the byte order. */
typedef struct {
    uint32_t       h[5];
    uint64_t       bytes;       /* message length so far */
    unsigned char  buf[64];
    int            sha1;        /* 0: MD5, little-endian; 1: SHA-1, big */
} api_string_hash_t;

static uint32_t api_string_crc32_table[256];

/* One 64-byte MD5 block (RFC 1321 section 3.4). */
static void api_string_md5_block(uint32_t *h, const unsigned char *p)
{
    static const unsigned char shift[16] = {
        7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21
    };
    uint32_t w[16], a = h[0], b = h[1], c = h[2], d = h[3], f, t;
    int i, g;

    for (i = 0; i < 16; i++, p += 4)
        w[i] = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

    for (i = 0; i < 64; i++) {
        switch (i >> 4) {
        case 0:  f = (b & c) | (~b & d); g = i; break;
        case 1:  f = (d & b) | (~d & c); g = (5 * i + 1) & 15; break;
        case 2:  f = b ^ c ^ d;          g = (3 * i + 5) & 15; break;
        default: f = c ^ (b | ~d);       g = (7 * i) & 15; break;
        }
        t = a + f + api_string_md5_k[i] + w[g];
        a = d;
        d = c;
        c = b;
        b += API_STRING_ROTL(t, shift[(i >> 4) * 4 + (i & 3)]);
    }

    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

/* One 64-byte SHA-1 block (FIPS 180-4 section 6.1.2). */
static void api_string_sha1_block(uint32_t *h, const unsigned char *p)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f, k, t;
    int i;

    for (i = 0; i < 16; i++, p += 4)
        w[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    for (; i < 80; i++) {
        t = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
        w[i] = API_STRING_ROTL(t, 1);
    }

    for (i = 0; i < 80; i++) {
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        t = API_STRING_ROTL(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = API_STRING_ROTL(b, 30);
        b = a;
        a = t;
    }

    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

/* Start an MD5 (sha1 = 0) or SHA-1 (sha1 = 1) digest. */
static void api_string_hash_init(api_string_hash_t *c, int sha1)
{
    c->h[0] = 0x67452301;
    c->h[1] = 0xefcdab89;
    c->h[2] = 0x98badcfe;
    c->h[3] = 0x10325476;
    c->h[4] = 0xc3d2e1f0;
    c->bytes = 0;
    c->sha1 = sha1;
}

/* Feed n bytes, hashing each block as it fills. */
static void api_string_hash_update(api_string_hash_t *c, const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t used = (size_t)(c->bytes & 63), take;

    c->bytes += n;
    while (n > 0) {
        take = 64 - used < n ? 64 - used : n;
        memcpy(c->buf + used, p, take);
        used += take;
        p += take;
        n -= take;
        if (used == 64) {
            if (c->sha1)
                api_string_sha1_block(c->h, c->buf);
            else
                api_string_md5_block(c->h, c->buf);
            used = 0;
        }
    }
}

/* Pad with 0x80, zeros and the bit length; write 16 (MD5) or 20 bytes. */
static void api_string_hash_final(api_string_hash_t *c, unsigned char *out)
{
    unsigned char pad[72];
    uint64_t bits = c->bytes * 8;
    size_t used = (size_t)(c->bytes & 63);
    size_t n = used < 56 ? 56 - used : 120 - used;   /* 1..64 */
    int i, words = c->sha1 ? 5 : 4;

    pad[0] = 0x80;
    memset(pad + 1, 0, n - 1);
    for (i = 0; i < 8; i++)
        pad[n + i] = (unsigned char)(c->sha1 ? bits >> (56 - 8 * i) : bits >> (8 * i));
    api_string_hash_update(c, pad, n + 8);

    for (i = 0; i < 4 * words; i++) {
        int sh = c->sha1 ? 24 - 8 * (i & 3) : 8 * (i & 3);
        out[i] = (unsigned char)(c->h[i >> 2] >> sh);
    }
}

/* One-shot digest of a buffer. */
static void api_string_digest(int sha1, const void *p, size_t n, unsigned char *out)
{
    api_string_hash_t c;

    api_string_hash_init(&c, sha1);
    api_string_hash_update(&c, p, n);
    api_string_hash_final(&c, out);
}

/* HMAC-SHA1 (RFC 2104) with a 64-byte block. */
static void api_string_hmac_sha1_raw(const unsigned char *key, size_t klen,
                                     const unsigned char *msg, size_t mlen,
                                     unsigned char *out)
{
    unsigned char k[64], pad[64], inner[20];
    api_string_hash_t c;
    int i;

    memset(k, 0, sizeof(k));
    if (klen > sizeof(k))
        api_string_digest(1, key, klen, k);
    else if (klen > 0)
        memcpy(k, key, klen);

    for (i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    api_string_hash_init(&c, 1);
    api_string_hash_update(&c, pad, sizeof(pad));
    api_string_hash_update(&c, msg, mlen);
    api_string_hash_final(&c, inner);

    for (i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    api_string_hash_init(&c, 1);
    api_string_hash_update(&c, pad, sizeof(pad));
    api_string_hash_update(&c, inner, sizeof(inner));
    api_string_hash_final(&c, out);
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
    api_string_hmac_sha1_raw((const unsigned char *)key, klen,
                             (const unsigned char *)s, len, md);
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
