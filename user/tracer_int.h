/* SPDX-License-Identifier: GPL-2.0-only */
/* Inside the tracer: shared by tracer.c (lifecycle, counters) and tracer_detail.c. */
#ifndef MT_TRACER_INT_H
#define MT_TRACER_INT_H

#include <bpf/libbpf.h>
#include "tracer.h"
#include "migtrace.skel.h"

/* The detail maps, mmapped: read without a syscall, cleared when a slot is reused. */
struct mt_detail_maps {
	struct mt_vm_state *vm_state;  /* [slot] */
	struct mt_pass_acc *pass_acc;  /* [cpu][slot] */
	struct mt_pass_rec *pass_ring; /* [slot][seq % MT_PASS_RING] */
	uint64_t *redirty;	       /* [cpu][slot][bucket] */
	uint64_t *page_bits;	       /* [slot][bitmap][word] */
	struct mt_where *where;	       /* [cpu][slot] */
	size_t len[6];
	uint32_t slot_tgid[MT_MAX_DETAIL_VMS]; /* user space's view of vm_slots */
};

struct mt_tracer {
	struct migtrace_bpf *skel;
	struct bpf_link *links[MT_TP_MAX];
	struct mt_attach_plan plan; /* chosen from BTF, then updated by attach failures */
	int ncpus;
	int track_all;
	int detail; /* passes, curves and page tags on */
	unsigned int sketch_bits;
	void *percpu_buf; /* ncpus values of the largest per-CPU map value */
	struct mt_detail_maps d;
	struct mt_vcpu_stats *rows;	/* mmapped [cpu][row] */
	struct mt_cpu_cache *cpu_cache; /* mmapped [cpu] */
	size_t rows_len, cache_len;
	struct {
		uint64_t id; /* pid_tgid */
		uint32_t row;
	} * rowlist; /* row_index as of the last scan */
	int nrowlist, caprowlist;
	uint64_t rows_seen; /* bss rows_created at that scan */
	int rows_stale;	    /* rows were freed since */
	int stats_fd;	    /* holds kernel BPF run-time stats on while migtrace runs */
};

/* tracer_detail.c */
int mt_detail__configure(struct mt_tracer *t); /* before load: map sizes */
int mt_detail__map(struct mt_tracer *t);       /* after load: mmap */
void mt_detail__unmap(struct mt_tracer *t);

#endif
