/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Glue between the layers for one guest: the virtio_host implementation
 * (guest memory, IRQ line, deferred queue processing), the MMIO window
 * handlers, the disk completion watch, and the order in which all of it
 * is set up and torn down. See guest.h. Each served disk is a separate
 * allocation: the virtio core and the IOREQ layer hold pointers to it while
 * other disks of the same guest come and go.
 *
 * A disk with queue threads (queues=N / threads=T, served_queues.c): the
 * main loop keeps the register file and forwards kicked queues to their
 * threads after the ioreq is answered; a reset or a teardown first drains
 * the threads (host quiesce, served_queues_drain), and they stop after
 * the device is gone.
 */
#include <pthread.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "compiler.h"
#include "disk/disk.h"
#include "guest.h"
#include "guest_limits.h"
#include "log.h"
#include "served_queues.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "xen/guestmem.h"
#include "xen/ioreq.h"
#include "xen/irq.h"

/* "dom32751/" + vdev + NUL */
#define SERVED_DISK_NAME_MAX (16u + DISK_VDEV_NAME_MAX + 1u)

struct served_disk {
	struct guest *guest;
	struct disk_config cfg; /* cfg.path points to path below; cfg.spec is NULL */
	char *path;
	char name[SERVED_DISK_NAME_MAX]; /* "dom5/xvda" */
	struct disk *disk;
	struct virtio_blk *blk;
	struct virtio_host host;
	struct virtio_mmio mmio;
	struct irq_line irq;
	pthread_mutex_t irq_lock;      /* with queue threads: they raise, the main loop lowers */
	struct loop_watch disk_watch;  /* the disk's event_fd: completions */
	struct loop_deferred process;  /* queue processing after a kick */
	struct served_queues *queues;  /* queue threads, or NULL: the main loop serves */
	bool window_added;
};

struct guest {
	uint16_t domid;
	char name[16]; /* "dom5" */
	struct loop *loop;
	struct xen_handles *xh;
	struct ioreq_server *ioreq;
	struct guestmem *mem;
	uint32_t mem_generation; /* atomic: bumped on invalidation, for queue threads' caches */
	bool enabled; /* the IOREQ server: enabled once, with its first window */
	unsigned n_disks;
	struct served_disk *disks[DISKS_PER_GUEST_MAX];
};

const char *guest_name(const struct guest *g)
{
	return g->name;
}

unsigned guest_disk_count(const struct guest *g)
{
	return g->n_disks;
}

struct served_disk *guest_find_disk(const struct guest *g, const char *vdev)
{
	for (unsigned i = 0; i < g->n_disks; i++)
		if (strcmp(g->disks[i]->cfg.vdev, vdev) == 0)
			return g->disks[i];
	return NULL;
}

/* virtio_host: what the virtio core may ask of us (see virtio_host.h). */

static int host_map(void *ctx, uint64_t gpa, uint64_t len, unsigned flags, struct guest_span *out)
{
	struct served_disk *sd = ctx;

	return guestmem_map(sd->guest->mem, gpa, len, flags, out);
}

static void host_unmap(void *ctx, void *token)
{
	struct served_disk *sd = ctx;

	guestmem_unmap(sd->guest->mem, token);
}

/*
 * Queue threads raise the line while the main loop lowers it: one disk's
 * calls are serialised (irq_line keeps the level). The lock is the disk's
 * own, so no disk, and no guest, waits for another's hypercall. Disks
 * without queue threads need none.
 */
static void host_set_irq(void *ctx, bool level)
{
	struct served_disk *sd = ctx;

	if (likely(!sd->queues)) {
		irq_line_set(&sd->irq, level);
		return;
	}
	pthread_mutex_lock(&sd->irq_lock);
	irq_line_set(&sd->irq, level);
	pthread_mutex_unlock(&sd->irq_lock);
}

/* Deferred, so the QUEUE_NOTIFY ioreq is answered before any disk work. */
static void host_schedule(void *ctx)
{
	struct served_disk *sd = ctx;

	loop_defer(sd->guest->loop, &sd->process);
}

/* Before a device reset: the queue threads drop their I/O and go idle. */
static void host_quiesce(void *ctx)
{
	struct served_disk *sd = ctx;

	if (sd->queues)
		served_queues_drain(sd->queues, false);
}

static const struct virtio_host_ops served_disk_host_ops = {
	.map = host_map,
	.unmap = host_unmap,
	.set_irq = host_set_irq,
	.schedule = host_schedule,
	.quiesce = host_quiesce,
};

