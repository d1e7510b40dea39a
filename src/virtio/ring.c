/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Split virtqueue engine (virtio 1.2 §2.7): ring mapping, the descriptor
 * chain walker, used-ring publication and EVENT_IDX notification decisions.
 *
 * Every ring field is written by an untrusted guest, possibly while we read
 * it. Each guest field is read exactly once into a local (descriptors are
 * copied whole; indirect tables are copied out of guest memory) and our
 * bookkeeping uses shadow indices only.
 *
 * Which errors break the device: we follow libvhost-user, which calls
 * vu_panic() (device unusable until reset) for every descriptor-rule
 * violation: avail->idx moved by more than num, more chains in flight than
 * the queue holds, head >= num, next >= table size, a loop (chain longer
 * than its table), a bad indirect table (length 0 or not a multiple of 16,
 * more than num entries, nested, not negotiated, combined with NEXT or
 * not at the head), a zero-length buffer, a readable buffer after a
 * writable one, an address + length that overflows or is not guest RAM.
 * virtq_pop() returns -EIO for these and the caller sets DEVICE_NEEDS_RESET
 * (virtio 1.2 §2.1.2). The only request-level failures are host limits
 * the guest did not violate a rule to reach: more than REQ_MAX_IOV iovecs
 * (a buffer split by mapping boundaries) or the host failing to map a data
 * buffer now (-ENOMEM). Those chains come back "truncated" and the device
 * answers them with IOERR.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "compiler.h"
#include "ring.h"

#define DESC_SIZE sizeof(struct vring_desc)

static inline void compiler_barrier(void)
{
	__asm__ __volatile__("" ::: "memory");
}

/* ---- ring geometry ---- */

static uint64_t desc_bytes(uint16_t num)
{
	return (uint64_t)num * DESC_SIZE;
}

/* flags, idx, ring[num], used_event */
static uint64_t avail_bytes(uint16_t num)
{
	return 6 + 2 * (uint64_t)num;
}

/* flags, idx, ring[num], avail_event */
static uint64_t used_bytes(uint16_t num)
{
	return 6 + (uint64_t)num * sizeof(struct vring_used_elem);
}

/* ---- guest-field accessors: one read or write each, never cached by the compiler ---- */

static uint16_t avail_idx_read(const struct virtq *vq)
{
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_RELAXED));
}

static uint16_t avail_flags_read(const struct virtq *vq)
{
	return le16toh(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED));
}

static uint16_t avail_ring_read(const struct virtq *vq, uint16_t slot)
{
	return le16toh(__atomic_load_n(&vq->avail->ring[slot], __ATOMIC_RELAXED));
}

static uint16_t used_event_read(const struct virtq *vq)
{
	return avail_ring_read(vq, vq->num); /* avail->ring[num] */
}

static void avail_event_write(struct virtq *vq, uint16_t val)
{
	uint16_t *p = (uint16_t *)(void *)&vq->used->ring[vq->num];

	__atomic_store_n(p, htole16(val), __ATOMIC_RELAXED);
}

/* Copy one descriptor of the (aligned) ring, each field read once. */
static struct vring_desc desc_ring_read(const struct virtq *vq, uint16_t i)
{
	const struct vring_desc *d = &vq->desc[i];

	return (struct vring_desc){
		.addr = le64toh(__atomic_load_n(&d->addr, __ATOMIC_RELAXED)),
		.len = le32toh(__atomic_load_n(&d->len, __ATOMIC_RELAXED)),
		.flags = le16toh(__atomic_load_n(&d->flags, __ATOMIC_RELAXED)),
		.next = le16toh(__atomic_load_n(&d->next, __ATOMIC_RELAXED)),
	};
}

/* ---- start / stop ---- */

static int map_ring_part(const struct virtio_host *host, uint64_t gpa, uint64_t len,
			 unsigned flags, struct guest_span *span, void **ptr)
{
	uint64_t end;
	int r;

	if (add_overflows(gpa, len, &end))
		return -EFAULT;
	r = host->ops->map(host->ctx, gpa, len, flags | GUEST_MAP_WHOLE, span);
	if (r < 0)
		return r;
	if (span->len < len) { /* the host broke the WHOLE promise: do not trust it */
		host->ops->unmap(host->ctx, span->token);
		*span = (struct guest_span){ 0 };
		return -EFAULT;
	}
	*ptr = span->ptr;
	return 0;
}

