#!/usr/bin/env bash
# clawbox run: the overlay, the view, exit codes, signals, environment, modes,
# bad input, concurrent runs.
. "$(dirname "$0")/lib.sh"

writes_land_in_upper() {
	mkproj "$P"
	before=$(snapshot "$P")
	$CLAWBOX run --project "$P" -- sh -c 'echo new > new.txt; echo more >> README; rm src/main.c; mkdir -p d/e; echo x > d/e/f; echo dot > .dotfile'
	[ "$(snapshot "$P")" = "$before" ] || fail "the host project changed"
	upper=$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*/upper)
	[ "$(cat "$upper/new.txt")" = new ] || fail "new.txt not in the upper dir"
	[ "$(cat "$upper/README")" = "$(printf 'hello\nmore')" ] || fail "README edit not in upper"
	[ -c "$upper/src/main.c" ] || fail "deletion is not a whiteout in upper"
	[ -f "$upper/d/e/f" ] && [ -f "$upper/.dotfile" ] || fail "nested/dot files missing in upper"
}

writes_persist_across_runs() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- sh -c 'echo 1 > counter'
	$CLAWBOX run --project "$P" -- sh -c 'echo $(( $(cat counter) + 1 )) > counter'
	out=$($CLAWBOX run --project "$P" -- cat counter)
	[ "$out" = 2 ] || fail "expected 2, got '$out'"
	[ ! -e "$P/counter" ] || fail "counter reached the host"
}

project_at_both_paths() {
	mkproj "$P"
	out=$($CLAWBOX run --project "$P" -- sh -c "echo a > /workspace/x; cat '$P/x'; pwd")
	[ "$out" = "$(printf 'a\n%s' "$P")" ] || fail "unexpected: $out"
}

cwd_follows_caller() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- true
	out=$(cd "$P/src" && $CLAWBOX run -- pwd)
	[ "$out" = "$P/src" ] || fail "cwd inside is '$out', expected $P/src"
	out=$(cd / && $CLAWBOX run --project "$P" -- pwd)
	[ "$out" = "$P" ] || fail "from outside the project, cwd should be its root, got '$out'"
}

rest_is_read_only() {
	mkproj "$P"
	for d in /etc /usr /var /opt /srv /boot; do
		[ -d "$d" ] || continue
		if $CLAWBOX run --project "$P" -- sh -c "echo x > $d/clawbox-test" 2>/dev/null; then
			fail "could write $d"
		fi
		[ ! -e "$d/clawbox-test" ] || { rm -f "$d/clawbox-test"; fail "$d/clawbox-test exists on the host"; }
	done
}

masked_paths_are_empty() {
	mkproj "$P"
	mkdir -p /root/.clawbox-test-secret && echo secret >/root/.clawbox-test-secret/key
	trap 'rm -rf /root/.clawbox-test-secret' RETURN
	out=$($CLAWBOX run --project "$P" -- sh -c 'ls -A /root; ls -A /run; cat /etc/shadow; ls -A /var/log' 2>&1)
	[ -z "$out" ] || fail "masked paths show content: $out"
	$CLAWBOX run --project "$P" -- sh -c "ls -A '$CLAWBOX_STATE_DIR'" 2>/dev/null | grep -q . && fail "state dir visible"
	true
}

deny_read_option_and_file() {
	mkproj "$P"
	mkdir -p "$T_TMP/outside" && echo top >"$T_TMP/outside/secret" && echo s >"$P/.env"
	mkdir -p /var/tmp/clawbox-deny.$$ && echo hidden >/var/tmp/clawbox-deny.$$/x
	trap 'rm -rf /var/tmp/clawbox-deny.$$' RETURN
	out=$($CLAWBOX run --project "$P" --deny-read .env --deny-read /var/tmp/clawbox-deny.$$ -- \
		sh -c 'cat .env /workspace/.env; ls -A /var/tmp/clawbox-deny.'$$)
	[ -z "$out" ] || fail "deny-read paths visible: $out"
	echo "/var/tmp/clawbox-deny.$$" >"$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*)/deny-read"
	out=$($CLAWBOX run --project "$P" -- ls -A /var/tmp/clawbox-deny.$$)
	[ -z "$out" ] || fail "deny-read file not applied: $out"
	out=$($CLAWBOX run --project "$P" -- cat .env)
	[ "$out" = s ] || fail ".env should be visible without --deny-read, got '$out'"
}

