/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host-side faults, the image: EIO on chosen byte ranges (eiofs, a FUSE
 * file system the daemon's io_uring or synchronous I/O goes through,
 * with cache=direct: see eio_ranges) for
 * reads, writes and flushes, and ENOSPC from a sparse image on a
 * size-limited tmpfs. The guest must get VIRTIO_BLK_S_IOERR for exactly
 * the requests that touch the fault and OK (with the right data) for all
 * others; the daemon logs the errors rate-limited, never breaks the
 * device, keeps serving, and exits 0 holding nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fault_env.h"

#define DISK_SIZE (8 * T_MIB)
#define SECTORS (DISK_SIZE / 512)
#define RAM_SIZE (64 * T_MIB)
/* Reads fail in sectors 2056 .. 2063, writes in 6149 .. 6150. */
#define RD_BAD_SECTOR 2056u
#define RD_BAD_SECTORS 8u
#define WR_BAD_SECTOR 6149u
#define WR_BAD_SECTORS 2u
#define BIG 128u /* sectors per request of the sweeps */
#define FLOOD 40u
#define ERR_LINE "dom1/xvda: error: disk %s at byte [0-9]+ failed: %s"

static bool overlaps(uint64_t s, uint32_t n, uint64_t bad, uint32_t nbad)
{
	return s < bad + nbad && bad < s + n;
}

