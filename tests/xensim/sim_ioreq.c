/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IOREQ server model, after Xen 4.17 xen/common/ioreq.c on Arm:
 * create (BUFIOREQ_OFF only, 8 per guest, one unbound event channel per
 * vCPU reserved for the creator), the ioreq page (allocated on first
 * get_frame; vp_eport written at enable only if the page exists), io
 * ranges (inclusive rangesets, -EEXIST on overlap, -ENOENT unmapping what
 * is not mapped), enable/disable, destroy, and server selection for an
 * access (servers scanned 7 -> 0, the whole access must be in one range).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>
#include <xen/memory.h>

#include "sim_internal.h"

/* ---- rangesets (sorted, disjoint, adjacent ranges merged like Xen's) ---- */

static int rs_find(const struct sim_rangeset *rs, uint64_t start, uint64_t end)
{
	for (unsigned i = 0; i < rs->nr; i++) {
		if (rs->r[i].start <= start && end <= rs->r[i].end)
			return (int)i;
	}
	return -1;
}

static bool rs_overlaps(const struct sim_rangeset *rs, uint64_t start, uint64_t end)
{
	for (unsigned i = 0; i < rs->nr; i++) {
		if (rs->r[i].start <= end && start <= rs->r[i].end)
			return true;
	}
	return false;
}

static void rs_insert_at(struct sim_rangeset *rs, unsigned i, uint64_t start, uint64_t end)
{
	memmove(&rs->r[i + 1], &rs->r[i], (rs->nr - i) * sizeof(rs->r[0]));
	rs->r[i] = (struct sim_range){ .start = start, .end = end };
	rs->nr++;
}

static void rs_delete_at(struct sim_rangeset *rs, unsigned i)
{
	memmove(&rs->r[i], &rs->r[i + 1], (rs->nr - i - 1) * sizeof(rs->r[0]));
	rs->nr--;
}

/* [start, end] overlaps nothing in rs (checked by the caller). */
static int rs_add(struct sim_rangeset *rs, uint64_t start, uint64_t end)
{
	unsigned i = 0;

	while (i < rs->nr && rs->r[i].end < start)
		i++;
	/* Merge with the previous and/or the next range when adjacent. */
	if (i > 0 && rs->r[i - 1].end + 1 == start) {
		rs->r[i - 1].end = end;
		if (i < rs->nr && end != UINT64_MAX && end + 1 == rs->r[i].start) {
			rs->r[i - 1].end = rs->r[i].end;
			rs_delete_at(rs, i);
		}
		return 0;
	}
	if (i < rs->nr && end != UINT64_MAX && end + 1 == rs->r[i].start) {
		rs->r[i].start = start;
		return 0;
	}
	if (rs->nr == SIM_MAX_RANGES)
		return -ENOSPC;
	rs_insert_at(rs, i, start, end);
	return 0;
}

/* [start, end] is inside range i (checked by the caller). */
static int rs_remove(struct sim_rangeset *rs, unsigned i, uint64_t start, uint64_t end)
{
	struct sim_range *r = &rs->r[i];

	if (r->start == start && r->end == end) {
		rs_delete_at(rs, i);
	} else if (r->start == start) {
		r->start = end + 1;
	} else if (r->end == end) {
		r->end = start - 1;
	} else {
		uint64_t old_end = r->end;

		if (rs->nr == SIM_MAX_RANGES)
			return -ENOSPC;
		r->end = start - 1;
		rs_insert_at(rs, i + 1, end + 1, old_end);
	}
	return 0;
}

/* ---- servers ---- */

static void server_free(struct sim_server *s)
{
	if (s->page)
		munmap(s->page, SIM_PAGE_SIZE);
	if (s->page_fd >= 0)
		close(s->page_fd);
	free(s->slots);
	free(s);
}

void sim_server_put_locked(struct sim_server *s)
{
	if (s->dead && s->refs == 0)
		server_free(s);
}

static int server_lookup(struct sim_conn *c, uint32_t domid, uint64_t id, struct sim_server **out)
{
	struct sim_guest *g = sim_guest_find_locked(c->sim, domid);

	if (!g)
		return -ESRCH;
	if (id >= SIM_MAX_SERVERS || !g->servers[id])
		return -ENOENT;
	if (g->servers[id]->emulator != c->ident)
		return -EPERM;
	*out = g->servers[id];
	return 0;
}

