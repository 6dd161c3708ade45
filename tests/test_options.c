// SPDX-License-Identifier: GPL-2.0-only
/* Option parsing of `migtrace serve`: defaults, values, and rejected input. */
#include <argp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "options.h"

static int parse(struct mt_options *o, ...)
{
	char *argv[32] = { "serve" };
	int argc = 1;
	va_list ap;
	char *a;

	va_start(ap, o);
	while ((a = va_arg(ap, char *)) && argc < 31)
		argv[argc++] = a;
	va_end(ap);
	return mt_options_parse(argc, argv, ARGP_NO_EXIT | ARGP_SILENT, o);
}

static void test_durations(void **state)
{
	static const struct {
		const char *in;
		int err;
		uint64_t ns;
	} cases[] = {
		{ "10ms", 0, 10000000ULL },
		{ "1s", 0, 1000000000ULL },
		{ "1.5s", 0, 1500000000ULL },
		{ "250us", 0, 250000ULL },
		{ "2m", 0, 120000000000ULL },
		{ "100", 0, 100000000ULL },
		{ "7ns", 0, 7 },
		{ "", -EINVAL, 0 },
		{ "ms", -EINVAL, 0 },
		{ "10 ms", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },
		{ "1h", -EINVAL, 0 },
		{ "nan", -EINVAL, 0 },
		{ "1e30s", -ERANGE, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 0;

		assert_int_equal(mt_parse_duration(cases[i].in, &ns), cases[i].err);
		if (!cases[i].err)
			assert_int_equal(ns, cases[i].ns);
	}
}

static void test_defaults(void **state)
{
	struct mt_options o;

	assert_int_equal(parse(&o, NULL), 0);
	assert_string_equal(o.socket_path, MT_DEFAULT_SOCKET);
	assert_int_equal(o.socket_mode, 0660);
	assert_int_equal(o.interval_ns, 100000000ULL);
	assert_int_equal(o.qmp_timeout_ns, 1000000000ULL);
	assert_int_equal(o.nqmp, 0);
	assert_int_equal(o.attach, MT_PREF_AUTO);
}

static void test_values(void **state)
{
	struct mt_options o;

	assert_int_equal(parse(&o, "--socket", "/tmp/x.sock", "--qmp", "a.qmp", "-q", "b.qmp",
			       "--interval", "10ms", "--qmp-timeout", "250ms", "--attach=classic",
			       "--socket-mode", "0600", "--duration", "5s", "-v", NULL),
			 0);
	assert_string_equal(o.socket_path, "/tmp/x.sock");
	assert_int_equal(o.nqmp, 2);
	assert_string_equal(o.qmp[1], "b.qmp");
	assert_int_equal(o.interval_ns, 10000000ULL);
	assert_int_equal(o.qmp_timeout_ns, 250000000ULL);
	assert_int_equal(o.attach, MT_PREF_CLASSIC);
	assert_int_equal(o.socket_mode, 0600);
	assert_int_equal(o.duration_ns, 5000000000ULL);
	assert_int_equal(o.verbose, 1);
}

static void test_rejected(void **state)
{
	static const char *const bad[][3] = {
		{ "--interval", "0" },	     { "--interval", "500us" }, { "--interval", "2m" },
		{ "--interval", "fast" },    { "--attach", "kprobe" },	{ "--socket-mode", "rw" },
		{ "--socket-mode", "99" },   { "--bogus", NULL },	{ "extra-arg", NULL },
		{ "--qmp-timeout", "-5ms" }, { "--socket", "" },
	};
	struct mt_options o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(&o, bad[i][0], bad[i][1], NULL), -EINVAL);
}

static void test_too_many_qmp(void **state)
{
	static char *argv[2 * MT_MAX_QMP + 3];
	struct mt_options o;
	int argc = 0;

	argv[argc++] = "serve";
	for (int i = 0; i <= MT_MAX_QMP; i++) {
		argv[argc++] = "--qmp";
		argv[argc++] = "x.qmp";
	}
	assert_int_equal(mt_options_parse(argc, argv, ARGP_NO_EXIT | ARGP_SILENT, &o), -EINVAL);
	assert_int_equal(o.nqmp, MT_MAX_QMP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),    cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),	     cmocka_unit_test(test_rejected),
		cmocka_unit_test(test_too_many_qmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
