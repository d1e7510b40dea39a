/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim integration tests, basics: probe and feature negotiation (modern
 * and legacy virtio-mmio), FLUSH, GET_ID and its 20-byte rules, a
 * read-only disk, and hostile guests (an ioreq of size 3, config space
 * beyond its end, bad request headers). The real daemon binary serves a
 * scripted guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>

#include "t_env.h"

#define DISK_SIZE (8 * T_MIB)
#define RAM_SIZE (64 * T_MIB)

static struct t_disk *one_disk(struct t_env *e, unsigned vcpus, const struct t_disk_opts *o)
{
	struct t_guest *g = t_guest(e, 1, vcpus, RAM_SIZE);
	struct t_disk *d = t_disk(g, o);

	t_daemon_start(g);
	return d;
}

static struct guest_vm *vm_of(struct t_env *e)
{
	return &e->guest[0].vm;
}

/* Write then read back len bytes through every chain layout. */
static void roundtrip(struct gblk *b, unsigned vcpu, uint64_t sector, uint32_t len)
{
	struct gdisk_model m;
	uint8_t *in = malloc(len), *out = malloc(len);
	struct gblk_req *r;
	char msg[200] = "";

	CHECK(in && out);
	CHECK_EQ(gdisk_model_init(&m, b->capacity, 42), 0);
	CHECK_EQ(gblk_req_alloc(b, len + 1, 8, &r), 0);
	for (unsigned layout = 0; layout <= GBLK_L_ALL; layout++) {
		uint32_t gen = gdisk_next_gen(&m);

		gdisk_fill(&m, sector, len / GBLK_SECTOR, gen, in);
		gblk_req_set(r, VIRTIO_BLK_T_OUT, sector, len, 1 + layout % 5, layout);
		gblk_req_copy_in(r, in, len);
		CHECK_EQ(gblk_do(b, vcpu, r), 0);
		CHECK_EQ(r->result, VIRTIO_BLK_S_OK);
		gdisk_commit(&m, sector, len / GBLK_SECTOR, gen);

		gblk_req_set(r, VIRTIO_BLK_T_IN, sector, len, 1 + (layout + 2) % 5, layout);
		memset(r->buf, 0x5a, len + 1);
		CHECK_EQ(gblk_do(b, vcpu, r), 0);
		CHECK_EQ(r->result, VIRTIO_BLK_S_OK);
		CHECK_EQ(r->used_len, len + 1);
		gblk_req_copy_out(r, out, len);
		if (gdisk_compare(&m, sector, len / GBLK_SECTOR, out, msg, sizeof(msg)))
			check_fail(__FILE__, __LINE__, "layout %#x: %s", layout, msg);
	}
	gblk_req_free(r);
	gdisk_model_fini(&m);
	free(in);
	free(out);
}

