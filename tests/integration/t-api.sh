#!/usr/bin/env bash
# clawbox serve: the HTTP/JSON API over its unix socket and TCP loopback:
# every endpoint, auth, caps (body, headers, slow clients, connections per
# client), hostile paths, malformed requests, the graceful stop.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || { echo "ok - t-api: all # SKIP curl missing"; exit 0; }

# await CMD...: until CMD succeeds, at most 10 s.
await() {
	for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done
	return 1
}

# serve [OPTIONS]: start the daemon (its pid in $SERVE, log in $C/serve.log),
# on $C/api.sock; stopped when the case ends.
serve() {
	trap stop_all EXIT
	$CLAWBOX serve --socket "$C/api.sock" "$@" 2>"$C/serve.log" &
	SERVE=$!
	await grep -q "serving the API" "$C/serve.log" || fail "serve did not start: $(cat "$C/serve.log")"
	PORT=$(sed -n 's/^tcp:.*:\([0-9]*\)$/\1/p' "$C/serve.log")
}

stop_all() {
	[ -n "${SERVE:-}" ] && kill "$SERVE" 2>/dev/null && wait "$SERVE" 2>/dev/null
	local d
	for d in "$CLAWBOX_STATE_DIR"/boxes/*/; do
		[ -S "$d/control.sock" ] && $CLAWBOX down --grace 0 --box "$(basename "$d")" >/dev/null 2>&1
	done
	return 0
}

# api METHOD PATH [CURL ARGS...]: the body in $C/out, the status printed.
api() {
	local m=$1 p=$2
	shift 2
	curl -s --path-as-is -o "$C/out" -w '%{http_code}' --unix-socket "$C/api.sock" -X "$m" "$@" "http://clawbox$p"
}

# expect STATUS METHOD PATH [ARGS...]: the status must be STATUS.
expect() {
	local want=$1 got
	shift
	got=$(api "$@") || true
	[ "$got" = "$want" ] || fail "$*: status $got, not $want: $(head -c 400 "$C/out")"
}

has() { grep -q -- "$1" "$C/out" || fail "no '$1' in: $(head -c 600 "$C/out")"; }

box_name() { basename "$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*)"; }

socket_and_basics() {
	serve
	[ "$(stat -c %a "$C/api.sock")" = 600 ] || fail "socket mode $(stat -c %a "$C/api.sock")"
	expect 200 GET /v1/health && has '"status":"ok"'
	expect 200 GET /v1/version && has '"api":"v1"'
	expect 200 GET /v1/metadata && has '"workspace"'
	expect 200 GET /v1/boxes && has '"boxes":\[\]'
	expect 404 GET /v1/nope && has '"error":'
	expect 405 PUT /v1/health
	curl -s -D "$C/h" -o /dev/null --unix-socket "$C/api.sock" -X PUT http://x/v1/boxes
	grep -qi '^Allow: GET' "$C/h" || fail "no Allow header: $(cat "$C/h")"
	expect 404 GET /v1/boxes/nosuchbox && has "no box 'nosuchbox'"
	expect 400 GET /v1/boxes/.bad
	expect 409 GET /v1/files/x && has "no default box"
	# another user is refused by the peer check too, even through a
	# socket whose mode was opened up
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
		chmod 666 "$C/api.sock"
		out=$(setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -w ' %{http_code}' \
			--unix-socket "$C/api.sock" http://x/v1/boxes) || true
		case "$out" in *"owner only"*" 403") ;; *) fail "another uid: $out" ;; esac
		chmod 600 "$C/api.sock"
	fi
	# another daemon on the same socket is refused
	$CLAWBOX serve --socket "$C/api.sock" 2>"$C/err2" && fail "a second daemon started"
	grep -q "another clawbox serve" "$C/err2" || fail "$(cat "$C/err2")"
}

bad_requests() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- true
	b=$(box_name)
	serve --max-body 1k --box "$b"
	expect 409 POST "/v1/boxes/$b/exec" -d '{"argv":["true"]}' && has "box '$b' is not up"
	expect 409 GET "/v1/boxes/$b/sessions" && has "is not up"
	expect 400 POST "/v1/boxes/$b/exec" -d '{"argv": ["true"' && has "malformed JSON"
	expect 400 POST "/v1/boxes/$b/exec" -d '[1]'
	expect 400 POST "/v1/boxes/$b/exec" -d '{"argv":[]}'
	expect 400 POST "/v1/boxes/$b/exec" -d '{"argv":["a"],"x":1,"x":2}'
	expect 400 POST "/v1/boxes/$b/sessions" -d '{"name":"a/b"}'
	expect 400 DELETE "/v1/boxes/$b/sessions/a%2Fb" && has "holds a '/'"
	expect 400 DELETE "/v1/boxes/$b/sessions/.."
	expect 400 GET "/v1/files/a%00b" && has "NUL"
	head -c 2000 /dev/zero >"$C/big"
	expect 413 PUT /v1/files/big --data-binary @"$C/big"
	expect 413 POST "/v1/boxes/$b/exec" -H 'Transfer-Encoding: chunked' --data-binary @"$C/big"
	hdrs=()
	for i in $(seq 80); do hdrs+=(-H "X-H$i: $i"); done
	expect 431 GET /v1/health "${hdrs[@]}"
	expect 403 GET /v1/health -H 'Origin: http://evil.example'
	expect 200 GET /v1/health -H 'Origin: http://127.0.0.1:3000'
	kill -0 "$SERVE" || fail "the daemon died"
}

endpoints_on_an_up_box() {
	mkproj "$P"
	serve
	expect 200 POST /v1/boxes/proj-x/up -d "{\"project\": \"$P\", \"cmd\": [\"sleep\", \"1000\"]}" && has '"up":true'
	b=proj-x
	expect 200 GET /v1/boxes && has '"up":true'
	expect 200 GET "/v1/boxes/$b" && has '"supervisor":'
	expect 200 POST "/v1/boxes/$b/exec" -d '{"argv":["sh","-c","echo out; echo err >&2; cat; exit 3"],"stdin":"in\n"}'
	has '"stdout":"out\\nin\\n"' && has '"stderr":"err\\n"' && has '"exit_code":3' && has '"duration_ms":'
	expect 200 POST "/v1/boxes/$b/exec" -d '{"argv":["nosuchcmd"]}' && has '"exit_code":127'
	expect 200 POST "/v1/boxes/$b/exec" -d '{"argv":["sleep","5"],"timeout_ms":300}' && has '"timed_out":true'
	expect 200 POST "/v1/boxes/$b/exec" -d '{"argv":["head","-c","5000","/dev/zero"],"max_output":100}'
	has '"truncated":true'
	expect 200 POST "/v1/boxes/$b/exec" -d '{"argv":["printf","\\377ok"],"encoding":"base64"}' && has '"stdout":"/29r"'
	expect 200 POST "/v1/boxes/$b/exec/stream" -d '{"argv":["sh","-c","echo 1; sleep 0.2; echo 2 >&2"]}'
	head -1 "$C/out" | grep -q '"event":"started"' || fail "stream: $(cat "$C/out")"
	has '"event":"stdout","data":"1\\n"' && has '"event":"stderr"' && has '"event":"exit","exit_code":0'
	# sessions
	expect 201 POST "/v1/boxes/$b/sessions" -d '{"name":"s1","env":{"GREETING":"hi"}}'
	expect 409 POST "/v1/boxes/$b/sessions" -d '{"name":"s1"}'
	expect 200 GET "/v1/boxes/$b/sessions" && has '"name":"s1"'
	expect 200 POST "/v1/boxes/$b/exec" -d '{"argv":["sh","-c","echo $GREETING"],"session":"s1"}' && has '"stdout":"hi\\n"'
	expect 200 DELETE "/v1/boxes/$b/sessions/s1"
	expect 404 DELETE "/v1/boxes/$b/sessions/s1"
	# files
	expect 200 GET "/v1/boxes/$b/files/README" && [ "$(cat "$C/out")" = hello ] || fail "read: $(cat "$C/out")"
	expect 200 PUT "/v1/boxes/$b/files/new/dir/f.txt?mode=0640" --data-binary 'made by the api'
	expect 200 GET "/v1/boxes/$b/files/new/dir/f.txt?offset=8&limit=3" && [ "$(cat "$C/out")" = the ] || fail "range: $(cat "$C/out")"
	expect 200 GET "/v1/boxes/$b/files/new/dir/f.txt?stat=true" && has '"mode":"0640"' && has '"size":15'
	expect 200 GET "/v1/boxes/$b/files/new/dir" && has '"name":"f.txt"'
	expect 200 GET "/v1/boxes/$b/files/" && has '"name":"README"'
	expect 200 POST "/v1/boxes/$b/exec" -d '{"argv":["cat","new/dir/f.txt"]}' && has '"stdout":"made by the api"'
	[ ! -e "$P/new" ] || fail "a file write reached the project"
	expect 409 DELETE "/v1/boxes/$b/files/new" && has "not empty"
	expect 200 DELETE "/v1/boxes/$b/files/new?recursive=true"
	expect 404 GET "/v1/boxes/$b/files/new"
	# sync: plan, apply; audit
	expect 200 PUT "/v1/boxes/$b/files/synced.txt" --data-binary 'home'
	expect 200 GET "/v1/boxes/$b/sync" && has '"path":"synced.txt"' && has '"verdict":"apply"'
	[ ! -e "$P/synced.txt" ] || fail "the plan applied"
	expect 200 POST "/v1/boxes/$b/sync" -d '{}' && has '"applied":1'
	[ "$(cat "$P/synced.txt")" = home ] || fail "not applied"
	expect 200 GET "/v1/boxes/$b/audit?tail=5" && has '"event":"api-sync"'
	expect 200 GET "/v1/boxes/$b/audit?tail=1000" && has '"event":"api-file"' && has '"event":"api-exec"'
	has '"client":"unix uid 0'
	# down, under a streamed exec: the stream ends with what happened
	curl -sN --unix-socket "$C/api.sock" -d '{"argv":["sleep","100"]}' \
		"http://x/v1/boxes/$b/exec/stream" >"$C/stream" &
	await grep -q started "$C/stream" || fail "no stream"
	expect 200 POST "/v1/boxes/$b/down" -d '{"grace_ms":0}'
	await grep -q '"event":"\(error\|exit\)"' "$C/stream" || fail "the stream did not end: $(cat "$C/stream")"
	grep -q '"exit_code":0' "$C/stream" && fail "a killed command exited 0: $(cat "$C/stream")"
	expect 409 POST "/v1/boxes/$b/exec" -d '{"argv":["true"]}' && has "is not up"
}

hostile_paths() {
	mkproj "$P"
	serve --box proj-x
	expect 200 POST /v1/boxes/proj-x/up -d "{\"project\": \"$P\", \"cmd\": [\"sleep\", \"1000\"]}"
	mkdir -p "$C/outside" && echo secret >"$C/outside/s"
	expect 200 POST /v1/process/execute -d "{\"config\":{\"command\":[\"sh\",\"-c\",
		\"ln -s / root; ln -s $C/outside out; mkdir -p d; ln -s /etc d/etc; ln -s ../../.. d/up; mkfifo fifo\"]}}"
	for p in root/etc/passwd out/s d/etc/passwd d/up/etc/passwd; do
		expect 403 GET "/v1/files/$p" && has symlink
		expect 403 PUT "/v1/files/$p" --data-binary x && has symlink
		expect 403 DELETE "/v1/files/$p"
	done
	expect 403 PUT /v1/files/out/new --data-binary x
	expect 403 GET /v1/files/fifo && has fifo
	expect 400 GET /v1/files/../etc/passwd
	expect 400 GET /v1/files/%2E%2E/%2E%2E/etc/passwd && has "'..'"
	expect 400 GET /v1/files/d/..%2F..%2Fx
	expect 400 PUT /v1/files//etc/x --data-binary x
	expect 400 GET "/v1/files/a%0Ab" && has control
	expect 403 PUT /v1/files/.git/hooks/pre-commit --data-binary x && has "git directory"
	expect 400 DELETE /v1/files/
	[ "$(cat "$C/outside/s")" = secret ] && [ "$(ls "$C/outside")" = s ] || fail "the outside changed"
	[ ! -e /etc/x ] || fail "wrote /etc/x"
	# the k8s shapes
	expect 200 PUT "/v1/files/k/f?mode=0600" --data-binary 'k8s' && expect 200 GET /v1/files/k && has '"type":"file"'
	curl -sf -I --unix-socket "$C/api.sock" http://x/v1/files/k/f >"$C/h" || fail "HEAD"
	grep -qi '^X-File-Size: 3' "$C/h" || fail "HEAD: $(cat "$C/h")"
	expect 404 HEAD /v1/files/k/none
	expect 200 GET /v1/metadata && has '"box":"proj-x"'
}

processes() {
	mkproj "$P"
	serve --box proj-x
	expect 200 POST /v1/boxes/proj-x/up -d "{\"project\": \"$P\", \"cmd\": [\"sleep\", \"1000\"]}"
	expect 200 POST /v1/process/execute -d '{"config":{"command":["sh","-c","echo $X"],"env_vars":{"X":"v"}}}'
	has '"stdout":"dgo="' && has '"exit_code":0'
	# start: a stream; stdin and a signal from other requests
	curl -sN --unix-socket "$C/api.sock" -d '{"config":{"command":["sh","-c","read l; echo got $l; sleep 100"]}}' \
		http://x/v1/process/start >"$C/stream" &
	await grep -q '"init"' "$C/stream" || fail "no init: $(cat "$C/stream")"
	id=$(sed -n 's/.*"process_id":\([0-9]*\).*/\1/p' "$C/stream" | head -1)
	expect 200 POST /v1/process/stdin -d "{\"process_id\":$id,\"input\":\"aGkK\"}"
	await grep -q '"stdout":"Z290IGhpCg=="' "$C/stream" || fail "stdin: $(cat "$C/stream")"
	expect 409 POST /v1/process/resize -d "{\"process_id\":$id,\"cols\":80,\"rows\":24}"
	expect 400 POST /v1/process/signal -d "{\"process_id\":$id,\"signal\":\"SIGBOGUS\"}"
	expect 200 POST /v1/process/signal -d "{\"process_id\":$id,\"signal\":\"SIGNAL_SIGTERM\"}"
	await grep -q '"exit":{"exit_code":143}' "$C/stream" || fail "signal: $(cat "$C/stream")"
	expect 404 POST /v1/process/signal -d '{"process_id":99999,"signal":"SIGKILL"}' && has NOT_FOUND
	# a terminal
	expect 200 POST /v1/process/start -d '{"config":{"command":["sh","-c","stty size; tty"]},"pty":{"cols":80,"rows":24}}'
	has '"init"' && has '"exit":{"exit_code":0}'
	python3 -c 'import sys, json, base64
out = b"".join(base64.b64decode(e["stdout"]) for e in map(json.loads, open(sys.argv[1])) if "stdout" in e)
sys.exit(0 if b"24 80" in out and b"/dev/pts/" in out else out)' "$C/out" || fail "no terminal of 24x80"
}

