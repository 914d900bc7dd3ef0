#!/usr/bin/env bats
# Development mode: --code-cache off builds a fresh VM for every request.

load lib/helpers

setup_file() {
    make_work
    install_app code
    start_luafpm --workers 1 --code-cache off --lua-path "$WORK/root/lib/?.lua"
    start_nginx
}

teardown_file() {
    teardown_common
}

@test "a module counter stays 1 and load-time globals are fresh" {
    local i
    for i in 1 2 3; do
        http GET /globals.lua
        [ "$STATUS" = 200 ]
        grep -qx 'seen=nil count=1' <<<"$BODY"
        grep -qx 'module global: 1' <<<"$BODY"
    done
}

@test "an edited handler is seen at once" {
    http GET /edit.lua
    [ "$BODY" = "version 1" ]
    echo 'ngx.say("version 2")' >"$WORK/root/edit.lua"
    http GET /edit.lua
    [ "$BODY" = "version 2" ]
}

@test "an edited module is seen at once" {
    sed -i 's/n = n + 1/n = n + 10/' "$WORK/root/lib/counter.lua"
    http GET /globals.lua
    grep -qx 'seen=nil count=10' <<<"$BODY"
}
