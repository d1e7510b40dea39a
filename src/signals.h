/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Signals as loop events: SIGTERM, SIGINT and SIGHUP are blocked and read
 * from a signalfd, so their handling runs in normal context (teardown can
 * call anything); SIGPIPE is ignored so a closed pipe is an EPIPE error.
 */
#ifndef XVB_SIGNALS_H
#define XVB_SIGNALS_H

#include "loop.h"

struct signals {
	int fd;
	struct loop *loop;
	struct loop_watch watch;
	/* Runs from the loop for each signal received. */
	void (*on_signal)(struct signals *sig, int signo);
};

#define SIGNALS_INIT { .fd = -1 }

/* Block the signals, open the signalfd and watch it. Logs on failure. */
int signals_open(struct signals *sig, struct loop *loop,
		 void (*on_signal)(struct signals *sig, int signo));
void signals_close(struct signals *sig); /* idempotent; safe after SIGNALS_INIT */

#endif
