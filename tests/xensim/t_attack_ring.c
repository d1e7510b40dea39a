/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attack suite, direct descriptor chains and the avail ring: loops,
 * chains longer than the queue, zero-length buffers, readable after
 * writable, buffers outside guest RAM, straddling its end or wrapping the
 * address space, avail->idx moved by more than the queue, heads and next
 * indices out of range. Each breaks only the attacked disk
 * (DEVICE_NEEDS_RESET, nothing completed, sticky until reset) while the
 * daemon keeps serving a good disk of the same guest and of another guest
 * (attack_env.h).
 */
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "attack_env.h"

#define QSIZE 16u

struct ring_ctx {
	struct atk *a;
	struct gblk *b;
	struct gvq *vq;
	struct gblk_req *r;
};

/* A with a QSIZE-entry queue, and a read request's memory (header says: read the scratch). */
static void setup(struct ring_ctx *c, const char *name)
{
	struct gblk_opts o = { .irq_vcpu = ATK_VCPU_IRQ, .queue_size = QSIZE };
	struct virtio_blk_outhdr hdr = { .type = VIRTIO_BLK_T_IN, .sector = ATK_SCRATCH };

	c->a = atk_begin(name, NULL);
	c->b = atk_open_a(c->a, &o);
	c->vq = &c->b->vq[0];
	CHECK_EQ(c->vq->num, QSIZE);
	CHECK_EQ(gblk_req_alloc(c->b, 4096, 4, &c->r), 0);
	memcpy(c->r->hdr, &hdr, sizeof(hdr));
	*c->r->status = 0xee;
}

static void desc(struct ring_ctx *c, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	pthread_mutex_lock(&c->vq->lock);
	c->vq->desc[i] = (struct vring_desc){ .addr = addr, .len = len, .flags = flags,
					      .next = next };
	pthread_mutex_unlock(&c->vq->lock);
}

/* The request's own memory was not written (no status, no data). */
static void untouched(struct ring_ctx *c)
{
	CHECK_EQ(*c->r->status, 0xee);
}

static void finish(struct ring_ctx *c)
{
	untouched(c);
	gblk_req_free(c->r);
	atk_recover(c->a);
	atk_end(c->a);
}

/*
 * Header, then a writable buffer of len at addr, then the status: head 0.
 * First the same chain with a good buffer, which must succeed: what
 * breaks the device is the buffer, nothing else.
 */
