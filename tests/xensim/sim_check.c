/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The protocol checker: the list of violations, the idle-slot watch (a
 * slot must not change while its vCPU is not waiting), the diagnosis of a
 * notification that finds no request pending, and the leak checks when a
 * connection closes. The in-flight checks (state order, timeouts) are in
 * sim_vcpu.c, where the vCPU waits.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

void sim_violation(struct sim *sim, const char *fmt, ...)
{
	va_list ap;
	char *line = NULL;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	fprintf(stderr, "xensim: VIOLATION: %s\n", line ? line : fmt);
	if (!line)
		return;
	if (sim->nr_viol == sim->cap_viol) {
		unsigned cap = sim->cap_viol ? sim->cap_viol * 2 : 16;
		char **v = realloc(sim->viol, cap * sizeof(*v));

		if (!v) {
			free(line);
			return;
		}
		sim->viol = v;
		sim->cap_viol = cap;
	}
	sim->viol[sim->nr_viol++] = line;
}

unsigned sim_violations(struct sim *sim, char *buf, size_t len)
{
	unsigned n;
	size_t used = 0;

	sim_sync(sim);
	pthread_mutex_lock(&sim->lock);
	sim_check_all_notifies_locked(sim);
	n = sim->nr_viol;
	if (buf && len) {
		buf[0] = '\0';
		for (unsigned i = 0; i < n && used + 1 < len; i++) {
			int w = snprintf(buf + used, len - used, "%s\n", sim->viol[i]);

			if (w < 0)
				break;
			used += (size_t)w < len - used ? (size_t)w : len - used - 1;
		}
	}
	pthread_mutex_unlock(&sim->lock);
	return n;
}

void sim_check_free(struct sim *sim)
{
	for (unsigned i = 0; i < sim->nr_viol; i++)
		free(sim->viol[i]);
	free(sim->viol);
	sim->viol = NULL;
	sim->nr_viol = sim->cap_viol = 0;
}

static ioreq_t slot_read(const ioreq_t *p)
{
	ioreq_t v;

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	memcpy(&v, (const void *)p, sizeof(v));
	return v;
}

void sim_slot_snapshot_locked(struct sim_server *s, unsigned vcpu)
{
	if (s->page)
		s->slots[vcpu].snapshot = slot_read(&s->page->vcpu_ioreq[vcpu]);
}

static const char *slot_diff(const ioreq_t *a, const ioreq_t *b)
{
	const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;

	if (x[SIM_SLOT_STATE_BYTE] != y[SIM_SLOT_STATE_BYTE])
		return (x[SIM_SLOT_STATE_BYTE] & 0xf) != (y[SIM_SLOT_STATE_BYTE] & 0xf) ? "state"
											  : "flags";
	if (a->addr != b->addr)
		return "addr";
	if (a->data != b->data)
		return "data";
	if (a->count != b->count || a->size != b->size)
		return "count/size";
	if (a->vp_eport != b->vp_eport)
		return "vp_eport";
	if (memcmp(a, b, sizeof(*a)) != 0)
		return "type/padding";
	return NULL;
}

/*
 * A slot whose vCPU is not waiting belongs to Xen: the device model must
 * not write it. Returns false (and records it once) if it changed.
 */
bool sim_slot_check_idle_locked(struct sim_server *s, unsigned vcpu, const char *when)
{
	struct sim_slot *slot = &s->slots[vcpu];
	ioreq_t now;
	const char *what;

	if (!s->page || slot->waiting || slot->abandoned)
		return true;
	now = slot_read(&s->page->vcpu_ioreq[vcpu]);
	what = slot_diff(&now, &slot->snapshot);
	if (!what)
		return true;
	if (sim_slot_state(&now) == STATE_IORESP_READY)
		sim_violation(s->g->sim,
			      "dom%u server %u vCPU %u: %s: IORESP_READY written with no request "
			      "pending (%s)",
			      s->g->domid, s->id, vcpu, when,
			      slot->answered ? "a response twice" : "a response without a request");
	else
		sim_violation(s->g->sim,
			      "dom%u server %u vCPU %u: %s: slot written while the vCPU is not "
			      "waiting (%s changed, state %u -> %u)",
			      s->g->domid, s->id, vcpu, when, what, sim_slot_state(&slot->snapshot),
			      sim_slot_state(&now));
	slot->snapshot = now; /* report each change once */
	return false;
}

/*
 * A notification arrived on vCPU vcpu's port while that vCPU waits for
 * nothing: a second response, a response on the wrong vCPU's port, or a
 * spurious notification.
 */
