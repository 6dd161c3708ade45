// SPDX-License-Identifier: GPL-2.0-only
/* One-line diagnostics on stderr: "migtrace: warning: ...". */
#include <stdarg.h>
#include <stdio.h>
#include "log.h"

static enum mt_log_level log_level = MT_LOG_INFO;

void mt_log_set_level(enum mt_log_level level)
{
	log_level = level;
}

enum mt_log_level mt_log_get_level(void)
{
	return log_level;
}

void mt_log(enum mt_log_level level, const char *fmt, ...)
{
	static const char *const prefix[MT_LOG_MAX] = { "error: ", "warning: ", "", "debug: " };
	va_list ap;

	if (level > log_level)
		return;
	fprintf(stderr, "migtrace: %s", prefix[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
