/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host-side faults, the data: a soak of random reads and writes on two
 * queues, every read checked against the guest's model of the disk, then
 * the image file itself (XVB_FAULT_SOAK_S seconds, 5 in make check, 60 in
 * make soak), with io_uring and with the synchronous engine and O_DIRECT.
 * And durability: eiofs --volatile is a disk whose write cache is lost at
 * a power cut; every write acknowledged before a FLUSH completed must be
 * in the image after the daemon is killed with SIGKILL and the power cut
 * (and, without VIRTIO_BLK_F_FLUSH, every acknowledged write at all).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_env.h"

#define RAM_SIZE (128 * T_MIB)
#define SOAK_DISK (32 * T_MIB)
#define DUR_DISK (16 * T_MIB)
#define DUR_SECTORS (DUR_DISK / 512)
#define QD 16u

static unsigned env_uint(const char *name, unsigned dflt)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned)strtoul(v, NULL, 0) : dflt;
}

static void soak(const char *name, bool sync_direct)
{
	struct t_env *e = fault_begin(name);
	struct t_guest *g = t_guest(e, 1, 2, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = SOAK_DISK });
	unsigned secs = env_uint("XVB_FAULT_SOAK_S", 5);
	struct gwork_result res;
	struct gdisk_model m;
	char msg[256] = "", line[160];
	struct gblk *b;
	int64_t bad;

	if (sync_direct)
		setenv("XVB_FORCE_SYNC_DISK", "1", 1);
	fault_daemon_start(g, sync_direct ? ",cache=direct" : NULL);
	unsetenv("XVB_FORCE_SYNC_DISK");
	b = t_blk(d, &(struct gblk_opts){ .nr_queues = 2 });
	CHECK_EQ(gdisk_model_init(&m, SOAK_DISK / 512, secs + sync_direct), 0);
	struct gwork w = {
		.kind = GWORK_RANDOM, .nr_vcpus = 2, .qd = QD, .sectors = m.sectors,
		.min_bytes = 512, .max_bytes = 128 * 1024, .max_segs = 8, .layouts = GBLK_L_ALL,
		.write_pct = 70, .duration_ms = secs * 1000u, .verify = true, .seed = 99 + secs,
	};
	gwork_run(b, &m, &w, &res);
	gwork_describe(&res, "random, 70% writes, reads verified", line, sizeof(line));
	printf("# %s: %s\n", name, line);
	if (res.rc)
		check_fail(__FILE__, __LINE__, "soak: %s", res.msg);
	CHECK(res.reqs > 0);
	CHECK_EQ(res.errors, 0);
	CHECK_EQ(res.mismatches, 0);
	CHECK_EQ(res.bad_used_len, 0);
	/* The whole image, sector by sector, against the model. */
	bad = gdisk_verify_file(&m, d->path, msg, sizeof(msg));
	if (bad)
		check_fail(__FILE__, __LINE__, "image: %lld bad sectors: %s", (long long)bad, msg);
	CHECK(!atomic_load(&b->needs_reset));
	gdisk_model_fini(&m);
	t_end(e);
}

TEST(random_write_soak_verified_io_uring)
{
	soak("soak_uring", false);
}

TEST(random_write_soak_verified_sync_direct)
{
	soak("soak_sync_direct", true);
}

/* n writes, qd at a time, each inside its own slot's slice of [first, first + sectors). */
static void random_writes(struct gblk *b, struct fault_model *fm, uint64_t first, uint64_t sectors,
			  unsigned n, uint64_t *rng)
{
	struct fault_io io[QD];
	uint64_t slice = sectors / QD;

	for (unsigned done = 0; done < n; done += QD) {
		for (unsigned k = 0; k < QD; k++) {
			uint32_t nsect;

			*rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
			nsect = 1 + (uint32_t)(*rng >> 33) % 64;
			io[k] = (struct fault_io){ .type = VIRTIO_BLK_T_OUT, .nsect = nsect,
						   .sector = first + k * slice +
							     (*rng >> 13) % (slice - nsect) };
		}
		CHECK_EQ(fault_io(b, fm, 0, io, QD, QD), 0);
		for (unsigned k = 0; k < QD; k++)
			CHECK_EQ(io[k].status, VIRTIO_BLK_S_OK);
	}
}

