#!/usr/bin/env bash
# tests/bench/run.sh - `make bench`: luafpm against the bare libfcgi C
# responder (fcgi_hello.c) and, when Debian's libnginx-mod-http-lua is
# installed, OpenResty's lua-nginx-module; one run, req/s and ratios.
#
# A trimmed copy of the team's shared peer benchmark (../shared/bench/
# peers.sh, whose handlers, nginx templates, wrk script and C responder are
# copied here): each backend runs 2 processes (luafpm --workers 2,
# spawn-fcgi -F 2) behind its own nginx (worker_processes 1, own prefix,
# pid and logs in one mktemp directory) on free 127.0.0.1 ports.
#
# Workloads (each answer is checked byte for byte before it is measured):
#   hello    "hello world\n"
#   compute  a 200-row table built in a loop (6967 bytes)
#   post     a 32 KiB POST body read whole; answers its length
#   ka       hello over FastCGI keepalive (upstream keepalive 32 +
#            fastcgi_keep_conn on), against a second instance of the same
#            backend behind a second nginx, so that connections nginx keeps
#            cannot hold the backend the other workloads use; FastCGI peers
#            only
#   wait     ngx.sleep(0.01) (usleep in C) per request, wrk -c256
#   redis    one GET from a redis-server the script starts on a free port,
#            through Debian's lua-nginx-redis over a pooled connection;
#            luafpm and OpenResty only (needs redis-server and the library
#            tests/install-deps.sh unpacks)
#   regex    one ngx.re.match with "jo" (three captures) per request;
#            luafpm and OpenResty only
#   dict     one ngx.shared incr and one get per request (a 1m zone,
#            --shared-dict / lua_shared_dict); luafpm and OpenResty only
# Each is a warm-up run (not counted), then one measured run; after a
# warm-up the backend is let serve what the warm-up left behind.
#
# Environment: LUAFPM_BIN (default ../../luafpm from this file, as `make
# bench` passes it), BENCH_DURATION (seconds measured, 8), BENCH_WARMUP
# (seconds, 2), BENCH_CONNECTIONS (wrk -c, 16), BENCH_WORKLOADS (a
# space-separated subset of the workloads, all by default), BENCH_KEEP=1 keeps the
# temporary directory, CC and FCGI_LIBS (-lfcgi) build the C responder.
# Needs nginx, wrk, curl, spawn-fcgi, python3, a C compiler and
# libfcgi-dev. Talks to 127.0.0.1 only; stops everything it started, by
# PID, on exit, error or Ctrl-C.
set -Eeuo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

LUAFPM_BIN=${LUAFPM_BIN:-$HERE/../../luafpm}
DURATION=${BENCH_DURATION:-8}
WARMUP=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
WAIT_CONNECTIONS=256
WRK_TIMEOUT=5
KA_TIMEOUT=2   # ka: wrk --timeout and nginx's fastcgi_read_timeout, seconds
KA_POOL=32     # ka: idle backend connections nginx's upstream keeps
DRAIN_WAIT=10  # after a warm-up, wait up to this long for the backend's queue
WORKER_CONNECTIONS=1024
POST_BYTES=32768
PROCS_PER_BACKEND=2
ALL_WORKLOADS="hello compute post ka wait redis regex dict"
read -r -a WORKLOADS <<<"${BENCH_WORKLOADS:-$ALL_WORKLOADS}"
for wl in "${WORKLOADS[@]}"; do
    [[ " $ALL_WORKLOADS " == *" $wl "* ]] || { echo "BENCH_WORKLOADS: unknown workload '$wl' (known: $ALL_WORKLOADS)" >&2; exit 1; }
done
LUA_ONLY=" redis regex dict " # workloads the C responder has no handler for
LUA_NGINX_DIR=${LUAFPM_DEPS:-${XDG_CACHE_HOME:-$HOME/.cache}/luafpm}/lua-nginx/usr/share/lua/5.1

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for v in DURATION WARMUP CONNECTIONS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "BENCH_$v must be a whole number, got '${!v}'"
done
[ "$DURATION" -ge 1 ] || die "BENCH_DURATION must be at least 1"
[ -x "$LUAFPM_BIN" ] || die "no luafpm binary at $LUAFPM_BIN (build first, or set LUAFPM_BIN)"

