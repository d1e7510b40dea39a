/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attack suite, virtqueue placement through the registers: queue sizes
 * that are not a power of two, above QueueNumMax or zero; QueueReady with
 * addresses unset or misaligned (DEVICE_NEEDS_RESET at once); rings
 * outside guest RAM, straddling its end, on the device's own MMIO window
 * or wrapping the address space (DEVICE_NEEDS_RESET at DRIVER_OK, when
 * they are mapped); rings overlapping each other (served exactly as laid
 * out: the guest's own memory); and the legacy (version 1) layout from
 * GuestPageSize, QueueAlign and QueuePFN.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "attack_env.h"

#define QSIZE 16u

static const uint8_t S_LIVE = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			      VIRTIO_CONFIG_S_FEATURES_OK;

/* Room for a QSIZE ring, page-aligned. */
static uint64_t rings(struct atk *a)
{
	uint64_t gpa;

	atk_alloc(a, 3 * 4096, 4096, &gpa);
	return gpa;
}

static void finish(struct atk *a)
{
	atk_recover(a);
	atk_end(a);
}

/* QueueReady = 1 with this layout breaks the device at once. */
static void ready_breaks(struct atk *a, uint32_t num, uint64_t desc, uint64_t avail,
			 uint64_t used)
{
	atk_raw_init(a, GBLK_DEFAULT_FEATURES);
	atk_raw_queue(a, num, desc, avail, used, true);
	CHECK_EQ(atk_status(a), S_LIVE | ATK_S_NEEDS_RESET);
	CHECK_EQ(atk_rd(a, VIRTIO_MMIO_QUEUE_READY), 0);
	atk_expect_needs_reset(a);
	/* DRIVER_OK cannot revive it. */
	atk_wr(a, VIRTIO_MMIO_STATUS, S_LIVE | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(atk_status(a) & ATK_S_NEEDS_RESET);
}

/* QueueReady = 1 is accepted (the addresses are only numbers); DRIVER_OK maps and breaks. */
static void driver_ok_breaks(struct atk *a, uint32_t num, uint64_t desc, uint64_t avail,
			     uint64_t used)
{
	atk_raw_init(a, GBLK_DEFAULT_FEATURES);
	atk_raw_queue(a, num, desc, avail, used, true);
	CHECK_EQ(atk_status(a), S_LIVE);
	CHECK_EQ(atk_rd(a, VIRTIO_MMIO_QUEUE_READY), 1);
	atk_wr(a, VIRTIO_MMIO_STATUS, S_LIVE | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(atk_status(a), S_LIVE | VIRTIO_CONFIG_S_DRIVER_OK | ATK_S_NEEDS_RESET);
	atk_expect_needs_reset(a);
}

TEST(queue_size_not_a_power_of_two)
{
	struct atk *a = atk_begin("qnum_pow2", NULL);
	uint64_t r = rings(a);
	static const uint32_t nums[] = { 3, 100, 255, 17 };

	for (unsigned i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		ready_breaks(a, nums[i], r, r + 4096, r + 8192);
	finish(a);
}

TEST(queue_size_zero_or_above_maximum)
{
	struct atk *a = atk_begin("qnum_max", NULL);
	uint64_t r = rings(a);
	static const uint32_t nums[] = { 0, 512, 1024, 32768, 65536, 0x10010, UINT32_MAX };

	atk_wr(a, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(atk_rd(a, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	for (unsigned i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		ready_breaks(a, nums[i], r, r + 4096, r + 8192);
	finish(a);
}

TEST(queue_ready_with_addresses_unset)
{
	struct atk *a = atk_begin("qready_unset", NULL);
	uint64_t r = rings(a);

	ready_breaks(a, QSIZE, 0, 0, 0);
	ready_breaks(a, QSIZE, r, 0, 0);
	ready_breaks(a, QSIZE, r, r + 4096, 0);
	ready_breaks(a, QSIZE, 0, r + 4096, r + 8192);
	finish(a);
}

TEST(ring_addresses_misaligned)
{
	struct atk *a = atk_begin("ring_align", NULL);
	uint64_t r = rings(a);

	ready_breaks(a, QSIZE, r + 8, r + 4096, r + 8192);  /* descriptors: 16 */
	ready_breaks(a, QSIZE, r, r + 4097, r + 8192);      /* avail: 2 */
	ready_breaks(a, QSIZE, r, r + 4096, r + 8194);      /* used: 4 */
	finish(a);
}

TEST(rings_outside_guest_ram)
{
	struct atk *a = atk_begin("rings_outside", NULL);
	uint64_t r = rings(a);

	driver_ok_breaks(a, QSIZE, ATK_RAM_END, r + 4096, r + 8192);
	driver_ok_breaks(a, QSIZE, r, ATK_RAM_END + 0x100000, r + 8192);
	driver_ok_breaks(a, QSIZE, r, r + 4096, ATK_RAM_END);
	driver_ok_breaks(a, QSIZE, 0x1000, r + 4096, r + 8192); /* below RAM */
	finish(a);
}

TEST(rings_straddle_ram_end)
{
	struct atk *a = atk_begin("rings_straddle", NULL);
	uint64_t r = rings(a);

	/* 16 descriptors are 256 bytes; the used ring 134; the avail ring 38. */
	driver_ok_breaks(a, QSIZE, ATK_RAM_END - 128, r + 4096, r + 8192);
	driver_ok_breaks(a, QSIZE, r, ATK_RAM_END - 16, r + 8192);
	driver_ok_breaks(a, QSIZE, r, r + 4096, ATK_RAM_END - 64);
	finish(a);
}

/* The ioreq page is not guest RAM in Xen; the device's own window is the nearest thing. */
TEST(rings_on_the_mmio_window)
{
	struct atk *a = atk_begin("rings_window", NULL);
	uint64_t r = rings(a);

	driver_ok_breaks(a, QSIZE, ATK_BASE, r + 4096, r + 8192);
	driver_ok_breaks(a, QSIZE, r, r + 4096, ATK_BASE_B); /* the other disk's window */
	finish(a);
}

TEST(ring_address_wraps_the_address_space)
{
	struct atk *a = atk_begin("rings_wrap", NULL);
	uint64_t r = rings(a);

	driver_ok_breaks(a, QSIZE, 0ull - 4096, r + 4096, r + 8192);
	driver_ok_breaks(a, QSIZE, 0ull - 128, r + 4096, r + 8192); /* desc + 256 wraps */
	driver_ok_breaks(a, QSIZE, r, r + 4096, 0ull - 64);
	driver_ok_breaks(a, (uint32_t)256, 0xfffffffffffff000ull, r + 4096, r + 8192);
	finish(a);
}

/*
 * Descriptor table, avail ring and used ring all at one address. No rule
 * forbids it and it is only the guest's own memory: the device serves the
 * request exactly as the rings say. Descriptors 10..12 are clear of the
 * shared bytes (avail and used rings end before byte 134 = descriptor 8).
 */
TEST(rings_overlapping_each_other)
{
	struct atk *a = atk_begin("rings_overlap", NULL);
	uint64_t x, hdr_gpa, buf_gpa, st_gpa;
	uint8_t *ring = atk_alloc(a, 4096, 4096, &x);
	uint8_t *h = atk_alloc(a, 4096, 4096, &hdr_gpa);
	uint8_t *buf = atk_alloc(a, 4096, 4096, &buf_gpa);
	uint8_t *st = atk_alloc(a, 64, 64, &st_gpa);
	struct virtio_blk_outhdr hdr = { .type = VIRTIO_BLK_T_IN, .sector = ATK_SCRATCH - 1 };
	struct vring_desc *d = (struct vring_desc *)ring;
	uint8_t expect[512];
	uint16_t v16;
	uint32_t v32;
	int fd;

	atk_raw_init(a, GBLK_DEFAULT_FEATURES);
	atk_raw_queue(a, QSIZE, x, x, x, true);
	atk_wr(a, VIRTIO_MMIO_STATUS, S_LIVE | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(atk_status(a), S_LIVE | VIRTIO_CONFIG_S_DRIVER_OK);
	memcpy(h, &hdr, sizeof(hdr));
	memset(buf, 0x5a, 4096);
	*st = 0xee;
	d[10] = (struct vring_desc){ hdr_gpa, 16, VRING_DESC_F_NEXT, 11 };
	d[11] = (struct vring_desc){ buf_gpa, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 12 };
	d[12] = (struct vring_desc){ st_gpa, 1, VRING_DESC_F_WRITE, 0 };
	v16 = 10;
	memcpy(ring + 4, &v16, 2); /* avail->ring[0] */
	__atomic_store_n((uint16_t *)(void *)(ring + 2), (uint16_t)1, __ATOMIC_RELEASE);
	atk_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (uint64_t t0 = atk_now_ms(); __atomic_load_n(st, __ATOMIC_ACQUIRE) == 0xee;) {
		if (atk_now_ms() - t0 > 5000)
			check_fail(__FILE__, __LINE__, "the request was never completed");
		atk_sleep_ms(1);
	}
	CHECK_EQ(*st, VIRTIO_BLK_S_OK);
	fd = open(a->img_a, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, expect, 512, (ATK_SCRATCH - 1) * 512ll), 512);
	close(fd);
	CHECK(memcmp(buf, expect, 512) == 0);
	CHECK_EQ(buf[512], 0x5a);
	/* used->idx (shared with avail->idx) 1, used->ring[0] = { 10, 513 } over avail->ring. */
	memcpy(&v16, ring + 2, 2);
	CHECK_EQ(v16, 1);
	memcpy(&v32, ring + 4, 4);
	CHECK_EQ(v32, 10);
	memcpy(&v32, ring + 8, 4);
	CHECK_EQ(v32, 513);
	atk_expect_healthy(a);
	finish(a);
}

/* ---- legacy (virtio-mmio version 1) ---- */

static void legacy_init(struct atk *a)
{
	CHECK_EQ(guest_mmio_reset(&a->m, ATK_VCPU), 0);
	CHECK_EQ(guest_mmio_add_status(&a->m, ATK_VCPU, VIRTIO_CONFIG_S_ACKNOWLEDGE), 0);
	CHECK_EQ(guest_mmio_add_status(&a->m, ATK_VCPU, VIRTIO_CONFIG_S_DRIVER), 0);
	CHECK_EQ(guest_mmio_negotiate(&a->m, ATK_VCPU, GBLK_DEFAULT_FEATURES, false), 0);
	CHECK_EQ(atk_status(a), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
}

static void legacy_queue(struct atk *a, uint32_t page_size, uint32_t num, uint32_t align,
			 uint32_t pfn)
{
	atk_wr(a, VIRTIO_MMIO_GUEST_PAGE_SIZE, page_size);
	atk_wr(a, VIRTIO_MMIO_QUEUE_SEL, 0);
	atk_wr(a, VIRTIO_MMIO_QUEUE_NUM, num);
	atk_wr(a, VIRTIO_MMIO_QUEUE_ALIGN, align);
	atk_wr(a, VIRTIO_MMIO_QUEUE_PFN, pfn);
}

static const uint8_t S_LEGACY = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

TEST(legacy_bad_page_size_alignment_or_size)
{
	struct atk_opts o = { .version = 1 };
	struct atk *a = atk_begin("legacy_layout", &o);
	uint64_t r = rings(a);
	uint32_t pfn = (uint32_t)(r >> 12);
	static const uint32_t bad[][3] = {
		/* page size, queue size, align */
		{ 0, QSIZE, 4096 },    { 3, QSIZE, 4096 },  { 4096, QSIZE, 0 },
		{ 4096, QSIZE, 3000 }, { 4096, 100, 4096 }, { 4096, 512, 4096 },
		{ 4096, 0, 4096 },
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		legacy_init(a);
		legacy_queue(a, bad[i][0], bad[i][1], bad[i][2], pfn);
		CHECK_EQ(atk_status(a), S_LEGACY | ATK_S_NEEDS_RESET);
		CHECK_EQ(atk_rd(a, VIRTIO_MMIO_QUEUE_PFN), 0);
		atk_expect_needs_reset(a);
	}
	finish(a);
}

TEST(legacy_queue_pfn_outside_guest_ram)
{
	struct atk_opts o = { .version = 1 };
	struct atk *a = atk_begin("legacy_pfn", &o);
	static const uint32_t cases[][2] = {
		/* page size, pfn */
		{ 4096, (uint32_t)(ATK_RAM_END >> 12) },
		{ 4096, (uint32_t)(ATK_RAM_END >> 12) - 1 }, /* straddles the end */
		{ 4096, 1 },
		{ 0x80000000u, 0xffffffffu }, /* 2^63 - 2^31: far beyond any RAM */
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		legacy_init(a);
		legacy_queue(a, cases[i][0], QSIZE, 4096, cases[i][1]);
		CHECK_EQ(atk_status(a), S_LEGACY); /* only numbers so far */
		atk_wr(a, VIRTIO_MMIO_STATUS, S_LEGACY | VIRTIO_CONFIG_S_DRIVER_OK);
		CHECK_EQ(atk_status(a), S_LEGACY | VIRTIO_CONFIG_S_DRIVER_OK | ATK_S_NEEDS_RESET);
		atk_expect_needs_reset(a);
	}
	finish(a);
}
