/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scripted guest, device half: a virtio-blk driver (virtio 1.2 §5.2) over
 * guest_mmio. Split virtqueues in guest RAM (direct or indirect chains,
 * EVENT_IDX), requests whose header, data and status may be laid out in
 * several ways, an interrupt handler thread (or polling), synchronous
 * read/write/flush/get-id, and raw ring access for hostile tests.
 *
 * Locking: each queue has a mutex that covers its ring, free list and the
 * done flags of its requests; a vCPU does one MMIO access at a time
 * (guest_vm). Any number of vCPU threads may submit to any queue.
 */
#ifndef XENSIM_GUEST_BLK_H
#define XENSIM_GUEST_BLK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "guest_mmio.h"

#define GBLK_MAX_QUEUES 8u
#define GBLK_SECTOR 512u
#define GBLK_MAX_QSIZE 1024u /* largest queue the driver sets up */

/* Features the driver knows how to use (wanted by default). */
#define GBLK_DEFAULT_FEATURES                                                                  \
	((1ull << 32 /* VIRTIO_F_VERSION_1 */) | (1ull << VIRTIO_RING_F_EVENT_IDX) |           \
	 (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_BLK_F_SIZE_MAX) |             \
	 (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |                    \
	 (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_TOPOLOGY) |                      \
	 (1ull << VIRTIO_BLK_F_RO) | (1ull << VIRTIO_BLK_F_MQ))

/* How a request's chain is laid out (combinable). */
#define GBLK_L_INDIRECT 0x01u       /* one indirect descriptor (if negotiated) */
#define GBLK_L_HDR_SPLIT 0x02u      /* the 16-byte header in two descriptors */
#define GBLK_L_STATUS_IN_DATA 0x04u /* IN/GET_ID: status shares the last data descriptor */
#define GBLK_L_SCATTER 0x08u        /* data pieces in reverse guest-memory order */
#define GBLK_L_ALL 0x0fu

/* Request result when the driver gave up on it (reset, device gone). */
#define GBLK_S_ABORTED 0xffu
/* Status byte written before submission: the device must overwrite it. */
#define GBLK_S_UNTOUCHED 0xeeu

struct gvq;

/* One virtio-blk request and the guest memory it owns. */
struct gblk_req {
	/* Guest memory (gblk_req_alloc). */
	uint8_t *hdr;    /* struct virtio_blk_outhdr, 16 bytes */
	uint8_t *status; /* the status byte when not merged into data */
	uint64_t hdr_gpa, status_gpa;
	struct vring_desc *itable; /* indirect table */
	uint64_t itable_gpa;
	unsigned max_segs; /* data descriptors the request can carry */
	uint8_t *buf;      /* data buffer (len + 1 for a merged status) */
	uint64_t buf_gpa;
	uint32_t buf_cap;

	/* Set by the submitter. */
	uint32_t type; /* VIRTIO_BLK_T_* (any value, for hostile tests) */
	uint64_t sector;
	uint32_t len;    /* data bytes (0: no data descriptor) */
	unsigned nseg;   /* data descriptors (1 .. max_segs) */
	unsigned layout; /* GBLK_L_* */
	uint64_t tag;    /* the submitter's */

	/* Result, under the queue lock. */
	bool done;
	uint8_t result; /* status byte, or GBLK_S_ABORTED */
	uint32_t used_len;

	/* Queue bookkeeping. */
	uint8_t *status_at; /* where the device writes the status (set at submit) */
	struct gvq *vq;
	uint16_t head;
	bool inflight;
};

/* The driver's side of one split virtqueue. */
struct gvq {
	struct gblk *blk;
	uint16_t index, num;
	bool event_idx, indirect;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* completions, reset, device gone */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t *used_event, *avail_event; /* EVENT_IDX words */
	/* Shadow state: the driver never trusts device-writable memory. */
	uint16_t free_head, num_free;
	uint16_t avail_idx, num_added, last_used;
	uint16_t next[GBLK_MAX_QSIZE];
	uint16_t ndesc[GBLK_MAX_QSIZE];
	struct gblk_req *owner[GBLK_MAX_QSIZE]; /* head -> request */
	/* Counters. */
	uint64_t completions, kicks, kicks_skipped;
	uint64_t bad_used; /* used entries naming no chain in flight */
};

struct gblk_opts {
	uint64_t features;   /* wanted (0: GBLK_DEFAULT_FEATURES) */
	uint16_t queue_size; /* 0: QueueNumMax */
	unsigned nr_queues;  /* wanted; more than one needs MQ */
	bool poll;           /* no interrupt handler: waiters reap the used ring */
	unsigned irq_vcpu;   /* vCPU that runs the interrupt handler */
	unsigned timeout_ms; /* 0: GUEST_TIMEOUT_MS */
};

struct gblk {
	struct guest_mmio dev;
	struct gblk_opts opts;
	/* Config space, read at start. */
	uint64_t capacity; /* sectors */
	uint32_t blk_size, seg_max, size_max;
	uint16_t cfg_num_queues;
	unsigned nr_queues;
	bool started;
	struct gvq vq[GBLK_MAX_QUEUES];
	/* Interrupt handler. */
	pthread_t irq_thread;
	bool irq_running;
	uint64_t irq_seen; /* edges on the line before the handler started */
	atomic_bool irq_stop;
	atomic_ulong irqs, spurious_irqs, config_irqs;
	atomic_bool needs_reset; /* DEVICE_NEEDS_RESET seen */
	atomic_bool gone;        /* an access found no device (-EFAULT) */
	atomic_bool ring_error;  /* the device corrupted a used ring */
	/* Per-vCPU request for the synchronous calls. */
	struct gblk_req *sync_req[GUEST_MAX_VCPUS];
	/* Per-vCPU requests for workloads, reused while big enough. */
	struct gblk_req **pool[GUEST_MAX_VCPUS];
	unsigned pool_n[GUEST_MAX_VCPUS];
};

/*
 * Probe, negotiate, read config, set up queues (in new or, after a reset,
 * the same guest memory), DRIVER_OK, start the interrupt handler.
 */
int gblk_open(struct gblk *b, struct guest_vm *vm, uint64_t base, unsigned irq,
	      const struct gblk_opts *opts);
int gblk_start(struct gblk *b, unsigned vcpu);
/*
 * gblk_start, calling after_features (when not NULL) once the features
 * are negotiated (FEATURES_OK) and the config read, before any queue is
 * set up: for hostile tests that act in that phase. Its non-zero return
 * ends the start with that error.
 */
int gblk_start_with(struct gblk *b, unsigned vcpu, int (*after_features)(struct gblk *, void *),
		    void *ctx);
/* gblk_open with gblk_start_with's hook. */
int gblk_open_with(struct gblk *b, struct guest_vm *vm, uint64_t base, unsigned irq,
		   const struct gblk_opts *opts, int (*after_features)(struct gblk *, void *),
		   void *ctx);
/* Stop the handler, write Status = 0, abort every request in flight. */
int gblk_reset(struct gblk *b, unsigned vcpu);
/* Stop the handler and free host memory; no register access. NULL-tolerant. */
void gblk_close(struct gblk *b);
bool gblk_has(const struct gblk *b, unsigned feature);

/* A request able to carry max_bytes in up to max_segs data descriptors. */
int gblk_req_alloc(struct gblk *b, uint32_t max_bytes, unsigned max_segs, struct gblk_req **out);
void gblk_req_free(struct gblk_req *r); /* host memory only; guest RAM is not reused */
/* n requests of vcpu's pool, each able to carry bytes in segs descriptors. */
int gblk_pool(struct gblk *b, unsigned vcpu, unsigned n, uint32_t bytes, unsigned segs,
	      struct gblk_req ***out);
/* Prepare r (keeps the buffers); nseg is clamped to 1 .. max_segs and len. */
void gblk_req_set(struct gblk_req *r, uint32_t type, uint64_t sector, uint32_t len, unsigned nseg,
		  unsigned layout);
/* Copy the logical data (descriptor order) in or out of the buffer. */
void gblk_req_copy_in(struct gblk_req *r, const void *src, uint32_t len);
void gblk_req_copy_out(const struct gblk_req *r, void *dst, uint32_t len);

/* Put r on queue q (not kicked). -ENOSPC when the ring has no room. */
int gblk_submit(struct gblk *b, unsigned q, struct gblk_req *r);
/* Notify queue q from vcpu if the device wants it (EVENT_IDX / NO_NOTIFY). */
int gblk_kick(struct gblk *b, unsigned vcpu, unsigned q);
/*
 * Wait until the queue completes something after *seen (a value of
 * vq->completions read under the lock), or timeout. Polling mode reaps
 * here. -ETIMEDOUT, -ENODEV (device gone), -ECANCELED (reset).
 */
int gblk_wait_progress(struct gblk *b, unsigned q, uint64_t *seen, unsigned timeout_ms);
/* Submit on vcpu's queue, kick, wait for r. */
int gblk_do(struct gblk *b, unsigned vcpu, struct gblk_req *r);
/* Wait until the submitted r is done (or the wait fails). */
int gblk_wait_req(struct gblk *b, struct gblk_req *r);

/* Synchronous calls through vcpu's own request; *status gets the status byte. */
int gblk_read(struct gblk *b, unsigned vcpu, uint64_t sector, void *buf, uint32_t len,
	      uint8_t *status);
int gblk_write(struct gblk *b, unsigned vcpu, uint64_t sector, const void *buf, uint32_t len,
	       uint8_t *status);
int gblk_flush(struct gblk *b, unsigned vcpu, uint8_t *status);
int gblk_get_id(struct gblk *b, unsigned vcpu, void *buf, uint32_t len, uint8_t *status);

/* Hostile tests: write vq->desc yourself, then publish a head and kick. */
int gvq_publish_raw(struct gvq *vq, uint16_t head);
struct gvq_seg;
/*
 * Hostile tests: put any chain on queue q on behalf of r (which gets its
 * result from r->status; make segs point the status there, or not). Kick
 * and gblk_wait_req as usual.
 */
int gblk_submit_segs(struct gblk *b, unsigned q, struct gblk_req *r, const struct gvq_seg *segs,
		     unsigned n, bool indirect);

/* Ring internals (guest_vq.c); the caller holds vq->lock. */
struct gvq_seg {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};
int gvq_alloc_rings(struct gvq *vq, struct guest_vm *vm, uint16_t num, bool legacy);
uint32_t gvq_legacy_align(void);
/* Add a chain (through itable when given); returns the head or -errno. */
int gvq_add(struct gvq *vq, const struct gvq_seg *segs, unsigned n, struct vring_desc *itable,
	    uint64_t itable_gpa, struct gblk_req *owner);
bool gvq_kick_prepare(struct gvq *vq);
/* Reap used entries; re-arm used_event (EVENT_IDX); wake waiters. */
unsigned gvq_reap(struct gvq *vq);
/* Device reset: every request in flight is done with GBLK_S_ABORTED. */
void gvq_abort_all(struct gvq *vq);

#endif
