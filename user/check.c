// SPDX-License-Identifier: GPL-2.0-only
/*
 * `migtrace check`: what migtrace can use on this machine, one item per line
 * (or per JSON object), each ok / warn / fail with what to do about it. The
 * tracepoint lines come from mt_attach_plan(), the function `serve` uses, so
 * the two never disagree about how a tracepoint will be attached.
 */
#include <argp.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include "check.h"
#include "kfeat.h"
#include "tracer.h"

/* Older UAPI headers lack these; values from include/uapi/linux/{capability,kvm}.h. */
#ifndef CAP_SYS_ADMIN
#define CAP_SYS_ADMIN 21
#endif
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef KVM_CAP_DIRTY_LOG_RING_ACQ_REL
#define KVM_CAP_DIRTY_LOG_RING_ACQ_REL 223
#endif
#define CAPBIT(c) (1ULL << (c))

#define MAX_ITEMS	   (MT_TP_MAX + 24)
#define QEMU		   "qemu-system-x86_64"
#define QEMU_TIMEOUT_MS	   5000
#define KVM_DIRTY_GFN_SIZE 16 /* sizeof(struct kvm_dirty_gfn): one ring entry */

extern char **environ;

struct report {
	struct mt_check_item items[MAX_ITEMS];
	int n;
	int privileged;		       /* euid/caps suffice for tracing BPF programs */
	struct mt_check_item overflow; /* sink if MAX_ITEMS is ever too small */
};

struct check_opts {
	int json;
};

static const char check_doc[] =
	"Report what migtrace can use on this machine: kernel BTF, the KVM tracepoints and how "
	"each will be attached (as `migtrace serve` would), privileges, whether BPF programs "
	"load, tracefs, /dev/kvm and its dirty-ring support, and QEMU.\n"
	"\n"
	"EXAMPLES:\n"
	"  sudo migtrace check\n"
	"  sudo migtrace check --json | jq '.checks[] | select(.status != \"ok\")'\n"
	"\v"
	"Each line is `STATUS  item: detail`, STATUS being ok, warn or fail; the last line is the "
	"verdict. Exit status: 0 if BPF loads and at least one dirty-logging tracepoint will "
	"attach, 1 if nothing usable, 64 for bad usage.";

static const struct argp_option check_options[] = {
	{ "json", 'j', NULL, 0, "One JSON document on stdout: {\"ok\", \"verdict\", \"checks\"}",
	  0 },
	{ 0 },
};

const char *mt_check_status_name(enum mt_check_status s)
{
	static const char *const names[MT_CHECK_STATUS_MAX] = { "ok", "warn", "fail" };

	return s < MT_CHECK_STATUS_MAX ? names[s] : "?";
}

int mt_check_parse_capeff(const char *status_text, uint64_t *ret_caps)
{
	const char *p = status_text;
	char *end;

	while (p && strncmp(p, "CapEff:", 7)) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		return -ENOENT;
	p += 7;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!isxdigit((unsigned char)*p)) /* strtoull would skip newlines and take signs */
		return -EINVAL;
	errno = 0;
	*ret_caps = strtoull(p, &end, 16);
	if (errno || end == p || (*end && *end != '\n'))
		return -EINVAL;
	return 0;
}

enum mt_check_status mt_check_privileges(unsigned int euid, uint64_t caps, char *detail, size_t len)
{
	/* The kernel's bpf_capable()/perfmon_capable() also accept CAP_SYS_ADMIN. */
	int admin = !!(caps & CAPBIT(CAP_SYS_ADMIN));
	int bpf = admin || (caps & CAPBIT(CAP_BPF));
	int perfmon = admin || (caps & CAPBIT(CAP_PERFMON));
	const char *missing = !bpf && !perfmon ? "CAP_BPF and CAP_PERFMON"
			      : !bpf	       ? "CAP_BPF"
					       : "CAP_PERFMON";

