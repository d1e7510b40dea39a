/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fake Xen libraries for the src/xen unit tests (see fake_xen.h): the
 * functions src/xen calls from libxendevicemodel, libxenforeignmemory and
 * libxenevtchn, with the real prototypes, recording every call. Guest RAM
 * is a memfd so foreign mappings are real shared mappings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xen/memory.h>

#include "fake_xen.h"

#define FAKE_LOG_MAX 8192u
#define FAKE_MAPS_MAX 4096u
#define FAKE_REGIONS_MAX 16u
#define FAKE_HANDLES_MAX 4u
#define FAKE_PORTS_MAX 160u
#define FAKE_QUEUE_LEN 512u
#define FAKE_PAGE 4096u

struct xendevicemodel_handle {
	int unused;
};
struct xenforeignmemory_handle {
	int unused;
};
struct xenforeignmemory_resource_handle {
	int unused;
};

struct fake_port {
	int local;
	uint32_t remote;
	bool masked, pending;
};

struct xenevtchn_handle {
	bool open;
	int fd;
	struct fake_port ports[FAKE_PORTS_MAX];
	unsigned nports;
	int queue[FAKE_QUEUE_LEN];
	unsigned qhead, qtail;
};

struct fake_region {
	uint64_t gpa, size, off;
};

static struct xendevicemodel_handle dm_handle;
static struct xenforeignmemory_handle fmem_handle;
static struct xenforeignmemory_resource_handle res_handle;

static struct {
	struct fake_call_rec log[FAKE_LOG_MAX];
	size_t n;
	struct {
		int err;
		unsigned after;
	} fail[FAKE_CALL_COUNT];
	unsigned nr_vcpus;

	int memfd;
	uint8_t *host;
	uint64_t ram_used;
	struct fake_region regions[FAKE_REGIONS_MAX];
	unsigned nregions;
	struct fake_region ro[FAKE_REGIONS_MAX];
	unsigned nro;
	struct {
		void *va;
		size_t pages;
	} maps[FAKE_MAPS_MAX];
	unsigned nmaps;
	unsigned bad_unmaps;

	bool server, enabled, res_mapped;
	ioservid_t id, next_id;
	shared_iopage_t *page;

	struct xenevtchn_handle handles[FAKE_HANDLES_MAX];
	int next_local;

	int log_fd, saved_stderr;
	char log_buf[65536];
	ioreq_t taken[128]; /* answers the simulated vCPUs took (nanosleep below) */
	bool taken_valid[128];
} F = { .memfd = -1, .log_fd = -1, .saved_stderr = -1 };

static void fake_die(const char *what)
{
	fprintf(stderr, "fake_xen: %s\n", what);
	abort();
}

static struct fake_call_rec *rec(enum fake_call c)
{
	struct fake_call_rec *r;

	if (F.n == FAKE_LOG_MAX)
		fake_die("call log full");
	r = &F.log[F.n++];
	*r = (struct fake_call_rec){ .call = c };
	return r;
}

/* True (and errno set, recorded) when this call of kind c must fail. */
static bool failing(struct fake_call_rec *r)
{
	enum fake_call c = r->call;

	if (!F.fail[c].err)
		return false;
	if (F.fail[c].after) {
		F.fail[c].after--;
		return false;
	}
	r->err = F.fail[c].err;
	errno = F.fail[c].err;
	return true;
}

static bool fail_with(struct fake_call_rec *r, int err)
{
	r->err = err;
	errno = err;
	return true;
}

/* ---- control ------------------------------------------------------------ */

void fake_xen_reset(void)
{
	/* A failed CHECK may have left the log captured. */
	if (F.saved_stderr >= 0) {
		dup2(F.saved_stderr, STDERR_FILENO);
		close(F.saved_stderr);
	}
	if (F.log_fd >= 0)
		close(F.log_fd);
	for (unsigned i = 0; i < F.nmaps; i++)
		munmap(F.maps[i].va, F.maps[i].pages * FAKE_PAGE);
	if (F.host)
		munmap(F.host, FAKE_RAM_MAX);
	if (F.memfd >= 0)
		close(F.memfd);
	if (F.page)
		munmap(F.page, FAKE_PAGE);
	for (unsigned i = 0; i < FAKE_HANDLES_MAX; i++)
		if (F.handles[i].open)
			close(F.handles[i].fd);

	memset(&F, 0, sizeof(F));
	F.memfd = -1;
	F.log_fd = -1;
	F.saved_stderr = -1;
	F.nr_vcpus = 2;
	F.next_id = 3; /* not 0: catches a server id taken from the wrong place */
	F.next_local = FAKE_LOCAL_PORT_BASE;

	F.memfd = memfd_create("fake-guest-ram", MFD_CLOEXEC);
	if (F.memfd < 0 || ftruncate(F.memfd, FAKE_RAM_MAX) < 0)
		fake_die("memfd");
	F.host = mmap(NULL, FAKE_RAM_MAX, PROT_READ | PROT_WRITE, MAP_SHARED, F.memfd, 0);
	if (F.host == MAP_FAILED)
		fake_die("mmap memfd");
}

