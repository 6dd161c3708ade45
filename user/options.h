/* SPDX-License-Identifier: GPL-2.0-only */
/* Command-line options of `migtrace serve` (argp), parsed into one struct. */
#ifndef MT_OPTIONS_H
#define MT_OPTIONS_H

#include <stdint.h>
#include <sys/types.h>
#include "tracer.h"

#define MT_MAX_QMP	  256
#define MT_MAX_GLOBS	  16
#define MT_DEFAULT_SOCKET "/run/migtrace/migtrace.sock"

struct mt_options {
	const char *socket_path;
	mode_t socket_mode;
	const char *qmp[MT_MAX_QMP];
	int nqmp;
	const char *qmp_globs[MT_MAX_GLOBS]; /* sockets that appear and disappear */
	int nglobs;
	uint64_t interval_ns;	  /* sampling period */
	uint64_t qmp_interval_ns; /* QMP poll period */
	uint64_t qmp_timeout_ns;  /* per-request deadline */
	uint64_t duration_ns;	  /* 0: run until a signal */
	enum mt_attach_pref attach;
	enum mt_track track;	  /* which processes BPF follows */
	unsigned int sketch_bits; /* hashed page bits per VM = 2^bits */
	int no_bpf;
	int no_detail;
	int verbose;
};

/*
 * Defaults, then argp over argv (argv[0] is the subcommand name). flags are
 * argp flags: 0 in the program (argp exits on --help and on errors with
 * status 64), ARGP_NO_EXIT in tests. 0, or -EINVAL after printing a one-line
 * error and a usage hint to stderr.
 */
int mt_options_parse(int argc, char **argv, unsigned int flags, struct mt_options *opts);
/* "10ms", "1.5s", "250us", "2m" or a bare number of milliseconds -> ns. 0 or -EINVAL/-ERANGE. */
int mt_parse_duration(const char *s, uint64_t *ret_ns);
/* Number of page bits (a power of two, 2^10..2^24) -> its log2. 0, -EINVAL or -ERANGE. */
int mt_parse_page_tags(const char *s, unsigned int *ret_bits);
/* Octal file mode such as "0660". 0 or -EINVAL. */
int mt_parse_mode(const char *s, mode_t *ret_mode);

#endif
