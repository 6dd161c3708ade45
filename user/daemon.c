// SPDX-License-Identifier: GPL-2.0-only
/*
 * `migtrace serve`: wires the tracer, the QMP clients, the sampler and the
 * HTTP server onto one epoll loop. Three timers drive it: sampling (BPF read
 * + join), QMP polling, and housekeeping (map garbage collection, --duration).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "api.h"
#include "daemon.h"
#include "exporter.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "openmetrics.h"
#include "passes.h"
#include "qmp.h"
#include "qmpset.h"
#include "sampler.h"
#include "tracer.h"

#define HOUSEKEEPING_NS 1000000000ULL
#define GC_EVERY_NS	5000000000ULL

struct mt_daemon {
	const struct mt_options *opts;
	struct mt_loop *loop;
	struct mt_tracer *tracer;
	struct mt_sampler *sampler;
	struct mt_qmpset qs;
	struct mt_counters counters;
	struct mt_view view;
	struct mt_hists hists;
	uint64_t last_scan_ns;
	struct om_writer *om;
	struct mt_http *http;
	int sample_fd, qmp_fd, house_fd, sig_fd;
	uint64_t start_ns, last_gc_ns;
	int slots_full_logged;
};

#define WINDOW_SCAN_NS 250000000ULL /* sliding-window working sets: a tag scan per 250 ms */

/* Give VMs detail slots (all KVM processes, or only --qmp ones) and read their passes. */
static void update_detail(struct mt_daemon *d)
{
	uint64_t now = d->view.now_ns;
	int scan = now - d->last_scan_ns >= WINDOW_SCAN_NS;

	for (int i = 0; i < d->view.nvms; i++) {
		const struct mt_vm_view *vm = &d->view.vms[i];
		const struct qmp_snapshot *snap = vm->src >= 0 ? d->qs.srcs[vm->src].snap : NULL;
		int slot;

		if (vm->pid <= 0 || (d->opts->track == MT_TRACK_QMP && vm->src < 0))
			continue;
		slot = mt_tracer__track(d->tracer, vm->pid);
		if (slot == -ENOSPC && !d->slots_full_logged) {
			log_warn("more than %d VMs: pid %d and later ones get counters but no "
				 "passes, curves or working sets",
				 MT_MAX_DETAIL_VMS, vm->pid);
			d->slots_full_logged = 1;
		}
		if (slot >= 0 &&
		    mt_hists__update(&d->hists, d->tracer, vm->pid, slot, snap, now, scan))
			log_warn("out of memory for the pass history of pid %d", vm->pid);
	}
	if (scan)
		d->last_scan_ns = now;
}

static void on_sample(struct mt_loop *loop, int fd, uint32_t events, void *data)
{
	struct mt_daemon *d = data;
	int err;

	mt_timerfd_drain(fd);
	if (d->tracer) {
		err = mt_tracer__read(d->tracer, &d->counters);
		if (err)
			log_warn("reading BPF counters failed: %s", strerror(-err));
	}
	mt_qmpset__refresh(&d->qs);
	err = mt_sampler__step(d->sampler, d->tracer ? &d->counters : NULL, d->qs.srcs, d->qs.n,
			       &d->view);
	if (err)
		log_warn("sampling step failed: %s", strerror(-err));
	else if (d->tracer && !d->opts->no_detail)
		update_detail(d);
}

static void on_qmp_tick(struct mt_loop *loop, int fd, uint32_t events, void *data)
{
	struct mt_daemon *d = data;
	uint64_t now = mt_now_ns();

	mt_timerfd_drain(fd);
	mt_qmpset__tick(&d->qs, now);
}

static void on_housekeeping(struct mt_loop *loop, int fd, uint32_t events, void *data)
{
	struct mt_daemon *d = data;
	uint64_t now = mt_now_ns();

	mt_timerfd_drain(fd);
	if (d->tracer && now - d->last_gc_ns >= GC_EVERY_NS) {
		d->last_gc_ns = now;
		mt_tracer__gc(d->tracer);
		mt_hists__prune(&d->hists, d->tracer);
	}
	/* New sockets start being polled now; the view drops vanished ones at once. */
	if (d->opts->nglobs &&
	    mt_qmpset__scan(&d->qs, d->opts->qmp_globs, d->opts->nglobs, d->sampler)) {
		on_qmp_tick(loop, d->qmp_fd, 0, d);
		on_sample(loop, d->sample_fd, 0, d);
	}
	if (d->opts->duration_ns && now - d->start_ns >= d->opts->duration_ns) {
		log_info("--duration reached, exiting");
		mt_loop__stop(loop, 0);
	}
}

