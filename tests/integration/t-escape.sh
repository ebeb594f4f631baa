#!/usr/bin/env bash
# The escape suite: attempts from inside a box to leave it or to touch the
# host. Every attempt must fail and the host must be unchanged. Attempts are
# made by the static helper tests/helpers/escape.c (copied into the project,
# so it is /workspace/escape inside), which exits 0 only when the attempt
# SUCCEEDED, 1 when it was blocked, and dies with SIGSYS (159 from clawbox)
# when seccomp kills it. Each case first shows its target exists on the host
# (or that the same call works there), so a regression would be caught.
. "$(dirname "$0")/lib.sh"

ESC="${HELPERS:-}/escape"
[ -x "$ESC" ] || { echo "not ok - t-escape: helper $ESC not built (make build/helpers/escape)"; exit 1; }
PY=/usr/bin/python3
# Host-side targets outside /tmp (the box has a private /tmp, so a target
# under /tmp would prove little): one dir under /var/tmp for the whole file.
VT=$(mktemp -d /var/tmp/clawbox-escape.XXXXXX)
chmod 755 "$VT"
HOST_PIDS=()
escape_cleanup() {
	local p
	for p in "${HOST_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	t_unmount_under "$VT"
	rm -rf "$VT"
	t_cleanup
}
trap escape_cleanup EXIT

# setup: a fresh project $P with the helper, a host-side outside dir $O, and
# snapshots of both taken now. Call check_host at the end of a case.
setup() {
	D=$(mktemp -d "$T_TMP/case.XXXXXX")
	export CLAWBOX_STATE_DIR=$D/state
	P=$D/proj
	O=$(mktemp -d "$VT/out.XXXXXX")
	mkproj "$P"
	cp "$ESC" "$P/escape"
	echo "outside" >"$O/target"
	snapshot "$P" >"$D/proj.before"
	snapshot "$O" >"$D/out.before"
	ls -A "$VT" >"$D/vt.before"
}

# host_bg CMD...: a host-side process for this case, killed when it ends.
host_bg() {
	"$@" &
	HOST_PIDS+=($!)
	trap 'for p in "${HOST_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
}

check_host() {
	snapshot "$P" >"$D/proj.after"
	diff -u "$D/proj.before" "$D/proj.after" || fail "the host project changed"
	snapshot "$O" >"$D/out.after"
	diff -u "$D/out.before" "$D/out.after" || fail "the outside dir changed"
	ls -A "$VT" >"$D/vt.after"
	diff -u "$D/vt.before" "$D/vt.after" || fail "a file appeared in $VT"
	return 0
}

# box [run options] -- CMD...: run CMD in the box of $P; sets OUT and RC.
box() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	shift
	set +e
	OUT=$(timeout 30 "$CLAWBOX" run --project "$P" "${opts[@]}" -- "$@" 2>&1)
	RC=$?
	set -e
	printf '[%s] exit %s\n%s\n' "$*" "$RC" "$OUT"
}

# esc [run options] -- ATTEMPT ARG...: run the helper in the box.
esc() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	shift
	box "${opts[@]}" -- /workspace/escape "$@"
}

