// SPDX-License-Identifier: GPL-2.0-only
/*
 * Detail accounting, user-space side: detail slots for processes, the mmapped
 * detail maps, passes, the re-dirty curve, distinct pages, and the BPF
 * programs' own cost (kernel run-time stats).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "tracer_int.h"

#define MT_DETAIL_MAPS 6

static struct bpf_map *detail_map(struct mt_tracer *t, int i)
{
	struct bpf_map *maps[6] = { t->skel->maps.vm_state,  t->skel->maps.pass_acc,
				    t->skel->maps.pass_ring, t->skel->maps.redirty,
				    t->skel->maps.page_bits, t->skel->maps.where };

	return maps[i];
}

static void **detail_ptr(struct mt_tracer *t, int i)
{
	void **ptrs[6] = { (void **)&t->d.vm_state,  (void **)&t->d.pass_acc,
			   (void **)&t->d.pass_ring, (void **)&t->d.redirty,
			   (void **)&t->d.page_bits, (void **)&t->d.where };

	return ptrs[i];
}

int mt_detail__configure(struct mt_tracer *t)
{
	struct migtrace_bpf *skel = t->skel;
	int err;

	if (t->sketch_bits < MT_MIN_SKETCH_BITS || t->sketch_bits > MT_MAX_SKETCH_BITS)
		return -EINVAL;
	skel->rodata->sketch_bits = t->sketch_bits;
	skel->rodata->nr_cpus = t->ncpus;
	err = bpf_map__set_max_entries(skel->maps.rows, t->ncpus * MT_MAX_ROWS);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.cpu_cache, t->ncpus);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.pass_acc, t->ncpus * MT_MAX_DETAIL_VMS);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.where, t->ncpus * MT_MAX_DETAIL_VMS);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.redirty, t->ncpus * MT_MAX_DETAIL_VMS *
									   2 * MT_BUCKETS_PER_VM);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.page_bits,
					       MT_MAX_DETAIL_VMS * MT_PAGE_BITMAPS *
						       mt_tracer__bits_words(t));
	return err;
}

static void *map_mmap(struct bpf_map *m, size_t *ret_len)
{
	size_t len = (size_t)bpf_map__value_size(m) * bpf_map__max_entries(m);
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	len = (len + page - 1) / page * page;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
	if (p == MAP_FAILED)
		return NULL;
	*ret_len = len;
	return p;
}

int mt_detail__map(struct mt_tracer *t)
{
	t->rows = map_mmap(t->skel->maps.rows, &t->rows_len);
	if (!t->rows)
		return -errno;
	t->cpu_cache = map_mmap(t->skel->maps.cpu_cache, &t->cache_len);
	if (!t->cpu_cache)
		return -errno;
	for (int i = 0; i < MT_DETAIL_MAPS; i++) {
		void *p = map_mmap(detail_map(t, i), &t->d.len[i]);

		if (!p)
			return -errno;
		*detail_ptr(t, i) = p;
	}
	return 0;
}

void mt_detail__unmap(struct mt_tracer *t)
{
	if (t->rows)
		munmap(t->rows, t->rows_len);
	if (t->cpu_cache)
		munmap(t->cpu_cache, t->cache_len);
	t->rows = NULL;
	t->cpu_cache = NULL;
	for (int i = 0; i < MT_DETAIL_MAPS; i++) {
		void **p = detail_ptr(t, i);

		if (*p)
			munmap(*p, t->d.len[i]);
		*p = NULL;
	}
}

int mt_tracer__slot(const struct mt_tracer *t, uint32_t tgid)
{
	for (int s = 0; s < MT_MAX_DETAIL_VMS; s++)
		if (t->d.slot_tgid[s] == tgid)
			return s;
	return -1;
}

/* Forget everything a slot held for a previous process. */
static void clear_slot(struct mt_tracer *t, int slot)
{
	t->d.vm_state[slot] = (struct mt_vm_state){ 0 };
	for (int c = 0; c < t->ncpus; c++) {
		t->d.pass_acc[c * MT_MAX_DETAIL_VMS + slot] = (struct mt_pass_acc){ 0 };
		memset(&t->d.where[c * MT_MAX_DETAIL_VMS + slot], 0, sizeof(struct mt_where));
		memset(&t->d.redirty[((size_t)c * MT_MAX_DETAIL_VMS + slot) * 2 *
				     MT_BUCKETS_PER_VM],
		       0, 2 * MT_BUCKETS_PER_VM * sizeof(uint64_t));
	}
	memset(&t->d.pass_ring[slot * MT_PASS_RING], 0, MT_PASS_RING * sizeof(struct mt_pass_rec));
	memset(&t->d.page_bits[(size_t)slot * MT_PAGE_BITMAPS * mt_tracer__bits_words(t)], 0,
	       MT_PAGE_BITMAPS * mt_tracer__bits_words(t) * sizeof(uint64_t));
}

