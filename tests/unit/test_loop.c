/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The epoll event loop (src/loop.c): watches, deferrals, removal, stop. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../src/loop.h"
#include "check.h"
#include "compiler.h"

/* A record of what ran, in order: 'a'.. for watches, '1'.. for deferrals. */
static char trace[256];
static size_t trace_len;
static struct loop *cur_loop;

static void trace_add(char c)
{
	if (trace_len + 1 < sizeof(trace)) {
		trace[trace_len++] = c;
		trace[trace_len] = '\0';
	}
}

static void reset(void)
{
	trace_len = 0;
	trace[0] = '\0';
	CHECK_EQ(loop_create(&cur_loop), 0);
}

static int make_efd(uint64_t initial)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	CHECK(fd >= 0);
	if (initial)
		CHECK_EQ(write(fd, &initial, sizeof(initial)), sizeof(initial));
	return fd;
}

static void efd_consume(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		CHECK(errno == EAGAIN);
}

struct twatch {
	struct loop_watch w;
	char name;
	int calls;
	uint32_t events;
	bool stop;
	struct twatch *victim; /* deleted (and freed) by this watch's callback */
	bool del_self;
	bool keep_ready; /* do not consume the eventfd */
	struct loop_deferred *defer;
};

static void twatch_cb(struct loop_watch *w, uint32_t events)
{
	struct twatch *t = container_of(w, struct twatch, w);

	t->calls++;
	t->events = events;
	trace_add(t->name);
	if (!t->keep_ready)
		efd_consume(w->fd);
	if (t->defer)
		loop_defer(cur_loop, t->defer);
	if (t->victim) {
		loop_del(cur_loop, &t->victim->w);
		close(t->victim->w.fd);
		free(t->victim); /* ASan catches any later use */
		t->victim = NULL;
	}
	if (t->del_self)
		loop_del(cur_loop, w);
	if (t->stop)
		loop_stop(cur_loop);
}

static struct twatch *twatch_new(char name, int fd)
{
	struct twatch *t = calloc(1, sizeof(*t));

	CHECK(t != NULL);
	t->name = name;
	t->w.cb = twatch_cb;
	CHECK_EQ(loop_add(cur_loop, &t->w, fd, EPOLLIN), 0);
	CHECK(t->w.added);
	return t;
}

static void twatch_free(struct twatch *t)
{
	if (!t)
		return;
	loop_del(cur_loop, &t->w);
	close(t->w.fd);
	free(t);
}

struct tdefer {
	struct loop_deferred d;
	char name;
	int calls;
	int requeue; /* defer itself again this many times */
	bool stop_at_end;
	int kick_fd; /* written on the first run */
};

static void tdefer_cb(struct loop_deferred *d)
{
	struct tdefer *t = container_of(d, struct tdefer, d);

	t->calls++;
	trace_add(t->name);
	if (t->kick_fd >= 0 && t->calls == 1) {
		uint64_t one = 1;

		CHECK_EQ(write(t->kick_fd, &one, sizeof(one)), sizeof(one));
	}
	if (t->requeue > 0) {
		t->requeue--;
		loop_defer(cur_loop, d);
		CHECK(d->queued);
	} else if (t->stop_at_end) {
		loop_stop(cur_loop);
	}
}

static void tdefer_init(struct tdefer *t, char name)
{
	*t = (struct tdefer){ .d.cb = tdefer_cb, .name = name, .kick_fd = -1 };
}

TEST(fd_callback_fires_with_events)
{
	struct twatch *a;

	reset();
	a = twatch_new('a', make_efd(1));
	a->stop = true;
	CHECK_EQ(loop_run(cur_loop), 0);
	CHECK_EQ(a->calls, 1);
	CHECK(a->events & EPOLLIN);
	CHECK_EQ(a->w.fd >= 0, 1);
	twatch_free(a);
	loop_destroy(cur_loop);
}

TEST(deferred_runs_after_the_events)
{
	struct tdefer d1;
	struct twatch *a, *b;

	reset();
	tdefer_init(&d1, '1');
	d1.stop_at_end = true;
	a = twatch_new('a', make_efd(1));
	b = twatch_new('b', make_efd(1));
	a->defer = &d1.d; /* deferred from inside the batch */
	CHECK_EQ(loop_run(cur_loop), 0);
	CHECK_EQ(d1.calls, 1);
	/* Both events (in either order) before the deferral. */
	CHECK_EQ(trace_len, 3);
	CHECK_EQ(trace[2], '1');
	twatch_free(a);
	twatch_free(b);
	loop_destroy(cur_loop);
}

