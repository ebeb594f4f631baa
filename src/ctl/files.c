/* File calls beneath a workspace: src/ctl/files.h. */
#include "util/common.h"

#include <inttypes.h>
#include <stdarg.h>
#include <sys/random.h>

#include "ctl/files.h"
#include "sync/gate.h"
#include "util/fs.h"
#include "util/strv.h"
#include "util/utf8.h"

/* Fail with code, where = the path as it may be shown (escaped). */
_printf_(4, 5) static int fail(struct error *err, int code, const char *path, const char *fmt, ...)
{
	char shown[ERROR_WHERE_MAX];
	va_list ap;
	gate_path_display(path ? path : "", shown, sizeof(shown));
	va_start(ap, fmt);
	error_setv(err, code, shown, 0, fmt, ap);
	va_end(ap);
	return code;
}

/* Fail with -errno (read first): "what: strerror". */
static int fail_sys(struct error *err, const char *path, const char *what)
{
	int e = errno ? -errno : -EIO;
	return fail(err, e, path, "%s: %s", what, strerror(-e));
}

/* What an openat2 beneath root failing with r means for path. */
static int open_failed(struct error *err, int r, const char *path)
{
	switch (r) {
	case -ELOOP:
		return fail(err, r, path, "a symlink is in the path (symlinks are never followed)");
	case -EXDEV: return fail(err, r, path, "the path leads out of the workspace");
	case -ENOENT: return fail(err, r, path, "no such file or directory");
	case -ENOTDIR: return fail(err, r, path, "a component of the path is not a directory");
	default: return fail(err, r, path, "cannot open it: %s", strerror(-r));
	}
}

int files_check_path(const char *path, size_t len, unsigned flags, struct error *err)
{
	if (memchr(path, '\0', len))
		return fail(err, -EINVAL, path, "the path holds a NUL byte");
	if (len >= FILES_PATH_MAX)
		return fail(err, -ENAMETOOLONG, NULL, "the path is longer than %d bytes",
			    FILES_PATH_MAX - 1);
	if (len == 0 || STREQ(path, ".") || STREQ(path, "./"))
		return (flags & FILES_ROOT_OK)
			   ? 0
			   : fail(err, -EINVAL, path,
				  "names the workspace itself, not a file in it");
	if (path[0] == '/')
		return fail(err, -EINVAL, path,
			    "absolute paths are refused: give one relative to the workspace");
	unsigned char c = utf8_ascii_control(path);
	if (c)
		return fail(err, -EINVAL, path, "the path holds a control character (0x%02x)", c);
	if (!utf8_valid(path))
		return fail(err, -EINVAL, path, "the path is not valid UTF-8");
	for (const char *p = path; *p;) {
		size_t k = strcspn(p, "/");
		if (k == 2 && p[0] == '.' && p[1] == '.')
			return fail(err, -EINVAL, path, "'..' is refused in a path");
		if ((flags & FILES_MUTATE) && k > 0 && gate_name_is_dotgit(p, k))
			return fail(err, -EPERM, path,
				    "a git directory is never changed through file calls");
		p += k;
		p += *p == '/';
	}
	return 0;
}

/* Check path and split it into its directory (into dir: "." when none)
 * and its last component (*ret_base points into base). Trailing slashes
 * are dropped. */
