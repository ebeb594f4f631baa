#!/usr/bin/env bash
# clawbox sync: the plan (every kind of change), the checks, --auto, the
# policy file, conflicts, interactive mode, running boxes, bad input.
. "$(dirname "$0")/lib.sh"

box_dir() { echo "$CLAWBOX_STATE_DIR"/boxes/proj-*; }
SECRET='token = "ghp_R8mZk2Lq9XwT4vNp7YhC3sJd6FbG1aE5uKoV"'

# sync ARGS...: run clawbox sync on $P; stdout in $T_TMP/out, status in $rc.
sync_p() {
	set +e
	$CLAWBOX sync --project "$P" "$@" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	set -e
	cat "$T_TMP/out" "$T_TMP/err"
}

plan_lists_every_kind() {
	mkproj "$P"
	mkdir -p "$P/olddir" "$P/modedir"
	echo x >"$P/olddir/x"
	echo gone >"$P/gone"
	before=$(snapshot "$P")
	$CLAWBOX run --project "$P" -- sh -c 'echo added > new.txt; echo more >> README; rm gone;
		rm -rf olddir; mkdir olddir; echo y > olddir/y; ln -s README link; chmod 700 modedir'
	sync_p --dry-run --json
	[ $rc -eq 0 ] || fail "dry-run rc $rc"
	out=$(cat "$T_TMP/out")
	for want in '"path": "new.txt"' '"change": "added"' '"path": "README"' '"change": "modified"' \
		'"path": "gone"' '"change": "deleted"' '"path": "olddir"' '"change": "replaced"' \
		'"path": "olddir/y"' '"path": "link"' '"target": "README"' '"path": "modedir"' \
		'"change": "meta"' '"mode": "0700"' '"pending": 7'; do
		echo "$out" | grep -qF "$want" || fail "missing $want in: $out"
	done
	sync_p --dry-run
	grep -q "7 pending changes" "$T_TMP/out" || fail "text summary: $(cat "$T_TMP/out")"
	[ "$(snapshot "$P")" = "$before" ] || fail "a dry run changed the project"
	# --only narrows the plan (and keeps the dir a wanted file needs).
	sync_p --dry-run --json --only olddir/y
	grep -q '"pending": 2' "$T_TMP/out" || fail "--only: $(cat "$T_TMP/out")"
}

auto_applies_every_kind() {
	mkproj "$P"
	mkdir -p "$P/olddir" "$P/modedir"
	echo x >"$P/olddir/x"
	echo gone >"$P/gone"
	$CLAWBOX run --project "$P" -- sh -c 'echo added > new.txt; echo more >> README; rm gone;
		rm -rf olddir; mkdir olddir; echo y > olddir/y; ln -s README link; chmod 700 modedir;
		mkdir -p deep/er; echo d > deep/er/f; chmod 755 new.txt'
	sync_p --auto
	[ $rc -eq 0 ] || fail "auto rc $rc"
	[ "$(cat "$P/new.txt")" = added ] || fail "added file"
	[ "$(stat -c %a "$P/new.txt")" = 755 ] || fail "mode of new.txt"
	[ "$(cat "$P/README")" = "$(printf 'hello\nmore')" ] || fail "modified file"
	[ ! -e "$P/gone" ] || fail "deletion not applied"
	[ ! -e "$P/olddir/x" ] && [ "$(cat "$P/olddir/y")" = y ] || fail "replaced dir"
	[ "$(readlink "$P/link")" = README ] || fail "symlink"
	[ "$(stat -c %a "$P/modedir")" = 700 ] || fail "dir mode"
	[ "$(cat "$P/deep/er/f")" = d ] || fail "nested new dirs"
	ls -A "$P" | grep -q clawbox && fail "temp files left: $(ls -A "$P")"
	sync_p --dry-run --json
	grep -q '"pending": 0' "$T_TMP/out" || fail "still pending: $(cat "$T_TMP/out")"
	[ -z "$(ls -A "$(box_dir)/upper")" ] || fail "upper not pruned: $(ls -A "$(box_dir)/upper")"
	$CLAWBOX audit --project "$P" | grep -q 'sync.applied *path="olddir/y"' || fail "audit"
	$CLAWBOX audit verify --project "$P" >/dev/null
	out=$($CLAWBOX run --project "$P" -- cat olddir/y README)
	[ "$out" = "$(printf 'y\nhello\nmore')" ] || fail "box view after sync: $out"
}

