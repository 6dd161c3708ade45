/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The join: BPF counters keyed by (QEMU tgid, KVM vCPU id) meet QMP snapshots
 * through vCPU thread ids (query-cpus-fast thread-id -> /proc Tgid). Each step
 * turns two reads of the counters into totals and rates per VM and per vCPU.
 */
#ifndef MT_SAMPLER_H
#define MT_SAMPLER_H

#include <stdint.h>
#include "qmp.h"
#include "tracer.h"

#define MT_VM_LABEL_MAX	     128
#define MT_PAGE_SIZE_DEFAULT 4096

/* Dirty sources, in order of precision. Each event stands for pages_per_event pages. */
enum mt_source { MT_SRC_DIRTY_RING, MT_SRC_WRITE_FAULT, MT_SRC_PML, MT_SRC_MAX };

const char *mt_source_name(enum mt_source s);	/* "dirty_ring", "write_fault", "pml_estimate" */
unsigned int mt_source_pages(enum mt_source s); /* pages one event stands for (PML: 512) */
uint64_t mt_source_events(const struct mt_vcpu_stats *st, enum mt_source s);

/* One QEMU known through QMP (input of a step). */
struct mt_vm_src {
	const char *qmp_path;
	const struct qmp_snapshot *snap; /* NULL if never answered */
	int up;
	const char *reason; /* why not up, or NULL */
};

struct mt_vcpu_view {
	uint32_t tgid, kvm_vcpu; /* BPF key */
	int cpu_index;		 /* QMP cpu-index, -1 when not joined */
	uint32_t tid;
	struct mt_vcpu_stats tot;
	double rate_bps[MT_SRC_MAX]; /* bytes/s over the last interval, per source */
};

struct mt_vm_view {
	char vm[MT_VM_LABEL_MAX]; /* QMP name, else the QEMU pid */
	int pid;		  /* 0 when unknown */
	int src;		  /* index into the step's srcs, -1 for a BPF-only process */
	int first_vcpu, nvcpus;	  /* range in mt_view.vcpus */
	struct mt_vcpu_stats tot; /* summed over vCPUs */
	double rate_bps[MT_SRC_MAX];
	uint64_t page_size;
	uint64_t ring_resets, last_reset_ns;
	uint64_t harvests[MT_HARVEST_MAX], harvest_time_ns[MT_HARVEST_MAX];
	int seen_by_bpf; /* any BPF row for this VM */
};

struct mt_view {
	uint64_t now_ns, prev_ns;
	uint64_t steps;
	uint64_t map_full;
	struct mt_vm_view *vms;
	int nvms, cap_vms;
	struct mt_vcpu_view *vcpus;
	int nvcpus, cap_vcpus;
};

/* Returns the thread group id of a thread, or <= 0. */
typedef int (*mt_tgid_fn)(int tid);
int mt_tgid_of(int tid); /* /proc/<tid>/status */

struct mt_sampler;
struct mt_sampler *mt_sampler__new(mt_tgid_fn tgid_of);
void mt_sampler__free(struct mt_sampler *s);
/* Forget what was cached for a QMP socket no longer followed. */
void mt_sampler__forget(struct mt_sampler *s, const char *qmp_path);
/*
 * Join cur (sorted in place; kept for the next step) with srcs into out.
 * cur may be NULL when BPF is off. 0 or -ENOMEM.
 */
int mt_sampler__step(struct mt_sampler *s, struct mt_counters *cur, const struct mt_vm_src *srcs,
		     int nsrcs, struct mt_view *out);
void mt_view__free(struct mt_view *v);

/* Rate of a counter between two reads, per second; a counter that went
 * backwards (process restarted, map entry recycled) counts from 0. */
double mt_rate(uint64_t prev, uint64_t cur, uint64_t prev_ns, uint64_t cur_ns);

#endif
