/* Shared by the subcommands (the command layer: these print). */
#ifndef CLAWBOX_CLI_H
#define CLAWBOX_CLI_H
#include "util/common.h"

#include "state/box.h"
#include "util/error.h"

/* --box NAME / --project DIR, as every box command takes them. */
struct box_opts {
	const char *box;
	const char *project;
	uint64_t disk; /* --disk of a new box (run, shell): 0 = the default */
};

#define BOX_OPTS_HELP                                                                  \
	"  -b, --box NAME       the box to use (default: the box of the project)\n"    \
	"  -p, --project DIR    the project (default: the current directory, or the\n" \
	"                       nearest ancestor that has a box)\n"

/* Find the box the options name. With create, a missing box is created for
 * the project in mode (the mode of an existing box must equal mode when
 * mode_given). Prints one error line and returns -errno on failure;
 * *ret_created tells whether the box is new. */
int cli_box(const struct box_opts *o, bool create, enum box_mode mode, bool mode_given,
	    struct box *ret, bool *ret_created);

/* --disk SIZE: a size between DISKCAP_MIN and DISKCAP_MAX. Prints why not
 * and returns -EINVAL. */
int cli_parse_disk(const char *s, uint64_t *ret);

/* Make a box's data usable, under its lock: a capped box's image mounted
 * (it is not after a reboot), and want (--disk, 0: not given) applied to a
 * box that existed: grown, or refused when smaller or when the box has no
 * image (made before disk caps); without root --disk only warns that it is
 * not enforced. run (a run, under the lock): a full box's last overlay
 * work dir is removed (diskcap_unjam). Prints one line on failure; 0 or
 * -errno. */
int cli_box_data(struct box *b, uint64_t want, bool created, bool run);

/* After a run of a capped box: give what it deleted back to the host when
 * that adds up (diskcap_trim), and warn when it filled its disk. */
void cli_disk_report(const struct box *b);

/* The disk line of status: "12.0 MiB used of 64.0 MiB cap (13 MiB on the
 * host's disk)" or why there is no cap. */
void cli_disk_describe(const struct box *b, char *out, size_t n);

/* Refuse (with a message) a project that is or contains a built-in mask. */
int cli_check_project(const char *state, const char *project);

/* Ask "question [y/N]" on the terminal; true only for y/yes. Without a
 * terminal, false. */
bool cli_confirm(const char *question);

/* Parse a positive decimal integer. */
int cli_parse_uint(const char *s, uint64_t *ret);

/* A duration option (--timeout, --idle, ...): a positive number of seconds,
 * at most a year, into *ret_ms; else a message naming opt and -EINVAL. */
int cli_parse_seconds(const char *opt, const char *arg, int64_t *ret_ms);

/* Human-readable byte size: "0 B", "12.3 KiB", ... */
void cli_human_size(uint64_t b, char *out, size_t n);

/* The text of a failure r that e may describe: error_format(e) when e holds
 * an error, else strerror(-r). Returns buf (size > 0). */
const char *cli_error_text(const struct error *e, int r, char *buf, size_t size);

/* After getopt_long returned '?' or ':': report the bad option of
 * 'clawbox cmd'; returns CLI_EXIT_USAGE. */
int cli_bad_option(const char *cmd, char **argv);
/* A stray positional argument; returns CLI_EXIT_USAGE. */
int cli_bad_argument(const char *cmd, const char *arg);

/* The options of the simple commands: --box/--project (CLI_BOX), --yes
 * (CLI_YES), --json (CLI_JSON), --help. Returns -1 to go on, or the exit
 * status to end with (0 after --help; CLI_EXIT_USAGE, reported). */
enum { CLI_BOX = 1, CLI_YES = 2, CLI_JSON = 4, CLI_HOME = 8 };
struct cli_simple {
	struct box_opts box;
	bool yes, json, home; /* home: --home (clawbox reset) */
};
int cli_parse_simple(int argc, char **argv, const char *cmd, const char *usage, unsigned flags,
		     struct cli_simple *ret);

/* The box the options name, locked because what follows needs it idle
 * ("resetting", "deleting"): the lock fd, or < 0 after reporting why. */
int cli_lock_idle_box(const struct box_opts *o, const char *doing, struct box *ret);

#endif
