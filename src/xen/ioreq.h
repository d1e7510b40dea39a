/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One IOREQ server per guest: creation, the ioreq page, MMIO windows, one
 * event channel per vCPU, the READY -> INPROCESS -> IORESP_READY protocol,
 * and teardown. See xen-interfaces.md §1 and §8.
 */
#ifndef XVB_IOREQ_H
#define XVB_IOREQ_H

#include <stdint.h>

#include "../loop.h"
#include "xen_handles.h"

/* An MMIO window's handler (a virtio-mmio device). offset is from base. */
struct ioreq_window_ops {
	uint64_t (*read)(void *ctx, uint64_t offset, uint32_t size);
	void (*write)(void *ctx, uint64_t offset, uint32_t size, uint64_t value);
};

struct ioreq_server;

/*
 * Create the server for guest domid (BUFIOREQ_OFF), map its ioreq page.
 * on_invalidate runs for IOREQ_TYPE_INVALIDATE (drop foreign mappings).
 * name is the log prefix ("dom5").
 */
int ioreq_server_create(struct xen_handles *xh, struct loop *loop, uint16_t domid,
			const char *name, void (*on_invalidate)(void *ctx), void *invalidate_ctx,
			struct ioreq_server **out);
/* Claim [base, base + size) for ops. Allowed before or after enable. */
int ioreq_server_add_window(struct ioreq_server *s, uint64_t base, uint64_t size,
			    const struct ioreq_window_ops *ops, void *ctx);
int ioreq_server_remove_window(struct ioreq_server *s, uint64_t base);
/* Enable, then bind every vCPU's vp_eport and start watching the event fd. */
int ioreq_server_enable(struct ioreq_server *s);
/*
 * Answer anything pending, disable, unbind ports, unmap the page, destroy
 * the server. NULL-tolerant; safe on a half-created server.
 */
void ioreq_server_destroy(struct ioreq_server *s);

#endif
