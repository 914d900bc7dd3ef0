#!/usr/bin/env bats
# Deployment: -t, --pid, --user/--group, systemd's readiness notification
# and socket activation, the generated man page and example config.

load lib/helpers

BUILDDIR=${LUAFPM_BUILDDIR:-$(cd "$(dirname "$LUAFPM_BIN")" && pwd)}

setup_file() {
    make_work
    # --user nobody must reach the scripts.
    chmod 755 "$WORK"
    install_app basic
    printf 'ngx.say("LISTEN_PID=", os.getenv("LISTEN_PID") or "unset")\n' >"$WORK/root/env.lua"
}

teardown_file() {
    teardown_common
}

# Stop what a test started, whatever its outcome.
teardown() {
    stop_all
    NGX_PID="" LF_PID=""
}

# A tree of scripts under $WORK/$1: good ones, a #! one, a module, a file
# that is not Lua, and a symlink to a directory outside holding a bad one.
make_tree() {
    local t=$WORK/$1
    mkdir -p "$t/lib/deep" "$WORK/outside"
    printf 'ngx.say("a")\n' >"$t/a.lua"
    printf '#!/usr/bin/env luajit\nlocal n = 1\nngx.say(n)\n' >"$t/shebang.lua"
    printf 'local M = {}\nfunction M.f() return 1 end\nreturn M\n' >"$t/lib/deep/mod.lua"
    printf 'not lua {{{\n' >"$t/notes.txt"
    printf 'this is ( not lua\n' >"$WORK/outside/evil.lua"
    ln -sfn "$WORK/outside" "$t/outside-link"
}

@test "-t: a good tree compiles, symlinks out of the root are not followed" {
    make_tree t-good
    run "$LUAFPM_BIN" --root "$WORK/t-good" -t
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "luafpm: configuration ok, 3 files compiled" ]
}

@test "-t: a syntax error is reported as file:line, exit 1" {
    make_tree t-bad
    # Line 5 counts the #! line, as the worker does.
    printf '#!/usr/bin/env luajit\nlocal x = 1\nif x then\n    ngx.say(x\nend\n' >"$WORK/t-bad/lib/bad.lua"
    run "$LUAFPM_BIN" --root "$WORK/t-bad" -t
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$WORK/t-bad/lib/bad.lua:5: ')' expected (to close '(' at line 4)"* ]]
    [[ "$output" == *"luafpm: 1 of 4 files failed"* ]]
    [[ "$output" != *"configuration ok"* ]]
}

@test "-t: a bad config or an unknown user exits 1 with the message" {
    printf 'backlog = 64\nworkers = many\n' >"$WORK/bad.conf"
    run "$LUAFPM_BIN" --conf "$WORK/bad.conf" --root "$WORK/root" -t
    [ "$status" -eq 1 ]
    [[ "$output" == *"$WORK/bad.conf:2: invalid value \"many\" for option \"workers\""* ]]
    run "$LUAFPM_BIN" --root "$WORK/no-such-root" -t
    [ "$status" -eq 1 ]
    [[ "$output" == *"invalid --root"* ]]
    run "$LUAFPM_BIN" --root "$WORK/root" --user no-such-user-lf -t
    [ "$status" -eq 1 ]
    [[ "$output" == *'unknown user "no-such-user-lf"'* ]]
    run "$LUAFPM_BIN" --root "$WORK/root" --user nobody --group no-such-group-lf -t
    [ "$status" -eq 1 ]
    [[ "$output" == *'unknown group "no-such-group-lf"'* ]]
    run "$LUAFPM_BIN" --root "$WORK/root" --group nogroup -t
    [ "$status" -eq 1 ]
    [[ "$output" == *'option "group" needs option "user"'* ]]
}

