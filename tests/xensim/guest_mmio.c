/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scripted guest: vCPU MMIO, guest RAM allocation and the virtio-mmio
 * transport driver (modern and legacy). See guest_mmio.h.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "guest_mmio.h"

#define VIRTIO_MMIO_MAGIC_VALUE_LE 0x74726976u /* "virt" */
#define MMIO_CONFIG_BASE 0x100u

int guest_vm_init(struct guest_vm *vm, struct sim_guest *sim, unsigned nr_vcpus)
{
	if (nr_vcpus == 0 || nr_vcpus > GUEST_MAX_VCPUS)
		return -EINVAL;
	*vm = (struct guest_vm){
		.sim = sim,
		.nr_vcpus = nr_vcpus,
		/* Leave the first page unused: a zero-looking gpa is never valid data. */
		.alloc_next = SIM_GUEST_RAM_BASE + GUEST_PAGE_SIZE,
		.alloc_end = SIM_GUEST_RAM_BASE + sim_guest_ram_size(sim),
	};
	for (unsigned i = 0; i < GUEST_MAX_VCPUS; i++)
		pthread_mutex_init(&vm->vcpu_lock[i], NULL);
	pthread_mutex_init(&vm->alloc_lock, NULL);
	return 0;
}

void guest_vm_fini(struct guest_vm *vm)
{
	if (!vm || !vm->sim)
		return;
	for (unsigned i = 0; i < GUEST_MAX_VCPUS; i++)
		pthread_mutex_destroy(&vm->vcpu_lock[i]);
	pthread_mutex_destroy(&vm->alloc_lock);
	vm->sim = NULL;
}

int guest_vm_alloc(struct guest_vm *vm, uint64_t size, uint64_t align, uint64_t *gpa, void **host)
{
	uint64_t at;
	void *p;

	if (size == 0 || align == 0 || (align & (align - 1)))
		return -EINVAL;
	pthread_mutex_lock(&vm->alloc_lock);
	at = (vm->alloc_next + align - 1) & ~(align - 1);
	if (at < vm->alloc_next || at > vm->alloc_end || size > vm->alloc_end - at) {
		pthread_mutex_unlock(&vm->alloc_lock);
		return -ENOMEM;
	}
	vm->alloc_next = at + size;
	pthread_mutex_unlock(&vm->alloc_lock);

	p = sim_guest_ram(vm->sim, at, size);
	if (!p)
		return -EFAULT;
	memset(p, 0, size);
	*gpa = at;
	if (host)
		*host = p;
	return 0;
}

void *guest_vm_ram(struct guest_vm *vm, uint64_t gpa, uint64_t len)
{
	return sim_guest_ram(vm->sim, gpa, len);
}

static void note_result(struct guest_vm *vm, int r)
{
	if (r == -ETIMEDOUT)
		atomic_fetch_add(&vm->mmio_timeouts, 1);
	else if (r == -EFAULT)
		atomic_fetch_add(&vm->mmio_faults, 1);
}

int guest_vm_read(struct guest_vm *vm, unsigned vcpu, uint64_t addr, unsigned size, uint64_t *val)
{
	int r;

	if (vcpu >= vm->nr_vcpus)
		return -EINVAL;
	pthread_mutex_lock(&vm->vcpu_lock[vcpu]);
	r = sim_mmio_read(vm->sim, vcpu, addr, size, val);
	pthread_mutex_unlock(&vm->vcpu_lock[vcpu]);
	note_result(vm, r);
	return r;
}

int guest_vm_write(struct guest_vm *vm, unsigned vcpu, uint64_t addr, unsigned size, uint64_t val)
{
	int r;

	if (vcpu >= vm->nr_vcpus)
		return -EINVAL;
	pthread_mutex_lock(&vm->vcpu_lock[vcpu]);
	r = sim_mmio_write(vm->sim, vcpu, addr, size, val);
	pthread_mutex_unlock(&vm->vcpu_lock[vcpu]);
	note_result(vm, r);
	return r;
}

int guest_vm_ioreq(struct guest_vm *vm, unsigned vcpu, const ioreq_t *req, ioreq_t *resp)
{
	int r;

	if (vcpu >= vm->nr_vcpus)
		return -EINVAL;
	pthread_mutex_lock(&vm->vcpu_lock[vcpu]);
	r = sim_ioreq_raw(vm->sim, vcpu, req, resp);
	pthread_mutex_unlock(&vm->vcpu_lock[vcpu]);
	note_result(vm, r);
	return r;
}

int guest_vm_invalidate(struct guest_vm *vm)
{
	int r;

	pthread_mutex_lock(&vm->vcpu_lock[0]);
	r = sim_invalidate(vm->sim);
	pthread_mutex_unlock(&vm->vcpu_lock[0]);
	note_result(vm, r);
	return r;
}

