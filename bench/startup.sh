#!/usr/bin/env bash
# Start-up cost of a box: `clawbox run -- true` with the full box (overlay,
# all namespaces, seccomp, Landlock) against Debian's bubblewrap with
# `--ro-bind / / --dev /dev --proc /proc --unshare-all --die-with-parent` and
# plain `true`, in one run, many iterations each. Prints medians, the ratio
# clawbox/bwrap (target <= 1.0) and clawbox's peak RSS (target <= 4 MiB).
# usage: bench/startup.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
if ! command -v bwrap >/dev/null; then
	[ "$(id -u)" -eq 0 ] || { echo "bench: bubblewrap missing (apt-get install bubblewrap)" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
fi
make -s build/clawbox
tmp=$(mktemp -d /tmp/clawbox-bench.XXXXXX)
trap 'chmod -R u+rwx "$tmp"; rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/spawn" bench/spawn.c
mkdir -p "$tmp/proj" && echo hi >"$tmp/proj/README"
export CLAWBOX_STATE_DIR="$tmp/state"
cb=$(realpath build/clawbox)
"$cb" run --box bench --project "$tmp/proj" -- true

# Rounds alternate the three commands, so that a change of load on the
# machine falls on all of them alike; medians are over every run.
rounds=10
per=$(((n + rounds - 1) / rounds))
for _ in $(seq $rounds); do
	"$tmp/spawn" -a "$per" 2 true >>"$tmp/true"
	"$tmp/spawn" -a "$per" 2 bwrap --ro-bind / / --dev /dev --proc /proc --unshare-all \
		--die-with-parent true >>"$tmp/bwrap"
	"$tmp/spawn" -a "$per" 2 "$cb" run --box bench --project "$tmp/proj" -- true >>"$tmp/cb"
done
stats() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[int(NR/10)+1], a[int(NR*9/10)]}'; }
read -r t_true _ _ < <(stats "$tmp/true")
read -r t_bwrap b10 b90 < <(stats "$tmp/bwrap")
read -r t_cb c10 c90 < <(stats "$tmp/cb")
n=$((per * rounds))
# Peak RSS of clawbox alone (the box's processes included) in a separate run.
read -r _ _ _ rss < <("$tmp/spawn" 20 0 "$cb" run --box bench --project "$tmp/proj" -- true)

awk -v n="$n" -v t="$t_true" -v b="$t_bwrap" -v b10="$b10" -v b90="$b90" \
	-v c="$t_cb" -v c10="$c10" -v c90="$c90" -v rss="$rss" 'BEGIN {
	printf "startup, %d runs each (median, p10-p90):\n", n
	printf "  true                 %7.2f ms\n", t / 1000
	printf "  bwrap --unshare-all  %7.2f ms  (%.2f-%.2f)\n", b / 1000, b10 / 1000, b90 / 1000
	printf "  clawbox run (full)   %7.2f ms  (%.2f-%.2f)\n", c / 1000, c10 / 1000, c90 / 1000
	printf "  ratio clawbox/bwrap  %7.2f   (target <= 1.0)\n", c / b
	printf "  ratio clawbox/true   %7.1f\n", c / t
	printf "  peak RSS (clawbox)   %7.2f MiB (target <= 4)\n", rss / 1024
}'
