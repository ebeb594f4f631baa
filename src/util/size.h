/* Sizes as users write them: "1024", "512M", "10G", "64KiB". */
#ifndef CLAWBOX_SIZE_H
#define CLAWBOX_SIZE_H
#include "util/common.h"

/* Parse s: decimal digits (nothing before them: no sign, no blank), then an
 * optional unit K, M, G or T in either case (binary: 1K = 1024), itself
 * optionally followed by "B" or "iB" ("10M", "10MB", "10MiB"). Returns 0
 * with *ret, -EINVAL when s is not such a size, is 0 or its digits do not
 * fit 64 bits, -ERANGE when the size is above max. */
int size_parse(const char *s, uint64_t max, uint64_t *ret);

#endif
