# SPDX-License-Identifier: GPL-2.0-or-later
# libFuzzer targets for the guest interfaces (tests/fuzz/fuzz_*.c), built
# with clang and ASan + UBSan whatever CC and ./configure say, so that
# `make fuzz-smoke` works in any configured tree; only a missing clang
# skips them (with a message). --enable-fuzzing adds them to `all`.
#
#   make fuzz                  build build/fuzz/fuzz_*
#   make fuzz-smoke            each target FUZZ_SECONDS (20) seconds from the seed corpus
#   make fuzz-run FUZZ_RUNS=N  each target N executions (the long local run)
#   make fuzz-corpus           regenerate tests/fuzz/corpus/ (tests/fuzz/gen_corpus.py)
# New inputs go to build/fuzz/work/<target>, crashes to build/fuzz/artifacts/.

FUZZ_DIR := tests/fuzz
FUZZ_OUT := $(BUILD)/fuzz
FUZZ_CC := clang
FUZZ_SECONDS ?= 20
FUZZ_RUNS ?= 10000000
FUZZ_TARGETS := fuzz_ioreq fuzz_mmio fuzz_ring fuzz_blk
FUZZ_BINS := $(addprefix $(FUZZ_OUT)/,$(FUZZ_TARGETS))
FUZZ_HAVE_CC := $(shell command -v $(FUZZ_CC) 2>/dev/null)

FUZZ_FLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	-fsanitize-coverage-ignorelist=$(FUZZ_DIR)/coverage-ignore.txt $(WARNINGS) $(WERROR_CFLAGS) \
	-D_GNU_SOURCE -D__XEN_TOOLS__ -Iinclude $(XEN_CFLAGS)
# One compile-and-link per target: any header of the code under test rebuilds them all.
FUZZ_HEADERS := $(wildcard include/*.h src/virtio/*.h src/disk/disk.h src/xen/ioreq_decode.h \
	tests/unit/fake_host.h tests/unit/fake_disk.h $(FUZZ_DIR)/*.h $(FUZZ_DIR)/coverage-ignore.txt)

FUZZ_VIRTIO_CORE := src/virtio/virtio_dev.c src/virtio/ring.c src/log.c tests/unit/fake_host.c
fuzz_ioreq_SRCS := $(FUZZ_DIR)/fuzz_ioreq.c src/xen/ioreq_decode.c
fuzz_mmio_SRCS := $(FUZZ_DIR)/fuzz_mmio.c src/virtio/mmio.c $(FUZZ_VIRTIO_CORE)
fuzz_ring_SRCS := $(FUZZ_DIR)/fuzz_ring.c src/virtio/ring.c src/log.c tests/unit/fake_host.c
fuzz_blk_SRCS := $(FUZZ_DIR)/fuzz_blk.c src/virtio/blk.c src/virtio/blk_config.c \
	$(FUZZ_VIRTIO_CORE) tests/unit/fake_disk.c

# clang without its runtime libraries (libclang-rt-14-dev is only a Recommends
# of clang on Debian 12) cannot link a fuzzer: say so instead of a linker error.
$(FUZZ_OUT)/.cc-ok: config.mk
	@mkdir -p $(dir $@)
	@printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }\n' | \
		$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -x c - -o $(FUZZ_OUT)/cc-probe 2>/dev/null || \
		{ echo "fuzz: $(FUZZ_CC) cannot link -fsanitize=fuzzer,address,undefined:" \
			"install libclang-rt-14-dev" >&2; exit 1; }
	@rm -f $(FUZZ_OUT)/cc-probe
	@touch $@

define fuzz_rule
$(FUZZ_OUT)/$(1): $$($(1)_SRCS) $$(FUZZ_HEADERS) config.mk | $(FUZZ_OUT)/.cc-ok
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_FLAGS) -o $$@ $$($(1)_SRCS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

.PHONY: fuzz fuzz-smoke fuzz-run fuzz-corpus
ifeq ($(FUZZ_HAVE_CC),)
fuzz fuzz-smoke fuzz-run:
	@echo "fuzz: $(FUZZ_CC) not found: fuzz targets skipped (scripts/install-deps installs it)"
else
fuzz: $(FUZZ_BINS)

fuzz-smoke: $(FUZZ_BINS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) $(FUZZ_DIR)/run-fuzz $(FUZZ_BINS)

fuzz-run: $(FUZZ_BINS)
	@FUZZ_RUNS=$(FUZZ_RUNS) $(FUZZ_DIR)/run-fuzz $(FUZZ_BINS)
endif

fuzz-corpus:
	python3 $(FUZZ_DIR)/gen_corpus.py $(FUZZ_DIR)/corpus

ifeq ($(ENABLE_FUZZING),yes)
all: fuzz
endif

clean: clean-fuzz
.PHONY: clean-fuzz
clean-fuzz:
	rm -rf $(FUZZ_OUT)
