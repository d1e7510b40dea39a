/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event loop (src/loop.h): epoll, then the deferred list, round after
 * round. A round dispatches one batch of up to LOOP_MAX_EVENTS events, then
 * runs the deferrals queued before it started (FIFO); deferrals queued
 * meanwhile run next round, after an epoll_wait with timeout 0, so that
 * deferred work never starves the fds.
 *
 * Optional adaptive polling (loop_set_poll): before blocking, epoll is
 * polled for up to a window that grows while blocks end within the maximum
 * (an event that soon would have been caught by polling: the wake-up it
 * cost is what polling saves) and halves when a block outlasts it, as
 * KVM's halt polling does.
 *
 * Watches removed during a batch: loop_del() clears the removed watch's
 * entries from the rest of the batch, comparing pointers only, so a watch
 * freed right after loop_del() is never touched again.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_MAX_EVENTS 64
#define LOOP_POLL_START_NS 2000u /* first window once polling pays */

struct loop {
	int epfd;
	bool stop;
	struct loop_deferred *dhead;
	struct loop_deferred **dtail;
	uint32_t dcount;
	uint32_t run_left; /* deferrals of this round still to run (the list's head) */
	struct epoll_event events[LOOP_MAX_EVENTS];
	int batch_n;   /* events in the batch being dispatched */
	int batch_pos; /* the one being dispatched now */
	uint32_t poll_max_ns; /* 0: never poll */
	uint32_t poll_ns;     /* the current window */
};

/* Set once at start-up, before any loop exists: every thread's loop polls alike. */
static uint32_t poll_default_us;

int loop_create(struct loop **out)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->dtail = &loop->dhead;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int ret = -errno;

		free(loop);
		return ret;
	}
	loop_set_poll(loop, poll_default_us);
	*out = loop;
	return 0;
}

void loop_destroy(struct loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

int loop_add(struct loop *loop, struct loop_watch *w, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (!w->cb || fd < 0)
		return -EINVAL;
	if (w->added)
		return -EBUSY;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	w->fd = fd;
	w->added = true;
	return 0;
}

void loop_del(struct loop *loop, struct loop_watch *w)
{
	if (!w->added)
		return;
	/* EBADF/ENOENT: the fd is already closed, and so gone from the set. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->added = false;
	for (int i = loop->batch_pos + 1; i < loop->batch_n; i++) {
		if (loop->events[i].data.ptr == w)
			loop->events[i].data.ptr = NULL;
	}
}

void loop_defer(struct loop *loop, struct loop_deferred *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	*loop->dtail = d;
	loop->dtail = &d->next;
	loop->dcount++;
}

void loop_cancel(struct loop *loop, struct loop_deferred *d)
{
	struct loop_deferred **pp = &loop->dhead;
	uint32_t pos = 0;

	if (!d->queued)
		return;
	while (*pp && *pp != d) {
		pp = &(*pp)->next;
		pos++;
	}
	if (!*pp)
		return;
	*pp = d->next;
	if (loop->dtail == &d->next)
		loop->dtail = pp;
	loop->dcount--;
	if (pos < loop->run_left)
		loop->run_left--;
	d->next = NULL;
	d->queued = false;
}

static struct loop_deferred *defer_pop(struct loop *loop)
{
	struct loop_deferred *d = loop->dhead;

	loop->dhead = d->next;
	if (!loop->dhead)
		loop->dtail = &loop->dhead;
	loop->dcount--;
	d->next = NULL;
	d->queued = false;
	return d;
}

static void run_deferred(struct loop *loop)
{
	/* Only what was queued before this point: re-deferrals wait a round. */
	loop->run_left = loop->dcount;
	while (loop->run_left) {
		struct loop_deferred *d = defer_pop(loop);

		loop->run_left--;
		d->cb(d);
	}
}

void loop_set_default_poll(uint32_t max_us)
{
	poll_default_us = max_us;
}

void loop_set_poll(struct loop *loop, uint32_t max_us)
{
	loop->poll_max_ns = max_us > LOOP_POLL_MAX_US ? LOOP_POLL_MAX_US * 1000u : max_us * 1000u;
	loop->poll_ns = 0;
}

uint32_t loop_poll_window_ns(const struct loop *loop)
{
	return loop->poll_ns;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* epoll_wait, polling first when that pays; -1 with errno as epoll_wait. */
static int wait_events(struct loop *loop)
{
	uint64_t start, blocked;
	int n;

	if (loop->dhead)
		return epoll_wait(loop->epfd, loop->events, LOOP_MAX_EVENTS, 0);
	if (loop->poll_ns) {
		uint64_t end = now_ns() + loop->poll_ns;

		do {
			n = epoll_wait(loop->epfd, loop->events, LOOP_MAX_EVENTS, 0);
			if (n)
				return n;
		} while (now_ns() < end);
	}
	if (!loop->poll_max_ns)
		return epoll_wait(loop->epfd, loop->events, LOOP_MAX_EVENTS, -1);
	start = now_ns();
	n = epoll_wait(loop->epfd, loop->events, LOOP_MAX_EVENTS, -1);
	blocked = now_ns() - start;
	if (blocked <= loop->poll_max_ns) {
		uint32_t grown = loop->poll_ns ? loop->poll_ns * 2u : LOOP_POLL_START_NS;

		loop->poll_ns = grown < loop->poll_max_ns ? grown : loop->poll_max_ns;
	} else {
		loop->poll_ns /= 2u;
		if (loop->poll_ns < LOOP_POLL_START_NS)
			loop->poll_ns = 0;
	}
	return n;
}

static int dispatch_events(struct loop *loop)
{
	int n = wait_events(loop);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	loop->batch_n = n;
	for (loop->batch_pos = 0; loop->batch_pos < n; loop->batch_pos++) {
		struct loop_watch *w = loop->events[loop->batch_pos].data.ptr;

		if (w)
			w->cb(w, loop->events[loop->batch_pos].events);
	}
	loop->batch_n = 0;
	loop->batch_pos = 0;
	return 0;
}

int loop_run_once(struct loop *loop)
{
	int ret = dispatch_events(loop);

	if (!ret)
		run_deferred(loop);
	return ret;
}

int loop_run(struct loop *loop)
{
	int ret = 0;

	while (!loop->stop) {
		ret = loop_run_once(loop);
		if (ret)
			break;
	}
	loop->stop = false;
	return ret;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}
