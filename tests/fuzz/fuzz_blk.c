/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the virtio-blk request parser and its completion path
 * (src/virtio/blk.c, blk_config.c, with virtio_dev.c and ring.c under it)
 * over the fake host (256 KiB of guest RAM) and the in-memory fake disk
 * (tests/unit/fake_disk.c), whose completions the fuzzer schedules.
 *
 * Input (little-endian):
 *   u8  device: bit 0 read-only, bit 1 two queues, bits 2-4 log2 queue
 *       size (% 6: 1 .. 32), bit 5 EVENT_IDX, bit 6 INDIRECT_DESC, bit 7
 *       no FLUSH feature (writethrough)
 *   u8  more: bit 0 CONFIG_WCE, bit 1 accept a feature never offered,
 *       bits 2-6 serial length (% 21)
 *   u16 disk size in sectors (% 512), u8 extra bytes (% 512)
 * then operations, an opcode byte (% 10) and its operands:
 *   0 chain    u8 ctl (bit 0 queue, bit 1 indirect, bits 2-4 segments - 1,
 *              bit 5 write a header at the first segment), u8 type select
 *              (% 8: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES, raw u32,
 *              IN), u8 sector (bit 7: a raw u64 follows), u16 table offset
 *              (indirect), then per segment u8 flags (bit 0 device-writable,
 *              bit 1 raw u32 length, else u8 (+1) x (bit 2 ? 512 : 1); bit 3
 *              raw u16 descriptor flags), u16 offset (x 8 into the data area)
 *   1 kick     u8 queue
 *   2 disk     the disk's completions (virtio_blk_disk_event)
 *   3 hold     the disk stops / resumes completing
 *   4 fail     u8: the request submitted k-th from now (% 4) fails, -EIO
 *              or (bit 7) -ENOSPC
 *   5 refuse   disk submit fails / works again
 *   6 config   u8 offset, u8 width, u64 value: config write, then a read
 *   7 reset    Status = 0 with whatever is in flight, then a new start
 *   8 host     u8: bit 0 map() -ENOMEM, bits 1-2 split (0, 512, 4096)
 *   9 suppress u8 avail flags, u16 used_event
 * The checks: the disk never sees a range beyond capacity nor a write to a
 * read-only disk; every popped chain is completed once the disk drains
 * (even on a broken device); no mapping leaks, none is released twice.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "../../src/virtio/blk_internal.h"
#include "../unit/fake_disk.h"
#include "../unit/fake_host.h"
#include "fuzz_input.h"

#define RAM_SIZE (256u * 1024u)
#define DATA_OFF (64u * 1024u) /* rings below, request buffers above */
#define DATA_SIZE (RAM_SIZE - DATA_OFF)
#define MAX_OPS 512u
#define MAX_SEGS 8u
#define F(bit) (1ull << (bit))
/* Most maps one pop can make: REQ_MAX_IOV buffers, an indirect table, the status byte. */
#define MAPS_PER_POP (REQ_MAX_IOV + 8u)

struct fuzz_blk {
	struct fake_host fh;
	struct fake_disk fd;
	struct fake_vring vr[2];
	uint16_t next_desc[2];
	struct virtio_blk *blk;
	struct virtio_dev *vdev;
	uint64_t features;
	unsigned nq;
	bool read_only;
	bool out_of_tokens;
};

static struct fuzz_blk S;

static bool token_budget(void)
{
	uint64_t need = (uint64_t)S.nq * S.vr[0].num * MAPS_PER_POP;

	if (S.fh.next_token + need >= FAKE_MAX_TOKENS)
		S.out_of_tokens = true;
	return !S.out_of_tokens;
}

/* The host's deferred processing, for as long as kicks are pending. */
static void pump(void)
{
	for (unsigned i = 0; i < 64 && S.vdev->kicked; i++) {
		if (!token_budget())
			return;
		virtio_dev_process(S.vdev);
	}
}

static void dev_start(void)
{
	struct virtio_dev *v = S.vdev;
	uint8_t st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	virtio_dev_set_status(v, st);
	v->driver_features = S.features;
	virtio_dev_set_status(v, st | VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned q = 0; q < S.nq; q++) {
		struct fake_vring *vr = &S.vr[q];

		memset(fake_ptr(&S.fh, vr->desc), 0, 16u * vr->num);
		memset(fake_ptr(&S.fh, vr->avail), 0, 6u + 2u * vr->num);
		memset(fake_ptr(&S.fh, vr->used), 0, 6u + 8u * vr->num);
		vr->avail_idx = 0;
		S.next_desc[q] = 0;
		fake_vring_to_vq(vr, &v->vq[q]);
		v->vq[q].ready = true;
	}
	virtio_dev_set_status(v, v->status | VIRTIO_CONFIG_S_DRIVER_OK);
}

static uint64_t data_gpa(uint16_t off)
{
	return FAKE_RAM_BASE + DATA_OFF + (uint64_t)off * 8u % DATA_SIZE;
}

