/* exec in an up box: buffered (one JSON result) or streamed (newline-
 * delimited JSON events), in clawbox's shape (/v1/boxes/B/exec) and in
 * agent-sandbox's ProcessService shape (/v1/process/...). A streamed
 * command is a process of the daemon's table, so that other requests can
 * write to its stdin, signal it and resize its terminal. */
#include "util/common.h"
#include "util/clock.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "api/api_int.h"
#include "ctl/ctl.h"
#include "secrets/secrets.h"
#include "util/buf.h"
#include "util/utf8.h"

#define PROCS_MAX       256
#define STDIN_WAIT_MS   10000
#define EXEC_TIMEOUT_MS (600 * 1000)

/* What a request asks to run. */
struct exec_req {
	json_t *body; /* owns what the pointers below point into */
	char **argv;  /* borrowed strings, the array owned */
	char **env;
	const char *session, *cwd;
	char *in; /* stdin bytes (owned) */
	size_t in_len;
	bool stdin_open, tty, b64;
	int64_t timeout_ms;
	size_t cap;
	unsigned cols, rows;
};

static void exec_req_free(struct exec_req *e)
{
	free(e->argv);
	api_env_free(e->env);
	free(e->in);
	json_decref(e->body);
}

static int bad(struct api_resp *rs, struct exec_req *e, const char *what)
{
	exec_req_free(e);
	return api_errorf(rs, 400, "%s", what);
}

/* argv from a JSON array of 1..4096 strings. */
static int parse_argv(json_t *a, char ***ret)
{
	size_t n = json_array_size(a);
	if (!json_is_array(a) || n == 0 || n > 4096)
		return -EINVAL;
	char **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = (char *)json_string_value(json_array_get(a, i)))) {
			free(v);
			return -EINVAL;
		}
	*ret = v;
	return 0;
}

/* The request's stdin: "stdin" (text) or "stdin_b64". */
static int parse_stdin(json_t *j, struct exec_req *e)
{
	json_t *t = json_object_get(j, "stdin"), *b = json_object_get(j, "stdin_b64");
	if (t && json_is_string(t))
		return (e->in = strndup(json_string_value(t), json_string_length(t)))
			   ? (e->in_len = json_string_length(t), 0)
			   : -ENOMEM;
	if (b && json_is_string(b))
		return api_unbase64(json_string_value(b), json_string_length(b), &e->in,
				    &e->in_len);
	return t || b ? -EINVAL : 0;
}

/* clawbox's shape: {"argv": [...], "env": {}, "session", "cwd", "stdin",
 * "stdin_b64", "stdin_open", "tty", "timeout_ms", "max_output",
 * "encoding": "utf-8"|"base64"}; agent-sandbox's: {"config": {"command",
 * "env_vars", "cwd"}, "pty": {"cols", "rows"}}. */
static int parse_exec(struct api_req *rq, struct api_resp *rs, bool k8s, struct exec_req *e)
{
	*e = (struct exec_req){ .cap = API_OUTPUT_MAX };
	if (api_body_json(rq, rs, &e->body) < 0)
		return -EINVAL;
	json_t *j = k8s ? json_object_get(e->body, "config") : e->body;
	if (parse_argv(json_object_get(j, k8s ? "command" : "argv"), &e->argv) < 0)
		return bad(rs, e,
			   k8s ? "'config.command': an array of strings"
			       : "'argv': an array of 1 to 4096 strings");
	if (api_env(json_object_get(j, k8s ? "env_vars" : "env"), &e->env) < 0)
		return bad(rs, e, "'env': an object of strings");
	e->cwd = json_string_value(json_object_get(j, "cwd"));
	e->session = k8s ? NULL : json_string_value(json_object_get(j, "session"));
	if (e->session && !ctl_session_name_valid(e->session))
		return bad(rs, e, "'session': not a session name");
	if (parse_stdin(e->body, e) < 0)
		return bad(rs, e, "'stdin' is a string, 'stdin_b64' base64");
	json_t *pty = json_object_get(e->body, "pty");
	e->tty = k8s ? pty != NULL : json_is_true(json_object_get(j, "tty"));
	e->cols = (unsigned)json_integer_value(json_object_get(pty, "cols"));
	e->rows = (unsigned)json_integer_value(json_object_get(pty, "rows"));
	e->stdin_open = k8s || json_is_true(json_object_get(j, "stdin_open"));
	e->b64 = k8s || (json_is_string(json_object_get(j, "encoding")) &&
			 STREQ(json_string_value(json_object_get(j, "encoding")), "base64"));
	json_int_t t = json_integer_value(json_object_get(j, "timeout_ms"));
	json_int_t cap = json_integer_value(json_object_get(j, "max_output"));
	e->timeout_ms = t > 0 && t < EXEC_TIMEOUT_MS ? t : EXEC_TIMEOUT_MS;
	if (cap > 0 && (uint64_t)cap < API_OUTPUT_MAX)
		e->cap = (size_t)cap;
	return 0;
}

