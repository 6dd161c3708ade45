// SPDX-License-Identifier: GPL-2.0-only
/*
 * The OpenMetrics writer: golden expositions in both formats, the rejection
 * rules, number and timestamp formatting, Accept negotiation, and a check of
 * a realistic exposition by the parsers real scrapers use (promtool for
 * Prometheus text, client_python's strict OpenMetrics parser).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "openmetrics.h"
#include "testutil.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_LABELS    3
#define MAX_SAMPLES   3
#define MAX_FAMILIES  5

/* Prometheus 2.42's scrape Accept header, verbatim. */
#define PROMETHEUS_ACCEPT                                                                          \
	"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"   \
	"q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

struct sample_spec {
	struct om_label labels[MAX_LABELS];
	double value;
	uint64_t u64;
	bool use_u64;
	uint64_t ts_ns;
};

struct family_spec {
	const char *name;
	enum om_type type;
	const char *unit;
	const char *help;
	struct sample_spec samples[MAX_SAMPLES];
	size_t nsamples;
};

static size_t count_labels(const struct om_label *labels)
{
	size_t n = 0;

	while (n < MAX_LABELS && labels[n].name)
		n++;
	return n;
}

/* Write families (up to the first without a name) and finish; first error or 0. */
static int build(struct om_writer *w, const struct family_spec *fams)
{
	int err = 0;

	for (size_t f = 0; f < MAX_FAMILIES && fams[f].name && !err; f++) {
		err = om_family(w, fams[f].name, fams[f].type, fams[f].unit, fams[f].help);
		for (size_t i = 0; i < fams[f].nsamples && !err; i++) {
			const struct sample_spec *s = &fams[f].samples[i];
			size_t n = count_labels(s->labels);

			err = s->use_u64 ? om_sample_u64(w, s->labels, n, s->u64, s->ts_ns)
					 : om_sample(w, s->labels, n, s->value, s->ts_ns);
		}
	}
	return err ? err : om_finish(w);
}

/* ---- golden expositions, both formats ---- */

struct golden_case {
	const char *what;
	struct family_spec fams[MAX_FAMILIES];
	const char *want[OM_FMT_MAX];
};

