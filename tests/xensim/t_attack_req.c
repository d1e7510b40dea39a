/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attack suite, virtio-blk requests (virtio 1.2 §5.2.6): headers missing,
 * short, writable or split oddly; the status byte in a read-only
 * descriptor; data not a whole number of sectors, beyond the capacity,
 * with sector x 512 or sector + length overflowing, longer than the
 * device allows or in more pieces than the host can map; writes to a
 * read-only disk; GET_ID into short, split or read-only buffers; unknown
 * request types; reset (Status = 0) with requests in flight. A bad request
 * is answered (exactly the expected status and used length) and the
 * device stays usable; the image changes nowhere (attack_env.h checks it
 * outside the scratch range, the tests inside it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "attack_env.h"

#define BUF_BYTES (64u * 1024u)

struct req_ctx {
	struct atk *a;
	struct gblk *b;
	struct gblk_req *r;
};

static void setup_opts(struct req_ctx *c, const char *name, const struct atk_opts *o)
{
	c->a = atk_begin(name, o);
	c->b = atk_open_a(c->a, NULL);
	CHECK_EQ_U64(c->b->capacity, ATK_SECTORS);
	CHECK_EQ(gblk_req_alloc(c->b, BUF_BYTES, 4, &c->r), 0);
}

static void setup(struct req_ctx *c, const char *name)
{
	setup_opts(c, name, NULL);
}

static void hdr(struct req_ctx *c, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };

	memcpy(c->r->hdr, &h, sizeof(h));
}

/* header (16 R), data (len, writable or not), status (1 W) */
static uint8_t simple(struct req_ctx *c, uint32_t type, uint64_t sector, uint32_t len,
		      bool data_writable)
{
	struct gvq_seg segs[] = { { c->r->hdr_gpa, 16, false },
				  { c->r->buf_gpa, len, data_writable },
				  { c->r->status_gpa, 1, true } };

	hdr(c, type, sector);
	return len ? atk_submit(c->a, c->r, segs, 3, false)
		   : atk_submit(c->a, c->r, (struct gvq_seg[]){ segs[0], segs[2] }, 2, false);
}

static void fill(struct req_ctx *c, uint8_t v)
{
	memset(c->r->buf, v, BUF_BYTES + 64);
}

/* The first n bytes of the request's buffer still hold v. */
static void buf_is(struct req_ctx *c, uint8_t v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (c->r->buf[i] != v)
			check_fail(__FILE__, __LINE__, "buffer byte %u changed to 0x%02x", i,
				   c->r->buf[i]);
}

static void finish(struct req_ctx *c)
{
	gblk_req_free(c->r);
	atk_expect_healthy(c->a);
	atk_recover(c->a);
	atk_end(c->a);
}

