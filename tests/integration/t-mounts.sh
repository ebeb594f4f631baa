#!/usr/bin/env bash
# Extra mounts (--mount SRC:DST[:ro|overlay], --vault DIR), their record
# with the box, the refusals, and reset / reset --home; as root and as an
# ordinary user.
. "$(dirname "$0")/lib.sh"

box_dir() { echo "$CLAWBOX_STATE_DIR"/boxes/proj-*; }

# mksrc DIR: a host dir to mount, with a file, a subdir and a .env.
mksrc() {
	mkdir -p "$1/sub"
	echo "note" >"$1/note.md"
	echo "deep" >"$1/sub/deep.md"
	echo "TOKEN=s3cr3t-value-123" >"$1/.env"
	chmod -R a+rX "$1"
}

# refused ARGS...: clawbox run with ARGS fails with 125 and says why.
refused() {
	local rc=0
	$CLAWBOX run --project "$P" --net none "$@" -- true 2>"$C/err" || rc=$?
	[ $rc -eq 125 ] || fail "not refused ($rc): $*"
	[ -s "$C/err" ] || fail "refused without a message: $*"
	if grep -q "cannot start\|cannot set up" "$C/err"; then fail "refused late: $(cat "$C/err")"; fi
	return 0
}

ro_mount_is_read_only() {
	mkproj "$P"
	S="$C/src" && mksrc "$S"
	before=$(snapshot "$S")
	out=$($CLAWBOX run --project "$P" --net none --mount "$S:/mnt/data" -- sh -c '
		cat /mnt/data/note.md /mnt/data/sub/deep.md
		echo x > /mnt/data/new 2>/dev/null && echo WROTE
		echo x >> /mnt/data/note.md 2>/dev/null && echo APPENDED
		mount -o remount,rw /mnt/data 2>/dev/null && echo REMOUNTED
		mount -o remount,rw,bind /mnt/data 2>/dev/null && echo REMOUNTED
		umount /mnt/data 2>/dev/null && echo UNMOUNTED
		grep " /mnt/data " /proc/self/mountinfo')
	echo "$out" | grep -qx note && echo "$out" | grep -qx deep || fail "not readable: $out"
	echo "$out" | grep -q "WROTE\|APPENDED\|REMOUNTED\|UNMOUNTED" && fail "writable: $out"
	echo "$out" | grep " /mnt/data " | grep -q " ro,nosuid,nodev" || fail "mount flags: $out"
	[ "$(snapshot "$S")" = "$before" ] || fail "the host dir changed"
	# A new mount point beneath a read-only dir of the view: /mnt is held
	# (it shows nothing else), a masked dir too; /usr and /etc are not.
	out=$($CLAWBOX run --project "$P" --net none --mount "$S:/mnt/a/b" --mount "$S:/root/x" -- sh -c 'cat /mnt/a/b/note.md /root/x/note.md; ls /usr/bin/env')
	[ "$out" = "$(printf 'note\nnote\n/usr/bin/env')" ] || fail "deep DST: $out"
	for d in /usr/lib/clawbox-t /etc/clawbox-t/x; do
		rc=0
		$CLAWBOX run --project "$P" --net none --mount "$S:$d" -- true 2>"$C/err" || rc=$?
		[ $rc -eq 125 ] && grep -q "make the dir on the host" "$C/err" || fail "$d ($rc): $(cat "$C/err")"
		rm -f "$(box_dir)/mounts"
	done
}

overlay_writes_are_held() {
	mkproj "$P"
	S="$C/src" && mksrc "$S"
	before=$(snapshot "$S")
	$CLAWBOX run --project "$P" --net none --mount "$S:/mnt/ov:overlay" -- sh -c '
		echo new > /mnt/ov/new.md; echo more >> /mnt/ov/note.md; rm /mnt/ov/sub/deep.md'
	[ "$(snapshot "$S")" = "$before" ] || fail "the host dir changed"
	out=$($CLAWBOX run --project "$P" --net none -- sh -c 'cat /mnt/ov/new.md /mnt/ov/note.md; ls /mnt/ov/sub')
	[ "$out" = "$(printf 'new\nnote\nmore')" ] || fail "writes not held: $out"
	out=$($CLAWBOX status --project "$P")
	echo "$out" | grep -q "$S at /mnt/ov, overlay (3 pending changes" || fail "status: $out"
	$CLAWBOX status --project "$P" --json | grep -q '"pending": 3' || fail "status --json"
	# sync: the project's changes, then the mount's, each through the gate.
	$CLAWBOX run --project "$P" --net none -- sh -c 'echo p > projfile'
	out=$($CLAWBOX sync --dry-run --project "$P")
	echo "$out" | grep -q projfile && echo "$out" | grep -q "^mount '/mnt/ov' (from '$S'):" &&
		echo "$out" | grep -q "new.md" || fail "sync --dry-run: $out"
	[ "$(snapshot "$S")" = "$before" ] || fail "--dry-run changed the host dir"
	# The overlay's upper is the box's, beneath its data dir.
	ls -d "$(box_dir)"/disk/overlays/*/upper >/dev/null 2>&1 || ls -d "$(box_dir)"/overlays/*/upper >/dev/null ||
		fail "no upper in the box's data dir"
	$CLAWBOX reset --yes --project "$P" | grep -q "discarded 4 changes" || fail "reset count"
	out=$($CLAWBOX run --project "$P" --net none -- sh -c 'ls /mnt/ov; cat /mnt/ov/note.md')
	echo "$out" | grep -q new.md && fail "reset kept the mount's writes: $out"
	[ "$(snapshot "$S")" = "$before" ] || fail "the host dir changed"
}

overlay_writes_come_home_through_the_gate() {
	mkproj "$P"
	S="$C/src" && mksrc "$S"
	V=tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	$CLAWBOX run --project "$P" --net none -e "TOKEN=$V" --mount "$S:/mnt/ov:overlay" -- sh -c '
		echo new > /mnt/ov/new.md; echo more >> /mnt/ov/note.md; rm /mnt/ov/sub/deep.md
		echo "$TOKEN" > /mnt/ov/leak.txt; echo box >> /mnt/ov/sub/conflict.md; echo p > projfile' 2>/dev/null
	echo host >"$S/sub/conflict.md" # the host's own, meanwhile
	rc=0
	$CLAWBOX sync --auto --project "$P" >"$C/out" 2>&1 || rc=$?
	[ $rc -eq 1 ] || fail "sync --auto ($rc): $(cat "$C/out")"
	grep -q "^mount '/mnt/ov' (from '$S'):" "$C/out" || fail "no mount header: $(cat "$C/out")"
	[ -e "$P/projfile" ] || fail "the project's change did not come home"
	[ "$(cat "$S/new.md")" = new ] && [ "$(cat "$S/note.md")" = "$(printf 'note\nmore')" ] &&
		[ ! -e "$S/sub/deep.md" ] || fail "the mount's changes did not come home: $(ls -R "$S")"
	[ ! -e "$S/leak.txt" ] || fail "a secret came home through a mount"
	[ "$(cat "$S/sub/conflict.md")" = host ] || fail "a conflict was overwritten"
	out=$($CLAWBOX status --project "$P")
	echo "$out" | grep -q "overlay (2 pending changes" || fail "status after sync: $out"
	grep -q '"sync.apply"\|sync\.' "$(box_dir)/audit.jsonl" || fail "no sync in the audit log"
	# --json and --only cover the project only, and say so.
	$CLAWBOX sync --dry-run --json --project "$P" 2>"$C/err" >/dev/null || true
	grep -q "does not cover" "$C/err" || fail "--json: $(cat "$C/err")"
	# What the box then sees: the host's dir (the synced changes left the upper).
	out=$($CLAWBOX run --project "$P" --net none -- sh -c 'cat /mnt/ov/new.md; ls /mnt/ov/sub')
	[ "$out" = "new
conflict.md" ] || fail "after sync: $out"
}

yolo_brings_mounts_home() {
	mkproj "$P"
	S="$C/src" && mksrc "$S"
	$CLAWBOX run --project "$P" --net none --mode yolo --mount "$S:/mnt/ov:overlay" -- true
	printf 'auto_interval = 1\n' >>"$(box_dir)/config.toml"
	mkfifo "$C/go"
	$CLAWBOX run --project "$P" --net none -- sh -c 'echo y > /mnt/ov/yolo.md; read x' <"$C/go" >/dev/null 2>&1 &
	exec 7>"$C/go"
	ok=0
	for _ in $(seq 300); do [ -e "$S/yolo.md" ] && { ok=1; break; }; sleep 0.1; done
	echo stop >&7
	exec 7>&-
	wait
	[ $ok = 1 ] && [ "$(cat "$S/yolo.md")" = y ] || fail "yolo: $(cat "$(box_dir)/sync.log")"
	# Applied while the box ran: settled at the next start, not pending.
	$CLAWBOX run --project "$P" --net none -- sh -c 'cat /mnt/ov/yolo.md' | grep -qx y || fail "after yolo"
	$CLAWBOX status --project "$P" | grep -q "overlay (0 pending" || fail "status after yolo"
}

refusals() {
	mkproj "$P"
	S="$C/src" && mksrc "$S"
	H="$C/home" && mkdir -p "$H/.ssh" "$H/creds/.aws" "$H/a:b"
	for d in /proc /proc/1 /sys /sys/fs /dev /dev/shm /workspace /workspace/x "$P" "$P/sub" \
		/tmp /home/clawbox /home / /etc /etc/resolv.conf; do
		refused --mount "$S:$d"
	done
	grep -q "the box's own" "$C/err" || fail "message: $(cat "$C/err")"
	for a in "$S:mnt/x" "$S:/mnt/../etc" "$S:/mnt//x" "$S:/mnt/x/" "$S:/mnt/x:rw" "$S:/mnt/x:overlay:ro" \
		"$S" ":/mnt/x" "$H/a:b:/mnt/x" "$S:/mnt/x"$'\n'"y" "$S$(printf '\033')x:/mnt/x"; do
		refused --mount "$a"
	done
	refused --mount "$H/a:b:/mnt/x"
	grep -q "symlink" "$C/err" || fail "':' message: $(cat "$C/err")"
	refused --mount "$S:/mnt/x:rw"
	grep -q "read-write is not offered" "$C/err" || fail "rw message: $(cat "$C/err")"
	# Sources: credentials, hidden paths, clawbox's state, not a dir.
	refused --mount "$H/.ssh:/mnt/x"
	grep -q "credential" "$C/err" || fail "ssh message: $(cat "$C/err")"
	refused --mount "$H/creds:/mnt/x"
	refused --mount "$H/creds/.aws:/mnt/x"
	ln -s "$H/.ssh" "$C/innocent"
	refused --mount "$C/innocent:/mnt/x"
	refused --mount "/:/mnt/x"
	refused --mount "/etc:/mnt/x"
	refused --mount "/etc/ssl/private:/mnt/x"
	refused --mount "/root:/mnt/x"
	$CLAWBOX run --project "$P" --net none -- true
	refused --mount "$CLAWBOX_STATE_DIR:/mnt/x"
	refused --mount "$(box_dir):/mnt/x"
	refused --mount "$C:/mnt/x" # holds the state dir
	refused --mount "$S/note.md:/mnt/x"
	refused --mount "$C/missing:/mnt/x"
	refused --mount "$S:/mnt/a" --mount "$S:/mnt/a/b"
	refused --mount "$S:/mnt/a" --mount "$S:/mnt/a"
	refused --vault "$S:/mnt/x"
	mkdir -p "$C/unsafe"
	$CLAWBOX run --project "$C/unsafe" --net none --mode yolo-unsafe -- true
	rc=0
	$CLAWBOX run --project "$C/unsafe" --net none --mount "$S:/mnt/x:overlay" -- true 2>"$C/err" || rc=$?
	[ $rc -eq 125 ] && grep -q "no sync" "$C/err" || fail "overlay in yolo-unsafe ($rc): $(cat "$C/err")"
	mkdir -p "$C/cfg"
	refused --config "$C/cfg" --mount "$S:/home/clawbox/.openclaw/x"
	refused --config "$C/cfg:/home/clawbox/.cfg" --mount "$S:/home/clawbox/.cfg"
	# A symlink the box planted in its home is not followed by a mount.
	$CLAWBOX run --project "$P" --net none -- sh -c 'ln -s /etc /home/clawbox/link; mkdir /tmp/t; ln -s /tmp /home/clawbox/link2'
	for d in /home/clawbox/link/x /home/clawbox/link2/x /home/clawbox/link2; do
		rc=0
		$CLAWBOX run --project "$P" --net none --mount "$S:$d" -- true 2>"$C/err" || rc=$?
		[ $rc -eq 125 ] && grep -q "symlink\|Not a directory" "$C/err" || fail "symlink DST $d ($rc): $(cat "$C/err")"
	done
	# Nothing refused was recorded.
	[ ! -e "$(box_dir)/mounts" ] || fail "a refused mount was recorded: $(cat "$(box_dir)/mounts")"
}

vault_at_mnt_obsidian() {
	mkproj "$P"
	V="$C/vault" && mksrc "$V"
	out=$($CLAWBOX run --project "$P" --net none --vault "$V" -- sh -c 'cat /mnt/obsidian/note.md; touch /mnt/obsidian/x 2>/dev/null && echo WROTE; true')
	[ "$out" = note ] || fail "vault: $out"
	$CLAWBOX run --project "$P" --net none --vault "$V:overlay" -- sh -c 'echo n > /mnt/obsidian/today.md'
	[ ! -e "$V/today.md" ] || fail "the vault on the host changed"
	$CLAWBOX status --project "$P" | grep -q "at /mnt/obsidian, overlay (1 pending" || fail "status"
}

record_used_by_next_run() {
	mkproj "$P"
	S="$C/src" && mksrc "$S"
	T="$C/src2" && mksrc "$T"
	$CLAWBOX run --project "$P" --net none --mount "$S:/mnt/a" --mount "$T:/mnt/b:overlay" -- true 2>"$C/err"
	[ ! -s "$C/err" ] || fail "a first record is not news: $(cat "$C/err")"
	out=$($CLAWBOX run --project "$P" --net none -- sh -c 'cat /mnt/a/note.md /mnt/b/note.md')
	[ "$out" = "$(printf 'note\nnote')" ] || fail "record not used: $out"
	out=$($CLAWBOX status --project "$P")
	echo "$out" | grep -q "mounts: *$S at /mnt/a, read-only" || fail "status: $out"
	echo "$out" | grep -q "$T at /mnt/b, overlay (0 pending" || fail "status: $out"
	# New mounts replace the record, in one line.
	$CLAWBOX run --project "$P" --net none --mount "$S:/mnt/c" -- true 2>"$C/err"
	[ "$(wc -l <"$C/err")" -eq 1 ] && grep -q "recorded mounts are replaced by $S:/mnt/c:ro" "$C/err" ||
		fail "replacement: $(cat "$C/err")"
	out=$($CLAWBOX run --project "$P" --net none -- sh -c 'ls /mnt/c/note.md; ls /mnt/a 2>&1; true')
	echo "$out" | grep -q "/mnt/c/note.md" || fail "replaced record: $out"
	# An overlay mount holding writes is not dropped silently.
	$CLAWBOX run --project "$P" --net none --mount "$T:/mnt/b:overlay" -- sh -c 'echo w > /mnt/b/w'
	rc=0
	$CLAWBOX run --project "$P" --net none --mount "$S:/mnt/c" -- true 2>"$C/err" || rc=$?
	[ $rc -eq 125 ] && grep -q "holds 1 pending changes" "$C/err" || fail "dropped writes ($rc): $(cat "$C/err")"
	# --no-mounts forgets them (after a reset).
	$CLAWBOX reset --yes --project "$P" >/dev/null
	$CLAWBOX run --project "$P" --net none --no-mounts -- true 2>/dev/null
	out=$($CLAWBOX run --project "$P" --net none -- sh -c 'ls /mnt/b 2>&1 || true')
	echo "$out" | grep -q note.md && fail "--no-mounts kept them: $out"
	[ ! -e "$(box_dir)/mounts" ] || fail "record left"
	# A record whose source became a symlink is refused, not followed.
	$CLAWBOX run --project "$P" --net none --mount "$S:/mnt/a" -- true
	mv "$S" "$C/moved" && mkdir -p "$C/secret/.gnupg" && ln -s "$C/secret" "$S"
	rc=0
	$CLAWBOX run --project "$P" --net none -- true 2>"$C/err" || rc=$?
	[ $rc -eq 125 ] && grep -q "now a symlink" "$C/err" || fail "swapped source ($rc): $(cat "$C/err")"
}

masks_apply_beneath_mounts() {
	mkproj "$P"
	S="$C/src" && mksrc "$S"
	out=$($CLAWBOX run --project "$P" --net none --deny-read "$S/.env" --deny-read "$S/sub" \
		--mount "$S:/mnt/a" --mount "$S:/home/clawbox/notes:overlay" -- sh -c '
		cat /mnt/a/.env /home/clawbox/notes/.env; ls /mnt/a/sub /home/clawbox/notes/sub; echo END')
	echo "$out" | grep -q "s3cr3t" && fail "a denied file shows beneath a mount: $out"
	echo "$out" | grep -q "deep.md" && fail "a denied dir shows beneath a mount: $out"
	echo "$out" | grep -q END || fail "$out"
	# A secrets file beneath a mount: its values by environment only.
	out=$($CLAWBOX run --project "$P" --net none --secrets "$S/.env" --mount "$S:/mnt/a" -- sh -c 'cat /mnt/a/.env; echo "[$TOKEN]"' 2>/dev/null)
	echo "$out" | grep -q "^TOKEN=" && fail "--secrets file readable beneath a mount: $out"
	echo "$out" | grep -q "^\[" || fail "$out"
	# A mount does not punch through --deny-read; nothing refused is recorded.
	rm -f "$(box_dir)/mounts"
	rc=0
	$CLAWBOX run --project "$P" --net none --deny-read "$C" --mount "$S/sub:/mnt/a" -- true 2>"$C/err" || rc=$?
	[ $rc -eq 125 ] && grep -q "is hidden from the box" "$C/err" || fail "deny-read punched ($rc): $(cat "$C/err")"
	[ ! -e "$(box_dir)/mounts" ] || fail "a refused mount was recorded"
	echo "$S" >"$(box_dir)/deny-read"
	rc=0
	$CLAWBOX run --project "$P" --net none --mount "$S:/mnt/a" -- true 2>"$C/err" || rc=$?
	[ $rc -eq 125 ] || fail "deny-read file punched ($rc)"
}

reset_keeps_home_unless_asked() {
	mkproj "$P"
	S="$C/src" && mksrc "$S"
	$CLAWBOX run --project "$P" --net none --mount "$S:/mnt/ov:overlay" -- sh -c '
		echo st > /home/clawbox/.agent-state; echo w > /mnt/ov/w; echo p > projfile'
	out=$($CLAWBOX reset --yes --project "$P")
	echo "$out" | grep -q "discarded 2 changes" && echo "$out" | grep -q "kept its home (/home/clawbox" ||
		fail "reset message: $out"
	out=$($CLAWBOX run --project "$P" --net none -- sh -c 'cat /home/clawbox/.agent-state; ls /mnt/ov; ls')
	echo "$out" | grep -qx st || fail "reset dropped the home: $out"
	echo "$out" | grep -q "^w$\|projfile" && fail "reset kept writes: $out"
	$CLAWBOX reset --help | grep -q -- "--home" || fail "help"
	out=$($CLAWBOX reset --yes --home --project "$P")
	echo "$out" | grep -q "cleared its home" || fail "reset --home message: $out"
	out=$($CLAWBOX run --project "$P" --net none -- sh -c 'ls -A /home/clawbox')
	[ -z "$out" ] || fail "reset --home left: $out"
	# Not while the box runs.
	$CLAWBOX run --project "$P" --net none -- sleep 3 &
	for _ in $(seq 100); do [ -s "$(box_dir)/lock" ] && break; sleep 0.05; done
	sleep 0.3
	rc=0
	$CLAWBOX reset --yes --home --project "$P" 2>/dev/null || rc=$?
	wait
	[ $rc -ne 0 ] || fail "reset --home of a running box"
	$CLAWBOX status --project "$P" >/dev/null
}

up_box_mounts() {
	mkproj "$P"
	S="$C/src" && mksrc "$S"
	trap '$CLAWBOX down --grace 0 --project "$P" >/dev/null 2>&1' EXIT
	$CLAWBOX up --project "$P" --net none --mount "$S:/mnt/a" --vault "$S:overlay"
	out=$($CLAWBOX exec --project "$P" -- sh -c 'cat /mnt/a/note.md; echo v > /mnt/obsidian/v; cat /mnt/obsidian/v')
	[ "$out" = "$(printf 'note\nv')" ] || fail "up: $out"
	rc=0
	$CLAWBOX run --project "$P" --mount "$S:/mnt/b" -- true 2>"$C/err" || rc=$?
	[ $rc -eq 125 ] && grep -q "apply to 'clawbox up' only" "$C/err" || fail "join with --mount ($rc)"
	$CLAWBOX down --project "$P" >/dev/null
	[ ! -e "$S/v" ] || fail "the host dir changed"
}

# As an ordinary user: the same, through the user namespace.
TUSER=clawbox-t
as_user() {
	runuser -u "$TUSER" -- env -i PATH=/usr/bin:/bin HOME="/home/$TUSER" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}" CLAWBOX_STATE_DIR="$U/state" bash -c "cd '$U' && $1"
}
user_mounts() {
	need_root
	need_userns
	id "$TUSER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TUSER" >/dev/null 2>&1 ||
		skip "cannot create a test user"
	U="$C/u" && mkdir -p "$U" && cp "$CLAWBOX" "$U/clawbox" && chmod 755 "$U" "$U/clawbox"
	chown "$TUSER": "$U"
	as_user "mkdir -p proj src/sub && echo note > src/note.md && echo s > src/.env"
	before=$(snapshot "$U/src")
	out=$(as_user "./clawbox run --project proj --net none --deny-read \$PWD/src/.env --mount src:/mnt/ro --mount src:/mnt/ov:overlay -- sh -c '
		cat /mnt/ro/note.md; touch /mnt/ro/x 2>/dev/null && echo WROTE
		mount -o remount,rw /mnt/ro 2>/dev/null && echo REMOUNTED
		echo w > /mnt/ov/w; echo h > /home/clawbox/h; cat /mnt/ov/.env /mnt/ro/.env; echo END'")
	[ "$out" = "$(printf 'note\nEND')" ] || fail "as a user: $out"
	[ "$(snapshot "$U/src")" = "$before" ] || fail "the host dir changed"
	as_user "./clawbox status --project proj" | grep -q "overlay (1 pending" || fail "status as a user"
	rc=0
	as_user "./clawbox run --project proj --net none --mount /home/$TUSER:/mnt/h -- true" 2>"$C/err" || rc=$?
	[ $rc -eq 125 ] || fail "the user's home mounted ($rc)"
	as_user "./clawbox reset --yes --project proj" | grep -q "kept its home" || fail "reset as a user"
	out=$(as_user "./clawbox run --project proj --net none -- sh -c 'ls /mnt/ov; cat /home/clawbox/h'")
	echo "$out" | grep -q "^w$" && fail "reset as a user kept the writes: $out"
	echo "$out" | grep -qx h || fail "reset as a user dropped the home: $out"
	as_user "./clawbox reset --yes --home --project proj" >/dev/null
	out=$(as_user "./clawbox run --project proj --net none -- ls -A /home/clawbox")
	[ -z "$out" ] || fail "reset --home as a user left: $out"
}

need_root
need_userns
case_run "a read-only mount is readable, not writable, not remountable" ro_mount_is_read_only
case_run "an overlay mount's writes are held in the box" overlay_writes_are_held
case_run "an overlay mount's writes come home through the gate" overlay_writes_come_home_through_the_gate
case_run "yolo mode brings an overlay mount's writes home" yolo_brings_mounts_home
case_run "every dangerous mount is refused before the box starts" refusals
case_run "--vault shows the vault at /mnt/obsidian, read-only by default" vault_at_mnt_obsidian
case_run "the mounts are recorded with the box and used by the next run" record_used_by_next_run
case_run "the masks apply beneath a mount" masks_apply_beneath_mounts
case_run "reset keeps the box home, reset --home clears it" reset_keeps_home_unless_asked
case_run "an up box gets its mounts; a joining run cannot change them" up_box_mounts
case_run "an ordinary user: ro, overlay, reset --home" user_mounts
