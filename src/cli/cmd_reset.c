/* clawbox reset: discard every write held in a box's overlay (and its
 * overlay mounts'); with --home, the box's home too. */
#include "util/common.h"

#include "state/audit.h"
#include "state/mounts.h"
#include "sync/changes.h"
#include "box/rootfs.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/launch_agent.h"
#include "cli/launch_mounts.h"
#include "util/fs.h"
#include "util/log.h"

static const char usage[] =
    "usage: clawbox reset [--box NAME | --project DIR] [--home] [--yes]\n\n"
    "Discard every change pending in the box's overlay (all of them: dotfiles\n"
    "included) and in its overlay mounts (--mount SRC:DST:overlay). The box's\n"
    "home (" ROOTFS_HOME ": agents keep their state and logins there) is\n"
    "kept, unless --home, but for what an agent profile ties to the workspace\n"
    "(its [[reset]] paths, e.g. OpenClaw's ~/.openclaw-state/state: docs/AGENTS.md),\n"
    "which goes with the changes and is named. The project on the host is never\n"
    "touched. The box must not be running or up.\n\n"
    "options:\n" BOX_OPTS_HELP
    "      --home           clear the box's home too (dotfiles included)\n"
    "  -y, --yes            do not ask for confirmation\n"
    "  -h, --help           show this help\n";

/* The changes of the project's overlay and of every overlay mount. */
static void summarize(const struct box *b, struct changes_summary *ret)
{
	char upper[PATH_MAX];
	struct mounts rec = { .n = 0 };
	path_join(upper, sizeof(upper), b->data, "upper");
	_cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int lfd = open(b->project, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ufd >= 0)
		changes_summarize(ufd, lfd, ret);
	if (mounts_load(b->dir, &rec, NULL) < 0)
		return;
	for (size_t i = 0; i < rec.n; i++) {
		struct changes_summary s = { 0 };
		if (rec.v[i].kind == MOUNT_OVERLAY &&
		    launch_mounts_pending(b, &rec.v[i], &s) == 0) {
			ret->added += s.added;
			ret->modified += s.modified;
			ret->deleted += s.deleted;
			ret->replaced += s.replaced;
			ret->meta += s.meta;
			ret->bytes += s.bytes;
		}
	}
	mounts_clear(&rec);
}

static int discard(const struct box *b, bool home)
{
	int r = box_reset(b);
	if (r >= 0)
		r = mounts_reset(b->data);
	if (r >= 0 && home)
		r = box_reset_home(b);
	else if (r >= 0)
		r = launch_agent_reset(b);
	if (r < 0)
		log_error("cannot reset box '%s': %s", b->name, strerror(-r));
	return r;
}

int cmd_reset(int argc, char **argv)
{
	struct cli_simple o;
	int c = cli_parse_simple(argc, argv, "reset", usage, CLI_BOX | CLI_YES | CLI_HOME, &o);
	if (c >= 0)
		return c;
	struct box b;
	_cleanup_close_ int lock = cli_lock_idle_box(&o.box, "resetting", &b);
	if (lock < 0 || cli_box_data(&b, 0, false, false) < 0)
		return CLI_EXIT_ERROR;
	struct changes_summary s = { 0 };
	char size[32];
	summarize(&b, &s);
	cli_human_size(s.bytes, size, sizeof(size));
	if (!o.yes) {
		char q[320];
		snprintf(q, sizeof(q), "discard %llu pending changes (%s) of box '%s'%s?",
			 (unsigned long long)changes_total(&s), size, b.name,
			 o.home ? " and clear its home " ROOTFS_HOME : "");
		if (!cli_confirm(q)) {
			log_error("not reset (use --yes to reset without asking)");
			return CLI_EXIT_ERROR;
		}
	}
	if (discard(&b, o.home) < 0)
		return CLI_EXIT_ERROR;
	cli_disk_report(&b); /* gives what reset freed back to the host */
	struct audit *a;
	if (audit_open(b.dir, b.name, &a) == 0) {
		audit_append(a, "box.reset",
			     json_pack("{s:I, s:I, s:b}", "changes", (json_int_t)changes_total(&s),
				       "bytes", (json_int_t)s.bytes, "home", o.home));
		audit_close(a);
	}
	printf("box '%s': discarded %llu changes (%s); %s; the project was not touched\n", b.name,
	       (unsigned long long)changes_total(&s), size,
	       o.home ? "cleared its home (" ROOTFS_HOME ")"
		      : "kept its home (" ROOTFS_HOME "; 'clawbox reset --home' clears it)");
	return 0;
}