tcp_auth() {
	$CLAWBOX serve --listen 127.0.0.1:0 2>"$C/err" && fail "TCP without auth served"
	grep -q "TCP needs auth" "$C/err" || fail "$(cat "$C/err")"
	$CLAWBOX serve --listen 0.0.0.0:0 --no-auth 2>"$C/err" && fail "non-loopback without auth served"
	grep -q "non-loopback" "$C/err" || fail "$(cat "$C/err")"
	CLAWBOX_API_TOKEN=tok $CLAWBOX serve --listen 127.0.0.1:0 --no-auth 2>"$C/err" && fail "--no-auth with a token"
	$CLAWBOX serve --listen 127.0.0.1:0 --token x 2>/dev/null && fail "a secret taken from argv"
	export CLAWBOX_API_TOKEN=s3cret-token-value
	serve --listen 127.0.0.1:0 --max-per-client 3
	unset CLAWBOX_API_TOKEN
	[ -n "$PORT" ] || fail "no port: $(cat "$C/serve.log")"
	! grep -qa s3cret "/proc/$SERVE/cmdline" "/proc/$SERVE/environ" || fail "the token is readable in /proc"
	u="http://127.0.0.1:$PORT"
	[ "$(curl -s -o "$C/out" -w '%{http_code}' "$u/v1/boxes")" = 401 ] || fail "no token served"
	has "authentication required"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$u/v1/boxes")" = 401 ] || fail "wrong token"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret-token-valu' "$u/v1/boxes")" = 401 ] || fail "prefix"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret-token-value' "$u/v1/boxes")" = 200 ] || fail "right token"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$u/v1/health")" = 200 ] || fail "health needs no token"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret-token-value' -H 'Origin: https://evil.example' "$u/v1/boxes")" = 403 ] || fail "origin"
	# connections per client: the 4th of 4 idle ones is closed at once
	python3 - "$PORT" <<'EOF' || fail "per-client limit"
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(3)
s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
try:
    data = s.recv(100)
