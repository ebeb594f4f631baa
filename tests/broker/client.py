#!/usr/bin/env python3
"""A client run in a box (stdlib only) for tests/integration/t-broker.sh:
TLS through the box's proxy (HTTPS_PROXY, CONNECT), trusting what the box
trusts (ssl.create_default_context(): SSL_CERT_FILE).

  client.py raw HOST REQUEST
      REQUEST: the bytes to send after the handshake, with \\r \\n escapes,
      {ENV:NAME} for $NAME, {BIG:N} for N bytes of 'a'. Prints the response's
      status line, or "TLS-ERROR ..." / "CLOSED". CLIENT_ALPN=h2 (comma-
      separated) changes the protocols offered (http/1.1).
  client.py rawall HOST REQUEST
      The same, every status line that comes back (pipelined requests)
      within 3 s or before the end, then "END".
  client.py sse HOST PATH
      GETs PATH (text/event-stream) and prints one JSON line: for each event
      [i, t_sent (the upstream's clock), t_received], and t_head (the head
      received). The upstream runs on the same machine: the clocks agree.
"""
import json
import os
import re
import socket
import ssl
import sys
import time
import urllib.parse


def tunnel(host, port=443):
    p = urllib.parse.urlsplit(os.environ.get("HTTPS_PROXY") or os.environ["https_proxy"])
    s = socket.create_connection((p.hostname, p.port), timeout=20)
    s.sendall(b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host.encode(), port, host.encode(), port))
    head = b""
    while b"\r\n\r\n" not in head:
        k = s.recv(1)
        if not k:
            raise SystemExit("CONNECT: closed")
        head += k
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit("CONNECT: " + head.split(b"\r\n")[0].decode())
    ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(os.environ.get("CLIENT_ALPN", "http/1.1").split(","))
    return ctx.wrap_socket(s, server_hostname=host)


def expand(req):
    req = req.encode().decode("unicode_escape")
    req = re.sub(r"\{ENV:(\w+)\}", lambda m: os.environ[m.group(1)], req)
    req = re.sub(r"\{BIG:(\d+)\}", lambda m: "a" * int(m.group(1)), req)
    return req.encode("latin-1")


def read_head(t):
    head = b""
    while b"\r\n\r\n" not in head:
        k = t.recv(65536)
        if not k:
            break
        head += k
    return head


def raw(host, req):
    try:
        t = tunnel(host)
    except ssl.SSLError as e:
        print("TLS-ERROR", e.reason)
        return
    t.sendall(expand(req))
    try:
        head = read_head(t)
    except (ssl.SSLError, ConnectionError) as e:
        head = b""
    print(head.split(b"\r\n")[0].decode("latin-1") if head else "CLOSED")


def rawall(host, req):
    """Like raw, but prints every status line that comes back within 3 s
    or before the connection ends (pipelined requests), then "END"."""
    t = tunnel(host)
    t.sendall(expand(req))
    t.settimeout(3)
    got = b""
    try:
        while True:
            k = t.recv(65536)
            if not k:
                break
            got += k
    except (socket.timeout, ssl.SSLError, ConnectionError):
        pass
    for m in re.finditer(rb"HTTP/1\.[01] \d{3}[^\r\n]*", got):
        print(m.group(0).decode("latin-1"))
    print("END")


def sse(host, path):
    t = tunnel(host)
    t.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n" % (path.encode(), host.encode()))
    buf, events, t_head = b"", [], None
    while True:
        k = t.recv(65536)
        now = time.time()
        if not k:
            break
        buf += k
        if t_head is None and b"\r\n\r\n" in buf:
            t_head = now
        for m in re.finditer(rb'data: (\{[^}]*\})', buf):
            e = json.loads(m.group(1))
            if e["i"] >= len(events):
                events.append([e["i"], e["t"], now])
        buf = buf[buf.rfind(b"\n\n") + 2:] if b"\n\n" in buf else buf
        if b"\r\n0\r\n\r\n" in k or k.endswith(b"0\r\n\r\n"):
            break
    print(json.dumps({"t_head": t_head, "events": events}))


if __name__ == "__main__":
    {"raw": raw, "rawall": rawall, "sse": sse}[sys.argv[1]](*sys.argv[2:])