static const struct golden_case golden_cases[] = {
	{
		.what = "counter with unit: _total sample, # UNIT only in OpenMetrics",
		.fams = { { "migtrace_dirty_bytes", OM_COUNTER, "bytes", "Bytes dirtied",
			    { { { { "vm", "vm1" } }, .u64 = 4096, .use_u64 = true } }, 1 } },
		.want = {
			[OM_FMT_OPENMETRICS] = "# TYPE migtrace_dirty_bytes counter\n"
					       "# UNIT migtrace_dirty_bytes bytes\n"
					       "# HELP migtrace_dirty_bytes Bytes dirtied\n"
					       "migtrace_dirty_bytes_total{vm=\"vm1\"} 4096\n"
					       "# EOF\n",
			[OM_FMT_PROMETHEUS] = "# HELP migtrace_dirty_bytes_total Bytes dirtied\n"
					      "# TYPE migtrace_dirty_bytes_total counter\n"
					      "migtrace_dirty_bytes_total{vm=\"vm1\"} 4096\n",
		},
	},
	{
		.what = "info: _info sample with value 1, a gauge in Prometheus text",
		.fams = { { "migtrace_build", OM_INFO, NULL, "Build information",
			    { { { { "version", "0.1.0" }, { "bpf", "raw_tp" } }, .value = 7 } },
			    1 } },
		.want = {
			[OM_FMT_OPENMETRICS] =
				"# TYPE migtrace_build info\n"
				"# HELP migtrace_build Build information\n"
				"migtrace_build_info{version=\"0.1.0\",bpf=\"raw_tp\"} 1\n"
				"# EOF\n",
			[OM_FMT_PROMETHEUS] =
				"# HELP migtrace_build_info Build information\n"
				"# TYPE migtrace_build_info gauge\n"
				"migtrace_build_info{version=\"0.1.0\",bpf=\"raw_tp\"} 1\n",
		},
	},
	{
		.what = "escaping: HELP quotes only in OpenMetrics, labels always; UTF-8 passes",
		.fams = { { "g", OM_GAUGE, NULL, "a\\b \"q\"\nline2 \xc3\xa9",
			    { { { { "vm", "x\\y\"z\n\xc3\xa9\xf0\x9f\x98\x80" } }, .value = 1 } },
			    1 } },
		.want = {
			[OM_FMT_OPENMETRICS] =
				"# TYPE g gauge\n"
				"# HELP g a\\\\b \\\"q\\\"\\nline2 \xc3\xa9\n"
				"g{vm=\"x\\\\y\\\"z\\n\xc3\xa9\xf0\x9f\x98\x80\"} 1\n"
				"# EOF\n",
			[OM_FMT_PROMETHEUS] =
				"# HELP g a\\\\b \"q\"\\nline2 \xc3\xa9\n"
				"# TYPE g gauge\n"
				"g{vm=\"x\\\\y\\\"z\\n\xc3\xa9\xf0\x9f\x98\x80\"} 1\n",
		},
	},
	{
		.what = "no HELP, no labels, empty label value, several samples",
		.fams = { { "g", OM_GAUGE, NULL, NULL,
			    { { .value = 0.5 }, { { { "a", "" } }, .value = -2 } }, 2 } },
		.want = {
			[OM_FMT_OPENMETRICS] = "# TYPE g gauge\ng 0.5\ng{a=\"\"} -2\n# EOF\n",
			[OM_FMT_PROMETHEUS] = "# TYPE g gauge\ng 0.5\ng{a=\"\"} -2\n",
		},
	},
	{
		.what = "timestamps: seconds with ms in OpenMetrics, integer ms in Prometheus",
		.fams = { { "g", OM_GAUGE, NULL, NULL,
			    { { .value = 1, .ts_ns = 1700000000123456789ULL },
			      { { { "a", "b" } }, .u64 = 2, .use_u64 = true, .ts_ns = 5000000 } },
			    2 } },
		.want = {
			[OM_FMT_OPENMETRICS] = "# TYPE g gauge\ng 1 1700000000.123\n"
					       "g{a=\"b\"} 2 0.005\n# EOF\n",
			[OM_FMT_PROMETHEUS] = "# TYPE g gauge\ng 1 1700000000123\n"
					      "g{a=\"b\"} 2 5\n",
		},
	},
	{
		.what = "empty exposition",
		.want = { [OM_FMT_OPENMETRICS] = "# EOF\n", [OM_FMT_PROMETHEUS] = "" },
	},
	{
		.what = "family without samples, then another family",
		.fams = { { "a_seconds", OM_GAUGE, "seconds", "A" },
			  { "b", OM_COUNTER, NULL, "B", { { .value = 3 } }, 1 } },
		.want = {
			[OM_FMT_OPENMETRICS] = "# TYPE a_seconds gauge\n# UNIT a_seconds seconds\n"
					       "# HELP a_seconds A\n# TYPE b counter\n# HELP b B\n"
					       "b_total 3\n# EOF\n",
			[OM_FMT_PROMETHEUS] = "# HELP a_seconds A\n# TYPE a_seconds gauge\n"
					      "# HELP b_total B\n# TYPE b_total counter\n"
					      "b_total 3\n",
		},
	},
};

static void test_golden(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(golden_cases); i++) {
		const struct golden_case *c = &golden_cases[i];

		for (int fmt = 0; fmt < OM_FMT_MAX; fmt++) {
			struct om_writer *w = om_writer__new(fmt);
			const char *data;
			size_t len;

			assert_non_null(w);
			print_message("  %s (%s)\n", c->what, fmt ? "prometheus" : "openmetrics");
			assert_int_equal(build(w, c->fams), 0);
			data = om_writer__data(w, &len);
			assert_string_equal(data, c->want[fmt]);
			assert_int_equal(len, strlen(c->want[fmt]));
			om_writer__free(w);
		}
	}
}

/* ---- rejections: every failing call leaves the output untouched ---- */

enum op_kind { OP_END, OP_FAMILY, OP_SAMPLE, OP_FINISH };

