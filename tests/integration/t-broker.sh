#!/usr/bin/env bash
# Brokered credentials (issue 14; docs/SECRETS.md): a brokered secret's
# variable in the box holds a placeholder, and the proxy, terminating TLS
# for the rule's hosts only, puts the value where the rule says on the way
# out. Everything runs against a "remote" network namespace this file
# creates (veth pair, 10.76.N.0/24) with the mock upstream
# tests/broker/upstream.py in it: HTTPS on 443 (a leaf of a test CA for
# api/tunnel/other.broker.test; rogue.broker.test gets a leaf of a CA nobody
# trusts; bad.broker.test gets the api leaf, a name it does not cover) and
# plain HTTP on 80 (good.test). The test CA reaches clawbox through
# CLAWBOX_UPSTREAM_CA_FILE; names are mapped by a private /etc/hosts
# bind-mounted in a mount namespace of the test's own. The upstream logs
# every request it gets (tests read the log from the host: outside the box).
. "$(dirname "$0")/lib.sh"

BROKER_DIR=$(cd "$(dirname "$0")/../broker" && pwd)
NET_N=$((($$ % 200) + 20))
NS=cbbk$$
VH=cbbkh$$
VR=cbbkr$$
HOST_IP=10.76.$NET_N.1
REMOTE_IP=10.76.$NET_N.2
H2_IP=10.76.$NET_N.3
H2_LOG=$T_TMP/h2-upstream.log
H2_READY=
CERTS=$T_TMP/certs
UP_LOG=$T_TMP/upstream.log
NET_READY=
NET_WHY="needs root, iproute2, curl, openssl and python3"
NET_PIDS=()

# The values: random for each run of the file (a value a test once printed
# cannot make a later run pass), of a real key's shape.
rnd() { head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c "$1"; }
V_KEY=sk-ant-api03-$(rnd 40)
V_AUTH=ghp_$(rnd 36)
V_QUERY=AIza$(rnd 35)
V_BOT=$((RANDOM % 9 + 1))$(printf '%09d' $((RANDOM * RANDOM % 1000000000))):AA$(rnd 33)
V_OTHER=other-$(rnd 30)
ALL_VALUES=("$V_KEY" "$V_AUTH" "$V_QUERY" "$V_BOT" "$V_OTHER")

broker_cleanup() {
	for p in "${NET_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	ip link del "$VH" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	t_cleanup
}
trap broker_cleanup EXIT

broker_setup() {
	[ "$(id -u)" -eq 0 ] || return 1
	for c in ip curl openssl python3; do command -v $c >/dev/null || return 1; done
	bash "$BROKER_DIR/certs.sh" "$CERTS" "$REMOTE_IP" || { NET_WHY="the test certificates could not be made"; return 1; }
	chmod 755 "$CERTS"
	remote_ns "$NS" "$VH" "$VR" "$HOST_IP" "$REMOTE_IP" || return 1
	ip netns exec "$NS" python3 "$BROKER_DIR/upstream.py" --log "$UP_LOG" --addr "$REMOTE_IP" \
		--tls "443:$CERTS/api.crt:$CERTS/api.key" \
		--sni "rogue.broker.test:$CERTS/rogue.crt:$CERTS/rogue.key" \
		--plain 80 >"$T_TMP/upstream.out" 2>&1 &
	NET_PIDS+=($!)
	# Up when both ports answer, over TLS with the test CA (bounded).
	for _ in $(seq 100); do
		curl -s -m 1 -o /dev/null --cacert "$CERTS/ca.crt" --resolve "api.broker.test:443:$REMOTE_IP" \
			https://api.broker.test/small && curl -s -m 1 -o /dev/null "http://$REMOTE_IP/small" && break
		sleep 0.1
	done
	curl -s -m 2 -f -o /dev/null --cacert "$CERTS/ca.crt" --resolve "api.broker.test:443:$REMOTE_IP" \
		https://api.broker.test/small || { NET_WHY="the mock upstream did not start: $(tail -3 "$T_TMP/upstream.out")"; return 1; }
	cat >"$T_TMP/hosts" <<EOF
127.0.0.1 localhost
$REMOTE_IP good.test api.broker.test tunnel.broker.test other.broker.test bad.broker.test rogue.broker.test
$H2_IP h2.broker.test
EOF
	chmod 644 "$T_TMP/hosts" "$UP_LOG"
	NET_READY=1
	# An HTTP/2-only upstream (Node) on a second address, where node is.
	command -v node >/dev/null || return 0
	ip -n "$NS" addr add "$H2_IP/24" dev "$VR" || return 0
	: >"$H2_LOG"
	chmod 644 "$H2_LOG"
	ip netns exec "$NS" node "$BROKER_DIR/h2-upstream.mjs" --listen "$H2_IP:443" --cert "$CERTS/api.crt" \
		--key "$CERTS/api.key" --log "$H2_LOG" >"$T_TMP/h2.out" 2>&1 &
	NET_PIDS+=($!)
	for _ in $(seq 100); do
		grep -q listening "$T_TMP/h2.out" && break
		sleep 0.1
	done
	curl -s -m 2 -f -o /dev/null --http2 --cacert "$CERTS/ca.crt" --resolve "h2.broker.test:443:$H2_IP" \
		https://h2.broker.test/echo && H2_READY=1
	: >"$H2_LOG"
}
# Every case needs the namespace and the upstream: without them the file
# skips with one line.
if ! broker_setup; then
	echo "ok - t-broker: every case # SKIP $NET_WHY"
	exit 0
fi

need_net() {
	[ -n "$NET_READY" ] || skip "$NET_WHY"
}

# box ARGS...: clawbox run with the test hosts file and the test CA.
box() {
	unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T_TMP/hosts" \
		env CLAWBOX_UPSTREAM_CA_FILE="$CERTS/ca.crt" timeout 120 "$CLAWBOX" run --project "$P" --net proxy "$@"
}
ALLOW_API="--allow-domain api.broker.test --allow-ip"

# setkey NAME VALUE SPEC: store NAME brokered by SPEC.
setkey() {
	printf %s "$2" | "$CLAWBOX" secrets set --project "$P" "$1" --broker "$3" >/dev/null ||
		fail "secrets set $1 --broker $3 failed"
}

# up_mark / up_new: the upstream's log lines since the mark.
up_mark() { wc -l <"$UP_LOG" >"$C/up.mark"; }
up_new() { tail -n +$(($(cat "$C/up.mark") + 1)) "$UP_LOG"; }

# up_field FIELD [HEADER]: FIELD ("body", "target", "path", "sni", "conn"...)
# of each new upstream request, one a line; with "header" HEADER: that
# header's value (case-insensitive; "-" when absent); "body_sha": the
# body's SHA-256.
up_field() {
	up_new | python3 -c '
import hashlib, json, sys
f = sys.argv[1]
for line in sys.stdin:
    r = json.loads(line)
    if f == "body_sha":
        print(hashlib.sha256(r["body"].encode("latin-1")).hexdigest())
    elif f == "header":
        v = [v for k, v in r["headers"] if k.lower() == sys.argv[2].lower()]
        print(v[0] if v else "-")
    else:
        print(r[f])' "$@"
}

audit_json() { "$CLAWBOX" audit --project "$P" --json; }
broker_events() { audit_json | grep '"event":"net.broker"' || true; }

# no_value WHAT TEXT: fail when TEXT holds any value of this file.
no_value() {
	local v
	for v in "${ALL_VALUES[@]}"; do
		case "$2" in *"$v"*) fail "$1 holds the value '$v'" ;; esac
	done
}

# placeholder_ok PH VALUE: PH is a placeholder of VALUE: as long, not it.
placeholder_ok() {
	[ -n "$1" ] || fail "no placeholder in the box"
	[ "${#1}" = "${#2}" ] || fail "placeholder '$1' is ${#1} bytes, the value ${#2}"
	[ "$1" != "$2" ] || fail "the box holds the value itself"
}

# ---------------------------------------------------------------------------

