/* The control socket of an up box: src/box/control.h. */
#include "util/clock.h"
#include "util/common.h"
#include "util/error.h"
#include "util/fs.h"

#include "box/cgroup.h"
#include "box/control.h"
#include "box/ctlmsg.h"
#include "box/supervisor.h"
#include "state/audit.h"
#include "state/box.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#define MAX_CLIENTS 2048
#define MAX_LIMITED 1024 /* sessions with cgroups of their own */

struct client {
	int fd;
	uint32_t id;
	pid_t pid;
	uid_t uid;
	uint32_t pending; /* the type of its request in flight, 0: none */
	bool running;     /* its exec was forwarded and has not ended */
	bool down;        /* it asked the box to go down: open until we exit */
	int64_t t0;
	char session[BOX_NAME_MAX + 1]; /* the session it asked for */
	struct cgroup_limits *cg;       /* that session's cgroups, until it is made */
};

/* A session with limits: its cgroups, removed when it ends. */
struct limited {
	char name[BOX_NAME_MAX + 1];
	struct cgroup_limits *cg;
};

struct control {
	struct control_spec spec;
	int listener, stop, workspace;
	pthread_mutex_t lock; /* workspace */
	pthread_t thread;
	struct client *cl;
	size_t n;
	struct limited lim[MAX_LIMITED];
	size_t nlim;
	uint32_t next_id;
	int64_t since;
	bool ready;
	char buf[CTLMSG_MAX];
};

static void audit_event(struct control *c, const char *event, json_t *fields)
{
	if (c->spec.audit)
		audit_append(c->spec.audit, event, fields);
	else
		json_decref(fields);
}

/* Answer cl with an error of code: what (and detail, may be NULL). */
static int client_error(const struct client *cl, int code, const char *what, const char *detail)
{
	struct error e;
	error_set(&e, code, NULL, 0, "%s%s", what, detail ? detail : "");
	ctlmsg_send_error(cl->fd, cl->id, &e);
	return code;
}

/* The exec's standard fds: each what a box may hold (src/box/supervisor.h);
 * a terminal is relayed by the client through a pty of the box's. */
static int check_fds(const struct client *cl, const struct ctlmsg *m)
{
	unsigned given = (unsigned)(m->h.value >> 4) & 7, pty = (unsigned)m->h.value & 7;
	if ((size_t)__builtin_popcount(given) != m->nfds || (given & pty) || m->h.value >> 7)
		return client_error(cl, -EBADMSG, "the command's standard fds do not match", NULL);
	for (size_t i = 0; i < m->nfds; i++) {
		const char *why = "a terminal";
		if (supervisor_stdio_check(m->fds[i], &why) != SUPERVISOR_STDIO_PASS)
			return client_error(cl, -EBADF, "a standard fd of the command is ", why);
	}
	return 0;
}

static json_t *exec_json(const struct client *cl, const struct ctlmsg *m)
{
	json_t *argv = json_array();
	size_t pos = 0;
	for (const char *s; (s = ctlmsg_next(m, &pos));)
		if (s[0] == 'a')
			json_array_append_new(argv, json_string(s + 1));
	const char *session = ctlmsg_get(m, 's');
	return json_pack("{s:I, s:o, s:s?, s:I, s:I}", "exec", (json_int_t)cl->id, "argv", argv,
			 "session", session, "client_pid", (json_int_t)cl->pid, "client_uid",
			 (json_int_t)cl->uid);
}

static uint64_t number(const struct ctlmsg *m, char tag)
{
	const char *s = ctlmsg_get(m, tag);
	return s ? strtoull(s, NULL, 10) : 0;
}

/* A session asked with pids or memory limits: its cgroups, made now (the
 * leader joins them when it is there). 0, or -errno after answering cl. */
static int session_cgroups(struct control *c, struct client *cl, const struct ctlmsg *m)
{
	const char *name = ctlmsg_get(m, 'n');
	uint64_t pids = number(m, 'P'), memory = number(m, 'm');
	struct error e;
	char what[64];
	snprintf(cl->session, sizeof(cl->session), "%s", name && box_name_valid(name) ? name : "");
	if (!pids && !memory)
		return 0;
	if (!cl->session[0] || c->nlim == MAX_LIMITED)
		return client_error(cl, -EINVAL, "cannot limit this session", NULL);
	if (!(cl->cg = calloc(1, sizeof(*cl->cg))))
		return client_error(cl, -ENOMEM, "cannot limit the session", NULL);
	*cl->cg = (struct cgroup_limits){ .pids = pids, .memory = memory };
	snprintf(what, sizeof(what), "s-%s", cl->session);
	int r = cgroup_create(cl->cg, what, &e);
	if (r < 0) {
		free(cl->cg);
		cl->cg = NULL;
		char msg[ERROR_FORMAT_MAX];
		snprintf(msg, sizeof(msg), "%s: %s", e.message, strerror(-r));
		return client_error(cl, r, msg,
				    " (a session's pids and memory limits need root and the "
				    "cgroup v1 controllers)");
	}
	return 0;
}

