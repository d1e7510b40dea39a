/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulated hypervisor's model, shared by the sim_*.c files. One big
 * lock (sim->lock) protects all of it: the server thread takes it for each
 * message, vCPU threads hold it except while they sleep on their condition
 * variable. Functions named sim_*_locked expect it held.
 */
#ifndef XENSIM_SIM_INTERNAL_H
#define XENSIM_SIM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "sim.h"
#include "sim_proto.h"
#include "sim_shared.h"

#define SIM_MAX_SERVERS 8u    /* MAX_NR_IOREQ_SERVERS (xen/include/xen/sched.h) */
#define SIM_MAX_RANGES 256u   /* MAX_NR_IO_RANGES (xen/include/xen/ioreq.h) */
#define SIM_NR_RANGE_TYPES 3u /* XEN_DMOP_IO_RANGE_PORT, _MEMORY, _PCI */
#define SIM_MAX_LPORTS 4096u  /* local ports of all callers together */
#define SIM_EV_TABLE_BYTES (SIM_MAX_LPORTS * sizeof(struct sim_evtchn_shared))
#define SIM_DEFAULT_TIMEOUT_MS 10000u
#define SIM_POLL_MS 1u        /* slot sampling period while a request is pending */

/* The ioreq state lives in the low nibble of byte 30 (xen-interfaces.md §1.1). */
#define SIM_SLOT_STATE_BYTE 30u

struct sim_range {
	uint64_t start, end; /* inclusive */
};

struct sim_rangeset {
	struct sim_range r[SIM_MAX_RANGES]; /* sorted, disjoint, never adjacent */
	unsigned nr;
};

/* One vCPU's slot in one server's ioreq page, as the checker sees it. */
struct sim_slot {
	uint32_t gport;     /* the guest-side event channel (vp_eport) */
	bool waiting;       /* the vCPU is blocked on a request in this slot */
	bool abandoned;     /* given up (timeout, violation): no more checks */
	bool answered;      /* at least one request completed */
	uint32_t seen;      /* the port's notify_seq already accounted for */
	ioreq_t snapshot;   /* contents when the vCPU last left the slot */
};

struct sim_server {
	struct sim_guest *g;
	unsigned id;
	uint64_t emulator;  /* caller identity that created it */
	pid_t emulator_pid;
	bool enabled, dead;
	unsigned refs;      /* vCPUs waiting on it; freed when dead and 0 */
	int page_fd;        /* -1 until the first get_frame */
	shared_iopage_t *page;
	struct sim_rangeset ranges[SIM_NR_RANGE_TYPES];
	struct sim_slot *slots; /* g->nr_vcpus */
};

/* An event channel of the guest, allocated unbound for an emulator. */
struct sim_gport {
	bool used;
	struct sim_server *srv;
	unsigned vcpu;
	uint64_t remote;    /* the caller identity allowed to bind it */
	uint32_t lport;     /* bound local port, 0 if unbound */
};

struct sim_vcpu {
	bool busy;          /* a thread is issuing an access on this vCPU */
	pthread_cond_t cond;
};

struct sim_guest {
	struct sim *sim;
	struct sim_guest *next;
	uint16_t domid;
	unsigned nr_vcpus;
	uint64_t gen;       /* unique per created guest (RAM fd caching) */
	int ram_fd;
	uint8_t *ram;
	uint64_t ram_bytes;
	struct sim_server *servers[SIM_MAX_SERVERS];
	struct sim_gport *gports; /* index = guest port; 0 unused */
	unsigned nr_gports;
	struct sim_vcpu *vcpus;
	int irq_fd;
	struct sim_irq_page *irq; /* shared with libxendevicemodel handles */
	pthread_cond_t state_cond; /* servers enabled, ranges, bindings */
};

/* A local (caller-side) event channel port, bound by one connection. */
struct sim_lport {
	struct sim_conn *conn;
	struct sim_guest *g; /* NULL once the guest side is gone */
	uint32_t gport;
};

struct sim_fmap {
	uint64_t addr, pages;
};

struct sim_rmap {
	uint64_t id;
	uint16_t domid;
	unsigned server;
};

struct sim_conn {
	struct sim *sim;
	struct sim_conn *next;
	int fd;
	pid_t pid;
	uint64_t ident;     /* caller domain: pid, or XENSIM_CALLER_DOMID */
	uint32_t kind;      /* enum sim_kind; 0 before HELLO */
	int ev_wfd;         /* evtchn: sending end of the event socket */
	struct sim_fmap *fmaps;
	size_t nr_fmaps, cap_fmaps;
	uint64_t fpages;
	struct sim_rmap *rmaps;
	size_t nr_rmaps, cap_rmaps;
};

struct sim {
	pthread_mutex_t lock;
	char path[108];
	int listen_fd, epoll_fd, wake_fd;
	pthread_t thread;
	bool thread_started, stopping;
	unsigned timeout_ms;
	struct sim_guest *guests;
	struct sim_conn *conns;
	struct sim_lport *lports[SIM_MAX_LPORTS];
	int ev_table_fd;
	struct sim_evtchn_shared *ev_table; /* [SIM_MAX_LPORTS], see sim_shared.h */
	uint64_t next_res_id, next_gen;
	char **viol;
	unsigned nr_viol, cap_viol;
	struct sim_holdings leaked; /* left behind by closed connections */
	uint64_t sync_req, sync_done;
	pthread_cond_t sync_cond;
	struct xs_server *xs;
	char *xs_path;             /* malloc'd when xs runs */
};