# The last attempt was blocked, with this text in its report (if given).
is_blocked() {
	[ "$RC" -eq 1 ] && [[ "$OUT" == *"blocked: "* ]] || fail "not blocked (exit $RC): $OUT"
	[ $# -eq 0 ] || [[ "$OUT" == *"$1"* ]] || fail "blocked, but not by '$1': $OUT"
}

# Blocked, or killed by seccomp (SIGSYS).
is_blocked_or_killed() {
	[ "$RC" -eq 159 ] && return 0
	is_blocked
}

# blocked [run options] -- ATTEMPT ARG...: the attempt fails, host unchanged.
blocked() {
	esc "$@"
	is_blocked
	check_host
}

# --------------------------------------------------------- the host project

c_project_abs_path() {
	setup
	esc -- write "$P/README" "pwned"
	[ "$RC" -eq 0 ] || fail "the project is not writable by its own path: $OUT"
	check_host
	[ "$(cat "$CLAWBOX_STATE_DIR/boxes/"*/upper/README)" = pwned ] ||
		fail "the write did not land in the overlay's upper dir"
}

c_proc_self_root() {
	setup
	esc -- write "/proc/self/root$P/README" "pwned"
	check_host
	if [ "$RC" -eq 0 ]; then
		[ "$(cat "$CLAWBOX_STATE_DIR/boxes/"*/upper/README)" = pwned ] ||
			fail "the write went neither to the host nor to the overlay"
	else
		is_blocked
	fi
	# /proc/self/root of the box's processes is the box's root, not the host's.
	echo marker >"$D/marker"
	esc -- exists "/proc/self/root$D/marker"
	is_blocked "No such file"
}

c_proc1_cwd() {
	setup
	# pid 1 is the box init: its cwd is the project, its root the box's.
	esc -- write /proc/1/cwd/README pwned
	is_blocked "Permission denied"
	esc -- write "/proc/1/root$P/README" pwned
	is_blocked "Permission denied"
	check_host
}

c_proc1_fds() {
	setup
	# The init holds mount fds made while the host tree was visible.
	esc -- procfds 1
	is_blocked
	esc -- list /proc/1/fd/7/
	is_blocked
	check_host
}

# The init's builder thread keeps the box dir (a host fd) in an fd table of
# its own while it empties the last runs' trash beside the command: a big
# trash keeps it alive while the command looks.
c_builder_fds() {
	setup
	box -- true
	local b trash
	b=$(echo "$CLAWBOX_STATE_DIR"/boxes/*)
	trash=$b/trash/work.0
	[ ! -d "$b/disk" ] || trash=$b/disk/trash/work.0 # the disk cap's image
	mkdir -p "$trash"
	(cd "$trash" && seq 30000 | xargs touch)
	box -- /bin/sh -c 'n=0; for t in /proc/1/task/*; do n=$((n + 1))
		/workspace/escape procfds "1/task/${t##*/}"; done; echo "tasks: $n"'
	[[ "$OUT" != *ESCAPED* ]] || fail "the builder's fds were followed: $OUT"
	[[ "$OUT" == *"tasks: 2"* ]] || fail "the builder was not running beside the command: $OUT"
	check_host
}

c_symlink_planted() {
	setup
	ln -s "$O/target" "$P/link"          # a file outside, by absolute path
	ln -s "$O" "$P/dirlink"              # a directory outside
	ln -s ../../../../../../../.."$O" "$P/rellink" # relative, climbing out
	echo "tmp outside" >"$T_TMP/outside-$$"
	ln -s "$T_TMP/outside-$$" "$P/tmplink"
	snapshot "$P" >"$D/proj.before"
	esc -- write /workspace/link pwned
	is_blocked
	esc -- write /workspace/dirlink/new pwned
	is_blocked
	esc -- write /workspace/rellink/new pwned
	is_blocked
	# /tmp in the box is its own: the write may land there, never on the host.
	esc -- write /workspace/tmplink pwned
	[ "$(cat "$T_TMP/outside-$$")" = "tmp outside" ] || fail "wrote the host's /tmp through a link"
	check_host
}

c_hardlink() {
	setup
	echo "outside hard" >"$T_TMP/hl-outside-$$"
	ln "$T_TMP/hl-outside-$$" "$P/hl"
	snapshot "$P" >"$D/proj.before"
	before=$(sha256sum <"$T_TMP/hl-outside-$$")
	esc -- append /workspace/hl "pwned"
	[ "$RC" -eq 0 ] || fail "appending to the project's file failed: $OUT"
	[ "$(sha256sum <"$T_TMP/hl-outside-$$")" = "$before" ] || fail "the hard-linked file changed"
	[ "$(stat -c %h "$T_TMP/hl-outside-$$")" = 2 ] || fail "the hard link was broken on the host"
	grep -q pwned "$CLAWBOX_STATE_DIR/boxes/"*/upper/hl || fail "no copy-up in the upper dir"
	check_host
}

c_dotdot() {
	setup
	# $D is under the host's /tmp, which the box does not see.
	echo marker >"$D/marker"
	esc -- exists "/workspace/../../../../../../..$D/marker"
	is_blocked "No such file"
	esc -- exists "$P/../../../../../../..$D/marker"
	is_blocked "No such file"
	esc -- write "/workspace/../../../../../../../var/tmp/pwned-$$" pwned
	is_blocked
	[ ! -e "/var/tmp/pwned-$$" ] || { rm -f "/var/tmp/pwned-$$"; fail "wrote /var/tmp"; }
	check_host
}

# --------------------------------------------------------- the host's tree

# write_outside DIR: creating a file in DIR (which exists on the host) fails.
write_outside() {
	local f="$1/clawbox-escape-$$"
	[ -d "$1" ] || skip "$1 missing on the host"
	esc -- write "$f" pwned
	if [ -e "$f" ]; then rm -f "$f"; fail "created $f on the host"; fi
	is_blocked
	esc -- mkdir "$f.d"
	if [ -e "$f.d" ]; then rmdir "$f.d"; fail "created $f.d on the host"; fi
	is_blocked
	check_host
}

c_write_etc() { setup; write_outside /etc; esc -- append /etc/passwd "x::0:0::/:/bin/sh"; is_blocked; }
c_write_usr() { setup; write_outside /usr/local/bin; esc -- open-w /usr/bin/env; is_blocked; }
c_write_var() { setup; write_outside /var/tmp; }
c_write_opt() { setup; write_outside /opt; }
c_write_vt() { setup; write_outside "$O"; esc -- open-w "$O/target"; is_blocked; check_host; }

# open_w PATH...: none of those that exist on the host (at least one) can be
# opened for writing in the box.
open_w() {
	local f n=0
	for f in "$@"; do
		[ -e "$f" ] || { echo "no $f on the host"; continue; }
		n=$((n + 1))
		[ -w "$f" ] || fail "$f is not writable even on the host"
		esc -- open-w "$f"
		is_blocked
	done
	[ $n -gt 0 ] || skip "none of $* exists on the host"
	check_host
}

c_proc_sys_kernel() {
	setup
	open_w /proc/sys/kernel/core_pattern /proc/sys/kernel/modprobe /proc/sys/vm/drop_caches \
		/proc/sys/kernel/hostname /proc/sys/net/ipv4/ip_forward
}

c_sysrq_trigger() { setup; open_w /proc/sysrq-trigger; }

c_sys_kernel() {
	setup
	local f
	f=$(ls -d /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/profiling \
		/sys/kernel/uevent_helper 2>/dev/null | head -2)
	[ -n "$f" ] || skip "no writable /sys/kernel knob found"
	# shellcheck disable=SC2086
	open_w $f
	esc -- write /sys/kernel/clawbox-escape pwned
	is_blocked
}

c_sys_cgroup() {
	need_root
	setup
	[ -d /sys/fs/cgroup/pids ] || skip "no cgroup v1 pids hierarchy"
	open_w /sys/fs/cgroup/pids/cgroup.procs
	# The box's own limits, from inside the box: raising them is an escape.
	box --pids 64 --memory 256M -- sh -c 'n=0; own=0
		for f in $(find /sys/fs/cgroup/pids /sys/fs/cgroup/memory -maxdepth 5 \
			\( -name pids.max -o -name cgroup.procs -o -name memory.limit_in_bytes \) \
			2>/dev/null | head -100); do
			n=$((n + 1))
			case $f in */clawbox-*) own=$((own + 1)) ;; esac
			/workspace/escape open-w "$f" | grep -v "^blocked"
		done
		echo "tried $n files, $own of clawbox cgroups"
		/workspace/escape mkdir /sys/fs/cgroup/pids/clawbox-escape'
	[[ "$OUT" != *ESCAPED* ]] || fail "a cgroup file was writable: $OUT"
	[[ "$OUT" =~ tried\ ([0-9]+)\ files,\ ([0-9]+) ]] || fail "the box did not try: $OUT"
	[ "${BASH_REMATCH[1]}" -ge 3 ] && [ "${BASH_REMATCH[2]}" -ge 2 ] ||
		fail "the box did not see its own cgroup files: $OUT"
	[ ! -e /sys/fs/cgroup/pids/clawbox-escape ] || fail "created a cgroup"
	check_host
}

