#!/usr/bin/env bats
# ngx.shared.DICT through nginx: zones made by the master and shared by
# every worker; exact counts under concurrency; workers SIGKILLed in the
# middle of writes leave the zone working and consistent; a HUP keeps the
# contents; a full zone evicts; churn of mixed sizes; the status page.

load lib/helpers

setup_file() {
    make_work
    install_app shdict
    cat >"$WORK/luafpm.conf" <<CONF
shared-dict = counters:1m
shared-dict = store:4m
shared-dict = small:16k
shared-dict = churn:256k
CONF
    start_luafpm --workers 4 --conf "$WORK/luafpm.conf" --status-path /status
    start_nginx
}

teardown_file() {
    # The workers this file kills on purpose.
    ALLOWED_LOG='killed by signal 9' teardown_common
}

teardown() {
    stop_extra
}

# The value of the text status page's line for zone $1.
zone_line() {
    http GET /status
    sed -n "s/^shared dict: *$1 //p" "$WORK/body"
}

@test "incr from 4 workers under 16-way concurrency counts exactly" {
    ab -q -n 4000 -c 16 "http://127.0.0.1:$NGX_PORT/incr.lua" >"$WORK/ab.out" 2>&1
    grep -q '^Failed requests: *0' "$WORK/ab.out"
    grep -q '^Complete requests: *4000' "$WORK/ab.out"
    http GET '/get.lua?k=hits'
    [ "$BODY" = 4000 ]
    # More than one worker counted (the zone is shared, not per worker).
    http GET '/get.lua?keys=pid:'
    [ "$BODY" -ge 2 ]
}

@test "workers SIGKILLed in the middle of writes leave the zone working and consistent" {
    local round prev="" pid i recovered=0
    for round in 1 2 3 4 5 6; do
        curl -sS -o /dev/null --max-time 20 "http://127.0.0.1:$NGX_PORT/writer.lua" &
        echo $! >>"$WORK/extra.pids"
        # The writer says who it is; another worker answers meanwhile.
        for ((i = 0; i < 100; i++)); do
            http GET '/get.lua?dict=store&k=writer'
            [ "$BODY" != nil ] && [ "$BODY" != "$prev" ] && break
            sleep 0.05
        done
        pid=$BODY
        [ "$pid" != nil ] && [ "$pid" != "$prev" ]
        sleep 0.3
        kill -KILL "$pid"
        wait_gone "$pid" 5
        prev=$pid
        # The zone answers at once and is sound after every kill.
        STATUS=$(curl -sS --max-time 3 -o "$WORK/body" -w '%{http_code}' \
            "http://127.0.0.1:$NGX_PORT/status?check")
        [ "$STATUS" = 200 ]
        grep -q '^shared dict check: *store ok$' "$WORK/body"
        http GET /verify.lua
        [ "$STATUS" = 200 ]
        [[ "$BODY" == *" bad 0 "* ]]
    done
    # Some kills landed inside an update, which was undone.
    recovered=$(grep -c 'shared dict "store": a process died holding its lock' "$WORK/luafpm.log" || true)
    echo "recovered: $recovered"
    [ "$recovered" -ge 1 ]
    http GET '/get.lua?dict=store&k=count'
    [ "$BODY" -gt 0 ]
    # get_keys sees as many keys as the zone counts.
    local items
    items=$(zone_line store | sed -n 's/.* items \([0-9]*\) .*/\1/p')
    http GET '/get.lua?dict=store&keys='
    [ "$BODY" = "$items" ]
}

@test "a full zone evicts the least recently used on set; safe_set and safe_add say no memory" {
    http GET /full.lua
    [ "$STATUS" = 200 ]
    echo "$BODY"
    [ "$BODY" = "safe_set: false no memory false
stored: true
safe_add: no memory
set: true nil true
k0 kept: true, k1 evicted: true
add: true true
too big: no memory" ]
}

@test "mixed-size churn keeps working and gives all its space back" {
    http GET /churn.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "set errors: 0 (nil), bad values: 0, space back: true" ]
    http GET '/status?check'
    grep -q '^shared dict check: *churn ok$' "$WORK/body"
}