TEST(defer_is_idempotent_while_queued)
{
	struct tdefer d1, d2;

	reset();
	tdefer_init(&d1, '1');
	tdefer_init(&d2, '2');
	d2.stop_at_end = true;
	loop_defer(cur_loop, &d1.d);
	loop_defer(cur_loop, &d1.d);
	loop_defer(cur_loop, &d2.d);
	loop_defer(cur_loop, &d1.d);
	CHECK_EQ(loop_run(cur_loop), 0);
	CHECK_EQ(d1.calls, 1);
	CHECK_EQ(d2.calls, 1);
	CHECK(strcmp(trace, "12") == 0); /* FIFO */
	CHECK(!d1.d.queued);
	loop_destroy(cur_loop);
}

TEST(redeferral_does_not_starve_fds)
{
	struct tdefer d1;
	struct twatch *a;

	reset();
	a = twatch_new('a', make_efd(0));
	tdefer_init(&d1, '1');
	d1.kick_fd = a->w.fd; /* makes the fd ready during the first run */
	d1.requeue = 3;
	d1.stop_at_end = true;
	loop_defer(cur_loop, &d1.d);
	CHECK_EQ(loop_run(cur_loop), 0);
	CHECK_EQ(d1.calls, 4);
	/* The event is seen in the round after the first deferral, not at the end. */
	CHECK(strcmp(trace, "1a111") == 0);
	twatch_free(a);
	loop_destroy(cur_loop);
}

TEST(removing_another_watch_of_the_same_batch)
{
	struct twatch *a, *b;

	reset();
	a = twatch_new('a', make_efd(1));
	b = twatch_new('b', make_efd(1));
	/* Whichever runs first removes and frees the other. */
	a->victim = b;
	b->victim = a;
	a->stop = b->stop = true;
	CHECK_EQ(loop_run(cur_loop), 0);
	CHECK_EQ(trace_len, 1);
	if (trace[0] == 'a') {
		CHECK(a->victim == NULL);
		twatch_free(a);
	} else {
		CHECK(b->victim == NULL);
		twatch_free(b);
	}
	loop_destroy(cur_loop);
}

TEST(removing_itself_in_the_callback)
{
	struct tdefer d1;
	struct twatch *a;
	int fd;

	reset();
	fd = make_efd(1);
	a = twatch_new('a', fd);
	a->del_self = true;
	/* Keep the fd readable: a watch still registered would fire again. */
	a->keep_ready = true;
	tdefer_init(&d1, '1');
	d1.requeue = 2;
	d1.stop_at_end = true;
	loop_defer(cur_loop, &d1.d);
	CHECK_EQ(loop_run(cur_loop), 0);
	CHECK_EQ(a->calls, 1);
	CHECK(!a->w.added);
	free(a);
	close(fd);
	loop_destroy(cur_loop);
}

TEST(stop_ends_after_the_round_and_run_again_works)
{
	struct tdefer d1, d2;
	struct twatch *a;

	reset();
	a = twatch_new('a', make_efd(1));
	a->stop = true;
	tdefer_init(&d1, '1');
	a->defer = &d1.d;
	CHECK_EQ(loop_run(cur_loop), 0);
	/* The deferral of the stopping round still ran. */
	CHECK(strcmp(trace, "a1") == 0);
	a->defer = NULL;
	a->stop = false;
	tdefer_init(&d2, '2');
	d2.stop_at_end = true;
	loop_defer(cur_loop, &d2.d);
	CHECK_EQ(loop_run(cur_loop), 0);
	CHECK(strcmp(trace, "a12") == 0);
	twatch_free(a);
	loop_destroy(cur_loop);
}

static struct tdefer cancel_victim;

static void cancel_cb(struct loop_deferred *d)
{
	trace_add('c');
	loop_cancel(cur_loop, &cancel_victim.d);
	(void)d;
}

