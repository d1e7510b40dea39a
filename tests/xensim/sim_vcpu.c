/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A vCPU's trapped access, as Xen 4.17 handles it (ioreq_send and
 * wait_for_io): pick the enabled server claiming the access, require the
 * slot to be NONE with the right vp_eport, copy the request in with state
 * NONE, barrier, set READY, notify the vCPU's port, then block. The vCPU
 * wakes on a notification (and every SIM_POLL_MS to sample the state for
 * the checker): READY/INPROCESS -> keep waiting; IORESP_READY after a
 * notification -> take data, set NONE; a state going backwards or out of
 * range stops the request (Xen crashes the domain).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "sim_internal.h"

static int slot_send_locked(struct sim_server *s, unsigned vcpu, const ioreq_t *req)
{
	struct sim_guest *g = s->g;
	struct sim_slot *slot = &s->slots[vcpu];
	ioreq_t *p;
	ioreq_t q = *req;
	unsigned state;

	if (!s->page) {
		sim_violation(g->sim,
			      "dom%u server %u enabled without its ioreq page ever mapped: vCPU %u "
			      "access to 0x%" PRIx64 " cannot be delivered",
			      g->domid, s->id, vcpu, (uint64_t)req->addr);
		return -EIO;
	}
	p = &s->page->vcpu_ioreq[vcpu];
	sim_check_notifies_locked(s);
	sim_slot_check_idle_locked(s, vcpu, "new request");
	state = sim_slot_state(p);
	if (state != STATE_IOREQ_NONE) {
		sim_violation(g->sim, "dom%u server %u vCPU %u: device model set bad IO state %u",
			      g->domid, s->id, vcpu, state);
		slot->abandoned = true;
		return -EIO;
	}
	if (p->vp_eport != slot->gport) {
		sim_violation(g->sim,
			      "dom%u server %u vCPU %u: device model set bad event channel %u "
			      "(expected %u)",
			      g->domid, s->id, vcpu, p->vp_eport, slot->gport);
		slot->abandoned = true;
		return -EIO;
	}
	q.state = STATE_IOREQ_NONE;
	q.vp_eport = slot->gport;
	memcpy((void *)p, &q, sizeof(q));
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* prepare_wait_on_xen_event_channel() */
	sim_slot_set_state(p, STATE_IOREQ_READY);
	slot->waiting = true;
	slot->abandoned = false;
	s->refs++;
	sim_gport_send_locked(g, slot->gport);
	return 0;
}

/* Ends the wait; the server may be freed here if it died meanwhile. */
static void slot_release_locked(struct sim_server *s, unsigned vcpu, bool abandon)
{
	s->slots[vcpu].waiting = false;
	s->slots[vcpu].abandoned = abandon;
	s->refs--;
	sim_server_put_locked(s);
}

/* Why the daemon may not have seen the request, for the timeout message. */
static const char *port_diagnosis(struct sim_guest *g, uint32_t gport)
{
	uint32_t lport = g->gports[gport].lport;
	struct sim_lport *lp = lport ? g->sim->lports[lport] : NULL;

	if (!lp)
		return ", its event channel is not bound";
	if (__atomic_load_n(&g->sim->ev_table[lport].state, __ATOMIC_ACQUIRE) ==
	    (SIM_EVS_MASKED | SIM_EVS_PENDING))
		return ", its event is pending on a port never unmasked";
	return "";
}

