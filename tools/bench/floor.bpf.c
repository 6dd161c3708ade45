// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reference programs for `make bench` (docs/PERFORMANCE.md), attached to the
 * same raw tracepoint as migtrace so that all of them see the same events:
 *
 *   floor_empty  does nothing: the cost of a BPF program run on this
 *                tracepoint (dispatch + BPF stats accounting), the floor
 *                every other program is divided by.
 *   plain_count  what `bpftrace -e 'tracepoint:kvm:kvm_dirty_ring_push
 *                { @[pid, args->index] = count(); }'` does: one counter per
 *                (tgid, vCPU id) in a per-CPU hash map.
 *
 * and two variants of the counter that show where its cost goes:
 *
 *   btf_hash_cnt   the same map, as a tp_btf program: ring->index is a
 *                  direct load instead of bpf_probe_read_kernel().
 *   btf_array_cnt  tp_btf, a per-CPU array indexed by the vCPU id alone (one
 *                  VM only: not a design, a lower bound for counting).
 *
 * tp_btf attaches like raw_tp (no trampoline) but needs the tracepoint in
 * BTF; floor.c falls back to the raw_tp pair if they fail to load.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct plain_key {
	__u32 tgid;
	__s32 vcpu;
};

struct plain_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct plain_key);
	__type(value, __u64);
};

struct plain_map plain_counts SEC(".maps");
struct plain_map btf_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} vcpu_counts SEC(".maps");

/* Per-CPU values: only this CPU writes them, a plain increment is exact. */
static __always_inline void count_key(void *map, __s32 vcpu)
{
	static const __u64 one = 1;
	struct plain_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .vcpu = vcpu };
	__u64 *n = bpf_map_lookup_elem(map, &key);

	if (n)
		(*n)++;
	else
		bpf_map_update_elem(map, &key, &one, BPF_NOEXIST);
}

SEC("raw_tp/kvm_dirty_ring_push")
int BPF_PROG(floor_empty)
{
	return 0;
}

SEC("raw_tp/kvm_dirty_ring_push")
int BPF_PROG(plain_count, struct kvm_dirty_ring *ring, __u32 slot, __u64 offset)
{
	count_key(&plain_counts, BPF_CORE_READ(ring, index));
	return 0;
}

SEC("tp_btf/kvm_dirty_ring_push")
int BPF_PROG(btf_hash_cnt, struct kvm_dirty_ring *ring, __u32 slot, __u64 offset)
{
	count_key(&btf_counts, ring->index);
	return 0;
}

SEC("tp_btf/kvm_dirty_ring_push")
int BPF_PROG(btf_array_cnt, struct kvm_dirty_ring *ring, __u32 slot, __u64 offset)
{
	__u32 vcpu = ring->index;
	__u64 *n = bpf_map_lookup_elem(&vcpu_counts, &vcpu);

	if (n)
		(*n)++;
	return 0;
}
