/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scripted guest: the driver side of a split virtqueue (virtio 1.2 §2.7):
 * ring memory in guest RAM (legacy layout with QueueAlign, or three
 * separate areas), a free list of descriptors kept in host memory, adding
 * direct and indirect chains, the kick decision (EVENT_IDX or NO_NOTIFY)
 * and reaping the used ring with every entry checked against what is in
 * flight. Callers hold vq->lock unless a function says otherwise.
 */
#include <errno.h>
#include <string.h>

#include "guest_blk.h"

#define LEGACY_ALIGN GUEST_PAGE_SIZE

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint64_t avail_bytes(uint16_t num)
{
	return 6 + 2ull * num; /* flags, idx, ring[num], used_event */
}

static uint64_t used_bytes(uint16_t num)
{
	return 6 + 8ull * num; /* flags, idx, ring[num], avail_event */
}

static void vq_reset_shadow(struct gvq *vq)
{
	for (unsigned i = 0; i < vq->num; i++) {
		vq->next[i] = (uint16_t)(i + 1);
		vq->ndesc[i] = 0;
		vq->owner[i] = NULL;
	}
	vq->free_head = 0;
	vq->num_free = vq->num;
	vq->avail_idx = 0;
	vq->num_added = 0;
	vq->last_used = 0;
}

/* Ring memory: allocated the first time, zeroed and reused after a reset. */
int gvq_alloc_rings(struct gvq *vq, struct guest_vm *vm, uint16_t num, bool legacy)
{
	uint64_t gpa, size;
	void *p;
	int r;

	if (num == 0 || num > GBLK_MAX_QSIZE || (num & (num - 1)))
		return -EINVAL;
	if (vq->desc && vq->num == num) {
		if (legacy) {
			size = align_up(16ull * num + avail_bytes(num), LEGACY_ALIGN) +
			       used_bytes(num);
			memset(vq->desc, 0, size);
		} else {
			memset(vq->desc, 0, 16ull * num);
			memset(vq->avail, 0, avail_bytes(num));
			memset(vq->used, 0, used_bytes(num));
		}
	} else if (legacy) {
		/* §2.7.2 legacy layout: desc, avail, then used at the next QueueAlign. */
		uint64_t used_off = align_up(16ull * num + avail_bytes(num), LEGACY_ALIGN);

		r = guest_vm_alloc(vm, used_off + used_bytes(num), GUEST_PAGE_SIZE, &gpa, &p);
		if (r)
			return r;
		vq->desc = p;
		vq->desc_gpa = gpa;
		vq->avail = (struct vring_avail *)((uint8_t *)p + 16ull * num);
		vq->avail_gpa = gpa + 16ull * num;
		vq->used = (struct vring_used *)((uint8_t *)p + used_off);
		vq->used_gpa = gpa + used_off;
	} else {
		/* Three separate areas, so the device must use each address register. */
		r = guest_vm_alloc(vm, 16ull * num, 64, &vq->desc_gpa, &p);
		if (r)
			return r;
		vq->desc = p;
		r = guest_vm_alloc(vm, avail_bytes(num), 64, &vq->avail_gpa, &p);
		if (r)
			return r;
		vq->avail = p;
		r = guest_vm_alloc(vm, used_bytes(num), 64, &vq->used_gpa, &p);
		if (r)
			return r;
		vq->used = p;
	}
	vq->num = num;
	vq->used_event = &vq->avail->ring[num];
	vq->avail_event = (uint16_t *)&vq->used->ring[num];
	vq_reset_shadow(vq);
	return 0;
}

uint32_t gvq_legacy_align(void)
{
	return LEGACY_ALIGN;
}

/* Give back the descriptors of the chain at head. */
static void free_chain(struct gvq *vq, uint16_t head)
{
	uint16_t d = head, n = vq->ndesc[head];

	for (uint16_t i = 1; i < n; i++)
		d = vq->next[d];
	vq->next[d] = vq->free_head;
	vq->free_head = head;
	vq->num_free = (uint16_t)(vq->num_free + n);
	vq->ndesc[head] = 0;
}

static void publish(struct gvq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx % vq->num] = head;
	vq->avail_idx++;
	vq->num_added++;
	/* Descriptors and the ring entry become visible before the index. */
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
}

