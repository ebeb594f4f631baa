/* Running a command in a box, shared by clawbox run and clawbox shell:
 * options, the box, its policy, the audit trail, and the exit status. */
#include "util/common.h"
#include "util/trace.h"

#include "state/audit.h"
#include "box/cgroup.h"
#include "sync/gate.h"
#include "sync/gitsync.h"
#include "cli/cli.h"
#include "box/boxenv.h"
#include "box/masks.h"
#include "util/strv.h"
#include "cli/exec_client.h"
#include "cli/launch.h"
#include "cli/launch_broker.h"
#include "cli/launch_log.h"   /* cmdlog */
#include "cli/launch_watch.h" /* writewatch */
#include "state/cmdlog.h"     /* cmdlog */
#include "ctl/ctl.h"
#include "box/supervisor.h"
#include "secrets/secrets.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/size.h"

#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

static const char run_usage[] =
    "usage: clawbox run [options] [--] CMD [ARG...]\n"
    "       clawbox shell [options]\n\n"
    "Run CMD inside the box of a project. The project is at its own path and at\n"
    "/workspace, writable; in secure mode every write lands in the box's overlay\n"
    "and the project on the host never changes ('clawbox status' shows what is\n"
    "pending). The rest of the host is read-only; homes, /root, /run, credential\n"
    "files and clawbox's state are hidden; the network is clawbox's proxy, which\n"
    "reaches only the allowed domains ('clawbox audit --net' shows its decisions).\n"
    "On a box that is up ('clawbox up'), CMD joins it as 'clawbox exec' would.\n\n"
    "options:\n" BOX_OPTS_HELP
    "  -m, --mode MODE      secure (default: writes held in the overlay), yolo\n"
    "                       (overlay, and the sync gate applies what passes every\n"
    "                       30 s while the box runs) or yolo-unsafe (the project\n"
    "                       bound read-write); a box keeps its mode until\n"
    "                       'clawbox delete'\n" NET_OPTS_HELP AGENT_OPTS_HELP MOUNT_OPTS_HELP
    "      --memory SIZE    memory limit, e.g. 2G (cgroup v1 as root; otherwise a\n"
    "                       per-process address-space limit, with a warning)\n"
    "      --pids N         limit on processes and threads (cgroup v1 as root;\n"
    "                       otherwise RLIMIT_NPROC, with a warning)\n"
    "      --nofile N       open files per process (default 65536)\n"
    "      --tmp-size SIZE  size of the private /tmp and /dev/shm together (default 512M)\n"
    "      --disk SIZE      cap on the host disk the box takes (its overlay, home and\n"
    "                       sync staging), set when the box is created (default 10G,\n"
    "                       or half the free space if less; root only: a filesystem\n"
    "                       image); on an existing box it grows the cap\n"
    "      --deny-read PATH hide PATH too (repeatable; relative = in the project;\n"
    "                       also read from $STATE/boxes/NAME/deny-read); a file git\n"
    "                       tracks stays readable through its history (said on stderr)\n\n"
    "secrets (given to CMD in its environment only; the files they come from are\n"
    "hidden from the box; the box remembers every value it was given, and the\n"
    "sync gate blocks it and the audit log, clawbox's messages and the box's\n"
    "terminal show it redacted; highest first):\n"
    "  -e, --env NAME[=VALUE]  NAME=VALUE, or NAME alone: the value of your own\n"
    "                       $NAME. A VALUE on the command line is visible to other\n"
    "                       processes until clawbox has read it: prefer NAME alone,\n"
    "                       --secrets FILE or 'clawbox secrets set NAME'\n"
    "      --secrets FILE   a dotenv file (NAME=VALUE lines)\n"
    "      --config DIR[:PATH]  read DIR/.env, and show DIR read-only at PATH in\n"
    "                       the box (default " ROOTFS_CONFIG "; beneath\n"
    "                       " ROOTFS_HOME "), its .env hidden\n"
    "                       then the box's stored secrets ('clawbox secrets')\n"
    "      --strict         refuse, instead of warning about, a secrets file that\n"
    "                       others can read or write, or that cannot be read\n"
    "  a secret the box brokers ('clawbox secrets broker NAME SPEC') reaches CMD\n"
    "  as a placeholder of its shape; the proxy puts the value in requests to\n"
    "  the rule's hosts only (docs/SECRETS.md, \"Brokered credentials\")\n"
    "      --no-watch       do not audit the box's writes as they happen (fs.* events)\n"
    "  -h, --help           show this help\n\n"
    "exit status: CMD's own; 128+N when killed by signal N; 125 when clawbox\n"
    "could not set the box up; 126 when CMD cannot be executed; 127 when CMD is\n"
    "not found.\n\n"
    "standard fds: a terminal is never handed in: CMD gets one of the box's own,\n"
    "which gets what you type only while clawbox is the foreground job; a\n"
    "directory, a device, a kernel object or a socket other than unix or TCP as\n"
    "stdin, stdout or stderr is refused (125).\n";

