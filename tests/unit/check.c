/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs every registered TEST() and reports TAP; see check.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define CHECK_MAX_TESTS 512

static struct {
	const char *name;
	check_fn fn;
} tests[CHECK_MAX_TESTS];
static unsigned n_tests;
static jmp_buf case_jmp;

void check_register(const char *name, check_fn fn)
{
	if (n_tests == CHECK_MAX_TESTS) {
		fprintf(stderr, "too many tests\n");
		abort();
	}
	tests[n_tests].name = name;
	tests[n_tests].fn = fn;
	n_tests++;
}

void check_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	longjmp(case_jmp, 1);
}

int main(int argc, char **argv)
{
	/* volatile: modified between setjmp and longjmp */
	volatile unsigned failed = 0, run = 0;
	const char *only = argc > 1 ? argv[1] : NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("1..%u\n", n_tests);
	for (unsigned i = 0; i < n_tests; i++) {
		if (only && strcmp(only, tests[i].name) != 0)
			continue;
		run++;
		if (setjmp(case_jmp) == 0) {
			tests[i].fn();
			printf("ok %u - %s\n", i + 1, tests[i].name);
		} else {
			printf("not ok %u - %s\n", i + 1, tests[i].name);
			failed++;
		}
	}
	return failed ? 1 : (run ? 0 : 1);
}
