/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stand-in libxendevicemodel.so.1: each dm_op the daemon issues becomes a
 * request to the simulator, which answers as Xen 4.17 on Arm would. The
 * dm_ops Arm does not implement fail with EOPNOTSUPP, as there, and say
 * so on stderr. set_irq_level and set_isa_irq_level, issued per
 * interrupt, are done in the caller's thread on the guest's interrupt
 * page shared with the simulator (sim_shared.h), as the hypercall runs on
 * the caller's CPU; only the first call for a guest asks the simulator.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xendevicemodel.h>

#include "sim_shared.h"
#include "stub_common.h"

/* A guest's interrupt page, mapped; dropped once the guest is gone. */
struct irq_page_map {
	struct irq_page_map *next;
	domid_t domid;
	struct sim_irq_page *page;
};

struct xendevicemodel_handle {
	struct stub_conn conn;
	Xentoolcore__Active_Handle tc_ah;
	int restrict_domid; /* -1: unrestricted */
	/* irq_pages: read-held while a page is written (another thread's
	 * prune must not unmap it meanwhile), write-held to add or prune. */
	pthread_rwlock_t irq_lock;
	struct irq_page_map *irq_pages;
};

#define DMOD_RESTRICT_NONE (-1)

static int dm_restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
	xendevicemodel_handle *h =
		(xendevicemodel_handle *)((char *)ah - offsetof(xendevicemodel_handle, tc_ah));

	return xendevicemodel_restrict(h, domid);
}

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger,
					   unsigned int open_flags)
{
	xendevicemodel_handle *h = calloc(1, sizeof(*h));
	int rc;

	(void)logger;
	(void)open_flags;
	if (!h)
		return NULL;
	rc = stub_conn_open(&h->conn, SIM_KIND_DM, "libxendevicemodel", NULL);
	if (rc) {
		free(h);
		errno = -rc;
		return NULL;
	}
	h->restrict_domid = DMOD_RESTRICT_NONE;
	pthread_rwlock_init(&h->irq_lock, NULL);
	h->tc_ah.restrict_callback = dm_restrict_cb;
	xentoolcore__register_active_handle(&h->tc_ah);
	return h;
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
	if (!dmod)
		return 0;
	xentoolcore__deregister_active_handle(&dmod->tc_ah);
	stub_conn_close(&dmod->conn);
	while (dmod->irq_pages) {
		struct irq_page_map *m = dmod->irq_pages;

		dmod->irq_pages = m->next;
		munmap(m->page, sizeof(*m->page));
		free(m);
	}
	pthread_rwlock_destroy(&dmod->irq_lock);
	free(dmod);
	return 0;
}

/* One dm_op: 0, or -1 with errno. */
static int dm_op(xendevicemodel_handle *h, enum sim_op op, domid_t domid, uint64_t a0,
		 uint64_t a1, uint64_t a2, uint64_t a3, struct sim_reply *r)
{
	struct sim_msg m = { .op = op, .domid = domid, .arg = { a0, a1, a2, a3 } };
	struct sim_reply local;
	int rc;

	/* privcmd: a restricted handle may only target its domain. */
	if (h->restrict_domid != DMOD_RESTRICT_NONE && h->restrict_domid != domid)
		return stub_fail(-EPERM);
	rc = stub_call(&h->conn, &m, r ? r : &local, NULL);
	return rc ? stub_fail(rc) : 0;
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
				       int handle_bufioreq, ioservid_t *id)
{
	struct sim_reply r;

	if (dm_op(dmod, SIM_OP_DM_CREATE_SERVER, domid, (uint64_t)(int64_t)handle_bufioreq, 0, 0,
		  0, &r))
		return -1;
	*id = (ioservid_t)r.val[0];
	return 0;
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *dmod, domid_t domid,
					 ioservid_t id, xen_pfn_t *ioreq_gfn,
					 xen_pfn_t *bufioreq_gfn, evtchn_port_t *bufioreq_port)
{
	/* Only buffered servers report a port; Arm has none. */
	(void)bufioreq_port;
	return dm_op(dmod, SIM_OP_DM_SERVER_INFO, domid, id, ioreq_gfn || bufioreq_gfn, 0, 0,
		     NULL);
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
						ioservid_t id, int is_mmio, uint64_t start,
						uint64_t end)
{
	return dm_op(dmod, SIM_OP_DM_MAP_RANGE, domid, id,
		     is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT, start, end, NULL);
}

