// SPDX-License-Identifier: GPL-2.0-only
/*
 * What only the kernel sees: harvests and their cost, passes (harvest to
 * harvest) with their distinct pages, the re-dirty curve of the last pass
 * (summarised; the full 1 ms curve is on GET /passes), sliding-window
 * working sets, and what the BPF programs themselves cost.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exporter.h"

static const char *const harvest_names[MT_HARVEST_MAX] = { "ring_reset", "reset_dirty_rings_ioctl",
							   "get_dirty_log_ioctl",
							   "clear_dirty_log_ioctl" };

static int harvest_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;

	TRY(om_family(w, "migtrace_dirty_harvests", OM_COUNTER, NULL,
		      "Harvest points by kind: dirty-ring resets (one per vCPU ring) and the "
		      "dirty-log ioctls of the QEMU process"));
	for (int i = 0; i < v->nvms; i++)
		for (int k = 0; k < MT_HARVEST_MAX; k++) {
			struct om_label l[2] = { { "vm", v->vms[i].vm },
						 { "kind", harvest_names[k] } };

			if (v->vms[i].harvests[k])
				TRY(om_sample_u64(w, l, 2, v->vms[i].harvests[k], 0));
		}
	TRY(om_family(w, "migtrace_dirty_harvest_seconds", OM_COUNTER, "seconds",
		      "Time QEMU spent in dirty-log ioctls, by kind"));
	for (int i = 0; i < v->nvms; i++)
		for (int k = MT_HARVEST_RESET_RINGS; k < MT_HARVEST_MAX; k++) {
			struct om_label l[2] = { { "vm", v->vms[i].vm },
						 { "kind", harvest_names[k] } };

			if (v->vms[i].harvests[k])
				TRY(om_sample(w, l, 2, v->vms[i].harvest_time_ns[k] / 1e9, 0));
		}
	return 0;
}

/* Per-VM gauges of the newest closed pass, one table row each. */
enum pass_field { PF_DURATION, PF_EVENTS, PF_DISTINCT, PF_FIRST, PF_REDIRTY, PF_MAX };

static const struct {
	const char *name, *unit, *help;
} pass_tab[PF_MAX] = {
	[PF_DURATION] = { "migtrace_dirty_pass_duration_seconds", "seconds",
			  "Duration of the newest closed pass (harvest to harvest)" },
	[PF_EVENTS] = { "migtrace_dirty_pass_events", NULL,
			"Dirty events in the newest closed pass" },
	[PF_DISTINCT] = { "migtrace_dirty_pass_distinct_pages", NULL,
			  "Distinct pages dirtied in the newest closed pass (estimate, see "
			  "docs/ARCHITECTURE.md)" },
	[PF_FIRST] = { "migtrace_dirty_pass_first_dirty_pages", NULL,
		       "Of those, pages never dirtied before since tracking began" },
	[PF_REDIRTY] = { "migtrace_dirty_pass_redirty_pages", NULL,
			 "Of those, pages dirtied again after an earlier pass" },
};

static double pass_value(const struct mt_pass_entry *e, int f)
{
	switch (f) {
	case PF_DURATION:
		return e->p.end_ns > e->p.start_ns ? (e->p.end_ns - e->p.start_ns) / 1e9 : 0;
	case PF_EVENTS:
		return e->p.events;
	case PF_DISTINCT:
		return e->distinct;
	case PF_FIRST:
		return e->first;
	default:
		return e->distinct - e->first;
	}
}

static const struct mt_vm_hist *hist_of(const struct mt_export_ctx *c, const struct mt_vm_view *vm)
{
	return c->hists && vm->pid > 0 ? mt_hists__find(c->hists, vm->pid) : NULL;
}

