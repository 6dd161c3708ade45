// SPDX-License-Identifier: GPL-2.0-only
/*
 * Nonblocking QMP client. One connection per QEMU monitor socket, one request
 * in flight, a deadline on every step (connect, greeting, each reply), and a
 * reconnect delay after any failure. The snapshot keeps the last good answers
 * across disconnects: data already collected is never lost.
 *
 * Read-only by construction: every command goes through client_send(), which
 * refuses anything that is not qmp_capabilities or query-*.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>
#include "log.h"
#include "qmp.h"

/*
 * query-cpus-fast is answered without interrupting vCPUs, but its reply grows
 * with the vCPU count (~150 bytes each) and thread ids only change on hotplug
 * or a QEMU restart; refresh it once a second (and on every new connection)
 * rather than on every poll round of query-status/query-migrate.
 */
#define QMP_CPUS_PERIOD_NS   1000000000ULL
#define QMP_READ_CHUNK	     16384
#define QMP_READS_PER_WAKEUP 16 /* then yield to the loop: a chatty peer cannot starve it */

enum qmp_cmd { CMD_CAPABILITIES, CMD_NAME, CMD_STATUS, CMD_MIGRATE, CMD_CPUS, CMD_MAX };
#define CMD_NONE     CMD_MAX
#define CMD_BIT(cmd) (1U << (cmd))

struct qmp_client {
	struct mt_loop *loop;
	char *path;
	uint64_t timeout_ns, reconnect_ns;
	int fd;
	uint32_t events; /* epoll interest registered for fd */
	enum qmp_state state;
	int up;
	struct qmp_framer *framer;
	char out[128]; /* one command at a time */
	size_t out_len, out_off;
	enum qmp_cmd inflight;
	uint64_t inflight_id, next_id;
	uint64_t deadline_ns; /* of the connect, the greeting or the reply in flight */
	uint64_t sent_ns;     /* when the request in flight was fully written */
	uint64_t retry_ns;    /* when DISCONNECTED: earliest reconnect */
	unsigned int round;   /* CMD_BITs still to send in this poll round */
	int name_asked;	      /* on this connection */
	uint64_t cpus_asked_ns;
	char reason[384];
	char last_error[256];
	struct qmp_snapshot snap;
	struct qmp_stats stats;
	char rbuf[QMP_READ_CHUNK];
};

static int on_name(struct qmp_client *c, struct json_object *ret, uint64_t stamp);
static int on_status(struct qmp_client *c, struct json_object *ret, uint64_t stamp);
static int on_migrate(struct qmp_client *c, struct json_object *ret, uint64_t stamp);
static int on_cpus(struct qmp_client *c, struct json_object *ret, uint64_t stamp);

static const struct {
	const char *name;
	int (*handle)(struct qmp_client *c, struct json_object *ret, uint64_t stamp);
} cmds[CMD_MAX] = {
	[CMD_CAPABILITIES] = { "qmp_capabilities", NULL },
	[CMD_NAME] = { "query-name", on_name },
	[CMD_STATUS] = { "query-status", on_status },
	[CMD_MIGRATE] = { "query-migrate", on_migrate },
	[CMD_CPUS] = { "query-cpus-fast", on_cpus },
};

int qmp_command__allowed(const char *cmd)
{
	if (!cmd)
		return 0;
	/* Only [a-z0-9_-]: the name is pasted into JSON unescaped. */
	for (const char *p = cmd; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_'))
			return 0;
	return !strcmp(cmd, "qmp_capabilities") || (!strncmp(cmd, "query-", 6) && cmd[6] != '\0');
}

static void teardown(struct qmp_client *c)
{
	if (c->fd >= 0) {
		mt_loop__del(c->loop, c->fd);
		close(c->fd);
	}
	c->fd = -1;
	c->events = 0;
	c->out_len = c->out_off = 0;
	c->inflight = CMD_NONE;
	c->round = 0;
	c->up = 0;
	if (c->framer)
		qmp_framer__reset(c->framer);
}

/* Drop the connection, say why (once per distinct reason) and schedule a reconnect. */
static void __attribute__((format(printf, 2, 3)))
client_fail(struct qmp_client *c, const char *fmt, ...)
{
	char msg[sizeof(c->reason)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(msg, c->reason))
		log_warn("%s", msg);
	else
		log_debug("%s", msg);
	strcpy(c->reason, msg);
	teardown(c);
	c->state = QMP_DISCONNECTED;
	c->retry_ns = mt_now_ns() + c->reconnect_ns;
}

static void set_events(struct qmp_client *c, uint32_t events)
{
	int err;

	if (c->events == events)
		return;
	err = mt_loop__mod(c->loop, c->fd, events);
	if (err)
		client_fail(c, "QMP %s: epoll: %s", c->path, strerror(-err));
	else
		c->events = events;
}

static void flush_out(struct qmp_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n >= 0) {
			c->out_off += n;
		} else if (errno == EAGAIN) {
			set_events(c, EPOLLIN | EPOLLOUT);
			return;
		} else if (errno == EPIPE || errno == ECONNRESET) {
			client_fail(c, "QMP %s: QEMU closed the monitor connection", c->path);
			return;
		} else if (errno != EINTR) {
			client_fail(c, "QMP %s: write: %s", c->path, strerror(errno));
			return;
		}
	}
	c->out_len = c->out_off = 0;
	c->sent_ns = mt_now_ns(); /* replies are stamped between this and their arrival */
	set_events(c, EPOLLIN);
}

