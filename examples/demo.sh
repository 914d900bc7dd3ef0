#!/usr/bin/env bash
# demo.sh - set everything up and serve examples/app/ through nginx at
# http://127.0.0.1:8080/ (luafpm on 127.0.0.1:9000).  Ctrl-C stops both.
# DEMO_SECONDS=N stops them after N seconds (for scripted checks).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
for port in 8080 9000; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "demo.sh: 127.0.0.1:$port is in use; the demo needs ports 8080 and 9000" >&2
        exit 1
    fi
done
bash tests/install-deps.sh
# Built out of tree in _build/demo, as tests/run.sh builds in _build/
# (configure refuses a build directory once the source tree itself is
# configured); a tree already configured in place is built in place.
[ -x ./configure ] || ./autogen.sh >/dev/null
build=$top/_build/demo
[ -f config.status ] && build=$top
mkdir -p "$build"
[ -f "$build/Makefile" ] || (cd "$build" && "$top/configure" -q)
make -C "$build" -j2 >/dev/null
prefix=$(mktemp -d "${TMPDIR:-/tmp}/luafpm-demo.XXXXXX")
mkdir -p "$prefix/logs"
user=""
[ "$(id -u)" = 0 ] && user="user root;"
{ echo "$user"; sed -e "s|@ROOT@|$top/examples/app|g" -e "s|@PREFIX@|$prefix|g" \
    -e "s|@UPSTREAM@|127.0.0.1:9000|g" examples/nginx.conf; } >"$prefix/nginx.conf"

"$build/luafpm" --listen 127.0.0.1:9000 --workers 2 --root "$top/examples/app" \
    --lua-path "$top/examples/app/lib/?.lua" --shared-dict demo:1m --error-log "$prefix/luafpm.log" &
lf_pid=$!
nginx=$(command -v nginx || echo /usr/sbin/nginx)
"$nginx" -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;' &
ngx_pid=$!
stop() {
    kill -TERM "$ngx_pid" "$lf_pid" 2>/dev/null || true
    wait "$ngx_pid" "$lf_pid" 2>/dev/null || true
}
trap stop EXIT INT TERM
for _ in $(seq 100); do
    curl -fs -o /dev/null http://127.0.0.1:8080/ && break
    sleep 0.1
done
curl -fsS http://127.0.0.1:8080/
echo
echo "luafpm is serving examples/app/ at http://127.0.0.1:8080/ (logs in $prefix); Ctrl-C to stop."
if [ -n "${DEMO_SECONDS:-}" ]; then
    sleep "$DEMO_SECONDS"
else
    wait "$lf_pid"
fi
