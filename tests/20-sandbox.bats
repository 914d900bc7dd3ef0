#!/usr/bin/env bats
# The sandbox (--sandbox-root): every item of the threat checklist
# (doc/sandbox.md) tried from a sandboxed script through nginx, and
# ordinary sandboxed scripts that must keep working.  One worker, so that
# a script that tries to poison later requests is followed by requests to
# the very same VM.

load lib/helpers

INSTRUCTIONS=2000000

setup_file() {
    make_work
    install_app sandbox
    # The catastrophic pattern ends its worker at the hard deadline.
    export ALLOWED_LOG='exited with code 3|lua entry thread killed'
    # Bytecode of a script that would print ESCAPED, in and out of the sandbox.
    luajit -b "$WORK/root/sb/bytecode_src.lua" "$WORK/root/sb/bytecode.lua"
    luajit -b "$WORK/root/sb/bytecode_src.lua" "$WORK/root/bytecode.lua"
    rm "$WORK/root/sb/bytecode_src.lua"
    # The ngx.say table shapes of 13-api.bats, sandboxed.
    cp "$TESTS_DIR/apps/api/say_tables.lua" "$WORK/root/sb/"
    start_luafpm --workers 1 --sandbox-root "$WORK/root/sb" \
        --sandbox-instructions "$INSTRUCTIONS" --sandbox-memory 16m --request-timeout 3
    start_nginx
}

teardown_file() {
    teardown_common
}

# over_budget PATH KIND: 500, nothing after the loop, a log line that names
# the script and the budget, and the same worker goes on serving.
over_budget() {
    local path=$1 kind=$2 before
    before=$(worker)
    mark_log
    http GET "$path"
    echo "status $STATUS body: $BODY"
    [ "$STATUS" = 500 ]
    [[ "$BODY" != *after* ]]
    # The log line (its traceback spans lines) names the budget and the script.
    log_since | tr '\n' ' ' |
        grep -E "sandbox: the script ran out of its $kind budget \(--sandbox-$kind(s)? [0-9]+.*script: $WORK/root${path%%\?*}" \
        || { log_since; false; }
    [ "$(worker)" = "$before" ]
}

# serve_extra LUAFPM-ARGS...: a second luafpm (one worker, the sandbox as
# above) and nginx for one test, stopped by its teardown; EXTRA_NGX is
# nginx's port.  The first server's LF_*/NGX_* are kept.
serve_extra() {
    local lf_pid=$LF_PID lf_port=$LF_PORT lf_addr=$LF_ADDR ngx_pid=$NGX_PID ngx_port=$NGX_PORT
    start_luafpm --workers 1 --sandbox-root "$WORK/root/sb" \
        --sandbox-instructions "$INSTRUCTIONS" --request-timeout 3 "$@" 3>&-
    echo "$LF_PID" >>"$WORK/extra.pids"
    start_nginx "$LF_ADDR"
    echo "$NGX_PID" >>"$WORK/extra.pids"
    EXTRA_NGX=$NGX_PORT
    LF_PID=$lf_pid LF_PORT=$lf_port LF_ADDR=$lf_addr NGX_PID=$ngx_pid NGX_PORT=$ngx_port
}

# over_budget_at PORT PATH: 500 from the instruction budget, via that nginx.
over_budget_at() {
    local status
    mark_log
    status=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 20 "http://127.0.0.1:$1$2")
    [ "$status" = 500 ]
    log_since | grep -F "ran out of its instruction budget"
}

teardown() {
    stop_extra
}

@test "an ordinary sandboxed script works: strings, tables, math, errors, coroutines, metatables, the request" {
    http GET '/sb/app.lua?name=ann' -H 'X-Test: yes'
    echo "$BODY"
    [ "$STATUS" = 200 ]
    [ "$(header X-App)" = sandboxed ]
    diff -u - <(echo "$BODY") <<'EXPECTED'
HELLO 003.1|x|"a\nb" 1
c,b,a a+b+c 121
2 9 1.414 8 ff
number 1970-01-01 6
string functions: 13 own keys: a
false boom
false 7
1 2 3
25 true nil
locked false
4
counter 1
GET ann ann yes
a%20b aGk= 9dd4e461 number
EXPECTED
    # Its global did not survive the request.
    http GET '/sb/app.lua?name=bob'
    [[ "$BODY" == *"counter 1"* ]]
}

