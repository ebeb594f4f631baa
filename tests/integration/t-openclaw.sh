#!/usr/bin/env bash
# OpenClaw in clawbox, with the real package from npm (tests/agents/install.sh,
# pinned, cached outside the checkout):
#   - the sandbox backend plugin (integrations/openclaw) driven through
#     OpenClaw's own sandbox SDK: its file and exec calls land in the box's
#     overlay, the host project is unchanged until sync; a hostile model's
#     attempts (path traversal, symlinks, writes outside, argv injection)
#   - one agent turn of `openclaw agent exec` on the host with the backend:
#     the exec tool the mock LLM asks for runs in the box
#   - the gateway in an up box (the README's recipe): health through
#     `clawbox status`, POST /tools/invoke with and without the token, one
#     agent turn through the gateway (its exec tool), the mock LLM and the
#     mock Telegram Bot API reached through the proxy only (the audit), and
#     Telegram's pairing policy answering a stranger with a pairing code.
# The mocks (tests/agents/mock-llm.mjs, mock-telegram.mjs) run in a network
# namespace of their own. Root only; skipped with one line where npm cannot
# reach the registry.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AGENTS_SH=$ROOT/tests/agents/install.sh
OC_N=$((($$ % 200) + 20))
NS=cboc$$
VH=cboh$$
VR=cbor$$
HOST_IP=10.78.$OC_N.1
REMOTE_IP=10.78.$OC_N.2
TG_TOKEN=123456:clawbox-test-telegram-token
GW_TOKEN=gw-token-$$-0123456789abcdef
OC_PIDS=()

oc_cleanup() {
	for p in "${OC_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	ip link del "$VH" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	t_cleanup
}
trap oc_cleanup EXIT

# The whole file skips with one line when it cannot run.
skip_all() {
	echo "ok - $T_FILE: everything # SKIP $*"
	exit 0
}

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
command -v ip >/dev/null && command -v curl >/dev/null || skip_all "needs iproute2 and curl"
[ -f "$AGENTS_SH" ] || skip_all "tests/agents/install.sh is missing"
OC_DIR=$(bash "$AGENTS_SH" openclaw 2>"$T_TMP/install.err")
case $? in
0) ;;
2) skip_all "npm cannot reach the registry to install openclaw ($(tail -1 "$T_TMP/install.err"))" ;;
*) echo "not ok - $T_FILE: install.sh openclaw: $(tail -1 "$T_TMP/install.err")" && exit 1 ;;
esac
NODE=$OC_DIR/bin/node
# The agents' cache is in the caller's home, which boxes never see: a box
# that runs OpenClaw gets it at /mnt (see oc_up).
AGENTS=$(dirname "$OC_DIR")
BOX_OC=/mnt/$(basename "$OC_DIR")

remote_ns "$NS" "$VH" "$VR" "$HOST_IP" "$REMOTE_IP" || skip_all "cannot create a network namespace"
ip netns exec "$NS" "$NODE" "$ROOT/tests/agents/mock-llm.mjs" --listen "$REMOTE_IP:8080" \
	--log "$T_TMP/llm.log" >/dev/null 2>&1 &
OC_PIDS+=($!)
ip netns exec "$NS" "$NODE" "$ROOT/tests/agents/mock-telegram.mjs" --listen "$REMOTE_IP:8081" \
	--log "$T_TMP/tg.log" --token "$TG_TOKEN" >/dev/null 2>&1 &
OC_PIDS+=($!)
# Telegram over HTTPS too, its certificate from a CA of the test's own that
# clawbox's proxy trusts (CLAWBOX_UPSTREAM_CA_FILE): the gateway's bot token
# is brokered (docs/SECRETS.md), the mock gets the real one in the path.
TLS_DIR=$T_TMP/tls
mkdir -p "$TLS_DIR"
bash "$ROOT/tests/broker/certs.sh" "$TLS_DIR" "$REMOTE_IP" ||
	skip_all "openssl cannot make the test's certificates"
ip netns exec "$NS" "$NODE" "$ROOT/tests/agents/mock-telegram.mjs" --listen "$REMOTE_IP:8443" \
	--log "$T_TMP/tg.log" --token "$TG_TOKEN" --tls "$TLS_DIR/api.crt" "$TLS_DIR/api.key" >/dev/null 2>&1 &
