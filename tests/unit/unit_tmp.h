/* For unit tests: a directory of the test's own under /tmp. */
#ifndef CLAWBOX_UNIT_TMP_H
#define CLAWBOX_UNIT_TMP_H
#include "unit.h"

#include "util/fs.h"

/* Make a new /tmp/clawbox-unit.XXXXXX (its path in path, n bytes) and
 * return an fd on it (O_DIRECTORY). */
static inline int unit_tmpdir(char *path, size_t n)
{
	snprintf(path, n, "/tmp/clawbox-unit.XXXXXX");
	CHECK(mkdtemp(path) != NULL);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	return fd;
}

/* Remove the tree at path, a dir unit_tmpdir() made. */
static inline void unit_rmtree(const char *path)
{
	int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(tmp >= 0 && strncmp(path, "/tmp/", 5) == 0);
	CHECK_INT(fs_remove_tree_at(tmp, path + 5), 0);
	close(tmp);
}

#endif
