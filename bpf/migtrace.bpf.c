// SPDX-License-Identifier: GPL-2.0-only
/*
 * In-kernel dirty accounting for KVM guests. Each tracepoint has a raw_tp
 * program (preferred: no trace-buffer copy, no tracefs needed) and a classic
 * tracepoint twin (fallback); both are thin wrappers over one inline body.
 * User space picks one of each pair with bpf_program__set_autoload().
 */
#include "detail.bpf.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* ioctl numbers of the harvest points, from <linux/kvm.h>, set by user space. */
const volatile __u64 nr_ioctl = 16; /* __NR_ioctl on x86_64 */
const volatile __u32 ioctl_cmds[MT_HARVEST_MAX];

/* Harvest ioctls in flight: thread id -> (start, kind). */
struct ioctl_start {
	__u64 start_ns;
	__u32 kind;
	__u32 tgid;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct ioctl_start);
} ioctls SEC(".maps");

/* Harvest ioctls in flight on the machine: lets sys_exit leave at once (almost always). */
__u64 ioctls_inflight;

/* KVM's vCPU id is read (a probe read) only the first time a row meets it on a CPU. */
#define SET_VCPU(s, expr)                                                                          \
	do {                                                                                       \
		if (!(s)->vcpu1)                                                                   \
			(s)->vcpu1 = (__u32)(expr) + 1;                                            \
	} while (0)

static __always_inline void on_dirty_push(struct mt_vcpu_stats *s, __u32 memslot, __u64 offset)
{
	s->dirty_pushes++;
	if (detail_on && s->vm_slot1)
		detail_dirty(s->vm_slot1 - 1, memslot, offset, s->last_event_ns);
}

