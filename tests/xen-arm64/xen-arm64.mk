# Real Xen on arm64 under QEMU (TCG): the daemon serving an xl-created Linux guest.
# Included by the top-level Makefile. Downloads and builds go to build/xen-arm64/.
#   make check-xen                            the scenario as a test, in service mode and in
#                                             per-guest mode ("N passed, N failed" over both)
#   make demo                                 the same scenario, narrated (service mode)
#   make check-xen XEN_ARM64_SCENARIO=infra   Xen + toolstack + a disk-less guest only
#   make check-xen XEN_ARM64_SCENARIO=probe   what libxl writes to xenstore (no daemon)
#   make check-xen XEN_ARM64_MODES=service    one mode only
XEN_ARM64_DIR := tests/xen-arm64
XEN_ARM64_SCENARIO ?= full
XEN_ARM64_MODE ?= service
XEN_ARM64_MODES ?= service per-guest
XEN_ARM64_FLAGS = --scenario $(XEN_ARM64_SCENARIO) --mode $(XEN_ARM64_MODE)

check-xen:
	XEN_ARM64_SCENARIO=$(XEN_ARM64_SCENARIO) XEN_ARM64_MODES="$(XEN_ARM64_MODES)" \
		$(XEN_ARM64_DIR)/check-all

demo:
	$(XEN_ARM64_DIR)/run --demo $(XEN_ARM64_FLAGS)