static uint8_t expect(uint64_t s, uint32_t n, uint64_t bad, uint32_t nbad)
{
	return overlaps(s, n, bad, nbad) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* Run io[0..n) and check every status against the fault range [bad, bad + nbad). */
static void run_expect(struct gblk *b, struct fault_model *fm, struct fault_io *io, unsigned n,
		       unsigned qd, uint64_t bad, uint32_t nbad, unsigned *errors)
{
	CHECK_EQ(fault_io(b, fm, 0, io, n, qd), 0);
	for (unsigned i = 0; i < n; i++) {
		uint8_t want = expect(io[i].sector, io[i].nsect, bad, nbad);

		if (io[i].status != want)
			check_fail(__FILE__, __LINE__, "%s of sectors %llu+%u: status %u, want %u",
				   io[i].type == VIRTIO_BLK_T_OUT ? "write" : "read",
				   (unsigned long long)io[i].sector, io[i].nsect, io[i].status, want);
		*errors += want != VIRTIO_BLK_S_OK;
	}
}

static void eio_ranges(const char *name, bool sync_engine)
{
	struct t_env *e = fault_begin(name);
	struct t_guest *g = t_guest(e, 1, 2, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE });
	char image[300], rd_range[64], wr_range[64];
	struct fault_io io[SECTORS / BIG + 8];
	struct eiofs_counters c;
	struct fault_model fm;
	unsigned ioerr = 0, n, lines, windows;
	struct eiofs fs;
	uint64_t t0;
	struct gblk *b;
	uint8_t st;

	fault_image(fault_scratch(), "eio.img", DISK_SIZE, image, sizeof(image));
	snprintf(rd_range, sizeof(rd_range), "%u:%u", RD_BAD_SECTOR * 512, RD_BAD_SECTORS * 512);
	snprintf(wr_range, sizeof(wr_range), "%u:%u", WR_BAD_SECTOR * 512, WR_BAD_SECTORS * 512);
	eiofs_start(&fs, image,
		    (const char *const[]){ "--read-error", rd_range, "--write-error", wr_range, NULL });
	fault_disk_path(d, fs.file);
	if (sync_engine)
		setenv("XVB_FORCE_SYNC_DISK", "1", 1);
	/*
	 * O_DIRECT with bounce buffers: a FUSE file with direct_io pins the
	 * caller's pages, which guest memory refuses (VM_PFNMAP on Xen,
	 * secretmem in xensim): buffered I/O from guest memory gets EFAULT.
	 */
	fault_daemon_start(g, ",cache=direct");
	unsetenv("XVB_FORCE_SYNC_DISK");
	if (sync_engine)
		CHECK_EQ(sim_daemon_wait_log(g->log, "using the synchronous disk engine", 0), 0);
	b = t_blk(d, NULL);
	fault_model_init(&fm, SECTORS, 42);
	t0 = fault_now_ms();

	/* Every sector written in 64 KiB requests, 8 at a time: one request meets the bad range. */
	n = 0;
	for (uint64_t s = 0; s < SECTORS; s += BIG)
		io[n++] = (struct fault_io){ .type = VIRTIO_BLK_T_OUT, .sector = s, .nsect = BIG };
	run_expect(b, &fm, io, n, 8, WR_BAD_SECTOR, WR_BAD_SECTORS, &ioerr);
	CHECK_EQ(ioerr, 1);
	/* Small writes at the edges of the range: only the one touching it fails. */
	n = 0;
	io[n++] = (struct fault_io){ VIRTIO_BLK_T_OUT, WR_BAD_SECTOR - 8, 8, 0 };
	io[n++] = (struct fault_io){ VIRTIO_BLK_T_OUT, WR_BAD_SECTOR + WR_BAD_SECTORS, 8, 0 };
	io[n++] = (struct fault_io){ VIRTIO_BLK_T_OUT, WR_BAD_SECTOR + 1, 1, 0 };
	run_expect(b, &fm, io, n, 1, WR_BAD_SECTOR, WR_BAD_SECTORS, &ioerr);
	CHECK_EQ(ioerr, 2);

	/* Everything read back: one 64 KiB read and one edge read fail; the rest is verified. */
	n = 0;
	for (uint64_t s = 0; s < SECTORS; s += BIG)
		io[n++] = (struct fault_io){ .type = VIRTIO_BLK_T_IN, .sector = s, .nsect = BIG };
	io[n++] = (struct fault_io){ VIRTIO_BLK_T_IN, RD_BAD_SECTOR - 8, 8, 0 };
	io[n++] = (struct fault_io){ VIRTIO_BLK_T_IN, RD_BAD_SECTOR + RD_BAD_SECTORS, 8, 0 };
	io[n++] = (struct fault_io){ VIRTIO_BLK_T_IN, RD_BAD_SECTOR + RD_BAD_SECTORS - 1, 1, 0 };
	run_expect(b, &fm, io, n, 8, RD_BAD_SECTOR, RD_BAD_SECTORS, &ioerr);
	CHECK_EQ(ioerr, 4);

	/* A flush that fails, then works. */
	eiofs_ctl(&fs, "sync-error 1");
	CHECK_EQ(gblk_flush(b, 0, &st), 0);
	CHECK_EQ(st, VIRTIO_BLK_S_IOERR);
	eiofs_ctl(&fs, "sync-error 0");
	CHECK_EQ(gblk_flush(b, 1, &st), 0);
	CHECK_EQ(st, VIRTIO_BLK_S_OK);

	/* A flood of failing reads: every one answered IOERR, the log stays bounded. */
	n = 0;
	for (unsigned i = 0; i < FLOOD; i++)
		io[n++] = (struct fault_io){ VIRTIO_BLK_T_IN, RD_BAD_SECTOR + i % RD_BAD_SECTORS, 1, 0 };
	run_expect(b, &fm, io, n, 8, RD_BAD_SECTOR, RD_BAD_SECTORS, &ioerr);
	CHECK_EQ(ioerr, 4 + FLOOD);

	/* The faults gone, the same disk serves every sector (the device was never broken). */
	eiofs_ctl(&fs, "clear");
	n = 0;
	for (uint64_t s = 0; s < SECTORS; s += BIG)
		io[n++] = (struct fault_io){ .type = VIRTIO_BLK_T_IN, .sector = s, .nsect = BIG };
	run_expect(b, &fm, io, n, 16, 0, 0, &ioerr);
	io[0] = (struct fault_io){ VIRTIO_BLK_T_OUT, WR_BAD_SECTOR, WR_BAD_SECTORS, 0 };
	io[1] = (struct fault_io){ VIRTIO_BLK_T_IN, WR_BAD_SECTOR, WR_BAD_SECTORS, 0 };
	run_expect(b, &fm, io, 1, 1, 0, 0, &ioerr);
	run_expect(b, &fm, io + 1, 1, 1, 0, 0, &ioerr);
	CHECK(!atomic_load(&b->needs_reset));
	CHECK_EQ(b->vq[0].bad_used, 0);

	eiofs_counters(&fs, &c);
	lines = fault_log_count(g->log, "dom1/xvda: error: disk (read|write|flush) at byte");
	printf("# %u requests failed with IOERR; eiofs: %lu read, %lu write, %lu sync errors; "
	       "%u log lines\n",
	       ioerr + 1, c.read_errors, c.write_errors, c.sync_errors, lines);
	CHECK(c.read_errors >= 2 + FLOOD && c.write_errors >= 2 && c.sync_errors == 1);
	CHECK(fault_log_count(g->log, "disk read at byte [0-9]+ failed: Input/output error") >= 1);
	CHECK(fault_log_count(g->log, "disk write at byte [0-9]+ failed: Input/output error") >= 1);
	/* Rate-limited: a burst per GUEST_LOG_INTERVAL_S (45 failures usually take under 1 s). */
	windows = 1 + (unsigned)((fault_now_ms() - t0) / (GUEST_LOG_INTERVAL_S * 1000u));
	CHECK(lines <= GUEST_LOG_BURST * windows);
	fault_model_fini(&fm);
	t_end(e); /* exit 0 on SIGTERM, nothing held, no protocol violation */
	eiofs_stop(&fs);
}

