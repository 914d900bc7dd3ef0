#!/usr/bin/env bats
# Limits: --max-requests-jitter, --request-timeout (the soft deadline that
# stops Lua code, the hard one that replaces the worker), --max-body.
# Every test starts its own luafpm and nginx.

load lib/helpers

setup_file() {
    make_work
    install_app limits
    # Hard timeouts end a worker with code 3, which the master logs.
    export ALLOWED_LOG='exited with code 3'
    # A raw FastCGI POST: params without CONTENT_LENGTH (or with the one
    # given), then the body in records; prints the Status line (or 200)
    # and "end" when FCGI_END_REQUEST came.
    cat >"$WORK/post_raw.py" <<'EOF'
import socket, struct, sys
addr, script, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
cl = sys.argv[4] if len(sys.argv) > 4 else None
def rec(t, c):
    return struct.pack(">BBHHBB", 1, t, 1, len(c), 0, 0) + c
def pair(n, v):
    return bytes([len(n), len(v)]) + n + v
params = [(b"SCRIPT_FILENAME", script.encode()), (b"REQUEST_METHOD", b"POST"),
          (b"REQUEST_URI", b"/raw")]
if cl is not None:
    params.append((b"CONTENT_LENGTH", cl.encode()))
host, port = addr.rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=10)
msg = rec(1, struct.pack(">HB5x", 1, 0)) + rec(4, b"".join(pair(n, v) for n, v in params)) + rec(4, b"")
s.sendall(msg)
left = size
while left > 0:
    n = min(left, 32768)
    s.sendall(rec(5, b"x" * n))
    left -= n
s.sendall(rec(5, b""))
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
out, ended = b"", False
while len(data) >= 8:
    _, t, _, clen, plen, _ = struct.unpack(">BBHHBB", data[:8])
    if t == 6:
        out += data[8:8 + clen]
    elif t == 3:
        ended = True
    data = data[8 + clen + plen:]
head = out.split(b"\r\n\r\n", 1)[0].decode()
status = [l for l in head.split("\r\n") if l.startswith("Status:")]
print(status[0] if status else "Status: 200", "end" if ended else "no-end")
print(out.split(b"\r\n\r\n", 1)[-1].decode().strip())
EOF
    # A FastCGI client that sends one GET and never reads the answer (a
    # small receive buffer, the connection held for 30 s).
    cat >"$WORK/stalled.py" <<'EOF'
import socket, struct, sys, time
host, port = sys.argv[1].rsplit(":", 1)
def rec(t, c):
    return struct.pack(">BBHHBB", 1, t, 1, len(c), 0, 0) + c
def pair(n, v):
    return bytes([len(n), len(v)]) + n + v
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, int(port)))
params = pair(b"SCRIPT_FILENAME", sys.argv[2].encode()) + pair(b"REQUEST_METHOD", b"GET") + \
    pair(b"REQUEST_URI", b"/flood.lua")
s.sendall(rec(1, struct.pack(">HB5x", 1, 0)) + rec(4, params) + rec(4, b"") + rec(5, b""))
time.sleep(30)
EOF
}

teardown_file() {
    teardown_common
}

teardown() {
    stop_extra
}

# serve KEEPCONN LUAFPM-ARGS...: a luafpm and an nginx in front of it.
# luafpm does not get bats' fd 3, so that a process a handler leaves
# behind (os.execute) cannot hold up the test run.
serve() {
    local keepconn=$1
    shift
    # Only what this server logs is looked at.
    touch "$WORK/luafpm.log" "$WORK/nginx-error.log"
    LOG_FROM=$(($(wc -l <"$WORK/luafpm.log") + 1))
    NGX_LOG_FROM=$(($(wc -l <"$WORK/nginx-error.log") + 1))
    start_luafpm "$@" 3>&-
    echo "$LF_PID" >>"$WORK/extra.pids"
    start_nginx "$LF_ADDR" "$keepconn"
    echo "$NGX_PID" >>"$WORK/extra.pids"
}

new_log() {
    tail -n +"$LOG_FROM" "$WORK/luafpm.log"
}

new_nginx_log() {
    tail -n +"$NGX_LOG_FROM" "$WORK/nginx-error.log"
}

# get PATH [curl args]: STATUS, MS (total time), CURL_RC; the body in
# $WORK/body.
get() {
    local path=$1 out
    shift
    CURL_RC=0
    out=$(curl -sS --max-time 10 -o "$WORK/body" -w '%{http_code} %{time_total}' "$@" \
        "http://127.0.0.1:$NGX_PORT$path" 2>"$WORK/curl.err") || CURL_RC=$?
    STATUS=${out% *}
    MS=$(awk -v t="${out#* }" 'BEGIN { printf "%d", t * 1000 }')
    echo "# $path: status $STATUS in $MS ms, curl exit $CURL_RC" >&3
}