@test "sandboxed scripts set status and headers, exit, redirect, read a POST body" {
    http GET '/sb/exit.lua?how=404'
    [ "$STATUS" = 404 ]
    http GET '/sb/exit.lua?how=redirect'
    [ "$STATUS" = 302 ]
    [ "$(header Location)" = /elsewhere ]
    http GET '/sb/exit.lua?how=201'
    [ "$STATUS" = 201 ]
    [ "$(header X-Sandboxed)" = yes ]
    [ "$BODY" = created ]
    http POST /sb/post.lua --data 'a=1&b=2'
    [ "$STATUS" = 200 ]
    [ "$BODY" = "post: 1 7" ]
}

@test "10: require, load*, dofile, io, os beyond time, debug, ffi, jit, package, collectgarbage, newproxy do not exist" {
    http GET /sb/absent.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "all absent" ]
}

@test "1: a precompiled chunk is refused in the sandbox (and still runs outside it)" {
    mark_log
    http GET /sb/bytecode.lua
    [ "$STATUS" = 500 ]
    [[ "$BODY" != *ESCAPED* ]]
    log_since | grep -F "a precompiled (binary) chunk, and the sandbox takes source text only"
    http GET /bytecode.lua
    [ "$STATUS" = 200 ]
    [[ "$BODY" == *"bytecode ran"* ]]
    # -t says so too.
    run "$LUAFPM_BIN" -t --root "$WORK/root" --sandbox-root "$WORK/root/sb"
    [ "$status" -eq 1 ]
    [[ "$output" == *"sb/bytecode.lua: a precompiled (binary) chunk"* ]]
}

@test "1, 14: string.dump and load are out of reach, the string metatable included" {
    http GET /sb/dump.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = blocked ]
}

@test "2: the string metatable is hidden and what it reaches cannot be changed" {
    http GET /sb/strmeta.lua
    [ "$STATUS" = 200 ]
    echo "$BODY"
    [[ "$BODY" == *'getmetatable(""): boolean'* ]]
    [[ "$BODY" == *'patch through getmetatable: refused'* ]]
    [[ "$BODY" == *'patch through ("").__index: refused'* ]]
    [[ "$BODY" == *'methods: ABC xxx el'* ]]
}

@test "3: getfenv/setfenv and the env's metatable lead nowhere" {
    http GET /sb/fenv.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = blocked ]
}

@test "5: a loop hot enough for the JIT is stopped by the instruction budget (the JIT is off)" {
    over_budget /sb/hotloop.lua instruction
    [[ "$BODY" != *start* ]] # the buffered output is replaced by the 500
}

@test "endless loops, with and without function calls, end with the instruction budget" {
    over_budget /sb/whileloop.lua instruction
    over_budget /sb/callloop.lua instruction
    over_budget '/sb/callloop.lua?tail=1' instruction
}

@test "6: pcall, xpcall, coroutine.resume/wrap, error handlers, C boundaries and metamethods cannot swallow the budget" {
    local how
    for how in pcall pcall_loop xpcall xpcall_handler_loops resume wrap nested sort gsub tostring metamethod; do
        echo "# $how"
        over_budget "/sb/catch.lua?how=$how" instruction
    done
}

@test "8, 9: memory bombs end with the memory budget and the worker goes on" {
    local how
    for how in rep rep_nested double double_pcall strings tables concat coroutines; do
        echo "# $how"
        over_budget "/sb/memory.lua?how=$how" memory
    done
}

@test "garbage does not spend the memory budget: 600 MB churned through a 16 MB budget" {
    # A server of its own with a roomy timeout: under ASan on a loaded
    # machine the 600 MB of copies alone took close to 3 s.
    serve_extra --sandbox-memory 16m --request-timeout 20
    local status
    status=$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 30 "http://127.0.0.1:$EXTRA_NGX/sb/churn.lua")
    [ "$status" = 200 ]
    [ "$(cat "$WORK/body")" = "1000000 100" ]
    stop_extra
}

