/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The synchronous disk engine, for when io_uring is unavailable (or
 * XVB_FORCE_SYNC_DISK=1). Same contract as io_uring: submit() only queues,
 * kick() does the queued I/O with preadv/pwritev/fdatasync and then wakes
 * the event loop through the eventfd, and reap() runs the callbacks.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "compiler.h"
#include "engine.h"
#include "log.h"

struct sync_disk {
	struct disk disk;
	bool direct;
	struct disk_req_list queued;   /* submitted, waiting for kick() */
	struct disk_req_list finished; /* done, waiting for reap() */
	struct disk_bounce bounce;     /* direct mode: one buffer */
	char prefix[DISK_PREFIX_MAX];
};

static struct sync_disk *to_sync(struct disk *d)
{
	return container_of(d, struct sync_disk, disk);
}

static int64_t sync_flush(int fd)
{
	while (fdatasync(fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Direct mode: one piece through the bounce buffer; bytes moved or -errno. */
static ssize_t sync_direct_once(void *ctx, struct disk_req *req)
{
	struct sync_disk *s = ctx;
	bool rd = req->op == DISK_READ;
	off_t pos = (off_t)(req->offset + req->done);
	void *buf = s->bounce.mem;
	size_t chunk = s->bounce.buf_size;
	ssize_t n;

	if (chunk > req->len - req->done)
		chunk = (size_t)(req->len - req->done);
	if (!rd && disk_iov_to_buf(req->iov, req->iovcnt, req->done, buf, chunk) != chunk)
		return -EINVAL; /* iov lengths sum to less than len */
	n = rd ? pread(s->disk.fd, buf, chunk, pos) : pwrite(s->disk.fd, buf, chunk, pos);
	if (n > 0 && rd)
		disk_iov_from_buf(req->iov, req->iovcnt, req->done, buf, (size_t)n);
	/* O_DIRECT cannot carry on from an offset that is not block-aligned. */
	if (n > 0 && (size_t)n < chunk && (n & (s->disk.logical_block_size - 1)))
		return -EIO;
	return n < 0 ? -errno : n;
}

static int64_t sync_perform(struct sync_disk *s, struct disk_req *req)
{
	if (req->op == DISK_FLUSH)
		return sync_flush(s->disk.fd);
	if (s->direct)
		return disk_rw_loop(req, sync_direct_once, s);
	return disk_rw_loop(req, disk_rw_buffered_once, &s->disk.fd);
}

static int sync_submit(struct disk *d, struct disk_req *req)
{
	struct sync_disk *s = to_sync(d);
	int ret = disk_submit_begin(d, s->direct, &s->finished, req);

	if (ret)
		return ret < 0 ? ret : 0;
	disk_list_push(&s->queued, req);
	return 0;
}

static int sync_kick(struct disk *d)
{
	struct sync_disk *s = to_sync(d);
	struct disk_req *req;
	bool any = false;

	while ((req = disk_list_pop(&s->queued))) {
		disk_finish(&s->finished, req, sync_perform(s, req));
		any = true;
	}
	if (any)
		disk_eventfd_signal(d->event_fd);
	return 0;
}

static int sync_reap(struct disk *d)
{
	struct sync_disk *s = to_sync(d);

	unsigned n;

	disk_eventfd_drain(d->event_fd);
	n = disk_run_finished(d, &s->finished);
	/* Like io_uring's reap: what callbacks submitted goes out now. */
	sync_kick(d);
	return (int)n;
}

static int sync_drain(struct disk *d)
{
	while (d->inflight) {
		sync_kick(d);
		sync_reap(d);
	}
	return 0;
}

static void sync_destroy(struct sync_disk *s)
{
	if (s->disk.event_fd >= 0)
		close(s->disk.event_fd);
	if (s->disk.fd >= 0)
		close(s->disk.fd);
	disk_bounce_free(&s->bounce);
	free(s);
}

static void sync_close(struct disk *d)
{
	sync_drain(d);
	sync_destroy(to_sync(d));
}

static const struct disk_ops sync_ops = {
	.name = "sync",
	.submit = sync_submit,
	.kick = sync_kick,
	.reap = sync_reap,
	.drain = sync_drain,
	.close = sync_close,
};

int disk_sync_open(const struct disk_setup *setup, struct disk **out)
{
	struct sync_disk *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	disk_init_common(&s->disk, &sync_ops, setup);
	disk_copy_prefix(s->prefix, setup->log_prefix);
	s->direct = setup->direct;
	disk_list_init(&s->queued);
	disk_list_init(&s->finished);

	s->disk.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->disk.event_fd < 0) {
		ret = -errno;
		goto err;
	}
	if (s->direct) {
		ret = disk_bounce_alloc(&s->bounce, 1, DISK_BOUNCE_SIZE, setup->mem_align);
		if (ret)
			goto err;
	}
	s->disk.fd = setup->fd;
	*out = &s->disk;
	log_debug(s->prefix, "sync engine ready%s", s->direct ? " (O_DIRECT, bounce buffer)" : "");
	return 0;
err:
	sync_destroy(s);
	return ret;
}
