/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Smoke tests of xensim itself. Without the daemon: a tiny in-process
 * device model, written against the stand-in Xen libraries exactly as a
 * real one is written against Xen's, serves a register window while vCPU
 * threads access it; the checker must catch a backwards state, a double
 * response, a response on the wrong vCPU's port and leaks. Then, when the
 * daemon is built, the real binary serves the virtio-mmio MagicValue.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xen/memory.h>

#include "../unit/check.h"
#include "sim.h"

#ifndef XENSIM_DAEMON
#define XENSIM_DAEMON "src/xen-virtio-blkd"
#endif

#define DOMID 3
#define BASE 0x2000000ull
#define WINDOW 0x200ull
#define MAGIC 0x74726976ull /* "virt" */
#define MAX_VCPUS 4

/* ---- the in-process device model ---- */

struct dm {
	uint16_t domid;
	xendevicemodel_handle *dmod;
	xenforeignmemory_handle *fmem;
	xenevtchn_handle *xce;
	xenforeignmemory_resource_handle *res;
	shared_iopage_t *page;
	ioservid_t id;
	unsigned nr;
	evtchn_port_t lport[MAX_VCPUS];
	uint64_t regs[WINDOW / 8];
	pthread_t thread;
	int stop_fd;
	bool running;
};

static unsigned state_of(ioreq_t *p)
{
	return __atomic_load_n((uint8_t *)p + 30, __ATOMIC_ACQUIRE) & 0xf;
}

static void set_state(ioreq_t *p, unsigned st)
{
	uint8_t *b = (uint8_t *)p + 30;

	__atomic_store_n(b, (uint8_t)((*b & 0xf0) | st), __ATOMIC_RELEASE);
}

static int vcpu_of(struct dm *d, evtchn_port_t port)
{
	for (unsigned v = 0; v < d->nr; v++) {
		if (d->lport[v] == port)
			return (int)v;
	}
	return -1;
}

/* Answers the request in vCPU v's slot, if there is one (QEMU's order). */
static void dm_handle(struct dm *d, unsigned v)
{
	ioreq_t *p = &d->page->vcpu_ioreq[v];
	uint64_t off;

	if (state_of(p) != STATE_IOREQ_READY)
		return;
	set_state(p, STATE_IOREQ_INPROCESS);
	off = p->addr - BASE;
	if (p->type == IOREQ_TYPE_COPY && p->dir == IOREQ_READ)
		p->data = off == 0 ? MAGIC : d->regs[(off / 8) % (WINDOW / 8)];
	else if (p->type == IOREQ_TYPE_COPY)
		d->regs[(off / 8) % (WINDOW / 8)] = p->data;
	set_state(p, STATE_IORESP_READY);
	xenevtchn_notify(d->xce, d->lport[v]);
}

static void *dm_thread(void *arg)
{
	struct dm *d = arg;
	struct pollfd pfd[2] = {
		{ .fd = xenevtchn_fd(d->xce), .events = POLLIN },
		{ .fd = d->stop_fd, .events = POLLIN },
	};

	for (;;) {
		xenevtchn_port_or_error_t port;

		if (poll(pfd, 2, -1) < 0 || pfd[1].revents)
			return NULL;
		while ((port = xenevtchn_pending(d->xce)) >= 0) {
			int v = vcpu_of(d, (evtchn_port_t)port);

			xenevtchn_unmask(d->xce, (evtchn_port_t)port);
			if (v >= 0)
				dm_handle(d, (unsigned)v);
		}
	}
}

static void dm_open(struct dm *d, struct sim *sim, uint16_t domid)
{
	memset(d, 0, sizeof(*d));
	d->domid = domid;
	d->stop_fd = -1;
	setenv("XENSIM_SOCKET", sim_socket_path(sim), 1);
	d->dmod = xendevicemodel_open(NULL, 0);
	d->fmem = xenforeignmemory_open(NULL, 0);
	d->xce = xenevtchn_open(NULL, 0);
	CHECK(d->dmod && d->fmem && d->xce);
	CHECK_EQ(fcntl(xenevtchn_fd(d->xce), F_SETFL, O_NONBLOCK), 0);
}

/* §8 bring-up up to (not including) enable. */
static void dm_create(struct dm *d)
{
	void *addr = NULL;

	CHECK_EQ(xendevicemodel_nr_vcpus(d->dmod, d->domid, &d->nr), 0);
	CHECK(d->nr <= MAX_VCPUS);
	CHECK_EQ(xendevicemodel_create_ioreq_server(d->dmod, d->domid, HVM_IOREQSRV_BUFIOREQ_OFF,
						    &d->id), 0);
	d->res = xenforeignmemory_map_resource(d->fmem, d->domid, XENMEM_resource_ioreq_server,
					       d->id, XENMEM_resource_ioreq_server_frame_ioreq(0),
					       1, &addr, PROT_READ | PROT_WRITE, 0);
	CHECK(d->res && addr);
	d->page = addr;
	CHECK_EQ(xendevicemodel_map_io_range_to_ioreq_server(d->dmod, d->domid, d->id, 1, BASE,
							     BASE + WINDOW - 1), 0);
}