@test "11: libraries, ngx and the string metatable cannot be changed for later requests" {
    http GET /sb/vandal.lua
    [ "$STATUS" = 200 ]
    echo "$BODY"
    [ "$BODY" = "all refused" ]
    http GET /sb/intact.lua
    [ "$BODY" = intact ]
    http GET /intact.lua
    [ "$BODY" = intact ]
    http GET /sb/global_get.lua
    [ "$BODY" = nil ]
}

@test "12: no finalizer of a sandboxed script ever runs" {
    mark_log
    http GET /sb/finalizer.lua
    [ "$BODY" = "no newproxy" ]
    http GET /collect.lua
    [ "$BODY" = collected ]
    ! log_since | grep -F GC-FINALIZER-RAN
}

@test "13: the host never runs a sandboxed metamethod outside the budget" {
    local how
    mark_log
    # An error object with a looping __tostring: logged by type, at once.
    http GET '/sb/host_tostring.lua?how=error'
    [ "$STATUS" = 500 ]
    log_since | grep -F "(error object is a table value)"
    # Handed to the API: ngx.log calls __tostring, as OpenResty's does,
    # inside the budget...
    over_budget '/sb/host_tostring.lua?how=log' instruction
    # ...ngx.say and ngx.header take a table as a list of strings and read
    # it raw: no __index runs.
    http GET "/sb/host_tostring.lua?how=header"
    [ "$STATUS" = 200 ]
    http GET "/sb/host_tostring.lua?how=say"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "$(printf '\nafter')" ]
}

rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# aborted_on PATH TEXT: 500, nothing after, and the log line with TEXT.
aborted_on() {
    mark_log
    http GET "$1"
    echo "status $STATUS"
    [ "$STATUS" = 500 ]
    [[ "$BODY" != *after* ]]
    log_since | grep -F "lua entry thread aborted: runtime error:" | grep -F "$2" ||
        { log_since; false; }
}

