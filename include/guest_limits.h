/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every limit a guest can see or run into, in one place.
 *
 * A guest is untrusted: each number below bounds something the guest
 * controls (ring sizes, chain lengths, request sizes, log volume), so that
 * no guest can make the daemon allocate, loop or log without bound.
 */
#ifndef XVB_GUEST_LIMITS_H
#define XVB_GUEST_LIMITS_H

/* virtio-mmio window: one per disk, as libxl allocates (VIRTIO_MMIO_DEV_SIZE). */
#define VIRTIO_MMIO_WINDOW_SIZE 0x200u
#define VIRTIO_MMIO_CONFIG_OFFSET 0x100u

/* Largest queue we offer (QueueNumMax); must be a power of two. */
#define VIRTQ_MAX_SIZE 256u

/* Most virtqueues one device exposes (VIRTIO_BLK_F_MQ). */
#define VIRTIO_MAX_QUEUES 8u

/*
 * Descriptor chain bounds. A chain (direct, or the table of one indirect
 * descriptor) may not be longer than the queue (virtio 1.2 §2.7.5.3.1).
 */
#define VIRTQ_MAX_CHAIN VIRTQ_MAX_SIZE

/*
 * Host iovecs a request can turn into. A guest buffer is split where it
 * crosses a guest-memory mapping boundary, so a chain of N descriptors can
 * need more than N iovecs; beyond this the request fails with IOERR.
 * Kept at or under the kernel's UIO_MAXIOV (1024) so it can go to preadv.
 */
#define REQ_MAX_IOV 512u

/* virtio-blk: advertised segment count and size (SEG_MAX, SIZE_MAX). */
#define VIRTIO_BLK_SEG_MAX (VIRTQ_MAX_SIZE - 2u) /* header + status */
#define VIRTIO_BLK_SIZE_MAX (1u << 20)
/* Bytes one request may move: what SEG_MAX x SIZE_MAX lets a guest build. */
#define VIRTIO_BLK_MAX_REQ_BYTES ((uint64_t)VIRTIO_BLK_SEG_MAX * VIRTIO_BLK_SIZE_MAX)
#define VIRTIO_BLK_SECTOR_SHIFT 9u
#define VIRTIO_BLK_SECTOR_SIZE (1u << VIRTIO_BLK_SECTOR_SHIFT)
#define VIRTIO_BLK_ID_LEN 20u /* VIRTIO_BLK_ID_BYTES */

/* In-flight requests per queue: one per ring slot, preallocated. */
#define VIRTQ_MAX_INFLIGHT VIRTQ_MAX_SIZE

/* Xen side. */
#define XEN_IOREQ_MAX_VCPUS 128u /* one 32-byte slot per vCPU in a 4 KiB page */
#define DISKS_PER_GUEST_MAX 64u  /* windows one IOREQ server carries (Xen allows 256 ranges) */

/*
 * Foreign-mapping cache: guest RAM is mapped in buckets of
 * 1 << GUESTMEM_BUCKET_SHIFT bytes, at most GUESTMEM_MAX_BUCKETS per guest
 * at once (LRU beyond that).
 */
#define GUESTMEM_BUCKET_SHIFT 20u
#define GUESTMEM_MAX_BUCKETS 1024u
/*
 * GUEST_MAP_WHOLE spans (vrings) get exact mappings of their own: at most
 * three per queue (descriptors, avail, used) for every queue of every disk,
 * each at most GUESTMEM_WHOLE_MAX_PAGES pages (a 256-entry legacy ring with
 * a large QueueAlign still fits).
 */
#define GUESTMEM_WHOLE_MAX_SPANS (3u * VIRTIO_MAX_QUEUES * DISKS_PER_GUEST_MAX)
#define GUESTMEM_WHOLE_MAX_PAGES 64u

/* Guest-triggered log lines: at most BURST per INTERVAL seconds per device. */
#define GUEST_LOG_BURST 10u
#define GUEST_LOG_INTERVAL_S 5u

#endif
