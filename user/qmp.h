/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * QMP client: nonblocking, one connection per QEMU monitor socket, a deadline
 * on every request. It only ever sends qmp_capabilities and query-* commands.
 */
#ifndef MT_QMP_H
#define MT_QMP_H

#include <stdint.h>
#include <stddef.h>
#include "loop.h"
#include "qmp_events.h"

struct json_object;

#define QMP_MAX_VCPUS 1024
#define QMP_MAX_MSG   (1 << 20) /* largest QMP message accepted (bytes) */
#define QMP_MIG_TEXT  256	/* query-migrate strings kept (bytes, truncated) */

/* Bits of mt_migrate_info.have: which optional fields QEMU reported. */
enum mig_field {
	MIG_TOTAL_TIME,
	MIG_EXPECTED_DOWNTIME,
	MIG_DOWNTIME,
	MIG_SETUP_TIME,
	MIG_RAM, /* the "ram" object was present */
	MIG_CPU_THROTTLE,
	/*
	 * Issue #4 part 6: one bit per member, also inside objects whose members
	 * the schema makes mandatory (QEMU has dropped such members before).
	 */
	MIG_RAM_POSTCOPY_REQUESTS,
	MIG_RAM_MULTIFD_BYTES,
	MIG_RAM_POSTCOPY_BYTES,
	MIG_XBZRLE_CACHE_SIZE, /* "xbzrle-cache": only with the xbzrle capability */
	MIG_XBZRLE_BYTES,
	MIG_XBZRLE_PAGES,
	MIG_XBZRLE_CACHE_MISS,
	MIG_XBZRLE_CACHE_MISS_RATE,
	MIG_XBZRLE_ENCODING_RATE,
	MIG_XBZRLE_OVERFLOW,
	MIG_COMPRESSION_PAGES, /* "compression": QEMU 3.1 to 9.0, compress capability */
	MIG_COMPRESSION_BUSY,
	MIG_COMPRESSION_BUSY_RATE,
	MIG_COMPRESSION_COMPRESSED_SIZE,
	MIG_COMPRESSION_RATE,
	MIG_POSTCOPY_BLOCKTIME, /* destination side, postcopy-blocktime capability */
	MIG_POSTCOPY_VCPU_BLOCKTIME,
	MIG_DIRTY_LIMIT_THROTTLE_TIME, /* QEMU 8.1+, dirty-limit capability */
	MIG_DIRTY_LIMIT_RING_FULL_TIME,
	MIG_VFIO_TRANSFERRED,
	MIG_BLOCKED_REASONS,
	MIG_ERROR_DESC,
	MIG_FIELD_MAX,
};

/* query-migrate from QEMU 7.2 on (extend at the end, never reorder). */
struct mt_migrate_info {
	uint64_t have;	 /* 1ULL << enum mig_field */
	char status[24]; /* "none" when QEMU reports no migration */
	uint64_t total_time_ms, expected_downtime_ms, downtime_ms, setup_time_ms;
	/* ram */
	uint64_t ram_transferred, ram_remaining, ram_total, ram_duplicate, ram_normal;
	uint64_t ram_normal_bytes, ram_dirty_sync_count, ram_page_size, ram_postcopy_requests;
	uint64_t ram_multifd_bytes, ram_precopy_bytes, ram_downtime_bytes, ram_postcopy_bytes;
	double ram_dirty_pages_rate; /* pages per second, QEMU's own (0 in the first pass) */
	double ram_mbps;	     /* megabits per second */
	double ram_pages_per_second;
	uint64_t cpu_throttle_percentage;
	/* xbzrle-cache (XBZRLECacheStats); the rates are QEMU's, over its last period */
	uint64_t xbzrle_cache_size, xbzrle_bytes, xbzrle_pages, xbzrle_cache_miss, xbzrle_overflow;
	double xbzrle_cache_miss_rate; /* misses per page processed, 0..1 */
	double xbzrle_encoding_rate;   /* page bytes per encoded byte (0: nothing encoded) */
	/* compression (CompressionStats) */
	uint64_t compression_pages, compression_busy, compression_compressed_size;
	double compression_busy_rate;		 /* busy times per page processed */
	double compression_rate;		 /* page bytes per compressed byte */
	uint64_t postcopy_blocktime_ms;		 /* all vCPUs blocked at once */
	uint64_t postcopy_vcpu_blocktime_max_ms; /* the most blocked vCPU's */
	uint64_t dirty_limit_throttle_time_us, dirty_limit_ring_full_time_us;
	uint64_t vfio_transferred;
	uint64_t blocked_reasons; /* how many; the first one in blocked_reason */
	char blocked_reason[QMP_MIG_TEXT];
	char error_desc[QMP_MIG_TEXT]; /* why a migration failed */
};

