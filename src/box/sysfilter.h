/* The box's seccomp filter (libseccomp): everything is allowed except the
 * syscalls that reach past the box: mounts and namespaces, tracing and
 * handles, kernel keyrings, modules, kexec, bpf, perf, userfaultfd,
 * io_uring, clocks, swap, reboot, terminal injection (TIOCSTI/TIOCLINUX)
 * and device nodes. Those fail with EPERM; clone3 fails with ENOSYS so libc
 * falls back to clone, whose flags the filter can see. A syscall of another
 * architecture kills the process. Needs no_new_privs. The rules are in
 * src/box/sysfilter_rules.c, compiled to BPF at build time. */
#ifndef CLAWBOX_SYSFILTER_H
#define CLAWBOX_SYSFILTER_H
#include "util/common.h"
#include "util/error.h"

/* Load the filter into the calling thread. Returns 0, or -errno with *err
 * (may be NULL). */
int sysfilter_load(struct error *err);

#endif
