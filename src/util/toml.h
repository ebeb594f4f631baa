/* A small, strict TOML reader for configuration files (gitleaks.toml and the
 * like). Supported: comments, bare/quoted/dotted keys, [tables],
 * [[arrays.of.tables]] (nested too), basic/literal/multi-line strings,
 * integers (dec/hex/oct/bin, '_' separators), floats (incl. inf/nan),
 * booleans, arrays and inline tables. Not supported (reported as an error,
 * never guessed): dates and times.
 *
 * Errors carry the 1-based line where the problem is; the reader never
 * prints. Input must be UTF-8 (NUL bytes and invalid UTF-8 are errors). */
#ifndef CLAWBOX_TOML_H
#define CLAWBOX_TOML_H
#include "util/common.h"

#include "util/error.h"

enum toml_type {
	TOML_STRING,
	TOML_INT,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_ARRAY,
	TOML_TABLE,
};

struct toml_value;

struct toml_kv {
	char *key;
	struct toml_value *val;
};

struct toml_value {
	enum toml_type type;
	unsigned line; /* where the value (or table header) appears */
	union {
		struct {
			char *s; /* NUL-terminated; may contain no NUL (rejected) */
			size_t len;
		} str;
		int64_t i;
		double f;
		bool b;
		struct {
			struct toml_value **items;
			size_t n, cap;
			bool of_tables; /* created by [[header]] */
		} arr;
		struct {
			struct toml_kv *kv;
			size_t n, cap;
			bool defined;  /* by a [header] or as a value: no redefinition */
			bool implicit; /* created as a parent of a header/dotted key */
			bool is_inline;
		} tab;
	};
};

/* Maximum input size and nesting the reader accepts (-E2BIG / error beyond). */
#define TOML_MAX_INPUT (16u << 20)
#define TOML_MAX_DEPTH 64

/* Parse data[0..len) into a new root table (*ret_root, free with toml_free).
 * file names the input in err (may be NULL). Returns 0, -EINVAL with err
 * (may be NULL) holding file and the line on a syntax or semantic error,
 * -ENOMEM, or -E2BIG when the input exceeds TOML_MAX_INPUT. */
int toml_parse(const char *data, size_t len, const char *file, struct toml_value **ret_root,
	       struct error *err);

/* Frees a value tree; accepts NULL; returns NULL. */
struct toml_value *toml_free(struct toml_value *v);

/* The value of key in table t, or NULL (also when t is not a table). */
const struct toml_value *toml_get(const struct toml_value *t, const char *key);

const char *toml_type_name(enum toml_type t);

#endif