@test "--pid: written once serving, a second start refused, removed at exit; a stale one replaced" {
    local pidfile=$WORK/lf.pid
    start_luafpm --pid "$pidfile" --workers 1
    [ "$(cat "$pidfile")" = "$LF_PID" ]
    local p
    p=$(free_port)
    run "$LUAFPM_BIN" --listen "127.0.0.1:$p" --root "$WORK/root" --pid "$pidfile"
    [ "$status" -eq 1 ]
    [[ "$output" == *"pid file \"$pidfile\" names a running luafpm (pid $LF_PID)"* ]]
    [ "$(cat "$pidfile")" = "$LF_PID" ]
    stop_pid "$LF_PID"
    [ ! -e "$pidfile" ]
    # A live process that is not luafpm (this shell): stale, overwritten.
    echo $$ >"$pidfile"
    start_luafpm --pid "$pidfile" --workers 1
    [ "$(cat "$pidfile")" = "$LF_PID" ]
    stop_pid "$LF_PID"
    [ ! -e "$pidfile" ]
}

@test "--user nobody --group nogroup: the socket is theirs, master and workers run as nobody" {
    [ "$(id -u)" = 0 ] || skip "needs root"
    getent passwd nobody >/dev/null && getent group nogroup >/dev/null || skip "no nobody/nogroup"
    local sock=$WORK/user.sock i
    start_luafpm --listen "unix:$sock" --workers 2 --user nobody --group nogroup
    for ((i = 0; i < 200; i++)); do
        [ -S "$sock" ] && [ "$(stat -c %U:%G "$sock")" = nobody:nogroup ] && break
        sleep 0.05
    done
    [ "$(stat -c %U:%G:%a "$sock")" = nobody:nogroup:660 ]
    start_nginx "unix:$sock"
    http GET /hello.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "hello world" ]
    local pids
    pids=$(worker_pids "$LF_PID")
    [ "$(wc -w <<<"$pids")" -eq 2 ]
    for p in "$LF_PID" $pids; do
        grep -E '^Uid:' "/proc/$p/status"
        grep -qE '^Uid:\s+65534\s+65534\s+65534\s+65534$' "/proc/$p/status"
        grep -qE '^Gid:\s+65534\s+65534\s+65534\s+65534$' "/proc/$p/status"
        grep -qE '^Groups:\s*65534\s*$' "/proc/$p/status"
    done
    grep -q 'running as user nobody (uid 65534, gid 65534)' "$WORK/luafpm.log"
}

@test "without root: --user other than ours is refused; -t skips unreadable directories" {
    command -v setpriv >/dev/null || skip "no setpriv"
    local asnobody=(setpriv --reuid nobody --regid nogroup --clear-groups)
    "${asnobody[@]}" "$LUAFPM_BIN" --version >/dev/null 2>&1 || skip "binary not executable by nobody"
    run "${asnobody[@]}" "$LUAFPM_BIN" --root "$WORK/root" --user root -t
    [ "$status" -eq 1 ]
    [[ "$output" == *'cannot run as user "root": not started as root'* ]]
    # -t skips a directory it cannot read, and says so.
    make_tree t-priv
    mkdir -m 700 "$WORK/t-priv/secret"
    printf 'this is ( not lua\n' >"$WORK/t-priv/secret/hidden.lua"
    run "${asnobody[@]}" "$LUAFPM_BIN" --root "$WORK/t-priv" --user nobody -t
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"cannot read directory $WORK/t-priv/secret (13: Permission denied), skipped"* ]]
    [[ "$output" == *"configuration ok, 3 files compiled"* ]]
}

# notify_listen ADDR: a datagram socket at ADDR (a path or @abstract) that
# writes the first message to $WORK/notify.out; bounded by 10 s.
notify_listen() {
    rm -f "$WORK/notify.out" "$WORK/notify.bound"
    python3 - "$1" "$WORK" <<'EOF' &
import os, socket, sys
addr, work = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
if not addr.startswith("@"):
    os.chmod(addr, 0o777)  # as systemd's /run/systemd/notify
open(work + "/notify.bound", "w").close()
s.settimeout(10)
data = s.recv(4096)
with open(work + "/notify.out", "wb") as f:
    f.write(data)
EOF
    NOTIFY_PID=$!
    local i
    for ((i = 0; i < 200; i++)); do
        [ -e "$WORK/notify.bound" ] && return 0
        sleep 0.05
    done
    return 1
}

