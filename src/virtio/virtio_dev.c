/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Transport-independent virtio device state: the status machine (virtio 1.2
 * §2.1, §3.1), feature negotiation, interrupt status and the IRQ line, queue
 * start/stop, kicks, and the sticky "broken" state (DEVICE_NEEDS_RESET).
 *
 * A device whose offered features lack VIRTIO_F_VERSION_1 is legacy (the
 * mmio transport removes that bit for version 1): legacy has no
 * FEATURES_OK, and its features are final at DRIVER_OK.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "virtio_dev.h"

#define FEATURE(bit) (1ull << (bit))

/* Transport bits the core implements (ACCESS_PLATFORM comes with grants). */
#define VIRTIO_CORE_FEATURES                                                           \
	(FEATURE(VIRTIO_F_VERSION_1) | FEATURE(VIRTIO_RING_F_INDIRECT_DESC) |          \
	 FEATURE(VIRTIO_RING_F_EVENT_IDX))

static bool vdev_legacy(const struct virtio_dev *vdev)
{
	return !(vdev->host_features & FEATURE(VIRTIO_F_VERSION_1));
}

void virtio_dev_init(struct virtio_dev *vdev, const struct virtio_device_ops *ops, void *priv,
		     const char *name, const struct virtio_host *host)
{
	*vdev = (struct virtio_dev){
		.ops = ops,
		.priv = priv,
		.name = name,
		.host = *host,
		.num_queues = ops->max_queues,
	};
	if (vdev->num_queues > VIRTIO_MAX_QUEUES)
		vdev->num_queues = VIRTIO_MAX_QUEUES;
	vdev->host_features = VIRTIO_CORE_FEATURES | (ops->features ? ops->features(vdev) : 0);
}

static void set_irq(struct virtio_dev *vdev, bool level)
{
	vdev->host.ops->set_irq(vdev->host.ctx, level);
}

/*
 * Interrupt status is set by whichever thread completes requests and
 * cleared by the register thread (InterruptACK). The bit goes in before
 * the line goes up, and an ack that lowered the line looks again: a bit
 * set meanwhile raises it anew, so the line is never left low with a bit
 * pending, whatever the interleaving (the host serialises set_irq calls).
 */
static void raise_isr(struct virtio_dev *vdev, uint32_t bit)
{
	__atomic_fetch_or(&vdev->isr, bit, __ATOMIC_SEQ_CST);
	/* Every new event, so edge-triggered interrupt controllers see each one. */
	set_irq(vdev, true);
}

