/* The init of an up box (clawbox up): it routes the supervisor's control
 * messages (src/box/ctlmsg.h) to its leaders (src/box/leader.c) and their
 * answers back, starts and ends sessions, and takes the box down. It runs
 * no command itself and reads nothing from the box but its leaders'
 * messages; it keeps the capabilities of the box's user namespace (a
 * session's namespaces need them), which is why it is non-dumpable and
 * never confined: the box's processes are, by their leaders. */
#include "util/clock.h"
#include "util/common.h"
#include "util/error.h"

#include "box/ctlmsg.h"
#include "box/init_int.h"
#include "box/leader.h"
#include "box/report.h"
#include "state/box.h"

#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define MAX_LEADS  1024 /* the main leader and the sessions */
#define MAX_ROUTES 8192 /* execs running at once */

struct lead {
	char name[BOX_NAME_MAX + 1]; /* "" for the main leader */
	pid_t pid;
	int pidfd, sock;
	bool net;
	int64_t created, idle_ms;
	unsigned execs;
};

struct route {
	uint32_t id;
	int lead;
	bool started;
};

struct svc {
	const struct supervisor_spec *s;
	char **envp, **base;
	struct lead lead[MAX_LEADS];
	size_t nlead;
	struct route route[MAX_ROUTES];
	size_t nroute;
	int sigfd;
	pid_t cmd;
	bool cmd_ran;
	unsigned restarts;
	int64_t down_at; /* the end of the grace (ms), 0: not going down */
	char buf[CTLMSG_MAX];
};

/* The end of the box: nothing of it runs when it is reported. */
_noreturn_ static void finish(void)
{
	init_empty_box();
	report_send(FD_REPORT, REPORT_EXIT, 0, NULL);
	close(FD_REPORT);
	_exit(0);
}

static void to_supervisor(const struct ctlmsg *m)
{
	if (ctlmsg_forward(FD_CTL, m) < 0)
		finish();
}

_printf_(3, 4) static void error_to(uint32_t id, int code, const char *fmt, ...)
{
	struct error e;
	va_list ap;
	va_start(ap, fmt);
	error_setv(&e, code, NULL, 0, fmt, ap);
	va_end(ap);
	if (ctlmsg_send_error(FD_CTL, id, &e) < 0)
		finish();
}

static void ok_to(uint32_t id, int64_t value, char *const *v, size_t n)
{
	if (ctlmsg_send(FD_CTL, CTLMSG_OK, id, value, v, n, NULL, 0) < 0)
		finish();
}

static int find_lead(const struct svc *sv, const char *name)
{
	for (size_t i = 0; i < sv->nlead; i++)
		if (STREQ(sv->lead[i].name, name ? name : ""))
			return (int)i;
	return -1;
}

static struct route *find_route(struct svc *sv, uint32_t id)
{
	for (size_t i = 0; i < sv->nroute; i++)
		if (sv->route[i].id == id)
			return &sv->route[i];
	return NULL;
}

static void drop_route(struct svc *sv, struct route *r)
{
	sv->lead[r->lead].execs--;
	*r = sv->route[--sv->nroute];
}

/* An exec for the box's own view or a session. */
static void route_exec(struct svc *sv, struct ctlmsg *m)
{
	const char *session = ctlmsg_get(m, 's');
	int i = find_lead(sv, session);
	if (i < 0) {
		error_to(m->h.id, -ENOENT, "no session '%s' in the box", session);
		return;
	}
	if (sv->down_at || sv->nroute == MAX_ROUTES || find_route(sv, m->h.id)) {
		error_to(m->h.id, -EAGAIN, "%s", "the box takes no more commands now");
		return;
	}
	if (ctlmsg_forward(sv->lead[i].sock, m) < 0) {
		error_to(m->h.id, -EPIPE, "%s", "the session is ending");
		return;
	}
	sv->route[sv->nroute++] = (struct route){ .id = m->h.id, .lead = i };
	sv->lead[i].execs++;
}

