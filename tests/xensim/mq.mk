# SPDX-License-Identifier: GPL-2.0-or-later
# Multi-queue integration tests (queues=N, threads=T): t_mq.c, built like
# the other scripted-guest tests of guest.mk.

$(eval $(call xsg_prog_rule,t_mq,$(XSG_TEST_SRCS)))
XENSIM_TESTS += $(XSG_BIN)/t_mq
CHECK_DEPS += $(XSG_BIN)/t_mq
