/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stand-in libxengnttab.so.1: grants are not simulated. Opening a handle
 * works (it connects, so a missing simulator shows up at open as with the
 * other libraries); every grant operation fails with ENOSYS and says so on
 * stderr, so a daemon relying on grants fails visibly.
 */
#include <errno.h>
#include <stdlib.h>

#include <xengnttab.h>

#include "stub_common.h"

struct xengntdev_handle {
	struct stub_conn conn;
};

static struct xengntdev_handle *open_handle(enum sim_kind kind, const char *lib)
{
	struct xengntdev_handle *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return NULL;
	rc = stub_conn_open(&h->conn, kind, lib, NULL);
	if (rc) {
		free(h);
		errno = -rc;
		return NULL;
	}
	return h;
}

static int close_handle(struct xengntdev_handle *h)
{
	if (!h)
		return 0;
	stub_conn_close(&h->conn);
	free(h);
	return 0;
}

static void *not_simulated_ptr(const char *name)
{
	stub_not_simulated(name, ENOSYS);
	return NULL;
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
	(void)logger, (void)open_flags;
	return open_handle(SIM_KIND_GNTTAB, "libxengnttab");
}

int xengnttab_close(xengnttab_handle *xgt)
{
	return close_handle(xgt);
}

int xengnttab_fd(xengnttab_handle *xgt)
{
	(void)xgt;
	return stub_not_simulated(__func__, ENOSYS);
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
	(void)xgt, (void)domid, (void)ref, (void)prot;
	return not_simulated_ptr(__func__);
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t *domids,
			       uint32_t *refs, int prot)
{
	(void)xgt, (void)count, (void)domids, (void)refs, (void)prot;
	return not_simulated_ptr(__func__);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t domid,
				      uint32_t *refs, int prot)
{
	(void)xgt, (void)count, (void)domid, (void)refs, (void)prot;
	return not_simulated_ptr(__func__);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid, uint32_t ref,
				     int prot, uint32_t notify_offset, evtchn_port_t notify_port)
{
	(void)xgt, (void)domid, (void)ref, (void)prot, (void)notify_offset, (void)notify_port;
	return not_simulated_ptr(__func__);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	(void)xgt, (void)start_address, (void)count;
	return stub_not_simulated(__func__, ENOSYS);
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	/* A no-op on current Linux gntdev as well. */
	(void)xgt, (void)nr_grants;
	return 0;
}

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
			 xengnttab_grant_copy_segment_t *segs)
{
	(void)xgt, (void)count, (void)segs;
	return stub_not_simulated(__func__, ENOSYS);
}

int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t flags,
				   uint32_t count, const uint32_t *refs, uint32_t *fd)
{
	(void)xgt, (void)domid, (void)flags, (void)count, (void)refs, (void)fd;
	return stub_not_simulated(__func__, ENOSYS);
}

int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt, uint32_t fd, uint32_t wait_to_ms)
{
	(void)xgt, (void)fd, (void)wait_to_ms;
	return stub_not_simulated(__func__, ENOSYS);
}

int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t fd,
				 uint32_t count, uint32_t *refs)
{
	(void)xgt, (void)domid, (void)fd, (void)count, (void)refs;
	return stub_not_simulated(__func__, ENOSYS);
}

int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd)
{
	(void)xgt, (void)fd;
	return stub_not_simulated(__func__, ENOSYS);
}

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger, unsigned open_flags)
{
	(void)logger, (void)open_flags;
	return open_handle(SIM_KIND_GNTSHR, "libxengnttab");
}

int xengntshr_close(xengntshr_handle *xgs)
{
	return close_handle(xgs);
}

int xengntshr_fd(xengntshr_handle *xgs)
{
	(void)xgs;
	return stub_not_simulated(__func__, ENOSYS);
}

void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid, int count, uint32_t *refs,
			    int writable)
{
	(void)xgs, (void)domid, (void)count, (void)refs, (void)writable;
	return not_simulated_ptr(__func__);
}

void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid, uint32_t *ref,
				  int writable, uint32_t notify_offset, evtchn_port_t notify_port)
{
	(void)xgs, (void)domid, (void)ref, (void)writable, (void)notify_offset, (void)notify_port;
	return not_simulated_ptr(__func__);
}

int xengntshr_unshare(xengntshr_handle *xgs, void *start_address, uint32_t count)
{
	(void)xgs, (void)start_address, (void)count;
	return stub_not_simulated(__func__, ENOSYS);
}
