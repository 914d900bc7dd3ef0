#!/usr/bin/env bats
# Code loading for production: --init (in the master, before the fork),
# --init-worker, ngx.get_phase, --revalidate for handlers and modules (a
# changed module replaces the worker's VM), a broken edit keeps the last
# good version, --preload, and bytecode from `luajit -b`.

load lib/helpers

setup_file() {
    make_work
    install_app codeload
    mkdir -p "$WORK/marks"
    export LUAFPM_TEST_MARKS=$WORK/marks
    # One worker, for the tests where "the last good version" must be the
    # one this test's requests saw (with two, each worker keeps its own).
    # Its own handler and module (same root: nginx maps URLs there).
    mkdir -p "$WORK/root/one_lib"
    cp "$WORK/root/handler.lua" "$WORK/root/one_handler.lua"
    cp "$WORK/root/lib/watched.lua" "$WORK/root/one_lib/watched.lua"
    start_luafpm --workers 1 --revalidate 0 --lua-path "$WORK/root/one_lib/?.lua"
    start_nginx
    echo "$NGX_PORT" >"$WORK/one.port"
    start_luafpm --workers 2 --init "$WORK/root/init.lua" --init-worker "$WORK/root/init_worker.lua" \
        --revalidate 0 --lua-path "$WORK/root/lib/?.lua" --preload on
    start_nginx
}

# http against the one-worker luafpm.
http_one() {
    PORT_OVERRIDE=$(cat "$WORK/one.port") http "$@"
}

teardown_file() {
    teardown_common
}

wait_log() {
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q -- "$1" "$WORK/luafpm.log" && return 0
        sleep 0.05
    done
    return 1
}

@test "--init runs once, in the master, before the fork; handlers read what it set" {
    http GET /info.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "from init init content" ]
    [ "$(cat "$WORK/marks/init")" = "init $LF_PID" ]
}

@test "--init-worker runs in each worker with phase init_worker" {
    local w
    for w in $(worker_pids "$LF_PID"); do
        grep -qx "init_worker init_worker $w" "$WORK/marks/init_worker"
    done
    [ "$(wc -l <"$WORK/marks/init_worker")" -eq 2 ]
}

@test "--preload compiled the handlers when the VM was made" {
    grep -q -- '--preload: [0-9]* handlers compiled' "$WORK/luafpm.log"
}

@test "request APIs in init fail clearly and stop the start; -t checks the init scripts" {
    run "$LUAFPM_BIN" --listen "127.0.0.1:$(free_port)" --root "$WORK/root" --init "$WORK/root/bad_init.lua"
    [ "$status" -eq 1 ]
    [[ "$output" == *"init script $WORK/root/bad_init.lua failed: $WORK/root/bad_init.lua:1: API disabled in the context of init"* ]]
    printf 'x = = 1\n' >"$WORK/broken_init.lua"
    run "$LUAFPM_BIN" -t --root "$WORK/root" --init "$WORK/broken_init.lua"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$WORK/broken_init.lua:1:"* ]]
}

@test "--revalidate 0: an edited handler is served at once; a broken edit keeps the old one" {
    http_one GET /one_handler.lua
    [ "$BODY" = "handler v1" ]
    echo 'ngx.say("handler v2")' >"$WORK/root/one_handler.lua"
    http_one GET /one_handler.lua
    [ "$BODY" = "handler v2" ]
    echo 'ngx.say("handler v3"' >"$WORK/root/one_handler.lua"
    local i
    for i in 1 2 3 4; do
        http_one GET /one_handler.lua
        [ "$STATUS" = 200 ]
        [ "$BODY" = "handler v2" ]
    done
    # Logged once, not per request.
    [ "$(grep -c 'one_handler.lua changed but does not compile' "$WORK/luafpm.log")" -eq 1 ]
    echo 'ngx.say("handler v4")' >"$WORK/root/one_handler.lua"
    for i in 1 2 3 4; do
        http_one GET /one_handler.lua
        [ "$BODY" = "handler v4" ]
    done
}

@test "a changed module replaces the worker's VM (an ffi.cdef struct included), logged with the file" {
    local i
    for i in 1 2 3 4; do
        http GET /uses_mod.lua
        [ "$BODY" = "mod v1 12" ]
    done
    sed -i 's/mod v1/mod v2/' "$WORK/root/lib/watched.lua"
    for i in 1 2 3 4; do
        http GET /uses_mod.lua
        [ "$STATUS" = 200 ]
        [ "$BODY" = "mod v2 12" ]
    done
    grep -q "module $WORK/root/lib/watched.lua changed: Lua VM replaced in [0-9.]* ms" "$WORK/luafpm.log"
    grep "Lua VM replaced in" "$WORK/luafpm.log" | sed 's/.*replaced in/# replaced in/' >&3
    # The new VM ran --init-worker again (and the master's --init state is
    # rebuilt in the worker: handlers still read it).
    [ "$(wc -l <"$WORK/marks/init_worker")" -ge 3 ]
    http GET /info.lua
    [ "$BODY" = "from init init content" ]
}

