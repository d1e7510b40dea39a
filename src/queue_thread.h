/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A queue thread: a thread with an event loop of its own, driven by the
 * thread that started it (the "owner", the daemon's main loop) through one
 * eventfd. The owner sends kicks (a bitmap or-ed together until the thread
 * takes it) and synchronous calls (run a function on the thread, wait for
 * it). Everything the thread sets up in init belongs to it alone: an
 * io_uring with IORING_SETUP_SINGLE_ISSUER, for one, must be created and
 * used on the thread that submits to it.
 *
 * Ordering: whatever the owner wrote before a kick or a call is visible
 * to the thread when it serves them, and whatever the thread wrote in a
 * call is visible to the owner when the call returns.
 */
#ifndef XVB_QUEUE_THREAD_H
#define XVB_QUEUE_THREAD_H

#include <stdint.h>

#include "loop.h"

struct queue_thread;

struct queue_thread_ops {
	/* On the thread, first: watch fds on loop. -errno ends the start with it. */
	int (*init)(void *ctx, struct loop *loop);
	/* On the thread: serve what was kicked (never 0). */
	void (*kick)(void *ctx, uint32_t bits);
	/* On the thread, last, whether or not init succeeded: undo init. */
	void (*fini)(void *ctx, struct loop *loop);
};

/*
 * Start a thread (all signals blocked) and wait until its init has run.
 * name (at most 15 bytes are used) names the thread. 0 or -errno; on
 * failure the thread is gone (fini has run).
 */
int queue_thread_start(const struct queue_thread_ops *ops, void *ctx, const char *name,
		       struct queue_thread **out);
/* Owner: have the thread serve bits (or-ed with what it has not taken yet). */
void queue_thread_kick(struct queue_thread *qt, uint32_t bits);
/* Owner: run fn(arg) on the thread, between its events; returns once it ran. */
void queue_thread_call(struct queue_thread *qt, void (*fn)(void *arg), void *arg);
/* On the thread (from a call): take the kicks not served yet, so they never are. */
uint32_t queue_thread_take_kicks(struct queue_thread *qt);
/* Owner: run fini on the thread, end it, wait for it. NULL-tolerant. */
void queue_thread_stop(struct queue_thread *qt);

#endif