OC_PIDS+=($!)
for _ in $(seq 100); do
	curl -s -m 1 -o /dev/null "http://$REMOTE_IP:8081/" && curl -s -m 1 -o /dev/null "http://$REMOTE_IP:8080/" &&
		curl -s -m 1 -o /dev/null --cacert "$TLS_DIR/ca.crt" "https://$REMOTE_IP:8443/" && break
	sleep 0.1
done

# The plugin beside an openclaw package, as OpenClaw loads it, plus the
# driver (tests/integration/openclaw-backend.mjs).
PLUG=$T_TMP/plugin
mkdir -p "$PLUG/node_modules"
cp "$ROOT"/integrations/openclaw/* "$ROOT/tests/integration/openclaw-backend.mjs" "$PLUG/"
ln -s "$OC_DIR/node_modules/openclaw" "$PLUG/node_modules/openclaw"

# drive SCOPEKEY OP ARG... [:: OP ARG...]...: backend calls
# (openclaw-backend.mjs) for the workspace $P, in one process; one JSON line
# each, into $C/r. line N: the Nth.
drive() { "$NODE" "$PLUG/openclaw-backend.mjs" "$CLAWBOX" "$P" "$@" >"$C/r"; }
line() { sed -n "$1p" "$C/r"; }
ok() { grep -q '"ok":true' <<<"$(line "$1")" || fail "call $1: expected ok: $(line "$1")"; }
refused() { grep -q '"ok":false' <<<"$(line "$1")" || fail "call $1: expected a refusal: $(line "$1")"; }
box_in() { line "$1" | sed -n 's/.*"box":"\([^"]*\)".*/\1/p'; }


backend_tools_land_in_the_box() {
	trap down_all EXIT
	mkproj "$P"
	snapshot "$P" >"$C/before"
	drive agent:main write notes/new.txt 'from openclaw' :: read README :: ls . :: \
		exec 'cat notes/new.txt; echo; pwd; echo made >tool.txt' :: mv tool.txt moved.txt :: \
		rm src :: box
	ok 1
	[ "$(line 2)" = '{"ok":true,"text":"hello\n"}' ] || fail "read: $(line 2)"
	line 3 | grep -q '"notes"' || fail "ls: $(line 3)"
	line 4 | grep -q '"stdout":"from openclaw\\n/workspace\\n"' || fail "exec: $(line 4)"
	ok 5
	ok 6
	box=$(box_in 7)
	$CLAWBOX status --box "$box" --json | grep -q "\"project\": \"$P\"" ||
		fail "the box's project is not the workspace"
	# the work is in the box's overlay, the host project unchanged
	snapshot "$P" | diff "$C/before" - || fail "the host project changed"
	[ "$(cat "$CLAWBOX_STATE_DIR/boxes/$box/upper/notes/new.txt")" = "from openclaw" ] || fail "overlay"
	# one box per scope; session: true puts the tools in a clawbox session
	# (no network)
	OC_PLUGIN_CONFIG='{"session":true}' drive agent:s box :: \
		exec 'curl -s -m 2 https://api.anthropic.com/ || echo no-net'
	[ "$(box_in 1)" != "$box" ] || fail "two scopes share a box"
	line 2 | grep -q '"argv":\[[^]]*"--session","oc-[0-9a-f]*","--"' && line 2 | grep -q 'no-net' ||
		fail "session: $(line 2)"
	# ... until the gate brings it home
	$CLAWBOX sync --box "$box" --auto >"$C/sync.out" 2>&1 || { cat "$C/sync.out"; fail "sync"; }
	[ "$(cat "$P/notes/new.txt")" = "from openclaw" ] && [ -f "$P/moved.txt" ] && [ ! -e "$P/src" ] ||
		fail "sync did not bring the work home"
	# the manager's removeRuntime (openclaw sandbox recreate) takes it down
	drive agent:main down
	ok 1
	! $CLAWBOX status --box "$box" --json | grep -q '"up"' || fail "still up"
}