# --------------------------------------------------------- masked paths

c_read_root() {
	setup
	[ -n "$(ls -A /root)" ] || skip "/root is empty on the host"
	esc -- list /root
	is_blocked "is empty"
	f=$(find /root -maxdepth 1 -type f -readable | head -1)
	[ -n "$f" ] || skip "no file in /root"
	esc -- read "$f"
	is_blocked
	check_host
}

c_read_home() {
	setup
	# The invoking user's home by $HOME, with a key in it.
	local h="$VT/home-$$"
	mkdir -p "$h/.ssh"
	echo "PRIVATE KEY" >"$h/.ssh/id_ed25519"
	set +e
	OUT=$(HOME="$h" timeout 30 "$CLAWBOX" run --project "$P" -- /workspace/escape read "$h/.ssh/id_ed25519" 2>&1)
	RC=$?
	set -e
	rm -rf "$h"
	echo "$OUT"
	is_blocked
	if [ -n "$(ls -A /home 2>/dev/null)" ]; then
		# Only the box's own home shows.
		box -- ls -A /home
		[ "$OUT" = clawbox ] || fail "/home shows more than the box's home: $OUT"
		esc -- list /home/clawbox
		is_blocked "is empty"
	fi
	check_host
}

c_read_shadow() {
	setup
	[ -s /etc/shadow ] || skip "/etc/shadow empty on the host"
	esc -- read /etc/shadow
	is_blocked "reads empty"
	esc -- read /etc/gshadow
	is_blocked
	check_host
}

c_state_dir_tmp() {
	setup
	esc -- write /workspace/x x # the box and its upper dir exist now
	[ -d "$CLAWBOX_STATE_DIR/boxes" ] || fail "no state dir on the host"
	esc -- list "$CLAWBOX_STATE_DIR/boxes"
	is_blocked
	check_host
}

c_state_dir_var() {
	setup
	local s="$VT/state-$$"
	set +e
	OUT=$(CLAWBOX_STATE_DIR="$s" timeout 30 "$CLAWBOX" run --project "$P" -- /workspace/escape list "$s" 2>&1)
	RC=$?
	set -e
	echo "$OUT"
	[ -n "$(ls -A "$s/boxes")" ] || fail "no box in the state dir on the host"
	is_blocked "is empty"
	set +e
	OUT=$(CLAWBOX_STATE_DIR="$s" timeout 30 "$CLAWBOX" run --project "$P" -- /workspace/escape list "$(echo "$s"/boxes/*/upper)" 2>&1)
	RC=$?
	set -e
	echo "$OUT"
	t_unmount_under "$s"
	chmod -R u+rwx "$s"
	rm -rf "$s"
	is_blocked
	check_host
}

c_run_dir() {
	setup
	[ -n "$(ls -A /run 2>/dev/null)" ] || skip "/run is empty on the host"
	esc -- list /run
	is_blocked "is empty"
	check_host
}

# A listening unix socket in a host dir: reachable without --deny-read (so
# the attempt is real), not with it.
c_unix_socket_denied() {
	setup
	local sd="$VT/sock-$$"
	mkdir -p "$sd"
	host_bg timeout 25 "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
while True:
    c, _ = s.accept(); c.sendall(b"host-daemon\n"); c.close()
' "$sd/docker.sock"
	for _ in $(seq 50); do [ -S "$sd/docker.sock" ] && break; sleep 0.1; done
	esc -- unix "$sd/docker.sock"
	[ "$RC" -eq 0 ] || fail "control: the socket is not reachable without --deny-read: $OUT"
	esc --deny-read "$sd" -- unix "$sd/docker.sock"
	kill "${HOST_PIDS[-1]}" 2>/dev/null || true
	rm -rf "$sd"
	is_blocked
	check_host
}

c_abstract_socket() {
	setup
	local name="clawbox-escape-$$"
	host_bg timeout 25 "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind("\0" + sys.argv[1]); s.listen(4)
while True:
    c, _ = s.accept(); c.sendall(b"host-daemon\n"); c.close()
' "$name"
	sleep 0.5
	"$ESC" unix "@$name" | grep -q ESCAPED || fail "control: host cannot reach its own socket"
	esc -- unix "@$name"
	kill "${HOST_PIDS[-1]}" 2>/dev/null || true
	is_blocked
	check_host
}

c_deny_read_in_project() {
	setup
	echo "API_KEY=secret" >"$P/secret.env"
	snapshot "$P" >"$D/proj.before"
	esc --deny-read secret.env -- read /workspace/secret.env
	is_blocked
	esc --deny-read secret.env -- read "$P/secret.env"
	is_blocked
	esc -- read /workspace/secret.env
	[ "$RC" -eq 0 ] || fail "control: the file is not readable without --deny-read"
	check_host
}

# --------------------------------------------------------- mounts, namespaces