size_t fake_calls(void)
{
	return F.n;
}

const struct fake_call_rec *fake_call(size_t i)
{
	return i < F.n ? &F.log[i] : NULL;
}

unsigned fake_count(enum fake_call c)
{
	unsigned n = 0;

	for (size_t i = 0; i < F.n; i++)
		n += F.log[i].call == c;
	return n;
}

long fake_find(enum fake_call c, unsigned nth)
{
	for (size_t i = 0; i < F.n; i++)
		if (F.log[i].call == c && nth-- == 0)
			return (long)i;
	return -1;
}

const struct fake_call_rec *fake_nth(enum fake_call c, unsigned nth)
{
	long i = fake_find(c, nth);

	return i < 0 ? NULL : &F.log[i];
}

void fake_fail(enum fake_call c, int err, unsigned after)
{
	F.fail[c].err = err;
	F.fail[c].after = after;
}

void fake_set_nr_vcpus(unsigned n)
{
	F.nr_vcpus = n;
}

/* ---- guest RAM ---------------------------------------------------------- */

void fake_ram_add(uint64_t gpa, uint64_t size)
{
	if (F.nregions == FAKE_REGIONS_MAX || F.ram_used + size > FAKE_RAM_MAX ||
	    (gpa | size) % FAKE_PAGE)
		fake_die("bad RAM region");
	F.regions[F.nregions++] = (struct fake_region){ .gpa = gpa, .size = size,
						       .off = F.ram_used };
	F.ram_used += size;
}

void fake_ram_set_readonly(uint64_t gpa, uint64_t size)
{
	if (F.nro == FAKE_REGIONS_MAX)
		fake_die("too many read-only regions");
	F.ro[F.nro++] = (struct fake_region){ .gpa = gpa, .size = size };
}

/* memfd offset of the page holding gpa, or -1. */
static int64_t ram_offset(uint64_t gpa)
{
	for (unsigned i = 0; i < F.nregions; i++) {
		const struct fake_region *r = &F.regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return (int64_t)(r->off + (gpa - r->gpa));
	}
	return -1;
}

static bool ram_readonly(uint64_t gpa)
{
	for (unsigned i = 0; i < F.nro; i++)
		if (gpa >= F.ro[i].gpa && gpa - F.ro[i].gpa < F.ro[i].size)
			return true;
	return false;
}

void *fake_ram_ptr(uint64_t gpa)
{
	int64_t off = ram_offset(gpa);

	return off < 0 ? NULL : F.host + off;
}

unsigned fake_live_maps(void)
{
	return F.nmaps;
}

unsigned fake_bad_unmaps(void)
{
	return F.bad_unmaps;
}

/* ---- libxendevicemodel -------------------------------------------------- */

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger,
					   unsigned int open_flags)
{
	struct fake_call_rec *r = rec(FAKE_DM_OPEN);

	(void)logger;
	(void)open_flags;
	if (failing(r))
		return NULL;
	return &dm_handle;
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
	(void)dmod;
	rec(FAKE_DM_CLOSE);
	return 0;
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid, unsigned int *vcpus)
{
	struct fake_call_rec *r = rec(FAKE_NR_VCPUS);

	(void)dmod;
	r->a[0] = domid;
	if (failing(r))
		return -1;
	*vcpus = F.nr_vcpus;
	return 0;
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
				       int handle_bufioreq, ioservid_t *id)
{
	struct fake_call_rec *r = rec(FAKE_CREATE_SERVER);

	(void)dmod;
	r->a[0] = domid;
	r->a[1] = (uint64_t)handle_bufioreq;
	if (failing(r))
		return -1;
	/* Arm accepts only BUFIOREQ_OFF. */
	if (handle_bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF) {
		fail_with(r, EINVAL);
		return -1;
	}
	F.server = true;
	F.enabled = false;
	F.id = F.next_id++;
	*id = F.id;
	r->a[2] = F.id;
	return 0;
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
						ioservid_t id, int is_mmio, uint64_t start,
						uint64_t end)
{
	struct fake_call_rec *r = rec(FAKE_MAP_RANGE);

	(void)dmod;
	r->a[0] = domid;
	r->a[1] = id;
	r->a[2] = (uint64_t)is_mmio;
	r->a[3] = start;
	r->a[4] = end;
	if (failing(r))
		return -1;
	if (!F.server || id != F.id || end < start) {
		fail_with(r, EINVAL);
		return -1;
	}
	return 0;
}

