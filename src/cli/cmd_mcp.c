/* clawbox mcp: the MCP server (src/mcp/mcp.h) on stdio: newline-delimited
 * JSON-RPC messages on stdin, the replies on stdout (nothing else ever
 * goes there), clawbox's own messages on stderr. */
#include "util/common.h"

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/version.h"
#include "ctl/ctl.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp.h"
#include "util/log.h"

#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>

static const char usage[] =
    "usage: clawbox mcp [--box NAME | --project DIR] [--session NAME] [--allow-sync]\n\n"
    "Serve the box to an MCP client (Model Context Protocol, revision 2025-11-25)\n"
    "on stdio: the client starts this command and speaks JSON-RPC on its stdin and\n"
    "stdout. Its tools act on the box while it is up ('clawbox up'):\n"
    "  exec         run a command in the box (argv, or a line for /bin/sh -c)\n"
    "  read_file    read a file of the workspace (the box's view: its overlay)\n"
    "  write_file   write a file of the workspace (pending until synced)\n"
    "  list_dir     list a directory of the workspace\n"
    "  search       grep the workspace in the box\n"
    "  sync_status  what is pending sync, and the gate's verdict on each change\n"
    "  sync_apply   with --allow-sync: apply what passes every check of the gate\n"
    "                 (as 'clawbox sync --auto' without approvals)\n"
    "Nothing reaches the project on the host but through the gate. See docs/MCP.md\n"
    "for the client configuration and the security model.\n\n"
    "options:\n" BOX_OPTS_HELP
    "  -s, --session NAME   run execs in this session of the up box (created when\n"
    "                       missing: no network, no secrets; once it ends, execs\n"
    "                       fail); default: the box's own view\n"
    "      --allow-sync     offer sync_apply\n"
    "  -h, --help           show this help\n\n"
    "exit status: 0 when the client closed stdin, 1 on an error, 2 usage.\n";

struct opts {
	struct box_opts box;
	const char *session;
	bool allow_sync;
};

enum { OPT_ALLOW_SYNC = 256 };

