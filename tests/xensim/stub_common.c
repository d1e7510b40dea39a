/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stand-in libraries' socket client: connect to the simulator named by
 * $XENSIM_SOCKET, say hello, send requests and receive replies with an
 * optional passed file descriptor. Linked into each stand-in (hidden by
 * its version script).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "stub_common.h"

int stub_fail(int neg_errno)
{
	errno = -neg_errno;
	return -1;
}

int stub_not_simulated(const char *name, int err)
{
	fprintf(stderr, "xensim: not simulated: %s\n", name);
	errno = err;
	return -1;
}

static int send_msg(int fd, const struct sim_msg *m)
{
	for (;;) {
		ssize_t n = send(fd, m, sizeof(*m), MSG_NOSIGNAL);

		if (n == (ssize_t)sizeof(*m))
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : -EIO;
	}
}

static int recv_reply(int fd, struct sim_reply *r, int *fd_out)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = r, .iov_len = sizeof(*r) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cm.buf,
		.msg_controllen = sizeof(cm.buf),
	};
	struct cmsghdr *h;
	int passed = -1;
	ssize_t n;

	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(*r))
		return -ECONNRESET; /* the simulator went away */
	for (h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
			memcpy(&passed, CMSG_DATA(h), sizeof(int));
	}
	if (fd_out)
		*fd_out = passed;
	else if (passed >= 0)
		close(passed);
	return 0;
}

int stub_call(struct stub_conn *c, const struct sim_msg *m, struct sim_reply *r, int *fd_out)
{
	int rc;

	if (fd_out)
		*fd_out = -1;
	pthread_mutex_lock(&c->lock);
	rc = send_msg(c->fd, m);
	if (!rc)
		rc = recv_reply(c->fd, r, fd_out);
	pthread_mutex_unlock(&c->lock);
	if (rc)
		return rc;
	if (r->ret && fd_out && *fd_out >= 0) {
		close(*fd_out);
		*fd_out = -1;
	}
	return r->ret;
}

int stub_post(struct stub_conn *c, const struct sim_msg *m)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = send_msg(c->fd, m);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* The caller domain this handle acts for: $XENSIM_CALLER_DOMID + 1, or 0. */
static uint64_t caller_domid(void)
{
	const char *s = getenv(SIM_ENV_CALLER_DOMID);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v >= 0xffff)
		return 0;
	return v + 1;
}

int stub_conn_open(struct stub_conn *c, enum sim_kind kind, const char *lib, int *fd_out)
{
	const char *path = getenv(SIM_ENV_SOCKET);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sim_msg hello = {
		.op = SIM_OP_HELLO,
		.arg = { SIM_PROTO_MAGIC, SIM_PROTO_VERSION, kind, caller_domid() },
	};
	struct sim_reply r;
	int rc;

	c->fd = -1;
	if (!path || !*path) {
		fprintf(stderr, "xensim: %s: %s is not set: the stand-in Xen libraries need the "
			"simulator's socket\n", lib, SIM_ENV_SOCKET);
		return -ENOENT;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "xensim: %s: %s too long\n", lib, SIM_ENV_SOCKET);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		fprintf(stderr, "xensim: %s: cannot reach the simulator at %s: %s\n", lib, path,
			strerror(-rc));
		goto err;
	}
	pthread_mutex_init(&c->lock, NULL);
	rc = stub_call(c, &hello, &r, fd_out);
	if (rc) {
		fprintf(stderr, "xensim: %s: the simulator refused the connection: %s\n", lib,
			strerror(-rc));
		pthread_mutex_destroy(&c->lock);
		goto err;
	}
	return 0;
err:
	close(c->fd);
	c->fd = -1;
	return rc;
}

void stub_conn_close(struct stub_conn *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	pthread_mutex_destroy(&c->lock);
}
