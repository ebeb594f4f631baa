/* A run's write watcher (src/state/writewatch.h) as the command layer
 * starts and stops it: its own audit handle, warnings instead of
 * failures (a box runs even when its writes cannot be watched). */
#ifndef CLAWBOX_LAUNCH_WATCH_H
#define CLAWBOX_LAUNCH_WATCH_H
#include "util/common.h"

#include "state/box.h"

#define LAUNCH_WATCH_PREFIX "/workspace" /* what the agent sees upper as */

struct launch_watch;
struct secrets;

/* Watch upper (the box's overlay upper dir) for the life of the box,
 * writing fs.* events to b's audit log (redacted against known, borrowed:
 * it must outlive the watch). NULL (after a warning) when it cannot. */
struct launch_watch *launch_watch_start(const struct box *b, const char *upper,
					const struct secrets *known);

/* The relay loop's watch hook (src/box/supervisor.h): until the box's
 * first write no thread runs; the loop polls the watcher's fd (into pf:
 * 0 or 1 entries) and launch_watch_ready starts the thread when that fd
 * was ready (a box that writes nothing costs no thread). */
struct pollfd;
size_t launch_watch_pollfd(struct launch_watch *w, struct pollfd *pf);
void launch_watch_ready(struct launch_watch *w);

/* Write what is queued and stop. Accepts NULL; returns NULL. */
struct launch_watch *launch_watch_stop(struct launch_watch *w);

#endif