c_mount_tmpfs() { setup; blocked -- mount tmpfs /workspace; }
c_mount_bind() { setup; blocked -- mount bind /workspace /usr; }
c_mount_proc() { setup; mkdir -p "$P/p"; snapshot "$P" >"$D/proj.before"; blocked -- mount proc /workspace/p; }
c_mount_remount_rw() { setup; blocked -- mount remount /usr; }
c_umount() { setup; blocked -- umount /root; esc -- umount /etc/shadow; is_blocked; }
c_new_mount_api() {
	setup
	for a in fsopen open_tree mount_setattr fspick; do
		esc -- newmount "$a" /usr
		is_blocked "Operation not permitted"
	done
	check_host
}
c_pivot_root() { setup; blocked -- pivot_root /tmp /tmp; }
c_chroot() { setup; blocked -- chroot /tmp/newroot; }
c_unshare_user() { setup; blocked -- unshare user; }
c_unshare_mnt() { setup; blocked -- unshare mnt; }
c_unshare_net() { setup; blocked -- unshare net; }
c_unshare_pid() { setup; blocked -- unshare pid; }
c_unshare_other() {
	setup
	for ns in ipc uts cgroup time; do
		esc -- unshare "$ns"
		is_blocked
	done
}
c_setns() {
	setup
	for ns in mnt net user pid; do
		esc -- setns "/proc/1/ns/$ns"
		is_blocked
		esc -- setns "/proc/self/ns/$ns"
		is_blocked "Operation not permitted"
	done
}
c_clone_newuser() {
	setup
	for ns in user mnt net pid; do
		esc -- clone "$ns"
		is_blocked "Operation not permitted"
	done
}
c_clone3() {
	setup
	esc -- clone3 user
	is_blocked "Function not implemented"
}
# The command-line tool too, as an agent would use it.
c_unshare_tool() {
	setup
	box -- unshare -Urm sh -c 'echo INSIDE-NEW-NS'
	[ "$RC" -ne 0 ] && [[ "$OUT" != *INSIDE-NEW-NS* ]] || fail "unshare(1) worked"
}

# --------------------------------------------------------- other processes

c_ptrace_init() { setup; blocked -- ptrace 1; }
c_ptrace_sibling() { setup; blocked -- ptrace-sibling; }
c_process_vm_readv() { setup; blocked -- vmread 1 0x400000; }
c_proc1_mem() { setup; blocked -- procmem 1; }

c_kill_host() {
	setup
	host_bg sleep 60
	local h=${HOST_PIDS[-1]}
	esc -- kill "$h"
	is_blocked
	# Everything the box may signal at once.
	esc -- kill -1
	kill -0 "$h" 2>/dev/null || fail "the host's sleep was killed"
	check_host
}

# --------------------------------------------------------- devices

c_mknod() {
	setup
	esc -- mknod /tmp/null c 1 3
	is_blocked "Operation not permitted"
	esc -- mknod /workspace/disk b 254 0
	is_blocked "Operation not permitted"
	check_host
}

c_raw_disk() {
	setup
	local dev
	dev=$(findmnt -no SOURCE / 2>/dev/null || true)
	for d in /dev/vda /dev/sda /dev/nvme0n1 $dev; do
		[ -b "$d" ] || continue
		esc -- open-rw "$d"
		is_blocked
	done
	esc -- open-rw /dev/mem
	is_blocked
	esc -- open-rw /dev/kmsg
	is_blocked
	check_host
}

# --------------------------------------------------------- privileges

c_su() {
	setup
	box -- sh -c 'su -c "/workspace/escape caps" root; echo su=$?;
		su -s /bin/sh nobody -c "id -u" ; echo su2=$?'
	[[ "$OUT" != *ESCAPED* ]] || fail "su gave capabilities: $OUT"
	[[ "$OUT" != *$'\n'65534* ]] || fail "su switched to nobody: $OUT"
	check_host
}

c_sudo_newgrp_passwd() {
	setup
	local before
	before=$(sha256sum /etc/shadow /etc/passwd /etc/group)
	box -- sh -c 'command -v sudo && sudo -n /workspace/escape caps; echo sudo=$?;
		newgrp daemon </dev/null; echo newgrp=$?; passwd -d root; echo passwd=$?;
		/workspace/escape caps'
	[[ "$OUT" != *ESCAPED* ]] || fail "a setuid tool gave capabilities: $OUT"
	[[ "$OUT" == *passwd=[1-9]* ]] || fail "passwd -d root succeeded: $OUT"
	[ "$(sha256sum /etc/shadow /etc/passwd /etc/group)" = "$before" ] || fail "credentials changed"
	check_host
}

