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

const volatile __u32 nr_cpus = 1; /* possible CPUs, set by user space */

/*
 * Counters live in rows, one per vCPU thread, in a plain array with a
 * region per CPU ([cpu][row]: no atomics, and user space mmaps it). A thread
 * finds its row through row_index once per CPU switch: each CPU caches the
 * last thread it saw, so the common event costs two array lookups.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_MAX_ROWS); /* resized to nr_cpus * MT_MAX_ROWS */
	__type(key, __u32);
	__type(value, struct mt_vcpu_stats);
} rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_MAX_ROWS);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct mt_row_ref);
} row_index SEC(".maps");

/* Rows user space freed (their process exited), for reuse. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MT_MAX_ROWS);
	__type(value, __u32);
} free_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* resized to nr_cpus */
	__type(key, __u32);
	__type(value, struct mt_cpu_cache);
} cpu_cache SEC(".maps");

__u32 next_row;	    /* rows never used yet start here */
__u64 rows_created; /* user space rescans row_index when this moves */

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

static __always_inline __u32 row_new(__u64 id)
{
	struct mt_row_ref ref = { 0 }, *old;
	__u32 row;

	if (bpf_map_pop_elem(&free_rows, &row)) {
		row = __sync_fetch_and_add(&next_row, 1);
		if (row >= MT_MAX_ROWS)
			return MT_ROW_FULL;
	}
	ref.row = row;
	if (bpf_map_update_elem(&row_index, &id, &ref, BPF_NOEXIST)) {
		/* The thread's other CPU won the race: use its row, give ours back. */
		bpf_map_push_elem(&free_rows, &row, 0);
		old = bpf_map_lookup_elem(&row_index, &id);
		return old ? old->row : MT_ROW_FULL;
	}
	__sync_fetch_and_add(&rows_created, 1);
	return row;
}

/* The row of the current thread on this CPU, or NULL (untracked, or no row). */
static __always_inline struct mt_vcpu_stats *row_get(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 cpu = bpf_get_smp_processor_id(), idx;
	struct mt_cpu_cache *c = bpf_map_lookup_elem(&cpu_cache, &cpu);
	struct mt_vcpu_stats *s;

	if (!c)
		return NULL;
	if (c->id != id) {
		struct mt_row_ref *ref = bpf_map_lookup_elem(&row_index, &id);

		if (ref)
			c->row = ref->row;
		else if (!track_all && !slot1_of(id >> 32))
			c->row = MT_ROW_NONE; /* untracked: O(1) from now on */
		else
			c->row = row_new(id);
		c->id = id;
	}
	if (c->row >= MT_MAX_ROWS) {
		if (c->row == MT_ROW_FULL)
			count_overflow(); /* an event lost, counted as such */
		return NULL;
	}
	idx = cpu * MT_MAX_ROWS + c->row;
	s = bpf_map_lookup_elem(&rows, &idx);
	if (!s || !detail_on)
		return s;
	s->last_event_ns = bpf_ktime_get_ns();
	/* A slot given after the row was made: look again on every 64th event. */
	if (!s->vm_slot1 && !(s->checks++ & 63))
		s->vm_slot1 = slot1_of(id >> 32);
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