static __always_inline void on_page_fault(struct mt_vcpu_stats *s, __u64 error_code)
{
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

static __always_inline void on_fast_page_fault(struct mt_vcpu_stats *s, __u64 error_code, int ret)
{
	if (ret == ret_pf_fixed)
		s->fast_pf_fixed++;
	else if (ret == ret_pf_spurious)
		s->fast_pf_spurious++;
	if (error_code & MT_PF_WRITE_BIT)
		s->fast_pf_write++;
}

/* A harvest of `kind` by process tgid at `now`, which took dur_ns (0: a tracepoint). */
static __always_inline void on_harvest(__u32 tgid, __u32 kind, __u64 now, __u64 dur_ns)
{
	struct mt_proc_stats *p = proc_stats_get(tgid);
	__u32 slot1;

	if (!p || kind >= MT_HARVEST_MAX)
		return;
	p->harvests[kind]++;
	p->harvest_time_ns[kind] += dur_ns;
	if (kind == MT_HARVEST_RING_RESET)
		p->ring_resets++;
	p->last_reset_ns = now;
	slot1 = slot1_of(tgid);
	if (slot1)
		detail_harvest(slot1 - 1, now);
}

static __always_inline void on_ring_reset(void)
{
	on_harvest(bpf_get_current_pid_tgid() >> 32, MT_HARVEST_RING_RESET, bpf_ktime_get_ns(), 0);
}

static __always_inline int harvest_kind(__u64 cmd)
{
	for (int k = MT_HARVEST_RESET_RINGS; k < MT_HARVEST_MAX; k++)
		if (ioctl_cmds[k] && cmd == ioctl_cmds[k])
			return k;
	return -1;
}

/* Every syscall of the machine passes here: leave on the first compare. */
static __always_inline void on_sys_enter(__u64 nr, __u64 cmd)
{
	struct ioctl_start st;
	__u64 id;
	int kind;

	if (nr != nr_ioctl)
		return;
	kind = harvest_kind(cmd);
	if (kind < 0)
		return;
	id = bpf_get_current_pid_tgid();
	if (!track_all && !slot1_of(id >> 32))
		return;
	st = (struct ioctl_start){ .start_ns = bpf_ktime_get_ns(), .kind = kind, .tgid = id >> 32 };
	if (!bpf_map_update_elem(&ioctls, &(__u32){ (__u32)id }, &st, BPF_NOEXIST))
		__sync_fetch_and_add(&ioctls_inflight, 1);
}

static __always_inline void on_sys_exit(__u64 nr)
{
	__u32 tid;
	struct ioctl_start *st;

	if (nr != nr_ioctl)
		return;
	tid = (__u32)bpf_get_current_pid_tgid();
	st = bpf_map_lookup_elem(&ioctls, &tid);
	if (!st)
		return;
	/* The pass boundary is the harvest's start: re-protection begins there. */
	on_harvest(st->tgid, st->kind, st->start_ns, bpf_ktime_get_ns() - st->start_ns);
	if (!bpf_map_delete_elem(&ioctls, &tid))
		__sync_fetch_and_add(&ioctls_inflight, -1);
}

/* ---- raw tracepoints: arguments are the TP_PROTO pointers (CO-RE reads) ---- */

SEC("raw_tp/kvm_dirty_ring_push")
int BPF_PROG(raw_dirty_ring_push, struct kvm_dirty_ring *ring, __u32 slot, __u64 offset)
{
	struct mt_vcpu_stats *s = row_get();

	if (s) {
		SET_VCPU(s, BPF_CORE_READ(ring, index));
		on_dirty_push(s, slot, offset);
	}
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
	struct mt_vcpu_stats *s = row_get();

	if (s) {
		SET_VCPU(s, BPF_CORE_READ(vcpu, vcpu_id));
		on_page_fault(s, error_code);
	}
	return 0;
}

SEC("raw_tp/fast_page_fault")
int BPF_PROG(raw_fast_page_fault, struct kvm_vcpu *vcpu, struct kvm_page_fault *fault, __u64 *sptep,
	     __u64 old_spte, int ret)
{
	struct mt_vcpu_stats *s = row_get();

	if (s) {
		SET_VCPU(s, BPF_CORE_READ(vcpu, vcpu_id));
		on_fast_page_fault(s, BPF_CORE_READ(fault, error_code), ret);
	}
	return 0;
}

SEC("raw_tp/kvm_pml_full")
int BPF_PROG(raw_pml_full, unsigned int vcpu_id)
{
	struct mt_vcpu_stats *s = row_get();

	if (s) {
		SET_VCPU(s, vcpu_id);
		s->pml_full++;
	}
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_sys_enter, struct pt_regs *regs, long id)
{
	/* Read the ioctl command only once the syscall number matched. */
	if ((__u64)id == nr_ioctl)
		on_sys_enter(id, BPF_CORE_READ(regs, si));
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	if (ioctls_inflight)
		on_sys_exit(BPF_CORE_READ(regs, orig_ax));
	return 0;
}

/* ---- classic tracepoints: fields copied into the trace record ---- */

SEC("tracepoint/kvm/kvm_dirty_ring_push")
int tp_dirty_ring_push(struct trace_event_raw_kvm_dirty_ring_push *ctx)
{
	struct mt_vcpu_stats *s = row_get();

	if (s) {
		SET_VCPU(s, BPF_CORE_READ(ctx, index));
		on_dirty_push(s, BPF_CORE_READ(ctx, slot), BPF_CORE_READ(ctx, offset));
	}
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
	struct mt_vcpu_stats *s = row_get();

	if (s) {
		SET_VCPU(s, BPF_CORE_READ(ctx, vcpu_id));
		on_page_fault(s, BPF_CORE_READ(ctx, error_code));
	}
	return 0;
}

SEC("tracepoint/kvmmmu/fast_page_fault")
int tp_fast_page_fault(struct trace_event_raw_fast_page_fault *ctx)
{
	struct mt_vcpu_stats *s = row_get();

	if (s) {
		SET_VCPU(s, BPF_CORE_READ(ctx, vcpu_id));
		on_fast_page_fault(s, BPF_CORE_READ(ctx, error_code), BPF_CORE_READ(ctx, ret));
	}
	return 0;
}

SEC("tracepoint/kvm/kvm_pml_full")
int tp_pml_full(struct trace_event_raw_kvm_pml_full *ctx)
{
	struct mt_vcpu_stats *s = row_get();

	if (s) {
		SET_VCPU(s, BPF_CORE_READ(ctx, vcpu_id));
		s->pml_full++;
	}
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int tp_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	if ((__u64)BPF_CORE_READ(ctx, id) == nr_ioctl)
		on_sys_enter(nr_ioctl, BPF_CORE_READ(ctx, args[1]));
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int tp_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (ioctls_inflight)
		on_sys_exit(BPF_CORE_READ(ctx, id));
	return 0;
}
