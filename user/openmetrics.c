// SPDX-License-Identifier: GPL-2.0-only
/*
 * OpenMetrics 1.0 / Prometheus text 0.0.4 writer (the way bpftool's
 * json_writer owns JSON). The writer validates what it is given, so a bad
 * name or label can never produce an exposition that a scraper rejects as a
 * whole: a failing call returns -errno and leaves the output untouched.
 *
 * Scrapes may come every few milliseconds, so nothing here allocates once the
 * buffers have grown to the size of a typical exposition: om_writer__reset()
 * keeps both the output buffer and the name arena.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "openmetrics.h"

#define OM_INITIAL_CAP 4096

struct om_buf {
	char *p;
	size_t len;
	size_t cap;
};

struct om_writer {
	enum om_format fmt;
	struct om_buf out;
	/*
	 * Every name a family reserves (its own name plus its sample names,
	 * NUL-separated), for the "clashing name" rule of OpenMetrics: a gauge
	 * foo_total after a counter foo is as bad as a second foo.
	 */
	struct om_buf names;
	size_t family_off; /* offset of the current family's name in names */
	enum om_type type;
	bool in_family;
	bool finished;
};

static const char *const type_name[OM_TYPE_MAX] = {
	[OM_GAUGE] = "gauge",
	[OM_COUNTER] = "counter",
	[OM_INFO] = "info",
};

/* Sample-name suffixes per type; the family name itself is reserved too. */
static const char *const type_suffix[OM_TYPE_MAX] = {
	[OM_GAUGE] = "",
	[OM_COUNTER] = "_total",
	[OM_INFO] = "_info",
};

static int buf__reserve(struct om_buf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : OM_INITIAL_CAP;
	char *p;

	/* +1 keeps room for the NUL that om_writer__data() promises. */
	while (cap < b->len + extra + 1)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf__put(struct om_buf *b, const char *s, size_t n)
{
	int err = buf__reserve(b, n);

	if (err)
		return err;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int buf__puts(struct om_buf *b, const char *s)
{
	return buf__put(b, s, strlen(s));
}

struct om_writer *om_writer__new(enum om_format fmt)
{
	struct om_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	if (buf__reserve(&w->out, 0) || buf__reserve(&w->names, 0)) {
		om_writer__free(w);
		errno = ENOMEM;
		return NULL;
	}
	om_writer__reset(w, fmt);
	return w;
}

void om_writer__free(struct om_writer *w)
{
	if (!w)
		return;
	free(w->out.p);
	free(w->names.p);
	free(w);
}

void om_writer__reset(struct om_writer *w, enum om_format fmt)
{
	w->fmt = fmt < OM_FMT_MAX ? fmt : OM_FMT_PROMETHEUS;
	w->out.len = 0;
	w->names.len = 0;
	if (w->out.p)
		w->out.p[0] = '\0';
	w->in_family = false;
	w->finished = false;
}

const char *om_content_type(enum om_format fmt)
{
	if (fmt == OM_FMT_OPENMETRICS)
		return "application/openmetrics-text; version=1.0.0; charset=utf-8";
	return "text/plain; version=0.0.4; charset=utf-8";
}

const char *om_writer__data(const struct om_writer *w, size_t *ret_len)
{
	if (ret_len)
		*ret_len = w->out.len;
	return w->out.p ? w->out.p : "";
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* (colons are allowed in metric names only). */
static bool name_valid(const char *s, bool colon)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (colon && c == ':')))
			return false;
	}
	return true;
}

