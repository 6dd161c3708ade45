// SPDX-License-Identifier: GPL-2.0-only
/* QMP migration events: phases, passes, STOP/RESUME, malformed input, the ring. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "qmp_events.h"

static int add(struct qmp_events *e, const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	int err = o ? qmp_events__add(e, o) : -99;

	json_object_put(o);
	return err;
}

#define TS(s, us) "\"timestamp\": {\"seconds\": " #s ", \"microseconds\": " #us "}"

static void test_migration_story(void **state)
{
	struct qmp_events e;

	qmp_events__init(&e);
	assert_int_equal(e.pass, -1);
	assert_int_equal(
		add(&e, "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"setup\"}, " TS(100,
											    5) "}"),
		0);
	assert_int_equal(add(&e, "{\"event\": \"MIGRATION_PASS\", \"data\": {\"pass\": 1}, " TS(
					 100, 10) "}"),
			 0);
	assert_int_equal(
		add(&e, "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"active\"}, " TS(
				100, 20) "}"),
		0);
	assert_int_equal(add(&e, "{\"event\": \"MIGRATION_PASS\", \"data\": {\"pass\": 2}, " TS(
					 101, 999999) "}"),
			 0);
	assert_int_equal(add(&e, "{\"event\": \"STOP\", " TS(102, 0) "}"), 0);
	assert_int_equal(
		add(&e, "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"active\"}, " TS(
				102, 7) "}"),
		0); /* again: the newest entry counts */
	assert_int_equal(add(&e, "{\"event\": \"MIGRATION\", \"data\": {\"status\": "
				 "\"completed\"}, " TS(102, 9) "}"),
			 0);
	assert_int_equal(e.pass, 2);
	assert_int_equal(e.pass_ts_us, 101999999ULL);
	assert_int_equal(e.stop_ts_us, 102000000ULL);
	assert_int_equal(e.resume_ts_us, 0);
	assert_int_equal(e.nphase, 3);
	assert_string_equal(e.phase[1].status, "active");
	assert_int_equal(e.phase[1].ts_us, 102000007ULL);
	assert_int_equal(e.total, 7);
	assert_string_equal(qmp_events__nth(&e, 0)->status, "completed");
	assert_string_equal(qmp_events__nth(&e, 6)->status, "setup");
	assert_null(qmp_events__nth(&e, 7));
}

static void test_malformed(void **state)
{
	static const char *const bad[] = { "{\"return\": {}}", "{\"event\": 5}", "{}" };
	static const char *const odd[] = {
		"{\"event\": \"MIGRATION\"}",				 /* no data, no timestamp */
		"{\"event\": \"MIGRATION\", \"data\": {\"status\": 3}}", /* status not a string */
		"{\"event\": \"MIGRATION_PASS\", \"data\": {\"pass\": \"x\"}, " TS(-1, 5) "}",
		"{\"event\": \"STOP\", \"timestamp\": \"now\"}",
	};
	struct qmp_events e;

	qmp_events__init(&e);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(add(&e, bad[i]), -22);
	/* Well-formed enough to keep, but nothing wrong is believed. */
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		assert_int_equal(add(&e, odd[i]), 0);
	assert_int_equal(e.nphase, 0);
	assert_int_equal(e.pass, -1);
	assert_int_equal(e.stop_ts_us, 0); /* no valid timestamp */
	assert_int_equal(e.total, 4);
}

static void test_ring_and_phase_bounds(void **state)
{
	struct qmp_events e;
	char buf[160];

	qmp_events__init(&e);
	for (int i = 0; i < QMP_EVENT_RING + 10; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"s%d\"}, "
			 "\"timestamp\": {\"seconds\": %d, \"microseconds\": 0}}",
			 i, i + 1);
		assert_int_equal(add(&e, buf), 0);
	}
	assert_int_equal(e.n, QMP_EVENT_RING);
	assert_int_equal(e.nphase, QMP_PHASES); /* more statuses than QEMU has: bounded */
	snprintf(buf, sizeof(buf), "s%d", QMP_EVENT_RING + 9);
	assert_string_equal(qmp_events__nth(&e, 0)->status, buf);
	assert_string_equal(qmp_events__nth(&e, QMP_EVENT_RING - 1)->status, "s10");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migration_story),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ring_and_phase_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
