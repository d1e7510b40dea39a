/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Strict unsigned number parsing, shared by the command line (cli.c), the
 * configuration file (config.c) and libxl's xenstore nodes
 * (xen/store_parse.c): digits and nothing else around them, no sign, no
 * space, no octal. Messages are each caller's own.
 */
#ifndef XVB_PARSE_NUM_H
#define XVB_PARSE_NUM_H

#include <stdint.h>

enum num_form {
	/* Decimal or 0x/0X hex; a 0 followed by digits is refused ("033" is not 27). */
	NUM_DEC_OR_HEX,
	/* Decimal only, no leading zero ("0" itself is fine): libxl's %u / %PRIu64. */
	NUM_DECIMAL,
	/* 0x/0X and hex digits, or "0": libxl's %#PRIx64, which prints zero as "0". */
	NUM_HEX_OR_ZERO,
};

/* 0 with *out set, -ERANGE past UINT64_MAX, -EINVAL for anything else. */
int parse_u64(const char *s, enum num_form form, uint64_t *out);

#endif
