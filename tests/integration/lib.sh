# Shared by the integration tests (sourced). Each test file defines cases as
# shell functions and runs them with `case_run NAME FUNCTION`: every case runs
# in its own subshell with `set -e`, prints "ok"/"not ok"/"# SKIP", and its
# output is shown only when it fails. Exit status 77 from a case = skipped.
set -u
: "${CLAWBOX:?CLAWBOX must point at the clawbox binary (tests/run sets it)}"
: "${HELPERS:=}"
T_FILE=$(basename "$0" .sh)
T_TMP=$(mktemp -d /tmp/clawbox-test.XXXXXX)
chmod 755 "$T_TMP"
T_N=0
trap 't_cleanup' EXIT

# t_unmount_under DIR: unmount (lazily) every mount beneath DIR, deepest
# first: the boxes' disk images (their loop devices go with them).
t_unmount_under() {
	local m
	awk -v p="$1/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

t_cleanup() {
	t_unmount_under "$T_TMP"
	# Overlay work dirs can hold root-owned mode-000 directories: chmod first.
	chmod -R u+rwx "$T_TMP" 2>/dev/null
	rm -rf "$T_TMP"
}

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*" >"$T_TMP/.skip"; exit 77; }

# case_run NAME FUNCTION: run FUNCTION in a subshell with errexit. Each case
# gets its own state dir ($CLAWBOX_STATE_DIR) and project path ($P, not yet
# created; its basename is "proj") under its own dir $C.
case_run() {
	local name=$1 fn=$2 log rc
	T_N=$((T_N + 1))
	log="$T_TMP/case.$T_N.log"
	rm -f "$T_TMP/.skip"
	(
		set -e
		C="$T_TMP/c$T_N"
		mkdir -p "$C"
		chmod 755 "$C"
		export CLAWBOX_STATE_DIR="$C/state"
		P="$C/proj"
		cd "$C"
		"$fn"
	) >"$log" 2>&1 </dev/null
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok - $T_FILE: $name"
	elif [ $rc -eq 77 ]; then
		echo "ok - $T_FILE: $name # SKIP $(cat "$T_TMP/.skip" 2>/dev/null)"
	else
		echo "not ok - $T_FILE: $name (exit $rc)"
		tail -25 "$log" | sed 's/^/#   /'
	fi
}

# down_all: every box of the case's state dir that is up goes down (a trap
# for cases that bring boxes up: they end, pass or fail).
down_all() {
	local d
	for d in "$CLAWBOX_STATE_DIR"/boxes/*/; do
		[ -S "$d/control.sock" ] && "$CLAWBOX" down --grace 0 --box "$(basename "$d")" >/dev/null 2>&1
	done
	return 0
}

# mkproj DIR: a small project with a few files, a subdirectory and a dotfile.
mkproj() {
	mkdir -p "$1/src"
	echo "hello" >"$1/README"
	echo "int main(void) { return 0; }" >"$1/src/main.c"
	echo "keep" >"$1/.hidden"
	chmod -R a+rX "$1"
}

# snapshot DIR: a listing of every path with its type, mode and content hash,
# to prove a tree did not change.
snapshot() {
	(cd "$1" && find . -printf '%p %y %m %s %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root"; }
need_userns() {
	unshare -U true 2>/dev/null || skip "user namespaces unavailable"
}

# remote_ns (scripts/remote-ns.sh): a "remote" namespace for network tests.
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/remote-ns.sh"
