/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-mmio register file (virtio 1.2 §4.2.2), version 2 (modern) and
 * version 1 (legacy: GuestPageSize, QueuePFN, QueueAlign), chosen per
 * device. Offsets are relative to the window base; the caller guarantees
 * offset + size <= VIRTIO_MMIO_WINDOW_SIZE and size in {1, 2, 4, 8}.
 * Registers take 32-bit accesses; config space takes any width. Anything
 * else reads as 0 / is ignored, logged (rate-limited): a guest register
 * access can never fail the daemon.
 */
#ifndef XVB_VIRTIO_MMIO_H
#define XVB_VIRTIO_MMIO_H

#include <stdint.h>

#include "virtio_dev.h"

#define VIRTIO_MMIO_MAGIC 0x74726976u  /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x4e455658u /* "XVEN": xen-virtio-blkd */

struct virtio_mmio {
	struct virtio_dev *vdev;
	uint32_t version; /* 2 = modern, 1 = legacy */
	/* Register state not kept in virtio_dev. */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t guest_page_size; /* legacy */
	uint32_t queue_align[VIRTIO_MAX_QUEUES]; /* legacy */
	uint32_t queue_pfn[VIRTIO_MAX_QUEUES];   /* legacy */
	uint32_t queue_ready[VIRTIO_MAX_QUEUES];
};

void virtio_mmio_init(struct virtio_mmio *mmio, struct virtio_dev *vdev, uint32_t version);
uint64_t virtio_mmio_read(struct virtio_mmio *mmio, uint32_t offset, uint32_t size);
void virtio_mmio_write(struct virtio_mmio *mmio, uint32_t offset, uint32_t size, uint64_t value);

#endif
