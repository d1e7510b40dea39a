/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Command-line grammar: good lines, defaults, and every rejected value. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/cli.h"
#include "check.h"

#define MAX_ARGS 200

static struct cli_options opts;
static char msg[512];

/* Parse a NULL-terminated list of arguments (after the program name). */
static int parse(const char *first, ...)
{
	static char *argv[MAX_ARGS + 2];
	va_list ap;
	int argc = 0;

	argv[argc++] = (char *)"xen-virtio-blkd";
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		if (argc == MAX_ARGS)
			abort();
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;
	return cli_parse(argc, argv, &opts, msg, sizeof(msg));
}

static int parse_argv(int argc, char **argv)
{
	return cli_parse(argc, argv, &opts, msg, sizeof(msg));
}

/* A one-disk line with the given disk spec. */
static int parse_disk(const char *spec)
{
	return parse("--domid", "5", "--disk", spec, NULL);
}

#define CHECK_MSG(s)                                                              \
	do {                                                                      \
		if (!strstr(msg, (s)))                                            \
			check_fail(__FILE__, __LINE__, "message '%s' lacks '%s'", \
				   msg, (s));                                     \
	} while (0)

#define CHECK_REJECTS(call, s)              \
	do {                                \
		CHECK_EQ((call), -EINVAL);  \
		CHECK_MSG(s);               \
		CHECK_EQ(opts.n_disks, 0);  \
	} while (0)

TEST(full_line_parses)
{
	CHECK_EQ(parse("--domid", "7", "-F", "-v", "--verbose",
		       "--disk",
		       "path=/var/img/a.img,base=0x2000000,irq=33,ro,serial=SN-1,vdev=root,"
		       "version=1,cache=direct",
		       "--disk", "path=/dev/vg/b,base=0x2000200,irq=34", NULL),
		 0);
	CHECK_EQ(opts.action, CLI_RUN);
	CHECK_EQ(opts.domid, 7);
	CHECK_EQ(opts.verbose, 2);
	CHECK(opts.foreground);
	CHECK_EQ(opts.n_disks, 2);
	CHECK(strcmp(opts.disks[0].path, "/var/img/a.img") == 0);
	CHECK_EQ_U64(opts.disks[0].base, 0x2000000);
	CHECK_EQ(opts.disks[0].irq, 33);
	CHECK(opts.disks[0].read_only);
	CHECK(strcmp(opts.disks[0].serial, "SN-1") == 0);
	CHECK(strcmp(opts.disks[0].vdev, "root") == 0);
	CHECK_EQ(opts.disks[0].mmio_version, 1);
	CHECK_EQ(opts.disks[0].cache, DISK_CACHE_DIRECT);
	CHECK(strcmp(opts.disks[1].path, "/dev/vg/b") == 0);
	CHECK_EQ_U64(opts.disks[1].base, 0x2000200);
	CHECK_EQ(opts.disks[1].irq, 34);
	cli_free(&opts);
	CHECK_EQ(opts.n_disks, 0);
}

TEST(defaults)
{
	CHECK_EQ(parse("--domid", "5", "--disk", "path=a,base=0x2000000,irq=33", "--disk",
		       "path=b,base=0x2000200,irq=34", NULL),
		 0);
	CHECK(!opts.foreground);
	CHECK_EQ(opts.verbose, 0);
	CHECK(strcmp(opts.disks[0].vdev, "xvda") == 0);
	CHECK(strcmp(opts.disks[1].vdev, "xvdb") == 0);
	CHECK_EQ(opts.disks[0].mmio_version, 2);
	CHECK_EQ(opts.disks[0].cache, DISK_CACHE_WRITEBACK);
	CHECK(!opts.disks[0].read_only);
	CHECK_EQ(opts.disks[0].serial[0], '\0');
	cli_free(&opts);
}

TEST(hex_and_decimal_numbers)
{
	CHECK_EQ(parse("--domid", "0x10", "--disk", "path=a,base=33554432,irq=0x21", NULL), 0);
	CHECK_EQ(opts.domid, 16);
	CHECK_EQ_U64(opts.disks[0].base, 0x2000000);
	CHECK_EQ(opts.disks[0].irq, 33);
	cli_free(&opts);
	CHECK_EQ(parse("--domid=32751", "--disk=path=a,base=0X2000000,irq=5", NULL), 0);
	CHECK_EQ(opts.domid, 32751);
	CHECK_EQ(opts.disks[0].irq, 5);
	cli_free(&opts);
}

