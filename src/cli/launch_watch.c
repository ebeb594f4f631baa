/* A run's write watcher: see launch_watch.h. */
#include "util/common.h"

#include "cli/launch_watch.h"
#include "state/audit.h"
#include "state/writewatch.h"
#include "util/log.h"

#include <poll.h>

struct launch_watch {
	struct writewatch *ww;
	struct audit *audit; /* the watcher's own handle (one per thread) */
	int upper;
	struct pollfd *pf; /* its entry in the relay loop's poll set, or NULL */
};

size_t launch_watch_pollfd(struct launch_watch *w, struct pollfd *pf)
{
	int fd = w ? writewatch_fd(w->ww) : -1;
	if (w)
		w->pf = fd >= 0 ? pf : NULL;
	if (fd < 0)
		return 0;
	*pf = (struct pollfd){ .fd = fd, .events = POLLIN };
	return 1;
}

void launch_watch_ready(struct launch_watch *w)
{
	int r;
	if (!w || !w->pf || !w->pf->revents)
		return;
	w->pf = NULL;
	if ((r = writewatch_wake(w->ww)) < 0)
		log_warn("cannot start the box's write watcher: %s (its writes are reported "
			 "at its end)",
			 strerror(-r));
}

struct launch_watch *launch_watch_stop(struct launch_watch *w)
{
	if (!w)
		return NULL;
	writewatch_stop(w->ww);
	audit_close(w->audit);
	if (w->upper >= 0)
		close(w->upper);
	free(w);
	return NULL;
}

struct launch_watch *launch_watch_start(const struct box *b, const char *upper,
					const struct secrets *known)
{
	struct error err = { 0 };
	char msg[ERROR_FORMAT_MAX];
	struct launch_watch *w = calloc(1, sizeof(*w));
	int r = w ? 0 : -ENOMEM;
	if (w)
		w->upper = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (r == 0 && w->upper < 0)
		r = error_errno(&err, -errno, "open '%s'", upper);
	if (r == 0 && (r = audit_open_known(b->dir, b->name, known, &w->audit)) < 0)
		error_errno(&err, r, "open the audit log");
	if (r == 0)
		r = writewatch_start_opts(w->upper, LAUNCH_WATCH_PREFIX, w->audit,
					  &(struct writewatch_opts){ .lazy = true }, &w->ww, &err);
	if (r < 0) {
		log_warn("the box's writes are not audited: cannot %s",
			 err.code ? error_format(&err, msg, sizeof(msg)) : strerror(-r));
		return launch_watch_stop(w);
	}
	return w;
}
