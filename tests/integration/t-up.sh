#!/usr/bin/env bash
# Up boxes: clawbox up, exec, session, down; the control socket; the crash
# cases (a client or the supervisor killed mid-exec).
. "$(dirname "$0")/lib.sh"

box_dir() { echo "$CLAWBOX_STATE_DIR"/boxes/proj-*; }


up() {
	trap down_all EXIT
	$CLAWBOX up --project "$P" "$@"
}

# await CMD...: until CMD succeeds, at most 10 s.
await() {
	for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done
	return 1
}

# The supervisor's pid, from the box's status.
supervisor_pid() { $CLAWBOX status --project "$P" --json | sed -n 's/.*"pid": \([0-9]*\).*/\1/p'; }

exit_statuses_as_run() {
	mkproj "$P"
	up >/dev/null
	$CLAWBOX exec --project "$P" -- true
	set +e
	$CLAWBOX exec --project "$P" -- sh -c 'exit 7'; r1=$?
	$CLAWBOX exec --project "$P" -- nosuchcmd 2>"$C/err"; r2=$?
	$CLAWBOX exec --project "$P" -- /etc/passwd 2>>"$C/err"; r3=$?
	$CLAWBOX exec --project "$P" -- sh -c 'kill -TERM $$'; r4=$?
	$CLAWBOX exec --project "$P" --timeout 1 -- sleep 30 2>>"$C/err"; r5=$?
	set -e
	[ "$r1 $r2 $r3 $r4 $r5" = "7 127 126 143 124" ] || fail "statuses: $r1 $r2 $r3 $r4 $r5"
	grep -q "command not found in the box: 'nosuchcmd'" "$C/err" || fail "$(cat "$C/err")"
	grep -q "timed out" "$C/err" || fail "$(cat "$C/err")"
}