static json_t *bytes(const char *s, size_t n, bool b64)
{
	return b64 ? api_base64(s, n) : api_text(s, n);
}

static void audit_exec(struct api_req *rq, const struct box *b, const struct exec_req *e,
		       int exit_code, int64_t ms)
{
	json_t *argv = json_array();
	for (size_t i = 0; e->argv[i]; i++)
		json_array_append_new(argv, api_text(e->argv[i], strlen(e->argv[i])));
	api_audit(rq, b, "api-exec",
		  json_pack("{s:o, s:s?, s:i, s:I}", "argv", argv, "session", e->session,
			    "exit_code", exit_code, "duration_ms", (json_int_t)ms));
}

/* Buffered exec of either shape. */
static int exec_buffered(struct api_req *rq, struct api_resp *rs, bool k8s)
{
	struct box b = { 0 };
	struct exec_req e;
	struct ctl_output o = { 0 };
	struct error err = { 0 };
	if (api_req_box(rq, rs, &b) < 0 || parse_exec(rq, rs, k8s, &e) < 0)
		return -EINVAL;
	struct ctl_exec_spec s = { .argv = e.argv,
				   .env = e.env,
				   .session = e.session,
				   .cwd = e.cwd,
				   .fds = { -1, -1, -1 } };
	int r = ctl_exec_buffered(&b, &s, e.in, e.in_len, e.cap, e.timeout_ms, &o, &err);
	if (r < 0) {
		exec_req_free(&e);
		return api_ctl_failed(rs, &b, r, &err);
	}
	audit_exec(rq, &b, &e, o.exit_code, o.duration_ms);
	json_t *j = json_pack(
	    "{s:o, s:o, s:i, s:I, s:b, s:b}", "stdout", bytes(o.out, o.out_len, e.b64), "stderr",
	    bytes(o.err, o.err_len, e.b64), "exit_code", o.exit_code, "duration_ms",
	    (json_int_t)o.duration_ms, "timed_out", o.timed_out, "truncated", o.truncated);
	if (WIFSIGNALED(o.wstatus))
		json_object_set_new(j, "signal", json_integer(WTERMSIG(o.wstatus)));
	if (error_isset(&err))
		json_object_set_new(j, "error", api_text(err.message, strlen(err.message)));
	ctl_output_free(&o);
	exec_req_free(&e);
	return api_json(rs, 200, j);
}

int api_h_exec(struct api_req *rq, struct api_resp *rs)
{
	return exec_buffered(rq, rs, false);
}

int api_h_proc_execute(struct api_req *rq, struct api_resp *rs)
{
	return exec_buffered(rq, rs, true);
}

/* ---- the process table ---- */

