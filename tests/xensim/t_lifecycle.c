/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim integration tests, lifecycle: a driver reset (Status = 0) with
 * requests in flight; IOREQ_TYPE_INVALIDATE between requests and during
 * I/O; SIGTERM with requests and register accesses in flight.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/virtio_mmio.h>

#include "t_env.h"

#define DISK_SIZE (32 * T_MIB)
#define RAM_SIZE (128 * T_MIB)
#define RESET_REQS 64u
#define RESET_BYTES (256u * 1024u)

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void full_write_verify(struct t_disk *d, struct gblk *b, unsigned vcpus, uint64_t seed)
{
	struct gwork_result res;
	struct gdisk_model m;
	char msg[256] = "";

	CHECK_EQ(gdisk_model_init(&m, b->capacity, seed), 0);
	struct gwork w = {
		.kind = GWORK_WRITE, .nr_vcpus = vcpus, .qd = 16, .sectors = b->capacity,
		.min_bytes = 4096, .max_bytes = 256 * 1024, .max_segs = 4,
		.layouts = GBLK_L_ALL, .seed = seed,
	};
	gwork_run(b, &m, &w, &res);
	if (res.rc)
		check_fail(__FILE__, __LINE__, "write: %s", res.msg);
	w.kind = GWORK_READ;
	w.verify = true;
	gwork_run(b, &m, &w, &res);
	if (res.rc)
		check_fail(__FILE__, __LINE__, "read: %s", res.msg);
	if (gdisk_verify_file(&m, d->path, msg, sizeof(msg)))
		check_fail(__FILE__, __LINE__, "image: %s", msg);
	gdisk_model_fini(&m);
}

TEST(reset_with_requests_in_flight)
{
	struct t_env *e = t_begin("reset_in_flight");
	struct t_guest *g = t_guest(e, 1, 2, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE });
	struct gblk_req *reqs[RESET_REQS];
	uint8_t *snap_bufs, *snap_used, status;
	struct gblk *b;
	struct gvq *vq;
	size_t used_bytes;
	unsigned aborted = 0;

	t_daemon_start(g);
	b = t_blk(d, NULL);
	vq = &b->vq[0];
	used_bytes = 6 + 8u * vq->num;
	/* Half writes, half reads with poisoned buffers; all submitted, one kick. */
	for (unsigned i = 0; i < RESET_REQS; i++) {
		CHECK_EQ(gblk_req_alloc(b, RESET_BYTES, 4, &reqs[i]), 0);
		gblk_req_set(reqs[i], i % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
			     (uint64_t)i * (RESET_BYTES / 512), RESET_BYTES, 1 + i % 4, i % 2);
		memset(reqs[i]->buf, i % 2 ? 0xa5 : 0x11, RESET_BYTES + 1);
		CHECK_EQ(gblk_submit(b, 0, reqs[i]), 0);
	}
	CHECK_EQ(gblk_kick(b, 0, 0), 0);
	CHECK_EQ(gblk_reset(b, 1), 0);
	for (unsigned i = 0; i < RESET_REQS; i++) {
		CHECK(reqs[i]->done);
		if (reqs[i]->result == GBLK_S_ABORTED)
			aborted++;
	}
	printf("# reset caught %u of %u requests in flight\n", aborted, RESET_REQS);

	/* After Status reads 0 the device must not write guest memory any more. */
	snap_bufs = malloc((size_t)RESET_REQS * (RESET_BYTES + 1));
	snap_used = malloc(used_bytes);
	CHECK(snap_bufs && snap_used);
	for (unsigned i = 0; i < RESET_REQS; i++)
		memcpy(snap_bufs + (size_t)i * (RESET_BYTES + 1), reqs[i]->buf, RESET_BYTES + 1);
	memcpy(snap_used, vq->used, used_bytes);
	sleep_ms(300);
	for (unsigned i = 0; i < RESET_REQS; i++) {
		const uint8_t *snap = snap_bufs + (size_t)i * (RESET_BYTES + 1);

		if (memcmp(snap, reqs[i]->buf, RESET_BYTES + 1))
			check_fail(__FILE__, __LINE__, "request %u: buffer changed after reset", i);
	}
	CHECK(memcmp(snap_used, vq->used, used_bytes) == 0);
	free(snap_bufs);
	free(snap_used);

	/* Re-initialise on the same ring memory: no stale used entry may appear. */
	CHECK_EQ(gblk_start(b, 0), 0);
	CHECK_EQ(guest_mmio_get_status(&b->dev, 0, &status), 0);
	full_write_verify(d, b, 2, 77);
	CHECK_EQ(vq->bad_used, 0);
	CHECK(!atomic_load(&b->ring_error));
	for (unsigned i = 0; i < RESET_REQS; i++)
		gblk_req_free(reqs[i]);
	t_end(e);
}

