/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's one event loop (epoll). Components register fds with a
 * callback, and can defer work to run after the current batch of events
 * (used to serve a queue only after the QUEUE_NOTIFY ioreq is answered).
 */
#ifndef XVB_LOOP_H
#define XVB_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

struct loop_watch {
	int fd;
	void (*cb)(struct loop_watch *w, uint32_t events);
	bool added;
};

struct loop_deferred {
	void (*cb)(struct loop_deferred *d);
	struct loop_deferred *next;
	bool queued;
};

int loop_create(struct loop **out);
void loop_destroy(struct loop *loop); /* NULL-tolerant */

/* Watch fd for events (EPOLLIN...). w must outlive the registration. */
int loop_add(struct loop *loop, struct loop_watch *w, int fd, uint32_t events);
void loop_del(struct loop *loop, struct loop_watch *w); /* safe if not added */

/* Run d->cb once after the current batch of events; idempotent while queued. */
void loop_defer(struct loop *loop, struct loop_deferred *d);
/* Drop a queued deferral (its owner is going away). */
void loop_cancel(struct loop *loop, struct loop_deferred *d);

/* Run until loop_stop(); returns 0 or -errno. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

#endif
