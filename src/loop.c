/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event loop (src/loop.h): epoll, then the deferred list, round after
 * round. A round dispatches one batch of up to LOOP_MAX_EVENTS events, then
 * runs the deferrals queued before it started (FIFO); deferrals queued
 * meanwhile run next round, after an epoll_wait with timeout 0, so that
 * deferred work never starves the fds.
 *
 * Watches removed during a batch: loop_del() clears the removed watch's
 * entries from the rest of the batch, comparing pointers only, so a watch
 * freed right after loop_del() is never touched again.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_MAX_EVENTS 64

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
};

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

static int dispatch_events(struct loop *loop)
{
	int n = epoll_wait(loop->epfd, loop->events, LOOP_MAX_EVENTS, loop->dhead ? 0 : -1);

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

int loop_run(struct loop *loop)
{
	int ret = 0;

	while (!loop->stop) {
		ret = dispatch_events(loop);
		if (ret)
			break;
		run_deferred(loop);
	}
	loop->stop = false;
	return ret;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}