/* The only way a command leaves the client. */
static int client_send(struct qmp_client *c, enum qmp_cmd cmd)
{
	const char *name = cmds[cmd].name;
	int n;

	if (!qmp_command__allowed(name)) {
		log_err("QMP %s: refusing to send \"%s\": migtrace only sends query-* commands",
			c->path, name);
		return -EPERM;
	}
	if (c->out_len || c->inflight != CMD_NONE)
		return -EBUSY;
	n = snprintf(c->out, sizeof(c->out), "{\"execute\":\"%s\",\"id\":%" PRIu64 "}\r\n", name,
		     c->next_id);
	if (n < 0 || (size_t)n >= sizeof(c->out))
		return -E2BIG;
	c->out_len = n;
	c->inflight = cmd;
	c->inflight_id = c->next_id++;
	c->deadline_ns = mt_now_ns() + c->timeout_ns;
	c->stats.requests++;
	flush_out(c);
	return 0;
}

/* Send the next command of the poll round, if any. */
static void round_next(struct qmp_client *c)
{
	for (int cmd = 0; cmd < CMD_MAX; cmd++) {
		if (!(c->round & CMD_BIT(cmd)))
			continue;
		c->round &= ~CMD_BIT(cmd);
		if (client_send(c, cmd))
			client_fail(c, "QMP %s: cannot send %s", c->path, cmds[cmd].name);
		return;
	}
}

static void round_start(struct qmp_client *c, uint64_t now)
{
	c->round = CMD_BIT(CMD_STATUS) | CMD_BIT(CMD_MIGRATE);
	/* Per connection: the socket may now belong to a restarted QEMU. */
	if (!c->name_asked) {
		c->round |= CMD_BIT(CMD_NAME);
		c->name_asked = 1;
	}
	if (!c->cpus_asked_ns || now - c->cpus_asked_ns >= QMP_CPUS_PERIOD_NS) {
		c->round |= CMD_BIT(CMD_CPUS);
		c->cpus_asked_ns = now;
	}
	round_next(c);
}

static int on_name(struct qmp_client *c, struct json_object *ret, uint64_t stamp)
{
	int err = qmp_parse_name(ret, c->snap.name, sizeof(c->snap.name));

	if (!err)
		c->snap.name_ns = stamp;
	return err;
}

static int on_status(struct qmp_client *c, struct json_object *ret, uint64_t stamp)
{
	char status[sizeof(c->snap.status)];
	int running, err;

	err = qmp_parse_status(ret, status, sizeof(status), &running);
	if (err)
		return err;
	memcpy(c->snap.status, status, sizeof(status));
	c->snap.running = running;
	/* QEMU started with -incoming waits in "inmigrate": a destination from then on. */
	if (!strcmp(status, "inmigrate"))
		c->snap.incoming = 1;
	c->snap.status_ns = stamp;
	return 0;
}

static int on_migrate(struct qmp_client *c, struct json_object *ret, uint64_t stamp)
{
	int err = qmp_parse_migrate(ret, &c->snap.mig);

	if (!err)
		c->snap.mig_ns = stamp;
	return err;
}