static void served_disk_process(struct loop_deferred *d)
{
	struct served_disk *sd = container_of(d, struct served_disk, process);

	if (sd->queues)
		served_queues_kick(sd->queues, virtio_dev_take_kicks(virtio_blk_dev(sd->blk)));
	else
		virtio_dev_process(virtio_blk_dev(sd->blk));
}

static void served_disk_completions(struct loop_watch *w, uint32_t events UNUSED)
{
	struct served_disk *sd = container_of(w, struct served_disk, disk_watch);

	virtio_blk_disk_event(sd->blk);
}

/*
 * MMIO window handlers. Xen forwards only accesses wholly inside a
 * registered range, and the ioreq layer has validated the size; the bound
 * check here keeps virtio_mmio's precondition true whatever arrives.
 */
static bool window_access_ok(uint64_t offset, uint32_t size)
{
	return offset < VIRTIO_MMIO_WINDOW_SIZE && size <= VIRTIO_MMIO_WINDOW_SIZE - offset;
}

static uint64_t window_read(void *ctx, uint64_t offset, uint32_t size)
{
	struct served_disk *sd = ctx;

	if (!window_access_ok(offset, size))
		return 0;
	return virtio_mmio_read(&sd->mmio, (uint32_t)offset, size);
}

static void window_write(void *ctx, uint64_t offset, uint32_t size, uint64_t value)
{
	struct served_disk *sd = ctx;

	if (!window_access_ok(offset, size))
		return;
	virtio_mmio_write(&sd->mmio, (uint32_t)offset, size, value);
}

static const struct ioreq_window_ops served_disk_window_ops = {
	.read = window_read,
	.write = window_write,
};

/* IOREQ_TYPE_INVALIDATE: the guest's p2m changed; cached mappings are stale. */
static void guest_invalidate(void *ctx)
{
	struct guest *g = ctx;

	if (g->mem)
		guestmem_invalidate(g->mem);
	/* Queue threads invalidate their own caches before their next map. */
	__atomic_fetch_add(&g->mem_generation, 1, __ATOMIC_RELEASE);
}

static struct disk_params served_disk_params(const struct served_disk *sd)
{
	return (struct disk_params){
		.path = sd->path,
		.read_only = sd->cfg.read_only,
		.cache = sd->cfg.cache,
		.queue_depth = VIRTQ_MAX_INFLIGHT, /* one queue (queue threads open one each) */
	};
}

static uint16_t served_disk_queues(const struct served_disk *sd)
{
	return sd->cfg.queues ? (uint16_t)sd->cfg.queues : 1;
}

/* Queue threads (0: the main loop serves), the default spelled out in cli.h. */
static unsigned served_disk_threads(const struct served_disk *sd)
{
	if (sd->cfg.threads)
		return sd->cfg.threads;
	return served_disk_queues(sd) > 1 ? served_disk_queues(sd) : 0;
}

static int served_disk_open(struct served_disk *sd)
{
	struct disk_params params = served_disk_params(sd);
	int rc = disk_open(&params, sd->name, &sd->disk);

	if (rc < 0)
		log_err(sd->name, "cannot open %s: %s", sd->path, strerror(-rc));
	return rc;
}

/* Allocate a disk of g (not yet in g->disks) and open its image. */
static int served_disk_new(struct guest *g, const struct disk_config *cfg,
			   struct served_disk **out)
{
	struct served_disk *sd;
	int rc;

	*out = NULL;
	sd = calloc(1, sizeof(*sd));
	if (!sd) {
		log_err(g->name, "out of memory");
		return -ENOMEM;
	}
	sd->guest = g;
	pthread_mutex_init(&sd->irq_lock, NULL);
	sd->disk_watch = (struct loop_watch){ .fd = -1, .cb = served_disk_completions };
	sd->process = (struct loop_deferred){ .cb = served_disk_process };
	sd->cfg = *cfg;
	sd->cfg.spec = NULL;
	snprintf(sd->name, sizeof(sd->name), "%s/%s", g->name, sd->cfg.vdev);
	sd->path = strdup(cfg->path);
	sd->cfg.path = sd->path;
	if (!sd->path) {
		log_err(sd->name, "out of memory");
		rc = -ENOMEM;
		goto err;
	}
	rc = served_disk_open(sd);
	if (rc < 0)
		goto err;
	*out = sd;
	return 0;
err:
	free(sd->path);
	pthread_mutex_destroy(&sd->irq_lock);
	free(sd);
	return rc;
}

