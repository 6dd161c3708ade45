// SPDX-License-Identifier: GPL-2.0-only
/* QEMU's view of each migration (query-migrate) and of the QMP link itself. */
#include <stddef.h>
#include <string.h>
#include "exporter.h"

enum mig_scale { SC_ONE, SC_MS, SC_US, SC_MBPS, SC_PAGES, SC_PERCENT };

struct mig_family {
	const char *name, *unit, *help;
	int have;   /* enum mig_field that must be present */
	size_t off; /* field of struct mt_migrate_info */
	int is_double;
	enum mig_scale scale;
};

#define MI(f) offsetof(struct mt_migrate_info, f)
static const struct mig_family mig_tab[] = {
	{ "migtrace_migration_total_bytes", "bytes", "Guest RAM to migrate (ram.total)", MIG_RAM,
	  MI(ram_total), 0, SC_ONE },
	{ "migtrace_migration_processed_bytes", "bytes", "RAM bytes sent so far (ram.transferred)",
	  MIG_RAM, MI(ram_transferred), 0, SC_ONE },
	{ "migtrace_migration_remaining_bytes", "bytes",
	  "RAM bytes still to send as of the last bitmap sync (ram.remaining)", MIG_RAM,
	  MI(ram_remaining), 0, SC_ONE },
	{ "migtrace_migration_transfer_rate_bytes_per_second", "bytes_per_second",
	  "QEMU's transfer rate (ram.mbps)", MIG_RAM, MI(ram_mbps), 1, SC_MBPS },
	{ "migtrace_migration_dirty_rate_bytes_per_second", "bytes_per_second",
	  "QEMU's own dirty rate (ram.dirty-pages-rate x page size; updated at most once a "
	  "second, 0 during the first pass)",
	  MIG_RAM, MI(ram_dirty_pages_rate), 1, SC_PAGES },
	{ "migtrace_migration_dirty_syncs", NULL,
	  "Dirty bitmap syncs so far (ram.dirty-sync-count)", MIG_RAM, MI(ram_dirty_sync_count), 0,
	  SC_ONE },
	{ "migtrace_migration_duplicate_pages", NULL, "Zero pages sent as such (ram.duplicate)",
	  MIG_RAM, MI(ram_duplicate), 0, SC_ONE },
	{ "migtrace_migration_normal_pages", NULL, "Full pages sent (ram.normal)", MIG_RAM,
	  MI(ram_normal), 0, SC_ONE },
	{ "migtrace_migration_expected_downtime_seconds", "seconds", "QEMU's downtime estimate",
	  MIG_EXPECTED_DOWNTIME, MI(expected_downtime_ms), 0, SC_MS },
	{ "migtrace_migration_downtime_seconds", "seconds", "Downtime of a completed migration",
	  MIG_DOWNTIME, MI(downtime_ms), 0, SC_MS },
	{ "migtrace_migration_total_time_seconds", "seconds", "Time since the migration started",
	  MIG_TOTAL_TIME, MI(total_time_ms), 0, SC_MS },
	{ "migtrace_migration_setup_time_seconds", "seconds", "Migration setup time",
	  MIG_SETUP_TIME, MI(setup_time_ms), 0, SC_MS },
	{ "migtrace_migration_cpu_throttle_ratio", "ratio", "Auto-converge vCPU throttle (0..1)",
	  MIG_CPU_THROTTLE, MI(cpu_throttle_percentage), 0, SC_PERCENT },
	{ "migtrace_migration_multifd_bytes", "bytes", "RAM bytes sent over multifd channels",
	  MIG_RAM_MULTIFD_BYTES, MI(ram_multifd_bytes), 0, SC_ONE },
	{ "migtrace_migration_postcopy_requests", NULL,
	  "Page requests received from the destination during postcopy", MIG_RAM_POSTCOPY_REQUESTS,
	  MI(ram_postcopy_requests), 0, SC_ONE },
	{ "migtrace_migration_postcopy_bytes", "bytes", "RAM bytes sent in the postcopy phase",
	  MIG_RAM_POSTCOPY_BYTES, MI(ram_postcopy_bytes), 0, SC_ONE },
	{ "migtrace_migration_xbzrle_cache_size_bytes", "bytes", "XBZRLE cache size",
	  MIG_XBZRLE_CACHE_SIZE, MI(xbzrle_cache_size), 0, SC_ONE },
	{ "migtrace_migration_xbzrle_bytes", "bytes", "XBZRLE-encoded bytes sent", MIG_XBZRLE_BYTES,
	  MI(xbzrle_bytes), 0, SC_ONE },
	{ "migtrace_migration_xbzrle_pages", NULL, "Pages sent XBZRLE-encoded", MIG_XBZRLE_PAGES,
	  MI(xbzrle_pages), 0, SC_ONE },
	{ "migtrace_migration_xbzrle_cache_misses", NULL, "Dirty pages not in the XBZRLE cache",
	  MIG_XBZRLE_CACHE_MISS, MI(xbzrle_cache_miss), 0, SC_ONE },
	{ "migtrace_migration_xbzrle_cache_miss_ratio", "ratio",
	  "XBZRLE cache misses per page processed in QEMU's last rate period (0..1)",
	  MIG_XBZRLE_CACHE_MISS_RATE, MI(xbzrle_cache_miss_rate), 1, SC_ONE },
	{ "migtrace_migration_xbzrle_encoding_ratio", "ratio",
	  "Page bytes per XBZRLE-encoded byte in QEMU's last rate period (0: nothing encoded)",
	  MIG_XBZRLE_ENCODING_RATE, MI(xbzrle_encoding_rate), 1, SC_ONE },
	{ "migtrace_migration_xbzrle_overflows", NULL,
	  "Pages whose XBZRLE encoding overflowed (sent whole)", MIG_XBZRLE_OVERFLOW,
	  MI(xbzrle_overflow), 0, SC_ONE },
	{ "migtrace_migration_compression_pages", NULL, "Pages sent compressed",
	  MIG_COMPRESSION_PAGES, MI(compression_pages), 0, SC_ONE },
	{ "migtrace_migration_compression_busy", NULL,
	  "Times no compression thread was free (compression.busy)", MIG_COMPRESSION_BUSY,
	  MI(compression_busy), 0, SC_ONE },
	{ "migtrace_migration_compression_busy_ratio", "ratio",
	  "Compression-busy times per page processed in QEMU's last rate period",
	  MIG_COMPRESSION_BUSY_RATE, MI(compression_busy_rate), 1, SC_ONE },
	{ "migtrace_migration_compression_compressed_bytes", "bytes", "Bytes after compression",
	  MIG_COMPRESSION_COMPRESSED_SIZE, MI(compression_compressed_size), 0, SC_ONE },
	{ "migtrace_migration_compression_ratio", "ratio",
	  "Page bytes per compressed byte in QEMU's last rate period", MIG_COMPRESSION_RATE,
	  MI(compression_rate), 1, SC_ONE },
	{ "migtrace_migration_postcopy_blocktime_seconds", "seconds",
	  "Postcopy time with all vCPUs blocked on page faults (destination side)",
	  MIG_POSTCOPY_BLOCKTIME, MI(postcopy_blocktime_ms), 0, SC_MS },
	{ "migtrace_migration_postcopy_vcpu_blocktime_max_seconds", "seconds",
	  "Postcopy blocked time of the most blocked vCPU (destination side)",
	  MIG_POSTCOPY_VCPU_BLOCKTIME, MI(postcopy_vcpu_blocktime_max_ms), 0, SC_MS },
	{ "migtrace_migration_dirty_limit_throttle_time_per_round_seconds", "seconds",
	  "Dirty-limit: longest vCPU throttle per dirty-ring-full round",
	  MIG_DIRTY_LIMIT_THROTTLE_TIME, MI(dirty_limit_throttle_time_us), 0, SC_US },
	{ "migtrace_migration_dirty_limit_ring_full_time_seconds", "seconds",
	  "Dirty-limit: estimated average time for a vCPU to fill its dirty ring",
	  MIG_DIRTY_LIMIT_RING_FULL_TIME, MI(dirty_limit_ring_full_time_us), 0, SC_US },
	{ "migtrace_migration_vfio_transferred_bytes", "bytes", "Bytes sent by VFIO devices",
	  MIG_VFIO_TRANSFERRED, MI(vfio_transferred), 0, SC_ONE },
	{ "migtrace_migration_blocked", NULL,
	  "Reasons that block migrating this VM (absent when nothing does)", MIG_BLOCKED_REASONS,
	  MI(blocked_reasons), 0, SC_ONE },
};