static void new_session(struct svc *sv, struct ctlmsg *m)
{
	enum { GRANTS_MAX = 1024 };
	const char *name = ctlmsg_get(m, 'n'), *idle = ctlmsg_get(m, 'i'), *t = ctlmsg_get(m, 't');
	char *env[GRANTS_MAX + 256];
	size_t n = 0, pos = 0;
	struct error err;

	if (!name || !box_name_valid(name)) {
		error_to(m->h.id, -EINVAL, "invalid session name '%s'", name ? name : "");
		return;
	}
	if (find_lead(sv, name) >= 0) {
		error_to(m->h.id, -EEXIST, "session '%s' exists already", name);
		return;
	}
	if (sv->nlead == MAX_LEADS || sv->down_at) {
		error_to(m->h.id, -EAGAIN, "cannot create session '%s': %s", name,
			 sv->down_at ? "the box is going down" : "too many sessions");
		return;
	}
	for (char **b = sv->base; *b && n < 256; b++)
		env[n++] = *b;
	for (const char *s; (s = ctlmsg_next(m, &pos)) && n < ELEMENTSOF(env) - 1;)
		if (s[0] == 'e' && strchr(s + 1, '='))
			env[n++] = (char *)s + 1;
	env[n] = NULL;
	struct leader_spec ls = { .box = sv->s,
				  .env = env,
				  .net = m->h.value & CTLMSG_NET,
				  .idle_ms = idle ? strtoll(idle, NULL, 10) : 0,
				  .time_ms = t ? strtoll(t, NULL, 10) : 0 };
	struct lead *l = &sv->lead[sv->nlead];
	*l = (struct lead){ .net = ls.net, .created = time(NULL), .idle_ms = ls.idle_ms };
	snprintf(l->name, sizeof(l->name), "%s", name);
	if (leader_start(&ls, &l->pid, &l->pidfd, &l->sock, &err) < 0) {
		if (ctlmsg_send_error(FD_CTL, m->h.id, &err) < 0)
			finish();
		return;
	}
	sv->nlead++;
	/* Its pidfd: the supervisor puts it in the session's cgroups. */
	if (ctlmsg_send(FD_CTL, CTLMSG_OK, m->h.id, l->pid, NULL, 0, &l->pidfd, 1) < 0)
		finish();
}

static void delete_session(struct svc *sv, struct ctlmsg *m)
{
	const char *name = ctlmsg_get(m, 'n');
	int i = name && name[0] ? find_lead(sv, name) : -1;
	if (i <= 0) {
		error_to(m->h.id, -ENOENT, "no session '%s' in the box", name ? name : "");
		return;
	}
	/* Its pid namespace goes with it; its execs end as killed (remove). */
	syscall(SYS_pidfd_send_signal, sv->lead[i].pidfd, SIGKILL, NULL, 0);
	ok_to(m->h.id, 0, NULL, 0);
}

static void list_sessions(struct svc *sv, struct ctlmsg *m)
{
	char lines[MAX_LEADS][BOX_NAME_MAX + 80];
	char *v[MAX_LEADS];
	size_t n = 0;
	for (size_t i = 1; i < sv->nlead; i++) {
		const struct lead *l = &sv->lead[i];
		snprintf(lines[n], sizeof(lines[n]), "s%s\t%lld\t%lld\t%u\t%d", l->name,
			 (long long)l->created, (long long)l->idle_ms, l->execs, l->net);
		v[n] = lines[n];
		n++;
	}
	ok_to(m->h.id, (int64_t)n, v, n);
}

static void status(struct svc *sv, struct ctlmsg *m)
{
	char c[32], r[32], s[32], x[32];
	snprintf(c, sizeof(c), "c%d", (int)sv->cmd);
	snprintf(r, sizeof(r), "r%u", sv->restarts);
	snprintf(s, sizeof(s), "s%zu", sv->nlead - 1);
	snprintf(x, sizeof(x), "x%zu", sv->nroute);
	ok_to(m->h.id, 0, (char *[]){ c, r, s, x }, 4);
}

/* Down: the main leader restarts nothing more, every process of the box
 * gets SIGTERM, and whatever is left after the grace SIGKILL. */
static void go_down(struct svc *sv, struct ctlmsg *m)
{
	int64_t grace = m->h.value < 0 ? 0 : m->h.value > 600000 ? 600000 : m->h.value;
	ctlmsg_send(sv->lead[0].sock, CTLMSG_DOWN, 0, 0, NULL, 0, NULL, 0);
	kill(-1, SIGTERM);
	sv->down_at = clock_ms() + grace;
}

static void from_supervisor(struct svc *sv)
{
	struct ctlmsg m;
	int k = ctlmsg_recv(FD_CTL, sv->buf, &m);
	if (k == 0 || (k < 0 && k != -EINTR && k != -EAGAIN && k != -EBADMSG))
		finish(); /* the supervisor is gone */
	if (k <= 0)
		return;
	struct route *r;
	switch (m.h.type) {
	case CTLMSG_EXEC: route_exec(sv, &m); break;
	case CTLMSG_SIGNAL:
	case CTLMSG_HANGUP:
		if ((r = find_route(sv, m.h.id))) {
			ctlmsg_forward(sv->lead[r->lead].sock, &m);
			if (m.h.type == CTLMSG_HANGUP)
				drop_route(sv, r);
		}
		break;
	case CTLMSG_SESSION_NEW: new_session(sv, &m); break;
	case CTLMSG_SESSION_DEL: delete_session(sv, &m); break;
	case CTLMSG_SESSION_LIST: list_sessions(sv, &m); break;
	case CTLMSG_STATUS: status(sv, &m); break;
	case CTLMSG_DOWN: go_down(sv, &m); break;
	default: error_to(m.h.id, -EOPNOTSUPP, "%s", "unknown request");
	}
	ctlmsg_close_fds(&m);
}

