/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * QMP events of a migration, with QEMU's own µs timestamps: MIGRATION (every
 * status change; QEMU sends them when the migration's "events" capability
 * is on), MIGRATION_PASS (each RAM pass, same capability) and STOP/RESUME
 * (always: the edges of the downtime on the source, of the start on the
 * destination). migtrace only listens; it never turns the capability on.
 */
#ifndef MT_QMP_EVENTS_H
#define MT_QMP_EVENTS_H

#include <stdint.h>

struct json_object;

#define QMP_EVENT_RING 64
#define QMP_PHASES     16

struct qmp_event {
	char name[24];	 /* MIGRATION, MIGRATION_PASS, STOP, RESUME, ... */
	char status[24]; /* MIGRATION: the new status */
	int64_t pass;	 /* MIGRATION_PASS: the pass number */
	uint64_t ts_us;	 /* QEMU's timestamp, µs since the epoch */
};

struct qmp_events {
	struct qmp_event ring[QMP_EVENT_RING]; /* newest at (head - 1) */
	int head, n;
	uint64_t total;
	int64_t pass; /* newest MIGRATION_PASS (-1: none yet) */
	uint64_t pass_ts_us;
	uint64_t stop_ts_us, resume_ts_us; /* newest STOP / RESUME */
	struct {
		char status[24];
		uint64_t ts_us; /* newest entry into this status */
	} phase[QMP_PHASES];
	int nphase;
};

void qmp_events__init(struct qmp_events *e);
/* Record one {"event": ...} message. 0, or -EINVAL if it is not a well-formed event. */
int qmp_events__add(struct qmp_events *e, struct json_object *msg);
/* i-th newest event (0 = newest), or NULL. */
const struct qmp_event *qmp_events__nth(const struct qmp_events *e, int i);

#endif
