/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * src/xen/guestmem: the bucketed foreign-mapping cache, against fake
 * guest RAM (a memfd) whose foreign mappings are real shared mappings.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "../../src/xen/guestmem.h"
#include "../../src/xen/xen_handles.h"
#include "check.h"
#include "fake_xen.h"
#include "guest_limits.h"
#include "log.h"

#define DOMID 9
#define RAM UINT64_C(0x40000000)
#define BUCKET (UINT64_C(1) << GUESTMEM_BUCKET_SHIFT)
#define PAGE UINT64_C(4096)

static struct xen_handles xh;
static struct guestmem *gm;

/* 8 buckets of RAM at RAM, a cache of max_buckets. */
static void setup(uint32_t max_buckets)
{
	fake_xen_reset();
	log_setup(LOG_TO_STDERR, LOG_LVL_DEBUG);
	fake_ram_add(RAM, 8 * BUCKET);
	CHECK_EQ(xen_handles_open(&xh), 0);
	gm = NULL;
	CHECK_EQ(guestmem_create(&xh, DOMID, "dom9", max_buckets, &gm), 0);
}

/* Everything returned and unmapped, with the right page counts. */
static void teardown(void)
{
	guestmem_destroy(gm);
	gm = NULL;
	CHECK_EQ(fake_live_maps(), 0);
	CHECK_EQ(fake_bad_unmaps(), 0);
	xen_handles_close(&xh);
}

static struct guest_span map_ok(uint64_t gpa, uint64_t len, unsigned flags)
{
	struct guest_span s;

	CHECK_EQ(guestmem_map(gm, gpa, len, flags, &s), 0);
	CHECK(s.ptr != NULL);
	CHECK(s.len >= 1 && s.len <= len);
	return s;
}

static struct guestmem_stats stats(void)
{
	struct guestmem_stats st;

	guestmem_get_stats(gm, &st);
	return st;
}

TEST(map_is_real_guest_memory)
{
	struct guest_span s;

	setup(4);
	s = map_ok(RAM + 0x1234, 16, GUEST_MAP_WRITE);
	CHECK_EQ(s.len, 16);
	memcpy(s.ptr, "hello, guest RAM", 16);
	CHECK(memcmp(fake_ram_ptr(RAM + 0x1234), "hello, guest RAM", 16) == 0);
	memcpy(fake_ram_ptr(RAM + 0x1234), "from the guest..", 16);
	CHECK(memcmp(s.ptr, "from the guest..", 16) == 0);
	/* The whole bucket, read-write, with a per-page error array. */
	CHECK_EQ(fake_nth(FAKE_MAP, 0)->a[0], DOMID);
	CHECK_EQ(fake_nth(FAKE_MAP, 0)->a[1], PROT_READ | PROT_WRITE);
	CHECK_EQ(fake_nth(FAKE_MAP, 0)->a[2], BUCKET / PAGE);
	CHECK_EQ_U64(fake_nth(FAKE_MAP, 0)->a[3], RAM / PAGE);
	CHECK_EQ(fake_nth(FAKE_MAP, 0)->a[4], 1);
	guestmem_unmap(gm, s.token);
	teardown();
}

TEST(same_bucket_is_a_hit_without_a_second_map)
{
	struct guest_span a, b;

	setup(4);
	a = map_ok(RAM + 0x100, 64, 0);
	b = map_ok(RAM + BUCKET - PAGE, 64, GUEST_MAP_WRITE);
	CHECK_EQ(fake_count(FAKE_MAP), 1);
	CHECK(a.token == b.token);
	CHECK((uint8_t *)b.ptr - (uint8_t *)a.ptr == (long)(BUCKET - PAGE - 0x100));
	CHECK_EQ(stats().hits, 1);
	CHECK_EQ(stats().misses, 1);
	CHECK_EQ(stats().buckets_pinned, 1);
	guestmem_unmap(gm, a.token);
	CHECK_EQ(stats().buckets_pinned, 1); /* still pinned by b */
	guestmem_unmap(gm, b.token);
	CHECK_EQ(stats().buckets_pinned, 0);
	/* Released but cached: still no second map. */
	b = map_ok(RAM + 0x2000, 8, 0);
	CHECK_EQ(fake_count(FAKE_MAP), 1);
	CHECK_EQ(fake_count(FAKE_UNMAP), 0);
	guestmem_unmap(gm, b.token);
	teardown();
}

