/* clawbox serve: the API daemon (src/api/api.h, docs/API.md). */
#include "util/common.h"

#include <getopt.h>
#include <signal.h>

#include "api/api.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/version.h"
#include "state/box.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/size.h"

static const char usage[] =
    "usage: clawbox serve [--socket PATH] [--listen ADDR:PORT [--no-auth]] [--box NAME] "
    "[options]\n\n"
    "Serve the HTTP/JSON API (docs/API.md) for every box of this user: boxes, sessions,\n"
    "exec, files, sync, audit, /mcp, and kubernetes-sigs/agent-sandbox's /v1/files and\n"
    "/v1/process (docs/KUBERNETES.md). Runs in the foreground until SIGTERM or SIGINT.\n\n"
    "options:\n"
    "      --socket PATH     the unix socket (default: STATE/api.sock, mode 0600; only\n"
    "                        its owner and root may use it)\n"
    "      --no-socket       no unix socket (with --listen)\n"
    "      --listen ADDR:PORT  also serve TCP ([V6ADDR]:PORT; port 0: any free one). It\n"
    "                        needs auth: CLAWBOX_API_TOKEN (Authorization: Bearer TOKEN)\n"
    "                        or CLAWBOX_API_PASSWORD (Basic auth, any user), also read\n"
    "                        from OPENCLAW_GATEWAY_TOKEN / OPENCLAW_GATEWAY_PASSWORD;\n"
    "                        secrets are never taken from the command line\n"
    "      --no-auth         TCP without auth: loopback addresses only, serving your\n"
    "                        uid and root only (Host must be a loopback name)\n"
    "      --box NAME        the box of /v1/files, /v1/process, /v1/metadata and /mcp\n"
    "      --mcp-allow-sync  /mcp offers sync_apply (as clawbox mcp --allow-sync)\n"
    "      --origin ORIGIN   also allow this Origin header (default: loopback origins\n"
    "                        only; others get 403); repeatable\n"
    "      --max-body SIZE   largest request body, a file written included (16M)\n"
    "      --max-conns N     connections at once (64)\n"
    "      --max-per-client N  TCP connections at once from one address (16)\n"
    "      --timeout S       close a connection idle this long (30)\n"
    "      --body-timeout S  cut a request whose body takes longer (120)\n"
    "      --grace S         on SIGTERM, give requests in flight this long (10)\n"
    "  -h, --help            show this help\n";

struct opts {
	struct api_config cfg;
	char sock[PATH_MAX];
	bool no_socket;
	int64_t grace_ms;
	char *token, *password;
};

enum {
	OPT_SOCKET = 256,
	OPT_NO_SOCKET,
	OPT_LISTEN,
	OPT_NO_AUTH,
	OPT_BOX,
	OPT_ORIGIN,
	OPT_MAX_BODY,
	OPT_MAX_CONNS,
	OPT_PER_CLIENT,
	OPT_TIMEOUT,
	OPT_BODY_TIMEOUT,
	OPT_GRACE,
	OPT_MCP_SYNC
};

static const struct option lopts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "no-socket", no_argument, NULL, OPT_NO_SOCKET },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "no-auth", no_argument, NULL, OPT_NO_AUTH },
	{ "box", required_argument, NULL, OPT_BOX },
	{ "origin", required_argument, NULL, OPT_ORIGIN },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "max-per-client", required_argument, NULL, OPT_PER_CLIENT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "body-timeout", required_argument, NULL, OPT_BODY_TIMEOUT },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "mcp-allow-sync", no_argument, NULL, OPT_MCP_SYNC },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* A count option (1..max) into *ret. -1 to go on, or CLI_EXIT_USAGE. */
static int count_opt(const char *arg, uint64_t max, unsigned *ret)
{
	uint64_t v;
	if (cli_parse_uint(arg, &v) < 0 || v == 0 || v > max)
		return cli_bad_argument("serve", arg);
	*ret = (unsigned)v;
	return -1;
}

