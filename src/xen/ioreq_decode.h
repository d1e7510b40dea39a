/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Validation and decoding of one ioreq slot into an MMIO access, and
 * encoding of the answer. Pure functions: no Xen calls, unit-tested.
 */
#ifndef XVB_IOREQ_DECODE_H
#define XVB_IOREQ_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/hvm/ioreq.h>

enum ioreq_kind {
	IOREQ_KIND_MMIO,       /* a valid MMIO access: handle it */
	IOREQ_KIND_INVALIDATE, /* drop cached foreign mappings */
	IOREQ_KIND_BAD,        /* complete without effect; log once */
	IOREQ_KIND_IGNORE,     /* a type we do not handle (PIO, PCI config, timeoffset): complete */
};

struct mmio_access {
	uint64_t addr;
	uint32_t size; /* 1, 2, 4 or 8 */
	bool write;
	uint64_t data; /* write data masked to size */
};

/*
 * Classify a request copied out of the slot. For BAD, *why says what was
 * wrong (static string). Arm sends COPY with count 1, data_is_ptr 0; x86
 * may send rep/data_is_ptr forms, which this daemon does not support.
 */
enum ioreq_kind ioreq_decode(const ioreq_t *req, struct mmio_access *acc, const char **why);

/* Value to store in req->data for a read of size bytes: zero-extended. */
uint64_t ioreq_read_result(uint64_t value, uint32_t size);

#endif
