#!/usr/bin/env bats
# The code cache: one VM per worker, isolated globals, shared modules.

load lib/helpers

setup_file() {
    make_work
    install_app code
    # One worker, so every request meets the same VM.
    start_luafpm --workers 1 --lua-path "$WORK/root/lib/?.lua"
    start_nginx
}

teardown_file() {
    teardown_common
}

@test "globals are isolated across requests while a module counter goes 1, 2, 3" {
    local i
    for i in 1 2 3; do
        http GET /globals.lua
        [ "$STATUS" = 200 ]
        grep -qx "seen=nil count=$i" <<<"$BODY"
        # Modules see the real _G, not the request's globals.
        grep -qx 'module sees handler global: nil' <<<"$BODY"
        grep -qx 'module global: 1' <<<"$BODY"
        grep -qx '_G.seen: nil' <<<"$BODY"
    done
}

@test "with the code cache on, an edited handler is not re-read" {
    http GET /edit.lua
    [ "$BODY" = "version 1" ]
    echo 'ngx.say("version 2")' >"$WORK/root/edit.lua"
    http GET /edit.lua
    [ "$BODY" = "version 1" ]
}

@test "a #! first line is skipped" {
    http GET /shebang.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "shebang ok" ]
}

@test "error line numbers stay right in the wrapped chunk" {
    http GET /lines.lua
    [ "$BODY" = "lines ok" ]
    http GET '/lines.lua?fail=1'
    [ "$STATUS" = 500 ]
    grep -q "$WORK/root/lines.lua:3: failed on line 3" "$WORK/luafpm.log"
    grep -q "lines.lua:6: in function" "$WORK/luafpm.log"
}

@test "Debian's Lua 5.1 C modules load (lua-cjson)" {
    cat >"$WORK/root/cjson.lua" <<'LUA'
local cjson = require "cjson"
ngx.say(cjson.encode({ a = 1 }))
LUA
    http GET /cjson.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = '{"a":1}' ]
}

@test "source and bytecode handlers: each request runs a function of its own, with its own globals" {
    luajit -b "$WORK/root/fresh_src.lua" "$WORK/root/fresh_bc.lua"
    http GET '/fresh_src.lua?n=a'
    [ "$BODY" = "1 " ]
    http GET '/fresh_src.lua?n=b'
    [ "$BODY" = "2 other:a" ]
    # The bytecode one (its module table is the same: keep is shared).
    http GET '/fresh_bc.lua?n=c'
    [ "$BODY" = "3 other:a,other:b" ]
    http GET '/fresh_bc.lua?n=d'
    [ "$BODY" = "4 other:a,other:b,other:c" ]
}
