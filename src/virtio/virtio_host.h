/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the virtio core needs from whoever hosts a device, and nothing more:
 * guest memory, an interrupt line, and a way to be called back soon.
 *
 * Implemented by src/xen (foreign mappings, set_irq_level, the epoll loop)
 * and by plain buffers and counters in unit tests. The virtio core never
 * includes a Xen header: this table is its only way out.
 *
 * Threads: with queue threads (see quiesce below) map/unmap may be called
 * from any of them (a device can be given a separate host per queue for
 * its requests' buffers: virtio_blk_set_queue_io), and set_irq from
 * several at once.
 */
#ifndef XVB_VIRTIO_HOST_H
#define XVB_VIRTIO_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* map() flags */
#define GUEST_MAP_WRITE (1u << 0) /* the device will write (else read-only) */
#define GUEST_MAP_WHOLE (1u << 1) /* all of len, contiguous, long-lived (vrings) */

/*
 * A piece of guest memory visible to the host. len may be shorter than
 * asked (the range crosses a mapping boundary): map the rest with another
 * call at gpa + len. Every successful map() is paired with one unmap() of the
 * same span's token; until then the pointer stays valid even across an invalidation.
 */
struct guest_span {
	void *ptr;
	size_t len;
	void *token; /* host-private: what unmap() releases; may be NULL */
};

struct virtio_host_ops {
	/*
	 * Map [gpa, gpa + len) (len > 0). Returns 0 and a span of 1..len bytes
	 * (all of len with GUEST_MAP_WHOLE), or -EFAULT when gpa is not guest
	 * RAM, -ENOMEM when the host cannot map it now.
	 */
	int (*map)(void *ctx, uint64_t gpa, uint64_t len, unsigned flags, struct guest_span *out);
	void (*unmap)(void *ctx, void *token); /* span.token from map() */
	/*
	 * Drive the device's interrupt line. Called with true for every new
	 * event (so edge-only vGICs see each one) and with false when the
	 * driver has acknowledged everything.
	 */
	void (*set_irq)(void *ctx, bool level);
	/*
	 * Ask to have virtio_dev_process() called soon, after the current
	 * register access has been answered: the guest vCPU waiting on a
	 * QUEUE_NOTIFY must never wait for disk I/O.
	 */
	void (*schedule)(void *ctx);
	/*
	 * Optional (NULL: the host serves every queue on the caller's
	 * thread). A host that serves queues on threads of its own
	 * (VIRTIO_BLK_F_MQ) returns from quiesce() only once none of those
	 * threads is inside the device any more and each has drained its
	 * queues' I/O (for virtio-blk: virtio_blk_queue_drain()), and none
	 * enters again before the next virtio_dev_process_queue(). Called
	 * before every device reset, from the thread that resets.
	 */
	void (*quiesce)(void *ctx);
};

struct virtio_host {
	const struct virtio_host_ops *ops;
	void *ctx;
};

#endif
