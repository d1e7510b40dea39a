/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Split virtqueue walker (src/virtio/ring.c) against hostile chains built in
 * fake guest RAM: every validation rule, split buffers, EVENT_IDX arithmetic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "check.h"
#include "fake_host.h"

#define RAM_SIZE (1u << 20)
#define QSZ 8

struct fx {
	struct fake_host fh;
	struct fake_vring vr;
	struct virtq vq;
	struct virtq_chain *chain;
};

static void fx_setup(struct fx *f, bool indirect, bool event_idx)
{
	memset(f, 0, sizeof(*f));
	fake_host_init(&f->fh, RAM_SIZE);
	fake_vring_init(&f->vr, &f->fh, QSZ);
	fake_vring_to_vq(&f->vr, &f->vq);
	f->vq.indirect = indirect;
	f->vq.event_idx = event_idx;
	f->chain = calloc(1, sizeof(*f->chain));
	CHECK(f->chain != NULL);
	CHECK_EQ(virtq_start(&f->vq, &f->fh.host), 0);
}

static void fx_teardown(struct fx *f)
{
	virtq_stop(&f->vq, &f->fh.host);
	CHECK_EQ(fake_host_live_maps(&f->fh), 0);
	CHECK_EQ(f->fh.bad_unmaps, 0);
	free(f->chain);
	fake_host_fini(&f->fh);
}

static int pop(struct fx *f)
{
	return virtq_pop(&f->vq, &f->fh.host, f->chain);
}

/* A pop that fails must leave only the three ring mappings behind. */
static void expect_corrupt(struct fx *f)
{
	CHECK_EQ(pop(f), -EIO);
	CHECK_EQ(fake_host_live_maps(&f->fh), 3);
}

/* ---- start / stop ---- */

TEST(start_rejects_bad_queue_size)
{
	struct fx f;
	static const uint16_t bad[] = { 0, 3, 12, 512 };

	fx_setup(&f, false, false);
	virtq_stop(&f.vq, &f.fh.host);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f.vq.num = bad[i];
		CHECK_EQ(virtq_start(&f.vq, &f.fh.host), -EINVAL);
		CHECK(!f.vq.started);
	}
	fx_teardown(&f);
}

TEST(start_rejects_misaligned_rings)
{
	struct fx f;

	fx_setup(&f, false, false);
	virtq_stop(&f.vq, &f.fh.host);
	f.vq.desc_gpa += 8;
	CHECK_EQ(virtq_start(&f.vq, &f.fh.host), -EINVAL);
	f.vq.desc_gpa -= 8;
	f.vq.avail_gpa += 1;
	CHECK_EQ(virtq_start(&f.vq, &f.fh.host), -EINVAL);
	f.vq.avail_gpa -= 1;
	f.vq.used_gpa += 2;
	CHECK_EQ(virtq_start(&f.vq, &f.fh.host), -EINVAL);
	f.vq.used_gpa -= 2;
	CHECK_EQ(virtq_start(&f.vq, &f.fh.host), 0);
	fx_teardown(&f);
}

TEST(start_rejects_rings_outside_ram_without_leaks)
{
	struct fx f;

	fx_setup(&f, false, false);
	virtq_stop(&f.vq, &f.fh.host);
	/* used ring straddles the end of RAM; desc and avail were mapped first */
	f.vq.used_gpa = FAKE_RAM_BASE + RAM_SIZE - 16;
	CHECK_EQ(virtq_start(&f.vq, &f.fh.host), -EFAULT);
	CHECK_EQ(fake_host_live_maps(&f.fh), 0);
	f.vq.used_gpa = f.vr.used;
	f.vq.desc_gpa = 0x1000; /* below RAM */
	CHECK_EQ(virtq_start(&f.vq, &f.fh.host), -EFAULT);
	f.vq.desc_gpa = 0xfffffffffffffff0ull; /* wraps around */
	CHECK_EQ(virtq_start(&f.vq, &f.fh.host), -EFAULT);
	CHECK(!f.vq.started);
	f.vq.desc_gpa = f.vr.desc;
	fx_teardown(&f);
}

