/* Landlock: after this, the calling process and its children can write only
 * beneath the given directories and to the given files, whatever the mounts
 * and permissions say (a second wall behind the read-only mounts). Reading
 * is not restricted here: what must not be read is not in the view. */
#ifndef CLAWBOX_LANDLOCK_H
#define CLAWBOX_LANDLOCK_H
#include "util/common.h"

/* Returns the Landlock ABI version enforced (>= 1), or -errno: -EOPNOTSUPP
 * when the kernel has no Landlock (the caller reports it). On -errno other
 * than that, *ret_path names the path that could not be added. Needs
 * no_new_privs. Missing paths are skipped. */
int landlock_restrict_writes(const char *const *dirs, size_t ndirs, const char *const *files,
			     size_t nfiles, const char **ret_path);

#endif
