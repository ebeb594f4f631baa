#!/usr/bin/env bash
# clawbox sync, the git part: the box's commits, branches and tags come home
# through git's object transfer into refs/clawbox/BOX/, every new object
# checked; the host's own refs, config, hooks and index are never touched,
# and nothing of the box's repository metadata is ever run or trusted.
# Every case fails on the baseline (it brought the box's .git home as files,
# or nothing, never refs/clawbox/...).
. "$(dirname "$0")/lib.sh"

command -v git >/dev/null || { echo "ok - t-git # SKIP git is not installed"; exit 0; }
G='git -c user.name=t -c user.email=t@t'
box_dir() { echo "$CLAWBOX_STATE_DIR"/boxes/proj-*; }
box_name() { basename "$(box_dir)"; }

# A project that is a git repository with one commit on main.
mkrepo() {
	mkproj "$P"
	git -C "$P" init -q -b main
	git -C "$P" add -A
	$G -C "$P" commit -q -m init
	chmod -R a+rX "$P"
}

# in_box SCRIPT: run a shell script in the box (git in the box: the host's /usr).
in_box() {
	$CLAWBOX run --project "$P" -- sh -c "G='$G'; set -e; $1"
}

# Until the file gate keeps out of .git by itself (verdict git-data), keep
# it out with a deny pattern, so this suite tests the git path alone.
# GITDATA=1 when the gate does (then exit codes are asserted too).
gate_off_git() {
	if $CLAWBOX sync --project "$P" --dry-run --json | grep -q '"verdict": "git-data"'; then
		GITDATA=1
	else
		GITDATA=0
		printf '[sync]\ndeny = [".git"]\n' >"$(box_dir)/config.toml"
	fi
}

sync_p() {
	set +e
	$CLAWBOX sync --project "$P" "$@" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	set -e
	cat "$T_TMP/out" "$T_TMP/err"
}

# The host repository's own state: refs, HEAD, config, hooks, index, info.
host_git_state() {
	(cd "$P/.git" && find HEAD config index packed-refs hooks info refs/heads refs/tags \
		objects/info -printf '%p %y %s %l\n' 2>/dev/null | LC_ALL=C sort &&
		find HEAD config index packed-refs hooks info refs/heads refs/tags objects/info \
			-type f -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0r sha256sum)
}

has_ref() { git -C "$P" rev-parse -q --verify "refs/clawbox/$(box_name)/$1" >/dev/null; }

commits_come_home() {
	mkrepo
	in_box '$G checkout -q -b feature; echo f > f.txt; git add f.txt; $G commit -q -m "feature work"
		$G checkout -q main; echo m > m.txt; git add m.txt; $G commit -q -m "main work"'
	gate_off_git
	before=$(host_git_state)
	sync_p --dry-run
	grep -q "refs/heads/feature: 1 new commit -> refs/clawbox/$(box_name)/heads/feature" "$T_TMP/out" ||
		fail "dry run: $(cat "$T_TMP/out")"
	has_ref heads/feature && fail "a dry run fetched"
	sync_p --auto
	[ "$GITDATA" = 0 ] || [ $rc -eq 0 ] || fail "auto rc $rc"
	has_ref heads/feature || fail "feature not home: $(cat "$T_TMP/out")"
	has_ref heads/main || fail "main not home"
	[ "$(git -C "$P" log -1 --format=%s "refs/clawbox/$(box_name)/heads/feature")" = "feature work" ] ||
		fail "git log of the fetched branch"
	[ "$(git -C "$P" show "refs/clawbox/$(box_name)/heads/main:m.txt")" = m ] || fail "content"
	[ "$(host_git_state)" = "$before" ] || fail "the host's refs/config/hooks/index changed:
$(diff <(echo "$before") <(host_git_state))"
	[ "$(git -C "$P" rev-parse main)" = "$(git -C "$P" rev-parse HEAD)" ] || fail "HEAD moved"
	$CLAWBOX audit --project "$P" | grep -q 'sync.git.fetch.*refs/heads/feature' || fail "audit"
	# A second sync: nothing new, nothing said, nothing changed.
	refs=$(git -C "$P" for-each-ref)
	sync_p --auto
	grep -q '^git' "$T_TMP/out" && fail "second sync speaks of git: $(cat "$T_TMP/out")"
	[ "$(git -C "$P" for-each-ref)" = "$refs" ] || fail "second sync changed refs"
	[ "$(host_git_state)" = "$before" ] || fail "second sync changed the host's repository"
	git -C "$P" fsck --no-dangling >/dev/null 2>&1 || fail "host repository not sound"
}

