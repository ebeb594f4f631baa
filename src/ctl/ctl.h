/* A client of an up box (clawbox up): run commands in it, in the box's own
 * pid view or in a named session, manage its sessions, ask its status, take
 * it down. Each call opens its own connection to the box's control socket
 * ($STATE/boxes/NAME/control.sock: 0600 in the box's 0700 dir; the
 * supervisor also checks the peer's uid with SO_PEERCRED), so calls from
 * many threads need no locking. The commands run confined as `clawbox run`
 * confines them. Modules never print: every call returns >= 0 or -errno,
 * with *err (may be NULL) telling what failed; -ENOTCONN means the box is
 * not up. */
#ifndef CLAWBOX_CTL_H
#define CLAWBOX_CTL_H
#include "util/common.h"
#include "util/error.h"

#include "state/box.h"

/* A session name: 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'
 * (no '/': it never becomes a path). */
#define CTL_SESSION_NAME_MAX 64
bool ctl_session_name_valid(const char *name);

/* What an up box says of itself. */
struct ctl_status {
	pid_t supervisor; /* host pid of the clawbox process serving the box */
	int64_t since;    /* unix seconds: when the box came up */
	pid_t cmd;        /* the box's long-lived command (box pid), 0: none/not running */
	unsigned restarts;
	unsigned sessions;
	unsigned execs; /* commands running now */
};

/* The status of b's up box; -ENOTCONN when it is not up. */
int ctl_status(const struct box *b, struct ctl_status *ret, struct error *err);

/* A command to run in the up box. */
struct ctl_exec_spec {
	char *const *argv;   /* argv[0]: searched in the box's PATH when it has no '/' */
	char *const *env;    /* NAME=VALUE set over the box's environment (may be NULL) */
	const char *session; /* NULL: the box's own pid, mount and network view */
	const char *cwd;     /* NULL: the workspace; else a path in the box */
	/* The command's stdin, stdout, stderr (-1: /dev/null). Each must be
	 * what supervisor_stdio_check() passes; they are handed to the box as
	 * they are (no copy). Ignored for the fds in pty_fds. */
	int fds[3];
	/* Bits 0-2: these standard fds get a terminal of the box's own; its
	 * master comes back in a CTL_EV_PTY event, for the caller to relay. */
	unsigned pty_fds;
};

struct ctl_exec;

/* Start s in b's up box. The command runs as long as the returned handle
 * lives (ctl_exec_free kills what is left of it): its events come in
 * order: CTL_EV_PTY (with pty_fds), CTL_EV_STARTED, then CTL_EV_EXIT; or
 * CTL_EV_FAIL alone when it could not start (error.code -ENOENT: no such
 * command, exit 127; else 126 or 125). */
int ctl_exec_start(const struct box *b, const struct ctl_exec_spec *s, struct ctl_exec **ret,
		   struct error *err);

/* Readable (POLLIN) when an event waits. */
int ctl_exec_fd(const struct ctl_exec *x);

enum ctl_event_kind {
	CTL_EV_PTY = 1, /* fd: the terminal's master, the caller's to close */
	CTL_EV_STARTED, /* pid: the command's pid in its pid namespace */
	CTL_EV_EXIT,    /* wstatus, exit_code (as clawbox run's), duration_ms */
	CTL_EV_FAIL,    /* error, exit_code (125, 126 or 127) */
};

struct ctl_event {
	enum ctl_event_kind kind;
	int fd;
	pid_t pid;
	int wstatus;
	int exit_code;
	int64_t duration_ms;
	struct error error;
};

/* The next event: blocks until there is one. 1 with *ev, or -errno:
 * -ECONNRESET when the box went down under the command (ev->exit_code is
 * then 125 too). */
int ctl_exec_next(struct ctl_exec *x, struct ctl_event *ev, struct error *err);

/* Send sig to the command's process group. */
int ctl_exec_signal(struct ctl_exec *x, int sig);

/* Close the handle; a command still running is killed (SIGKILL to its
 * process group). NULL is a no-op. */