static void fill_desc(struct vring_desc *d, const struct gvq_seg *s, uint16_t next, bool last)
{
	d->addr = s->gpa;
	d->len = s->len;
	d->flags = (uint16_t)((s->write ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT));
	d->next = last ? 0 : next;
}

int gvq_add(struct gvq *vq, const struct gvq_seg *segs, unsigned n, struct vring_desc *itable,
	    uint64_t itable_gpa, struct gblk_req *owner)
{
	uint16_t head = vq->free_head, d;

	if (n == 0 || (!itable && n > vq->num))
		return -EINVAL;
	if (vq->num_free < (itable ? 1 : n))
		return -ENOSPC;
	if (itable) {
		for (unsigned i = 0; i < n; i++)
			fill_desc(&itable[i], &segs[i], (uint16_t)(i + 1), i + 1 == n);
		vq->desc[head] = (struct vring_desc){
			.addr = itable_gpa,
			.len = (uint32_t)(n * sizeof(struct vring_desc)),
			.flags = VRING_DESC_F_INDIRECT,
		};
		vq->ndesc[head] = 1;
		vq->free_head = vq->next[head];
		vq->num_free--;
	} else {
		d = head;
		for (unsigned i = 0; i < n; i++) {
			fill_desc(&vq->desc[d], &segs[i], vq->next[d], i + 1 == n);
			if (i + 1 < n)
				d = vq->next[d];
		}
		vq->ndesc[head] = (uint16_t)n;
		vq->free_head = vq->next[d];
		vq->num_free = (uint16_t)(vq->num_free - n);
	}
	vq->owner[head] = owner;
	if (owner)
		owner->head = head;
	publish(vq, head);
	return head;
}

int gvq_publish_raw(struct gvq *vq, uint16_t head)
{
	pthread_mutex_lock(&vq->lock);
	publish(vq, head);
	pthread_mutex_unlock(&vq->lock);
	return 0;
}

bool gvq_kick_prepare(struct gvq *vq)
{
	uint16_t new_idx = vq->avail_idx, old_idx = (uint16_t)(vq->avail_idx - vq->num_added);
	bool need;

	vq->num_added = 0;
	if (new_idx == old_idx)
		return false;
	/* The index store must be visible before we read the device's wish. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx)
		need = vring_need_event(__atomic_load_n(vq->avail_event, __ATOMIC_ACQUIRE), new_idx,
					old_idx);
	else
		need = !(__atomic_load_n(&vq->used->flags, __ATOMIC_ACQUIRE) &
			 VRING_USED_F_NO_NOTIFY);
	if (need)
		vq->kicks++;
	else
		vq->kicks_skipped++;
	return need;
}

static unsigned reap_once(struct gvq *vq)
{
	uint16_t idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	unsigned n = 0;

	/* More entries than the ring holds: the device wrote garbage. */
	if ((uint16_t)(idx - vq->last_used) > vq->num) {
		atomic_store(&vq->blk->ring_error, true);
		return 0;
	}
	while (vq->last_used != idx) {
		struct vring_used_elem e = vq->used->ring[vq->last_used % vq->num];
		struct gblk_req *r;

		vq->last_used++;
		if (e.id >= vq->num || !vq->owner[e.id]) {
			vq->bad_used++;
			continue;
		}
		r = vq->owner[e.id];
		vq->owner[e.id] = NULL;
		free_chain(vq, (uint16_t)e.id);
		r->used_len = e.len;
		r->result = *r->status_at;
		r->inflight = false;
		r->done = true;
		vq->completions++;
		n++;
	}
	return n;
}

unsigned gvq_reap(struct gvq *vq)
{
	unsigned n = reap_once(vq);

	if (vq->event_idx) {
		/* Ask for an interrupt at the next entry, then close the race. */
		do {
			__atomic_store_n(vq->used_event, vq->last_used, __ATOMIC_RELEASE);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) == vq->last_used)
				break;
			n += reap_once(vq);
		} while (!atomic_load(&vq->blk->ring_error));
	}
	if (n)
		pthread_cond_broadcast(&vq->cond);
	return n;
}

void gvq_abort_all(struct gvq *vq)
{
	for (unsigned h = 0; h < vq->num; h++) {
		struct gblk_req *r = vq->owner[h];

		if (!r)
			continue;
		r->result = GBLK_S_ABORTED;
		r->inflight = false;
		r->done = true;
		vq->completions++;
	}
	vq_reset_shadow(vq);
	pthread_cond_broadcast(&vq->cond);
}
