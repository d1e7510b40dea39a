/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A virtio device as the transport sees it: status, features, interrupt
 * status, queues, and the small ops table a device type (virtio-blk)
 * implements. Transport-independent; virtio/mmio.c decodes registers into
 * calls on this.
 *
 * Threads (VIRTIO_BLK_F_MQ with queue threads): one thread owns the
 * register file and resets; each queue is served by one thread at a time.
 * What a queue thread may change under the register thread is accessed
 * atomically: status (NEEDS_RESET), broken and isr, through the helpers
 * below. Resets wait for the queue threads (virtio_host quiesce).
 */
#ifndef XVB_VIRTIO_DEV_H
#define XVB_VIRTIO_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_limits.h"
#include "log.h"
#include "ring.h"
#include "virtio_host.h"

struct virtio_dev;

/* What a device type implements. */
struct virtio_device_ops {
	uint32_t device_id;  /* VIRTIO_ID_BLOCK */
	uint16_t max_queues; /* queues the device offers (<= VIRTIO_MAX_QUEUES) */
	/* Device-type feature bits offered (transport bits are added by the core). */
	uint64_t (*features)(struct virtio_dev *vdev);
	/* Config space: bounds are checked by the caller against config_size. */
	uint32_t config_size;
	void (*config_read)(struct virtio_dev *vdev, uint32_t offset, void *buf, uint32_t len);
	void (*config_write)(struct virtio_dev *vdev, uint32_t offset, const void *buf, uint32_t len);
	/* DRIVER_OK was set: features are final, queues are started. */
	int (*activate)(struct virtio_dev *vdev);
	/* Serve the kicked queue (called from virtio_dev_process). */
	void (*queue_kick)(struct virtio_dev *vdev, uint16_t q);
	/*
	 * Device reset (Status = 0) or teardown: finish or cancel every
	 * request in flight, release their mappings, write nothing more to
	 * guest memory. Synchronous.
	 */
	void (*reset)(struct virtio_dev *vdev);
};

struct virtio_dev {
	const struct virtio_device_ops *ops;
	void *priv;       /* the device type's state */
	const char *name; /* "dom5/xvda": log prefix */
	struct virtio_host host;
	struct log_ratelimit guest_log; /* guest-triggered messages */

	uint64_t host_features;   /* offered */
	uint64_t driver_features; /* accepted by the driver */
	uint8_t status; /* atomic: virtio_dev_status() */
	bool broken; /* ring corruption: sticky until reset; atomic: virtio_dev_broken() */
	uint32_t isr; /* InterruptStatus: VIRTIO_MMIO_INT_VRING | _CONFIG; atomic */
	struct log_ratelimit broken_log; /* only the thread that breaks the device logs */
	uint32_t config_generation;
	uint16_t num_queues;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint32_t kicked; /* bitmap of queues notified and not yet served (register thread) */
};

static inline uint8_t virtio_dev_status(const struct virtio_dev *vdev)
{
	return __atomic_load_n(&vdev->status, __ATOMIC_RELAXED);
}

static inline bool virtio_dev_broken(const struct virtio_dev *vdev)
{
	return __atomic_load_n(&vdev->broken, __ATOMIC_RELAXED);
}

static inline uint32_t virtio_dev_isr(const struct virtio_dev *vdev)
{
	return __atomic_load_n(&vdev->isr, __ATOMIC_RELAXED);
}

/* Set up a device (no allocation). */
void virtio_dev_init(struct virtio_dev *vdev, const struct virtio_device_ops *ops, void *priv,
		     const char *name, const struct virtio_host *host);

/* Serve every kicked queue; called by the host after schedule(). */
void virtio_dev_process(struct virtio_dev *vdev);

/*
 * Hosts with queue threads, instead of virtio_dev_process(): on the
 * register thread after schedule(), take the kicked queues that may be
 * served now (bitmap); then, on each queue's thread, serve it.
 */
uint32_t virtio_dev_take_kicks(struct virtio_dev *vdev);
void virtio_dev_process_queue(struct virtio_dev *vdev, uint16_t q);

/* Record a kick of queue q and ask the host to schedule processing. */
void virtio_dev_kick(struct virtio_dev *vdev, uint16_t q);

/* Raise VIRTIO_MMIO_INT_VRING (after pushes, if virtq_should_notify). */
void virtio_dev_notify_queue(struct virtio_dev *vdev, uint16_t q);

/* Driver acknowledged interrupt bits. */
void virtio_dev_ack_interrupt(struct virtio_dev *vdev, uint32_t bits);

/*
 * The guest corrupted a ring: set DEVICE_NEEDS_RESET, stop serving until
 * reset, raise a config interrupt. Logged once (rate-limited).
 */
void virtio_dev_set_broken(struct virtio_dev *vdev, const char *why);

/* Status register write, with the spec's rules (no going backwards etc.). */
void virtio_dev_set_status(struct virtio_dev *vdev, uint8_t status);

/* Full reset: device reset op, stop queues, clear negotiation state. */
void virtio_dev_reset(struct virtio_dev *vdev);

#endif
