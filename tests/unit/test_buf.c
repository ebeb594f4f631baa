#include "unit.h"
#include "util/buf.h"
#include "util/fs.h"

TEST(buf_respects_max)
{
	_cleanup_buf_ struct buf b = BUF_INIT(8);
	CHECK_INT(buf_puts(&b, "1234"), 0);
	CHECK_INT(buf_puts(&b, "5678"), 0);
	CHECK_INT(buf_puts(&b, "9"), -E2BIG);
	CHECK_STREQ(b.data, "12345678");
	CHECK_INT(b.len, 8);
}

TEST(buf_printf_grows)
{
	_cleanup_buf_ struct buf b = BUF_INIT(1 << 20);
	for (int i = 0; i < 1000; i++)
		CHECK_INT(buf_printf(&b, "%d,", i), 0);
	CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
	CHECK(b.len == strlen(b.data));
}

TEST(path_join_and_beneath)
{
	char out[16];
	CHECK_INT(path_join(out, sizeof(out), "/a/", "/b"), 0);
	CHECK_STREQ(out, "/a/b");
	CHECK_INT(path_join(out, sizeof(out), "/", "x"), 0);
	CHECK_STREQ(out, "/x");
	CHECK_INT(path_join(out, sizeof(out), "/aaaaaaaa", "bbbbbbbbb"), -ENAMETOOLONG);
	CHECK(path_is_beneath("/a/b", "/a"));
	CHECK(path_is_beneath("/a", "/a"));
	CHECK(!path_is_beneath("/ab", "/a"));
	CHECK(path_is_beneath("/x", "/"));
}
