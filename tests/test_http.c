// SPDX-License-Identifier: GPL-2.0-only
/*
 * The HTTP server on a real Unix socket: the daemon's loop runs in a thread,
 * the test talks HTTP over plain AF_UNIX sockets. Covers request routing and
 * negotiation as the handler sees them, the limits a peer controls (header
 * size, idle clients, connection count), and how the socket path is claimed,
 * protected and released.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "http.h"
#include "loop.h"
#include "openmetrics.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BIG_BODY      (4u << 20)
#define PROMETHEUS_ACCEPT                                                                          \
	"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"   \
	"q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

struct server {
	char dir[64];
	char path[128];
	struct mt_loop *loop;
	struct mt_http *http;
	int ctl[2]; /* a byte written to ctl[1] stops the loop */
	pthread_t thread;
};

/* ---- the server side ---- */

static char *big_body(void)
{
	char *b = malloc(BIG_BODY);

	for (size_t i = 0; b && i < BIG_BODY; i++)
		b[i] = 'a' + i % 26;
	return b;
}

/* Echo what the handler saw, so the client can check it. */
static int echo_handler(void *ctx, const struct mt_http_request *req, struct mt_http_response *resp)
{
	const char *consumer = req->arg(req, "consumer");
	int n;

	if (!strcmp(req->path, "/fail"))
		return -EIO;
	if (!strcmp(req->path, "/big")) {
		resp->body = big_body();
		resp->len = BIG_BODY;
		return resp->body ? 0 : -ENOMEM;
	}
	if (strcmp(req->path, "/metrics")) {
		resp->status = 404;
		resp->body = strdup("not found\n");
		resp->len = resp->body ? strlen(resp->body) : 0;
		return 0;
	}
	resp->status = 200;
	resp->content_type = om_content_type(om_negotiate(req->accept));
	n = asprintf(&resp->body, "method=%s path=%s accept=%s consumer=%s\n", req->method,
		     req->path, req->accept ? req->accept : "(none)",
		     consumer ? consumer : "(none)");
	if (n < 0)
		return -ENOMEM;
	resp->len = n;
	return 0;
}

static void on_ctl(struct mt_loop *loop, int fd, uint32_t events, void *data)
{
	mt_loop__stop(loop, 0);
}

static void *loop_thread(void *arg)
{
	struct server *s = arg;

	mt_loop__run(s->loop);
	return NULL;
}

static struct server *server_new(void)
{
	struct server *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	strcpy(s->dir, "/tmp/test_http.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	/* A missing parent directory: the server creates it. */
	snprintf(s->path, sizeof(s->path), "%s/run/metrics.sock", s->dir);
	s->loop = mt_loop__new();
	assert_non_null(s->loop);
	return s;
}

static void server_start(struct server *s, const struct mt_http_options *opts)
{
	const char *msg = NULL;

	s->http = mt_http__new(s->loop, opts, echo_handler, NULL, &msg);
	if (!s->http)
		fail_msg("mt_http__new: %s (%s)", strerror(errno), msg ? msg : "-");
	assert_int_equal(pipe2(s->ctl, O_CLOEXEC), 0);
	assert_int_equal(mt_loop__add(s->loop, s->ctl[0], EPOLLIN, on_ctl, s), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, loop_thread, s), 0);
}

static void server_stop(struct server *s)
{
	char sub[160];

	if (s->http) {
		assert_int_equal(write(s->ctl[1], "x", 1), 1);
		assert_int_equal(pthread_join(s->thread, NULL), 0);
		mt_loop__del(s->loop, s->ctl[0]);
		close(s->ctl[0]);
		close(s->ctl[1]);
		mt_http__free(s->http);
		/* The socket goes away with the server. */
		assert_int_equal(access(s->path, F_OK), -1);
	}
	mt_loop__free(s->loop);
	unlink(s->path);
	snprintf(sub, sizeof(sub), "%s/run", s->dir);
	rmdir(sub);
	assert_int_equal(rmdir(s->dir), 0);
	free(s);
}

static int setup_server(void **state)
{
	struct server *s = server_new();
	struct mt_http_options opts = { .socket_path = s->path, .mode = 0660 };

	server_start(s, &opts);
	*state = s;
	return 0;
}