static void put_header(uint64_t gpa, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {
		.type = htole32(type),
		.sector = htole64(sector),
	};

	if (gpa + sizeof(h) <= FAKE_RAM_BASE + RAM_SIZE)
		memcpy(fake_ptr(&S.fh, gpa), &h, sizeof(h));
}

static void op_chain(struct fuzz_in *in)
{
	static const uint32_t types[8] = { VIRTIO_BLK_T_IN,      VIRTIO_BLK_T_OUT,
					   VIRTIO_BLK_T_FLUSH,   VIRTIO_BLK_T_GET_ID,
					   VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES,
					   0,                    VIRTIO_BLK_T_IN };
	uint8_t ctl = fuzz_u8(in), tsel = fuzz_u8(in) % 8, ssel;
	unsigned q = (ctl & 1) % S.nq, nseg = 1 + ((ctl >> 2) & 7);
	bool indirect = ctl & 2;
	struct fake_vring *vr = &S.vr[q];
	uint32_t type = tsel == 6 ? fuzz_u32(in) : types[tsel];
	uint64_t sector, table = 0, gpa[MAX_SEGS];
	uint32_t len[MAX_SEGS];
	uint16_t dflags[MAX_SEGS];
	uint16_t head = S.next_desc[q];

	ssel = fuzz_u8(in);
	sector = ssel & 0x80 ? fuzz_u64(in) : ssel;
	if (indirect)
		table = data_gpa(fuzz_u16(in)) & ~15ull;
	for (unsigned i = 0; i < nseg; i++) {
		uint8_t sf = fuzz_u8(in);

		if (sf & 2)
			len[i] = fuzz_u32(in);
		else
			len[i] = ((uint32_t)fuzz_u8(in) + 1u) * (sf & 4 ? 512u : 1u);
		dflags[i] = sf & 8 ? fuzz_u16(in) : (sf & 1 ? VRING_DESC_F_WRITE : 0);
		if (i + 1 < nseg)
			dflags[i] |= VRING_DESC_F_NEXT;
		gpa[i] = data_gpa(fuzz_u16(in));
	}
	if (ctl & 0x20)
		put_header(gpa[0], type, sector);

	if (indirect) {
		if (table + 16ull * nseg > FAKE_RAM_BASE + RAM_SIZE)
			table = FAKE_RAM_BASE + DATA_OFF;
		for (unsigned i = 0; i < nseg; i++)
			fake_table_set(&S.fh, table, (uint16_t)i, gpa[i], len[i], dflags[i],
				       (uint16_t)(i + 1));
		fake_desc_set(vr, head, table, 16u * nseg, VRING_DESC_F_INDIRECT, 0);
		S.next_desc[q] = (uint16_t)((head + 1) % vr->num);
	} else {
		uint16_t d = head;

		for (unsigned i = 0; i < nseg; i++) {
			uint16_t next = (uint16_t)((d + 1) % vr->num);

			fake_desc_set(vr, d, gpa[i], len[i], dflags[i], next);
			d = next;
		}
		S.next_desc[q] = d;
	}
	fake_vring_publish(vr, head);
}

static void op_config(struct fuzz_in *in)
{
	uint32_t off = fuzz_u8(in) % BLK_CONFIG_SIZE;
	uint32_t len = 1u << (fuzz_u8(in) % 4);
	uint64_t val = fuzz_u64(in);
	uint8_t buf[8];

	/* virtio_mmio checks these bounds before calling the device. */
	if (len > BLK_CONFIG_SIZE - off)
		len = BLK_CONFIG_SIZE - off;
	memcpy(buf, &val, sizeof(buf));
	S.vdev->ops->config_write(S.vdev, off, buf, len);
	S.vdev->ops->config_read(S.vdev, off, buf, len);
}

static void check_state(void)
{
	FUZZ_CHECK(S.fd.out_of_range == 0);
	FUZZ_CHECK(!S.read_only || S.fd.writes == 0);
	FUZZ_CHECK(S.fh.bad_unmaps == 0);
	FUZZ_CHECK(blk_inflight(S.blk) == fake_disk_inflight(&S.fd));
	for (unsigned q = 0; q < S.nq; q++)
		FUZZ_CHECK(S.vdev->vq[q].inflight <= S.vr[q].num);
}

static bool kick_needed(void)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (S.blk->queues[q].disk_kick_needed)
			return true;
	return false;
}

static uint64_t guest_errors(void)
{
	uint64_t n = 0;

	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		n += S.blk->queues[q].guest_errors;
	return n;
}

static void drain_all(void)
{
	S.fd.hold = false;
	S.fd.submit_error = 0;
	for (unsigned i = 0; i < 1000; i++) {
		if (fake_disk_inflight(&S.fd) == 0 && !kick_needed())
			break;
		virtio_blk_disk_event(S.blk);
		if (!S.out_of_tokens)
			pump();
	}
	FUZZ_CHECK(fake_disk_inflight(&S.fd) == 0);
	/* Every chain popped was answered, broken device or not. */
	for (unsigned q = 0; q < S.nq; q++) {
		const struct virtq *vq = &S.vdev->vq[q];

		if (!vq->started)
			continue;
		FUZZ_CHECK(vq->inflight == 0);
		FUZZ_CHECK(vq->used_idx == vq->last_avail_idx);
	}
}

