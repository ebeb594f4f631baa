#include "util/common.h"
#include "util/fdpass.h"
#include "util/sockdiag.h"

#include "net/sockowner.h"

#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

struct sockowner {
	pthread_mutex_t lock; /* guards diag, tried, seq, last */
	int netns;
	int diag; /* NETLINK_SOCK_DIAG in the box's netns; -1 until opened */
	bool tried;
	uint32_t seq;
	pid_t init;
	int last; /* /proc/PID of the last holder found, or -1 */
	struct sockowner_pid last_pid;
};

int sockowner_new(int netns, int diag, pid_t init_pid, struct sockowner **ret)
{
	_cleanup_close_ int ns = netns, dg = diag;
	struct sockowner *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	pthread_mutex_init(&o->lock, NULL);
	o->tried = dg >= 0;
	o->netns = TAKE_FD(ns);
	o->diag = TAKE_FD(dg);
	o->init = init_pid;
	o->last = -1;
	*ret = o;
	return 0;
}

struct sockowner *sockowner_free(struct sockowner *o)
{
	if (!o)
		return NULL;
	closep(&o->netns);
	closep(&o->diag);
	closep(&o->last);
	pthread_mutex_destroy(&o->lock);
	free(o);
	return NULL;
}

/* The child of open_diag(): join the box's user namespace (its owner holds
 * every capability there, so this needs no root), then its network
 * namespace, open the socket there and send it back. Only system calls:
 * the parent has threads. */
static _noreturn_ void diag_child(int userns, int netns, int chan)
{
	int fd = -1;
	if (setns(userns, CLONE_NEWUSER) == 0 && setns(netns, CLONE_NEWNET) == 0)
		fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	_exit(fdpass_send(chan, fd >= 0 ? 'F' : 'E', &fd, fd >= 0 ? 1 : 0) == 0 ? 0 : 1);
}

/* A NETLINK_SOCK_DIAG socket in the namespace netns. */
static int open_diag(int netns)
{
	_cleanup_close_ int userns = ioctl(netns, NS_GET_USERNS);
	int sp[2];
	if (userns < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	_cleanup_close_ int chan = sp[0], child_end = sp[1];
	pid_t pid = fork();
	if (pid == 0)
		diag_child(userns, netns, child_end);
	if (pid < 0)
		return -errno;
	close(TAKE_FD(child_end));
	char tag = 0;
	_cleanup_close_ int fd = -1;
	int k = fdpass_recv(chan, &tag, &fd, 1);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return k == 1 && tag == 'F' ? TAKE_FD(fd) : -EPERM;
}

/* One exact-match request on the diag socket (under o->lock): the inode
 * of the box's socket. */
static int diag_inode(struct sockowner *o, int proto, const struct sockaddr_storage *box_end,
		      const struct sockaddr_storage *proxy_end, uint64_t *ret)
{
	struct inet_diag_msg msg;
	int r = sockdiag_find(o->diag, ++o->seq, proto, box_end, proxy_end, &msg);
	if (r == 0)
		*ret = msg.idiag_inode;
	return r;
}

/* Whether the process of pdir (its /proc/PID) has an fd on want
 * ("socket:[N]"). Newest fds first: a client's socket is usually its
 * latest. Reads the fd numbers with getdents64 into the stack (no
 * allocation), at most FD_SCAN_MAX of them. */
#define FD_SCAN_MAX 4096
static bool holds(int pdir, const char *want)
{
	_cleanup_close_ int dfd = openat(pdir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char b[8192];
	unsigned fds[FD_SCAN_MAX];
	size_t n = 0, wl = strlen(want);
	ssize_t k;
	if (dfd < 0)
		return false;
	while (n < FD_SCAN_MAX && (k = getdents64(dfd, b, sizeof(b))) > 0) {
		for (ssize_t off = 0; off < k && n < FD_SCAN_MAX;) {
			struct dirent64 *e = (struct dirent64 *)(b + off);
			off += e->d_reclen;
			char *end;
			unsigned long v = strtoul(e->d_name, &end, 10);
			if (e->d_name[0] != '.' && !*end && v <= UINT_MAX)
				fds[n++] = (unsigned)v;
		}
	}
	while (n > 0) {
		char name[16], link[64];
		snprintf(name, sizeof(name), "%u", fds[--n]);
		ssize_t l = readlinkat(dfd, name, link, sizeof(link));
		if (l == (ssize_t)wl && memcmp(link, want, wl) == 0)
			return true;
	}
	return false;
}

/* Append the pids in the children file at path to v (at most max). */
static void add_children(const char *path, pid_t *v, size_t *n, size_t max)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char b[4096];
	long cur = -1;
	ssize_t k;
	if (fd < 0)
		return;
	while ((k = read(fd, b, sizeof(b))) > 0) {
		for (ssize_t i = 0; i < k; i++) {
			if (b[i] >= '0' && b[i] <= '9') {
				cur = (cur < 0 ? 0 : cur * 10) + (b[i] - '0');
				if (cur > INT_MAX)
					return;
				continue;
			}
			if (cur > 0 && *n < max)
				v[(*n)++] = (pid_t)cur;
			cur = -1;
		}
	}
	if (cur > 0 && *n < max)
		v[(*n)++] = (pid_t)cur;
}

/* Append the children of every thread of pid to v. */
static void add_descendants(pid_t pid, pid_t *v, size_t *n, size_t max)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)) && *n < max) {
		if (e->d_name[0] == '.')
			continue;
		char cp[96];
		snprintf(cp, sizeof(cp), "/proc/%d/task/%s/children", (int)pid, e->d_name);
		add_children(cp, v, n, max);
	}
	closedir(d);
}