/* The host pid of a pidfd, from its fdinfo; 0 if unknown. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if (fs_read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	const char *p = strstr(buf, "\nPid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : 0;
}

/* The session of cl was made (m: the init's OK, with its leader's pidfd):
 * into its cgroups. 0, or -errno (the session is deleted again). */
static int session_made(struct control *c, struct client *cl, const struct ctlmsg *m)
{
	struct cgroup_limits *cg = TAKE_PTR(cl->cg);
	pid_t pid = m->nfds == 1 ? pidfd_pid(m->fds[0]) : 0;
	int r = pid > 0 ? cgroup_attach(cg, pid) : -ESRCH;
	if (r < 0) {
		char n[BOX_NAME_MAX + 2];
		snprintf(n, sizeof(n), "n%s", cl->session);
		ctlmsg_send(c->spec.init_sock, CTLMSG_SESSION_DEL, 0, 0, (char *[]){ n }, 1, NULL,
			    0);
		cgroup_destroy(cg);
		free(cg);
		return client_error(cl, r, "cannot put the session in its cgroups", NULL);
	}
	c->lim[c->nlim++] = (struct limited){ .cg = cg };
	snprintf(c->lim[c->nlim - 1].name, sizeof(c->lim[0].name), "%s", cl->session);
	return 0;
}

/* Session name ended: its cgroups go. */
static void session_gone(struct control *c, const char *name)
{
	for (size_t i = 0; name && i < c->nlim; i++)
		if (STREQ(c->lim[i].name, name)) {
			cgroup_destroy(c->lim[i].cg);
			free(c->lim[i].cg);
			c->lim[i] = c->lim[--c->nlim];
			break;
		}
	audit_event(c, "session.end", json_pack("{s:s?}", "session", name));
}

/* A request of client cl: to the init with the client's id, or answered
 * here. */
static void from_client_msg(struct control *c, struct client *cl, struct ctlmsg *m)
{
	m->h.id = cl->id;
	if (m->h.type == CTLMSG_WORKSPACE) {
		pthread_mutex_lock(&c->lock);
		int fd = c->workspace;
		if (fd >= 0)
			ctlmsg_send(cl->fd, CTLMSG_OK, cl->id, 0, NULL, 0, &fd, 1);
		else
			client_error(cl, -EAGAIN, "the box's workspace is not ready", NULL);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (m->h.type == CTLMSG_SIGNAL) {
		if (cl->running)
			ctlmsg_forward(c->spec.init_sock, m);
		return;
	}
	if (cl->pending || cl->running || m->h.type > CTLMSG_WORKSPACE) {
		client_error(cl, -EBUSY, "one request at a time on a connection", NULL);
		return;
	}
	if (m->h.type == CTLMSG_EXEC && check_fds(cl, m) < 0)
		return;
	if (m->h.type == CTLMSG_SESSION_NEW && session_cgroups(c, cl, m) < 0)
		return;
	if (ctlmsg_forward(c->spec.init_sock, m) < 0) {
		client_error(cl, -ECONNRESET, "the box is going down", NULL);
		return;
	}
	cl->pending = m->h.type;
	cl->t0 = clock_ms();
	if (m->h.type == CTLMSG_EXEC) {
		cl->running = true;
		audit_event(c, "exec.start", exec_json(cl, m));
	} else if (m->h.type == CTLMSG_SESSION_NEW || m->h.type == CTLMSG_SESSION_DEL) {
		audit_event(
		    c, m->h.type == CTLMSG_SESSION_NEW ? "session.create" : "session.delete",
		    json_pack("{s:s?, s:I, s:b}", "session", ctlmsg_get(m, 'n'), "client_pid",
			      (json_int_t)cl->pid, "net", (m->h.value & CTLMSG_NET) != 0));
	} else if (m->h.type == CTLMSG_DOWN) {
		cl->down = true;
		audit_event(c, "box.down", json_pack("{s:I}", "client_pid", (json_int_t)cl->pid));
	}
}

static struct client *client_by_id(struct control *c, uint32_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->cl[i].id == id)
			return &c->cl[i];
	return NULL;
}

