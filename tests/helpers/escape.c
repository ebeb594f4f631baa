/* Escape attempts run from inside a box by tests/integration/t-escape.sh.
 *
 *   escape ATTEMPT [ARG...]
 *
 * Each attempt is a real try at leaving the box or touching the host, made
 * with raw system calls (the helper is static and needs nothing from the
 * box). It prints one line saying what happened and exits:
 *   0  the attempt SUCCEEDED (an escape, unless the test expects it),
 *   1  the attempt was blocked (the line names the call and its error),
 *   2  usage or an internal error of the helper itself.
 * Attempts the kernel answers by killing the process (seccomp's bad-arch
 * action) end with SIGSYS; the test sees 128+31 from clawbox. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/sched.h>

#define ESCAPED 0
#define BLOCKED 1
#define HELPER_ERROR 2

static int escaped(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int escaped(const char *fmt, ...)
{
	va_list ap;
	printf("ESCAPED: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return ESCAPED;
}

/* The call failed: report it with errno. */
static int blocked(const char *what)
{
	int e = errno;
	printf("blocked: %s: %s (errno %d)\n", what, strerror(e), e);
	fflush(stdout);
	return BLOCKED;
}

/* A syscall's result: >= 0 is an escape, < 0 is blocked. */
static int verdict(long r, const char *what)
{
	if (r >= 0)
		return escaped("%s returned %ld", what, r);
	return blocked(what);
}

static int usage(void)
{
	fprintf(stderr, "usage: escape ATTEMPT [ARG...] (see the source)\n");
	return HELPER_ERROR;
}

static unsigned long parse_ul(const char *s)
{
	return strtoul(s, NULL, 0);
}

/* ---------------------------------------------------------------- files */

static int do_write(const char *path, const char *text, int flags)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC | flags, 0644);
	if (fd < 0)
		return blocked("open for writing");
	ssize_t n = syscall(SYS_write, fd, text, strlen(text));
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return blocked("write");
	}
	return escaped("wrote %zd bytes to %s", n, path);
}

/* Open an existing file for writing, without writing a byte: enough to
 * show a host knob (/proc/sys, /sys, sysrq-trigger) is reachable, and
 * harmless if it ever is. */
static int do_open_w(const char *path)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return blocked("open for writing");
	close(fd);
	return escaped("opened %s for writing", path);
}

/* Every fd of another process through /proc/PID/fd/N: following any of
 * them (readlink, open, or a path beneath a directory fd) is an escape. */
static int do_procfds(const char *pid)
{
	char dir[64], path[PATH_MAX], link[PATH_MAX];
	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	DIR *d = opendir(dir);
	int tried = 0;
	if (!d)
		return blocked("opendir /proc/PID/fd");
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		tried++;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n >= 0) {
			link[n] = '\0';
			closedir(d);
			return escaped("readlink %s -> %s", path, link);
		}
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			closedir(d);
			return escaped("opened %s", path);
		}
		snprintf(path, sizeof(path), "%s/%s/.", dir, de->d_name);
		struct stat st;
		if (stat(path, &st) == 0) {
			closedir(d);
			return escaped("walked through %s", path);
		}
	}
	closedir(d);
	printf("blocked: none of the %d fds of %s could be followed\n", tried, dir);
	return BLOCKED;
}

static int do_read(const char *path)
{
	char buf[4096];
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return blocked("open for reading");
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return blocked("read");
	}
	if (n == 0) {
		printf("blocked: %s reads empty\n", path);
		return BLOCKED;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return escaped("read %zd bytes from %s: %.60s", n, path, buf);
}

/* Any entry besides . and .. is an escape. */
static int do_list(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return blocked("opendir");
	struct dirent *de;
	int n = 0;
	char first[256] = "";
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!n++)
			snprintf(first, sizeof(first), "%s", de->d_name);
	}
	closedir(d);
	if (n == 0) {
		printf("blocked: %s is empty\n", path);
		return BLOCKED;
	}
	return escaped("%s lists %d entries, first %s", path, n, first);
}

