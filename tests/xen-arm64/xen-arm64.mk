# Real Xen on arm64 under QEMU (TCG): the daemon serving an xl-created Linux guest.
# Included by the top-level Makefile. Downloads and builds go to build/xen-arm64/.
#   make check-xen                            the scenario as a test ("N passed, N failed")
#   make demo                                 the same scenario, narrated
#   make check-xen XEN_ARM64_SCENARIO=infra   Xen + toolstack + a disk-less guest only
#   make check-xen XEN_ARM64_SCENARIO=probe   what libxl writes to xenstore (no daemon)
XEN_ARM64_DIR := tests/xen-arm64
XEN_ARM64_SCENARIO ?= full
XEN_ARM64_FLAGS = --scenario $(XEN_ARM64_SCENARIO)

check-xen:
	$(XEN_ARM64_DIR)/run $(XEN_ARM64_FLAGS)

demo:
	$(XEN_ARM64_DIR)/run --demo $(XEN_ARM64_FLAGS)