struct proc {
	unsigned id;
	unsigned refs;           /* the table's and the stream's (and a /stdin in progress) */
	pthread_mutex_t in_lock; /* in_w and the writes to it */
	int in_w;                /* stdin (or the terminal's master), -1 closed */
	int sig_r, sig_w;        /* signals for the stream's thread to send */
	int pty;                 /* the terminal's master (-1: none) */
	/* the stream's own */
	struct api *api;
	struct box box;
	struct ctl_exec *x;
	int out_r, err_r;
	struct secrets *known; /* every value the box was given: redacted in its output */
	bool started;          /* "started" emitted: output may follow */
	char *in;
	size_t in_len, in_off;
	bool k8s, b64, exited, done, timed_out, in_close;
	unsigned short cols, rows; /* the terminal's first size */
	int64_t deadline_ms;
	struct ctl_event exit;
	char carry[2][4];
	size_t ncarry[2];
	char *line; /* an event waiting to be sent */
	size_t line_len, line_off;
};

struct api_procs {
	pthread_mutex_t lock;
	struct proc *v[PROCS_MAX];
	unsigned next;
};

int api_procs_new(struct api *a)
{
	a->procs = calloc(1, sizeof(*a->procs));
	if (!a->procs)
		return -ENOMEM;
	pthread_mutex_init(&a->procs->lock, NULL);
	return 0;
}

void api_procs_free(struct api *a)
{
	if (!a->procs)
		return;
	pthread_mutex_destroy(&a->procs->lock);
	free(a->procs);
	a->procs = NULL;
}

static void proc_unref(struct api_procs *t, struct proc *p)
{
	pthread_mutex_lock(&t->lock);
	bool last = --p->refs == 0;
	pthread_mutex_unlock(&t->lock);
	if (!last)
		return;
	ctl_exec_free(p->x);
	secrets_free(p->known);
	int fds[] = { p->in_w, p->sig_r, p->sig_w, p->pty, p->out_r, p->err_r };
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&p->in_lock);
	free(p->in);
	free(p->line);
	free(p);
}

/* The process id, with a reference for the caller; NULL when none. */
static struct proc *proc_get(struct api_procs *t, unsigned id)
{
	struct proc *p = NULL;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < PROCS_MAX && !p; i++)
		if (t->v[i] && t->v[i]->id == id)
			(p = t->v[i])->refs++;
	pthread_mutex_unlock(&t->lock);
	return p;
}

/* Enter p in the table (two references: the table's, the stream's). */
static int proc_add(struct api_procs *t, struct proc *p)
{
	int r = -EAGAIN;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < PROCS_MAX && r < 0; i++)
		if (!t->v[i]) {
			t->v[i] = p;
			p->id = ++t->next;
			p->refs = 2;
			r = 0;
		}
	pthread_mutex_unlock(&t->lock);
	return r;
}

static void proc_remove(struct api_procs *t, struct proc *p)
{
	bool found = false;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < PROCS_MAX; i++)
		if (t->v[i] == p) {
			t->v[i] = NULL;
			found = true;
		}
	pthread_mutex_unlock(&t->lock);
	if (found)
		proc_unref(t, p);
}

/* ---- the stream ---- */

/* Queue the event j (consumed) as one line. */
static void emit(struct proc *p, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return;
	size_t n = strlen(s);
	char *l = realloc(p->line, n + 2);
	if (!l) {
		free(s);
		return;
	}
	memcpy(l, s, n + 1); /* its NUL, overwritten: a line ends in a newline */
	l[n] = '\n';
	free(s);
	p->line = l;
	p->line_len = n + 1;
	p->line_off = 0;
}

/* How many bytes at the end of s[0..n) begin a UTF-8 sequence that goes
 * on past n (kept for the next read). */
static size_t utf8_tail(const char *s, size_t n)
{
	for (size_t k = 1; k <= 3 && k <= n; k++) {
		unsigned char c = (unsigned char)s[n - k];
		if (c < 0x80)
			return 0;
		if (c >= 0xc0) {
			size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			return len > k ? k : 0;
		}
	}
	return 0;
}

/* Read stdout (which = 0) or stderr (1) into an event; closes it at EOF. */
static void end_with_error(struct proc *p, const char *what, int exit_code);