checks_block_and_hold() {
	mkproj "$P"
	cat >"$T_TMP/s.sh" <<EOS
echo '$SECRET' > leak.py
echo 'A=1' > .env; echo k > server.key; echo p > cert.pem
mkdir -p .git/hooks; echo '#!/bin/sh' > .git/hooks/pre-commit
echo 'export X=1' > .envrc; mkdir -p .github/workflows; echo on: > .github/workflows/ci.yml
cp /bin/true tool; mkfifo pipe; ln -s ../../etc/passwd escape; ln -s /etc absolute
echo ok > fine.txt; echo s > suid; chmod 4755 suid
head -c 200000 /dev/zero | tr '\\0' a > big.txt
echo nope > denied.log; echo v > vendor.txt
EOS
	$CLAWBOX run --project "$P" -- sh "$T_TMP/s.sh" 2>&1 || $CLAWBOX run --project "$P" -- sh -c "$(cat "$T_TMP/s.sh")"
	printf '[sync]\nmax_size = "100K"\ndeny = ["*.log"]\n' >"$(box_dir)/config.toml"
	sync_p --dry-run --json
	out=$(cat "$T_TMP/out")
	for want in github-token credential-file path-approval executable special-file \
		symlink-escape setuid size-limit path-deny; do
		echo "$out" | grep -q "\"rule\": \"$want\"" || fail "no $want finding: $out"
	done
	echo "$out" | grep -q '"line": 1' || fail "secret finding without line"
	sync_p --auto
	[ $rc -eq 1 ] || fail "auto with blocked changes: rc $rc"
	[ "$(cat "$P/fine.txt")" = ok ] || fail "clean file not applied"
	[ "$(stat -c %a "$P/suid")" = 755 ] || fail "setuid carried: $(stat -c %a "$P/suid")"
	for f in leak.py .env server.key cert.pem .git/hooks .envrc .github/workflows tool pipe escape absolute \
		big.txt denied.log; do
		[ ! -e "$P/$f" ] && [ ! -L "$P/$f" ] || fail "$f reached the host"
	done
	grep -q "leak.py" "$T_TMP/out" || fail "blocked not listed: $(cat "$T_TMP/out")"
	$CLAWBOX audit --project "$P" | grep -q 'sync.blocked *path="leak.py"' || fail "audit blocked"
	# Still pending, every check again.
	sync_p --dry-run --json
	grep -q '"path": "leak.py"' "$T_TMP/out" || fail "blocked file no longer pending"
	# Approval by glob applies the others, never the blocked ones nor git data.
	sync_p --auto --approve '.git/**' --approve '.envrc' --approve tool
	[ -f "$P/.envrc" ] && [ -x "$P/tool" ] || fail "approved files not applied"
	[ ! -e "$P/.git" ] || fail "git data applied with --approve"
	[ ! -e "$P/leak.py" ] || fail "blocked file applied with --approve"
	# An allow list leaves the rest pending.
	printf '[sync]\nallow = ["src/**"]\n' >"$(box_dir)/config.toml"
	sync_p --dry-run --json
	grep -q path-not-allowed "$T_TMP/out" || fail "allow list"
}

policy_errors_name_the_line() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- true
	printf '[sync]\nmax_size = "10M"\nbogus = 1\n' >"$(box_dir)/config.toml"
	sync_p --dry-run
	[ $rc -eq 1 ] && grep -q "config.toml:3: unknown key 'sync.bogus'" "$T_TMP/err" ||
		fail "rc $rc: $(cat "$T_TMP/err")"
	printf '[sync]\ndeny = ["a/**b"]\n' >"$(box_dir)/config.toml"
	sync_p --dry-run
	grep -q "config.toml:2: .*'\*\*' must be a whole path component" "$T_TMP/err" ||
		fail "$(cat "$T_TMP/err")"
}

conflicts_are_never_overwritten() {
	mkproj "$P"
	echo v1 >"$P/shared.txt"
	echo del >"$P/del.txt"
	$CLAWBOX run --project "$P" -- sh -c 'echo box >> shared.txt; rm del.txt; echo b > both.txt'
	sleep 0.01
	echo host >>"$P/shared.txt"
	echo hostdel >>"$P/del.txt"
	echo h >"$P/both.txt"
	sync_p --auto --json
	[ $rc -eq 1 ] || fail "rc $rc"
	grep -q '"verdict": "conflict"' "$T_TMP/out" || fail "no conflict: $(cat "$T_TMP/out")"
	[ "$(cat "$P/shared.txt")" = "$(printf 'v1\nhost')" ] || fail "host change overwritten"
	[ -f "$P/del.txt" ] && [ "$(cat "$P/both.txt")" = h ] || fail "conflicting delete/add applied"
	$CLAWBOX audit --project "$P" | grep -q 'sync.conflict *path="shared.txt"' || fail "audit"
}

interactive_asks_before_anything() {
	command -v script >/dev/null || skip "script(1) missing"
	mkproj "$P"
	echo v1 >"$P/c1"
	echo v1 >"$P/c2"
	echo v1 >"$P/c3"
	$CLAWBOX run --project "$P" -- sh -c 'echo one > a.txt; echo two > b.txt; echo box >> c1;
		echo box >> c2; echo box >> c3'
	sleep 0.01
	for f in c1 c2 c3; do echo host >>"$P/$f"; done
	before=$(snapshot "$P")
	# No terminal: refuses, applies nothing.
	sync_p
	[ $rc -eq 1 ] && grep -q "no terminal" "$T_TMP/err" || fail "without a tty: $rc"
	# Quit: nothing applied.
	printf 'q\n' | script -qec "$CLAWBOX sync --project $P" /dev/null >"$T_TMP/tty" 2>&1 || true
	grep -q "nothing applied" "$T_TMP/tty" || fail "quit: $(cat "$T_TMP/tty")"
	[ "$(snapshot "$P")" = "$before" ] || fail "quit changed the project"
	# End of input without an answer: nothing applied.
	script -qec "$CLAWBOX sync --project $P" /dev/null </dev/null >"$T_TMP/tty" 2>&1 || true
	[ "$(snapshot "$P")" = "$before" ] || fail "no answer changed the project"
	# Per file: diff, yes, no; conflicts: keep host, take box, beside.
	printf 'c\nd\ny\nn\nk\nt\nb\n' | script -qec "$CLAWBOX sync --project $P" /dev/null \
		>"$T_TMP/tty" 2>&1 || true
	grep -q '^+one' "$T_TMP/tty" || fail "no diff shown: $(cat "$T_TMP/tty")"
	[ "$(cat "$P/a.txt")" = one ] || fail "a.txt (yes) not applied: $(cat "$T_TMP/tty")"
	[ ! -e "$P/b.txt" ] || fail "b.txt (no) applied"
	[ "$(cat "$P/c1")" = "$(printf 'v1\nhost')" ] || fail "c1 keep host"
	[ "$(cat "$P/c2")" = "$(printf 'v1\nbox')" ] || fail "c2 take box"
	[ "$(cat "$P/c3")" = "$(printf 'v1\nhost')" ] && [ "$(cat "$P/c3.from-box")" = "$(printf 'v1\nbox')" ] ||
		fail "c3 beside"
	sync_p --dry-run --json
	grep -q '"pending": 1' "$T_TMP/out" || fail "only b.txt should be pending: $(cat "$T_TMP/out")"
	$CLAWBOX audit --project "$P" | grep -q 'sync.kept *path="c1"' || fail "audit keep"
}

