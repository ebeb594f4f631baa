#!/usr/bin/env bash
# Commands in a box that is up (`clawbox up`), in one run, many iterations
# each, medians and ratios printed beside their targets:
# - `clawbox exec --box B -- true` (the CLI: a clawbox process per command)
#   and the same through the API over its unix socket (`clawbox serve`,
#   POST /v1/boxes/B/exec, one connection per request, from a client that
#   stays: the round trip alone) against a cold `bwrap --ro-bind / / --dev
#   /dev --proc /proc --unshare-all true` (targets: CLI <= 0.3x, API <=
#   0.1x) and against `codex sandbox -- true` (@openai/codex from npm,
#   pinned, cached outside the checkout; target: clawbox >= 20x faster);
# - 200 sessions in the box (`clawbox session create`): the supervisor's
#   RSS, and the memory per session (the PSS of the box's processes, all of
#   them, before and after, over 200; target <= 1 MiB);
# - exec throughput with 16 clients at once (CLI and API), beside one.
# What is missing (serve, npm's registry, sessions) is skipped with a line.
# CLAWBOX=BINARY benches another build (for example one with serve).
# usage: [CLAWBOX=BINARY] [SESSIONS=N] [CODEX_N=N] bench/exec.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
nsess=${SESSIONS:-200}
ncodex=${CODEX_N:-10}
codex_version=0.171.0
if ! command -v bwrap >/dev/null; then
	[ "$(id -u)" -eq 0 ] || { echo "bench: bubblewrap missing (apt-get install bubblewrap)" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
fi
[ -n "${CLAWBOX:-}" ] || make -s build/clawbox
cb=$(realpath "${CLAWBOX:-build/clawbox}")
if ! "$cb" up --help >/dev/null 2>&1; then
	echo "bench: this clawbox has no 'up': exec benchmark skipped"
	exit 0
fi
tmp=$(mktemp -d /tmp/clawbox-exec.XXXXXX)
state=$(mktemp -d /var/tmp/clawbox-exec.XXXXXX)
serve_pid=
cleanup() {
	[ -z "$serve_pid" ] || { kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true; }
	CLAWBOX_STATE_DIR="$state" "$cb" down --box bench >/dev/null 2>&1 || true
	scripts/unmount-boxes.sh "$state"
	chmod -R u+rwx "$tmp" "$state"
	rm -rf "$tmp" "$state"
}
trap cleanup EXIT
gcc -O2 -o "$tmp/spawn" bench/spawn.c
gcc -O2 -pthread -o "$tmp/execload" bench/execload.c
mkdir -p "$tmp/proj" && echo hi >"$tmp/proj/README"
export CLAWBOX_STATE_DIR="$state"
"$cb" up --box bench --project "$tmp/proj" >/dev/null
"$cb" exec --box bench -- true

# The API daemon, when this clawbox has one.
sock=$state/api.sock
if "$cb" serve --help >/dev/null 2>&1; then
	"$cb" serve --socket "$sock" >"$tmp/serve.log" 2>&1 &
	serve_pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	[ -S "$sock" ] || { echo "bench: clawbox serve did not start:"; cat "$tmp/serve.log"; exit 1; }
	api_body='{"argv":["true"]}'
	"$tmp/execload" 5 1 http "$sock" /v1/boxes/bench/exec "$api_body" >/dev/null
else
	echo "# clawbox serve is missing: the API's round trip skipped"
fi

# codex, pinned, installed once into the cache (never into the checkout).
codex_dir=${XDG_CACHE_HOME:-$HOME/.cache}/clawbox-bench/codex-$codex_version
codex=$codex_dir/node_modules/.bin/codex
if [ ! -x "$codex" ] && command -v npm >/dev/null; then
	mkdir -p "$codex_dir"
	(cd "$codex_dir" && npm init -y >/dev/null &&
		timeout 600 npm install --no-audit --no-fund --silent "@openai/codex@$codex_version" \
			>/dev/null 2>&1) || true
fi
# Its home beside it: codex puts helper binaries there, and refuses /tmp.
if [ -x "$codex" ] && mkdir -p "$codex_dir/home" &&
	CODEX_HOME="$codex_dir/home" "$codex" sandbox -- true >/dev/null 2>&1; then
	export CODEX_HOME="$codex_dir/home"
else
	echo "# codex $codex_version unavailable (npm's registry unreachable?): codex sandbox skipped"
	codex=
fi

# Rounds alternate the commands, so that a change of load on the machine
# falls on all of them alike; medians are over every run.
rounds=10
per=$(((n + rounds - 1) / rounds))
cper=$(((ncodex + rounds - 1) / rounds))
for _ in $(seq $rounds); do
	"$tmp/spawn" -a "$per" 2 true >>"$tmp/true"
	"$tmp/spawn" -a "$per" 2 bwrap --ro-bind / / --dev /dev --proc /proc --unshare-all \
		true >>"$tmp/bwrap"
	"$tmp/spawn" -a "$per" 2 "$cb" exec --box bench -- true >>"$tmp/cli"
	[ -z "$serve_pid" ] ||
		"$tmp/execload" -a "$per" 1 http "$sock" /v1/boxes/bench/exec "$api_body" >>"$tmp/api"
	[ -z "$codex" ] || "$tmp/spawn" -a "$cper" 0 "$codex" sandbox -- true >>"$tmp/codex"
done
med() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
t_true=$(med "$tmp/true")
t_bwrap=$(med "$tmp/bwrap")
t_cli=$(med "$tmp/cli")
t_api=$([ -s "$tmp/api" ] && med "$tmp/api" || echo 0)
t_codex=$([ -s "$tmp/codex" ] && med "$tmp/codex" || echo 0)
awk -v n="$((per * rounds))" -v nc="$((cper * rounds))" -v t="$t_true" -v b="$t_bwrap" \
	-v c="$t_cli" -v a="$t_api" -v x="$t_codex" 'BEGIN {
	printf "exec into an up box, %d runs each (medians):\n", n
	printf "  true (a process here)  %8.2f ms  %.3fx bwrap: the floor of any exec here\n", t / 1000, t / b
	printf "  bwrap --unshare-all    %8.2f ms  (cold)\n", b / 1000
	printf "  clawbox exec (CLI)     %8.2f ms  %.2fx bwrap (target <= 0.3)\n", c / 1000, c / b
	if (a > 0)
		printf "  API exec (unix socket) %8.2f ms  %.3fx bwrap (target <= 0.1)\n", a / 1000, a / b
	if (x > 0) {
		printf "  codex sandbox (%d runs) %7.2f ms  clawbox exec %.0fx faster", nc, x / 1000, x / c
		if (a > 0)
			printf ", API %.0fx", x / a
		printf " (target >= 20x)\n"
	}
}'

