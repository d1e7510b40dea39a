/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The io_uring disk engine: one ring per disk, the file registered
 * (IOSQE_FIXED_FILE), completions signalled on an eventfd that the event
 * loop watches.
 *
 * A request in the kernel holds one slot (the SQE's user_data): at most as
 * many slots as SQ entries, so the CQ (twice the SQ) can never overflow.
 * Requests beyond that wait on the pending list, linked through req->next,
 * and are queued as completions free slots: never dropped, never blocking.
 * Short I/O is resubmitted from req->done by walking the caller's iovecs
 * (never modified): a single read/write finishes a partly done element,
 * then readv/writev continues from the next one.
 *
 * O_DIRECT (DISK_CACHE_DIRECT): each slot owns one registered bounce
 * buffer and carries one piece of a request (read/write_fixed). A request
 * larger than a buffer takes as many slots as are free and its pieces run
 * at once; a uring_dreq counts the pieces in the kernel and keeps the first
 * failure, and the request completes when the last piece did. Only the
 * head of the pending list can be partly issued (req->done is then the
 * bytes handed to pieces so far).
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "compiler.h"
#include "engine.h"
#include "log.h"

#define URING_MIN_ENTRIES 64u
#define URING_MAX_ENTRIES 1024u
#define URING_REAP_BATCH 64u
/* One plain read/write of a partly done element moves at most this much. */
#define URING_MAX_SINGLE (1u << 30)

/* Direct mode: a request whose pieces are in the kernel. */
struct uring_dreq {
	struct disk_req *req;
	uint32_t pieces; /* in slots now */
	int32_t error;   /* first failed piece's -errno, 0 so far */
};

struct uring_slot {
	struct disk_req *req;
	bool invalid; /* iov lengths sum to less than len: a NOP that fails it */
	/* Direct mode: */
	uint32_t chunk; /* bytes of this piece (in the bounce buffer) */
	uint32_t moved; /* bytes of it done so far (short I/O) */
	uint64_t pos;   /* where the piece starts in the request */
	struct uring_dreq *dreq;
};

struct uring_disk {
	struct disk disk;
	struct io_uring ring;
	bool ring_ready;
	bool fixed_file;
	bool fixed_bufs;
	bool direct;
	unsigned setup_flags;

	struct uring_slot *slots;
	uint32_t nslots;
	uint32_t *free_slots; /* stack of free slot indices */
	uint32_t nfree;

	struct disk_req_list pending;  /* accepted, waiting for a slot and an SQE */
	struct disk_req_list finished; /* done without the kernel, for reap() */
	uint32_t inline_bytes;         /* done at submit since the last kick */
	struct disk_bounce bounce;     /* direct mode: buffer i belongs to slot i */
	/* Direct mode: request trackers (no more than slots) and pieces to resubmit. */
	struct uring_dreq *dreqs;
	struct uring_dreq **free_dreqs;
	uint32_t nfree_dreqs;
	struct uring_dreq *head_dreq; /* the pending head's, once it has pieces out */
	uint32_t *retry_slots;        /* pieces that found no SQE */
	uint32_t nretry;
	char prefix[DISK_PREFIX_MAX];
};

static struct uring_disk *to_uring(struct disk *d)
{
	return container_of(d, struct uring_disk, disk);
}

/* Fill sqe for what is left of piece si (direct mode). */
static void uring_prep_piece(struct uring_disk *u, struct io_uring_sqe *sqe, uint32_t si)
{
	struct uring_slot *slot = &u->slots[si];
	struct disk_req *req = slot->req;
	int fd = u->fixed_file ? 0 : u->disk.fd;
	uint8_t *buf = (uint8_t *)disk_bounce_buf(&u->bounce, si) + slot->moved;
	uint32_t len = slot->chunk - slot->moved;
	uint64_t pos = req->offset + slot->pos + slot->moved;

	if (req->op == DISK_FLUSH)
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	else if (slot->invalid)
		io_uring_prep_nop(sqe);
	else if (req->op == DISK_READ && u->fixed_bufs)
		io_uring_prep_read_fixed(sqe, fd, buf, len, pos, (int)si);
	else if (req->op == DISK_READ)
		io_uring_prep_read(sqe, fd, buf, len, pos);
	else if (u->fixed_bufs)
		io_uring_prep_write_fixed(sqe, fd, buf, len, pos, (int)si);
	else
		io_uring_prep_write(sqe, fd, buf, len, pos);
	if (u->fixed_file && sqe->opcode != IORING_OP_NOP)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, slot);
}

