/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attack suite, the Xen side and floods: ioreqs of bad sizes, with
 * count > 1, with data_is_ptr, of types the daemon does not handle, and
 * accesses running from one disk's window into the next; then floods
 * from the attacking guest (notifications, bad register accesses, 10,000
 * bad requests, ioreqs from every vCPU at once, p2m invalidations during
 * I/O). Every ioreq is answered and has no effect; reads the daemon does
 * not serve read 0; the good guests stay within their latency bound and
 * guest-triggered log lines stay within ATK_FLOOD_LOG_MAX per flood
 * (GUEST_LOG_BURST per GUEST_LOG_INTERVAL_S per device).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "attack_env.h"
#include "guest_limits.h"

static const uint8_t S_OK = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
#define JUNK 0x1122334455667788ull

static void finish(struct atk *a)
{
	atk_recover(a);
	atk_end(a);
}

/* A verified write and read through A's open driver, without a reset. */
static void still_serves(struct atk *a)
{
	uint8_t buf[4096], back[4096], st;

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 3 + 1);
	CHECK_EQ(gblk_write(&a->a, ATK_VCPU, ATK_SCRATCH + 32, buf, sizeof(buf), &st), 0);
	CHECK_EQ(st, VIRTIO_BLK_S_OK);
	CHECK_EQ(gblk_read(&a->a, ATK_VCPU, ATK_SCRATCH + 32, back, sizeof(back), &st), 0);
	CHECK_EQ(st, VIRTIO_BLK_S_OK);
	CHECK(memcmp(buf, back, sizeof(buf)) == 0);
	CHECK_EQ(atk_status(a), S_OK);
}

/*
 * Send req; the daemon must answer it (Xen would not route what no server
 * claims: -EFAULT from the simulator is accepted only when may_fault).
 * Returns the answer's data.
 */
static uint64_t send(struct atk *a, unsigned vcpu, ioreq_t req, bool may_fault)
{
	ioreq_t resp = { 0 };
	int rc = guest_vm_ioreq(&a->vm1, vcpu, &req, &resp);

	if (rc == -EFAULT && may_fault)
		return 0;
	if (rc)
		check_fail(__FILE__, __LINE__,
			   "ioreq type %u size %u count %u at 0x%llx: %s", req.type, req.size,
			   req.count, (unsigned long long)req.addr, strerror(-rc));
	return resp.data;
}

/* Status = 0 (a reset) and QueueNotify, in every malformed way: no effect. */
TEST(ioreq_bad_sizes)
{
	struct atk *a = atk_begin("ioreq_size", NULL);
	static const uint32_t sizes[] = { 0, 3, 5, 6, 7, 9, 16, 32, 64, 0x100 };
	static const uint32_t offs[] = { VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_NOTIFY, 0x100 };

	atk_open_a(a, NULL);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (unsigned j = 0; j < sizeof(offs) / sizeof(offs[0]); j++) {
			ioreq_t req = { .addr = ATK_BASE + offs[j], .size = sizes[i], .count = 1,
					.type = IOREQ_TYPE_COPY, .dir = IOREQ_WRITE, .data = 0 };
			bool fault = offs[j] + (sizes[i] ? sizes[i] : 1) > 0x400;

			send(a, ATK_VCPU, req, fault);
			req.dir = IOREQ_READ;
			req.data = JUNK;
			CHECK_EQ_U64(send(a, ATK_VCPU, req, fault), 0);
		}
	}
	still_serves(a);
	finish(a);
}

TEST(ioreq_count_above_one)
{
	struct atk *a = atk_begin("ioreq_count", NULL);
	static const uint32_t counts[] = { 0, 2, 3, 16, 64 };

	atk_open_a(a, NULL);
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		for (unsigned df = 0; df < 2; df++) {
			ioreq_t req = { .addr = ATK_BASE + VIRTIO_MMIO_STATUS, .size = 4,
					.count = counts[i], .df = df, .type = IOREQ_TYPE_COPY,
					.dir = IOREQ_WRITE, .data = 0 };
			/* Backwards from Status, 64 elements leave the windows: not routed. */
			bool fault = df && counts[i] > 1 &&
				     (counts[i] - 1) * 4u > VIRTIO_MMIO_STATUS;

			send(a, ATK_VCPU, req, fault);
			req.dir = IOREQ_READ;
			req.data = JUNK;
			CHECK_EQ_U64(send(a, ATK_VCPU, req, fault), 0);
		}
	}
	still_serves(a);
	finish(a);
}

