// SPDX-License-Identifier: GPL-2.0-only
/*
 * floor - the reference programs of `make bench` (see floor.bpf.c).
 *
 * Attaches an empty program, a plain per-(tgid, vCPU) counter and two
 * tp_btf variants of it to kvm_dirty_ring_push, keeps BPF run-time
 * statistics enabled while it runs, and on SIGINT/SIGTERM (or after --duration) prints each
 * program's run_cnt and run_time_ns. tools/bench.sh reads the same counters through bpftool at the
 * edges of its window; the totals printed here are for use on its own.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

#define STATS_SYSCTL "/proc/sys/kernel/bpf_stats_enabled"

static struct {
	double duration; /* seconds; 0 = until signalled */
	int json;
	int no_btf;
	int verbose;
} opts;

/* How BPF run-time statistics were turned on, to undo it on exit. */
struct stats_state {
	int fd;		 /* from bpf_enable_stats(), or -1 */
	char old_sysctl; /* previous STATS_SYSCTL value if we wrote it, else 0 */
};

static const char doc[] =
	"Attach an empty program (the floor), a plain per-(pid, vCPU) counter and two\n"
	"tp_btf variants of it to kvm_dirty_ring_push with BPF statistics enabled;\n"
	"print each program's run_cnt and run_time_ns on exit.\n"
	"\v"
	"EXAMPLES:\n"
	"  floor --duration 20\n"
	"  floor & sleep 10; kill -INT $!\n";

static const struct argp_option options[] = {
	{ "duration", 'd', "SECONDS", 0, "Detach and report after this long (default: on signal)",
	  0 },
	{ "json", 'j', NULL, 0, "Print the report as JSON", 0 },
	{ "no-btf", 'n', NULL, 0, "Only the raw_tp programs (floor_empty, plain_count)", 0 },
	{ "verbose", 'v', NULL, 0, "libbpf debug output", 0 },
	{ 0 },
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	char *end;

	switch (key) {
	case 'd':
		errno = 0;
		opts.duration = strtod(arg, &end);
		if (errno || end == arg || *end || opts.duration < 0 || opts.duration > 86400)
			argp_error(state, "--duration: '%s' is not a number of seconds (0..86400)",
				   arg);
		return 0;
	case 'j':
		opts.json = 1;
		return 0;
	case 'n':
		opts.no_btf = 1;
		return 0;
	case 'v':
		opts.verbose = 1;
		return 0;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !opts.verbose)
		return 0;
	fputs("floor: ", stderr); /* libbpf adds "libbpf: " */
	return vfprintf(stderr, fmt, ap);
}