int mt_tracer__track(struct mt_tracer *t, uint32_t tgid)
{
	struct mt_vm_slot v = { 0 };
	int slot = mt_tracer__slot(t, tgid);

	if (slot >= 0 || !tgid)
		return slot;
	slot = mt_tracer__slot(t, 0);
	if (slot < 0)
		return -ENOSPC;
	clear_slot(t, slot);
	t->d.vm_state[slot].tgid = tgid;
	v.slot = slot;
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.vm_slots), &tgid, &v, BPF_ANY))
		return -errno;
	t->d.slot_tgid[slot] = tgid;
	if (!t->track_all)
		mt_tracer__forget_caches(t); /* its threads may be cached as untracked */
	return slot;
}

void mt_tracer__untrack(struct mt_tracer *t, uint32_t tgid)
{
	int slot = mt_tracer__slot(t, tgid);

	if (slot < 0 || !tgid)
		return;
	bpf_map_delete_elem(bpf_map__fd(t->skel->maps.vm_slots), &tgid);
	t->d.slot_tgid[slot] = 0;
}

/* The per-CPU shares of pass seq not yet flushed into its record. */
static void add_acc(const struct mt_tracer *t, int slot, uint32_t seq, struct mt_pass *p)
{
	for (int c = 0; c < t->ncpus; c++) {
		const struct mt_pass_acc *a = &t->d.pass_acc[c * MT_MAX_DETAIL_VMS + slot];

		if (a->seq == seq) {
			p->events += a->events;
			p->distinct += a->distinct;
			p->first += a->first;
		}
	}
}

int mt_tracer__pass(const struct mt_tracer *t, int slot, uint32_t seq, struct mt_pass *out)
{
	const struct mt_pass_rec *r;

	if (slot < 0 || slot >= MT_MAX_DETAIL_VMS)
		return -EINVAL;
	r = &t->d.pass_ring[slot * MT_PASS_RING + seq % MT_PASS_RING];
	if (r->seq != seq)
		return -ENOENT; /* overwritten: the ring holds the newest MT_PASS_RING passes */
	*out = (struct mt_pass){ .seq = seq,
				 .start_ns = r->start_ns,
				 .end_ns = r->end_ns,
				 .events = r->events,
				 .distinct = r->distinct,
				 .first = r->first };
	add_acc(t, slot, seq, out);
	return 0;
}

int mt_tracer__vm_state(const struct mt_tracer *t, int slot, struct mt_vm_state *out)
{
	if (slot < 0 || slot >= MT_MAX_DETAIL_VMS)
		return -EINVAL;
	*out = t->d.vm_state[slot];
	return 0;
}