int virtq_start(struct virtq *vq, const struct virtio_host *host)
{
	void *p;
	int r;

	if (vq->started)
		return 0;
	if (vq->num == 0 || vq->num > VIRTQ_MAX_SIZE || (vq->num & (vq->num - 1)) != 0)
		return -EINVAL;
	/* virtio 1.2 §2.7: descriptor table 16, available ring 2, used ring 4. */
	if (vq->desc_gpa % VRING_DESC_ALIGN_SIZE || vq->avail_gpa % VRING_AVAIL_ALIGN_SIZE ||
	    vq->used_gpa % VRING_USED_ALIGN_SIZE)
		return -EINVAL;

	r = map_ring_part(host, vq->desc_gpa, desc_bytes(vq->num), 0, &vq->desc_span, &p);
	if (r < 0)
		goto err;
	vq->desc = p;
	r = map_ring_part(host, vq->avail_gpa, avail_bytes(vq->num), 0, &vq->avail_span, &p);
	if (r < 0)
		goto err;
	vq->avail = p;
	r = map_ring_part(host, vq->used_gpa, used_bytes(vq->num), GUEST_MAP_WRITE,
			  &vq->used_span, &p);
	if (r < 0)
		goto err;
	vq->used = p;

	/* A host pointer must keep the guest address's alignment for our atomics. */
	if ((uintptr_t)vq->desc % VRING_DESC_ALIGN_SIZE ||
	    (uintptr_t)vq->avail % VRING_AVAIL_ALIGN_SIZE ||
	    (uintptr_t)vq->used % VRING_USED_ALIGN_SIZE) {
		r = -EFAULT;
		goto err;
	}

	vq->last_avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->inflight = 0;
	vq->started = true;
	/* The device owns these: start from a known state matching our shadows. */
	__atomic_store_n(&vq->used->flags, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&vq->used->idx, 0, __ATOMIC_RELAXED);
	if (vq->event_idx)
		avail_event_write(vq, 0);
	return 0;
err:
	virtq_stop(vq, host);
	return r;
}

static void unmap_span(const struct virtio_host *host, struct guest_span *span)
{
	if (span->ptr)
		host->ops->unmap(host->ctx, span->token);
	*span = (struct guest_span){ 0 };
}

void virtq_stop(struct virtq *vq, const struct virtio_host *host)
{
	if (!vq)
		return;
	unmap_span(host, &vq->desc_span);
	unmap_span(host, &vq->avail_span);
	unmap_span(host, &vq->used_span);
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->started = false;
	vq->last_avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->inflight = 0;
}

/* ---- the chain walker ---- */

struct walk {
	const struct virtq *vq;
	const struct virtio_host *host;
	struct virtq_chain *chain;
	bool seen_writable;
	/* Last writable buffer: where the status byte is when truncated. */
	uint64_t last_w_gpa, last_w_len;
};

void virtq_chain_release(const struct virtio_host *host, struct virtq_chain *chain)
{
	for (uint16_t i = 0; i < chain->n_tokens; i++)
		host->ops->unmap(host->ctx, chain->tokens[i]);
	chain->n_tokens = 0;
}

/* Switch to truncated mode: drop every mapping, keep validating. */
static void walk_truncate(struct walk *w)
{
	virtq_chain_release(w->host, w->chain);
	w->chain->truncated = true;
	w->chain->n_out = 0;
	w->chain->n_in = 0;
}

/*
 * Map one guest buffer into as many iovecs as the host's mappings need.
 * -EIO: not guest RAM or overflowing (corruption). A host limit turns the
 * chain into a truncated one and returns 0.
 */
