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
	MT_TP_MAX,
};

enum mt_attach_mode { MT_ATTACH_NONE, MT_ATTACH_RAW_TP, MT_ATTACH_TP, MT_ATTACH_MAX };

/* What the user asked for: auto (raw_tp, else classic), or only one kind. */
enum mt_attach_pref { MT_PREF_AUTO, MT_PREF_RAW, MT_PREF_CLASSIC, MT_PREF_MAX };

struct mt_tracer_options {
	enum mt_attach_pref pref;
	int verbose; /* route libbpf debug output to the log */
};

/* One (tgid, vCPU) row: per-CPU values summed. */
struct mt_vcpu_row {
	struct mt_vcpu_key key;
	struct mt_vcpu_stats s; /* last_event_ns = newest over CPUs; tid from that CPU */
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
enum mt_attach_mode mt_tracer__mode(const struct mt_tracer *t, enum mt_tp tp);
/* Why tp is not attached (NULL if it is). */
const char *mt_tracer__reason(const struct mt_tracer *t, enum mt_tp tp);
void mt_counters__free(struct mt_counters *c);

const char *mt_tp_name(enum mt_tp tp);			/* "kvm:kvm_dirty_ring_push" */
const char *mt_attach_mode_name(enum mt_attach_mode m); /* "raw_tp", "tracepoint", "none" */

#endif