/* Undo served_disk_start() and served_disk_new(). The guest memory cache still exists. */
static void served_disk_free(struct served_disk *sd)
{
	struct guest *g = sd->guest;

	/* No more register accesses reach the device once its window is gone. */
	if (sd->window_added)
		ioreq_server_remove_window(g->ioreq, sd->cfg.base);
	sd->window_added = false;
	/* Queue threads answer what they have in flight, as the main loop does below. */
	if (sd->queues)
		served_queues_drain(sd->queues, true);
	/* Resets the device: in-flight I/O drained, guest mappings returned. */
	virtio_blk_destroy(sd->blk);
	sd->blk = NULL;
	/* Nothing left for the threads: they close their disks and caches. */
	served_queues_stop(sd->queues);
	sd->queues = NULL;
	if (g->loop) {
		loop_del(g->loop, &sd->disk_watch);
		loop_cancel(g->loop, &sd->process);
	}
	disk_close(sd->disk);
	free(sd->path);
	pthread_mutex_destroy(&sd->irq_lock);
	free(sd);
}

static struct guest *guest_alloc(uint16_t domid)
{
	struct guest *g = calloc(1, sizeof(*g));

	if (!g) {
		log_err(NULL, "dom%u: out of memory", domid);
		return NULL;
	}
	g->domid = domid;
	snprintf(g->name, sizeof(g->name), "dom%u", domid);
	return g;
}

int guest_open(uint16_t domid, const struct disk_config *disks, unsigned n_disks,
	       struct guest **out)
{
	struct guest *g;
	int rc;

	*out = NULL;
	if (n_disks > DISKS_PER_GUEST_MAX)
		return -EINVAL;
	g = guest_alloc(domid);
	if (!g)
		return -ENOMEM;
	/* Every image before any Xen handle: a typo fails fast and clearly. */
	for (unsigned i = 0; i < n_disks; i++) {
		rc = served_disk_new(g, &disks[i], &g->disks[i]);
		if (rc < 0)
			goto err;
		g->n_disks++;
	}
	*out = g;
	return 0;

err:
	guest_destroy(g);
	return rc;
}

static int served_disk_start(struct served_disk *sd)
{
	struct guest *g = sd->guest;
	struct xen_handles *xh = g->xh;
	struct virtio_blk_params params = {
		.read_only = sd->cfg.read_only || sd->disk->read_only,
		.num_queues = served_disk_queues(sd),
	};
	int rc;

	memcpy(params.serial, sd->cfg.serial, sizeof(params.serial));

	rc = irq_line_init(&sd->irq, xh, g->domid, sd->cfg.irq, sd->name);
	if (rc < 0) {
		log_err(sd->name, "irq %u: %s", sd->cfg.irq, strerror(-rc));
		return rc;
	}
	sd->host = (struct virtio_host){ .ops = &served_disk_host_ops, .ctx = sd };
	rc = virtio_blk_create(&params, sd->disk, sd->name, &sd->host, &sd->blk);
	if (rc < 0) {
		log_err(sd->name, "cannot create virtio-blk device: %s", strerror(-rc));
		return rc;
	}
	virtio_mmio_init(&sd->mmio, virtio_blk_dev(sd->blk), sd->cfg.mmio_version);

	rc = loop_add(g->loop, &sd->disk_watch, sd->disk->event_fd, EPOLLIN);
	if (rc < 0) {
		log_err(sd->name, "cannot watch disk completions: %s", strerror(-rc));
		return rc;
	}
	if (served_disk_threads(sd) > 0) {
		struct served_queues_params qp = {
			.name = sd->name,
			.blk = sd->blk,
			.num_queues = served_disk_queues(sd),
			.nr_threads = served_disk_threads(sd),
			.disk = served_disk_params(sd),
			.xh = xh,
			.domid = g->domid,
			.mem_generation = &g->mem_generation,
		};

		/* Before the window exists: no kick can come before the threads are there. */
		rc = served_queues_start(&qp, &sd->queues);
		if (rc < 0)
			return rc;
	}
	rc = ioreq_server_add_window(g->ioreq, sd->cfg.base, VIRTIO_MMIO_WINDOW_SIZE,
				     &served_disk_window_ops, sd);
	if (rc < 0) {
		log_err(sd->name, "cannot claim MMIO window 0x%" PRIx64 ": %s", sd->cfg.base,
			strerror(-rc));
		return rc;
	}
	sd->window_added = true;
	return 0;
}

