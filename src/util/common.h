/* Included first by every clawbox source file: the system headers we use
 * everywhere, the cleanup helpers, and (last) the banned functions. */
#ifndef CLAWBOX_COMMON_H
#define CLAWBOX_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_     __attribute__((noreturn))

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                       \
	({                                \
		__typeof__(p) _tp_ = (p); \
		(p) = NULL;               \
		_tp_;                     \
	})
#define TAKE_FD(fd)              \
	({                       \
		int _tf_ = (fd); \
		(fd) = -1;       \
		_tf_;            \
	})

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define STREQ(a, b)   (strcmp((a), (b)) == 0)

/* Every exit code of clawbox, in this one place (see docs/ARCHITECTURE.md). */
enum {
	/* the commands other than run, shell and scan */
	CLI_EXIT_ERROR = 1,
	CLI_EXIT_USAGE = 2,
	/* scan, as gitleaks: 0 no findings */
	SCAN_EXIT_FINDINGS = 1,
	SCAN_EXIT_ERROR = 2,
	/* run and shell pass the box's command's status through, else: */
	EXIT_SETUP = 125, /* clawbox could not set the sandbox up / usage */
	EXIT_CANNOT_EXEC = 126,
	EXIT_NOT_FOUND = 127,
};

#include "util/banned.h"
#endif