static void on_signal(struct mt_loop *loop, int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si)) {
		log_info("signal %u received, exiting", si.ssi_signo);
		mt_loop__stop(loop, 0);
	}
}

static uint64_t mono_to_wall(void)
{
	return mt_wall_ns() - mt_now_ns();
}

static struct mt_export_ctx export_ctx(struct mt_daemon *d)
{
	return (struct mt_export_ctx){
		.view = &d->view,
		.srcs = d->qs.srcs,
		.qmp_stats = d->qs.stats,
		.nsrcs = d->qs.n,
		.tracer = d->tracer,
		.hists = &d->hists,
		.interval_ns = d->opts->interval_ns,
		.mono_to_wall_ns = mono_to_wall(),
	};
}

static int render(struct mt_daemon *d, enum om_format fmt, struct mt_http_response *resp)
{
	struct mt_export_ctx ctx = export_ctx(d);
	const char *data;
	size_t len;
	int err;

	om_writer__reset(d->om, fmt);
	err = mt_export(d->om, &ctx);
	if (!err)
		err = om_finish(d->om);
	if (err) {
		log_warn("writing the exposition failed: %s", strerror(-err));
		return err;
	}
	data = om_writer__data(d->om, &len);
	resp->body = malloc(len ? len : 1);
	if (!resp->body)
		return -ENOMEM;
	memcpy(resp->body, data, len);
	resp->len = len;
	resp->status = 200;
	resp->content_type = om_content_type(fmt);
	return 0;
}

static int text_response(struct mt_http_response *resp, int status, const char *text)
{
	resp->body = strdup(text);
	if (!resp->body)
		return -ENOMEM;
	resp->len = strlen(text);
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	return 0;
}

static int passes(struct mt_daemon *d, const struct mt_http_request *req,
		  struct mt_http_response *resp)
{
	struct mt_export_ctx ctx = export_ctx(d);
	const char *limit = req->arg(req, "limit");
	char *end = NULL;
	long n = limit ? strtol(limit, &end, 10) : 64;

	if (limit && (*end || n < 1 || n > MT_PASS_HISTORY))
		return text_response(resp, 400, "limit: a number of passes, 1..256\n");
	resp->status = 200;
	resp->content_type = "application/json";
	return mt_api_passes(&ctx, req->arg(req, "vm"), (int)n, &resp->body, &resp->len);
}

static int on_request(void *ctx, const struct mt_http_request *req, struct mt_http_response *resp)
{
	struct mt_daemon *d = ctx;

	if (!strcmp(req->path, "/metrics"))
		return render(d, om_negotiate(req->accept), resp);
	if (!strcmp(req->path, "/passes"))
		return passes(d, req, resp);
	if (!strcmp(req->path, "/"))
		return text_response(resp, 200,
				     "migtrace " MIGTRACE_VERSION "\n"
				     "GET /metrics  current values (OpenMetrics 1.0 when Accept "
				     "asks for it, else Prometheus text 0.0.4)\n"
				     "GET /passes[?vm=NAME&limit=N]  per-pass series and the 1 ms "
				     "re-dirty curve (JSON)\n");
	return text_response(resp, 404, "not found: try GET /metrics\n");
}

/* A --qmp path that exists and is not a socket can never work. */
static int qmp_path_hopeless(const char *path)
{
	struct stat st;

	return !stat(path, &st) && !S_ISSOCK(st.st_mode);
}

static int start_tracer(struct mt_daemon *d)
{
	struct mt_tracer_options to = { .pref = d->opts->attach,
					.track = d->opts->track,
					.sketch_bits = d->opts->sketch_bits,
					.no_detail = d->opts->no_detail,
					.verbose = d->opts->verbose };
	const char *msg;

	if (d->opts->no_bpf)
		return 0;
	d->tracer = mt_tracer__new(&to, &msg);
	if (!d->tracer) {
		int err = errno;

		log_err("%s (%s)", msg ? msg : "BPF setup failed", strerror(err));
		return -err;
	}
	for (int i = 0; i < MT_TP_MAX; i++) {
		if (mt_tracer__mode(d->tracer, i) != MT_ATTACH_NONE)
			log_info("attached %s (%s)", mt_tp_name(i),
				 mt_attach_mode_name(mt_tracer__mode(d->tracer, i)));
		else
			log_warn("%s", mt_tracer__reason(d->tracer, i));
	}
	return 0;
}