/* data is a guest address the daemon must neither read nor write. */
TEST(ioreq_data_is_ptr)
{
	struct atk *a = atk_begin("ioreq_ptr", NULL);
	uint64_t gpa;
	uint8_t *page = atk_alloc(a, 4096, 4096, &gpa);

	atk_open_a(a, NULL);
	for (unsigned i = 0; i < 3; i++) {
		ioreq_t req = { .addr = ATK_BASE + VIRTIO_MMIO_STATUS, .size = 4, .count = 1 + i,
				.data_is_ptr = 1, .type = IOREQ_TYPE_COPY, .dir = IOREQ_WRITE,
				.data = gpa };

		memset(page, 0, 4096); /* a Status of 0 if it were followed */
		send(a, ATK_VCPU, req, false);
		memset(page, 0xab, 4096);
		req.dir = IOREQ_READ;
		send(a, ATK_VCPU, req, false);
		for (unsigned k = 0; k < 4096; k++)
			if (page[k] != 0xab)
				check_fail(__FILE__, __LINE__, "guest page written at +%u", k);
	}
	still_serves(a);
	finish(a);
}

TEST(ioreq_types_not_handled)
{
	struct atk *a = atk_begin("ioreq_type", NULL);
	unsigned answered = 0;

	atk_open_a(a, NULL);
	for (unsigned type = 0; type < 256; type++) {
		ioreq_t req = { .addr = ATK_BASE + VIRTIO_MMIO_STATUS, .size = 4, .count = 1,
				.type = (uint8_t)type, .dir = IOREQ_WRITE, .data = 0 };

		if (type == IOREQ_TYPE_COPY || type == IOREQ_TYPE_INVALIDATE)
			continue;
		/* Port I/O is routed by port ranges, of which the daemon claims none. */
		send(a, ATK_VCPU, req, type == IOREQ_TYPE_PIO);
		req.dir = IOREQ_READ;
		req.data = JUNK;
		CHECK_EQ_U64(send(a, ATK_VCPU, req, type == IOREQ_TYPE_PIO), 0);
		answered++;
	}
	printf("# %u ioreq types answered without effect\n", answered);
	still_serves(a);
	finish(a);
}

/*
 * A's window ends where B's begins; Xen merges adjacent ranges of one
 * server, so an access running over the boundary reaches the daemon. It
 * belongs to neither disk: reads 0, writes nothing.
 */
TEST(access_straddling_two_windows)
{
	struct atk *a = atk_begin("straddle_windows", NULL);
	uint64_t v;

	atk_open_a(a, NULL);
	for (uint32_t back = 1; back < 8; back++) {
		for (unsigned w = 2; w <= 8; w *= 2) {
			if (back >= w)
				continue;
			CHECK_EQ(guest_vm_write(&a->vm1, ATK_VCPU, ATK_BASE_B - back, w, 0), 0);
			v = JUNK;
			CHECK_EQ(guest_vm_read(&a->vm1, ATK_VCPU, ATK_BASE_B - back, w, &v), 0);
			CHECK_EQ_U64(v, 0);
		}
	}
	CHECK_EQ(guest_vm_read(&a->vm1, ATK_VCPU, ATK_BASE_B, 4, &v), 0);
	CHECK_EQ_U64(v, 0x74726976); /* B's MagicValue, intact */
	/* Past B's end nothing claims it: Xen would not send it (a data abort). */
	CHECK_EQ(guest_vm_read(&a->vm1, ATK_VCPU, ATK_BASE_B + 0x1fc, 8, &v), -EFAULT);
	atomic_store(&a->vm1.mmio_faults, 0);
	CHECK(atk_log_has(a, "outside every window", 1000));
	still_serves(a);
	finish(a);
}

/*
 * Bug found by this suite: a read the daemon completes without effect
 * (unsupported size, count, or type) was answered with the request's own
 * data field, not 0: a read value not zero-extended to its size (the
 * protocol checker's complaint), and whatever Xen left in the slot handed
 * to the guest as a register value.
 */
TEST(bug_unserved_read_echoed_request_data)
{
	struct atk *a = atk_begin("bug_read_echo", NULL);
	static const ioreq_t reads[] = {
		{ .size = 3, .count = 1, .type = IOREQ_TYPE_COPY },
		{ .size = 4, .count = 2, .type = IOREQ_TYPE_COPY },
		{ .size = 1, .count = 1, .type = IOREQ_TYPE_PCI_CONFIG },
		{ .size = 2, .count = 1, .type = IOREQ_TYPE_TIMEOFFSET },
		{ .size = 4, .count = 1, .type = 0x5a },
	};

	for (unsigned i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		ioreq_t req = reads[i];

		req.addr = ATK_BASE + VIRTIO_MMIO_MAGIC_VALUE;
		req.dir = IOREQ_READ;
		req.data = JUNK;
		CHECK_EQ_U64(send(a, ATK_VCPU, req, false), 0);
		req.data = UINT64_MAX;
		CHECK_EQ_U64(send(a, ATK_VCPU, req, false), 0);
	}
	finish(a);
}

