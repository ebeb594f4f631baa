#!/usr/bin/env bash
# Start-up cost of a box: `clawbox run -- true` with the full box (overlay,
# all namespaces, seccomp, Landlock) against Debian's bubblewrap with
# `--ro-bind / / --dev /dev --proc /proc --unshare-all --die-with-parent` and
# plain `true`, in one run, many iterations each. Prints medians, the ratio
# clawbox/bwrap (target <= 1.0) beside the machine's cost of a plain `true`
# (posix_spawn, exec, exit, wait: what a process costs here; the ratio moves
# with it, see bench/README.md) and clawbox's peak RSS (target <= 4 MiB).
# As root the box has its disk cap (its image mounted at $BOX/disk, as every
# box made as root); the same rounds also run a box without one (as made
# before disk caps), and with EXTRA=N, N more capped boxes are mounted in
# the state dir (each box start clones the mounts beneath /var).
# BASELINE=BINARY adds another clawbox (the build before a change) to the
# same rounds and prints the ratio of this one to it.
# usage: [EXTRA=N] [BASELINE=BINARY] bench/startup.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
if ! command -v bwrap >/dev/null; then
	[ "$(id -u)" -eq 0 ] || { echo "bench: bubblewrap missing (apt-get install bubblewrap)" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
fi
make -s build/clawbox
tmp=$(mktemp -d /tmp/clawbox-bench.XXXXXX)
# The state dir where root's is (/var/lib/clawbox): beneath /var, whose
# mounts every box start clones.
state=$(mktemp -d /var/tmp/clawbox-bench.XXXXXX)
cleanup() {
	scripts/unmount-boxes.sh "$state"
	chmod -R u+rwx "$tmp" "$state"
	rm -rf "$tmp" "$state"
}
trap cleanup EXIT
gcc -O2 -o "$tmp/spawn" bench/spawn.c
mkdir -p "$tmp/proj" && echo hi >"$tmp/proj/README"
export CLAWBOX_STATE_DIR="$state"
cb=$(realpath build/clawbox)
"$cb" run --box bench --project "$tmp/proj" -- true
# A box without a disk cap: its state as clawbox made it before disk caps.
nocap="$state/boxes/bench-nocap"
mkdir -m 0700 "$nocap" "$nocap/work" "$nocap/home"
mkdir -m 0755 "$nocap/upper"
touch "$nocap/lock"
printf '{"version": 1, "name": "bench-nocap", "project": "%s", "mode": "secure", "created": 0}\n' \
	"$tmp/proj" >"$nocap/box.json"
"$cb" run --box bench-nocap --project "$tmp/proj" -- true
# BASELINE=BINARY: another clawbox (e.g. the build before a change) in the
# same rounds, with a capped box of its own.
base=${BASELINE:-}
[ -z "$base" ] || "$base" run --box bench-base --project "$tmp/proj" -- true
for i in $(seq "${EXTRA:-0}"); do
	mkdir -p "$tmp/p$i"
	"$cb" run --box "extra$i" --project "$tmp/p$i" -- true
done
capped=$("$cb" status --box bench | sed -n 's/^disk: *//p')

# Rounds alternate the three commands, so that a change of load on the
# machine falls on all of them alike; medians are over every run.
rounds=10
per=$(((n + rounds - 1) / rounds))
for _ in $(seq $rounds); do
	"$tmp/spawn" -a "$per" 2 true >>"$tmp/true"
	"$tmp/spawn" -a "$per" 2 bwrap --ro-bind / / --dev /dev --proc /proc --unshare-all \
		--die-with-parent true >>"$tmp/bwrap"
	"$tmp/spawn" -a "$per" 2 "$cb" run --box bench --project "$tmp/proj" -- true >>"$tmp/cb"
	"$tmp/spawn" -a "$per" 2 "$cb" run --box bench-nocap --project "$tmp/proj" -- true >>"$tmp/nocap"
	[ -z "$base" ] || "$tmp/spawn" -a "$per" 2 "$base" run --box bench-base --project "$tmp/proj" -- true >>"$tmp/base"
done
stats() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[int(NR/10)+1], a[int(NR*9/10)]}'; }
read -r t_true _ _ < <(stats "$tmp/true")
read -r t_bwrap b10 b90 < <(stats "$tmp/bwrap")
read -r t_cb c10 c90 < <(stats "$tmp/cb")
read -r t_nc n10 n90 < <(stats "$tmp/nocap")
n=$((per * rounds))
# Peak RSS of clawbox alone (the box's processes included) in a separate run.
read -r _ _ _ rss < <("$tmp/spawn" 20 0 "$cb" run --box bench --project "$tmp/proj" -- true)

awk -v n="$n" -v t="$t_true" -v b="$t_bwrap" -v b10="$b10" -v b90="$b90" \
	-v c="$t_cb" -v c10="$c10" -v c90="$c90" -v rss="$rss" -v nc="$t_nc" -v n10="$n10" \
	-v n90="$n90" -v disk="$capped" -v extra="${EXTRA:-0}" 'BEGIN {
	printf "startup, %d runs each (median, p10-p90):\n", n
	printf "  true                 %7.2f ms  (a process here: spawn, exec, exit, wait)\n", t / 1000
	printf "  bwrap --unshare-all  %7.2f ms  (%.2f-%.2f)\n", b / 1000, b10 / 1000, b90 / 1000
	printf "  clawbox run (full)   %7.2f ms  (%.2f-%.2f)  disk: %s\n", c / 1000, c10 / 1000, c90 / 1000, disk
	printf "  clawbox run, no cap  %7.2f ms  (%.2f-%.2f)\n", nc / 1000, n10 / 1000, n90 / 1000
	if (extra > 0)
		printf "  (%d more capped boxes mounted in the state dir)\n", extra
	printf "  ratio clawbox/bwrap  %7.2f   (target <= 1.0) on a machine where true costs %.2f ms\n", c / b, t / 1000
	printf "  ratio no cap/bwrap   %7.2f\n", nc / b
	printf "  ratio cap/no cap     %7.2f\n", c / nc
	printf "  ratio clawbox/true   %7.1f\n", c / t
	printf "  peak RSS (clawbox)   %7.2f MiB (target <= 4)\n", rss / 1024
}'
if [ -n "$base" ]; then
	read -r t_base _ _ < <(stats "$tmp/base")
	awk -v c="$t_cb" -v b="$t_base" -v bin="$base" 'BEGIN {
	printf "  baseline %s  %7.2f ms\n", bin, b / 1000
	printf "  ratio clawbox/baseline %5.3f   (no regression: <= ~1.02, the noise of this machine)\n", c / b
}'
fi