static void dm_enable_bind(struct dm *d)
{
	CHECK_EQ(xendevicemodel_set_ioreq_server_state(d->dmod, d->domid, d->id, 1), 0);
	for (unsigned v = 0; v < d->nr; v++) {
		xenevtchn_port_or_error_t p;

		CHECK(d->page->vcpu_ioreq[v].vp_eport != 0);
		p = xenevtchn_bind_interdomain(d->xce, d->domid, d->page->vcpu_ioreq[v].vp_eport);
		CHECK(p > 0);
		d->lport[v] = (evtchn_port_t)p;
	}
}

static void dm_start(struct dm *d)
{
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	CHECK(d->stop_fd >= 0);
	CHECK_EQ(pthread_create(&d->thread, NULL, dm_thread, d), 0);
	d->running = true;
}

static void dm_stop_thread(struct dm *d)
{
	uint64_t one = 1;

	if (!d->running)
		return;
	CHECK_EQ(write(d->stop_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	pthread_join(d->thread, NULL);
	d->running = false;
}

/* §8 teardown, then close. */
static void dm_teardown(struct dm *d)
{
	dm_stop_thread(d);
	CHECK_EQ(xendevicemodel_set_ioreq_server_state(d->dmod, d->domid, d->id, 0), 0);
	for (unsigned v = 0; v < d->nr; v++)
		CHECK_EQ(xenevtchn_unbind(d->xce, d->lport[v]), 0);
	CHECK_EQ(xenforeignmemory_unmap_resource(d->fmem, d->res), 0);
	CHECK_EQ(xendevicemodel_destroy_ioreq_server(d->dmod, d->domid, d->id), 0);
}

static void dm_close(struct dm *d)
{
	xenevtchn_close(d->xce);
	xenforeignmemory_close(d->fmem);
	xendevicemodel_close(d->dmod);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	d->xce = NULL;
	d->fmem = NULL;
	d->dmod = NULL;
}

/* Waits for one event on the handle; returns the port. */
static evtchn_port_t wait_event(struct dm *d)
{
	struct pollfd pfd = { .fd = xenevtchn_fd(d->xce), .events = POLLIN };
	xenevtchn_port_or_error_t port;

	CHECK_EQ(poll(&pfd, 1, 5000), 1);
	port = xenevtchn_pending(d->xce);
	CHECK(port > 0);
	return (evtchn_port_t)port;
}

/* Consumes the events Xen raises when ports are bound. */
static void drain_events(struct dm *d)
{
	xenevtchn_port_or_error_t port;

	while ((port = xenevtchn_pending(d->xce)) >= 0)
		xenevtchn_unmask(d->xce, (evtchn_port_t)port);
	CHECK_EQ(errno, EAGAIN);
}

static bool wait_state(ioreq_t *p, unsigned st)
{
	for (int i = 0; i < 5000; i++) {
		if (state_of(p) == st)
			return true;
		usleep(1000);
	}
	return false;
}

/* ---- vCPU threads ---- */

struct access {
	struct sim_guest *g;
	unsigned vcpu;
	uint64_t addr, val;
	int rc;
	pthread_t thread;
};

static void *read_thread(void *arg)
{
	struct access *a = arg;

	a->rc = sim_mmio_read(a->g, a->vcpu, a->addr, 4, &a->val);
	return NULL;
}

static void start_read(struct access *a, struct sim_guest *g, unsigned vcpu, uint64_t addr)
{
	*a = (struct access){ .g = g, .vcpu = vcpu, .addr = addr, .rc = 1 };
	CHECK_EQ(pthread_create(&a->thread, NULL, read_thread, a), 0);
}

static struct sim *start_sim(unsigned timeout_ms)
{
	struct sim_config cfg = { .ioreq_timeout_ms = timeout_ms };
	struct sim *sim;

	CHECK_EQ(sim_start(&cfg, &sim), 0);
	return sim;
}

static bool violation_has(struct sim *sim, const char *text)
{
	char buf[8192];

	sim_violations(sim, buf, sizeof(buf));
	return strstr(buf, text) != NULL;
}

static void check_no_holdings(struct sim *sim)
{
	struct sim_holdings h;

	sim_holdings(sim, &h);
	CHECK_EQ(h.servers, 0);
	CHECK_EQ(h.ranges, 0);
	CHECK_EQ(h.bound_ports, 0);
	CHECK_EQ(h.foreign_pages, 0);
	CHECK_EQ(h.resource_maps, 0);
}

/* ---- tests ---- */

TEST(serve_mmio_from_two_vcpus)
{
	struct sim *sim = start_sim(0);
	struct sim_guest *g;
	struct dm d;
	uint64_t val = 0;
	char buf[4096];

	CHECK_EQ(sim_guest_create(sim, DOMID, 64 << 20, 2, &g), 0);
	dm_open(&d, sim, DOMID);
	dm_create(&d);
	CHECK_EQ(d.nr, 2);
	/* vp_eport is only valid after enable (xen-interfaces.md §1.2). */
	CHECK_EQ(d.page->vcpu_ioreq[0].vp_eport, 0);
	/* A range claimed by a disabled server: data abort, and a violation. */
	CHECK_EQ(sim_mmio_read(g, 0, BASE, 4, &val), -EFAULT);
	CHECK_EQ(sim_violations(sim, buf, sizeof(buf)), 1);
	CHECK(strstr(buf, "before dom3 server 0 was enabled"));
	/* No server at all: a plain data abort. */
	CHECK_EQ(sim_mmio_read(g, 0, BASE + WINDOW, 4, &val), -EFAULT);
	dm_enable_bind(&d);
	CHECK_EQ(sim_wait_claimed(g, BASE, 1000), 0);
	dm_start(&d);

	CHECK_EQ(sim_mmio_read(g, 0, BASE, 4, &val), 0);
	CHECK_EQ_U64(val, MAGIC);
	CHECK_EQ(sim_mmio_write(g, 1, BASE + 0x10, 4, 0x1234), 0);
	CHECK_EQ(sim_mmio_read(g, 0, BASE + 0x10, 4, &val), 0);
	CHECK_EQ_U64(val, 0x1234);
	/* Both vCPUs at once. */
	for (int i = 0; i < 50; i++) {
		struct access a[2];

		start_read(&a[0], g, 0, BASE);
		start_read(&a[1], g, 1, BASE + 0x10);
		pthread_join(a[0].thread, NULL);
		pthread_join(a[1].thread, NULL);
		CHECK_EQ(a[0].rc, 0);
		CHECK_EQ(a[1].rc, 0);
		CHECK_EQ_U64(a[0].val, MAGIC);
		CHECK_EQ_U64(a[1].val, 0x1234);
	}
	/* The access must be inside the range as a whole. */
	CHECK_EQ(sim_mmio_read(g, 0, BASE + WINDOW - 2, 4, &val), -EFAULT);
	CHECK_EQ(sim_invalidate(g), 0);

	dm_teardown(&d);
	CHECK_EQ(sim_mmio_read(g, 0, BASE, 4, &val), -EFAULT);
	dm_close(&d);
	CHECK_EQ(sim_violations(sim, NULL, 0), 1);
	check_no_holdings(sim);
	sim_stop(sim);
}

TEST(ioreq_server_errors_match_xen)
{
	struct sim *sim = start_sim(0);
	struct sim_guest *g;
	struct dm d;
	xendevicemodel_handle *other;
	ioservid_t ids[8], id;
	void *addr = NULL;
	xen_pfn_t gfn;

	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 1, &g), 0);
	dm_open(&d, sim, DOMID);
	CHECK_EQ(xendevicemodel_create_ioreq_server(d.dmod, 77, 0, &id), -1);
	CHECK_EQ(errno, ESRCH);
	CHECK_EQ(xendevicemodel_create_ioreq_server(d.dmod, DOMID, HVM_IOREQSRV_BUFIOREQ_ATOMIC,
						    &id), -1);
	CHECK_EQ(errno, EINVAL); /* Arm: buffered ioreqs unsupported */
	for (int i = 0; i < 8; i++)
		CHECK_EQ(xendevicemodel_create_ioreq_server(d.dmod, DOMID, 0, &ids[i]), 0);
	CHECK_EQ(xendevicemodel_create_ioreq_server(d.dmod, DOMID, 0, &id), -1);
	CHECK_EQ(errno, ENOSPC);
	CHECK_EQ(xendevicemodel_destroy_ioreq_server(d.dmod, DOMID, ids[7]), 0);
	CHECK_EQ(xendevicemodel_destroy_ioreq_server(d.dmod, DOMID, ids[7]), -1);
	CHECK_EQ(errno, ENOENT);

	/* Another caller domain may not touch the server. */
	setenv("XENSIM_CALLER_DOMID", "7", 1);
	other = xendevicemodel_open(NULL, 0);
	unsetenv("XENSIM_CALLER_DOMID");
	CHECK(other);
	CHECK_EQ(xendevicemodel_set_ioreq_server_state(other, DOMID, ids[0], 1), -1);
	CHECK_EQ(errno, EPERM);
	xendevicemodel_close(other);

	/* Ranges: inclusive, no overlap within a server, unmap what is mapped. */
	CHECK_EQ(xendevicemodel_map_io_range_to_ioreq_server(d.dmod, DOMID, ids[0], 1, 0x2000,
							     0x1000), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(xendevicemodel_map_io_range_to_ioreq_server(d.dmod, DOMID, ids[0], 1, 0x1000,
							     0x1fff), 0);
	CHECK_EQ(xendevicemodel_map_io_range_to_ioreq_server(d.dmod, DOMID, ids[0], 1, 0x1fff,
							     0x2fff), -1);
	CHECK_EQ(errno, EEXIST);
	CHECK_EQ(xendevicemodel_map_io_range_to_ioreq_server(d.dmod, DOMID, ids[1], 1, 0x1fff,
							     0x2fff), 0);
	CHECK_EQ(xendevicemodel_map_io_range_to_ioreq_server(d.dmod, DOMID, ids[0], 1, 0x2000,
							     0x2fff), 0);
	CHECK_EQ(xendevicemodel_unmap_io_range_from_ioreq_server(d.dmod, DOMID, ids[0], 1, 0x1800,
								 0x27ff), 0);
	CHECK_EQ(xendevicemodel_unmap_io_range_from_ioreq_server(d.dmod, DOMID, ids[0], 1, 0x1800,
								 0x1800), -1);
	CHECK_EQ(errno, ENOENT);

	/* The ioreq page: frame 1 only. */
	CHECK(!xenforeignmemory_map_resource(d.fmem, DOMID, XENMEM_resource_ioreq_server, ids[0],
					     0, 1, &addr, PROT_READ | PROT_WRITE, 0));
	CHECK_EQ(errno, ENOENT);
	CHECK(!xenforeignmemory_map_resource(d.fmem, DOMID, XENMEM_resource_ioreq_server, ids[0],
					     2, 1, &addr, PROT_READ | PROT_WRITE, 0));
	CHECK_EQ(errno, EINVAL);
	CHECK(!xenforeignmemory_map_resource(d.fmem, DOMID, XENMEM_resource_grant_table, 0, 0, 1,
					     &addr, PROT_READ | PROT_WRITE, 0));
	CHECK_EQ(errno, EOPNOTSUPP);
	CHECK_EQ(xendevicemodel_get_ioreq_server_info(d.dmod, DOMID, ids[0], &gfn, NULL, NULL),
		 -1);
	CHECK_EQ(errno, EOPNOTSUPP);
	CHECK_EQ(xendevicemodel_get_ioreq_server_info(d.dmod, DOMID, ids[0], NULL, NULL, NULL), 0);

	/* Event channels: only the servers' unbound ports, for their creator. */
	CHECK_EQ(xendevicemodel_set_ioreq_server_state(d.dmod, DOMID, ids[0], 1), 0);
	CHECK_EQ(xenevtchn_bind_interdomain(d.xce, 77, 1), -1);
	CHECK_EQ(errno, ESRCH);
	CHECK_EQ(xenevtchn_bind_interdomain(d.xce, DOMID, 999), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(xenevtchn_unbind(d.xce, 1), -1);
	CHECK_EQ(errno, ENOTCONN);

	for (int i = 0; i < 7; i++)
		CHECK_EQ(xendevicemodel_destroy_ioreq_server(d.dmod, DOMID, ids[i]), 0);
	dm_close(&d);
	CHECK_EQ(sim_violations(sim, NULL, 0), 0);
	check_no_holdings(sim);
	sim_stop(sim);
}

TEST(irq_levels_and_edges)
{
	struct sim *sim = start_sim(0);
	struct sim_guest *g;
	struct dm d;

	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 1, &g), 0);
	dm_open(&d, sim, DOMID);
	CHECK_EQ(xendevicemodel_set_irq_level(d.dmod, DOMID, 33, 1), 0);
	CHECK_EQ(xendevicemodel_set_irq_level(d.dmod, DOMID, 33, 1), 0);
	CHECK_EQ(sim_irq_count(g, 33), 2);
	CHECK(sim_irq_level(g, 33));
	CHECK_EQ(xendevicemodel_set_irq_level(d.dmod, DOMID, 33, 0), 0);
	CHECK_EQ(sim_irq_count(g, 33), 2);
	CHECK(!sim_irq_level(g, 33));
	CHECK_EQ(sim_irq_wait(g, 33, 2, 20), -ETIMEDOUT);
	CHECK_EQ(sim_irq_wait(g, 33, 1, 20), 0);
	CHECK_EQ(xendevicemodel_set_irq_level(d.dmod, DOMID, 31, 1), -1); /* not an SPI */
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(xendevicemodel_set_irq_level(d.dmod, DOMID, SIM_GUEST_NR_IRQS, 1), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(xendevicemodel_set_irq_level(d.dmod, DOMID, 33, 2), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(xendevicemodel_set_irq_level(d.dmod, 77, 33, 1), -1);
	CHECK_EQ(errno, ESRCH);
	CHECK_EQ(xendevicemodel_set_isa_irq_level(d.dmod, DOMID, 5, 1), 0);
	CHECK_EQ(sim_irq_count(g, 5), 1);
	CHECK_EQ(xendevicemodel_set_isa_irq_level(d.dmod, DOMID, 16, 1), -1);
	CHECK_EQ(errno, EINVAL);
	/* The stand-in raises lines on a page it mapped: once the guest is
	 * gone it must say ESRCH, and a new guest with that domid gets its own. */
	sim_guest_destroy(g);
	CHECK_EQ(xendevicemodel_set_irq_level(d.dmod, DOMID, 33, 1), -1);
	CHECK_EQ(errno, ESRCH);
	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 1, &g), 0);
	CHECK_EQ(sim_irq_count(g, 33), 0);
	CHECK_EQ(xendevicemodel_set_irq_level(d.dmod, DOMID, 33, 1), 0);
	CHECK_EQ(sim_irq_count(g, 33), 1);
	dm_close(&d);
	CHECK_EQ(sim_violations(sim, NULL, 0), 0);
	sim_stop(sim);
}

