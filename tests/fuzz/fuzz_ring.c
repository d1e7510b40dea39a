/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the split-ring walker (src/virtio/ring.c) over the fake
 * host (tests/unit/fake_host.c) with 64 KiB of guest RAM whose content the
 * fuzzer writes: descriptors, indirect tables, avail and used rings, all
 * of it hostile.
 *
 * Input (little-endian):
 *   u8  log2 of the queue size (% 9: 1 .. 256); with bit 7 set, u16 raw
 *       size follows instead (not a power of two, 0, too big)
 *   u8  flags: bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 map() -ENOMEM
 *       after the rings, bits 3-4 map split (0, 8, 512, 4096 bytes),
 *       bit 5 two extra map boundaries follow (u16 offsets each)
 *   u16 desc, avail, used ring offsets into RAM (desc * 16, avail * 2,
 *       used * 4, wrapped to RAM; unaligned or outside RAM when bit 6 of
 *       flags is set: then each is a raw u64 guest address)
 *   u16 the shadow indices' start (a queue that has already wrapped)
 *   u8  pushes: bit 0 push each chain at once (else after the batch), the
 *       rest a written length to report
 *   the rest: guest RAM from offset 0.
 * Every popped chain is checked (iovecs inside RAM, readable ones first,
 * byte counts, the truncated form), touched, pushed; the used ring must
 * say what was pushed; virtq_stop must leave no mapping behind.
 */
#include <string.h>

#include <linux/virtio_ring.h>

#include "../../src/virtio/ring.h"
#include "../unit/fake_host.h"
#include "fuzz_input.h"

#define RAM_SIZE (64u * 1024u)
#define MAPS_PER_POP (REQ_MAX_IOV + 4096u / 8u + 8u)
#define MAX_HELD 8u

static struct fake_host FH;
static struct virtq_chain held[MAX_HELD];

static bool in_ram(const void *p, size_t len)
{
	const uint8_t *b = p;

	return b >= FH.ram && len <= FH.size && (size_t)(b - FH.ram) <= FH.size - len;
}

static void check_chain(const struct virtq_chain *c, uint16_t num)
{
	uint64_t out = 0, in = 0;
	volatile uint8_t sink = 0;

	FUZZ_CHECK(c->head < num);
	FUZZ_CHECK((unsigned)c->n_out + c->n_in <= REQ_MAX_IOV);
	FUZZ_CHECK(c->n_tokens <= REQ_MAX_IOV);
	for (unsigned i = 0; i < (unsigned)c->n_out + c->n_in; i++) {
		uint8_t *p = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len;

		FUZZ_CHECK(len > 0 && in_ram(p, len));
		if (i < c->n_out) {
			out += len;
			sink ^= p[0];
			sink ^= p[len - 1];
		} else {
			in += len;
			p[0] = 0xa5;
			p[len - 1] = 0x5a;
		}
	}
	(void)sink;
	if (c->truncated) {
		/* Only the status byte survives: one writable byte, or nothing. */
		FUZZ_CHECK(c->n_out == 0 && c->n_in <= 1);
		if (c->n_in)
			FUZZ_CHECK(c->iov[0].iov_len == 1);
	} else {
		FUZZ_CHECK(out == c->out_bytes && in == c->in_bytes);
	}
}

static void push_checked(struct virtq *vq, struct virtq_chain *c, uint32_t written)
{
	uint16_t slot = vq->used_idx & (vq->num - 1);
	uint32_t expect = written < c->in_bytes ? written : (uint32_t)c->in_bytes;
	uint16_t before = vq->used_idx;

	virtq_push(vq, &FH.host, c, written);
	FUZZ_CHECK(vq->used_idx == (uint16_t)(before + 1));
	FUZZ_CHECK(le16toh(vq->used->idx) == vq->used_idx);
	FUZZ_CHECK(le32toh(vq->used->ring[slot].id) == c->head);
	FUZZ_CHECK(le32toh(vq->used->ring[slot].len) == expect);
	FUZZ_CHECK(c->n_tokens == 0);
}

