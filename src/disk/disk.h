/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Disk backends: an image file or block device behind a small ops table.
 * Knows nothing of virtio or Xen. Requests are queued with submit(),
 * pushed to the kernel together with kick() (one io_uring_submit per batch),
 * and completed from reap(), which runs each request's callback. Callbacks
 * never run inside submit(): callers can rely on that ordering.
 */
#ifndef XVB_DISK_H
#define XVB_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum disk_op { DISK_READ, DISK_WRITE, DISK_FLUSH };

struct disk_req {
	enum disk_op op;
	uint64_t offset; /* bytes; the caller checked the range */
	const struct iovec *iov;
	uint32_t iovcnt;
	uint64_t len; /* sum of iov lengths */
	/* result: bytes moved (== len) or -errno. Runs from disk reap/drain. */
	void (*complete)(struct disk_req *req, int64_t result);
	/* Engine-private. */
	uint64_t done; /* bytes moved so far: short I/O is resubmitted */
	struct disk_req *next;
};

enum disk_cache_mode {
	DISK_CACHE_WRITEBACK = 0, /* page cache; FLUSH = fdatasync */
	DISK_CACHE_DIRECT,        /* O_DIRECT through bounce buffers (never guest memory) */
};

/* Whether the io_uring engine does small buffered requests itself at submit. */
enum disk_inline {
	DISK_INLINE_AUTO = 0, /* images on a memory file system (tmpfs, ramfs) */
	DISK_INLINE_NEVER,
	DISK_INLINE_ALWAYS, /* any buffered image (tests) */
};

struct disk_params {
	const char *path;
	bool read_only;
	enum disk_cache_mode cache;
	bool force_sync; /* use the synchronous engine (tests, or no io_uring) */
	enum disk_inline inline_io;
	uint32_t queue_depth; /* most requests in flight at once */
};

struct disk;

struct disk_ops {
	const char *name; /* "io_uring", "sync" */
	int (*submit)(struct disk *disk, struct disk_req *req); /* -errno: not queued */
	int (*kick)(struct disk *disk);  /* hand queued requests to the kernel */
	int (*reap)(struct disk *disk);  /* complete what finished; returns count or -errno */
	int (*drain)(struct disk *disk); /* wait for and complete everything in flight */
	void (*close)(struct disk *disk);
};

struct disk {
	const struct disk_ops *ops;
	int fd;
	int event_fd;  /* readable when reap() has work; for the event loop */
	uint64_t size; /* bytes */
	uint32_t logical_block_size;  /* 512 for files; BLKSSZGET for devices */
	uint32_t physical_block_size; /* BLKPBSZGET / st_blksize hint */
	bool read_only;
	bool is_block_device;
	/* io_uring engine: buffered reads and writes up to this many bytes are
	 * done at submit (still completed from reap); 0: none. */
	uint32_t inline_max;
	uint32_t inflight;
};

/*
 * Open path and pick an engine: io_uring, or the synchronous one (logged
 * with the reason) when io_uring is unavailable or force_sync is set.
 * -errno on failure (-ENOENT, -EACCES, -EINVAL for a non-file...).
 */
int disk_open(const struct disk_params *params, const char *log_prefix, struct disk **out);
void disk_close(struct disk *disk); /* drains first; NULL-tolerant */

static inline int disk_submit(struct disk *d, struct disk_req *r) { return d->ops->submit(d, r); }
static inline int disk_kick(struct disk *d) { return d->ops->kick(d); }
static inline int disk_reap(struct disk *d) { return d->ops->reap(d); }
static inline int disk_drain(struct disk *d) { return d->ops->drain(d); }

#endif