# The PID of the (single) worker answering now.
worker_pid() {
    get /pid.lua
    [ "$STATUS" = 200 ]
    cat "$WORK/body"
}

rss_kb() {
    ps -o rss= -p "$1" | tr -d ' '
}

is_asan() {
    ldd "$LUAFPM_BIN" 2>/dev/null | grep -q libasan
}

@test "--max-requests-jitter: each worker is replaced after max-requests + 0..jitter requests" {
    serve off --workers 4 --max-requests 5 --max-requests-jitter 5
    local i pid
    : >"$WORK/pids"
    for i in $(seq 1 80); do
        curl -sS --max-time 10 "http://127.0.0.1:$NGX_PORT/pid.lua" >>"$WORK/pids"
    done
    sleep 0.3 # the master logs the last exits
    [ "$(grep -c . "$WORK/pids")" -eq 80 ]
    # Each worker logged its own limit, within 5..10.
    new_log | sed -n 's/.*\[info\] \([0-9]*\)#0: worker [0-9]* will be replaced after \([0-9]*\) requests/\1 \2/p' \
        >"$WORK/limits"
    cat "$WORK/limits"
    [ "$(grep -c . "$WORK/limits")" -ge 8 ]
    while read -r pid limit; do
        [ "$limit" -ge 5 ] && [ "$limit" -le 10 ]
        # No worker served more than its limit...
        [ "$(grep -cx "$pid" "$WORK/pids")" -le "$limit" ]
    done <"$WORK/limits"
    # ...and each one that exited served exactly its limit.
    local exited=0
    for pid in $(new_log | sed -n 's/.*worker [0-9]* (pid \([0-9]*\)) exited with code 0.*/\1/p'); do
        limit=$(awk -v p="$pid" '$1 == p { print $2 }' "$WORK/limits")
        echo "worker $pid: limit $limit, served $(grep -cx "$pid" "$WORK/pids")"
        [ "$(grep -cx "$pid" "$WORK/pids")" -eq "$limit" ]
        exited=$((exited + 1))
    done
    [ "$exited" -ge 4 ]
    # The limits differ: with 8 or more workers drawing from 6 values,
    # all equal has a chance below 1 in 250000.
    [ "$(cut -d' ' -f2 "$WORK/limits" | sort -u | wc -l)" -ge 2 ]
}

@test "--request-timeout: an interpreted loop is stopped by the hook: 504, traceback, the worker goes on" {
    serve on --workers 1 --request-timeout 1
    local before
    before=$(worker_pid)
    get /busy_interp.lua
    [ "$STATUS" = 504 ]
    [ "$MS" -ge 950 ] && [ "$MS" -lt 1800 ]
    grep -q '504 Gateway Time-out' "$WORK/body"
    new_log | grep -q "lua entry thread aborted: request timed out after 1 s"
    # Where the loop was (which of its lines depends on the instruction).
    new_log | grep -qE "busy_interp.lua:[456]: in function"
    new_log | grep -q "script: $WORK/root/busy_interp.lua, request: \"GET /busy_interp.lua\""
    # The same worker serves the next request on the kept-alive connection.
    [ "$(worker_pid)" = "$before" ]
    ! new_log | grep -q 'exited with code'
}

@test "--request-timeout: pcall and user coroutines cannot catch the timeout" {
    serve on --workers 1 --request-timeout 1
    local before
    before=$(worker_pid)
    get /busy_pcall.lua
    [ "$STATUS" = 504 ]
    [ "$MS" -lt 1800 ]
    ! grep -q swallowed "$WORK/body"
    new_log | grep -q "in function 'pcall'"
    get /busy_coroutine.lua
    [ "$STATUS" = 504 ]
    [ "$MS" -lt 1800 ]
    ! grep -q resumed "$WORK/body"
    new_log | grep -q "in the request's coroutine:"
    [ "$(worker_pid)" = "$before" ]
}

@test "--request-timeout: ngx.sleep is cut short, and a request within the limit is untouched" {
    serve on --workers 1 --request-timeout 1
    local before
    before=$(worker_pid)
    get /sleep.lua
    [ "$STATUS" = 504 ]
    [ "$MS" -ge 950 ] && [ "$MS" -lt 1800 ]
    new_log | grep -q "in function 'sleep'"
    new_log | grep -q "sleep.lua:1: in function"
    # 0.7 s of a 1 s budget, then idle past the hard deadline: no timer
    # fires outside a request.
    get '/slow.lua?s=0.7'
    [ "$STATUS" = 200 ]
    [ "$(cat "$WORK/body")" = "slept 0.7" ]
    sleep 2.2
    [ "$(worker_pid)" = "$before" ]
    [ "$(new_log | grep -c 'timed out')" -eq 1 ]
}

