/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-VM history of passes (harvest to harvest), joined with QEMU's numbers
 * at the time each pass ended, the re-dirty curve of the last pass and the
 * writable working set over sliding windows. Fed from the tracer's detail
 * maps on every sampler step.
 */
#ifndef MT_PASSES_H
#define MT_PASSES_H

#include <stdint.h>
#include "qmp.h"
#include "tracer.h"

#define MT_PASS_HISTORY 256

struct mt_pass_entry {
	struct mt_pass p;
	double distinct;	  /* estimated distinct pages (linear counting) */
	double first;		  /* ... first dirtied in this migration */
	int have_qmp;		  /* QEMU's numbers below were known when the pass ended */
	uint64_t ram_transferred; /* query-migrate at the pass end */
	uint64_t ram_remaining;
	uint64_t dirty_sync_count;
	int64_t qemu_pass; /* QEMU's newest MIGRATION_PASS at the pass end (-1: none) */
};

/*
 * Unions of closed passes' page bits, by the time the pass ended, in buckets
 * of gran_ns: a sliding window is the union of the buckets it overlaps.
 */
#define MT_WIN_BUCKETS_MAX 11
struct mt_bits_ring {
	uint64_t gran_ns;
	int n;
	uint64_t ids[MT_WIN_BUCKETS_MAX]; /* end_ns / gran_ns of what each bucket holds */
	uint64_t *bits;			  /* n bitmaps */
};

struct mt_vm_hist {
	uint32_t tgid;
	int slot;
	uint32_t seen_seq;			    /* newest pass already recorded */
	struct mt_pass_entry ring[MT_PASS_HISTORY]; /* newest at (head - 1) */
	int head, n;
	uint64_t dropped;		   /* passes gone from the BPF ring unread */
	uint64_t first_raw;		   /* page tags ever claimed (for first-dirty) */
	uint64_t curves_missed;		   /* passes closed unseen: their curve is gone */
	struct mt_pass cur;		   /* the open pass so far */
	uint64_t curve[MT_BUCKETS_PER_VM]; /* events by 1 ms bucket, newest closed pass */
	uint32_t curve_seq;		   /* the pass that curve is of */
	size_t words;			   /* of one page bitmap */
	uint64_t *scratch;		   /* one bitmap */
	struct mt_bits_ring win[2];	   /* 250 ms x 5 (1 s window), 1 s x 11 (10 s) */
	uint64_t *union_bits;		   /* every pass since mt_vm_hist__union_reset() */
	uint64_t union_since_ns;
	double ws_1s, ws_10s; /* distinct pages dirtied in the last 1 s / 10 s */
	uint64_t ws_ns;	      /* when the windows were computed (0: never) */
};

struct mt_hists {
	struct mt_vm_hist *v[MT_MAX_DETAIL_VMS];
};

/* Newest closed pass of h, or NULL. */
const struct mt_pass_entry *mt_vm_hist__last(const struct mt_vm_hist *h);
/* i-th newest closed pass (0 = newest), or NULL. */
const struct mt_pass_entry *mt_vm_hist__nth(const struct mt_vm_hist *h, int i);
struct mt_vm_hist *mt_hists__find(const struct mt_hists *hs, uint32_t tgid);
/*
 * Read the detail of the VM of tgid (slot given by the tracer) at now_ns;
 * snap: QEMU's latest answers and events (NULL if unknown). 0 or -ENOMEM.
 */
int mt_hists__update(struct mt_hists *hs, struct mt_tracer *t, uint32_t tgid, int slot,
		     const struct qmp_snapshot *snap, uint64_t now_ns, int scan_windows);
/* Distinct pages of the passes since the last mt_vm_hist__union_reset(), the open one included. */
double mt_vm_hist__union_distinct(struct mt_vm_hist *h, struct mt_tracer *t);
void mt_vm_hist__union_reset(struct mt_vm_hist *h, uint64_t now_ns);
/* Drop the history of processes that no longer have a slot. */
void mt_hists__prune(struct mt_hists *hs, const struct mt_tracer *t);
void mt_hists__free(struct mt_hists *hs);

#endif
