#include "unit.h"
#include "sync/gate.h"
#include "util/utf8.h"

TEST(utf8_decode_strict)
{
	uint32_t cp = 0;
	CHECK(utf8_decode((const unsigned char *)"\xe2\x80\xae", 3, &cp) == 3 && cp == 0x202e);
	CHECK(utf8_decode((const unsigned char *)"\xc2\x9b", 2, &cp) == 2 && cp == 0x9b);
	CHECK(utf8_decode((const unsigned char *)"\xc0\xaf", 2, &cp) == 0);         /* overlong */
	CHECK(utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp) == 0);     /* surrogate */
	CHECK(utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp) == 0); /* > 10ffff */
	CHECK(utf8_decode((const unsigned char *)"\xe2\x80", 2, &cp) == 0);         /* cut */
	CHECK(utf8_is_control(0x9b) && utf8_is_control(0x202e) && utf8_is_control(0x2066) &&
	      utf8_is_control(0x200f) && utf8_is_control(0x1b) && !utf8_is_control(0xe9) &&
	      !utf8_is_control(0x2030));
}

TEST(utf8_display_filter_escapes_and_carries)
{
	char b[64] = "a\xc2\x9b[1m\xe2\x80\xae\xc3\xa9\xff\n\xe2\x80";
	size_t keep = 9;
	size_t n = utf8_display_filter(b, strlen(b), &keep);
	CHECK_INT((int)keep, 2);
	CHECK(n == 10 && memcmp(b, "a?[1m?\xc3\xa9?\n", 10) == 0);
}

TEST(path_display_escapes_c1_and_bidi)
{
	char out[64];
	gate_path_display("a\xe2\x80\xae"
			  "b\xc2\x85\x1b\xc3\xa9",
			  out, sizeof(out));
	CHECK_STREQ(out, "a\\u202e"
			 "b\\u0085\\x1b\xc3\xa9");
}

TEST(utf8_ascii_control_first_byte)
{
	CHECK_INT(utf8_ascii_control("plain/\xc3\xa9.txt"), 0);
	CHECK_INT(utf8_ascii_control("a\tb\nc"), '\t');
	CHECK_INT(utf8_ascii_control("x\x7f"), 0x7f);
	CHECK_INT(utf8_ascii_control("\x1b[31m"), 0x1b);
	CHECK_INT(utf8_ascii_control(""), 0);
}
