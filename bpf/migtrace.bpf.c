// SPDX-License-Identifier: GPL-2.0-only
/*
 * In-kernel dirty accounting for KVM guests. Each tracepoint has a raw_tp
 * program (preferred: no trace-buffer copy, no tracefs needed) and a classic
 * tracepoint twin (fallback); both are thin wrappers over one inline body.
 * User space picks one of each pair with bpf_program__set_autoload().
 */
#include "maps.bpf.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

static __always_inline void on_dirty_push(__s32 vcpu)
{
	struct mt_vcpu_stats *s = vcpu_stats_get(vcpu);

	if (s)
		s->dirty_pushes++;
}

static __always_inline void on_ring_reset(void)
{
	struct mt_proc_stats *p = proc_stats_get();

	if (p) {
		p->ring_resets++;
		p->last_reset_ns = bpf_ktime_get_ns();
	}
}

static __always_inline void on_page_fault(__s32 vcpu, __u64 error_code)
{
	struct mt_vcpu_stats *s = vcpu_stats_get(vcpu);

	if (!s)
		return;
	if (error_code & MT_PF_WRITE_BIT)
		s->faults_write++;
	else
		s->faults_read++;
}

/*
 * RET_PF_FIXED/RET_PF_SPURIOUS were renumbered when RET_PF_WRITE_PROTECTED
 * was added (v6.12), and their enum is anonymous, so CO-RE cannot relocate
 * it: user space reads the values from the running kernel's BTF.
 */
const volatile int ret_pf_fixed = 5;
const volatile int ret_pf_spurious = 6;

static __always_inline void on_fast_page_fault(__s32 vcpu, __u64 error_code, int ret)
{
	struct mt_vcpu_stats *s = vcpu_stats_get(vcpu);

	if (!s)
		return;
	if (ret == ret_pf_fixed)
		s->fast_pf_fixed++;
	else if (ret == ret_pf_spurious)
		s->fast_pf_spurious++;
	if (error_code & MT_PF_WRITE_BIT)
		s->fast_pf_write++;
}

static __always_inline void on_pml_full(__s32 vcpu)
{
	struct mt_vcpu_stats *s = vcpu_stats_get(vcpu);

	if (s)
		s->pml_full++;
}

/* ---- raw tracepoints: arguments are the TP_PROTO pointers (CO-RE reads) ---- */

SEC("raw_tp/kvm_dirty_ring_push")
int BPF_PROG(raw_dirty_ring_push, struct kvm_dirty_ring *ring, __u32 slot, __u64 offset)
{
	on_dirty_push(BPF_CORE_READ(ring, index));
	return 0;
}

SEC("raw_tp/kvm_dirty_ring_reset")
int BPF_PROG(raw_dirty_ring_reset, struct kvm_dirty_ring *ring)
{
	on_ring_reset();
	return 0;
}

SEC("raw_tp/kvm_page_fault")
int BPF_PROG(raw_page_fault, struct kvm_vcpu *vcpu, __u64 fault_address, __u64 error_code)
{
	on_page_fault(BPF_CORE_READ(vcpu, vcpu_id), error_code);
	return 0;
}

SEC("raw_tp/fast_page_fault")
int BPF_PROG(raw_fast_page_fault, struct kvm_vcpu *vcpu, struct kvm_page_fault *fault, __u64 *sptep,
	     __u64 old_spte, int ret)
{
	on_fast_page_fault(BPF_CORE_READ(vcpu, vcpu_id), BPF_CORE_READ(fault, error_code), ret);
	return 0;
}

SEC("raw_tp/kvm_pml_full")
int BPF_PROG(raw_pml_full, unsigned int vcpu_id)
{
	on_pml_full(vcpu_id);
	return 0;
}

/* ---- classic tracepoints: fields copied into the trace record ---- */

SEC("tracepoint/kvm/kvm_dirty_ring_push")
int tp_dirty_ring_push(struct trace_event_raw_kvm_dirty_ring_push *ctx)
{
	on_dirty_push(BPF_CORE_READ(ctx, index));
	return 0;
}

SEC("tracepoint/kvm/kvm_dirty_ring_reset")
int tp_dirty_ring_reset(void *ctx)
{
	on_ring_reset();
	return 0;
}

SEC("tracepoint/kvm/kvm_page_fault")
int tp_page_fault(struct trace_event_raw_kvm_page_fault *ctx)
{
	on_page_fault(BPF_CORE_READ(ctx, vcpu_id), BPF_CORE_READ(ctx, error_code));
	return 0;
}

SEC("tracepoint/kvmmmu/fast_page_fault")
int tp_fast_page_fault(struct trace_event_raw_fast_page_fault *ctx)
{
	on_fast_page_fault(BPF_CORE_READ(ctx, vcpu_id), BPF_CORE_READ(ctx, error_code),
			   BPF_CORE_READ(ctx, ret));
	return 0;
}

SEC("tracepoint/kvm/kvm_pml_full")
int tp_pml_full(struct trace_event_raw_kvm_pml_full *ctx)
{
	on_pml_full(BPF_CORE_READ(ctx, vcpu_id));
	return 0;
}