struct raise_later {
	xendevicemodel_handle *dmod;
	unsigned irq;
};

static void *raise_later_thread(void *arg)
{
	struct raise_later *r = arg;

	usleep(20 * 1000);
	xendevicemodel_set_irq_level(r->dmod, DOMID, r->irq, 1);
	return NULL;
}

/* A guest waiting for an edge is woken by the raise, not by its timeout. */
TEST(irq_wait_woken_by_raise)
{
	struct sim *sim = start_sim(0);
	struct sim_guest *g;
	struct dm d;
	struct raise_later r;
	pthread_t t;
	struct timespec a, b;
	double ms;

	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 1, &g), 0);
	dm_open(&d, sim, DOMID);
	r = (struct raise_later){ .dmod = d.dmod, .irq = 40 };
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_EQ(pthread_create(&t, NULL, raise_later_thread, &r), 0);
	CHECK_EQ(sim_irq_wait(g, 40, 0, 10000), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_join(t, NULL);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	CHECK(ms < 5000); /* far below the 10 s timeout: the raise woke it */
	CHECK_EQ(sim_irq_count(g, 40), 1);
	dm_close(&d);
	CHECK_EQ(sim_violations(sim, NULL, 0), 0);
	sim_stop(sim);
}

TEST(foreign_mapping_is_shared_guest_ram)
{
	struct sim *sim = start_sim(0);
	struct sim_guest *g;
	struct sim_holdings h;
	struct dm d;
	xen_pfn_t base = SIM_GUEST_RAM_BASE >> 12, ram_pages = (16 << 20) >> 12;
	xen_pfn_t gfns[4] = { base + 5, base + 6, base + ram_pages, base + 1 };
	int err[4] = { 1, 1, 1, 1 };
	uint8_t *p;

	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 1, &g), 0);
	dm_open(&d, sim, DOMID);
	p = xenforeignmemory_map(d.fmem, DOMID, PROT_READ | PROT_WRITE, 4, gfns, err);
	CHECK(p);
	CHECK_EQ(err[0], 0);
	CHECK_EQ(err[1], 0);
	CHECK_EQ(err[2], -EFAULT);
	CHECK_EQ(err[3], 0);
	memcpy(p + 4096 - 2, "abcd", 4); /* across the gfn 5 -> 6 boundary */
	CHECK(memcmp(sim_guest_ram(g, SIM_GUEST_RAM_BASE + 6 * 4096 - 2, 4), "abcd", 4) == 0);
	memcpy(sim_guest_ram(g, SIM_GUEST_RAM_BASE + 4096, 4), "wxyz", 4);
	CHECK(memcmp(p + 3 * 4096, "wxyz", 4) == 0);
	sim_holdings(sim, &h);
	CHECK_EQ(h.foreign_pages, 4);
	CHECK_EQ(xenforeignmemory_unmap(d.fmem, p, 4), 0);

	/* Without err[], one bad gfn fails the whole call. */
	CHECK(!xenforeignmemory_map(d.fmem, DOMID, PROT_READ, 4, gfns, NULL));
	CHECK_EQ(errno, EFAULT);
	CHECK(!xenforeignmemory_map(d.fmem, 77, PROT_READ, 1, gfns, NULL));
	CHECK_EQ(errno, ESRCH);
	check_no_holdings(sim);
	CHECK_EQ(sim_violations(sim, NULL, 0), 0);

	/* A mapping still there when the handle closes is a leak. */
	p = xenforeignmemory_map(d.fmem, DOMID, PROT_READ, 2, gfns, NULL);
	CHECK(p);
	dm_close(&d);
	sim_holdings(sim, &h);
	CHECK_EQ(h.foreign_pages, 2);
	CHECK(violation_has(sim, "leak: pid"));
	CHECK(violation_has(sim, "2 pages"));
	munmap(p, 2 * 4096);
	sim_stop(sim);
}