static int do_exists(const char *path)
{
	struct stat st;
	if (syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) < 0)
		return blocked("stat");
	return escaped("%s exists (inode %lu)", path, (unsigned long)st.st_ino);
}

static int do_kallsyms(void)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512];
	int lines = 0;
	if (!f)
		return blocked("open /proc/kallsyms");
	while (lines < 200 && fgets(line, sizeof(line), f)) {
		lines++;
		if (strtoull(line, NULL, 16) != 0) {
			fclose(f);
			return escaped("/proc/kallsyms shows an address: %.40s", line);
		}
	}
	fclose(f);
	printf("blocked: %d lines of /proc/kallsyms, every address zero\n", lines);
	return lines ? BLOCKED : HELPER_ERROR;
}

/* Reading a page of /proc/kcore (or /dev/mem, /dev/kmem, /dev/port). */
static int do_rawmem(const char *path)
{
	char buf[512];
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return blocked("open");
	ssize_t n = read(fd, buf, sizeof(buf));
	int e = errno;
	close(fd);
	errno = e;
	return verdict(n, "read");
}

/* The setuid bit on the file and nosuid on its mount. */
static int do_suidinfo(const char *path)
{
	struct stat st;
	struct statvfs sv;
	if (stat(path, &st) < 0 || statvfs(path, &sv) < 0) {
		perror(path);
		return HELPER_ERROR;
	}
	printf("%s: mode %o uid %u, mount %s\n", path, st.st_mode & 07777, st.st_uid,
	       (sv.f_flag & ST_NOSUID) ? "nosuid" : "suid");
	if ((st.st_mode & S_ISUID) && !(sv.f_flag & ST_NOSUID))
		return escaped("setuid file on a suid mount");
	printf("blocked: the setuid bit would be ignored here\n");
	return BLOCKED;
}

/* Capabilities and no_new_privs of this process: any capability is an escape. */
static int do_caps(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int bad = 0;
	if (!f) {
		perror("/proc/self/status");
		return HELPER_ERROR;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (!strncmp(line, "Cap", 3) && sscanf(strchr(line, ':') + 1, "%llx", &v) == 1) {
			printf("%s", line);
			bad |= v != 0;
		}
		if (!strncmp(line, "Uid:", 4) || !strncmp(line, "NoNewPrivs:", 11) ||
		    !strncmp(line, "Seccomp:", 8))
			printf("%s", line);
	}
	fclose(f);
	if (bad)
		return escaped("this process holds capabilities");
	printf("blocked: no capabilities\n");
	return BLOCKED;
}

/* ---------------------------------------------------- mounts and namespaces */

static int do_mount(const char *kind, int argc, char **argv)
{
	long r;
	if (!strcmp(kind, "tmpfs") && argc >= 1)
		r = syscall(SYS_mount, "tmpfs", argv[0], "tmpfs", 0UL, "size=1m");
	else if (!strcmp(kind, "bind") && argc >= 2)
		r = syscall(SYS_mount, argv[0], argv[1], NULL, (unsigned long)(MS_BIND | MS_REC), NULL);
	else if (!strcmp(kind, "proc") && argc >= 1)
		r = syscall(SYS_mount, "proc", argv[0], "proc", 0UL, NULL);
	else if (!strcmp(kind, "remount") && argc >= 1)
		r = syscall(SYS_mount, NULL, argv[0], NULL, (unsigned long)(MS_REMOUNT | MS_BIND), NULL);
	else
		return usage();
	return verdict(r, "mount");
}

static int do_newmount(const char *kind, const char *path)
{
	long r;
	if (!strcmp(kind, "fsopen"))
		r = syscall(SYS_fsopen, "tmpfs", 0UL);
	else if (!strcmp(kind, "open_tree"))
		r = syscall(SYS_open_tree, AT_FDCWD, path, 1UL /* OPEN_TREE_CLONE */);
	else if (!strcmp(kind, "mount_setattr")) {
		uint64_t attr[4] = {0, 1 /* clear MOUNT_ATTR_RDONLY */, 0, 0};
		r = syscall(SYS_mount_setattr, AT_FDCWD, path, 0UL, attr, sizeof(attr));
	} else if (!strcmp(kind, "fspick"))
		r = syscall(SYS_fspick, AT_FDCWD, path, 0UL);
	else
		return usage();
	return verdict(r, kind);
}