/* Drop client i; an exec of its is killed. */
static void drop_client(struct control *c, size_t i)
{
	struct client *cl = &c->cl[i];
	if (cl->running)
		ctlmsg_send(c->spec.init_sock, CTLMSG_HANGUP, cl->id, 0, NULL, 0, NULL, 0);
	if (!cl->down)
		close(cl->fd);
	if (cl->cg) {
		cgroup_destroy(cl->cg);
		free(cl->cg);
	}
	c->cl[i] = c->cl[--c->n];
}

static void from_client(struct control *c, size_t i)
{
	struct ctlmsg m;
	int k = ctlmsg_recv(c->cl[i].fd, c->buf, &m);
	if (k == -EINTR || k == -EAGAIN)
		return;
	if (k <= 0) {
		drop_client(c, i);
		return;
	}
	from_client_msg(c, &c->cl[i], &m);
	ctlmsg_close_fds(&m);
}

/* The supervisor's own part of a status: its pid and since when. */
static int send_status(struct control *c, struct client *cl, const struct ctlmsg *m)
{
	char *v[8], p[32], t[32];
	size_t n = 0, pos = 0;
	for (const char *s; (s = ctlmsg_next(m, &pos)) && n < 6;)
		v[n++] = (char *)s;
	snprintf(p, sizeof(p), "p%d", (int)getpid());
	snprintf(t, sizeof(t), "t%lld", (long long)c->since);
	v[n++] = p;
	v[n++] = t;
	return ctlmsg_send(cl->fd, CTLMSG_OK, cl->id, m->h.value, v, n, NULL, 0);
}

static void exec_ended(struct control *c, struct client *cl, const struct ctlmsg *m)
{
	struct error e = { 0 };
	cl->running = false;
	if (m->h.type == CTLMSG_ERR)
		ctlmsg_error(m, &e);
	audit_event(c, "exec.end",
		    json_pack("{s:I, s:I, s:I, s:s?}", "exec", (json_int_t)cl->id, "status",
			      (json_int_t)(m->h.type == CTLMSG_EXIT ? m->h.value : -1),
			      "duration_ms", (json_int_t)(clock_ms() - cl->t0), "error",
			      m->h.type != CTLMSG_ERR ? NULL
			      : e.message[0]          ? e.message
						      : strerror(-e.code)));
}

static void cmd_event(struct control *c, const struct ctlmsg *m)
{
	if (m->h.value < 0)
		audit_event(c, "cmd.start", json_pack("{s:I}", "pid", (json_int_t)-m->h.value));
	else
		audit_event(c, "cmd.exit", json_pack("{s:I}", "status", (json_int_t)m->h.value));
}

/* A message of the init: ours (READY, CMD) or a client's. 0, or -EPIPE
 * when the init is gone. */
static int from_init(struct control *c)
{
	struct ctlmsg m;
	int k = ctlmsg_recv(c->spec.init_sock, c->buf, &m);
	if (k == -EINTR || k == -EAGAIN || k == -EBADMSG)
		return 0;
	if (k <= 0)
		return -EPIPE;
	struct client *cl = client_by_id(c, m.h.id);
	if (m.h.type == CTLMSG_READY && !c->ready) {
		c->ready = true;
		if (c->spec.ready)
			c->spec.ready(c->spec.ctx);
	} else if (m.h.type == CTLMSG_CMD) {
		cmd_event(c, &m);
	} else if (m.h.type == CTLMSG_GONE) {
		session_gone(c, ctlmsg_get(&m, 'n'));
	} else if (cl && cl->pending == CTLMSG_SESSION_NEW) {
		cl->pending = 0;
		bool made = m.h.type == CTLMSG_OK;
		if (made && cl->cg && session_made(c, cl, &m) < 0)
			made = false;
		else if (!made && cl->cg) {
			cgroup_destroy(cl->cg);
			free(TAKE_PTR(cl->cg));
		}
		ctlmsg_close_fds(&m);
		if (made || m.h.type == CTLMSG_ERR)
			ctlmsg_forward(cl->fd, &m);
	} else if (cl && cl->pending == CTLMSG_STATUS && m.h.type == CTLMSG_OK) {
		send_status(c, cl, &m);
		cl->pending = 0;
	} else if (cl) {
		bool end = m.h.type == CTLMSG_EXIT || m.h.type == CTLMSG_ERR;
		if (cl->running && end)
			exec_ended(c, cl, &m);
		if (m.h.type != CTLMSG_PTY && m.h.type != CTLMSG_STARTED)
			cl->pending = 0;
		/* A client that does not read its messages loses them and
		 * its exec: never wait on one. */
		if (ctlmsg_forward(cl->fd, &m) < 0 && !cl->down)
			drop_client(c, (size_t)(cl - c->cl));
	}
	ctlmsg_close_fds(&m);
	return 0;
}

