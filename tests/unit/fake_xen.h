/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fake libxendevicemodel / libxenforeignmemory / libxenevtchn for unit
 * tests of src/xen: linked instead of the real libraries. Every call is
 * recorded in order with its arguments; any call can be made to fail.
 *
 * Guest RAM is a memfd: RAM regions are added with fake_ram_add(), foreign
 * mappings are real MAP_SHARED mappings of the memfd (pages outside guest
 * RAM are left PROT_NONE and reported in err[]), and the test sees the same
 * bytes through fake_ram_ptr(). One IOREQ server page at a time is
 * simulated: fake_guest_request() fills a vCPU's slot as Xen does and
 * sends the event on that vCPU's port.
 */
#ifndef XVB_TEST_FAKE_XEN_H
#define XVB_TEST_FAKE_XEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/hvm/ioreq.h>

enum fake_call {
	FAKE_DM_OPEN,
	FAKE_DM_CLOSE,
	FAKE_NR_VCPUS,
	FAKE_CREATE_SERVER, /* a0 domid, a1 handle_bufioreq, a2 id given */
	FAKE_MAP_RANGE,     /* a0 domid, a1 id, a2 is_mmio, a3 start, a4 end */
	FAKE_UNMAP_RANGE,   /* same */
	FAKE_SET_STATE,     /* a0 domid, a1 id, a2 enabled */
	FAKE_DESTROY_SERVER, /* a0 domid, a1 id */
	FAKE_SET_IRQ,       /* a0 domid, a1 irq, a2 level */
	FAKE_SET_ISA_IRQ,   /* a0 domid, a1 irq, a2 level */
	FAKE_FMEM_OPEN,
	FAKE_FMEM_CLOSE,
	FAKE_MAP,           /* a0 domid, a1 prot, a2 pages, a3 first gfn, a4 err given, a5 va */
	FAKE_UNMAP,         /* a0 va, a1 pages, a2 matched a mapping exactly */
	FAKE_MAP_RESOURCE,  /* a0 domid, a1 type, a2 id, a3 frame, a4 nr_frames, a5 prot */
	FAKE_UNMAP_RESOURCE,
	FAKE_EVTCHN_OPEN,
	FAKE_EVTCHN_CLOSE,
	FAKE_BIND,          /* a0 domid, a1 remote port, a2 local port (or -1) */
	FAKE_UNBIND,        /* a0 local port */
	FAKE_PENDING,       /* a0 port returned (or -1) */
	FAKE_UNMASK,        /* a0 local port */
	FAKE_NOTIFY,        /* a0 local port, a1 slot state at notify time (or 0xff) */
	FAKE_CALL_COUNT
};

struct fake_call_rec {
	enum fake_call call;
	uint64_t a[6];
	int err; /* errno of a failed call, 0 on success */
};

#define FAKE_RAM_MAX (64u << 20) /* bytes of guest RAM the memfd can back */
#define FAKE_REMOTE_PORT_BASE 100u /* vp_eport of vCPU i = BASE + i */
#define FAKE_LOCAL_PORT_BASE 40u

/* Forget everything: no RAM, 2 vCPUs, domid-agnostic, nothing failing. */
void fake_xen_reset(void);

/* Call log. */
size_t fake_calls(void);
const struct fake_call_rec *fake_call(size_t i);
unsigned fake_count(enum fake_call c);
/* Index in the log of the nth (0-based) call of kind c, or -1. */
long fake_find(enum fake_call c, unsigned nth);
/* The nth recorded call of kind c (NULL if none). */
const struct fake_call_rec *fake_nth(enum fake_call c, unsigned nth);

/* Calls of kind c fail with err after `after` more successful ones (err 0: never). */
void fake_fail(enum fake_call c, int err, unsigned after);

void fake_set_nr_vcpus(unsigned n);

/* Guest RAM. */
void fake_ram_add(uint64_t gpa, uint64_t size); /* page-aligned */
void fake_ram_set_readonly(uint64_t gpa, uint64_t size); /* maps only without PROT_WRITE */
void *fake_ram_ptr(uint64_t gpa); /* the test's own view; NULL if not RAM */
unsigned fake_live_maps(void);    /* foreign mappings not unmapped yet */
unsigned fake_bad_unmaps(void);   /* unmaps that matched no mapping exactly */

/* The IOREQ server and its page. */
bool fake_server_exists(void);
bool fake_server_enabled(void);
ioreq_t *fake_slot(unsigned vcpu); /* NULL while the page is not mapped */
/* The last answer vCPU took while the daemon waited at teardown, or NULL. */
const ioreq_t *fake_taken_answer(unsigned vcpu);
/* Fill vCPU's slot like Xen (state NONE, fields, then READY) and send the event. */
void fake_guest_request(unsigned vcpu, const ioreq_t *req);
/* Just send vCPU's event (spurious wake-up). */
void fake_guest_kick(unsigned vcpu);
int fake_local_port(unsigned vcpu); /* -1 if unbound */
unsigned fake_notifies(int local_port);
unsigned fake_bound_ports(void);
unsigned fake_open_evtchns(void);

/* Capture what the code logs to stderr. */
void fake_log_capture_begin(void);
/* Stop capturing; returns the captured text (static buffer, NUL-terminated). */
const char *fake_log_capture_end(void);

#endif
