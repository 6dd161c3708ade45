// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pure QMP parsers: the stream framer and the readers of the query-* replies
 * migtrace uses. No I/O; every input is treated as hostile (a wrong JSON type
 * is -EINVAL, never a crash), and the output is written only on success, so a
 * bad reply never clobbers the last good values of the caller.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "qmp.h"

struct qmp_framer {
	struct json_tokener *tok;
	size_t msg_len; /* bytes of the message in progress already given to tok */
	int err;	/* sticky: a broken stream cannot be resynchronised */
};

struct qmp_framer *qmp_framer__new(void)
{
	struct qmp_framer *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->tok = json_tokener_new();
	if (!f->tok) {
		free(f);
		errno = ENOMEM;
		return NULL;
	}
	/*
	 * Not JSON_TOKENER_STRICT: strict mode rejects a second object after the
	 * first one in the same buffer ("{}{}" fails whole but parses byte by
	 * byte), and the result must not depend on how reads split the stream.
	 */
	json_tokener_set_flags(f->tok, JSON_TOKENER_VALIDATE_UTF8);
	return f;
}

void qmp_framer__free(struct qmp_framer *f)
{
	if (!f)
		return;
	json_tokener_free(f->tok);
	free(f);
}

void qmp_framer__reset(struct qmp_framer *f)
{
	json_tokener_reset(f->tok);
	f->msg_len = 0;
	f->err = 0;
}

static long framer_fail(struct qmp_framer *f, int err)
{
	f->err = err;
	return err;
}

static int is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/*
 * The tokener returns an object as soon as its closing brace arrives, so QEMU's
 * "\r\n" terminators (and pretty=on line breaks) are just whitespace between
 * or inside messages. The size limit counts from a message's first byte.
 */
long qmp_framer__feed(struct qmp_framer *f, const char *buf, size_t len,
		      struct json_object **ret_obj)
{
	struct json_object *obj;
	size_t off = 0, n;

	*ret_obj = NULL;
	if (f->err)
		return f->err;
	if (!f->msg_len) {
		while (off < len && is_ws(buf[off]))
			off++;
		if (off == len)
			return 0;
		/* Fail early on a non-object: json-c waits for a delimiter after "123". */
		if (buf[off] != '{')
			return framer_fail(f, -EBADMSG);
	}
	if (f->msg_len >= QMP_MAX_MSG)
		return framer_fail(f, -EMSGSIZE);
	n = len - off;
	if (n > QMP_MAX_MSG - f->msg_len)
		n = QMP_MAX_MSG - f->msg_len;
	obj = json_tokener_parse_ex(f->tok, buf + off, (int)n);
	if (!obj) {
		if (json_tokener_get_error(f->tok) != json_tokener_continue)
			return framer_fail(f, -EBADMSG);
		f->msg_len += n;
		/* Clamped: the bytes left over push the message past the limit. */
		return off + n < len ? framer_fail(f, -EMSGSIZE) : 0;
	}
	off += json_tokener_get_parse_end(f->tok);
	json_tokener_reset(f->tok);
	f->msg_len = 0;
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return framer_fail(f, -EBADMSG);
	}
	*ret_obj = obj;
	return (long)off;
}

