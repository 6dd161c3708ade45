// SPDX-License-Identifier: GPL-2.0-only
/*
 * QMP: the framer and reply parsers on replies captured from QEMU 7.2, the
 * client against a fake QMP peer (a thread serving a temporary AF_UNIX socket,
 * recording every command it receives), and the client against a real QEMU.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-c/json.h>
#include "log.h"
#include "loop.h"
#include "qmp.h"
#include "testutil.h"

/* ---- replies captured from qemu-system-x86_64 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18) ---- */

static const char greeting_72[] =
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "
	"\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n";
/* migrate to exec:cat > /dev/null with max-bandwidth 200000, ~300 ms in */
static const char mig_active[] =
	"{\"expected-downtime\": 300, \"status\": \"active\", \"setup-time\": 1, "
	"\"total-time\": 307, \"ram\": {\"total\": 67641344, \"postcopy-requests\": 0, "
	"\"dirty-sync-count\": 1, \"multifd-bytes\": 0, \"pages-per-second\": 49, "
	"\"downtime-bytes\": 0, \"page-size\": 4096, \"remaining\": 66629632, "
	"\"postcopy-bytes\": 0, \"mbps\": 1.6267722772277224, \"transferred\": 84162, "
	"\"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": 84162, \"duplicate\": 227, "
	"\"dirty-pages-rate\": 0, \"skipped\": 0, \"normal-bytes\": 81920, \"normal\": 20}}";
/* the first sample of the same migration: QEMU prints "mbps": 0 as an integer */
static const char mig_active_first[] =
	"{\"expected-downtime\": 300, \"status\": \"active\", \"setup-time\": 1, "
	"\"total-time\": 5, \"ram\": {\"total\": 67641344, \"postcopy-requests\": 0, "
	"\"dirty-sync-count\": 1, \"multifd-bytes\": 0, \"pages-per-second\": 0, "
	"\"downtime-bytes\": 0, \"page-size\": 4096, \"remaining\": 66842624, "
	"\"postcopy-bytes\": 0, \"mbps\": 0, \"transferred\": 22245, "
	"\"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": 22245, \"duplicate\": 190, "
	"\"dirty-pages-rate\": 0, \"skipped\": 0, \"normal-bytes\": 20480, \"normal\": 5}}";
static const char mig_completed[] =
	"{\"status\": \"completed\", \"setup-time\": 1, \"downtime\": 2, \"total-time\": 1910, "
	"\"ram\": {\"total\": 67641344, \"postcopy-requests\": 0, \"dirty-sync-count\": 3, "
	"\"multifd-bytes\": 0, \"pages-per-second\": 11500, \"downtime-bytes\": 16423, "
	"\"page-size\": 4096, \"remaining\": 0, \"postcopy-bytes\": 0, "
	"\"mbps\": 3.0164651650078578, \"transferred\": 607553, "
	"\"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": 591130, \"duplicate\": 16406, "
	"\"dirty-pages-rate\": 0, \"skipped\": 0, \"normal-bytes\": 458752, \"normal\": 112}}";
static const char mig_failed[] =
	"{\"status\": \"failed\", \"error-desc\": \"Unable to write to command: Broken pipe\"}";
/*
 * tools/vmpair with --mem 64, a 4096-page guest, capability xbzrle, max-bandwidth 4M: the
 * third pass, where every page missed the cache (QEMU prints cache-miss-rate 1 as an integer)
 */
static const char mig_xbzrle_active[] =
	"{\"expected-downtime\": 3969, \"xbzrle-cache\": {\"encoding-rate\": 0, \"bytes\": 0, "
	"\"cache-size\": 67108864, \"cache-miss-rate\": 1, \"pages\": 0, \"overflow\": 0, "
	"\"cache-miss\": 4096}, \"status\": \"active\", \"setup-time\": 4, \"total-time\": 7992, "
	"\"ram\": {\"total\": 67444736, \"postcopy-requests\": 0, \"dirty-sync-count\": 3, "
	"\"multifd-bytes\": 0, \"pages-per-second\": 1030, \"downtime-bytes\": 0, "
	"\"page-size\": 4096, \"remaining\": 15937536, \"postcopy-bytes\": 0, "
	"\"mbps\": 33.818400000000004, \"transferred\": 33813937, "
	"\"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": 33813937, \"duplicate\": 12350, "
	"\"dirty-pages-rate\": 1022, \"skipped\": 0, \"normal-bytes\": 33636352, \"normal\": "
	"8212}}";
/* the same with the default 1024-page guest and 256K, completed: pages re-sent unchanged */
static const char mig_xbzrle_completed[] =
	"{\"xbzrle-cache\": {\"encoding-rate\": 0, \"bytes\": 8, \"cache-size\": 67108864, "
	"\"cache-miss-rate\": 0.98336594911937381, \"pages\": 2048, \"overflow\": 0, "
	"\"cache-miss\": 1025}, \"status\": \"completed\", \"setup-time\": 0, \"downtime\": 2, "
	"\"total-time\": 30063, \"ram\": {\"total\": 67444736, \"postcopy-requests\": 0, "
	"\"dirty-sync-count\": 6, \"multifd-bytes\": 0, \"pages-per-second\": 69, "
	"\"downtime-bytes\": 0, \"page-size\": 4096, \"remaining\": 0, \"postcopy-bytes\": 0, "
	"\"mbps\": 2.3277964275022454, \"transferred\": 8632497, "
	"\"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": 8632497, \"duplicate\": 15422, "
	"\"dirty-pages-rate\": 0, \"skipped\": 0, \"normal-bytes\": 8474624, \"normal\": 2069}}";
/* tools/vmpair migrating at 256K when the destination QEMU is killed */
static const char mig_failed_socket[] =
	"{\"status\": \"failed\", \"error-desc\": \"Unable to write to socket: Broken pipe\"}";
/* a QEMU started with -cpu qemu64,+invtsc, before any migration */
static const char mig_blocked[] =
	"{\"blocked-reasons\": [\"State blocked by non-migratable CPU device (invtsc flag)\"]}";
static const char cpus_72[] =
	"[{\"thread-id\": 5056, \"props\": {\"core-id\": 0, \"thread-id\": 0, \"socket-id\": 0}, "
	"\"qom-path\": \"/machine/unattached/device[0]\", \"cpu-index\": 0, "
	"\"target\": \"x86_64\"}]";
static const char status_running[] =
	"{\"status\": \"running\", \"singlestep\": false, \"running\": true}";
static const char status_prelaunch[] =
	"{\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false}";
static const char status_postmigrate[] =
	"{\"status\": \"postmigrate\", \"singlestep\": false, \"running\": false}";

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

/* ---- framer ---- */

/* A buffer whose end touches a PROT_NONE page: any read past the input faults. */
struct guarded {
	char *map, *end;
	size_t maplen;
};

static void guarded_init(struct guarded *g, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	g->maplen = ((len + page - 1) / page + 1) * page;
	g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	g->end = g->map + g->maplen - page;
	assert_int_equal(mprotect(g->end, page, PROT_NONE), 0);
}

/* Feed in pieces of step bytes (0: all at once); counts messages, returns the last status. */
static long feed_steps(const char *in, size_t len, size_t step, int *nmsg, char *key, size_t klen)
{
	struct qmp_framer *f = qmp_framer__new();
	struct guarded g;
	long r = 0;

	assert_non_null(f);
	guarded_init(&g, len ? len : 1);
	*nmsg = 0;
	for (size_t off = 0; off < len && r >= 0;) {
		size_t n = step && step < len - off ? step : len - off;
		char *p = memcpy(g.end - n, in + off, n);

		off += n;
		for (size_t pos = 0; pos < n;) {
			struct json_object *obj;

			r = qmp_framer__feed(f, p + pos, n - pos, &obj);
			if (r <= 0)
				break;
			assert_true((size_t)r <= n - pos);
			assert_non_null(obj);
			if (!(*nmsg)++ && key && json_object_object_length(obj)) {
				struct json_object_iterator it = json_object_iter_begin(obj);

				snprintf(key, klen, "%s", json_object_iter_peek_name(&it));
			}
			json_object_put(obj);
			pos += r;
		}
	}
	munmap(g.map, g.maplen);
	qmp_framer__free(f);
	return r < 0 ? r : 0;
}

