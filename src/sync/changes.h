/* The pending changes of a box, read from its overlay upper dir against the
 * project (the lower layer). The upper dir holds whole files only (the
 * overlay runs without metacopy and redirects), so each entry is one of:
 *   added      a file, symlink, dir or special file the project lacks
 *   modified   a non-directory the project has too (copied up, maybe changed)
 *   deleted    a whiteout (char 0:0, or the user.overlay.whiteout xattr)
 *   replaced   an opaque dir: the project's dir of that name was removed
 *              and made anew (its old children are gone)
 *   meta       a dir of the project whose mode or owner changed
 * Dirs that only hold changes are walked, not reported. Renames appear as
 * added + deleted. Cost grows with the size of the upper dir only. */
#ifndef CLAWBOX_CHANGES_H
#define CLAWBOX_CHANGES_H
#include "util/common.h"

enum change_kind { CHANGE_ADDED, CHANGE_MODIFIED, CHANGE_DELETED, CHANGE_REPLACED, CHANGE_META };

struct change {
	const char *path; /* relative to the project root, no leading '/' */
	enum change_kind kind;
	const struct stat *st; /* of the upper entry */
	/* A directory whose path is PATH_MAX bytes or longer, or nested over
	 * 512 deep: what it holds is not walked (the path of a change may
	 * reach PATH_MAX + NAME_MAX bytes). kind is what the dir itself is;
	 * META when it is unchanged. */
	bool truncated;
};

const char *change_kind_name(enum change_kind k);

/* Walk upper_fd against lower_fd (either may be the root of its tree; lower_fd
 * may be -1 for "nothing below"). fn returning < 0 stops the walk with that
 * value. Never follows a symlink, in either tree. */
int changes_walk(int upper_fd, int lower_fd, int (*fn)(const struct change *c, void *ctx),
		 void *ctx);

struct changes_summary {
	uint64_t added, modified, deleted, replaced, meta;
	uint64_t bytes; /* sizes of the regular files added or modified */
};

int changes_summarize(int upper_fd, int lower_fd, struct changes_summary *ret);

static inline uint64_t changes_total(const struct changes_summary *s)
{
	return s->added + s->modified + s->deleted + s->replaced + s->meta;
}

#endif
