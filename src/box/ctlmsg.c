/* The control messages of an up box: src/box/ctlmsg.h. */
#include "box/ctlmsg.h"
#include "util/fdpass.h"

#include <sys/socket.h>

int ctlmsg_send(int sock, uint32_t type, uint32_t id, int64_t value, char *const *v, size_t n,
		const int *fds, size_t nfds)
{
	struct ctlmsg_head h = { .type = type, .id = id, .value = value };
	size_t total = 0;

	if (nfds > CTLMSG_FDS)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		total += strlen(v[i]) + 1;
		if (total > CTLMSG_MAX - sizeof(h))
			return -E2BIG;
	}
	_cleanup_free_ char *payload = total ? malloc(total) : NULL;
	if (total && !payload)
		return -ENOMEM;
	for (size_t i = 0, at = 0; payload && i < n; i++) {
		size_t l = strlen(v[i]) + 1;
		memcpy(payload + at, v[i], l);
		at += l;
	}
	h.len = (uint32_t)total;
	struct iovec iov[2] = { { .iov_base = &h, .iov_len = sizeof(h) },
				{ .iov_base = payload, .iov_len = total } };
	return fdpass_sendv(sock, iov, total ? 2 : 1, fds, nfds);
}

int ctlmsg_forward(int sock, const struct ctlmsg *m)
{
	struct iovec iov[2] = { { .iov_base = (void *)&m->h, .iov_len = sizeof(m->h) },
				{ .iov_base = (void *)m->payload, .iov_len = m->h.len } };
	return fdpass_sendv(sock, iov, m->h.len ? 2 : 1, m->fds, m->nfds);
}

int ctlmsg_send_error(int sock, uint32_t id, const struct error *e)
{
	struct ctlmsg_head h = { .type = CTLMSG_ERR, .id = id, .len = sizeof(*e) };
	struct iovec iov[2] = { { .iov_base = &h, .iov_len = sizeof(h) },
				{ .iov_base = (void *)e, .iov_len = sizeof(*e) } };
	return fdpass_sendv(sock, iov, 2, NULL, 0);
}

void ctlmsg_close_fds(struct ctlmsg *m)
{
	for (size_t i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

int ctlmsg_recv(int sock, char *buf, struct ctlmsg *m)
{
	size_t len = 0;
	int k = fdpass_recvv(sock, buf, CTLMSG_MAX, &len, m->fds, CTLMSG_FDS);

	m->nfds = 0;
	if (k < 0)
		return k;
	m->nfds = (size_t)k;
	if (len == 0 && k == 0)
		return 0;
	memcpy(&m->h, buf, len < sizeof(m->h) ? len : sizeof(m->h));
	m->payload = buf + sizeof(m->h);
	/* A head, the length it says, and (for strings) a last NUL. */
	if (len < sizeof(m->h) || m->h.len != len - sizeof(m->h) ||
	    (m->h.type != CTLMSG_ERR && m->h.len > 0 && m->payload[m->h.len - 1] != '\0')) {
		ctlmsg_close_fds(m);
		return -EBADMSG;
	}
	return 1;
}

const char *ctlmsg_next(const struct ctlmsg *m, size_t *pos)
{
	if (m->h.type == CTLMSG_ERR || *pos >= m->h.len)
		return NULL;
	const char *s = m->payload + *pos;
	*pos += strlen(s) + 1;
	return s;
}

const char *ctlmsg_get(const struct ctlmsg *m, char tag)
{
	size_t pos = 0;
	for (const char *s; (s = ctlmsg_next(m, &pos));)
		if (s[0] == tag)
			return s + 1;
	return NULL;
}

int ctlmsg_error(const struct ctlmsg *m, struct error *ret)
{
	if (m->h.type != CTLMSG_ERR || m->h.len != sizeof(*ret))
		return -EBADMSG;
	memcpy(ret, m->payload, sizeof(*ret));
	ret->where[sizeof(ret->where) - 1] = '\0';
	ret->message[sizeof(ret->message) - 1] = '\0';
	if (ret->code >= 0)
		ret->code = -EIO;
	return 0;
}
