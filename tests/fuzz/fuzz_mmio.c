/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the virtio-mmio register file (src/virtio/mmio.c) and
 * the device status machine it drives (src/virtio/virtio_dev.c, and the
 * ring start/stop in ring.c), over the fake host (tests/unit/fake_host.c)
 * with 64 KiB of guest RAM at FAKE_RAM_BASE. The device behind it is a
 * small echo device: a kick pops every chain, writes its writable buffers
 * and pushes it at once.
 *
 * Input: one byte of setup (bit 0: legacy version 1; bits 1-3: queues - 1;
 * bit 4: activation fails), then operations, each an opcode byte and its
 * operands (all little-endian):
 *   0 reg write   u8 index (offset index * 4 mod 0x100), u32 value
 *   1 reg read    u8 index
 *   2 raw write   u16 offset (mod 0x200), u8 width (1 << (w % 4)), u64 value
 *   3 raw read    u16 offset, u8 width
 *   4 process     (the host's deferred virtio_dev_process)
 *   5 RAM poke    u16 offset, u64 value (guest writes its own memory)
 *   6 host knobs  u8: bit 0 map() fails with -ENOMEM, bits 1-2 map split
 *   7 ring addr   u8 which (desc, avail, used), u16 slot: both halves of
 *                 that address = FAKE_RAM_BASE + slot * 16
 * After every operation the invariants below are checked.
 */
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "../../src/virtio/mmio.h"
#include "../unit/fake_host.h"
#include "fuzz_input.h"

#define RAM_SIZE (64u * 1024u)
#define MAX_OPS 4096u
#define CONFIG_SIZE 24u
#define ECHO_FEATURES ((1ull << 0) | (1ull << 3) | (1ull << 40))
/* Most maps one pop can make: its buffers plus an indirect table split in 8-byte pieces. */
#define MAPS_PER_POP (REQ_MAX_IOV + 4096u / 8u + 8u)

struct echo {
	struct virtio_dev vdev;
	struct virtio_mmio mmio;
	struct fake_host fh;
	uint8_t config[CONFIG_SIZE];
	int activate_ret;
	bool out_of_tokens; /* the fake host's token space ran low: stop this input */
	struct virtq_chain chain;
};

static struct echo E;

static void e_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	/* mmio.c promises the bounds: a break here is its bug. */
	FUZZ_CHECK(len >= 1 && len <= 8 && off < CONFIG_SIZE && len <= CONFIG_SIZE - off);
	memcpy(buf, ((struct echo *)vdev->priv)->config + off, len);
}

static void e_config_write(struct virtio_dev *vdev, uint32_t off, const void *buf, uint32_t len)
{
	FUZZ_CHECK(len >= 1 && len <= 8 && off < CONFIG_SIZE && len <= CONFIG_SIZE - off);
	memcpy(((struct echo *)vdev->priv)->config + off, buf, len);
}

static uint64_t e_features(struct virtio_dev *vdev)
{
	(void)vdev;
	return ECHO_FEATURES;
}

static int e_activate(struct virtio_dev *vdev)
{
	return ((struct echo *)vdev->priv)->activate_ret;
}

static void touch_chain(const struct virtq_chain *c)
{
	volatile uint8_t sink = 0;

	FUZZ_CHECK((unsigned)c->n_out + c->n_in <= REQ_MAX_IOV);
	for (unsigned i = 0; i < (unsigned)c->n_out + c->n_in; i++) {
		uint8_t *p = c->iov[i].iov_base;

		FUZZ_CHECK(c->iov[i].iov_len > 0);
		if (i < c->n_out) {
			sink ^= p[0];
			sink ^= p[c->iov[i].iov_len - 1];
		} else {
			p[0] = 0xa5;
			p[c->iov[i].iov_len - 1] = 0x5a;
		}
	}
	(void)sink;
}

static void e_queue_kick(struct virtio_dev *vdev, uint16_t q)
{
	struct echo *e = vdev->priv;
	struct virtq *vq = &vdev->vq[q];

	FUZZ_CHECK(q < vdev->num_queues && vq->started);
	for (;;) {
		int r;

		if (e->fh.next_token + MAPS_PER_POP >= FAKE_MAX_TOKENS) {
			e->out_of_tokens = true;
			return;
		}
		r = virtq_pop(vq, &vdev->host, &e->chain);
		if (r < 0) {
			virtio_dev_set_broken(vdev, "fuzz: corrupt chain");
			return;
		}
		if (r == 0)
			break;
		touch_chain(&e->chain);
		virtq_push(vq, &vdev->host, &e->chain, (uint32_t)e->chain.in_bytes);
	}
	if (virtq_should_notify(vq))
		virtio_dev_notify_queue(vdev, q);
	virtq_update_avail_event(vq);
}

static void e_reset(struct virtio_dev *vdev)
{
	(void)vdev; /* every chain was pushed at once: nothing in flight */
}

static struct virtio_device_ops echo_ops = {
	.device_id = 0x1f,
	.features = e_features,
	.config_size = CONFIG_SIZE,
	.config_read = e_config_read,
	.config_write = e_config_write,
	.activate = e_activate,
	.queue_kick = e_queue_kick,
	.reset = e_reset,
};

