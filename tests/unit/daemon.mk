# SPDX-License-Identifier: GPL-2.0-or-later
# Unit tests for the daemon's own code (command line).
UNIT_TESTS += test_cli
test_cli_SRCS := tests/unit/test_cli.c tests/unit/check.c src/cli.c src/parse_num.c
test_cli_LIBS :=
UNIT_TESTS += test_store_parse
test_store_parse_SRCS := tests/unit/test_store_parse.c tests/unit/check.c src/xen/store_parse.c \
	src/parse_num.c
test_store_parse_LIBS :=
UNIT_TESTS += test_config
test_config_SRCS := tests/unit/test_config.c tests/unit/check.c src/config.c src/log.c src/parse_num.c
test_config_LIBS := $(INIPARSER_LIBS)