static double mig_value(const struct mig_family *f, const struct mt_migrate_info *m)
{
	const char *p = (const char *)m + f->off;
	double v = f->is_double ? *(const double *)p : (double)*(const uint64_t *)p;
	double page = m->ram_page_size ? (double)m->ram_page_size : MT_PAGE_SIZE_DEFAULT;

	switch (f->scale) {
	case SC_MS:
		return v / 1e3;
	case SC_US:
		return v / 1e6;
	case SC_MBPS:
		return v * 1e6 / 8;
	case SC_PAGES:
		return v * page;
	case SC_PERCENT:
		return v / 100;
	default:
		return v;
	}
}

static const struct qmp_snapshot *snap_of(const struct mt_export_ctx *c,
					  const struct mt_vm_view *vm)
{
	if (vm->src < 0 || vm->src >= c->nsrcs || !c->srcs[vm->src].snap)
		return NULL;
	return c->srcs[vm->src].snap->mig_ns ? c->srcs[vm->src].snap : NULL;
}

int mt_migration_active(const char *status)
{
	static const char *const active[] = {
		"setup",	   "active",	      "pre-switchover",	  "device",
		"postcopy-active", "postcopy-paused", "postcopy-recover", "wait-unplug",
		"cancelling"
	};

	for (size_t i = 0; i < sizeof(active) / sizeof(active[0]); i++)
		if (!strcmp(status, active[i]))
			return 1;
	return 0;
}