# The masks and the environment go to the init as blocks of strings: more
# strings than one sendmsg() takes (IOV_MAX, 1024) and more bytes than the
# socket buffer holds must arrive whole.
big_blocks_reach_the_box() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- true
	d=/var/tmp/clawbox-many.$$
	mkdir -p "$d"
	trap 'rm -rf /var/tmp/clawbox-many.$$' RETURN
	for i in $(seq 1500); do echo "secret$i" >"$d/f$i"; echo "$d/f$i"; done \
		>"$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*)/deny-read"
	v=$(head -c 30000 /dev/zero | tr '\0' a)
	for i in $(seq 12); do echo "BIG_$i=$v$i"; done >"$T_TMP/big.env"
	chmod 600 "$T_TMP/big.env"
	out=$($CLAWBOX run --project "$P" --secrets "$T_TMP/big.env" -- \
		sh -c "cat $d/f1 $d/f1024 $d/f1025 $d/f1500; printenv BIG_1 | wc -c; printenv BIG_12 | tail -c 3")
	[ "$out" = "$(printf '30002\n12')" ] || fail "masks or environment not whole: $(echo "$out" | head -c 300)"
}

private_tmp_dev_proc_hostname() {
	mkproj "$P"
	touch /tmp/clawbox-host-tmp-marker.$$
	trap 'rm -f /tmp/clawbox-host-tmp-marker.$$' RETURN
	out=$($CLAWBOX run --project "$P" -- sh -c 'ls /tmp/clawbox-host-tmp-marker.* 2>/dev/null; hostname; ls /dev | tr "\n" " "; echo; ls /proc | grep -c "^[0-9]"')
	echo "$out" | grep -q marker && fail "host /tmp visible"
	echo "$out" | grep -qx clawbox || fail "hostname is not clawbox: $out"
	echo "$out" | grep -q "null" && echo "$out" | grep -q "urandom" || fail "no /dev/null: $out"
	echo "$out" | grep -qE '(^| )(sda|vda|nvme0n1|mem|kmsg)( |$)' && fail "host devices visible: $out"
	n=$(echo "$out" | tail -1)
	[ "$n" -le 4 ] || fail "/proc shows $n processes: not the box's own pid namespace"
}

exit_codes() {
	mkproj "$P"
	set +e
	$CLAWBOX run --project "$P" -- sh -c 'exit 42'; [ $? -eq 42 ] || fail "exit 42 not passed through"
	$CLAWBOX run --project "$P" -- sh -c 'kill -TERM $$'; [ $? -eq 143 ] || fail "signal not 128+15"
	$CLAWBOX run --project "$P" -- no-such-command-xyz 2>"$T_TMP/err"; [ $? -eq 127 ] || fail "not found should be 127"
	grep -q "command not found in the box: 'no-such-command-xyz'" "$T_TMP/err" || fail "message: $(cat "$T_TMP/err")"
	printf 'not a program' >"$P/noexec"; chmod 644 "$P/noexec"
	$CLAWBOX run --project "$P" -- ./noexec 2>/dev/null; [ $? -eq 126 ] || fail "non-executable should be 126"
	$CLAWBOX run --project "$P" -- /etc 2>/dev/null; [ $? -eq 126 ] || fail "a directory should be 126"
	true
}

