// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lifecycle of the BPF side: probe each tracepoint in BTF, choose raw_tp or
 * classic tracepoint per tracepoint, open -> configure -> load -> attach from
 * a table, and read the per-CPU counter maps summed over CPUs.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/kvm.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kfeat.h"
#include "log.h"
#include "loop.h"
#include "tracer_int.h"

struct tp_desc {
	const char *category, *name, *full;
	int nargs;		/* TP_PROTO arguments our raw_tp program expects */
	size_t raw_off, tp_off; /* offsets of the programs in skel->progs */
};

#define PROG_OFF(p) offsetof(struct migtrace_bpf, progs.p)

static const struct tp_desc tps[MT_TP_MAX] = {
	[MT_TP_DIRTY_RING_PUSH] = { "kvm", "kvm_dirty_ring_push", "kvm:kvm_dirty_ring_push", 3,
				    PROG_OFF(raw_dirty_ring_push), PROG_OFF(tp_dirty_ring_push) },
	[MT_TP_DIRTY_RING_RESET] = { "kvm", "kvm_dirty_ring_reset", "kvm:kvm_dirty_ring_reset", 1,
				     PROG_OFF(raw_dirty_ring_reset),
				     PROG_OFF(tp_dirty_ring_reset) },
	[MT_TP_PAGE_FAULT] = { "kvm", "kvm_page_fault", "kvm:kvm_page_fault", 3,
			       PROG_OFF(raw_page_fault), PROG_OFF(tp_page_fault) },
	[MT_TP_FAST_PAGE_FAULT] = { "kvmmmu", "fast_page_fault", "kvmmmu:fast_page_fault", 5,
				    PROG_OFF(raw_fast_page_fault), PROG_OFF(tp_fast_page_fault) },
	[MT_TP_PML_FULL] = { "kvm", "kvm_pml_full", "kvm:kvm_pml_full", 1, PROG_OFF(raw_pml_full),
			     PROG_OFF(tp_pml_full) },
	[MT_TP_SYS_ENTER] = { "raw_syscalls", "sys_enter", "raw_syscalls:sys_enter", 2,
			      PROG_OFF(raw_sys_enter), PROG_OFF(tp_sys_enter) },
	[MT_TP_SYS_EXIT] = { "raw_syscalls", "sys_exit", "raw_syscalls:sys_exit", 2,
			     PROG_OFF(raw_sys_exit), PROG_OFF(tp_sys_exit) },
};

static struct bpf_program *prog_at(struct migtrace_bpf *skel, size_t off)
{
	return *(struct bpf_program **)((char *)skel + off);
}

const char *mt_tp_name(enum mt_tp tp)
{
	return tp < MT_TP_MAX ? tps[tp].full : "?";
}