# The same commands with every process of them on one CPU (the daemon, the
# box's processes, the client and so the command): no wakeup of an idle CPU
# between them. On a virtual machine such a wakeup costs tens of
# microseconds (the hypervisor has to run the halted CPU again), and an exec
# crosses between processes ten times; this shows how much of the time above
# is that, and how much is the work. Not how clawbox runs: it pins nothing.
sup=$("$cb" status --box bench | sed -n 's/^state: *up (clawbox pid \([0-9]*\).*/\1/p')
descendants() {
	local p=$1 c
	echo "$p"
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do descendants "$c"; done
}
if [ -n "$sup" ] && command -v taskset >/dev/null; then
	cpus=$(taskset -c -p $$ | sed 's/.*: //')
	pin() { for p in $(descendants "$sup") $serve_pid; do taskset -a -c -p "$1" "$p" >/dev/null; done; }
	pin 0
	taskset -c 0 "$tmp/spawn" -a "$n" 2 true >"$tmp/true1"
	taskset -c 0 "$tmp/spawn" -a "$n" 2 "$cb" exec --box bench -- true >"$tmp/cli1"
	[ -z "$serve_pid" ] ||
		taskset -c 0 "$tmp/execload" -a "$n" 1 http "$sock" /v1/boxes/bench/exec "$api_body" >"$tmp/api1"
	pin "$cpus"
	awk -v c="$(med "$tmp/cli1")" -v a="$([ -s "$tmp/api1" ] && med "$tmp/api1" || echo 0)" \
		-v b="$t_bwrap" -v t="$(med "$tmp/true1")" 'BEGIN {
		printf "on one CPU (no wakeup of an idle CPU between the processes; a diagnostic):\n"
		printf "  true (a process here)  %8.2f ms  %.3fx bwrap\n", t / 1000, t / b
		printf "  clawbox exec (CLI)     %8.2f ms  %.2fx bwrap, %.2f ms over true\n", c / 1000, c / b, (c - t) / 1000
		if (a > 0)
			printf "  API exec (unix socket) %8.2f ms  %.3fx bwrap, %.2f ms over true\n", a / 1000, a / b, (a - t) / 1000
	}'
