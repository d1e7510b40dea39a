/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attack suite, the virtio-mmio register protocol: QueueSel beyond the
 * queues, config space out of range or read-only, feature bits never
 * offered, features changed after FEATURES_OK, Status written backwards or
 * DRIVER_OK without FEATURES_OK, queue registers rewritten while live,
 * notifications before DRIVER_OK or for queues that are not ready, and
 * every offset x width of the window read and written. These are ignored
 * (the register keeps its value, the device keeps serving, nothing is
 * processed that should not be); no access goes unanswered.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "attack_env.h"

#define CONFIG_SIZE 0x24u /* virtio_blk_config up to num_queues */

static const uint8_t S_INIT = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
static const uint8_t S_LIVE = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			      VIRTIO_CONFIG_S_FEATURES_OK;
static const uint8_t S_OK = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;

/* A verified write and read through A's open driver, without a reset. */
static void still_serves(struct atk *a)
{
	uint8_t buf[4096], back[4096], st;

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i ^ 0x5c);
	CHECK_EQ(gblk_write(&a->a, ATK_VCPU, ATK_SCRATCH + 16, buf, sizeof(buf), &st), 0);
	CHECK_EQ(st, VIRTIO_BLK_S_OK);
	CHECK_EQ(gblk_read(&a->a, ATK_VCPU, ATK_SCRATCH + 16, back, sizeof(back), &st), 0);
	CHECK_EQ(st, VIRTIO_BLK_S_OK);
	CHECK(memcmp(buf, back, sizeof(buf)) == 0);
	atk_expect_healthy(a);
}

static void finish(struct atk *a)
{
	atk_recover(a);
	atk_end(a);
}

/* A raw split ring of 16 in guest RAM with one read request (head 0) in its avail ring. */
struct raw_ring {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint8_t *status, *buf;
};

static void raw_ring(struct atk *a, struct raw_ring *r)
{
	uint64_t hdr_gpa, buf_gpa, st_gpa;
	struct virtio_blk_outhdr *h = atk_alloc(a, 16, 16, &hdr_gpa);

	r->desc = atk_alloc(a, 16 * 16, 4096, &r->desc_gpa);
	r->avail = atk_alloc(a, 64, 64, &r->avail_gpa);
	r->used = atk_alloc(a, 256, 64, &r->used_gpa);
	r->buf = atk_alloc(a, 4096, 4096, &buf_gpa);
	r->status = atk_alloc(a, 1, 64, &st_gpa);
	*h = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = 0 };
	*r->status = 0xee;
	r->desc[0] = (struct vring_desc){ .addr = hdr_gpa, .len = 16, .flags = VRING_DESC_F_NEXT,
					  .next = 1 };
	r->desc[1] = (struct vring_desc){ .addr = buf_gpa, .len = 512,
					  .flags = VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
					  .next = 2 };
	r->desc[2] = (struct vring_desc){ .addr = st_gpa, .len = 1, .flags = VRING_DESC_F_WRITE };
	r->avail->ring[0] = 0;
	__atomic_store_n(&r->avail->idx, (uint16_t)1, __ATOMIC_RELEASE);
}

/* Nothing was processed: no status, no used entry. */
static void not_processed(struct raw_ring *r)
{
	atk_sleep_ms(100);
	CHECK_EQ(__atomic_load_n(r->status, __ATOMIC_ACQUIRE), 0xee);
	CHECK_EQ(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE), 0);
}

