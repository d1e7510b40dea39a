/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test virtio_host over a plain buffer; see fake_host.h. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "fake_host.h"

static struct fake_host *to_fh(void *ctx)
{
	return ctx;
}

static bool in_ram(const struct fake_host *fh, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return false;
	return gpa >= fh->base && end <= fh->base + fh->size;
}

/* Bytes from gpa to the next clamp point (split multiple or boundary). */
static uint64_t clamp_len(const struct fake_host *fh, uint64_t gpa, uint64_t len)
{
	if (fh->split) {
		uint64_t to_split = fh->split - (gpa % fh->split);

		if (to_split < len)
			len = to_split;
	}
	for (unsigned i = 0; i < fh->n_boundaries; i++) {
		uint64_t b = fh->boundary[i];

		if (b > gpa && b - gpa < len)
			len = b - gpa;
	}
	return len;
}

static int fake_map(void *ctx, uint64_t gpa, uint64_t len, unsigned flags, struct guest_span *out)
{
	struct fake_host *fh = to_fh(ctx);
	unsigned token;

	if (len == 0 || !in_ram(fh, gpa, 1))
		return -EFAULT;
	if (flags & GUEST_MAP_WHOLE) {
		if (!in_ram(fh, gpa, len))
			return -EFAULT;
		fh->whole_maps++;
	} else {
		if (fh->fail_enomem)
			return -ENOMEM;
		if (!in_ram(fh, gpa, len))
			len = fh->base + fh->size - gpa; /* the rest fails on the next call */
		len = clamp_len(fh, gpa, len);
	}
	token = ++fh->next_token;
	if (token >= FAKE_MAX_TOKENS) {
		fprintf(stderr, "fake_host: out of tokens\n");
		abort();
	}
	fh->token_live[token] = 1;
	fh->maps++;
	*out = (struct guest_span){
		.ptr = fh->ram + (gpa - fh->base),
		.len = len,
		.token = (void *)(uintptr_t)token,
	};
	return 0;
}

static void fake_unmap(void *ctx, void *token)
{
	struct fake_host *fh = to_fh(ctx);
	uintptr_t t = (uintptr_t)token;

	if (t == 0 || t >= FAKE_MAX_TOKENS || !fh->token_live[t]) {
		fh->bad_unmaps++;
		return;
	}
	fh->token_live[t] = 0;
	fh->unmaps++;
}

static void fake_set_irq(void *ctx, bool level)
{
	struct fake_host *fh = to_fh(ctx);

	if (level)
		fh->irq_raises++;
	else
		fh->irq_lowers++;
	fh->irq_level = level;
}

static void fake_schedule(void *ctx)
{
	to_fh(ctx)->schedules++;
}

static const struct virtio_host_ops fake_host_ops = {
	.map = fake_map,
	.unmap = fake_unmap,
	.set_irq = fake_set_irq,
	.schedule = fake_schedule,
};

void fake_host_init(struct fake_host *fh, uint64_t ram_size)
{
	memset(fh, 0, sizeof(*fh));
	fh->ram = calloc(1, ram_size);
	if (!fh->ram)
		abort();
	fh->base = FAKE_RAM_BASE;
	fh->size = ram_size;
	fh->next_alloc = fh->base + 0x1000; /* keep the first page free for hostile tests */
	fh->host = (struct virtio_host){ .ops = &fake_host_ops, .ctx = fh };
}

void fake_host_fini(struct fake_host *fh)
{
	free(fh->ram);
	fh->ram = NULL;
}

void *fake_ptr(struct fake_host *fh, uint64_t gpa)
{
	if (!in_ram(fh, gpa, 1)) {
		fprintf(stderr, "fake_ptr: 0x%llx outside RAM\n", (unsigned long long)gpa);
		abort();
	}
	return fh->ram + (gpa - fh->base);
}

uint64_t fake_alloc(struct fake_host *fh, uint64_t size, uint64_t align)
{
	uint64_t gpa = (fh->next_alloc + align - 1) & ~(align - 1);

	if (!in_ram(fh, gpa, size)) {
		fprintf(stderr, "fake_alloc: out of guest RAM\n");
		abort();
	}
	fh->next_alloc = gpa + size;
	memset(fake_ptr(fh, gpa), 0, size);
	return gpa;
}

unsigned fake_host_live_maps(const struct fake_host *fh)
{
	return fh->maps - fh->unmaps;
}

void fake_host_add_boundary(struct fake_host *fh, uint64_t gpa)
{
	if (fh->n_boundaries == FAKE_MAX_BOUNDARIES)
		abort();
	fh->boundary[fh->n_boundaries++] = gpa;
}

/* ---- guest-side ring writer ---- */

void fake_vring_init(struct fake_vring *vr, struct fake_host *fh, uint16_t num)
{
	*vr = (struct fake_vring){ .fh = fh, .num = num };
	vr->desc = fake_alloc(fh, 16ull * num, 4096);
	vr->avail = fake_alloc(fh, 6 + 2ull * num, 4096);
	vr->used = fake_alloc(fh, 6 + 8ull * num, 4096);
}

void fake_vring_to_vq(const struct fake_vring *vr, struct virtq *vq)
{
	vq->num = vr->num;
	vq->desc_gpa = vr->desc;
	vq->avail_gpa = vr->avail;
	vq->used_gpa = vr->used;
}

void fake_table_set(struct fake_host *fh, uint64_t table_gpa, uint16_t i, uint64_t addr,
		    uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};

	memcpy(fake_ptr(fh, table_gpa + 16ull * i), &d, sizeof(d));
}

void fake_desc_set(struct fake_vring *vr, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		   uint16_t next)
{
	fake_table_set(vr->fh, vr->desc, i, addr, len, flags, next);
}

static void put16(struct fake_host *fh, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(fake_ptr(fh, gpa), &v, 2);
}

static uint16_t get16(struct fake_host *fh, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, fake_ptr(fh, gpa), 2);
	return le16toh(v);
}

static uint32_t get32(struct fake_host *fh, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, fake_ptr(fh, gpa), 4);
	return le32toh(v);
}

void fake_vring_publish(struct fake_vring *vr, uint16_t head)
{
	put16(vr->fh, vr->avail + 4 + 2ull * (vr->avail_idx % vr->num), head);
	vr->avail_idx++;
	put16(vr->fh, vr->avail + 2, vr->avail_idx);
}

void fake_vring_set_avail_idx(struct fake_vring *vr, uint16_t idx)
{
	vr->avail_idx = idx;
	put16(vr->fh, vr->avail + 2, idx);
}

void fake_vring_set_avail_flags(struct fake_vring *vr, uint16_t flags)
{
	put16(vr->fh, vr->avail, flags);
}

void fake_vring_set_used_event(struct fake_vring *vr, uint16_t idx)
{
	put16(vr->fh, vr->avail + 4 + 2ull * vr->num, idx);
}

uint16_t fake_vring_avail_event(const struct fake_vring *vr)
{
	return get16(vr->fh, vr->used + 4 + 8ull * vr->num);
}

uint16_t fake_vring_used_idx(const struct fake_vring *vr)
{
	return get16(vr->fh, vr->used + 2);
}

uint32_t fake_vring_used_id(const struct fake_vring *vr, uint16_t slot)
{
	return get32(vr->fh, vr->used + 4 + 8ull * (slot % vr->num));
}

uint32_t fake_vring_used_len(const struct fake_vring *vr, uint16_t slot)
{
	return get32(vr->fh, vr->used + 4 + 8ull * (slot % vr->num) + 4);
}
