#!/usr/bin/env bats
# --lint: global variables read and written, from LuaJIT's bytecode, as
# lua-releng reports them; and the warning a handler that writes a global
# logs at run time.

load lib/helpers

setup_file() {
    make_work
    mkdir -p "$WORK/lint"
}

teardown_file() {
    teardown_common
}

# Stop what a test started, whatever its outcome.
teardown() {
    stop_all
    NGX_PID="" LF_PID=""
}

@test "--lint: a clean file prints nothing and exits 0" {
    local f=$WORK/lint/clean.lua
    cat >"$f" <<'EOF'
local cjson = require "cjson.safe"
local n = tonumber(ngx.var.arg_n) or 0
local function twice(x) return 2 * x end
ngx.say(string.format("%d", twice(n)), type(cjson), _VERSION, bit.band(n, 1), jit.version)
print(newproxy, gcinfo, getfenv, setfenv, unpack, module, loadstring, coroutine, debug, io, os)
_G.counter = 1
rawset(_G, "other", 2)
EOF
    run "$LUAFPM_BIN" --lint "$f"
    echo "$output"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

@test "--lint: writes fail, reads of unknown globals are reported, with their lines" {
    local f=$WORK/lint/bad.lua
    cat >"$f" <<'EOF'
local ok = 1
function handler()
    total = missing + ok
end
handler()
ngx.say(total)
local t = { f = function() inner = true end }
EOF
    run "$LUAFPM_BIN" --lint "$f"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "$f:2: writing global 'handler'
$f:3: reading undefined global 'missing'
$f:3: writing global 'total'
$f:5: reading undefined global 'handler'
$f:6: reading undefined global 'total'
$f:7: writing global 'inner'" ]
}

@test "--lint: unknown reads alone exit 0" {
    local f=$WORK/lint/reads.lua
    printf -- '-- a comment\nngx.say(config.name)\n' >"$f"
    run "$LUAFPM_BIN" --lint "$f"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "$f:2: reading undefined global 'config'" ]
}

@test "--lint: a directory is walked for *.lua, sorted, symbolic links not followed" {
    local d=$WORK/lint-tree
    mkdir -p "$d/lib/deep" "$WORK/lint-outside"
    printf 'z = 1\n' >"$d/z.lua"
    printf '#!/usr/bin/env luajit\nlocal a = b\n' >"$d/lib/deep/mod.lua"
    printf 'ngx.say(1)\n' >"$d/a.lua"
    printf 'w = 1\n' >"$d/notes.txt"
    printf 'outside = 1\n' >"$WORK/lint-outside/o.lua"
    ln -sfn "$WORK/lint-outside" "$d/link"
    # A file named twice (and inside the directory too) is reported once.
    run "$LUAFPM_BIN" --lint "$d/z.lua" "$d/"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "$d/lib/deep/mod.lua:2: reading undefined global 'b'
$d/z.lua:1: writing global 'z'" ]
}

@test "--lint-globals, on the command line or in the config file, makes names known" {
    local f=$WORK/lint/known.lua
    printf 'ngx.say(config, settings)\n' >"$f"
    run "$LUAFPM_BIN" --lint-globals 'config, settings' --lint "$f"
    echo "$output"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    printf 'lint-globals = settings\n' >"$WORK/lint.conf"
    run "$LUAFPM_BIN" --conf "$WORK/lint.conf" --lint "$f"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "$f:1: reading undefined global 'config'" ]
}

@test "--lint: a syntax error is reported as file:line: message, exit 1" {
    local f=$WORK/lint/syntax.lua
    printf 'local x = 1\nif x then\n    ngx.say(x\nend\n' >"$f"
    run "$LUAFPM_BIN" --lint "$f"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "$f:4: ')' expected (to close '(' at line 3) near 'end'" ]
}

@test "--lint: a missing path is an error, and paths need --lint" {
    run "$LUAFPM_BIN" --lint "$WORK/lint/nope.lua"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"luafpm: cannot lint $WORK/lint/nope.lua (2: No such file or directory)"* ]]
    run "$LUAFPM_BIN" "$WORK/lint/clean.lua"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"unexpected argument \"$WORK/lint/clean.lua\""* ]]
}

@test "--lint: bytecode from luajit -bg has lines, stripped bytecode (luajit -b) is linted at line 0" {
    command -v luajit >/dev/null || skip "no luajit command"
    local src=$WORK/lint/bc-src.lua
    printf 'local a = 1\nglobal_w = a\nngx.say(global_r)\n' >"$src"
    luajit -bg "$src" "$WORK/lint/bc-debug.lua"
    luajit -b "$src" "$WORK/lint/bc-stripped.lua"
    run "$LUAFPM_BIN" --lint "$WORK/lint/bc-debug.lua" "$WORK/lint/bc-stripped.lua"
    echo "$output"
    [ "$status" -eq 1 ]
    [ "$output" = "$WORK/lint/bc-debug.lua:2: writing global 'global_w'
$WORK/lint/bc-debug.lua:3: reading undefined global 'global_r'
$WORK/lint/bc-stripped.lua:0: stripped bytecode, no line numbers (luajit -bg keeps them)
$WORK/lint/bc-stripped.lua:0: reading undefined global 'global_r'
$WORK/lint/bc-stripped.lua:0: writing global 'global_w'" ]
}

@test "--lint: the example app is clean" {
    run "$LUAFPM_BIN" --lint "$TESTS_DIR/../examples/app"
    echo "$output"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
}

# Needs lf_lint_global_write as the __newindex of the per-request globals'
# metatable (src/lua/vm.c).
@test "run time: a handler writing a global logs one warning per site and worker" {
    cat >"$WORK/root/writes.lua" <<'EOF'
-- "hits" is written twice per request by line 3.
for i = 1, 2 do
    hits = i
    ngx.say("hits=", hits)
    hits = nil
end
EOF
    start_luafpm --workers 1
    start_nginx
    local i
    for i in 1 2 3; do
        http GET /writes.lua
        [ "$STATUS" = 200 ]
        [ "$BODY" = "hits=1
hits=2" ]
    done
    run grep -c 'writing a global Lua variable' "$WORK/luafpm.log"
    echo "$output"
    [ "$output" = 1 ]
    local script
    script=$(cd "$WORK/root" && pwd -P)/writes.lua
    grep -qF "writing a global Lua variable ('hits') at $script:3: it lives for this request only" \
        "$WORK/luafpm.log"
    grep -q '\[warn\] .*writing a global Lua variable' "$WORK/luafpm.log"
    # The global did not leak into _G.
    printf 'ngx.say(tostring(rawget(_G, "hits")))\n' >"$WORK/root/peek.lua"
    http GET /peek.lua
    [ "$BODY" = nil ]
}