void guest_mmio_bind(struct guest_mmio *d, struct guest_vm *vm, uint64_t base, unsigned irq)
{
	*d = (struct guest_mmio){ .vm = vm, .base = base, .irq = irq };
}

int guest_mmio_rd(struct guest_mmio *d, unsigned vcpu, uint32_t offset, uint32_t *val)
{
	uint64_t v = 0;
	int r = guest_vm_read(d->vm, vcpu, d->base + offset, 4, &v);

	*val = (uint32_t)v;
	return r;
}

int guest_mmio_wr(struct guest_mmio *d, unsigned vcpu, uint32_t offset, uint32_t val)
{
	return guest_vm_write(d->vm, vcpu, d->base + offset, 4, val);
}

int guest_mmio_probe(struct guest_mmio *d, unsigned vcpu)
{
	uint32_t magic;
	int r;

	r = guest_mmio_rd(d, vcpu, VIRTIO_MMIO_MAGIC_VALUE, &magic);
	if (r)
		return r;
	if (magic != VIRTIO_MMIO_MAGIC_VALUE_LE)
		return -ENODEV;
	r = guest_mmio_rd(d, vcpu, VIRTIO_MMIO_VERSION, &d->version);
	if (!r)
		r = guest_mmio_rd(d, vcpu, VIRTIO_MMIO_DEVICE_ID, &d->device_id);
	if (!r)
		r = guest_mmio_rd(d, vcpu, VIRTIO_MMIO_VENDOR_ID, &d->vendor_id);
	if (r)
		return r;
	/* DeviceID 0 is a placeholder with no device behind it (§4.2.3.1.1). */
	if ((d->version != 1 && d->version != 2) || d->device_id == 0)
		return -ENODEV;
	return 0;
}

int guest_mmio_get_status(struct guest_mmio *d, unsigned vcpu, uint8_t *status)
{
	uint32_t v;
	int r = guest_mmio_rd(d, vcpu, VIRTIO_MMIO_STATUS, &v);

	*status = (uint8_t)v;
	return r;
}

int guest_mmio_reset(struct guest_mmio *d, unsigned vcpu)
{
	struct timespec ts = { .tv_nsec = 1000 * 1000 };
	uint8_t status;
	int r;

	r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_STATUS, 0);
	if (r)
		return r;
	for (unsigned i = 0; i < GUEST_TIMEOUT_MS; i++) {
		r = guest_mmio_get_status(d, vcpu, &status);
		if (r)
			return r;
		if (status == 0) {
			d->driver_features = 0;
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

int guest_mmio_add_status(struct guest_mmio *d, unsigned vcpu, uint8_t bits)
{
	uint8_t status;
	int r = guest_mmio_get_status(d, vcpu, &status);

	if (r)
		return r;
	return guest_mmio_wr(d, vcpu, VIRTIO_MMIO_STATUS, status | bits);
}

int guest_mmio_read_features(struct guest_mmio *d, unsigned vcpu, uint64_t *features)
{
	uint32_t lo, hi = 0;
	int r;

	r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	if (!r)
		r = guest_mmio_rd(d, vcpu, VIRTIO_MMIO_DEVICE_FEATURES, &lo);
	/* A legacy device has 32 feature bits; only word 0 is defined. */
	if (!r && d->version != 1) {
		r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
		if (!r)
			r = guest_mmio_rd(d, vcpu, VIRTIO_MMIO_DEVICE_FEATURES, &hi);
	}
	if (r)
		return r;
	*features = (uint64_t)hi << 32 | lo;
	return 0;
}

static int write_driver_features(struct guest_mmio *d, unsigned vcpu, uint64_t features)
{
	int r;

	r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	if (!r)
		r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	if (!r && d->version != 1) {
		r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
		if (!r)
			r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_DRIVER_FEATURES,
					  (uint32_t)(features >> 32));
	}
	return r;
}

int guest_mmio_negotiate(struct guest_mmio *d, unsigned vcpu, uint64_t wanted, bool force)
{
	uint64_t accept;
	uint8_t status;
	int r;

	r = guest_mmio_read_features(d, vcpu, &d->device_features);
	if (r)
		return r;
	accept = force ? wanted : (d->device_features & wanted);
	if (d->version == 1) {
		accept &= 0xffffffffull;
		r = write_driver_features(d, vcpu, accept);
		/* Legacy: the ring layout depends on the page size (§4.2.4). */
		if (!r)
			r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);
		if (!r)
			d->driver_features = accept;
		return r;
	}
	if (!force && !(d->device_features & (1ull << VIRTIO_F_VERSION_1)))
		return -ENODEV; /* a modern transport must offer VERSION_1 */
	if (!force)
		accept |= 1ull << VIRTIO_F_VERSION_1;
	r = write_driver_features(d, vcpu, accept);
	if (!r)
		r = guest_mmio_add_status(d, vcpu, VIRTIO_CONFIG_S_FEATURES_OK);
	if (!r)
		r = guest_mmio_get_status(d, vcpu, &status);
	if (r)
		return r;
	if (!(status & VIRTIO_CONFIG_S_FEATURES_OK))
		return -EPROTO;
	d->driver_features = accept;
	return 0;
}