static void read_output(struct proc *p, int which)
{
	int *fd = which ? &p->err_r : &p->out_r;
	char buf[16384 + 4];
	size_t have = p->ncarry[which];
	memcpy(buf, p->carry[which], have);
	ssize_t n = read(*fd, buf + have, sizeof(buf) - 4 - have);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		n = 0; /* what is carried goes out as it is */
	}
	have += (size_t)n;
	size_t keep = n && !p->b64 ? utf8_tail(buf, have) : 0;
	memcpy(p->carry[which], buf + have - keep, keep);
	p->ncarry[which] = keep;
	if (have - keep == 0)
		return;
	const char *name = which ? "stderr" : "stdout";
	_cleanup_buf_ struct buf red = BUF_INIT(SIZE_MAX);
	if (!p->known || ctl_redact(p->known, buf, have - keep, &red) < 0) {
		end_with_error(p, "cannot redact the command's output", 125);
		return;
	}
	if (p->k8s)
		emit(p, json_pack("{s:o}", name, api_base64(red.data, red.len)));
	else
		emit(p, json_pack("{s:s, s:o}", "event", name, "data",
				  bytes(red.data, red.len, p->b64)));
}

static void end_with_error(struct proc *p, const char *what, int exit_code)
{
	if (p->k8s)
		emit(p, json_pack("{s:{s:i}, s:s}", "exit", "exit_code", exit_code, "error", what));
	else
		emit(p, json_pack("{s:s, s:s, s:i}", "event", "error", "error", what, "exit_code",
				  exit_code));
	p->done = true;
}

static void on_event(struct proc *p)
{
	struct ctl_event ev;
	struct error err = { 0 };
	int r = ctl_exec_next(p->x, &ev, &err);
	if (r < 0) {
		end_with_error(
		    p, r == -ECONNRESET ? "the box went down under the command" : "lost the box",
		    125);
		return;
	}
	if (ev.kind == CTL_EV_PTY) {
		p->pty = ev.fd;
		if (p->cols && p->rows)
			(void)ioctl(ev.fd, TIOCSWINSZ,
				    &(struct winsize){ .ws_row = p->rows, .ws_col = p->cols });
		p->out_r = fcntl(ev.fd, F_DUPFD_CLOEXEC, 3);
		pthread_mutex_lock(&p->in_lock);
		if (p->in_w < 0 && !p->in_close)
			p->in_w = fcntl(ev.fd, F_DUPFD_CLOEXEC, 3);
		pthread_mutex_unlock(&p->in_lock);
	} else if (ev.kind == CTL_EV_STARTED) {
		p->started = true;
		if (p->k8s)
			emit(p, json_pack("{s:{s:i}}", "init", "process_id", (int)p->id));
		else
			emit(p, json_pack("{s:s, s:i, s:i}", "event", "started", "id", (int)p->id,
					  "pid", (int)ev.pid));
	} else if (ev.kind == CTL_EV_EXIT) {
		p->exit = ev;
		p->exited = true;
	} else {
		end_with_error(p, ev.error.message[0] ? ev.error.message : "cannot run the command",
			       ev.exit_code);
	}
}

static void emit_exit(struct proc *p)
{
	const struct ctl_event *ev = &p->exit;
	if (p->k8s) {
		emit(p, json_pack("{s:{s:i}}", "exit", "exit_code", ev->exit_code));
	} else {
		json_t *j = json_pack("{s:s, s:i, s:I, s:b}", "event", "exit", "exit_code",
				      ev->exit_code, "duration_ms", (json_int_t)ev->duration_ms,
				      "timed_out", p->timed_out);
		if (WIFSIGNALED(ev->wstatus))
			json_object_set_new(j, "signal", json_integer(WTERMSIG(ev->wstatus)));
		emit(p, j);
	}
	p->done = true;
}

/* Write what is left of the request's stdin (nonblocking), then close it
 * unless the client keeps it open. */
