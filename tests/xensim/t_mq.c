/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim integration tests, multi-queue (queues=N, threads=T): the device
 * offers VIRTIO_BLK_F_MQ and N queues; verified I/O from one vCPU per
 * queue lands on every queue; with fewer threads than queues too; a reset
 * with requests in flight on every queue writes nothing after Status
 * reads 0 and the device serves again; invalidations during MQ I/O; and
 * SIGTERM with requests in flight on every queue exits 0 holding nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_mmio.h>

#include "t_env.h"

#define DISK_SIZE (32 * T_MIB)
#define RAM_SIZE (160 * T_MIB)
#define RESET_PER_QUEUE 24u
#define RESET_BYTES (128u * 1024u)

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The driver asks for nq queues; the interrupt handler on the last vCPU. */
static struct gblk *open_mq(struct t_disk *d, unsigned nq, unsigned irq_vcpu)
{
	struct gblk_opts o = { .nr_queues = nq, .irq_vcpu = irq_vcpu };
	struct gblk *b = t_blk(d, &o);

	CHECK(gblk_has(b, VIRTIO_BLK_F_MQ));
	CHECK_EQ(b->cfg_num_queues, nq);
	CHECK_EQ(b->nr_queues, nq);
	return b;
}

/* Write everything from vcpus vCPUs (vCPU i on queue i % nq), read it back, check the image. */
static void write_read_verify(struct t_disk *d, struct gblk *b, unsigned vcpus, uint64_t seed)
{
	struct gwork_result res;
	struct gdisk_model m;
	char msg[256] = "";

	CHECK_EQ(gdisk_model_init(&m, b->capacity, seed), 0);
	struct gwork w = {
		.kind = GWORK_WRITE, .nr_vcpus = vcpus, .qd = 16, .sectors = b->capacity,
		.min_bytes = 4096, .max_bytes = 128 * 1024, .max_segs = 4,
		.layouts = GBLK_L_ALL, .seed = seed,
	};
	gwork_run(b, &m, &w, &res);
	if (res.rc)
		check_fail(__FILE__, __LINE__, "write: %s", res.msg);
	w.kind = GWORK_READ;
	w.verify = true;
	gwork_run(b, &m, &w, &res);
	if (res.rc)
		check_fail(__FILE__, __LINE__, "read: %s", res.msg);
	CHECK_EQ(res.mismatches, 0);
	if (gdisk_verify_file(&m, d->path, msg, sizeof(msg)))
		check_fail(__FILE__, __LINE__, "image: %s", msg);
	gdisk_model_fini(&m);
}

static void check_every_queue_served(struct gblk *b)
{
	for (unsigned q = 0; q < b->nr_queues; q++) {
		printf("# queue %u: %llu completions\n", q,
		       (unsigned long long)b->vq[q].completions);
		CHECK(b->vq[q].completions > 0);
		CHECK_EQ(b->vq[q].bad_used, 0);
	}
	CHECK(!atomic_load(&b->ring_error));
	CHECK(!atomic_load(&b->needs_reset));
}

TEST(two_queues_verified_io)
{
	struct t_env *e = t_begin("mq_two_queues");
	struct t_guest *g = t_guest(e, 1, 3, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE, .queues = 2 });
	struct gblk *b;

	t_daemon_start(g);
	b = open_mq(d, 2, 2);
	write_read_verify(d, b, 2, 201);
	check_every_queue_served(b);
	t_end(e);
}

/* --poll-us: the main loop and both queue threads poll; nothing else changes. */
TEST(two_queues_polling_verified_io)
{
	struct t_env *e = t_begin("mq_polling");
	struct t_guest *g = t_guest(e, 1, 3, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE, .queues = 2 });
	struct gblk *b;

	g->poll_us = 50;
	t_daemon_start(g);
	CHECK_EQ(sim_daemon_wait_log(g->log, "poll up to 50 us before sleeping", 1000), 0);
	b = open_mq(d, 2, 2);
	write_read_verify(d, b, 2, 211);
	check_every_queue_served(b);
	t_end(e);
}