@test "--request-timeout: a JIT-compiled loop meets the hard deadline: 504, the worker is replaced" {
    serve on --workers 1 --request-timeout 1
    local before after
    before=$(worker_pid)
    get /busy_jit.lua
    [ "$STATUS" = 504 ]
    # timeout + 1 s grace
    [ "$MS" -ge 1900 ] && [ "$MS" -lt 3500 ]
    grep -q '504 Gateway Time-out' "$WORK/body"
    new_log | grep -q "lua entry thread killed: request timed out after 1 s, still running 1 s later (a JIT-compiled loop or C code), script: $WORK/root/busy_jit.lua, request: \"GET /busy_jit.lua\"; the worker exits"
    # The log line carries the time and pid like any other.
    new_log | grep -qE "^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \[error\] $before#0: \*2 lua entry thread killed"
    after=$(worker_pid)
    [ "$after" != "$before" ]
    new_log | grep -q "worker 0 (pid $before) exited with code 3"
}

@test "--request-timeout: C code (os.execute) meets the hard deadline, with fastcgi_keep_conn off too" {
    serve off --workers 1 --request-timeout 1
    local before
    before=$(worker_pid)
    # The shell and its sleep outlive the worker (1 s more); the client
    # does not wait for them.
    get '/exec.lua?s=3'
    [ "$STATUS" = 504 ]
    [ "$MS" -ge 1900 ] && [ "$MS" -lt 2900 ]
    new_log | grep -q "script: $WORK/root/exec.lua"
    [ "$(worker_pid)" != "$before" ]
}

@test "--request-timeout: a POST whose body the handler never read still gets its 504" {
    serve on --workers 1 --request-timeout 1
    head -c 500000 /dev/urandom >"$WORK/500k.bin"
    get /busy_interp.lua --data-binary @"$WORK/500k.bin"
    [ "$STATUS" = 504 ]
    get /busy_jit.lua --data-binary @"$WORK/500k.bin"
    [ "$STATUS" = 504 ]
    get /body.lua --data-binary @"$WORK/500k.bin"
    [ "$STATUS" = 200 ]
    [[ "$(cat "$WORK/body")" == "read 0 file=true "* ]]
}

@test "--request-timeout after flushed output: the response is cut (soft and hard)" {
    serve on --workers 1 --request-timeout 1
    get /flushed.lua
    [ "$CURL_RC" = 18 ] # transfer closed with outstanding read data remaining
    [ "$STATUS" = 200 ]
    [ "$(cat "$WORK/body")" = "first line" ]
    [ "$MS" -lt 1800 ]
    new_log | grep -qE "flushed.lua:[678]: in function"
    get /flushed_jit.lua
    [ "$CURL_RC" = 18 ]
    [ "$(cat "$WORK/body")" = "first line" ]
    [ "$MS" -ge 1900 ]
    [ "$(new_nginx_log | grep -c 'upstream sent unsupported FastCGI protocol version')" -eq 2 ]
    get /pid.lua
    [ "$STATUS" = 200 ]
}

@test "--request-timeout after ngx.eof: the client has its answer, the worker is replaced" {
    serve on --workers 1 --request-timeout 1
    get /eof_then_loop.lua
    [ "$STATUS" = 200 ]
    [ "$CURL_RC" = 0 ]
    [ "$(cat "$WORK/body")" = "done" ]
    [ "$MS" -lt 500 ]
    for _ in $(seq 1 60); do new_log | grep -q 'exited with code 3' && break; sleep 0.05; done
    new_log | grep -q "script: $WORK/root/eof_then_loop.lua"
    get /pid.lua
    [ "$STATUS" = 200 ]
}

@test "--request-timeout: a request parked on a web server that stopped reading ends at its deadline, the worker serves on" {
    serve on --workers 1 --request-timeout 1
    local before i
    before=$(worker_pid)
    # The handler's output fills the socket buffers and the output queue:
    # ngx.print parks the request, the worker serves others meanwhile.
    python3 "$WORK/stalled.py" "$LF_ADDR" "$WORK/root/flood.lua" 3>&- &
    echo $! >>"$WORK/extra.pids"
    sleep 0.3
    get /pid.lua
    [ "$STATUS" = 200 ]
    [ "$MS" -lt 500 ]
    for ((i = 0; i < 60; i++)); do
        new_log | grep -q "flood.lua:6: in function.*script: $WORK/root/flood.lua" && break
        sleep 0.05
    done
    # Where it waited, as OpenResty's traceback shows it.
    new_log | grep -q "lua entry thread aborted: request timed out after 1 s"
    new_log | grep -q "in function 'print'"
    new_log | grep -q "flood.lua:6: in function.*script: $WORK/root/flood.lua"
    # Its memory is bounded: the queue holds 512 KiB, not 256 MB.
    local rss
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$before/status")
    echo "worker RSS $rss KiB"
    [ "$rss" -lt 65536 ]
    [ "$(worker_pid)" = "$before" ]
}