sync_while_running_keeps_the_view() {
	mkproj "$P"
	mkfifo "$C/go"
	$CLAWBOX run --project "$P" -- sh -c 'echo v1 > w.txt; read x; cat w.txt; echo v2 > w.txt' \
		<"$C/go" >"$T_TMP/box.out" 2>&1 &
	exec 7>"$C/go"
	for _ in $(seq 100); do [ -e "$(box_dir)/upper/w.txt" ] && break; sleep 0.05; done
	sync_p --auto
	[ $rc -eq 0 ] && [ "$(cat "$P/w.txt")" = v1 ] || fail "sync of a running box: $rc"
	sync_p --dry-run --json
	grep -q '"pending": 0' "$T_TMP/out" || fail "applied entry still pending: $(cat "$T_TMP/out")"
	echo go >&7
	exec 7>&-
	wait
	grep -q v1 "$T_TMP/box.out" || fail "box view: $(cat "$T_TMP/box.out")"
	sync_p --auto
	[ "$(cat "$P/w.txt")" = v2 ] || fail "later change not applied: $(cat "$P/w.txt")"
}

restart_sees_the_host_after_a_live_sync() {
	mkproj "$P"
	mkfifo "$C/go"
	$CLAWBOX run --project "$P" -- sh -c 'echo v1 > w.txt; read x' <"$C/go" >/dev/null 2>&1 &
	exec 7>"$C/go"
	for _ in $(seq 100); do [ -e "$(box_dir)/upper/w.txt" ] && break; sleep 0.05; done
	sync_p --auto
	[ "$(cat "$P/w.txt")" = v1 ] || fail "not applied"
	echo go >&7
	exec 7>&-
	wait
	[ -e "$(box_dir)/upper/w.txt" ] || fail "upper changed while the box ran"
	echo host >"$P/w.txt"
	out=$($CLAWBOX run --project "$P" -- cat w.txt)
	[ "$out" = host ] || fail "the restarted box sees a stale copy: $out"
	[ ! -e "$(box_dir)/upper/w.txt" ] || fail "synced entry not pruned at start"
}

status_and_reset() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- sh -c 'echo a > a; echo x > k.pem'
	sync_p --status
	grep -q "pending:  2 (1 pass, 0 need approval, 1 blocked" "$T_TMP/out" || fail "$(cat "$T_TMP/out")"
	before=$(snapshot "$P")
	sync_p --reset </dev/null
	[ $rc -eq 1 ] || fail "reset without --yes"
	sync_p --reset --yes
	[ $rc -eq 0 ] && [ -z "$(ls -A "$(box_dir)/upper")" ] || fail "reset: $rc"
	[ "$(snapshot "$P")" = "$before" ] || fail "reset touched the project"
}

hostile_names() {
	mkproj "$P"
	long=$(printf 'L%.0s' $(seq 250))
	$CLAWBOX run --project "$P" -- sh -c "printf x > \"\$(printf 'new\nline')\"; printf y > \"\$(printf 'bad\377utf')\";
		printf z > $long.txt; printf e > \"\$(printf 'esc\033[31m')\""
	sync_p --dry-run --json
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T_TMP/out" || fail "invalid JSON"
	grep -q 'new\\\\x0aline' "$T_TMP/out" || fail "newline not escaped: $(cat "$T_TMP/out")"
	grep -q name-encoding "$T_TMP/out" && grep -q name-control "$T_TMP/out" || fail "names not blocked"
	sync_p --dry-run
	grep -q "$(printf '\033')" "$T_TMP/out" && fail "escape sequence printed raw"
	sync_p --auto
	[ $rc -eq 1 ] && [ "$(cat "$P/$long.txt")" = z ] || fail "long name: rc $rc"
	[ "$(ls "$P" | wc -l)" -eq 3 ] || fail "hostile names reached the host: $(ls "$P")"
}

