#!/usr/bin/env bash
# The include graph of src/ (or of the tree given as $1) against its layers
# (run by make lint; tests/integration/t-lint.sh shows that it fails).
#
# Each folder of src/ is a layer; a file may include headers of its own
# folder and of the layers this table allows, nothing else (nothing
# upward). util/log.h, the only way to print, is for the command layer.
#   cli     -> everything (main, one file per command: the only code that prints)
#   api     -> agents, mcp, ctl, sync, state, secrets, scan, util (clawbox serve: HTTP/JSON)
#   mcp     -> ctl, sync, state, secrets, scan, util (the MCP server, any transport)
#   ctl     -> box, sync, net, state, secrets, scan, util (a client of up boxes)
#   box     -> net, state, secrets, scan, util (the supervisor and the box's init)
#   agents  -> state, secrets, scan, util (agent profiles: data, not code)
#   sync    -> state, secrets, scan, util (the gate that brings the box's work home)
#   net     -> state, secrets, scan, util (the box's only way out)
#   state   -> secrets, scan, util (the box's directory, disk image, audit log)
#   secrets -> scan, util
#   scan    -> util
#   util    -> util
# Includes name their folder ("net/proxy.h"); build/gen's generated headers
# are the only bare names. Prints every include that breaks this and exits 1.
set -uo pipefail
cd "${1:-$(dirname "$0")/../src}" || exit 2

declare -A allow=(
	[cli]="cli api agents mcp ctl box sync net state secrets scan util"
	[api]="api agents mcp ctl sync state secrets scan util"
	[mcp]="mcp ctl sync state secrets scan util"
	[ctl]="ctl box sync net state secrets scan util"
	[box]="box net state secrets scan util"
	[agents]="agents state secrets scan util"
	[sync]="sync state secrets scan util"
	[net]="net state secrets scan util"
	[state]="state secrets scan util"
	[secrets]="secrets scan util"
	[scan]="scan util"
	[util]="util"
)
generated=" sysfilter_bpf.h nftrules.h agents_builtin.h "
bad=0
for f in */*.[ch]; do
	layer=${f%%/*}
	if [ -z "${allow[$layer]:-}" ]; then
		echo "layers: $f: folder '$layer' is not a layer (scripts/layers.sh)"
		bad=1
		continue
	fi
	while IFS=: read -r line inc; do
		dir=${inc%%/*}
		if [ "$dir" = "$inc" ]; then
			case "$generated" in *" $inc "*) continue ;; esac
			echo "layers: src/$f:$line: \"$inc\" does not name its folder"
			bad=1
		elif [[ " ${allow[$layer]} " != *" $dir "* ]]; then
			echo "layers: src/$f:$line: $layer may not include \"$inc\" ($dir is not beneath $layer)"
			bad=1
		elif [ "$inc" = util/log.h ] && [ "$layer" != cli ] && [ "$f" != util/log.c ]; then
			echo "layers: src/$f:$line: only the command layer prints (util/log.h)"
			bad=1
		fi
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$f" |
		sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
done
for f in *.[ch]; do
	[ -e "$f" ] && { echo "layers: src/$f: every file lives in a layer's folder"; bad=1; }
done
[ $bad -eq 0 ] && echo "layers: every include goes down the layers"
exit $bad