int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
						    ioservid_t id, int is_mmio, uint64_t start,
						    uint64_t end)
{
	struct fake_call_rec *r = rec(FAKE_UNMAP_RANGE);

	(void)dmod;
	r->a[0] = domid;
	r->a[1] = id;
	r->a[2] = (uint64_t)is_mmio;
	r->a[3] = start;
	r->a[4] = end;
	if (failing(r))
		return -1;
	return 0;
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod, domid_t domid,
					  ioservid_t id, int enabled)
{
	struct fake_call_rec *r = rec(FAKE_SET_STATE);

	(void)dmod;
	r->a[0] = domid;
	r->a[1] = id;
	r->a[2] = (uint64_t)enabled;
	if (failing(r))
		return -1;
	if (!F.server || id != F.id) {
		fail_with(r, ENOENT);
		return -1;
	}
	F.enabled = enabled != 0;
	/* Xen publishes vp_eport only on enable, and only if the page exists. */
	if (F.enabled && F.page && F.res_mapped)
		for (unsigned i = 0; i < F.nr_vcpus; i++)
			F.page->vcpu_ioreq[i].vp_eport = FAKE_REMOTE_PORT_BASE + i;
	return 0;
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
					ioservid_t id)
{
	struct fake_call_rec *r = rec(FAKE_DESTROY_SERVER);

	(void)dmod;
	r->a[0] = domid;
	r->a[1] = id;
	if (failing(r))
		return -1;
	if (!F.server || id != F.id) {
		fail_with(r, ENOENT);
		return -1;
	}
	F.server = false;
	F.enabled = false;
	return 0;
}

int xendevicemodel_set_irq_level(xendevicemodel_handle *dmod, domid_t domid, unsigned int irq,
				 unsigned int level)
{
	struct fake_call_rec *r = rec(FAKE_SET_IRQ);

	(void)dmod;
	r->a[0] = domid;
	r->a[1] = irq;
	r->a[2] = level;
	if (failing(r))
		return -1;
	return 0;
}

int xendevicemodel_set_isa_irq_level(xendevicemodel_handle *dmod, domid_t domid, uint8_t irq,
				     unsigned int level)
{
	struct fake_call_rec *r = rec(FAKE_SET_ISA_IRQ);

	(void)dmod;
	r->a[0] = domid;
	r->a[1] = irq;
	r->a[2] = level;
	if (failing(r))
		return -1;
	return 0;
}

