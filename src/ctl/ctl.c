/* A client of an up box: src/ctl/ctl.h. PLACEHOLDER while the control
 * socket is being built (session 6): every call says the box is not up. */
#include "ctl/ctl.h"

#include <string.h>

bool ctl_session_name_valid(const char *name)
{
	return box_name_valid(name);
}

static int not_up(struct error *err)
{
	return error_set(err, -ENOTCONN, NULL, 0, "the box is not up");
}

int ctl_status(const struct box *b, struct ctl_status *ret, struct error *err)
{
	return not_up(err);
}

int ctl_exec_start(const struct box *b, const struct ctl_exec_spec *s, struct ctl_exec **ret,
		   struct error *err)
{
	return not_up(err);
}

int ctl_exec_fd(const struct ctl_exec *x)
{
	return -EBADF;
}

int ctl_exec_next(struct ctl_exec *x, struct ctl_event *ev, struct error *err)
{
	return not_up(err);
}

int ctl_exec_signal(struct ctl_exec *x, int sig)
{
	return -ENOTCONN;
}

void ctl_exec_free(struct ctl_exec *x)
{
}

int ctl_exec_buffered(const struct box *b, const struct ctl_exec_spec *s, const void *in,
		      size_t in_len, size_t cap, int64_t timeout_ms, struct ctl_output *ret,
		      struct error *err)
{
	memset(ret, 0, sizeof(*ret));
	return not_up(err);
}

void ctl_output_free(struct ctl_output *o)
{
	free(o->out);
	free(o->err);
	o->out = o->err = NULL;
}

int ctl_session_create(const struct box *b, const struct ctl_session_spec *s, struct error *err)
{
	return not_up(err);
}

int ctl_session_delete(const struct box *b, const char *name, struct error *err)
{
	return not_up(err);
}

int ctl_session_list(const struct box *b, struct ctl_session_info **ret, size_t *ret_n,
		     struct error *err)
{
	return not_up(err);
}

int ctl_down(const struct box *b, int64_t grace_ms, struct error *err)
{
	return not_up(err);
}

int ctl_workspace(const struct box *b, int *ret_fd, struct error *err)
{
	return not_up(err);
}