static bool label_name_valid(const char *s)
{
	/* Names starting with __ are reserved for Prometheus itself. */
	return name_valid(s, false) && strncmp(s, "__", 2) != 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Does the arena hold name + suffix? */
static bool names__has(const struct om_buf *names, const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	for (size_t off = 0; off < names->len;) {
		const char *s = names->p + off;
		size_t len = strlen(s);

		if (len == n + m && !memcmp(s, name, n) && !memcmp(s + n, suffix, m))
			return true;
		off += len + 1;
	}
	return false;
}

static int names__add(struct om_buf *names, const char *name, const char *suffix)
{
	size_t old = names->len;
	int err;

	err = buf__puts(names, name);
	if (!err)
		err = buf__put(names, suffix, strlen(suffix) + 1);
	if (err)
		names->len = old;
	return err;
}

static int check_family(const struct om_writer *w, const char *name, enum om_type type,
			const char *unit)
{
	if (w->finished || (unsigned int)type >= OM_TYPE_MAX || !name_valid(name, true))
		return -EINVAL;
	/* The writer adds the suffix; a caller passing it would get foo_total_total. */
	if (type != OM_GAUGE && ends_with(name, type_suffix[type]))
		return -EINVAL;
	if (unit) {
		size_t n = strlen(name), m = strlen(unit);

		/* OpenMetrics: the name ends in _<unit>; info metrics have no unit. */
		if (type == OM_INFO || !name_valid(unit, false) || n <= m + 1 ||
		    name[n - m - 1] != '_' || strcmp(name + n - m, unit))
			return -EINVAL;
	}
	if (names__has(&w->names, name, "") || names__has(&w->names, name, type_suffix[type]))
		return -EINVAL;
	if (type == OM_COUNTER && names__has(&w->names, name, "_created"))
		return -EINVAL;
	return 0;
}

static int reserve_names(struct om_writer *w, const char *name, enum om_type type)
{
	size_t old = w->names.len;
	int err;

	err = names__add(&w->names, name, "");
	if (!err && type != OM_GAUGE)
		err = names__add(&w->names, name, type_suffix[type]);
	if (!err && type == OM_COUNTER)
		err = names__add(&w->names, name, "_created");
	if (err)
		w->names.len = old;
	return err;
}

/*
 * Escape a label value or HELP text. Label values always escape \, " and
 * newline; Prometheus 0.0.4 HELP escapes only \ and newline (a \" there would
 * be read back literally). Bytes >= 0x80 pass through: text is UTF-8.
 */
static int put_escaped(struct om_buf *b, const char *s, bool quote)
{
	const char *run = s;
	int err = 0;

	for (; *s && !err; s++) {
		const char *esc = NULL;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (*s == '"' && quote)
			esc = "\\\"";
		if (!esc)
			continue;
		err = buf__put(b, run, s - run);
		if (!err)
			err = buf__puts(b, esc);
		run = s + 1;
	}
	if (!err)
		err = buf__put(b, run, s - run);
	return err;
}

/* One "# KEYWORD name[suffix] text" line. */
static int put_meta(struct om_buf *b, const char *kw, const char *name, const char *suffix,
		    const char *text, bool escape, bool quote)
{
	int err;

	err = buf__puts(b, "# ");
	if (!err)
		err = buf__puts(b, kw);
	if (!err)
		err = buf__puts(b, " ");
	if (!err)
		err = buf__puts(b, name);
	if (!err)
		err = buf__puts(b, suffix);
	if (!err)
		err = buf__puts(b, " ");
	if (!err)
		err = escape ? put_escaped(b, text, quote) : buf__puts(b, text);
	if (!err)
		err = buf__puts(b, "\n");
	return err;
}

static int put_meta_openmetrics(struct om_buf *b, const char *name, enum om_type type,
				const char *unit, const char *help)
{
	int err;

	err = put_meta(b, "TYPE", name, "", type_name[type], false, false);
	if (!err && unit)
		err = put_meta(b, "UNIT", name, "", unit, false, false);
	if (!err && help)
		err = put_meta(b, "HELP", name, "", help, true, true);
	return err;
}

/*
 * Prometheus 0.0.4 names the family by its sample name (foo_total) and has
 * no info type: an info family is the gauge foo_info.
 */
static int put_meta_prometheus(struct om_buf *b, const char *name, enum om_type type,
			       const char *help)
{
	const char *suffix = type_suffix[type];
	int err = 0;

	if (help)
		err = put_meta(b, "HELP", name, suffix, help, true, false);
	if (!err)
		err = put_meta(b, "TYPE", name, suffix, type == OM_INFO ? "gauge" : type_name[type],
			       false, false);
	return err;
}

int om_family(struct om_writer *w, const char *name, enum om_type type, const char *unit,
	      const char *help)
{
	size_t out_len = w->out.len, names_len = w->names.len;
	int err;

	if (unit && !*unit)
		unit = NULL;
	if (help && !*help)
		help = NULL; /* "# HELP name" without text is not valid OpenMetrics */
	err = check_family(w, name, type, unit);
	if (err)
		return err;
	err = reserve_names(w, name, type);
	if (err)
		return err;
	if (w->fmt == OM_FMT_OPENMETRICS)
		err = put_meta_openmetrics(&w->out, name, type, unit, help);
	else
		err = put_meta_prometheus(&w->out, name, type, help);
	if (err) {
		w->out.len = out_len;
		w->names.len = names_len;
		w->out.p[out_len] = '\0';
		return err;
	}
	w->family_off = names_len;
	w->type = type;
	w->in_family = true;
	return 0;
}

/* Is s valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF)? */
static bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned int c = *s, n, cp;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (unsigned int i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		s += n + 1;
	}
	return true;
}

