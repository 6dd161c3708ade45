// SPDX-License-Identifier: GPL-2.0-only
/*
 * QEMU's migration events, with its own µs timestamps: when the migration
 * entered each status, its newest pass, and the STOP/RESUME edges (on the
 * source: the start of the downtime; on the destination: its end).
 */
#include "exporter.h"

static const struct qmp_events *events_of(const struct mt_export_ctx *c,
					  const struct mt_vm_view *vm)
{
	if (vm->src < 0 || vm->src >= c->nsrcs || !c->srcs[vm->src].snap)
		return NULL;
	return &c->srcs[vm->src].snap->ev;
}

static int phase_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;

	TRY(om_family(w, "migtrace_migration_phase_timestamp_seconds", OM_GAUGE, "seconds",
		      "When the migration last entered each status (QMP MIGRATION events; QEMU "
		      "sends them when the migration's events capability is on)"));
	for (int i = 0; i < v->nvms; i++) {
		const struct qmp_events *e = events_of(c, &v->vms[i]);

		for (int p = 0; e && p < e->nphase; p++) {
			struct om_label l[2] = { { "vm", v->vms[i].vm },
						 { "status", e->phase[p].status } };

			if (e->phase[p].ts_us)
				TRY(om_sample(w, l, 2, e->phase[p].ts_us / 1e6, 0));
		}
	}
	return 0;
}

/* One gauge per VM from a field of its events, present only when set. */
struct ev_family {
	const char *name, *unit, *help;
	int kind; /* 0: pass number, 1: pass time, 2: stop time, 3: resume time */
};

static const struct ev_family ev_tab[] = {
	{ "migtrace_migration_pass", NULL, "QEMU's newest RAM pass (QMP MIGRATION_PASS)", 0 },
	{ "migtrace_migration_pass_timestamp_seconds", "seconds", "When that pass began", 1 },
	{ "migtrace_vm_stop_timestamp_seconds", "seconds",
	  "Newest QMP STOP: on a migration source, the start of the downtime", 2 },
	{ "migtrace_vm_resume_timestamp_seconds", "seconds",
	  "Newest QMP RESUME: on a migration destination, the end of the downtime", 3 },
};

static int ev_value(const struct qmp_events *e, int kind, double *ret)
{
	uint64_t us[4] = { 0, e->pass_ts_us, e->stop_ts_us, e->resume_ts_us };

	if (kind == 0) {
		*ret = e->pass;
		return e->pass >= 0;
	}
	*ret = us[kind] / 1e6;
	return us[kind] != 0;
}

int mt_export_events(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;

	TRY(phase_families(w, c));
	for (size_t f = 0; f < sizeof(ev_tab) / sizeof(ev_tab[0]); f++) {
		TRY(om_family(w, ev_tab[f].name, OM_GAUGE, ev_tab[f].unit, ev_tab[f].help));
		for (int i = 0; i < v->nvms; i++) {
			const struct qmp_events *e = events_of(c, &v->vms[i]);
			struct om_label l = { "vm", v->vms[i].vm };
			double val;

			if (e && ev_value(e, ev_tab[f].kind, &val))
				TRY(om_sample(w, &l, 1, val, 0));
		}
	}
	return 0;
}
