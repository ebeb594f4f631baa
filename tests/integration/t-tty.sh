#!/usr/bin/env bash
# Terminals: clawbox shell gets a terminal of the box's own, driven here with
# script(1) as a user at a keyboard would.
. "$(dirname "$0")/lib.sh"

command -v script >/dev/null || { echo "ok - t-tty: all # SKIP script(1) missing"; exit 0; }

# Feed lines to clawbox shell through a pseudo-terminal, one every 0.3 s.
drive() { # project, lines...
	local p=$1
	shift
	{
		sleep 0.5
		for l in "$@"; do printf '%s\r' "$l"; sleep 0.3; done
	} | timeout 20 script -qefc "$CLAWBOX shell --project $p" /dev/null
}

shell_has_its_own_tty() {
	mkproj "$P"
	set +e
	out=$(drive "$P" 'tty' 'echo "HOME=$HOME"' 'test -t 0 && echo stdin-is-tty' 'exit 5')
	rc=$?
	set -e
	echo "$out" | grep -q '/dev/pts/0' || fail "tty is not the box's pts: $out"
	echo "$out" | grep -q 'HOME=/home/clawbox' || fail "HOME: $out"
	echo "$out" | grep -q stdin-is-tty || fail "stdin not a tty"
	[ $rc -eq 5 ] || fail "exit status $rc, expected 5"
}

ctrl_c_reaches_the_foreground_job() {
	mkproj "$P"
	set +e
	out=$({
		sleep 0.5
		printf 'sleep 30; echo interrupted-$?\r'
		sleep 0.5
		printf '\003'
		sleep 0.3
		printf 'echo still-here\r'
		sleep 0.3
		printf 'exit\r'
	} | timeout 20 script -qefc "$CLAWBOX shell --project $P" /dev/null)
	rc=$?
	set -e
	[ $rc -ne 124 ] || fail "timed out: Ctrl-C did not interrupt sleep"
	echo "$out" | grep -q 'still-here' || fail "the shell did not survive Ctrl-C: $out"
}

run_with_tty_passes_output() {
	mkproj "$P"
	out=$(timeout 20 script -qefc "$CLAWBOX run --project $P -- sh -c 'echo out-\$(tty)'" /dev/null </dev/null)
	echo "$out" | grep -q 'out-/dev/pts/0' || fail "output: $out"
}

host_terminal_restored() {
	mkproj "$P"
	# stdin stays open (no EOF from script(1) while the run is going on).
	out=$(sleep 3 | timeout 20 script -qefc "stty -g; $CLAWBOX run --project $P -- true; stty -g" /dev/null | tr -d '\r')
	a=$(echo "$out" | sed -n 1p)
	b=$(echo "$out" | sed -n 2p)
	[ -n "$a" ] && [ "$a" = "$b" ] || fail "terminal modes changed: '$a' vs '$b'"
}