/* A new connection: the user's own or root's, else closed at once. */
static void accept_client(struct control *c)
{
	int fd = accept4(c->listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    (cr.uid != geteuid() && cr.uid != 0) || c->n == MAX_CLIENTS) {
		close(fd);
		return;
	}
	if (++c->next_id == 0)
		c->next_id = 1;
	c->cl[c->n++] = (struct client){ .fd = fd, .id = c->next_id, .pid = cr.pid, .uid = cr.uid };
}

static void *serve(void *p)
{
	struct control *c = p;
	static struct pollfd pf[3 + MAX_CLIENTS];
	bool init_open = true;
	for (;;) {
		pf[0] = (struct pollfd){ .fd = c->stop, .events = POLLIN };
		pf[1] =
		    (struct pollfd){ .fd = init_open ? c->spec.init_sock : -1, .events = POLLIN };
		pf[2] = (struct pollfd){ .fd = init_open ? c->listener : -1, .events = POLLIN };
		for (size_t i = 0; i < c->n; i++)
			pf[3 + i] = (struct pollfd){ .fd = c->cl[i].fd, .events = POLLIN };
		size_t n = c->n;
		if (poll(pf, 3 + n, -1) < 0)
			continue;
		if (pf[0].revents)
			return NULL;
		if (pf[1].revents && from_init(c) < 0) {
			/* The box is gone: the clients' execs with it. */
			init_open = false;
			while (c->n > 0) {
				c->cl[c->n - 1].running = false;
				drop_client(c, c->n - 1);
			}
			continue;
		}
		for (size_t i = n; i-- > 0;)
			if (pf[3 + i].revents && i < c->n)
				from_client(c, i);
		if (pf[2].revents)
			accept_client(c);
	}
}

static int bind_socket(int dirfd, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/self/fd/%d", dirfd);
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, CONTROL_SOCKET);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return error_errno(err, fd < 0 ? -errno : -ENAMETOOLONG,
				   "create the box's control socket");
	if (unlinkat(dirfd, CONTROL_SOCKET, 0) < 0 && errno != ENOENT)
		return error_errno(err, -errno, "remove the stale control socket");
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 128) < 0)
		return error_errno(err, -errno, "bind the box's control socket");
	return TAKE_FD(fd);
}

int control_start(const struct control_spec *cs, struct control **ret, struct error *err)
{
	struct control *c = calloc(1, sizeof(*c));
	if (!c || !(c->cl = calloc(MAX_CLIENTS, sizeof(*c->cl)))) {
		free(c);
		return error_errno(err, -ENOMEM, "start the box's control");
	}
	c->spec = *cs;
	c->workspace = -1;
	c->since = time(NULL);
	pthread_mutex_init(&c->lock, NULL);
	int r = c->listener = bind_socket(cs->dirfd, err);
	if (r >= 0 && (c->stop = eventfd(0, EFD_CLOEXEC)) < 0)
		r = error_errno(err, -errno, "start the box's control");
	if (r >= 0 && (r = -pthread_create(&c->thread, NULL, serve, c)) < 0)
		error_errno(err, r, "start the box's control");
	if (r < 0) {
		if (c->listener >= 0) {
			close(c->listener);
			unlinkat(cs->dirfd, CONTROL_SOCKET, 0);
		}
		if (c->stop > 0)
			close(c->stop);
		free(c->cl);
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

void control_set_workspace(struct control *c, int fd)
{
	pthread_mutex_lock(&c->lock);
	if (c->workspace >= 0)
		close(c->workspace);
	c->workspace = fd;
	pthread_mutex_unlock(&c->lock);
}

int control_down(struct control *c, int64_t grace_ms)
{
	return ctlmsg_send(c->spec.init_sock, CTLMSG_DOWN, 0, grace_ms, NULL, 0, NULL, 0);
}

void control_stop(struct control *c)
{
	if (!c)
		return;
	uint64_t one = 1;
	(void)!write(c->stop, &one, sizeof(one));
	pthread_join(c->thread, NULL);
	unlinkat(c->spec.dirfd, CONTROL_SOCKET, 0);
	while (c->n > 0) {
		c->cl[c->n - 1].running = false;
		drop_client(c, c->n - 1);
	}
	while (c->nlim > 0) {
		c->nlim--;
		cgroup_destroy(c->lim[c->nlim].cg);
		free(c->lim[c->nlim].cg);
	}
	close(c->listener);
	close(c->stop);
	close(c->spec.init_sock);
	if (c->workspace >= 0)
		close(c->workspace);
	pthread_mutex_destroy(&c->lock);
	free(c->cl);
	free(c);
}