except ConnectionResetError:
    data = b""
sys.exit(0 if data == b"" else 1)
EOF
	kill "$SERVE" && wait "$SERVE" || true
	CLAWBOX_API_PASSWORD=pw-123456 OPENCLAW_GATEWAY_TOKEN= serve --listen 127.0.0.1:0
	u="http://127.0.0.1:$PORT"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -u any:pw-123456 "$u/v1/boxes")" = 200 ] || fail "password"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -u any:pw-12345 "$u/v1/boxes")" = 401 ] || fail "wrong password"
	kill "$SERVE" && wait "$SERVE" || true
	OPENCLAW_GATEWAY_TOKEN=oc-token serve --listen 127.0.0.1:0
	u="http://127.0.0.1:$PORT"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer oc-token' "$u/v1/boxes")" = 200 ] || fail "OPENCLAW_GATEWAY_TOKEN"
	kill "$SERVE" && wait "$SERVE" || true
	serve --listen 127.0.0.1:0 --no-auth
	u="http://127.0.0.1:$PORT"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$u/v1/boxes")" = 200 ] || fail "--no-auth"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "$u/v1/boxes")" = 403 ] || fail "DNS rebinding"
	# another local user is refused on the loopback port as on the socket
	# (the kernel's socket table names the uid behind the client's end)
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
		out=$(setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -w ' %{http_code}' \
			"$u/v1/boxes") || true
		case "$out" in *"owner only"*" 403") ;; *) fail "another uid on --no-auth: $out" ;; esac
		out=$(setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -w ' %{http_code}' \
			"$u/v1/health") || true
		case "$out" in *" 403") ;; *) fail "another uid on --no-auth /v1/health: $out" ;; esac
	fi
}