known_secret_held() {
	mkrepo
	printf 'tok-9f8e7d6c5b4a3210' | $CLAWBOX secrets --project "$P" set TOKEN >/dev/null
	in_box '$G checkout -q -b leak; printf "a\nb\nkey=%s\n" "$TOKEN" > x.txt; git add x.txt
		$G commit -q -m leak; $G checkout -q -b clean main; echo ok > ok.txt
		git add ok.txt; $G commit -q -m clean'
	gate_off_git
	sync_p --auto
	[ "$GITDATA" = 0 ] || [ $rc -eq 1 ] || fail "a held ref must leave sync pending (rc $rc)"
	has_ref heads/leak && fail "the leaking branch came home"
	has_ref heads/clean || fail "the clean branch did not come home: $(cat "$T_TMP/out")"
	grep -q "refs/heads/leak: held" "$T_TMP/out" || fail "not told: $(cat "$T_TMP/out")"
	grep -q "adds 'x.txt' line 3: holds the box's secret TOKEN (known-secret:TOKEN)" "$T_TMP/out" ||
		fail "finding: $(cat "$T_TMP/out")"
	grep -q 'tok-9f8e7d6c5b4a3210' "$T_TMP/out" "$T_TMP/err" && fail "the value was shown"
	$CLAWBOX audit --project "$P" | grep -q 'sync.git.held.*known-secret:TOKEN' || fail "audit"
	grep -q 'tok-9f8e7d6c5b4a3210' "$(box_dir)/audit.jsonl" && fail "the value is in the audit log"
	git -C "$P" cat-file --batch-all-objects --batch | grep -q 'tok-9f8e7d6c5b4a3210' &&
		fail "the secret's blob reached the host's object store"
	return 0
}

