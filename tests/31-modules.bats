#!/usr/bin/env bats
# The modules OpenResty libraries require, as luafpm's own built-ins:
# ngx.semaphore on the worker's loop, across requests; resty.core and the
# ngx.* modules load (never lua-resty-core's files, even on the Lua
# path); what FastCGI cannot have fails naming why.  (The exact results
# and messages are compat cases: tests/compat/cases/luafpm/lf-semaphore*,
# lf-resty-core-modules.)

load lib/helpers

setup_file() {
    make_work
    install_app modules
    start_luafpm --workers 1 --init "$WORK/root/init.lua" --lua-path "$WORK/root/?.lua;;"
    start_nginx
}

teardown_file() {
    ALLOWED_LOG='\[lua\]|raw|exiting' teardown_common
}

@test "ngx.semaphore: a request waits until another request of the worker posts" {
    curl -sS --max-time 20 -o "$WORK/wait.out" "http://127.0.0.1:$NGX_PORT/wait.lua?s=8" &
    local waiter=$! i
    for i in $(seq 100); do
        http GET /count.lua
        [ "$BODY" = -1 ] && break
        sleep 0.05
    done
    [ "$BODY" = -1 ]
    http GET /post.lua
    [ "$BODY" = "count before -1
posted" ]
    wait "$waiter"
    [ "$(cat "$WORK/wait.out")" = "true nil soon" ]
    http GET /count.lua
    [ "$BODY" = 0 ]
}

@test "ngx.semaphore: a wait times out with false, \"timeout\"" {
    http GET "/wait.lua?s=0.2"
    [ "$BODY" = "false timeout soon" ]
    http GET /count.lua
    [ "$BODY" = 0 ]
}

@test "ngx.semaphore: a request that ends while a thread waits leaves the queue clean" {
    http GET /abandon.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "waiting: -1" ]
    # the thread was buried with its request: nobody waits any more
    http GET /count.lua
    [ "$BODY" = 0 ]
    http GET /post.lua
    http GET /count.lua
    [ "$BODY" = 1 ]
    http GET "/wait.lua?s=1"
    [ "$BODY" = "true nil soon" ]
}

@test "resty.core, resty.core.base and the ngx.* modules load as luafpm's own" {
    local m
    for m in resty.core resty.core.base resty.core.shdict resty.core.regex resty.core.utils \
        ngx.process ngx.errlog ngx.semaphore ngx.base64 ngx.resp ngx.req; do
        http GET "/need.lua?m=$m"
        [ "$BODY" = "true table" ] || { echo "$m: $BODY"; return 1; }
    done
}

@test "lua-resty-core's own files are never loaded, even from the Lua path" {
    # tests/apps/modules/resty/core/base.lua raises if it is ever run
    http GET /need.lua?m=resty.core.base
    [ "$BODY" = "true table" ]
    http GET /need.lua?m=ngx.shadow
    [[ "$BODY" == "false module 'ngx.shadow' is not one of luafpm's built-in OpenResty modules"* ]]
    http GET /need.lua?m=resty.core.shadow
    [[ "$BODY" == "false module 'resty.core.shadow' is not one of luafpm's built-in OpenResty modules"* ]]
}

@test "what FastCGI cannot have fails when required, naming why" {
    http GET /need.lua?m=ngx.ssl
    [ "$BODY" = "false ngx.ssl is not supported by luafpm: the client's TLS connection ends at the web server; the worker never sees it" ]
    http GET /need.lua?m=ngx.balancer
    [[ "$BODY" == "false ngx.balancer is not supported by luafpm: "* ]]
    http GET /init_info.lua
    [ "$BODY" = "master
nil the privileged agent is not supported by luafpm: it is an nginx process outside the request path; run that work in a timer of --init-worker or in its own service" ]
}

@test "ngx.process: the worker's type and master pid; signal_graceful_exit replaces the worker" {
    local worker
    http GET /process.lua
    [ "$BODY" = "worker $LF_PID $(worker_pids "$LF_PID")" ]
    worker=$(worker_pids "$LF_PID")
    http GET "/process.lua?exit=1"
    [ "$STATUS" = 200 ]
    local i
    for i in $(seq 100); do
        [ -n "$(worker_pids "$LF_PID")" ] && [ "$(worker_pids "$LF_PID")" != "$worker" ] && break
        sleep 0.05
    done
    [ "$(worker_pids "$LF_PID")" != "$worker" ]
    http GET /process.lua
    [ "$BODY" = "worker $LF_PID $(worker_pids "$LF_PID")" ]
}

@test "NaN seconds or milliseconds are refused, not handed to the timer heap" {
    http GET /nan.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "wait: niltimeout
settimeout: falsebad timeout value
settimeouts: falsebad timeout value
pool_size: false bad argument #4 to '?' (bad \"pool_size\" option value: nan)
still serving" ]
}