static const struct framer_case {
	const char *name, *in;
	size_t len; /* 0: strlen(in) */
	int nmsg;   /* whole messages before the end (or the error) */
	long err;
	const char *key; /* first key of the first message */
} framer_cases[] = {
	{ "greeting", greeting_72, 0, 1, 0, "QMP" },
	{ "return crlf", "{\"return\": {}, \"id\": 1}\r\n", 0, 1, 0, "return" },
	{ "no terminator", "{\"return\": {}}", 0, 1, 0, "return" },
	{ "lf only", "{\"return\": {}}\n", 0, 1, 0, "return" },
	{ "blank lines first", "\r\n\r\n \t{\"return\": {}}\r\n", 0, 1, 0, "return" },
	{ "pretty multi-line", "{\r\n    \"return\": {\r\n    }\r\n}\r\n", 0, 1, 0, "return" },
	{ "three in one buffer",
	  "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n"
	  "{\"return\": {}, \"id\": 1}\r\n{\"return\": {\"name\": \"vm\"}, \"id\": 2}\r\n",
	  0, 3, 0, "timestamp" },
	{ "back to back", "{\"a\": 1}{\"b\": 2}", 0, 2, 0, "a" },
	{ "partial tail", "{\"a\": 1}\r\n{\"b\": [1, 2", 0, 1, 0, "a" },
	{ "whitespace only", "\r\n \t\r\n", 0, 0, 0, NULL },
	{ "not json", "hello\r\n", 0, 0, -EBADMSG, NULL },
	{ "hmp banner", "QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ", 0, 0,
	  -EBADMSG, NULL },
	{ "missing value", "{\"a\":}\r\n", 0, 0, -EBADMSG, NULL },
	{ "array", "[1, 2]\r\n", 0, 0, -EBADMSG, NULL },
	{ "number", "123\r\n", 0, 0, -EBADMSG, NULL },
	{ "string", "\"str\"\r\n", 0, 0, -EBADMSG, NULL },
	{ "bare key", "{a: 1}\r\n", 0, 0, -EBADMSG, NULL },
	{ "bad literal", "{\"a\": tru}\r\n", 0, 0, -EBADMSG, NULL },
	{ "closing brace", "}\r\n", 0, 0, -EBADMSG, NULL },
	{ "invalid utf-8", "{\"a\": \"\xff\xfe\"}\r\n", 0, 0, -EBADMSG, NULL },
	{ "nul byte", "{\"a\0\": 1}\r\n", 11, 0, -EBADMSG, NULL },
	{ "garbage after message", "{\"a\": 1}x\r\n", 0, 1, -EBADMSG, "a" },
	{ "too deep", /* json-c's default depth limit is 32 */
	  "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	  "}",
	  0, 0, -EBADMSG, NULL },
};

static void test_framer_table(void **state)
{
	static const size_t steps[] = { 0, 1, 2, 3, 7 };

	for (size_t i = 0; i < sizeof(framer_cases) / sizeof(framer_cases[0]); i++) {
		const struct framer_case *tc = &framer_cases[i];
		size_t len = tc->len ? tc->len : strlen(tc->in);

		for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			char key[32] = "";
			int nmsg;
			long r = feed_steps(tc->in, len, steps[s], &nmsg, key, sizeof(key));

			if (r != tc->err || nmsg != tc->nmsg)
				fail_msg("%s (step %zu): %ld after %d messages, want %ld after %d",
					 tc->name, steps[s], r, nmsg, tc->err, tc->nmsg);
			if (tc->key)
				assert_string_equal(key, tc->key);
		}
	}
}

/* {"a":"xxx...x"} of exactly len bytes */
static char *big_message(size_t len)
{
	char *s = malloc(len + 1);

	assert_non_null(s);
	memset(s, 'x', len);
	memcpy(s, "{\"a\":\"", 6);
	memcpy(s + len - 2, "\"}", 3);
	return s;
}

static void test_framer_size_limit(void **state)
{
	static const size_t steps[] = { 0, 1, 4096 };
	char *fits = big_message(QMP_MAX_MSG), *over = big_message(QMP_MAX_MSG + 1);
	int nmsg;

	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		assert_int_equal(feed_steps(fits, QMP_MAX_MSG, steps[s], &nmsg, NULL, 0), 0);
		assert_int_equal(nmsg, 1);
		assert_int_equal(feed_steps(over, QMP_MAX_MSG + 1, steps[s], &nmsg, NULL, 0),
				 -EMSGSIZE);
		assert_int_equal(nmsg, 0);
	}
	free(fits);
	free(over);
}

/* An endless string never completes: the framer gives up at the limit, not at OOM. */
static void test_framer_endless(void **state)
{
	struct qmp_framer *f = qmp_framer__new();
	struct json_object *obj;
	char chunk[4096];
	size_t fed = 6;
	long r;

	memset(chunk, 'y', sizeof(chunk));
	assert_int_equal(qmp_framer__feed(f, "{\"a\":\"", 6, &obj), 0);
	while ((r = qmp_framer__feed(f, chunk, sizeof(chunk), &obj)) == 0)
		fed += sizeof(chunk);
	assert_int_equal(r, -EMSGSIZE);
	assert_true(fed <= QMP_MAX_MSG);
	assert_null(obj);
	/* Sticky until reset, then usable again. */
	assert_int_equal(qmp_framer__feed(f, "{}", 2, &obj), -EMSGSIZE);
	qmp_framer__reset(f);
	assert_int_equal(qmp_framer__feed(f, "{}\r\n", 4, &obj), 4);
	assert_non_null(obj);
	json_object_put(obj);
	qmp_framer__free(f);
	qmp_framer__free(NULL);
}

/* ---- query-migrate ---- */

#define H(bit) (1ULL << (bit))
/* ram members with a bit of their own (issue #4 part 6) */
#define H_RAM                                                                                      \
	(H(MIG_RAM) | H(MIG_RAM_POSTCOPY_REQUESTS) | H(MIG_RAM_MULTIFD_BYTES) |                    \
	 H(MIG_RAM_POSTCOPY_BYTES))

static const struct mig_case {
	const char *name, *json;
	const char *status;
	uint64_t have, total_time, expected_downtime, downtime, setup_time;
	uint64_t ram_total, ram_transferred, ram_remaining, dirty_sync, page_size;
	uint64_t precopy, downtime_b;
	double mbps, pps;
} mig_cases[] = {
	{ .name = "no migration yet", .json = "{}", .status = "none" },
	{ .name = "setup", .json = "{\"status\": \"setup\"}", .status = "setup" },
	{ "active", mig_active, "active",
	  H(MIG_TOTAL_TIME) | H(MIG_EXPECTED_DOWNTIME) | H(MIG_SETUP_TIME) | H_RAM, 307, 300, 0, 1,
	  67641344, 84162, 66629632, 1, 4096, 84162, 0, 1.6267722772277224, 49 },
	{ "active, integral mbps", mig_active_first, "active",
	  H(MIG_TOTAL_TIME) | H(MIG_EXPECTED_DOWNTIME) | H(MIG_SETUP_TIME) | H_RAM, 5, 300, 0, 1,
	  67641344, 22245, 66842624, 1, 4096, 22245, 0, 0, 0 },
	{ "completed", mig_completed, "completed",
	  H(MIG_TOTAL_TIME) | H(MIG_DOWNTIME) | H(MIG_SETUP_TIME) | H_RAM, 1910, 0, 2, 1, 67641344,
	  607553, 0, 3, 4096, 591130, 16423, 3.0164651650078578, 11500 },
	{ .name = "failed", .json = mig_failed, .status = "failed", .have = H(MIG_ERROR_DESC) },
	{ .name = "cancelled", .json = "{\"status\": \"cancelled\"}", .status = "cancelled" },
	{ .name = "ram with one field",
	  .status = "active",
	  .have = H(MIG_RAM),
	  .ram_transferred = 7,
	  .json = "{\"status\": \"active\", \"ram\": {\"transferred\": 7}}" },
	{ .name = "unknown fields",
	  .status = "active",
	  .have = H(MIG_TOTAL_TIME) | H(MIG_RAM),
	  .total_time = 9,
	  .json = "{\"status\": \"active\", \"future\": {\"x\": [1]}, \"ram\": {\"new\": \"y\"}, "
		  "\"total-time\": 9}" },
	{ .name = "uint64 max",
	  .json = "{\"ram\": {\"total\": 18446744073709551615}}",
	  .status = "none",
	  .have = H(MIG_RAM),
	  .ram_total = UINT64_MAX },
};