static uint64_t ring_gpa(struct fuzz_in *in, bool raw, unsigned scale)
{
	if (raw)
		return fuzz_u64(in);
	return FAKE_RAM_BASE + (uint64_t)fuzz_u16(in) * scale % RAM_SIZE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t splits[4] = { 0, 8, 512, 4096 };
	struct fuzz_in in = { .p = data, .n = size };
	struct virtq vq = { 0 };
	uint8_t qsz = fuzz_u8(&in), flags, push_mode;
	unsigned n_held = 0;
	uint16_t start;
	bool raw;

	fake_host_init(&FH, RAM_SIZE);
	vq.num = qsz & 0x80 ? fuzz_u16(&in) : (uint16_t)(1u << (qsz % 9));
	flags = fuzz_u8(&in);
	vq.event_idx = flags & 1;
	vq.indirect = flags & 2;
	raw = flags & 0x40;
	if (flags & 0x20) {
		fake_host_add_boundary(&FH, FAKE_RAM_BASE + fuzz_u16(&in) % RAM_SIZE);
		fake_host_add_boundary(&FH, FAKE_RAM_BASE + fuzz_u16(&in) % RAM_SIZE);
	}
	vq.desc_gpa = ring_gpa(&in, raw, 16);
	vq.avail_gpa = ring_gpa(&in, raw, 2);
	vq.used_gpa = ring_gpa(&in, raw, 4);
	start = fuzz_u16(&in);
	push_mode = fuzz_u8(&in);
	fuzz_bytes(&in, FH.ram, RAM_SIZE);
	vq.ready = true;

	if (fuzz_trace())
		fprintf(stderr, "fuzz_ring: num %u desc 0x%llx avail 0x%llx used 0x%llx start %u\n",
			vq.num, (unsigned long long)vq.desc_gpa, (unsigned long long)vq.avail_gpa,
			(unsigned long long)vq.used_gpa, start);
	if (virtq_start(&vq, &FH.host) < 0) {
		FUZZ_CHECK(!vq.started && fake_host_live_maps(&FH) == 0);
		goto out;
	}
	FUZZ_CHECK(fake_host_live_maps(&FH) == 3);
	FUZZ_CHECK(in_ram(vq.desc, 16u * vq.num) && in_ram(vq.avail, 6u + 2u * vq.num) &&
		   in_ram(vq.used, 6u + 8u * vq.num));
	/* As if 2^16 - start requests had gone by: indices wrap from here on. */
	vq.last_avail_idx = vq.used_idx = vq.signalled_used = start;
	FH.fail_enomem = flags & 4;
	FH.split = splits[(flags >> 3) & 3];

	for (unsigned pops = 0; pops <= 2u * vq.num; pops++) {
		struct virtq_chain *c = &held[n_held];
		uint16_t before = vq.last_avail_idx;
		unsigned live = fake_host_live_maps(&FH);
		int r;

		if (FH.next_token + MAPS_PER_POP >= FAKE_MAX_TOKENS)
			break;
		r = virtq_pop(&vq, &FH.host, c);
		if (fuzz_trace())
			fprintf(stderr, "fuzz_ring: pop %d: head %u, %u out %u in (%llu/%llu bytes)%s\n",
				r, r > 0 ? c->head : 0, r > 0 ? c->n_out : 0, r > 0 ? c->n_in : 0,
				r > 0 ? (unsigned long long)c->out_bytes : 0ull,
				r > 0 ? (unsigned long long)c->in_bytes : 0ull,
				r > 0 && c->truncated ? " truncated" : "");
		if (r < 0) {
			/* A corrupt chain leaves nothing mapped and the shadows alone. */
			FUZZ_CHECK(fake_host_live_maps(&FH) == live);
			FUZZ_CHECK(vq.last_avail_idx == before);
			break;
		}
		if (r == 0) {
			FUZZ_CHECK(!virtq_has_work(&vq));
			break;
		}
		FUZZ_CHECK(vq.last_avail_idx == (uint16_t)(before + 1));
		FUZZ_CHECK(vq.inflight <= vq.num);
		check_chain(c, vq.num);
		if (push_mode & 1 || ++n_held == MAX_HELD) {
			if (!(push_mode & 1))
				n_held--;
			push_checked(&vq, c, (uint32_t)(push_mode >> 1) * 4099u);
		}
		if (pops % 4 == 3) {
			(void)virtq_should_notify(&vq);
			virtq_update_avail_event(&vq);
		}
	}
	/* Chains held back are pushed in reverse (out-of-order completion). */
	while (n_held > 0) {
		n_held--;
		push_checked(&vq, &held[n_held], (uint32_t)push_mode * 3u);
	}
	(void)virtq_should_notify(&vq);
	FUZZ_CHECK(fake_host_live_maps(&FH) == 3);
	FUZZ_CHECK(vq.inflight == 0);
out:
	virtq_stop(&vq, &FH.host);
	FUZZ_CHECK(fake_host_live_maps(&FH) == 0);
	FUZZ_CHECK(FH.bad_unmaps == 0);
	fake_host_fini(&FH);
	return 0;
}
