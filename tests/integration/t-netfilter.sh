#!/usr/bin/env bash
# nftables in and around the box: the ruleset in the box's network namespace
# (every mode), and --net filtered (veth + NAT, the original's port table,
# NFLOG denials in the audit log). Everything runs on loopback or between
# namespaces this file creates: a "remote" namespace tfr$$ behind its own
# veth pair with addresses 10.79.N.0/24, listeners on 443 and 8080 there.
# The host's ip_forward, nft tables, veths and namespaces are restored.
. "$(dirname "$0")/lib.sh"

RULES="$(cd "$(dirname "$0")/../.." && pwd)/tools/nftrules.nft"
NET_N=$((($$ % 200) + 20))
NS=tfr$$
VH=tfh$$
VR=tfr$$
HOST_IP=10.79.$NET_N.1
REMOTE_IP=10.79.$NET_N.2
FWD_SAVED=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo)
TABLES_BEFORE=$(nft list tables 2>/dev/null || true)
NET_READY=
NET_PIDS=()

nf_cleanup() {
	for p in "${NET_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	ip link del "$VH" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	# Tables this file's boxes installed in the host, and the forwarding state.
	for t in clawbox clawbox_guard; do
		echo "$TABLES_BEFORE" | grep -qx "table ip $t" || nft delete table ip $t 2>/dev/null
	done
	[ -n "$FWD_SAVED" ] && echo "$FWD_SAVED" >/proc/sys/net/ipv4/ip_forward
	t_cleanup
}
trap nf_cleanup EXIT

have_nft() {
	command -v nft >/dev/null && command -v nsenter >/dev/null || skip "needs nft and nsenter"
}

# The remote side: TCP listeners on 443 and 8080 that answer "hello PORT".
net_setup() {
	[ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && command -v nft >/dev/null || return 1
	remote_ns "$NS" "$VH" "$VR" "$HOST_IP" "$REMOTE_IP" || return 1
	cat >"$T_TMP/srv.py" <<'EOF'
import socket, sys, threading
def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], port))
    s.listen()
    while True:
        c, _ = s.accept()
        c.sendall(b"hello %d\n" % port)
        c.close()
for p in sys.argv[2:]:
    threading.Thread(target=serve, args=(int(p),), daemon=True).start()
threading.Event().wait()
EOF
	ip netns exec "$NS" python3 "$T_TMP/srv.py" "$REMOTE_IP" 443 8080 &
	NET_PIDS+=($!)
	for _ in $(seq 50); do
		ip netns exec "$NS" python3 -c "import socket; socket.create_connection(('$REMOTE_IP', 8080), 1)" 2>/dev/null && break
		sleep 0.1
	done
	cat >"$T_TMP/connect.py" <<'EOF'
import socket, sys
for port in sys.argv[2:]:
    try:
        s = socket.create_connection((sys.argv[1], int(port)), timeout=5)
        print(s.recv(100).decode().strip())
    except OSError as e:
        print("%s: %s" % (port, e.strerror))
EOF
	chmod 644 "$T_TMP/connect.py"
	NET_READY=1
}
net_setup || true

need_net() {
	[ -n "$NET_READY" ] || skip "needs root, iproute2, nft and network namespaces"
}

# ruleset NAME: the documented text of one ruleset, comments left out.
ruleset() {
	awk -v want="# ruleset: $1" 'index($0, "# ruleset: ") == 1 { on = index($0, want) == 1; next }
		on && !/^#/' "$RULES" | sed '/^$/d'
}

