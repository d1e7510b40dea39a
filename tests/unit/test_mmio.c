/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-mmio register file (src/virtio/mmio.c) and the device status
 * machine (src/virtio/virtio_dev.c), modern and legacy, driven by a small
 * dummy device over the fake host.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "../../src/virtio/mmio.h"
#include "check.h"
#include "fake_host.h"

#define RAM_SIZE (1u << 20)
#define DUMMY_ID 42u
#define DUMMY_FEATURES ((1ull << 0) | (1ull << 5))
#define F(bit) (1ull << (bit))

struct dummy {
	struct virtio_dev vdev;
	struct virtio_mmio mmio;
	struct fake_host fh;
	uint8_t config[12];
	unsigned resets, activates, kicks[VIRTIO_MAX_QUEUES], config_writes;
	int activate_ret;
};

static struct dummy *to_dummy(struct virtio_dev *vdev)
{
	return vdev->priv;
}

static uint64_t d_features(struct virtio_dev *vdev)
{
	(void)vdev;
	return DUMMY_FEATURES;
}

static void d_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, to_dummy(vdev)->config + off, len);
}

static void d_config_write(struct virtio_dev *vdev, uint32_t off, const void *buf, uint32_t len)
{
	memcpy(to_dummy(vdev)->config + off, buf, len);
	to_dummy(vdev)->config_writes++;
}

static int d_activate(struct virtio_dev *vdev)
{
	to_dummy(vdev)->activates++;
	return to_dummy(vdev)->activate_ret;
}

static void d_queue_kick(struct virtio_dev *vdev, uint16_t q)
{
	to_dummy(vdev)->kicks[q]++;
}

static void d_reset(struct virtio_dev *vdev)
{
	to_dummy(vdev)->resets++;
}

static const struct virtio_device_ops dummy_ops = {
	.device_id = DUMMY_ID,
	.max_queues = 2,
	.features = d_features,
	.config_size = 12,
	.config_read = d_config_read,
	.config_write = d_config_write,
	.activate = d_activate,
	.queue_kick = d_queue_kick,
	.reset = d_reset,
};

static struct dummy D;

static void setup(uint32_t version)
{
	memset(&D, 0, sizeof(D));
	fake_host_init(&D.fh, RAM_SIZE);
	virtio_dev_init(&D.vdev, &dummy_ops, &D, "test/dummy", &D.fh.host);
	virtio_mmio_init(&D.mmio, &D.vdev, version);
	for (unsigned i = 0; i < sizeof(D.config); i++)
		D.config[i] = (uint8_t)(0x10 + i);
}

static void teardown(void)
{
	virtio_dev_reset(&D.vdev);
	CHECK_EQ(fake_host_live_maps(&D.fh), 0);
	fake_host_fini(&D.fh);
}

static uint32_t rd(uint32_t off)
{
	return (uint32_t)virtio_mmio_read(&D.mmio, off, 4);
}

static void wr(uint32_t off, uint32_t val)
{
	virtio_mmio_write(&D.mmio, off, 4, val);
}

static void set_driver_features(uint64_t f)
{
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static void negotiate(uint64_t f)
{
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	set_driver_features(f);
	wr(VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
}

static void driver_ok(void)
{
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
}

static void modern_queue(uint16_t q, const struct fake_vring *vr)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, q);
	wr(VIRTIO_MMIO_QUEUE_NUM, vr->num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)vr->desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(vr->desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)vr->avail);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(vr->avail >> 32));
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)vr->used);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(vr->used >> 32));
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

