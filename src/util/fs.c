#include "util/fs.h"
#include "util/array.h"
#include "util/strv.h"

#include <dirent.h>
#include <sys/stat.h>

int fs_mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (c == '\0')
			break;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

DIR *fs_opendir_dup(int dirfd)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		int saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	rewinddir(d); /* the duplicate shares dirfd's offset: start from the top */
	return d;
}

/* One walk: the directory fd's filesystem, the flags and the callback. */
struct walk {
	dev_t dev;
	unsigned flags;
	fs_walk_fn fn;
	void *ctx;
};

static int walk_dir(const struct walk *w, int dirfd, int depth);

/* name beneath dirfd: fn before, its contents when fn asks, fn after. */
static int walk_entry(const struct walk *w, int dirfd, const char *name, int depth)
{
	bool best_effort = w->flags & FS_WALK_BEST_EFFORT;
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT || best_effort ? 0 : -errno;
	bool foreign = S_ISDIR(st.st_mode) && st.st_dev != w->dev;
	if (foreign && !best_effort)
		return -EXDEV; /* before fn: it must not touch another filesystem */
	int r = w->fn(dirfd, name, &st, false, w->ctx);
	if (r <= 0 || !S_ISDIR(st.st_mode) || foreign)
		return r < 0 ? r : 0;
	_cleanup_close_ int fd =
	    openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return best_effort ? 0 : -errno;
	r = walk_dir(w, fd, depth + 1);
	if (r < 0)
		return r;
	r = w->fn(dirfd, name, &st, true, w->ctx);
	return r < 0 ? r : 0;
}

static int walk_dir(const struct walk *w, int dirfd, int depth)
{
	if (depth > FS_WALK_MAX_DEPTH)
		return -ELOOP;
	DIR *d = fs_opendir_dup(dirfd);
	if (!d)
		return -errno;
	int r = 0;
	struct dirent *de;
	while (r >= 0 && (de = readdir(d)))
		if (!STREQ(de->d_name, ".") && !STREQ(de->d_name, ".."))
			r = walk_entry(w, dirfd, de->d_name, depth);
	closedir(d);
	return r;
}

static int walk_start(int dirfd, unsigned flags, fs_walk_fn fn, void *ctx, struct walk *ret)
{
	struct stat st;
	*ret = (struct walk){ 0, flags, fn, ctx };
	if (fstat(dirfd, &st) < 0)
		return -errno;
	ret->dev = st.st_dev;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fs_walk(int dirfd, unsigned flags, fs_walk_fn fn, void *ctx)
{
	struct walk w;
	int r = walk_start(dirfd, flags, fn, ctx, &w);
	return r < 0 ? r : walk_dir(&w, dirfd, 0);
}

/* fs_walk callback of fs_clear_dir: files go at once, directories (made
 * searchable first) once they are empty. */
static int remove_one(int dirfd, const char *name, const struct stat *st, bool post, void *ctx)
{
	if (!S_ISDIR(st->st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (post)
		return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
	/* A failed chmod shows up as EACCES when the walk opens it. */
	if ((st->st_mode & 0700) != 0700 && fchmodat(dirfd, name, st->st_mode | 0700, 0) < 0)
		errno = 0;
	return 1;
}

int fs_clear_dir(int dirfd)
{
	return fs_walk(dirfd, 0, remove_one, NULL);
}

int fs_remove_tree_at(int dirfd, const char *name)
{
	struct walk w;
	int r = walk_start(dirfd, 0, remove_one, NULL, &w);
	return r < 0 ? r : walk_entry(&w, dirfd, name, 0);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int fs_dir_names(int dirfd, bool (*keep)(const char *name), size_t max, char ***ret, size_t *ret_n)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;

	DIR *d = fs_opendir_dup(dirfd);
	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		if (STREQ(de->d_name, ".") || STREQ(de->d_name, "..") ||
		    (keep && !keep(de->d_name)))
			continue;
		if (n >= max) {
			r = -E2BIG;
			break;
		}
		if (array_grow((void **)&names, &cap, n, sizeof(*names)) < 0 ||
		    !(names[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (r == 0 && errno)
		r = -errno;
	closedir(d);
	if (r < 0) {
		strv_free_n(names, n);
		return r;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	*ret = names;
	*ret_n = n;
	return 0;
}

ssize_t fs_read_small(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n > 0 ? n : -ENODATA;
}

int fs_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max || max >= SIZE_MAX / 2)
		return -EFBIG;
	size_t cap = (size_t)st.st_size + 1, len = 0;
	_cleanup_free_ char *data = malloc(cap);
	if (!data)
		return -ENOMEM;
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > max)
				return -EFBIG;
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *p = realloc(data, ncap);
			if (!p)
				return -ENOMEM;
			data = p;
			cap = ncap;
		}
		ssize_t n = read(fd, data + len, cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	data[len] = '\0';
	*ret_data = TAKE_PTR(data);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int fs_read_fd(int fd, void *buf, size_t cap, size_t *ret_len)
{
	size_t len = 0;
	for (;;) {
		ssize_t k = read(fd, (char *)buf + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		len += (size_t)k;
		if (len == cap)
			return -EFBIG;
	}
	*ret_len = len;
	return 0;
}

int fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_write_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	char tmp[NAME_MAX + 1];
	int n = snprintf(tmp, sizeof(tmp), ".%s.tmp%d", name, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	int r = fs_write_all(fd, data, len);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return fsync(dirfd) < 0 ? -errno : 0;
}

int path_join(char *out, size_t n, const char *a, const char *b)
{
	size_t la = strlen(a);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	int w;
	if (*b == '\0')
		w = snprintf(out, n, "%.*s", (int)la, a);
	else if (la == 1 && a[0] == '/')
		w = snprintf(out, n, "/%s", b);
	else
		w = snprintf(out, n, "%.*s/%s", (int)la, a, b);
	if (w < 0 || (size_t)w >= n)
		return -ENAMETOOLONG;
	return 0;
}

bool path_is_beneath(const char *path, const char *dir)
{
	size_t ld = strlen(dir);
	if (ld == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, ld) == 0 && (path[ld] == '\0' || path[ld] == '/');
}

struct usage {
	uint64_t bytes, entries;
};

static int count_one(int dirfd, const char *name, const struct stat *st, bool post, void *ctx)
{
	struct usage *u = ctx;
	if (post)
		return 0;
	u->entries++;
	if (S_ISREG(st->st_mode))
		u->bytes += (uint64_t)st->st_size;
	return 1;
}

int fs_tree_usage(int dirfd, uint64_t *ret_bytes, uint64_t *ret_entries)
{
	struct usage u = { 0, 0 };
	int r = fs_walk(dirfd, FS_WALK_BEST_EFFORT, count_one, &u);
	if (r < 0)
		return r;
	*ret_bytes = u.bytes;
	*ret_entries = u.entries;
	return 0;
}
