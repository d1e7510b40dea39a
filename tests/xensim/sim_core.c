/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim core: start and stop, the Unix socket server thread that accepts
 * the stand-in libraries' connections and dispatches their messages
 * (sim_proto.h) into the model, synchronisation with that thread, and the
 * holdings count.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sim_internal.h"

#define SIM_EPOLL_BATCH 64
#define SIM_MSGS_PER_WAKE 256 /* then let other connections run */
#define SIM_SYNC_TIMEOUT_MS 5000u

uint64_t sim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* An absolute CLOCK_MONOTONIC time for pthread_cond_timedwait. */
void sim_deadline(struct timespec *ts, uint64_t ms_from_now)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms_from_now / 1000u);
	ts->tv_nsec += (long)(ms_from_now % 1000u) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int send_reply(int fd, const struct sim_reply *r, int pass_fd)
{
	struct iovec iov = { .iov_base = (void *)r, .iov_len = sizeof(*r) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (pass_fd >= 0) {
		struct cmsghdr *h;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		h = CMSG_FIRSTHDR(&mh);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &pass_fd, sizeof(int));
	}
	for (;;) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (n == (ssize_t)sizeof(*r))
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : -EIO;
	}
}

static void conn_free(struct sim_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->ev_wfd >= 0)
		close(c->ev_wfd);
	free(c->fmaps);
	free(c->rmaps);
	free(c);
}