static int slot_wait_locked(struct sim_server *s, unsigned vcpu, ioreq_t *resp)
{
	struct sim_guest *g = s->g;
	struct sim *sim = g->sim;
	struct sim_slot *slot = &s->slots[vcpu];
	ioreq_t *p = &s->page->vcpu_ioreq[vcpu];
	uint64_t deadline = sim_now_ms() + sim->timeout_ms;
	unsigned prev = STATE_IOREQ_READY;
	bool notified = false;

	for (;;) {
		/* Read before the state: a response is written, then notified. */
		uint32_t *word = sim_slot_notify_word_locked(s, vcpu);
		uint32_t seq = word ? __atomic_load_n(word, __ATOMIC_ACQUIRE) : slot->seen;
		unsigned state, wait_ms;
		uint64_t now;

		if (s->dead) {
			sim_violation(sim,
				      "dom%u server %u destroyed while vCPU %u waited for its "
				      "response",
				      g->domid, s->id, vcpu);
			slot_release_locked(s, vcpu, true);
			return -EIO;
		}
		state = sim_slot_state(p);
		if (state > STATE_IORESP_READY || state < prev) {
			sim_violation(sim,
				      "dom%u server %u vCPU %u: %s ioreq state transition %u -> %u",
				      g->domid, s->id, vcpu,
				      state > STATE_IORESP_READY ? "invalid" : "backwards", prev,
				      state);
			slot_release_locked(s, vcpu, true);
			return -EIO;
		}
		prev = state;
		if (seq != slot->seen) {
			slot->seen = seq;
			notified = true;
		}
		if (state == STATE_IORESP_READY && notified) {
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			memcpy(resp, (const void *)p, sizeof(*resp));
			sim_slot_set_state(p, STATE_IOREQ_NONE);
			resp->state = STATE_IOREQ_NONE;
			sim_slot_snapshot_locked(s, vcpu);
			slot->answered = true;
			slot_release_locked(s, vcpu, false);
			return 0;
		}
		/* Xen re-blocks after each wake-up until the next notification. */
		notified = false;
		/* Meanwhile, notifications on the other vCPUs' ports are checked. */
		sim_check_notifies_locked(s);
		now = sim_now_ms();
		if (now >= deadline) {
			sim_violation(sim,
				      "dom%u server %u vCPU %u: no response within %u ms (state %u%s%s)",
				      g->domid, s->id, vcpu, sim->timeout_ms, state,
				      state == STATE_IORESP_READY ? ", IORESP_READY never notified"
								  : "",
				      port_diagnosis(g, slot->gport));
			slot_release_locked(s, vcpu, true);
			return -ETIMEDOUT;
		}
		wait_ms = deadline - now < SIM_POLL_MS ? (unsigned)(deadline - now) : SIM_POLL_MS;
		if (word) {
			/* The emulator's notify wakes this futex directly (sim_shared.h). */
			pthread_mutex_unlock(&sim->lock);
			sim_futex_wait(word, seq, wait_ms);
			pthread_mutex_lock(&sim->lock);
		} else {
			struct timespec ts;

			sim_deadline(&ts, wait_ms);
			pthread_cond_timedwait(&g->vcpus[vcpu].cond, &sim->lock, &ts);
		}
	}
}

static void check_read_width(struct sim_server *s, unsigned vcpu, const ioreq_t *req,
			     const ioreq_t *resp)
{
	if (req->type != IOREQ_TYPE_COPY || req->dir != IOREQ_READ || req->data_is_ptr ||
	    req->size == 0 || req->size >= 8)
		return;
	if (resp->data >> (8u * req->size))
		sim_violation(s->g->sim,
			      "dom%u server %u vCPU %u: %u-byte read at 0x%" PRIx64
			      " answered with 0x%" PRIx64 " (not zero-extended)",
			      s->g->domid, s->id, vcpu, req->size, (uint64_t)req->addr,
			      (uint64_t)resp->data);
}

/*
 * Claims the vCPU for one access. An access from another thread on the
 * same vCPU is a test bug (-EBUSY); an invalidation waits for the vCPU's
 * current access instead, as a real vCPU finishes it before its next
 * hypercall.
 */
static int vcpu_enter_locked(struct sim_guest *g, unsigned vcpu, bool wait)
{
	struct sim *sim = g->sim;
	struct timespec ts;

	if (vcpu >= g->nr_vcpus)
		return -EINVAL;
	sim_deadline(&ts, 2ull * sim->timeout_ms);
	while (g->vcpus[vcpu].busy) {
		if (!wait ||
		    pthread_cond_timedwait(&g->vcpus[vcpu].cond, &sim->lock, &ts) == ETIMEDOUT)
			return -EBUSY;
	}
	g->vcpus[vcpu].busy = true;
	return 0;
}