static void uring_prep_buffered(struct uring_slot *slot, struct io_uring_sqe *sqe, int fd,
				uint64_t pos)
{
	struct disk_req *req = slot->req;
	uint32_t idx;
	size_t off;

	if (likely(!req->done && req->iov[0].iov_len)) {
		/* First submission: no need to walk the iovecs. */
		idx = 0;
		off = 0;
	} else {
		disk_iov_locate(req->iov, req->iovcnt, req->done, &idx, &off);
	}
	if (idx >= req->iovcnt) {
		slot->invalid = true;
		io_uring_prep_nop(sqe);
		return;
	}
	if (off) {
		void *base = (char *)req->iov[idx].iov_base + off;
		size_t n = req->iov[idx].iov_len - off;
		unsigned len = n > URING_MAX_SINGLE ? URING_MAX_SINGLE : (unsigned)n;

		if (req->op == DISK_READ)
			io_uring_prep_read(sqe, fd, base, len, pos);
		else
			io_uring_prep_write(sqe, fd, base, len, pos);
		return;
	}
	if (req->iovcnt - idx == 1 && req->iov[idx].iov_len <= URING_MAX_SINGLE) {
		/* One buffer: plain read/write, no iovec for the kernel to import. */
		void *base = req->iov[idx].iov_base;
		unsigned len = (unsigned)req->iov[idx].iov_len;

		if (req->op == DISK_READ)
			io_uring_prep_read(sqe, fd, base, len, pos);
		else
			io_uring_prep_write(sqe, fd, base, len, pos);
		return;
	}
	if (req->op == DISK_READ)
		io_uring_prep_readv(sqe, fd, &req->iov[idx], req->iovcnt - idx, pos);
	else
		io_uring_prep_writev(sqe, fd, &req->iov[idx], req->iovcnt - idx, pos);
}

/* Fill sqe for what is left of slot si's request. */
static void uring_prep(struct uring_disk *u, struct io_uring_sqe *sqe, uint32_t si)
{
	struct disk_req *req = u->slots[si].req;
	int fd = u->fixed_file ? 0 : u->disk.fd;
	uint64_t pos = req->offset + req->done;

	u->slots[si].invalid = false;
	if (req->op == DISK_FLUSH)
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	else
		uring_prep_buffered(&u->slots[si], sqe, fd, pos);
	if (u->fixed_file && sqe->opcode != IORING_OP_NOP)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data(sqe, &u->slots[si]);
}

static void uring_release_slot(struct uring_disk *u, uint32_t si)
{
	u->slots[si].req = NULL;
	u->free_slots[u->nfree++] = si;
}

/* Direct mode: the pending head is fully issued, or stopped by a failed piece. */
static void uring_head_issued(struct uring_disk *u)
{
	disk_list_pop(&u->pending);
	u->head_dreq = NULL;
}

static void uring_put_dreq(struct uring_disk *u, struct uring_dreq *dr)
{
	dr->req = NULL;
	u->free_dreqs[u->nfree_dreqs++] = dr;
}

/*
 * Direct mode: resubmit pieces that waited for an SQE, then give free slots
 * pieces of pending requests, FIFO order. Every request in the kernel holds
 * a slot, so a free slot means a free tracker.
 */
