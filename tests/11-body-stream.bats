#!/usr/bin/env bats
# Request bodies (in memory, spooled to --tmp-dir, discarded, ignored),
# large uploads and responses with flat worker memory, ngx.flush streaming,
# HEAD, PATH_INFO, get_headers details and writable ngx.var.args, all
# through a real nginx with fastcgi_keep_conn on.

load lib/helpers

setup_file() {
    make_work
    install_app body
    mkdir -p "$WORK/spool"
    SPOOL=$WORK/spool
    export SPOOL
    start_luafpm --workers 1 --tmp-dir "$SPOOL" --lua-path "$WORK/root/lib/?.lua;;"
    start_nginx "$LF_ADDR" on
}

teardown_file() {
    teardown_common
}

teardown() {
    stop_extra
}

# The single worker of the luafpm started in setup_file.
the_worker() {
    local pid i
    for ((i = 0; i < 100; i++)); do
        pid=$(worker_pids "$LF_PID" | head -1)
        [ -n "$pid" ] && break
        sleep 0.05
    done
    echo "$pid"
}

rss_kb() {
    ps -o rss= -p "$1" | tr -d ' '
}

# Flat memory: RSS grew by at most 8 MiB.  Not checked in an ASan build,
# whose quarantine keeps freed memory (the Lua heap uses realloc) mapped.
rss_flat() {
    local before=$1 after=$2
    if ldd "$LUAFPM_BIN" 2>/dev/null | grep -q libasan; then
        echo "# RSS bound not checked: ASan build" >&3
        return 0
    fi
    [ "$after" -le $((before + 8192)) ]
}

spool_is_empty() {
    [ -z "$(ls -A "$SPOOL")" ]
}

# The second line of echo.lua's answer: file=PATH size=N md5=M
spooled_path() {
    sed -n 's/^file=\([^ ]*\) .*/\1/p' "$WORK/body"
}