static void feed_stdin(struct proc *p)
{
	pthread_mutex_lock(&p->in_lock);
	while (p->in_w >= 0 && p->in_off < p->in_len) {
		ssize_t n = write(p->in_w, p->in + p->in_off, p->in_len - p->in_off);
		if (n <= 0)
			break;
		p->in_off += (size_t)n;
	}
	if (p->in_w >= 0 && p->in_off == p->in_len && p->in_close && p->pty < 0) {
		close(p->in_w);
		p->in_w = -1;
	}
	pthread_mutex_unlock(&p->in_lock);
}

/* One round: wait (a quarter second at most) and turn what came into
 * events. */
static void step(struct proc *p)
{
	/* Output only once "started" is out: the command may write before
	 * its start is reported. */
	bool out = p->started || p->exited;
	struct pollfd f[4] = { { out ? p->out_r : -1, POLLIN, 0 },
			       { out ? p->err_r : -1, POLLIN, 0 },
			       { p->exited ? -1 : ctl_exec_fd(p->x), POLLIN, 0 },
			       { p->sig_r, POLLIN, 0 } };
	feed_stdin(p);
	if (poll(f, 4, 250) < 0 && errno != EINTR)
		return end_with_error(p, "poll failed", 125);
	if (f[2].revents)
		return on_event(p);
	if (f[0].revents)
		return read_output(p, 0);
	if (f[1].revents)
		return read_output(p, 1);
	int sig;
	if (f[3].revents && read(p->sig_r, &sig, sizeof(sig)) == sizeof(sig) && !p->exited)
		ctl_exec_signal(p->x, sig);
	if (!p->exited && (clock_ms() > p->deadline_ms || p->api->stopping)) {
		p->timed_out = !p->api->stopping;
		ctl_exec_signal(p->x, SIGKILL);
		p->deadline_ms = INT64_MAX;
		if (p->api->stopping)
			end_with_error(p, "the daemon is stopping", 125);
	}
	if (p->exited && p->out_r < 0 && p->err_r < 0)
		emit_exit(p);
}

static ssize_t proc_stream(void *ctx, char *buf, size_t max)
{
	struct proc *p = ctx;
	while (p->line_off == p->line_len) {
		if (p->done)
			return 0;
		step(p);
	}
	size_t n = p->line_len - p->line_off < max ? p->line_len - p->line_off : max;
	memcpy(buf, p->line + p->line_off, n);
	p->line_off += n;
	return (ssize_t)n;
}

static void proc_stream_free(void *ctx)
{
	struct proc *p = ctx;
	struct api_procs *t = p->api->procs;
	proc_remove(t, p);
	proc_unref(t, p);
}

/* Pipes for the command's stdin, stdout and stderr; fds[] the box's ends. */
static int proc_pipes(struct proc *p, const struct exec_req *e, int fds[3])
{
	int pp[4][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } }; /* sig, in, out, err */
	for (int i = 0; i < (e->tty ? 1 : 4); i++)
		if (pipe2(pp[i], O_CLOEXEC | (i == 0 ? O_NONBLOCK : 0)) < 0) {
			int r = -errno;
			for (int k = 0; k < i; k++)
				close(pp[k][0]), close(pp[k][1]);
			return r;
		}
	p->sig_r = pp[0][0], p->sig_w = pp[0][1];
	if (e->tty)
		return 0;
	/* our ends nonblocking, the box's as they are */
	fcntl(pp[1][1], F_SETFL, O_NONBLOCK);
	fcntl(pp[2][0], F_SETFL, O_NONBLOCK);
	fcntl(pp[3][0], F_SETFL, O_NONBLOCK);
	p->in_w = pp[1][1], p->out_r = pp[2][0], p->err_r = pp[3][0];
	fds[0] = pp[1][0], fds[1] = pp[2][1], fds[2] = pp[3][1];
	return 0;
}

