#!/usr/bin/env bats
# luafpm behind a real Apache httpd (mod_proxy_fcgi), in both usual forms:
#   AP_PORT      <FilesMatch \.lua$> SetHandler "proxy:fcgi://127.0.0.1:LF"
#                with DocumentRoot = luafpm's --root (php-fpm's advice)
#   AP_PPM_PORT  ProxyPassMatch ^/(.*\.lua(/.*)?)$ fcgi://127.0.0.1:LF/ROOT/$1
# (tests/lib/apache.conf.in, tests/lib/apache.bash).  A handler must see
# what it would see behind nginx (tests/01-basic.bats, 04-routing.bats).
#
# What Apache 2.4 sends, for GET /x.lua/extra/path?q=1 (dumped with a raw
# FastCGI listener), and how luafpm maps it:
#
#   param            SetHandler form          ProxyPassMatch form
#   SCRIPT_FILENAME  proxy:fcgi://h:p/ROOT/   proxy:fcgi://h:p/ROOT/
#                    x.lua                    x.lua/extra/path (percent-
#                                             encoded: "sub%20dir")
#   SCRIPT_NAME      /x.lua (decoded)         /x.lua/extra/path (decoded)
#   PATH_INFO        /extra/path (only when   never sent
#                    there is one)
#   PATH_TRANSLATED  ROOT/extra/path          never sent
#   DOCUMENT_URI     never sent               never sent
#   QUERY_STRING     always, "" when none     always, "" when none
#   REQUEST_URI      /x.lua/extra/path?q=1    same
#   DOCUMENT_ROOT, CONTEXT_DOCUMENT_ROOT, CONTEXT_PREFIX, REQUEST_SCHEME,
#   REQUEST_METHOD, SERVER_PROTOCOL, SERVER_NAME/ADDR/PORT, REMOTE_ADDR/PORT,
#   GATEWAY_INTERFACE, SERVER_SOFTWARE, SERVER_SIGNATURE, SERVER_ADMIN, PATH,
#   HTTP_* for each request header, CONTENT_TYPE/CONTENT_LENGTH with a body;
#   the SetHandler form adds "proxy-nokeepalive=1" (Apache closes the
#   connection after each request).
#
#   ngx.var.uri          DOCUMENT_URI, else SCRIPT_NAME .. PATH_INFO
#   ngx.var.path_info    PATH_INFO, else (proxy: form) SCRIPT_NAME after its
#                        first "*.lua/" (as fastcgi_split_path_info)
#   ngx.var.request_filename  SCRIPT_FILENAME, but in the proxy: form the
#                        script luafpm resolved (no prefix, no path info)
#   the script           proxy: prefix stripped, path info cut after the
#                        first "*.lua/" below the root; the name as sent,
#                        and if refused its percent-decoding, each through
#                        all the usual checks (src/lua/script.c)
#   ngx.var.args/is_args/host/scheme/...  as with nginx (QUERY_STRING "" is
#                        nil args; HTTP_HOST without port; REQUEST_SCHEME)

load lib/helpers
load lib/apache

setup_file() {
    make_work
    # luafpm reports the resolved script as Apache's request_filename.
    WORK=$(cd "$WORK" && pwd -P)
    export WORK
    install_app basic apache
    mkdir -p "$WORK/outside" "$WORK/root/sub dir"
    echo 'ngx.say("leaked")' >"$WORK/outside/secret.lua"
    echo 'ngx.say("spaced")' >"$WORK/root/sub dir/page.lua"
    echo 'ngx.say("literal percent")' >"$WORK/root/p%41.lua"
    ln -s /etc/passwd "$WORK/root/passwd.lua"
    ln -s "$WORK/outside/secret.lua" "$WORK/root/link.lua"
    start_luafpm --workers 2
    start_apache
    # nginx too, to compare what a handler sees behind each.
    start_nginx
}

teardown_file() {
    stop_apache
    local rc=0
    if ! check_apache_log; then
        rc=1
        KEEP_WORK=1
    fi
    teardown_common || rc=1
    return $rc
}

# Both Apache forms, one after the other.
forms() {
    echo "$AP_PORT $AP_PPM_PORT"
}

has() {
    grep -qxF -- "$1" <<<"$BODY" || { echo "no line '$1' in:" >&2; echo "$BODY" >&2; return 1; }
}

@test "Apache sends SCRIPT_FILENAME in its proxy:fcgi:// form and no DOCUMENT_URI" {
    ap_http $AP_PORT GET /vars.lua/extra/path
    [ "$STATUS" = 200 ]
    has "script_filename=proxy:fcgi://$LF_ADDR$WORK/root/vars.lua"
    has "script_name=/vars.lua"
    ap_http $AP_PPM_PORT GET /vars.lua/extra/path
    [ "$STATUS" = 200 ]
    has "script_filename=proxy:fcgi://$LF_ADDR$WORK/root/vars.lua/extra/path"
    has "script_name=/vars.lua/extra/path"
}

