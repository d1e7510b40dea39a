# SPDX-License-Identifier: GPL-2.0-or-later
# xen-virtio-blkd. Run ./configure (or scripts/bootstrap) first.

-include config.mk

ifneq ($(CONFIGURED),yes)
ifeq ($(filter clean distclean deps help,$(MAKECMDGOALS)),)
$(error not configured: run scripts/bootstrap, or autoreconf -fi && ./configure)
endif
endif

BUILD := build
OBJ := $(BUILD)/obj
DAEMON := src/xen-virtio-blkd

WARNINGS := -Wall -Wextra -Wformat=2 -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wtype-limits -Wundef -Wpointer-arith -Wvla -Wno-missing-field-initializers
CPPFLAGS := -D_GNU_SOURCE -D__XEN_TOOLS__ -DPACKAGE_VERSION='"$(PACKAGE_VERSION)"' \
	-DSYSCONFDIR='"$(sysconfdir)"' -Iinclude $(CPPFLAGS_USER)
CFLAGS := -std=gnu11 $(WARNINGS) $(WERROR_CFLAGS) $(SANITIZER_CFLAGS) $(CFLAGS_USER) -MMD -MP
LDFLAGS := $(SANITIZER_CFLAGS) $(LDFLAGS_USER) -Wl,--as-needed
DEP_CFLAGS := $(XEN_CFLAGS) $(URING_CFLAGS) $(INIPARSER_CFLAGS)
DAEMON_LIBS := $(XEN_LIBS) $(URING_LIBS) $(INIPARSER_LIBS)

DAEMON_SRCS := $(sort $(wildcard src/*.c src/xen/*.c src/virtio/*.c src/disk/*.c))
DAEMON_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(DAEMON_SRCS))

# Test fragments add to these.
UNIT_TESTS :=
INTEGRATION_TESTS :=
XENSIM_TESTS :=
CHECK_DEPS :=

.PHONY: all check check-unit check-xen demo demo-sim bench install uninstall clean distclean deps help
all: $(DAEMON)

$(DAEMON): $(DAEMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

$(OBJ)/%.o: %.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEP_CFLAGS) $(CFLAGS) -c -o $@ $<

# Unit tests: each fragment lists test_NAME in UNIT_TESTS and test_NAME_SRCS
# (the real sources under test, fakes, and tests/unit/check.c).
-include tests/unit/*.mk
-include tests/xensim/*.mk
-include tests/xen-arm64/*.mk
-include tests/faults/*.mk
-include tests/fuzz/*.mk
-include bench/*.mk

define unit_test_rule
$(BUILD)/tests/$(1): $$(patsubst %.c,$$(OBJ)/%.o,$$($(1)_SRCS))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$($(1)_LIBS) -lpthread
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_test_rule,$(t))))
UNIT_BINS := $(addprefix $(BUILD)/tests/,$(UNIT_TESTS))

check: $(DAEMON) $(UNIT_BINS) $(CHECK_DEPS)
	@tests/run-tests $(UNIT_BINS) $(INTEGRATION_TESTS) $(XENSIM_TESTS)

check-unit: $(UNIT_BINS)
	@tests/run-tests $(UNIT_BINS)

install: $(DAEMON)
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(mandir)/man5 \
		$(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)$(sysconfdir)/xen
	install -m 0755 $(DAEMON) $(DESTDIR)$(sbindir)/xen-virtio-blkd
	for m in man/*.8; do [ -e "$$m" ] && install -m 0644 "$$m" $(DESTDIR)$(mandir)/man8/ || true; done
	for m in man/*.5; do [ -e "$$m" ] && install -m 0644 "$$m" $(DESTDIR)$(mandir)/man5/ || true; done
	for u in systemd/*.service; do [ -e "$$u" ] && sed -e 's|@SBINDIR@|$(sbindir)|g' -e 's|@SYSCONFDIR@|$(sysconfdir)|g' "$$u" > $(DESTDIR)$(SYSTEMD_UNITDIR)/$$(basename "$$u") || true; done
	install -m 0644 etc/xen-virtio-blkd.conf.example $(DESTDIR)$(sysconfdir)/xen/xen-virtio-blkd.conf.example

uninstall:
	rm -f $(DESTDIR)$(sbindir)/xen-virtio-blkd $(DESTDIR)$(mandir)/man8/xen-virtio-blkd.8 \
		$(DESTDIR)$(mandir)/man5/xen-virtio-blkd.conf.5 \
		$(DESTDIR)$(SYSTEMD_UNITDIR)/xen-virtio-blkd.service $(DESTDIR)$(SYSTEMD_UNITDIR)/xen-virtio-blkd@.service \
		$(DESTDIR)$(sysconfdir)/xen/xen-virtio-blkd.conf.example

deps:
	scripts/install-deps

clean:
	rm -rf $(OBJ) $(BUILD)/tests $(BUILD)/xensim $(DAEMON)

distclean: clean
	rm -rf $(BUILD) config.mk config.log config.status configure aclocal.m4 autom4te.cache build-aux

help:
	@echo "targets: all check check-unit check-xen demo demo-sim bench install uninstall clean distclean deps"

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
