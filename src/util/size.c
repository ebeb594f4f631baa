#include "util/common.h"

#include "util/size.h"

/* The shift of unit u (K, M, G, T in either case), 0 for anything else. */
static unsigned unit_shift(char u)
{
	static const char units[] = "KMGT";
	char upper = (char)(u & ~0x20); /* ' ' becomes NUL: strchr would find that */
	const char *p = upper ? strchr(units, upper) : NULL;
	return p ? 10 * (unsigned)(p - units + 1) : 0;
}

int size_parse(const char *s, uint64_t max, uint64_t *ret)
{
	unsigned shift = 0;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || v == 0)
		return -EINVAL;
	if (*end) {
		shift = unit_shift(*end);
		if (!shift || !(STREQ(end + 1, "") || STREQ(end + 1, "B") || STREQ(end + 1, "iB")))
			return -EINVAL;
	}
	if (v > (max >> shift))
		return -ERANGE;
	*ret = (uint64_t)v << shift;
	return 0;
}
