/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Service mode: xenstore discovery mapped onto guests and their disks.
 * See service.h for the reconcile rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "compiler.h"
#include "guest.h"
#include "guest_limits.h"
#include "log.h"
#include "service.h"
#include "xen/store.h"

/* "dom32751/" + vdev (or devid) + NUL */
#define SVC_NAME_MAX (16u + DISK_VDEV_NAME_MAX + 1u)

struct svc_guest {
	uint16_t domid;
	struct guest *g;
	struct svc_guest *next;
};

enum svc_disk_state {
	SVC_SERVING, /* state 2 written; served */
	SVC_REFUSED, /* bad values or setup failed; state 6 written */
	SVC_CLOSED,  /* torn down; state 6 written; waits for the directory to go */
};

/* One device directory backend/<kind>/<domid>/<devid> the service knows of. */
struct svc_disk {
	enum store_kind kind;
	uint16_t domid;
	uint32_t devid;
	enum svc_disk_state state;
	uint64_t seen; /* generation of the last scan that found the directory */
	char name[SVC_NAME_MAX];
	uint64_t base; /* SERVING only: the window and IRQ in use */
	uint32_t irq;
	struct svc_guest *guest; /* SERVING only */
	struct served_disk *sd;  /* SERVING only */
	struct svc_disk *next;
};

struct service {
	struct loop *loop;
	struct xen_handles *xh;
	struct store *store;
	struct service_options opts;
	uint64_t generation;
	struct svc_guest *guests;
	struct svc_disk *disks;
};

static struct svc_disk *find_disk(struct service *svc, enum store_kind kind, uint16_t domid,
				  uint32_t devid)
{
	for (struct svc_disk *d = svc->disks; d; d = d->next)
		if (d->kind == kind && d->domid == domid && d->devid == devid)
			return d;
	return NULL;
}

static struct svc_guest *find_guest(struct service *svc, uint16_t domid)
{
	for (struct svc_guest *sg = svc->guests; sg; sg = sg->next)
		if (sg->domid == domid)
			return sg;
	return NULL;
}

static void drop_guest(struct service *svc, struct svc_guest *sg)
{
	for (struct svc_guest **p = &svc->guests; *p; p = &(*p)->next) {
		if (*p == sg) {
			*p = sg->next;
			break;
		}
	}
	log_info(guest_name(sg->g), "no disk left: IOREQ server destroyed");
	guest_destroy(sg->g);
	free(sg);
}

static void set_state(struct service *svc, const struct svc_disk *d, unsigned state)
{
	int rc = store_set_state(svc->store, d->kind, d->domid, d->devid, state);

	if (rc == -ENOENT)
		log_debug(d->name, "directory gone: state %u not written", state);
}

/* Stop serving d (if it is served); state 6 while the directory exists. */
static void svc_disk_close(struct service *svc, struct svc_disk *d, const char *why, bool write)
{
	if (d->state == SVC_SERVING) {
		struct svc_guest *sg = d->guest;

		log_info(d->name, "closing: %s", why);
		guest_remove_disk(sg->g, d->sd);
		d->sd = NULL;
		d->guest = NULL;
		if (guest_disk_count(sg->g) == 0)
			drop_guest(svc, sg);
	}
	if (write && d->state != SVC_CLOSED && d->state != SVC_REFUSED)
		set_state(svc, d, STORE_STATE_CLOSED);
	if (d->state == SVC_SERVING)
		d->state = SVC_CLOSED;
}

static void svc_disk_free(struct service *svc, struct svc_disk *d)
{
	for (struct svc_disk **p = &svc->disks; *p; p = &(*p)->next) {
		if (*p == d) {
			*p = d->next;
			break;
		}
	}
	free(d);
}

static void refuse(struct service *svc, struct svc_disk *d, const char *why)
{
	log_err(d->name, "refused backend/%s/%u/%" PRIu32 ": %s", store_kind_dir[d->kind],
		d->domid, d->devid, why);
	d->state = SVC_REFUSED;
	set_state(svc, d, STORE_STATE_CLOSED);
}

/*
 * Another served disk of the same guest already uses this IRQ or window
 * (windows are aligned and of one size: overlapping means equal).
 */
static int check_conflict(struct service *svc, const struct svc_disk *d,
			  const struct disk_config *cfg, char *why, size_t len)
{
	for (const struct svc_disk *o = svc->disks; o; o = o->next) {
		if (o == d || o->state != SVC_SERVING || o->domid != d->domid)
			continue;
		if (o->base == cfg->base) {
			snprintf(why, len, "base: 0x%" PRIx64 " is already %s's window", cfg->base,
				 o->name);
			return -EEXIST;
		}
		if (o->irq == cfg->irq) {
			snprintf(why, len, "irq: %u is already used by %s", cfg->irq, o->name);
			return -EEXIST;
		}
	}
	return 0;
}