static unsigned long ns_flag(const char *name)
{
	static const struct {
		const char *name;
		unsigned long flag;
	} t[] = {{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},	      {"net", CLONE_NEWNET},
		 {"pid", CLONE_NEWPID},	  {"ipc", CLONE_NEWIPC},      {"uts", CLONE_NEWUTS},
		 {"cgroup", CLONE_NEWCGROUP}, {"time", 0x00000080UL}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(name, t[i].name))
			return t[i].flag;
	return 0;
}

/* A child made with namespace flags exits at once; its birth is the escape. */
static int do_clone(unsigned long flags)
{
	long r = syscall(SYS_clone, flags | SIGCHLD, 0UL, NULL, NULL, 0UL);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return verdict(r, "clone");
}

static int do_clone3(unsigned long flags)
{
	struct clone_args a;
	memset(&a, 0, sizeof(a));
	a.flags = flags;
	a.exit_signal = SIGCHLD;
	long r = syscall(SYS_clone3, &a, sizeof(a));
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return verdict(r, "clone3");
}

static int do_setns(const char *path)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return blocked("open the namespace file");
	return verdict(syscall(SYS_setns, fd, 0L), "setns");
}

/* ---------------------------------------------------- other processes */

static int do_ptrace(pid_t pid)
{
	long r = syscall(SYS_ptrace, 16L /* PTRACE_ATTACH */, (long)pid, 0L, 0L);
	if (r < 0) {
		printf("blocked: PTRACE_ATTACH: %s\n", strerror(errno));
		r = syscall(SYS_ptrace, 0x4206L /* PTRACE_SEIZE */, (long)pid, 0L, 0L);
	}
	return verdict(r, "PTRACE_SEIZE");
}

static int do_vmread(pid_t pid, unsigned long addr)
{
	char buf[64];
	struct iovec local = {buf, sizeof(buf)}, remote = {(void *)addr, sizeof(buf)};
	return verdict(syscall(SYS_process_vm_readv, (long)pid, &local, 1UL, &remote, 1UL, 0UL),
		       "process_vm_readv");
}

/* Write into another process's memory through /proc/PID/mem. */
static int do_procmem(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return blocked("open /proc/PID/mem");
	close(fd);
	return escaped("opened %s read-write", path);
}

static int do_sibling_ptrace(void)
{
	pid_t child = fork();
	if (child < 0)
		return blocked("fork");
	if (child == 0) {
		for (int i = 0; i < 100; i++)
			usleep(50000);
		_exit(0);
	}
	int r = do_ptrace(child);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return r;
}

/* ---------------------------------------------------- the kernel */

