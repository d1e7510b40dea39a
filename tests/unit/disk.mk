# SPDX-License-Identifier: GPL-2.0-or-later
# Unit tests for the disk backends (both engines), the event loop and the logger.
UNIT_TESTS += test_disk test_loop test_log

test_disk_SRCS := tests/unit/test_disk.c tests/unit/check.c src/disk/disk.c src/disk/uring.c \
	src/disk/sync.c src/log.c
test_disk_LIBS := $(URING_LIBS)

test_loop_SRCS := tests/unit/test_loop.c tests/unit/check.c src/loop.c
test_loop_LIBS := -lpthread

test_log_SRCS := tests/unit/test_log.c tests/unit/check.c src/log.c
test_log_LIBS :=
