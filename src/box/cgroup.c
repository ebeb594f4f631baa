#include "util/common.h"

#include "box/cgroup.h"
#include "util/fs.h"

#include <dirent.h>
#include <signal.h>

/* The caller's path within one v1 controller, from /proc/self/cgroup. */
static int own_path(const char *controller, char *out, size_t n)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[PATH_MAX + 64];
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		bool match = false;
		char *list = c1 + 1, *save = NULL;
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
			match |= STREQ(t, controller);
		if (!match)
			continue;
		char *p = c2 + 1;
		p[strcspn(p, "\n")] = '\0';
		snprintf(out, n, "%s", STREQ(p, "/") ? "" : p);
		return 0;
	}
	return -ENOENT;
}

static int write_str(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX];
	int r = path_join(path, sizeof(path), dir, file);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fs_write_all(fd, val, strlen(val));
}

static int make_one(const char *controller, const char *name, const char *file, uint64_t value,
		    char *dir, size_t n)
{
	char own[PATH_MAX], val[32];
	int r = own_path(controller, own, sizeof(own));
	if (r < 0)
		return r;
	int w = snprintf(dir, n, "/sys/fs/cgroup/%s%s/clawbox-%s-%d", controller, own, name,
			 (int)getpid());
	if (w < 0 || (size_t)w >= n)
		return -ENAMETOOLONG;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		dir[0] = '\0';
		return r;
	}
	snprintf(val, sizeof(val), "%llu", (unsigned long long)value);
	if ((r = write_str(dir, file, val)) < 0) {
		rmdir(dir);
		dir[0] = '\0';
	}
	return r;
}

int cgroup_create(struct cgroup_limits *c, const char *name, struct error *err)
{
	int r;
	c->memory_dir[0] = c->pids_dir[0] = '\0';
	if (c->memory) {
		r = make_one("memory", name, "memory.limit_in_bytes", c->memory, c->memory_dir,
			     sizeof(c->memory_dir));
		if (r < 0)
			return error_errno(err, r, "create the memory cgroup for the box");
	}
	if (c->pids) {
		r = make_one("pids", name, "pids.max", c->pids, c->pids_dir, sizeof(c->pids_dir));
		if (r < 0) {
			cgroup_destroy(c);
			return error_errno(err, r, "create the pids cgroup for the box");
		}
	}
	return 0;
}

int cgroup_attach(const struct cgroup_limits *c, pid_t pid)
{
	char val[32];
	int r;
	snprintf(val, sizeof(val), "%d", (int)pid);
	if (c->memory_dir[0] && (r = write_str(c->memory_dir, "cgroup.procs", val)) < 0)
		return r;
	if (c->pids_dir[0] && (r = write_str(c->pids_dir, "cgroup.procs", val)) < 0)
		return r;
	return 0;
}

void cgroup_destroy(struct cgroup_limits *c)
{
	char *dirs[] = { c->memory_dir, c->pids_dir };
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		if (!dirs[i][0])
			continue;
		/* Tasks of an ended pid namespace may take a moment to leave. */
		for (int tries = 0; tries < 100 && rmdir(dirs[i]) < 0 && errno == EBUSY; tries++)
			usleep(2000);
		dirs[i][0] = '\0';
	}
}

/* "clawbox-...-PID" of a clawbox that is gone: its pid, else 0. */
static pid_t dead_owner(const char *name)
{
	const char *dash = strrchr(name, '-');
	char *end;
	if (strncmp(name, "clawbox-", 8) != 0 || !dash || !dash[1])
		return 0;
	long pid = strtol(dash + 1, &end, 10);
	if (*end || pid <= 0 || pid > INT_MAX)
		return 0;
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return (pid_t)pid;
	/* A zombie is gone too (its parent may be slow to reap it). */
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (fs_read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'Z' ? (pid_t)pid : 0;
}

void cgroup_sweep(void)
{
	static const char *const controllers[] = { "memory", "pids" };
	for (size_t i = 0; i < ELEMENTSOF(controllers); i++) {
		char own[PATH_MAX], dir[PATH_MAX];
		if (own_path(controllers[i], own, sizeof(own)) < 0)
			continue;
		snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s%s", controllers[i], own);
		DIR *d = opendir(dir);
		if (!d)
			continue;
		for (struct dirent *e; (e = readdir(d));)
			if (e->d_type == DT_DIR && dead_owner(e->d_name))
				unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR); /* only when empty */
		closedir(d);
	}
}
