#!/usr/bin/env bash
# The write watcher's cost (src/state/writewatch.c; not part of make test):
# the same runs with the watcher (the default) and with --no-watch,
# alternated, medians of RUNS (default 11) in ms and the ratio:
#   flood20k dd of 20 000 one-byte writes to one file (a few fs.modify)
#   flood    the same with 200 000
#   creates  2 000 new files (one fs.create each, written by the watcher's
#            thread while the box goes on)
#   start    `true` in a box whose upper dir holds 1 000 directories (each
#            watched before the command starts)
# Environment: CLAWBOX (default build/clawbox), RUNS, BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
clawbox=${CLAWBOX:-$top/build/clawbox}
runs=${RUNS:-11}
[ -x "$clawbox" ] || { echo "clawbox: build first (make)" >&2; exit 1; }
bench=${BENCH_DIR:-$(mktemp -d /tmp/clawbox-bench-watch.XXXXXX)}
trap 'scripts/unmount-boxes.sh "$bench"; chmod -R u+rwx "$bench" 2>/dev/null; rm -rf "$bench"' EXIT
export CLAWBOX_STATE_DIR=$bench/state
mkdir -p "$bench/proj"
echo x >"$bench/proj/README"

us() { # command...: its wall time in microseconds
	local s e
	s=$(date +%s%N)
	"$@" >/dev/null 2>&1 || true
	e=$(date +%s%N)
	echo $(((e - s) / 1000))
}

median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'; }

# case NAME SCRIPT: SCRIPT in the box, with and without the watcher in turn.
case_() {
	local name=$1 script=$2 on=() off=()
	for _ in $(seq "$runs"); do
		"$clawbox" reset --yes --project "$bench/proj" >/dev/null 2>&1 || true
		on+=($(us "$clawbox" run --project "$bench/proj" -- sh -c "$script"))
		"$clawbox" reset --yes --project "$bench/proj" >/dev/null 2>&1 || true
		off+=($(us "$clawbox" run --no-watch --project "$bench/proj" -- sh -c "$script"))
	done
	local a b
	a=$(printf '%s\n' "${on[@]}" | median)
	b=$(printf '%s\n' "${off[@]}" | median)
	printf '%-8s watched %8s ms   --no-watch %8s ms   ratio %s\n' "$name" "$a" "$b" \
		"$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')"
}

"$clawbox" run --project "$bench/proj" -- true >/dev/null 2>&1
case_ flood20k 'dd if=/dev/zero of=flood bs=1 count=20000 2>/dev/null'
case_ flood 'dd if=/dev/zero of=flood bs=1 count=200000 2>/dev/null'
case_ creates 'mkdir c && cd c && seq 2000 | xargs touch'
# start: the upper dir keeps its 1 000 dirs (no reset between runs)
"$clawbox" reset --yes --project "$bench/proj" >/dev/null 2>&1 || true
"$clawbox" run --no-watch --project "$bench/proj" -- sh -c 'for i in $(seq 1000); do echo d$i; done | xargs mkdir' >/dev/null 2>&1
on=() off=()
for _ in $(seq "$runs"); do
	on+=($(us "$clawbox" run --project "$bench/proj" -- true))
	off+=($(us "$clawbox" run --no-watch --project "$bench/proj" -- true))
done
a=$(printf '%s\n' "${on[@]}" | median)
b=$(printf '%s\n' "${off[@]}" | median)
printf '%-8s watched %8s ms   --no-watch %8s ms   ratio %s\n' start "$a" "$b" \
	"$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')"
