/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Queue threads for one served disk: see served_queues.h. This file owns
 * what lives on the threads (their guest-memory caches and per-queue
 * disks) and the virtio_host through which their requests map guest
 * memory; queue_thread.c owns the threads themselves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "compiler.h"
#include "guest_limits.h"
#include "log.h"
#include "queue_thread.h"
#include "served_queues.h"
#include "xen/guestmem.h"

#define SQ_NAME_MAX 40u                /* "dom32751/" + vdev + NUL */
#define SQ_QUEUE_NAME_MAX (SQ_NAME_MAX + 16u) /* + "/q7" */

struct sq_thread;

/* One queue, on the thread that serves it. */
struct sq_queue {
	struct sq_thread *t;
	uint16_t q;
	struct disk *disk;
	struct loop_watch watch; /* the disk's completions */
	char name[SQ_QUEUE_NAME_MAX]; /* "dom5/xvda/q1" */
};

struct sq_thread {
	struct served_queues *sq;
	unsigned index;
	struct queue_thread *qt;
	struct guestmem *mem; /* this thread's cache */
	uint32_t mem_seen;    /* the invalidation generation mem has seen */
	struct virtio_host host;
	bool answer; /* the drain being run */
};

struct served_queues {
	struct served_queues_params p;
	char name[SQ_NAME_MAX];
	unsigned nr_running;
	struct sq_thread threads[VIRTIO_MAX_QUEUES];
	struct sq_queue queues[VIRTIO_MAX_QUEUES];
};

static bool served_by(const struct sq_thread *t, uint16_t q)
{
	return q % t->sq->p.nr_threads == t->index;
}

/* ---- the threads' virtio_host: guest memory through their own cache ---- */

static int thread_map(void *ctx, uint64_t gpa, uint64_t len, unsigned flags,
		      struct guest_span *out)
{
	struct sq_thread *t = ctx;
	uint32_t gen = __atomic_load_n(t->sq->p.mem_generation, __ATOMIC_ACQUIRE);

	if (unlikely(gen != t->mem_seen)) {
		t->mem_seen = gen;
		guestmem_invalidate(t->mem);
	}
	return guestmem_map(t->mem, gpa, len, flags, out);
}

static void thread_unmap(void *ctx, void *token)
{
	struct sq_thread *t = ctx;

	guestmem_unmap(t->mem, token);
}

/* The device uses only map and unmap of a queue's host (virtio_blk_set_queue_io). */
static const struct virtio_host_ops thread_host_ops = {
	.map = thread_map,
	.unmap = thread_unmap,
};

/* ---- on the thread ---- */

static void queue_disk_event(struct loop_watch *w, uint32_t events UNUSED)
{
	struct sq_queue *sqq = container_of(w, struct sq_queue, watch);

	virtio_blk_queue_disk_event(sqq->t->sq->p.blk, sqq->q);
}

