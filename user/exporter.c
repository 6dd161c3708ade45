// SPDX-License-Identifier: GPL-2.0-only
/*
 * Every family migtrace exposes is written here, from tables where the
 * families are alike (migration fields, vCPU counters). docs/METRICS.md
 * lists them; tests/test_docs.sh checks that list against a live scrape.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <bpf/libbpf.h>
#include "exporter.h"

static const char *const src_dirty_ring = "dirty_ring";

static int build_info(struct om_writer *w)
{
	struct utsname u;
	char libbpf[32];
	struct om_label l[3] = { { "version", MIGTRACE_VERSION },
				 { "libbpf", libbpf },
				 { "kernel", "" } };

	snprintf(libbpf, sizeof(libbpf), "%u.%u", libbpf_major_version(), libbpf_minor_version());
	if (!uname(&u))
		l[2].value = u.release;
	TRY(om_family(w, "migtrace_build", OM_INFO, NULL, "migtrace version and its environment"));
	return om_sample(w, l, 3, 1, 0);
}

static int tracer_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	TRY(om_family(w, "migtrace_tracepoint_attached", OM_GAUGE, NULL,
		      "1 when the BPF program of a KVM tracepoint is attached, with its mode"));
	for (int i = 0; i < MT_TP_MAX; i++) {
		enum mt_attach_mode m = c->tracer ? mt_tracer__mode(c->tracer, i) : MT_ATTACH_NONE;
		struct om_label l[2] = { { "tracepoint", mt_tp_name(i) },
					 { "mode", mt_attach_mode_name(m) } };

		TRY(om_sample(w, l, 2, m != MT_ATTACH_NONE, 0));
	}
	TRY(om_family(w, "migtrace_bpf_map_full_drops", OM_COUNTER, NULL,
		      "Events not counted because a BPF counter map was full"));
	TRY(om_sample_u64(w, NULL, 0, c->view->map_full, 0));
	TRY(om_family(w, "migtrace_samples", OM_COUNTER, NULL, "Sampler steps taken"));
	TRY(om_sample_u64(w, NULL, 0, c->view->steps, 0));
	TRY(om_family(w, "migtrace_sample_interval_seconds", OM_GAUGE, "seconds",
		      "Configured sampling interval"));
	return om_sample(w, NULL, 0, c->interval_ns / 1e9, 0);
}

static const struct mt_vm_src *src_of(const struct mt_export_ctx *c, const struct mt_vm_view *vm)
{
	return vm->src >= 0 && vm->src < c->nsrcs ? &c->srcs[vm->src] : NULL;
}

const char *mt_vm_side(const struct mt_vm_src *s)
{
	const struct qmp_snapshot *snap = s ? s->snap : NULL;

	if (!snap)
		return "";
	if (snap->incoming)
		return "destination";
	return snap->mig_ns && strcmp(snap->mig.status, "none") ? "source" : "";
}

static int vm_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;

	TRY(om_family(w, "migtrace_vm", OM_INFO, NULL,
		      "A VM migtrace follows: QEMU pid, QMP socket, side of a migration (source, "
		      "destination, or empty before any) and, when QMP is down, why"));
	for (int i = 0; i < v->nvms; i++) {
		const struct mt_vm_view *vm = &v->vms[i];
		const struct mt_vm_src *s = src_of(c, vm);
		char pid[16];
		struct om_label l[5] = { { "vm", vm->vm },
					 { "pid", pid },
					 { "qmp", s ? s->qmp_path : "" },
					 { "side", mt_vm_side(s) },
					 { "reason", s && s->reason ? s->reason : "" } };

		snprintf(pid, sizeof(pid), "%d", vm->pid);
		TRY(om_sample(w, l, 5, 1, 0));
	}
	TRY(om_family(w, "migtrace_vm_up", OM_GAUGE, NULL,
		      "1 when the VM's QMP monitor answers in time (VMs given with --qmp)"));
	for (int i = 0; i < v->nvms; i++) {
		const struct mt_vm_src *s = src_of(c, &v->vms[i]);
		struct om_label l = { "vm", v->vms[i].vm };

		if (s)
			TRY(om_sample(w, &l, 1, s->up, 0));
	}
	return 0;
}

#define TRACKING_GRACE_NS 2000000000ULL

/*
 * KVM logs dirty pages only while dirty logging is on: during a migration
 * (QMP says so) or a calc-dirty-rate window (dirty events or harvests were
 * seen lately). Outside it a rate of 0 would be a claim nobody measured.
 */