TEST(queue_sel_out_of_range)
{
	struct atk *a = atk_begin("queue_sel", NULL);
	static const uint32_t sels[] = { 1, 7, 8, 9, 255, 0xffff, 0x10000, UINT32_MAX };
	struct raw_ring r;

	raw_ring(a, &r);
	atk_raw_init(a, GBLK_DEFAULT_FEATURES);
	for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		atk_wr(a, VIRTIO_MMIO_QUEUE_SEL, sels[i]);
		CHECK_EQ(atk_rd(a, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
		atk_raw_queue(a, 16, r.desc_gpa, r.avail_gpa, r.used_gpa, false);
		atk_wr(a, VIRTIO_MMIO_QUEUE_SEL, sels[i]); /* atk_raw_queue selected 0 */
		atk_wr(a, VIRTIO_MMIO_QUEUE_NUM, 16);
		atk_wr(a, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
		atk_wr(a, VIRTIO_MMIO_QUEUE_READY, 1);
		CHECK_EQ(atk_rd(a, VIRTIO_MMIO_QUEUE_READY), 0);
		atk_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, sels[i]);
		CHECK_EQ(atk_status(a), S_LIVE);
	}
	/* Queue 0 kept what was written for it, and works. */
	atk_wr(a, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(atk_rd(a, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	CHECK_EQ(atk_rd(a, VIRTIO_MMIO_QUEUE_READY), 0);
	atk_wr(a, VIRTIO_MMIO_QUEUE_READY, 1);
	atk_wr(a, VIRTIO_MMIO_STATUS, S_OK);
	CHECK_EQ(atk_status(a), S_OK);
	atk_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (uint64_t t0 = atk_now_ms(); __atomic_load_n(r.status, __ATOMIC_ACQUIRE) == 0xee;) {
		if (atk_now_ms() - t0 > 5000)
			check_fail(__FILE__, __LINE__, "queue 0 never served its request");
		atk_sleep_ms(1);
	}
	CHECK_EQ(*r.status, VIRTIO_BLK_S_OK);
	finish(a);
}

TEST(config_space_out_of_range_or_read_only)
{
	struct atk *a = atk_begin("config_oor", NULL);
	struct gblk *b = atk_open_a(a, NULL);
	uint64_t cap = 0, v;
	uint32_t gen0 = atk_rd(a, VIRTIO_MMIO_CONFIG_GENERATION);
	static const unsigned widths[] = { 1, 2, 4, 8 };

	CHECK(!gblk_has(b, VIRTIO_BLK_F_CONFIG_WCE));
	/* Writes to every config byte and beyond, every width: only writeback is writable. */
	for (uint32_t off = 0; off < 0x100; off++) {
		for (unsigned w = 0; w < 4; w++) {
			if (off + widths[w] > 0x100)
				continue;
			CHECK_EQ(guest_vm_write(&a->vm1, ATK_VCPU, ATK_BASE + 0x100 + off,
						widths[w], UINT64_MAX),
				 0);
		}
	}
	CHECK_EQ(guest_mmio_config_read64(&b->dev, ATK_VCPU, 0, &cap), 0);
	CHECK_EQ_U64(cap, ATK_SECTORS);
	CHECK_EQ(guest_mmio_config_read(&b->dev, ATK_VCPU, 0x20, 1, &v), 0);
	CHECK_EQ_U64(v, 1); /* writeback, as offered */
	CHECK_EQ(atk_rd(a, VIRTIO_MMIO_CONFIG_GENERATION), gen0);
	for (uint32_t off = CONFIG_SIZE; off < 0x100; off++) {
		CHECK_EQ(guest_mmio_config_read(&b->dev, ATK_VCPU, off, 1, &v), 0);
		CHECK_EQ_U64(v, 0);
	}
	still_serves(a);
	finish(a);
}

TEST(feature_bits_never_offered)
{
	struct atk *a = atk_begin("features_unoffered", NULL);
	uint64_t offered;

	CHECK_EQ(guest_mmio_reset(&a->m, ATK_VCPU), 0);
	atk_wr(a, VIRTIO_MMIO_STATUS, S_INIT);
	CHECK_EQ(guest_mmio_read_features(&a->m, ATK_VCPU, &offered), 0);
	CHECK(offered != UINT64_MAX);
	for (uint32_t sel = 0; sel < 6; sel++) {
		atk_wr(a, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
		atk_wr(a, VIRTIO_MMIO_DRIVER_FEATURES, UINT32_MAX);
	}
	atk_wr(a, VIRTIO_MMIO_STATUS, S_LIVE);
	CHECK_EQ(atk_status(a), S_INIT); /* FEATURES_OK refused */
	atk_wr(a, VIRTIO_MMIO_STATUS, S_OK);
	CHECK_EQ(atk_status(a), S_INIT); /* and DRIVER_OK without it too */
	/* One unoffered bit alone is refused as well. */
	for (unsigned bit = 0; bit < 64; bit++) {
		if (offered & (1ull << bit))
			continue;
		CHECK_EQ(guest_mmio_negotiate(&a->m, ATK_VCPU, offered | (1ull << bit), true),
			 -EPROTO);
		CHECK_EQ(guest_mmio_reset(&a->m, ATK_VCPU), 0);
		atk_wr(a, VIRTIO_MMIO_STATUS, S_INIT);
	}
	finish(a);
}

/* In the FEATURES_OK phase: take INDIRECT_DESC, and drop VERSION_1. */
static int change_features(struct gblk *b, void *ctx)
{
	(void)ctx;
	if (guest_mmio_wr(&b->dev, ATK_VCPU, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0) ||
	    guest_mmio_wr(&b->dev, ATK_VCPU, VIRTIO_MMIO_DRIVER_FEATURES, UINT32_MAX) ||
	    guest_mmio_wr(&b->dev, ATK_VCPU, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1) ||
	    guest_mmio_wr(&b->dev, ATK_VCPU, VIRTIO_MMIO_DRIVER_FEATURES, 0))
		return -EIO;
	return 0;
}

TEST(features_changed_after_features_ok)
{
	struct atk *a = atk_begin("features_changed", NULL);
	struct gblk_opts o = { .irq_vcpu = ATK_VCPU_IRQ, .queue_size = 16,
			       .features = GBLK_DEFAULT_FEATURES &
					   ~(1ull << VIRTIO_RING_F_INDIRECT_DESC) };
	struct gblk *b = atk_open_a_with(a, &o, change_features, NULL);
	struct gblk_req *r;
	struct gvq *vq = &b->vq[0];

	CHECK_EQ(atk_status(a), S_OK);
	/* After DRIVER_OK too. */
	CHECK_EQ(change_features(b, NULL), 0);
	still_serves(a); /* VERSION_1 kept */
	/* INDIRECT_DESC was never granted: an indirect descriptor breaks the device. */
	CHECK_EQ(gblk_req_alloc(b, 4096, 1, &r), 0);
	r->itable[0] = (struct vring_desc){ .addr = r->hdr_gpa, .len = 16,
					    .flags = VRING_DESC_F_NEXT, .next = 1 };
	r->itable[1] = (struct vring_desc){ .addr = r->status_gpa, .len = 1,
					    .flags = VRING_DESC_F_WRITE };
	pthread_mutex_lock(&vq->lock);
	vq->desc[9] = (struct vring_desc){ .addr = r->itable_gpa, .len = 32,
					   .flags = VRING_DESC_F_INDIRECT };
	pthread_mutex_unlock(&vq->lock);
	atk_publish_expect_reset(a, 9);
	gblk_req_free(r);
	finish(a);
}

TEST(status_written_backwards)
{
	struct atk *a = atk_begin("status_back", NULL);
	static const uint32_t writes[] = {
		VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
		VIRTIO_CONFIG_S_ACKNOWLEDGE,
		VIRTIO_CONFIG_S_DRIVER_OK,
		VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK,
		0x40 | 0x0f, /* NEEDS_RESET is the device's bit */
		0x10f,       /* beyond 8 bits */
		0xffffff0f,
	};

	atk_open_a(a, NULL);
	for (unsigned i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		atk_wr(a, VIRTIO_MMIO_STATUS, writes[i]);
		CHECK_EQ(atk_status(a), S_OK);
	}
	still_serves(a);
	finish(a);
}

TEST(driver_ok_without_features_ok)
{
	struct atk *a = atk_begin("driver_ok_early", NULL);
	struct raw_ring r;

	raw_ring(a, &r);
	CHECK_EQ(guest_mmio_reset(&a->m, ATK_VCPU), 0);
	atk_wr(a, VIRTIO_MMIO_STATUS, S_INIT);
	atk_wr(a, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	atk_wr(a, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	atk_raw_queue(a, 16, r.desc_gpa, r.avail_gpa, r.used_gpa, true);
	atk_wr(a, VIRTIO_MMIO_STATUS, S_INIT | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(atk_status(a), S_INIT);
	atk_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	not_processed(&r);
	finish(a);
}

TEST(queue_registers_rewritten_while_live)
{
	struct atk *a = atk_begin("queue_live", NULL);
	struct gblk *b = atk_open_a(a, NULL);
	static const uint32_t regs[] = { VIRTIO_MMIO_QUEUE_NUM,        VIRTIO_MMIO_QUEUE_DESC_LOW,
					 VIRTIO_MMIO_QUEUE_DESC_HIGH,  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
					 VIRTIO_MMIO_QUEUE_AVAIL_HIGH, VIRTIO_MMIO_QUEUE_USED_LOW,
					 VIRTIO_MMIO_QUEUE_USED_HIGH,  VIRTIO_MMIO_QUEUE_READY };

	(void)b;
	still_serves(a);
	atk_wr(a, VIRTIO_MMIO_QUEUE_SEL, 0);
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		atk_wr(a, regs[i], 0);
		atk_wr(a, regs[i], 0x1234);
	}
	CHECK_EQ(atk_rd(a, VIRTIO_MMIO_QUEUE_READY), 1);
	CHECK_EQ(atk_status(a), S_OK);
	still_serves(a); /* on the rings it was given */
	finish(a);
}

TEST(notify_before_driver_ok)
{
	struct atk *a = atk_begin("notify_early", NULL);
	struct raw_ring r;

	raw_ring(a, &r);
	atk_raw_init(a, GBLK_DEFAULT_FEATURES & ~(1ull << VIRTIO_RING_F_EVENT_IDX));
	atk_raw_queue(a, 16, r.desc_gpa, r.avail_gpa, r.used_gpa, false);
	atk_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, 0); /* not even ready */
	atk_wr(a, VIRTIO_MMIO_QUEUE_READY, 1);
	for (unsigned i = 0; i < 100; i++)
		atk_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, 0); /* ready, but no DRIVER_OK */
	not_processed(&r);
	/* Once live, the request waiting in the ring is served at the next notification. */
	atk_wr(a, VIRTIO_MMIO_STATUS, S_OK);
	CHECK_EQ(atk_status(a), S_OK);
	atk_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (uint64_t t0 = atk_now_ms(); __atomic_load_n(r.status, __ATOMIC_ACQUIRE) == 0xee;) {
		if (atk_now_ms() - t0 > 5000)
			check_fail(__FILE__, __LINE__, "the request was never served");
		atk_sleep_ms(1);
	}
	CHECK_EQ(*r.status, VIRTIO_BLK_S_OK);
	CHECK_EQ(__atomic_load_n(&r.used->idx, __ATOMIC_ACQUIRE), 1);
	finish(a);
}

TEST(notify_for_queues_that_are_not_ready)
{
	struct atk *a = atk_begin("notify_not_ready", NULL);
	static const uint32_t qs[] = { 1, 2, 7, 8, 255, 0xffff, 0x10000, UINT32_MAX };

	atk_open_a(a, NULL);
	for (unsigned round = 0; round < 50; round++)
		for (unsigned i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
			atk_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, qs[i]);
	CHECK_EQ(atk_status(a), S_OK);
	still_serves(a);
	finish(a);
}

/* Registers that may read non-zero at 4-byte aligned offsets (version 2). */
static bool readable(uint32_t off)
{
	static const uint32_t regs[] = {
		VIRTIO_MMIO_MAGIC_VALUE,      VIRTIO_MMIO_VERSION,
		VIRTIO_MMIO_DEVICE_ID,        VIRTIO_MMIO_VENDOR_ID,
		VIRTIO_MMIO_DEVICE_FEATURES,  VIRTIO_MMIO_QUEUE_NUM_MAX,
		VIRTIO_MMIO_QUEUE_READY,      VIRTIO_MMIO_INTERRUPT_STATUS,
		VIRTIO_MMIO_STATUS,           VIRTIO_MMIO_SHM_LEN_LOW,
		VIRTIO_MMIO_SHM_LEN_HIGH,     VIRTIO_MMIO_SHM_BASE_LOW,
		VIRTIO_MMIO_SHM_BASE_HIGH,    VIRTIO_MMIO_CONFIG_GENERATION,
	};

	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (regs[i] == off)
			return true;
	return false;
}

/*
 * Every offset of the 0x200-byte window at widths 1, 2, 4 and 8, read and
 * then written (all ones, then zeros). Every access is answered. Reads:
 * registers only at 4-byte width and alignment, the rest 0; config space
 * at any width inside its 0x24 bytes, consistent with byte reads, 0
 * beyond; accesses running past the window's end (into disk B's window,
 * which Xen's merged range sends to the same server) read 0 and write
 * nothing into B.
 */
TEST(register_window_every_offset_and_width)
{
	struct atk *a = atk_begin("window_sweep", NULL);
	static const unsigned widths[] = { 1, 2, 4, 8 };
	uint8_t cfg[CONFIG_SIZE];
	unsigned accesses = 0;
	uint64_t v;

	atk_open_a(a, NULL);
	for (uint32_t i = 0; i < CONFIG_SIZE; i++) {
		CHECK_EQ(guest_vm_read(&a->vm1, ATK_VCPU, ATK_BASE + 0x100 + i, 1, &v), 0);
		cfg[i] = (uint8_t)v;
	}
	for (uint32_t off = 0; off < 0x200; off++) {
		for (unsigned k = 0; k < 4; k++) {
			unsigned w = widths[k];
			uint64_t want = 0;
			int rc = guest_vm_read(&a->vm1, ATK_VCPU, ATK_BASE + off, w, &v);

			if (rc)
				check_fail(__FILE__, __LINE__, "read %u at 0x%03x: %d", w, off, rc);
			accesses++;
			if (off + w > 0x200)
				want = 0;
			else if (off >= 0x100 && off - 0x100 + w <= CONFIG_SIZE)
				for (unsigned i = 0; i < w; i++)
					want |= (uint64_t)cfg[off - 0x100 + i] << (8 * i);
			else if (off < 0x100 && (w != 4 || off % 4 || !readable(off)))
				want = 0;
			else if (off < 0x100)
				continue; /* a register's value */
			if (v != want)
				check_fail(__FILE__, __LINE__,
					   "read of %u at 0x%03x: 0x%llx, want 0x%llx", w, off,
					   (unsigned long long)v, (unsigned long long)want);
		}
	}
	CHECK_EQ(atk_rd(a, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(atk_rd(a, VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(atk_rd(a, VIRTIO_MMIO_DEVICE_ID), 2);
	for (unsigned pass = 0; pass < 2; pass++) {
		for (uint32_t off = 0; off < 0x200; off++) {
			for (unsigned k = 0; k < 4; k++) {
				int rc = guest_vm_write(&a->vm1, ATK_VCPU, ATK_BASE + off,
							widths[k], pass ? 0 : UINT64_MAX);

				if (rc)
					check_fail(__FILE__, __LINE__, "write %u at 0x%03x: %d",
						   widths[k], off, rc);
				accesses++;
			}
		}
	}
	printf("# %u accesses, all answered\n", accesses);
	/* B, next door, is still what it was (atk_end checks its I/O too). */
	CHECK_EQ(guest_vm_read(&a->vm1, ATK_VCPU, ATK_BASE_B + VIRTIO_MMIO_STATUS, 4, &v), 0);
	CHECK_EQ_U64(v, S_OK);
	finish(a);
}