/* A 1 s idle timeout, to watch the housekeeping timer close connections. */
static int setup_server_short_timeout(void **state)
{
	struct server *s = server_new();
	struct mt_http_options opts = { .socket_path = s->path, .mode = 0660, .timeout_s = 1 };

	server_start(s, &opts);
	*state = s;
	return 0;
}

/* One connection at a time, to see the limit and what happens when a slot frees up. */
static int setup_server_one_client(void **state)
{
	struct server *s = server_new();
	struct mt_http_options opts = { .socket_path = s->path, .mode = 0660, .max_clients = 1 };

	server_start(s, &opts);
	*state = s;
	return 0;
}

static int teardown_server(void **state)
{
	server_stop(*state);
	return 0;
}

/* ---- the client side ---- */

static int client_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(addr.sun_path, path);
	/* A server bug must fail the test, not hang it. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Send everything, or stop at the first error (the server may close early). */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0)
			return -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

struct reply {
	char *raw;
	size_t len;
	int status;
	size_t head_len; /* up to and including the empty line */
	const char *body;
	size_t body_len;
	bool closed; /* the server closed the connection */
};

static void reply_free(struct reply *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

/* The value of a response header, or NULL; *ret_len gets its length. */
static const char *reply_header(const struct reply *r, const char *name, size_t *ret_len)
{
	size_t n = strlen(name);

	for (const char *p = strstr(r->raw, "\r\n"); p && p < r->raw + r->head_len;
	     p = strstr(p + 2, "\r\n")) {
		if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':') {
			const char *v = p + 3 + n + strspn(p + 3 + n, " ");

			*ret_len = strstr(v, "\r\n") - v;
			return v;
		}
	}
	return NULL;
}

