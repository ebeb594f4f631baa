/* Landlock: after this, the calling process and its children can write only
 * beneath the given directories and to the given files, whatever the mounts
 * and permissions say (a second wall behind the read-only mounts). Reading
 * is not restricted here: what must not be read is not in the view. */
#ifndef CLAWBOX_LANDLOCK_H
#define CLAWBOX_LANDLOCK_H
#include "util/common.h"
#include "util/error.h"

/* Returns the Landlock ABI version enforced (>= 1), or -errno with *err
 * (may be NULL) filled in: -EOPNOTSUPP when the kernel has no Landlock (the
 * caller reports it); else naming the path that could not be added, if
 * that failed. Needs no_new_privs. Missing paths are skipped. */
int landlock_restrict_writes(const char *const *dirs, size_t ndirs, const char *const *files,
			     size_t nfiles, struct error *err);

#endif
