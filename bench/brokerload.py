#!/usr/bin/env python3
"""bench/broker.sh's client (stdlib only), run in a box (through the proxy:
HTTPS_PROXY, CONNECT) or on the host (direct to ADDR:443). It trusts the
box's bundle (SSL_CERT_FILE) and CAFILE (the test CA: a tunnel or a direct
connection meets the upstream's own certificate).

  brokerload.py MODE N HOST CAFILE [ADDR]
    MODE new        N requests, each on a new connection (CONNECT, TLS
                    handshake, GET /small, the answer read): "median p90" us,
                    then the same of its parts: the TCP connection and the
                    proxy's answer, the handshake, the request and answer
    MODE keep       N requests on one kept-alive connection: "median p90" us
    MODE firstbyte  N requests on one connection for /sse?N=3&GAP_MS=2, the
                    delay of each event (received - sent by the upstream, the
                    same clock): "median p90" us
    MODE bulk       GET /big?n=N once: "MB/s"
  ADDR: connect there directly (no proxy).
The header "x-api-key: $BENCH_KEY" goes with every request (a brokered
host puts the value in; a tunnel carries the placeholder).
"""
import json
import os
import re
import socket
import ssl
import sys
import time
import urllib.parse

mode, n, host, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
addr = sys.argv[5] if len(sys.argv) > 5 else None
key = os.environ.get("BENCH_KEY", "none").encode()
ctx = ssl.create_default_context()
ctx.load_verify_locations(cafile=cafile)
ctx.set_alpn_protocols(["http/1.1"])


def connect():
    if addr:
        s = socket.create_connection((addr, 443), timeout=30)
    else:
        p = urllib.parse.urlsplit(os.environ.get("HTTPS_PROXY") or os.environ["https_proxy"])
        s = socket.create_connection((p.hostname, p.port), timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (host.encode(), host.encode()))
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            k = s.recv(1)
            if not k:
                raise SystemExit("CONNECT: closed")
            head += k
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit("CONNECT: " + head.split(b"\r\n")[0].decode())
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    MARKS[0] = time.perf_counter()
    t = ctx.wrap_socket(s, server_hostname=host)
    MARKS[1] = time.perf_counter()
    return t


MARKS = [0.0, 0.0]


class Conn:
    def __init__(self):
        self.t = connect()
        self.buf = b""

    def get(self, path):
        self.t.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nx-api-key: %s\r\n\r\n" % (path.encode(), host.encode(), key))

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self.more()
        h, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not h.startswith(b"HTTP/1.1 200"):
            raise SystemExit("answer: " + h.split(b"\r\n")[0].decode())
        m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", h)
        return int(m.group(1)) if m else None

    def more(self):
        k = self.t.recv(1 << 20)
        if not k:
            raise SystemExit("closed")
        self.buf += k

    def body(self, length):
        while len(self.buf) < length:
            self.more()
        self.buf = self.buf[length:]

    def small(self):
        self.get("/small")
        self.body(self.head())


def stats(xs):
    xs = sorted(xs)
    return "%d %d" % (xs[len(xs) // 2] * 1e6, xs[min(len(xs) - 1, int(len(xs) * 0.9))] * 1e6)


if mode == "new":
    # also where it goes: the TCP connection and the proxy's answer, the
    # TLS handshake, the request and its answer
    ts, tt, th, tr = [], [], [], []
    for _ in range(n):
        t0 = time.perf_counter()
        c = Conn()
        c.small()
        ts.append(time.perf_counter() - t0)
        tt.append(MARKS[0] - t0)
        th.append(MARKS[1] - MARKS[0])
        tr.append(time.perf_counter() - MARKS[1])
        c.t.close()
    print(stats(ts), stats(tt), stats(th), stats(tr))
elif mode == "keep":
    c = Conn()
    c.small()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.small()
        ts.append(time.perf_counter() - t0)
    print(stats(ts))
elif mode == "firstbyte":
    c = Conn()
    c.small()
    ts = []
    for _ in range(n):
        c.get("/sse?N=3&GAP_MS=2")
        c.head()
        got = 0
        while got < 3:
            m = re.search(rb"data: (\{[^}]*\})\n\n", c.buf)
            if not m:
                c.more()
                continue
            now = time.time()
            ts.append(now - json.loads(m.group(1))["t"])
            c.buf = c.buf[m.end():]
            got += 1
        while b"0\r\n\r\n" not in c.buf:
            c.more()
        c.buf = c.buf[c.buf.index(b"0\r\n\r\n") + 5:]
    print(stats(ts))
elif mode == "bulk":
    c = Conn()
    c.small()
    t0 = time.perf_counter()
    c.get("/big?n=%d" % n)
    left = c.head()
    left -= len(c.buf)
    c.buf = b""
    mv = memoryview(bytearray(1 << 18))
    while left > 0:
        k = c.t.recv_into(mv)
        if not k:
            raise SystemExit("closed with %d bytes left" % left)
        left -= k
    print("%d" % (n / (time.perf_counter() - t0) / 1e6))
