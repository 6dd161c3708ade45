// SPDX-License-Identifier: GPL-2.0-only
/*
 * The BPF programs themselves, run by the kernel with BPF_PROG_TEST_RUN on
 * synthetic raw-tracepoint arguments. The calling thread is the "vCPU
 * thread", so counters land under this process's tgid.
 */
#include <errno.h>
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
#include "migtrace.h"
#include "migtrace.skel.h"
#include "testutil.h"

struct fixture {
	struct migtrace_bpf *skel;
	int ncpus;
};

static int setup(void **state)
{
	static struct fixture f;
	struct bpf_program *prog;

	if (geteuid() != 0) {
		if (mt_test_require("root for BPF_PROG_TEST_RUN"))
			return -1;
		*state = NULL;
		return 0;
	}
	f.skel = migtrace_bpf__open();
	assert_non_null(f.skel);
	/* Only the raw_tp programs: test runs need no attach point. */
	bpf_object__for_each_program(prog, f.skel->obj) bpf_program__set_autoload(
		prog, !strncmp(bpf_program__section_name(prog), "raw_tp/", 7));
	f.skel->rodata->ret_pf_fixed = 5;
	f.skel->rodata->ret_pf_spurious = 6;
	assert_int_equal(migtrace_bpf__load(f.skel), 0);
	f.ncpus = libbpf_num_possible_cpus();
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f)
		migtrace_bpf__destroy(f->skel);
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

/* Sum of the per-CPU copies of this process's row for vCPU id vcpu. */
static struct mt_vcpu_stats read_row(struct fixture *f, uint32_t vcpu)
{
	struct mt_vcpu_key key = { .tgid = getpid(), .vcpu = vcpu };
	struct mt_vcpu_stats *pc = calloc(f->ncpus, sizeof(*pc));
	struct mt_vcpu_stats sum = { 0 };

	assert_non_null(pc);
	if (!bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.vcpu_stats), &key, pc)) {
		for (int c = 0; c < f->ncpus; c++) {
			sum.dirty_pushes += pc[c].dirty_pushes;
			sum.faults_write += pc[c].faults_write;
			sum.faults_read += pc[c].faults_read;
			sum.fast_pf_fixed += pc[c].fast_pf_fixed;
			sum.fast_pf_spurious += pc[c].fast_pf_spurious;
			sum.pml_full += pc[c].pml_full;
			if (pc[c].tid)
				sum.tid = pc[c].tid;
		}
	}
	free(pc);
	return sum;
}

static void test_faults_by_access(void **state)
{
	struct fixture *f = *state;
	/* kvm_page_fault(vcpu, fault_address, error_code): a NULL vcpu reads as id 0 */
	uint64_t wr[3] = { 0, 0x1000, 0x2 }, rd[3] = { 0, 0x2000, 0x4 };
	struct mt_vcpu_stats s;

	if (!f)
		skip();
	run(f->skel->progs.raw_page_fault, wr, 3, 7);
	run(f->skel->progs.raw_page_fault, rd, 3, 3);
	s = read_row(f, 0);
	assert_int_equal(s.faults_write, 7);
	assert_int_equal(s.faults_read, 3);
	assert_int_equal(s.tid, (uint32_t)gettid());
}

static void test_pml_and_push_by_vcpu(void **state)
{
	struct fixture *f = *state;
	uint64_t pml5[1] = { 5 }, pml9[1] = { 9 }, push[3] = { 0, 1, 0x1000 };

	if (!f)
		skip();
	run(f->skel->progs.raw_pml_full, pml5, 1, 4);
	run(f->skel->progs.raw_pml_full, pml9, 1, 2);
	run(f->skel->progs.raw_dirty_ring_push, push, 3, 1000);
	assert_int_equal(read_row(f, 5).pml_full, 4);
	assert_int_equal(read_row(f, 9).pml_full, 2);
	/* ring pointer NULL: the CO-RE read of ring->index yields vCPU 0 */
	assert_int_equal(read_row(f, 0).dirty_pushes, 1000);
}

static void test_fast_page_fault_results(void **state)
{
	struct fixture *f = *state;
	/* (vcpu, fault, sptep, old_spte, ret) */
	uint64_t fixed[5] = { 0, 0, 0, 0, 5 }, spurious[5] = { 0, 0, 0, 0, 6 };
	uint64_t other[5] = { 0, 0, 0, 0, 1 };
	struct mt_vcpu_stats before, after;

	if (!f)
		skip();
	before = read_row(f, 0);
	run(f->skel->progs.raw_fast_page_fault, fixed, 5, 11);
	run(f->skel->progs.raw_fast_page_fault, spurious, 5, 13);
	run(f->skel->progs.raw_fast_page_fault, other, 5, 17);
	after = read_row(f, 0);
	assert_int_equal(after.fast_pf_fixed - before.fast_pf_fixed, 11);
	assert_int_equal(after.fast_pf_spurious - before.fast_pf_spurious, 13);
}

static void test_ring_reset_per_process(void **state)
{
	struct fixture *f = *state;
	uint64_t args[1] = { 0 };
	struct mt_proc_stats *pc;
	uint32_t tgid = getpid();
	uint64_t resets = 0, last = 0;

	if (!f)
		skip();
	run(f->skel->progs.raw_dirty_ring_reset, args, 1, 3);
	pc = calloc(f->ncpus, sizeof(*pc));
	assert_non_null(pc);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.proc_stats), &tgid, pc), 0);
	for (int c = 0; c < f->ncpus; c++) {
		resets += pc[c].ring_resets;
		if (pc[c].last_reset_ns > last)
			last = pc[c].last_reset_ns;
	}
	free(pc);
	assert_int_equal(resets, 3);
	assert_true(last > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_faults_by_access),
		cmocka_unit_test(test_pml_and_push_by_vcpu),
		cmocka_unit_test(test_fast_page_fault_results),
		cmocka_unit_test(test_ring_reset_per_process),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