/* ---- libxenforeignmemory ------------------------------------------------ */

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
					       unsigned int open_flags)
{
	struct fake_call_rec *r = rec(FAKE_FMEM_OPEN);

	(void)logger;
	(void)open_flags;
	if (failing(r))
		return NULL;
	return &fmem_handle;
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
	(void)fmem;
	rec(FAKE_FMEM_CLOSE);
	return 0;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom, int prot, size_t pages,
			   const xen_pfn_t arr[], int err[])
{
	struct fake_call_rec *r = rec(FAKE_MAP);
	bool any_bad = false;
	uint8_t *va;

	(void)fmem;
	r->a[0] = dom;
	r->a[1] = (uint64_t)prot;
	r->a[2] = pages;
	r->a[3] = pages ? arr[0] : 0;
	r->a[4] = err != NULL;
	if (failing(r))
		return NULL;
	if (pages == 0 || pages > FAKE_RAM_MAX / FAKE_PAGE || F.nmaps == FAKE_MAPS_MAX) {
		fail_with(r, EINVAL);
		return NULL;
	}
	va = mmap(NULL, pages * FAKE_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (va == MAP_FAILED) {
		fail_with(r, ENOMEM);
		return NULL;
	}
	for (size_t i = 0; i < pages; i++) {
		uint64_t gpa = (uint64_t)arr[i] * FAKE_PAGE;
		int64_t off = arr[i] > UINT64_MAX / FAKE_PAGE ? -1 : ram_offset(gpa);
		int e = 0;

		if (off < 0)
			e = -EINVAL;
		else if ((prot & PROT_WRITE) && ram_readonly(gpa))
			e = -EACCES;
		else if (mmap(va + i * FAKE_PAGE, FAKE_PAGE, prot, MAP_SHARED | MAP_FIXED, F.memfd,
			      off) == MAP_FAILED)
			fake_die("mmap page");
		if (err)
			err[i] = e;
		any_bad |= e != 0;
	}
	if (any_bad && !err) {
		/* libxenforeignmemory: without err[], any failure fails it all. */
		munmap(va, pages * FAKE_PAGE);
		fail_with(r, EFAULT);
		return NULL;
	}
	F.maps[F.nmaps].va = va;
	F.maps[F.nmaps].pages = pages;
	F.nmaps++;
	r->a[5] = (uint64_t)(uintptr_t)va;
	return va;
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr, size_t pages)
{
	struct fake_call_rec *r = rec(FAKE_UNMAP);

	(void)fmem;
	r->a[0] = (uint64_t)(uintptr_t)addr;
	r->a[1] = pages;
	for (unsigned i = 0; i < F.nmaps; i++) {
		if (F.maps[i].va != addr)
			continue;
		r->a[2] = F.maps[i].pages == pages;
		if (F.maps[i].pages != pages)
			F.bad_unmaps++;
		munmap(F.maps[i].va, F.maps[i].pages * FAKE_PAGE);
		F.maps[i] = F.maps[--F.nmaps];
		return 0;
	}
	F.bad_unmaps++;
	fail_with(r, EINVAL);
	return -1;
}

xenforeignmemory_resource_handle *xenforeignmemory_map_resource(
	xenforeignmemory_handle *fmem, domid_t domid, unsigned int type, unsigned int id,
	unsigned long frame, unsigned long nr_frames, void **paddr, int prot, int flags)
{
	struct fake_call_rec *r = rec(FAKE_MAP_RESOURCE);

	(void)fmem;
	(void)flags;
	r->a[0] = domid;
	r->a[1] = type;
	r->a[2] = id;
	r->a[3] = frame;
	r->a[4] = nr_frames;
	r->a[5] = (uint64_t)prot;
	if (failing(r))
		return NULL;
	if (type != XENMEM_resource_ioreq_server || !F.server || id != F.id) {
		fail_with(r, EINVAL);
		return NULL;
	}
	/* With BUFIOREQ_OFF only the sync page (frame 1) exists. */
	if (frame != XENMEM_resource_ioreq_server_frame_ioreq(0) || nr_frames != 1) {
		fail_with(r, frame == 0 ? ENOENT : EINVAL);
		return NULL;
	}
	if (!F.page) {
		F.page = mmap(NULL, FAKE_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			      -1, 0);
		if (F.page == MAP_FAILED)
			fake_die("mmap ioreq page");
	}
	F.res_mapped = true;
	*paddr = F.page;
	return &res_handle;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
				    xenforeignmemory_resource_handle *fres)
{
	struct fake_call_rec *r = rec(FAKE_UNMAP_RESOURCE);

	(void)fmem;
	if (fres != &res_handle || !F.res_mapped) {
		fail_with(r, EINVAL);
		return -1;
	}
	/* The page itself stays readable by the test until the next reset. */
	F.res_mapped = false;
	return 0;
}

/* ---- libxenevtchn ------------------------------------------------------- */

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int open_flags)
{
	struct fake_call_rec *r = rec(FAKE_EVTCHN_OPEN);

	(void)logger;
	(void)open_flags;
	if (failing(r))
		return NULL;
	for (unsigned i = 0; i < FAKE_HANDLES_MAX; i++) {
		struct xenevtchn_handle *h = &F.handles[i];

		if (h->open)
			continue;
		*h = (struct xenevtchn_handle){ .open = true };
		h->fd = eventfd(0, EFD_CLOEXEC);
		if (h->fd < 0)
			fake_die("eventfd");
		return h;
	}
	fail_with(r, EMFILE);
	return NULL;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	rec(FAKE_EVTCHN_CLOSE);
	if (!xce)
		return 0;
	close(xce->fd);
	xce->open = false;
	xce->nports = 0;
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->fd;
}