TEST(header_missing)
{
	struct req_ctx c;
	struct gvq_seg status_only[] = { { 0, 1, true } };

	setup(&c, "hdr_missing");
	status_only[0].gpa = c.r->status_gpa;
	CHECK_EQ(atk_submit(c.a, c.r, status_only, 1, false), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(c.r->used_len, 1);
	finish(&c);
}

TEST(header_shorter_than_16_bytes)
{
	struct req_ctx c;
	struct gvq_seg segs[3];

	setup(&c, "hdr_short");
	hdr(&c, VIRTIO_BLK_T_OUT, ATK_SCRATCH);
	fill(&c, 0x5c);
	for (uint32_t len = 1; len < 16; len += 7) {
		segs[0] = (struct gvq_seg){ c.r->hdr_gpa, len, false };
		segs[1] = (struct gvq_seg){ c.r->status_gpa, 1, true };
		CHECK_EQ(atk_submit(c.a, c.r, segs, 2, false), VIRTIO_BLK_S_IOERR);
		CHECK_EQ(c.r->used_len, 1);
	}
	/* 15 bytes of header, then what would be data: still no 16-byte header in front. */
	segs[0] = (struct gvq_seg){ c.r->hdr_gpa, 15, false };
	segs[1] = (struct gvq_seg){ c.r->status_gpa, 1, true };
	CHECK_EQ(atk_submit(c.a, c.r, segs, 2, false), VIRTIO_BLK_S_IOERR);
	finish(&c);
}

TEST(header_in_writable_descriptor)
{
	struct req_ctx c;
	struct gvq_seg segs[3];
	uint8_t before[16];

	setup(&c, "hdr_writable");
	hdr(&c, VIRTIO_BLK_T_IN, ATK_SCRATCH);
	memcpy(before, c.r->hdr, 16);
	fill(&c, 0x6d);
	segs[0] = (struct gvq_seg){ c.r->hdr_gpa, 16, true };
	segs[1] = (struct gvq_seg){ c.r->buf_gpa, 512, true };
	segs[2] = (struct gvq_seg){ c.r->status_gpa, 1, true };
	CHECK_EQ(atk_submit(c.a, c.r, segs, 3, false), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(c.r->used_len, 1);
	CHECK(memcmp(before, c.r->hdr, 16) == 0); /* not written: no read happened */
	buf_is(&c, 0x6d, 512);
	finish(&c);
}

static void read_image(struct atk *a, uint64_t off, void *buf, size_t len)
{
	int fd = open(a->img_a, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/*
 * Any framing is legal (VIRTIO_F_VERSION_1 implies ANY_LAYOUT): a header in
 * 16 one-byte pieces, a header sharing a descriptor with the data, the
 * status sharing the last data descriptor. Served exactly, nothing more.
 */
TEST(header_split_oddly_still_served)
{
	struct req_ctx c;
	struct gvq_seg segs[24];
	uint8_t *data = malloc(4096), *back = malloc(4096);
	uint64_t sector = ATK_SCRATCH + 64, gpa;
	uint8_t *p;
	unsigned n = 0;

	CHECK(data && back);
	setup(&c, "hdr_split");
	for (unsigned i = 0; i < 4096; i++)
		data[i] = (uint8_t)(i * 13 + 7);
	/* Write: header in 16 one-byte descriptors, data in 3 odd pieces. */
	hdr(&c, VIRTIO_BLK_T_OUT, sector);
	memcpy(c.r->buf, data, 4096);
	for (unsigned i = 0; i < 16; i++)
		segs[n++] = (struct gvq_seg){ c.r->hdr_gpa + i, 1, false };
	segs[n++] = (struct gvq_seg){ c.r->buf_gpa, 1000, false };
	segs[n++] = (struct gvq_seg){ c.r->buf_gpa + 1000, 3, false };
	segs[n++] = (struct gvq_seg){ c.r->buf_gpa + 1003, 4096 - 1003, false };
	segs[n++] = (struct gvq_seg){ c.r->status_gpa, 1, true };
	CHECK_EQ(atk_submit(c.a, c.r, segs, n, false), VIRTIO_BLK_S_OK);
	CHECK_EQ(c.r->used_len, 1);
	read_image(c.a, sector * 512, back, 4096);
	CHECK(memcmp(data, back, 4096) == 0);

	/* Write: the header's last 6 bytes and the data in one descriptor. */
	p = atk_alloc(c.a, 16 + 4096, 64, &gpa);
	{
		struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_OUT, .sector = sector + 8 };

		memcpy(p, &h, 16);
	}
	for (unsigned i = 0; i < 4096; i++)
		data[i] = (uint8_t)(i * 31 + 1);
	memcpy(p + 16, data, 4096);
	segs[0] = (struct gvq_seg){ gpa, 10, false };
	segs[1] = (struct gvq_seg){ gpa + 10, 6 + 4096, false };
	segs[2] = (struct gvq_seg){ c.r->status_gpa, 1, true };
	CHECK_EQ(atk_submit(c.a, c.r, segs, 3, false), VIRTIO_BLK_S_OK);
	read_image(c.a, (sector + 8) * 512, back, 4096);
	CHECK(memcmp(data, back, 4096) == 0);

	/* Read it back: header split 3 + 13, status merged into the last data piece. */
	hdr(&c, VIRTIO_BLK_T_IN, sector + 8);
	fill(&c, 0xa5);
	segs[0] = (struct gvq_seg){ c.r->hdr_gpa, 3, false };
	segs[1] = (struct gvq_seg){ c.r->hdr_gpa + 3, 13, false };
	segs[2] = (struct gvq_seg){ c.r->buf_gpa, 512, true };
	segs[3] = (struct gvq_seg){ c.r->buf_gpa + 512, 4096 - 512 + 1, true };
	/* The status is in the data buffer, not where the driver's status byte is. */
	CHECK_EQ(atk_submit(c.a, c.r, segs, 4, false), GBLK_S_UNTOUCHED);
	CHECK_EQ(c.r->used_len, 4097);
	CHECK(memcmp(c.r->buf, data, 4096) == 0);
	CHECK_EQ(c.r->buf[4096], VIRTIO_BLK_S_OK);
	CHECK_EQ(c.r->buf[4097], 0xa5);
	free(data);
	free(back);
	finish(&c);
}

/* No device-writable byte: nowhere to put a status, so nothing is done. */
TEST(status_byte_in_read_only_descriptor)
{
	struct req_ctx c;
	struct gvq_seg segs[3];

	setup(&c, "status_ro");
	fill(&c, 0x77);
	for (unsigned k = 0; k < 2; k++) {
		/* Outside the scratch range: had it been written, atk_end would see it. */
		hdr(&c, k ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, ATK_SCRATCH - 8);
		segs[0] = (struct gvq_seg){ c.r->hdr_gpa, 16, false };
		segs[1] = (struct gvq_seg){ c.r->buf_gpa, 4096, false };
		segs[2] = (struct gvq_seg){ c.r->status_gpa, 1, false };
		CHECK_EQ(atk_submit(c.a, c.r, segs, 3, false), GBLK_S_UNTOUCHED);
		CHECK_EQ(c.r->used_len, 0);
		buf_is(&c, 0x77, 4096);
	}
	finish(&c);
}

TEST(data_not_a_multiple_of_512)
{
	struct req_ctx c;

	setup(&c, "data_513");
	fill(&c, 0x42);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_IN, 0, 513, true), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(c.r->used_len, 1);
	buf_is(&c, 0x42, 513);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_OUT, 0, 100, false), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_OUT, 0, 4095, false), VIRTIO_BLK_S_IOERR);
	finish(&c);
}

