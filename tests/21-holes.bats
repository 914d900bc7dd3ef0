#!/usr/bin/env bats
# Holes found by attacking luafpm (issue 11), each reproduced as the attack
# was made: through nginx where a web server can carry it, as raw FastCGI
# records where only a hostile peer on the socket can.  One worker, so
# that an attack is followed by requests to the very same process.

load lib/helpers

ATTACK="$TESTS_DIR/lib/fcgi_attack.py"

setup_file() {
    make_work
    install_app holes
    export ESCAPE_MARK="$WORK/escaped"
    export ALLOWED_LOG='lua entry thread killed|exited with code [34]|forged|listening socket is gone'
    start_luafpm --workers 1 --sandbox-root "$WORK/root/sb" --request-timeout 3
    start_nginx
}

teardown_file() {
    teardown_common
}

teardown() {
    stop_extra
}

attack() {
    python3 "$ATTACK" "$LF_ADDR" "$WORK/root/hello.lua" "$@"
}

# --- the source wrapper -------------------------------------------------

@test "wrapper escape: text that closes the handler's function runs nothing, sandboxed or not" {
    local before
    before=$(worker)
    for path in /sb/escape.lua /escape.lua; do
        mark_log
        http GET "$path"
        echo "$path: $STATUS $BODY"
        [ "$STATUS" = 500 ]
        [ ! -e "$ESCAPE_MARK" ]
        log_since | grep -q "failed to load Lua script $WORK/root$path: .*escape.lua:4:"
    done
    # ngx.say was not replaced for later requests, and the worker lives.
    http GET /hello.lua
    [ "$BODY" = "hello /hello.lua" ]
    http GET /sb/hello.lua
    [ "$BODY" = "sandboxed hello" ]
    [ "$(worker)" = "$before" ]
}

@test "wrapper escape: -t, --lint and --preload load through the same check" {
    run "$LUAFPM_BIN" -t --root "$WORK/root" --sandbox-root "$WORK/root/sb"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"$WORK/root/sb/escape.lua:4:"* ]]
    [[ "$output" == *"$WORK/root/escape.lua:4:"* ]]
    [ ! -e "$ESCAPE_MARK" ]
    run "$LUAFPM_BIN" --lint "$WORK/root/escape.lua"
    [ "$status" -ne 0 ]
    [[ "$output" == *"escape.lua:4:"* ]]
    [ ! -e "$ESCAPE_MARK" ]
    start_luafpm --workers 1 --preload on --sandbox-root "$WORK/root/sb" --listen "127.0.0.1:$(free_port)"
    echo "$LF_PID" >>"$WORK/extra.pids"
    local i
    for i in $(seq 50); do
        grep -q -- '--preload: .*escape.lua:4:' "$WORK/luafpm.log" && break
        sleep 0.1
    done
    grep -q -- '--preload: .*escape.lua:4:' "$WORK/luafpm.log"
    [ ! -e "$ESCAPE_MARK" ]
}

@test "a factory that raises (end, error(...), function) is a 500, the worker lives" {
    local before
    before=$(worker)
    for path in /factory_error.lua /sb/factory_error.lua; do
        http GET "$path"
        [ "$STATUS" = 500 ]
    done
    [ "$(worker)" = "$before" ]
}

# --- errors and limits the C side did not see -------------------------

@test "an error object whose __tostring fails is logged as a table, the worker lives" {
    local before
    before=$(worker)
    for path in /tostring_error.lua /sb/tostring_error.lua; do
        mark_log
        http GET "$path"
        [ "$STATUS" = 500 ]
        log_since | grep -q 'runtime error: (error object is a table value)'
    done
    [ "$(worker)" = "$before" ]
    # A __tostring that works is still used for trusted code.
    mark_log
    http GET /tostring_ok.lua
    [ "$STATUS" = 500 ]
    log_since | grep -q 'runtime error: custom message'
}

@test "150,000 nested coroutine.wrap calls: a Lua error, not a C stack overflow" {
    local before
    before=$(worker)
    for path in /wrap_nest.lua /sb/wrap_nest.lua; do
        mark_log
        http GET "$path"
        echo "$path: $STATUS"
        [ "$STATUS" = 500 ]
        log_since | grep -q 'C stack overflow'
    done
    [ "$(worker)" = "$before" ]
    # Moderate nesting still works.
    http GET '/wrap_nest.lua?n=150'
    [ "$STATUS" = 200 ]
    [ "$BODY" = 150 ]
    http GET /resume_nest.lua
    [ "$STATUS" = 200 ]
    [[ "$BODY" == "false C stack overflow at depth "* ]]
    [[ "$BODY" == *"nested ok"* ]]
}

