#!/usr/bin/env bats
# The command line, the config file, listen addresses, spawn-fcgi.

load lib/helpers

setup_file() {
    make_work
    install_app basic process
}

teardown_file() {
    teardown_common
}

# A port is still free (nothing was bound before the error).
port_free() {
    python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.close()' "$1"
}

@test "--help lists the options and exits 0" {
    run "$LUAFPM_BIN" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--listen ADDR"* ]]
    [[ "$output" == *"--code-cache on|off"* ]]
}

@test "--version prints the version and LuaJIT's" {
    run "$LUAFPM_BIN" --version
    [ "$status" -eq 0 ]
    [[ "$output" == "luafpm "*"LuaJIT 2.1"* ]]
}

@test "an unknown option exits 1 naming it, before any socket is opened" {
    local p
    p=$(free_port)
    run "$LUAFPM_BIN" --listen "127.0.0.1:$p" --no-such-option
    [ "$status" -eq 1 ]
    [[ "$output" == *'unknown option "--no-such-option"'* ]]
    port_free "$p"
}

@test "bad values exit 1 naming the option" {
    run "$LUAFPM_BIN" --workers -1
    [ "$status" -eq 1 ]
    [[ "$output" == *'"workers"'* ]]
    run "$LUAFPM_BIN" --code-cache maybe
    [ "$status" -eq 1 ]
    [[ "$output" == *'"code-cache"'* ]]
    run "$LUAFPM_BIN" --log-level loud
    [ "$status" -eq 1 ]
    [[ "$output" == *'"log-level"'* ]]
    run "$LUAFPM_BIN" --listen nonsense
    [ "$status" -eq 1 ]
    [[ "$output" == *'invalid listen address "nonsense"'* ]]
    run "$LUAFPM_BIN" --body-buffer-size 16q
    [ "$status" -eq 1 ]
    [[ "$output" == *'invalid value "16q" for option "body-buffer-size"'* ]]
    run "$LUAFPM_BIN" --body-buffer-size 2g
    [ "$status" -eq 1 ]
    [[ "$output" == *'"body-buffer-size"'* ]]
    run "$LUAFPM_BIN" --workers
    [ "$status" -eq 1 ]
    [[ "$output" == *'needs a value'* ]]
    run "$LUAFPM_BIN" --root "$WORK/does-not-exist"
    [ "$status" -eq 1 ]
    [[ "$output" == *'invalid --root'* ]]
}

@test "config file errors name the file, the line and the option" {
    printf 'workers = 1\n# a comment\nbogus = 2\n' >"$WORK/bad.conf"
    run "$LUAFPM_BIN" --conf "$WORK/bad.conf"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$WORK/bad.conf:3: unknown option \"bogus\""* ]]
    printf 'workers = 1\nworkers = 2\n' >"$WORK/dup.conf"
    run "$LUAFPM_BIN" --conf "$WORK/dup.conf"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$WORK/dup.conf:2: duplicate option \"workers\""* ]]
    printf 'workers = many\n' >"$WORK/val.conf"
    run "$LUAFPM_BIN" --conf "$WORK/val.conf"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$WORK/val.conf:1: invalid value \"many\" for option \"workers\""* ]]
}

@test "a config file is read and the command line overrides it" {
    local p
    p=$(free_port)
    printf 'listen = 127.0.0.1:%s\nworkers = 3  # trailing comment\nroot = %s\n' "$p" "$WORK/root" >"$WORK/good.conf"
    "$LUAFPM_BIN" --conf "$WORK/good.conf" --workers 1 --error-log "$WORK/conf.log" &
    local pid=$!
    wait_port "$p"
    sleep 0.3
    [ "$(pgrep -P "$pid" | wc -l)" -eq 1 ]
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "127.0.0.1:$p" --param "SCRIPT_FILENAME=$WORK/root/hello.lua"
    [[ "$output" == *"hello world"* ]]
    stop_pid "$pid"
}

