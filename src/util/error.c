/* The one error type: see util/error.h. */
#include "util/common.h"

#include "util/error.h"

#include <stdarg.h>

static void vset(struct error *e, int code, const char *where, unsigned line, const char *fmt,
		 va_list ap)
{
	e->code = code;
	e->line = line;
	snprintf(e->where, sizeof(e->where), "%s", where ? where : "");
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
}

int error_setv(struct error *e, int code, const char *where, unsigned line, const char *fmt,
	       va_list ap)
{
	if (e)
		vset(e, code, where, line, fmt, ap);
	return code;
}

int error_set(struct error *e, int code, const char *where, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	vset(e, code, where, line, fmt, ap);
	va_end(ap);
	return code;
}

int error_errno(struct error *e, int code, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!e)
		return code;
	va_start(ap, fmt);
	vset(e, code, NULL, 0, fmt, ap);
	va_end(ap);
	n = strlen(e->message);
	snprintf(e->message + n, sizeof(e->message) - n, "%s%s", n ? ": " : "",
		 strerror(code < 0 ? -code : code));
	return code;
}

void error_clear(struct error *e)
{
	if (!e)
		return;
	e->code = 0;
	e->line = 0;
	e->where[0] = '\0';
	e->message[0] = '\0';
}

const char *error_format(const struct error *e, char *buf, size_t size)
{
	const char *msg = e->message;

	if (!msg[0])
		msg = strerror(e->code < 0 ? -e->code : e->code);
	if (e->where[0] && e->line)
		snprintf(buf, size, "%s:%u: %s", e->where, e->line, msg);
	else if (e->where[0])
		snprintf(buf, size, "'%s': %s", e->where, msg);
	else
		snprintf(buf, size, "%s", msg);
	return buf;
}