static int pass_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;

	TRY(om_family(w, "migtrace_dirty_passes", OM_COUNTER, NULL,
		      "Passes started: bursts of harvest events (< 1 ms apart) end one pass"));
	for (int i = 0; i < v->nvms; i++) {
		const struct mt_vm_hist *h = hist_of(c, &v->vms[i]);
		struct om_label l = { "vm", v->vms[i].vm };

		if (h)
			TRY(om_sample_u64(w, &l, 1, h->seen_seq, 0));
	}
	for (int f = 0; f < PF_MAX; f++) {
		TRY(om_family(w, pass_tab[f].name, OM_GAUGE, pass_tab[f].unit, pass_tab[f].help));
		for (int i = 0; i < v->nvms; i++) {
			const struct mt_pass_entry *e = mt_vm_hist__last(hist_of(c, &v->vms[i]));
			struct om_label l = { "vm", v->vms[i].vm };

			if (e)
				TRY(om_sample(w, &l, 1, pass_value(e, f), 0));
		}
	}
	TRY(om_family(w, "migtrace_dirty_current_pass_distinct_pages", OM_GAUGE, NULL,
		      "Distinct pages dirtied so far in the open pass (estimate)"));
	for (int i = 0; i < v->nvms; i++) {
		const struct mt_vm_hist *h = hist_of(c, &v->vms[i]);
		struct om_label l = { "vm", v->vms[i].vm };

		if (h && c->tracer)
			TRY(om_sample(
				w, &l, 1,
				mt_linear_count(h->cur.distinct, mt_tracer__sketch_bits(c->tracer)),
				0));
	}
	return 0;
}

/* Checkpoints of the re-dirty curve: events within t after the harvest. */
static const struct {
	const char *label;
	int buckets;
} within_tab[] = { { "0.001", 1 },
		   { "0.01", 10 },
		   { "0.1", 100 },
		   { "1", 1000 },
		   { "8.192", MT_NR_BUCKETS },
		   { "+Inf", MT_BUCKETS_PER_VM } };

static int curve_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;

	TRY(om_family(w, "migtrace_dirty_redirty_events", OM_GAUGE, NULL,
		      "Re-dirty curve of the newest closed pass: dirty events that came within "
		      "`within` seconds after its harvest (1 ms resolution on GET /passes)"));
	for (int i = 0; i < v->nvms; i++) {
		const struct mt_vm_hist *h = hist_of(c, &v->vms[i]);
		uint64_t sum = 0;
		int b = 0;

		if (!h || !h->curve_seq)
			continue;
		for (size_t k = 0; k < sizeof(within_tab) / sizeof(within_tab[0]); k++) {
			struct om_label l[2] = { { "vm", v->vms[i].vm },
						 { "within", within_tab[k].label } };

			for (; b < within_tab[k].buckets; b++)
				sum += h->curve[b];
			TRY(om_sample_u64(w, l, 2, sum, 0));
		}
	}
	TRY(om_family(w, "migtrace_dirty_working_set_pages", OM_GAUGE, NULL,
		      "Distinct pages dirtied within the last `window` (sliding; estimate)"));
	for (int i = 0; i < v->nvms; i++) {
		const struct mt_vm_hist *h = hist_of(c, &v->vms[i]);
		struct om_label l1[2] = { { "vm", v->vms[i].vm }, { "window", "1s" } };
		struct om_label l10[2] = { { "vm", v->vms[i].vm }, { "window", "10s" } };

		if (!h || !h->ws_ns)
			continue;
		TRY(om_sample(w, l1, 2, h->ws_1s, 0));
		TRY(om_sample(w, l10, 2, h->ws_10s, 0));
	}
	return 0;
}

static int region_samples(struct om_writer *w, const char *vm, const struct mt_where_sum *ws)
{
	for (int r = 0; r < ws->ntop; r++) {
		char memslot[16], mib[24];
		struct om_label l[3] = { { "vm", vm },
					 { "memslot", memslot },
					 { "region_mib", mib } };

		snprintf(memslot, sizeof(memslot), "%u:%u", ws->top[r].memslot >> 16,
			 ws->top[r].memslot & 0xffff);
		/* start of the 2 MiB region, in MiB from the start of its memslot */
		snprintf(mib, sizeof(mib), "%llu", (unsigned long long)ws->top[r].region * 2);
		TRY(om_sample_u64(w, l, 3, ws->top[r].events, 0));
	}
	return 0;
}

