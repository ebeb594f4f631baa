/* Time for timeouts and durations: the monotonic clock in milliseconds
 * (never the wall clock, which can jump). */
#ifndef CLAWBOX_CLOCK_H
#define CLAWBOX_CLOCK_H
#include "util/common.h"

#include <time.h>

static inline int64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
