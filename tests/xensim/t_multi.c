/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim integration tests, isolation: two disks in one guest (a modern
 * and a legacy one) written at once; two guests served by two daemon
 * processes at once (per-guest mode serves one guest per process), with
 * their windows at the same guest address; a descriptor loop on one disk
 * puts that disk in DEVICE_NEEDS_RESET while the other keeps serving.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/virtio_config.h>

#include "t_env.h"

#define DISK_SIZE (32 * T_MIB)
#define RAM_SIZE (96 * T_MIB)

static void bg_setup(struct t_bg *bg, struct gblk *b, struct gdisk_model *m, enum gwork_kind kind,
		     unsigned vcpus, uint64_t seed)
{
	*bg = (struct t_bg){ .b = b, .m = m };
	bg->w = (struct gwork){
		.kind = kind, .nr_vcpus = vcpus, .qd = 8, .sectors = m->sectors,
		.min_bytes = 4096, .max_bytes = 128 * 1024, .max_segs = 4,
		.layouts = GBLK_L_ALL, .verify = true, .seed = seed,
	};
}

/* Write both disks at once, then read both at once; then check the images. */
static void write_verify_pair(struct gblk *b0, struct gblk *b1, struct gdisk_model *m0,
			      struct gdisk_model *m1, const char *path0, const char *path1)
{
	enum gwork_kind kinds[] = { GWORK_WRITE, GWORK_READ };
	struct t_bg bg0, bg1;
	char msg[256] = "";

	for (unsigned k = 0; k < 2; k++) {
		bg_setup(&bg0, b0, m0, kinds[k], 2, 1000 + k);
		bg_setup(&bg1, b1, m1, kinds[k], 2, 2000 + k);
		t_bg_start(&bg0);
		t_bg_start(&bg1);
		t_bg_join(&bg0);
		t_bg_join(&bg1);
		if (bg0.res.rc)
			check_fail(__FILE__, __LINE__, "disk 0: %s", bg0.res.msg);
		if (bg1.res.rc)
			check_fail(__FILE__, __LINE__, "disk 1: %s", bg1.res.msg);
		CHECK_EQ(bg0.res.mismatches + bg1.res.mismatches, 0);
	}
	/* Different seeds: any cross-talk between the disks shows up here. */
	if (gdisk_verify_file(m0, path0, msg, sizeof(msg)))
		check_fail(__FILE__, __LINE__, "image 0: %s", msg);
	if (gdisk_verify_file(m1, path1, msg, sizeof(msg)))
		check_fail(__FILE__, __LINE__, "image 1: %s", msg);
}

TEST(two_disks_one_guest)
{
	struct t_env *e = t_begin("two_disks");
	struct t_guest *g = t_guest(e, 3, 2, RAM_SIZE);
	struct t_disk *d0 =
		t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE, .serial = "disk-zero" });
	struct t_disk *d1 = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE / 2, .version = 1,
							     .serial = "disk-one" });
	struct gdisk_model m0, m1;
	struct gblk *b0, *b1;
	uint8_t id[20], status;

	t_daemon_start(g);
	b0 = t_blk(d0, NULL);
	b1 = t_blk(d1, NULL);
	CHECK_EQ(b0->dev.version, 2);
	CHECK_EQ(b1->dev.version, 1);
	CHECK_EQ_U64(b0->capacity, DISK_SIZE / 512);
	CHECK_EQ_U64(b1->capacity, DISK_SIZE / 2 / 512);
	CHECK_EQ(gblk_get_id(b0, 0, id, sizeof(id), &status), 0);
	CHECK(status == VIRTIO_BLK_S_OK && memcmp(id, "disk-zero", 10) == 0);
	CHECK_EQ(gblk_get_id(b1, 1, id, sizeof(id), &status), 0);
	CHECK(status == VIRTIO_BLK_S_OK && memcmp(id, "disk-one", 9) == 0);

	CHECK_EQ(gdisk_model_init(&m0, DISK_SIZE / 512, 11), 0);
	CHECK_EQ(gdisk_model_init(&m1, DISK_SIZE / 2 / 512, 12), 0);
	write_verify_pair(b0, b1, &m0, &m1, d0->path, d1->path);
	/* Each disk raised only its own interrupt line. */
	CHECK(sim_irq_count(g->sim, d0->irq) > 0 && sim_irq_count(g->sim, d1->irq) > 0);
	CHECK_EQ(b0->vq[0].bad_used + b1->vq[0].bad_used, 0);
	gdisk_model_fini(&m0);
	gdisk_model_fini(&m1);
	t_end(e);
}