project_replaced_by_symlink() {
	mkproj "$P"
	$CLAWBOX run --project "$P" -- sh -c 'echo a > a'
	name=$(basename "$(box_dir)")
	mkdir "$C/elsewhere"
	mv "$P" "$C/real"
	ln -s "$C/elsewhere" "$P"
	set +e
	$CLAWBOX sync --box "$name" --auto >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
	set -e
	[ $rc -eq 1 ] && grep -q "symlink" "$T_TMP/err" || fail "rc $rc: $(cat "$T_TMP/err")"
	[ -z "$(ls -A "$C/elsewhere")" ] || fail "wrote through the symlink"
	rm "$P"
	set +e
	$CLAWBOX sync --box "$name" --auto >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
	set -e
	[ $rc -eq 1 ] && grep -q "no longer exists" "$T_TMP/err" || fail "deleted project: $(cat "$T_TMP/err")"
}

host_symlink_in_tree() {
	mkproj "$P"
	mkdir "$P/d"
	$CLAWBOX run --project "$P" -- sh -c 'echo a > d/a'
	mkdir "$C/outside"
	rm -rf "$P/d"
	ln -s "$C/outside" "$P/d"
	sync_p --auto
	[ $rc -eq 1 ] || fail "rc $rc"
	[ -z "$(ls -A "$C/outside")" ] || fail "wrote outside the project through a host symlink"
}

yolo_applies_within_interval() {
	mkproj "$P"
	$CLAWBOX run --mode yolo --project "$P" -- true
	printf '[sync]\nauto_interval = 1\n' >"$(box_dir)/config.toml"
	mkfifo "$C/go"
	$CLAWBOX run --project "$P" -- sh -c 'echo clean > c.txt; echo "'"$SECRET"'" > s.py; read x' \
		<"$C/go" >/dev/null 2>&1 &
	exec 7>"$C/go"
	ok=0
	for _ in $(seq 50); do [ -f "$P/c.txt" ] && { ok=1; break; }; sleep 0.1; done
	[ $ok = 1 ] || fail "clean file not applied within the interval: $(cat "$(box_dir)/sync.log")"
	[ ! -e "$P/s.py" ] || fail "secret reached the host"
	echo stop >&7
	exec 7>&-
	wait
	[ ! -e "$P/s.py" ] || fail "secret reached the host"
	[ "$($CLAWBOX audit --project "$P" | grep -c 'sync.blocked *path="s.py"')" -ge 1 ] || fail "not logged"
	sync_p --dry-run --json
	grep -q '"path": "s.py"' "$T_TMP/out" || fail "blocked file not pending"
}

case_run "plan lists every kind of change; dry run changes nothing" plan_lists_every_kind
case_run "--auto applies every kind of change, prunes, audits" auto_applies_every_kind
case_run "checks block or hold; --approve; allow list" checks_block_and_hold
case_run "policy file errors name the line" policy_errors_name_the_line
case_run "conflicts are never overwritten" conflicts_are_never_overwritten
case_run "interactive: nothing without an answer; per file; conflicts" interactive_asks_before_anything
case_run "sync while the box runs: baseline, consistent view" sync_while_running_keeps_the_view
case_run "a restarted box sees the host after a live sync" restart_sees_the_host_after_a_live_sync
case_run "--status and --reset" status_and_reset
case_run "hostile file names are blocked and escaped" hostile_names
case_run "project replaced by a symlink or deleted" project_replaced_by_symlink
case_run "a host symlink in the tree never redirects a write" host_symlink_in_tree
case_run "yolo mode applies within its interval and holds a blocked file" yolo_applies_within_interval

known_secrets_blocked() {
	mkproj "$P"
	printf 'kx-9f8e7d6c5b4a3928' | $CLAWBOX secrets set --project "$P" DEPLOY_TOKEN >/dev/null
	$CLAWBOX run --net none --project "$P" -- sh -c '
		printf "t=%s\n" "$(printf kx-9f8e7d6c5b4a3928 | base64)" > encoded.txt
		echo "kx-9f8e7d6c5b4a3928" > raw.txt
		echo plain > plain.txt'
	set +e
	out=$($CLAWBOX sync --project "$P" --auto 2>&1)
	rc=$?
	set -e
	[ $rc -eq 1 ] || fail "sync --auto exit $rc: $out"
	echo "$out" | grep -q "known-secret:DEPLOY_TOKEN" || fail "no known-secret finding: $out"
	echo "$out" | grep -q "kx-9f8e7d6c5b4a3928" && fail "the value was printed: $out"
	[ -f "$P/plain.txt" ] || fail "the clean file was not applied"
	[ ! -e "$P/raw.txt" ] && [ ! -e "$P/encoded.txt" ] || fail "a file with the secret reached the host"
}

case_run "the box's stored secrets are blocked, raw and encoded" known_secrets_blocked

# ---- issue 10: git data, execute-on-host files, links, deletions, odd trees ----

# mkrepo DIR: a project that is a git repository with one commit.
mkrepo() {
	command -v git >/dev/null || skip "git missing"
	mkproj "$1"
	git -C "$1" init -q
	git -C "$1" add -A
	git -C "$1" -c user.email=t@t -c user.name=t commit -qm init
}

# The fsmonitor (and pager) command every attempt below plants: it leaves
# $C/ran.NAME behind when the host's git runs it.
plant() { # DIR NAME: a config in DIR whose commands mark NAME
	mkdir -p "$1"
	printf '[core]\n\tfsmonitor = "touch %s/ran.%s; false"\n\tpager = "touch %s/ran.%s; cat"\n' \
		"$C" "$2" "$C" "$2" >"$1/config"
}

