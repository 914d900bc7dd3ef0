#!/usr/bin/env bats
# TLS over cosockets (sslhandshake) against a local openssl s_server with
# a self-signed certificate the test makes: verification fails without
# --ssl-trusted-certificate and passes with it, the name is checked, a
# session can be reused.

load lib/helpers

setup_file() {
    make_work
    install_app cosocket
    command -v openssl >/dev/null || skip "openssl is not installed"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost" -days 2 >/dev/null 2>&1
    TLS_PORT=$(free_port)
    openssl s_server -accept "$TLS_PORT" -cert "$WORK/cert.pem" -key "$WORK/key.pem" -www -quiet \
        </dev/null >"$WORK/s_server.out" 2>&1 &
    echo $! >>"$WORK/started.pids"
    wait_port "$TLS_PORT"
    export TLS_PORT
}

teardown_file() {
    teardown_common
}

teardown() {
    stop_extra
}

tls_get() { # tls_get QUERY: the handler's output through luafpm
    python3 "$TESTS_DIR/lib/fcgi_client.py" "$LF_ADDR" --timeout 10 \
        --param SCRIPT_FILENAME="$WORK/root/tls.lua" --param QUERY_STRING="$1" | sed -n '/^handshake/,$p'
}

@test "sslhandshake without --ssl-trusted-certificate: verification fails with OpenSSL's reason; unverified it works" {
    start_luafpm --workers 1
    echo "$LF_PID" >>"$WORK/extra.pids"
    run tls_get "port=$TLS_PORT&verify=1"
    echo "$output"
    [[ "$output" == "handshake: nil 18: self"*"signed certificate" ]]
    run tls_get "port=$TLS_PORT"
    echo "$output"
    [ "$output" = "handshake: userdata
HTTP/1.0 200 ok
again: true nil" ]
}

@test "--ssl-trusted-certificate: verification passes, a wrong name is a host mismatch" {
    start_luafpm --workers 1 --ssl-trusted-certificate "$WORK/cert.pem"
    echo "$LF_PID" >>"$WORK/extra.pids"
    run tls_get "port=$TLS_PORT&verify=1"
    echo "$output"
    [ "$output" = "handshake: userdata
HTTP/1.0 200 ok
again: true nil" ]
    run tls_get "port=$TLS_PORT&verify=1&name=wrong.test"
    [ "$output" = "handshake: nil certificate host mismatch" ]
}