# A hostile model's tool calls through the backend: paths out of the
# workspace, symlinks out of it, commands that write outside, clawbox options
# smuggled as commands or file names, a hostile scope key.
backend_refuses_a_hostile_model() {
	trap down_all EXIT
	mkproj "$P"
	mkdir -p "$C/outside"
	snapshot "$P" >"$C/before"
	drive agent:main write ../escape.txt x :: write "$C/outside/escape.txt" x :: \
		write /workspace/../../tmp/escape.txt x :: read /etc/shadow :: \
		read ../../../../etc/hostname :: exec 'ln -s /etc etc-link; ln -s .. up-link' :: \
		write etc-link/evil x :: read etc-link/hostname :: write up-link/escape.txt x :: \
		exec pwd /etc :: exec pwd /workspace/../etc :: \
		exec "echo pwned >/usr/clawbox-pwned-$$; cat /etc/shadow; ls /root; echo end" :: \
		exec '--box other -- id' :: write --project=/ x :: write -b x
	for n in 1 2 3 4 5 7 8 9 10 11; do refused $n; done
	ok 6
	# the box holds what the command does: no write outside, no host secret
	line 12 | grep -q 'Read-only file system' && line 12 | grep -q '"stdout":"end\\n"' ||
		fail "$(line 12)"
	[ ! -e /usr/clawbox-pwned-$$ ] || fail "a file landed in /usr"
	# clawbox options as commands and file names are the shell's arguments
	line 13 | grep -q '"code":127' || fail "option as command: $(line 13)"
	line 13 | grep -q '"argv":\["[^"]*","exec","--box","oc-agent-main-[0-9a-f]*","--","/bin/sh","-c",' ||
		fail "argv: $(line 13)"
	ok 14
	ok 15
	up=$(echo "$CLAWBOX_STATE_DIR"/boxes/oc-agent-main-*/upper)
	[ -f "$up/--project=" ] || [ -f "$up/-b" ] || fail "odd names: $(ls -A "$up")"
	# a hostile scope key still maps to a valid box of this workspace
	drive '../../x --project / ;$(id)' box
	box=$(box_in 1)
	[[ $box =~ ^oc-[a-z0-9._-]+-[0-9a-f]{12}$ ]] || fail "box name '$box'"
	$CLAWBOX status --box "$box" --json | grep -q "\"project\": \"$P\"" || fail "hostile scope's project"
	[ -z "$(ls -A "$C/outside")" ] || fail "a file landed outside"
	snapshot "$P" | diff "$C/before" - || fail "the host project changed"
}

# One agent turn of OpenClaw on the host (`openclaw agent exec`) with the
# backend: the mock LLM asks for its exec tool, which runs in the box.
agent_turn_runs_its_tool_in_the_box() {
	trap down_all EXIT
	mkproj "$P"
	mkdir -p "$C/oc-state"
	cat >"$C/openclaw.json" <<EOF
{
  "plugins": { "load": { "paths": ["$PLUG"] }, "allow": ["clawbox"],
               "entries": { "clawbox": { "enabled": true, "config": { "binary": "$CLAWBOX" } } } },
  "models": { "mode": "merge", "providers": { "mock": {
      "baseUrl": "http://$REMOTE_IP:8080/v1", "apiKey": "mock-key", "api": "openai-completions",
      "models": [ { "id": "mock-1", "name": "mock", "reasoning": false, "input": ["text"],
                    "contextWindow": 100000, "maxTokens": 4096 } ] } } },
  "agents": { "defaults": { "model": { "primary": "mock/mock-1" },
      "sandbox": { "mode": "all", "backend": "clawbox", "scope": "agent", "workspaceAccess": "rw" } } }
}
EOF
	HOME=$C OPENCLAW_STATE_DIR=$C/oc-state timeout 180 "$OC_DIR/bin/openclaw" agent exec \
		--config "$C/openclaw.json" --cwd "$P" --model mock/mock-1 --json \
		"Write the file. FILE=turn.txt" >"$C/turn.json" 2>"$C/turn.err" ||
		{ tail -n 20 "$C/turn.err"; tail -n 5 "$C/turn.json"; fail "openclaw agent exec"; }
	[ ! -e "$P/turn.txt" ] || fail "the tool wrote the host project"
	f=$(ls "$CLAWBOX_STATE_DIR"/boxes/oc-*/upper/turn.txt 2>/dev/null | head -1)
	[ -n "$f" ] && grep -q "written by" "$f" || { cat "$C/turn.json"; fail "no turn.txt in a box"; }
}

# oc_up BOX ARGS... -- CMD...: clawbox up with the agents' cache at /mnt
# (bind-mounted in a mount namespace of clawbox's own: the box clones its
# view of /). The box is created first in the host's namespace, so its disk
# image is mounted where every later command sees it.
oc_up() {
	local box=$1
	shift
	$CLAWBOX run --box "$box" --project "$P" -- true
	unshare -m --propagation private sh -c 'mount --bind "$0" /mnt && exec "$@"' \
		"$AGENTS" $CLAWBOX up --box "$box" --project "$P" "$@"
}

