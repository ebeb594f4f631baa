/* Published ports (--publish [HOSTPORT:]BOXPORT): a listener on the host's
 * 127.0.0.1:HOSTPORT whose connections are forwarded to 127.0.0.1:BOXPORT
 * inside the box (e.g. 18789 for an OpenClaw gateway running in the box).
 * The forwarding thread enters the box's network namespace with setns(),
 * which needs CAP_SYS_ADMIN in the host's user namespace: root only. Every
 * forwarded connection is a "net.publish" audit event with its byte counts.
 * Never prints. */
#ifndef CLAWBOX_PUBLISH_H
#define CLAWBOX_PUBLISH_H
#include "util/common.h"

#define PUBLISH_MAX 16

struct publish_port {
	uint16_t host, box;
	int fd; /* the host listener, -1 until publish_listen() */
};

/* Parse "[HOSTPORT:]BOXPORT" (HOSTPORT defaults to BOXPORT). -EINVAL. */
int publish_parse(const char *spec, struct publish_port *ret);
/* Listen on the host's 127.0.0.1:port->host. -errno (e.g. -EADDRINUSE). */
int publish_listen(struct publish_port *port);

struct publish;

/* Forward ports[0..n) into the network namespace netns (an fd of it). The
 * fds are taken over, whatever the result. */
int publish_start(struct publish_port *ports, size_t n, int netns, const char *box_dir,
		  const char *box_name, struct publish **ret);
/* Stop and free (NULL is fine); connections still open are ended and
 * logged. -EBUSY when a connection thread did not end within 3 s (the
 * object then stays allocated). */
int publish_stop(struct publish *p);

#endif
