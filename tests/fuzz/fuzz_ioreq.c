/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the ioreq decoder (src/xen/ioreq_decode.c), the first
 * code to see what a guest vCPU's trapped access became.
 *
 * Input: a sequence of 32-byte ioreq_t slots exactly as Xen lays them out
 * (addr, data, count, size, vp_eport, pad, state/data_is_ptr/dir/df bits,
 * type); a short last slot is zero-padded. Each is decoded with and
 * without the reason pointer, and the answer is checked against what the
 * decoder promises: only COPY with count 1, no data_is_ptr, a size of 1,
 * 2, 4 or 8 and no address wrap becomes an MMIO access, with write data
 * masked to its size; a read result never has bits above its size.
 */
#include <string.h>

#include "../../src/xen/ioreq_decode.h"
#include "fuzz_input.h"

static uint64_t mask_of(uint32_t size)
{
	return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8u)) - 1u;
}

static void check_one(const ioreq_t *req)
{
	struct mmio_access acc, acc2;
	const char *why = (const char *)1;
	enum ioreq_kind kind = ioreq_decode(req, &acc, &why);
	enum ioreq_kind kind2 = ioreq_decode(req, &acc2, NULL);
	bool size_ok = req->size == 1 || req->size == 2 || req->size == 4 || req->size == 8;

	FUZZ_CHECK(kind == kind2);
	FUZZ_CHECK(memcmp(&acc, &acc2, sizeof(acc)) == 0);
	switch (kind) {
	case IOREQ_KIND_MMIO:
		FUZZ_CHECK(req->type == IOREQ_TYPE_COPY);
		FUZZ_CHECK(req->count == 1 && !req->data_is_ptr && size_ok);
		FUZZ_CHECK(why == NULL);
		FUZZ_CHECK(acc.addr == req->addr && acc.size == req->size);
		FUZZ_CHECK(acc.addr + (acc.size - 1u) >= acc.addr); /* no wrap */
		FUZZ_CHECK(acc.write == (req->dir == IOREQ_WRITE));
		FUZZ_CHECK(acc.data == (acc.write ? req->data & mask_of(req->size) : 0));
		break;
	case IOREQ_KIND_BAD:
		FUZZ_CHECK(req->type == IOREQ_TYPE_COPY);
		FUZZ_CHECK(req->count != 1 || req->data_is_ptr || !size_ok ||
			   req->addr + (req->size - 1u) < req->addr);
		FUZZ_CHECK(why != NULL && why != (const char *)1 && why[0] != '\0');
		FUZZ_CHECK(acc.addr == 0 && acc.size == 0 && !acc.write && acc.data == 0);
		break;
	case IOREQ_KIND_INVALIDATE:
		FUZZ_CHECK(req->type == IOREQ_TYPE_INVALIDATE);
		break;
	case IOREQ_KIND_IGNORE:
		FUZZ_CHECK(req->type != IOREQ_TYPE_COPY && req->type != IOREQ_TYPE_INVALIDATE);
		FUZZ_CHECK(why != NULL && why != (const char *)1 && why[0] != '\0');
		break;
	default:
		FUZZ_CHECK(!"unknown ioreq kind");
	}

	/* Any size the slot may carry, valid or not, must be safe to answer with. */
	for (uint32_t size = 0; size <= 9; size++) {
		uint64_t r = ioreq_read_result(req->data, size);

		if (size == 0)
			FUZZ_CHECK(r == 0);
		else
			FUZZ_CHECK(r == (req->data & mask_of(size)));
	}
	if (size_ok)
		FUZZ_CHECK((ioreq_read_result(req->data, req->size) & ~mask_of(req->size)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { .p = data, .n = size };

	do {
		ioreq_t req;

		fuzz_bytes(&in, &req, sizeof(req));
		check_one(&req);
	} while (fuzz_more(&in));
	return 0;
}