static const char up_usage[] =
    "usage: clawbox up [options] [--] [CMD [ARG...]]\n\n"
    "Start the box of a project as a service and return once it serves: its\n"
    "overlay is mounted once, its proxy runs (and in yolo mode its sync timer),\n"
    "and CMD, when given (for example an agent's gateway), is its long-lived\n"
    "command, its output in the box's log ($STATE/boxes/NAME/logs/cmd.log).\n"
    "'clawbox exec' runs commands in it in milliseconds, 'clawbox session' gives\n"
    "them sessions of their own, 'clawbox run' and 'clawbox shell' join it,\n"
    "'clawbox down' stops it. The box confines everything in it as 'clawbox run'\n"
    "does; its control socket ($STATE/boxes/NAME/control.sock) is yours only.\n\n"
    "options: those of 'clawbox run' (see 'clawbox run --help'), and\n"
    "      --restart POLICY what becomes of CMD when it ends: no (default),\n"
    "                       on-failure (a non-zero exit or a signal) or always;\n"
    "                       restarted after 1 s, doubling to 60 s\n"
    "      --health URL     CMD's health endpoint on the host's loopback (e.g.\n"
    "                       http://127.0.0.1:18789/healthz of a --publish port):\n"
    "                       'clawbox status' probes it\n"
    "  -h, --help           show this help\n\n"
    "exit status: 0 once the box serves; 125 when it could not be set up (the\n"
    "reason is printed).\n";

int launch_usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s (see 'clawbox run --help')", msg);
	return EXIT_SETUP;
}

/* -e NAME=VALUE or -e NAME (the caller's own $NAME). The value is copied
 * into secret memory and its bytes in argv are overwritten at once, so
 * /proc/PID/cmdline of clawbox no longer shows it. Messages name the NAME
 * only when it is valid (an invalid one may be a pasted value). */
static int parse_env_opt(struct launch_opts *o, char *arg)
{
	char name[DOTENV_NAME_MAX + 1];
	char *eq = strchr(arg, '=');
	size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
	const char *value;
	int r;

	if (nl == 0 || nl > DOTENV_NAME_MAX) {
		explicit_bzero(arg, strlen(arg));
		return launch_usage_error(
		    "invalid secret name in -e (NAME=VALUE or NAME expected)");
	}
	memcpy(name, arg, nl);
	name[nl] = '\0';
	if (!dotenv_name_valid(name)) {
		explicit_bzero(eq ? eq + 1 : arg, strlen(eq ? eq + 1 : arg));
		return launch_usage_error("invalid secret name in -e: letters, digits and '_', not "
					  "starting with a digit");
	}
	value = eq ? eq + 1 : secure_getenv(name);
	if (!value)
		return launch_usage_error("-e %s: $%s is not set in your environment", name, name);
	r = secrets_put(o->secrets, name, value, strlen(value), SECRET_SOURCE_CLI, "-e", 0);
	if (eq)
		memset(eq + 1, '*', strlen(eq + 1));
	if (r == -E2BIG)
		return launch_usage_error("-e %s: the value is longer than %d bytes", name,
					  SECRETS_VALUE_MAX);
	if (r < 0)
		return launch_usage_error("-e %s: %s", name, strerror(-r));
	return 0;
}

/* --config DIR[:PATH]: PATH is absolute and beneath the box's home. */
static int parse_config_opt(struct launch_opts *o, const char *arg)
{
	char dir[PATH_MAX];
	const char *colon = strrchr(arg, ':');
	const char *path = ROOTFS_CONFIG;
	size_t dl = strlen(arg);
	struct stat st;
	if (colon && colon[1] == '/') {
		dl = (size_t)(colon - arg);
		path = colon + 1;
	}
	if (dl == 0 || dl >= sizeof(dir))
		return launch_usage_error("invalid --config '%s' (DIR or DIR:PATH)", arg);
	memcpy(dir, arg, dl);
	dir[dl] = '\0';
	if (!realpath(dir, o->config_dir) || stat(o->config_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		o->config_dir[0] = '\0';
		return launch_usage_error("--config '%s' is not a directory", dir);
	}
	if (strlen(path) >= sizeof(o->config_path) || strstr(path, "/..") || strstr(path, "/./") ||
	    strstr(path, "//") || !path_is_beneath(path, ROOTFS_HOME) || STREQ(path, ROOTFS_HOME)) {
		o->config_dir[0] = '\0';
		return launch_usage_error("--config path '%s' must be a normalized path beneath %s",
					  path, ROOTFS_HOME);
	}
	snprintf(o->config_path, sizeof(o->config_path), "%s", path);
	return 0;
}

void launch_opts_free(struct launch_opts *o)
{
	log_set_filter(NULL, NULL);
	o->secrets = secrets_free(o->secrets);
	o->mounts = launch_mounts_free(o->mounts);
}

enum {
	OPT_MEMORY = 256,
	OPT_PIDS,
	OPT_NOFILE,
	OPT_TMP,
	OPT_DISK,
	OPT_DENY,
	OPT_SECRETS,
	OPT_CONFIG,
	OPT_STRICT,
	OPT_RESTART,
	OPT_HEALTH,
	OPT_NO_WATCH /* writewatch */
};

static const struct option long_opts[] = {
	{ "box", required_argument, NULL, 'b' },
	{ "project", required_argument, NULL, 'p' },
	{ "mode", required_argument, NULL, 'm' },
	NET_LONG_OPTIONS,
	AGENT_LONG_OPTIONS,
	MOUNT_LONG_OPTIONS,
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "pids", required_argument, NULL, OPT_PIDS },
	{ "nofile", required_argument, NULL, OPT_NOFILE },
	{ "tmp-size", required_argument, NULL, OPT_TMP },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "deny-read", required_argument, NULL, OPT_DENY },
	{ "env", required_argument, NULL, 'e' },
	{ "secrets", required_argument, NULL, OPT_SECRETS },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "restart", required_argument, NULL, OPT_RESTART },
	{ "health", required_argument, NULL, OPT_HEALTH },
	{ "no-watch", no_argument, NULL, OPT_NO_WATCH }, /* writewatch */
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* A limit option c (--memory, --pids, --nofile, --tmp-size, --disk) with
 * argument arg into o. Returns -1 to go on, or the exit status (reported). */
