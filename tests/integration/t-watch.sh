#!/usr/bin/env bash
# The box's writes audited as they happen (src/state/writewatch.c): fs.create,
# fs.modify, fs.delete, fs.rename with the paths the agent sees, in order;
# hostile names escaped; symlinks the box plants never followed; a flood of
# writes coalesced; --no-watch.
. "$(dirname "$0")/lib.sh"

# fs_events [ARGS]: the box's fs.* events, one "event [from ->] path" a line.
fs_events() {
	"$CLAWBOX" audit --json "$@" |
		jq -r 'select(.event | startswith("fs.")) |
			"\(.event) \(if .from then .from + " -> " else "" end)\(.path // .reason)"'
}

events_in_order() {
	mkproj "$P"
	echo "old" >"$P/gone.txt"
	# A pause between steps: the watcher reads events after the fact, and
	# a few are told by what it finds then (docs/ARCHITECTURE.md).
	"$CLAWBOX" run --project "$P" -- sh -c '
		echo new >new.txt; sleep 0.2
		echo more >>README; sleep 0.2
		rm gone.txt; sleep 0.2
		echo edit >>src/main.c; sleep 0.2
		mv new.txt renamed.txt; sleep 0.2
		mkdir dir; sleep 0.2
		echo in >dir/file; sleep 0.2
		rm renamed.txt; sleep 0.2
		mv README README.md; sleep 0.2
		echo again >gone.txt'
	got=$(fs_events --project "$P")
	want="fs.create /workspace/new.txt
fs.modify /workspace/new.txt
fs.modify /workspace/README
fs.delete /workspace/gone.txt
fs.modify /workspace/src/main.c
fs.rename /workspace/new.txt -> /workspace/renamed.txt
fs.create /workspace/dir
fs.create /workspace/dir/file
fs.modify /workspace/dir/file
fs.delete /workspace/renamed.txt
fs.rename /workspace/README -> /workspace/README.md
fs.create /workspace/gone.txt
fs.modify /workspace/gone.txt"
	[ "$got" = "$want" ] || fail "events:
$got
expected:
$want"
	# before run.exit, and the chain intact
	"$CLAWBOX" audit --json --project "$P" | jq -r .event | tail -1 | grep -qx run.exit ||
		fail "run.exit is not last"
	"$CLAWBOX" audit verify --project "$P" >/dev/null
}

# The same without pauses: every step is there (what is told by the state
# found may differ, never the paths).
events_without_pauses() {
	mkproj "$P"
	mkdir -p "$P/lib/x" && echo y >"$P/lib/x/y.c"
	"$CLAWBOX" run --project "$P" -- sh -c '
		echo new >new.txt; echo more >>README; rm src/main.c; rm -r lib
		mkdir -p a/b/c; echo x >a/b/c/f; mv new.txt a/n.txt'
	got=$(fs_events --project "$P")
	# (a removed tree may be told as its top only: its parts went before
	# the watcher saw the copy-ups that held them)
	for l in "fs.create /workspace/new.txt" "fs.modify /workspace/README" \
		"fs.delete /workspace/src/main.c" "fs.delete /workspace/lib" \
		"fs.create /workspace/a/b/c/f"; do
		echo "$got" | grep -qxF "$l" || fail "no '$l' in:
$got"
	done
	# a rename into a directory not watched yet: a rename, or the file
	# gone from one place and new in the other
	echo "$got" | grep -qxF "fs.rename /workspace/new.txt -> /workspace/a/n.txt" ||
		{ echo "$got" | grep -qxF "fs.delete /workspace/new.txt" &&
			echo "$got" | grep -qxF "fs.create /workspace/a/n.txt"; } ||
		fail "the rename is lost: $got"
	echo "$got" | grep -q "fs.create /workspace/\(src\|lib\)" && fail "a removal's exchange taken for a create: $got"
	true
}

hostile_names() {
	mkproj "$P"
	mkdir "$C/host"
	"$CLAWBOX" run --project "$P" -- bash -c '
		touch "$(printf "nl\nesc\033[31m\xff end")"
		touch "$(printf "bidi\xe2\x80\xaetxt.exe")"
		touch "back\\slash"
		ln -s '"$C/host"' planted; ln -s / root; sleep 0.3
		d=deep; for i in $(seq 30); do d=$d/$(printf "%0100d" $i); done
		mkdir -p "$d" 2>/dev/null; true'
	# the host dir the box pointed at gets a file while nothing runs: no
	# event can name it; and while the box ran, the link was not entered
	got=$(fs_events --project "$P")
	echo "$got" | grep -qxF 'fs.create /workspace/nl\x0aesc\x1b[31m\xff end' ||
		fail "control bytes not escaped: $got"
	echo "$got" | grep -qxF 'fs.create /workspace/bidi\u202etxt.exe' || fail "bidi: $got"
	echo "$got" | grep -qxF 'fs.create /workspace/back\x5cslash' || fail "backslash: $got"
	echo "$got" | grep -qxF 'fs.create /workspace/planted' || fail "link: $got"
	"$CLAWBOX" audit --json --project "$P" | grep -qF '"path":"/workspace/planted","type":"link"' ||
		fail "the link is not of type link"
	echo "$got" | grep -q "planted/\|root/" && fail "a planted link was followed: $got"
	# the raw log holds no control byte
	box=$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*)
	LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f]' "$box/audit.jsonl" && fail "a control byte in the log"
	"$CLAWBOX" audit verify --project "$P" >/dev/null
}