static void three(struct ring_ctx *c, uint64_t addr, uint32_t len)
{
	struct gvq_seg ok[] = { { c->r->hdr_gpa, 16, false }, { c->r->buf_gpa, 512, true },
				{ c->r->status_gpa, 1, true } };

	CHECK_EQ(atk_submit(c->a, c->r, ok, 3, false), VIRTIO_BLK_S_OK);
	CHECK_EQ(c->r->used_len, 513);
	*c->r->status = 0xee;
	desc(c, 0, c->r->hdr_gpa, 16, VRING_DESC_F_NEXT, 1);
	desc(c, 1, addr, len, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(c, 2, c->r->status_gpa, 1, VRING_DESC_F_WRITE, 0);
}

TEST(desc_loop_two_descriptors)
{
	struct ring_ctx c;

	setup(&c, "loop2");
	desc(&c, 0, c.r->hdr_gpa, 16, VRING_DESC_F_NEXT, 1);
	desc(&c, 1, c.r->buf_gpa, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(desc_loop_to_itself)
{
	struct ring_ctx c;

	setup(&c, "loop1");
	desc(&c, 3, c.r->buf_gpa, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	atk_publish_expect_reset(c.a, 3);
	finish(&c);
}

/* Every descriptor once, then back to the first: QSIZE + 1 visits. */
TEST(chain_longer_than_queue)
{
	struct ring_ctx c;

	setup(&c, "chain_long");
	for (uint16_t i = 0; i < QSIZE; i++)
		desc(&c, i, c.r->buf_gpa, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
		     (uint16_t)((i + 1) % QSIZE));
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(zero_length_buffer)
{
	struct ring_ctx c;

	setup(&c, "zero_len");
	three(&c, c.r->buf_gpa, 0);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(readable_after_writable)
{
	struct ring_ctx c;

	setup(&c, "r_after_w");
	desc(&c, 0, c.r->hdr_gpa, 16, VRING_DESC_F_NEXT, 1);
	desc(&c, 1, c.r->buf_gpa, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(&c, 2, c.r->buf_gpa + 512, 512, VRING_DESC_F_NEXT, 3);
	desc(&c, 3, c.r->status_gpa, 1, VRING_DESC_F_WRITE, 0);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(buffer_outside_guest_ram)
{
	struct ring_ctx c;

	setup(&c, "outside_ram");
	three(&c, ATK_RAM_END, 512);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(buffer_straddles_ram_end)
{
	struct ring_ctx c;

	setup(&c, "straddle_end");
	three(&c, ATK_RAM_END - 256, 512);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

/* Below RAM, on the device's own MMIO window: not memory the device may touch. */
TEST(buffer_on_mmio_window)
{
	struct ring_ctx c;

	setup(&c, "on_window");
	three(&c, ATK_BASE, 512);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(buffer_address_plus_length_overflows)
{
	struct ring_ctx c;

	setup(&c, "addr_overflow");
	three(&c, 0xffffffffffffff00ull, 512);
	atk_publish_expect_reset(c.a, 0);
	/* Ending exactly at 2^64 wraps too. */
	atk_recover(c.a);
	c.vq = &c.b->vq[0];
	three(&c, 0ull - 512, 512);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

/* A 4 GiB - 1 buffer starting in RAM: runs far past its end. */
TEST(buffer_of_4g_from_inside_ram)
{
	struct ring_ctx c;

	setup(&c, "len_4g");
	three(&c, c.r->buf_gpa, 0xffffffffu);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

/* avail->idx set to `ahead` entries past what the device has consumed. */
static void avail_jump(struct ring_ctx *c, uint16_t ahead)
{
	uint16_t used0 = __atomic_load_n(&c->vq->used->idx, __ATOMIC_ACQUIRE);

	three(c, c->r->buf_gpa, 512); /* the device consumes one entry here */
	used0++;
	pthread_mutex_lock(&c->vq->lock);
	for (unsigned i = 0; i < QSIZE; i++)
		c->vq->avail->ring[i] = 0;
	__atomic_store_n(&c->vq->avail->idx, (uint16_t)(c->vq->avail_idx + ahead),
			 __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->vq->lock);
	CHECK_EQ(guest_mmio_notify(&c->b->dev, ATK_VCPU, 0), 0);
	atk_expect_needs_reset(c->a);
	CHECK_EQ(__atomic_load_n(&c->vq->used->idx, __ATOMIC_ACQUIRE), used0);
}

TEST(avail_idx_moved_beyond_queue_size)
{
	struct ring_ctx c;

	setup(&c, "avail_jump");
	avail_jump(&c, QSIZE + 1);
	atk_recover(c.a);
	avail_jump(&c, 0xffff); /* or "backwards" by one */
	finish(&c);
}

TEST(head_at_or_beyond_queue_size)
{
	struct ring_ctx c;

	setup(&c, "head_oob");
	atk_publish_expect_reset(c.a, QSIZE);
	atk_recover(c.a);
	atk_publish_expect_reset(c.a, 0xffff);
	finish(&c);
}

TEST(next_at_or_beyond_queue_size)
{
	struct ring_ctx c;

	setup(&c, "next_oob");
	desc(&c, 0, c.r->hdr_gpa, 16, VRING_DESC_F_NEXT, QSIZE);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

/*
 * Not a rule violation: the same head published again while in flight.
 * The device serves both (its memory, its problem); nothing else moves.
 */
TEST(head_published_twice)
{
	struct ring_ctx c;
	uint16_t u0;

	setup(&c, "head_twice");
	three(&c, c.r->buf_gpa, 4096);
	u0 = __atomic_load_n(&c.vq->used->idx, __ATOMIC_ACQUIRE);
	CHECK_EQ(gvq_publish_raw(c.vq, 0), 0);
	CHECK_EQ(gvq_publish_raw(c.vq, 0), 0);
	CHECK_EQ(guest_mmio_notify(&c.b->dev, ATK_VCPU, 0), 0);
	for (uint64_t t0 = atk_now_ms();
	     __atomic_load_n(&c.vq->used->idx, __ATOMIC_ACQUIRE) != (uint16_t)(u0 + 2);) {
		if (atk_now_ms() - t0 > 5000)
			check_fail(__FILE__, __LINE__, "the two requests were not both completed");
		atk_sleep_ms(1);
	}
	for (unsigned i = 0; i < 2; i++) {
		const struct vring_used_elem *e = &c.vq->used->ring[(u0 + i) % QSIZE];

		CHECK_EQ(e->id, 0);
		CHECK_EQ(e->len, 4097);
	}
	CHECK_EQ(*c.r->status, VIRTIO_BLK_S_OK);
	atk_expect_healthy(c.a);
	*c.r->status = 0xee;
	finish(&c);
}