static void reply_parse_head(struct reply *r)
{
	char *end = strstr(r->raw, "\r\n\r\n");

	if (!end)
		return;
	r->head_len = end + 4 - r->raw;
	if (sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
		r->status = -1;
}

/* Expected body length from Content-Length, or SIZE_MAX (read to EOF). */
static size_t reply_content_length(const struct reply *r, bool head)
{
	const char *v;
	size_t n;

	if (head)
		return 0;
	v = reply_header(r, "Content-Length", &n);
	return v ? strtoul(v, NULL, 10) : SIZE_MAX;
}

/* Read one response; HEAD responses carry Content-Length but no body. */
static void read_reply(int fd, struct reply *r, bool head)
{
	size_t cap = 8192, want = SIZE_MAX;

	memset(r, 0, sizeof(*r));
	r->raw = malloc(cap + 1);
	assert_non_null(r->raw);
	for (;;) {
		ssize_t n;

		if (r->head_len && r->len - r->head_len >= want)
			break;
		if (r->len == cap) {
			cap *= 2;
			r->raw = realloc(r->raw, cap + 1);
			assert_non_null(r->raw);
		}
		n = recv(fd, r->raw + r->len, cap - r->len, 0);
		if (n <= 0) {
			r->closed = true; /* EOF, reset or timeout */
			break;
		}
		r->len += n;
		r->raw[r->len] = '\0';
		if (!r->head_len) {
			reply_parse_head(r);
			if (r->head_len)
				want = reply_content_length(r, head);
		}
	}
	r->raw[r->len] = '\0';
	r->body = r->raw + r->head_len;
	r->body_len = r->head_len ? r->len - r->head_len : 0;
}

static void roundtrip(const char *path, const char *request, struct reply *r)
{
	int fd = client_connect(path);

	assert_true(fd >= 0);
	send_all(fd, request, strlen(request));
	read_reply(fd, r, !strncmp(request, "HEAD ", 5));
	close(fd);
}

static void assert_header(const struct reply *r, const char *name, const char *want)
{
	size_t n;
	const char *v = reply_header(r, name, &n);

	if (!v || n != strlen(want) || strncmp(v, want, n))
		fail_msg("header %s: want \"%s\" in\n%s", name, want, r->raw);
}

/* ---- requests, table-driven ---- */

struct request_case {
	const char *what;
	const char *request;
	int status;		   /* 0: connection closed without a response */
	const char *headers[2][2]; /* { name, value } that must be present */
	const char *body;	   /* the exact body, or NULL: not checked */
};

#define GET(target, extra) "GET " target " HTTP/1.1\r\nHost: localhost\r\n" extra "\r\n"
#define CT_PROM		   "text/plain; version=0.0.4; charset=utf-8"
#define CT_OM		   "application/openmetrics-text; version=1.0.0; charset=utf-8"

static const struct request_case request_cases[] = {
	{ "GET /metrics",
	  GET("/metrics", ""),
	  200,
	  { { "Content-Type", CT_PROM } },
	  "method=GET path=/metrics accept=(none) consumer=(none)\n" },
	{ "Prometheus 2.42 Accept: OpenMetrics",
	  GET("/metrics", "Accept: " PROMETHEUS_ACCEPT "\r\n"),
	  200,
	  { { "Content-Type", CT_OM } },
	  "method=GET path=/metrics accept=" PROMETHEUS_ACCEPT " consumer=(none)\n" },
	{ "curl's Accept: Prometheus text",
	  GET("/metrics", "Accept: */*\r\n"),
	  200,
	  { { "Content-Type", CT_PROM } },
	  "method=GET path=/metrics accept=*/* consumer=(none)\n" },
	{ "path split from the query",
	  GET("/metrics?consumer=grafana&x=1", ""),
	  200,
	  { { 0 } },
	  "method=GET path=/metrics accept=(none) consumer=grafana\n" },
	{ "query argument percent-decoded",
	  GET("/metrics?consumer=a%20b", ""),
	  200,
	  { { 0 } },
	  "method=GET path=/metrics accept=(none) consumer=a b\n" },
	{ "HEAD: headers, no body",
	  "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
	  200,
	  { { "Content-Type", CT_PROM }, { "Content-Length", "56" } },
	  "" },
	{ "unknown path: the handler's 404", GET("/nope", ""), 404, { { 0 } }, "not found\n" },
	{ "handler error: 500", GET("/fail", ""), 500, { { 0 } }, NULL },
	{ "POST: 405 with Allow",
	  "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na=b",
	  405,
	  { { "Allow", "GET, HEAD" } },
	  NULL },
	{ "PUT: 405",
	  "PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	  405,
	  { { "Allow", "GET, HEAD" } },
	  NULL },
	{ "DELETE: 405", "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405, { { 0 } }, NULL },
	{ "HTTP/1.0 without Host", "GET /metrics HTTP/1.0\r\n\r\n", 200, { { 0 } }, NULL },
	{ "header line without a colon", GET("/metrics", "Bad Header\r\n"), 400, { { 0 } }, NULL },
	{ "unknown HTTP version", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505, { { 0 } }, NULL },
	{ "not a request line: closed without an answer", "HELLO\r\n\r\n", 0, { { 0 } }, NULL },
};

static void check_reply(const struct request_case *c, const struct reply *r)
{
	size_t n;

	print_message("  %s\n", c->what);
	if (r->status != c->status)
		fail_msg("%s: status %d, want %d:\n%s", c->what, r->status, c->status, r->raw);
	for (size_t h = 0; h < ARRAY_SIZE(c->headers) && c->headers[h][0]; h++)
		assert_header(r, c->headers[h][0], c->headers[h][1]);
	if (c->body && (r->body_len != strlen(c->body) || memcmp(r->body, c->body, r->body_len)))
		fail_msg("%s: body \"%.*s\", want \"%s\"", c->what, (int)r->body_len, r->body,
			 c->body);
	if (!c->status) {
		assert_true(r->closed && !r->len);
		return;
	}
	/* Content-Length is always there and, but for HEAD, matches the body. */
	assert_non_null(reply_header(r, "Content-Length", &n));
	if (strncmp(c->request, "HEAD ", 5))
		assert_int_equal(reply_content_length(r, false), r->body_len);
}

static void test_requests(void **state)
{
	struct server *s = *state;

	for (size_t i = 0; i < ARRAY_SIZE(request_cases); i++) {
		struct reply r;

		roundtrip(s->path, request_cases[i].request, &r);
		check_reply(&request_cases[i], &r);
		reply_free(&r);
	}
}

/* A scraper keeps its connection: two requests, one connection, no close. */
static void test_keep_alive(void **state)
{
	struct server *s = *state;
	int fd = client_connect(s->path);
	struct reply r;
	size_t n;

	assert_true(fd >= 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(send_all(fd, GET("/metrics", ""), strlen(GET("/metrics", ""))), 0);
		read_reply(fd, &r, false);
		assert_int_equal(r.status, 200);
		assert_false(r.closed);
		assert_null(reply_header(&r, "Connection", &n));
		reply_free(&r);
	}
	close(fd);
}

/* 4 MiB takes many partial writes: EPOLLOUT handling through MHD's epoll fd. */
static void test_big_response(void **state)
{
	struct server *s = *state;
	char *want = big_body();
	struct reply r;

	assert_non_null(want);
	roundtrip(s->path, GET("/big", ""), &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, BIG_BODY);
	assert_memory_equal(r.body, want, BIG_BODY);
	reply_free(&r);
	free(want);
}

/* An oversized request gets a 4xx or a closed connection, never a crash. */
static void oversized(const char *path, const char *prefix, const char *suffix)
{
	size_t fill = 100 * 1024, len = strlen(prefix) + fill + strlen(suffix);
	char *req = malloc(len + 1);
	const char *line;
	struct reply r;
	int fd;

	assert_non_null(req);
	strcpy(req, prefix);
	memset(req + strlen(prefix), 'a', fill);
	strcpy(req + strlen(prefix) + fill, suffix);
	fd = client_connect(path);
	assert_true(fd >= 0);
	send_all(fd, req, len); /* may fail with EPIPE: the server gave up early */
	read_reply(fd, &r, false);
	if (r.len && (r.status < 400 || r.status > 499))
		fail_msg("oversized request answered %d", r.status);
	line = r.len ? r.raw : "(closed)";
	print_message("  oversized request: %.*s\n", (int)strcspn(line, "\r"), line);
	assert_true(r.closed || reply_header(&r, "Connection", &len));
	close(fd);
	reply_free(&r);
	free(req);

	/* ... and the server still answers the next client. */
	roundtrip(path, GET("/metrics", ""), &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
}

static void test_oversized_header(void **state)
{
	struct server *s = *state;

	oversized(s->path, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ", "\r\n\r\n");
}

static void test_oversized_uri(void **state)
{
	struct server *s = *state;

	oversized(s->path, "GET /metrics?x=", " HTTP/1.1\r\nHost: x\r\n\r\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Clients that connect and send nothing (or half a request) block nobody. */
static void test_idle_clients_do_not_block(void **state)
{
	struct server *s = *state;
	int idle[8];
	struct reply r;
	double t0;

	for (size_t i = 0; i < ARRAY_SIZE(idle); i++) {
		idle[i] = client_connect(s->path);
		assert_true(idle[i] >= 0);
		if (i % 2)
			assert_int_equal(send_all(idle[i], "GET /metr", 9), 0);
	}
	t0 = now_s();
	roundtrip(s->path, GET("/metrics", ""), &r);
	assert_int_equal(r.status, 200);
	assert_true(now_s() - t0 < 1.0);
	reply_free(&r);
	for (size_t i = 0; i < ARRAY_SIZE(idle); i++)
		close(idle[i]);
}

/*
 * With no traffic at all, only the timerfd armed from MHD_get_timeout()
 * wakes the loop: the idle connections must still be closed in time.
 */
static void test_idle_timeout(void **state)
{
	struct server *s = *state;
	int idle = client_connect(s->path), half = client_connect(s->path);
	double t0 = now_s();
	char c;

	assert_true(idle >= 0 && half >= 0);
	assert_int_equal(send_all(half, "GET /metrics HTTP/1.1\r\n", 23), 0);
	assert_int_equal(recv(idle, &c, 1, 0), 0); /* EOF, not the 5 s SO_RCVTIMEO */
	assert_true(recv(half, &c, 1, 0) <= 0);
	assert_true(now_s() - t0 >= 0.9);
	assert_true(now_s() - t0 < 3.5);
	close(idle);
	close(half);
}

/*
 * 100 clients at once, more than the default limit of 64 connections: the
 * rest wait in the listen backlog and are served as slots free up.
 */
static void test_many_clients(void **state)
{
	struct server *s = *state;
	int fd[100];

	for (size_t i = 0; i < ARRAY_SIZE(fd); i++) {
		fd[i] = client_connect(s->path);
		assert_true(fd[i] >= 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(fd); i++)
		assert_int_equal(send_all(fd[i], GET("/metrics", ""), strlen(GET("/metrics", ""))),
				 0);
	for (size_t i = 0; i < ARRAY_SIZE(fd); i++) {
		struct reply r;

		read_reply(fd[i], &r, false);
		if (r.status != 200)
			fail_msg("client %zu: status %d", i, r.status);
		reply_free(&r);
		close(fd[i]);
	}
}

/*
 * At its limit MHD stops accepting; the next client waits in the backlog and
 * must be served as soon as a slot frees, not at the next unrelated event.
 */
static void test_connection_limit(void **state)
{
	struct server *s = *state;
	const char *req = GET("/metrics", "");
	int first = client_connect(s->path), second = client_connect(s->path);
	struct reply r;
	double t0;

	assert_true(first >= 0 && second >= 0);
	assert_int_equal(send_all(first, req, strlen(req)), 0);
	read_reply(first, &r, false);
	assert_int_equal(r.status, 200);
	reply_free(&r);

	assert_int_equal(send_all(second, req, strlen(req)), 0);
	usleep(200 * 1000);
	t0 = now_s();
	close(first); /* keep-alive until now: the only slot was taken */
	read_reply(second, &r, false);
	assert_int_equal(r.status, 200);
	assert_true(now_s() - t0 < 1.0);
	reply_free(&r);
	close(second);
}

struct burst {
	const char *path;
	int ok;
};

static void *burst_thread(void *arg)
{
	struct burst *b = arg;

	for (int i = 0; i < 50; i++) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		struct timeval tv = { .tv_sec = 5 };
		char buf[1024];
		const char *req = GET("/metrics?consumer=burst", "Connection: close\r\n");
		size_t len = 0;
		ssize_t n;
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		/* No cmocka asserts here: they are not thread-safe. */
		strcpy(addr.sun_path, b->path);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
		    send_all(fd, req, strlen(req))) {
			close(fd);
			continue;
		}
		while (len < sizeof(buf) - 1 &&
		       (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
			len += n;
		buf[len] = '\0';
		close(fd);
		if (!strncmp(buf, "HTTP/1.1 200 ", 13) && strstr(buf, "consumer=burst\n"))
			b->ok++;
	}
	return NULL;
}

static void test_parallel_bursts(void **state)
{
	struct server *s = *state;
	struct burst b[16];
	pthread_t t[16];
	int ok = 0;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		b[i] = (struct burst){ .path = s->path };
		assert_int_equal(pthread_create(&t[i], NULL, burst_thread, &b[i]), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		pthread_join(t[i], NULL);
		ok += b[i].ok;
	}
	assert_int_equal(ok, 16 * 50);
}

/* ---- the socket path ---- */

static int noop_handler(void *ctx, const struct mt_http_request *req, struct mt_http_response *resp)
{
	return 0;
}

static struct mt_http *http_at(struct mt_loop *loop, const char *path, mode_t mode,
			       const char **ret_msg)
{
	struct mt_http_options opts = { .socket_path = path, .mode = mode };

	*ret_msg = NULL;
	return mt_http__new(loop, &opts, noop_handler, NULL, ret_msg);
}

/* Is a server listening on path? */
static bool listening(const char *path)
{
	int fd = client_connect(path);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

struct mode_case {
	mode_t mode;
	mode_t want;
};

static const struct mode_case mode_cases[] = {
	{ 0600, 0600 }, { 0660, 0660 }, { 0666, 0666 }, { 0, 0660 }, /* unset: owner and group */
};

/* The socket has the requested mode and its new directory 0755, whatever the umask. */
static void test_socket_mode(void **state)
{
	struct server *s = *state;
	mode_t old = umask(077);

	for (size_t i = 0; i < ARRAY_SIZE(mode_cases); i++) {
		char dir[160];
		const char *msg;
		struct mt_http *http = http_at(s->loop, s->path, mode_cases[i].mode, &msg);
		struct stat st;

		assert_non_null(http);
		assert_int_equal(lstat(s->path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_int_equal(st.st_mode & 07777, mode_cases[i].want);
		snprintf(dir, sizeof(dir), "%s/run", s->dir);
		assert_int_equal(stat(dir, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755);
		mt_http__free(http);
		assert_int_equal(access(s->path, F_OK), -1);
		assert_int_equal(rmdir(dir), 0);
	}
	umask(old);
}

/* A socket left by a process that died is replaced. */
static void test_stale_socket_replaced(void **state)
{
	struct server *s = *state;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct mt_http *http;
	const char *msg;
	char dir[160];

	snprintf(dir, sizeof(dir), "%s/run", s->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	strcpy(addr.sun_path, s->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd); /* bound, never listened, not unlinked: stale */
	assert_false(listening(s->path));

	http = http_at(s->loop, s->path, 0600, &msg);
	assert_non_null(http);
	assert_true(listening(s->path));
	mt_http__free(http);
}

/* A live server's socket is left alone. */
static void test_socket_in_use_refused(void **state)
{
	struct server *s = *state;
	struct mt_http *first, *second;
	const char *msg;

	first = http_at(s->loop, s->path, 0600, &msg);
	assert_non_null(first);
	second = http_at(s->loop, s->path, 0600, &msg);
	assert_null(second);
	assert_int_equal(errno, EADDRINUSE);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "in use by another server"));
	print_message("  refused: %s\n", msg);
	assert_true(listening(s->path)); /* the refusal did not unlink the first one's socket */
	mt_http__free(first);
}

/* Whatever is at the path and is not a socket is not ours to remove. */
static void test_not_a_socket_refused(void **state)
{
	struct server *s = *state;
	const char *kinds[] = { "file", "directory" };

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		char dir[160];
		const char *msg;
		struct stat st;

		snprintf(dir, sizeof(dir), "%s/run", s->dir);
		mkdir(dir, 0755);
		if (i == 0) {
			FILE *f = fopen(s->path, "w");

			assert_non_null(f);
			fputs("precious\n", f);
			fclose(f);
		} else {
			assert_int_equal(mkdir(s->path, 0700), 0);
		}
		assert_null(http_at(s->loop, s->path, 0600, &msg));
		assert_int_equal(errno, EEXIST);
		assert_non_null(msg);
		assert_non_null(strstr(msg, "not a socket"));
		print_message("  %s refused: %s\n", kinds[i], msg);
		assert_int_equal(lstat(s->path, &st), 0);
		assert_true(i == 0 ? S_ISREG(st.st_mode) && st.st_size == 9 : S_ISDIR(st.st_mode));
		assert_int_equal(i == 0 ? unlink(s->path) : rmdir(s->path), 0);
	}
}

/* free() unlinks only its own socket, not one another server bound since. */
static void test_free_keeps_foreign_socket(void **state)
{
	struct server *s = *state;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct mt_http *http;
	const char *msg;
	int fd;

	http = http_at(s->loop, s->path, 0600, &msg);
	assert_non_null(http);
	assert_int_equal(unlink(s->path), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(addr.sun_path, s->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 1), 0);
	mt_http__free(http);
	assert_true(listening(s->path));
	close(fd);
}

static void test_bad_arguments(void **state)
{
	struct server *s = *state;
	char long_path[200];
	const char *msg;

	memset(long_path, 'x', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_null(http_at(s->loop, long_path, 0600, &msg));
	assert_int_equal(errno, ENAMETOOLONG);
	assert_non_null(msg);
	assert_null(http_at(s->loop, "", 0600, &msg));
	assert_int_equal(errno, EINVAL);
	assert_null(mt_http__new(s->loop, &(struct mt_http_options){ .socket_path = s->path }, NULL,
				 NULL, &msg));
	assert_int_equal(errno, EINVAL);
	mt_http__free(NULL);
}

static int setup_paths(void **state)
{
	*state = server_new();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_requests, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_keep_alive, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_big_response, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_oversized_header, setup_server,
						teardown_server),
		cmocka_unit_test_setup_teardown(test_oversized_uri, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_idle_clients_do_not_block, setup_server,
						teardown_server),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup_server_short_timeout,
						teardown_server),
		cmocka_unit_test_setup_teardown(test_many_clients, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_connection_limit, setup_server_one_client,
						teardown_server),
		cmocka_unit_test_setup_teardown(test_parallel_bursts, setup_server,
						teardown_server),
		cmocka_unit_test_setup_teardown(test_socket_mode, setup_paths, teardown_server),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup_paths,
						teardown_server),
		cmocka_unit_test_setup_teardown(test_socket_in_use_refused, setup_paths,
						teardown_server),
		cmocka_unit_test_setup_teardown(test_not_a_socket_refused, setup_paths,
						teardown_server),
		cmocka_unit_test_setup_teardown(test_free_keeps_foreign_socket, setup_paths,
						teardown_server),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup_paths, teardown_server),
	};

	signal(SIGPIPE, SIG_IGN); /* a server closing early must not kill the test */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
