#!/usr/bin/env bash
# The cost of the sandbox: the same handlers trusted and sandboxed, served
# by one luafpm (2 workers, --sandbox-root at its default budgets) behind
# one nginx, measured with wrk in interleaved rounds.  Quote the ratios;
# the absolute numbers move with the machine.
#
#   bash tests/bench/sandbox.sh [--duration S] [--rounds N]
#
# Needs a built ./luafpm (or LUAFPM_BIN), nginx and wrk.  Talks to
# 127.0.0.1 only; stops what it started, by PID.
set -euo pipefail

DURATION=5
ROUNDS=3
while [ $# -gt 0 ]; do
    case $1 in
        --duration) DURATION=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        *) echo "usage: $0 [--duration S] [--rounds N]" >&2; exit 2 ;;
    esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
LUAFPM_BIN=${LUAFPM_BIN:-$HERE/../../luafpm}
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
WRK=$(command -v wrk) || { echo "wrk not found" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/luafpm-bench.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "port $1 not ready" >&2
    return 1
}

mkdir -p "$WORK/root/sb" "$WORK/logs"
# hello and compute are the shared peer benchmark's handlers; loop (float
# arithmetic) and tables (array writes and reads) are nothing but Lua
# work, where the JIT, off for sandboxed code, counts most.
cat >"$WORK/root/hello.lua" <<'EOF'
ngx.say("hello world")
EOF
cat >"$WORK/root/compute.lua" <<'EOF'
local rows = { "<table>" }
for i = 1, 200 do
  rows[i + 1] = "<tr><td>" .. i .. "</td><td>" .. i * i .. "</td></tr>"
end
rows[202] = "</table>"
ngx.say(table.concat(rows, "\n"))
EOF
cat >"$WORK/root/loop.lua" <<'EOF'
local n = 0
for i = 1, 100000 do
  n = (n + i % 7 * 3) % 1000003
end
ngx.say(n)
EOF
cat >"$WORK/root/tables.lua" <<'EOF'
local t = {}
for i = 1, 10000 do
  t[i] = i * 2
end
local s = 0
for _ = 1, 10 do
  for i = 1, #t do
    s = s + t[i]
  end
end
ngx.say(s)
EOF
cp "$WORK"/root/*.lua "$WORK/root/sb/"

LF_PORT=$(port)
NGX_PORT=$(port)
"$LUAFPM_BIN" --listen "127.0.0.1:$LF_PORT" --workers 2 --root "$WORK/root" \
    --sandbox-root "$WORK/root/sb" --request-timeout 10 --error-log "$WORK/luafpm.log" &
PIDS+=($!)
user=""
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$WORK/nginx.conf" <<EOF
$user
worker_processes 1;
error_log $WORK/logs/error.log;
pid $WORK/logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/logs/body;
    fastcgi_temp_path $WORK/logs/fastcgi;
    proxy_temp_path $WORK/logs/proxy;
    uwsgi_temp_path $WORK/logs/uwsgi;
    scgi_temp_path $WORK/logs/scgi;
    server {
        listen 127.0.0.1:$NGX_PORT;
        root $WORK/root;
        location ~ \.lua\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass 127.0.0.1:$LF_PORT;
        }
    }
}
EOF
"$NGINX_BIN" -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
wait_port "$LF_PORT"
wait_port "$NGX_PORT"

WORKLOADS="hello compute loop tables"
for wl in $WORKLOADS; do
    a=$(curl -sS "http://127.0.0.1:$NGX_PORT/$wl.lua")
    b=$(curl -sS "http://127.0.0.1:$NGX_PORT/sb/$wl.lua")
    [ "$a" = "$b" ] || { echo "$wl: trusted and sandboxed answers differ" >&2; exit 1; }
done

: >"$WORK/results"
for round in $(seq "$ROUNDS"); do
    for wl in $WORKLOADS; do
        for kind in trusted sandboxed; do
            path=/$wl.lua
            [ "$kind" = sandboxed ] && path=/sb/$wl.lua
            url="http://127.0.0.1:$NGX_PORT$path"
            "$WRK" -t1 -c16 -d1s "$url" >/dev/null
            rps=$("$WRK" -t1 -c16 -d"${DURATION}s" "$url" | awk '/^Requests\/sec/ { print $2 }')
            echo "$wl $kind $round $rps" >>"$WORK/results"
            echo "round $round $wl $kind: $rps req/s" >&2
        done
    done
done
if grep -q "error\]" "$WORK/luafpm.log"; then
    echo "luafpm logged errors:" >&2
    grep "error\]" "$WORK/luafpm.log" | head >&2
    exit 1
fi

echo "luafpm 2 workers behind nginx (1 worker), wrk -t1 -c16 -d${DURATION}s after 1 s warm-up,"
echo "median of $ROUNDS interleaved rounds; sandbox at its default budgets; $(nproc) cores"
echo
echo "| workload | trusted req/s | sandboxed req/s | sandboxed / trusted |"
echo "|---|---:|---:|---:|"
for wl in $WORKLOADS; do
    t=$(awk -v w="$wl" '$1 == w && $2 == "trusted" { print $4 }' "$WORK/results" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    s=$(awk -v w="$wl" '$1 == w && $2 == "sandboxed" { print $4 }' "$WORK/results" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    awk -v w="$wl" -v t="$t" -v s="$s" 'BEGIN { printf "| %s | %.0f | %.0f | %.2f |\n", w, t, s, s / t }'
done
