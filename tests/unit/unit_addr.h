/* For unit tests of the network modules: socket addresses from literals. */
#ifndef CLAWBOX_UNIT_ADDR_H
#define CLAWBOX_UNIT_ADDR_H
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static inline struct sockaddr_storage v4(const char *s)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	a->sin_family = AF_INET;
	CHECK(inet_pton(AF_INET, s, &a->sin_addr) == 1);
	return ss;
}

static inline struct sockaddr_storage v6(const char *s)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
	a->sin6_family = AF_INET6;
	CHECK(inet_pton(AF_INET6, s, &a->sin6_addr) == 1);
	return ss;
}

#endif
