/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A virtio_host for unit tests: "guest RAM" is a plain buffer at a base
 * GPA; map() can be made to clamp spans at chosen boundaries (to split
 * buffers) or to fail with -ENOMEM; every mapping token is tracked so tests
 * can check nothing leaks or is unmapped twice. The IRQ line and schedule()
 * are counters. Also a tiny guest-side split-ring writer for building
 * (hostile) descriptor chains.
 */
#ifndef XVB_TEST_FAKE_HOST_H
#define XVB_TEST_FAKE_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "../../src/virtio/ring.h"
#include "../../src/virtio/virtio_host.h"

#define FAKE_RAM_BASE 0x40000000ull
#define FAKE_MAX_TOKENS (1u << 16)
#define FAKE_MAX_BOUNDARIES 16u

struct fake_host {
	uint8_t *ram;
	uint64_t base, size;
	/* Spans of non-WHOLE maps stop at multiples of split (0: never) ... */
	uint64_t split;
	/* ... and at each of these GPAs. */
	uint64_t boundary[FAKE_MAX_BOUNDARIES];
	unsigned n_boundaries;
	bool fail_enomem; /* non-WHOLE maps fail with -ENOMEM */

	unsigned maps, unmaps, whole_maps;
	unsigned bad_unmaps; /* unknown or already released token */
	uint8_t token_live[FAKE_MAX_TOKENS];
	unsigned next_token;

	unsigned irq_raises, irq_lowers; /* set_irq(true) / set_irq(false) calls */
	bool irq_level;
	unsigned schedules;

	uint64_t next_alloc; /* bump allocator for test buffers */
	struct virtio_host host;
};

void fake_host_init(struct fake_host *fh, uint64_t ram_size);
void fake_host_fini(struct fake_host *fh);
void *fake_ptr(struct fake_host *fh, uint64_t gpa);
/* Zeroed guest memory; aborts the test program if RAM runs out. */
uint64_t fake_alloc(struct fake_host *fh, uint64_t size, uint64_t align);
unsigned fake_host_live_maps(const struct fake_host *fh);
void fake_host_add_boundary(struct fake_host *fh, uint64_t gpa);

/* Guest-side driver of one split ring in fake RAM. */
struct fake_vring {
	struct fake_host *fh;
	uint16_t num;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* driver's shadow of avail->idx */
};

void fake_vring_init(struct fake_vring *vr, struct fake_host *fh, uint16_t num);
/* num, desc/avail/used addresses into vq (what a transport would do). */
void fake_vring_to_vq(const struct fake_vring *vr, struct virtq *vq);
/* Write a descriptor into the ring's table, or into a table at gpa. */
void fake_desc_set(struct fake_vring *vr, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		   uint16_t next);
void fake_table_set(struct fake_host *fh, uint64_t table_gpa, uint16_t i, uint64_t addr,
		    uint32_t len, uint16_t flags, uint16_t next);
/* Put head in the avail ring and bump avail->idx. */
void fake_vring_publish(struct fake_vring *vr, uint16_t head);
void fake_vring_set_avail_idx(struct fake_vring *vr, uint16_t idx);
void fake_vring_set_avail_flags(struct fake_vring *vr, uint16_t flags);
void fake_vring_set_used_event(struct fake_vring *vr, uint16_t idx);
uint16_t fake_vring_avail_event(const struct fake_vring *vr);
uint16_t fake_vring_used_idx(const struct fake_vring *vr);
uint32_t fake_vring_used_id(const struct fake_vring *vr, uint16_t slot);
uint32_t fake_vring_used_len(const struct fake_vring *vr, uint16_t slot);

#endif
