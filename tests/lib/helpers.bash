# helpers.bash - start luafpm and a real nginx on free loopback ports, talk
# HTTP to them, stop them by PID.  Loaded by every tests/*.bats file.

LUAFPM_BIN=${LUAFPM_BIN:-$BATS_TEST_DIRNAME/../luafpm}
# (Not $NGINX: nginx reads that variable as a list of inherited sockets.)
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
FASTCGI_PARAMS=${FASTCGI_PARAMS:-/etc/nginx/fastcgi_params}
TESTS_DIR=$(cd "$BATS_TEST_DIRNAME" && pwd)
# Debian's OpenResty client libraries (nginx.redis, ...), unpacked there by
# tests/install-deps.sh.
LUA_NGINX_DIR=${LUAFPM_DEPS:-${XDG_CACHE_HOME:-$HOME/.cache}/luafpm}/lua-nginx/usr/share/lua/5.1

# A TCP port nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Wait (at most $2 seconds, default 10) until 127.0.0.1:$1 accepts.
wait_port() {
    local port=$1 limit=${2:-10} i
    for ((i = 0; i < limit * 20; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "port $port not ready after ${limit}s" >&2
    return 1
}

# Wait (at most $2 seconds) until process $1 is gone.
wait_gone() {
    local pid=$1 limit=${2:-10} i
    for ((i = 0; i < limit * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    return 1
}

# A fresh work directory for this file: root/ holds the scripts.
make_work() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/luafpm-test.XXXXXX")
    mkdir -p "$WORK/root" "$WORK/tmp"
    export WORK
    # Sanitizer reports go to files that check_logs looks for.
    export ASAN_OPTIONS="log_path=$WORK/asan:detect_leaks=1:abort_on_error=0"
    export UBSAN_OPTIONS="log_path=$WORK/ubsan:print_stacktrace=1:halt_on_error=1"
}

# Copy test apps into the root: install_app NAME...
install_app() {
    local a
    for a in "$@"; do
        cp -R "$TESTS_DIR/apps/$a/." "$WORK/root/"
    done
}

# start_luafpm [ARGS...]: on a fresh port (LF_PORT) unless ARGS has --listen.
start_luafpm() {
    local listen=()
    if [[ " $* " != *" --listen "* && " $* " != *" -l "* ]]; then
        LF_PORT=$(free_port)
        LF_ADDR=127.0.0.1:$LF_PORT
        listen=(--listen "$LF_ADDR")
    fi
    "$LUAFPM_BIN" "${listen[@]}" --root "$WORK/root" --error-log "$WORK/luafpm.log" \
        --log-level info "$@" >>"$WORK/luafpm.out" 2>&1 &
    LF_PID=$!
    echo "$LF_PID" >>"$WORK/started.pids"
    export LF_PID LF_PORT LF_ADDR
    echo "$LF_PID" >"$WORK/luafpm.pid"
    if [ -n "${LF_PORT:-}" ] && [ ${#listen[@]} -gt 0 ]; then
        wait_port "$LF_PORT"
    fi
}

# start_nginx [UPSTREAM] [KEEPCONN on|off]: nginx on a fresh port (NGX_PORT).
start_nginx() {
    local upstream=${1:-$LF_ADDR} keepconn=${2:-off} user=""
    NGX_PORT=$(free_port)
    [ "$(id -u)" = 0 ] && user="user root;"
    sed -e "s|@WORK@|$WORK|g" -e "s|@PORT@|$NGX_PORT|g" -e "s|@ROOT@|$WORK/root|g" \
        -e "s|@UPSTREAM@|$upstream|g" -e "s|@KEEPCONN@|$keepconn|g" -e "s|@USER@|$user|g" \
        -e "s|@KEEPALIVE@|${NGX_KEEPALIVE:-8}|g" -e "s|@NGX_CONNS@|${NGX_CONNS:-1024}|g" \
        -e "s|@FASTCGI_PARAMS@|$FASTCGI_PARAMS|g" \
        "$TESTS_DIR/lib/nginx.conf.in" >"$WORK/nginx.conf"
    "$NGINX_BIN" -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' >>"$WORK/nginx.out" 2>&1 &
    NGX_PID=$!
    echo "$NGX_PID" >>"$WORK/started.pids"
    export NGX_PID NGX_PORT
    wait_port "$NGX_PORT"
}

# stop_pid PID [SIGNAL]: signal (TERM by default), then KILL after 10 s.
stop_pid() {
    local pid=$1 sig=${2:-TERM}
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null || return 0
    if ! wait_gone "$pid" 10; then
        kill -KILL "$pid" 2>/dev/null
        wait_gone "$pid" 5
    fi
}

stop_all() {
    stop_pid "${NGX_PID:-}"
    stop_pid "${LF_PID:-}"
}

# Fail on sanitizer reports, crashes we did not cause, and alerts, except
# lines matching the extended regex $1.
check_logs() {
    local allow=${1:-'^$'} bad
    if compgen -G "$WORK/asan*" >/dev/null || compgen -G "$WORK/ubsan*" >/dev/null; then
        cat "$WORK"/asan* "$WORK"/ubsan* 2>/dev/null | head -50 >&2
        return 1
    fi
    bad=$(grep -hE '\[(alert|emerg|crit)\]|AddressSanitizer|LeakSanitizer' \
        "$WORK/luafpm.log" "$WORK/luafpm.out" 2>/dev/null | grep -vE "$allow" || true)
    if [ -n "$bad" ]; then
        echo "unexpected log lines:" >&2
        echo "$bad" >&2
        return 1
    fi
}

# Servers one test starts for itself and lists in $WORK/extra.pids: stopped
# by that test's teardown, so the next test starts clean.
stop_extra() {
    local p
    for p in $(cat "$WORK/extra.pids" 2>/dev/null); do
        stop_pid "$p"
    done
    rm -f "$WORK/extra.pids"
}

teardown_common() {
    stop_all
    # Servers a test started for itself and did not stop (it failed first):
    # left running, they would keep bats waiting on its output for ever.
    local p
    for p in $(cat "$WORK/started.pids" 2>/dev/null); do
        stop_pid "$p"
    done
    local rc=0
    check_logs "${ALLOWED_LOG:-^$}" || rc=1
    if [ $rc -eq 0 ] && [ -z "${KEEP_WORK:-}" ]; then
        rm -rf "$WORK"
    else
        echo "work directory kept: $WORK" >&2
    fi
    return $rc
}

# http METHOD PATH [curl args...]: sets STATUS and BODY (trailing newlines
# cut); the exact body is in $WORK/body, the headers in $WORK/headers.
http() {
    local method=$1 path=$2
    shift 2
    STATUS=$(curl -sS --max-time 20 -X "$method" -o "$WORK/body" -D "$WORK/headers" \
        -w '%{http_code}' "$@" "http://127.0.0.1:${PORT_OVERRIDE:-$NGX_PORT}$path") || return 1
    BODY=$(cat "$WORK/body")
}

# The value of response header $1 from the last http call.
header() {
    grep -i "^$1:" "$WORK/headers" | head -1 | cut -d: -f2- | sed -e 's/^ //' -e 's/\r$//'
}

# PIDs of the workers of master $1.
worker_pids() {
    pgrep -P "$1" | sort
}

# mark_log, then log_since: the lines luafpm logged in between.
mark_log() {
    touch "$WORK/luafpm.log"
    LOG_FROM=$(($(wc -l <"$WORK/luafpm.log") + 1))
}

log_since() {
    tail -n +"$LOG_FROM" "$WORK/luafpm.log"
}

# The pid of the worker that answers /pid.lua (an app with one prints
# ngx.worker.pid()), through the test's nginx.
worker() {
    http GET /pid.lua
    [ "$STATUS" = 200 ]
    echo "$BODY"
}