TEST(non_numeric_rejected)
{
	CHECK_REJECTS(parse("--domid", "abc", "--disk", "path=a,base=0x2000000,irq=33", NULL),
		      "--domid abc: not a number");
	CHECK_REJECTS(parse_disk("path=a,base=0xzz,irq=33"), "base=0xzz: not a number");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=-1"), "irq=-1: not a number");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq= 33"), "irq= 33: not a number");
}

TEST(trailing_garbage_rejected)
{
	CHECK_REJECTS(parse("--domid", "5x", "--disk", "path=a,base=0x2000000,irq=33", NULL),
		      "--domid 5x: not a number");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33k"), "irq=33k: not a number");
	CHECK_REJECTS(parse_disk("path=a,base=0x,irq=33"), "base=0x: not a number");
}

TEST(octal_looking_rejected)
{
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=033"), "irq=033: not a number");
}

TEST(overflow_rejected)
{
	CHECK_REJECTS(parse("--domid", "99999999999999999999", "--disk",
			    "path=a,base=0x2000000,irq=33", NULL),
		      "99999999999999999999: out of range");
	CHECK_REJECTS(parse_disk("path=a,base=0x10000000000000000,irq=33"),
		      "base=0x10000000000000000: out of range");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=4294967329"),
		      "irq=4294967329: neither");
}

TEST(base_zero_rejected)
{
	CHECK_REJECTS(parse_disk("path=a,base=0,irq=33"), "base=0: must not be 0");
}

TEST(base_misaligned_rejected)
{
	CHECK_REJECTS(parse_disk("path=a,base=0x2000100,irq=33"),
		      "--disk base=0x2000100: not aligned to 0x200");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000001,irq=33"), "0x2000001");
}

TEST(base_window_past_address_space_rejected)
{
	CHECK_REJECTS(parse_disk("path=a,base=0xfffffffffffffe00,irq=33"),
		      "base=0xfffffffffffffe00: window ends past");
	CHECK_EQ(parse_disk("path=a,base=0xfffffffffffffc00,irq=33"), 0);
	cli_free(&opts);
}

TEST(irq_ranges)
{
	static const char *const good[] = { "0", "15", "32", "33", "1019" };

	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=20"), "irq=20: neither");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=16"), "irq=16");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=31"), "irq=31");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=1020"), "irq=1020");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char spec[64];

		snprintf(spec, sizeof(spec), "path=a,base=0x2000000,irq=%s", good[i]);
		CHECK_EQ(parse_disk(spec), 0);
		CHECK_EQ(opts.disks[0].irq, strtoul(good[i], NULL, 10));
		cli_free(&opts);
	}
}

TEST(domid_range)
{
	CHECK_REJECTS(parse("--domid", "0", "--disk", "path=a,base=0x2000000,irq=33", NULL),
		      "--domid 0: dom0 cannot be served");
	CHECK_REJECTS(parse("--domid", "0x7FF0", "--disk", "path=a,base=0x2000000,irq=33", NULL),
		      "--domid 0x7FF0: out of range");
	CHECK_REJECTS(parse("--domid", "65536", "--disk", "path=a,base=0x2000000,irq=33", NULL),
		      "--domid 65536: out of range");
	CHECK_EQ(parse("--domid", "0x7FEF", "--disk", "path=a,base=0x2000000,irq=33", NULL), 0);
	CHECK_EQ(opts.domid, 0x7FEF);
	cli_free(&opts);
}

TEST(domid_twice_rejected)
{
	CHECK_REJECTS(parse("--domid", "5", "--domid", "6", "--disk",
			    "path=a,base=0x2000000,irq=33", NULL),
		      "--domid 6: given twice");
}

TEST(serial_length)
{
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,serial=123456789012345678901"),
		      "serial=123456789012345678901: longer than 20 bytes");
	CHECK_EQ(parse_disk("path=a,base=0x2000000,irq=33,serial=12345678901234567890"), 0);
	CHECK(strcmp(opts.disks[0].serial, "12345678901234567890") == 0);
	cli_free(&opts);
}

TEST(unknown_key_rejected)
{
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,colour=blue"),
		      "--disk colour=blue: unknown key 'colour'");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,rw"), "unknown key 'rw'");
}

TEST(duplicate_key_rejected)
{
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,irq=34"),
		      "--disk irq=34: irq given twice");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,ro,ro"), "ro given twice");
}

