/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Disk backends (src/disk): every behaviour is tested against both engines,
 * io_uring and sync, and io_uring doing small buffered requests at submit
 * (DISK_INLINE_MAX, automatic on tmpfs), on temporary files, loop devices
 * and O_DIRECT. ENGINE_TEST(name) defines uring_name, sync_name and
 * inline_name from one body.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/disk/disk.h"
#include "../../src/disk/engine.h"
#include "check.h"
#include "compiler.h"

enum engine { ENG_URING, ENG_SYNC, ENG_INLINE };

#define ENGINE_TEST(name)                                  \
	static void name(enum engine eng);                 \
	TEST(uring_##name) { name(ENG_URING); }            \
	TEST(sync_##name) { name(ENG_SYNC); }              \
	TEST(inline_##name) { name(ENG_INLINE); }          \
	static void name(enum engine eng)

/* ---- cleanup that survives a failed CHECK (which longjmps out) ---- */

#define MAX_CLEANUPS 32
static char cleanup_files[MAX_CLEANUPS][PATH_MAX];
static char cleanup_loops[MAX_CLEANUPS][64];

static void cleanup_run(void)
{
	for (int i = 0; i < MAX_CLEANUPS; i++) {
		if (cleanup_loops[i][0]) {
			char cmd[sizeof(cleanup_loops[0]) + 64];

			snprintf(cmd, sizeof(cmd), "losetup -d %.63s 2>/dev/null",
				 cleanup_loops[i]);
			if (system(cmd) != 0)
				printf("# could not detach %s\n", cleanup_loops[i]);
			cleanup_loops[i][0] = '\0';
		}
	}
	for (int i = 0; i < MAX_CLEANUPS; i++) {
		if (cleanup_files[i][0]) {
			unlink(cleanup_files[i]);
			cleanup_files[i][0] = '\0';
		}
	}
}

static void cleanup_add_file(const char *path)
{
	for (int i = 0; i < MAX_CLEANUPS; i++) {
		if (!cleanup_files[i][0]) {
			snprintf(cleanup_files[i], sizeof(cleanup_files[i]), "%s", path);
			return;
		}
	}
}

static void cleanup_add_loop(const char *dev)
{
	for (int i = 0; i < MAX_CLEANUPS; i++) {
		if (!cleanup_loops[i][0]) {
			snprintf(cleanup_loops[i], sizeof(cleanup_loops[i]), "%s", dev);
			return;
		}
	}
}

__attribute__((constructor)) static void register_atexit(void)
{
	atexit(cleanup_run);
}

/* ---- files ---- */

static const char *tmp_dir(void)
{
	const char *d = getenv("TMPDIR");

	return d && *d ? d : "/tmp";
}

/* A file of size bytes in dir, filled with fill(offset) bytes. */
static void make_file(const char *dir, char *path, uint64_t size)
{
	int fd;

	snprintf(path, PATH_MAX, "%s/xvb-disk-XXXXXX", dir);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	cleanup_add_file(path);
	CHECK_EQ(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static uint8_t pat(uint64_t off, uint8_t seed)
{
	/* Depends on every bit of off: no period a misplaced chunk could hide in. */
	uint64_t x = (off + 1) * 0x9E3779B97F4A7C15ull + seed;

	x ^= x >> 29;
	return (uint8_t)(x >> 56);
}

static void fill_pat(uint8_t *buf, size_t len, uint64_t off, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(off + i, seed);
}

/* Check bytes [off, off+len) of path via pread: the pattern, or zeros (seed < 0). */
static bool file_has(const char *path, uint64_t off, size_t len, int seed)
{
	uint8_t *buf = malloc(len);
	bool ok = true;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !buf || pread(fd, buf, len, (off_t)off) != (ssize_t)len)
		ok = false;
	for (size_t i = 0; ok && i < len; i++) {
		uint8_t want = seed < 0 ? 0 : pat(off + i, (uint8_t)seed);

		if (buf[i] != want) {
			printf("# %s: byte 0x%llx is 0x%02x, want 0x%02x\n", path,
			       (unsigned long long)(off + i), buf[i], want);
			ok = false;
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

static int uring_works = -1;

static bool uring_available(void)
{
	if (uring_works < 0) {
		struct io_uring ring;

		uring_works = io_uring_queue_init(8, &ring, 0) == 0;
		if (uring_works)
			io_uring_queue_exit(&ring);
		else
			printf("# io_uring unavailable here: io_uring cases run the sync engine\n");
	}
	return uring_works;
}

static struct disk *open_disk_mode(enum engine eng, const char *path, bool ro,
				   enum disk_cache_mode cache, uint32_t qd)
{
	struct disk_params p = {
		.path = path,
		.read_only = ro,
		.cache = cache,
		.force_sync = eng == ENG_SYNC,
		/* Whatever file system TMPDIR is on: */
		.inline_io = eng == ENG_INLINE ? DISK_INLINE_ALWAYS : DISK_INLINE_NEVER,
		.queue_depth = qd,
	};
	struct disk *d = NULL;

	unsetenv("XVB_FORCE_SYNC_DISK");
	CHECK_EQ(disk_open(&p, "test", &d), 0);
	CHECK(d != NULL);
	if (eng == ENG_SYNC || !uring_available()) {
		CHECK(strcmp(d->ops->name, "sync") == 0);
		CHECK_EQ(d->inline_max, 0);
	} else {
		CHECK(strcmp(d->ops->name, "io_uring") == 0);
		CHECK_EQ(d->inline_max,
			 eng == ENG_INLINE && cache == DISK_CACHE_WRITEBACK ? DISK_INLINE_MAX : 0);
	}
	return d;
}

static struct disk *open_disk(enum engine eng, const char *path, bool ro)
{
	return open_disk_mode(eng, path, ro, DISK_CACHE_WRITEBACK, 64);
}

/* ---- requests ---- */

#define TREQ_MAX_IOV 512

struct treq {
	struct disk_req req;
	struct iovec iov[TREQ_MAX_IOV];
	uint8_t *buf;
	int64_t result;
	int completions;
};

static int total_completions;
static bool in_submit;
static int completions_in_submit;

static void treq_done(struct disk_req *r, int64_t result)
{
	struct treq *t = container_of(r, struct treq, req);

	t->result = result;
	t->completions++;
	total_completions++;
	if (in_submit)
		completions_in_submit++;
}

/* A request over one malloc'd buffer split into iovecs of the given sizes (0: one iovec). */
static struct treq *treq_new(enum disk_op op, uint64_t offset, size_t len, const size_t *sizes,
			     uint32_t nsizes)
{
	struct treq *t = calloc(1, sizeof(*t));
	size_t pos = 0;

	CHECK(t != NULL);
	t->buf = calloc(1, len ? len : 1);
	CHECK(t->buf != NULL);
	t->req = (struct disk_req){ .op = op, .offset = offset, .len = len, .complete = treq_done };
	t->result = INT64_MIN;
	if (op == DISK_FLUSH)
		return t;
	if (!nsizes) {
		t->iov[0] = (struct iovec){ .iov_base = t->buf, .iov_len = len };
		t->req.iovcnt = 1;
	} else {
		for (uint32_t i = 0; i < nsizes && pos < len; i++) {
			size_t n = sizes[i] < len - pos ? sizes[i] : len - pos;

			CHECK(i < TREQ_MAX_IOV);
			t->iov[i] = (struct iovec){ .iov_base = t->buf + pos, .iov_len = n };
			t->req.iovcnt = i + 1;
			pos += n;
		}
		CHECK_EQ(pos, len);
	}
	t->req.iov = t->iov;
	return t;
}

static void treq_free(struct treq *t)
{
	if (t) {
		free(t->buf);
		free(t);
	}
}

static void submit(struct disk *d, struct treq *t)
{
	in_submit = true;
	CHECK_EQ(disk_submit(d, &t->req), 0);
	in_submit = false;
}

static bool eventfd_ready(struct disk *d, int timeout_ms)
{
	struct pollfd pfd = { .fd = d->event_fd, .events = POLLIN };
	int r;

	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	return r == 1 && (pfd.revents & POLLIN);
}

/* Kick, then reap each time the eventfd fires, until nothing is in flight. */
static void complete_all(struct disk *d)
{
	CHECK_EQ(disk_kick(d), 0);
	for (int rounds = 0; d->inflight; rounds++) {
		CHECK(rounds < 100000);
		CHECK(eventfd_ready(d, 5000));
		CHECK(disk_reap(d) >= 0);
	}
}

/* One request, run to completion; returns its result. */
static int64_t do_io(struct disk *d, enum disk_op op, uint64_t off, uint8_t *data, size_t len)
{
	struct treq *t = treq_new(op, off, len, NULL, 0);
	int64_t result;

	if (op == DISK_WRITE)
		memcpy(t->buf, data, len);
	submit(d, t);
	complete_all(d);
	CHECK_EQ(t->completions, 1);
	if (op == DISK_READ && data)
		memcpy(data, t->buf, len);
	result = t->result;
	treq_free(t);
	return result;
}

static int64_t write_pat(struct disk *d, uint64_t off, size_t len, uint8_t seed)
{
	uint8_t *buf = malloc(len);
	int64_t r;

	CHECK(buf != NULL);
	fill_pat(buf, len, off, seed);
	r = do_io(d, DISK_WRITE, off, buf, len);
	free(buf);
	return r;
}

/* Read through the engine and compare with the pattern. */
static bool read_has(struct disk *d, uint64_t off, size_t len, uint8_t seed)
{
	uint8_t *buf = malloc(len);
	bool ok;

	CHECK(buf != NULL);
	CHECK_EQ(do_io(d, DISK_READ, off, buf, len), (int64_t)len);
	ok = true;
	for (size_t i = 0; i < len && ok; i++)
		ok = buf[i] == pat(off + i, seed);
	free(buf);
	return ok;
}

/* ---- data path ---- */

ENGINE_TEST(write_read_land_at_offsets)
{
	char path[PATH_MAX];
	struct disk *d;

	make_file(tmp_dir(), path, 1 << 20);
	d = open_disk(eng, path, false);
	CHECK_EQ(write_pat(d, 0, 4096, 1), 4096);
	CHECK_EQ(write_pat(d, 123 * 512, 8192, 2), 8192);
	CHECK_EQ(write_pat(d, (1 << 20) - 512, 512, 3), 512);
	CHECK(file_has(path, 0, 4096, 1));
	CHECK(file_has(path, 4096, 123 * 512 - 4096, -1));
	CHECK(file_has(path, 123 * 512, 8192, 2));
	CHECK(file_has(path, 123 * 512 + 8192, 512, -1));
	CHECK(file_has(path, (1 << 20) - 512, 512, 3));
	CHECK(read_has(d, 123 * 512, 8192, 2));
	CHECK(read_has(d, 0, 4096, 1));
	disk_close(d);
}

ENGINE_TEST(vectored_io_with_many_iovecs)
{
	size_t wsizes[300], rsizes[TREQ_MAX_IOV], len = 0, rlen = 0;
	char path[PATH_MAX];
	struct treq *w, *r;
	struct disk *d;
	uint32_t nr = 0;

	for (int i = 0; i < 300; i++) {
		wsizes[i] = (size_t)(i % 7 + 1) * 13 + (i % 3);
		len += wsizes[i];
	}
	/* A different split for the read-back. */
	while (rlen < len) {
		rsizes[nr] = (size_t)(nr % 5 + 1) * 17;
		rlen += rsizes[nr++];
	}
	make_file(tmp_dir(), path, 1 << 20);
	d = open_disk(eng, path, false);
	w = treq_new(DISK_WRITE, 4096 + 7, len, wsizes, 300);
	CHECK_EQ(w->req.iovcnt, 300);
	fill_pat(w->buf, len, 4096 + 7, 9);
	submit(d, w);
	complete_all(d);
	CHECK_EQ(w->result, (int64_t)len);
	CHECK(file_has(path, 4096 + 7, len, 9));
	CHECK(file_has(path, 0, 4096 + 7, -1));

	r = treq_new(DISK_READ, 4096 + 7, len, rsizes, nr);
	CHECK(r->req.iovcnt > 200);
	submit(d, r);
	complete_all(d);
	CHECK_EQ(r->result, (int64_t)len);
	CHECK(memcmp(r->buf, w->buf, len) == 0);
	treq_free(w);
	treq_free(r);
	disk_close(d);
}

ENGINE_TEST(flush_completes)
{
	char path[PATH_MAX];
	struct treq *f;
	struct disk *d;

	make_file(tmp_dir(), path, 65536);
	d = open_disk(eng, path, false);
	CHECK_EQ(write_pat(d, 512, 1024, 4), 1024);
	f = treq_new(DISK_FLUSH, 0, 0, NULL, 0);
	submit(d, f);
	complete_all(d);
	CHECK_EQ(f->completions, 1);
	CHECK_EQ(f->result, 0);
	treq_free(f);
	disk_close(d);
}

ENGINE_TEST(requests_beyond_sq_size_all_complete)
{
	enum { N = 400 };
	struct treq *t[N];
	char path[PATH_MAX];
	struct disk *d;

	make_file(tmp_dir(), path, N * 512);
	/* queue depth 1: the ring has the minimum 64 entries. */
	d = open_disk_mode(eng, path, false, DISK_CACHE_WRITEBACK, 1);
	for (int i = 0; i < N; i++) {
		t[i] = treq_new(DISK_WRITE, (uint64_t)i * 512, 512, NULL, 0);
		fill_pat(t[i]->buf, 512, (uint64_t)i * 512, (uint8_t)i);
		submit(d, t[i]);
	}
	CHECK_EQ(d->inflight, N);
	complete_all(d);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(t[i]->completions, 1);
		CHECK_EQ(t[i]->result, 512);
		CHECK(file_has(path, (uint64_t)i * 512, 512, (uint8_t)i));
		treq_free(t[i]);
	}
	CHECK_EQ(d->inflight, 0);
	disk_close(d);
}

ENGINE_TEST(completions_only_from_reap)
{
	struct treq *t[4];
	char path[PATH_MAX];
	struct disk *d;
	int before;

	make_file(tmp_dir(), path, 65536);
	d = open_disk(eng, path, false);
	completions_in_submit = 0;
	before = total_completions;
	t[0] = treq_new(DISK_WRITE, 0, 4096, NULL, 0);
	t[1] = treq_new(DISK_READ, 8192, 4096, NULL, 0);
	t[2] = treq_new(DISK_FLUSH, 0, 0, NULL, 0);
	for (int i = 0; i < 3; i++)
		submit(d, t[i]);
	CHECK_EQ(total_completions, before);
	CHECK_EQ(disk_kick(d), 0);
	CHECK_EQ(total_completions, before);
	CHECK(eventfd_ready(d, 5000));
	/* The I/O may well be done by now, but no callback ran yet... */
	CHECK_EQ(total_completions, before);
	/* ...nor does one run in a submit() that finds completions waiting. */
	t[3] = treq_new(DISK_READ, 0, 512, NULL, 0);
	submit(d, t[3]);
	CHECK_EQ(total_completions, before);
	complete_all(d);
	CHECK_EQ(total_completions, before + 4);
	CHECK_EQ(completions_in_submit, 0);
	for (int i = 0; i < 4; i++)
		treq_free(t[i]);
	disk_close(d);
}

ENGINE_TEST(drain_completes_everything)
{
	enum { N = 150 };
	struct treq *t[N];
	char path[PATH_MAX];
	struct disk *d;

	make_file(tmp_dir(), path, N * 4096);
	d = open_disk(eng, path, false);
	for (int i = 0; i < N; i++) {
		t[i] = treq_new(i % 2 ? DISK_READ : DISK_WRITE, (uint64_t)i * 4096, 4096, NULL, 0);
		submit(d, t[i]);
	}
	/* No kick: drain pushes everything to the kernel itself. */
	CHECK_EQ(disk_drain(d), 0);
	CHECK_EQ(d->inflight, 0);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(t[i]->completions, 1);
		CHECK_EQ(t[i]->result, 4096);
		treq_free(t[i]);
	}
	disk_close(d);
}

ENGINE_TEST(eventfd_signals_completions)
{
	char path[PATH_MAX];
	struct treq *t;
	struct disk *d;

	make_file(tmp_dir(), path, 65536);
	d = open_disk(eng, path, false);
	CHECK(d->event_fd >= 0);
	CHECK(!eventfd_ready(d, 0));
	t = treq_new(DISK_READ, 0, 4096, NULL, 0);
	submit(d, t);
	CHECK_EQ(disk_kick(d), 0);
	CHECK(eventfd_ready(d, 5000));
	CHECK_EQ(disk_reap(d), 1);
	CHECK_EQ(t->result, 4096);
	/* reap consumed the wake-up. */
	CHECK(!eventfd_ready(d, 0));
	treq_free(t);
	disk_close(d);
}

ENGINE_TEST(read_only_write_completes_ebadf)
{
	char path[PATH_MAX];
	struct disk *d;
	struct treq *t;

	make_file(tmp_dir(), path, 65536);
	d = open_disk(eng, path, true);
	CHECK(d->read_only);
	completions_in_submit = 0;
	t = treq_new(DISK_WRITE, 0, 4096, NULL, 0);
	memset(t->buf, 0xaa, 4096);
	submit(d, t);
	CHECK_EQ(t->completions, 0);
	complete_all(d);
	CHECK_EQ(t->completions, 1);
	CHECK_EQ(t->result, -EBADF);
	CHECK_EQ(completions_in_submit, 0);
	CHECK(file_has(path, 0, 4096, -1));
	CHECK_EQ(do_io(d, DISK_READ, 0, NULL, 4096), 4096);
	treq_free(t);
	disk_close(d);
}

ENGINE_TEST(read_past_shrunk_eof_is_eio)
{
	static const size_t sizes[] = { 4096, 4096, 4096, 4096 };
	char path[PATH_MAX];
	struct disk *d;
	struct treq *t;

	make_file(tmp_dir(), path, 65536);
	d = open_disk(eng, path, false);
	CHECK_EQ(truncate(path, 6000), 0);
	/* Short read of 6000 bytes, then the rest from inside iov[1] reads 0. */
	t = treq_new(DISK_READ, 0, 16384, sizes, 4);
	submit(d, t);
	complete_all(d);
	CHECK_EQ(t->result, -EIO);
	treq_free(t);
	/* Entirely past the end. */
	CHECK_EQ(do_io(d, DISK_READ, 32768, NULL, 4096), -EIO);
	disk_close(d);
}

ENGINE_TEST(empty_read_completes_with_zero)
{
	char path[PATH_MAX];
	struct disk *d;
	struct treq *t;

	make_file(tmp_dir(), path, 65536);
	d = open_disk(eng, path, false);
	t = treq_new(DISK_READ, 512, 0, NULL, 0);
	submit(d, t);
	complete_all(d);
	CHECK_EQ(t->completions, 1);
	CHECK_EQ(t->result, 0);
	treq_free(t);
	disk_close(d);
}

ENGINE_TEST(open_reports_size_and_blocks)
{
	char path[PATH_MAX];
	struct disk *d;

	make_file(tmp_dir(), path, 3 * 1048576 + 512);
	d = open_disk(eng, path, false);
	CHECK_EQ_U64(d->size, 3 * 1048576 + 512);
	CHECK_EQ(d->logical_block_size, 512);
	CHECK(d->physical_block_size >= 512);
	CHECK((d->physical_block_size & (d->physical_block_size - 1)) == 0);
	CHECK(!d->is_block_device);
	CHECK(!d->read_only);
	CHECK_EQ(d->inflight, 0);
	disk_close(d);
}

static struct disk *chain_disk;
static struct treq *chain_second;

static void chain_done(struct disk_req *r, int64_t result)
{
	treq_done(r, result);
	/* Submitting from a completion must work: the next read is queued. */
	CHECK_EQ(disk_submit(chain_disk, &chain_second->req), 0);
}

ENGINE_TEST(completion_callback_can_submit)
{
	char path[PATH_MAX];
	struct treq *first;

	make_file(tmp_dir(), path, 65536);
	chain_disk = open_disk(eng, path, false);
	CHECK_EQ(write_pat(chain_disk, 8192, 4096, 5), 4096);
	first = treq_new(DISK_FLUSH, 0, 0, NULL, 0);
	first->req.complete = chain_done;
	chain_second = treq_new(DISK_READ, 8192, 4096, NULL, 0);
	submit(chain_disk, first);
	complete_all(chain_disk);
	CHECK_EQ(first->completions, 1);
	CHECK_EQ(chain_second->completions, 1);
	CHECK_EQ(chain_second->result, 4096);
	for (size_t i = 0; i < 4096; i++)
		CHECK_EQ(chain_second->buf[i], pat(8192 + i, 5));
	treq_free(first);
	treq_free(chain_second);
	disk_close(chain_disk);
}

ENGINE_TEST(close_completes_inflight)
{
	enum { N = 20 };
	struct treq *t[N];
	char path[PATH_MAX];
	struct disk *d;

	make_file(tmp_dir(), path, N * 4096);
	d = open_disk(eng, path, false);
	for (int i = 0; i < N; i++) {
		t[i] = treq_new(DISK_WRITE, (uint64_t)i * 4096, 4096, NULL, 0);
		fill_pat(t[i]->buf, 4096, (uint64_t)i * 4096, 6);
		submit(d, t[i]);
	}
	CHECK_EQ(disk_kick(d), 0);
	disk_close(d);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(t[i]->completions, 1);
		CHECK_EQ(t[i]->result, 4096);
		treq_free(t[i]);
	}
	CHECK(file_has(path, 0, N * 4096, 6));
}

/* ---- block devices (loop) ---- */

/* Attach path to a loop device; false (the case skips) when losetup cannot. */
static bool loop_attach(const char *path, unsigned sector_size, char *dev, size_t devlen)
{
	char cmd[PATH_MAX + 128];
	FILE *p;
	bool ok;

	snprintf(cmd, sizeof(cmd), "losetup --sector-size %u --find --show '%s' 2>/dev/null",
		 sector_size, path);
	p = popen(cmd, "r");
	if (!p)
		return false;
	ok = fgets(dev, (int)devlen, p) != NULL;
	pclose(p);
	if (!ok || strncmp(dev, "/dev/loop", 9) != 0) {
		printf("# skip: losetup does not work here\n");
		return false;
	}
	dev[strcspn(dev, "\n")] = '\0';
	cleanup_add_loop(dev);
	return true;
}

ENGINE_TEST(block_device_round_trip)
{
	char path[PATH_MAX], dev[64];
	struct disk *d;

	make_file(tmp_dir(), path, 4 << 20);
	if (!loop_attach(path, 512, dev, sizeof(dev)))
		return;
	d = open_disk(eng, dev, false);
	CHECK(d->is_block_device);
	CHECK_EQ_U64(d->size, 4 << 20);
	CHECK_EQ(d->logical_block_size, 512);
	CHECK(d->physical_block_size >= 512);
	CHECK_EQ(write_pat(d, 1 << 20, 65536, 7), 65536);
	CHECK(read_has(d, 1 << 20, 65536, 7));
	disk_close(d);
	/* The last close of the device flushed it to the backing file. */
	CHECK(file_has(path, 1 << 20, 65536, 7));
	cleanup_run();
}

ENGINE_TEST(block_device_4k_direct_refuses_unaligned)
{
	char path[PATH_MAX], dev[64];
	struct disk *d;

	make_file(tmp_dir(), path, 4 << 20);
	if (!loop_attach(path, 4096, dev, sizeof(dev)))
		return;
	d = open_disk_mode(eng, dev, false, DISK_CACHE_DIRECT, 64);
	CHECK(d->is_block_device);
	CHECK_EQ(d->logical_block_size, 4096);
	/* 512-byte units are fine for the device above, not for this disk. */
	CHECK_EQ(write_pat(d, 512, 512, 8), -EINVAL);
	CHECK_EQ(write_pat(d, 4096, 4096 + 512, 8), -EINVAL);
	CHECK_EQ(write_pat(d, 8192, 8192, 8), 8192);
	CHECK(read_has(d, 8192, 8192, 8));
	disk_close(d);
	cleanup_run();
}

/* ---- O_DIRECT ---- */

/* A directory whose file system takes O_DIRECT (tmpfs does not). */
static const char *direct_dir(void)
{
	const char *cands[] = { tmp_dir(), "/var/tmp", "build" };

	for (size_t i = 0; i < ARRAY_SIZE(cands); i++) {
		char path[PATH_MAX];
		void *buf = NULL;
		int fd;
		bool ok;

		snprintf(path, sizeof(path), "%s/xvb-probe-XXXXXX", cands[i]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		close(fd);
		fd = open(path, O_RDWR | O_DIRECT);
		ok = fd >= 0 && posix_memalign(&buf, 4096, 4096) == 0 &&
		     pwrite(fd, memset(buf, 0, 4096), 4096, 0) == 4096;
		free(buf);
		if (fd >= 0)
			close(fd);
		unlink(path);
		if (ok)
			return cands[i];
	}
	return NULL;
}

ENGINE_TEST(direct_round_trip_through_bounce)
{
	/* Element sizes that are not block multiples; 1 MiB + 1536 in total. */
	size_t sizes[400];
	size_t len = (1u << 20) + 1536, sum = 0;
	char path[PATH_MAX];
	const char *dir = direct_dir();
	struct treq *w, *r;
	struct disk *d;
	uint32_t n = 0;

	if (!dir) {
		printf("# skip: no file system here takes O_DIRECT\n");
		return;
	}
	while (sum < len) {
		sizes[n] = 3000 + (size_t)(n % 11) * 77;
		sum += sizes[n++];
	}
	make_file(dir, path, 4 << 20);
	d = open_disk_mode(eng, path, false, DISK_CACHE_DIRECT, 64);
	CHECK_EQ(d->logical_block_size % 512, 0);
	w = treq_new(DISK_WRITE, 1 << 20, len, sizes, n);
	fill_pat(w->buf, len, 1 << 20, 10);
	submit(d, w);
	complete_all(d);
	CHECK_EQ(w->result, (int64_t)len);
	CHECK(file_has(path, 1 << 20, len, 10));
	CHECK(file_has(path, 0, 1 << 20, -1));

	/* Read back in another split: 4000-byte elements. */
	for (uint32_t i = 0; i < n; i++)
		sizes[i] = 4000;
	r = treq_new(DISK_READ, 1 << 20, len, sizes, n);
	submit(d, r);
	complete_all(d);
	CHECK_EQ(r->result, (int64_t)len);
	CHECK(memcmp(r->buf, w->buf, len) == 0);
	treq_free(w);
	treq_free(r);
	disk_close(d);
}

ENGINE_TEST(direct_unaligned_request_einval)
{
	const char *dir = direct_dir();
	char path[PATH_MAX];
	struct disk *d;

	if (!dir) {
		printf("# skip: no file system here takes O_DIRECT\n");
		return;
	}
	make_file(dir, path, 1 << 20);
	d = open_disk_mode(eng, path, false, DISK_CACHE_DIRECT, 64);
	CHECK_EQ(write_pat(d, 100, 512, 11), -EINVAL);
	CHECK_EQ(write_pat(d, 0, 1000, 11), -EINVAL);
	CHECK_EQ(do_io(d, DISK_READ, 512 + 1, NULL, 512), -EINVAL);
	CHECK(file_has(path, 0, 4096, -1));
	disk_close(d);
}

ENGINE_TEST(direct_more_requests_than_bounce_buffers)
{
	enum { N = 3 * DISK_BOUNCE_MAX_BUFS + 5 };
	const char *dir = direct_dir();
	struct treq *t[N];
	char path[PATH_MAX];
	struct disk *d;

	if (!dir) {
		printf("# skip: no file system here takes O_DIRECT\n");
		return;
	}
	make_file(dir, path, N * 8192);
	d = open_disk_mode(eng, path, false, DISK_CACHE_DIRECT, 256);
	for (int i = 0; i < N; i++) {
		t[i] = treq_new(DISK_WRITE, (uint64_t)i * 8192, 8192, NULL, 0);
		fill_pat(t[i]->buf, 8192, (uint64_t)i * 8192, 12);
		submit(d, t[i]);
	}
	complete_all(d);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(t[i]->result, 8192);
		treq_free(t[i]);
	}
	CHECK(file_has(path, 0, N * 8192, 12));
	CHECK(read_has(d, 4096, (N - 1) * 8192, 12));
	disk_close(d);
}

ENGINE_TEST(direct_read_past_shrunk_eof_is_eio)
{
	const char *dir = direct_dir();
	char path[PATH_MAX];
	struct disk *d;

	if (!dir) {
		printf("# skip: no file system here takes O_DIRECT\n");
		return;
	}
	make_file(dir, path, 1 << 20);
	d = open_disk_mode(eng, path, false, DISK_CACHE_DIRECT, 64);
	CHECK_EQ(truncate(path, 8192), 0);
	CHECK_EQ(do_io(d, DISK_READ, 4096, NULL, 16384), -EIO);
	disk_close(d);
}

/*
 * Larger than the whole bounce pool at depth 1 (32 pieces): the io_uring
 * engine issues it in many pieces at once, keeps the rest for later, and
 * serves the requests queued behind it afterwards; bytes land where they
 * belong (the pattern depends on every offset bit).
 */
ENGINE_TEST(direct_request_larger_than_bounce_pool)
{
	const size_t big = (size_t)DISK_BOUNCE_MIN_BUFS * DISK_BOUNCE_SIZE + (1u << 20) + 4096;
	const char *dir = direct_dir();
	char path[PATH_MAX];
	struct treq *w, *behind, *r;
	struct disk *d;

	if (!dir) {
		printf("# skip: no file system here takes O_DIRECT\n");
		return;
	}
	make_file(dir, path, big + (1u << 20));
	d = open_disk_mode(eng, path, false, DISK_CACHE_DIRECT, 1);
	w = treq_new(DISK_WRITE, 4096, big, NULL, 0);
	fill_pat(w->buf, big, 4096, 13);
	behind = treq_new(DISK_WRITE, 4096 + big, 8192, NULL, 0);
	fill_pat(behind->buf, 8192, 4096 + big, 13);
	submit(d, w);
	submit(d, behind);
	complete_all(d);
	CHECK_EQ(w->completions, 1);
	CHECK_EQ(w->result, (int64_t)big);
	CHECK_EQ(behind->result, 8192);
	CHECK(file_has(path, 0, 4096, -1));
	CHECK(file_has(path, 4096, big + 8192, 13));

	r = treq_new(DISK_READ, 4096, big, NULL, 0);
	submit(d, r);
	complete_all(d);
	CHECK_EQ(r->completions, 1);
	CHECK_EQ(r->result, (int64_t)big);
	CHECK(memcmp(r->buf, w->buf, big) == 0);
	treq_free(w);
	treq_free(behind);
	treq_free(r);
	disk_close(d);
}

/* Several large requests at once: their pieces interleave in the kernel. */
ENGINE_TEST(direct_large_requests_in_parallel)
{
	enum { N = 6, LEN = 3 * DISK_BOUNCE_SIZE + 8192 };
	const char *dir = direct_dir();
	char path[PATH_MAX];
	struct treq *t[N];
	struct disk *d;

	if (!dir) {
		printf("# skip: no file system here takes O_DIRECT\n");
		return;
	}
	make_file(dir, path, (uint64_t)N * LEN);
	d = open_disk_mode(eng, path, false, DISK_CACHE_DIRECT, 8);
	for (int i = 0; i < N; i++) {
		t[i] = treq_new(DISK_WRITE, (uint64_t)i * LEN, LEN, NULL, 0);
		fill_pat(t[i]->buf, LEN, (uint64_t)i * LEN, 14);
		submit(d, t[i]);
	}
	complete_all(d);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(t[i]->completions, 1);
		CHECK_EQ(t[i]->result, LEN);
		treq_free(t[i]);
	}
	CHECK(file_has(path, 0, (size_t)N * LEN, 14));
	for (int i = 0; i < N; i++) {
		t[i] = treq_new(DISK_READ, (uint64_t)i * LEN, LEN, NULL, 0);
		submit(d, t[i]);
	}
	complete_all(d);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(t[i]->completions, 1);
		CHECK_EQ(t[i]->result, LEN);
		for (size_t j = 0; j < LEN; j++)
			if (t[i]->buf[j] != pat((uint64_t)i * LEN + j, 14))
				CHECK(!"read back the wrong bytes");
		treq_free(t[i]);
	}
	disk_close(d);
}

/*
 * One piece of four fails: the last one ends in a short read then EOF
 * (the file shrank). The request fails with -EIO exactly once, and the
 * disk serves the next request normally (no piece or slot leaked).
 */
ENGINE_TEST(direct_failed_piece_fails_request)
{
	const size_t len = 4 * DISK_BOUNCE_SIZE;
	const char *dir = direct_dir();
	char path[PATH_MAX];
	struct treq *r;
	struct disk *d;

	if (!dir) {
		printf("# skip: no file system here takes O_DIRECT\n");
		return;
	}
	make_file(dir, path, 4u << 20);
	d = open_disk_mode(eng, path, false, DISK_CACHE_DIRECT, 64);
	CHECK_EQ(write_pat(d, 0, 1u << 20, 15), 1u << 20);
	CHECK_EQ(truncate(path, (off_t)(3 * DISK_BOUNCE_SIZE + 8192)), 0);
	r = treq_new(DISK_READ, 0, len, NULL, 0);
	submit(d, r);
	complete_all(d);
	CHECK_EQ(r->completions, 1);
	CHECK_EQ(r->result, -EIO);
	treq_free(r);
	for (int i = 0; i < 3; i++)
		CHECK(read_has(d, 0, 3 * DISK_BOUNCE_SIZE, 15));
	CHECK_EQ(d->inflight, 0);
	disk_close(d);
}

/* A write whose iovecs hold less than len: the piece past them fails it with -EINVAL. */
ENGINE_TEST(direct_write_short_iovecs_fails_in_one_piece)
{
	const size_t len = 4 * DISK_BOUNCE_SIZE;
	const char *dir = direct_dir();
	char path[PATH_MAX];
	struct treq *w;
	struct disk *d;

	if (!dir) {
		printf("# skip: no file system here takes O_DIRECT\n");
		return;
	}
	make_file(dir, path, 4u << 20);
	d = open_disk_mode(eng, path, false, DISK_CACHE_DIRECT, 64);
	w = treq_new(DISK_WRITE, 0, len, NULL, 0);
	fill_pat(w->buf, len, 0, 16);
	w->iov[0].iov_len = 3 * DISK_BOUNCE_SIZE; /* the fourth piece has no data */
	submit(d, w);
	complete_all(d);
	CHECK_EQ(w->completions, 1);
	CHECK_EQ(w->result, -EINVAL);
	CHECK(file_has(path, 3 * DISK_BOUNCE_SIZE, DISK_BOUNCE_SIZE, -1));
	CHECK_EQ(write_pat(d, 0, 8192, 17), 8192);
	CHECK(read_has(d, 0, 8192, 17));
	treq_free(w);
	disk_close(d);
}

/*
 * Between two kicks at most DISK_INLINE_BATCH bytes are done at submit; the
 * rest goes to io_uring. A reap straight after the submits completes only
 * what was done inline (the others have not even reached the kernel).
 */
TEST(inline_batch_bound_spills_to_io_uring)
{
	enum { N = 2 * DISK_INLINE_BATCH / DISK_INLINE_MAX };
	struct treq *t[N];
	char path[PATH_MAX];
	struct disk *d;

	make_file(tmp_dir(), path, (uint64_t)N * DISK_INLINE_MAX);
	d = open_disk(ENG_INLINE, path, false);
	if (!d->inline_max) {
		printf("# skip: io_uring unavailable here\n");
		disk_close(d);
		return;
	}
	for (int i = 0; i < N; i++) {
		t[i] = treq_new(DISK_WRITE, (uint64_t)i * DISK_INLINE_MAX, DISK_INLINE_MAX, NULL, 0);
		fill_pat(t[i]->buf, DISK_INLINE_MAX, (uint64_t)i * DISK_INLINE_MAX, 9);
		submit(d, t[i]);
	}
	CHECK_EQ(disk_reap(d), DISK_INLINE_BATCH / DISK_INLINE_MAX);
	for (int i = 0; i < N; i++)
		CHECK_EQ(t[i]->completions, i < (int)(DISK_INLINE_BATCH / DISK_INLINE_MAX));
	complete_all(d);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(t[i]->completions, 1);
		CHECK_EQ(t[i]->result, DISK_INLINE_MAX);
		treq_free(t[i]);
	}
	/* After the kick the budget is whole again. */
	t[0] = treq_new(DISK_READ, 0, DISK_INLINE_MAX, NULL, 0);
	submit(d, t[0]);
	CHECK_EQ(disk_reap(d), 1);
	CHECK_EQ(t[0]->result, DISK_INLINE_MAX);
	for (size_t i = 0; i < DISK_INLINE_MAX; i++)
		CHECK_EQ(t[0]->buf[i], pat(i, 9));
	treq_free(t[0]);
	disk_close(d);
}

/* ---- engine choice and open errors ---- */

/* Automatic: small buffered requests at submit on tmpfs only, never with O_DIRECT. */
TEST(inline_automatic_on_tmpfs_only)
{
	struct disk_params p = { .queue_depth = 64 };
	const char *non_memory = NULL;
	char path[PATH_MAX];
	struct disk *d = NULL;
	struct statfs sfs;

	if (!uring_available() || statfs("/dev/shm", &sfs) || sfs.f_type != TMPFS_MAGIC) {
		printf("# skip: io_uring or a tmpfs /dev/shm missing\n");
		return;
	}
	unsetenv("XVB_FORCE_SYNC_DISK");
	make_file("/dev/shm", path, 65536);
	p.path = path;
	CHECK_EQ(disk_open(&p, "test", &d), 0);
	CHECK_EQ(d->inline_max, DISK_INLINE_MAX);
	disk_close(d);
	p.inline_io = DISK_INLINE_NEVER;
	CHECK_EQ(disk_open(&p, "test", &d), 0);
	CHECK_EQ(d->inline_max, 0);
	disk_close(d);
	p.inline_io = 7; /* not an enum disk_inline */
	CHECK_EQ(disk_open(&p, "test", &d), -EINVAL);

	const char *cands[] = { "/var/tmp", tmp_dir(), "build" };

	for (size_t i = 0; i < ARRAY_SIZE(cands) && !non_memory; i++)
		if (statfs(cands[i], &sfs) == 0 && sfs.f_type != TMPFS_MAGIC &&
		    sfs.f_type != RAMFS_MAGIC)
			non_memory = cands[i];
	if (!non_memory) {
		printf("# no directory off tmpfs here: automatic choice checked on tmpfs only\n");
		return;
	}
	make_file(non_memory, path, 65536);
	p.path = path;
	p.inline_io = DISK_INLINE_AUTO;
	CHECK_EQ(disk_open(&p, "test", &d), 0);
	CHECK_EQ(d->inline_max, 0);
	disk_close(d);
	p.inline_io = DISK_INLINE_ALWAYS;
	p.cache = DISK_CACHE_DIRECT;
	if (disk_open(&p, "test", &d) == 0) { /* when the file system takes O_DIRECT */
		CHECK_EQ(d->inline_max, 0);
		disk_close(d);
	}
}

TEST(force_sync_env_selects_sync)
{
	struct disk_params p = { .queue_depth = 64 };
	char path[PATH_MAX];
	struct disk *d = NULL;

	make_file(tmp_dir(), path, 65536);
	p.path = path;
	setenv("XVB_FORCE_SYNC_DISK", "1", 1);
	CHECK_EQ(disk_open(&p, "test", &d), 0);
	unsetenv("XVB_FORCE_SYNC_DISK");
	CHECK(strcmp(d->ops->name, "sync") == 0);
	disk_close(d);

	setenv("XVB_FORCE_SYNC_DISK", "0", 1);
	CHECK_EQ(disk_open(&p, "test", &d), 0);
	unsetenv("XVB_FORCE_SYNC_DISK");
	CHECK(strcmp(d->ops->name, uring_available() ? "io_uring" : "sync") == 0);
	disk_close(d);
}

/* In a child where io_uring_setup fails with EPERM (seccomp), disk_open picks sync. */
TEST(io_uring_refused_falls_back_to_sync)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(filter), .filter = filter };
	struct disk_params p = { .queue_depth = 64 };
	char path[PATH_MAX];
	int status;
	pid_t pid;

	make_file(tmp_dir(), path, 65536);
	p.path = path;
	unsetenv("XVB_FORCE_SYNC_DISK");
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct disk *d = NULL;
		int code = 0;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(3);
		if (disk_open(&p, "test", &d))
			code = 1;
		else if (strcmp(d->ops->name, "sync") != 0) /* no CHECK in the child */
			code = 2;
		disk_close(d);
		_exit(code);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
}