TEST(two_guests_two_daemons)
{
	struct t_env *e = t_begin("two_guests");
	struct t_guest *g1 = t_guest(e, 1, 2, RAM_SIZE);
	struct t_guest *g2 = t_guest(e, 2, 2, RAM_SIZE);
	struct t_disk *d1 = t_disk(g1, &(struct t_disk_opts){ .size = DISK_SIZE });
	struct t_disk *d2 = t_disk(g2, &(struct t_disk_opts){ .size = DISK_SIZE });
	struct gdisk_model m1, m2;
	struct gblk *b1, *b2;
	struct t_bg bg;
	char msg[256] = "";
	int st;

	/* Same window address and IRQ in both guests: each guest has its own. */
	CHECK_EQ_U64(d1->base, d2->base);
	t_daemon_start(g1);
	t_daemon_start(g2);
	b1 = t_blk(d1, NULL);
	b2 = t_blk(d2, NULL);
	CHECK_EQ(gdisk_model_init(&m1, DISK_SIZE / 512, 21), 0);
	CHECK_EQ(gdisk_model_init(&m2, DISK_SIZE / 512, 22), 0);
	write_verify_pair(b1, b2, &m1, &m2, d1->path, d2->path);

	/* Stopping guest 1's daemon leaves guest 2 served. */
	t_blk_close(d1);
	st = t_daemon_stop(g1, SIGTERM);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	bg_setup(&bg, b2, &m2, GWORK_READ, 2, 3000);
	t_bg_start(&bg);
	t_bg_join(&bg);
	if (bg.res.rc)
		check_fail(__FILE__, __LINE__, "guest 2 after guest 1's daemon stopped: %s",
			   bg.res.msg);
	if (gdisk_verify_file(&m2, d2->path, msg, sizeof(msg)))
		check_fail(__FILE__, __LINE__, "image 2: %s", msg);
	gdisk_model_fini(&m1);
	gdisk_model_fini(&m2);
	t_end(e);
}

static bool wait_needs_reset(struct gblk *b, unsigned vcpu, unsigned ms)
{
	struct timespec pause = { .tv_nsec = 5 * 1000 * 1000 };
	uint8_t status;

	for (unsigned t = 0; t < ms; t += 5) {
		if (guest_mmio_get_status(&b->dev, vcpu, &status) == 0 &&
		    (status & VIRTIO_CONFIG_S_NEEDS_RESET))
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

TEST(hostile_descriptor_loop)
{
	struct t_env *e = t_begin("desc_loop");
	struct t_guest *g = t_guest(e, 4, 2, RAM_SIZE);
	struct t_disk *d0 = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE });
	struct t_disk *d1 = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE });
	struct gdisk_model m1;
	struct gblk *b0, *b1;
	struct gblk_req *r;
	struct gvq *vq;
	struct t_bg bg;
	uint8_t status, buf[4096];
	char msg[256] = "";

	t_daemon_start(g);
	b0 = t_blk(d0, NULL);
	b1 = t_blk(d1, NULL);
	CHECK_EQ(gblk_req_alloc(b0, 4096, 1, &r), 0);

	/* desc 0 -> desc 1 -> desc 0: a chain that never ends. */
	vq = &b0->vq[0];
	pthread_mutex_lock(&vq->lock);
	vq->desc[0] = (struct vring_desc){
		.addr = r->hdr_gpa, .len = 16, .flags = VRING_DESC_F_NEXT, .next = 1
	};
	vq->desc[1] = (struct vring_desc){
		.addr = r->buf_gpa, .len = 512, .flags = VRING_DESC_F_NEXT, .next = 0
	};
	pthread_mutex_unlock(&vq->lock);
	CHECK_EQ(gvq_publish_raw(vq, 0), 0);
	CHECK_EQ(gblk_kick(b0, 0, 0), 0);
	CHECK(wait_needs_reset(b0, 0, 5000));
	/* The config interrupt told the driver too. */
	for (unsigned i = 0; i < 500 && !atomic_load(&b0->needs_reset); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 2 * 1000 * 1000 }, NULL);
	CHECK(atomic_load(&b0->needs_reset));
	CHECK_EQ(vq->bad_used, 0); /* nothing was completed for the broken chain */

	/* The other disk of the same guest is unaffected. */
	CHECK_EQ(gdisk_model_init(&m1, DISK_SIZE / 512, 31), 0);
	bg = (struct t_bg){ .b = b1, .m = &m1 };
	bg.w = (struct gwork){ .kind = GWORK_WRITE, .nr_vcpus = 2, .qd = 8, .sectors = 8192,
			       .min_bytes = 4096, .max_bytes = 65536, .max_segs = 4,
			       .layouts = GBLK_L_ALL, .seed = 31 };
	t_bg_start(&bg);
	t_bg_join(&bg);
	if (bg.res.rc)
		check_fail(__FILE__, __LINE__, "other disk: %s", bg.res.msg);
	bg.w.kind = GWORK_READ;
	bg.w.verify = true;
	t_bg_start(&bg);
	t_bg_join(&bg);
	if (bg.res.rc)
		check_fail(__FILE__, __LINE__, "other disk: %s", bg.res.msg);

	/* A reset brings the broken disk back. */
	CHECK_EQ(gblk_reset(b0, 1), 0);
	CHECK_EQ(gblk_start(b0, 1), 0);
	memset(buf, 0x42, sizeof(buf));
	CHECK_EQ(gblk_write(b0, 0, 10, buf, sizeof(buf), &status), 0);
	CHECK_EQ(status, VIRTIO_BLK_S_OK);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(gblk_read(b0, 1, 10, buf, sizeof(buf), &status), 0);
	CHECK_EQ(status, VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < sizeof(buf); i++)
		CHECK_EQ(buf[i], 0x42);
	if (gdisk_verify_file(&m1, d1->path, msg, sizeof(msg)))
		check_fail(__FILE__, __LINE__, "other image: %s", msg);
	gblk_req_free(r);
	gdisk_model_fini(&m1);
	t_end(e);
}
