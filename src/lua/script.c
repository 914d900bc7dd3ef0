/* script.c - SCRIPT_FILENAME checks: lexical first, then realpath(3). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "script.h"

static int has_suffix(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len > n && memcmp(s + len - n, suffix, n) == 0;
}

/* Is path equal to dir or below it (dir without trailing slash)? */
static int is_below(const char *path, size_t len, const char *dir, size_t dlen)
{
    if (dlen == 1 && dir[0] == '/')
        return path[0] == '/';
    return len > dlen && memcmp(path, dir, dlen) == 0 && path[dlen] == '/';
}

/* Apache's mod_proxy_fcgi sends "proxy:fcgi://host:port/path". */
static const char *strip_proxy_prefix(const char *p)
{
    if (strncmp(p, "proxy:", 6) != 0)
        return p;
    const char *scheme = strstr(p, "://");
    if (scheme == NULL)
        return p;
    const char *slash = strchr(scheme + 3, '/');
    return slash ? slash : p;
}

/* dir as realpath(3) sees it (real) and made absolute as given (given,
 * without trailing slashes); what names the option in errors. */
static int root_dir(const char *what, const char *dir, char *real, size_t *real_len, char *given,
                    size_t givenlen, size_t *given_len, char *errbuf, size_t errlen)
{
    if (realpath(dir, real) == NULL) {
        snprintf(errbuf, errlen, "invalid %s \"%s\" (%d: %s)", what, dir, errno, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(errbuf, errlen, "invalid %s \"%s\": not a directory", what, dir);
        return -1;
    }
    *real_len = strlen(real);
    if (dir[0] == '/') {
        if (strlen(dir) >= givenlen) {
            snprintf(errbuf, errlen, "%s \"%s\" is too long", what, dir);
            return -1;
        }
        strcpy(given, dir);
    } else {
        char cwd[4096];
        if (getcwd(cwd, sizeof(cwd)) == NULL ||
            (size_t)snprintf(given, givenlen, "%s/%s", cwd, dir) >= givenlen) {
            snprintf(errbuf, errlen, "%s \"%s\" is too long", what, dir);
            return -1;
        }
    }
    *given_len = strlen(given);
    while (*given_len > 1 && given[*given_len - 1] == '/')
        given[--*given_len] = '\0';
    return 0;
}

int lf_root_init(lf_root_t *root, const char *dir, const char *sandbox_dir, char *errbuf,
                 size_t errlen)
{
    if (root_dir("--root", dir, root->real, &root->real_len, root->given, sizeof(root->given),
                 &root->given_len, errbuf, errlen) != 0)
        return -1;
    root->sandbox_real_len = root->sandbox_given_len = 0;
    root->sandbox_real[0] = root->sandbox_given[0] = '\0';
    if (sandbox_dir == NULL)
        return 0;
    if (root_dir("--sandbox-root", sandbox_dir, root->sandbox_real, &root->sandbox_real_len,
                 root->sandbox_given, sizeof(root->sandbox_given), &root->sandbox_given_len,
                 errbuf, errlen) != 0)
        return -1;
    /* Scripts are routed inside --root only: a sandbox outside it would
     * hold nothing that can run. */
    if (strcmp(root->sandbox_real, root->real) != 0 &&
        !is_below(root->sandbox_real, root->sandbox_real_len, root->real, root->real_len)) {
        snprintf(errbuf, errlen, "--sandbox-root \"%s\" is not inside --root \"%s\"", sandbox_dir,
                 root->real);
        root->sandbox_real_len = 0;
        return -1;
    }
    return 0;
}

int lf_script_sandboxed(const lf_root_t *root, const char *param, const char *resolved)
{
    if (root->sandbox_real_len == 0)
        return 0;
    if (resolved &&
        is_below(resolved, strlen(resolved), root->sandbox_real, root->sandbox_real_len))
        return 1;
    if (param == NULL)
        return 0;
    param = strip_proxy_prefix(param);
    size_t len = strlen(param);
    return is_below(param, len, root->sandbox_given, root->sandbox_given_len) ||
           is_below(param, len, root->sandbox_real, root->sandbox_real_len);
}

/* Apache's ProxyPassMatch form (fcgi://host:port/root/$1 with
 * ^/(.*\.lua(/.*)?)$) leaves the path info in SCRIPT_FILENAME and sends no
 * PATH_INFO: the script ends at the first name ending in ".lua" that a "/"
 * follows below the root, as with nginx's fastcgi_split_path_info
 * ^(.+?\.lua)(/.*)$.  The length of the script part. */
static size_t split_path_info(const lf_root_t *root, const char *path, size_t len)
{
    size_t i = 0;
    if (is_below(path, len, root->given, root->given_len))
        i = root->given_len;
    else if (is_below(path, len, root->real, root->real_len))
        i = root->real_len;
    for (; i + 5 <= len; i++)
        if (memcmp(path + i, ".lua/", 5) == 0 && i > 0 && path[i - 1] != '/')
            return i + 4;
    return len;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ProxyPassMatch also percent-encodes the path ("sub%20dir/x.lua"), where
 * the SetHandler form sends the file name as it is.  The decoding of p into
 * out (outlen > strlen(p)), or -1 when p has no %XX escape or one is %00. */
static int percent_decode(const char *p, char *out)
{
    int escapes = 0;
    size_t j = 0;
    for (size_t i = 0; p[i]; i++) {
        int hi, lo;
        if (p[i] == '%' && (hi = hex_value((unsigned char)p[i + 1])) >= 0 &&
            (lo = hex_value((unsigned char)p[i + 2])) >= 0) {
            if (hi == 0 && lo == 0)
                return -1;
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
            escapes++;
        } else {
            out[j++] = p[i];
        }
    }
    out[j] = '\0';
    return escapes ? 0 : -1;
}

/* SCRIPT_FILENAME's checks, lexical and then on the resolved path. */
static int script_check(const lf_root_t *root, const char *path, char *out, size_t outlen,
                        char *why, size_t whylen)
{
    size_t len = strlen(path);
    if (len >= PATH_MAX || len >= outlen) {
        snprintf(why, whylen, "script path too long (%zu bytes)", len);
        return 403;
    }
    if (path[0] != '/') {
        snprintf(why, whylen, "script path is not absolute");
        return 403;
    }
    /* Refuse "." and ".." components outright: no escape to reason about. */
    for (const char *c = path; *c; ) {
        while (*c == '/')
            c++;
        const char *e = c;
        while (*e && *e != '/')
            e++;
        size_t n = (size_t)(e - c);
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
            snprintf(why, whylen, "script path has a \".\" or \"..\" component");
            return 403;
        }
        if (n > NAME_MAX) {
            snprintf(why, whylen, "script path has a name longer than %d bytes", NAME_MAX);
            return 403;
        }
        c = e;
    }
    if (!has_suffix(path, len, ".lua")) {
        snprintf(why, whylen, "script does not end in .lua");
        return 403;
    }
    if (!is_below(path, len, root->given, root->given_len) &&
        !is_below(path, len, root->real, root->real_len)) {
        snprintf(why, whylen, "script is outside the root %s", root->real);
        return 403;
    }
    char resolved[PATH_MAX];
    if (realpath(path, resolved) == NULL) {
        int err = errno;
        snprintf(why, whylen, "realpath() failed (%d: %s)", err, strerror(err));
        return (err == ENOENT || err == ENOTDIR) ? 404 : 403;
    }
    size_t rlen = strlen(resolved);
    if (!is_below(resolved, rlen, root->real, root->real_len)) {
        snprintf(why, whylen, "script resolves to %s, outside the root %s", resolved, root->real);
        return 403;
    }
    if (!has_suffix(resolved, rlen, ".lua")) {
        snprintf(why, whylen, "script resolves to %s, which does not end in .lua", resolved);
        return 403;
    }
    struct stat st;
    if (stat(resolved, &st) != 0) {
        snprintf(why, whylen, "stat() failed (%d: %s)", errno, strerror(errno));
        return errno == ENOENT ? 404 : 403;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "script is not a regular file");
        return 403;
    }
    if (rlen >= outlen) {
        snprintf(why, whylen, "script path too long");
        return 403;
    }
    memcpy(out, resolved, rlen + 1);
    return 0;
}

int lf_script_resolve(const lf_root_t *root, const char *param, char *out, size_t outlen,
                      char *why, size_t whylen)
{
    if (param == NULL || param[0] == '\0') {
        snprintf(why, whylen, "no SCRIPT_FILENAME");
        return 404;
    }
    const char *path = strip_proxy_prefix(param);
    if (path == param)
        return script_check(root, path, out, outlen, why, whylen);

    /* Apache: the path info cut off, and the name as sent; if that is
     * refused, its percent-decoding, which must pass all the same checks
     * (the first refusal is the one reported). */
    size_t len = strlen(path);
    if (len >= PATH_MAX) {
        snprintf(why, whylen, "script path too long (%zu bytes)", len);
        return 403;
    }
    char name[PATH_MAX];
    len = split_path_info(root, path, len);
    memcpy(name, path, len);
    name[len] = '\0';
    int status = script_check(root, name, out, outlen, why, whylen);
    if (status == 0 || percent_decode(path, name) != 0)
        return status;
    name[split_path_info(root, name, strlen(name))] = '\0';
    char why2[PATH_MAX + 256];
    if (script_check(root, name, out, outlen, why2, sizeof(why2)) == 0)
        return 0;
    return status;
}
