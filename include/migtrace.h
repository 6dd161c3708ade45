/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF <-> user-space contract of migtrace. A wire format: fixed-size
 * integer types only, sizes from the #defines below, shared by bpf/ and user/.
 */
#ifndef MIGTRACE_H
#define MIGTRACE_H

#ifdef __BPF__
/* vmlinux.h supplies __u32/__u64 in BPF builds. */
#else
#include <linux/types.h>
#endif

/* Default map sizes. */
#define MT_DEFAULT_PROC_ENTRIES 1024
/* vCPU threads with counters at once; later ones are counted in map_full. */
#define MT_MAX_ROWS 4096
#define MT_ROW_NONE 0xffffffffU /* untracked thread */
#define MT_ROW_FULL 0xfffffffeU /* no row free: each event counts in map_full */

/* A vCPU in user space's reads: the QEMU process and the vCPU id KVM reports. */
struct mt_vcpu_key {
	__u32 tgid;
	__u32 vcpu;
};

/* row_index value: the counter row of a thread (key: pid_tgid). */
struct mt_row_ref {
	__u32 row;
	__u32 pad;
};

/* Per-CPU cache of the last thread seen: most events skip the hash lookup. */
struct mt_cpu_cache {
	__u64 id;  /* pid_tgid */
	__u32 row; /* its row, MT_ROW_NONE (untracked) or MT_ROW_FULL (no row free) */
	__u32 pad;
};

/* Counters of one vCPU thread, one copy per CPU (summed in user space). */
struct mt_vcpu_stats {
	__u64 dirty_pushes;	/* kvm_dirty_ring_push: one per ring entry pushed */
	__u64 faults_write;	/* kvm_page_fault with the write bit (error_code & 2) */
	__u64 faults_read;	/* kvm_page_fault without it */
	__u64 fast_pf_fixed;	/* kvmmmu:fast_page_fault that fixed the spte */
	__u64 fast_pf_spurious; /* kvmmmu:fast_page_fault that found nothing to do */
	__u64 fast_pf_write;	/* fast faults with the write bit */
	__u64 pml_full;		/* kvm_pml_full: one per ~512 logged pages (an estimate) */
	__u64 last_event_ns;	/* bpf_ktime_get_ns() of the newest event (detail mode only) */
	__u32 vcpu1;		/* KVM's vCPU id + 1 (0: not known yet on this CPU) */
	__u32 vm_slot1;		/* BPF's cache: detail slot of this process + 1 (0: none) */
	__u64 checks;		/* BPF's: slot look-ups are retried every 64th event */
};

/*
 * Harvest points: where QEMU collects dirty pages and KVM re-protects them.
 * A burst of them closer than MT_PASS_GAP_NS ends one pass and starts the next.
 */
enum mt_harvest_kind {
	MT_HARVEST_RING_RESET,	    /* kvm:kvm_dirty_ring_reset, one per vCPU ring */
	MT_HARVEST_RESET_RINGS,	    /* ioctl KVM_RESET_DIRTY_RINGS */
	MT_HARVEST_GET_DIRTY_LOG,   /* ioctl KVM_GET_DIRTY_LOG (bitmap mode) */
	MT_HARVEST_CLEAR_DIRTY_LOG, /* ioctl KVM_CLEAR_DIRTY_LOG (manual protect) */
	MT_HARVEST_MAX,
};

#define MT_PASS_GAP_NS 1000000ULL

/* Per QEMU process counters, one copy per CPU. */
struct mt_proc_stats {
	__u64 ring_resets;		/* kvm_dirty_ring_reset: one per vCPU ring harvested */
	__u64 last_reset_ns;		/* newest harvest of any kind seen on this CPU */
	__u64 harvests[MT_HARVEST_MAX]; /* harvest events by kind */
	__u64 harvest_time_ns[MT_HARVEST_MAX]; /* time spent in the harvest ioctls */
};

/*
 * Detail accounting (re-dirty curve, distinct pages, passes) for up to
 * MT_MAX_DETAIL_VMS processes, each given a slot by user space
 * (vm_slots: tgid -> slot). Processes without a slot are still counted above.
 */
#define MT_MAX_DETAIL_VMS      16
#define MT_NR_BUCKETS	       8192	     /* 1 ms buckets after a harvest: 8.192 s ... */
#define MT_BUCKET_OVERFLOW     MT_NR_BUCKETS /* ... and one for everything later */
#define MT_BUCKETS_PER_VM      (MT_NR_BUCKETS + 1)
#define MT_PASS_RING	       64 /* newest passes kept per VM */
#define MT_DEFAULT_SKETCH_BITS 16 /* 2^16 hashed page bits per VM (see docs/ARCHITECTURE.md) */
#define MT_MIN_SKETCH_BITS     10
#define MT_MAX_SKETCH_BITS     24

/*
 * Where memory is dirtied: events per memslot (index (address space << 5) |
 * (id & 31): exact for QEMU's usual ids below 32) and per 2 MiB region of a
 * memslot, in MT_REGION_BUCKETS hashed counters per VM and CPU; an event whose
 * bucket another region holds is counted as lost.
 */
#define MT_MEMSLOT_IDS	  64
#define MT_REGION_SHIFT	  9 /* 512 pages of 4 KiB: 2 MiB */
#define MT_REGION_BUCKETS 1024

struct mt_region {
	__u32 memslot; /* as KVM reports it: address space << 16 | id */
	__u32 region;  /* page offset in the memslot >> MT_REGION_SHIFT */
	__u64 events;  /* 0: bucket free */
};

/* Per (CPU, detail slot), cumulative since the slot was given. */
struct mt_where {
	__u64 regions_lost;
	__u64 memslot_events[MT_MEMSLOT_IDS];
	struct mt_region regions[MT_REGION_BUCKETS];
};

struct mt_vm_slot {
	__u32 slot;
	__u32 pad;
};

/* Shared (not per-CPU): written at harvests, read by every event. */
struct mt_vm_state {
	__u32 tgid;	       /* owner of the slot, 0 = free */
	__u32 pass_seq;	       /* current pass; 0 = before the first harvest */
	__u64 pass_start_ns;   /* harvest that opened the current pass */
	__u64 last_harvest_ns; /* newest harvest event */
	__u32 bits_seq[2];     /* the pass whose page bits each parity holds */
};

/* Page bitmaps per slot: one per pass parity, and one of pages ever dirtied. */
#define MT_PAGE_BITMAPS 3
#define MT_BITS_EVER	2

/* This CPU's share of a pass; flushed into the pass record when the CPU sees a newer pass. */
struct mt_pass_acc {
	__u32 seq;
	__u32 pad;
	__u32 curve_seq[2]; /* the pass whose re-dirty buckets this CPU holds, per parity */
	__u64 events;	    /* dirty events */
	__u64 distinct;	    /* pages first dirtied in this pass (page tags) */
	__u64 first;	    /* ... of which never dirtied before since tracking began */
};

/* One pass of a VM, in a ring of MT_PASS_RING per VM (shared). */
struct mt_pass_rec {
	__u32 seq;
	__u32 pad;
	__u64 start_ns, end_ns;	       /* end_ns 0 while the pass is open */
	__u64 events, distinct, first; /* flushed CPU shares; add the CPUs' mt_pass_acc of seq */
};

/* Global counters (an array of one, per CPU). */
struct mt_global_stats {
	__u64 map_full; /* events dropped because a counter map was full */
};

#define MT_PF_WRITE_BIT 0x2ULL /* x86 page-fault error code: W */

#endif /* MIGTRACE_H */