int sim_ioreq_create_locked(struct sim_conn *c, uint32_t domid, int64_t bufioreq, uint64_t *id)
{
	struct sim_guest *g = sim_guest_find_locked(c->sim, domid);
	struct sim_server *s;
	unsigned i;
	int rc;

	if (!g)
		return -ESRCH;
	/* Arm: "!IS_ENABLED(CONFIG_X86) && bufioreq_handling" -> -EINVAL */
	if (bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF)
		return -EINVAL;
	for (i = 0; i < SIM_MAX_SERVERS && g->servers[i]; i++)
		;
	if (i == SIM_MAX_SERVERS)
		return -ENOSPC;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->slots = calloc(g->nr_vcpus, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return -ENOMEM;
	}
	s->g = g;
	s->id = i;
	s->emulator = c->ident;
	s->emulator_pid = c->pid;
	s->page_fd = -1;
	for (unsigned v = 0; v < g->nr_vcpus; v++) {
		rc = sim_gport_alloc_locked(g, s, v, c->ident, &s->slots[v].gport);
		if (rc) {
			while (v-- > 0)
				sim_gport_free_locked(g, s->slots[v].gport);
			server_free(s);
			return rc;
		}
	}
	g->servers[i] = s;
	*id = i;
	return 0;
}

int sim_ioreq_info_locked(struct sim_conn *c, uint32_t domid, uint64_t id, bool want_gfns)
{
	struct sim_server *s;
	int rc = server_lookup(c, domid, id, &s);

	if (rc)
		return rc;
	/* Arm: arch_ioreq_server_map_pages() is -EOPNOTSUPP (no legacy gfns). */
	return want_gfns ? -EOPNOTSUPP : 0;
}

int sim_ioreq_range_locked(struct sim_conn *c, uint32_t domid, uint64_t id, uint64_t type,
			   uint64_t start, uint64_t end, bool map)
{
	struct sim_server *s;
	struct sim_rangeset *rs;
	int rc, i;

	if (start > end)
		return -EINVAL;
	rc = server_lookup(c, domid, id, &s);
	if (rc)
		return rc;
	if (type >= SIM_NR_RANGE_TYPES)
		return -EINVAL;
	rs = &s->ranges[type];
	if (map) {
		if (rs_overlaps(rs, start, end))
			return -EEXIST;
		rc = rs_add(rs, start, end);
	} else {
		i = rs_find(rs, start, end);
		if (i < 0)
			return -ENOENT;
		rc = rs_remove(rs, (unsigned)i, start, end);
	}
	pthread_cond_broadcast(&s->g->state_cond);
	return rc;
}

int sim_ioreq_set_state_locked(struct sim_conn *c, uint32_t domid, uint64_t id, bool enabled)
{
	struct sim_server *s;
	int rc = server_lookup(c, domid, id, &s);

	if (rc)
		return rc;
	if (enabled && !s->enabled && s->page) {
		/* ioreq_server_update_evtchn(): only when the page exists. */
		for (unsigned v = 0; v < s->g->nr_vcpus; v++) {
			sim_slot_check_idle_locked(s, v, "enable");
			if (!s->slots[v].waiting) {
				s->page->vcpu_ioreq[v].vp_eport = s->slots[v].gport;
				sim_slot_snapshot_locked(s, v);
			}
		}
	}
	s->enabled = enabled;
	pthread_cond_broadcast(&s->g->state_cond);
	return 0;
}

void sim_server_destroy_locked(struct sim_server *s)
{
	struct sim_guest *g = s->g;

	sim_check_notifies_locked(s);
	for (unsigned v = 0; v < g->nr_vcpus; v++) {
		uint32_t *word = sim_slot_notify_word_locked(s, v);

		sim_slot_check_idle_locked(s, v, "destroy");
		sim_gport_free_locked(g, s->slots[v].gport);
		pthread_cond_broadcast(&g->vcpus[v].cond);
		if (word)
			sim_futex_wake(word);
	}
	s->enabled = false;
	s->dead = true;
	g->servers[s->id] = NULL;
	pthread_cond_broadcast(&g->state_cond);
	sim_server_put_locked(s);
}

