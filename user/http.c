// SPDX-License-Identifier: GPL-2.0-only
/*
 * HTTP/1.1 on a Unix socket with libmicrohttpd, driven by our epoll loop.
 *
 * We create, bind and chmod the AF_UNIX socket ourselves (MHD only knows how
 * to bind TCP) and hand it over with MHD_OPTION_LISTEN_SOCKET; from then on
 * MHD owns it and closes it in MHD_stop_daemon() (libmicrohttpd 0.9.75 does
 * not close it when MHD_start_daemon() fails, so we do). MHD runs without a
 * thread (MHD_USE_EPOLL): its own epoll fd sits in our loop and a one-shot
 * timerfd, re-armed from MHD_get_timeout() after every MHD_run(), drives its
 * housekeeping (idle connection timeouts, connections with buffered input).
 *
 * MHD 0.9.75 accepts AF_UNIX clients (tested: keep-alive, HEAD, header
 * limits) so no hand-written parser is needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>
#include "http.h"
#include "log.h"

#define HTTP_DEFAULT_MODE      0660
#define HTTP_DEFAULT_CLIENTS   64
#define HTTP_DEFAULT_TIMEOUT_S 10
/*
 * Per-connection memory pool: request line, headers and our response
 * headers must fit in it, so it is also the request size limit. Bigger
 * requests are answered with an error status and the connection closed.
 */
#define HTTP_CONN_MEMORY (32 * 1024)
#define SUN_PATH_MAX	 sizeof(((struct sockaddr_un *)0)->sun_path)

struct mt_http {
	struct mt_loop *loop;
	struct MHD_Daemon *mhd;
	int mhd_epfd; /* owned by MHD */
	int timer_fd;
	mt_http_handler handler;
	void *ctx;
	char *path;
	/* Identity of the socket we bound: free() unlinks it only if still ours. */
	dev_t dev;
	ino_t ino;
};

/* mkdir -p for the socket's parent directories, 0755 whatever the umask. */
static int make_parents(const char *path)
{
	char dir[SUN_PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, len + 1);
	for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(dir, 0755) == 0) {
			if (chmod(dir, 0755) < 0)
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
		*p = '/';
	}
	return 0;
}

static void fill_addr(struct sockaddr_un *addr, const char *path)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, path, strlen(path) + 1);
}

/* Is someone listening on path? 0: yes; -ECONNREFUSED: a stale socket. */
static int probe_socket(const char *path)
{
	struct sockaddr_un addr;
	int fd, err = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	fill_addr(&addr, path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		err = errno == EAGAIN ? 0 : -errno; /* EAGAIN: alive, backlog full */
	close(fd);
	return err;
}

/* Make path free for bind(): refuse a live server or a non-socket, drop a stale socket. */
static int claim_path(const char *path, const char **ret_msg)
{
	struct stat st;
	int err;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		*ret_msg = "the path exists and is not a socket; "
			   "remove it or choose another --socket";
		return -EEXIST;
	}
	err = probe_socket(path);
	if (!err) {
		*ret_msg = "socket is in use by another server (another migtrace?); "
			   "stop it or choose --socket";
		return -EADDRINUSE;
	}
	if (err != -ECONNREFUSED) {
		*ret_msg = "cannot tell whether the existing socket is in use; "
			   "remove it or choose another --socket";
		return err;
	}
	/* Nobody listens: left behind by a process that died. */
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * socket/bind/chmod/listen. The mode is set before listen(), so no client can
 * connect while the socket still has the umask's permissions. The backlog is
 * the kernel's maximum: clients beyond max_clients wait there (in kernel
 * memory, bounded by net.core.somaxconn) until MHD frees a slot, instead of
 * failing a nonblocking connect() with EAGAIN during a burst.
 */