static bool needs_reset(void)
{
	return rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

/* ---- identification ---- */

TEST(identification_registers_modern)
{
	setup(2);
	CHECK_EQ(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd(VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(rd(VIRTIO_MMIO_DEVICE_ID), DUMMY_ID);
	CHECK_EQ(rd(VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	teardown();
}

TEST(identification_registers_legacy)
{
	setup(1);
	CHECK_EQ(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd(VIRTIO_MMIO_VERSION), 1);
	CHECK_EQ(rd(VIRTIO_MMIO_DEVICE_ID), DUMMY_ID);
	teardown();
}

TEST(device_features_modern_offer_version_1_and_ring_features)
{
	uint64_t f;

	setup(2);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = rd(VIRTIO_MMIO_DEVICE_FEATURES);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f |= (uint64_t)rd(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	CHECK_EQ_U64(f, DUMMY_FEATURES | F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC) |
				F(VIRTIO_RING_F_EVENT_IDX));
	CHECK(!(f & F(VIRTIO_F_ACCESS_PLATFORM)));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	CHECK_EQ(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	teardown();
}

TEST(device_features_legacy_have_no_version_1)
{
	setup(1);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	CHECK_EQ(rd(VIRTIO_MMIO_DEVICE_FEATURES),
		 (uint32_t)(DUMMY_FEATURES | F(VIRTIO_RING_F_INDIRECT_DESC) |
			    F(VIRTIO_RING_F_EVENT_IDX)));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	teardown();
}

/* ---- feature negotiation and the status machine ---- */

TEST(features_ok_accepted_for_offered_bits)
{
	setup(2);
	negotiate(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) | F(5));
	CHECK(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK_EQ_U64(D.vdev.driver_features,
		     F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) | F(5));
	teardown();
}

TEST(features_ok_refused_for_unoffered_bits)
{
	setup(2);
	negotiate(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_ACCESS_PLATFORM));
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	/* a high unoffered bit in word 0 as well */
	negotiate(F(VIRTIO_F_VERSION_1) | F(3));
	CHECK(!(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
	teardown();
}

TEST(driver_features_frozen_after_features_ok)
{
	setup(2);
	negotiate(F(VIRTIO_F_VERSION_1));
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)F(VIRTIO_RING_F_INDIRECT_DESC));
	CHECK_EQ_U64(D.vdev.driver_features, F(VIRTIO_F_VERSION_1));
	teardown();
}

TEST(driver_features_select_beyond_word_1_ignored)
{
	setup(2);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
	CHECK_EQ_U64(D.vdev.driver_features, 0);
	teardown();
}

TEST(status_cannot_go_backwards)
{
	setup(2);
	negotiate(F(VIRTIO_F_VERSION_1));
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE); /* drops DRIVER and FEATURES_OK */
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						 VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK_EQ(D.resets, 0);
	teardown();
}

TEST(status_above_8_bits_ignored)
{
	setup(2);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, 0x100); /* low byte 0 would be a reset */
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	CHECK_EQ(D.resets, 0);
	teardown();
}

TEST(status_failed_bit_is_accepted)
{
	setup(2);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_FAILED);
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_FAILED);
	teardown();
}

TEST(driver_ok_without_features_ok_ignored_on_modern)
{
	struct fake_vring vr;

	setup(2);
	fake_vring_init(&vr, &D.fh, 8);
	modern_queue(0, &vr);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				       VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(!(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK));
	CHECK_EQ(D.activates, 0);
	CHECK(!D.vdev.vq[0].started);
	teardown();
}

TEST(driver_ok_starts_ready_queues_and_activates)
{
	struct fake_vring vr;

	setup(2);
	fake_vring_init(&vr, &D.fh, 16);
	negotiate(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX));
	modern_queue(0, &vr);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	CHECK(!D.vdev.vq[0].started); /* not before DRIVER_OK */
	driver_ok();
	CHECK(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(D.vdev.vq[0].started);
	CHECK(D.vdev.vq[0].event_idx);
	CHECK(!D.vdev.vq[0].indirect);
	CHECK_EQ(D.vdev.vq[0].num, 16);
	CHECK_EQ_U64(D.vdev.vq[0].used_gpa, vr.used);
	CHECK(!D.vdev.vq[1].started); /* never made ready */
	CHECK_EQ(D.activates, 1);
	CHECK_EQ(fake_host_live_maps(&D.fh), 3);
	teardown();
}

TEST(activate_failure_breaks_the_device)
{
	setup(2);
	D.activate_ret = -ENOMEM;
	negotiate(F(VIRTIO_F_VERSION_1));
	driver_ok();
	CHECK(needs_reset());
	CHECK(D.vdev.broken);
	teardown();
}

