/* For unit tests: a directory of the test's own under /tmp. */
#ifndef CLAWBOX_UNIT_TMP_H
#define CLAWBOX_UNIT_TMP_H
#include "unit.h"

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

#endif
