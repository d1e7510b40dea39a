/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The wire protocol between the stand-in Xen libraries (stub_*.c, loaded
 * into the daemon through LD_LIBRARY_PATH) and the simulator (sim_*.c).
 *
 * Transport: a SOCK_SEQPACKET Unix socket at $XENSIM_SOCKET. Every open
 * library handle is its own connection and starts with SIM_OP_HELLO. Each
 * message is one fixed-size struct sim_msg; synchronous operations get one
 * struct sim_reply back, carrying at most one file descriptor (SCM_RIGHTS):
 * the event socket, guest RAM's memfd or an ioreq page's memfd. "Posted"
 * operations (redelivery, mapping notes) get no reply: they are
 * validated by the stand-in where the real library would fail, and the
 * simulator checks them in order with everything else on that connection.
 *
 * Event channels: the simulator writes each delivered local port (4 bytes)
 * into a stream socket whose other end is the handle's xenevtchn_fd(),
 * exactly what /dev/xen/evtchn returns on read(); the port stays masked
 * until the stand-in unmasks it. Notify, unmask and set_irq_level are done
 * in shared memory by the caller, as hypercalls are (sim_shared.h).
 */
#ifndef XENSIM_SIM_PROTO_H
#define XENSIM_SIM_PROTO_H

#include <stdint.h>

#define SIM_PROTO_MAGIC 0x78656e73u /* "xens" */
#define SIM_PROTO_VERSION 2u
#define SIM_PAGE_SHIFT 12
#define SIM_PAGE_SIZE (1u << SIM_PAGE_SHIFT)

/* Environment: socket path; optional caller domain (see sim.h). */
#define SIM_ENV_SOCKET "XENSIM_SOCKET"
#define SIM_ENV_CALLER_DOMID "XENSIM_CALLER_DOMID"

enum sim_kind {
	SIM_KIND_DM = 1,
	SIM_KIND_FMEM,
	SIM_KIND_EVTCHN,
	SIM_KIND_GNTTAB,
	SIM_KIND_GNTSHR,
};

/* arg[] use per op; "-> " is the reply's val[] / fd. */
enum sim_op {
	/* arg0 magic, arg1 version, arg2 kind, arg3 caller domid + 1 (0: none)
	 * -> evtchn: fd = receiving end of the event socket */
	SIM_OP_HELLO = 1,

	/* libxendevicemodel; domid is the target guest */
	SIM_OP_DM_NR_VCPUS,        /* -> val0 vcpus */
	SIM_OP_DM_CREATE_SERVER,   /* arg0 handle_bufioreq (int) -> val0 id */
	SIM_OP_DM_SERVER_INFO,     /* arg0 id, arg1 gfns wanted */
	SIM_OP_DM_MAP_RANGE,       /* arg0 id, arg1 type, arg2 start, arg3 end */
	SIM_OP_DM_UNMAP_RANGE,     /* same */
	SIM_OP_DM_SET_STATE,       /* arg0 id, arg1 enabled */
	SIM_OP_DM_DESTROY_SERVER,  /* arg0 id */
	SIM_OP_DM_IRQ_PAGE,        /* -> fd: the guest's struct sim_irq_page, on
				    * which the stand-in sets interrupt levels */

	/* libxenforeignmemory */
	SIM_OP_FM_GUEST_RAM,       /* arg0 generation cached (0: none)
				    * -> val0 generation, val1 base, val2 bytes,
				    *    fd when the generation differs */
	SIM_OP_FM_MAP_NOTE,        /* posted: arg0 addr, arg1 pages */
	SIM_OP_FM_UNMAP_NOTE,      /* posted: arg0 addr, arg1 pages */
	SIM_OP_FM_MAP_RESOURCE,    /* arg0 type, arg1 id, arg2 frame, arg3 nr
				    * -> val0 resource id, fd */
	SIM_OP_FM_UNMAP_RESOURCE,  /* posted: arg0 resource id */
	SIM_OP_FM_RESOURCE_SIZE,   /* arg0 type, arg1 id -> val0 bytes */

	/* libxenevtchn */
	SIM_OP_EV_BIND_INTERDOMAIN, /* arg0 remote port -> val0 local port */
	SIM_OP_EV_UNBIND,          /* arg0 local port */
	SIM_OP_EV_NOTIFY,          /* posted: arg0 local port (a refused notify,
				    * reported for the checker) */
	SIM_OP_EV_REDELIVER,       /* posted: arg0 local port, unmasked while
				    * pending (see sim_shared.h) */
	SIM_OP_EV_TABLE,           /* -> fd: struct sim_evtchn_shared
				    *    [SIM_MAX_LPORTS], val0 bytes */
};

struct sim_msg {
	uint32_t op;
	uint32_t domid;
	uint64_t arg[4];
};

struct sim_reply {
	int32_t ret; /* 0 or -errno */
	uint32_t has_fd;
	uint64_t val[3];
};

#endif
