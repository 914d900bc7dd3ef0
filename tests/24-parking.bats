#!/usr/bin/env bats
# Requests that wait park their coroutine, not the worker: ngx.sleep, a
# body still arriving, a web server that reads slowly.  One worker serves
# everything here (--workers 1), so any wait that held the process would
# show as requests served one after another.

load lib/helpers

ATTACK="$TESTS_DIR/lib/fcgi_attack.py"

setup_file() {
    make_work
    install_app parking
    start_luafpm --workers 1 --lua-path "$WORK/root/lib/?.lua" --revalidate 0 \
        --status-path /status
    start_nginx
}

teardown_file() {
    teardown_common
}

teardown() {
    stop_extra
}

# ms since $1 (date +%s%N)
ms_since() {
    echo $((($(date +%s%N) - $1) / 1000000))
}

@test "40 concurrent ngx.sleep(0.5) requests on one worker finish together" {
    local t0 ms
    t0=$(date +%s%N)
    seq 1 40 | xargs -P 40 -I{} curl -sS --max-time 20 -o "$WORK/c{}.out" \
        "http://127.0.0.1:$NGX_PORT/sleep.lua?s=0.5&n={}"
    ms=$(ms_since "$t0")
    echo "40 requests took $ms ms"
    # One after another they would take 20 s.
    [ "$ms" -lt 3000 ]
    local n pids
    n=$(cat "$WORK"/c*.out | grep -c '^slept 0.5 in ')
    [ "$n" -eq 40 ]
    # All of them in the one worker.
    pids=$(cat "$WORK"/c*.out | awk '{print $4}' | sort -u | wc -l)
    [ "$pids" -eq 1 ]
    rm -f "$WORK"/c*.out
}

@test "ngx.sleep(0) yields to the other ready requests" {
    local log=$WORK/yield.log
    rm -f "$log"
    curl -sS --max-time 10 "http://127.0.0.1:$NGX_PORT/yield0.lua?name=a&log=$log" >"$WORK/a.out" &
    local a=$!
    curl -sS --max-time 10 "http://127.0.0.1:$NGX_PORT/yield0.lua?name=b&log=$log" >"$WORK/b.out"
    wait "$a"
    grep -q 'done a' "$WORK/a.out"
    grep -q 'done b' "$WORK/b.out"
    cat "$log"
    # Each wrote its first line before either wrote its last: they ran
    # interleaved in the one worker.
    [ "$(wc -l <"$log")" -eq 6 ]
    local first_last
    first_last=$(grep -n '3$' "$log" | head -1 | cut -d: -f1)
    [ "$(head -n "$first_last" "$log" | grep -c '1$')" -eq 2 ]
}

@test "waits go through pcall and user coroutines; globals stay each request's own" {
    http GET /sleep_pcall.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "from the coroutine
pcall true" ]
    curl -sS --max-time 10 "http://127.0.0.1:$NGX_PORT/sleep_globals.lua?v=one" >"$WORK/one.out" &
    local one=$!
    sleep 0.1
    curl -sS --max-time 10 "http://127.0.0.1:$NGX_PORT/sleep_globals.lua?v=two" >"$WORK/two.out"
    wait "$one"
    [ "$(cat "$WORK/one.out")" = "mine one" ]
    [ "$(cat "$WORK/two.out")" = "mine two" ]
}

@test "a slow upload (stdin trickling for 2 s) does not delay another request on the same worker" {
    python3 "$ATTACK" "$LF_ADDR" "$WORK/root/body.lua" trickle_body 2 >"$WORK/trickle.out" 2>&1 &
    local up=$!
    echo "$up" >>"$WORK/extra.pids"
    for _ in $(seq 50); do grep -q holding "$WORK/trickle.out" && break; sleep 0.05; done
    sleep 0.3
    local t0 ms
    t0=$(date +%s%N)
    http GET /hello.lua
    ms=$(ms_since "$t0")
    [ "$STATUS" = 200 ]
    [ "$BODY" = "hello /hello.lua" ]
    echo "answered in $ms ms beside the upload"
    [ "$ms" -lt 1000 ]
    wait "$up"
    cat "$WORK/trickle.out"
    grep -q '^status 0$' "$WORK/trickle.out"
    grep -q '^read 1000 bytes$' "$WORK/trickle.out"
}

