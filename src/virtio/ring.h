/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Split virtqueue engine (virtio 1.2 §2.7) with INDIRECT_DESC and EVENT_IDX.
 *
 * Everything read from the rings is guest-controlled. The walker validates
 * like libvhost-user: avail moves by at most num, head and next < num, a
 * chain length bound catches loops, indirect tables are a multiple of 16,
 * at most num entries, never nested, only when negotiated; no readable
 * descriptor after a writable one; no zero-length buffer; each buffer is
 * mapped with its length. Indices are kept in shadow copies: guest-owned
 * fields are read once and never trusted for bookkeeping.
 */
#ifndef XVB_VIRTIO_RING_H
#define XVB_VIRTIO_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_limits.h"
#include "virtio_host.h"

struct vring_desc;
struct vring_avail;
struct vring_used;

struct virtq {
	/* Set by the transport before virtq_start(). */
	uint16_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;  /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool ready;     /* QueueReady = 1 (modern) / QueuePFN != 0 (legacy) */

	/* Owned by the engine. */
	bool started;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	struct guest_span desc_span, avail_span, used_span;
	uint16_t last_avail_idx; /* shadow: next avail entry to take */
	uint16_t used_idx;       /* shadow: next used entry to write */
	uint16_t signalled_used; /* used_idx at the last interrupt (EVENT_IDX) */
	bool signalled_used_valid;
	uint16_t inflight; /* chains popped and not yet pushed */
};

/* One popped descriptor chain: readable iovecs first, then writable ones. */
struct virtq_chain {
	uint16_t head;
	uint16_t n_out; /* iov[0 .. n_out) device-readable */
	uint16_t n_in;  /* iov[n_out .. n_out + n_in) device-writable */
	uint16_t n_tokens;
	uint64_t out_bytes, in_bytes;
	/*
	 * Request error, not ring corruption: the buffers needed more than
	 * REQ_MAX_IOV iovecs or the host could not map them (-ENOMEM). The
	 * chain was still fully validated; iov holds only the status byte
	 * (the last writable byte, n_in = 1) or nothing (n_in = 0).
	 */
	bool truncated;
	struct iovec iov[REQ_MAX_IOV];
	void *tokens[REQ_MAX_IOV]; /* mappings to release (guest_span.token) */
};

/*
 * Map the rings (validated: num a power of two <= VIRTQ_MAX_SIZE, alignment
 * per spec, every part inside guest RAM). -EINVAL / -EFAULT on bad rings.
 */
int virtq_start(struct virtq *vq, const struct virtio_host *host);
/* Unmap the rings; forget indices. NULL-tolerant; safe on a stopped queue. */
void virtq_stop(struct virtq *vq, const struct virtio_host *host);

/*
 * Take the next available chain. Returns 1 with *chain filled, 0 when the
 * ring is empty, -EIO (or another -errno) when the ring or chain is
 * corrupt: the caller must then mark the device broken (DEVICE_NEEDS_RESET).
 * A chain that is merely malformed as a *request* is the device's business,
 * not the walker's.
 */
int virtq_pop(struct virtq *vq, const struct virtio_host *host, struct virtq_chain *chain);

/* Release the chain's mappings and publish it in the used ring. */
void virtq_push(struct virtq *vq, const struct virtio_host *host, struct virtq_chain *chain,
		uint32_t written);

/* Release a chain's mappings without publishing it (device reset). */
void virtq_chain_release(const struct virtio_host *host, struct virtq_chain *chain);

/*
 * After a batch of pushes: should the driver be interrupted? Honours
 * EVENT_IDX (used_event, wrap-around safe) or VRING_AVAIL_F_NO_INTERRUPT.
 */
bool virtq_should_notify(struct virtq *vq);

/* Publish avail_event (EVENT_IDX) so the driver kicks us for new work. */
void virtq_update_avail_event(struct virtq *vq);

/* True when the ring has entries we have not taken. */
bool virtq_has_work(const struct virtq *vq);

#endif
