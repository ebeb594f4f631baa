#include "util/fdpass.h"

#include <sys/socket.h>

int fdpass_send(int sock, char tag, const int *fds, size_t n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)] = { 0 };
	struct iovec iov = { .iov_base = &tag, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
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
	return sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int fdpass_recv(int sock, char *ret_tag, int *fds, size_t max)
{
	char cbuf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	int got[FDPASS_MAX];
	size_t k = 0;
	struct iovec iov = { .iov_base = ret_tag, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	if (r <= 0)
		return -EPIPE;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len >= CMSG_LEN(0)) {
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(got, CMSG_DATA(c), k * sizeof(int));
	}
	if (k > max || (m.msg_flags & MSG_CTRUNC)) {
		for (size_t i = 0; i < k; i++)
			close(got[i]);
		return -EBADMSG;
	}
	memcpy(fds, got, k * sizeof(int));
	return (int)k;
}