gateway_conf() {
	mkdir -p "$C/conf"
	cat >"$C/conf/openclaw.json" <<EOF
{
  "gateway": { "mode": "local", "port": 18789, "bind": "loopback", "auth": { "mode": "token" } },
  "models": { "mode": "merge", "providers": { "mock": {
      "baseUrl": "http://$REMOTE_IP:8080/v1", "apiKey": "mock-key", "api": "openai-completions",
      "models": [ { "id": "mock-1", "name": "mock", "reasoning": false, "input": ["text"],
                    "contextWindow": 100000, "maxTokens": 4096 } ] } } },
  "agents": { "defaults": { "model": { "primary": "mock/mock-1" }, "workspace": "/workspace" } },
  "tools": { "profile": "coding" },
  "channels": { "telegram": { "enabled": true, "dmPolicy": "pairing",
      "apiRoot": "${TG_ROOT:-http://$REMOTE_IP:8081}", "network": { "dangerouslyAllowPrivateNetwork": true } } }
}
EOF
	umask 077
	printf 'OPENCLAW_GATEWAY_TOKEN=%s\nTELEGRAM_BOT_TOKEN=%s\n' "$GW_TOKEN" "$TG_TOKEN" >"$C/secrets.env"
}

invoke() {
	curl -s -o /dev/null -w '%{http_code}' -m 30 "$@" -H 'Content-Type: application/json' \
		-d '{"tool":"sessions_list","args":{}}' "http://127.0.0.1:$PORT/tools/invoke"
}

# The recipe of docs/OPENCLAW.md: the gateway as the up box's command,
# published on $PORT; returns once `clawbox status` says it is healthy.
gateway_up() {
	CLAWBOX_UPSTREAM_CA_FILE=$TLS_DIR/ca.crt oc_up gw --config "$C/conf" --secrets "$C/secrets.env" --publish "$PORT:18789" \
		--health "http://127.0.0.1:$PORT/readyz" --allow-ip "$REMOTE_IP" \
		--setenv PATH="$BOX_OC/bin:/usr/bin:/bin" -- openclaw gateway run
	for _ in $(seq 180); do
		$CLAWBOX status --box gw | grep -q '^health:   ok' && break
		sleep 0.5
	done
	$CLAWBOX status --box gw | grep -q '^health:   ok (HTTP 200 from ' ||
		{ $CLAWBOX logs --box gw | tail -20; fail "the gateway is not healthy"; }
}

# gateway_turn FILE: one agent turn through the gateway (the CLI in the box),
# in a session of its own (the mock LLM calls a tool only in a conversation
# with no tool result yet); the mock has its exec tool write FILE. Output in
# $C/turn.out.
gateway_turn() {
	$CLAWBOX exec --box gw -- openclaw agent --agent main --session-id "turn-$1" --timeout 120 \
		--message "Write it. FILE=$1" >"$C/turn.out" 2>&1
}