__attribute__((noinline)) static void uring_fill_direct(struct uring_disk *u)
{
	while (u->nretry) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

		if (!sqe)
			return;
		uring_prep_piece(u, sqe, u->retry_slots[--u->nretry]);
	}
	while (u->pending.head && u->nfree) {
		struct disk_req *req = u->pending.head;
		struct uring_dreq *dr = u->head_dreq;
		struct io_uring_sqe *sqe;
		struct uring_slot *slot;
		uint64_t left;
		uint32_t si;

		if (dr && dr->error) {
			/* A piece failed: issue no more; the last piece out completes it. */
			uring_head_issued(u);
			if (!dr->pieces) {
				uring_put_dreq(u, dr);
				disk_finish(&u->finished, req, dr->error);
				disk_eventfd_signal(u->disk.event_fd);
			}
			continue;
		}
		if (!dr && !u->nfree_dreqs)
			return; /* cannot happen (see above); wait for a completion */
		sqe = io_uring_get_sqe(&u->ring);
		if (!sqe)
			return;
		if (!dr) {
			dr = u->free_dreqs[--u->nfree_dreqs];
			*dr = (struct uring_dreq){ .req = req };
			u->head_dreq = dr;
		}
		si = u->free_slots[--u->nfree];
		slot = &u->slots[si];
		left = req->len - req->done;
		*slot = (struct uring_slot){
			.req = req,
			.dreq = dr,
			.pos = req->done,
			.chunk = left < u->bounce.buf_size ? (uint32_t)left
							   : (uint32_t)u->bounce.buf_size,
		};
		if (req->op == DISK_WRITE &&
		    disk_iov_to_buf(req->iov, req->iovcnt, slot->pos,
				    disk_bounce_buf(&u->bounce, si), slot->chunk) != slot->chunk)
			slot->invalid = true;
		req->done += slot->chunk;
		dr->pieces++;
		if (req->done >= req->len)
			uring_head_issued(u);
		uring_prep_piece(u, sqe, si);
	}
}

/* Move pending requests into free slots and SQEs; FIFO order. */
static void uring_fill(struct uring_disk *u)
{
	if (u->direct) {
		uring_fill_direct(u);
		return;
	}
	while (u->pending.head && u->nfree) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
		uint32_t si;

		if (!sqe)
			return;
		si = u->free_slots[--u->nfree];
		u->slots[si].req = disk_list_pop(&u->pending);
		uring_prep(u, sqe, si);
	}
}

/* Queue the rest of slot si's request again (short I/O, EAGAIN). */
static void uring_requeue(struct uring_disk *u, uint32_t si)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	struct disk_req *req;

	if (sqe) {
		uring_prep(u, sqe, si);
		return;
	}
	/* No SQE now: first in line for the next one. */
	req = u->slots[si].req;
	uring_release_slot(u, si);
	disk_list_push_front(&u->pending, req);
}

/* Hand the SQ to the kernel. Transient refusals are retried from reap(). */
static int uring_flush(struct uring_disk *u)
{
	int ret;

	if (!io_uring_sq_ready(&u->ring))
		return 0;
	do {
		ret = io_uring_submit(&u->ring);
	} while (ret == -EINTR);
	if (ret == -EAGAIN || ret == -EBUSY) {
		disk_eventfd_signal(u->disk.event_fd);
		return 0;
	}
	return ret < 0 ? ret : 0;
}

/* Direct mode: queue the rest of piece si again (short I/O, EAGAIN). */
static void uring_requeue_piece(struct uring_disk *u, uint32_t si)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (sqe)
		uring_prep_piece(u, sqe, si);
	else
		u->retry_slots[u->nretry++] = si;
}

/* Direct mode: how piece si ended: 0 when done, 1 when resubmitted, or -errno. */
static int uring_piece_result(struct uring_disk *u, uint32_t si, int32_t res)
{
	struct uring_slot *slot = &u->slots[si];
	struct disk_req *req = slot->req;

	if (res == -EAGAIN || res == -EINTR)
		goto again;
	if (slot->invalid)
		return -EINVAL;
	if (res < 0)
		return res;
	if (req->op == DISK_FLUSH)
		return 0;
	/* The caller checked the range: 0 bytes means the file shrank. */
	if (res == 0)
		return -EIO;
	if ((uint32_t)res > slot->chunk - slot->moved)
		res = (int32_t)(slot->chunk - slot->moved);
	slot->moved += (uint32_t)res;
	if (slot->moved < slot->chunk) {
		/* O_DIRECT cannot carry on from an offset that is not block-aligned. */
		if (slot->moved & (u->disk.logical_block_size - 1))
			return -EIO;
		goto again;
	}
	if (req->op == DISK_READ)
		disk_iov_from_buf(req->iov, req->iovcnt, slot->pos, disk_bounce_buf(&u->bounce, si),
				  slot->chunk);
	return 0;
again:
	uring_requeue_piece(u, si);
	return 1;
}

/* Direct mode: one CQE for piece si; returns 1 when its request completed. */
static unsigned uring_complete_piece(struct uring_disk *u, uint32_t si, int32_t res)
{
	struct uring_dreq *dr = u->slots[si].dreq;
	struct disk_req *req = dr->req;
	int ret = uring_piece_result(u, si, res);

	if (ret > 0)
		return 0;
	if (ret < 0 && !dr->error)
		dr->error = ret;
	uring_release_slot(u, si);
	/* The pending head may still have pieces to issue: uring_fill_direct ends it. */
	if (--dr->pieces || dr == u->head_dreq)
		return 0;
	ret = dr->error;
	uring_put_dreq(u, dr);
	u->disk.inflight--;
	req->complete(req, ret ? ret : (int64_t)req->len);
	return 1;
}