fi

# Memory: the supervisor (its RSS) and the box's processes, all of them
# (their PSS: shared pages counted once), before and after the sessions.
pss_kib() {
	local total=0 p v
	for p in $(descendants "$sup"); do
		v=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || true)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}
rss_kib() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status; }
if [ -z "$sup" ] || [ ! -d "/proc/$sup" ]; then
	echo "# the box's supervisor pid is unknown ('clawbox status'): memory skipped"
elif ! "$cb" session --help >/dev/null 2>&1; then
	echo "# this clawbox has no 'session': the $nsess sessions skipped"
else
	rss0=$(rss_kib "$sup")
	pss0=$(pss_kib)
	for i in $(seq "$nsess"); do "$cb" session create --box bench "s$i"; done
	"$cb" exec --box bench --session "s$nsess" -- true
	rss1=$(rss_kib "$sup")
	pss1=$(pss_kib)
	nproc=$(descendants "$sup" | wc -l)
	serve_rss=$([ -n "$serve_pid" ] && rss_kib "$serve_pid" || echo 0)
	awk -v s="$nsess" -v r0="$rss0" -v r1="$rss1" -v p0="$pss0" -v p1="$pss1" -v np="$nproc" \
		-v sr="$serve_rss" 'BEGIN {
		printf "%d sessions in one box:\n", s
		printf "  supervisor RSS         %8.2f MiB (%.2f MiB without sessions)\n", r1 / 1024, r0 / 1024
		printf "  the box, all %d processes: PSS %.2f MiB (%.2f MiB without sessions)\n", np, p1 / 1024, p0 / 1024
		printf "  per session            %8.3f MiB (target <= 1)\n", (p1 - p0) / s / 1024
		if (sr > 0)
			printf "  clawbox serve RSS      %8.2f MiB\n", sr / 1024
	}'
fi

# Throughput: 16 clients at once, beside one, the sessions still there.
m=$((n < 160 ? 160 : n))
read -r c1 _ _ cps1 < <("$tmp/execload" "$((m / 4))" 1 cmd "$cb" exec --box bench -- true)
read -r c16 _ _ cps16 < <("$tmp/execload" "$m" 16 cmd "$cb" exec --box bench -- true)
line() { awk -v l="$1" -v r="$2" -v t="$3" 'BEGIN { printf "  %-15s %7.1f /s  (%.2f ms each)\n", l, r, t / 1000 }'; }
printf 'exec throughput, %d execs (16 clients) and %d (1 client):\n' "$m" "$((m / 4))"
line "CLI, 1 client" "$cps1" "$c1"
line "CLI, 16 clients" "$cps16" "$c16"
if [ -n "$serve_pid" ]; then
	read -r a1 _ _ aps1 < <("$tmp/execload" "$((m / 4))" 1 http "$sock" /v1/boxes/bench/exec "$api_body")
	read -r a16 _ _ aps16 < <("$tmp/execload" "$m" 16 http "$sock" /v1/boxes/bench/exec "$api_body")
	line "API, 1 client" "$aps1" "$a1"
	line "API, 16 clients" "$aps16" "$a16"
fi
