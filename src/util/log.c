#include "util/log.h"

#include <stdarg.h>

static bool quiet;
static _Atomic int out_fd = -1;
static char *(*filter)(const char *msg, void *ctx);
static void *filter_ctx;

void log_set_filter(char *(*fn)(const char *msg, void *ctx), void *ctx)
{
	filter = fn;
	filter_ctx = ctx;
}

void log_set_fd(int fd)
{
	out_fd = fd;
}

void log_set_quiet(bool q)
{
	quiet = q;
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	char line[4096];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	_cleanup_free_ char *f = filter ? filter(line, filter_ctx) : NULL;
	int fd = out_fd;
	if (fd >= 0)
		dprintf(fd, "clawbox: %s%s\n", prefix, f ? f : line);
	else
		fprintf(stderr, "clawbox: %s%s\n", prefix, f ? f : line);
	explicit_bzero(line, sizeof(line)); /* it may have held a secret */
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	if (quiet)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}