/* Sectors of the image in [first, first + n) that differ from the model; *lost counts zeros. */
static uint64_t image_check(const char *path, const struct fault_model *fm, uint64_t first,
			    uint64_t n, bool zero_ok, uint64_t *lost)
{
	static const uint8_t zero[512];
	uint8_t sec[512];
	uint64_t bad = 0;
	char msg[200];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	for (uint64_t s = first; s < first + n; s++) {
		CHECK_EQ(pread(fd, sec, sizeof(sec), (off_t)(s * 512)), (long)sizeof(sec));
		if (gdisk_compare(&fm->m, s, 1, sec, msg, sizeof(msg)) == 0)
			continue;
		if (zero_ok && memcmp(sec, zero, sizeof(sec)) == 0) {
			(*lost)++;
			continue;
		}
		if (!bad)
			printf("# sector %llu: %s\n", (unsigned long long)s, msg);
		bad++;
	}
	close(fd);
	return bad;
}

/*
 * Writes, a FLUSH, more writes, SIGKILL, power cut. flush: the driver has
 * VIRTIO_BLK_F_FLUSH (writeback cache) or not (the device must write through).
 */
static void durability(const char *name, bool flush)
{
	struct t_env *e = fault_begin(name);
	struct t_guest *g = t_guest(e, 1, 2, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DUR_DISK });
	const uint64_t half = DUR_SECTORS / 2;
	uint64_t features = GBLK_DEFAULT_FEATURES, rng = 2024, lost = 0, lost2 = 0, bad;
	struct eiofs_counters c;
	struct fault_model fm;
	char image[300];
	struct eiofs fs;
	struct gblk *b;
	uint8_t st;
	int wst;

	fault_image(fault_scratch(), "volatile.img", DUR_DISK, image, sizeof(image));
	eiofs_start(&fs, image, (const char *const[]){ "--volatile", NULL });
	fault_disk_path(d, fs.file);
	fault_daemon_start(g, ",cache=direct");
	if (!flush)
		features &= ~(1ull << VIRTIO_BLK_F_FLUSH);
	b = t_blk(d, &(struct gblk_opts){ .features = features });
	CHECK_EQ(gblk_has(b, VIRTIO_BLK_F_FLUSH), flush);
	fault_model_init(&fm, DUR_SECTORS, 11);

	/* First half: 320 writes, all acknowledged, then a FLUSH (acknowledged too). */
	random_writes(b, &fm, 0, half, 320, &rng);
	if (flush) {
		CHECK_EQ(gblk_flush(b, 0, &st), 0);
		CHECK_EQ(st, VIRTIO_BLK_S_OK);
	}
	/* Second half: 160 more writes, acknowledged, never flushed. */
	random_writes(b, &fm, half, half, 160, &rng);
	eiofs_counters(&fs, &c);

	/* SIGKILL, then the power cut: what was never flushed is gone. */
	printf("# SIGKILL: the simulator reports what the daemon left mapped as leaks (expected)\n");
	fflush(stdout);
	wst = t_daemon_stop(g, SIGKILL);
	CHECK(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
	g->pid = 0; /* killed on purpose: its Xen resources are not the point here */
	eiofs_kill(&fs);

	bad = image_check(image, &fm, 0, half, false, &lost);
	printf("# %s: 320 writes before %s, %lu fsyncs seen by the disk: %llu sectors wrong "
	       "after SIGKILL + power cut\n",
	       name, flush ? "a FLUSH" : "the kill (writethrough)", c.fsyncs,
	       (unsigned long long)bad);
	CHECK_EQ(bad, 0);
	/* Unflushed writes may be lost (zeros) but are never anything else. */
	bad = image_check(image, &fm, half, half, true, &lost2);
	printf("# %s: 160 writes after it: %llu sectors lost, %llu wrong\n", name,
	       (unsigned long long)lost2, (unsigned long long)bad);
	CHECK_EQ(bad, 0);
	if (flush)
		CHECK(lost2 > 0); /* the power cut really dropped the volatile cache */
	else
		CHECK_EQ(lost2, 0); /* writethrough: acknowledged means stable */
	fault_model_fini(&fm);
	/* The simulator still holds what the killed daemon had: not checked (t_end not run). */
}

TEST(flushed_writes_survive_sigkill_and_power_cut)
{
	durability("flush_sigkill", true);
}

TEST(writethrough_writes_survive_sigkill_and_power_cut)
{
	durability("writethrough_sigkill", false);
}
