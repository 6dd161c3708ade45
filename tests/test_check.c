// SPDX-License-Identifier: GPL-2.0-only
/* `migtrace check`'s pure logic: CapEff parsing, the privilege rule, the verdict. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "check.h"

#define BIT(n) (1ULL << (n))

static void test_parse_capeff(void **state)
{
	static const struct {
		const char *in;
		int err;
		uint64_t caps;
	} cases[] = {
		{ "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\nCapBnd:\t0\n", 0,
		  0x1ffffffffffULL },
		{ "CapEff:\t0000000000000000\n", 0, 0 },
		{ "Umask:\t0022\nCapEff:  000000c000000000", 0, BIT(38) | BIT(39) },
		{ "CapPrm:\t000001ffffffffff\n", -ENOENT, 0 },
		{ "", -ENOENT, 0 },
		{ "XCapEff:\t1\n", -ENOENT, 0 },
		{ "CapEff:\t\n", -EINVAL, 0 },
		{ "CapEff:\tzz\n", -EINVAL, 0 },
		{ "CapEff:\t12g4\n", -EINVAL, 0 },
		{ "CapEff:\t1ffffffffffffffffff\n", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t caps = 0;

		assert_int_equal(mt_check_parse_capeff(cases[i].in, &caps), cases[i].err);
		if (!cases[i].err)
			assert_true(caps == cases[i].caps);
	}
}

static void test_privileges(void **state)
{
	static const struct {
		unsigned int euid;
		uint64_t caps;
		enum mt_check_status want;
		const char *says;
	} cases[] = {
		{ 0, 0x1ffffffffffULL, MT_CHECK_OK, "root" },
		{ 1000, BIT(38) | BIT(39), MT_CHECK_OK, "CAP_BPF and CAP_PERFMON" },
		{ 1000, BIT(21), MT_CHECK_OK, "CAP_SYS_ADMIN" }, /* bpf_capable() accepts it */
		{ 1000, BIT(39), MT_CHECK_FAIL, "without CAP_PERFMON" },
		{ 1000, BIT(38), MT_CHECK_FAIL, "without CAP_BPF:" },
		{ 65534, 0, MT_CHECK_FAIL, "run migtrace as root" },
		{ 0, 0, MT_CHECK_FAIL, "user namespace" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char detail[256];

		assert_int_equal(
			mt_check_privileges(cases[i].euid, cases[i].caps, detail, sizeof(detail)),
			cases[i].want);
		assert_non_null(strstr(detail, cases[i].says));
	}
}

static struct mt_check_item item(enum mt_check_role role, enum mt_check_status st,
				 const char *detail)
{
	struct mt_check_item it = { .role = role, .status = st };

	snprintf(it.detail, sizeof(it.detail), "%s", detail);
	return it;
}

static void test_verdict(void **state)
{
	struct mt_check_item it[5];
	char msg[512];

	it[0] = item(MT_ROLE_INFO, MT_CHECK_FAIL, "an informational failure does not matter");
	it[1] = item(MT_ROLE_DIRTY_SOURCE, MT_CHECK_WARN, "missing");
	it[2] = item(MT_ROLE_DIRTY_SOURCE, MT_CHECK_OK, "raw_tp");
	it[3] = item(MT_ROLE_BPF_LOAD, MT_CHECK_OK, "loads");
	it[4] = item(MT_ROLE_INFO, MT_CHECK_WARN, "qemu missing");
	assert_int_equal(mt_check_verdict(it, 5, msg, sizeof(msg)), 1);
	assert_non_null(strstr(msg, "1 of 2 dirty-logging tracepoints"));

	/* BPF refused: its advice becomes the verdict. */
	it[3] = item(MT_ROLE_BPF_LOAD, MT_CHECK_FAIL, "BPF programs do not load: run as root");
	assert_int_equal(mt_check_verdict(it, 5, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "cannot trace here: BPF programs do not load: run as root"));

	/* No dirty source attaches. */
	it[3] = item(MT_ROLE_BPF_LOAD, MT_CHECK_OK, "loads");
	it[2] = item(MT_ROLE_DIRTY_SOURCE, MT_CHECK_FAIL, "missing");
	assert_int_equal(mt_check_verdict(it, 5, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "none of the 2 dirty-logging tracepoints"));

	/* Nothing checked at all is not a success. */
	assert_int_equal(mt_check_verdict(it, 0, msg, sizeof(msg)), 0);
	/* A tiny buffer truncates, never overflows. */
	it[2] = item(MT_ROLE_DIRTY_SOURCE, MT_CHECK_OK, "raw_tp");
	assert_int_equal(mt_check_verdict(it, 5, msg, 8), 1);
	assert_int_equal(strlen(msg), 7);
}

static void test_tp_detail(void **state)
{
	struct mt_attach_plan plan;
	char buf[512];

	memset(&plan, 0, sizeof(plan));
	for (int i = 0; i < MT_TP_MAX; i++)
		plan.mode[i] = MT_ATTACH_RAW_TP;
	mt_check_tp_detail(&plan, MT_TP_DIRTY_RING_PUSH, buf, sizeof(buf));
	assert_string_equal(buf, "raw_tp");
	plan.mode[MT_TP_PML_FULL] = MT_ATTACH_TP;
	mt_check_tp_detail(&plan, MT_TP_PML_FULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "tracepoint (classic"));

	/* No ring: the write faults take over, and the line says so. */
	plan.mode[MT_TP_DIRTY_RING_PUSH] = MT_ATTACH_NONE;
	snprintf(plan.reason[MT_TP_DIRTY_RING_PUSH], sizeof(plan.reason[0]), "not in BTF");
	mt_check_tp_detail(&plan, MT_TP_DIRTY_RING_PUSH, buf, sizeof(buf));
	assert_string_equal(buf,
			    "missing: not in BTF; using kvm:kvm_page_fault write faults instead");
	plan.mode[MT_TP_PAGE_FAULT] = MT_ATTACH_NONE;
	mt_check_tp_detail(&plan, MT_TP_DIRTY_RING_PUSH, buf, sizeof(buf));
	assert_string_equal(buf, "missing: not in BTF; using kvmmmu:fast_page_fault instead");
	plan.mode[MT_TP_FAST_PAGE_FAULT] = MT_ATTACH_NONE;
	plan.mode[MT_TP_PML_FULL] = MT_ATTACH_NONE;
	mt_check_tp_detail(&plan, MT_TP_DIRTY_RING_PUSH, buf, sizeof(buf));
	assert_string_equal(buf, "missing: not in BTF");
	/* Other tracepoints only give their reason (or a default). */
	mt_check_tp_detail(&plan, MT_TP_PAGE_FAULT, buf, sizeof(buf));
	assert_string_equal(buf, "missing: not attachable");

	assert_true(mt_check_is_dirty_source(MT_TP_DIRTY_RING_PUSH));
	assert_true(mt_check_is_dirty_source(MT_TP_PML_FULL));
	assert_false(mt_check_is_dirty_source(MT_TP_DIRTY_RING_RESET));
}

static void test_status_names(void **state)
{
	assert_string_equal(mt_check_status_name(MT_CHECK_OK), "ok");
	assert_string_equal(mt_check_status_name(MT_CHECK_WARN), "warn");
	assert_string_equal(mt_check_status_name(MT_CHECK_FAIL), "fail");
	assert_string_equal(mt_check_status_name(MT_CHECK_STATUS_MAX), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_capeff), cmocka_unit_test(test_privileges),
		cmocka_unit_test(test_verdict),	     cmocka_unit_test(test_tp_detail),
		cmocka_unit_test(test_status_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
