#!/usr/bin/env bash
# The checks make lint runs that are clawbox's own: the layering of src/
# (scripts/layers.sh: the tree as it is passes, each kind of wrong include
# is caught) and the leak filter (scripts/leaks.py: only reports about a
# variable with a cleanup attribute are dropped).
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

# A source with one leak the compiler closes (a _cleanup_ variable) and one
# real leak, and the reports cppcheck gives for it (canned: the filter is
# what is tested here, cppcheck may not be installed).
t_leak_filter() {
	mkdir -p "$C/src"
	cat >"$C/src/f.c" <<'SRC'
int f(const char *p)
{
	_cleanup_close_ int fd = open(p, O_RDONLY);
	char *buf = malloc(10);
	if (fd < 0)
		return -1;
	_cleanup_free_ char *name = strdup(p);
	if (!name)
		return -2;
	free(buf);
	return 0;
}
SRC
	cd "$C"
	out=$(printf '%s\n' \
		"src/f.c:6:3: resourceLeak: Resource leak: fd" \
		"src/f.c:6:3: memleak: Memory leak: buf" \
		"src/f.c:9:3: memleak: Memory leak: name" \
		"src/f.c:6:3: nullPointer: unrelated" | python3 "$TOP/scripts/leaks.py") &&
		fail "a real leak passed: $out"
	[ "$out" = "src/f.c:6:3: memleak: Memory leak: buf" ] || fail "kept: $out"
	out=$(echo "src/f.c:9:3: memleak: Memory leak: name" | python3 "$TOP/scripts/leaks.py") ||
		fail "a cleanup variable failed the check: $out"
}
case_run "the leak filter drops only reports about cleanup variables" t_leak_filter
