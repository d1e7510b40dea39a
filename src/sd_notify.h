/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The systemd readiness protocol without libsystemd: one datagram per
 * call to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an
 * abstract name written with a leading '@'). Without $NOTIFY_SOCKET every
 * call is a no-op returning 0, so callers need not know whether they run
 * under systemd. Messages are "KEY=VALUE" lines: READY=1, STATUS=...,
 * RELOADING=1, STOPPING=1 (sd_notify(3)).
 */
#ifndef XVB_SD_NOTIFY_H
#define XVB_SD_NOTIFY_H

#include "compiler.h"

/* Send msg. 0 when sent or when there is no $NOTIFY_SOCKET; -errno otherwise. */
int sd_notify_send(const char *msg);
/* The same with a printf format; -EMSGSIZE when the text exceeds 1 KiB. */
int sd_notify_sendf(const char *fmt, ...) PRINTF_LIKE(1, 2);

#endif