curl_header_brokered() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	up_mark
	box $ALLOW_API "$REMOTE_IP" -- sh -c \
		'printf "%s\n" "$BROKER_KEY"; curl -sS -m 10 -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo' \
		>"$C/out" 2>"$C/err" || fail "run failed: $(cat "$C/out" "$C/err")"
	ph=$(head -1 "$C/out")
	placeholder_ok "$ph" "$V_KEY"
	case "$ph" in sk-ant-api03-*) ;; *) fail "the prefix was not kept: $ph" ;; esac
	sed -n 2p "$C/out" | grep -q '"ok": true' || fail "curl did not get the upstream's answer: $(cat "$C/out" "$C/err")"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "upstream got x-api-key '$(up_field header x-api-key)'"
	[ "$(up_field sni)" = api.broker.test ] || fail "upstream SNI: $(up_field sni)"
	no_value "the box's output" "$(cat "$C/out" "$C/err")"
	grep -qF "$ph" "$C/out" || fail "the box's output lacks the placeholder"
	# The audit: one brokered request, the CONNECT marked brokered.
	ev=$(broker_events)
	echo "$ev" | grep '"decision":"allow"' | grep '"host":"api.broker.test"' | grep '"port":443' |
		grep '"method":"GET"' | grep '"path":"/echo"' | grep '"status":200' | grep '"bytes_out":[1-9]' |
		grep '"bytes_in":[1-9]' | grep -q '"secrets":\["BROKER_KEY"\]' || fail "no allow event: $ev"
	audit_json | grep '"event":"net.connect"' | grep '"host":"api.broker.test"' | grep -q '"brokered":true' ||
		fail "the CONNECT is not marked brokered: $(audit_json | grep net.connect)"
	no_value "the audit" "$(audit_json)"
	"$CLAWBOX" audit verify --project "$P" >/dev/null || fail "audit chain broken"
	# A client offering h2 and http/1.1 (curl --http2) gets HTTP/1.1.
	up_mark
	out=$(box $ALLOW_API "$REMOTE_IP" -- sh -c \
		'curl -sS -m 10 --http2 -o /dev/null -w "%{http_code} %{http_version}" -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo/h2') ||
		fail "curl --http2: $out"
	[ "$out" = "200 1.1" ] || fail "curl --http2: $out"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "curl --http2: upstream got '$(up_field header x-api-key)'"
	# Through SOCKS5 (ALL_PROXY) the same.
	up_mark
	code=$(box $ALLOW_API "$REMOTE_IP" -- sh -c 'unset https_proxy HTTPS_PROXY
		curl -s -m 10 -o /dev/null -w "%{http_code}" -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo/socks') || true
	[ "$code" = 200 ] || fail "through SOCKS5: '$code'"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "through SOCKS5: upstream got '$(up_field header x-api-key)'"
	audit_json | grep '"event":"net.connect"' | grep '"proto":"socks5"' | grep -q '"brokered":true' ||
		fail "the SOCKS5 connection is not marked brokered: $(audit_json | grep net.connect)"
}
case_run "curl in the box: the upstream gets the value, the box only the placeholder (CONNECT, SOCKS5)" curl_header_brokered

# Everything the box can see, and everything clawbox writes, after a run
# that used the secret: the value is in none of it.
value_nowhere_in_box() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	cp "$CERTS/other-ca.crt" "$P/"
	# Every process's environment and argv (a background sleep among them),
	# dumped for the host to search; the box writes the placeholder to its
	# home and to the workspace as an agent might.
	box $ALLOW_API "$REMOTE_IP" -- sh -c '
		sleep 60 & s=$!
		curl -sS -m 10 -o /dev/null -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo
		echo "$BROKER_KEY" >/home/clawbox/kept; echo "$BROKER_KEY" >kept
		n=0
		for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do
			cat "$f" 2>/dev/null | tr "\0" "\n" && n=$((n + 1))
		done
		echo "files=$n"
		env; kill $s' >"$C/dump" 2>"$C/err" || fail "run failed: $(cat "$C/err")"
	n=$(sed -n 's/^files=//p' "$C/dump")
	[ "${n:-0}" -ge 6 ] || fail "the dump read $n files of /proc"
	grep -qx "BROKER_KEY=.*" "$C/dump" || fail "the dump lacks the variable: $(head -20 "$C/dump")"
	grep -q "^sleep$" "$C/dump" || fail "the background sleep is not in the dump"
	ph=$(sed -n 's/^BROKER_KEY=//p' "$C/dump" | head -1)
	placeholder_ok "$ph" "$V_KEY"
	no_value "the box's processes" "$(cat "$C/dump" "$C/err")"
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	# Control: the host sees what the box wrote (so that the grep below
	# searches the right place).
	grep -qxF "$ph" "$box/home/kept" || fail "the box's home is not at $box/home"
	grep -qxF "$ph" "$box/upper/kept" || fail "the box's upper dir is not at $box/upper"
	for d in "$box/home" "$box/upper"; do
		for v in "${ALL_VALUES[@]}"; do
			! grep -rqF "$v" "$d" || fail "$d holds the value: $(grep -rlF "$v" "$d")"
		done
	done
	# Everything clawbox wrote but its store (the store holds the value).
	while IFS= read -r -d '' f; do
		case "$f" in "$box/secrets.env" | "$box/secrets.known" | "$box/disk.img") continue ;; esac
		! grep -qF "$V_KEY" "$f" || fail "'$f' holds the value"
	done < <(find "$CLAWBOX_STATE_DIR" -type f -print0)
	no_value "clawbox audit" "$("$CLAWBOX" audit --project "$P" 2>&1)"
	no_value "clawbox audit --json" "$(audit_json 2>&1)"
	no_value "clawbox secrets list" "$("$CLAWBOX" secrets list --project "$P" 2>&1)"
}
case_run "the value is nowhere in the box: processes, files, output, audit" value_nowhere_in_box

# On a terminal (script: a pty), where the box's output passes clawbox's
# stream redactor: the value nowhere; a placeholder shown as it is, but for
# a public format prefix of 12 characters or more, which the redactor hides
# wherever it is shown (docs/SECRETS.md, "Redaction": sk-ant-api03-).
terminal_shows_placeholder() {
	need_net
	command -v script >/dev/null || skip "needs script (util-linux)"
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	setkey GH_KEY "$V_AUTH" "api.broker.test=authorization"
	out=$(box -- sh -c 'echo "$BROKER_KEY"; echo "$GH_KEY"')
	ph=$(echo "$out" | sed -n 1p) ph2=$(echo "$out" | sed -n 2p)
	placeholder_ok "$ph" "$V_KEY"
	placeholder_ok "$ph2" "$V_AUTH"
	up_mark
	out=$(unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T_TMP/hosts" \
		env CLAWBOX_UPSTREAM_CA_FILE="$CERTS/ca.crt" SHELL=/bin/bash timeout 60 script -qec \
		"$CLAWBOX run --project $P --net proxy $ALLOW_API $REMOTE_IP -- sh -c 'echo PH=\$BROKER_KEY; echo PH2=\$GH_KEY; curl -sS -m 10 -H \"x-api-key: \$BROKER_KEY\" https://api.broker.test/echo'" \
		/dev/null 2>&1 </dev/null | tr -d '\r')
	no_value "the terminal" "$out"
	echo "$out" | grep -q '"ok": true' || fail "on a terminal: no answer: $out"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "on a terminal: upstream got '$(up_field header x-api-key)'"
	echo "$out" | grep -qF "PH2=$ph2" || fail "on a terminal: the placeholder '$ph2' is not shown as it is: $out"
	# The redacted prefix is as long as the placeholder agrees with the value
	# (sk-ant-api03-, and a next character when it happens to be the same).
	n=0
	while [ "${ph:n:1}" = "${V_KEY:n:1}" ]; do n=$((n + 1)); done
	[ $n -ge 13 ] || fail "the placeholder lost the public prefix: $ph"
	echo "$out" | grep -qF "PH=[REDACTED:BROKER_KEY]${ph:n}" ||
		fail "on a terminal: not '[REDACTED:BROKER_KEY]${ph:n}' (the placeholder, its public prefix redacted): $out"
}
case_run "on a terminal: the value nowhere, the placeholder shown (a public prefix redacted)" terminal_shows_placeholder

placeholder_elsewhere_not_replaced() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	cp "$CERTS/ca.crt" "$P/test-ca.crt"
	up_mark
	# Plain HTTP to another host, the placeholder in a header: refused.
	code=$(box --allow-domain good.test --allow-ip "$REMOTE_IP" -- \
		sh -c 'curl -s -m 10 -o /dev/null -w "%{http_code}" -H "x-api-key: $BROKER_KEY" http://good.test/echo') || true
	[ "$code" = 403 ] || fail "plain HTTP with the placeholder: expected 403, got '$code'"
	[ -z "$(up_new)" ] || fail "the plain server got the request: $(up_new)"
	# ... and in the query, to the brokered host itself over plain HTTP.
	code=$(box --allow-domain api.broker.test:80 --allow-ip "$REMOTE_IP" -- \
		sh -c 'curl -s -m 10 -o /dev/null -w "%{http_code}" "http://api.broker.test/echo?k=$BROKER_KEY"') || true
	[ "$code" = 403 ] || fail "plain HTTP to the brokered host: expected 403, got '$code'"
	[ -z "$(up_new)" ] || fail "the plain server got the request: $(up_new)"
	# ... and plain HTTP inside a CONNECT to the brokered host (as Node's
	# proxy agent sends an http:// URL): refused, not tunnelled.
	code=$(box --allow-domain api.broker.test:80 --allow-ip "$REMOTE_IP" -- \
		sh -c 'curl -s -m 10 -p -o /dev/null -w "%{http_code}" -H "x-api-key: $BROKER_KEY" http://api.broker.test/echo/connect') || true
	[ "$code" != 200 ] || fail "plain HTTP with the placeholder in a CONNECT to the brokered host: 200"
	[ -z "$(up_new)" ] || fail "the plain server got the request: $(up_new)"
	ev=$(broker_events)
	[ "$(echo "$ev" | grep '"decision":"deny"' | grep -c '"what":"placeholder"')" -ge 3 ] ||
		fail "not 3 placeholder deny events: $ev"
	# Control: without the placeholder that tunnel carries it (no value put
	# in plain text).
	code=$(box --allow-domain api.broker.test:80 --allow-ip "$REMOTE_IP" -- \
		sh -c 'curl -s -m 10 -p -o /dev/null -w "%{http_code}" -H "x-api-key: nothing-secret" http://api.broker.test/echo/connect') || true
	[ "$code" = 200 ] || fail "control: plain HTTP in a CONNECT without the placeholder: '$code'"
	[ "$(up_field header x-api-key)" = nothing-secret ] || fail "control: the plain server got: $(up_new)"
	# Control: the same request without the placeholder goes through.
	code=$(box --allow-domain good.test --allow-ip "$REMOTE_IP" -- \
		sh -c 'curl -s -m 10 -o /dev/null -w "%{http_code}" -H "x-api-key: nothing-secret" http://good.test/echo') || true
	[ "$code" = 200 ] || fail "control: plain HTTP without the placeholder: '$code'"
	# A CONNECT to a host that is not brokered is a tunnel: what the box
	# sends (the placeholder) is what arrives.
	up_mark
	out=$(box --allow-domain tunnel.broker.test --allow-ip "$REMOTE_IP" -- \
		sh -c 'curl -sS -m 10 --cacert test-ca.crt -H "x-api-key: $BROKER_KEY" https://tunnel.broker.test/echo; echo "PH=$BROKER_KEY"') ||
		fail "tunnel: $out"
	ph=$(echo "$out" | sed -n 's/^PH=//p')
	placeholder_ok "$ph" "$V_KEY"
	[ "$(up_field sni)" = tunnel.broker.test ] || fail "tunnel: upstream SNI '$(up_field sni)'"
	[ "$(up_field header x-api-key)" = "$ph" ] || fail "tunnel: upstream got x-api-key '$(up_field header x-api-key)'"
	audit_json | grep '"event":"net.connect"' | grep '"host":"tunnel.broker.test"' | grep '"decision":"allow"' |
		grep -vq '"brokered":true' || fail "the tunnel is logged as brokered: $(audit_json | grep tunnel.broker)"
	no_value "the audit" "$(audit_json)"
}
case_run "a placeholder bound elsewhere: plain HTTP (proxied or in a CONNECT) refused, a tunnel carries it unchanged" placeholder_elsewhere_not_replaced

