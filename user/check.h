/* SPDX-License-Identifier: GPL-2.0-only */
/* `migtrace check`: a pre-flight report of what migtrace can use on this machine. */
#ifndef MT_CHECK_H
#define MT_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include "tracer.h"

struct json_object;

enum mt_check_status { MT_CHECK_OK, MT_CHECK_WARN, MT_CHECK_FAIL, MT_CHECK_STATUS_MAX };

/* What an item means for the verdict. */
enum mt_check_role {
	MT_ROLE_INFO,	      /* reported only */
	MT_ROLE_BPF_LOAD,     /* must be ok: BPF programs load */
	MT_ROLE_DIRTY_SOURCE, /* at least one must be ok: a dirty-logging tracepoint attaches */
};

struct mt_check_item {
	char name[64];
	enum mt_check_status status;
	enum mt_check_role role;
	char detail[320];
	struct json_object *extra; /* more JSON fields (mode, value, ...), or NULL */
};

/* argv[0] is "check". Exit status: 0 usable, 1 nothing usable, 64 bad usage. */
int mt_check_main(int argc, char **argv);

/* Pure helpers, exposed for tests. */
const char *mt_check_status_name(enum mt_check_status s); /* "ok", "warn", "fail" */
/* CapEff of a /proc/PID/status text. 0, or -ENOENT (no CapEff line) / -EINVAL. */
int mt_check_parse_capeff(const char *status_text, uint64_t *ret_caps);
/* Whether euid/caps suffice to load and attach tracing BPF programs; detail says what to do. */
enum mt_check_status mt_check_privileges(unsigned int euid, uint64_t caps, char *detail,
					 size_t len);
/* 1 for the tracepoints that count dirtied pages (dirty ring push, write faults, PML). */
int mt_check_is_dirty_source(enum mt_tp tp);
/* A tracepoint's line: its attach mode, or why not and what replaces it. */
void mt_check_tp_detail(const struct mt_attach_plan *plan, enum mt_tp tp, char *buf, size_t len);
/* 1 if migtrace can trace here (BPF loads and a dirty source attaches), else 0; msg says why. */
int mt_check_verdict(const struct mt_check_item *items, int n, char *msg, size_t len);

#endif