TEST(event_masked_until_unmask)
{
	struct sim *sim = start_sim(0);
	struct sim_guest *g;
	struct dm d;
	struct access a;
	ioreq_t *slot;

	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 1, &g), 0);
	dm_open(&d, sim, DOMID);
	dm_create(&d);
	dm_enable_bind(&d);
	/* Xen marks a freshly bound port pending. */
	CHECK_EQ(wait_event(&d), d.lport[0]);
	xenevtchn_unmask(d.xce, d.lport[0]);
	slot = &d.page->vcpu_ioreq[0];

	start_read(&a, g, 0, BASE);
	CHECK_EQ(wait_event(&d), d.lport[0]); /* now masked: not unmasked on purpose */
	dm_handle(&d, 0);
	pthread_join(a.thread, NULL);
	CHECK_EQ(a.rc, 0);

	start_read(&a, g, 0, BASE);
	CHECK(wait_state(slot, STATE_IOREQ_READY));
	CHECK_EQ(xenevtchn_pending(d.xce), -1); /* masked: remembered, not delivered */
	CHECK_EQ(errno, EAGAIN);
	CHECK_EQ(xenevtchn_unmask(d.xce, d.lport[0]), 0);
	CHECK_EQ(wait_event(&d), d.lport[0]);
	xenevtchn_unmask(d.xce, d.lport[0]);
	dm_handle(&d, 0);
	pthread_join(a.thread, NULL);
	CHECK_EQ(a.rc, 0);
	CHECK_EQ_U64(a.val, MAGIC);
	/* A port this handle did not bind. */
	CHECK_EQ(xenevtchn_notify(d.xce, d.lport[0] + 100), -1);
	CHECK_EQ(errno, ENOTCONN);
	CHECK(violation_has(sim, "not bound by this handle"));
	CHECK_EQ(sim_violations(sim, NULL, 0), 1);

	dm_teardown(&d);
	dm_close(&d);
	check_no_holdings(sim);
	sim_stop(sim);
}

