/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attack suite, indirect descriptors (virtio 1.2 §2.7.5.3): loops inside
 * a table, tables longer than the queue, nested indirect, indirect
 * without the feature, lengths that are not a whole number of
 * descriptors, INDIRECT with NEXT or behind a direct descriptor, tables
 * and table entries outside guest RAM. Each test first has the device
 * complete the same table unmodified (so the one change is what breaks
 * it), then expects DEVICE_NEEDS_RESET with nothing completed, while the
 * daemon keeps serving the good disks (attack_env.h).
 */
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "attack_env.h"

#define QSIZE 16u
#define TABLE_MAX (QSIZE + 2u)

struct ind_ctx {
	struct atk *a;
	struct gblk *b;
	struct gvq *vq;
	struct gblk_req *r;
	struct vring_desc *table, *table2;
	uint64_t table_gpa, table2_gpa;
};

static void setup_with(struct ind_ctx *c, const char *name, uint64_t features)
{
	struct gblk_opts o = { .irq_vcpu = ATK_VCPU_IRQ, .queue_size = QSIZE,
			       .features = features };
	struct virtio_blk_outhdr hdr = { .type = VIRTIO_BLK_T_IN, .sector = ATK_SCRATCH };

	c->a = atk_begin(name, NULL);
	c->b = atk_open_a(c->a, &o);
	c->vq = &c->b->vq[0];
	CHECK_EQ(c->vq->num, QSIZE);
	CHECK_EQ(gblk_req_alloc(c->b, QSIZE * 512, 4, &c->r), 0);
	memcpy(c->r->hdr, &hdr, sizeof(hdr));
	*c->r->status = 0xee;
	c->table = atk_alloc(c->a, TABLE_MAX * 16, 16, &c->table_gpa);
	c->table2 = atk_alloc(c->a, TABLE_MAX * 16, 16, &c->table2_gpa);
}

static void setup(struct ind_ctx *c, const char *name)
{
	setup_with(c, name, 0);
}

