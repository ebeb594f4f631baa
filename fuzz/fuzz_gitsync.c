/* libFuzzer harness for the git part's parsers (src/sync/gitsync_refs.c,
 * gitsync_objects.c): a ref name, a loose ref, packed-refs and git log's
 * raw output, all from one input
 * (box-controlled in real use, except the log, which holds box-controlled
 * paths). Every ref name a parser hands out must pass the strict check. */
#include "util/common.h"

#include "sync/gitsync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_ref(const char *name, const char *oid, void *ctx)
{
	if (!gitsync_refname_valid(name) || !gitsync_oid_len(oid, strlen(oid)))
		abort();
	return 0;
}

static void on_bad(unsigned line, const char *why, void *ctx)
{
	if (line == 0 || !why)
		abort();
}

static int on_raw(const char *commit, unsigned mode, const char *oid, char status, const char *path,
		  void *ctx)
{
	if (!gitsync_oid_len(commit, strlen(commit)) || !gitsync_oid_len(oid, strlen(oid)) ||
	    !path[0])
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char name[GITSYNC_REF_MAX + 1];
	if (size <= GITSYNC_REF_MAX && !memchr(s, '\0', size)) {
		memcpy(name, s, size);
		name[size] = '\0';
		(void)gitsync_refname_valid(name);
	}
	int r = gitsync_parse_loose(s, size, name);
	if (r == GITSYNC_LOOSE_SYMREF && !gitsync_refname_valid(name))
		abort();
	if (r == GITSYNC_LOOSE_OID && !gitsync_oid_len(name, strlen(name)))
		abort();
	if (gitsync_parse_packed(s, size, on_ref, on_bad, NULL) != 0)
		abort();
	r = gitsync_parse_raw(s, size, on_raw, NULL);
	if (r != 0 && r != -EBADMSG)
		abort();
	return 0;
}
