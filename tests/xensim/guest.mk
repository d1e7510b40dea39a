# SPDX-License-Identifier: GPL-2.0-or-later
# The scripted virtio-blk guest (guest_*.c), the integration tests that run
# the real daemon binary against xensim (t_*.c), and `make demo-sim`.
# Included by the top-level Makefile; links the simulator library that
# sim.mk builds.

XSG_DIR := tests/xensim
XSG_BIN := $(BUILD)/tests/xensim
XSG_LIBSIM := $(BUILD)/xensim/libsim.a
XSG_GUEST_SRCS := $(XSG_DIR)/guest_mmio.c $(XSG_DIR)/guest_vq.c $(XSG_DIR)/guest_blk.c \
	$(XSG_DIR)/guest_work.c
XSG_TEST_SRCS := $(XSG_GUEST_SRCS) $(XSG_DIR)/t_env.c tests/unit/check.c
XSG_TESTS := t_basic t_io t_multi t_lifecycle

# $(1): program, $(2): sources besides $(1).c
define xsg_prog_rule
$(XSG_BIN)/$(1): $(OBJ)/$(XSG_DIR)/$(1).o $(patsubst %.c,$(OBJ)/%.o,$(2)) $(XSG_LIBSIM)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ -lpthread
endef
$(foreach t,$(XSG_TESTS),$(eval $(call xsg_prog_rule,$(t),$(XSG_TEST_SRCS))))
$(eval $(call xsg_prog_rule,demo_sim,$(XSG_GUEST_SRCS)))

XENSIM_TESTS += $(addprefix $(XSG_BIN)/,$(XSG_TESTS))
CHECK_DEPS += $(addprefix $(XSG_BIN)/,$(XSG_TESTS))

# The daemon finds the stand-in Xen libraries (sim.mk, read after this
# file: hence the second expansion) through LD_LIBRARY_PATH at run time.
.SECONDEXPANSION:
demo-sim: $(DAEMON) $(XSG_BIN)/demo_sim $$(XENSIM_STUB_LIBS)
	$(XSG_BIN)/demo_sim
