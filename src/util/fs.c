#include "util/fs.h"

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
	}
	return d;
}

static int clear_dir_dev(int dirfd, dev_t dev, int depth);

static int remove_entry(int dirfd, const char *name, dev_t dev, int depth)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (st.st_dev != dev)
		return -EXDEV;
	/* A failed chmod shows up as EACCES from the openat below. */
	if ((st.st_mode & 0700) != 0700 && fchmodat(dirfd, name, st.st_mode | 0700, 0) < 0)
		errno = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = clear_dir_dev(fd, dev, depth + 1);
	close(fd);
	if (r < 0)
		return r;
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

static int clear_dir_dev(int dirfd, dev_t dev, int depth)
{
	if (depth > 4096)
		return -ELOOP;
	DIR *d = fs_opendir_dup(dirfd);
	if (!d)
		return -errno;
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
			continue;
		r = remove_entry(dirfd, de->d_name, dev, depth);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

int fs_clear_dir(int dirfd)
{
	struct stat st;
	if (fstat(dirfd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return clear_dir_dev(dirfd, st.st_dev, 0);
}

int fs_remove_tree_at(int dirfd, const char *name)
{
	struct stat st;
	if (fstat(dirfd, &st) < 0)
		return -errno;
	return remove_entry(dirfd, name, st.st_dev, 0);
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

static int usage_rec(int dirfd, dev_t dev, int depth, uint64_t *bytes, uint64_t *entries)
{
	if (depth > 4096)
		return -ELOOP;
	DIR *d = fs_opendir_dup(dirfd);
	if (!d)
		return -errno;
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (STREQ(de->d_name, ".") || STREQ(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		(*entries)++;
		if (S_ISREG(st.st_mode))
			*bytes += (uint64_t)st.st_size;
		if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
			int sub = openat(dirfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				continue;
			r = usage_rec(sub, dev, depth + 1, bytes, entries);
			close(sub);
			if (r < 0)
				break;
		}
	}
	closedir(d);
	return r;
}

int fs_tree_usage(int dirfd, uint64_t *ret_bytes, uint64_t *ret_entries)
{
	struct stat st;
	uint64_t bytes = 0, entries = 0;
	if (fstat(dirfd, &st) < 0)
		return -errno;
	int r = usage_rec(dirfd, st.st_dev, 0, &bytes, &entries);
	if (r < 0)
		return r;
	*ret_bytes = bytes;
	*ret_entries = entries;
	return 0;
}
