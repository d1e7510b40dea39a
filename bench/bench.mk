# SPDX-License-Identifier: GPL-2.0-or-later
# `make bench` and `make bench-callgrind` (see bench/README.md). Included by
# the top-level Makefile after the test fragments (it uses sim.mk's and
# xs.mk's variables). Everything here is built again into build/bench/obj
# with -O2 -g and WITHOUT the sanitizers: the daemon measured is
# build/bench/xen-virtio-blkd, the same sources as src/xen-virtio-blkd;
# the guest and simulator are rebuilt the same way so that an ASan guest
# does not slow down what shares the machine with the daemon.

BENCH_DIR := $(BUILD)/bench
BENCH_OBJ := $(BENCH_DIR)/obj
BENCH_SECS ?= 5
BENCH_CG_REQS ?= 20000
BENCH_CFLAGS := -std=gnu11 $(WARNINGS) $(WERROR_CFLAGS) -O2 -g -MMD -MP
BENCH_DAEMON := $(BENCH_DIR)/xen-virtio-blkd
BENCH_DRIVER := $(BENCH_DIR)/bench_guest

BENCH_DAEMON_OBJS := $(patsubst %.c,$(BENCH_OBJ)/%.o,$(DAEMON_SRCS))
BENCH_DRIVER_SRCS := bench/bench_guest.c bench/bench_fio.c bench/bench_report.c \
	tests/xensim/guest_mmio.c tests/xensim/guest_vq.c tests/xensim/guest_blk.c \
	$(XENSIM_SIM_SRCS) $(XS_SIM_SRCS)
BENCH_DRIVER_OBJS := $(patsubst %.c,$(BENCH_OBJ)/%.o,$(BENCH_DRIVER_SRCS))

$(BENCH_OBJ)/%.o: %.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEP_CFLAGS) $(BENCH_CFLAGS) -c -o $@ $<

$(BENCH_OBJ)/tests/xensim/sim_daemon.o: CPPFLAGS += -DXENSIM_LIBDIR='"$(XENSIM_ABS_LIBDIR)"'
$(BENCH_OBJ)/tests/xensim/sim_xs.o: CPPFLAGS += -DXENSIM_HAVE_XS=$(if $(XS_SIM_SRCS),1,0)

$(BENCH_DAEMON): $(BENCH_DAEMON_OBJS)
	$(CC) $(LDFLAGS_USER) -Wl,--as-needed -o $@ $^ $(DAEMON_LIBS)

# --wrap: the driver times each QUEUE_NOTIFY write the guest makes.
$(BENCH_DRIVER): $(BENCH_DRIVER_OBJS)
	$(CC) $(LDFLAGS_USER) -Wl,--wrap=sim_mmio_write -o $@ $^ -lpthread

.PHONY: bench bench-callgrind
bench: $(BENCH_DAEMON) $(BENCH_DRIVER) $(XENSIM_STUB_LIBS)
	$(BENCH_DRIVER) --secs $(BENCH_SECS) --json bench/results.json --dat $(BENCH_DIR)/iops.dat
	@if command -v gnuplot >/dev/null; then \
		gnuplot -e "datafile='$(BENCH_DIR)/iops.dat'; outfile='docs/bench-iops.png'" \
			bench/plot.gp && echo "bench: wrote docs/bench-iops.png"; \
	else echo "bench: gnuplot not installed (scripts/install-deps): no plot"; fi

bench-callgrind: $(BENCH_DAEMON) $(BENCH_DRIVER) $(XENSIM_STUB_LIBS)
	rm -f $(BENCH_DIR)/callgrind.out
	$(BENCH_DRIVER) --callgrind $(BENCH_CG_REQS) --callgrind-out $(BENCH_DIR)/callgrind.out \
		| tee $(BENCH_DIR)/callgrind.log
	bench/callgrind-per-req $(BENCH_DIR)/callgrind.out $(BENCH_DIR)/callgrind.log

-include $(shell find $(BENCH_OBJ) -name '*.d' 2>/dev/null)