@test "out of memory while a request is set up is that request's 500, not an abort" {
    # A one-byte budget: the request's own coroutine cannot be allocated.
    start_luafpm --workers 1 --sandbox-root "$WORK/root/sb" --sandbox-memory 1
    echo "$LF_PID" >>"$WORK/extra.pids"
    sleep 0.3
    local before after
    before=$(worker_pids "$LF_PID")
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_FILENAME="$WORK/root/sb/hello.lua" \
        --param REQUEST_METHOD=GET --param REQUEST_URI=/sb/hello.lua
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Status: 500"* ]]
    grep -q 'request failed inside luafpm: not enough memory' "$WORK/luafpm.log"
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_FILENAME="$WORK/root/hello.lua" \
        --param REQUEST_METHOD=GET --param REQUEST_URI=/hello.lua
    [[ "$output" == *"hello /hello.lua"* ]]
    after=$(worker_pids "$LF_PID")
    [ "$before" = "$after" ]
    ! grep -q 'PANIC\|signal 6\|SIGABRT' "$WORK/luafpm.log"
}

@test "ngx.var lookups cost the same with 2000 request headers" {
    # As raw FastCGI: nginx's large_client_header_buffers would refuse
    # that many headers before they reach us.
    local args=() i
    for i in $(seq 2000); do
        args+=(--param "HTTP_X_H$i=v$i")
    done
    # 600,000 lookups of the last param: about 5 s with a linear scan of
    # 2000 params (8 s for a million, measured), so the 3 s
    # --request-timeout would answer 504; 0.3 s with the index.
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --timeout 10 \
        --param SCRIPT_FILENAME="$WORK/root/vars.lua" --param REQUEST_METHOD=GET \
        --param REQUEST_URI=/vars.lua --param QUERY_STRING=n=600000 "${args[@]}" \
        --param HTTP_X_LAST=end
    echo "$output" | head -5
    [ "$status" -eq 0 ]
    [[ "$output" == *"reads 600000 true"* ]]
}

# --- the FastCGI reader (libfcgi's crashed on these) -------------------

@test "FCGI_GET_VALUES with many names is answered, the connection goes on" {
    local before
    before=$(worker)
    run attack get_values 40
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"type 10 id 0"* ]]
    [[ "$output" == *"value FCGI_MPXS_CONNS 0"* ]]
    [[ "$output" == *"value FCGI_MAX_CONNS "[0-9]* ]]
    [[ "$output" == *"value FCGI_MAX_REQS "[0-9]* ]]
    [[ "$output" != *X_UNKNOWN* ]]
    [[ "$output" == *"status 0 body hello /after-get-values"* ]]
    [ "$(worker)" = "$before" ]
}

@test "a param length of 0x7ffffffe closes the connection with a log line, nothing else" {
    local before
    before=$(worker)
    mark_log
    run attack huge_length
    echo "$output"
    [ "$output" = "closed True" ]
    log_since | grep -q 'FastCGI connection closed: .*length runs past'
    [ "$(worker)" = "$before" ]
}

@test "params over 1 MiB are refused with a log line" {
    local before
    before=$(worker)
    mark_log
    run attack too_many_params
    [ "$output" = "closed True" ]
    log_since | grep -q 'FastCGI connection closed: the request.s params are larger than 1 MiB'
    [ "$(worker)" = "$before" ]
}

@test "pipelined requests on a kept connection are all answered, in order" {
    run attack pipeline 5
    echo "$output"
    [ "$status" -eq 0 ]
    for i in 1 2 3 4 5; do
        [[ "$output" == *"response $i status 0 body hello /p$((i - 1))"* ]]
    done
}

@test "a request sent a byte at a time, with padding, is read whole" {
    run attack split
    echo "$output"
    [ "$output" = "status 0 body hello /split" ]
}

@test "FCGI_ABORT_REQUEST before the params end is answered; during the body it ends the request" {
    local before
    before=$(worker)
    run attack abort_before
    echo "$output"
    [[ "$output" == *"aborted status 0 output 0"* ]]
    [[ "$output" == *"status 0 body hello /after-abort"* ]]
    run python3 "$ATTACK" "$LF_ADDR" "$WORK/root/body.lua" abort_body
    echo "$output"
    [ "$output" = "answered True" ]
    [ "$(worker)" = "$before" ]
}