# box_init CLAWBOX_PID: the host pid of the box init, once its ruleset is loaded.
box_init() {
	local pid
	for _ in $(seq 100); do
		pid=$(pgrep -P "$1" -n 2>/dev/null) || true
		if [ -n "$pid" ] && nsenter -t "$pid" -n nft list tables 2>/dev/null | grep -q clawbox; then
			echo "$pid"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

box_ruleset_is_documented() {
	need_root
	have_nft
	mkproj "$P"
	for mode in proxy none; do
		"$CLAWBOX" run --project "$P" --net $mode -- sleep 5 &
		cb=$!
		init=$(box_init $cb) || fail "no ruleset in the box's netns ($mode)"
		got=$(nsenter -t "$init" -n nft list ruleset | sed '/^$/d')
		want=$(ruleset box_closed)
		[ -n "$want" ] || fail "no box_closed section in $RULES"
		[ "$got" = "$want" ] || fail "$mode: the box's ruleset differs from tools/nftrules.nft:
$(diff <(echo "$want") <(echo "$got"))"
		kill $cb
		wait $cb 2>/dev/null || true
	done
	# Control: the comparison sees a change (another section does not match).
	[ "$got" != "$(ruleset box_filtered)" ] || fail "the control compared equal"
}
case_run "the box's nftables ruleset (proxy, none) is the documented one" box_ruleset_is_documented

agent_cannot_change_ruleset() {
	need_root
	have_nft
	mkproj "$P"
	"$CLAWBOX" run --project "$P" -- sh -c '
		nft flush ruleset 2>/dev/null; echo "flush=$?"
		nft add rule inet clawbox output accept 2>/dev/null; echo "add=$?"
		nft delete table inet clawbox 2>/dev/null; echo "delete=$?"
		sleep 5' >"$C/out" 2>&1 &
	cb=$!
	init=$(box_init $cb) || fail "no ruleset in the box"
	for _ in $(seq 100); do grep -q delete= "$C/out" && break; sleep 0.05; done
	out=$(cat "$C/out")
	# nft fails: 1 when the kernel refuses (no capability), 3 when it
	# cannot open its netlink socket at all (the box's seccomp filter
	# refuses NETLINK_NETFILTER sockets, src/box/sysfilter_rules.c).
	[ "$(echo "$out" | grep -c '=[13]$')" = 3 ] || fail "an nft change succeeded in the box: $out"
	got=$(nsenter -t "$init" -n nft list ruleset | sed '/^$/d')
	[ "$got" = "$(ruleset box_closed)" ] || fail "the ruleset changed: $got"
	# Control: with the capability (from the host), the same flush works and
	# the host sees it.
	nsenter -t "$init" -n nft flush ruleset
	[ -z "$(nsenter -t "$init" -n nft list ruleset)" ] || fail "control: flush from the host failed"
	kill $cb
	wait $cb 2>/dev/null || true
}
case_run "the agent cannot flush or change the box's ruleset" agent_cannot_change_ruleset

# A tool that ignores the proxy variables gets nothing even if an interface
# and a route appear in the box's netns (the host adds one here): the
# ruleset drops it. Control: the same connection works once the host
# deletes the box's table.
ruleset_closes_a_hole() {
	need_net
	mkproj "$P"
	hole=tfx$$
	port=$((20000 + RANDOM % 10000))
	"$CLAWBOX" run --project "$P" --net proxy -- bash -c "
		for i in \$(seq 20); do
			if out=\$(timeout 1 bash -c 'cat </dev/tcp/10.80.$NET_N.1/$port' 2>/dev/null); then
				echo \"connected after \$i: \$out\"; exit 0
			fi
			echo refused; sleep 0.2
		done; exit 1" >"$C/out" 2>&1 &
	cb=$!
	lp=
	# (the case runs in a subshell: EXIT also covers fail)
	trap 'kill $cb $lp 2>/dev/null || true; ip link del $hole 2>/dev/null || true' EXIT
	init=$(box_init $cb) || fail "no ruleset in the box"
	ip link add "$hole" type veth peer name "${hole}b"
	ip addr add 10.80.$NET_N.1/24 dev "$hole"
	ip link set "$hole" up
	ip link set "${hole}b" netns "$init"
	nsenter -t "$init" -n sh -c "ip addr add 10.80.$NET_N.2/24 dev ${hole}b && ip link set ${hole}b up"
	python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[2], int(sys.argv[1]))); s.listen()
c, _ = s.accept(); c.sendall(b"through the hole\n"); c.close()' $port 10.80.$NET_N.1 &
	lp=$!
	# Each try now waits 1 s for an answer that the ruleset drops.
	sleep 2.5
	grep -q connected "$C/out" && fail "the box connected through the hole with its ruleset in place"
	[ "$(grep -c refused "$C/out")" -ge 3 ] || fail "the box did not try: $(cat "$C/out")"
	nsenter -t "$init" -n nft delete table inet clawbox
	wait $cb || fail "control: no connection without the ruleset: $(tail -3 "$C/out")"
	grep -q "through the hole" "$C/out" || fail "control: $(tail -3 "$C/out")"
}
case_run "with a hole in the box's netns the ruleset still drops (control: without it, through)" ruleset_closes_a_hole

