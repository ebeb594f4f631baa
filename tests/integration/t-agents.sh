#!/usr/bin/env bash
# The real agents end to end: Claude Code, Codex and a plain Node 24 fetch(),
# pinned from npm (tests/agents/install.sh, cached outside the checkout), run
# in a box against a mock LLM API (tests/agents/mock-llm.mjs) that lives in a
# network namespace of its own (veth pair, 10.78.N.0/24): the box reaches it
# only through clawbox's proxy with --allow-ip. Each case checks that the
# agent's requests reached the mock through the proxy and nothing else got
# out (the audit), that it ran the mock's one tool call, that its file is in
# the box's overlay and not in the project until `clawbox sync --auto`.
# The whole file skips with one line when npm cannot install the pins.
. "$(dirname "$0")/lib.sh"

# What each agent still needs that a user would not know (issue 13, items
# 1-4), one variable per agent; an empty one means the agent runs as a user
# would type it. The agent profiles (docs/AGENTS.md) made every flag
# unnecessary; set a variable to try one again (CODEX_NEEDS=... bash ...).
# Claude Code as root refuses --dangerously-skip-permissions unless
# IS_SANDBOX=1: the claude profile sets it (clawbox run flags):
CLAUDE_NEEDS=${CLAUDE_NEEDS-}
# Codex's own sandbox (bwrap) cannot make namespaces in the box: every tool
# call failed until `-s danger-full-access`; the codex profile seeds
# ~/.codex/config.toml with sandbox_mode = "danger-full-access" (codex args):
CODEX_NEEDS=${CODEX_NEEDS-}
# Node's fetch() ignores HTTP(S)_PROXY unless NODE_USE_ENV_PROXY=1, which
# every proxy box now has (clawbox run flags):
NODE_NEEDS=${NODE_NEEDS-}

AGENTS_DIR=$(cd "$(dirname "$0")/../agents" && pwd)
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! command -v node >/dev/null; then
	echo "ok - t-agents: every case # SKIP needs root, iproute2 and node"
	exit 0
fi
if ! PINS=$(bash "$AGENTS_DIR/install.sh" node claude codex 2>"$T_TMP/install.err"); then
	echo "ok - t-agents: every case # SKIP npm cannot install the pinned agents ($(tail -1 "$T_TMP/install.err"))"
	exit 0
fi
AGENTS_CACHE=$(dirname "$(echo "$PINS" | head -1)")
# In the box the cache is at /srv (bound there in a mount namespace of the
# test's own: the host's /srv does not change; the cache under $HOME is
# hidden from the box).
IN_BOX=/srv
NODE_HOST=$(echo "$PINS" | sed -n 1p)/bin/node
NODE=$IN_BOX/$(basename "$(echo "$PINS" | sed -n 1p)")/bin/node
CLAUDE=$IN_BOX/$(basename "$(echo "$PINS" | sed -n 2p)")/bin/claude
CODEX=$IN_BOX/$(basename "$(echo "$PINS" | sed -n 3p)")/bin/codex

NET_N=$((($$ % 200) + 20))
NS=cbag$$
VH=cbah$$
VR=cbar$$
HOST_IP=10.78.$NET_N.1
MOCK_IP=10.78.$NET_N.2
MOCK=http://$MOCK_IP:8080
MOCK_TLS=https://$MOCK_IP:8443
MOCK_H2=https://$MOCK_IP:8444
MOCK_LOG=$T_TMP/mock.log
MOCK_PID=
MOCK_TLS_PID=
MOCK_H2_PID=

