/* The sync gate's pure parts (src/sync/gate*.c): the names taken for
 * ".git", paths made printable. */
#include "unit.h"

#include "sync/gate.h"

/* What a case-insensitive filesystem (or HFS+, NTFS) takes for ".git". */
TEST(gate_dotgit_names)
{
	static const char *const yes[] = { ".git",
					   ".GIT",
					   ".Git",
					   ".git.",
					   ".git ",
					   ".git. .",
					   "GIT~1",
					   "git~1",
					   ".g\xe2\x80\x8cit",
					   "\xef\xbb\xbf.git" };
	static const char *const no[] = { "git", ".gitignore", ".git2",   "x.git",
					  ".gi", "GIT~2",      ".github", "" };
	for (size_t i = 0; i < ELEMENTSOF(yes); i++)
		CHECK(gate_name_is_dotgit(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < ELEMENTSOF(no); i++)
		CHECK(!gate_name_is_dotgit(no[i], strlen(no[i])));
}

TEST(path_display_escapes)
{
	char out[64];
	gate_path_display("a\nb\x1b[31m\xff\\ok", out, sizeof(out));
	CHECK_STREQ(out, "a\\x0ab\\x1b[31m\\xff\\x5cok");
	gate_path_display("d\xc3\xa9j\xc3\xa0", out, sizeof(out));
	CHECK_STREQ(out, "d\xc3\xa9j\xc3\xa0");
	char longp[300];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	gate_path_display(longp, out, sizeof(out));
	CHECK(strlen(out) < sizeof(out));
	CHECK(strstr(out, "..."));
}
