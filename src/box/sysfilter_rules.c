/* The box's seccomp rules, compiled to BPF at build time by
 * tools/gen_sysfilter.c (src/box/sysfilter.c loads the result). */
#include "util/common.h"

#include "box/sysfilter_rules.h"

#include <linux/netlink.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static const char *const denied[] = {
	/* mounts and the filesystem tree */
	"mount",
	"umount",
	"umount2",
	"pivot_root",
	"chroot",
	"fsopen",
	"fsconfig",
	"fsmount",
	"fspick",
	"move_mount",
	"open_tree",
	"mount_setattr",
	/* namespaces */
	"unshare",
	"setns",
	/* other processes' memory and handles */
	"ptrace",
	"process_vm_readv",
	"process_vm_writev",
	"kcmp",
	"pidfd_getfd",
	"name_to_handle_at",
	"open_by_handle_at",
	/* the kernel itself */
	"init_module",
	"finit_module",
	"delete_module",
	"create_module",
	"kexec_load",
	"kexec_file_load",
	"bpf",
	"perf_event_open",
	"userfaultfd",
	"keyctl",
	"add_key",
	"request_key",
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
	"syslog",
	"acct",
	"swapon",
	"swapoff",
	"reboot",
	"settimeofday",
	"clock_settime",
	"clock_adjtime",
	"adjtimex",
	"quotactl",
	"quotactl_fd",
	"nfsservctl",
	"lookup_dcookie",
	"vhangup",
	"iopl",
	"ioperm",
	"uselib",
	"fanotify_init",
	"mbind",
	"migrate_pages",
	"move_pages",
	"set_mempolicy",
};

#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWCGROUP | 0x00000080 /* CLONE_NEWTIME */)

/* Socket families: a box needs unix, inet and inet6 sockets, and of
 * netlink only NETLINK_ROUTE (getifaddrs, getaddrinfo's AI_ADDRCONFIG, ip)
 * and NETLINK_SOCK_DIAG (ss), both of the box's own network namespace.
 * Every other family (vsock, packet, bluetooth, alg, key, xdp, can, tipc,
 * rds, ...) and netlink protocol (kobject_uevent, audit, netfilter, ...)
 * fails with EAFNOSUPPORT, which programs take as "not built in" and fall
 * back from. The family is compared as the whole 64-bit register: a value
 * with any high bit set is above AF_NETLINK and refused. */
static int socket_rules(scmp_filter_ctx ctx)
{
	static const int calls[] = { SCMP_SYS(socket), SCMP_SYS(socketpair) };
	const uint32_t no = SCMP_ACT_ERRNO(EAFNOSUPPORT);
	int r = 0;
	for (size_t i = 0; i < ELEMENTSOF(calls) && r == 0; i++) {
		bool pair = calls[i] == SCMP_SYS(socketpair);
		/* socketpair: only AF_UNIX has one. */
		uint64_t top = pair ? AF_UNIX : AF_NETLINK;
		r = seccomp_rule_add(ctx, no, calls[i], 1, SCMP_A0(SCMP_CMP_GT, top));
		for (uint64_t f = 0; f < top && r == 0; f++)
			if (f != AF_UNIX && f != AF_INET && f != AF_INET6)
				r = seccomp_rule_add(ctx, no, calls[i], 1, SCMP_A0(SCMP_CMP_EQ, f));
	}
	/* netlink: NETLINK_ROUTE (0) and NETLINK_SOCK_DIAG (4) only. */
	if (r == 0)
		r = seccomp_rule_add(ctx, no, SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
				     SCMP_A2(SCMP_CMP_GT, NETLINK_SOCK_DIAG));
	for (uint64_t proto = 1; proto < NETLINK_SOCK_DIAG && r == 0; proto++)
		r = seccomp_rule_add(ctx, no, SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
				     SCMP_A2(SCMP_CMP_EQ, proto));
	return r;
}

int sysfilter_rules(scmp_filter_ctx ctx, struct error *err)
{
	const char *what = "the bad-architecture action";
	int r;

	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; i < ELEMENTSOF(denied) && r == 0; i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);
		what = denied[i];
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	if (r == 0) {
		/* clone with any namespace flag set */
		what = "clone";
		for (unsigned bit = 0; bit < 32 && r == 0; bit++)
			if ((NS_FLAGS >> bit) & 1)
				r = seccomp_rule_add(
				    ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				    SCMP_A0(SCMP_CMP_MASKED_EQ, 1ULL << bit, 1ULL << bit));
	}
	if (r == 0) {
		what = "clone3";
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	}
	if (r == 0) {
		what = "ioctl";
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
					     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
	}
	if (r == 0) {
		what = "socket";
		r = socket_rules(ctx);
	}
	if (r == 0) {
		what = "mknod";
		/* Only regular files, fifos and sockets; no device nodes. */
		static const unsigned types[] = { S_IFCHR, S_IFBLK };
		for (size_t i = 0; i < ELEMENTSOF(types) && r == 0; i++) {
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mknod), 1,
					     SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT, types[i]));
			if (r == 0)
				r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(mknodat),
						     1,
						     SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, types[i]));
		}
	}
	return r < 0 ? error_errno(err, r, "add the rule for '%s'", what) : 0;
}