git_data_never_applied_as_files() {
	mkrepo "$P"
	git -C "$P" init -q vendor/lib
	# The box's attempts, each one a way for git on the host to run the
	# box's command (or to lose the host's history).
	cat >"$T_TMP/box.sh" <<EOS
set -e
C=$C
$(declare -f plant)
# 1. .git/commondir naming a dir the box fills (objects/ and refs/ make it valid)
echo ../common > .git/commondir; mkdir -p common/objects common/refs; plant common commondir
# 2. a nested repository's config
plant vendor/lib/.git nested
# 3. a bare-looking repository anywhere
mkdir -p evil/objects evil/refs; echo 'ref: refs/heads/main' > evil/HEAD; plant evil bare
# 4. a letter-case variant, NTFS and HFS+ spellings
plant .GIT upper; plant "sub/.git." ntfs; plant "\$(printf 'sub/.g\342\200\214it')" hfs
# 5. a gitfile pointing at a dir the box fills, relative and absolute
mkdir -p gf; echo 'gitdir: ../gd' > gf/.git
mkdir -p gd/objects gd/refs; echo 'ref: refs/heads/main' > gd/HEAD; plant gd gitfile
mkdir -p gf2; echo "gitdir: $P/gd2" > gf2/.git; mkdir -p gd2; plant gd2 gitfile-abs
# 6. a symlink named .git
mkdir -p sl; ln -s ../gd sl/.git
# 7. a bare repository spelled in other letter cases (a case-insensitive host)
mkdir -p ci/Objects ci/REFS; echo 'ref: refs/heads/main' > ci/head; plant ci nocase
echo fine > fine.txt
EOS
	$CLAWBOX run --project "$P" -- sh -c "$(cat "$T_TMP/box.sh")"
	sync_p --dry-run
	[ $rc -eq 0 ] || fail "dry-run rc $rc"
	grep -q "git data beneath .git: 1 entry, not applied as files" "$T_TMP/out" ||
		fail "no summary line: $(cat "$T_TMP/out")"
	for d in common vendor/lib/.git evil .GIT gd gd2 gf/.git sl/.git ci; do
		grep -q "git data beneath $d: " "$T_TMP/out" || fail "no line for $d: $(cat "$T_TMP/out")"
	done
	grep -q "evil/objects" "$T_TMP/out" && fail "object files listed one by one"
	sync_p --dry-run --json
	python3 - "$T_TMP/out" <<'PY' || fail "json (above)"
import json, sys
j = json.load(open(sys.argv[1]))
v = {c["path"]: c["verdict"] for c in j["changes"]}
assert v[".git/commondir"] == "git-data" and v["common/config"] == "git-data", v
assert v["fine.txt"] == "apply", v
assert j["summary"]["git_data"] >= 10 and j["summary"]["pending"] == 5, j["summary"]  # fine.txt gf/ gf2/ sl/ sub/
assert all(f["rule"] == "git-data" for c in j["changes"] if c["verdict"] == "git-data" for f in c["findings"])
PY
	sync_p --auto --approve '**'
	[ $rc -eq 0 ] || fail "git data made --auto fail: rc $rc $(cat "$T_TMP/out")"
	[ "$(cat "$P/fine.txt")" = fine ] || fail "the clean file was not applied"
	grep -q fsmonitor "$P/vendor/lib/.git/config" && fail "the nested repo's config was applied"
	for f in .git/commondir common evil ci .GIT gd gd2 gf/.git gf2/.git sl/.git \
		"sub/.git."; do
		[ ! -e "$P/$f" ] && [ ! -L "$P/$f" ] || fail "$f reached the host"
	done
	git -C "$P" status >/dev/null 2>&1 || true
	git -C "$P/vendor/lib" status >/dev/null 2>&1 || true
	for d in evil gf gf2 gd; do [ -d "$P/$d" ] && git -C "$P/$d" -p status >/dev/null 2>&1 || true; done
	ls "$C"/ran.* 2>/dev/null && fail "the host's git ran the box's command"
	true
}

git_dir_deletion_never_applied() {
	mkrepo "$P"
	git -C "$P" init -q vendor/lib
	mkdir -p "$P/bare/objects" "$P/bare/refs"
	echo 'ref: refs/heads/main' >"$P/bare/HEAD"
	$CLAWBOX run --project "$P" -- sh -c 'rm -rf .git vendor bare/HEAD; rm -f README'
	sync_p --auto --approve '**'
	[ $rc -eq 0 ] || fail "rc $rc: $(cat "$T_TMP/out")"
	[ ! -e "$P/README" ] || fail "the clean deletion was not applied"
	[ -d "$P/.git" ] && git -C "$P" log -1 >/dev/null || fail "the host's .git was deleted"
	[ -d "$P/vendor/lib/.git" ] || fail "a dir holding a nested .git was deleted"
	[ -f "$P/bare/HEAD" ] || fail "a bare repository's HEAD was deleted"
	grep -q "git data beneath vendor/lib/.git: 1 entry" "$T_TMP/out" || fail "$(cat "$T_TMP/out")"
}

case_run "git data: nothing beneath any git directory is applied as files" git_data_never_applied_as_files
case_run "git data: deleting a git directory (or a dir holding one) is never applied" git_dir_deletion_never_applied