static int do_kernel(const char *what)
{
	long r;
	if (!strcmp(what, "init_module")) {
		static char img[64] = "\177ELF";
		r = syscall(SYS_init_module, img, sizeof(img), "");
	} else if (!strcmp(what, "finit_module")) {
		int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		r = syscall(SYS_finit_module, fd, "", 0);
	} else if (!strcmp(what, "delete_module")) {
		r = syscall(SYS_delete_module, "loop", O_NONBLOCK);
	} else if (!strcmp(what, "kexec_load")) {
		r = syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL);
	} else if (!strcmp(what, "kexec_file_load")) {
		int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		r = syscall(SYS_kexec_file_load, fd, fd, 1UL, "", 0UL);
	} else if (!strcmp(what, "bpf")) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_ARRAY;
		a.key_size = 4;
		a.value_size = 4;
		a.max_entries = 1;
		r = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a));
	} else if (!strcmp(what, "perf_event_open")) {
		struct perf_event_attr a;
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_CPU_CLOCK;
		/* every process on cpu 0: what a host snoop would need */
		r = syscall(SYS_perf_event_open, &a, -1, 0, -1, 0UL);
		if (r < 0) {
			printf("blocked: perf_event_open(cpu 0): %s\n", strerror(errno));
			r = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0UL);
		}
	} else if (!strcmp(what, "userfaultfd")) {
		r = syscall(SYS_userfaultfd, (long)(O_CLOEXEC | O_NONBLOCK));
	} else if (!strcmp(what, "io_uring_setup")) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		r = syscall(SYS_io_uring_setup, 4L, &p);
	} else if (!strcmp(what, "keyctl")) {
		r = syscall(SYS_keyctl, (long)KEYCTL_GET_KEYRING_ID, (long)KEY_SPEC_USER_KEYRING, 0L);
	} else if (!strcmp(what, "add_key")) {
		r = syscall(SYS_add_key, "user", "clawbox-escape", "x", 1UL,
			    (long)KEY_SPEC_USER_KEYRING);
	} else if (!strcmp(what, "request_key")) {
		r = syscall(SYS_request_key, "user", "clawbox-escape", NULL,
			    (long)KEY_SPEC_USER_KEYRING);
	} else if (!strcmp(what, "iopl")) {
		r = syscall(SYS_iopl, 3L);
	} else if (!strcmp(what, "ioperm")) {
		r = syscall(SYS_ioperm, 0x70UL, 2UL, 1L);
	} else if (!strcmp(what, "syslog")) {
		char buf[256];
		r = syscall(SYS_syslog, 3L /* SYSLOG_ACTION_READ_ALL */, buf, (long)sizeof(buf));
	} else if (!strcmp(what, "reboot")) {
		/* CAD_OFF: harmless if it ever passed */
		r = syscall(SYS_reboot, 0xfee1deadL, 672274793L, 0L /* LINUX_REBOOT_CMD_CAD_OFF */,
			    NULL);
	} else if (!strcmp(what, "settimeofday")) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r = syscall(SYS_clock_settime, (long)CLOCK_REALTIME, &ts);
	} else if (!strcmp(what, "swapon")) {
		r = syscall(SYS_swapon, "/workspace/escape", 0L);
	} else {
		return usage();
	}
	return verdict(r, what);
}

/* name_to_handle_at on a file, then open_by_handle_at with a handle for the
 * root inode of an ext4 file system (the "shocker" attack). */
static int do_handles(const char *what, const char *path)
{
	struct {
		unsigned int handle_bytes;
		int handle_type;
		unsigned char f_handle[128];
	} h;
	int mnt = -1;
	memset(&h, 0, sizeof(h));
	h.handle_bytes = sizeof(h.f_handle);
	if (!strcmp(what, "name_to_handle_at"))
		return verdict(syscall(SYS_name_to_handle_at, AT_FDCWD, path, &h, &mnt, 0L),
			       "name_to_handle_at");
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		perror(path);
		return HELPER_ERROR;
	}
	h.handle_bytes = 8;
	h.handle_type = 1; /* FILEID_INO32_GEN */
	uint32_t ino = 2, gen = 0;
	memcpy(h.f_handle, &ino, 4);
	memcpy(h.f_handle + 4, &gen, 4);
	return verdict(syscall(SYS_open_by_handle_at, dfd, &h, (long)O_RDONLY), "open_by_handle_at");
}

/* ---------------------------------------------------- terminals and network */

/* Push text into the input queue of fd's terminal. cmd_high sets bits above
 * the 32 the kernel looks at, to test the filter compares only those. */
static int do_tiocsti(int fd, const char *text, int high)
{
	unsigned long cmd = TIOCSTI | (high ? 0x100000000UL : 0);
	int pushed = 0;
	for (const char *p = text; *p; p++) {
		char c = *p == '~' ? '\n' : *p;
		if (syscall(SYS_ioctl, fd, cmd, &c) < 0)
			break;
		pushed++;
	}
	if (pushed)
		return escaped("pushed %d bytes into the terminal of fd %d", pushed, fd);
	return blocked("ioctl TIOCSTI");
}

