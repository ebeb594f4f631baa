#!/usr/bin/env bash
# Where a box's start-up time goes: runs `clawbox run -- true` N times with
# a build that timestamps its phases (build/trace/clawbox, src/util/trace.h)
# and prints the median time, from the spawn of clawbox, at which each phase
# ended. Processes: clawbox (the supervisor), init (the box's pid 1), view
# (the init building the filesystem view), builder (beside the init: the
# overlay, the network namespace, the old root's detach).
# usage: bench/startup-phases.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
make -s build/trace/clawbox
tmp=$(mktemp -d /tmp/clawbox-phases.XXXXXX)
trap 'scripts/unmount-boxes.sh "$tmp"; chmod -R u+rwx "$tmp"; rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/phases" bench/phases.c
mkdir -p "$tmp/proj" && echo hi >"$tmp/proj/README"
export CLAWBOX_STATE_DIR="$tmp/state"
cb=$(realpath build/trace/clawbox)
for _ in $(seq 20); do "$cb" run --box bench --project "$tmp/proj" -- true; done
"$tmp/phases" "$n" "$cb" run --box bench --project "$tmp/proj" -- true >"$tmp/points"
echo "start-up phases of 'clawbox run -- true', $n runs (median end of each, ms):"
awk '{ v[$1] = v[$1] " " $2; c[$1]++ } END { for (k in v) print k, v[k] }' "$tmp/points" |
	while read -r name vals; do
		med=$(tr ' ' '\n' <<<"$vals" | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		echo "$med $name"
	done | sort -n | awk '
	BEGIN {
		d["exec"] = "clawbox: exec and dynamic loading, main() reached"
		d["locked"] = "clawbox: box found and locked"
		d["prepared"] = "clawbox: masks, network policy, limits"
		d["cloned"] = "clawbox: clone3 (user, mount, pid, ipc, uts namespaces)"
		d["go"] = "clawbox: id maps written, init told to go"
		d["env"] = "clawbox: secrets, audit run.start, environment (beside the init)"
		d["init.go"] = "init: running, maps seen"
		d["view.host"] = "view: host parts cloned (builder: netns + overlay)"
		d["b.start"] = "builder: running"
		d["b.overlay"] = "builder: overlay mounted"
		d["b.net"] = "builder: netns ready"
		d["b.go"] = "builder: told the old root may go"
		d["b.detached"] = "builder: old root detached"
		d["view.pivot"] = "view: pivot_root into the box root"
		d["view.mounts"] = "view: top dirs, /dev, /proc, /tmp, masks, workspace"
		d["init.view"] = "init: view done, in the box netns, listeners passed"
		d["init.confined"] = "init: Landlock, caps dropped, seccomp"
		d["init.reaped"] = "init: the command ran and was reaped"
		d["ended"] = "clawbox: end reported, audit run.exit written"
		d["waited"] = "clawbox: the box torn down (namespaces, mounts)"
		d["end"] = "clawbox exited"
	}
	{ printf "  %7.2f  %-14s %s\n", $1 / 1000, $2, d[$2] }'
