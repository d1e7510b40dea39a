/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every stand-in Xen library shares: its connection to the simulator
 * (one per open handle, see sim_proto.h), the "not simulated" report, and
 * libxentoolcore's active-handle registry (the layout libxenstore also
 * relies on, from Xen's tools/include/xentoolcore_internal.h).
 *
 * The stand-ins follow the libraries' own convention: -1 (or NULL) with
 * errno set.
 */
#ifndef XENSIM_STUB_COMMON_H
#define XENSIM_STUB_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen_list.h>

#include "sim_proto.h"

struct stub_conn {
	int fd;
	pthread_mutex_t lock; /* one request/reply at a time */
};

/*
 * Connect to $XENSIM_SOCKET and say hello. lib names the library in the
 * message printed on failure. fd_out (may be NULL) receives the fd the
 * simulator passes back (the evtchn event socket). 0 or -errno.
 */
int stub_conn_open(struct stub_conn *c, enum sim_kind kind, const char *lib, int *fd_out);
void stub_conn_close(struct stub_conn *c);
/* A synchronous request: -errno on transport failure, else r->ret. */
int stub_call(struct stub_conn *c, const struct sim_msg *m, struct sim_reply *r, int *fd_out);
/* A posted request (no reply). */
int stub_post(struct stub_conn *c, const struct sim_msg *m);

/* Logs "xensim: not simulated: <name>", sets errno to err, returns -1. */
int stub_not_simulated(const char *name, int err);
/* errno = -neg_errno, returns -1 (neg_errno < 0). */
int stub_fail(int neg_errno);

/* libxentoolcore internals (exported by our libxentoolcore.so.1). */
typedef struct Xentoolcore__Active_Handle Xentoolcore__Active_Handle;
typedef int Xentoolcore__Restrict_Callback(Xentoolcore__Active_Handle *, domid_t domid);
struct Xentoolcore__Active_Handle {
	Xentoolcore__Restrict_Callback *restrict_callback;
	XEN_LIST_ENTRY(Xentoolcore__Active_Handle) entry;
};
void xentoolcore__register_active_handle(Xentoolcore__Active_Handle *ah);
void xentoolcore__deregister_active_handle(Xentoolcore__Active_Handle *ah);
int xentoolcore__restrict_by_dup2_null(int fd);

#endif
