/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A served guest: one IOREQ server, one guest-memory cache and its disks.
 * A served disk joins a disk backend, a virtio-blk device, its virtio-mmio
 * register window and IRQ line, and the loop hooks that drive them.
 *
 * Per-guest launch (fixed disks): guest_open() opens the images before
 * any Xen handle exists (a typo fails fast), then guest_start() sets up
 * the Xen side and enables the IOREQ server.
 *
 * Service mode (disks come and go): guest_create() makes the server and
 * memory cache; guest_add_disk() opens, starts and claims one disk (the
 * server is enabled with its first window: Xen allows adding and removing
 * windows on an enabled server); guest_remove_disk() drains and drops one.
 *
 * guest_destroy() undoes whatever was done, in any state.
 */
#ifndef XVB_GUEST_H
#define XVB_GUEST_H

#include <stdint.h>

#include "cli.h"
#include "loop.h"
#include "xen/xen_handles.h"

struct guest;
struct served_disk;

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

/* Service mode: a guest with a (not yet enabled) IOREQ server and no disk. Logs. */
int guest_create(uint16_t domid, struct xen_handles *xh, struct loop *loop, struct guest **out);
/*
 * Open cfg's image, create its device, claim its window, enable the
 * server if this is the first window. On failure nothing of the disk
 * remains (logged, prefixed "dom<N>/<vdev>"). cfg->spec is not used.
 */
int guest_add_disk(struct guest *g, const struct disk_config *cfg, struct served_disk **out);
/* Drop the window, reset the device (draining its I/O), close the image. */
void guest_remove_disk(struct guest *g, struct served_disk *sd);
unsigned guest_disk_count(const struct guest *g);
/* The served disk named vdev ("xvda"), or NULL. */
struct served_disk *guest_find_disk(const struct guest *g, const char *vdev);

/*
 * Stop every device (draining its I/O), drop the windows and the IOREQ
 * server, unmap guest memory, close the images. NULL-tolerant.
 */
void guest_destroy(struct guest *g);

const char *guest_name(const struct guest *g); /* "dom5" */

#endif
