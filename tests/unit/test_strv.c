/* util/strv: the NULL-terminated string vector and plain string arrays. */
#include "unit.h"

#include "util/strv.h"

TEST(strv_push_grows_and_terminates)
{
	struct strv s = { 0 };
	char want[16];

	for (int i = 0; i < 40; i++)
		CHECK_INT(i % 2 ? strv_pushf(&s, "n=%d", i) : strv_push(&s, "even"), 0);
	CHECK_INT(s.n, 40);
	CHECK(s.cap >= 41);
	CHECK(s.v[40] == NULL);
	CHECK_STREQ(s.v[0], "even");
	snprintf(want, sizeof(want), "n=%d", 39);
	CHECK_STREQ(s.v[39], want);
	strv_free(&s);
	CHECK(s.v == NULL);
	CHECK_INT(s.n, 0);
	CHECK_INT(s.cap, 0);
	strv_free(&s); /* empty again: a second free is harmless */
}

TEST(strv_push_copies)
{
	struct strv s = { 0 };
	char buf[] = "mutable";

	CHECK_INT(strv_push(&s, buf), 0);
	buf[0] = 'X';
	CHECK_STREQ(s.v[0], "mutable");
	strv_free(&s);
}

TEST(strv_dup_n_copies_and_frees)
{
	const char *const src[] = { "a", NULL, "ccc" };
	char **v = NULL;

	CHECK_INT(strv_dup_n(src, 3, &v), 0);
	CHECK_STREQ(v[0], "a");
	CHECK_STREQ(v[1], "");
	CHECK_STREQ(v[2], "ccc");
	CHECK(v[0] != src[0]);
	strv_free_n(v, 3);
	/* an empty array is still an allocation */
	v = NULL;
	CHECK_INT(strv_dup_n(NULL, 0, &v), 0);
	CHECK(v != NULL);
	strv_free_n(v, 0);
	strv_free_n(NULL, 5);
}
