/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-blk requests (virtio 1.2 §5.2.6): pop whole rings into a per-queue
 * request pool, decode each chain, submit to the disk with one kick per
 * drain, complete from disk reap with one interrupt decision per batch.
 * Config space and feature bits live in blk_config.c.
 *
 * Request errors (an answer with a status byte): a header shorter than 16
 * bytes, data not a multiple of 512, a range beyond capacity (sector + len
 * checked without overflow), a write to a read-only disk, more buffers than
 * REQ_MAX_IOV (a truncated chain), a disk error -> IOERR; an unknown type
 * -> UNSUPP. A chain with no writable byte cannot carry a status: it is
 * pushed with written = 0 and counted as a guest error. Ring corruption
 * (virtq_pop < 0) breaks the device instead (see ring.c).
 *
 * Write cache: the disk has a volatile cache (page cache or drive cache).
 * With VIRTIO_BLK_F_FLUSH negotiated and writeback = 1 the driver flushes;
 * otherwise (FLUSH not negotiated, or the driver wrote writeback = 0) we
 * give writethrough semantics (§5.2.5, §5.2.6.2): every OUT is followed by
 * a disk flush before it completes.
 *
 * Reset with requests in flight: the device is marked resetting, the disk is
 * drained (which runs every completion callback), and those callbacks only
 * release their chain mappings: nothing is written to guest memory and
 * nothing is pushed. Then the pools are freed. Destroying the device is
 * different: requests in flight are answered first (blk_answer_inflight).
 *
 * Queue threads (VIRTIO_BLK_F_MQ): a host may give each queue a disk and a
 * guest-memory host of its own (virtio_blk_set_queue_io), used only by the
 * thread serving that queue: all request state is per queue (struct
 * blk_queue). Such a host drains each queue on its thread
 * (virtio_blk_queue_drain) when the core asks it to quiesce, before reset.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "blk_internal.h"
#include "compiler.h"

static struct virtio_blk *to_blk(struct virtio_dev *vdev)
{
	return vdev->priv;
}

/* ---- per-queue request pool (allocated when a queue starts, never per request) ---- */

static int pool_alloc(struct virtio_blk *blk, uint16_t q)
{
	struct blk_queue *bq = &blk->queues[q];
	const struct virtq *vq = &blk->vdev.vq[q];

	if (bq->pool)
		return 0;
	if (!vq->started)
		return 0;
	bq->pool = calloc(vq->num, sizeof(*bq->pool));
	if (!bq->pool) {
		log_err(blk->name, "cannot allocate %u requests for queue %u", vq->num, q);
		return -ENOMEM;
	}
	bq->pool_size = vq->num;
	bq->free = NULL;
	for (uint16_t i = 0; i < vq->num; i++) {
		bq->pool[i].blk = blk;
		bq->pool[i].q = q;
		bq->pool[i].bq = bq;
		bq->pool[i].next_free = bq->free;
		bq->free = &bq->pool[i];
	}
	return 0;
}

static void pool_free(struct blk_queue *bq)
{
	free(bq->pool);
	bq->pool = NULL;
	bq->pool_size = 0;
	bq->free = NULL;
	bq->pushed = false;
}

static struct blk_req *req_get(struct blk_queue *bq)
{
	struct blk_req *req = bq->free;

	if (req)
		bq->free = req->next_free;
	return req;
}

static void req_put(struct blk_queue *bq, struct blk_req *req)
{
	req->next_free = bq->free;
	bq->free = req;
}

/* ---- iovec helpers ---- */

static uint64_t iov_bytes(const struct iovec *iov, uint32_t n)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < n; i++)
		sum += iov[i].iov_len;
	return sum;
}

static size_t iov_to_buf(const struct iovec *iov, uint32_t n, void *buf, size_t len)
{
	size_t done = 0;

	for (uint32_t i = 0; i < n && done < len; i++) {
		size_t k = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy((uint8_t *)buf + done, iov[i].iov_base, k);
		done += k;
	}
	return done;
}

static size_t iov_from_buf(const struct iovec *iov, uint32_t n, const void *buf, size_t len)
{
	size_t done = 0;

	for (uint32_t i = 0; i < n && done < len; i++) {
		size_t k = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy(iov[i].iov_base, (const uint8_t *)buf + done, k);
		done += k;
	}
	return done;
}

