/* SPDX-License-Identifier: GPL-2.0-only */
/* Test helpers: a missing prerequisite skips outside CI and fails with CI=true. */
#ifndef MT_TESTUTIL_H
#define MT_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns 1 (fail) in CI, 0 (caller skips) elsewhere, after saying what is missing. */
static inline int mt_test_require(const char *what)
{
	const char *ci = getenv("CI");

	if (ci && !strcmp(ci, "true")) {
		fprintf(stderr, "FAIL: needs %s (required when CI=true)\n", what);
		return 1;
	}
	fprintf(stderr, "SKIP: needs %s\n", what);
	return 0;
}

#endif
