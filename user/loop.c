// SPDX-License-Identifier: GPL-2.0-only
/*
 * A minimal epoll dispatcher (in the spirit of redis ae.c). Handlers are kept
 * in a table indexed by fd so that a handler deleted by an earlier callback in
 * the same epoll_wait batch is recognised and skipped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "loop.h"

struct handler {
	mt_loop_cb cb;
	void *data;
	uint64_t gen; /* bumped on every add/del: stale events are dropped */
};

struct mt_loop {
	int epfd;
	int stopped;
	int code;
	struct handler *h;
	int nh;
	uint64_t gen;
};

struct mt_loop *mt_loop__new(void)
{
	struct mt_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = errno;

		free(loop);
		errno = err;
		return NULL;
	}
	return loop;
}

void mt_loop__free(struct mt_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop->h);
	free(loop);
}

static int ensure_slot(struct mt_loop *loop, int fd)
{
	int n = loop->nh;
	struct handler *h;

	if (fd < n)
		return 0;
	while (n <= fd)
		n = n ? n * 2 : 64;
	h = realloc(loop->h, n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(h + loop->nh, 0, (n - loop->nh) * sizeof(*h));
	loop->h = h;
	loop->nh = n;
	return 0;
}

int mt_loop__add(struct mt_loop *loop, int fd, uint32_t events, mt_loop_cb cb, void *data)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int err;

	if (fd < 0 || !cb)
		return -EINVAL;
	err = ensure_slot(loop, fd);
	if (err)
		return err;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	loop->h[fd] = (struct handler){ .cb = cb, .data = data, .gen = ++loop->gen };
	return 0;
}

int mt_loop__mod(struct mt_loop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int mt_loop__del(struct mt_loop *loop, int fd)
{
	if (fd < 0 || fd >= loop->nh || !loop->h[fd].cb)
		return -ENOENT;
	loop->h[fd] = (struct handler){ 0 };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
		return -errno;
	return 0;
}

void mt_loop__stop(struct mt_loop *loop, int code)
{
	loop->stopped = 1;
	loop->code = code;
}

int mt_loop__run(struct mt_loop *loop)
{
	struct epoll_event ev[64];
	uint64_t gens[64];

	loop->stopped = 0;
	while (!loop->stopped) {
		int n = epoll_wait(loop->epfd, ev, 64, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			gens[i] = fd < loop->nh ? loop->h[fd].gen : 0;
		}
		for (int i = 0; i < n && !loop->stopped; i++) {
			int fd = ev[i].data.fd;
			struct handler h;

			if (fd >= loop->nh || !loop->h[fd].cb || loop->h[fd].gen != gens[i])
				continue; /* removed (or replaced) by an earlier callback */
			h = loop->h[fd];
			h.cb(loop, fd, ev[i].events, h.data);
		}
	}
	return loop->code;
}

int mt_timerfd_periodic(uint64_t period_ns)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = period_ns / 1000000000ULL,
				 .tv_nsec = period_ns % 1000000000ULL },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	its.it_value = its.it_interval;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

uint64_t mt_timerfd_drain(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t mt_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t mt_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}
