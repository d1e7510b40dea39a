/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-blk private state, shared by blk.c (requests) and blk_config.c
 * (feature bits and config space). Not part of the virtio core's API.
 */
#ifndef XVB_VIRTIO_BLK_INTERNAL_H
#define XVB_VIRTIO_BLK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include "blk.h"
#include "log.h"

/* One request: its chain and its disk request, from the queue's pool. */
struct blk_req {
	struct disk_req dreq; /* dreq.complete -> container_of */
	struct virtio_blk *blk;
	struct blk_queue *bq; /* &blk->queues[q]: no indexing on the hot path */
	struct blk_req *next_free;
	uint16_t q;
	bool flush_after;  /* writethrough: flush before completing this OUT */
	uint8_t *status;   /* last writable byte; NULL when the chain has none */
	uint32_t written;  /* used-ring length on success */
	struct virtq_chain chain;
};

/*
 * One queue's request state. Everything here belongs to the thread that
 * serves the queue (with queue threads, the queue's own disk ring and
 * guest-memory host; otherwise the device's), so queues never share a
 * counter or a log limiter.
 */
struct blk_queue {
	struct blk_req *pool; /* vq->num requests, allocated at queue start */
	uint16_t pool_size;
	struct blk_req *free;
	struct virtq *vq; /* &blk->vdev.vq[q] */
	bool pushed; /* used entries published since the last interrupt decision */
	bool resetting;        /* completions must not touch guest memory */
	bool disk_kick_needed; /* a completion queued a flush */
	uint32_t inflight;     /* requests at the disk */
	struct disk *disk;     /* where requests go: blk->disk unless set per queue */
	const struct virtio_host *host; /* maps this queue's buffers: &vdev.host unless set */
	uint64_t guest_errors;
	struct log_ratelimit log; /* guest-triggered and disk errors of this queue */
};

struct virtio_blk {
	struct virtio_dev vdev;
	struct disk *disk; /* not owned */
	char name[64];
	char serial[VIRTIO_BLK_ID_LEN]; /* NUL-padded, not NUL-terminated */
	bool read_only;
	uint16_t num_queues;
	uint64_t capacity; /* 512-byte sectors */
	uint8_t writeback; /* config writeback byte (CONFIG_WCE); atomic: queue threads read it */
	struct blk_queue queues[VIRTIO_MAX_QUEUES];
};

/* Requests at the disk, all queues (tests; not thread-safe with queue threads). */
static inline uint32_t blk_inflight(const struct virtio_blk *blk)
{
	uint32_t n = 0;

	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		n += blk->queues[q].inflight;
	return n;
}

/* Config space up to and including num_queues. */
#define BLK_CONFIG_SIZE ((uint32_t)(offsetof(struct virtio_blk_config, num_queues) + 2))

void blk_config_init(struct virtio_blk *blk);  /* from the disk, at create */
void blk_config_reset(struct virtio_blk *blk); /* device reset */
uint64_t blk_features(struct virtio_dev *vdev);
void blk_config_read(struct virtio_dev *vdev, uint32_t offset, void *buf, uint32_t len);
void blk_config_write(struct virtio_dev *vdev, uint32_t offset, const void *buf, uint32_t len);

#endif