TEST(reset_clears_everything_and_calls_device_reset)
{
	struct fake_vring vr;

	setup(2);
	fake_vring_init(&vr, &D.fh, 8);
	negotiate(F(VIRTIO_F_VERSION_1));
	modern_queue(1, &vr);
	driver_ok();
	virtio_dev_notify_queue(&D.vdev, 1);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(D.resets, 1);
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(D.fh.irq_lowers, 1);
	CHECK(!D.fh.irq_level);
	CHECK_EQ_U64(D.vdev.driver_features, 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK(!D.vdev.vq[1].started);
	CHECK_EQ(D.vdev.vq[1].num, 0);
	CHECK_EQ_U64(D.vdev.vq[1].desc_gpa, 0);
	CHECK_EQ(fake_host_live_maps(&D.fh), 0);
	teardown();
}

/* ---- queue registers ---- */

TEST(queue_num_max_and_queue_sel_bounds)
{
	setup(2);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	wr(VIRTIO_MMIO_QUEUE_SEL, 2); /* dummy has 2 queues */
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	teardown();
}

TEST(queue_sel_out_of_range_writes_are_ignored)
{
	setup(2);
	wr(VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MAX_QUEUES - 1); /* inside vq[] but not offered */
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK_EQ(D.vdev.vq[VIRTIO_MAX_QUEUES - 1].num, 0);
	CHECK_EQ_U64(D.vdev.vq[VIRTIO_MAX_QUEUES - 1].desc_gpa, 0);
	CHECK(!D.vdev.broken);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1000);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	teardown();
}

TEST(queue_addresses_assembled_from_halves)
{
	setup(2);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x89abcdef);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x01234567);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0x5);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x6);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, 0x7);
	CHECK_EQ_U64(D.vdev.vq[1].desc_gpa, 0x0123456789abcdefull);
	CHECK_EQ_U64(D.vdev.vq[1].avail_gpa, 0x500000006ull);
	CHECK_EQ_U64(D.vdev.vq[1].used_gpa, 0x7);
	wr(VIRTIO_MMIO_QUEUE_NUM, 0x10000); /* beyond 16 bits is invalid, not 0 mod 2^16 */
	CHECK_EQ(D.vdev.vq[1].num, 0);
	teardown();
}

TEST(queue_config_frozen_while_ready)
{
	struct fake_vring vr;

	setup(2);
	fake_vring_init(&vr, &D.fh, 8);
	modern_queue(0, &vr);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x2000);
	CHECK_EQ(D.vdev.vq[0].num, 8);
	CHECK_EQ_U64(D.vdev.vq[0].desc_gpa, vr.desc);
	/* disabling before DRIVER_OK is allowed */
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	CHECK_EQ(D.vdev.vq[0].num, 4);
	teardown();
}

TEST(queue_ready_with_bad_size_breaks_the_device)
{
	struct fake_vring vr;

	setup(2);
	fake_vring_init(&vr, &D.fh, 8);
	modern_queue(0, &vr);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(VIRTIO_MMIO_QUEUE_NUM, 6); /* not a power of two */
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)vr.desc);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)vr.avail);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)vr.used);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK(needs_reset());
	CHECK(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(D.fh.irq_raises, 1);
	teardown();
}

TEST(queue_ready_with_size_above_max_breaks_the_device)
{
	setup(2);
	wr(VIRTIO_MMIO_QUEUE_NUM, VIRTQ_MAX_SIZE * 2);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x40001000);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x40002000);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, 0x40003000);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK(needs_reset());
	teardown();
}

TEST(queue_ready_with_unset_or_misaligned_addresses_breaks_the_device)
{
	setup(2);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_READY, 1); /* no addresses */
	CHECK(needs_reset());
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	teardown();

	setup(2);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x40001008); /* needs 16 */
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x40002000);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, 0x40003000);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK(needs_reset());
	teardown();
}