/* ---- completion ---- */

static void req_finish(struct blk_req *req, uint8_t status, uint32_t written)
{
	struct blk_queue *bq = req->bq;

	if (req->status)
		*req->status = status;
	virtq_push(bq->vq, bq->host, &req->chain, req->status ? written : 0);
	bq->pushed = true;
	req_put(bq, req);
}

static bool writethrough(const struct virtio_blk *blk)
{
	uint64_t f = blk->vdev.driver_features;

	if (!(f & (1ull << VIRTIO_BLK_F_FLUSH)))
		return true;
	return (f & (1ull << VIRTIO_BLK_F_CONFIG_WCE)) &&
	       !__atomic_load_n(&blk->writeback, __ATOMIC_RELAXED);
}

static int req_submit(struct virtio_blk *blk, struct blk_req *req)
{
	struct blk_queue *bq = req->bq;
	int r = disk_submit(bq->disk, &req->dreq);

	if (r < 0) {
		log_guest(&bq->log, LOG_LVL_ERR, blk->name, "disk submit failed: %s",
			  strerror(-r));
		return r;
	}
	bq->inflight++;
	return 0;
}

static void disk_complete(struct disk_req *dreq, int64_t result)
{
	struct blk_req *req = container_of(dreq, struct blk_req, dreq);
	struct virtio_blk *blk = req->blk;
	struct blk_queue *bq = req->bq;

	bq->inflight--;
	if (bq->resetting) {
		/* Reset drains us: the guest's memory and rings are no longer ours to touch. */
		virtq_chain_release(bq->host, &req->chain);
		req_put(bq, req);
		return;
	}
	if (result < 0 || (uint64_t)result != dreq->len) {
		log_guest(&bq->log, LOG_LVL_ERR, blk->name,
			  "disk %s at byte %llu failed: %s",
			  dreq->op == DISK_READ ? "read" : dreq->op == DISK_WRITE ? "write" : "flush",
			  (unsigned long long)dreq->offset,
			  result < 0 ? strerror((int)-result) : "short transfer");
		req_finish(req, VIRTIO_BLK_S_IOERR, 1);
		return;
	}
	if (req->flush_after) {
		/* Writethrough: the write is acknowledged only once it is stable. */
		req->flush_after = false;
		req->dreq = (struct disk_req){ .op = DISK_FLUSH, .complete = disk_complete };
		if (req_submit(blk, req) == 0) {
			bq->disk_kick_needed = true;
			return;
		}
		req_finish(req, VIRTIO_BLK_S_IOERR, 1);
		return;
	}
	req_finish(req, VIRTIO_BLK_S_OK, req->written);
}

/* ---- request decode ---- */

/* The writable iovecs before the status byte (which is dropped from the view). */
static uint32_t in_data_view(struct virtq_chain *c, struct iovec **iov)
{
	uint32_t n = c->n_in;

	*iov = &c->iov[c->n_out];
	if ((*iov)[n - 1].iov_len == 1)
		n--;
	else
		(*iov)[n - 1].iov_len--;
	return n;
}

/* The readable iovecs after the 16-byte header (which may end mid-iovec). */
static uint32_t out_data_view(struct virtq_chain *c, struct iovec **iov)
{
	size_t skip = sizeof(struct virtio_blk_outhdr);
	uint32_t i = 0;

	while (i < c->n_out && skip > 0) {
		if (c->iov[i].iov_len <= skip) {
			skip -= c->iov[i].iov_len;
			i++;
		} else {
			c->iov[i].iov_base = (uint8_t *)c->iov[i].iov_base + skip;
			c->iov[i].iov_len -= skip;
			skip = 0;
		}
	}
	*iov = &c->iov[i];
	return c->n_out - i;
}

static bool range_ok(const struct virtio_blk *blk, uint64_t sector, uint64_t bytes)
{
	uint64_t offset;

	if (mul_overflows(sector, (uint64_t)VIRTIO_BLK_SECTOR_SIZE, &offset))
		return false;
	/* sector + n <= capacity, written so that it cannot overflow */
	return sector <= blk->capacity &&
	       (bytes >> VIRTIO_BLK_SECTOR_SHIFT) <= blk->capacity - sector;
}

