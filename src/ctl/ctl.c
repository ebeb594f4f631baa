/* A client of an up box: src/ctl/ctl.h. One connection to the box's
 * control socket per call (src/box/control.h), messages of
 * src/box/ctlmsg.h. */
#include "util/clock.h"
#include "ctl/ctl.h"
#include "util/fs.h"

#include "box/control.h"
#include "box/ctlmsg.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

struct ctl_exec {
	int fd;
	bool started;
	int64_t t0;
	char buf[CTLMSG_MAX];
};

bool ctl_session_name_valid(const char *name)
{
	return box_name_valid(name);
}

/* A connection to b's control socket, or -ENOTCONN when nobody serves it. */
static int ctl_connect(const struct box *b, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int dir = open(b->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return error_errno(err, -errno, "open the box '%s'", b->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dir, CONTROL_SOCKET);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_errno(err, -errno, "create a socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return error_set(err, -ENOTCONN, NULL, 0, "box '%s' is not up", b->name);
		return error_errno(err, -errno, "connect to box '%s'", b->name);
	}
	return TAKE_FD(fd);
}

/* Wait for and receive one message on fd into buf. */
static int receive(int fd, char *buf, struct ctlmsg *m, struct error *err)
{
	int k;
	while ((k = ctlmsg_recv(fd, buf, m)) == -EINTR)
		;
	if (k == 0)
		return error_set(err, -ECONNRESET, NULL, 0, "the box went down");
	if (k < 0)
		return error_errno(err, k, "receive the box's answer");
	return 0;
}

/* One request and its answer (an OK into *reply, whose strings live in
 * buf; an ERR becomes the error). */
static int request(const struct box *b, uint32_t type, int64_t value, char *const *v, size_t n,
		   char *buf, struct ctlmsg *reply, struct error *err)
{
	_cleanup_close_ int fd = ctl_connect(b, err);
	if (fd < 0)
		return fd;
	int r = ctlmsg_send(fd, type, 0, value, v, n, NULL, 0);
	if (r < 0)
		return error_errno(err, r, "send a request to box '%s'", b->name);
	if ((r = receive(fd, buf, reply, err)) < 0)
		return r;
	if (reply->h.type == CTLMSG_ERR) {
		struct error e;
		r = ctlmsg_error(reply, &e) < 0 ? -EBADMSG : e.code;
		if (err && r != -EBADMSG)
			*err = e;
		return r == -EBADMSG ? error_set(err, r, NULL, 0, "a malformed answer") : r;
	}
	if (reply->h.type != CTLMSG_OK) {
		ctlmsg_close_fds(reply);
		return error_set(err, -EBADMSG, NULL, 0, "an unexpected answer from the box");
	}
	return 0;
}

static long long field(const struct ctlmsg *m, char tag)
{
	const char *s = ctlmsg_get(m, tag);
	return s ? strtoll(s, NULL, 10) : 0;
}

int ctl_status(const struct box *b, struct ctl_status *ret, struct error *err)
{
	_cleanup_free_ char *buf = malloc(CTLMSG_MAX);
	struct ctlmsg m = { 0 };
	if (!buf)
		return error_errno(err, -ENOMEM, "ask the box");
	int r = request(b, CTLMSG_STATUS, 0, NULL, 0, buf, &m, err);
	if (r < 0)
		return r;
	*ret = (struct ctl_status){ .supervisor = (pid_t)field(&m, 'p'),
				    .since = field(&m, 't'),
				    .cmd = (pid_t)field(&m, 'c'),
				    .restarts = (unsigned)field(&m, 'r'),
				    .sessions = (unsigned)field(&m, 's'),
				    .execs = (unsigned)field(&m, 'x') };
	return 0;
}

/* "X" + s, into a vector of strings the caller frees. */
static int push_tagged(char **v, size_t *n, size_t max, char tag, const char *s)
{
	if (*n >= max)
		return -E2BIG;
	if (asprintf(&v[*n], "%c%s", tag, s) < 0)
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int push_number(char **v, size_t *n, size_t max, char tag, unsigned long long x)
{
	char num[32];
	snprintf(num, sizeof(num), "%llu", x);
	return push_tagged(v, n, max, tag, num);
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

/* The exec request's strings: argv, env, session, cwd. */
static int exec_strings(const struct ctl_exec_spec *s, char **v, size_t max, size_t *ret_n)
{
	size_t n = 0;
	int r = 0;
	for (size_t i = 0; s->argv[i] && r == 0; i++)
		r = push_tagged(v, &n, max, 'a', s->argv[i]);
	for (size_t i = 0; s->env && s->env[i] && r == 0; i++)
		r = push_tagged(v, &n, max, 'e', s->env[i]);
	if (r == 0 && s->session)
		r = push_tagged(v, &n, max, 's', s->session);
	if (r == 0 && s->cwd)
		r = push_tagged(v, &n, max, 'c', s->cwd);
	*ret_n = n;
	return r;
}

int ctl_exec_start(const struct box *b, const struct ctl_exec_spec *s, struct ctl_exec **ret,
		   struct error *err)
{
	enum { MAX = 4096 }; /* strings of one request */
	/* Not zeroed: only the n strings pushed are read (32 KiB zeroed was
	 * eight pages touched an exec). */
	_cleanup_free_ char **v = malloc(MAX * sizeof(*v));
	int fds[3];
	size_t n = 0, nfds = 0;
	unsigned given = 0;

	if (!s->argv || !s->argv[0])
		return error_set(err, -EINVAL, NULL, 0, "no command to run");
	if (!v)
		return error_errno(err, -ENOMEM, "run a command");
	if (s->session && !ctl_session_name_valid(s->session))
		return error_set(err, -EINVAL, NULL, 0, "invalid session name '%s'", s->session);
	int r = exec_strings(s, v, MAX, &n);
	if (r < 0) {
		free_strings(v, n);
		return error_set(err, r, NULL, 0, "the command and its environment are too long");
	}
	for (int i = 0; i < 3; i++)
		if (!(s->pty_fds & (1u << i)) && s->fds[i] >= 0) {
			fds[nfds++] = s->fds[i];
			given |= 1u << i;
		}
	_cleanup_close_ int fd = ctl_connect(b, err);
	if (fd >= 0 && (r = ctlmsg_send(fd, CTLMSG_EXEC, 0, (s->pty_fds & 7) | given << 4, v, n,
					fds, nfds)) < 0)
		error_errno(err, r, "send the command to box '%s'", b->name);
	free_strings(v, n);
	if (fd < 0)
		return fd;
	if (r < 0)
		return r;
	struct ctl_exec *x = malloc(sizeof(*x));
	if (!x)
		return error_errno(err, -ENOMEM, "run a command");
	/* Field by field: a compound literal would zero the 128 KiB buffer,
	 * a third of a CLI exec's own CPU time. */
	x->fd = TAKE_FD(fd);
	x->started = false;
	x->t0 = clock_ms();
	*ret = x;
	return 0;
}

int ctl_exec_fd(const struct ctl_exec *x)
{
	return x->fd;
}

/* clawbox run's exit status for a command that ran and ended with st. */
static int exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return EXIT_SETUP;
}

/* An exec's failure to start: 127 for a missing command, 126 for one that
 * cannot be executed (the error's where is the command then), 125 for the
 * rest (src/util/common.h). */
static int fail_code(const struct error *e)
{
	int code = e->code;
	if (!e->where[0])
		return EXIT_SETUP;
	if (code == -ENOENT)
		return EXIT_NOT_FOUND;
	if (code == -EACCES || code == -ENOEXEC || code == -EPERM)
		return EXIT_CANNOT_EXEC;
	return EXIT_SETUP;
}

int ctl_exec_next(struct ctl_exec *x, struct ctl_event *ev, struct error *err)
{
	struct ctlmsg m = { 0 };
	*ev = (struct ctl_event){ .fd = -1 };
	int r = receive(x->fd, x->buf, &m, err);
	if (r < 0) {
		ev->exit_code = EXIT_SETUP;
		return r;
	}
	switch (m.h.type) {
	case CTLMSG_PTY:
		if (m.nfds != 1)
			break;
		ev->kind = CTL_EV_PTY;
		ev->fd = m.fds[0];
		return 1;
	case CTLMSG_STARTED:
		x->started = true;
		ev->kind = CTL_EV_STARTED;
		ev->pid = (pid_t)m.h.value;
		return 1;
	case CTLMSG_EXIT:
		ev->kind = CTL_EV_EXIT;
		ev->wstatus = (int)m.h.value;
		ev->exit_code = exit_code(ev->wstatus);
		ev->duration_ms = clock_ms() - x->t0;
		return 1;
	case CTLMSG_ERR:
		if (ctlmsg_error(&m, &ev->error) < 0)
			break;
		ev->kind = CTL_EV_FAIL;
		ev->exit_code = fail_code(&ev->error);
		if (err)
			*err = ev->error;
		return 1;
	}
	ctlmsg_close_fds(&m);
	return error_set(err, -EBADMSG, NULL, 0, "an unexpected message from the box");
}

int ctl_exec_signal(struct ctl_exec *x, int sig)
{
	return ctlmsg_send(x->fd, CTLMSG_SIGNAL, 0, sig, NULL, 0, NULL, 0);
}

void ctl_exec_free(struct ctl_exec *x)
{
	if (!x)
		return;
	close(x->fd);
	free(x);
}

int ctl_session_create(const struct box *b, const struct ctl_session_spec *s, struct error *err)
{
	enum { MAX = 1024 };
	char *v[MAX], idle[32];
	size_t n = 0;
	int r;

	if (!s->name || !ctl_session_name_valid(s->name))
		return error_set(err, -EINVAL, NULL, 0, "invalid session name '%s'",
				 s->name ? s->name : "");
	snprintf(idle, sizeof(idle), "%lld", (long long)s->idle_ms);
	r = push_tagged(v, &n, MAX, 'n', s->name);
	if (r == 0)
		r = push_tagged(v, &n, MAX, 'i', idle);
	if (r == 0 && s->time_ms > 0)
		r = push_number(v, &n, MAX, 't', (unsigned long long)s->time_ms);
	if (r == 0 && s->pids > 0)
		r = push_number(v, &n, MAX, 'P', s->pids);
	if (r == 0 && s->memory > 0)
		r = push_number(v, &n, MAX, 'm', s->memory);
	for (size_t i = 0; s->env && s->env[i] && r == 0; i++)
		r = push_tagged(v, &n, MAX, 'e', s->env[i]);
	_cleanup_free_ char *buf = r == 0 ? malloc(CTLMSG_MAX) : NULL;
	struct ctlmsg m = { 0 };
	if (r == 0 && !buf)
		r = -ENOMEM;
	if (r < 0)
		error_set(err, r, NULL, 0, "the session's environment is too long");
	else
		r = request(b, CTLMSG_SESSION_NEW, s->net ? CTLMSG_NET : 0, v, n, buf, &m, err);
	free_strings(v, n);
	return r;
}

int ctl_session_delete(const struct box *b, const char *name, struct error *err)
{
	char n[CTL_SESSION_NAME_MAX + 2];
	if (!ctl_session_name_valid(name))
		return error_set(err, -EINVAL, NULL, 0, "invalid session name '%s'", name);
	snprintf(n, sizeof(n), "n%s", name);
	_cleanup_free_ char *buf = malloc(CTLMSG_MAX);
	struct ctlmsg m = { 0 };
	if (!buf)
		return error_errno(err, -ENOMEM, "delete a session");
	return request(b, CTLMSG_SESSION_DEL, 0, (char *[]){ n }, 1, buf, &m, err);
}

/* "s<name>\t<created>\t<idle_ms>\t<execs>\t<net>" */
static int parse_session(const char *s, struct ctl_session_info *ret)
{
	long long f[4];
	const char *tab = strchr(s, '\t'), *p = tab;
	if (s[0] != 's' || !tab || (size_t)(tab - s - 1) > CTL_SESSION_NAME_MAX)
		return -EBADMSG;
	for (size_t i = 0; i < ELEMENTSOF(f); i++) {
		char *end;
		if (*p != '\t')
			return -EBADMSG;
		errno = 0;
		f[i] = strtoll(p + 1, &end, 10);
		if (errno || end == p + 1)
			return -EBADMSG;
		p = end;
	}
	if (*p)
		return -EBADMSG;
	*ret = (struct ctl_session_info){
		.created = f[0], .idle_ms = f[1], .execs = (unsigned)f[2], .net = f[3] != 0
	};
	memcpy(ret->name, s + 1, (size_t)(tab - s - 1));
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct ctl_session_info *)a)->name,
		      ((const struct ctl_session_info *)b)->name);
}