@test "NOTIFY_SOCKET: READY=1 with MAINPID once serving (path and abstract)" {
    notify_listen "$WORK/notify.sock"
    NOTIFY_SOCKET=$WORK/notify.sock start_luafpm --workers 1
    wait "$NOTIFY_PID"
    [ "$(cat "$WORK/notify.out")" = "$(printf 'READY=1\nMAINPID=%s' "$LF_PID")" ]
    stop_pid "$LF_PID"
    notify_listen "@luafpm-test-$$"
    NOTIFY_SOCKET=@luafpm-test-$$ start_luafpm --workers 0
    wait "$NOTIFY_PID"
    [ "$(cat "$WORK/notify.out")" = "$(printf 'READY=1\nMAINPID=%s' "$LF_PID")" ]
}

# python_activate PORT CMD...: CMD gets a listening socket on 127.0.0.1:PORT as
# fd 3 with LISTEN_FDS=1 and LISTEN_PID=its pid (exec keeps the pid).
python_activate() {
    local port=$1
    shift
    python3 - "$port" "$@" <<'EOF' &
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execve(sys.argv[2], sys.argv[2:], env)
EOF
    LF_PID=$!
}

# Serve through nginx on the activated socket; the variables are gone.
check_activated() {
    wait_port "$LF_PORT"
    start_nginx "127.0.0.1:$LF_PORT"
    http GET /hello.lua
    [ "$STATUS" = 200 ]
    [ "$BODY" = "hello world" ]
    http GET /env.lua
    [ "$BODY" = "LISTEN_PID=unset" ]
    grep -q 'started on fd:3 (systemd)' "$WORK/activate.log"
}

@test "socket activation: LISTEN_FDS/LISTEN_PID, fd 3 (python launcher)" {
    LF_PORT=$(free_port)
    python_activate "$LF_PORT" "$LUAFPM_BIN" --root "$WORK/root" --workers 1 \
        --error-log "$WORK/activate.log"
    check_activated
}

@test "socket activation: systemd-socket-activate" {
    command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
    LF_PORT=$(free_port)
    rm -f "$WORK/activate.log"
    systemd-socket-activate -l "127.0.0.1:$LF_PORT" "$LUAFPM_BIN" --root "$WORK/root" \
        --workers 1 --error-log "$WORK/activate.log" 2>>"$WORK/luafpm.out" &
    LF_PID=$!
    check_activated
}

# The long options --help lists, one a line, sorted.
help_options() {
    "$LUAFPM_BIN" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+' | sort
}

@test "the man page renders without warnings and lists every option of --help" {
    local man=$BUILDDIR/doc/luafpm.8
    [ -f "$man" ]
    command -v groff >/dev/null || skip "groff not installed (Debian: groff-base)"
    groff -man -Tutf8 -ww "$man" >/dev/null 2>"$WORK/groff.err"
    cat "$WORK/groff.err"
    [ ! -s "$WORK/groff.err" ]
    help_options >"$WORK/help.opts"
    groff -man -Tascii -P-c -P-b -P-u "$man" 2>/dev/null | sed -n '/^OPTIONS/,/^CONFIGURATION FILE/p' \
        | grep -oE '^ {7}(-[a-zA-Z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+' | sort >"$WORK/man.opts"
    [ "$(wc -l <"$WORK/help.opts")" -ge 20 ]
    diff "$WORK/help.opts" "$WORK/man.opts"
    [[ "$(head -5 "$man")" == *'.TH LUAFPM 8'* ]]
    ! grep -q '@LF_' "$man"
}