# await FILE TEXT: until FILE holds TEXT (at most 10 s).
await() {
	for _ in $(seq 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# 'clawbox run ... >log &' from a shell with job control: the box must not
# read what the user types while clawbox is a background job (it gets it
# after 'fg'). script(1) gives bash a terminal; bash is named explicitly
# (script runs $SHELL, which CI does not set).
background_box_reads_no_input() {
	background_read 'read x' "2>$C/err"
}

# The same with the box reading its stderr, which is the terminal here: a
# terminal fd reads whatever number it has.
background_box_reads_no_input_on_fd2() {
	background_read 'read x <&2' ""
}

# background_read READ REDIRECT: the box runs the sh command READ in the
# background, clawbox with REDIRECT (for its stderr) besides '>out'.
background_read() {
	mkproj "$P"
	local out="$C/out"
	cat >"$C/job.sh" <<EOF
set -m
"$CLAWBOX" run --project "$P" -- sh -c 'echo ready; $1; echo "got:\$x"' >"$out" $2 &
for _ in \$(seq 400); do [ -e "$C/go-fg" ] && break; sleep 0.05; done
fg >/dev/null
echo "fg-exit=\$?"
EOF
	{
		await "$out" ready || echo "no ready" >"$C/fail"
		printf 'typed-in-background\r'
		# The box had its chance: it waits in read(2) already. A second
		# for a read that must not happen (nothing else to await).
		sleep 1
		cp "$out" "$C/out.before-fg"
		touch "$C/go-fg"
		await "$out" got: || echo "no got" >>"$C/fail"
	} | timeout 30 script -qefc "bash $C/job.sh" /dev/null >"$C/script.out" 2>&1 || true
	cat "$C/script.out" "$C/err" || true
	! grep -q got: "$C/out.before-fg" || fail "the box read the terminal while in the background: $(cat "$out")"
	grep -q 'got:typed-in-background' "$out" || fail "after fg the box did not get the line: $(cat "$out"; cat "$C/fail" 2>/dev/null)"
}

# In the foreground with its output in a file, the box still reads the
# terminal (through a terminal of its own).
foreground_box_reads_input() {
	mkproj "$P"
	local out="$C/out"
	cat >"$C/job.sh" <<EOF
"$CLAWBOX" run --project "$P" -- sh -c 'echo ready; read x; echo "got:\$x"; test -t 0 && echo stdin-tty' >"$out"
EOF
	{
		await "$out" ready
		printf 'typed-in-front\r'
		await "$out" got:
	} | timeout 30 script -qefc "bash $C/job.sh" /dev/null >"$C/script.out" 2>&1 || true
	cat "$out" "$C/script.out"
	grep -q 'got:typed-in-front' "$out" || fail "the box did not read the line: $(cat "$out")"
	grep -q 'stdin-tty' "$out" || fail "stdin in the box is not a terminal"
}

# What a box wrote is shown on the user's terminal by clawbox sync: its file
# names (dry run) and its contents (the interactive diff). C1 controls
# (U+009B CSI) and bidi overrides (U+202E) are escaped as C0 ones are.
sync_shows_no_raw_controls() {
	mkproj "$P"
	"$CLAWBOX" run --project "$P" -- sh -c '
		printf "safe\342\200\256txt.c" >/tmp/name
		echo x >"$(cat /tmp/name)"
		printf "a\302\233[31mred\342\200\256evil\342\201\246x\342\200\217y\n" >notes.txt' </dev/null
	out=$("$CLAWBOX" sync --project "$P" --dry-run 2>&1 || true)
	echo "$out"
	echo "$out" | grep -q 'safe\\u202etxt.c' || fail "the bidi override in a name is not escaped: $out"
	out=$(printf 'd\rq\r' | timeout 20 script -qefc "$CLAWBOX sync --project $P" /dev/null 2>&1 || true)
	echo "$out" | cat -v
	echo "$out" | grep -q '^+a?\[31mred?evil?x?y' || fail "the diff line is not shown escaped: $(echo "$out" | cat -v)"
	if printf '%s' "$out" | LC_ALL=C grep -qP '\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]'; then
		fail "raw C1 or bidi controls reached the terminal: $(echo "$out" | cat -v)"
	fi
}

exec_with_tty_gets_the_box_terminal() {
	mkproj "$P"
	$CLAWBOX up --project "$P" >/dev/null
	trap '$CLAWBOX down --grace 0 --project "$P" >/dev/null 2>&1' EXIT
	set +e
	out=$(timeout 20 script -qefc "$CLAWBOX exec --project $P -- sh -c 'echo out-\$(tty); exit 3'" /dev/null </dev/null)
	rc=$?
	echo "$out" | grep -q 'out-/dev/pts/[0-9]' || fail "output: $out"
	[ $rc -eq 3 ] || fail "exit status $rc"
	out=$({
		sleep 0.5
		printf 'sleep 30; echo interrupted-$?\r'
		sleep 0.5
		printf '\003'
		sleep 0.3
		printf 'echo still-here\r'
		sleep 0.3
		printf 'exit 4\r'
	} | timeout 20 script -qefc "$CLAWBOX exec --project $P -- sh" /dev/null)
	rc=$?
	set -e
	[ $rc -eq 4 ] || fail "exec of a shell on a terminal: exit $rc: $out"
	echo "$out" | grep -q 'still-here' || fail "the shell did not survive Ctrl-C: $out"
}

case_run "clawbox shell has a terminal of its own" shell_has_its_own_tty
case_run "Ctrl-C reaches the foreground job in the box" ctrl_c_reaches_the_foreground_job
case_run "clawbox run on a terminal" run_with_tty_passes_output
case_run "the caller's terminal modes are restored" host_terminal_restored
case_run "clawbox sync shows C1 and bidi controls escaped (names and diff)" sync_shows_no_raw_controls
case_run "a box started in the background reads nothing typed until fg" background_box_reads_no_input
case_run "... nor through its stderr, which is the terminal" background_box_reads_no_input_on_fd2
case_run "a box in the foreground with its output in a file reads the terminal" foreground_box_reads_input
case_run "exec on a terminal: the box's own, Ctrl-C to its job" exec_with_tty_gets_the_box_terminal
