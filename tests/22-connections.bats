#!/usr/bin/env bats
# The worker's event loop: connections cost a slot, not the worker.  A
# connection that sends nothing, or half a record, delays no one; many
# kept-alive connections share one worker; --worker-connections bounds
# them without closing one that may carry a request.

load lib/helpers

ATTACK="$TESTS_DIR/lib/fcgi_attack.py"

setup_file() {
    make_work
    install_app holes
    start_luafpm --workers 1
    start_nginx
}

teardown_file() {
    teardown_common
}

teardown() {
    local p
    for p in $(cat "$WORK/holders.pids" 2>/dev/null); do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -f "$WORK/holders.pids"
    stop_extra
}

# hold CASE SECONDS [ADDR]: a raw client that holds a connection open.
hold() {
    python3 "$ATTACK" "${3:-$LF_ADDR}" "$WORK/root/hello.lua" "$1" "$2" >"$WORK/hold.out" 2>&1 &
    echo $! >>"$WORK/holders.pids"
    local i
    for i in $(seq 50); do
        grep -q holding "$WORK/hold.out" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

@test "a connection that holds half a record delays no one on its worker" {
    hold hold_partial 10
    hold hold_idle 10
    local t0 t1
    t0=$(date +%s%N)
    STATUS=$(curl -sS --max-time 3 -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$NGX_PORT/hello.lua")
    t1=$(date +%s%N)
    echo "status $STATUS in $(((t1 - t0) / 1000000)) ms"
    [ "$STATUS" = 200 ]
    [ "$(cat "$WORK/body")" = "hello /hello.lua" ]
}

@test "two idle connections do not freeze a pool of two workers" {
    start_luafpm --workers 2
    echo "$LF_PID" >>"$WORK/extra.pids"
    local addr=$LF_ADDR i
    hold hold_idle 10 "$addr"
    hold hold_idle 10 "$addr"
    for i in 1 2 3 4; do
        run python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --timeout 3 \
            --param SCRIPT_FILENAME="$WORK/root/hello.lua" --param REQUEST_URI=/idle$i
        [ "$status" -eq 0 ]
        [[ "$output" == *"hello /idle$i"* ]]
    done
}

@test "300 kept connections on one worker, two requests each, all answered" {
    run python3 "$ATTACK" "$LF_ADDR" "$WORK/root/hello.lua" many_conns 300
    echo "$output"
    [ "$output" = "answered 600 of 600" ]
}

@test "500 kept-alive nginx connections on one worker: no errors" {
    command -v wrk >/dev/null || skip "wrk not installed"
    NGX_KEEPALIVE=600 NGX_CONNS=4096 start_nginx "$LF_ADDR" on
    echo "$NGX_PID" >>"$WORK/extra.pids"
    run wrk -t2 -c500 -d3s "http://127.0.0.1:$NGX_PORT/hello.lua"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" != *"Non-2xx"* ]]
    [[ "$output" != *"Socket errors"* ]]
    [[ "$output" == *"requests in"* ]]
    ! grep -q 'upstream prematurely closed\|Connection reset' "$WORK/nginx-error.log"
}

@test "--worker-connections: at the limit the worker stops accepting, and takes the next when one frees" {
    start_luafpm --workers 1 --worker-connections 2
    echo "$LF_PID" >>"$WORK/extra.pids"
    local addr=$LF_ADDR
    hold hold_idle 3 "$addr"
    hold hold_idle 3 "$addr"
    # The third waits in the listen queue (not closed, not refused) until
    # a held connection ends, then it is served.
    local t0 t1
    t0=$(date +%s%N)
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --timeout 10 \
        --param SCRIPT_FILENAME="$WORK/root/hello.lua" --param REQUEST_URI=/third
    t1=$(date +%s%N)
    echo "$output; $(((t1 - t0) / 1000000)) ms"
    [ "$status" -eq 0 ]
    [[ "$output" == *"hello /third"* ]]
    [ $(((t1 - t0) / 1000000)) -ge 1500 ]
    run python3 "$ATTACK" "$addr" "$WORK/root/hello.lua" get_values 3
    [[ "$output" == *"value FCGI_MAX_CONNS 2"* ]]
}

@test "--worker-connections is checked" {
    run "$LUAFPM_BIN" --worker-connections 0 -t --root "$WORK/root"
    [ "$status" -eq 1 ]
    [[ "$output" == *worker-connections* ]]
}

@test "a request whose web server closed the connection before it started is not run, and is counted" {
    start_luafpm --workers 1 --status-path /status
    echo "$LF_PID" >>"$WORK/extra.pids"
    local addr=$LF_ADDR mark="$WORK/marker.ran"
    # The worker is busy (a CPU-bound handler holds it; ngx.sleep would
    # not) while the request arrives and its connection closes, as nginx
    # does when it gives up.
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --timeout 10 \
        --param SCRIPT_FILENAME="$WORK/root/busy.lua" --param REQUEST_URI=/busy \
        --param QUERY_STRING=s=1 >"$WORK/slow.out" &
    local slow=$!
    sleep 0.3
    run python3 "$ATTACK" "$addr" "$WORK/root/marker.lua" send_and_go "f=$mark"
    [ "$output" = sent ]
    wait "$slow"
    grep -q busy "$WORK/slow.out"
    local i
    for i in $(seq 30); do
        grep -q 'not run: the web server closed its connection' "$WORK/luafpm.log" && break
        sleep 0.1
    done
    grep -q 'request "GET /gone" not run: the web server closed its connection before it started' "$WORK/luafpm.log"
    [ ! -e "$mark" ]
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --param SCRIPT_NAME=/status \
        --param SCRIPT_FILENAME=/status --param REQUEST_URI=/status
    echo "$output"
    [[ "$output" == *"skipped requests:     1"* ]]
    # The same request on a connection that stays is run.
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" \
        --param SCRIPT_FILENAME="$WORK/root/marker.lua" --param QUERY_STRING="f=$mark"
    [[ "$output" == *ran* ]]
    [ -e "$mark" ]
}

# timed REQUEST-PATH ADDR: run a request, print its status and milliseconds.
timed_get() {
    local t0 t1
    t0=$(date +%s%N)
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$2" --timeout 15 \
        --param SCRIPT_FILENAME="$WORK/root/$1" --param REQUEST_URI="/$1" >"$WORK/timed.out"
    local rc=$?
    t1=$(date +%s%N)
    echo "rc=$rc ms=$(((t1 - t0) / 1000000))"
}

# answered_beside ADDR SCRIPT CASE: while fcgi_attack CASE holds a request
# for SCRIPT on the worker, another request is answered within 5 s.
answered_beside() {
    python3 "$ATTACK" "$1" "$WORK/root/$2" "$3" 10 >"$WORK/hold.out" 2>&1 &
    echo $! >>"$WORK/holders.pids"
    sleep 0.5
    local out ms
    out=$(timed_get hello.lua "$1")
    echo "$out"
    [[ "$out" == rc=0* ]]
    ms=${out##*ms=}
    [ "$ms" -lt 5000 ]
    grep -q 'hello /hello.lua' "$WORK/timed.out"
}

@test "--read-timeout: a body that stops arriving ends its own request, and the worker serves on" {
    start_luafpm --workers 1 --read-timeout 1
    echo "$LF_PID" >>"$WORK/extra.pids"
    local addr=$LF_ADDR
    answered_beside "$addr" body.lua stall_body
    # The neighbour was answered at once; the stalled body ends its own
    # request after the second --read-timeout gives it.
    local i
    for i in $(seq 50); do
        grep -q 'reading the request body failed (110: Connection timed out)' "$WORK/luafpm.log" && break
        sleep 0.1
    done
    grep -q 'reading the request body failed (110: Connection timed out)' "$WORK/luafpm.log"
}

@test "--read-timeout: half a record is closed after it, with a log line" {
    start_luafpm --workers 1 --read-timeout 1
    echo "$LF_PID" >>"$WORK/extra.pids"
    hold hold_partial 10 "$LF_ADDR"
    local i
    for i in $(seq 40); do
        grep -q 'no more of its request for 1 s (--read-timeout)' "$WORK/luafpm.log" && break
        sleep 0.1
    done
    grep -q 'no more of its request for 1 s (--read-timeout)' "$WORK/luafpm.log"
}

@test "--send-timeout: a web server that stops reading costs its response, not the worker" {
    start_luafpm --workers 1 --send-timeout 1
    echo "$LF_PID" >>"$WORK/extra.pids"
    local addr=$LF_ADDR
    answered_beside "$addr" big.lua no_read
}

@test "the status page shows the connections each worker holds" {
    start_luafpm --workers 1 --status-path /status
    echo "$LF_PID" >>"$WORK/extra.pids"
    local addr=$LF_ADDR
    hold hold_idle 10 "$addr"
    hold hold_idle 10 "$addr"
    hold hold_idle 10 "$addr"
    sleep 0.3
    status_full() {
        python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --param SCRIPT_NAME=/status \
            --param SCRIPT_FILENAME=/status --param QUERY_STRING="$1"
    }
    run status_full full
    echo "$output"
    # The three held, and the status request's own.
    [[ "$output" == *"connections:          4"* ]]
    run status_full 'json&full'
    [[ "$output" == *'"connections":4,'* ]]
}
