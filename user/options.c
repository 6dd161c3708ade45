// SPDX-License-Identifier: GPL-2.0-only
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "options.h"

enum {
	OPT_INTERVAL = 1000,
	OPT_QMP_INTERVAL,
	OPT_QMP_TIMEOUT,
	OPT_SOCKET_MODE,
	OPT_ATTACH,
	OPT_NO_BPF,
	OPT_DURATION,
	OPT_TRACK,
	OPT_PAGE_TAGS,
	OPT_NO_DETAIL,
	OPT_QMP_GLOB,
};

static const char serve_doc[] =
	"Trace KVM dirty logging in the kernel, join it with QEMU's QMP view and serve "
	"OpenMetrics on a Unix socket.\n"
	"\n"
	"EXAMPLES:\n"
	"  migtrace serve --qmp /run/vm1-migtrace.qmp\n"
	"  migtrace serve --socket /tmp/mt.sock --interval 10ms --qmp a.qmp --qmp b.qmp\n"
	"  curl --unix-socket /run/migtrace/migtrace.sock http://localhost/metrics\n"
	"\n"
	"Give each QEMU a monitor of its own for migtrace: "
	"-qmp unix:PATH,server=on,wait=off (a QMP socket serves one client at a time).\v"
	"Durations take a unit: ns, us, ms, s, m (a bare number is milliseconds).";

static const struct argp_option serve_options[] = {
	{ "socket", 's', "PATH", 0,
	  "Serve metrics on this Unix socket (default " MT_DEFAULT_SOCKET ")", 0 },
	{ "socket-mode", OPT_SOCKET_MODE, "MODE", 0, "Octal mode of the socket (default 0660)", 0 },
	{ "qmp", 'q', "PATH", 0, "QEMU QMP monitor socket to follow (repeatable)", 0 },
	{ "qmp-glob", OPT_QMP_GLOB, "PATTERN", 0,
	  "Follow QMP sockets matching this glob as they appear and disappear, rescanned every "
	  "second (repeatable; quote it)",
	  0 },
	{ "interval", OPT_INTERVAL, "DURATION", 0, "Sampling interval (default 100ms; 1ms..60s)",
	  0 },
	{ "qmp-interval", OPT_QMP_INTERVAL, "DURATION", 0, "QMP polling interval (default 100ms)",
	  0 },
	{ "qmp-timeout", OPT_QMP_TIMEOUT, "DURATION", 0,
	  "Deadline of each QMP request (default 1s)", 0 },
	{ "attach", OPT_ATTACH, "auto|raw|classic", 0,
	  "Tracepoint attach mode (default auto: raw_tp, else classic)", 0 },
	{ "no-bpf", OPT_NO_BPF, NULL, 0, "Do not load BPF programs (QMP data only)", 0 },
	{ "no-detail", OPT_NO_DETAIL, NULL, 0,
	  "Counters and rates only: no passes, re-dirty curves or distinct pages (cheaper)", 0 },
	{ "track", OPT_TRACK, "all|qmp", 0,
	  "Processes BPF counts: every KVM process (default) or only the --qmp ones", 0 },
	{ "page-bits", OPT_PAGE_TAGS, "N", 0,
	  "Hashed page bits per VM for distinct-page counting, a power of two 1024..16777216 "
	  "(default 65536)",
	  0 },
	{ "duration", OPT_DURATION, "DURATION", 0,
	  "Exit after this long (default: run until signalled)", 0 },
	{ "verbose", 'v', NULL, 0, "Debug output, including libbpf's", 0 },
	{ 0 },
};

int mt_parse_duration(const char *s, uint64_t *ret_ns)
{
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "", 1e6 },
	};
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix))
			continue;
		v *= units[i].mult;
		if (v >= 1.8e19)
			return -ERANGE;
		*ret_ns = (uint64_t)(v + 0.5);
		return 0;
	}
	return -EINVAL;
}

int mt_parse_mode(const char *s, mode_t *ret_mode)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 8);
	if (errno || *end || v < 0 || v > 07777)
		return -EINVAL;
	*ret_mode = (mode_t)v;
	return 0;
}

static int parse_duration_opt(struct argp_state *state, const char *arg, uint64_t min_ns,
			      uint64_t max_ns, uint64_t *ret_ns)
{
	uint64_t ns;

	if (mt_parse_duration(arg, &ns)) {
		argp_error(state, "invalid duration '%s' (examples: 10ms, 1s, 250us)", arg);
		return EINVAL;
	}
	if (ns < min_ns || ns > max_ns) {
		argp_error(state, "duration '%s' out of range (%gms..%gs)", arg, min_ns / 1e6,
			   max_ns / 1e9);
		return ERANGE;
	}
	*ret_ns = ns;
	return 0;
}

