#!/usr/bin/env bats
# Parts of the ngx API the compatibility cases do not pin down: ngx.eof
# ending the response early, ngx.sleep, coroutines around API calls,
# ngx.get_phase / ngx.config, and the FastCGI-impossible functions.

load lib/helpers

setup_file() {
    make_work
    install_app api
    start_luafpm --workers 1
    # A second nginx keeps its FastCGI connections alive.
    start_nginx "$LF_ADDR" on
    echo "$NGX_PID $NGX_PORT" >"$WORK/keepalive-nginx"
    start_nginx
}

teardown_file() {
    stop_pid "$(cut -d' ' -f1 "$WORK/keepalive-nginx")"
    teardown_common
}

@test "ngx.eof completes the response while the handler goes on" {
    local mark=$WORK/eof-mark start end
    rm -f "$mark"
    start=$(date +%s%N)
    http GET "/eof.lua?sleep=1.5&mark=$mark"
    end=$(date +%s%N)
    [ "$STATUS" = 200 ]
    [ "$BODY" = answered ]
    # The client had its answer before the handler's 1.5 s sleep ended...
    [ $(((end - start) / 1000000)) -lt 1200 ]
    [ ! -e "$mark" ]
    # ...and the handler still ran to its end afterwards.
    for _ in $(seq 1 100); do [ -e "$mark" ] && break; sleep 0.05; done
    [ "$(cat "$mark")" = "ran after eof" ]
    # The worker serves the next request normally.
    http GET /phase.lua
    [ "$STATUS" = 200 ]
}

@test "ngx.eof also ends the response early on a kept-alive FastCGI connection" {
    local mark=$WORK/eof-mark-keep start end keep_port
    keep_port=$(cut -d' ' -f2 "$WORK/keepalive-nginx")
    start=$(date +%s%N)
    PORT_OVERRIDE=$keep_port http GET "/eof.lua?sleep=1.5&mark=$mark"
    end=$(date +%s%N)
    [ "$STATUS" = 200 ]
    [ "$BODY" = answered ]
    [ $(((end - start) / 1000000)) -lt 1200 ]
    # The next request on that connection waits for the handler, then works.
    PORT_OVERRIDE=$keep_port http GET /phase.lua
    [ "$STATUS" = 200 ]
    [ "$(cat "$mark")" = "ran after eof" ]
}

@test "ngx.get_phase and ngx.config satisfy libraries' checks" {
    http GET /phase.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "phase=content
subsystem=http
lua_version_ok=true
nginx_version=number
debug=false
prefix_slash=true
is_subrequest=false
internal=false
resp: a,b u" ]
}

@test "what FastCGI cannot do fails with a message naming the limitation" {
    http GET /unsupported.lua
    [ "$STATUS" = 200 ]
    [ "$(grep -c ' false .* is not supported by luafpm: ' "$WORK/body")" -eq 7 ]
    grep -q '^ngx.req.socket false ngx.req.socket is not supported by luafpm: FastCGI gives the worker no access to the client connection$' "$WORK/body"
    grep -q '^ngx.location.capture false .*subrequests' "$WORK/body"
}

@test "ngx.sleep waits and refuses a negative duration" {
    http GET /sleep.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = 'slept_enough=true not_too_long=true
negative false invalid sleep duration "-1000"' ]
}

@test "API calls yield through user coroutines; ngx.exit in a nested one ends the request" {
    http GET /coroutines.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "true2
true10
dead
123
inner exits" ]
}

@test "an error inside coroutine.wrap aborts the request even under pcall" {
    http GET /wrap_error.lua
    [ "$STATUS" = 500 ]
    [ "$(header X-Before)" = set ]
    grep -q 'lua entry thread aborted: runtime error: .*wrap_error.lua:3: boom in wrap' "$WORK/luafpm.log"
}

# say_tables HOW [catch]: GET /say_tables.lua?how=HOW, bounded to 5 s.
say_tables() {
    local q="how=$1"
    [ -n "${2:-}" ] && q="$q&catch=1"
    http GET "/say_tables.lua?$q" --max-time 5
}