@test "examples/luafpm.conf: every file option, commented out; accepted as is and uncommented" {
    local conf=$BUILDDIR/examples/luafpm.conf
    [ -f "$conf" ]
    run "$LUAFPM_BIN" --conf "$conf" --root "$WORK/root" -t
    [ "$status" -eq 0 ]
    [[ "$output" == "luafpm: configuration ok, "*" files compiled" ]]
    local opt
    for opt in $(help_options); do
        case $opt in --conf | --test | --lint | --version | --help) continue ;; esac
        grep -q "^#${opt#--} = " "$conf"
    done
    # The defaults shown are valid values: uncomment them all.
    sed -E 's/^#([a-z-]+ = [^A-Z]*)$/\1/' "$conf" >"$WORK/uncommented.conf"
    [ "$(grep -cE '^[a-z]' "$WORK/uncommented.conf")" -ge 10 ]
    run "$LUAFPM_BIN" --conf "$WORK/uncommented.conf" --root "$WORK/root" -t
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "NOTIFY_SOCKET: RELOADING=1 then READY=1 around a reload, STOPPING=1 at the stop" {
    rm -f "$WORK/notify-all.out" "$WORK/notify-all.bound"
    python3 - "$WORK/notify-all.sock" "$WORK" <<'EOF2' &
import os, socket, sys
addr, work = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(addr)
os.chmod(addr, 0o777)
open(work + "/notify-all.bound", "w").close()
s.settimeout(15)
got = []
while True:
    try:
        data = s.recv(4096).decode()
    except socket.timeout:
        break
    got.append(data.replace("\n", "|"))
    if data.startswith("STOPPING=1"):
        break
with open(work + "/notify-all.out", "w") as f:
    f.write("\n".join(got) + "\n")
EOF2
    local listener=$! i
    for ((i = 0; i < 200; i++)); do [ -e "$WORK/notify-all.bound" ] && break; sleep 0.05; done
    NOTIFY_SOCKET=$WORK/notify-all.sock start_luafpm --workers 2
    for ((i = 0; i < 200; i++)); do grep -q 'worker 1 started' "$WORK/luafpm.log" && break; sleep 0.05; done
    sleep 0.2
    kill -HUP "$LF_PID"
    for ((i = 0; i < 200; i++)); do grep -q 'reload done' "$WORK/luafpm.log" && break; sleep 0.05; done
    stop_pid "$LF_PID" QUIT
    wait "$listener"
    cat "$WORK/notify-all.out" >&3
    [ "$(sed -n 1p "$WORK/notify-all.out")" = "READY=1|MAINPID=$LF_PID" ]
    [ "$(sed -n 2p "$WORK/notify-all.out")" = "RELOADING=1" ]
    [ "$(sed -n 3p "$WORK/notify-all.out")" = "READY=1|STATUS=reloaded" ]
    [ "$(sed -n 4p "$WORK/notify-all.out")" = "STOPPING=1" ]
}

@test "README's two commands in either order: after demo.sh the tree still builds out of tree" {
    command -v git >/dev/null || skip "git not installed"
    # The source tree itself must be the checkout (make distcheck builds
    # from an unpacked tarball, which may sit inside another checkout).
    [ "$(git -C "$LUAFPM_SRCDIR" rev-parse --show-toplevel 2>/dev/null)" = \
      "$(cd "$LUAFPM_SRCDIR" && pwd -P)" ] || skip "the source tree is not a git checkout"
    local port
    for port in 8080 9000; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            skip "127.0.0.1:$port is in use (the demo's ports)"
        fi
    done
    local clone=$WORK/clone
    git clone -q "$LUAFPM_SRCDIR" "$clone"
    # The demo (it built in the source tree, which made tests/run.sh's
    # out-of-tree configure fail: "source directory already configured").
    run env DEMO_SECONDS=1 bash "$clone/examples/demo.sh"
    echo "$output" | tail -5
    [ "$status" -eq 0 ]
    [[ "$output" == *"luafpm is serving"* ]]
    [ ! -e "$clone/config.status" ]
    # tests/run.sh's own step: configure in _build/<variant>.
    mkdir -p "$clone/_build/plain"
    run bash -c "cd '$clone/_build/plain' && ../../configure -q"
    echo "$output" | tail -5
    [ "$status" -eq 0 ]
    rm -rf "$clone"
}
