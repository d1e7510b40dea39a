/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stand-in libxenevtchn.so.1, shaped like the Linux /dev/xen/evtchn
 * implementation: xenevtchn_fd() is the receiving end of a socket the simulator
 * writes delivered ports into (pollable, O_NONBLOCK as the caller sets
 * it); pending() reads one port; unmask() and notify() are posted to the
 * simulator, which models the masking. Ports this handle did not bind are
 * refused as the driver refuses them (ENOTCONN), and still reported so
 * the checker sees the attempt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>

#include "sim_shared.h"
#include "stub_common.h"

struct xenevtchn_handle {
	struct stub_conn conn;
	int fd; /* event socket, receiving end */
	struct sim_evtchn_shared *table; /* indexed by local port */
	size_t table_bytes;
	Xentoolcore__Active_Handle tc_ah;
	pthread_mutex_t lock; /* bound[] */
	int restrict_domid;   /* -1: unrestricted */
	evtchn_port_t *bound;
	unsigned nr_bound, cap_bound;
};

#define EVTCHN_RESTRICT_NONE (-1)

static int ev_restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
	xenevtchn_handle *h =
		(xenevtchn_handle *)((char *)ah - offsetof(xenevtchn_handle, tc_ah));

	return xenevtchn_restrict(h, domid);
}

static int map_table(xenevtchn_handle *h)
{
	struct sim_msg m = { .op = SIM_OP_EV_TABLE };
	struct sim_reply r;
	int fd, rc = stub_call(&h->conn, &m, &r, &fd);

	if (rc)
		return rc;
	if (fd < 0)
		return -EPROTO;
	h->table_bytes = (size_t)r.val[0];
	h->table = mmap(NULL, h->table_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rc = h->table == MAP_FAILED ? -errno : 0;
	close(fd);
	if (rc)
		h->table = NULL;
	return rc;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
	xenevtchn_handle *h = calloc(1, sizeof(*h));
	int rc;

	(void)logger;
	if (!h)
		return NULL;
	rc = stub_conn_open(&h->conn, SIM_KIND_EVTCHN, "libxenevtchn", &h->fd);
	if (!rc && h->fd < 0) {
		stub_conn_close(&h->conn);
		rc = -EPROTO;
	}
	if (rc) {
		free(h);
		errno = -rc;
		return NULL;
	}
	rc = map_table(h);
	if (rc) {
		stub_conn_close(&h->conn);
		close(h->fd);
		free(h);
		errno = -rc;
		return NULL;
	}
	if (flags & XENEVTCHN_NO_CLOEXEC)
		fcntl(h->fd, F_SETFD, 0);
	pthread_mutex_init(&h->lock, NULL);
	h->restrict_domid = EVTCHN_RESTRICT_NONE;
	h->tc_ah.restrict_callback = ev_restrict_cb;
	xentoolcore__register_active_handle(&h->tc_ah);
	return h;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
				   unsigned open_flags)
{
	(void)logger, (void)fd, (void)open_flags;
	stub_not_simulated(__func__, ENOSYS);
	return NULL;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	if (!xce)
		return 0;
	xentoolcore__deregister_active_handle(&xce->tc_ah);
	stub_conn_close(&xce->conn);
	close(xce->fd);
	munmap(xce->table, xce->table_bytes);
	free(xce->bound);
	pthread_mutex_destroy(&xce->lock);
	free(xce);
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->fd;
}

static bool is_bound(xenevtchn_handle *h, evtchn_port_t port)
{
	bool found = false;

	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < h->nr_bound && !found; i++)
		found = h->bound[i] == port;
	pthread_mutex_unlock(&h->lock);
	return found;
}

/* EVTCHNOP_send: the waiting vCPU sleeps on the port's notify_seq. */
int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct sim_msg m = { .op = SIM_OP_EV_NOTIFY, .arg = { port } };
	int rc;

	if (is_bound(xce, port)) {
		sim_futex_bump(&xce->table[port].notify_seq);
		return 0;
	}
	rc = stub_post(&xce->conn, &m); /* for the checker: it reports the attempt */
	return stub_fail(rc ? rc : -ENOTCONN);
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
						     evtchn_port_t remote_port)
{
	struct sim_msg m = { .op = SIM_OP_EV_BIND_INTERDOMAIN, .domid = domid, .arg = { remote_port } };
	struct sim_reply r;
	evtchn_port_t port;
	int rc;

	if (xce->restrict_domid != EVTCHN_RESTRICT_NONE && (uint32_t)xce->restrict_domid != domid)
		return stub_fail(-EACCES);
	rc = stub_call(&xce->conn, &m, &r, NULL);
	if (rc)
		return stub_fail(rc);
	port = (evtchn_port_t)r.val[0];
	pthread_mutex_lock(&xce->lock);
	if (xce->nr_bound == xce->cap_bound) {
		unsigned cap = xce->cap_bound ? xce->cap_bound * 2 : 16;
		evtchn_port_t *t = realloc(xce->bound, cap * sizeof(*t));

		if (!t) {
			pthread_mutex_unlock(&xce->lock);
			m = (struct sim_msg){ .op = SIM_OP_EV_UNBIND, .arg = { port } };
			stub_call(&xce->conn, &m, &r, NULL);
			return stub_fail(-ENOMEM);
		}
		xce->bound = t;
		xce->cap_bound = cap;
	}
	xce->bound[xce->nr_bound++] = port;
	pthread_mutex_unlock(&xce->lock);
	return (xenevtchn_port_or_error_t)port;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct sim_msg m = { .op = SIM_OP_EV_UNBIND, .arg = { port } };
	struct sim_reply r;
	int rc = stub_call(&xce->conn, &m, &r, NULL);

	if (rc)
		return stub_fail(rc);
	pthread_mutex_lock(&xce->lock);
	for (unsigned i = 0; i < xce->nr_bound; i++) {
		if (xce->bound[i] == port) {
			xce->bound[i] = xce->bound[--xce->nr_bound];
			break;
		}
	}
	pthread_mutex_unlock(&xce->lock);
	return 0;
}

/* As linux.c: read one port; -1 with errno (EAGAIN when O_NONBLOCK and none). */
xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	evtchn_port_t port;

	if (read(xce->fd, &port, sizeof(port)) != (ssize_t)sizeof(port))
		return -1;
	return (xenevtchn_port_or_error_t)port;
}

/* The driver's unmask: delivered now if an event came while masked. */
int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct sim_msg m = { .op = SIM_OP_EV_REDELIVER, .arg = { port } };
	uint32_t *state;
	uint32_t old;

	if (!is_bound(xce, port))
		return 0; /* the driver ignores ports the file did not bind */
	state = &xce->table[port].state;
	old = __atomic_load_n(state, __ATOMIC_ACQUIRE);
	for (;;) {
		uint32_t want = old & SIM_EVS_PENDING ? SIM_EVS_MASKED : 0;

		if (!(old & SIM_EVS_MASKED))
			return 0;
		if (__atomic_compare_exchange_n(state, &old, want, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			break;
	}
	if (!(old & SIM_EVS_PENDING))
		return 0;
	return stub_post(&xce->conn, &m) ? -1 : 0;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
	if (xce->restrict_domid != EVTCHN_RESTRICT_NONE && xce->restrict_domid != domid)
		return stub_fail(-EINVAL);
	xce->restrict_domid = domid;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
	(void)xce, (void)domid;
	return stub_not_simulated(__func__, ENOSYS);
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
	(void)xce, (void)virq;
	return stub_not_simulated(__func__, ENOSYS);
}
