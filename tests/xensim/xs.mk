# SPDX-License-Identifier: GPL-2.0-or-later
# The simulated xenstored (xs_server.c, xs_tree.c): a xenstore server on a
# Unix socket for Debian's real libxenstore and xenstore-* tools, linked
# into the simulator (sim.mk) and built as tests/xensim/xenstored-sim for
# manual use. Included by the top-level Makefile; objects come from its
# $(OBJ)/%.o rule ($(CC) $(CPPFLAGS) $(DEP_CFLAGS) $(CFLAGS)).

XS_SIM_DIR := tests/xensim
# Linked into the hypervisor simulator as well.
XS_SIM_SRCS := $(XS_SIM_DIR)/xs_server.c $(XS_SIM_DIR)/xs_tree.c
XS_SIM_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(XS_SIM_SRCS))
XS_SIM_BINS := $(XS_SIM_DIR)/xenstored-sim $(XS_SIM_DIR)/test_xs_client

# xen/io/xs_wire.h comes from libxen-dev, in /usr/include.
$(XS_SIM_DIR)/xenstored-sim: $(OBJ)/$(XS_SIM_DIR)/xenstored_sim_main.o \
			     $(XS_SIM_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

# The test client also links the server, to check its in-process API.
$(XS_SIM_DIR)/test_xs_client: $(OBJ)/$(XS_SIM_DIR)/test_xs_client.o \
			      $(XS_SIM_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs xenstore) -lpthread

XENSIM_TESTS += $(XS_SIM_DIR)/test_xs_server.sh
CHECK_DEPS += $(XS_SIM_BINS)

.PHONY: check-xs-server clean-xs-server
check-xs-server: $(XS_SIM_BINS)
	@tests/run-tests $(XS_SIM_DIR)/test_xs_server.sh

clean: clean-xs-server
clean-xs-server:
	rm -f $(XS_SIM_BINS)
