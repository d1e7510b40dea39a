# SPDX-License-Identifier: GPL-2.0-or-later
# The attack suite (issue 6, SECURITY.md): t_attack_*.c, one hostile guest
# action per test, each against one service-mode daemon that also serves a
# good disk of the same guest and a good disk of another guest
# (attack_env.c). Plays libxl with Debian's real libxenstore, like
# service.mk; needs libsim.a and the stand-ins from sim.mk.

ATK_DIR := tests/xensim
ATK_BIN := $(BUILD)/tests/xensim
ATK_SRCS := $(ATK_DIR)/attack_env.c $(ATK_DIR)/guest_mmio.c $(ATK_DIR)/guest_vq.c \
	$(ATK_DIR)/guest_blk.c $(ATK_DIR)/guest_work.c tests/unit/check.c
ATK_TESTS := t_attack_ring t_attack_indirect t_attack_req t_attack_queue t_attack_regs \
	t_attack_ioreq

$(OBJ)/$(ATK_DIR)/attack_env.o: CPPFLAGS += -DXVB_DAEMON_PATH='"$(abspath $(DAEMON))"'

define atk_prog_rule
$(ATK_BIN)/$(1): $(OBJ)/$(ATK_DIR)/$(1).o $(patsubst %.c,$(OBJ)/%.o,$(ATK_SRCS)) \
		$(BUILD)/xensim/libsim.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(shell $$(PKG_CONFIG) --libs xenstore) -lpthread
endef
$(foreach t,$(ATK_TESTS),$(eval $(call atk_prog_rule,$(t))))

XENSIM_TESTS += $(addprefix $(ATK_BIN)/,$(ATK_TESTS))
CHECK_DEPS += $(addprefix $(ATK_BIN)/,$(ATK_TESTS))