static void check_state(void)
{
	struct virtio_dev *v = &E.vdev;
	unsigned started = 0;
	static const struct virtq zero_vq;

	FUZZ_CHECK(E.fh.bad_unmaps == 0);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		const struct virtq *vq = &v->vq[q];

		if (q >= v->num_queues) {
			/* QueueSel beyond the device's queues must never reach these. */
			FUZZ_CHECK(memcmp(vq, &zero_vq, sizeof(*vq)) == 0);
			continue;
		}
		if (!vq->started)
			continue;
		started++;
		FUZZ_CHECK(vq->num > 0 && vq->num <= VIRTQ_MAX_SIZE && !(vq->num & (vq->num - 1)));
		FUZZ_CHECK(vq->desc && vq->avail && vq->used);
		FUZZ_CHECK(vq->inflight == 0);
		FUZZ_CHECK(v->status & VIRTIO_CONFIG_S_DRIVER_OK);
	}
	/* Only the rings stay mapped between accesses: no chain leaks a mapping. */
	FUZZ_CHECK(fake_host_live_maps(&E.fh) == 3 * started);
	/* The line is up exactly while an interrupt is pending. */
	FUZZ_CHECK(E.fh.irq_level == (v->isr != 0));
	FUZZ_CHECK((v->isr & ~(uint32_t)(VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)) == 0);
	if (v->status == 0)
		FUZZ_CHECK(started == 0 && v->isr == 0 && !v->broken);
	if (v->broken)
		FUZZ_CHECK(v->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* What the guest reads back is what the device holds. */
	FUZZ_CHECK(virtio_mmio_read(&E.mmio, VIRTIO_MMIO_STATUS, 4) == v->status);
	FUZZ_CHECK(virtio_mmio_read(&E.mmio, VIRTIO_MMIO_MAGIC_VALUE, 4) == VIRTIO_MMIO_MAGIC);
}

static void raw_access(struct fuzz_in *in, bool write)
{
	uint32_t off = fuzz_u16(in) % VIRTIO_MMIO_WINDOW_SIZE;
	uint32_t size = 1u << (fuzz_u8(in) % 4);
	uint64_t val = write ? fuzz_u64(in) : 0;

	/* The caller's promise (mmio.h): the access is inside the window. */
	if (off > VIRTIO_MMIO_WINDOW_SIZE - size)
		off = VIRTIO_MMIO_WINDOW_SIZE - size;
	if (write) {
		virtio_mmio_write(&E.mmio, off, size, val);
	} else {
		uint64_t r = virtio_mmio_read(&E.mmio, off, size);

		if (size < 8)
			FUZZ_CHECK((r >> (size * 8)) == 0);
	}
}

static void ring_addr(struct fuzz_in *in)
{
	static const uint32_t lo[3] = { VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_AVAIL_LOW,
					VIRTIO_MMIO_QUEUE_USED_LOW };
	unsigned which = fuzz_u8(in) % 3;
	uint64_t gpa = FAKE_RAM_BASE + (uint64_t)fuzz_u16(in) * 16u % RAM_SIZE;

	virtio_mmio_write(&E.mmio, lo[which], 4, (uint32_t)gpa);
	virtio_mmio_write(&E.mmio, lo[which] + 4, 4, (uint32_t)(gpa >> 32));
}

static void host_knobs(uint8_t k)
{
	static const uint64_t splits[4] = { 0, 8, 512, 4096 };

	E.fh.fail_enomem = k & 1;
	E.fh.split = splits[(k >> 1) & 3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { .p = data, .n = size };
	uint8_t setup = fuzz_u8(&in);

	memset(&E, 0, offsetof(struct echo, chain));
	fake_host_init(&E.fh, RAM_SIZE);
	echo_ops.max_queues = (uint16_t)(1 + ((setup >> 1) & 7));
	E.activate_ret = setup & 0x10 ? -12 : 0;
	virtio_dev_init(&E.vdev, &echo_ops, &E, "fuzz/mmio", &E.fh.host);
	virtio_mmio_init(&E.mmio, &E.vdev, setup & 1 ? 1 : 2);

	for (unsigned ops = 0; fuzz_more(&in) && ops < MAX_OPS && !E.out_of_tokens; ops++) {
		uint8_t op = fuzz_u8(&in);

		switch (op % 8) {
		case 0: {
			uint32_t off = (uint32_t)fuzz_u8(&in) * 4u % VIRTIO_MMIO_CONFIG_OFFSET;

			virtio_mmio_write(&E.mmio, off, 4, fuzz_u32(&in));
			break;
		}
		case 1:
			virtio_mmio_read(&E.mmio, (uint32_t)fuzz_u8(&in) * 4u % VIRTIO_MMIO_CONFIG_OFFSET,
					 4);
			break;
		case 2:
			raw_access(&in, true);
			break;
		case 3:
			raw_access(&in, false);
			break;
		case 4:
			virtio_dev_process(&E.vdev);
			break;
		case 5: {
			uint32_t off = fuzz_u16(&in) % (RAM_SIZE - 8);
			uint64_t v = fuzz_u64(&in);

			memcpy(E.fh.ram + off, &v, sizeof(v));
			break;
		}
		case 6:
			host_knobs(fuzz_u8(&in));
			break;
		default:
			ring_addr(&in);
			break;
		}
		check_state();
	}

	if (fuzz_trace())
		fprintf(stderr, "fuzz_mmio: status 0x%02x%s isr %u, %u map(s), %u irq raise(s)\n",
			E.vdev.status, E.vdev.broken ? " broken" : "", E.vdev.isr, E.fh.maps,
			E.fh.irq_raises);
	virtio_dev_reset(&E.vdev);
	FUZZ_CHECK(fake_host_live_maps(&E.fh) == 0);
	FUZZ_CHECK(E.fh.bad_unmaps == 0);
	FUZZ_CHECK(!E.fh.irq_level);
	fake_host_fini(&E.fh);
	return 0;
}
