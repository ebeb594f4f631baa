/* For unit tests of the box: a project and a box dir (upper, work, home)
 * of the test's own under /tmp, as the state dir lays them out. */
#ifndef CLAWBOX_UNIT_BOX_H
#define CLAWBOX_UNIT_BOX_H
#include "unit.h"

#include "util/fs.h"

struct box_dirs {
	char base[64];
	char project[PATH_MAX], upper[PATH_MAX], work[PATH_MAX], home[PATH_MAX];
};

/* Make d's dirs (empty) beneath a new /tmp/clawbox-unit.* (its real path). */
static inline void make_box(struct box_dirs *d)
{
	char real[PATH_MAX];
	snprintf(d->base, sizeof(d->base), "/tmp/clawbox-unit.XXXXXX");
	CHECK(mkdtemp(d->base) && realpath(d->base, real));
	snprintf(d->base, sizeof(d->base), "%s", real);
	snprintf(d->project, sizeof(d->project), "%s/project", d->base);
	snprintf(d->upper, sizeof(d->upper), "%s/box/upper", d->base);
	snprintf(d->work, sizeof(d->work), "%s/box/work", d->base);
	snprintf(d->home, sizeof(d->home), "%s/box/home", d->base);
	CHECK_INT(fs_mkdir_p(d->project, 0755), 0);
	CHECK_INT(fs_mkdir_p(d->upper, 0755), 0);
	CHECK_INT(fs_mkdir_p(d->work, 0755), 0);
	CHECK_INT(fs_mkdir_p(d->home, 0755), 0);
}

#endif
