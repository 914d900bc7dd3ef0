#!/usr/bin/env python3
"""fcgi_client.py - a raw FastCGI client for tests that nginx cannot send.

usage: fcgi_client.py HOST:PORT [--param NAME=VALUE]... [--stdin DATA]
                      [--raw HEX] [--timeout S]
Values may contain \\xHH escapes (for NUL bytes).  --raw sends the given
bytes (hex) instead of a well-formed request, then reads what comes back.
Prints the STDOUT stream of the response and exits 0 when an
END_REQUEST record arrived, 3 when the connection closed without one.
"""
import socket
import struct
import sys

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7


def unescape(s):
    return s.encode("latin-1").decode("unicode_escape").encode("latin-1")


def record(rtype, content, req_id=1):
    return struct.pack(">BBHHBB", 1, rtype, req_id, len(content), 0, 0) + content


def length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def main(argv):
    addr = argv[1]
    host, port = addr.rsplit(":", 1)
    host = host.strip("[]")
    params, stdin, raw, timeout = [], b"", None, 5.0
    i = 2
    while i < len(argv):
        if argv[i] == "--param":
            name, value = argv[i + 1].split("=", 1)
            params.append((unescape(name), unescape(value)))
        elif argv[i] == "--stdin":
            stdin = unescape(argv[i + 1])
        elif argv[i] == "--raw":
            raw = bytes.fromhex(argv[i + 1])
        elif argv[i] == "--timeout":
            timeout = float(argv[i + 1])
        else:
            sys.exit("unknown argument " + argv[i])
        i += 2
    s = socket.create_connection((host, int(port)), timeout=timeout)
    if raw is not None:
        s.sendall(raw)
    else:
        body = b"".join(length(len(n)) + length(len(v)) + n + v for n, v in params)
        msg = record(BEGIN, struct.pack(">HB5x", 1, 0))
        msg += record(PARAMS, body) + record(PARAMS, b"")
        if stdin:
            msg += record(STDIN, stdin)
        msg += record(STDIN, b"")
        s.sendall(msg)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    out, ended = b"", False
    while len(data) >= 8:
        _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", data[:8])
        content = data[8:8 + clen]
        data = data[8 + clen + plen:]
        if rtype == STDOUT:
            out += content
        elif rtype == END:
            ended = True
    sys.stdout.buffer.write(out)
    return 0 if ended else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
