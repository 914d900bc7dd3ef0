#!/usr/bin/env bats
# SCRIPT_FILENAME must resolve to a regular .lua file inside --root.

load lib/helpers

setup_file() {
    make_work
    install_app basic
    mkdir -p "$WORK/outside" "$WORK/root/dir.lua" "$WORK/root/sub"
    echo 'ngx.say("leaked")' >"$WORK/outside/secret.lua"
    echo 'not lua' >"$WORK/root/readme.txt"
    echo 'ngx.say("in sub")' >"$WORK/root/sub/page.lua"
    ln -s /etc/passwd "$WORK/root/passwd.lua"
    ln -s "$WORK/outside/secret.lua" "$WORK/root/link.lua"
    ln -s "$WORK/outside" "$WORK/root/updir"
    ln -s "$WORK/root/hello.lua" "$WORK/root/alias.lua"
    ln -s "$WORK/root/readme.txt" "$WORK/root/txt.lua"
    start_luafpm --workers 1
    start_nginx
}

teardown_file() {
    teardown_common
}

crafted() {
    http GET "/crafted?f=$1"
}

@test "a missing script is 404" {
    http GET /missing.lua
    [ "$STATUS" = 404 ]
    grep -q 'missing.lua" refused with 404' "$WORK/luafpm.log"
}

@test "a script in a subdirectory is served" {
    http GET /sub/page.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "in sub" ]
}

@test "a file that does not end in .lua is 403" {
    http GET /readme.txt
    [ "$STATUS" = 403 ]
    [[ "$BODY" != *"not lua"* ]]
}

@test "a directory named like a script is 403" {
    http GET /dir.lua
    [ "$STATUS" = 403 ]
}

@test ".. in SCRIPT_FILENAME is 403, even when it would land inside the root" {
    crafted "$WORK/root/../root/hello.lua"
    [ "$STATUS" = 403 ]
    crafted "$WORK/root/../../../../etc/passwd"
    [ "$STATUS" = 403 ]
    [[ "$BODY" != *"root:"* ]]
}

@test "/etc/passwd through a crafted SCRIPT_FILENAME is 403" {
    crafted /etc/passwd
    [ "$STATUS" = 403 ]
    [[ "$BODY" != *"root:"* ]]
    crafted /etc/passwd.lua
    [ "$STATUS" = 403 ]
}

@test "symlinks out of the root are 403" {
    http GET /passwd.lua
    [ "$STATUS" = 403 ]
    [[ "$BODY" != *"root:"* ]]
    http GET /link.lua
    [ "$STATUS" = 403 ]
    [[ "$BODY" != *"leaked"* ]]
    http GET /updir/secret.lua
    [ "$STATUS" = 403 ]
    [[ "$BODY" != *"leaked"* ]]
    grep -q "resolves to $WORK/outside/secret.lua, outside the root" "$WORK/luafpm.log"
}

@test "a symlink to a non-.lua file is 403; one to a script inside the root is served" {
    http GET /txt.lua
    [ "$STATUS" = 403 ]
    http GET /alias.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "hello world" ]
}

@test "an over-long name is 403" {
    crafted "$WORK/root/$(printf 'a%.0s' {1..300}).lua"
    [ "$STATUS" = 403 ]
}

@test "a NUL byte from nginx never reaches the worker" {
    http GET '/hello%00.lua'
    [ "$STATUS" = 400 ]
}

@test "a NUL byte sent directly cuts the name: what is left is checked like any path" {
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" \
        --param 'SCRIPT_FILENAME=/etc/passwd\x00'"$WORK/root/hello.lua" --param REQUEST_METHOD=GET
    [ "$status" -eq 0 ]
    [[ "$output" == *"Status: 403"* ]]
    [[ "$output" != *"root:"* ]]
}

@test "no SCRIPT_FILENAME is 404" {
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param REQUEST_METHOD=GET
    [ "$status" -eq 0 ]
    [[ "$output" == *"Status: 404"* ]]
}

@test "Apache's proxy:fcgi://host:port/path form is understood" {
    crafted "proxy:fcgi://127.0.0.1:9000$WORK/root/hello.lua"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "hello world" ]
    crafted "proxy:fcgi://127.0.0.1:9000/etc/passwd"
    [ "$STATUS" = 403 ]
}

@test "PATH_INFO after the script name reaches the handler" {
    http GET /info.lua/extra/path
    [ "$STATUS" = 200 ]
    grep -qx 'path_info=/extra/path' <<<"$BODY"
    grep -qx 'uri=/info.lua/extra/path' <<<"$BODY"
}
