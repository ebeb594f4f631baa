/* Filesystem helpers. All return >= 0 on success or -errno. None follows a
 * symlink it was not explicitly asked to follow. */
#ifndef CLAWBOX_FS_H
#define CLAWBOX_FS_H
#include "util/common.h"

#include <dirent.h>

/* Create every missing directory of path with mode (existing ones are kept). */
int fs_mkdir_p(const char *path, mode_t mode);

/* Remove every entry of the directory dirfd (dotfiles included), depth first.
 * Never follows symlinks and never crosses into another filesystem; directories
 * without write/search permission for us are chmod'ed first. */
int fs_clear_dir(int dirfd);

/* A DIR stream over a duplicate of dirfd (dirfd stays open and usable);
 * NULL with errno set on failure. */
DIR *fs_opendir_dup(int dirfd);

/* Remove name beneath dirfd: a file, or a directory tree (as fs_clear_dir). */
int fs_remove_tree_at(int dirfd, const char *name);

/* Read a whole regular file of at most max bytes into a new NUL-terminated
 * buffer (*ret_data, caller frees). -EFBIG when larger than max. */
int fs_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);

/* Replace dirfd/name atomically with data: write a temporary file beside it,
 * fsync it, rename it over name, fsync the directory. */
int fs_write_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode);

/* Write all of len bytes to fd, retrying on EINTR and short writes. */
int fs_write_all(int fd, const void *data, size_t len);

/* out = a + "/" + b, lexically (no double slashes). -ENAMETOOLONG if it does
 * not fit in n bytes. */
int path_join(char *out, size_t n, const char *a, const char *b);

/* True when path equals dir or lies beneath it. Both must be absolute and
 * normalized (no "//", ".", ".." components, no trailing slash except "/"). */
bool path_is_beneath(const char *path, const char *dir);

/* Sum of sizes and count of entries in a directory tree (no symlinks followed). */
int fs_tree_usage(int dirfd, uint64_t *ret_bytes, uint64_t *ret_entries);

#endif