static int on_cpus(struct qmp_client *c, struct json_object *ret, uint64_t stamp)
{
	struct mt_vcpu_info *v;
	int n, err;

	err = qmp_parse_cpus_fast(ret, &v, &n);
	if (err)
		return err;
	free(c->snap.vcpus);
	c->snap.vcpus = v;
	c->snap.nvcpus = n;
	c->snap.vcpus_ns = stamp;
	return 0;
}

static void record_error(struct qmp_client *c, enum qmp_cmd cmd, struct json_object *error)
{
	struct json_object *desc = NULL;
	const char *text = "(no description)";

	if (json_object_object_get_ex(error, "desc", &desc) &&
	    json_object_is_type(desc, json_type_string))
		text = json_object_get_string(desc);
	c->stats.errors++;
	snprintf(c->last_error, sizeof(c->last_error), "%s: %s", cmds[cmd].name, text);
	log_debug("QMP %s: %s", c->path, c->last_error);
}

/* The answer to the request in flight: matched by id, stamped, handed to its parser. */
static void on_reply(struct qmp_client *c, struct json_object *msg)
{
	struct json_object *id, *ret, *error;
	uint64_t now = mt_now_ns();
	enum qmp_cmd cmd = c->inflight;
	int err, negotiated = 0;

	if (cmd == CMD_NONE || c->out_len || !json_object_object_get_ex(msg, "id", &id) ||
	    !json_object_is_type(id, json_type_int) ||
	    json_object_get_uint64(id) != c->inflight_id) {
		client_fail(c, "QMP %s: malformed reply (unexpected or unmatched id)", c->path);
		return;
	}
	c->inflight = CMD_NONE;
	c->stats.replies++;
	c->stats.last_rtt_ns = now - c->sent_ns;
	if (json_object_object_get_ex(msg, "error", &error)) {
		record_error(c, cmd, error);
		if (cmd == CMD_CAPABILITIES) {
			client_fail(c, "QMP %s: qmp_capabilities refused (%s)", c->path,
				    c->last_error);
			return;
		}
	} else if (!json_object_object_get_ex(msg, "return", &ret)) {
		client_fail(c, "QMP %s: malformed reply (neither return nor error)", c->path);
		return;
	} else if (cmd == CMD_CAPABILITIES) {
		c->state = QMP_READY;
		negotiated = 1;
	} else {
		err = cmds[cmd].handle(c, ret, c->sent_ns + (now - c->sent_ns) / 2);
		if (err) {
			c->stats.errors++;
			snprintf(c->last_error, sizeof(c->last_error), "%s: unexpected reply (%s)",
				 cmds[cmd].name, strerror(-err));
		}
	}
	c->up = 1;
	c->reason[0] = '\0';
	if (negotiated)
		round_start(c, now); /* first data without waiting for the next tick */
	else
		round_next(c);
}

/* {"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, ...}, ...}} */
static void log_greeting(struct qmp_client *c, struct json_object *qmp)
{
	static const char *const keys[] = { "version", "qemu" };
	static const char *const parts[] = { "major", "minor", "micro" };
	struct json_object *v = qmp, *n[3];

	for (int i = 0; i < 2; i++)
		if (!json_object_object_get_ex(v, keys[i], &v))
			return;
	for (int i = 0; i < 3; i++)
		if (!json_object_object_get_ex(v, parts[i], &n[i]))
			return;
	log_info("QMP %s: connected to QEMU %d.%d.%d", c->path, json_object_get_int(n[0]),
		 json_object_get_int(n[1]), json_object_get_int(n[2]));
}

static void on_message(struct qmp_client *c, struct json_object *msg)
{
	struct json_object *v;

	if (c->state == QMP_GREETING) {
		if (!json_object_object_get_ex(msg, "QMP", &v)) {
			client_fail(c, "QMP %s: malformed reply (no {\"QMP\": ...} greeting)",
				    c->path);
			return;
		}
		log_greeting(c, v);
		c->state = QMP_NEGOTIATING;
		if (client_send(c, CMD_CAPABILITIES))
			client_fail(c, "QMP %s: cannot send qmp_capabilities", c->path);
		return;
	}
	if (json_object_object_get_ex(msg, "event", &v)) {
		c->stats.events++;
		log_debug("QMP %s: event %s", c->path, json_object_get_string(v));
		if (qmp_events__add(&c->snap.ev, msg))
			log_debug("QMP %s: malformed event ignored", c->path);
		return;
	}
	on_reply(c, msg);
}

