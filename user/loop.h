/* SPDX-License-Identifier: GPL-2.0-only */
/* The daemon's one epoll loop: every source (sockets, timers, signals) is an fd. */
#ifndef MT_LOOP_H
#define MT_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct mt_loop;
typedef void (*mt_loop_cb)(struct mt_loop *loop, int fd, uint32_t events, void *data);

struct mt_loop *mt_loop__new(void);
void mt_loop__free(struct mt_loop *loop);
/* Register fd for EPOLLIN/EPOLLOUT/... events; cb runs with data. Returns 0 or -errno. */
int mt_loop__add(struct mt_loop *loop, int fd, uint32_t events, mt_loop_cb cb, void *data);
int mt_loop__mod(struct mt_loop *loop, int fd, uint32_t events);
/* Unregister fd (does not close it). Safe to call from inside a callback. */
int mt_loop__del(struct mt_loop *loop, int fd);
/* Dispatch events until mt_loop__stop(); returns the code given to stop, or -errno. */
int mt_loop__run(struct mt_loop *loop);
void mt_loop__stop(struct mt_loop *loop, int code);

/* A periodic CLOCK_MONOTONIC timerfd (nonblocking, cloexec); first expiry after period_ns. */
int mt_timerfd_periodic(uint64_t period_ns);
/* Read and return the number of expirations of a timerfd (0 if none pending). */
uint64_t mt_timerfd_drain(int fd);
/* CLOCK_MONOTONIC in ns: the same clock as bpf_ktime_get_ns(). */
uint64_t mt_now_ns(void);
/* CLOCK_REALTIME in ns (for the exposition only). */
uint64_t mt_wall_ns(void);

#endif
