/* Fuzz the audit log reader: any bytes as audit.jsonl (and the first line of
 * them as audit.head) through audit_verify() and audit_foreach(). */
#include "util/common.h"

#include "state/audit.h"
#include "util/fs.h"

static char dir[64];

static void cleanup(void)
{
	char path[96];
	static const char *const files[] = { "audit.jsonl", "audit.head" };
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static int count(json_t *obj, const char *raw, void *ctx)
{
	(*(size_t *)ctx) += strlen(raw) + (json_object_size(obj) > 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_verify_result v;
	size_t n = 0;
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/clawbox-fuzz-audit.%d", (int)getpid());
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			abort();
		atexit(cleanup);
	}
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		abort();
	const uint8_t *nl = memchr(data, '\n', size);
	size_t head = nl ? (size_t)(nl - data) : size;
	if (fs_write_atomic_at(dfd, "audit.jsonl", data, size, 0600) < 0 ||
	    fs_write_atomic_at(dfd, "audit.head", data, head, 0600) < 0)
		abort();
	int r = audit_verify(dir, &v);
	if (r != 0 && r != -EBADMSG)
		abort();
	if (r == -EBADMSG && !v.reason[0])
		abort(); /* every verdict of tampering says why */
	audit_foreach(dir, 0, count, &n);
	audit_foreach(dir, 1795854600000LL, count, &n);
	return 0;
}