static int start_qmp(struct mt_daemon *d)
{
	int usable = 0, err;

	d->qs = (struct mt_qmpset){ .loop = d->loop, .timeout_ns = d->opts->qmp_timeout_ns };
	for (int i = 0; i < d->opts->nqmp; i++) {
		/* The client itself says why when it first tries to connect. */
		if (!qmp_path_hopeless(d->opts->qmp[i]))
			usable++;
		err = mt_qmpset__add(&d->qs, d->opts->qmp[i], 0);
		if (err)
			return err;
	}
	/* A pattern may match sockets only later: it counts as usable. */
	if (d->opts->nglobs) {
		usable++;
		mt_qmpset__scan(&d->qs, d->opts->qmp_globs, d->opts->nglobs, d->sampler);
	}
	return usable;
}

static int add_timer(struct mt_daemon *d, int *ret_fd, uint64_t period_ns, mt_loop_cb cb)
{
	int fd = mt_timerfd_periodic(period_ns);

	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return mt_loop__add(d->loop, fd, EPOLLIN, cb, d);
}

static int start_signals(struct mt_daemon *d)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sig_fd < 0)
		return -errno;
	return mt_loop__add(d->loop, d->sig_fd, EPOLLIN, on_signal, d);
}

static int start_http(struct mt_daemon *d)
{
	struct mt_http_options ho = {
		.socket_path = d->opts->socket_path,
		.mode = d->opts->socket_mode,
		.max_clients = 64,
		.timeout_s = 10,
	};
	const char *msg = NULL;

	d->http = mt_http__new(d->loop, &ho, on_request, d, &msg);
	if (!d->http) {
		int err = errno;

		log_err("cannot serve on %s: %s (%s)", ho.socket_path,
			msg ? msg : "HTTP setup failed", strerror(err));
		return -err;
	}
	log_info("serving metrics on %s", ho.socket_path);
	return 0;
}

static void daemon_free(struct mt_daemon *d)
{
	mt_http__free(d->http);
	mt_qmpset__free(&d->qs);
	mt_tracer__free(d->tracer);
	mt_sampler__free(d->sampler);
	mt_counters__free(&d->counters);
	mt_view__free(&d->view);
	mt_hists__free(&d->hists);
	om_writer__free(d->om);
	for (int *fd = &d->sample_fd; fd <= &d->sig_fd; fd++)
		if (*fd >= 0)
			close(*fd);
	mt_loop__free(d->loop);
}

int mt_daemon_run(const struct mt_options *opts)
{
	struct mt_daemon d = {
		.opts = opts, .sample_fd = -1, .qmp_fd = -1, .house_fd = -1, .sig_fd = -1
	};
	int err, usable_qmp;

	d.start_ns = d.last_gc_ns = mt_now_ns();
	d.loop = mt_loop__new();
	d.sampler = mt_sampler__new(NULL);
	d.om = om_writer__new(OM_FMT_OPENMETRICS);
	if (!d.loop || !d.sampler || !d.om) {
		err = -ENOMEM;
		goto cleanup;
	}
	usable_qmp = start_qmp(&d);
	if (usable_qmp < 0) {
		err = usable_qmp;
		goto cleanup;
	}
	err = start_tracer(&d);
	if (err && !usable_qmp) {
		log_err("nothing to trace: BPF is unavailable and no usable --qmp socket was "
			"given");
		goto cleanup;
	}
	if (!d.tracer && !usable_qmp) {
		log_err("nothing to trace: --no-bpf needs at least one usable --qmp socket");
		err = -EINVAL;
		goto cleanup;
	}
	err = start_http(&d);
	if (!err)
		err = start_signals(&d);
	if (!err)
		err = add_timer(&d, &d.sample_fd, opts->interval_ns, on_sample);
	if (!err)
		err = add_timer(&d, &d.qmp_fd, opts->qmp_interval_ns, on_qmp_tick);
	if (!err)
		err = add_timer(&d, &d.house_fd, HOUSEKEEPING_NS, on_housekeeping);
	if (err)
		goto cleanup;
	on_qmp_tick(d.loop, d.qmp_fd, 0, &d); /* connect now, not one interval later */
	on_sample(d.loop, d.sample_fd, 0, &d);
	err = mt_loop__run(d.loop);
cleanup:
	daemon_free(&d);
	return err ? 1 : 0;
}
