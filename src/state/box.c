#include "util/common.h"

#include "state/box.h"
#include "state/diskcap.h"
#include "util/strv.h"
#include "util/fs.h"
#include "util/hash.h"

#include <dirent.h>
#include <jansson.h>
#include <poll.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>

static const char *const mode_names[] = {
	[BOX_MODE_SECURE] = "secure",
	[BOX_MODE_YOLO_UNSAFE] = "yolo-unsafe",
	[BOX_MODE_YOLO] = "yolo",
};

const char *box_mode_name(enum box_mode m)
{
	return mode_names[m];
}

int box_mode_parse(const char *s, enum box_mode *ret)
{
	for (size_t i = 0; i < ELEMENTSOF(mode_names); i++)
		if (STREQ(s, mode_names[i])) {
			*ret = (enum box_mode)i;
			return 0;
		}
	return -EINVAL;
}

int box_state_dir(char *out, size_t n)
{
	const char *env = secure_getenv("CLAWBOX_STATE_DIR");
	int w;

	if (env && *env) {
		if (env[0] != '/')
			return -EINVAL;
		w = snprintf(out, n, "%s", env);
	} else if (geteuid() == 0) {
		w = snprintf(out, n, "/var/lib/clawbox");
	} else if ((env = secure_getenv("XDG_STATE_HOME")) && env[0] == '/') {
		w = snprintf(out, n, "%s/clawbox", env);
	} else {
		const char *home = secure_getenv("HOME");
		struct passwd *pw = home ? NULL : getpwuid(getuid());
		if (!home && pw)
			home = pw->pw_dir;
		if (!home || home[0] != '/')
			return -ENOENT;
		w = snprintf(out, n, "%s/.local/state/clawbox", home);
	}
	if (w < 0 || (size_t)w >= n)
		return -ENAMETOOLONG;
	/* Normalize a trailing slash away so path comparisons stay exact. */
	while (w > 1 && out[w - 1] == '/')
		out[--w] = '\0';
	return 0;
}

bool box_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > BOX_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

int box_default_name(const char *project, char *out, size_t n)
{
	uint8_t md[HASH_SHA256_SIZE];
	char base[41];
	size_t j = 0;
	const char *b = strrchr(project, '/');

	hash_sha256(project, strlen(project), md);
	b = b ? b + 1 : project;
	for (; *b && j < sizeof(base) - 1; b++) {
		char c = *b;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-' || (c == '.' && j > 0);
		base[j++] = ok ? c : '_';
	}
	base[j] = '\0';
	if (j == 0)
		snprintf(base, sizeof(base), "project");
	else if (base[0] == '-')
		base[0] = '_';
	int w = snprintf(out, n, "%s-%02x%02x%02x%02x", base, md[0], md[1], md[2], md[3]);
	return (w < 0 || (size_t)w >= n) ? -ENAMETOOLONG : 0;
}

static int box_paths(const char *state, const char *name, struct box *b)
{
	if (!box_name_valid(name))
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "%s", name);
	int w = snprintf(b->dir, sizeof(b->dir), "%s/boxes/%s", state, name);
	if (w < 0 || (size_t)w >= sizeof(b->dir) - sizeof("/" DISKCAP_MOUNT))
		return -ENAMETOOLONG;
	snprintf(b->data, sizeof(b->data), "%s", b->dir);
	return 0;
}

/* A capped box keeps its data in its image's mount. */
static void set_disk(struct box *b, uint64_t disk)
{
	b->disk = disk;
	snprintf(b->data, sizeof(b->data), "%s%s", b->dir, disk ? "/" DISKCAP_MOUNT : "");
}

int box_load(const char *state, const char *name, struct box *ret)
{
	struct box b;
	char path[PATH_MAX];
	_cleanup_free_ char *data = NULL;
	int r = box_paths(state, name, &b);
	if (r < 0)
		return r;
	r = path_join(path, sizeof(path), b.dir, "box.json");
	if (r < 0)
		return r;
	r = fs_read_file(path, 64 * 1024, &data, NULL);
	if (r < 0)
		return r;
	json_t *j = json_loads(data, 0, NULL);
	if (!j)
		return -EBADMSG;
	const char *project = json_string_value(json_object_get(j, "project"));
	const char *mode = json_string_value(json_object_get(j, "mode"));
	json_int_t created = json_integer_value(json_object_get(j, "created"));
	json_t *disk = json_object_get(j, "disk");
	r = -EBADMSG;
	if (project && project[0] == '/' && mode && box_mode_parse(mode, &b.mode) == 0 &&
	    strlen(project) < sizeof(b.project) &&
	    (!disk || (json_is_integer(disk) && json_integer_value(disk) >= 0))) {
		snprintf(b.project, sizeof(b.project), "%s", project);
		b.created = created;
		set_disk(&b, disk ? (uint64_t)json_integer_value(disk) : 0);
		*ret = b;
		r = 0;
	}
	json_decref(j);
	return r;
}

