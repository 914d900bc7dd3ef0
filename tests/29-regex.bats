#!/usr/bin/env bats
# ngx.re (PCRE2) through nginx as a user sees it: the option letters,
# errors as OpenResty returns them, named captures, sub/gsub with
# templates and functions, require "ngx.re" (split, opt), the "o" cache's
# bound, the match limit on a catastrophic pattern (with and without
# --regex-match-limit), and ngx.re in the sandbox.

load lib/helpers

setup_file() {
    make_work
    install_app regex
    mkdir -p "$WORK/root/sb"
    cp "$TESTS_DIR/apps/sandbox/sb/regex.lua" "$WORK/root/sb/"
    export ALLOWED_LOG='without --request-timeout'
    # One worker each, so that one VM's cache is what the requests see.
    start_luafpm --workers 1 --sandbox-root "$WORK/root/sb"
    start_nginx
    MAIN_NGX=$NGX_PORT
    serve_more --regex-cache-max-entries 2 --regex-match-limit 1000
    LIMITED_NGX=$NGX_PORT
    serve_more --regex-cache-max-entries 100000
    BIG_NGX=$NGX_PORT
    export MAIN_NGX LIMITED_NGX BIG_NGX
}

teardown_file() {
    teardown_common
}

# serve_more LUAFPM-ARGS...: one more luafpm (one worker) and its nginx
# for the whole file; NGX_PORT is that nginx's port.
serve_more() {
    start_luafpm --workers 1 "$@" 3>&-
    start_nginx "$LF_ADDR"
}

# at PORT METHOD PATH: http through the nginx on PORT.
at() {
    local port=$1
    shift
    PORT_OVERRIDE=$port http "$@"
}

@test "every option letter: i m s x u U a d D J j o" {
    at "$MAIN_NGX" GET /options.lua
    [ "$STATUS" = 200 ]
    diff -u - <(echo "$BODY") <<'EXPECTED'
i HeLLo nil
m b nil
s 3 nil
x 12
u 3 2
U 2
u bad pcre_exec() failed: -10
a nil ab
d <a><b> <a>
D 1+2
J x pcre_compile() failed: missing terminati
j b o b jo c
EXPECTED
}

@test "errors are returned as OpenResty returns them; an unknown option letter is raised" {
    at "$MAIN_NGX" GET /errors.lua
    [ "$STATUS" = 200 ]
    diff -u - <(echo "$BODY") <<'EXPECTED'
nil | pcre_compile() failed: missing ) in "a("
nil | nil | pcre_compile() failed: missing terminating ] for character class in "[b"
nil | pcre_compile() failed: numbers out of order in {} quantifier in "x{3,2}" at "}"
nil | nil | pcre_compile() failed: nothing to repeat in "+" at "+"
nil | nil | pcre_compile() failed: unmatched parentheses in "a)" at ")"
nil | pcre_compile() failed: two named subpatterns have the same name in "(?<n>.)(?<n>.)" at ">.)"
nil | nil | failed to compile the replacement template
nil | nil | failed to compile the replacement template
nil | nil | nth out of bound
nil | pcre_exec() failed: -24
nil | pcre_exec() failed: -10
false | unknown flag "q" (flags "jq")
false | unknown flag "?" (flags "?")
EXPECTED
}

@test "named captures, with and without D, and a res table and ctx given back" {
    at "$MAIN_NGX" GET /named.lua
    [ "$STATUS" = 200 ]
    diff -u - <(echo "$BODY") <<'EXPECTED'
2024 06 30 2024 3
false b false
2 ab
1 b
true k=v kv
a1@3 b2@5 c3@7
EXPECTED
}

@test "sub and gsub with templates and functions" {
    at "$MAIN_NGX" GET /subst.lua
    [ "$STATUS" = 200 ]
    diff -u - <(echo "$BODY") <<'EXPECTED'
world hello | 1
a[b][b]c | 1
a$b$c | 2
baa | 1
bbb | 3
-a-b-c- | 4
1x, 22y | 2
1b1 | 2
anilc | 1
<a><b> | 2
j|a0k | 1
a#b# | 2
EXPECTED
}

