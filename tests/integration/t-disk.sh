#!/usr/bin/env bash
# The per-box disk cap (--disk): a filesystem image per box, enforced by the
# kernel; status shows use and cap; bad sizes change nothing; without root
# the cap is not enforced and clawbox says so.
. "$(dirname "$0")/lib.sh"

need_disk() {
	need_root
	[ -e /dev/loop-control ] || skip "no loop devices"
	command -v mke2fs >/dev/null || skip "no mke2fs (e2fsprogs)"
	grep -qw ext4 /proc/filesystems || modprobe ext4 2>/dev/null || skip "no ext4"
}

# Every case unmounts what it mounted, even when it fails.
disk_case() {
	trap 't_unmount_under "$C"' EXIT
	need_disk
	mkproj "$P"
}

box_dir() { echo "$CLAWBOX_STATE_DIR"/boxes/proj-*; }
free_kib() { df -k --output=avail "$1" | tail -1 | tr -d ' '; }

# The loop devices backed by a file beneath dir.
loops_of() { losetup -a 2>/dev/null | grep -F "$1/" || true; }

fallocate_enospc() {
	disk_case
	before=$(free_kib "$C")
	out=$("$CLAWBOX" run --disk 64M --project "$P" -- sh -c \
		'fallocate -l 1G /workspace/big; echo "fallocate=$?"; rm -f /workspace/big
		 dd if=/dev/zero of=/workspace/fill bs=1M count=1024 2>&1; echo "dd=$?"
		 stat -c "size=%s" /workspace/fill' 2>&1) || true
	echo "$out"
	echo "$out" | grep -q "fallocate: .*No space left on device" || fail "fallocate not ENOSPC: $out"
	echo "$out" | grep -q "fallocate=1" || fail "fallocate did not fail"
	echo "$out" | grep -q "dd: .*No space left on device" || fail "dd not stopped by ENOSPC"
	size=$(echo "$out" | sed -n 's/^size=//p')
	[ -n "$size" ] && [ "$size" -le $((64 << 20)) ] || fail "the box wrote $size bytes (cap 64M)"
	[ "$size" -ge $((32 << 20)) ] || fail "the box could write only $size bytes of its 64M"
	sync
	after=$(free_kib "$C")
	# Other helpers share the disk: allow 16 MiB of noise beside the cap.
	[ $((before - after)) -le $(((64 + 16) * 1024)) ] ||
		fail "host free space dropped by $((before - after)) KiB (cap 64M)"
	echo "$out" | grep -q "box 'proj-.*' hit its disk cap (64.0 MiB)" ||
		fail "no message about the cap after the run: $out"
}

cap_stored_and_kept() {
	disk_case
	"$CLAWBOX" run --disk 64M --project "$P" -- true
	grep -q '"disk": 67108864' "$(box_dir)/box.json" || fail "cap not in box.json: $(cat "$(box_dir)/box.json")"
	grep -q '"event":"box.create".*"disk":67108864' "$(box_dir)/audit.jsonl" || fail "box.create has no cap"
	# A later run without --disk keeps the cap (and after the image was
	# unmounted, as after a reboot, mounts it again with the box's files).
	"$CLAWBOX" run --project "$P" -- sh -c 'echo kept > /workspace/kept; echo h > ~/h'
	umount "$(box_dir)/disk"
	out=$("$CLAWBOX" run --project "$P" -- sh -c 'cat /workspace/kept ~/h; df -k /workspace | tail -1')
	echo "$out" | grep -qx kept || fail "workspace file lost across the remount: $out"
	echo "$out" | grep -qx h || fail "home file lost across the remount: $out"
	size=$(echo "$out" | tail -1 | awk '{print $2}')
	[ "$size" -le 65536 ] || fail "the workspace's filesystem is ${size} KiB (cap 64M)"
	out=$("$CLAWBOX" status --project "$P")
	echo "$out" | grep -Eq '^disk: +[0-9.]+ [KM]iB used of 64.0 MiB cap' || fail "status: $out"
	"$CLAWBOX" status --project "$P" --json | grep -q '"cap": 67108864' || fail "status --json has no cap"
}

full_box_recovers_and_syncs() {
	disk_case
	"$CLAWBOX" run --disk 64M --project "$P" -- sh -c \
		'echo small > /workspace/small; dd if=/dev/zero of=/workspace/fill bs=1M count=200 2>/dev/null' || true
	out=$("$CLAWBOX" status --project "$P")
	echo "$out" | grep -q "cap, full" || fail "status does not say full: $out"
	# The next run can still write where it freed room (overlayfs gets its
	# work dir: it would mount the workspace read-only otherwise).
	out=$("$CLAWBOX" run --project "$P" -- sh -c 'rm /workspace/fill && echo again > /workspace/again && echo wrote' 2>&1)
	echo "$out" | grep -qx wrote || fail "the run after a full disk could not write: $out"
	"$CLAWBOX" sync --auto --project "$P"
	[ "$(cat "$P/small")" = small ] && [ "$(cat "$P/again")" = again ] || fail "sync did not apply"
	# Full again, with a file to stage: sync either fits or says why.
	"$CLAWBOX" run --project "$P" -- sh -c \
		'head -c 4000000 /dev/urandom > /workspace/mid; dd if=/dev/zero of=/workspace/fill bs=1M count=200 2>/dev/null' || true
	if out=$("$CLAWBOX" sync --auto --project "$P" 2>&1); then
		[ "$(stat -c %s "$P/mid")" -eq 4000000 ] || fail "sync said ok, mid missing: $out"
	else
		echo "$out" | grep -q "disk is full" || fail "sync failed without saying the disk is full: $out"
	fi
}

# What the box deletes goes back to the host (trimmed out of the image
# after the run).
deleted_space_returns() {
	disk_case
	"$CLAWBOX" run --disk 512M --project "$P" -- sh -c 'head -c 300000000 /dev/urandom > /workspace/big'
	img="$(box_dir)/disk.img"
	sync
	used=$(du -k "$img" | cut -f1)
	[ "$used" -ge 250000 ] || fail "the image takes only $used KiB after a 300 MB write"
	"$CLAWBOX" run --project "$P" -- rm /workspace/big
	sync
	used=$(du -k "$img" | cut -f1)
	[ "$used" -le 100000 ] || fail "the image still takes $used KiB after the box deleted its file"
}

# After a reboot (the image unmounted) several clawbox processes at once
# mount it once: one loop device, never two superblocks for one image.
remount_once() {
	disk_case
	"$CLAWBOX" run --disk 64M --project "$P" -- sh -c 'echo x > /workspace/x'
	d=$(box_dir)
	umount "$d/disk"
	for _ in $(seq 100); do [ -z "$(loops_of "$d")" ] && break; sleep 0.05; done
	[ -z "$(loops_of "$d")" ] || fail "loop device left after the unmount"
	pids=()
	for i in 1 2 3 4; do "$CLAWBOX" status --project "$P" >"$C/st$i" 2>&1 & pids+=($!); done
	for p in "${pids[@]}"; do wait "$p" || fail "a status failed: $(cat "$C"/st*)"; done
	[ "$(loops_of "$d" | wc -l)" -eq 1 ] || fail "loop devices: $(loops_of "$d")"
	[ "$(grep -c " $d/disk " /proc/self/mountinfo)" -eq 1 ] || fail "mounts: $(grep " $d/disk " /proc/self/mountinfo)"
	grep -q "pending: *1 changes" "$C/st1" || fail "status: $(cat "$C/st1")"
}

delete_unmounts() {
	disk_case
	"$CLAWBOX" run --disk 64M --project "$P" -- true
	d=$(box_dir)
	grep -q " $d/disk " /proc/self/mountinfo || fail "the image is not mounted"
	[ -n "$(loops_of "$d")" ] || fail "no loop device for the image"
	"$CLAWBOX" delete --yes --project "$P"
	[ ! -e "$d" ] || fail "the box dir is left: $(ls -A "$d")"
	! grep -q " $d/disk " /proc/self/mountinfo || fail "the image is still mounted"
	for _ in $(seq 100); do [ -z "$(loops_of "$d")" ] && break; sleep 0.05; done
	[ -z "$(loops_of "$d")" ] || fail "loop device left: $(loops_of "$d")"
}

bad_sizes() {
	disk_case
	for s in 0 -1 1Q 10X 99999999999999999999 20T 16M 1k ""; do
		if out=$("$CLAWBOX" run --disk "$s" --project "$P" -- true 2>&1); then
			fail "--disk '$s' accepted"
		fi
		echo "$out" | grep -Eq -- "invalid size '.*' for --disk|--disk .* is (below the minimum|above the maximum)" ||
			fail "--disk '$s': no clear message: $out"
		[ ! -e "$CLAWBOX_STATE_DIR/boxes" ] || [ -z "$(ls -A "$CLAWBOX_STATE_DIR/boxes")" ] ||
			fail "--disk '$s' left a box"
	done
	# Larger than the state dir's filesystem (but below ext4's maximum).
	fs=$(df -k --output=size "$C" | tail -1 | tr -d ' ')
	if [ "$fs" -lt $((8 << 30)) ]; then
		out=$("$CLAWBOX" run --disk 8T --project "$P" -- true 2>&1) && fail "--disk 8T accepted on a ${fs} KiB filesystem"
		echo "$out" | grep -q "larger than the filesystem" || fail "--disk 8T: $out"
		[ -z "$(ls -A "$CLAWBOX_STATE_DIR/boxes" 2>/dev/null)" ] || fail "--disk 8T left a box"
	fi
}

grow_not_shrink() {
	disk_case
	"$CLAWBOX" run --disk 64M --project "$P" -- sh -c 'echo keep > /workspace/keep'
	out=$("$CLAWBOX" run --disk 32M --project "$P" -- true 2>&1) && fail "shrinking accepted"
	echo "$out" | grep -q "cannot shrink\|can grow but not shrink" || fail "shrink message: $out"
	grep -q '"disk": 67108864' "$(box_dir)/box.json" || fail "a refused shrink changed box.json"
	# Online with CAP_SYS_RESOURCE, else offline (e2fsck, resize2fs).
	out=$("$CLAWBOX" run --disk 128M --project "$P" -- sh -c 'cat /workspace/keep; df -k /workspace | tail -1' 2>&1) ||
		fail "grow failed: $out"
	echo "$out" | grep -q "disk cap grown from 64.0 MiB to 128.0 MiB" || fail "no message about the growth: $out"
	echo "$out" | grep -qx keep || fail "grow lost a file: $out"
	size=$(echo "$out" | tail -1 | awk '{print $2}')
	[ "$size" -gt 65536 ] || fail "not grown: $out"
	grep -q '"disk": 134217728' "$(box_dir)/box.json" || fail "grown cap not stored"
	grep -q '"event":"box.disk".*"from":67108864,"to":134217728' "$(box_dir)/audit.jsonl" ||
		fail "the growth is not in the audit log: $(cat "$(box_dir)/audit.jsonl")"
}

# The state dir is masked in every box: the image and its mount are out of
# reach (a state dir beneath /var/tmp, which boxes see read-only).
image_hidden() {
	need_disk
	export CLAWBOX_STATE_DIR
	CLAWBOX_STATE_DIR=$(mktemp -d /var/tmp/clawbox-t-disk.XXXXXX)
	trap 't_unmount_under "$CLAWBOX_STATE_DIR"; rm -rf "$CLAWBOX_STATE_DIR"' EXIT
	mkproj "$P"
	"$CLAWBOX" run --disk 64M --project "$P" -- true
	d=$(box_dir)
	[ -f "$d/disk.img" ] || fail "no image"
	out=$("$CLAWBOX" run --project "$P" -- sh -c "ls -A '$CLAWBOX_STATE_DIR' | wc -l; cat '$d/disk.img' | wc -c; ls '$d/disk/upper'" 2>&1) || true
	echo "$out" | head -1 | grep -qx 0 || fail "the state dir is visible in the box: $out"
	echo "$out" | grep -qx "$((64 << 20))" && fail "the box read its image: $out"
	true
}

# A box made before disk caps (by the baseline's layout: no "disk" in
# box.json, its dirs in the box dir) keeps working uncapped and keeps its
# files; status says why it has no cap; --disk on it is refused.
older_box_uncapped() {
	disk_case
	d="$CLAWBOX_STATE_DIR/boxes/old"
	mkdir -p -m 0700 "$CLAWBOX_STATE_DIR/boxes" "$d" "$d/work" "$d/home"
	mkdir -m 0755 "$d/upper"
	echo kept >"$d/upper/kept"
	touch "$d/lock"
	printf '{"version": 1, "name": "old", "project": "%s", "mode": "secure", "created": 1}\n' "$P" >"$d/box.json"
	out=$("$CLAWBOX" run --box old -- sh -c 'cat /workspace/kept; echo new > /workspace/new')
	[ "$out" = kept ] || fail "the older box lost its file: $out"
	[ -f "$d/upper/new" ] || fail "the older box's writes are not in its upper dir"
	[ ! -e "$d/disk.img" ] || fail "an image was made for the older box"
	out=$("$CLAWBOX" status --box old)
	echo "$out" | grep -Eq "^disk: +no cap \(box created without one: before disk caps" || fail "status: $out"
	out=$("$CLAWBOX" run --disk 64M --box old -- true 2>&1) && fail "--disk on an older box accepted"
	echo "$out" | grep -q "created without a disk cap (before disk caps" || fail "--disk on an older box: $out"
	[ -f "$d/upper/kept" ] && [ ! -e "$d/disk.img" ] || fail "the refused --disk changed the box"
}

# A root host without loop devices (a container): a new box is made
# uncapped, and clawbox says so; an explicit --disk is refused clearly.
no_loop_devices() {
	need_root
	command -v unshare >/dev/null || skip "no unshare"
	mkproj "$P"
	touch "$C/not-a-device"
	cat >"$C/run.sh" <<-EOF
		set -e
		mount --bind "$C/not-a-device" /dev/loop-control
		"$CLAWBOX" run --project "$P" -- sh -c 'echo ok > /workspace/f' 2>"$C/err"
		"$CLAWBOX" status --project "$P" >"$C/status"
		if "$CLAWBOX" run --disk 64M --project "$C/p2" -- true 2>"$C/err2"; then exit 3; fi
	EOF
	mkdir -p "$C/p2"
	unshare -m --propagation private bash "$C/run.sh" || fail "rc $?: $(cat "$C/err" "$C/err2" 2>/dev/null)"
	grep -q "no loop devices" "$C/err" || fail "no warning: $(cat "$C/err")"
	[ ! -e "$(box_dir)/disk.img" ] || fail "an image was made"
	[ -f "$(box_dir)/upper/f" ] || fail "the box did not run"
	grep -Eq "^disk: +no cap" "$C/status" || fail "status: $(cat "$C/status")"
	[ -s "$C/err2" ] || fail "--disk without loop devices: no message"
}

# Without root: no loop mounts in a user namespace for ext4: --disk warns
# that the cap is not enforced, status says there is none.
user_no_cap() {
	need_root
	unshare -U true 2>/dev/null || skip "no user namespaces"
	TUSER=clawbox-t
	id "$TUSER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TUSER" >/dev/null 2>&1 ||
		skip "cannot create a test user"
	U="$C/u"
	mkdir -p "$U/proj"
	cp "$CLAWBOX" "$U/clawbox"
	echo hi >"$U/proj/README"
	chmod 755 "$U" "$U/clawbox"
	chown -R "$TUSER": "$U"
	as() {
		runuser -u "$TUSER" -- env -i PATH=/usr/bin:/bin HOME="/home/$TUSER" \
			ASAN_OPTIONS="$ASAN_OPTIONS" CLAWBOX_STATE_DIR="$U/state" bash -c "cd '$U' && $1"
	}
	out=$(as "./clawbox run --disk 64M --project proj -- sh -c 'echo ran'" 2>&1)
	echo "$out" | grep -qx ran || fail "the run failed: $out"
	echo "$out" | grep -q "not capped" || fail "no warning that the cap is not enforced: $out"
	out=$(as "./clawbox status --project proj")
	echo "$out" | grep -Eq "^disk: +no cap \(a disk cap needs root" || fail "status: $out"
	as "./clawbox run --disk 1Q --project proj -- true" 2>/dev/null && fail "a bad size accepted without root"
	true
}

case_run "fallocate and dd stop at the cap with ENOSPC; the host loses at most the cap" fallocate_enospc
case_run "the cap is stored, kept across runs and a remount, shown by status" cap_stored_and_kept
case_run "a full box: the next run writes, sync applies or says the disk is full" full_box_recovers_and_syncs
case_run "what the box deletes is given back to the host" deleted_space_returns
case_run "after an unmount, parallel commands mount the image once" remount_once
case_run "delete unmounts the image and frees its loop device" delete_unmounts
case_run "bad sizes are refused and create nothing" bad_sizes
case_run "a cap grows but never shrinks" grow_not_shrink
case_run "the image and its mount are hidden from the box" image_hidden
case_run "a box made before disk caps works uncapped, says so" older_box_uncapped
case_run "a root host without loop devices: boxes uncapped, said; --disk refused" no_loop_devices
case_run "without root: --disk says the cap is not enforced" user_no_cap