const char *mt_attach_mode_name(enum mt_attach_mode m)
{
	static const char *const names[MT_ATTACH_MAX] = { "none", "raw_tp", "tracepoint" };

	return m < MT_ATTACH_MAX ? names[m] : "?";
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && mt_log_get_level() < MT_LOG_DEBUG)
		return 0;
	if (level != LIBBPF_DEBUG && mt_log_get_level() < MT_LOG_DEBUG)
		return 0; /* failures are reported by us, in one line each */
	fputs("migtrace: libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

void mt_attach_plan(const struct mt_kfeat *k, enum mt_attach_pref pref, struct mt_attach_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	for (int i = 0; i < MT_TP_MAX; i++) {
		const struct tp_desc *d = &tps[i];
		char raw_struct[96];
		int nargs = mt_kfeat__tp_nargs(k, d->name);

		snprintf(raw_struct, sizeof(raw_struct), "trace_event_raw_%s", d->name);
		if (pref != MT_PREF_CLASSIC && nargs == d->nargs) {
			plan->mode[i] = MT_ATTACH_RAW_TP;
		} else if (pref != MT_PREF_RAW && mt_kfeat__has_struct(k, raw_struct)) {
			plan->mode[i] = MT_ATTACH_TP;
		} else {
			plan->mode[i] = MT_ATTACH_NONE;
			if (nargs == -ENOENT)
				snprintf(plan->reason[i], sizeof(plan->reason[i]),
					 "%s not in kernel BTF (kernel without this tracepoint, "
					 "or KVM module not loaded)",
					 mt_tp_name(i));
			else
				snprintf(plan->reason[i], sizeof(plan->reason[i]),
					 "%s has %d arguments, migtrace expects %d; "
					 "try --attach=classic",
					 mt_tp_name(i), nargs, d->nargs);
		}
	}
}

static int configure(struct mt_tracer *t, const struct mt_kfeat *k)
{
	struct migtrace_bpf *skel = t->skel;
	long long v;

	for (int i = 0; i < MT_TP_MAX; i++) {
		bpf_program__set_autoload(prog_at(skel, tps[i].raw_off),
					  t->plan.mode[i] == MT_ATTACH_RAW_TP);
		bpf_program__set_autoload(prog_at(skel, tps[i].tp_off),
					  t->plan.mode[i] == MT_ATTACH_TP);
	}
	if (!mt_kfeat__enum_value(k, "RET_PF_FIXED", &v))
		skel->rodata->ret_pf_fixed = (int)v;
	if (!mt_kfeat__enum_value(k, "RET_PF_SPURIOUS", &v))
		skel->rodata->ret_pf_spurious = (int)v;
	skel->rodata->track_all = t->track_all;
	skel->rodata->detail_on = t->detail;
	skel->rodata->nr_ioctl = __NR_ioctl;
	skel->rodata->ioctl_cmds[MT_HARVEST_RESET_RINGS] = KVM_RESET_DIRTY_RINGS;
	skel->rodata->ioctl_cmds[MT_HARVEST_GET_DIRTY_LOG] = KVM_GET_DIRTY_LOG;
	skel->rodata->ioctl_cmds[MT_HARVEST_CLEAR_DIRTY_LOG] = KVM_CLEAR_DIRTY_LOG;
	return mt_detail__configure(t);
}

static void attach_all(struct mt_tracer *t)
{
	int classic_ready = 2; /* 2: tracefs not checked yet */

	for (int i = 0; i < MT_TP_MAX; i++) {
		const struct tp_desc *d = &tps[i];
		struct bpf_link *link = NULL;

		if (t->plan.mode[i] == MT_ATTACH_RAW_TP) {
			link = bpf_program__attach_raw_tracepoint(prog_at(t->skel, d->raw_off),
								  d->name);
		} else if (t->plan.mode[i] == MT_ATTACH_TP) {
			/* Classic tracepoints are found by id through tracefs. */
			if (classic_ready == 2) {
				classic_ready = mt_tracefs_ensure();
				if (classic_ready == 1)
					log_info("mounted tracefs on %s to attach classic "
						 "tracepoints (unmounted again after)",
						 MT_TRACEFS);
			}
			if (classic_ready == 0 || classic_ready == 1)
				link = bpf_program__attach_tracepoint(prog_at(t->skel, d->tp_off),
								      d->category, d->name);
			else
				errno = -classic_ready;
		} else {
			continue;
		}
		if (!link) {
			snprintf(t->plan.reason[i], sizeof(t->plan.reason[i]),
				 "attaching %s as %s failed: %s", mt_tp_name(i),
				 mt_attach_mode_name(t->plan.mode[i]), strerror(errno));
			t->plan.mode[i] = MT_ATTACH_NONE;
			continue;
		}
		t->links[i] = link;
	}
	if (classic_ready == 1)
		mt_tracefs_release();
}

static const char *load_failure_msg(int err)
{
	if (err == -EPERM || err == -EACCES)
		return "loading BPF programs needs root (or CAP_BPF and CAP_PERFMON): "
		       "run migtrace as root";
	return "loading the BPF object failed: run with -v for libbpf's log";
}

struct mt_tracer *mt_tracer__new(const struct mt_tracer_options *opts, const char **ret_msg)
{
	struct mt_kfeat k;
	struct mt_tracer *t;
	int err, n = 0;

	*ret_msg = NULL;
	libbpf_set_print(libbpf_print);
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->stats_fd = -1;
	t->track_all = opts->track != MT_TRACK_QMP;
	t->detail = !opts->no_detail;
	t->sketch_bits = opts->sketch_bits ? opts->sketch_bits : MT_DEFAULT_SKETCH_BITS;
	err = mt_kfeat__load(&k);
	if (err) {
		*ret_msg = "cannot read kernel BTF (/sys/kernel/btf/vmlinux): a kernel built "
			   "with CONFIG_DEBUG_INFO_BTF=y is required";
		goto cleanup;
	}
	mt_attach_plan(&k, opts->pref, &t->plan);
	t->ncpus = libbpf_num_possible_cpus();
	t->skel = migtrace_bpf__open();
	if (!t->skel || t->ncpus <= 0) {
		err = -errno;
		*ret_msg = "opening the BPF object failed";
		goto cleanup;
	}
	err = configure(t, &k);
	if (!err)
		err = migtrace_bpf__load(t->skel);
	if (err) {
		*ret_msg = load_failure_msg(err);
		goto cleanup;
	}
	err = mt_detail__map(t);
	if (err) {
		*ret_msg = "mapping the BPF detail maps failed";
		goto cleanup;
	}
	if (opts->no_attach) /* tests: programs run by BPF_PROG_TEST_RUN only */
		goto done;
	attach_all(t);
	/* Kernel BPF stats (run_cnt, run_time_ns) stay on while this fd is open. */
	t->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (t->stats_fd < 0)
		log_debug("BPF run-time stats unavailable: %s", strerror(errno));
	/* The harvest-ioctl programs alone measure nothing: count the KVM ones. */
	for (int i = 0; i < MT_TP_SYS_ENTER; i++)
		n += t->plan.mode[i] != MT_ATTACH_NONE;
	if (!n) {
		err = -ENOENT;
		*ret_msg = "no KVM tracepoint could be attached (is KVM available? see "
			   "`migtrace serve -v`)";
		goto cleanup;
	}
done:
	t->percpu_buf = calloc(t->ncpus, sizeof(struct mt_proc_stats));
	if (!t->percpu_buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	mt_kfeat__free(&k);
	return t;
cleanup:
	mt_kfeat__free(&k);
	mt_tracer__free(t);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

void mt_tracer__free(struct mt_tracer *t)
{
	if (!t)
		return;
	for (int i = 0; i < MT_TP_MAX; i++)
		bpf_link__destroy(t->links[i]);
	mt_detail__unmap(t);
	if (t->stats_fd >= 0)
		close(t->stats_fd);
	migtrace_bpf__destroy(t->skel);
	free(t->percpu_buf);
	free(t->rowlist);
	free(t);
}

int mt_tracer__prog_stats(const struct mt_tracer *t, enum mt_tp tp, uint64_t *ret_cnt,
			  uint64_t *ret_ns)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	const struct bpf_program *p;

	if (tp >= MT_TP_MAX || t->plan.mode[tp] == MT_ATTACH_NONE || t->stats_fd < 0)
		return -ENOENT;
	p = prog_at(t->skel,
		    t->plan.mode[tp] == MT_ATTACH_RAW_TP ? tps[tp].raw_off : tps[tp].tp_off);
	if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
		return -errno;
	*ret_cnt = info.run_cnt;
	*ret_ns = info.run_time_ns;
	return 0;
}

enum mt_attach_mode mt_tracer__mode(const struct mt_tracer *t, enum mt_tp tp)
{
	return tp < MT_TP_MAX ? t->plan.mode[tp] : MT_ATTACH_NONE;
}

const char *mt_tracer__reason(const struct mt_tracer *t, enum mt_tp tp)
{
	if (tp >= MT_TP_MAX || t->plan.mode[tp] != MT_ATTACH_NONE)
		return NULL;
	return t->plan.reason[tp][0] ? t->plan.reason[tp] : "not attached";
}

/* Sum the per-CPU copies ([cpu][row]) of one row. */
static void sum_vcpu(const struct mt_vcpu_stats *rows, uint32_t row, int ncpus,
		     struct mt_vcpu_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < ncpus; c++) {
		const struct mt_vcpu_stats *s = &rows[(size_t)c * MT_MAX_ROWS + row];

		out->dirty_pushes += s->dirty_pushes;
		out->faults_write += s->faults_write;
		out->faults_read += s->faults_read;
		out->fast_pf_fixed += s->fast_pf_fixed;
		out->fast_pf_spurious += s->fast_pf_spurious;
		out->fast_pf_write += s->fast_pf_write;
		out->pml_full += s->pml_full;
		if (s->last_event_ns > out->last_event_ns)
			out->last_event_ns = s->last_event_ns;
		if (s->vcpu1)
			out->vcpu1 = s->vcpu1;
	}
}

static void sum_proc(const struct mt_proc_stats *pc, int ncpus, struct mt_proc_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < ncpus; c++) {
		out->ring_resets += pc[c].ring_resets;
		for (int k = 0; k < MT_HARVEST_MAX; k++) {
			out->harvests[k] += pc[c].harvests[k];
			out->harvest_time_ns[k] += pc[c].harvest_time_ns[k];
		}
		if (pc[c].last_reset_ns > out->last_reset_ns)
			out->last_reset_ns = pc[c].last_reset_ns;
	}
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
	void *p;
	int n = *cap ? *cap : 64;

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

/* Which row each vCPU thread owns: rescanned only when BPF made new rows. */
static int scan_rows(struct mt_tracer *t)
{
	int fd = bpf_map__fd(t->skel->maps.row_index);
	__u64 key, next, *prev = NULL;
	struct mt_row_ref ref;
	uint64_t created = __atomic_load_n(&t->skel->bss->rows_created, __ATOMIC_ACQUIRE);

	if (created == t->rows_seen && !t->rows_stale)
		return 0;
	t->nrowlist = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &ref) || ref.row >= MT_MAX_ROWS)
			continue;
		if (grow((void **)&t->rowlist, &t->caprowlist, t->nrowlist + 1,
			 sizeof(*t->rowlist)))
			return -ENOMEM;
		t->rowlist[t->nrowlist].id = key;
		t->rowlist[t->nrowlist].row = ref.row;
		t->nrowlist++;
	}
	t->rows_seen = created;
	t->rows_stale = 0;
	return 0;
}