	if (bpf && perfmon) {
		snprintf(detail, len, "euid %u%s with %s", euid, euid ? "" : " (root)",
			 (caps & CAPBIT(CAP_BPF)) && (caps & CAPBIT(CAP_PERFMON))
				 ? "CAP_BPF and CAP_PERFMON"
				 : "CAP_SYS_ADMIN");
		return MT_CHECK_OK;
	}
	if (!euid)
		snprintf(detail, len,
			 "euid 0 but without %s (a container or user namespace?): run migtrace "
			 "as root on the host, or grant %s",
			 missing, missing);
	else
		snprintf(detail, len,
			 "euid %u without %s: run migtrace as root (sudo), or grant %s", euid,
			 missing, missing);
	return MT_CHECK_FAIL;
}

int mt_check_verdict(const struct mt_check_item *items, int n, char *msg, size_t len)
{
	const struct mt_check_item *bpf = NULL;
	int sources = 0, attach = 0;

	for (int i = 0; i < n; i++) {
		if (items[i].role == MT_ROLE_BPF_LOAD) {
			bpf = &items[i];
		} else if (items[i].role == MT_ROLE_DIRTY_SOURCE) {
			sources++;
			attach += items[i].status == MT_CHECK_OK;
		}
	}
	if (!bpf || bpf->status != MT_CHECK_OK) {
		snprintf(msg, len, "migtrace cannot trace here: %s",
			 bpf ? bpf->detail : "BPF loading was not checked");
		return 0;
	}
	if (!attach) {
		snprintf(
			msg, len,
			"migtrace cannot trace here: none of the %d dirty-logging tracepoints will "
			"attach (see above; is KVM loaded?)",
			sources);
		return 0;
	}
	snprintf(msg, len,
		 "migtrace can trace here: BPF loads and %d of %d dirty-logging tracepoints will "
		 "attach",
		 attach, sources);
	return 1;
}

__attribute__((format(printf, 5, 6))) static struct mt_check_item *
add(struct report *r, enum mt_check_role role, enum mt_check_status st, const char *name,
    const char *fmt, ...)
{
	struct mt_check_item *it = r->n < MAX_ITEMS ? &r->items[r->n++] : &r->overflow;
	va_list ap;

	json_object_put(it->extra); /* only the overflow sink is ever reused */
	it->extra = NULL;
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->role = role;
	it->status = st;
	va_start(ap, fmt);
	vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
	va_end(ap);
	return it;
}

/* Attach one more JSON field to an item; takes the reference to v. */
static void extra(struct mt_check_item *it, const char *key, struct json_object *v)
{
	if (!it->extra)
		it->extra = json_object_new_object();
	if (it->extra)
		json_object_object_add(it->extra, key, v);
	else
		json_object_put(v);
}

/* Read a small text file, without its trailing newline. 0 or -errno. */
static int read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

static int read_int(const char *path, long *ret_val)
{
	char buf[32], *end;
	int err = read_text(path, buf, sizeof(buf));

	if (err)
		return err;
	errno = 0;
	*ret_val = strtol(buf, &end, 10);
	return errno || end == buf || *end ? -EINVAL : 0;
}

static void check_kernel(struct report *r)
{
	struct utsname u;
	struct mt_check_item *it;

	if (uname(&u)) {
		add(r, MT_ROLE_INFO, MT_CHECK_WARN, "kernel", "uname: %s", strerror(errno));
		return;
	}
	it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "kernel", "%s %s", u.sysname, u.release);
	extra(it, "release", json_object_new_string(u.release));
	/* The kvmmmu tracepoints and the test guest are x86-only. */
	if (!strcmp(u.machine, "x86_64"))
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "architecture", "%s", u.machine);
	else
		it = add(r, MT_ROLE_INFO, MT_CHECK_WARN, "architecture",
			 "%s: migtrace is built and tested on x86_64 only", u.machine);
	extra(it, "machine", json_object_new_string(u.machine));
}