static int parse_limit_opt(struct launch_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_MEMORY:
		if (size_parse(arg, UINT64_MAX, &o->memory) < 0)
			return launch_usage_error("invalid size '%s' for --memory", arg);
		break;
	case OPT_PIDS:
		if (cli_parse_uint(arg, &o->pids) < 0)
			return launch_usage_error("invalid number '%s' for --pids", arg);
		break;
	case OPT_NOFILE:
		if (cli_parse_uint(arg, &o->nofile) < 0)
			return launch_usage_error("invalid number '%s' for --nofile", arg);
		break;
	case OPT_TMP:
		if (size_parse(arg, UINT64_MAX, &o->tmp_size) < 0)
			return launch_usage_error("invalid size '%s' for --tmp-size", arg);
		break;
	case OPT_DISK:
		if (cli_parse_disk(arg, &o->box.disk) < 0)
			return EXIT_SETUP;
		break;
	}
	return -1;
}

/* The option c (of getopt_long) into o. Returns -1 to go on, or the exit
 * status to end with (0 after --help, 125 after a usage error, reported). */
static int parse_opt(struct launch_opts *o, int c, char **argv)
{
	switch (c) {
	case 'b': o->box.box = optarg; break;
	case 'p': o->box.project = optarg; break;
	case 'm':
		if (box_mode_parse(optarg, &o->mode) < 0)
			return launch_usage_error("unknown mode '%s' (secure, yolo or yolo-unsafe)",
						  optarg);
		o->mode_given = true;
		break;
	case NET_OPT_NET:
	case NET_OPT_ALLOW_DOMAIN:
	case NET_OPT_DENY_DOMAIN:
	case NET_OPT_ALLOW_IP:
	case NET_OPT_PUBLISH: return net_opts_parse(&o->net, c, optarg) < 0 ? EXIT_SETUP : -1;
	case AGENT_OPT_AGENT:
	case AGENT_OPT_EXPLAIN:
	case AGENT_OPT_SETENV: return agent_opts_parse(&o->agent, c, optarg) ?: -1;
	case OPT_MEMORY:
	case OPT_PIDS:
	case OPT_NOFILE:
	case OPT_TMP:
	case OPT_DISK: return parse_limit_opt(o, c, optarg);
	case OPT_DENY:
		if (o->ndeny == ELEMENTSOF(o->deny))
			return launch_usage_error("too many --deny-read options");
		o->deny[o->ndeny++] = optarg;
		break;
	case 'e': return parse_env_opt(o, optarg) ? EXIT_SETUP : -1;
	case MOUNT_OPT_MOUNT:
	case MOUNT_OPT_VAULT:
	case MOUNT_OPT_NO_MOUNTS: return launch_mounts_opt(&o->mounts, c, optarg);
	case OPT_SECRETS: o->secrets_file = optarg; break;
	case OPT_CONFIG: return parse_config_opt(o, optarg) ? EXIT_SETUP : -1;
	case OPT_STRICT: o->strict = true; break;
	case OPT_NO_WATCH: o->no_watch = true; break; /* writewatch */
	case OPT_RESTART:
		if (!o->up)
			return launch_usage_error(
			    "unknown option '--restart' (it is for 'clawbox up')");
		if (STREQ(optarg, "no"))
			o->restart = SUPERVISOR_RESTART_NO;
		else if (STREQ(optarg, "on-failure"))
			o->restart = SUPERVISOR_RESTART_ON_FAILURE;
		else if (STREQ(optarg, "always"))
			o->restart = SUPERVISOR_RESTART_ALWAYS;
		else
			return launch_usage_error(
			    "unknown restart policy '%s' (no, on-failure or always)", optarg);
		break;
	case OPT_HEALTH:
		if (!o->up)
			return launch_usage_error(
			    "unknown option '--health' (it is for 'clawbox up')");
		o->health = optarg;
		break;
	case 'h': fputs(o->up ? up_usage : run_usage, stdout); return 0;
	default:
		if (optopt)
			return launch_usage_error("unknown option '-%c'", optopt);
		return launch_usage_error("unknown option '%s'", argv[optind - 1]);
	}
	return -1;
}

