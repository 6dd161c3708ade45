/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Detail accounting of a VM with a slot: passes (harvest to harvest), the
 * re-dirty curve (events by 1 ms bucket since the last harvest) and distinct
 * pages (a tag per hashed page: the time it was last dirtied).
 */
#ifndef MIGTRACE_DETAIL_BPF_H
#define MIGTRACE_DETAIL_BPF_H

#include "maps.bpf.h"

/*
 * All detail maps are plain arrays that user space mmaps (no syscall per
 * read). Per-CPU data lives in a region per CPU (index by
 * bpf_get_smp_processor_id()), so increments need no atomics.
 */
const volatile __u32 sketch_bits = MT_DEFAULT_SKETCH_BITS; /* set by user space */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_MAX_DETAIL_VMS);
	__type(key, __u32);
	__type(value, struct mt_vm_state);
} vm_state SEC(".maps");

/* [cpu][slot], resized to nr_cpus * MT_MAX_DETAIL_VMS */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_MAX_DETAIL_VMS);
	__type(key, __u32);
	__type(value, struct mt_pass_acc);
} pass_acc SEC(".maps");

/* [slot][seq % MT_PASS_RING] */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_MAX_DETAIL_VMS *MT_PASS_RING);
	__type(key, __u32);
	__type(value, struct mt_pass_rec);
} pass_ring SEC(".maps");

/*
 * [cpu][slot][pass parity][bucket], resized to nr_cpus * MT_MAX_DETAIL_VMS * 2 *
 * MT_BUCKETS_PER_VM: user space reads and clears a closed pass's half while
 * the next pass fills the other, so each pass's curve stays its own.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_MAX_DETAIL_VMS *MT_BUCKETS_PER_VM);
	__type(key, __u32);
	__type(value, __u64);
} redirty SEC(".maps");

/*
 * [slot][bitmap][word]: a bit per hashed page, for the passes of each parity
 * and for pages ever dirtied; resized to VMs * 3 << (sketch_bits - 6) words.
 * Bits, not per-page timestamps: 512 pages share a cache line, and the memory
 * an event touches is what the detail path costs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_MAX_DETAIL_VMS *MT_PAGE_BITMAPS << (MT_DEFAULT_SKETCH_BITS - 6));
	__type(key, __u32);
	__type(value, __u64);
} page_bits SEC(".maps");

/* [cpu][slot], resized to nr_cpus * MT_MAX_DETAIL_VMS */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_MAX_DETAIL_VMS);
	__type(key, __u32);
	__type(value, struct mt_where);
} where SEC(".maps");

/* ns -> 1 ms bucket without a division: 2^50 / 10^6 rounded, exact below 8.2 s. */
#define NS_TO_MS_MUL   1125899907ULL
#define NS_TO_MS_SHIFT 50

static __always_inline __u32 bucket_of(__u64 delta_ns)
{
	if (delta_ns >= (__u64)MT_NR_BUCKETS * 1000000ULL)
		return MT_BUCKET_OVERFLOW;
	return (delta_ns * NS_TO_MS_MUL) >> NS_TO_MS_SHIFT;
}

/*
 * A well-mixed hash (the splitmix64 finaliser) of (memslot, page offset):
 * linear counting assumes random placement; a multiplicative hash would
 * spread a contiguous working set without any collision, and the linear
 * counting correction would then overestimate it.
 */
static __always_inline __u32 page_hash(__u32 memslot, __u64 offset)
{
	__u64 z = ((__u64)memslot << 40) ^ offset;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z >> (64 - sketch_bits);
}

struct clear_ctx {
	__u32 base;
};

static long clear_bucket(__u32 i, void *data)
{
	struct clear_ctx *c = data;
	__u32 idx = c->base + i;
	__u64 *b = bpf_map_lookup_elem(&redirty, &idx);

	if (b)
		*b = 0;
	return 0;
}

/*
 * This CPU's half of the curve for a pass it sees for the first time still
 * holds a pass two (or more) back: clear it, once per pass and CPU. User
 * space reads only halves whose curve_seq names the pass it wants, so a
 * curve is always one pass's, or missing, never a mixture.
 */
static __always_inline void clear_curve(__u32 half)
{
	struct clear_ctx c = { .base = half * MT_BUCKETS_PER_VM };

	bpf_loop(MT_BUCKETS_PER_VM, clear_bucket, &c, 0);
}

static long clear_word(__u32 i, void *data)
{
	__u32 idx = *(__u32 *)data + i;
	__u64 *w = bpf_map_lookup_elem(&page_bits, &idx);

	if (w)
		*w = 0;
	return 0;
}

/* Zero one bitmap (harvests only: at most once per pass, 2^(bits - 6) words). */
static __always_inline void clear_bits(__u32 bitmap)
{
	__u32 base = bitmap << (sketch_bits - 6);

	bpf_loop(1U << (sketch_bits - 6), clear_word, &base, 0);
}

