/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The queue threads of one served disk (VIRTIO_BLK_F_MQ): queue q is
 * served by thread q % nr_threads. Each thread has its own event loop,
 * its own cache of guest memory and, per queue it serves, its own disk
 * (one io_uring per queue, created, used and closed on that thread). The
 * main loop keeps the IOREQ server and the register file: it forwards
 * the kicked queues here after answering the QUEUE_NOTIFY ioreq.
 *
 * Guest memory: each thread maps through a cache of its own, so the hot
 * path takes no lock. IOREQ_TYPE_INVALIDATE bumps the guest's generation
 * counter; a thread whose cache is older invalidates it before its next
 * map (requests already mapped keep their pages, as in the main cache).
 */
#ifndef XVB_SERVED_QUEUES_H
#define XVB_SERVED_QUEUES_H

#include <stdbool.h>
#include <stdint.h>

#include "disk/disk.h"
#include "virtio/blk.h"
#include "xen/xen_handles.h"

struct served_queues;

struct served_queues_params {
	const char *name; /* "dom5/xvda": log prefix; copied */
	struct virtio_blk *blk;
	uint16_t num_queues;
	unsigned nr_threads;      /* 1 .. num_queues */
	struct disk_params disk;  /* opened once per queue; disk.path must outlive us */
	struct xen_handles *xh;
	uint16_t domid;
	const uint32_t *mem_generation; /* atomic; bumped on every invalidation */
};

/*
 * Start the threads, open every queue's disk on its thread, and give the
 * device each queue's disk and guest-memory host (virtio_blk_set_queue_io).
 * Logs what failed; on failure nothing remains.
 */
int served_queues_start(const struct served_queues_params *p, struct served_queues **out);
/* Main loop: have the threads serve these queues (virtio_dev_take_kicks). */
void served_queues_kick(struct served_queues *sq, uint32_t queues);
/*
 * Main loop: wait until every thread has drained its queues' I/O: answered
 * (teardown), or dropped for a reset (virtio_host quiesce), pending kicks
 * dropped with it. Returns with every thread idle.
 */
void served_queues_drain(struct served_queues *sq, bool answer);
/* Stop the threads (closing their disks) and free. The device must be reset or gone. */
void served_queues_stop(struct served_queues *sq);

#endif
