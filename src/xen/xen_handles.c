/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The process-wide libxendevicemodel and libxenforeignmemory handles.
 * Event channel handles are per IOREQ server (ioreq.c), not here.
 * libxenctrl is deliberately not used (unstable ABI).
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "xen_handles.h"

/* The libraries set errno on failure; never turn a missing errno into success. */
static int open_error(void)
{
	return errno ? -errno : -EIO;
}

int xen_handles_open(struct xen_handles *xh)
{
	int ret;

	*xh = (struct xen_handles){ .dm = NULL, .fmem = NULL };

	errno = 0;
	xh->dm = xendevicemodel_open(NULL, 0);
	if (!xh->dm) {
		ret = open_error();
		log_err(NULL, "cannot open Xen device model interface: %s", strerror(-ret));
		goto err;
	}
	errno = 0;
	xh->fmem = xenforeignmemory_open(NULL, 0);
	if (!xh->fmem) {
		ret = open_error();
		log_err(NULL, "cannot open Xen foreign memory interface: %s", strerror(-ret));
		goto err;
	}
	return 0;

err:
	xen_handles_close(xh);
	return ret;
}

void xen_handles_close(struct xen_handles *xh)
{
	if (!xh)
		return;
	if (xh->fmem)
		xenforeignmemory_close(xh->fmem);
	if (xh->dm)
		xendevicemodel_close(xh->dm);
	xh->fmem = NULL;
	xh->dm = NULL;
}