static int split(const char *path, unsigned flags, char dir[FILES_PATH_MAX],
		 char base[NAME_MAX + 1], struct error *err)
{
	int r = files_check_path(path, strlen(path), flags, err);
	if (r < 0)
		return r;
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	const char *slash = memrchr(path, '/', n);
	size_t bl = slash ? n - (size_t)(slash + 1 - path) : n;
	if (bl > NAME_MAX)
		return fail(err, -ENAMETOOLONG, path, "a name is longer than %d bytes", NAME_MAX);
	memcpy(base, slash ? slash + 1 : path, bl);
	base[bl] = '\0';
	if (STREQ(base, "."))
		return fail(err, -EINVAL, path, "the path must end with a name, not '.'");
	snprintf(dir, FILES_PATH_MAX, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if (!dir[0])
		snprintf(dir, FILES_PATH_MAX, ".");
	return 0;
}

/* As root, give fd (or dirfd/name) the owner of like (the box's user). */
static int own_like(int fd, const struct stat *like)
{
	if (geteuid() != 0)
		return 0;
	return fchown(fd, like->st_uid, like->st_gid) < 0 ? -errno : 0;
}

/* Open the directory dir beneath root, making the missing ones with
 * mkdirs, one component at a time, each beneath the one before. */
static int open_dir(int root, const char *dir, bool mkdirs, const char *path, struct error *err)
{
	int fd = gate_openat(root, dir, O_RDONLY | O_DIRECTORY, 0);
	int r;
	if (fd >= 0 || fd != -ENOENT || !mkdirs)
		return fd >= 0 ? fd : open_failed(err, fd, path);
	_cleanup_close_ int cur = gate_openat(root, ".", O_RDONLY | O_DIRECTORY, 0);
	if (cur < 0)
		return open_failed(err, cur, path);
	for (const char *p = dir; *p;) {
		size_t k = strcspn(p, "/");
		char name[NAME_MAX + 1];
		if (k > NAME_MAX)
			return fail(err, -ENAMETOOLONG, path, "a name is too long");
		snprintf(name, sizeof(name), "%.*s", (int)k, p);
		p += k;
		p += *p == '/';
		if (k == 0)
			continue;
		int next = gate_openat(cur, name, O_RDONLY | O_DIRECTORY, 0);
		if (next == -ENOENT) {
			struct stat st;
			if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST)
				return fail_sys(err, path, "cannot make a directory");
			next = gate_openat(cur, name, O_RDONLY | O_DIRECTORY, 0);
			if (next >= 0 && (fstat(cur, &st) < 0 || own_like(next, &st) < 0)) {
				r = fail_sys(err, path, "cannot give a new directory its owner");
				close(next);
				return r;
			}
		}
		if (next < 0)
			return open_failed(err, next, path);
		close(cur);
		cur = next;
	}
	return TAKE_FD(cur);
}

const char *files_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "chardev";
	default: return "blockdev";
	}
}

static int not_regular(struct error *err, const char *path, mode_t mode)
{
	if (S_ISDIR(mode))
		return fail(err, -EISDIR, path, "is a directory");
	if (S_ISLNK(mode))
		return fail(err, -ELOOP, path, "is a symlink (symlinks are never followed)");
	return fail(err, -EPERM, path, "is a %s: only regular files are read or written",
		    files_type_name(mode));
}

int files_open_read(int root, const char *path, int *ret_fd, struct stat *ret_st, struct error *err)
{
	char dir[FILES_PATH_MAX], base[NAME_MAX + 1];
	struct stat st, st2;
	int r = split(path, 0, dir, base, err);
	if (r < 0)
		return r;
	/* O_PATH first: a FIFO or a device is seen before it is opened. */
	_cleanup_close_ int pfd = gate_openat(root, path, O_PATH | O_NOFOLLOW, 0);
	if (pfd < 0)
		return open_failed(err, pfd, path);
	if (fstat(pfd, &st) < 0)
		return fail_sys(err, path, "cannot stat it");
	if (!S_ISREG(st.st_mode))
		return not_regular(err, path, st.st_mode);
	_cleanup_close_ int fd =
	    gate_openat(root, path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY, 0);
	if (fd < 0)
		return open_failed(err, fd, path);
	if (fstat(fd, &st2) < 0)
		return fail_sys(err, path, "cannot stat it");
	if (!S_ISREG(st2.st_mode))
		return not_regular(err, path, st2.st_mode);
	if (st2.st_ino != st.st_ino || st2.st_dev != st.st_dev)
		return fail(err, -EAGAIN, path, "changed while it was opened");
	*ret_fd = TAKE_FD(fd);
	*ret_st = st2;
	return 0;
}

/* pread up to len bytes at off into buf (short only at the end of file). */
static int read_at(int fd, char *buf, size_t len, uint64_t off, size_t *ret_len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*ret_len = got;
	return 0;
}

int files_read(int root, const char *path, uint64_t offset, uint64_t limit, size_t cap,
	       struct files_data *ret, struct error *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st = { 0 };
	int r = files_open_read(root, path, &fd, &st, err);
	if (r < 0)
		return r;
	uint64_t size = (uint64_t)st.st_size;
	uint64_t left = offset >= size ? 0 : size - offset;
	uint64_t want = limit ? limit : left;
	if (want > cap || offset > INT64_MAX - cap)
		return fail(err, -EFBIG, path,
			    "%" PRIu64 " bytes asked for, more than %zu at a time: read it in "
			    "pieces (offset, limit)",
			    want, cap);
	if (want > left)
		want = left;
	_cleanup_free_ char *buf = malloc((size_t)want + 1);
	size_t got = 0;
	if (!buf)
		return error_set(err, -ENOMEM, NULL, 0, "out of memory");
	r = read_at(fd, buf, (size_t)want, offset, &got);
	if (r < 0)
		return fail(err, r, path, "cannot read it: %s", strerror(-r));
	buf[got] = '\0';
	*ret = (struct files_data){ TAKE_PTR(buf), got, size, offset + got >= size };
	return 0;
}