TEST(checker_catches_backwards_state)
{
	struct sim *sim = start_sim(0);
	struct sim_guest *g;
	struct dm d;
	struct access a;
	ioreq_t *slot;

	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 1, &g), 0);
	dm_open(&d, sim, DOMID);
	dm_create(&d);
	dm_enable_bind(&d);
	drain_events(&d);
	slot = &d.page->vcpu_ioreq[0];
	start_read(&a, g, 0, BASE);
	CHECK_EQ(wait_event(&d), d.lport[0]);
	set_state(slot, STATE_IOREQ_INPROCESS);
	/* Only Xen may write NONE; the vCPU's next sample (every millisecond,
	 * whether it saw INPROCESS or not) finds the state went backwards. */
	set_state(slot, STATE_IOREQ_NONE);
	pthread_join(a.thread, NULL);
	CHECK_EQ(a.rc, -EIO);
	CHECK(violation_has(sim, "backwards ioreq state transition"));
	CHECK(violation_has(sim, "-> 0"));
	dm_teardown(&d);
	dm_close(&d);
	CHECK_EQ(sim_violations(sim, NULL, 0), 1);
	sim_stop(sim);
}

TEST(checker_catches_double_response)
{
	struct sim *sim = start_sim(0);
	struct sim_guest *g;
	struct dm d;
	uint64_t val;

	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 1, &g), 0);
	dm_open(&d, sim, DOMID);
	dm_create(&d);
	dm_enable_bind(&d);
	dm_start(&d);
	CHECK_EQ(sim_mmio_read(g, 0, BASE, 4, &val), 0);
	CHECK_EQ(sim_violations(sim, NULL, 0), 0);
	/* The vCPU has taken the response; answering again is a violation. */
	set_state(&d.page->vcpu_ioreq[0], STATE_IORESP_READY);
	CHECK_EQ(xenevtchn_notify(d.xce, d.lport[0]), 0);
	CHECK(violation_has(sim, "a response twice"));
	dm_teardown(&d);
	dm_close(&d);
	CHECK_EQ(sim_violations(sim, NULL, 0), 1);
	sim_stop(sim);
}

