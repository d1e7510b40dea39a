/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stand-in libxenforeignmemory.so.1. Foreign mappings are real shared
 * memory: each map call gets the guest's RAM memfd from the simulator,
 * reserves PROT_NONE address space for the request, maps every run of
 * consecutive gfns over it with MAP_SHARED|MAP_FIXED and closes the memfd:
 * like a real foreign mapping, only the mappings keep the guest's memory
 * referenced, so a daemon that has unmapped a dead guest holds nothing of
 * it (the create/destroy soak counts fds). gfns outside RAM get
 * err[i] = -EFAULT and stay inaccessible. Maps, unmaps and the ioreq page
 * resource are reported to the simulator for its leak checks.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenforeignmemory.h>

#include "stub_common.h"

struct fm_ram {
	int fd;
	uint64_t base_pfn, pages;
};

struct xenforeignmemory_handle {
	struct stub_conn conn;
	Xentoolcore__Active_Handle tc_ah;
	int restrict_domid; /* -1: unrestricted */
};

struct xenforeignmemory_resource_handle {
	void *addr;
	size_t bytes;
	uint64_t sim_id;
};

#define FM_RESTRICT_NONE (-1)

static int fm_restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
	xenforeignmemory_handle *h = (xenforeignmemory_handle *)((char *)ah -
		offsetof(xenforeignmemory_handle, tc_ah));

	return xenforeignmemory_restrict(h, domid);
}

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
					       unsigned open_flags)
{
	xenforeignmemory_handle *h = calloc(1, sizeof(*h));
	int rc;

	(void)logger;
	(void)open_flags;
	if (!h)
		return NULL;
	rc = stub_conn_open(&h->conn, SIM_KIND_FMEM, "libxenforeignmemory", NULL);
	if (rc) {
		free(h);
		errno = -rc;
		return NULL;
	}
	h->restrict_domid = FM_RESTRICT_NONE;
	h->tc_ah.restrict_callback = fm_restrict_cb;
	xentoolcore__register_active_handle(&h->tc_ah);
	return h;
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
	if (!fmem)
		return 0;
	xentoolcore__deregister_active_handle(&fmem->tc_ah);
	stub_conn_close(&fmem->conn);
	free(fmem);
	return 0;
}

/* The guest's RAM as it is now (the domain may have been recreated): its
 * memfd, which the caller closes once mapped, and its place. */
static int fm_guest_ram(xenforeignmemory_handle *h, uint32_t domid, struct fm_ram *out)
{
	struct sim_msg m = { .op = SIM_OP_FM_GUEST_RAM, .domid = domid };
	struct sim_reply r;
	int fd = -1, rc;

	m.arg[0] = 0; /* no generation cached: the simulator always sends the memfd */
	rc = stub_call(&h->conn, &m, &r, &fd);
	if (rc)
		return rc;
	if (fd < 0)
		return -EPROTO;
	*out = (struct fm_ram){
		.fd = fd,
		.base_pfn = r.val[1] >> SIM_PAGE_SHIFT,
		.pages = r.val[2] >> SIM_PAGE_SHIFT,
	};
	return 0;
}

static bool gfn_in_ram(const struct fm_ram *ram, xen_pfn_t gfn)
{
	return gfn >= ram->base_pfn && gfn - ram->base_pfn < ram->pages;
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom, void *addr, int prot,
			    int flags, size_t pages, const xen_pfn_t arr[], int err[])
{
	struct sim_msg note = { .op = SIM_OP_FM_MAP_NOTE, .domid = dom };
	struct fm_ram ram;
	uint8_t *base;
	size_t len;
	int first_err = 0, rc;

	if (pages == 0 || pages > SIZE_MAX >> SIM_PAGE_SHIFT) {
		errno = EINVAL;
		return NULL;
	}
	if (fmem->restrict_domid != FM_RESTRICT_NONE && (uint32_t)fmem->restrict_domid != dom) {
		errno = EPERM;
		return NULL;
	}
	rc = fm_guest_ram(fmem, dom, &ram);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	len = pages << SIM_PAGE_SHIFT;
	base = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		    (flags & MAP_FIXED), -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	for (size_t i = 0; i < pages;) {
		size_t j = i + 1;
		void *p;
		int e = 0;

		if (!gfn_in_ram(&ram, arr[i])) {
			if (err)
				err[i] = -EFAULT;
			first_err = first_err ? first_err : EFAULT;
			i++;
			continue;
		}
		while (j < pages && arr[j] == arr[j - 1] + 1 && gfn_in_ram(&ram, arr[j]))
			j++;
		p = mmap(base + (i << SIM_PAGE_SHIFT), (j - i) << SIM_PAGE_SHIFT, prot,
			 MAP_SHARED | MAP_FIXED, ram.fd,
			 (off_t)((arr[i] - ram.base_pfn) << SIM_PAGE_SHIFT));
		if (p == MAP_FAILED) {
			e = errno;
			first_err = first_err ? first_err : e;
		}
		for (; i < j; i++) {
			if (err)
				err[i] = -e;
		}
	}
	close(ram.fd);
	if (!err && first_err) {
		/* libxenforeignmemory: with no err[] any failure fails the call. */
		munmap(base, len);
		errno = first_err;
		return NULL;
	}
	note.arg[0] = (uintptr_t)base;
	note.arg[1] = pages;
	stub_post(&fmem->conn, &note);
	return base;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom, int prot, size_t pages,
			   const xen_pfn_t arr[], int err[])
{
	return xenforeignmemory_map2(fmem, dom, NULL, prot, 0, pages, arr, err);
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr, size_t pages)
{
	struct sim_msg note = {
		.op = SIM_OP_FM_UNMAP_NOTE,
		.arg = { (uintptr_t)addr, pages },
	};
	int rc;

	/*
	 * The note goes first: once munmap returns, another thread of the
	 * daemon may be given the same address by its own map, and the
	 * simulator must see this unmap before that map's note.
	 */
	stub_post(&fmem->conn, &note);
	rc = munmap(addr, pages << SIM_PAGE_SHIFT);
	return rc;
}

