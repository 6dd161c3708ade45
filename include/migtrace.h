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

/* Default map sizes; user space may resize them before load. */
#define MT_DEFAULT_VCPU_ENTRIES 16384
#define MT_DEFAULT_PROC_ENTRIES 1024

/* Key of the per-vCPU counters: the QEMU process and the vCPU id KVM reports. */
struct mt_vcpu_key {
	__u32 tgid;
	__u32 vcpu;
};

/* Per (QEMU process, vCPU) counters, one copy per CPU (summed in user space). */
struct mt_vcpu_stats {
	__u64 dirty_pushes;	/* kvm_dirty_ring_push: one per ring entry pushed */
	__u64 faults_write;	/* kvm_page_fault with the write bit (error_code & 2) */
	__u64 faults_read;	/* kvm_page_fault without it */
	__u64 fast_pf_fixed;	/* kvmmmu:fast_page_fault that fixed the spte */
	__u64 fast_pf_spurious; /* kvmmmu:fast_page_fault that found nothing to do */
	__u64 fast_pf_write;	/* fast faults with the write bit */
	__u64 pml_full;		/* kvm_pml_full: one per ~512 logged pages (an estimate) */
	__u64 last_event_ns;	/* bpf_ktime_get_ns() of the newest event on this CPU */
	__u32 tid;		/* vCPU thread seen last: the exact join with QMP thread-id */
	__u32 pad;
};

/* Per QEMU process counters, one copy per CPU. */
struct mt_proc_stats {
	__u64 ring_resets;   /* kvm_dirty_ring_reset: one per vCPU ring harvested */
	__u64 last_reset_ns; /* time of the newest harvest seen on this CPU */
};

/* Global counters (an array of one, per CPU). */
struct mt_global_stats {
	__u64 map_full; /* events dropped because a counter map was full */
};

#define MT_PF_WRITE_BIT 0x2ULL /* x86 page-fault error code: W */

#endif /* MIGTRACE_H */