TEST(checker_catches_spurious_notification)
{
	struct sim *sim = start_sim(0);
	struct sim_guest *g;
	struct dm d;

	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 1, &g), 0);
	dm_open(&d, sim, DOMID);
	dm_create(&d);
	dm_enable_bind(&d);
	drain_events(&d);
	/* Bound, so the stand-in accepts it; but vCPU 0 waits for nothing. */
	CHECK_EQ(xenevtchn_notify(d.xce, d.lport[0]), 0);
	CHECK(violation_has(sim, "notification on local port"));
	CHECK(violation_has(sim, "with no request pending"));
	dm_teardown(&d);
	dm_close(&d);
	CHECK_EQ(sim_violations(sim, NULL, 0), 1);
	sim_stop(sim);
}

TEST(checker_catches_wrong_vcpu_port)
{
	struct sim *sim = start_sim(300);
	struct sim_guest *g;
	struct dm d;
	struct access a;

	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 2, &g), 0);
	dm_open(&d, sim, DOMID);
	dm_create(&d);
	dm_enable_bind(&d);
	drain_events(&d);
	start_read(&a, g, 0, BASE);
	CHECK_EQ(wait_event(&d), d.lport[0]);
	set_state(&d.page->vcpu_ioreq[0], STATE_IORESP_READY);
	CHECK_EQ(xenevtchn_notify(d.xce, d.lport[1]), 0);
	pthread_join(a.thread, NULL);
	CHECK_EQ(a.rc, -ETIMEDOUT);
	CHECK(violation_has(sim, "vCPU 0's response notified on vCPU 1's port"));
	CHECK(violation_has(sim, "IORESP_READY never notified"));
	dm_teardown(&d);
	dm_close(&d);
	CHECK_EQ(sim_violations(sim, NULL, 0), 2);
	sim_stop(sim);
}

