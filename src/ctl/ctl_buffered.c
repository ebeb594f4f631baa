/* ctl_exec_buffered(): a command of an up box run to its end with its
 * output collected (src/ctl/ctl.h), for the API and MCP. */
#include "util/clock.h"
#include "ctl/ctl.h"
#include "secrets/secrets.h"
#include "util/buf.h"

#include <poll.h>
#include <signal.h>
#include <time.h>

struct sink {
	int fd;       /* our read end, -1 once closed */
	struct buf b; /* grown as output comes, at most cap: a command that
		       * prints little touches little memory */
};

struct buffered {
	struct sink out, err;
	int in;           /* our write end of its stdin, -1 once closed */
	const char *data; /* stdin still to write */
	size_t left, cap;
	bool truncated;
	int cancel; /* readable: kill the command; -1: none */
};

/* Read what sk has: kept up to cap, the rest read and dropped (and so is
 * what memory cannot be found for: the output is then marked truncated). */
static void drain(struct buffered *b, struct sink *sk)
{
	char tmp[16384];
	ssize_t k = read(sk->fd, tmp, sizeof(tmp));
	if (k < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (k <= 0) {
		close(sk->fd);
		sk->fd = -1;
		return;
	}
	size_t keep = b->cap - sk->b.len < (size_t)k ? b->cap - sk->b.len : (size_t)k;
	if (buf_append(&sk->b, tmp, keep) < 0)
		keep = 0;
	b->truncated |= keep < (size_t)k;
}

static void feed(struct buffered *b)
{
	ssize_t k = write(b->in, b->data, b->left);
	if (k < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (k > 0) {
		b->data += k;
		b->left -= (size_t)k;
	}
	if (k <= 0 || b->left == 0) {
		close(b->in);
		b->in = -1;
	}
}

/* Pipes for the command's three standard fds: theirs in fds[], ours in b. */
static int make_pipes(struct buffered *b, int fds[3])
{
	int p[3][2];
	for (int i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0) {
			int r = -errno;
			for (int k = 0; k < i; k++) {
				close(p[k][0]);
				close(p[k][1]);
			}
			return r;
		}
	fds[0] = p[0][0];
	fds[1] = p[1][1];
	fds[2] = p[2][1];
	b->in = p[0][1];
	b->out.fd = p[1][0];
	b->err.fd = p[2][0];
	int nb[] = { b->in, b->out.fd, b->err.fd };
	for (size_t i = 0; i < ELEMENTSOF(nb); i++)
		fcntl(nb[i], F_SETFL, O_NONBLOCK);
	return 0;
}

/* Until the command's end event: feed stdin, collect the output, kill it
 * at the deadline. */
static int pump(struct ctl_exec *x, struct buffered *b, int64_t deadline, struct ctl_output *o,
		struct error *err)
{
	bool killed = false, cancelled = false;
	for (;;) {
		struct pollfd p[5] = { { .fd = ctl_exec_fd(x), .events = POLLIN },
				       { .fd = b->out.fd, .events = POLLIN },
				       { .fd = b->err.fd, .events = POLLIN },
				       { .fd = b->left ? b->in : -1, .events = POLLOUT },
				       { .fd = cancelled ? -1 : b->cancel, .events = POLLIN } };
		int64_t wait = deadline && !killed ? deadline - clock_ms() : -1;
		if (deadline && !killed && wait <= 0) {
			ctl_exec_signal(x, SIGKILL);
			killed = o->timed_out = true;
			continue;
		}
		/* Output first; what is left at the end is read after it. */
		if (poll(p, 5, wait > INT32_MAX ? -1 : (int)wait) > 0) {
			if (p[1].revents)
				drain(b, &b->out);
			if (p[2].revents)
				drain(b, &b->err);
			if (p[3].revents)
				feed(b);
			if (p[4].revents && !cancelled) {
				ctl_exec_signal(x, SIGKILL);
				cancelled = true;
			}
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		struct ctl_event ev;
		int r = ctl_exec_next(x, &ev, err);
		if (r < 0)
			return r;
		if (cancelled && (ev.kind == CTL_EV_EXIT || ev.kind == CTL_EV_FAIL))
			return error_set(err, -ECANCELED, NULL, 0, "the command was cancelled");
		if (ev.kind == CTL_EV_EXIT || ev.kind == CTL_EV_FAIL) {
			o->wstatus = ev.wstatus;
			o->exit_code = ev.exit_code;
			o->duration_ms = ev.duration_ms;
			return 0;
		}
	}
}

/* What is left in the pipes once the command ended (its background
 * children may still hold them: read what is there, no more). */
static void drain_rest(struct buffered *b)
{
	for (struct sink *sk = &b->out; sk <= &b->err; sk++)
		while (sk->fd >= 0) {
			struct pollfd p = { .fd = sk->fd, .events = POLLIN };
			if (poll(&p, 1, 0) <= 0)
				break;
			drain(b, sk);
		}
}

int ctl_redact(const struct secrets *known, const char *in, size_t n, struct buf *out)
{
	for (size_t at = 0; at <= n;) {
		const char *nul = memchr(in + at, '\0', n - at);
		size_t len = nul ? (size_t)(nul - (in + at)) : n - at;
		_cleanup_free_ char *red = NULL;
		int r = secrets_redact(known, in + at, len, &red);
		if (r < 0)
			return r;
		if ((r = buf_append(out, red ? red : in + at, red ? strlen(red) : len)) < 0 ||
		    (nul && (r = buf_append(out, "", 1)) < 0))
			return r;
		at += len + 1;
	}
	return 0;
}

/* sk's bytes with every value the box was given redacted, cut to cap:
 * 0, or -errno (then nothing of the output may be shown). */
static int redact(const struct secrets *known, struct sink *sk, size_t cap, bool *truncated)
{
	_cleanup_buf_ struct buf out = BUF_INIT(SIZE_MAX);
	if (sk->b.len == 0)
		return 0;
	int r = ctl_redact(known, sk->b.data, sk->b.len, &out);
	if (r < 0)
		return r;
	size_t n = out.len > cap ? cap : out.len;
	*truncated |= out.len > cap;
	buf_reset(&sk->b);
	return buf_append(&sk->b, out.data, n);
}

/* Redact both outputs against b's known values. */
static int redact_outputs(const struct box *b, struct buffered *bf, struct error *err)
{
	_cleanup_secrets_ struct secrets *known = NULL;
	struct error e = { 0 };
	int r = secrets_new_known(&known);
	if (r == 0 && (r = secrets_known_load(b->dir, known, &e)) < 0 && err)
		*err = e; /* else *err keeps what the command's end said */
	if (r >= 0)       /* the values loaded (a count) */
		r = redact(known, &bf->out, bf->cap, &bf->truncated);
	if (r >= 0)
		r = redact(known, &bf->err, bf->cap, &bf->truncated);
	return r < 0 ? error_errno(err, r, "redact the command's output") : 0;
}

int ctl_exec_buffered(const struct box *b, const struct ctl_exec_spec *s, const void *in,
		      size_t in_len, size_t cap, int64_t timeout_ms, struct ctl_output *ret,
		      struct error *err)
{
	return ctl_exec_buffered_cancel(b, s, in, in_len, cap, timeout_ms, -1, ret, err);
}

int ctl_exec_buffered_cancel(const struct box *b, const struct ctl_exec_spec *s, const void *in,
			     size_t in_len, size_t cap, int64_t timeout_ms, int cancel_fd,
			     struct ctl_output *ret, struct error *err)
{
	struct buffered bf = { .out = { .fd = -1, .b = BUF_INIT(cap) },
			       .err = { .fd = -1, .b = BUF_INIT(cap) },
			       .in = -1,
			       .data = in,
			       .left = in ? in_len : 0,
			       .cap = cap,
			       .cancel = cancel_fd };
	struct ctl_exec_spec spec = *s;
	struct ctl_exec *x = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = make_pipes(&bf, spec.fds)) < 0)
		error_errno(err, r, "create pipes");
	if (r == 0) {
		spec.pty_fds = 0;
		r = ctl_exec_start(b, &spec, &x, err);
		for (int i = 0; i < 3; i++)
			close(spec.fds[i]);
	}
	if (r == 0 && bf.left == 0) {
		close(bf.in);
		bf.in = -1;
	}
	int64_t deadline = timeout_ms > 0 ? clock_ms() + timeout_ms : 0;
	if (r == 0 && (r = pump(x, &bf, deadline, ret, err)) == 0)
		drain_rest(&bf);
	if (r == 0)
		r = redact_outputs(b, &bf, err);
	ctl_exec_free(x);
	int fds[] = { bf.in, bf.out.fd, bf.err.fd };
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (r < 0) {
		buf_free(&bf.out.b);
		buf_free(&bf.err.b);
		return r;
	}
	ret->out_len = bf.out.b.len;
	ret->err_len = bf.err.b.len;
	ret->out = buf_steal(&bf.out.b);
	ret->err = buf_steal(&bf.err.b);
	if (!ret->out || !ret->err) {
		ctl_output_free(ret);
		return error_errno(err, -ENOMEM, "run a command");
	}
	ret->truncated = bf.truncated;
	return 0;
}

void ctl_output_free(struct ctl_output *o)
{
	free(o->out);
	free(o->err);
	o->out = o->err = NULL;
}