NGINX=$(command -v nginx) || die "nginx not found (Debian: nginx)"
WRK=$(command -v wrk) || die "wrk not found (Debian: wrk)"
SPAWN_FCGI=$(command -v spawn-fcgi) || die "spawn-fcgi not found (Debian: spawn-fcgi)"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found"
NGINX_V=$("$NGINX" -V 2>&1)
NGINX_MODULES=$(grep -o -- '--modules-path=[^ ]*' <<<"$NGINX_V" | cut -d= -f2) || NGINX_MODULES=""
NGINX_CONF_DIR=$(dirname "$(grep -o -- '--conf-path=[^ ]*' <<<"$NGINX_V" | cut -d= -f2)")
[ -r "$NGINX_CONF_DIR/fastcgi_params" ] || die "no fastcgi_params in $NGINX_CONF_DIR"

# wait: 256 client connections and one backend connection each, ka its pool.
need=$((2 * WAIT_CONNECTIONS + KA_POOL + 64))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
    ulimit -n "$need" 2>/dev/null || die "wait needs $need open files; ulimit -n is $(ulimit -n)"
fi

PEERS=(luafpm fcgi-c)
OPENRESTY_NOTE=""
st=$(dpkg-query -W -f='${Status}' libnginx-mod-http-lua 2>/dev/null) || st=""
if [ "$st" = "install ok installed" ] && [ -e "$NGINX_MODULES/ngx_http_lua_module.so" ]; then
    PEERS+=(openresty)
else
    OPENRESTY_NOTE="OpenResty skipped: Debian's libnginx-mod-http-lua is not installed (it conflicts with libluajit-5.1-dev; install it by hand to get the row)"
fi

REDIS_NOTE=""
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    REDIS_NOTE="redis skipped: no redis-server/redis-cli (Debian: redis-server)"
elif [ ! -f "$LUA_NGINX_DIR/nginx/redis.lua" ]; then
    REDIS_NOTE="redis skipped: no nginx/redis.lua under $LUA_NGINX_DIR (run tests/install-deps.sh)"
fi

peer_workloads() { # peer -> the workloads it runs
    local wl out=""
    for wl in "${WORKLOADS[@]}"; do
        case $1/$wl in
            openresty/ka) ;; # no FastCGI hop
            fcgi-c/*) [[ " $LUA_ONLY " == *" $wl "* ]] || out+=" $wl" ;;
            */redis) [ -z "$REDIS_NOTE" ] && out+=" $wl" ;;
            *) out+=" $wl" ;;
        esac
    done
    echo $out
}
runs_workload() { [[ " $(peer_workloads "$1") " == *" $2 "* ]]; }
stack_of() { if [ "$2" = ka ]; then echo "${1}_ka"; else echo "$1"; fi; }
url_of() { # peer workload
    local name=$2
    [ "$name" = ka ] && name=hello
    case $1 in
        fcgi-c) echo "http://127.0.0.1:${FRONT[$(stack_of "$1" "$2")]}/$name" ;;
        *) echo "http://127.0.0.1:${FRONT[$(stack_of "$1" "$2")]}/$name.lua" ;;
    esac
}

# --------------------------------------------------------------- processes
# Each process started is kept as "pid starttime label"; the start time
# (field 22 of /proc/PID/stat) guards against signalling a recycled PID.

PROCS=()
CLEANED=0
# shellcheck disable=SC2086 # the stat fields are split on purpose
proc_start() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; set -- $s; echo "${20}"; }
# shellcheck disable=SC2086
proc_state() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; set -- $s; echo "$1"; }
track() { local st; st=$(proc_start "$1") || return 0; PROCS+=("$1 $st $2"); }
still_ours() { # pid starttime
    local st state
    st=$(proc_start "$1") || return 1
    [ "$st" = "$2" ] || return 1
    state=$(proc_state "$1") || return 1
    [ "$state" != Z ] && [ "$state" != X ]
}

