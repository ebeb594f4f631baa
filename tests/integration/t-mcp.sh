#!/usr/bin/env bash
# clawbox mcp driven by a real MCP client: @modelcontextprotocol/sdk's
# Client over stdio (tests/integration/mcp-client.mjs), installed with npm
# (a pinned version) into ${XDG_CACHE_HOME:-~/.cache}/clawbox-tests/npm,
# outside the checkout. The whole file skips when node or npm is missing
# or npm cannot reach the registry.
. "$(dirname "$0")/lib.sh"

SDK=@modelcontextprotocol/sdk
SDK_VERSION=1.32.2
NPM_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/clawbox-tests/npm

# The pinned SDK in NPM_DIR (installed once); 1 when it cannot be had.
mcp_sdk() {
	local pkg="$NPM_DIR/node_modules/$SDK/package.json"
	command -v node >/dev/null || return 1
	if [ -f "$pkg" ] && grep -q "\"version\": \"$SDK_VERSION\"" "$pkg"; then return 0; fi
	command -v npm >/dev/null || return 1
	mkdir -p "$NPM_DIR" && cd "$NPM_DIR" || return 1
	[ -f package.json ] || echo '{"private": true}' >package.json
	timeout 300 npm install --no-audit --no-fund --silent "$SDK@$SDK_VERSION" >/dev/null 2>&1
}
if ! (mcp_sdk); then
	echo "ok - t-mcp: every case # SKIP no MCP client: node/npm missing or npm cannot reach the registry ($SDK@$SDK_VERSION)"
	exit 0
fi
cp "$(dirname "$0")/mcp-client.mjs" "$NPM_DIR/mcp-client.mjs"

# mcp [clawbox mcp options] <<<CALLS: run the client against clawbox mcp on
# the project $P; its lines (the hello, then one per call) in $C/out.
mcp() {
	node "$NPM_DIR/mcp-client.mjs" "$CLAWBOX" mcp --project "$P" "$@" >"$C/out" 2>"$C/err" ||
		fail "the client failed: $(cat "$C/err")"
	cat "$C/out"
}
# line N: the Nth line of the client's output (1: the hello).
line() { sed -n "${1}p" "$C/out"; }
# has N TEXT: line N holds TEXT.
has() { line "$1" | grep -qF -- "$2" || fail "line $1 lacks $2: $(line "$1")"; }

# A box for $P (made by a run).
make_box() {
	need_userns
	mkproj "$P"
	$CLAWBOX run --project "$P" -- "${@:-true}" >/dev/null 2>&1 || fail "run failed"
}

t_hello() {
	make_box
	mcp </dev/null
	has 1 '"name":"clawbox"'
	has 1 '"protocol":"2025-11-25"'
	has 1 '"tools":["exec","read_file","write_file","list_dir","search","sync_status"]'
	mcp --allow-sync </dev/null
	has 1 '"sync_status","sync_apply"]'
}
case_run "a real client initializes and lists the tools (sync_apply only when granted)" t_hello

t_not_up() {
	make_box
	mcp <<'X'
{"name":"exec","arguments":{"argv":["true"]}}
{"name":"list_dir","arguments":{}}
{"name":"no_such_tool","arguments":{}}
{"name":"sync_apply","arguments":{}}
{"name":"exec","arguments":{"argv":"true"}}
X
	has 2 '"isError":true'
	has 2 'the box is not up'
	has 3 'the box is not up'
	has 4 '"protocolError":-32602'
	has 5 '"protocolError":-32602' # not granted: not a tool of this session
	has 6 '"isError":true'
	has 6 'argv must be an array'
}
case_run "tools that need the box up say it is not; unknown tools are protocol errors" t_not_up