/* Count the event in its memslot and its 2 MiB region (this CPU's counters). */
static __always_inline void where_dirty(__u32 aidx, __u32 memslot, __u64 offset)
{
	struct mt_where *w = bpf_map_lookup_elem(&where, &aidx);
	__u32 region = offset >> MT_REGION_SHIFT;
	__u32 h = (((__u64)memslot << 32 | region) * 0x9E3779B97F4A7C15ULL) >> 54;
	struct mt_region *r;

	if (!w)
		return;
	w->memslot_events[((memslot >> 16) << 5 | (memslot & 31)) & (MT_MEMSLOT_IDS - 1)]++;
	r = &w->regions[h & (MT_REGION_BUCKETS - 1)];
	if (r->events && (r->memslot != memslot || r->region != region)) {
		w->regions_lost++;
		return;
	}
	if (!r->events) {
		r->memslot = memslot;
		r->region = region;
	}
	r->events++;
}

/* Add this CPU's share of an older pass to its record (if the ring still holds it). */
static __always_inline void flush_acc(__u32 slot, struct mt_pass_acc *acc)
{
	__u32 idx = slot * MT_PASS_RING + acc->seq % MT_PASS_RING;
	struct mt_pass_rec *rec = bpf_map_lookup_elem(&pass_ring, &idx);

	if (rec && rec->seq == acc->seq) {
		__sync_fetch_and_add(&rec->events, acc->events);
		__sync_fetch_and_add(&rec->distinct, acc->distinct);
		__sync_fetch_and_add(&rec->first, acc->first);
	}
}

/* One dirtied page (memslot, offset) of the VM in detail slot `slot`. */
static __always_inline void detail_dirty(__u32 slot, __u32 memslot, __u64 offset, __u64 now)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 aidx = cpu * MT_MAX_DETAIL_VMS + slot, bidx, widx, h;
	struct mt_vm_state *vm = bpf_map_lookup_elem(&vm_state, &slot);
	struct mt_pass_acc *acc = bpf_map_lookup_elem(&pass_acc, &aidx);
	__u64 *bucket, *word, bit;

	if (!vm || !acc || cpu >= nr_cpus)
		return;
	if (acc->seq != vm->pass_seq) {
		__u32 keep = acc->curve_seq[(vm->pass_seq + 1) & 1];

		flush_acc(slot, acc);
		*acc = (struct mt_pass_acc){ .seq = vm->pass_seq };
		acc->curve_seq[(vm->pass_seq + 1) & 1] = keep;
		acc->curve_seq[vm->pass_seq & 1] = vm->pass_seq;
		clear_curve(aidx * 2 + (vm->pass_seq & 1));
	}
	acc->events++;
	where_dirty(aidx, memslot, offset);
	bidx = (aidx * 2 + (vm->pass_seq & 1)) * MT_BUCKETS_PER_VM +
	       bucket_of(now - vm->last_harvest_ns);
	bucket = bpf_map_lookup_elem(&redirty, &bidx);
	if (bucket)
		(*bucket)++;
	h = page_hash(memslot, offset);
	bit = 1ULL << (h & 63);
	widx = ((slot * MT_PAGE_BITMAPS + (vm->pass_seq & 1)) << (sketch_bits - 6)) + (h >> 6);
	word = bpf_map_lookup_elem(&page_bits, &widx);
	if (!word || (*word & bit))
		return; /* already dirty in this pass: the common case of a busy page */
	__sync_fetch_and_or(word, bit);
	acc->distinct++;
	widx = ((slot * MT_PAGE_BITMAPS + MT_BITS_EVER) << (sketch_bits - 6)) + (h >> 6);
	word = bpf_map_lookup_elem(&page_bits, &widx);
	if (word && !(*word & bit)) {
		__sync_fetch_and_or(word, bit);
		acc->first++;
	}
}

/* A harvest event at `now`: a burst of them ends the pass and opens the next. */
static __always_inline void detail_harvest(__u32 slot, __u64 now)
{
	struct mt_vm_state *vm = bpf_map_lookup_elem(&vm_state, &slot);
	struct mt_pass_rec *rec;
	__u32 idx, seq;

	if (!vm)
		return;
	/*
	 * Signed: an ioctl reports its start time after the ring resets it
	 * caused were seen, so `now` may lie slightly before last_harvest_ns.
	 */
	if (vm->pass_seq && (__s64)(now - vm->last_harvest_ns) < (__s64)MT_PASS_GAP_NS) {
		if (now > vm->last_harvest_ns)
			vm->last_harvest_ns = now;
		return;
	}
	idx = slot * MT_PASS_RING + vm->pass_seq % MT_PASS_RING;
	rec = bpf_map_lookup_elem(&pass_ring, &idx);
	if (rec && rec->seq == vm->pass_seq)
		rec->end_ns = now;
	seq = vm->pass_seq + 1;
	idx = slot * MT_PASS_RING + seq % MT_PASS_RING;
	rec = bpf_map_lookup_elem(&pass_ring, &idx);
	if (rec)
		*rec = (struct mt_pass_rec){ .seq = seq, .start_ns = now };
	/* The new pass's bitmap held pass seq - 2: clear it before the pass opens. */
	clear_bits(slot * MT_PAGE_BITMAPS + (seq & 1));
	vm->bits_seq[seq & 1] = seq;
	vm->pass_start_ns = now;
	vm->last_harvest_ns = now;
	vm->pass_seq = seq;
}

#endif /* MIGTRACE_DETAIL_BPF_H */