places_and_body() {
	need_net
	mkproj "$P"
	setkey HDR_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	setkey AUTH_KEY "$V_AUTH" "api.broker.test=authorization"
	setkey QUERY_KEY "$V_QUERY" "api.broker.test=query:key"
	setkey BOT_TOKEN "$V_BOT" "api.broker.test=path"
	U=https://api.broker.test
	up_mark
	box $ALLOW_API "$REMOTE_IP" -- sh -c '
		echo "$HDR_KEY"; echo "$AUTH_KEY"; echo "$QUERY_KEY"; echo "$BOT_TOKEN"
		c() { curl -sS -m 10 -o /dev/null -w "%{http_code}\n" "$@"; }
		c -H "x-api-key: $HDR_KEY" --data-binary "$HDR_KEY" '$U'/echo/body
		c -H "Authorization: Bearer $AUTH_KEY" '$U'/echo/auth
		c --data-binary "key=$QUERY_KEY" "'$U'/echo/query?x=1&key=$QUERY_KEY&y=2"
		c "'$U'/bot$BOT_TOKEN/getMe"
		c "'$U'/echo/notaplace?key=$HDR_KEY"
		c -u "user:$AUTH_KEY" '$U'/echo/basic
		{ echo "$HDR_KEY"; head -c 300000 /dev/zero | tr "\0" x; echo "$AUTH_KEY"; } >/tmp/body
		sha256sum </tmp/body | cut -d" " -f1
		c -H "Expect: 100-continue" -H "x-api-key: $HDR_KEY" --data-binary @/tmp/body '$U'/echo/big' >"$C/out" 2>&1 ||
		fail "run failed: $(cat "$C/out")"
	mapfile -t phs <"$C/out"
	placeholder_ok "${phs[0]}" "$V_KEY"
	placeholder_ok "${phs[1]}" "$V_AUTH"
	placeholder_ok "${phs[2]}" "$V_QUERY"
	placeholder_ok "${phs[3]}" "$V_BOT"
	case "${phs[1]}" in ghp_*) ;; *) fail "the ghp_ prefix was not kept: ${phs[1]}" ;; esac
	[[ ${phs[3]} =~ ^[0-9]{10}:[A-Za-z0-9]{35}$ ]] || fail "the bot token's shape was not kept: ${phs[3]}"
	[ "$(sed -n '5,10p;12p' "$C/out" | tr '\n' ' ')" = "200 200 200 200 200 200 200 " ] || fail "statuses: $(cat "$C/out")"
	up_new >"$C/up"
	[ "$(wc -l <"$C/up")" = 7 ] || fail "the upstream got $(wc -l <"$C/up") requests"
	mapfile -t hdr < <(up_field header x-api-key)
	mapfile -t body < <(up_field body)
	mapfile -t auth < <(up_field header authorization)
	mapfile -t target < <(up_field target)
	[ "${hdr[0]}" = "$V_KEY" ] || fail "header: upstream got '${hdr[0]}'"
	[ "${body[0]}" = "${phs[0]}" ] || fail "the body changed: upstream got '${body[0]}', the box sent '${phs[0]}'"
	[ "${auth[1]}" = "Bearer $V_AUTH" ] || fail "authorization: upstream got '${auth[1]}'"
	[ "${target[2]}" = "/echo/query?x=1&key=$V_QUERY&y=2" ] || fail "query: upstream got '${target[2]}'"
	[ "${body[2]}" = "key=${phs[2]}" ] || fail "a form body changed: upstream got '${body[2]}'"
	[ "${target[3]}" = "/bot$V_BOT/getMe" ] || fail "path: upstream got '${target[3]}'"
	# A placeholder in a place its rule does not name stays what it is.
	[ "${target[4]}" = "/echo/notaplace?key=${phs[0]}" ] || fail "not a place of the rule: upstream got '${target[4]}'"
	# Basic: inside the decoded user:password.
	[ "${auth[5]}" = "Basic $(printf 'user:%s' "$V_AUTH" | base64 -w0)" ] ||
		fail "Basic: upstream got '${auth[5]}' ($(echo "${auth[5]#Basic }" | base64 -d 2>/dev/null))"
	# A 300 kB body (Expect: 100-continue) with two placeholders: the same bytes.
	mapfile -t sha < <(up_field body_sha)
	[ "${sha[6]}" = "$(sed -n 11p "$C/out")" ] || fail "the 300 kB body changed: ${sha[6]} != $(sed -n 11p "$C/out")"
	[ "${hdr[6]}" = "$V_KEY" ] || fail "with a body: upstream got x-api-key '${hdr[6]}'"
	ev=$(broker_events)
	for n in HDR_KEY AUTH_KEY QUERY_KEY BOT_TOKEN; do
		echo "$ev" | grep '"decision":"allow"' | grep -q "\"secrets\":\[\"$n\"\]" || fail "no allow event for $n: $ev"
	done
	no_value "the audit" "$(audit_json)"
	no_value "the box's output" "$(cat "$C/out")"
}
case_run "header, Authorization, query, path put in; the body passes unchanged" places_and_body

# An upstream that echoes the key (an error message quoting it): what comes
# back reaches the box with the placeholder in its place, head and body,
# Content-Length (in one write or cut in two) or chunked.
echoed_value_scrubbed() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	up_mark
	box $ALLOW_API "$REMOTE_IP" -- sh -c '
		echo "$BROKER_KEY"
		for m in cl split chunked; do
			echo "== $m"
			curl -sS -m 10 -D - -H "x-api-key: $BROKER_KEY" "https://api.broker.test/reflect?mode=$m" | tr -d "\r"
		done' >"$C/out" 2>&1 || fail "run failed: $(cat "$C/out")"
	ph=$(head -1 "$C/out")
	placeholder_ok "$ph" "$V_KEY"
	[ "$(up_field header x-api-key | sort -u)" = "$V_KEY" ] || fail "the upstream did not get the value: $(up_field header x-api-key)"
	no_value "what the box got back" "$(cat "$C/out")"
	for m in cl split chunked; do
		sed -n "/^== $m\$/,/^== /p" "$C/out" >"$C/$m"
		grep -qx "X-Echo: $ph" "$C/$m" || fail "$m: no X-Echo with the placeholder: $(cat "$C/$m")"
		for line in "key=$ph" "again $ph end" "$ph"; do
			grep -qxF "$line" "$C/$m" || fail "$m: no line '$line': $(cat "$C/$m")"
		done
	done
	# The framing unchanged: the placeholder is as long as the value.
	grep -qix "content-length: $((3 * ${#ph} + 17))" "$C/cl" || fail "the length changed: $(cat "$C/cl")"
}
case_run "a value the upstream echoes reaches the box as the placeholder (head, body, chunked)" echoed_value_scrubbed

ca_key_hidden() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	out=$(box $ALLOW_API "$REMOTE_IP" -- sh -c '
		curl -sS -m 10 -o /dev/null -w "%{http_code}\n" -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo
		for f in '"$CLAWBOX_STATE_DIR"'/boxes/*/broker-ca.key '"$CLAWBOX_STATE_DIR"'/boxes/*/broker.key; do
			cat "$f" >/dev/null 2>&1 && echo "READ $f"
		done
		find / -xdev \( -name "broker-ca.key" -o -name "broker.key" -o -name "secrets.env" \) 2>/dev/null | sed "s/^/FOUND /"
		true') || fail "run failed: $out"
	echo "$out" | head -1 | grep -qx 200 || fail "the brokered request failed: $out"
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	# Control: the files exist on the host, 0600.
	for f in broker-ca.key broker.key broker.toml; do
		[ -f "$box/$f" ] || fail "no $box/$f on the host"
		[ "$(stat -c %a "$box/$f")" = 600 ] || fail "$f is mode $(stat -c %a "$box/$f")"
	done
	echo "$out" | grep -q '^READ' && fail "the box read a key: $out"
	echo "$out" | grep -q '^FOUND' && fail "the box sees key files: $out"
	true
}
case_run "the CA key and the broker key are not readable in the box" ca_key_hidden