void ctl_exec_free(struct ctl_exec *x);

/* A command run to its end with its output collected (the API's and MCP's
 * exec). */
struct ctl_output {
	char *out, *err;         /* NUL-terminated, at most cap bytes each */
	size_t out_len, err_len; /* bytes kept */
	bool truncated;          /* some output was dropped (over cap) */
	bool timed_out;          /* killed at timeout_ms */
	int wstatus, exit_code;
	int64_t duration_ms;
};

/* Run s (its fds and pty_fds are ignored) with in (in_len bytes, may be
 * NULL) as stdin; keep at most cap bytes of stdout and of stderr, with
 * every value the box was ever given redacted; kill it after timeout_ms
 * (0: never). 0 with *ret (free with ctl_output_free) when
 * the command ran or could not start (exit_code 125-127, error in *err),
 * or -errno. */
int ctl_exec_buffered(const struct box *b, const struct ctl_exec_spec *s, const void *in,
		      size_t in_len, size_t cap, int64_t timeout_ms, struct ctl_output *ret,
		      struct error *err);
/* ctl_exec_buffered() that also ends (the command killed, *err and
 * -ECANCELED) when cancel_fd becomes readable (-1: never). */
int ctl_exec_buffered_cancel(const struct box *b, const struct ctl_exec_spec *s, const void *in,
			     size_t in_len, size_t cap, int64_t timeout_ms, int cancel_fd,
			     struct ctl_output *ret, struct error *err);
void ctl_output_free(struct ctl_output *o);

/* in[0..n) with every value of known redacted, appended to out (NULs kept:
 * no value holds one). For a command's output that is streamed: a value
 * split between two calls is not caught. 0 or -errno. */
struct secrets;
struct buf;
int ctl_redact(const struct secrets *known, const char *in, size_t n, struct buf *out);

/* A session: processes of the up box that persist between execs, in a pid
 * namespace of their own (they see and signal only each other), with no
 * network unless net, and only the environment given here on top of the
 * box's (the secrets granted to it). It ends (and every process of it) on
 * ctl_session_delete, after idle_ms without a command running (0: never),
 * after time_ms in all, or when the box goes down. */
struct ctl_session_spec {
	const char *name;
	char *const *env; /* NAME=VALUE for every exec of the session (may be NULL) */
	bool net;         /* the box's network (its proxy, its allowlist) */
	int64_t idle_ms;
	int64_t time_ms; /* its whole life at most (0: no limit) */
	uint64_t pids;   /* processes and threads at once (0: the box's limit) */
	uint64_t memory; /* bytes (0: the box's limit); pids and memory need
			   * root and the cgroup v1 controllers: -EPERM/-ENOENT */
};

/* -EEXIST when a session of that name is there, -EINVAL for a bad name. */
int ctl_session_create(const struct box *b, const struct ctl_session_spec *s, struct error *err);
/* -ENOENT when there is none of that name. */
int ctl_session_delete(const struct box *b, const char *name, struct error *err);

struct ctl_session_info {
	char name[CTL_SESSION_NAME_MAX + 1];
	int64_t created; /* unix seconds */
	int64_t idle_ms; /* as created */
	unsigned execs;  /* commands running now */
	bool net;
};

/* The sessions of b's up box: *ret (free()) of *ret_n entries, by name. */
int ctl_session_list(const struct box *b, struct ctl_session_info **ret, size_t *ret_n,
		     struct error *err);

/* Take b's up box down: its command is sent SIGTERM, then everything of
 * the box is killed after grace_ms; returns once the box is gone (the
 * overlay unmounted, the network namespace gone). */
int ctl_down(const struct box *b, int64_t grace_ms, struct error *err);

/* An O_PATH fd of the up box's workspace as the box sees it (the overlay):
 * what is beneath it is what the box reads and writes. For file calls with
 * openat2(RESOLVE_BENEATH) (src/ctl/files.h). */
int ctl_workspace(const struct box *b, int *ret_fd, struct error *err);

#endif
