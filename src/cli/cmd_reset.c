/* clawbox reset: discard every write held in a box's overlay. */
#include "util/common.h"

#include "state/audit.h"
#include "sync/changes.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "util/fs.h"
#include "util/log.h"

static const char usage[] =
    "usage: clawbox reset [--box NAME | --project DIR] [--yes]\n\n"
    "Discard every change pending in the box's overlay (all of them: dotfiles\n"
    "included). The project on the host is never touched. The box must not be\n"
    "running.\n\n"
    "options:\n" BOX_OPTS_HELP "  -y, --yes            do not ask for confirmation\n"
    "  -h, --help           show this help\n";

int cmd_reset(int argc, char **argv)
{
	struct cli_simple o;
	int c = cli_parse_simple(argc, argv, "reset", usage, CLI_BOX | CLI_YES, &o);
	if (c >= 0)
		return c;
	struct box b;
	_cleanup_close_ int lock = cli_lock_idle_box(&o.box, "resetting", &b);
	if (lock < 0 || cli_box_data(&b, 0, false, false) < 0)
		return CLI_EXIT_ERROR;
	struct changes_summary s = { 0 };
	char upper[PATH_MAX], size[32];
	path_join(upper, sizeof(upper), b.data, "upper");
	_cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int lfd = open(b.project, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ufd >= 0)
		changes_summarize(ufd, lfd, &s);
	cli_human_size(s.bytes, size, sizeof(size));
	if (!o.yes) {
		char q[256];
		snprintf(q, sizeof(q), "discard %llu pending changes (%s) of box '%s'?",
			 (unsigned long long)changes_total(&s), size, b.name);
		if (!cli_confirm(q)) {
			log_error("not reset (use --yes to reset without asking)");
			return CLI_EXIT_ERROR;
		}
	}
	int r = box_reset(&b);
	if (r < 0) {
		log_error("cannot reset box '%s': %s", b.name, strerror(-r));
		return CLI_EXIT_ERROR;
	}
	cli_disk_report(&b); /* gives what reset freed back to the host */
	struct audit *a;
	if (audit_open(b.dir, b.name, &a) == 0) {
		audit_append(a, "box.reset",
			     json_pack("{s:I, s:I}", "changes", (json_int_t)changes_total(&s),
				       "bytes", (json_int_t)s.bytes));
		audit_close(a);
	}
	printf("box '%s': discarded %llu changes (%s); the project was not touched\n", b.name,
	       (unsigned long long)changes_total(&s), size);
	return 0;
}
