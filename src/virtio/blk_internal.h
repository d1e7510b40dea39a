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
	struct blk_req *next_free;
	uint16_t q;
	bool flush_after;  /* writethrough: flush before completing this OUT */
	uint8_t *status;   /* last writable byte; NULL when the chain has none */
	uint32_t written;  /* used-ring length on success */
	struct virtq_chain chain;
};

struct blk_queue {
	struct blk_req *pool; /* vq->num requests, allocated at queue start */
	uint16_t pool_size;
	struct blk_req *free;
	bool pushed; /* used entries published since the last interrupt decision */
};

struct virtio_blk {
	struct virtio_dev vdev;
	struct disk *disk; /* not owned */
	char name[64];
	char serial[VIRTIO_BLK_ID_LEN]; /* NUL-padded, not NUL-terminated */
	bool read_only;
	uint16_t num_queues;
	uint64_t capacity; /* 512-byte sectors */
	uint8_t writeback; /* config writeback byte (CONFIG_WCE) */
	bool resetting;    /* completions must not touch guest memory */
	bool disk_kick_needed;
	uint32_t inflight; /* requests at the disk */
	uint64_t guest_errors;
	struct log_ratelimit disk_log; /* host-side disk errors */
	struct blk_queue queues[VIRTIO_MAX_QUEUES];
};

/* Config space up to and including num_queues. */
#define BLK_CONFIG_SIZE ((uint32_t)(offsetof(struct virtio_blk_config, num_queues) + 2))

void blk_config_init(struct virtio_blk *blk);  /* from the disk, at create */
void blk_config_reset(struct virtio_blk *blk); /* device reset */
uint64_t blk_features(struct virtio_dev *vdev);
void blk_config_read(struct virtio_dev *vdev, uint32_t offset, void *buf, uint32_t len);
void blk_config_write(struct virtio_dev *vdev, uint32_t offset, const void *buf, uint32_t len);

#endif
