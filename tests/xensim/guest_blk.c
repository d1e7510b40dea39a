/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scripted guest: the virtio-blk driver (start, reset, requests, the
 * interrupt handler, synchronous calls). Ring mechanics are in guest_vq.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>

#include "guest_blk.h"

#define SYNC_MAX_BYTES (1u << 20)
#define SYNC_MAX_SEGS 16u
#define IRQ_POLL_MS 20u
#define CFG_SIZE_MAX 8u
#define CFG_SEG_MAX 12u
#define CFG_BLK_SIZE 20u
#define CFG_NUM_QUEUES 34u

static unsigned timeout_of(const struct gblk *b)
{
	return b->opts.timeout_ms ? b->opts.timeout_ms : GUEST_TIMEOUT_MS;
}

bool gblk_has(const struct gblk *b, unsigned feature)
{
	return b->dev.driver_features & (1ull << feature);
}

static void note_access(struct gblk *b, int r)
{
	if (r == -EFAULT && !atomic_exchange(&b->gone, true)) {
		for (unsigned q = 0; q < GBLK_MAX_QUEUES; q++) {
			pthread_mutex_lock(&b->vq[q].lock);
			pthread_cond_broadcast(&b->vq[q].cond);
			pthread_mutex_unlock(&b->vq[q].lock);
		}
	}
}

static void handle_irq(struct gblk *b)
{
	unsigned vcpu = b->opts.irq_vcpu;
	uint32_t isr = 0;
	uint8_t status;
	int r;

	atomic_fetch_add(&b->irqs, 1);
	r = guest_mmio_irq_ack(&b->dev, vcpu, &isr);
	note_access(b, r);
	if (r)
		return;
	if (!isr)
		atomic_fetch_add(&b->spurious_irqs, 1);
	if (isr & VIRTIO_MMIO_INT_CONFIG) {
		atomic_fetch_add(&b->config_irqs, 1);
		if (!guest_mmio_get_status(&b->dev, vcpu, &status) &&
		    (status & VIRTIO_CONFIG_S_NEEDS_RESET))
			atomic_store(&b->needs_reset, true);
	}
	if (isr & VIRTIO_MMIO_INT_VRING) {
		for (unsigned q = 0; q < b->nr_queues; q++) {
			pthread_mutex_lock(&b->vq[q].lock);
			gvq_reap(&b->vq[q]);
			pthread_mutex_unlock(&b->vq[q].lock);
		}
	}
	if (atomic_load(&b->needs_reset)) {
		for (unsigned q = 0; q < b->nr_queues; q++) {
			pthread_mutex_lock(&b->vq[q].lock);
			pthread_cond_broadcast(&b->vq[q].cond);
			pthread_mutex_unlock(&b->vq[q].lock);
		}
	}
}

/* The guest's interrupt handler: reaps only when the device interrupts. */
static void *irq_main(void *arg)
{
	struct gblk *b = arg;
	struct sim_guest *g = b->dev.vm->sim;
	uint64_t seen = b->irq_seen; /* read before DRIVER_OK: no edge is missed */

	while (!atomic_load(&b->irq_stop)) {
		if (sim_irq_wait(g, b->dev.irq, seen, IRQ_POLL_MS) != 0)
			continue;
		seen = sim_irq_count(g, b->dev.irq);
		handle_irq(b);
	}
	return NULL;
}

static void irq_thread_stop(struct gblk *b)
{
	if (!b->irq_running)
		return;
	atomic_store(&b->irq_stop, true);
	pthread_join(b->irq_thread, NULL);
	b->irq_running = false;
}

static int cfg_read(struct gblk *b, unsigned vcpu, uint32_t off, unsigned size, uint32_t *val)
{
	uint64_t v;
	int r = guest_mmio_config_read(&b->dev, vcpu, off, size, &v);

	*val = (uint32_t)v;
	return r;
}