bad_input() {
	mkproj "$P"
	set +e
	check() { # expected-code message-regex args...
		local code=$1 re=$2
		shift 2
		"$CLAWBOX" "$@" >/dev/null 2>"$T_TMP/err"
		local rc=$?
		[ $rc -eq "$code" ] || fail "clawbox $*: exit $rc, expected $code"
		[ "$(wc -l <"$T_TMP/err")" -eq 1 ] || fail "clawbox $*: not one line: $(cat "$T_TMP/err")"
		grep -qE "$re" "$T_TMP/err" || fail "clawbox $*: message: $(cat "$T_TMP/err")"
	}
	check 125 "project '$T_TMP/nope' does not exist" run --project "$T_TMP/nope" -- true
	echo f >"$T_TMP/afile"
	check 125 "is not a directory" run --project "$T_TMP/afile" -- true
	check 125 "invalid box name '../x'" run --box ../x --project "$P" -- true
	check 125 "invalid box name 'a/b'" run --box a/b --project "$P" -- true
	check 125 "unknown option '--frobnicate'" run --frobnicate -- true
	check 125 "no command given" run --project "$P"
	check 125 "unknown mode" run --mode turbo --project "$P" -- true
	check 125 "unknown network mode" run --net host --project "$P" -- true
	check 125 "invalid size" run --memory lots --project "$P" -- true
	check 125 "refusing to use '/'" run --project / -- true
	check 125 "refusing to box '/etc'" run --project /etc -- true
	check 2 "unknown command|unknown option" status --bogus
	mkdir -p "$T_TMP/ro-state" && chmod 555 "$T_TMP/ro-state"
	if [ "$(id -u)" -ne 0 ]; then
		CLAWBOX_STATE_DIR="$T_TMP/ro-state" check 125 "cannot create box" run --project "$P" -- true
	fi
	# Nothing was created half-way for the failures above.
	[ ! -e "$CLAWBOX_STATE_DIR/boxes" ] || [ -z "$(ls -A "$CLAWBOX_STATE_DIR/boxes")" ] ||
		fail "boxes were created by failed runs: $(ls "$CLAWBOX_STATE_DIR/boxes")"
}

state_dir_unwritable() {
	mkproj "$P"
	set +e
	echo file >"$T_TMP/state-is-a-file"
	CLAWBOX_STATE_DIR="$T_TMP/state-is-a-file" $CLAWBOX run --project "$P" -- true 2>"$T_TMP/err"
	[ $? -eq 125 ] || fail "expected 125"
	grep -qE "cannot (create|read) box" "$T_TMP/err" || fail "message: $(cat "$T_TMP/err")"
	CLAWBOX_STATE_DIR=relative/path $CLAWBOX run --project "$P" -- true 2>"$T_TMP/err"
	[ $? -eq 125 ] && grep -q "not absolute" "$T_TMP/err" || fail "relative state dir: $(cat "$T_TMP/err")"
}

environment_is_clean() {
	mkproj "$P"
	out=$(SECRET_TOKEN=abc AWS_SECRET_ACCESS_KEY=def LANG=C.UTF-8 LC_ALL=C TERM=xterm \
		$CLAWBOX run --project "$P" -- env)
	echo "$out" | grep -q SECRET_TOKEN && fail "SECRET_TOKEN leaked"
	echo "$out" | grep -q AWS_SECRET && fail "AWS_SECRET_ACCESS_KEY leaked"
	echo "$out" | grep -qx 'HOME=/home/clawbox' || fail "HOME not the box home: $out"
	echo "$out" | grep -qx 'LANG=C.UTF-8' && echo "$out" | grep -qx 'LC_ALL=C' &&
		echo "$out" | grep -qx 'TERM=xterm' || fail "allowlisted vars missing: $out"
	echo "$out" | grep -q '^PATH=' || fail "no PATH"
	# The box home persists and is not the user's.
	$CLAWBOX run --project "$P" -- sh -c 'echo cfg > ~/.agentrc'
	[ "$($CLAWBOX run --project "$P" -- cat /home/clawbox/.agentrc)" = cfg ] || fail "box home not persistent"
}

signals_forwarded() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- sh -c 'trap "echo got-term > /workspace/term; exit 3" TERM; echo ready > /workspace/ready; while :; do sleep 0.1; done' &
	pid=$!
	for _ in $(seq 100); do [ -e "$CLAWBOX_STATE_DIR"/boxes/proj-*/upper/ready ] && break; sleep 0.05; done
	kill -TERM $pid
	set +e
	wait $pid
	rc=$?
	set -e
	[ $rc -eq 3 ] || fail "exit after TERM: $rc (expected the trap's 3)"
	grep -q got-term "$CLAWBOX_STATE_DIR"/boxes/proj-*/upper/term || fail "TERM not delivered"
}

# own_sleep SECONDS: the command line of a sleep no process but this test
# run's has, for the cases that look for their boxes' processes with pgrep:
# the process table is the host's, and test runs of other checkouts share it
# (a plain "sleep 100" of another run's box once failed the check below).
own_sleep() { echo "sleep $1 0.$$"; }

