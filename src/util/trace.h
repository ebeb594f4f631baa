/* Start-up phase timestamps for bench/startup-phases.sh. Only a build with
 * -DCLAWBOX_TRACE_STARTUP (build/trace/clawbox) has them: trace_point(NAME)
 * then writes "NAME MICROSECONDS" (CLOCK_MONOTONIC) to fd TRACE_FD, which
 * the bench opens; an unopened fd makes it a no-op. In every other build it
 * is nothing at all. */
#ifndef CLAWBOX_UTIL_TRACE_H
#define CLAWBOX_UTIL_TRACE_H

#ifdef CLAWBOX_TRACE_STARTUP
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define TRACE_FD 9

static inline void trace_point(const char *name)
{
	struct timespec ts;
	char b[96];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int n = snprintf(b, sizeof(b), "%s %.1f\n", name,
			 (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3);
	if (n > 0)
		(void)!write(TRACE_FD, b, (size_t)n);
}
#else
#define trace_point(name) ((void)0)
#endif

#endif