static struct fake_port *port_by_local(xenevtchn_handle *xce, int local)
{
	for (unsigned i = 0; i < xce->nports; i++)
		if (xce->ports[i].local == local)
			return &xce->ports[i];
	return NULL;
}

static struct fake_port *port_by_remote(xenevtchn_handle **owner, uint32_t remote)
{
	for (unsigned h = 0; h < FAKE_HANDLES_MAX; h++) {
		struct xenevtchn_handle *xce = &F.handles[h];

		if (!xce->open)
			continue;
		for (unsigned i = 0; i < xce->nports; i++) {
			if (xce->ports[i].remote == remote) {
				if (owner)
					*owner = xce;
				return &xce->ports[i];
			}
		}
	}
	return NULL;
}

static void queue_push(xenevtchn_handle *xce, int local)
{
	uint64_t one = 1;

	if (xce->qtail - xce->qhead == FAKE_QUEUE_LEN)
		fake_die("event queue full");
	xce->queue[xce->qtail++ % FAKE_QUEUE_LEN] = local;
	if (write(xce->fd, &one, sizeof(one)) < 0)
		fake_die("eventfd write");
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
						     evtchn_port_t remote_port)
{
	struct fake_call_rec *r = rec(FAKE_BIND);
	struct fake_port *p;

	r->a[0] = domid;
	r->a[1] = remote_port;
	r->a[2] = (uint64_t)-1;
	if (failing(r))
		return -1;
	/* Only the vCPU ports Xen reserved for the server's emulator are bindable, once. */
	if (!F.server || remote_port < FAKE_REMOTE_PORT_BASE ||
	    remote_port >= FAKE_REMOTE_PORT_BASE + F.nr_vcpus || port_by_remote(NULL, remote_port) ||
	    xce->nports == FAKE_PORTS_MAX) {
		fail_with(r, EINVAL);
		return -1;
	}
	p = &xce->ports[xce->nports++];
	*p = (struct fake_port){ .local = F.next_local++, .remote = remote_port };
	r->a[2] = (uint64_t)p->local;
	return p->local;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct fake_call_rec *r = rec(FAKE_UNBIND);
	struct fake_port *p;

	r->a[0] = port;
	if (failing(r))
		return -1;
	p = port_by_local(xce, (int)port);
	if (!p) {
		fail_with(r, EINVAL);
		return -1;
	}
	*p = xce->ports[--xce->nports];
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	struct fake_call_rec *r = rec(FAKE_PENDING);
	struct fake_port *p;
	uint64_t v;
	int local;

	r->a[0] = (uint64_t)-1;
	if (failing(r))
		return -1;
	if (xce->qhead == xce->qtail) {
		fail_with(r, EAGAIN);
		return -1;
	}
	local = xce->queue[xce->qhead++ % FAKE_QUEUE_LEN];
	if (xce->qhead == xce->qtail && read(xce->fd, &v, sizeof(v)) < 0)
		fake_die("eventfd read");
	p = port_by_local(xce, local);
	if (p)
		p->masked = true; /* as the Linux driver does on delivery */
	r->a[0] = (uint64_t)local;
	return local;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct fake_call_rec *r = rec(FAKE_UNMASK);
	struct fake_port *p;

	r->a[0] = port;
	if (failing(r))
		return -1;
	p = port_by_local(xce, (int)port);
	if (!p) {
		fail_with(r, EINVAL);
		return -1;
	}
	p->masked = false;
	if (p->pending) {
		p->pending = false;
		queue_push(xce, p->local);
	}
	return 0;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct fake_call_rec *r = rec(FAKE_NOTIFY);
	struct fake_port *p;

	r->a[0] = port;
	r->a[1] = 0xff;
	if (failing(r))
		return -1;
	p = port_by_local(xce, (int)port);
	if (!p) {
		fail_with(r, EINVAL);
		return -1;
	}
	if (F.page)
		r->a[1] = F.page->vcpu_ioreq[p->remote - FAKE_REMOTE_PORT_BASE].state;
	return 0;
}

