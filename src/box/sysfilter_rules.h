/* The rules of the box's seccomp filter (see src/box/sysfilter.h). Used only at
 * build time: tools/gen_sysfilter.c compiles them with libseccomp and writes
 * the BPF program that clawbox loads, so a box start neither loads
 * libseccomp nor compiles a filter (about half a millisecond). */
#ifndef CLAWBOX_SYSFILTER_RULES_H
#define CLAWBOX_SYSFILTER_RULES_H
#include "util/common.h"
#include "util/error.h"

#include <seccomp.h>

/* Add every rule to ctx (created with seccomp_init(SCMP_ACT_ALLOW)).
 * Returns 0, or a negative libseccomp error (-errno) with *err (may be NULL)
 * naming the rule. */
int sysfilter_rules(scmp_filter_ctx ctx, struct error *err);

#endif