static void check_btf(struct report *r, const struct mt_kfeat *k, int kerr)
{
	static const char path[] = "/sys/kernel/btf/vmlinux";
	struct mt_check_item *it;

	if (!kerr) {
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "btf", "%s: %u types", path,
			 btf__type_cnt(k->vmlinux));
		extra(it, "path", json_object_new_string(path));
	} else if (access(path, F_OK)) {
		add(r, MT_ROLE_INFO, MT_CHECK_FAIL, "btf",
		    "%s missing: migtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y", path);
	} else {
		add(r, MT_ROLE_INFO, MT_CHECK_FAIL, "btf", "cannot read %s: %s", path,
		    strerror(-kerr));
	}
}

/* KVM tracepoints in vmlinux BTF itself: KVM is built into the kernel. */
static int kvm_in_vmlinux(const struct mt_kfeat *k)
{
	for (int i = 0; i < MT_TP_MAX; i++) {
		const char *tp = mt_tp_name(i), *colon = strchr(tp, ':');

		if (!strncmp(tp, "kvm", 3) && colon && mt_kfeat__tp_nargs(k, colon + 1) >= 0)
			return 1;
	}
	return 0;
}

static void check_kvm_btf(struct report *r, const struct mt_kfeat *k, int kerr)
{
	struct mt_check_item *it;
	char mods[MT_KFEAT_MAX_MODS * 34] = "";
	struct json_object *arr = json_object_new_array();

	for (int i = 0; i < k->nmods; i++) {
		snprintf(mods + strlen(mods), sizeof(mods) - strlen(mods), "%s%s", i ? ", " : "",
			 k->mod_names[i]);
		json_object_array_add(arr, json_object_new_string(k->mod_names[i]));
	}
	if (k->nmods)
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "kvm btf", "module BTF: %s", mods);
	else if (kvm_in_vmlinux(k))
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "kvm btf",
			 "KVM built in: its tracepoints are in vmlinux BTF");
	else if (kerr)
		it = add(r, MT_ROLE_INFO, MT_CHECK_FAIL, "kvm btf", "unknown: no kernel BTF");
	else
		it = add(r, MT_ROLE_INFO, MT_CHECK_FAIL, "kvm btf",
			 "no KVM tracepoints in kernel BTF: load KVM (modprobe kvm_intel, or "
			 "kvm_amd)");
	extra(it, "builtin", json_object_new_boolean(!k->nmods && kvm_in_vmlinux(k)));
	extra(it, "modules", arr);
}

int mt_check_is_dirty_source(enum mt_tp tp)
{
	return tp == MT_TP_DIRTY_RING_PUSH || tp == MT_TP_PAGE_FAULT ||
	       tp == MT_TP_FAST_PAGE_FAULT || tp == MT_TP_PML_FULL;
}

void mt_check_tp_detail(const struct mt_attach_plan *plan, enum mt_tp tp, char *buf, size_t len)
{
	const char *reason = plan->reason[tp][0] ? plan->reason[tp] : "not attachable";

	if (plan->mode[tp] != MT_ATTACH_NONE) {
		snprintf(buf, len, "%s%s", mt_attach_mode_name(plan->mode[tp]),
			 plan->mode[tp] == MT_ATTACH_TP ? " (classic: found through tracefs)" : "");
		return;
	}
	/* Without the ring, dirtying shows up as write faults on write-protected pages. */
	if (tp == MT_TP_DIRTY_RING_PUSH && plan->mode[MT_TP_PAGE_FAULT] != MT_ATTACH_NONE) {
		snprintf(buf, len, "missing: %s; using %s write faults instead", reason,
			 mt_tp_name(MT_TP_PAGE_FAULT));
		return;
	}
	for (int i = 0; tp == MT_TP_DIRTY_RING_PUSH && i < MT_TP_MAX; i++) {
		if (mt_check_is_dirty_source(i) && plan->mode[i] != MT_ATTACH_NONE) {
			snprintf(buf, len, "missing: %s; using %s instead", reason, mt_tp_name(i));
			return;
		}
	}
	snprintf(buf, len, "missing: %s", reason);
}