TEST(bad_item_forms_rejected)
{
	CHECK_REJECTS(parse_disk("path=a,,base=0x2000000,irq=33"), "empty item");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,"), "empty item");
	CHECK_REJECTS(parse_disk("=a,base=0x2000000,irq=33"), "empty item");
	CHECK_REJECTS(parse_disk("path=,base=0x2000000,irq=33"), "path=: empty value");
	CHECK_REJECTS(parse_disk("path,base=0x2000000,irq=33"), "path: needs a value");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,ro=1"), "ro=1: ro takes no value");
}

TEST(version_and_cache_values)
{
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,version=3"),
		      "version=3: must be 1 or 2");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,cache=none"),
		      "cache=none: must be writeback or direct");
	CHECK_EQ(parse_disk("path=a,base=0x2000000,irq=33,version=2,cache=writeback"), 0);
	CHECK_EQ(opts.disks[0].mmio_version, 2);
	CHECK_EQ(opts.disks[0].cache, DISK_CACHE_WRITEBACK);
	cli_free(&opts);
}

TEST(queues_and_threads)
{
	CHECK_EQ(parse_disk("path=a,base=0x2000000,irq=33"), 0);
	CHECK_EQ(opts.disks[0].queues, 0); /* default: one queue, on the main loop */
	CHECK_EQ(opts.disks[0].threads, 0);
	cli_free(&opts);
	CHECK_EQ(parse_disk("path=a,base=0x2000000,irq=33,queues=4,threads=2"), 0);
	CHECK_EQ(opts.disks[0].queues, 4);
	CHECK_EQ(opts.disks[0].threads, 2);
	cli_free(&opts);
	CHECK_EQ(parse_disk("path=a,base=0x2000000,irq=33,threads=1"), 0);
	CHECK_EQ(opts.disks[0].threads, 1);
	cli_free(&opts);
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,queues=0"), "queues=0: must be 1-8");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,queues=9"), "queues=9: must be 1-8");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,queues=x"),
		      "queues=x: not a number");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,threads=0"), "threads=0: must be");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,queues=2,threads=3"),
		      "threads=3 is more than queues=2");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,threads=2"),
		      "threads=2 is more than queues=1");
}

TEST(vdev_names)
{
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,vdev=a/b"), "vdev=a/b");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000,irq=33,vdev=abcdefghijklmnop"),
		      "vdev=abcdefghijklmnop");
	/* A named disk may not take the default name of another. */
	CHECK_REJECTS(parse("--domid", "5", "--disk", "path=a,base=0x2000000,irq=33,vdev=xvdb",
			    "--disk", "path=b,base=0x2000200,irq=34", NULL),
		      "vdev=xvdb: two disks");
}

TEST(overlapping_windows_rejected)
{
	CHECK_REJECTS(parse("--domid", "5", "--disk", "path=a,base=0x2000000,irq=33", "--disk",
			    "path=b,base=33554432,irq=34", NULL),
		      "base=0x2000000 (xvdb): window overlaps xvda's [0x2000000, 0x2000200)");
	/* Adjacent windows are fine. */
	CHECK_EQ(parse("--domid", "5", "--disk", "path=a,base=0x2000200,irq=33", "--disk",
		       "path=b,base=0x2000000,irq=34", "--disk", "path=c,base=0x2000400,irq=35",
		       NULL),
		 0);
	CHECK_EQ(opts.n_disks, 3);
	cli_free(&opts);
}

TEST(duplicate_irq_rejected)
{
	CHECK_REJECTS(parse("--domid", "5", "--disk", "path=a,base=0x2000000,irq=33", "--disk",
			    "path=b,base=0x2000200,irq=0x21", NULL),
		      "irq=33 (xvdb): already used by xvda");
}

/* n disks with distinct windows and IRQs; returns cli_parse's result. */
static int parse_n_disks(unsigned n)
{
	static char specs[DISKS_PER_GUEST_MAX + 1][80];
	static char *argv[MAX_ARGS];
	int argc = 0;

	argv[argc++] = (char *)"xen-virtio-blkd";
	argv[argc++] = (char *)"--domid";
	argv[argc++] = (char *)"3";
	for (unsigned i = 0; i < n; i++) {
		snprintf(specs[i], sizeof(specs[i]), "path=d%u,base=0x%x,irq=%u", i,
			 0x2000000 + i * 0x200, 40 + i);
		argv[argc++] = (char *)"--disk";
		argv[argc++] = specs[i];
	}
	argv[argc] = NULL;
	return parse_argv(argc, argv);
}