TEST(span_is_clamped_at_bucket_end)
{
	struct guest_span a, b;

	setup(4);
	a = map_ok(RAM + BUCKET - 100, 4096, 0);
	CHECK_EQ(a.len, 100);
	b = map_ok(RAM + BUCKET, 4096 - 100, 0);
	CHECK_EQ(b.len, 4096 - 100);
	CHECK(a.token != b.token);
	CHECK_EQ(fake_count(FAKE_MAP), 2);
	CHECK_EQ_U64(fake_nth(FAKE_MAP, 1)->a[3], (RAM + BUCKET) / PAGE);
	guestmem_unmap(gm, a.token);
	guestmem_unmap(gm, b.token);
	teardown();
}

TEST(len_shorter_than_bucket_is_exact)
{
	struct guest_span s;

	setup(4);
	s = map_ok(RAM + 3 * PAGE + 7, 2 * PAGE, 0); /* crosses pages, not the bucket */
	CHECK_EQ(s.len, 2 * PAGE);
	guestmem_unmap(gm, s.token);
	teardown();
}

TEST(invalid_pages_give_efault_and_partial_runs)
{
	struct guest_span first, s;
	uint64_t hole = UINT64_C(0x80000000);

	fake_xen_reset();
	log_setup(LOG_TO_STDERR, LOG_LVL_DEBUG);
	/* RAM pages 0-2 and 5-255 of the bucket at hole; pages 3 and 4 are not RAM. */
	fake_ram_add(hole, 3 * PAGE);
	fake_ram_add(hole + 5 * PAGE, BUCKET - 5 * PAGE);
	CHECK_EQ(xen_handles_open(&xh), 0);
	CHECK_EQ(guestmem_create(&xh, DOMID, "dom9", 4, &gm), 0);

	first = map_ok(hole + PAGE + 8, 16 * PAGE, GUEST_MAP_WRITE);
	CHECK_EQ(first.len, 2 * PAGE - 8); /* stops before page 3 */
	CHECK_EQ(guestmem_map(gm, hole + 3 * PAGE, 16, 0, &s), -EFAULT);
	CHECK(s.ptr == NULL && s.token == NULL);
	CHECK_EQ(guestmem_map(gm, hole + 4 * PAGE + 4095, 1, 0, &s), -EFAULT);
	CHECK_EQ(stats().buckets_pinned, 1);
	s = map_ok(hole + 5 * PAGE, 8, 0);
	CHECK_EQ(s.len, 8);
	s = map_ok(hole + 5 * PAGE, BUCKET, 0);
	CHECK_EQ(s.len, BUCKET - 5 * PAGE); /* run to the bucket end */
	CHECK_EQ(fake_count(FAKE_MAP), 1);  /* validity is cached */
	guestmem_unmap(gm, s.token);
	guestmem_unmap(gm, s.token);
	guestmem_unmap(gm, first.token);
	CHECK_EQ(stats().buckets_pinned, 0);
	teardown();
}

TEST(bucket_outside_ram_is_efault_and_not_cached)
{
	struct guest_span s;

	setup(4);
	CHECK_EQ(guestmem_map(gm, UINT64_C(0x1000000000), 8, 0, &s), -EFAULT);
	CHECK(s.ptr == NULL && s.token == NULL);
	CHECK_EQ(stats().buckets_mapped, 0);
	CHECK_EQ(fake_live_maps(), 0);
	teardown();
}