slow_client_cut_off() {
	serve --timeout 1 --body-timeout 2
	python3 - "$C/api.sock" <<'EOF' || fail "a slow client was not cut off"
import socket, sys, time
def closed_within(s, secs):
    s.settimeout(secs)
    t = time.time()
    try:
        while s.recv(4096):
            pass
    except (socket.timeout, ConnectionResetError):
        return time.time() - t < secs
    return True
# a head that never ends
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
assert closed_within(s, 5), "idle head"
# a body dribbled a byte at a time, under the idle timeout each
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"POST /v1/boxes/b/exec HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
t = time.time()
try:
    while time.time() - t < 8:
        s.sendall(b"x"); time.sleep(0.5)
    sys.exit("a dribbling body was served for 8 s")
except (BrokenPipeError, ConnectionResetError):
    pass
EOF
	kill -0 "$SERVE" || fail "the daemon died"
}

graceful_stop() {
	mkproj "$P"
	serve --grace 5
	expect 200 POST /v1/boxes/proj-x/up -d "{\"project\": \"$P\", \"cmd\": [\"sleep\", \"1000\"]}"
	curl -s --unix-socket "$C/api.sock" -d '{"argv":["sh","-c","sleep 1; echo finished"]}' \
		http://x/v1/boxes/proj-x/exec >"$C/inflight" &
	cpid=$!
	curl -sN --unix-socket "$C/api.sock" -d '{"argv":["sleep","100"]}' \
		http://x/v1/boxes/proj-x/exec/stream >"$C/stream" &
	await grep -q started "$C/stream" || fail "no stream"
	sleep 0.2
	start=$(date +%s%N)
	kill -TERM "$SERVE"
	wait "$SERVE" || fail "serve exited $?"
	ms=$((($(date +%s%N) - start) / 1000000))
	SERVE=
	wait "$cpid"
	grep -q '"stdout":"finished\\n"' "$C/inflight" || fail "in-flight request: $(cat "$C/inflight")"
	grep -q '"error":"the daemon is stopping"' "$C/stream" || fail "stream: $(cat "$C/stream")"
	[ "$ms" -lt 4000 ] || fail "the stop took $ms ms"
	[ ! -e "$C/api.sock" ] || fail "the socket is left"
	grep -q "stopping" "$C/serve.log" || fail "$(cat "$C/serve.log")"
}

