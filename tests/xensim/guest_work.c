/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scripted guest: disk model and load generator. See guest_work.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guest_work.h"

#define PATTERN_MAGIC 0x58564221u /* "XVB!" */
#define WORDS_PER_SECTOR (GBLK_SECTOR / 8)
#define RANDOM_ALIGN_SECTORS 8u /* random I/O is 4 KiB aligned */
#define WAIT_SLICE_MS 100u

static uint64_t mix64(uint64_t x)
{
	/* splitmix64 finaliser */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

int gdisk_model_init(struct gdisk_model *m, uint64_t sectors, uint64_t seed)
{
	*m = (struct gdisk_model){ .sectors = sectors, .seed = seed };
	m->gen = calloc(sectors ? sectors : 1, sizeof(*m->gen));
	if (!m->gen)
		return -ENOMEM;
	atomic_store(&m->next_gen, 1);
	return 0;
}

void gdisk_model_fini(struct gdisk_model *m)
{
	free(m->gen);
	m->gen = NULL;
}

uint32_t gdisk_next_gen(struct gdisk_model *m)
{
	uint32_t g = atomic_fetch_add(&m->next_gen, 1);

	return g ? g : atomic_fetch_add(&m->next_gen, 1);
}

static void fill_sector(const struct gdisk_model *m, uint64_t sector, uint32_t gen, uint64_t *w)
{
	uint64_t x;

	if (gen == 0) {
		memset(w, 0, GBLK_SECTOR);
		return;
	}
	/* The first two words name the sector and generation, for diagnosis. */
	w[0] = sector;
	w[1] = (uint64_t)gen << 32 | PATTERN_MAGIC;
	x = mix64(m->seed ^ mix64(sector) ^ ((uint64_t)gen << 17));
	for (unsigned i = 2; i < WORDS_PER_SECTOR; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
}

void gdisk_fill(const struct gdisk_model *m, uint64_t sector, uint32_t nsect, uint32_t gen,
		uint8_t *out)
{
	uint64_t w[WORDS_PER_SECTOR];

	for (uint32_t i = 0; i < nsect; i++) {
		fill_sector(m, sector + i, gen, w);
		memcpy(out + (size_t)i * GBLK_SECTOR, w, GBLK_SECTOR);
	}
}

void gdisk_commit(struct gdisk_model *m, uint64_t sector, uint32_t nsect, uint32_t gen)
{
	for (uint32_t i = 0; i < nsect && sector + i < m->sectors; i++)
		m->gen[sector + i] = gen;
}

static void describe(const struct gdisk_model *m, uint64_t sector, const uint8_t *data, char *msg,
		     size_t msglen)
{
	uint64_t w[2];
	static const uint8_t zero[GBLK_SECTOR];

	memcpy(w, data, sizeof(w));
	if ((uint32_t)w[1] == PATTERN_MAGIC)
		snprintf(msg, msglen,
			 "sector %" PRIu64 ": expected generation %u, found sector %" PRIu64
			 " generation %u",
			 sector, m->gen[sector], w[0], (uint32_t)(w[1] >> 32));
	else
		snprintf(msg, msglen, "sector %" PRIu64 ": expected generation %u, found %s",
			 sector, m->gen[sector],
			 memcmp(data, zero, GBLK_SECTOR) ? "foreign bytes" : "zeros");
}

uint64_t gdisk_compare(const struct gdisk_model *m, uint64_t sector, uint32_t nsect,
		       const uint8_t *data, char *msg, size_t msglen)
{
	uint64_t w[WORDS_PER_SECTOR], bad = 0;

	for (uint32_t i = 0; i < nsect; i++) {
		const uint8_t *d = data + (size_t)i * GBLK_SECTOR;

		if (sector + i >= m->sectors) {
			bad++;
			continue;
		}
		fill_sector(m, sector + i, m->gen[sector + i], w);
		if (memcmp(d, w, GBLK_SECTOR) == 0)
			continue;
		if (!bad++ && msg && msglen)
			describe(m, sector + i, d, msg, msglen);
	}
	return bad;
}

int64_t gdisk_verify_file(const struct gdisk_model *m, const char *path, char *msg, size_t msglen)
{
	const uint32_t chunk = 2048; /* sectors per pread: 1 MiB */
	uint8_t *buf = malloc((size_t)chunk * GBLK_SECTOR);
	int64_t bad = 0;
	int fd = -1;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		bad = -errno;
		goto out;
	}
	for (uint64_t s = 0; s < m->sectors; s += chunk) {
		uint32_t n = m->sectors - s < chunk ? (uint32_t)(m->sectors - s) : chunk;
		size_t want = (size_t)n * GBLK_SECTOR;
		ssize_t got = pread(fd, buf, want, (off_t)(s * GBLK_SECTOR));

		if (got != (ssize_t)want) {
			bad = got < 0 ? -errno : -EIO;
			goto out;
		}
		bad += (int64_t)gdisk_compare(m, s, n, buf, bad ? NULL : msg, msglen);
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return bad;
}

/* ---- load generator ---- */

enum slot_state { SLOT_FREE, SLOT_PENDING, SLOT_INFLIGHT, SLOT_DONE };

struct slot {
	struct gblk_req *r;
	enum slot_state state;
	bool write;
	uint32_t gen, nsect;
	uint64_t sector;
};

struct worker {
	struct gblk *b;
	struct gdisk_model *m;
	const struct gwork *w;
	unsigned vcpu, q;
	uint64_t first, sectors, pos; /* region and sequential cursor */
	uint64_t rng;
	uint64_t deadline_ns;
	unsigned layout_counter;
	struct slot *slots;
	uint8_t *tmp;
	uint32_t max_bytes;
	struct gwork_result res;
	pthread_t thread;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(struct worker *wk)
{
	wk->rng = mix64(wk->rng);
	return wk->rng;
}

static void fail(struct worker *wk, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct worker *wk, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!wk->res.rc)
		wk->res.rc = rc;
	if (wk->res.msg[0])
		return;
	va_start(ap, fmt);
	vsnprintf(wk->res.msg, sizeof(wk->res.msg), fmt, ap);
	va_end(ap);
}

static uint32_t pick_bytes(struct worker *wk)
{
	uint32_t lo = wk->w->min_bytes / GBLK_SECTOR, hi = wk->w->max_bytes / GBLK_SECTOR;

	if (hi <= lo)
		return lo * GBLK_SECTOR;
	return (uint32_t)(lo + rnd(wk) % (hi - lo + 1)) * GBLK_SECTOR;
}

static bool overlaps_busy(const struct worker *wk, uint64_t sector, uint32_t nsect)
{
	for (unsigned i = 0; i < wk->w->qd; i++) {
		const struct slot *s = &wk->slots[i];

		if (s->state != SLOT_FREE && sector < s->sector + s->nsect &&
		    s->sector < sector + nsect)
			return true;
	}
	return false;
}

/* Choose the next request's range; false when this worker is finished. */
static bool next_range(struct worker *wk, bool *write, uint64_t *sector, uint32_t *nsect)
{
	uint64_t end = wk->first + wk->sectors;
	uint32_t n = pick_bytes(wk) / GBLK_SECTOR;

	if (wk->w->kind != GWORK_RANDOM) {
		if (wk->pos >= end)
			return false;
		if (n > end - wk->pos)
			n = (uint32_t)(end - wk->pos);
		*sector = wk->pos;
		*nsect = n;
		*write = wk->w->kind == GWORK_WRITE;
		wk->pos += n;
		return true;
	}
	if (now_ns() >= wk->deadline_ns)
		return false;
	if (n > wk->sectors)
		n = (uint32_t)wk->sectors;
	for (unsigned tries = 0; tries < 16; tries++) {
		uint64_t units = (wk->sectors - n) / RANDOM_ALIGN_SECTORS + 1;
		uint64_t s = wk->first + (rnd(wk) % units) * RANDOM_ALIGN_SECTORS;

		if (overlaps_busy(wk, s, n))
			continue;
		*sector = s;
		*nsect = n;
		*write = rnd(wk) % 100 < wk->w->write_pct;
		return true;
	}
	return true; /* everything collided: *nsect stays 0, try again later */
}

static unsigned pick_segs(struct worker *wk, uint32_t bytes)
{
	unsigned max = wk->w->max_segs ? wk->w->max_segs : 1, min = 1, n;
	struct gblk *b = wk->b;

	if (b->seg_max && max > b->seg_max)
		max = b->seg_max;
	if (b->size_max)
		min = (unsigned)((bytes + b->size_max - 1) / b->size_max);
	n = min + (max > min ? (unsigned)(rnd(wk) % (max - min + 1)) : 0);
	return n < min ? min : n;
}

static void prepare(struct worker *wk, struct slot *s, bool write, uint64_t sector, uint32_t nsect)
{
	uint32_t bytes = nsect * GBLK_SECTOR;
	unsigned layout = wk->w->layouts & wk->layout_counter++;

	s->write = write;
	s->sector = sector;
	s->nsect = nsect;
	gblk_req_set(s->r, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector, bytes,
		     pick_segs(wk, bytes), layout);
	if (write) {
		s->gen = gdisk_next_gen(wk->m);
		gdisk_fill(wk->m, sector, nsect, s->gen, wk->tmp);
		gblk_req_copy_in(s->r, wk->tmp, bytes);
	} else {
		/* Poison: a read that leaves bytes untouched cannot pass. */
		memset(s->r->buf, 0xa5, bytes + 1);
	}
	s->state = SLOT_PENDING;
}

static void complete(struct worker *wk, struct slot *s)
{
	struct gblk_req *r = s->r;
	uint32_t bytes = s->nsect * GBLK_SECTOR;
	char msg[200];
	uint64_t bad;

	s->state = SLOT_FREE;
	wk->res.reqs++;
	if (r->result != VIRTIO_BLK_S_OK) {
		wk->res.errors++;
		fail(wk, -EIO, "vcpu %u: %s of %u sectors at %" PRIu64 " returned status %u",
		     wk->vcpu, s->write ? "write" : "read", s->nsect, s->sector, r->result);
		return;
	}
	if (r->used_len != (s->write ? 1 : bytes + 1))
		wk->res.bad_used_len++;
	if (s->write) {
		wk->res.write_bytes += bytes;
		gdisk_commit(wk->m, s->sector, s->nsect, s->gen);
		return;
	}
	wk->res.read_bytes += bytes;
	if (!wk->w->verify)
		return;
	gblk_req_copy_out(r, wk->tmp, bytes);
	bad = gdisk_compare(wk->m, s->sector, s->nsect, wk->tmp, msg, sizeof(msg));
	if (bad) {
		wk->res.mismatches += bad;
		fail(wk, -EIO,
		     "vcpu %u: read of %u sectors at %" PRIu64 " (layout %#x, %u segs): %s",
		     wk->vcpu, s->nsect, s->sector, r->layout, r->nseg, msg);
	}
}

static bool stopped(const struct worker *wk)
{
	return wk->w->stop && atomic_load(wk->w->stop);
}

/*
 * Submit pending slots, prepare new ones; returns how many went on the
 * ring. A failed submission ends the run (*more = false, res.rc set).
 */
static unsigned submit_some(struct worker *wk, bool *more, unsigned *busy, bool *failed)
{
	unsigned added = 0;

	for (unsigned i = 0; i < wk->w->qd; i++) {
		struct slot *s = &wk->slots[i];
		int rc;

		if (s->state == SLOT_FREE && *more) {
			bool write = false;
			uint64_t sector = 0;
			uint32_t nsect = 0;

			*more = next_range(wk, &write, &sector, &nsect);
			if (!*more || nsect == 0)
				continue;
			prepare(wk, s, write, sector, nsect);
			(*busy)++;
		}
		if (s->state != SLOT_PENDING)
			continue;
		rc = gblk_submit(wk->b, wk->q, s->r);
		if (rc == -ENOSPC)
			break;
		if (rc) {
			fail(wk, rc, "vcpu %u: submit failed: %s", wk->vcpu, strerror(-rc));
			*more = false;
			*failed = true;
			break;
		}
		s->state = SLOT_INFLIGHT;
		added++;
	}
	return added;
}

/* gblk_wait_progress in slices, so that a stop request is seen promptly. */
static int wait_slices(struct worker *wk, uint64_t *seen)
{
	unsigned total = wk->b->opts.timeout_ms ? wk->b->opts.timeout_ms : GUEST_TIMEOUT_MS;
	int rc = -ETIMEDOUT;

	for (unsigned waited = 0; waited < total && rc == -ETIMEDOUT; waited += WAIT_SLICE_MS) {
		if (stopped(wk))
			return -ECANCELED;
		rc = gblk_wait_progress(wk->b, wk->q, seen, WAIT_SLICE_MS);
	}
	return rc;
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct gvq *vq = &wk->b->vq[wk->q];
	unsigned busy = 0;
	bool more = true, failed = false;
	uint64_t seen;
	int rc;

	while ((more || busy) && !stopped(wk)) {
		unsigned harvested = 0;

		if (submit_some(wk, &more, &busy, &failed)) {
			rc = gblk_kick(wk->b, wk->vcpu, wk->q);
			if (rc) {
				wk->res.gone = rc == -EFAULT;
				fail(wk, rc, "vcpu %u: kick failed: %s", wk->vcpu, strerror(-rc));
				break;
			}
		}
		if (failed)
			break;
		pthread_mutex_lock(&vq->lock);
		seen = vq->completions;
		for (unsigned i = 0; i < wk->w->qd; i++) {
			struct slot *s = &wk->slots[i];

			if (s->state == SLOT_INFLIGHT && s->r->done)
				s->state = SLOT_DONE; /* handled below, outside the lock */
		}
		pthread_mutex_unlock(&vq->lock);
		for (unsigned i = 0; i < wk->w->qd; i++) {
			if (wk->slots[i].state == SLOT_DONE) {
				complete(wk, &wk->slots[i]);
				busy--;
				harvested++;
			}
		}
		if (harvested || !busy)
			continue;
		rc = wait_slices(wk, &seen);
		if (rc == -ECANCELED)
			break;
		if (rc == -ETIMEDOUT) {
			wk->res.timeouts++;
			fail(wk, rc, "vcpu %u: no completion within the timeout (%u in flight)",
			     wk->vcpu, busy);
			break;
		}
		if (rc == -ENODEV) {
			wk->res.gone = true;
			fail(wk, rc, "vcpu %u: device gone", wk->vcpu);
			break;
		}
		if (rc) {
			fail(wk, rc, "vcpu %u: device needs reset or corrupted its ring", wk->vcpu);
			break;
		}
	}
	return NULL;
}

static void merge(struct gwork_result *res, const struct gwork_result *r)
{
	res->reqs += r->reqs;
	res->read_bytes += r->read_bytes;
	res->write_bytes += r->write_bytes;
	res->errors += r->errors;
	res->mismatches += r->mismatches;
	res->bad_used_len += r->bad_used_len;
	res->timeouts += r->timeouts;
	res->gone |= r->gone;
	if (!res->rc && r->rc) {
		res->rc = r->rc;
		memcpy(res->msg, r->msg, sizeof(res->msg));
	}
}

static int worker_setup(struct worker *wk, struct gblk *b, struct gdisk_model *m,
			const struct gwork *w, unsigned i)
{
	uint64_t per = w->sectors / w->nr_vcpus;
	struct gblk_req **reqs;
	int rc;

	*wk = (struct worker){
		.b = b,
		.m = m,
		.w = w,
		.vcpu = i,
		.q = i % b->nr_queues,
		.first = w->first_sector + per * i,
		.sectors = i + 1 == w->nr_vcpus ? w->sectors - per * i : per,
		.rng = mix64(w->seed + i + 1),
		.max_bytes = w->max_bytes,
	};
	wk->pos = wk->first;
	wk->slots = calloc(w->qd, sizeof(*wk->slots));
	wk->tmp = malloc(w->max_bytes);
	if (!wk->slots || !wk->tmp)
		return -ENOMEM;
	rc = gblk_pool(b, i, w->qd, w->max_bytes + 1, w->max_segs ? w->max_segs : 1, &reqs);
	if (rc)
		return rc;
	for (unsigned s = 0; s < w->qd; s++)
		wk->slots[s].r = reqs[s];
	return 0;
}

int gwork_run(struct gblk *b, struct gdisk_model *m, const struct gwork *w,
	      struct gwork_result *res)
{
	struct worker *wks;
	unsigned started = 0;
	uint64_t t0;
	int rc = 0;

	*res = (struct gwork_result){ 0 };
	if (!w->nr_vcpus || w->nr_vcpus > b->dev.vm->nr_vcpus || !w->qd || !w->max_bytes ||
	    w->min_bytes % GBLK_SECTOR || w->max_bytes % GBLK_SECTOR ||
	    w->min_bytes > w->max_bytes ||
	    w->sectors < w->nr_vcpus || w->first_sector + w->sectors > m->sectors)
		return -EINVAL;
	wks = calloc(w->nr_vcpus, sizeof(*wks));
	if (!wks)
		return -ENOMEM;
	for (unsigned i = 0; i < w->nr_vcpus && !rc; i++)
		rc = worker_setup(&wks[i], b, m, w, i);
	t0 = now_ns();
	for (unsigned i = 0; i < w->nr_vcpus && !rc; i++) {
		wks[i].deadline_ns = t0 + (uint64_t)w->duration_ms * 1000000ull;
		if (pthread_create(&wks[i].thread, NULL, worker_main, &wks[i]) != 0)
			rc = -EAGAIN;
		else
			started++;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(wks[i].thread, NULL);
	res->secs = (double)(now_ns() - t0) / 1e9;
	for (unsigned i = 0; i < w->nr_vcpus; i++) {
		merge(res, &wks[i].res);
		free(wks[i].slots);
		free(wks[i].tmp);
	}
	free(wks);
	if (rc && !res->rc)
		res->rc = rc;
	return res->rc;
}

void gwork_describe(const struct gwork_result *res, const char *what, char *buf, size_t len)
{
	double mib = (double)(res->read_bytes + res->write_bytes) / (1024.0 * 1024.0);
	double secs = res->secs > 0 ? res->secs : 1e-9;

	snprintf(buf, len, "%s: %.0f MiB in %.2f s = %.1f MiB/s, %.0f IOPS", what, mib, res->secs,
		 mib / secs, (double)res->reqs / secs);
}
