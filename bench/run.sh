#!/usr/bin/env bash
# make bench: the benchmarks, each printing ratios against a baseline or a
# peer measured in the same run. Not part of make test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/startup.sh "$@"
for b in bench/*.sh; do
	case "$b" in bench/run.sh | bench/startup.sh) continue ;; esac
	bash "$b"
done