@test "require \"ngx.re\" loads: split and opt" {
    at "$MAIN_NGX" GET /split.lua
    [ "$STATUS" = 200 ]
    diff -u - <(echo "$BODY") <<'EXPECTED'
3 a|b|c
5 a|1|b|2|c
2 a|b,c
3 a|b|c
nil pcre_compile() failed: missing ) in "("
falseunrecognized option name
function function
EXPECTED
}

@test "opt(\"jit_stack_size\") works until a pattern is cached, as lua-resty-core" {
    serve_more
    at "$NGX_PORT" GET /jitstack.lua
    echo "$BODY"
    [ "$STATUS" = 200 ]
    [ "$(sed -n 1p <<<"$BODY")" = "before: true nil" ]
    [ "$(sed -n 2p <<<"$BODY")" = "after: false changing jit stack size is not allowed when some regexs have already been compiled and cached" ]
}

@test "the o cache holds at most --regex-cache-max-entries patterns, the least recently used dropped first" {
    local n
    at "$LIMITED_NGX" GET "/cache.lua?what=many&nonce=a$RANDOM"
    echo "max 2: grew $BODY KiB"
    [ "$STATUS" = 200 ]
    [ "$BODY" -lt 200 ]
    # The same with room for all of them: the test can tell.
    at "$BIG_NGX" GET "/cache.lua?what=many&nonce=b$RANDOM"
    echo "max 100000: grew $BODY KiB"
    [ "$BODY" -gt 2000 ]
    at "$LIMITED_NGX" GET "/cache.lua?what=lru&nonce=c$RANDOM"
    echo "$BODY"
    [ "$BODY" = "big kept, then dropped" ]
}

@test "a match that hits the cache allocates nothing but its result" {
    at "$MAIN_NGX" GET "/cache.lua?what=hot&o=jo"
    [ "$BODY" = "no allocation" ]
    # Without o each call compiles: the test can tell.
    at "$MAIN_NGX" GET "/cache.lua?what=hot&o=j"
    [[ "$BODY" == grew* ]]
}

@test "a catastrophic pattern ends with pcre_exec() failed: -8 at PCRE2's default match limit" {
    at "$MAIN_NGX" GET "/catastrophic.lua?n=30"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "nil pcre_exec() failed: -8 in time" ]
    at "$MAIN_NGX" GET "/catastrophic.lua?n=30&o=jo"
    [ "$BODY" = "nil pcre_exec() failed: -8 in time" ]
    # Some 30000 steps: within the default limit, no match.
    at "$MAIN_NGX" GET "/catastrophic.lua?n=14"
    [ "$BODY" = "nil nil in time" ]
}

@test "--regex-match-limit bounds the backtracking" {
    at "$LIMITED_NGX" GET "/catastrophic.lua?n=14"
    [ "$BODY" = "nil pcre_exec() failed: -8 in time" ]
    at "$LIMITED_NGX" GET "/catastrophic.lua?n=14&o=jo"
    [ "$BODY" = "nil pcre_exec() failed: -8 in time" ]
    at "$LIMITED_NGX" GET "/catastrophic.lua?n=3"
    [ "$BODY" = "nil nil in time" ]
    # A bad value is a configuration error.
    run "$LUAFPM_BIN" -t --root "$WORK/root" --regex-match-limit -1
    [ "$status" -eq 1 ]
    [[ "$output" == *regex-match-limit* ]]
}

@test "in the sandbox: ngx.re works, and a catastrophic pattern ends at the match limit without --request-timeout" {
    at "$MAIN_NGX" GET '/sb/regex.lua?what=use'
    [ "$STATUS" = 200 ]
    [ "$BODY" = "key value a<1>b<22> 2 one,two 3 a[b]c" ]
    at "$MAIN_NGX" GET '/sb/regex.lua?what=catastrophic'
    [ "$BODY" = "nil pcre_exec() failed: -8 fast" ]
    at "$MAIN_NGX" GET '/sb/regex.lua?what=medium'
    [ "$BODY" = "nil pcre_exec() failed: -8" ]
}
