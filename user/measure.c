// SPDX-License-Identifier: GPL-2.0-only
/*
 * `migtrace measure --qmp PATH`: outside a migration KVM logs no dirty pages,
 * so there is nothing to measure. This opt-in command asks QEMU for a
 * calc-dirty-rate window (which turns dirty logging on for its duration) and
 * measures the same window in the kernel at full resolution: events, distinct
 * pages, and the rate every --interval, next to QEMU's own result.
 * It is the only place migtrace sends a command that is not a query.
 */
#include <argp.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>
#include "log.h"
#include "loop.h"
#include "measure.h"
#include "options.h"
#include "passes.h"
#include "qmp.h"
#include "sampler.h"
#include "tracer.h"

struct measure_opts {
	const char *qmp;
	uint64_t window_s;
	const char *mode;
	uint64_t interval_ns;
	int json;
};

/* A blocking QMP exchange with a deadline, for this one-shot command. */
struct qmp_sync {
	int fd;
	struct qmp_framer *f;
	char buf[65536];
	size_t len;
};

static struct json_object *sync_read(struct qmp_sync *q, uint64_t deadline_ns)
{
	for (;;) {
		struct json_object *obj = NULL;
		long n = q->len ? qmp_framer__feed(q->f, q->buf, q->len, &obj) : 0;
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		uint64_t now = mt_now_ns();
		ssize_t r;

		if (n < 0)
			return NULL;
		if (n > 0 || (q->len && !obj)) {
			/* consumed bytes leave the buffer (0: all of it was absorbed) */
			size_t used = n > 0 ? (size_t)n : q->len;

			memmove(q->buf, q->buf + used, q->len - used);
			q->len -= used;
		}
		if (obj)
			return obj;
		if (now >= deadline_ns || poll(&p, 1, (deadline_ns - now) / 1000000 + 1) <= 0)
			return NULL;
		r = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (r <= 0)
			return NULL;
		q->len += r;
	}
}

/* Send one command and return its "return" member (owned by *ret_reply), or NULL. */
static struct json_object *sync_cmd(struct qmp_sync *q, const char *cmd, const char *args,
				    struct json_object **ret_reply, const char **ret_err)
{
	char line[512];
	struct json_object *reply, *ret;
	int n = snprintf(line, sizeof(line), "{\"execute\":\"%s\"%s%s}\r\n", cmd,
			 args ? ",\"arguments\":" : "", args ? args : "");

	*ret_reply = NULL;
	if (write(q->fd, line, n) != n)
		return NULL;
	while ((reply = sync_read(q, mt_now_ns() + 5000000000ULL))) {
		struct json_object *e;

		if (json_object_object_get_ex(reply, "return", &ret)) {
			*ret_reply = reply;
			return ret;
		}
		if (json_object_object_get_ex(reply, "error", &e)) {
			struct json_object *desc;

			if (json_object_object_get_ex(e, "desc", &desc))
				*ret_err = strdup(json_object_get_string(desc));
			json_object_put(reply);
			return NULL;
		}
		json_object_put(reply); /* an event: not ours */
	}
	return NULL;
}

static int sync_open(struct qmp_sync *q, const char *path, const char **ret_err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct json_object *greeting, *reply;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	q->f = qmp_framer__new();
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!q->f || q->fd < 0 || connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	greeting = sync_read(q, mt_now_ns() + 2000000000ULL);
	if (!greeting) {
		*ret_err = "no QMP greeting within 2 s (another client holds the monitor?)";
		return -ETIMEDOUT;
	}
	json_object_put(greeting);
	if (!sync_cmd(q, "qmp_capabilities", NULL, &reply, ret_err))
		return -EPROTO;
	json_object_put(reply);
	return 0;
}

static void sync_close(struct qmp_sync *q)
{
	if (q->fd >= 0)
		close(q->fd);
	qmp_framer__free(q->f);
}

/* The QEMU pid: the thread group of its first vCPU thread. */
static int qemu_pid(struct qmp_sync *q, const char **ret_err)
{
	struct json_object *reply, *ret = sync_cmd(q, "query-cpus-fast", NULL, &reply, ret_err);
	struct mt_vcpu_info *v = NULL;
	int n = 0, pid = -1;

	if (ret && !qmp_parse_cpus_fast(ret, &v, &n) && n > 0)
		pid = mt_tgid_of(v[0].thread_id);
	free(v);
	json_object_put(reply);
	return pid;
}

struct window {
	uint64_t start_ns, end_ns;
	uint64_t events; /* dirty-ring pushes in the window */
	double distinct; /* distinct pages dirtied in the window */
	double peak_bps; /* highest rate over one --interval */
	int samples;
	double qemu_mbps; /* QEMU's dirty-rate result (MB/s), < 0 if none */
	char status[32];
};

static uint64_t pushes_of(struct mt_tracer *t, int pid)
{
	struct mt_counters c = { 0 };
	uint64_t n = 0;

	if (!mt_tracer__read(t, &c))
		for (int i = 0; i < c.nvcpus; i++)
			if (c.vcpus[i].key.tgid == (uint32_t)pid)
				n += c.vcpus[i].s.dirty_pushes;
	mt_counters__free(&c);
	return n;
}