@test "the status page shows each zone's capacity, free space and items (text, JSON, OpenMetrics)" {
    http GET '/set.lua?dict=small&k=a&v=1'
    local line
    line=$(zone_line small)
    [[ "$line" =~ ^capacity\ 16384\ free\ space\ [0-9]+\ items\ [0-9]+\ recovered\ 0$ ]]
    http GET '/status?json&full'
    python3 -c '
import json, sys
d = {z["name"]: z for z in json.load(open(sys.argv[1]))["shared dicts"]}
assert d["counters"]["capacity"] == 1048576, d
assert d["small"]["items"] >= 1 and d["small"]["free space"] % 4096 == 0, d
assert set(d) == {"counters", "store", "small", "churn"}, d
' "$WORK/body"
    http GET '/status?openmetrics'
    grep -q '^luafpm_shared_dict_capacity_bytes{dict="store"} 4194304$' "$WORK/body"
}

@test "a method called without self raises bad \"zone\" argument; an unknown dict is nil" {
    http GET /nozone.lua
    [ "$BODY" = "false true
false true
nil" ]
}

@test "a HUP reload keeps a zone whose name and size are unchanged, contents and all" {
    http GET '/set.lua?k=kept&v=before-hup'
    http GET '/set.lua?dict=small&k=gone&v=x'
    # small changes size: a new, empty zone; counters stays.
    sed -i 's/^shared-dict = small:16k$/shared-dict = small:32k/' "$WORK/luafpm.conf"
    local before
    before=$(grep -c 'reload done' "$WORK/luafpm.log" || true)
    kill -HUP "$LF_PID"
    local i
    for ((i = 0; i < 200; i++)); do
        [ "$(grep -c 'reload done' "$WORK/luafpm.log")" -gt "$before" ] && break
        sleep 0.05
    done
    [ "$(grep -c 'reload done' "$WORK/luafpm.log")" -gt "$before" ]
    http GET '/get.lua?k=kept'
    [ "$BODY" = before-hup ]
    http GET '/get.lua?k=hits'
    [ "$BODY" = 4000 ]
    http GET '/get.lua?dict=small&k=gone'
    [ "$BODY" = nil ]
    [[ "$(zone_line small)" == "capacity 32768 "* ]]
}

@test "development mode (--code-cache off): the zone outlives each request's VM" {
    start_luafpm --workers 1 --code-cache off --shared-dict counters:64k
    echo "$LF_PID" >>"$WORK/extra.pids"
    local i out
    for i in 1 2 3; do
        out=$(python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_FILENAME="$WORK/root/incr.lua")
        [[ "$out" == *ok* ]]
    done
    out=$(python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_FILENAME="$WORK/root/get.lua" \
        --param QUERY_STRING='k=hits')
    [[ "$out" == *$'\n'3* ]] || [[ "$out" == *$'\r\n\r\n'3* ]]
}

@test "sandboxed scripts do not see ngx.shared" {
    mkdir -p "$WORK/root/untrusted"
    cp "$WORK/root/sandboxed.lua" "$WORK/root/untrusted/"
    start_luafpm --workers 1 --shared-dict counters:64k --sandbox-root "$WORK/root/untrusted" \
        --request-timeout 5
    echo "$LF_PID" >>"$WORK/extra.pids"
    local out
    out=$(python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" \
        --param SCRIPT_FILENAME="$WORK/root/untrusted/sandboxed.lua")
    [[ "$out" == *"shared: nil"* ]]
    out=$(python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param SCRIPT_FILENAME="$WORK/root/sandboxed.lua")
    [[ "$out" == *"shared: table"* ]]
}

@test "bad --shared-dict values are refused before anything starts" {
    run "$LUAFPM_BIN" --shared-dict cache --listen 127.0.0.1:1 --error-log stderr
    [ "$status" -eq 1 ]
    [[ "$output" == *'invalid value "cache" for option "shared-dict"'* ]]
    run "$LUAFPM_BIN" --shared-dict cache:4k --listen 127.0.0.1:1
    [ "$status" -eq 1 ]
    [[ "$output" == *'expected a size 8192..'* ]]
    run "$LUAFPM_BIN" --shared-dict a:1m --shared-dict a:2m --listen 127.0.0.1:1
    [ "$status" -eq 1 ]
    [[ "$output" == *'shared dict "a" is defined twice'* ]]
    run "$LUAFPM_BIN" --shared-dict 'a b:1m' --listen 127.0.0.1:1
    [ "$status" -eq 1 ]
}
