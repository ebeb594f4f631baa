/* For unit tests of the scanner: how many findings a text gives. */
#ifndef CLAWBOX_UNIT_SCAN_H
#define CLAWBOX_UNIT_SCAN_H
#include "unit.h"

#include "scan/scan.h"

static inline int unit_count_finding(const struct scan_finding *f, void *ud)
{
	(void)f;
	(*(int *)ud)++;
	return 0;
}

/* The findings of text (as a file named "f") under the compiled rs. */
static inline int findings(const struct scan_rules *rs, const char *text)
{
	int n = 0;
	CHECK_INT(scan_buffer(rs, "f", text, strlen(text), unit_count_finding, &n), n);
	return n;
}

#endif