static int read_vcpus(struct mt_tracer *t, struct mt_counters *out)
{
	int err = scan_rows(t);

	if (err)
		return err;
	out->nvcpus = 0;
	if (grow((void **)&out->vcpus, &out->cap_vcpus, t->nrowlist, sizeof(*out->vcpus)))
		return -ENOMEM;
	for (int i = 0; i < t->nrowlist; i++) {
		struct mt_vcpu_row *r = &out->vcpus[out->nvcpus++];

		sum_vcpu(t->rows, t->rowlist[i].row, t->ncpus, &r->s);
		r->tid = (uint32_t)t->rowlist[i].id;
		r->key.tgid = t->rowlist[i].id >> 32;
		r->key.vcpu = r->s.vcpu1 ? r->s.vcpu1 - 1 : r->tid; /* id unknown: the thread */
	}
	return 0;
}

static int read_procs(struct mt_tracer *t, struct mt_counters *out)
{
	int fd = bpf_map__fd(t->skel->maps.proc_stats);
	__u32 key, next, *prev = NULL;

	out->nprocs = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, t->percpu_buf))
			continue;
		if (grow((void **)&out->procs, &out->cap_procs, out->nprocs + 1,
			 sizeof(*out->procs)))
			return -ENOMEM;
		out->procs[out->nprocs].tgid = key;
		sum_proc(t->percpu_buf, t->ncpus, &out->procs[out->nprocs].s);
		out->nprocs++;
	}
	return 0;
}