static void check_tracepoints(struct report *r, const struct mt_attach_plan *plan)
{
	int first = r->n, usable = 0;

	for (int i = 0; i < MT_TP_MAX; i++) {
		enum mt_attach_mode m = plan->mode[i];
		enum mt_check_role role =
			mt_check_is_dirty_source(i) ? MT_ROLE_DIRTY_SOURCE : MT_ROLE_INFO;
		struct mt_check_item *it;
		char name[64], detail[sizeof(it->detail)];

		snprintf(name, sizeof(name), "tracepoint %s", mt_tp_name(i));
		mt_check_tp_detail(plan, i, detail, sizeof(detail));
		it = add(r, role, m == MT_ATTACH_NONE ? MT_CHECK_WARN : MT_CHECK_OK, name, "%s",
			 detail);
		extra(it, "tracepoint", json_object_new_string(mt_tp_name(i)));
		extra(it, "mode", json_object_new_string(mt_attach_mode_name(m)));
		extra(it, "dirty_source", json_object_new_boolean(role == MT_ROLE_DIRTY_SOURCE));
		usable += role == MT_ROLE_DIRTY_SOURCE && m != MT_ATTACH_NONE;
	}
	/* A missing optional tracepoint is a warning; no dirty source at all is fatal. */
	for (int i = first; !usable && i < r->n; i++)
		if (r->items[i].role == MT_ROLE_DIRTY_SOURCE)
			r->items[i].status = MT_CHECK_FAIL;
}

static void check_privileges(struct report *r)
{
	char status[8192], detail[sizeof(r->items[0].detail)];
	uint64_t caps = 0;
	unsigned int euid = geteuid();
	enum mt_check_status st;
	struct mt_check_item *it;

	if (read_text("/proc/self/status", status, sizeof(status)) ||
	    mt_check_parse_capeff(status, &caps))
		caps = euid ? 0 : ~0ULL; /* no /proc: assume root has every capability */
	st = mt_check_privileges(euid, caps, detail, sizeof(detail));
	r->privileged = st == MT_CHECK_OK;
	it = add(r, MT_ROLE_INFO, st, "privileges", "%s", detail);
	extra(it, "euid", json_object_new_int64(euid));
	extra(it, "cap_bpf", json_object_new_boolean(!!(caps & CAPBIT(CAP_BPF))));
	extra(it, "cap_perfmon", json_object_new_boolean(!!(caps & CAPBIT(CAP_PERFMON))));
	extra(it, "cap_sys_admin", json_object_new_boolean(!!(caps & CAPBIT(CAP_SYS_ADMIN))));
}

static void check_unpriv_bpf(struct report *r)
{
	static const char *const meaning[] = {
		"unprivileged users may load socket filters",
		"unprivileged BPF off until reboot",
		"unprivileged BPF off (root may re-enable it)",
	};
	struct mt_check_item *it;
	long v;
	int err = read_int("/proc/sys/kernel/unprivileged_bpf_disabled", &v);

	if (err) {
		add(r, MT_ROLE_INFO, MT_CHECK_WARN, "unprivileged_bpf_disabled", "cannot read: %s",
		    strerror(-err));
		return;
	}
	/* Informational: tracing programs need CAP_BPF + CAP_PERFMON whatever this says. */
	it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "unprivileged_bpf_disabled",
		 "%ld: %s; tracing programs need CAP_BPF and CAP_PERFMON regardless", v,
		 v >= 0 && v <= 2 ? meaning[v] : "unknown value");
	extra(it, "value", json_object_new_int64(v));
}

static const char *bpf_load_advice(int err, int privileged)
{
	if ((err == -EPERM || err == -EACCES) && !privileged)
		return "run migtrace as root (or grant CAP_BPF and CAP_PERFMON)";
	if (err == -EPERM || err == -EACCES)
		return "privileged, yet refused: kernel lockdown or an LSM forbids BPF "
		       "(see /sys/kernel/security/lockdown)";
	if (err == -ENOSYS)
		return "the kernel is built without CONFIG_BPF_SYSCALL";
	if (err == -EINVAL)
		return "the kernel rejects raw tracepoint programs (needs CONFIG_BPF_EVENTS)";
	return "see `migtrace serve -v` for libbpf's log";
}