@test "a client that reads slowly holds its own request (ngx.flush(true) parks), not the worker" {
    # 4 MB through nginx to a client limited to 1 MB/s.
    curl -sS --max-time 30 --limit-rate 1M -o "$WORK/stream.out" \
        "http://127.0.0.1:$NGX_PORT/stream.lua" &
    local slow=$!
    sleep 0.5
    local t0 ms
    t0=$(date +%s%N)
    http GET /hello.lua
    ms=$(ms_since "$t0")
    [ "$STATUS" = 200 ]
    echo "answered in $ms ms beside the slow reader"
    [ "$ms" -lt 1000 ]
    wait "$slow"
    [ "$(stat -c %s "$WORK/stream.out")" -eq $((64 * 65536 + 4)) ]
    [ "$(tail -c 4 "$WORK/stream.out")" = "end" ] || [ "$(tail -1 "$WORK/stream.out" | tr -d z)" = "end" ]
}

@test "ngx.eof before the body has come: the request waits for it, then ends the response" {
    python3 "$ATTACK" "$LF_ADDR" "$WORK/root/eof_body.lua" trickle_body 1 >"$WORK/eof.out" 2>&1
    cat "$WORK/eof.out"
    grep -q '^status 0$' "$WORK/eof.out"
    grep -q '^early$' "$WORK/eof.out"
    grep -q 'eof returned 1' "$WORK/luafpm.log"
}

@test "a sleeping request past --request-timeout gets 504 while its neighbours finish" {
    start_luafpm --workers 1 --request-timeout 1
    echo "$LF_PID" >>"$WORK/extra.pids"
    local addr=$LF_ADDR
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --timeout 10 \
        --param SCRIPT_FILENAME="$WORK/root/sleep.lua" --param REQUEST_URI=/long \
        --param QUERY_STRING=s=3 >"$WORK/long.out" &
    local long=$!
    local i
    for i in 1 2 3; do
        python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --timeout 10 \
            --param SCRIPT_FILENAME="$WORK/root/sleep.lua" --param REQUEST_URI=/short$i \
            --param QUERY_STRING=s=0.6 >"$WORK/short$i.out" &
        eval "short$i=\$!"
    done
    wait "$long" "$short1" "$short2" "$short3"
    cat "$WORK/long.out"
    grep -q 'Status: 504' "$WORK/long.out"
    for i in 1 2 3; do grep -q '^slept 0.6 in ' "$WORK/short$i.out"; done
    grep -q "lua entry thread aborted: request timed out after 1 s" "$WORK/luafpm.log"
    grep -q "in function 'sleep'" "$WORK/luafpm.log"
}

@test "the status page lists each request in flight" {
    curl -sS --max-time 20 -o /dev/null "http://127.0.0.1:$NGX_PORT/sleep.lua?s=4&who=first" &
    local a=$! i
    sleep 0.3
    curl -sS --max-time 20 -o /dev/null "http://127.0.0.1:$NGX_PORT/sleep.lua?s=4&who=second" &
    local b=$!
    # Until both sleepers are in (a loaded machine starts curl slowly).
    for i in $(seq 30); do
        python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_NAME=/status \
            --param QUERY_STRING=full --param REQUEST_METHOD=GET >"$WORK/status.out"
        grep -q '^requests in flight: *3$' "$WORK/status.out" && break
        sleep 0.1
    done
    cat "$WORK/status.out"
    wait "$a" "$b"
    # The two sleepers and the page itself.
    grep -q '^requests in flight: *3$' "$WORK/status.out"
    grep -qE "^in flight: +[0-9]+ GET /sleep.lua\?s=4&who=first $WORK/root/sleep.lua$" "$WORK/status.out"
    grep -qE "^in flight: +[0-9]+ GET /sleep.lua\?s=4&who=second $WORK/root/sleep.lua$" "$WORK/status.out"
    # php-fpm's fields show the oldest.
    grep -q '^request URI: */sleep.lua?s=4&who=first$' "$WORK/status.out"
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_NAME=/status \
        --param QUERY_STRING='full&json' --param REQUEST_METHOD=GET | sed -n '/^{/,$p' >"$WORK/status.json"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["processes"][0]; assert p["requests in flight"]==1 and len(p["in flight"])==1, p' "$WORK/status.json"
}