static int parse_opt(int c, char **argv, struct opts *o)
{
	uint64_t v;
	unsigned u = 0;
	int r;
	switch (c) {
	case OPT_SOCKET: snprintf(o->sock, sizeof(o->sock), "%s", optarg); break;
	case OPT_NO_SOCKET: o->no_socket = true; break;
	case OPT_LISTEN: o->cfg.listen = optarg; break;
	case OPT_NO_AUTH: o->cfg.no_auth = true; break;
	case OPT_MCP_SYNC: o->cfg.mcp_allow_sync = true; break;
	case OPT_BOX:
		if (!box_name_valid(optarg))
			return cli_bad_argument("serve", optarg);
		o->cfg.box = optarg;
		break;
	case OPT_ORIGIN:
		if (o->cfg.norigins == API_ORIGINS_MAX) {
			log_error("more than %d --origin options", API_ORIGINS_MAX);
			return CLI_EXIT_USAGE;
		}
		o->cfg.origins[o->cfg.norigins++] = optarg;
		break;
	case OPT_MAX_BODY:
		if (size_parse(optarg, (uint64_t)1 << 32, &v) < 0 || v == 0)
			return cli_bad_argument("serve", optarg);
		o->cfg.max_body = (size_t)v;
		break;
	case OPT_MAX_CONNS: return count_opt(optarg, 4096, &o->cfg.max_conns);
	case OPT_PER_CLIENT: return count_opt(optarg, 4096, &o->cfg.max_per_client);
	case OPT_TIMEOUT: return count_opt(optarg, 86400, &o->cfg.timeout_s);
	case OPT_BODY_TIMEOUT: return count_opt(optarg, 86400, &o->cfg.body_timeout_s);
	case OPT_GRACE:
		if ((r = count_opt(optarg, 3600, &u)) >= 0)
			return r;
		o->grace_ms = (int64_t)u * 1000;
		break;
	case 'h': fputs(usage, stdout); return 0;
	default: return cli_bad_option("serve", argv);
	}
	return -1;
}

/* The secret of the first of these variables that is set (copied), and
 * every one of them removed from the environment: `up` and whatever the
 * daemon starts never see it. */
static char *take_secret(const char *a, const char *b)
{
	const char *names[] = { a, b };
	char *s = NULL;
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		char *v = secure_getenv(names[i]);
		if (v && *v && !s)
			s = strdup(v);
		/* Wiped where it lies too: /proc/PID/environ shows the
		 * environment the process started with, not environ. */
		if (v)
			explicit_bzero(v, strlen(v));
		unsetenv(names[i]);
	}
	return s;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* The state dir (made when missing) and the socket's default path. */
static int settle_paths(struct opts *o, char *state, size_t n)
{
	int r = box_state_dir(state, n);
	if (r == 0)
		r = fs_mkdir_p(state, 0700);
	if (r < 0) {
		log_error("cannot make the state directory '%s': %s", state, strerror(-r));
		return r;
	}
	o->cfg.state = state;
	if (!o->sock[0] && !o->no_socket)
		snprintf(o->sock, sizeof(o->sock), "%s/api.sock", state);
	o->cfg.socket = o->no_socket ? NULL : o->sock;
	return 0;
}

/* Serve until SIGTERM or SIGINT (blocked here, before any thread starts,
 * and waited for). */
static int serve(struct opts *o)
{
	sigset_t set;
	struct error err = { 0 };
	struct api_server *srv = NULL;
	char why[ERROR_FORMAT_MAX];
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int r = api_start(&o->cfg, &srv, &err);
	if (r < 0) {
		log_error("cannot serve: %s", cli_error_text(&err, r, why, sizeof(why)));
		return CLI_EXIT_ERROR;
	}
	log_info("serving the API (pid %d) on:\n%s", (int)getpid(), api_listening(srv));
	int sig = sigwaitinfo(&set, NULL);
	log_info("%s: stopping (in-flight requests get %lld ms)",
		 strsignal(sig > 0 ? sig : SIGTERM), (long long)o->grace_ms);
	unsigned cut = api_stop(srv, o->grace_ms);
	if (cut)
		log_warn("%u request%s cut off at the end of the grace period", cut,
			 cut == 1 ? "" : "s");
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	struct opts o = { .grace_ms = API_GRACE_MS };
	char state[PATH_MAX];
	int c, code;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1)
		if ((code = parse_opt(c, argv, &o)) >= 0)
			return code;
	if (optind < argc)
		return cli_bad_argument("serve", argv[optind]);
	if (o.no_socket && !o.cfg.listen) {
		log_error("--no-socket needs --listen: nothing to serve on");
		return CLI_EXIT_USAGE;
	}
	o.token = take_secret("CLAWBOX_API_TOKEN", "OPENCLAW_GATEWAY_TOKEN");
	o.password = take_secret("CLAWBOX_API_PASSWORD", "OPENCLAW_GATEWAY_PASSWORD");
	o.cfg.token = o.token;
	o.cfg.password = o.password;
	o.cfg.version = CLAWBOX_VERSION;
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	if (api_check_auth_policy(&o.cfg, &err) < 0) {
		log_error("%s", cli_error_text(&err, err.code, why, sizeof(why)));
		code = CLI_EXIT_USAGE;
	} else
		code = settle_paths(&o, state, sizeof(state)) < 0 ? CLI_EXIT_ERROR : serve(&o);
	free_secret(o.token);
	free_secret(o.password);
	return code;
}
