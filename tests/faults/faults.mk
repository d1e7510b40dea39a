# SPDX-License-Identifier: GPL-2.0-or-later
# Host-side fault tests (tests/faults/t_faults_*.c): the real daemon against
# xensim with a failing, full, slow or volatile image (eiofs, a small
# libfuse3 file system, and size-limited tmpfs mounts), signals and guest
# deaths with requests in flight, guest create/destroy cycles, data checks.
# They run in `make check` (root: they mount); `make soak` runs the long
# versions (1,000 guest cycles, a 60 s random-write soak).

FAULT_DIR := tests/faults
FAULT_BIN := $(BUILD)/tests/faults
FAULT_PROGS := t_faults_disk t_faults_lifecycle t_faults_data
FAULT_COMMON_SRCS := $(FAULT_DIR)/fault_env.c tests/xensim/guest_mmio.c tests/xensim/guest_vq.c \
	tests/xensim/guest_blk.c tests/xensim/guest_work.c tests/xensim/t_env.c tests/unit/check.c
FAULT_FUSE_CFLAGS := $(shell $(PKG_CONFIG) --cflags fuse3 2>/dev/null)
FAULT_FUSE_LIBS := $(shell $(PKG_CONFIG) --libs fuse3 2>/dev/null || echo -lfuse3)
FAULT_XS_LIBS := $(shell $(PKG_CONFIG) --libs xenstore 2>/dev/null || echo -lxenstore)

# Where the daemon and the logs are, for every test object (fault_env.h has fallbacks).
$(OBJ)/$(FAULT_DIR)/%.o: CPPFLAGS += -DXVB_DAEMON_PATH='"$(abspath $(DAEMON))"' \
	-DXVB_LOGDIR='"$(abspath $(BUILD))/test-logs"'
$(OBJ)/$(FAULT_DIR)/eiofs.o: CPPFLAGS += $(FAULT_FUSE_CFLAGS)

$(FAULT_BIN)/eiofs: $(OBJ)/$(FAULT_DIR)/eiofs.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FAULT_FUSE_LIBS) -lpthread

# The simulator archive comes from tests/xensim/sim.mk (secondary expansion: read later or earlier).
.SECONDEXPANSION:
$(FAULT_BIN)/t_faults_%: $(OBJ)/$(FAULT_DIR)/t_faults_%.o \
		$(patsubst %.c,$(OBJ)/%.o,$(FAULT_COMMON_SRCS)) $$(XENSIM_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FAULT_XS_LIBS) -lpthread

# The daemon once more without sanitizers, for the create/destroy cycles: its
# fds, mappings and resident memory are what a production build holds (under
# ASan the allocator's quarantine and regions move them), and must stay flat.
FAULT_PLAIN_OBJ := $(BUILD)/obj-plain
FAULT_PLAIN_DAEMON := $(FAULT_BIN)/xen-virtio-blkd-plain
$(FAULT_PLAIN_OBJ)/%.o: %.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEP_CFLAGS) -std=gnu11 $(WARNINGS) $(WERROR_CFLAGS) $(CFLAGS_USER) \
		-MMD -MP -c -o $@ $<
$(FAULT_PLAIN_DAEMON): $(patsubst %.c,$(FAULT_PLAIN_OBJ)/%.o,$(DAEMON_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_USER) -Wl,--as-needed -o $@ $^ $(DAEMON_LIBS)
$(OBJ)/$(FAULT_DIR)/t_faults_lifecycle.o: CPPFLAGS += \
	-DXVB_DAEMON_PLAIN='"$(abspath $(FAULT_PLAIN_DAEMON))"'
-include $(shell find $(FAULT_PLAIN_OBJ) -name '*.d' 2>/dev/null)

FAULT_TESTS := $(addprefix $(FAULT_BIN)/,$(FAULT_PROGS))
XENSIM_TESTS += $(FAULT_TESTS)
CHECK_DEPS += $(FAULT_TESTS) $(FAULT_BIN)/eiofs $(FAULT_PLAIN_DAEMON)

clean: clean-faults
.PHONY: clean-faults
clean-faults:
	rm -rf $(FAULT_PLAIN_OBJ)

.PHONY: soak
soak: $(DAEMON) $(FAULT_TESTS) $(FAULT_BIN)/eiofs $(FAULT_PLAIN_DAEMON) $$(XENSIM_STUB_LIBS)
	@XVB_FAULT_CYCLES=1000 XVB_FAULT_SOAK_S=60 TEST_TIMEOUT=1800 tests/run-tests \
		$(FAULT_BIN)/t_faults_lifecycle $(FAULT_BIN)/t_faults_data
