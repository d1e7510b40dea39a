/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for src/queue_thread.c: init, kick, call and fini run on the
 * queue thread (not the owner's); kicks are or-ed until taken; a call
 * returns only after it ran and sees the owner's writes; take_kicks drops
 * pending kicks; a failed init fails the start after fini ran.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "../../src/queue_thread.h"
#include "check.h"

struct ctx {
	int init_rc;
	pthread_t owner;
	pthread_t init_thread, kick_thread, fini_thread, call_thread;
	bool inited, finied;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint32_t bits;    /* or of every kick served (under lock) */
	unsigned kicks;   /* kick callbacks (under lock) */
	bool block_kick;  /* the kick callback waits until cleared (under lock) */
	bool in_kick;
	int shared;       /* written by the owner before a call, read in it */
	int seen;
	struct queue_thread *qt;
	uint32_t taken;
};

static void ctx_init(struct ctx *c, int init_rc)
{
	*c = (struct ctx){ .init_rc = init_rc, .owner = pthread_self() };
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
}

static int on_init(void *p, struct loop *loop)
{
	struct ctx *c = p;

	CHECK(loop != NULL);
	c->init_thread = pthread_self();
	c->inited = true;
	return c->init_rc;
}

static void on_kick(void *p, uint32_t bits)
{
	struct ctx *c = p;

	pthread_mutex_lock(&c->lock);
	c->kick_thread = pthread_self();
	c->bits |= bits;
	c->kicks++;
	c->in_kick = true;
	pthread_cond_broadcast(&c->cond);
	while (c->block_kick)
		pthread_cond_wait(&c->cond, &c->lock);
	c->in_kick = false;
	pthread_mutex_unlock(&c->lock);
}

static void on_fini(void *p, struct loop *loop)
{
	struct ctx *c = p;

	(void)loop;
	c->fini_thread = pthread_self();
	c->finied = true;
}

static const struct queue_thread_ops ops = {
	.init = on_init,
	.kick = on_kick,
	.fini = on_fini,
};

/* Wait (bounded) until every bit of want was served. */
static bool wait_bits(struct ctx *c, uint32_t want)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&c->lock);
	while ((c->bits & want) != want)
		if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
			break;
	ok = (c->bits & want) == want;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

TEST(init_kick_and_fini_run_on_the_thread)
{
	struct queue_thread *qt;
	struct ctx c;

	ctx_init(&c, 0);
	CHECK_EQ(queue_thread_start(&ops, &c, "test-qt", &qt), 0);
	CHECK(c.inited);
	CHECK(!pthread_equal(c.init_thread, c.owner));
	queue_thread_kick(qt, 1u << 3);
	CHECK(wait_bits(&c, 1u << 3));
	CHECK(pthread_equal(c.kick_thread, c.init_thread));
	queue_thread_stop(qt);
	CHECK(c.finied);
	CHECK(pthread_equal(c.fini_thread, c.init_thread));
}

TEST(kicks_are_ored_until_taken)
{
	struct queue_thread *qt;
	struct ctx c;

	ctx_init(&c, 0);
	CHECK_EQ(queue_thread_start(&ops, &c, "test-qt", &qt), 0);
	/* Hold the thread in a kick while three more arrive: they are served together. */
	c.block_kick = true;
	queue_thread_kick(qt, 1u);
	CHECK(wait_bits(&c, 1u));
	queue_thread_kick(qt, 1u << 1);
	queue_thread_kick(qt, 1u << 2);
	queue_thread_kick(qt, 1u << 1);
	pthread_mutex_lock(&c.lock);
	c.block_kick = false;
	pthread_cond_broadcast(&c.cond);
	pthread_mutex_unlock(&c.lock);
	CHECK(wait_bits(&c, 7u));
	queue_thread_stop(qt);
	CHECK_EQ(c.kicks, 2);
	CHECK_EQ(c.bits, 7u);
}

static void call_reads_shared(void *p)
{
	struct ctx *c = p;

	c->call_thread = pthread_self();
	c->seen = c->shared;
	c->shared = 99; /* the owner reads it after the call returns */
}

TEST(call_runs_on_the_thread_and_returns_after)
{
	struct queue_thread *qt;
	struct ctx c;

	ctx_init(&c, 0);
	CHECK_EQ(queue_thread_start(&ops, &c, "test-qt", &qt), 0);
	for (int i = 1; i <= 100; i++) {
		c.shared = i;
		queue_thread_call(qt, call_reads_shared, &c);
		CHECK_EQ(c.seen, i);
		CHECK_EQ(c.shared, 99);
		CHECK(pthread_equal(c.call_thread, c.init_thread));
	}
	queue_thread_stop(qt);
}

static void call_takes_kicks(void *p)
{
	struct ctx *c = p;

	c->taken = queue_thread_take_kicks(c->qt);
}

/* The reset path: kicks pending when the call runs are never served. */
TEST(take_kicks_drops_pending_kicks)
{
	struct queue_thread *qt;
	struct ctx c;

	ctx_init(&c, 0);
	CHECK_EQ(queue_thread_start(&ops, &c, "test-qt", &qt), 0);
	c.qt = qt;
	c.block_kick = true;
	queue_thread_kick(qt, 1u);
	CHECK(wait_bits(&c, 1u));
	/* The thread is inside the kick: these wait, then the call takes them. */
	queue_thread_kick(qt, 1u << 4);
	pthread_mutex_lock(&c.lock);
	c.block_kick = false;
	pthread_cond_broadcast(&c.cond);
	pthread_mutex_unlock(&c.lock);
	queue_thread_call(qt, call_takes_kicks, &c);
	/* Either the call took bit 4, or the thread served it before the call. */
	pthread_mutex_lock(&c.lock);
	CHECK((c.taken == (1u << 4)) != ((c.bits & (1u << 4)) != 0));
	pthread_mutex_unlock(&c.lock);
	queue_thread_stop(qt);
}

TEST(failed_init_fails_the_start)
{
	struct queue_thread *qt = (struct queue_thread *)&qt;
	struct ctx c;

	ctx_init(&c, -ENOENT);
	CHECK_EQ(queue_thread_start(&ops, &c, "test-qt", &qt), -ENOENT);
	CHECK(qt == NULL);
	CHECK(c.inited);
	CHECK(c.finied); /* fini undoes a partial init */
	queue_thread_stop(NULL);
}
