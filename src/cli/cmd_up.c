/* clawbox up: start a box as a service. */
#include "util/common.h"

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/launch.h"
#include "ctl/ctl.h"
#include "util/fs.h"
#include "util/log.h"

#include <sys/wait.h>

/* The box's log (its command's output, and clawbox's messages once it
 * serves): $BOX/logs/cmd.log. */
static int open_log(const struct box *b)
{
	char dir[PATH_MAX], path[PATH_MAX];
	if (path_join(dir, sizeof(dir), b->dir, "logs") < 0 ||
	    path_join(path, sizeof(path), dir, "cmd.log") < 0)
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	return fd;
}

/* The service: a session of its own, stdin /dev/null, stdout and stderr
 * the log (the box's command gets them), clawbox's messages to the
 * caller's pipe until the box serves (then to the log). Never returns. */
_noreturn_ static void serve(struct launch_opts *o, int log, int err_w, int ready_w)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* cmdlog: stdout and stderr a pipe, read by the log's writer (launch_run
	 * starts it: redacted, rotated); the log file itself without a pipe */
	int out[2] = { -1, -1 };
	int dst = pipe2(out, O_CLOEXEC) == 0 ? out[1] : log;
	if (setsid() < 0 || null < 0 || dup2(null, 0) < 0 || dup2(dst, 1) < 0 || dup2(dst, 2) < 0)
		_exit(EXIT_SETUP);
	close(null);
	close(log);
	if (out[1] >= 0) /* cmdlog */
		close(out[1]);
	o->log_fd = out[0]; /* cmdlog */
	log_set_fd(err_w);
	o->ready_fd = ready_w;
	o->msg_fd = err_w;
	int code = launch_run(o);
	launch_opts_free(o);
	_exit(code);
}

/* The caller's side: what the service says before it serves, then 0 when
 * it serves, or its exit status. */
static int await(pid_t pid, int err_r, int ready_r, const struct box *b)
{
	char buf[4096], r = 0;
	ssize_t k;
	while ((k = read(err_r, buf, sizeof(buf))) != 0)
		if (k > 0 && write(2, buf, (size_t)k) < 0)
			break;
	if (read(ready_r, &r, 1) == 1 && r == 'R') {
		printf("box '%s' is up (clawbox pid %d): 'clawbox exec --box %s -- CMD' runs a "
		       "command in it, 'clawbox down --box %s' stops it\n",
		       b->name, (int)pid, b->name, b->name);
		return 0;
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : EXIT_SETUP;
}

/* Fork the service for the box b and wait until it serves or fails. */
static int start(struct launch_opts *o, const struct box *b)
{
	int errp[2], readyp[2];
	_cleanup_close_ int log = open_log(b);
	if (log < 0) {
		log_error("cannot open the log of box '%s': %s", b->name, strerror(-log));
		return EXIT_SETUP;
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		log_error("cannot create a pipe: %s", strerror(errno));
		return EXIT_SETUP;
	}
	if (pipe2(readyp, O_CLOEXEC) < 0) {
		log_error("cannot create a pipe: %s", strerror(errno));
		close(errp[0]);
		close(errp[1]);
		return EXIT_SETUP;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(errp[0]);
		close(readyp[0]);
		serve(o, log, errp[1], readyp[1]);
	}
	close(errp[1]);
	close(readyp[1]);
	int r = pid < 0 ? EXIT_SETUP : await(pid, errp[0], readyp[0], b);
	close(errp[0]);
	close(readyp[0]);
	return r;
}

int cmd_up(int argc, char **argv)
{
	struct launch_opts o = LAUNCH_OPTS_INIT;
	struct box b;
	struct ctl_status st;
	bool created;

	o.up = true;
	int r = launch_parse(argc, argv, false, &o);
	if (r < 0 && o.agent.explain) /* prints, starts nothing */
		r = launch_agent_explain(&o);
	if (r < 0 && cli_box(&o.box, true, o.mode, o.mode_given, &b, &created) < 0)
		r = EXIT_SETUP;
	if (r < 0 && ctl_status(&b, &st, NULL) == 0) {
		log_error("box '%s' is up already (clawbox pid %d): 'clawbox down --box %s' "
			  "first",
			  b.name, (int)st.supervisor, b.name);
		r = EXIT_SETUP;
	}
	if (r < 0)
		r = start(&o, &b);
	launch_opts_free(&o);
	return r;
}