/* Printable excerpt of bytes that failed to parse, for the reason string. */
static void excerpt(const char *buf, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size; i++)
		out[n++] = buf[i] >= 0x20 && buf[i] < 0x7f && buf[i] != '"' ? buf[i] : '.';
	out[n] = '\0';
}

static void malformed(struct qmp_client *c, long err, const char *buf, size_t len)
{
	char ex[33];
	int hmp;

	if (err == -EMSGSIZE) {
		client_fail(c, "QMP %s: malformed reply (message larger than %d bytes)", c->path,
			    QMP_MAX_MSG);
		return;
	}
	excerpt(buf, len, ex, sizeof(ex));
	/* HMP greets with "QEMU x.y.z monitor - type 'help'...": a common mix-up. */
	hmp = c->state == QMP_GREETING && !strncmp(buf, "QEMU", 4);
	client_fail(c, "QMP %s: malformed reply (not a JSON object near \"%s\")%s", c->path, ex,
		    hmp ? " - an HMP monitor? use -qmp, not -monitor" : "");
}

/* Frame and dispatch len bytes of rbuf. Returns -1 once the connection is gone. */
static int feed_input(struct qmp_client *c, size_t len)
{
	size_t off = 0;

	while (off < len) {
		struct json_object *msg;
		long n = qmp_framer__feed(c->framer, c->rbuf + off, len - off, &msg);

		if (n < 0) {
			malformed(c, n, c->rbuf + off, len - off);
			return -1;
		}
		if (n == 0)
			break;
		off += n;
		on_message(c, msg);
		json_object_put(msg);
		if (c->fd < 0)
			return -1;
	}
	return 0;
}

static void read_input(struct qmp_client *c)
{
	for (int i = 0; i < QMP_READS_PER_WAKEUP; i++) {
		ssize_t n = read(c->fd, c->rbuf, sizeof(c->rbuf));

		if (n > 0) {
			if (feed_input(c, n))
				return;
		} else if (n == 0 || errno == ECONNRESET) {
			client_fail(c, "QMP %s: QEMU closed the monitor connection", c->path);
			return;
		} else if (errno == EAGAIN) {
			return;
		} else if (errno != EINTR) {
			client_fail(c, "QMP %s: read: %s", c->path, strerror(errno));
			return;
		}
	}
}

static void connect_failed(struct qmp_client *c, int err)
{
	const char *p = c->path;
	char qmp_arg[sizeof(((struct sockaddr_un *)0)->sun_path) + 40];
	struct stat st;

	snprintf(qmp_arg, sizeof(qmp_arg), "-qmp unix:%s,server=on,wait=off", p);
	if (err == ENOENT)
		client_fail(c, "%s does not exist (is QEMU running with %s?)", p, qmp_arg);
	else if (err == EACCES || err == EPERM)
		client_fail(c, "QMP %s: permission denied (run migtrace as root or as QEMU's user)",
			    p);
	else if (!stat(p, &st) && !S_ISSOCK(st.st_mode))
		client_fail(c, "%s is not a socket (give the path of a QEMU -qmp unix: socket)", p);
	else if (err == ECONNREFUSED)
		client_fail(c, "QMP %s: connection refused (QEMU exited and left a stale socket?)",
			    p);
	else if (err == EAGAIN)
		/* QEMU serves one client; others wait in a listen backlog of 1. */
		client_fail(c, "QMP %s: listen backlog full (clients queue here for the monitor)",
			    p);
	else
		client_fail(c, "QMP %s: connect: %s", p, strerror(err));
}

static void on_io(struct mt_loop *loop, int fd, uint32_t events, void *data)
{
	struct qmp_client *c = data;
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->state == QMP_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			connect_failed(c, err);
			return;
		}
		c->state = QMP_GREETING;
		c->deadline_ns = mt_now_ns() + c->timeout_ns;
		c->stats.connects++;
		set_events(c, EPOLLIN);
		return;
	}
	if (events & EPOLLOUT)
		flush_out(c);
	if (c->fd == fd && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		read_input(c);
}

