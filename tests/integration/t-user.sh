#!/usr/bin/env bash
# An ordinary user: the box through user namespaces (overlay with
# userxattr), state under the user's own dir, root-only limits degrade with
# a warning.
. "$(dirname "$0")/lib.sh"

TUSER=clawbox-t
setup_user() {
	[ "$(id -u)" -eq 0 ] || { [ -n "$(unshare -U true 2>&1)" ] && skip "no user namespaces"; return 0; }
	id "$TUSER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TUSER" >/dev/null 2>&1 ||
		skip "cannot create a test user"
	U="$C/u"
	mkdir -p "$U"
	cp "${1:-$CLAWBOX}" "$U/clawbox"
	chmod 755 "$U" "$U/clawbox"
	chown "$TUSER": "$U"
	P="$U/proj"
}

# as_user CMD: run a shell command line as the test user, in $U.
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$TUSER" -- env -i PATH=/usr/bin:/bin HOME="/home/$TUSER" \
			ASAN_OPTIONS="$ASAN_OPTIONS" CLAWBOX_STATE_DIR="$U/state" bash -c "cd '$U' && $1"
	else
		CLAWBOX_STATE_DIR="$U/state" bash -c "cd '$U' && $1"
	fi
}

user_box_works() {
	setup_user
	as_user "mkdir -p proj/src && echo hello > proj/README && echo c > proj/src/a.c"
	before=$(snapshot "$P")
	out=$(as_user "./clawbox run --project proj -- sh -c 'id -u; echo new > new; echo more >> README; rm src/a.c; grep -E \"^Cap(Eff|Bnd)\" /proc/self/status'")
	uid=$(id -u "$TUSER")
	echo "$out" | grep -qx "$uid" || fail "uid inside is not the user's: $out"
	echo "$out" | grep -q "CapEff:.*0000000000000000" && echo "$out" | grep -q "CapBnd:.*0000000000000000" ||
		fail "capabilities left: $out"
	[ "$(snapshot "$P")" = "$before" ] || fail "the host project changed"
	upper=$(echo "$U"/state/boxes/proj-*/upper)
	[ "$(stat -c %U "$upper/new")" = "$TUSER" ] || fail "upper files not owned by the user"
	[ -c "$upper/src/a.c" ] || fail "no whiteout for the deletion"
	out=$(as_user "./clawbox status --project proj")
	echo "$out" | grep -q "pending: *3 changes" || fail "status: $out"
	as_user "./clawbox reset --yes --project proj" >/dev/null
	[ -z "$(ls -A "$upper")" ] || fail "reset as the user left files"
}

user_cannot_read_others() {
	setup_user
	as_user "mkdir -p proj"
	mkdir -p /root/.clawbox-t-secret 2>/dev/null && echo s >/root/.clawbox-t-secret/k
	trap 'rm -rf /root/.clawbox-t-secret' RETURN
	out=$(as_user "./clawbox run --project proj -- sh -c 'ls -A /root /home; cat /etc/shadow'" 2>&1)
	echo "$out" | grep -q "clawbox-t-secret" && fail "/root visible: $out"
	echo "$out" | grep -q "^$TUSER\$" && fail "/home lists the user: $out"
	true
}

root_only_limits_degrade() {
	# The release build: an address-space limit leaves AddressSanitizer no room.
	setup_user "$CLAWBOX_RELEASE"
	[ "$(id -u)" -eq 0 ] || skip "needs root to create the test user"
	as_user "mkdir -p proj"
	set +e
	out=$(as_user "./clawbox run --project proj --memory 64M --pids 50 -- bash -c 'ulimit -v; ulimit -u'" 2>&1)
	rc=$?
	set -e
	[ $rc -eq 0 ] || fail "run failed: $out"
	echo "$out" | grep -q "warning: --memory needs root" || fail "no memory warning: $out"
	echo "$out" | grep -q "warning: --pids needs root" || fail "no pids warning: $out"
	echo "$out" | grep -qx 65536 || fail "RLIMIT_AS not 64M (65536 KiB): $out"
	echo "$out" | grep -qx 50 || fail "RLIMIT_NPROC not 50: $out"
}

# The proxy's events name the asking process without root too (the pid
# lookup joins the box's own user namespace).
user_proxy_events_carry_pid() {
	setup_user
	command -v curl >/dev/null || skip "needs curl"
	as_user "mkdir -p proj"
	out=$(as_user "./clawbox run --project proj -- sh -c '
		sh -c \"echo \\\$\\\$; exec curl -s -m 5 -o /dev/null http://denied.invalid/\"
		sh -c \"echo \\\$\\\$; exec getent hosts denied2.invalid\" || true'")
	set -- $out
	[ $# = 2 ] && [ "$1" != "$2" ] || fail "expected two different pids: '$out'"
	log=$(as_user "./clawbox audit --project proj --json")
	echo "$log" | grep '"event":"net.connect"' | grep '"host":"denied.invalid"' |
		grep -q "\"pid\":$1," || fail "denied connection without pid $1: $log"
	echo "$log" | grep '"event":"net.dns"' | grep '"host":"denied2.invalid"' |
		grep -q "\"pid\":$2," || fail "refused DNS question without pid $2: $log"
}

user_up_exec_sessions() {
	setup_user
	as_user "mkdir -p proj && echo hello > proj/README"
	trap 'as_user "./clawbox down --grace 0 --project proj" >/dev/null 2>&1' EXIT
	as_user "./clawbox up --project proj -- sleep 1000" >/dev/null
	out=$(as_user "./clawbox exec --project proj -- sh -c 'id -u; cat README; echo x > made; grep CapEff /proc/self/status'")
	uid=$(id -u "$TUSER")
	echo "$out" | grep -qx "$uid" || fail "uid inside: $out"
	echo "$out" | grep -q hello || fail "workspace: $out"
	echo "$out" | grep -q "CapEff:.*0000000000000000" || fail "capabilities left: $out"
	[ "$(stat -c %a "$U"/state/boxes/proj-*/control.sock)" = 600 ] || fail "socket mode"
	as_user "./clawbox session create s1 --project proj"
	set +e
	out=$(as_user "./clawbox session create s2 --project proj --pids 5" 2>&1)
	r=$?
	set -e
	[ $r -eq 1 ] && echo "$out" | grep -q "need root" || fail "session limits as a user: $r $out"
	out=$(as_user "./clawbox exec --project proj --session s1 -- ps -e -o args=")
	! echo "$out" | grep -q "^sleep" || fail "the session sees the box's command: $out"
	# root's clients are served; nobody else's
	set +e
	out=$(runuser -u nobody -- env CLAWBOX_STATE_DIR="$U/state" "$U/clawbox" exec --box "$(basename "$U"/state/boxes/proj-*)" -- true 2>&1)
	r=$?
	set -e
	[ $r -ne 0 ] || fail "another user ran a command in the box"
	as_user "./clawbox down --project proj" >/dev/null
	as_user "./clawbox status --project proj" | grep -q "state: *idle" || fail "not down"
}

case_run "an ordinary user's box: overlay, caps, state" user_box_works
case_run "an ordinary user's box hides /root and /home" user_cannot_read_others
case_run "root-only limits fall back with a warning" root_only_limits_degrade
case_run "an ordinary user's proxy events name the asking process" user_proxy_events_carry_pid
case_run "up, exec and sessions as an ordinary user" user_up_exec_sessions
