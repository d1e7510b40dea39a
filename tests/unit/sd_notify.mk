# SPDX-License-Identifier: GPL-2.0-or-later
# The dependency-free systemd notification (src/sd_notify.c).
UNIT_TESTS += test_sd_notify
test_sd_notify_SRCS := tests/unit/test_sd_notify.c tests/unit/check.c src/sd_notify.c
test_sd_notify_LIBS :=