_Static_assert(MIG_FIELD_MAX <= 64, "mt_migrate_info.have is 64 bits");

struct mt_vcpu_info {
	int cpu_index;
	int thread_id;
	char qom_path[64];
};

/* The latest answers of one QEMU. Each part has the CLOCK_MONOTONIC time of its reply. */
struct qmp_snapshot {
	char name[128];	 /* query-name (empty if QEMU was started without -name) */
	char status[32]; /* query-status: "running", "paused", "postmigrate", ... */
	int running;
	struct mt_migrate_info mig;
	struct mt_vcpu_info *vcpus; /* query-cpus-fast, nvcpus entries (owned) */
	int nvcpus;
	uint64_t name_ns, status_ns, mig_ns, vcpus_ns; /* 0 = not yet answered */
	int incoming;				       /* seen in "inmigrate": a destination */
	struct qmp_events ev;			       /* asynchronous events (qmp_events.h) */
};

enum qmp_state {
	QMP_DISCONNECTED, /* waiting to (re)connect */
	QMP_CONNECTING,
	QMP_GREETING,	 /* connected, waiting for the {"QMP": ...} banner */
	QMP_NEGOTIATING, /* qmp_capabilities sent */
	QMP_READY,
	QMP_STATE_MAX,
};

struct qmp_client;

struct qmp_client_options {
	const char *path;      /* monitor socket */
	uint64_t timeout_ns;   /* per-request deadline */
	uint64_t reconnect_ns; /* delay before reconnecting after a failure */
};

/* Create a client; it connects on the first qmp_client__tick(). NULL + errno on failure. */
struct qmp_client *qmp_client__new(struct mt_loop *loop, const struct qmp_client_options *opts);
void qmp_client__free(struct qmp_client *c);
/*
 * Drive the client at time now_ns (CLOCK_MONOTONIC): connect or reconnect when
 * due, enforce the deadline of the request in flight, and when idle start a
 * new poll round (query-name once, then query-status, query-migrate,
 * query-cpus-fast). Never blocks.
 */
void qmp_client__tick(struct qmp_client *c, uint64_t now_ns);
enum qmp_state qmp_client__state(const struct qmp_client *c);
/* Up = negotiated and the last request was answered in time. */
int qmp_client__up(const struct qmp_client *c);
/* Why the client is not up (one line, actionable), or NULL. */
const char *qmp_client__reason(const struct qmp_client *c);
const struct qmp_snapshot *qmp_client__snapshot(const struct qmp_client *c);
const char *qmp_client__path(const struct qmp_client *c);
/* Counters for the exposition: requests sent, replies, errors, timeouts, reconnects. */
struct qmp_stats {
	uint64_t requests, replies, errors, timeouts, connects, events;
	uint64_t last_rtt_ns;
};
const struct qmp_stats *qmp_client__stats(const struct qmp_client *c);
/* "command: desc" of the last QMP {"error": ...} reply or unusable reply, or NULL. */
const char *qmp_client__last_error(const struct qmp_client *c);
/* The send path's whitelist: 1 for qmp_capabilities and query-* names, else 0. */
int qmp_command__allowed(const char *cmd);

/* ---- pure parsers (no I/O; unit tested). Return 0 or -EINVAL/-ENOMEM. ---- */

/* Split the stream: consume buf[0..len) into *ret_obj. Returns bytes consumed
 * (> 0) with *ret_obj set when a whole message was parsed, 0 when more input
 * is needed, -EMSGSIZE past QMP_MAX_MSG, -EBADMSG on malformed JSON.
 * 0 means all len bytes were absorbed; after > 0, feed the rest of buf again.
 * Errors are sticky until qmp_framer__reset(). */
struct qmp_framer;
struct qmp_framer *qmp_framer__new(void);
void qmp_framer__free(struct qmp_framer *f);
/* Forget a partial message and a sticky error (after a reconnect). */
void qmp_framer__reset(struct qmp_framer *f);
long qmp_framer__feed(struct qmp_framer *f, const char *buf, size_t len,
		      struct json_object **ret_obj);

int qmp_parse_migrate(struct json_object *ret, struct mt_migrate_info *out);
int qmp_parse_status(struct json_object *ret, char *status, size_t len, int *running);
int qmp_parse_name(struct json_object *ret, char *name, size_t len);
/* *ret_vcpus is malloc()ed (free() it). */
int qmp_parse_cpus_fast(struct json_object *ret, struct mt_vcpu_info **ret_vcpus, int *ret_n);

#endif
