/* libFuzzer harness for what the gate reads from a box's git files: a
 * gitfile's "gitdir:" value or a commondir, joined with the dir it sits in
 * (gate_git_target), and names taken for ".git" (gate_name_is_dotgit).
 * Input: the base dir, a newline, the file's text. A target that is
 * accepted is project-relative and normalized: no empty, "." or ".."
 * component and no leading '/'. */
#include "util/common.h"

#include "sync/gate_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool normalized(const char *p)
{
	if (p[0] == '/')
		return false;
	for (const char *c = p; *c;) {
		size_t k = strcspn(c, "/");
		if (!k || (k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += k;
		if (*c == '/' && !*++c)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	char *nl = strchr(in, '\n');
	const char *text = nl ? nl + 1 : "";
	if (nl)
		*nl = '\0';
	char out[PATH_MAX];
	/* The base is a pending path: normalized, or the root. */
	if (normalized(in) && gate_git_target("/project", in, text, out, sizeof(out)) &&
	    !normalized(out))
		abort();
	(void)gate_name_is_dotgit(text, strlen(text));
	free(in);
	return 0;
}