exec_on_host_files_need_approval() {
	mkproj "$P"
	# A policy with its own approve list: the built-in list still applies.
	$CLAWBOX run --project "$P" -- sh -c '
		mkdir -p .devcontainer .husky .github/Workflows .github/actions/a .gitlab .circleci \
			venv/bin venv/lib/site-packages sub/deep .vscode
		echo "{\"initializeCommand\": \"id\"}" > .devcontainer/devcontainer.json
		echo "{}" > x.code-workspace; echo "npx x" > .husky/pre-commit
		echo "repos: []" > .pre-commit-config.yaml; echo "on: push" > .github/Workflows/ci.yml
		echo "runs: x" > .github/actions/a/action.yml; echo "x:" > .gitlab-ci.yml
		echo "x:" > .circleci/config.yml; echo node > Jenkinsfile
		echo "import os" > venv/lib/site-packages/evil.pth; echo "PS1=x" > venv/bin/activate
		echo "home = /tmp" > venv/pyvenv.cfg; echo "[tools]" > .mise.toml
		echo "nodejs 20" > .tool-versions; echo "script-shell=/tmp/x" > .npmrc
		echo "script-shell=/tmp/x" > sub/deep/.npmrc; echo "yarnPath: x.js" > .yarnrc.yml
		echo "*.c filter=x" > .gitattributes; echo "{}" > .vscode/tasks.json
		echo "../../x" > .python-version; echo "export X=1" > sub/.envrc
		echo plain > plain.txt; echo "all:" > Makefile; echo "root = true" > .editorconfig
		echo w > world.txt; chmod 666 world.txt; mkdir wdir; chmod 777 wdir'
	printf '[sync]\napprove = ["Makefile"]\n' >"$(box_dir)/config.toml"
	sync_p --dry-run --json
	python3 - "$T_TMP/out" <<'PY' || fail "json (above)"
import json, sys
j = json.load(open(sys.argv[1]))
v = {c["path"]: c for c in j["changes"]}
need = """.devcontainer/devcontainer.json x.code-workspace .husky/pre-commit .pre-commit-config.yaml
.github/Workflows/ci.yml .github/actions/a/action.yml .gitlab-ci.yml .circleci/config.yml Jenkinsfile
venv/lib/site-packages/evil.pth venv/bin/activate venv/pyvenv.cfg .mise.toml .tool-versions .npmrc
sub/deep/.npmrc .yarnrc.yml .gitattributes .vscode/tasks.json .python-version sub/.envrc Makefile""".split()
for p in need:
    assert v[p]["verdict"] == "needs-approval", (p, v[p])
    assert any(f["rule"] == "path-approval" and len(f["reason"]) > 20 for f in v[p]["findings"]), v[p]
for p in ["plain.txt", ".editorconfig"]:
    assert v[p]["verdict"] == "apply", (p, v[p])
assert v["world.txt"]["mode"] == "0664" and any(f["rule"] == "world-writable" for f in v["world.txt"]["findings"]), v["world.txt"]
assert v["wdir"]["mode"] == "0775", v["wdir"]
PY
	sync_p --auto
	[ $rc -eq 1 ] || fail "rc $rc"
	[ -f "$P/plain.txt" ] && [ -f "$P/.editorconfig" ] || fail "plain files not applied"
	for f in .devcontainer .husky/pre-commit x.code-workspace .github/Workflows/ci.yml .npmrc sub/deep/.npmrc \
		venv/lib/site-packages/evil.pth .python-version Makefile; do
		[ ! -e "$P/$f" ] || fail "$f applied without approval"
	done
	[ "$(stat -c %a "$P/world.txt")" = 664 ] && [ "$(stat -c %a "$P/wdir")" = 775 ] ||
		fail "world-writable bits carried home: $(stat -c %a "$P/world.txt" "$P/wdir")"
}