static int walk_map_buffer(struct walk *w, uint64_t gpa, uint32_t len, bool writable)
{
	struct virtq_chain *c = w->chain;
	uint64_t end;

	if (add_overflows(gpa, (uint64_t)len, &end))
		return -EIO;
	if (writable) {
		w->last_w_gpa = gpa;
		w->last_w_len = len;
		c->in_bytes += len;
	} else {
		c->out_bytes += len;
	}
	while (len > 0 && !c->truncated) {
		struct guest_span span;
		uint16_t n = c->n_out + c->n_in;
		int r;

		if (n == REQ_MAX_IOV) {
			walk_truncate(w);
			break;
		}
		r = w->host->ops->map(w->host->ctx, gpa, len, writable ? GUEST_MAP_WRITE : 0, &span);
		if (r == -EFAULT)
			return -EIO;
		if (r < 0 || span.len == 0 || span.len > len) {
			if (r >= 0)
				w->host->ops->unmap(w->host->ctx, span.token);
			walk_truncate(w);
			break;
		}
		c->iov[n] = (struct iovec){ .iov_base = span.ptr, .iov_len = span.len };
		c->tokens[c->n_tokens++] = span.token;
		if (writable)
			c->n_in++;
		else
			c->n_out++;
		gpa += span.len;
		len -= (uint32_t)span.len;
	}
	return 0;
}

/*
 * Truncated mode does not validate guest RAM for the buffers it skipped;
 * the request fails anyway. What is left is finding the status byte.
 */
static int walk_finish_truncated(struct walk *w)
{
	struct virtq_chain *c = w->chain;
	struct guest_span span;
	int r;

	c->n_out = 0;
	c->n_in = 0;
	if (!w->seen_writable)
		return 0;
	r = w->host->ops->map(w->host->ctx, w->last_w_gpa + w->last_w_len - 1, 1,
			      GUEST_MAP_WRITE, &span);
	if (r == -EFAULT)
		return -EIO;
	if (r < 0)
		return 0; /* cannot answer with a status: pushed with written = 0 */
	c->iov[0] = (struct iovec){ .iov_base = span.ptr, .iov_len = 1 };
	c->tokens[c->n_tokens++] = span.token;
	c->n_in = 1;
	return 0;
}

/* Copy an indirect table out of guest memory (it may span several mappings). */
static int copy_indirect_table(struct walk *w, uint64_t gpa, uint32_t len, struct vring_desc *table)
{
	uint8_t *dst = (uint8_t *)table;
	uint64_t end;

	if (add_overflows(gpa, (uint64_t)len, &end))
		return -EIO;
	while (len > 0) {
		struct guest_span span;
		int r = w->host->ops->map(w->host->ctx, gpa, len, 0, &span);

		if (r == -EFAULT)
			return -EIO;
		if (r < 0)
			return r;
		if (span.len == 0 || span.len > len) {
			w->host->ops->unmap(w->host->ctx, span.token);
			return -EIO;
		}
		memcpy(dst, span.ptr, span.len);
		w->host->ops->unmap(w->host->ctx, span.token);
		dst += span.len;
		gpa += span.len;
		len -= (uint32_t)span.len;
	}
	compiler_barrier(); /* from here on only the local copy is read */
	return 0;
}

static struct vring_desc table_read(const struct vring_desc *table, uint16_t i)
{
	return (struct vring_desc){
		.addr = le64toh(table[i].addr),
		.len = le32toh(table[i].len),
		.flags = le16toh(table[i].flags),
		.next = le16toh(table[i].next),
	};
}