@test "hello world through Apache" {
    for port in $(forms); do
        ap_http $port GET /hello.lua
        [ "$STATUS" = 200 ]
        [ "$BODY" = "hello world" ]
        [ "$(header Content-Type)" = "text/plain" ]
    done
}

@test "ngx.var through Apache: the request as nginx would describe it" {
    for port in $(forms); do
        ap_http $port GET '/vars.lua?a=1&b=%20c' -A 'luafpm-test/1.0' -H 'X-Custom: v1'
        [ "$STATUS" = 200 ]
        has 'uri=/vars.lua'
        has 'document_uri=/vars.lua'
        has 'request_uri=/vars.lua?a=1&b=%20c'
        has 'args=a=1&b=%20c'
        has 'is_args=?'
        has 'arg_a=1'
        has 'host=127.0.0.1'
        has 'scheme=http'
        has 'request_method=GET'
        has 'method=GET'
        has 'remote_addr=127.0.0.1'
        has "server_port=$port"
        has 'server_protocol=HTTP/1.1'
        has "document_root=$WORK/root"
        has "request_filename=$WORK/root/vars.lua"
        has 'path_info=nil'
        has 'http_user_agent=luafpm-test/1.0'
        has 'header_x_custom=v1'
        has 'request=GET /vars.lua?a=1&b=%20c HTTP/1.1'
    done
}

@test "args is nil and is_args empty without a query string" {
    for port in $(forms); do
        ap_http $port GET /vars.lua
        [ "$STATUS" = 200 ]
        has 'args=nil'
        has 'is_args='
        has 'query_string=nil'
        has 'uri=/vars.lua'
        has 'request_uri=/vars.lua'
    done
}

@test "PATH_INFO after the script name, in both forms" {
    for port in $(forms); do
        ap_http $port GET '/vars.lua/extra/path?q=1'
        [ "$STATUS" = 200 ]
        has 'path_info=/extra/path'
        has 'uri=/vars.lua/extra/path'
        has 'request_uri=/vars.lua/extra/path?q=1'
        has "request_filename=$WORK/root/vars.lua"
        has 'args=q=1'
        # a later ".lua/" belongs to the path info, as with nginx's split
        ap_http $port GET /vars.lua/more.lua/x
        [ "$STATUS" = 200 ]
        has 'path_info=/more.lua/x'
        has 'uri=/vars.lua/more.lua/x'
    done
}

@test "ngx.var matches what the same handler sees behind nginx" {
    local url port out_ngx out_ap
    for url in '/vars.lua' '/vars.lua?a=1&b=%20c&a=2&flag' '/vars.lua/extra/path?q=1'; do
        # server_port differs; raw params are the servers' own business;
        # nginx sends PATH_INFO "" where Apache sends none.
        http GET "$url" -A 'ua/2' -H 'X-Custom: same'
        [ "$STATUS" = 200 ]
        out_ngx=$(grep -vE '^(server_port|script_filename|script_name|path_info)=' <<<"$BODY")
        for port in $(forms); do
            ap_http $port GET "$url" -A 'ua/2' -H 'X-Custom: same'
            [ "$STATUS" = 200 ]
            out_ap=$(grep -vE '^(server_port|script_filename|script_name|path_info)=' <<<"$BODY")
            if [ "$out_ap" != "$out_ngx" ]; then
                echo "$url on $port differs from nginx:" >&2
                diff <(echo "$out_ngx") <(echo "$out_ap") >&2
                return 1
            fi
        done
    done
}

@test "ngx.req.get_uri_args through Apache" {
    for port in $(forms); do
        ap_http $port GET '/vars.lua?a=1&b=%20c&a=2&flag&e='
        [ "$STATUS" = 200 ]
        has 'uri_arg_a=1,2'
        has 'uri_arg_b= c'
        has 'uri_arg_flag=true'
        has 'uri_arg_e='
    done
}

@test "a POST body: read_body, get_body_data and get_post_args" {
    for port in $(forms); do
        ap_http $port POST /form.lua -d 'a=1&b=x%20y&c=%26'
        [ "$STATUS" = 200 ]
        has 'body=a=1&b=x%20y&c=%26'
        has 'post_arg_a=1'
        has 'post_arg_b=x y'
        has 'post_arg_c=&'
    done
}