int launch_parse(int argc, char **argv, bool shell, struct launch_opts *o)
{
	int c, r;
	/* Every message from here on is redacted against the run's secrets. */
	if (!o->secrets) {
		if ((r = secrets_new(&o->secrets)) < 0)
			return launch_usage_error("cannot hold secrets: %s", strerror(-r));
		log_set_filter(secrets_redact_message, o->secrets);
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+b:p:m:e:h", long_opts, NULL)) != -1)
		if ((r = parse_opt(o, c, argv)) >= 0)
			return r;
	if (shell && optind < argc)
		return launch_usage_error(
		    "'clawbox shell' takes no command (got '%s'); use 'clawbox run'", argv[optind]);
	if (!shell && !o->up && !o->agent.explain && optind >= argc)
		return launch_usage_error("no command given");
	o->argv = argv + optind;
	return -1;
}

struct run_ctx {
	int lock;              /* the box's lock */
	unsigned pty_fds;      /* standard fds that are terminals (bits 0-2) */
	struct audit *audit;   /* NULL until the run is logged */
	struct secrets *known; /* every value the box was given, this run's too */
	pid_t pid;
	struct net_run *net;
	bool net_busy;                /* the proxy could not be stopped: what it uses stays */
	struct launch_broker *broker; /* brokered secrets, or NULL */
	struct launch_watch *watch;   /* writewatch: the box's writes audited */
	struct cmdlog *cmdlog;        /* cmdlog: an up box's command output */
	struct pollfd *watch_pf;      /* writewatch: the watch hook's fds, */
	size_t watch_nnet;            /* the proxy's first */
	char cwd[PATH_MAX];           /* the command's, inside the box */
	char upper[PATH_MAX], work[PATH_MAX], home[PATH_MAX];
	int ready_fd, msg_fd;        /* clawbox up: see struct launch_opts */
	struct audit *control_audit; /* clawbox up: the control thread's */
	struct launch_agent *agent;  /* the profile and settings (launch_agent.h) */
};

static void on_started(pid_t pid, void *p)
{
	struct run_ctx *c = p;
	c->pid = pid;
	/* The next box_lock() waits for this init to be gone. */
	box_lock_note_init(c->lock, pid);
	net_started(c->net, pid);
}

static void on_net(int netns, int diag, int *fds, size_t n, void *p)
{
	struct run_ctx *c = p;
	net_ready(c->net, netns, diag);
	net_listeners(fds, n, c->net);
}

static size_t on_watch(struct pollfd *pf, void *p)
{
	struct run_ctx *c = p;
	size_t n = net_watch(c->net, pf);
	c->watch_pf = pf;  /* writewatch: which of the fds are the proxy's */
	c->watch_nnet = n; /* writewatch */
	return n + launch_watch_pollfd(c->watch, pf + n); /* writewatch */
}

static void on_watch_ready(void *p)
{
	struct run_ctx *c = p;
	bool net = false; /* writewatch: the proxy for its own fds only */
	for (size_t i = 0; i < c->watch_nnet; i++)
		net |= c->watch_pf[i].revents != 0;
	if (net)
		net_watch_ready(c->net);
	launch_watch_ready(c->watch); /* writewatch */
}

/* The command ended: stop the proxy and write the run's end to the audit
 * log while the kernel tears the box down. */
static void on_ended(const struct supervisor_result *res, void *p)
{
	struct run_ctx *c = p;
	c->net_busy |= net_finish(&c->net) < 0;
	c->watch = launch_watch_stop(c->watch); /* writewatch: fs.* before run.exit */
	json_t *f =
	    json_pack("{s:I, s:i, s:I, s:b}", "pid", (json_int_t)c->pid, "exit", res->exit_code,
		      "duration_ms", (json_int_t)res->duration_ms, "ran", res->ran);
	if (f && res->ran && WIFSIGNALED(res->wstatus))
		json_object_set_new(f, "signal", json_integer(WTERMSIG(res->wstatus)));
	if (f && res->failure.kind)
		json_object_set_new(f, "error", json_string(strerror(-res->failure.error.code)));
	audit_append(c->audit, "run.exit", f);
}

/* clawbox up: the box serves; the caller of up is told, and our messages
 * go to the box's log from now on. Called from the control thread. */
static void on_ready(void *p)
{
	struct run_ctx *c = p;
	if (c->msg_fd >= 0) {
		log_set_fd(-1);
		close(c->msg_fd);
		c->msg_fd = -1;
	}
	if (c->ready_fd >= 0) {
		(void)!write(c->ready_fd, "R", 1);
		close(c->ready_fd);
		c->ready_fd = -1;
	}
}

static void on_warn(const struct error *e, void *p)
{
	struct run_ctx *c = p;
	char msg[ERROR_FORMAT_MAX];
	log_warn("could not %s", error_format(e, msg, sizeof(msg)));
	if (c->audit)
		audit_append(c->audit, "run.warning",
			     json_pack("{s:s, s:s, s:s}", "what", e->message, "path", e->where,
				       "error", strerror(-e->code)));
}

/* The working directory inside: the caller's, when it is in the project
 * (the project is at its own path in the box), else the project root. */
static void inside_cwd(const struct box *b, char *out, size_t n)
{
	char cwd[PATH_MAX], real[PATH_MAX];
	if (getcwd(cwd, sizeof(cwd)) && realpath(cwd, real) && path_is_beneath(real, b->project))
		snprintf(out, n, "%s", real);
	else
		snprintf(out, n, "%s", b->project);
}

/* --deny-read of a file git tracks hides the file, not its history: say so
 * (docs/SYNC.md "Git"). */
static void warn_tracked_denies(const struct launch_opts *o, const struct box *b)
{
	const char *rel[ELEMENTSOF(o->deny)];
	bool tracked[ELEMENTSOF(o->deny)];
	size_t n = 0, pl = strlen(b->project);
	for (size_t i = 0; i < o->ndeny; i++) {
		const char *d = o->deny[i];
		if (d[0] == '/' && strncmp(d, b->project, pl) == 0 && d[pl] == '/')
			d += pl + 1;
		while (d[0] == '.' && d[1] == '/')
			d += 2;
		if (d[0] && d[0] != '/')
			rel[n++] = d;
	}
	if (n == 0 || gitsync_tracked(b->project, rel, n, tracked) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (tracked[i])
			log_warn(
			    "'%s' is tracked by git: --deny-read hides the file, but the box can "
			    "still read it from the repository's history ('git show HEAD:%s')",
			    rel[i], rel[i]);
}

static int collect_masks(const struct launch_opts *o, const struct box *b, const char *state,
			 struct strv *masks)
{
	char path[PATH_MAX];
	int r = masks_default(state, masks);
	for (size_t i = 0; i < o->ndeny && r == 0; i++) {
		r = masks_add_deny(masks, b->project, o->deny[i]);
		if (r < 0)
			log_error("invalid --deny-read path '%s'", o->deny[i]);
	}
	/* The files the secrets come from: the box gets their values by
	 * environment only, never the files (nor values -e overrode). */
	if (r == 0 && o->secrets_file && (r = masks_add_secrets_file(masks, o->secrets_file)) < 0)
		log_error("cannot resolve the secrets file '%s': %s", o->secrets_file,
			  strerror(-r));
	if (r == 0 && o->config_dir[0] &&
	    (r = path_join(path, sizeof(path), o->config_dir, SECRETS_CONFIG_ENV)) == 0 &&
	    (r = masks_add_secrets_file(masks, path)) < 0)
		log_error("cannot resolve '%s': %s", path, strerror(-r));
	if (r == 0 && (r = path_join(path, sizeof(path), b->dir, "deny-read")) == 0 &&
	    (r = masks_read_deny_file(path, b->project, masks)) < 0)
		log_error("cannot read '%s': %s", path, strerror(-r));
	for (size_t i = 0; i < masks->n && r == 0; i++)
		if (path_is_beneath(b->project, masks->v[i]) &&
		    path_is_beneath(masks->v[i], b->project)) {
			log_error("refusing to hide the whole project '%s'", b->project);
			r = -EINVAL;
		}
	if (r == 0)
		r = launch_mounts_check_denied(o->mounts, masks, state);
	if (r == 0) {
		const char *roots[1 + ROOTFS_MOUNTS_MAX] = { b->project };
		masks_normalize_roots(
		    masks, roots, 1 + launch_mounts_roots(o->mounts, roots + 1, ROOTFS_MOUNTS_MAX));
		if (o->ndeny)
			warn_tracked_denies(o, b);
	}
	return r;
}

/* Memory and pids limits: cgroup v1 as root; otherwise (or when the
 * controller is missing) say so and fall back to rlimits. */
static int setup_limits(const struct launch_opts *o, const struct box *b, struct supervisor_spec *s)
{
	struct error err;
	char msg[ERROR_FORMAT_MAX];
	s->cg.memory = o->memory;
	s->cg.pids = o->pids;
	/* What a clawbox killed with SIGKILL left (a run's, a session's). */
	if (geteuid() == 0 && (o->up || o->memory || o->pids))
		cgroup_sweep();
	if (!o->memory && !o->pids)
		return 0;
	int r = geteuid() == 0 ? cgroup_create(&s->cg, b->name, &err) : -EPERM;
	if (r == 0)
		return 0;
	if (geteuid() == 0) {
		log_error("cannot %s", error_format(&err, msg, sizeof(msg)));
		return r;
	}
	s->cg.memory = s->cg.pids = 0;
	if (o->memory) {
		log_warn("--memory needs root (cgroup v1 on this machine): applying it per process "
			 "(RLIMIT_AS) instead");
		s->limits.as_bytes = o->memory;
	}
	if (o->pids) {
		log_warn("--pids needs root (cgroup v1 on this machine): applying it as "
			 "RLIMIT_NPROC instead");
		s->limits.nproc = o->pids;
	}
	return 0;
}

static const char *pick_shell(void)
{
	static const char *const shells[] = { "/bin/bash", "/usr/bin/bash", "/bin/sh" };
	for (size_t i = 0; i < ELEMENTSOF(shells); i++)
		if (access(shells[i], X_OK) == 0)
			return shells[i];
	return "/bin/sh";
}

static json_t *argv_json(char *const *argv)
{
	json_t *a = json_array();
	for (; a && *argv; argv++)
		json_array_append_new(a, json_string(*argv));
	return a;
}

static int report_outcome(const struct supervisor_result *res)
{
	const struct report *f = &res->failure;
	char msg[ERROR_FORMAT_MAX];
	if (f->kind == REPORT_FAIL)
		log_error("cannot set up the box: %s", error_format(&f->error, msg, sizeof(msg)));
	else if (f->kind == REPORT_EXEC_FAIL && f->error.code == -ENOENT)
		log_error("command not found in the box: '%s'", f->error.where);
	else if (f->kind == REPORT_EXEC_FAIL)
		log_error("cannot execute the command in the box: %s",
			  error_format(&f->error, msg, sizeof(msg)));
	return res->exit_code;
}

/* yolo mode: the sync gate's auto-sync loop ('clawbox sync --yolo-loop'),
 * a child of this supervisor on the host side, for the life of the box; its
 * output goes to $BOX/sync.log. Returns its pid, or -1 (with a warning). */
static pid_t yolo_sync_start(const struct box *b)
{
	char log[PATH_MAX], ppid[16];
	if (b->mode != BOX_MODE_YOLO || path_join(log, sizeof(log), b->dir, "sync.log") < 0)
		return -1;
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	_cleanup_close_ int out =
	    open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	_cleanup_close_ int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fflush(NULL);
	pid_t pid = out >= 0 && in >= 0 ? fork() : -1;
	if (pid == 0) {
		/* The child only execs or _exits: no cleanup runs in it. */
		char *argv[] = { (char *)"clawbox",
				 (char *)"sync",
				 (char *)"--box",
				 (char *)b->name,
				 (char *)"--yolo-loop",
				 ppid,
				 NULL };
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
		    dup2(out, 2) < 0)
			_exit(EXIT_NOT_FOUND);
		execv("/proc/self/exe", argv);
		_exit(EXIT_NOT_FOUND);
	}
	if (pid < 0)
		log_warn("cannot start the yolo auto-sync of box '%s': %s", b->name,
			 strerror(errno));
	return pid;
}

/* Entries the sync gate applied while the box last ran leave the upper dir
 * now, before it is mounted (docs/SYNC.md: baseline). Best effort. */
static void sync_settle_before_start(const struct box *b)
{
	int r = b->mode == BOX_MODE_YOLO_UNSAFE ? 0 : gate_settle_idle(b);
	if (r < 0 && r != -EBUSY)
		log_warn("cannot settle the synced changes of box '%s': %s", b->name, strerror(-r));
}

/* Ask the auto-sync loop for its last round and wait for it. */
static void yolo_sync_stop(pid_t pid)
{
	int st;
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/* Every source below -e, lowest precedence last: --secrets FILE, the
 * --config DIR's .env, the box's store. Prints warnings; 0 or -errno after
 * one error message. */
static int load_secrets(const struct launch_opts *o, const struct box *b)
{
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	unsigned strict = o->strict ? SECRETS_STRICT : 0;
	char env[PATH_MAX];
	struct stat st;
	int r = 0;

	if (o->secrets_file)
		r = secrets_load_file(o->secrets, o->secrets_file, SECRET_SOURCE_FILE, strict,
				      &err);
	if (r >= 0 && o->config_dir[0]) {
		if ((r = path_join(env, sizeof(env), o->config_dir, SECRETS_CONFIG_ENV)) == 0 &&
		    lstat(env, &st) == 0 && S_ISLNK(st.st_mode)) {
			r = error_set(
			    &err, -ELOOP, NULL, 0,
			    "refusing '%s': a symlink (the box would see what it points to)", env);
		}
		if (r >= 0)
			r = secrets_load_file(o->secrets, env, SECRET_SOURCE_CONFIG,
					      strict | SECRETS_OPTIONAL, &err);
	}
	if (r >= 0)
		r = secrets_store_load(b->dir, o->secrets, strict, &err);
	for (size_t i = 0; i < secrets_warning_count(o->secrets); i++)
		log_warn("%s", secrets_warning(o->secrets, i));
	if (r < 0) {
		log_error("%s", cli_error_text(&err, r, why, sizeof(why)));
		return r;
	}
	for (size_t i = 0; i < secrets_count(o->secrets); i++) {
		const struct secret *sec = secrets_at(o->secrets, i);
		if (sec->len > 0 && sec->len < SECRETS_REDACT_MIN)
			log_warn("secret '%s' is shorter than %d bytes: the box gets it, but it is "
				 "not redacted from logs",
				 sec->name, SECRETS_REDACT_MIN);
		else if (sec->len > 0 && sec->len < SECRETS_SHORT)
			log_warn("secret '%s' is only %zu bytes: it is redacted, and blocked by "
				 "the sync gate, wherever those bytes appear",
				 sec->name, sec->len);
	}
	return 0;
}

/* Remember the run's values with the box's (src/secrets/secrets.h, the known set)
 * before the box can see them: the gate and every redactor know them from
 * now on. ctx->known gets the whole set. 0, or -errno after a message. */
static int record_known(const struct launch_opts *o, const struct box *b, struct run_ctx *ctx)
{
	struct error err = { 0 };
	char why[ERROR_FORMAT_MAX];
	int r = secrets_known_record(b->dir, o->secrets, &ctx->known, &err);
	if (r < 0) {
		log_error("%s", cli_error_text(&err, r, why, sizeof(why)));
		return r;
	}
	/* clawbox's own messages too, from here on. */
	log_set_filter(secrets_redact_message, ctx->known);
	return 0;
}

static json_t *secret_names_json(const struct secrets *s)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < secrets_count(s); i++)
		json_array_append_new(a, json_string(secrets_at(s, i)->name));
	return a;
}