/* Copy a JSON string, truncated on a UTF-8 character boundary to fit dst. */
static int copy_str(struct json_object *v, char *dst, size_t size)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(v, json_type_string) || !size)
		return -EINVAL;
	s = json_object_get_string(v);
	n = strnlen(s, (size_t)json_object_get_string_len(v));
	if (n >= size) {
		n = size - 1;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* QAPI 'int'/'uint64' counters: a JSON integer, never negative. */
static int get_u64(struct json_object *v, uint64_t *out)
{
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return -EINVAL;
	*out = json_object_get_uint64(v);
	return 0;
}

/* QAPI 'number': QEMU prints integral values without a fraction ("mbps": 0). */
static int get_double(struct json_object *v, double *out)
{
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return -EINVAL;
	*out = json_object_get_double(v);
	return 0;
}

enum field_kind { FIELD_U64, FIELD_DOUBLE };

struct field {
	const char *key;
	size_t off;
	enum field_kind kind;
	int have; /* bit in mt_migrate_info.have, or -1 */
};

#define OFF(member) offsetof(struct mt_migrate_info, member)

/* MigrationInfo members (qapi/migration.json); all optional. */
static const struct field mig_fields[] = {
	{ "total-time", OFF(total_time_ms), FIELD_U64, MIG_TOTAL_TIME },
	{ "expected-downtime", OFF(expected_downtime_ms), FIELD_U64, MIG_EXPECTED_DOWNTIME },
	{ "downtime", OFF(downtime_ms), FIELD_U64, MIG_DOWNTIME },
	{ "setup-time", OFF(setup_time_ms), FIELD_U64, MIG_SETUP_TIME },
	{ "cpu-throttle-percentage", OFF(cpu_throttle_percentage), FIELD_U64, MIG_CPU_THROTTLE },
	{ "postcopy-blocktime", OFF(postcopy_blocktime_ms), FIELD_U64, MIG_POSTCOPY_BLOCKTIME },
	{ "dirty-limit-throttle-time-per-round", OFF(dirty_limit_throttle_time_us), FIELD_U64,
	  MIG_DIRTY_LIMIT_THROTTLE_TIME },
	{ "dirty-limit-ring-full-time", OFF(dirty_limit_ring_full_time_us), FIELD_U64,
	  MIG_DIRTY_LIMIT_RING_FULL_TIME },
};

/* MigrationStats members: mandatory in the schema, tolerated absent here (older QEMU). */
static const struct field ram_fields[] = {
	{ "transferred", OFF(ram_transferred), FIELD_U64, -1 },
	{ "remaining", OFF(ram_remaining), FIELD_U64, -1 },
	{ "total", OFF(ram_total), FIELD_U64, -1 },
	{ "duplicate", OFF(ram_duplicate), FIELD_U64, -1 },
	{ "normal", OFF(ram_normal), FIELD_U64, -1 },
	{ "normal-bytes", OFF(ram_normal_bytes), FIELD_U64, -1 },
	{ "dirty-sync-count", OFF(ram_dirty_sync_count), FIELD_U64, -1 },
	{ "page-size", OFF(ram_page_size), FIELD_U64, -1 },
	{ "postcopy-requests", OFF(ram_postcopy_requests), FIELD_U64, MIG_RAM_POSTCOPY_REQUESTS },
	{ "multifd-bytes", OFF(ram_multifd_bytes), FIELD_U64, MIG_RAM_MULTIFD_BYTES },
	{ "precopy-bytes", OFF(ram_precopy_bytes), FIELD_U64, -1 },
	{ "downtime-bytes", OFF(ram_downtime_bytes), FIELD_U64, -1 },
	{ "postcopy-bytes", OFF(ram_postcopy_bytes), FIELD_U64, MIG_RAM_POSTCOPY_BYTES },
	/* 'int' and 'uint64' in the schema, but rates: kept as doubles for the exposition */
	{ "dirty-pages-rate", OFF(ram_dirty_pages_rate), FIELD_DOUBLE, -1 },
	{ "mbps", OFF(ram_mbps), FIELD_DOUBLE, -1 },
	{ "pages-per-second", OFF(ram_pages_per_second), FIELD_DOUBLE, -1 },
};

/* XBZRLECacheStats: 'size', 'int' and 'number' members. */
static const struct field xbzrle_fields[] = {
	{ "cache-size", OFF(xbzrle_cache_size), FIELD_U64, MIG_XBZRLE_CACHE_SIZE },
	{ "bytes", OFF(xbzrle_bytes), FIELD_U64, MIG_XBZRLE_BYTES },
	{ "pages", OFF(xbzrle_pages), FIELD_U64, MIG_XBZRLE_PAGES },
	{ "cache-miss", OFF(xbzrle_cache_miss), FIELD_U64, MIG_XBZRLE_CACHE_MISS },
	{ "cache-miss-rate", OFF(xbzrle_cache_miss_rate), FIELD_DOUBLE,
	  MIG_XBZRLE_CACHE_MISS_RATE },
	{ "encoding-rate", OFF(xbzrle_encoding_rate), FIELD_DOUBLE, MIG_XBZRLE_ENCODING_RATE },
	{ "overflow", OFF(xbzrle_overflow), FIELD_U64, MIG_XBZRLE_OVERFLOW },
};

/* CompressionStats (removed with the compress capability in QEMU 9.1). */
static const struct field compression_fields[] = {
	{ "pages", OFF(compression_pages), FIELD_U64, MIG_COMPRESSION_PAGES },
	{ "busy", OFF(compression_busy), FIELD_U64, MIG_COMPRESSION_BUSY },
	{ "busy-rate", OFF(compression_busy_rate), FIELD_DOUBLE, MIG_COMPRESSION_BUSY_RATE },
	{ "compressed-size", OFF(compression_compressed_size), FIELD_U64,
	  MIG_COMPRESSION_COMPRESSED_SIZE },
	{ "compression-rate", OFF(compression_rate), FIELD_DOUBLE, MIG_COMPRESSION_RATE },
};

/* VfioStats */
static const struct field vfio_fields[] = {
	{ "transferred", OFF(vfio_transferred), FIELD_U64, MIG_VFIO_TRANSFERRED },
};

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* MigrationInfo's objects of numbers; "disk" (block migration) is not read. */
static const struct mig_object {
	const char *key;
	const struct field *fields;
	size_t n;
	int have; /* bit for the object itself, or -1 */
} mig_objects[] = {
	{ "ram", ram_fields, NFIELDS(ram_fields), MIG_RAM },
	{ "xbzrle-cache", xbzrle_fields, NFIELDS(xbzrle_fields), -1 },
	{ "compression", compression_fields, NFIELDS(compression_fields), -1 },
	{ "vfio", vfio_fields, NFIELDS(vfio_fields), -1 },
};

static int parse_fields(struct json_object *obj, const struct field *fields, size_t n,
			struct mt_migrate_info *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct field *fd = &fields[i];
		struct json_object *v;
		int err;

		if (!json_object_object_get_ex(obj, fd->key, &v))
			continue;
		if (fd->kind == FIELD_U64)
			err = get_u64(v, (uint64_t *)((char *)out + fd->off));
		else
			err = get_double(v, (double *)((char *)out + fd->off));
		if (err)
			return err;
		if (fd->have >= 0)
			out->have |= 1ULL << fd->have;
	}
	return 0;
}

