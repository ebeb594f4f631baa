#!/usr/bin/env bash
# usage: scripts/unmount-boxes.sh DIR...
# Unmount (lazily) every mount beneath each DIR, deepest first: the disk
# images of the boxes of a state dir (their loop devices go with them), so
# that the dir can be removed. Boxes made as root keep their image mounted
# between runs; `clawbox delete` unmounts one box.
for d in "$@"; do
	d=$(realpath -m "$d")
	awk -v p="$d/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
done
