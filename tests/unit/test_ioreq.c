/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * src/xen ioreq decoding, the IOREQ server lifecycle and the slot protocol,
 * driven through fake Xen libraries (fake_xen.c) and a fake event loop that
 * records the watched fd so a test can fire it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#include <xen/memory.h>

#include "../../src/loop.h"
#include "../../src/xen/ioreq.h"
#include "../../src/xen/ioreq_decode.h"
#include "../../src/xen/xen_handles.h"
#include "check.h"
#include "fake_xen.h"
#include "guest_limits.h"
#include "log.h"

#define DOMID 7
#define BASE UINT64_C(0x2000000)
#define WSIZE UINT64_C(0x200)

/* ---- a fake loop: remembers the one watch so tests can fire it ----------- */

struct loop {
	int unused;
};
static struct loop the_loop;
static struct loop_watch *watched;
static uint32_t watched_events;
static int loop_add_err;

int loop_add(struct loop *loop, struct loop_watch *w, int fd, uint32_t events)
{
	(void)loop;
	if (loop_add_err)
		return -loop_add_err;
	w->fd = fd;
	w->added = true;
	watched = w;
	watched_events = events;
	return 0;
}

void loop_del(struct loop *loop, struct loop_watch *w)
{
	(void)loop;
	if (!w->added)
		return;
	w->added = false;
	if (watched == w)
		watched = NULL;
}

static void fire(void)
{
	CHECK(watched != NULL);
	watched->cb(watched, EPOLLIN);
}

/* ---- a fake device behind a window -------------------------------------- */

struct fake_dev {
	uint64_t reg;         /* value reads return */
	unsigned reads, writes;
	uint64_t last_off, last_value;
	uint32_t last_size;
	int vcpu;             /* slot to inspect during the call */
	uint8_t state_seen;   /* slot state observed inside the handler */
};

static struct fake_dev dev;

static uint64_t dev_read(void *ctx, uint64_t offset, uint32_t size)
{
	struct fake_dev *d = ctx;

	d->reads++;
	d->last_off = offset;
	d->last_size = size;
	d->state_seen = fake_slot((unsigned)d->vcpu)->state;
	return d->reg;
}

static void dev_write(void *ctx, uint64_t offset, uint32_t size, uint64_t value)
{
	struct fake_dev *d = ctx;

	d->writes++;
	d->last_off = offset;
	d->last_size = size;
	d->last_value = value;
	d->state_seen = fake_slot((unsigned)d->vcpu)->state;
}

static const struct ioreq_window_ops dev_ops = { .read = dev_read, .write = dev_write };

static unsigned invalidations;
static void on_invalidate(void *ctx)
{
	(void)ctx;
	invalidations++;
}

static struct xen_handles xh;
static struct ioreq_server *srv;

static void setup_created(void)
{
	fake_xen_reset();
	log_setup(LOG_TO_STDERR, LOG_LVL_DEBUG);
	dev = (struct fake_dev){ .vcpu = 0 };
	invalidations = 0;
	watched = NULL;
	loop_add_err = 0;
	srv = NULL;
	CHECK_EQ(xen_handles_open(&xh), 0);
	CHECK_EQ(ioreq_server_create(&xh, &the_loop, DOMID, "dom7", on_invalidate, NULL, &srv), 0);
	CHECK(srv != NULL);
}

static void setup(void)
{
	setup_created();
	CHECK_EQ(ioreq_server_add_window(srv, BASE, WSIZE, &dev_ops, &dev), 0);
	CHECK_EQ(ioreq_server_enable(srv), 0);
}

static void teardown(void)
{
	ioreq_server_destroy(srv);
	srv = NULL;
	xen_handles_close(&xh);
}

static ioreq_t mmio(uint64_t addr, uint32_t size, int dir, uint64_t data)
{
	return (ioreq_t){ .addr = addr, .data = data, .count = 1, .size = size, .dir = dir,
			  .type = IOREQ_TYPE_COPY };
}

static void request(unsigned vcpu, ioreq_t req)
{
	fake_guest_request(vcpu, &req);
}

