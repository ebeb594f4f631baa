#!/usr/bin/env bash
# Sync-gate benchmark (not part of make test): `clawbox sync --dry-run` on a
# 100 000-file project with 100 pending changes, side by side with the same
# 100 changes on a 1 000-file project (target: < 50 ms, and within 2x of the
# small project: the cost follows the changes), and against the original's
# gate, `rsync -an --itemize-changes upper/ project/`, on the same trees.
# Prints the median of RUNS runs (default 15) in milliseconds; "cold" is the
# first dry run of a box (the secret rules are compiled), "warm" the next
# ones (scan results cached by path + content). Environment: CLAWBOX
# (default build/clawbox), RUNS, BENCH_DIR (default a temporary dir),
# BASELINE (another clawbox, e.g. the build before a change: its warm dry
# runs alternate with clawbox's on the same boxes, and the ratio is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
# The peer of the comparison, from Debian (bench only).
if ! command -v rsync >/dev/null && [ "$(id -u)" -eq 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync >/dev/null
fi
top=$PWD
clawbox=${CLAWBOX:-$top/build/clawbox}
runs=${RUNS:-15}
[ -x "$clawbox" ] || { echo "clawbox: build first (make)" >&2; exit 1; }
bench=${BENCH_DIR:-$(mktemp -d /tmp/clawbox-bench-sync.XXXXXX)}
trap 'scripts/unmount-boxes.sh "$bench"; chmod -R u+rwx "$bench" 2>/dev/null; rm -rf "$bench"' EXIT
export CLAWBOX_STATE_DIR=$bench/state

# mkproj DIR N: N small files in dirs of 1000.
mkproj() {
	python3 - "$1" "$2" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    sub = os.path.join(d, "d%03d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%06d.txt" % i), "w") as f:
        f.write("file %d\n" % i)
PY
}

# 100 pending changes: 40 modified, 30 added, 30 deleted, spread over the dirs.
changes='for k in $(seq 0 39); do echo changed >> d000/f$(printf %06d $k).txt; done
mkdir -p new; for k in $(seq 0 29); do echo "added $k" > new/n$k.txt; done
for k in $(seq 100 129); do rm d000/f$(printf %06d $k).txt; done'

median_ms() { # command...
	local t=() s e
	for _ in $(seq "$runs"); do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		e=$(date +%s%N)
		t+=($(((e - s) / 1000)))
	done
	printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

once_ms() {
	local s e
	s=$(date +%s%N)
	"$@" >/dev/null 2>&1 || true
	e=$(date +%s%N)
	awk -v d=$(((e - s) / 1000)) 'BEGIN {printf "%.1f", d/1000}'
}

# pair_ms A-binary B-binary args...: medians of RUNS runs of each, the two
# alternating run by run, as "A B".
pair_ms() {
	local a=$1 b=$2 ta=() tb=() s e
	shift 2
	for _ in $(seq "$runs"); do
		s=$(date +%s%N); "$a" "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
		ta+=($(((e - s) / 1000)))
		s=$(date +%s%N); "$b" "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
		tb+=($(((e - s) / 1000)))
	done
	med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'; }
	echo "$(med "${ta[@]}") $(med "${tb[@]}")"
}

declare -A cold warm rs pnew pbase
for n in 1000 100000; do
	p=$bench/p$n
	echo "bench: building a $n-file project" >&2
	mkproj "$p" "$n"
	"$clawbox" run --box b$n --project "$p" -- sh -c "$changes" >/dev/null
	pending=$("$clawbox" sync --box b$n --dry-run --json | python3 -c \
		'import json,sys; print(json.load(sys.stdin)["summary"]["pending"])')
	[ "$pending" -ge 100 ] || { echo "bench: only $pending pending changes" >&2; exit 1; }
	sync
	cold[$n]=$(once_ms "$clawbox" sync --box b$n --dry-run)
	rm -f "$CLAWBOX_STATE_DIR/boxes/b$n/sync/scancache.json"
	cold[$n]=$(once_ms "$clawbox" sync --box b$n --dry-run)
	warm[$n]=$(median_ms "$clawbox" sync --box b$n --dry-run)
	if [ -n "${BASELINE:-}" ]; then
		read -r pnew[$n] pbase[$n] < <(pair_ms "$clawbox" "$BASELINE" sync --box b$n --dry-run)
	fi
	if command -v rsync >/dev/null; then
		rs[$n]=$(median_ms rsync -an --itemize-changes "$CLAWBOX_STATE_DIR/boxes/b$n/upper/" "$p/")
	else
		rs[$n]="n/a (rsync missing)"
	fi
	echo "bench: $n files: $pending pending" >&2
done

printf '\n%-34s %14s %14s %8s\n' "sync --dry-run, 100 changes" "1 000 files" "100 000 files" "ratio"
for row in cold warm rs; do
	declare -n a=$row
	label=$([ $row = cold ] && echo "clawbox cold (rules compiled)" ||
		{ [ $row = warm ] && echo "clawbox warm (scan cache)" || echo "rsync -an --itemize-changes"; })
	ratio=$(awk -v a="${a[1000]}" -v b="${a[100000]}" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }')
	printf '%-34s %11s ms %11s ms %8s\n' "$label" "${a[1000]}" "${a[100000]}" "$ratio"
done
if [ -n "${BASELINE:-}" ]; then
	for n in 1000 100000; do
		awk -v n=$n -v a="${pnew[$n]}" -v b="${pbase[$n]}" -v bin="$BASELINE" 'BEGIN {
		printf "warm, %d files: clawbox %s ms, baseline %s %s ms, ratio %.3f\n", n, a, bin, b, a / b }'
	done
fi
echo
echo "target: warm < 50 ms on 100 000 files and within 2x of 1 000 files"
