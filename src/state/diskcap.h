/* A box's disk cap: a sparse ext4 image, $BOX/disk.img, loop-mounted by
 * the supervisor (root) at $BOX/disk and left mounted between runs. The
 * box's upper and work dirs, its home and the sync gate's state (staging
 * included) live inside it, so the kernel stops every write of the box at
 * the cap with ENOSPC, and the host loses at most the cap. A run only
 * checks that the image is mounted (statx + statfs); it mounts it when it
 * is not (after a reboot). After a run, what the box deleted is trimmed
 * out of the image when it adds up (diskcap_trim). Needs root (loop
 * devices, mounting ext4). Modules never print; -errno returns. */
#ifndef CLAWBOX_DISKCAP_H
#define CLAWBOX_DISKCAP_H
#include "util/common.h"

#define DISKCAP_IMAGE "disk.img"
#define DISKCAP_MOUNT "disk"

#define DISKCAP_MIN     (32ULL << 20) /* below: ext4's own metadata takes most of it */
#define DISKCAP_MAX     (16ULL << 40) /* ext4 with 4 KiB blocks */
#define DISKCAP_DEFAULT (10ULL << 30)

/* The cap of a new box when none is given: DISKCAP_DEFAULT, or half of the
 * space free for root on the filesystem holding dir if that is less (a box
 * can never take a host's last half), and at least DISKCAP_MIN. */
uint64_t diskcap_default(const char *dir);

/* Is bytes a valid cap for an image on the filesystem holding dir? 0,
 * -ERANGE below DISKCAP_MIN, -EFBIG above DISKCAP_MAX or above the size of
 * that filesystem (*ret_fs_size gets it then). */
int diskcap_check(const char *dir, uint64_t bytes, uint64_t *ret_fs_size);

/* Create the image in the box dir box (an fd): DISKCAP_IMAGE, sparse,
 * formatted ext4 (mke2fs), atomically (made under a temporary name), and
 * the empty mount point DISKCAP_MOUNT. -ENOEXEC when mke2fs is missing or
 * fails, -EOPNOTSUPP when the filesystem of box has no sparse files (the
 * image would take the whole cap of the host's disk at once). Nothing is
 * left behind on failure. */
int diskcap_create(int box, uint64_t bytes);

/* True when an image exists in the box dir box. */
bool diskcap_has_image(int box);

/* Make sure the box's image is mounted at $BOX/disk: 0 when it already
 * was (two syscalls), 1 when this call mounted it (loop device configured
 * with autoclear, so it goes with the last unmount), -errno. */
int diskcap_ensure(int box);

/* Unmount the image (lazily: a box of another project that is running
 * keeps its clone until it ends; the loop device is freed after that). 0
 * when it was not mounted. */
int diskcap_unmount(int box);

struct diskcap_usage {
	uint64_t cap;   /* the image's size */
	uint64_t used;  /* the filesystem's used bytes (ext4's metadata included) */
	uint64_t avail; /* what the box can still write */
	uint64_t host;  /* what the image takes of the host's disk */
};
/* The usage of a mounted image. */
int diskcap_usage(int box, struct diskcap_usage *ret);

/* Before a run, under the box's lock: when the box's disk is (nearly)
 * full, remove the last run's overlay work dir (work/work) and the trash,
 * so that overlayfs can make its new work dir (it mounts read-only when it
 * cannot: the agent could not even delete files to make room). 0 or
 * -errno. */
int diskcap_unjam(int box);

/* Give the blocks the box freed back to the host (FITRIM: the loop device
 * punches them out of the image) when the image takes more of the host's
 * disk than the filesystem uses by over a tenth of the cap (at least 64
 * MiB): 1 when trimmed, 0 when not needed, -errno. */
int diskcap_trim(int box, const struct diskcap_usage *u);

/* True when the box has (nearly) nothing left to write: less than 1 MiB
 * or 1% of the cap available to it. */
bool diskcap_full(const struct diskcap_usage *u);

/* Grow the mounted image to bytes (the image, the loop device, then ext4
 * online; without CAP_SYS_RESOURCE offline: unmounted, e2fsck, resize2fs,
 * mounted again: -EBUSY when a running box still holds a clone of its
 * mount). The caller holds the box's lock. -EINVAL when bytes is smaller
 * than the image. The image is mounted on return, grown or not. */
int diskcap_grow(int box, uint64_t bytes);

#endif
