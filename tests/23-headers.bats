#!/usr/bin/env bats
# Response headers (ngx.header): the host's copies are bounded before they
# are made, and what a large response grew is given back.  One worker, so
# that every request meets the same process and its RSS can be followed.
# (The same bombs from a sandboxed script: tests/20-sandbox.bats, item 16.)

load lib/helpers

setup_file() {
    make_work
    install_app headers
    start_luafpm --workers 1
    start_nginx
}

teardown_file() {
    teardown_common
}

rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# The request failed on the bound: 500 (nginx's error page, not a 502
# from headers too big for it), nothing the script did after, one log line.
refused() {
    local path=$1 what=$2
    mark_log
    http GET "$path"
    echo "status $STATUS body: ${BODY:0:300}"
    [ "$STATUS" = 500 ]
    [[ "$BODY" != *after* && "$BODY" != *caught* ]]
    log_since | grep -F "lua entry thread aborted: runtime error:" | grep -F "$what" ||
        { log_since; false; }
}

# Ordinary responses still work on the same worker.
still_serves() {
    [ "$(worker)" = "$1" ]
    http GET /ok.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "ok 1 a=1,b=2" ]
    [ "$(header X-One)" = 1 ]
    [ "$(grep -ci '^set-cookie:' "$WORK/headers")" = 2 ]
}

# RSS back near where it was: at most 8 MiB more.  Not checked in an ASan
# build, whose quarantine keeps freed memory mapped.
rss_near() {
    local pid=$1 before=$2 label=$3 after
    after=$(rss_kb "$pid")
    echo "# $label: worker RSS before ${before} KiB, after ${after} KiB" >&3
    if ldd "$LUAFPM_BIN" 2>/dev/null | grep -q libasan; then
        echo "# RSS bound not checked: ASan build" >&3
        return 0
    fi
    [ "$after" -le $((before + 8192)) ]
}

@test "a table of 1000 references to one 1 MB string: 500 before a byte is copied, RSS flat" {
    local pid before
    pid=$(worker)
    still_serves "$pid"
    before=$(rss_kb "$pid")
    refused '/bomb.lua?how=table' 'bomb.lua:10: response headers too large: X-A would take them past 65536 bytes'
    rss_near "$pid" "$before" "1000 x 1 MB header list"
    still_serves "$pid"
}

@test "one header set 100000 times keeps one copy: 200, RSS flat" {
    local pid before
    pid=$(worker)
    before=$(rss_kb "$pid")
    http GET '/bomb.lua?how=same'
    [ "$STATUS" = 200 ]
    [ "$BODY" = "after: 1000" ]
    [ "$(header X-Same)" = "$(printf 'y%.0s' {1..1000})" ]
    rss_near "$pid" "$before" "one header set 100000 times"
    still_serves "$pid"
}

@test "many distinct names: the 1001st header fails the request; RSS flat" {
    local pid before
    pid=$(worker)
    before=$(rss_kb "$pid")
    refused '/bomb.lua?how=names' 'bomb.lua:16: too many response headers: X-H1001 would make more than 1000'
    rss_near "$pid" "$before" "100000 distinct header names"
    still_serves "$pid"
}

@test "the failure goes through pcall and coroutines, and is an ordinary error where no yield is possible" {
    local pid
    pid=$(worker)
    refused '/bomb.lua?how=pcall' 'response headers too large: X-A would take them past 65536 bytes'
    refused '/bomb.lua?how=coroutine' 'too many response headers: X-H1001 would make more than 1000'
    refused '/bomb.lua?how=redirect' 'response headers too large: Location would take them past 65536 bytes'
    # Inside a table.sort comparator: caught, and the headers set before are dropped.
    http GET '/bomb.lua?how=sort'
    echo "sort: $BODY"
    [ "$STATUS" = 200 ]
    [[ "$BODY" == "false "*"bomb.lua:30: response headers too large: X-A would take them past 65536 bytes nil"* ]]
    [ -z "$(header X-Before)" ]
    still_serves "$pid"
}

# Straight to luafpm (raw FastCGI): nginx would refuse anything over its
# fastcgi_buffer_size (4k or 8k) itself, with a 502.
fcgi_get() {
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" \
        --param "SCRIPT_FILENAME=$WORK/root/bomb.lua" --param REQUEST_METHOD=GET \
        --param "QUERY_STRING=$1" --param "REQUEST_URI=/bomb.lua?$1" >"$WORK/fcgi.out"
}

@test "the bounds are exact: 65536 bytes of headers as sent, 1000 headers" {
    local how ok over
    # how, the largest n allowed, the smallest refused (see bomb.lua).
    while read -r how ok over; do
        echo "# $how: $ok allowed, $over refused"
        fcgi_get "how=$how&n=$ok"
        grep -q '^after: -' "$WORK/fcgi.out"
        # The header lines as sent, CRLF included: the whole bound.
        [ "$(grep -a '^X-Big: ' "$WORK/fcgi.out" | wc -c)" -eq "$ok" ]
        fcgi_get "how=$how&n=$over"
        grep -q '^Status: 500' "$WORK/fcgi.out"
        ! grep -q 'after' "$WORK/fcgi.out"
        ! grep -q '^X-Big' "$WORK/fcgi.out"
    done <<'CASES'
bytes 65536 65537
list 65536 65538
escaped 65535 65538
CASES
    fcgi_get "how=count&n=1000"
    grep -q '^after: -' "$WORK/fcgi.out"
    grep -q '^X-1000: v' "$WORK/fcgi.out"
    fcgi_get "how=count&n=1001"
    grep -q '^Status: 500' "$WORK/fcgi.out"
    ! grep -q '^X-1:' "$WORK/fcgi.out"
}

@test "headers replaced again and again keep their values and order (the buffer is reused)" {
    # 500 headers of 100 bytes set three times: 54 KiB kept, 160 KiB set.
    fcgi_get "how=fill&n=500"
    grep -q '^after: -' "$WORK/fcgi.out"
    diff -u <(for i in $(seq 500); do printf 'X-%d: %s\r\n' "$i" "$(printf 'f%.0s' {1..100})"; done) \
        <(grep -a '^X-' "$WORK/fcgi.out")
}

@test "ngx.redirect refuses control bytes in the URI (they would start a header of their own)" {
    local to
    for to in '/x%0D%0ASet-Cookie:%20evil=1' '/x%0ASet-Cookie:%20evil=1' '/x%00' '/x%1F' '/x%7F'; do
        echo "# $to"
        http GET "/redirect.lua?to=$to"
        [ "$STATUS" = 200 ]
        [[ "$BODY" == "false: "*"unsafe byte \"0x"*"\" in redirect uri"* ]]
        ! grep -qi '^set-cookie' "$WORK/headers"
        [ -z "$(header Location)" ]
    done
    # A tab is allowed, as in OpenResty.
    http GET '/redirect.lua?to=/a%09b'
    [ "$STATUS" = 302 ]
    [ "$(header Location)" = "$(printf '/a\tb')" ]
    http GET '/redirect.lua?to=/elsewhere%3Fa=1'
    [ "$STATUS" = 302 ]
    [ "$(header Location)" = "/elsewhere?a=1" ]
}