int ctl_session_list(const struct box *b, struct ctl_session_info **ret, size_t *ret_n,
		     struct error *err)
{
	_cleanup_free_ char *buf = malloc(CTLMSG_MAX);
	struct ctlmsg m = { 0 };
	if (!buf)
		return error_errno(err, -ENOMEM, "list the sessions");
	int r = request(b, CTLMSG_SESSION_LIST, 0, NULL, 0, buf, &m, err);
	if (r < 0)
		return r;
	size_t pos = 0, n = 0;
	while (ctlmsg_next(&m, &pos))
		n++;
	_cleanup_free_ struct ctl_session_info *v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return error_errno(err, -ENOMEM, "list the sessions");
	pos = 0;
	for (size_t i = 0; i < n; i++)
		if (parse_session(ctlmsg_next(&m, &pos), &v[i]) < 0)
			return error_set(err, -EBADMSG, NULL, 0, "a malformed list of sessions");
	qsort(v, n, sizeof(*v), by_name);
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

/* Wait until the process of pidfd has ended, at most ms. */
static int wait_gone(int pidfd, int64_t ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;
	while ((r = poll(&p, 1, (int)ms)) < 0 && errno == EINTR)
		;
	return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}

int ctl_down(const struct box *b, int64_t grace_ms, struct error *err)
{
	struct ctl_status st = { 0 };
	int r = ctl_status(b, &st, err);
	if (r < 0)
		return r;
	/* The supervisor's end is the box's: its lock and the box's
	 * namespaces go with it. */
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, st.supervisor, 0);
	if (pidfd < 0)
		return error_errno(err, -errno, "watch box '%s'", b->name);
	_cleanup_close_ int fd = ctl_connect(b, err);
	if (fd < 0)
		return fd == -ENOTCONN ? 0 : fd;
	if ((r = ctlmsg_send(fd, CTLMSG_DOWN, 0, grace_ms, NULL, 0, NULL, 0)) < 0)
		return error_errno(err, r, "take box '%s' down", b->name);
	if ((r = wait_gone(pidfd, grace_ms + 30000)) < 0)
		return error_errno(err, r, "wait for box '%s' to go down", b->name);
	return 0;
}

int ctl_workspace(const struct box *b, int *ret_fd, struct error *err)
{
	_cleanup_free_ char *buf = malloc(CTLMSG_MAX);
	struct ctlmsg m = { 0 };
	if (!buf)
		return error_errno(err, -ENOMEM, "open the box's workspace");
	int r = request(b, CTLMSG_WORKSPACE, 0, NULL, 0, buf, &m, err);
	if (r < 0)
		return r;
	if (m.nfds != 1) {
		ctlmsg_close_fds(&m);
		return error_set(err, -EBADMSG, NULL, 0, "the box sent no workspace");
	}
	*ret_fd = m.fds[0];
	return 0;
}