# chmod u+s a copy of a binary inside the overlay, then exec it.
c_setuid_overlay() {
	setup
	box -- sh -c 'cp /workspace/escape /workspace/suid && chmod u+s /workspace/suid &&
		/workspace/escape suidinfo /workspace/suid; /workspace/suid caps'
	[[ "$OUT" != *ESCAPED* ]] || fail "the setuid copy gave capabilities: $OUT"
	[[ "$OUT" == *nosuid* ]] || fail "the workspace is not nosuid: $OUT"
	# Report what the host sees in the upper dir.
	local u
	u=$(echo "$CLAWBOX_STATE_DIR"/boxes/*/upper/suid)
	[ -f "$u" ] && echo "upper dir on the host: $(stat -c '%A %U' "$u"), state dir $(stat -c '%A' "$CLAWBOX_STATE_DIR")"
	check_host
}

c_caps_no_new_privs() {
	setup
	esc -- caps
	is_blocked "no capabilities"
	[[ "$OUT" == *"NoNewPrivs:"*1* ]] || fail "no_new_privs is not set: $OUT"
}

# --------------------------------------------------------- the kernel

# kernel_call CALL [host]: blocked in the box. With "host", the same call
# (one without side effects) is made on the host first: a host kernel that
# lacks the feature or refuses it to root (io_uring_disabled, no
# userfaultfd, ...) proves nothing about the box, so the case skips.
kernel_call() {
	setup
	if [ "${2:-}" = host ]; then
		need_root
		set +e
		local h
		h=$("$ESC" kernel "$1" 2>&1)
		set -e
		echo "[host] $h"
		[[ "$h" == *ESCAPED* ]] || skip "the host itself cannot make $1: $h"
	fi
	blocked -- kernel "$1"
}
c_init_module() { kernel_call init_module; }
c_finit_module() { kernel_call finit_module; }
c_delete_module() { kernel_call delete_module; }
c_kexec_load() { kernel_call kexec_load; }
c_kexec_file_load() { kernel_call kexec_file_load; }
c_bpf() { kernel_call bpf host; }
c_perf_event_open() { kernel_call perf_event_open host; }
c_userfaultfd() { kernel_call userfaultfd host; }
c_io_uring() { kernel_call io_uring_setup host; }
c_keyctl() { kernel_call keyctl host; }
c_add_key() { kernel_call add_key; }
c_request_key() { kernel_call request_key; }
c_iopl() { kernel_call iopl host; }
c_ioperm() { kernel_call ioperm host; }
c_syslog() { kernel_call syslog host; }
c_reboot() { kernel_call reboot; }
c_clock_settime() { kernel_call settimeofday; }
c_swapon() { kernel_call swapon; }
c_name_to_handle_at() { setup; blocked -- name_to_handle_at /workspace/README; }
c_open_by_handle_at() { setup; blocked -- open_by_handle_at /usr; }

c_x32_abi() {
	setup
	# Control: a kernel without x32 (CONFIG_X86_X32_ABI, most) answers
	# ENOSYS on the host too; the box then proves nothing.
	set +e
	local h
	h=$("$ESC" x32 getpid 2>&1)
	set -e
	[[ "$h" == *ESCAPED* ]] || skip "the host cannot run the x32 ABI itself: $h"
	for a in unshare mount getpid; do
		esc -- x32 "$a"
		is_blocked_or_killed
	done
}

c_i386_abi() {
	setup
	# Control: a kernel without IA32 emulation kills (SIGSEGV) the probe
	# on the host too; the box then proves nothing.
	set +e
	"$ESC" int80 getpid >/dev/null 2>&1
	local h=$?
	set -e
	[ $h -eq 0 ] || skip "the host cannot run the i386 ABI itself (int 0x80 probe: exit $h; no IA32 emulation)"
	for a in unshare mount getpid; do
		esc -- int80 "$a"
		is_blocked_or_killed
	done
	[ "$RC" -eq 159 ] || fail "the 32-bit ABI is not killed (getpid: exit $RC)"
}

c_kernel_addresses() {
	setup
	# The host (root) sees real addresses: the box must not.
	[ "$(head -1 /proc/kallsyms | cut -c1-16)" != 0000000000000000 ] || skip "addresses hidden on the host too"
	esc -- kallsyms
	is_blocked
	esc -- rawmem /proc/kcore
	is_blocked
	esc -- rawmem /dev/mem
	is_blocked
	esc -- rawmem /dev/port
	is_blocked
}

# --------------------------------------------------------- terminals

# on_pty CMD: run the sh command line CMD on a new pseudo-terminal with
# script(1); sets OUT. script's stdin is a fifo held open and empty: at EOF
# of its stdin script types into the terminal, and under load that landed
# in a reader there (the flaky TIOCSTI case). SHELL is explicit (CI has none).
on_pty() {
	local fifo="$D/pty-in"
	rm -f "$fifo"
	mkfifo "$fifo"
	exec 7<>"$fifo"
	set +e
	OUT=$(timeout 30 env SHELL=/bin/bash script -qec "$1" /dev/null <"$fifo" 2>&1)
	set -e
	exec 7>&-
	rm -f "$fifo"
}

c_tiocsti() {
	setup
	command -v script >/dev/null || skip "script(1) not installed"
	local mark="$VT/injected-$$"
	for high in "" high; do
		on_pty "$CLAWBOX run --project $P -- /workspace/escape tiocsti 0 'touch $mark~' $high"
		echo "$OUT"
		[[ "$OUT" == *"blocked: ioctl TIOCSTI"* ]] || fail "TIOCSTI not blocked: $OUT"
	done
	# Control: outside the box the same push reaches the reading shell
	# (unless the host kernel refuses TIOCSTI, dev.tty.legacy_tiocsti=0);
	# the pushed bytes are in the terminal before read starts.
	on_pty "$ESC tiocsti 0 'hello~' >$D/sti.out 2>&1; read -t 5 line; echo host-read=\$line."
	echo "control: $OUT"
	if grep -q ESCAPED "$D/sti.out"; then
		[[ "$OUT" == *"host-read=hello."* ]] || fail "control: the reading shell did not see the push"
	fi
	# The caller's own terminal with the box's stdout not a tty: the box
	# still gets no host terminal; a host shell then reads that terminal:
	# nothing may have been pushed into it.
	on_pty "$CLAWBOX run --project $P -- /workspace/escape tiocsti 0 'touch $mark~' >$D/sti.out 2>&1; read -t 1 line; echo host-read=\$line."
	echo "$OUT"
	cat "$D/sti.out"
	grep -q "blocked: ioctl TIOCSTI" "$D/sti.out" || fail "TIOCSTI on the host's terminal not blocked"
	[[ "$OUT" == *"host-read=."* ]] || fail "the host's terminal received input: $OUT"
	[ ! -e "$mark" ] || { rm -f "$mark"; fail "input was injected into a terminal"; }
	check_host
}

# --------------------------------------------------------- the network

c_host_loopback() {
	setup
	local port=$((20000 + RANDOM % 20000))
	host_bg timeout 25 "$PY" -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1
	local ok=0
	for _ in $(seq 50); do
		"$ESC" tcp 127.0.0.1 "$port" >/dev/null 2>&1 && { ok=1; break; }
		sleep 0.1
	done
	[ $ok -eq 1 ] || fail "control: the host cannot reach its listener"
	esc -- tcp 127.0.0.1 "$port"
	kill "${HOST_PIDS[-1]}" 2>/dev/null || true
	is_blocked "Connection refused"
}

c_host_address() {
	setup
	local ip
	ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub("/.*","",$4); print $4; exit}')
	[ -n "$ip" ] || skip "the host has no global IPv4 address"
	esc -- tcp "$ip" 22
	is_blocked "unreachable"
}

c_internet() {
	setup
	local t0=$SECONDS
	esc -- tcp 1.1.1.1 53
	is_blocked "Network is unreachable"
	esc -- udp 10.0.0.1 53
	is_blocked "Network is unreachable"
	[ $((SECONDS - t0)) -lt 10 ] || fail "network attempts did not fail fast"
}

# Socket families a box has no use for: EAFNOSUPPORT from seccomp, with
# --net none and --net proxy alike. Each family is first created on the
# host (as root): a kernel without it proves nothing, so it is left out.
c_socket_families() {
	need_root
	setup
	local name fam type proto tried=0 net
	while read -r name fam type proto; do
		if ! "$ESC" socket "$fam" "$type" "$proto" >/dev/null 2>&1; then
			echo "the host has no $name sockets: left out"
			continue
		fi
		tried=$((tried + 1))
		for net in none proxy; do
			esc --net $net -- socket "$fam" "$type" "$proto"
			is_blocked "errno 97"
		done
	done <<-EOF
		vsock 40 1 0
		vsock-dgram 40 2 0
		packet 17 3 0
		packet-dgram 17 2 0
		bluetooth 31 5 0
		alg 38 5 0
		key 15 3 2
		xdp 44 3 0
		netlink-uevent 16 3 15
		netlink-audit 16 3 9
		netlink-netfilter 16 3 12
		netlink-xfrm 16 3 6
		netlink-generic 16 3 16
		can 29 3 1
		tipc 30 5 0
		rds 21 5 0
		smc 43 1 0
		qipcrtr 42 2 0
		iucv 32 1 0
		llc 26 2 0
		appletalk 5 2 0
		ieee802154 36 2 0
		mctp 45 2 0
		high-bits 0x100000028 1 0
	EOF
	[ $tried -gt 0 ] || skip "the host has none of these families"
	# socketpair: AF_UNIX only.
	esc --net none -- socketpair 2 1 0
	is_blocked "errno 97"
	# What a box needs still works.
	for a in "socket 1 1 0" "socket 2 1 0" "socket 10 2 0" "socket 16 3 0" "socket 16 3 4" "socketpair 1 1 0"; do
		# shellcheck disable=SC2086
		esc --net none -- $a
		[ "$RC" -eq 0 ] || fail "$a: a family the box needs was refused: $OUT"
	done
	check_host
}

# --------------------------------------------------------- resources

c_fill_tmp() {
	setup
	local before after
	before=$(df -Pk /tmp / /var/tmp | awk 'NR>1 {s+=$4} END {print s}')
	esc --tmp-size 16M -- fill /tmp/big 64
	is_blocked "No space left"
	esc --tmp-size 16M -- fill /dev/shm/big 64
	is_blocked "No space left"
	after=$(df -Pk /tmp / /var/tmp | awk 'NR>1 {s+=$4} END {print s}')
	echo "free KiB before $before after $after"
	[ $((before - after)) -lt 32768 ] || fail "the host lost $((before - after)) KiB"
	check_host
}

c_fork_bomb() {
	need_root
	setup
	[ -d /sys/fs/cgroup/pids ] || skip "no cgroup v1 pids controller on the host"
	local t0=$SECONDS
	# A tag of this test run's own in the bomb's command line (the helper
	# ignores it): other runs of this suite on the host are not ours to see.
	local tag="t-escape.$$.$T_N"
	esc --pids 64 -- forkbomb 500 "$tag"
	is_blocked "Resource temporarily unavailable"
	[ $((SECONDS - t0)) -lt 25 ] || fail "the fork bomb run took $((SECONDS - t0)) s"
	# The box's processes are gone: the init kills and reaps every process
	# of the box before it reports the end, so they are gone when clawbox
	# returns.
	! pgrep -fx "/workspace/escape forkbomb 500 $tag" >/dev/null || fail "fork bomb children survived"
	# The same bomb without --pids goes further (so the limit did it).
	esc -- forkbomb 100
	[ "$RC" -eq 0 ] || fail "control: 100 forks fail even without --pids: $OUT"
}

c_memory_limit() {
	need_root
	setup
	[ -d /sys/fs/cgroup/memory ] || skip "no cgroup v1 memory controller on the host"
	esc --memory 64M -- alloc 256
	[ "$RC" -ne 0 ] && [[ "$OUT" != *ESCAPED* ]] || fail "allocated 256 MiB under --memory 64M"
	echo "exit $RC (137 = SIGKILL by the OOM killer)"
	esc -- alloc 256
	[ "$RC" -eq 0 ] || fail "control: 256 MiB fail even without --memory: $OUT"
}

# --------------------------------------------------------- the binaries

c_proc_self_exe() {
	setup
	esc -- write /proc/self/exe pwned
	is_blocked
	check_host
}

c_overwrite_clawbox() {
	setup
	local bin before
	bin=$(readlink -f "$CLAWBOX")
	before=$(sha256sum <"$bin")
	esc -- open-w /proc/1/exe
	is_blocked "Permission denied"
	esc -- open-w "$bin"
	[[ "$bin" == /tmp/* ]] && is_blocked "No such file" || is_blocked
	esc -- open-w /proc/self/exe
	is_blocked
	[ "$(sha256sum <"$bin")" = "$before" ] || fail "the clawbox binary changed"
	check_host
}

# --------------------------------------------------------- later host-side commands

# The box plants symlinks and unwritable dirs in its upper dir and home;
# clawbox status, reset and delete on the host must not follow them out.
c_reset_delete_follow() {
	setup
	box -- sh -c "ln -s $O /workspace/out && ln -s $O/target /workspace/outfile &&
		ln -s $O /home/clawbox/out && mkdir -p /workspace/locked/in &&
		ln -s $O /workspace/locked/in/out && chmod 000 /workspace/locked && echo planted"
	[[ "$OUT" == *planted* ]] || fail "could not plant the links: $OUT"
	"$CLAWBOX" status --project "$P" || true
	"$CLAWBOX" reset --project "$P" --yes || fail "reset failed"
	check_host
	box -- sh -c "ln -s $O /workspace/out && ln -s $O /home/clawbox/out && echo planted"
	"$CLAWBOX" delete --project "$P" --yes || fail "delete failed"
	check_host
	[ -z "$(ls -A "$CLAWBOX_STATE_DIR/boxes" 2>/dev/null)" ] || fail "delete left the box"
}

# Overlay metadata written from inside (user.overlay.* on userxattr
# overlays) could redirect or hide lower files on the next mount.
c_overlay_xattrs() {
	setup
	local u x
	# The kernel may accept these and store them escaped (user.overlay.overlay.*,
	# for nested overlays); what matters is what the next mount reads.
	for x in user.overlay.redirect user.overlay.opaque user.overlay.origin \
		user.overlay.metacopy; do
		esc -- setxattr /workspace/src "$x" /etc
		[ "$RC" -le 1 ] || fail "helper error: $OUT"
	done
	esc -- setxattr /workspace/src trusted.overlay.redirect /etc
	is_blocked
	u=$(echo "$CLAWBOX_STATE_DIR"/boxes/*/upper/src)
	if [ -d "$u" ]; then
		"$PY" - "$u" <<'PYEOF' || fail "overlay metadata written raw into the upper dir"
import os, sys
raw = {x: os.getxattr(sys.argv[1], x) for x in os.listxattr(sys.argv[1])}
print("upper xattrs:", raw)
bad = [x for x, v in raw.items() if x.startswith("user.overlay.")
       and not x.startswith("user.overlay.overlay.") and v == b"/etc"]
sys.exit(1 if bad else 0)
PYEOF
	fi
	# The next run still shows the project's src, not /etc.
	box -- ls -A /workspace/src
	[ "$OUT" = main.c ] || fail "the workspace's src changed: $OUT"
	check_host
}

