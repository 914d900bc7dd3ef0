# luafpm.m4 - project macros for configure.ac

# LF_CHECK_LUAJIT: LuaJIT >= 2.1 through pkg-config (OpenResty's branch,
# Debian libluajit2-5.1-dev, or Debian's libluajit-5.1-dev: both ship luajit.pc).
AC_DEFUN([LF_CHECK_LUAJIT], [
  PKG_CHECK_MODULES([LUAJIT], [luajit >= 2.1], [], [
    AC_MSG_ERROR([LuaJIT 2.1 not found: install the Debian package libluajit2-5.1-dev (OpenResty's LuaJIT branch) or libluajit-5.1-dev ($LUAJIT_PKG_ERRORS)])
  ])
  lf_save_CFLAGS=$CFLAGS; lf_save_LIBS=$LIBS
  CFLAGS="$CFLAGS $LUAJIT_CFLAGS"; LIBS="$LIBS $LUAJIT_LIBS"
  AC_MSG_CHECKING([whether LuaJIT links])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <lua.h>
#include <lauxlib.h>
#include <luajit.h>]], [[lua_State *L = luaL_newstate(); luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_ON); lua_close(L);]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no]); AC_MSG_ERROR([cannot link against LuaJIT: install libluajit2-5.1-dev])])
  CFLAGS=$lf_save_CFLAGS; LIBS=$lf_save_LIBS
])

# LF_CHECK_FCGI: libfcgi's fastcgi.h (the record layout and constants).
# Only the header: luafpm reads and writes records with its own codec
# (src/fcgi/fcgi_codec.c), so nothing of libfcgi is linked.
AC_DEFUN([LF_CHECK_FCGI], [
  PKG_CHECK_MODULES([FCGI], [fcgi], [], [FCGI_CFLAGS=])
  lf_save_CPPFLAGS=$CPPFLAGS
  CPPFLAGS="$CPPFLAGS $FCGI_CFLAGS"
  AC_CHECK_HEADER([fastcgi.h], [], [AC_MSG_ERROR([fastcgi.h not found: install the Debian package libfcgi-dev])])
  CPPFLAGS=$lf_save_CPPFLAGS
  FCGI_LIBS=
  AC_SUBST([FCGI_CFLAGS])
])

# LF_CHECK_OPENSSL: libssl and libcrypto (Debian libssl-dev) for the
# cosockets' TLS (sslhandshake).
AC_DEFUN([LF_CHECK_OPENSSL], [
  PKG_CHECK_MODULES([OPENSSL], [libssl >= 1.1.1 libcrypto], [], [
    AC_MSG_ERROR([OpenSSL not found: install the Debian package libssl-dev ($OPENSSL_PKG_ERRORS)])
  ])
])

# LF_CHECK_CARES: c-ares (Debian libc-ares-dev) for --resolver.
AC_DEFUN([LF_CHECK_CARES], [
  PKG_CHECK_MODULES([CARES], [libcares >= 1.16], [], [
    AC_MSG_ERROR([c-ares not found: install the Debian package libc-ares-dev ($CARES_PKG_ERRORS)])
  ])
])

# LF_CHECK_PCRE2: PCRE2's 8-bit library (Debian libpcre2-dev) for ngx.re.
AC_DEFUN([LF_CHECK_PCRE2], [
  PKG_CHECK_MODULES([PCRE2], [libpcre2-8 >= 10.30], [], [
    AC_MSG_ERROR([PCRE2 not found: install the Debian package libpcre2-dev ($PCRE2_PKG_ERRORS)])
  ])
])

# LF_WARNINGS: -Wall -Wextra and friends, kept to what the compiler knows.
AC_DEFUN([LF_WARNINGS], [
  LF_WARN_CFLAGS=
  for lf_flag in -Wall -Wextra -Wshadow -Wpointer-arith -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter; do
    AX_LF_CC_FLAG([$lf_flag], [LF_WARN_CFLAGS="$LF_WARN_CFLAGS $lf_flag"])
  done
  AC_ARG_ENABLE([werror], [AS_HELP_STRING([--enable-werror], [treat compiler warnings as errors])],
    [], [enable_werror=no])
  AS_IF([test "x$enable_werror" = xyes], [LF_WARN_CFLAGS="$LF_WARN_CFLAGS -Werror"])
  AC_SUBST([LF_WARN_CFLAGS])
])

# LF_ENABLE_SANITIZERS: --enable-sanitizers builds with ASan and UBSan.
AC_DEFUN([LF_ENABLE_SANITIZERS], [
  AC_ARG_ENABLE([sanitizers],
    [AS_HELP_STRING([--enable-sanitizers], [build with AddressSanitizer and UndefinedBehaviorSanitizer])],
    [], [enable_sanitizers=no])
  LF_SAN_CFLAGS=; LF_SAN_LDFLAGS=
  AS_IF([test "x$enable_sanitizers" = xyes], [
    LF_SAN_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
    LF_SAN_LDFLAGS="-fsanitize=address,undefined"
    lf_save_CFLAGS=$CFLAGS; lf_save_LDFLAGS=$LDFLAGS
    CFLAGS="$CFLAGS $LF_SAN_CFLAGS"; LDFLAGS="$LDFLAGS $LF_SAN_LDFLAGS"
    AC_MSG_CHECKING([whether the compiler supports ASan and UBSan])
    AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])], [AC_MSG_RESULT([yes])],
      [AC_MSG_RESULT([no]); AC_MSG_ERROR([--enable-sanitizers needs gcc or clang with libasan and libubsan (Debian: gcc)])])
    CFLAGS=$lf_save_CFLAGS; LDFLAGS=$lf_save_LDFLAGS
  ])
  AM_CONDITIONAL([LF_SANITIZERS], [test "x$enable_sanitizers" = xyes])
  AC_SUBST([LF_SAN_CFLAGS])
  AC_SUBST([LF_SAN_LDFLAGS])
])

# LF_TEST_TOOLS: what `make check` drives (found, not required to build).
AC_DEFUN([LF_TEST_TOOLS], [
  AC_PATH_PROG([BATS], [bats])
  AC_PATH_PROG([NGINX], [nginx], [], [$PATH:/usr/sbin:/usr/local/sbin:/sbin])
  AC_PATH_PROG([SPAWN_FCGI], [spawn-fcgi], [], [$PATH:/usr/bin:/usr/sbin])
])

# AX_LF_CC_FLAG(FLAG, ACTION-IF-SUPPORTED)
AC_DEFUN([AX_LF_CC_FLAG], [
  AC_MSG_CHECKING([whether $CC accepts $1])
  lf_save_CFLAGS=$CFLAGS
  CFLAGS="$CFLAGS -Werror $1"
  AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])], [AC_MSG_RESULT([yes]); $2], [AC_MSG_RESULT([no])])
  CFLAGS=$lf_save_CFLAGS
])
