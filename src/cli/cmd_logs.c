/* clawbox logs: show (and follow) an up box's command log
 * (src/state/cmdlog.h: $BOX/logs/cmd.log and its rotated files). */
#include "util/common.h"

#include "cli/cli.h"
#include "cli/commands.h"
#include "ctl/ctl.h"
#include "secrets/secrets.h"
#include "state/cmdlog.h"
#include "util/log.h"
#include "util/utf8.h"

#include <getopt.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/syscall.h>

static const char usage[] =
    "usage: clawbox logs [--box NAME | --project DIR] [-f] [-n LINES]\n\n"
    "Show what the long-lived command of an up box ('clawbox up -- CMD') wrote\n"
    "to its stdout and stderr: kept in the box's logs/cmd.log, rotated at 1 MiB\n"
    "(cmd.log.1 to cmd.log.3 are kept), every secret value the box knows\n"
    "redacted. On a terminal, control characters are shown as '?'.\n\n"
    "options:\n" BOX_OPTS_HELP
    "  -f, --follow         keep showing what is written, across rotations, until\n"
    "                       interrupted (or, on a box that is up, until it goes down)\n"
    "  -n, --lines LINES    only the last LINES lines (default: all that is kept)\n"
    "  -h, --help           show this help\n";

#define LOGS_READ_MAX (256ULL * 1024 * 1024) /* bytes of the kept files read at most */

/* Where the log goes: redacted against the box's known values (written
 * after the line was logged too), filtered on a terminal. */
struct logs_out {
	struct secrets_stream *redact; /* NULL: nothing to redact */
	bool tty;
	char carry[4]; /* a UTF-8 sequence cut by the last chunk (tty only) */
	size_t ncarry;
};

static void show(struct logs_out *o, const char *p, size_t len)
{
	char buf[SECRETS_STREAM_CHUNK + sizeof(o->carry)];
	if (!o->tty) {
		fwrite(p, 1, len, stdout);
		return;
	}
	while (len > 0) {
		size_t piece = len < SECRETS_STREAM_CHUNK ? len : SECRETS_STREAM_CHUNK, keep = 0;
		memcpy(buf, o->carry, o->ncarry);
		memcpy(buf + o->ncarry, p, piece);
		size_t n = utf8_display_filter(buf, o->ncarry + piece, &keep);
		fwrite(buf, 1, n, stdout);
		memcpy(o->carry, buf + o->ncarry + piece - keep, keep);
		o->ncarry = keep;
		p += piece;
		len -= piece;
	}
}

static void out_feed(struct logs_out *o, const char *p, size_t len)
{
	while (len > 0) {
		size_t n = len < SECRETS_STREAM_CHUNK ? len : SECRETS_STREAM_CHUNK;
		const char *r = p;
		size_t rn = n;
		if (o->redact && secrets_stream_feed(o->redact, p, n, &r, &rn) < 0)
			rn = 0;
		show(o, r, rn);
		p += n;
		len -= n;
	}
}

static void out_flush(struct logs_out *o)
{
	const char *r;
	size_t rn;
	if (o->redact && secrets_stream_waiting(o->redact) &&
	    secrets_stream_flush(o->redact, &r, &rn) == 0)
		show(o, r, rn);
	fflush(stdout);
}

/* Open name in the logs dir: a regular file, never through a symlink. */
static int open_log(int dirfd, const char *name)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* Append what fd holds from its offset on to *buf (capped). */
static int read_rest(int fd, char **buf, size_t *len)
{
	char chunk[65536];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (*len + (size_t)n > LOGS_READ_MAX)
			return -EFBIG;
		char *b = realloc(*buf, *len + (size_t)n);
		if (!b)
			return -ENOMEM;
		memcpy(b + *len, chunk, (size_t)n);
		*buf = b;
		*len += (size_t)n;
	}
	return n < 0 ? -errno : 0;
}

/* Every kept file, oldest first, into *buf; *ret_fd gets cmd.log's fd at
 * its end (for -f), or -1. -ENOENT when there is no log at all. */
static int read_all(int dirfd, char **buf, size_t *len, int *ret_fd)
{
	bool any = false;
	*ret_fd = -1;
	for (int i = CMDLOG_KEEP_MAX; i >= 0; i--) {
		char name[32];
		snprintf(name, sizeof(name), i ? "%s.%d" : "%s", CMDLOG_FILE, i);
		int fd = open_log(dirfd, name);
		if (fd == -ENOENT)
			continue;
		if (fd < 0)
			return fd;
		any = true;
		int r = read_rest(fd, buf, len);
		if (r < 0 || i > 0) {
			close(fd);
			if (r < 0)
				return r;
			continue;
		}
		*ret_fd = fd;
	}
	return any ? 0 : -ENOENT;
}

/* Where the last n lines of buf[0..len) begin. */
static size_t tail_start(const char *buf, size_t len, uint64_t n)
{
	size_t i = len;
	if (i > 0 && buf[i - 1] == '\n')
		i--;
	for (; i > 0; i--)
		if (buf[i - 1] == '\n' && n-- <= 1)
			return i;
	return 0;
}

/* Read what fd has now and show it. */
static void drain(struct logs_out *o, int fd)
{
	char chunk[SECRETS_STREAM_CHUNK];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		out_feed(o, chunk, (size_t)n);
}

static bool same_file(int dirfd, const char *name, const struct stat *st)
{
	struct stat o;
	return fstatat(dirfd, name, &o, AT_SYMLINK_NOFOLLOW) == 0 && o.st_ino == st->st_ino &&
	       o.st_dev == st->st_dev;
}