static void client_connect(struct qmp_client *c, uint64_t now)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int err;

	if (strlen(c->path) >= sizeof(sa.sun_path)) {
		client_fail(c, "QMP %s: path longer than %zu bytes", c->path,
			    sizeof(sa.sun_path) - 1);
		return;
	}
	strcpy(sa.sun_path, c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		client_fail(c, "QMP %s: socket: %s", c->path, strerror(errno));
		return;
	}
	c->name_asked = 0;
	c->cpus_asked_ns = 0;
	c->deadline_ns = now + c->timeout_ns;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		c->state = QMP_GREETING;
		c->stats.connects++;
		c->events = EPOLLIN;
	} else if (errno == EINPROGRESS) {
		c->state = QMP_CONNECTING;
		c->events = EPOLLOUT;
	} else {
		err = errno;
		close(c->fd);
		c->fd = -1;
		connect_failed(c, err);
		return;
	}
	err = mt_loop__add(c->loop, c->fd, c->events, on_io, c);
	if (err) {
		close(c->fd); /* not registered: teardown must not del it */
		c->fd = -1;
		client_fail(c, "QMP %s: epoll: %s", c->path, strerror(-err));
	}
}

static void client_timeout(struct qmp_client *c)
{
	unsigned long long ms = c->timeout_ns / 1000000;

	c->stats.timeouts++;
	if (c->state == QMP_CONNECTING)
		client_fail(c, "QMP %s: connect did not complete within %llu ms", c->path, ms);
	else if (c->state == QMP_GREETING)
		/* QEMU accepts a second client into its backlog but greets only one at a time. */
		client_fail(c, "QMP %s: no greeting within %llu ms (%s)", c->path, ms,
			    "another client holds the monitor?");
	else
		client_fail(c, "QMP %s: no reply to %s within %llu ms (QEMU stuck?)", c->path,
			    cmds[c->inflight].name, ms);
}

void qmp_client__tick(struct qmp_client *c, uint64_t now_ns)
{
	if (!c)
		return;
	switch (c->state) {
	case QMP_DISCONNECTED:
		if (now_ns >= c->retry_ns)
			client_connect(c, now_ns);
		break;
	case QMP_CONNECTING:
	case QMP_GREETING:
		if (now_ns >= c->deadline_ns)
			client_timeout(c);
		break;
	default:
		if (c->inflight != CMD_NONE) {
			if (now_ns >= c->deadline_ns)
				client_timeout(c);
		} else if (c->state == QMP_READY) {
			round_start(c, now_ns);
		}
		break;
	}
}

struct qmp_client *qmp_client__new(struct mt_loop *loop, const struct qmp_client_options *opts)
{
	struct qmp_client *c;

	if (!loop || !opts || !opts->path || !opts->path[0] || !opts->timeout_ns) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = loop;
	c->fd = -1;
	c->inflight = CMD_NONE;
	qmp_events__init(&c->snap.ev);
	c->next_id = 1;
	c->timeout_ns = opts->timeout_ns;
	c->reconnect_ns = opts->reconnect_ns;
	c->path = strdup(opts->path);
	c->framer = qmp_framer__new();
	if (!c->path || !c->framer) {
		qmp_client__free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void qmp_client__free(struct qmp_client *c)
{
	if (!c)
		return;
	teardown(c);
	qmp_framer__free(c->framer);
	free(c->snap.vcpus);
	free(c->path);
	free(c);
}

enum qmp_state qmp_client__state(const struct qmp_client *c)
{
	return c->state;
}

int qmp_client__up(const struct qmp_client *c)
{
	return c->state == QMP_READY && c->up;
}

const char *qmp_client__reason(const struct qmp_client *c)
{
	static const char *const what[QMP_STATE_MAX] = {
		[QMP_DISCONNECTED] = "QMP: not connected yet",
		[QMP_CONNECTING] = "QMP: connecting",
		[QMP_GREETING] = "QMP: waiting for the greeting",
		[QMP_NEGOTIATING] = "QMP: negotiating capabilities",
		[QMP_READY] = "QMP: waiting for the first reply",
	};

	if (qmp_client__up(c))
		return NULL;
	return c->reason[0] ? c->reason : what[c->state];
}

const struct qmp_snapshot *qmp_client__snapshot(const struct qmp_client *c)
{
	return &c->snap;
}

const char *qmp_client__path(const struct qmp_client *c)
{
	return c->path;
}

const struct qmp_stats *qmp_client__stats(const struct qmp_client *c)
{
	return &c->stats;
}

const char *qmp_client__last_error(const struct qmp_client *c)
{
	return c->last_error[0] ? c->last_error : NULL;
}
