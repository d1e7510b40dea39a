/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Event channels between a guest's ioreq slots and an emulator: guest-side
 * ports allocated unbound for the server's creator (as
 * alloc_unbound_xen_event_channel does), binding them to local ports
 * (EVTCHNOP_bind_interdomain, which marks the new port pending), delivery
 * into the binder's event socket with the Linux evtchn driver's masking
 * (masked on delivery; a notification while masked is delivered at
 * unmask), and notifications from the emulator waking the vCPU.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

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

static void lport_deliver_locked(struct sim *sim, uint32_t port)
{
	struct sim_lport *lp = sim->lports[port];

	if (lp->masked) {
		lp->pending = true;
		return;
	}
	lp->masked = true;
	lp->pending = false;
	if (send(lp->conn->ev_wfd, &port, sizeof(port), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(port) && errno != EPIPE && errno != ECONNRESET)
		sim_violation(sim, "pid %d: event queue full, event on local port %u lost",
			      (int)lp->conn->pid, port);
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

void sim_ev_notify_locked(struct sim_conn *c, uint64_t lport)
{
	struct sim *sim = c->sim;
	struct sim_lport *lp = lport < SIM_MAX_LPORTS ? sim->lports[lport] : NULL;
	struct sim_gport *gp;
	struct sim_slot *slot;

	if (!lp || lp->conn != c) {
		sim_violation(sim, "pid %d: notification on local port %llu, not bound by this "
			      "handle", (int)c->pid, (unsigned long long)lport);
		return;
	}
	if (!lp->g)
		return; /* the guest side is gone: Xen drops it */
	gp = &lp->g->gports[lp->gport];
	slot = &gp->srv->slots[gp->vcpu];
	slot->notifies++;
	if (slot->waiting)
		pthread_cond_broadcast(&lp->g->vcpus[gp->vcpu].cond);
	else
		sim_check_notify_idle_locked(gp->srv, gp->vcpu, (uint32_t)lport);
}

void sim_ev_unmask_locked(struct sim_conn *c, uint64_t lport)
{
	struct sim *sim = c->sim;
	struct sim_lport *lp = lport < SIM_MAX_LPORTS ? sim->lports[lport] : NULL;

	/* The Linux driver ignores unmasking a port the file did not bind. */
	if (!lp || lp->conn != c || !lp->masked)
		return;
	lp->masked = false;
	if (lp->pending)
		lport_deliver_locked(sim, (uint32_t)lport);
}
