/* box/supervisor.c: what a box may be given as its standard fds, and whole
 * runs (supervisor and init) in namespaces of the test's own. */
#include "unit.h"
#include "unit_box.h"

#include "box/supervisor.h"
#include "util/fs.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

static enum supervisor_stdio verdict(int fd, const char **why)
{
	*why = NULL;
	enum supervisor_stdio v = supervisor_stdio_check(fd, why);
	CHECK((v == SUPERVISOR_STDIO_REFUSE) == (*why != NULL));
	return v;
}

TEST(supervisor_stdio_verdicts)
{
	const char *why;
	int p[2], sp[2];

	CHECK_INT(pipe2(p, O_CLOEXEC), 0);
	CHECK_INT(verdict(p[0], &why), SUPERVISOR_STDIO_PASS);
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	CHECK_INT(verdict(sp[0], &why), SUPERVISOR_STDIO_PASS);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK_INT(verdict(null, &why), SUPERVISOR_STDIO_PASS);
	int file = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	CHECK_INT(verdict(file, &why), SUPERVISOR_STDIO_PASS);

	int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(verdict(dir, &why), SUPERVISOR_STDIO_REFUSE);
	CHECK(strstr(why, "directory"));
	int path = open("/etc/passwd", O_PATH | O_CLOEXEC);
	CHECK_INT(verdict(path, &why), SUPERVISOR_STDIO_REFUSE);
	CHECK(strstr(why, "O_PATH"));
	int proc = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	CHECK_INT(verdict(proc, &why), SUPERVISOR_STDIO_REFUSE);
	CHECK(strstr(why, "kernel's own"));
	int ev = eventfd(0, EFD_CLOEXEC);
	CHECK_INT(verdict(ev, &why), SUPERVISOR_STDIO_REFUSE);
	CHECK(strstr(why, "kernel object"));
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK_INT(verdict(udp, &why), SUPERVISOR_STDIO_REFUSE);
	CHECK(strstr(why, "internet socket"));
	int kmsg = open("/dev/kmsg", O_RDONLY | O_CLOEXEC);
	if (kmsg >= 0) {
		CHECK_INT(verdict(kmsg, &why), SUPERVISOR_STDIO_REFUSE);
		CHECK(strstr(why, "character device"));
	}
	close(ev);
	CHECK_INT(verdict(ev, &why), SUPERVISOR_STDIO_REFUSE);
	CHECK_STREQ(why, "closed");

	int pt = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (pt >= 0 && grantpt(pt) == 0 && unlockpt(pt) == 0) {
		int slave = open(ptsname(pt), O_RDWR | O_NOCTTY | O_CLOEXEC);
		CHECK(slave >= 0);
		CHECK_INT(verdict(slave, &why), SUPERVISOR_STDIO_TTY);
	}
}

/* Whether this machine can run a box at all: user namespaces (as our
 * uid), overlayfs. */
static void need_boxes(void)
{
	_cleanup_free_ char *fs = NULL;
	pid_t pid = fork();
	int st;
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) < 0);
	CHECK_INT(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		SKIP("no user namespaces here");
	if (fs_read_file("/proc/filesystems", 1 << 20, &fs, NULL) < 0 || !strstr(fs, "\toverlay\n"))
		SKIP("no overlayfs in this kernel");
}

static int started_pid;

static void on_started(pid_t pid, void *ctx)
{
	started_pid = pid;
}

/* Run argv in a box of d; the result in *res. */
static void run_box(const struct box_dirs *d, char *const *argv, struct supervisor_result *res)
{
	static char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
	/* The box's home lives where the host's homes are hidden. */
	static char *const masks[] = { "/home", NULL };
	struct supervisor_spec s = {
		.fs = { .project = d->project,
			.upper = d->upper,
			.work = d->work,
			.home = d->home,
			.tmp_size = 16 << 20 },
		.argv = argv,
		.cwd = d->project,
		.limits = { .nofile = 1024 },
	};
	struct supervisor_hooks h = { .started = on_started };
	struct supervisor *sb = NULL;
	struct error err = { 0 };

	started_pid = 0;
	if (supervisor_start(&s, &h, &sb, &err) < 0)
		fprintf(stderr, "supervisor_start: %s\n", err.message);
	CHECK(sb != NULL);
	CHECK(started_pid > 0);
	CHECK_INT(supervisor_set_masks(sb, masks, 1), 0);
	if (supervisor_finish(sb, envp, NULL, res, &err) < 0)
		fprintf(stderr, "supervisor_finish: %s\n", err.message);
	CHECK(!error_isset(&err));
	if (res->failure.kind) {
		char msg[ERROR_FORMAT_MAX];
		fprintf(stderr, "# the box reported: %s\n",
			error_format(&res->failure.error, msg, sizeof(msg)));
	}
}

TEST(supervisor_runs_a_command)
{
	struct box_dirs d;
	struct supervisor_result res;
	char path[PATH_MAX + 16];

	need_boxes();
	make_box(&d);
	run_box(&d, (char *[]){ "/bin/sh", "-c", "echo x >out; test $$ != 1 && exit 7", NULL },
		&res);
	CHECK(res.ran);
	CHECK_INT(res.failure.kind, 0);
	CHECK_INT(res.exit_code, 7);
	CHECK(WIFEXITED(res.wstatus) && WEXITSTATUS(res.wstatus) == 7);
	/* The write went to the overlay's upper dir only. */
	snprintf(path, sizeof(path), "%s/out", d.upper);
	CHECK_INT(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/out", d.project);
	CHECK(access(path, F_OK) < 0);

	run_box(&d, (char *[]){ "/bin/sh", "-c", "kill -TERM $$", NULL }, &res);
	CHECK(res.ran);
	CHECK_INT(res.exit_code, 128 + SIGTERM);
}

/* The init's failures come up as a struct error: the command's name when
 * it cannot be executed, the step when the setup fails. */
TEST(supervisor_reports_the_init_failures)
{
	struct box_dirs d;
	struct supervisor_result res;
	char want[PATH_MAX + 128];

	need_boxes();
	make_box(&d);
	run_box(&d, (char *[]){ "no-such-command-xyz", NULL }, &res);
	CHECK(!res.ran);
	CHECK_INT(res.exit_code, EXIT_NOT_FOUND);
	CHECK_INT(res.failure.kind, REPORT_EXEC_FAIL);
	CHECK_INT(res.failure.error.code, -ENOENT);
	CHECK_STREQ(res.failure.error.where, "no-such-command-xyz");

	run_box(&d, (char *[]){ "/etc/passwd", NULL }, &res);
	CHECK_INT(res.exit_code, EXIT_CANNOT_EXEC);
	CHECK_INT(res.failure.kind, REPORT_EXEC_FAIL);
	CHECK_STREQ(res.failure.error.where, "/etc/passwd");

	CHECK_INT(rmdir(d.home), 0);
	run_box(&d, (char *[]){ "/bin/true", NULL }, &res);
	CHECK(!res.ran);
	CHECK_INT(res.exit_code, EXIT_SETUP);
	CHECK_INT(res.failure.kind, REPORT_FAIL);
	CHECK_INT(res.failure.error.code, -ENOENT);
	snprintf(want, sizeof(want), "clone the box's home '%s': No such file or directory",
		 d.home);
	CHECK_STREQ(res.failure.error.message, want);
}