TEST(queue_outside_guest_ram_breaks_at_driver_ok)
{
	setup(2);
	negotiate(F(VIRTIO_F_VERSION_1));
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000); /* below RAM */
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x2000);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, 0x3000);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK(!needs_reset());
	driver_ok();
	CHECK(needs_reset());
	CHECK(!D.vdev.vq[0].started);
	CHECK_EQ(D.activates, 0);
	CHECK_EQ(fake_host_live_maps(&D.fh), 0);
	teardown();
}

TEST(queue_ready_after_driver_ok_ignored)
{
	struct fake_vring vr;

	setup(2);
	fake_vring_init(&vr, &D.fh, 8);
	negotiate(F(VIRTIO_F_VERSION_1));
	driver_ok();
	modern_queue(0, &vr);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK(!D.vdev.vq[0].started);
	teardown();
}

/* ---- notifications, interrupts ---- */

TEST(queue_notify_kicks_and_schedules_once)
{
	struct fake_vring vr;

	setup(2);
	fake_vring_init(&vr, &D.fh, 8);
	negotiate(F(VIRTIO_F_VERSION_1));
	modern_queue(0, &vr);
	driver_ok();
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(D.fh.schedules, 1);
	CHECK_EQ(D.vdev.kicked, 1);
	CHECK_EQ(D.kicks[0], 0); /* never served inside the register access */
	virtio_dev_process(&D.vdev);
	CHECK_EQ(D.kicks[0], 1);
	CHECK_EQ(D.vdev.kicked, 0);
	teardown();
}

TEST(queue_notify_for_unready_or_bad_queue_ignored)
{
	struct fake_vring vr;

	setup(2);
	fake_vring_init(&vr, &D.fh, 8);
	negotiate(F(VIRTIO_F_VERSION_1));
	modern_queue(0, &vr);
	driver_ok();
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);       /* not ready */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 5);       /* not offered */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0x10000); /* would alias queue 0 in 16 bits */
	CHECK_EQ(D.fh.schedules, 0);
	CHECK_EQ(D.vdev.kicked, 0);
	teardown();
}

TEST(process_serves_nothing_before_driver_ok)
{
	struct fake_vring vr;

	setup(2);
	fake_vring_init(&vr, &D.fh, 8);
	negotiate(F(VIRTIO_F_VERSION_1));
	modern_queue(0, &vr);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_dev_process(&D.vdev);
	CHECK_EQ(D.kicks[0], 0);
	teardown();
}

TEST(interrupt_status_ack_and_irq_line)
{
	setup(2);
	negotiate(F(VIRTIO_F_VERSION_1));
	driver_ok();
	virtio_dev_notify_queue(&D.vdev, 0);
	virtio_dev_notify_queue(&D.vdev, 0);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	CHECK_EQ(D.fh.irq_raises, 2); /* every event, for edge-triggered controllers */
	CHECK(D.fh.irq_level);
	virtio_dev_set_broken(&D.vdev, "test");
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(D.fh.irq_raises, 3);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(D.fh.irq_lowers, 0); /* still pending */
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(D.fh.irq_lowers, 1);
	CHECK(!D.fh.irq_level);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG); /* nothing left: no call */
	CHECK_EQ(D.fh.irq_lowers, 1);
	teardown();
}

TEST(no_queue_interrupt_before_driver_ok)
{
	setup(2);
	virtio_dev_notify_queue(&D.vdev, 0);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(D.fh.irq_raises, 0);
	teardown();
}

TEST(broken_device_sticky_until_reset)
{
	struct fake_vring vr;

	setup(2);
	fake_vring_init(&vr, &D.fh, 8);
	negotiate(F(VIRTIO_F_VERSION_1));
	modern_queue(0, &vr);
	driver_ok();
	virtio_dev_set_broken(&D.vdev, "test");
	virtio_dev_set_broken(&D.vdev, "again");
	CHECK_EQ(D.fh.irq_raises, 1); /* once */
	CHECK(needs_reset());
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_dev_process(&D.vdev);
	CHECK_EQ(D.kicks[0], 0);
	/* the driver writing status back without NEEDS_RESET does not clear it */
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) & ~VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK(needs_reset());
	wr(VIRTIO_MMIO_STATUS, 0);
	CHECK(!needs_reset());
	CHECK(!D.vdev.broken);
	teardown();
}

