#!/usr/bin/env bash
# The layering of src/ (scripts/layers.sh, run by make lint): the tree as it
# is passes, and each kind of wrong include is caught.
. "$(dirname "$0")/lib.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)

# copy_src: a copy of src/ in $C/src to break.
copy_src() { cp -r "$TOP/src" "$C/src"; }

t_tree_passes() {
	out=$(bash "$TOP/scripts/layers.sh") || fail "the tree breaks its layers: $out"
	echo "$out" | grep -q "every include goes down the layers" || fail "$out"
}

t_upward_include_fails() {
	copy_src
	sed -i '0,/#include "util\/common.h"/s//#include "util\/common.h"\n#include "sync\/gate.h"/' \
		"$C/src/net/proxy.c"
	if out=$(bash "$TOP/scripts/layers.sh" "$C/src"); then fail "an upward include passed"; fi
	echo "$out" | grep -q 'src/net/proxy.c:[0-9]*: net may not include "sync/gate.h"' || fail "$out"
}

t_peer_include_fails() {
	copy_src
	echo '#include "box/rootfs.h"' >>"$C/src/sync/changes.h"
	if out=$(bash "$TOP/scripts/layers.sh" "$C/src"); then fail "sync including box passed"; fi
	echo "$out" | grep -q 'sync may not include "box/rootfs.h"' || fail "$out"
}

t_bare_name_and_flat_file_fail() {
	copy_src
	echo '#include "proxy.h"' >>"$C/src/net/relay.c"
	echo 'int x;' >"$C/src/stray.c"
	if out=$(bash "$TOP/scripts/layers.sh" "$C/src"); then fail "a bare include passed"; fi
	echo "$out" | grep -q '"proxy.h" does not name its folder' || fail "$out"
	echo "$out" | grep -q 'src/stray.c: every file lives in a layer' || fail "$out"
}

t_printing_outside_cli_fails() {
	copy_src
	echo '#include "util/log.h"' >>"$C/src/sync/apply.c"
	if out=$(bash "$TOP/scripts/layers.sh" "$C/src"); then fail "a module that prints passed"; fi
	echo "$out" | grep -q 'src/sync/apply.c:[0-9]*: only the command layer prints' || fail "$out"
}

case_run "src/ keeps its layers" t_tree_passes
case_run "an upward include (net -> sync) is caught" t_upward_include_fails
case_run "an include between peers (sync -> box) is caught" t_peer_include_fails
case_run "a bare include and a file outside the layers are caught" t_bare_name_and_flat_file_fail
case_run "a module that includes the logger is caught" t_printing_outside_cli_fails
