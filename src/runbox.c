/* Running a command in a box, shared by clawbox run and clawbox shell:
 * options, the box, its policy, the audit trail, and the exit status. */
#include "util/common.h"

#include "audit.h"
#include "cgroup.h"
#include "gate.h"
#include "cli.h"
#include "policy.h"
#include "runbox.h"
#include "sandbox.h"
#include "util/fs.h"
#include "util/log.h"

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
    "files and clawbox's state are hidden; there is no network but loopback.\n\n"
    "options:\n" BOX_OPTS_HELP
    "  -m, --mode MODE      secure (default: writes held in the overlay), yolo\n"
    "                       (overlay, and the sync gate applies what passes every\n"
    "                       30 s while the box runs) or yolo-unsafe (the project\n"
    "                       bound read-write); a box keeps its mode until\n"
    "                       'clawbox delete'\n"
    "      --net none       loopback only (the only network mode so far)\n"
    "      --memory SIZE    memory limit, e.g. 2G (cgroup v1 as root; otherwise a\n"
    "                       per-process address-space limit, with a warning)\n"
    "      --pids N         limit on processes and threads (cgroup v1 as root;\n"
    "                       otherwise RLIMIT_NPROC, with a warning)\n"
    "      --nofile N       open files per process (default 65536)\n"
    "      --tmp-size SIZE  size of the private /tmp and /dev/shm (default 512M)\n"
    "      --deny-read PATH hide PATH too (repeatable; relative = in the project;\n"
    "                       also read from $STATE/boxes/NAME/deny-read)\n"
    "  -h, --help           show this help\n\n"
    "exit status: CMD's own; 128+N when killed by signal N; 125 when clawbox\n"
    "could not set the box up; 126 when CMD cannot be executed; 127 when CMD is\n"
    "not found.\n";

_printf_(1, 2) static int usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s (see 'clawbox run --help')", msg);
	return EXIT_SETUP;
}

int runbox_parse(int argc, char **argv, bool shell, struct runbox_opts *o)
{
	enum { OPT_NET = 256, OPT_MEMORY, OPT_PIDS, OPT_NOFILE, OPT_TMP, OPT_DENY };
	static const struct option opts[] = {
		{ "box", required_argument, NULL, 'b' },
		{ "project", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "net", required_argument, NULL, OPT_NET },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "pids", required_argument, NULL, OPT_PIDS },
		{ "nofile", required_argument, NULL, OPT_NOFILE },
		{ "tmp-size", required_argument, NULL, OPT_TMP },
		{ "deny-read", required_argument, NULL, OPT_DENY },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+b:p:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': o->box.box = optarg; break;
		case 'p': o->box.project = optarg; break;
		case 'm':
			if (box_mode_parse(optarg, &o->mode) < 0)
				return usage_error(
				    "unknown mode '%s' (secure, yolo or yolo-unsafe)", optarg);
			o->mode_given = true;
			break;
		case OPT_NET:
			if (!STREQ(optarg, "none"))
				return usage_error("unknown network mode '%s' (only 'none' so far)",
						   optarg);
			break;
		case OPT_MEMORY:
			if (cli_parse_size(optarg, &o->memory) < 0)
				return usage_error("invalid size '%s' for --memory", optarg);
			break;
		case OPT_PIDS:
			if (cli_parse_uint(optarg, &o->pids) < 0)
				return usage_error("invalid number '%s' for --pids", optarg);
			break;
		case OPT_NOFILE:
			if (cli_parse_uint(optarg, &o->nofile) < 0)
				return usage_error("invalid number '%s' for --nofile", optarg);
			break;
		case OPT_TMP:
			if (cli_parse_size(optarg, &o->tmp_size) < 0)
				return usage_error("invalid size '%s' for --tmp-size", optarg);
			break;
		case OPT_DENY:
			if (o->ndeny == ELEMENTSOF(o->deny))
				return usage_error("too many --deny-read options");
			o->deny[o->ndeny++] = optarg;
			break;
		case 'h': fputs(run_usage, stdout); return 0;
		default:
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (shell && optind < argc)
		return usage_error("'clawbox shell' takes no command (got '%s'); use 'clawbox run'",
				   argv[optind]);
	if (!shell && optind >= argc)
		return usage_error("no command given");
	o->argv = argv + optind;
	return -1;
}