links_never_followed_while_running() {
	mkproj "$P"
	mkdir "$C/host"
	"$CLAWBOX" run --project "$P" -- sh -c "ln -s '$C/host' l; mkdir d; sleep 0.3; rmdir d; ln -s '$C/host' d; sleep 1" &
	pid=$!
	sleep 0.8
	mkdir "$C/host/sub"
	echo s >"$C/host/secret"
	wait $pid
	got=$(fs_events --project "$P")
	echo "$got" | grep -q "secret\|sub" && fail "the watcher followed a planted link: $got"
	echo "$got" | grep -qxF "fs.create /workspace/l" || fail "no link event: $got"
}

flood_is_coalesced() {
	mkproj "$P"
	"$CLAWBOX" run --project "$P" -- sh -c 'i=0; while [ $i -lt 20000 ]; do echo $i; i=$((i+1)); done >flood; wc -l <flood'
	got=$(fs_events --project "$P")
	n=$(echo "$got" | grep -c "fs.modify /workspace/flood$" || true)
	[ "$n" -ge 1 ] && [ "$n" -le 5 ] || fail "$n fs.modify events for 20000 writes"
}

no_watch_flag() {
	mkproj "$P"
	"$CLAWBOX" run --no-watch --project "$P" -- sh -c 'echo new >new.txt; sleep 0.2; rm README'
	[ -z "$(fs_events --project "$P")" ] || fail "--no-watch wrote fs events"
	"$CLAWBOX" run --help | grep -q -- "--no-watch" || fail "--help says nothing of --no-watch"
}

up_box_watched() {
	mkproj "$P"
	trap '"$CLAWBOX" down --grace 0 --project "$P" >/dev/null 2>&1 || true' EXIT
	"$CLAWBOX" up --project "$P" -- sh -c 'echo c >from-cmd; exec sleep 1000' >/dev/null
	"$CLAWBOX" exec --project "$P" -- sh -c 'sleep 0.2; echo e >from-exec; rm README'
	"$CLAWBOX" down --project "$P" >/dev/null
	got=$(fs_events --project "$P")
	for l in "fs.create /workspace/from-cmd" "fs.create /workspace/from-exec" "fs.delete /workspace/README"; do
		echo "$got" | grep -qxF "$l" || fail "no '$l' in: $got"
	done
	# all of them before the box's end
	"$CLAWBOX" audit --json --project "$P" | jq -r .event | grep -v '^fs\.' | tail -1 | grep -qx run.exit ||
		fail "events after the end: $("$CLAWBOX" audit --project "$P" | tail -4)"
	"$CLAWBOX" audit --json --project "$P" | jq -r .event | tail -1 | grep -qx run.exit ||
		fail "an event after run.exit"
}

TUSER=clawbox-t
user_box_watched() {
	need_userns
	[ "$(id -u)" -eq 0 ] || skip "needs root to make the test user"
	id "$TUSER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TUSER" >/dev/null 2>&1 ||
		skip "cannot create a test user"
	U="$C/u"
	mkdir -p "$U"
	cp "$CLAWBOX" "$U/clawbox"
	chmod 755 "$U" "$U/clawbox"
	chown "$TUSER": "$U"
	runuser -u "$TUSER" -- env -i PATH=/usr/bin:/bin HOME="/home/$TUSER" ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		CLAWBOX_STATE_DIR="$U/state" bash -c "cd '$U' && mkdir -p proj && echo a >proj/README &&
		./clawbox run --project proj -- sh -c 'echo n >new; sleep 0.2; rm README' &&
		./clawbox audit --json --project proj" >"$C/out"
	got=$(jq -r 'select(.event | startswith("fs.")) | "\(.event) \(.path)"' "$C/out")
	[ "$got" = "fs.create /workspace/new
fs.modify /workspace/new
fs.delete /workspace/README" ] || fail "as a user: $got"
}

case_run "create, modify, delete, rename, mkdir: in order, the agent's paths" events_in_order
case_run "the same steps without pauses" events_without_pauses
case_run "hostile names escaped, planted links recorded as links" hostile_names
case_run "a planted link is never followed by the watcher" links_never_followed_while_running
case_run "20000 writes to one file: a few fs.modify" flood_is_coalesced
case_run "--no-watch: no fs events" no_watch_flag
case_run "an ordinary user's box is watched too" user_box_watched
case_run "an up box: its command's and its execs' writes" up_box_watched