@test "ngx.status and ngx.header reach the client" {
    for port in $(forms); do
        ap_http $port GET /created.lua
        [ "$STATUS" = 201 ]
        [ "$(header X-A)" = "b" ]
        [ "$BODY" = "created" ]
    done
}

@test "ngx.exit(404) is a 404" {
    for port in $(forms); do
        ap_http $port GET /gone.lua
        [ "$STATUS" = 404 ]
        [[ "$BODY" == *"404 Not Found"* ]]
        [[ "$BODY" != *"not reached"* ]]
    done
}

@test "ngx.redirect gives a 302 with Location" {
    for port in $(forms); do
        ap_http $port GET /moved.lua
        [ "$STATUS" = 302 ]
        [ "$(header Location)" = "/elsewhere" ]
    done
}

@test "a missing script is 404 from luafpm" {
    for port in $(forms); do
        ap_http $port GET "/missing-$port.lua"
        [ "$STATUS" = 404 ]
        grep -q "missing-$port.lua\" refused with 404" "$WORK/luafpm.log"
    done
}

@test "scripts that resolve outside the root are 403" {
    for port in $(forms); do
        ap_http $port GET /passwd.lua
        [ "$STATUS" = 403 ]
        [[ "$BODY" != *"root:"* ]]
        ap_http $port GET /link.lua
        [ "$STATUS" = 403 ]
        [[ "$BODY" != *"leaked"* ]]
    done
    grep -q "resolves to /etc/passwd, outside the root" "$WORK/luafpm.log"
    grep -q "resolves to $WORK/outside/secret.lua, outside the root" "$WORK/luafpm.log"
}

@test "a name with a space or a %: ProxyPassMatch percent-encodes, SetHandler does not" {
    for port in $(forms); do
        ap_http $port GET '/sub%20dir/page.lua'
        [ "$STATUS" = 200 ]
        [ "$BODY" = "spaced" ]
        ap_http $port GET '/p%2541.lua'
        [ "$STATUS" = 200 ]
        [ "$BODY" = "literal percent" ]
    done
}

@test "a percent-encoded .. in the proxy: form is refused, nothing outside is run" {
    local enc
    for enc in '%2e%2e/outside/secret.lua' '%2E%2E/outside/secret.lua' '..%2foutside/secret.lua'; do
        run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param REQUEST_METHOD=GET \
            --param "SCRIPT_FILENAME=proxy:fcgi://$LF_ADDR$WORK/root/$enc"
        [ "$status" -eq 0 ]
        [[ "$output" == *"Status: 40"[34]* ]]
        [[ "$output" != *"leaked"* ]]
    done
    run python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --param REQUEST_METHOD=GET \
        --param "SCRIPT_FILENAME=proxy:fcgi://$LF_ADDR$WORK/root/hello%00.lua"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Status: 40"[34]* ]]
}

@test "examples/apache.conf works as shipped (addresses swapped for the test's)" {
    local port user group pid
    port=$(free_port)
    user=$(sed -n 's/^User //p' "$WORK/apache.conf")
    group=$(sed -n 's/^Group //p' "$WORK/apache.conf")
    mkdir -p "$WORK/example-run"
    {
        sed -n '1,/^<Directory \/>/p' "$WORK/apache.conf" | sed '$d' |
            sed -e "s|^PidFile .*|PidFile $WORK/example.pid|" \
                -e "s|^ErrorLog .*|ErrorLog $WORK/example-error.log|" \
                -e "s|^DefaultRuntimeDir .*|DefaultRuntimeDir $WORK/example-run|"
        echo "LoadModule authz_host_module $APACHE_MODULES/mod_authz_host.so"
        echo "Listen 127.0.0.1:$port"
        sed -e "s|\*:80|127.0.0.1:$port|" -e "s|/srv/luafpm/app|$WORK/root|g" \
            -e "s|127.0.0.1:9000|$LF_ADDR|g" "$LUAFPM_SRCDIR/examples/apache.conf"
    } >"$WORK/example-apache.conf"
    "$APACHE" -f "$WORK/example-apache.conf" -DFOREGROUND >>"$WORK/example-apache.out" 2>&1 &
    pid=$!
    wait_port "$port" || { cat "$WORK/example-apache.out" >&2; stop_pid "$pid"; false; }
    ap_http "$port" GET /hello.lua
    local status=$STATUS body=$BODY
    ap_http "$port" GET /status
    local page=$STATUS
    stop_pid "$pid"
    [ "$status" = 200 ]
    [ "$body" = "hello world" ]
    # This luafpm has no --status-path: the request reached it as a script
    # name without .lua, which it refuses.
    [ "$page" = 403 ]
    grep -q "script \"proxy:fcgi://$LF_ADDR$WORK/root/status\" refused with 403" "$WORK/luafpm.log"
}
