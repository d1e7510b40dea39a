/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Queue threads (see queue_thread.h): the thread, its loop, the eventfd
 * that wakes it, and the start / call / stop handshakes (a mutex and a
 * condition variable; the kick bitmap is atomic, so a kick never waits).
 *
 * The eventfd only wakes the thread: the synchronisation is the kick
 * bitmap's release/acquire pair and the call's mutex, so a thread that
 * wakes for one reason and finds the other is still correct.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "compiler.h"
#include "queue_thread.h"

#define QUEUE_THREAD_NAME_MAX 16u /* pthread_setname_np: 15 bytes and a NUL */

struct queue_thread {
	const struct queue_thread_ops *ops;
	void *ctx;
	char name[QUEUE_THREAD_NAME_MAX];
	pthread_t thread;
	int efd;
	struct loop *loop; /* the thread's */
	struct loop_watch watch;
	uint32_t kicked; /* atomic: bits not taken yet */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock. */
	bool started;
	int start_rc;
	void (*call_fn)(void *arg);
	void *call_arg;
	bool call_done;
};

static void wake(int efd)
{
	uint64_t one = 1;

	/* Only EAGAIN (counter full: already awake) can fail a write of 1. */
	if (write(efd, &one, sizeof(one)) < 0) {
		/* nothing to do: the thread is already due to wake */
	}
}

static void run_call(struct queue_thread *qt)
{
	void (*fn)(void *arg);
	void *arg;

	pthread_mutex_lock(&qt->lock);
	fn = qt->call_done ? NULL : qt->call_fn;
	arg = qt->call_arg;
	pthread_mutex_unlock(&qt->lock);
	if (!fn)
		return;
	fn(arg);
	pthread_mutex_lock(&qt->lock);
	qt->call_done = true;
	pthread_cond_broadcast(&qt->cond);
	pthread_mutex_unlock(&qt->lock);
}

static void on_wake(struct loop_watch *w, uint32_t events UNUSED)
{
	struct queue_thread *qt = container_of(w, struct queue_thread, watch);
	uint64_t count;
	uint32_t bits;

	/* Consume the wake-ups first: a kick after this read wakes us again. */
	if (read(qt->efd, &count, sizeof(count)) < 0) {
		/* EAGAIN: woken for nothing new */
	}
	run_call(qt);
	bits = __atomic_exchange_n(&qt->kicked, 0, __ATOMIC_ACQ_REL);
	if (bits)
		qt->ops->kick(qt->ctx, bits);
}

static void *thread_main(void *p)
{
	struct queue_thread *qt = p;
	int rc;

	pthread_setname_np(pthread_self(), qt->name);
	rc = loop_create(&qt->loop);
	if (rc == 0)
		rc = loop_add(qt->loop, &qt->watch, qt->efd, EPOLLIN);
	if (rc == 0)
		rc = qt->ops->init(qt->ctx, qt->loop);

	pthread_mutex_lock(&qt->lock);
	qt->started = true;
	qt->start_rc = rc;
	pthread_cond_broadcast(&qt->cond);
	pthread_mutex_unlock(&qt->lock);

	if (rc == 0)
		loop_run(qt->loop);
	qt->ops->fini(qt->ctx, qt->loop);
	if (qt->loop)
		loop_del(qt->loop, &qt->watch);
	loop_destroy(qt->loop);
	qt->loop = NULL;
	return NULL;
}

static void qt_free(struct queue_thread *qt)
{
	if (qt->efd >= 0)
		close(qt->efd);
	pthread_cond_destroy(&qt->cond);
	pthread_mutex_destroy(&qt->lock);
	free(qt);
}

int queue_thread_start(const struct queue_thread_ops *ops, void *ctx, const char *name,
		       struct queue_thread **out)
{
	struct queue_thread *qt;
	sigset_t all, old;
	int rc;

	*out = NULL;
	qt = calloc(1, sizeof(*qt));
	if (!qt)
		return -ENOMEM;
	qt->ops = ops;
	qt->ctx = ctx;
	snprintf(qt->name, sizeof(qt->name), "%s", name);
	qt->watch = (struct loop_watch){ .fd = -1, .cb = on_wake };
	pthread_mutex_init(&qt->lock, NULL);
	pthread_cond_init(&qt->cond, NULL);
	qt->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (qt->efd < 0) {
		rc = -errno;
		qt_free(qt);
		return rc;
	}
	/* Signals are the main loop's (signalfd): none may land on this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&qt->thread, NULL, thread_main, qt);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		qt_free(qt);
		return rc;
	}
	pthread_mutex_lock(&qt->lock);
	while (!qt->started)
		pthread_cond_wait(&qt->cond, &qt->lock);
	rc = qt->start_rc;
	pthread_mutex_unlock(&qt->lock);
	if (rc < 0) {
		pthread_join(qt->thread, NULL);
		qt_free(qt);
		return rc;
	}
	*out = qt;
	return 0;
}

void queue_thread_kick(struct queue_thread *qt, uint32_t bits)
{
	/* Only the kick that finds the bitmap empty needs to wake the thread. */
	if (bits && __atomic_fetch_or(&qt->kicked, bits, __ATOMIC_ACQ_REL) == 0)
		wake(qt->efd);
}

uint32_t queue_thread_take_kicks(struct queue_thread *qt)
{
	return __atomic_exchange_n(&qt->kicked, 0, __ATOMIC_ACQ_REL);
}

void queue_thread_call(struct queue_thread *qt, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&qt->lock);
	qt->call_fn = fn;
	qt->call_arg = arg;
	qt->call_done = false;
	pthread_mutex_unlock(&qt->lock);
	wake(qt->efd);
	pthread_mutex_lock(&qt->lock);
	while (!qt->call_done)
		pthread_cond_wait(&qt->cond, &qt->lock);
	qt->call_fn = NULL;
	pthread_mutex_unlock(&qt->lock);
}

static void stop_loop(void *arg)
{
	struct queue_thread *qt = arg;

	loop_stop(qt->loop);
}

void queue_thread_stop(struct queue_thread *qt)
{
	if (!qt)
		return;
	queue_thread_call(qt, stop_loop, qt);
	pthread_join(qt->thread, NULL);
	qt_free(qt);
}