static void test_parse_migrate(void **state)
{
	for (size_t i = 0; i < sizeof(mig_cases) / sizeof(mig_cases[0]); i++) {
		const struct mig_case *tc = &mig_cases[i];
		struct json_object *o = parse(tc->json);
		struct mt_migrate_info m;

		memset(&m, 0xa5, sizeof(m));
		if (qmp_parse_migrate(o, &m))
			fail_msg("%s: parse failed", tc->name);
		assert_string_equal(m.status, tc->status);
		assert_int_equal(m.have, tc->have);
		assert_int_equal(m.total_time_ms, tc->total_time);
		assert_int_equal(m.expected_downtime_ms, tc->expected_downtime);
		assert_int_equal(m.downtime_ms, tc->downtime);
		assert_int_equal(m.setup_time_ms, tc->setup_time);
		assert_true(m.ram_total == tc->ram_total);
		assert_int_equal(m.ram_transferred, tc->ram_transferred);
		assert_int_equal(m.ram_remaining, tc->ram_remaining);
		assert_int_equal(m.ram_dirty_sync_count, tc->dirty_sync);
		assert_int_equal(m.ram_page_size, tc->page_size);
		assert_int_equal(m.ram_precopy_bytes, tc->precopy);
		assert_int_equal(m.ram_downtime_bytes, tc->downtime_b);
		assert_true(m.ram_mbps == tc->mbps && m.ram_pages_per_second == tc->pps);
		assert_int_equal(m.cpu_throttle_percentage, 0);
		json_object_put(o);
	}
}

static void test_parse_migrate_all_ram_fields(void **state)
{
	struct json_object *o = parse(
		"{\"cpu-throttle-percentage\": 20, \"ram\": {\"transferred\": 1, \"remaining\": 2, "
		"\"total\": 3, \"duplicate\": 4, \"normal\": 5, \"normal-bytes\": 6, "
		"\"dirty-sync-count\": 7, \"page-size\": 8, \"postcopy-requests\": 9, "
		"\"multifd-bytes\": 10, \"precopy-bytes\": 11, \"downtime-bytes\": 12, "
		"\"postcopy-bytes\": 13, \"dirty-pages-rate\": 14, \"mbps\": 15.5, "
		"\"pages-per-second\": 16}}");
	static const uint64_t want[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };
	struct mt_migrate_info m;

	assert_int_equal(qmp_parse_migrate(o, &m), 0);
	const uint64_t got[] = {
		m.ram_transferred,	m.ram_remaining,     m.ram_total,
		m.ram_duplicate,	m.ram_normal,	     m.ram_normal_bytes,
		m.ram_dirty_sync_count, m.ram_page_size,     m.ram_postcopy_requests,
		m.ram_multifd_bytes,	m.ram_precopy_bytes, m.ram_downtime_bytes,
		m.ram_postcopy_bytes
	};

	assert_memory_equal(got, want, sizeof(want));
	assert_true(m.ram_dirty_pages_rate == 14 && m.ram_mbps == 15.5 &&
		    m.ram_pages_per_second == 16);
	assert_int_equal(m.cpu_throttle_percentage, 20);
	assert_int_equal(m.have, H(MIG_CPU_THROTTLE) | H_RAM);
	json_object_put(o);
}

/* ---- query-migrate: the members of issue #4 part 6 ---- */

#define H_XBZRLE                                                                                   \
	(H(MIG_XBZRLE_CACHE_SIZE) | H(MIG_XBZRLE_BYTES) | H(MIG_XBZRLE_PAGES) |                    \
	 H(MIG_XBZRLE_CACHE_MISS) | H(MIG_XBZRLE_CACHE_MISS_RATE) | H(MIG_XBZRLE_ENCODING_RATE) |  \
	 H(MIG_XBZRLE_OVERFLOW))
#define H_COMPRESSION                                                                              \
	(H(MIG_COMPRESSION_PAGES) | H(MIG_COMPRESSION_BUSY) | H(MIG_COMPRESSION_BUSY_RATE) |       \
	 H(MIG_COMPRESSION_COMPRESSED_SIZE) | H(MIG_COMPRESSION_RATE))
#define A10  "aaaaaaaaaa"
#define A50  A10 A10 A10 A10 A10
#define A250 A50 A50 A50 A50 A50
#define X10  "xxxxxxxxxx"
#define X50  X10 X10 X10 X10 X10
#define X100 X50 X50

static const struct mig_ext_case {
	const char *name, *json, *status;
	struct mt_migrate_info want; /* have and the part 6 members; the rest is not compared */
} mig_ext_cases[] = {
	{ "xbzrle, third pass",
	  mig_xbzrle_active,
	  "active",
	  { .have = H(MIG_TOTAL_TIME) | H(MIG_EXPECTED_DOWNTIME) | H(MIG_SETUP_TIME) | H_RAM |
		    H_XBZRLE,
	    .xbzrle_cache_size = 67108864,
	    .xbzrle_cache_miss = 4096,
	    .xbzrle_cache_miss_rate = 1 } },
	{ "xbzrle, completed",
	  mig_xbzrle_completed,
	  "completed",
	  { .have = H(MIG_TOTAL_TIME) | H(MIG_DOWNTIME) | H(MIG_SETUP_TIME) | H_RAM | H_XBZRLE,
	    .xbzrle_cache_size = 67108864,
	    .xbzrle_bytes = 8,
	    .xbzrle_pages = 2048,
	    .xbzrle_cache_miss = 1025,
	    .xbzrle_cache_miss_rate = 0.98336594911937381 } },
	{ "xbzrle, the example in qapi/migration.json",
	  "{\"status\": \"active\", \"xbzrle-cache\": {\"cache-size\": 67108864, \"bytes\": "
	  "20971520, "
	  "\"pages\": 2444343, \"cache-miss\": 2244, \"cache-miss-rate\": 0.123, "
	  "\"encoding-rate\": 80.1, \"overflow\": 34434}}",
	  "active",
	  { .have = H_XBZRLE,
	    .xbzrle_cache_size = 67108864,
	    .xbzrle_bytes = 20971520,
	    .xbzrle_pages = 2444343,
	    .xbzrle_cache_miss = 2244,
	    .xbzrle_cache_miss_rate = 0.123,
	    .xbzrle_encoding_rate = 80.1,
	    .xbzrle_overflow = 34434 } },
	{ "failed, exec",
	  mig_failed,
	  "failed",
	  { .have = H(MIG_ERROR_DESC), .error_desc = "Unable to write to command: Broken pipe" } },
	{ "failed, socket",
	  mig_failed_socket,
	  "failed",
	  { .have = H(MIG_ERROR_DESC), .error_desc = "Unable to write to socket: Broken pipe" } },
	{ "blocked, never migrated",
	  mig_blocked,
	  "none",
	  { .have = H(MIG_BLOCKED_REASONS),
	    .blocked_reasons = 1,
	    .blocked_reason = "State blocked by non-migratable CPU device (invtsc flag)" } },
	{ "the rest, synthetic",
	  "{\"status\": \"postcopy-active\", \"ram\": {\"postcopy-requests\": 17, "
	  "\"multifd-bytes\": 4096, \"postcopy-bytes\": 65536}, \"compression\": {\"pages\": 10, "
	  "\"busy\": 2, \"busy-rate\": 0.25, \"compressed-size\": 8192, \"compression-rate\": 5}, "
	  "\"postcopy-blocktime\": 40, \"postcopy-vcpu-blocktime\": [3, 250, 7], "
	  "\"dirty-limit-throttle-time-per-round\": 1500, \"dirty-limit-ring-full-time\": 2000000, "
	  "\"vfio\": {\"transferred\": 123456789}, \"blocked-reasons\": [\"first\", \"second\"], "
	  "\"socket-address\": [{\"type\": \"inet\", \"host\": \"::\", \"port\": \"4444\"}], "
	  "\"error-desc\": \"postcopy paused\"}",
	  "postcopy-active",
	  { .have = H(MIG_RAM) | H(MIG_RAM_POSTCOPY_REQUESTS) | H(MIG_RAM_MULTIFD_BYTES) |
		    H(MIG_RAM_POSTCOPY_BYTES) | H_COMPRESSION | H(MIG_POSTCOPY_BLOCKTIME) |
		    H(MIG_POSTCOPY_VCPU_BLOCKTIME) | H(MIG_DIRTY_LIMIT_THROTTLE_TIME) |
		    H(MIG_DIRTY_LIMIT_RING_FULL_TIME) | H(MIG_VFIO_TRANSFERRED) |
		    H(MIG_BLOCKED_REASONS) | H(MIG_ERROR_DESC),
	    .ram_postcopy_requests = 17,
	    .ram_multifd_bytes = 4096,
	    .ram_postcopy_bytes = 65536,
	    .compression_pages = 10,
	    .compression_busy = 2,
	    .compression_busy_rate = 0.25,
	    .compression_compressed_size = 8192,
	    .compression_rate = 5,
	    .postcopy_blocktime_ms = 40,
	    .postcopy_vcpu_blocktime_max_ms = 250,
	    .dirty_limit_throttle_time_us = 1500,
	    .dirty_limit_ring_full_time_us = 2000000,
	    .vfio_transferred = 123456789,
	    .blocked_reasons = 2,
	    .blocked_reason = "first",
	    .error_desc = "postcopy paused" } },
	{ "empty lists",
	  "{\"blocked-reasons\": [], \"postcopy-vcpu-blocktime\": [], \"error-desc\": \"\"}",
	  "none",
	  { .have = H(MIG_BLOCKED_REASONS) | H(MIG_POSTCOPY_VCPU_BLOCKTIME) | H(MIG_ERROR_DESC) } },
	{ "objects without known members",
	  "{\"xbzrle-cache\": {}, \"compression\": {\"future\": [1]}, \"vfio\": {}, "
	  "\"disk\": {\"total\": 1}, \"socket-address\": 5, \"postcopy-latency\": 3}",
	  "none",
	  { .have = 0 } },
	{ "one member each",
	  "{\"xbzrle-cache\": {\"overflow\": 3}, \"compression\": {\"busy\": 4}, "
	  "\"dirty-limit-ring-full-time\": 0}",
	  "none",
	  { .have = H(MIG_XBZRLE_OVERFLOW) | H(MIG_COMPRESSION_BUSY) |
		    H(MIG_DIRTY_LIMIT_RING_FULL_TIME),
	    .xbzrle_overflow = 3,
	    .compression_busy = 4 } },
	{ "strings truncated, never inside a UTF-8 character",
	  "{\"blocked-reasons\": [\"" A250
	  "aaaa\\u00e9 and more\"], \"error-desc\": \"" X100 X100 X100 "\"}",
	  "none",
	  { .have = H(MIG_BLOCKED_REASONS) | H(MIG_ERROR_DESC),
	    .blocked_reasons = 1,
	    .blocked_reason = A250 "aaaa",
	    .error_desc = X100 X100 X50 "xxxxx" } },
};

