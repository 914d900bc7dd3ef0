#!/usr/bin/env python3
"""fcgi_attack.py - FastCGI record sequences no web server sends, for the
codec's tests: each prints what came back, one fact a line.

usage: fcgi_attack.py HOST:PORT SCRIPT CASE [ARG]

SCRIPT is the SCRIPT_FILENAME of a handler that prints "hello <uri>";
CASE is one of the functions named case_* below.
"""
import socket
import struct
import sys
import time

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, STDERR, DATA, GET_VALUES, \
    GET_VALUES_RESULT, UNKNOWN_TYPE = range(1, 12)


def record(rtype, content=b"", req_id=1, padding=0):
    return (struct.pack(">BBHHBB", 1, rtype, req_id, len(content), padding, 0)
            + content + b"\0" * padding)


def length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def pairs(items):
    return b"".join(length(len(k)) + length(len(v)) + k + v for k, v in items)


def begin(req_id=1, role=1, keep=True):
    return record(BEGIN, struct.pack(">HB5x", role, 1 if keep else 0), req_id)


def request(script, uri, req_id=1, keep=True, padding=0):
    params = pairs([(b"SCRIPT_FILENAME", script.encode()), (b"REQUEST_METHOD", b"GET"),
                    (b"REQUEST_URI", uri.encode()), (b"QUERY_STRING", b"")])
    return (begin(req_id, keep=keep) + record(PARAMS, params, req_id, padding)
            + record(PARAMS, b"", req_id, padding) + record(STDIN, b"", req_id, padding))


class Conn:
    def __init__(self, addr, timeout=5.0):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=timeout)
        self.buf = b""
        self.closed = False

    def send(self, data):
        if self.closed:
            return
        try:
            self.s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True  # the server gave up on us first

    def _fill(self):
        try:
            d = self.s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            d = b""
        if not d:
            self.closed = True
        self.buf += d
        return bool(d)

    def record(self):
        """The next record (type, id, content), or None at the close."""
        while len(self.buf) < 8:
            if not self._fill():
                return None
        _, rtype, rid, clen, plen, _ = struct.unpack(">BBHHBB", self.buf[:8])
        while len(self.buf) < 8 + clen + plen:
            if not self._fill():
                return None
        content = self.buf[8:8 + clen]
        self.buf = self.buf[8 + clen + plen:]
        return rtype, rid, content

    def response(self, req_id=1):
        """STDOUT of req_id up to its END_REQUEST: (body, protocolStatus),
        or (what came, None) when the connection closed first."""
        out = b""
        while True:
            r = self.record()
            if r is None:
                return out, None
            rtype, rid, content = r
            if rtype == STDOUT and rid == req_id:
                out += content
            elif rtype == END and rid == req_id:
                return out, content[4]

    def closed_by_peer(self):
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return True


def body_of(out):
    return out.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()


def say(*a):
    print(*a, flush=True)


def case_get_values(addr, script, arg):
    """FCGI_GET_VALUES with many names, then a request on the same connection."""
    n = int(arg or 16)
    names = [b"FCGI_MAX_CONNS", b"FCGI_MAX_REQS", b"FCGI_MPXS_CONNS"]
    names += [b"X_UNKNOWN_%d" % i for i in range(n - 3)]
    c = Conn(addr)
    c.send(record(GET_VALUES, pairs([(k, b"") for k in names]), 0))
    r = c.record()
    say("type", r[0], "id", r[1])
    content, pos = r[2], 0
    while pos < len(content):
        nl, vl = content[pos], content[pos + 1]
        pos += 2
        say("value", content[pos:pos + nl].decode(), content[pos + nl:pos + nl + vl].decode())
        pos += nl + vl
    c.send(request(script, "/after-get-values"))
    out, status = c.response()
    say("status", status, "body", body_of(out))


def case_huge_length(addr, script, arg):
    """A PARAMS name length of 0x7ffffffe (int overflow into malloc in libfcgi)."""
    c = Conn(addr)
    bogus = struct.pack(">I", 0x7ffffffe | 0x80000000) + b"\x01" + b"X" * 20
    c.send(begin() + record(PARAMS, bogus) + record(PARAMS, b"") + record(STDIN, b""))
    out, status = c.response()
    say("closed", status is None)