int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
						    ioservid_t id, int is_mmio, uint64_t start,
						    uint64_t end)
{
	return dm_op(dmod, SIM_OP_DM_UNMAP_RANGE, domid, id,
		     is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT, start, end, NULL);
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod, domid_t domid,
					  ioservid_t id, int enabled)
{
	return dm_op(dmod, SIM_OP_DM_SET_STATE, domid, id, !!enabled, 0, 0, NULL);
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
					ioservid_t id)
{
	return dm_op(dmod, SIM_OP_DM_DESTROY_SERVER, domid, id, 0, 0, 0, NULL);
}

/* Unmaps the pages of guests that are gone. Called with irq_lock write-held. */
static void irq_pages_prune(xendevicemodel_handle *h)
{
	struct irq_page_map **pp = &h->irq_pages;

	while (*pp) {
		struct irq_page_map *m = *pp;

		if (!__atomic_load_n(&m->page->dead, __ATOMIC_ACQUIRE)) {
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		munmap(m->page, sizeof(*m->page));
		free(m);
	}
}

static struct sim_irq_page *irq_page_find(xendevicemodel_handle *h, domid_t domid)
{
	for (struct irq_page_map *m = h->irq_pages; m; m = m->next) {
		if (m->domid == domid && !__atomic_load_n(&m->page->dead, __ATOMIC_ACQUIRE))
			return m->page;
	}
	return NULL;
}

/* Maps the live guest's page (irq_lock write-held): 0, or -errno (-ESRCH: none). */
static int irq_page_map(xendevicemodel_handle *h, domid_t domid, struct sim_irq_page **out)
{
	struct sim_msg msg = { .op = SIM_OP_DM_IRQ_PAGE, .domid = domid };
	struct sim_reply r;
	struct irq_page_map *m;
	int fd, rc;

	irq_pages_prune(h);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	rc = stub_call(&h->conn, &msg, &r, &fd);
	if (!rc && fd < 0)
		rc = -EPROTO;
	if (!rc) {
		m->page = mmap(NULL, sizeof(*m->page), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		rc = m->page == MAP_FAILED ? -errno : 0;
		close(fd);
	}
	if (rc) {
		free(m);
		return rc;
	}
	m->domid = domid;
	m->next = h->irq_pages;
	h->irq_pages = m;
	*out = m->page;
	/* Destroyed since the simulator answered: as if it had said ESRCH. */
	return __atomic_load_n(&m->page->dead, __ATOMIC_ACQUIRE) ? -ESRCH : 0;
}

/*
 * XEN_DMOP_set_irq_level (Arm: SPIs only, 32 <= irq < vgic_num_irqs) and
 * XEN_DMOP_set_isa_irq_level (x86: irq 0..15); level 0 or 1, else EINVAL.
 */
static int set_irq(xendevicemodel_handle *h, domid_t domid, unsigned int irq,
		   unsigned int level, bool isa)
{
	struct sim_irq_page *page;
	int rc = 0;

	if (h->restrict_domid != DMOD_RESTRICT_NONE && h->restrict_domid != domid)
		return stub_fail(-EPERM);
	pthread_rwlock_rdlock(&h->irq_lock);
	page = irq_page_find(h, domid);
	if (!page) {
		pthread_rwlock_unlock(&h->irq_lock);
		pthread_rwlock_wrlock(&h->irq_lock);
		page = irq_page_find(h, domid);
		if (!page)
			rc = irq_page_map(h, domid, &page);
	}
	if (!rc && (level > 1 || (isa ? irq >= 16 : (irq < 32 || irq >= SIM_IRQ_LINES))))
		rc = -EINVAL;
	if (!rc) {
		__atomic_store_n(&page->line[irq].level, level, __ATOMIC_RELEASE);
		if (level)
			__atomic_fetch_add(&page->line[irq].edges, 1u, __ATOMIC_RELEASE);
		sim_futex_bump(&page->seq);
	}
	pthread_rwlock_unlock(&h->irq_lock);
	return rc ? stub_fail(rc) : 0;
}

int xendevicemodel_set_irq_level(xendevicemodel_handle *dmod, domid_t domid, unsigned int irq,
				 unsigned int level)
{
	return set_irq(dmod, domid, irq, level, false);
}

int xendevicemodel_set_isa_irq_level(xendevicemodel_handle *dmod, domid_t domid, uint8_t irq,
				     unsigned int level)
{
	return set_irq(dmod, domid, irq, level, true);
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid, unsigned int *vcpus)
{
	struct sim_reply r;

	if (dm_op(dmod, SIM_OP_DM_NR_VCPUS, domid, 0, 0, 0, 0, &r))
		return -1;
	*vcpus = (unsigned int)r.val[0];
	return 0;
}

int xendevicemodel_restrict(xendevicemodel_handle *dmod, domid_t domid)
{
	/* IOCTL_PRIVCMD_RESTRICT: once restricted, only to the same domain. */
	if (dmod->restrict_domid != DMOD_RESTRICT_NONE && dmod->restrict_domid != domid)
		return stub_fail(-EINVAL);
	dmod->restrict_domid = domid;
	return 0;
}

/* ---- dm_ops Xen on Arm does not implement (-EOPNOTSUPP there) ---- */

int xendevicemodel_map_mem_type_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
						ioservid_t id, uint16_t type, uint32_t flags)
{
	(void)dmod, (void)domid, (void)id, (void)type, (void)flags;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_map_pcidev_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
					      ioservid_t id, uint16_t segment, uint8_t bus,
					      uint8_t device, uint8_t function)
{
	(void)dmod, (void)domid, (void)id, (void)segment, (void)bus, (void)device,
		(void)function;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
						  ioservid_t id, uint16_t segment, uint8_t bus,
						  uint8_t device, uint8_t function)
{
	(void)dmod, (void)domid, (void)id, (void)segment, (void)bus, (void)device,
		(void)function;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_set_pci_intx_level(xendevicemodel_handle *dmod, domid_t domid,
				      uint16_t segment, uint8_t bus, uint8_t device, uint8_t intx,
				      unsigned int level)
{
	(void)dmod, (void)domid, (void)segment, (void)bus, (void)device, (void)intx,
		(void)level;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_set_pci_link_route(xendevicemodel_handle *dmod, domid_t domid, uint8_t link,
				      uint8_t irq)
{
	(void)dmod, (void)domid, (void)link, (void)irq;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_inject_msi(xendevicemodel_handle *dmod, domid_t domid, uint64_t msi_addr,
			      uint32_t msi_data)
{
	(void)dmod, (void)domid, (void)msi_addr, (void)msi_data;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_track_dirty_vram(xendevicemodel_handle *dmod, domid_t domid,
				    uint64_t first_pfn, uint32_t nr, unsigned long *dirty_bitmap)
{
	(void)dmod, (void)domid, (void)first_pfn, (void)nr, (void)dirty_bitmap;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_modified_memory(xendevicemodel_handle *dmod, domid_t domid,
				   uint64_t first_pfn, uint32_t nr)
{
	(void)dmod, (void)domid, (void)first_pfn, (void)nr;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_modified_memory_bulk(xendevicemodel_handle *dmod, domid_t domid,
					struct xen_dm_op_modified_memory_extent extents[],
					uint32_t nr)
{
	(void)dmod, (void)domid, (void)extents, (void)nr;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_set_mem_type(xendevicemodel_handle *dmod, domid_t domid,
				hvmmem_type_t mem_type, uint64_t first_pfn, uint32_t nr)
{
	(void)dmod, (void)domid, (void)mem_type, (void)first_pfn, (void)nr;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_inject_event(xendevicemodel_handle *dmod, domid_t domid, int vcpu,
				uint8_t vector, uint8_t type, uint32_t error_code,
				uint8_t insn_len, uint64_t extra)
{
	(void)dmod, (void)domid, (void)vcpu, (void)vector, (void)type, (void)error_code,
		(void)insn_len, (void)extra;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_shutdown(xendevicemodel_handle *dmod, domid_t domid, unsigned int reason)
{
	(void)dmod, (void)domid, (void)reason;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_relocate_memory(xendevicemodel_handle *dmod, domid_t domid, uint32_t size,
				   uint64_t src_gfn, uint64_t dst_gfn)
{
	(void)dmod, (void)domid, (void)size, (void)src_gfn, (void)dst_gfn;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}

int xendevicemodel_pin_memory_cacheattr(xendevicemodel_handle *dmod, domid_t domid,
					uint64_t start, uint64_t end, uint32_t type)
{
	(void)dmod, (void)domid, (void)start, (void)end, (void)type;
	return stub_not_simulated(__func__, EOPNOTSUPP);
}