/* The members of part 6, by type, for check_ext() */
#define MEMBER(f) #f, offsetof(struct mt_migrate_info, f)
struct member {
	const char *name;
	size_t off;
};

static const struct member ext_u64[] = {
	{ MEMBER(ram_postcopy_requests) },
	{ MEMBER(ram_multifd_bytes) },
	{ MEMBER(ram_postcopy_bytes) },
	{ MEMBER(xbzrle_cache_size) },
	{ MEMBER(xbzrle_bytes) },
	{ MEMBER(xbzrle_pages) },
	{ MEMBER(xbzrle_cache_miss) },
	{ MEMBER(xbzrle_overflow) },
	{ MEMBER(compression_pages) },
	{ MEMBER(compression_busy) },
	{ MEMBER(compression_compressed_size) },
	{ MEMBER(postcopy_blocktime_ms) },
	{ MEMBER(postcopy_vcpu_blocktime_max_ms) },
	{ MEMBER(dirty_limit_throttle_time_us) },
	{ MEMBER(dirty_limit_ring_full_time_us) },
	{ MEMBER(vfio_transferred) },
	{ MEMBER(blocked_reasons) },
};
static const struct member ext_double[] = {
	{ MEMBER(xbzrle_cache_miss_rate) },
	{ MEMBER(xbzrle_encoding_rate) },
	{ MEMBER(compression_busy_rate) },
	{ MEMBER(compression_rate) },
};
static const struct member ext_text[] = { { MEMBER(blocked_reason) }, { MEMBER(error_desc) } };

static const void *member_of(const struct mt_migrate_info *m, const struct member *f)
{
	return (const char *)m + f->off;
}

static void check_ext(const struct mig_ext_case *tc, const struct mt_migrate_info *m)
{
	const struct mt_migrate_info *w = &tc->want;

	if (m->have != w->have)
		fail_msg("%s: have %#llx, want %#llx", tc->name, (unsigned long long)m->have,
			 (unsigned long long)w->have);
	assert_string_equal(m->status, tc->status);
	for (size_t i = 0; i < sizeof(ext_u64) / sizeof(ext_u64[0]); i++) {
		uint64_t got = *(const uint64_t *)member_of(m, &ext_u64[i]);
		uint64_t want = *(const uint64_t *)member_of(w, &ext_u64[i]);

		if (got != want)
			fail_msg("%s: %s = %llu, want %llu", tc->name, ext_u64[i].name,
				 (unsigned long long)got, (unsigned long long)want);
	}
	for (size_t i = 0; i < sizeof(ext_double) / sizeof(ext_double[0]); i++) {
		double got = *(const double *)member_of(m, &ext_double[i]);
		double want = *(const double *)member_of(w, &ext_double[i]);

		if (got != want)
			fail_msg("%s: %s = %.17g, want %.17g", tc->name, ext_double[i].name, got,
				 want);
	}
	for (size_t i = 0; i < sizeof(ext_text) / sizeof(ext_text[0]); i++)
		if (strcmp(member_of(m, &ext_text[i]), member_of(w, &ext_text[i])))
			fail_msg("%s: %s = \"%s\", want \"%s\"", tc->name, ext_text[i].name,
				 (const char *)member_of(m, &ext_text[i]),
				 (const char *)member_of(w, &ext_text[i]));
}

static void test_parse_migrate_ext(void **state)
{
	for (size_t i = 0; i < sizeof(mig_ext_cases) / sizeof(mig_ext_cases[0]); i++) {
		const struct mig_ext_case *tc = &mig_ext_cases[i];
		struct json_object *o = parse(tc->json);
		struct mt_migrate_info m;

		memset(&m, 0xa5, sizeof(m)); /* absent members come back 0, not stale */
		if (qmp_parse_migrate(o, &m))
			fail_msg("%s: parse failed", tc->name);
		check_ext(tc, &m);
		json_object_put(o);
	}
}

static const char *const mig_bad[] = {
	"[]",
	"\"active\"",
	"{\"status\": 5}",
	"{\"status\": null}",
	"{\"ram\": []}",
	"{\"ram\": \"x\"}",
	"{\"total-time\": \"12\"}",
	"{\"total-time\": 1.5}",
	"{\"total-time\": -1}",
	"{\"downtime\": true}",
	"{\"ram\": {\"transferred\": \"12\"}}",
	"{\"ram\": {\"total\": {}}}",
	"{\"ram\": {\"mbps\": \"fast\"}}",
	"{\"ram\": {\"dirty-pages-rate\": [1]}}",
	"{\"ram\": {\"remaining\": null}}",
	/* issue #4 part 6: each new member with a wrong type */
	"{\"ram\": {\"multifd-bytes\": \"0\"}}",
	"{\"ram\": {\"postcopy-requests\": -1}}",
	"{\"ram\": {\"postcopy-bytes\": 1.5}}",
	"{\"xbzrle-cache\": []}",
	"{\"xbzrle-cache\": 1}",
	"{\"xbzrle-cache\": {\"cache-size\": \"64M\"}}",
	"{\"xbzrle-cache\": {\"bytes\": -1}}",
	"{\"xbzrle-cache\": {\"pages\": 1.5}}",
	"{\"xbzrle-cache\": {\"cache-miss\": null}}",
	"{\"xbzrle-cache\": {\"cache-miss-rate\": \"0.5\"}}",
	"{\"xbzrle-cache\": {\"encoding-rate\": true}}",
	"{\"xbzrle-cache\": {\"overflow\": {}}}",
	"{\"compression\": \"on\"}",
	"{\"compression\": {\"pages\": [1]}}",
	"{\"compression\": {\"busy\": -3}}",
	"{\"compression\": {\"busy-rate\": null}}",
	"{\"compression\": {\"compressed-size\": 2.5}}",
	"{\"compression\": {\"compression-rate\": \"high\"}}",
	"{\"vfio\": [1]}",
	"{\"vfio\": {\"transferred\": \"1\"}}",
	"{\"postcopy-blocktime\": \"40\"}",
	"{\"postcopy-blocktime\": -40}",
	"{\"postcopy-vcpu-blocktime\": 5}",
	"{\"postcopy-vcpu-blocktime\": {}}",
	"{\"postcopy-vcpu-blocktime\": [1, \"2\"]}",
	"{\"postcopy-vcpu-blocktime\": [1, -2]}",
	"{\"postcopy-vcpu-blocktime\": [1.5]}",
	"{\"dirty-limit-throttle-time-per-round\": 1.5}",
	"{\"dirty-limit-throttle-time-per-round\": -1}",
	"{\"dirty-limit-ring-full-time\": \"x\"}",
	"{\"dirty-limit-ring-full-time\": null}",
	"{\"blocked-reasons\": \"invtsc\"}",
	"{\"blocked-reasons\": {}}",
	"{\"blocked-reasons\": [1]}",
	"{\"blocked-reasons\": [\"a\", null]}",
	"{\"blocked-reasons\": [[\"a\"]]}",
	"{\"error-desc\": 5}",
	"{\"error-desc\": [\"x\"]}",
	"{\"error-desc\": null}",
	/* a good part before the bad one changes nothing either */
	"{\"status\": \"failed\", \"error-desc\": \"x\", \"xbzrle-cache\": {\"bytes\": 1, "
	"\"pages\": \"2\"}}",
};