def case_too_many_params(addr, script, arg):
    """Params over the 1 MiB limit: refused, the connection closed."""
    c = Conn(addr)
    c.send(begin())
    chunk = pairs([(b"HTTP_X_%d" % i, b"v" * 1000) for i in range(60)])
    for _ in range(20):  # ~1.2 MiB
        c.send(record(PARAMS, chunk))
    c.send(record(PARAMS, b"") + record(STDIN, b""))
    out, status = c.response()
    say("closed", status is None)


def case_pipeline(addr, script, arg):
    """Several requests in one write on a kept connection: answered in order."""
    n = int(arg or 5)
    c = Conn(addr)
    c.send(b"".join(request(script, "/p%d" % i, req_id=i + 1) for i in range(n)))
    for i in range(n):
        out, status = c.response(i + 1)
        say("response", i + 1, "status", status, "body", body_of(out))


def case_split(addr, script, arg):
    """A request with padding sent a byte at a time."""
    c = Conn(addr)
    data = request(script, "/split", padding=3)
    for i in range(len(data)):
        c.send(data[i:i + 1])
        if i % 64 == 0:
            time.sleep(0.001)
    out, status = c.response()
    say("status", status, "body", body_of(out))


def case_abort_before(addr, script, arg):
    """ABORT_REQUEST before the params end: answered, the connection goes on."""
    c = Conn(addr)
    c.send(begin() + record(PARAMS, pairs([(b"REQUEST_METHOD", b"GET")])) + record(ABORT))
    out, status = c.response()
    say("aborted status", status, "output", len(out))
    c.send(request(script, "/after-abort"))
    out, status = c.response()
    say("status", status, "body", body_of(out))


def case_abort_body(addr, script, arg):
    """ABORT_REQUEST while the handler reads the body (SCRIPT reads it)."""
    c = Conn(addr)
    params = pairs([(b"SCRIPT_FILENAME", script.encode()), (b"REQUEST_METHOD", b"POST"),
                    (b"REQUEST_URI", b"/abort-body"), (b"CONTENT_LENGTH", b"100000")])
    c.send(begin() + record(PARAMS, params) + record(PARAMS, b"") + record(STDIN, b"x" * 1000))
    time.sleep(0.2)
    c.send(record(ABORT))
    out, status = c.response()
    say("answered", status is not None or c.closed)


def case_abort_parked(addr, script, arg):
    """ABORT_REQUEST while the handler waits (SCRIPT sleeps): prints how it
    ended ("end <protocolStatus>" or "closed") and after how long."""
    c = Conn(addr, timeout=10)
    c.send(request(script, "/abort-parked"))
    time.sleep(0.3)
    t0 = time.time()
    c.send(record(ABORT))
    out, status = c.response()
    say("end %d" % status if status is not None else "closed",
        "after %.1f s" % (time.time() - t0))


def case_unknown_role(addr, script, arg):
    """An AUTHORIZER request: END_REQUEST with FCGI_UNKNOWN_ROLE."""
    c = Conn(addr)
    c.send(begin(role=2) + record(PARAMS, b"") + record(STDIN, b""))
    out, status = c.response()
    say("status", status)
    c.send(request(script, "/after-role", req_id=2))
    out, status = c.response(2)
    say("status", status, "body", body_of(out))


def case_multiplex(addr, script, arg):
    """A second BEGIN_REQUEST while one is under way: FCGI_CANT_MPX_CONN."""
    c = Conn(addr)
    params = pairs([(b"SCRIPT_FILENAME", script.encode()), (b"REQUEST_METHOD", b"GET"),
                    (b"REQUEST_URI", b"/first")])
    c.send(begin(1) + record(PARAMS, params, 1) + begin(2))
    r = c.record()
    say("type", r[0], "id", r[1], "protocol", r[2][4])
    c.send(record(PARAMS, b"", 1) + record(STDIN, b"", 1))
    out, status = c.response(1)
    say("status", status, "body", body_of(out))


def case_id_zero(addr, script, arg):
    """BEGIN_REQUEST with request id 0: the connection is closed."""
    c = Conn(addr)
    c.send(begin(0) + record(PARAMS, b"", 0) + record(STDIN, b"", 0))
    out, status = c.response(0)
    say("closed", status is None)


def case_unknown_type(addr, script, arg):
    """A management record of an unknown type: FCGI_UNKNOWN_TYPE."""
    c = Conn(addr)
    c.send(record(99, b"abc", 0))
    r = c.record()
    say("type", r[0], "of", r[2][0])