static struct proc *proc_new(struct api *a, const struct box *b, struct exec_req *e, bool k8s)
{
	struct proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	*p = (struct proc){ .in_w = -1,
			    .sig_r = -1,
			    .sig_w = -1,
			    .pty = -1,
			    .api = a,
			    .box = *b,
			    .out_r = -1,
			    .err_r = -1,
			    .k8s = k8s,
			    .b64 = e->b64,
			    .in_close = !e->stdin_open,
			    .deadline_ms = clock_ms() + e->timeout_ms };
	pthread_mutex_init(&p->in_lock, NULL);
	p->in = TAKE_PTR(e->in);
	p->in_len = e->in_len;
	p->cols = (unsigned short)(e->cols < 10000 ? e->cols : 0);
	p->rows = (unsigned short)(e->rows < 10000 ? e->rows : 0);
	/* Without them, no output is shown (read_output ends the stream). */
	if (secrets_new_known(&p->known) == 0 && secrets_known_load(b->dir, p->known, NULL) < 0)
		p->known = secrets_free(p->known);
	return p;
}

static int start_failed(struct api_resp *rs, struct proc *p, int r, const struct error *err)
{
	p->refs = 1;
	proc_unref(p->api->procs, p);
	return api_ctl_failed(rs, &p->box, r, err);
}

/* Start the command of e and answer with its event stream. */
static int exec_stream(struct api_req *rq, struct api_resp *rs, bool k8s)
{
	struct box b = { 0 };
	struct exec_req e;
	struct error err = { 0 };
	int fds[3] = { -1, -1, -1 };
	if (api_req_box(rq, rs, &b) < 0 || parse_exec(rq, rs, k8s, &e) < 0)
		return -EINVAL;
	struct proc *p = proc_new(rq->api, &b, &e, k8s);
	struct ctl_exec_spec s = { .argv = e.argv,
				   .env = e.env,
				   .session = e.session,
				   .cwd = e.cwd,
				   .fds = { -1, -1, -1 },
				   .pty_fds = e.tty ? 7 : 0 };
	int r = p ? proc_pipes(p, &e, fds) : -ENOMEM;
	memcpy(s.fds, fds, sizeof(fds));
	if (r == 0)
		r = ctl_exec_start(&b, &s, &p->x, &err);
	for (size_t i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	audit_exec(rq, &b, &e, r < 0 ? 125 : -1, 0);
	exec_req_free(&e);
	if (r < 0)
		return p ? start_failed(rs, p, r, &err) : api_errorf(rs, 500, "out of memory");
	if (proc_add(rq->api->procs, p) < 0) {
		p->refs = 1;
		proc_unref(rq->api->procs, p);
		return api_errorf(rs, 503, "too many commands running (%d)", PROCS_MAX);
	}
	rs->status = 200;
	rs->ctype = "application/x-ndjson";
	rs->stream = proc_stream;
	rs->stream_free = proc_stream_free;
	rs->stream_ctx = p;
	return 0;
}

int api_h_exec_stream(struct api_req *rq, struct api_resp *rs)
{
	return exec_stream(rq, rs, false);
}

int api_h_proc_start(struct api_req *rq, struct api_resp *rs)
{
	return exec_stream(rq, rs, true);
}

/* The process of the body's "process_id", with a reference: NULL (rs
 * filled) when there is none. */
static struct proc *body_proc(struct api_req *rq, struct api_resp *rs, json_t **ret_body)
{
	if (api_body_json(rq, rs, ret_body) < 0)
		return NULL;
	json_t *id = json_object_get(*ret_body, "process_id");
	struct proc *p =
	    json_is_integer(id) ? proc_get(rq->api->procs, (unsigned)json_integer_value(id)) : NULL;
	if (!p) {
		api_errorf(rs, 404, "no such process");
		json_decref(*ret_body);
	}
	return p;
}

/* Write all of data to p's stdin, waiting at most STDIN_WAIT_MS. */
static int write_stdin(struct proc *p, const char *data, size_t n, bool eof)
{
	int r = 0;
	int64_t end = clock_ms() + STDIN_WAIT_MS;
	pthread_mutex_lock(&p->in_lock);
	if (p->in_w < 0 && n)
		r = -EPIPE;
	while (r == 0 && n) {
		struct pollfd f = { p->in_w, POLLOUT, 0 };
		if (clock_ms() > end) {
			r = -ETIMEDOUT;
			break;
		}
		ssize_t k = poll(&f, 1, 100) > 0 ? write(p->in_w, data, n) : 0;
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			r = -errno;
		if (k > 0)
			data += k, n -= (size_t)k;
	}
	if (eof && p->in_w >= 0) {
		if (p->pty >= 0)
			r = write(p->in_w, "\x04", 1) == 1 ? r : -errno;
		else {
			close(p->in_w);
			p->in_w = -1;
		}
		p->in_close = true;
	}
	pthread_mutex_unlock(&p->in_lock);
	return r;
}

int api_h_proc_stdin(struct api_req *rq, struct api_resp *rs)
{
	json_t *body = NULL;
	char *data = NULL;
	size_t n = 0;
	struct proc *p = body_proc(rq, rs, &body);
	if (!p)
		return -ENOENT;
	json_t *in = json_object_get(body, "input");
	int r = in ? (json_is_string(in)
			  ? api_unbase64(json_string_value(in), json_string_length(in), &data, &n)
			  : -EINVAL)
		   : 0;
	if (r < 0)
		api_errorf(rs, 400, "'input': base64");
	else if ((r = write_stdin(p, data, n, json_object_get(body, "eof") != NULL)) < 0)
		api_errorf(rs, r == -EPIPE ? 409 : 504, "cannot write to its stdin: %s",
			   strerror(-r));
	else
		api_json(rs, 200, NULL);
	free(data);
	json_decref(body);
	proc_unref(rq->api->procs, p);
	return r;
}

/* "SIGTERM", "SIGNAL_SIGTERM", "TERM" or a number. */
static int parse_signal(json_t *j)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = { { "INT", SIGINT },   { "TERM", SIGTERM }, { "KILL", SIGKILL },
		     { "HUP", SIGHUP },   { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 },
		     { "USR2", SIGUSR2 }, { "STOP", SIGSTOP }, { "CONT", SIGCONT } };
	if (json_is_integer(j))
		return json_integer_value(j) > 0 && json_integer_value(j) < 65
			   ? (int)json_integer_value(j)
			   : -EINVAL;
	const char *s = json_string_value(j);
	if (!s)
		return -EINVAL;
	if (!strncmp(s, "SIGNAL_", 7))
		s += 7;
	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
		if (STREQ(s, sigs[i].name))
			return sigs[i].sig;
	return -EINVAL;
}

