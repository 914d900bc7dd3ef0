#!/usr/bin/env bats
# --status-path and --ping-path: the pool's figures from the shared
# scoreboard, as text, JSON and OpenMetrics, checked against the requests
# the test sent.

load lib/helpers

setup_file() {
    make_work
    install_app status
    start_luafpm --workers 2 --status-path /status --ping-path /ping
    start_nginx "$LF_ADDR" on
}

teardown_file() {
    teardown_common
}

teardown() {
    [ -f "$WORK/slow.pid" ] && stop_pid "$(cat "$WORK/slow.pid")"
    rm -f "$WORK/slow.pid"
}

# The value of field $1 in the text status page just fetched.
field() {
    sed -n "s/^$1: *//p" "$WORK/body" | head -1
}

@test "ping answers pong" {
    http GET /ping
    [ "$STATUS" = 200 ]
    [ "$BODY" = pong ]
    [ "$(header Content-Type)" = text/plain ]
}

@test "the text page has php-fpm's fields" {
    http GET /status
    [ "$STATUS" = 200 ]
    local f
    for f in pool 'process manager' 'start time' 'start since' 'accepted conn' 'listen queue' \
        'listen queue len' 'idle processes' 'active processes' 'total processes' \
        'max active processes' 'slow requests'; do
        grep -q "^$f: " "$WORK/body"
    done
    [ "$(field 'total processes')" = 2 ]
    # The status request itself is the one active worker.
    [ "$(field 'active processes')" = 1 ]
    [ "$(field 'idle processes')" = 1 ]
    [ "$(field 'listen queue len')" = 511 ]
    [ "$(header Cache-Control)" = "no-cache, no-store, must-revalidate" ]
}

@test "accepted conn counts exactly the requests sent, also under concurrent load" {
    http GET /status
    local before after
    before=$(field 'accepted conn')
    # 400 requests, 8 at a time, plus 3 status reads while they run.
    seq 1 400 | xargs -P 8 -I{} curl -sS -o /dev/null --max-time 20 \
        "http://127.0.0.1:$NGX_PORT/slow.lua?s=0.005&n={}" &
    local load=$!
    for i in 1 2 3; do
        sleep 0.2
        curl -sS -o "$WORK/mid$i" "http://127.0.0.1:$NGX_PORT/status"
    done
    wait "$load"
    http GET /status
    after=$(field 'accepted conn')
    # 400 + 3 mid-load reads + this read.
    [ $((after - before)) -eq 404 ]
    # A worker holds many sleeping requests at once, so one may have
    # taken them all: at least one was active while loaded, never more
    # than the two there are.
    local max
    max=$(field 'max active processes')
    [ "$max" -ge 1 ] && [ "$max" -le 2 ]
    grep -qE '^active processes: *[12]$' "$WORK"/mid*
    [ "$(field 'active processes')" = 1 ]
}

@test "?json and ?json&full parse and agree with the workers" {
    http GET '/status?json'
    [ "$STATUS" = 200 ]
    [ "$(header Content-Type)" = application/json ]
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["total processes"]==2 and d["pool"]=="luafpm" and "processes" not in d' "$WORK/body"
    http GET '/status?json&full'
    local pids
    pids=$(worker_pids "$LF_PID" | tr '\n' ' ')
    python3 - "$WORK/body" $pids <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
got = sorted(p["pid"] for p in d["processes"])
want = sorted(int(p) for p in sys.argv[2:])
assert got == want, (got, want)
states = [p["state"] for p in d["processes"]]
assert states.count("Running") == 1 and states.count("Idle") == 1, states
assert all(p["requests"] >= 0 and p["last request memory"] >= 0 for p in d["processes"])
PY
}

@test "?full shows what a busy worker runs" {
    curl -sS -o /dev/null --max-time 20 "http://127.0.0.1:$NGX_PORT/slow.lua?s=3" &
    local slow=$!
    # Straight to luafpm's socket, so the idle worker answers: through
    # nginx's keepalive pool the page could be queued on the busy worker's
    # connection until the slow request ends (see README, keepalive).
    local i
    for ((i = 0; i < 100; i++)); do
        python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_NAME=/status \
            --param QUERY_STRING=full --param REQUEST_METHOD=GET >"$WORK/body"
        grep -q '^request URI: *\/slow.lua?s=3$' "$WORK/body" && break
        sleep 0.05
    done
    wait "$slow"
    grep -q '^state: *Running$' "$WORK/body"
    grep -q '^request URI: *\/slow.lua?s=3$' "$WORK/body"
    grep -q "^script: *$WORK/root/slow.lua$" "$WORK/body"
    [ "$(grep -c '^pid:' "$WORK/body")" -eq 2 ]
}

@test "?openmetrics is OpenMetrics text" {
    http GET '/status?openmetrics&full'
    [ "$STATUS" = 200 ]
    [[ "$(header Content-Type)" == application/openmetrics-text* ]]
    grep -q '^luafpm_accepted_connections_total [0-9]' "$WORK/body"
    grep -q '^luafpm_total_processes 2$' "$WORK/body"
    grep -q '^luafpm_process_requests_total{pid="[0-9]*",id="[01]",script=".*"} [0-9]*$' "$WORK/body"
    [ "$(tail -1 "$WORK/body")" = "# EOF" ]
}

