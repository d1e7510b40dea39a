/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest RAM as the daemon sees it: a bounded cache of foreign mappings in
 * buckets of 1 << GUESTMEM_BUCKET_SHIFT bytes, LRU beyond
 * GUESTMEM_MAX_BUCKETS, never one map/unmap per descriptor. Buckets in use
 * (pinned by an unreturned span) are never unmapped; invalidation drops
 * every unpinned bucket now and pinned ones when released.
 * GUEST_MAP_WHOLE spans get a dedicated exact mapping (vrings).
 */
#ifndef XVB_GUESTMEM_H
#define XVB_GUESTMEM_H

#include <stdint.h>

#include "../virtio/virtio_host.h"
#include "xen_handles.h"

struct guestmem;

int guestmem_create(struct xen_handles *xh, uint16_t domid, const char *name,
		    uint32_t max_buckets, struct guestmem **out);
void guestmem_destroy(struct guestmem *gm); /* NULL-tolerant; all spans must be returned */

/* virtio_host map/unmap semantics (see virtio_host.h). */
int guestmem_map(struct guestmem *gm, uint64_t gpa, uint64_t len, unsigned flags,
		 struct guest_span *out);
void guestmem_unmap(struct guestmem *gm, void *token);

/* IOREQ_TYPE_INVALIDATE: the guest's p2m changed. */
void guestmem_invalidate(struct guestmem *gm);

struct guestmem_stats {
	uint64_t hits, misses, evictions, invalidations;
	uint32_t buckets_mapped, buckets_pinned, whole_mapped;
};
void guestmem_get_stats(const struct guestmem *gm, struct guestmem_stats *out);

#endif