/* One CQE for slot si; returns 1 when its request completed. */
static unsigned uring_complete(struct uring_disk *u, uint32_t si, int32_t res)
{
	struct uring_slot *slot = &u->slots[si];
	struct disk_req *req = slot->req;
	int64_t result;

	if (res == -EAGAIN || res == -EINTR) {
		uring_requeue(u, si);
		return 0;
	}
	if (slot->invalid) {
		result = -EINVAL;
		goto complete;
	}
	if (res < 0) {
		result = res;
		goto complete;
	}
	if (req->op == DISK_FLUSH) {
		result = 0;
		goto complete;
	}
	/* The caller checked the range: 0 bytes means the file shrank. */
	if (res == 0) {
		result = -EIO;
		goto complete;
	}
	if ((uint64_t)res > req->len - req->done)
		res = (int32_t)(req->len - req->done);
	req->done += (uint64_t)res;
	if (req->done < req->len) {
		uring_requeue(u, si);
		return 0;
	}
	result = (int64_t)req->len;
complete:
	uring_release_slot(u, si);
	u->disk.inflight--;
	req->complete(req, result);
	return 1;
}

static unsigned uring_process_cqes(struct uring_disk *u)
{
	struct io_uring_cqe *cqes[URING_REAP_BATCH];
	struct {
		uint32_t slot;
		int32_t res;
	} batch[URING_REAP_BATCH];
	unsigned total = 0;

	for (;;) {
		unsigned n = io_uring_peek_batch_cqe(&u->ring, cqes, URING_REAP_BATCH);

		if (!n)
			break;
		/* Copy out and free the CQ space before any callback runs. */
		for (unsigned i = 0; i < n; i++) {
			struct uring_slot *slot = io_uring_cqe_get_data(cqes[i]);

			batch[i].slot = (uint32_t)(slot - u->slots);
			batch[i].res = cqes[i]->res;
		}
		io_uring_cq_advance(&u->ring, n);
		for (unsigned i = 0; i < n; i++) {
			if (u->direct)
				total += uring_complete_piece(u, batch[i].slot, batch[i].res);
			else
				total += uring_complete(u, batch[i].slot, batch[i].res);
		}
	}
	return total;
}

/*
 * A small read or write on a memory file system (DISK_INLINE_MAX), done
 * now; like every completion it reaches its callback from reap(). One
 * wake-up per batch: reap() drains the eventfd before taking the list.
 */
static void uring_do_inline(struct uring_disk *u, struct disk_req *req)
{
	bool first = !u->finished.head;

	disk_finish(&u->finished, req, disk_rw_loop(req, disk_rw_buffered_once, &u->disk.fd));
	if (first)
		disk_eventfd_signal(u->disk.event_fd);
}

static int uring_submit(struct disk *d, struct disk_req *req)
{
	struct uring_disk *u = to_uring(d);
	int ret = disk_submit_begin(d, u->direct, &u->finished, req);

	if (ret)
		return ret < 0 ? ret : 0;
	if (req->op != DISK_FLUSH && req->len <= d->inline_max &&
	    u->inline_bytes + req->len <= DISK_INLINE_BATCH) {
		u->inline_bytes += (uint32_t)req->len;
		uring_do_inline(u, req);
		return 0;
	}
	disk_list_push(&u->pending, req);
	uring_fill(u);
	return 0;
}

static int uring_kick(struct disk *d)
{
	struct uring_disk *u = to_uring(d);

	u->inline_bytes = 0;
	uring_fill(u);
	return uring_flush(u);
}

static int uring_reap(struct disk *d)
{
	struct uring_disk *u = to_uring(d);
	unsigned count;
	int ret;

	/* Before looking at the CQ, so that no wake-up is lost. */
	disk_eventfd_drain(d->event_fd);
	count = disk_run_finished(d, &u->finished);
	count += uring_process_cqes(u);
	/* Resubmissions and requests that waited for a slot go out now. */
	ret = uring_kick(d);
	return ret < 0 ? ret : (int)count;
}