static void guest_error(struct virtio_blk *blk, const struct blk_req *req, const char *what)
{
	struct blk_queue *bq = req->bq;

	bq->guest_errors++;
	log_guest(&bq->log, LOG_LVL_WARNING, blk->name, "bad request: %s", what);
}

/* Returns true when the request went to the disk. */
static bool handle_rw(struct virtio_blk *blk, struct blk_req *req, uint32_t type, uint64_t sector)
{
	struct virtq_chain *c = &req->chain;
	bool is_write = type == VIRTIO_BLK_T_OUT;
	struct iovec *iov;
	uint32_t n = is_write ? out_data_view(c, &iov) : in_data_view(c, &iov);
	uint64_t len = iov_bytes(iov, n);

	if (len % VIRTIO_BLK_SECTOR_SIZE != 0 || len > VIRTIO_BLK_MAX_REQ_BYTES) {
		guest_error(blk, req, "data length not a multiple of 512 or too long");
		goto ioerr;
	}
	if (!range_ok(blk, sector, len)) {
		guest_error(blk, req, "sector range beyond capacity");
		goto ioerr;
	}
	if (is_write && blk->read_only) {
		guest_error(blk, req, "write to a read-only disk");
		goto ioerr;
	}
	if (len == 0) {
		req_finish(req, VIRTIO_BLK_S_OK, 1);
		return false;
	}
	req->written = is_write ? 1 : (uint32_t)len + 1;
	req->flush_after = is_write && writethrough(blk);
	req->dreq = (struct disk_req){
		.op = is_write ? DISK_WRITE : DISK_READ,
		.offset = sector << VIRTIO_BLK_SECTOR_SHIFT,
		.iov = iov,
		.iovcnt = n,
		.len = len,
		.complete = disk_complete,
	};
	if (req_submit(blk, req) == 0)
		return true;
ioerr:
	req_finish(req, VIRTIO_BLK_S_IOERR, 1);
	return false;
}

static bool handle_flush(struct virtio_blk *blk, struct blk_req *req)
{
	req->written = 1;
	req->flush_after = false;
	req->dreq = (struct disk_req){ .op = DISK_FLUSH, .complete = disk_complete };
	if (req_submit(blk, req) == 0)
		return true;
	req_finish(req, VIRTIO_BLK_S_IOERR, 1);
	return false;
}

/* §5.2.6: the serial, NUL-padded to 20 bytes, cut to what the buffer holds. */
static void handle_get_id(struct virtio_blk *blk, struct blk_req *req)
{
	struct iovec *iov;
	uint32_t n = in_data_view(&req->chain, &iov);
	size_t copied = iov_from_buf(iov, n, blk->serial, VIRTIO_BLK_ID_LEN);

	req_finish(req, VIRTIO_BLK_S_OK, (uint32_t)copied + 1);
}

/* Decode one popped chain. Returns true when it went to the disk. */
static bool handle_request(struct virtio_blk *blk, struct blk_req *req)
{
	struct virtq_chain *c = &req->chain;
	struct virtio_blk_outhdr hdr;
	struct iovec *last;

	req->status = NULL;
	if (c->n_in == 0) {
		guest_error(blk, req, "no writable byte for the status");
		req_finish(req, 0, 0);
		return false;
	}
	last = &c->iov[c->n_out + c->n_in - 1];
	req->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	if (c->truncated) {
		guest_error(blk, req, "too many buffers, or buffers the host cannot map");
		req_finish(req, VIRTIO_BLK_S_IOERR, 1);
		return false;
	}
	/* Copy the header out of guest memory before deciding anything on it. */
	if (likely(c->n_out > 0 && c->iov[0].iov_len >= sizeof(hdr)))
		memcpy(&hdr, c->iov[0].iov_base, sizeof(hdr)); /* the usual layout */
	else if (iov_to_buf(c->iov, c->n_out, &hdr, sizeof(hdr)) < sizeof(hdr)) {
		guest_error(blk, req, "header shorter than 16 bytes");
		req_finish(req, VIRTIO_BLK_S_IOERR, 1);
		return false;
	}
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return handle_rw(blk, req, le32toh(hdr.type), le64toh(hdr.sector));
	case VIRTIO_BLK_T_FLUSH:
		return handle_flush(blk, req);
	case VIRTIO_BLK_T_GET_ID:
		handle_get_id(blk, req);
		return false;
	default:
		req_finish(req, VIRTIO_BLK_S_UNSUPP, 1);
		return false;
	}
}