static void vcpu_leave_locked(struct sim_guest *g, unsigned vcpu)
{
	g->vcpus[vcpu].busy = false;
	pthread_cond_broadcast(&g->vcpus[vcpu].cond);
}

int sim_ioreq_raw(struct sim_guest *g, unsigned vcpu, const ioreq_t *req, ioreq_t *resp)
{
	struct sim *sim = g->sim;
	struct sim_server *s;
	ioreq_t out;
	int rc;

	pthread_mutex_lock(&sim->lock);
	rc = vcpu_enter_locked(g, vcpu, false);
	if (rc)
		goto out;
	s = sim_ioreq_select_locked(g, req, true);
	if (!s) {
		struct sim_server *off = sim_ioreq_select_locked(g, req, false);

		if (off)
			sim_violation(sim,
				      "dom%u vCPU %u: access to 0x%" PRIx64 " before dom%u server %u "
				      "was enabled (data abort on Arm)",
				      g->domid, vcpu, (uint64_t)req->addr, g->domid, off->id);
		rc = -EFAULT;
	} else {
		rc = slot_send_locked(s, vcpu, req);
		if (!rc)
			rc = slot_wait_locked(s, vcpu, &out);
		if (!rc) {
			check_read_width(s, vcpu, req, &out);
			if (resp)
				*resp = out;
		}
	}
	vcpu_leave_locked(g, vcpu);
out:
	pthread_mutex_unlock(&sim->lock);
	return rc;
}

static int mmio(struct sim_guest *g, unsigned vcpu, uint64_t addr, unsigned size, bool write,
		uint64_t *val)
{
	ioreq_t req = {
		.addr = addr,
		.data = write ? *val : 0,
		.count = 1,
		.size = size,
		.dir = write ? IOREQ_WRITE : IOREQ_READ,
		.type = IOREQ_TYPE_COPY,
	};
	ioreq_t resp;
	int rc;

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return -EINVAL;
	rc = sim_ioreq_raw(g, vcpu, &req, &resp);
	if (!rc && !write)
		*val = resp.data;
	return rc;
}

int sim_mmio_read(struct sim_guest *g, unsigned vcpu, uint64_t addr, unsigned size, uint64_t *val)
{
	return mmio(g, vcpu, addr, size, false, val);
}

int sim_mmio_write(struct sim_guest *g, unsigned vcpu, uint64_t addr, unsigned size, uint64_t val)
{
	if (size < 8)
		val &= (1ull << (8u * size)) - 1;
	return mmio(g, vcpu, addr, size, true, &val);
}

/* send_invalidate_ioreq(): ioreq_broadcast() then wait for every server. */
int sim_invalidate(struct sim_guest *g)
{
	struct sim *sim = g->sim;
	ioreq_t req = {
		.size = 4,
		.count = 1,
		.dir = IOREQ_WRITE,
		.data = ~0ull,
		.type = IOREQ_TYPE_INVALIDATE,
	};
	struct sim_server *sent[SIM_MAX_SERVERS];
	unsigned n = 0;
	int rc;

	pthread_mutex_lock(&sim->lock);
	rc = vcpu_enter_locked(g, 0, true);
	if (rc)
		goto out;
	for (unsigned id = SIM_MAX_SERVERS; id-- > 0;) {
		struct sim_server *s = g->servers[id];

		if (s && s->enabled && slot_send_locked(s, 0, &req) == 0)
			sent[n++] = s;
	}
	for (unsigned i = 0; i < n; i++) {
		ioreq_t resp;
		int r = slot_wait_locked(sent[i], 0, &resp);

		if (r && !rc)
			rc = r;
	}
	vcpu_leave_locked(g, 0);
out:
	pthread_mutex_unlock(&sim->lock);
	return rc;
}
