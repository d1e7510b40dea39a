/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small language helpers used across all layers. */
#ifndef XVB_COMPILER_H
#define XVB_COMPILER_H

#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#define UNUSED __attribute__((unused))

/* Overflow-checked arithmetic on guest-controlled numbers: true on overflow. */
#define add_overflows(a, b, res) __builtin_add_overflow((a), (b), (res))
#define mul_overflows(a, b, res) __builtin_mul_overflow((a), (b), (res))

#endif