c_id_maps() {
	setup
	for f in uid_map gid_map setgroups; do
		esc -- append "/proc/self/$f" "0 0 4294967295"
		is_blocked
		esc -- append "/proc/1/$f" "0 0 4294967295"
		is_blocked
	done
}

# A project outside /tmp: the host's copy is in the read-only view next to
# the overlay, so writes through every name of it must miss the host.
c_project_outside_tmp() {
	setup
	local vp="$O/proj"
	mkproj "$vp"
	cp "$ESC" "$vp/escape"
	echo "API_KEY=secret" >"$vp/secret.env"
	snapshot "$O" >"$D/out.before"
	P=$vp
	esc -- write "$vp/README" pwned
	[ "$RC" -eq 0 ] || fail "the project is not writable by its own path: $OUT"
	esc -- write "$O/sibling" pwned
	is_blocked "Read-only file system"
	esc -- write "$vp/../sibling" pwned
	is_blocked "Read-only file system"
	esc --deny-read secret.env -- read "$vp/secret.env"
	is_blocked
	esc --deny-read secret.env -- read "$vp/../proj/./secret.env"
	is_blocked
	esc --deny-read secret.env -- read "/proc/self/root$vp/secret.env"
	is_blocked
	P=$D/proj
	check_host
}

# --------------------------------------------------------- as an ordinary user

