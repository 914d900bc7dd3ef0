#!/usr/bin/env bats
# Cosockets (ngx.socket.tcp) on the worker's loop against a real
# redis-server the test starts on a free loopback port: a socket call
# parks the light thread, not the worker; the pool keeps connections per
# worker; a request that ends closes what it left open.  (The compat cases
# tagged cosocket cover the API's exact results against an echo server.)

load lib/helpers

setup_file() {
    make_work
    install_app cosocket
    command -v redis-server >/dev/null || skip "redis-server is not installed (tests/install-deps.sh installs it)"
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no >"$WORK/redis.out" 2>&1 &
    echo $! >>"$WORK/started.pids"
    wait_port "$REDIS_PORT"
    export REDIS_PORT
    MEMC_PORT=
    if command -v memcached >/dev/null; then
        MEMC_PORT=$(free_port)
        memcached -l 127.0.0.1 -p "$MEMC_PORT" -U 0 -u "$(id -un)" >"$WORK/memcached.out" 2>&1 &
        echo $! >>"$WORK/started.pids"
        wait_port "$MEMC_PORT"
    fi
    export MEMC_PORT
    start_luafpm --workers 1 --request-timeout 2 --lua-path "$LUA_NGINX_DIR/?.lua;;"
    start_nginx
}

# Debian's lua-nginx-* libraries, from tests/install-deps.sh.
need_lua_nginx() {
    [ -f "$LUA_NGINX_DIR/nginx/redis.lua" ] || skip "lua-nginx-redis not unpacked (tests/install-deps.sh)"
}

teardown() {
    stop_extra
}

teardown_file() {
    teardown_common
}