/* QEMU's status of the window; its rate once measured. 1 when done. */
static int poll_qemu(struct qmp_sync *q, struct window *w, const char **ret_err)
{
	struct json_object *reply, *ret = sync_cmd(q, "query-dirty-rate", NULL, &reply, ret_err);
	struct json_object *v;
	int done = 0;

	if (!ret)
		return -EPROTO;
	if (json_object_object_get_ex(ret, "status", &v))
		snprintf(w->status, sizeof(w->status), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(ret, "dirty-rate", &v))
		w->qemu_mbps = json_object_get_double(v);
	done = !strcmp(w->status, "measured");
	json_object_put(reply);
	return done;
}

/* Passes are followed as serve does; the window's pages are the union of its passes. */
static int run_window_hist(struct qmp_sync *q, struct mt_tracer *t, int pid, int slot,
			   const struct measure_opts *o, struct window *w, struct mt_hists *hs,
			   const char **ret_err)
{
	char args[128];
	struct json_object *reply;
	uint64_t prev, prev_ns, deadline, next_poll;
	int done = 0;

	snprintf(args, sizeof(args), "{\"calc-time\":%llu,\"mode\":\"%s\"}",
		 (unsigned long long)o->window_s, o->mode);
	prev = w->events = pushes_of(t, pid);
	prev_ns = w->start_ns = mt_now_ns();
	if (slot < 0 || mt_hists__update(hs, t, pid, slot, NULL, w->start_ns, 0))
		return -ENOMEM;
	mt_vm_hist__union_reset(mt_hists__find(hs, pid), w->start_ns);
	if (!sync_cmd(q, "calc-dirty-rate", args, &reply, ret_err))
		return -EPROTO;
	json_object_put(reply);
	deadline = w->start_ns + (o->window_s + 10) * 1000000000ULL;
	next_poll = w->start_ns + o->window_s * 1000000000ULL;
	while (!done && mt_now_ns() < deadline) {
		uint64_t now, cur;

		usleep(o->interval_ns / 1000);
		now = mt_now_ns();
		cur = pushes_of(t, pid);
		if ((cur - prev) * 4096.0 * 1e9 / (now - prev_ns) > w->peak_bps)
			w->peak_bps = (cur - prev) * 4096.0 * 1e9 / (now - prev_ns);
		prev = cur;
		prev_ns = now;
		mt_hists__update(hs, t, pid, slot, NULL, now, 0);
		w->samples++;
		if (now >= next_poll) {
			done = poll_qemu(q, w, ret_err);
			if (done < 0)
				return done;
			next_poll = now + 100000000ULL;
		}
	}
	w->end_ns = mt_now_ns();
	w->events = pushes_of(t, pid) - w->events;
	mt_hists__update(hs, t, pid, slot, NULL, w->end_ns, 0);
	w->distinct = mt_vm_hist__union_distinct(mt_hists__find(hs, pid), t);
	return done ? 0 : -ETIMEDOUT;
}

static int run_window(struct qmp_sync *q, struct mt_tracer *t, int pid, int slot,
		      const struct measure_opts *o, struct window *w, const char **ret_err)
{
	struct mt_hists hs = { 0 };
	int err = run_window_hist(q, t, pid, slot, o, w, &hs, ret_err);

	mt_hists__free(&hs);
	return err;
}

