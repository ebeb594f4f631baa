#!/usr/bin/env bash
# clawbox logs: an up box's command log (src/state/cmdlog.c), through
# 'clawbox up -- CMD', and as its writer alone leaves it
# (build/helpers/cmdlog_writer: sizes small enough to rotate): all of it,
# -n, -f across rotations, redaction, a box with no log, planted links,
# control characters on a terminal.
. "$(dirname "$0")/lib.sh"

WRITER="$HELPERS/cmdlog_writer"

# box_with_log: the box of $P, made by a run ($BOX: its dir).
box_with_log() {
	[ -x "$WRITER" ] || skip "build $WRITER first (make test builds it)"
	mkproj "$P"
	"$CLAWBOX" run --project "$P" -- true
	BOX=$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*)
}

no_log_is_clear() {
	box_with_log
	if "$CLAWBOX" logs --project "$P" >"$C/out" 2>"$C/err"; then fail "logs of a box with no log succeeded"; fi
	grep -q "has no command log" "$C/err" || fail "message: $(cat "$C/err")"
	[ ! -s "$C/out" ] || fail "output: $(cat "$C/out")"
}

all_and_tail() {
	box_with_log
	seq 1 20000 | "$WRITER" "$BOX" 20000 3
	ls "$BOX/logs" | LC_ALL=C sort | tr '\n' ' ' | grep -qx "cmd.log cmd.log.1 cmd.log.2 cmd.log.3 " ||
		fail "files: $(ls "$BOX/logs")"
	[ "$(stat -c %a "$BOX/logs")" = 700 ] && [ "$(stat -c %a "$BOX/logs/cmd.log")" = 600 ] ||
		fail "modes: $(stat -c '%a %n' "$BOX/logs" "$BOX/logs/cmd.log")"
	[ "$("$CLAWBOX" logs --project "$P" -n 3)" = "$(printf '19998\n19999\n20000')" ] ||
		fail "-n 3: $("$CLAWBOX" logs --project "$P" -n 3)"
	"$CLAWBOX" logs --project "$P" >"$C/all"
	# whole lines, in order, ending with the last, as much as 4 files keep
	awk 'NR == 1 { p = $0; next } $0 != p + 1 { exit 1 } { p = $0 } END { if (p != 20000) exit 1 }' "$C/all" ||
		fail "not one ordered run of lines: $(head -3 "$C/all") ... $(tail -3 "$C/all")"
	n=$(wc -l <"$C/all")
	[ "$n" -gt 10000 ] && [ "$n" -lt 20000 ] || fail "$n lines kept"
	"$CLAWBOX" logs --project "$P" -n 0 2>"$C/err" && fail "-n 0 accepted"
	"$CLAWBOX" logs --help | grep -q -- "--follow" || fail "--help"
}

follow_across_rotation() {
	await() { for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done; return 1; }
	box_with_log
	seq 1 10 | "$WRITER" "$BOX" 300 3
	"$CLAWBOX" logs --project "$P" -f >"$C/follow" 2>&1 &
	pid=$!
	sleep 0.5
	seq 1001 1100 | "$WRITER" "$BOX" 300 3
	sleep 0.3
	# stopped while the log rotates more than once: it catches up
	kill -STOP "$pid"
	seq 2001 2100 | "$WRITER" "$BOX" 300 3
	seq 3001 3100 | "$WRITER" "$BOX" 300 3
	kill -CONT "$pid"
	await sh -c "grep -qx 3100 '$C/follow'" || true
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	want="$(seq 1 10; seq 1001 1100; seq 2001 2100; seq 3001 3100)"
	[ "$(cat "$C/follow")" = "$want" ] || fail "followed: $(diff <(echo "$want") "$C/follow" | head)"
}

redacted() {
	box_with_log
	V=sk-Logged-Value-4f00ba11
	printf 'one %s two\n' "$V" | CMDLOG_SECRET="API_TOKEN=$V" "$WRITER" "$BOX"
	grep -q "$V" "$BOX/logs/cmd.log" && fail "the writer kept the value"
	grep -q "one \[REDACTED:API_TOKEN\] two" "$BOX/logs/cmd.log" || fail "log: $(cat "$BOX/logs/cmd.log")"
	# a value the box learned after the line was written: redacted on show
	W=later-Known-Value-77aa
	printf 'raw %s\n' "$W" | "$WRITER" "$BOX"
	echo "$W" | "$CLAWBOX" secrets set --project "$P" LATER >/dev/null
	out=$("$CLAWBOX" logs --project "$P")
	echo "$out" | grep -q "$W" && fail "shown unredacted: $out"
	echo "$out" | grep -q "raw \[REDACTED:LATER\]" || fail "shown: $out"
}

