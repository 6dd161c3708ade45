// SPDX-License-Identifier: GPL-2.0-only
/*
 * The BPF programs themselves, run by the kernel with BPF_PROG_TEST_RUN on
 * synthetic raw-tracepoint arguments, read back through the tracer. The
 * calling thread is the "vCPU thread": its counters land in its own row.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tracer_int.h"
#include "testutil.h"

static struct mt_tracer *tracer(void **state)
{
	return *state;
}

static int setup(void **state)
{
	struct mt_tracer_options o = { .no_attach = 1 };
	const char *msg;

	*state = NULL;
	if (geteuid() != 0)
		return mt_test_require("root for BPF_PROG_TEST_RUN") ? -1 : 0;
	*state = mt_tracer__new(&o, &msg);
	if (!*state)
		fprintf(stderr, "tracer: %s\n", msg ? msg : "?");
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	mt_tracer__free(*state);
	return 0;
}

static void run(struct bpf_program *prog, const uint64_t *args, size_t nargs, int times)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = nargs * 8);

	for (int i = 0; i < times; i++) {
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(prog), &opts), 0);
		assert_int_equal(opts.retval, 0);
	}
}

/* The row of thread tid, summed over CPUs; zeroes if there is none. */
static struct mt_vcpu_row row_of(struct mt_tracer *t, uint32_t tid)
{
	struct mt_counters c = { 0 };
	struct mt_vcpu_row r = { 0 };

	assert_int_equal(mt_tracer__read(t, &c), 0);
	for (int i = 0; i < c.nvcpus; i++)
		if (c.vcpus[i].tid == tid)
			r = c.vcpus[i];
	mt_counters__free(&c);
	return r;
}

static void test_faults_by_access(void **state)
{
	struct mt_tracer *t = tracer(state);
	/* kvm_page_fault(vcpu, fault_address, error_code): a NULL vcpu reads as id 0 */
	uint64_t wr[3] = { 0, 0x1000, 0x2 }, rd[3] = { 0, 0x2000, 0x4 };
	struct mt_vcpu_row r;

	if (!t)
		skip();
	run(t->skel->progs.raw_page_fault, wr, 3, 7);
	run(t->skel->progs.raw_page_fault, rd, 3, 3);
	r = row_of(t, gettid());
	assert_int_equal(r.s.faults_write, 7);
	assert_int_equal(r.s.faults_read, 3);
	assert_int_equal(r.key.tgid, getpid());
	assert_int_equal(r.key.vcpu, 0);
}

struct vcpu_thread {
	struct mt_tracer *t;
	uint64_t vcpu;
	int pml, pushes;
	uint32_t tid;
};

/* A vCPU thread: its first event names its vCPU id (kvm_pml_full passes it as a scalar). */
static void *vcpu_main(void *arg)
{
	struct vcpu_thread *v = arg;
	uint64_t pml[1] = { v->vcpu }, push[3] = { 0, 1, 0x1000 };

	v->tid = gettid();
	run(v->t->skel->progs.raw_pml_full, pml, 1, v->pml);
	run(v->t->skel->progs.raw_dirty_ring_push, push, 3, v->pushes);
	return NULL;
}

static void test_rows_per_vcpu_thread(void **state)
{
	struct mt_tracer *t = tracer(state);
	struct vcpu_thread v[3] = { { t, 5, 4, 1000 }, { t, 9, 2, 10 }, { t, 63, 1, 0 } };
	pthread_t th[3];

	if (!t)
		skip();
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, vcpu_main, &v[i]), 0);
		pthread_join(th[i], NULL); /* one at a time: tids stay distinct */
	}
	for (int i = 0; i < 3; i++) {
		struct mt_vcpu_row r = row_of(t, v[i].tid);

		assert_int_equal(r.key.vcpu, v[i].vcpu);
		assert_int_equal(r.s.pml_full, v[i].pml);
		assert_int_equal(r.s.dirty_pushes, v[i].pushes);
	}
}

static void test_fast_page_fault_results(void **state)
{
	struct mt_tracer *t = tracer(state);
	/* (vcpu, fault, sptep, old_spte, ret): RET_PF_* values come from kernel BTF */
	uint64_t fixed[5] = { 0, 0, 0, 0, t ? t->skel->rodata->ret_pf_fixed : 0 };
	uint64_t spurious[5] = { 0, 0, 0, 0, t ? t->skel->rodata->ret_pf_spurious : 0 };
	uint64_t other[5] = { 0, 0, 0, 0, 1 };
	struct mt_vcpu_row before, after;

	if (!t)
		skip();
	before = row_of(t, gettid());
	run(t->skel->progs.raw_fast_page_fault, fixed, 5, 11);
	run(t->skel->progs.raw_fast_page_fault, spurious, 5, 13);
	run(t->skel->progs.raw_fast_page_fault, other, 5, 17);
	after = row_of(t, gettid());
	assert_int_equal(after.s.fast_pf_fixed - before.s.fast_pf_fixed, 11);
	assert_int_equal(after.s.fast_pf_spurious - before.s.fast_pf_spurious, 13);
}

static void test_ring_reset_per_process(void **state)
{
	struct mt_tracer *t = tracer(state);
	uint64_t args[1] = { 0 };
	struct mt_counters c = { 0 };
	uint64_t resets = 0, last = 0;

	if (!t)
		skip();
	run(t->skel->progs.raw_dirty_ring_reset, args, 1, 3);
	assert_int_equal(mt_tracer__read(t, &c), 0);
	for (int i = 0; i < c.nprocs; i++) {
		if (c.procs[i].tgid == (uint32_t)getpid()) {
			resets = c.procs[i].s.harvests[MT_HARVEST_RING_RESET];
			last = c.procs[i].s.last_reset_ns;
		}
	}
	mt_counters__free(&c);
	assert_int_equal(resets, 3);
	assert_true(last > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_faults_by_access),
		cmocka_unit_test(test_rows_per_vcpu_thread),
		cmocka_unit_test(test_fast_page_fault_results),
		cmocka_unit_test(test_ring_reset_per_process),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