box_dies_with_clawbox() {
	mkproj "$P"
	local s
	s=$(own_sleep 1000)
	$CLAWBOX run --project "$P" -- sh -c "$s & echo \$! > /workspace/child; $s" &
	pid=$!
	for _ in $(seq 100); do [ -s "$CLAWBOX_STATE_DIR"/boxes/proj-*/upper/child ] && break; sleep 0.05; done
	n_before=$(pgrep -c -fx "$s" || true)
	[ "$n_before" -ge 2 ] || fail "box processes not found"
	kill -KILL $pid
	wait $pid 2>/dev/null || true
	for _ in $(seq 100); do [ "$(pgrep -c -fx "$s" || true)" -eq 0 ] && break; sleep 0.05; done
	[ "$(pgrep -c -fx "$s" || true)" -eq 0 ] || { pkill -fx "$s"; fail "box processes survived clawbox"; }
}

concurrent_runs_refused() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- sh -c 'echo up > /workspace/up; sleep 3' &
	pid=$!
	for _ in $(seq 100); do [ -e "$CLAWBOX_STATE_DIR"/boxes/proj-*/upper/up ] && break; sleep 0.05; done
	set +e
	$CLAWBOX run --project "$P" -- true 2>"$T_TMP/err"
	rc=$?
	set -e
	wait $pid
	[ $rc -eq 125 ] || fail "second run exit $rc, expected 125"
	grep -q "is in use by another clawbox" "$T_TMP/err" || fail "message: $(cat "$T_TMP/err")"
	$CLAWBOX run --project "$P" -- true || fail "box not usable after the first run ended"
}

# The kernel log is the host's, in a ring buffer that other work on the host
# fills (it dropped lines within one run of the case below): kmsg_follow
# keeps every line from now on in $C/kmsg (dmesg -w, stopped when the case
# ends); kmsg_mark NAME writes a line of this case to the kernel log and
# waits until $C/kmsg has it.
kmsg_follow() {
	dmesg -w >"$C/kmsg" 2>/dev/null &
	KMSG_PID=$!
	trap 'kill $KMSG_PID 2>/dev/null' EXIT
}
kmsg_mark() {
	echo "clawbox-test $$.$T_N: $1" >/dev/kmsg
	for _ in $(seq 200); do grep -qF "clawbox-test $$.$T_N: $1" "$C/kmsg" && return 0; sleep 0.05; done
	fail "the kernel log never showed the mark '$1'"
}

# overlayfs warns in the kernel log when an upper or work dir is mounted
# while another mount still uses it. overlay_twice FROM TO: how many times
# between the marks FROM and TO.
overlay_twice() {
	awk -v from="clawbox-test $$.$T_N: $1" -v to="clawbox-test $$.$T_N: $2" '
		index($0, from) { on = 1 } index($0, to) { on = 0 }
		on && /in-use as upperdir\/workdir/ { n++ } END { print n + 0 }' "$C/kmsg"
}