planted_links() {
	box_with_log
	echo "host secret" >"$C/target"
	mkdir "$BOX/logs"
	ln -s "$C/target" "$BOX/logs/cmd.log"
	if echo x | "$WRITER" "$BOX" 2>/dev/null; then fail "the writer followed a link"; fi
	[ "$(cat "$C/target")" = "host secret" ] || fail "the target changed"
	out=$("$CLAWBOX" logs --project "$P" 2>&1) && fail "logs read through a link: $out"
	echo "$out" | grep -q "host secret" && fail "shown: $out"
	rm -r "$BOX/logs"
	mkdir "$C/elsewhere"
	echo "other" >"$C/elsewhere/cmd.log"
	ln -s "$C/elsewhere" "$BOX/logs"
	out=$("$CLAWBOX" logs --project "$P" 2>&1) && fail "logs read a linked dir: $out"
	echo "$out" | grep -q "other" && fail "shown: $out"
	true
}

controls_on_a_terminal() {
	box_with_log
	command -v script >/dev/null || skip "no script(1) for a terminal"
	printf 'red \033[31mtext\033]0;title\007 ok\n' | "$WRITER" "$BOX"
	script -qfec "'$CLAWBOX' logs --project '$P'" /dev/null >"$C/tty" </dev/null
	grep -q $'\033\[31m' "$C/tty" && fail "an escape reached the terminal"
	grep -q 'red ?\[31mtext?\]0;title? ok' "$C/tty" || fail "shown: $(cat -v "$C/tty")"
	# not a terminal: the bytes as logged
	"$CLAWBOX" logs --project "$P" | grep -q $'\033\[31m' || fail "a pipe does not get the bytes"
}


# await CMD...: until CMD succeeds, at most 10 s.
await() {
	for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done
	return 1
}

up_box_log() {
	mkproj "$P"
	V=sk-Up-Logged-Value-9a9a9a
	echo "$V" | "$CLAWBOX" secrets set --project "$P" UP_TOKEN >/dev/null
	trap down_all EXIT
	"$CLAWBOX" up --project "$P" -- sh -c 'echo "start $UP_TOKEN"; echo err >&2
		i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo "tick $i"; sleep 0.1; done; exec sleep 1000' >/dev/null
	await sh -c "'$CLAWBOX' logs --project '$P' | grep -q 'tick 3'" || fail "no ticks: $("$CLAWBOX" logs --project "$P" 2>&1)"
	out=$("$CLAWBOX" logs --project "$P")
	echo "$out" | grep -qx "start \[REDACTED:UP_TOKEN\]" || fail "not redacted: $out"
	echo "$out" | grep -qx "err" || fail "no stderr: $out"
	grep -rq "$V" "$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*)/logs" && fail "the value is in the log files"
	"$CLAWBOX" logs --project "$P" -f >"$C/follow" 2>&1 &
	pid=$!
	await grep -q "tick 30" "$C/follow" || fail "-f: $(tail -3 "$C/follow")"
	"$CLAWBOX" down --project "$P" >/dev/null
	# -f of an up box ends with it
	await sh -c "! kill -0 $pid 2>/dev/null" || { kill "$pid"; fail "-f outlived the box"; }
	wait "$pid" || fail "-f ended with $?"
	n=$("$CLAWBOX" logs --project "$P" -n 1)
	echo "$n" | grep -q "^tick \|clawbox" || fail "-n 1 after down: $n"
}

case_run "a box with no command log: a clear message" no_log_is_clear
case_run "clawbox up -- CMD: its stdout and stderr, redacted, -f" up_box_log
case_run "all that is kept, in order, and -n" all_and_tail
case_run "-f follows across rotations" follow_across_rotation
case_run "values redacted by the writer and on show" redacted
case_run "planted links: never followed by the writer or logs" planted_links
case_run "control characters on a terminal" controls_on_a_terminal