/* An answer of leader i: to the supervisor, keeping the routes. */
static void from_leader(struct svc *sv, int i)
{
	struct ctlmsg m;
	int k = ctlmsg_recv(sv->lead[i].sock, sv->buf, &m);
	if (k <= 0) {
		if (k == 0 || (k != -EINTR && k != -EAGAIN && k != -EBADMSG))
			kill(sv->lead[i].pid, SIGKILL); /* reaped below, then removed */
		return;
	}
	struct route *r = find_route(sv, m.h.id);
	if (m.h.type == CTLMSG_CMD && i == 0) {
		if (m.h.value < 0 && sv->cmd_ran)
			sv->restarts++;
		sv->cmd_ran |= m.h.value < 0;
		sv->cmd = m.h.value < 0 ? (pid_t)-m.h.value : 0;
		to_supervisor(&m);
	} else if (r && r->lead == i) {
		to_supervisor(&m);
		if (m.h.type == CTLMSG_STARTED)
			r->started = true;
		else if (m.h.type == CTLMSG_EXIT || m.h.type == CTLMSG_ERR)
			drop_route(sv, r);
	}
	ctlmsg_close_fds(&m);
}

/* Leader i ended: its execs end as killed; the main one's end is the
 * box's. */
static void lead_gone(struct svc *sv, size_t i)
{
	if (i == 0)
		finish();
	for (size_t k = 0; k < sv->nroute;) {
		struct route *r = &sv->route[k];
		if (r->lead != (int)i) {
			if (r->lead == (int)sv->nlead - 1)
				r->lead = (int)i; /* the last one moves to i below */
			k++;
			continue;
		}
		if (r->started)
			ctlmsg_send(FD_CTL, CTLMSG_EXIT, r->id, SIGKILL, NULL, 0, NULL, 0);
		else
			error_to(r->id, -ECONNRESET, "%s", "the session ended");
		drop_route(sv, r);
	}
	char name[BOX_NAME_MAX + 2];
	snprintf(name, sizeof(name), "n%s", sv->lead[i].name);
	ctlmsg_send(FD_CTL, CTLMSG_GONE, 0, 0, (char *[]){ name }, 1, NULL, 0);
	close(sv->lead[i].sock);
	close(sv->lead[i].pidfd);
	sv->lead[i] = sv->lead[--sv->nlead];
}

static void reap(struct svc *sv)
{
	struct signalfd_siginfo si;
	while (read(sv->sigfd, &si, sizeof(si)) > 0)
		;
	for (;;) {
		pid_t p = waitpid(-1, NULL, WNOHANG | __WALL);
		if (p <= 0)
			return;
		for (size_t i = 0; i < sv->nlead; i++)
			if (sv->lead[i].pid == p) {
				lead_gone(sv, i);
				break;
			}
	}
}

_noreturn_ static void loop(struct svc *sv)
{
	static struct pollfd p[2 + MAX_LEADS];
	for (;;) {
		p[0] = (struct pollfd){ .fd = FD_CTL, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = sv->sigfd, .events = POLLIN };
		for (size_t i = 0; i < sv->nlead; i++)
			p[2 + i] = (struct pollfd){ .fd = sv->lead[i].sock, .events = POLLIN };
		int64_t left = sv->down_at ? sv->down_at - clock_ms() : -1;
		if (sv->down_at && (left <= 0 || (sv->cmd == 0 && sv->nroute == 0)))
			finish();
		if (poll(p, 2 + sv->nlead, left < 0 ? -1 : (int)left) < 0 && errno != EINTR)
			finish();
		size_t n = sv->nlead;
		for (size_t i = n; i-- > 0;)
			if (p[2 + i].revents)
				from_leader(sv, (int)i);
		if (p[0].revents)
			from_supervisor(sv);
		if (p[1].revents)
			reap(sv);
	}
}

void initsvc_main(const struct supervisor_spec *s, char **envp, char **base)
{
	static struct svc sv;
	struct error err;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sv = (struct svc){ .s = s, .envp = envp, .base = base };
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    (sv.sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		error_errno(&err, -errno, "prepare the box's init");
		report_send(FD_REPORT, REPORT_FAIL, 0, &err);
		_exit(EXIT_SETUP);
	}
	struct leader_spec ls = { .box = s, .env = envp, .main = true };
	struct lead *l = &sv.lead[0];
	*l = (struct lead){ .created = time(NULL) };
	if (leader_start(&ls, &l->pid, &l->pidfd, &l->sock, &err) < 0) {
		report_send(FD_REPORT, REPORT_FAIL, 0, &err);
		_exit(EXIT_SETUP);
	}
	sv.nlead = 1;
	if (ctlmsg_send(FD_CTL, CTLMSG_READY, 0, 0, NULL, 0, NULL, 0) < 0)
		finish();
	loop(&sv);
}
