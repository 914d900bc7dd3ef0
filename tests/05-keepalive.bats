#!/usr/bin/env bats
# nginx fastcgi_keep_conn with more connections than workers: no stall.

load lib/helpers

setup_file() {
    make_work
    install_app basic process
    start_luafpm --workers 2
    start_nginx "$LF_ADDR" on
    KEEP_PORT=$NGX_PORT
    KEEP_PID=$NGX_PID
    export KEEP_PORT KEEP_PID
}

teardown_file() {
    stop_pid "${PLAIN_PID:-}"
    teardown_common
}

# run_clients PORT CLIENTS REQUESTS PATH: every request must be a 200.
run_clients() {
    local port=$1 clients=$2 requests=$3 path=$4
    seq "$((clients * requests))" |
        xargs -P "$clients" -I{} curl -s -o /dev/null --max-time 10 -w '%{http_code}\n' \
            "http://127.0.0.1:$port$path" >"$WORK/codes.$port"
    [ "$(grep -c '^200$' "$WORK/codes.$port")" -eq "$((clients * requests))" ]
}

@test "16 concurrent clients through kept-alive connections to 2 workers all get answers" {
    run_clients "$KEEP_PORT" 16 25 /hello.lua
}

@test "wrk -c16 through keepalive: no errors, no timeouts" {
    command -v wrk >/dev/null || skip "wrk not installed"
    run wrk -t2 -c16 -d3s --timeout 2s "http://127.0.0.1:$KEEP_PORT/hello.lua"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" != *"Socket errors"* ]]
    [[ "$output" != *"Non-2xx"* ]]
    local reqs
    reqs=$(awk '/requests in/ {print $1}' <<<"$output")
    [ "$reqs" -gt 100 ]
}

@test "a slow request on one kept-alive connection does not stall the others" {
    curl -s --max-time 20 "http://127.0.0.1:$KEEP_PORT/slow.lua?ms=2000" >"$WORK/slow.out" &
    local slow=$!
    sleep 0.2
    local start=$SECONDS
    run_clients "$KEEP_PORT" 16 10 /hello.lua
    wait "$slow"
    grep -q 'slow done' "$WORK/slow.out"
}

@test "kept-alive and fresh connections mixed" {
    start_nginx "$LF_ADDR" off
    PLAIN_PID=$NGX_PID
    echo "PLAIN_PID=$PLAIN_PID" >"$WORK/plain.pid"
    run_clients "$KEEP_PORT" 8 20 /hello.lua &
    local a=$!
    run_clients "$NGX_PORT" 8 20 /hello.lua
    wait "$a"
    stop_pid "$PLAIN_PID"
}
