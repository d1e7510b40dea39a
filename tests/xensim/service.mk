# SPDX-License-Identifier: GPL-2.0-or-later
# Service-mode integration tests (t_service.c): the daemon discovers disks
# in the simulator's xenstore; the test plays libxl with Debian's real
# libxenstore. Needs libsim.a and the stand-ins from sim.mk.

SVC_DIR := tests/xensim
SVC_BIN := $(BUILD)/tests/xensim
SVC_SRCS := $(SVC_DIR)/guest_mmio.c $(SVC_DIR)/guest_vq.c $(SVC_DIR)/guest_blk.c \
	tests/unit/check.c

$(OBJ)/$(SVC_DIR)/t_service.o: CPPFLAGS += -DXVB_DAEMON_PATH='"$(abspath $(DAEMON))"'

$(SVC_BIN)/t_service: $(OBJ)/$(SVC_DIR)/t_service.o $(patsubst %.c,$(OBJ)/%.o,$(SVC_SRCS)) \
		$(BUILD)/xensim/libsim.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs xenstore) -lpthread

XENSIM_TESTS += $(SVC_BIN)/t_service
CHECK_DEPS += $(SVC_BIN)/t_service

# Shipping: the systemd units verify, the man pages lint clean and match --help.
XENSIM_TESTS += $(SVC_DIR)/test_units.sh $(SVC_DIR)/test_man.sh
