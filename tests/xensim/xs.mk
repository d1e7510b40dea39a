# SPDX-License-Identifier: GPL-2.0-or-later
# The simulated xenstored (xs_server.c, xs_tree.c): a xenstore server on a
# Unix socket for Debian's real libxenstore and xenstore-* tools. Included
# by the top-level Makefile, which provides CC and CFLAGS and runs
# $(XENSIM_TESTS) after building $(XS_SIM_BINS).

XS_SIM_DIR := tests/xensim
# Linked into the hypervisor simulator as well.
XS_SIM_SRCS := $(XS_SIM_DIR)/xs_server.c $(XS_SIM_DIR)/xs_tree.c
XS_SIM_HDRS := $(XS_SIM_DIR)/xs_server.h $(XS_SIM_DIR)/xs_tree.h
XS_SIM_BINS := $(XS_SIM_DIR)/xenstored-sim $(XS_SIM_DIR)/test_xs_client
# xen/io/xs_wire.h, from libxen-dev.
XS_SIM_CPPFLAGS := -I/usr/include
XS_CLIENT_CFLAGS := $(shell pkg-config --cflags xenstore)
XS_CLIENT_LIBS := $(shell pkg-config --libs xenstore)

$(XS_SIM_DIR)/xenstored-sim: $(XS_SIM_DIR)/xenstored_sim_main.c \
			     $(XS_SIM_SRCS) $(XS_SIM_HDRS)
	$(CC) $(CFLAGS) $(XS_SIM_CPPFLAGS) -pthread -o $@ \
		$(XS_SIM_DIR)/xenstored_sim_main.c $(XS_SIM_SRCS) $(LDFLAGS)

# Links the server too, to check the in-process API.
$(XS_SIM_DIR)/test_xs_client: $(XS_SIM_DIR)/test_xs_client.c $(XS_SIM_SRCS) \
			      $(XS_SIM_HDRS)
	$(CC) $(CFLAGS) $(XS_SIM_CPPFLAGS) $(XS_CLIENT_CFLAGS) -pthread -o $@ \
		$< $(XS_SIM_SRCS) $(LDFLAGS) $(XS_CLIENT_LIBS)

XENSIM_TESTS += $(XS_SIM_DIR)/test_xs_server.sh
XENSIM_CLEAN += $(XS_SIM_BINS)

.PHONY: check-xs-server
check-xs-server: $(XS_SIM_BINS)
	$(XS_SIM_DIR)/test_xs_server.sh