@test "unknown role, multiplexing, request id 0, unknown types, other ids, bad version" {
    local before
    before=$(worker)
    run attack unknown_role
    echo "$output"
    [[ "$output" == *"status 3"* ]]
    [[ "$output" == *"status 0 body hello /after-role"* ]]
    run attack multiplex
    echo "$output"
    [[ "$output" == *"type 3 id 2 protocol 1"* ]]
    [[ "$output" == *"status 0 body hello /first"* ]]
    run attack id_zero
    [ "$output" = "closed True" ]
    run attack unknown_type
    [ "$output" = "type 11 of 99" ]
    run attack other_ids
    echo "$output"
    [ "$output" = "status 0 body hello /other-ids" ]
    run attack bad_version
    [ "$output" = "closed True" ]
    [ "$(worker)" = "$before" ]
}

# --- paths and logs ------------------------------------------------------

@test "--revalidate: a script replaced by a symlink out of --root is not run" {
    local out="$WORK/outside"
    mkdir -p "$out/d"
    echo 'ngx.say("evil")' >"$out/evil.lua"
    echo 'ngx.say("evil d")' >"$out/d/x.lua"
    cp -R "$WORK/root/." "$WORK/root2"
    mkdir -p "$WORK/root2"
    start_luafpm --workers 1 --root "$WORK/root2" --revalidate 0
    echo "$LF_PID" >>"$WORK/extra.pids"
    local addr=$LF_ADDR
    get() {
        python3 "$TESTS_DIR/lib/fcgi_client.py" "$addr" --param SCRIPT_FILENAME="$WORK/root2/$1" \
            --param REQUEST_METHOD=GET --param REQUEST_URI="/$1"
    }
    run get a.lua
    [[ "$output" == *"inside a"* ]]
    run get d/x.lua
    [[ "$output" == *"inside d"* ]]
    sleep 1.1 # a new mtime second
    ln -s "$out/evil.lua" "$WORK/root2/a.new"
    mv -T "$WORK/root2/a.new" "$WORK/root2/a.lua"
    mv "$WORK/root2/d" "$WORK/root2/d.old"
    ln -s "$out/d" "$WORK/root2/d"
    run get a.lua
    echo "$output"
    [[ "$output" != *evil* ]]
    run get d/x.lua
    echo "$output"
    [[ "$output" != *evil* ]]
    grep -q 'replaced by a symbolic link' "$WORK/luafpm.log"
}

@test "a newline in the method or URI cannot forge a log line" {
    mark_log
    python3 "$ATTACK" "$LF_ADDR" "$WORK/root/boom.lua" log_forge
    python3 "$ATTACK" "$LF_ADDR" "$WORK/root/spin.lua" log_forge
    log_since | grep -q 'GET\\x0a\[emerg\] m /x\\x0a2026/01/01 00:00:00 \[emerg\] 1#0: forged'
    ! log_since | grep -q '^2026/01/01 00:00:00'
    ! log_since | grep -q '^\[emerg\] m'
}

# --- the worker's own sockets ---------------------------------------------

@test "a handler that closes the listening socket: the worker is replaced, the log is not flooded" {
    start_luafpm --workers 1
    echo "$LF_PID" >>"$WORK/extra.pids"
    start_nginx "$LF_ADDR"
    echo "$NGX_PID" >>"$WORK/extra.pids"
    local before after i
    before=$(worker_pids "$LF_PID")
    http GET /close_listen.lua
    [ "$BODY" = "closed 1" ]
    # The next connection finds the socket gone (epoll still reports the
    # master's socket): the worker exits and its replacement answers.
    http GET /hello.lua
    [ "$BODY" = "hello /hello.lua" ]
    for i in $(seq 50); do
        after=$(worker_pids "$LF_PID")
        [ -n "$after" ] && [ "$after" != "$before" ] && break
        sleep 0.1
    done
    [ "$after" != "$before" ]
    http GET /hello.lua
    [ "$BODY" = "hello /hello.lua" ]
    grep -q 'the listening socket is gone, the worker exits' "$WORK/luafpm.log"
    [ "$(grep -c 'accept failed' "$WORK/luafpm.log")" -lt 5 ]
}