filtered_mode() {
	need_net
	mkproj "$P"
	cp "$T_TMP/connect.py" "$P/"
	guard_before=
	echo "$TABLES_BEFORE" | grep -qx "table ip clawbox_guard" && guard_before=1
	[ -n "$guard_before" ] || nft delete table ip clawbox_guard 2>/dev/null || true
	echo 1 >/proc/sys/net/ipv4/ip_forward
	out=$("$CLAWBOX" run --project "$P" --net filtered -- sh -c \
		"python3 connect.py $REMOTE_IP 443 8080; echo \"\$HTTPS_PROXY\"; ip -o -4 addr show eth0 | wc -l" 2>"$C/err")
	expected=$(printf '%s\n' "hello 443" "8080: Connection refused" "http://127.0.0.1:3128" 1)
	[ "$out" = "$expected" ] || fail "filtered: got '$out' (stderr: $(cat "$C/err"))"
	grep -q "forwarding" "$C/err" && fail "ip_forward was on, yet clawbox says: $(cat "$C/err")"
	log=$("$CLAWBOX" audit --project "$P" --net)
	echo "$log" | grep -E "DENY +tcp +$REMOTE_IP:8080 +$REMOTE_IP +rule=filtered" >/dev/null ||
		fail "8080 denial not in 'clawbox audit --net': $log"
	echo "$log" | grep -q ":443 " && fail "the allowed 443 was logged as a denial: $log"
	"$CLAWBOX" audit --project "$P" --json | grep '"net.connect"' | grep '"dir":"out"' |
		grep '"proto":"tcp"' | grep -q '"port":8080' || fail "event fields"
	# The documented rulesets: the box's and the host's.
	"$CLAWBOX" run --project "$P" --net filtered -- sleep 5 &
	cb=$!
	init=$(box_init $cb) || fail "no ruleset in the filtered box"
	got=$(nsenter -t "$init" -n nft list ruleset | sed '/^$/d')
	[ "$got" = "$(ruleset box_filtered)" ] || fail "box ruleset differs:
$(diff <(ruleset box_filtered) <(echo "$got"))"
	got=$(nft list table ip clawbox | sed '/^$/d')
	[ "$got" = "$(ruleset host_nat)" ] || fail "host table differs:
$(diff <(ruleset host_nat) <(echo "$got"))"
	kill $cb
	wait $cb 2>/dev/null || true
	if [ -z "$guard_before" ] && nft list tables | grep -q clawbox_guard; then
		fail "a guard table though forwarding was on"
	fi
}
case_run "--net filtered: 443 reachable, 8080 rejected and logged; rulesets documented" filtered_mode

# A flood of denied packets is rejected in full but logged at a bounded
# rate (each logged packet is an audit line: the disk is not the agent's).
denial_flood_is_rate_limited() {
	need_net
	mkproj "$P"
	echo 1 >/proc/sys/net/ipv4/ip_forward
	"$CLAWBOX" run --project "$P" --net filtered -- python3 -c "
import socket, errno
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = refused = 0
for i in range(2000):
    try:
        s.sendto(b'x', ('$REMOTE_IP', 9999)); sent += 1
    except OSError:
        refused += 1
print(sent + refused)
" >"$C/out" 2>"$C/err" || fail "flood run failed: $(cat "$C/err")"
	[ "$(cat "$C/out")" = 2000 ] || fail "the flood did not run: $(cat "$C/out")"
	n=$("$CLAWBOX" audit --project "$P" --json | grep '"net.connect"' | grep '"proto":"udp"' |
		grep -c '"port":9999' || true)
	echo "logged denials: $n of 2000"
	[ "$n" -ge 1 ] || fail "control: no denial of the flood was logged"
	# The limit: a burst of 40, then 20 a second; the flood takes well
	# under 2 s. (Without it, this machine logged 285: NFLOG drops some.)
	[ "$n" -le 100 ] || fail "$n of 2000 denied packets logged: the log is not rate-limited"
}
case_run "a flood of denied packets is logged at a bounded rate" denial_flood_is_rate_limited

# The host's NAT table is loaded again only when the host's nftables
# changed since clawbox loaded it: a table changed by hand is restored.
host_table_restored_after_a_change() {
	need_net
	mkproj "$P"
	echo 1 >/proc/sys/net/ipv4/ip_forward
	"$CLAWBOX" run --project "$P" --net filtered -- true || fail "a filtered box failed"
	[ "$(nft list table ip clawbox | sed '/^$/d')" = "$(ruleset host_nat)" ] || fail "host table differs"
	gen=$(cat /run/clawbox/net/host-gen)
	# Unchanged: nothing is loaded (the generation stays).
	"$CLAWBOX" run --project "$P" --net filtered -- true || fail "a filtered box failed"
	[ "$(cat /run/clawbox/net/host-gen)" = "$gen" ] || fail "the unchanged table was loaded again"
	# Changed by hand: a rule flushed, then restored by the next start.
	nft flush chain ip clawbox postrouting
	nft list table ip clawbox | grep -q masquerade && fail "control: the flush did nothing"
	"$CLAWBOX" run --project "$P" --net filtered -- true || fail "a filtered box failed"
	[ "$(nft list table ip clawbox | sed '/^$/d')" = "$(ruleset host_nat)" ] ||
		fail "the changed host table was not restored: $(nft list table ip clawbox)"
	# Deleted by hand: installed again.
	nft delete table ip clawbox
	"$CLAWBOX" run --project "$P" --net filtered -- true || fail "a filtered box failed"
	[ "$(nft list table ip clawbox | sed '/^$/d')" = "$(ruleset host_nat)" ] || fail "the deleted table is not back"
}
case_run "the host's NAT table: loaded once, restored after any change" host_table_restored_after_a_change