@test "SET and GET over a cosocket; setkeepalive, and the next request reuses the connection" {
    http GET "/redis.lua?port=$REDIS_PORT&v=one"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "reused 0
OK
one
keepalive 1" ]
    http GET "/redis.lua?port=$REDIS_PORT&v=two"
    [ "$BODY" = "reused 1
OK
two
keepalive 1" ]
}

# blpops_together SCRIPT: 40 concurrent requests of SCRIPT, each a BLPOP
# that waits 0.5 s, all timed out and done within 4 s (one after another
# they would take 20 s).
blpops_together() {
    local t0 ms
    rm -f "$WORK"/blpop*.out
    t0=$(date +%s%N)
    seq 1 40 | xargs -P 40 -I{} curl -sS --max-time 20 -o "$WORK/blpop{}.out" \
        "http://127.0.0.1:$NGX_PORT/$1?port=$REDIS_PORT&op=blpop&n={}"
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "40 BLPOPs through $1 took $ms ms"
    [ "$(cat "$WORK"/blpop*.out | grep -c '^blpop timed out$')" -eq 40 ]
    [ "$ms" -lt 4000 ]
}

@test "40 concurrent BLPOPs waiting 0.5 s each on one worker finish together" {
    blpops_together redis.lua
}

@test "a request that ends with sockets open leaves no descriptor behind" {
    local pid before after
    http GET /pid.lua
    pid=$BODY
    http GET "/redis.lua?port=$REDIS_PORT&op=leak"
    before=$(ls "/proc/$pid/fd" | wc -l)
    for _ in $(seq 10); do
        http GET "/redis.lua?port=$REDIS_PORT&op=leak"
        [ "$BODY" = "left open" ]
    done
    after=$(ls "/proc/$pid/fd" | wc -l)
    echo "descriptors before $before, after 50 sockets left open: $after"
    [ "$after" -le "$before" ]
}

@test "--request-timeout reaches a request parked on a socket: 504, the worker serves on" {
    local pid
    http GET /pid.lua
    pid=$BODY
    http GET "/redis.lua?port=$REDIS_PORT&op=timeout"
    [ "$STATUS" = 504 ]
    grep -q "lua entry thread aborted: request timed out after 2 s" "$WORK/luafpm.log"
    http GET /pid.lua
    [ "$BODY" = "$pid" ]
}

@test "a timer uses a cosocket after the response" {
    http GET "/redis.lua?port=$REDIS_PORT&op=timer"
    [ "$BODY" = scheduled ]
    local i
    for i in $(seq 50); do
        http GET "/redis.lua?port=$REDIS_PORT&op=get&k=from_timer"
        [ "$BODY" = yes ] && break
        sleep 0.05
    done
    [ "$BODY" = yes ]
}

@test "a host name without a resolver fails as in OpenResty" {
    http GET /resolve.lua
    [ "$BODY" = 'nilno resolver defined to resolve "localhost"' ]
}

@test "Debian's nginx.redis, required as resty.redis, runs unchanged: commands, a pipeline, the pool" {
    need_lua_nginx
    http GET "/resty_redis.lua?port=$REDIS_PORT"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "reused 0
OK
value
true
pipeline 3 OK a
keepalive 1" ]
    http GET "/resty_redis.lua?port=$REDIS_PORT"
    [[ "$BODY" == "reused 1"* ]]
}

@test "nginx.redis: 40 concurrent BLPOPs of 0.5 s on one worker finish together" {
    need_lua_nginx
    blpops_together resty_redis.lua
}

@test "nginx.redis: a read timeout is handled the library's way (it closes the connection itself)" {
    need_lua_nginx
    http GET "/resty_redis.lua?port=$REDIS_PORT&op=timeout&read=300"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "blpop nil timeout
after timeout: nil" ]
}

@test "Debian's nginx.memcached runs unchanged against a real memcached" {
    need_lua_nginx
    [ -n "$MEMC_PORT" ] || skip "memcached is not installed (tests/install-deps.sh installs it)"
    http GET "/memc.lua?port=$MEMC_PORT"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "1
32 0 nil
42
1" ]
}

@test "ngx.socket.udp: setpeername, send, receive, a read timeout that leaves it usable, close" {
    local port
    port=$(free_port)
    python3 "$TESTS_DIR/lib/udp_echo.py" "$port" &
    echo $! >>"$WORK/started.pids"
    sleep 0.3
    http GET "/udp.lua?port=$port"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "1
1
echo:hello
nil timeout
1
nilclosed" ]
}

@test "Debian's nginx.string, sha256, md5, aes and random run unchanged (FFI: ngx_hex_dump, ngx_atoi, libcrypto)" {
    [ -f "$LUA_NGINX_DIR/nginx/string.lua" ] || skip "lua-nginx-string not unpacked (tests/install-deps.sh)"
    http GET /rstring.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "sha256 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
md5 5d41402abc4b2a76b9719d911017c592 5d41402abc4b2a76b9719d911017c592
atoi 12345 -1
aes a message 16
random 16" ]
}

@test "--init-worker may use cosockets and ngx.sleep: it runs on the loop before the worker serves" {
    REDIS_PORT=$REDIS_PORT start_luafpm --workers 2 --init-worker "$WORK/root/init_worker_sock.lua"
    echo "$LF_PID" >>"$WORK/extra.pids"
    local pid
    for pid in $(worker_pids "$LF_PID"); do
        run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" \
            --param SCRIPT_FILENAME="$WORK/root/redis.lua" --param QUERY_STRING="port=$REDIS_PORT&op=get&k=started:$pid"
        [[ "$output" == *init_worker* ]]
    done
    kill "$LF_PID"
}

@test "Debian's nginx.websocket.client runs unchanged against a websocket echo server (websocketd)" {
    need_lua_nginx
    [ -f "$LUA_NGINX_DIR/nginx/websocket/client.lua" ] || skip "lua-nginx-websocket not unpacked (tests/install-deps.sh)"
    command -v websocketd >/dev/null || skip "websocketd is not installed (tests/install-deps.sh installs it)"
    local port
    port=$(free_port)
    websocketd --port="$port" --address=127.0.0.1 cat >"$WORK/websocketd.out" 2>&1 &
    echo $! >>"$WORK/extra.pids"
    wait_port "$port"
    http GET "/ws.lua?port=$port"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "text: hello nil
text: second message nil
close: 1" ]
}

@test "a request that ends while a connect waits in a pool's queue leaves the pool's slots free" {
    http GET "/queue_abandon.lua?port=$REDIS_PORT&step=hold"
    [ "$BODY" = held ]
    http GET "/queue_abandon.lua?port=$REDIS_PORT"
    [ "$BODY" = "connect: 1 nil" ]
    http GET "/queue_abandon.lua?port=$REDIS_PORT"
    [ "$BODY" = "connect: 1 nil" ]
}
