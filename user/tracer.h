/* SPDX-License-Identifier: GPL-2.0-only */
/* BPF side of migtrace: probe tracepoints, load, attach, read counters. */
#ifndef MT_TRACER_H
#define MT_TRACER_H

#include <stdint.h>
#include "migtrace.h"

enum mt_tp {
	MT_TP_DIRTY_RING_PUSH,
	MT_TP_DIRTY_RING_RESET,
	MT_TP_PAGE_FAULT,
	MT_TP_FAST_PAGE_FAULT,
	MT_TP_PML_FULL,
	MT_TP_SYS_ENTER, /* harvest ioctls (KVM_GET/CLEAR_DIRTY_LOG, KVM_RESET_DIRTY_RINGS) */
	MT_TP_SYS_EXIT,
	MT_TP_MAX,
};

enum mt_attach_mode { MT_ATTACH_NONE, MT_ATTACH_RAW_TP, MT_ATTACH_TP, MT_ATTACH_MAX };

/* What the user asked for: auto (raw_tp, else classic), or only one kind. */
enum mt_attach_pref { MT_PREF_AUTO, MT_PREF_RAW, MT_PREF_CLASSIC, MT_PREF_MAX };

/* Which processes BPF counts: every KVM process, or only those given a detail slot. */
enum mt_track { MT_TRACK_ALL, MT_TRACK_QMP, MT_TRACK_MAX };

struct mt_tracer_options {
	enum mt_attach_pref pref;
	enum mt_track track;
	unsigned int sketch_bits; /* hashed page bits per VM = 2^sketch_bits (0: default) */
	int no_detail;		  /* counters only: no passes, curves, page tags */
	int no_attach;		  /* load but do not attach (tests drive the programs) */
	int verbose;		  /* route libbpf debug output to the log */
};

/* One (tgid, vCPU) row: per-CPU values summed. */
/* One vCPU thread: per-CPU values summed. */
struct mt_vcpu_row {
	struct mt_vcpu_key key; /* tgid, KVM vCPU id */
	uint32_t tid;		/* the thread: the exact join with QMP's thread-id */
	struct mt_vcpu_stats s; /* last_event_ns = newest over CPUs */
};

struct mt_proc_row {
	uint32_t tgid;
	struct mt_proc_stats s; /* last_reset_ns = newest over CPUs */
};

/* A full read of the counter maps at time now_ns. Reused between reads. */
struct mt_counters {
	uint64_t now_ns;
	struct mt_vcpu_row *vcpus;
	int nvcpus, cap_vcpus;
	struct mt_proc_row *procs;
	int nprocs, cap_procs;
	uint64_t map_full;
};

struct mt_tracer;
struct mt_kfeat;

/* How each tracepoint will be attached, and why not where it will not. */
struct mt_attach_plan {
	enum mt_attach_mode mode[MT_TP_MAX];
	char reason[MT_TP_MAX][160];
};

/* Decide from BTF alone (before any load) how each tracepoint can be attached. */
void mt_attach_plan(const struct mt_kfeat *k, enum mt_attach_pref pref,
		    struct mt_attach_plan *plan);

/* Probe, open, load and attach. NULL + errno when nothing could be attached;
 * *ret_msg (static) then says what to do. */
struct mt_tracer *mt_tracer__new(const struct mt_tracer_options *opts, const char **ret_msg);
void mt_tracer__free(struct mt_tracer *t);
int mt_tracer__read(struct mt_tracer *t, struct mt_counters *out);
/* Drop counters of processes that no longer exist (bounded maps). */
int mt_tracer__gc(struct mt_tracer *t);
/* Make every CPU look threads up again (after the set of tracked processes grew). */
void mt_tracer__forget_caches(struct mt_tracer *t);
enum mt_attach_mode mt_tracer__mode(const struct mt_tracer *t, enum mt_tp tp);
/* Why tp is not attached (NULL if it is). */
const char *mt_tracer__reason(const struct mt_tracer *t, enum mt_tp tp);
void mt_counters__free(struct mt_counters *c);

/* ---- detail accounting (tracer_detail.c) ---- */

/* A pass: from one harvest to the next (start_ns/end_ns: CLOCK_MONOTONIC). */
struct mt_pass {
	uint32_t seq;
	uint64_t start_ns, end_ns; /* end_ns 0: still open */
	uint64_t events;	   /* dirty events in the pass */
	uint64_t distinct;	   /* page tags newly claimed (raw; see mt_linear_count) */
	uint64_t first;		   /* ... of which never dirtied before */
};

/* Give tgid a detail slot (idempotent). The slot, -ENOSPC when all are taken, or -errno. */
int mt_tracer__track(struct mt_tracer *t, uint32_t tgid);
void mt_tracer__untrack(struct mt_tracer *t, uint32_t tgid);
int mt_tracer__slot(const struct mt_tracer *t, uint32_t tgid); /* -1: none */
int mt_tracer__vm_state(const struct mt_tracer *t, int slot, struct mt_vm_state *out);
/* Pass seq of a slot (open or closed), if the ring still holds it. 0 or -ENOENT. */
int mt_tracer__pass(const struct mt_tracer *t, int slot, uint32_t seq, struct mt_pass *out);
/*
 * The re-dirty curve of pass seq: events per 1 ms bucket after its harvest
 * (MT_BUCKETS_PER_VM values), readable until pass seq + 2 starts. Returns the
 * number of CPUs whose share was still there (0: the curve is gone).
 */
int mt_tracer__curve(const struct mt_tracer *t, int slot, uint32_t seq, uint64_t *out);
/* Words of one page bitmap (2^sketch_bits bits). */
size_t mt_tracer__bits_words(const struct mt_tracer *t);
/* Copy the page bits of pass seq (open, or the newest closed one). 0 or -ENOENT. */
int mt_tracer__pass_bits(const struct mt_tracer *t, int slot, uint32_t seq, uint64_t *out);
uint64_t mt_popcount(const uint64_t *bits, size_t words);
unsigned int mt_tracer__sketch_bits(const struct mt_tracer *t);
/* Linear counting: distinct keys estimated from occupied slots of a 2^bits table. */
double mt_linear_count(uint64_t occupied, unsigned int bits);

/* Kernel run-time stats of the program attached to tp. 0, or -ENOENT (not attached,
 * or stats unavailable). */
int mt_tracer__prog_stats(const struct mt_tracer *t, enum mt_tp tp, uint64_t *ret_cnt,
			  uint64_t *ret_ns);

/* Where a VM dirties memory, summed over CPUs: per memslot, and the busiest regions. */
#define MT_TOP_REGIONS 10
struct mt_where_sum {
	uint64_t memslot_events[MT_MEMSLOT_IDS]; /* index (address space << 5) | (id & 31) */
	struct mt_region top[MT_TOP_REGIONS];	 /* most events first */
	int ntop, nregions;			 /* regions shown / regions seen */
	uint64_t lost;				 /* events whose region bucket was taken */
};
int mt_tracer__where(const struct mt_tracer *t, int slot, struct mt_where_sum *out);

const char *mt_tp_name(enum mt_tp tp);			/* "kvm:kvm_dirty_ring_push" */
const char *mt_attach_mode_name(enum mt_attach_mode m); /* "raw_tp", "tracepoint", "none" */

#endif
