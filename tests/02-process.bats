#!/usr/bin/env bats
# The prefork master: worker count, respawn, signals, recycling.

load lib/helpers

setup_file() {
    make_work
    install_app process
    start_luafpm --workers 2
    start_nginx
    # The SIGKILL test makes the master log the death at alert level.
    export ALLOWED_LOG='killed by signal (9 \(SIGKILL\)|11 \(SIGSEGV\))'
}

teardown_file() {
    teardown_common
}

teardown() {
    stop_extra
}

# Wait until master $1 has exactly $2 workers; prints their PIDs.
wait_workers() {
    local i pids
    for ((i = 0; i < 100; i++)); do
        pids=$(worker_pids "$1")
        if [ "$(grep -c . <<<"$pids")" = "$2" ]; then
            echo "$pids"
            return 0
        fi
        sleep 0.05
    done
    echo "master $1 has $(grep -c . <<<"$pids") workers, expected $2" >&2
    return 1
}

# Start a second luafpm (its own port) in the test: sets PID2 and PORT2.
start_second() {
    PORT2=$(free_port)
    "$LUAFPM_BIN" --listen "127.0.0.1:$PORT2" --root "$WORK/root" \
        --error-log "$WORK/second.log" "$@" &
    PID2=$!
    wait_port "$PORT2"
}

@test "the master runs --workers workers" {
    run wait_workers "$LF_PID" 2
    [ "$status" -eq 0 ]
}

@test "both workers serve requests" {
    local seen i
    # Slow requests in parallel: one worker cannot take them all.
    for i in 1 2 3 4; do
        curl -s --max-time 10 "http://127.0.0.1:$NGX_PORT/slow.lua?ms=300" >"$WORK/par.$i" &
    done
    wait
    seen=$(grep -h 'slow start' "$WORK"/par.* | awk '{print $3}' | sort -u | wc -l)
    [ "$seen" -eq 2 ]
    grep -c 'slow done' "$WORK"/par.* | grep -q ':1'
}

@test "a worker killed with SIGKILL is replaced and serving goes on" {
    local before after victim
    before=$(wait_workers "$LF_PID" 2)
    victim=$(head -1 <<<"$before")
    kill -KILL "$victim"
    wait_gone "$victim" 5
    after=$(wait_workers "$LF_PID" 2)
    ! grep -qx "$victim" <<<"$after"
    for i in 1 2 3 4 5 6; do
        http GET /pid.lua
        [ "$STATUS" = 200 ]
    done
    grep -q "worker [01] (pid $victim) killed by signal 9 (SIGKILL)" "$WORK/luafpm.log"
}

@test "--max-requests replaces a worker after N requests" {
    start_second --workers 1 --max-requests 3
    local pids=() i
    for i in 1 2 3 4 5 6 7; do
        pids+=("$(python3 "$TESTS_DIR/lib/fcgi_client.py" "127.0.0.1:$PORT2" \
            --param "SCRIPT_FILENAME=$WORK/root/pid.lua" --param REQUEST_METHOD=GET | tail -1)")
    done
    stop_pid "$PID2"
    # 7 requests, 3 per worker: three different workers, in runs of three.
    [ "$(printf '%s\n' "${pids[@]}" | sort -u | wc -l)" -eq 3 ]
    [ "${pids[0]}" = "${pids[2]}" ] && [ "${pids[3]}" = "${pids[5]}" ] && [ "${pids[0]}" != "${pids[3]}" ]
}

@test "SIGTERM stops the master and its workers with status 0" {
    start_second --workers 2
    local workers
    workers=$(wait_workers "$PID2" 2)
    kill -TERM "$PID2"
    local rc=0
    wait "$PID2" || rc=$?  # not `run`: its subshell cannot wait for our child
    [ "$rc" -eq 0 ]
    for w in $workers; do
        wait_gone "$w" 5
    done
}

@test "no worker outlives a master that was killed" {
    start_second --workers 2
    local workers
    workers=$(wait_workers "$PID2" 2)
    kill -KILL "$PID2"
    for w in $workers; do
        wait_gone "$w" 5
    done
}

@test "SIGQUIT lets a slow request finish, then the master exits 0" {
    curl -sS --max-time 20 "http://127.0.0.1:$NGX_PORT/slow.lua?ms=1500" >"$WORK/slow.out" &
    local curl_pid=$!
    sleep 0.4
    kill -QUIT "$LF_PID"
    wait "$curl_pid"
    grep -q 'slow done' "$WORK/slow.out"
    wait_gone "$LF_PID" 10
    grep -q 'SIGQUIT received' "$WORK/luafpm.log"
    grep -q 'master exiting' "$WORK/luafpm.log"
}