int guest_mmio_init(struct guest_mmio *d, unsigned vcpu, uint64_t wanted)
{
	int r;

	r = guest_mmio_reset(d, vcpu);
	if (!r)
		r = guest_mmio_add_status(d, vcpu, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	if (!r)
		r = guest_mmio_add_status(d, vcpu, VIRTIO_CONFIG_S_DRIVER);
	if (!r)
		r = guest_mmio_negotiate(d, vcpu, wanted, false);
	return r;
}

int guest_mmio_queue_max(struct guest_mmio *d, unsigned vcpu, unsigned q, uint32_t *max)
{
	int r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_QUEUE_SEL, q);

	if (!r)
		r = guest_mmio_rd(d, vcpu, VIRTIO_MMIO_QUEUE_NUM_MAX, max);
	return r;
}

static int write_addr(struct guest_mmio *d, unsigned vcpu, uint32_t lo_reg, uint64_t addr)
{
	int r = guest_mmio_wr(d, vcpu, lo_reg, (uint32_t)addr);

	if (!r)
		r = guest_mmio_wr(d, vcpu, lo_reg + 4, (uint32_t)(addr >> 32));
	return r;
}

int guest_mmio_queue_setup(struct guest_mmio *d, unsigned vcpu, unsigned q, uint32_t num,
			   uint64_t desc, uint64_t avail, uint64_t used, uint32_t legacy_align)
{
	uint32_t max, busy;
	int r;

	r = guest_mmio_queue_max(d, vcpu, q, &max);
	if (r)
		return r;
	if (max == 0 || num > max)
		return -ENOENT;
	/* The queue must not be in use (§4.2.3.2). */
	r = guest_mmio_rd(d, vcpu,
			  d->version == 1 ? VIRTIO_MMIO_QUEUE_PFN : VIRTIO_MMIO_QUEUE_READY, &busy);
	if (r)
		return r;
	if (busy)
		return -EBUSY;
	r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_QUEUE_NUM, num);
	if (r)
		return r;
	if (d->version == 1) {
		if (desc % GUEST_PAGE_SIZE || (desc / GUEST_PAGE_SIZE) >> 32)
			return -EINVAL;
		r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_QUEUE_ALIGN, legacy_align);
		if (!r)
			r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_QUEUE_PFN,
					  (uint32_t)(desc / GUEST_PAGE_SIZE));
		return r;
	}
	r = write_addr(d, vcpu, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
	if (!r)
		r = write_addr(d, vcpu, VIRTIO_MMIO_QUEUE_AVAIL_LOW, avail);
	if (!r)
		r = write_addr(d, vcpu, VIRTIO_MMIO_QUEUE_USED_LOW, used);
	if (!r)
		r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_QUEUE_READY, 1);
	return r;
}

int guest_mmio_notify(struct guest_mmio *d, unsigned vcpu, unsigned q)
{
	return guest_mmio_wr(d, vcpu, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

int guest_mmio_irq_ack(struct guest_mmio *d, unsigned vcpu, uint32_t *isr)
{
	int r = guest_mmio_rd(d, vcpu, VIRTIO_MMIO_INTERRUPT_STATUS, isr);

	if (!r && *isr)
		r = guest_mmio_wr(d, vcpu, VIRTIO_MMIO_INTERRUPT_ACK, *isr);
	return r;
}

int guest_mmio_config_read(struct guest_mmio *d, unsigned vcpu, uint32_t offset, unsigned size,
			   uint64_t *val)
{
	*val = 0;
	return guest_vm_read(d->vm, vcpu, d->base + MMIO_CONFIG_BASE + offset, size, val);
}

int guest_mmio_config_read64(struct guest_mmio *d, unsigned vcpu, uint32_t offset, uint64_t *val)
{
	uint32_t gen0 = 0, gen1 = 0;
	uint64_t lo, hi;
	int r;

	for (unsigned tries = 0; tries < 100; tries++) {
		/* Legacy has no ConfigGeneration: the two reads are trusted as is. */
		if (d->version != 1 && (r = guest_mmio_rd(d, vcpu, VIRTIO_MMIO_CONFIG_GENERATION,
							  &gen0)))
			return r;
		r = guest_mmio_config_read(d, vcpu, offset, 4, &lo);
		if (!r)
			r = guest_mmio_config_read(d, vcpu, offset + 4, 4, &hi);
		if (!r && d->version != 1)
			r = guest_mmio_rd(d, vcpu, VIRTIO_MMIO_CONFIG_GENERATION, &gen1);
		if (r)
			return r;
		if (gen0 == gen1) {
			*val = hi << 32 | (lo & 0xffffffffull);
			return 0;
		}
	}
	return -EAGAIN;
}
