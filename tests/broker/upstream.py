#!/usr/bin/env python3
"""A mock HTTPS (and plain HTTP) upstream for the brokered-credentials tests
(tests/integration/t-broker.sh) and bench (bench/broker.sh). Stdlib only.

  upstream.py --log FILE --addr IP [--tls PORT:CERT:KEY]... [--plain PORT]...
              [--sni NAME:CERT:KEY]...

Every --tls port presents CERT (a leaf of the test CA); a client whose SNI is
a --sni NAME gets that NAME's cert instead (e.g. one signed by a CA nobody
trusts). Every request, TLS or not, is one JSON line in FILE, written before
the answer is sent:
  {"port", "tls", "sni", "conn", "n", "method", "target", "path", "query",
   "headers": [[name, value], ...], "body", "t"}
conn: a number per connection (two requests kept alive share it); n: the
request's rank on its connection; body: the bytes, decoded latin-1; t: the
time it was read (time.time()).

Endpoints (any method):
  /echo, /echo/..., /bot.../...  200, JSON: {"ok", "method", "conn", "n",
            "headers": how many, "body_len"} (no value of what came)
  /sse      text/event-stream, chunked, 5 events 50 ms apart, each
            "data: {"i": I, "t": TIME_SENT}" (GAP_MS=... in the query changes
            the gap, N=... the count)
  /chunked  200, chunked, "chunk 0\n" .. "chunk 4\n" in 5 chunks
  /big?n=BYTES  200, Content-Length BYTES of 'x'
  /reflect?mode=cl|split|chunked  200, the key it got (x-api-key, else
            Authorization) in X-Echo and three times in the body: an
            upstream that echoes a key (the proxy must scrub it)
  /status?code=N  N with no body for 204 and 304, else "ok\n"
  /cut      200 announcing 1000 bytes, 100 sent, then the connection closed
  /garbage  "NOT HTTP AT ALL", then the connection closed
  /small    200, "ok\n" (the bench's request)
  anything else: 404, "not found\n"
HTTP/1.1 with keep-alive; request bodies by Content-Length or chunked.
"""
import argparse
import http.server
import json
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

LOG_LOCK = threading.Lock()
CONN_LOCK = threading.Lock()
CONN_N = [0]
BIG = b"x" * (1 << 20)


def next_conn():
    with CONN_LOCK:
        CONN_N[0] += 1
        return CONN_N[0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle kept-alive connection goes after this
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.conn_id = next_conn()
        self.nreq = 0
        self.sni = getattr(self.request, "clawbox_sni", None)

    def log_message(self, *a):
        pass

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te == "chunked":
            body = b""
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline(16)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def record(self, body):
        self.nreq += 1
        u = urllib.parse.urlsplit(self.path)
        rec = {
            "port": self.server.server_address[1],
            "tls": self.server.tls,
            "sni": self.sni,
            "conn": self.conn_id,
            "n": self.nreq,
            "method": self.command,
            "target": self.path,
            "path": u.path,
            "query": u.query,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("latin-1"),
            "t": time.time(),
        }
        with LOG_LOCK:
            with open(self.server.log, "a") as f:
                f.write(json.dumps(rec) + "\n")
        return rec

    def send(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        # The head and the body in one write (one TLS record).
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()

    def handle_any(self):
        body = self.read_body()
        rec = self.record(body)
        path, q = rec["path"], urllib.parse.parse_qs(rec["query"])
        if path == "/echo" or path.startswith("/echo/") or path.startswith("/bot"):
            # Nothing of what came is echoed but its shape: a real upstream
            # does not send a key back into the box, and the tests look for
            # the value in everything the box saw.
            out = {"ok": True, "method": rec["method"], "conn": rec["conn"], "n": rec["n"],
                   "headers": len(rec["headers"]), "body_len": len(body)}
            self.send(200, (json.dumps(out) + "\n").encode(), "application/json")
        elif path == "/reflect":
            self.reflect(q.get("mode", ["cl"])[0])
        elif path == "/cut":
            # an answer cut short: 100 of the 1000 bytes it announces
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"y" * 100)
            self.wfile.flush()
            self.close_connection = True
            return
        elif path == "/garbage":
            # not HTTP at all
            self.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            return
        elif path == "/status":
            # a status without a body (204, 304) or with one (anything else)
            code = int(q.get("code", ["204"])[0])
            self.send_response(code)
            if code not in (204, 304):
                self.send_header("Content-Length", "3")
            self.end_headers()
            if code not in (204, 304) and self.command != "HEAD":
                self.wfile.write(b"ok\n")
        elif path == "/small":
            self.send(200, b"ok\n")
        elif path == "/big":
            n = int(q.get("n", ["1048576"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            while n > 0 and self.command != "HEAD":
                k = min(n, len(BIG))
                self.wfile.write(BIG[:k])
                n -= k
        elif path == "/sse":
            gap = float(q.get("GAP_MS", ["50"])[0]) / 1000
            count = int(q.get("N", ["5"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            for i in range(count):
                if i:
                    time.sleep(gap)
                ev = ("data: %s\n\n" % json.dumps({"i": i, "t": time.time()})).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(5):
                c = b"chunk %d\n" % i
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send(404, b"not found\n")
        self.wfile.flush()

    def reflect(self, mode):
        """An upstream that echoes the key it got (x-api-key, else
        Authorization) in a response header and three times in the body:
        mode cl (Content-Length, one write), split (Content-Length, the
        body in two writes 50 ms apart cut in the middle of the first
        value), chunked (one chunk a line, each flushed)."""
        v = (self.headers.get("x-api-key") or self.headers.get("Authorization") or "").encode("latin-1")
        lines = [b"key=" + v + b"\n", b"again " + v + b" end\n", v + b"\n"]
        body = b"".join(lines)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-Echo", v.decode("latin-1"))
        if mode == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for line in lines:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
                time.sleep(0.02)
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "split":
            cut = 4 + len(v) // 2
            self.wfile.write(body[:cut])
            self.wfile.flush()
            time.sleep(0.05)
            self.wfile.write(body[cut:])
        else:
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def server_bind(self):
        # Not HTTPServer's: its getfqdn() may wait on a resolver the
        # namespace cannot reach.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class TLSServer(Server):
    def __init__(self, addr, log, ctx):
        self.ctx = ctx
        super().__init__(addr, Handler)
        self.tls, self.log = True, log

    def finish_request(self, request, client_address):
        # The handshake in the request's own thread: a client that hangs
        # or fails it holds no one else up.
        request.settimeout(30)
        try:
            s = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            request.close()
            return
        s.settimeout(Handler.timeout)
        try:
            self.RequestHandlerClass(s, client_address, self)
        finally:
            try:
                s.close()
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--addr", required=True)
    ap.add_argument("--tls", action="append", default=[])
    ap.add_argument("--plain", action="append", default=[])
    ap.add_argument("--sni", action="append", default=[])
    a = ap.parse_args()

    alt = {}
    for s in a.sni:
        name, cert, key = s.split(":")
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.load_cert_chain(cert, key)
        alt[name] = c

    def on_sni(sock, name, ctx):
        sock.clawbox_sni = name
        if name in alt:
            sock.context = alt[name]
        return None

    servers = []
    for t in a.tls:
        port, cert, key = t.split(":")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.sni_callback = on_sni
        servers.append(TLSServer((a.addr, int(port)), a.log, ctx))
    for p in a.plain:
        s = Server((a.addr, int(p)), Handler)
        s.tls, s.log = False, a.log
        servers.append(s)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("listening", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