untrusting_client_refused() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	cp "$CERTS/other-ca.crt" "$P/"
	up_mark
	set +e
	out=$(box $ALLOW_API "$REMOTE_IP" -- sh -c '
		t=$(date +%s%N)
		curl -sS -m 10 -o /dev/null --cacert other-ca.crt -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo
		rc=$?
		echo "ms=$((($(date +%s%N) - t) / 1000000))"
		exit $rc' 2>&1)
	rc=$?
	set -e
	[ $rc -eq 60 ] || [ $rc -eq 35 ] || fail "curl trusting another CA: exit $rc: $out"
	echo "$out" | grep -q "warning: brokered host api.broker.test: TLS handshake with the box failed" ||
		fail "no warning naming the host: $out"
	ms=$(echo "$out" | sed -n 's/^ms=//p')
	[ -n "$ms" ] && [ "$ms" -lt 2000 ] || fail "the refusal took $ms ms (curl -m 10): $out"
	# A client of its own trust (OpenSSL, no default paths): the same.
	set +e
	out2=$(box $ALLOW_API "$REMOTE_IP" -- sh -c \
		'timeout 10 openssl s_client -proxy 127.0.0.1:3128 -connect api.broker.test:443 -servername api.broker.test \
			-CAfile other-ca.crt -no-CApath -no-CAstore -verify_return_error </dev/null' 2>&1)
	rc2=$?
	set -e
	[ $rc2 -ne 0 ] && [ $rc2 -ne 124 ] || fail "openssl s_client trusting another CA: exit $rc2: $out2"
	# A client that trusts the CA but offers neither http/1.1 nor h2: refused too.
	cp "$BROKER_DIR/client.py" "$P/"
	out3=$(box $ALLOW_API "$REMOTE_IP" -- env CLIENT_ALPN=h3 python3 client.py raw api.broker.test \
		'GET /echo HTTP/1.1\r\nHost: api.broker.test\r\nx-api-key: {ENV:BROKER_KEY}\r\n\r\n' 2>"$C/err3") || true
	case "$out3" in "TLS-ERROR"*) ;; *) fail "a client offering only h3: $out3 $(cat "$C/err3")" ;; esac
	[ -z "$(up_new)" ] || fail "the upstream got a request: $(up_new)"
	ev=$(broker_events)
	[ "$(echo "$ev" | grep '"decision":"deny"' | grep -c '"what":"handshake"')" -ge 3 ] ||
		fail "not 3 handshake deny events: $ev"
	echo "$ev" | grep '"what":"handshake"' | grep -q '"reason":"[^"]' || fail "no reason: $ev"
	no_value "the clients' output" "$out$out2$out3"
}
case_run "a client that does not trust the box's CA (or offers neither http/1.1 nor h2) fails fast, audited (handshake)" untrusting_client_refused

bad_upstream_cert() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key,bad.broker.test=header:x-api-key,rogue.broker.test=header:x-api-key"
	up_mark
	out=$(box --allow-domain bad.broker.test --allow-domain rogue.broker.test --allow-domain api.broker.test --allow-ip "$REMOTE_IP" -- sh -c '
		for h in bad rogue api; do
			curl -s -m 10 -o /dev/null -w "%{http_code}\n" -H "x-api-key: $BROKER_KEY" https://$h.broker.test/echo
		done') || true
	[ "$(echo $out)" = "502 502 200" ] || fail "name mismatch, untrusted CA, control: expected 502 502 200, got '$(echo $out)'"
	# An h2-only client: the proxy speaks HTTP/2 to the upstream, which
	# (this one) does not: refused, nothing sent.
	cp "$BROKER_DIR/client.py" "$P/"
	out2=$(box $ALLOW_API "$REMOTE_IP" -- env CLIENT_ALPN=h2 python3 client.py raw api.broker.test \
		'GET /echo/h2 HTTP/1.1\r\nHost: api.broker.test\r\nx-api-key: {ENV:BROKER_KEY}\r\n\r\n' 2>&1) || true
	case "$out2" in "HTTP/1.1 "*) fail "an h2-only client got an HTTP/1.1 answer: $out2" ;; esac
	# Only the control's request arrived (a handshake the proxy abandoned
	# sends nothing).
	[ "$(up_field sni | tr '\n' ' ')" = "api.broker.test " ] || fail "the upstream got: $(up_new)"
	ev=$(broker_events)
	for h in bad rogue; do
		echo "$ev" | grep '"decision":"deny"' | grep "\"host\":\"$h.broker.test\"" | grep -q '"what":"upstream"' ||
			fail "no upstream deny event for $h: $ev"
	done
	echo "$ev" | grep '"decision":"deny"' | grep '"host":"api.broker.test"' | grep '"what":"upstream"' |
		grep -q 'HTTP/2' || fail "no upstream deny event for the h2-only client: $ev"
	no_value "the audit" "$(audit_json)"
}
case_run "an upstream with a bad certificate, or without the h2 an h2-only client needs: refused, audited (upstream), nothing sent" bad_upstream_cert

# The upstream's trust is the host's, where OpenSSL's defaults say in
# clawbox's environment: its hashed directory is looked up as a chain needs
# it. The box cannot choose it: the test CA named by the box's own
# SSL_CERT_FILE and SSL_CERT_DIR (its hashed name beside it) trusts nothing.
# bare ENV... -- ARGS: clawbox run with the test hosts, without
# CLAWBOX_UPSTREAM_CA_FILE, with ENV (VAR=VALUE) in clawbox's environment.
bare() {
	local env=()
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T_TMP/hosts" \
		env -u CLAWBOX_UPSTREAM_CA_FILE -u SSL_CERT_FILE -u SSL_CERT_DIR "${env[@]}" \
		timeout 120 "$CLAWBOX" run --project "$P" --net proxy "$@"
}
trust_store_is_the_hosts() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	local hash dir=$C/certs req='curl -s -m 10 -o /dev/null -w "%{http_code}" -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo'
	hash=$(openssl x509 -hash -noout -in "$CERTS/ca.crt")
	mkdir -p "$dir" "$P/certs"
	cp "$CERTS/ca.crt" "$dir/$hash.0"
	cp "$CERTS/ca.crt" "$P/certs/$hash.0"
	cp "$CERTS/ca.crt" "$P/ca.crt"
	up_mark
	code=$(bare -- $ALLOW_API "$REMOTE_IP" --setenv SSL_CERT_FILE=/workspace/ca.crt \
		--setenv SSL_CERT_DIR=/workspace/certs -- sh -c "$req") || true
	[ "$code" = 502 ] || fail "the box's SSL_CERT_FILE/SSL_CERT_DIR: expected 502, got '$code'"
	[ -z "$(up_new)" ] || fail "the upstream got a request: $(up_new)"
	broker_events | grep '"decision":"deny"' | grep '"what":"upstream"' | grep -q 'local issuer' ||
		fail "no upstream deny for the untrusted chain: $(broker_events)"
	# clawbox's own SSL_CERT_DIR: the hashed directory, looked up.
	code=$(bare SSL_CERT_DIR="$dir" -- $ALLOW_API "$REMOTE_IP" -- sh -c "$req") || true
	[ "$code" = 200 ] || fail "clawbox's SSL_CERT_DIR holding the CA: expected 200, got '$code'"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "upstream got x-api-key '$(up_field header x-api-key)'"
	# clawbox's own SSL_CERT_FILE, another file than the default: read whole.
	up_mark
	code=$(bare SSL_CERT_FILE="$CERTS/ca.crt" -- $ALLOW_API "$REMOTE_IP" -- sh -c "$req") || true
	[ "$code" = 200 ] || fail "clawbox's SSL_CERT_FILE naming the CA: expected 200, got '$code'"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "upstream got x-api-key '$(up_field header x-api-key)'"
	no_value "the audit" "$(audit_json)"
}
case_run "the upstream's trust is the host's (its hashed directory, or clawbox's SSL_CERT_FILE/DIR), never the box's" trust_store_is_the_hosts

# An upstream that answers badly: cut short (fewer bytes than it announced)
# or not HTTP at all. The box's client sees the cut (or a 502); each is a
# "response" refusal in the audit; the next request is served.
bad_upstream_answers() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	out=$(box $ALLOW_API "$REMOTE_IP" -- sh -c '
		U=https://api.broker.test
		curl -s -m 10 -o /tmp/cut -H "x-api-key: $BROKER_KEY" $U/cut; echo "cut rc=$? bytes=$(wc -c </tmp/cut)"
		curl -s -m 10 -o /dev/null -w "garbage %{http_code}\n" -H "x-api-key: $BROKER_KEY" $U/garbage
		curl -s -m 10 -o /dev/null -w "after %{http_code}\n" -H "x-api-key: $BROKER_KEY" $U/echo/after') ||
		fail "run failed: $out"
	echo "$out" | grep -qx 'cut rc=18 bytes=100' || fail "a cut answer (curl: partial file, the 100 bytes): $out"
	echo "$out" | grep -qx 'garbage 502' || fail "a garbage answer: $out"
	echo "$out" | grep -qx 'after 200' || fail "the next request: $out"
	ev=$(broker_events)
	[ "$(echo "$ev" | grep '"decision":"deny"' | grep -c '"what":"response"')" = 2 ] || fail "not 2 response refusals: $ev"
}
case_run "an upstream's answer cut short or not HTTP: the box sees it, audited (response)" bad_upstream_answers

