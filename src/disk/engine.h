/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internal to src/disk: what disk.c shares with the two engines (uring.c,
 * sync.c). The opened file's description, the request lists (linked through
 * req->next, so no allocation per request), iovec walking for resubmitting
 * short I/O without touching the caller's array, and the O_DIRECT bounce
 * buffers.
 */
#ifndef XVB_DISK_ENGINE_H
#define XVB_DISK_ENGINE_H

#include <stddef.h>

#include "disk.h"

/*
 * O_DIRECT never reaches guest memory (a VM_PFNMAP foreign mapping on real
 * Xen): data goes through bounce buffers. The io_uring engine has one piece
 * per request the queue can hold (at least DISK_BOUNCE_MIN_BUFS, at most
 * DISK_BOUNCE_MAX_BUFS), each DISK_BOUNCE_SIZE bytes or smaller so that the
 * pool stays within DISK_BOUNCE_POOL_BYTES per disk (never below
 * DISK_BOUNCE_MIN_PIECE, which holds whole blocks). A larger request moves
 * as several pieces at once, one SQE each. The sync engine has one buffer.
 */
#define DISK_BOUNCE_SIZE (256u * 1024u)
#define DISK_BOUNCE_MIN_PIECE (64u * 1024u)
#define DISK_BOUNCE_MIN_BUFS 32u
#define DISK_BOUNCE_MAX_BUFS 256u
#define DISK_BOUNCE_POOL_BYTES (32u * 1024u * 1024u)
#define DISK_BOUNCE_MIN_ALIGN 4096u

/*
 * A memory file system (tmpfs, ramfs) has no device to wait for, yet the
 * kernel cannot start a non-blocking read or write on it (no FMODE_NOWAIT:
 * preadv2(RWF_NOWAIT) fails with EOPNOTSUPP on Linux 6.18), so io_uring
 * hands every request to a worker thread: a wake-up and a thread switch
 * each, several times the cost of the copy for 4 KiB. The io_uring engine
 * does buffered requests up to DISK_INLINE_MAX bytes on such images itself
 * with preadv/pwritev at submit; larger ones still go to io_uring, whose
 * workers copy them in parallel. So does whatever comes after
 * DISK_INLINE_BATCH bytes between two kicks: copying is done on the
 * event-loop thread, and a vCPU whose ioreq arrives meanwhile waits for it
 * (256 KiB is some 25 us of memcpy).
 */
#define DISK_INLINE_MAX (64u * 1024u)
#define DISK_INLINE_BATCH (256u * 1024u)

/* Logical block size of an image file (the device above works in 512-byte sectors). */
#define DISK_FILE_BLOCK_SIZE 512u

/* Largest logical block we accept: a bounce buffer holds whole blocks. */
#define DISK_MAX_BLOCK_SIZE 65536u

#define DISK_PREFIX_MAX 64u

/* What disk_open found out. An engine owns fd once its open succeeded. */
struct disk_setup {
	int fd;
	uint64_t size;
	uint32_t logical_block_size;
	uint32_t physical_block_size;
	uint32_t mem_align; /* bounce buffer alignment for O_DIRECT */
	bool read_only;
	bool is_block_device;
	bool direct;
	uint32_t inline_max; /* see DISK_INLINE_MAX; 0 for O_DIRECT */
	const char *log_prefix; /* may be NULL */
	uint32_t queue_depth;
};

/* On failure *why names the step that failed (for the fallback message). */
int disk_uring_open(const struct disk_setup *s, struct disk **out, const char **why);
int disk_sync_open(const struct disk_setup *s, struct disk **out);

/* The fields of struct disk every engine fills the same way. */
void disk_init_common(struct disk *d, const struct disk_ops *ops, const struct disk_setup *s);
void disk_copy_prefix(char *dst, const char *prefix);

/* FIFO of requests, linked through req->next. */
struct disk_req_list {
	struct disk_req *head;
	struct disk_req **tail;
};

