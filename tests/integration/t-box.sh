#!/usr/bin/env bash
# Box commands: status, reset, delete, list, audit (show, --since, verify).
. "$(dirname "$0")/lib.sh"

box_dir() { echo "$CLAWBOX_STATE_DIR"/boxes/proj-*; }

status_counts_changes() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- sh -c 'echo 12345 > new; echo x >> README; rm src/main.c; mkdir d; rm -rf src; mkdir src; echo y > src/z'
	out=$($CLAWBOX status --project "$P" --json)
	echo "$out" | grep -q '"added": 3' || fail "added (new, d, src/z): $out"
	echo "$out" | grep -q '"modified": 1' || fail "modified: $out"
	echo "$out" | grep -q '"replaced": 1' || fail "replaced (src): $out"
	echo "$out" | grep -q '"running": false' || fail "running: $out"
	out=$($CLAWBOX status --project "$P")
	echo "$out" | grep -q "^mode: *secure" || fail "text status: $out"
	echo "$out" | grep -q "^pending: *5 changes" || fail "text status: $out"
}

status_of_missing_box() {
	mkproj "$P"
	set +e
	$CLAWBOX status --project "$P" 2>"$T_TMP/err"
	rc=$?
	set -e
	[ $rc -eq 1 ] && grep -q "no box" "$T_TMP/err" || fail "rc $rc: $(cat "$T_TMP/err")"
}

status_shows_running() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- sh -c 'touch /workspace/up; sleep 2' &
	for _ in $(seq 100); do [ -e "$(box_dir)/upper/up" ] && break; sleep 0.05; done
	$CLAWBOX status --project "$P" | grep -q "running" || fail "not shown running"
	set +e
	$CLAWBOX reset --yes --project "$P" 2>"$T_TMP/err"; rc1=$?
	$CLAWBOX delete --yes --project "$P" 2>>"$T_TMP/err"; rc2=$?
	set -e
	wait
	[ $rc1 -eq 1 ] && [ $rc2 -eq 1 ] || fail "reset/delete of a running box: $rc1 $rc2"
	grep -q "is running" "$T_TMP/err" || fail "$(cat "$T_TMP/err")"
}

reset_discards_everything() {
	mkproj "$P"
	before=$(snapshot "$P")
	$CLAWBOX run --project "$P" -- sh -c 'echo a > .hidden-new; echo b > visible; rm README; mkdir -p .git/hooks; echo h > .git/hooks/pre-commit'
	[ -n "$(ls -A "$(box_dir)/upper")" ] || fail "nothing in upper"
	set +e
	$CLAWBOX reset --project "$P" </dev/null 2>"$T_TMP/err"; rc=$?
	set -e
	[ $rc -eq 1 ] && grep -q -- "--yes" "$T_TMP/err" || fail "reset without --yes and no tty: $rc"
	[ -n "$(ls -A "$(box_dir)/upper")" ] || fail "reset without confirmation discarded"
	$CLAWBOX reset --yes --project "$P" | grep -q "discarded 6 changes" || fail "reset message"
	[ -z "$(ls -A "$(box_dir)/upper")" ] || fail "upper not empty: $(ls -A "$(box_dir)/upper")"
	[ "$(snapshot "$P")" = "$before" ] || fail "reset touched the host project"
	out=$($CLAWBOX run --project "$P" -- sh -c 'ls -A; cat README')
	echo "$out" | grep -q hello || fail "README not back: $out"
	echo "$out" | grep -q hidden-new && fail "dotfile survived reset"
	true
}

delete_and_list() {
	mkproj "$P"
	mkproj "$C/other"
	$CLAWBOX run --project "$P" -- true
	$CLAWBOX run --box named --project "$C/other" -- true
	out=$($CLAWBOX list)
	echo "$out" | grep -q "^named .*secure.*idle.*$C/other" || fail "list: $out"
	echo "$out" | grep -q "^proj-" || fail "list: $out"
	$CLAWBOX list --json | grep -q '"box": "named"' || fail "list --json"
	before=$(snapshot "$P")
	$CLAWBOX delete --yes --project "$P" | grep -q "deleted" || fail "delete message"
	[ "$(snapshot "$P")" = "$before" ] || fail "delete touched the project"
	$CLAWBOX list | grep -q "^proj-" && fail "deleted box still listed"
	[ -z "$(ls -d "$CLAWBOX_STATE_DIR"/boxes/proj-* 2>/dev/null)" ] || fail "box dir left behind"
	true
}