static int status_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;

	TRY(om_family(w, "migtrace_migration_status", OM_INFO, NULL,
		      "Migration status from query-migrate (none: no migration yet)"));
	for (int i = 0; i < v->nvms; i++) {
		const struct qmp_snapshot *s = snap_of(c, &v->vms[i]);
		struct om_label l[2] = { { "vm", v->vms[i].vm }, { "status", "" } };

		if (!s)
			continue;
		l[1].value = s->mig.status;
		TRY(om_sample(w, l, 2, 1, 0));
	}
	TRY(om_family(w, "migtrace_migration_active", OM_GAUGE, NULL,
		      "1 while a migration is in progress (dirty logging is on only then)"));
	for (int i = 0; i < v->nvms; i++) {
		const struct qmp_snapshot *s = snap_of(c, &v->vms[i]);
		struct om_label l = { "vm", v->vms[i].vm };

		if (s)
			TRY(om_sample(w, &l, 1, mt_migration_active(s->mig.status), 0));
	}
	TRY(om_family(w, "migtrace_vm_running", OM_GAUGE, NULL,
		      "1 when query-status says running"));
	for (int i = 0; i < v->nvms; i++) {
		const struct mt_vm_view *vm = &v->vms[i];
		const struct qmp_snapshot *s =
			vm->src >= 0 && vm->src < c->nsrcs ? c->srcs[vm->src].snap : NULL;
		struct om_label l = { "vm", vm->vm };

		if (s && s->status_ns)
			TRY(om_sample(w, &l, 1, s->running, 0));
	}
	return 0;
}