static error_t parse_attach(struct argp_state *state, const char *arg, struct mt_options *o)
{
	static const char *const names[MT_PREF_MAX] = { "auto", "raw", "classic" };

	for (int i = 0; i < MT_PREF_MAX; i++) {
		if (!strcmp(arg, names[i])) {
			o->attach = i;
			return 0;
		}
	}
	argp_error(state, "invalid --attach '%s' (auto, raw or classic)", arg);
	return EINVAL;
}

static error_t parse_track(struct argp_state *state, const char *arg, struct mt_options *o)
{
	if (!strcmp(arg, "all"))
		o->track = MT_TRACK_ALL;
	else if (!strcmp(arg, "qmp"))
		o->track = MT_TRACK_QMP;
	else {
		argp_error(state, "invalid --track '%s' (all or qmp)", arg);
		return EINVAL;
	}
	return 0;
}

int mt_parse_page_tags(const char *s, unsigned int *ret_bits)
{
	char *end;
	unsigned long long v;
	unsigned int bits = 0;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || !v || (v & (v - 1)))
		return -EINVAL;
	while ((1ULL << bits) < v)
		bits++;
	if (bits < 10 || bits > MT_MAX_SKETCH_BITS)
		return -ERANGE;
	*ret_bits = bits;
	return 0;
}

static error_t serve_parse(int key, char *arg, struct argp_state *state)
{
	struct mt_options *o = state->input;

	switch (key) {
	case 's':
		if (!*arg) {
			argp_error(state, "--socket needs a path");
			return EINVAL;
		}
		o->socket_path = arg;
		return 0;
	case OPT_SOCKET_MODE:
		if (mt_parse_mode(arg, &o->socket_mode)) {
			argp_error(state, "invalid --socket-mode '%s' (octal, e.g. 0660)", arg);
			return EINVAL;
		}
		return 0;
	case 'q':
		if (o->nqmp >= MT_MAX_QMP) {
			argp_error(state, "too many --qmp sockets (at most %d)", MT_MAX_QMP);
			return E2BIG;
		}
		o->qmp[o->nqmp++] = arg;
		return 0;
	case OPT_QMP_GLOB:
		if (o->nglobs >= MT_MAX_GLOBS || !*arg) {
			argp_error(state, "--qmp-glob: a pattern, at most %d of them",
				   MT_MAX_GLOBS);
			return E2BIG;
		}
		o->qmp_globs[o->nglobs++] = arg;
		return 0;
	case OPT_INTERVAL:
		return parse_duration_opt(state, arg, 1000000ULL, 60000000000ULL, &o->interval_ns);
	case OPT_QMP_INTERVAL:
		return parse_duration_opt(state, arg, 1000000ULL, 60000000000ULL,
					  &o->qmp_interval_ns);
	case OPT_QMP_TIMEOUT:
		return parse_duration_opt(state, arg, 1000000ULL, 60000000000ULL,
					  &o->qmp_timeout_ns);
	case OPT_DURATION:
		return parse_duration_opt(state, arg, 1000000ULL, 31536000000000000ULL,
					  &o->duration_ns);
	case OPT_ATTACH:
		return parse_attach(state, arg, o);
	case OPT_TRACK:
		return parse_track(state, arg, o);
	case OPT_PAGE_TAGS:
		if (mt_parse_page_tags(arg, &o->sketch_bits)) {
			argp_error(state,
				   "invalid --page-bits '%s' (a power of two, 1024..16777216)",
				   arg);
			return EINVAL;
		}
		return 0;
	case OPT_NO_BPF:
		o->no_bpf = 1;
		return 0;
	case OPT_NO_DETAIL:
		o->no_detail = 1;
		return 0;
	case 'v':
		o->verbose = 1;
		return 0;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp serve_argp = { serve_options, serve_parse, NULL, serve_doc,
					NULL,	       NULL,	    NULL };

int mt_options_parse(int argc, char **argv, unsigned int flags, struct mt_options *opts)
{
	*opts = (struct mt_options){
		.socket_path = MT_DEFAULT_SOCKET,
		.socket_mode = 0660,
		.interval_ns = 100000000ULL,
		.qmp_interval_ns = 100000000ULL,
		.qmp_timeout_ns = 1000000000ULL,
		.sketch_bits = MT_DEFAULT_SKETCH_BITS,
	};
	if (argp_parse(&serve_argp, argc, argv, flags | ARGP_IN_ORDER, NULL, opts))
		return -EINVAL;
	return 0;
}