static int bind_listen(struct mt_http *http, mode_t mode)
{
	struct sockaddr_un addr;
	struct stat st;
	int fd, err;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	fill_addr(&addr, http->path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		goto cleanup;
	}
	if (chmod(http->path, mode) < 0 || lstat(http->path, &st) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		err = -errno;
		unlink(http->path);
		goto cleanup;
	}
	http->dev = st.st_dev;
	http->ino = st.st_ino;
	return fd;
cleanup:
	close(fd);
	return err;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("http: %s", msg);
}

static const char *request_arg(const struct mt_http_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->priv, MHD_GET_ARGUMENT_KIND, key);
}

/* Queue a response that takes ownership of body (malloc()ed or NULL). */
static enum MHD_Result reply(struct MHD_Connection *conn, int status, const char *content_type,
			     char *body, size_t len, const char *allow)
{
	const char *ct = content_type ? content_type : "text/plain; charset=utf-8";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (body)
		resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO; /* MHD closes the connection */
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ct) != MHD_YES ||
	    (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, int status, const char *text,
				  const char *allow)
{
	char *body = strdup(text);

	if (!body)
		return MHD_NO;
	return reply(conn, status, NULL, body, strlen(body), allow);
}

static enum MHD_Result serve(struct mt_http *http, struct MHD_Connection *conn, const char *url,
			     const char *method)
{
	struct mt_http_request req = {
		.method = method,
		.path = url,
		.accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"),
		.arg = request_arg,
		.priv = conn,
	};
	struct mt_http_response resp = { 0 };
	int err;

	err = http->handler(http->ctx, &req, &resp);
	if (err) {
		free(resp.body);
		log_debug("http: handler failed for %s: %s", url, strerror(err < 0 ? -err : err));
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n", NULL);
	}
	return reply(conn, resp.status ? resp.status : MHD_HTTP_OK, resp.content_type, resp.body,
		     resp.body ? resp.len : 0, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct mt_http *http = cls;

	/*
	 * Answered at once, before any body is read: MHD then closes the
	 * connection instead of draining an upload we do not want.
	 */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
				  "GET, HEAD");
	/*
	 * The first call only announces the headers. Replying already there
	 * makes MHD 0.9.75 close the connection after the response, which
	 * would cost a scraper a new connection per scrape.
	 */
	if (!*req_cls) {
		*req_cls = http;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* a GET with a body: ignore it */
		return MHD_YES;
	}
	return serve(http, conn, url, method);
}

static unsigned int http__connections(const struct mt_http *http)
{
	const union MHD_DaemonInfo *info;

	info = MHD_get_daemon_info(http->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info ? info->num_connections : 0;
}

/* Arm the one-shot timer for MHD's next deadline; now: run again at once. */
static void http__rearm(struct mt_http *http, bool now)
{
	struct itimerspec its = { 0 };
	MHD_UNSIGNED_LONG_LONG ms;

	/* MHD_NO from MHD_get_timeout(): nothing to time out; the zero itimerspec disarms. */
	if (now) {
		its.it_value.tv_nsec = 1;
	} else if (MHD_get_timeout(http->mhd, &ms) == MHD_YES) {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000;
		if (!ms)
			its.it_value.tv_nsec = 1; /* work pending */
	}
	if (timerfd_settime(http->timer_fd, 0, &its, NULL) < 0)
		log_warn("http: cannot arm the housekeeping timer: %s", strerror(errno));
}

/*
 * At the connection limit MHD takes the listen socket out of its epoll set
 * and puts it back only at the start of a later MHD_run(), while connections
 * are closed at the end of one. In MHD 0.9.75 MHD_get_timeout() does not
 * account for that, so clients waiting in the backlog would wait for the
 * next unrelated event (up to the idle timeout). Whenever connections went
 * away, run once more right away.
 */
static void http__run(struct mt_http *http)
{
	unsigned int before = http__connections(http);

	MHD_run(http->mhd);
	http__rearm(http, http__connections(http) < before);
}

static void on_mhd_event(struct mt_loop *loop, int fd, uint32_t events, void *data)
{
	http__run(data);
}

static void on_timer(struct mt_loop *loop, int fd, uint32_t events, void *data)
{
	mt_timerfd_drain(fd);
	http__run(data);
}

static int start_mhd(struct mt_http *http, int listen_fd, const struct mt_http_options *opts)
{
	unsigned int clients = opts->max_clients ? opts->max_clients : HTTP_DEFAULT_CLIENTS;
	unsigned int timeout = opts->timeout_s ? opts->timeout_s : HTTP_DEFAULT_TIMEOUT_S;
	const union MHD_DaemonInfo *info;

	/* The logger goes first so that no option's message reaches MHD's own stderr logger. */
	http->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, http,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, clients, MHD_OPTION_CONNECTION_TIMEOUT, timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY, MHD_OPTION_END);
	if (!http->mhd) {
		close(listen_fd); /* not closed by a failed MHD_start_daemon() */
		return -EIO;
	}
	info = MHD_get_daemon_info(http->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0)
		return -EIO;
	http->mhd_epfd = info->epoll_fd;
	return 0;
}

