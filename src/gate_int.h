/* Internals shared by the gate's modules (gate.c: open, plan, checks,
 * staging; apply.c: journal, apply, recovery, settling). Not for other
 * modules. */
#ifndef CLAWBOX_GATE_INT_H
#define CLAWBOX_GATE_INT_H
#include "util/common.h"

#include "audit.h"
#include "gate.h"
#include "journal.h"
#include "scan.h"

#include <jansson.h>

struct known_secret {
	char name[65];
	char *value; /* wiped on free */
	size_t len;
};

struct gate {
	struct box box;
	int root_fd;  /* the project, opened with no symlink on its path */
	int upper_fd; /* $BOX/upper */
	int sync_fd;  /* $BOX/sync */
	int lock_fd;  /* $BOX/sync/lock, flock()ed */
	struct sync_policy pol;
	struct audit *audit;
	struct scan_rules *rules; /* compiled on the first cache miss */
	char rules_key[65];       /* identifies rules + known secrets */
	struct known_secret *secrets;
	size_t nsecrets;
	json_t *cache_old, *cache_new; /* scan results by path + content */
	bool cache_dirty;
	struct baseline base;
	bool interrupted; /* a journal is there */
};

/* -errno, never 0 (for the analyzers: a failed call always sets errno). */
static inline int gate_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* openat2 beneath dirfd, never through a symlink or magic link. */
int gate_openat(int dirfd, const char *path, int flags, mode_t mode);

/* The parent directory of rel (beneath dirfd, no symlinks) opened O_RDONLY,
 * and the last component of rel. On failure *ret_fd is -1. */
int gate_parent(int dirfd, const char *rel, int *ret_fd, const char **ret_base);

void gate_fp_from_stat(const struct stat *st, struct gate_fp *ret);

/* sha256 hex of a regular file's content (fd at any offset, read with
 * pread), at most max bytes: -EFBIG beyond. */
int gate_hash_fd(int fd, uint64_t max, char out[65]);

_printf_(3, 4) int gate_fail(struct gate_error *err, int r, const char *fmt, ...);
void gate_subject(struct gate_error *err, const char *subject);

/* Baseline persistence (apply.c). */
int gate_baseline_save(struct gate *g);

/* Stage file name of entry i. */
void gate_stage_name(uint32_t i, char out[32]);

#endif