@test "HEAD on the status page: headers only" {
    local code size
    read -r code size < <(curl -sS --max-time 10 -I -o /dev/null -D "$WORK/headers" \
        -w '%{http_code} %{size_download}\n' "http://127.0.0.1:$NGX_PORT/status")
    [ "$code" = 200 ]
    [ "$size" = 0 ]
    [ "$(header Content-Type)" = text/plain ]
}

@test "after a reload the page counts the new workers and keeps the totals" {
    http GET /status
    local before
    before=$(field 'accepted conn')
    kill -HUP "$LF_PID"
    local i
    for ((i = 0; i < 200; i++)); do grep -q 'reload done' "$WORK/luafpm.log" && break; sleep 0.05; done
    for ((i = 0; i < 200; i++)); do [ "$(worker_pids "$LF_PID" | wc -l)" -eq 2 ] && break; sleep 0.05; done
    http GET /status
    [ "$(field 'total processes')" = 2 ]
    [ "$(field 'accepted conn')" -eq $((before + 1)) ]
}

# A luafpm of its own with a slowlog, on the same apps.
start_slowlog_luafpm() {
    SLOW_PORT=$(free_port)
    "$LUAFPM_BIN" --listen "127.0.0.1:$SLOW_PORT" --workers 1 --root "$WORK/root" \
        --error-log "$WORK/slow-luafpm.log" --status-path /status \
        --slowlog "$WORK/$1" --slowlog-timeout 0.3 &
    SLOW_PID=$!
    echo "$SLOW_PID" >"$WORK/slow.pid"
    wait_port "$SLOW_PORT"
}

fcgi_get() {
    python3 "$TESTS_DIR/lib/fcgi_client.py" "127.0.0.1:$SLOW_PORT" --timeout 10 \
        --param "SCRIPT_FILENAME=$WORK/root/$1" --param "SCRIPT_NAME=/$1" \
        --param REQUEST_METHOD=GET --param "REQUEST_URI=/$1"
}

@test "--slowlog: a slow request's Lua traceback, taken in the worker, and the slow requests count" {
    start_slowlog_luafpm slow.log
    fcgi_get busy_lua.lua | grep -q 'busy done'
    fcgi_get sleeper.lua | grep -q slept
    fcgi_get hello.lua | grep -q hello
    local out
    out=$(python3 "$TESTS_DIR/lib/fcgi_client.py" "127.0.0.1:$SLOW_PORT" \
        --param SCRIPT_NAME=/status --param REQUEST_METHOD=GET)
    # Stop before reading the file: the entries are complete.
    stop_pid "$SLOW_PID"
    cat "$WORK/slow.log" >&3
    echo "$out" | grep -q '^slow requests: *2$'
    [ "$(grep -c '^script_filename = ' "$WORK/slow.log")" -eq 2 ]
    grep -q "^\[.*\] pid [0-9]*, request \*1 \"GET /busy_lua.lua\" running 0\.[3-9][0-9]* s$" "$WORK/slow.log"
    grep -q "^script_filename = $WORK/root/busy_lua.lua$" "$WORK/slow.log"
    # Where it was: inside spin(), called from the handler.
    grep -q "busy_lua.lua:5: in function 'spin'" "$WORK/slow.log" ||
        grep -q "busy_lua.lua:[45]: in " "$WORK/slow.log"
    grep -q "busy_lua.lua:7: in function" "$WORK/slow.log"
    # ngx.sleep: taken when the handler runs again, at the sleep's line.
    grep -q "sleeper.lua:1: in function" "$WORK/slow.log"
    grep -q '"GET /sleeper.lua" running 0\.[3-5][0-9]* s$' "$WORK/slow.log"
    ! grep -q 'hello.lua' "$WORK/slow.log"
}

@test "--slowlog-timeout without --slowlog writes to the error log; USR1 reopens the slowlog" {
    start_slowlog_luafpm slow-r.log
    fcgi_get busy_lua.lua >/dev/null
    mv "$WORK/slow-r.log" "$WORK/slow.log.1"
    kill -USR1 "$SLOW_PID"
    sleep 0.3
    fcgi_get busy_lua.lua >/dev/null
    stop_pid "$SLOW_PID"
    [ "$(grep -c '^script_filename' "$WORK/slow.log.1")" -eq 1 ]
    [ "$(grep -c '^script_filename' "$WORK/slow-r.log")" -eq 1 ]

    local port pid
    port=$(free_port)
    "$LUAFPM_BIN" --listen "127.0.0.1:$port" --workers 1 --root "$WORK/root" \
        --error-log "$WORK/slow2.log" --slowlog-timeout 0.3 &
    pid=$!
    wait_port "$port"
    SLOW_PORT=$port fcgi_get busy_lua.lua >/dev/null
    stop_pid "$pid"
    grep -q '\[warn\] .*slow request: running 0\.[3-9][0-9]* s, script: .*busy_lua.lua' "$WORK/slow2.log"
}