static const struct option lopts[] = {
	{ "box", required_argument, NULL, 'b' },
	{ "project", required_argument, NULL, 'p' },
	{ "session", required_argument, NULL, 's' },
	{ "allow-sync", no_argument, NULL, OPT_ALLOW_SYNC },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* The command line into *o. Returns -1 to go on, or the exit status to end
 * with (0 after --help; CLI_EXIT_USAGE, reported). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "b:p:s:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'b': o->box.box = optarg; break;
		case 'p': o->box.project = optarg; break;
		case 's': o->session = optarg; break;
		case OPT_ALLOW_SYNC: o->allow_sync = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_bad_option("mcp", argv);
		}
	}
	if (optind < argc)
		return cli_bad_argument("mcp", argv[optind]);
	if (o->session && !ctl_session_name_valid(o->session)) {
		log_error("invalid session name '%s': use 1-64 letters, digits, '.', '_' or '-', "
			  "not starting with '.' or '-'",
			  o->session);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

/* Write all of s[0..n) to fd; -errno. */
static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, s, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

static int send_line(char *reply)
{
	size_t n = strlen(reply);
	reply[n] = '\n'; /* over the NUL: written with its length */
	int r = write_all(STDOUT_FILENO, reply, n + 1);
	reply[n] = '\0';
	return r;
}

/* Lines from stdin, read by a thread of their own so that a cancellation
 * (notifications/cancelled) is seen while a call is being answered: the
 * reader queues every line (at most QUEUE_MAX at once) and, when one
 * cancels the request in flight, makes cancel_fd readable. A line over
 * max bytes is skipped to its end and answered with one error. */
#define QUEUE_MAX 256

struct line {
	char *text; /* NULL: a line that was too long, or (len 1) no memory for it */
	size_t len;
};

struct reader {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct line q[QUEUE_MAX];
	size_t head, n;
	bool eof;
	int err;        /* the read's -errno, at eof */
	char *inflight; /* the id (compact JSON) of the call being answered, or NULL */
	int cancel_fd;  /* an eventfd */
	size_t max;
};

/* The id of a request line (compact JSON), or NULL. */
static char *request_id(const char *s, size_t n)
{
	json_t *j = json_loadb(s, n, JSON_DECODE_ANY, NULL);
	json_t *id =
	    json_is_object(j) && json_object_get(j, "method") ? json_object_get(j, "id") : NULL;
	char *r = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	json_decref(j);
	return r;
}

/* A notifications/cancelled for the call in flight: say so. Called with
 * the lock held. */
static void check_cancel(struct reader *rd, const char *s, size_t n)
{
	if (!rd->inflight || !memmem(s, n, "notifications/cancelled", 23))
		return;
	json_t *j = json_loadb(s, n, 0, NULL);
	const char *method = json_string_value(json_object_get(j, "method"));
	json_t *id = json_object_get(json_object_get(j, "params"), "requestId");
	char *want = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	if (method && STREQ(method, "notifications/cancelled") && want &&
	    STREQ(want, rd->inflight)) {
		uint64_t one = 1;
		(void)!write(rd->cancel_fd, &one, sizeof(one));
	}
	free(want);
	json_decref(j);
}

static void push(struct reader *rd, char *text, size_t len)
{
	pthread_mutex_lock(&rd->lock);
	if (text)
		check_cancel(rd, text, len);
	while (rd->n == QUEUE_MAX)
		pthread_cond_wait(&rd->changed, &rd->lock);
	rd->q[(rd->head + rd->n++) % QUEUE_MAX] = (struct line){ .text = text, .len = len };
	pthread_cond_broadcast(&rd->changed);
	pthread_mutex_unlock(&rd->lock);
}

/* Queue every whole line of buf[0..*len); keep the partial rest. */
static void split(struct reader *rd, char *buf, size_t *len, bool *skipping)
{
	size_t at = 0;
	char *nl;
	while ((nl = memchr(buf + at, '\n', *len - at))) {
		size_t n = (size_t)(nl - (buf + at));
		char *text = *skipping ? NULL : strndup(buf + at, n);
		push(rd, text, text ? n : !*skipping);
		*skipping = false;
		at += n + 1;
	}
	memmove(buf, buf + at, *len - at);
	*len -= at;
	if (*len > rd->max) { /* no newline within max: skip the line */
		*skipping = true;
		*len = 0;
	}
}

static void *read_lines(void *p)
{
	struct reader *rd = p;
	const size_t chunk = 64 * 1024;
	size_t len = 0;
	bool skipping = false, eof = false;
	int err = 0;
	char *buf = malloc(rd->max + chunk + 1);
	while (buf && !eof) {
		ssize_t k = read(STDIN_FILENO, buf + len, chunk);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			err = -errno;
		eof = k <= 0;
		len += k > 0 ? (size_t)k : 0;
		if (eof && len && !skipping)
			buf[len++] = '\n'; /* a last line without its newline */
		split(rd, buf, &len, &skipping);
	}
	pthread_mutex_lock(&rd->lock);
	rd->eof = true;
	rd->err = buf ? err : -ENOMEM;
	pthread_cond_broadcast(&rd->changed);
	pthread_mutex_unlock(&rd->lock);
	free(buf);
	return NULL;
}

/* The next line (1), or 0 at the end of stdin. */
static int next_line(struct reader *rd, struct line *ret)
{
	pthread_mutex_lock(&rd->lock);
	while (rd->n == 0 && !rd->eof)
		pthread_cond_wait(&rd->changed, &rd->lock);
	int r = rd->n > 0;
	if (r) {
		*ret = rd->q[rd->head];
		rd->head = (rd->head + 1) % QUEUE_MAX;
		rd->n--;
		pthread_cond_broadcast(&rd->changed);
	}
	pthread_mutex_unlock(&rd->lock);
	return r;
}

/* The call in flight is id (NULL: none); a cancellation of the last one
 * that came too late is dropped. */
static void set_inflight(struct reader *rd, char *id)
{
	uint64_t v;
	pthread_mutex_lock(&rd->lock);
	free(rd->inflight);
	rd->inflight = id;
	while (read(rd->cancel_fd, &v, sizeof(v)) > 0)
		;
	pthread_mutex_unlock(&rd->lock);
}

/* Handle one line (no newline): blank lines are skipped. -errno when the
 * reply cannot be written (the client is gone) or memory is short. */
static int one_line(struct mcp_ctx *ctx, const char *s, size_t n)
{
	char *reply = NULL;
	if (n && s[n - 1] == '\r')
		n--;
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == n)
		return 0;
	int r = mcp_handle(ctx, s, n, &reply);
	if (r == 0 && reply)
		r = send_line(reply);
	free(reply);
	return r;
}