static void served_disk_log(const struct served_disk *sd)
{
	bool ro = sd->cfg.read_only || sd->disk->read_only;

	log_info(sd->name,
		 "serving %s (%" PRIu64 " sectors of %u bytes, %s, virtio-mmio v%u) at 0x%" PRIx64
		 " irq %u",
		 sd->path, sd->disk->size >> VIRTIO_BLK_SECTOR_SHIFT, VIRTIO_BLK_SECTOR_SIZE,
		 ro ? "read-only" : "read-write", sd->cfg.mmio_version, sd->cfg.base, sd->cfg.irq);
	if (sd->queues)
		log_info(sd->name, "%u queue(s) on %u queue thread(s)", served_disk_queues(sd),
			 served_disk_threads(sd));
}

/* The IOREQ server (not enabled) and the guest-memory cache. */
static int guest_xen_setup(struct guest *g, struct xen_handles *xh, struct loop *loop)
{
	int rc;

	g->loop = loop;
	g->xh = xh;
	/* The xen/ layer logs its own failures (naming the Xen call), except below. */
	rc = ioreq_server_create(xh, loop, g->domid, g->name, guest_invalidate, g, &g->ioreq);
	if (rc < 0)
		return rc;
	rc = guestmem_create(xh, g->domid, g->name, GUESTMEM_MAX_BUCKETS, &g->mem);
	if (rc < 0 && rc != -ENOMEM)
		log_err(g->name, "cannot set up guest memory access: %s", strerror(-rc));
	return rc;
}

static unsigned guest_nr_vcpus(const struct guest *g)
{
	unsigned int nr_vcpus = 0;

	/* For the log line only: the IOREQ server already sized itself by it. */
	if (xendevicemodel_nr_vcpus(g->xh->dm, g->domid, &nr_vcpus) < 0)
		nr_vcpus = 0;
	return nr_vcpus;
}

int guest_start(struct guest *g, struct xen_handles *xh, struct loop *loop)
{
	int rc;

	rc = guest_xen_setup(g, xh, loop);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < g->n_disks; i++) {
		rc = served_disk_start(g->disks[i]);
		if (rc < 0)
			return rc;
	}
	/* Every window exists before the guest can reach any of them. */
	rc = ioreq_server_enable(g->ioreq);
	if (rc < 0)
		return rc;
	g->enabled = true;

	for (unsigned i = 0; i < g->n_disks; i++)
		served_disk_log(g->disks[i]);
	log_info(g->name, "ready: %u disk(s), %u vCPU(s)", g->n_disks, guest_nr_vcpus(g));
	return 0;
}

int guest_create(uint16_t domid, struct xen_handles *xh, struct loop *loop, struct guest **out)
{
	struct guest *g;
	int rc;

	*out = NULL;
	g = guest_alloc(domid);
	if (!g)
		return -ENOMEM;
	rc = guest_xen_setup(g, xh, loop);
	if (rc < 0) {
		guest_destroy(g);
		return rc;
	}
	*out = g;
	return 0;
}

int guest_add_disk(struct guest *g, const struct disk_config *cfg, struct served_disk **out)
{
	struct served_disk *sd;
	int rc;

	*out = NULL;
	if (g->n_disks == DISKS_PER_GUEST_MAX) {
		log_err(g->name, "%s: more than %u disks", cfg->vdev, DISKS_PER_GUEST_MAX);
		return -ENOSPC;
	}
	rc = served_disk_new(g, cfg, &sd);
	if (rc < 0)
		return rc;
	rc = served_disk_start(sd);
	if (rc < 0)
		goto err;
	/* The window exists before the guest can reach it. */
	if (!g->enabled) {
		rc = ioreq_server_enable(g->ioreq);
		if (rc < 0)
			goto err;
		g->enabled = true;
	}
	g->disks[g->n_disks++] = sd;
	served_disk_log(sd);
	log_info(sd->name, "ready: %u disk(s) for %s, %u vCPU(s)", g->n_disks, g->name,
		 guest_nr_vcpus(g));
	*out = sd;
	return 0;

err:
	served_disk_free(sd);
	return rc;
}

void guest_remove_disk(struct guest *g, struct served_disk *sd)
{
	for (unsigned i = 0; i < g->n_disks; i++) {
		if (g->disks[i] != sd)
			continue;
		log_info(sd->name, "stopping");
		served_disk_free(sd);
		g->disks[i] = g->disks[--g->n_disks];
		g->disks[g->n_disks] = NULL;
		return;
	}
}

void guest_destroy(struct guest *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n_disks; i++)
		served_disk_free(g->disks[i]);
	g->n_disks = 0;
	ioreq_server_destroy(g->ioreq);
	g->ioreq = NULL;
	guestmem_destroy(g->mem);
	g->mem = NULL;
	free(g);
}