TEST(start_maps_whole_rings_and_stop_unmaps)
{
	struct fx f;

	fx_setup(&f, false, false);
	CHECK(f.vq.started);
	CHECK_EQ(f.fh.whole_maps, 3);
	CHECK_EQ(fake_host_live_maps(&f.fh), 3);
	virtq_stop(&f.vq, &f.fh.host);
	CHECK_EQ(fake_host_live_maps(&f.fh), 0);
	CHECK(!f.vq.started);
	virtq_stop(&f.vq, &f.fh.host); /* twice is harmless */
	virtq_stop(NULL, &f.fh.host);
	fx_teardown(&f);
}

/* ---- well-formed chains ---- */

TEST(pop_empty_ring_returns_zero)
{
	struct fx f;

	fx_setup(&f, false, false);
	CHECK_EQ(pop(&f), 0);
	CHECK(!virtq_has_work(&f.vq));
	fx_teardown(&f);
}

TEST(pop_direct_chain_readable_then_writable)
{
	struct fx f;
	uint64_t hdr, data;

	fx_setup(&f, false, false);
	hdr = fake_alloc(&f.fh, 16, 16);
	data = fake_alloc(&f.fh, 513, 16);
	fake_desc_set(&f.vr, 5, hdr, 16, VRING_DESC_F_NEXT, 2);
	fake_desc_set(&f.vr, 2, data, 513, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f.vr, 5);
	CHECK(virtq_has_work(&f.vq));
	CHECK_EQ(pop(&f), 1);
	CHECK_EQ(f.chain->head, 5);
	CHECK_EQ(f.chain->n_out, 1);
	CHECK_EQ(f.chain->n_in, 1);
	CHECK_EQ(f.chain->out_bytes, 16);
	CHECK_EQ(f.chain->in_bytes, 513);
	CHECK(!f.chain->truncated);
	CHECK(f.chain->iov[0].iov_base == fake_ptr(&f.fh, hdr));
	CHECK_EQ(f.chain->iov[0].iov_len, 16);
	CHECK(f.chain->iov[1].iov_base == fake_ptr(&f.fh, data));
	CHECK_EQ(f.chain->iov[1].iov_len, 513);
	CHECK_EQ(f.vq.inflight, 1);
	CHECK_EQ(pop(&f), 0);
	virtq_push(&f.vq, &f.fh.host, f.chain, 0);
	fx_teardown(&f);
}

TEST(push_publishes_used_element_and_releases_mappings)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 3, buf, 64, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f.vr, 3);
	CHECK_EQ(pop(&f), 1);
	CHECK_EQ(fake_host_live_maps(&f.fh), 4);
	virtq_push(&f.vq, &f.fh.host, f.chain, 40);
	CHECK_EQ(fake_host_live_maps(&f.fh), 3);
	CHECK_EQ(fake_vring_used_idx(&f.vr), 1);
	CHECK_EQ(fake_vring_used_id(&f.vr, 0), 3);
	CHECK_EQ(fake_vring_used_len(&f.vr, 0), 40);
	CHECK_EQ(f.vq.inflight, 0);
	fx_teardown(&f);
}

TEST(push_clamps_written_to_writable_bytes)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 10, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f.vr, 0);
	CHECK_EQ(pop(&f), 1);
	virtq_push(&f.vq, &f.fh.host, f.chain, 1000);
	CHECK_EQ(fake_vring_used_len(&f.vr, 0), 10);
	fx_teardown(&f);
}