static int too_long(size_t max)
{
	char msg[96];
	snprintf(msg, sizeof(msg), "Invalid Request: a message is one line of at most %zu bytes",
		 max);
	char *reply = jsonrpc_error(NULL, MCP_ERR_INVALID, msg, NULL);
	int r = reply ? send_line(reply) : -ENOMEM;
	free(reply);
	return r;
}

/* Serve ctx on stdin/stdout until stdin ends. 0, or -errno. */
static int serve(struct mcp_ctx *ctx, struct reader *rd)
{
	pthread_t t;
	struct line l;
	int r = -pthread_create(&t, NULL, read_lines, rd);
	if (r < 0)
		return r;
	while (r == 0 && next_line(rd, &l)) {
		if (!l.text) {
			r = l.len ? -ENOMEM : too_long(rd->max);
			continue;
		}
		set_inflight(rd, request_id(l.text, l.len));
		r = one_line(ctx, l.text, l.len);
		set_inflight(rd, NULL);
		free(l.text);
	}
	/* The client is gone (a write failed) or stdin ended: the reader ends
	 * at stdin's end; a reader still blocked on it dies with us. */
	if (r < 0) {
		pthread_detach(t);
		return r;
	}
	pthread_join(t, NULL);
	return rd->err;
}

int cmd_mcp(int argc, char **argv)
{
	struct opts o = { 0 };
	int code = parse_opts(argc, argv, &o);
	if (code >= 0)
		return code;
	struct box b;
	bool created;
	if (cli_box(&o.box, false, BOX_MODE_SECURE, false, &b, &created) < 0)
		return CLI_EXIT_ERROR;
	static struct reader rd = { .lock = PTHREAD_MUTEX_INITIALIZER,
				    .changed = PTHREAD_COND_INITIALIZER,
				    .max = MCP_MESSAGE_MAX };
	rd.cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rd.cancel_fd < 0) {
		log_error("cannot serve box '%s': %s", b.name, strerror(errno));
		return CLI_EXIT_ERROR;
	}
	struct mcp_config cfg = { .cancel_fd = &rd.cancel_fd,
				  .box = b.name,
				  .session = o.session,
				  .allow_sync = o.allow_sync,
				  .box_data = &b,
				  .server_version = CLAWBOX_VERSION,
				  .client = "stdio" };
	struct mcp_ctx *ctx = mcp_ctx_new(&cfg);
	if (!ctx) {
		log_error("cannot serve box '%s': %s", b.name, strerror(errno));
		return CLI_EXIT_ERROR;
	}
	signal(SIGPIPE, SIG_IGN); /* a client gone is a write error, handled */
	int r = serve(ctx, &rd);
	mcp_ctx_free(ctx);
	if (r < 0 && r != -EPIPE) {
		log_error("mcp: %s", strerror(-r));
		return CLI_EXIT_ERROR;
	}
	return 0;
}