TEST(lru_evicts_least_recently_released)
{
	struct guest_span b0, b1, b2;
	void *va1;

	setup(2);
	b0 = map_ok(RAM, 8, 0);
	b1 = map_ok(RAM + BUCKET, 8, 0);
	va1 = (void *)(uintptr_t)fake_nth(FAKE_MAP, 1)->a[5];
	guestmem_unmap(gm, b1.token);
	guestmem_unmap(gm, b0.token); /* b0 released last: b1 is least recent */
	b2 = map_ok(RAM + 2 * BUCKET, 8, 0);
	CHECK_EQ(fake_count(FAKE_UNMAP), 1);
	CHECK((void *)(uintptr_t)fake_nth(FAKE_UNMAP, 0)->a[0] == va1);
	CHECK_EQ(fake_nth(FAKE_UNMAP, 0)->a[1], BUCKET / PAGE);
	CHECK_EQ(stats().evictions, 1);
	CHECK_EQ(stats().buckets_mapped, 2);
	/* b0 survived: a hit. */
	b0 = map_ok(RAM + 16, 8, 0);
	CHECK_EQ(fake_count(FAKE_MAP), 3);
	guestmem_unmap(gm, b0.token);
	guestmem_unmap(gm, b2.token);
	teardown();
}

TEST(hit_refreshes_lru_position)
{
	struct guest_span a, b, c;

	setup(2);
	a = map_ok(RAM, 8, 0);
	guestmem_unmap(gm, a.token);
	b = map_ok(RAM + BUCKET, 8, 0);
	guestmem_unmap(gm, b.token);
	a = map_ok(RAM + 64, 8, 0); /* a used again: now b is the LRU one */
	guestmem_unmap(gm, a.token);
	c = map_ok(RAM + 2 * BUCKET, 8, 0);
	CHECK((void *)(uintptr_t)fake_nth(FAKE_UNMAP, 0)->a[0] ==
	      (void *)(uintptr_t)fake_nth(FAKE_MAP, 1)->a[5]);
	guestmem_unmap(gm, c.token);
	teardown();
}

TEST(pinned_buckets_are_never_evicted)
{
	struct guest_span a, b, c;
	struct guest_span s;

	setup(2);
	a = map_ok(RAM, 8, GUEST_MAP_WRITE);
	b = map_ok(RAM + BUCKET, 8, GUEST_MAP_WRITE);
	fake_log_capture_begin();
	CHECK_EQ(guestmem_map(gm, RAM + 2 * BUCKET, 8, 0, &s), -ENOMEM);
	fake_log_capture_end();
	CHECK_EQ(fake_count(FAKE_UNMAP), 0);
	CHECK_EQ(fake_count(FAKE_MAP), 2);
	CHECK_EQ(stats().buckets_pinned, 2);
	/* Both pinned spans still work. */
	memcpy(a.ptr, "AAAAAAAA", 8);
	memcpy(b.ptr, "BBBBBBBB", 8);
	CHECK(memcmp(fake_ram_ptr(RAM), "AAAAAAAA", 8) == 0);
	CHECK(memcmp(fake_ram_ptr(RAM + BUCKET), "BBBBBBBB", 8) == 0);
	/* Release one: now there is room. */
	guestmem_unmap(gm, b.token);
	c = map_ok(RAM + 2 * BUCKET, 8, 0);
	CHECK_EQ(fake_count(FAKE_UNMAP), 1);
	CHECK(memcmp(a.ptr, "AAAAAAAA", 8) == 0);
	guestmem_unmap(gm, a.token);
	guestmem_unmap(gm, c.token);
	teardown();
}

