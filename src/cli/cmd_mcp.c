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
#include <signal.h>

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

/* The stdin reader: whole lines of at most max bytes; a longer one is
 * skipped to its end and answered with one error. */
struct lines {
	char *buf;
	size_t len, max;
	bool skipping; /* inside a line over max */
	bool eof;
};

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

static int too_long(const struct lines *l)
{
	char msg[96];
	snprintf(msg, sizeof(msg), "Invalid Request: a message is one line of at most %zu bytes",
		 l->max);
	char *reply = jsonrpc_error(NULL, MCP_ERR_INVALID, msg, NULL);
	int r = reply ? send_line(reply) : -ENOMEM;
	free(reply);
	return r;
}

/* Handle every whole line in l->buf; keep the partial rest. */
static int drain(struct mcp_ctx *ctx, struct lines *l)
{
	size_t at = 0;
	char *nl;
	int r = 0;
	while (r == 0 && (nl = memchr(l->buf + at, '\n', l->len - at))) {
		size_t n = (size_t)(nl - (l->buf + at));
		if (l->skipping) {
			l->skipping = false;
			r = too_long(l);
		} else
			r = one_line(ctx, l->buf + at, n);
		at += n + 1;
	}
	memmove(l->buf, l->buf + at, l->len - at);
	l->len -= at;
	if (r == 0 && l->len > l->max) { /* no newline within max: skip the line */
		l->skipping = true;
		l->len = 0;
	}
	return r;
}

/* Serve ctx on stdin/stdout until stdin ends. 0, or -errno. */
static int serve(struct mcp_ctx *ctx, size_t max)
{
	struct lines l = { .max = max };
	const size_t chunk = 64 * 1024;
	int r = 0;
	if (!(l.buf = malloc(max + chunk + 1)))
		return -ENOMEM;
	while (r == 0 && !l.eof) {
		ssize_t k = read(STDIN_FILENO, l.buf + l.len, chunk);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			break;
		}
		l.eof = k == 0;
		l.len += (size_t)k;
		if (l.eof && l.len && !l.skipping)
			l.buf[l.len++] = '\n'; /* a last line without its newline */
		r = drain(ctx, &l);
	}
	free(l.buf);
	return r;
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
	struct mcp_config cfg = { .box = b.name,
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
	int r = serve(ctx, MCP_MESSAGE_MAX);
	mcp_ctx_free(ctx);
	if (r < 0 && r != -EPIPE) {
		log_error("mcp: %s", strerror(-r));
		return CLI_EXIT_ERROR;
	}
	return 0;
}
