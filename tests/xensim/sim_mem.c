/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Foreign memory bookkeeping: handing guest RAM's memfd to a stand-in
 * (which maps gfn runs from it itself), the per-connection record of
 * foreign mappings and of mapped resources (the ioreq page) that the leak
 * check reads, and XENMEM_acquire_resource / resource_size.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include <xen/memory.h>

#include "sim_internal.h"

int sim_fm_guest_ram_locked(struct sim_conn *c, uint32_t domid, uint64_t cached_gen,
			    struct sim_reply *r, int *fd_out)
{
	struct sim_guest *g = sim_guest_find_locked(c->sim, domid);

	if (c->kind != SIM_KIND_FMEM)
		return -EBADF;
	if (!g)
		return -ESRCH;
	r->val[0] = g->gen;
	r->val[1] = SIM_GUEST_RAM_BASE;
	r->val[2] = g->ram_bytes;
	if (cached_gen != g->gen)
		*fd_out = g->ram_fd;
	return 0;
}

static bool grow(void **arr, size_t *cap, size_t nr, size_t elem)
{
	size_t n;
	void *p;

	if (nr < *cap)
		return true;
	n = *cap ? *cap * 2 : 16;
	p = realloc(*arr, n * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = n;
	return true;
}

static void fmap_delete(struct sim_conn *c, size_t i)
{
	c->fpages -= c->fmaps[i].pages;
	c->fmaps[i] = c->fmaps[--c->nr_fmaps];
}

void sim_fm_map_note_locked(struct sim_conn *c, uint64_t addr, uint64_t pages)
{
	uint64_t end = addr + pages * SIM_PAGE_SIZE;

	/* A MAP_FIXED mapping replaces whatever it covers. */
	for (size_t i = 0; i < c->nr_fmaps;) {
		struct sim_fmap *m = &c->fmaps[i];

		if (m->addr < end && addr < m->addr + m->pages * SIM_PAGE_SIZE)
			fmap_delete(c, i);
		else
			i++;
	}
	if (!grow((void **)&c->fmaps, &c->cap_fmaps, c->nr_fmaps, sizeof(*c->fmaps)))
		return;
	c->fmaps[c->nr_fmaps++] = (struct sim_fmap){ .addr = addr, .pages = pages };
	c->fpages += pages;
}

void sim_fm_unmap_note_locked(struct sim_conn *c, uint64_t addr, uint64_t pages)
{
	for (size_t i = 0; i < c->nr_fmaps; i++) {
		if (c->fmaps[i].addr != addr)
			continue;
		if (c->fmaps[i].pages != pages)
			sim_violation(c->sim,
				      "pid %d: xenforeignmemory_unmap(0x%" PRIx64 ", %" PRIu64
				      " pages) of a mapping of %" PRIu64 " pages",
				      (int)c->pid, addr, pages, c->fmaps[i].pages);
		fmap_delete(c, i);
		return;
	}
	sim_violation(c->sim, "pid %d: xenforeignmemory_unmap(0x%" PRIx64 ", %" PRIu64
		      " pages) of an address it never mapped", (int)c->pid, addr, pages);
}

int sim_fm_map_resource_locked(struct sim_conn *c, uint32_t domid, const uint64_t arg[4],
			       uint64_t *res_id, int *fd_out)
{
	int rc;

	if (c->kind != SIM_KIND_FMEM)
		return -EBADF;
	if (!sim_guest_find_locked(c->sim, domid))
		return -ESRCH;
	if (arg[0] != XENMEM_resource_ioreq_server)
		return -EOPNOTSUPP; /* grant table, vmtrace: not simulated */
	if (!grow((void **)&c->rmaps, &c->cap_rmaps, c->nr_rmaps, sizeof(*c->rmaps)))
		return -ENOMEM;
	rc = sim_ioreq_get_frames_locked(c, domid, arg[1], arg[2], arg[3], fd_out);
	if (rc)
		return rc;
	*res_id = c->sim->next_res_id++;
	c->rmaps[c->nr_rmaps++] = (struct sim_rmap){
		.id = *res_id, .domid = (uint16_t)domid, .server = (unsigned)arg[1] };
	return 0;
}

void sim_fm_unmap_resource_locked(struct sim_conn *c, uint64_t res_id)
{
	for (size_t i = 0; i < c->nr_rmaps; i++) {
		if (c->rmaps[i].id == res_id) {
			c->rmaps[i] = c->rmaps[--c->nr_rmaps];
			return;
		}
	}
	sim_violation(c->sim, "pid %d: xenforeignmemory_unmap_resource of a resource it never "
		      "mapped", (int)c->pid);
}

/* resource_max_frames(): 1 buffered page + one page per 128 vCPUs. */
int sim_fm_resource_size_locked(struct sim_conn *c, uint32_t domid, uint64_t type, uint64_t id,
				uint64_t *bytes)
{
	struct sim_guest *g = sim_guest_find_locked(c->sim, domid);

	(void)id;
	if (!g)
		return -ESRCH;
	if (type != XENMEM_resource_ioreq_server)
		return -EOPNOTSUPP;
	*bytes = (1u + (g->nr_vcpus * sizeof(ioreq_t) + SIM_PAGE_SIZE - 1) / SIM_PAGE_SIZE) *
		 (uint64_t)SIM_PAGE_SIZE;
	return 0;
}
