/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Service mode: every virtio disk the toolstack puts under this domain's
 * backend/virtio_disk (Xen 4.17) or backend/virtio (Xen 4.18) directory
 * is served, for any number of guests, in this one process. On each batch
 * of xenstore events the service reconciles (as Xen's 9pfsd does): every
 * device directory seen in the scan is stamped with the scan's generation;
 * a new one (online 1, state 1) is parsed strictly, served and answered
 * with state 2 (libxl waits for exactly 2, then keeps it); one closing
 * (online 0, state 5), of a dead guest, or no longer stamped (removed) is
 * torn down and answered with state 6 while its directory exists. A
 * refused device gets state 6 and a logged reason; nothing else changes.
 * One IOREQ server per guest, created with its first disk, destroyed with
 * its last.
 *
 * Static disks (the configuration file's [disk:] sections with base and
 * irq, of any number of guests) are served while their guest exists: on
 * each reconcile (also after @introduceDomain) the guest, by domid or by
 * name (/local/domain/<id>/name, looked up again each time: a rebooted
 * guest has a new domid), is looked up; a static disk follows it, and is
 * torn down when it dies. A window or IRQ already used by another disk of
 * the guest refuses the later one (logged), whichever kind either is.
 */
#ifndef XVB_SERVICE_H
#define XVB_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "disk/disk.h"
#include "loop.h"
#include "xen/xen_handles.h"

struct service;

/*
 * Where the image of a backend/virtio device comes from (the toolstack
 * gives none): fill cfg->path (and optionally read_only, serial,
 * mmio_version, cache) for guest domid (named name, may be NULL) and
 * devid; -ENOENT when not configured.
 */
typedef int service_image_fn(void *ctx, uint16_t domid, const char *name, uint32_t devid,
			     struct disk_config *cfg);

/* A static disk: the caller's strings are copied (service_create, service_set_options). */
struct service_static {
	const char *id;     /* unique among the statics, names it in messages ("disk:foo") */
	bool has_domid;
	uint16_t domid;     /* when has_domid */
	const char *guest;  /* the guest's name otherwise */
	struct disk_config disk; /* disk.spec is not used */
};

struct service_options {
	enum disk_cache_mode cache;
	uint32_t queues, threads; /* for xl's disks, as --disk queues= threads=; 0: unset */
	/* x86 guests (libxl writes base 0, irq 0): the window and ISA IRQ to use. */
	bool x86;
	uint64_t x86_base;
	uint32_t x86_irq;
	service_image_fn *virtio_image; /* NULL: backend/virtio devices are refused */
	void *image_ctx;
	const struct service_static *statics; /* n_statics static disks */
	unsigned n_statics;
	/* Called after every reconcile (e.g. to report the counts to systemd); may be NULL. */
	void (*reconciled)(void *ctx);
	void *reconciled_ctx;
};

/* Connect to xenstore and start watching; the first reconcile follows from the loop. */
int service_create(struct loop *loop, struct xen_handles *xh, const struct service_options *o,
		   struct service **out);
/*
 * New options (SIGHUP); apply to xenstore devices that appear from now on.
 * Static disks are compared by value: gone or changed ones are torn down,
 * new or changed ones served if their guest exists, unchanged ones left
 * alone (one that failed is retried). Logs the counts.
 */
void service_set_options(struct service *svc, const struct service_options *o);
/* What is served now: guests with an IOREQ server, disks in state 2 and static disks. */
void service_counts(const struct service *svc, unsigned *guests, unsigned *disks);
/* Tear every disk down (state 6 where the directory exists). NULL-tolerant. */
void service_destroy(struct service *svc);

/*
 * The singleton lock (flock on path, default SERVICE_LOCK_PATH, or
 * $XVB_LOCK_PATH): returns the fd to keep open, -EBUSY when another
 * service instance holds it, or -errno. Logs either way.
 */
#define SERVICE_LOCK_PATH "/run/xen-virtio-blkd.lock"
int service_lock(void);

#endif