TEST(invalidate_drops_unpinned_now_and_pinned_on_release)
{
	struct guest_span held, again;
	void *held_va;

	setup(4);
	again = map_ok(RAM, 8, 0);
	guestmem_unmap(gm, again.token); /* bucket 0: cached, unpinned */
	held = map_ok(RAM + BUCKET, 8, GUEST_MAP_WRITE);
	held_va = (void *)(uintptr_t)fake_nth(FAKE_MAP, 1)->a[5];
	guestmem_invalidate(gm);
	CHECK_EQ(stats().invalidations, 1);
	CHECK_EQ(fake_count(FAKE_UNMAP), 1); /* bucket 0 now */
	CHECK((void *)(uintptr_t)fake_nth(FAKE_UNMAP, 0)->a[0] != held_va);
	CHECK_EQ(stats().buckets_mapped, 1);
	/* The held span still works across the invalidation. */
	memcpy(held.ptr, "still ok", 8);
	CHECK(memcmp(fake_ram_ptr(RAM + BUCKET), "still ok", 8) == 0);
	/* The stale bucket is never handed out again: a fresh mapping. */
	again = map_ok(RAM + BUCKET + 8, 8, 0);
	CHECK(again.token != held.token);
	CHECK_EQ(fake_count(FAKE_MAP), 3);
	CHECK_EQ(stats().buckets_mapped, 2);
	/* Releasing the stale span unmaps it at once. */
	guestmem_unmap(gm, held.token);
	CHECK_EQ(fake_count(FAKE_UNMAP), 2);
	CHECK((void *)(uintptr_t)fake_nth(FAKE_UNMAP, 1)->a[0] == held_va);
	CHECK_EQ(stats().buckets_mapped, 1);
	guestmem_unmap(gm, again.token);
	CHECK_EQ(fake_count(FAKE_UNMAP), 2); /* a fresh bucket stays cached */
	teardown();
}

TEST(stale_buckets_still_count_and_free_their_record)
{
	struct guest_span a, b;

	setup(1);
	a = map_ok(RAM, 8, 0);
	guestmem_invalidate(gm);
	/* The only record is held by a stale pinned bucket. */
	fake_log_capture_begin();
	CHECK_EQ(guestmem_map(gm, RAM, 8, 0, &b), -ENOMEM);
	fake_log_capture_end();
	guestmem_unmap(gm, a.token);
	b = map_ok(RAM, 8, 0);
	CHECK_EQ(fake_count(FAKE_MAP), 2);
	guestmem_unmap(gm, b.token);
	teardown();
}

TEST(whole_mapping_is_exact_and_spans_buckets)
{
	struct guest_span w;
	uint64_t gpa = RAM + BUCKET - 0x800;
	const struct fake_call_rec *m;

	setup(4);
	w = map_ok(gpa, 0x1000, GUEST_MAP_WHOLE | GUEST_MAP_WRITE);
	CHECK_EQ(w.len, 0x1000);
	m = fake_nth(FAKE_MAP, 0);
	CHECK_EQ(m->a[2], 2); /* two pages, not two buckets */
	CHECK_EQ_U64(m->a[3], gpa / PAGE);
	CHECK_EQ(m->a[1], PROT_READ | PROT_WRITE);
	CHECK_EQ(stats().whole_mapped, 1);
	CHECK_EQ(stats().buckets_mapped, 0);
	/* Contiguous across the bucket boundary. */
	memset(w.ptr, 0x5a, 0x1000);
	CHECK_EQ(*(uint8_t *)fake_ram_ptr(gpa), 0x5a);
	CHECK_EQ(*(uint8_t *)fake_ram_ptr(RAM + BUCKET + 0x7ff), 0x5a);
	CHECK_EQ(*(uint8_t *)fake_ram_ptr(RAM + BUCKET + 0x800), 0);
	guestmem_unmap(gm, w.token);
	CHECK_EQ(fake_nth(FAKE_UNMAP, 0)->a[1], 2);
	CHECK_EQ(fake_nth(FAKE_UNMAP, 0)->a[2], 1); /* exactly the mapping */
	CHECK_EQ(stats().whole_mapped, 0);
	teardown();
}

TEST(whole_page_count_for_unaligned_ranges)
{
	static const struct {
		uint64_t off, len, pages;
	} cases[] = {
		{ 0, 0x1000, 1 },     { 1, 0x1000, 2 },  { 0xff0, 0x20, 2 }, { 0xfff, 1, 1 },
		{ 0xfff, 2, 2 },      { 0, 1, 1 },       { 0x10, 0x2ff0, 3 }, { 0x10, 0x2ff1, 4 },
	};

	setup(4);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct guest_span w = map_ok(RAM + 0x10000 + cases[i].off, cases[i].len,
					     GUEST_MAP_WHOLE);

		CHECK_EQ(w.len, cases[i].len);
		CHECK_EQ(fake_nth(FAKE_MAP, i)->a[2], cases[i].pages);
		guestmem_unmap(gm, w.token);
		CHECK_EQ(fake_nth(FAKE_UNMAP, i)->a[1], cases[i].pages);
	}
	CHECK_EQ(fake_bad_unmaps(), 0);
	teardown();
}