static int read_config(struct gblk *b, unsigned vcpu)
{
	uint32_t v;
	int r;

	r = guest_mmio_config_read64(&b->dev, vcpu, 0, &b->capacity);
	b->size_max = b->seg_max = 0;
	b->blk_size = GBLK_SECTOR;
	b->cfg_num_queues = 1;
	if (!r && gblk_has(b, VIRTIO_BLK_F_SIZE_MAX))
		r = cfg_read(b, vcpu, CFG_SIZE_MAX, 4, &b->size_max);
	if (!r && gblk_has(b, VIRTIO_BLK_F_SEG_MAX))
		r = cfg_read(b, vcpu, CFG_SEG_MAX, 4, &b->seg_max);
	if (!r && gblk_has(b, VIRTIO_BLK_F_BLK_SIZE))
		r = cfg_read(b, vcpu, CFG_BLK_SIZE, 4, &b->blk_size);
	if (!r && gblk_has(b, VIRTIO_BLK_F_MQ)) {
		r = cfg_read(b, vcpu, CFG_NUM_QUEUES, 2, &v);
		b->cfg_num_queues = (uint16_t)v;
	}
	return r;
}

static int queue_start(struct gblk *b, unsigned vcpu, unsigned q)
{
	struct gvq *vq = &b->vq[q];
	bool legacy = b->dev.version == 1;
	uint32_t max, num;
	int r;

	r = guest_mmio_queue_max(&b->dev, vcpu, q, &max);
	if (r)
		return r;
	num = b->opts.queue_size ? b->opts.queue_size : max;
	if (num > GBLK_MAX_QSIZE)
		num = GBLK_MAX_QSIZE;
	if (max == 0 || num == 0 || num > max)
		return -ENOENT;
	pthread_mutex_lock(&vq->lock);
	r = gvq_alloc_rings(vq, b->dev.vm, (uint16_t)num, legacy);
	vq->event_idx = gblk_has(b, VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = gblk_has(b, VIRTIO_RING_F_INDIRECT_DESC);
	pthread_mutex_unlock(&vq->lock);
	if (r)
		return r;
	return guest_mmio_queue_setup(&b->dev, vcpu, q, num, vq->desc_gpa, vq->avail_gpa,
				      vq->used_gpa, gvq_legacy_align());
}

int gblk_start(struct gblk *b, unsigned vcpu)
{
	return gblk_start_with(b, vcpu, NULL, NULL);
}

int gblk_start_with(struct gblk *b, unsigned vcpu, int (*after_features)(struct gblk *, void *),
		    void *ctx)
{
	uint64_t wanted = b->opts.features ? b->opts.features : GBLK_DEFAULT_FEATURES;
	unsigned nq = 1;
	int r;

	irq_thread_stop(b);
	atomic_store(&b->gone, false);
	atomic_store(&b->needs_reset, false);
	atomic_store(&b->ring_error, false);
	r = guest_mmio_probe(&b->dev, vcpu);
	if (!r && b->dev.device_id != VIRTIO_ID_BLOCK)
		r = -ENODEV;
	if (!r)
		r = guest_mmio_init(&b->dev, vcpu, wanted);
	if (!r)
		r = read_config(b, vcpu);
	if (!r && after_features)
		r = after_features(b, ctx);
	if (r)
		goto err;
	if (gblk_has(b, VIRTIO_BLK_F_MQ) && b->opts.nr_queues > 1) {
		nq = b->opts.nr_queues;
		if (nq > b->cfg_num_queues)
			nq = b->cfg_num_queues;
		if (nq > GBLK_MAX_QUEUES)
			nq = GBLK_MAX_QUEUES;
		if (nq == 0)
			nq = 1;
	}
	b->nr_queues = nq;
	b->irq_seen = sim_irq_count(b->dev.vm->sim, b->dev.irq);
	for (unsigned q = 0; q < nq && !r; q++)
		r = queue_start(b, vcpu, q);
	if (!r)
		r = guest_mmio_add_status(&b->dev, vcpu, VIRTIO_CONFIG_S_DRIVER_OK);
	if (r)
		goto err;
	if (!b->opts.poll) {
		atomic_store(&b->irq_stop, false);
		if (pthread_create(&b->irq_thread, NULL, irq_main, b) != 0) {
			r = -EAGAIN;
			goto err;
		}
		b->irq_running = true;
	}
	b->started = true;
	return 0;
err:
	/* Tell the device we gave up (§3.1.1), as Linux does; ignore failures. */
	if (r != -EFAULT && r != -ETIMEDOUT)
		guest_mmio_add_status(&b->dev, vcpu, VIRTIO_CONFIG_S_FAILED);
	note_access(b, r);
	return r;
}

int gblk_open(struct gblk *b, struct guest_vm *vm, uint64_t base, unsigned irq,
	      const struct gblk_opts *opts)
{
	return gblk_open_with(b, vm, base, irq, opts, NULL, NULL);
}

int gblk_open_with(struct gblk *b, struct guest_vm *vm, uint64_t base, unsigned irq,
		   const struct gblk_opts *opts, int (*after_features)(struct gblk *, void *),
		   void *ctx)
{
	*b = (struct gblk){ .opts = opts ? *opts : (struct gblk_opts){ 0 } };
	if (b->opts.irq_vcpu >= vm->nr_vcpus)
		return -EINVAL;
	guest_mmio_bind(&b->dev, vm, base, irq);
	for (unsigned q = 0; q < GBLK_MAX_QUEUES; q++) {
		b->vq[q].blk = b;
		b->vq[q].index = (uint16_t)q;
		pthread_mutex_init(&b->vq[q].lock, NULL);
		pthread_cond_init(&b->vq[q].cond, NULL);
	}
	return gblk_start_with(b, b->opts.irq_vcpu, after_features, ctx);
}

int gblk_reset(struct gblk *b, unsigned vcpu)
{
	int r;

	irq_thread_stop(b);
	r = guest_mmio_reset(&b->dev, vcpu);
	note_access(b, r);
	for (unsigned q = 0; q < b->nr_queues; q++) {
		pthread_mutex_lock(&b->vq[q].lock);
		gvq_abort_all(&b->vq[q]);
		pthread_mutex_unlock(&b->vq[q].lock);
	}
	b->started = false;
	return r;
}

int gblk_req_alloc(struct gblk *b, uint32_t max_bytes, unsigned max_segs, struct gblk_req **out)
{
	struct gblk_req *r;
	uint64_t meta_gpa;
	uint8_t *meta;
	int rc;

	if (max_segs == 0)
		max_segs = 1;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	/* Header at 0, status at 32, indirect table (header x2 + data + status) at 64. */
	rc = guest_vm_alloc(b->dev.vm, 64 + (max_segs + 3ull) * sizeof(struct vring_desc), 64,
			    &meta_gpa, (void **)&meta);
	if (!rc)
		rc = guest_vm_alloc(b->dev.vm, (uint64_t)max_bytes + 64, GUEST_PAGE_SIZE,
				    &r->buf_gpa, (void **)&r->buf);
	if (rc) {
		free(r);
		return rc;
	}
	r->hdr = meta;
	r->hdr_gpa = meta_gpa;
	r->status = meta + 32;
	r->status_gpa = meta_gpa + 32;
	r->itable = (struct vring_desc *)(meta + 64);
	r->itable_gpa = meta_gpa + 64;
	r->max_segs = max_segs;
	r->buf_cap = max_bytes;
	*out = r;
	return 0;
}

void gblk_req_free(struct gblk_req *r)
{
	free(r);
}

static void pool_free(struct gblk *b, unsigned vcpu)
{
	for (unsigned i = 0; i < b->pool_n[vcpu]; i++)
		gblk_req_free(b->pool[vcpu][i]);
	free(b->pool[vcpu]);
	b->pool[vcpu] = NULL;
	b->pool_n[vcpu] = 0;
}

int gblk_pool(struct gblk *b, unsigned vcpu, unsigned n, uint32_t bytes, unsigned segs,
	      struct gblk_req ***out)
{
	struct gblk_req **p;
	int r;

	if (vcpu >= GUEST_MAX_VCPUS || n == 0)
		return -EINVAL;
	p = b->pool[vcpu];
	if (p && b->pool_n[vcpu] >= n && p[0]->buf_cap >= bytes && p[0]->max_segs >= segs) {
		*out = p;
		return 0;
	}
	/* Too small: start again (the old guest memory is not reused). */
	pool_free(b, vcpu);
	p = calloc(n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	b->pool[vcpu] = p;
	for (unsigned i = 0; i < n; i++) {
		r = gblk_req_alloc(b, bytes, segs, &p[i]);
		if (r)
			return r;
		b->pool_n[vcpu] = i + 1;
	}
	*out = p;
	return 0;
}

void gblk_req_set(struct gblk_req *r, uint32_t type, uint64_t sector, uint32_t len, unsigned nseg,
		  unsigned layout)
{
	if (len > r->buf_cap)
		len = r->buf_cap;
	if (nseg > r->max_segs)
		nseg = r->max_segs;
	if (nseg > len)
		nseg = len;
	if (nseg == 0)
		nseg = len ? 1 : 0;
	r->type = type;
	r->sector = sector;
	r->len = len;
	r->nseg = nseg;
	r->layout = layout;
	r->done = false;
	r->result = GBLK_S_UNTOUCHED;
	r->used_len = 0;
}

void gblk_close(struct gblk *b)
{
	if (!b || !b->dev.vm)
		return;
	irq_thread_stop(b);
	for (unsigned i = 0; i < GUEST_MAX_VCPUS; i++) {
		gblk_req_free(b->sync_req[i]);
		b->sync_req[i] = NULL;
		pool_free(b, i);
	}
	for (unsigned q = 0; q < GBLK_MAX_QUEUES; q++) {
		pthread_mutex_destroy(&b->vq[q].lock);
		pthread_cond_destroy(&b->vq[q].cond);
	}
	b->dev.vm = NULL;
	b->started = false;
}

static bool device_writes_data(const struct gblk_req *r)
{
	return r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_GET_ID;
}

static bool status_merged(const struct gblk_req *r)
{
	return (r->layout & GBLK_L_STATUS_IN_DATA) && r->nseg && device_writes_data(r);
}

/* Logical piece i of the data: [start, end) of the byte stream. */
static void piece(const struct gblk_req *r, unsigned i, uint32_t *start, uint32_t *end)
{
	*start = (uint32_t)((uint64_t)r->len * i / r->nseg);
	*end = (uint32_t)((uint64_t)r->len * (i + 1) / r->nseg);
}

/* Where piece i lives in the buffer (SCATTER puts the pieces in reverse order). */
static uint32_t piece_offset(const struct gblk_req *r, unsigned i)
{
	uint32_t s, e, off = 0;

	if (!(r->layout & GBLK_L_SCATTER)) {
		piece(r, i, &s, &e);
		return s;
	}
	for (unsigned j = r->nseg; j-- > i + 1;) {
		piece(r, j, &s, &e);
		off += e - s + (j + 1 == r->nseg && status_merged(r) ? 1 : 0);
	}
	return off;
}

void gblk_req_copy_in(struct gblk_req *r, const void *src, uint32_t len)
{
	for (unsigned i = 0; i < r->nseg; i++) {
		uint32_t s, e;

		piece(r, i, &s, &e);
		if (s >= len)
			break;
		if (e > len)
			e = len;
		memcpy(r->buf + piece_offset(r, i), (const uint8_t *)src + s, e - s);
	}
}

void gblk_req_copy_out(const struct gblk_req *r, void *dst, uint32_t len)
{
	for (unsigned i = 0; i < r->nseg; i++) {
		uint32_t s, e;

		piece(r, i, &s, &e);
		if (s >= len)
			break;
		if (e > len)
			e = len;
		memcpy((uint8_t *)dst + s, r->buf + piece_offset(r, i), e - s);
	}
}

static int submit_chain(struct gblk *b, unsigned q, struct gblk_req *r, const struct gvq_seg *segs,
			unsigned n, bool indirect)
{
	struct gvq *vq = &b->vq[q];
	int head;

	pthread_mutex_lock(&vq->lock);
	if (atomic_load(&b->gone)) {
		pthread_mutex_unlock(&vq->lock);
		return -ENODEV;
	}
	r->done = false;
	r->vq = vq;
	if (indirect && n <= r->max_segs + 3)
		head = gvq_add(vq, segs, n, r->itable, r->itable_gpa, r);
	else
		head = gvq_add(vq, segs, n, NULL, 0, r);
	if (head >= 0)
		r->inflight = true;
	pthread_mutex_unlock(&vq->lock);
	return head < 0 ? head : 0;
}

int gblk_submit(struct gblk *b, unsigned q, struct gblk_req *r)
{
	struct gvq_seg segs[GBLK_MAX_QSIZE];
	struct virtio_blk_outhdr hdr = { .type = r->type, .sector = r->sector };
	bool write = device_writes_data(r), merged = status_merged(r);
	unsigned n = 0;

	if (q >= b->nr_queues || r->nseg + 3 > GBLK_MAX_QSIZE)
		return -EINVAL;
	memcpy(r->hdr, &hdr, sizeof(hdr));
	if (r->layout & GBLK_L_HDR_SPLIT) {
		segs[n++] = (struct gvq_seg){ r->hdr_gpa, 8, false };
		segs[n++] = (struct gvq_seg){ r->hdr_gpa + 8, 8, false };
	} else {
		segs[n++] = (struct gvq_seg){ r->hdr_gpa, 16, false };
	}
	for (unsigned i = 0; i < r->nseg; i++) {
		uint32_t s, e, off = piece_offset(r, i);
		bool last = i + 1 == r->nseg;

		piece(r, i, &s, &e);
		segs[n++] = (struct gvq_seg){ r->buf_gpa + off, e - s + (last && merged), write };
		if (last && merged)
			r->status_at = r->buf + off + (e - s);
	}
	if (!merged) {
		segs[n++] = (struct gvq_seg){ r->status_gpa, 1, true };
		r->status_at = r->status;
	}
	return submit_chain(b, q, r, segs, n, (r->layout & GBLK_L_INDIRECT) && b->vq[q].indirect);
}

int gblk_submit_segs(struct gblk *b, unsigned q, struct gblk_req *r, const struct gvq_seg *segs,
		     unsigned n, bool indirect)
{
	if (q >= b->nr_queues || n == 0)
		return -EINVAL;
	r->status_at = r->status;
	*r->status_at = GBLK_S_UNTOUCHED;
	r->result = GBLK_S_UNTOUCHED;
	return submit_chain(b, q, r, segs, n, indirect);
}

int gblk_kick(struct gblk *b, unsigned vcpu, unsigned q)
{
	bool need;
	int r;

	pthread_mutex_lock(&b->vq[q].lock);
	need = gvq_kick_prepare(&b->vq[q]);
	pthread_mutex_unlock(&b->vq[q].lock);
	if (!need)
		return 0;
	r = guest_mmio_notify(&b->dev, vcpu, q);
	note_access(b, r);
	return r;
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static bool past(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec > ts->tv_sec || (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

int gblk_wait_progress(struct gblk *b, unsigned q, uint64_t *seen, unsigned timeout_ms)
{
	struct gvq *vq = &b->vq[q];
	struct timespec deadline, pause = { .tv_nsec = 20 * 1000 };
	int r = 0;

	deadline_in(&deadline, timeout_ms ? timeout_ms : timeout_of(b));
	pthread_mutex_lock(&vq->lock);
	for (;;) {
		if (b->opts.poll)
			gvq_reap(vq);
		if (vq->completions != *seen) {
			*seen = vq->completions;
			break;
		}
		if (atomic_load(&b->gone)) {
			r = -ENODEV;
			break;
		}
		if (atomic_load(&b->needs_reset) || atomic_load(&b->ring_error)) {
			r = -EIO;
			break;
		}
		if (b->opts.poll) {
			pthread_mutex_unlock(&vq->lock);
			if (past(&deadline))
				return -ETIMEDOUT;
			nanosleep(&pause, NULL);
			pthread_mutex_lock(&vq->lock);
		} else if (pthread_cond_timedwait(&vq->cond, &vq->lock, &deadline) == ETIMEDOUT) {
			r = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&vq->lock);
	return r;
}

int gblk_do(struct gblk *b, unsigned vcpu, struct gblk_req *r)
{
	unsigned q = vcpu % b->nr_queues;
	struct gvq *vq = &b->vq[q];
	uint64_t seen;
	int rc;

	for (;;) {
		pthread_mutex_lock(&vq->lock);
		seen = vq->completions;
		pthread_mutex_unlock(&vq->lock);
		rc = gblk_submit(b, q, r);
		if (rc != -ENOSPC)
			break;
		rc = gblk_wait_progress(b, q, &seen, 0);
		if (rc)
			return rc;
	}
	if (rc)
		return rc;
	rc = gblk_kick(b, vcpu, q);
	if (rc)
		return rc;
	return gblk_wait_req(b, r);
}

int gblk_wait_req(struct gblk *b, struct gblk_req *r)
{
	struct gvq *vq = r->vq;
	unsigned q = vq->index;
	uint64_t seen;
	int rc = 0;

	pthread_mutex_lock(&vq->lock);
	while (!r->done) {
		seen = vq->completions;
		pthread_mutex_unlock(&vq->lock);
		rc = gblk_wait_progress(b, q, &seen, 0);
		pthread_mutex_lock(&vq->lock);
		if (rc && !r->done)
			break;
		rc = 0;
	}
	pthread_mutex_unlock(&vq->lock);
	return rc;
}

static int sync_req(struct gblk *b, unsigned vcpu, struct gblk_req **out)
{
	int r = 0;

	if (vcpu >= GUEST_MAX_VCPUS)
		return -EINVAL;
	if (!b->sync_req[vcpu])
		r = gblk_req_alloc(b, SYNC_MAX_BYTES, SYNC_MAX_SEGS, &b->sync_req[vcpu]);
	*out = b->sync_req[vcpu];
	return r;
}

static int sync_call(struct gblk *b, unsigned vcpu, uint32_t type, uint64_t sector, const void *in,
		     void *out, uint32_t len, uint8_t *status)
{
	struct gblk_req *r;
	int rc;

	if (len > SYNC_MAX_BYTES)
		return -E2BIG;
	rc = sync_req(b, vcpu, &r);
	if (rc)
		return rc;
	gblk_req_set(r, type, sector, len, 1, 0);
	if (in)
		gblk_req_copy_in(r, in, len);
	else
		memset(r->buf, 0xaa, len); /* shows which bytes the device wrote */
	rc = gblk_do(b, vcpu, r);
	if (rc)
		return rc;
	if (out)
		gblk_req_copy_out(r, out, len);
	*status = r->result;
	return 0;
}

int gblk_read(struct gblk *b, unsigned vcpu, uint64_t sector, void *buf, uint32_t len,
	      uint8_t *status)
{
	return sync_call(b, vcpu, VIRTIO_BLK_T_IN, sector, NULL, buf, len, status);
}

int gblk_write(struct gblk *b, unsigned vcpu, uint64_t sector, const void *buf, uint32_t len,
	       uint8_t *status)
{
	return sync_call(b, vcpu, VIRTIO_BLK_T_OUT, sector, buf, NULL, len, status);
}

int gblk_flush(struct gblk *b, unsigned vcpu, uint8_t *status)
{
	return sync_call(b, vcpu, VIRTIO_BLK_T_FLUSH, 0, NULL, NULL, 0, status);
}

int gblk_get_id(struct gblk *b, unsigned vcpu, void *buf, uint32_t len, uint8_t *status)
{
	return sync_call(b, vcpu, VIRTIO_BLK_T_GET_ID, 0, NULL, buf, len, status);
}