hostile_requests_in_tls() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	setkey OTHER_KEY "$V_OTHER" "other.broker.test=header:x-api-key"
	cp "$BROKER_DIR/client.py" "$P/"
	up_mark
	H='Host: api.broker.test\r\nx-api-key: {ENV:BROKER_KEY}\r\n'
	out=$(box --allow-domain api.broker.test --allow-domain other.broker.test --allow-ip "$REMOTE_IP" -- sh -c "
		c() { python3 client.py raw api.broker.test \"\$1\"; }
		c 'POST /echo HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nHost: api.broker.test\r\n\r\n'
		c 'GET /echo HTTP/1.1\r\n${H}X-Big: {BIG:40000}\r\n\r\n'
		c 'GET /echo HTTP/1.1\r\nHost: other.broker.test\r\nx-api-key: {ENV:BROKER_KEY}\r\n\r\n'
		c 'GET /echo HTTP/1.1\r\n${H}x-other: {ENV:OTHER_KEY}\r\n\r\n'
		c 'GET /echo HTTP/1.1\r\n${H}\r\n'") || fail "run failed: $out"
	expected=$(printf '%s\n' "HTTP/1.1 400 Bad Request" "HTTP/1.1 431 Request Header Fields Too Large" \
		"HTTP/1.1 400 Bad Request" "HTTP/1.1 403 Forbidden" "HTTP/1.1 200 OK")
	[ "$out" = "$expected" ] || fail "CL+TE, 40 KB head, Host not the CONNECT's, another host's placeholder, control: got
$out"
	# Only the control reached the upstream.
	[ "$(up_field target | tr '\n' ' ')" = "/echo " ] || fail "the upstream got: $(up_new)"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "control: upstream got '$(up_field header x-api-key)'"
	ev=$(broker_events)
	[ "$(echo "$ev" | grep -c '"decision":"deny"')" -ge 4 ] || fail "not 4 deny events: $ev"
	echo "$ev" | grep '"decision":"deny"' | grep -q '"what":"request"' || fail "no request deny: $ev"
	no_value "the audit" "$(audit_json)"
}
case_run "smuggling (CL+TE), a huge head, a wrong Host, another host's placeholder refused" hostile_requests_in_tls

# Requests inside the TLS framed every way a box might try: pipelined (a
# second request in the same write, good or bad), lengths, chunking, folding,
# bare LF, versions. Each answer as HTTP/1.1 says; only the good requests
# reach the upstream, each with the value.
framing_inside_tls() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	cp "$BROKER_DIR/client.py" "$P/"
	up_mark
	H='Host: api.broker.test\r\nx-api-key: {ENV:BROKER_KEY}\r\n'
	X='Connection: close\r\n'
	out=$(box $ALLOW_API "$REMOTE_IP" -- sh -c "
		c() { echo \"== \$1\"; python3 client.py rawall api.broker.test \"\$2\"; }
		c pipelined 'GET /echo/p1 HTTP/1.1\r\n${H}\r\nGET /echo/p2 HTTP/1.1\r\n${H}${X}\r\n'
		c pipelined-bad 'GET /echo/p3 HTTP/1.1\r\n${H}\r\nGET /echo/p4 HTTP/1.1\r\nHost: evil.test\r\n\r\n'
		c cl-same 'POST /echo/cl2 HTTP/1.1\r\n${H}${X}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello'
		c cl-differ 'POST /echo/cl3 HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'
		c absolute 'GET https://api.broker.test/echo/abs HTTP/1.1\r\n${H}\r\n'
		c fold 'GET /echo/fold HTTP/1.1\r\n${H}X-F: a\r\n b\r\n\r\n'
		c te-list 'POST /echo/te HTTP/1.1\r\n${H}Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n'
		c chunk-ext 'POST /echo/chx HTTP/1.1\r\n${H}${X}Transfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\n\r\n'
		c chunk-bad 'POST /echo/chb HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n'
		c close 'GET /echo/close HTTP/1.1\r\n${H}${X}\r\nGET /echo/after-close HTTP/1.1\r\n${H}\r\n'
		c bare-lf 'GET /echo/lf HTTP/1.1\n${H}\r\n'
		c space-colon 'GET /echo/sp HTTP/1.1\r\nHost: api.broker.test\r\nx-api-key : {ENV:BROKER_KEY}\r\n\r\n'
		c http12 'GET /echo/v12 HTTP/1.2\r\n${H}\r\n'
		c http09 'GET /echo/v09\r\n\r\n'") || fail "run failed: $out"
	expected=$(printf '%s\n' "== pipelined" "HTTP/1.1 200 OK" "HTTP/1.1 200 OK" END \
		"== pipelined-bad" "HTTP/1.1 200 OK" "HTTP/1.1 400 Bad Request" END \
		"== cl-same" "HTTP/1.1 200 OK" END "== cl-differ" "HTTP/1.1 400 Bad Request" END \
		"== absolute" "HTTP/1.1 400 Bad Request" END "== fold" "HTTP/1.1 400 Bad Request" END \
		"== te-list" "HTTP/1.1 400 Bad Request" END "== chunk-ext" "HTTP/1.1 200 OK" END \
		"== chunk-bad" END "== close" "HTTP/1.1 200 OK" END \
		"== bare-lf" "HTTP/1.1 400 Bad Request" END "== space-colon" "HTTP/1.1 400 Bad Request" END \
		"== http12" "HTTP/1.1 505 HTTP Version Not Supported" END "== http09" "HTTP/1.1 400 Bad Request" END)
	[ "$out" = "$expected" ] || fail "answers: $(diff <(echo "$expected") <(echo "$out"))"
	# What reached the upstream: the good requests, with the value; a
	# malformed chunk's data never.
	got=$(up_field target | sort | tr '\n' ' ')
	[ "$got" = "/echo/chb /echo/chx /echo/cl2 /echo/close /echo/p1 /echo/p2 /echo/p3 " ] ||
		fail "the upstream got: $got"
	[ "$(up_field header x-api-key | sort -u)" = "$V_KEY" ] || fail "not all with the value: $(up_field header x-api-key)"
	up_new | grep '"/echo/chb"' | grep -q '"body": ""' || fail "a malformed chunk's data reached the upstream: $(up_new | grep chb)"
	up_new | grep '"/echo/chx"' | grep -q '"body": "hello"' || fail "a chunk with an extension: $(up_new | grep chx)"
	[ "$(broker_events | grep -c '"decision":"deny"')" -ge 10 ] || fail "not 10 deny events: $(broker_events)"
}
case_run "inside the TLS: pipelined, length, chunking, folding, bare LF, versions framed as HTTP/1.1 says" framing_inside_tls

sse_streamed() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	cp "$BROKER_DIR/client.py" "$P/"
	out=$(box $ALLOW_API "$REMOTE_IP" -- python3 client.py sse api.broker.test /sse) || fail "run failed: $out"
	python3 - "$out" <<'PY' || fail "SSE buffered: $out"
import json, sys
r = json.loads(sys.argv[1])
ev = r["events"]
assert [e[0] for e in ev] == [0, 1, 2, 3, 4], "events %s" % ev
# The first event arrived before the last was sent (the upstream sends
# them 50 ms apart: 200 ms from the first to the last).
assert ev[0][2] < ev[4][1], "first received %.3f, last sent %.3f" % (ev[0][2], ev[4][1])
# Each arrived within 40 ms of its sending.
for i, sent, got in ev:
    assert got - sent < 0.04, "event %d: %.1f ms late" % (i, (got - sent) * 1000)
PY
}
case_run "a streamed response (SSE) is not buffered" sse_streamed

keepalive_two_requests() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	up_mark
	out=$(box $ALLOW_API "$REMOTE_IP" -- sh -c \
		'curl -sS -m 10 -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo/1 https://api.broker.test/echo/2') ||
		fail "run failed: $out"
	[ "$(up_field header x-api-key | tr '\n' ' ')" = "$V_KEY $V_KEY " ] || fail "the upstream got: $(up_new)"
	[ "$(up_field conn | sort -u | wc -l)" = 1 ] || fail "not one upstream connection: $(up_field conn)"
	[ "$(up_field n | tr '\n' ' ')" = "1 2 " ] || fail "requests on the connection: $(up_field n)"
	ev=$(broker_events)
	[ "$(echo "$ev" | grep -c '"decision":"allow"')" = 2 ] || fail "not 2 allow events: $ev"
	echo "$ev" | grep -q '"path":"/echo/2"' || fail "no event for the second request: $ev"
	[ "$(audit_json | grep '"event":"net.connect"' | grep -c '"brokered":true')" = 1 ] ||
		fail "not one brokered CONNECT: $(audit_json | grep net.connect)"
	# Answers without a body (HEAD with a length, 204, 304) then one with:
	# all on one connection, none waits for a body that does not come.
	up_mark
	out=$(box $ALLOW_API "$REMOTE_IP" -- sh -c '
		U=https://api.broker.test
		curl -sS -m 10 -I -o /dev/null -w "%{http_code}\n" -H "x-api-key: $BROKER_KEY" "$U/big?n=5000" \
			--next -sS -m 10 -o /dev/null -w "%{http_code}\n" -H "x-api-key: $BROKER_KEY" "$U/status?code=204" \
			--next -sS -m 10 -o /dev/null -w "%{http_code}\n" -H "x-api-key: $BROKER_KEY" "$U/status?code=304" \
			--next -sS -m 10 -w "%{http_code}\n" -H "x-api-key: $BROKER_KEY" "$U/echo/last"') || fail "run failed: $out"
	[ "$(echo "$out" | grep -v ok | tr '\n' ' ')" = "200 204 304 200 " ] || fail "HEAD, 204, 304, GET: $out"
	[ "$(up_field n | tr '\n' ' ')" = "1 2 3 4 " ] || fail "not one connection: $(up_new)"
	[ "$(up_field header x-api-key | sort -u)" = "$V_KEY" ] || fail "not all with the value"
}
case_run "keep-alive: requests on one connection get the value, an event each; HEAD, 204, 304 framed right" keepalive_two_requests

env_and_bundle() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	out=$(box $ALLOW_API "$REMOTE_IP" -- sh -c '
		for v in SSL_CERT_FILE NODE_EXTRA_CA_CERTS REQUESTS_CA_BUNDLE CURL_CA_BUNDLE GIT_SSL_CAINFO; do
			eval echo "$v=\$$v"
		done
		grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt
		(echo x >>/etc/ssl/certs/ca-certificates.crt) 2>/dev/null && echo WRITABLE
		true') || fail "run failed: $out"
	for v in SSL_CERT_FILE NODE_EXTRA_CA_CERTS REQUESTS_CA_BUNDLE CURL_CA_BUNDLE GIT_SSL_CAINFO; do
		echo "$out" | grep -qx "$v=/etc/ssl/certs/ca-certificates.crt" || fail "$v not set: $out"
	done
	host_n=$(grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt)
	echo "$out" | grep -qx "$((host_n + 1))" || fail "the box's bundle is not the host's ($host_n) plus one: $out"
	echo "$out" | grep -q WRITABLE && fail "the box's bundle is writable"
	# The box's CA (the bundle's last certificate): a CA for no more than
	# the rules' names.
	ca=$(box -- sh -c 'awk "/BEGIN CERT/ { c = \"\" } { c = c \$0 \"\n\" } END { printf \"%s\", c }" /etc/ssl/certs/ca-certificates.crt' |
		openssl x509 -noout -text) || fail "no certificate at the bundle's end"
	echo "$ca" | grep -q "Subject: CN = clawbox box" || fail "the bundle's last certificate is not the box's CA: $ca"
	echo "$ca" | grep -A1 "Basic Constraints: critical" | grep -q "CA:TRUE, pathlen:0" || fail "not a CA of path length 0: $ca"
	[ "$(echo "$ca" | sed -n '/Name Constraints: critical/,/Signature Algorithm/p' | grep -c 'DNS:')" = 1 ] &&
		echo "$ca" | sed -n '/Name Constraints: critical/,/Signature Algorithm/p' | grep -q '^ *DNS:api.broker.test$' ||
		fail "the CA is not constrained to the rule's one name: $ca"
	# A client that ignores the variables still trusts the CA: the bundle
	# is at the system's path (curl's compiled-in default).
	up_mark
	code=$(box $ALLOW_API "$REMOTE_IP" -- sh -c \
		'env -u SSL_CERT_FILE -u CURL_CA_BUNDLE curl -s -m 10 -o /dev/null -w "%{http_code}" --capath /nonexistent -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo') || true
	[ "$code" = 200 ] || fail "curl without the variables: '$code'"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "without the variables: upstream got '$(up_field header x-api-key)'"
}
case_run "the box trusts its CA: the bundle (host's plus one, read-only) and the variables" env_and_bundle

urllib_and_node() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	up_mark
	out=$(box $ALLOW_API "$REMOTE_IP" -- python3 -c '
import os, urllib.request
r = urllib.request.urlopen(urllib.request.Request("https://api.broker.test/echo/urllib",
    headers={"x-api-key": os.environ["BROKER_KEY"]}), timeout=10)
print(r.status)') || fail "urllib: $out"
	[ "$out" = 200 ] || fail "urllib: $out"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "urllib: upstream got '$(up_field header x-api-key)'"
	# Python requests (Debian's python3-requests: its own CA bundle unless
	# REQUESTS_CA_BUNDLE, which clawbox sets; the proxy from HTTPS_PROXY).
	up_mark
	out=$(box $ALLOW_API "$REMOTE_IP" -- /usr/bin/python3 -c '
import os, requests
r = requests.get("https://api.broker.test/echo/requests", headers={"x-api-key": os.environ["BROKER_KEY"]}, timeout=10)
print(r.status_code)') || fail "requests: $out"
	[ "$out" = 200 ] || fail "requests: $out"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "requests: upstream got '$(up_field header x-api-key)'"
	# Node 24's fetch() (the pin of tests/agents/install.sh, bound at /srv).
	command -v npm >/dev/null || skip "urllib ok; Node: npm missing"
	pin=$(bash "$BROKER_DIR/../agents/install.sh" node 2>"$C/install.err") || skip "urllib ok; Node: cannot install the pin ($(tail -1 "$C/install.err"))"
	up_mark
	cat >"$P/f.mjs" <<'EOF'
const r = await fetch("https://api.broker.test/echo/node", { headers: { "x-api-key": process.env.BROKER_KEY } });
console.log(r.status, process.env.NODE_USE_ENV_PROXY);
EOF
	out=$(unshare -m sh -c 'mount --bind "$0" /srv && exec "$@"' "$(dirname "$pin")" \
		unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T_TMP/hosts" \
		env CLAWBOX_UPSTREAM_CA_FILE="$CERTS/ca.crt" timeout 120 "$CLAWBOX" run --project "$P" --net proxy \
		$ALLOW_API "$REMOTE_IP" -- "/srv/$(basename "$pin")/bin/node" f.mjs 2>&1) || fail "node: $out"
	[ "$out" = "200 1" ] || fail "node fetch: $out"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "node: upstream got '$(up_field header x-api-key)'"
}
case_run "python urllib, python requests and Node fetch() (NODE_USE_ENV_PROXY) trust the box's CA" urllib_and_node

git_over_https() {
	need_net
	command -v git >/dev/null || skip "needs git"
	mkproj "$P"
	setkey GH_TOKEN "$V_AUTH" "api.broker.test=authorization"
	up_mark
	box $ALLOW_API "$REMOTE_IP" -- sh -c \
		'git -c http.extraHeader="Authorization: Bearer $GH_TOKEN" ls-remote https://api.broker.test/repo.git' \
		>"$C/out" 2>&1 || true
	up_field target | grep -q '^/repo.git/info/refs' || fail "git did not reach the upstream: $(cat "$C/out"); $(up_new)"
	[ "$(up_field header authorization | head -1)" = "Bearer $V_AUTH" ] ||
		fail "git: upstream got '$(up_field header authorization)'"
	no_value "git's output" "$(cat "$C/out")"
}
case_run "git over HTTPS: http.extraHeader gets the value" git_over_https

# Many brokered connections at once (each its own CONNECT, handshakes and
# upstream connection): all served, all with the value, all audited.
concurrent_brokered() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	up_mark
	out=$(box $ALLOW_API "$REMOTE_IP" -- sh -c 'seq 30 | xargs -P 10 -I{} \
		curl -s -m 20 -o /dev/null -w "%{http_code}\n" -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo/{} |
		sort | uniq -c') || fail "run failed: $out"
	[ "$(echo $out)" = "30 200" ] || fail "30 requests, 10 at a time: $out"
	[ "$(up_field header x-api-key | grep -cxF "$V_KEY")" = 30 ] || fail "not 30 with the value: $(up_field header x-api-key | sort | uniq -c)"
	[ "$(broker_events | grep -c '"decision":"allow"')" = 30 ] || fail "not 30 allow events"
}
case_run "30 brokered connections, 10 at a time: all served with the value, all audited" concurrent_brokered

# A value with bytes a query must encode: put in percent-encoded, whether
# the box sent the placeholder raw (curl) or percent-encoded itself
# (Python's urllib.parse.quote / urlencode, JS URLSearchParams: ':' '/' '+'
# '=' as %3A %2F %2B %3D): either way the parameter is the placeholder.
query_encoded_placeholder() {
	need_net
	mkproj "$P"
	v="abc+def/ghi=jkl:mno$(rnd 20)"
	setkey Q_KEY "$v" "api.broker.test=query:key"
	up_mark
	out=$(box $ALLOW_API "$REMOTE_IP" -- sh -c '
		echo "$Q_KEY"
		curl -sS -m 10 -o /dev/null -w "%{http_code}\n" "https://api.broker.test/echo/raw?key=$Q_KEY"
		e=$(python3 -c "import os, urllib.parse; print(urllib.parse.quote(os.environ[\"Q_KEY\"], safe=\"\"))")
		curl -sS -m 10 -o /dev/null -w "%{http_code}\n" "https://api.broker.test/echo/encoded?key=$e"') ||
		fail "run failed: $out"
	ph=$(echo "$out" | sed -n 1p)
	placeholder_ok "$ph" "$v"
	up_field query | python3 -c '
import sys, urllib.parse
v, ph = sys.argv[1:]
got = [urllib.parse.parse_qs(l.rstrip("\n"))["key"][0] for l in sys.stdin]
print("raw:", "value" if got[0] == v else "placeholder" if got[0] == ph else got[0])
print("encoded:", "value" if got[1] == v else "placeholder" if got[1] == ph else got[1])
assert got == [v, v], "the upstream got %s" % got' "$v" "$ph" || fail "query parameter not brokered: $(up_field target)"
}
case_run "query: the value put in percent-encoded, for a raw or a percent-encoded placeholder" query_encoded_placeholder

# HTTP/2 end to end (an h2-only client, an h2-only upstream: Node on both
# sides, tests/broker/h2-*.mjs): streams of one connection at once, each
# with the value put in; a body unchanged; an echoed key scrubbed; SSE
# streamed; a stream with another host's placeholder or another authority
# refused while the others go on.
h2_brokered() {
	need_net
	[ -n "$H2_READY" ] || skip "needs node (the HTTP/2 upstream)"
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "h2.broker.test=header:x-api-key"
	setkey OTHER_KEY "$V_OTHER" "other.broker.test=header:x-api-key"
	setkey BOT_TOKEN "$V_BOT" "h2.broker.test=path"
	setkey AUTH_KEY "$V_AUTH" "h2.broker.test=authorization"
	cp "$BROKER_DIR/h2-client.mjs" "$P/"
	: >"$H2_LOG"
	K='"x-api-key": "{ENV:BROKER_KEY}"'
	spec='[{"path": "/echo/a", "headers": {'$K'}},
		{"path": "/echo/b", "method": "POST", "headers": {'$K'}, "body": "body {ENV:BROKER_KEY} end"},
		{"path": "/reflect", "headers": {'$K'}},
		{"path": "/sse", "headers": {'$K'}},
		{"path": "/echo/other", "headers": {'$K', "x-other": "{ENV:OTHER_KEY}"}},
		{"path": "/echo/authority", "authority": "other.broker.test", "headers": {'$K'}},
		{"path": "/bot{ENV:BOT_TOKEN}/getMe", "headers": {"authorization": "Bearer {ENV:AUTH_KEY}"}}]'
	out=$(box --allow-domain h2.broker.test --allow-ip "$H2_IP" -- sh -c \
		'echo "$BROKER_KEY"; node h2-client.mjs h2.broker.test "$1"' sh "$spec" 2>&1) || fail "run failed: $out"
	no_value "the box's output" "$out"
	ph=$(echo "$out" | sed -n 1p)
	placeholder_ok "$ph" "$V_KEY"
	echo "$out" | sed 1d >"$C/res"
	python3 - "$C/res" "$H2_LOG" "$V_KEY" "$ph" "$V_BOT" "$V_AUTH" <<'PY' || fail "HTTP/2 through the broker"
import json, sys
res = [json.loads(l) for l in open(sys.argv[1])]
up = {r["path"]: r for r in map(json.loads, open(sys.argv[2]))}
v, ph = sys.argv[3], sys.argv[4]
assert not any("session_error" in r for r in res), res
a, b, refl, sse, other, auth, bot = res
hdr = lambda r: dict((k.lower(), x) for k, x in r["headers"])
for name, r in (("a", a), ("b", b), ("reflect", refl), ("sse", sse)):
    assert r.get("status") == 200, "%s: %s" % (name, r)
for p in ("/echo/a", "/echo/b", "/reflect", "/sse"):
    assert hdr(up[p]).get("x-api-key") == v, "%s: upstream got %s" % (p, hdr(up[p]).get("x-api-key"))
# the path and Authorization places over HTTP/2 too
assert bot.get("status") == 200, "bot: %s" % bot
botp = [p for p in up if p.startswith("/bot")]
assert botp == ["/bot%s/getMe" % sys.argv[5]], "path: upstream got %s" % botp
assert hdr(up[botp[0]]).get("authorization") == "Bearer " + sys.argv[6], "authorization: %s" % hdr(up[botp[0]])
assert len({up[p]["session"] for p in ("/echo/a", "/echo/b", "/reflect", "/sse")}) == 1, "not one upstream connection"
assert up["/echo/b"]["body"] == "body %s end" % ph, "the body changed: %r" % up["/echo/b"]["body"]
assert refl["headers"].get("x-echo") == ph, "x-echo: %s" % refl["headers"]
assert refl["body"] == "key=%s\nagain %s end\n" % (ph, ph), "reflect body: %r" % refl["body"]
ev = [json.loads(t.split("data: ", 1)[1]) for _, c in sse["chunks"] for t in c.split("\n\n") if t.startswith("data: ")]
assert [e["i"] for e in ev] == [0, 1, 2, 3, 4], sse
assert sse["chunks"][0][0] < ev[4]["t"], "SSE buffered: first received %s, last sent %s" % (sse["chunks"][0][0], ev[4]["t"])
assert other.get("status") == 403, "another host's placeholder: %s" % other
assert auth.get("status") == 400, "another authority: %s" % auth
assert "/echo/other" not in up and "/echo/authority" not in up, "a refused stream reached the upstream"

PY
	ev=$(broker_events)
	[ "$(echo "$ev" | grep '"decision":"allow"' | grep -c '"host":"h2.broker.test"')" -ge 5 ] || fail "not 5 allow events: $ev"
	[ "$(echo "$ev" | grep '"decision":"deny"' | grep -c '"what":"request"')" = 2 ] || fail "not 2 request deny events: $ev"
	no_value "the audit" "$(audit_json)"
}
case_run "HTTP/2 both sides: streams at once get the value; body, echo, SSE; bad streams refused" h2_brokered

# HTTP/2 flow control end to end: 42 requests on one connection, from a
# client that waits for the proxy's SETTINGS (its bound: 32 streams at
# once; the client queues the rest), among them a 1 MB upload (a
# placeholder first: unchanged) and an 8 MiB download; every stream
# answered, the bytes whole.
h2_bulk() {
	need_net
	[ -n "$H2_READY" ] || skip "needs node (the HTTP/2 upstream)"
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "h2.broker.test=header:x-api-key"
	cp "$BROKER_DIR/h2-client.mjs" "$P/"
	: >"$H2_LOG"
	spec=$(python3 -c '
import json
K = {"x-api-key": "{ENV:BROKER_KEY}"}
s = [{"path": "/echo/s%d" % i, "headers": K} for i in range(40)]
s.append({"path": "/echo/up", "method": "POST", "headers": K, "body": "{ENV:BROKER_KEY}", "body_x": 1000000})
s.append({"path": "/big?n=8388608", "headers": K, "count_only": True})
print(json.dumps(s))')
	out=$(box --allow-domain h2.broker.test --allow-ip "$H2_IP" -- sh -c \
		'echo "$BROKER_KEY"; H2_WAIT_SETTINGS=1 node h2-client.mjs h2.broker.test "$1"' sh "$spec" 2>&1) || fail "run failed: $out"
	ph=$(echo "$out" | sed -n 1p)
	placeholder_ok "$ph" "$V_KEY"
	echo "$out" | sed 1d >"$C/res"
	python3 - "$C/res" "$H2_LOG" "$V_KEY" "$ph" <<'PY' || fail "HTTP/2 bulk through the broker"
import hashlib, json, sys
res = [json.loads(l) for l in open(sys.argv[1])]
up = {r["path"]: r for r in map(json.loads, open(sys.argv[2]))}
v, ph = sys.argv[3], sys.argv[4]
assert len(res) == 42 and all(r.get("status") == 200 for r in res), [r for r in res if r.get("status") != 200]
assert res[41]["len"] == 8 << 20, "the download: %s bytes" % res[41]["len"]
assert len(up) == 42, "the upstream got %d requests" % len(up)
assert all(dict(r["headers"]).get("x-api-key") == v for r in up.values()), "not all with the value"
u = up["/echo/up"]
want = hashlib.sha256(ph.encode() + b"x" * 1000000).hexdigest()
assert u["body_len"] == len(ph) + 1000000 and u["body_sha256"] == want, "the upload changed: %d bytes" % u["body_len"]
PY
}
case_run "HTTP/2: 42 requests on one connection (32 streams at once), a 1 MB upload and an 8 MiB download whole" h2_bulk

# The rule without the value: a value from -e or --secrets is brokered by
# it; `secrets list` shows it; `broker NAME off` removes it.
rule_applies_to_run_values() {
	need_net
	mkproj "$P"
	"$CLAWBOX" secrets broker --project "$P" RUN_KEY "api.broker.test=header:x-api-key" ||
		fail "secrets broker failed"
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	grep -q 'RUN_KEY' "$box/broker.toml" || fail "no rule in broker.toml: $(cat "$box/broker.toml")"
	grep -q 'api.broker.test' "$box/broker.toml" || fail "no host in broker.toml: $(cat "$box/broker.toml")"
	"$CLAWBOX" secrets list --project "$P" | grep RUN_KEY | grep -q 'api.broker.test' ||
		fail "secrets list does not show the rule: $("$CLAWBOX" secrets list --project "$P")"
	printf 'RUN_KEY=%s\n' "$V_OTHER" >"$C/s.env"
	chmod 600 "$C/s.env"
	for src in "-e RUN_KEY=$V_KEY" "--secrets $C/s.env"; do
		case $src in -e*) v=$V_KEY ;; *) v=$V_OTHER ;; esac
		up_mark
		# shellcheck disable=SC2086
		out=$(box $src $ALLOW_API "$REMOTE_IP" -- sh -c \
			'echo "$RUN_KEY"; curl -sS -m 10 -o /dev/null -w "%{http_code}\n" -H "x-api-key: $RUN_KEY" https://api.broker.test/echo') ||
			fail "$src: $out"
		placeholder_ok "$(echo "$out" | head -1)" "$v"
		[ "$(up_field header x-api-key)" = "$v" ] || fail "$src: upstream got '$(up_field header x-api-key)'"
		no_value "the box's output ($src)" "$out"
	done
	"$CLAWBOX" secrets broker --project "$P" RUN_KEY off || fail "broker off failed"
	! grep -q RUN_KEY "$box/broker.toml" 2>/dev/null || fail "the rule is still there: $(cat "$box/broker.toml")"
	out=$(box -e "RUN_KEY=$V_KEY" -- sh -c 'echo "$RUN_KEY"')
	[ "$out" = "$V_KEY" ] || fail "after off: the box got '$out', not the value"
}
case_run "a rule brokers values from -e and --secrets; list shows it; off removes it" rule_applies_to_run_values

# A rule naming an IP address: a CONNECT to that address is brokered (the
# box's leaf and the upstream's certificate name the address).
ip_literal_rule() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "$REMOTE_IP=header:x-api-key"
	up_mark
	out=$(box --allow-ip "$REMOTE_IP" -- sh -c \
		'curl -sS -m 10 -o /dev/null -w "%{http_code}" -H "x-api-key: $BROKER_KEY" https://'"$REMOTE_IP"'/echo/ip') ||
		fail "run failed: $out"
	[ "$out" = 200 ] || fail "an IP literal rule: $out"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "an IP literal rule: upstream got '$(up_field header x-api-key)'"
	broker_events | grep '"decision":"allow"' | grep -q "\"host\":\"$REMOTE_IP\"" || fail "no allow event: $(broker_events)"
}
case_run "a rule naming an IP address brokers CONNECTs to it" ip_literal_rule

# Bad rules are refused with nothing changed; a value too short for a
# placeholder of its shape stops the run before the box starts (the value
# must not reach it in place of a placeholder).
bad_rules_and_short_values() {
	mkproj "$P"
	"$CLAWBOX" secrets broker --project "$P" GOOD_KEY "api.broker.test=header:x-api-key" || fail "a good rule refused"
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	before=$(cat "$box/broker.toml")
	for spec in 'bad host=header:x' 'api.broker.test=nowhere' 'nosuchpreset' 'api.broker.test=header:' \
		'api.broker.test=header:a b' 'api.broker.test=query:' '' 'api.broker.test' 'auto'; do
		set +e
		err=$("$CLAWBOX" secrets broker --project "$P" GOOD_KEY "$spec" 2>&1)
		rc=$?
		set -e
		[ $rc -eq 2 ] || fail "rule '$spec': exit $rc: $err"
		echo "$err" | grep -q "nothing changed" || fail "rule '$spec': $err"
	done
	set +e
	printf %s "$V_KEY" | "$CLAWBOX" secrets set --project "$P" NEW_KEY --broker 'bad host' 2>/dev/null
	rc=$?
	set -e
	[ $rc -eq 2 ] || fail "secrets set with a bad rule: exit $rc"
	[ "$(cat "$box/broker.toml")" = "$before" ] || fail "broker.toml changed: $(cat "$box/broker.toml")"
	! "$CLAWBOX" secrets list --project "$P" 2>&1 | grep -q NEW_KEY || fail "the value was stored with a bad rule"
	# auto: the preset of a known name
	"$CLAWBOX" secrets broker --project "$P" GITHUB_TOKEN auto >/dev/null || fail "auto refused for GITHUB_TOKEN"
	"$CLAWBOX" secrets list --project "$P" | grep -q '^GITHUB_TOKEN .*brokered for api.github.com, github.com, uploads.github.com (authorization)' ||
		fail "auto did not pick the github preset: $("$CLAWBOX" secrets list --project "$P")"
	before=$(cat "$box/broker.toml")
	# Too short: the run does not start, the command never runs.
	set +e
	err=$("$CLAWBOX" run --project "$P" -e GOOD_KEY=short12 -- sh -c 'echo RAN; touch ran' 2>&1)
	rc=$?
	set -e
	[ $rc -eq 125 ] || fail "a too short value: exit $rc: $err"
	echo "$err" | grep -q "cannot be brokered" || fail "no message: $err"
	echo "$err" | grep -q RAN && fail "the command ran: $err"
	[ ! -e "$box/upper/ran" ] || fail "the command ran (upper)"
	true
}
case_run "bad rules refused with nothing changed; a value too short for a placeholder stops the run" bad_rules_and_short_values

brokered_host_still_needs_policy() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	up_mark
	set +e
	out=$(box --allow-domain good.test -- sh -c \
		'curl -sS -m 10 -o /dev/null -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo' 2>&1)
	rc=$?
	set -e
	[ $rc -ne 0 ] || fail "a brokered host not allowed was reached"
	[ -z "$(up_new)" ] || fail "the upstream got: $(up_new)"
	audit_json | grep '"event":"net.connect"' | grep '"host":"api.broker.test"' | grep -q '"decision":"deny"' ||
		fail "no deny for the CONNECT: $(audit_json | grep net.)"
}
case_run "a brokered host still needs the network policy" brokered_host_still_needs_policy