def case_other_ids(addr, script, arg):
    """Records of ids other than the request's, and DATA, are skipped."""
    c = Conn(addr)
    c.send(begin(7) + record(STDIN, b"noise", 9) + record(DATA, b"noise", 7))
    c.send(record(PARAMS, pairs([(b"SCRIPT_FILENAME", script.encode()),
                                 (b"REQUEST_URI", b"/other-ids")]), 7))
    c.send(record(PARAMS, b"", 3) + record(PARAMS, b"", 7) + record(STDIN, b"", 7))
    out, status = c.response(7)
    say("status", status, "body", body_of(out))


def case_bad_version(addr, script, arg):
    """A record of version 2: the connection is closed."""
    c = Conn(addr)
    c.send(b"\x02" + begin()[1:])
    say("closed", c.closed_by_peer())


def case_log_forge(addr, script, arg):
    """A request URI with a newline and a forged log line in it."""
    c = Conn(addr)
    params = pairs([(b"SCRIPT_FILENAME", script.encode()), (b"REQUEST_METHOD", b"GET\n[emerg] m"),
                    (b"REQUEST_URI", b"/x\n2026/01/01 00:00:00 [emerg] 1#0: forged")])
    c.send(begin() + record(PARAMS, params) + record(PARAMS, b"") + record(STDIN, b""))
    out, status = c.response()
    say("status", status)


def case_many_conns(addr, script, arg):
    """N kept connections open at once, two requests on each in turn."""
    n = int(arg or 100)
    conns = [Conn(addr, timeout=20) for _ in range(n)]
    answered = 0
    for rnd in range(2):
        for i, c in enumerate(conns):
            c.send(request(script, "/c%d-%d" % (i, rnd)))
        for i, c in enumerate(conns):
            out, status = c.response()
            if status == 0 and body_of(out) == "hello /c%d-%d" % (i, rnd):
                answered += 1
    say("answered", answered, "of", 2 * n)


def case_hold_partial(addr, script, arg):
    """Send half a record header and hold the connection for ARG seconds."""
    c = Conn(addr)
    c.send(begin()[:4])
    say("holding")
    time.sleep(float(arg or 5))


def case_hold_idle(addr, script, arg):
    """Connect, send nothing, hold for ARG seconds."""
    c = Conn(addr)
    say("holding")
    time.sleep(float(arg or 5))
    c.s.close()


def case_send_and_go(addr, script, arg):
    """A whole request for SCRIPT (query string ARG), then close at once."""
    c = Conn(addr)
    params = pairs([(b"SCRIPT_FILENAME", script.encode()), (b"REQUEST_METHOD", b"GET"),
                    (b"REQUEST_URI", b"/gone"), (b"QUERY_STRING", (arg or "").encode())])
    c.send(begin() + record(PARAMS, params) + record(PARAMS, b"") + record(STDIN, b""))
    c.s.close()
    say("sent")


def case_stall_body(addr, script, arg):
    """A POST that promises 100000 bytes, sends 1000, and stalls ARG s."""
    c = Conn(addr, timeout=30)
    params = pairs([(b"SCRIPT_FILENAME", script.encode()), (b"REQUEST_METHOD", b"POST"),
                    (b"REQUEST_URI", b"/stall"), (b"CONTENT_LENGTH", b"100000")])
    c.send(begin() + record(PARAMS, params) + record(PARAMS, b"") + record(STDIN, b"x" * 1000))
    say("holding")
    time.sleep(float(arg or 5))


def case_trickle_body(addr, script, arg):
    """A POST of 1000 bytes sent 100 at a time over ARG s (2 by default),
    then its response read: prints "status <s>" and the body."""
    total = float(arg or 2)
    c = Conn(addr, timeout=total + 20)
    params = pairs([(b"SCRIPT_FILENAME", script.encode()), (b"REQUEST_METHOD", b"POST"),
                    (b"REQUEST_URI", b"/trickle"), (b"CONTENT_LENGTH", b"1000")])
    c.send(begin() + record(PARAMS, params) + record(PARAMS, b""))
    say("holding")
    for _ in range(10):
        time.sleep(total / 10)
        c.send(record(STDIN, b"y" * 100))
    c.send(record(STDIN, b""))
    out, status = c.response()
    say("status", status)
    say(body_of(out))


def case_no_read(addr, script, arg):
    """A request whose response is never read (a tiny receive buffer)."""
    host, port = addr.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, int(port)))
    s.sendall(request(script, "/big"))
    say("holding")
    time.sleep(float(arg or 5))


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    addr, script, case = argv[1], argv[2], argv[3]
    arg = argv[4] if len(argv) > 4 else None
    globals()["case_" + case](addr, script, arg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
