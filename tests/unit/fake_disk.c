/* SPDX-License-Identifier: GPL-2.0-or-later */
/* In-memory disk backend for unit tests; see fake_disk.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "fake_disk.h"

static struct fake_disk *to_fd(struct disk *disk)
{
	return container_of(disk, struct fake_disk, disk);
}

static void list_append(struct disk_req **head, struct disk_req *req)
{
	req->next = NULL;
	while (*head)
		head = &(*head)->next;
	*head = req;
}

static int fake_submit(struct disk *disk, struct disk_req *req)
{
	struct fake_disk *fd = to_fd(disk);

	if (fd->submit_error)
		return fd->submit_error;
	fd->submits++;
	req->done = fd->submits; /* engine-private: here, the submission number */
	list_append(&fd->queued, req);
	disk->inflight++;
	return 0;
}

static int fake_kick(struct disk *disk)
{
	struct fake_disk *fd = to_fd(disk);

	fd->kicks++;
	while (fd->queued) {
		struct disk_req *req = fd->queued;

		fd->queued = req->next;
		list_append(&fd->pending, req);
	}
	return 0;
}

static int64_t execute(struct fake_disk *fd, struct disk_req *req)
{
	uint64_t off = req->offset;

	if (fd->n_ops < FAKE_DISK_OPS_LOG)
		fd->ops_log[fd->n_ops++] = req->op;
	if (fd->fail_nth && req->done == fd->fail_nth)
		return fd->fail_err;
	if (req->op == DISK_FLUSH) {
		fd->flushes++;
		return 0;
	}
	if (off > fd->disk.size || req->len > fd->disk.size - off) {
		fd->out_of_range++;
		return -EIO;
	}
	for (uint32_t i = 0; i < req->iovcnt; i++) {
		const struct iovec *v = &req->iov[i];

		if (req->op == DISK_READ)
			memcpy(v->iov_base, fd->data + off, v->iov_len);
		else
			memcpy(fd->data + off, v->iov_base, v->iov_len);
		off += v->iov_len;
	}
	if (req->op == DISK_READ)
		fd->reads++;
	else
		fd->writes++;
	return (int64_t)req->len;
}

/* Complete every request of *list (new submissions from callbacks wait for a kick). */
static int complete_list(struct fake_disk *fd, struct disk_req **list)
{
	struct disk_req *req = *list;
	int n = 0;

	*list = NULL;
	while (req) {
		struct disk_req *next = req->next;
		int64_t res = execute(fd, req);

		fd->disk.inflight--;
		fd->completed++;
		n++;
		req->complete(req, res);
		req = next;
	}
	return n;
}

static int fake_reap(struct disk *disk)
{
	struct fake_disk *fd = to_fd(disk);

	fd->reaps++;
	if (fd->hold)
		return 0;
	return complete_list(fd, &fd->pending);
}

static int fake_drain(struct disk *disk)
{
	struct fake_disk *fd = to_fd(disk);

	fd->drains++;
	while (fd->queued || fd->pending) {
		fake_kick(disk);
		complete_list(fd, &fd->pending);
	}
	return 0;
}

static void fake_close(struct disk *disk)
{
	(void)disk;
}

static const struct disk_ops fake_disk_ops = {
	.name = "fake",
	.submit = fake_submit,
	.kick = fake_kick,
	.reap = fake_reap,
	.drain = fake_drain,
	.close = fake_close,
};

void fake_disk_init(struct fake_disk *fd, uint64_t size, bool read_only)
{
	memset(fd, 0, sizeof(*fd));
	fd->data = calloc(1, size ? size : 1);
	if (!fd->data)
		abort();
	fd->disk = (struct disk){
		.ops = &fake_disk_ops,
		.fd = -1,
		.event_fd = -1,
		.size = size,
		.logical_block_size = 512,
		.physical_block_size = 512,
		.read_only = read_only,
	};
}

void fake_disk_fini(struct fake_disk *fd)
{
	free(fd->data);
	fd->data = NULL;
}

unsigned fake_disk_inflight(const struct fake_disk *fd)
{
	return fd->disk.inflight;
}