TEST(probe_modern)
{
	struct t_env *e = t_begin("probe_modern");
	struct t_disk *d = one_disk(e, 1, &(struct t_disk_opts){ .size = DISK_SIZE });
	struct guest_mmio m;
	uint64_t features, cap;
	uint32_t v, max;
	uint8_t status;
	unsigned unoffered = 64;
	struct gblk *b;

	guest_mmio_bind(&m, vm_of(e), d->base, d->irq);
	CHECK_EQ(guest_mmio_probe(&m, 0), 0);
	CHECK_EQ(m.version, 2);
	CHECK_EQ(m.device_id, VIRTIO_ID_BLOCK);
	CHECK_EQ(guest_mmio_reset(&m, 0), 0);
	CHECK_EQ(guest_mmio_add_status(&m, 0, VIRTIO_CONFIG_S_ACKNOWLEDGE), 0);
	CHECK_EQ(guest_mmio_add_status(&m, 0, VIRTIO_CONFIG_S_DRIVER), 0);
	CHECK_EQ(guest_mmio_read_features(&m, 0, &features), 0);
	/* What issue 2 says the device offers. */
	CHECK(features & (1ull << VIRTIO_F_VERSION_1));
	CHECK(features & (1ull << 28)); /* INDIRECT_DESC */
	CHECK(features & (1ull << 29)); /* EVENT_IDX */
	CHECK(features & (1ull << 9));  /* FLUSH */
	CHECK(features & (1ull << 2));  /* SEG_MAX */
	CHECK(!(features & (1ull << 5))); /* not RO */

	/* FEATURES_OK must be refused for a bit the device did not offer. */
	for (unsigned bit = 0; bit < 64 && unoffered == 64; bit++)
		if (!(features & (1ull << bit)))
			unoffered = bit;
	CHECK(unoffered < 64);
	CHECK_EQ(guest_mmio_negotiate(&m, 0, features | (1ull << unoffered), true), -EPROTO);

	/* Start again properly: the reset forgets the refused attempt. */
	CHECK_EQ(guest_mmio_init(&m, 0, GBLK_DEFAULT_FEATURES), 0);
	CHECK_EQ(guest_mmio_get_status(&m, 0, &status), 0);
	CHECK_EQ(status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				 VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK_EQ(guest_mmio_config_read64(&m, 0, 0, &cap), 0);
	CHECK_EQ_U64(cap, DISK_SIZE / 512);
	CHECK_EQ(guest_mmio_queue_max(&m, 0, 0, &max), 0);
	CHECK(max >= 2 && !(max & (max - 1)));
	CHECK_EQ(guest_mmio_queue_max(&m, 0, 8, &max), 0);
	CHECK_EQ(max, 0); /* no ninth queue */
	CHECK_EQ(guest_mmio_reset(&m, 0), 0);

	/* The full driver, then data through every descriptor layout. */
	b = t_blk(d, NULL);
	CHECK_EQ_U64(b->capacity, DISK_SIZE / 512);
	CHECK_EQ(b->blk_size, 512);
	CHECK(b->seg_max >= 1);
	CHECK(b->size_max >= 4096);
	CHECK(gblk_has(b, VIRTIO_RING_F_EVENT_IDX) && gblk_has(b, VIRTIO_RING_F_INDIRECT_DESC));
	CHECK_EQ(guest_mmio_get_status(&b->dev, 0, &status), 0);
	CHECK(status & VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(guest_mmio_rd(&b->dev, 0, VIRTIO_MMIO_QUEUE_READY, &v), 0);
	CHECK_EQ(v, 1);
	roundtrip(b, 0, 8, 12 * 1024);
	roundtrip(b, 0, DISK_SIZE / 512 - 16, 8 * 512); /* the last sectors */
	CHECK_EQ(b->vq[0].bad_used, 0);
	/* All acknowledged: the line follows InterruptStatus down to 0. */
	for (unsigned i = 0; i < 200 && sim_irq_level(e->guest[0].sim, d->irq); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
	CHECK(!sim_irq_level(e->guest[0].sim, d->irq));
	CHECK(atomic_load(&b->irqs) > 0);
	t_end(e);
}

TEST(probe_legacy)
{
	struct t_env *e = t_begin("probe_legacy");
	struct t_disk *d = one_disk(e, 2, &(struct t_disk_opts){ .size = DISK_SIZE, .version = 1 });
	struct gdisk_model model;
	struct gwork_result res;
	struct guest_mmio m;
	uint64_t features;
	uint32_t pfn;
	uint8_t status;
	char msg[256] = "";
	struct gblk *b;

	guest_mmio_bind(&m, vm_of(e), d->base, d->irq);
	CHECK_EQ(guest_mmio_probe(&m, 0), 0);
	CHECK_EQ(m.version, 1);
	CHECK_EQ(m.device_id, VIRTIO_ID_BLOCK);
	CHECK_EQ(guest_mmio_read_features(&m, 0, &features), 0);
	CHECK(features != 0);
	CHECK_EQ(features >> 32, 0);

	/* Legacy: no FEATURES_OK; QueuePFN names the page of the rings. */
	b = t_blk(d, &(struct gblk_opts){ .features = GBLK_DEFAULT_FEATURES });
	CHECK_EQ(b->dev.version, 1);
	CHECK(!gblk_has(b, VIRTIO_F_VERSION_1));
	CHECK_EQ(guest_mmio_get_status(&b->dev, 0, &status), 0);
	CHECK_EQ(status, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				 VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(guest_mmio_wr(&b->dev, 0, VIRTIO_MMIO_QUEUE_SEL, 0), 0);
	CHECK_EQ(guest_mmio_rd(&b->dev, 0, VIRTIO_MMIO_QUEUE_PFN, &pfn), 0);
	CHECK_EQ_U64(pfn, b->vq[0].desc_gpa / GUEST_PAGE_SIZE);
	CHECK_EQ_U64(b->capacity, DISK_SIZE / 512);

	roundtrip(b, 0, 100, 4096);
	/* The whole disk at QD 8 on two vCPUs, verified twice. */
	CHECK_EQ(gdisk_model_init(&model, DISK_SIZE / 512, 7), 0);
	struct gwork w = {
		.kind = GWORK_WRITE, .nr_vcpus = 2, .qd = 8, .sectors = DISK_SIZE / 512,
		.min_bytes = 4096, .max_bytes = 128 * 1024, .max_segs = 4,
		.layouts = GBLK_L_ALL, .seed = 7,
	};
	gwork_run(b, &model, &w, &res);
	if (res.rc)
		check_fail(__FILE__, __LINE__, "write: %s", res.msg);
	w.kind = GWORK_READ;
	w.verify = true;
	gwork_run(b, &model, &w, &res);
	if (res.rc)
		check_fail(__FILE__, __LINE__, "read: %s", res.msg);
	CHECK_EQ(res.mismatches, 0);
	CHECK_EQ(gdisk_verify_file(&model, d->path, msg, sizeof(msg)), 0);
	gdisk_model_fini(&model);
	CHECK_EQ(b->vq[0].bad_used, 0);
	t_end(e);
}

TEST(flush)
{
	struct t_env *e = t_begin("flush");
	struct t_disk *d = one_disk(e, 1, &(struct t_disk_opts){ .size = DISK_SIZE });
	struct gblk *b = t_blk(d, NULL);
	uint8_t buf[4096], back[4096], status = 0xee;

	CHECK(gblk_has(b, VIRTIO_BLK_F_FLUSH));
	CHECK_EQ(gblk_flush(b, 0, &status), 0);
	CHECK_EQ(status, VIRTIO_BLK_S_OK);
	memset(buf, 0x3c, sizeof(buf));
	CHECK_EQ(gblk_write(b, 0, 64, buf, sizeof(buf), &status), 0);
	CHECK_EQ(status, VIRTIO_BLK_S_OK);
	status = 0xee;
	CHECK_EQ(gblk_flush(b, 0, &status), 0);
	CHECK_EQ(status, VIRTIO_BLK_S_OK);
	/* After the flush the data is in the image file. */
	{
		int fd = open(d->path, O_RDONLY);

		CHECK(fd >= 0);
		CHECK_EQ(pread(fd, back, sizeof(back), 64 * 512), (ssize_t)sizeof(back));
		close(fd);
		CHECK(memcmp(buf, back, sizeof(buf)) == 0);
	}
	t_end(e);
}

static void get_id(struct gblk *b, uint32_t len, uint8_t *out)
{
	uint8_t status = 0xee;

	CHECK_EQ(gblk_get_id(b, 0, out, len, &status), 0);
	CHECK_EQ(status, VIRTIO_BLK_S_OK);
}

TEST(get_id_20_bytes_no_nul)
{
	struct t_env *e = t_begin("get_id_20");
	struct t_disk *d = one_disk(e, 1, &(struct t_disk_opts){ .size = DISK_SIZE,
								.serial = "ABCDEFGHIJKLMNOPQRST" });
	struct gblk *b = t_blk(d, NULL);
	uint8_t id[20];

	get_id(b, sizeof(id), id);
	CHECK(memcmp(id, "ABCDEFGHIJKLMNOPQRST", 20) == 0); /* all 20, no terminator */
	t_end(e);
}

TEST(get_id_short_serial_nul_padded)
{
	struct t_env *e = t_begin("get_id_short");
	struct t_disk *d =
		one_disk(e, 1, &(struct t_disk_opts){ .size = DISK_SIZE, .serial = "xvb7" });
	struct gblk *b = t_blk(d, NULL);
	static const uint8_t zero[16];
	uint8_t id[20];

	get_id(b, sizeof(id), id);
	CHECK(memcmp(id, "xvb7", 4) == 0);
	CHECK(memcmp(id + 4, zero, 16) == 0); /* the rest NUL, not left as it was */
	t_end(e);
}

TEST(get_id_short_buffer_truncated)
{
	struct t_env *e = t_begin("get_id_trunc");
	struct t_disk *d = one_disk(e, 1, &(struct t_disk_opts){ .size = DISK_SIZE,
								.serial = "ABCDEFGHIJKLMNOPQRST" });
	struct gblk *b = t_blk(d, NULL);
	uint8_t id[8];
	uint8_t sector[512], status;

	get_id(b, sizeof(id), id);
	CHECK(memcmp(id, "ABCDEFGH", 8) == 0);
	/* Still serving afterwards. */
	CHECK_EQ(gblk_read(b, 0, 0, sector, sizeof(sector), &status), 0);
	CHECK_EQ(status, VIRTIO_BLK_S_OK);
	t_end(e);
}

TEST(read_only_disk)
{
	struct t_env *e = t_begin("read_only");
	struct t_guest *g = t_guest(e, 1, 2, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE, .ro = true });
	struct gdisk_model m;
	uint8_t *img = malloc(DISK_SIZE), buf[8192], status;
	char msg[200] = "";
	uint64_t before;
	struct gblk *b;
	int fd;

	/* Give the image known content before the daemon opens it. */
	CHECK(img != NULL);
	CHECK_EQ(gdisk_model_init(&m, DISK_SIZE / 512, 99), 0);
	gdisk_fill(&m, 0, DISK_SIZE / 512, 5, img);
	gdisk_commit(&m, 0, DISK_SIZE / 512, 5);
	fd = open(d->path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pwrite(fd, img, DISK_SIZE, 0), (ssize_t)DISK_SIZE);
	close(fd);
	free(img);
	before = t_file_hash(d->path);
	t_daemon_start(g);

	b = t_blk(d, NULL);
	CHECK(gblk_has(b, VIRTIO_BLK_F_RO));
	for (unsigned i = 0; i < 16; i++) {
		uint64_t sector = (uint64_t)i * 1000;

		memset(buf, 0x77, sizeof(buf));
		status = 0xee;
		CHECK_EQ(gblk_write(b, i % 2, sector, buf, sizeof(buf), &status), 0);
		CHECK_EQ(status, VIRTIO_BLK_S_IOERR);
		CHECK_EQ(gblk_read(b, i % 2, sector, buf, sizeof(buf), &status), 0);
		CHECK_EQ(status, VIRTIO_BLK_S_OK);
		if (gdisk_compare(&m, sector, sizeof(buf) / 512, buf, msg, sizeof(msg)))
			check_fail(__FILE__, __LINE__, "%s", msg);
	}
	CHECK_EQ(gblk_flush(b, 0, &status), 0);
	CHECK_EQ(t_file_hash(d->path), before);
	gdisk_model_fini(&m);
	t_end(e);
}

TEST(hostile_ioreq_size_3)
{
	struct t_env *e = t_begin("ioreq_size3");
	struct t_disk *d = one_disk(e, 1, &(struct t_disk_opts){ .size = DISK_SIZE });
	struct gblk *b = t_blk(d, NULL);
	uint8_t before, after, status, sector[512];
	ioreq_t req, resp;

	CHECK_EQ(guest_mmio_get_status(&b->dev, 0, &before), 0);
	/* A 3-byte write of 0 to Status would reset the device if it took effect. */
	req = (ioreq_t){ .addr = d->base + VIRTIO_MMIO_STATUS, .data = 0, .count = 1, .size = 3,
			 .dir = IOREQ_WRITE, .type = IOREQ_TYPE_COPY };
	CHECK_EQ(guest_vm_ioreq(&e->guest[0].vm, 0, &req, &resp), 0); /* answered */
	req.dir = IOREQ_READ;
	CHECK_EQ(guest_vm_ioreq(&e->guest[0].vm, 0, &req, &resp), 0);
	CHECK_EQ(guest_mmio_get_status(&b->dev, 0, &after), 0);
	CHECK_EQ(after, before);
	CHECK_EQ(gblk_read(b, 0, 0, sector, sizeof(sector), &status), 0);
	CHECK_EQ(status, VIRTIO_BLK_S_OK);
	t_end(e);
}

TEST(hostile_config_out_of_range)
{
	struct t_env *e = t_begin("config_oor");
	struct t_disk *d = one_disk(e, 1, &(struct t_disk_opts){ .size = DISK_SIZE });
	struct gblk *b = t_blk(d, NULL);
	uint64_t v;
	uint8_t status, sector[512];

	/* The last bytes of the window are far past virtio_blk_config. */
	for (uint32_t off = 0xf0; off < 0x100; off += 4) {
		v = 0xdeadbeef;
		CHECK_EQ(guest_mmio_config_read(&b->dev, 0, off, 4, &v), 0);
		CHECK_EQ_U64(v, 0);
	}
	v = 0xdeadbeef;
	CHECK_EQ(guest_mmio_config_read(&b->dev, 0, 0xf8, 8, &v), 0);
	CHECK_EQ_U64(v, 0);
	v = 0xdeadbeef;
	CHECK_EQ(guest_mmio_config_read(&b->dev, 0, 0xff, 1, &v), 0);
	CHECK_EQ_U64(v, 0);
	CHECK_EQ(gblk_read(b, 0, 0, sector, sizeof(sector), &status), 0);
	CHECK_EQ(status, VIRTIO_BLK_S_OK);
	t_end(e);
}

static uint8_t req_status(struct gblk *b, struct gblk_req *r, uint32_t type, uint64_t sector,
			  uint32_t len)
{
	gblk_req_set(r, type, sector, len, 1, 0);
	memset(r->buf, type == VIRTIO_BLK_T_IN ? 0xcc : 0x33, len + 1);
	CHECK_EQ(gblk_do(b, 0, r), 0);
	return r->result;
}

TEST(hostile_bad_headers)
{
	struct t_env *e = t_begin("bad_headers");
	struct t_disk *d = one_disk(e, 1, &(struct t_disk_opts){ .size = DISK_SIZE });
	struct gblk *b = t_blk(d, NULL);
	struct gblk_req *r;
	uint64_t cap = b->capacity, before;
	uint8_t status;

	CHECK_EQ(gblk_req_alloc(b, 8192, 2, &r), 0);
	before = t_file_hash(d->path);
	CHECK_EQ(req_status(b, r, 0x7fff1234, 0, 512), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(req_status(b, r, VIRTIO_BLK_T_IN, cap, 512), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req_status(b, r, VIRTIO_BLK_T_IN, cap - 4, 4096), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req_status(b, r, VIRTIO_BLK_T_OUT, cap - 4, 4096), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req_status(b, r, VIRTIO_BLK_T_OUT, UINT64_MAX - 3, 4096), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req_status(b, r, VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, 4096),
		 VIRTIO_BLK_S_IOERR);

	/* A header of 8 bytes: a bad request, not a broken ring: completed with an error. */
	struct gvq_seg segs[] = { { r->hdr_gpa, 8, false }, { r->status_gpa, 1, true } };
	memset(r->hdr, 0, 16);
	CHECK_EQ(gblk_submit_segs(b, 0, r, segs, 2, false), 0);
	CHECK_EQ(gblk_kick(b, 0, 0), 0);
	CHECK_EQ(gblk_wait_req(b, r), 0);
	CHECK(r->result != VIRTIO_BLK_S_OK && r->result != GBLK_S_UNTOUCHED);
	CHECK_EQ(t_file_hash(d->path), before); /* none of these wrote anything */

	/* The last sectors are fine, and the device is healthy. */
	CHECK_EQ(req_status(b, r, VIRTIO_BLK_T_OUT, cap - 8, 4096), VIRTIO_BLK_S_OK);
	CHECK_EQ(req_status(b, r, VIRTIO_BLK_T_IN, cap - 8, 4096), VIRTIO_BLK_S_OK);
	CHECK_EQ(r->buf[0], 0x33);
	CHECK_EQ(guest_mmio_get_status(&b->dev, 0, &status), 0);
	CHECK(!(status & VIRTIO_CONFIG_S_NEEDS_RESET));
	gblk_req_free(r);
	t_end(e);
}
