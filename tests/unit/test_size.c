/* util/size: the one size grammar of --disk, --memory, --tmp-size,
 * scan --max-size and sync.max_size. */
#include "unit.h"

#include "util/size.h"

static uint64_t ok(const char *s, uint64_t max)
{
	uint64_t v = 7;
	int r = size_parse(s, max, &v);
	if (r < 0)
		fprintf(stderr, "'%s': %d\n", s, r);
	CHECK_INT(r, 0);
	return v;
}

static void bad(const char *s, uint64_t max, int want)
{
	uint64_t v = 7;
	int r = size_parse(s, max, &v);
	if (r != want)
		fprintf(stderr, "'%s': expected %d, got %d\n", s, want, r);
	CHECK_INT(r, want);
	CHECK(v == 7); /* untouched on failure */
}

TEST(size_units_and_spellings)
{
	CHECK(ok("1024", UINT64_MAX) == (uint64_t)(1024));
	CHECK(ok("1", UINT64_MAX) == (uint64_t)(1));
	CHECK(ok("2K", UINT64_MAX) == (uint64_t)(2048));
	CHECK(ok("2k", UINT64_MAX) == (uint64_t)(2048));
	CHECK(ok("100K", UINT64_MAX) == (uint64_t)(100 << 10));
	CHECK(ok("10M", UINT64_MAX) == (uint64_t)(10 << 20));
	CHECK(ok("10m", UINT64_MAX) == (uint64_t)(10 << 20));
	CHECK(ok("10MB", UINT64_MAX) == (uint64_t)(10 << 20));
	CHECK(ok("10MiB", UINT64_MAX) == (uint64_t)(10 << 20));
	CHECK(ok("3G", UINT64_MAX) == (uint64_t)(3ULL << 30));
	CHECK(ok("8T", UINT64_MAX) == (uint64_t)(8ULL << 40));
	CHECK(ok("16t", UINT64_MAX) == (uint64_t)(16ULL << 40));
	CHECK(ok("0010", UINT64_MAX) == (uint64_t)(10));
	CHECK(ok("512M", UINT64_MAX) == (uint64_t)(512ULL << 20));
	CHECK(ok("1KiB", UINT64_MAX) == (uint64_t)(1024));
}

TEST(size_rejects_what_is_not_a_size)
{
	static const char *const cases[] = {
		"",     "0",   "0M",   "-1",   "+1",   " 1",   "1 ",
		"M",    "1Q",  "10X",  "1B",   "1KB ", "1Kb",  "1Mib",
		"1MIB", "1KK", "1.5M", "0x10", "1e3",  "lots", "99999999999999999999",
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		bad(cases[i], UINT64_MAX, -EINVAL);
	bad(NULL, UINT64_MAX, -EINVAL);
}

TEST(size_max_is_a_range_error)
{
	CHECK(ok("4294967295", UINT32_MAX) == (uint64_t)(UINT32_MAX));
	CHECK(ok("3G", UINT32_MAX) == (uint64_t)(3ULL << 30));
	bad("4294967296", UINT32_MAX, -ERANGE);
	bad("4G", UINT32_MAX, -ERANGE);
	bad("1T", UINT32_MAX, -ERANGE);
	CHECK(ok("16777215T", UINT64_MAX) == (uint64_t)(16777215ULL << 40));
	bad("16777216T", UINT64_MAX, -ERANGE); /* 2^64: does not fit */
	bad("8388608T", UINT64_MAX >> 1, -ERANGE);
	bad("99999999999T", UINT64_MAX, -ERANGE);
	CHECK(ok("1023", 1023) == (uint64_t)(1023));
	bad("1K", 1023, -ERANGE);
}