static void conn_close_locked(struct sim *sim, struct sim_conn *c)
{
	struct sim_conn **pp;

	for (pp = &sim->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	epoll_ctl(sim->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	sim_check_conn_closed_locked(c);
	conn_free(c);
}

static int hello_locked(struct sim_conn *c, const struct sim_msg *m, int *fd_out)
{
	int sv[2];

	if (c->kind != 0 || m->arg[0] != SIM_PROTO_MAGIC || m->arg[1] != SIM_PROTO_VERSION)
		return -EPROTO;
	if (m->arg[2] < SIM_KIND_DM || m->arg[2] > SIM_KIND_GNTSHR)
		return -EPROTO;
	c->kind = (uint32_t)m->arg[2];
	/* Identity: the process, or the domain the handle was told to act for. */
	c->ident = ((uint64_t)(uint32_t)c->pid << 32) | (m->arg[3] & 0xffffu);
	if (c->kind != SIM_KIND_EVTCHN)
		return 0;
	/* A socket rather than a pipe: a write after the reader died must
	 * give EPIPE, not SIGPIPE. Non-blocking: never stall the server. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	shutdown(sv[0], SHUT_WR);
	c->ev_wfd = sv[1];
	*fd_out = sv[0];
	return 0;
}

/* Returns true when a reply must be sent. */
static bool dispatch_locked(struct sim_conn *c, const struct sim_msg *m, struct sim_reply *r,
			    int *fd_out, bool *close_fd)
{
	uint32_t d = m->domid;
	const uint64_t *a = m->arg;

	*close_fd = false;
	if (m->op != SIM_OP_HELLO && c->kind == 0) {
		r->ret = -EPROTO;
		return true;
	}
	switch (m->op) {
	case SIM_OP_HELLO:
		r->ret = hello_locked(c, m, fd_out);
		*close_fd = true;
		return true;
	case SIM_OP_DM_NR_VCPUS:
		r->ret = sim_dm_nr_vcpus_locked(c, d, &r->val[0]);
		return true;
	case SIM_OP_DM_CREATE_SERVER:
		r->ret = sim_ioreq_create_locked(c, d, (int64_t)a[0], &r->val[0]);
		return true;
	case SIM_OP_DM_SERVER_INFO:
		r->ret = sim_ioreq_info_locked(c, d, a[0], a[1] != 0);
		return true;
	case SIM_OP_DM_MAP_RANGE:
	case SIM_OP_DM_UNMAP_RANGE:
		r->ret = sim_ioreq_range_locked(c, d, a[0], a[1], a[2], a[3],
						m->op == SIM_OP_DM_MAP_RANGE);
		return true;
	case SIM_OP_DM_SET_STATE:
		r->ret = sim_ioreq_set_state_locked(c, d, a[0], a[1] != 0);
		return true;
	case SIM_OP_DM_DESTROY_SERVER:
		r->ret = sim_ioreq_destroy_locked(c, d, a[0]);
		return true;
	case SIM_OP_DM_IRQ_PAGE:
		r->ret = sim_dm_irq_page_locked(c, d, fd_out);
		return true;
	case SIM_OP_FM_GUEST_RAM:
		r->ret = sim_fm_guest_ram_locked(c, d, a[0], r, fd_out);
		return true;
	case SIM_OP_FM_MAP_NOTE:
		sim_fm_map_note_locked(c, a[0], a[1]);
		return false;
	case SIM_OP_FM_UNMAP_NOTE:
		sim_fm_unmap_note_locked(c, a[0], a[1]);
		return false;
	case SIM_OP_FM_MAP_RESOURCE:
		r->ret = sim_fm_map_resource_locked(c, d, a, &r->val[0], fd_out);
		return true;
	case SIM_OP_FM_UNMAP_RESOURCE:
		sim_fm_unmap_resource_locked(c, a[0]);
		return false;
	case SIM_OP_FM_RESOURCE_SIZE:
		r->ret = sim_fm_resource_size_locked(c, d, a[0], a[1], &r->val[0]);
		return true;
	case SIM_OP_EV_BIND_INTERDOMAIN:
		r->ret = sim_ev_bind_locked(c, d, a[0], &r->val[0]);
		return true;
	case SIM_OP_EV_UNBIND:
		r->ret = sim_ev_unbind_locked(c, a[0]);
		return true;
	case SIM_OP_EV_NOTIFY:
		sim_ev_notify_locked(c, a[0]);
		return false;
	case SIM_OP_EV_REDELIVER:
		sim_ev_redeliver_locked(c, a[0]);
		return false;
	case SIM_OP_EV_TABLE:
		r->ret = sim_ev_table_locked(c, &r->val[0], fd_out);
		return true;
	default:
		r->ret = -ENOSYS;
		return true;
	}
}

/* Reads and handles queued messages; false when the connection closed. */
static bool conn_readable_locked(struct sim *sim, struct sim_conn *c)
{
	for (unsigned i = 0; i < SIM_MSGS_PER_WAKE; i++) {
		struct sim_msg m;
		struct sim_reply r;
		int pass_fd = -1;
		bool close_fd;
		ssize_t n = recv(c->fd, &m, sizeof(m), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			return false; /* EOF (the process closed it or died) or error */
		if (n != (ssize_t)sizeof(m)) {
			sim_violation(sim, "pid %d sent a malformed message (%zd bytes)", (int)c->pid,
				      n);
			return false;
		}
		memset(&r, 0, sizeof(r));
		if (!dispatch_locked(c, &m, &r, &pass_fd, &close_fd))
			continue;
		r.has_fd = pass_fd >= 0;
		send_reply(c->fd, &r, pass_fd);
		if (pass_fd >= 0 && close_fd)
			close(pass_fd);
	}
	return true;
}

static void accept_locked(struct sim *sim)
{
	for (;;) {
		int fd = accept4(sim->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct sim_conn *c;
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct epoll_event ev = { .events = EPOLLIN };

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->sim = sim;
		c->fd = fd;
		c->ev_wfd = -1;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
			c->pid = cred.pid;
		ev.data.ptr = c;
		if (epoll_ctl(sim->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			conn_free(c);
			continue;
		}
		c->next = sim->conns;
		sim->conns = c;
	}
}

/* Handles one batch of ready events; returns how many there were. */
static int poll_once(struct sim *sim, int timeout_ms, bool *sync_asked)
{
	struct epoll_event evs[SIM_EPOLL_BATCH];
	int n = epoll_wait(sim->epoll_fd, evs, SIM_EPOLL_BATCH, timeout_ms);

	if (n <= 0)
		return 0;
	pthread_mutex_lock(&sim->lock);
	for (int i = 0; i < n; i++) {
		void *p = evs[i].data.ptr;

		if (p == &sim->listen_fd) {
			accept_locked(sim);
		} else if (p == &sim->wake_fd) {
			uint64_t v;

			if (read(sim->wake_fd, &v, sizeof(v)) < 0)
				v = 0;
			*sync_asked = true;
		} else {
			struct sim_conn *c = p;

			/* A connection closed earlier in this batch is not reused
			 * before the next epoll_wait: its pointer may be stale. */
			bool alive = false;

			for (struct sim_conn *it = sim->conns; it; it = it->next)
				alive |= it == c;
			if (alive && !conn_readable_locked(sim, c))
				conn_close_locked(sim, c);
		}
	}
	pthread_mutex_unlock(&sim->lock);
	return n;
}

static void *server_thread(void *arg)
{
	struct sim *sim = arg;

	for (;;) {
		bool sync_asked = false;
		bool stopping;

		poll_once(sim, -1, &sync_asked);
		if (sync_asked) {
			/* Drain what is already queued, then acknowledge. */
			for (unsigned i = 0; i < 64 && poll_once(sim, 0, &sync_asked) > 0; i++)
				;
		}
		pthread_mutex_lock(&sim->lock);
		if (sync_asked) {
			sim->sync_done = sim->sync_req;
			pthread_cond_broadcast(&sim->sync_cond);
		}
		stopping = sim->stopping;
		pthread_mutex_unlock(&sim->lock);
		if (stopping)
			return NULL;
	}
}

static void wake_server(struct sim *sim)
{
	uint64_t one = 1;

	if (write(sim->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is saturated: the thread is already woken. */
	}
}

void sim_sync(struct sim *sim)
{
	struct timespec ts;
	uint64_t target;

	pthread_mutex_lock(&sim->lock);
	target = ++sim->sync_req;
	pthread_mutex_unlock(&sim->lock);
	wake_server(sim);
	sim_deadline(&ts, SIM_SYNC_TIMEOUT_MS);
	pthread_mutex_lock(&sim->lock);
	while (sim->sync_done < target) {
		if (pthread_cond_timedwait(&sim->sync_cond, &sim->lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&sim->lock);
}

static int listen_on(struct sim *sim, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static unsigned counter;

	if (path) {
		if (strlen(path) >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		snprintf(sim->path, sizeof(sim->path), "%s", path);
	} else {
		const char *tmp = getenv("TMPDIR");
		int n = snprintf(sim->path, sizeof(sim->path), "%s/xensim-%d-%u.sock",
				 tmp && *tmp ? tmp : "/tmp", (int)getpid(),
				 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));

		if (n < 0 || (size_t)n >= sizeof(sim->path))
			return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, sim->path, strlen(sim->path) + 1);
	sim->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sim->listen_fd < 0)
		return -errno;
	unlink(sim->path); /* a stale socket from a crashed run */
	if (bind(sim->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(sim->listen_fd, 64) < 0)
		return -errno;
	return 0;
}

static int epoll_add(struct sim *sim, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(sim->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void sim_free(struct sim *sim)
{
	if (!sim)
		return;
	if (sim->listen_fd >= 0) {
		close(sim->listen_fd);
		unlink(sim->path);
	}
	if (sim->epoll_fd >= 0)
		close(sim->epoll_fd);
	if (sim->wake_fd >= 0)
		close(sim->wake_fd);
	if (sim->ev_table && sim->ev_table != MAP_FAILED)
		munmap(sim->ev_table, SIM_EV_TABLE_BYTES);
	if (sim->ev_table_fd >= 0)
		close(sim->ev_table_fd);
	sim_check_free(sim);
	pthread_cond_destroy(&sim->sync_cond);
	pthread_mutex_destroy(&sim->lock);
	free(sim);
}

int sim_start(const struct sim_config *cfg, struct sim **out)
{
	struct sim *sim = calloc(1, sizeof(*sim));
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!sim)
		return -ENOMEM;
	sim->listen_fd = sim->epoll_fd = sim->wake_fd = sim->ev_table_fd = -1;
	pthread_mutex_init(&sim->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sim->sync_cond, &ca);
	pthread_condattr_destroy(&ca);
	sim->timeout_ms = cfg && cfg->ioreq_timeout_ms ? cfg->ioreq_timeout_ms
						       : SIM_DEFAULT_TIMEOUT_MS;
	sim->next_res_id = 1;
	sim->next_gen = 1;

	sim->ev_table_fd = memfd_create("xensim-evtchn", MFD_CLOEXEC);
	if (sim->ev_table_fd < 0 || ftruncate(sim->ev_table_fd, SIM_EV_TABLE_BYTES) < 0) {
		rc = -errno;
		goto err;
	}
	sim->ev_table = mmap(NULL, SIM_EV_TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
			     sim->ev_table_fd, 0);
	if (sim->ev_table == MAP_FAILED) {
		rc = -errno;
		goto err;
	}
	rc = listen_on(sim, cfg ? cfg->socket_path : NULL);
	if (rc)
		goto err;
	sim->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	sim->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sim->epoll_fd < 0 || sim->wake_fd < 0) {
		rc = -errno;
		goto err;
	}
	rc = epoll_add(sim, sim->listen_fd, &sim->listen_fd);
	if (!rc)
		rc = epoll_add(sim, sim->wake_fd, &sim->wake_fd);
	if (rc)
		goto err;
	if (cfg && cfg->xenstore_path) {
		rc = sim_xs_start(sim, cfg->xenstore_path);
		if (rc)
			goto err;
	}
	rc = -pthread_create(&sim->thread, NULL, server_thread, sim);
	if (rc)
		goto err;
	sim->thread_started = true;
	*out = sim;
	return 0;
err:
	sim_xs_stop(sim);
	sim_free(sim);
	return rc;
}

void sim_stop(struct sim *sim)
{
	if (!sim)
		return;
	sim_sync(sim);
	pthread_mutex_lock(&sim->lock);
	sim_check_all_notifies_locked(sim);
	sim->stopping = true;
	pthread_mutex_unlock(&sim->lock);
	wake_server(sim);
	if (sim->thread_started)
		pthread_join(sim->thread, NULL);

	/* End of test: whoever is still connected leaves now. */
	pthread_mutex_lock(&sim->lock);
	while (sim->conns)
		conn_close_locked(sim, sim->conns);
	pthread_mutex_unlock(&sim->lock);
	while (sim->guests)
		sim_guest_destroy(sim->guests);
	sim_xs_stop(sim);
	sim_free(sim);
}

const char *sim_socket_path(const struct sim *sim)
{
	return sim->path;
}

struct xs_server *sim_xenstore(struct sim *sim)
{
	return sim->xs;
}

void sim_holdings(struct sim *sim, struct sim_holdings *out)
{
	sim_sync(sim);
	pthread_mutex_lock(&sim->lock);
	*out = sim->leaked;
	for (struct sim_guest *g = sim->guests; g; g = g->next) {
		for (unsigned i = 0; i < SIM_MAX_SERVERS; i++) {
			struct sim_server *s = g->servers[i];

			if (!s)
				continue;
			out->servers++;
			for (unsigned t = 0; t < SIM_NR_RANGE_TYPES; t++)
				out->ranges += s->ranges[t].nr;
		}
	}
	for (unsigned p = 0; p < SIM_MAX_LPORTS; p++)
		out->bound_ports += sim->lports[p] != NULL;
	for (struct sim_conn *c = sim->conns; c; c = c->next) {
		out->connections++;
		out->foreign_pages += (unsigned)c->fpages;
		out->resource_maps += (unsigned)c->nr_rmaps;
	}
	pthread_mutex_unlock(&sim->lock);
}