struct op {
	enum op_kind kind;
	const char *name;
	enum om_type type;
	const char *unit;
	struct om_label labels[MAX_LABELS];
	double value;
	int want;
};

struct reject_case {
	const char *what;
	struct op ops[4];
};

#define FAM(n, t, u, w)                                                                            \
	{                                                                                          \
		OP_FAMILY, n, t, u, .want = w                                                      \
	}
#define GAUGE	FAM("g", OM_GAUGE, NULL, 0)
#define COUNTER FAM("c", OM_COUNTER, NULL, 0)
#define SAMPLE(w, ...)                                                                             \
	{                                                                                          \
		OP_SAMPLE, .labels = { __VA_ARGS__ }, .value = 1, .want = w                        \
	}

static const struct reject_case reject_cases[] = {
	{ "sample before any family", { SAMPLE(-EINVAL) } },
	{ "duplicate family", { GAUGE, FAM("g", OM_GAUGE, NULL, -EINVAL) } },
	{ "duplicate family, other type", { GAUGE, FAM("g", OM_COUNTER, NULL, -EINVAL) } },
	{ "gauge named like a counter's sample",
	  { COUNTER, FAM("c_total", OM_GAUGE, NULL, -EINVAL) } },
	{ "counter whose sample a gauge has",
	  { FAM("c_total", OM_GAUGE, NULL, 0), FAM("c", OM_COUNTER, NULL, -EINVAL) } },
	{ "gauge named like _created", { COUNTER, FAM("c_created", OM_GAUGE, NULL, -EINVAL) } },
	{ "gauge named like an info's sample",
	  { FAM("i", OM_INFO, NULL, 0), FAM("i_info", OM_GAUGE, NULL, -EINVAL) } },
	{ "counter already ending in _total", { FAM("x_total", OM_COUNTER, NULL, -EINVAL) } },
	{ "info already ending in _info", { FAM("x_info", OM_INFO, NULL, -EINVAL) } },
	{ "name starting with a digit", { FAM("1abc", OM_GAUGE, NULL, -EINVAL) } },
	{ "empty name", { FAM("", OM_GAUGE, NULL, -EINVAL) } },
	{ "NULL name", { FAM(NULL, OM_GAUGE, NULL, -EINVAL) } },
	{ "name with a dash", { FAM("a-b", OM_GAUGE, NULL, -EINVAL) } },
	{ "name with a space", { FAM("a b", OM_GAUGE, NULL, -EINVAL) } },
	{ "name with UTF-8", { FAM("caf\xc3\xa9", OM_GAUGE, NULL, -EINVAL) } },
	{ "name with colons is fine", { FAM(":a:b_1", OM_GAUGE, NULL, 0) } },
	{ "bad type", { FAM("t", OM_TYPE_MAX, NULL, -EINVAL) } },
	{ "unit not at the end of the name", { FAM("x_seconds", OM_GAUGE, "bytes", -EINVAL) } },
	{ "unit without _ before it", { FAM("xbytes", OM_GAUGE, "bytes", -EINVAL) } },
	{ "unit is the whole name", { FAM("bytes", OM_GAUGE, "bytes", -EINVAL) } },
	{ "unit on an info", { FAM("x_bytes", OM_INFO, "bytes", -EINVAL) } },
	{ "unit with a bad character", { FAM("x_a-b", OM_GAUGE, "a-b", -EINVAL) } },
	{ "matching unit is fine", { FAM("x_bytes", OM_COUNTER, "bytes", 0) } },
	{ "label name starting with a digit", { GAUGE, SAMPLE(-EINVAL, { "1a", "v" }) } },
	{ "label name starting with __", { GAUGE, SAMPLE(-EINVAL, { "__name__", "v" }) } },
	{ "label name with a colon", { GAUGE, SAMPLE(-EINVAL, { "a:b", "v" }) } },
	{ "empty label name", { GAUGE, SAMPLE(-EINVAL, { "", "v" }) } },
	{ "NULL label value", { GAUGE, SAMPLE(-EINVAL, { "a", NULL }) } },
	{ "label name with one _ is fine", { GAUGE, SAMPLE(0, { "_a", "v" }) } },
	{ "duplicate label names",
	  { GAUGE, SAMPLE(-EINVAL, { "a", "1" }, { "b", "2" }, { "a", "3" }) } },
	{ "invalid UTF-8 label value", { GAUGE, SAMPLE(-EILSEQ, { "a", "\xff" }) } },
	{ "overlong UTF-8", { GAUGE, SAMPLE(-EILSEQ, { "a", "\xc0\xaf" }) } },
	{ "UTF-16 surrogate in UTF-8", { GAUGE, SAMPLE(-EILSEQ, { "a", "\xed\xa0\x80" }) } },
	{ "truncated UTF-8", { GAUGE, SAMPLE(-EILSEQ, { "a", "\xe2\x82" }) } },
	{ "negative counter", { COUNTER, { OP_SAMPLE, .value = -1, .want = -EINVAL } } },
	{ "NaN counter", { COUNTER, { OP_SAMPLE, .value = NAN, .want = -EINVAL } } },
	{ "finish twice", { { .kind = OP_FINISH }, { .kind = OP_FINISH, .want = -EINVAL } } },
	{ "family after finish", { { .kind = OP_FINISH }, FAM("g", OM_GAUGE, NULL, -EINVAL) } },
	{ "sample after finish", { GAUGE, { .kind = OP_FINISH }, SAMPLE(-EINVAL) } },
};