static int write_box_json(int dirfd, const struct box *b)
{
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:I}", "version", 1, "name", b->name, "project",
			      b->project, "mode", box_mode_name(b->mode), "created",
			      (json_int_t)b->created);
	if (!j || (b->disk && json_object_set_new(j, "disk", json_integer((json_int_t)b->disk))))
		return j ? (json_decref(j), -ENOMEM) : -ENOMEM;
	_cleanup_free_ char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!s)
		return -ENOMEM;
	size_t len = strlen(s);
	char *t = realloc(s, len + 2);
	if (!t)
		return -ENOMEM;
	s = t;
	s[len] = '\n';
	return fs_write_atomic_at(dirfd, "box.json", s, len + 1, 0600);
}

/* The box's data dirs in data (the box dir, or its image's root). */
static int create_data(int data, const struct stat *pst)
{
	if (mkdirat(data, "upper", 0755) < 0 || mkdirat(data, "work", 0700) < 0 ||
	    mkdirat(data, "home", 0700) < 0)
		return -errno;
	/* /workspace shows the upper dir's owner and mode: make them the project's. */
	if (geteuid() == 0 && fchownat(data, "upper", pst->st_uid, pst->st_gid, 0) < 0)
		return -errno;
	if (fchmodat(data, "upper", pst->st_mode & 07777 & ~(mode_t)(S_ISUID | S_ISGID), 0) < 0)
		return -errno;
	return 0;
}

