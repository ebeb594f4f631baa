/* The one error type of clawbox: what went wrong beyond an errno.
 *
 * A function that can say more than -errno takes a struct error *err (may
 * be NULL), fills it with error_set() or error_errno() and returns the same
 * negative code, so that the common case is one line:
 *
 *	return error_set(err, -EINVAL, file, line, "unknown key '%s'", key);
 *
 * A message names the subject in quotes where it has one and never holds a
 * secret value. Modules never print: the command layer (src/cli/) formats
 * the error once with error_format() and prints it. The struct is plain
 * bytes (no pointers), so the box's init can send it through its report
 * pipe (src/box/report.h). */
#ifndef CLAWBOX_ERROR_H
#define CLAWBOX_ERROR_H
#include "util/common.h"

#include <stdarg.h>

#define ERROR_WHERE_MAX   512
#define ERROR_MESSAGE_MAX 512

struct error {
	int code;                        /* the -errno returned; 0: no error recorded */
	unsigned line;                   /* 1-based line in where; 0 when none applies */
	char where[ERROR_WHERE_MAX];     /* file, path or step; "" when none */
	char message[ERROR_MESSAGE_MAX]; /* what is wrong; "" leaves strerror(-code) */
};

/* Record code (negative), where (may be NULL), line (0: none) and the
 * formatted message in e (may be NULL: nothing recorded). Over-long parts
 * are cut. Returns code. */
int error_set(struct error *e, int code, const char *where, unsigned line, const char *fmt, ...)
    _printf_(5, 6);

/* error_set() with a va_list. */
int error_setv(struct error *e, int code, const char *where, unsigned line, const char *fmt,
	       va_list ap) _printf_(5, 0);

/* Record a failed step: the message is the formatted step, ": ", and
 * strerror(-code) ("mount '/proc': Permission denied"). Returns code. */
int error_errno(struct error *e, int code, const char *fmt, ...) _printf_(3, 4);

/* Empty e (code 0, no where, no line, no message). Accepts NULL. */
void error_clear(struct error *e);

/* Whether e holds an error. */
static inline bool error_isset(const struct error *e)
{
	return e && e->code != 0;
}

/* e as one line for the user, into buf (size > 0): "where:line: message",
 * "'where': message" or "message"; an empty message is strerror(-code).
 * Returns buf. */
const char *error_format(const struct error *e, char *buf, size_t size);

/* The size error_format() needs at most. */
#define ERROR_FORMAT_MAX (ERROR_WHERE_MAX + ERROR_MESSAGE_MAX + 32)

#endif
