#include "util/fdpass.h"

#include <sys/socket.h>

int fdpass_sendv(int sock, const struct iovec *iov, size_t niov, const int *fds, size_t n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)] = { 0 };
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = niov };
	if (n > FDPASS_MAX)
		return -EINVAL;
	if (n > 0) {
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	ssize_t r;
	while ((r = sendmsg(sock, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return r < 0 ? -errno : 0;
}

int fdpass_send(int sock, char tag, const int *fds, size_t n)
{
	struct iovec iov = { .iov_base = &tag, .iov_len = 1 };
	return fdpass_sendv(sock, &iov, 1, fds, n);
}

/* The fds of m's SCM_RIGHTS message into got[0..FDPASS_MAX); how many. */
static size_t received_fds(struct msghdr *m, int *got)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(m);
	size_t k = 0;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len >= CMSG_LEN(0)) {
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(got, CMSG_DATA(c), k * sizeof(int));
	}
	return k;
}

int fdpass_recvv(int sock, void *buf, size_t size, size_t *ret_len, int *fds, size_t max)
{
	char cbuf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	int got[FDPASS_MAX];
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	if (r < 0)
		return -errno;
	size_t k = received_fds(&m, got);
	if (k > max || (m.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		for (size_t i = 0; i < k; i++)
			close(got[i]);
		return -EBADMSG;
	}
	memcpy(fds, got, k * sizeof(int));
	*ret_len = (size_t)r;
	return (int)k;
}

int fdpass_recv(int sock, char *ret_tag, int *fds, size_t max)
{
	size_t len = 0;
	int k = fdpass_recvv(sock, ret_tag, 1, &len, fds, max);
	if (k == 0 && len == 0)
		return -EPIPE;
	return k < 0 && k != -EBADMSG ? -EPIPE : k;
}