/* ---- floods ---- */

#define FLOOD 10000u

static void log_bounded(struct atk *a, const char *what, uint64_t t0)
{
	unsigned lines;

	atk_sleep_ms(50);
	lines = atk_log_since_mark(a);
	printf("# %s: %u log lines in %llu ms\n", what, lines,
	       (unsigned long long)(atk_now_ms() - t0));
	if (lines > ATK_FLOOD_LOG_MAX) {
		printf("# (bound %u: GUEST_LOG_BURST %u per %u s per device)\n", ATK_FLOOD_LOG_MAX,
		       GUEST_LOG_BURST, GUEST_LOG_INTERVAL_S);
		check_fail(__FILE__, __LINE__, "%s: %u log lines", what, lines);
	}
}

TEST(notify_flood)
{
	struct atk *a = atk_begin("notify_flood", NULL);
	uint64_t t0;

	atk_open_a(a, NULL);
	atk_log_mark(a);
	t0 = atk_now_ms();
	/* Half for the live queue with nothing new in it, half for queues that do not exist. */
	for (unsigned i = 0; i < FLOOD; i++)
		atk_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, i % 2 ? 0 : 1 + i % 7);
	log_bounded(a, "10000 notifications", t0);
	still_serves(a);
	finish(a);
}

TEST(bad_register_access_flood)
{
	struct atk *a = atk_begin("register_flood", NULL);
	uint64_t t0, v;

	atk_open_a(a, NULL);
	atk_log_mark(a);
	t0 = atk_now_ms();
	for (unsigned i = 0; i < FLOOD; i++) {
		switch (i % 4) {
		case 0: /* 2-byte register write */
			CHECK_EQ(guest_vm_write(&a->vm1, ATK_VCPU, ATK_BASE + 0x70, 2, 0), 0);
			break;
		case 1: /* unknown register */
			CHECK_EQ(guest_vm_write(&a->vm1, ATK_VCPU, ATK_BASE + 0x0c8, 4, i), 0);
			break;
		case 2: /* write to a read-only register */
			CHECK_EQ(guest_vm_write(&a->vm1, ATK_VCPU, ATK_BASE, 4, i), 0);
			break;
		default: /* config write */
			CHECK_EQ(guest_vm_read(&a->vm1, ATK_VCPU, ATK_BASE + 0x1f0, 8, &v), 0);
			CHECK_EQ(guest_vm_write(&a->vm1, ATK_VCPU, ATK_BASE + 0x100, 8, i), 0);
			break;
		}
	}
	log_bounded(a, "10000 bad register accesses", t0);
	still_serves(a);
	finish(a);
}

#define POOL 128u

TEST(bad_request_flood)
{
	struct atk *a = atk_begin("request_flood", NULL);
	struct gblk *b = atk_open_a(a, NULL);
	struct gblk_req *reqs[POOL];
	unsigned done = 0;
	uint64_t t0;

	for (unsigned i = 0; i < POOL; i++)
		CHECK_EQ(gblk_req_alloc(b, 512, 1, &reqs[i]), 0);
	atk_log_mark(a);
	t0 = atk_now_ms();
	while (done < FLOOD) {
		unsigned n = FLOOD - done < POOL ? FLOOD - done : POOL;

		for (unsigned i = 0; i < n; i++) {
			/* Beyond the capacity, or an unknown type: every one logged, if allowed. */
			gblk_req_set(reqs[i], i % 2 ? VIRTIO_BLK_T_IN : 0x7f00u,
				     ATK_SECTORS + done + i, 512, 1, GBLK_L_INDIRECT);
			CHECK_EQ(gblk_submit(b, 0, reqs[i]), 0);
		}
		CHECK_EQ(gblk_kick(b, ATK_VCPU, 0), 0);
		for (unsigned i = 0; i < n; i++) {
			CHECK_EQ(gblk_wait_req(b, reqs[i]), 0);
			CHECK_EQ(reqs[i]->result,
				 i % 2 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_UNSUPP);
		}
		done += n;
	}
	log_bounded(a, "10000 bad requests", t0);
	for (unsigned i = 0; i < POOL; i++)
		gblk_req_free(reqs[i]);
	still_serves(a);
	finish(a);
}

struct hammer {
	struct atk *a;
	unsigned vcpu;
	unsigned n, failed;
	int last_rc;
	pthread_t thread;
};

