/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A served guest: one IOREQ server, one guest-memory cache and its disks.
 * A served disk joins a disk backend, a virtio-blk device, its virtio-mmio
 * register window and IRQ line, and the loop hooks that drive them.
 *
 * Two steps, so disk images can be opened (and their errors reported)
 * before any Xen handle exists: guest_open() opens the images, then
 * guest_start() sets up the Xen side and enables the IOREQ server.
 * guest_destroy() undoes whatever was done, in either state.
 */
#ifndef XVB_GUEST_H
#define XVB_GUEST_H

#include <stdint.h>

#include "cli.h"
#include "loop.h"
#include "xen/xen_handles.h"

struct guest;

/* Allocate the guest and open every disk image. Logs what failed. */
int guest_open(uint16_t domid, const struct disk_config *disks, unsigned n_disks,
	       struct guest **out);

/*
 * Create the IOREQ server and guest-memory cache, one device per disk,
 * claim the windows, watch the disks, enable the server. Logs one
 * "serving" line per disk and "dom<N>: ready: ..." on success; logs what
 * failed otherwise (guest_destroy() cleans up either way).
 */
int guest_start(struct guest *g, struct xen_handles *xh, struct loop *loop);

/*
 * Stop every device (draining its I/O), drop the windows and the IOREQ
 * server, unmap guest memory, close the images. NULL-tolerant.
 */
void guest_destroy(struct guest *g);

const char *guest_name(const struct guest *g); /* "dom5" */

#endif
