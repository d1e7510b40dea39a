/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest RAM through foreign mappings (libxenforeignmemory), behind the
 * virtio_host map/unmap contract.
 *
 * Buckets: guest physical space is cut into aligned buckets of
 * 1 << GUESTMEM_BUCKET_SHIFT bytes. A map() maps the whole bucket once
 * (one hypercall batch) and later requests in it are hits. Pages of the
 * bucket that are not guest RAM come back with a per-page error and are
 * remembered in a validity bitmap; a span never crosses an invalid page or
 * the bucket end (the caller maps the rest with another call).
 *
 * Lifetime: every span pins its bucket (the token is the bucket); pinned
 * buckets are never unmapped. Unpinned buckets stay mapped on an LRU list
 * and are evicted, least recently released first, only when all
 * max_buckets records are in use; if every bucket is pinned, map() returns
 * -ENOMEM and the device fails that request.
 *
 * Invalidation (IOREQ_TYPE_INVALIDATE, the guest's p2m changed): unpinned
 * buckets are unmapped now; pinned ones become stale — out of the lookup
 * table, never handed out again, unmapped when their last span returns.
 * The contract keeps a returned pointer valid until its unmap().
 *
 * GUEST_MAP_WHOLE spans (vrings, long-lived) get an exact mapping of their
 * own pages from a bounded pool, and are kept across an invalidation: the
 * device holds them for as long as the queue is live and only the device's
 * unmap() (queue reset) can end them; a guest that balloons out its own
 * vring pages breaks only itself.
 *
 * All memory is allocated in guestmem_create: no malloc per request.
 * Single-threaded (the event loop), like the rest of the daemon.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "compiler.h"
#include "guest_limits.h"
#include "guestmem.h"
#include "log.h"

#define GM_PAGE_SHIFT 12u /* Xen frames are always 4 KiB (XC_PAGE_SHIFT) */
#define GM_PAGE_SIZE (UINT64_C(1) << GM_PAGE_SHIFT)
#define GM_PAGE_MASK (GM_PAGE_SIZE - 1u)
#define GM_BUCKET_SIZE (UINT64_C(1) << GUESTMEM_BUCKET_SHIFT)
#define GM_BUCKET_MASK (GM_BUCKET_SIZE - 1u)
#define GM_BUCKET_PAGES (1u << (GUESTMEM_BUCKET_SHIFT - GM_PAGE_SHIFT))
#define GM_BITMAP_WORDS ((GM_BUCKET_PAGES + 63u) / 64u)
#define GM_SCRATCH_PAGES \
	(GM_BUCKET_PAGES > GUESTMEM_WHOLE_MAX_PAGES ? GM_BUCKET_PAGES : GUESTMEM_WHOLE_MAX_PAGES)

_Static_assert(GUESTMEM_BUCKET_SHIFT >= GM_PAGE_SHIFT && GUESTMEM_BUCKET_SHIFT < 32,
	       "bucket must be at least a page");

struct gm_bucket {
	uint64_t index; /* gpa >> GUESTMEM_BUCKET_SHIFT */
	uint8_t *va;    /* mapping of the whole bucket */
	uint32_t pins;  /* unreturned spans */
	bool mapped;    /* record in use (else on the free list) */
	bool stale;     /* invalidated while pinned: unmap on last unpin */
	bool writable;  /* mapped PROT_WRITE */
	struct gm_bucket *hash_next;
	/* LRU list while mapped, unpinned and not stale; free list (next) when unused. */
	struct gm_bucket *prev, *next;
	uint64_t valid[GM_BITMAP_WORDS]; /* page i of the bucket is guest RAM */
};

struct gm_whole {
	uint8_t *va;
	size_t pages;
	bool in_use;
	struct gm_whole *next_free;
};

struct guestmem {
	xenforeignmemory_handle *fmem;
	uint16_t domid;
	char name[32];

	uint32_t max_buckets;
	struct gm_bucket *buckets;   /* max_buckets records */
	struct gm_bucket *free_list; /* unused records */
	struct gm_bucket lru;        /* sentinel: next = least recently released */
	struct gm_bucket **hash;     /* index -> mapped, non-stale bucket */
	uint32_t hash_bits;
	/*
	 * The record of the last hit or miss: a request's buffers are mostly
	 * in one or two buckets. Always a record of ours; whether it still
	 * holds that bucket is checked (mapped, not stale, same index).
	 */
	struct gm_bucket *last;

	struct gm_whole *wholes; /* GUESTMEM_WHOLE_MAX_SPANS records */
	struct gm_whole *whole_free;

	/* Scratch for one map call (single-threaded). */
	xen_pfn_t gfns[GM_SCRATCH_PAGES];
	int errs[GM_SCRATCH_PAGES];

	uint64_t hits, misses, evictions, invalidations;
	uint32_t nr_mapped, nr_pinned, nr_whole;
	bool ro_logged;
	struct log_ratelimit rl;
};

/* ---- lists and lookup --------------------------------------------------- */

static void lru_remove(struct gm_bucket *b)
{
	b->prev->next = b->next;
	b->next->prev = b->prev;
	b->prev = b->next = NULL;
}

static void lru_push_mru(struct guestmem *gm, struct gm_bucket *b)
{
	b->prev = gm->lru.prev;
	b->next = &gm->lru;
	gm->lru.prev->next = b;
	gm->lru.prev = b;
}

static uint32_t hash_slot(const struct guestmem *gm, uint64_t index)
{
	return (uint32_t)((index * UINT64_C(0x9e3779b97f4a7c15)) >> (64u - gm->hash_bits));
}

static struct gm_bucket *hash_lookup(struct guestmem *gm, uint64_t index)
{
	for (struct gm_bucket *b = gm->hash[hash_slot(gm, index)]; b; b = b->hash_next)
		if (b->index == index)
			return b;
	return NULL;
}

static void hash_insert(struct guestmem *gm, struct gm_bucket *b)
{
	uint32_t h = hash_slot(gm, b->index);

	b->hash_next = gm->hash[h];
	gm->hash[h] = b;
}

static void hash_remove(struct guestmem *gm, struct gm_bucket *b)
{
	struct gm_bucket **pp = &gm->hash[hash_slot(gm, b->index)];

	for (; *pp; pp = &(*pp)->hash_next) {
		if (*pp == b) {
			*pp = b->hash_next;
			break;
		}
	}
	b->hash_next = NULL;
}

static bool page_valid(const struct gm_bucket *b, uint32_t page)
{
	return b->valid[page / 64u] & (UINT64_C(1) << (page % 64u));
}

/* The first page of [from, last] that is not guest RAM, or last + 1: a word at a time. */
static uint32_t valid_until(const struct gm_bucket *b, uint32_t from, uint32_t last)
{
	for (uint32_t p = from; p <= last; p = (p | 63u) + 1u) {
		uint64_t invalid = ~b->valid[p / 64u] >> (p % 64u);

		if (invalid) {
			p += (uint32_t)__builtin_ctzll(invalid);
			return p <= last ? p : last + 1u;
		}
	}
	return last + 1u;
}

/* ---- bucket mapping ----------------------------------------------------- */

static void gm_unmap_pages(struct guestmem *gm, void *va, size_t pages)
{
	errno = 0;
	if (xenforeignmemory_unmap(gm->fmem, va, pages) < 0)
		log_guest(&gm->rl, LOG_LVL_ERR, gm->name, "xenforeignmemory_unmap(%zu pages): %s",
			  pages, strerror(errno ? errno : EIO));
}

/* Unmap a bucket that is off every list and give its record back. */
static void bucket_release(struct guestmem *gm, struct gm_bucket *b)
{
	gm_unmap_pages(gm, b->va, GM_BUCKET_PAGES);
	b->va = NULL;
	b->mapped = false;
	b->stale = false;
	b->pins = 0;
	gm->nr_mapped--;
	b->prev = NULL;
	b->next = gm->free_list;
	gm->free_list = b;
}

/* A free record, evicting the least recently released bucket if needed. */
static struct gm_bucket *bucket_alloc(struct guestmem *gm)
{
	struct gm_bucket *b = gm->free_list;

	if (b) {
		gm->free_list = b->next;
		b->next = NULL;
		return b;
	}
	b = gm->lru.next;
	if (b == &gm->lru)
		return NULL; /* every bucket is pinned */
	lru_remove(b);
	hash_remove(gm, b);
	bucket_release(gm, b);
	gm->evictions++;
	gm->free_list = b->next;
	b->next = NULL;
	return b;
}

static void bucket_free_unmapped(struct guestmem *gm, struct gm_bucket *b)
{
	b->next = gm->free_list;
	gm->free_list = b;
}

/* One map attempt of the gfns in scratch; counts the pages that mapped. */
static void *gm_try_map(struct guestmem *gm, int prot, size_t pages, uint32_t *nvalid, int *err)
{
	void *va;

	*nvalid = 0;
	errno = 0;
	va = xenforeignmemory_map(gm->fmem, gm->domid, prot, pages, gm->gfns, gm->errs);
	if (!va) {
		*err = errno ? errno : EIO;
		return NULL;
	}
	for (size_t i = 0; i < pages; i++)
		if (gm->errs[i] == 0)
			(*nvalid)++;
	return va;
}

/*
 * Map bucket index into record b. Read-write first; a bucket where no page
 * maps writable is retried read-only (and then refuses GUEST_MAP_WRITE).
 * Returns -EFAULT if no page of the bucket is guest RAM, -ENOMEM if the
 * host could not map at all.
 */
static int bucket_map(struct guestmem *gm, struct gm_bucket *b, uint64_t index)
{
	uint64_t first = index << (GUESTMEM_BUCKET_SHIFT - GM_PAGE_SHIFT);
	bool any_answer = false;
	uint32_t nvalid;
	int err = 0;
	void *va;

	for (uint32_t i = 0; i < GM_BUCKET_PAGES; i++)
		gm->gfns[i] = (xen_pfn_t)(first + i);

	b->writable = true;
	va = gm_try_map(gm, PROT_READ | PROT_WRITE, GM_BUCKET_PAGES, &nvalid, &err);
	if (!va || nvalid == 0) {
		if (va) {
			any_answer = true;
			gm_unmap_pages(gm, va, GM_BUCKET_PAGES);
		}
		b->writable = false;
		va = gm_try_map(gm, PROT_READ, GM_BUCKET_PAGES, &nvalid, &err);
		if (va && nvalid == 0) {
			any_answer = true;
			gm_unmap_pages(gm, va, GM_BUCKET_PAGES);
			va = NULL;
		}
		if (!va) {
			if (any_answer)
				return -EFAULT; /* no page here is guest RAM */
			log_guest(&gm->rl, LOG_LVL_ERR, gm->name,
				  "xenforeignmemory_map(gpa 0x%" PRIx64 ", %u pages): %s",
				  first << GM_PAGE_SHIFT, GM_BUCKET_PAGES, strerror(err));
			return -ENOMEM;
		}
		if (!gm->ro_logged) {
			gm->ro_logged = true;
			log_warn(gm->name,
				 "guest RAM at 0x%" PRIx64 " maps only read-only; the device cannot write there",
				 first << GM_PAGE_SHIFT);
		}
	}

	memset(b->valid, 0, sizeof(b->valid));
	for (uint32_t i = 0; i < GM_BUCKET_PAGES; i++)
		if (gm->errs[i] == 0)
			b->valid[i / 64u] |= UINT64_C(1) << (i % 64u);
	b->index = index;
	b->va = va;
	b->pins = 0;
	b->mapped = true;
	b->stale = false;
	gm->nr_mapped++;
	return 0;
}

/* ---- the map contract --------------------------------------------------- */

static int whole_map(struct guestmem *gm, uint64_t gpa, uint64_t len, struct guest_span *out)
{
	uint64_t off = gpa & GM_PAGE_MASK;
	uint64_t first = gpa >> GM_PAGE_SHIFT;
	struct gm_whole *w;
	uint32_t nvalid;
	size_t pages;
	int err = 0;
	void *va;

	/* Bound len first so the page arithmetic below cannot overflow. */
	if (len > (uint64_t)GUESTMEM_WHOLE_MAX_PAGES * GM_PAGE_SIZE) {
		log_guest(&gm->rl, LOG_LVL_WARNING, gm->name,
			  "whole mapping of %" PRIu64 " bytes at 0x%" PRIx64 " is over the limit of %u pages",
			  len, gpa, GUESTMEM_WHOLE_MAX_PAGES);
		return -ENOMEM;
	}
	pages = (size_t)((off + len + GM_PAGE_MASK) >> GM_PAGE_SHIFT);
	if (pages > GUESTMEM_WHOLE_MAX_PAGES) {
		log_guest(&gm->rl, LOG_LVL_WARNING, gm->name,
			  "whole mapping of %" PRIu64 " bytes at 0x%" PRIx64 " is over the limit of %u pages",
			  len, gpa, GUESTMEM_WHOLE_MAX_PAGES);
		return -ENOMEM;
	}
	w = gm->whole_free;
	if (!w) {
		log_guest(&gm->rl, LOG_LVL_WARNING, gm->name,
			  "all %u whole mappings are in use", GUESTMEM_WHOLE_MAX_SPANS);
		return -ENOMEM;
	}

	for (size_t i = 0; i < pages; i++)
		gm->gfns[i] = (xen_pfn_t)(first + i);
	va = gm_try_map(gm, PROT_READ | PROT_WRITE, pages, &nvalid, &err);
	if (!va) {
		log_guest(&gm->rl, LOG_LVL_ERR, gm->name,
			  "xenforeignmemory_map(gpa 0x%" PRIx64 ", %zu pages): %s", gpa, pages,
			  strerror(err));
		return -ENOMEM;
	}
	if (nvalid != pages) {
		gm_unmap_pages(gm, va, pages);
		return -EFAULT;
	}

	gm->whole_free = w->next_free;
	w->next_free = NULL;
	w->va = va;
	w->pages = pages;
	w->in_use = true;
	gm->nr_whole++;
	*out = (struct guest_span){ .ptr = (uint8_t *)va + off, .len = (size_t)len, .token = w };
	return 0;
}

int guestmem_map(struct guestmem *gm, uint64_t gpa, uint64_t len, unsigned flags,
		 struct guest_span *out)
{
	uint64_t end, index = gpa >> GUESTMEM_BUCKET_SHIFT;
	uint64_t off = gpa & GM_BUCKET_MASK;
	uint32_t page, run;
	struct gm_bucket *b;
	uint64_t avail, last;
	int ret;

	*out = (struct guest_span){ .ptr = NULL, .len = 0, .token = NULL };
	if (len == 0)
		return -EINVAL;
	/* [gpa, gpa + len) must not wrap (nor end exactly at 2^64). */
	if (add_overflows(gpa, len, &end))
		return -EFAULT;
	if (flags & GUEST_MAP_WHOLE)
		return whole_map(gm, gpa, len, out);

	b = gm->last;
	if (!b || b->index != index || !b->mapped || b->stale)
		b = hash_lookup(gm, index);
	if (b) {
		gm->hits++;
	} else {
		gm->misses++;
		b = bucket_alloc(gm);
		if (!b) {
			log_guest(&gm->rl, LOG_LVL_WARNING, gm->name,
				  "all %u guest memory buckets are in use", gm->max_buckets);
			return -ENOMEM;
		}
		ret = bucket_map(gm, b, index);
		if (ret < 0) {
			bucket_free_unmapped(gm, b);
			return ret;
		}
		hash_insert(gm, b);
		lru_push_mru(gm, b); /* unpinned until the checks below pass */
	}
	gm->last = b;

	if ((flags & GUEST_MAP_WRITE) && !b->writable)
		return -EFAULT;
	page = (uint32_t)(off >> GM_PAGE_SHIFT);
	if (!page_valid(b, page))
		return -EFAULT;
	/* Look only as far as the request reaches (off + len cannot wrap: gpa + len does not). */
	last = (off + len - 1u) >> GM_PAGE_SHIFT;
	if (last >= GM_BUCKET_PAGES)
		last = GM_BUCKET_PAGES - 1u;
	run = valid_until(b, page + 1u, (uint32_t)last);
	avail = ((uint64_t)run << GM_PAGE_SHIFT) - off;

	if (b->pins++ == 0) {
		lru_remove(b);
		gm->nr_pinned++;
	}
	*out = (struct guest_span){
		.ptr = b->va + off,
		.len = (size_t)(len < avail ? len : avail),
		.token = b,
	};
	return 0;
}

/* A token is a record of one of our pools, or it is not ours. */
static struct gm_bucket *token_bucket(const struct guestmem *gm, void *token)
{
	uintptr_t t = (uintptr_t)token, base = (uintptr_t)gm->buckets;

	if (t < base || t >= base + (uintptr_t)gm->max_buckets * sizeof(*gm->buckets) ||
	    (t - base) % sizeof(*gm->buckets))
		return NULL;
	return token;
}

static struct gm_whole *token_whole(const struct guestmem *gm, void *token)
{
	uintptr_t t = (uintptr_t)token, base = (uintptr_t)gm->wholes;

	if (t < base || t >= base + (uintptr_t)GUESTMEM_WHOLE_MAX_SPANS * sizeof(*gm->wholes) ||
	    (t - base) % sizeof(*gm->wholes))
		return NULL;
	return token;
}

static void whole_release(struct guestmem *gm, struct gm_whole *w)
{
	if (!w->in_use) {
		log_err(gm->name, "BUG: whole mapping released twice");
		return;
	}
	gm_unmap_pages(gm, w->va, w->pages);
	w->va = NULL;
	w->pages = 0;
	w->in_use = false;
	w->next_free = gm->whole_free;
	gm->whole_free = w;
	gm->nr_whole--;
}

void guestmem_unmap(struct guestmem *gm, void *token)
{
	struct gm_bucket *b;
	struct gm_whole *w;

	if (!token)
		return;
	b = token_bucket(gm, token); /* the common case first: a bucket span */
	if (!b) {
		w = token_whole(gm, token);
		if (w)
			whole_release(gm, w);
		else
			log_err(gm->name, "BUG: guest memory span released twice or not ours");
		return;
	}
	if (!b->mapped || b->pins == 0) {
		log_err(gm->name, "BUG: guest memory span released twice or not ours");
		return;
	}
	if (--b->pins > 0)
		return;
	gm->nr_pinned--;
	if (b->stale)
		bucket_release(gm, b);
	else
		lru_push_mru(gm, b);
}

void guestmem_invalidate(struct guestmem *gm)
{
	gm->invalidations++;
	for (uint32_t i = 0; i < gm->max_buckets; i++) {
		struct gm_bucket *b = &gm->buckets[i];

		if (!b->mapped || b->stale)
			continue;
		hash_remove(gm, b);
		if (b->pins == 0) {
			lru_remove(b);
			bucket_release(gm, b);
		} else {
			b->stale = true;
		}
	}
}

void guestmem_get_stats(const struct guestmem *gm, struct guestmem_stats *out)
{
	*out = (struct guestmem_stats){
		.hits = gm->hits,
		.misses = gm->misses,
		.evictions = gm->evictions,
		.invalidations = gm->invalidations,
		.buckets_mapped = gm->nr_mapped,
		.buckets_pinned = gm->nr_pinned,
		.whole_mapped = gm->nr_whole,
	};
}

/* ---- lifetime ----------------------------------------------------------- */

int guestmem_create(struct xen_handles *xh, uint16_t domid, const char *name,
		    uint32_t max_buckets, struct guestmem **out)
{
	struct guestmem *gm;
	uint32_t hash_size;

	*out = NULL;
	if (max_buckets == 0)
		max_buckets = GUESTMEM_MAX_BUCKETS;
	if (max_buckets > GUESTMEM_MAX_BUCKETS)
		return -EINVAL;

	gm = calloc(1, sizeof(*gm));
	if (!gm)
		goto nomem;
	gm->fmem = xh->fmem;
	gm->domid = domid;
	if (name)
		snprintf(gm->name, sizeof(gm->name), "%s", name);
	else
		snprintf(gm->name, sizeof(gm->name), "dom%u", (unsigned int)domid);
	gm->max_buckets = max_buckets;
	gm->lru.prev = gm->lru.next = &gm->lru;

	/* Chains stay short: at least twice as many heads as records. */
	for (gm->hash_bits = 4, hash_size = 16; hash_size < 2 * max_buckets; gm->hash_bits++)
		hash_size <<= 1;

	gm->buckets = calloc(max_buckets, sizeof(*gm->buckets));
	gm->hash = calloc(hash_size, sizeof(*gm->hash));
	gm->wholes = calloc(GUESTMEM_WHOLE_MAX_SPANS, sizeof(*gm->wholes));
	if (!gm->buckets || !gm->hash || !gm->wholes)
		goto nomem;
	for (uint32_t i = max_buckets; i-- > 0;)
		bucket_free_unmapped(gm, &gm->buckets[i]);
	for (uint32_t i = GUESTMEM_WHOLE_MAX_SPANS; i-- > 0;) {
		gm->wholes[i].next_free = gm->whole_free;
		gm->whole_free = &gm->wholes[i];
	}
	*out = gm;
	return 0;

nomem:
	log_err(name, "cannot allocate the guest memory cache: %s", strerror(ENOMEM));
	guestmem_destroy(gm);
	return -ENOMEM;
}

void guestmem_destroy(struct guestmem *gm)
{
	uint32_t leaked = 0;

	if (!gm)
		return;
	for (uint32_t i = 0; gm->buckets && i < gm->max_buckets; i++) {
		struct gm_bucket *b = &gm->buckets[i];

		if (!b->mapped)
			continue;
		if (b->pins)
			leaked++;
		gm_unmap_pages(gm, b->va, GM_BUCKET_PAGES);
		b->mapped = false;
	}
	for (uint32_t i = 0; gm->wholes && i < GUESTMEM_WHOLE_MAX_SPANS; i++) {
		struct gm_whole *w = &gm->wholes[i];

		if (!w->in_use)
			continue;
		leaked++;
		gm_unmap_pages(gm, w->va, w->pages);
		w->in_use = false;
	}
	if (leaked)
		log_err(gm->name, "BUG: %u guest memory spans still mapped at teardown", leaked);
	free(gm->wholes);
	free(gm->hash);
	free(gm->buckets);
	free(gm);
}