# clawbox returns once nothing of the box runs; the kernel tears the box
# (and its overlay) down after that. The next run of the box waits for it.
next_run_waits_for_teardown() {
	need_root
	mkproj "$P"
	# A run of this case in another checkout would see our control's
	# warnings, and we its: one at a time on the host.
	local o="$C/ovl" n s lk
	exec {lk}>>/tmp/clawbox-test-overlay-warnings.lock
	flock -w 600 "$lk" || fail "another test run held the kernel log's lock for 10 minutes"
	kmsg_follow
	# Control: the kernel log shows an upper dir mounted twice.
	mkdir -p "$o/l" "$o/u" "$o/w" "$o/m1" "$o/m2"
	kmsg_mark control
	mount -t overlay -o "lowerdir=$o/l,upperdir=$o/u,workdir=$o/w" none "$o/m1"
	mount -t overlay -o "lowerdir=$o/l,upperdir=$o/u,workdir=$o/w" none "$o/m2" || true
	umount "$o/m2" 2>/dev/null || true
	umount "$o/m1"
	kmsg_mark runs
	[ "$(overlay_twice control runs)" -gt 0 ] || fail "control: no warning for a double mount"
	# A box that leaves 128 MiB unwritten: the kernel's unmount of its
	# overlay syncs them, long after clawbox returned.
	for i in $(seq 3); do
		$CLAWBOX run --project "$P" -- sh -c 'head -c 128M /dev/zero > /workspace/big' ||
			fail "big write failed"
		$CLAWBOX run --project "$P" -- true || fail "run after a big write failed"
	done
	for i in $(seq 40); do
		$CLAWBOX run --project "$P" -- sh -c "echo $i > /workspace/n; sleep 0.0\$((i % 3)) &" ||
			fail "run $i failed"
	done
	# clawbox killed while its box runs: the next run still waits.
	s=$(own_sleep 100)
	for i in $(seq 5); do
		$CLAWBOX run --project "$P" -- sh -c "echo up > /workspace/up$i; exec $s" &
		pid=$!
		for _ in $(seq 100); do [ -e "$CLAWBOX_STATE_DIR"/boxes/proj-*/upper/up$i ] && break; sleep 0.02; done
		kill -KILL $pid
		wait $pid 2>/dev/null || true
		$CLAWBOX run --project "$P" -- true || fail "run after a killed clawbox failed"
	done
	[ "$($CLAWBOX run --project "$P" -- cat /workspace/n)" = 40 ] || fail "writes lost"
	$CLAWBOX run --project "$P" -- rm /workspace/big
	kmsg_mark end
	n=$(overlay_twice runs end)
	[ "$n" -eq 0 ] || fail "the box's overlay was mounted twice ($n warnings)"
	! pgrep -fx "$s" >/dev/null || { pkill -fx "$s"; fail "box processes survived"; }
}

yolo_unsafe_writes_host() {
	mkproj "$P"
	$CLAWBOX run --box yolo --mode yolo-unsafe --project "$P" -- sh -c 'echo direct > direct.txt'
	[ "$(cat "$P/direct.txt")" = direct ] || fail "yolo-unsafe did not write the project"
	set +e
	$CLAWBOX run --box yolo --mode secure --project "$P" -- true 2>"$T_TMP/err"
	rc=$?
	set -e
	[ $rc -eq 125 ] && grep -q "cannot change between overlay and unsafe" "$T_TMP/err" ||
		fail "mode switch not refused: $rc $(cat "$T_TMP/err")"
	$CLAWBOX delete --yes --box yolo >/dev/null
	$CLAWBOX run --box yolo --mode secure --project "$P" -- sh -c 'echo held > held.txt'
	[ ! -e "$P/held.txt" ] || fail "secure box wrote the host"
}

stdio_passes() {
	mkproj "$P"
	out=$(printf 'abc\n' | $CLAWBOX run --project "$P" -- tr a-z A-Z)
	[ "$out" = ABC ] || fail "stdin/stdout: '$out'"
	err=$($CLAWBOX run --project "$P" -- sh -c 'echo to-stderr >&2' 2>&1 >/dev/null)
	[ "$err" = to-stderr ] || fail "stderr: '$err'"
}

init_holds_no_host_fds() {
	mkproj "$P"
	# The init keeps stdin/out/err and its report pipe; every mount it made
	# from the host's tree is closed once attached (they were ways back out; before that fix it held 30).
	# (After a pause: the init closes its exec-status pipe only once it has
	# seen the exec succeed, which can be after the command started.)
	n=$($CLAWBOX run --project "$P" -- sh -c 'sleep 0.3; ls /proc/1/fd' | wc -l)
	[ "$n" -le 4 ] || fail "the box init holds $n fds: $($CLAWBOX run --project "$P" -- ls -l /proc/1/fd)"
}

default_rlimits() {
	mkproj "$P"
	out=$($CLAWBOX run --project "$P" -- bash -c 'ulimit -c; ulimit -u; ulimit -n' | tr '\n' ' ')
	[ "$out" = "0 8192 $(ulimit -Hn | awk '{print ($1 == "unlimited" || $1 > 65536) ? 65536 : $1}') " ] ||
		fail "core, nproc, nofile limits: $out"
	out=$($CLAWBOX run --project "$P" --nofile 100 -- bash -c 'ulimit -n')
	[ "$out" = 100 ] || fail "--nofile 100 gave $out"
}