# start_crashy ARGS...: a luafpm of its own (AddressSanitizer must let the
# SIGSEGV through) logging to $WORK/crash.log, and an nginx in front of it
# on CRASH_PORT.
start_crashy() {
    local port save_port=$NGX_PORT save_pid=$NGX_PID
    port=$(free_port)
    ASAN_OPTIONS="$ASAN_OPTIONS:handle_segv=0" "$LUAFPM_BIN" --listen "127.0.0.1:$port" \
        --root "$WORK/root" --error-log "$WORK/crash.log" "$@" &
    CRASH_PID=$!
    CRASH_ADDR=127.0.0.1:$port
    echo "$CRASH_PID" >>"$WORK/extra.pids"
    wait_port "$port"
    start_nginx "$CRASH_ADDR"
    echo "$NGX_PID" >>"$WORK/extra.pids"
    CRASH_PORT=$NGX_PORT
    NGX_PID=$save_pid NGX_PORT=$save_port
}

@test "requests that crash their worker, one after another: each costs only itself, the worker is replaced at once" {
    : >"$WORK/crash.log"
    start_crashy --workers 1
    local i start=${EPOCHREALTIME/./} ms pids=()
    # 10 crashes with a good request after each: with the crash-loop
    # back-off (0.1 s doubling) this would take over 100 s.
    for i in $(seq 1 10); do
        PORT_OVERRIDE=$CRASH_PORT http GET "/crash.lua?n=$i" --max-time 5
        [ "$STATUS" = 502 ]
        PORT_OVERRIDE=$CRASH_PORT http GET /pid.lua --max-time 5
        [ "$STATUS" = 200 ]
        pids+=("$BODY")
    done
    ms=$(((${EPOCHREALTIME/./} - start) / 1000))
    echo "# 20 requests in $ms ms" >&3
    [ "$ms" -lt 5000 ]
    # A new worker served after each crash.
    [ "$(printf '%s\n' "${pids[@]}" | sort -u | wc -l)" -eq 10 ]
    for i in $(seq 1 10); do
        grep -q "worker 0 (pid [0-9]*) killed by signal 11 (SIGSEGV) in request \"GET /crash.lua?n=$i\" (script $WORK/root/crash.lua)" "$WORK/crash.log"
    done
    ! grep -q 'failed soon after start' "$WORK/crash.log"
}

@test "the crash log line escapes the request it names" {
    : >"$WORK/crash.log"
    start_crashy --workers 1
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$CRASH_ADDR" \
        --param "SCRIPT_FILENAME=$WORK/root/crash.lua" --param REQUEST_METHOD=GET \
        --param 'REQUEST_URI=/crash.lua?\x0a2024/01/01 00:00:00 [emerg] forged\x1b[31m'
    [ "$status" -eq 3 ] # no FCGI_END_REQUEST: the worker died
    for ((i = 0; i < 100; i++)); do
        grep -q 'killed by signal 11' "$WORK/crash.log" && break
        sleep 0.05
    done
    grep -qF 'in request "GET /crash.lua?\x0a2024/01/01 00:00:00 [emerg] forged\x1b[31m"' "$WORK/crash.log"
    ! grep -q '^2024/01/01' "$WORK/crash.log"
    ! grep -q $'\x1b' "$WORK/crash.log"
}

@test "a worker that dies before it serves is a crash loop: the respawns back off (0.1 s, doubling)" {
    : >"$WORK/crash.log"
    start_crashy --workers 1 --init-worker "$WORK/root/crash_init.lua"
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q 'next try in 0.4 s' "$WORK/crash.log" && break
        sleep 0.05
    done
    grep -q 'worker 0 (pid [0-9]*) killed by signal 11 (SIGSEGV)$' "$WORK/crash.log"
    grep -q 'failed soon after start; next try in 0.1 s' "$WORK/crash.log"
    grep -q 'failed soon after start; next try in 0.2 s' "$WORK/crash.log"
    grep -q 'failed soon after start; next try in 0.4 s' "$WORK/crash.log"
    # 0.1 + 0.2 + 0.4 s: three or four deaths so far, not hundreds.
    [ "$(grep -c 'killed by signal 11' "$WORK/crash.log")" -le 5 ]
}

