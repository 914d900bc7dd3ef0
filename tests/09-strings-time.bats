#!/usr/bin/env bats
# The string and time utilities of the ngx API (ngx.md5, ngx.http_time, ...).

load lib/helpers

setup_file() {
    make_work
    install_app strings times
    start_luafpm --workers 1
    start_nginx
}

teardown_file() {
    teardown_common
}

@test "string utilities give OpenResty's results" {
    http GET /strings.lua
    [ "$STATUS" = 200 ]
    diff -u "$TESTS_DIR/expected/strings.txt" "$WORK/body"
}

@test "time utilities pass every check" {
    http GET /times.lua
    [ "$STATUS" = 200 ]
    ! grep -v '^ok ' "$WORK/body"
    [ "$(wc -l <"$WORK/body")" -eq 58 ]
}
