# SPDX-License-Identifier: GPL-2.0-or-later
# xensim: the stand-in Xen libraries (build/xensim/lib, real sonames and
# symbol versions), the simulator archive build/xensim/libsim.a (sim_*.c,
# plus the xenstore server's $(XS_SIM_SRCS) from xs.mk when present) and
# the simulator's own tests. Included by the top-level Makefile.

XENSIM_DIR := tests/xensim
XENSIM_OUT := $(BUILD)/xensim
XENSIM_LIBDIR := $(XENSIM_OUT)/lib
XENSIM_ABS_LIBDIR := $(abspath $(XENSIM_LIBDIR))
XENSIM_LIB := $(XENSIM_OUT)/libsim.a

# The stand-ins are loaded into processes that may not use the sanitizer
# runtime (e.g. Debian's xenstore-* tools load our libxentoolcore through
# libxenstore), so they are built without SANITIZER_CFLAGS.
XENSIM_PIC_CFLAGS := -std=gnu11 $(WARNINGS) $(WERROR_CFLAGS) $(CFLAGS_USER) -fPIC -MMD -MP

$(XENSIM_OUT)/pic/%.o: $(XENSIM_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(XEN_CFLAGS) $(XENSIM_PIC_CFLAGS) -c -o $@ $<

# lib<name>.so.1 from stub objects; $(1) name, $(2) objects, $(3) extra libs
define xensim_stub_lib
$(XENSIM_LIBDIR)/lib$(1).so.1: $(2) $(XENSIM_DIR)/lib$(1).map $(3)
	@mkdir -p $$(dir $$@)
	$$(CC) -shared -o $$@ -Wl,-soname,lib$(1).so.1 \
		-Wl,--version-script=$(XENSIM_DIR)/lib$(1).map -Wl,-z,defs \
		-Wl,-rpath,'$$$$ORIGIN' $(2) $(3) -lpthread
endef

XENSIM_PIC_COMMON := $(XENSIM_OUT)/pic/stub_common.o
XENSIM_TOOLCORE := $(XENSIM_LIBDIR)/libxentoolcore.so.1
$(eval $(call xensim_stub_lib,xentoolcore,$(XENSIM_OUT)/pic/stub_toolcore.o,))
XENSIM_PIC = $(XENSIM_OUT)/pic/stub_$(1).o $(XENSIM_PIC_COMMON)
$(eval $(call xensim_stub_lib,xendevicemodel,$(call XENSIM_PIC,devicemodel),$(XENSIM_TOOLCORE)))
$(eval $(call xensim_stub_lib,xenforeignmemory,$(call XENSIM_PIC,foreignmemory),$(XENSIM_TOOLCORE)))
$(eval $(call xensim_stub_lib,xenevtchn,$(call XENSIM_PIC,evtchn),$(XENSIM_TOOLCORE)))
$(eval $(call xensim_stub_lib,xengnttab,$(call XENSIM_PIC,gnttab),))

XENSIM_STUB_LIBS := $(addprefix $(XENSIM_LIBDIR)/,libxendevicemodel.so.1 \
	libxenforeignmemory.so.1 libxenevtchn.so.1 libxengnttab.so.1 libxentoolcore.so.1)

# libsim.a. The xenstore server's sources come from xs.mk, which is read
# after this file: secondary expansion picks up $(XS_SIM_SRCS) late.
XENSIM_SIM_SRCS := $(sort $(wildcard $(XENSIM_DIR)/sim_*.c))
XENSIM_SIM_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(XENSIM_SIM_SRCS))
XENSIM_XS_OBJS = $(patsubst %.c,$(OBJ)/%.o,$(XS_SIM_SRCS))

$(OBJ)/$(XENSIM_DIR)/sim_daemon.o: CPPFLAGS += -DXENSIM_LIBDIR='"$(XENSIM_ABS_LIBDIR)"'

.SECONDEXPANSION:
# sim_xs.o calls the xenstore server only when it is linked in.
$(OBJ)/$(XENSIM_DIR)/sim_xs.o: $(XENSIM_DIR)/sim_xs.c $$(XS_SIM_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEP_CFLAGS) -DXENSIM_HAVE_XS=$(if $(XS_SIM_SRCS),1,0) $(CFLAGS) -c -o $@ $<

$(XENSIM_LIB): $(XENSIM_SIM_OBJS) $$(XENSIM_XS_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# Test programs linked against libsim.a and the stand-ins (found at run
# time through RUNPATH, before the system's Xen libraries).
XENSIM_TEST_LIBS := $(XENSIM_LIB) $(filter-out %/libxentoolcore.so.1,$(XENSIM_STUB_LIBS)) \
	-Wl,-rpath,$(XENSIM_ABS_LIBDIR) -lpthread

$(OBJ)/$(XENSIM_DIR)/t_sim_smoke.o: CPPFLAGS += -DXENSIM_DAEMON='"$(abspath $(DAEMON))"'
$(XENSIM_OUT)/tests/t_sim_smoke: $(OBJ)/$(XENSIM_DIR)/t_sim_smoke.o $(OBJ)/tests/unit/check.o \
		$(XENSIM_LIB) $(XENSIM_STUB_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(XENSIM_TEST_LIBS)

.PHONY: xensim
xensim: $(XENSIM_STUB_LIBS) $(XENSIM_LIB) $(XENSIM_OUT)/tests/t_sim_smoke

CHECK_DEPS += $(XENSIM_STUB_LIBS) $(XENSIM_LIB) $(XENSIM_OUT)/tests/t_sim_smoke
XENSIM_TESTS += $(XENSIM_DIR)/test_symbol_versions.sh $(XENSIM_OUT)/tests/t_sim_smoke

-include $(wildcard $(XENSIM_OUT)/pic/*.d)
