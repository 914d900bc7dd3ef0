#!/usr/bin/env bats
# SIGHUP: the configuration is read again; a good one starts a new
# generation of workers and, once they are ready, the old ones finish their
# requests in flight and exit; a bad one is logged and the old one kept.
# Under load with a HUP every second, no request fails.

load lib/helpers

setup_file() {
    make_work
    install_app reload
    write_conf 2 v1
    start_luafpm --conf "$WORK/luafpm.conf"
    start_nginx "$LF_ADDR" on
    echo "$NGX_PID $NGX_PORT" >"$WORK/keepalive-nginx"
    start_nginx
}

teardown_file() {
    stop_pid "$(cut -d' ' -f1 "$WORK/keepalive-nginx")"
    teardown_common
}

teardown() {
    stop_extra
}

# write_conf WORKERS VERSION [EXTRA LINE]
write_conf() {
    printf 'workers = %s\nlua-path = %s/root/%s/?.lua\n%s\n' "$1" "$WORK" "$2" "${3:-}" >"$WORK/luafpm.conf"
}

# Wait (bounded) until the log has $1 at least $2 times.
wait_log() {
    local pattern=$1 count=${2:-1} i
    for ((i = 0; i < 200; i++)); do
        [ "$(grep -c -- "$pattern" "$WORK/luafpm.log")" -ge "$count" ] && return 0
        sleep 0.05
    done
    echo "log never had $count x '$pattern'" >&2
    return 1
}

# Wait (bounded) until the master has exactly $1 workers.
wait_workers() {
    local i
    for ((i = 0; i < 200; i++)); do
        [ "$(worker_pids "$LF_PID" | wc -l)" -eq "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

@test "HUP reloads the config: new workers with the new settings, the master stays" {
    http GET /version.lua
    [ "$STATUS" = 200 ]
    [[ "$BODY" == "v1 "*" 2" ]]
    local old
    old=$(worker_pids "$LF_PID")
    write_conf 3 v2
    local done_before
    done_before=$(grep -c 'reload done' "$WORK/luafpm.log" || true)
    kill -HUP "$LF_PID"
    wait_log 'reload done' $((done_before + 1))
    wait_workers 3
    http GET /version.lua
    [ "$STATUS" = 200 ]
    [[ "$BODY" == "v2 "*" 3" ]]
    # Every old worker is gone, the master is the same process.
    local p
    for p in $old; do ! kill -0 "$p" 2>/dev/null; done
    kill -0 "$LF_PID"
}

@test "a bad config at HUP is logged and the old one keeps serving" {
    local before
    before=$(worker_pids "$LF_PID")
    cp "$WORK/luafpm.conf" "$WORK/good.conf"
    printf 'workers = lots\n' >"$WORK/luafpm.conf"
    kill -HUP "$LF_PID"
    wait_log "reload failed: $WORK/luafpm.conf:1: invalid value \"lots\" for option \"workers\""
    cp "$WORK/good.conf" "$WORK/luafpm.conf"
    printf 'lua-path = x\nlua-path = y\n' >>"$WORK/luafpm.conf"
    kill -HUP "$LF_PID"
    wait_log 'reload failed: .*duplicate'
    cp "$WORK/good.conf" "$WORK/luafpm.conf"
    http GET /version.lua
    [ "$STATUS" = 200 ]
    [[ "$BODY" == "v2 "* ]]
    [ "$(worker_pids "$LF_PID")" = "$before" ]
    grep -q 'still serving with the previous configuration' "$WORK/luafpm.log"
}

@test "a request in flight during a reload completes; its old worker then exits" {
    wait_workers "$(grep -c . <(worker_pids "$LF_PID"))"
    local old
    old=$(worker_pids "$LF_PID")
    curl -sS --max-time 20 -o "$WORK/slow.body" -w '%{http_code}' \
        "http://127.0.0.1:$NGX_PORT/busy.lua?s=1.5" >"$WORK/slow.status" &
    local curl_pid=$!
    sleep 0.3
    kill -HUP "$LF_PID"
    wait "$curl_pid"
    [ "$(cat "$WORK/slow.status")" = 200 ]
    [ "$(cat "$WORK/slow.body")" = ok ]
    local p i
    for p in $old; do
        for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        ! kill -0 "$p" 2>/dev/null
    done
}

# run_load PORT: wrk for 10 s while the master gets a HUP every second.
run_load() {
    local port=$1 i
    wrk -t2 -c16 -d10s "http://127.0.0.1:$port/busy.lua?s=0.01" >"$WORK/wrk.out" 2>&1 &
    local wrk_pid=$!
    for i in $(seq 1 9); do
        sleep 1
        kill -HUP "$LF_PID"
    done
    wait "$wrk_pid"
    cat "$WORK/wrk.out" >&3
    grep -q 'requests in' "$WORK/wrk.out"
    ! grep -q 'Non-2xx' "$WORK/wrk.out"
    ! grep -q 'Socket errors' "$WORK/wrk.out"
}

@test "under load with a HUP every second: no failed request (nginx, new connection per request)" {
    run_load "$NGX_PORT"
    # Every reload completed and the old workers left.
    grep -q 'reload done' "$WORK/luafpm.log"
    ! grep -E 'reload failed' "$WORK/luafpm.log" | grep -v 'lots\|duplicate'
}

@test "under load with a HUP every second: no failed request (nginx keepalive to luafpm)" {
    run_load "$(cut -d' ' -f2 "$WORK/keepalive-nginx")"
    ! grep -q 'connect() failed' "$WORK/nginx-error.log"
    # A stopping worker closes its kept connections; once in a while nginx
    # has just taken one from its cache and sent a request on it. nginx
    # logs "upstream prematurely closed" and, the connection being a
    # cached one, tries again on a new connection without counting a
    # failure: the client sees nothing (run_load checks wrk's errors).
    # A stopping worker closes a kept connection only once it has been
    # idle 50 ms (nginx reuses the most recent first): mostly 0-1 such
    # lines in a run (5 seen once), where closing them at once gave 3-5.
    local n
    n=$(grep -c 'upstream prematurely closed' "$WORK/nginx-error.log" || true)
    echo "# nginx retried $n requests on cached connections the old workers closed" >&3
    [ "$n" -le 9 ]
}

@test "a reload can move the listening socket" {
    local port2 port3 pid
    port2=$(free_port)
    port3=$(free_port)
    printf 'listen = 127.0.0.1:%s\nworkers = 1\nlua-path = %s/root/v1/?.lua\n' "$port2" "$WORK" >"$WORK/move.conf"
    "$LUAFPM_BIN" --conf "$WORK/move.conf" --root "$WORK/root" --error-log "$WORK/move.log" &
    pid=$!
    echo "$pid" >>"$WORK/extra.pids"
    wait_port "$port2"
    sed -i "s/:$port2/:$port3/" "$WORK/move.conf"
    kill -HUP "$pid"
    wait_port "$port3"
    local i
    for ((i = 0; i < 100; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port2") 2>/dev/null || break
        sleep 0.05
    done
    ! (exec 3<>"/dev/tcp/127.0.0.1/$port2") 2>/dev/null
    python3 "$TESTS_DIR/lib/fcgi_client.py" "127.0.0.1:$port3" \
        --param "SCRIPT_FILENAME=$WORK/root/version.lua" | grep -q '^v1 '
}