# An up box: clawbox exec and a session granted the secret get the
# placeholder, and their requests the value.
up_exec_and_session() {
	need_net
	mkproj "$P"
	setkey BROKER_KEY "$V_KEY" "api.broker.test=header:x-api-key"
	trap down_all EXIT
	unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T_TMP/hosts" \
		env CLAWBOX_UPSTREAM_CA_FILE="$CERTS/ca.crt" timeout 60 "$CLAWBOX" up --project "$P" --net proxy \
		$ALLOW_API "$REMOTE_IP" >/dev/null || fail "up failed"
	"$CLAWBOX" session create s --project "$P" --net --secret BROKER_KEY || fail "session create"
	for sess in "" "--session s"; do
		up_mark
		# shellcheck disable=SC2086
		out=$(timeout 60 "$CLAWBOX" exec --project "$P" $sess -- sh -c \
			'echo "$BROKER_KEY"; curl -sS -m 10 -o /dev/null -w "%{http_code}\n" -H "x-api-key: $BROKER_KEY" https://api.broker.test/echo') ||
			fail "exec $sess: $out"
		placeholder_ok "$(echo "$out" | sed -n 1p)" "$V_KEY"
		[ "$(echo "$out" | sed -n 2p)" = 200 ] || fail "exec $sess: $out"
		[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "exec $sess: upstream got '$(up_field header x-api-key)'"
		no_value "exec $sess" "$out"
	done
	# While it is up: nothing clawbox wrote holds the value (its store does).
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	while IFS= read -r -d '' f; do
		case "$f" in "$box/secrets.env" | "$box/secrets.known" | "$box/disk.img") continue ;; esac
		! grep -qF "$V_KEY" "$f" || fail "'$f' holds the value while the box is up"
	done < <(find "$CLAWBOX_STATE_DIR" -type f -print0)
	down_all
}
case_run "an up box: exec and a session granted the secret get the placeholder" up_exec_and_session