/* The smallest raw_tp program: what fails here fails for migtrace's own programs. */
static void check_bpf_load(struct report *r)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct mt_check_item *it;
	int fd = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "mt_check", "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), NULL);

	if (fd >= 0) {
		close(fd);
		it = add(r, MT_ROLE_BPF_LOAD, MT_CHECK_OK, "bpf load",
			 "a raw_tracepoint program loads");
		extra(it, "errno", json_object_new_int(0));
		return;
	}
	it = add(r, MT_ROLE_BPF_LOAD, MT_CHECK_FAIL, "bpf load",
		 "BPF programs do not load (%s): %s", strerror(-fd),
		 bpf_load_advice(fd, r->privileged));
	extra(it, "errno", json_object_new_int(-fd));
}

static void check_bpf_stats(struct report *r)
{
	struct mt_check_item *it;
	long v;
	int err = read_int("/proc/sys/kernel/bpf_stats_enabled", &v);

	if (err) {
		add(r, MT_ROLE_INFO, MT_CHECK_WARN, "bpf_stats_enabled", "cannot read: %s",
		    strerror(-err));
		return;
	}
	it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "bpf_stats_enabled", "%ld: %s", v,
		 v ? "on system-wide (every BPF program pays for run-time accounting)"
		   : "off; migtrace enables BPF run-time stats only while it runs");
	extra(it, "value", json_object_new_int64(v));
}

static void check_tracefs(struct report *r, const struct mt_attach_plan *plan)
{
	const char *dir = mt_tracefs_dir();
	struct mt_check_item *it;
	int classic = 0;

	for (int i = 0; i < MT_TP_MAX; i++)
		classic += plan->mode[i] == MT_ATTACH_TP;
	if (dir)
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "tracefs", "mounted on %s", dir);
	else
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "tracefs",
			 "not mounted: fine for raw tracepoints; classic tracepoints%s mount it "
			 "for the attach",
			 classic ? " (used here)" : "");
	extra(it, "mounted", json_object_new_boolean(dir != NULL));
	extra(it, "classic_tracepoints", json_object_new_int(classic));
}

/* KVM_CAP_DIRTY_LOG_RING*: KVM_CHECK_EXTENSION returns the maximum ring size in bytes. */
static void check_ring_cap(struct report *r, int fd, int cap, const char *name)
{
	struct mt_check_item *it;
	int v = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	if (v < 0) {
		add(r, MT_ROLE_INFO, MT_CHECK_WARN, name, "KVM_CHECK_EXTENSION: %s",
		    strerror(errno));
		return;
	}
	if (!v && cap == KVM_CAP_DIRTY_LOG_RING)
		it = add(r, MT_ROLE_INFO, MT_CHECK_WARN, name,
			 "not supported: QEMU uses the dirty bitmap, migtrace counts write "
			 "faults instead of ring pushes");
	else if (!v)
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, name,
			 "not supported (QEMU then uses KVM_CAP_DIRTY_LOG_RING)");
	else if (cap == KVM_CAP_DIRTY_LOG_RING)
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, name,
			 "up to %d entries per vCPU (%d bytes): QEMU -accel "
			 "kvm,dirty-ring-size=N, N <= %d",
			 v / KVM_DIRTY_GFN_SIZE, v, v / KVM_DIRTY_GFN_SIZE);
	else
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, name,
			 "up to %d entries per vCPU (%d bytes), with acquire/release ordering",
			 v / KVM_DIRTY_GFN_SIZE, v);
	extra(it, "max_bytes", json_object_new_int(v));
	extra(it, "max_entries", json_object_new_int(v / KVM_DIRTY_GFN_SIZE));
}