/* ---- batching ---- */

/* One interrupt decision for everything pushed on queue q since the last one. */
static void notify_batch(struct virtio_blk *blk, uint16_t q)
{
	struct blk_queue *bq = &blk->queues[q];

	if (!bq->pushed)
		return;
	bq->pushed = false;
	if (virtq_should_notify(&blk->vdev.vq[q]))
		virtio_dev_notify_queue(&blk->vdev, q);
}

static void blk_queue_kick(struct virtio_dev *vdev, uint16_t q)
{
	struct virtio_blk *blk = to_blk(vdev);
	struct blk_queue *bq = &blk->queues[q];
	struct virtq *vq = &vdev->vq[q];
	bool submitted = false, starved = false;

	if (pool_alloc(blk, q) < 0) {
		virtio_dev_set_broken(vdev, "out of memory for requests");
		return;
	}
	for (;;) {
		for (;;) {
			struct blk_req *req = req_get(bq);
			int r;

			if (!req) {
				/* All num requests in flight: completions re-check the ring. */
				starved = true;
				break;
			}
			r = virtq_pop(vq, bq->host, &req->chain);
			if (r <= 0) {
				req_put(bq, req);
				if (r < 0) {
					virtio_dev_set_broken(vdev, "corrupt descriptor chain");
					goto out;
				}
				break;
			}
			submitted |= handle_request(blk, req);
		}
		if (starved || !vq->event_idx)
			break;
		/* Ask for a kick at the next entry, then look again to not miss one. */
		virtq_update_avail_event(vq);
		if (!virtq_has_work(vq))
			break;
	}
out:
	if (submitted)
		disk_kick(bq->disk);
	notify_batch(blk, q);
}

void virtio_blk_disk_event(struct virtio_blk *blk)
{
	struct virtio_dev *vdev = &blk->vdev;
	int r = disk_reap(blk->disk);
	bool kick = false;

	if (r < 0)
		log_guest(&blk->queues[0].log, LOG_LVL_ERR, blk->name, "disk reap failed: %s",
			  strerror(-r));
	for (uint16_t q = 0; q < vdev->num_queues; q++) {
		kick |= blk->queues[q].disk_kick_needed;
		blk->queues[q].disk_kick_needed = false;
	}
	if (kick)
		disk_kick(blk->disk);
	for (uint16_t q = 0; q < vdev->num_queues; q++) {
		bool had_pushes = blk->queues[q].pushed;

		notify_batch(blk, q);
		/* Entries left behind while every request was busy: serve them now. */
		if (had_pushes && !virtio_dev_broken(vdev) && virtq_has_work(&vdev->vq[q]))
			virtio_dev_kick(vdev, q);
	}
}

void virtio_blk_queue_disk_event(struct virtio_blk *blk, uint16_t q)
{
	struct virtio_dev *vdev = &blk->vdev;
	struct blk_queue *bq = &blk->queues[q];
	int r = disk_reap(bq->disk);
	bool had_pushes;

	if (r < 0)
		log_guest(&bq->log, LOG_LVL_ERR, blk->name, "queue %u: disk reap failed: %s", q,
			  strerror(-r));
	if (bq->disk_kick_needed) {
		bq->disk_kick_needed = false;
		disk_kick(bq->disk);
	}
	had_pushes = bq->pushed;
	notify_batch(blk, q);
	/* Entries left behind while every request was busy: this thread serves them now. */
	if (had_pushes && !virtio_dev_broken(vdev) && bq->pool && virtq_has_work(&vdev->vq[q]))
		blk_queue_kick(vdev, q);
}

void virtio_blk_set_queue_io(struct virtio_blk *blk, uint16_t q, struct disk *disk,
			     const struct virtio_host *host)
{
	struct blk_queue *bq = &blk->queues[q];

	bq->vq = &blk->vdev.vq[q];
	bq->disk = disk ? disk : blk->disk;
	bq->host = host ? host : &blk->vdev.host;
}