mcp_transport() {
	serve --box nosuchbox
	expect 405 GET /mcp
	expect 400 POST /mcp -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' && has "initialize first"
	expect 404 POST /mcp -H 'Mcp-Session-Id: 0123456789abcdef0123456789abcdef' \
		-d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
	expect 403 POST /mcp -H 'Origin: https://evil.example' -d '{}'
	expect 404 DELETE /mcp
	expect 400 POST '/mcp?session=a%2Fb' -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'
	code=$(api POST /mcp -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}')
	[ "$code" = 404 ] || [ "$code" = 501 ] || fail "initialize on a missing box: $code $(cat "$C/out")"
	[ "$code" = 501 ] && skip "src/mcp/ is not built in: the HTTP side only"
	# a session's life: initialize, a request with its id, DELETE, gone
	mkproj "$P"
	$CLAWBOX run --project "$P" -- true
	b=$(box_name)
	init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t-api","version":"1"}}}'
	curl -s -D "$C/h" -o "$C/out" --unix-socket "$C/api.sock" "http://x/mcp?box=$b" -d "$init"
	has '"protocolVersion":"2025-11-25"'
	id=$(sed -n 's/^Mcp-Session-Id: \([0-9a-f]*\).*/\1/ip' "$C/h")
	[ ${#id} = 32 ] || fail "no session id: $(cat "$C/h")"
	expect 202 POST /mcp -H "Mcp-Session-Id: $id" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	expect 200 POST /mcp -H "Mcp-Session-Id: $id" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
	has '"name":"exec"'
	expect 200 POST /mcp -H "Mcp-Session-Id: $id" -d '{"jsonrpc":"2.0","id":3,"method":"nope"}'
	has '"code":-32601'
	expect 200 DELETE /mcp -H "Mcp-Session-Id: $id"
	expect 404 POST /mcp -H "Mcp-Session-Id: $id" -d '{"jsonrpc":"2.0","id":4,"method":"tools/list"}'
}

mcp_cancel() {
	mkproj "$P"
	serve
	$CLAWBOX up --project "$P" >/dev/null
	b=$(box_name)
	init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t-api","version":"1"}}}'
	code=$(curl -s -D "$C/h" -o "$C/out" -w '%{http_code}' --unix-socket "$C/api.sock" "http://x/mcp?box=$b" -d "$init")
	[ "$code" = 501 ] && skip "src/mcp/ is not built in"
	id=$(sed -n 's/^Mcp-Session-Id: \([0-9a-f]*\).*/\1/ip' "$C/h")
	expect 202 POST /mcp -H "Mcp-Session-Id: $id" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	start=$(date +%s%N)
	curl -s --unix-socket "$C/api.sock" -H "Mcp-Session-Id: $id" http://x/mcp \
		-d '{"jsonrpc":"2.0","id":"call-7","method":"tools/call","params":{"name":"exec","arguments":{"command":"sleep 20; touch /workspace/late","timeout_ms":60000}}}' \
		>"$C/call" &
	cpid=$!
	await grep -q '"event":"exec.start"' "$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*/audit.jsonl)" || fail "the call did not start"
	# another call's id, then this one's: only this one is cancelled
	expect 202 POST /mcp -H "Mcp-Session-Id: $id" \
		-d '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"call-8"}}'
	expect 202 POST /mcp -H "Mcp-Session-Id: $id" \
		-d '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"call-7","reason":"t-api"}}'
	wait "$cpid"
	ms=$((($(date +%s%N) - start) / 1000000))
	[ "$ms" -lt 15000 ] || fail "the cancelled call took $ms ms"
	grep -q '"isError":true' "$C/call" && grep -q "cancelled" "$C/call" || fail "answer: $(cat "$C/call")"
	[ ! -e "$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*)/upper/late" ] || fail "the command ran to its end"
	# the session serves the next call
	expect 200 POST /mcp -H "Mcp-Session-Id: $id" \
		-d '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"exec","arguments":{"argv":["echo","next"]}}}'
	has 'next'
}

# A hostile command prints the box's secret, raw and base64-encoded: the
# API's exec (buffered and streamed) hands the client neither.
exec_output_redacted() {
	mkproj "$P"
	serve
	V=sk-ant-api03-Exfil-Through-The-Api-0123456789
	echo "$V" | $CLAWBOX secrets set --project "$P" ANTHROPIC_API_KEY >/dev/null
	$CLAWBOX up --project "$P" >/dev/null
	b=$(box_name)
	cmd='{"argv":["sh","-c","echo $ANTHROPIC_API_KEY; printf %s $ANTHROPIC_API_KEY | base64 -w0; echo; echo $ANTHROPIC_API_KEY >&2"]}'
	expect 200 POST "/v1/boxes/$b/exec" -d "$cmd"
	has 'REDACTED:ANTHROPIC_API_KEY'
	! grep -q "$V" "$C/out" || fail "the value reached the client: $(cat "$C/out")"
	! grep -q "$(printf %s "$V" | base64 -w0 | cut -c1-24)" "$C/out" || fail "its base64 reached the client"
	expect 200 POST "/v1/boxes/$b/exec/stream" -d "$cmd"
	has 'REDACTED:ANTHROPIC_API_KEY'
	! grep -q "$V" "$C/out" || fail "the value reached the client through the stream: $(cat "$C/out")"
}

# The script user nobody runs in as_ordinary_user (its dir in $U).
user_script() {
	cat <<'EOS'
set -eu
export CLAWBOX_STATE_DIR=$U/state HOME=$U
$CLAWBOX serve --socket "$U/api.sock" 2>"$U/serve.log" &
sp=$!
for _ in $(seq 100); do [ -S "$U/api.sock" ] && break; sleep 0.05; done
s() { curl -s --unix-socket "$U/api.sock" "$@"; }
s "http://x/v1/boxes/p1/up" -d "{\"project\":\"$U/proj\",\"cmd\":[\"sleep\",\"1000\"]}" >"$U/up"
s -X PUT --data-binary data "http://x/v1/boxes/p1/files/d/f" >"$U/put"
s "http://x/v1/boxes/p1/exec" -d '{"argv":["sh","-c","id -u; cat README d/f"]}' >"$U/exec"
s "http://x/v1/boxes/p1/down" -d '{}' >"$U/down"
kill $sp
wait $sp
EOS
}

as_ordinary_user() {
	[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null || skip "needs root and setpriv to become nobody"
	U="$C/u"
	mkdir -p "$U/proj" && echo hi >"$U/proj/README"
	user_script >"$U/run.sh"
	chown -R 65534:65534 "$U"
	setpriv --reuid=65534 --regid=65534 --clear-groups env U="$U" CLAWBOX="$CLAWBOX" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}" bash "$U/run.sh" || fail "$(cat "$U/serve.log")"
	if ! grep -q '"up":true' "$U/up"; then
		grep -qi "namespace" "$U/up" && skip "no user namespaces for nobody"
		fail "up: $(cat "$U/up")"
	fi
	grep -q '"stdout":"65534\\nhi\\ndata"' "$U/exec" || fail "exec: $(cat "$U/exec")"
	grep -q '"up":false' "$U/down" || fail "down: $(cat "$U/down")"
	[ ! -e "$U/proj/d" ] || fail "the write reached the project"
}

case_run "the socket, health, version, metadata, errors" socket_and_basics
case_run "bad requests: JSON, names, NUL, sizes, headers, origin" bad_requests
case_run "every endpoint on an up box (root)" endpoints_on_an_up_box
case_run "files: symlinks, '..', absolute paths, FIFOs refused" hostile_paths
case_run "agent-sandbox processes: execute, start, stdin, signal, pty" processes
case_run "TCP: auth required, token, password, origin, per-client cap" tcp_auth
case_run "slow clients are cut off" slow_client_cut_off
case_run "SIGTERM: in-flight requests finish, streams end, socket gone" graceful_stop
case_run "/mcp: sessions, methods, origin" mcp_transport
case_run "a secret printed by a command in the box never reaches an API client" exec_output_redacted
case_run "/mcp: a cancellation kills the call's command, the session goes on" mcp_cancel
case_run "as an ordinary user: up, files, exec, down" as_ordinary_user
