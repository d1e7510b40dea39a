/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One IOREQ server per guest (xen-interfaces.md §1, §8): creation with
 * buffered ioreqs off, the synchronous ioreq page mapped as a resource,
 * MMIO windows, one event channel per vCPU, the slot protocol and teardown.
 *
 * Slot protocol (mirror of Xen's ioreq_send/wait_for_io): on an event for a
 * vCPU's port, unmask the port, then look at the slot. Only a slot in
 * STATE_IOREQ_READY is ours: copy it out once (never re-read guest-shared
 * fields), mark it INPROCESS, handle the local copy, store read data, and
 * publish IORESP_READY behind a release fence, then notify. We never write
 * NONE or READY and never move the state backwards (Xen crashes the domain
 * on a backwards transition). Every READY request gets exactly one answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#include <xen/memory.h>

#include "compiler.h"
#include "guest_limits.h"
#include "ioreq.h"
#include "ioreq_decode.h"
#include "log.h"

/*
 * Layout of ioreq_t measured against Xen's header (xen-interfaces.md §1.1):
 * 32 bytes, the bitfields state:4, data_is_ptr:1, dir:1, df:1 in byte 30,
 * type in byte 31. The state is written as that one byte (a byte store is
 * single-copy atomic everywhere we run); its new value is built by a
 * bitfield assignment on our local copy, so the neighbouring bits keep the
 * values Xen wrote and nothing depends on how the compiler packs them.
 */
_Static_assert(sizeof(ioreq_t) == 32, "ioreq_t layout changed");
_Static_assert(offsetof(ioreq_t, data) == 8, "ioreq_t layout changed");
_Static_assert(offsetof(ioreq_t, vp_eport) == 24, "ioreq_t layout changed");
_Static_assert(offsetof(ioreq_t, type) == 31, "ioreq_t layout changed");
#define IOREQ_STATE_BYTE 30u

/* Bound on events taken per wake-up, so one guest cannot starve the loop. */
#define IOREQ_EVENTS_PER_WAKE 1024u

/* For reading a slot as four 64-bit words without breaking aliasing rules. */
typedef uint64_t __attribute__((may_alias)) ioreq_word_t;

struct ioreq_window {
	uint64_t base;
	uint64_t size;
	const struct ioreq_window_ops *ops;
	void *ctx;
};

struct ioreq_server {
	struct xen_handles *xh;
	struct loop *loop;
	uint16_t domid;
	char name[32];

	ioservid_t id;
	bool created;
	bool enabled;

	xenforeignmemory_resource_handle *res;
	shared_iopage_t *page;

	xenevtchn_handle *xce;
	int evtchn_fd;
	struct loop_watch watch;

	unsigned int nr_vcpus;
	/* Local port bound for each vCPU's slot, -1 when unbound. */
	xenevtchn_port_or_error_t port[XEN_IOREQ_MAX_VCPUS];

	struct ioreq_window windows[DISKS_PER_GUEST_MAX];
	unsigned int nr_windows;

	void (*on_invalidate)(void *ctx);
	void *invalidate_ctx;
	bool tearing_down; /* the invalidate target may already be gone */

	/* Counters for debugging (logged at destroy). */
	uint64_t requests, bad, invalidates, ignored, outside, spurious;
	bool bad_logged, outside_logged, ignore_logged, pending_err_logged;
	struct log_ratelimit rl;
};

/* ---- the shared slot ---------------------------------------------------- */

static volatile uint8_t *slot_state_byte(ioreq_t *slot)
{
	return (volatile uint8_t *)slot + IOREQ_STATE_BYTE;
}

static uint8_t slot_state(ioreq_t *slot)
{
	ioreq_t tmp = { 0 };
	uint8_t b = __atomic_load_n(slot_state_byte(slot), __ATOMIC_RELAXED);

	memcpy((uint8_t *)&tmp + IOREQ_STATE_BYTE, &b, 1);
	return tmp.state;
}

/* Copy the slot out once, word by word, so no field is fetched twice. */
static void slot_copy_out(ioreq_t *slot, ioreq_t *req)
{
	const volatile ioreq_word_t *src = (const volatile ioreq_word_t *)slot;
	ioreq_word_t words[sizeof(ioreq_t) / sizeof(uint64_t)];

	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		words[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	memcpy(req, words, sizeof(*req));
}

/* Publish a new state: req is our local copy (its other bits are Xen's). */
static void slot_set_state(ioreq_t *slot, ioreq_t *req, uint8_t state)
{
	uint8_t b;

	req->state = state & 0x0f;
	memcpy(&b, (uint8_t *)req + IOREQ_STATE_BYTE, 1);
	__atomic_store_n(slot_state_byte(slot), b, __ATOMIC_RELAXED);
}

static void slot_set_data(ioreq_t *slot, uint64_t data)
{
	__atomic_store_n((volatile ioreq_word_t *)&slot->data, data, __ATOMIC_RELAXED);
}

/* ---- dispatch ----------------------------------------------------------- */

static struct ioreq_window *window_find(struct ioreq_server *s, uint64_t addr, uint32_t size)
{
	for (unsigned int i = 0; i < s->nr_windows; i++) {
		struct ioreq_window *w = &s->windows[i];

		/* [addr, addr + size) inside [base, base + wsize), without overflow. */
		if (addr >= w->base && size <= w->size && addr - w->base <= w->size - size)
			return w;
	}
	return NULL;
}

/* Handle a validated MMIO access; returns the value for a read. */
static uint64_t ioreq_mmio(struct ioreq_server *s, const struct mmio_access *acc)
{
	struct ioreq_window *w = window_find(s, acc->addr, acc->size);

	if (!w) {
		/*
		 * Xen forwards only accesses wholly inside a registered range,
		 * so this is a protocol anomaly (or a window removed while the
		 * vCPU was trapping): ignore writes, read as 0.
		 */
		s->outside++;
		if (!s->outside_logged) {
			s->outside_logged = true;
			log_warn(s->name,
				 "ioreq %s of %u bytes at 0x%" PRIx64 " is outside every window; %s",
				 acc->write ? "write" : "read", acc->size, acc->addr,
				 acc->write ? "ignored" : "reads as 0");
		}
		return 0;
	}
	if (acc->write) {
		w->ops->write(w->ctx, acc->addr - w->base, acc->size, acc->data);
		return 0;
	}
	return ioreq_read_result(w->ops->read(w->ctx, acc->addr - w->base, acc->size),
				 acc->size);
}

static void ioreq_log_once(struct ioreq_server *s, bool *logged, const char *what,
			   const ioreq_t *req, const char *why)
{
	if (*logged)
		return;
	*logged = true;
	log_warn(s->name,
		 "%s ioreq completed without effect (%s): type %u addr 0x%" PRIx64
		 " size %u count %u dir %s data_is_ptr %u df %u; further ones not logged",
		 what, why ? why : "?", (unsigned int)req->type, (uint64_t)req->addr,
		 (unsigned int)req->size, (unsigned int)req->count,
		 req->dir == IOREQ_READ ? "read" : "write", (unsigned int)req->data_is_ptr,
		 (unsigned int)req->df);
}

/*
 * Answer the request in vCPU's slot if it is READY; otherwise leave it
 * alone and return false.
 */
static bool ioreq_handle_slot(struct ioreq_server *s, unsigned int vcpu)
{
	ioreq_t *slot = &s->page->vcpu_ioreq[vcpu];
	struct mmio_access acc;
	enum ioreq_kind kind;
	const char *why = NULL;
	ioreq_t req;
	uint64_t value;

	if (slot_state(slot) != STATE_IOREQ_READY)
		return false;
	/* Pairs with Xen's barrier before it sets READY: see the fields. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	slot_copy_out(slot, &req);
	if (req.state != STATE_IOREQ_READY)
		return false; /* cannot happen: only we move a slot on from READY */
	slot_set_state(slot, &req, STATE_IOREQ_INPROCESS);
	s->requests++;

	kind = ioreq_decode(&req, &acc, &why);
	switch (kind) {
	case IOREQ_KIND_MMIO:
		value = ioreq_mmio(s, &acc);
		if (!acc.write)
			slot_set_data(slot, value);
		break;
	case IOREQ_KIND_INVALIDATE:
		s->invalidates++;
		if (s->on_invalidate && !s->tearing_down)
			s->on_invalidate(s->invalidate_ctx);
		break;
	case IOREQ_KIND_BAD:
		s->bad++;
		ioreq_log_once(s, &s->bad_logged, "unsupported", &req, why);
		break;
	case IOREQ_KIND_IGNORE:
		s->ignored++;
		ioreq_log_once(s, &s->ignore_logged, "unhandled", &req, why);
		break;
	}
	/*
	 * A read completed without effect reads 0, like any register we do
	 * not serve: never the request's own data field echoed back. With
	 * data_is_ptr, data is a guest address, not a value: left alone.
	 */
	if (kind != IOREQ_KIND_MMIO && kind != IOREQ_KIND_INVALIDATE && req.dir == IOREQ_READ &&
	    !req.data_is_ptr)
		slot_set_data(slot, 0);

	/* Data (and everything the handler did) visible before the state. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	slot_set_state(slot, &req, STATE_IORESP_READY);
	if (xenevtchn_notify(s->xce, (evtchn_port_t)s->port[vcpu]) < 0)
		log_guest(&s->rl, LOG_LVL_ERR, s->name, "xenevtchn_notify(port %d): %s",
			  s->port[vcpu], strerror(errno));
	return true;
}

static int ioreq_port_to_vcpu(const struct ioreq_server *s, xenevtchn_port_or_error_t port)
{
	for (unsigned int i = 0; i < s->nr_vcpus; i++)
		if (s->port[i] == port)
			return (int)i;
	return -1;
}

static void ioreq_event(struct loop_watch *w, uint32_t events)
{
	struct ioreq_server *s = container_of(w, struct ioreq_server, watch);

	(void)events;
	for (unsigned int n = 0; n < IOREQ_EVENTS_PER_WAKE; n++) {
		xenevtchn_port_or_error_t port;
		int vcpu;

		errno = 0;
		port = xenevtchn_pending(s->xce);
		if (port < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && !s->pending_err_logged) {
				s->pending_err_logged = true;
				log_err(s->name, "xenevtchn_pending: %s", strerror(errno));
			}
			return;
		}
		/* The kernel masked the port on delivery; unmask before looking. */
		if (xenevtchn_unmask(s->xce, (evtchn_port_t)port) < 0)
			log_guest(&s->rl, LOG_LVL_ERR, s->name, "xenevtchn_unmask(port %d): %s",
				  port, strerror(errno));
		vcpu = ioreq_port_to_vcpu(s, port);
		if (vcpu < 0 || !ioreq_handle_slot(s, (unsigned int)vcpu))
			s->spurious++;
	}
	/* More pending: the level-triggered fd brings us back next round. */
}

/* Answer every READY slot that has a bound port (teardown, or after binding). */
static void ioreq_poll_slots(struct ioreq_server *s)
{
	if (!s->page || !s->xce)
		return;
	for (unsigned int i = 0; i < s->nr_vcpus; i++)
		if (s->port[i] >= 0)
			ioreq_handle_slot(s, i);
}

/*
 * Teardown: wait until every answered slot has been consumed (the vCPU
 * sets it back to NONE). Destroying the server while an IORESP_READY is
 * still unread makes Xen complete that access from its own copy of the
 * request, losing the answer. Xen sends no event for this, so poll, with
 * a bound: a vCPU that is not scheduled must not hold the daemon forever.
 */
#define IOREQ_TEARDOWN_WAIT_MS 500u

static void ioreq_wait_consumed(struct ioreq_server *s)
{
	const struct timespec tick = { .tv_nsec = 1000000 };

	if (!s->page)
		return;
	for (unsigned int ms = 0; ms < IOREQ_TEARDOWN_WAIT_MS; ms++) {
		bool busy = false;

		for (unsigned int i = 0; i < s->nr_vcpus; i++) {
			uint8_t st = slot_state(&s->page->vcpu_ioreq[i]);

			if (st == STATE_IOREQ_READY && s->port[i] >= 0)
				ioreq_handle_slot(s, i);
			else if (st == STATE_IORESP_READY)
				busy = true;
		}
		if (!busy)
			return;
		nanosleep(&tick, NULL);
	}
	log_warn(s->name, "a vCPU has not taken its last answer after %u ms; destroying anyway",
		 IOREQ_TEARDOWN_WAIT_MS);
}

/* ---- lifecycle ---------------------------------------------------------- */

/*
 * A failure while tearing down. When the guest has already died Xen has
 * freed the server with it and every call says ESRCH: expected, not an error.
 */
static void teardown_call_failed(struct ioreq_server *s, const char *call)
{
	if (errno == ESRCH) {
		log_debug(s->name, "%s: guest already gone", call);
		return;
	}
	log_err(s->name, "%s: %s", call, strerror(errno ? errno : EIO));
}

static int xen_call_failed(struct ioreq_server *s, const char *call)
{
	int err = errno ? errno : EIO;

	log_err(s->name, "%s: %s", call, strerror(err));
	return -err;
}

int ioreq_server_create(struct xen_handles *xh, struct loop *loop, uint16_t domid,
			const char *name, void (*on_invalidate)(void *ctx), void *invalidate_ctx,
			struct ioreq_server **out)
{
	struct ioreq_server *s;
	void *addr = NULL;
	int flags, ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		log_err(name, "cannot allocate the IOREQ server: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	s->xh = xh;
	s->loop = loop;
	s->domid = domid;
	if (name)
		snprintf(s->name, sizeof(s->name), "%s", name);
	else
		snprintf(s->name, sizeof(s->name), "dom%u", (unsigned int)domid);
	s->evtchn_fd = -1;
	s->watch = (struct loop_watch){ .fd = -1, .cb = ioreq_event, .added = false };
	for (unsigned int i = 0; i < XEN_IOREQ_MAX_VCPUS; i++)
		s->port[i] = -1;
	s->on_invalidate = on_invalidate;
	s->invalidate_ctx = invalidate_ctx;

	errno = 0;
	if (xendevicemodel_nr_vcpus(xh->dm, domid, &s->nr_vcpus) < 0) {
		ret = xen_call_failed(s, "xendevicemodel_nr_vcpus");
		goto err;
	}
	if (s->nr_vcpus == 0 || s->nr_vcpus > XEN_IOREQ_MAX_VCPUS) {
		log_err(s->name, "guest has %u vCPUs; an ioreq page serves 1 to %u", s->nr_vcpus,
			XEN_IOREQ_MAX_VCPUS);
		s->nr_vcpus = 0;
		ret = -E2BIG;
		goto err;
	}

	errno = 0;
	if (xendevicemodel_create_ioreq_server(xh->dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF,
					       &s->id) < 0) {
		if (errno == ENOSYS) {
			log_err(s->name,
				"xendevicemodel_create_ioreq_server: %s: the hypervisor lacks IOREQ server support (Xen built without CONFIG_IOREQ_SERVER; on Arm it needs CONFIG_EXPERT=y and CONFIG_IOREQ_SERVER=y)",
				strerror(ENOSYS));
			ret = -ENOSYS;
		} else {
			ret = xen_call_failed(s, "xendevicemodel_create_ioreq_server");
		}
		goto err;
	}
	s->created = true;

	/* Maps (and makes Xen allocate) the sync ioreq page: before enabling. */
	errno = 0;
	s->res = xenforeignmemory_map_resource(xh->fmem, domid, XENMEM_resource_ioreq_server, s->id,
					       XENMEM_resource_ioreq_server_frame_ioreq(0), 1, &addr,
					       PROT_READ | PROT_WRITE, 0);
	if (!s->res) {
		ret = xen_call_failed(s, "xenforeignmemory_map_resource(ioreq page)");
		goto err;
	}
	s->page = addr;

	errno = 0;
	s->xce = xenevtchn_open(NULL, 0);
	if (!s->xce) {
		ret = xen_call_failed(s, "xenevtchn_open");
		goto err;
	}
	s->evtchn_fd = xenevtchn_fd(s->xce);
	flags = fcntl(s->evtchn_fd, F_GETFL);
	if (flags < 0 || fcntl(s->evtchn_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		ret = xen_call_failed(s, "fcntl(event channel fd, O_NONBLOCK)");
		goto err;
	}

	log_debug(s->name, "IOREQ server %u created, %u vCPUs", (unsigned int)s->id, s->nr_vcpus);
	*out = s;
	return 0;

err:
	ioreq_server_destroy(s);
	return ret;
}

int ioreq_server_add_window(struct ioreq_server *s, uint64_t base, uint64_t size,
			    const struct ioreq_window_ops *ops, void *ctx)
{
	uint64_t last;

	if (size == 0 || add_overflows(base, size - 1, &last) || !ops || !ops->read || !ops->write)
		return -EINVAL;
	for (unsigned int i = 0; i < s->nr_windows; i++) {
		const struct ioreq_window *w = &s->windows[i];

		if (base <= w->base + (w->size - 1) && w->base <= last)
			return -EEXIST;
	}
	if (s->nr_windows == ARRAY_SIZE(s->windows))
		return -ENOSPC;

	errno = 0;
	/* The end is inclusive. */
	if (xendevicemodel_map_io_range_to_ioreq_server(s->xh->dm, s->domid, s->id, 1, base,
							last) < 0)
		return xen_call_failed(s, "xendevicemodel_map_io_range_to_ioreq_server");

	s->windows[s->nr_windows++] = (struct ioreq_window){
		.base = base,
		.size = size,
		.ops = ops,
		.ctx = ctx,
	};
	return 0;
}

int ioreq_server_remove_window(struct ioreq_server *s, uint64_t base)
{
	struct ioreq_window w;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < s->nr_windows; i++)
		if (s->windows[i].base == base)
			break;
	if (i == s->nr_windows)
		return -ENOENT;
	w = s->windows[i];
	/* Forget it first: even if Xen keeps forwarding, the device is gone. */
	s->windows[i] = s->windows[--s->nr_windows];

	errno = 0;
	if (xendevicemodel_unmap_io_range_from_ioreq_server(s->xh->dm, s->domid, s->id, 1, w.base,
							    w.base + (w.size - 1)) < 0) {
		/* A disk removed because its guest died (service mode) meets ESRCH. */
		ret = errno ? -errno : -EIO;
		teardown_call_failed(s, "xendevicemodel_unmap_io_range_from_ioreq_server");
	}
	return ret;
}

int ioreq_server_enable(struct ioreq_server *s)
{
	int ret;

	if (s->enabled)
		return 0;

	errno = 0;
	if (xendevicemodel_set_ioreq_server_state(s->xh->dm, s->domid, s->id, 1) < 0)
		return xen_call_failed(s, "xendevicemodel_set_ioreq_server_state(1)");
	s->enabled = true;

	/* Xen writes vp_eport into the slots only now (ioreq_server_enable). */
	for (unsigned int i = 0; i < s->nr_vcpus; i++) {
		uint32_t remote = __atomic_load_n(&s->page->vcpu_ioreq[i].vp_eport,
						  __ATOMIC_RELAXED);
		xenevtchn_port_or_error_t port;

		errno = 0;
		port = xenevtchn_bind_interdomain(s->xce, s->domid, remote);
		if (port < 0) {
			int err = errno ? errno : EIO;

			log_err(s->name, "xenevtchn_bind_interdomain(vCPU %u, remote port %u): %s", i,
				remote, strerror(err));
			return -err;
		}
		s->port[i] = port;
	}

	s->watch.cb = ioreq_event;
	ret = loop_add(s->loop, &s->watch, s->evtchn_fd, EPOLLIN);
	if (ret < 0) {
		log_err(s->name, "cannot watch the event channel fd: %s", strerror(-ret));
		return ret;
	}

	/*
	 * A vCPU may have trapped between set_state(1) and its port being
	 * bound: Xen's notification then went nowhere. Answer it now.
	 */
	ioreq_poll_slots(s);
	log_debug(s->name, "IOREQ server %u enabled", (unsigned int)s->id);
	return 0;
}

void ioreq_server_destroy(struct ioreq_server *s)
{
	bool was_created, guest_gone = false;

	if (!s)
		return;
	was_created = s->created;

	/*
	 * The invalidate target (guest memory) may be torn down before us;
	 * nothing is cached past this point anyway.
	 */
	s->tearing_down = true;
	ioreq_poll_slots(s);
	if (s->loop)
		loop_del(s->loop, &s->watch);

	if (s->enabled) {
		errno = 0;
		if (xendevicemodel_set_ioreq_server_state(s->xh->dm, s->domid, s->id, 0) < 0) {
			guest_gone = errno == ESRCH;
			teardown_call_failed(s, "xendevicemodel_set_ioreq_server_state(0)");
		}
		s->enabled = false;
		/* No new request can arrive now: answer any that raced in. */
		ioreq_poll_slots(s);
	}
	if (!guest_gone) /* a dead guest's vCPUs take nothing */
		ioreq_wait_consumed(s);

	for (unsigned int i = 0; i < s->nr_vcpus; i++) {
		if (s->port[i] < 0)
			continue;
		errno = 0;
		if (xenevtchn_unbind(s->xce, (evtchn_port_t)s->port[i]) < 0)
			teardown_call_failed(s, "xenevtchn_unbind");
		s->port[i] = -1;
	}
	if (s->xce)
		xenevtchn_close(s->xce);
	s->xce = NULL;
	s->evtchn_fd = -1;

	if (s->res) {
		errno = 0;
		if (xenforeignmemory_unmap_resource(s->xh->fmem, s->res) < 0)
			teardown_call_failed(s, "xenforeignmemory_unmap_resource");
	}
	s->res = NULL;
	s->page = NULL;

	if (s->created) {
		errno = 0;
		if (xendevicemodel_destroy_ioreq_server(s->xh->dm, s->domid, s->id) < 0)
			teardown_call_failed(s, "xendevicemodel_destroy_ioreq_server");
		s->created = false;
	}

	if (was_created)
		log_debug(s->name,
			  "IOREQ server %u: %" PRIu64 " requests, %" PRIu64 " bad, %" PRIu64
			  " invalidates, %" PRIu64 " ignored, %" PRIu64 " outside windows, %" PRIu64
			  " spurious events",
			  (unsigned int)s->id, s->requests, s->bad, s->invalidates, s->ignored,
			  s->outside, s->spurious);
	free(s);
}
