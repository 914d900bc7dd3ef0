#!/usr/bin/env bats
# Host names for cosockets: --resolver against a real DNS server the test
# starts (dnsmasq on a loopback port, answering name.test), and --resolver
# system (/etc/resolv.conf and /etc/hosts).  The names lead to a real
# redis-server.

load lib/helpers

setup_file() {
    make_work
    install_app cosocket
    command -v dnsmasq >/dev/null || skip "dnsmasq is not installed (tests/install-deps.sh installs it)"
    command -v redis-server >/dev/null || skip "redis-server is not installed"
    DNS_PORT=$(free_port)
    dnsmasq --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
        --no-hosts --keep-in-foreground --pid-file="$WORK/dnsmasq.pid" \
        --local-ttl=60 --address=/name.test/127.0.0.1 >"$WORK/dnsmasq.out" 2>&1 &
    echo $! >>"$WORK/started.pids"
    wait_port "$DNS_PORT"
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no >"$WORK/redis.out" 2>&1 &
    echo $! >>"$WORK/started.pids"
    wait_port "$REDIS_PORT"
    export DNS_PORT REDIS_PORT
}

teardown_file() {
    teardown_common
}

teardown() {
    stop_extra
}

dns_get() { # dns_get HOST: the handler's output through luafpm
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --timeout 10 \
        --param SCRIPT_FILENAME="$WORK/root/dns.lua" \
        --param QUERY_STRING="host=$1&port=$REDIS_PORT" | sed -n '/^connect/,$p'
}

@test "--resolver: a name the DNS server knows connects; one it does not fails as OpenResty says" {
    start_luafpm --workers 1 --resolver "127.0.0.1:$DNS_PORT"
    echo "$LF_PID" >>"$WORK/extra.pids"
    run dns_get name.test
    echo "$output"
    [ "$output" = "connect 1 nil
+PONG" ]
    run dns_get missing.test
    echo "$output"
    [[ "$output" == "connect nil missing.test could not be resolved ("*")" ]]
    # The answer is cached: dnsmasq gone, the name still works.
    kill -STOP "$(cat "$WORK/dnsmasq.pid")"
    run dns_get name.test
    kill -CONT "$(cat "$WORK/dnsmasq.pid")"
    [ "$output" = "connect 1 nil
+PONG" ]
}

@test "--resolver system: /etc/hosts answers localhost" {
    grep -qE '^127\.0\.0\.1[[:space:]].*\blocalhost\b' /etc/hosts || skip "no localhost in /etc/hosts"
    start_luafpm --workers 1 --resolver system
    echo "$LF_PID" >>"$WORK/extra.pids"
    run dns_get localhost
    echo "$output"
    [ "$output" = "connect 1 nil
+PONG" ]
}

@test "without --resolver a name fails before any lookup" {
    start_luafpm --workers 1
    echo "$LF_PID" >>"$WORK/extra.pids"
    run dns_get name.test
    [ "$output" = 'connect nil no resolver defined to resolve "name.test"' ]
}

@test "Debian's nginx.dns.resolver runs unchanged: an A query over UDP and over TCP to the DNS server" {
    [ -f "$LUA_NGINX_DIR/nginx/dns/resolver.lua" ] || skip "lua-nginx-dns not unpacked (tests/install-deps.sh)"
    start_luafpm --workers 1 --lua-path "$LUA_NGINX_DIR/?.lua;;"
    echo "$LF_PID" >>"$WORK/extra.pids"
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --timeout 10 \
        --param SCRIPT_FILENAME="$WORK/root/dns_client.lua" --param QUERY_STRING="port=$DNS_PORT"
    echo "$output"
    [[ "$output" == *"udp name.test 127.0.0.1 type 1
tcp name.test 127.0.0.1 type 1"* ]]
}