static int sysctl_rw(char *ret_old, char val)
{
	int fd = open(STATS_SYSCTL, O_RDWR | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (ret_old && pread(fd, ret_old, 1, 0) != 1)
		err = errno ? -errno : -EIO;
	else if (pwrite(fd, &val, 1, 0) != 1)
		err = errno ? -errno : -EIO;
	close(fd);
	return err;
}

/*
 * Statistics stay on while the fd of BPF_ENABLE_STATS is open (kernel 5.8+)
 * and go off when the last holder exits, even if we are killed. Older
 * kernels only have the sysctl, which we restore on a clean exit.
 */
static int stats_enable(struct stats_state *st)
{
	st->old_sysctl = 0;
	st->fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (st->fd >= 0)
		return 0;
	fprintf(stderr, "floor: bpf_enable_stats: %s; falling back to %s\n", strerror(errno),
		STATS_SYSCTL);
	return sysctl_rw(&st->old_sysctl, '1');
}

static void stats_restore(struct stats_state *st)
{
	if (st->fd >= 0)
		close(st->fd);
	if (st->old_sysctl && st->old_sysctl != '1')
		sysctl_rw(NULL, st->old_sysctl);
}

/* Wait for SIGINT/SIGTERM (blocked by main) or the end of --duration. */
static void wait_until_done(const sigset_t *sigs)
{
	struct timespec ts;

	if (opts.duration <= 0) {
		while (sigwaitinfo(sigs, NULL) < 0 && errno == EINTR)
			;
		return;
	}
	ts.tv_sec = (time_t)opts.duration;
	ts.tv_nsec = (long)((opts.duration - (double)ts.tv_sec) * 1e9);
	/* A stray EINTR only ends the wait early, which is still bounded. */
	sigtimedwait(sigs, NULL, &ts);
}

/* bpf_object__for_each_program() without confusing clang-format. */
static struct bpf_program *next_prog(struct floor_bpf *skel, struct bpf_program *prog)
{
	return bpf_object__next_program(skel->obj, prog);
}

static struct bpf_program *first_prog(struct floor_bpf *skel)
{
	return next_prog(skel, NULL);
}

static int is_btf_prog(const struct bpf_program *prog)
{
	return !strncmp(bpf_program__section_name(prog), "tp_btf/", 7);
}

/*
 * Open and load, with the tp_btf variants unless --no-btf; if they do not
 * load (tracepoint missing from BTF), once more without them.
 */
static struct floor_bpf *load(void)
{
	struct bpf_program *prog;
	struct floor_bpf *skel;
	int err;

	for (int with_btf = !opts.no_btf;; with_btf = 0) {
		skel = floor_bpf__open();
		if (!skel)
			return NULL;
		for (prog = first_prog(skel); prog; prog = next_prog(skel, prog))
			if (is_btf_prog(prog))
				bpf_program__set_autoload(prog, with_btf);
		err = floor_bpf__load(skel);
		if (!err)
			return skel;
		floor_bpf__destroy(skel);
		if (!with_btf) {
			errno = -err;
			return NULL;
		}
		fprintf(stderr, "floor: tp_btf variants do not load (%s): raw_tp only\n",
			strerror(-err));
	}
}

static int report(struct floor_bpf *skel)
{
	struct bpf_program *prog;
	const char *sep = "[";

	if (!opts.json)
		printf("%-14s %8s %12s %14s %9s\n", "program", "id", "run_cnt", "run_time_ns",
		       "ns/event");
	for (prog = first_prog(skel); prog; prog = next_prog(skel, prog)) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		double per = 0;

		if (!bpf_program__autoload(prog))
			continue;
		/* libbpf 1.1 has no bpf_prog_get_info_by_fd (1.2+); same call. */
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			return -errno;
		if (info.run_cnt)
			per = (double)info.run_time_ns / (double)info.run_cnt;
		if (opts.json)
			printf("%s{\"name\":\"%s\",\"id\":%u,\"run_cnt\":%llu,\"run_time_ns\":%"
			       "llu}",
			       sep, bpf_program__name(prog), info.id,
			       (unsigned long long)info.run_cnt,
			       (unsigned long long)info.run_time_ns);
		else
			printf("%-14s %8u %12llu %14llu %9.1f\n", bpf_program__name(prog), info.id,
			       (unsigned long long)info.run_cnt,
			       (unsigned long long)info.run_time_ns, per);
		sep = ",";
	}
	if (opts.json)
		printf("]\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, NULL, doc, NULL, NULL, NULL };
	struct stats_state stats = { .fd = -1 };
	struct floor_bpf *skel = NULL;
	sigset_t sigs;
	int err;

	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	libbpf_set_print(libbpf_print);
	/* Blocked before anything is attached: a signal only ends the wait. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	err = stats_enable(&stats);
	if (err) {
		fprintf(stderr, "floor: cannot enable BPF statistics: %s\n", strerror(-err));
		goto cleanup;
	}
	skel = load();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "floor: loading the BPF object: %s\n", strerror(-err));
		goto cleanup;
	}
	err = floor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "floor: attaching to kvm_dirty_ring_push: %s\n", strerror(-err));
		goto cleanup;
	}
	fprintf(stderr, "floor: attached (pid %d); BPF stats on\n", getpid());
	wait_until_done(&sigs);
	err = report(skel);
	if (err)
		fprintf(stderr, "floor: reading program info: %s\n", strerror(-err));
cleanup:
	floor_bpf__destroy(skel);
	stats_restore(&stats);
	return err ? 1 : 0;
}
