/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The QEMUs followed over QMP: the --qmp sockets, and those that appear (and
 * disappear) under --qmp-glob patterns, rescanned every second.
 */
#ifndef MT_QMPSET_H
#define MT_QMPSET_H

#include <stdint.h>
#include "loop.h"
#include "qmp.h"
#include "sampler.h"

struct mt_qmpset {
	struct mt_loop *loop;
	uint64_t timeout_ns;
	struct qmp_client **c;
	unsigned char *globbed; /* found by a pattern: dropped when its socket goes */
	int n, cap;
	struct mt_vm_src *srcs;		/* n entries, valid after mt_qmpset__refresh() */
	const struct qmp_stats **stats; /* n entries */
	int full_logged;
};

/* Follow path (a copy is kept by the client). 0, -E2BIG past MT_MAX_QMP, or -errno. */
int mt_qmpset__add(struct mt_qmpset *s, const char *path, int globbed);
/* Follow new sockets matching the patterns, drop globbed ones whose socket is gone.
 * Returns the number of changes. */
int mt_qmpset__scan(struct mt_qmpset *s, const char *const *globs, int nglobs,
		    struct mt_sampler *sampler);
void mt_qmpset__tick(struct mt_qmpset *s, uint64_t now_ns);
/* Fill srcs[] and stats[] from the clients' current state. */
void mt_qmpset__refresh(struct mt_qmpset *s);
void mt_qmpset__free(struct mt_qmpset *s);

#endif