/* Where memory is dirtied: per memslot, the busiest 2 MiB regions, and what did not fit. */
static int where_write(struct om_writer *w, const struct mt_export_ctx *c,
		       const struct mt_where_sum *ws, const int *have)
{
	const struct mt_view *v = c->view;
	int nvm = v->nvms;

	TRY(om_family(w, "migtrace_dirty_memslot_events", OM_COUNTER, NULL,
		      "Dirty events per KVM memslot (address space:id)"));
	for (int i = 0; i < nvm; i++)
		for (int m = 0; have[i] && m < MT_MEMSLOT_IDS; m++) {
			char id[16];
			struct om_label l[2] = { { "vm", v->vms[i].vm }, { "memslot", id } };

			if (!ws[i].memslot_events[m])
				continue;
			snprintf(id, sizeof(id), "%d:%d", m >> 5, m & 31);
			TRY(om_sample_u64(w, l, 2, ws[i].memslot_events[m], 0));
		}
	TRY(om_family(w, "migtrace_dirty_region_events", OM_COUNTER, NULL,
		      "Dirty events of the busiest 2 MiB regions (top 10 per VM): memslot and "
		      "offset of the region in it"));
	for (int i = 0; i < nvm; i++)
		if (have[i])
			TRY(region_samples(w, v->vms[i].vm, &ws[i]));
	TRY(om_family(w, "migtrace_dirty_region_lost_events", OM_COUNTER, NULL,
		      "Dirty events not attributed to a region: its hashed counter held another"));
	for (int i = 0; i < nvm; i++) {
		struct om_label l = { "vm", v->vms[i].vm };

		if (have[i])
			TRY(om_sample_u64(w, &l, 1, ws[i].lost, 0));
	}
	return 0;
}

static int where_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;
	struct mt_where_sum *ws = calloc(v->nvms + 1, sizeof(*ws));
	int *have = calloc(v->nvms + 1, sizeof(*have)), err;

	if (!ws || !have) {
		free(ws);
		free(have);
		return -ENOMEM;
	}
	for (int i = 0; i < v->nvms; i++) {
		const struct mt_vm_hist *h = hist_of(c, &v->vms[i]);

		have[i] = h && c->tracer && !mt_tracer__where(c->tracer, h->slot, &ws[i]);
	}
	err = where_write(w, c, ws, have);
	free(ws);
	free(have);
	return err;
}

int mt_export_detail(struct om_writer *w, const struct mt_export_ctx *c)
{
	TRY(where_families(w, c));
	TRY(harvest_families(w, c));
	TRY(pass_families(w, c));
	TRY(curve_families(w, c));
	return mt_export_bpf_cost(w, c);
}

/* What migtrace's own BPF programs cost, from the kernel's run-time stats. */
int mt_export_bpf_cost(struct om_writer *w, const struct mt_export_ctx *c)
{
	uint64_t cnt[MT_TP_MAX] = { 0 }, ns[MT_TP_MAX] = { 0 };
	int have[MT_TP_MAX] = { 0 };

	for (int i = 0; c->tracer && i < MT_TP_MAX; i++)
		have[i] = !mt_tracer__prog_stats(c->tracer, i, &cnt[i], &ns[i]);
	TRY(om_family(w, "migtrace_bpf_program_runs", OM_COUNTER, NULL,
		      "Runs of migtrace's BPF program on a tracepoint (kernel BPF stats, enabled "
		      "while migtrace runs)"));
	for (int i = 0; i < MT_TP_MAX; i++) {
		struct om_label l = { "tracepoint", mt_tp_name(i) };

		if (have[i])
			TRY(om_sample_u64(w, &l, 1, cnt[i], 0));
	}
	TRY(om_family(w, "migtrace_bpf_program_run_seconds", OM_COUNTER, "seconds",
		      "Time spent in migtrace's BPF program on a tracepoint (divide by runs for "
		      "the cost per event)"));
	for (int i = 0; i < MT_TP_MAX; i++) {
		struct om_label l = { "tracepoint", mt_tp_name(i) };

		if (have[i])
			TRY(om_sample(w, &l, 1, ns[i] / 1e9, 0));
	}
	return 0;
}
