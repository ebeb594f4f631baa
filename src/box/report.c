/* The init's report records: see box/report.h. */
#include "util/common.h"

#include "box/report.h"

void report_send(int fd, int kind, int value, const struct error *e)
{
	struct report r;

	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.value = value;
	if (e)
		r.error = *e;
	while (write(fd, &r, sizeof(r)) < 0 && errno == EINTR)
		;
}

int report_recv(int fd, struct report *ret)
{
	struct report r;
	ssize_t k = read(fd, &r, sizeof(r));

	if (k < 0)
		return -errno;
	if (k == 0)
		return 0;
	if ((size_t)k != sizeof(r) || !memchr(r.error.where, '\0', sizeof(r.error.where)) ||
	    !memchr(r.error.message, '\0', sizeof(r.error.message)))
		return -EBADMSG;
	*ret = r;
	return 1;
}