/* sim_core.c */
uint64_t sim_now_ms(void);
void sim_deadline(struct timespec *ts, uint64_t ms_from_now);

/* sim_check.c */
void sim_violation(struct sim *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_slot_snapshot_locked(struct sim_server *s, unsigned vcpu);
bool sim_slot_check_idle_locked(struct sim_server *s, unsigned vcpu, const char *when);
void sim_check_notify_idle_locked(struct sim_server *s, unsigned vcpu, uint32_t lport);
void sim_check_notifies_locked(struct sim_server *s);
void sim_check_all_notifies_locked(struct sim *sim);
void sim_check_conn_closed_locked(struct sim_conn *c);
void sim_check_free(struct sim *sim);

/* sim_guest.c */
struct sim_guest *sim_guest_find_locked(struct sim *sim, uint32_t domid);
int sim_dm_nr_vcpus_locked(struct sim_conn *c, uint32_t domid, uint64_t *out);
int sim_dm_irq_page_locked(struct sim_conn *c, uint32_t domid, int *fd_out);

/* sim_ioreq.c */
int sim_ioreq_create_locked(struct sim_conn *c, uint32_t domid, int64_t bufioreq, uint64_t *id);
int sim_ioreq_info_locked(struct sim_conn *c, uint32_t domid, uint64_t id, bool want_gfns);
int sim_ioreq_range_locked(struct sim_conn *c, uint32_t domid, uint64_t id, uint64_t type,
			   uint64_t start, uint64_t end, bool map);
int sim_ioreq_set_state_locked(struct sim_conn *c, uint32_t domid, uint64_t id, bool enabled);
int sim_ioreq_destroy_locked(struct sim_conn *c, uint32_t domid, uint64_t id);
int sim_ioreq_get_frames_locked(struct sim_conn *c, uint32_t domid, uint64_t id, uint64_t frame,
				uint64_t nr, int *fd_out);
void sim_server_destroy_locked(struct sim_server *s);
void sim_server_put_locked(struct sim_server *s);
struct sim_server *sim_ioreq_select_locked(struct sim_guest *g, const ioreq_t *p, bool enabled);
bool sim_server_serving_locked(struct sim_server *s);

/* sim_evtchn.c */
int sim_gport_alloc_locked(struct sim_guest *g, struct sim_server *s, unsigned vcpu,
			   uint64_t remote, uint32_t *out);
void sim_gport_free_locked(struct sim_guest *g, uint32_t gport);
void sim_gport_send_locked(struct sim_guest *g, uint32_t gport);
int sim_ev_bind_locked(struct sim_conn *c, uint32_t domid, uint64_t remote_port, uint64_t *lport);
int sim_ev_unbind_locked(struct sim_conn *c, uint64_t lport);
void sim_ev_notify_locked(struct sim_conn *c, uint64_t lport);
void sim_ev_redeliver_locked(struct sim_conn *c, uint64_t lport);
int sim_ev_table_locked(struct sim_conn *c, uint64_t *bytes, int *fd_out);
uint32_t *sim_slot_notify_word_locked(struct sim_server *s, unsigned vcpu);
void sim_lport_free_locked(struct sim *sim, uint32_t lport);

/* sim_mem.c */
int sim_fm_guest_ram_locked(struct sim_conn *c, uint32_t domid, uint64_t cached_gen,
			    struct sim_reply *r, int *fd_out);
void sim_fm_map_note_locked(struct sim_conn *c, uint64_t addr, uint64_t pages);
void sim_fm_unmap_note_locked(struct sim_conn *c, uint64_t addr, uint64_t pages);
int sim_fm_map_resource_locked(struct sim_conn *c, uint32_t domid, const uint64_t arg[4],
			       uint64_t *res_id, int *fd_out);
void sim_fm_unmap_resource_locked(struct sim_conn *c, uint64_t res_id);
int sim_fm_resource_size_locked(struct sim_conn *c, uint32_t domid, uint64_t type, uint64_t id,
				uint64_t *bytes);

/* sim_xs.c: the xenstore server, if built in */
int sim_xs_start(struct sim *sim, const char *path);
void sim_xs_stop(struct sim *sim);
void sim_xs_introduce(struct sim *sim, uint16_t domid);
void sim_xs_release(struct sim *sim, uint16_t domid);

/* The state nibble of a shared slot, read and written byte-wide. */
static inline unsigned sim_slot_state(const ioreq_t *p)
{
	const uint8_t *b = (const uint8_t *)p + SIM_SLOT_STATE_BYTE;

	return __atomic_load_n(b, __ATOMIC_ACQUIRE) & 0x0fu;
}

static inline void sim_slot_set_state(ioreq_t *p, unsigned state)
{
	uint8_t *b = (uint8_t *)p + SIM_SLOT_STATE_BYTE;
	uint8_t old = __atomic_load_n(b, __ATOMIC_RELAXED);

	__atomic_store_n(b, (uint8_t)((old & 0xf0u) | (state & 0x0fu)), __ATOMIC_RELEASE);
}

#endif
