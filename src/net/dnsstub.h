/* The box's DNS stub: a UDP socket on the box's 127.0.0.1:53 served by the
 * supervisor. It answers A and AAAA questions for names the box's policy
 * allows on some port (resolved with the host's resolver; addresses the
 * policy would refuse are left out) and refuses every other name
 * (REFUSED, and logged), so DNS cannot carry data out of the box. Other
 * question types of allowed names get an empty answer. Never prints. */
#ifndef CLAWBOX_DNSSTUB_H
#define CLAWBOX_DNSSTUB_H
#include "util/common.h"

#include "net/netpolicy.h"

#include <sys/socket.h>

#define DNSSTUB_MSG_MAX 512

enum { DNS_NOERROR = 0, DNS_FORMERR = 1, DNS_SERVFAIL = 2, DNS_NXDOMAIN = 3, DNS_REFUSED = 5 };

/* Parse a standard query with one question. Fills name (dotted, as sent,
 * without the root dot), *ret_qtype and *ret_qend (end of the question).
 * -EBADMSG when malformed, -EOPNOTSUPP for a response, another opcode or
 * not exactly one question. */
int dnsstub_parse_query(const uint8_t *q, size_t n, char name[NETPOLICY_NAME_MAX + 1],
			uint16_t *ret_qtype, size_t *ret_qend);

/* Build the reply to q (header and question copied from q[0..qend)) with
 * rcode and the given answers (A: 4-byte, AAAA: 16-byte addresses of
 * family matching qtype), into out. Returns its length or -ENOBUFS. */
int dnsstub_build_reply(const uint8_t *q, size_t qend, uint8_t rcode, uint16_t qtype,
			const struct sockaddr_storage *addrs, size_t naddrs, uint8_t *out,
			size_t cap);

/* from: the asker's address; called before the answer is sent. */
typedef void (*dnsstub_log_fn)(void *ctx, const struct sockaddr_storage *from, const char *name,
			       const char *qtype, bool allow, const char *rule);

/* Serve fd (a bound UDP socket) until stop_fd becomes readable. Denied
 * questions are passed to log (a repeat of the same name and type within
 * 2 s is not). */
void dnsstub_serve(int fd, int stop_fd, const struct netpolicy *pol, dnsstub_log_fn log, void *ctx);

#endif