@test "a port in use is refused with the cause" {
    local p
    p=$(free_port)
    python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(3)' "$p" &
    local holder=$!
    wait_port "$p"
    run "$LUAFPM_BIN" --listen "127.0.0.1:$p"
    kill "$holder"
    [ "$status" -eq 1 ]
    [[ "$output" == *"bind(127.0.0.1:$p) failed (98: Address already in use)"* ]]
}

@test "unix sockets: mode 0660, served through nginx, stale file replaced, live one refused" {
    local sock=$WORK/lf.sock
    start_luafpm --listen "unix:$sock" --workers 1
    wait_port_unix() { local i; for ((i = 0; i < 100; i++)); do [ -S "$sock" ] && return 0; sleep 0.05; done; return 1; }
    wait_port_unix
    [ "$(stat -c %a "$sock")" = 660 ]
    start_nginx "unix:$sock"
    http GET /hello.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "hello world" ]
    # A second instance may not take a live socket.
    run "$LUAFPM_BIN" --listen "unix:$sock" --root "$WORK/root"
    [ "$status" -eq 1 ]
    [[ "$output" == *"is in use by another process"* ]]
    # A socket file left by a killed master is stale and replaced (once
    # its worker, which holds the socket too, has noticed and gone).
    local workers w
    workers=$(worker_pids "$LF_PID")
    kill -KILL "$LF_PID"
    wait_gone "$LF_PID"
    for w in $workers; do wait_gone "$w"; done
    [ -S "$sock" ]
    start_luafpm --listen "unix:$sock" --workers 1
    local i
    for ((i = 0; i < 100; i++)); do
        http GET /hello.lua
        [ "$STATUS" = 200 ] && break
        sleep 0.05
    done
    [ "$BODY" = "hello world" ]
    stop_all
    [ ! -e "$sock" ]
}

@test "IPv6 loopback address" {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null || skip "no IPv6 loopback"
    local p
    p=$(free_port)
    "$LUAFPM_BIN" --listen "[::1]:$p" --workers 1 --root "$WORK/root" --error-log "$WORK/v6.log" &
    local pid=$!
    local i
    for ((i = 0; i < 100; i++)); do
        python3 -c 'import socket,sys; socket.create_connection(("::1",int(sys.argv[1])),1)' "$p" 2>/dev/null && break
        sleep 0.05
    done
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "[::1]:$p" --param "SCRIPT_FILENAME=$WORK/root/hello.lua"
    stop_pid "$pid"
    [[ "$output" == *"hello world"* ]]
}

@test "spawn-fcgi -F 2 launches --workers 0: two processes serve from fd 0" {
    local spawn=${SPAWN_FCGI:-$(command -v spawn-fcgi || true)}
    [ -n "$spawn" ] || skip "spawn-fcgi not installed"
    local p
    p=$(free_port)
    run "$spawn" -a 127.0.0.1 -p "$p" -F 2 -P "$WORK/spawn.pid" -- \
        "$LUAFPM_BIN" --workers 0 --root "$WORK/root" --error-log "$WORK/spawn.log"
    [ "$status" -eq 0 ]
    local pids
    pids=$(grep -o 'PID: [0-9]*' <<<"$output" | awk '{print $2}')
    [ "$(wc -w <<<"$pids")" -eq 2 ]
    start_nginx "127.0.0.1:$p"
    local i clients=()
    for i in 1 2 3 4; do
        curl -s --max-time 10 "http://127.0.0.1:$NGX_PORT/slow.lua?ms=300" >"$WORK/spawn.$i" &
        clients+=($!)
    done
    wait "${clients[@]}"
    local seen
    seen=$(grep -h 'slow start' "$WORK"/spawn.[1-4] | awk '{print $3}' | sort -u)
    for pid in $pids; do
        stop_pid "$pid"
    done
    stop_pid "$NGX_PID"
    [ "$(wc -w <<<"$seen")" -eq 2 ]
    for s in $seen; do
        grep -qw "$s" <<<"$pids"
    done
}