static void check_kvm_caps(struct report *r, int fd)
{
	struct mt_check_item *it;
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);

	if (v == KVM_API_VERSION)
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "KVM_GET_API_VERSION", "%d", v);
	else
		it = add(r, MT_ROLE_INFO, MT_CHECK_WARN, "KVM_GET_API_VERSION",
			 "%d (%s), QEMU expects %d", v, v < 0 ? strerror(errno) : "unexpected",
			 KVM_API_VERSION);
	extra(it, "value", json_object_new_int(v));
	check_ring_cap(r, fd, KVM_CAP_DIRTY_LOG_RING, "KVM_CAP_DIRTY_LOG_RING");
	check_ring_cap(r, fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, "KVM_CAP_DIRTY_LOG_RING_ACQ_REL");
	v = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (v > 0)
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2",
			 "supported (flags 0x%x): QEMU clears the dirty bitmap in chunks", v);
	else
		it = add(r, MT_ROLE_INFO, MT_CHECK_WARN, "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2",
			 "not supported: QEMU write-protects all memory at each bitmap sync");
	extra(it, "value", json_object_new_int(v));
}

static void check_kvm_dev(struct report *r)
{
	static const char path[] = "/dev/kvm";
	struct stat st;
	int fd;

	if (stat(path, &st)) {
		add(r, MT_ROLE_INFO, MT_CHECK_WARN, path,
		    "missing: no KVM here (load kvm_intel or kvm_amd), so no VM to trace");
		return;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		add(r, MT_ROLE_INFO, MT_CHECK_OK, path, "opens read-write");
	} else {
		/* migtrace itself never opens /dev/kvm; only QEMU and this report do. */
		add(r, MT_ROLE_INFO, MT_CHECK_WARN, path,
		    "exists, but cannot be opened read-write (%s): KVM capabilities unknown; "
		    "run as root to see them",
		    strerror(errno));
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return;
	check_kvm_caps(r, fd);
	close(fd);
}

/* An executable `name` in $PATH, into buf. 0 or -ENOENT. */
static int find_in_path(const char *name, char *buf, size_t len)
{
	const char *p = getenv("PATH");

	for (p = p ? p : "/usr/bin:/bin"; *p; p += *p == ':') {
		size_t n = strcspn(p, ":");

		if (snprintf(buf, len, "%.*s/%s", (int)n, p, name) < (int)len && n &&
		    !access(buf, X_OK))
			return 0;
		p += n;
	}
	return -ENOENT;
}

/* Read fd until EOF, a full buffer or deadline_ms. Bytes read, or -ETIMEDOUT. */
static int read_all(int fd, char *buf, size_t len, int deadline_ms)
{
	struct timespec t0, t;
	size_t n = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (n < len - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t got;
		int left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = deadline_ms -
		       (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, left) == 0)
			return -ETIMEDOUT;
		got = read(fd, buf + n, len - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += got;
	}
	buf[n] = '\0';
	return (int)n;
}

/* First line of `path --version`. 0 or -errno. */
static int tool_version(const char *path, char *out, size_t len)
{
	char *const argv[] = { (char *)path, "--version", NULL };
	posix_spawn_file_actions_t fa;
	int pfd[2], err, n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	err = -posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (!err) {
		n = read_all(pfd[0], out, len, QEMU_TIMEOUT_MS);
		if (n == -ETIMEDOUT)
			kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		err = n < 0 ? n : 0;
		out[strcspn(out, "\n")] = '\0';
	}
	close(pfd[0]);
	return err;
}

static void check_qemu(struct report *r)
{
	char path[4096], version[256] = "";
	struct mt_check_item *it;
	int err;

	if (find_in_path(QEMU, path, sizeof(path))) {
		add(r, MT_ROLE_INFO, MT_CHECK_WARN, "qemu",
		    QEMU " not in PATH (optional for migtrace; the tests and demo need it: "
			 "apt-get install qemu-system-x86)");
		return;
	}
	err = tool_version(path, version, sizeof(version));
	if (err || !version[0])
		it = add(r, MT_ROLE_INFO, MT_CHECK_WARN, "qemu", "%s --version failed: %s", path,
			 err ? strerror(-err) : "no output");
	else
		it = add(r, MT_ROLE_INFO, MT_CHECK_OK, "qemu", "%s: %s", path, version);
	extra(it, "path", json_object_new_string(path));
	extra(it, "version", json_object_new_string(version));
}

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0; /* every failure is reported as a check item instead */
}