static int run_op(struct om_writer *w, const struct op *op)
{
	switch (op->kind) {
	case OP_FAMILY:
		return om_family(w, op->name, op->type, op->unit, "help");
	case OP_SAMPLE:
		return om_sample(w, op->labels, count_labels(op->labels), op->value, 0);
	case OP_FINISH:
		return om_finish(w);
	default:
		return -ENOSYS;
	}
}

static void test_reject(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(reject_cases); i++) {
		const struct reject_case *c = &reject_cases[i];

		for (int fmt = 0; fmt < OM_FMT_MAX; fmt++) {
			struct om_writer *w = om_writer__new(fmt);

			assert_non_null(w);
			for (size_t j = 0; j < ARRAY_SIZE(c->ops) && c->ops[j].kind; j++) {
				size_t before, after;
				char *copy = strdup(om_writer__data(w, &before));
				int err = run_op(w, &c->ops[j]);

				if (err != c->ops[j].want)
					fail_msg("%s (op %zu, fmt %d): got %d, want %d", c->what, j,
						 fmt, err, c->ops[j].want);
				/* A rejected call must not leave half a line behind. */
				if (err)
					assert_string_equal(om_writer__data(w, &after), copy);
				free(copy);
			}
			om_writer__free(w);
		}
	}
}

/* ---- numbers ---- */

/* The value text of a one-sample gauge family written by fn. */
static const char *value_text(struct om_writer *w, double v, bool use_u64, uint64_t u)
{
	const char *data;

	om_writer__reset(w, OM_FMT_PROMETHEUS);
	assert_int_equal(om_family(w, "g", OM_GAUGE, NULL, NULL), 0);
	if (use_u64)
		assert_int_equal(om_sample_u64(w, NULL, 0, u, 0), 0);
	else
		assert_int_equal(om_sample(w, NULL, 0, v, 0), 0);
	data = om_writer__data(w, NULL);
	assert_true(!strncmp(data, "# TYPE g gauge\ng ", 17));
	return data + 17;
}

struct number_case {
	double v;
	uint64_t u;
	bool use_u64;
	const char *want;
};

