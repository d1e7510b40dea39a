# SPDX-License-Identifier: GPL-2.0-or-later
# O_DIRECT against xensim (issue 7): the simulator refuses O_DIRECT into
# guest RAM as Xen's foreign mappings do, and the daemon's cache=direct
# mode never asks for it (t_direct.c). Uses guest.mk's rule and sources,
# so this file must sort after guest.mk.

$(eval $(call xsg_prog_rule,t_direct,$(XSG_TEST_SRCS)))
XENSIM_TESTS += $(XSG_BIN)/t_direct
CHECK_DEPS += $(XSG_BIN)/t_direct
