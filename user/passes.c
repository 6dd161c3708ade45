// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "passes.h"

const struct mt_pass_entry *mt_vm_hist__nth(const struct mt_vm_hist *h, int i)
{
	if (!h || i < 0 || i >= h->n)
		return NULL;
	return &h->ring[(h->head - 1 - i + MT_PASS_HISTORY) % MT_PASS_HISTORY];
}

const struct mt_pass_entry *mt_vm_hist__last(const struct mt_vm_hist *h)
{
	return mt_vm_hist__nth(h, 0);
}

struct mt_vm_hist *mt_hists__find(const struct mt_hists *hs, uint32_t tgid)
{
	for (int i = 0; i < MT_MAX_DETAIL_VMS; i++)
		if (hs->v[i] && hs->v[i]->tgid == tgid)
			return hs->v[i];
	return NULL;
}

static void hist_free(struct mt_vm_hist *h)
{
	if (!h)
		return;
	free(h->scratch);
	free(h->union_bits);
	for (int i = 0; i < 2; i++)
		free(h->win[i].bits);
	free(h);
}

static struct mt_vm_hist *hist_new(uint32_t tgid, int slot, size_t words)
{
	static const struct {
		uint64_t gran_ns;
		int n;
	} win[2] = { { 250000000ULL, 5 }, { 1000000000ULL, 11 } };
	struct mt_vm_hist *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->tgid = tgid;
	h->slot = slot;
	h->words = words;
	h->scratch = calloc(words, sizeof(uint64_t));
	h->union_bits = calloc(words, sizeof(uint64_t));
	for (int i = 0; i < 2; i++) {
		h->win[i].gran_ns = win[i].gran_ns;
		h->win[i].n = win[i].n;
		h->win[i].bits = calloc((size_t)win[i].n * words, sizeof(uint64_t));
		if (!h->win[i].bits)
			h->scratch = NULL; /* fails below, freed by hist_free */
	}
	if (!h->scratch || !h->union_bits) {
		hist_free(h);
		return NULL;
	}
	return h;
}

static struct mt_vm_hist *hist_get(struct mt_hists *hs, uint32_t tgid, int slot, size_t words)
{
	struct mt_vm_hist *h = hs->v[slot];

	if (h && h->tgid == tgid && h->words == words)
		return h;
	hist_free(h);
	hs->v[slot] = hist_new(tgid, slot, words);
	return hs->v[slot];
}

static void or_bits(uint64_t *dst, const uint64_t *src, size_t words)
{
	for (size_t i = 0; i < words; i++)
		dst[i] |= src[i];
}

static void ring_add(struct mt_bits_ring *r, size_t words, uint64_t end_ns, const uint64_t *bits)
{
	uint64_t id = end_ns / r->gran_ns;
	int k = id % r->n;

	if (r->ids[k] != id) {
		memset(&r->bits[k * words], 0, words * sizeof(uint64_t));
		r->ids[k] = id;
	}
	or_bits(&r->bits[k * words], bits, words);
}

/* OR into out the buckets that overlap (now - window, now]. */
static void ring_window(const struct mt_bits_ring *r, size_t words, uint64_t now_ns,
			uint64_t window_ns, uint64_t *out)
{
	for (int k = 0; k < r->n; k++)
		if (r->ids[k] && (r->ids[k] + 1) * r->gran_ns > now_ns - window_ns)
			or_bits(out, &r->bits[k * words], words);
}

/* A closed pass's page bits, if BPF still holds them: into the windows and the union. */
static void keep_bits(struct mt_vm_hist *h, struct mt_tracer *t, const struct mt_pass *p)
{
	if (!p->end_ns || mt_tracer__pass_bits(t, h->slot, p->seq, h->scratch))
		return;
	for (int i = 0; i < 2; i++)
		ring_add(&h->win[i], h->words, p->end_ns, h->scratch);
	or_bits(h->union_bits, h->scratch, h->words);
}

static double window(struct mt_vm_hist *h, struct mt_tracer *t, int i, uint64_t now_ns,
		     uint64_t window_ns)
{
	/* The open pass so far, plus the closed ones that ended in the window. */
	if (mt_tracer__pass_bits(t, h->slot, h->seen_seq, h->scratch))
		memset(h->scratch, 0, h->words * sizeof(uint64_t));
	if (now_ns > window_ns)
		ring_window(&h->win[i], h->words, now_ns, window_ns, h->scratch);
	return mt_linear_count(mt_popcount(h->scratch, h->words), mt_tracer__sketch_bits(t));
}

