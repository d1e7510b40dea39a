/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal unit-test harness. Each TEST() is one case; main() (in check.c)
 * runs them all and prints TAP ("ok 3 - name" / "not ok 4 - name"), which
 * tests/run-tests counts. A failed CHECK prints file:line and the values,
 * and ends the case.
 */
#ifndef XVB_TEST_CHECK_H
#define XVB_TEST_CHECK_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

typedef void (*check_fn)(void);
void check_register(const char *name, check_fn fn);
void check_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#define TEST(name)                                                             \
	static void name(void);                                                \
	__attribute__((constructor)) static void check_reg_##name(void)        \
	{                                                                      \
		check_register(#name, name);                                   \
	}                                                                      \
	static void name(void)

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			check_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);   \
	} while (0)

#define CHECK_EQ(a, b)                                                         \
	do {                                                                   \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		if (check_a_ != check_b_)                                      \
			check_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
				   #a, #b, check_a_, check_b_);              \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                     \
	do {                                                                   \
		uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);    \
		if (check_a_ != check_b_)                                      \
			check_fail(__FILE__, __LINE__,                         \
				   "%s == %s: 0x%" PRIx64 " != 0x%" PRIx64,   \
				   #a, #b, check_a_, check_b_);              \
	} while (0)

#endif