TEST(whole_mapping_needs_every_page)
{
	struct guest_span s;

	setup(4);
	/* Ends one page past the end of RAM. */
	CHECK_EQ(guestmem_map(gm, RAM + 8 * BUCKET - 0x800, 0x1000, GUEST_MAP_WHOLE, &s),
		 -EFAULT);
	CHECK_EQ(fake_live_maps(), 0);
	CHECK_EQ(stats().whole_mapped, 0);
	fake_log_capture_begin();
	CHECK_EQ(guestmem_map(gm, RAM, (uint64_t)(GUESTMEM_WHOLE_MAX_PAGES + 1) * PAGE,
			      GUEST_MAP_WHOLE, &s),
		 -ENOMEM);
	CHECK_EQ(guestmem_map(gm, RAM + 1, (uint64_t)GUESTMEM_WHOLE_MAX_PAGES * PAGE,
			      GUEST_MAP_WHOLE, &s),
		 -ENOMEM);
	fake_log_capture_end();
	CHECK_EQ(fake_count(FAKE_MAP), 1);
	teardown();
}

TEST(whole_mappings_are_kept_across_invalidate)
{
	struct guest_span w;

	setup(4);
	w = map_ok(RAM + 0x3000, 0x2000, GUEST_MAP_WHOLE | GUEST_MAP_WRITE);
	guestmem_invalidate(gm);
	CHECK_EQ(fake_count(FAKE_UNMAP), 0);
	CHECK_EQ(stats().whole_mapped, 1);
	memcpy(w.ptr, "vring", 5);
	CHECK(memcmp(fake_ram_ptr(RAM + 0x3000), "vring", 5) == 0);
	guestmem_unmap(gm, w.token);
	CHECK_EQ(fake_count(FAKE_UNMAP), 1);
	teardown();
}

TEST(whole_pool_is_bounded)
{
	static struct guest_span spans[GUESTMEM_WHOLE_MAX_SPANS];
	struct guest_span s;

	setup(4);
	for (unsigned i = 0; i < GUESTMEM_WHOLE_MAX_SPANS; i++)
		spans[i] = map_ok(RAM + (uint64_t)(i % 512) * PAGE, 64, GUEST_MAP_WHOLE);
	fake_log_capture_begin();
	CHECK_EQ(guestmem_map(gm, RAM, 64, GUEST_MAP_WHOLE, &s), -ENOMEM);
	fake_log_capture_end();
	guestmem_unmap(gm, spans[7].token);
	spans[7] = map_ok(RAM, 64, GUEST_MAP_WHOLE);
	for (unsigned i = 0; i < GUESTMEM_WHOLE_MAX_SPANS; i++)
		guestmem_unmap(gm, spans[i].token);
	CHECK_EQ(stats().whole_mapped, 0);
	teardown();
}

TEST(wrapping_range_is_efault)
{
	struct guest_span s;

	setup(4);
	CHECK_EQ(guestmem_map(gm, UINT64_MAX - 10, 100, 0, &s), -EFAULT);
	CHECK_EQ(guestmem_map(gm, UINT64_MAX - 0xfff, 0x1000, 0, &s), -EFAULT);
	CHECK_EQ(guestmem_map(gm, 1, UINT64_MAX, GUEST_MAP_WHOLE, &s), -EFAULT);
	CHECK_EQ(guestmem_map(gm, RAM, 0, 0, &s), -EINVAL);
	CHECK_EQ(fake_count(FAKE_MAP), 0);
	teardown();
}

TEST(huge_whole_length_does_not_overflow)
{
	struct guest_span s;

	setup(4);
	fake_log_capture_begin();
	CHECK_EQ(guestmem_map(gm, RAM + 0xfff, UINT64_MAX - RAM - 0x1000, GUEST_MAP_WHOLE, &s),
		 -ENOMEM);
	fake_log_capture_end();
	CHECK_EQ(fake_count(FAKE_MAP), 0);
	teardown();
}