static void test_parse_migrate_bad(void **state)
{
	struct mt_migrate_info m, before;

	memset(&before, 0x5a, sizeof(before));
	for (size_t i = 0; i < sizeof(mig_bad) / sizeof(mig_bad[0]); i++) {
		struct json_object *o = parse(mig_bad[i]);

		m = before;
		if (qmp_parse_migrate(o, &m) != -EINVAL)
			fail_msg("accepted %s", mig_bad[i]);
		assert_memory_equal(&m, &before, sizeof(m)); /* last good values survive */
		json_object_put(o);
	}
	assert_int_equal(qmp_parse_migrate(NULL, &m), -EINVAL);
}

/* ---- query-status, query-name, query-cpus-fast ---- */

static void test_parse_status(void **state)
{
	static const struct {
		const char *json, *status;
		int running, err;
	} cases[] = {
		{ status_running, "running", 1, 0 },
		{ status_prelaunch, "prelaunch", 0, 0 },
		{ status_postmigrate, "postmigrate", 0, 0 },
		{ "{\"status\": \"paused\", \"running\": false}", "paused", 0, 0 },
		{ "{\"status\": \"running\"}", NULL, 0, -EINVAL },
		{ "{\"running\": true}", NULL, 0, -EINVAL },
		{ "{\"status\": 1, \"running\": true}", NULL, 0, -EINVAL },
		{ "{\"status\": \"running\", \"running\": \"yes\"}", NULL, 0, -EINVAL },
		{ "[]", NULL, 0, -EINVAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o = parse(cases[i].json);
		char status[32] = "unchanged";
		int running = -1;

		assert_int_equal(qmp_parse_status(o, status, sizeof(status), &running),
				 cases[i].err);
		assert_string_equal(status, cases[i].status ? cases[i].status : "unchanged");
		assert_int_equal(running, cases[i].err ? -1 : cases[i].running);
		json_object_put(o);
	}
}

static void test_parse_name(void **state)
{
	static const struct {
		const char *json, *name;
		size_t size;
		int err;
	} cases[] = {
		{ "{\"name\": \"testvm\"}", "testvm", 128, 0 },
		{ "{}", "", 128, 0 }, /* QEMU without -name */
		{ "{\"name\": \"\"}", "", 128, 0 },
		{ "{\"name\": \"abcdefgh\"}", "abc", 4, 0 },
		{ "{\"name\": \"ab\\u00e9\"}", "ab", 4, 0 }, /* never split a UTF-8 character */
		{ "{\"name\": 5}", "unchanged", 128, -EINVAL },
		{ "[\"testvm\"]", "unchanged", 128, -EINVAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o = parse(cases[i].json);
		char name[128] = "unchanged";

		assert_int_equal(qmp_parse_name(o, name, cases[i].size), cases[i].err);
		assert_string_equal(name, cases[i].name);
		json_object_put(o);
	}
}

static void test_parse_cpus(void **state)
{
	struct json_object *o = parse(cpus_72);
	struct mt_vcpu_info *v = NULL;
	int n = -1;

	assert_int_equal(qmp_parse_cpus_fast(o, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].cpu_index, 0);
	assert_int_equal(v[0].thread_id, 5056);
	assert_string_equal(v[0].qom_path, "/machine/unattached/device[0]");
	free(v);
	json_object_put(o);
	o = parse("[]");
	assert_int_equal(qmp_parse_cpus_fast(o, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	json_object_put(o);
}

static void test_parse_cpus_cap(void **state)
{
	struct json_object *arr = json_object_new_array();
	struct mt_vcpu_info *v;
	int n;

	for (int i = 0; i < QMP_MAX_VCPUS + 5; i++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "cpu-index", json_object_new_int(i));
		json_object_object_add(e, "thread-id", json_object_new_int(1000 + i));
		json_object_object_add(
			e, "qom-path",
			json_object_new_string("/machine/a/very/long/qom/path/that/does/not/fit/in/"
					       "sixty/four/bytes/at/all"));
		json_object_array_add(arr, e);
	}
	assert_int_equal(qmp_parse_cpus_fast(arr, &v, &n), 0);
	assert_int_equal(n, QMP_MAX_VCPUS);
	assert_int_equal(v[n - 1].cpu_index, QMP_MAX_VCPUS - 1);
	assert_int_equal(v[n - 1].thread_id, 1000 + QMP_MAX_VCPUS - 1);
	assert_int_equal(strlen(v[0].qom_path), sizeof(v[0].qom_path) - 1);
	free(v);
	json_object_put(arr);
}

static void test_parse_cpus_bad(void **state)
{
	static const char *const bad[] = {
		"{}",
		"[1]",
		"[{\"thread-id\": 1, \"qom-path\": \"/p\"}]",
		"[{\"cpu-index\": 0, \"qom-path\": \"/p\"}]",
		"[{\"cpu-index\": 0, \"thread-id\": 1}]",
		"[{\"cpu-index\": \"0\", \"thread-id\": 1, \"qom-path\": \"/p\"}]",
		"[{\"cpu-index\": 0, \"thread-id\": -1, \"qom-path\": \"/p\"}]",
		"[{\"cpu-index\": 0, \"thread-id\": 4294967296, \"qom-path\": \"/p\"}]",
		"[{\"cpu-index\": 0, \"thread-id\": 1, \"qom-path\": 7}]",
		"[{\"cpu-index\": 0, \"thread-id\": 1, \"qom-path\": \"/p\"}, null]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *o = parse(bad[i]);
		struct mt_vcpu_info *v = (void *)&v;
		int n = -7;

		if (qmp_parse_cpus_fast(o, &v, &n) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_ptr_equal(v, (void *)&v);
		assert_int_equal(n, -7);
		json_object_put(o);
	}
}

static void test_command_allowed(void **state)
{
	static const char *const ok[] = { "qmp_capabilities", "query-status", "query-migrate",
					  "query-cpus-fast", "query-name" };
	/* Commands that change the guest or QEMU, and injections through the name. */
	static const char *const refused[] = {
		"migrate",
		"migrate_cancel",
		"quit",
		"stop",
		"cont",
		"system_reset",
		"human-monitor-command",
		"query-",
		"QUERY-STATUS",
		"x-query-foo",
		"",
		"query-status\",\"arguments\":{}}{\"execute\":\"quit",
		"query-status\r\n{\"execute\":\"quit\"}",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(qmp_command__allowed(ok[i]));
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (qmp_command__allowed(refused[i]))
			fail_msg("qmp_command__allowed(\"%s\") accepted it", refused[i]);
	assert_false(qmp_command__allowed(NULL));
}

/* ---- a fake QMP peer: a thread serving a temporary socket ---- */

enum peer_mode {
	PEER_NORMAL,	/* answers like QEMU 7.2, an event before each query-status reply */
	PEER_DRIBBLE,	/* the same, written five bytes at a time */
	PEER_ERRORS,	/* query-cpus-fast answered with a CommandNotFound error */
	PEER_SILENT,	/* accepts, never greets (as QEMU does while serving another client) */
	PEER_HMP,	/* greets like an HMP monitor */
	PEER_MUTE,	/* greets and negotiates, then never answers */
	PEER_GARBAGE,	/* answers the first query with text that is not JSON */
	PEER_HANGUP,	/* closes on the first query */
	PEER_HUGE,	/* answers the first query with a message larger than QMP_MAX_MSG */
	PEER_ONE_ROUND, /* answers one full round, then closes on the next query */
};

#define PEER_MAX_CMDS 1024

struct peer {
	enum peer_mode mode;
	char dir[32], path[64];
	int lfd, stop[2];
	pthread_t th;
	pthread_mutex_t mu;
	int ncmds, nconns;
	char cmds[PEER_MAX_CMDS][64];
};

static const char peer_cpus[] =
	"[{\"thread-id\": 4242, \"props\": {\"core-id\": 0, \"thread-id\": 0, \"socket-id\": 0}, "
	"\"qom-path\": \"/machine/unattached/device[0]\", \"cpu-index\": 0, "
	"\"target\": \"x86_64\"}, {\"thread-id\": 4243, \"props\": {\"core-id\": 0, "
	"\"thread-id\": 0, \"socket-id\": 1}, \"qom-path\": \"/machine/unattached/device[1]\", "
	"\"cpu-index\": 1, \"target\": \"x86_64\"}]";

static int peer_write(struct peer *p, int fd, const char *s, size_t len)
{
	size_t step = p->mode == PEER_DRIBBLE ? 5 : len;

	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, s + off, len - off < step ? len - off : step, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += n;
		if (p->mode == PEER_DRIBBLE)
			usleep(100);
	}
	return 0;
}

static int peer_huge(struct peer *p, int fd, const char *id)
{
	size_t len = QMP_MAX_MSG + 4096;
	char *s = malloc(len);
	int err;

	if (!s)
		return -1;
	memset(s, 'z', len);
	memcpy(s, "{\"return\": \"", 12);
	snprintf(s + len - 32, 32, "\", \"id\": %s}\r\n", id);
	err = peer_write(p, fd, s, strlen(s));
	free(s);
	return err;
}

/* Answer one command as QEMU would (or misbehave, as the mode says); -1 closes. */
static int peer_answer(struct peer *p, int fd, const char *cmd, const char *id, int nquery)
{
	static const char stop_event[] =
		"{\"timestamp\": {\"seconds\": 1795321345, \"microseconds\": 989114}, "
		"\"event\": \"STOP\"}\r\n";
	const char *ret = NULL;
	char buf[4096];
	int n;

	if (!strcmp(cmd, "qmp_capabilities"))
		ret = "{}";
	else if (p->mode == PEER_MUTE)
		return 0;
	else if (p->mode == PEER_GARBAGE)
		return peer_write(p, fd, "this is not json\r\n", 18);
	else if (p->mode == PEER_HANGUP || (p->mode == PEER_ONE_ROUND && nquery > 4))
		return -1;
	else if (p->mode == PEER_HUGE)
		return peer_huge(p, fd, id);
	else if (!strcmp(cmd, "query-name"))
		ret = "{\"name\": \"fakevm\"}";
	else if (!strcmp(cmd, "query-status") && !peer_write(p, fd, stop_event, strlen(stop_event)))
		ret = status_running;
	else if (!strcmp(cmd, "query-migrate"))
		ret = mig_active;
	else if (!strcmp(cmd, "query-cpus-fast") && p->mode != PEER_ERRORS)
		ret = peer_cpus;
	if (ret)
		n = snprintf(buf, sizeof(buf), "{\"return\": %s, \"id\": %s}\r\n", ret, id);
	else
		n = snprintf(buf, sizeof(buf),
			     "{\"id\": %s, \"error\": {\"class\": \"CommandNotFound\", "
			     "\"desc\": \"The command %s has not been found\"}}\r\n",
			     id, cmd);
	return peer_write(p, fd, buf, n);
}

/* Record the command of one line, then answer it. */
static int peer_line(struct peer *p, int fd, const char *line, int *nquery)
{
	struct json_object *msg = json_tokener_parse(line), *v;
	const char *cmd = "<not a command>", *id = "null";
	int err;

	if (msg && json_object_object_get_ex(msg, "execute", &v))
		cmd = json_object_get_string(v);
	if (msg && json_object_object_get_ex(msg, "id", &v))
		id = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	pthread_mutex_lock(&p->mu);
	if (p->ncmds < PEER_MAX_CMDS)
		snprintf(p->cmds[p->ncmds++], sizeof(p->cmds[0]), "%s", cmd);
	pthread_mutex_unlock(&p->mu);
	if (strcmp(cmd, "qmp_capabilities"))
		(*nquery)++;
	err = peer_answer(p, fd, cmd, id, *nquery);
	json_object_put(msg);
	return err;
}

static void peer_serve(struct peer *p, int fd)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
				 { .fd = p->stop[0], .events = POLLIN } };
	static const char hmp[] = "QEMU 7.2.22 monitor - type 'help' for more information\r\n";
	const char *hello = p->mode == PEER_HMP ? hmp : greeting_72;
	char buf[8192];
	size_t len = 0;
	int nquery = 0;

	if (p->mode != PEER_SILENT && peer_write(p, fd, hello, strlen(hello)))
		return;
	while (len < sizeof(buf) - 1) {
		char *nl;
		ssize_t n;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return;
		if (pfd[1].revents)
			return;
		if (!pfd[0].revents)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return;
		len += n;
		while ((nl = memchr(buf, '\n', len))) {
			size_t linelen = nl - buf + 1;

			*nl = '\0';
			if (peer_line(p, fd, buf, &nquery))
				return;
			memmove(buf, nl + 1, len - linelen);
			len -= linelen;
		}
	}
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	struct pollfd pfd[2] = { { .fd = p->lfd, .events = POLLIN },
				 { .fd = p->stop[0], .events = POLLIN } };

	for (;;) {
		int fd;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!pfd[0].revents)
			continue;
		fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&p->mu);
		p->nconns++;
		pthread_mutex_unlock(&p->mu);
		peer_serve(p, fd);
		close(fd);
	}
	return NULL;
}