struct run_ctx {
	struct audit *audit;
	pid_t pid;
};

static void on_started(pid_t pid, void *p)
{
	struct run_ctx *c = p;
	c->pid = pid;
}

static void on_warn(const struct report *r, void *p)
{
	struct run_ctx *c = p;
	log_warn("could not %s%s%s: %s%s%s", r->what, r->path[0] ? " " : "", r->path,
		 strerror(r->err), r->detail[0] ? "; " : "", r->detail);
	if (c->audit)
		audit_append(c->audit, "run.warning",
			     json_pack("{s:s, s:s, s:s}", "what", r->what, "path", r->path, "error",
				       strerror(r->err)));
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

static int collect_masks(const struct runbox_opts *o, const struct box *b, const char *state,
			 struct strv *masks)
{
	char path[PATH_MAX];
	int r = policy_default_masks(state, masks);
	for (size_t i = 0; i < o->ndeny && r == 0; i++) {
		r = policy_add_deny(masks, b->project, o->deny[i]);
		if (r < 0)
			log_error("invalid --deny-read path '%s'", o->deny[i]);
	}
	if (r == 0 && (r = path_join(path, sizeof(path), b->dir, "deny-read")) == 0 &&
	    (r = policy_read_deny_file(path, b->project, masks)) < 0)
		log_error("cannot read '%s': %s", path, strerror(-r));
	for (size_t i = 0; i < masks->n && r == 0; i++)
		if (path_is_beneath(b->project, masks->v[i]) &&
		    path_is_beneath(masks->v[i], b->project)) {
			log_error("refusing to hide the whole project '%s'", b->project);
			r = -EINVAL;
		}
	if (r == 0)
		policy_normalize_masks(masks, b->project);
	return r;
}

/* Memory and pids limits: cgroup v1 as root; otherwise (or when the
 * controller is missing) say so and fall back to rlimits. */
static int setup_limits(const struct runbox_opts *o, const struct box *b, struct sandbox_spec *s)
{
	const char *what = NULL;
	s->cg.memory = o->memory;
	s->cg.pids = o->pids;
	if (!o->memory && !o->pids)
		return 0;
	int r = geteuid() == 0 ? cgroup_create(&s->cg, b->name, &what) : -EPERM;
	if (r == 0)
		return 0;
	if (geteuid() == 0) {
		log_error("cannot create the %s cgroup for the box: %s", what, strerror(-r));
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

static int report_outcome(const struct sandbox_result *res, const char *cmd)
{
	const struct report *f = &res->failure;
	if (f->kind == REPORT_FAIL)
		log_error("cannot set up the box: %s%s%s%s: %s%s%s", f->what,
			  f->path[0] ? " '" : "", f->path, f->path[0] ? "'" : "", strerror(f->err),
			  f->detail[0] ? " — " : "", f->detail);
	else if (f->kind == REPORT_EXEC_FAIL && f->err == ENOENT)
		log_error("command not found in the box: '%s'", cmd);
	else if (f->kind == REPORT_EXEC_FAIL)
		log_error("cannot execute '%s' in the box: %s", cmd, strerror(f->err));
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
	int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fflush(NULL);
	pid_t pid = out >= 0 && in >= 0 ? fork() : -1;
	if (pid == 0) {
		char *argv[] = { (char *)"clawbox",
				 (char *)"sync",
				 (char *)"--box",
				 (char *)b->name,
				 (char *)"--yolo-loop",
				 ppid,
				 NULL };
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
		    dup2(out, 2) < 0)
			_exit(127);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
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

static int run_locked(const struct runbox_opts *o, const struct box *b, const char *state,
		      struct run_ctx *ctx)
{
	struct strv masks = { 0 }, env = { 0 };
	char cwd[PATH_MAX], upper[PATH_MAX], work[PATH_MAX], home[PATH_MAX];
	const char *shell = pick_shell();
	char *shell_argv[] = { (char *)shell, NULL };
	char *const *argv = o->shell ? shell_argv : o->argv;
	struct sandbox_spec s = { 0 };
	struct sandbox_result res;
	const char *what = NULL;
	int code = EXIT_SETUP, r;

	inside_cwd(b, cwd, sizeof(cwd));
	if (collect_masks(o, b, state, &masks) < 0)
		goto out;
	if ((r = policy_environment(b->name, cwd, shell, &env)) < 0) {
		log_error("cannot build the box's environment: %s", strerror(-r));
		goto out;
	}
	path_join(upper, sizeof(upper), b->dir, "upper");
	path_join(work, sizeof(work), b->dir, "work");
	path_join(home, sizeof(home), b->dir, "home");
	s.fs = (struct rootfs_spec){ .project = b->project,
				     .upper = upper,
				     .work = work,
				     .home = home,
				     .unsafe = b->mode == BOX_MODE_YOLO_UNSAFE,
				     .masks = masks.v,
				     .nmasks = masks.n,
				     .tmp_size = o->tmp_size };
	s.argv = argv;
	s.envp = env.v;
	s.cwd = cwd;
	s.pty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	s.limits = (struct confine_limits){ .nofile = o->nofile, .nproc = 0 };
	if (setup_limits(o, b, &s) < 0)
		goto out;

	struct sandbox_hooks hooks = { .started = on_started, .warn = on_warn, .ctx = ctx };
	sync_settle_before_start(b);
	pid_t yolo = yolo_sync_start(b);
	r = sandbox_run(&s, &hooks, &res, &what);
	yolo_sync_stop(yolo);
	cgroup_destroy(&s.cg);
	if (r < 0) {
		log_error("cannot start the box: %s: %s", what ? what : "?", strerror(-r));
		goto out;
	}
	code = report_outcome(&res, argv[0]);
	json_t *f = json_pack("{s:I, s:i, s:I, s:b}", "pid", (json_int_t)ctx->pid, "exit", code,
			      "duration_ms", (json_int_t)res.duration_ms, "ran", res.ran);
	if (f && res.ran && WIFSIGNALED(res.wstatus))
		json_object_set_new(f, "signal", json_integer(WTERMSIG(res.wstatus)));
	if (f && res.failure.kind)
		json_object_set_new(f, "error", json_string(strerror(res.failure.err)));
	audit_append(ctx->audit, "run.exit", f);
out:
	strv_free(&masks);
	strv_free(&env);
	return code;
}

int runbox(const struct runbox_opts *o)
{
	struct box b;
	bool created = false;
	char state[PATH_MAX];
	pid_t holder = 0;
	struct run_ctx ctx = { 0 };
	int r;

	if (cli_box(&o->box, true, o->mode, o->mode_given, &b, &created) < 0)
		return EXIT_SETUP;
	if (box_state_dir(state, sizeof(state)) < 0)
		return EXIT_SETUP;
	_cleanup_close_ int lock = box_lock(&b, &holder);
	if (lock == -EBUSY) {
		log_error(
		    "box '%s' is in use by another clawbox (pid %d); one box runs once at a time, "
		    "so its overlay is never mounted twice: wait for it, or use another --box",
		    b.name, (int)holder);
		return EXIT_SETUP;
	}
	if (lock < 0) {
		log_error("cannot lock box '%s': %s", b.name, strerror(-lock));
		return EXIT_SETUP;
	}
	if ((r = audit_open(b.dir, b.name, &ctx.audit)) < 0) {
		log_error("cannot open the audit log of box '%s': %s", b.name, strerror(-r));
		return EXIT_SETUP;
	}
	if (created)
		audit_append(
		    ctx.audit, "box.create",
		    json_pack("{s:s, s:s}", "project", b.project, "mode", box_mode_name(b.mode)));
	char cwd[PATH_MAX];
	inside_cwd(&b, cwd, sizeof(cwd));
	r = audit_append(ctx.audit, "run.start",
			 json_pack("{s:o, s:s, s:s, s:s, s:b}", "argv",
				   o->shell ? argv_json((char *[]){ (char *)"shell", NULL })
					    : argv_json(o->argv),
				   "cwd", cwd, "mode", box_mode_name(b.mode), "net", "none", "tty",
				   isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)));
	if (r < 0) {
		log_error("cannot write the audit log of box '%s': %s", b.name, strerror(-r));
		audit_close(ctx.audit);
		return EXIT_SETUP;
	}
	int code = run_locked(o, &b, state, &ctx);
	audit_close(ctx.audit);
	return code;
}