void files_data_free(struct files_data *d)
{
	free(d->data);
	d->data = NULL;
}

struct files_writer {
	int dir, fd;
	char tmp[32];
	char base[NAME_MAX + 1];
	char path[FILES_PATH_MAX];
	unsigned flags;
};

void files_write_abort(struct files_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp[0])
		unlinkat(w->dir, w->tmp, 0);
	if (w->dir >= 0)
		close(w->dir);
	free(w);
}

static void writer_abortp(struct files_writer **w)
{
	files_write_abort(*w);
}

/* What is at w's name now: 0 with *st, 1 when nothing, or refused. */
static int check_target(struct files_writer *w, struct stat *st, struct error *err)
{
	if (fstatat(w->dir, w->base, st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 1;
		int e = -errno;
		return fail(err, e, w->path, "cannot stat it: %s", strerror(-e));
	}
	if (!S_ISREG(st->st_mode))
		return not_regular(err, w->path, st->st_mode);
	if (w->flags & FILES_EXCL)
		return fail(err, -EEXIST, w->path, "exists already");
	return 0;
}

/* Create w's temporary file: a fresh random name, never an existing one. */
static int make_tmp(struct files_writer *w, struct error *err)
{
	for (int tries = 0; tries < 16; tries++) {
		uint64_t rnd;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)getpid() << 20 ^ (uint64_t)tries;
		snprintf(w->tmp, sizeof(w->tmp), ".clawbox-tmp-%016" PRIx64, rnd);
		w->fd = openat(w->dir, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			       0600);
		if (w->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	int e = -errno;
	w->tmp[0] = '\0';
	return fail(err, e, w->path, "cannot create a temporary file beside it: %s", strerror(-e));
}

/* Mode and owner of the new file: those of the one it replaces (mode -1
 * keeps its mode), or of a new one (0644, the directory's owner). */
static int settle_tmp(struct files_writer *w, int mode, bool exists, const struct stat *old,
		      struct error *err)
{
	struct stat dst;
	mode_t m = mode >= 0 ? (mode_t)mode & 0777 : exists ? old->st_mode & 0777 : 0644;
	if (!exists && fstat(w->dir, &dst) < 0)
		return fail(err, -errno, w->path, "cannot stat its directory");
	if (fchmod(w->fd, m) < 0 || own_like(w->fd, exists ? old : &dst) < 0) {
		int e = -errno;
		return fail(err, e, w->path, "cannot set the mode or owner: %s", strerror(-e));
	}
	return 0;
}

int files_write_open(int root, const char *path, unsigned flags, int mode,
		     struct files_writer **ret, struct error *err)
{
	char dir[FILES_PATH_MAX];
	struct stat old;
	_cleanup_(writer_abortp) struct files_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return error_set(err, -ENOMEM, NULL, 0, "out of memory");
	w->dir = w->fd = -1;
	w->flags = flags;
	snprintf(w->path, sizeof(w->path), "%s", path);
	int r = split(path, FILES_MUTATE, dir, w->base, err);
	if (r < 0)
		return r;
	if (strlen(path) && path[strlen(path) - 1] == '/')
		return fail(err, -EISDIR, path, "a file's path cannot end with '/'");
	w->dir = open_dir(root, dir, flags & FILES_MKDIRS, path, err);
	if (w->dir < 0)
		return w->dir;
	int exists = check_target(w, &old, err);
	if (exists < 0)
		return exists;
	r = make_tmp(w, err);
	if (r == 0)
		r = settle_tmp(w, mode, exists == 0, &old, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(w);
	return 0;
}

int files_write_append(struct files_writer *w, const void *data, size_t len, struct error *err)
{
	int r = fs_write_all(w->fd, data, len);
	return r < 0 ? fail(err, r, w->path, "cannot write it: %s", strerror(-r)) : 0;
}

int files_write_commit(struct files_writer *w, struct error *err)
{
	_cleanup_(writer_abortp) struct files_writer *own = w;
	struct stat st;
	if (fsync(w->fd) < 0 || close(TAKE_FD(w->fd)) < 0) {
		int e = -errno;
		return fail(err, e, w->path, "cannot write it: %s", strerror(-e));
	}
	int r = check_target(w, &st, err);
	if (r < 0)
		return r;
	if (renameat2(w->dir, w->tmp, w->dir, w->base,
		      (w->flags & FILES_EXCL) ? RENAME_NOREPLACE : 0) < 0) {
		int e = -errno;
		return e == -EEXIST
			   ? fail(err, e, w->path, "exists already")
			   : fail(err, e, w->path, "cannot rename it into place: %s", strerror(-e));
	}
	w->tmp[0] = '\0';
	if (fsync(w->dir) < 0) {
		int e = -errno;
		return fail(err, e, w->path, "cannot sync its directory: %s", strerror(-e));
	}
	return 0;
}

int files_write(int root, const char *path, const void *data, size_t len, unsigned flags, int mode,
		struct error *err)
{
	struct files_writer *w = NULL;
	int r = files_write_open(root, path, flags, mode, &w, err);
	if (r < 0 || !w)
		return r < 0 ? r : -EIO;
	r = files_write_append(w, data, len, err);
	if (r < 0) {
		files_write_abort(w);
		return r;
	}
	return files_write_commit(w, err);
}

static bool is_root(const char *path)
{
	return !path[0] || STREQ(path, ".") || STREQ(path, "./");
}

/* lstat of name beneath the directory dfd into *ret. */
static int entry_at(int dfd, const char *name, struct files_entry *ret)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) < 0)
		return -errno;
	*ret = (struct files_entry){
		.mode = st.st_mode,
		.size = (uint64_t)st.st_size,
		.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
	};
	return 0;
}