TEST(chain_as_long_as_the_queue_is_accepted)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 4096, 16);
	for (uint16_t i = 0; i < QSZ; i++)
		fake_desc_set(&f.vr, i, buf + 16 * i, 16, i + 1 < QSZ ? VRING_DESC_F_NEXT : 0, i + 1);
	fake_vring_publish(&f.vr, 0);
	CHECK_EQ(pop(&f), 1);
	CHECK_EQ(f.chain->n_out, QSZ);
	virtq_push(&f.vq, &f.fh.host, f.chain, 0);
	fx_teardown(&f);
}

TEST(indirect_table_is_walked_and_released)
{
	struct fx f;
	uint64_t table, buf;

	fx_setup(&f, true, false);
	table = fake_alloc(&f.fh, 3 * 16, 16);
	buf = fake_alloc(&f.fh, 4096, 16);
	fake_table_set(&f.fh, table, 0, buf, 16, VRING_DESC_F_NEXT, 2);
	fake_table_set(&f.fh, table, 2, buf + 16, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	fake_table_set(&f.fh, table, 1, buf + 528, 1, VRING_DESC_F_WRITE, 0);
	/* WRITE on the table descriptor itself is ignored (§2.7.5.3.2) */
	fake_desc_set(&f.vr, 4, table, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f.vr, 4);
	CHECK_EQ(pop(&f), 1);
	CHECK_EQ(f.chain->head, 4);
	CHECK_EQ(f.chain->n_out, 1);
	CHECK_EQ(f.chain->n_in, 2);
	CHECK_EQ(f.chain->in_bytes, 513);
	CHECK(f.chain->iov[2].iov_base == fake_ptr(&f.fh, buf + 528));
	/* the table's own mapping is gone: rings + 3 buffers */
	CHECK_EQ(fake_host_live_maps(&f.fh), 6);
	virtq_push(&f.vq, &f.fh.host, f.chain, 513);
	fx_teardown(&f);
}

TEST(indirect_table_split_across_mappings_is_read_whole)
{
	struct fx f;
	uint64_t table, buf;

	fx_setup(&f, true, false);
	table = fake_alloc(&f.fh, 4096 + 64, 4096) + 4096 - 24; /* crosses a page */
	buf = fake_alloc(&f.fh, 64, 16);
	f.fh.split = 4096;
	fake_table_set(&f.fh, table, 0, buf, 16, VRING_DESC_F_NEXT, 1);
	fake_table_set(&f.fh, table, 1, buf + 16, 8, VRING_DESC_F_NEXT, 2);
	fake_table_set(&f.fh, table, 2, buf + 32, 1, VRING_DESC_F_WRITE, 0);
	fake_desc_set(&f.vr, 0, table, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&f.vr, 0);
	CHECK_EQ(pop(&f), 1);
	CHECK_EQ(f.chain->n_out, 2);
	CHECK_EQ(f.chain->n_in, 1);
	CHECK_EQ(f.chain->iov[1].iov_len, 8);
	virtq_push(&f.vq, &f.fh.host, f.chain, 1);
	fx_teardown(&f);
}

/* ---- hostile chains: each one breaks the device ---- */

TEST(avail_idx_moved_by_more_than_num)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	/* every slot holds a valid chain: only the index jump is wrong */
	for (uint16_t i = 0; i < QSZ; i++) {
		fake_desc_set(&f.vr, i, buf, 8, 0, 0);
		fake_vring_publish(&f.vr, i);
	}
	fake_vring_set_avail_idx(&f.vr, QSZ + 1);
	expect_corrupt(&f);
	fake_vring_set_avail_idx(&f.vr, 0x8000);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(avail_idx_moved_by_exactly_num_is_fine)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	for (uint16_t i = 0; i < QSZ; i++) {
		fake_desc_set(&f.vr, i, buf, 8, 0, 0);
		fake_vring_publish(&f.vr, i);
	}
	for (uint16_t i = 0; i < QSZ; i++) {
		CHECK_EQ(pop(&f), 1);
		CHECK_EQ(f.chain->head, i);
		virtq_push(&f.vq, &f.fh.host, f.chain, 0);
	}
	CHECK_EQ(pop(&f), 0);
	fx_teardown(&f);
}