TEST(disk_count_limit)
{
	CHECK_EQ(parse_n_disks(DISKS_PER_GUEST_MAX), 0);
	CHECK_EQ(opts.n_disks, DISKS_PER_GUEST_MAX);
	/* Default names continue past xvdz as Linux does. */
	CHECK(strcmp(opts.disks[25].vdev, "xvdz") == 0);
	CHECK(strcmp(opts.disks[26].vdev, "xvdaa") == 0);
	CHECK(strcmp(opts.disks[63].vdev, "xvdbl") == 0);
	cli_free(&opts);
	CHECK_REJECTS(parse_n_disks(DISKS_PER_GUEST_MAX + 1), "more than 64 disks");
}

TEST(missing_required_keys)
{
	CHECK_REJECTS(parse_disk("base=0x2000000,irq=33"),
		      "base=0x2000000,irq=33: path= is required");
	CHECK_REJECTS(parse_disk("path=a,irq=33"), "base= is required");
	CHECK_REJECTS(parse_disk("path=a,base=0x2000000"), "irq= is required");
}

TEST(missing_domid_or_disk)
{
	CHECK_REJECTS(parse("--disk", "path=a,base=0x2000000,irq=33", NULL), "--domid is required");
	CHECK_REJECTS(parse("--domid", "5", NULL), "--disk is required");
	/* Neither: service mode (issue 5). */
	CHECK_EQ(parse(NULL), 0);
	CHECK(!opts.have_domid);
	CHECK_EQ(opts.n_disks, 0);
}

TEST(bad_options_rejected)
{
	CHECK_REJECTS(parse("--domid", "5", "--frobnicate", NULL), "unknown option '--frobnicate'");
	CHECK_REJECTS(parse("--domid", "5", "-x", NULL), "unknown option '-x'");
	CHECK_REJECTS(parse("--domid", NULL), "option '--domid' needs a value");
	CHECK_REJECTS(parse("--domid", "5", "--disk", "path=a,base=0x2000000,irq=33", "extra",
			    NULL),
		      "unexpected argument 'extra'");
}

TEST(help_and_version)
{
	CHECK_EQ(parse("--help", NULL), 0);
	CHECK_EQ(opts.action, CLI_HELP);
	/* --help wins over errors later on the line, and leaks nothing. */
	CHECK_EQ(parse("--disk", "path=a,base=0x2000000,irq=33", "-h", "--domid", "0", NULL), 0);
	CHECK_EQ(opts.action, CLI_HELP);
	CHECK_EQ(opts.n_disks, 0);
	CHECK_EQ(parse("-V", NULL), 0);
	CHECK_EQ(opts.action, CLI_VERSION);
}

TEST(help_text_lists_every_option)
{
	static const char *const words[] = { "--domid", "--disk", "path=", "base=", "irq=",
					     "ro", "serial=", "vdev=", "version=1|2", "cache=",
					     "queues=", "threads=",
					     "--foreground", "-F", "--verbose", "-v", "--help",
					     "-h", "--version", "-V" };
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	CHECK(f != NULL);
	cli_print_help(f);
	fclose(f);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strstr(buf, words[i]))
			check_fail(__FILE__, __LINE__, "help lacks '%s'", words[i]);
}

TEST(poll_us)
{
	CHECK_EQ(parse("--domid", "5", "--disk", "path=a,base=0x2000000,irq=33", NULL), 0);
	CHECK(!opts.has_poll_us);
	cli_free(&opts);
	CHECK_EQ(parse("--poll-us", "50", "--domid", "5", "--disk", "path=a,base=0x2000000,irq=33",
		       NULL),
		 0);
	CHECK(opts.has_poll_us);
	CHECK_EQ(opts.poll_us, 50);
	cli_free(&opts);
	CHECK_EQ(parse("--poll-us", "0", NULL), 0); /* service mode, never polls */
	CHECK(opts.has_poll_us);
	CHECK_EQ(opts.poll_us, 0);
	cli_free(&opts);
	CHECK_EQ(parse("--poll-us", "1000", NULL), 0);
	cli_free(&opts);
	CHECK_REJECTS(parse("--poll-us", "1001", NULL), "--poll-us 1001: out of range (0-1000)");
	CHECK_REJECTS(parse("--poll-us", "fast", NULL), "--poll-us fast");
	CHECK_REJECTS(parse("--poll-us", "5", "--poll-us", "6", NULL), "--poll-us 6: given twice");
	CHECK_REJECTS(parse("--poll-us", NULL), "needs a value");
}