static int field_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;

	for (size_t fi = 0; fi < sizeof(mig_tab) / sizeof(mig_tab[0]); fi++) {
		const struct mig_family *f = &mig_tab[fi];

		TRY(om_family(w, f->name, OM_GAUGE, f->unit, f->help));
		for (int i = 0; i < v->nvms; i++) {
			const struct qmp_snapshot *s = snap_of(c, &v->vms[i]);
			struct om_label l = { "vm", v->vms[i].vm };

			/* Absent in query-migrate: absent here, not a made-up 0. */
			if (s && (s->mig.have & (1ULL << f->have)))
				TRY(om_sample(w, &l, 1, mig_value(f, &s->mig), 0));
		}
	}
	return 0;
}

/* query-migrate strings as info families: one sample per VM that reports a non-empty one. */
static const struct mig_text {
	const char *name, *label, *help;
	int have;
	size_t off;
} mig_texts[] = {
	{ "migtrace_migration_blocked_reason", "reason",
	  "The first of the reasons that block migrating this VM (blocked-reasons)",
	  MIG_BLOCKED_REASONS, MI(blocked_reason) },
	{ "migtrace_migration_error", "error", "Why the migration failed (error-desc)",
	  MIG_ERROR_DESC, MI(error_desc) },
};

static int text_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;

	for (size_t fi = 0; fi < sizeof(mig_texts) / sizeof(mig_texts[0]); fi++) {
		const struct mig_text *f = &mig_texts[fi];

		TRY(om_family(w, f->name, OM_INFO, NULL, f->help));
		for (int i = 0; i < v->nvms; i++) {
			const struct qmp_snapshot *s = snap_of(c, &v->vms[i]);
			struct om_label l[2] = { { "vm", v->vms[i].vm }, { f->label, "" } };

			if (!s || !(s->mig.have & (1ULL << f->have)))
				continue;
			l[1].value = (const char *)&s->mig + f->off;
			if (*l[1].value)
				TRY(om_sample(w, l, 2, 1, 0));
		}
	}
	return 0;
}

struct qmp_family {
	const char *name, *help;
	size_t off;
};

#define QS(f) offsetof(struct qmp_stats, f)
static const struct qmp_family qmp_tab[] = {
	{ "migtrace_qmp_requests", "QMP requests sent", QS(requests) },
	{ "migtrace_qmp_errors", "QMP error replies", QS(errors) },
	{ "migtrace_qmp_timeouts", "QMP requests that missed their deadline", QS(timeouts) },
	{ "migtrace_qmp_connects", "QMP connections established", QS(connects) },
	{ "migtrace_qmp_events", "Asynchronous QMP events received", QS(events) },
};

static int qmp_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;

	for (size_t fi = 0; fi < sizeof(qmp_tab) / sizeof(qmp_tab[0]); fi++) {
		TRY(om_family(w, qmp_tab[fi].name, OM_COUNTER, NULL, qmp_tab[fi].help));
		for (int i = 0; i < v->nvms; i++) {
			int src = v->vms[i].src;
			struct om_label l = { "vm", v->vms[i].vm };

			if (src >= 0 && c->qmp_stats && c->qmp_stats[src])
				TRY(om_sample_u64(
					w, &l, 1,
					*(const uint64_t *)((const char *)c->qmp_stats[src] +
							    qmp_tab[fi].off),
					0));
		}
	}
	TRY(om_family(w, "migtrace_qmp_round_trip_seconds", OM_GAUGE, "seconds",
		      "Round trip of the last QMP request"));
	for (int i = 0; i < v->nvms; i++) {
		int src = v->vms[i].src;
		struct om_label l = { "vm", v->vms[i].vm };

		if (src >= 0 && c->qmp_stats && c->qmp_stats[src] && c->qmp_stats[src]->last_rtt_ns)
			TRY(om_sample(w, &l, 1, c->qmp_stats[src]->last_rtt_ns / 1e9, 0));
	}
	return 0;
}

int mt_export_migration(struct om_writer *w, const struct mt_export_ctx *c)
{
	TRY(status_families(w, c));
	TRY(field_families(w, c));
	TRY(text_families(w, c));
	return qmp_families(w, c);
}