exec_sees_the_overlay_and_stdin() {
	mkproj "$P"
	up -- sh -c 'echo from-cmd > /workspace/cmd.out; exec sleep 1000' >/dev/null
	await test -e "$(box_dir)/upper/cmd.out" || fail "the command did not run"
	out=$(echo data | $CLAWBOX exec --project "$P" -- sh -c 'cat; cat cmd.out; pwd; echo x > made')
	[ "$out" = "data
from-cmd
$P" ] || fail "exec output: $out"
	[ ! -e "$P/made" ] && [ -e "$(box_dir)/upper/made" ] || fail "the write is not held in the overlay"
	out=$($CLAWBOX exec --project "$P" --workdir /tmp -- pwd)
	[ "$out" = /tmp ] || fail "workdir: $out"
	set +e
	$CLAWBOX exec --project "$P" --workdir /nonexistent -- true 2>"$C/err"; r=$?
	set -e
	[ $r -eq 125 ] && grep -q "no such working directory in the box '/nonexistent'" "$C/err" ||
		fail "a missing workdir: $r $(cat "$C/err")"
	out=$(FOO=bar $CLAWBOX exec --project "$P" --env FOO --env X=1 -- sh -c 'echo $FOO$X')
	[ "$out" = bar1 ] || fail "env: $out"
	$CLAWBOX status --project "$P" | grep -q "pending: *2 changes" || fail "status"
}

up_twice_and_run_joins() {
	mkproj "$P"
	up >/dev/null
	set +e
	$CLAWBOX up --project "$P" 2>"$C/err"; r1=$?
	$CLAWBOX run --project "$P" -e K=v -- true 2>>"$C/err"; r2=$?
	set -e
	[ $r1 -eq 125 ] && grep -q "is up already" "$C/err" || fail "second up: $r1 $(cat "$C/err")"
	[ $r2 -eq 125 ] && grep -q "joins it as it is" "$C/err" || fail "run -e: $r2 $(cat "$C/err")"
	out=$($CLAWBOX run --project "$P" -- sh -c 'echo joined; ps -e -o comm= | grep -c sh')
	echo "$out" | grep -q joined || fail "run did not join: $out"
	$CLAWBOX list | grep -q "up" || fail "list: $($CLAWBOX list)"
	set +e
	$CLAWBOX reset --yes --project "$P" 2>"$C/err"; r=$?
	set -e
	[ $r -eq 1 ] && grep -q "is up (clawbox pid [0-9]*): 'clawbox down --box" "$C/err" ||
		fail "reset of an up box: $r $(cat "$C/err")"
}

down_ends_everything() {
	mkproj "$P"
	tag=$((RANDOM + 40000))
	up -- sleep "$tag" >/dev/null
	$CLAWBOX session create s1 --project "$P"
	$CLAWBOX exec --project "$P" --session s1 -- sh -c "sleep $((tag + 1)) & echo started"
	sup=$(supervisor_pid)
	[ -n "$sup" ] || fail "no supervisor pid"
	pgrep -f "^sleep $((tag + 1))\$" >/dev/null || fail "the session's job is not running"
	$CLAWBOX down --project "$P"
	await sh -c "! kill -0 $sup 2>/dev/null" || fail "the supervisor is still there"
	! pgrep -f "^sleep ($tag|$((tag + 1)))\$" || fail "box processes survived down"
	[ ! -e "$(box_dir)/control.sock" ] || fail "the control socket is left"
	grep -q '"event":"box.down"' "$(box_dir)/audit.jsonl" || fail "no box.down in the audit"
	set +e
	$CLAWBOX exec --project "$P" -- true 2>"$C/err"; r=$?
	set -e
	[ $r -eq 125 ] && grep -q "is not up" "$C/err" || fail "exec after down: $r"
	# and it comes up again
	$CLAWBOX up --project "$P" >/dev/null
	$CLAWBOX exec --project "$P" -- true
}

sessions_are_isolated() {
	mkproj "$P"
	tag=$((RANDOM + 40000))
	up -- sleep "$tag" >/dev/null
	$CLAWBOX session create a --project "$P"
	$CLAWBOX session create b --project "$P"
	pid=$($CLAWBOX exec --project "$P" --session a -- sh -c "sleep $((tag + 1)) >/dev/null 2>&1 & echo \$!")
	out=$($CLAWBOX exec --project "$P" --session b -- ps -e -o args=)
	! echo "$out" | grep -q "^sleep" || fail "session b sees other processes: $out"
	out=$($CLAWBOX exec --project "$P" -- ps -e -o args=)
	! echo "$out" | grep -q "^sleep $((tag + 1))" || fail "the box's view sees session a: $out"
	echo "$out" | grep -q "^sleep $tag" || fail "the box's view misses its command: $out"
	set +e
	$CLAWBOX exec --project "$P" --session b -- kill -9 "$pid" 2>/dev/null; r=$?
	set -e
	[ $r -ne 0 ] || fail "session b killed pid $pid"
	out=$($CLAWBOX exec --project "$P" --session a -- ps -e -o args=)
	echo "$out" | grep -q "sleep $((tag + 1))" || fail "session a lost its job: $out"
	$CLAWBOX session list --project "$P" | grep -q "^a " || fail "list"
	$CLAWBOX session delete a --project "$P"
	await sh -c "! pgrep -f '^sleep $((tag + 1))\$' >/dev/null" || fail "delete left the job"
	! $CLAWBOX session list --project "$P" | grep -q "^a " || fail "a still listed"
}

session_network_and_secrets() {
	mkproj "$P"
	up -e TOKEN=s3cr3t-value-123 >/dev/null
	$CLAWBOX session create off --project "$P"
	$CLAWBOX session create on --project "$P" --net
	out=$($CLAWBOX exec --project "$P" --session off -- sh -c 'cat /proc/net/dev | sed 1,2d | cut -d: -f1')
	[ "$(echo $out)" = lo ] || fail "a session without --net has: $out"
	out=$($CLAWBOX exec --project "$P" --session on -- sh -c 'cat /proc/net/dev | sed 1,2d | cut -d: -f1')
	[ "$(echo $out)" = lo ] || fail "the box's network (proxy mode: lo): $out"
	out=$($CLAWBOX exec --project "$P" --session on -- bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128 && echo proxy')
	[ "$out" = proxy ] || fail "a session with --net does not reach the proxy"
	set +e
	$CLAWBOX exec --project "$P" --session off -- bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128' 2>/dev/null; r=$?
	set -e
	[ $r -ne 0 ] || fail "a session without --net reached the proxy"
	out=$($CLAWBOX exec --project "$P" -- printenv TOKEN)
	[ "$out" = s3cr3t-value-123 ] || fail "the box's view lacks its secret"
	out=$($CLAWBOX exec --project "$P" --session on -- sh -c 'printenv TOKEN || echo none')
	[ "$out" = none ] || fail "a session got a secret it was not granted: $out"
}

session_granted_secret_and_idle() {
	mkproj "$P"
	up >/dev/null
	printf 'granted-value-987\n' | $CLAWBOX secrets set --project "$P" API_KEY >/dev/null
	$CLAWBOX session create g --project "$P" --secret API_KEY --idle 1
	out=$($CLAWBOX exec --project "$P" --session g -- printenv API_KEY)
	[ "$out" = granted-value-987 ] || fail "granted secret: $out"
	set +e
	$CLAWBOX session create x --project "$P" --secret NOPE 2>"$C/err"; r=$?
	$CLAWBOX session create 'a/b' --project "$P" 2>>"$C/err"; r2=$?
	$CLAWBOX exec --project "$P" --session nosuch -- true 2>>"$C/err"; r3=$?
	$CLAWBOX session create g --project "$P" 2>>"$C/err"; r4=$?
	set -e
	[ $r -eq 1 ] && [ $r2 -eq 2 ] && [ $r3 -eq 125 ] && [ $r4 -eq 1 ] || fail "$r $r2 $r3 $r4: $(cat "$C/err")"
	grep -q "invalid session name 'a/b'" "$C/err" || fail "$(cat "$C/err")"
	grep -q "no session 'nosuch'" "$C/err" || fail "$(cat "$C/err")"
	grep -q "session 'g' exists already" "$C/err" || fail "$(cat "$C/err")"
	# idle for a second: the session ends by itself
	await sh -c "! $CLAWBOX session list --project '$P' | grep -q '^g '" || fail "idle session stayed"
}

client_killed_mid_exec() {
	mkproj "$P"
	tag=$((RANDOM + 40000))
	up >/dev/null
	$CLAWBOX exec --project "$P" -- sleep "$tag" &
	client=$!
	await pgrep -f "^sleep $tag\$" >/dev/null || fail "never started"
	kill -9 $client
	await sh -c "! pgrep -f '^sleep $tag\$' >/dev/null" || fail "the command outlived its client"
	$CLAWBOX exec --project "$P" -- true
}

supervisor_killed_mid_exec() {
	mkproj "$P"
	tag=$((RANDOM + 40000))
	up >/dev/null
	sup=$(supervisor_pid)
	cg=
	if [ "$(id -u)" -eq 0 ] && [ -d /sys/fs/cgroup/pids ]; then
		$CLAWBOX session create lim --project "$P" --pids 100
		cg=$(echo /sys/fs/cgroup/pids/clawbox-s-lim-"$sup")
		[ -d "$cg" ] || fail "no session cgroup"
	fi
	$CLAWBOX exec --project "$P" -- sleep "$tag" 2>"$C/err" &
	client=$!
	await pgrep -f "^sleep $tag\$" >/dev/null || fail "never started"
	kill -9 "$sup"
	set +e
	wait $client; r=$?
	set -e
	[ $r -eq 125 ] && grep -q "went down" "$C/err" || fail "client: $r $(cat "$C/err")"
	await sh -c "! pgrep -f '^sleep $tag\$' >/dev/null" || fail "box processes outlived the supervisor"
	set +e
	$CLAWBOX exec --project "$P" -- true 2>"$C/err"; r=$?
	set -e
	[ $r -eq 125 ] && grep -q "is not up" "$C/err" || fail "stale socket: $r $(cat "$C/err")"
	$CLAWBOX up --project "$P" >/dev/null
	$CLAWBOX exec --project "$P" -- true
	[ -z "$cg" ] || [ ! -d "$cg" ] || fail "the dead supervisor's session cgroup is left"
}

box_down_under_exec() {
	mkproj "$P"
	tag=$((RANDOM + 40000))
	up >/dev/null
	$CLAWBOX exec --project "$P" -- sleep "$tag" 2>"$C/err" &
	client=$!
	await pgrep -f "^sleep $tag\$" >/dev/null || fail "never started"
	$CLAWBOX down --project "$P" --grace 1
	set +e
	wait $client; r=$?
	set -e
	[ $r -eq 143 ] || [ $r -eq 125 ] || fail "exec under down: $r $(cat "$C/err")"
}

restart_policy() {
	mkproj "$P"
	up --restart on-failure -- sh -c 'echo run >> /workspace/runs; [ $(wc -l < /workspace/runs) -ge 2 ] && exec sleep 1000; exit 3' >/dev/null
	await sh -c "[ \$(cat '$(box_dir)/upper/runs' 2>/dev/null | wc -l) -ge 2 ]" || fail "not restarted"
	grep -q '"event":"cmd.exit"' "$(box_dir)/audit.jsonl" || fail "no cmd.exit"
	set +e
	$CLAWBOX up --project "$P" --restart sometimes 2>"$C/err"; r=$?
	$CLAWBOX run --project "$P" --restart always -- true 2>>"$C/err"; r2=$?
	set -e
	[ $r -eq 125 ] && [ $r2 -eq 125 ] || fail "$r $r2 $(cat "$C/err")"
}

control_socket_is_private() {
	mkproj "$P"
	up >/dev/null
	sock="$(box_dir)/control.sock"
	[ "$(stat -c %a "$sock")" = 600 ] || fail "mode $(stat -c %a "$sock")"
	# Garbage on the socket: refused, and the box still serves.
	python3 - "$sock" <<'EOF'
import socket, sys, struct, os
for payload in [b"", b"x", b"\x01" * 24, struct.pack("IIqII", 1, 0, 0, 99, 0), struct.pack("IIqII", 1, 0, 0, 3, 0) + b"abc",
                struct.pack("IIqII", 99, 0, 0, 0, 0), struct.pack("IIqII", 1, 0, 0x70, 0, 0), os.urandom(4000)]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    try:
        s.send(payload)
        s.settimeout(2)
        s.recv(100000)
    except Exception:
        pass
    s.close()
EOF
	$CLAWBOX exec --project "$P" -- true || fail "the box stopped serving"
	# a terminal is never handed in through the socket
	python3 - "$sock" <<'EOF' || fail "a directory fd was accepted"
import socket, sys, struct, os, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
payload = b"atrue\x00"
head = struct.pack("IIqII", 1, 0, 1 << 4, len(payload), 0)
fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
s.sendmsg([head + payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
reply = s.recv(100000)
kind = struct.unpack("I", reply[:4])[0]
sys.exit(0 if kind == 65 else 1)  # CTLMSG_ERR
EOF
}

session_limits() {
	need_root
	[ -d /sys/fs/cgroup/pids ] && [ -d /sys/fs/cgroup/memory ] || skip "no cgroup v1 pids and memory controllers"
	mkproj "$P"
	up >/dev/null
	$CLAWBOX session create p --project "$P" --pids 10
	$CLAWBOX exec --project "$P" --session p -- sh -c 'for i in $(seq 30); do sleep 100 & done 2>/dev/null; exit 0' || true
	cg=$(echo /sys/fs/cgroup/pids/clawbox-s-p-*)
	[ -d "$cg" ] || fail "no pids cgroup for the session"
	n=$(cat "$cg/pids.current")
	[ "$n" -ge 5 ] && [ "$n" -le 10 ] || fail "pids in the session: $n"
	$CLAWBOX session create m --project "$P" --memory 64M
	set +e
	$CLAWBOX exec --project "$P" --session m -- python3 -c 'x = bytearray(256 << 20); x[::4096] = b"1" * len(x[::4096])'
	r=$?
	set -e
	[ $r -eq 137 ] || fail "256M in a 64M session: exit $r"
	$CLAWBOX session create t --project "$P" --time 1
	await sh -c "! $CLAWBOX session list --project '$P' | grep -q '^t '" || fail "--time 1 session stayed"
	$CLAWBOX session delete p --project "$P"
	await sh -c "[ ! -d '$cg' ]" || fail "the session's cgroup is left"
	$CLAWBOX down --project "$P"
	! ls -d /sys/fs/cgroup/memory/clawbox-s-m-* 2>/dev/null || fail "cgroups left after down"
}

hostile_command_cannot_reach_the_control() {
	mkproj "$P"
	up -- sleep 1000 >/dev/null
	d=$(box_dir)
	# The control socket and the box's state are not in the box's view.
	out=$($CLAWBOX exec --project "$P" -- sh -c "ls -A '$d' 2>&1; ls -A '$CLAWBOX_STATE_DIR' 2>&1; test -S '$d/control.sock' && echo SOCKET-VISIBLE" || true)
	! echo "$out" | grep -q SOCKET-VISIBLE || fail "the control socket is visible in the box: $out"
	# Its leader (pid 1 of the box's view): no signal, no fds, no memory.
	out=$($CLAWBOX exec --project "$P" -- sh -c 'kill -9 1; kill -STOP 1; ls /proc/1/fd 2>&1 | head -1; cat /proc/1/environ 2>&1 | head -c 100; echo; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/1/status' 2>&1 || true)
	echo "$out" | grep -q "Permission denied" || fail "/proc/1 of the leader is readable: $out"
	! echo "$out" | grep -q "PATH=" || fail "the leader's environment is readable: $out"
	echo "$out" | grep -q "NoNewPrivs:.*1" && echo "$out" | grep -q "Seccomp:.*2" || fail "the leader is not confined: $out"
	$CLAWBOX exec --project "$P" -- true || fail "the box stopped serving after the attempts"
	out=$($CLAWBOX exec --project "$P" -- ps -e -o args=)
	echo "$out" | grep -q "^sleep 1000" || fail "the box's command is gone: $out"
	# Nothing in the box holds a socket to the init or the supervisor.
	out=$($CLAWBOX exec --project "$P" -- sh -c 'for p in /proc/[0-9]*; do ls -l $p/fd 2>/dev/null; done | grep -c socket: || true')
	[ "$out" = 0 ] || fail "box processes hold $out sockets"
}

case_run "exit statuses as run's" exit_statuses_as_run
case_run "exec sees the overlay, gets stdin, env, workdir" exec_sees_the_overlay_and_stdin
case_run "up twice refused; run joins an up box" up_twice_and_run_joins
case_run "down ends every process, the socket, and can come up again" down_ends_everything
case_run "sessions see and signal only their own" sessions_are_isolated
case_run "sessions: no network or secrets unless given" session_network_and_secrets
case_run "sessions: granted secrets, bad names, idle end" session_granted_secret_and_idle
case_run "a client killed mid-exec takes its command" client_killed_mid_exec
case_run "the supervisor killed mid-exec: the box goes, up again works" supervisor_killed_mid_exec
case_run "the box goes down under a running exec" box_down_under_exec
case_run "the command's restart policy" restart_policy
case_run "the control socket: private, garbage refused, no dir fds" control_socket_is_private
case_run "sessions: pids, memory and time limits" session_limits
case_run "a hostile command cannot reach the control, its leader or the init" hostile_command_cannot_reach_the_control