TEST(four_queues_verified_io)
{
	struct t_env *e = t_begin("mq_four_queues");
	struct t_guest *g = t_guest(e, 1, 5, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE, .queues = 4 });
	struct gblk *b;

	t_daemon_start(g);
	b = open_mq(d, 4, 4);
	write_read_verify(d, b, 4, 401);
	check_every_queue_served(b);
	t_end(e);
}

/* Queues 0 and 2 on one thread, 1 and 3 on the other. */
TEST(four_queues_on_two_threads)
{
	struct t_env *e = t_begin("mq_four_on_two");
	struct t_guest *g = t_guest(e, 1, 5, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE, .queues = 4,
							    .threads = 2 });
	struct gblk *b;

	t_daemon_start(g);
	b = open_mq(d, 4, 4);
	write_read_verify(d, b, 4, 421);
	check_every_queue_served(b);
	t_end(e);
}

/* One queue on a thread of its own (threads=1) serves like the main loop. */
TEST(one_queue_on_a_thread)
{
	struct t_env *e = t_begin("mq_one_threaded");
	struct t_guest *g = t_guest(e, 1, 2, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE, .threads = 1 });
	struct gblk *b;

	t_daemon_start(g);
	b = t_blk(d, NULL);
	CHECK(!gblk_has(b, VIRTIO_BLK_F_MQ));
	write_read_verify(d, b, 2, 111);
	t_end(e);
}

TEST(reset_with_requests_in_flight_on_every_queue)
{
	struct t_env *e = t_begin("mq_reset_in_flight");
	struct t_guest *g = t_guest(e, 1, 5, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE, .queues = 4 });
	enum { NQ = 4, N = NQ * RESET_PER_QUEUE };
	struct gblk_req *reqs[N];
	uint8_t *snap_bufs, *snap_used[NQ];
	size_t used_bytes[NQ];
	unsigned aborted = 0;
	struct gblk *b;

	t_daemon_start(g);
	b = open_mq(d, NQ, 4);
	/* Writes and poisoned reads on every queue; one kick per queue. */
	for (unsigned i = 0; i < N; i++) {
		unsigned q = i % NQ;

		CHECK_EQ(gblk_req_alloc(b, RESET_BYTES, 4, &reqs[i]), 0);
		gblk_req_set(reqs[i], (i / NQ) % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
			     (uint64_t)i * (RESET_BYTES / 512), RESET_BYTES, 1 + i % 4, i % 3);
		memset(reqs[i]->buf, (i / NQ) % 2 ? 0xa5 : 0x11, RESET_BYTES + 1);
		CHECK_EQ(gblk_submit(b, q, reqs[i]), 0);
	}
	for (unsigned q = 0; q < NQ; q++)
		CHECK_EQ(gblk_kick(b, q, q), 0);
	CHECK_EQ(gblk_reset(b, 4), 0);
	for (unsigned i = 0; i < N; i++) {
		CHECK(reqs[i]->done);
		if (reqs[i]->result == GBLK_S_ABORTED)
			aborted++;
	}
	printf("# reset caught %u of %u requests in flight on %u queues\n", aborted, N, NQ);

	/* Once Status reads 0, no queue thread may write guest memory. */
	snap_bufs = malloc((size_t)N * (RESET_BYTES + 1));
	CHECK(snap_bufs != NULL);
	for (unsigned i = 0; i < N; i++)
		memcpy(snap_bufs + (size_t)i * (RESET_BYTES + 1), reqs[i]->buf, RESET_BYTES + 1);
	for (unsigned q = 0; q < NQ; q++) {
		used_bytes[q] = 6 + 8u * b->vq[q].num;
		snap_used[q] = malloc(used_bytes[q]);
		CHECK(snap_used[q] != NULL);
		memcpy(snap_used[q], b->vq[q].used, used_bytes[q]);
	}
	sleep_ms(300);
	for (unsigned i = 0; i < N; i++)
		if (memcmp(snap_bufs + (size_t)i * (RESET_BYTES + 1), reqs[i]->buf,
			   RESET_BYTES + 1))
			check_fail(__FILE__, __LINE__, "request %u: buffer changed after reset", i);
	for (unsigned q = 0; q < NQ; q++) {
		CHECK(memcmp(snap_used[q], b->vq[q].used, used_bytes[q]) == 0);
		free(snap_used[q]);
	}
	free(snap_bufs);

	/* Again on the same rings: every queue serves, no stale used entry. */
	CHECK_EQ(gblk_start(b, 0), 0);
	CHECK_EQ(b->nr_queues, NQ);
	write_read_verify(d, b, 4, 4242);
	check_every_queue_served(b);
	for (unsigned i = 0; i < N; i++)
		gblk_req_free(reqs[i]);
	t_end(e);
}