/* The audit log's side of a run's start: open it, note a new box, write
 * run.start. 0, or -errno after an error message. */
static int audit_start(const struct launch_opts *o, const struct box *b, bool created,
		       const char *cwd, struct run_ctx *ctx)
{
	int r = audit_open_known(b->dir, b->name, ctx->known, &ctx->audit);
	if (r < 0) {
		log_error("cannot open the audit log of box '%s': %s", b->name, strerror(-r));
		return r;
	}
	if (created)
		audit_append(ctx->audit, "box.create",
			     json_pack("{s:s, s:s, s:I}", "project", b->project, "mode",
				       box_mode_name(b->mode), "disk", (json_int_t)b->disk));
	r = audit_append(
	    ctx->audit, "run.start",
	    json_pack("{s:o, s:s, s:s, s:s, s:b, s:o, s:o, s:o}", "argv",
		      o->shell ? argv_json((char *[]){ (char *)"shell", NULL })
			       : argv_json(o->argv),
		      "cwd", cwd, "mode", box_mode_name(b->mode), "net", net_mode_name(o->net.mode),
		      "tty", isatty(STDIN_FILENO) && isatty(STDOUT_FILENO), "secrets",
		      secret_names_json(o->secrets), "brokered", launch_broker_json(ctx->broker),
		      "agent", launch_agent_json(ctx->agent)));
	if (r < 0)
		log_error("cannot write the audit log of box '%s': %s", b->name, strerror(-r));
	return r;
}