static void tdesc(struct vring_desc *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	t[i] = (struct vring_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

/* A valid read in n table entries: header, n - 2 sectors, status. */
static void valid_table(struct ind_ctx *c, struct vring_desc *t, unsigned n)
{
	tdesc(t, 0, c->r->hdr_gpa, 16, VRING_DESC_F_NEXT, 1);
	for (unsigned i = 1; i + 1 < n; i++)
		tdesc(t, i, c->r->buf_gpa + (i - 1) * 512ull, 512,
		      VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, (uint16_t)(i + 1));
	tdesc(t, n - 1, c->r->status_gpa, 1, VRING_DESC_F_WRITE, 0);
}

static void ring_desc(struct ind_ctx *c, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next)
{
	pthread_mutex_lock(&c->vq->lock);
	c->vq->desc[i] = (struct vring_desc){ .addr = addr, .len = len, .flags = flags,
					      .next = next };
	pthread_mutex_unlock(&c->vq->lock);
}

/* Publish head and expect the device to complete it with OK and used.len. */
static void expect_ok(struct ind_ctx *c, uint16_t head, uint32_t used_len)
{
	uint16_t u0 = __atomic_load_n(&c->vq->used->idx, __ATOMIC_ACQUIRE);
	const struct vring_used_elem *e = &c->vq->used->ring[u0 % QSIZE];

	*c->r->status = 0xee;
	CHECK_EQ(gvq_publish_raw(c->vq, head), 0);
	CHECK_EQ(guest_mmio_notify(&c->b->dev, ATK_VCPU, 0), 0);
	for (uint64_t t0 = atk_now_ms();
	     __atomic_load_n(&c->vq->used->idx, __ATOMIC_ACQUIRE) == u0;) {
		if (atk_now_ms() - t0 > 5000)
			check_fail(__FILE__, __LINE__, "the unmodified table was not completed");
		atk_sleep_ms(1);
	}
	/* Let the driver's handler take the entry (it names no request of the driver's). */
	for (uint64_t t0 = atk_now_ms();;) {
		uint16_t seen;

		pthread_mutex_lock(&c->vq->lock);
		seen = c->vq->last_used;
		pthread_mutex_unlock(&c->vq->lock);
		if (seen != u0)
			break;
		if (atk_now_ms() - t0 > 5000)
			check_fail(__FILE__, __LINE__, "the driver never reaped the entry");
		atk_sleep_ms(1);
	}
	CHECK_EQ(e->id, head);
	CHECK_EQ(e->len, used_len);
	CHECK_EQ(*c->r->status, VIRTIO_BLK_S_OK);
	*c->r->status = 0xee;
}

/* The valid n-entry table at head 0 first succeeds. */
static void control(struct ind_ctx *c, unsigned n)
{
	valid_table(c, c->table, n);
	ring_desc(c, 0, c->table_gpa, n * 16, VRING_DESC_F_INDIRECT, 0);
	expect_ok(c, 0, (n - 2) * 512 + 1);
}

static void finish(struct ind_ctx *c)
{
	CHECK_EQ(*c->r->status, 0xee);
	gblk_req_free(c->r);
	atk_recover(c->a);
	atk_end(c->a);
}

TEST(indirect_table_loop)
{
	struct ind_ctx c;

	setup(&c, "ind_loop");
	control(&c, 4);
	c.table[2].next = 1; /* 0 -> 1 -> 2 -> 1 -> ... */
	c.table[2].flags |= VRING_DESC_F_NEXT;
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_table_longer_than_queue)
{
	struct ind_ctx c;

	setup(&c, "ind_long");
	control(&c, QSIZE); /* exactly the queue size is allowed */
	valid_table(&c, c.table, QSIZE + 1);
	ring_desc(&c, 0, c.table_gpa, (QSIZE + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_nested)
{
	struct ind_ctx c;

	setup(&c, "ind_nested");
	control(&c, 4);
	/* Entry 1 points at a second, valid table. */
	valid_table(&c, c.table2, 3);
	tdesc(c.table, 1, c.table2_gpa, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 2);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_nested_at_table_start)
{
	struct ind_ctx c;

	setup(&c, "ind_nested0");
	control(&c, 3);
	valid_table(&c, c.table2, 3);
	tdesc(c.table, 0, c.table2_gpa, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_without_the_feature)
{
	struct ind_ctx c;
	struct gvq_seg segs[3];

	setup_with(&c, "ind_unnegotiated",
		   GBLK_DEFAULT_FEATURES & ~(1ull << VIRTIO_RING_F_INDIRECT_DESC));
	CHECK(!gblk_has(c.b, VIRTIO_RING_F_INDIRECT_DESC));
	/* The same request as a direct chain is fine. */
	segs[0] = (struct gvq_seg){ c.r->hdr_gpa, 16, false };
	segs[1] = (struct gvq_seg){ c.r->buf_gpa, 512, true };
	segs[2] = (struct gvq_seg){ c.r->status_gpa, 1, true };
	CHECK_EQ(atk_submit(c.a, c.r, segs, 3, false), VIRTIO_BLK_S_OK);
	*c.r->status = 0xee;
	valid_table(&c, c.table, 3);
	ring_desc(&c, 5, c.table_gpa, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	atk_publish_expect_reset(c.a, 5);
	finish(&c);
}

TEST(indirect_length_not_a_multiple_of_16)
{
	struct ind_ctx c;

	setup(&c, "ind_len40");
	control(&c, 3);
	ring_desc(&c, 0, c.table_gpa, 3 * 16 - 8, VRING_DESC_F_INDIRECT, 0);
	atk_publish_expect_reset(c.a, 0);
	atk_recover(c.a);
	control(&c, 3);
	ring_desc(&c, 0, c.table_gpa, 3 * 16 + 1, VRING_DESC_F_INDIRECT, 0);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_length_zero)
{
	struct ind_ctx c;

	setup(&c, "ind_len0");
	control(&c, 3);
	ring_desc(&c, 0, c.table_gpa, 0, VRING_DESC_F_INDIRECT, 0);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_with_next_flag)
{
	struct ind_ctx c;

	setup(&c, "ind_next");
	control(&c, 3);
	ring_desc(&c, 1, c.r->status_gpa, 1, VRING_DESC_F_WRITE, 0);
	ring_desc(&c, 0, c.table_gpa, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_behind_a_direct_descriptor)
{
	struct ind_ctx c;

	setup(&c, "ind_behind");
	control(&c, 3);
	/* header direct, then the data and status through a table */
	tdesc(c.table2, 0, c.r->buf_gpa, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	tdesc(c.table2, 1, c.r->status_gpa, 1, VRING_DESC_F_WRITE, 0);
	ring_desc(&c, 0, c.r->hdr_gpa, 16, VRING_DESC_F_NEXT, 1);
	ring_desc(&c, 1, c.table2_gpa, 2 * 16, VRING_DESC_F_INDIRECT, 0);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_next_beyond_table)
{
	struct ind_ctx c;

	setup(&c, "ind_next_oob");
	control(&c, 3);
	c.table[1].next = 3; /* the table has 3 entries: 0..2 */
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_table_outside_guest_ram)
{
	struct ind_ctx c;

	setup(&c, "ind_outside");
	control(&c, 3);
	ring_desc(&c, 0, ATK_RAM_END, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_table_straddles_ram_end)
{
	struct ind_ctx c;

	setup(&c, "ind_straddle");
	control(&c, 3);
	ring_desc(&c, 0, ATK_RAM_END - 16, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_table_address_overflows)
{
	struct ind_ctx c;

	setup(&c, "ind_overflow");
	control(&c, 3);
	ring_desc(&c, 0, 0ull - 32, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}

TEST(indirect_entry_outside_guest_ram)
{
	struct ind_ctx c;

	setup(&c, "ind_entry_outside");
	control(&c, 4);
	c.table[2].addr = ATK_RAM_END - 512 + 8; /* the second sector straddles RAM's end */
	atk_publish_expect_reset(c.a, 0);
	finish(&c);
}
