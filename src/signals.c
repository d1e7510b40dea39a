/* SPDX-License-Identifier: GPL-2.0-or-later */
/* signalfd plumbing for the event loop; see signals.h. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "compiler.h"
#include "log.h"
#include "signals.h"

static void signals_fill(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

static void signals_readable(struct loop_watch *w, uint32_t events UNUSED)
{
	struct signals *sig = container_of(w, struct signals, watch);
	struct signalfd_siginfo si;

	for (;;) {
		ssize_t n = read(sig->fd, &si, sizeof(si));

		if (n != (ssize_t)sizeof(si)) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != EAGAIN)
				log_err(NULL, "cannot read signalfd: %s", strerror(errno));
			return;
		}
		sig->on_signal(sig, (int)si.ssi_signo);
	}
}

int signals_open(struct signals *sig, struct loop *loop,
		 void (*on_signal)(struct signals *sig, int signo))
{
	struct sigaction ignore = { .sa_handler = SIG_IGN };
	sigset_t set;
	int rc;

	sig->fd = -1;
	sig->loop = loop;
	sig->on_signal = on_signal;
	sig->watch = (struct loop_watch){ .fd = -1, .cb = signals_readable };

	if (sigaction(SIGPIPE, &ignore, NULL) < 0) {
		rc = -errno;
		log_err(NULL, "cannot ignore SIGPIPE: %s", strerror(-rc));
		return rc;
	}
	signals_fill(&set);
	/* Single-threaded: the process mask is the thread mask. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		rc = -errno;
		log_err(NULL, "cannot block signals: %s", strerror(-rc));
		return rc;
	}
	sig->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig->fd < 0) {
		rc = -errno;
		log_err(NULL, "cannot create signalfd: %s", strerror(-rc));
		return rc;
	}
	rc = loop_add(loop, &sig->watch, sig->fd, EPOLLIN);
	if (rc < 0) {
		log_err(NULL, "cannot watch signalfd: %s", strerror(-rc));
		signals_close(sig);
		return rc;
	}
	return 0;
}

void signals_close(struct signals *sig)
{
	if (sig->loop)
		loop_del(sig->loop, &sig->watch);
	if (sig->fd >= 0)
		close(sig->fd);
	sig->fd = -1;
	sig->loop = NULL;
}