# link NAME TARGET (in the box, relative to the project)
links_judged_where_they_resolve() {
	mkproj "$P"
	mkdir -p "$P/hd" "$P/r/s" "$C/outside"
	ln -s .. "$P/hd/up"  # the user's own link, inside (the project root)
	$CLAWBOX run --project "$P" -- sh -c '
		mkdir -p d; ln -s .. d/up
		ln -s d/up/d/up/../../../outside esc        # the issue: passes a lexical check
		ln -s d/up/../x through-pending             # through a pending link
		ln -s hd/up/../outside through-host         # through a host link
		rm -rf r; ln -s . r; ln -s r/../outside through-replaced  # a dir the box makes a link
		ln -s l2 l1; ln -s l1 l2                    # a loop
		ln -s /etc absolute
		ln -s "$(printf "a\tb")" tab; ln -s "$(printf "a\033[31m")" ansi; ln -s "$(printf "a\377")" bad-utf8
		ln -s src/main.c ok; ln -s ../src okdir-up; mkdir -p m; ln -s ../src m/ok2'
	sync_p --dry-run --json
	python3 - "$T_TMP/out" <<'PY' || fail "json (above)"
import json, sys
j = json.load(open(sys.argv[1]))
v = {c["path"]: c for c in j["changes"]}
for p, rule in [("esc", "symlink-escape"), ("through-pending", "symlink-escape"),
                ("through-host", "symlink-escape"), ("through-replaced", "symlink-escape"),
                ("l1", "symlink-escape"), ("l2", "symlink-escape"), ("absolute", "symlink-escape"),
                ("tab", "name-control"), ("ansi", "name-control"), ("bad-utf8", "name-encoding")]:
    assert v[p]["verdict"] == "blocked" and any(f["rule"] == rule for f in v[p]["findings"]), (p, v[p])
assert v["ok"]["verdict"] == "apply", v["ok"]
# Inside, but to a directory above the link: "LINK/.." climbs higher than
# its text says, so a host link through it could leave the project.
for p in ["m/ok2", "d/up"]:
    assert v[p]["verdict"] == "needs-approval" and any(f["rule"] == "symlink-up" for f in v[p]["findings"]), (p, v[p])
assert v["okdir-up"]["verdict"] == "blocked", v["okdir-up"]
PY
	sync_p --auto
	[ -L "$P/ok" ] && [ ! -L "$P/d/up" ] && [ ! -L "$P/m/ok2" ] || fail "inside links: $(cat "$T_TMP/out")"
	sync_p --auto --approve d/up --approve m/ok2
	[ -L "$P/d/up" ] && [ -L "$P/m/ok2" ] || fail "approved links not applied"
	for f in esc through-pending through-host through-replaced l1 absolute tab; do
		[ ! -L "$P/$f" ] || fail "$f applied"
	done
	# The link applied first is judged on the host the next time.
	$CLAWBOX run --project "$P" -- sh -c 'ln -s d/up/../outside later'
	sync_p --dry-run --json
	grep -q '"path": "later"' "$T_TMP/out" && grep -q symlink-escape "$T_TMP/out" || fail "later: $(cat "$T_TMP/out")"
	# A link applied when it was inside; later the box turns the dir it
	# passes through into a link to the root: the host's link would then
	# resolve outside. The new link needs approval.
	mkdir -p "$P/dd"
	$CLAWBOX run --project "$P" -- sh -c 'rm -f later; ln -s dd/../../outside dd-esc; ln -s dd/../x via-dd'
	sync_p --auto
	[ -L "$P/via-dd" ] && [ ! -L "$P/dd-esc" ] || fail "via-dd: $(cat "$T_TMP/out")"
	$CLAWBOX run --project "$P" -- sh -c 'rm -rf dd; ln -s . dd'
	sync_p --dry-run --json
	python3 - "$T_TMP/out" <<'PY' || fail "dd (above)"
import json, sys
v = {c["path"]: c for c in json.load(open(sys.argv[1]))["changes"]}
assert v["dd"]["verdict"] == "needs-approval", v["dd"]
assert any(f["rule"] == "symlink-up" for f in v["dd"]["findings"]), v["dd"]
PY
	sync_p --auto
	[ -d "$P/dd" ] && [ ! -L "$P/dd" ] || fail "dd -> . applied without approval"
	[ "$(readlink -f "$P/via-dd")" = "$(readlink -f "$P")/x" ] || fail "via-dd resolves to $(readlink -f "$P/via-dd")"
}

case_run "execute-on-host files need approval at any depth and case; o+w is not carried" exec_on_host_files_need_approval
case_run "links are judged where they resolve (host and after the apply), targets as names" links_judged_where_they_resolve

deletions_never_remove_what_the_box_did_not_see() {
	mkproj "$P"
	mkdir -p "$P/src/old" "$P/src/sub" "$P/gone/sub" "$P/.github/workflows" "$P/ci2/.github/workflows" "$P/logs" "$P/mod"
	echo x >"$P/src/old/a.c"
	echo y >"$P/gone/sub/b"
	echo "on: push" >"$P/.github/workflows/x.yml"
	echo "on: push" >"$P/ci2/.github/workflows/x.yml"
	echo l >"$P/logs/app.log"
	echo m >"$P/mod/keep.txt"
	$CLAWBOX run --project "$P" -- sh -c 'rm -rf src gone .github logs mod; rm -rf ci2; echo f > ci2'
	sleep 0.01
	# The user adds and changes files beneath what the box deleted (the
	# deleted dirs themselves do not change).
	echo new >"$P/src/sub/new.c"
	echo changed >>"$P/mod/keep.txt"
	printf '[sync]\ndeny = ["*.log"]\n' >"$(box_dir)/config.toml"
	sync_p --dry-run --json
	python3 - "$T_TMP/out" <<'PY' || fail "json (above)"
import json, sys
j = json.load(open(sys.argv[1]))
v = {c["path"]: c for c in j["changes"]}
rules = lambda p: {f["rule"] for f in v[p]["findings"]}
assert v["src"]["verdict"] == "conflict" and "conflict" in rules("src"), v["src"]
assert v["mod"]["verdict"] == "conflict", v["mod"]
assert v["gone"]["verdict"] == "apply", v["gone"]
assert v[".github"]["verdict"] == "needs-approval" and "path-approval" in rules(".github"), v[".github"]
assert v["ci2"]["verdict"] == "needs-approval", v["ci2"]
assert v["logs"]["verdict"] == "blocked" and "path-deny" in rules("logs"), v["logs"]
PY
	sync_p --auto
	[ $rc -eq 1 ] || fail "rc $rc"
	[ "$(cat "$P/src/sub/new.c")" = new ] || fail "the user's new file was deleted"
	[ -f "$P/mod/keep.txt" ] || fail "the user's changed file was deleted"
	[ ! -e "$P/gone" ] || fail "the clean deletion was not applied"
	[ -f "$P/.github/workflows/x.yml" ] && [ -d "$P/ci2/.github" ] || fail "approval-only deletion applied"
	[ -f "$P/logs/app.log" ] || fail "a dir holding a denied path was deleted"
	# With approval the whole .github goes (and the dir replaced by a file).
	sync_p --auto --approve .github --approve ci2
	[ ! -e "$P/.github" ] && [ "$(cat "$P/ci2")" = f ] || fail "approved deletions: $(cat "$T_TMP/out")"
}

tree_delete_rechecked_at_apply() {
	command -v script >/dev/null || skip "script(1) missing"
	mkproj "$P"
	mkdir -p "$P/src/sub"
	echo x >"$P/src/sub/x.c"
	$CLAWBOX run --project "$P" -- sh -c 'rm -rf src'
	mkfifo "$C/in"
	script -qec "$CLAWBOX sync --project $P" /dev/null <"$C/in" >"$T_TMP/tty" 2>&1 &
	spid=$!
	exec 8>"$C/in"
	for _ in $(seq 200); do grep -q "pply all that pass" "$T_TMP/tty" && break; sleep 0.05; done
	grep -q "pply all that pass" "$T_TMP/tty" || fail "no prompt: $(cat "$T_TMP/tty")"
	# Between the plan and the answer, the user adds a file beneath it.
	echo late >"$P/src/sub/late.c"
	echo a >&8
	exec 8>&-
	wait $spid || true
	[ "$(cat "$P/src/sub/late.c")" = late ] && [ -f "$P/src/sub/x.c" ] ||
		fail "deleted what appeared after the plan: $(cat "$T_TMP/tty")"
	ls -A "$P" | grep -q '^\.clawbox-' && fail "trash left: $(ls -A "$P")"
	grep -q "1 pending" "$T_TMP/tty" && grep -q "changed on the host after the plan" "$T_TMP/tty" ||
		fail "not reported as pending: $(cat "$T_TMP/tty")"
}

# A path of more than PATH_MAX bytes in the upper dir (made by cd chains).
deep_upper() {
	local u=$1 name
	name=$(printf 'x%.0s' $(seq 200))
	(cd "$u" && mkdir deep && cd deep && for _ in $(seq 22); do mkdir "$name" && cd "$name"; done &&
		echo deep >f)
}

odd_trees_hold_one_entry() {
	mkproj "$P"
	mkdir -p "$P/a/b" "$P/c"
	echo old >"$P/c/f"
	$CLAWBOX run --project "$P" -- sh -c 'echo new > a/b/n.txt; echo box > c/f; echo t > top.txt'
	deep_upper "$(box_dir)/upper"
	# The host: a dir replaced by a file, a file by a dir, beneath pending changes.
	rm -rf "$P/a/b"
	echo file >"$P/a/b"
	rm -f "$P/c/f"
	mkdir "$P/c/f"
	echo u >"$P/c/f/user.txt"
	for mode in --status --dry-run --auto; do
		sync_p $mode
		[ $mode = --auto ] && { [ $rc -eq 1 ] || fail "$mode: rc $rc"; } ||
			{ [ $rc -eq 0 ] || fail "$mode: rc $rc: $(cat "$T_TMP/err")"; }
		grep -qi "cannot\|too long" "$T_TMP/err" && fail "$mode: $(cat "$T_TMP/err")"
	done
	[ "$(cat "$P/top.txt")" = t ] || fail "the other entries were not applied"
	[ "$(cat "$P/a/b")" = file ] && [ "$(cat "$P/c/f/user.txt")" = u ] || fail "host entries lost"
	[ -z "$(find "$P" -name f -type f)" ] || fail "the deep file was applied"
	sync_p --dry-run --json
	grep -q '"rule": "path-too-long"' "$T_TMP/out" || fail "no path-too-long finding: $(cat "$T_TMP/out")"
}

apply_holds_an_entry_whose_dir_became_a_file() {
	command -v script >/dev/null || skip "script(1) missing"
	mkproj "$P"
	mkdir -p "$P/a/b"
	$CLAWBOX run --project "$P" -- sh -c 'echo new > a/b/n.txt; echo t > top.txt'
	mkfifo "$C/in"
	script -qec "$CLAWBOX sync --project $P" /dev/null <"$C/in" >"$T_TMP/tty" 2>&1 &
	spid=$!
	exec 8>"$C/in"
	for _ in $(seq 200); do grep -q "pply all that pass" "$T_TMP/tty" && break; sleep 0.05; done
	rm -rf "$P/a/b"
	echo file >"$P/a/b"
	echo a >&8
	exec 8>&-
	wait $spid || true
	[ "$(cat "$P/top.txt")" = t ] || fail "the rest was not applied: $(cat "$T_TMP/tty")"
	[ "$(cat "$P/a/b")" = file ] || fail "the host file was replaced"
	[ ! -e "$(box_dir)/sync/journal" ] || fail "the apply stopped with its journal: $(cat "$T_TMP/tty")"
	sync_p --dry-run
	[ $rc -eq 0 ] || fail "the next sync fails: $(cat "$T_TMP/err")"
}

case_run "deletions: approval, deny and conflicts beneath a deleted or replaced dir" deletions_never_remove_what_the_box_did_not_see
case_run "a tree delete is checked again at the apply" tree_delete_rechecked_at_apply
case_run "odd trees (file<->dir beneath a change, > PATH_MAX) hold one entry" odd_trees_hold_one_entry
case_run "an entry whose dir became a file after the plan is held, the rest applied" apply_holds_an_entry_whose_dir_became_a_file
