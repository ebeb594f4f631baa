/* The quarantine repository ($BOX/sync/git) and every git clawbox runs:
 * git's environment built from scratch (no GIT_* variable, no system or
 * global config, an empty HOME of ours, hooks off), the quarantine made
 * with the project's objects as alternates, and the box's objects imported
 * into it (loose ones copied, packs through 'git index-pack --strict'). */
#include "util/common.h"

#include "sync/gitsync_int.h"
#include "util/buf.h"
#include "util/fs.h"

#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define QIMPORTED       "clawbox-imported"
#define LOOSE_OBJ_MAX   (64u << 20)
#define LOOSE_TOTAL_MAX (1ull << 30)
#define LOOSE_COUNT_MAX 500000u
#define PACK_MAX        (2ull << 30)

int gitsync_find_git(struct gs *s)
{
	static const char *const paths[] = { "/usr/bin/git", "/usr/local/bin/git", "/bin/git" };
	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		if (access(paths[i], X_OK) == 0) {
			snprintf(s->gitbin, sizeof(s->gitbin), "%s", paths[i]);
			return 0;
		}
	return -ENOENT;
}

static int memfd_with(const char *data, size_t len)
{
	int fd = memfd_create("clawbox-git", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fs_write_all(fd, data, len);
	if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* The argv and environment of one git run. */
struct git_cmd {
	char home[PATH_MAX + 8], sd[3][PATH_MAX + 32];
	const char *argv[64];
	const char *envp[10];
};

/* c for args: our fixed options first (no hooks, no fsmonitor, the
 * quarantine and the project as safe directories), then args (cut at 63
 * words); the environment from scratch (no GIT_* of ours, no system or
 * global config, HOME ours). */
static void git_cmd(const struct gs *s, const char *const *args, struct git_cmd *c)
{
	size_t n = 0;
	snprintf(c->home, sizeof(c->home), "HOME=%s", s->home);
	snprintf(c->sd[0], sizeof(c->sd[0]), "safe.directory=%s", s->qpath);
	snprintf(c->sd[1], sizeof(c->sd[1]), "safe.directory=%s", s->b->project);
	snprintf(c->sd[2], sizeof(c->sd[2]), "safe.directory=%s/.git", s->b->project);
	const char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
				     c->home,
				     "GIT_CONFIG_NOSYSTEM=1",
				     "GIT_CONFIG_GLOBAL=/dev/null",
				     "GIT_TERMINAL_PROMPT=0",
				     "GIT_NO_REPLACE_OBJECTS=1",
				     "GIT_ATTR_NOSYSTEM=1",
				     "GIT_NO_LAZY_FETCH=1",
				     "LC_ALL=C",
				     NULL };
	_Static_assert(sizeof(envp) == sizeof(c->envp), "git_cmd: envp");
	memcpy(c->envp, envp, sizeof(envp));
	const char *const fixed[] = { "git",
				      "-c",
				      "core.hooksPath=/dev/null",
				      "-c",
				      "core.fsmonitor=false",
				      "-c",
				      c->sd[0],
				      "-c",
				      c->sd[1],
				      "-c",
				      c->sd[2] };
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		c->argv[n++] = fixed[i];
	for (; *args && n < ELEMENTSOF(c->argv) - 1; args++)
		c->argv[n++] = *args;
	c->argv[n] = NULL;
}

/* git's stdin as rn says: a duplicate of rn->in_fd, a memfd holding
 * rn->in, or /dev/null. fd or -errno. */
static int git_stdin(const struct run *rn)
{
	int fd;
	if (rn->in_fd >= 0)
		fd = fcntl(rn->in_fd, F_DUPFD_CLOEXEC, 3);
	else if (rn->in)
		return memfd_with(rn->in, rn->inlen);
	else
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* git's stdout (fd) into rn's sink or buffer until it ends; after the
 * first error (then returned) git is killed and the rest drained. */
static int git_output(int fd, pid_t pid, struct run *rn)
{
	char buf[65536];
	int r = 0;
	for (;;) {
		ssize_t k = read(fd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (r < 0)
			continue; /* drain */
		if (rn->sink)
			r = rn->sink(rn->ctx, buf, (size_t)k);
		else if (rn->out)
			r = buf_append(rn->out, buf, (size_t)k);
		if (r < 0)
			kill(pid, SIGKILL);
	}
	return r;
}

/* git's exit status (128 + signal; 0 when it never started: pid < 0) and
 * the first line of its stderr (errfd) into rn. */
static void git_wait(pid_t pid, int errfd, struct run *rn)
{
	int st = 0;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	rn->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	ssize_t k = pread(errfd, rn->err, sizeof(rn->err) - 1, 0);
	rn->err[k > 0 ? k : 0] = '\0';
	rn->err[strcspn(rn->err, "\n")] = '\0';
}

int gitsync_git_run(struct gs *s, const char *const *args, struct run *rn)
{
	struct git_cmd c = { 0 };
	int pfd[2] = { -1, -1 };
	git_cmd(s, args, &c);
	_cleanup_close_ int in = git_stdin(rn);
	if (in < 0)
		return in;
	_cleanup_close_ int errfd = memfd_create("clawbox-git-err", MFD_CLOEXEC);
	if (errfd < 0 || pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (dup2(in, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(errfd, 2) < 0)
			_exit(EXIT_NOT_FOUND);
		execve(s->gitbin, (char *const *)c.argv, (char *const *)c.envp);
		_exit(EXIT_NOT_FOUND);
	}
	int e = pid < 0 ? -errno : 0;
	close(TAKE_FD(in));
	close(pfd[1]);
	int r = pid < 0 ? 0 : git_output(pfd[0], pid, rn);
	close(pfd[0]);
	git_wait(pid, errfd, rn);
	return e < 0 ? e : r;
}

int gitsync_q_setup(struct gs *s, const char *format)
{
	char alt[PATH_MAX + 16];
	struct run rn = { .in_fd = -1 };
	int r;
	if (strpbrk(s->b->project, "\n\"") || s->b->project[0] != '/')
		return -EINVAL;
	if (faccessat(s->sync_fd, QDIR "/HEAD", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		r = fs_remove_tree_at(s->sync_fd, QDIR);
		if (r < 0 && r != -ENOENT)
			return r;
		char fmt[32];
		snprintf(fmt, sizeof(fmt), "--object-format=%s", format);
		r = GIT(s, &rn, "init", "--bare", "-q", fmt, s->qpath);
		if (r < 0)
			return r;
		if (rn.status != 0)
			return -EIO;
	}
	s->q_fd = gate_openat(s->sync_fd, QDIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (s->q_fd < 0)
		return s->q_fd;
	int n = snprintf(alt, sizeof(alt), "%s/.git/objects\n", s->b->project);
	if (n < 0 || (size_t)n >= sizeof(alt))
		return -ENAMETOOLONG;
	int info = gate_openat(s->q_fd, "objects/info", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (info < 0)
		return info;
	r = fs_write_atomic_at(info, "alternates", alt, (size_t)n, 0600);
	close(info);
	return r;
}

static bool hex_name(const char *n, size_t len)
{
	if (strlen(n) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
			return false;
	return true;
}

static int copy_loose(struct gs *s, int src_dir, int dst_dir, const char *name, uint64_t *total)
{
	_cleanup_close_ int fd =
	    gate_openat(src_dir, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW, 0);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0; /* a whiteout, a link, ...: not an object */
	if ((uint64_t)st.st_size > LOOSE_OBJ_MAX || *total + (uint64_t)st.st_size > LOOSE_TOTAL_MAX)
		return -EFBIG;
	size_t cap = (size_t)st.st_size + 1, len = 0;
	_cleanup_free_ char *data = malloc(cap);
	if (!data)
		return -ENOMEM;
	int r = fs_read_fd(fd, data, cap, &len);
	if (r == -EFBIG)
		return 0; /* grew while read: next time */
	if (r < 0)
		return r;
	*total += len;
	char tmp[96];
	snprintf(tmp, sizeof(tmp), "tmp-clawbox-%s", name);
	(void)unlinkat(dst_dir, tmp, 0);
	int out = openat(dst_dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (out < 0)
		return -errno;
	r = fs_write_all(out, data, len);
	close(out);
	if (r == 0 && renameat(dst_dir, tmp, dst_dir, name) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(dst_dir, tmp, 0);
	return r;
}

/* The loose objects of the box's objects/xx (xx: name) the quarantine
 * lacks, copied; *total bytes and *count objects so far, -EFBIG over the
 * caps. A directory that cannot be read is skipped. */
static int import_loose_dir(struct gs *s, int objdir, const char *name, uint64_t *total,
			    uint64_t *count)
{
	char qsub[16];
	_cleanup_close_ int sub = gate_openat(objdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (sub < 0)
		return 0;
	snprintf(qsub, sizeof(qsub), "objects/%s", name);
	(void)mkdirat(s->q_fd, qsub, 0755);
	_cleanup_close_ int dst =
	    gate_openat(s->q_fd, qsub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	DIR *d = dst >= 0 ? fs_opendir_dup(sub) : NULL;
	struct dirent *de;
	int r = 0;
	while (r == 0 && d && (de = readdir(d))) {
		if (!hex_name(de->d_name, s->hexlen - 2))
			continue;
		if (++*count > LOOSE_COUNT_MAX)
			r = -EFBIG;
		else if (faccessat(dst, de->d_name, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
			r = copy_loose(s, sub, dst, de->d_name, total);
	}
	if (d)
		closedir(d);
	return r;
}

int gitsync_import_loose(struct gs *s, int objdir)
{
	DIR *d = fs_opendir_dup(objdir);
	struct dirent *de;
	uint64_t total = 0, count = 0;
	int r = 0;
	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d)))
		if (hex_name(de->d_name, 2))
			r = import_loose_dir(s, objdir, de->d_name, &total, &count);
	closedir(d);
	if (r == -EFBIG)
		r = gitsync_note(s->p, "the box's loose objects are over the cap (1 GiB or 500 000 "
				       "objects): the others are not imported");
	return r;
}

/* Pack name (beneath pd) through 'git index-pack --strict', unless the
 * list of imported packs (done, *dlen bytes of done_n) has it by name and
 * size; then added to the list. Refusals are notes. */
static int import_pack(struct gs *s, int pd, const char *name, char *done, size_t *dlen,
		       size_t done_n)
{
	char key[PATH_MAX], max[48];
	struct stat st;
	_cleanup_close_ int fd = gate_openat(pd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW, 0);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	snprintf(key, sizeof(key), "%s %lld\n", name, (long long)st.st_size);
	if (strstr(done, key))
		return 0;
	if ((uint64_t)st.st_size > PACK_MAX)
		return gitsync_note(s->p, "the box's pack '%s' is larger than 2 GiB: not imported",
				    name);
	snprintf(max, sizeof(max), "--max-input-size=%llu", (unsigned long long)PACK_MAX);
	struct run rn = { .in_fd = fd };
	int r = GIT(s, &rn, "-C", s->qpath, "index-pack", "--stdin", "--strict", max);
	if (r < 0)
		return r;
	if (rn.status != 0)
		return gitsync_note(s->p, "the box's pack '%s' was refused by git index-pack: %s",
				    name, rn.err);
	if (*dlen + strlen(key) >= done_n)
		return 0;
	memcpy(done + *dlen, key, strlen(key) + 1);
	*dlen += strlen(key);
	return fs_write_atomic_at(s->q_fd, QIMPORTED, done, *dlen, 0600);
}

/* The box's packs (objects/pack/pack-*.pack only: never its .idx) through
 * 'git index-pack --strict', which checks every object. */
int gitsync_import_packs(struct gs *s, int objdir)
{
	_cleanup_close_ int pd =
	    gate_openat(objdir, "pack", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (pd < 0)
		return 0;
	DIR *d = fs_opendir_dup(pd);
	struct dirent *de;
	int r = 0;
	char done[65536];
	size_t dlen = 0;
	if (gitsync_read_small(s->q_fd, QIMPORTED, sizeof(done) - 1, done, &dlen) < 0)
		done[0] = '\0', dlen = 0;
	while (d && r == 0 && (de = readdir(d))) {
		size_t nl = strlen(de->d_name);
		if (nl >= 10 && strncmp(de->d_name, "pack-", 5) == 0 &&
		    strcmp(de->d_name + nl - 5, ".pack") == 0)
			r = import_pack(s, pd, de->d_name, done, &dlen, sizeof(done));
	}
	if (d)
		closedir(d);
	return r;
}

int gitsync_object_format(struct gs *s, char *out, size_t n)
{
	struct buf b = BUF_INIT(4096);
	struct run rn = { .in_fd = -1, .out = &b };
	int r = GIT(s, &rn, "-C", s->b->project, "rev-parse", "--show-object-format");
	if (r == 0 && rn.status == 0 && b.data) {
		b.data[strcspn(b.data, "\n")] = '\0';
		snprintf(out, n, "%s", b.data);
	} else if (r == 0)
		r = -EIO;
	buf_free(&b);
	if (r == 0 && !STREQ(out, "sha1") && !STREQ(out, "sha256"))
		r = -EPROTONOSUPPORT;
	return r;
}

int gitsync_tracked(const char *project, const char *const *paths, size_t n, bool *ret_tracked)
{
	struct box b = { 0 };
	struct gs s = { .b = &b };
	struct buf out = BUF_INIT(16u << 20);
	const char *args[64 + 8];
	size_t k = 0;
	struct stat st;
	char gitdir[PATH_MAX];
	for (size_t i = 0; i < n; i++)
		ret_tracked[i] = false;
	if (n == 0 || n > 64 || path_join(gitdir, sizeof(gitdir), project, ".git") < 0 ||
	    lstat(gitdir, &st) < 0 || !S_ISDIR(st.st_mode) || gitsync_find_git(&s) < 0)
		return 0;
	snprintf(b.project, sizeof(b.project), "%s", project);
	snprintf(s.home, sizeof(s.home), "/nonexistent");
	for (const char *a[] = { "--literal-pathspecs", "-C", project, "ls-files", "-z", "--" },
			*const *p = a;
	     p < a + 6; p++)
		args[k++] = *p;
	for (size_t i = 0; i < n; i++)
		args[k++] = paths[i];
	args[k] = NULL;
	struct run rn = { .in_fd = -1, .out = &out };
	int r = gitsync_git_run(&s, args, &rn);
	for (const char *l = out.data; r == 0 && rn.status == 0 && l && l < out.data + out.len;
	     l += strlen(l) + 1)
		for (size_t i = 0; i < n; i++) {
			size_t pl = strlen(paths[i]);
			if (strncmp(l, paths[i], pl) == 0 && (l[pl] == '\0' || l[pl] == '/'))
				ret_tracked[i] = true;
		}
	buf_free(&out);
	return r < 0 ? r : 0;
}
