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

/*
 * Poll for events up to max_us microseconds (at most LOOP_POLL_MAX_US)
 * before blocking, adapting the window to how soon events come; 0: never
 * (the default). Trades CPU for the wake-up latency of a blocked thread.
 */
#define LOOP_POLL_MAX_US 1000u
void loop_set_poll(struct loop *loop, uint32_t max_us);
/* The same for every loop created from now on (the daemon's --poll-us). */
void loop_set_default_poll(uint32_t max_us);
/* The current window in nanoseconds (tests). */
uint32_t loop_poll_window_ns(const struct loop *loop);

/* Run until loop_stop(); returns 0 or -errno. */
int loop_run(struct loop *loop);
/* One round: wait for a batch of events, dispatch it, run the deferrals. */
int loop_run_once(struct loop *loop);
void loop_stop(struct loop *loop);

#endif
