/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the libFuzzer targets: a reader that turns the fuzzer's bytes
 * into numbers (little-endian; zeros once the input is used up, so every
 * loop over it ends), and FUZZ_CHECK, which turns a broken invariant into
 * a crash libFuzzer records. tests/fuzz/gen_corpus.py writes seeds in the
 * formats the targets describe at their top.
 */
#ifndef XVB_FUZZ_INPUT_H
#define XVB_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline bool fuzz_more(const struct fuzz_in *in)
{
	return in->n > 0;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);

	return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t lo = fuzz_u16(in);

	return lo | (uint32_t)fuzz_u16(in) << 16;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t lo = fuzz_u32(in);

	return lo | (uint64_t)fuzz_u32(in) << 32;
}

/* Copy up to len bytes (the rest zero); returns how many came from the input. */
static inline size_t fuzz_bytes(struct fuzz_in *in, void *dst, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memcpy(dst, in->p, k);
	memset((uint8_t *)dst + k, 0, len - k);
	in->p += k;
	in->n -= k;
	return k;
}

/* An invariant of the code under test: its failure is a finding, not a harness error. */
#define FUZZ_CHECK(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, \
				#cond);                                                    \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* FUZZ_TRACE=1 in the environment: targets print what an input did (for seeds and crashes). */
static inline bool fuzz_trace(void)
{
	static int on = -1;

	if (on < 0) {
		const char *e = getenv("FUZZ_TRACE");

		on = e && *e == '1';
	}
	return on;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
