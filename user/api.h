/* SPDX-License-Identifier: GPL-2.0-only */
/* JSON views that do not fit the metric model: the per-pass series and 1 ms curves. */
#ifndef MT_API_H
#define MT_API_H

#include <stddef.h>
#include "exporter.h"

/*
 * GET /passes[?vm=NAME][&limit=N]: for each VM with detail accounting, its
 * newest passes (oldest first, at most limit, default 64) joined with QEMU's
 * numbers at each pass end, the open pass, and the re-dirty curve of the
 * newest closed pass at 1 ms resolution. *ret_body is malloc()ed.
 */
int mt_api_passes(const struct mt_export_ctx *c, const char *vm, int limit, char **ret_body,
		  size_t *ret_len);

#endif
