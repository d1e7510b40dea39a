/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-blk device (virtio 1.2 §5.2) over a disk backend: IN, OUT, FLUSH,
 * GET_ID. Headers are copied out of guest memory before any decision; the
 * status byte is the last byte of the writable buffers; sector ranges are
 * checked overflow-safe; every popped chain is completed (IOERR / UNSUPP
 * for bad ones). Requests live in a per-queue pool sized by the queue: no
 * allocation on the hot path.
 */
#ifndef XVB_VIRTIO_BLK_H
#define XVB_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "../disk/disk.h"
#include "guest_limits.h"
#include "virtio_dev.h"

struct virtio_blk_params {
	bool read_only;
	char serial[VIRTIO_BLK_ID_LEN + 1]; /* GET_ID; may be empty */
	uint16_t num_queues; /* 1 .. VIRTIO_MAX_QUEUES (MQ when > 1) */
};

struct virtio_blk;

/* Create the device on an open disk (the device does not own the disk). */
int virtio_blk_create(const struct virtio_blk_params *params, struct disk *disk,
		      const char *name, const struct virtio_host *host, struct virtio_blk **out);
void virtio_blk_destroy(struct virtio_blk *blk); /* resets first; NULL-tolerant */
struct virtio_dev *virtio_blk_dev(struct virtio_blk *blk);

/*
 * The disk's event_fd became readable: reap completions, publish used
 * entries, decide once per queue whether to interrupt.
 */
void virtio_blk_disk_event(struct virtio_blk *blk);

/*
 * Queue threads (VIRTIO_BLK_F_MQ). Give queue q a disk and a guest-memory
 * host of its own (NULL: the device's): then only the thread serving q may
 * use them, and the host drives q with the calls below on that thread.
 * Set before DRIVER_OK. Of the queue's host only map and unmap are used.
 */
void virtio_blk_set_queue_io(struct virtio_blk *blk, uint16_t q, struct disk *disk,
			     const struct virtio_host *host);
/* Queue q's own disk became readable: virtio_blk_disk_event for one queue. */
void virtio_blk_queue_disk_event(struct virtio_blk *blk, uint16_t q);
/*
 * Wait for queue q's requests at its disk. answer: complete them in the
 * used ring and interrupt (teardown); else drop them for a reset: only
 * their mappings are released (quiesce before a reset).
 */
void virtio_blk_queue_drain(struct virtio_blk *blk, uint16_t q, bool answer);

#endif