int mt_dirty_tracking_active(const struct mt_export_ctx *c, const struct mt_vm_view *vm)
{
	const struct mt_vm_src *s = src_of(c, vm);
	uint64_t last = vm->tot.last_event_ns > vm->last_reset_ns ? vm->tot.last_event_ns
								  : vm->last_reset_ns;

	if (s && s->snap && s->snap->mig_ns && mt_migration_active(s->snap->mig.status))
		return 1;
	return last && c->view->now_ns - last < TRACKING_GRACE_NS;
}

static int has_source(const struct mt_vm_view *vm, int src)
{
	return vm->seen_by_bpf && (src == MT_SRC_DIRTY_RING || mt_source_events(&vm->tot, src));
}

/* The in-kernel dirty counters and rates per VM, one series per dirty source. */
static int dirty_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;

	TRY(om_family(
		w, "migtrace_dirty_tracking_active", OM_GAUGE, NULL,
		"1 while KVM logs dirty pages for the VM (a migration, or dirty events seen in "
		"the last 2 s); 0: no dirty source can fire, rates are not reported"));
	for (int i = 0; i < v->nvms; i++) {
		struct om_label l = { "vm", v->vms[i].vm };

		TRY(om_sample(w, &l, 1, mt_dirty_tracking_active(c, &v->vms[i]), 0));
	}
	TRY(om_family(w, "migtrace_dirty_pages", OM_COUNTER, NULL,
		      "Pages reported dirty by KVM, counted in the kernel per source (dirty_ring: "
		      "one per entry pushed, on emulated guests one per write; write_fault: write "
		      "faults; pml_estimate: 512 per PML-full exit)"));
	for (int i = 0; i < v->nvms; i++) {
		for (int src = 0; src < MT_SRC_MAX; src++) {
			struct om_label l[2] = { { "vm", v->vms[i].vm },
						 { "source", mt_source_name(src) } };

			if (has_source(&v->vms[i], src))
				TRY(om_sample_u64(w, l, 2,
						  mt_source_events(&v->vms[i].tot, src) *
							  mt_source_pages(src),
						  0));
		}
	}
	TRY(om_family(w, "migtrace_dirty_rate_bytes_per_second", OM_GAUGE, "bytes_per_second",
		      "Dirty rate measured in the kernel over the last sampling interval (absent "
		      "while dirty tracking is off)"));
	for (int i = 0; i < v->nvms; i++) {
		for (int src = 0; src < MT_SRC_MAX; src++) {
			struct om_label l[2] = { { "vm", v->vms[i].vm },
						 { "source", mt_source_name(src) } };

			if (has_source(&v->vms[i], src) && mt_dirty_tracking_active(c, &v->vms[i]))
				TRY(om_sample(w, l, 2, v->vms[i].rate_bps[src], 0));
		}
	}
	TRY(om_family(w, "migtrace_dirty_ring_resets", OM_COUNTER, NULL,
		      "Dirty-ring harvests (kvm_dirty_ring_reset, one per vCPU ring reset)"));
	for (int i = 0; i < v->nvms; i++) {
		struct om_label l = { "vm", v->vms[i].vm };

		if (v->vms[i].seen_by_bpf)
			TRY(om_sample_u64(w, &l, 1, v->vms[i].ring_resets, 0));
	}
	TRY(om_family(w, "migtrace_dirty_last_harvest_timestamp_seconds", OM_GAUGE, "seconds",
		      "Wall-clock time of the newest dirty-ring harvest"));
	for (int i = 0; i < v->nvms; i++) {
		struct om_label l = { "vm", v->vms[i].vm };

		if (v->vms[i].last_reset_ns)
			TRY(om_sample(w, &l, 1,
				      (v->vms[i].last_reset_ns + c->mono_to_wall_ns) / 1e9, 0));
	}
	return 0;
}

