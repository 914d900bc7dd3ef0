#!/usr/bin/env bats
# Failing handlers and bad input: a clear error, never a dead worker.

load lib/helpers

setup_file() {
    make_work
    install_app errors
    start_luafpm --workers 1
    start_nginx
    http GET /ok.lua
    FIRST_PID=${BODY##* }
    export FIRST_PID
}

teardown_file() {
    teardown_common
}

still_serving() {
    http GET /ok.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "still serving $FIRST_PID" ]
}

@test "a runtime error is a 500 with the cause and a traceback in the log" {
    http GET /runtime.lua
    [ "$STATUS" = 500 ]
    [[ "$BODY" == *"<title>500 Internal Server Error</title>"* ]]
    grep -q "runtime error: $WORK/root/runtime.lua:3: attempt to index local 't' (a nil value)" "$WORK/luafpm.log"
    grep -q 'stack traceback:' "$WORK/luafpm.log"
    grep -q "script: $WORK/root/runtime.lua, request: \"GET /runtime.lua\"" "$WORK/luafpm.log"
    still_serving
}

@test "a syntax error is a 500 with file:line in the log" {
    http GET /syntax.lua
    [ "$STATUS" = 500 ]
    grep -q "failed to load Lua script $WORK/root/syntax.lua: $WORK/root/syntax.lua:2: unexpected symbol near '='" "$WORK/luafpm.log"
    still_serving
}

@test "an error after flushed output cuts the response" {
    run curl -sS --max-time 10 "http://127.0.0.1:$NGX_PORT/after_flush.lua"
    [ "$status" -ne 0 ]
    [[ "$output" == *"partial"* ]]
    grep -q 'after_flush.lua:3: failed after flush' "$WORK/luafpm.log"
    still_serving
}

@test "an error object that is a table is logged as such" {
    http GET /table_error.lua
    [ "$STATUS" = 500 ]
    grep -q 'runtime error: (error object is a table value)' "$WORK/luafpm.log"
    still_serving
}

@test "pcall catches errors but not ngx.exit" {
    http GET /caught.lua
    [ "$STATUS" = 200 ]
    grep -q 'caught: false inner' <<<"$BODY"
    [[ "$BODY" != *"not reached"* ]]
}

@test "garbage on the FastCGI socket does not hurt the worker" {
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --raw 474554202f20485454502f312e310d0a0d0a --timeout 3
    [ "$status" -eq 3 ]
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --raw 0101000100ff0000 --timeout 3
    [ "$status" -eq 3 ]
    still_serving
}
