#!/usr/bin/env bats
# Hello world and the request as a handler sees it, through a real nginx.

load lib/helpers

setup_file() {
    make_work
    install_app basic
    start_luafpm --workers 2
    start_nginx
}

teardown_file() {
    teardown_common
}

@test "hello world through nginx" {
    http GET /hello.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "hello world" ]
    [ "$(header Content-Type)" = "text/plain" ]
}

@test "the index script answers /" {
    http GET /
    [ "$STATUS" = 200 ]
    [ "$BODY" = "index" ]
}

@test "ngx.var and ngx.req see the FastCGI params" {
    http GET '/info.lua?a=1&b=2' -H 'X-Test: yes' -H 'Cookie: c1=v1; c2=v2'
    [ "$STATUS" = 200 ]
    [ "$(header X-Handler)" = "info" ]
    grep -qx 'method=GET' <<<"$BODY"
    grep -qx 'uri=/info.lua' <<<"$BODY"
    grep -qx 'request_uri=/info.lua?a=1&b=2' <<<"$BODY"
    grep -qx 'args=a=1&b=2' <<<"$BODY"
    grep -qx 'arg_a=1' <<<"$BODY"
    grep -qx 'cookie_c2=v2' <<<"$BODY"
    grep -qx 'http_x_test=yes' <<<"$BODY"
    grep -qx "server_port=$NGX_PORT" <<<"$BODY"
    grep -qx 'remote_addr=127.0.0.1' <<<"$BODY"
    grep -qx 'scheme=http' <<<"$BODY"
    grep -qx "document_root=$WORK/root" <<<"$BODY"
    grep -qx 'nope=nil' <<<"$BODY"
}

@test "args is nil without a query string" {
    http GET /info.lua
    grep -qx 'args=nil' <<<"$BODY"
}

@test "POST is seen as POST" {
    http POST /info.lua -d 'x=1'
    [ "$STATUS" = 200 ]
    grep -qx 'method=POST' <<<"$BODY"
}

@test "HEAD gets the headers and no body" {
    run curl -sS --max-time 10 -I "http://127.0.0.1:$NGX_PORT/hello.lua"
    [ "$status" -eq 0 ]
    [[ "$output" == *"200 OK"* ]]
    [[ "$output" != *"hello world"* ]]
}

@test "ngx.status, ngx.header and ngx.exit" {
    http GET /status.lua
    [ "$STATUS" = 201 ]
    [ "$(header X-One)" = "1" ]
    [ "$(grep -ci '^X-Multi:' "$WORK/headers")" = 2 ]
    [ "$BODY" = "created" ]
}

@test "ngx.exit with an error status before output sends an error page" {
    http GET /teapot.lua
    [ "$STATUS" = 404 ]
    [[ "$BODY" == *"<title>404 Not Found</title>"* ]]
    [ "$(header X-Kept)" = "yes" ]
}

@test "a global print and ngx.log reach the error log" {
    http GET /logs.lua
    [ "$STATUS" = 200 ]
    grep -q '\[notice\].*\[lua\] logs.lua:2: from print' "$WORK/luafpm.log"
    grep -q '\[warn\].*\[lua\] logs.lua:3: from ngx.log 42' "$WORK/luafpm.log"
}