static void print_window(const struct measure_opts *o, const char *vm, int pid,
			 const struct window *w)
{
	double secs = (w->end_ns - w->start_ns) / 1e9;

	if (o->json) {
		struct json_object *r = json_object_new_object();

		json_object_object_add(r, "vm", json_object_new_string(vm));
		json_object_object_add(r, "pid", json_object_new_int(pid));
		json_object_object_add(r, "mode", json_object_new_string(o->mode));
		json_object_object_add(r, "window_seconds", json_object_new_double(secs));
		json_object_object_add(r, "kernel_events", json_object_new_uint64(w->events));
		json_object_object_add(r, "kernel_distinct_pages",
				       json_object_new_double(w->distinct));
		json_object_object_add(r, "kernel_distinct_bytes_per_second",
				       json_object_new_double(w->distinct * 4096 / o->window_s));
		json_object_object_add(r, "kernel_peak_event_bytes_per_second",
				       json_object_new_double(w->peak_bps));
		json_object_object_add(r, "samples", json_object_new_int(w->samples));
		json_object_object_add(r, "qemu_status", json_object_new_string(w->status));
		if (w->qemu_mbps >= 0)
			json_object_object_add(r, "qemu_dirty_rate_mib_per_second",
					       json_object_new_double(w->qemu_mbps));
		printf("%s\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY));
		json_object_put(r);
		return;
	}
	printf("vm %s (pid %d), calc-dirty-rate mode %s, %.2f s\n", vm, pid, o->mode, secs);
	printf("  kernel: %llu dirty events, %.0f distinct pages (%.2f MiB/s of distinct pages)\n",
	       (unsigned long long)w->events, w->distinct,
	       w->distinct * 4096 / o->window_s / 1048576);
	printf("  kernel: peak %.2f MiB/s of dirty events over %.0f ms samples (%d samples)\n",
	       w->peak_bps / 1048576, o->interval_ns / 1e6, w->samples);
	if (w->qemu_mbps >= 0)
		printf("  qemu:   %.2f MiB/s (query-dirty-rate, %s)\n", w->qemu_mbps, w->status);
	else
		printf("  qemu:   no result (%s)\n", w->status);
}

static const struct argp_option measure_options[] = {
	{ "qmp", 'q', "PATH", 0, "QEMU QMP monitor socket (required)", 0 },
	{ "seconds", 's', "N", 0, "Length of the window, 1..60 (default 1)", 0 },
	{ "mode", 'm', "MODE", 0, "dirty-ring (default), dirty-bitmap or page-sampling", 0 },
	{ "interval", 'i', "DURATION", 0, "In-kernel sampling interval (default 10ms)", 0 },
	{ "json", 'j', NULL, 0, "Print the result as JSON", 0 },
	{ 0 },
};

static error_t measure_parse(int key, char *arg, struct argp_state *state)
{
	struct measure_opts *o = state->input;
	char *end;

	switch (key) {
	case 'q':
		o->qmp = arg;
		return 0;
	case 's':
		o->window_s = strtoull(arg, &end, 10);
		if (*end || o->window_s < 1 || o->window_s > 60)
			argp_error(state, "--seconds takes 1..60, not '%s'", arg);
		return 0;
	case 'm':
		if (strcmp(arg, "dirty-ring") && strcmp(arg, "dirty-bitmap") &&
		    strcmp(arg, "page-sampling"))
			argp_error(state, "invalid --mode '%s'", arg);
		o->mode = arg;
		return 0;
	case 'i':
		if (mt_parse_duration(arg, &o->interval_ns) || o->interval_ns < 1000000ULL ||
		    o->interval_ns > 1000000000ULL)
			argp_error(state, "--interval takes 1ms..1s, not '%s'", arg);
		return 0;
	case 'j':
		o->json = 1;
		return 0;
	case ARGP_KEY_END:
		if (!o->qmp)
			argp_error(state, "--qmp PATH is required");
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const char measure_doc[] =
	"Measure a VM's dirtying outside a migration: ask QEMU for a calc-dirty-rate window "
	"(dirty logging is on only during it) and measure the same window in the kernel.\n"
	"\nEXAMPLES:\n  migtrace measure --qmp /run/vm1-mt.qmp --seconds 2\n"
	"  migtrace measure --qmp /run/vm1-mt.qmp --mode dirty-bitmap --json\n"
	"\nThis sends calc-dirty-rate, the one command migtrace sends that is not a query. "
	"dirty-ring mode needs QEMU started with -accel kvm,dirty-ring-size=N.";

static const struct argp measure_argp = {
	measure_options, measure_parse, NULL, measure_doc, NULL, NULL, NULL
};

int mt_measure_main(int argc, char **argv)
{
	struct measure_opts o = { .window_s = 1, .mode = "dirty-ring", .interval_ns = 10000000ULL };
	struct mt_tracer_options to = { .track = MT_TRACK_QMP };
	struct qmp_sync q = { .fd = -1 };
	struct window w = { .qemu_mbps = -1 };
	struct mt_tracer *t = NULL;
	struct json_object *reply = NULL, *ret;
	const char *err = NULL, *msg = NULL;
	char name[] = "migtrace measure", vm[128] = "";
	int pid, slot, rc = 1;

	argv[0] = name;
	if (argp_parse(&measure_argp, argc, argv, 0, NULL, &o))
		return 64;
	if (sync_open(&q, o.qmp, &err)) {
		log_err("QMP %s: %s", o.qmp, err ? err : strerror(errno));
		goto cleanup;
	}
	ret = sync_cmd(&q, "query-name", NULL, &reply, &err);
	if (ret)
		qmp_parse_name(ret, vm, sizeof(vm));
	json_object_put(reply);
	pid = qemu_pid(&q, &err);
	if (pid <= 0) {
		log_err("QMP %s: cannot find the QEMU process (query-cpus-fast)", o.qmp);
		goto cleanup;
	}
	if (!vm[0])
		snprintf(vm, sizeof(vm), "%d", pid);
	t = mt_tracer__new(&to, &msg);
	if (!t) {
		log_err("%s (%s)", msg ? msg : "BPF setup failed", strerror(errno));
		goto cleanup;
	}
	slot = mt_tracer__track(t, pid);
	if (run_window(&q, t, pid, slot, &o, &w, &err)) {
		log_err("calc-dirty-rate on %s failed: %s", o.qmp,
			err ? err
			    : "no result in time (is a migration or another measurement "
			      "running?)");
		goto cleanup;
	}
	print_window(&o, vm, pid, &w);
	rc = 0;
cleanup:
	mt_tracer__free(t);
	sync_close(&q);
	return rc;
}
