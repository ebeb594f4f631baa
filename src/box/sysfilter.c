#include "util/common.h"

#include "box/sysfilter.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include "sysfilter_bpf.h" /* build/gen: from src/box/sysfilter_rules.c */

int sysfilter_load(struct error *err)
{
	struct sock_fprog prog = {
		.len = (unsigned short)ELEMENTSOF(sysfilter_prog),
		.filter = (struct sock_filter *)sysfilter_prog,
	};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return error_errno(err, -errno, "load the seccomp filter");
	return 0;
}