box_found_from_subdir() {
	mkproj "$P"
	$CLAWBOX run --box mine --project "$P" -- sh -c 'echo 1 > marker'
	out=$(cd "$P/src" && $CLAWBOX status)
	echo "$out" | grep -q "^box: *mine" || fail "subdir did not find the box: $out"
	set +e
	$CLAWBOX run --box mine --project "$C" -- true 2>"$T_TMP/err"; rc=$?
	set -e
	[ $rc -eq 125 ] && grep -q "belongs to project" "$T_TMP/err" || fail "box/project mismatch: $rc"
}

audit_records_runs() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- sh -c 'exit 3' || true
	$CLAWBOX run --project "$P" -- no-such-cmd 2>/dev/null || true
	log="$(box_dir)/audit.jsonl"
	[ "$(stat -c %a "$log")" = 600 ] || fail "audit log mode $(stat -c %a "$log")"
	n=$(wc -l <"$log")
	[ "$n" -eq 5 ] || fail "expected 5 lines (create, start, exit, start, exit), got $n"
	grep -q '"event":"run.start","argv":\["sh","-c","exit 3"\],"cwd":"'"$P"'"' "$log" || fail "run.start: $(sed -n 2p "$log")"
	grep -q '"event":"run.exit","pid":[0-9]*,"exit":3,"duration_ms":[0-9]*' "$log" || fail "run.exit: $(sed -n 3p "$log")"
	grep -q '"exit":127' "$log" || fail "exit 127 not logged"
	out=$($CLAWBOX audit --project "$P")
	[ "$(echo "$out" | wc -l)" -eq 5 ] || fail "audit text: $out"
	echo "$out" | grep -q 'run.exit .*exit=3' || fail "audit text: $out"
	[ "$($CLAWBOX audit --project "$P" --json | wc -l)" -eq 5 ] || fail "audit --json"
	[ "$($CLAWBOX audit --project "$P" --since 1h | wc -l)" -eq 5 ] || fail "--since 1h"
	[ "$($CLAWBOX audit --project "$P" --since 2099-01-01 | wc -l)" -eq 0 ] || fail "--since future"
	set +e
	$CLAWBOX audit --project "$P" --since yesterday 2>/dev/null; rc=$?
	set -e
	[ $rc -eq 2 ] || fail "--since yesterday should be a usage error, got $rc"
	$CLAWBOX audit verify --project "$P" | grep -q "intact (5 lines)" || fail "verify intact"
}

audit_verify_catches_tampering() {
	mkproj "$P"
	for i in 1 2 3; do $CLAWBOX run --project "$P" -- true; done
	log="$(box_dir)/audit.jsonl"
	cp "$log" "$T_TMP/orig"
	expect_bad() { # what
		set +e
		$CLAWBOX audit verify --project "$P" >/dev/null 2>"$T_TMP/err"
		local rc=$?
		set -e
		[ $rc -eq 1 ] && grep -q "tampered" "$T_TMP/err" || fail "$1 not detected (rc $rc)"
		cp "$T_TMP/orig" "$log"
	}
	sed -i '3s/"exit":0/"exit":1/' "$log"; expect_bad "an edited line"
	sed -i '2d' "$log"; expect_bad "a removed line"
	sed -i '$d' "$log"; expect_bad "a removed last line"
	sed -i '1d' "$log"; expect_bad "a removed first line"
	sed -n 3p "$log" >"$T_TMP/l" && sed -i "4r $T_TMP/l" "$log"; expect_bad "an inserted line"
	$CLAWBOX audit verify --project "$P" >/dev/null || fail "restored log not intact"
}

case_run "status counts pending changes" status_counts_changes
case_run "status of a project without a box" status_of_missing_box
case_run "running box: shown, not reset or deleted" status_shows_running
case_run "reset discards everything, dotfiles too" reset_discards_everything
case_run "delete and list" delete_and_list
case_run "the box is found from a subdirectory" box_found_from_subdir
case_run "audit records box and exec events" audit_records_runs
case_run "audit verify catches edits, insertions, removals" audit_verify_catches_tampering
