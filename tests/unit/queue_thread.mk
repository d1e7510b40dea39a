# SPDX-License-Identifier: GPL-2.0-or-later
# Unit tests for the queue threads (src/queue_thread.c).
UNIT_TESTS += test_queue_thread
test_queue_thread_SRCS := tests/unit/test_queue_thread.c tests/unit/check.c src/queue_thread.c \
	src/loop.c
test_queue_thread_LIBS :=