static const struct number_case number_cases[] = {
	{ .v = 0, .want = "0\n" },
	{ .v = -0.0, .want = "0\n" },
	{ .v = 1234, .want = "1234\n" },
	{ .v = -42, .want = "-42\n" },
	{ .v = 0.5, .want = "0.5\n" },
	{ .v = 0.1, .want = "0.1\n" },
	{ .v = 1.0 / 3, .want = "0.3333333333333333\n" },
	{ .v = -2.5e-7, .want = "-2.5e-07\n" },
	{ .v = 123456.5, .want = "123456.5\n" },
	{ .v = 1099511627776.0, .want = "1099511627776\n" },		   /* 1 TiB: no exponent */
	{ .v = 9007199254740992.0, .want = "9007199254740992\n" },	   /* 2^53 */
	{ .v = 18446744073709551616.0, .want = "18446744073709551616\n" }, /* 2^64 */
	{ .v = 1e20, .want = "100000000000000000000\n" },
	{ .v = 1e21, .want = "1e+21\n" },
	{ .v = 1.7976931348623157e308, .want = "1.7976931348623157e+308\n" },
	{ .v = 5e-324, .want = "4.94065645841247e-324\n" },
	{ .v = NAN, .want = "NaN\n" },
	{ .v = INFINITY, .want = "+Inf\n" },
	{ .v = -INFINITY, .want = "-Inf\n" },
	{ .u = 0, .use_u64 = true, .want = "0\n" },
	{ .u = 18446744073709551615ULL, .use_u64 = true, .want = "18446744073709551615\n" },
	{ .u = 9007199254740993ULL, .use_u64 = true, .want = "9007199254740993\n" }, /* 2^53+1 */
};

static void test_numbers(void **state)
{
	struct om_writer *w = om_writer__new(OM_FMT_PROMETHEUS);

	assert_non_null(w);
	for (size_t i = 0; i < ARRAY_SIZE(number_cases); i++) {
		const struct number_case *c = &number_cases[i];

		assert_string_equal(value_text(w, c->v, c->use_u64, c->u), c->want);
	}
	om_writer__free(w);
}

/* Whatever the double, its text reads back as the same double. */
static void test_numbers_round_trip(void **state)
{
	struct om_writer *w = om_writer__new(OM_FMT_PROMETHEUS);
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	assert_non_null(w);
	for (int i = 0; i < 100000; i++) {
		double v;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
		memcpy(&v, &x, sizeof(v));
		if (isnan(v) || isinf(v))
			continue;
		if (strtod(value_text(w, v, false, 0), NULL) != v)
			fail_msg("%.17g printed as %s", v, value_text(w, v, false, 0));
	}
	om_writer__free(w);
}

/* ---- # EOF, # UNIT and reuse ---- */

static size_t count_substr(const char *s, const char *sub)
{
	size_t n = 0;

	for (; (s = strstr(s, sub)); s += strlen(sub))
		n++;
	return n;
}

static const struct family_spec small_exposition[] = {
	{ "a_bytes", OM_COUNTER, "bytes", "A", { { { { "vm", "x" } }, .value = 1 } }, 1 },
	{ "b", OM_GAUGE, NULL, "B", { { .value = 2 } }, 1 },
	{ 0 },
};

static void test_eof_once(void **state)
{
	struct om_writer *w = om_writer__new(OM_FMT_OPENMETRICS);
	const char *data;
	size_t len;

	assert_non_null(w);
	assert_int_equal(build(w, small_exposition), 0);
	assert_int_equal(om_finish(w), -EINVAL);
	data = om_writer__data(w, &len);
	assert_int_equal(count_substr(data, "# EOF"), 1);
	assert_true(len > 7 && !strcmp(data + len - 7, "\n# EOF\n"));
	assert_int_equal(count_substr(data, "# UNIT a_bytes bytes\n"), 1);

	om_writer__reset(w, OM_FMT_PROMETHEUS);
	assert_int_equal(build(w, small_exposition), 0);
	data = om_writer__data(w, &len);
	assert_int_equal(count_substr(data, "# EOF"), 0);
	assert_int_equal(count_substr(data, "# UNIT"), 0);
	assert_int_equal(data[len - 1], '\n');
	om_writer__free(w);
}

/*
 * A scrape every 10 ms must not allocate: once grown, the buffer is reused.
 * The data pointer staying the same across reset and rewrite shows it.
 */