static int parse_objects(struct json_object *ret, struct mt_migrate_info *m)
{
	for (size_t i = 0; i < NFIELDS(mig_objects); i++) {
		const struct mig_object *o = &mig_objects[i];
		struct json_object *v;
		int err;

		if (!json_object_object_get_ex(ret, o->key, &v))
			continue;
		if (!json_object_is_type(v, json_type_object))
			return -EINVAL;
		err = parse_fields(v, o->fields, o->n, m);
		if (err)
			return err;
		if (o->have >= 0)
			m->have |= 1ULL << o->have;
	}
	return 0;
}

/* "postcopy-vcpu-blocktime": ['uint32'], ms per vCPU; kept: the largest. */
static int parse_vcpu_blocktime(struct json_object *arr, struct mt_migrate_info *m)
{
	size_t n;

	if (!json_object_is_type(arr, json_type_array))
		return -EINVAL;
	n = json_object_array_length(arr);
	m->postcopy_vcpu_blocktime_max_ms = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t ms;

		if (get_u64(json_object_array_get_idx(arr, i), &ms))
			return -EINVAL;
		if (ms > m->postcopy_vcpu_blocktime_max_ms)
			m->postcopy_vcpu_blocktime_max_ms = ms;
	}
	m->have |= 1ULL << MIG_POSTCOPY_VCPU_BLOCKTIME;
	return 0;
}

/* "blocked-reasons": ['str'] (QEMU 6.0+, whenever something blocks migration). */
static int parse_blocked(struct json_object *arr, struct mt_migrate_info *m)
{
	size_t n;

	if (!json_object_is_type(arr, json_type_array))
		return -EINVAL;
	n = json_object_array_length(arr);
	m->blocked_reason[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(v, json_type_string))
			return -EINVAL;
		if (!i) /* cannot fail: a string, and room for one */
			(void)copy_str(v, m->blocked_reason, sizeof(m->blocked_reason));
	}
	m->blocked_reasons = n;
	m->have |= 1ULL << MIG_BLOCKED_REASONS;
	return 0;
}

