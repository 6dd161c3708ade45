// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sampler.h"

const char *mt_source_name(enum mt_source s)
{
	static const char *const names[MT_SRC_MAX] = { "dirty_ring", "write_fault",
						       "pml_estimate" };

	return s < MT_SRC_MAX ? names[s] : "?";
}

unsigned int mt_source_pages(enum mt_source s)
{
	return s == MT_SRC_PML ? 512 : 1; /* a PML buffer holds 512 GPAs */
}

uint64_t mt_source_events(const struct mt_vcpu_stats *st, enum mt_source s)
{
	switch (s) {
	case MT_SRC_DIRTY_RING:
		return st->dirty_pushes;
	case MT_SRC_WRITE_FAULT:
		return st->faults_write;
	case MT_SRC_PML:
		return st->pml_full;
	default:
		return 0;
	}
}

struct pid_cache {
	const char *qmp_path;
	uint64_t vcpus_ns; /* snapshot the pid was resolved from */
	int pid;
};

struct mt_sampler {
	mt_tgid_fn tgid_of;
	struct mt_vcpu_row *prev; /* previous read, sorted by key */
	int nprev, cap_prev;
	uint64_t prev_ns;
	struct pid_cache *pids;
	int npids;
	uint64_t steps;
};

int mt_tgid_of(int tid)
{
	char path[64], line[128];
	int tgid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

struct mt_sampler *mt_sampler__new(mt_tgid_fn tgid_of)
{
	struct mt_sampler *s = calloc(1, sizeof(*s));

	if (s)
		s->tgid_of = tgid_of ? tgid_of : mt_tgid_of;
	return s;
}

void mt_sampler__free(struct mt_sampler *s)
{
	if (!s)
		return;
	free(s->prev);
	free(s->pids);
	free(s);
}

void mt_sampler__forget(struct mt_sampler *s, const char *qmp_path)
{
	for (int i = 0; i < s->npids; i++) {
		if (s->pids[i].qmp_path == qmp_path) {
			s->pids[i] = s->pids[--s->npids];
			return;
		}
	}
}

void mt_view__free(struct mt_view *v)
{
	if (!v)
		return;
	free(v->vms);
	free(v->vcpus);
	memset(v, 0, sizeof(*v));
}

double mt_rate(uint64_t prev, uint64_t cur, uint64_t prev_ns, uint64_t cur_ns)
{
	uint64_t delta = cur >= prev ? cur - prev : cur;

	if (cur_ns <= prev_ns)
		return 0.0;
	return (double)delta * 1e9 / (double)(cur_ns - prev_ns);
}

static int key_cmp(const struct mt_vcpu_key *a, const struct mt_vcpu_key *b)
{
	if (a->tgid != b->tgid)
		return a->tgid < b->tgid ? -1 : 1;
	if (a->vcpu != b->vcpu)
		return a->vcpu < b->vcpu ? -1 : 1;
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	return key_cmp(&((const struct mt_vcpu_row *)a)->key,
		       &((const struct mt_vcpu_row *)b)->key);
}

static const struct mt_vcpu_row *find_prev(const struct mt_sampler *s, const struct mt_vcpu_key *k)
{
	int lo = 0, hi = s->nprev - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = key_cmp(&s->prev[mid].key, k);

		if (!c)
			return &s->prev[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
	int n = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*arr, (size_t)n * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

/* The QEMU pid of a QMP-known VM, cached until its vCPU list changes. */
static int src_pid(struct mt_sampler *s, const struct mt_vm_src *src)
{
	const struct qmp_snapshot *snap = src->snap;
	struct pid_cache *pc = NULL;

	if (!snap || snap->nvcpus <= 0)
		return 0;
	for (int i = 0; i < s->npids; i++)
		if (s->pids[i].qmp_path == src->qmp_path)
			pc = &s->pids[i];
	if (!pc) {
		pc = realloc(s->pids, (s->npids + 1) * sizeof(*s->pids));
		if (!pc)
			return 0;
		s->pids = pc;
		pc = &s->pids[s->npids++];
		*pc = (struct pid_cache){ .qmp_path = src->qmp_path };
	}
	if (pc->vcpus_ns != snap->vcpus_ns || pc->pid <= 0) {
		pc->vcpus_ns = snap->vcpus_ns;
		pc->pid = s->tgid_of(snap->vcpus[0].thread_id);
	}
	return pc->pid > 0 ? pc->pid : 0;
}

static int cpu_index_of(const struct qmp_snapshot *snap, uint32_t tid)
{
	if (!snap)
		return -1;
	for (int i = 0; i < snap->nvcpus; i++)
		if ((uint32_t)snap->vcpus[i].thread_id == tid)
			return snap->vcpus[i].cpu_index;
	return -1;
}

static void add_stats(struct mt_vcpu_stats *sum, const struct mt_vcpu_stats *s)
{
	sum->dirty_pushes += s->dirty_pushes;
	sum->faults_write += s->faults_write;
	sum->faults_read += s->faults_read;
	sum->fast_pf_fixed += s->fast_pf_fixed;
	sum->fast_pf_spurious += s->fast_pf_spurious;
	sum->fast_pf_write += s->fast_pf_write;
	sum->pml_full += s->pml_full;
	if (s->last_event_ns > sum->last_event_ns)
		sum->last_event_ns = s->last_event_ns;
}

/* Add the BPF rows of tgid (a contiguous run in the sorted read) to vm. */
static int join_rows(struct mt_sampler *s, struct mt_counters *cur, int *pos,
		     const struct qmp_snapshot *snap, struct mt_vm_view *vm, struct mt_view *out)
{
	uint64_t dt_prev = s->prev_ns;

	vm->first_vcpu = out->nvcpus;
	for (; *pos < cur->nvcpus && cur->vcpus[*pos].key.tgid == (uint32_t)vm->pid; (*pos)++) {
		struct mt_vcpu_row *r = &cur->vcpus[*pos];
		const struct mt_vcpu_row *p = find_prev(s, &r->key);
		struct mt_vcpu_view *v;

		if (grow((void **)&out->vcpus, &out->cap_vcpus, out->nvcpus + 1, sizeof(*v)))
			return -ENOMEM;
		/* Without BPF timestamps (--no-detail) an event is seen as a count change. */
		if (!r->s.last_event_ns)
			r->s.last_event_ns =
				p && !memcmp(&p->s, &r->s,
					     offsetof(struct mt_vcpu_stats, last_event_ns))
					? p->s.last_event_ns
					: cur->now_ns;
		v = &out->vcpus[out->nvcpus++];
		*v = (struct mt_vcpu_view){
			.tgid = r->key.tgid,
			.kvm_vcpu = r->key.vcpu,
			.tid = r->tid,
			.tot = r->s,
			.cpu_index = cpu_index_of(snap, r->tid),
		};
		/* Without a previous read there is no interval to divide by; a row
		 * born since the previous read counted all of its events in it. */
		for (int src = 0; src < MT_SRC_MAX && dt_prev; src++) {
			double ev = mt_rate(p ? mt_source_events(&p->s, src) : 0,
					    mt_source_events(&r->s, src), dt_prev, cur->now_ns);

			v->rate_bps[src] = ev * mt_source_pages(src) * vm->page_size;
			vm->rate_bps[src] += v->rate_bps[src];
		}
		add_stats(&vm->tot, &r->s);
	}
	vm->nvcpus = out->nvcpus - vm->first_vcpu;
	vm->seen_by_bpf = vm->nvcpus > 0;
	return 0;
}

static void join_proc(const struct mt_counters *cur, struct mt_vm_view *vm)
{
	for (int i = 0; cur && i < cur->nprocs; i++) {
		if (cur->procs[i].tgid == (uint32_t)vm->pid) {
			vm->ring_resets = cur->procs[i].s.ring_resets;
			memcpy(vm->harvests, cur->procs[i].s.harvests, sizeof(vm->harvests));
			memcpy(vm->harvest_time_ns, cur->procs[i].s.harvest_time_ns,
			       sizeof(vm->harvest_time_ns));
			vm->last_reset_ns = cur->procs[i].s.last_reset_ns;
			vm->seen_by_bpf = 1;
		}
	}
}

static struct mt_vm_view *new_vm(struct mt_view *out, int src, int pid, const char *name,
				 const char *qmp_path)
{
	struct mt_vm_view *vm;

	if (grow((void **)&out->vms, &out->cap_vms, out->nvms + 1, sizeof(*vm)))
		return NULL;
	vm = &out->vms[out->nvms++];
	*vm = (struct mt_vm_view){ .src = src, .pid = pid, .page_size = MT_PAGE_SIZE_DEFAULT };
	if (name && *name)
		snprintf(vm->vm, sizeof(vm->vm), "%s", name);
	else if (pid > 0)
		snprintf(vm->vm, sizeof(vm->vm), "%d", pid);
	else /* QMP not answered yet, no vCPU thread to join: name it by its socket */
		snprintf(vm->vm, sizeof(vm->vm), "%s", qmp_path ? qmp_path : "unknown");
	return vm;
}

static int tgid_claimed(const struct mt_view *out, uint32_t tgid)
{
	for (int i = 0; i < out->nvms; i++)
		if ((uint32_t)out->vms[i].pid == tgid)
			return 1;
	return 0;
}

static int run_of(const struct mt_counters *cur, uint32_t tgid)
{
	int lo = 0, hi = cur->nvcpus;

	while (lo < hi) { /* first row with key.tgid >= tgid */
		int mid = (lo + hi) / 2;

		if (cur->vcpus[mid].key.tgid < tgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int keep_prev(struct mt_sampler *s, const struct mt_counters *cur)
{
	if (grow((void **)&s->prev, &s->cap_prev, cur->nvcpus, sizeof(*s->prev)))
		return -ENOMEM;
	if (cur->nvcpus)
		memcpy(s->prev, cur->vcpus, cur->nvcpus * sizeof(*s->prev));
	s->nprev = cur->nvcpus;
	s->prev_ns = cur->now_ns;
	return 0;
}

int mt_sampler__step(struct mt_sampler *s, struct mt_counters *cur, const struct mt_vm_src *srcs,
		     int nsrcs, struct mt_view *out)
{
	struct mt_counters none = { 0 };
	int pos;

	if (!cur)
		cur = &none;
	if (cur->nvcpus)
		qsort(cur->vcpus, cur->nvcpus, sizeof(*cur->vcpus), row_cmp);
	out->nvms = out->nvcpus = 0;
	out->prev_ns = s->prev_ns;
	out->now_ns = cur->now_ns;
	out->map_full = cur->map_full;
	out->steps = ++s->steps;
	for (int i = 0; i < nsrcs; i++) {
		int pid = src_pid(s, &srcs[i]);
		const struct qmp_snapshot *snap = srcs[i].snap;
		struct mt_vm_view *vm =
			new_vm(out, i, pid, snap ? snap->name : NULL, srcs[i].qmp_path);

		if (!vm)
			return -ENOMEM;
		if (snap && snap->mig.ram_page_size)
			vm->page_size = snap->mig.ram_page_size;
		pos = run_of(cur, pid);
		if (pid > 0 && join_rows(s, cur, &pos, snap, vm, out))
			return -ENOMEM;
		if (pid > 0)
			join_proc(cur, vm);
	}
	/* KVM processes nobody named with --qmp: counted all the same, labelled by pid. */
	for (pos = 0; pos < cur->nvcpus;) {
		uint32_t tgid = cur->vcpus[pos].key.tgid;
		struct mt_vm_view *vm;

		if (tgid_claimed(out, tgid)) {
			pos = run_of(cur, tgid + 1);
			continue;
		}
		vm = new_vm(out, -1, (int)tgid, NULL, NULL);
		if (!vm || join_rows(s, cur, &pos, NULL, vm, out))
			return -ENOMEM;
		join_proc(cur, vm);
	}
	return cur == &none ? 0 : keep_prev(s, cur);
}