static inline void disk_list_init(struct disk_req_list *l)
{
	l->head = NULL;
	l->tail = &l->head;
}

static inline void disk_list_push(struct disk_req_list *l, struct disk_req *req)
{
	req->next = NULL;
	*l->tail = req;
	l->tail = &req->next;
}

static inline void disk_list_push_front(struct disk_req_list *l, struct disk_req *req)
{
	req->next = l->head;
	if (!l->head)
		l->tail = &req->next;
	l->head = req;
}

static inline struct disk_req *disk_list_pop(struct disk_req_list *l)
{
	struct disk_req *req = l->head;

	if (req) {
		l->head = req->next;
		if (!l->head)
			l->tail = &l->head;
		req->next = NULL;
	}
	return req;
}

/*
 * Checks made at submit. Returns true when req must complete without any
 * I/O, with *result: -EBADF for a write to a read-only disk, -EINVAL for a
 * request O_DIRECT cannot do (not in logical blocks) or a malformed iovec
 * array, 0 for an empty read or write.
 */
bool disk_req_precheck(const struct disk *d, bool direct, const struct disk_req *req,
		       int64_t *result);

/*
 * Requests that finished before reaching the callback: while on this list
 * req->done holds the result. disk_run_finished() completes what is on the
 * list now (not what callbacks add meanwhile) and returns how many.
 */
void disk_finish(struct disk_req_list *l, struct disk_req *req, int64_t result);
unsigned disk_run_finished(struct disk *d, struct disk_req_list *l);

/*
 * What every engine's submit() starts with: refuse a request no engine
 * takes (-EINVAL), count req in flight, and finish at once (on finished,
 * with an eventfd wake-up) what disk_req_precheck() says needs no I/O,
 * returning 1. 0: the engine must do the I/O.
 */
int disk_submit_begin(struct disk *d, bool direct, struct disk_req_list *finished,
		      struct disk_req *req);

/*
 * Moves what is left of a read or write (from req->done) with repeated
 * calls of once(ctx, req), which returns bytes moved (at most what is
 * left) or -errno; EINTR and EAGAIN are retried, 0 (the file shrank) is
 * -EIO. Returns req->len or -errno.
 */
int64_t disk_rw_loop(struct disk_req *req, ssize_t (*once)(void *ctx, struct disk_req *req),
		     void *ctx);
/* One preadv/pwritev of req's iovecs from req->done on the file *(int *)fd_ctx. */
ssize_t disk_rw_buffered_once(void *fd_ctx, struct disk_req *req);

/* Wake the event loop / consume the wake-ups (the fd is non-blocking). */
void disk_eventfd_signal(int efd);
void disk_eventfd_drain(int efd);

/*
 * pos bytes into an iovec array -> element index and offset in it, skipping
 * empty elements, so that *off < iov[*idx].iov_len. *idx == iovcnt when pos
 * is at or past the end.
 */
void disk_iov_locate(const struct iovec *iov, uint32_t iovcnt, uint64_t pos, uint32_t *idx,
		     size_t *off);
/* Copy len bytes starting pos bytes into the iovec array; returns bytes copied. */
size_t disk_iov_to_buf(const struct iovec *iov, uint32_t iovcnt, uint64_t pos, void *buf,
		       size_t len);
size_t disk_iov_from_buf(const struct iovec *iov, uint32_t iovcnt, uint64_t pos,
			 const void *buf, size_t len);

/* Aligned bounce buffers, one contiguous allocation. */
struct disk_bounce {
	uint8_t *mem;
	size_t buf_size;
	uint32_t count;
};
int disk_bounce_alloc(struct disk_bounce *b, uint32_t count, size_t buf_size, size_t align);
void disk_bounce_free(struct disk_bounce *b); /* NULL-tolerant, idempotent */

static inline void *disk_bounce_buf(const struct disk_bounce *b, uint32_t i)
{
	return b->mem + (size_t)i * b->buf_size;
}

#endif