TEST(open_rejects_what_is_not_a_disk)
{
	struct disk_params p = { .queue_depth = 64 };
	char path[PATH_MAX];
	static struct disk dummy;
	struct disk *d = &dummy;

	p.path = "/nonexistent/xvb-disk";
	CHECK_EQ(disk_open(&p, "test", &d), -ENOENT);
	CHECK(d == NULL);
	p.path = tmp_dir(); /* a directory */
	p.read_only = true;
	CHECK_EQ(disk_open(&p, "test", &d), -EINVAL);
	p.path = "/dev/null"; /* a character device */
	p.read_only = false;
	CHECK_EQ(disk_open(&p, "test", &d), -EINVAL);
	make_file(tmp_dir(), path, 4096);
	p.path = path;
	p.cache = (enum disk_cache_mode)7;
	CHECK_EQ(disk_open(&p, "test", &d), -EINVAL);
	CHECK_EQ(disk_open(NULL, "test", &d), -EINVAL);
	disk_close(NULL);
}

/* ---- iovec walking (the resubmission of short I/O) ---- */

TEST(iov_locate_walks_elements)
{
	uint8_t a[10], c[5], e[7];
	const struct iovec iov[] = {
		{ a, sizeof(a) }, { NULL, 0 }, { c, sizeof(c) }, { NULL, 0 }, { e, sizeof(e) },
	};
	uint32_t idx;
	size_t off;

	disk_iov_locate(iov, 5, 0, &idx, &off);
	CHECK_EQ(idx, 0);
	CHECK_EQ(off, 0);
	disk_iov_locate(iov, 5, 9, &idx, &off);
	CHECK_EQ(idx, 0);
	CHECK_EQ(off, 9);
	/* The boundary lands at the start of the next non-empty element. */
	disk_iov_locate(iov, 5, 10, &idx, &off);
	CHECK_EQ(idx, 2);
	CHECK_EQ(off, 0);
	disk_iov_locate(iov, 5, 14, &idx, &off);
	CHECK_EQ(idx, 2);
	CHECK_EQ(off, 4);
	disk_iov_locate(iov, 5, 15, &idx, &off);
	CHECK_EQ(idx, 4);
	CHECK_EQ(off, 0);
	disk_iov_locate(iov, 5, 21, &idx, &off);
	CHECK_EQ(idx, 4);
	CHECK_EQ(off, 6);
	disk_iov_locate(iov, 5, 22, &idx, &off);
	CHECK_EQ(idx, 5);
	disk_iov_locate(iov, 5, 1000, &idx, &off);
	CHECK_EQ(idx, 5);
}