TEST(invalidate_between_requests)
{
	struct t_env *e = t_begin("invalidate_between");
	struct t_guest *g = t_guest(e, 1, 2, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE / 2 });
	struct gdisk_model m;
	uint8_t *buf = malloc(65536);
	char msg[256] = "";
	uint64_t rng = 12345;
	struct gblk *b;
	uint8_t status;

	CHECK(buf != NULL);
	t_daemon_start(g);
	b = t_blk(d, NULL);
	CHECK_EQ(gdisk_model_init(&m, b->capacity, 55), 0);
	for (unsigned i = 0; i < 200; i++) {
		uint32_t nsect = 8 + (uint32_t)(rng % 15) * 8, gen = gdisk_next_gen(&m);
		uint64_t sector;

		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		sector = (rng >> 20) % (b->capacity - nsect);
		gdisk_fill(&m, sector, nsect, gen, buf);
		CHECK_EQ(gblk_write(b, i % 2, sector, buf, nsect * 512, &status), 0);
		CHECK_EQ(status, VIRTIO_BLK_S_OK);
		gdisk_commit(&m, sector, nsect, gen);
		CHECK_EQ(guest_vm_invalidate(&g->vm), 0);
		CHECK_EQ(gblk_read(b, (i + 1) % 2, sector, buf, nsect * 512, &status), 0);
		CHECK_EQ(status, VIRTIO_BLK_S_OK);
		if (gdisk_compare(&m, sector, nsect, buf, msg, sizeof(msg)))
			check_fail(__FILE__, __LINE__, "iteration %u: %s", i, msg);
		if (i % 16 == 0)
			CHECK_EQ(guest_vm_invalidate(&g->vm), 0); /* twice in a row is fine too */
	}
	if (gdisk_verify_file(&m, d->path, msg, sizeof(msg)))
		check_fail(__FILE__, __LINE__, "image: %s", msg);
	gdisk_model_fini(&m);
	free(buf);
	t_end(e);
}

TEST(invalidate_during_io)
{
	struct t_env *e = t_begin("invalidate_during");
	struct t_guest *g = t_guest(e, 1, 2, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE / 2 });
	struct gdisk_model m;
	struct t_bg bg;
	char msg[256] = "";
	unsigned n = 0;
	int r = 0;

	t_daemon_start(g);
	CHECK_EQ(gdisk_model_init(&m, DISK_SIZE / 2 / 512, 66), 0);
	bg = (struct t_bg){ .b = t_blk(d, NULL), .m = &m };
	bg.w = (struct gwork){ .kind = GWORK_RANDOM, .nr_vcpus = 2, .qd = 16, .sectors = m.sectors,
			       .min_bytes = 4096, .max_bytes = 65536, .max_segs = 4,
			       .layouts = GBLK_L_ALL, .write_pct = 60, .duration_ms = 2000,
			       .verify = true, .seed = 66 };
	t_bg_start(&bg);
	/* Invalidate every millisecond or so while the workload runs. */
	for (uint64_t t0 = now_ms(); now_ms() - t0 < 1900 && !r; n++) {
		r = guest_vm_invalidate(&g->vm);
		sleep_ms(1);
	}
	t_bg_join(&bg);
	printf("# %u invalidations during %llu requests\n", n, (unsigned long long)bg.res.reqs);
	CHECK_EQ(r, 0);
	if (bg.res.rc)
		check_fail(__FILE__, __LINE__, "I/O during invalidation: %s", bg.res.msg);
	CHECK_EQ(bg.res.mismatches, 0);
	CHECK(bg.res.reqs > 0);
	if (gdisk_verify_file(&m, d->path, msg, sizeof(msg)))
		check_fail(__FILE__, __LINE__, "image: %s", msg);
	gdisk_model_fini(&m);
	t_end(e);
}