agents_cleanup() {
	[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null
	[ -n "$MOCK_TLS_PID" ] && kill "$MOCK_TLS_PID" 2>/dev/null
	[ -n "$MOCK_H2_PID" ] && kill "$MOCK_H2_PID" 2>/dev/null
	ip link del "$VH" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	t_cleanup
}
trap agents_cleanup EXIT

# The mock in its namespace (system node), up within 5 s.
remote_ns "$NS" "$VH" "$VR" "$HOST_IP" "$MOCK_IP" || {
	echo "ok - t-agents: every case # SKIP cannot make a network namespace"
	exit 0
}
mkdir -p "$T_TMP/bodies"
ip netns exec "$NS" node "$AGENTS_DIR/mock-llm.mjs" --listen "$MOCK_IP:8080" --log "$MOCK_LOG" \
	--bodies "$T_TMP/bodies" 2>"$T_TMP/mock.err" &
MOCK_PID=$!
for _ in $(seq 50); do
	grep -q listening "$MOCK_LOG" 2>/dev/null && break
	sleep 0.1
done
grep -q listening "$MOCK_LOG" 2>/dev/null || {
	echo "not ok - t-agents: the mock LLM did not start"
	sed 's/^/#   /' "$T_TMP/mock.err"
	exit 1
}
# The same mock over HTTPS (brokered credentials), its certificate for
# $MOCK_IP from a CA of the test's own, which clawbox's proxy trusts through
# CLAWBOX_UPSTREAM_CA_FILE (the box never does: it trusts the box's CA).
TLS_DIR=$T_TMP/tls
mkdir -p "$TLS_DIR"
if command -v openssl >/dev/null && bash "$AGENTS_DIR/../broker/certs.sh" "$TLS_DIR" "$MOCK_IP"; then
	ip netns exec "$NS" node "$AGENTS_DIR/mock-llm.mjs" --listen "$MOCK_IP:8443" --log "$MOCK_LOG" \
		--tls "$TLS_DIR/api.crt" "$TLS_DIR/api.key" 2>"$T_TMP/mock-tls.err" &
	MOCK_TLS_PID=$!
	ip netns exec "$NS" node "$AGENTS_DIR/mock-llm.mjs" --listen "$MOCK_IP:8444" --log "$MOCK_LOG" \
		--tls "$TLS_DIR/api.crt" "$TLS_DIR/api.key" --h2 2>"$T_TMP/mock-h2.err" &
	MOCK_H2_PID=$!
	for _ in $(seq 50); do
		grep -q "listening\":\"$MOCK_IP:8443" "$MOCK_LOG" 2>/dev/null &&
			grep -q "listening\":\"$MOCK_IP:8444" "$MOCK_LOG" 2>/dev/null && break
		sleep 0.1
	done
fi

# The domains clawbox allows by default or for an agent's profile, denied
# here: on a machine with a network the agents' own calls home would
# otherwise leave, and the check that nothing but the mock was reached fail.
DENY_DEFAULTS="--deny-domain api.anthropic.com --deny-domain api.openai.com
	--deny-domain generativelanguage.googleapis.com --deny-domain openrouter.ai
	--deny-domain api.telegram.org --deny-domain slack.com --deny-domain *.slack.com
	--deny-domain discord.com --deny-domain gateway.discord.gg
	--deny-domain platform.claude.com --deny-domain auth.openai.com --deny-domain chatgpt.com"

# box ARGS...: clawbox run on $P with the agents at /srv, the mock allowed.
# shellcheck disable=SC2086
box() {
	unshare -m sh -c 'mount --bind "$0" /srv && exec "$@"' "$AGENTS_CACHE" \
		timeout 180 "$CLAWBOX" run --project "$P" --allow-ip "$MOCK_IP" $DENY_DEFAULTS "$@"
}

# mock_mark / mock_new: the mock's log lines since the mark.
mock_mark() { wc -l <"$MOCK_LOG" >"$C/mark"; }
mock_new() { tail -n +$(($(cat "$C/mark") + 1)) "$MOCK_LOG"; }

# check_turn FILE TOOL [PROFILE]: the agent's turn went as it should: the
# agent profile PROFILE was picked (when given); requests with an auth header
# reached the mock (tool call, then final answer), only through the proxy;
# the tool wrote FILE in the overlay ("written by TOOL"); the project is
# unchanged until sync --auto brings FILE home.
check_turn() {
	local file=$1 tool=$2 profile=${3:-} upper
	mock_new >"$C/mock"
	grep -q "\"answer\":\"tool:$tool\"" "$C/mock" || fail "the mock never sent $tool: $(cat "$C/mock")"
	grep -q '"answer":"text"' "$C/mock" || fail "no final answer asked for: $(cat "$C/mock")"
	grep '"answer":"tool:' "$C/mock" | grep -q '"auth":true' || fail "no auth header reached the mock"
	# Every request came from the host side (the proxy), none from elsewhere.
	grep -v '"from":"'"$HOST_IP"'"' "$C/mock" | grep -q . && fail "a request not from the proxy: $(cat "$C/mock")"
	"$CLAWBOX" audit --project "$P" --json | grep -E '"net\.(connect|dns)"' >"$C/net" || true
	grep '"decision":"allow"' "$C/net" | grep -q "\"addr\":\"$MOCK_IP\"" || fail "no allowed connection to the mock in the audit"
	grep '"decision":"allow"' "$C/net" | grep -v "\"addr\":\"$MOCK_IP\"" | grep . &&
		fail "something else got out"
	# The profile was picked by the command's name (run.start).
	if [ -n "$profile" ]; then
		"$CLAWBOX" audit --project "$P" --json | grep '"run.start"' | grep -q "\"profile\":\"$profile\"" ||
			fail "run.start without the $profile profile"
	fi
	# AGENTS_REPORT=FILE: what each agent tried that the proxy refused.
	if [ -n "${AGENTS_REPORT:-}" ]; then
		echo "$file: $(grep -v '"decision":"allow"' "$C/net" | grep -o '"host":"[^"]*","port":[0-9]*' |
			sort | uniq -c | tr -s ' \n' ' ')" >>"$AGENTS_REPORT"
	fi
	# The box ran in a mount namespace of its own: its disk image is mounted
	# on the host again by the first command that needs it.
	"$CLAWBOX" sync --project "$P" --dry-run --json >"$C/pending" 2>&1 || fail "sync --dry-run: $(cat "$C/pending")"
	grep -q "\"$file\"" "$C/pending" || fail "$file not pending: $(cat "$C/pending")"
	upper=$(echo "$CLAWBOX_STATE_DIR"/boxes/*/upper)
	[ "$(cat "$upper/$file" 2>/dev/null)" = "written by $tool" ] || fail "$file not in the overlay: $(ls "$upper/")"
	snapshot "$P" | cmp -s - "$C/before" || fail "the project changed before sync"
	"$CLAWBOX" sync --project "$P" --auto >"$C/sync" 2>&1 || fail "sync --auto: $(cat "$C/sync")"
	[ "$(cat "$P/$file" 2>/dev/null)" = "written by $tool" ] || fail "$file did not come home: $(cat "$C/sync")"
}

# start: a project, its snapshot, the mock's mark.
start() {
	mkproj "$P"
	snapshot "$P" >"$C/before"
	mock_mark
}

# claude_turn TOOL FILE: one claude -p turn in which the mock calls TOOL.
claude_turn() {
	start
	# shellcheck disable=SC2086
	box -e ANTHROPIC_API_KEY=sk-ant-mock-0123456789abcdef --setenv ANTHROPIC_BASE_URL="$MOCK" $CLAUDE_NEEDS \
		-- "$CLAUDE" -p "write the file FILE=$2 TOOL=$1 DIR=$P" --dangerously-skip-permissions >"$C/out" 2>&1 ||
		fail "claude failed: $(tail -5 "$C/out")"
	grep -q "Done: the file is written." "$C/out" || fail "no final answer: $(cat "$C/out")"
	check_turn "$2" "$1" claude
}
case_claude_bash() { claude_turn Bash claude.txt; }
case_run "Claude Code -p runs the mock's Bash call in the box, through the proxy only" case_claude_bash
case_claude_write() { claude_turn Write claude-write.txt; }
case_run "Claude Code -p runs the mock's Write call in the box" case_claude_write

# codex_turn TOOL FILE [ARG...]: one codex exec turn (ARGs added) in which
# the mock calls TOOL. Codex gets a provider of the test's own (the built-in
# one talks WebSockets first and takes no base URL from the environment).
codex_turn() {
	start
	# shellcheck disable=SC2086
	box -e OPENAI_API_KEY=sk-mock-0123456789abcdef -- "$CODEX" exec --skip-git-repo-check \
		-c model_provider=mock \
		-c "model_providers.mock={name=\"mock\",base_url=\"$MOCK/v1\",env_key=\"OPENAI_API_KEY\",wire_api=\"responses\"}" \
		$CODEX_NEEDS "${@:3}" "write the file FILE=$2 TOOL=$1" >"$C/out" 2>&1 ||
		fail "codex failed: $(tail -5 "$C/out")"
	grep -q "Done: the file is written." "$C/out" || fail "no final answer: $(cat "$C/out")"
	check_turn "$2" "$1" codex
}
# Its default model gets one tool, `exec` (code mode: JavaScript calling the
# nested tools); the mock's script calls apply_patch.
case_codex_exec() { codex_turn exec codex.txt; }
case_run "Codex exec runs the mock's code-mode apply_patch in the box, through the proxy only" case_codex_exec
# A model it does not know gets the classic tools: exec_command (a shell).
case_codex_shell() { codex_turn exec_command codex-shell.txt -m mock-model; }
case_run "Codex exec runs the mock's exec_command call in the box" case_codex_shell

case_node_fetch() {
	start
	# shellcheck disable=SC2086
	box --setenv MOCK_URL="$MOCK" -e OPENAI_API_KEY=sk-mock-0123456789abcdef $NODE_NEEDS \
		-- "$NODE" - <"$AGENTS_DIR/fetch-agent.mjs" >"$C/out" 2>&1 ||
		fail "node failed: $(tail -5 "$C/out")"
	grep -q "Done: the file is written." "$C/out" || fail "no final answer: $(cat "$C/out")"
	check_turn node.txt shell
}
case_run "Node 24 fetch() runs a chat-completions tool loop in the box, through the proxy only" case_node_fetch

# Brokered credentials (docs/SECRETS.md): the agent's key is a rule of the
# box; the box holds a placeholder, the proxy ends the agent's TLS to the
# mock with the box's CA (which the agent trusts through the variables
# clawbox sets), and the mock gets the real key.
need_tls_mock() {
	grep -q "listening\":\"$MOCK_IP:8443" "$MOCK_LOG" 2>/dev/null ||
		skip "the HTTPS mock did not start (openssl?): $(tail -1 "$T_TMP/mock-tls.err" 2>/dev/null)"
}

# check_brokered NAME KEY: every request of the turn reached the mock with
# KEY, the agent's output never shows it, and the audit has the brokered
# requests with NAME.
check_brokered() {
	local name=$1 key=$2
	grep -q '"auth_value"' "$C/mock" || fail "no request reached the HTTPS mock: $(cat "$C/mock")"
	grep '"auth_value"' "$C/mock" | grep -v "\"auth_value\":\"\(Bearer \)\?$key\"" | grep . &&
		fail "a request reached the mock without the real key"
	grep -qF "${key#sk-}" "$C/out" && fail "the key is in the agent's output"
	"$CLAWBOX" audit --project "$P" --json | grep '"net.broker"' >"$C/broker" || true
	grep '"decision":"allow"' "$C/broker" | grep -q "\"secrets\":\[\"$name\"\]" ||
		fail "no brokered request in the audit: $(cat "$C/broker")"
	grep -q '"decision":"deny"' "$C/broker" && fail "a brokered request was refused: $(cat "$C/broker")"
	return 0
}

case_claude_brokered() {
	need_tls_mock
	start
	local key=sk-ant-api03-brokered0123456789abcdefABCDEF
	printf %s "$key" | "$CLAWBOX" secrets --project "$P" set ANTHROPIC_API_KEY \
		--broker "$MOCK_IP=header:x-api-key" >/dev/null
	CLAWBOX_UPSTREAM_CA_FILE=$TLS_DIR/ca.crt box --setenv ANTHROPIC_BASE_URL="$MOCK_TLS" \
		-- "$CLAUDE" -p "write the file FILE=claude-broker.txt TOOL=Bash DIR=$P" \
		--dangerously-skip-permissions >"$C/out" 2>&1 || fail "claude failed: $(tail -5 "$C/out")"
	grep -q "Done: the file is written." "$C/out" || fail "no final answer: $(cat "$C/out")"
	check_turn claude-broker.txt Bash claude
	check_brokered ANTHROPIC_API_KEY "$key"
}
case_run "Claude Code with a brokered key: the mock gets it, the box never holds it" case_claude_brokered

case_codex_brokered() {
	need_tls_mock
	start
	local key=sk-proj-brokered0123456789abcdefABCDEF
	printf %s "$key" | "$CLAWBOX" secrets --project "$P" set OPENAI_API_KEY \
		--broker "$MOCK_IP=authorization" >/dev/null
	# shellcheck disable=SC2086
	CLAWBOX_UPSTREAM_CA_FILE=$TLS_DIR/ca.crt box -- "$CODEX" exec --skip-git-repo-check \
		-c model_provider=mock \
		-c "model_providers.mock={name=\"mock\",base_url=\"$MOCK_TLS/v1\",env_key=\"OPENAI_API_KEY\",wire_api=\"responses\"}" \
		-m mock-model "write the file FILE=codex-broker.txt TOOL=exec_command" >"$C/out" 2>&1 ||
		fail "codex failed: $(tail -5 "$C/out")"
	grep -q "Done: the file is written." "$C/out" || fail "no final answer: $(cat "$C/out")"
	check_turn codex-broker.txt exec_command codex
	check_brokered OPENAI_API_KEY "$key"
}
case_run "Codex with a brokered key: the mock gets it, the box never holds it" case_codex_brokered

case_node_brokered() {
	need_tls_mock
	start
	local key=sk-proj-nodebrokered0123456789abcdefABC
	printf %s "$key" | "$CLAWBOX" secrets --project "$P" set OPENAI_API_KEY \
		--broker "$MOCK_IP=authorization" >/dev/null
	CLAWBOX_UPSTREAM_CA_FILE=$TLS_DIR/ca.crt box --setenv MOCK_URL="$MOCK_TLS" \
		-- "$NODE" - <"$AGENTS_DIR/fetch-agent.mjs" >"$C/out" 2>&1 ||
		fail "node failed: $(tail -5 "$C/out")"
	grep -q "Done: the file is written." "$C/out" || fail "no final answer: $(cat "$C/out")"
	check_turn node.txt shell
	check_brokered OPENAI_API_KEY "$key"
}
case_run "Node 24 fetch() with a brokered key: the mock gets it, the box never holds it" case_node_brokered

# A client that speaks only HTTP/2 (as gRPC clients do): the proxy speaks
# HTTP/2 on both sides, the key goes in, the echo of it comes back as the
# placeholder, trailers pass.
case_h2_brokered() {
	need_tls_mock
	grep -q "listening\":\"$MOCK_IP:8444" "$MOCK_LOG" || skip "the HTTP/2 mock did not start"
	mkproj "$P"
	mock_mark
	local key=sk-ant-api03-h2brokered0123456789abcdefABCD
	printf %s "$key" | "$CLAWBOX" secrets --project "$P" set ANTHROPIC_API_KEY \
		--broker "$MOCK_IP=header:x-api-key" >/dev/null
	CLAWBOX_UPSTREAM_CA_FILE=$TLS_DIR/ca.crt box -- sh -c \
		'"$0" - "$1/v1/models" x-api-key "$ANTHROPIC_API_KEY"; echo "env $ANTHROPIC_API_KEY"' \
		"$NODE" "$MOCK_H2" <"$AGENTS_DIR/h2-client.mjs" >"$C/out" 2>&1 || fail "the client failed: $(cat "$C/out")"
	grep -q '^status 200$' "$C/out" || fail "no 200: $(cat "$C/out")"
	grep -q '"object":"list"' "$C/out" || fail "no body: $(cat "$C/out")"
	mock_new >"$C/mock"
	grep -q '"proto":"2.0"' "$C/mock" || fail "the mock did not get HTTP/2: $(cat "$C/mock")"
	grep -q "\"auth_value\":\"$key\"" "$C/mock" || fail "the mock did not get the key: $(cat "$C/mock")"
	local ph
	ph=$(sed -n 's/^env //p' "$C/out")
	[ "${#ph}" -eq "${#key}" ] && [ "$ph" != "$key" ] || fail "the box's variable is not a placeholder: $ph"
	grep -qx "h x-auth-echo $ph" "$C/out" || fail "the echo did not come back as the placeholder: $(cat "$C/out")"
	grep -qF "${key#sk-ant-api03-}" "$C/out" && fail "the key reached the box: $(cat "$C/out")"
	"$CLAWBOX" audit --project "$P" --json | grep '"net.broker"' >"$C/broker" || true
	grep '"decision":"allow"' "$C/broker" | grep -q '"path":"/v1/models"' ||
		fail "no brokered request in the audit: $(cat "$C/broker")"
	return 0
}
case_run "an HTTP/2-only client with a brokered key: h2 both ways, the key in, its echo scrubbed" case_h2_brokered

# Plain HTTP in a CONNECT to a brokered host (Node's proxy agent sends an
# http:// URL so): tunnelled as to any host, no value put in; with the
# placeholder in it, refused and audited.
case_plain_in_tunnel() {
	mkproj "$P"
	local key=sk-ant-api03-plaintunnel0123456789abcdefAB
	printf %s "$key" | "$CLAWBOX" secrets --project "$P" set ANTHROPIC_API_KEY \
		--broker "$MOCK_IP=header:x-api-key" >/dev/null
	box -- sh -c 'curl -sS -m 10 --proxytunnel -o /dev/null -w "%{http_code}\n" "$0/v1/models";
		curl -sS -m 10 --proxytunnel -H "x-api-key: $ANTHROPIC_API_KEY" "$0/v1/models" || echo refused' \
		"$MOCK" >"$C/out" 2>&1 || true
	[ "$(head -1 "$C/out")" = 200 ] || fail "plain HTTP in a tunnel to a brokered host: $(cat "$C/out")"
	grep -q '^refused$' "$C/out" || fail "the placeholder in plain text was not refused: $(cat "$C/out")"
	"$CLAWBOX" audit --project "$P" --json | grep '"net.broker"' >"$C/broker" || true
	grep '"decision":"deny"' "$C/broker" | grep -q '"what":"placeholder"' ||
		fail "no placeholder denial in the audit: $(cat "$C/broker")"
}
case_run "plain HTTP in a tunnel to a brokered host: tunnelled, a placeholder in it refused" case_plain_in_tunnel

# The pins are shared by every run: an agent cannot change them.
case_pins_read_only() {
	mkproj "$P"
	box -- sh -c "echo x >>'$NODE'" 2>"$C/err" && fail "the box wrote to the node pin"
	box -- sh -c "touch '$IN_BOX/planted'" 2>>"$C/err" && fail "the box wrote to the cache"
	[ ! -e "$AGENTS_CACHE/planted" ] || fail "planted in the cache"
	"$NODE_HOST" -v >/dev/null || fail "the node pin is broken"
}
case_run "the box cannot change the cached pins" case_pins_read_only