static void peer_start(struct peer *p, enum peer_mode mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(p, 0, sizeof(*p));
	p->mode = mode;
	strcpy(p->dir, "/tmp/mtqmp.XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->path, sizeof(p->path), "%s/qmp.sock", p->dir);
	strcpy(sa.sun_path, p->path);
	p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(p->lfd, 1), 0); /* QEMU's backlog */
	assert_int_equal(pipe2(p->stop, O_CLOEXEC), 0);
	pthread_mutex_init(&p->mu, NULL);
	assert_int_equal(pthread_create(&p->th, NULL, peer_main, p), 0);
}

/* Stop the peer and check that the client only ever asked questions. */
static void peer_stop(struct peer *p)
{
	assert_int_equal(write(p->stop[1], "x", 1), 1);
	pthread_join(p->th, NULL);
	close(p->stop[0]);
	close(p->stop[1]);
	close(p->lfd);
	unlink(p->path);
	rmdir(p->dir);
	pthread_mutex_destroy(&p->mu);
	for (int i = 0; i < p->ncmds; i++)
		if (strcmp(p->cmds[i], "qmp_capabilities") && strncmp(p->cmds[i], "query-", 6))
			fail_msg("the client sent \"%s\"", p->cmds[i]);
}

/* ---- driving the client: a 5 ms timerfd in the loop calls tick ---- */

struct drive {
	struct qmp_client *c[2];
	int n;
	int gate; /* tick c[1] only once c[0] has completed a round */
	uint64_t start_ns, until_ns;
	uint64_t down_ns; /* first time c[0] was seen disconnected after a connect */
	char reason[384]; /* and why */
	char down_name[128];
	int down_nvcpus;
	int (*done)(struct drive *d);
};

static int round_done(const struct qmp_client *c)
{
	const struct qmp_snapshot *s = qmp_client__snapshot(c);

	return s->name_ns && s->status_ns && s->mig_ns && s->vcpus_ns;
}

static void drive_observe(struct drive *d, uint64_t now)
{
	const struct qmp_client *c = d->c[0];
	const char *why;

	if (d->down_ns || qmp_client__state(c) != QMP_DISCONNECTED ||
	    !qmp_client__stats(c)->connects)
		return;
	d->down_ns = now;
	why = qmp_client__reason(c);
	snprintf(d->reason, sizeof(d->reason), "%s", why ? why : "(null reason)");
	snprintf(d->down_name, sizeof(d->down_name), "%s", qmp_client__snapshot(c)->name);
	d->down_nvcpus = qmp_client__snapshot(c)->nvcpus;
	assert_false(qmp_client__up(c));
}

static void drive_tick(struct mt_loop *loop, int fd, uint32_t events, void *data)
{
	struct drive *d = data;
	uint64_t now = mt_now_ns();

	mt_timerfd_drain(fd);
	drive_observe(d, now);
	for (int i = 0; i < d->n; i++)
		if (i == 0 || !d->gate || round_done(d->c[0]))
			qmp_client__tick(d->c[i], now);
	if (d->done(d) || now >= d->until_ns)
		mt_loop__stop(loop, 0);
}