@test "--request-timeout: the hard deadline does not wait for a web server that stopped reading" {
    serve on --workers 1 --request-timeout 1
    local before i
    before=$(worker_pid)
    # The handler's output fills the socket buffers, then it loops where
    # no hook runs: the hard deadline comes with output queued.
    python3 "$WORK/stalled.py" "$LF_ADDR" "$WORK/root/flood_jit.lua" 3>&- &
    echo $! >>"$WORK/extra.pids"
    # timeout 1 s + grace 1 s + at most 1 s reading what the client sends.
    for ((i = 0; i < 100; i++)); do
        new_log | grep -q "worker 0 (pid $before) exited with code 3" && break
        sleep 0.05
    done
    new_log | grep -q "lua entry thread killed: request timed out after 1 s.*script: $WORK/root/flood_jit.lua"
    new_log | grep -q "worker 0 (pid $before) exited with code 3"
    [ "$(worker_pid)" != "$before" ]
}

@test "--max-body: a larger CONTENT_LENGTH gets 413 before the handler, without the body in memory" {
    serve on --workers 1 --max-body 1m
    local worker before after
    head -c 2097152 /dev/urandom >"$WORK/2m.bin"
    head -c 1000 /dev/urandom >"$WORK/1k.bin"
    worker=$(worker_pid)
    before=$(rss_kb "$worker")
    get /body.lua --data-binary @"$WORK/2m.bin"
    [ "$STATUS" = 413 ]
    grep -q '413 Request Entity Too Large' "$WORK/body"
    after=$(rss_kb "$worker")
    echo "# 2 MB refused: worker RSS before ${before} KiB, after ${after} KiB" >&3
    is_asan || [ "$after" -le $((before + 1024)) ]
    new_log | grep -q 'client intended to send too large body: 2097152 bytes, --max-body is 1048576, request: "POST /body.lua"'
    # The handler never ran.
    ! new_log | grep -q 'body.lua:'
    get /body.lua --data-binary @"$WORK/1k.bin"
    [ "$STATUS" = 200 ]
    [ "$(cat "$WORK/body")" = "read 1000 file=false pid=$worker" ]
    # The kept-alive connection stays in step, refusal after refusal.
    for _ in 1 2 3; do
        get /body.lua --data-binary @"$WORK/2m.bin"
        [ "$STATUS" = 413 ]
        get /body.lua --data-binary @"$WORK/1k.bin"
        [ "$STATUS" = 200 ]
    done
    [ "$(worker_pid)" = "$worker" ]
}

@test "--max-body with fastcgi_keep_conn off; no limit by default" {
    serve off --workers 1 --max-body 1m
    head -c 2097152 /dev/urandom >"$WORK/2m.bin"
    get /body.lua --data-binary @"$WORK/2m.bin"
    [ "$STATUS" = 413 ]
    serve off --workers 1
    get /body.lua --data-binary @"$WORK/2m.bin"
    [ "$STATUS" = 200 ]
    [[ "$(cat "$WORK/body")" == "read 0 file=true "* ]]
}

@test "--max-body: a body without (or lying about) CONTENT_LENGTH fails read_body with 413" {
    serve on --workers 1 --max-body 1m
    run python3 "$WORK/post_raw.py" "$LF_ADDR" "$WORK/root/body.lua" 2097152
    echo "$output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "Status: 413 Request Entity Too Large end" ]
    new_log | grep -q 'client sent too large body: more than --max-body 1048576 bytes (no CONTENT_LENGTH), script: [^,]*body.lua, request: "POST /raw"'
    run python3 "$WORK/post_raw.py" "$LF_ADDR" "$WORK/root/body.lua" 2097152 10
    [ "${lines[0]}" = "Status: 413 Request Entity Too Large end" ]
    new_log | grep -q 'more than --max-body 1048576 bytes (CONTENT_LENGTH 10)'
    # pcall does not stop it: the request ends with the 413.
    run python3 "$WORK/post_raw.py" "$LF_ADDR" "$WORK/root/body_pcall.lua" 2097152
    [ "${lines[0]}" = "Status: 413 Request Entity Too Large end" ]
    # Within the limit.
    run python3 "$WORK/post_raw.py" "$LF_ADDR" "$WORK/root/body.lua" 5000
    [ "${lines[0]}" = "Status: 200 end" ]
    [[ "${lines[1]}" == "read 5000 file=false "* ]]
    ! new_log | grep -q '\[error\]'
}
