/* SPDX-License-Identifier: GPL-2.0-only */
/* Maps and counting helpers shared by every migtrace BPF program. */
#ifndef MIGTRACE_MAPS_BPF_H
#define MIGTRACE_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "migtrace.h"

/* Set by user space before load. */
const volatile int track_all = 1; /* 0: only processes in vm_slots are counted */
const volatile int detail_on = 1; /* 0: counters only (no passes, curves, page tags) */

/* Sized by user space before load (bpf_map__set_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MT_DEFAULT_VCPU_ENTRIES);
	__type(key, struct mt_vcpu_key);
	__type(value, struct mt_vcpu_stats);
} vcpu_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MT_DEFAULT_PROC_ENTRIES);
	__type(key, __u32);
	__type(value, struct mt_proc_stats);
} proc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_global_stats);
} global_stats SEC(".maps");

/* tgid -> detail slot, owned by user space; also the tracked-process filter. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_MAX_DETAIL_VMS);
	__type(key, __u32);
	__type(value, struct mt_vm_slot);
} vm_slots SEC(".maps");

static __always_inline void count_overflow(void)
{
	__u32 zero = 0;
	struct mt_global_stats *g = bpf_map_lookup_elem(&global_stats, &zero);

	if (g)
		g->map_full++;
}

/*
 * Find (or create) the per-CPU counters of a key. A per-CPU value is only
 * written by this CPU, so plain increments are exact without atomics.
 */
static __always_inline void *lookup_or_init(void *map, const void *key, const void *zero)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	/* -EEXIST means another CPU created it first: fine, look it up again. */
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		count_overflow();
	return v;
}

/* Detail slot of a tgid + 1, or 0 (no slot: basic counting only). */
static __always_inline __u32 slot1_of(__u32 tgid)
{
	struct mt_vm_slot *s = bpf_map_lookup_elem(&vm_slots, &tgid);

	return s && s->slot < MT_MAX_DETAIL_VMS ? s->slot + 1 : 0;
}

static __always_inline struct mt_vcpu_stats *vcpu_stats_get(__s32 vcpu)
{
	static const struct mt_vcpu_stats zero;
	__u64 id = bpf_get_current_pid_tgid();
	struct mt_vcpu_key key = { .tgid = id >> 32, .vcpu = (__u32)vcpu };
	struct mt_vcpu_stats *s = bpf_map_lookup_elem(&vcpu_stats, &key);

	if (!s) {
		/* Untracked processes leave here: one hash lookup, nothing created. */
		if (!track_all && !slot1_of(key.tgid))
			return NULL;
		s = lookup_or_init(&vcpu_stats, &key, &zero);
		if (!s)
			return NULL;
	}
	/* Remember the vCPU thread: user space joins it with QMP's thread-id. */
	if (s->tid != (__u32)id)
		s->tid = (__u32)id;
	/*
	 * A slot given after this row was created: look again, but only on every
	 * 64th event, so rows of processes without a slot do not pay a hash
	 * lookup per event.
	 */
	if (detail_on && !s->vm_slot1 && !(s->checks++ & 63))
		s->vm_slot1 = slot1_of(key.tgid);
	s->last_event_ns = bpf_ktime_get_ns();
	return s;
}

static __always_inline struct mt_proc_stats *proc_stats_get(__u32 tgid)
{
	static const struct mt_proc_stats zero;

	if (!track_all && !slot1_of(tgid))
		return NULL;
	return lookup_or_init(&proc_stats, &tgid, &zero);
}

#endif /* MIGTRACE_MAPS_BPF_H */