/* A device model process that exits without tearing down (no CHECKs: a child). */
static void leaky_child(struct sim *sim)
{
	xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
	xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
	xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
	xen_pfn_t gfn = SIM_GUEST_RAM_BASE >> 12;
	shared_iopage_t *page = NULL;
	ioservid_t id;

	(void)sim;
	if (!dmod || !fmem || !xce ||
	    xendevicemodel_create_ioreq_server(dmod, DOMID, 0, &id) ||
	    !xenforeignmemory_map_resource(fmem, DOMID, XENMEM_resource_ioreq_server, id, 1, 1,
					   (void **)&page, PROT_READ | PROT_WRITE, 0) ||
	    xendevicemodel_map_io_range_to_ioreq_server(dmod, DOMID, id, 1, BASE,
							BASE + WINDOW - 1) ||
	    xendevicemodel_set_ioreq_server_state(dmod, DOMID, id, 1) ||
	    xenevtchn_bind_interdomain(xce, DOMID, page->vcpu_ioreq[0].vp_eport) < 0 ||
	    xenevtchn_bind_interdomain(xce, DOMID, page->vcpu_ioreq[1].vp_eport) < 0 ||
	    !xenforeignmemory_map(fmem, DOMID, PROT_READ, 1, &gfn, NULL))
		_exit(1);
	_exit(0);
}

TEST(checker_catches_leaks_at_exit)
{
	struct sim *sim = start_sim(0);
	struct sim_guest *g;
	struct sim_holdings h;
	pid_t pid;
	int status = -1;

	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 2, &g), 0);
	setenv("XENSIM_SOCKET", sim_socket_path(sim), 1);
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		leaky_child(sim);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sim_holdings(sim, &h);
	CHECK_EQ(h.servers, 1);
	CHECK_EQ(h.ranges, 1);
	CHECK_EQ(h.bound_ports, 2);
	CHECK_EQ(h.resource_maps, 1);
	CHECK_EQ(h.foreign_pages, 1);
	CHECK_EQ(h.connections, 0);
	CHECK(violation_has(sim, "still bound"));
	CHECK(violation_has(sim, "ioreq page of dom3 server 0 still mapped"));
	CHECK(violation_has(sim, "1 pages at"));
	CHECK(violation_has(sim, "ioreq server 0 not destroyed"));
	CHECK_EQ(sim_violations(sim, NULL, 0), 5);
	/* Domain death destroys the server, as Xen does. */
	sim_guest_destroy(g);
	sim_holdings(sim, &h);
	CHECK_EQ(h.servers, 0);
	CHECK_EQ(h.ranges, 0);
	sim_stop(sim);
}