@test "a module edit that does not compile keeps the old VM serving, with the error logged" {
    http_one GET /uses_mod.lua
    [ "$BODY" = "mod v1 12" ]
    printf 'return { version = "mod broken"\n' >"$WORK/root/one_lib/watched.lua"
    local i
    for i in 1 2 3 4; do
        http_one GET /uses_mod.lua
        [ "$STATUS" = 200 ]
        [ "$BODY" = "mod v1 12" ]
    done
    grep -q "module $WORK/root/one_lib/watched.lua changed but does not compile, the previous version goes on serving" \
        "$WORK/luafpm.log"
    printf 'return { version = "mod v3", area = function(w, h) return w * h end }\n' \
        >"$WORK/root/one_lib/watched.lua"
    for i in 1 2 3 4; do
        http_one GET /uses_mod.lua
        [ "$BODY" = "mod v3 12" ]
    done
}

@test "no request fails while handlers and modules are edited under load" {
    local i codes
    (
        for i in $(seq 1 8); do
            sleep 0.15
            # Deployed the safe way: written aside, then renamed into place
            # (an in-place rewrite can be read half-written by anyone).
            echo "ngx.say(\"handler e$i\")" >"$WORK/root/handler.lua.tmp"
            mv "$WORK/root/handler.lua.tmp" "$WORK/root/handler.lua"
            printf 'return { version = "mod e%s", area = function(w, h) return w * h end }\n' "$i" \
                >"$WORK/root/lib/watched.lua.tmp"
            mv "$WORK/root/lib/watched.lua.tmp" "$WORK/root/lib/watched.lua"
        done
    ) &
    local editor=$!
    seq 1 300 | xargs -P 4 -I{} sh -c \
        'curl -sS -o /dev/null -w "%{http_code}\n" --max-time 10 "http://127.0.0.1:'"$NGX_PORT"'/uses_mod.lua?n={}"; curl -sS -o /dev/null -w "%{http_code}\n" --max-time 10 "http://127.0.0.1:'"$NGX_PORT"'/handler.lua?n={}"' \
        >"$WORK/codes"
    wait "$editor"
    echo "# $(wc -l <"$WORK/codes") requests: $(sort "$WORK/codes" | uniq -c | tr '\n' ' ')" >&3
    [ "$(wc -l <"$WORK/codes")" -eq 600 ]
    [ "$(grep -vc '^200$' "$WORK/codes")" -eq 0 ]
}

@test "bytecode from luajit -b loads like source, for a handler and a module" {
    command -v luajit
    printf 'ngx.say("from bytecode ", require("bcmod").answer)\n' >"$WORK/src_handler.lua"
    printf 'return { answer = 42 }\n' >"$WORK/src_bcmod.lua"
    luajit -b "$WORK/src_handler.lua" "$WORK/root/bc_handler.lua"
    luajit -b "$WORK/src_bcmod.lua" "$WORK/root/lib/bcmod.lua"
    ! grep -q answer "$WORK/root/lib/bcmod.lua"
    http GET /bc_handler.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "from bytecode 42" ]
}

@test "an --init error at a reload keeps the old generation serving" {
    local port pid conf=$WORK/init-reload.conf
    port=$(free_port)
    mkdir -p "$WORK/marks2"
    printf 'init = %s/root/init.lua\nworkers = 1\n' "$WORK" >"$conf"
    LUAFPM_TEST_MARKS=$WORK/marks2 "$LUAFPM_BIN" --listen "127.0.0.1:$port" --root "$WORK/root" \
        --conf "$conf" --error-log "$WORK/init-reload.log" &
    pid=$!
    echo "$pid" >>"$WORK/started.pids"
    wait_port "$port"
    local before i
    for ((i = 0; i < 100; i++)); do before=$(worker_pids "$pid"); [ -n "$before" ] && break; sleep 0.05; done
    printf 'init = %s/root/bad_init.lua\nworkers = 1\n' "$WORK" >"$conf"
    kill -HUP "$pid"
    for ((i = 0; i < 100; i++)); do grep -q 'reload failed' "$WORK/init-reload.log" && break; sleep 0.05; done
    grep -q "reload failed: init script $WORK/root/bad_init.lua failed: .*API disabled in the context of init" \
        "$WORK/init-reload.log"
    [ "$(worker_pids "$pid")" = "$before" ]
    python3 "$TESTS_DIR/lib/fcgi_client.py" "127.0.0.1:$port" \
        --param "SCRIPT_FILENAME=$WORK/root/info.lua" | grep -q '^from init init content$'
    stop_pid "$pid"
}

@test "development mode runs --init and --init-worker for every request's VM" {
    local port pid
    port=$(free_port)
    mkdir -p "$WORK/marks3"
    LUAFPM_TEST_MARKS=$WORK/marks3 "$LUAFPM_BIN" --listen "127.0.0.1:$port" --root "$WORK/root" \
        --workers 1 --code-cache off --init "$WORK/root/init.lua" \
        --init-worker "$WORK/root/init_worker.lua" --error-log "$WORK/dev.log" &
    pid=$!
    echo "$pid" >>"$WORK/started.pids"
    wait_port "$port"
    local i
    for i in 1 2 3; do
        python3 "$TESTS_DIR/lib/fcgi_client.py" "127.0.0.1:$port" \
            --param "SCRIPT_FILENAME=$WORK/root/info.lua" | grep -q '^from init init content$'
    done
    stop_pid "$pid"
    [ "$(wc -l <"$WORK/marks3/init")" -eq 3 ]
    [ "$(wc -l <"$WORK/marks3/init_worker")" -eq 3 ]
}
