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

/* A static disk of the configuration file, and the guest it is served to. */
struct svc_static {
	struct service_static want; /* owned copies: id, guest, disk.path (= disk.spec) */
	char *id, *guest;
	bool serving; /* to dom<domid> */
	bool failed;  /* serving it to dom<domid> failed: not retried for that domain */
	uint16_t domid;
	char name[SVC_NAME_MAX]; /* "dom5/xvda" */
	struct svc_guest *sg;    /* serving only */
	struct served_disk *sd;  /* serving only */
	struct svc_static *next;
};

struct service {
	struct loop *loop;
	struct xen_handles *xh;
	struct store *store;
	struct service_options opts; /* statics: NULL (copied into the list below) */
	uint64_t generation;
	struct svc_guest *guests;
	struct svc_disk *disks;
	struct svc_static *statics;
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

static int conflict(const char *other, uint64_t base, uint32_t irq, uint64_t o_base,
		    uint32_t o_irq, char *why, size_t len)
{
	if (o_base == base) {
		snprintf(why, len, "base: 0x%" PRIx64 " is already %s's window", base, other);
		return -EEXIST;
	}
	if (o_irq == irq) {
		snprintf(why, len, "irq: %u is already used by %s", irq, other);
		return -EEXIST;
	}
	return 0;
}

/*
 * Another served disk of dom<domid>, from xenstore or static, already uses
 * this IRQ or window (windows are aligned and of one size: overlapping
 * means equal). self (the disk asking) is skipped.
 */
static int check_conflict(struct service *svc, uint16_t domid, const void *self,
			  const struct disk_config *cfg, char *why, size_t len)
{
	int rc;

	for (const struct svc_disk *o = svc->disks; o; o = o->next) {
		if ((const void *)o == self || o->state != SVC_SERVING || o->domid != domid)
			continue;
		rc = conflict(o->name, cfg->base, cfg->irq, o->base, o->irq, why, len);
		if (rc < 0)
			return rc;
	}
	for (const struct svc_static *o = svc->statics; o; o = o->next) {
		if ((const void *)o == self || !o->serving || o->domid != domid)
			continue;
		rc = conflict(o->name, cfg->base, cfg->irq, o->want.disk.base, o->want.disk.irq,
			      why, len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The disk's settings: from the toolstack's nodes, or the config for backend/virtio. */
static int disk_config_of(struct service *svc, const struct store_device *dev,
			  struct disk_config *cfg, char *why, size_t len)
{
	char guest[STORE_NAME_MAX];

	*cfg = (struct disk_config){
		.path = dev->params,
		.base = dev->base,
		.irq = dev->irq,
		.read_only = dev->read_only,
		.mmio_version = 2,
		.cache = svc->opts.cache,
		.queues = svc->opts.queues,
		.threads = svc->opts.threads,
	};
	snprintf(cfg->vdev, sizeof(cfg->vdev), "%s", dev->vdev);
	if (dev->kind == STORE_VIRTIO_DISK)
		return 0;
	/* Sections may name the guest rather than its domid. */
	if (store_domain_name(svc->store, dev->domid, guest) < 0)
		guest[0] = '\0';
	if (!svc->opts.virtio_image ||
	    svc->opts.virtio_image(svc->opts.image_ctx, dev->domid, guest[0] ? guest : NULL,
				   dev->devid, cfg) < 0) {
		snprintf(why, len,
			 "no image configured for dom%u%s%s%s devid %" PRIu32
			 " (backend/virtio gives none: add a [disk:NAME] section with domid or "
			 "guest, and devid)",
			 dev->domid, guest[0] ? " (" : "", guest, guest[0] ? ")" : "", dev->devid);
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
		rc = check_conflict(svc, d->domid, d, &cfg, why, sizeof(why));
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

/* ---------------------------------------------------------------- static disks */

static void static_free(struct svc_static *st)
{
	if (!st)
		return;
	free(st->id);
	free(st->guest);
	free(st->want.disk.spec);
	free(st);
}

/* An owned copy of in; NULL when out of memory. */
static struct svc_static *static_copy(const struct service_static *in)
{
	struct svc_static *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->want = *in;
	st->id = strdup(in->id);
	st->guest = in->has_domid ? NULL : strdup(in->guest);
	st->want.disk.spec = strdup(in->disk.path);
	if (!st->id || (!in->has_domid && !st->guest) || !st->want.disk.spec) {
		static_free(st);
		return NULL;
	}
	st->want.id = st->id;
	st->want.guest = st->guest;
	st->want.disk.path = st->want.disk.spec;
	return st;
}

static bool static_equal(const struct service_static *a, const struct service_static *b)
{
	const struct disk_config *x = &a->disk, *y = &b->disk;

	if (strcmp(a->id, b->id) != 0 || a->has_domid != b->has_domid)
		return false;
	if (a->has_domid ? a->domid != b->domid : strcmp(a->guest, b->guest) != 0)
		return false;
	return strcmp(x->path, y->path) == 0 && x->base == y->base && x->irq == y->irq &&
	       x->read_only == y->read_only && strcmp(x->serial, y->serial) == 0 &&
	       strcmp(x->vdev, y->vdev) == 0 && x->mmio_version == y->mmio_version &&
	       x->cache == y->cache && x->queues == y->queues && x->threads == y->threads;
}

static void static_close(struct service *svc, struct svc_static *st, const char *why)
{
	struct svc_guest *sg = st->sg;

	if (!st->serving)
		return;
	log_info(st->name, "closing [%s]: %s", st->id, why);
	guest_remove_disk(sg->g, st->sd);
	st->sd = NULL;
	st->sg = NULL;
	st->serving = false;
	if (guest_disk_count(sg->g) == 0)
		drop_guest(svc, sg);
}

/* Serve st to dom<domid>; on failure it is not retried for that domain (logged). */
static void static_open(struct service *svc, struct svc_static *st, uint16_t domid)
{
	struct svc_guest *sg = NULL;
	char why[256];
	int rc;

	st->domid = domid;
	snprintf(st->name, sizeof(st->name), "dom%u/%s", domid, st->want.disk.vdev);
	rc = check_conflict(svc, domid, st, &st->want.disk, why, sizeof(why));
	if (rc == 0) {
		rc = guest_for(svc, domid, &sg);
		if (rc == 0) {
			rc = guest_add_disk(sg->g, &st->want.disk, &st->sd);
			if (rc < 0 && guest_disk_count(sg->g) == 0)
				drop_guest(svc, sg);
		}
		if (rc < 0)
			snprintf(why, sizeof(why), "cannot serve it: %s", strerror(-rc));
	}
	if (rc < 0) {
		log_err(st->name, "[%s] not served: %s", st->id, why);
		st->failed = true;
		return;
	}
	st->sg = sg;
	st->serving = true;
	if (st->want.has_domid)
		log_info(st->name, "serving [%s]", st->id);
	else
		log_info(st->name, "serving [%s] to guest %s", st->id, st->guest);
}

/* The live domain st is for, by domid or by name (unique among doms); 0 if none. */
static uint16_t static_target(struct service *svc, const struct svc_static *st,
			      const struct store_domain *doms, unsigned n_doms)
{
	uint16_t domid = 0;

	if (st->want.has_domid) {
		domid = st->want.domid;
	} else {
		for (unsigned i = 0; i < n_doms; i++) {
			if (strcmp(doms[i].name, st->guest) != 0)
				continue;
			if (domid) {
				log_debug(NULL, "[%s]: guest name %s is both dom%u and dom%u",
					  st->id, st->guest, domid, doms[i].domid);
				return 0;
			}
			domid = doms[i].domid;
		}
	}
	if (!domid || domid == store_self_domid(svc->store) ||
	    !store_domain_alive(svc->store, domid))
		return 0;
	return domid;
}

/* Each static disk follows its guest: served while it exists, torn down when it goes. */
static void reconcile_statics(struct service *svc)
{
	struct store_domain *doms = NULL;
	unsigned n_doms = 0;
	bool by_name = false, names_ok = true;

	for (struct svc_static *st = svc->statics; st; st = st->next)
		by_name = by_name || !st->want.has_domid;
	if (by_name && store_domains(svc->store, &doms, &n_doms) < 0)
		names_ok = false;
	for (struct svc_static *st = svc->statics; st; st = st->next) {
		uint16_t target;
		char why[64];

		/* A failed listing proves nothing about names; a death is still one. */
		if (!st->want.has_domid && !names_ok) {
			if (st->serving && !store_domain_alive(svc->store, st->domid))
				static_close(svc, st, "the guest is gone");
			continue;
		}
		target = static_target(svc, st, doms, n_doms);
		if (st->serving && target != st->domid) {
			if (target)
				snprintf(why, sizeof(why), "guest %s is now dom%u", st->guest,
					 target);
			else
				snprintf(why, sizeof(why), "the guest is gone");
			static_close(svc, st, why);
		}
		if (st->failed && target != st->domid)
			st->failed = false;
		if (target && !st->serving && !st->failed)
			static_open(svc, st, target);
	}
	free(doms);
}

/*
 * Make the list match statics[0..n): gone or changed ones closed and
 * freed, new ones added (not yet served), unchanged ones kept (a failed
 * one is retried). The caller reconciles.
 */
static void statics_update(struct service *svc, const struct service_static *statics, unsigned n,
			   unsigned *added, unsigned *removed, unsigned *kept)
{
	struct svc_static **tail;

	*added = *removed = *kept = 0;
	for (struct svc_static **p = &svc->statics; *p;) {
		struct svc_static *st = *p;
		bool found = false;

		for (unsigned i = 0; i < n && !found; i++)
			found = static_equal(&st->want, &statics[i]);
		if (found) {
			st->failed = false;
			p = &st->next;
			continue;
		}
		static_close(svc, st, "its section was removed or changed");
		*p = st->next;
		static_free(st);
		(*removed)++;
	}
	for (tail = &svc->statics; *tail; tail = &(*tail)->next)
		;
	for (unsigned i = 0; i < n; i++) {
		struct svc_static *st;
		bool found = false;

		for (st = svc->statics; st && !found; st = st->next)
			found = static_equal(&st->want, &statics[i]);
		if (found) {
			(*kept)++;
			continue;
		}
		st = static_copy(&statics[i]);
		if (!st) {
			log_err(NULL, "[%s]: out of memory", statics[i].id);
			continue;
		}
		*tail = st;
		tail = &st->next;
		(*added)++;
	}
}

/* ---------------------------------------------------------------- xenstore devices */

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
	/* Before the scan: a static disk keeps its window against a later xenstore one. */
	reconcile_statics(svc);
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
	for (const struct svc_static *st = svc->statics; st; st = st->next)
		if (st->serving)
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
	unsigned added, removed, kept;

	svc->loop = loop;
	svc->xh = xh;
	svc->opts = *o;
	svc->opts.statics = NULL;
	svc->opts.n_statics = 0;
	/* Served from the first reconcile on, which the loop runs. */
	statics_update(svc, o->statics, o->n_statics, &added, &removed, &kept);
	rc = store_open(loop, reconcile, svc, &svc->store);
	if (rc < 0) {
		service_destroy(svc);
		return rc;
	}
	*out = svc;
	return 0;
}

void service_set_options(struct service *svc, const struct service_options *o)
{
	unsigned added, removed, kept;

	svc->opts = *o;
	svc->opts.statics = NULL;
	svc->opts.n_statics = 0;
	statics_update(svc, o->statics, o->n_statics, &added, &removed, &kept);
	reconcile_statics(svc);
	log_info(NULL, "SIGHUP: static disks: %u added, %u removed, %u unchanged", added, removed,
		 kept);
}

void service_destroy(struct service *svc)
{
	if (!svc)
		return;
	while (svc->statics) {
		struct svc_static *st = svc->statics;

		static_close(svc, st, "the daemon is stopping");
		svc->statics = st->next;
		static_free(st);
	}
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