TEST(sector_beyond_capacity)
{
	struct req_ctx c;
	uint64_t cap = ATK_SECTORS;

	setup(&c, "beyond_cap");
	fill(&c, 0x31);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_IN, cap, 512, true), VIRTIO_BLK_S_IOERR);
	buf_is(&c, 0x31, 512);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_IN, cap - 1, 1024, true), VIRTIO_BLK_S_IOERR);
	buf_is(&c, 0x31, 1024);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_OUT, cap, 512, false), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_OUT, cap - 4, 4096, false), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_OUT, cap + 1000000, 512, false), VIRTIO_BLK_S_IOERR);
	/* The last sectors themselves are fine. */
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_IN, cap - 8, 4096, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(c.r->used_len, 4097);
	finish(&c);
}

TEST(sector_times_512_overflows)
{
	struct req_ctx c;
	static const uint64_t sectors[] = { 1ull << 55, UINT64_MAX / 512 + 1, UINT64_MAX / 256,
					    UINT64_MAX };

	setup(&c, "sector_mul");
	fill(&c, 0x19);
	for (unsigned i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++) {
		CHECK_EQ(simple(&c, VIRTIO_BLK_T_IN, sectors[i], 512, true), VIRTIO_BLK_S_IOERR);
		buf_is(&c, 0x19, 512);
		CHECK_EQ(simple(&c, VIRTIO_BLK_T_OUT, sectors[i], 512, false), VIRTIO_BLK_S_IOERR);
	}
	finish(&c);
}

