/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one writer of metrics exposition. It owns # TYPE/# UNIT/# HELP lines,
 * name suffixes (_total, _info), label escaping, number and timestamp
 * formatting and the closing # EOF. Nothing else in migtrace prints metrics.
 */
#ifndef MT_OPENMETRICS_H
#define MT_OPENMETRICS_H

#include <stddef.h>
#include <stdint.h>

enum om_format {
	OM_FMT_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
	OM_FMT_PROMETHEUS,  /* text/plain; version=0.0.4 */
	OM_FMT_MAX,
};

enum om_type { OM_GAUGE, OM_COUNTER, OM_INFO, OM_TYPE_MAX };

struct om_label {
	const char *name;
	const char *value;
};

struct om_writer;

struct om_writer *om_writer__new(enum om_format fmt);
void om_writer__free(struct om_writer *w);
/* Forget all output and start a new exposition in the given format. */
void om_writer__reset(struct om_writer *w, enum om_format fmt);
/* Content-Type header value for the writer's format. */
const char *om_content_type(enum om_format fmt);
/*
 * Begin a metric family. name is the family name: without _total for
 * counters, without _info for info. If unit is non-NULL the name must end in
 * "_<unit>". Returns 0 or -EINVAL (bad name, unit mismatch, reused name).
 */
int om_family(struct om_writer *w, const char *name, enum om_type type, const char *unit,
	      const char *help);
/*
 * One sample of the current family. Counters get _total, infos _info
 * (value 1). ts_ns: 0 for none, else CLOCK_REALTIME ns (OpenMetrics prints
 * seconds, Prometheus text milliseconds). Returns 0 or -errno.
 */
int om_sample(struct om_writer *w, const struct om_label *labels, size_t nlabels, double value,
	      uint64_t ts_ns);
/* The same with an exact 64-bit integer value (counters). */
int om_sample_u64(struct om_writer *w, const struct om_label *labels, size_t nlabels,
		  uint64_t value, uint64_t ts_ns);
/* Close the exposition (# EOF for OpenMetrics). */
int om_finish(struct om_writer *w);
/* The text so far; valid until the next call on w. */
const char *om_writer__data(const struct om_writer *w, size_t *ret_len);
/* Pick the format an HTTP Accept header asks for (NULL: Prometheus text). */
enum om_format om_negotiate(const char *accept);

#endif