@test "16: host copies of response headers are bounded before they are made and count against the memory budget" {
    local pid before after
    # The header bombs of tests/23-headers.bats, sandboxed.
    cp "$TESTS_DIR/apps/headers/bomb.lua" "$WORK/root/sb/headers.lua"
    pid=$(worker)
    before=$(rss_kb "$pid")
    # 1000 references to one 1 MB string (1 MB of the budget, 1 GB copied).
    aborted_on '/sb/headers.lua?how=table' "headers.lua:10: response headers too large: X-A would take them past 65536 bytes"
    aborted_on '/sb/headers.lua?how=pcall' "response headers too large: X-A would take them past 65536 bytes"
    aborted_on '/sb/headers.lua?how=names' "headers.lua:16: too many response headers: X-H1001 would make more than 1000"
    aborted_on '/sb/headers.lua?how=coroutine' "too many response headers: X-H1001"
    # One header set 100000 times: one copy kept.
    http GET '/sb/headers.lua?how=same'
    [ "$STATUS" = 200 ]
    [ "$BODY" = "after: 1000" ]
    after=$(rss_kb "$pid")
    echo "# sandboxed header bombs: worker RSS before ${before} KiB, after ${after} KiB" >&3
    ldd "$LUAFPM_BIN" | grep -q libasan || [ "$after" -le $((before + 8192)) ]
    [ "$(worker)" = "$pid" ]
    http GET /sb/exit.lua?how=201
    [ "$STATUS" = 201 ]
    [ "$(header X-Sandboxed)" = yes ]

    # The copies count against the budget: 500 headers of 100 bytes take
    # 64 KiB of header buffer (and a 16 KiB vector) for a few KiB of Lua
    # heap; 30 of them fit (and fit into nginx's 4k buffer).
    serve_extra --sandbox-memory 40k
    mark_log
    [ "$(curl -sS "http://127.0.0.1:$EXTRA_NGX/sb/headers.lua?how=fill&n=30")" = "after: -" ]
    [ "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$EXTRA_NGX/sb/headers.lua?how=fill&n=500")" = 500 ]
    log_since | tr '\n' ' ' |
        grep -E "sandbox: the script ran out of its memory budget \(--sandbox-memory 40960 bytes\): a host copy \(response headers\) of [0-9]+ bytes was refused with [0-9]+ bytes in use \([0-9]+ of them host copies\).*script: $WORK/root/sb/headers.lua" ||
        { log_since; false; }
    [ "$(curl -sS "http://127.0.0.1:$EXTRA_NGX/sb/headers.lua?how=fill&n=30")" = "after: -" ]
    stop_extra
}

@test "ngx.say of a huge key, a DAG, a cycle or more than the memory budget left is an error at once" {
    local before how start
    before=$(worker)
    start=$(date +%s%N)
    http GET '/sb/say_tables.lua?how=big53&catch=1'
    [ "$BODY" = "false bad argument #2 to 'say' (non-array table found (more holes than elements))" ]
    http GET '/sb/say_tables.lua?how=big30&catch=1'
    [ "$BODY" = "false bad argument #2 to 'say' (non-array table found (more holes than elements))" ]
    http GET '/sb/say_tables.lua?how=dag&catch=1'
    [[ "$BODY" =~ ^"false bad argument #2 to 'say' (output too large (over the "[0-9]+" bytes left of the sandbox memory budget))"$ ]]
    http GET '/sb/say_tables.lua?how=dag_empty&catch=1'
    [ "$BODY" = "false bad argument #2 to 'say' (table too large (over 268435456 array slots to read in one call))" ]
    http GET '/sb/say_tables.lua?how=cycle&catch=1'
    [ "$BODY" = "false bad argument #2 to 'say' (cyclic table found)" ]
    http GET '/sb/say_tables.lua?how=cycle_deep&catch=1'
    [ "$BODY" = "false bad argument #2 to 'say' (cyclic table found)" ]
    # 20 MB written from a 1 MB string: more than the 16 MB budget.
    http GET '/sb/say_tables.lua?how=huge&catch=1'
    [[ "$BODY" =~ ^"false bad argument #2 to 'say' (output too large (over the "[0-9]+" bytes left of the sandbox memory budget))"$ ]]
    for how in big53 big30 dag dag_empty cycle huge; do
        http GET "/sb/say_tables.lua?how=$how" --max-time 5
        [ "$STATUS" = 500 ]
        [[ "$BODY" != *after* ]]
    done
    [ $((($(date +%s%N) - start) / 1000000)) -lt 3000 ]
    [ "$(worker)" = "$before" ]
    # Ordinary tables print as they do outside the sandbox.
    http GET '/sb/say_tables.lua?how=ok'
    [ "$STATUS" = 200 ]
    [ "$(echo "$BODY" | head -3)" = "anilb
123fourabnild
nilnil3xxx" ]
}

@test "ngx.var.pid, hostname and realpath_root are nil for a sandboxed script (no process details)" {
    http GET /sb/vars_hidden.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "nil nil nil string" ]
    http GET /vars_hidden.lua
    [[ "$BODY" =~ ^[0-9]+\ [^\ ]+\ /.+\ string$ ]]
}

@test "the slots ngx.say reads are charged to the instruction budget" {
    # 10^4 calls of a few instructions each, 10^7 slots of host work.
    over_budget '/sb/say_tables.lua?how=charge' instruction
}

@test "deep recursion is an ordinary error; the worker is unharmed" {
    local before
    before=$(worker)
    http GET /sb/recurse.lua
    [ "$STATUS" = 500 ]
    http GET '/sb/recurse.lua?catch=1'
    [ "$STATUS" = 200 ]
    [ "$BODY" = "caught: stack overflow" ]
    [ "$(worker)" = "$before" ]
}

@test "a symbolic link neither takes a script out of the sandbox nor brings one in" {
    ln -s ../whoami.lua "$WORK/root/sb/link.lua"
    ln -s sb/whoami.lua "$WORK/root/outlink.lua"
    http GET /whoami.lua
    [ "$BODY" = trusted ]
    # The same file, now by a name inside the sandbox root: sandboxed, and
    # not from the trusted compile in the chunk cache.
    http GET /sb/link.lua
    [ "$BODY" = sandboxed ]
    http GET /outlink.lua
    [ "$BODY" = sandboxed ]
    http GET /whoami.lua
    [ "$BODY" = trusted ]
}

@test "--preload, --revalidate and development mode compile sandboxed scripts by the sandbox's rules" {
    serve_extra --preload on --revalidate 0
    # Preloaded, the hot loop still meets the budget: its JIT is off.
    over_budget_at "$EXTRA_NGX" /sb/hotloop.lua
    # A changed script is recompiled by the same rules: bytecode refused
    # (the last good version goes on serving), source with the JIT off.
    printf 'ngx.say("v1")\n' >"$WORK/root/sb/rev.lua"
    [ "$(curl -sS "http://127.0.0.1:$EXTRA_NGX/sb/rev.lua")" = v1 ]
    cp "$WORK/root/bytecode.lua" "$WORK/root/sb/rev.lua"
    [ "$(curl -sS "http://127.0.0.1:$EXTRA_NGX/sb/rev.lua")" = v1 ]
    cp "$WORK/root/sb/hotloop.lua" "$WORK/root/sb/rev.lua"
    over_budget_at "$EXTRA_NGX" /sb/rev.lua
    stop_extra
    # Development mode: a fresh VM for every request, sandboxed the same.
    serve_extra --code-cache off
    over_budget_at "$EXTRA_NGX" /sb/hotloop.lua
    [ "$(curl -sS "http://127.0.0.1:$EXTRA_NGX/sb/absent.lua")" = "all absent" ]
    stop_extra
}

@test "the budgets, --request-timeout and --slowlog-timeout share the VM's hook" {
    # The slowlog's hook takes a traceback and hands the hook back: the
    # budget still ends the loop (500, not the timeout's 504).
    serve_extra --sandbox-instructions 400000000 --slowlog-timeout 0.1 --request-timeout 20
    over_budget_at "$EXTRA_NGX" /sb/whileloop.lua
    log_since | grep -F "slow request"
    stop_extra
    # No instruction budget: the request timeout's hook stops the loop.
    serve_extra --sandbox-instructions 0 --request-timeout 1
    mark_log
    [ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 20 "http://127.0.0.1:$EXTRA_NGX/sb/whileloop.lua")" = 504 ]
    log_since | grep -F "request timed out after 1 s"
    ! log_since | grep -F "lua entry thread killed"
    stop_extra
}

@test "--sandbox-root must be inside --root; a bad budget is a config error" {
    mkdir -p "$WORK/elsewhere"
    run "$LUAFPM_BIN" -t --root "$WORK/root" --sandbox-root "$WORK/elsewhere"
    [ "$status" -eq 1 ]
    [[ "$output" == *"--sandbox-root \"$WORK/elsewhere\" is not inside --root"* ]]
    run "$LUAFPM_BIN" -t --root "$WORK/root" --sandbox-root "$WORK/root/sb" --sandbox-memory lots
    [ "$status" -eq 1 ]
    [[ "$output" == *sandbox-memory* ]]
}

@test "8: a catastrophic ngx.re pattern ends at the sandbox's match limit with an error, fast; the worker goes on" {
    local before
    before=$(worker)
    http GET '/sb/regex.lua?what=catastrophic'
    echo "status $STATUS body: $BODY"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "nil pcre_exec() failed: -8 fast" ]
    # Under PCRE2's default limit for trusted code, over the sandbox's.
    http GET '/sb/regex.lua?what=medium'
    [ "$BODY" = "nil pcre_exec() failed: -8" ]
    http GET '/sb/regex.lua?what=use'
    [ "$BODY" = "key value a<1>b<22> 2 one,two 3 a[b]c" ]
    [ "$(worker)" = "$before" ]
}

@test "6, 8: matches that hit the limit spend the instruction budget; a budget spent in an ngx.re.gsub callback is not caught" {
    over_budget '/sb/regex.lua?what=loop' instruction
    over_budget '/sb/regex.lua?what=callback' instruction
}

@test "8: one long C call (a backtracking pattern) is ended by --request-timeout; a new worker serves" {
    local before
    before=$(worker)
    http GET /sb/pattern.lua
    echo "status $STATUS"
    [ "$STATUS" = 504 ]
    http GET /sb/app.lua
    [ "$STATUS" = 200 ]
    [ "$(worker)" != "$before" ]
}