/* The disk's settings: from the toolstack's nodes, or the config for backend/virtio. */
static int disk_config_of(struct service *svc, const struct store_device *dev,
			  struct disk_config *cfg, char *why, size_t len)
{
	*cfg = (struct disk_config){
		.path = dev->params,
		.base = dev->base,
		.irq = dev->irq,
		.read_only = dev->read_only,
		.mmio_version = 2,
		.cache = svc->opts.cache,
	};
	snprintf(cfg->vdev, sizeof(cfg->vdev), "%s", dev->vdev);
	if (dev->kind == STORE_VIRTIO_DISK)
		return 0;
	if (!svc->opts.virtio_image ||
	    svc->opts.virtio_image(svc->opts.image_ctx, dev->domid, NULL, dev->devid, cfg) < 0) {
		snprintf(why, len,
			 "no image configured for dom%u devid %" PRIu32
			 " (backend/virtio gives none: add a [disk:NAME] section with domid and devid)",
			 dev->domid, dev->devid);
		return -ENOENT;
	}
	/* The toolstack's window and IRQ win over the file's. */
	cfg->base = dev->base;
	cfg->irq = dev->irq;
	return 0;
}

static int guest_for(struct service *svc, uint16_t domid, struct svc_guest **out)
{
	struct svc_guest *sg = find_guest(svc, domid);
	int rc;

	if (sg) {
		*out = sg;
		return 0;
	}
	sg = calloc(1, sizeof(*sg));
	if (!sg)
		return -ENOMEM;
	sg->domid = domid;
	rc = guest_create(domid, svc->xh, svc->loop, &sg->g);
	if (rc < 0) {
		free(sg);
		return rc;
	}
	sg->next = svc->guests;
	svc->guests = sg;
	*out = sg;
	return 0;
}

/* A new device directory (online 1, state 1): serve it or refuse it. */
static void svc_disk_open(struct service *svc, struct svc_disk *d, const char *fe, const char *devid)
{
	struct store_policy pol = {
		.self_domid = store_self_domid(svc->store),
		.x86 = svc->opts.x86,
		.x86_base = svc->opts.x86_base,
		.x86_irq = svc->opts.x86_irq,
	};
	struct store_nodes_buf nodes;
	struct store_device dev;
	struct disk_config cfg;
	struct svc_guest *sg;
	char why[256];
	int rc;

	rc = store_read_device(svc->store, d->kind, fe, devid, &nodes);
	if (rc == -EPERM) {
		/* Not the toolstack's: never trust it, never write into it. */
		log_err(d->name, "ignored backend/%s/%s/%s: not owned by dom%u",
			store_kind_dir[d->kind], fe, devid, pol.self_domid);
		d->state = SVC_REFUSED;
		return;
	}
	if (rc < 0) {
		refuse(svc, d, "cannot read the device's nodes");
		return;
	}
	if (!store_nodes_new(&nodes.n)) {
		/* Changed since the scan: the next event brings it back. */
		store_nodes_free(&nodes);
		svc_disk_free(svc, d);
		return;
	}
	if (nodes.n.dev && strlen(nodes.n.dev) <= DISK_VDEV_NAME_MAX &&
	    strspn(nodes.n.dev, "abcdefghijklmnopqrstuvwxyz0123456789") == strlen(nodes.n.dev) &&
	    nodes.n.dev[0])
		snprintf(d->name, sizeof(d->name), "dom%u/%s", d->domid, nodes.n.dev);
	rc = store_parse_device(d->kind, fe, devid, &nodes.n, &pol, &dev, why, sizeof(why));
	if (rc == 0)
		rc = disk_config_of(svc, &dev, &cfg, why, sizeof(why));
	if (rc == 0)
		rc = check_conflict(svc, d, &cfg, why, sizeof(why));
	if (rc < 0) {
		store_nodes_free(&nodes);
		refuse(svc, d, why);
		return;
	}
	snprintf(d->name, sizeof(d->name), "dom%u/%s", d->domid, cfg.vdev);
	if (!store_domain_alive(svc->store, d->domid)) {
		store_nodes_free(&nodes);
		refuse(svc, d, "the guest domain does not exist");
		return;
	}
	rc = guest_for(svc, d->domid, &sg);
	if (rc == 0) {
		rc = guest_add_disk(sg->g, &cfg, &d->sd);
		if (rc < 0 && guest_disk_count(sg->g) == 0)
			drop_guest(svc, sg);
	}
	store_nodes_free(&nodes); /* cfg.path pointed into it: copied by guest_add_disk */
	if (rc < 0) {
		snprintf(why, sizeof(why), "cannot serve it: %s", strerror(-rc));
		refuse(svc, d, why);
		return;
	}
	d->guest = sg;
	d->base = cfg.base;
	d->irq = cfg.irq;
	d->state = SVC_SERVING;
	/* libxl waits for exactly InitWait, and wants it kept (§5.2). */
	set_state(svc, d, STORE_STATE_INITWAIT);
}

