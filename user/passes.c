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

static struct mt_vm_hist *hist_get(struct mt_hists *hs, uint32_t tgid, int slot)
{
	struct mt_vm_hist *h = hs->v[slot];

	if (h && h->tgid == tgid)
		return h;
	if (!h) {
		h = malloc(sizeof(*h));
		if (!h)
			return NULL;
		hs->v[slot] = h;
	}
	memset(h, 0, sizeof(*h));
	h->tgid = tgid;
	h->slot = slot;
	return h;
}

static void record(struct mt_vm_hist *h, const struct mt_pass *p, unsigned int bits,
		   const struct mt_migrate_info *mig)
{
	struct mt_pass_entry *e = &h->ring[h->head];

	*e = (struct mt_pass_entry){ .p = *p };
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
		     const struct mt_migrate_info *mig, uint64_t now_ns, int scan_windows)
{
	struct mt_vm_hist *h;
	struct mt_vm_state st;
	unsigned int bits = mt_tracer__sketch_bits(t);

	if (slot < 0 || slot >= MT_MAX_DETAIL_VMS || mt_tracer__vm_state(t, slot, &st))
		return 0;
	h = hist_get(hs, tgid, slot);
	if (!h)
		return -ENOMEM;
	if (st.pass_seq != h->seen_seq) {
		uint32_t from = h->seen_seq;

		/* Every pass closed since the last look; the ring may have lost some. */
		for (uint32_t seq = from; seq != st.pass_seq; seq++) {
			struct mt_pass p;

			if (mt_tracer__pass(t, slot, seq, &p))
				h->dropped++;
			else
				record(h, &p, bits, mig);
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
		h->ws_1s = now_ns > 1000000000ULL
				   ? mt_tracer__distinct_since(t, slot, now_ns - 1000000000ULL)
				   : 0;
		h->ws_10s = now_ns > 10000000000ULL
				    ? mt_tracer__distinct_since(t, slot, now_ns - 10000000000ULL)
				    : 0;
		h->ws_ns = now_ns;
	}
	return 0;
}

void mt_hists__prune(struct mt_hists *hs, const struct mt_tracer *t)
{
	for (int i = 0; i < MT_MAX_DETAIL_VMS; i++) {
		if (hs->v[i] && (!t || mt_tracer__slot(t, hs->v[i]->tgid) != i)) {
			free(hs->v[i]);
			hs->v[i] = NULL;
		}
	}
}

void mt_hists__free(struct mt_hists *hs)
{
	if (!hs)
		return;
	for (int i = 0; i < MT_MAX_DETAIL_VMS; i++)
		free(hs->v[i]);
	memset(hs, 0, sizeof(*hs));
}