TEST(more_chains_in_flight_than_the_queue_holds)
{
	struct fx f;
	uint64_t buf;
	struct virtq_chain *held = calloc(QSZ, sizeof(*held));

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 8, 0, 0);
	for (uint16_t i = 0; i < QSZ; i++) {
		fake_vring_publish(&f.vr, 0);
		CHECK_EQ(virtq_pop(&f.vq, &f.fh.host, &held[i]), 1);
	}
	/* the guest re-offers a head while num chains are still ours */
	fake_vring_publish(&f.vr, 0);
	CHECK_EQ(pop(&f), -EIO);
	for (uint16_t i = 0; i < QSZ; i++)
		virtq_chain_release(&f.fh.host, &held[i]);
	free(held);
	fx_teardown(&f);
}

TEST(head_out_of_range)
{
	struct fx f;

	fx_setup(&f, false, false);
	/* a plausible descriptor just past the table must not be reached */
	fake_table_set(&f.fh, f.vr.desc, QSZ, fake_alloc(&f.fh, 8, 8), 8, 0, 0);
	fake_vring_publish(&f.vr, QSZ);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(next_out_of_range)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 8, VRING_DESC_F_NEXT, QSZ);
	/* a plausible descriptor just past the table must not be reached */
	fake_table_set(&f.fh, f.vr.desc, QSZ, buf, 8, 0, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(direct_loop_is_caught)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 8, VRING_DESC_F_NEXT, 1);
	fake_desc_set(&f.vr, 1, buf, 8, VRING_DESC_F_NEXT, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(self_loop_is_caught)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 7, buf, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 7);
	fake_vring_publish(&f.vr, 7);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(loop_inside_indirect_table_is_caught)
{
	struct fx f;
	uint64_t table, buf;

	fx_setup(&f, true, false);
	table = fake_alloc(&f.fh, 4 * 16, 16);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_table_set(&f.fh, table, 0, buf, 8, VRING_DESC_F_NEXT, 1);
	fake_table_set(&f.fh, table, 1, buf, 8, VRING_DESC_F_NEXT, 2);
	fake_table_set(&f.fh, table, 2, buf, 8, VRING_DESC_F_NEXT, 1);
	fake_desc_set(&f.vr, 0, table, 4 * 16, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(indirect_table_longer_than_queue)
{
	struct fx f;
	uint64_t table, buf;

	fx_setup(&f, true, false);
	table = fake_alloc(&f.fh, (QSZ + 1) * 16, 16);
	buf = fake_alloc(&f.fh, 64, 16);
	for (uint16_t i = 0; i <= QSZ; i++)
		fake_table_set(&f.fh, table, i, buf, 8, i < QSZ ? VRING_DESC_F_NEXT : 0, i + 1);
	fake_desc_set(&f.vr, 0, table, (QSZ + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(indirect_next_beyond_table)
{
	struct fx f;
	uint64_t table, buf;

	fx_setup(&f, true, false);
	table = fake_alloc(&f.fh, 3 * 16, 16);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_table_set(&f.fh, table, 0, buf, 8, VRING_DESC_F_NEXT, 2); /* table has 2 */
	fake_table_set(&f.fh, table, 2, buf, 8, 0, 0);                 /* beyond its length */
	fake_desc_set(&f.vr, 0, table, 2 * 16, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(nested_indirect)
{
	struct fx f;
	uint64_t table, inner, buf;

	fx_setup(&f, true, false);
	table = fake_alloc(&f.fh, 2 * 16, 16);
	inner = fake_alloc(&f.fh, 16, 16);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_table_set(&f.fh, inner, 0, buf, 8, 0, 0);
	fake_table_set(&f.fh, table, 0, buf, 8, VRING_DESC_F_NEXT, 1);
	fake_table_set(&f.fh, table, 1, inner, 16, VRING_DESC_F_INDIRECT, 0);
	fake_desc_set(&f.vr, 0, table, 2 * 16, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(indirect_without_the_feature)
{
	struct fx f;
	uint64_t table, buf;

	fx_setup(&f, false, false);
	table = fake_alloc(&f.fh, 16, 16);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_table_set(&f.fh, table, 0, buf, 8, 0, 0);
	fake_desc_set(&f.vr, 0, table, 16, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(indirect_length_not_multiple_of_16)
{
	struct fx f;
	uint64_t table, buf;

	fx_setup(&f, true, false);
	table = fake_alloc(&f.fh, 64, 16);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_table_set(&f.fh, table, 0, buf, 8, 0, 0);
	fake_desc_set(&f.vr, 0, table, 24, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(indirect_length_zero)
{
	struct fx f;
	uint64_t table;

	fx_setup(&f, true, false);
	table = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, table, 0, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(indirect_with_next_flag)
{
	struct fx f;
	uint64_t table, buf;

	fx_setup(&f, true, false);
	table = fake_alloc(&f.fh, 16, 16);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_table_set(&f.fh, table, 0, buf, 8, 0, 0);
	fake_desc_set(&f.vr, 0, table, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	fake_desc_set(&f.vr, 1, buf, 8, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(indirect_behind_direct_descriptors)
{
	struct fx f;
	uint64_t table, buf;

	fx_setup(&f, true, false);
	table = fake_alloc(&f.fh, 16, 16);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_table_set(&f.fh, table, 0, buf, 8, 0, 0);
	fake_desc_set(&f.vr, 0, buf, 8, VRING_DESC_F_NEXT, 1);
	fake_desc_set(&f.vr, 1, table, 16, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(indirect_table_outside_ram)
{
	struct fx f;

	fx_setup(&f, true, false);
	fake_desc_set(&f.vr, 0, FAKE_RAM_BASE + RAM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(zero_length_buffer)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 16, VRING_DESC_F_NEXT, 1);
	fake_desc_set(&f.vr, 1, buf, 0, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(readable_after_writable)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	fake_desc_set(&f.vr, 1, buf + 16, 16, 0, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(buffer_outside_guest_ram)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 16, VRING_DESC_F_NEXT, 1);
	fake_desc_set(&f.vr, 1, 0x1000, 16, VRING_DESC_F_WRITE, 0); /* below RAM */
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	/* a readable one, with a good status buffer after it: still corruption */
	fake_desc_set(&f.vr, 2, 0x2000, 16, VRING_DESC_F_NEXT, 3);
	fake_desc_set(&f.vr, 3, buf, 1, VRING_DESC_F_WRITE, 0);
	fake_vring_set_avail_idx(&f.vr, 0);
	fake_vring_publish(&f.vr, 2);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(buffer_straddling_end_of_ram)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 16, VRING_DESC_F_NEXT, 1);
	fake_desc_set(&f.vr, 1, FAKE_RAM_BASE + RAM_SIZE - 8, 16, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(address_plus_length_overflows)
{
	struct fx f;

	fx_setup(&f, false, false);
	fake_desc_set(&f.vr, 0, 0xffffffffffffff00ull, 0x200, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

/* ---- mapping splits and host limits ---- */

TEST(buffer_split_at_mapping_boundaries)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 4 * 4096, 4096);
	f.fh.split = 4096;
	fake_desc_set(&f.vr, 0, buf + 100, 10000, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f.vr, 0);
	CHECK_EQ(pop(&f), 1);
	CHECK_EQ(f.chain->n_in, 3);
	CHECK_EQ(f.chain->iov[0].iov_len, 4096 - 100);
	CHECK_EQ(f.chain->iov[1].iov_len, 4096);
	CHECK_EQ(f.chain->iov[2].iov_len, 10000 - (4096 - 100) - 4096);
	CHECK(f.chain->iov[1].iov_base == fake_ptr(&f.fh, buf + 4096));
	CHECK_EQ(f.chain->n_tokens, 3);
	CHECK_EQ(f.chain->in_bytes, 10000);
	virtq_push(&f.vq, &f.fh.host, f.chain, 10000);
	fx_teardown(&f);
}

TEST(too_many_iovecs_truncates_to_the_status_byte)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 2048, 16);
	f.fh.split = 2; /* 2-byte mappings: 1200 bytes need 600 iovecs */
	fake_desc_set(&f.vr, 0, buf, 16, VRING_DESC_F_NEXT, 1);
	fake_desc_set(&f.vr, 1, buf + 16, 1200, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	fake_desc_set(&f.vr, 2, buf + 1300, 7, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f.vr, 0);
	CHECK_EQ(pop(&f), 1);
	CHECK(f.chain->truncated);
	CHECK_EQ(f.chain->n_out, 0);
	CHECK_EQ(f.chain->n_in, 1);
	CHECK_EQ(f.chain->iov[0].iov_len, 1);
	CHECK(f.chain->iov[0].iov_base == fake_ptr(&f.fh, buf + 1306));
	CHECK_EQ(fake_host_live_maps(&f.fh), 4);
	virtq_push(&f.vq, &f.fh.host, f.chain, 1);
	CHECK_EQ(fake_vring_used_len(&f.vr, 0), 1);
	fx_teardown(&f);
}

TEST(truncated_chain_still_validates_the_rest)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 2048, 16);
	f.fh.split = 2;
	fake_desc_set(&f.vr, 0, buf, 1200, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	fake_desc_set(&f.vr, 1, buf, 16, 0, 0); /* readable after writable */
	fake_vring_publish(&f.vr, 0);
	expect_corrupt(&f);
	fx_teardown(&f);
}

TEST(host_enomem_makes_a_request_error_not_corruption)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 16, 0, 0); /* no writable byte at all */
	fake_vring_publish(&f.vr, 0);
	f.fh.fail_enomem = true;
	CHECK_EQ(pop(&f), 1);
	CHECK(f.chain->truncated);
	CHECK_EQ(f.chain->n_in, 0);
	CHECK_EQ(f.chain->n_tokens, 0);
	virtq_push(&f.vq, &f.fh.host, f.chain, 0);
	CHECK_EQ(fake_vring_used_idx(&f.vr), 1);
	fx_teardown(&f);
}

/* ---- indices and EVENT_IDX ---- */

TEST(indices_wrap_around_65535)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, true);
	buf = fake_alloc(&f.fh, 64, 16);
	f.vq.last_avail_idx = 65534;
	f.vq.used_idx = 65534;
	fake_vring_set_avail_idx(&f.vr, 65534);
	for (uint16_t i = 0; i < 3; i++) {
		fake_desc_set(&f.vr, i, buf, 8, VRING_DESC_F_WRITE, 0);
		fake_vring_publish(&f.vr, i);
	}
	CHECK_EQ(f.vr.avail_idx, 1);
	for (uint16_t i = 0; i < 3; i++) {
		CHECK_EQ(pop(&f), 1);
		CHECK_EQ(f.chain->head, i);
		virtq_push(&f.vq, &f.fh.host, f.chain, 8);
	}
	CHECK_EQ(pop(&f), 0);
	CHECK_EQ(f.vq.last_avail_idx, 1);
	CHECK_EQ(fake_vring_used_idx(&f.vr), 1);
	CHECK_EQ(fake_vring_used_id(&f.vr, 65535), 1); /* slot 65535 % 8 */
	virtq_update_avail_event(&f.vq);
	CHECK_EQ(fake_vring_avail_event(&f.vr), 1);
	fx_teardown(&f);
}

TEST(vring_need_event_wraps)
{
	/* the interrupt is due when event_idx is in [old, new) modulo 2^16 */
	CHECK(vring_need_event(65535, 0, 65535));
	CHECK(vring_need_event(65534, 1, 65533));
	CHECK(!vring_need_event(1, 1, 65535));
	CHECK(vring_need_event(0, 1, 65535));
	CHECK(!vring_need_event(65533, 1, 65534));
	CHECK(!vring_need_event(5, 5, 5));
}

TEST(event_idx_notifies_only_when_used_event_is_crossed)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, true);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 8, VRING_DESC_F_WRITE, 0);
	f.vq.last_avail_idx = 65533;
	f.vq.used_idx = 65533;
	fake_vring_set_avail_idx(&f.vr, 65533);
	/* first decision always notifies (nothing signalled yet) */
	CHECK(virtq_should_notify(&f.vq));
	/* driver wants an interrupt after used entry 65535 (i.e. when used idx passes it) */
	fake_vring_set_used_event(&f.vr, 65535);
	for (int i = 0; i < 2; i++) {
		fake_vring_publish(&f.vr, 0);
		CHECK_EQ(pop(&f), 1);
		virtq_push(&f.vq, &f.fh.host, f.chain, 8);
		CHECK(!virtq_should_notify(&f.vq)); /* 65534, 65535: not yet */
	}
	fake_vring_publish(&f.vr, 0);
	CHECK_EQ(pop(&f), 1);
	virtq_push(&f.vq, &f.fh.host, f.chain, 8);
	CHECK_EQ(f.vq.used_idx, 0);
	CHECK(virtq_should_notify(&f.vq)); /* 65535 -> 0 crosses used_event */
	CHECK(!virtq_should_notify(&f.vq)); /* nothing new since */
	fx_teardown(&f);
}

TEST(no_event_idx_honours_no_interrupt_flag)
{
	struct fx f;

	fx_setup(&f, false, false);
	CHECK(virtq_should_notify(&f.vq));
	fake_vring_set_avail_flags(&f.vr, VRING_AVAIL_F_NO_INTERRUPT);
	CHECK(!virtq_should_notify(&f.vq));
	fx_teardown(&f);
}

TEST(avail_event_written_only_with_event_idx)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 8, 0, 0);
	fake_vring_publish(&f.vr, 0);
	CHECK_EQ(pop(&f), 1);
	virtq_update_avail_event(&f.vq);
	CHECK_EQ(fake_vring_avail_event(&f.vr), 0);
	virtq_push(&f.vq, &f.fh.host, f.chain, 0);
	fx_teardown(&f);

	fx_setup(&f, false, true);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 8, 0, 0);
	fake_vring_publish(&f.vr, 0);
	CHECK_EQ(pop(&f), 1);
	virtq_update_avail_event(&f.vq);
	CHECK_EQ(fake_vring_avail_event(&f.vr), 1);
	virtq_push(&f.vq, &f.fh.host, f.chain, 0);
	fx_teardown(&f);
}

TEST(stopped_queue_pops_nothing_and_push_only_releases)
{
	struct fx f;
	uint64_t buf;

	fx_setup(&f, false, false);
	buf = fake_alloc(&f.fh, 64, 16);
	fake_desc_set(&f.vr, 0, buf, 8, VRING_DESC_F_WRITE, 0);
	fake_vring_publish(&f.vr, 0);
	CHECK_EQ(pop(&f), 1);
	virtq_stop(&f.vq, &f.fh.host);
	CHECK_EQ(pop(&f), 0);
	CHECK(!virtq_has_work(&f.vq));
	virtq_push(&f.vq, &f.fh.host, f.chain, 8);
	CHECK_EQ(fake_vring_used_idx(&f.vr), 0);
	CHECK_EQ(fake_host_live_maps(&f.fh), 0);
	fx_teardown(&f);
}