void virtio_dev_notify_queue(struct virtio_dev *vdev, uint16_t q)
{
	(void)q; /* virtio-mmio has one interrupt line and one VRING bit */
	if (!(virtio_dev_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	raise_isr(vdev, VIRTIO_MMIO_INT_VRING);
}

void virtio_dev_ack_interrupt(struct virtio_dev *vdev, uint32_t bits)
{
	uint32_t before = __atomic_fetch_and(&vdev->isr, ~bits, __ATOMIC_SEQ_CST);

	if (before != 0 && (before & ~bits) == 0) {
		set_irq(vdev, false);
		if (__atomic_load_n(&vdev->isr, __ATOMIC_SEQ_CST) != 0)
			set_irq(vdev, true);
	}
}

void virtio_dev_set_broken(struct virtio_dev *vdev, const char *why)
{
	/* One thread wins; it alone logs (broken_log is not shared). */
	if (__atomic_exchange_n(&vdev->broken, true, __ATOMIC_ACQ_REL))
		return;
	log_guest(&vdev->broken_log, LOG_LVL_WARNING, vdev->name, "device needs reset: %s", why);
	__atomic_fetch_or(&vdev->status, (uint8_t)VIRTIO_CONFIG_S_NEEDS_RESET, __ATOMIC_RELAXED);
	raise_isr(vdev, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_dev_kick(struct virtio_dev *vdev, uint16_t q)
{
	uint32_t before = vdev->kicked;

	if (q >= vdev->num_queues || !vdev->vq[q].ready) {
		log_guest(&vdev->guest_log, LOG_LVL_WARNING, vdev->name,
			  "notify for queue %u that is not ready: ignored", q);
		return;
	}
	if (virtio_dev_broken(vdev))
		return;
	vdev->kicked |= 1u << q;
	/* One pending schedule serves every queue kicked until it runs. */
	if (before == 0)
		vdev->host.ops->schedule(vdev->host.ctx);
}

void virtio_dev_process(struct virtio_dev *vdev)
{
	uint32_t kicked = vdev->kicked;

	vdev->kicked = 0;
	for (uint16_t q = 0; q < vdev->num_queues; q++) {
		if (!(kicked & (1u << q)))
			continue;
		if (virtio_dev_broken(vdev) ||
		    !(virtio_dev_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK) || !vdev->vq[q].started)
			continue;
		if (vdev->ops->queue_kick)
			vdev->ops->queue_kick(vdev, q);
	}
}

uint32_t virtio_dev_take_kicks(struct virtio_dev *vdev)
{
	uint32_t kicked = vdev->kicked, serve = 0;

	vdev->kicked = 0;
	if (virtio_dev_broken(vdev) || !(virtio_dev_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK))
		return 0;
	for (uint16_t q = 0; q < vdev->num_queues; q++)
		if ((kicked & (1u << q)) && vdev->vq[q].started)
			serve |= 1u << q;
	return serve;
}

void virtio_dev_process_queue(struct virtio_dev *vdev, uint16_t q)
{
	/* The queue was started when the kick was taken; only a reset stops it. */
	if (q < vdev->num_queues && !virtio_dev_broken(vdev) && vdev->ops->queue_kick)
		vdev->ops->queue_kick(vdev, q);
}

static void stop_queues(struct virtio_dev *vdev)
{
	for (uint16_t q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_stop(&vdev->vq[q], &vdev->host);
}

void virtio_dev_reset(struct virtio_dev *vdev)
{
	/* No queue thread is inside the device from here on. */
	if (vdev->host.ops->quiesce)
		vdev->host.ops->quiesce(vdev->host.ctx);
	/* The device finishes with guest memory before the rings go away. */
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	stop_queues(vdev);
	for (uint16_t q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vdev->vq[q] = (struct virtq){ 0 };
	vdev->driver_features = 0;
	__atomic_store_n(&vdev->status, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&vdev->broken, false, __ATOMIC_RELAXED);
	vdev->kicked = 0;
	if (__atomic_exchange_n(&vdev->isr, 0, __ATOMIC_SEQ_CST) != 0)
		set_irq(vdev, false);
}

/* DRIVER_OK: features are final; map every ready queue, then activate. */
static void driver_ok(struct virtio_dev *vdev)
{
	bool event_idx, indirect;
	int r;

	/* Legacy has no FEATURES_OK to refuse with: unoffered bits are dropped. */
	vdev->driver_features &= vdev->host_features;
	event_idx = vdev->driver_features & FEATURE(VIRTIO_RING_F_EVENT_IDX);
	indirect = vdev->driver_features & FEATURE(VIRTIO_RING_F_INDIRECT_DESC);

	for (uint16_t q = 0; q < vdev->num_queues; q++) {
		struct virtq *vq = &vdev->vq[q];

		if (!vq->ready)
			continue;
		vq->event_idx = event_idx;
		vq->indirect = indirect;
		r = virtq_start(vq, &vdev->host);
		if (r < 0) {
			virtio_dev_set_broken(vdev, r == -EINVAL ? "bad queue size or alignment"
								 : "queue outside guest RAM");
			return;
		}
	}
	if (vdev->ops->activate) {
		r = vdev->ops->activate(vdev);
		if (r < 0)
			virtio_dev_set_broken(vdev, "device activation failed");
	}
}

void virtio_dev_set_status(struct virtio_dev *vdev, uint8_t status)
{
	/* NEEDS_RESET is the device's bit: a driver writing it back changes nothing. */
	uint8_t old = virtio_dev_status(vdev) & ~VIRTIO_CONFIG_S_NEEDS_RESET;
	uint8_t set;

	status &= ~VIRTIO_CONFIG_S_NEEDS_RESET;
	if (status == 0) {
		virtio_dev_reset(vdev);
		return;
	}
	if (old & ~status) {
		log_guest(&vdev->guest_log, LOG_LVL_WARNING, vdev->name,
			  "status 0x%02x -> 0x%02x clears bits without reset: ignored", old,
			  status);
		return;
	}
	if (vdev_legacy(vdev) && (status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		log_guest(&vdev->guest_log, LOG_LVL_WARNING, vdev->name,
			  "FEATURES_OK on a legacy device: ignored");
		status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	set = status & ~old;
	if (set & VIRTIO_CONFIG_S_FEATURES_OK) {
		uint64_t unoffered = vdev->driver_features & ~vdev->host_features;

		if (unoffered) {
			/* §2.2.2: the driver re-reads status and sees FEATURES_OK missing. */
			log_guest(&vdev->guest_log, LOG_LVL_WARNING, vdev->name,
				  "driver accepted features never offered (0x%llx): FEATURES_OK refused",
				  (unsigned long long)unoffered);
			status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
			set &= ~VIRTIO_CONFIG_S_FEATURES_OK;
		}
	}
	if ((set & VIRTIO_CONFIG_S_DRIVER_OK) && !vdev_legacy(vdev) &&
	    !(status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		log_guest(&vdev->guest_log, LOG_LVL_WARNING, vdev->name,
			  "DRIVER_OK without FEATURES_OK: ignored");
		status &= ~VIRTIO_CONFIG_S_DRIVER_OK;
		set &= ~VIRTIO_CONFIG_S_DRIVER_OK;
	}
	/*
	 * status holds every bit of old (no bit is cleared without a reset),
	 * so or-ing it in is the assignment, and keeps a NEEDS_RESET that a
	 * queue thread may set meanwhile.
	 */
	__atomic_fetch_or(&vdev->status, status, __ATOMIC_RELAXED);
	if ((set & VIRTIO_CONFIG_S_DRIVER_OK) && !virtio_dev_broken(vdev))
		driver_ok(vdev);
}