void virtio_blk_queue_drain(struct virtio_blk *blk, uint16_t q, bool answer)
{
	struct blk_queue *bq = &blk->queues[q];
	int r;

	if (bq->inflight > 0) {
		bq->resetting = !answer;
		r = disk_drain(bq->disk);
		bq->resetting = false;
		if (r < 0 || bq->inflight > 0)
			log_err(blk->name, "queue %u: disk drain left %u requests (%d)", q,
				bq->inflight, r);
	}
	bq->disk_kick_needed = false;
	if (answer)
		notify_batch(blk, q);
}

/* ---- device ops ---- */

static int blk_activate(struct virtio_dev *vdev)
{
	struct virtio_blk *blk = to_blk(vdev);

	for (uint16_t q = 0; q < vdev->num_queues; q++) {
		int r = pool_alloc(blk, q);

		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * With queue threads the host has drained every queue already (quiesce),
 * so nothing is in flight here. Otherwise queues may share the device's
 * disk: all of them stop touching guest memory before any drain runs.
 */
static void blk_reset(struct virtio_dev *vdev)
{
	struct virtio_blk *blk = to_blk(vdev);
	bool busy = false;
	int r;

	for (uint16_t q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		blk->queues[q].resetting = blk->queues[q].inflight > 0;
		busy |= blk->queues[q].resetting;
	}
	for (uint16_t q = 0; busy && q < VIRTIO_MAX_QUEUES; q++) {
		struct blk_queue *bq = &blk->queues[q];

		if (bq->inflight == 0)
			continue;
		r = disk_drain(bq->disk);
		if (r < 0 || bq->inflight > 0)
			log_err(blk->name, "reset: queue %u: disk drain left %u requests (%d)", q,
				bq->inflight, r);
	}
	for (uint16_t q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		blk->queues[q].resetting = false;
		blk->queues[q].disk_kick_needed = false;
		pool_free(&blk->queues[q]);
	}
	blk_config_reset(blk);
}

static const struct virtio_device_ops blk_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.max_queues = VIRTIO_MAX_QUEUES, /* narrowed per device to params->num_queues */
	.features = blk_features,
	.config_size = BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.queue_kick = blk_queue_kick,
	.reset = blk_reset,
};

int virtio_blk_create(const struct virtio_blk_params *params, struct disk *disk,
		      const char *name, const struct virtio_host *host, struct virtio_blk **out)
{
	struct virtio_blk *blk;
	uint16_t nq = params->num_queues ? params->num_queues : 1;

	*out = NULL;
	if (!disk || nq > VIRTIO_MAX_QUEUES)
		return -EINVAL;
	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return -ENOMEM;
	blk->disk = disk;
	blk->num_queues = nq;
	blk->read_only = params->read_only || disk->read_only;
	snprintf(blk->name, sizeof(blk->name), "%s", name ? name : "virtio-blk");
	/* GET_ID sends the serial NUL-padded to 20 bytes (calloc zeroed the rest). */
	memcpy(blk->serial, params->serial, strnlen(params->serial, sizeof(blk->serial)));
	blk_config_init(blk);
	virtio_dev_init(&blk->vdev, &blk_ops, blk, blk->name, host);
	blk->vdev.num_queues = nq;
	for (uint16_t q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtio_blk_set_queue_io(blk, q, NULL, NULL);
	*out = blk;
	return 0;
}

/*
 * Teardown (SIGTERM, the disk removed, the guest gone) is not a reset the
 * driver asked for: requests in flight finish and are answered, OK or
 * IOERR, with one interrupt decision per queue, before the reset.
 */
static void blk_answer_inflight(struct virtio_blk *blk)
{
	int r;

	for (uint16_t q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct blk_queue *bq = &blk->queues[q];

		if (bq->inflight == 0)
			continue;
		r = disk_drain(bq->disk);
		if (r < 0)
			log_err(blk->name, "teardown: queue %u: disk drain failed: %s", q,
				strerror(-r));
	}
	for (uint16_t q = 0; q < blk->vdev.num_queues; q++)
		notify_batch(blk, q);
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	if (!blk)
		return;
	blk_answer_inflight(blk);
	virtio_dev_reset(&blk->vdev);
	free(blk);
}

struct virtio_dev *virtio_blk_dev(struct virtio_blk *blk)
{
	return &blk->vdev;
}