static uint64_t read_map_full(struct mt_tracer *t)
{
	struct mt_global_stats *g = t->percpu_buf;
	__u32 zero = 0;
	uint64_t sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.global_stats), &zero, g))
		return 0;
	for (int c = 0; c < t->ncpus; c++)
		sum += g[c].map_full;
	return sum;
}

int mt_tracer__read(struct mt_tracer *t, struct mt_counters *out)
{
	int err;

	out->now_ns = mt_now_ns();
	err = read_vcpus(t, out);
	if (!err)
		err = read_procs(t, out);
	out->map_full = read_map_full(t);
	return err;
}

static int tgid_alive(__u32 tgid)
{
	return !kill((pid_t)tgid, 0) || errno != ESRCH;
}

/* Give a dead thread's row back: zero its copies, forget the CPUs' caches of it. */
static void free_row(struct mt_tracer *t, uint64_t id, uint32_t row)
{
	if (bpf_map_delete_elem(bpf_map__fd(t->skel->maps.row_index), &id))
		return;
	for (int c = 0; c < t->ncpus; c++) {
		t->rows[(size_t)c * MT_MAX_ROWS + row] = (struct mt_vcpu_stats){ 0 };
		if (t->cpu_cache[c].id == id)
			t->cpu_cache[c] = (struct mt_cpu_cache){ 0 };
	}
	bpf_map_update_elem(bpf_map__fd(t->skel->maps.free_rows), NULL, &row, 0);
}

void mt_tracer__forget_caches(struct mt_tracer *t)
{
	/* Negative entries (untracked threads) must be looked up again. */
	for (int c = 0; c < t->ncpus; c++)
		t->cpu_cache[c] = (struct mt_cpu_cache){ 0 };
}

int mt_tracer__gc(struct mt_tracer *t)
{
	int pfd = bpf_map__fd(t->skel->maps.proc_stats);
	__u32 tg, tnext, *tprev = NULL;
	int n = 0;

	if (scan_rows(t))
		return -ENOMEM;
	for (int i = 0; i < t->nrowlist; i++) {
		if (tgid_alive(t->rowlist[i].id >> 32))
			continue;
		free_row(t, t->rowlist[i].id, t->rowlist[i].row);
		t->rows_stale = 1;
		n++;
	}
	for (int slot = 0; slot < MT_MAX_DETAIL_VMS; slot++)
		if (t->d.slot_tgid[slot] && !tgid_alive(t->d.slot_tgid[slot]))
			mt_tracer__untrack(t, t->d.slot_tgid[slot]);
	/* Deleting the current key breaks iteration: start over after each. */
	while (!bpf_map_get_next_key(pfd, tprev, &tnext)) {
		tg = tnext;
		tprev = &tg;
		if (!tgid_alive(tg) && !bpf_map_delete_elem(pfd, &tg)) {
			n++;
			tprev = NULL;
		}
	}
	return n;
}

void mt_counters__free(struct mt_counters *c)
{
	if (!c)
		return;
	free(c->vcpus);
	free(c->procs);
	memset(c, 0, sizeof(*c));
}
