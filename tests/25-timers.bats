#!/usr/bin/env bats
# ngx.timer, ngx.thread timing and ngx.on_abort through nginx: timers run
# after the response in their own coroutine, get premature = true when the
# worker stops gracefully, and are bounded; light threads wait together;
# --check-client-abort sees a client that went away.

load lib/helpers

setup_file() {
    make_work
    install_app timers
    start_luafpm --workers 1 --status-path /status
    start_nginx
}

teardown_file() {
    ALLOWED_LOG='lua_max_running_timers' teardown_common
}

teardown() {
    stop_extra
}

# wait_file FILE N: until FILE has N lines (5 s at most).
wait_file() {
    local i
    for i in $(seq 100); do
        [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

@test "ngx.timer.at runs after the response, in the timer phase, with premature false and every argument" {
    local out=$WORK/at.out
    rm -f "$out"
    http GET "/at.lua?out=$out"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "scheduled 1 nil pending 1" ]
    wait_file "$out" 1
    cat "$out"
    # premature, a, b (nil), a table, two more nils, the phase, exiting,
    # and the handler's global did not reach _G.
    [ "$(cat "$out")" = "false x nil table 1 timer false nil" ]
    http GET /counts.lua
    [ "$BODY" = "0 0" ]
}

@test "a timer with a delay waits for it; one that sleeps counts as running meanwhile" {
    local out=$WORK/delay.out t0
    rm -f "$out"
    t0=$(date +%s%N)
    http GET "/at.lua?out=$out&delay=0.5"
    [ "$BODY" = "scheduled 1 nil pending 1" ]
    http GET /counts.lua
    [ "$BODY" = "0 1" ]
    wait_file "$out" 1
    [ $((($(date +%s%N) - t0) / 1000000)) -ge 450 ]
    out=$WORK/sleeper.out
    rm -f "$out"
    http GET "/sleeper.lua?out=$out"
    sleep 0.2
    http GET /counts.lua
    [ "$BODY" = "1 0" ]
    wait_file "$out" 1
    [ "$(cat "$out")" = "slept 1" ]
}

@test "ngx.timer.every repeats; API calls for a request fail in a timer; an error there is logged and harms nothing" {
    local out=$WORK/every.out
    rm -f "$out"
    start_luafpm --workers 1
    echo "$LF_PID" >>"$WORK/extra.pids"
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_FILENAME="$WORK/root/every.lua" \
        --param QUERY_STRING="out=$out" | grep -q 'every 1 nil'
    wait_file "$out" 4
    grep -q '^tick false$' "$out"
    out=$WORK/disabled.out
    rm -f "$out"
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_FILENAME="$WORK/root/disabled.lua" \
        --param QUERY_STRING="out=$out" | grep -q ok
    wait_file "$out" 2
    cat "$out"
    grep -q '^false API disabled in the context of ngx.timer$' "$out"
    grep -q '^false .*API disabled in the context of ngx.timer$' "$out"
    for _ in $(seq 50); do grep -q 'timer failure' "$WORK/luafpm.log" && break; sleep 0.05; done
    grep -q 'lua entry thread aborted: runtime error: .*timer failure.*context: ngx.timer' <(tr '\n' ' ' <"$WORK/luafpm.log")
    # SIGQUIT: the every timer's last run is premature.
    kill -QUIT "$LF_PID"
    wait_gone "$LF_PID" 10
    tail -1 "$WORK/every.out" | grep -q '^tick true$'
}

@test "SIGQUIT: pending timers run at once with premature = true, and the worker waits for running ones" {
    local out=$WORK/quit.out
    rm -f "$out"
    start_luafpm --workers 1
    echo "$LF_PID" >>"$WORK/extra.pids"
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_FILENAME="$WORK/root/at.lua" \
        --param QUERY_STRING="out=$out&delay=30" | grep -q 'scheduled 1'
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_FILENAME="$WORK/root/sleeper.lua" \
        --param QUERY_STRING="out=$out" | grep -q ok
    sleep 0.1
    local t0
    t0=$(date +%s%N)
    kill -QUIT "$LF_PID"
    wait_gone "$LF_PID" 10
    cat "$out"
    # Not 30 s: the pending one ran premature, the sleeping one finished.
    [ $((($(date +%s%N) - t0) / 1000000)) -lt 5000 ]
    grep -q '^true x nil table 1 timer true nil$' "$out"
    grep -q '^slept 1$' "$out"
}

@test "--max-pending-timers: past it ngx.timer.at returns nil, \"too many pending timers\"" {
    start_luafpm --workers 1 --max-pending-timers 1000
    echo "$LF_PID" >>"$WORK/extra.pids"
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_FILENAME="$WORK/root/many.lua"
    [[ "$output" == *"1000 too many pending timers"* ]]
}

@test "--max-running-timers: a timer due past it is not run, and logged (once for a burst)" {
    start_luafpm --workers 1 --max-running-timers 2
    echo "$LF_PID" >>"$WORK/extra.pids"
    local out=$WORK/running.out
    rm -f "$out"
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_FILENAME="$WORK/root/running.lua" \
        --param QUERY_STRING="out=$out" | grep -q scheduled
    wait_file "$out" 2
    sleep 0.5
    [ "$(wc -l <"$out")" -eq 2 ]
    [ "$(grep -c 'lua_max_running_timers are not enough' "$WORK/luafpm.log")" -eq 1 ]
}

@test "two ngx.threads sleeping 0.6 s finish in under 1 s" {
    http GET /threads.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "ab in 0.6" ]
}

@test "ngx.on_abort: without --check-client-abort it is refused" {
    local out=$WORK/off.out
    rm -f "$out"
    curl -sS --max-time 1 -o /dev/null "http://127.0.0.1:$NGX_PORT/abort.lua?out=$out" || true
    wait_file "$out" 1
    grep -q '^on_abort nil lua_check_client_abort is off; again nil lua_check_client_abort is off$' "$out"
}

@test "--check-client-abort: the ngx.on_abort callback runs when the client goes away; without one the request is stopped" {
    start_luafpm --workers 1 --check-client-abort on
    echo "$LF_PID" >>"$WORK/extra.pids"
    start_nginx "$LF_ADDR"
    echo "$NGX_PID" >>"$WORK/extra.pids"
    local out=$WORK/abort.out
    rm -f "$out"
    # The client gives up after 0.5 s; nginx closes its FastCGI connection.
    curl -sS --max-time 0.5 -o /dev/null "http://127.0.0.1:$NGX_PORT/abort.lua?out=$out" || true
    wait_file "$out" 2
    cat "$out"
    grep -q '^on_abort 1 nil; again nil duplicate call$' "$out"
    grep -q '^aborted$' "$out"
    grep -q 'the client went away.*ngx.on_abort' "$WORK/luafpm.log"
    out=$WORK/noabort.out
    rm -f "$out"
    curl -sS --max-time 0.5 -o /dev/null "http://127.0.0.1:$NGX_PORT/noabort.lua?out=$out" || true
    for _ in $(seq 50); do grep -q 'the request is stopped' "$WORK/luafpm.log" && break; sleep 0.05; done
    grep -q 'the client went away): the request is stopped' "$WORK/luafpm.log"
    sleep 2
    [ ! -e "$out" ]
    sleep 3.5
    ! grep -q 'not reached' "$WORK/abort.out"
    # The worker serves on.
    http GET /counts.lua
    [ "$STATUS" = 200 ]
}