@test "--revalidate: a changed module gives new requests a new VM while a request in flight finishes in the old one" {
    curl -sS --max-time 10 "http://127.0.0.1:$NGX_PORT/mod_user.lua?s=1" >"$WORK/old.out" &
    local old=$!
    sleep 0.3
    mark_log
    echo 'return { version = 2 }' >"$WORK/root/lib/parkmod.lua"
    http GET /mod_user.lua
    [ "$BODY" = "version 2 2" ]
    wait "$old"
    # It began in the old VM and ended there: its module did not change
    # under it.
    [ "$(cat "$WORK/old.out")" = "version 1 1" ]
    log_since | grep -q 'Lua VM replaced.*the requests in flight finish in the old one'
    http GET /mod_user.lua
    [ "$BODY" = "version 2 2" ]
}

# in_flight ADDR N: wait until the worker holds N requests in flight
# (the status page's own included).
in_flight() {
    local i
    for i in $(seq 100); do
        python3 "$TESTS_DIR/lib/fcgi_client.py" "$1" --param SCRIPT_NAME=/status \
            --param QUERY_STRING=full --param REQUEST_METHOD=GET 2>/dev/null |
            grep -q "^requests in flight: *$2$" && return 0
        sleep 0.05
    done
    return 1
}

@test "SIGQUIT: the worker finishes the requests it has parked, then exits" {
    start_luafpm --workers 1 --status-path /status
    echo "$LF_PID" >>"$WORK/extra.pids"
    local addr=$LF_ADDR i
    for i in 1 2 3; do
        python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --timeout 10 \
            --param SCRIPT_FILENAME="$WORK/root/sleep.lua" --param REQUEST_URI=/q$i \
            --param QUERY_STRING=s=1 >"$WORK/q$i.out" &
        eval "q$i=\$!"
    done
    in_flight "$addr" 4
    kill -QUIT "$LF_PID"
    wait "$q1" "$q2" "$q3"
    for i in 1 2 3; do grep -q '^slept 1 in ' "$WORK/q$i.out"; done
    wait_gone "$LF_PID" 10
}

@test "development mode: concurrent requests each get a VM of their own" {
    start_luafpm --workers 1 --code-cache off --lua-path "$WORK/root/lib/?.lua"
    echo "$LF_PID" >>"$WORK/extra.pids"
    local addr=$LF_ADDR i
    for i in 1 2 3 4; do
        python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --timeout 10 \
            --param SCRIPT_FILENAME="$WORK/root/sleep_globals.lua" --param REQUEST_URI=/d$i \
            --param QUERY_STRING=v=$i >"$WORK/d$i.out" &
        eval "d$i=\$!"
    done
    wait "$d1" "$d2" "$d3" "$d4"
    for i in 1 2 3 4; do grep -q "^mine $i$" "$WORK/d$i.out"; done
}

@test "the hard deadline answers every other request in flight before the worker exits" {
    start_luafpm --workers 1 --request-timeout 1
    echo "$LF_PID" >>"$WORK/extra.pids"
    local addr=$LF_ADDR
    # A parked neighbour first, then a loop no hook stops: the worker is
    # stuck in it, so only the hard deadline's own answers reach anyone.
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --timeout 15 \
        --param SCRIPT_FILENAME="$WORK/root/sleep.lua" --param REQUEST_URI=/neighbour \
        --param QUERY_STRING=s=10 >"$WORK/neighbour.out" &
    local n=$!
    sleep 0.3
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --timeout 15 \
        --param SCRIPT_FILENAME="$WORK/root/jit_loop.lua" --param REQUEST_URI=/loop >"$WORK/loop.out"
    wait "$n" || true
    cat "$WORK/neighbour.out" "$WORK/loop.out"
    grep -q 'Status: 504' "$WORK/loop.out"
    grep -q 'Status: 502' "$WORK/neighbour.out"
    for _ in $(seq 50); do grep -q 'exited with code 3' "$WORK/luafpm.log" && break; sleep 0.05; done
    grep -q 'lua entry thread killed: request timed out after 1 s.*jit_loop.lua.*the worker exits, 1 other requests in flight answered 502' "$WORK/luafpm.log"
}

@test "FCGI_ABORT_REQUEST ends a request that waits: END_REQUEST at once, the handler stops" {
    mark_log
    run python3 "$ATTACK" "$LF_ADDR" "$WORK/root/sleep.lua" abort_parked
    echo "$output"
    [[ "$output" == "end 0 after 0."* ]]
    for _ in $(seq 50); do log_since | grep -q 'FCGI_ABORT_REQUEST' && break; sleep 0.05; done
    log_since | grep -q 'FCGI_ABORT_REQUEST from the web server: the request is stopped'
    # The worker serves on.
    http GET /hello.lua
    [ "$BODY" = "hello /hello.lua" ]
}
