/* Messages from the command layer to the user (modules never print).
 * Every line starts with "clawbox: "; error lines are lowercase and name their
 * subject in quotes. */
#ifndef CLAWBOX_LOG_H
#define CLAWBOX_LOG_H
#include "util/common.h"

void log_error(const char *fmt, ...) _printf_(1, 2);
void log_warn(const char *fmt, ...) _printf_(1, 2);
void log_info(const char *fmt, ...) _printf_(1, 2);
/* A filter for every message before it is printed (cli/launch.c installs the
 * redaction of the box's secrets): fn returns a new heap string to print
 * instead, or NULL to print the message as it is. fn NULL removes it. */
void log_set_filter(char *(*fn)(const char *msg, void *ctx), void *ctx);
/* Print to fd instead of stderr (-1: stderr again); e.g. clawbox up's
 * caller until the box serves. Any thread. */
void log_set_fd(int fd);
/* Quiet mode silences log_info only. */
void log_set_quiet(bool quiet);

#endif
