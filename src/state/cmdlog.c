/* The command log of an up box: see cmdlog.h. */
#include "util/common.h"

#include "secrets/secrets.h"
#include "state/cmdlog.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>

struct cmdlog {
	int in, stopfd, dirfd, out; /* the pipe, stop, $BOX/logs, cmd.log */
	pthread_t thread;
	struct secrets_stream *redact; /* NULL: nothing to redact */
	uint64_t max_size, size;       /* of cmd.log */
	unsigned keep;
	bool midline; /* cmd.log does not end with '\n' */
	uint64_t read, dropped;
};

/* cmd.log -> cmd.log.1 -> ... -> cmd.log.keep, then a new cmd.log. */
static int rotate(struct cmdlog *c)
{
	char from[32], to[32];
	if (c->out >= 0)
		close(c->out);
	c->out = -1;
	for (unsigned i = c->keep; i > 0; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", CMDLOG_FILE);
		else
			snprintf(from, sizeof(from), "%s.%u", CMDLOG_FILE, i - 1);
		snprintf(to, sizeof(to), "%s.%u", CMDLOG_FILE, i);
		if (renameat(c->dirfd, from, c->dirfd, to) < 0 && errno != ENOENT)
			return -errno;
	}
	if (c->keep == 0)
		unlinkat(c->dirfd, CMDLOG_FILE, 0);
	c->out = openat(c->dirfd, CMDLOG_FILE,
			O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	c->size = 0;
	c->midline = false;
	return c->out < 0 ? -errno : 0;
}

/* How much of p[0..len) goes to cmd.log before the next rotation check:
 * up to max_size; past it, up to the end of the line being written (and
 * at most CMDLOG_LINE_SLACK further). 0: rotate first. */
static size_t chunk_len(const struct cmdlog *c, const char *p, size_t len)
{
	if (c->size < c->max_size)
		return len < c->max_size - c->size ? len : (size_t)(c->max_size - c->size);
	if (!c->midline || c->size >= c->max_size + CMDLOG_LINE_SLACK)
		return 0;
	size_t room = (size_t)(c->max_size + CMDLOG_LINE_SLACK - c->size);
	size_t n = len < room ? len : room;
	const char *nl = memchr(p, '\n', n);
	return nl ? (size_t)(nl - p) + 1 : n;
}

/* Append p[0..len), rotating where it must. What cannot be written is
 * dropped (and counted): the command never waits for a full disk. */
static void put(struct cmdlog *c, const char *p, size_t len)
{
	while (len > 0) {
		size_t n = chunk_len(c, p, len);
		if (n == 0) {
			if (rotate(c) < 0)
				break;
			continue;
		}
		ssize_t w = c->out >= 0 ? write(c->out, p, n) : -1;
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		c->size += (uint64_t)w;
		c->midline = p[w - 1] != '\n';
		p += w;
		len -= (size_t)w;
	}
	__atomic_add_fetch(&c->dropped, len, __ATOMIC_RELAXED);
}

/* Pass in[0..len) through the redactor (if any) to the file. */
static void feed(struct cmdlog *c, const char *in, size_t len)
{
	const char *out;
	size_t n;
	__atomic_add_fetch(&c->read, len, __ATOMIC_RELAXED);
	if (!c->redact) {
		put(c, in, len);
		return;
	}
	if (secrets_stream_feed(c->redact, in, len, &out, &n) == 0)
		put(c, out, n);
	else
		__atomic_add_fetch(&c->dropped, len, __ATOMIC_RELAXED);
}

static void flush(struct cmdlog *c)
{
	const char *out;
	size_t n;
	if (c->redact && secrets_stream_waiting(c->redact) &&
	    secrets_stream_flush(c->redact, &out, &n) == 0)
		put(c, out, n);
}

/* One read of the pipe: 1 when bytes came, 0 at its end, -errno. */
static int read_once(struct cmdlog *c)
{
	char buf[SECRETS_STREAM_CHUNK];
	ssize_t n = read(c->in, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR ? 1 : -errno;
	if (n > 0)
		feed(c, buf, (size_t)n);
	explicit_bzero(buf, (size_t)(n > 0 ? n : 0));
	return n > 0;
}

static void *thread_main(void *p)
{
	struct cmdlog *c = p;
	for (;;) {
		struct pollfd pf[2] = { { .fd = c->in, .events = POLLIN },
					{ .fd = c->stopfd, .events = POLLIN } };
		int timeout = c->redact ? secrets_stream_flush_in(c->redact) : -1;
		int r = poll(pf, 2, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (r == 0)
			flush(c);
		if (pf[0].revents && read_once(c) <= 0)
			break;
		if (pf[1].revents) {
			/* stop: what is readable now, not what may come */
			fcntl(c->in, F_SETFL, fcntl(c->in, F_GETFL) | O_NONBLOCK);
			while (read_once(c) > 0)
				;
			break;
		}
	}
	flush(c);
	return NULL;
}

static struct cmdlog *cmdlog_free(struct cmdlog *c)
{
	if (!c)
		return NULL;
	secrets_stream_free(c->redact);
	int fds[] = { c->in, c->stopfd, c->dirfd, c->out };
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(c);
	return NULL;
}

static void cmdlog_freep(struct cmdlog **c)
{
	cmdlog_free(*c);
}

/* $BOX/logs (made 0700 when missing, never through a symlink) and its
 * cmd.log, appended to; c->size from what it holds. */
static int open_log(struct cmdlog *c, const char *box_dir, struct error *err)
{
	struct stat st;
	_cleanup_close_ int box = open(box_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (box < 0)
		return error_errno(err, -errno, "open '%s'", box_dir);
	if (mkdirat(box, CMDLOG_DIR, 0700) < 0 && errno != EEXIST)
		return error_errno(err, -errno, "make '%s/%s'", box_dir, CMDLOG_DIR);
	c->dirfd = openat(box, CMDLOG_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dirfd < 0)
		return error_errno(err, -errno, "open '%s/%s'", box_dir, CMDLOG_DIR);
	c->out = openat(c->dirfd, CMDLOG_FILE,
			O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (c->out < 0 || fstat(c->out, &st) < 0)
		return error_errno(err, -errno, "open '%s/%s/%s'", box_dir, CMDLOG_DIR,
				   CMDLOG_FILE);
	if (!S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, NULL, 0, "'%s/%s/%s' is not a regular file", box_dir,
				 CMDLOG_DIR, CMDLOG_FILE);
	c->size = (uint64_t)st.st_size;
	c->midline = false; /* a new run's output starts where it starts */
	return 0;
}

int cmdlog_start_opts(int read_fd, const char *box_dir, const struct secrets *redact,
		      const struct cmdlog_opts *opts, struct cmdlog **ret, struct error *err)
{
	_cleanup_(cmdlog_freep) struct cmdlog *c = calloc(1, sizeof(*c));
	if (!c) {
		close(read_fd);
		return error_errno(err, -ENOMEM, "start the command log");
	}
	c->in = read_fd;
	c->stopfd = c->dirfd = c->out = -1;
	c->max_size = opts && opts->max_size ? opts->max_size : CMDLOG_MAX_SIZE;
	c->keep = opts && opts->keep ? opts->keep : CMDLOG_KEEP;
	if (c->keep > CMDLOG_KEEP_MAX)
		c->keep = CMDLOG_KEEP_MAX;
	if ((c->stopfd = eventfd(0, EFD_CLOEXEC)) < 0)
		return error_errno(err, -errno, "start the command log");
	int r = open_log(c, box_dir, err);
	if (r < 0)
		return r;
	if (redact && (r = secrets_stream_new(redact, &c->redact)) < 0)
		return error_errno(err, r, "start the command log's redactor");
	/* Signals are the supervisor's main thread's business. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&c->thread, NULL, thread_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return error_errno(err, r, "start the command log");
	*ret = TAKE_PTR(c);
	return 0;
}

int cmdlog_start(int read_fd, const char *box_dir, const struct secrets *redact,
		 struct cmdlog **ret, struct error *err)
{
	return cmdlog_start_opts(read_fd, box_dir, redact, NULL, ret, err);
}

struct cmdlog *cmdlog_finish(struct cmdlog *c)
{
	if (!c)
		return NULL;
	pthread_join(c->thread, NULL);
	return cmdlog_free(c);
}

struct cmdlog *cmdlog_stop(struct cmdlog *c)
{
	uint64_t one = 1;
	if (!c)
		return NULL;
	if (write(c->stopfd, &one, sizeof(one)) != sizeof(one))
		abort(); /* an eventfd write of 1 cannot fail: never leave a thread behind */
	return cmdlog_finish(c);
}

void cmdlog_counts(const struct cmdlog *c, uint64_t *ret_read, uint64_t *ret_dropped)
{
	*ret_read = c ? __atomic_load_n(&c->read, __ATOMIC_RELAXED) : 0;
	*ret_dropped = c ? __atomic_load_n(&c->dropped, __ATOMIC_RELAXED) : 0;
}