@test "ngx.say of a huge key, a DAG or a cycle is an error at once; the worker goes on" {
    local before how start
    say_tables pid
    before=$BODY
    start=$(date +%s%N)
    say_tables big53 catch
    [ "$BODY" = "false bad argument #2 to 'say' (non-array table found (more holes than elements))" ]
    say_tables big30 catch
    [ "$BODY" = "false bad argument #2 to 'say' (non-array table found (more holes than elements))" ]
    say_tables dag catch
    [[ "$BODY" =~ ^"false bad argument #2 to 'say' ("(output|table)" too large (over 268435456 ".*")"$ ]]
    say_tables dag_empty catch
    [ "$BODY" = "false bad argument #2 to 'say' (table too large (over 268435456 array slots to read in one call))" ]
    say_tables cycle catch
    [ "$BODY" = "false bad argument #2 to 'say' (cyclic table found)" ]
    say_tables cycle_deep catch
    [ "$BODY" = "false bad argument #2 to 'say' (cyclic table found)" ]
    say_tables bad_nested catch
    [ "$BODY" = "false bad argument #2 to 'say' (bad data type function found)" ]
    # Uncaught: a 500 before anything was written.
    for how in big53 big30 dag dag_empty cycle; do
        say_tables $how
        [ "$STATUS" = 500 ]
        [[ "$BODY" != *after* ]]
    done
    # All of it in well under the time one of them used to take.
    [ $((($(date +%s%N) - start) / 1000000)) -lt 3000 ]
    say_tables pid
    [ "$BODY" = "$before" ]
}

@test "ngx.say prints arrays, holes, shared and nested tables as OpenResty does" {
    local ab nils
    say_tables ok
    [ "$STATUS" = 200 ]
    ab=$(printf 'ab%.0s' $(seq 1024))
    nils=$(printf 'nil%.0s' $(seq 499))
    diff -u - <(echo "$BODY") <<EXPECTED
anilb
123fourabnild
nilnil3xxx
$ab
$(printf '%s' $(seq 1 1000 | sed 's/.*\(.\)$/\1/'))${nils}end
EXPECTED
    # Large for one call is still fine for a trusted script (20 MB).
    say_tables huge
    [ "$STATUS" = 200 ]
    [ "${#BODY}" = $((1 + 20000000 + 1 + 5)) ]
}

@test "ngx.log and print write numbers as ngx.say does" {
    http GET /log_numbers.lua
    [ "$STATUS" = 200 ]
    grep -F '[lua] log_numbers.lua:2: NUMS 0 1.2345678901234e+14 -nan 2147483648 1.5 1e+15' "$WORK/luafpm.log"
    grep -F '[lua] log_numbers.lua:3: PRINTNUMS 0 9.007199254741e+15' "$WORK/luafpm.log"
}

@test "ngx.var.limit_rate is applied by nginx (X-Accel-Limit-Rate), which does not pass the header on" {
    local start ms
    start=$(date +%s%N)
    http GET /limit_rate.lua
    ms=$((($(date +%s%N) - start) / 1000000))
    [ "$STATUS" = 200 ]
    [ "${#BODY}" = 30000 ]
    [ "$(header X-Limit-Rate)" = 0 ]
    [ "$ms" -lt 1000 ]
    # 10 KiB/s: nginx sends the first second's share at once, the rest
    # takes two more seconds.
    start=$(date +%s%N)
    http GET '/limit_rate.lua?rate=10k'
    ms=$((($(date +%s%N) - start) / 1000000))
    [ "${#BODY}" = 30000 ]
    [ "$(header X-Limit-Rate)" = 10240 ]
    [ -z "$(header X-Accel-Limit-Rate)" ]
    echo "took $ms ms"
    [ "$ms" -ge 1500 ]
    # Not a size: logged as nginx does, nothing changes.
    http GET '/limit_rate.lua?rate=fast'
    [ "$(header X-Limit-Rate)" = 0 ]
    grep -F 'invalid $limit_rate "fast"' "$WORK/luafpm.log"
}
