#!/usr/bin/env bash
# Agent profiles (docs/AGENTS.md): --explain, the environment a box gets
# (profile < env file < --setenv), the files a profile seeds in the box home
# (never over the user's, never through a symlink), settings that are not
# secrets, the names clawbox refuses, and bad profile overrides.
. "$(dirname "$0")/lib.sh"

# boxdir: the state dir of the case's only box.
boxdir() { echo "$CLAWBOX_STATE_DIR/boxes/$(ls "$CLAWBOX_STATE_DIR/boxes")"; }

# refused WHAT NEEDLE CMD...: CMD exits 125 and says NEEDLE on stderr.
refused() {
	local what=$1 needle=$2 rc=0
	shift 2
	"$@" >"$C/out" 2>"$C/err" || rc=$?
	[ $rc -eq 125 ] || fail "$what: exit $rc, not 125 ($(cat "$C/err"))"
	grep -qF -- "$needle" "$C/err" || fail "$what: no '$needle' in: $(cat "$C/err")"
}

explain() {
	mkproj "$P"
	cd "$P"
	out=$("$CLAWBOX" run --agent claude --explain)
	for s in "agent profile 'claude' (built-in agents/claude.toml), picked by --agent claude" \
		"IS_SANDBOX=1  (profile claude)" "platform.claude.com" "why: " "NODE_USE_ENV_PROXY=1"; do
		echo "$out" | grep -qF "$s" || fail "no '$s' in: $out"
	done
	[ ! -e "$CLAWBOX_STATE_DIR/boxes" ] || [ -z "$(ls "$CLAWBOX_STATE_DIR/boxes")" ] ||
		fail "--explain created a box"
	out=$("$CLAWBOX" run --explain -- npx -y @openai/codex@0.171.0 exec hi)
	echo "$out" | grep -qF "agent profile 'codex'" || fail "npx codex: $out"
	echo "$out" | grep -qF "~/.codex/config.toml (mode 0600)" || fail "codex file: $out"
	out=$("$CLAWBOX" run --explain --setenv A_URL=http://x -- /usr/bin/openclaw gateway)
	echo "$out" | grep -qF "OPENCLAW_STATE_DIR=/home/clawbox/.openclaw-state" || fail "$out"
	echo "$out" | grep -qF "A_URL=http://x  (--setenv)" || fail "$out"
	out=$("$CLAWBOX" run --explain -- node /x/node_modules/@openai/codex/bin/codex.js)
	echo "$out" | grep -qF "agent profile: none" || fail "node picked a profile: $out"
	out=$("$CLAWBOX" shell --agent aider --explain)
	echo "$out" | grep -qF "AIDER_CHECK_UPDATE=false" || fail "shell: $out"
	refused "unknown profile" "no agent profile 'nosuch'" "$CLAWBOX" run --agent nosuch --explain
	refused "bad profile name" "invalid agent profile name" "$CLAWBOX" run --agent ../x -- true
}

box_env() {
	mkproj "$P"
	out=$("$CLAWBOX" run --project "$P" --agent claude -- env)
	for kv in IS_SANDBOX=1 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
		NODE_USE_ENV_PROXY=1 \
		HTTPS_PROXY=http://127.0.0.1:3128; do
		echo "$out" | grep -qxF "$kv" || fail "no $kv in: $out"
	done
	out=$("$CLAWBOX" run --project "$P" --agent none -- env)
	! echo "$out" | grep -q '^IS_SANDBOX=' || fail "--agent none set IS_SANDBOX"
	echo "$out" | grep -qxF NODE_USE_ENV_PROXY=1 || fail "proxy box without NODE_USE_ENV_PROXY"
	out=$("$CLAWBOX" run --project "$P" --net none -- env)
	! echo "$out" | grep -q '^NODE_USE_ENV_PROXY=' || fail "--net none has NODE_USE_ENV_PROXY"
	"$CLAWBOX" audit --project "$P" >"$C/audit"
	grep -F '"profile":"claude"' "$C/audit" | grep -qF '"picked_by":"--agent claude"' ||
		fail "run.start without the profile: $(grep run.start "$C/audit")"
}

codex_seeded() {
	mkproj "$P"
	printf '#!/bin/sh\ncat "$HOME/.codex/config.toml"; stat -c %%a "$HOME/.codex/config.toml"\n' >"$P/codex"
	chmod 755 "$P/codex"
	out=$("$CLAWBOX" run --project "$P" -- "$P/codex")
	echo "$out" | grep -qxF 'sandbox_mode = "danger-full-access"' || fail "not seeded: $out"
	echo "$out" | grep -qx 600 || fail "mode: $out"
	"$CLAWBOX" audit --project "$P" | grep -F '"profile":"codex"' |
		grep -qF "\"picked_by\":\"the command 'codex'\"" || fail "audit: no codex profile"
	# The user's own file is never written over.
	"$CLAWBOX" run --project "$P" --agent none -- sh -c 'echo mine >~/.codex/config.toml'
	out=$("$CLAWBOX" run --project "$P" -- "$P/codex")
	echo "$out" | grep -qx mine || fail "the user's config was replaced: $out"
}

codex_symlink() {
	mkproj "$P"
	mkdir "$C/outside"
	# A hostile agent plants ~/.codex -> a host directory for the next run.
	"$CLAWBOX" run --project "$P" -- sh -c "ln -s '$C/outside' ~/.codex"
	refused "symlinked ~/.codex" "cannot write '~/.codex/config.toml'" \
		"$CLAWBOX" run --project "$P" --agent codex -- true
	[ -z "$(ls -A "$C/outside")" ] || fail "wrote through the symlink: $(ls -A "$C/outside")"
	"$CLAWBOX" run --project "$P" -- sh -c "rm ~/.codex; mkdir ~/.codex; ln -s '$C/outside/f' ~/.codex/config.toml"
	"$CLAWBOX" run --project "$P" --agent codex -- true
	[ ! -e "$C/outside/f" ] || fail "wrote through a symlinked config.toml"
}

openclaw_state() {
	mkproj "$P"
	mkdir "$C/conf"
	echo '{}' >"$C/conf/openclaw.json"
	# The profile is picked by the command: a fake openclaw.
	printf '#!/bin/sh\necho "$OPENCLAW_STATE_DIR $OPENCLAW_CONFIG_PATH"\nmkdir -p "$OPENCLAW_STATE_DIR/state" && touch "$OPENCLAW_STATE_DIR/state/ok"\ncat "$OPENCLAW_CONFIG_PATH"\n' >"$P/openclaw"
	chmod 755 "$P/openclaw"
	out=$("$CLAWBOX" run --project "$P" --config "$C/conf" -- "$P/openclaw")
	echo "$out" | grep -qxF "/home/clawbox/.openclaw-state /home/clawbox/.openclaw/openclaw.json" ||
		fail "openclaw env: $out"
	echo "$out" | grep -qxF '{}' || fail "config not read: $out"
	out=$("$CLAWBOX" run --project "$P" --config "$C/conf" -- env)
	echo "$out" | grep -qxF OPENCLAW_CONFIG_READONLY=1 && fail "not openclaw: a profile anyway"
	out=$("$CLAWBOX" run --project "$P" --config "$C/conf" --agent openclaw -- env)
	echo "$out" | grep -qxF OPENCLAW_CONFIG_READONLY=1 || fail "no READONLY with --config: $out"
	out=$("$CLAWBOX" run --project "$P" --agent openclaw -- env)
	! echo "$out" | grep -q '^OPENCLAW_CONFIG_READONLY=' || fail "READONLY without --config"
	out=$("$CLAWBOX" run --project "$P" --config "$C/conf:/home/clawbox/oc" -- "$P/openclaw")
	echo "$out" | grep -qxF "/home/clawbox/.openclaw-state /home/clawbox/oc/openclaw.json" ||
		fail "--config DIR:PATH: $out"
	echo "$out" | grep -qxF '{}' || fail "config not read at its PATH: $out"
	[ -e "$(boxdir)/home/.openclaw-state/state/ok" ] || [ -e "$(boxdir)/disk/home/.openclaw-state/state/ok" ] ||
		fail "state not kept in the box home"
}

setenv_not_secret() {
	mkproj "$P"
	out=$("$CLAWBOX" run --project "$P" --agent none --setenv SHORT=ab \
		--setenv BASE_URL=http://mock.example:8080/v1 -- sh -c 'echo "$SHORT $BASE_URL"; echo ab' 2>"$C/err")
	echo "$out" | grep -qxF "ab http://mock.example:8080/v1" || fail "values: $out"
	echo "$out" | grep -qx ab || fail "redacted: $out"
	[ ! -s "$C/err" ] || fail "warned: $(cat "$C/err")"
	! grep -qF "SHORT" "$(boxdir)/secrets.known" 2>/dev/null || fail "a setting became a known secret"
	# The box's env file: over the profile, under --setenv.
	printf '# settings\nFROM_FILE=one\nIS_SANDBOX=from-file\nSHORT=file\n' >"$(boxdir)/env"
	out=$("$CLAWBOX" run --project "$P" --agent claude --setenv SHORT=cli -- env)
	for kv in FROM_FILE=one IS_SANDBOX=from-file SHORT=cli; do
		echo "$out" | grep -qxF "$kv" || fail "no $kv in: $out"
	done
}

refused_names() {
	mkproj "$P"
	for kv in HTTPS_PROXY= https_proxy=http://evil:1 NO_PROXY=* NODE_USE_ENV_PROXY=0 \
		LD_PRELOAD=/x.so CLAWBOX_BOX=x HOME=/; do
		refused "--setenv $kv" "cannot set '${kv%%=*}'" \
			"$CLAWBOX" run --project "$P" --setenv "$kv" -- true
	done
	refused "--setenv without =" "NAME=VALUE expected" "$CLAWBOX" run --project "$P" --setenv X -- true
	refused "--setenv bad name" "invalid variable name" "$CLAWBOX" run --project "$P" --setenv 1X=a -- true
	refused "a secret's name" "'TOKEN' is both a setting (--setenv) and a secret of this run (-e)" \
		"$CLAWBOX" run --project "$P" -e TOKEN=value-1234567890 --setenv TOKEN=x -- true
	"$CLAWBOX" run --project "$P" -- true
	echo "stored-value-123456" | "$CLAWBOX" secrets set --project "$P" API_KEY >/dev/null
	printf 'API_KEY=plain\n' >"$(boxdir)/env"
	refused "env file: a secret's name" "'API_KEY' is both a setting ($(boxdir)/env:1)" \
		"$CLAWBOX" run --project "$P" -- true
	printf '# c\nOK=1\nHTTPS_PROXY=http://evil:1\n' >"$(boxdir)/env"
	refused "env file: proxy" "$(boxdir)/env:3: cannot set 'HTTPS_PROXY'" \
		"$CLAWBOX" run --project "$P" -- true
	printf 'OK=1\nnot a line\n' >"$(boxdir)/env"
	refused "env file: bad line" "$(boxdir)/env:2:" "$CLAWBOX" run --project "$P" -- true
}

override() {
	mkproj "$P"
	"$CLAWBOX" run --project "$P" -- true
	mkdir "$(boxdir)/agents"
	printf 'commands = ["claude"]\n[[env]]\nname = "MINE"\nvalue = "1"\n' >"$(boxdir)/agents/claude.toml"
	out=$("$CLAWBOX" run --project "$P" --agent claude -- env)
	echo "$out" | grep -qxF MINE=1 || fail "override not applied: $out"
	! echo "$out" | grep -q '^IS_SANDBOX=' || fail "override merged with the built-in"
	cd "$P"
	"$CLAWBOX" run --agent claude --explain | grep -qF "$(boxdir)/agents/claude.toml" ||
		fail "--explain does not name the override"
	printf 'commands = ["claude"]\n[[env]]\nname = "MINE"\nvalu = "1"\n' >"$(boxdir)/agents/claude.toml"
	refused "bad override" "$(boxdir)/agents/claude.toml:4: unknown key 'valu' in [[env]]" \
		"$CLAWBOX" run --project "$P" --agent claude -- true
	refused "bad override, picked by name" "agents/claude.toml:4:" \
		"$CLAWBOX" run --project "$P" -- true
	printf '[[env]]\nname = "HTTPS_PROXY"\nvalue = "http://evil:1"\n' >"$(boxdir)/agents/claude.toml"
	refused "override sets the proxy" "agents/claude.toml:1: cannot set 'HTTPS_PROXY'" \
		"$CLAWBOX" run --project "$P" --agent claude -- true
	printf '[[allow]]\ndomain = "bad..domain"\n' >"$(boxdir)/agents/claude.toml"
	refused "override: bad domain" "agents/claude.toml:1: invalid domain pattern 'bad..domain'" \
		"$CLAWBOX" run --project "$P" --agent claude -- true
	printf '[[file]]\npath = "../../escape"\ncontent = "x"\n' >"$(boxdir)/agents/claude.toml"
	refused "override: path out of the home" "agents/claude.toml:2:" \
		"$CLAWBOX" run --project "$P" --agent claude -- true
}

need_root
# reset removes what a profile ties to the workspace (OpenClaw's attestation
# of the workspace it seeded), keeps the rest of the home, and never
# follows a symlink the box planted there.
reset_agent_state() {
	mkproj "$P"
	mkdir -p "$C/outside/state"
	echo host >"$C/outside/state/file"
	"$CLAWBOX" run --project "$P" -- sh -c 'mkdir -p ~/.openclaw-state/state ~/.openclaw-state/agents && touch ~/.openclaw-state/state/openclaw.sqlite ~/.openclaw-state/agents/keep'
	out=$("$CLAWBOX" reset --project "$P" --yes) || fail "reset: $out"
	echo "$out" | grep -qF "removed ~/.openclaw-state/state from the box home (agent profile 'openclaw'" ||
		fail "reset did not say it: $out"
	out=$("$CLAWBOX" run --project "$P" -- sh -c 'ls ~/.openclaw-state; ls ~/.openclaw-state/agents')
	[ "$out" = "$(printf 'agents\nkeep')" ] || fail "the home after reset: $out"
	# a planted link: removed itself, its target untouched
	"$CLAWBOX" run --project "$P" -- sh -c "rm -r ~/.openclaw-state; ln -s '$C/outside' ~/.openclaw-state"
	"$CLAWBOX" reset --project "$P" --yes >/dev/null || fail "reset with a planted link"
	[ "$(cat "$C/outside/state/file")" = host ] || fail "reset followed the box's symlink"
	out=$("$CLAWBOX" reset --project "$P" --yes) || fail "reset: $out"
	! echo "$out" | grep -q removed || fail "nothing to remove, yet: $out"
}

case_run "--explain prints the profile and starts nothing" explain
case_run "the box's environment: the profile's, NODE_USE_ENV_PROXY" box_env
case_run "codex: its config seeded, the user's kept" codex_seeded
case_run "codex: no seeding through a symlink the box planted" codex_symlink
case_run "openclaw: state writable beside a read-only --config" openclaw_state
case_run "--setenv and the env file: not secrets, precedence" setenv_not_secret
case_run "refused names: proxy, LD_*, clawbox's, a secret's" refused_names
case_run "a box's profile override replaces; a bad one is refused" override
case_run "reset removes what a profile ties to the workspace, no symlink followed" reset_agent_state
