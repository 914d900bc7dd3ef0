/* api_ffi.c - the two nginx functions OpenResty's Lua libraries call
 * through the FFI (lua-resty-string's resty.string: ngx_hex_dump and
 * ngx_atoi), exported from the binary (src/api/ffi.syms) so that Debian's
 * nginx.string finds them in the process as it would in nginx.  The
 * libraries' libcrypto calls (SHA256_Init, EVP_*, RAND_bytes) find
 * OpenSSL's, which luafpm links. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

/* Exported, not declared in a header: nothing in luafpm calls them. */
unsigned char *ngx_hex_dump(unsigned char *dst, const unsigned char *src, size_t len);
intptr_t ngx_atoi(const unsigned char *line, size_t n);

/* len bytes of src as 2 * len lowercase hex digits at dst; the end. */
unsigned char *ngx_hex_dump(unsigned char *dst, const unsigned char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    while (len--) {
        *dst++ = (unsigned char)hex[*src >> 4];
        *dst++ = (unsigned char)hex[*src++ & 0xf];
    }
    return dst;
}

/* A decimal number of n digits, as nginx's: -1 (NGX_ERROR) for none, a
 * non-digit, or an overflow of intptr_t. */
intptr_t ngx_atoi(const unsigned char *line, size_t n)
{
    if (n == 0)
        return -1;
    intptr_t value = 0, cutoff = INTPTR_MAX / 10, cutlim = INTPTR_MAX % 10;
    for (; n--; line++) {
        if (*line < '0' || *line > '9')
            return -1;
        if (value > cutoff || (value == cutoff && *line - '0' > cutlim))
            return -1;
        value = value * 10 + (*line - '0');
    }
    return value;
}