/* ---- access widths, unknown and one-way registers ---- */

TEST(non_32bit_register_accesses_ignored)
{
	setup(2);
	CHECK_EQ(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	CHECK_EQ(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	CHECK_EQ(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_MAGIC_VALUE, 8), 0);
	CHECK_EQ(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_MAGIC_VALUE + 1, 4), 0);
	virtio_mmio_write(&D.mmio, VIRTIO_MMIO_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	virtio_mmio_write(&D.mmio, VIRTIO_MMIO_STATUS, 2, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	virtio_mmio_write(&D.mmio, VIRTIO_MMIO_STATUS, 8, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), 0);
	virtio_mmio_write(&D.mmio, VIRTIO_MMIO_QUEUE_DESC_LOW, 8, 0x4000100040002000ull);
	CHECK_EQ_U64(D.vdev.vq[0].desc_gpa, 0);
	teardown();
}

TEST(write_only_registers_read_zero)
{
	static const uint32_t wo[] = {
		VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES,
		VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM,
		VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_QUEUE_DESC_LOW,
		VIRTIO_MMIO_QUEUE_DESC_HIGH, VIRTIO_MMIO_QUEUE_AVAIL_LOW, VIRTIO_MMIO_QUEUE_USED_LOW,
		VIRTIO_MMIO_SHM_SEL,
	};

	setup(2);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1230);
	for (unsigned i = 0; i < sizeof(wo) / sizeof(wo[0]); i++)
		CHECK_EQ(rd(wo[i]), 0);
	teardown();
}

TEST(read_only_registers_ignore_writes)
{
	setup(2);
	negotiate(F(VIRTIO_F_VERSION_1));
	driver_ok();
	virtio_dev_notify_queue(&D.vdev, 0);
	wr(VIRTIO_MMIO_MAGIC_VALUE, 0);
	wr(VIRTIO_MMIO_VERSION, 1);
	wr(VIRTIO_MMIO_INTERRUPT_STATUS, 0);
	wr(VIRTIO_MMIO_DEVICE_FEATURES, 0);
	wr(VIRTIO_MMIO_CONFIG_GENERATION, 7);
	CHECK_EQ(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd(VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	CHECK_EQ(rd(VIRTIO_MMIO_CONFIG_GENERATION), 0);
	teardown();
}

TEST(unknown_offsets_read_zero)
{
	setup(2);
	CHECK_EQ(rd(0x018), 0);
	CHECK_EQ(rd(0x048), 0);
	CHECK_EQ(rd(0x0c0), 0);
	CHECK_EQ(rd(0x0f8), 0);
	wr(0x0c0, 0xffffffff);
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), 0);
	teardown();
}

TEST(shm_registers_read_all_ones_on_modern_only)
{
	setup(2);
	wr(VIRTIO_MMIO_SHM_SEL, 0);
	CHECK_EQ(rd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	CHECK_EQ(rd(VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	CHECK_EQ(rd(VIRTIO_MMIO_SHM_BASE_LOW), 0xffffffff);
	CHECK_EQ(rd(VIRTIO_MMIO_SHM_BASE_HIGH), 0xffffffff);
	teardown();
	setup(1);
	CHECK_EQ(rd(VIRTIO_MMIO_SHM_LEN_LOW), 0);
	teardown();
}

TEST(config_generation_follows_the_device)
{
	setup(2);
	CHECK_EQ(rd(VIRTIO_MMIO_CONFIG_GENERATION), 0);
	D.vdev.config_generation = 3;
	CHECK_EQ(rd(VIRTIO_MMIO_CONFIG_GENERATION), 3);
	teardown();
	setup(1); /* not a legacy register */
	D.vdev.config_generation = 3;
	CHECK_EQ(rd(VIRTIO_MMIO_CONFIG_GENERATION), 0);
	teardown();
}

/* ---- config space ---- */

TEST(config_reads_any_width_little_endian)
{
	setup(2);
	CHECK_EQ(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_CONFIG + 3, 1), 0x13);
	CHECK_EQ(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_CONFIG + 1, 2), 0x1211);
	CHECK_EQ(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_CONFIG + 5, 4), 0x18171615);
	CHECK_EQ_U64(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_CONFIG + 4, 8), 0x1b1a191817161514ull);
	teardown();
}