struct scan_ctx {
	struct service *svc;
};

static void visit(void *ctx, enum store_kind kind, const char *fe, const char *devid,
		  const struct store_nodes *n)
{
	struct service *svc = ((struct scan_ctx *)ctx)->svc;
	struct store_policy pol = { .self_domid = store_self_domid(svc->store) };
	struct svc_disk *d;
	uint16_t domid;
	uint32_t id;
	char why[160];

	if (store_parse_ids(fe, devid, &pol, &domid, &id, why, sizeof(why)) < 0) {
		log_debug(NULL, "xenstore: skipping backend/%s/%s/%s: %s", store_kind_dir[kind],
			  fe, devid, why);
		return;
	}
	d = find_disk(svc, kind, domid, id);
	if (d) {
		d->seen = svc->generation;
		if (d->state == SVC_SERVING) {
			if (store_nodes_closing(n))
				svc_disk_close(svc, d, "the toolstack closed it (online/state)", true);
			return;
		}
		/* Refused or closed: only a fresh request (state 1 again) is looked at. */
		if (!store_nodes_new(n))
			return;
		svc_disk_free(svc, d);
	}
	if (!store_nodes_new(n))
		return;
	d = calloc(1, sizeof(*d));
	if (!d) {
		log_err(NULL, "out of memory");
		return;
	}
	*d = (struct svc_disk){ .kind = kind, .domid = domid, .devid = id,
				.seen = svc->generation, .state = SVC_REFUSED };
	snprintf(d->name, sizeof(d->name), "dom%u/%" PRIu32, domid, id % 100000000u);
	d->next = svc->disks;
	svc->disks = d;
	svc_disk_open(svc, d, fe, devid);
}

/* Run on every batch of xenstore events (and once at start). */
static void reconcile(void *ctx)
{
	struct service *svc = ctx;
	struct scan_ctx sc = { .svc = svc };
	bool scan_failed = false;
	struct svc_disk *d, *next;

	svc->generation++;
	/* Dead guests first (@releaseDomain): their disks go even if the nodes stay. */
	for (struct svc_guest *sg = svc->guests, *sg_next; sg; sg = sg_next) {
		sg_next = sg->next;
		if (store_domain_alive(svc->store, sg->domid))
			continue;
		log_info(guest_name(sg->g), "domain gone: tearing its disks down");
		for (d = svc->disks; d; d = d->next)
			if (d->state == SVC_SERVING && d->guest == sg)
				svc_disk_close(svc, d, "the guest died", true);
	}
	for (unsigned k = 0; k < STORE_KINDS; k++)
		if (store_scan(svc->store, (enum store_kind)k, visit, &sc) < 0)
			scan_failed = true;
	/* A failed listing proves nothing is gone. */
	for (d = svc->disks; d && !scan_failed; d = next) {
		next = d->next;
		if (d->seen == svc->generation)
			continue;
		svc_disk_close(svc, d, "its xenstore directory was removed", false);
		svc_disk_free(svc, d);
	}
	if (svc->opts.reconciled)
		svc->opts.reconciled(svc->opts.reconciled_ctx);
}

void service_counts(const struct service *svc, unsigned *guests, unsigned *disks)
{
	*guests = 0;
	*disks = 0;
	for (const struct svc_guest *sg = svc->guests; sg; sg = sg->next)
		(*guests)++;
	for (const struct svc_disk *d = svc->disks; d; d = d->next)
		if (d->state == SVC_SERVING)
			(*disks)++;
}

int service_create(struct loop *loop, struct xen_handles *xh, const struct service_options *o,
		   struct service **out)
{
	struct service *svc;
	int rc;

	*out = NULL;
	svc = calloc(1, sizeof(*svc));
	if (!svc) {
		log_err(NULL, "out of memory");
		return -ENOMEM;
	}
	svc->loop = loop;
	svc->xh = xh;
	svc->opts = *o;
	rc = store_open(loop, reconcile, svc, &svc->store);
	if (rc < 0) {
		free(svc);
		return rc;
	}
	*out = svc;
	return 0;
}

void service_set_options(struct service *svc, const struct service_options *o)
{
	svc->opts = *o;
}

void service_destroy(struct service *svc)
{
	if (!svc)
		return;
	while (svc->disks) {
		struct svc_disk *d = svc->disks;

		svc_disk_close(svc, d, "the daemon is stopping", true);
		svc_disk_free(svc, d);
	}
	store_close(svc->store);
	free(svc);
}

int service_lock(void)
{
	const char *path = getenv("XVB_LOCK_PATH");
	int fd, rc;

	if (!path || !path[0])
		path = SERVICE_LOCK_PATH;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = -errno;
		log_err(NULL, "cannot open the lock file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (rc == -EBUSY)
			log_err(NULL, "another xen-virtio-blkd service already runs (it holds %s)",
				path);
		else
			log_err(NULL, "cannot lock %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