/* The members that are neither numbers nor objects of numbers. */
static int parse_lists(struct json_object *ret, struct mt_migrate_info *m)
{
	struct json_object *v;
	int err = 0;

	if (json_object_object_get_ex(ret, "postcopy-vcpu-blocktime", &v))
		err = parse_vcpu_blocktime(v, m);
	if (!err && json_object_object_get_ex(ret, "blocked-reasons", &v))
		err = parse_blocked(v, m);
	if (!err && json_object_object_get_ex(ret, "error-desc", &v)) {
		err = copy_str(v, m->error_desc, sizeof(m->error_desc));
		if (!err)
			m->have |= 1ULL << MIG_ERROR_DESC;
	}
	return err;
}

/* Unknown members (QEMU adds some in most releases) and "socket-address" are ignored. */
int qmp_parse_migrate(struct json_object *ret, struct mt_migrate_info *out)
{
	struct mt_migrate_info m = { .status = "none" }; /* no "status": never migrated */
	struct json_object *v;
	int err;

	if (!json_object_is_type(ret, json_type_object))
		return -EINVAL;
	if (json_object_object_get_ex(ret, "status", &v)) {
		err = copy_str(v, m.status, sizeof(m.status));
		if (err)
			return err;
	}
	err = parse_fields(ret, mig_fields, NFIELDS(mig_fields), &m);
	if (!err)
		err = parse_objects(ret, &m);
	if (!err)
		err = parse_lists(ret, &m);
	if (err)
		return err;
	*out = m;
	return 0;
}

int qmp_parse_status(struct json_object *ret, char *status, size_t len, int *running)
{
	struct json_object *st, *run;
	int err;

	if (!json_object_is_type(ret, json_type_object) ||
	    !json_object_object_get_ex(ret, "status", &st) ||
	    !json_object_object_get_ex(ret, "running", &run) ||
	    !json_object_is_type(run, json_type_boolean))
		return -EINVAL;
	err = copy_str(st, status, len);
	if (err)
		return err;
	*running = json_object_get_boolean(run);
	return 0;
}

int qmp_parse_name(struct json_object *ret, char *name, size_t len)
{
	struct json_object *v;

	if (!json_object_is_type(ret, json_type_object) || !len)
		return -EINVAL;
	if (!json_object_object_get_ex(ret, "name", &v)) {
		name[0] = '\0'; /* QEMU started without -name */
		return 0;
	}
	return copy_str(v, name, len);
}

static int get_int(struct json_object *obj, const char *key, int *out)
{
	struct json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return -EINVAL;
	x = json_object_get_int64(v);
	if (x < 0 || x > INT32_MAX)
		return -EINVAL;
	*out = (int)x;
	return 0;
}

static int parse_vcpu(struct json_object *obj, struct mt_vcpu_info *out)
{
	struct json_object *path;
	int err;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "qom-path", &path))
		return -EINVAL;
	err = get_int(obj, "cpu-index", &out->cpu_index);
	if (!err)
		err = get_int(obj, "thread-id", &out->thread_id);
	if (!err)
		err = copy_str(path, out->qom_path, sizeof(out->qom_path));
	return err;
}

/* Entries past QMP_MAX_VCPUS are ignored: the per-vCPU tables are bounded. */
int qmp_parse_cpus_fast(struct json_object *ret, struct mt_vcpu_info **ret_vcpus, int *ret_n)
{
	struct mt_vcpu_info *v = NULL;
	size_t n;
	int err = 0;

	if (!json_object_is_type(ret, json_type_array))
		return -EINVAL;
	n = json_object_array_length(ret);
	if (n > QMP_MAX_VCPUS)
		n = QMP_MAX_VCPUS;
	if (n) {
		v = calloc(n, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n && !err; i++)
		err = parse_vcpu(json_object_array_get_idx(ret, i), &v[i]);
	if (err) {
		free(v);
		return err;
	}
	*ret_vcpus = v;
	*ret_n = (int)n;
	return 0;
}