/* The process of pdir as its own pid namespace sees it: the last field
 * of NSpid. */
static pid_t inner_pid(int pdir)
{
	char b[2048];
	_cleanup_close_ int fd = openat(pdir, "status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t k = read(fd, b, sizeof(b) - 1);
	if (k <= 0)
		return -1;
	b[k] = '\0';
	char *line = strstr(b, "\nNSpid:");
	if (!line)
		return -1;
	char *end = strchr(line + 1, '\n');
	if (!end)
		return -1;
	while (end > line && (end[-1] < '0' || end[-1] > '9'))
		end--;
	char *start = end;
	while (start > line && start[-1] >= '0' && start[-1] <= '9')
		start--;
	long v = 0;
	for (char *c = start; c < end && v <= INT_MAX; c++)
		v = v * 10 + (*c - '0');
	return start < end && v <= INT_MAX ? (pid_t)v : -1;
}

/* 1 when the process of pdir (host pid host) holds want, with ret
 * filled; 0 when not. A /proc/PID fd stays with its process: once that
 * exits, nothing under it opens, even if the pid is reused. */
static int check(int pdir, pid_t host, const char *want, struct sockowner_pid *ret)
{
	if (!holds(pdir, want))
		return 0;
	pid_t inner = inner_pid(pdir);
	if (inner <= 0)
		return 0;
	*ret = (struct sockowner_pid){ .pid = inner, .host_pid = host };
	return 1;
}

/* Breadth first from the init (which holds no client socket of its own),
 * nearest processes first. On success *ret_dir is the holder's /proc/PID. */
static int find_holder(pid_t init, const char *want, struct sockowner_pid *ret, int *ret_dir)
{
	_cleanup_free_ pid_t *v = malloc(SOCKOWNER_MAX_PROCS * sizeof(*v));
	size_t n = 0;
	if (!v)
		return -ENOMEM;
	add_descendants(init, v, &n, SOCKOWNER_MAX_PROCS);
	for (size_t i = 0; i < n; i++) {
		char path[32];
		snprintf(path, sizeof(path), "/proc/%d", (int)v[i]);
		_cleanup_close_ int pdir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (pdir < 0)
			continue;
		if (check(pdir, v[i], want, ret) > 0) {
			*ret_dir = TAKE_FD(pdir);
			return 0;
		}
		add_descendants(v[i], v, &n, SOCKOWNER_MAX_PROCS);
	}
	return -ESRCH;
}

int sockowner_find(struct sockowner *o, int proto, const struct sockaddr_storage *box_end,
		   const struct sockaddr_storage *proxy_end, struct sockowner_pid *ret)
{
	uint64_t ino = 0;
	int r;
	pthread_mutex_lock(&o->lock);
	if (o->diag < 0 && !o->tried) {
		o->tried = true;
		o->diag = open_diag(o->netns);
	}
	r = o->diag < 0 ? o->diag : diag_inode(o, proto, box_end, proxy_end, &ino);
	/* The last holder first: one process usually makes many connections. */
	_cleanup_close_ int last = o->last >= 0 ? fcntl(o->last, F_DUPFD_CLOEXEC, 3) : -1;
	struct sockowner_pid last_pid = o->last_pid;
	pthread_mutex_unlock(&o->lock);
	if (r < 0)
		return r;
	char want[48];
	snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)ino);
	if (last >= 0 && holds(last, want)) {
		*ret = last_pid;
		return 0;
	}
	int dir = -1;
	if ((r = find_holder(o->init, want, ret, &dir)) < 0)
		return r;
	pthread_mutex_lock(&o->lock);
	closep(&o->last);
	o->last = dir;
	o->last_pid = *ret;
	pthread_mutex_unlock(&o->lock);
	return 0;
}