static int count_substr(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- decoding ----------------------------------------------------------- */

TEST(decode_accepts_every_valid_size)
{
	static const uint32_t sizes[] = { 1, 2, 4, 8 };

	for (unsigned i = 0; i < 4; i++) {
		for (int dir = 0; dir <= 1; dir++) {
			ioreq_t r = mmio(BASE + 8, sizes[i], dir, 0);
			struct mmio_access acc;
			const char *why = "x";

			CHECK_EQ(ioreq_decode(&r, &acc, &why), IOREQ_KIND_MMIO);
			CHECK_EQ(acc.size, sizes[i]);
			CHECK_EQ_U64(acc.addr, BASE + 8);
			CHECK_EQ(acc.write, dir == IOREQ_WRITE);
		}
	}
}

TEST(decode_masks_write_data_to_size)
{
	static const struct {
		uint32_t size;
		uint64_t want;
	} cases[] = {
		{ 1, 0x88 }, { 2, 0x7788 }, { 4, 0x55667788 }, { 8, 0x1122334455667788 },
	};

	for (unsigned i = 0; i < 4; i++) {
		ioreq_t r = mmio(BASE, cases[i].size, IOREQ_WRITE, 0x1122334455667788);
		struct mmio_access acc;

		CHECK_EQ(ioreq_decode(&r, &acc, NULL), IOREQ_KIND_MMIO);
		CHECK_EQ_U64(acc.data, cases[i].want);
	}
}

TEST(decode_read_ignores_slot_data)
{
	ioreq_t r = mmio(BASE, 4, IOREQ_READ, 0xdeadbeef);
	struct mmio_access acc;

	CHECK_EQ(ioreq_decode(&r, &acc, NULL), IOREQ_KIND_MMIO);
	CHECK_EQ_U64(acc.data, 0);
}

TEST(read_result_is_zero_extended)
{
	CHECK_EQ_U64(ioreq_read_result(UINT64_MAX, 1), 0xff);
	CHECK_EQ_U64(ioreq_read_result(UINT64_MAX, 2), 0xffff);
	CHECK_EQ_U64(ioreq_read_result(UINT64_MAX, 4), 0xffffffff);
	CHECK_EQ_U64(ioreq_read_result(UINT64_MAX, 8), UINT64_MAX);
	CHECK_EQ_U64(ioreq_read_result(0x8000000000000080, 1), 0x80);
	CHECK_EQ_U64(ioreq_read_result(0x0123456789abcdef, 8), 0x0123456789abcdef);
}

TEST(decode_rejects_bad_sizes)
{
	static const uint32_t bad[] = { 0, 3, 5, 16, UINT32_MAX };

	for (unsigned i = 0; i < 5; i++) {
		ioreq_t r = mmio(BASE, bad[i], IOREQ_READ, 0);
		struct mmio_access acc;
		const char *why = NULL;

		CHECK_EQ(ioreq_decode(&r, &acc, &why), IOREQ_KIND_BAD);
		CHECK(why != NULL && strstr(why, "size"));
	}
}

TEST(decode_rejects_rep_and_data_is_ptr)
{
	ioreq_t rep = mmio(BASE, 4, IOREQ_WRITE, 0);
	ioreq_t ptr = mmio(BASE, 4, IOREQ_WRITE, 0x1000);
	ioreq_t zero = mmio(BASE, 4, IOREQ_WRITE, 0);
	struct mmio_access acc;
	const char *why = NULL;

	rep.count = 2;
	CHECK_EQ(ioreq_decode(&rep, &acc, &why), IOREQ_KIND_BAD);
	CHECK(why && strstr(why, "count"));
	ptr.data_is_ptr = 1;
	CHECK_EQ(ioreq_decode(&ptr, &acc, &why), IOREQ_KIND_BAD);
	CHECK(why && strstr(why, "data_is_ptr"));
	zero.count = 0;
	CHECK_EQ(ioreq_decode(&zero, &acc, &why), IOREQ_KIND_BAD);
}

TEST(decode_rejects_wrapping_access)
{
	ioreq_t r = mmio(UINT64_MAX - 1, 4, IOREQ_READ, 0);
	struct mmio_access acc;

	CHECK_EQ(ioreq_decode(&r, &acc, NULL), IOREQ_KIND_BAD);
	r.addr = UINT64_MAX - 3; /* last byte is exactly UINT64_MAX: fine */
	CHECK_EQ(ioreq_decode(&r, &acc, NULL), IOREQ_KIND_MMIO);
}

TEST(decode_invalidate_and_ignored_types)
{
	ioreq_t r = { .type = IOREQ_TYPE_INVALIDATE, .size = 4, .count = 1, .data = UINT64_MAX };
	struct mmio_access acc;

	CHECK_EQ(ioreq_decode(&r, &acc, NULL), IOREQ_KIND_INVALIDATE);
	r.type = IOREQ_TYPE_PIO;
	CHECK_EQ(ioreq_decode(&r, &acc, NULL), IOREQ_KIND_IGNORE);
	r.type = IOREQ_TYPE_PCI_CONFIG;
	CHECK_EQ(ioreq_decode(&r, &acc, NULL), IOREQ_KIND_IGNORE);
	r.type = IOREQ_TYPE_TIMEOFFSET;
	CHECK_EQ(ioreq_decode(&r, &acc, NULL), IOREQ_KIND_IGNORE);
	r.type = 0x42;
	CHECK_EQ(ioreq_decode(&r, &acc, NULL), IOREQ_KIND_IGNORE);
	/* Even a malformed INVALIDATE is an invalidate (count/size irrelevant). */
	r.type = IOREQ_TYPE_INVALIDATE;
	r.count = 9;
	r.size = 3;
	CHECK_EQ(ioreq_decode(&r, &acc, NULL), IOREQ_KIND_INVALIDATE);
}

/* ioreq.c writes the state as byte 30, low nibble: pin that layout. */
TEST(ioreq_state_bitfield_is_low_nibble_of_byte_30)
{
	ioreq_t r;
	uint8_t *bytes = (uint8_t *)&r;

	memset(&r, 0, sizeof(r));
	r.state = 0xf;
	CHECK_EQ(bytes[30], 0x0f);
	memset(&r, 0, sizeof(r));
	r.data_is_ptr = 1;
	r.dir = 1;
	r.df = 1;
	CHECK_EQ(bytes[30], 0x70);
	CHECK_EQ(sizeof(ioreq_t), 32);
}

/* ---- the slot protocol -------------------------------------------------- */

TEST(read_answers_zero_extended_with_one_notify)
{
	ioreq_t *slot;
	int port;

	setup();
	dev.reg = 0xdeadbeefcafef00d;
	request(0, mmio(BASE + 0x70, 4, IOREQ_READ, 0x5555555555555555));
	fire();
	slot = fake_slot(0);
	CHECK_EQ(dev.reads, 1);
	CHECK_EQ_U64(dev.last_off, 0x70);
	CHECK_EQ(dev.last_size, 4);
	CHECK_EQ(dev.state_seen, STATE_IOREQ_INPROCESS);
	CHECK_EQ(slot->state, STATE_IORESP_READY);
	CHECK_EQ_U64(slot->data, 0xcafef00d);
	/* The other bits of byte 30 and the rest of the slot are Xen's. */
	CHECK_EQ(slot->dir, IOREQ_READ);
	CHECK_EQ(slot->type, IOREQ_TYPE_COPY);
	CHECK_EQ(slot->vp_eport, FAKE_REMOTE_PORT_BASE);
	port = fake_local_port(0);
	CHECK(port >= 0);
	CHECK_EQ(fake_notifies(port), 1);
	/* The state was IORESP_READY when the notification went out. */
	CHECK_EQ(fake_nth(FAKE_NOTIFY, 0)->a[1], STATE_IORESP_READY);
	teardown();
}

TEST(read_of_8_bytes_and_1_byte)
{
	setup();
	dev.reg = 0xfedcba9876543210;
	request(1, mmio(BASE + 0x100, 8, IOREQ_READ, 0));
	dev.vcpu = 1;
	fire();
	CHECK_EQ_U64(fake_slot(1)->data, 0xfedcba9876543210);
	request(1, mmio(BASE + 0x101, 1, IOREQ_READ, 0xffffffffffffffff));
	fire();
	CHECK_EQ_U64(fake_slot(1)->data, 0x10);
	CHECK_EQ(fake_slot(1)->state, STATE_IORESP_READY);
	teardown();
}

TEST(write_reaches_handler_masked)
{
	uint64_t before;

	setup();
	request(0, mmio(BASE + 0x50, 2, IOREQ_WRITE, 0xffffffffffff1234));
	before = fake_slot(0)->data;
	fire();
	CHECK_EQ(dev.writes, 1);
	CHECK_EQ(dev.reads, 0);
	CHECK_EQ_U64(dev.last_off, 0x50);
	CHECK_EQ(dev.last_size, 2);
	CHECK_EQ_U64(dev.last_value, 0x1234);
	CHECK_EQ(dev.state_seen, STATE_IOREQ_INPROCESS);
	CHECK_EQ(fake_slot(0)->state, STATE_IORESP_READY);
	CHECK_EQ_U64(fake_slot(0)->data, before); /* a write's data is not touched */
	CHECK_EQ(fake_notifies(fake_local_port(0)), 1);
	teardown();
}

TEST(spurious_event_leaves_slot_untouched)
{
	ioreq_t snapshot;

	setup();
	/* State NONE with junk in every other field. */
	memset(fake_slot(1), 0xa5, sizeof(ioreq_t));
	fake_slot(1)->state = STATE_IOREQ_NONE;
	memcpy(&snapshot, fake_slot(1), sizeof(snapshot));
	fake_guest_kick(1);
	fire();
	CHECK(memcmp(&snapshot, fake_slot(1), sizeof(snapshot)) == 0);
	CHECK_EQ(dev.reads + dev.writes, 0);
	CHECK_EQ(fake_count(FAKE_NOTIFY), 0);
	CHECK_EQ(fake_count(FAKE_UNMASK), 1); /* the port is unmasked all the same */
	teardown();
}

TEST(answered_slot_is_never_answered_again_or_moved_back)
{
	int p0, p1;

	setup();
	request(0, mmio(BASE, 4, IOREQ_READ, 0));
	request(1, mmio(BASE + 4, 4, IOREQ_WRITE, 1));
	fire();
	p0 = fake_local_port(0);
	p1 = fake_local_port(1);
	CHECK_EQ(fake_notifies(p0), 1);
	CHECK_EQ(fake_notifies(p1), 1);
	/* Xen has not consumed the answers yet; extra events must change nothing. */
	fake_guest_kick(0);
	fake_guest_kick(1);
	fire();
	fire();
	CHECK_EQ(fake_notifies(p0), 1);
	CHECK_EQ(fake_notifies(p1), 1);
	CHECK_EQ(fake_slot(0)->state, STATE_IORESP_READY);
	CHECK_EQ(fake_slot(1)->state, STATE_IORESP_READY);
	CHECK_EQ(dev.reads, 1);
	CHECK_EQ(dev.writes, 1);
	teardown();
}

TEST(port_is_unmasked_before_slot_is_answered)
{
	long pending, unmask, notify;

	setup();
	request(0, mmio(BASE, 4, IOREQ_READ, 0));
	fire();
	pending = fake_find(FAKE_PENDING, 0);
	unmask = fake_find(FAKE_UNMASK, 0);
	notify = fake_find(FAKE_NOTIFY, 0);
	CHECK(pending >= 0 && unmask > pending && notify > unmask);
	CHECK_EQ(fake_call((size_t)unmask)->a[0], (uint64_t)fake_local_port(0));
	/* Drained until EAGAIN. */
	CHECK_EQ(fake_call(fake_calls() - 1)->call, FAKE_PENDING);
	CHECK_EQ(fake_call(fake_calls() - 1)->err, EAGAIN);
	teardown();
}

TEST(access_outside_every_window_reads_zero)
{
	setup();
	fake_log_capture_begin();
	request(0, mmio(BASE + WSIZE, 4, IOREQ_READ, 0x77));
	fire();
	CHECK_EQ_U64(fake_slot(0)->data, 0);
	CHECK_EQ(fake_slot(0)->state, STATE_IORESP_READY);
	/* Straddling the end of the window is outside too. */
	request(0, mmio(BASE + WSIZE - 2, 4, IOREQ_READ, 0x77));
	fire();
	CHECK_EQ_U64(fake_slot(0)->data, 0);
	request(0, mmio(BASE - 1, 2, IOREQ_WRITE, 0x77));
	fire();
	CHECK_EQ(count_substr(fake_log_capture_end(), "outside every window"), 1);
	CHECK_EQ(dev.reads + dev.writes, 0);
	CHECK_EQ(fake_notifies(fake_local_port(0)), 3);
	teardown();
}

TEST(bad_requests_complete_without_effect_and_log_once)
{
	ioreq_t r = mmio(BASE, 4, IOREQ_READ, 0x1234);
	const char *log;

	setup();
	fake_log_capture_begin();
	r.count = 4;
	request(0, r);
	fire();
	CHECK_EQ(fake_slot(0)->state, STATE_IORESP_READY);
	CHECK_EQ_U64(fake_slot(0)->data, 0); /* without effect: reads 0, not data echoed */
	r = mmio(BASE, 3, IOREQ_WRITE, 1);
	request(0, r);
	fire();
	r = mmio(BASE, 4, IOREQ_WRITE, 0x40000000);
	r.data_is_ptr = 1;
	request(1, r);
	fire();
	log = fake_log_capture_end();
	CHECK_EQ(count_substr(log, "unsupported ioreq"), 1);
	CHECK_EQ(dev.reads + dev.writes, 0);
	CHECK_EQ(fake_notifies(fake_local_port(0)), 2);
	CHECK_EQ(fake_notifies(fake_local_port(1)), 1);
	CHECK_EQ(fake_slot(1)->state, STATE_IORESP_READY);
	teardown();
}

TEST(invalidate_runs_callback_and_completes)
{
	ioreq_t r = { .type = IOREQ_TYPE_INVALIDATE, .size = 4, .count = 1, .data = UINT64_MAX };

	setup();
	request(1, r);
	fire();
	CHECK_EQ(invalidations, 1);
	CHECK_EQ(fake_slot(1)->state, STATE_IORESP_READY);
	CHECK_EQ(fake_notifies(fake_local_port(1)), 1);
	CHECK_EQ(dev.reads + dev.writes, 0);
	teardown();
}

TEST(pio_and_unknown_types_complete)
{
	ioreq_t r = mmio(0x60, 1, IOREQ_READ, 0xab);

	setup();
	r.type = IOREQ_TYPE_PIO;
	request(0, r);
	fire();
	CHECK_EQ(fake_slot(0)->state, STATE_IORESP_READY);
	r.type = 0x33;
	request(0, r);
	fire();
	CHECK_EQ(fake_slot(0)->state, STATE_IORESP_READY);
	CHECK_EQ(fake_notifies(fake_local_port(0)), 2);
	CHECK_EQ(dev.reads + dev.writes + invalidations, 0);
	teardown();
}

/* ---- lifecycle ---------------------------------------------------------- */

TEST(bring_up_follows_xen_order)
{
	const struct fake_call_rec *c;
	long nr, create, res, range, enable, bind0, bind1;

	setup();
	nr = fake_find(FAKE_NR_VCPUS, 0);
	create = fake_find(FAKE_CREATE_SERVER, 0);
	res = fake_find(FAKE_MAP_RESOURCE, 0);
	range = fake_find(FAKE_MAP_RANGE, 0);
	enable = fake_find(FAKE_SET_STATE, 0);
	bind0 = fake_find(FAKE_BIND, 0);
	bind1 = fake_find(FAKE_BIND, 1);
	CHECK(nr >= 0 && nr < create && create < res && res < range && range < enable &&
	      enable < bind0 && bind0 < bind1);
	CHECK_EQ(fake_count(FAKE_BIND), 2);

	c = fake_call((size_t)create);
	CHECK_EQ(c->a[0], DOMID);
	CHECK_EQ(c->a[1], HVM_IOREQSRV_BUFIOREQ_OFF);
	c = fake_call((size_t)res);
	CHECK_EQ(c->a[1], XENMEM_resource_ioreq_server);
	CHECK_EQ(c->a[2], fake_nth(FAKE_CREATE_SERVER, 0)->a[2]);
	CHECK_EQ(c->a[3], 1); /* XENMEM_resource_ioreq_server_frame_ioreq(0) */
	CHECK_EQ(c->a[4], 1);
	CHECK_EQ(c->a[5], PROT_READ | PROT_WRITE);
	c = fake_call((size_t)range);
	CHECK_EQ(c->a[2], 1); /* is_mmio */
	CHECK_EQ_U64(c->a[3], BASE);
	CHECK_EQ_U64(c->a[4], BASE + WSIZE - 1); /* inclusive end */
	CHECK_EQ(fake_call((size_t)enable)->a[2], 1);
	CHECK_EQ(fake_call((size_t)bind0)->a[0], DOMID);
	CHECK_EQ(fake_call((size_t)bind0)->a[1], FAKE_REMOTE_PORT_BASE);
	CHECK_EQ(fake_call((size_t)bind1)->a[1], FAKE_REMOTE_PORT_BASE + 1);
	CHECK(fake_server_enabled());
	CHECK(watched != NULL);
	CHECK_EQ(watched_events, EPOLLIN);
	CHECK(fcntl(watched->fd, F_GETFL) & O_NONBLOCK);
	teardown();
}

TEST(teardown_is_the_reverse)
{
	long off, unbind0, unbind1, close_, unmap_res, destroy;

	setup();
	ioreq_server_destroy(srv);
	srv = NULL;
	off = fake_find(FAKE_SET_STATE, 1);
	unbind0 = fake_find(FAKE_UNBIND, 0);
	unbind1 = fake_find(FAKE_UNBIND, 1);
	close_ = fake_find(FAKE_EVTCHN_CLOSE, 0);
	unmap_res = fake_find(FAKE_UNMAP_RESOURCE, 0);
	destroy = fake_find(FAKE_DESTROY_SERVER, 0);
	CHECK(off >= 0 && off < unbind0 && unbind0 < unbind1 && unbind1 < close_ &&
	      close_ < unmap_res && unmap_res < destroy);
	CHECK_EQ(fake_call((size_t)off)->a[2], 0);
	CHECK_EQ(fake_nth(FAKE_UNMAP_RESOURCE, 0)->err, 0);
	CHECK_EQ(fake_nth(FAKE_DESTROY_SERVER, 0)->err, 0);
	CHECK(!fake_server_exists());
	CHECK_EQ(fake_bound_ports(), 0);
	CHECK_EQ(fake_open_evtchns(), 0);
	CHECK(watched == NULL); /* removed from the loop */
	teardown();
}

TEST(destroy_answers_pending_requests)
{
	const struct fake_call_rec *n;

	setup();
	dev.reg = 0x1234;
	request(0, mmio(BASE + 8, 4, IOREQ_READ, 0));
	/* No event handled: the request is still READY when we go away. */
	ioreq_server_destroy(srv);
	srv = NULL;
	CHECK_EQ(dev.reads, 1);
	/* Answered, and the server stayed until the vCPU took the answer. */
	CHECK(fake_taken_answer(0) != NULL);
	CHECK_EQ(fake_taken_answer(0)->state, STATE_IORESP_READY);
	CHECK_EQ_U64(fake_taken_answer(0)->data, 0x1234);
	CHECK_EQ(fake_slot(0)->state, STATE_IOREQ_NONE);
	n = fake_nth(FAKE_NOTIFY, 0);
	CHECK(n != NULL);
	CHECK_EQ(n->a[1], STATE_IORESP_READY);
	CHECK(fake_find(FAKE_NOTIFY, 0) < fake_find(FAKE_UNBIND, 0));
	CHECK_EQ(fake_count(FAKE_NOTIFY), 1);
	teardown();
}

TEST(request_before_ports_are_bound_is_answered_on_enable)
{
	setup_created();
	CHECK_EQ(ioreq_server_add_window(srv, BASE, WSIZE, &dev_ops, &dev), 0);
	/* The vCPU trapped before its port was bound: the event went nowhere. */
	dev.reg = 0xab;
	request(1, mmio(BASE, 1, IOREQ_READ, 0));
	dev.vcpu = 1;
	CHECK_EQ(ioreq_server_enable(srv), 0);
	CHECK_EQ(fake_slot(1)->state, STATE_IORESP_READY);
	CHECK_EQ_U64(fake_slot(1)->data, 0xab);
	CHECK_EQ(fake_notifies(fake_local_port(1)), 1);
	teardown();
}

TEST(destroy_after_failed_map_resource)
{
	fake_xen_reset();
	CHECK_EQ(xen_handles_open(&xh), 0);
	fake_fail(FAKE_MAP_RESOURCE, EOPNOTSUPP, 0);
	fake_log_capture_begin();
	srv = (struct ioreq_server *)&xh;
	CHECK_EQ(ioreq_server_create(&xh, &the_loop, DOMID, "dom7", NULL, NULL, &srv),
		 -EOPNOTSUPP);
	CHECK(strstr(fake_log_capture_end(), "xenforeignmemory_map_resource"));
	CHECK(srv == NULL);
	CHECK_EQ(fake_count(FAKE_DESTROY_SERVER), 1);
	CHECK_EQ(fake_count(FAKE_SET_STATE), 0);
	CHECK_EQ(fake_count(FAKE_UNMAP_RESOURCE), 0);
	CHECK_EQ(fake_count(FAKE_EVTCHN_OPEN), 0);
	CHECK(!fake_server_exists());
	xen_handles_close(&xh);
}

TEST(destroy_after_failed_evtchn_open)
{
	fake_xen_reset();
	CHECK_EQ(xen_handles_open(&xh), 0);
	fake_fail(FAKE_EVTCHN_OPEN, ENOENT, 0);
	CHECK_EQ(ioreq_server_create(&xh, &the_loop, DOMID, "dom7", NULL, NULL, &srv), -ENOENT);
	CHECK_EQ(fake_count(FAKE_UNMAP_RESOURCE), 1);
	CHECK_EQ(fake_count(FAKE_DESTROY_SERVER), 1);
	CHECK_EQ(fake_count(FAKE_EVTCHN_CLOSE), 0);
	CHECK(fake_find(FAKE_UNMAP_RESOURCE, 0) < fake_find(FAKE_DESTROY_SERVER, 0));
	xen_handles_close(&xh);
}

TEST(destroy_after_enable_failed_halfway)
{
	setup_created();
	CHECK_EQ(ioreq_server_add_window(srv, BASE, WSIZE, &dev_ops, &dev), 0);
	fake_fail(FAKE_BIND, EBUSY, 1); /* vCPU 0 binds, vCPU 1 fails */
	fake_log_capture_begin();
	CHECK_EQ(ioreq_server_enable(srv), -EBUSY);
	CHECK(strstr(fake_log_capture_end(), "xenevtchn_bind_interdomain"));
	CHECK(watched == NULL);
	ioreq_server_destroy(srv);
	srv = NULL;
	CHECK_EQ(fake_count(FAKE_SET_STATE), 2);
	CHECK_EQ(fake_nth(FAKE_SET_STATE, 1)->a[2], 0);
	CHECK_EQ(fake_count(FAKE_UNBIND), 1); /* only the port that was bound */
	CHECK_EQ(fake_nth(FAKE_UNBIND, 0)->err, 0);
	CHECK_EQ(fake_count(FAKE_EVTCHN_CLOSE), 1);
	CHECK_EQ(fake_count(FAKE_DESTROY_SERVER), 1);
	CHECK_EQ(fake_bound_ports(), 0);
	teardown();
}

TEST(destroy_null_is_harmless)
{
	ioreq_server_destroy(NULL);
	CHECK(1);
}

TEST(enosys_says_hypervisor_lacks_ioreq_servers)
{
	const char *log;

	fake_xen_reset();
	CHECK_EQ(xen_handles_open(&xh), 0);
	fake_fail(FAKE_CREATE_SERVER, ENOSYS, 0);
	fake_log_capture_begin();
	CHECK_EQ(ioreq_server_create(&xh, &the_loop, DOMID, "dom7", NULL, NULL, &srv), -ENOSYS);
	log = fake_log_capture_end();
	CHECK(strstr(log, "lacks IOREQ server support"));
	CHECK(strstr(log, "CONFIG_IOREQ_SERVER"));
	CHECK(strstr(log, "dom7"));
	CHECK_EQ(fake_count(FAKE_MAP_RESOURCE), 0);
	CHECK_EQ(fake_count(FAKE_DESTROY_SERVER), 0); /* nothing was created */
	xen_handles_close(&xh);
}

TEST(too_many_vcpus_is_refused)
{
	fake_xen_reset();
	CHECK_EQ(xen_handles_open(&xh), 0);
	fake_set_nr_vcpus(XEN_IOREQ_MAX_VCPUS + 1);
	fake_log_capture_begin();
	CHECK_EQ(ioreq_server_create(&xh, &the_loop, DOMID, "dom7", NULL, NULL, &srv), -E2BIG);
	fake_log_capture_end();
	CHECK_EQ(fake_count(FAKE_CREATE_SERVER), 0);
	fake_set_nr_vcpus(XEN_IOREQ_MAX_VCPUS);
	CHECK_EQ(ioreq_server_create(&xh, &the_loop, DOMID, "dom7", NULL, NULL, &srv), 0);
	CHECK_EQ(ioreq_server_enable(srv), 0);
	CHECK_EQ(fake_count(FAKE_BIND), XEN_IOREQ_MAX_VCPUS);
	ioreq_server_destroy(srv);
	srv = NULL;
	CHECK_EQ(fake_count(FAKE_UNBIND), XEN_IOREQ_MAX_VCPUS);
	xen_handles_close(&xh);
}

TEST(failed_xen_call_returns_its_errno)
{
	setup_created();
	fake_fail(FAKE_SET_STATE, EPERM, 0);
	fake_log_capture_begin();
	CHECK_EQ(ioreq_server_enable(srv), -EPERM);
	CHECK(strstr(fake_log_capture_end(), "xendevicemodel_set_ioreq_server_state"));
	CHECK_EQ(fake_count(FAKE_BIND), 0);
	fake_fail(FAKE_SET_STATE, 0, 0);
	ioreq_server_destroy(srv);
	srv = NULL;
	CHECK_EQ(fake_count(FAKE_SET_STATE), 1); /* never enabled: no disable */
	CHECK_EQ(fake_count(FAKE_DESTROY_SERVER), 1);
	teardown();
}

TEST(windows_are_validated_and_removable)
{
	setup();
	CHECK_EQ(ioreq_server_add_window(srv, BASE + 0x100, WSIZE, &dev_ops, &dev), -EEXIST);
	CHECK_EQ(ioreq_server_add_window(srv, BASE - WSIZE + 1, WSIZE, &dev_ops, &dev), -EEXIST);
	CHECK_EQ(ioreq_server_add_window(srv, BASE + WSIZE, 0, &dev_ops, &dev), -EINVAL);
	CHECK_EQ(ioreq_server_add_window(srv, UINT64_MAX - 0xff, WSIZE, &dev_ops, &dev), -EINVAL);
	CHECK_EQ(fake_count(FAKE_MAP_RANGE), 1);
	/* Adjacent is fine. */
	CHECK_EQ(ioreq_server_add_window(srv, BASE + WSIZE, WSIZE, &dev_ops, &dev), 0);
	CHECK_EQ(ioreq_server_remove_window(srv, BASE + 0x10), -ENOENT);
	CHECK_EQ(ioreq_server_remove_window(srv, BASE), 0);
	CHECK_EQ_U64(fake_nth(FAKE_UNMAP_RANGE, 0)->a[3], BASE);
	CHECK_EQ_U64(fake_nth(FAKE_UNMAP_RANGE, 0)->a[4], BASE + WSIZE - 1);
	/* The second window still answers; the removed one no longer does. */
	dev.reg = 5;
	request(0, mmio(BASE + WSIZE + 4, 4, IOREQ_READ, 0));
	fire();
	CHECK_EQ_U64(fake_slot(0)->data, 5);
	CHECK_EQ_U64(dev.last_off, 4);
	fake_log_capture_begin();
	request(0, mmio(BASE + 4, 4, IOREQ_READ, 0));
	fire();
	fake_log_capture_end();
	CHECK_EQ(dev.reads, 1);
	CHECK_EQ_U64(fake_slot(0)->data, 0);
	teardown();
}

TEST(window_limit_is_enforced)
{
	unsigned i;

	setup_created();
	for (i = 0; i < DISKS_PER_GUEST_MAX; i++)
		CHECK_EQ(ioreq_server_add_window(srv, BASE + i * WSIZE, WSIZE, &dev_ops, &dev), 0);
	CHECK_EQ(ioreq_server_add_window(srv, BASE + i * WSIZE, WSIZE, &dev_ops, &dev), -ENOSPC);
	teardown();
}

/* ---- handles ------------------------------------------------------------ */

TEST(handles_open_failure_message)
{
	const char *log;

	fake_xen_reset();
	fake_fail(FAKE_DM_OPEN, ENOENT, 0);
	fake_log_capture_begin();
	CHECK_EQ(xen_handles_open(&xh), -ENOENT);
	log = fake_log_capture_end();
	CHECK(strstr(log, "cannot open Xen device model interface: No such file or directory"));
	CHECK(xh.dm == NULL && xh.fmem == NULL);

	fake_xen_reset();
	fake_fail(FAKE_FMEM_OPEN, EACCES, 0);
	fake_log_capture_begin();
	CHECK_EQ(xen_handles_open(&xh), -EACCES);
	log = fake_log_capture_end();
	CHECK(strstr(log, "cannot open Xen foreign memory interface: Permission denied"));
	CHECK_EQ(fake_count(FAKE_DM_CLOSE), 1); /* the dm handle was not leaked */
	CHECK(xh.dm == NULL && xh.fmem == NULL);
	xen_handles_close(&xh);
	xen_handles_close(&xh);
	CHECK_EQ(fake_count(FAKE_DM_CLOSE), 1);
}