int api_h_proc_signal(struct api_req *rq, struct api_resp *rs)
{
	json_t *body = NULL;
	struct proc *p = body_proc(rq, rs, &body);
	if (!p)
		return -ENOENT;
	int sig = parse_signal(json_object_get(body, "signal"));
	if (sig < 0)
		api_errorf(rs, 400, "'signal': SIGINT, SIGTERM, SIGKILL, ... or a number");
	else if (write(p->sig_w, &sig, sizeof(sig)) != sizeof(sig))
		api_errorf(rs, 503, "cannot pass the signal on");
	else
		api_json(rs, 200, NULL);
	json_decref(body);
	proc_unref(rq->api->procs, p);
	return sig < 0 ? sig : 0;
}

int api_h_proc_resize(struct api_req *rq, struct api_resp *rs)
{
	json_t *body = NULL;
	struct proc *p = body_proc(rq, rs, &body);
	if (!p)
		return -ENOENT;
	json_int_t cols = json_integer_value(json_object_get(body, "cols"));
	json_int_t rows = json_integer_value(json_object_get(body, "rows"));
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	int r = 0;
	if (cols <= 0 || rows <= 0 || cols > 10000 || rows > 10000)
		r = api_errorf(rs, 400, "'cols' and 'rows': 1 to 10000");
	else if (p->pty < 0)
		r = api_errorf(rs, 409, "the process has no terminal");
	else if (ioctl(p->pty, TIOCSWINSZ, &ws) < 0)
		r = api_errorf(rs, 500, "cannot resize its terminal: %s", strerror(errno));
	else
		api_json(rs, 200, NULL);
	json_decref(body);
	proc_unref(rq->api->procs, p);
	return r;
}
