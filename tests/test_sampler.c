// SPDX-License-Identifier: GPL-2.0-only
/* The join (BPF rows <-> QMP snapshots by vCPU thread id) and rate arithmetic. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "sampler.h"

/* Fake /proc: threads 1001, 1002 belong to QEMU 1000; 2001 to QEMU 2000. */
static int fake_tgid(int tid)
{
	return tid >= 1000 ? tid / 1000 * 1000 : -1;
}

static void test_rate(void **state)
{
	static const struct {
		uint64_t prev, cur, prev_ns, cur_ns;
		double want;
	} cases[] = {
		{ 0, 100, 0, 1000000000ULL, 100 },		  /* 100 per second */
		{ 100, 150, 1000000000ULL, 1010000000ULL, 5000 }, /* 50 in 10 ms */
		{ 100, 100, 0, 1000000, 0 },			  /* idle */
		{ 500, 20, 0, 1000000000ULL, 20 },		  /* reset: counts from 0 */
		{ 0, 10, 5, 5, 0 },				  /* no time passed */
		{ 0, 10, 6, 5, 0 },				  /* clock went backwards */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_float_equal(
			mt_rate(cases[i].prev, cases[i].cur, cases[i].prev_ns, cases[i].cur_ns),
			cases[i].want, 1e-9);
}

static void set_row(struct mt_counters *c, int i, uint32_t tgid, uint32_t vcpu, uint32_t tid,
		    uint64_t pushes)
{
	memset(&c->vcpus[i], 0, sizeof(c->vcpus[i]));
	c->vcpus[i].key = (struct mt_vcpu_key){ tgid, vcpu };
	c->vcpus[i].tid = tid;
	c->vcpus[i].s.dirty_pushes = pushes;
	c->vcpus[i].s.faults_write = pushes / 2;
}

static void test_join(void **state)
{
	struct mt_vcpu_row rows[4];
	struct mt_proc_row procs[1] = { { .tgid = 1000,
					  .s = { .ring_resets = 7, .last_reset_ns = 42 } } };
	struct mt_counters c = {
		.vcpus = rows, .nvcpus = 4, .cap_vcpus = 4, .procs = procs, .nprocs = 1
	};
	struct mt_vcpu_info vcpus[2] = { { .cpu_index = 0, .thread_id = 1001 },
					 { .cpu_index = 1, .thread_id = 1002 } };
	struct qmp_snapshot snap = { .name = "web1", .vcpus = vcpus, .nvcpus = 2, .vcpus_ns = 1 };
	struct mt_vm_src src = { .qmp_path = "/run/web1.qmp", .snap = &snap, .up = 1 };
	struct mt_sampler *s = mt_sampler__new(fake_tgid);
	struct mt_view v = { 0 };

	/* First read: unsorted on purpose; no previous read, so no rate yet. */
	set_row(&c, 0, 2000, 0, 2001, 10);
	set_row(&c, 1, 1000, 1, 1002, 300);
	set_row(&c, 2, 1000, 0, 1001, 100);
	set_row(&c, 3, 1000, 2, 1003, 5); /* a thread QMP does not list */
	c.now_ns = 1000000000ULL;
	assert_int_equal(mt_sampler__step(s, &c, &src, 1, &v), 0);
	assert_int_equal(v.nvms, 2);
	assert_string_equal(v.vms[0].vm, "web1");
	assert_int_equal(v.vms[0].pid, 1000);
	assert_int_equal(v.vms[0].nvcpus, 3);
	assert_int_equal(v.vms[0].tot.dirty_pushes, 405);
	assert_int_equal(v.vms[0].ring_resets, 7);
	assert_float_equal(v.vms[0].rate_bps[MT_SRC_DIRTY_RING], 0, 0);
	/* cpu-index from the thread id; unknown thread keeps -1 */
	assert_int_equal(v.vcpus[v.vms[0].first_vcpu + 0].cpu_index, 0);
	assert_int_equal(v.vcpus[v.vms[0].first_vcpu + 1].cpu_index, 1);
	assert_int_equal(v.vcpus[v.vms[0].first_vcpu + 2].cpu_index, -1);
	/* A KVM process nobody named: labelled by pid, not dropped. */
	assert_string_equal(v.vms[1].vm, "2000");
	assert_int_equal(v.vms[1].src, -1);
	assert_int_equal(v.vms[1].tot.dirty_pushes, 10);

	/* 10 ms later: vCPU0 +50 pushes, vCPU1 +0, other VM +1. */
	set_row(&c, 0, 1000, 0, 1001, 150);
	set_row(&c, 1, 1000, 1, 1002, 300);
	set_row(&c, 2, 2000, 0, 2001, 11);
	set_row(&c, 3, 1000, 2, 1003, 5);
	c.now_ns = 1010000000ULL;
	assert_int_equal(mt_sampler__step(s, &c, &src, 1, &v), 0);
	assert_float_equal(v.vcpus[v.vms[0].first_vcpu].rate_bps[MT_SRC_DIRTY_RING],
			   50 * 100 * 4096.0, 1e-6);
	assert_float_equal(v.vcpus[v.vms[0].first_vcpu + 1].rate_bps[MT_SRC_DIRTY_RING], 0, 0);
	assert_float_equal(v.vms[0].rate_bps[MT_SRC_DIRTY_RING], 50 * 100 * 4096.0, 1e-6);
	assert_float_equal(v.vms[1].rate_bps[MT_SRC_DIRTY_RING], 100 * 4096.0, 1e-6);
	assert_int_equal(v.steps, 2);

	mt_view__free(&v);
	mt_sampler__free(s);
}

/* QMP not answered yet: the VM is still listed (by socket), without BPF rows. */
static void test_no_snapshot(void **state)
{
	struct mt_vm_src src = { .qmp_path = "/run/x.qmp", .snap = NULL, .reason = "down" };
	struct mt_sampler *s = mt_sampler__new(fake_tgid);
	struct mt_view v = { 0 };

	assert_int_equal(mt_sampler__step(s, NULL, &src, 1, &v), 0);
	assert_int_equal(v.nvms, 1);
	assert_string_equal(v.vms[0].vm, "/run/x.qmp");
	assert_int_equal(v.vms[0].seen_by_bpf, 0);
	mt_view__free(&v);
	mt_sampler__free(s);
}

/* A VM without a name is labelled by its QEMU pid; the page size follows QEMU's. */
static void test_unnamed_page_size(void **state)
{
	struct mt_vcpu_row rows[1];
	struct mt_counters c = { .vcpus = rows, .nvcpus = 1, .cap_vcpus = 1 };
	struct mt_vcpu_info vcpus[1] = { { .cpu_index = 0, .thread_id = 3001 } };
	struct qmp_snapshot snap = { .vcpus = vcpus, .nvcpus = 1, .vcpus_ns = 9 };
	struct mt_vm_src src = { .qmp_path = "/q", .snap = &snap, .up = 1 };
	struct mt_sampler *s = mt_sampler__new(fake_tgid);
	struct mt_view v = { 0 };

	snap.mig.ram_page_size = 65536;
	set_row(&c, 0, 3000, 0, 3001, 0);
	c.now_ns = 1000;
	assert_int_equal(mt_sampler__step(s, &c, &src, 1, &v), 0);
	set_row(&c, 0, 3000, 0, 3001, 2);
	c.now_ns = 1000 + 1000000000ULL;
	assert_int_equal(mt_sampler__step(s, &c, &src, 1, &v), 0);
	assert_string_equal(v.vms[0].vm, "3000");
	assert_float_equal(v.vms[0].rate_bps[MT_SRC_DIRTY_RING], 2 * 65536.0, 1e-6);
	mt_view__free(&v);
	mt_sampler__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_no_snapshot),
		cmocka_unit_test(test_unnamed_page_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