static void setup(struct fuzz_in *in)
{
	static const char serial[] = "FUZZ-SERIAL-0123456789";
	uint8_t dev = fuzz_u8(in), more = fuzz_u8(in);
	struct virtio_blk_params p = {
		.read_only = dev & 1,
		.num_queues = dev & 2 ? 2 : 1,
	};
	uint64_t disk_size = (uint64_t)(fuzz_u16(in) % 512u) * 512u + fuzz_u8(in);
	uint16_t num = (uint16_t)(1u << (((dev >> 2) & 7) % 6));

	/* fh and fd are cleared by their init functions. */
	memset(S.vr, 0, sizeof(S) - offsetof(struct fuzz_blk, vr));
	fake_host_init(&S.fh, RAM_SIZE);
	fake_disk_init(&S.fd, disk_size, false);
	memcpy(p.serial, serial, (more >> 2) % (VIRTIO_BLK_ID_LEN + 1));
	FUZZ_CHECK(virtio_blk_create(&p, &S.fd.disk, "fuzz/blk", &S.fh.host, &S.blk) == 0);
	S.vdev = virtio_blk_dev(S.blk);
	S.nq = p.num_queues;
	S.read_only = p.read_only;
	S.features = F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE);
	if (!(dev & 0x80))
		S.features |= F(VIRTIO_BLK_F_FLUSH);
	if (dev & 0x20)
		S.features |= F(VIRTIO_RING_F_EVENT_IDX);
	if (dev & 0x40)
		S.features |= F(VIRTIO_RING_F_INDIRECT_DESC);
	if (more & 1)
		S.features |= F(VIRTIO_BLK_F_CONFIG_WCE);
	if (more & 2)
		S.features |= F(VIRTIO_BLK_F_DISCARD); /* never offered: FEATURES_OK refused */
	if (S.nq > 1)
		S.features |= F(VIRTIO_BLK_F_MQ);
	for (unsigned q = 0; q < S.nq; q++)
		fake_vring_init(&S.vr[q], &S.fh, num);
	FUZZ_CHECK(S.fh.next_alloc <= FAKE_RAM_BASE + DATA_OFF);
	dev_start();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t splits[4] = { 0, 512, 4096, 0 };
	struct fuzz_in in = { .p = data, .n = size };

	setup(&in);
	for (unsigned ops = 0; fuzz_more(&in) && ops < MAX_OPS && !S.out_of_tokens; ops++) {
		uint8_t op = fuzz_u8(&in) % 10, k;

		switch (op) {
		case 0:
			op_chain(&in);
			break;
		case 1:
			virtio_dev_kick(S.vdev, (uint16_t)(fuzz_u8(&in) % 3));
			pump();
			break;
		case 2:
			virtio_blk_disk_event(S.blk);
			pump();
			break;
		case 3:
			S.fd.hold = !S.fd.hold;
			break;
		case 4:
			k = fuzz_u8(&in);
			S.fd.fail_nth = S.fd.submits + 1u + k % 4u;
			S.fd.fail_err = k & 0x80 ? -ENOSPC : -EIO;
			break;
		case 5:
			S.fd.submit_error = S.fd.submit_error ? 0 : -EAGAIN;
			break;
		case 6:
			op_config(&in);
			break;
		case 7:
			virtio_dev_set_status(S.vdev, 0);
			FUZZ_CHECK(fake_disk_inflight(&S.fd) == 0);
			FUZZ_CHECK(fake_host_live_maps(&S.fh) == 0);
			dev_start();
			break;
		case 8:
			k = fuzz_u8(&in);
			S.fh.fail_enomem = k & 1;
			S.fh.split = splits[(k >> 1) & 3];
			break;
		default:
			k = fuzz_u8(&in);
			for (unsigned q = 0; q < S.nq; q++) {
				fake_vring_set_avail_flags(&S.vr[q], k & VRING_AVAIL_F_NO_INTERRUPT);
				fake_vring_set_used_event(&S.vr[q], fuzz_u16(&in));
			}
			break;
		}
		check_state();
	}

	drain_all();
	check_state();
	if (fuzz_trace())
		fprintf(stderr,
			"fuzz_blk: status 0x%02x%s, disk: %u reads %u writes %u flushes %u submits; "
			"guest errors %llu; used idx %u\n",
			S.vdev->status, S.vdev->broken ? " broken" : "", S.fd.reads, S.fd.writes,
			S.fd.flushes, S.fd.submits, (unsigned long long)guest_errors(),
			S.vdev->vq[0].used_idx);
	virtio_blk_destroy(S.blk);
	FUZZ_CHECK(fake_host_live_maps(&S.fh) == 0);
	FUZZ_CHECK(S.fh.bad_unmaps == 0);
	fake_disk_fini(&S.fd);
	fake_host_fini(&S.fh);
	return 0;
}