static int uring_drain(struct disk *d)
{
	struct uring_disk *u = to_uring(d);

	for (;;) {
		int ret;

		disk_run_finished(d, &u->finished);
		uring_process_cqes(u);
		if (!d->inflight)
			break;
		uring_fill(u);
		if (!u->finished.head && u->nfree == u->nslots && !u->nretry) {
			/* In flight, yet neither finished nor in the kernel: a bug. */
			log_err(u->prefix, "io_uring: %u requests unaccounted for", d->inflight);
			return -EIO;
		}
		/* Submit what is queued and wait for at least one completion. */
		ret = io_uring_submit_and_wait(&u->ring, u->finished.head ? 0 : 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			return ret;
	}
	disk_eventfd_drain(d->event_fd);
	return 0;
}

static void uring_destroy(struct uring_disk *u)
{
	if (u->ring_ready) {
		/*
		 * queue_exit would drop these too, but only when the ring's
		 * asynchronous teardown runs: unregistering now releases the
		 * file before disk_close() returns (a block device's last close
		 * flushes it; an admin may detach it right after).
		 */
		if (u->fixed_bufs)
			io_uring_unregister_buffers(&u->ring);
		if (u->fixed_file)
			io_uring_unregister_files(&u->ring);
		io_uring_unregister_eventfd(&u->ring);
		io_uring_queue_exit(&u->ring);
	}
	if (u->disk.event_fd >= 0)
		close(u->disk.event_fd);
	if (u->disk.fd >= 0)
		close(u->disk.fd);
	disk_bounce_free(&u->bounce);
	free(u->slots);
	free(u->free_slots);
	free(u->dreqs);
	free(u->free_dreqs);
	free(u->retry_slots);
	free(u);
}

static void uring_close(struct disk *d)
{
	struct uring_disk *u = to_uring(d);
	int ret = uring_drain(d);

	if (ret < 0)
		log_err(u->prefix, "io_uring: %u requests lost at close: %s", d->inflight,
			strerror(-ret));
	uring_destroy(u);
}

static const struct disk_ops uring_ops = {
	.name = "io_uring",
	.submit = uring_submit,
	.kick = uring_kick,
	.reap = uring_reap,
	.drain = uring_drain,
	.close = uring_close,
};

static uint32_t uring_entries(uint32_t depth)
{
	uint32_t n = URING_MIN_ENTRIES;

	while (n < depth && n < URING_MAX_ENTRIES)
		n <<= 1;
	return n;
}

/* The newest setup flags this kernel accepts; -EINVAL means "not these". */
static int uring_init_ring(struct uring_disk *u, uint32_t entries)
{
	static const unsigned flag_sets[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_SUBMIT_ALL,
		0,
	};
	int ret = -EINVAL;

	for (size_t i = 0; i < ARRAY_SIZE(flag_sets); i++) {
		struct io_uring_params p = { .flags = flag_sets[i] };

		ret = io_uring_queue_init_params(entries, &u->ring, &p);
		if (ret == 0) {
			u->setup_flags = flag_sets[i];
			u->ring_ready = true;
			return 0;
		}
		if (ret != -EINVAL)
			break;
	}
	return ret;
}

static bool uring_has_opcodes(struct io_uring *ring)
{
	static const int needed[] = {
		IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_READ,
		IORING_OP_WRITE, IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED, IORING_OP_NOP,
	};
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	bool ok = probe != NULL;

	for (size_t i = 0; ok && i < ARRAY_SIZE(needed); i++)
		ok = io_uring_opcode_supported(probe, needed[i]);
	io_uring_free_probe(probe);
	return ok;
}

/*
 * Direct mode: one bounce piece per request the queue holds, within the
 * pool budget; smaller pieces rather than fewer (a rounded-down power of two).
 */
static size_t uring_piece_size(uint32_t npieces)
{
	size_t size = DISK_BOUNCE_SIZE;

	while (size > DISK_BOUNCE_MIN_PIECE && (uint64_t)size * npieces > DISK_BOUNCE_POOL_BYTES)
		size >>= 1;
	return size;
}

static int uring_setup_direct(struct uring_disk *u, const struct disk_setup *s)
{
	struct iovec *iov;
	int ret;

	u->dreqs = calloc(u->nslots, sizeof(*u->dreqs));
	u->free_dreqs = calloc(u->nslots, sizeof(*u->free_dreqs));
	u->retry_slots = calloc(u->nslots, sizeof(*u->retry_slots));
	if (!u->dreqs || !u->free_dreqs || !u->retry_slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < u->nslots; i++)
		u->free_dreqs[i] = &u->dreqs[i];
	u->nfree_dreqs = u->nslots;

	ret = disk_bounce_alloc(&u->bounce, u->nslots, uring_piece_size(u->nslots),
				s->mem_align);
	if (ret)
		return ret;
	iov = calloc(u->nslots, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	for (uint32_t i = 0; i < u->nslots; i++)
		iov[i] = (struct iovec){ .iov_base = disk_bounce_buf(&u->bounce, i),
					 .iov_len = u->bounce.buf_size };
	ret = io_uring_register_buffers(&u->ring, iov, u->nslots);
	free(iov);
	if (ret == 0)
		u->fixed_bufs = true;
	else
		/* e.g. RLIMIT_MEMLOCK without CAP_IPC_LOCK: plain reads into the bounce buffers. */
		log_info(u->prefix,
			 "io_uring: cannot register bounce buffers (%s); using plain reads",
			 strerror(-ret));
	return 0;
}

int disk_uring_open(const struct disk_setup *s, struct disk **out, const char **why)
{
	struct uring_disk *u = calloc(1, sizeof(*u));
	int ret;

	if (!u) {
		*why = "allocation";
		return -ENOMEM;
	}
	disk_init_common(&u->disk, &uring_ops, s);
	disk_copy_prefix(u->prefix, s->log_prefix);
	u->direct = s->direct;
	disk_list_init(&u->pending);
	disk_list_init(&u->finished);

	*why = "io_uring_queue_init";
	ret = uring_init_ring(u, uring_entries(s->queue_depth));
	if (ret)
		goto err;
	*why = "io_uring opcode probe";
	if (!uring_has_opcodes(&u->ring)) {
		ret = -ENOSYS;
		goto err;
	}

	u->nslots = u->ring.sq.ring_entries;
	if (u->direct) {
		/* At least one piece per request the queue holds; never more than SQEs. */
		uint32_t want = s->queue_depth < DISK_BOUNCE_MIN_BUFS ? DISK_BOUNCE_MIN_BUFS
								      : s->queue_depth;

		if (want > DISK_BOUNCE_MAX_BUFS)
			want = DISK_BOUNCE_MAX_BUFS;
		if (u->nslots > want)
			u->nslots = want;
	}
	*why = "allocation";
	u->slots = calloc(u->nslots, sizeof(*u->slots));
	u->free_slots = calloc(u->nslots, sizeof(*u->free_slots));
	if (!u->slots || !u->free_slots) {
		ret = -ENOMEM;
		goto err;
	}
	/* Reversed, so slot 0 is used first. */
	for (uint32_t i = 0; i < u->nslots; i++)
		u->free_slots[i] = u->nslots - 1 - i;
	u->nfree = u->nslots;

	*why = "eventfd";
	u->disk.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->disk.event_fd < 0) {
		ret = -errno;
		goto err;
	}
	*why = "io_uring_register_eventfd";
	ret = io_uring_register_eventfd(&u->ring, u->disk.event_fd);
	if (ret)
		goto err;

	ret = io_uring_register_files(&u->ring, &s->fd, 1);
	if (ret == 0)
		u->fixed_file = true;
	else
		log_debug(u->prefix, "io_uring: cannot register the file (%s); using its fd",
			  strerror(-ret));

	if (u->direct) {
		*why = "bounce buffers";
		ret = uring_setup_direct(u, s);
		if (ret)
			goto err;
	}

	u->disk.fd = s->fd;
	u->disk.inline_max = s->inline_max;
	*out = &u->disk;
	log_debug(u->prefix,
		  "io_uring engine: %u entries, %u slots (%zu KiB pieces), setup flags 0x%x%s%s",
		  u->ring.sq.ring_entries, u->nslots, u->bounce.buf_size / 1024, u->setup_flags,
		  u->fixed_file ? ", fixed file" : "",
		  u->direct ? (u->fixed_bufs ? ", O_DIRECT via registered bounce buffers"
					     : ", O_DIRECT via bounce buffers")
			    : "");
	return 0;
err:
	uring_destroy(u); /* u->disk.fd is still -1: the caller keeps s->fd */
	return ret;
}