TEST(open_fails_without_simulator)
{
	unsetenv("XENSIM_SOCKET");
	CHECK(!xendevicemodel_open(NULL, 0));
	CHECK_EQ(errno, ENOENT);
	setenv("XENSIM_SOCKET", "/nonexistent/xensim.sock", 1);
	CHECK(!xenevtchn_open(NULL, 0));
	CHECK(errno == ENOENT || errno == ECONNREFUSED);
	unsetenv("XENSIM_SOCKET");
}

/* A "daemon" that shows its environment and asks xenstore through Debian's
 * libxenstore, which then loads the stand-in libxentoolcore. */
TEST(daemon_environment_and_xenstore)
{
	char dir[] = "/tmp/xensim-smoke-XXXXXX";
	char xs_path[64], log[64], want[256];
	char *argv[] = { "/bin/sh", "-c",
			 "env; xenstore-exists /local/domain/3 && echo DOM3-INTRODUCED; "
			 "xenstore-exists /local/domain/3 || echo DOM3-RELEASED; exit 3",
			 NULL };
	struct sim_config cfg = { .xenstore_path = xs_path };
	struct sim *sim;
	struct sim_guest *g;
	pid_t pid;
	int status = -1, rc;

	CHECK(mkdtemp(dir));
	snprintf(xs_path, sizeof(xs_path), "%s/xenstored.sock", dir);
	snprintf(log, sizeof(log), "%s/env.log", dir);
	rc = sim_start(&cfg, &sim);
	if (rc == -ENOSYS) {
		printf("# skipped: libsim built without the xenstore server\n");
		rmdir(dir);
		return;
	}
	CHECK_EQ(rc, 0);
	CHECK(sim_xenstore(sim) != NULL);
	CHECK_EQ(sim_guest_create(sim, DOMID, 16 << 20, 1, &g), 0);
	CHECK_EQ(sim_daemon_start(sim, argv, log, &pid), 0);
	CHECK_EQ(sim_daemon_stop(pid, 0, 10000, &status), 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	snprintf(want, sizeof(want), "^XENSIM_SOCKET=%s$", sim_socket_path(sim));
	CHECK_EQ(sim_daemon_wait_log(log, want, 0), 0);
	snprintf(want, sizeof(want), "^XENSTORED_PATH=%s$", xs_path);
	CHECK_EQ(sim_daemon_wait_log(log, want, 0), 0);
	CHECK_EQ(sim_daemon_wait_log(log, "^LD_LIBRARY_PATH=/.*/build/xensim/lib(:|$)", 0), 0);
	if (access("/usr/bin/xenstore-exists", X_OK) == 0)
		CHECK_EQ(sim_daemon_wait_log(log, "^DOM3-INTRODUCED$", 0), 0);
	else
		printf("# xenstore-exists not installed: introduction not checked\n");
	sim_stop(sim);
	unlink(log);
	rmdir(dir);
}

TEST(real_daemon_serves_magic_value)
{
	char dir[] = "/tmp/xensim-smoke-XXXXXX";
	char img[64], log[64], disk[128], buf[4096];
	char *argv[] = { XENSIM_DAEMON, "--domid", "5", "--disk", disk, "--foreground", "-v",
			 NULL };
	struct sim *sim;
	struct sim_guest *g;
	uint64_t val = 0;
	pid_t pid;
	int fd, status = -1;

	if (access(XENSIM_DAEMON, X_OK) != 0) {
		printf("# skipped: %s not built\n", XENSIM_DAEMON);
		return;
	}
	CHECK(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(log, sizeof(log), "%s/daemon.log", dir);
	snprintf(disk, sizeof(disk), "path=%s,base=0x2000000,irq=33", img);
	fd = open(img, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, 1 << 20), 0);
	close(fd);

	sim = start_sim(5000);
	CHECK_EQ(sim_guest_create(sim, 5, 256 << 20, 2, &g), 0);
	CHECK_EQ(sim_daemon_start(sim, argv, log, &pid), 0);
	if (sim_daemon_wait_log(log, "ready", 10000) != 0) {
		sim_daemon_stop(pid, SIGKILL, 1000, &status);
		fd = open(log, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);

			buf[n > 0 ? n : 0] = '\0';
			printf("# daemon log:\n%s\n", buf);
			close(fd);
		}
		CHECK(!"daemon never became ready");
	}
	CHECK_EQ(sim_wait_claimed(g, BASE, 5000), 0);
	CHECK_EQ(sim_mmio_read(g, 0, BASE, 4, &val), 0);
	CHECK_EQ_U64(val, MAGIC);
	CHECK_EQ(sim_daemon_stop(pid, SIGTERM, 10000, &status), 0);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	if (sim_violations(sim, buf, sizeof(buf)))
		printf("# %s", buf);
	CHECK_EQ(sim_violations(sim, NULL, 0), 0);
	check_no_holdings(sim);
	sim_stop(sim);
	unlink(img);
	unlink(log);
	rmdir(dir);
}