TUSER=clawbox-t
as_user_works() {
	need_net
	id "$TUSER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TUSER" >/dev/null 2>&1 || skip "cannot create a test user"
	U="$C/u"
	mkdir -p "$U/proj"
	cp "$CLAWBOX" "$U/clawbox"
	chmod 755 "$U" "$U/clawbox"
	chown -R "$TUSER": "$U"
	printf %s "$V_KEY" >"$C/v"
	chmod 644 "$C/v"
	# u CMD: CMD as the user (with the test hosts file and CA).
	u() {
		unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T_TMP/hosts" \
			runuser -u "$TUSER" -- env -i PATH=/usr/bin:/bin HOME="/home/$TUSER" ASAN_OPTIONS="$ASAN_OPTIONS" \
			CLAWBOX_STATE_DIR="$U/state" CLAWBOX_UPSTREAM_CA_FILE="$CERTS/ca.crt" bash -c "cd '$U' && $1"
	}
	u "./clawbox secrets set --project proj BROKER_KEY --broker api.broker.test=header:x-api-key <'$C/v'" >/dev/null ||
		fail "secrets set as the user"
	up_mark
	out=$(u "timeout 120 ./clawbox run --project proj --allow-domain api.broker.test --allow-ip $REMOTE_IP -- sh -c '
		id -u; echo \"\$BROKER_KEY\"; curl -sS -m 10 -o /dev/null -w \"%{http_code}\n\" -H \"x-api-key: \$BROKER_KEY\" https://api.broker.test/echo'" 2>&1) ||
		fail "run as the user: $out"
	[ "$(echo "$out" | sed -n 1p)" = "$(id -u "$TUSER")" ] || fail "not the user's uid: $out"
	placeholder_ok "$(echo "$out" | sed -n 2p)" "$V_KEY"
	[ "$(echo "$out" | sed -n 3p)" = 200 ] || fail "as the user: $out"
	[ "$(up_field header x-api-key)" = "$V_KEY" ] || fail "as the user: upstream got '$(up_field header x-api-key)'"
	box=$(echo "$U"/state/boxes/*)
	for f in broker-ca.key broker.key broker.toml; do
		[ -f "$box/$f" ] || fail "no $f"
		[ "$(stat -c '%a %U' "$box/$f")" = "600 $TUSER" ] || fail "$f: $(stat -c '%a %U' "$box/$f")"
	done
	no_value "the output" "$out"
}
case_run "as an ordinary user: brokered, the key files 0600 the user's" as_user_works
