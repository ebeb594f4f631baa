/* The box's seccomp rules, compiled to BPF at build time by
 * tools/gen_sysfilter.c (src/sysfilter.c loads the result). */
#include "util/common.h"

#include "sysfilter_rules.h"

#include <sched.h>
#include <sys/ioctl.h>

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

int sysfilter_rules(scmp_filter_ctx ctx, const char **ret_what)
{
	int r;

	*ret_what = "the bad-architecture action";
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; i < ELEMENTSOF(denied) && r == 0; i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);
		*ret_what = denied[i];
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	if (r == 0) {
		/* clone with any namespace flag set */
		*ret_what = "clone";
		for (unsigned bit = 0; bit < 32 && r == 0; bit++)
			if ((NS_FLAGS >> bit) & 1)
				r = seccomp_rule_add(
				    ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				    SCMP_A0(SCMP_CMP_MASKED_EQ, 1ULL << bit, 1ULL << bit));
	}
	if (r == 0) {
		*ret_what = "clone3";
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	}
	if (r == 0) {
		*ret_what = "ioctl";
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
					     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX));
	}
	if (r == 0) {
		*ret_what = "mknod";
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
	return r;
}
