/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Harness of the attack suite (issue 6, SECURITY.md). Every attack runs
 * against ONE daemon in service mode (the test plays libxl through the
 * simulator's xenstore) that serves, at the same time:
 *
 *   dom1 disk A  the attacked disk (backend/virtio, image, serial, version
 *                and read-only from the config file), window ATK_BASE
 *   dom1 disk B  a good disk of the attacking guest itself (backend/virtio_disk)
 *   dom2 disk C  a good disk of another guest (backend/virtio_disk)
 *
 * B and C each run a well-behaved driver in a background thread doing
 * verified I/O (write, read back, compare with a model) for the whole
 * attack; every one of their requests must succeed within ATK_LATENCY_MS.
 *
 * atk_end() is the closing statement of every attack: the daemon is alive
 * and made progress for B and C after the attack; B and C saw no error,
 * no mismatch and no request slower than the bound, and their images
 * hold exactly what the model says; A's image is unchanged outside its
 * scratch range; the daemon log has no sanitizer report and no "BUG";
 * then SIGTERM: exit 0, nothing held (servers, ranges, ports, mappings),
 * no protocol violation. A CHECK failing in a test leaves the rest to the
 * next atk_begin(), which kills and removes it.
 *
 * Helpers CHECK on failure: call them from the test's thread only.
 */
#ifndef XENSIM_ATTACK_ENV_H
#define XENSIM_ATTACK_ENV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../unit/check.h"
#include "guest_blk.h"
#include "guest_work.h"
#include "sim.h"

#define ATK_RAM_SIZE (256ull << 20)
#define ATK_RAM_END (SIM_GUEST_RAM_BASE + ATK_RAM_SIZE)
#define ATK_DISK_SIZE (8ull << 20)
#define ATK_SECTORS (ATK_DISK_SIZE / 512)
#define ATK_BASE 0x2000000ull            /* disk A in dom1, disk C in dom2 */
#define ATK_BASE_B (ATK_BASE + 0x200ull) /* disk B in dom1 */
#define ATK_IRQ 33u
#define ATK_IRQ_B 34u
/* The only sectors of A's image an attack (or the recovery check) may change. */
#define ATK_SCRATCH 8192u
#define ATK_SCRATCH_N 2048u
#define ATK_SERIAL "XVB-ATTACK-SERIAL-20" /* 20 bytes: GET_ID sends no NUL */
/*
 * Bound on every request of the good guests (ASan build on a 2-core
 * machine); XVB_ATTACK_LATENCY_MS overrides it on a slower or busy host.
 */
#define ATK_LATENCY_MS 2000u
/* Bound on the daemon log lines a guest-triggered flood may produce. */
#define ATK_FLOOD_LOG_MAX 40u

/* dom1's vCPUs: 0, 1, 4, 5 attack (1 runs A's interrupt handler); 2, 3 drive B. */
#define ATK_VCPUS 6u
#define ATK_VCPU 0u
#define ATK_VCPU_IRQ 1u
#define ATK_VCPU_B_IRQ 2u
#define ATK_VCPU_B_IO 3u

/* Virtqueue status bits, for readability. */
#define ATK_S_NEEDS_RESET 0x40u

struct atk_opts {
	bool ro;          /* A is read-only */
	unsigned version; /* A's virtio-mmio version (0: 2) */
};

/* A good guest's driver at work. */
struct atk_good {
	const char *name;
	struct gblk blk;
	bool open;
	unsigned vcpu;
	const char *image;
	struct gdisk_model model;
	uint8_t *buf, *back;
	uint64_t rng;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	/* Results (written by the thread; read after join, or atomically). */
	atomic_ulong ops;
	uint64_t max_ns, errors, mismatches;
	int rc;
	char msg[256];
};

struct atk {
	const char *name;
	struct atk_opts o;
	struct sim *sim;
	struct xs_handle *xs;
	char dir[128], xs_path[192], lock_path[192], conf[192], log[320];
	char img_a[192], img_b[192], img_c[192];
	pid_t pid;
	struct sim_guest *g1, *g2;
	struct guest_vm vm1, vm2;
	bool vm1_init, vm2_init;
	struct guest_mmio m;   /* A's registers, raw */
	struct gblk a;         /* A's driver, once atk_open_a() */
	bool a_open;
	struct gblk_opts a_opts;
	struct atk_good good[2]; /* B, C */
	unsigned log_mark;     /* lines in the daemon log at atk_log_mark() */
	uint64_t recover_seed;
};

/* Simulator, xenstore, images, the daemon serving A, B and C, good guests running. */
struct atk *atk_begin(const char *name, const struct atk_opts *o);
/* Every closing check (see above); frees everything. */
void atk_end(struct atk *a);

/* A's driver (opts NULL: defaults, interrupt handler on ATK_VCPU_IRQ). */
struct gblk *atk_open_a(struct atk *a, const struct gblk_opts *opts);
/* The same, with gblk_start_with's hook. */
struct gblk *atk_open_a_with(struct atk *a, const struct gblk_opts *opts,
			     int (*after_features)(struct gblk *, void *), void *ctx);

/* ---- raw register access to A (ATK_VCPU) ---- */
uint32_t atk_rd(struct atk *a, uint32_t off);
void atk_wr(struct atk *a, uint32_t off, uint32_t val);
uint8_t atk_status(struct atk *a);
/* Reset, ACKNOWLEDGE, DRIVER, features (FEATURES_OK for modern, which must be accepted). */
void atk_raw_init(struct atk *a, uint64_t features);
/* Queue 0's registers (modern); QueueReady = 1 when ready. */
void atk_raw_queue(struct atk *a, uint32_t num, uint64_t desc, uint64_t avail, uint64_t used,
		   bool ready);
/* Guest RAM for the attacker (zeroed); CHECKs. */
void *atk_alloc(struct atk *a, uint64_t size, uint64_t align, uint64_t *gpa);

/* ---- outcomes ---- */
/*
 * A is in DEVICE_NEEDS_RESET (waits up to 5 s) and it is sticky: writing
 * Status back without the bit and notifying do not clear it.
 */
void atk_expect_needs_reset(struct atk *a);
/* A is not in DEVICE_NEEDS_RESET. */
void atk_expect_healthy(struct atk *a);
/*
 * Publish head on A's queue 0 (its descriptors written by the caller),
 * notify, and expect NEEDS_RESET with no used entry pushed.
 */
void atk_publish_expect_reset(struct atk *a, uint16_t head);
/* Submit segs for r on A's queue 0, notify, wait; returns the status byte. */
uint8_t atk_submit(struct atk *a, struct gblk_req *r, const struct gvq_seg *segs, unsigned n,
		   bool indirect);
/*
 * Reset A and start its driver again (or for the first time), then a
 * verified write and read of the scratch range, and GET_ID.
 */
void atk_recover(struct atk *a);

/* ---- the daemon log ---- */
unsigned atk_log_lines(const struct atk *a);
void atk_log_mark(struct atk *a);
unsigned atk_log_since_mark(const struct atk *a);
/* Wait until a line of the log matches the extended regex. */
bool atk_log_has(const struct atk *a, const char *regex, unsigned timeout_ms);

/* Monotonic milliseconds. */
uint64_t atk_now_ms(void);
void atk_sleep_ms(unsigned ms);

#endif