static void test_reset_reuses_buffer(void **state)
{
	struct om_writer *w = om_writer__new(OM_FMT_OPENMETRICS);
	const char *first = NULL, *second;
	char *copy = NULL;
	size_t len1 = 0, len2;

	assert_non_null(w);
	for (int round = 0; round < 3; round++) {
		om_writer__reset(w, OM_FMT_OPENMETRICS);
		assert_int_equal(om_family(w, "g", OM_GAUGE, NULL, "G"), 0);
		for (int i = 0; i < 5000; i++) {
			char vm[16];
			struct om_label l = { "vm", vm };

			snprintf(vm, sizeof(vm), "vm%d", i);
			assert_int_equal(om_sample(w, &l, 1, i, 0), 0);
		}
		assert_int_equal(om_finish(w), 0);
		if (round == 1) {
			first = om_writer__data(w, &len1);
			copy = strdup(first);
		}
	}
	second = om_writer__data(w, &len2);
	assert_ptr_equal(first, second);
	assert_int_equal(len1, len2);
	assert_string_equal(copy, second);
	assert_true(len2 > 5000 * 10);
	assert_int_equal(count_substr(second, "\n"), 5000 + 3);
	free(copy);

	om_writer__reset(w, OM_FMT_PROMETHEUS);
	assert_string_equal(om_writer__data(w, &len1), "");
	assert_int_equal(len1, 0);
	/* The family names are forgotten too: "g" is new again. */
	assert_int_equal(om_family(w, "g", OM_GAUGE, NULL, NULL), 0);
	om_writer__free(w);
}

/* ---- negotiation ---- */

struct negotiate_case {
	const char *accept;
	enum om_format want;
};

static const struct negotiate_case negotiate_cases[] = {
	{ NULL, OM_FMT_PROMETHEUS },
	{ "", OM_FMT_PROMETHEUS },
	{ "*/*", OM_FMT_PROMETHEUS }, /* curl */
	{ PROMETHEUS_ACCEPT, OM_FMT_OPENMETRICS },
	/* Prometheus 2.5 .. 2.4x without version=1.0.0 */
	{ "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
	  OM_FMT_OPENMETRICS },
	{ "text/plain;version=0.0.4;q=1,*/*;q=0.1", OM_FMT_PROMETHEUS }, /* Prometheus < 2.5 */
	{ "application/openmetrics-text", OM_FMT_OPENMETRICS },
	{ "application/openmetrics-text; version=1.0.0; charset=utf-8", OM_FMT_OPENMETRICS },
	{ "APPLICATION/OpenMetrics-Text", OM_FMT_OPENMETRICS },
	{ "text/plain, application/openmetrics-text;q=0.2", OM_FMT_OPENMETRICS },
	{ "application/openmetrics-text;q=0", OM_FMT_PROMETHEUS },
	{ "application/openmetrics-text; Q=0.000, text/plain", OM_FMT_PROMETHEUS },
	{ "application/openmetrics-text;version=1.0.0;q=0.001", OM_FMT_OPENMETRICS },
	{ "application/openmetrics-textual", OM_FMT_PROMETHEUS },
	{ "application/json, application/openmetrics-text;x=\"a,b\";q=0.5", OM_FMT_OPENMETRICS },
	{ "text/plain;x=\"application/openmetrics-text\"", OM_FMT_PROMETHEUS },
};

static void test_negotiate(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(negotiate_cases); i++) {
		const struct negotiate_case *c = &negotiate_cases[i];
		enum om_format got = om_negotiate(c->accept);

		if (got != c->want)
			fail_msg("Accept: %s: got format %d, want %d",
				 c->accept ? c->accept : "(none)", got, c->want);
	}
	assert_string_equal(om_content_type(OM_FMT_OPENMETRICS),
			    "application/openmetrics-text; version=1.0.0; charset=utf-8");
	assert_string_equal(om_content_type(OM_FMT_PROMETHEUS),
			    "text/plain; version=0.0.4; charset=utf-8");
}

/* ---- the parsers scrapers use ---- */

