#!/usr/bin/env python3
"""udp_echo.py PORT - answers each datagram with "echo:" and the datagram."""
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(65536)
    s.sendto(b"echo:" + data, peer)