static int create_in(int dirfd, const struct box *b)
{
	struct stat pst;
	int r;
	if (stat(b->project, &pst) < 0)
		return -errno;
	if (b->disk) {
		if ((r = diskcap_create(dirfd, b->disk)) < 0 || (r = diskcap_ensure(dirfd)) < 0)
			return r;
		_cleanup_close_ int data =
		    openat(dirfd, DISKCAP_MOUNT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (data < 0)
			return -errno;
		if (fchmod(data, 0700) < 0 || (r = create_data(data, &pst)) < 0)
			return r < 0 ? r : -errno;
		/* For people and scripts that look into the box dir: upper, home
		 * and sync where they are in a box without a cap. clawbox itself
		 * never follows them (it uses struct box's data). */
		if (mkdirat(data, "sync", 0700) < 0 ||
		    symlinkat(DISKCAP_MOUNT "/upper", dirfd, "upper") < 0 ||
		    symlinkat(DISKCAP_MOUNT "/home", dirfd, "home") < 0 ||
		    symlinkat(DISKCAP_MOUNT "/sync", dirfd, "sync") < 0)
			return -errno;
	} else if ((r = create_data(dirfd, &pst)) < 0) {
		return r;
	}
	_cleanup_close_ int fd =
	    openat(dirfd, "lock", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	return write_box_json(dirfd, b);
}

int box_create(const char *state, const char *name, const char *project, enum box_mode mode,
	       uint64_t disk, struct box *ret)
{
	struct box b;
	char boxes[PATH_MAX];
	int r = box_paths(state, name, &b);
	if (r < 0)
		return r;
	if (strlen(project) >= sizeof(b.project))
		return -ENAMETOOLONG;
	snprintf(b.project, sizeof(b.project), "%s", project);
	b.mode = mode;
	b.created = (int64_t)time(NULL);
	set_disk(&b, disk);

	r = path_join(boxes, sizeof(boxes), state, "boxes");
	if (r < 0)
		return r;
	if ((r = fs_mkdir_p(state, 0700)) < 0 || (r = fs_mkdir_p(boxes, 0700)) < 0)
		return r;
	_cleanup_close_ int bfd = open(boxes, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0)
		return -errno;
	if (mkdirat(bfd, name, 0700) < 0)
		return -errno;
	_cleanup_close_ int dfd =
	    openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = dfd < 0 ? -errno : create_in(dfd, &b);
	if (r < 0) {
		if (dfd >= 0 && diskcap_unmount(dfd) < 0)
			return r; /* never remove the tree through a mount */
		fs_remove_tree_at(bfd, name);
		return r;
	}
	if (fsync(bfd) < 0)
		return -errno;
	*ret = b;
	return 0;
}

int box_set_disk(struct box *b, uint64_t disk)
{
	_cleanup_close_ int dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	struct box n = *b;
	set_disk(&n, disk);
	int r = write_box_json(dfd, &n);
	if (r == 0)
		*b = n;
	return r;
}

struct find_ctx {
	const char *dir;
	size_t best_len;
	char *name;
	size_t n;
};

static int find_cb(const struct box *b, void *p)
{
	struct find_ctx *c = p;
	size_t len = strlen(b->project);
	if (path_is_beneath(c->dir, b->project) && (len > c->best_len || c->best_len == 0)) {
		c->best_len = len;
		snprintf(c->name, c->n, "%s", b->name);
	}
	return 0;
}

int box_find_by_path(const char *state, const char *dir, char *ret_name, size_t n)
{
	char found[BOX_NAME_MAX + 1] = "";
	struct find_ctx c = { .dir = dir, .best_len = 0, .name = found, .n = sizeof(found) };
	int r = box_foreach(state, find_cb, &c);
	if (r < 0 && r != -ENOENT)
		return r;
	if (!found[0])
		return -ENOENT;
	snprintf(ret_name, n, "%s", found);
	return 0;
}

static int lock_path(const struct box *b, char *out, size_t n)
{
	return path_join(out, n, b->dir, "lock");
}

/* The lock file's one line, fixed width and written in place (truncating
 * and rewriting made ext4 flush the file, 1 ms of every box start): the
 * pid of the clawbox holding the lock, then the host pid and start time of
 * the init of its (last) box, 0 0 until it started. Informative but for the
 * init: a failed write changes nothing but that wait. */
#define LOCK_LINE    "%10d %10d %20llu\n"
#define LOCK_INIT_AT 11

/* The start time (clock ticks after boot) of pid, 0 when it is gone or a
 * zombie (its teardown is done then: zombies come after it). */
static unsigned long long live_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (fs_read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	/* After the ")" of the name: state, then 18 fields to the start time. */
	const char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	p += 2;
	for (int i = 0; i < 19 && p; i++)
		if ((p = strchr(p, ' ')))
			p++;
	return p ? strtoull(p, NULL, 10) : 0;
}

/* A clawbox returns when its command has ended and nothing of the box
 * runs; the kernel is then still tearing the box down (its overlay mounted,
 * in a dying namespace). Wait for the init recorded in the lock file to be
 * gone, so that a box's overlay is never mounted twice. */
static int wait_last_init(int fd)
{
	char buf[64] = "", *end;
	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return 0;
	strtol(buf, &end, 10); /* the last clawbox */
	long pid = strtol(end, &end, 10);
	unsigned long long start = strtoull(end, NULL, 10);
	if (pid <= 0 || pid > INT_MAX || start == 0 || live_start_time((pid_t)pid) != start)
		return 0;
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return errno == ESRCH ? 0 : -errno;
	if (live_start_time((pid_t)pid) != start) /* the pid was reused meanwhile */
		return 0;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;
	while ((r = poll(&p, 1, BOX_LOCK_WAIT_MS)) < 0 && errno == EINTR)
		;
	return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}

int box_lock(const struct box *b, pid_t *ret_holder)
{
	char path[PATH_MAX];
	int r = lock_path(b, path, sizeof(path));
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		if (ret_holder) {
			char buf[32] = "";
			ssize_t k = pread(fd, buf, sizeof(buf) - 1, 0);
			*ret_holder = k > 0 ? (pid_t)strtol(buf, NULL, 10) : 0;
		}
		return r == -EWOULDBLOCK ? -EBUSY : r;
	}
	if ((r = wait_last_init(fd)) < 0)
		return r;
	char buf[64];
	int w = snprintf(buf, sizeof(buf), LOCK_LINE, (int)getpid(), 0, 0ULL);
	if (pwrite(fd, buf, (size_t)w, 0) != w)
		errno = 0;
	return TAKE_FD(fd);
}

void box_lock_note_init(int fd, pid_t init)
{
	char buf[64];
	int w = snprintf(buf, sizeof(buf), "%10d %20llu\n", (int)init, live_start_time(init));
	if (fd >= 0 && pwrite(fd, buf, (size_t)w, LOCK_INIT_AT) != w)
		errno = 0;
}

bool box_in_use(const struct box *b, pid_t *ret_holder)
{
	_cleanup_close_ int fd = box_lock(b, ret_holder);
	return fd == -EBUSY;
}

int box_foreach(const char *state, int (*fn)(const struct box *b, void *ctx), void *ctx)
{
	char boxes[PATH_MAX];
	int r = path_join(boxes, sizeof(boxes), state, "boxes");
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = open(boxes, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	char **names = NULL;
	size_t n = 0;
	r = fs_dir_names(dfd, box_name_valid, SIZE_MAX, &names, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct box b;
		if (box_load(state, names[i], &b) == 0)
			r = fn(&b, ctx) < 0 ? -ECANCELED : 0;
	}
	strv_free_n(names, n);
	return r;
}

int box_remove(const struct box *b)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(b->dir, '/');
	if (!slash)
		return -EINVAL;
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - b->dir), b->dir);
	_cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	_cleanup_close_ int dfd =
	    openat(pfd, b->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	/* Never remove the tree through a mount: the image is unmounted (and
	 * its loop device freed) first. */
	int r = diskcap_unmount(dfd);
	if (r < 0)
		return r;
	r = fs_remove_tree_at(pfd, b->name);
	if (r < 0)
		return r;
	return fsync(pfd) < 0 ? -errno : 0;
}

int box_reset(const struct box *b)
{
	_cleanup_close_ int dfd = open(b->data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	static const char *const dirs[] = { "upper", "work" };
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		_cleanup_close_ int fd =
		    openat(dfd, dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		int r = fs_clear_dir(fd);
		if (r < 0)
			return r;
	}
	return 0;
}

int box_reset_home(const struct box *b)
{
	char path[PATH_MAX];
	int r = path_join(path, sizeof(path), b->data, "home");
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fs_clear_dir(fd);
}