static const struct family_spec realistic[] = {
	{ "migtrace_build",
	  OM_INFO,
	  NULL,
	  "migtrace build information",
	  { { { { "version", "0.1.0" }, { "kernel", "6.1.0-18-amd64" } }, .value = 1 } },
	  1 },
	{ "migtrace_vm_dirty_bytes",
	  OM_COUNTER,
	  "bytes",
	  "Guest memory bytes dirtied",
	  { { { { "vm", "web-1" }, { "qemu_pid", "1234" } },
	      .u64 = 18446744073709551615ULL,
	      .use_u64 = true },
	    { { { "vm", "db \"primary\"\n\\ \xc3\xa9" }, { "qemu_pid", "99" } },
	      .u64 = 4096,
	      .use_u64 = true } },
	  2 },
	{ "migtrace_vm_dirty_rate_bytes_per_second",
	  OM_GAUGE,
	  "bytes_per_second",
	  "Dirty rate over the last window \"\\\"\nsecond line",
	  { { { { "vm", "web-1" } }, .value = 123456.5 },
	    { { { "vm", "idle" } }, .value = NAN },
	    { { { "vm", "hot" } }, .value = INFINITY } },
	  3 },
	{ "migtrace_scrape_duration_seconds",
	  OM_GAUGE,
	  "seconds",
	  "Time spent rendering",
	  { { .value = 0.000123 } },
	  1 },
	{ "migtrace_migrations",
	  OM_COUNTER,
	  NULL,
	  "Migrations observed",
	  { { { { "vm", "web-1" }, { "result", "completed" } }, .value = 3 } },
	  1 },
};

/* Exit status of "cmd 'file'" run by the shell (quiet: output discarded). */
static int run_check(const char *cmd, const char *file, bool quiet)
{
	char line[1024];
	int st;

	snprintf(line, sizeof(line), "%s%s%s%s%s", cmd, file ? " '" : "", file ? file : "",
		 file ? "'" : "", quiet ? " >/dev/null 2>&1" : "");
	st = system(line);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

#define PROMTOOL_CHECK "promtool check metrics <"
#define PY	       "/usr/bin/python3"
#define PY_OM_CHECK                                                                                \
	PY " -c 'import sys; from prometheus_client.openmetrics.parser import "                    \
	   "text_string_to_metric_families as p; "                                                 \
	   "list(p(open(sys.argv[1], encoding=\"utf-8\").read()))'"

/* Missing tools fail the test under CI=true, else skip it. */
static void require_tool(const char *probe, const char *what)
{
	if (run_check(probe, NULL, true) == 0)
		return;
	if (mt_test_require(what))
		fail();
	skip();
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void check_with(enum om_format fmt, const char *checker, const char *broken_line)
{
	struct om_writer *w = om_writer__new(fmt);
	char path[] = "/tmp/test_openmetrics.XXXXXX";
	const char *data;
	char *bad;
	size_t len;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	assert_non_null(w);
	assert_int_equal(build(w, realistic), 0);
	data = om_writer__data(w, &len);
	write_file(path, data, len);
	if (run_check(checker, path, false) != 0)
		fail_msg("%s rejected:\n%s", checker, data);

	/* Prove the check can fail: the same text with one broken line before the end. */
	bad = malloc(len + strlen(broken_line) + 1);
	assert_non_null(bad);
	len -= fmt == OM_FMT_OPENMETRICS ? strlen("# EOF\n") : 0;
	memcpy(bad, data, len);
	strcpy(bad + len, broken_line);
	if (fmt == OM_FMT_OPENMETRICS)
		strcat(bad, "# EOF\n");
	write_file(path, bad, strlen(bad));
	assert_int_not_equal(run_check(checker, path, true), 0);
	free(bad);
	unlink(path);
	om_writer__free(w);
}

static void test_promtool_accepts(void **state)
{
	require_tool("command -v promtool", "promtool (Debian package prometheus)");
	check_with(OM_FMT_PROMETHEUS, PROMTOOL_CHECK, "migtrace_broken{vm=\"x} 1\n");
}

static void test_python_openmetrics_accepts(void **state)
{
	require_tool(PY " -c 'import prometheus_client.openmetrics.parser'",
		     "/usr/bin/python3 with prometheus_client (Debian package "
		     "python3-prometheus-client)");
	/* A negative counter total: the strict parser must refuse it. */
	check_with(OM_FMT_OPENMETRICS, PY_OM_CHECK, "migtrace_migrations_total{vm=\"x\"} -1\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_numbers_round_trip),
		cmocka_unit_test(test_eof_once),
		cmocka_unit_test(test_reset_reuses_buffer),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_promtool_accepts),
		cmocka_unit_test(test_python_openmetrics_accepts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
