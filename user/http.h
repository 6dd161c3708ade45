/* SPDX-License-Identifier: GPL-2.0-only */
/* HTTP/1.1 on a Unix socket, driven by the daemon's epoll loop. */
#ifndef MT_HTTP_H
#define MT_HTTP_H

#include <stddef.h>
#include <sys/types.h>
#include "loop.h"

struct mt_http_request {
	const char *method; /* "GET", ... */
	const char *path;   /* "/metrics" (without the query string) */
	const char *accept; /* Accept header or NULL */
	/* Query argument lookup: value of ?key=..., NULL if absent. */
	const char *(*arg)(const struct mt_http_request *req, const char *key);
	void *priv;
};

struct mt_http_response {
	int status;		  /* 200, 404, 405, ... */
	const char *content_type; /* static string */
	char *body;		  /* malloc()ed; the server frees it */
	size_t len;
};

/* Fill resp; return 0 (the server answers 500 on a non-zero return). */
typedef int (*mt_http_handler)(void *ctx, const struct mt_http_request *req,
			       struct mt_http_response *resp);

struct mt_http_options {
	const char *socket_path;
	mode_t mode;		  /* e.g. 0660; 0: 0660 */
	unsigned int max_clients; /* concurrent connections; 0: 64 */
	unsigned int timeout_s;	  /* idle connection timeout; 0: 10 s */
};

/*
 * Bind and listen on opts->socket_path (creating its directory, refusing a
 * path another live server listens on, replacing a stale socket, refusing a
 * non-socket file), and serve requests from loop. NULL and errno on failure;
 * *ret_msg (static or NULL) then says what to do; it does not repeat the
 * path, so print it as "%s: %s", path, msg.
 */
struct mt_http *mt_http__new(struct mt_loop *loop, const struct mt_http_options *opts,
			     mt_http_handler handler, void *ctx, const char **ret_msg);
/* Stop serving, close every connection, unlink the socket. NULL is fine. */
void mt_http__free(struct mt_http *http);

#endif
