# SPDX-License-Identifier: GPL-2.0-or-later
# Unit tests of the virtio core (src/virtio) against fake guest memory and a fake disk.
VIRTIO_CORE_SRCS := src/virtio/virtio_dev.c src/virtio/ring.c src/log.c

UNIT_TESTS += test_ring
test_ring_SRCS := tests/unit/test_ring.c tests/unit/check.c src/virtio/ring.c src/log.c \
	tests/unit/fake_host.c
test_ring_LIBS :=

UNIT_TESTS += test_mmio
test_mmio_SRCS := tests/unit/test_mmio.c tests/unit/check.c src/virtio/mmio.c \
	$(VIRTIO_CORE_SRCS) tests/unit/fake_host.c
test_mmio_LIBS :=

UNIT_TESTS += test_blk
test_blk_SRCS := tests/unit/test_blk.c tests/unit/check.c src/virtio/blk.c \
	src/virtio/blk_config.c $(VIRTIO_CORE_SRCS) tests/unit/fake_host.c tests/unit/fake_disk.c
test_blk_LIBS :=