TEST(sector_plus_length_overflows)
{
	struct req_ctx c;

	setup(&c, "sector_add");
	fill(&c, 0x29);
	for (uint64_t back = 1; back <= 8; back++) {
		CHECK_EQ(simple(&c, VIRTIO_BLK_T_OUT, UINT64_MAX - back, 4096, false),
			 VIRTIO_BLK_S_IOERR);
		CHECK_EQ(simple(&c, VIRTIO_BLK_T_IN, (UINT64_MAX >> 9) - back, 4096, true),
			 VIRTIO_BLK_S_IOERR);
		buf_is(&c, 0x29, 4096);
	}
	finish(&c);
}

TEST(write_to_read_only_disk)
{
	struct req_ctx c;
	struct atk_opts o = { .ro = true };

	setup_opts(&c, "write_ro", &o);
	CHECK(gblk_has(c.b, VIRTIO_BLK_F_RO));
	fill(&c, 0xd1);
	for (uint64_t s = 0; s < ATK_SECTORS; s += ATK_SECTORS / 8)
		CHECK_EQ(simple(&c, VIRTIO_BLK_T_OUT, s, 4096, false), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_OUT, ATK_SCRATCH, 4096, false), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_FLUSH, 0, 0, false), VIRTIO_BLK_S_OK);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_IN, 0, 4096, true), VIRTIO_BLK_S_OK);
	finish(&c); /* the recovery check reads the untouched scratch range */
}

/* The device writes the serial only as far as the buffer goes. */
TEST(get_id_into_short_buffer)
{
	struct req_ctx c;

	setup(&c, "get_id_short");
	for (uint32_t len = 1; len < 20; len += 6) {
		fill(&c, 0xe7);
		CHECK_EQ(simple(&c, VIRTIO_BLK_T_GET_ID, 0, len, true), VIRTIO_BLK_S_OK);
		CHECK_EQ(c.r->used_len, len + 1);
		CHECK(memcmp(c.r->buf, ATK_SERIAL, len) == 0);
		CHECK_EQ(c.r->buf[len], 0xe7);
	}
	/* No data buffer at all. */
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_GET_ID, 0, 0, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(c.r->used_len, 1);
	/* A buffer larger than 20 bytes gets 20. */
	fill(&c, 0xe7);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_GET_ID, 0, 512, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(c.r->used_len, 21);
	CHECK(memcmp(c.r->buf, ATK_SERIAL, 20) == 0);
	CHECK_EQ(c.r->buf[20], 0xe7);
	finish(&c);
}

TEST(get_id_into_split_or_read_only_buffers)
{
	struct req_ctx c;
	struct gvq_seg segs[24];
	unsigned n = 0;

	setup(&c, "get_id_split");
	/* 20 one-byte writable pieces in reverse memory order. */
	hdr(&c, VIRTIO_BLK_T_GET_ID, 0);
	fill(&c, 0x11);
	segs[n++] = (struct gvq_seg){ c.r->hdr_gpa, 16, false };
	for (unsigned i = 0; i < 20; i++)
		segs[n++] = (struct gvq_seg){ c.r->buf_gpa + 19 - i, 1, true };
	segs[n++] = (struct gvq_seg){ c.r->status_gpa, 1, true };
	CHECK_EQ(atk_submit(c.a, c.r, segs, n, false), VIRTIO_BLK_S_OK);
	CHECK_EQ(c.r->used_len, 21);
	for (unsigned i = 0; i < 20; i++)
		CHECK_EQ(c.r->buf[19 - i], (uint8_t)ATK_SERIAL[i]);
	/* The buffer read-only: the device writes only the status. */
	fill(&c, 0x12);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_GET_ID, 0, 20, false), VIRTIO_BLK_S_OK);
	CHECK_EQ(c.r->used_len, 1);
	buf_is(&c, 0x12, 64);
	finish(&c);
}

TEST(unknown_request_types)
{
	struct req_ctx c;
	/* SCSI, 3, GET_LIFETIME, DISCARD, WRITE_ZEROES, SECURE_ERASE, zone ops, junk */
	static const uint32_t types[] = { 2,  3,  5,  6,  7,  9,  10, 11, 12, 13, 14, 15, 16,
					  20, 22, 24, 26, 0x80000000u, 0x7fff1234, UINT32_MAX };

	setup(&c, "unknown_type");
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		fill(&c, 0x3a);
		CHECK_EQ(simple(&c, types[i], ATK_SCRATCH - 8, 4096, true), VIRTIO_BLK_S_UNSUPP);
		CHECK_EQ(c.r->used_len, 1);
		buf_is(&c, 0x3a, 4096);
		CHECK_EQ(simple(&c, types[i], ATK_SCRATCH - 8, 4096, false), VIRTIO_BLK_S_UNSUPP);
	}
	finish(&c);
}

