#include "util/common.h"

#include "state/audit.h"
#include "cli/cli.h"
#include "ctl/ctl.h"
#include "state/diskcap.h"
#include "box/masks.h"
#include "util/strv.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/size.h"

#include <getopt.h>

/* Resolve the project directory given by the user: it must exist and be a
 * directory; the result is canonical. */
static int project_path(const char *given, char *out)
{
	struct stat st;
	if (!realpath(given, out)) {
		int r = -errno;
		log_error("project '%s' does not exist: %s", given, strerror(-r));
		return r;
	}
	if (stat(out, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error("project '%s' is not a directory", given);
		return -ENOTDIR;
	}
	if (STREQ(out, "/")) {
		log_error("refusing to use '/' as a project");
		return -EINVAL;
	}
	return 0;
}

int cli_check_project(const char *state, const char *project)
{
	struct strv builtin = { 0 };
	int r = masks_default(state, &builtin);
	const char *hit = r < 0 ? NULL : masks_project_conflict(&builtin, project);
	if (hit) {
		log_error("refusing to box '%s': it contains '%s', which boxes never see "
			  "(credentials, homes, host sockets or clawbox's state)",
			  project, hit);
		r = -EPERM;
	}
	strv_free(&builtin);
	return r;
}

/* The cap of a new box: --disk, or the default; none without root. Prints
 * why a given one does not fit the state dir's filesystem. */
static int new_box_disk(const char *state, const struct box_opts *o, uint64_t *ret)
{
	uint64_t fs = 0;
	char size[32], fss[32];
	if (geteuid() != 0) {
		*ret = 0;
		return 0;
	}
	if (!o->disk) {
		/* A host without loop devices (a container, say) can run boxes,
		 * not cap them: said, not refused. A given --disk still fails. */
		struct stat st;
		if (stat("/dev/loop-control", &st) < 0 || !S_ISCHR(st.st_mode)) {
			log_warn("this host has no loop devices (/dev/loop-control): the new box's "
				 "disk is not capped");
			*ret = 0;
			return 0;
		}
		*ret = diskcap_default(state);
		return 0;
	}
	int r = diskcap_check(state, o->disk, &fs);
	if (r == -EFBIG && fs) {
		cli_human_size(o->disk, size, sizeof(size));
		cli_human_size(fs, fss, sizeof(fss));
		log_error("--disk %s is larger than the filesystem of the state dir '%s' (%s)",
			  size, state, fss);
	} else if (r < 0) {
		log_error("cannot check --disk against the state dir '%s': %s", state,
			  strerror(-r));
	}
	*ret = o->disk;
	return r;
}

static int load_or_create(const char *state, const char *name, const char *project, bool create,
			  enum box_mode mode, const struct box_opts *o, struct box *ret,
			  bool *ret_created)
{
	int r = box_load(state, name, ret);
	*ret_created = false;
	if (r == 0)
		return 0;
	if (r != -ENOENT) {
		log_error("cannot read box '%s' in '%s': %s", name, state,
			  r == -EBADMSG ? "box.json is malformed" : strerror(-r));
		return r;
	}
	if (!create) {
		log_error("no box '%s' for project '%s' (create one with 'clawbox run')", name,
			  project ? project : "?");
		return r;
	}
	if (!project) {
		log_error("box '%s' does not exist; give --project to create it", name);
		return -ENOENT;
	}
	uint64_t disk;
	if ((r = cli_check_project(state, project)) < 0 || (r = new_box_disk(state, o, &disk)) < 0)
		return r;
	r = box_create(state, name, project, mode, disk, ret);
	if (r == -ENOEXEC) {
		log_error("cannot create box '%s': its disk image needs mke2fs and tune2fs "
			  "(Debian: e2fsprogs)",
			  name);
		return r;
	}
	if (r == -EOPNOTSUPP) {
		char size[32];
		cli_human_size(disk, size, sizeof(size));
		log_error("cannot create box '%s': the filesystem of '%s' has no sparse files, so "
			  "its disk image would take all of its %s at once (give a smaller --disk)",
			  name, state, size);
		return r;
	}
	if (r < 0) {
		log_error("cannot create box '%s' in '%s': %s%s", name, state, strerror(-r),
			  disk ? " (making its disk image)" : "");
		return r;
	}
	*ret_created = true;
	return 0;
}

int cli_box(const struct box_opts *o, bool create, enum box_mode mode, bool mode_given,
	    struct box *ret, bool *ret_created)
{
	char state[PATH_MAX], project[PATH_MAX], cwd[PATH_MAX], name[BOX_NAME_MAX + 1];
	bool have_project = false;
	int r = box_state_dir(state, sizeof(state));
	if (r < 0) {
		log_error("cannot find the state directory: %s (set CLAWBOX_STATE_DIR to an "
			  "absolute path)",
			  r == -EINVAL ? "CLAWBOX_STATE_DIR is not absolute" : strerror(-r));
		return r;
	}
	if (o->box && !box_name_valid(o->box)) {
		log_error("invalid box name '%s': use 1-64 letters, digits, '.', '_' or '-', not "
			  "starting with '.' or '-'",
			  o->box);
		return -EINVAL;
	}
	if (o->project) {
		if ((r = project_path(o->project, project)) < 0)
			return r;
		have_project = true;
	}
	if (o->box) {
		snprintf(name, sizeof(name), "%s", o->box);
		if (!have_project && box_load(state, name, ret) == -ENOENT) {
			if (!getcwd(cwd, sizeof(cwd)) || (r = project_path(cwd, project)) < 0)
				return r < 0 ? r : -errno;
			have_project = true;
		}
	} else if (have_project) {
		if ((r = box_default_name(project, name, sizeof(name))) < 0)
			return r;
	} else {
		if (!getcwd(cwd, sizeof(cwd))) {
			log_error("cannot read the current directory: %s", strerror(errno));
			return -errno;
		}
		if (box_find_by_path(state, cwd, name, sizeof(name)) < 0) {
			if ((r = project_path(cwd, project)) < 0)
				return r;
			have_project = true;
			if ((r = box_default_name(project, name, sizeof(name))) < 0)
				return r;
		}
	}
	r = load_or_create(state, name, have_project ? project : NULL, create, mode, o, ret,
			   ret_created);
	if (r < 0)
		return r;
	if (have_project && !STREQ(ret->project, project)) {
		log_error("box '%s' belongs to project '%s', not '%s'", ret->name, ret->project,
			  project);
		return -EINVAL;
	}
	if (mode_given && ret->mode != mode) {
		log_error("box '%s' was created in mode %s; a box cannot change between overlay "
			  "and unsafe modes (run 'clawbox delete --box %s' first)",
			  ret->name, box_mode_name(ret->mode), ret->name);
		return -EINVAL;
	}
	return 0;
}

bool cli_confirm(const char *question)
{
	char line[16];
	if (!isatty(STDIN_FILENO))
		return false;
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return STREQ(line, "y\n") || STREQ(line, "yes\n") || STREQ(line, "Y\n");
}

int cli_parse_uint(const char *s, uint64_t *ret)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v == 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Human-readable byte size: "0 B", "12.3 KiB", ... */
void cli_human_size(uint64_t b, char *out, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	size_t u = 0;
	while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%llu B", (unsigned long long)b);
	else
		snprintf(out, n, "%.1f %s", v, units[u]);
}

const char *cli_error_text(const struct error *e, int r, char *buf, size_t size)
{
	if (error_isset(e))
		return error_format(e, buf, size);
	snprintf(buf, size, "%s", strerror(r < 0 ? -r : r));
	return buf;
}

int cli_bad_option(const char *cmd, char **argv)
{
	if (optopt)
		log_error("unknown option '-%c' (see 'clawbox %s --help')", optopt, cmd);
	else
		log_error("unknown option '%s' (see 'clawbox %s --help')", argv[optind - 1], cmd);
	return CLI_EXIT_USAGE;
}

int cli_bad_argument(const char *cmd, const char *arg)
{
	log_error("unexpected argument '%s' (see 'clawbox %s --help')", arg, cmd);
	return CLI_EXIT_USAGE;
}

int cli_parse_simple(int argc, char **argv, const char *cmd, const char *usage, unsigned flags,
		     struct cli_simple *ret)
{
	static const struct option opts[] = {
		{ "box", required_argument, NULL, 'b' },
		{ "project", required_argument, NULL, 'p' },
		{ "yes", no_argument, NULL, 'y' },
		{ "json", no_argument, NULL, 'j' },
		{ "home", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	memset(ret, 0, sizeof(*ret));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "b:p:yh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
		case 'p':
			if (!(flags & CLI_BOX))
				return cli_bad_option(cmd, argv);
			*(c == 'b' ? &ret->box.box : &ret->box.project) = optarg;
			break;
		case 'y':
			if (!(flags & CLI_YES))
				return cli_bad_option(cmd, argv);
			ret->yes = true;
			break;
		case 'j':
			if (!(flags & CLI_JSON))
				return cli_bad_option(cmd, argv);
			ret->json = true;
			break;
		case 'H':
			if (!(flags & CLI_HOME))
				return cli_bad_option(cmd, argv);
			ret->home = true;
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_bad_option(cmd, argv);
		}
	}
	if (optind < argc)
		return cli_bad_argument(cmd, argv[optind]);
	return -1;
}

int cli_lock_idle_box(const struct box_opts *o, const char *doing, struct box *ret)
{
	bool created;
	pid_t holder = 0;
	if (cli_box(o, false, BOX_MODE_SECURE, false, ret, &created) < 0)
		return -ENOENT;
	int lock = box_lock(ret, &holder);
	struct ctl_status up;
	if (lock == -EBUSY && ctl_status(ret, &up, NULL) == 0)
		log_error("box '%s' is up (clawbox pid %d): 'clawbox down --box %s' before %s",
			  ret->name, (int)holder, ret->name, doing);
	else if (lock == -EBUSY)
		log_error("box '%s' is running (clawbox pid %d): stop it before %s", ret->name,
			  (int)holder, doing);
	else if (lock == -ETIMEDOUT)
		log_error("box '%s' is still being torn down after its last run: try again",
			  ret->name);
	else if (lock < 0)
		log_error("cannot lock box '%s': %s", ret->name, strerror(-lock));
	return lock;
}

int cli_parse_seconds(const char *opt, const char *arg, int64_t *ret_ms)
{
	uint64_t secs;
	if (cli_parse_uint(arg, &secs) < 0 || secs > 86400 * 365) {
		log_error("invalid %s '%s': a number of seconds (at most a year)", opt, arg);
		return -EINVAL;
	}
	*ret_ms = (int64_t)secs * 1000;
	return 0;
}

int cli_parse_disk(const char *s, uint64_t *ret)
{
	uint64_t v;
	int r = size_parse(s, UINT64_MAX, &v);
	if (r < 0) {
		log_error("invalid size '%s' for --disk: give a size such as 512M or 10G (at least "
			  "32M)",
			  s);
		return -EINVAL;
	}
	if (v < DISKCAP_MIN || v > DISKCAP_MAX) {
		log_error("--disk %s is %s (a box's disk is 32M to 16T)", s,
			  v < DISKCAP_MIN ? "below the minimum" : "above the maximum");
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* --disk given for a box that exists: grow it, or say why not. */
static int apply_disk(struct box *b, uint64_t want, int dfd)
{
	char have[32], size[32];
	cli_human_size(b->disk, have, sizeof(have));
	cli_human_size(want, size, sizeof(size));
	if (!b->disk) {
		log_error("box '%s' was created without a disk cap (before disk caps, or on a "
			  "host without loop devices): it has no disk image and stays uncapped; to "
			  "cap it, 'clawbox sync' what you want to "
			  "keep, 'clawbox delete' it and run again with --disk",
			  b->name);
		return -EINVAL;
	}
	if (want < b->disk) {
		log_error("box '%s' has a disk cap of %s: a cap can grow but not shrink (to start "
			  "smaller, 'clawbox delete' the box)",
			  b->name, have);
		return -EINVAL;
	}
	want &= ~(uint64_t)4095;
	if (want <= b->disk)
		return 0;
	uint64_t old = b->disk;
	uint64_t fs = 0;
	int r = diskcap_check(b->dir, want, &fs);
	if (r == 0)
		r = diskcap_grow(dfd, want);
	if (r == 0)
		r = box_set_disk(b, want);
	if (r < 0) {
		log_error("cannot grow the disk of box '%s' to %s: %s", b->name, size,
			  r == -EFBIG && fs ? "larger than the state dir's filesystem"
			  : r == -EBUSY     ? "a running box (of another project) still holds its "
					      "filesystem: try again when none runs"
			  : r == -ENOEXEC   ? "e2fsck or resize2fs failed or is missing (e2fsprogs)"
					    : strerror(-r));
		return r;
	}
	log_info("box '%s': disk cap grown from %s to %s", b->name, have, size);
	struct audit *a;
	if (audit_open(b->dir, b->name, &a) == 0) {
		audit_append(
		    a, "box.disk",
		    json_pack("{s:I, s:I}", "from", (json_int_t)old, "to", (json_int_t)want));
		audit_close(a);
	}
	return 0;
}

int cli_box_data(struct box *b, uint64_t want, bool created, bool run)
{
	if (want && !b->disk && geteuid() != 0) {
		log_warn(
		    "--disk needs root (a loop-mounted filesystem image): the disk of box '%s' "
		    "is not capped",
		    b->name);
		return 0;
	}
	if (!b->disk && !want)
		return 0;
	_cleanup_close_ int dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = dfd < 0 ? -errno : b->disk ? diskcap_ensure(dfd) : 0;
	if (r >= 0 && b->disk && run)
		r = diskcap_unjam(dfd);
	if (r < 0) {
		log_error("cannot mount the disk image of box '%s' (%s/" DISKCAP_IMAGE "): %s",
			  b->name, b->dir, strerror(-r));
		return r;
	}
	return want && !created ? apply_disk(b, want, dfd) : 0;
}

void cli_disk_report(const struct box *b)
{
	struct diskcap_usage u = { 0 };
	char cap[32];
	_cleanup_close_ int dfd =
	    b->disk ? open(b->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	if (dfd < 0 || diskcap_usage(dfd, &u) < 0)
		return;
	(void)diskcap_trim(dfd, &u);
	if (!diskcap_full(&u))
		return;
	cli_human_size(u.cap, cap, sizeof(cap));
	log_warn("box '%s' hit its disk cap (%s): its writes failed with 'No space left on "
		 "device'; 'clawbox status' shows its use; free it with 'clawbox sync' or "
		 "'clawbox reset', or grow it with 'clawbox run --disk SIZE'",
		 b->name, cap);
}

void cli_disk_describe(const struct box *b, char *out, size_t n)
{
	struct diskcap_usage u = { 0 };
	char used[32], cap[32], host[32];
	if (!b->disk) {
		snprintf(out, n, "%s",
			 geteuid() != 0
			     ? "no cap (a disk cap needs root: a loop-mounted image)"
			     : "no cap (box created without one: before disk caps, or on a "
			       "host without loop devices)");
		return;
	}
	_cleanup_close_ int dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cli_human_size(b->disk, cap, sizeof(cap));
	int r = dfd < 0 ? -errno : diskcap_usage(dfd, &u);
	if (r < 0) {
		snprintf(out, n, "%s cap (%s)", cap,
			 r == -ENOTCONN ? "image not mounted" : strerror(-r));
		return;
	}
	cli_human_size(u.used, used, sizeof(used));
	cli_human_size(u.host, host, sizeof(host));
	snprintf(out, n, "%s used of %s cap%s (%s of the host's disk)", used, cap,
		 diskcap_full(&u) ? ", full" : "", host);
}