leaks_held_in_packs_and_paths() {
	[ -f "$SHARED/data/gitleaks/vectors.json" ] || skip "no gitleaks vectors in \$SHARED/data"
	mkrepo
	TP=$(python3 -c "
import json,sys
for r in json.load(open('$SHARED/data/gitleaks/vectors.json')):
    if r['id'] == 'github-pat': print(r['tps'][0]['text'])")
	[ -n "$TP" ] || skip "no github-pat sample in shared/data"
	printf '%s\n' "$TP" >"$C/tp.txt"
	cp "$C/tp.txt" "$P/.tp-src" # the box reads it from the project (untracked)
	chmod a+r "$P/.tp-src"
	in_box '$G checkout -q -b token; cp .tp-src config.js; git add config.js; $G commit -q -m t
		$G checkout -q -b key main; mkdir -p keys; echo k > keys/id_rsa.pem; git add keys
		$G commit -q -m k; $G checkout -q -b fine main; echo x > fine.txt; git add fine.txt
		$G commit -q -m fine; $G checkout -q main; git gc -q --prune=now; rm -f .tp-src
		test -z "$(find .git/objects -type f -path "*/objects/??/*")"'
	gate_off_git
	ls "$(box_dir)"/upper/.git/objects/pack/*.pack >/dev/null || fail "no pack in the box"
	sync_p --auto
	has_ref heads/token && fail "the token branch came home (blob hidden in a pack)"
	has_ref heads/key && fail "the branch adding id_rsa.pem came home"
	has_ref heads/fine || fail "the clean branch did not come home: $(cat "$T_TMP/out")"
	grep -q "adds 'config.js' line 1: .*(github-" "$T_TMP/out" || fail "token: $(cat "$T_TMP/out")"
	grep -q "adds 'keys/id_rsa.pem': .*(credential-file)" "$T_TMP/out" || fail "pem: $(cat "$T_TMP/out")"
	sync_p --dry-run --json
	python3 -c "
import json; j=json.load(open('$T_TMP/out'))['git']
v={r['ref']: r['verdict'] for r in j['refs']}
assert v.get('refs/heads/token') == 'held' and v.get('refs/heads/key') == 'held', v
assert 'refs/heads/fine' not in v, v" || fail "json: $(cat "$T_TMP/out")"
}

annotated_tag_message_held() {
	mkrepo
	printf 'tagsecret-5a4b3c2d1e' | $CLAWBOX secrets --project "$P" set TAGKEY >/dev/null
	in_box '$G tag -a -m "release with $TAGKEY" v1 main; $G tag -a -m "clean release" v2 main
		$G commit -q --allow-empty -m "message holds $TAGKEY"; $G tag light'
	gate_off_git
	sync_p --auto
	has_ref tags/v1 && fail "the tag whose message holds a secret came home"
	has_ref tags/v2 || fail "the clean tag did not come home: $(cat "$T_TMP/out")"
	has_ref heads/main && fail "a commit message with a secret came home"
	has_ref tags/light && fail "the light tag on that commit came home"
	grep -q "tag [0-9a-f]* (its message).*known-secret:TAGKEY" "$T_TMP/out" || fail "$(cat "$T_TMP/out")"
	grep -q "commit [0-9a-f]* (its message).*known-secret:TAGKEY" "$T_TMP/out" || fail "$(cat "$T_TMP/out")"
	return 0
}

# The box plants an alternates file and a symlinked loose object pointing
# at a host repository it cannot see: nothing comes from there.
planted_alternates_and_links() {
	mkrepo
	other="$C/other"
	git init -q "$other"
	echo "host-only secret" >"$other/s.txt"
	git -C "$other" add s.txt
	$G -C "$other" commit -q -m other
	oc=$(git -C "$other" rev-parse HEAD)
	ob=$(git -C "$other" rev-parse HEAD:s.txt)
	in_box "mkdir -p .git/objects/info; echo '$other/.git/objects' > .git/objects/info/alternates
		mkdir -p .git/objects/${oc:0:2}; ln -s '$other/.git/objects/${oc:0:2}/${oc:2}' .git/objects/${oc:0:2}/${oc:2}
		mkdir -p .git/objects/${ob:0:2}; ln -s '$other/.git/objects/${ob:0:2}/${ob:2}' .git/objects/${ob:0:2}/${ob:2}
		echo $oc > .git/refs/heads/stolen
		\$G checkout -q -b ok; echo y > y; git add y; \$G commit -q -m ok" 2>/dev/null || true
	gate_off_git
	sync_p --auto
	has_ref heads/stolen && fail "a ref to an object of another repository came home"
	git -C "$P" cat-file -e "$oc" 2>/dev/null && fail "the other repository's commit reached the host"
	git -C "$P" cat-file -e "$ob" 2>/dev/null && fail "the other repository's blob reached the host"
	has_ref heads/ok || fail "the clean branch did not come home: $(cat "$T_TMP/out")"
	grep -q "refs/heads/stolen: held" "$T_TMP/out" || fail "not told: $(cat "$T_TMP/out")"
	[ ! -e "$(box_dir)/sync/git/objects/${oc:0:2}/${oc:2}" ] || fail "the link was copied"
}

# A loose object under a false name (its bytes are another object): git on
# the host indexes what it receives, the ref that needs the false name does
# not come home, the others do.
false_loose_object_name() {
	mkrepo
	in_box 'b=$(echo content | git hash-object -w --stdin)
		d=$(echo "$b" | cut -c1-2); r=$(echo "$b" | cut -c3-)
		mkdir -p .git/objects/12
		cp .git/objects/$d/$r .git/objects/12/34567890123456789012345678901234567890
		t=$(printf "100644 blob 1234567890123456789012345678901234567890\tf\n" | git mktree)
		c=$($G commit-tree -p HEAD -m liar $t); git update-ref refs/heads/liar $c
		$G checkout -q -b ok; $G commit -q --allow-empty -m ok'
	gate_off_git
	sync_p --auto
	has_ref heads/liar && fail "a ref needing a falsely named object came home"
	has_ref heads/ok || fail "the clean branch did not come home: $(cat "$T_TMP/out")"
	grep -q "refs/heads/liar: held" "$T_TMP/out" || fail "not told: $(cat "$T_TMP/out")"
	git -C "$P" cat-file -e 1234567890123456789012345678901234567890 2>/dev/null &&
		fail "the false name exists on the host"
	git -C "$P" fsck --no-dangling >/dev/null 2>&1 || fail "host repository not sound"
}

malformed_refs_refused() {
	mkrepo
	in_box '$G checkout -q -b good; echo g > g; git add g; $G commit -q -m g
		c=$(git rev-parse HEAD)
		printf "%s\n" "$c" > .git/refs/heads/bad.lock
		printf "zzzz\n" > .git/refs/heads/badval
		printf "%s\n" "$c" | head -c 39 > .git/refs/heads/short
		printf "ref: refs/heads/good\n" > .git/refs/heads/sym
		ln -s good .git/refs/heads/link
		mkdir -p .git/refs/tags; printf "%s\n" "$c" > ".git/refs/tags/t$(printf "\033")x"
		{ echo "# pack-refs with: peeled fully-peeled sorted"
		  echo "$c refs/heads/a..b"; echo "$c refs/heads/@{x}"; echo "nothex refs/heads/n"
		  echo "$c refs/heads/packed-ok"; } > .git/packed-refs'
	gate_off_git
	sync_p --auto
	has_ref heads/good || fail "the good branch did not come home: $(cat "$T_TMP/out")"
	has_ref heads/packed-ok || fail "the good packed ref did not come home: $(cat "$T_TMP/out")"
	for r in bad.lock badval short sym link a..b; do
		git -C "$P" show-ref | grep -q "/heads/$r\$" && fail "$r came home"
	done
	out=$(cat "$T_TMP/out")
	for want in "ref 'refs/heads/bad.lock' refused: an invalid ref name" \
		"ref 'refs/heads/badval' refused: not an object id" \
		"ref 'refs/heads/short' refused: not an object id" \
		"ref 'refs/heads/sym' not brought home: a symbolic ref" \
		"ref 'refs/heads/link' refused: not a regular file" \
		"ref 'refs/tags/t\\x1bx' refused: an invalid ref name" \
		"packed-refs line 2 refused: an invalid ref name" \
		"packed-refs line 3 refused: an invalid ref name" \
		"packed-refs line 4 refused: not '<object id> <ref name>'"; do
		echo "$out" | grep -qF "git: $want" || fail "missing '$want' in: $out"
	done
	printf '\033' | grep -qF -f - "$T_TMP/out" && fail "a raw escape reached the terminal"
	# An oversized packed-refs is refused whole; loose refs still come home.
	in_box 'python3 -c "
import sys; c=open(\".git/refs/heads/good\").read().strip()
sys.stdout.write(\"\".join(\"%s refs/heads/p%d\n\" % (c, i) for i in range(200000)))" > .git/packed-refs
		$G checkout -q -b good2 good; $G commit -q --allow-empty -m g2'
	sync_p --auto
	grep -q "git: packed-refs refused: larger than 8 MiB" "$T_TMP/out" || fail "$(cat "$T_TMP/out")"
	has_ref heads/good2 || fail "loose refs stopped by a large packed-refs"
}

# The box's own config (fsmonitor, hooksPath), hooks and attributes are
# never run: not by clawbox's git, not by the host's next git status.
box_metadata_never_runs() {
	mkrepo
	marker="$C/ran"
	in_box "cat >> .git/config <<EOF
[core]
	fsmonitor = \"touch $marker.fsmonitor\"
	hooksPath = hooks2
[filter \"x\"]
	smudge = touch $marker.filter
EOF
		mkdir -p .git/hooks hooks2
		for h in reference-transaction post-checkout pre-commit post-commit; do
			printf '#!/bin/sh\ntouch $marker.%s\n' \$h > .git/hooks/\$h
			cp .git/hooks/\$h hooks2/\$h; chmod +x .git/hooks/\$h hooks2/\$h; done
		echo '* filter=x' > .gitattributes
		git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c user.name=t -c user.email=t@t \
			checkout -q -b h
		git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c user.name=t -c user.email=t@t \
			commit -q --allow-empty -m h"
	gate_off_git
	sync_p --auto
	has_ref heads/h || fail "branch not home: $(cat "$T_TMP/out")"
	git -C "$P" status --short >/dev/null
	git -C "$P" log -1 "refs/clawbox/$(box_name)/heads/h" >/dev/null
	ls "$C" | grep -q '^ran' && fail "a box command ran on the host: $(ls "$C")"
	grep -q fsmonitor "$P/.git/config" && fail "the box's config reached the host"
	return 0
}

# A detached HEAD comes home as refs/clawbox/BOX/HEAD; a box that ran
# 'git init' in a project without one, and a nested repository, are named.
detached_and_not_brought_home() {
	mkrepo
	mkdir -p "$P/vendor/lib"
	git -C "$P/vendor/lib" init -q
	$G -C "$P/vendor/lib" commit -q --allow-empty -m v
	chmod -R a+rX "$P"
	in_box '$G checkout -q --detach; $G commit -q --allow-empty -m detached
		cd vendor/lib; $G commit -q --allow-empty -m nested'
	gate_off_git
	sync_p --auto
	has_ref HEAD || fail "detached HEAD not home: $(cat "$T_TMP/out")"
	[ "$(git -C "$P" log -1 --format=%s "refs/clawbox/$(box_name)/HEAD")" = detached ] || fail "HEAD"
	grep -q "git: nested repositories are not brought home: 'vendor/lib'" "$T_TMP/out" ||
		fail "nested repo not named: $(cat "$T_TMP/out")"
	# A project without a repository.
	P="$C/plain"
	mkproj "$P"
	in_box 'git init -q; $G commit -q --allow-empty -m x'
	gate_off_git
	sync_p --dry-run
	grep -q "the box's repository (.git made in the box) is not brought home" "$T_TMP/out" ||
		fail "git init in the box: $(cat "$T_TMP/out")"
	[ ! -e "$P/.git" ] || fail "a .git appeared in the plain project"
}

# Trees git itself would never make: a ".GIT" entry (a repository once
# checked out on a case-insensitive disk), and a tag of a bare tree whose
# only path is a credential file (no commit adds it), and a commit whose
# message is over the size limit (held; it must not stop the others).
hostile_trees_held() {
	mkrepo
	in_box 'b=$(echo x | git hash-object -w --stdin)
		t=$(printf "100644 blob $b\t.GIT\n" | git mktree)
		t2=$(printf "040000 tree $t\tsub\n" | git mktree)
		c=$($G commit-tree -p HEAD -m dotgit $t2); git update-ref refs/heads/dotgit $c
		t4=$(printf "100644 blob $b\tGIT~1\n" | git mktree)
		c=$($G commit-tree -p HEAD -m ntfs $t4); git update-ref refs/heads/ntfs $c
		k=$(echo "key material" | git hash-object -w --stdin)
		t3=$(printf "100644 blob $k\tid_rsa.pem\n" | git mktree); git tag bare $t3
		head -c 11000000 /dev/zero | tr "\\0" a > /tmp/m
		$G checkout -q -b huge; $G commit -q --allow-empty -F /tmp/m
		$G checkout -q -b ok main; $G commit -q --allow-empty -m ok'
	gate_off_git
	sync_p --auto
	has_ref heads/dotgit && fail "a tree with a .GIT entry came home"
	grep -q "adds 'GIT~1': .*(git-path)" "$T_TMP/out" || fail "GIT~1 not held by the check: $(cat "$T_TMP/out")"
	has_ref heads/ntfs && fail "a tree with a GIT~1 entry (NTFS's short name of .git) came home"
	has_ref tags/bare && fail "a tag of a tree holding id_rsa.pem came home"
	has_ref heads/huge && fail "a commit over the size limit came home"
	grep -q "commit [0-9a-f]* (its message): .*(size-limit)" "$T_TMP/out" || fail "huge: $(cat "$T_TMP/out")"
	has_ref heads/ok || fail "the clean branch did not come home: $(cat "$T_TMP/out")"
	grep -q "adds 'sub/.GIT': .*(git-path)" "$T_TMP/out" || fail "git-path: $(cat "$T_TMP/out")"
	grep -q "blob [0-9a-f]* at 'id_rsa.pem': .*(credential-file)" "$T_TMP/out" ||
		fail "tagged tree: $(cat "$T_TMP/out")"
}

sha256_repository() {
	mkproj "$P"
	git -C "$P" init -q -b main --object-format=sha256 2>/dev/null || skip "git without sha256"
	git -C "$P" add -A
	$G -C "$P" commit -q -m init
	chmod -R a+rX "$P"
	in_box '$G checkout -q -b f; echo s > s; git add s; $G commit -q -m s; git gc -q
		echo 0123456789abcdef0123456789abcdef01234567 > .git/refs/heads/sha1'
	gate_off_git
	sync_p --auto
	has_ref heads/f || fail "sha256 branch not home: $(cat "$T_TMP/out")"
	[ "$(git -C "$P" rev-parse "refs/clawbox/$(box_name)/heads/f" | wc -c)" = 65 ] || fail "not sha256"
	grep -q "git: ref 'refs/heads/sha1' refused: its value is not a sha256 object id" "$T_TMP/out" ||
		fail "a sha1 value in a sha256 repository: $(cat "$T_TMP/out")"
}

interactive_sync_fetches_with_the_files() {
	command -v script >/dev/null || skip "script(1) missing"
	mkrepo
	in_box '$G checkout -q -b inter; $G commit -q --allow-empty -m inter; echo n > n.txt'
	gate_off_git
	printf 'q\n' | script -qec "$CLAWBOX sync --project $P" /dev/null >"$T_TMP/tty" 2>&1 || true
	grep -q "refs/heads/inter: 1 new commit" "$T_TMP/tty" || fail "not shown: $(cat "$T_TMP/tty")"
	has_ref heads/inter && fail "quit fetched the ref"
	printf 'a\n' | script -qec "$CLAWBOX sync --project $P" /dev/null >"$T_TMP/tty" 2>&1 || true
	[ "$(cat "$P/n.txt")" = n ] || fail "file not applied: $(cat "$T_TMP/tty")"
	has_ref heads/inter || fail "ref not fetched: $(cat "$T_TMP/tty")"
	grep -q "(fetched)" "$T_TMP/tty" || fail "not told: $(cat "$T_TMP/tty")"
}

yolo_brings_commits_home() {
	mkrepo
	$CLAWBOX run --project "$P" --mode yolo -- true
	gate_off_git
	printf 'auto_interval = 1\n' >>"$(box_dir)/config.toml"
	mkfifo "$C/go"
	$CLAWBOX run --project "$P" -- sh -c "$G checkout -q -b auto; $G commit -q --allow-empty -m auto
		read x" <"$C/go" >/dev/null 2>&1 &
	exec 7>"$C/go"
	ok=0
	for _ in $(seq 100); do has_ref heads/auto && { ok=1; break; }; sleep 0.1; done
	echo stop >&7
	exec 7>&-
	wait
	[ $ok = 1 ] || fail "yolo did not bring the commit home: $(cat "$(box_dir)/sync.log")"
	$CLAWBOX audit --project "$P" | grep -q 'sync.git.fetch.*refs/heads/auto' || fail "audit"
}

deny_read_tracked_warns() {
	mkrepo
	echo s >"$P/secret.txt"
	git -C "$P" add secret.txt
	$G -C "$P" commit -q -m s
	echo u >"$P/untracked.txt"
	$CLAWBOX run --project "$P" --deny-read secret.txt --deny-read untracked.txt -- true 2>"$C/err"
	grep -q "'secret.txt' is tracked by git" "$C/err" || fail "no warning: $(cat "$C/err")"
	grep -q "untracked.txt" "$C/err" && fail "warned about an untracked file"
	return 0
}

case_run "the box's branches come home as refs/clawbox/BOX/*, the host's own untouched" commits_come_home
case_run "a commit with a known secret is held, a clean branch still comes home" known_secret_held
case_run "a token hidden in a pack and an id_rsa.pem path are held" leaks_held_in_packs_and_paths
case_run "an annotated tag or commit whose message holds a secret is held" annotated_tag_message_held
case_run "planted alternates and symlinked objects bring nothing" planted_alternates_and_links
case_run "a loose object under a false name holds only its ref" false_loose_object_name
case_run "malformed ref names, values and an oversized packed-refs are refused" malformed_refs_refused
case_run "the box's git config, hooks and filters never run on the host" box_metadata_never_runs
case_run "detached HEAD comes home; nested and box-made repositories are named" detached_and_not_brought_home
case_run "trees with a .GIT entry or a tagged credential file are held" hostile_trees_held
case_run "a sha256 repository; a sha1 value in it is refused" sha256_repository
case_run "interactive sync shows the git part and fetches with the files" interactive_sync_fetches_with_the_files
case_run "yolo's timer brings a commit home without the user" yolo_brings_commits_home
case_run "--deny-read of a file git tracks says so" deny_read_tracked_warns