/* A reader's buffer that is device-readable, a writer's that is device-writable: untouched. */
TEST(data_in_the_wrong_direction)
{
	struct req_ctx c;

	setup(&c, "wrong_dir");
	fill(&c, 0x4e);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_IN, 0, 4096, false), VIRTIO_BLK_S_OK);
	CHECK_EQ(c.r->used_len, 1);
	buf_is(&c, 0x4e, 4096);
	CHECK_EQ(simple(&c, VIRTIO_BLK_T_OUT, ATK_SCRATCH - 8, 4096, true), VIRTIO_BLK_S_OK);
	CHECK_EQ(c.r->used_len, 1);
	buf_is(&c, 0x4e, 4096);
	finish(&c);
}

/*
 * 254 data descriptors of 1 MiB + 1 KiB, all over the same guest memory,
 * each crossing two 1 MiB mapping boundaries: 762 host pieces, more than
 * REQ_MAX_IOV. The request fails; nothing is read or written.
 */
TEST(more_pieces_than_the_host_maps)
{
	struct req_ctx c;
	struct gvq_seg *segs = calloc(256, sizeof(*segs));
	uint64_t gpa, start;
	uint8_t *p;

	CHECK(segs != NULL);
	setup(&c, "too_many_iov");
	p = atk_alloc(c.a, 3u << 20, 1u << 20, &gpa);
	start = gpa + (1u << 20) - 512;
	memset(p, 0x66, 3u << 20);
	for (unsigned k = 0; k < 2; k++) {
		bool write = k == 0;

		hdr(&c, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0);
		segs[0] = (struct gvq_seg){ c.r->hdr_gpa, 16, false };
		for (unsigned i = 1; i <= 254; i++)
			segs[i] = (struct gvq_seg){ start, (1u << 20) + 1024, !write };
		segs[255] = (struct gvq_seg){ c.r->status_gpa, 1, true };
		CHECK_EQ(atk_submit(c.a, c.r, segs, 256, false), VIRTIO_BLK_S_IOERR);
		CHECK_EQ(c.r->used_len, 1);
		for (uint32_t i = 0; i < (3u << 20); i++)
			if (p[i] != 0x66)
				check_fail(__FILE__, __LINE__, "guest memory changed at +%u", i);
	}
	free(segs);
	finish(&c);
}

/* Two 128 MiB descriptors: more than SEG_MAX x SIZE_MAX bytes in one request. */
TEST(request_longer_than_the_device_allows)
{
	struct req_ctx c;
	struct gvq_seg segs[4];
	uint64_t gpa;

	setup(&c, "too_long");
	atk_alloc(c.a, 128u << 20, 1u << 20, &gpa);
	for (unsigned k = 0; k < 2; k++) {
		bool write = k == 0;

		hdr(&c, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, 0);
		segs[0] = (struct gvq_seg){ c.r->hdr_gpa, 16, false };
		segs[1] = (struct gvq_seg){ gpa, 128u << 20, !write };
		segs[2] = (struct gvq_seg){ gpa, 128u << 20, !write };
		segs[3] = (struct gvq_seg){ c.r->status_gpa, 1, true };
		CHECK_EQ(atk_submit(c.a, c.r, segs, 4, false), VIRTIO_BLK_S_IOERR);
		CHECK_EQ(c.r->used_len, 1);
	}
	finish(&c);
}

#define INFLIGHT 64u
#define INFLIGHT_BYTES (1024u * 1024u)

/*
 * Status = 0 with 64 requests in flight (writes inside the scratch range,
 * reads all over): once Status reads 0, the device writes no guest memory.
 */