/* Per-vCPU families: one table row each, value read from struct mt_vcpu_view. */
struct vcpu_family {
	const char *name, *help, *extra_name, *extra_value;
	enum om_type type;
	const char *unit;
	size_t off; /* offset of a __u64 in struct mt_vcpu_stats, or SIZE_MAX: the rate */
	int dirty;  /* carries source="dirty_ring" */
};

#define ST(f) offsetof(struct mt_vcpu_stats, f)
static const struct vcpu_family vcpu_families_tab[] = {
	{ "migtrace_vcpu_dirty_pages", "Dirty-ring entries pushed by a vCPU", NULL, NULL,
	  OM_COUNTER, NULL, ST(dirty_pushes), 1 },
	{ "migtrace_vcpu_dirty_rate_bytes_per_second",
	  "Dirty rate of a vCPU over the last interval", NULL, NULL, OM_GAUGE, "bytes_per_second",
	  SIZE_MAX, 1 },
	{ "migtrace_fault_page_faults", "KVM page faults (kvm_page_fault) by access", "access",
	  "write", OM_COUNTER, NULL, ST(faults_write), 0 },
	{ NULL, NULL, "access", "read", OM_COUNTER, NULL, ST(faults_read), 0 },
	{ "migtrace_fault_fast_page_faults", "kvmmmu:fast_page_fault by result", "result", "fixed",
	  OM_COUNTER, NULL, ST(fast_pf_fixed), 0 },
	{ NULL, NULL, "result", "spurious", OM_COUNTER, NULL, ST(fast_pf_spurious), 0 },
	{ "migtrace_dirty_pml_full_events",
	  "kvm_pml_full exits (Intel PML: ~512 logged pages each, "
	  "an estimate)",
	  NULL, NULL, OM_COUNTER, NULL, ST(pml_full), 0 },
};

static int vcpu_sample(struct om_writer *w, const struct vcpu_family *f, const char *vm,
		       const struct mt_vcpu_view *vc)
{
	char vcpu[16];
	struct om_label l[3] = { { "vm", vm }, { "vcpu", vcpu } };
	size_t n = 2;

	/* QMP's cpu-index when joined by thread id, else KVM's vcpu id. */
	snprintf(vcpu, sizeof(vcpu), "%d", vc->cpu_index >= 0 ? vc->cpu_index : (int)vc->kvm_vcpu);
	if (f->dirty)
		l[n++] = (struct om_label){ "source", src_dirty_ring };
	else if (f->extra_name)
		l[n++] = (struct om_label){ f->extra_name, f->extra_value };
	if (f->off == SIZE_MAX)
		return om_sample(w, l, n, vc->rate_bps[MT_SRC_DIRTY_RING], 0);
	return om_sample_u64(w, l, n, *(const __u64 *)((const char *)&vc->tot + f->off), 0);
}

static int vcpu_families(struct om_writer *w, const struct mt_export_ctx *c)
{
	const struct mt_view *v = c->view;
	size_t n = sizeof(vcpu_families_tab) / sizeof(vcpu_families_tab[0]);

	for (size_t fi = 0; fi < n; fi++) {
		const struct vcpu_family *f = &vcpu_families_tab[fi];

		if (f->name)
			TRY(om_family(w, f->name, f->type, f->unit, f->help));
		/* A row without a name adds a label value to the family above. */
		for (int i = 0; i < v->nvms; i++)
			for (int j = 0; j < v->vms[i].nvcpus; j++)
				TRY(vcpu_sample(w, f, v->vms[i].vm,
						&v->vcpus[v->vms[i].first_vcpu + j]));
	}
	return 0;
}

int mt_export(struct om_writer *w, const struct mt_export_ctx *c)
{
	TRY(build_info(w));
	TRY(tracer_families(w, c));
	TRY(vm_families(w, c));
	TRY(dirty_families(w, c));
	TRY(vcpu_families(w, c));
	TRY(mt_export_detail(w, c));
	TRY(mt_export_events(w, c));
	return mt_export_migration(w, c);
}
