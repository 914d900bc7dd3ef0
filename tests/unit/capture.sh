#!/usr/bin/env bash
# capture.sh - record real FastCGI requests from nginx and Apache into
# tests/unit/data/*.bin for fcgi_codec_test.  Run by hand (not by make
# check) when the captures are to be made again:
#     bash tests/unit/capture.sh [OUTDIR]
# Each web server runs with its own prefix, config, pid and logs in a
# temporary directory on free loopback ports, and passes to
# tests/unit/fcgi_record.py, which keeps every byte of one connection.
# The started processes are stopped by PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/data}
NGINX=${NGINX:-/usr/sbin/nginx}
APACHE=${APACHE:-/usr/sbin/apache2}
APACHE_MODULES=${APACHE_MODULES:-/usr/lib/apache2/modules}
FASTCGI_PARAMS=${FASTCGI_PARAMS:-/etc/nginx/fastcgi_params}
work=$(mktemp -d /tmp/luafpm-capture.XXXXXX)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out" "$work/root" "$work/tmp" "$work/apache-run"
: >"$work/root/capture.lua"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_port() {
    local i
    for ((i = 0; i < 200; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "capture.sh: port $1 not ready" >&2
    return 1
}

# The bodies: byte i is i % 251 (NULs and high bytes included; a period
# prime to any record size, so a piece out of place shows).
pattern() {
    python3 -c 'import sys; n=int(sys.argv[1]); sys.stdout.buffer.write(bytes(i % 251 for i in range(n)))' "$1"
}
pattern 102400 >"$work/body100k"
pattern 20000 >"$work/body20k"

# record NAME NREQ: the recorder on $UP_PORT, until NREQ requests are in.
record() {
    python3 "$here/fcgi_record.py" "$UP_PORT" "$work/$1.bin" "$2" >"$work/$1.ready" &
    REC_PID=$!
    pids+=("$REC_PID")
    local i
    for ((i = 0; i < 100; i++)); do
        [ -s "$work/$1.ready" ] && return 0
        sleep 0.05
    done
    echo "capture.sh: recorder for $1 not ready" >&2
    return 1
}
# done_record NAME: wait for the recorder, keep what it wrote.
done_record() {
    wait "$REC_PID"
    cp "$work/$1.bin" "$out/$1.bin"
    echo "$1.bin: $(stat -c %s "$out/$1.bin") bytes"
}

UP_PORT=$(free_port)
CURL=(curl -sS --max-time 20 -o /dev/null)

# --- nginx: fastcgi_pass without kept connections, and an upstream with
# keepalive and fastcgi_keep_conn on under /kept/.
NGX_PORT=$(free_port)
user=
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$work/nginx.conf" <<EOF
$user
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log notice;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $work/tmp/body;
    fastcgi_temp_path $work/tmp/fastcgi;
    proxy_temp_path $work/tmp/proxy;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    client_max_body_size 1m;
    upstream kept {
        server 127.0.0.1:$UP_PORT;
        keepalive 2;
    }
    server {
        listen 127.0.0.1:$NGX_PORT;
        server_name localhost;
        root /srv/luafpm;
        location / {
            fastcgi_pass 127.0.0.1:$UP_PORT;
            include $FASTCGI_PARAMS;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
        }
        location /kept/ {
            fastcgi_pass kept;
            fastcgi_keep_conn on;
            include $FASTCGI_PARAMS;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
        }
    }
}
EOF
"$NGINX" -p "$work" -c "$work/nginx.conf" -g 'daemon off;' >"$work/nginx.out" 2>&1 &
NGX_PID=$!
pids+=("$NGX_PID")
wait_port "$NGX_PORT"
url=http://127.0.0.1:$NGX_PORT

# A header value of 300 bytes: a param with a four-byte length.
long=$(printf '%0300d' 0 | tr 0 l)

record nginx-get 1
"${CURL[@]}" -A 'luafpm-capture' -H 'Accept: text/plain' -H 'X-Capture: one two' \
    -H 'Cookie: a=1; b=2' -H "X-Long: $long" "$url/capture.lua?a=1&b=two%20words&c="
done_record nginx-get

record nginx-post100k 1
"${CURL[@]}" -A 'luafpm-capture' -H 'Content-Type: application/octet-stream' \
    --data-binary @"$work/body100k" "$url/capture.lua?post=100k"
done_record nginx-post100k

record nginx-keepconn 2
"${CURL[@]}" -A 'luafpm-capture' "$url/kept/capture.lua?n=1"
"${CURL[@]}" -A 'luafpm-capture' -d 'hello=world' "$url/kept/capture.lua?n=2"
done_record nginx-keepconn

kill "$NGX_PID"
wait "$NGX_PID" 2>/dev/null || true

# --- Apache mod_proxy_fcgi, the SetHandler form.
AP_PORT=$(free_port)
if [ "$(id -u)" = 0 ]; then
    # Apache's children refuse to run as root; they must reach the root.
    ap_user=www-data ap_group=www-data
    id -u "$ap_user" >/dev/null 2>&1 || ap_user=nobody
    getent group "$ap_group" >/dev/null 2>&1 || ap_group=$(id -gn "$ap_user")
    chmod a+rx "$work" "$work/root"
    chmod a+r "$work/root/capture.lua"
else
    ap_user=$(id -un) ap_group=$(id -gn)
fi
cat >"$work/apache.conf" <<EOF
ServerRoot $work
DefaultRuntimeDir $work/apache-run
PidFile $work/apache.pid
ErrorLog $work/apache-error.log
LogLevel warn
ServerName 127.0.0.1
User $ap_user
Group $ap_group
LoadModule mpm_event_module $APACHE_MODULES/mod_mpm_event.so
LoadModule authz_core_module $APACHE_MODULES/mod_authz_core.so
LoadModule proxy_module $APACHE_MODULES/mod_proxy.so
LoadModule proxy_fcgi_module $APACHE_MODULES/mod_proxy_fcgi.so
StartServers 1
ServerLimit 1
ThreadsPerChild 4
MaxRequestWorkers 4
Timeout 20
ProxyTimeout 20
<Directory />
    AllowOverride None
    Require all denied
</Directory>
Listen 127.0.0.1:$AP_PORT
<VirtualHost 127.0.0.1:$AP_PORT>
    DocumentRoot $work/root
    <Directory $work/root>
        Require all granted
    </Directory>
    <FilesMatch "\.lua\$">
        SetHandler "proxy:fcgi://127.0.0.1:$UP_PORT"
    </FilesMatch>
</VirtualHost>
EOF
# A clean environment: Apache passes its PATH on as a param.
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$APACHE" -f "$work/apache.conf" -DFOREGROUND >"$work/apache.out" 2>&1 &
AP_PID=$!
pids+=("$AP_PID")
wait_port "$AP_PORT"
url=http://127.0.0.1:$AP_PORT

record apache-get 1
"${CURL[@]}" -A 'luafpm-capture' -H 'Accept: text/plain' -H 'X-Capture: one two' \
    -H "X-Long: $long" "$url/capture.lua?a=1&b=two%20words"
done_record apache-get

record apache-chunked 1
"${CURL[@]}" -A 'luafpm-capture' -H 'Content-Type: application/octet-stream' \
    -H 'Transfer-Encoding: chunked' --data-binary @"$work/body20k" "$url/capture.lua?post=chunked"
done_record apache-chunked

kill "$AP_PID"
wait "$AP_PID" 2>/dev/null || true
echo "nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'), Apache: $("$APACHE" -v | sed -n 's/^Server version: //p')," \
    "curl: $(curl --version | sed -n '1s/^curl \([^ ]*\).*/\1/p')"