/* mt_loop__run() cannot be resumed after a stop: one drive per loop. */
static void drive_run(struct mt_loop *loop, struct drive *d, uint64_t max_ns)
{
	int tfd = mt_timerfd_periodic(5000000);

	assert_true(tfd >= 0);
	d->start_ns = mt_now_ns();
	d->until_ns = d->start_ns + max_ns;
	assert_int_equal(mt_loop__add(loop, tfd, EPOLLIN, drive_tick, d), 0);
	assert_int_equal(mt_loop__run(loop), 0);
	mt_loop__del(loop, tfd);
	close(tfd);
	if (!d->done(d))
		fail_msg("gave up after %llu ms (state %d, reason: %s)",
			 (unsigned long long)(max_ns / 1000000), qmp_client__state(d->c[0]),
			 qmp_client__reason(d->c[0]) ?: "none");
}

#define MS 1000000ULL

struct fixture {
	struct peer peer;
	struct mt_loop *loop;
	struct qmp_client *c;
	struct drive d;
};

static void fixture_start(struct fixture *fx, enum peer_mode mode, int (*done)(struct drive *))
{
	struct qmp_client_options o = { .timeout_ns = 150 * MS, .reconnect_ns = 100 * MS };

	peer_start(&fx->peer, mode);
	o.path = fx->peer.path;
	fx->loop = mt_loop__new();
	assert_non_null(fx->loop);
	fx->c = qmp_client__new(fx->loop, &o);
	assert_non_null(fx->c);
	assert_int_equal(qmp_client__state(fx->c), QMP_DISCONNECTED);
	assert_false(qmp_client__up(fx->c));
	memset(&fx->d, 0, sizeof(fx->d));
	fx->d.c[0] = fx->c;
	fx->d.n = 1;
	fx->d.done = done;
	drive_run(fx->loop, &fx->d, 5000 * MS);
}

static void fixture_stop(struct fixture *fx)
{
	qmp_client__free(fx->c);
	mt_loop__free(fx->loop);
	peer_stop(&fx->peer);
}

static int done_round(struct drive *d)
{
	return round_done(d->c[0]);
}

static void check_round(const struct qmp_client *c)
{
	const struct qmp_snapshot *s = qmp_client__snapshot(c);
	const struct qmp_stats *st = qmp_client__stats(c);

	assert_true(qmp_client__up(c));
	assert_null(qmp_client__reason(c));
	assert_string_equal(s->name, "fakevm");
	assert_string_equal(s->status, "running");
	assert_int_equal(s->running, 1);
	assert_string_equal(s->mig.status, "active");
	assert_int_equal(s->mig.ram_total, 67641344);
	assert_true(s->mig.ram_mbps == 1.6267722772277224);
	assert_int_equal(s->nvcpus, 2);
	assert_int_equal(s->vcpus[1].cpu_index, 1);
	assert_int_equal(s->vcpus[1].thread_id, 4243);
	assert_string_equal(s->vcpus[1].qom_path, "/machine/unattached/device[1]");
	/* One request at a time, in round order, each stamped inside its own round trip. */
	assert_true(s->name_ns < s->status_ns && s->status_ns < s->mig_ns);
	assert_true(s->mig_ns < s->vcpus_ns && s->vcpus_ns <= mt_now_ns());
	assert_int_equal(st->connects, 1);
	assert_true(st->requests >= 5 && st->replies >= 5 && st->requests - st->replies <= 1);
	assert_true(st->events >= 1);
	assert_int_equal(st->errors + st->timeouts, 0);
	assert_null(qmp_client__last_error(c));
}

static void test_client_round(void **state)
{
	static const char *const first[] = { "qmp_capabilities", "query-name", "query-status",
					     "query-migrate", "query-cpus-fast" };
	static const enum peer_mode modes[] = { PEER_NORMAL, PEER_DRIBBLE };

	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct fixture fx;

		fixture_start(&fx, modes[m], done_round);
		check_round(fx.c);
		assert_int_equal(qmp_client__state(fx.c), QMP_READY);
		assert_string_equal(qmp_client__path(fx.c), fx.peer.path);
		qmp_client__free(fx.c);
		fx.c = NULL;
		pthread_mutex_lock(&fx.peer.mu);
		assert_true(fx.peer.ncmds >= 5);
		for (int i = 0; i < 5; i++)
			assert_string_equal(fx.peer.cmds[i], first[i]);
		pthread_mutex_unlock(&fx.peer.mu);
		fixture_stop(&fx);
	}
}

static int done_error(struct drive *d)
{
	return qmp_client__stats(d->c[0])->errors && qmp_client__snapshot(d->c[0])->mig_ns;
}

/* A QMP error is recorded, not fatal: old QEMUs lack some query commands. */
static void test_client_error_reply(void **state)
{
	struct fixture fx;
	const struct qmp_snapshot *s;

	fixture_start(&fx, PEER_ERRORS, done_error);
	s = qmp_client__snapshot(fx.c);
	assert_true(qmp_client__up(fx.c));
	assert_string_equal(qmp_client__last_error(fx.c),
			    "query-cpus-fast: The command query-cpus-fast has not been found");
	assert_string_equal(s->mig.status, "active");
	assert_int_equal(s->nvcpus, 0);
	assert_int_equal(s->vcpus_ns, 0);
	fixture_stop(&fx);
}

static int done_reconnected(struct drive *d)
{
	return d->down_ns && qmp_client__stats(d->c[0])->connects >= 2;
}