int sim_ioreq_destroy_locked(struct sim_conn *c, uint32_t domid, uint64_t id)
{
	struct sim_server *s;
	int rc = server_lookup(c, domid, id, &s);

	if (rc)
		return rc;
	sim_server_destroy_locked(s);
	return 0;
}

static int server_alloc_page(struct sim_server *s)
{
	void *p;

	if (s->page)
		return 0;
	s->page_fd = memfd_create("xensim-ioreq-page", MFD_CLOEXEC);
	if (s->page_fd < 0)
		return -errno;
	if (ftruncate(s->page_fd, SIM_PAGE_SIZE) < 0)
		goto err;
	p = mmap(NULL, SIM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, s->page_fd, 0);
	if (p == MAP_FAILED)
		goto err;
	s->page = p; /* zero-filled, like clear_page() */
	for (unsigned v = 0; v < s->g->nr_vcpus; v++)
		sim_slot_snapshot_locked(s, v);
	return 0;
err:
	close(s->page_fd);
	s->page_fd = -1;
	return -ENOMEM;
}

/*
 * XENMEM_acquire_resource for an ioreq server: ioreq_server_get_frame()
 * for each frame. The pages are allocated before the frame is looked at.
 */
int sim_ioreq_get_frames_locked(struct sim_conn *c, uint32_t domid, uint64_t id, uint64_t frame,
				uint64_t nr, int *fd_out)
{
	struct sim_server *s;
	int rc;

	if (nr == 0 || frame + nr < frame)
		return -EINVAL;
	if (id != (uint16_t)id)
		return -EINVAL;
	rc = server_lookup(c, domid, id, &s);
	if (rc)
		return rc;
	rc = server_alloc_page(s);
	if (rc)
		return rc;
	for (uint64_t f = frame; f < frame + nr; f++) {
		if (f == XENMEM_resource_ioreq_server_frame_bufioreq)
			return -ENOENT; /* BUFIOREQ_OFF: no buffered page */
		if (f != XENMEM_resource_ioreq_server_frame_ioreq(0))
			return -EINVAL;
	}
	*fd_out = s->page_fd;
	return 0;
}

/* ---- routing ---- */

/* The bytes an access touches (ioreq_mmio_first_byte/last_byte). */
static bool access_bounds(const ioreq_t *p, unsigned *type, uint64_t *first, uint64_t *last)
{
	uint64_t size = p->size ? p->size : 1, count = p->count ? p->count : 1, span, back;

	if (p->type == IOREQ_TYPE_PIO) {
		*type = XEN_DMOP_IO_RANGE_PORT;
		*first = p->addr;
		return !__builtin_add_overflow(p->addr, size - 1, last);
	}
	*type = XEN_DMOP_IO_RANGE_MEMORY;
	if (__builtin_mul_overflow(size, count, &span))
		return false;
	if (p->df) {
		back = span - size;
		if (back > p->addr)
			return false;
		*first = p->addr - back;
		return !__builtin_add_overflow(p->addr, size - 1, last);
	}
	*first = p->addr;
	return !__builtin_add_overflow(p->addr, span - 1, last);
}

/* The enabled (or, with enabled false, a disabled) server claiming p. */
struct sim_server *sim_ioreq_select_locked(struct sim_guest *g, const ioreq_t *p, bool enabled)
{
	unsigned type;
	uint64_t first, last;

	if (!access_bounds(p, &type, &first, &last))
		return NULL;
	for (unsigned id = SIM_MAX_SERVERS; id-- > 0;) {
		struct sim_server *s = g->servers[id];

		if (s && s->enabled == enabled && rs_find(&s->ranges[type], first, last) >= 0)
			return s;
	}
	return NULL;
}

/* Enabled, page present, every vCPU's port in the page and bound. */
bool sim_server_serving_locked(struct sim_server *s)
{
	if (!s->enabled || !s->page)
		return false;
	for (unsigned v = 0; v < s->g->nr_vcpus; v++) {
		uint32_t gp = s->slots[v].gport;

		if (s->page->vcpu_ioreq[v].vp_eport != gp || !s->g->gports[gp].lport)
			return false;
	}
	return true;
}
