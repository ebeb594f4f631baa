/* The box's writes, audited as they happen: a thread of the supervisor
 * (host side) watches the overlay's upper dir with inotify (a watch per
 * directory, added as directories appear) and appends to the audit log
 *   fs.create  {path, type}       a new file, directory, link...
 *   fs.modify  {path}             contents written (at most one a second a file)
 *   fs.delete  {path}             removed (a whiteout appearing is one)
 *   fs.rename  {from, path, type} renamed, both names in the upper dir
 *   fs.lost    {reason}           the kernel dropped events (queue overflow,
 *                                 or a directory that could not be watched)
 * with every path as the agent sees it (prefix/REL), bytes that are not
 * printable UTF-8 escaped (\xHH, \uXXXX, like the gate shows names).
 *
 * What overlayfs does on the agent's behalf is not the agent's: a copy-up
 * (the upper entry carries user.overlay.origin) is no create, the
 * exchanges of a directory's removal are no create; the writes that follow
 * a copy-up are modifies. Events are read after the fact, so an entry is
 * classified by what is there when its event is read: an entry gone
 * meanwhile is reported as its event says.
 *
 * The agent never waits for the watcher: events queue in the kernel (when
 * the queue overflows, fs.lost says so). The watcher never follows a
 * symlink: it resolves only beneath the upper dir's fd, with no symlinks,
 * magic links or mount crossings. Modules never print; 0 or -errno. */
#ifndef CLAWBOX_WRITEWATCH_H
#define CLAWBOX_WRITEWATCH_H
#include "util/common.h"
#include "util/error.h"

#define WRITEWATCH_MODIFY_MS 1000 /* at most one fs.modify a file per this */
#define WRITEWATCH_DIRS_MAX \
	32768                  /* directories watched at most (and half the
				    * user's max_user_watches): each pins an inode */
#define WRITEWATCH_BURST 20000 /* events written at once at most, then */
#define WRITEWATCH_RATE  1000  /* this many a second (fs.lost counts the rest) */

struct writewatch;
struct audit;

/* Watch the directory upper_dirfd (borrowed: kept open by the caller until
 * writewatch_stop) and every directory beneath it. The upper dir and its
 * first WW_START_DIRS directories (writewatch.c: 256) are watched before
 * this returns, so no write there made after it is missed; the rest of a
 * larger upper dir is watched by the thread (~70 000 directories a
 * second), and a write in one of those before its watch is not seen. prefix
 * ("/workspace") is what the agent sees upper as. a is used by the
 * watcher's thread alone until writewatch_stop returns: give it a handle of
 * its own (audit_open_known), not one another thread appends through. */
int writewatch_start(int upper_dirfd, const char *prefix, struct audit *a, struct writewatch **ret,
		     struct error *err);

struct writewatch_opts {
	/* No thread until writewatch_wake (when the upper dir is larger than
	 * start watches, at once): for a caller with a poll loop of its own
	 * that watches writewatch_fd and wakes the watcher when it is
	 * readable, so that a box that writes nothing costs no thread. */
	bool lazy;
	unsigned burst, per_sec; /* 0: WRITEWATCH_BURST, WRITEWATCH_RATE */
};
/* writewatch_start with opts (NULL: the defaults). */
int writewatch_start_opts(int upper_dirfd, const char *prefix, struct audit *a,
			  const struct writewatch_opts *opts, struct writewatch **ret,
			  struct error *err);
/* The fd to poll for the first event (POLLIN), or -1 once the thread runs. */
int writewatch_fd(const struct writewatch *w);
/* Start the thread, if it is not running. 0 or -errno. */
int writewatch_wake(struct writewatch *w);

/* Read every event queued so far (all the box's writes, once its
 * processes are gone) and write what waits (coalesced modifies); a and
 * upper_dirfd are not used after this returns. The thread then frees w
 * and ends on its own (closing the inotify fd waits for an RCU grace
 * period, which the caller need not wait for). Accepts NULL; returns
 * NULL. */
struct writewatch *writewatch_stop(struct writewatch *w);

/* Events written so far (for tests and the bench; before writewatch_stop). */
uint64_t writewatch_events(const struct writewatch *w);

/* s as the watcher records it into out (n >= 8): valid UTF-8 as is but
 * for controls and bidi marks (\uXXXX); other bytes < 0x20, 0x7f, bytes of
 * an invalid sequence and '\' as \xHH; cut with "..." when out is full. */
void writewatch_escape(const char *s, char *out, size_t n);

#endif
