/* File calls beneath a workspace: what the API (`clawbox serve`) and MCP
 * do to the files of an up box. root is a directory fd (an O_PATH one from
 * ctl_workspace() will do): every path is relative to it and resolved with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS),
 * so a symlink anywhere in the path (the box may plant one at any time) is
 * refused (-ELOOP), never followed, and nothing outside root is reached.
 *
 * Paths are refused before any syscall when absolute, empty where a file
 * is meant, with a ".." component, over FILES_PATH_MAX, or holding what
 * the sync gate refuses in a name: a control character (below 0x20, DEL),
 * invalid UTF-8, NUL. Calls that change the workspace (write, delete) also
 * refuse a component the gate takes for ".git" (gate_name_is_dotgit): the
 * repository of the box comes home through git's own transfer only.
 *
 * Only regular files are read or written: a FIFO, device or socket is
 * opened O_NONBLOCK | O_NOFOLLOW and refused after fstat, never read.
 * Functions never print; each returns >= 0 or -errno with *err (may be
 * NULL) naming the path (where) and what is wrong. */
#ifndef CLAWBOX_FILES_H
#define CLAWBOX_FILES_H
#include "util/common.h"

#include "util/error.h"

#define FILES_PATH_MAX 4096

enum {
	FILES_MUTATE = 1 << 0,  /* files_check_path: the path is to be changed */
	FILES_ROOT_OK = 1 << 1, /* files_check_path: "" and "." name root itself */
};

/* Whether path[0..len) may name something beneath root (the checks above;
 * len counts every byte, so an embedded NUL is seen and refused). 0 or
 * -EINVAL (-ENAMETOOLONG) with *err. */
int files_check_path(const char *path, size_t len, unsigned flags, struct error *err);

/* What a file is, as list and stat show it. */
struct files_entry {
	char *name;  /* list: the entry's name; stat: NULL */
	mode_t mode; /* S_IFMT and permission bits (lstat: a symlink is a symlink) */
	uint64_t size;
	int64_t mtime_ns;
};

/* "file", "dir", "symlink", "fifo", "socket", "chardev", "blockdev". */
const char *files_type_name(mode_t mode);

/* Open the regular file path for reading: *ret_fd (O_RDONLY, O_CLOEXEC)
 * and its fstat in *ret_st. -EPERM for anything but a regular file. */
int files_open_read(int root, const char *path, int *ret_fd, struct stat *ret_st,
		    struct error *err);

struct files_data {
	char *data; /* NUL-terminated (not counted in len) */
	size_t len;
	uint64_t size; /* the file's size when it was read */
	bool eof;      /* the read reached the end of the file */
};

/* Read at most limit bytes (0: to the end) of path from offset on. More
 * than cap bytes asked for (limit > cap, or limit 0 and more than cap
 * left) is -EFBIG: read a big file in pieces with offset and limit. */
int files_read(int root, const char *path, uint64_t offset, uint64_t limit, size_t cap,
	       struct files_data *ret, struct error *err);
void files_data_free(struct files_data *d);

enum {
	FILES_MKDIRS = 1 << 0, /* create the missing parent directories (0755) */
	FILES_EXCL = 1 << 1,   /* -EEXIST when path exists */
};

/* A write in progress: a temporary file beside path (".NAME.clawbox-XXXXXX"
 * in the same directory), renamed over path by files_write_commit. */
struct files_writer;

/* Begin writing path. mode: permission bits (setuid, setgid and sticky are
 * dropped), or -1: those of the file replaced, 0644 for a new one. The
 * parent directory is opened once, here: a directory swapped for a
 * symlink afterwards cannot redirect the write. As root, the new file
 * gets the owner of the file it replaces or else of its directory (the
 * box's user, not root). Refused: path is a directory (-EISDIR), a symlink
 * (-ELOOP) or not a regular file (-EPERM). */
int files_write_open(int root, const char *path, unsigned flags, int mode,
		     struct files_writer **ret, struct error *err);
int files_write_append(struct files_writer *w, const void *data, size_t len, struct error *err);
/* fsync the data, rename it over path (re-checking what is there: it is
 * never a directory or a symlink replaced), fsync the directory. The writer
 * is freed whatever the result. */
int files_write_commit(struct files_writer *w, struct error *err);
/* Drop the temporary file. NULL is a no-op. */
void files_write_abort(struct files_writer *w);

/* The whole write in one call: open, append data, commit. */
int files_write(int root, const char *path, const void *data, size_t len, unsigned flags, int mode,
		struct error *err);

/* The entries of the directory path ("" or "." for root), sorted by name,
 * with lstat's view of each (entries that vanish meanwhile are left out):
 * *ret (files_entries_free) of *ret_n. -E2BIG when it holds more than max. */
int files_list(int root, const char *path, size_t max, struct files_entry **ret, size_t *ret_n,
	       struct error *err);
void files_entries_free(struct files_entry *v, size_t n);

/* lstat of path ("" or "." for root): a symlink as the last component is
 * shown as a symlink, never followed. ret->name is NULL. */
int files_stat(int root, const char *path, struct files_entry *ret, struct error *err);

/* Remove path: a file (a symlink or special file itself, never what it
 * points to), an empty directory, or with recursive a whole tree (never
 * following a symlink, never leaving the filesystem). -ENOTEMPTY for a
 * directory with entries without recursive; root itself is never removed. */
int files_delete(int root, const char *path, bool recursive, struct error *err);

#endif
