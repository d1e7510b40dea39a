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
 */
#ifndef XENSIM_SIM_H
#define XENSIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <xen/hvm/ioreq.h>

#define SIM_GUEST_RAM_BASE 0x40000000ull /* GUEST_RAM0_BASE on Arm */

struct sim;
struct sim_guest;

struct sim_config {
	const char *socket_path;    /* NULL: a fresh path under $TMPDIR */
	const char *xenstore_path;  /* NULL: no xenstore server */
	unsigned ioreq_timeout_ms;  /* a vCPU waiting longer is a violation (default 10000) */
};

int sim_start(const struct sim_config *cfg, struct sim **out);
/* Stops the server, runs the end-of-test checks (leaks), frees. */
void sim_stop(struct sim *sim);
const char *sim_socket_path(const struct sim *sim);

/* A domain: RAM at SIM_GUEST_RAM_BASE, nr_vcpus ioreq slots. */
int sim_guest_create(struct sim *sim, uint16_t domid, uint64_t ram_bytes, unsigned nr_vcpus,
		     struct sim_guest **out);
/* Domain death: servers destroyed by "Xen", @releaseDomain fired. */
void sim_guest_destroy(struct sim_guest *g);
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
/* Any ioreq, for hostile tests (bad size, count > 1, data_is_ptr, types). */
int sim_ioreq_raw(struct sim_guest *g, unsigned vcpu, const ioreq_t *req, ioreq_t *resp);
/* Broadcast IOREQ_TYPE_INVALIDATE to every enabled server of the guest. */
int sim_invalidate(struct sim_guest *g);

/* Wait until an enabled server claims addr (the daemon is serving). */
int sim_wait_claimed(struct sim_guest *g, uint64_t addr, unsigned timeout_ms);

/* Interrupts: number of level-1 calls (edges) seen on irq, and waiting. */
uint64_t sim_irq_count(struct sim_guest *g, unsigned irq);
bool sim_irq_level(struct sim_guest *g, unsigned irq);
int sim_irq_wait(struct sim_guest *g, unsigned irq, uint64_t seen, unsigned timeout_ms);

/* Protocol checker: number of violations so far; text of each in buf. */
unsigned sim_violations(struct sim *sim, char *buf, size_t len);

/*
 * Start the daemon binary (argv[0] = path) with LD_LIBRARY_PATH set to the
 * stand-in libraries and XENSIM_SOCKET (and XENSTORED_PATH if xenstore is
 * on); its stderr goes to log_path. sim_daemon_wait_log waits for a regex
 * in that log. sim_daemon_stop sends sig and waits for exit (status out).
 */
int sim_daemon_start(struct sim *sim, char *const argv[], const char *log_path, pid_t *pid);
int sim_daemon_wait_log(const char *log_path, const char *regex, unsigned timeout_ms);
int sim_daemon_stop(pid_t pid, int sig, unsigned timeout_ms, int *status);

/* Resources the daemon still holds (for leak checks after it exits). */
struct sim_holdings {
	unsigned servers, ranges, bound_ports, foreign_pages, resource_maps, connections;
};
void sim_holdings(struct sim *sim, struct sim_holdings *out);

#endif