int mt_tracer__curve(const struct mt_tracer *t, int slot, uint32_t seq, uint64_t *out)
{
	int n = 0;

	memset(out, 0, MT_BUCKETS_PER_VM * sizeof(*out));
	for (int c = 0; c < t->ncpus; c++) {
		size_t half = ((size_t)c * MT_MAX_DETAIL_VMS + slot) * 2 + (seq & 1);
		const uint64_t *b = &t->d.redirty[half * MT_BUCKETS_PER_VM];

		/* A CPU's half holds pass seq only if it says so (BPF clears it lazily). */
		if (t->d.pass_acc[c * MT_MAX_DETAIL_VMS + slot].curve_seq[seq & 1] != seq)
			continue;
		for (int i = 0; i < MT_BUCKETS_PER_VM; i++)
			out[i] += b[i];
		n++;
	}
	return n;
}

double mt_linear_count(uint64_t occupied, unsigned int bits)
{
	double m = (double)(1ULL << bits);

	if (occupied >= (1ULL << bits))
		occupied = (1ULL << bits) - 1; /* saturated: the estimate is a floor */
	return -m * log1p(-(double)occupied / m);
}

size_t mt_tracer__bits_words(const struct mt_tracer *t)
{
	return (size_t)1 << (t->sketch_bits - 6);
}

int mt_tracer__pass_bits(const struct mt_tracer *t, int slot, uint32_t seq, uint64_t *out)
{
	size_t words = mt_tracer__bits_words(t);
	const uint64_t *b = &t->d.page_bits[((size_t)slot * MT_PAGE_BITMAPS + (seq & 1)) * words];

	if (slot < 0 || slot >= MT_MAX_DETAIL_VMS || t->d.vm_state[slot].bits_seq[seq & 1] != seq)
		return -ENOENT; /* cleared for pass seq + 2 already */
	memcpy(out, b, words * sizeof(*out));
	return 0;
}

uint64_t mt_popcount(const uint64_t *bits, size_t words)
{
	uint64_t n = 0;

	for (size_t i = 0; i < words; i++)
		n += __builtin_popcountll(bits[i]);
	return n;
}

unsigned int mt_tracer__sketch_bits(const struct mt_tracer *t)
{
	return t->sketch_bits;
}

static int region_cmp_key(const void *a, const void *b)
{
	const struct mt_region *x = a, *y = b;

	if (x->memslot != y->memslot)
		return x->memslot < y->memslot ? -1 : 1;
	return x->region < y->region ? -1 : x->region > y->region;
}

static int region_cmp_events(const void *a, const void *b)
{
	const struct mt_region *x = a, *y = b;

	return x->events < y->events ? 1 : x->events > y->events ? -1 : 0;
}

int mt_tracer__where(const struct mt_tracer *t, int slot, struct mt_where_sum *out)
{
	struct mt_region *all;
	int n = 0, m = 0;

	memset(out, 0, sizeof(*out));
	if (slot < 0 || slot >= MT_MAX_DETAIL_VMS)
		return -EINVAL;
	all = malloc((size_t)t->ncpus * MT_REGION_BUCKETS * sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (int c = 0; c < t->ncpus; c++) {
		const struct mt_where *w = &t->d.where[c * MT_MAX_DETAIL_VMS + slot];

		out->lost += w->regions_lost;
		for (int i = 0; i < MT_MEMSLOT_IDS; i++)
			out->memslot_events[i] += w->memslot_events[i];
		for (int i = 0; i < MT_REGION_BUCKETS; i++)
			if (w->regions[i].events)
				all[n++] = w->regions[i];
	}
	/* CPUs may hold one region in different buckets: merge by key, then rank. */
	qsort(all, n, sizeof(*all), region_cmp_key);
	for (int i = 0; i < n; i++) {
		if (m && !region_cmp_key(&all[m - 1], &all[i]))
			all[m - 1].events += all[i].events;
		else
			all[m++] = all[i];
	}
	qsort(all, m, sizeof(*all), region_cmp_events);
	out->nregions = m;
	out->ntop = m < MT_TOP_REGIONS ? m : MT_TOP_REGIONS;
	memcpy(out->top, all, out->ntop * sizeof(*all));
	free(all);
	return 0;
}