# The box of an unprivileged user (user namespaces, no cgroups): a set of the
# attempts above, as nobody.
c_unprivileged() {
	need_root
	need_userns
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	command -v setpriv >/dev/null || skip "setpriv not installed"
	setup
	chmod 755 "$D"
	mkdir "$D/ustate"
	chown nobody "$D/ustate"
	chown -R nobody:nogroup "$P"
	snapshot "$P" >"$D/proj.before"
	local bin attempt
	bin=$(readlink -f "$CLAWBOX")
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$bin" ||
		skip "nobody cannot run $bin"
	unpriv() {
		set +e
		OUT=$(cd "$P" && timeout 30 setpriv --reuid=65534 --regid=65534 --clear-groups \
			env -i PATH=/usr/bin:/bin HOME="$D/ustate" CLAWBOX_STATE_DIR="$D/ustate" \
			ASAN_OPTIONS="${ASAN_OPTIONS:-}" "$bin" run --project "$P" ${UOPTS:-} -- "$@" 2>&1)
		RC=$?
		set -e
		printf '[nobody: %s] exit %s\n%s\n' "$*" "$RC" "$OUT"
	}
	unpriv /workspace/escape write "$P/README" pwned
	[ "$RC" -eq 0 ] || fail "the project is not writable by its own path: $OUT"
	while read -r attempt; do
		# shellcheck disable=SC2086
		unpriv /workspace/escape $attempt
		is_blocked
	done <<-EOF
		caps
		unshare user
		clone user
		mount tmpfs /tmp
		chroot /tmp/r
		write /etc/clawbox-escape
		write $VT/clawbox-escape
		read /etc/shadow
		list /root
		ptrace 1
		procfds 1
		kernel bpf
		kernel keyctl
		kernel io_uring_setup
		mknod /tmp/null c 1 3
		tcp 1.1.1.1 53
		open-w /sys/fs/cgroup/pids/cgroup.procs
	EOF
	unpriv sh -c 'cp /workspace/escape /tmp/s && chmod u+s /tmp/s && /tmp/s caps;
		su -c "/workspace/escape caps" root </dev/null; echo su=$?'
	[[ "$OUT" != *ESCAPED* ]] || fail "setuid gave capabilities: $OUT"
	# --pids without root: RLIMIT_NPROC (with a warning).
	UOPTS="--pids 64" unpriv /workspace/escape forkbomb 500
	is_blocked "Resource temporarily unavailable"
	check_host
}

# The helper's verdicts are real: run on the host (as root, outside any box)
# the harmless attempts succeed and are reported as escapes.
c_helper_selftest() {
	need_root
	setup
	local attempt r
	while read -r attempt; do
		set +e
		# shellcheck disable=SC2086
		OUT=$("$ESC" $attempt 2>&1)
		r=$?
		set -e
		echo "[host: $attempt] exit $r: $OUT"
		[ $r -eq 0 ] && [[ "$OUT" == *ESCAPED* ]] || fail "on the host, '$attempt' was not an escape"
	done <<-EOF
		write $O/new
		open-w $O/target
		append $O/target more
		exists $D
		read /etc/shadow
		list /root
		caps
		kallsyms
		procfds $$
		unshare user
		clone user
		setns /proc/self/ns/mnt
		ptrace-sibling
		mknod $O/null c 1 3
		kernel keyctl
		fill $O/fill 2
		forkbomb 8
		alloc 16
	EOF
	rm -rf "$O"
}

