/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scripted guest, transport half: the guest's view of the machine (vCPUs
 * whose MMIO accesses become ioreqs, guest RAM with a bump allocator) and a
 * virtio-mmio driver (virtio 1.2 §4.2.2 modern and §4.2.4 legacy) on top:
 * probe, reset, status, feature negotiation, queue registers, interrupt
 * acknowledge, config space. Every register access goes through
 * sim_mmio_read/write on a named vCPU; a vCPU does one access at a time.
 */
#ifndef XENSIM_GUEST_MMIO_H
#define XENSIM_GUEST_MMIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

#define GUEST_MAX_VCPUS 16u
#define GUEST_PAGE_SIZE 4096u
#define GUEST_TIMEOUT_MS 10000u /* default bound on every wait */

/* The guest machine: vCPUs and RAM. */
struct guest_vm {
	struct sim_guest *sim;
	unsigned nr_vcpus;
	pthread_mutex_t vcpu_lock[GUEST_MAX_VCPUS]; /* one access per vCPU at a time */
	pthread_mutex_t alloc_lock;
	uint64_t alloc_next, alloc_end; /* bump allocator over guest RAM */
	/* Access results worth a test's attention. */
	atomic_uint mmio_timeouts; /* -ETIMEDOUT: the daemon never answered */
	atomic_uint mmio_faults;   /* -EFAULT: no enabled server claimed it */
};

int guest_vm_init(struct guest_vm *vm, struct sim_guest *sim, unsigned nr_vcpus);
void guest_vm_fini(struct guest_vm *vm);
/* Guest RAM [gpa, gpa+size) aligned to align (a power of two), zeroed. */
int guest_vm_alloc(struct guest_vm *vm, uint64_t size, uint64_t align, uint64_t *gpa, void **host);
void *guest_vm_ram(struct guest_vm *vm, uint64_t gpa, uint64_t len);
/* One MMIO access by vCPU vcpu (any size, for hostile tests too). */
int guest_vm_read(struct guest_vm *vm, unsigned vcpu, uint64_t addr, unsigned size, uint64_t *val);
int guest_vm_write(struct guest_vm *vm, unsigned vcpu, uint64_t addr, unsigned size, uint64_t val);
/* Any ioreq on vcpu, under the vCPU's lock. */
int guest_vm_ioreq(struct guest_vm *vm, unsigned vcpu, const ioreq_t *req, ioreq_t *resp);
/*
 * A p2m change (balloon, decrease_reservation): Xen broadcasts
 * IOREQ_TYPE_INVALIDATE from the vCPU that made it; xensim uses vCPU 0,
 * so this takes vCPU 0's turn.
 */
int guest_vm_invalidate(struct guest_vm *vm);

/* A virtio-mmio device as its driver sees it. */
struct guest_mmio {
	struct guest_vm *vm;
	uint64_t base;
	unsigned irq;
	uint32_t version; /* 2 modern, 1 legacy (from the Version register) */
	uint32_t device_id, vendor_id;
	uint64_t device_features; /* offered (legacy: 32 bits) */
	uint64_t driver_features; /* accepted */
};

void guest_mmio_bind(struct guest_mmio *d, struct guest_vm *vm, uint64_t base, unsigned irq);

/* Register access at base + offset (32-bit, as the spec requires). */
int guest_mmio_rd(struct guest_mmio *d, unsigned vcpu, uint32_t offset, uint32_t *val);
int guest_mmio_wr(struct guest_mmio *d, unsigned vcpu, uint32_t offset, uint32_t val);

/* MagicValue, Version (1 or 2), DeviceID (non-zero), VendorID. -ENODEV otherwise. */
int guest_mmio_probe(struct guest_mmio *d, unsigned vcpu);
/* Status = 0 and wait until it reads back 0 (§4.2.3.1: a modern driver must). */
int guest_mmio_reset(struct guest_mmio *d, unsigned vcpu);
int guest_mmio_get_status(struct guest_mmio *d, unsigned vcpu, uint8_t *status);
/* Status |= bits. */
int guest_mmio_add_status(struct guest_mmio *d, unsigned vcpu, uint8_t bits);
/* Read the offered features (modern: both 32-bit halves). */
int guest_mmio_read_features(struct guest_mmio *d, unsigned vcpu, uint64_t *features);
/*
 * Negotiate: accept offered & wanted (plus, when force is set, exactly
 * wanted, even bits not offered: for hostile tests). Modern: VERSION_1
 * required, FEATURES_OK written and read back (-EPROTO if the device
 * refused it). Legacy: 32 bits, GuestPageSize set, no FEATURES_OK.
 */
int guest_mmio_negotiate(struct guest_mmio *d, unsigned vcpu, uint64_t wanted, bool force);
/* reset + ACKNOWLEDGE + DRIVER + negotiate. */
int guest_mmio_init(struct guest_mmio *d, unsigned vcpu, uint64_t wanted);

/* QueueNumMax of queue q (0: the queue does not exist). */
int guest_mmio_queue_max(struct guest_mmio *d, unsigned vcpu, unsigned q, uint32_t *max);
/*
 * Give queue q its rings. Modern: QueueNum, Desc/Driver/Device addresses,
 * QueueReady = 1. Legacy: QueueNum, QueueAlign, QueuePFN = desc >> 12
 * (the caller lays the rings out as legacy requires).
 */
int guest_mmio_queue_setup(struct guest_mmio *d, unsigned vcpu, unsigned q, uint32_t num,
			   uint64_t desc, uint64_t avail, uint64_t used, uint32_t legacy_align);
int guest_mmio_notify(struct guest_mmio *d, unsigned vcpu, unsigned q);
/* Read InterruptStatus and acknowledge what was set. */
int guest_mmio_irq_ack(struct guest_mmio *d, unsigned vcpu, uint32_t *isr);

/* Config space (offset from 0x100), any width. */
int guest_mmio_config_read(struct guest_mmio *d, unsigned vcpu, uint32_t offset, unsigned size,
			   uint64_t *val);
/* A 64-bit field as two 32-bit reads, retried until ConfigGeneration is stable. */
int guest_mmio_config_read64(struct guest_mmio *d, unsigned vcpu, uint32_t offset, uint64_t *val);

#endif
