#!/usr/bin/env python3
"""memory.py - what a luafpm worker holds: its RSS and private memory idle,
and what N idle kept-alive FastCGI connections (each having served one
request) add to it.  luafpm --workers 1, no web server: raw FastCGI from
here, on 127.0.0.1.

    python3 tests/bench/memory.py [--luafpm BIN] [--connections N] [--cookie BYTES]

Figures from /proc/PID/smaps_rollup of the worker (the master's child).
Stops the luafpm it started, by PID.
"""
import argparse
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6
KEEP_CONN = 1


def record(rtype, content, rid=1):
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), 0, 0) + content


def length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def request(root, cookie=0):
    """A hello request as nginx sends it, asking to keep the connection,
    with a Cookie header of that many bytes when cookie > 0."""
    params = [(b"SCRIPT_FILENAME", root.encode() + b"/hello.lua"), (b"SCRIPT_NAME", b"/hello.lua"),
              (b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/hello.lua"), (b"QUERY_STRING", b""),
              (b"DOCUMENT_ROOT", root.encode()), (b"SERVER_PROTOCOL", b"HTTP/1.1"),
              (b"REMOTE_ADDR", b"127.0.0.1"), (b"SERVER_PORT", b"80"), (b"HTTP_HOST", b"localhost")]
    if cookie > 0:
        params.append((b"HTTP_COOKIE", b"c" * cookie))
    body = b"".join(length(len(n)) + length(len(v)) + n + v for n, v in params)
    return (record(BEGIN, struct.pack(">HB5x", 1, KEEP_CONN)) + record(PARAMS, body) +
            record(PARAMS, b"") + record(STDIN, b""))


def serve_one(s, msg):
    """Send one request, read up to its END_REQUEST; the STDOUT stream."""
    s.sendall(msg)
    buf, out = b"", b""
    while True:
        while len(buf) >= 8:
            _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            if rtype == STDOUT:
                out += buf[8:8 + clen]
            if rtype == END:
                return out
            buf = buf[8 + clen + plen:]
        data = s.recv(65536)
        if not data:
            raise RuntimeError("connection closed before END_REQUEST")
        buf += data


def rollup(pid):
    """Rss, Pss, Private (clean + dirty), Anonymous of pid, in kB."""
    f = {}
    with open("/proc/%d/smaps_rollup" % pid) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                f[parts[0].rstrip(":")] = int(parts[1])
    return {"rss": f["Rss"], "pss": f["Pss"], "private": f["Private_Clean"] + f["Private_Dirty"],
            "anon": f["Anonymous"]}


def by_mapping(pid):
    """Rss in kB of pid's mappings, summed by name ([heap], [stack], a file,
    or "anonymous")."""
    out, name = {}, None
    with open("/proc/%d/smaps" % pid) as fh:
        for line in fh:
            parts = line.split()
            if "-" in parts[0] and not parts[0].endswith(":"):
                name = parts[5] if len(parts) > 5 else "anonymous"
            elif parts[0] == "Rss:":
                out[name] = out.get(name, 0) + int(parts[1])
    return out


def children(pid):
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as fh:
            out += [int(c) for c in fh.read().split()]
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def show(label, m):
    print("%-44s RSS %6.2f MB  private %6.2f MB  PSS %6.2f MB  anon %6.2f MB" %
          (label, m["rss"] / 1024, m["private"] / 1024, m["pss"] / 1024, m["anon"] / 1024))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--luafpm", default=os.environ.get("LUAFPM_BIN", os.path.join(here, "../../luafpm")))
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--cookie", type=int, default=0, metavar="BYTES",
                    help="add a Cookie header of BYTES to each request")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.connections + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    work = tempfile.mkdtemp(prefix="luafpm-mem.")
    shutil.copy(os.path.join(here, "handlers/hello.lua"), work)
    port = free_port()
    proc = subprocess.Popen([a.luafpm, "--listen", "127.0.0.1:%d" % port, "--workers", "1",
                             "--root", work, "--error-log", os.path.join(work, "luafpm.log")])
    conns = []
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    sys.exit("luafpm did not start listening")
                time.sleep(0.05)
        time.sleep(0.3)
        worker = children(proc.pid)
        if len(worker) != 1:
            sys.exit("expected one worker, found %r" % worker)
        worker = worker[0]
        msg = request(work, a.cookie)
        show("idle worker, fresh (no request yet)", rollup(worker))
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        out = serve_one(s, msg)
        if not out.endswith(b"hello world\n"):
            sys.exit("unexpected answer %r" % out)
        s.close()
        time.sleep(0.2)
        before = rollup(worker)
        maps_before = by_mapping(worker)
        show("idle worker after 1 request", before)
        for _ in range(a.connections):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            serve_one(s, msg)
            conns.append(s)
        time.sleep(0.5)
        after = rollup(worker)
        show("with %d idle kept-alive connections" % a.connections, after)
        d = after["rss"] - before["rss"]
        print("%d connections add %.2f MB RSS (%.1f kB each), %.2f MB private" %
              (a.connections, d / 1024, d / a.connections, (after["private"] - before["private"]) / 1024))
        maps_after = by_mapping(worker)
        for name in sorted(maps_after, key=lambda k: maps_before.get(k, 0) - maps_after[k]):
            grew = maps_after[name] - maps_before.get(name, 0)
            if grew >= 64:
                print("  %s grew %.2f MB (%d kB -> %d kB)" % (name, grew / 1024, maps_before.get(name, 0),
                                                            maps_after[name]))
        for s in conns:
            s.close()
        conns = []
        time.sleep(0.5)
        show("after they closed", rollup(worker))
    finally:
        for s in conns:
            s.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