# A process may raise its own oom_score_adj, as OpenClaw does before every
# command it runs (`echo 1000 > /proc/self/oom_score_adj`): no error, the
# value taken; lowering it stays the kernel's to refuse; /proc/sys stays
# read-only (t-escape has the rest of /proc).
proc_self_writable() {
	mkproj "$P"
	out=$($CLAWBOX run --project "$P" -- sh -c 'echo 1000 > /proc/self/oom_score_adj && cat /proc/self/oom_score_adj' 2>&1) ||
		fail "raising oom_score_adj failed: $out"
	[ "$out" = 1000 ] || fail "oom_score_adj is '$out', expected 1000"
	out=$($CLAWBOX run --project "$P" -- sh -c 'echo -500 > /proc/self/oom_score_adj' 2>&1) &&
		fail "lowering oom_score_adj worked without CAP_SYS_RESOURCE"
	out=$($CLAWBOX run --project "$P" -- sh -c 'echo 1 > /proc/sys/vm/drop_caches' 2>&1) &&
		fail "/proc/sys/vm/drop_caches was written"
	[[ "$out" == *"Read-only file system"* ]] || fail "unexpected: $out"
}

case_run "writes land in the upper dir, host unchanged" writes_land_in_upper
case_run "default rlimits: no core dumps, nproc and nofile capped" default_rlimits
case_run "the box init holds no fd of the host's tree" init_holds_no_host_fds
case_run "writes persist across runs" writes_persist_across_runs
case_run "project at its own path and /workspace" project_at_both_paths
case_run "working directory follows the caller" cwd_follows_caller
case_run "rest of the host is read-only" rest_is_read_only
case_run "masked paths are empty" masked_paths_are_empty
case_run "--deny-read and the deny-read file" deny_read_option_and_file
case_run "1500 masks and a 360 KB environment reach the box whole" big_blocks_reach_the_box
case_run "private /tmp, minimal /dev, own /proc, hostname" private_tmp_dev_proc_hostname
case_run "exit codes pass through (125/126/127, 128+N)" exit_codes
case_run "bad input: one line, right exit code, nothing created" bad_input
case_run "unusable state dir is a clear error" state_dir_unwritable
case_run "environment is an allowlist, HOME is the box's" environment_is_clean
case_run "signals are forwarded" signals_forwarded
# stdfd.py FD KIND CMD...: exec CMD with the caller's fd FD replaced by a
# thing of KIND (and the other standard fds as they are).
write_stdfd_py() {
	cat >"$C/stdfd.py" <<'PY'
import os, select, socket, sys
fd, kind, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
keep = []
if kind == "dir":
    n = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
elif kind == "opath":
    n = os.open("/etc", os.O_PATH)
elif kind == "opath-null":
    n = os.open("/dev/null", os.O_PATH)
elif kind == "block":
    n = os.open(sys.argv[3], os.O_RDONLY); cmd = sys.argv[4:]
elif kind == "chardev":
    n = os.open("/dev/kmsg", os.O_RDONLY)
elif kind == "epoll":
    e = select.epoll(); keep.append(e); n = e.fileno()
elif kind == "eventfd":
    n = os.eventfd(0)
elif kind == "pidfd":
    n = os.pidfd_open(os.getpid())
elif kind == "procfile":
    n = os.open("/proc/self/status", os.O_RDONLY)
elif kind == "udp":
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); keep.append(u); n = u.fileno()
elif kind == "netlink":
    u = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); keep.append(u); n = u.fileno()
elif kind == "unixpair":
    a, b = socket.socketpair(); keep += [a, b]; n = a.fileno()
elif kind == "null":
    n = os.open("/dev/null", os.O_RDWR)
elif kind == "closed":
    os.close(fd); os.execvp(cmd[0], cmd)
os.dup2(n, fd)
os.execvp(cmd[0], cmd)
PY
}

