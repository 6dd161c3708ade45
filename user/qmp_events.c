// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>
#include "qmp_events.h"

void qmp_events__init(struct qmp_events *e)
{
	memset(e, 0, sizeof(*e));
	e->pass = -1;
}

const struct qmp_event *qmp_events__nth(const struct qmp_events *e, int i)
{
	if (i < 0 || i >= e->n)
		return NULL;
	return &e->ring[(e->head - 1 - i + QMP_EVENT_RING) % QMP_EVENT_RING];
}

static void set_phase(struct qmp_events *e, const char *status, uint64_t ts_us)
{
	int i;

	for (i = 0; i < e->nphase; i++)
		if (!strcmp(e->phase[i].status, status))
			break;
	if (i == e->nphase) {
		if (e->nphase == QMP_PHASES)
			return; /* QEMU has fewer statuses than this */
		e->nphase++;
		snprintf(e->phase[i].status, sizeof(e->phase[i].status), "%s", status);
	}
	e->phase[i].ts_us = ts_us;
}

/* {"seconds": s, "microseconds": us} -> µs; 0 if malformed. */
static uint64_t timestamp_us(struct json_object *msg)
{
	struct json_object *ts, *s, *us;

	if (!json_object_object_get_ex(msg, "timestamp", &ts) ||
	    !json_object_object_get_ex(ts, "seconds", &s) ||
	    !json_object_object_get_ex(ts, "microseconds", &us) ||
	    !json_object_is_type(s, json_type_int) || !json_object_is_type(us, json_type_int) ||
	    json_object_get_int64(s) < 0 || json_object_get_int64(us) < 0)
		return 0;
	return (uint64_t)json_object_get_int64(s) * 1000000ULL + json_object_get_int64(us);
}

int qmp_events__add(struct qmp_events *e, struct json_object *msg)
{
	struct json_object *name, *data, *v;
	struct qmp_event ev = { .pass = -1 };

	if (!json_object_object_get_ex(msg, "event", &name) ||
	    !json_object_is_type(name, json_type_string))
		return -EINVAL;
	ev.ts_us = timestamp_us(msg);
	snprintf(ev.name, sizeof(ev.name), "%s", json_object_get_string(name));
	if (json_object_object_get_ex(msg, "data", &data)) {
		if (json_object_object_get_ex(data, "status", &v) &&
		    json_object_is_type(v, json_type_string))
			snprintf(ev.status, sizeof(ev.status), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(data, "pass", &v) &&
		    json_object_is_type(v, json_type_int))
			ev.pass = json_object_get_int64(v);
	}
	if (!strcmp(ev.name, "MIGRATION") && ev.status[0])
		set_phase(e, ev.status, ev.ts_us);
	else if (!strcmp(ev.name, "MIGRATION_PASS") && ev.pass >= 0) {
		e->pass = ev.pass;
		e->pass_ts_us = ev.ts_us;
	} else if (!strcmp(ev.name, "STOP"))
		e->stop_ts_us = ev.ts_us;
	else if (!strcmp(ev.name, "RESUME"))
		e->resume_ts_us = ev.ts_us;
	e->ring[e->head] = ev;
	e->head = (e->head + 1) % QMP_EVENT_RING;
	if (e->n < QMP_EVENT_RING)
		e->n++;
	e->total++;
	return 0;
}
