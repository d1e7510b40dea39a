# SPDX-License-Identifier: GPL-2.0-or-later
# Unit tests for the Xen transport (src/xen) against fake Xen libraries
# (tests/unit/fake_xen.c), which stand in for libxendevicemodel,
# libxenforeignmemory and libxenevtchn: no Xen library is linked.
UNIT_TESTS += test_ioreq test_guestmem test_irq
test_ioreq_SRCS := tests/unit/test_ioreq.c tests/unit/check.c tests/unit/fake_xen.c \
	src/xen/ioreq.c src/xen/ioreq_decode.c src/xen/xen_handles.c src/log.c
test_ioreq_LIBS :=
test_guestmem_SRCS := tests/unit/test_guestmem.c tests/unit/check.c tests/unit/fake_xen.c \
	src/xen/guestmem.c src/xen/xen_handles.c src/log.c
test_guestmem_LIBS :=
test_irq_SRCS := tests/unit/test_irq.c tests/unit/check.c tests/unit/fake_xen.c \
	src/xen/irq.c src/xen/xen_handles.c src/log.c
test_irq_LIBS :=