/* Malformed and legitimate accesses mixed, as fast as one vCPU can trap. */
static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct guest_vm *vm = &h->a->vm1;

	for (unsigned i = 0; i < 3000; i++) {
		ioreq_t req = { .addr = ATK_BASE + (i * 4u) % 0x200, .size = 1u << (i % 4),
				.count = 1 + i % 3, .type = IOREQ_TYPE_COPY,
				.dir = i % 2 ? IOREQ_READ : IOREQ_WRITE, .data = 0 };
		uint64_t v;
		int rc;

		if (req.addr + req.size * req.count > ATK_BASE + 0x400)
			req.count = 1;
		if (req.dir == IOREQ_WRITE && req.count == 1 && req.size == 4 &&
		    (req.addr & 0x1ff) == VIRTIO_MMIO_STATUS)
			req.data = S_OK; /* no resets: the point is the rate */
		rc = i % 5 ? guest_vm_ioreq(vm, h->vcpu, &req, NULL)
			   : guest_vm_read(vm, h->vcpu, ATK_BASE + VIRTIO_MMIO_STATUS, 4, &v);
		h->n++;
		if (rc) {
			h->failed++;
			h->last_rc = rc;
		}
	}
	return NULL;
}

TEST(ioreq_flood_from_every_vcpu)
{
	struct atk *a = atk_begin("ioreq_flood", NULL);
	static const unsigned vcpus[] = { 0, 4, 5 };
	struct hammer h[3];
	uint64_t t0;
	unsigned total = 0;

	atk_open_a(a, NULL);
	atk_log_mark(a);
	t0 = atk_now_ms();
	for (unsigned i = 0; i < 3; i++) {
		h[i] = (struct hammer){ .a = a, .vcpu = vcpus[i] };
		CHECK_EQ(pthread_create(&h[i].thread, NULL, hammer_main, &h[i]), 0);
	}
	for (unsigned i = 0; i < 3; i++)
		pthread_join(h[i].thread, NULL);
	for (unsigned i = 0; i < 3; i++) {
		if (h[i].failed)
			check_fail(__FILE__, __LINE__, "vCPU %u: %u of %u accesses failed (%s)",
				   h[i].vcpu, h[i].failed, h[i].n, strerror(-h[i].last_rc));
		total += h[i].n;
	}
	printf("# %u ioreqs from 3 vCPUs\n", total);
	log_bounded(a, "ioreq flood", t0);
	atk_wr(a, VIRTIO_MMIO_STATUS, S_OK);
	still_serves(a);
	finish(a);
}

struct invalidator {
	struct atk *a;
	atomic_bool stop;
	unsigned n;
	int rc;
	pthread_t thread;
};

static void *invalidate_main(void *arg)
{
	struct invalidator *v = arg;

	while (!atomic_load(&v->stop) && !v->rc) {
		v->rc = guest_vm_invalidate(&v->a->vm1);
		v->n++;
	}
	return NULL;
}

/*
 * The attacking guest changes its p2m as fast as it can (each change an
 * IOREQ_TYPE_INVALIDATE broadcast) while its own disks do I/O: A's
 * requests and B's verified workload stay correct.
 */
TEST(invalidate_flood_during_io)
{
	struct atk *a = atk_begin("invalidate_flood", NULL);
	struct gblk_opts o = { .irq_vcpu = ATK_VCPU_IRQ };
	struct invalidator inv = { .a = a };
	uint8_t *buf = malloc(65536), *back = malloc(65536), st;

	CHECK(buf && back);
	atk_open_a(a, &o);
	atomic_store(&inv.stop, false);
	CHECK_EQ(pthread_create(&inv.thread, NULL, invalidate_main, &inv), 0);
	for (unsigned i = 0; i < 100; i++) {
		uint64_t sector = ATK_SCRATCH + (i * 128u) % (ATK_SCRATCH_N - 128);

		for (unsigned k = 0; k < 65536; k++)
			buf[k] = (uint8_t)(k * 7 + i);
		CHECK_EQ(gblk_write(&a->a, 4, sector, buf, 65536, &st), 0);
		CHECK_EQ(st, VIRTIO_BLK_S_OK);
		CHECK_EQ(gblk_read(&a->a, 5, sector, back, 65536, &st), 0);
		CHECK_EQ(st, VIRTIO_BLK_S_OK);
		if (memcmp(buf, back, 65536))
			check_fail(__FILE__, __LINE__, "round %u: data differs", i);
	}
	atomic_store(&inv.stop, true);
	pthread_join(inv.thread, NULL);
	printf("# %u invalidations during 200 requests\n", inv.n);
	CHECK_EQ(inv.rc, 0);
	CHECK(inv.n > 10);
	free(buf);
	free(back);
	finish(a);
}
