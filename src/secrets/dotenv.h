/* The dotenv reader: NAME=VALUE lines as .env files write them.
 *
 * Grammar, per logical line (LF or CRLF ends a line):
 *   - blank lines and lines whose first non-blank character is '#' are
 *     ignored;
 *   - an optional "export" followed by blanks;
 *   - NAME: [A-Za-z_][A-Za-z0-9_]*, at most DOTENV_NAME_MAX bytes, matched
 *     exactly (AZURE_OPENAI_API_KEY is not OPENAI_API_KEY);
 *   - blanks, '=', blanks;
 *   - VALUE, one of
 *       'single quoted'   literal, no escapes, may span lines
 *       "double quoted"   escapes \n \r \t \\ \" \' \$ \` (any other
 *                         backslash stays as it is), may span lines
 *       unquoted          the rest of the line, trailing blanks removed; a
 *                         '#' preceded by a blank starts a comment, any other
 *                         '#', '=' or quote is part of the value
 *     followed by blanks and an optional "# comment".
 * No variable expansion: '$' is literal. A NUL byte anywhere, a missing
 * '=', an invalid name, an unterminated quote, text after a closing quote or
 * a value over DOTENV_VALUE_MAX bytes is an error with its line number.
 * Error messages never quote the file's content (it may hold a value).
 *
 * The reader never allocates and never copies a value: it decodes names and
 * values in place in the caller's buffer (which the caller keeps in secret
 * memory, see src/secrets/secrets.h) and hands out pointers into it. */
#ifndef CLAWBOX_DOTENV_H
#define CLAWBOX_DOTENV_H
#include "util/common.h"

#include "util/error.h"

#define DOTENV_NAME_MAX  64
#define DOTENV_VALUE_MAX (32 * 1024)

/* Called once per assignment, in file order. name and value are
 * NUL-terminated and point into the parsed buffer; they stay valid until the
 * buffer is freed. value may hold any byte but NUL. line is where the
 * assignment starts. Returning < 0 stops the parse with that value. */
typedef int (*dotenv_cb)(const char *name, const char *value, size_t value_len, unsigned line,
			 void *ctx);

/* Parse data[0..len). The buffer is modified (decoded in place), and
 * data[len] must be writable (a NUL terminator slot): allocate len + 1.
 * Returns the number of assignments, -EINVAL with err (may be NULL) holding
 * file (may be NULL) and the 1-based line for malformed input (where a quote
 * was opened for an unterminated one), or what cb returned when < 0 (err is
 * then left as cb left it). */
int dotenv_parse(char *data, size_t len, const char *file, dotenv_cb cb, void *ctx,
		 struct error *err);

/* True when name is a valid variable name (the grammar's NAME). */
bool dotenv_name_valid(const char *name);

#endif