double mt_vm_hist__union_distinct(struct mt_vm_hist *h, struct mt_tracer *t)
{
	if (mt_tracer__pass_bits(t, h->slot, h->seen_seq, h->scratch))
		memset(h->scratch, 0, h->words * sizeof(uint64_t));
	or_bits(h->scratch, h->union_bits, h->words);
	return mt_linear_count(mt_popcount(h->scratch, h->words), mt_tracer__sketch_bits(t));
}

void mt_vm_hist__union_reset(struct mt_vm_hist *h, uint64_t now_ns)
{
	memset(h->union_bits, 0, h->words * sizeof(uint64_t));
	h->union_since_ns = now_ns;
}

static void record(struct mt_vm_hist *h, const struct mt_pass *p, unsigned int bits,
		   const struct qmp_snapshot *snap)
{
	const struct mt_migrate_info *mig = snap && snap->mig_ns ? &snap->mig : NULL;

	struct mt_pass_entry *e = &h->ring[h->head];

	*e = (struct mt_pass_entry){ .p = *p, .qemu_pass = snap ? snap->ev.pass : -1 };
	e->distinct = mt_linear_count(p->distinct, bits);
	/* Tags ever claimed grow by p->first: estimate the pages behind the increase. */
	e->first = mt_linear_count(h->first_raw + p->first, bits) -
		   mt_linear_count(h->first_raw, bits);
	h->first_raw += p->first;
	if (mig && (mig->have & (1ULL << MIG_RAM))) {
		e->have_qmp = 1;
		e->ram_transferred = mig->ram_transferred;
		e->ram_remaining = mig->ram_remaining;
		e->dirty_sync_count = mig->ram_dirty_sync_count;
	}
	h->head = (h->head + 1) % MT_PASS_HISTORY;
	if (h->n < MT_PASS_HISTORY)
		h->n++;
}

int mt_hists__update(struct mt_hists *hs, struct mt_tracer *t, uint32_t tgid, int slot,
		     const struct qmp_snapshot *snap, uint64_t now_ns, int scan_windows)
{
	struct mt_vm_hist *h;
	struct mt_vm_state st;
	unsigned int bits = mt_tracer__sketch_bits(t);

	if (slot < 0 || slot >= MT_MAX_DETAIL_VMS || mt_tracer__vm_state(t, slot, &st))
		return 0;
	h = hist_get(hs, tgid, slot, mt_tracer__bits_words(t));
	if (!h)
		return -ENOMEM;
	if (st.pass_seq != h->seen_seq) {
		uint32_t from = h->seen_seq;

		/* Every pass closed since the last look; the ring may have lost some. */
		for (uint32_t seq = from; seq != st.pass_seq; seq++) {
			struct mt_pass p;

			if (mt_tracer__pass(t, slot, seq, &p))
				h->dropped++;
			else {
				record(h, &p, bits, snap);
				keep_bits(h, t, &p);
			}
		}
		/* Only the newest closed pass's curve is still whole; older ones are missed. */
		h->curves_missed += st.pass_seq - from - 1;
		if (mt_tracer__curve(t, slot, st.pass_seq - 1, h->curve)) {
			h->curve_seq = st.pass_seq - 1;
		} else {
			h->curves_missed++;
			memset(h->curve, 0, sizeof(h->curve));
		}
		h->seen_seq = st.pass_seq;
	}
	if (mt_tracer__pass(t, slot, st.pass_seq, &h->cur))
		memset(&h->cur, 0, sizeof(h->cur));
	if (scan_windows) {
		h->ws_1s = window(h, t, 0, now_ns, 1000000000ULL);
		h->ws_10s = window(h, t, 1, now_ns, 10000000000ULL);
		h->ws_ns = now_ns;
	}
	return 0;
}

void mt_hists__prune(struct mt_hists *hs, const struct mt_tracer *t)
{
	for (int i = 0; i < MT_MAX_DETAIL_VMS; i++) {
		if (hs->v[i] && (!t || mt_tracer__slot(t, hs->v[i]->tgid) != i)) {
			hist_free(hs->v[i]);
			hs->v[i] = NULL;
		}
	}
}

void mt_hists__free(struct mt_hists *hs)
{
	if (!hs)
		return;
	for (int i = 0; i < MT_MAX_DETAIL_VMS; i++)
		hist_free(hs->v[i]);
	memset(hs, 0, sizeof(*hs));
}
