# apache.bash - a real Apache httpd (mod_proxy_fcgi) in front of luafpm, on
# free loopback ports, with its own config, pid and logs in $WORK; stopped
# by PID.  Load after lib/helpers.

APACHE=${APACHE:-$(command -v apache2 || echo /usr/sbin/apache2)}
APACHE_MODULES=${APACHE_MODULES:-/usr/lib/apache2/modules}

# start_apache [UPSTREAM]: Apache with two virtual hosts in front of
# UPSTREAM (default $LF_ADDR): AP_PORT uses the SetHandler form,
# AP_PPM_PORT the ProxyPassMatch form (tests/lib/apache.conf.in).
start_apache() {
    local upstream=${1:-$LF_ADDR} user group
    AP_PORT=$(free_port)
    AP_PPM_PORT=$(free_port)
    while [ "$AP_PPM_PORT" = "$AP_PORT" ]; do
        AP_PPM_PORT=$(free_port)
    done
    if [ "$(id -u)" = 0 ]; then
        # Apache's children refuse to run as root; they only proxy, but the
        # SetHandler form maps URLs to files, so they must reach the root.
        user=www-data group=www-data
        id -u "$user" >/dev/null 2>&1 || user=nobody
        getent group "$group" >/dev/null 2>&1 || group=$(id -gn "$user")
        chmod a+rx "$WORK" "$WORK/root"
    else
        user=$(id -un) group=$(id -gn)
    fi
    mkdir -p "$WORK/apache-run"
    sed -e "s|@WORK@|$WORK|g" -e "s|@ROOT@|$WORK/root|g" -e "s|@PORT@|$AP_PORT|g" \
        -e "s|@PPM_PORT@|$AP_PPM_PORT|g" -e "s|@UPSTREAM@|$upstream|g" \
        -e "s|@USER@|$user|g" -e "s|@GROUP@|$group|g" -e "s|@MODULES@|$APACHE_MODULES|g" \
        "$TESTS_DIR/lib/apache.conf.in" >"$WORK/apache.conf"
    "$APACHE" -f "$WORK/apache.conf" -DFOREGROUND >>"$WORK/apache.out" 2>&1 &
    AP_PID=$!
    echo "$AP_PID" >>"$WORK/started.pids"
    export AP_PID AP_PORT AP_PPM_PORT
    echo "$AP_PID" >"$WORK/apache.main.pid"
    if ! wait_port "$AP_PORT" || ! wait_port "$AP_PPM_PORT"; then
        cat "$WORK/apache.out" "$WORK/apache-error.log" >&2 2>/dev/null
        return 1
    fi
}

stop_apache() {
    stop_pid "${AP_PID:-}"
    AP_PID=
}

# Fail on Apache crashes and serious errors in its log (not on the warnings
# a refused request may log), except lines matching the extended regex $1.
check_apache_log() {
    local allow=${1:-'^$'} bad
    bad=$(grep -hE '\[[a-z_]+:(emerg|alert|crit)\]|Segmentation fault|exit signal' \
        "$WORK/apache-error.log" "$WORK/apache.out" 2>/dev/null | grep -vE "$allow" || true)
    if [ -n "$bad" ]; then
        echo "unexpected Apache log lines:" >&2
        echo "$bad" >&2
        return 1
    fi
}

# ap_http PORT METHOD PATH [curl args...]: http() against an Apache port.
ap_http() {
    local port=$1
    shift
    PORT_OVERRIDE=$port http "$@"
}
