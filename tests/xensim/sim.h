/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim: a simulated Xen hypervisor in the test process. The daemon binary
 * runs unchanged, with LD_LIBRARY_PATH pointing at stand-in Xen libraries
 * (same sonames and symbol versions as Debian's) that talk to this
 * simulator over a Unix socket named by XENSIM_SOCKET. Guest RAM is a memfd
 * at Arm's guest layout (RAM at 0x40000000); each vCPU has an ioreq slot
 * and an event channel; a protocol checker records every violation.
 *
 * This header is the API the scripted guest (guest_*.c) and the tests use.
 * All functions return 0 or -errno unless stated otherwise; all are
 * thread-safe (one thread per simulated vCPU is the normal use).
 *
 * What is simulated (Xen 4.17 on Arm, see xen-interfaces.md §1-4):
 * - IOREQ servers: create (HVM_IOREQSRV_BUFIOREQ_OFF only, else -EINVAL;
 *   at most 8 per guest, then -ENOSPC), ioreq page via map_resource
 *   (type 0, frame 1; frame 0 -ENOENT, others -EINVAL; allocated on first
 *   use), inclusive ranges (overlap in one server -EEXIST), enable writes
 *   vp_eport into each slot only if the page exists, destroy unmaps
 *   everything and frees the ports; unknown domid -ESRCH, unknown server
 *   -ENOENT, a server used by another caller domain -EPERM.
 * - Caller domain: every process counts as its own domain (so a second
 *   process cannot touch the first one's servers), unless the environment
 *   variable XENSIM_CALLER_DOMID was set when the handle was opened; then
 *   that handle acts for that domain.
 * - Event channels: one per vCPU per server; bind_interdomain returns a
 *   local port and, as Xen does, marks it pending at once; a delivered
 *   port stays masked until unmask, and a notification meanwhile is
 *   delivered at unmask (Linux evtchn driver).
 * - IRQ lines: set_irq_level for SPIs 32..SIM_GUEST_NR_IRQS-1 and
 *   set_isa_irq_level for 0..15, level 0 or 1 (else -EINVAL); every
 *   level-1 call counts as an edge (old vGIC: each one injects).
 * - Foreign mapping of guest RAM by gfn; gfns outside RAM fail with
 *   -EFAULT in err[] (the whole call with err == NULL).
 *
 * The protocol checker records (see sim_violations): a slot state written
 * backwards or to an invalid value, IORESP_READY without notification (as
 * a timeout), a response without a request or twice, a slot written while
 * its vCPU is not waiting, a read answered with bits above its size, a
 * notification on a port the connection did not bind or on the wrong
 * vCPU's port, an access to a range whose server is not yet enabled, a
 * server destroyed with a request pending, an unmap of something never
 * mapped, and at close of a connection (daemon exit): servers not
 * destroyed, ports still bound, foreign pages or resources still mapped.
 */
#ifndef XENSIM_SIM_H
#define XENSIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <xen/hvm/ioreq.h>

#define SIM_GUEST_RAM_BASE 0x40000000ull /* GUEST_RAM0_BASE on Arm */
#define SIM_GUEST_MAX_VCPUS 128u         /* one 4 KiB ioreq page of 32-byte slots */
#define SIM_GUEST_NR_IRQS 128u           /* vgic_num_irqs: SPIs are 32..127 */

struct sim;
struct sim_guest;
struct xs_server;

struct sim_config {
	const char *socket_path;    /* NULL: a fresh path under $TMPDIR */
	const char *xenstore_path;  /* NULL: no xenstore server */
	unsigned ioreq_timeout_ms;  /* a vCPU waiting longer is a violation (default 10000) */
};

int sim_start(const struct sim_config *cfg, struct sim **out);
/*
 * Stops the server, runs the end-of-test checks (leaks), frees. No vCPU
 * may be inside sim_mmio_*(); guests need not be destroyed first.
 */
void sim_stop(struct sim *sim);
const char *sim_socket_path(const struct sim *sim);
/* The xenstore server when cfg->xenstore_path was given, else NULL. */
struct xs_server *sim_xenstore(struct sim *sim);
/*
 * Wait until the simulator has processed everything the stand-ins have
 * already sent (e.g. the hang-up of a daemon that has exited).
 * sim_violations() and sim_holdings() do this themselves.
 */
void sim_sync(struct sim *sim);

/*
 * A domain: RAM at SIM_GUEST_RAM_BASE (a sparse memfd: large guests are
 * cheap), nr_vcpus (1..SIM_GUEST_MAX_VCPUS) ioreq slots. domid 1..0x7fef,
 * -EEXIST if taken; ram_bytes a non-zero multiple of 4096. With xenstore
 * on, the domain is introduced.
 */
int sim_guest_create(struct sim *sim, uint16_t domid, uint64_t ram_bytes, unsigned nr_vcpus,
		     struct sim_guest **out);
/*
 * Domain death: servers destroyed by "Xen", @releaseDomain fired. No vCPU
 * of g may be inside sim_mmio_*(). NULL-tolerant.
 */
void sim_guest_destroy(struct sim_guest *g);
uint16_t sim_guest_domid(const struct sim_guest *g);
/* Host pointer to guest RAM [gpa, gpa+len), or NULL if not all RAM. */
void *sim_guest_ram(struct sim_guest *g, uint64_t gpa, uint64_t len);
uint64_t sim_guest_ram_size(const struct sim_guest *g);

/*
 * A vCPU's MMIO access, delivered as Xen does: to the enabled server whose
 * range contains the whole access, as an ioreq in that vCPU's slot, blocking
 * until IORESP_READY. -EFAULT when no enabled server claims it (Arm would
 * inject a data abort), -ETIMEDOUT when the daemon never answers.
 */
int sim_mmio_read(struct sim_guest *g, unsigned vcpu, uint64_t addr, unsigned size, uint64_t *val);
int sim_mmio_write(struct sim_guest *g, unsigned vcpu, uint64_t addr, unsigned size, uint64_t val);
/*
 * Any ioreq, for hostile tests (bad size, count > 1, data_is_ptr, types).
 * Routed like Xen: IOREQ_TYPE_PIO by the port ranges, everything else by
 * the memory ranges ([addr, addr + size * count), df honoured); state and
 * vp_eport are filled in. resp (may be NULL) gets the slot as the daemon
 * left it, state NONE. -EBUSY if another thread is using this vCPU, -EIO
 * when the checker stopped the request (bad state, backwards transition).
 */
int sim_ioreq_raw(struct sim_guest *g, unsigned vcpu, const ioreq_t *req, ioreq_t *resp);
/*
 * Broadcast IOREQ_TYPE_INVALIDATE (size 4, write, data ~0) from vCPU 0 to
 * every enabled server of the guest and wait for all their responses. If
 * another thread is using vCPU 0, waits for that access to finish first.
 */
int sim_invalidate(struct sim_guest *g);

/*
 * Wait until an enabled server claims addr and every vCPU port of that
 * server is bound (the daemon is serving). -ETIMEDOUT otherwise.
 */
int sim_wait_claimed(struct sim_guest *g, uint64_t addr, unsigned timeout_ms);

/*
 * Interrupts: number of level-1 calls (edges) seen on irq, the level last
 * set, and waiting until the count exceeds seen (0 or -ETIMEDOUT).
 */
uint64_t sim_irq_count(struct sim_guest *g, unsigned irq);
bool sim_irq_level(struct sim_guest *g, unsigned irq);
int sim_irq_wait(struct sim_guest *g, unsigned irq, uint64_t seen, unsigned timeout_ms);

/*
 * Protocol checker: number of violations so far; their text, one line
 * each, in buf (NUL-terminated, truncated to len; buf may be NULL). Each
 * violation is also printed to stderr as "xensim: VIOLATION: ..." when
 * it happens.
 */
unsigned sim_violations(struct sim *sim, char *buf, size_t len);

/*
 * Start the daemon binary (argv[0] = path) with LD_LIBRARY_PATH set to the
 * stand-in libraries (build/xensim/lib, absolute; $XENSIM_LIBDIR overrides)
 * and XENSIM_SOCKET (and XENSTORED_PATH if xenstore is on); the rest of
 * the environment (ASAN_OPTIONS...) is kept. Its stdout and stderr go to
 * log_path (truncated), stdin is /dev/null, and it is killed if the test
 * process dies. sim_daemon_wait_log waits until an extended regex matches
 * a line of that log (newline stripped), else -ETIMEDOUT. sim_daemon_stop
 * sends sig (0: none) and waits for the exit (wait status in *status);
 * past timeout_ms it sends SIGKILL, reaps and returns -ETIMEDOUT.
 */
int sim_daemon_start(struct sim *sim, char *const argv[], const char *log_path, pid_t *pid);
int sim_daemon_wait_log(const char *log_path, const char *regex, unsigned timeout_ms);
int sim_daemon_stop(pid_t pid, int sig, unsigned timeout_ms, int *status);

/*
 * Resources the daemon still holds (for leak checks after it exits): what
 * open connections hold, plus what closed connections left behind (ports
 * bound, foreign pages and resources mapped at close), plus servers and
 * their ranges that still exist. All zero after a clean daemon exit.
 */
struct sim_holdings {
	unsigned servers, ranges, bound_ports, foreign_pages, resource_maps, connections;
};
void sim_holdings(struct sim *sim, struct sim_holdings *out);

#endif