t_sync() {
	make_box sh -c 'echo new >/workspace/new.txt && echo "token = \"ghp_R8mZk2Lq9XwT4vNp7YhC3sJd6FbG1aE5uKoV\"" >/workspace/leak.py'
	mcp --allow-sync <<'X'
{"name":"sync_status","arguments":{}}
{"name":"sync_apply","arguments":{}}
{"name":"sync_status","arguments":{}}
X
	has 2 '"path":"new.txt","change":"added","type":"file","action":"write","size":4,"verdict":"apply"'
	has 2 '"path":"leak.py"'
	has 2 '"verdict":"blocked"'
	has 2 '"pending":2'
	line 2 | grep -q ghp_R8mZk2 && fail "the secret shown"
	has 3 '"applied":true'
	has 4 '"pending":1'
	[ "$(cat "$P/new.txt")" = new ] || fail "new.txt not applied"
	[ ! -e "$P/leak.py" ] || fail "the blocked file was applied"
	$CLAWBOX audit --project "$P" | grep -q 'mcp.call' || fail "no mcp.call in the audit log"
}
case_run "sync_status shows each verdict; sync_apply applies only what passes" t_sync

t_stdio() {
	make_box
	{
		printf '%s\r\n' '{"jsonrpc":"2.0","id":1,"method":"ping"}'
		printf '\n   \n'
		head -c 9000000 /dev/zero | tr '\0' x
		printf '\n'
		printf '%s' '{"jsonrpc":"2.0","id":2,"method":"ping"}'
	} | $CLAWBOX mcp --project "$P" >"$C/out" 2>"$C/err" || fail "exit $?: $(cat "$C/err")"
	[ "$(wc -l <"$C/out")" -eq 3 ] || fail "not three replies: $(head -c 500 "$C/out")"
	has 1 '{"jsonrpc":"2.0","id":1,"result":{}}'
	has 2 '"id":null,"error":{"code":-32600'
	has 3 '{"jsonrpc":"2.0","id":2,"result":{}}'
	[ ! -s "$C/err" ] || fail "stderr: $(cat "$C/err")"
}
case_run "stdio framing: one reply per line, CRLF and blank lines, a line over 8 MiB refused, a last line without newline" t_stdio

t_usage() {
	$CLAWBOX mcp --help | grep -q '^usage: clawbox mcp' || fail "no usage"
	rc=0; $CLAWBOX mcp --bogus </dev/null >"$C/out" 2>"$C/err" || rc=$?
	[ $rc -eq 2 ] || fail "bad option: rc $rc"
	rc=0; $CLAWBOX mcp --box no-such-box </dev/null >"$C/out" 2>"$C/err" || rc=$?
	[ $rc -eq 1 ] || fail "no such box: rc $rc"
	[ ! -s "$C/out" ] || fail "stdout is for replies only: $(cat "$C/out")"
	grep -q "no-such-box" "$C/err" || fail "$(cat "$C/err")"
}
case_run "clawbox mcp: --help, a bad option, a box that does not exist (stderr only)" t_usage

# The box of $P up (clawbox up); taken down when the case ends, whatever
# its end.
box_up() {
	need_userns
	mkproj "$P"
	trap '$CLAWBOX down --project "$P" >/dev/null 2>&1 || true' EXIT
	$CLAWBOX up --project "$P" "$@" >"$C/up.log" 2>&1 || fail "up failed: $(cat "$C/up.log")"
}

t_exec() {
	box_up
	mcp <<'X'
{"name":"exec","arguments":{"argv":["cat","README"]}}
{"name":"exec","arguments":{"command":"echo out; echo err >&2; exit 3"}}
{"name":"exec","arguments":{"command":"pwd; echo \"$GREETING\"","cwd":"src","env":{"GREETING":"hi there"}}}
{"name":"exec","arguments":{"command":"cat","stdin":"from stdin"}}
{"name":"exec","arguments":{"command":"sleep 30","timeout_ms":300}}
{"name":"exec","arguments":{"argv":["no-such-command-xyz"]}}
{"name":"exec","arguments":{"command":"head -c 3000000 /dev/zero | tr '\\0' a"}}
X
	has 2 '"exit_code":0,"stdout":"hello\n","stderr":"","truncated":false,"timed_out":false'
	has 3 '"exit_code":3,"stdout":"out\n","stderr":"err\n"'
	has 4 '"stdout":"/workspace/src\nhi there\n"'
	has 5 '"stdout":"from stdin"'
	has 6 '"timed_out":true'
	has 7 '"isError":true'
	has 7 'no-such-command-xyz'
	has 8 '"truncated":true'
	[ "$(line 8 | wc -c)" -lt 2200000 ] || fail "the output cap did not hold: $(line 8 | wc -c) bytes"
}
case_run "exec in the up box: argv, a shell line, cwd, env, stdin, exit status, timeout, a missing command, the output cap" t_exec

