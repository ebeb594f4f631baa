#include "util/common.h"

#include "box/landlock.h"

#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

/* Newer than the Debian 12 kernel headers. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL               (1ULL << 1)

/* The ABI 6 layout; older kernels get a prefix of it (size by ABI). */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#define FS_WRITE_V1                                                      \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | \
	 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | \
	 LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |     \
	 LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |   \
	 LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)

static int add_rule(int rfd, const char *path, uint64_t access)
{
	_cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct landlock_path_beneath_attr pb = { .allowed_access = access, .parent_fd = fd };
	if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
		return -errno;
	return 0;
}

int landlock_restrict_writes(const char *const *dirs, size_t ndirs, const char *const *files,
			     size_t nfiles, struct error *err)
{
	static const char step[] = "apply the Landlock write rules";
	int abi =
	    (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return error_errno(
		    err, errno == ENOSYS || errno == EOPNOTSUPP ? -EOPNOTSUPP : -errno, step);

	uint64_t fs = FS_WRITE_V1, file_rights = LANDLOCK_ACCESS_FS_WRITE_FILE;
	struct ll_ruleset_attr attr = { 0 };
	size_t size = sizeof(uint64_t);
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3) {
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
		file_rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
	}
	attr.handled_access_fs = fs;
	if (abi >= 6) {
		/* No abstract unix sockets or signals across the box's domain. */
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	_cleanup_close_ int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rfd < 0)
		return error_errno(err, -errno, step);
	for (size_t i = 0; i < ndirs; i++) {
		int r = add_rule(rfd, dirs[i], fs);
		if (r < 0)
			return error_errno(err, r, "%s '%s'", step, dirs[i]);
	}
	for (size_t i = 0; i < nfiles; i++) {
		int r = add_rule(rfd, files[i], file_rights);
		if (r < 0)
			return error_errno(err, r, "%s '%s'", step, files[i]);
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) < 0)
		return error_errno(err, -errno, step);
	return abi;
}