int xenforeignmemory_restrict(xenforeignmemory_handle *fmem, domid_t domid)
{
	if (fmem->restrict_domid != FM_RESTRICT_NONE && fmem->restrict_domid != domid)
		return stub_fail(-EINVAL);
	fmem->restrict_domid = domid;
	return 0;
}

xenforeignmemory_resource_handle *xenforeignmemory_map_resource(
	xenforeignmemory_handle *fmem, domid_t domid, unsigned int type, unsigned int id,
	unsigned long frame, unsigned long nr_frames, void **paddr, int prot, int flags)
{
	struct sim_msg m = {
		.op = SIM_OP_FM_MAP_RESOURCE,
		.domid = domid,
		.arg = { type, id, frame, nr_frames },
	};
	xenforeignmemory_resource_handle *fres;
	struct sim_reply r;
	int fd = -1, rc;

	/* core.c: only POSIX-defined flags. */
	if (flags & ~(MAP_SHARED | MAP_PRIVATE)) {
		errno = EINVAL;
		return NULL;
	}
	if (nr_frames == 0 || nr_frames > SIZE_MAX >> SIM_PAGE_SHIFT) {
		errno = EINVAL;
		return NULL;
	}
	if (fmem->restrict_domid != FM_RESTRICT_NONE && fmem->restrict_domid != domid) {
		errno = EPERM;
		return NULL;
	}
	fres = calloc(1, sizeof(*fres));
	if (!fres)
		return NULL;
	rc = stub_call(&fmem->conn, &m, &r, &fd);
	if (rc || fd < 0) {
		free(fres);
		errno = rc ? -rc : EPROTO;
		return NULL;
	}
	fres->bytes = nr_frames << SIM_PAGE_SHIFT;
	fres->sim_id = r.val[0];
	fres->addr = mmap(paddr ? *paddr : NULL, fres->bytes, prot, flags | MAP_SHARED, fd, 0);
	rc = errno;
	close(fd);
	if (fres->addr == MAP_FAILED) {
		struct sim_msg undo = { .op = SIM_OP_FM_UNMAP_RESOURCE, .arg = { fres->sim_id } };

		stub_post(&fmem->conn, &undo);
		free(fres);
		errno = rc;
		return NULL;
	}
	if (paddr)
		*paddr = fres->addr;
	return fres;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
				    xenforeignmemory_resource_handle *fres)
{
	struct sim_msg m = { .op = SIM_OP_FM_UNMAP_RESOURCE };

	if (!fres)
		return 0;
	munmap(fres->addr, fres->bytes);
	m.arg[0] = fres->sim_id;
	stub_post(&fmem->conn, &m);
	free(fres);
	return 0;
}

int xenforeignmemory_resource_size(xenforeignmemory_handle *fmem, domid_t domid,
				   unsigned int type, unsigned int id, size_t *size)
{
	struct sim_msg m = {
		.op = SIM_OP_FM_RESOURCE_SIZE,
		.domid = domid,
		.arg = { type, id },
	};
	struct sim_reply r;
	int rc = stub_call(&fmem->conn, &m, &r, NULL);

	if (rc)
		return stub_fail(rc);
	*size = (size_t)r.val[0];
	return 0;
}