t_cancel() {
	box_up
	t0=$(date +%s%N)
	mcp <<'X'
{"name":"exec","arguments":{"command":"sleep 20; touch /workspace/late","timeout_ms":60000},"abortAfterMs":2000}
{"name":"exec","arguments":{"argv":["echo","after"]}}
X
	t1=$(date +%s%N)
	has 2 '"protocolError"'
	has 3 '"stdout":"after\n"'
	[ $(((t1 - t0) / 1000000)) -lt 15000 ] || fail "the cancelled call held the client $(((t1 - t0) / 1000000)) ms"
	# The command was killed (SIGKILL), not left to its 20 s, and the call
	# is in the audit log as cancelled.
	audit="$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*/audit.jsonl)"
	grep '"event":"exec.end"' "$audit" | grep -q '"status":9,' || fail "no exec killed: $(grep exec.end "$audit")"
	grep '"event":"mcp.call"' "$audit" | grep -q '"outcome":"cancelled"' || fail "no cancelled call in the audit"
	[ ! -e "$(echo "$CLAWBOX_STATE_DIR"/boxes/proj-*)/upper/late" ] || fail "the command ran to its end"
}
case_run "a cancelled call kills its command; the next call is answered" t_cancel

t_files() {
	box_up
	before=$(snapshot "$P")
	mcp <<'X'
{"name":"write_file","arguments":{"path":"new/notes.txt","content":"written\n","create_dirs":true}}
{"name":"read_file","arguments":{"path":"new/notes.txt"}}
{"name":"read_file","arguments":{"path":"/workspace/README"}}
{"name":"write_file","arguments":{"path":"bin.dat","content":"AAECAw==","encoding":"base64"}}
{"name":"read_file","arguments":{"path":"bin.dat"}}
{"name":"list_dir","arguments":{}}
{"name":"read_file","arguments":{"path":"README","offset":1,"length":2}}
{"name":"exec","arguments":{"command":"cat new/notes.txt"}}
X
	has 2 '"bytes":8'
	has 3 '"content":"written\n","encoding":"utf-8","truncated":false'
	has 4 '"content":"hello\n"'
	has 6 '"content":"AAECAw==","encoding":"base64"'
	has 7 '{"name":"README","type":"file","size":6}'
	has 7 '{"name":"src","type":"dir"}'
	has 8 '"size":6,"offset":1,"content":"el","encoding":"utf-8","truncated":true'
	has 9 '"stdout":"written\n"'
	[ "$(snapshot "$P")" = "$before" ] || fail "the project changed: the writes must wait for sync"
}
case_run "write_file, read_file, list_dir on the workspace of the up box; the project does not change" t_files

t_files_hostile() {
	box_up
	mcp <<'X'
{"name":"exec","arguments":{"command":"ln -s /etc/passwd link && ln -s / rootlink && mkfifo fifo"}}
{"name":"read_file","arguments":{"path":"link"}}
{"name":"read_file","arguments":{"path":"rootlink/etc/passwd"}}
{"name":"read_file","arguments":{"path":"../../../etc/passwd"}}
{"name":"write_file","arguments":{"path":"rootlink/tmp/x","content":"x"}}
{"name":"write_file","arguments":{"path":"link","content":"x"}}
{"name":"read_file","arguments":{"path":"fifo"}}
{"name":"write_file","arguments":{"path":".git/config","content":"x","create_dirs":true}}
{"name":"list_dir","arguments":{"path":"rootlink"}}
X
	has 2 '"exit_code":0'
	for n in 3 4 5 6 7 8 9 10; do has $n '"isError":true'; done
	for n in 3 4 6 7 10; do has $n 'symlinks are never followed'; done
	has 5 "'..' is refused"
	has 8 'only regular files'
	has 9 'git directory'
	[ ! -e "$P/.git" ] || fail ".git made"
	grep -q root: "$C/out" && fail "a host file was read"
	[ ! -e /tmp/x ] || [ "$(cat /tmp/x)" != x ] || fail "wrote through the box's symlink"
	true
}
case_run "file tools refuse the box's symlinks, .., special files and .git" t_files_hostile