gateway_in_an_up_box() {
	trap down_all EXIT
	mkproj "$P"
	TG_ROOT=https://$REMOTE_IP:8443 gateway_conf
	$CLAWBOX secrets --box gw --project "$P" broker TELEGRAM_BOT_TOKEN "$REMOTE_IP=path" >/dev/null
	PORT=$((28000 + OC_N))
	snapshot "$P" >"$C/before"
	gateway_up
	[ "$(invoke)" = 401 ] || fail "tools/invoke without a token"
	[ "$(invoke -H 'Authorization: Bearer wrong')" = 401 ] || fail "tools/invoke with a wrong token"
	for _ in $(seq 20); do # ready, its session store may still be opening
		code=$(invoke -H "Authorization: Bearer $GW_TOKEN")
		[ "$code" != 500 ] && break
		sleep 0.5
	done
	[ "$code" = 200 ] || fail "tools/invoke with the token: $code"
	# one agent turn through the gateway: its exec tool writes in the box
	gateway_turn gw-turn.txt || { tail -20 "$C/turn.out"; fail "openclaw agent"; }
	grep -q "written by" "$CLAWBOX_STATE_DIR/boxes/gw/upper/gw-turn.txt" ||
		{
			$CLAWBOX exec --box gw -- sh -c 'ls -la /workspace; find / -xdev -name gw-turn.txt 2>/dev/null'
			ls -la "$CLAWBOX_STATE_DIR/boxes/gw/" "$CLAWBOX_STATE_DIR/boxes/gw/upper/"
			fail "the exec tool's file is not in the overlay"
		}
	# Telegram: long polling through the proxy; a stranger's DM gets a
	# pairing code (dmPolicy pairing), never the agent
	for _ in $(seq 60); do grep -q '"api":"sendMessage"' "$T_TMP/tg.log" 2>/dev/null && break; sleep 0.5; done
	grep -q '"api":"getUpdates"' "$T_TMP/tg.log" || fail "no long polling"
	grep '"api":"sendMessage"' "$T_TMP/tg.log" | grep '"chat_id":"\{0,1\}4242' | grep -qi 'pair' ||
		fail "no pairing answer: $(cat "$T_TMP/tg.log")"
	! grep -q 'hello bot' "$T_TMP/llm.log" || fail "a stranger's message reached the agent"
	# the mocks were reached through the proxy only
	$CLAWBOX audit --box gw --net >"$C/net"
	grep -q "ALLOW.*$REMOTE_IP:8080" "$C/net" || fail "the LLM not through the proxy: $(tail "$C/net")"
	grep -q "ALLOW.*$REMOTE_IP:8443" "$C/net" || fail "Telegram not through the proxy"
	# the bot token is brokered: the gateway holds a placeholder of its
	# shape, the mock got the real token (never a 401), the audit has it
	local env ph
	env=$(for p in $(pgrep -f 'openclaw'); do tr '\0' '\n' <"/proc/$p/environ"; done 2>/dev/null |
		grep '^TELEGRAM_BOT_TOKEN=' | sort -u)
	ph=${env#TELEGRAM_BOT_TOKEN=}
	[ -n "$env" ] && [ "$(echo "$env" | wc -l)" -eq 1 ] || fail "the gateway's token variable: $env"
	[ "$ph" != "$TG_TOKEN" ] && [ "${#ph}" -eq "${#TG_TOKEN}" ] || fail "the gateway holds the token"
	! grep -q '"status":401' "$T_TMP/tg.log" || fail "a Telegram call without the real token"
	$CLAWBOX audit --box gw --json | grep '"net.broker"' | grep '"decision":"allow"' |
		grep -q '"secrets":\["TELEGRAM_BOT_TOKEN"\]' || fail "no brokered Telegram call in the audit"
	snapshot "$P" | diff "$C/before" - || fail "the host project changed"
}

# Issue 13 item 7: OpenClaw seeded its workspace (/workspace: the overlay)
# and attested it in its state (the box home); `clawbox reset` drops the
# first, and with it the attestation (the openclaw profile's [[reset]]): a
# turn after the reset works (it failed with WorkspaceVanishedError).
gateway_turn_after_reset() {
	trap down_all EXIT
	mkproj "$P"
	gateway_conf
	PORT=$((28200 + OC_N))
	gateway_up
	gateway_turn first.txt || { tail -20 "$C/turn.out"; fail "the first turn"; }
	[ -f "$CLAWBOX_STATE_DIR/boxes/gw/upper/AGENTS.md" ] || fail "OpenClaw seeded no workspace"
	$CLAWBOX down --box gw
	$CLAWBOX reset --box gw --yes >"$C/reset.out" || fail "reset: $(cat "$C/reset.out")"
	grep -qF "removed ~/.openclaw-state/state" "$C/reset.out" ||
		fail "reset kept OpenClaw's attestation: $(cat "$C/reset.out")"
	gateway_up
	gateway_turn second.txt || { tail -20 "$C/turn.out"; fail "the turn after the reset"; }
	grep -q "written by" "$CLAWBOX_STATE_DIR/boxes/gw/upper/second.txt" || fail "second.txt"
}

# OC_ONLY=FUNCTION runs one case (when working on this file).
oc_case() { [ -z "${OC_ONLY:-}" ] || [ "$OC_ONLY" = "$2" ] && case_run "$@"; }

oc_case "backend: OpenClaw's file and exec calls land in the box, home through sync" \
	backend_tools_land_in_the_box
oc_case "backend: a hostile model's paths, symlinks, commands and options" \
	backend_refuses_a_hostile_model
oc_case "backend: an agent turn's exec tool runs in the box" agent_turn_runs_its_tool_in_the_box
oc_case "gateway in an up box: health, tools/invoke, a turn, Telegram pairing, the proxy" \
	gateway_in_an_up_box
oc_case "reset: a turn after clawbox reset (OpenClaw's workspace in the overlay)" \
	gateway_turn_after_reset
