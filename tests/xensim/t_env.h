/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Harness for the xensim integration tests: one simulator per test, guests
 * with disk images (in /dev/shm or /tmp), the real daemon binary started
 * per guest, and the closing checks every test must pass: the daemon exits
 * 0 on SIGTERM, holds nothing afterwards (servers, ranges, ports,
 * mappings, connections) and the protocol checker saw no violation. A
 * watchdog bounds each test; whatever a failed CHECK leaves behind is
 * killed and removed before the next test starts.
 *
 * The t_* helpers CHECK (and so end the test) on failure: call them from
 * the test's own thread only.
 */
#ifndef XENSIM_T_ENV_H
#define XENSIM_T_ENV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../unit/check.h"
#include "guest_blk.h"
#include "guest_work.h"
#include "sim.h"

#define T_MAX_GUESTS 2u
#define T_MAX_DISKS 4u
#define T_MIB (1024ull * 1024ull)
#define T_DISK_BASE 0x2000000ull /* GUEST_VIRTIO_MMIO_BASE, as libxl on Arm */
#define T_DISK_IRQ 33u           /* GUEST_VIRTIO_MMIO_SPI_FIRST */

struct t_disk_opts {
	uint64_t size;      /* image bytes (a new sparse file: zeros) */
	bool ro;            /* ",ro" */
	const char *serial; /* ",serial=S" when set */
	unsigned version;   /* ",version=N" when set (1 legacy, 2 modern) */
	unsigned queues;    /* ",queues=N" when set */
	unsigned threads;   /* ",threads=T" when set */
};

struct t_disk {
	struct t_disk_opts o;
	char path[320];
	uint64_t base; /* T_DISK_BASE + n * 0x200 */
	unsigned irq;  /* T_DISK_IRQ + n */
	struct gblk blk;
	bool blk_open;
};

struct t_guest {
	struct t_env *env;
	uint16_t domid;
	struct sim_guest *sim;
	struct guest_vm vm;
	struct t_disk disk[T_MAX_DISKS];
	unsigned nr_disks;
	unsigned poll_us; /* --poll-us when set, before t_daemon_start */
	pid_t pid; /* the daemon; 0 when not running */
	bool stopped;
	int status; /* wait status once stopped */
	char log[512];
};

struct t_env {
	const char *name;
	struct sim *sim;
	char dir[200];
	struct t_guest guest[T_MAX_GUESTS];
	unsigned nr_guests;
};

/* A fresh simulator for test `name`. */
struct t_env *t_begin(const char *name);
struct t_guest *t_guest(struct t_env *e, uint16_t domid, unsigned nr_vcpus, uint64_t ram_bytes);
struct t_disk *t_disk(struct t_guest *g, const struct t_disk_opts *o);
/* Start the daemon for g's disks; wait until it logs "ready" and serves every window. */
void t_daemon_start(struct t_guest *g);
/* Send sig, wait for the exit; returns the wait status (also in g->status). */
int t_daemon_stop(struct t_guest *g, int sig);
/* The guest's driver for disk d (probe, negotiate, queues, DRIVER_OK). */
struct gblk *t_blk(struct t_disk *d, const struct gblk_opts *opts);
/* Close the driver (no register access). */
void t_blk_close(struct t_disk *d);
/* Stop every daemon, check exit 0, no holdings, no violations; clean up. */
void t_end(struct t_env *e);

/* A workload in a background thread. */
struct t_bg {
	struct gblk *b;
	struct gdisk_model *m;
	struct gwork w;
	struct gwork_result res;
	pthread_t thread;
	bool running;
};
void t_bg_start(struct t_bg *bg);
void t_bg_join(struct t_bg *bg);

/* Helpers. */
uint64_t t_file_hash(const char *path);
void t_note_log(const struct t_guest *g, unsigned lines); /* daemon log tail as TAP comments */
/* A skip for the whole program (before any test ran): prints why, exits 77. */
void t_skip(const char *why) __attribute__((noreturn));

#endif