t_search() {
	box_up
	mcp <<'X'
{"name":"search","arguments":{"pattern":"main"}}
{"name":"search","arguments":{"pattern":"HELLO","ignore_case":true,"fixed":true}}
{"name":"search","arguments":{"pattern":"int","glob":"*.c","path":"src"}}
{"name":"search","arguments":{"pattern":"nothing-matches-this"}}
{"name":"search","arguments":{"pattern":"(unclosed"}}
{"name":"search","arguments":{"pattern":"e","max_results":1}}
X
	has 2 '{"path":"src/main.c","line":1,"text":"int main(void) { return 0; }"}'
	has 3 '{"path":"README","line":1,"text":"hello"}'
	has 4 '"path":"src/main.c"'
	has 5 '"matches":[],"truncated":false'
	has 6 '"isError":true'
	has 7 '"truncated":true'
}
case_run "search greps the workspace in the box: regex, fixed, case, glob, bounded results" t_search

t_session() {
	box_up
	mcp --session agent1 <<'X'
{"name":"exec","arguments":{"command":"sleep 60 >/dev/null 2>&1 & echo started"}}
{"name":"exec","arguments":{"command":"ls /proc | grep -c '^[0-9]'"}}
X
	has 2 '"stdout":"started\n"'
	has 3 '"exit_code":0'
	$CLAWBOX session list --project "$P" | grep -q '^agent1 ' || fail "no session agent1"
	$CLAWBOX audit --project "$P" | grep 'mcp.call' | grep -q 'session="agent1"' || fail "audit"
	$CLAWBOX mcp --session 'bad/name' --project "$P" </dev/null 2>"$C/err" && fail "a bad session name was taken"
	grep -q "invalid session name" "$C/err" || fail "$(cat "$C/err")"
}
case_run "--session runs execs in a named session of the up box" t_session

t_redact() {
	MCP_TEST_TOKEN=Zq8xV3rT6yKp2LmNvalue box_up -e MCP_TEST_TOKEN
	mcp <<'X'
{"name":"exec","arguments":{"command":"echo $MCP_TEST_TOKEN; echo $MCP_TEST_TOKEN >t.txt"}}
{"name":"read_file","arguments":{"path":"t.txt"}}
{"name":"search","arguments":{"pattern":"Zq8x"}}
X
	has 2 '"stdout":"[REDACTED:MCP_TEST_TOKEN]\n"'
	has 3 '"content":"[REDACTED:MCP_TEST_TOKEN]\n"'
	has 4 '"text":"[REDACTED:MCP_TEST_TOKEN]"'
	grep -q Zq8xV3rT6yKp "$C/out" && fail "a value of the box was shown"
	true
}
case_run "a secret given to the box never reaches the client: exec output, file reads, search" t_redact

t_sync_up() {
	box_up
	mcp --allow-sync <<'X'
{"name":"write_file","arguments":{"path":"docs/new.md","content":"# new\n","create_dirs":true}}
{"name":"write_file","arguments":{"path":".envrc","content":"export X=1\n"}}
{"name":"sync_apply","arguments":{}}
{"name":"exec","arguments":{"argv":["cat","docs/new.md"]}}
{"name":"sync_status","arguments":{}}
X
	has 4 '"running":true'
	has 4 '"path":"docs/new.md"'
	has 4 '"applied":true'
	has 4 '"path":".envrc"'
	has 4 '"verdict":"needs-approval"'
	has 5 '"stdout":"# new\n"'
	has 6 '"pending":1'
	[ "$(cat "$P/docs/new.md")" = "# new" ] || fail "docs/new.md not applied"
	[ ! -e "$P/.envrc" ] || fail ".envrc applied without approval"
}
case_run "sync_apply on an up box: what passes comes home, what needs approval stays" t_sync_up