/* The directory path for reading: looked at through O_PATH first, so a
 * symlink there is told apart from a file. */
static int open_listed(int root, const char *path, struct error *err)
{
	struct stat st;
	_cleanup_close_ int pfd =
	    gate_openat(root, is_root(path) ? "." : path, O_PATH | O_NOFOLLOW, 0);
	if (pfd < 0)
		return open_failed(err, pfd, path);
	if (fstat(pfd, &st) < 0)
		return fail_sys(err, path, "cannot stat it");
	if (S_ISLNK(st.st_mode))
		return not_regular(err, path, st.st_mode);
	if (!S_ISDIR(st.st_mode))
		return fail(err, -ENOTDIR, path, "is a %s, not a directory",
			    files_type_name(st.st_mode));
	int fd = gate_openat(pfd, ".", O_RDONLY | O_DIRECTORY, 0);
	return fd < 0 ? open_failed(err, fd, path) : fd;
}

int files_list(int root, const char *path, size_t max, struct files_entry **ret, size_t *ret_n,
	       struct error *err)
{
	char **names = NULL;
	size_t n = 0, k = 0;
	int r = files_check_path(path, strlen(path), FILES_ROOT_OK, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open_listed(root, path, err);
	if (fd < 0)
		return fd;
	r = fs_dir_names(fd, NULL, max, &names, &n);
	if (r == -E2BIG)
		return fail(err, r, path, "the directory holds more than %zu entries", max);
	if (r < 0)
		return fail(err, r, path, "cannot list it: %s", strerror(-r));
	struct files_entry *v = calloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; v && i < n; i++) {
		if (entry_at(fd, names[i], &v[k]) < 0)
			continue; /* gone meanwhile */
		v[k++].name = TAKE_PTR(names[i]);
	}
	strv_free_n(names, n);
	if (!v)
		return error_set(err, -ENOMEM, NULL, 0, "out of memory");
	*ret = v;
	*ret_n = k;
	return 0;
}

void files_entries_free(struct files_entry *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].name);
	free(v);
}

int files_stat(int root, const char *path, struct files_entry *ret, struct error *err)
{
	char dir[FILES_PATH_MAX], base[NAME_MAX + 1];
	int r;
	if (is_root(path)) {
		r = entry_at(root, "", ret);
		return r < 0 ? fail(err, r, path, "cannot stat it: %s", strerror(-r)) : 0;
	}
	r = split(path, 0, dir, base, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = open_dir(root, dir, false, path, err);
	if (dfd < 0)
		return dfd;
	r = entry_at(dfd, base, ret);
	if (r == -ENOENT)
		return open_failed(err, r, path);
	return r < 0 ? fail(err, r, path, "cannot stat it: %s", strerror(-r)) : 0;
}

int files_delete(int root, const char *path, bool recursive, struct error *err)
{
	char dir[FILES_PATH_MAX], base[NAME_MAX + 1];
	struct stat st;
	int r = split(path, FILES_MUTATE, dir, base, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = open_dir(root, dir, false, path, err);
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return open_failed(err, -errno, path);
	if (S_ISDIR(st.st_mode) && recursive)
		r = fs_remove_tree_at(dfd, base);
	else
		r = unlinkat(dfd, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
	if (r == -ENOTEMPTY || r == -EEXIST)
		return fail(err, -ENOTEMPTY, path,
			    "the directory is not empty (delete it recursively to remove it all)");
	return r < 0 ? fail(err, r, path, "cannot remove it: %s", strerror(-r)) : 0;
}
