#!/usr/bin/env python3
"""fcgi_record.py - a FastCGI application that records what a web server
sends, for tests/unit/capture.sh (run by hand, not by make check).

usage: fcgi_record.py PORT OUT [NREQ]
Listens on 127.0.0.1:PORT, accepts one connection, writes every byte read
from it to OUT, and answers each request (once its empty STDIN record has
arrived) with a minimal response: STDOUT headers and body, the empty
STDOUT, END_REQUEST.  Closes after NREQ requests (default 1) and exits 0;
exits 1 after 20 s without them.  Prints "ready" once listening.
"""
import socket
import struct
import sys

BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6
BODY = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nrecorded\n"


def record(rtype, req_id, content):
    return struct.pack(">BBHHBB", 1, rtype, req_id, len(content), 0, 0) + content


def main(argv):
    port, out = int(argv[1]), argv[2]
    nreq = int(argv[3]) if len(argv) > 3 else 1
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    srv.settimeout(20)
    print("ready", flush=True)
    conn, _ = srv.accept()
    srv.close()
    conn.settimeout(20)
    data, pos, answered = b"", 0, 0
    try:
        while answered < nreq:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
            # Walk the complete records not yet seen.
            while len(data) - pos >= 8:
                ver, rtype, req_id, clen, plen = struct.unpack(">BBHHB", data[pos:pos + 7])
                if ver != 1:
                    print("fcgi_record.py: version %d at %d" % (ver, pos), file=sys.stderr)
                    return 1
                if len(data) - pos < 8 + clen + plen:
                    break
                pos += 8 + clen + plen
                if rtype == STDIN and clen == 0:
                    conn.sendall(record(STDOUT, req_id, BODY) + record(STDOUT, req_id, b"") +
                                 record(END, req_id, bytes(8)))
                    answered += 1
    except socket.timeout:
        print("fcgi_record.py: timed out after %d requests" % answered, file=sys.stderr)
    conn.close()
    with open(out, "wb") as f:
        f.write(data)
    return 0 if answered == nreq and pos == len(data) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