stop_all() {
    local e pid st label deadline alive
    for e in "${PROCS[@]}"; do
        read -r pid st label <<<"$e"
        if still_ours "$pid" "$st"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    deadline=$((SECONDS + 10))
    while :; do
        alive=0
        for e in "${PROCS[@]}"; do
            read -r pid st label <<<"$e"
            if still_ours "$pid" "$st"; then alive=1; fi
        done
        [ "$alive" = 0 ] || [ "$SECONDS" -ge "$deadline" ] && break
        sleep 0.1
    done
    for e in "${PROCS[@]}"; do
        read -r pid st label <<<"$e"
        if still_ours "$pid" "$st"; then
            log "$label (pid $pid) ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for e in "${PROCS[@]}"; do wait "${e%% *}" 2>/dev/null || true; done
    PROCS=()
}

cleanup() {
    local rc=$?
    [ "$CLEANED" = 1 ] && return
    CLEANED=1
    trap - ERR
    stop_all
    if [ -n "${RUN:-}" ] && [ -d "$RUN" ]; then
        if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $RUN"; else rm -rf "$RUN"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
listening() { # port: something listens on 127.0.0.1:port
    grep -q ": 0100007F:$(printf '%04X' "$1") 00000000:0000 0A " /proc/net/tcp 2>/dev/null
}
wait_listen() { # port pid: wait up to 15 s while pid lives
    local deadline=$((SECONDS + 15)) state
    while ! listening "$1"; do
        state=$(proc_state "$2") || return 1
        [ "$state" = Z ] && return 1
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.1
    done
}
# Requests a warm-up left to the backend: connections in its accept queue
# (the rx_queue of the listening socket in /proc/net/tcp) and accepted
# connections nginx has already closed (CLOSE_WAIT), which an event-driven
# backend such as luafpm holds by the hundred and still serves.
backend_pending() { # port -> that count
    awk -v port="0100007F:$(printf '%04X' "$1")" 'function hex(s,  i, v) {
            v = 0
            for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1
            return v
        }
        FNR > 1 && $2 == port && $4 == "0A" { split($5, q, ":"); n += hex(q[2]) }
        FNR > 1 && $2 == port && $4 == "08" { n++ }
        END { print n + 0 }' /proc/net/tcp 2>/dev/null
}

render() { # template NAME=VALUE... -> stdout, each @NAME@ replaced by VALUE
    (
        tpl=$1 names=""
        shift
        for kv in "$@"; do
            names="$names ${kv%%=*}"
            export "R_${kv%%=*}=${kv#*=}"
        done
        awk -v names="$names" '
            BEGIN { n = split(names, k, " ") }
            {
                for (i = 1; i <= n; i++) {
                    key = "@" k[i] "@"; val = ENVIRON["R_" k[i]]; out = ""; s = $0
                    while ((p = index(s, key)) > 0) {
                        out = out substr(s, 1, p - 1) val; s = substr(s, p + length(key))
                    }
                    $0 = out s
                }
                print
            }' "$tpl"
    )
}

# ------------------------------------------------------------------ stacks

