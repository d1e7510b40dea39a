/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the simulator shares with the stand-in libraries through memory
 * rather than messages. On real Xen, EVTCHNOP_send, the unmask of a port
 * and XEN_DMOP_set_irq_level run on the calling CPU (a hypercall) and only
 * kick the vCPU they concern; a message to the simulator's thread instead
 * costs a thread wake-up there and, for a call, another one back — which
 * on these virtual machines (every wake-up an IPI, every IPI a VM exit)
 * cost the daemon more than its own work. So these operations are done by
 * the stand-in in the caller's thread, on this state, with atomics and at
 * most one futex wake of the waiter; the simulator checks what they did
 * from the same state (sim_check.c).
 *
 * Event channels: one table for the whole simulator, indexed by local
 * port, mapped by every libxenevtchn handle (SIM_OP_EV_TABLE).
 * - state: SIM_EVS_MASKED, SIM_EVS_PENDING — the Linux evtchn driver's
 *   masking. Delivery (simulator, under its lock): if MASKED, set PENDING;
 *   else set MASKED and write the port into the binder's event socket.
 *   Unmask (stand-in): nothing pending -> clear MASKED; PENDING -> clear
 *   PENDING, keep MASKED and post SIM_OP_EV_REDELIVER, for which the
 *   simulator writes the port (the driver delivers it at unmask).
 * - notify_seq: EVTCHNOP_send from the port's binder adds one, then wakes
 *   the futex; a vCPU waiting for its response sleeps on it.
 *
 * Interrupt lines: one page per guest (SIM_OP_DM_IRQ_PAGE), mapped by the
 * libxendevicemodel handles that raise its lines. seq changes (then a
 * futex wake) on every level change; dead is set when the guest is
 * destroyed, after which the stand-in asks again (and gets ESRCH, or the
 * page of a new guest with that domid).
 */
#ifndef XENSIM_SIM_SHARED_H
#define XENSIM_SIM_SHARED_H

#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SIM_EVS_MASKED 1u
#define SIM_EVS_PENDING 2u

struct sim_evtchn_shared {
	uint32_t state;
	uint32_t notify_seq;
};

#define SIM_IRQ_LINES 128u /* = SIM_GUEST_NR_IRQS (sim.h) */

struct sim_irq_line_shared {
	uint32_t level;
	uint32_t pad;
	uint64_t edges; /* level-1 calls */
};

struct sim_irq_page {
	uint32_t seq;
	uint32_t dead;
	struct sim_irq_line_shared line[SIM_IRQ_LINES];
};

/* Shared between processes: not FUTEX_PRIVATE_FLAG. */
static inline void sim_futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Sleeps while *word == val, at most ms milliseconds (or a spurious wake). */
static inline void sim_futex_wait(uint32_t *word, uint32_t val, unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };

	syscall(SYS_futex, word, FUTEX_WAIT, val, &ts, NULL, 0);
}

/* Adds one to a futex word, then wakes whoever sleeps on it. */
static inline void sim_futex_bump(uint32_t *word)
{
	__atomic_fetch_add(word, 1u, __ATOMIC_SEQ_CST);
	sim_futex_wake(word);
}

#endif