TEST(reset_with_requests_in_flight)
{
	struct req_ctx c;
	struct gblk_req *reqs[INFLIGHT];
	struct gvq *vq;
	uint8_t *snap;
	size_t used_bytes;
	unsigned aborted = 0;

	setup(&c, "reset_inflight");
	vq = &c.b->vq[0];
	used_bytes = 6 + 8u * vq->num;
	snap = malloc((size_t)INFLIGHT * INFLIGHT_BYTES + used_bytes);
	CHECK(snap != NULL);
	for (unsigned i = 0; i < INFLIGHT; i++) {
		bool write = i % 2 == 0;
		/* Writes of 64 KiB inside the scratch range, reads of 1 MiB anywhere. */
		uint64_t sector = write ? ATK_SCRATCH + (i * 128u) % (ATK_SCRATCH_N - 128)
					: (uint64_t)i * 2048u % (ATK_SECTORS - 2048);

		CHECK_EQ(gblk_req_alloc(c.b, INFLIGHT_BYTES, 4, &reqs[i]), 0);
		gblk_req_set(reqs[i], write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector,
			     write ? 65536 : INFLIGHT_BYTES, 1 + i % 4, i % 16);
		memset(reqs[i]->buf, 0xb4, INFLIGHT_BYTES + 1);
		CHECK_EQ(gblk_submit(c.b, 0, reqs[i]), 0);
	}
	CHECK_EQ(gblk_kick(c.b, ATK_VCPU, 0), 0);
	atk_sleep_ms(1); /* popped and on their way to the disk */
	CHECK_EQ(gblk_reset(c.b, ATK_VCPU), 0); /* returns once Status reads 0 */
	for (unsigned i = 0; i < INFLIGHT; i++)
		aborted += reqs[i]->result == GBLK_S_ABORTED;
	printf("# reset caught %u of %u requests in flight\n", aborted, INFLIGHT);
	for (unsigned i = 0; i < INFLIGHT; i++)
		memcpy(snap + (size_t)i * INFLIGHT_BYTES, reqs[i]->buf, INFLIGHT_BYTES);
	memcpy(snap + (size_t)INFLIGHT * INFLIGHT_BYTES, vq->used, used_bytes);
	atk_sleep_ms(200);
	for (unsigned i = 0; i < INFLIGHT; i++)
		if (memcmp(snap + (size_t)i * INFLIGHT_BYTES, reqs[i]->buf, INFLIGHT_BYTES))
			check_fail(__FILE__, __LINE__, "request %u: buffer written after reset", i);
	CHECK(memcmp(snap + (size_t)INFLIGHT * INFLIGHT_BYTES, vq->used, used_bytes) == 0);
	CHECK_EQ(atk_status(c.a), 0);
	for (unsigned i = 0; i < INFLIGHT; i++)
		gblk_req_free(reqs[i]);
	free(snap);
	finish(&c);
}

/* Twenty resets in a row, each with requests just kicked. */
TEST(reset_storm_with_requests_in_flight)
{
	struct req_ctx c;
	struct gblk_req *reqs[16];

	setup(&c, "reset_storm");
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(gblk_req_alloc(c.b, 16384, 2, &reqs[i]), 0);
	for (unsigned round = 0; round < 20; round++) {
		for (unsigned i = 0; i < 16; i++) {
			bool write = (i + round) % 2 == 0;

			gblk_req_set(reqs[i], write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
				     write ? ATK_SCRATCH + i * 32u : i * 512u, 16384, 2, i % 16);
			CHECK_EQ(gblk_submit(c.b, 0, reqs[i]), 0);
		}
		CHECK_EQ(gblk_kick(c.b, ATK_VCPU, 0), 0);
		if (round % 2)
			atk_sleep_ms(round % 4); /* before, or during, the disk I/O */
		CHECK_EQ(gblk_reset(c.b, ATK_VCPU), 0);
		CHECK_EQ(gblk_start(c.b, ATK_VCPU), 0);
	}
	for (unsigned i = 0; i < 16; i++)
		gblk_req_free(reqs[i]);
	finish(&c);
}
