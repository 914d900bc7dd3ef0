#!/usr/bin/env python3
"""Seed inputs for tests/fuzz/fcgi_fuzz: byte streams as a web server sends
them.  The first byte of each file picks the chunk size the entry point
feeds the parser (byte % 17 + 1).

    python3 tests/fuzz/seeds.py DIR
"""
import os
import struct
import sys

BEGIN_REQUEST, ABORT_REQUEST, PARAMS, STDIN, DATA, GET_VALUES = 1, 2, 4, 5, 8, 9
RESPONDER, KEEP_CONN = 1, 1


def record(rtype, rid, content=b"", padding=None):
    """One record; padding to a multiple of 8 as nginx does, unless given."""
    if padding is None:
        padding = -len(content) % 8
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), padding, 0) + content + b"\0" * padding


def length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def pairs(items):
    return b"".join(length(len(k)) + length(len(v)) + k + v for k, v in items)


def begin(rid, flags=KEEP_CONN):
    return record(BEGIN_REQUEST, rid, struct.pack(">HB5x", RESPONDER, flags))


NGINX_PARAMS = [
    (b"QUERY_STRING", b"a=1&b=%20x"),
    (b"REQUEST_METHOD", b"GET"),
    (b"CONTENT_TYPE", b""),
    (b"CONTENT_LENGTH", b""),
    (b"SCRIPT_NAME", b"/hello.lua"),
    (b"REQUEST_URI", b"/hello.lua?a=1&b=%20x"),
    (b"DOCUMENT_URI", b"/hello.lua"),
    (b"DOCUMENT_ROOT", b"/srv/app"),
    (b"SERVER_PROTOCOL", b"HTTP/1.1"),
    (b"REQUEST_SCHEME", b"http"),
    (b"GATEWAY_INTERFACE", b"CGI/1.1"),
    (b"SERVER_SOFTWARE", b"nginx/1.22.1"),
    (b"REMOTE_ADDR", b"127.0.0.1"),
    (b"REMOTE_PORT", b"51234"),
    (b"SERVER_ADDR", b"127.0.0.1"),
    (b"SERVER_PORT", b"8080"),
    (b"SERVER_NAME", b"localhost"),
    (b"SCRIPT_FILENAME", b"/srv/app/hello.lua"),
    (b"HTTP_HOST", b"127.0.0.1:8080"),
    (b"HTTP_USER_AGENT", b"curl/7.88.1"),
    (b"HTTP_ACCEPT", b"*/*"),
    (b"HTTP_COOKIE", b"x" * 200),
]


def request(rid=1, params=NGINX_PARAMS, body=b"", split=None):
    """BEGIN_REQUEST, PARAMS (cut into records of split bytes), empty
    PARAMS, STDIN with the body, empty STDIN."""
    p = pairs(params)
    split = split or len(p) or 1
    out = begin(rid)
    for i in range(0, len(p), split):
        out += record(PARAMS, rid, p[i:i + split])
    out += record(PARAMS, rid)
    if body:
        out += record(STDIN, rid, body)
    return out + record(STDIN, rid)


def seeds():
    post = [(b"REQUEST_METHOD", b"POST"), (b"CONTENT_LENGTH", b"11"),
            (b"CONTENT_TYPE", b"application/x-www-form-urlencoded"),
            (b"SCRIPT_FILENAME", b"/srv/app/post.lua")]
    yield "nginx-get", b"\x10" + request()
    yield "nginx-get-bytewise", b"\x00" + request()
    yield "nginx-post", b"\x07" + request(params=post, body=b"a=1&b=2&c=3")
    yield "params-split", b"\x03" + request(split=13)
    yield "keepalive-two", b"\x10" + request(1) + request(1, params=post, body=b"a=1&b=2&c=3")
    yield "long-lengths", b"\x05" + request(params=[(b"N" * 130, b"V" * 300), (b"E", b"")])
    yield "get-values", b"\x10" + record(GET_VALUES, 0, pairs(
        [(b"FCGI_MAX_CONNS", b""), (b"FCGI_MAX_REQS", b""), (b"FCGI_MPXS_CONNS", b""),
         (b"FCGI_UNKNOWN", b""), (b"FCGI_MAX_CONNS", b"")]))
    yield "get-values-then-request", b"\x02" + record(GET_VALUES, 0, pairs(
        [(b"FCGI_MPXS_CONNS", b"")])) + request()
    yield "padding-odd", b"\x10" + begin(1) + record(PARAMS, 1, pairs(NGINX_PARAMS[:4]), 255) + \
        record(PARAMS, 1, b"", 7) + record(STDIN, 1, b"body", 0) + record(STDIN, 1, b"", 3)
    yield "abort-and-data", b"\x04" + begin(1) + record(PARAMS, 1) + record(ABORT_REQUEST, 1) + \
        record(DATA, 1, b"data") + record(STDIN, 1)
    yield "truncated-pair", b"\x10" + begin(1) + record(PARAMS, 1, b"\x80\x00\x00\x05\x01ab") + \
        record(PARAMS, 1)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: seeds.py DIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