static int thread_init(void *ctx, struct loop *loop)
{
	struct sq_thread *t = ctx;
	struct served_queues *sq = t->sq;
	int rc;

	t->mem_seen = __atomic_load_n(sq->p.mem_generation, __ATOMIC_ACQUIRE);
	rc = guestmem_create(sq->p.xh, sq->p.domid, sq->name, GUESTMEM_MAX_BUCKETS, &t->mem);
	if (rc < 0) {
		log_err(sq->name, "queue thread %u: cannot set up guest memory access: %s",
			t->index, strerror(-rc));
		return rc;
	}
	for (uint16_t q = 0; q < sq->p.num_queues; q++) {
		struct sq_queue *sqq = &sq->queues[q];

		if (!served_by(t, q))
			continue;
		/* Opened here: the ring's single issuer is this thread. */
		rc = disk_open(&sq->p.disk, sqq->name, &sqq->disk);
		if (rc < 0) {
			log_err(sqq->name, "cannot open %s: %s", sq->p.disk.path, strerror(-rc));
			return rc;
		}
		rc = loop_add(loop, &sqq->watch, sqq->disk->event_fd, EPOLLIN);
		if (rc < 0) {
			log_err(sqq->name, "cannot watch disk completions: %s", strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void thread_fini(void *ctx, struct loop *loop)
{
	struct sq_thread *t = ctx;
	struct served_queues *sq = t->sq;

	for (uint16_t q = 0; q < sq->p.num_queues; q++) {
		struct sq_queue *sqq = &sq->queues[q];

		if (!served_by(t, q))
			continue;
		if (loop)
			loop_del(loop, &sqq->watch);
		disk_close(sqq->disk);
		sqq->disk = NULL;
	}
	guestmem_destroy(t->mem);
	t->mem = NULL;
}

static void thread_kick(void *ctx, uint32_t bits)
{
	struct sq_thread *t = ctx;
	struct virtio_dev *vdev = virtio_blk_dev(t->sq->p.blk);

	for (uint16_t q = 0; q < t->sq->p.num_queues; q++)
		if (bits & (1u << q))
			virtio_dev_process_queue(vdev, q);
}

static void thread_drain(void *arg)
{
	struct sq_thread *t = arg;
	struct served_queues *sq = t->sq;

	/* Kicks taken before the reset are for rings that are about to go. */
	queue_thread_take_kicks(t->qt);
	for (uint16_t q = 0; q < sq->p.num_queues; q++)
		if (served_by(t, q))
			virtio_blk_queue_drain(sq->p.blk, q, t->answer);
}

static const struct queue_thread_ops sq_thread_ops = {
	.init = thread_init,
	.kick = thread_kick,
	.fini = thread_fini,
};

/* ---- main loop ---- */

void served_queues_kick(struct served_queues *sq, uint32_t queues)
{
	uint32_t per_thread[VIRTIO_MAX_QUEUES] = { 0 };

	for (uint16_t q = 0; q < sq->p.num_queues; q++)
		if (queues & (1u << q))
			per_thread[q % sq->p.nr_threads] |= 1u << q;
	for (unsigned i = 0; i < sq->nr_running; i++)
		queue_thread_kick(sq->threads[i].qt, per_thread[i]);
}

void served_queues_drain(struct served_queues *sq, bool answer)
{
	for (unsigned i = 0; i < sq->nr_running; i++) {
		sq->threads[i].answer = answer;
		queue_thread_call(sq->threads[i].qt, thread_drain, &sq->threads[i]);
	}
}

void served_queues_stop(struct served_queues *sq)
{
	if (!sq)
		return;
	for (unsigned i = 0; i < sq->nr_running; i++)
		queue_thread_stop(sq->threads[i].qt);
	free(sq);
}

int served_queues_start(const struct served_queues_params *p, struct served_queues **out)
{
	struct served_queues *sq;
	int rc;

	*out = NULL;
	if (p->num_queues == 0 || p->num_queues > VIRTIO_MAX_QUEUES || p->nr_threads == 0 ||
	    p->nr_threads > p->num_queues)
		return -EINVAL;
	sq = calloc(1, sizeof(*sq));
	if (!sq) {
		log_err(p->name, "out of memory");
		return -ENOMEM;
	}
	sq->p = *p;
	snprintf(sq->name, sizeof(sq->name), "%s", p->name);
	sq->p.name = sq->name;
	for (uint16_t q = 0; q < p->num_queues; q++) {
		struct sq_queue *sqq = &sq->queues[q];

		sqq->q = q;
		sqq->t = &sq->threads[q % p->nr_threads];
		sqq->watch = (struct loop_watch){ .fd = -1, .cb = queue_disk_event };
		snprintf(sqq->name, sizeof(sqq->name), "%s/q%u", sq->name, q);
	}
	for (unsigned i = 0; i < p->nr_threads; i++) {
		struct sq_thread *t = &sq->threads[i];
		char tname[32]; /* the thread name keeps 15 bytes */

		t->sq = sq;
		t->index = i;
		t->host = (struct virtio_host){ .ops = &thread_host_ops, .ctx = t };
		snprintf(tname, sizeof(tname), "xvb-d%u-q%u", p->domid, i);
		rc = queue_thread_start(&sq_thread_ops, t, tname, &t->qt);
		if (rc < 0) {
			log_err(sq->name, "cannot start queue thread %u: %s", i, strerror(-rc));
			goto err;
		}
		sq->nr_running++;
	}
	/* The disks were opened on the threads; the start handshake publishes them. */
	for (uint16_t q = 0; q < p->num_queues; q++)
		virtio_blk_set_queue_io(p->blk, q, sq->queues[q].disk, &sq->queues[q].t->host);
	*out = sq;
	return 0;

err:
	served_queues_stop(sq);
	return rc;
}