# Standard fds a box must not get are refused with a message (and the box
# never runs); the ordinary kinds pass; a closed one becomes /dev/null.
stdio_refused_kinds() {
	mkproj "$P"
	write_stdfd_py
	local kinds="dir opath opath-null chardev epoll eventfd pidfd procfile udp netlink" k fd blk
	blk=$(find /dev -maxdepth 1 -type b 2>/dev/null | head -1)
	for fd in 0 1 2; do
		for k in $kinds ${blk:+block}; do
			set +e
			if [ "$k" = block ]; then
				python3 "$C/stdfd.py" $fd block "$blk" "$CLAWBOX" run --project "$P" -- sh -c 'echo RAN >&2' >"$C/o" 2>"$C/e" </dev/null
			elif [ $fd = 2 ]; then
				python3 "$C/stdfd.py" $fd $k "$CLAWBOX" run --project "$P" -- sh -c 'echo RAN' >"$C/o" 2>"$C/e" </dev/null
			else
				python3 "$C/stdfd.py" $fd $k "$CLAWBOX" run --project "$P" -- sh -c 'echo RAN >&2' >"$C/o" 2>"$C/e" </dev/null
			fi
			rc=$?
			set -e
			[ $rc -eq 125 ] || fail "fd $fd as $k: exit $rc, expected 125: $(cat "$C/o" "$C/e")"
			! grep -q RAN "$C/o" "$C/e" 2>/dev/null || fail "fd $fd as $k: the box ran"
			if [ $fd != 2 ]; then
				grep -q "refusing to give it to a box" "$C/e" || fail "fd $fd as $k: no message: $(cat "$C/e")"
			fi
		done
	done
	# The box cannot walk from a directory it was never given.
	set +e
	out=$("$CLAWBOX" run --project "$P" -- sh -c 'ls /proc/self/fd/0/.. | head -3' <"$C" 2>&1)
	rc=$?
	set -e
	[ $rc -eq 125 ] && [[ "$out" == *"standard input is a directory"* ]] || fail "stdin a directory: exit $rc: $out"
	# What passes: a pipe, a file, /dev/null, a unix socket; closed: /dev/null.
	out=$(echo piped | "$CLAWBOX" run --project "$P" -- cat) && [ "$out" = piped ] || fail "a pipe: '$out'"
	echo filed >"$C/in"
	out=$("$CLAWBOX" run --project "$P" -- cat <"$C/in") && [ "$out" = filed ] || fail "a file: '$out'"
	out=$(python3 "$C/stdfd.py" 0 null "$CLAWBOX" run --project "$P" -- cat) || fail "/dev/null refused"
	out=$(python3 "$C/stdfd.py" 0 unixpair "$CLAWBOX" run --project "$P" -- sh -c 'echo ok') &&
		[ "$out" = ok ] || fail "a unix socket refused: '$out'"
	out=$(python3 "$C/stdfd.py" 0 closed "$CLAWBOX" run --project "$P" -- readlink /proc/self/fd/0) ||
		fail "a closed stdin refused"
	[ "$out" = /dev/null ] || fail "a closed stdin is '$out' in the box, expected /dev/null"
}

# fds above 2 that the caller leaks (not close-on-exec) never reach the box:
# directories at 3-9 and at 1000.
stdio_high_fds_not_inherited() {
	mkproj "$P"
	cat >"$C/leak.py" <<'PY'
import os, sys
for n in list(range(3, 10)) + [1000]:
    d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
    os.dup2(d, n, inheritable=True)
    if d != n:
        os.close(d)
os.execvp(sys.argv[2], sys.argv[2:])
PY
	out=$(python3 "$C/leak.py" "$C" "$CLAWBOX" run --project "$P" -- \
		sh -c 'for n in 3 4 5 6 7 8 9 1000; do [ -e /proc/$$/fd/$n ] && echo "leaked $n: $(readlink /proc/$$/fd/$n)"; done; echo checked')
	[ "$out" = checked ] || fail "fds of the caller reached the box: $out"
}

case_run "the box dies with clawbox" box_dies_with_clawbox
case_run "a second run of a busy box is refused" concurrent_runs_refused
case_run "the next run waits for the last one's teardown" next_run_waits_for_teardown
case_run "yolo-unsafe binds the project; modes do not switch" yolo_unsafe_writes_host
case_run "stdin, stdout and stderr pass" stdio_passes
case_run "standard fds a box must not get are refused (dir, O_PATH, devices, kernel objects)" stdio_refused_kinds
case_run "the caller's fds above 2 never reach the box" stdio_high_fds_not_inherited
case_run "a process raises its own oom_score_adj (OpenClaw), /proc/sys stays read-only" proc_self_writable