forwarding_turned_on_with_guard() {
	need_net
	mkproj "$P"
	cp "$T_TMP/connect.py" "$P/"
	nft delete table ip clawbox_guard 2>/dev/null || true
	echo 0 >/proc/sys/net/ipv4/ip_forward
	out=$("$CLAWBOX" run --project "$P" --net filtered -- python3 connect.py "$REMOTE_IP" 443 2>"$C/err")
	[ "$out" = "hello 443" ] || fail "443 with forwarding off before: '$out' ($(cat "$C/err"))"
	grep -q "IPv4 forwarding was off: turned it on" "$C/err" || fail "not said on stderr: $(cat "$C/err")"
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "forwarding not on"
	got=$(nft list table ip clawbox_guard | sed '/^$/d')
	[ "$got" = "$(ruleset host_guard)" ] || fail "guard table: $got"
	"$CLAWBOX" audit --project "$P" --net | grep -q "NOTE  net.ipv4.ip_forward=1 turned on by clawbox" ||
		fail "not in the audit log"
}
case_run "ip_forward off: clawbox turns it on, says so, logs it, installs the guard" forwarding_turned_on_with_guard

filtered_refused_for_users() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (to run as another user)"
	id clawbox-t >/dev/null 2>&1 || useradd -m -s /bin/bash clawbox-t >/dev/null 2>&1 || skip "no test user"
	U="$C/u"
	mkdir -p "$U/proj"
	cp "$CLAWBOX" "$U/clawbox"
	echo hi >"$U/proj/README"
	chmod -R a+rX "$U"
	chown -R clawbox-t: "$U"
	as() { runuser -u clawbox-t -- env -i PATH=/usr/bin:/bin HOME=/home/clawbox-t \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}" CLAWBOX_STATE_DIR="$U/state" bash -c "cd '$U' && $1"; }
	rc=0
	err=$(as "./clawbox run --project proj --net filtered -- true" 2>&1) || rc=$?
	[ $rc = 125 ] || fail "exit $rc, expected 125: $err"
	echo "$err" | grep -q "\-\-net filtered needs root" || fail "message: $err"
	# Control: the same user's box runs with the default network, ruleset included.
	as "./clawbox run --project proj -- true" || fail "control: the user's box does not start"
}
case_run "an ordinary user is refused --net filtered with a clear message" filtered_refused_for_users

no_leftovers() {
	need_net
	mkproj "$P"
	echo 1 >/proc/sys/net/ipv4/ip_forward
	veths() { ip -o link show | grep -cE ': clawbox[0-9]+@' || true; }
	locked() {
		local n=0 f
		for f in /run/clawbox/net/slot-*; do
			[ -e "$f" ] || continue
			flock -n "$f" true || n=$((n + 1))
		done
		echo $n
	}
	before=$(veths)
	"$CLAWBOX" run --project "$P" --net filtered -- true || fail "a filtered box failed"
	[ "$(locked)" = 0 ] || fail "a slot is still held after the box ended"
	# The pair goes with the box's network namespace, which the kernel
	# tears down just after the box (not synchronously: see netfilter.h).
	for _ in $(seq 100); do [ "$(veths)" = "$before" ] && break; sleep 0.05; done
	[ "$(veths)" = "$before" ] || fail "a veth is left after the box ended: $(ip -o link show | grep clawbox)"
	"$CLAWBOX" run --project "$P" --net filtered -- sleep 30 &
	cb=$!
	init=$(box_init $cb) || fail "the filtered box did not start"
	[ "$(veths)" = $((before + 1)) ] || fail "control: no veth while the box runs"
	[ "$(locked)" = 1 ] || fail "control: no slot held while the box runs"
	kill -KILL $cb
	wait $cb 2>/dev/null || true
	for _ in $(seq 100); do [ "$(veths)" = "$before" ] && break; sleep 0.05; done
	[ "$(veths)" = "$before" ] || fail "a veth is left after SIGKILL: $(ip -o link show | grep clawbox)"
	[ "$(locked)" = 0 ] || fail "a slot is still held after SIGKILL"
	# The slot is usable again.
	"$CLAWBOX" run --project "$P" --net filtered -- true || fail "no filtered box after the crash"
}
case_run "no veth or slot left after a box ends, also after SIGKILL of clawbox" no_leftovers