static int check_labels(const struct om_label *labels, size_t nlabels)
{
	if (nlabels && !labels)
		return -EINVAL;
	for (size_t i = 0; i < nlabels; i++) {
		if (!label_name_valid(labels[i].name) || !labels[i].value)
			return -EINVAL;
		if (!utf8_valid(labels[i].value))
			return -EILSEQ;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(labels[i].name, labels[j].name))
				return -EINVAL;
	}
	return 0;
}

static int put_labels(struct om_buf *b, const struct om_label *labels, size_t nlabels)
{
	int err = 0;

	if (!nlabels)
		return 0;
	for (size_t i = 0; i < nlabels && !err; i++) {
		err = buf__puts(b, i ? "," : "{");
		if (!err)
			err = buf__puts(b, labels[i].name);
		if (!err)
			err = buf__puts(b, "=\"");
		if (!err)
			err = put_escaped(b, labels[i].value, true);
		if (!err)
			err = buf__puts(b, "\"");
	}
	if (!err)
		err = buf__puts(b, "}");
	return err;
}

/* Integral and below 1e21? Written without libm (the daemon does not link it). */
static bool is_integral(double v)
{
	double a = v < 0 ? -v : v;

	/* From 2^53 on every double is an integer. */
	if (a >= 9007199254740992.0)
		return a < 1e21;
	return v == (double)(int64_t)v;
}

/*
 * The shortest decimal that reads back as the same double. Integral values
 * print without exponent or point (1234, not 1.234e+03), up to 1e21 where
 * "%.0f" would start printing digits the double does not carry.
 */
static void format_double(char *s, size_t size, double v)
{
	if (isnan(v)) {
		snprintf(s, size, "NaN");
	} else if (isinf(v)) {
		snprintf(s, size, v > 0 ? "+Inf" : "-Inf");
	} else if (is_integral(v)) {
		snprintf(s, size, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
	} else {
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(s, size, "%.*g", prec, v);
			if (strtod(s, NULL) == v)
				break;
		}
	}
}

