/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Event channels between a guest's ioreq slots and an emulator: guest-side
 * ports allocated unbound for the server's creator (as
 * alloc_unbound_xen_event_channel does), binding them to local ports
 * (EVTCHNOP_bind_interdomain, which marks the new port pending), delivery
 * into the binder's event socket with the Linux evtchn driver's masking
 * (masked on delivery; a notification while masked is delivered at
 * unmask), and notifications from the emulator waking the vCPU. Masking
 * and notifications live in the table shared with the stand-in
 * libxenevtchn (sim_shared.h), which unmasks and notifies by itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim_internal.h"

int sim_gport_alloc_locked(struct sim_guest *g, struct sim_server *s, unsigned vcpu,
			   uint64_t remote, uint32_t *out)
{
	uint32_t p;

	for (p = 1; p < g->nr_gports && g->gports[p].used; p++)
		;
	if (p >= g->nr_gports) {
		unsigned n = g->nr_gports ? g->nr_gports * 2 : 64;
		struct sim_gport *t = realloc(g->gports, n * sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (unsigned i = g->nr_gports; i < n; i++)
			t[i] = (struct sim_gport){ .used = false };
		g->gports = t;
		p = g->nr_gports ? g->nr_gports : 1;
		g->nr_gports = n;
	}
	g->gports[p] = (struct sim_gport){ .used = true, .srv = s, .vcpu = vcpu, .remote = remote };
	*out = p;
	return 0;
}

/* free_xen_event_channel: the bound local port, if any, loses its remote end. */
void sim_gport_free_locked(struct sim_guest *g, uint32_t gport)
{
	struct sim_gport *gp;

	if (gport == 0 || gport >= g->nr_gports || !g->gports[gport].used)
		return;
	gp = &g->gports[gport];
	if (gp->lport && g->sim->lports[gp->lport])
		g->sim->lports[gp->lport]->g = NULL;
	*gp = (struct sim_gport){ .used = false };
}

static void lport_send_locked(struct sim *sim, uint32_t port)
{
	struct sim_lport *lp = sim->lports[port];

	if (send(lp->conn->ev_wfd, &port, sizeof(port), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(port) && errno != EPIPE && errno != ECONNRESET)
		sim_violation(sim, "pid %d: event queue full, event on local port %u lost",
			      (int)lp->conn->pid, port);
}

/* Masked: remembered as pending; else masked and written to the socket. */
static void lport_deliver_locked(struct sim *sim, uint32_t port)
{
	uint32_t *state = &sim->ev_table[port].state;
	uint32_t old = __atomic_load_n(state, __ATOMIC_ACQUIRE);

	for (;;) {
		uint32_t want = old & SIM_EVS_MASKED ? old | SIM_EVS_PENDING : SIM_EVS_MASKED;

		if (__atomic_compare_exchange_n(state, &old, want, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
	}
	if (!(old & SIM_EVS_MASKED))
		lport_send_locked(sim, port);
}

/* notify_via_xen_event_channel(): lost if nobody bound the port. */
void sim_gport_send_locked(struct sim_guest *g, uint32_t gport)
{
	struct sim_gport *gp;

	if (gport == 0 || gport >= g->nr_gports || !g->gports[gport].used)
		return;
	gp = &g->gports[gport];
	if (gp->lport && g->sim->lports[gp->lport])
		lport_deliver_locked(g->sim, gp->lport);
}

void sim_lport_free_locked(struct sim *sim, uint32_t lport)
{
	struct sim_lport *lp = sim->lports[lport];

	if (!lp)
		return;
	if (lp->g && lp->gport < lp->g->nr_gports && lp->g->gports[lp->gport].lport == lport) {
		lp->g->gports[lp->gport].lport = 0; /* back to unbound */
		pthread_cond_broadcast(&lp->g->state_cond);
	}
	free(lp);
	sim->lports[lport] = NULL;
}

int sim_ev_bind_locked(struct sim_conn *c, uint32_t domid, uint64_t remote_port, uint64_t *out)
{
	struct sim *sim = c->sim;
	struct sim_guest *g;
	struct sim_gport *gp;
	struct sim_lport *lp;
	uint32_t p;

	if (c->kind != SIM_KIND_EVTCHN)
		return -EBADF;
	g = sim_guest_find_locked(sim, domid);
	if (!g)
		return -ESRCH;
	/* evtchn_bind_interdomain: the remote port must be unbound and
	 * reserved for the caller's domain. */
	if (remote_port == 0 || remote_port >= g->nr_gports || !g->gports[remote_port].used)
		return -EINVAL;
	gp = &g->gports[remote_port];
	if (gp->lport || gp->remote != c->ident)
		return -EINVAL;
	for (p = 1; p < SIM_MAX_LPORTS && sim->lports[p]; p++)
		;
	if (p == SIM_MAX_LPORTS)
		return -ENOSPC;
	lp = calloc(1, sizeof(*lp));
	if (!lp)
		return -ENOMEM;
	lp->conn = c;
	lp->g = g;
	lp->gport = (uint32_t)remote_port;
	sim->lports[p] = lp;
	gp->lport = p;
	__atomic_store_n(&sim->ev_table[p].state, 0u, __ATOMIC_RELEASE);
	gp->srv->slots[gp->vcpu].seen = __atomic_load_n(&sim->ev_table[p].notify_seq,
							__ATOMIC_ACQUIRE);
	*out = p;
	/* "We may have lost notifications on the remote unbound port": Xen
	 * always sets the new local port pending. */
	lport_deliver_locked(sim, p);
	pthread_cond_broadcast(&g->state_cond);
	return 0;
}

int sim_ev_unbind_locked(struct sim_conn *c, uint64_t lport)
{
	struct sim *sim = c->sim;

	if (lport == 0 || lport >= SIM_MAX_LPORTS)
		return -EINVAL;
	if (!sim->lports[lport] || sim->lports[lport]->conn != c)
		return -ENOTCONN;
	sim_lport_free_locked(sim, (uint32_t)lport);
	return 0;
}

/*
 * A notification the stand-in refused (a port this handle did not bind),
 * posted so that it is reported; bound ports are notified in shared memory.
 */
void sim_ev_notify_locked(struct sim_conn *c, uint64_t lport)
{
	struct sim *sim = c->sim;
	struct sim_lport *lp = lport < SIM_MAX_LPORTS ? sim->lports[lport] : NULL;

	if (!lp || lp->conn != c) {
		sim_violation(sim, "pid %d: notification on local port %llu, not bound by this "
			      "handle", (int)c->pid, (unsigned long long)lport);
		return;
	}
	sim_futex_bump(&sim->ev_table[lport].notify_seq);
}

/* The stand-in unmasked a port with an event pending: deliver it now. */
void sim_ev_redeliver_locked(struct sim_conn *c, uint64_t lport)
{
	struct sim *sim = c->sim;
	struct sim_lport *lp = lport < SIM_MAX_LPORTS ? sim->lports[lport] : NULL;

	/* The Linux driver ignores unmasking a port the file did not bind. */
	if (!lp || lp->conn != c)
		return;
	lport_send_locked(sim, (uint32_t)lport);
}

int sim_ev_table_locked(struct sim_conn *c, uint64_t *bytes, int *fd_out)
{
	if (c->kind != SIM_KIND_EVTCHN)
		return -EBADF;
	*fd_out = c->sim->ev_table_fd;
	*bytes = SIM_EV_TABLE_BYTES;
	return 0;
}

/* The word a vCPU waiting in this slot sleeps on; NULL if its port is unbound. */
uint32_t *sim_slot_notify_word_locked(struct sim_server *s, unsigned vcpu)
{
	uint32_t gport = s->slots[vcpu].gport;
	uint32_t lport;

	if (gport == 0 || gport >= s->g->nr_gports || !s->g->gports[gport].used)
		return NULL;
	lport = s->g->gports[gport].lport;
	if (!lport || !s->g->sim->lports[lport])
		return NULL;
	return &s->g->sim->ev_table[lport].notify_seq;
}