static void collect(struct report *r)
{
	struct mt_attach_plan plan;
	struct mt_kfeat k;
	int kerr = mt_kfeat__load(&k); /* on failure k is empty: the plan says "not in BTF" */

	check_kernel(r);
	check_btf(r, &k, kerr);
	check_kvm_btf(r, &k, kerr);
	mt_attach_plan(&k, MT_PREF_AUTO, &plan);
	check_tracepoints(r, &plan);
	check_privileges(r);
	check_unpriv_bpf(r);
	check_bpf_load(r);
	check_bpf_stats(r);
	check_tracefs(r, &plan);
	check_kvm_dev(r);
	check_qemu(r);
	mt_kfeat__free(&k);
}

static void print_human(const struct report *r, const char *verdict)
{
	int w = 0;

	for (int i = 0; i < r->n; i++) {
		int len = (int)strlen(r->items[i].name) + 1;

		w = len > w ? len : w;
	}
	for (int i = 0; i < r->n; i++) {
		const struct mt_check_item *it = &r->items[i];

		printf("%-4s  %s:%*s %s\n", mt_check_status_name(it->status), it->name,
		       w - (int)strlen(it->name) - 1, "", it->detail);
	}
	printf("verdict: %s\n", verdict);
}

static int print_json(const struct report *r, int ok, const char *verdict)
{
	struct json_object *root = json_object_new_object(), *checks = json_object_new_array();
	int err = 0;

	if (!root || !checks) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_object_object_add(root, "ok", json_object_new_boolean(ok));
	json_object_object_add(root, "verdict", json_object_new_string(verdict));
	for (int i = 0; i < r->n; i++) {
		const struct mt_check_item *it = &r->items[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(it->name));
		json_object_object_add(o, "status",
				       json_object_new_string(mt_check_status_name(it->status)));
		json_object_object_add(o, "detail", json_object_new_string(it->detail));
		if (it->extra) {
			json_object_object_foreach(it->extra, key, val)
				json_object_object_add(o, key, json_object_get(val));
		}
		json_object_array_add(checks, o);
	}
	json_object_object_add(root, "checks", checks);
	checks = NULL;
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_SPACED |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
cleanup:
	json_object_put(checks);
	json_object_put(root);
	return err;
}

static error_t check_parse(int key, char *arg, struct argp_state *state)
{
	struct check_opts *o = state->input;

	switch (key) {
	case 'j':
		o->json = 1;
		return 0;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

static const struct argp check_argp = { check_options, check_parse, NULL, check_doc,
					NULL,	       NULL,	    NULL };

int mt_check_main(int argc, char **argv)
{
	char name[] = "migtrace check", verdict[512];
	struct check_opts o = { 0 };
	struct report *r;
	int ok, err = 0;

	argv[0] = name;
	if (argp_parse(&check_argp, argc, argv, ARGP_IN_ORDER, NULL, &o))
		return 64;
	r = calloc(1, sizeof(*r));
	if (!r) {
		fprintf(stderr, "migtrace: check: out of memory\n");
		return 1;
	}
	libbpf_set_print(quiet_libbpf);
	collect(r);
	ok = mt_check_verdict(r->items, r->n, verdict, sizeof(verdict));
	if (o.json) {
		err = print_json(r, ok, verdict);
		if (err || !ok) /* stdout stays one JSON document; say why on stderr */
			fprintf(stderr, "%s\n", err ? strerror(-err) : verdict);
	} else {
		print_human(r, verdict);
	}
	for (int i = 0; i < r->n; i++)
		json_object_put(r->items[i].extra);
	json_object_put(r->overflow.extra);
	free(r);
	return ok && !err ? 0 : 1;
}
