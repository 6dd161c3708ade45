// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "api.h"

static double wall_s(const struct mt_export_ctx *c, uint64_t mono_ns)
{
	return mono_ns ? (mono_ns + c->mono_to_wall_ns) / 1e9 : 0;
}

static struct json_object *pass_json(const struct mt_export_ctx *c, const struct mt_pass_entry *e)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "pass", json_object_new_uint64(e->p.seq));
	json_object_object_add(o, "start", json_object_new_double(wall_s(c, e->p.start_ns)));
	json_object_object_add(o, "duration_seconds",
			       json_object_new_double(e->p.end_ns > e->p.start_ns
							      ? (e->p.end_ns - e->p.start_ns) / 1e9
							      : 0));
	json_object_object_add(o, "events", json_object_new_uint64(e->p.events));
	json_object_object_add(o, "distinct_pages", json_object_new_double(e->distinct));
	json_object_object_add(o, "first_dirty_pages", json_object_new_double(e->first));
	json_object_object_add(o, "redirty_pages", json_object_new_double(e->distinct - e->first));
	if (e->have_qmp) {
		struct json_object *q = json_object_new_object();

		json_object_object_add(q, "ram_transferred_bytes",
				       json_object_new_uint64(e->ram_transferred));
		json_object_object_add(q, "ram_remaining_bytes",
				       json_object_new_uint64(e->ram_remaining));
		json_object_object_add(q, "dirty_sync_count",
				       json_object_new_uint64(e->dirty_sync_count));
		if (e->qemu_pass >= 0)
			json_object_object_add(q, "migration_pass",
					       json_object_new_int64(e->qemu_pass));
		json_object_object_add(o, "qmp_at_end", q);
	}
	return o;
}

/* The 1 ms curve without its trailing empty buckets; the overflow bucket apart. */
static struct json_object *curve_json(const struct mt_vm_hist *h)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	int last = MT_NR_BUCKETS - 1;

	while (last >= 0 && !h->curve[last])
		last--;
	for (int i = 0; i <= last; i++)
		json_object_array_add(a, json_object_new_uint64(h->curve[i]));
	json_object_object_add(o, "pass", json_object_new_uint64(h->curve_seq));
	json_object_object_add(o, "bucket_seconds", json_object_new_double(0.001));
	json_object_object_add(o, "events", a);
	json_object_object_add(o, "events_after_8192ms",
			       json_object_new_uint64(h->curve[MT_BUCKET_OVERFLOW]));
	return o;
}

/* QEMU's newest events, oldest first, with its own timestamps. */
static struct json_object *events_json(const struct qmp_events *e)
{
	struct json_object *a = json_object_new_array();

	for (int i = e->n - 1; i >= 0; i--) {
		const struct qmp_event *ev = qmp_events__nth(e, i);
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "event", json_object_new_string(ev->name));
		json_object_object_add(o, "time", json_object_new_double(ev->ts_us / 1e6));
		if (ev->status[0])
			json_object_object_add(o, "status", json_object_new_string(ev->status));
		if (ev->pass >= 0)
			json_object_object_add(o, "pass", json_object_new_int64(ev->pass));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *vm_json(const struct mt_export_ctx *c, const struct mt_vm_view *vm,
				   const struct mt_vm_hist *h, int limit)
{
	struct json_object *o = json_object_new_object(), *passes = json_object_new_array();
	struct mt_pass_entry cur = { .p = h->cur };
	int n = h->n < limit ? h->n : limit;

	json_object_object_add(o, "vm", json_object_new_string(vm->vm));
	json_object_object_add(o, "pid", json_object_new_int(vm->pid));
	json_object_object_add(o, "passes_dropped", json_object_new_uint64(h->dropped));
	/* passes that closed between two samples: their curve was not read in time */
	json_object_object_add(o, "curves_missed", json_object_new_uint64(h->curves_missed));
	for (int i = n - 1; i >= 0; i--)
		json_object_array_add(passes, pass_json(c, mt_vm_hist__nth(h, i)));
	json_object_object_add(o, "passes", passes);
	if (c->tracer)
		cur.distinct = mt_linear_count(h->cur.distinct, mt_tracer__sketch_bits(c->tracer));
	json_object_object_add(o, "current", pass_json(c, &cur));
	if (h->curve_seq)
		json_object_object_add(o, "redirty_curve", curve_json(h));
	if (vm->src >= 0 && vm->src < c->nsrcs && c->srcs[vm->src].snap)
		json_object_object_add(o, "qmp_events", events_json(&c->srcs[vm->src].snap->ev));
	return o;
}

int mt_api_passes(const struct mt_export_ctx *c, const char *vm, int limit, char **ret_body,
		  size_t *ret_len)
{
	struct json_object *root = json_object_new_object(), *vms = json_object_new_array();
	const char *text;

	if (!root || !vms)
		return -ENOMEM;
	for (int i = 0; i < c->view->nvms; i++) {
		const struct mt_vm_view *v = &c->view->vms[i];
		const struct mt_vm_hist *h =
			c->hists && v->pid > 0 ? mt_hists__find(c->hists, v->pid) : NULL;

		if (h && (!vm || !strcmp(vm, v->vm)))
			json_object_array_add(vms, vm_json(c, v, h, limit));
	}
	json_object_object_add(root, "vms", vms);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	*ret_body = strdup(text);
	*ret_len = *ret_body ? strlen(*ret_body) : 0;
	json_object_put(root);
	return *ret_body ? 0 : -ENOMEM;
}
