/* libFuzzer harness for the control messages of an up box (src/box/ctlmsg.h):
 * any datagram a client sends must be received whole and well-formed, or
 * refused with -EBADMSG; the strings of a received one walk within it; an
 * error payload decodes to terminated strings. */
#include "util/common.h"

#include "box/ctlmsg.h"

#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int pair[2] = { -1, -1 };
static char buf[CTLMSG_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CTLMSG_MAX)
		return 0;
	if (pair[0] < 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		abort();
	int sndbuf = (int)CTLMSG_MAX * 2;
	setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (send(pair[1], data, size, 0) != (ssize_t)size)
		return 0;
	struct ctlmsg m;
	int k = ctlmsg_recv(pair[0], buf, &m);
	if (k == 0 && size == 0)
		return 0;
	if (k == -EBADMSG)
		return 0;
	if (k != 1)
		abort();
	if (m.h.len + sizeof(m.h) != size || m.nfds != 0)
		abort();
	size_t pos = 0, total = 0;
	for (const char *s; (s = ctlmsg_next(&m, &pos));) {
		total += strlen(s) + 1;
		if (s < m.payload || s + strlen(s) >= m.payload + m.h.len)
			abort();
	}
	if (m.h.type != CTLMSG_ERR && total != m.h.len)
		abort();
	(void)ctlmsg_get(&m, 'a');
	struct error e;
	if (ctlmsg_error(&m, &e) == 0 &&
	    (strlen(e.where) >= sizeof(e.where) || strlen(e.message) >= sizeof(e.message) ||
	     e.code >= 0))
		abort();
	return 0;
}