@test "a small binary body with a NUL is read exactly into memory" {
    printf 'a\000b\377\376\r\n\200end' >"$WORK/small.bin"
    local sum
    sum=$(md5sum <"$WORK/small.bin" | cut -d' ' -f1)
    http POST /echo.lua --data-binary @"$WORK/small.bin" -H 'Content-Type: application/octet-stream'
    [ "$STATUS" = 200 ]
    [ "$BODY" = "data=11 md5=$sum
file=nil" ]
    spool_is_empty
}

@test "a body of exactly 16384 bytes stays in memory" {
    head -c 16384 /dev/urandom >"$WORK/16k.bin"
    local sum
    sum=$(md5sum <"$WORK/16k.bin" | cut -d' ' -f1)
    http POST /echo.lua --data-binary @"$WORK/16k.bin"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "data=16384 md5=$sum
file=nil" ]
}

@test "a body of 16385 bytes is spooled under --tmp-dir and removed after the request" {
    head -c 16385 /dev/urandom >"$WORK/16k1.bin"
    local sum path
    sum=$(md5sum <"$WORK/16k1.bin" | cut -d' ' -f1)
    http POST /echo.lua --data-binary @"$WORK/16k1.bin"
    [ "$STATUS" = 200 ]
    path=$(spooled_path)
    [[ "$path" == "$SPOOL/"* ]]
    [ "$BODY" = "data=nil md5=-
file=$path size=16385 md5=$sum" ]
    [ ! -e "$path" ]
    spool_is_empty
}

@test "a spooled body's file is removed when the handler fails" {
    head -c 20000 /dev/urandom >"$WORK/20k.bin"
    http POST /spool_error.lua --data-binary @"$WORK/20k.bin"
    [ "$STATUS" = 500 ]
    grep -q "spooled to $SPOOL/luafpm-body-" "$WORK/luafpm.log"
    spool_is_empty
}

@test "get_post_args: a form, a spooled body, no read_body" {
    http POST /postargs.lua -d 'a=1&b=x%20y&a=3'
    [ "$STATUS" = 200 ]
    [ "$BODY" = "a=1,3
b=x y" ]
    head -c 16385 /dev/zero | tr '\0' a >"$WORK/form.bin"
    http POST /postargs.lua --data-binary @"$WORK/form.bin"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "args=nil err=request body in temp file not supported" ]
    http POST '/postargs.lua?mode=unread' -d 'a=1'
    [ "$STATUS" = 200 ]
    [[ "$BODY" == "ok=false err="*"no request body found"* ]]
    spool_is_empty
}

@test "discard_body: then get_body_data and get_body_file are nil" {
    http POST /discard.lua -d 'a=1'
    [ "$STATUS" = 200 ]
    [ "$BODY" = "data=nil file=nil" ]
    head -c 100000 /dev/urandom >"$WORK/100k.bin"
    http POST /discard.lua --data-binary @"$WORK/100k.bin"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "data=nil file=nil" ]
    spool_is_empty
}

@test "a big body the handler never reads: the answer is fine and the kept-alive worker goes on" {
    head -c 1048576 /dev/urandom >"$WORK/1m.bin"
    http POST /ignore.lua --data-binary @"$WORK/1m.bin"
    [ "$STATUS" = 200 ]
    local first=${BODY##* }
    [ "$first" = "$(the_worker)" ]
    # The same worker answers next, with its FastCGI stream in step: a
    # body sent now is read whole.
    printf 'next body' >"$WORK/next.bin"
    http POST /echo.lua --data-binary @"$WORK/next.bin"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "data=9 md5=$(md5sum <"$WORK/next.bin" | cut -d' ' -f1)
file=nil" ]
    http GET /ignore.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "ignored $first" ]
    spool_is_empty
}

@test "an unwritable --tmp-dir gives a 500 and a log line naming the directory" {
    local missing=$WORK/no-such-dir
    start_luafpm --workers 1 --tmp-dir "$missing"
    echo "$LF_PID" >>"$WORK/extra.pids"
    start_nginx "$LF_ADDR" on
    echo "$NGX_PID" >>"$WORK/extra.pids"
    head -c 20000 /dev/urandom >"$WORK/20k.bin"
    http POST /echo.lua --data-binary @"$WORK/20k.bin"
    [ "$STATUS" = 500 ]
    grep -q "cannot create a temporary file in \"$missing\" for the request body" "$WORK/luafpm.log"
    # Small bodies do not need the directory.
    http POST /echo.lua -d 'a=1'
    [ "$STATUS" = 200 ]
    [ ! -e "$missing" ]
}

@test "--body-buffer-size raises the in-memory limit (nginx's client_body_buffer_size)" {
    start_luafpm --workers 1 --tmp-dir "$SPOOL" --body-buffer-size 64k --lua-path "$WORK/root/lib/?.lua;;"
    echo "$LF_PID" >>"$WORK/extra.pids"
    start_nginx "$LF_ADDR" on
    echo "$NGX_PID" >>"$WORK/extra.pids"
    head -c 65536 /dev/urandom >"$WORK/64k.bin"
    http POST /echo.lua --data-binary @"$WORK/64k.bin"
    [ "$STATUS" = 200 ]
    [ "$(head -1 "$WORK/body")" = "data=65536 md5=$(md5sum <"$WORK/64k.bin" | cut -d' ' -f1)" ]
    head -c 65537 /dev/urandom >"$WORK/64k1.bin"
    http POST /echo.lua --data-binary @"$WORK/64k1.bin"
    [ "$STATUS" = 200 ]
    [ "$(head -1 "$WORK/body")" = "data=nil md5=-" ]
}

@test "a 50 MB upload is spooled in chunks: right size and md5, flat worker memory" {
    head -c 52428800 /dev/urandom >"$WORK/50m.bin"
    local sum worker before after path
    sum=$(md5sum <"$WORK/50m.bin" | cut -d' ' -f1)
    worker=$(the_worker)
    # Warm up the same code path (spooling, md5stream compiled and JITted).
    head -c 100000 /dev/urandom >"$WORK/warm.bin"
    http POST /echo.lua --data-binary @"$WORK/warm.bin"
    [ "$STATUS" = 200 ]
    before=$(rss_kb "$worker")
    http POST /echo.lua --data-binary @"$WORK/50m.bin" --max-time 30
    [ "$STATUS" = 200 ]
    after=$(rss_kb "$worker")
    rm -f "$WORK/50m.bin"
    echo "# upload 50 MB: worker $worker RSS before ${before} KiB, after ${after} KiB" >&3
    path=$(spooled_path)
    [ "$BODY" = "data=nil md5=-
file=$path size=52428800 md5=$sum" ]
    [ "$(the_worker)" = "$worker" ]
    rss_flat "$before" "$after"
    spool_is_empty
}

@test "a 50 MB response printed in pieces arrives whole, with flat worker memory" {
    local worker before after expected
    worker=$(the_worker)
    http GET '/bigout.lua?count=2&size=1048576'
    [ "$STATUS" = 200 ]
    [ "$(stat -c %s "$WORK/body")" -eq $((2 * (9 + 1048576))) ]
    before=$(rss_kb "$worker")
    curl -sS --max-time 30 -o "$WORK/big.out" "http://127.0.0.1:$NGX_PORT/bigout.lua?count=50&size=1048576"
    after=$(rss_kb "$worker")
    echo "# response 50 MB (1 MiB pieces): worker $worker RSS before ${before} KiB, after ${after} KiB" >&3
    expected=$(python3 -c '
import hashlib
h = hashlib.md5()
block = bytes(range(256)) * 4096
for i in range(1, 51):
    h.update(b"%08d\n" % i)
    h.update(block)
print(h.hexdigest())')
    [ "$(stat -c %s "$WORK/big.out")" -eq $((50 * (9 + 1048576))) ]
    [ "$(md5sum <"$WORK/big.out" | cut -d' ' -f1)" = "$expected" ]
    [ "$(the_worker)" = "$worker" ]
    rss_flat "$before" "$after"

    # The same size in 64 KiB pieces, which go through the output buffer.
    curl -sS --max-time 30 -o "$WORK/big.out" "http://127.0.0.1:$NGX_PORT/bigout.lua?count=800&size=65536"
    after=$(rss_kb "$worker")
    echo "# response 50 MB (64 KiB pieces): worker $worker RSS after ${after} KiB" >&3
    expected=$(python3 -c '
import hashlib
h = hashlib.md5()
block = bytes(range(256)) * 256
for i in range(1, 801):
    h.update(b"%08d\n" % i)
    h.update(block)
print(h.hexdigest())')
    [ "$(stat -c %s "$WORK/big.out")" -eq $((800 * (9 + 65536))) ]
    [ "$(md5sum <"$WORK/big.out" | cut -d' ' -f1)" = "$expected" ]
    rss_flat "$before" "$after"
    rm -f "$WORK/big.out"
}

@test "ngx.flush(true) streams through nginx: the first line arrives long before the last" {
    cat >"$WORK/stamp.py" <<'EOF'
import subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(["curl", "-sSN", "--max-time", "10", sys.argv[1]], stdout=subprocess.PIPE)
for line in iter(p.stdout.readline, b""):
    print("%d %s" % ((time.monotonic() - t0) * 1000, line.decode().rstrip("\n")))
sys.exit(p.wait())
EOF
    run python3 "$WORK/stamp.py" "http://127.0.0.1:$NGX_PORT/stream.lua"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(cut -d' ' -f2- <<<"$output")" = "line 1
line 2
line 3
line 4
line 5" ]
    local first last
    first=$(sed -n 1p <<<"$output" | cut -d' ' -f1)
    last=$(sed -n 5p <<<"$output" | cut -d' ' -f1)
    # The handler sleeps 4 x 0.3 s between the first and last flush; a
    # buffered response would bring all lines together.
    [ $((last - first)) -ge 600 ]
}

# head_like_get PATH: HEAD has GET's status, Content-Type and X-Custom,
# and no body.
head_like_get() {
    local path=$1
    # status, ctype, custom, code, size: left set for the caller.
    http GET "$path"
    status=$STATUS
    ctype=$(header Content-Type)
    custom=$(header X-Custom)
    [ -n "$BODY" ]
    read -r code size < <(curl -sS --max-time 10 -I -o /dev/null -D "$WORK/headers" \
        -w '%{http_code} %{size_download}\n' "http://127.0.0.1:$NGX_PORT$path")
    echo "GET $status $ctype $custom / HEAD $code $(header Content-Type) $(header X-Custom) $size"
    [ "$code" = "$status" ]
    [ "$(header Content-Type)" = "$ctype" ]
    [ "$(header X-Custom)" = "$custom" ]
    [ "$size" = 0 ]
}

@test "HEAD: the same status and headers as GET, no body" {
    head_like_get /head.lua
    [ "$code" = 202 ]
    [ "$ctype" = application/json ]
    [ "$custom" = yes ]
    head_like_get '/head.lua?exit=404'
    [ "$code" = 404 ]
    [ "$ctype" = text/html ]
    [ "$custom" = exiting ]
    # luafpm itself sends no body for HEAD, not only nginx dropping it.
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param REQUEST_METHOD=HEAD \
        --param "SCRIPT_FILENAME=$WORK/root/head.lua"
    [ "$status" -eq 0 ]
    [[ "$output" == *"X-Custom: yes"* ]]
    [[ "$output" != *method* ]]
}

@test "PATH_INFO: path_info, the whole decoded uri, args" {
    http GET '/pathinfo.lua/extra/path?x=1'
    [ "$STATUS" = 200 ]
    [ "$BODY" = "path_info=/extra/path
uri=/pathinfo.lua/extra/path
args=x=1
script_name=/pathinfo.lua
arg_x=1" ]
    http GET '/pathinfo.lua/extra%20dir/p%41th?x=a%20b'
    [ "$STATUS" = 200 ]
    [ "$BODY" = "path_info=/extra dir/pAth
uri=/pathinfo.lua/extra dir/pAth
args=x=a%20b
script_name=/pathinfo.lua
arg_x=a%20b" ]
}

# nginx up to 1.22 passes each repeated request header as its own FastCGI
# param (luafpm makes a table of them, and $http_NAME is the first);
# 1.23 and later join them with ", " into one param.
nginx_joins_repeats() {
    local version
    version=$("$NGINX_BIN" -v 2>&1 | sed -n 's|.*nginx/\([0-9]*\.[0-9]*\).*|\1|p')
    [ "$(printf '%s\n1.23\n' "$version" | sort -V | head -1)" = 1.23 ]
}

@test "get_headers: repeated headers, lookups in any case and with '_'" {
    http GET /headers.lua -H 'X-Dup: a' -H 'X-Dup: b' -H 'X-One: 1' -H 'X-Two-Words: tw'
    [ "$STATUS" = 200 ]
    local dup='table:a|b' var=a
    nginx_joins_repeats && dup='a, b' var='a, b'
    [ "$BODY" = "x-dup=$dup
X-One=1 x_one=1 X_ONE=1 x-one=1
x-two-words=tw
missing=nil
var=$var" ]
}

@test "get_headers(0, true): Title-Case keys, exact lookups" {
    http POST '/headers.lua?mode=raw' -H 'X-Dup: a' -H 'X-Dup: b' -H 'x-one: 1' -H 'X-TWO-WORDS: tw' \
        -H 'User-Agent: ua' -d 'z=1'
    echo "$BODY"
    [ "$STATUS" = 200 ]
    local dup='table:a|b'
    nginx_joins_repeats && dup='a, b'
    # Content-Type and -Length come once, though nginx passes both
    # CONTENT_TYPE and HTTP_CONTENT_TYPE (and the same for the length).
    [ "$BODY" = "Content-Length=3
Content-Type=application/x-www-form-urlencoded
User-Agent=ua
X-Dup=$dup
X-One=1
X-Two-Words=tw
lower=nil" ]
}

@test "get_headers: more than 100 headers are truncated by default" {
    local args=() i
    for i in $(seq 1 105); do
        args+=(-H "X-H$i: v$i")
    done
    # 105 + Host, User-Agent, Accept
    http GET '/headers.lua?mode=count' "${args[@]}"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "default=100 err=truncated unlimited=108 err0=nil
max5=5 err5=truncated" ]
    http GET '/headers.lua?mode=count'
    [ "$BODY" = "default=3 err=nil unlimited=3 err0=nil
max5=3 err5=nil" ]
}

@test "ngx.var.args is writable; set_uri_args follows" {
    http GET '/args.lua?q=1'
    [ "$STATUS" = 200 ]
    [ "$BODY" = "before=q=1
args=a=5 get_uri_args.a=5 arg_a=5 is_args=?
args=b=2 get_uri_args.b=2 arg_b=2 arg_a=nil
args=c=x%20y&c=z c=x y,z" ]
}

# Last: it replaces the worker.
@test "a worker ended by SIGTERM while it holds a spooled body leaves no file behind" {
    local worker i
    worker=$(the_worker)
    head -c 100000 /dev/urandom >"$WORK/100k.bin"
    curl -sS --max-time 20 -o "$WORK/sleep.out" -w '%{http_code}' \
        --data-binary @"$WORK/100k.bin" "http://127.0.0.1:$NGX_PORT/spool_sleep.lua" >"$WORK/sleep.code" &
    local client=$!
    for ((i = 0; i < 100; i++)); do
        [ "$(grep -c "spool_sleep.lua:3: spooled to $SPOOL/luafpm-body-" "$WORK/luafpm.log")" -gt 0 ] && break
        sleep 0.05
    done
    ls "$SPOOL"
    [ -n "$(ls -A "$SPOOL")" ]
    kill -TERM "$worker"
    wait_gone "$worker" 5
    spool_is_empty
    wait "$client" || true
    [ "$(cat "$WORK/sleep.code")" = 502 ]
    # The master replaces the worker, which serves again.
    http GET /ignore.lua
    [ "$STATUS" = 200 ]
    [ "${BODY##* }" != "$worker" ]
}
