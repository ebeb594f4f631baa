#!/usr/bin/env bash
# What the box adds to an agent turn: the same `claude -p` turn (one Bash
# tool call, then a final answer, from the mock LLM of the tests,
# tests/agents/mock-llm.mjs, in a network namespace this script creates:
# veth pair, 10.78.254.0/24) run outside the box (straight to the mock) and
# in it (clawbox run: the box's start, the proxy, the overlay), rounds
# alternating, Claude Code's non-essential traffic off in both. Prints the median and p90 of each and the difference of the
# medians. Claude Code is the pin of tests/agents/install.sh (installed when
# missing). Needs root (namespaces, veth).
# BASELINE=BINARY puts another clawbox in the same rounds.
# usage: [BASELINE=BINARY] bench/agents.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
[ "$(id -u)" -eq 0 ] || { echo "bench/agents: skipped (needs root for network namespaces)" >&2; exit 0; }
pins=$(bash tests/agents/install.sh claude) || { echo "bench/agents: skipped (npm cannot install Claude Code)" >&2; exit 0; }
make -s build/clawbox
cache=$(dirname "$pins")
claude_box=/srv/$(basename "$pins")/bin/claude
tmp=$(mktemp -d /tmp/clawbox-bench-agents.XXXXXX)
ns=cbagb$$ vh=cbagbh$$ vr=cbagbr$$ host=10.78.254.1 mock=10.78.254.2
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	ip link del "$vh" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	scripts/unmount-boxes.sh "$tmp"
	chmod -R u+rwx "$tmp" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
. scripts/remote-ns.sh
remote_ns "$ns" "$vh" "$vr" "$host" "$mock"
ip netns exec "$ns" node tests/agents/mock-llm.mjs --listen "$mock:8080" --log "$tmp/mock.log" &
pid=$!
for _ in $(seq 50); do grep -q listening "$tmp/mock.log" 2>/dev/null && break; sleep 0.1; done
mkdir -p "$tmp/out" "$tmp/home" "$tmp/proj"
echo hello >"$tmp/proj/README"
export CLAWBOX_STATE_DIR="$tmp/state"
key=sk-ant-bench-0123456789abcdef
prompt="write the file FILE=bench.txt"
# Claude Code's calls home (api.anthropic.com: no DNS on a test machine, or
# denied by the proxy) cost seconds, differently outside and in: off in both.
quiet=CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1

# outside: the turn on the host, its own HOME, straight to the mock.
outside() {
	(cd "$tmp/out" && env HOME=$tmp/home IS_SANDBOX=1 $quiet ANTHROPIC_API_KEY=$key ANTHROPIC_BASE_URL=http://$mock:8080 \
		"$pins/bin/claude" -p "$prompt" --dangerously-skip-permissions >/dev/null)
}
# inside BINARY BOX: the turn in a box (the pins at /srv in a mount
# namespace of this script's own), through the proxy.
inside() {
	unshare -m sh -c 'mount --bind "$0" /srv && exec "$@"' "$cache" \
		"$1" run --box "$2" --project "$tmp/proj" --allow-ip "$mock" --deny-domain api.anthropic.com \
		-e ANTHROPIC_API_KEY=$key -e ANTHROPIC_BASE_URL="http://$mock:8080" -e IS_SANDBOX=1 \
		-e "$quiet" -- "$claude_box" -p "$prompt" --dangerously-skip-permissions >/dev/null 2>&1
}
ms() { date +%s%N; }
# time_of CMD...: CMD's wall time in ms on stdout.
time_of() {
	local s
	s=$(ms)
	"$@" || { echo "bench/agents: '$*' failed" >&2; exit 1; }
	echo $((($(ms) - s) / 1000000))
}
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "median %5d ms  p90 %5d ms", v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)] }'; }

# One warm-up each (Claude Code's first run writes its config; the box is made).
outside
inside build/clawbox benchagents
[ -n "${BASELINE:-}" ] && inside "$BASELINE" benchagentsbase
for _ in $(seq "$n"); do
	time_of outside >>"$tmp/t.out"
	time_of inside build/clawbox benchagents >>"$tmp/t.in"
	[ -n "${BASELINE:-}" ] && time_of inside "$BASELINE" benchagentsbase >>"$tmp/t.base"
done
echo "bench/agents: one claude -p turn (a Bash tool call, then the answer), $n rounds"
echo "  outside the box     $(stats <"$tmp/t.out")"
echo "  in the box          $(stats <"$tmp/t.in")"
[ -n "${BASELINE:-}" ] && echo "  baseline box        $(stats <"$tmp/t.base")"
mo=$(sort -n "$tmp/t.out" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
mi=$(sort -n "$tmp/t.in" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "  the box adds        $((mi - mo)) ms to a turn (medians)"