static void test_client_failures(void **state)
{
	static const struct {
		enum peer_mode mode;
		const char *reason;
		int timeout; /* the deadline, not the peer, ended the connection */
	} cases[] = {
		{ PEER_SILENT, "no greeting within 150 ms (another client holds the monitor?)", 1 },
		{ PEER_MUTE, "no reply to query-name within 150 ms (QEMU stuck?)", 1 },
		{ PEER_GARBAGE, "malformed reply (not a JSON object near \"this is not json..\")",
		  0 },
		{ PEER_HMP, "near \"QEMU 7.2.22 monitor - type 'help\") - an HMP monitor?", 0 },
		{ PEER_HANGUP, "QEMU closed the monitor connection", 0 },
		{ PEER_HUGE, "malformed reply (message larger than 1048576 bytes)", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture fx;
		uint64_t after;

		fixture_start(&fx, cases[i].mode, done_reconnected);
		after = fx.d.down_ns - fx.d.start_ns;
		if (!strstr(fx.d.reason, cases[i].reason))
			fail_msg("mode %d: reason \"%s\", want \"%s\"", cases[i].mode, fx.d.reason,
				 cases[i].reason);
		assert_true(strstr(fx.d.reason, fx.peer.path) == fx.d.reason + 4);
		assert_int_equal(!!qmp_client__stats(fx.c)->timeouts, cases[i].timeout);
		if (cases[i].timeout)
			assert_true(after >= 150 * MS && after < 1000 * MS);
		assert_int_equal(qmp_client__snapshot(fx.c)->nvcpus, 0);
		fixture_stop(&fx);
	}
}

/* Data collected before a disconnect is kept, and the client comes back. */
static void test_client_keeps_data(void **state)
{
	struct fixture fx;

	fixture_start(&fx, PEER_ONE_ROUND, done_reconnected);
	assert_non_null(strstr(fx.d.reason, "QEMU closed the monitor connection"));
	assert_string_equal(fx.d.down_name, "fakevm");
	assert_int_equal(fx.d.down_nvcpus, 2);
	assert_string_equal(qmp_client__snapshot(fx.c)->mig.status, "active");
	assert_true(qmp_client__stats(fx.c)->connects >= 2);
	fixture_stop(&fx);
}

static void test_client_connect_errors(void **state)
{
	char dir[] = "/tmp/mtqmp.XXXXXX", file[64], stale[64], missing[64], lng[200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(stale, sizeof(stale), "%s/stale.sock", dir);
	snprintf(missing, sizeof(missing), "%s/missing.sock", dir);
	memset(lng, 'a', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	/* A bound socket whose owner is gone: what a crashed QEMU leaves behind. */
	strcpy(sa.sun_path, stale);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	const struct {
		const char *path, *reason;
	} cases[] = {
		{ missing, "does not exist (is QEMU running with -qmp unix:" },
		{ file, "is not a socket (give the path of a QEMU -qmp unix: socket)" },
		{ dir, "is not a socket" },
		{ stale, "connection refused (QEMU exited and left a stale socket?)" },
		{ lng, "path longer than 107 bytes" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mt_loop *loop = mt_loop__new();
		struct qmp_client_options o = { .path = cases[i].path, .timeout_ns = 100 * MS };
		struct qmp_client *c = qmp_client__new(loop, &o);

		assert_non_null(c);
		qmp_client__tick(c, mt_now_ns());
		assert_int_equal(qmp_client__state(c), QMP_DISCONNECTED);
		assert_false(qmp_client__up(c));
		if (!strstr(qmp_client__reason(c), cases[i].reason))
			fail_msg("%s: reason \"%s\"", cases[i].path, qmp_client__reason(c));
		assert_int_equal(qmp_client__stats(c)->connects, 0);
		qmp_client__free(c);
		mt_loop__free(loop);
	}
	unlink(file);
	unlink(stale);
	rmdir(dir);
}

/* A monitor whose backlog is full of waiting clients: QEMU listens with a backlog of 1. */
static void test_client_backlog_full(void **state)
{
	char dir[] = "/tmp/mtqmp.XXXXXX";
	struct qmp_client_options o = { .timeout_ns = 100 * MS };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mt_loop *loop = mt_loop__new();
	struct qmp_client *c;
	int fds[16], n = 0, lfd;

	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0); /* and never accept */
	for (; n < 16; n++) {
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (connect(fds[n], (struct sockaddr *)&sa, sizeof(sa))) {
			assert_int_equal(errno, EAGAIN);
			close(fds[n]);
			break;
		}
	}
	o.path = sa.sun_path;
	c = qmp_client__new(loop, &o);
	qmp_client__tick(c, mt_now_ns());
	assert_non_null(strstr(qmp_client__reason(c), "listen backlog full"));
	qmp_client__free(c);
	mt_loop__free(loop);
	while (n--)
		close(fds[n]);
	close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
}

static void test_client_new_invalid(void **state)
{
	struct mt_loop *loop = mt_loop__new();
	struct qmp_client_options o = { .path = "/x", .timeout_ns = 0 };

	errno = 0;
	assert_null(qmp_client__new(loop, &o));
	assert_int_equal(errno, EINVAL);
	o.timeout_ns = 1;
	o.path = NULL;
	assert_null(qmp_client__new(loop, &o));
	assert_null(qmp_client__new(NULL, &o));
	qmp_client__free(NULL);
	qmp_client__tick(NULL, 0);
	mt_loop__free(loop);
}

/* ---- against a real QEMU ---- */

static const char *qemu_missing(void)
{
	const char *path = getenv("PATH");
	char *dirs, *save = NULL, exe[PATH_MAX];
	int found = 0;

	if (access("/dev/kvm", R_OK | W_OK))
		return "a usable /dev/kvm";
	dirs = strdup(path ? path : "/usr/bin:/bin");
	assert_non_null(dirs);
	for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		snprintf(exe, sizeof(exe), "%s/qemu-system-x86_64", d);
		found = !access(exe, X_OK);
	}
	free(dirs);
	return found ? NULL : "qemu-system-x86_64 in PATH";
}

/* Start a paused QEMU that daemonizes once its monitor socket is listening. */
static pid_t qemu_start(const char *dir, const char *sock)
{
	char qmp[128], pidfile[128], log[128];
	pid_t child, pid = 0;
	FILE *f;
	int st;

	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", sock);
	snprintf(pidfile, sizeof(pidfile), "%s/q.pid", dir);
	snprintf(log, sizeof(log), "%s/q.log", dir);
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		int fd = open(log, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("qemu-system-x86_64", "qemu-system-x86_64", "-accel", "kvm", "-m", "64",
		       "-display", "none", "-nodefaults", "-S", "-name", "testvm", "-qmp", qmp,
		       "-pidfile", pidfile, "-daemonize", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(child, &st, 0), child);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail_msg("qemu-system-x86_64 failed to start (status %d, see %s)", st, log);
	f = fopen(pidfile, "re");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &pid), 1);
	fclose(f);
	unlink(pidfile);
	unlink(log);
	return pid;
}

/* Gone, or a zombie nobody reaps (PID 1 in a container may not). */
static int pid_gone(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	int gone;

	if (kill(pid, 0) && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 1;
	gone = fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] && p[2] == 'Z';
	fclose(f);
	return gone;
}

static void qemu_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	for (int i = 0; i < 300 && !pid_gone(pid); i++)
		usleep(10000);
	if (!pid_gone(pid))
		kill(pid, SIGKILL);
	/* As a subreaper we inherited QEMU and its exited intermediate fork: reap both. */
	for (int i = 0; i < 300 && !waitpid(pid, NULL, WNOHANG); i++)
		usleep(10000);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static int tgid_of(int tid)
{
	char path[64], line[256];
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

/* The first client completed a round, and the second saw what QEMU does to a second client. */
static int done_real(struct drive *d)
{
	return round_done(d->c[0]) && qmp_client__stats(d->c[1])->timeouts;
}

static void check_real(struct drive *d, pid_t pid)
{
	const struct qmp_snapshot *s = qmp_client__snapshot(d->c[0]);

	assert_true(qmp_client__up(d->c[0]));
	assert_string_equal(s->name, "testvm");
	if (strcmp(s->status, "prelaunch") && strcmp(s->status, "paused"))
		fail_msg("status %s, want prelaunch or paused", s->status);
	assert_int_equal(s->running, 0);
	assert_string_equal(s->mig.status, "none");
	assert_int_equal(s->mig.have, 0);
	assert_int_equal(s->nvcpus, 1);
	assert_int_equal(s->vcpus[0].cpu_index, 0);
	assert_true(s->vcpus[0].thread_id > 0);
	assert_int_equal(tgid_of(s->vcpus[0].thread_id), pid);
	/* QEMU queues a second client in its listen backlog and never greets it. */
	assert_non_null(strstr(qmp_client__reason(d->c[1]), "no greeting within 300 ms"));
	assert_int_equal(qmp_client__stats(d->c[1])->replies, 0);
}

static void test_real_qemu(void **state)
{
	struct qmp_client_options o1 = { .timeout_ns = 2000 * MS, .reconnect_ns = 100 * MS };
	struct qmp_client_options o2 = { .timeout_ns = 300 * MS, .reconnect_ns = 100 * MS };
	char dir[] = "/tmp/mtqemu.XXXXXX", sock[64];
	const char *why = qemu_missing();
	struct drive d = { .n = 2, .gate = 1, .done = done_real };
	struct mt_loop *loop;
	pid_t pid;

	if (why) {
		if (mt_test_require(why))
			fail();
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/q.sock", dir);
	/* -daemonize reparents QEMU: adopt it rather than leave a zombie to PID 1. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid = qemu_start(dir, sock);
	o1.path = o2.path = sock;
	loop = mt_loop__new();
	d.c[0] = qmp_client__new(loop, &o1);
	d.c[1] = qmp_client__new(loop, &o2);
	assert_true(loop && d.c[0] && d.c[1]);
	drive_run(loop, &d, 10000 * MS);
	check_real(&d, pid);
	qmp_client__free(d.c[1]);
	qmp_client__free(d.c[0]);
	mt_loop__free(loop);
	qemu_stop(pid);
	unlink(sock);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framer_table),
		cmocka_unit_test(test_framer_size_limit),
		cmocka_unit_test(test_framer_endless),
		cmocka_unit_test(test_parse_migrate),
		cmocka_unit_test(test_parse_migrate_all_ram_fields),
		cmocka_unit_test(test_parse_migrate_ext),
		cmocka_unit_test(test_parse_migrate_bad),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_parse_name),
		cmocka_unit_test(test_parse_cpus),
		cmocka_unit_test(test_parse_cpus_cap),
		cmocka_unit_test(test_parse_cpus_bad),
		cmocka_unit_test(test_command_allowed),
		cmocka_unit_test(test_client_new_invalid),
		cmocka_unit_test(test_client_connect_errors),
		cmocka_unit_test(test_client_backlog_full),
		cmocka_unit_test(test_client_round),
		cmocka_unit_test(test_client_error_reply),
		cmocka_unit_test(test_client_failures),
		cmocka_unit_test(test_client_keeps_data),
		cmocka_unit_test(test_real_qemu),
	};

	/* The client warns on every failure; the failure tests provoke them on purpose. */
	if (!getenv("MT_TEST_VERBOSE"))
		mt_log_set_level(MT_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