# serve_fd ARGS...: a one-worker luafpm with its stderr in $WORK/fd.err
# (the default error log) and an nginx without FastCGI keepalive in front
# of it, so that every request is a new connection: FD_PORT.
serve_fd() {
    local port save_port=$NGX_PORT save_pid=$NGX_PID
    port=$(free_port)
    "$LUAFPM_BIN" --listen "127.0.0.1:$port" --workers 1 --root "$WORK/root" "$@" \
        >>"$WORK/fd.out" 2>>"$WORK/fd.err" &
    FD_PID=$!
    echo "$FD_PID" >>"$WORK/extra.pids"
    wait_port "$port"
    start_nginx "127.0.0.1:$port" off
    echo "$NGX_PID" >>"$WORK/extra.pids"
    FD_PORT=$NGX_PORT
    NGX_PID=$save_pid NGX_PORT=$save_port
}

@test "a handler that closes fd 2 (the log on stderr): later requests answer cleanly and log to the log" {
    : >"$WORK/fd.err"
    serve_fd
    PORT_OVERRIDE=$FD_PORT http GET '/closefd.lua?fd=2'
    [ "$STATUS" = 200 ] && [ "$BODY" = "close(2) = 0" ]
    # Each request is a new connection: the first one would get fd 2.
    for i in 1 2 3; do
        PORT_OVERRIDE=$FD_PORT http GET "/logs.lua?n=$i"
        [ "$STATUS" = 200 ]
        [ "$BODY" = "logged $i" ]
    done
    for i in 1 2 3; do
        grep -q "\[error\] .*log line $i" "$WORK/fd.err"
    done
    # What a library writes to the closed stderr goes nowhere.
    ! grep -q 'stderr junk [123]' "$WORK/fd.err"
}

@test "a handler that closes fd 1: a later connection is never where stdout writes go" {
    : >"$WORK/fd.err"
    serve_fd --error-log "$WORK/fd.log"
    PORT_OVERRIDE=$FD_PORT http GET '/closefd.lua?fd=1'
    [ "$STATUS" = 200 ] && [ "$BODY" = "close(1) = 0" ]
    for i in 1 2 3; do
        PORT_OVERRIDE=$FD_PORT http GET "/logs.lua?n=$i"
        [ "$STATUS" = 200 ]
        [ "$BODY" = "logged $i" ]
        grep -q "log line $i" "$WORK/fd.log"
    done
}

@test "USR1 reopens a log file above fd 2 even after a handler closed fd 2" {
    : >"$WORK/fd.err"
    serve_fd --error-log "$WORK/fd.log"
    local worker i
    worker=$(pgrep -P "$FD_PID")
    PORT_OVERRIDE=$FD_PORT http GET '/closefd.lua?fd=2'
    [ "$BODY" = "close(2) = 0" ]
    # logrotate: move the file, USR1; wait until the worker has the new one.
    mv "$WORK/fd.log" "$WORK/fd.log.1"
    kill -USR1 "$FD_PID"
    for ((i = 0; i < 100; i++)); do
        [ -e "$WORK/fd.log" ] && ls -l "/proc/$worker/fd" | grep -q "$WORK/fd.log\$" && break
        sleep 0.05
    done
    # The reopened log must not be fd 2, which the next handler closes.
    PORT_OVERRIDE=$FD_PORT http GET '/closefd.lua?fd=2'
    PORT_OVERRIDE=$FD_PORT http GET '/logs.lua?n=after-reopen'
    [ "$STATUS" = 200 ]
    grep -q 'log line after-reopen' "$WORK/fd.log"
}

@test "started with fds 0-2 closed: /dev/null takes them, none of luafpm's descriptors does" {
    local port pid worker i
    port=$(free_port)
    "$LUAFPM_BIN" --listen "127.0.0.1:$port" --workers 1 --root "$WORK/root" \
        --error-log "$WORK/fd.log" <&- >&- 2>&- 3>&- &
    pid=$!
    echo "$pid" >>"$WORK/extra.pids"
    wait_port "$port"
    # The master listens before it forks: the worker may come a moment later.
    for i in $(seq 50); do
        worker=$(pgrep -P "$pid") && break
        sleep 0.05
    done
    [ -n "$worker" ]
    for p in "$pid" "$worker"; do
        for fd in 0 1 2; do
            [ "$(readlink "/proc/$p/fd/$fd")" = /dev/null ]
        done
    done
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "127.0.0.1:$port" \
        --param "SCRIPT_FILENAME=$WORK/root/logs.lua" --param REQUEST_METHOD=GET \
        --param QUERY_STRING=n=1
    [ "$status" -eq 0 ]
    [[ "$output" == *"logged 1"* ]]
    grep -q 'log line 1' "$WORK/fd.log"
}