TEST(iov_copy_spans_elements_without_changing_them)
{
	uint8_t a[3], b[4], c[5], src[12], out[12];
	struct iovec iov[] = { { a, 3 }, { b, 4 }, { c, 5 } };
	const struct iovec before[] = { { a, 3 }, { b, 4 }, { c, 5 } };

	for (int i = 0; i < 12; i++)
		src[i] = (uint8_t)(i + 1);
	memset(a, 0, 3);
	memset(b, 0, 4);
	memset(c, 0, 5);
	/* 6 bytes from position 2: a[2], b[0..3], c[0]. */
	CHECK_EQ(disk_iov_from_buf(iov, 3, 2, src, 6), 6);
	CHECK_EQ(a[1], 0);
	CHECK_EQ(a[2], 1);
	CHECK_EQ(b[0], 2);
	CHECK_EQ(b[3], 5);
	CHECK_EQ(c[0], 6);
	CHECK_EQ(c[1], 0);
	CHECK(memcmp(iov, before, sizeof(iov)) == 0);
	/* Reading back clamps at the end of the array. */
	memset(out, 0xff, sizeof(out));
	CHECK_EQ(disk_iov_to_buf(iov, 3, 2, out, 100), 10);
	CHECK_EQ(out[0], 1);
	CHECK_EQ(out[4], 5);
	CHECK_EQ(out[5], 6);
	CHECK_EQ(out[6], 0);
	CHECK_EQ(out[10], 0xff);
	CHECK_EQ(disk_iov_to_buf(iov, 3, 12, out, 4), 0);
}

TEST(precheck_rules)
{
	struct disk d = { .logical_block_size = 4096 };
	uint8_t b[8];
	struct iovec iov = { b, 8 };
	struct disk_req r = { .op = DISK_WRITE, .iov = &iov, .iovcnt = 1, .len = 8 };
	int64_t res = 1;

	CHECK(!disk_req_precheck(&d, false, &r, &res));
	d.read_only = true;
	CHECK(disk_req_precheck(&d, false, &r, &res));
	CHECK_EQ(res, -EBADF);
	r.op = DISK_READ;
	CHECK(!disk_req_precheck(&d, false, &r, &res));
	CHECK(disk_req_precheck(&d, true, &r, &res));
	CHECK_EQ(res, -EINVAL);
	r.iovcnt = 0;
	CHECK(disk_req_precheck(&d, false, &r, &res));
	CHECK_EQ(res, -EINVAL);
	r.op = DISK_FLUSH;
	CHECK(!disk_req_precheck(&d, true, &r, &res));
}
