#!/usr/bin/env bash
# install-deps.sh - the Debian packages luafpm needs to build, test and demo.
# Installs only what is missing; uses sudo when not root.
set -euo pipefail
packages=(build-essential autoconf automake pkg-config libfcgi-dev libluajit2-5.1-dev libssl-dev openssl libc-ares-dev libpcre2-dev
          luajit2 nginx apache2 bats curl python3 spawn-fcgi wrk lua-cjson procps groff-base
          redis-server memcached dnsmasq-base websocketd)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Any package that provides the nginx binary will do.
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    missing=("${missing[@]/#nginx}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep . || true))
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# OpenResty's client libraries as Debian ships them (lua-nginx-redis,
# -memcached, -dns, -string, -websocket: nginx.redis, ...).  Installed, they pull in
# nginx-extras, which replaces the nginx the tests use: downloaded and
# unpacked into a private directory instead (tests/lib/helpers.bash
# finds it there).
deps=${LUAFPM_DEPS:-${XDG_CACHE_HOME:-$HOME/.cache}/luafpm}
lua_nginx=(lua-nginx-redis lua-nginx-memcached lua-nginx-dns lua-nginx-string lua-nginx-websocket)
if [ ! -f "$deps/lua-nginx/usr/share/lua/5.1/nginx/redis.lua" ] ||
   [ ! -f "$deps/lua-nginx/usr/share/lua/5.1/nginx/string.lua" ] ||
   [ ! -f "$deps/lua-nginx/usr/share/lua/5.1/nginx/websocket/client.lua" ]; then
    tmp=$(mktemp -d)
    if (cd "$tmp" && apt-get download "${lua_nginx[@]}" >/dev/null 2>&1) ||
       ($sudo apt-get update -qq && cd "$tmp" && apt-get download "${lua_nginx[@]}" >/dev/null); then
        mkdir -p "$deps/lua-nginx"
        for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$deps/lua-nginx"; done
    else
        echo "install-deps.sh: cannot download ${lua_nginx[*]}: their tests will be skipped" >&2
    fi
    rm -rf "$tmp"
fi
exit 0