TEST(cancel_drops_a_queued_deferral)
{
	struct loop_deferred canceller = { .cb = cancel_cb };
	struct tdefer d1, last;

	reset();
	tdefer_init(&d1, '1');
	tdefer_init(&cancel_victim, 'v');
	tdefer_init(&last, 'z');
	last.stop_at_end = true;
	loop_defer(cur_loop, &d1.d);
	loop_cancel(cur_loop, &d1.d);
	CHECK(!d1.d.queued);
	/* Cancelled by an earlier deferral of the same round. */
	loop_defer(cur_loop, &canceller);
	loop_defer(cur_loop, &cancel_victim.d);
	loop_defer(cur_loop, &last.d);
	CHECK_EQ(loop_run(cur_loop), 0);
	CHECK(strcmp(trace, "cz") == 0);
	CHECK_EQ(d1.calls, 0);
	CHECK_EQ(cancel_victim.calls, 0);
	loop_destroy(cur_loop);
}

TEST(add_and_del_edge_cases)
{
	struct loop_watch w = { .cb = NULL };
	struct twatch *a;
	int fd;

	reset();
	fd = make_efd(0);
	CHECK_EQ(loop_add(cur_loop, &w, fd, EPOLLIN), -EINVAL); /* no callback */
	loop_del(cur_loop, &w);                                 /* never added: harmless */
	a = twatch_new('a', fd);
	CHECK_EQ(loop_add(cur_loop, &a->w, fd, EPOLLIN), -EBUSY);
	loop_del(cur_loop, &a->w);
	CHECK(!a->w.added);
	loop_del(cur_loop, &a->w);
	CHECK_EQ(loop_add(cur_loop, &a->w, fd, EPOLLIN), 0);
	twatch_free(a);
	loop_destroy(cur_loop);
	loop_destroy(NULL);
}

/* ---- adaptive polling ---- */

struct pacer {
	int fd;
	unsigned events, gap_us;
};

static void *pacer_main(void *arg)
{
	struct pacer *p = arg;
	uint64_t one = 1;

	for (unsigned i = 0; i < p->events; i++) {
		usleep(p->gap_us);
		CHECK_EQ(write(p->fd, &one, sizeof(one)), sizeof(one));
	}
	return NULL;
}

/* Runs the loop until a watch has seen n events written gap_us apart. */
static void run_paced(struct twatch *a, unsigned n, unsigned gap_us)
{
	struct pacer p = { .fd = a->w.fd, .events = n, .gap_us = gap_us };
	pthread_t t;

	a->calls = 0;
	a->stop = false;
	CHECK_EQ(pthread_create(&t, NULL, pacer_main, &p), 0);
	while (a->calls < (int)n)
		CHECK_EQ(loop_run_once(cur_loop), 0);
	pthread_join(t, NULL);
}

TEST(poll_window_grows_with_frequent_events_and_shrinks_with_rare_ones)
{
	struct twatch *a;

	reset();
	a = twatch_new('a', make_efd(0));
	CHECK_EQ(loop_poll_window_ns(cur_loop), 0);
	loop_set_poll(cur_loop, 1000);
	/* Blocks of ~100 us, well within 1 ms: polling would have caught them. */
	run_paced(a, 20, 100);
	CHECK(loop_poll_window_ns(cur_loop) > 0);
	CHECK(loop_poll_window_ns(cur_loop) <= 1000u * 1000u);
	/* Blocks of 20 ms: polling is wasted; the window halves down to nothing. */
	run_paced(a, 12, 20 * 1000);
	CHECK_EQ(loop_poll_window_ns(cur_loop), 0);
	twatch_free(a);
	loop_destroy(cur_loop);
}

TEST(poll_off_by_default_and_default_applies_to_new_loops)
{
	struct twatch *a;

	reset();
	a = twatch_new('a', make_efd(0));
	run_paced(a, 10, 100);
	CHECK_EQ(loop_poll_window_ns(cur_loop), 0); /* never polls */
	twatch_free(a);
	loop_destroy(cur_loop);

	loop_set_default_poll(1000);
	reset();
	loop_set_default_poll(0);
	a = twatch_new('a', make_efd(0));
	run_paced(a, 20, 100);
	CHECK(loop_poll_window_ns(cur_loop) > 0);
	/* An event while polling is dispatched like any other. */
	CHECK_EQ(a->calls, 20);
	CHECK_EQ(trace[0], 'a');
	twatch_free(a);
	loop_destroy(cur_loop);
}