static int do_connect_tcp(const char *ip, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return usage();
	int s = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return blocked("socket");
	struct timeval tv = {3, 0};
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (syscall(SYS_connect, s, &a, sizeof(a)) < 0)
		return blocked("connect");
	const char req[] = "GET / HTTP/1.0\r\n\r\n";
	(void)!write(s, req, sizeof(req) - 1);
	char buf[128] = "";
	ssize_t n = read(s, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return escaped("connected to %s:%d, got \"%s\"", ip, port, buf);
}

static int do_connect_udp(const char *ip, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return usage();
	int s = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return blocked("socket");
	if (syscall(SYS_connect, s, &a, sizeof(a)) < 0)
		return blocked("connect");
	return verdict(send(s, "x", 1, 0), "send");
}

/* socket(family, type, proto) and, for family AF_UNIX-less tests,
 * socketpair(family, type, 0) with "pair": a socket is an escape (the
 * family is reachable from the box). Blocked with the call's errno. */
static int do_socket(long family, int type, int proto, bool pair)
{
	int sv[2];
	long r = pair ? syscall(SYS_socketpair, family, (long)type, (long)proto, (long)sv)
		      : syscall(SYS_socket, family, (long)type, (long)proto);
	if (r < 0)
		return blocked(pair ? "socketpair" : "socket");
	return escaped("%s(%ld, %d, %d) succeeded", pair ? "socketpair" : "socket", family, type,
		       proto);
}

static int do_connect_unix(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	socklen_t len = sizeof(a);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (path[0] == '@') { /* abstract */
		a.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	}
	int s = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return blocked("socket");
	if (syscall(SYS_connect, s, &a, len) < 0)
		return blocked("connect");
	char buf[128] = "";
	ssize_t n = read(s, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return escaped("connected to %s, got \"%s\"", path, buf);
}

/* ---------------------------------------------------- other ABIs */

/* The x32 ABI: x86_64 numbers with bit 30 set. */
static int do_x32(const char *what)
{
	const long X32 = 0x40000000L;
	long r;
	if (!strcmp(what, "unshare"))
		r = syscall(X32 | SYS_unshare, (long)CLONE_NEWUSER);
	else if (!strcmp(what, "mount"))
		r = syscall(X32 | SYS_mount, "tmpfs", "/tmp", "tmpfs", 0L, NULL);
	else if (!strcmp(what, "getpid"))
		r = syscall(X32 | SYS_getpid);
	else
		return usage();
	return verdict(r, "x32 syscall");
}

/* The i386 ABI through int $0x80 (numbers of arch/x86/entry/syscalls/syscall_32.tbl). */
static long int80(long nr, long a, long b, long c, long d, long e)
{
	long r;
	__asm__ volatile("push %%rbx\n\tmov %2, %%rbx\n\tint $0x80\n\tpop %%rbx"
			 : "=a"(r)
			 : "a"(nr), "r"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory", "r8", "r9", "r10", "r11");
	return r;
}

static int do_int80(const char *what)
{
	/* strings below 4 GiB, as the 32-bit ABI needs */
	char *low = mmap((void *)0x10000000, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT | MAP_FIXED_NOREPLACE, -1, 0);
	long r;
	if (low == MAP_FAILED) {
		perror("mmap");
		return HELPER_ERROR;
	}
	strcpy(low, "tmpfs");
	strcpy(low + 16, "/tmp");
	if (!strcmp(what, "unshare"))
		r = int80(310, CLONE_NEWUSER, 0, 0, 0, 0);
	else if (!strcmp(what, "mount"))
		r = int80(21, (long)low, (long)low + 16, (long)low, 0, 0);
	else if (!strcmp(what, "getpid"))
		r = int80(20, 0, 0, 0, 0, 0);
	else
		return usage();
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return blocked("int $0x80");
	}
	return escaped("int $0x80 %s returned %ld", what, r);
}

/* ---------------------------------------------------- resources */

/* Write 1 MiB chunks to path until an error; more than limit_mb is an escape. */
static int do_fill(const char *path, unsigned long limit_mb)
{
	static char chunk[1 << 20];
	memset(chunk, 'x', sizeof(chunk));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return blocked("open");
	unsigned long mb = 0;
	for (; mb <= limit_mb; mb++) {
		ssize_t n = write(fd, chunk, sizeof(chunk));
		if (n < (ssize_t)sizeof(chunk)) {
			int e = n < 0 ? errno : ENOSPC;
			close(fd);
			printf("wrote %lu MiB\n", mb);
			errno = e;
			return blocked("write");
		}
	}
	close(fd);
	return escaped("wrote %lu MiB, past the limit of %lu MiB", mb, limit_mb);
}

/* Fork up to n children that sleep; forking all of them is an escape. The
 * children are killed and reaped before the verdict. */
static int do_forkbomb(unsigned long n)
{
	pid_t *kids = calloc(n ? n : 1, sizeof(*kids));
	unsigned long made = 0;
	if (!kids)
		return HELPER_ERROR;
	for (; made < n; made++) {
		pid_t p = fork();
		if (p < 0)
			break;
		if (p == 0) {
			sleep(30);
			_exit(0);
		}
		kids[made] = p;
	}
	int e = errno;
	for (unsigned long i = 0; i < made; i++)
		kill(kids[i], SIGKILL);
	for (unsigned long i = 0; i < made; i++)
		waitpid(kids[i], NULL, 0);
	free(kids);
	printf("forked %lu of %lu\n", made, n);
	if (made == n)
		return escaped("forked all %lu children", n);
	errno = e;
	return blocked("fork");
}

/* Allocate and touch mb MiB; surviving it is an escape. */
static int do_alloc(unsigned long mb)
{
	size_t len = mb << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return blocked("mmap");
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	return escaped("allocated and touched %lu MiB", mb);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *a = argv[1];
	int n = argc - 2;
	char **v = argv + 2;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!strcmp(a, "write") && n >= 1)
		return do_write(v[0], n >= 2 ? v[1] : "escaped\n", O_CREAT | O_TRUNC);
	if (!strcmp(a, "append") && n >= 2)
		return do_write(v[0], v[1], O_APPEND);
	if (!strcmp(a, "open-w") && n >= 1)
		return do_open_w(v[0]);
	if (!strcmp(a, "procfds") && n >= 1)
		return do_procfds(v[0]);
	if (!strcmp(a, "mkdir") && n >= 1)
		return verdict(syscall(SYS_mkdirat, AT_FDCWD, v[0], 0755), "mkdir");
	if (!strcmp(a, "unlink") && n >= 1)
		return verdict(syscall(SYS_unlinkat, AT_FDCWD, v[0], 0), "unlink");
	if (!strcmp(a, "setxattr") && n >= 3)
		return verdict(syscall(SYS_lsetxattr, v[0], v[1], v[2], strlen(v[2]), 0L),
			       "setxattr");
	if (!strcmp(a, "symlink") && n >= 2)
		return verdict(syscall(SYS_symlinkat, v[0], AT_FDCWD, v[1]), "symlink");
	if (!strcmp(a, "read") && n >= 1)
		return do_read(v[0]);
	if (!strcmp(a, "list") && n >= 1)
		return do_list(v[0]);
	if (!strcmp(a, "exists") && n >= 1)
		return do_exists(v[0]);
	if (!strcmp(a, "kallsyms"))
		return do_kallsyms();
	if (!strcmp(a, "rawmem") && n >= 1)
		return do_rawmem(v[0]);
	if (!strcmp(a, "suidinfo") && n >= 1)
		return do_suidinfo(v[0]);
	if (!strcmp(a, "caps"))
		return do_caps();
	if (!strcmp(a, "mount") && n >= 1)
		return do_mount(v[0], n - 1, v + 1);
	if (!strcmp(a, "umount") && n >= 1)
		return verdict(syscall(SYS_umount2, v[0], (long)MNT_DETACH), "umount2");
	if (!strcmp(a, "newmount") && n >= 2)
		return do_newmount(v[0], v[1]);
	if (!strcmp(a, "pivot_root") && n >= 2)
		return verdict(syscall(SYS_pivot_root, v[0], v[1]), "pivot_root");
	if (!strcmp(a, "chroot") && n >= 1) {
		if (syscall(SYS_mkdirat, AT_FDCWD, v[0], 0755) < 0 && errno != EEXIST)
			return blocked("mkdir");
		return verdict(syscall(SYS_chroot, v[0]), "chroot");
	}
	if (!strcmp(a, "unshare") && n >= 1 && ns_flag(v[0]))
		return verdict(syscall(SYS_unshare, ns_flag(v[0])), "unshare");
	if (!strcmp(a, "clone") && n >= 1 && ns_flag(v[0]))
		return do_clone(ns_flag(v[0]));
	if (!strcmp(a, "clone3") && n >= 1 && ns_flag(v[0]))
		return do_clone3(ns_flag(v[0]));
	if (!strcmp(a, "setns") && n >= 1)
		return do_setns(v[0]);
	if (!strcmp(a, "ptrace") && n >= 1)
		return do_ptrace((pid_t)parse_ul(v[0]));
	if (!strcmp(a, "ptrace-sibling"))
		return do_sibling_ptrace();
	if (!strcmp(a, "kill") && n >= 1)
		return verdict(syscall(SYS_kill, (long)parse_ul(v[0]), (long)SIGKILL), "kill");
	if (!strcmp(a, "vmread") && n >= 2)
		return do_vmread((pid_t)parse_ul(v[0]), parse_ul(v[1]));
	if (!strcmp(a, "procmem") && n >= 1)
		return do_procmem((pid_t)parse_ul(v[0]));
	if (!strcmp(a, "mknod") && n >= 4) {
		mode_t t = v[1][0] == 'b' ? S_IFBLK : S_IFCHR;
		dev_t d = makedev(parse_ul(v[2]), parse_ul(v[3]));
		return verdict(syscall(SYS_mknodat, AT_FDCWD, v[0], (long)(t | 0666), (long)d),
			       "mknod");
	}
	if (!strcmp(a, "open-rw") && n >= 1)
		return verdict(syscall(SYS_openat, AT_FDCWD, v[0], (long)(O_RDWR | O_CLOEXEC)),
			       "open read-write");
	if (!strcmp(a, "kernel") && n >= 1)
		return do_kernel(v[0]);
	if ((!strcmp(a, "name_to_handle_at") || !strcmp(a, "open_by_handle_at")) && n >= 1)
		return do_handles(a, v[0]);
	if (!strcmp(a, "tiocsti") && n >= 2)
		return do_tiocsti((int)parse_ul(v[0]), v[1], n >= 3);
	if (!strcmp(a, "tcp") && n >= 2)
		return do_connect_tcp(v[0], (int)parse_ul(v[1]));
	if (!strcmp(a, "udp") && n >= 2)
		return do_connect_udp(v[0], (int)parse_ul(v[1]));
	if ((!strcmp(a, "socket") || !strcmp(a, "socketpair")) && n >= 2)
		return do_socket((long)parse_ul(v[0]), (int)parse_ul(v[1]), n >= 3 ? (int)parse_ul(v[2]) : 0,
				 !strcmp(a, "socketpair"));
	if (!strcmp(a, "unix") && n >= 1)
		return do_connect_unix(v[0]);
	if (!strcmp(a, "x32") && n >= 1)
		return do_x32(v[0]);
	if (!strcmp(a, "int80") && n >= 1)
		return do_int80(v[0]);
	if (!strcmp(a, "fill") && n >= 2)
		return do_fill(v[0], parse_ul(v[1]));
	if (!strcmp(a, "forkbomb") && n >= 1)
		return do_forkbomb(parse_ul(v[0]));
	if (!strcmp(a, "alloc") && n >= 1)
		return do_alloc(parse_ul(v[0]));
	return usage();
}