/* ---- the guest side ----------------------------------------------------- */

bool fake_server_exists(void)
{
	return F.server;
}

bool fake_server_enabled(void)
{
	return F.enabled;
}

ioreq_t *fake_slot(unsigned vcpu)
{
	if (!F.page || vcpu >= F.nr_vcpus)
		return NULL;
	return &F.page->vcpu_ioreq[vcpu];
}

void fake_guest_kick(unsigned vcpu)
{
	xenevtchn_handle *xce;
	struct fake_port *p = port_by_remote(&xce, FAKE_REMOTE_PORT_BASE + vcpu);

	if (!p)
		return; /* unbound: the notification goes nowhere, as in Xen */
	if (p->masked)
		p->pending = true;
	else
		queue_push(xce, p->local);
}

void fake_guest_request(unsigned vcpu, const ioreq_t *req)
{
	ioreq_t *slot = fake_slot(vcpu);

	if (!slot)
		fake_die("guest request without an ioreq page");
	/* Xen: fields with state NONE, barrier, then READY. */
	slot->state = STATE_IOREQ_NONE;
	slot->addr = req->addr;
	slot->data = req->data;
	slot->count = req->count;
	slot->size = req->size;
	slot->dir = req->dir;
	slot->df = req->df;
	slot->data_is_ptr = req->data_is_ptr;
	slot->type = req->type;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	slot->state = STATE_IOREQ_READY;
	fake_guest_kick(vcpu);
}

int fake_local_port(unsigned vcpu)
{
	struct fake_port *p = port_by_remote(NULL, FAKE_REMOTE_PORT_BASE + vcpu);

	return p ? p->local : -1;
}

unsigned fake_notifies(int local_port)
{
	unsigned n = 0;

	for (size_t i = 0; i < F.n; i++)
		n += F.log[i].call == FAKE_NOTIFY && !F.log[i].err &&
		     F.log[i].a[0] == (uint64_t)local_port;
	return n;
}

unsigned fake_bound_ports(void)
{
	unsigned n = 0;

	for (unsigned h = 0; h < FAKE_HANDLES_MAX; h++)
		if (F.handles[h].open)
			n += F.handles[h].nports;
	return n;
}

unsigned fake_open_evtchns(void)
{
	unsigned n = 0;

	for (unsigned h = 0; h < FAKE_HANDLES_MAX; h++)
		n += F.handles[h].open;
	return n;
}

/* ---- log capture -------------------------------------------------------- */

void fake_log_capture_begin(void)
{
	fflush(stderr);
	F.log_fd = memfd_create("fake-log", MFD_CLOEXEC);
	F.saved_stderr = dup(STDERR_FILENO);
	if (F.log_fd < 0 || F.saved_stderr < 0 || dup2(F.log_fd, STDERR_FILENO) < 0)
		fake_die("log capture");
}

const char *fake_log_capture_end(void)
{
	ssize_t n;

	fflush(stderr);
	if (F.saved_stderr < 0)
		return "";
	dup2(F.saved_stderr, STDERR_FILENO);
	close(F.saved_stderr);
	F.saved_stderr = -1;
	n = pread(F.log_fd, F.log_buf, sizeof(F.log_buf) - 1, 0);
	close(F.log_fd);
	F.log_fd = -1;
	F.log_buf[n > 0 ? n : 0] = '\0';
	/* Echo it so a failing test still shows what was logged. */
	fputs(F.log_buf, stderr);
	return F.log_buf;
}

/*
 * The daemon sleeps only while it waits for vCPUs to take their answers at
 * teardown. Time passing is when the guest's vCPUs run: take every answer
 * here, as Xen's wait_for_io does (IORESP_READY -> NONE), keeping a copy.
 */
int nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)req;
	if (rem)
		rem->tv_sec = rem->tv_nsec = 0;
	for (unsigned v = 0; F.page && v < F.nr_vcpus && v < 128; v++) {
		ioreq_t *slot = &F.page->vcpu_ioreq[v];

		if (slot->state != STATE_IORESP_READY)
			continue;
		F.taken[v] = *slot;
		F.taken_valid[v] = true;
		slot->state = STATE_IOREQ_NONE;
	}
	return 0;
}

const ioreq_t *fake_taken_answer(unsigned vcpu)
{
	return vcpu < 128 && F.taken_valid[vcpu] ? &F.taken[vcpu] : NULL;
}
