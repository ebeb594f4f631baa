/* Messages from the command layer to the user (modules never print).
 * Every line starts with "clawbox: "; error lines are lowercase and name their
 * subject in quotes. */
#ifndef CLAWBOX_LOG_H
#define CLAWBOX_LOG_H
#include "util/common.h"

void log_error(const char *fmt, ...) _printf_(1, 2);
void log_warn(const char *fmt, ...) _printf_(1, 2);
void log_info(const char *fmt, ...) _printf_(1, 2);
/* Quiet mode silences log_info only. */
void log_set_quiet(bool quiet);

#endif
