/* A leader: pid 1 of a pid namespace inside an up box, which runs the
 * commands of exec requests there. The box's own view has one (its "main"
 * leader, which also runs the box's long-lived command); each session has
 * one, in a pid and mount namespace of its own (and a network namespace of
 * its own, loopback only, unless the session has the box's network). A
 * leader confines itself as the init of `clawbox run` does before it reads
 * a request, so whatever it starts is confined; its processes see only
 * their own pid namespace, and the kernel kills every one of them when the
 * leader ends. It speaks src/box/ctlmsg.h with the init over one socket. */
#ifndef CLAWBOX_LEADER_H
#define CLAWBOX_LEADER_H
#include "util/common.h"
#include "util/error.h"

#include "box/supervisor.h"

struct leader_spec {
	const struct supervisor_spec *box;
	char **env;      /* its commands' environment (NULL-terminated) */
	bool main;       /* the box's own: shares its network, runs box->argv */
	bool net;        /* a session with the box's network */
	int64_t idle_ms; /* end after this long with no command running (0: never) */
	int64_t time_ms; /* end after this long in all (0: never) */
};

/* Start a leader from the init. 0 with its pid *ret_pid (in the init's namespace), a pidfd
 * *ret_pidfd and the init's end of its socket *ret_sock, once it is
 * confined and serving; -errno with *err (what it could not set up). */
int leader_start(const struct leader_spec *ls, pid_t *ret_pid, int *ret_pidfd, int *ret_sock,
		 struct error *err);

#endif