static void format_timestamp(char *s, size_t size, enum om_format fmt, uint64_t ts_ns)
{
	uint64_t ms = ts_ns / 1000000;

	/* OpenMetrics wants seconds; Prometheus 0.0.4 integer milliseconds. */
	if (fmt == OM_FMT_OPENMETRICS)
		snprintf(s, size, "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
	else
		snprintf(s, size, "%" PRIu64, ms);
}

static int put_sample(struct om_writer *w, const struct om_label *labels, size_t nlabels,
		      const char *value, uint64_t ts_ns)
{
	struct om_buf *b = &w->out;
	size_t old = b->len;
	char ts[32];
	int err;

	if (!w->in_family || w->finished)
		return -EINVAL;
	err = check_labels(labels, nlabels);
	if (err)
		return err;
	err = buf__puts(b, w->names.p + w->family_off);
	if (!err)
		err = buf__puts(b, type_suffix[w->type]);
	if (!err)
		err = put_labels(b, labels, nlabels);
	if (!err)
		err = buf__puts(b, " ");
	if (!err)
		err = buf__puts(b, w->type == OM_INFO ? "1" : value);
	if (!err && ts_ns) {
		format_timestamp(ts, sizeof(ts), w->fmt, ts_ns);
		err = buf__puts(b, " ");
		if (!err)
			err = buf__puts(b, ts);
	}
	if (!err)
		err = buf__puts(b, "\n");
	if (err) {
		b->len = old;
		b->p[old] = '\0';
	}
	return err;
}

int om_sample(struct om_writer *w, const struct om_label *labels, size_t nlabels, double value,
	      uint64_t ts_ns)
{
	char num[40];

	/* A counter's total is never NaN nor negative (parsers reject both). */
	if (w->in_family && w->type == OM_COUNTER && (isnan(value) || value < 0))
		return -EINVAL;
	format_double(num, sizeof(num), value);
	return put_sample(w, labels, nlabels, num, ts_ns);
}

int om_sample_u64(struct om_writer *w, const struct om_label *labels, size_t nlabels,
		  uint64_t value, uint64_t ts_ns)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, value);
	return put_sample(w, labels, nlabels, num, ts_ns);
}

int om_finish(struct om_writer *w)
{
	int err = 0;

	if (w->finished)
		return -EINVAL;
	if (w->fmt == OM_FMT_OPENMETRICS)
		err = buf__puts(&w->out, "# EOF\n");
	if (!err)
		w->finished = true;
	return err;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Does the q parameter (if any) in [p, end) allow this range (q > 0)? */
static bool q_positive(const char *p, const char *end)
{
	while ((p = memchr(p, ';', end - p))) {
		for (p++; p < end && is_space(*p); p++)
			;
		if (end - p < 2 || (*p != 'q' && *p != 'Q') || p[1] != '=')
			continue;
		/* q = 0 / 0. / 0.000 / 1 / 1.000 / 0.5: positive iff any non-zero digit. */
		for (p += 2; p < end && ((*p >= '0' && *p <= '9') || *p == '.'); p++)
			if (*p >= '1' && *p <= '9')
				return true;
		return false;
	}
	return true;
}

/*
 * Prometheus 2.42 sends
 *   application/openmetrics-text;version=1.0.0,application/openmetrics-text;
 *   version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,* / *;q=0.1
 * Any OpenMetrics range it does not refuse with q=0 gets OpenMetrics; everything
 * else (curl's * / *, no header) the Prometheus text every scraper can read.
 */
enum om_format om_negotiate(const char *accept)
{
	static const char om_type[] = "application/openmetrics-text";
	const char *p = accept;

	while (p && *p) {
		const char *end = p, *t;
		bool quoted = false;

		/* A range ends at a comma outside a quoted parameter value. */
		for (; *end && (quoted || *end != ','); end++)
			if (*end == '"')
				quoted = !quoted;
		for (t = p; t < end && is_space(*t); t++)
			;
		if ((size_t)(end - t) >= sizeof(om_type) - 1 &&
		    !strncasecmp(t, om_type, sizeof(om_type) - 1)) {
			const char *r = t + sizeof(om_type) - 1;

			while (r < end && is_space(*r))
				r++;
			if ((r == end || *r == ';') && q_positive(r, end))
				return OM_FMT_OPENMETRICS;
		}
		p = *end ? end + 1 : end;
	}
	return OM_FMT_PROMETHEUS;
}