static int add_to_loop(struct mt_http *http)
{
	int err;

	http->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (http->timer_fd < 0)
		return -errno;
	err = mt_loop__add(http->loop, http->mhd_epfd, EPOLLIN, on_mhd_event, http);
	if (err)
		return err;
	err = mt_loop__add(http->loop, http->timer_fd, EPOLLIN, on_timer, http);
	if (err)
		return err; /* mt_http__free() takes both out of the loop */
	http__rearm(http, false);
	return 0;
}

struct mt_http *mt_http__new(struct mt_loop *loop, const struct mt_http_options *opts,
			     mt_http_handler handler, void *ctx, const char **ret_msg)
{
	struct mt_http *http = NULL;
	const char *msg = NULL;
	int fd, err;

	if (!loop || !opts || !handler || !opts->socket_path || !*opts->socket_path) {
		err = -EINVAL;
		goto cleanup;
	}
	if (strlen(opts->socket_path) >= SUN_PATH_MAX) {
		msg = "socket path too long (at most 107 bytes)";
		err = -ENAMETOOLONG;
		goto cleanup;
	}
	http = calloc(1, sizeof(*http));
	if (!http) {
		err = -ENOMEM;
		goto cleanup;
	}
	*http = (struct mt_http){
		.loop = loop, .handler = handler, .ctx = ctx, .mhd_epfd = -1, .timer_fd = -1
	};
	http->path = strdup(opts->socket_path);
	if (!http->path) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = make_parents(http->path);
	if (err) {
		msg = "cannot create the socket's directory";
		goto cleanup;
	}
	err = claim_path(http->path, &msg);
	if (err)
		goto cleanup;
	fd = bind_listen(http, opts->mode ? opts->mode : HTTP_DEFAULT_MODE);
	if (fd < 0) {
		err = fd;
		msg = "cannot bind the socket";
		goto cleanup;
	}
	err = start_mhd(http, fd, opts);
	if (!err)
		err = add_to_loop(http);
	if (err) {
		msg = "cannot start the HTTP server";
		goto cleanup;
	}
	return http;
cleanup:
	mt_http__free(http);
	if (ret_msg)
		*ret_msg = msg;
	errno = -err;
	return NULL;
}

void mt_http__free(struct mt_http *http)
{
	struct stat st;

	if (!http)
		return;
	if (http->timer_fd >= 0) {
		mt_loop__del(http->loop, http->timer_fd);
		close(http->timer_fd);
	}
	if (http->mhd_epfd >= 0)
		mt_loop__del(http->loop, http->mhd_epfd);
	/* Closes the connections, MHD's epoll fd and the listen socket. */
	if (http->mhd)
		MHD_stop_daemon(http->mhd);
	/* Only our own socket: another server may have replaced it meanwhile. */
	if (http->path && http->ino && lstat(http->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == http->dev && st.st_ino == http->ino)
		unlink(http->path);
	free(http->path);
	free(http);
}