declare -A FRONT BACKEND
RUN=$(mktemp -d "${TMPDIR:-/tmp}/luafpm-bench.XXXXXX")
mkdir -p "$RUN"/{bin,logs,expect,www/lua,www/c,nginx}
cp "$HERE"/handlers/*.lua "$RUN/www/lua/"
BODY_BUFFER_SIZE=$(awk '$1 == "client_body_buffer_size" { sub(/;$/, "", $2); print $2; exit }' \
    "$HERE/conf/nginx.conf.in")
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;" # the workers read the mktemp tree

printf 'hello world\n' >"$RUN/expect/hello"
awk 'BEGIN { print "<table>"; for (i = 1; i <= 200; i++) printf "<tr><td>%d</td><td>%d</td></tr>\n", i, i * i; print "</table>" }' \
    >"$RUN/expect/compute"
printf '%s\n' "$POST_BYTES" >"$RUN/expect/post"
cp "$RUN/expect/hello" "$RUN/expect/ka"
printf 'waited\n' >"$RUN/expect/wait"
cp "$RUN/expect/hello" "$RUN/expect/redis"
printf 'GET 12345 profile\n' >"$RUN/expect/regex"
cp "$RUN/expect/hello" "$RUN/expect/dict"
head -c "$POST_BYTES" /dev/zero | tr '\0' x >"$RUN/post.body"

REDIS_PORT=0
if [ -z "$REDIS_NOTE" ]; then
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --maxclients 4096 >"$RUN/logs/redis.log" 2>&1 &
    track "$!" "redis-server"
    wait_listen "$REDIS_PORT" "$!" || die "redis-server not listening: $(tail -2 "$RUN/logs/redis.log")"
    redis-cli -p "$REDIS_PORT" -x set bench:hello <"$RUN/expect/hello" >/dev/null ||
        die "redis-cli set failed"
fi
sed -i "s/@REDIS_PORT@/$REDIS_PORT/" "$RUN/www/lua/redis.lua"

start_backend() { # peer stack
    local peer=$1 stack=$2 port pid
    port=$(free_port)
    BACKEND[$stack]=$port
    case $peer in
        luafpm)
            "$LUAFPM_BIN" --listen "127.0.0.1:$port" --workers "$PROCS_PER_BACKEND" \
                --root "$RUN/www/lua" --body-buffer-size "$BODY_BUFFER_SIZE" \
                --lua-path "$LUA_NGINX_DIR/?.lua;;" --shared-dict bench:1m \
                --error-log "$RUN/logs/$stack.log" >"$RUN/logs/$stack.out" 2>&1 &
            pid=$!
            track "$pid" "luafpm master ($stack)"
            wait_listen "$port" "$pid" || die "$stack not listening: $(tail -2 "$RUN/logs/$stack.log" "$RUN/logs/$stack.out")"
            ;;
        fcgi-c)
            if [ ! -x "$RUN/bin/fcgi-hello" ]; then
                # shellcheck disable=SC2086 # FCGI_LIBS may hold several words
                ${CC:-cc} -O2 -Wall -Wextra -o "$RUN/bin/fcgi-hello" "$HERE/fcgi_hello.c" ${FCGI_LIBS:--lfcgi} \
                    >"$RUN/logs/fcgi-c.build.log" 2>&1 ||
                    die "building fcgi_hello.c failed (libfcgi-dev?): $(head -3 "$RUN/logs/fcgi-c.build.log")"
            fi
            "$SPAWN_FCGI" -a 127.0.0.1 -p "$port" -F "$PROCS_PER_BACKEND" -P "$RUN/$stack.pids" \
                -- "$RUN/bin/fcgi-hello" >"$RUN/logs/$stack.out" 2>&1 ||
                die "spawn-fcgi failed: $(tail -1 "$RUN/logs/$stack.out")"
            for pid in $(cat "$RUN/$stack.pids"); do track "$pid" "fcgi-hello ($stack)"; done
            wait_listen "$port" "$(head -1 "$RUN/$stack.pids")" || die "$stack not listening"
            ;;
    esac
}

server_block() { # peer stack
    local peer=$1 stack=$2 tpl=server-fastcgi.conf.in root=$RUN/www/lua
    if [ "$peer" = openresty ]; then
        render "$HERE/conf/server-openresty.conf.in" PEER="$peer" PORT="${FRONT[$stack]}" \
            CODE_CACHE=on LUA_DIR="$RUN/www/lua" LUA_PATH="$LUA_NGINX_DIR/?.lua"
        return
    fi
    [ "$peer" = fcgi-c ] && root=$RUN/www/c
    [ "$stack" != "$peer" ] && tpl=server-fastcgi-ka.conf.in
    render "$HERE/conf/$tpl" PEER="$peer" PORT="${FRONT[$stack]}" ROOT="$root" \
        BACKEND="${BACKEND[$stack]}" KA_POOL="$KA_POOL" KA_READ_TIMEOUT="${KA_TIMEOUT}s"
}

start_front() { # peer stack: the stack's own nginx
    local peer=$1 stack=$2 dir=$RUN/nginx/$2 pid modules=""
    FRONT[$stack]=$(free_port)
    mkdir -p "$dir"
    if [ "$peer" = openresty ]; then
        [ -e "$NGINX_MODULES/ndk_http_module.so" ] && modules="load_module $NGINX_MODULES/ndk_http_module.so;"$'\n'
        modules+="load_module $NGINX_MODULES/ngx_http_lua_module.so;"
    fi
    cp "$NGINX_CONF_DIR/fastcgi_params" "$dir/fastcgi_params"
    render "$HERE/conf/nginx.conf.in" DIR="$dir" USER_LINE="$USER_LINE" LOAD_MODULES="$modules" \
        WORKER_CONNECTIONS="$WORKER_CONNECTIONS" SERVER="$(server_block "$peer" "$stack")" >"$dir/nginx.conf"
    "$NGINX" -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/test.log" 2>&1 ||
        die "nginx rejected the $stack config: $(grep -m1 emerg "$dir/test.log")"
    "$NGINX" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
    pid=$!
    track "$pid" "nginx master ($stack)"
    wait_listen "${FRONT[$stack]}" "$pid" || die "nginx ($stack) not listening: $(tail -1 "$dir/error.log")"
}

for peer in "${PEERS[@]}"; do
    stacks=("$peer")
    runs_workload "$peer" ka && stacks+=("${peer}_ka")
    for stack in "${stacks[@]}"; do
        if [ "$peer" != openresty ]; then start_backend "$peer" "$stack"; fi
        start_front "$peer" "$stack"
    done
done

# ------------------------------------------------------------ verification

verify() { # peer workload: the exact expected answer, twice for ka
    local peer=$1 wl=$2 url out code secs n=1 i extra=()
    url=$(url_of "$peer" "$wl")
    [ "$wl" = ka ] && n=2 # the second over the kept connection
    [ "$wl" = post ] && extra=(-H 'Content-Type: application/octet-stream' --data-binary "@$RUN/post.body")
    for ((i = 0; i < n; i++)); do
        out=$(curl -sS --max-time 10 -o "$RUN/got" -w '%{http_code} %{time_total}' "${extra[@]}" "$url" 2>&1) ||
            die "$peer/$wl: curl $url: $out"
        read -r code secs <<<"$out"
        [ "$code" = 200 ] || die "$peer/$wl: HTTP $code: $(head -c 200 "$RUN/got")"
        cmp -s "$RUN/got" "$RUN/expect/$wl" ||
            die "$peer/$wl: wrong body ($(wc -c <"$RUN/got") bytes): $(head -c 80 "$RUN/got" | od -c | head -3)"
        if [ "$wl" = wait ] && awk -v t="$secs" 'BEGIN { exit !(t < 0.010) }'; then
            die "$peer/$wl answered in ${secs}s: it did not wait 10 ms"
        fi
    done
}
for peer in "${PEERS[@]}"; do
    for wl in $(peer_workloads "$peer"); do verify "$peer" "$wl"; done
done
log "every answer checked byte for byte; measuring (${WARMUP}s warm-up + ${DURATION}s each)"

# --------------------------------------------------------------- measuring

declare -A RPS ERRS P99
WRK_LINE=""
run_wrk() { # peer workload seconds: sets WRK_LINE to wrk's BENCH_RESULT line
    local peer=$1 wl=$2 secs=$3 post=0 tmo=$WRK_TIMEOUT conns=$CONNECTIONS pid rc=0
    [ "$wl" = post ] && post=$POST_BYTES
    [ "$wl" = ka ] && tmo=$KA_TIMEOUT
    [ "$wl" = wait ] && conns=$WAIT_CONNECTIONS
    BENCH_POST_BYTES=$post timeout -k 5 $((secs + 30)) "$WRK" -t1 -c"$conns" -d"${secs}s" \
        --timeout "${tmo}s" -s "$HERE/wrk.lua" "$(url_of "$peer" "$wl")" >"$RUN/wrk.out" 2>&1 &
    pid=$!
    track "$pid" "wrk"
    wait "$pid" || rc=$?
    [ "$rc" = 0 ] || die "wrk exited $rc on $peer/$wl: $(tail -2 "$RUN/wrk.out" | tr '\n' ' ')"
    WRK_LINE=$(grep '^BENCH_RESULT ' "$RUN/wrk.out" | tail -1) || die "no result from wrk on $peer/$wl"
}

DRAINED=0 # seconds the last drain took
drain() { # peer workload: let the backend serve what the warm-up left queued
    local port t0=$SECONDS t1=$EPOCHREALTIME
    DRAINED=0
    [ "$2" = ka ] && return 0
    port=${BACKEND[$(stack_of "$1" "$2")]:-}
    [ -n "$port" ] || return 0
    while [ "$(backend_pending "$port")" -gt 0 ]; do
        if [ $((SECONDS - t0)) -ge "$DRAIN_WAIT" ]; then
            log "$1 $2: $(backend_pending "$port") requests still pending at the backend after ${DRAIN_WAIT}s; measuring anyway"
            break
        fi
        sleep 0.05
    done
    sleep 0.05
    DRAINED=$(awk -v a="$t1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
}

field() { # BENCH_RESULT line, key -> value
    local kv
    for kv in ${1#BENCH_RESULT }; do [ "${kv%%=*}" = "$2" ] && echo "${kv#*=}" && return; done
    echo 0
}

for wl in "${WORKLOADS[@]}"; do
    for peer in "${PEERS[@]}"; do
        runs_workload "$peer" "$wl" || continue
        DRAINED=0
        if [ "$WARMUP" -gt 0 ]; then
            run_wrk "$peer" "$wl" "$WARMUP"
            drain "$peer" "$wl"
        fi
        run_wrk "$peer" "$wl" "$DURATION"
        line=$WRK_LINE
        RPS[$peer/$wl]=$(awk -v n="$(field "$line" requests)" -v d="$(field "$line" duration_us)" \
            'BEGIN { printf "%.0f", n / (d / 1e6) }')
        P99[$peer/$wl]=$(awk -v u="$(field "$line" p99_us)" 'BEGIN { printf "%.2f", u / 1000 }')
        e=0
        for k in err_connect err_read err_write err_status err_timeout; do e=$((e + $(field "$line" $k))); done
        ERRS[$peer/$wl]=$e
        log "$peer $wl: ${RPS[$peer/$wl]} req/s, p99 ${P99[$peer/$wl]} ms, errors $e" \
            "(the warm-up's leftovers took ${DRAINED}s)"
    done
done

# ------------------------------------------------------------------ report

ratio() { # a b -> a / b, or a dash
    if [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ]; then
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
    else
        echo "—"
    fi
}

notes=()
for peer in "${PEERS[@]}"; do
    for wl in $(peer_workloads "$peer"); do
        [ "${ERRS[$peer/$wl]:-0}" != 0 ] && notes+=("**$peer $wl: ${ERRS[$peer/$wl]} wrk errors** (non-2xx, socket errors or timeouts)")
    done
    for stack in "$peer" "${peer}_ka"; do
        [ -f "$RUN/nginx/$stack/error.log" ] || continue
        n=$(grep -cE '\[(error|crit|alert|emerg)\]' "$RUN/nginx/$stack/error.log" || true)
        [ "$n" != 0 ] && notes+=("**$n error lines in the $stack nginx log**")
    done
done
for f in "$RUN"/logs/luafpm*.log; do
    n=$(grep -cE '\[(error|crit|alert|emerg)\]' "$f" || true)
    [ "$n" != 0 ] && notes+=("**$n error lines in $(basename "$f")**")
done

echo
echo "luafpm $("$LUAFPM_BIN" --version 2>&1 | head -1 | sed 's/^luafpm //') vs the libfcgi C responder$([ ${#PEERS[@]} -gt 2 ] && echo " and OpenResty"):" \
    "each behind its own nginx ($("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), worker_processes 1), 127.0.0.1;"
echo "backends $PROCS_PER_BACKEND processes (luafpm --workers $PROCS_PER_BACKEND, spawn-fcgi -F $PROCS_PER_BACKEND);" \
    "wrk -t1 -c$CONNECTIONS (wait: -c$WAIT_CONNECTIONS) -d${DURATION}s after a ${WARMUP}s warm-up, one run;"
echo "ka: upstream keepalive $KA_POOL + fastcgi_keep_conn on, its own nginx and backend instance;" \
    "post: $POST_BYTES bytes; wait: ngx.sleep(0.01); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)."
echo
OR=0
[ ${#PEERS[@]} -gt 2 ] && OR=1
head="| workload | luafpm req/s | C responder req/s |"
sep="|---|---:|---:|"
if [ $OR = 1 ]; then head+=" OpenResty req/s |"; sep+="---:|"; fi
head+=" luafpm / C |"
sep+="---:|"
if [ $OR = 1 ]; then head+=" luafpm / OpenResty |"; sep+="---:|"; fi
head+=" luafpm p99 ms | C p99 ms |"
sep+="---:|---:|"
echo "$head"
echo "$sep"
for wl in "${WORKLOADS[@]}"; do
    runs_workload luafpm "$wl" || continue
    row="| $wl | ${RPS[luafpm/$wl]} | ${RPS[fcgi-c/$wl]:-—} |"
    [ $OR = 1 ] && row+=" ${RPS[openresty/$wl]:-—} |"
    row+=" $(ratio "${RPS[luafpm/$wl]}" "${RPS[fcgi-c/$wl]:-}") |"
    [ $OR = 1 ] && row+=" $(ratio "${RPS[luafpm/$wl]}" "${RPS[openresty/$wl]:-}") |"
    row+=" ${P99[luafpm/$wl]} | ${P99[fcgi-c/$wl]:-—} |"
    echo "$row"
done
echo
echo "luafpm-ka / C-hello: $(ratio "${RPS[luafpm/ka]:-}" "${RPS[fcgi-c/hello]:-}")" \
    "(luafpm-ka / luafpm-hello: $(ratio "${RPS[luafpm/ka]:-}" "${RPS[luafpm/hello]:-}"))"
[ ${#PEERS[@]} -gt 2 ] && echo "OpenResty / luafpm, hello: $(ratio "${RPS[openresty/hello]:-}" "${RPS[luafpm/hello]:-}")," \
    "wait: $(ratio "${RPS[openresty/wait]:-}" "${RPS[luafpm/wait]:-}")," \
    "redis: $(ratio "${RPS[openresty/redis]:-}" "${RPS[luafpm/redis]:-}")," \
    "regex: $(ratio "${RPS[openresty/regex]:-}" "${RPS[luafpm/regex]:-}")" &&
    echo "regex / hello (what the match adds to a request): luafpm $(ratio "${RPS[luafpm/regex]:-}" "${RPS[luafpm/hello]:-}")," \
    "OpenResty $(ratio "${RPS[openresty/regex]:-}" "${RPS[openresty/hello]:-}")"
[ ${#PEERS[@]} -gt 2 ] && echo "luafpm / OpenResty, dict: $(ratio "${RPS[luafpm/dict]:-}" "${RPS[openresty/dict]:-}")" \
    "(luafpm dict / luafpm hello: $(ratio "${RPS[luafpm/dict]:-}" "${RPS[luafpm/hello]:-}"))"
[ -n "$OPENRESTY_NOTE" ] && echo "$OPENRESTY_NOTE."
[ -n "$REDIS_NOTE" ] && echo "$REDIS_NOTE."
for n in "${notes[@]}"; do echo "$n"; done
exit 0