case_run "the helper reports escapes (run on the host)" c_helper_selftest
case_run "write the host project by its absolute path (lands in the overlay)" c_project_abs_path
case_run "write the host project via /proc/self/root" c_proc_self_root
case_run "write via /proc/1/cwd and /proc/1/root" c_proc1_cwd
case_run "follow the init's fds via /proc/1/fd" c_proc1_fds
case_run "follow the builder thread's fds via /proc/1/task/*/fd" c_builder_fds
case_run "write through symlinks planted in the project" c_symlink_planted
case_run "write a file hard-linked from outside (copy-up)" c_hardlink
case_run ".. traversal out of /workspace" c_dotdot
case_run "create files in /etc, append to /etc/passwd" c_write_etc
case_run "create files in /usr, open /usr/bin/env for writing" c_write_usr
case_run "create files in /var/tmp" c_write_var
case_run "create files in /opt" c_write_opt
case_run "write a host dir outside /tmp" c_write_vt
case_run "open /proc/sys/kernel/* for writing" c_proc_sys_kernel
case_run "open /proc/sysrq-trigger for writing" c_sysrq_trigger
case_run "write /sys/kernel/*" c_sys_kernel
case_run "write /sys/fs/cgroup/* (raise the box's own limits)" c_sys_cgroup
case_run "read /root" c_read_root
case_run "read the invoking user's home (\$HOME/.ssh)" c_read_home
case_run "read /etc/shadow and /etc/gshadow" c_read_shadow
case_run "read the state dir (under /tmp)" c_state_dir_tmp
case_run "read the state dir (under /var/tmp)" c_state_dir_var
case_run "list /run" c_run_dir
case_run "connect to a host unix socket under --deny-read" c_unix_socket_denied
case_run "connect to a host abstract unix socket" c_abstract_socket
case_run "read a --deny-read file inside the project" c_deny_read_in_project
case_run "mount a tmpfs" c_mount_tmpfs
case_run "bind-mount" c_mount_bind
case_run "mount proc" c_mount_proc
case_run "remount /usr read-write" c_mount_remount_rw
case_run "umount a mask" c_umount
case_run "new mount API (fsopen, open_tree, mount_setattr, fspick)" c_new_mount_api
case_run "pivot_root" c_pivot_root
case_run "chroot after mkdir" c_chroot
case_run "unshare a user namespace" c_unshare_user
case_run "unshare a mount namespace" c_unshare_mnt
case_run "unshare a net namespace" c_unshare_net
case_run "unshare a pid namespace" c_unshare_pid
case_run "unshare ipc, uts, cgroup, time namespaces" c_unshare_other
case_run "setns via /proc/1/ns/* and /proc/self/ns/*" c_setns
case_run "clone with namespace flags" c_clone_newuser
case_run "clone3 with CLONE_NEWUSER" c_clone3
case_run "unshare(1) -Urm" c_unshare_tool
case_run "ptrace the box init" c_ptrace_init
case_run "ptrace a sibling" c_ptrace_sibling
case_run "process_vm_readv of the init" c_process_vm_readv
case_run "open /proc/1/mem read-write" c_proc1_mem
case_run "kill a host process (and kill -1)" c_kill_host
case_run "mknod char and block devices" c_mknod
case_run "open the host's disk, /dev/mem, /dev/kmsg" c_raw_disk
case_run "become root with su" c_su
case_run "sudo, newgrp, passwd" c_sudo_newgrp_passwd
case_run "setuid bit set inside the overlay" c_setuid_overlay
case_run "no capabilities, no_new_privs" c_caps_no_new_privs
case_run "init_module" c_init_module
case_run "finit_module" c_finit_module
case_run "delete_module" c_delete_module
case_run "kexec_load" c_kexec_load
case_run "kexec_file_load" c_kexec_file_load
case_run "bpf" c_bpf
case_run "perf_event_open" c_perf_event_open
case_run "userfaultfd" c_userfaultfd
case_run "io_uring_setup" c_io_uring
case_run "keyctl" c_keyctl
case_run "add_key" c_add_key
case_run "request_key" c_request_key
case_run "iopl" c_iopl
case_run "ioperm" c_ioperm
case_run "syslog" c_syslog
case_run "reboot" c_reboot
case_run "clock_settime" c_clock_settime
case_run "swapon" c_swapon
case_run "name_to_handle_at" c_name_to_handle_at
case_run "open_by_handle_at (shocker)" c_open_by_handle_at
case_run "x32 syscall ABI" c_x32_abi
case_run "i386 ABI via int 0x80" c_i386_abi
case_run "kernel addresses: kallsyms, kcore, /dev/mem, /dev/port" c_kernel_addresses
case_run "TIOCSTI into the terminal" c_tiocsti
case_run "TCP to a listener on the host's 127.0.0.1" c_host_loopback
case_run "TCP to the host's own address" c_host_address
case_run "reach the internet and 10.x" c_internet
case_run "socket families a box has no use for (vsock, packet, alg, netlink uevent, ...)" c_socket_families
case_run "fill /tmp and /dev/shm beyond --tmp-size" c_fill_tmp
case_run "fork bomb under --pids 64" c_fork_bomb
case_run "allocate 256M under --memory 64M" c_memory_limit
case_run "overwrite /proc/self/exe" c_proc_self_exe
case_run "overwrite the clawbox binary (/proc/1/exe)" c_overwrite_clawbox
case_run "status/reset/delete after the box planted symlinks" c_reset_delete_follow
case_run "set overlay xattrs on the workspace" c_overlay_xattrs
case_run "write uid_map, gid_map, setgroups" c_id_maps
case_run "a project outside /tmp: its host copy and siblings" c_project_outside_tmp
case_run "the box of an unprivileged user (nobody)" c_unprivileged