TEST(invalidate_during_mq_io)
{
	struct t_env *e = t_begin("mq_invalidate");
	struct t_guest *g = t_guest(e, 1, 3, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE / 2, .queues = 2 });
	struct gdisk_model m;
	struct t_bg bg;
	char msg[256] = "";
	unsigned n = 0;
	int r = 0;

	t_daemon_start(g);
	CHECK_EQ(gdisk_model_init(&m, DISK_SIZE / 2 / 512, 67), 0);
	bg = (struct t_bg){ .b = open_mq(d, 2, 2), .m = &m };
	bg.w = (struct gwork){ .kind = GWORK_RANDOM, .nr_vcpus = 2, .qd = 16, .sectors = m.sectors,
			       .min_bytes = 4096, .max_bytes = 65536, .max_segs = 4,
			       .layouts = GBLK_L_ALL, .write_pct = 60, .duration_ms = 1500,
			       .verify = true, .seed = 67 };
	t_bg_start(&bg);
	for (uint64_t t0 = now_ms(); now_ms() - t0 < 1400 && !r; n++) {
		r = guest_vm_invalidate(&g->vm);
		sleep_ms(1);
	}
	t_bg_join(&bg);
	printf("# %u invalidations during %llu requests\n", n, (unsigned long long)bg.res.reqs);
	CHECK_EQ(r, 0);
	if (bg.res.rc)
		check_fail(__FILE__, __LINE__, "I/O during invalidation: %s", bg.res.msg);
	CHECK_EQ(bg.res.mismatches, 0);
	if (gdisk_verify_file(&m, d->path, msg, sizeof(msg)))
		check_fail(__FILE__, __LINE__, "image: %s", msg);
	check_every_queue_served(bg.b);
	gdisk_model_fini(&m);
	t_end(e);
}

TEST(sigterm_with_requests_in_flight_on_every_queue)
{
	struct t_env *e = t_begin("mq_sigterm_in_flight");
	struct t_guest *g = t_guest(e, 1, 5, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE, .queues = 4 });
	atomic_bool stop = false;
	struct gdisk_model m;
	struct t_bg bg;
	uint64_t v;
	int st;

	t_daemon_start(g);
	CHECK_EQ(gdisk_model_init(&m, DISK_SIZE / 512, 89), 0);
	bg = (struct t_bg){ .b = open_mq(d, 4, 4), .m = &m };
	bg.w = (struct gwork){ .kind = GWORK_RANDOM, .nr_vcpus = 4, .qd = 32, .sectors = m.sectors,
			       .min_bytes = 4096, .max_bytes = 262144, .max_segs = 4,
			       .layouts = GBLK_L_ALL, .write_pct = 70, .duration_ms = 30000,
			       .verify = true, .stop = &stop, .seed = 89 };
	t_bg_start(&bg);
	sleep_ms(700);
	st = t_daemon_stop(g, SIGTERM);
	atomic_store(&stop, true);
	t_bg_join(&bg);
	printf("# %llu requests completed before SIGTERM\n", (unsigned long long)bg.res.reqs);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	for (unsigned q = 0; q < 4; q++)
		CHECK(bg.b->vq[q].completions > 0);
	CHECK_EQ(bg.res.mismatches, 0);
	CHECK_EQ(atomic_load(&g->vm.mmio_timeouts), 0);
	CHECK_EQ(guest_vm_read(&g->vm, 0, d->base + VIRTIO_MMIO_MAGIC_VALUE, 4, &v), -EFAULT);
	gdisk_model_fini(&m);
	t_end(e); /* no holdings: threads' mappings released, server destroyed */
}
