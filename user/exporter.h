/* SPDX-License-Identifier: GPL-2.0-only */
/* Metric families of migtrace: the view of the last step, written through om_writer. */
#ifndef MT_EXPORTER_H
#define MT_EXPORTER_H

#include "openmetrics.h"
#include "passes.h"
#include "sampler.h"
#include "tracer.h"

/* Return the first error of a writer call (writers return 0 or -errno). */
#define TRY(expr)                                                                                  \
	do {                                                                                       \
		int __e = (expr);                                                                  \
		if (__e)                                                                           \
			return __e;                                                                \
	} while (0)

struct mt_export_ctx {
	const struct mt_view *view;
	const struct mt_vm_src *srcs;
	const struct qmp_stats *const *qmp_stats; /* nsrcs entries, may be NULL */
	int nsrcs;
	const struct mt_tracer *tracer; /* NULL when BPF is off or failed */
	const struct mt_hists *hists;	/* passes, curves, working sets (NULL: none) */
	uint64_t interval_ns;
	uint64_t mono_to_wall_ns; /* add to CLOCK_MONOTONIC ns to get CLOCK_REALTIME ns */
};

/* Write every family (without # EOF). 0 or -errno from the writer. */
int mt_export(struct om_writer *w, const struct mt_export_ctx *ctx);

/* The migration (query-migrate) and QMP-link families (exporter_mig.c). */
int mt_export_migration(struct om_writer *w, const struct mt_export_ctx *c);

/* Passes, re-dirty curve summary, working sets, harvests, BPF cost (exporter_detail.c). */
int mt_export_detail(struct om_writer *w, const struct mt_export_ctx *c);

/* QEMU's migration events: phases, passes, STOP/RESUME (exporter_events.c). */
int mt_export_events(struct om_writer *w, const struct mt_export_ctx *c);
int mt_export_bpf_cost(struct om_writer *w, const struct mt_export_ctx *c);

/* "source", "destination" (QEMU was started with -incoming) or "" (no migration yet). */
const char *mt_vm_side(const struct mt_vm_src *s);
/* 1 for the query-migrate statuses of a migration in progress. */
int mt_migration_active(const char *status);
/* 1 while KVM logs dirty pages for vm (see exporter.c). */
int mt_dirty_tracking_active(const struct mt_export_ctx *c, const struct mt_vm_view *vm);

#endif
