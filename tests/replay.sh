#!/usr/bin/env bash
# Replays one fuzz harness over its checked-in corpus: one ok line per harness.
set -u
bin=$1 dir=$2
name=$(basename "$bin")
if [ ! -d "$dir" ] || [ -z "$(ls -A "$dir")" ]; then
	echo "not ok - $name: no corpus in $dir"
	exit 0
fi
n=$(find "$dir" -type f | wc -l)
if find "$dir" -type f -print0 | xargs -0 "$bin" >/tmp/replay.$$ 2>&1; then
	echo "ok - $name: replayed $n corpus files"
else
	echo "not ok - $name: replay failed"
	tail -30 /tmp/replay.$$ | sed 's/^/# /'
fi
rm -f /tmp/replay.$$