TEST(read_only_memory_refuses_device_writes)
{
	struct guest_span s;

	setup(4);
	fake_ram_set_readonly(RAM + 2 * BUCKET, BUCKET);
	fake_log_capture_begin();
	s = map_ok(RAM + 2 * BUCKET + 16, 8, 0);
	fake_log_capture_end();
	CHECK_EQ(fake_count(FAKE_MAP), 2); /* read-write failed everywhere: retried read-only */
	CHECK_EQ(fake_nth(FAKE_MAP, 0)->a[1], PROT_READ | PROT_WRITE);
	CHECK_EQ(fake_nth(FAKE_MAP, 1)->a[1], PROT_READ);
	CHECK_EQ(*(uint8_t *)s.ptr, 0);
	guestmem_unmap(gm, s.token);
	CHECK_EQ(guestmem_map(gm, RAM + 2 * BUCKET + 16, 8, GUEST_MAP_WRITE, &s), -EFAULT);
	CHECK_EQ(fake_count(FAKE_MAP), 2);
	CHECK_EQ(stats().buckets_pinned, 0);
	teardown();
}

TEST(map_failure_is_enomem)
{
	struct guest_span s;

	setup(4);
	fake_fail(FAKE_MAP, ENOMEM, 0);
	fake_log_capture_begin();
	CHECK_EQ(guestmem_map(gm, RAM, 8, 0, &s), -ENOMEM);
	CHECK_EQ(guestmem_map(gm, RAM, 8, GUEST_MAP_WHOLE, &s), -ENOMEM);
	fake_log_capture_end();
	fake_fail(FAKE_MAP, 0, 0);
	CHECK_EQ(stats().buckets_mapped, 0);
	s = map_ok(RAM, 8, 0); /* the record came back */
	guestmem_unmap(gm, s.token);
	teardown();
}

TEST(foreign_tokens_are_refused)
{
	struct guest_span s;
	int junk;

	setup(4);
	s = map_ok(RAM, 8, 0);
	fake_log_capture_begin();
	guestmem_unmap(gm, &junk);
	guestmem_unmap(gm, (uint8_t *)s.token + 1);
	guestmem_unmap(gm, s.token);
	guestmem_unmap(gm, s.token); /* twice */
	CHECK(strstr(fake_log_capture_end(), "BUG"));
	guestmem_unmap(gm, NULL);
	CHECK_EQ(stats().buckets_pinned, 0);
	CHECK_EQ(stats().buckets_mapped, 1);
	teardown();
}

TEST(max_buckets_is_bounded)
{
	struct guestmem *g2 = NULL;

	fake_xen_reset();
	CHECK_EQ(xen_handles_open(&xh), 0);
	CHECK_EQ(guestmem_create(&xh, DOMID, "dom9", GUESTMEM_MAX_BUCKETS + 1, &g2), -EINVAL);
	CHECK(g2 == NULL);
	CHECK_EQ(guestmem_create(&xh, DOMID, "dom9", 0, &g2), 0); /* 0: the default */
	guestmem_destroy(g2);
	guestmem_destroy(NULL);
	xen_handles_close(&xh);
}

TEST(destroy_unmaps_everything)
{
	struct guest_span a, w;

	setup(4);
	a = map_ok(RAM, 8, 0);
	guestmem_unmap(gm, a.token);
	map_ok(RAM + BUCKET, 8, 0); /* leaked by a buggy device */
	w = map_ok(RAM + 0x5000, 8, GUEST_MAP_WHOLE);
	(void)w;
	fake_log_capture_begin();
	guestmem_destroy(gm);
	gm = NULL;
	CHECK(strstr(fake_log_capture_end(), "2 guest memory spans still mapped"));
	CHECK_EQ(fake_live_maps(), 0);
	CHECK_EQ(fake_bad_unmaps(), 0);
	xen_handles_close(&xh);
}
