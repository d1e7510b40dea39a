/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening a disk (image file or block device), finding its size and block
 * sizes, and picking an engine: io_uring, or the synchronous one with a
 * logged reason. Also the helpers both engines share (engine.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "compiler.h"
#include "engine.h"
#include "log.h"

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

void disk_copy_prefix(char *dst, const char *prefix)
{
	if (!prefix)
		prefix = "disk";
	/* Truncation only shortens a log prefix. */
	snprintf(dst, DISK_PREFIX_MAX, "%s", prefix);
}

void disk_init_common(struct disk *d, const struct disk_ops *ops, const struct disk_setup *s)
{
	*d = (struct disk){
		.ops = ops,
		.fd = -1,
		.event_fd = -1,
		.size = s->size,
		.logical_block_size = s->logical_block_size,
		.physical_block_size = s->physical_block_size,
		.read_only = s->read_only,
		.is_block_device = s->is_block_device,
	};
}

bool disk_req_precheck(const struct disk *d, bool direct, const struct disk_req *req,
		       int64_t *result)
{
	if (req->op == DISK_FLUSH)
		return false;
	if (req->op == DISK_WRITE && d->read_only) {
		*result = -EBADF;
		return true;
	}
	if (req->len == 0) {
		*result = 0;
		return true;
	}
	if (!req->iov || req->iovcnt == 0 || req->iovcnt > IOV_MAX) {
		*result = -EINVAL;
		return true;
	}
	if (direct && ((req->offset | req->len) & (d->logical_block_size - 1))) {
		*result = -EINVAL;
		return true;
	}
	return false;
}

void disk_finish(struct disk_req_list *l, struct disk_req *req, int64_t result)
{
	req->done = (uint64_t)result;
	disk_list_push(l, req);
}

int disk_submit_begin(struct disk *d, bool direct, struct disk_req_list *finished,
		      struct disk_req *req)
{
	int64_t result;

	if (req->op != DISK_READ && req->op != DISK_WRITE && req->op != DISK_FLUSH)
		return -EINVAL;
	if (!req->complete)
		return -EINVAL;
	req->done = 0;
	req->next = NULL;
	d->inflight++;
	if (disk_req_precheck(d, direct, req, &result)) {
		disk_finish(finished, req, result);
		disk_eventfd_signal(d->event_fd);
		return 1;
	}
	return 0;
}

unsigned disk_run_finished(struct disk *d, struct disk_req_list *l)
{
	struct disk_req *req = l->head;
	unsigned n = 0;

	/* Detach first: callbacks may submit requests that finish at once. */
	disk_list_init(l);
	while (req) {
		struct disk_req *next = req->next;

		req->next = NULL;
		d->inflight--;
		n++;
		req->complete(req, (int64_t)req->done);
		req = next;
	}
	return n;
}

int64_t disk_rw_loop(struct disk_req *req, ssize_t (*once)(void *ctx, struct disk_req *req),
		     void *ctx)
{
	while (req->done < req->len) {
		ssize_t n = once(ctx, req);

		if (n == -EINTR || n == -EAGAIN)
			continue;
		if (n < 0)
			return n;
		/* The caller checked the range: nothing to read means the file shrank. */
		if (n == 0)
			return -EIO;
		if ((uint64_t)n > req->len - req->done)
			n = (ssize_t)(req->len - req->done);
		req->done += (uint64_t)n;
	}
	return (int64_t)req->len;
}

ssize_t disk_rw_buffered_once(void *fd_ctx, struct disk_req *req)
{
	bool rd = req->op == DISK_READ;
	int fd = *(const int *)fd_ctx;
	off_t pos = (off_t)(req->offset + req->done);
	uint32_t idx;
	size_t off;
	ssize_t n;

	disk_iov_locate(req->iov, req->iovcnt, req->done, &idx, &off);
	if (idx >= req->iovcnt)
		return -EINVAL; /* iov lengths sum to less than len */
	if (off) {
		/* Resuming inside an element: finish that element alone. */
		char *base = (char *)req->iov[idx].iov_base + off;
		size_t len = req->iov[idx].iov_len - off;

		n = rd ? pread(fd, base, len, pos) : pwrite(fd, base, len, pos);
	} else {
		const struct iovec *iov = &req->iov[idx];
		int cnt = (int)(req->iovcnt - idx);

		n = rd ? preadv(fd, iov, cnt, pos) : pwritev(fd, iov, cnt, pos);
	}
	return n < 0 ? -errno : n;
}

void disk_eventfd_signal(int efd)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already huge: the loop will wake anyway. */
	while (write(efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void disk_eventfd_drain(int efd)
{
	uint64_t count;

	while (read(efd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
}

void disk_iov_locate(const struct iovec *iov, uint32_t iovcnt, uint64_t pos, uint32_t *idx,
		     size_t *off)
{
	uint32_t i = 0;

	while (i < iovcnt && pos >= iov[i].iov_len) {
		pos -= iov[i].iov_len;
		i++;
	}
	*idx = i;
	*off = i < iovcnt ? (size_t)pos : 0;
}

/* Copy len bytes between the iovec array (from pos) and into_buf or from_buf (one is NULL). */
static size_t iov_copy(const struct iovec *iov, uint32_t iovcnt, uint64_t pos, uint8_t *into_buf,
		       const uint8_t *from_buf, size_t len)
{
	size_t copied = 0, off;
	uint32_t i;

	disk_iov_locate(iov, iovcnt, pos, &i, &off);
	for (; i < iovcnt && copied < len; i++, off = 0) {
		uint8_t *elem = (uint8_t *)iov[i].iov_base + off;
		size_t n = iov[i].iov_len - off;

		if (n > len - copied)
			n = len - copied;
		if (into_buf)
			memcpy(into_buf + copied, elem, n);
		else
			memcpy(elem, from_buf + copied, n);
		copied += n;
	}
	return copied;
}

size_t disk_iov_to_buf(const struct iovec *iov, uint32_t iovcnt, uint64_t pos, void *buf,
		       size_t len)
{
	return iov_copy(iov, iovcnt, pos, buf, NULL, len);
}

size_t disk_iov_from_buf(const struct iovec *iov, uint32_t iovcnt, uint64_t pos,
			 const void *buf, size_t len)
{
	return iov_copy(iov, iovcnt, pos, NULL, buf, len);
}

int disk_bounce_alloc(struct disk_bounce *b, uint32_t count, size_t buf_size, size_t align)
{
	void *mem = NULL;
	size_t total;
	int ret;

	if (mul_overflows((size_t)count, buf_size, &total) || total == 0)
		return -EINVAL;
	ret = posix_memalign(&mem, align, total);
	if (ret)
		return -ret;
	/* Touch it now, not on the first request. */
	memset(mem, 0, total);
	*b = (struct disk_bounce){ .mem = mem, .buf_size = buf_size, .count = count };
	return 0;
}

void disk_bounce_free(struct disk_bounce *b)
{
	if (!b)
		return;
	free(b->mem);
	b->mem = NULL;
	b->count = 0;
}

/* Block sizes of a block device. */
static int probe_block_device(int fd, struct disk_setup *s)
{
	uint64_t size;
	int lbs;
	unsigned int pbs;

	if (ioctl(fd, BLKGETSIZE64, &size) < 0 || ioctl(fd, BLKSSZGET, &lbs) < 0)
		return -errno;
	if (ioctl(fd, BLKPBSZGET, &pbs) < 0)
		pbs = 0;
	if (lbs <= 0)
		return -EINVAL;
	s->size = size;
	s->logical_block_size = (uint32_t)lbs;
	s->physical_block_size = pbs;
	s->is_block_device = true;
	return 0;
}

/*
 * A regular file: 512-byte logical blocks, st_blksize as the physical hint.
 * With O_DIRECT the file system may need larger alignment (4 KiB sector
 * disks): STATX_DIOALIGN says how much.
 */
static void probe_regular_file(int fd, const struct stat *st, struct disk_setup *s)
{
	s->size = (uint64_t)st->st_size;
	s->logical_block_size = DISK_FILE_BLOCK_SIZE;
	s->physical_block_size = (uint32_t)st->st_blksize;
#ifdef STATX_DIOALIGN
	if (s->direct) {
		struct statx stx;

		if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
		    (stx.stx_mask & STATX_DIOALIGN)) {
			if (stx.stx_dio_offset_align > s->logical_block_size)
				s->logical_block_size = stx.stx_dio_offset_align;
			if (stx.stx_dio_mem_align > s->mem_align)
				s->mem_align = stx.stx_dio_mem_align;
		}
	}
#else
	(void)fd;
#endif
}

/* Why small buffered requests are better done at submit (DISK_INLINE_MAX); NULL: they are not. */
static const char *inline_reason(const struct disk_params *params, const struct disk_setup *s)
{
	struct statfs sfs;

	if (s->direct || params->inline_io == DISK_INLINE_NEVER)
		return NULL;
	if (params->inline_io == DISK_INLINE_ALWAYS)
		return "requested";
	if (s->is_block_device || fstatfs(s->fd, &sfs) < 0)
		return NULL;
	if (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC)
		return "the image is on a memory file system";
	return NULL;
}

static int open_engine(const struct disk_params *params, const struct disk_setup *s,
		       const char *prefix, struct disk **out)
{
	const char *env = getenv("XVB_FORCE_SYNC_DISK");
	const char *why = "io_uring";
	int ret;

	if (params->force_sync || (env && strcmp(env, "1") == 0)) {
		log_info(prefix, "using the synchronous disk engine (%s)",
			 params->force_sync ? "requested" : "XVB_FORCE_SYNC_DISK=1");
		return disk_sync_open(s, out);
	}
	ret = disk_uring_open(s, out, &why);
	if (ret == 0)
		return 0;
	log_warn(prefix, "io_uring unavailable (%s: %s); using the synchronous disk engine", why,
		 strerror(-ret));
	return disk_sync_open(s, out);
}

int disk_open(const struct disk_params *params, const char *log_prefix, struct disk **out)
{
	struct disk_setup s = { .fd = -1 };
	const char *why_inline;
	struct stat st;
	int flags, ret;

	if (!params || !params->path || !out)
		return -EINVAL;
	*out = NULL;
	if (params->cache != DISK_CACHE_WRITEBACK && params->cache != DISK_CACHE_DIRECT)
		return -EINVAL;
	if (params->inline_io != DISK_INLINE_AUTO && params->inline_io != DISK_INLINE_NEVER &&
	    params->inline_io != DISK_INLINE_ALWAYS)
		return -EINVAL;

	s.read_only = params->read_only;
	s.direct = params->cache == DISK_CACHE_DIRECT;
	s.queue_depth = params->queue_depth;
	s.log_prefix = log_prefix;
	s.mem_align = DISK_BOUNCE_MIN_ALIGN;

	flags = (s.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (s.direct ? O_DIRECT : 0);
	s.fd = open(params->path, flags);
	if (s.fd < 0)
		return -errno;
	if (fstat(s.fd, &st) < 0) {
		ret = -errno;
		goto err;
	}
	if (S_ISREG(st.st_mode)) {
		probe_regular_file(s.fd, &st, &s);
	} else if (S_ISBLK(st.st_mode)) {
		ret = probe_block_device(s.fd, &s);
		if (ret)
			goto err;
	} else {
		ret = -EINVAL;
		goto err;
	}

	if (!is_pow2(s.logical_block_size) || s.logical_block_size < DISK_FILE_BLOCK_SIZE ||
	    s.logical_block_size > DISK_MAX_BLOCK_SIZE) {
		ret = -EINVAL;
		goto err;
	}
	/* The physical size is only a hint: keep it sane rather than fail. */
	if (!is_pow2(s.physical_block_size) || s.physical_block_size < s.logical_block_size ||
	    s.physical_block_size > DISK_MAX_BLOCK_SIZE)
		s.physical_block_size = s.logical_block_size;
	if (s.mem_align < s.logical_block_size)
		s.mem_align = s.logical_block_size;
	if (!is_pow2(s.mem_align) || s.mem_align > DISK_MAX_BLOCK_SIZE) {
		ret = -EINVAL;
		goto err;
	}

	why_inline = inline_reason(params, &s);
	if (why_inline)
		s.inline_max = DISK_INLINE_MAX;
	ret = open_engine(params, &s, log_prefix, out);
	if (ret)
		goto err;
	if ((*out)->inline_max)
		log_info(log_prefix,
			 "reads and writes up to %u KiB are done at submit, not by io_uring workers (%s)",
			 (*out)->inline_max / 1024, why_inline);
	return 0;
err:
	close(s.fd);
	return ret;
}

void disk_close(struct disk *disk)
{
	if (disk)
		disk->ops->close(disk);
}