/* What the box needs before its init starts: the view's layers, the
 * network, the limits (the masks follow: supervisor_set_masks). 0, or -errno
 * after an error message. */
static int box_spec(const struct launch_opts *o, const struct box *b, struct run_ctx *ctx,
		    struct supervisor_spec *s)
{
	path_join(ctx->upper, sizeof(ctx->upper), b->data, "upper");
	path_join(ctx->work, sizeof(ctx->work), b->data, "work");
	path_join(ctx->home, sizeof(ctx->home), b->data, "home");
	s->fs = (struct rootfs_spec){ .project = b->project,
				      .upper = ctx->upper,
				      .work = ctx->work,
				      .home = ctx->home,
				      .unsafe = b->mode == BOX_MODE_YOLO_UNSAFE,
				      .tmp_size = o->tmp_size,
				      .config = o->config_dir[0] ? o->config_dir : NULL,
				      .config_path = o->config_path,
				      .resolv_conf = net_resolv_conf(ctx->net),
				      .ca_bundle = launch_broker_bundle(ctx->broker) };
	s->cwd = ctx->cwd;
	/* A terminal is never handed in: the box gets one of its own. */
	s->pty_fds = ctx->pty_fds;
	s->pty = ctx->pty_fds != 0;
	s->net_proxy = o->net.mode != NET_NONE;
	net_box_spec(ctx->net, &s->net);
	s->limits = (struct confine_limits){ .nofile = o->nofile, .nproc = 0 };
	return setup_limits(o, b, s);
}