void sim_check_notify_idle_locked(struct sim_server *s, unsigned vcpu, uint32_t lport)
{
	struct sim_guest *g = s->g;

	if (s->slots[vcpu].abandoned || !sim_slot_check_idle_locked(s, vcpu, "notification"))
		return;
	for (unsigned v = 0; s->page && v < g->nr_vcpus; v++) {
		if (v == vcpu || !s->slots[v].waiting)
			continue;
		if (sim_slot_state(&s->page->vcpu_ioreq[v]) == STATE_IORESP_READY) {
			sim_violation(g->sim,
				      "dom%u server %u: vCPU %u's response notified on vCPU %u's "
				      "port (local port %u)",
				      g->domid, s->id, v, vcpu, lport);
			return;
		}
	}
	sim_violation(g->sim,
		      "dom%u server %u vCPU %u: notification on local port %u with no request "
		      "pending (spurious or wrong vCPU's port)",
		      g->domid, s->id, vcpu, lport);
}

/*
 * Notifications are counted in shared memory by the emulator's own thread
 * (sim_shared.h), so the checker looks at them here: whenever a vCPU of
 * the server sends or waits, and at every sim_sync(). A notification on
 * the port of a vCPU that waits for nothing is reported as
 * sim_check_notify_idle_locked() says; a waiting vCPU accounts for its own.
 */
void sim_check_notifies_locked(struct sim_server *s)
{
	for (unsigned v = 0; v < s->g->nr_vcpus; v++) {
		struct sim_slot *slot = &s->slots[v];
		uint32_t *word = sim_slot_notify_word_locked(s, v);
		uint32_t seq;

		if (!word || slot->waiting)
			continue;
		seq = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		if (seq == slot->seen)
			continue;
		slot->seen = seq;
		sim_check_notify_idle_locked(s, v, s->g->gports[slot->gport].lport);
	}
}

void sim_check_all_notifies_locked(struct sim *sim)
{
	for (struct sim_guest *g = sim->guests; g; g = g->next) {
		for (unsigned i = 0; i < SIM_MAX_SERVERS; i++) {
			if (g->servers[i])
				sim_check_notifies_locked(g->servers[i]);
		}
	}
}

static bool ident_connected_locked(struct sim *sim, uint64_t ident)
{
	for (struct sim_conn *c = sim->conns; c; c = c->next) {
		if (c->ident == ident)
			return true;
	}
	return false;
}

/* A connection closed (handle closed or process exit): what it still held leaked. */
void sim_check_conn_closed_locked(struct sim_conn *c)
{
	struct sim *sim = c->sim;

	for (uint32_t p = 1; p < SIM_MAX_LPORTS; p++) {
		struct sim_lport *lp = sim->lports[p];

		if (!lp || lp->conn != c)
			continue;
		sim_violation(sim,
			      "leak: pid %d closed an event channel handle with local port %u still "
			      "bound (dom%d port %u)",
			      (int)c->pid, p, lp->g ? (int)lp->g->domid : -1, lp->gport);
		sim->leaked.bound_ports++;
		sim_lport_free_locked(sim, p);
	}
	for (size_t i = 0; i < c->nr_fmaps; i++) {
		sim_violation(sim,
			      "leak: pid %d closed a foreign memory handle with %" PRIu64
			      " pages at 0x%" PRIx64 " still mapped",
			      (int)c->pid, c->fmaps[i].pages, c->fmaps[i].addr);
		sim->leaked.foreign_pages += (unsigned)c->fmaps[i].pages;
	}
	c->nr_fmaps = 0;
	c->fpages = 0;
	for (size_t i = 0; i < c->nr_rmaps; i++) {
		sim_violation(sim,
			      "leak: pid %d closed a foreign memory handle with the ioreq page of "
			      "dom%u server %u still mapped",
			      (int)c->pid, c->rmaps[i].domid, c->rmaps[i].server);
		sim->leaked.resource_maps++;
	}
	c->nr_rmaps = 0;

	/* Servers outlive their creator in Xen; when the caller is gone for
	 * good (no connection of that identity left) they are leaks. */
	if (c->kind == 0 || ident_connected_locked(sim, c->ident))
		return;
	for (struct sim_guest *g = sim->guests; g; g = g->next) {
		for (unsigned i = 0; i < SIM_MAX_SERVERS; i++) {
			struct sim_server *s = g->servers[i];

			if (s && s->emulator == c->ident)
				sim_violation(sim,
					      "leak: dom%u ioreq server %u not destroyed by its "
					      "emulator (pid %d), which has gone",
					      g->domid, s->id, (int)s->emulator_pid);
		}
	}
}