static int walk_chain(struct walk *w, uint16_t head)
{
	const struct virtq *vq = w->vq;
	struct vring_desc table[VIRTQ_MAX_SIZE];
	struct vring_desc d = desc_ring_read(vq, head);
	bool indirect = false;
	uint16_t max = vq->num, count = 0;
	int r;

	if (d.flags & VRING_DESC_F_INDIRECT) {
		/*
		 * virtio 1.2 §2.7.5.3.1: only when negotiated, never with NEXT,
		 * a whole number of descriptors, no more than the queue size.
		 * The WRITE flag of the table descriptor is ignored (§2.7.5.3.2).
		 */
		if (!vq->indirect || (d.flags & VRING_DESC_F_NEXT) || d.len == 0 ||
		    d.len % DESC_SIZE != 0 || d.len / DESC_SIZE > vq->num)
			return -EIO;
		r = copy_indirect_table(w, d.addr, d.len, table);
		if (r < 0)
			return r;
		indirect = true;
		max = (uint16_t)(d.len / DESC_SIZE);
		d = table_read(table, 0);
	}

	for (;;) {
		bool writable = d.flags & VRING_DESC_F_WRITE;

		/* A chain visiting more descriptors than its table has loops. */
		if (++count > max || count > VIRTQ_MAX_CHAIN)
			return -EIO;
		/*
		 * Nested indirect, or an indirect descriptor behind direct
		 * ones (the spec only lets it stand alone, since it may not
		 * carry NEXT and libvhost-user only honours it at the head).
		 */
		if (d.flags & VRING_DESC_F_INDIRECT)
			return -EIO;
		if (d.len == 0)
			return -EIO;
		if (!writable && w->seen_writable)
			return -EIO;
		w->seen_writable |= writable;
		r = walk_map_buffer(w, d.addr, d.len, writable);
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= max)
			return -EIO;
		d = indirect ? table_read(table, d.next) : desc_ring_read(vq, d.next);
	}
	if (w->chain->truncated)
		return walk_finish_truncated(w);
	return 0;
}

int virtq_pop(struct virtq *vq, const struct virtio_host *host, struct virtq_chain *chain)
{
	struct walk w = { .vq = vq, .host = host, .chain = chain };
	uint16_t avail_idx, pending, head;
	int r;

	/* chain is only touched once there is a head to walk: an empty pop leaves it be. */
	if (!vq->started)
		return 0;

	avail_idx = avail_idx_read(vq);
	pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (pending == 0)
		return 0;
	if (pending > vq->num)
		return -EIO; /* avail->idx moved by more than the queue holds */
	if (vq->inflight >= vq->num)
		return -EIO; /* more chains outstanding than the queue can hold */
	/* Read ring entries only after seeing the index that published them. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);

	head = avail_ring_read(vq, vq->last_avail_idx & (vq->num - 1));
	if (head >= vq->num)
		return -EIO;
	/* Field by field: clearing the whole chain would touch 12 KiB per request. */
	chain->head = head;
	chain->n_out = chain->n_in = chain->n_tokens = 0;
	chain->out_bytes = chain->in_bytes = 0;
	chain->truncated = false;
	r = walk_chain(&w, head);
	if (r < 0) {
		virtq_chain_release(host, chain);
		chain->n_out = chain->n_in = 0;
		return r;
	}
	vq->last_avail_idx++;
	vq->inflight++;
	return 1;
}

void virtq_push(struct virtq *vq, const struct virtio_host *host, struct virtq_chain *chain,
		uint32_t written)
{
	struct vring_used_elem *elem;

	/* Mappings (grants) go before the guest may see the buffer as used. */
	virtq_chain_release(host, chain);
	if (!vq->started)
		return;
	if (written > chain->in_bytes)
		written = (uint32_t)chain->in_bytes;

	elem = &vq->used->ring[vq->used_idx & (vq->num - 1)];
	__atomic_store_n(&elem->id, htole32(chain->head), __ATOMIC_RELAXED);
	__atomic_store_n(&elem->len, htole32(written), __ATOMIC_RELAXED);
	vq->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
	if (vq->inflight > 0)
		vq->inflight--;
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old, new;
	bool valid;

	if (!vq->started)
		return false;
	/* Order our used->idx store before reading the driver's suppression fields. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(avail_flags_read(vq) & VRING_AVAIL_F_NO_INTERRUPT);

	valid = vq->signalled_used_valid;
	old = vq->signalled_used;
	new = vq->used_idx;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	/* vring_need_event: used_event in [old, new), modulo 2^16. */
	return !valid || vring_need_event(used_event_read(vq), new, old);
}

void virtq_update_avail_event(struct virtq *vq)
{
	if (!vq->started || !vq->event_idx)
		return;
	avail_event_write(vq, vq->last_avail_idx);
	/* Publish avail_event before the caller re-reads avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtq_has_work(const struct virtq *vq)
{
	return vq->started && avail_idx_read(vq) != vq->last_avail_idx;
}