TEST(config_out_of_range_ignored)
{
	setup(2);
	CHECK_EQ(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_CONFIG + 12, 1), 0);
	CHECK_EQ(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_CONFIG + 9, 4), 0); /* straddles */
	CHECK_EQ(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_CONFIG + 8, 8), 0);
	CHECK_EQ(virtio_mmio_read(&D.mmio, VIRTIO_MMIO_WINDOW_SIZE - 4, 4), 0);
	virtio_mmio_write(&D.mmio, VIRTIO_MMIO_CONFIG + 10, 4, 0xffffffff);
	CHECK_EQ(D.config_writes, 0);
	CHECK_EQ(D.config[10], 0x1a);
	teardown();
}

TEST(config_writes_reach_the_device)
{
	setup(2);
	virtio_mmio_write(&D.mmio, VIRTIO_MMIO_CONFIG + 2, 2, 0xbeef);
	CHECK_EQ(D.config_writes, 1);
	CHECK_EQ(D.config[2], 0xef);
	CHECK_EQ(D.config[3], 0xbe);
	virtio_mmio_write(&D.mmio, VIRTIO_MMIO_CONFIG + 4, 8, 0x0807060504030201ull);
	CHECK_EQ(D.config[4], 0x01);
	CHECK_EQ(D.config[11], 0x08);
	teardown();
}

/* ---- legacy (version 1) ---- */

static void legacy_queue(uint16_t q, uint16_t num, uint32_t align, uint32_t pfn)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, q);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_ALIGN, align);
	wr(VIRTIO_MMIO_QUEUE_PFN, pfn);
}

TEST(legacy_queue_layout_from_pfn_and_align)
{
	uint64_t ring;

	setup(1);
	ring = fake_alloc(&D.fh, 3 * 4096, 4096);
	wr(VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	legacy_queue(0, 16, 4096, (uint32_t)(ring / 4096));
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_PFN), ring / 4096);
	CHECK_EQ_U64(D.vdev.vq[0].desc_gpa, ring);
	CHECK_EQ_U64(D.vdev.vq[0].avail_gpa, ring + 16 * 16);
	/* avail ends at 256 + 6 + 32 = 294: used at the next 4096 */
	CHECK_EQ_U64(D.vdev.vq[0].used_gpa, ring + 4096);
	legacy_queue(1, 16, 64, (uint32_t)(ring / 4096));
	CHECK_EQ_U64(D.vdev.vq[1].used_gpa, ring + 320);
	teardown();
}

TEST(legacy_has_no_features_ok_and_starts_at_driver_ok)
{
	uint64_t ring;

	setup(1);
	ring = fake_alloc(&D.fh, 3 * 4096, 4096);
	wr(VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	set_driver_features(F(VIRTIO_RING_F_INDIRECT_DESC) | F(1)); /* bit 1 not offered */
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				       VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK(!(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
	legacy_queue(0, 8, 4096, (uint32_t)(ring / 4096));
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				       VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(D.vdev.vq[0].started);
	CHECK(D.vdev.vq[0].indirect);
	CHECK_EQ_U64(D.vdev.driver_features, F(VIRTIO_RING_F_INDIRECT_DESC)); /* bit 1 dropped */
	CHECK_EQ(D.activates, 1);
	/* driver features are final now */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	CHECK_EQ_U64(D.vdev.driver_features, F(VIRTIO_RING_F_INDIRECT_DESC));
	teardown();
}

TEST(legacy_has_no_queue_ready_and_modern_no_pfn)
{
	setup(1);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK(!D.vdev.vq[0].ready);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	teardown();
	setup(2);
	wr(VIRTIO_MMIO_GUEST_PAGE_SIZE, 1);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_PFN, 0x40001);
	CHECK(!D.vdev.vq[0].ready);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_PFN), 0);
	CHECK_EQ(D.mmio.guest_page_size, 4096);
	teardown();
}

