/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Strict unsigned number parsing; see parse_num.h. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parse_num.h"

int parse_u64(const char *s, enum num_form form, uint64_t *out)
{
	unsigned long long v;
	const char *digits = s;
	char *end;
	int base;

	switch (form) {
	case NUM_DEC_OR_HEX:
		if (!isdigit((unsigned char)s[0]) || (s[0] == '0' && isdigit((unsigned char)s[1])))
			return -EINVAL;
		base = 0; /* strtoull takes the 0x prefix; octal was refused above */
		break;
	case NUM_DECIMAL:
		if (!isdigit((unsigned char)s[0]) || (s[0] == '0' && s[1] != '\0'))
			return -EINVAL;
		base = 10;
		break;
	case NUM_HEX_OR_ZERO:
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
			digits = s + 2;
			/* strtoull(base 16) would take a second "0x" too: refuse it. */
			if (!isxdigit((unsigned char)digits[0]) ||
			    (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')))
				return -EINVAL;
			base = 16;
		} else if (strcmp(s, "0") == 0) {
			base = 10;
		} else {
			return -EINVAL;
		}
		break;
	default:
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(digits, &end, base);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == digits || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}
