/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The process-wide Xen library handles: device model (dm_op), foreign
 * memory and event channels. Opened once; shared by every guest.
 */
#ifndef XVB_XEN_HANDLES_H
#define XVB_XEN_HANDLES_H

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>

struct xen_handles {
	xendevicemodel_handle *dm;
	xenforeignmemory_handle *fmem;
};

/*
 * Open dm and fmem. On failure logs "cannot open Xen device model
 * interface: <reason>" (or the foreign memory equivalent) and returns -errno.
 */
int xen_handles_open(struct xen_handles *xh);
void xen_handles_close(struct xen_handles *xh); /* NULL-tolerant, idempotent */

#endif