TEST(legacy_bad_align_or_page_size_breaks_the_device)
{
	setup(1);
	legacy_queue(0, 8, 3000, 0x40001); /* not a power of two */
	CHECK(needs_reset());
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_PFN), 0);
	teardown();
	setup(1);
	wr(VIRTIO_MMIO_GUEST_PAGE_SIZE, 0);
	legacy_queue(0, 8, 4096, 0x40001);
	CHECK(needs_reset());
	teardown();
	setup(1);
	legacy_queue(0, 5, 4096, 0x40001); /* bad size */
	CHECK(needs_reset());
	teardown();
}

TEST(legacy_reset_keeps_page_size_and_clears_pfn)
{
	uint64_t ring;

	setup(1);
	ring = fake_alloc(&D.fh, 3 * 4096, 4096);
	wr(VIRTIO_MMIO_GUEST_PAGE_SIZE, 16384);
	legacy_queue(0, 8, 4096, (uint32_t)(ring / 16384) + 1);
	CHECK(D.vdev.vq[0].ready);
	wr(VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_PFN), 0);
	CHECK(!D.vdev.vq[0].ready);
	CHECK_EQ(D.mmio.guest_page_size, 16384);
	CHECK_EQ(D.mmio.queue_align[0], 4096);
	teardown();
}

TEST(legacy_pfn_zero_releases_the_queue)
{
	uint64_t ring;

	setup(1);
	ring = fake_alloc(&D.fh, 3 * 4096, 4096);
	legacy_queue(0, 8, 4096, (uint32_t)(ring / 4096));
	CHECK(D.vdev.vq[0].ready);
	wr(VIRTIO_MMIO_QUEUE_PFN, 0);
	CHECK(!D.vdev.vq[0].ready);
	CHECK_EQ(rd(VIRTIO_MMIO_QUEUE_PFN), 0);
	CHECK(!needs_reset());
	teardown();
}

TEST(driver_cannot_set_needs_reset)
{
	setup(2);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK_EQ(rd(VIRTIO_MMIO_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	CHECK(!D.vdev.broken);
	teardown();
}

/* ---- queue threads: kicks taken on the register thread, served per queue ---- */

TEST(take_kicks_only_for_started_queues_of_a_live_device)
{
	struct fake_vring vr0, vr1;

	setup(2);
	fake_vring_init(&vr0, &D.fh, 8);
	fake_vring_init(&vr1, &D.fh, 8);
	negotiate(F(VIRTIO_F_VERSION_1));
	modern_queue(0, &vr0);
	modern_queue(1, &vr1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(virtio_dev_take_kicks(&D.vdev), 0); /* before DRIVER_OK: nothing to serve */
	driver_ok();
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(virtio_dev_take_kicks(&D.vdev), 3u);
	CHECK_EQ(virtio_dev_take_kicks(&D.vdev), 0); /* taken once */
	virtio_dev_process_queue(&D.vdev, 1);
	CHECK_EQ(D.kicks[0], 0);
	CHECK_EQ(D.kicks[1], 1);
	virtio_dev_set_broken(&D.vdev, "test");
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK_EQ(virtio_dev_take_kicks(&D.vdev), 0);
	virtio_dev_process_queue(&D.vdev, 0); /* a kick forwarded before the break */
	CHECK_EQ(D.kicks[0], 0);
	teardown();
}

/* A queue thread's NEEDS_RESET survives the driver's status writes. */
TEST(needs_reset_kept_across_status_writes)
{
	struct fake_vring vr;

	setup(2);
	fake_vring_init(&vr, &D.fh, 8);
	negotiate(F(VIRTIO_F_VERSION_1));
	modern_queue(0, &vr);
	virtio_dev_set_broken(&D.vdev, "test");
	driver_ok();
	CHECK(needs_reset());
	CHECK(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK(!D.fh.irq_level);
	wr(VIRTIO_MMIO_STATUS, 0);
	CHECK(!needs_reset());
	teardown();
}