TEST(eio_exactly_the_affected_requests_io_uring)
{
	eio_ranges("eio_uring", false);
}

TEST(eio_exactly_the_affected_requests_sync_engine)
{
	eio_ranges("eio_sync", true);
}

static uint64_t free_bytes(const char *dir)
{
	struct statvfs sv;

	CHECK_EQ(statvfs(dir, &sv), 0);
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

TEST(enospc_only_writes_that_need_space_fail)
{
	struct t_env *e = fault_begin("enospc");
	struct t_guest *g = t_guest(e, 1, 2, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = 64 * T_MIB });
	const uint64_t sectors = 64 * T_MIB / 512, area_b = 8192;
	struct fault_io io[64];
	struct fault_model fm;
	char dir[300], image[400];
	unsigned ok_b = 0, fail_b = 0, lines;
	struct gblk *b;
	uint8_t st;

	fault_tmpfs("1m", dir, sizeof(dir));
	fault_image(dir, "sparse.img", 64 * T_MIB, image, sizeof(image));
	fault_disk_path(d, image);
	t_daemon_start(g);
	b = t_blk(d, NULL);
	fault_model_init(&fm, sectors, 7);

	/* 512 KiB into holes: room enough. */
	for (unsigned i = 0; i < 8; i++)
		io[i] = (struct fault_io){ VIRTIO_BLK_T_OUT, i * BIG, BIG, 0 };
	CHECK_EQ(fault_io(b, &fm, 0, io, 8, 4), 0);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(io[i].status, VIRTIO_BLK_S_OK);

	/* 64 KiB writes into holes, one at a time, until well past full: OK exactly while room. */
	for (unsigned i = 0; i < 16; i++) {
		uint64_t room = free_bytes(dir);
		struct fault_io w = { VIRTIO_BLK_T_OUT, area_b + (uint64_t)i * BIG, BIG, 0 };

		CHECK_EQ(fault_io(b, &fm, 0, &w, 1, 1), 0);
		if (w.status != (room >= BIG * 512u ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR))
			check_fail(__FILE__, __LINE__, "write %u with %llu bytes free: status %u", i,
				   (unsigned long long)room, w.status);
		ok_b += w.status == VIRTIO_BLK_S_OK;
		fail_b += w.status != VIRTIO_BLK_S_OK;
	}
	printf("# tmpfs full after %u of 16 further 64 KiB writes; %u failed with IOERR\n", ok_b,
	       fail_b);
	CHECK(ok_b > 0 && fail_b > 0);

	/* Full: rewrites of allocated blocks work, a hole does not; reads all work. */
	for (unsigned i = 0; i < 8; i++)
		io[i] = (struct fault_io){ VIRTIO_BLK_T_OUT, i * BIG, BIG, 0 };
	io[8] = (struct fault_io){ VIRTIO_BLK_T_OUT, sectors - 8, 8, 0 };
	CHECK_EQ(fault_io(b, &fm, 0, io, 9, 4), 0);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(io[i].status, VIRTIO_BLK_S_OK);
	CHECK_EQ(io[8].status, VIRTIO_BLK_S_IOERR);
	/* Reads of what was written, what failed, and holes: all OK, contents as the model says. */
	for (unsigned i = 0; i < 8; i++)
		io[i] = (struct fault_io){ VIRTIO_BLK_T_IN, i * BIG, BIG, 0 };
	for (unsigned i = 0; i < 17; i++)
		io[8 + i] = (struct fault_io){ VIRTIO_BLK_T_IN, area_b + (uint64_t)i * BIG, BIG, 0 };
	io[25] = (struct fault_io){ VIRTIO_BLK_T_IN, sectors - 8, 8, 0 };
	io[26] = (struct fault_io){ VIRTIO_BLK_T_IN, 2 * area_b, BIG, 0 };
	CHECK_EQ(fault_io(b, &fm, 0, io, 27, 8), 0);
	for (unsigned i = 0; i < 27; i++)
		CHECK_EQ(io[i].status, VIRTIO_BLK_S_OK);
	CHECK_EQ(gblk_flush(b, 0, &st), 0);
	CHECK_EQ(st, VIRTIO_BLK_S_OK);
	CHECK(!atomic_load(&b->needs_reset));

	lines = fault_log_count(g->log, "dom1/xvda: error: disk write at byte [0-9]+ failed: No "
					"space left on device");
	printf("# %u log lines for %u failed writes\n", lines, fail_b + 1);
	CHECK(lines >= 1 && lines <= GUEST_LOG_BURST);
	fault_model_fini(&fm);
	t_end(e);
	fault_umount(dir);
}
