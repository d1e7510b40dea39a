/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Validation of one ioreq (already copied out of the shared slot) into an
 * MMIO access, and the encoding of read results. Pure functions.
 *
 * What is accepted: IOREQ_TYPE_COPY with count 1, data_is_ptr 0 and a size
 * of 1, 2, 4 or 8 — everything Arm ever sends (X417 try_fwd_ioserv). x86
 * "rep" MMIO (count > 1, string moves with df) and indirect data
 * (data_is_ptr = 1, data is a guest address) would need copies to and from
 * guest memory per element; this daemon does not implement them, so they
 * are BAD: completed without effect. df alone, with count 1, describes no
 * block (first byte = last element = addr) and is accepted.
 */
#include <stddef.h>

#include "compiler.h"
#include "ioreq_decode.h"

/* All ones over the low size bytes; size is 1, 2, 4 or 8 (anything >= 8: all). */
static uint64_t size_mask(uint32_t size)
{
	if (size >= sizeof(uint64_t))
		return UINT64_MAX;
	return (UINT64_C(1) << (size * 8u)) - 1u;
}

static bool size_valid(uint32_t size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

static enum ioreq_kind decode_bad(const char **why, const char *what)
{
	if (why)
		*why = what;
	return IOREQ_KIND_BAD;
}

enum ioreq_kind ioreq_decode(const ioreq_t *req, struct mmio_access *acc, const char **why)
{
	uint64_t last;

	*acc = (struct mmio_access){ 0 };
	if (why)
		*why = NULL;

	switch (req->type) {
	case IOREQ_TYPE_COPY:
		break;
	case IOREQ_TYPE_INVALIDATE:
		return IOREQ_KIND_INVALIDATE;
	case IOREQ_TYPE_PIO:
		if (why)
			*why = "port I/O";
		return IOREQ_KIND_IGNORE;
	case IOREQ_TYPE_PCI_CONFIG:
		if (why)
			*why = "PCI config access";
		return IOREQ_KIND_IGNORE;
	case IOREQ_TYPE_TIMEOFFSET:
		if (why)
			*why = "time offset";
		return IOREQ_KIND_IGNORE;
	default:
		if (why)
			*why = "unknown ioreq type";
		return IOREQ_KIND_IGNORE;
	}

	if (req->data_is_ptr)
		return decode_bad(why, "data_is_ptr (x86 indirect MMIO) is not supported");
	if (req->count != 1)
		return decode_bad(why, "count != 1 (x86 rep MMIO) is not supported");
	if (!size_valid(req->size))
		return decode_bad(why, "access size is not 1, 2, 4 or 8");
	/* Xen never sends this; a wrapping access could not be in any window. */
	if (add_overflows(req->addr, (uint64_t)req->size - 1u, &last))
		return decode_bad(why, "access wraps around the address space");

	acc->addr = req->addr;
	acc->size = req->size;
	acc->write = req->dir == IOREQ_WRITE;
	acc->data = acc->write ? req->data & size_mask(req->size) : 0;
	return IOREQ_KIND_MMIO;
}

uint64_t ioreq_read_result(uint64_t value, uint32_t size)
{
	if (size == 0)
		return 0;
	return value & size_mask(size);
}