/* Start the box first, then do the supervisor's own work (masks, secrets,
 * audit, environment) while the init gets going and builds the view. */
static int run_locked(const struct launch_opts *o, const struct box *b, const char *state,
		      bool created, struct run_ctx *ctx)
{
	struct strv masks = { 0 }, netenv = { 0 };
	struct secrets_env *env = NULL, *base = NULL;
	_cleanup_secrets_ struct secrets *shown = NULL; /* brokered: placeholders */
	_cleanup_close_ int boxdir = -1;
	const char *shell = pick_shell();
	char *shell_argv[] = { (char *)shell, NULL };
	struct supervisor_spec s = { .argv = o->shell ? shell_argv : o->argv };
	struct supervisor *sb = NULL;
	struct supervisor_result res;
	struct error err;
	char msg[ERROR_FORMAT_MAX];
	int code = EXIT_SETUP, r;

	inside_cwd(b, ctx->cwd, sizeof(ctx->cwd));
	if (box_spec(o, b, ctx, &s) < 0 ||
	    launch_mounts_resolve(o->mounts, b, state, o->config_dir[0] ? o->config_path : NULL,
				  &s.fs.mounts, &s.fs.nmounts) < 0)
		goto out;
	/* Removing the box's cgroups needs its init gone; so does an up box's
	 * end ('clawbox down' returns when it is gone). */
	s.wait_teardown = s.cg.memory_dir[0] || s.cg.pids_dir[0] || o->up;
	if (o->up) {
		boxdir = open(b->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		s.service = true;
		s.restart = o->restart;
		s.control_dir = boxdir;
	}
	struct supervisor_hooks hooks = {
		.started = on_started,
		.warn = on_warn,
		.net = on_net,
		.watch = on_watch,
		.watch_ready = on_watch_ready,
		.ended = on_ended,
		.ready = on_ready,
		.ctx = ctx,
	};
	sync_settle_before_start(b);
	trace_point("prepared");
	if (supervisor_start(&s, &hooks, &sb, &err) < 0) {
		log_error("cannot start the box: %s", error_format(&err, msg, sizeof(msg)));
		goto out;
	}
	if (collect_masks(o, b, state, &masks) < 0)
		goto out;
	if ((r = supervisor_set_masks(sb, masks.v, masks.n)) < 0) {
		log_error("cannot pass the masks to the box: %s", strerror(-r));
		goto out;
	}
	if (load_secrets(o, b) < 0 || record_known(o, b, ctx) < 0 ||
	    launch_agent_env(ctx->agent, o->secrets, &netenv) < 0 ||
	    launch_broker_secrets(ctx->broker, b, o->secrets, &shown, &netenv) < 0 ||
	    audit_start(o, b, created, ctx->cwd, ctx) < 0)
		goto out;
	if ((r = net_environment(ctx->net, &netenv)) < 0 ||
	    (r = boxenv_build(b->name, ctx->cwd, shell, netenv.v, shown ? shown : o->secrets,
			      &env)) < 0 ||
	    (o->up && (r = boxenv_build(b->name, ctx->cwd, shell, netenv.v, NULL, &base)) < 0)) {
		log_error("cannot build the box's environment: %s", strerror(-r));
		goto out;
	}
	if (o->up) {
		s.base_env = secrets_env_vector(base);
		if ((r = audit_open_known(b->dir, b->name, ctx->known, &ctx->control_audit)) < 0) {
			log_error("cannot open the audit log of box '%s': %s", b->name,
				  strerror(-r));
			goto out;
		}
		s.control_audit = ctx->control_audit;
	}
	trace_point("env");
	if (o->up && o->log_fd >= 0) /* cmdlog: redacted with every value the box knows */
		ctx->cmdlog = launch_cmdlog_start(o->log_fd, b, ctx->known);
	if (!o->no_watch && b->mode != BOX_MODE_YOLO_UNSAFE) /* writewatch */
		ctx->watch = launch_watch_start(b, ctx->upper, ctx->known);
	pid_t yolo = yolo_sync_start(b);
	r = supervisor_finish(sb, secrets_env_vector(env), ctx->known, &res, &err);
	sb = NULL;
	yolo_sync_stop(yolo);
	if (r < 0) {
		log_error("cannot start the box: %s", error_format(&err, msg, sizeof(msg)));
		goto out;
	}
	code = report_outcome(&res);
out:
	supervisor_abort(sb);
	ctx->watch = launch_watch_stop(ctx->watch); /* writewatch */
	ctx->cmdlog = cmdlog_stop(ctx->cmdlog);     /* cmdlog: what the box wrote last */
	ctx->net_busy |= net_finish(&ctx->net) < 0;
	cgroup_destroy(&s.cg);
	strv_free(&masks);
	strv_free(&netenv);
	secrets_env_free(env);
	secrets_env_free(base);
	return code;
}

/* The caller's standard fds: a terminal is relayed (ret_pty_fds), what a
 * box must not hold is refused (docs/ARCHITECTURE.md: standard fds). 0, or
 * -EBADF after an error message. */
static int check_stdio(unsigned *ret_pty_fds)
{
	static const char *const names[] = { "standard input", "standard output",
					     "standard error" };
	unsigned tty = 0;
	for (int fd = 0; fd < 3; fd++) {
		const char *why = NULL;
		enum supervisor_stdio v = supervisor_stdio_check(fd, &why);
		if (v == SUPERVISOR_STDIO_TTY)
			tty |= 1u << fd;
		if (v == SUPERVISOR_STDIO_REFUSE) {
			log_error(
			    "%s is %s: refusing to give it to a box; redirect it from or to a "
			    "file, a pipe or /dev/null",
			    names[fd], why);
			return -EBADF;
		}
	}
	*ret_pty_fds = tty;
	return 0;
}

/* Options that shape a box, which a box that is up already has. */
static const char *shaping_option(const struct launch_opts *o)
{
	if (secrets_count(o->secrets) || o->secrets_file || o->config_dir[0])
		return "secrets (-e, --secrets, --config)";
	if (o->mode_given)
		return "--mode";
	if (o->agent.agent || o->agent.nsetenv)
		return "--agent, --setenv";
	if (launch_mounts_given(o->mounts))
		return "--mount, --vault, --no-mounts";
	if (o->memory || o->pids || o->ndeny)
		return "--memory, --pids, --deny-read";
	if (o->net.mode || o->net.nallow || o->net.ndeny || o->net.nip || o->net.npublish)
		return "the network options";
	return NULL;
}

/* run or shell on a box that is up: the command joins it (as clawbox
 * exec), in the caller's directory when it is in the project. */
static int join(const struct launch_opts *o, const struct box *b)
{
	const char *shaping = shaping_option(o);
	char cwd[PATH_MAX];
	if (shaping) {
		log_error("box '%s' is up: a command joins it as it is, so %s apply to "
			  "'clawbox up' only",
			  b->name, shaping);
		return EXIT_SETUP;
	}
	inside_cwd(b, cwd, sizeof(cwd));
	char *shell_argv[] = { (char *)pick_shell(), NULL };
	struct exec_client_opts x = { .argv = o->shell ? shell_argv : o->argv, .cwd = cwd };
	return exec_client_run(b, &x);
}

int launch_run(const struct launch_opts *o)
{
	struct box b;
	bool created = false;
	char state[PATH_MAX];
	pid_t holder = 0;
	struct run_ctx ctx = { 0 };
	_cleanup_(launch_agent_freep) struct launch_agent *agent = NULL;

	if (o->agent.explain)
		return launch_agent_explain(o);
	if (check_stdio(&ctx.pty_fds) < 0)
		return EXIT_SETUP;
	if (cli_box(&o->box, true, o->mode, o->mode_given, &b, &created) < 0)
		return EXIT_SETUP;
	if (box_state_dir(state, sizeof(state)) < 0)
		return EXIT_SETUP;
	_cleanup_close_ int lock = box_lock(&b, &holder);
	struct ctl_status up;
	if (lock == -EBUSY && !o->up && ctl_status(&b, &up, NULL) == 0)
		return join(o, &b);
	if (lock == -EBUSY) {
		log_error(
		    "box '%s' is in use by another clawbox (pid %d); one box runs once at a time, "
		    "so its overlay is never mounted twice: wait for it, or use another --box",
		    b.name, (int)holder);
		return EXIT_SETUP;
	}
	if (lock == -ETIMEDOUT) {
		log_error("box '%s' is still being torn down after its last run: try again",
			  b.name);
		return EXIT_SETUP;
	}
	if (lock < 0) {
		log_error("cannot lock box '%s': %s", b.name, strerror(-lock));
		return EXIT_SETUP;
	}
	trace_point("locked");
	if (cli_box_data(&b, o->box.disk, created, true) < 0)
		return EXIT_SETUP;
	if (launch_agent_prepare(o, &b, &agent) < 0 || launch_agent_seed(agent, &b) < 0)
		return EXIT_SETUP;
	if (net_prepare(launch_agent_net(agent), b.dir, b.name, &ctx.net) < 0)
		return EXIT_SETUP;
	if (launch_broker_prepare(&b, &ctx.broker) < 0) {
		net_finish(&ctx.net);
		return EXIT_SETUP;
	}
	net_broker(ctx.net, launch_broker_proxy(ctx.broker));
	ctx.lock = lock;
	ctx.agent = agent;
	ctx.ready_fd = o->ready_fd;
	ctx.msg_fd = o->msg_fd;
	int code = run_locked(o, &b, state, created, &ctx);
	if (!ctx.net_busy)
		ctx.broker = launch_broker_free(ctx.broker);
	audit_close(ctx.audit);
	audit_close(ctx.control_audit);
	if (ctx.known) {
		log_set_filter(secrets_redact_message, o->secrets);
		ctx.known = secrets_free(ctx.known);
	}
	cli_disk_report(&b);
	return code;
}