/* Show the whole of name (a file rotated before we got to it). */
static void show_file(struct logs_out *o, int dirfd, const char *name)
{
	int fd = open_log(dirfd, name);
	if (fd >= 0) {
		drain(o, fd);
		close(fd);
	}
}

/* Something happened in the logs dir. When cmd.log is no longer the file
 * we follow, rotations made it cmd.log.N: finish it, show the files
 * rotated after it (more than one rotation may have come between two
 * looks), then go on with the new cmd.log. */
static void follow_event(struct logs_out *o, int dirfd, int *fd)
{
	char name[32];
	struct stat cur;
	drain(o, *fd);
	if (fstat(*fd, &cur) < 0 || same_file(dirfd, CMDLOG_FILE, &cur))
		return;
	int idx = CMDLOG_KEEP_MAX + 1; /* not found: every kept one is newer */
	for (int i = 1; i <= CMDLOG_KEEP_MAX; i++) {
		snprintf(name, sizeof(name), "%s.%d", CMDLOG_FILE, i);
		if (same_file(dirfd, name, &cur)) {
			idx = i;
			break;
		}
	}
	for (int i = idx - 1; i >= 1; i--) {
		snprintf(name, sizeof(name), "%s.%d", CMDLOG_FILE, i);
		show_file(o, dirfd, name);
	}
	int nfd = open_log(dirfd, CMDLOG_FILE);
	if (nfd >= 0) {
		close(*fd);
		*fd = nfd;
		drain(o, *fd);
	}
}

/* -f: show what is appended to cmd.log, across rotations, until killed or
 * the box's supervisor (up: its pidfd, or -1 when the box was not up) has
 * ended. */
static int follow(struct logs_out *o, int dirfd, int fd, int up)
{
	_cleanup_close_ int in = inotify_init1(IN_CLOEXEC);
	_Alignas(struct inotify_event) char buf[4096];
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", dirfd);
	if (in < 0 || inotify_add_watch(in, self, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
		return -errno;
	for (;;) {
		struct pollfd pf[2] = { { .fd = in, .events = POLLIN },
					{ .fd = up, .events = POLLIN } };
		int timeout = o->redact ? secrets_stream_flush_in(o->redact) : -1;
		int r = poll(pf, 2, timeout);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0 && pf[1].revents) {
			/* The box is down: what it wrote last, and the end. */
			follow_event(o, dirfd, &fd);
			out_flush(o);
			return 0;
		}
		ssize_t n = r > 0 && pf[0].revents ? read(in, buf, sizeof(buf)) : 0;
		for (char *p = buf; p < buf + (n > 0 ? n : 0);) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			follow_event(o, dirfd, &fd);
			p += sizeof(*ev) + ev->len;
		}
		out_flush(o);
	}
}

/* A pidfd of the up box's supervisor, or -1 when the box is not up. */
static int supervisor_pidfd(const struct box *b)
{
	struct ctl_status st;
	if (ctl_status(b, &st, NULL) < 0)
		return -1;
	return (int)syscall(SYS_pidfd_open, st.supervisor, 0);
}

static int show_logs(const struct box *b, bool do_follow, uint64_t lines, struct logs_out *o)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int fd = -1;
	_cleanup_close_ int box = open(b->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int dirfd =
	    box < 0 ? -1 : openat(box, CMDLOG_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = dirfd < 0 ? -errno : read_all(dirfd, &buf, &len, &fd);
	if (r == -ENOENT) {
		log_error("box '%s' has no command log: only a box started with 'clawbox up -- "
			  "CMD' keeps one",
			  b->name);
		return CLI_EXIT_ERROR;
	}
	if (r < 0) {
		log_error("cannot read the command log of box '%s': %s", b->name, strerror(-r));
		return CLI_EXIT_ERROR;
	}
	size_t start = lines ? tail_start(buf, len, lines) : 0;
	out_feed(o, buf + start, len - start);
	out_flush(o);
	_cleanup_close_ int up = do_follow ? supervisor_pidfd(b) : -1;
	if (do_follow && fd >= 0 && (r = follow(o, dirfd, fd, up)) < 0) {
		log_error("cannot follow the command log of box '%s': %s", b->name, strerror(-r));
		r = CLI_EXIT_ERROR;
	}
	if (fd >= 0)
		close(fd);
	return r < 0 ? CLI_EXIT_ERROR : r;
}

int cmd_logs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "box", required_argument, NULL, 'b' },
		{ "project", required_argument, NULL, 'p' },
		{ "follow", no_argument, NULL, 'f' },
		{ "lines", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct box_opts bo = { 0 };
	bool do_follow = false;
	uint64_t lines = 0;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "b:p:fn:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bo.box = optarg; break;
		case 'p': bo.project = optarg; break;
		case 'f': do_follow = true; break;
		case 'n':
			if (cli_parse_uint(optarg, &lines) < 0 || lines == 0) {
				log_error("invalid number of lines '%s' for -n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_bad_option("logs", argv);
		}
	}
	if (optind < argc)
		return cli_bad_argument("logs", argv[optind]);
	struct box b;
	bool created;
	if (cli_box(&bo, false, BOX_MODE_SECURE, false, &b, &created) < 0)
		return CLI_EXIT_ERROR;
	/* What the box knows now, written before it knew it too. */
	_cleanup_secrets_ struct secrets *known = NULL;
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	struct logs_out o = { .tty = isatty(STDOUT_FILENO) };
	int r = secrets_new_known(&known);
	if (r == 0 && (r = secrets_known_load(b.dir, known, &err)) >= 0)
		r = secrets_stream_new(known, &o.redact);
	if (r < 0) {
		log_error("cannot load the values to redact: %s",
			  cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	r = show_logs(&b, do_follow, lines, &o);
	secrets_stream_free(o.redact);
	return r;
}