struct hammer {
	struct gblk *b;
	unsigned vcpu;
	atomic_bool *stop;
	uint64_t accesses, faults, other;
	int other_rc; /* the last unexpected result */
	pthread_t thread;
};

/* Register reads on one vCPU until told to stop or the device is gone. */
static void *hammer_main(void *arg)
{
	struct hammer *h = arg;

	while (!atomic_load(h->stop)) {
		uint32_t v;
		int r = guest_mmio_rd(&h->b->dev, h->vcpu, VIRTIO_MMIO_STATUS, &v);

		h->accesses++;
		if (r == -EFAULT) {
			h->faults++;
			break; /* the server is gone: exactly what SIGTERM should lead to */
		}
		if (r) {
			h->other++;
			h->other_rc = r;
		}
	}
	return NULL;
}

TEST(sigterm_with_requests_in_flight)
{
	struct t_env *e = t_begin("sigterm_in_flight");
	struct t_guest *g = t_guest(e, 1, 4, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE });
	struct hammer h[2];
	atomic_bool stop = false;
	struct gdisk_model m;
	struct t_bg bg;
	uint64_t v;
	int st;

	t_daemon_start(g);
	CHECK_EQ(gdisk_model_init(&m, DISK_SIZE / 512, 88), 0);
	bg = (struct t_bg){ .b = t_blk(d, NULL), .m = &m };
	bg.w = (struct gwork){ .kind = GWORK_RANDOM, .nr_vcpus = 4, .qd = 32, .sectors = m.sectors,
			       .min_bytes = 4096, .max_bytes = 262144, .max_segs = 4,
			       .layouts = GBLK_L_ALL, .write_pct = 70, .duration_ms = 30000,
			       .verify = true, .stop = &stop, .seed = 88 };
	t_bg_start(&bg);
	for (unsigned i = 0; i < 2; i++) {
		h[i] = (struct hammer){ .b = bg.b, .vcpu = i * 2 + 1, .stop = &stop };
		CHECK_EQ(pthread_create(&h[i].thread, NULL, hammer_main, &h[i]), 0);
	}
	sleep_ms(700);
	st = t_daemon_stop(g, SIGTERM);
	atomic_store(&stop, true);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(h[i].thread, NULL);
	t_bg_join(&bg);
	printf("# %llu requests completed before SIGTERM; hammer accesses %llu, %llu\n",
	       (unsigned long long)bg.res.reqs, (unsigned long long)h[0].accesses,
	       (unsigned long long)h[1].accesses);

	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	CHECK(bg.res.reqs > 0);
	/* Every ioreq was answered: no access waited for a daemon that had gone. */
	CHECK_EQ(atomic_load(&g->vm.mmio_timeouts), 0);
	for (unsigned i = 0; i < 2; i++)
		if (h[i].other)
			printf("# vCPU %u: %llu access(es) failed, last with %s\n", h[i].vcpu,
			       (unsigned long long)h[i].other, strerror(-h[i].other_rc));
	CHECK_EQ(h[0].other + h[1].other, 0);
	CHECK_EQ(bg.res.mismatches, 0);
	/* The server is gone: nothing claims the window any more. */
	CHECK_EQ(guest_vm_read(&g->vm, 0, d->base + VIRTIO_MMIO_MAGIC_VALUE, 4, &v), -EFAULT);
	gdisk_model_fini(&m);
	t_end(e); /* no holdings: server destroyed, ports unbound, mappings released */
}
