/* Filesystem helpers. All return >= 0 on success or -errno. None follows a
 * symlink it was not explicitly asked to follow. */
#ifndef CLAWBOX_FS_H
#define CLAWBOX_FS_H
#include "util/common.h"

#include <dirent.h>

/* Create every missing directory of path with mode (existing ones are kept). */
int fs_mkdir_p(const char *path, mode_t mode);

/* fs_walk's callback: called for each entry name beneath dirfd with its
 * lstat, before (post false) and, for a directory it entered, after (post
 * true) its contents. Before: > 0 enters a directory, 0 goes on, < 0 stops
 * the walk with that value. */
typedef int (*fs_walk_fn)(int dirfd, const char *name, const struct stat *st, bool post, void *ctx);

enum {
	/* Skip what cannot be stat'ed or opened, and do not enter directories
	 * on another filesystem (fn still sees them), instead of failing with
	 * their -errno (-EXDEV, before fn sees such a directory). */
	FS_WALK_BEST_EFFORT = 1 << 0,
};

#define FS_WALK_MAX_DEPTH 4096

/* Visit every entry beneath the directory dirfd, depth first, in directory
 * order. Never follows a symlink, never enters another filesystem; entries
 * that vanish meanwhile are skipped. Returns 0, what fn stopped with, -ELOOP
 * beyond FS_WALK_MAX_DEPTH levels or -errno. */
int fs_walk(int dirfd, unsigned flags, fs_walk_fn fn, void *ctx);

/* Remove every entry of the directory dirfd (dotfiles included), depth first.
 * Never follows symlinks and never crosses into another filesystem; directories
 * without write/search permission for us are chmod'ed first. */
int fs_clear_dir(int dirfd);

/* A DIR stream over a duplicate of dirfd (dirfd stays open and usable),
 * from its first entry; NULL with errno set on failure. */
DIR *fs_opendir_dup(int dirfd);

/* The names in the directory dirfd ("." and ".." left out; dirfd stays
 * usable), those keep (may be NULL: all) accepts, sorted by strcmp, as a new
 * array (free with strv_free_n(*ret, *ret_n)). -E2BIG when more than max
 * names are kept. */
int fs_dir_names(int dirfd, bool (*keep)(const char *name), size_t max, char ***ret, size_t *ret_n);

/* Remove name beneath dirfd: a file, or a directory tree (as fs_clear_dir). */
int fs_remove_tree_at(int dirfd, const char *name);

/* Read a whole regular file of at most max bytes into a new NUL-terminated
 * buffer (*ret_data, caller frees). -EFBIG when larger than max. */
int fs_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);

/* One read() of a small file (those of /proc: their size says 0) into buf,
 * NUL-terminated: the bytes read (> 0), or -errno (-ENODATA when empty). */
ssize_t fs_read_small(const char *path, char *buf, size_t size);

/* Replace dirfd/name atomically with data: write a temporary file beside it,
 * fsync it, rename it over name, fsync the directory. */
int fs_write_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode);

/* Write all of len bytes to fd, retrying on EINTR and short writes. */
int fs_write_all(int fd, const void *data, size_t len);

/* Read fd to its end into buf[0..cap), retrying on EINTR and short reads.
 * 0 with *ret_len, -EFBIG when cap bytes were read before the end (a file
 * larger than the caller expects, or one that grew while read), or -errno.
 * Callers size cap one past what they accept, so a full buffer means more. */
int fs_read_fd(int fd, void *buf, size_t cap, size_t *ret_len);

/* out = a + "/" + b, lexically (no double slashes). -ENAMETOOLONG if it does
 * not fit in n bytes. */
int path_join(char *out, size_t n, const char *a, const char *b);

/* True when path equals dir or lies beneath it. Both must be absolute and
 * normalized (no "//", ".", ".." components, no trailing slash except "/"). */
bool path_is_beneath(const char *path, const char *dir);

/* Sum of sizes and count of entries in a directory tree (no symlinks followed). */
int fs_tree_usage(int dirfd, uint64_t *ret_bytes, uint64_t *ret_entries);

#endif
