/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The configuration file: good files, and every error naming file, section and key. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/config.h"
#include "check.h"

static char path[64];
static char msg[512];
static struct config cfg;

static void remove_file(void)
{
	if (path[0])
		unlink(path);
}

/* Write text to the test's file and load it. */
static int load(const char *text)
{
	FILE *f;

	if (!path[0]) {
		int fd;

		snprintf(path, sizeof(path), "/tmp/test_config-XXXXXX");
		fd = mkstemp(path);
		CHECK(fd >= 0);
		close(fd);
		atexit(remove_file);
	}
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
	config_free(&cfg);
	return config_load(path, false, &cfg, msg, sizeof(msg));
}

/* The message starts with "FILE: " and contains s. */
#define CHECK_REJECTS(text, s)                                                              \
	do {                                                                                \
		char want_[300];                                                            \
		CHECK(load(text) < 0);                                                      \
		snprintf(want_, sizeof(want_), "%s: %s", path, (s));                        \
		if (strncmp(msg, want_, strlen(want_)) != 0)                                \
			check_fail(__FILE__, __LINE__, "message '%s' is not '%s...'", msg, want_); \
		CHECK_EQ(cfg.n_disks, 0);                                                   \
	} while (0)

TEST(full_file_parses)
{
	CHECK_EQ(load("[global]\n"
		      "log_level = debug\n"
		      "log_target = syslog\n"
		      "cache = direct\n"
		      "x86_base = 0xfe000000\n"
		      "x86_irq = 5\n"
		      "\n"
		      "[disk:xvda]\n"
		      "domid = 5\n"
		      "path = /srv/a.img\n"
		      "base = 0x2000000\n"
		      "irq = 33\n"
		      "ro = yes\n"
		      "serial = ABC123\n"
		      "version = 1\n"
		      "\n"
		      "[disk:data]\n"
		      "guest = web-1\n"
		      "path = /srv/b.img ; a comment\n"
		      "devid = 1\n"
		      "vdev = xvdb\n"),
		 0);
	CHECK(cfg.has_log_level);
	CHECK_EQ(cfg.log_level, LOG_LVL_DEBUG);
	CHECK_EQ(cfg.log_target, LOG_TO_SYSLOG);
	CHECK_EQ(cfg.cache, DISK_CACHE_DIRECT);
	CHECK(cfg.x86);
	CHECK_EQ_U64(cfg.x86_base, 0xfe000000);
	CHECK_EQ(cfg.x86_irq, 5);
	CHECK_EQ(cfg.n_disks, 2);
	CHECK(cfg.disks[0].has_domid);
	CHECK_EQ(cfg.disks[0].domid, 5);
	CHECK(strcmp(cfg.disks[0].disk.path, "/srv/a.img") == 0);
	CHECK_EQ_U64(cfg.disks[0].disk.base, 0x2000000);
	CHECK_EQ(cfg.disks[0].disk.irq, 33);
	CHECK(cfg.disks[0].disk.read_only);
	CHECK(strcmp(cfg.disks[0].disk.serial, "ABC123") == 0);
	CHECK_EQ(cfg.disks[0].disk.mmio_version, 1);
	CHECK(strcmp(cfg.disks[0].disk.vdev, "xvda") == 0); /* from the section name */
	CHECK_EQ(cfg.disks[0].disk.cache, DISK_CACHE_DIRECT);
	CHECK(!cfg.disks[1].has_domid);
	CHECK(strcmp(cfg.disks[1].guest, "web-1") == 0);
	CHECK(cfg.disks[1].has_devid);
	CHECK_EQ(cfg.disks[1].devid, 1);
	CHECK(strcmp(cfg.disks[1].disk.path, "/srv/b.img") == 0);
	CHECK(strcmp(cfg.disks[1].disk.vdev, "xvdb") == 0);
	config_free(&cfg);
}

TEST(empty_file_defaults)
{
	CHECK_EQ(load("# nothing\n"), 0);
	CHECK(!cfg.has_log_level);
	CHECK(!cfg.has_log_target);
	CHECK_EQ(cfg.cache, DISK_CACHE_WRITEBACK);
	CHECK(!cfg.x86);
	CHECK_EQ(cfg.n_disks, 0);
}

TEST(missing_file)
{
	config_free(&cfg);
	CHECK_EQ(config_load("/nonexistent/x.conf", true, &cfg, msg, sizeof(msg)), -ENOENT);
	CHECK_EQ(config_load("/nonexistent/x.conf", false, &cfg, msg, sizeof(msg)), -ENOENT);
	CHECK(strstr(msg, "/nonexistent/x.conf: No such file") != NULL);
}

TEST(global_errors_name_the_key)
{
	CHECK_REJECTS("[global]\nlog_level = loud\n", "[global] log_level: loud is not err");
	CHECK_REJECTS("[global]\nlog_target = file\n", "[global] log_target: file is not stderr");
	CHECK_REJECTS("[global]\ncache = none\n", "[global] cache: none is not writeback");
	CHECK_REJECTS("[global]\nx86_irq = 16\nx86_base=0x1000\n",
		      "[global] x86_irq: 16 is not an ISA IRQ");
	CHECK_REJECTS("[global]\nx86_base = 0x1000\n", "[global] x86_irq: missing");
	CHECK_REJECTS("[global]\nfrobnicate = 1\n", "[global] frobnicate: unknown key");
	CHECK_REJECTS("[other]\nx = 1\n", "[other]: unknown section");
}

#define DISK_HEAD "[disk:foo]\ndomid = 5\npath = /a.img\n"

TEST(disk_errors_name_section_and_key)
{
	CHECK_REJECTS(DISK_HEAD "base = 0x2000100\nirq = 33\n",
		      "[disk:foo] base: 0x2000100 is not aligned to 0x200");
	CHECK_REJECTS(DISK_HEAD "base = 0\nirq = 33\n", "[disk:foo] base: 0: must not be 0");
	CHECK_REJECTS(DISK_HEAD "base = 12ab\nirq = 33\n", "[disk:foo] base: 12ab is not a number");
	CHECK_REJECTS(DISK_HEAD "base = 0x2000000\nirq = 20\n",
		      "[disk:foo] irq: 20 is neither an Arm SPI");
	CHECK_REJECTS(DISK_HEAD "base = 0x2000000\n", "[disk:foo] irq: missing");
	CHECK_REJECTS(DISK_HEAD "irq = 33\n", "[disk:foo] base: missing");
	CHECK_REJECTS(DISK_HEAD "devid = 1\nbase = 0x2000000\n", "[disk:foo] base: not with devid");
	CHECK_REJECTS(DISK_HEAD "devid = 1\nversion = 3\n", "[disk:foo] version: 3 is not 1 or 2");
	CHECK_REJECTS(DISK_HEAD "devid = 1\nro = maybe\n", "[disk:foo] ro: maybe is not yes or no");
	CHECK_REJECTS(DISK_HEAD "devid = 1\nserial = 123456789012345678901\n",
		      "[disk:foo] serial: 123456789012345678901 is longer than 20 bytes");
	CHECK_REJECTS(DISK_HEAD "devid = 1\ncolour = red\n", "[disk:foo] colour: unknown key");
	CHECK_REJECTS("[disk:foo]\ndomid = 5\ndevid = 1\n", "[disk:foo] path: missing");
	CHECK_REJECTS("[disk:foo]\npath = /a\ndevid = 1\n",
		      "[disk:foo] domid: give exactly one of domid and guest");
	CHECK_REJECTS("[disk:foo]\npath = /a\ndevid = 1\ndomid = 5\nguest = g\n",
		      "[disk:foo] domid: give exactly one");
	CHECK_REJECTS("[disk:foo]\npath = /a\ndevid = 1\ndomid = 32752\n",
		      "[disk:foo] domid: 32752 is not a guest domid");
	CHECK_REJECTS("[disk:foo]\npath = /a\ndevid = 1\ndomid = 0\n",
		      "[disk:foo] domid: 0 is not a guest domid");
	CHECK_REJECTS("[disk:foo.img]\npath = /a\ndevid = 1\ndomid = 3\n",
		      "[disk:foo.img] vdev: missing, and the section name");
}

TEST(disks_of_one_guest_conflict)
{
	CHECK_REJECTS("[disk:a]\ndomid=5\npath=/a\nbase=0x2000000\nirq=33\n"
		      "[disk:b]\ndomid=5\npath=/b\nbase=0x2000000\nirq=34\n",
		      "[disk:b] base: the same as in [disk:a]");
	CHECK_REJECTS("[disk:a]\ndomid=5\npath=/a\nbase=0x2000000\nirq=33\n"
		      "[disk:b]\ndomid=5\npath=/b\nbase=0x2000200\nirq=33\n",
		      "[disk:b] irq: the same as in [disk:a]");
	CHECK_REJECTS("[disk:a]\ndomid=5\npath=/a\ndevid=0\n"
		      "[disk:b]\ndomid=5\npath=/b\ndevid=0\n",
		      "[disk:b] devid: the same as in [disk:a]");
	/* Different guests may use the same window and IRQ. */
	CHECK_EQ(load("[disk:a]\ndomid=5\npath=/a\nbase=0x2000000\nirq=33\n"
		      "[disk:b]\ndomid=6\npath=/b\nbase=0x2000000\nirq=33\n"),
		 0);
	CHECK_EQ(cfg.n_disks, 2);
	config_free(&cfg);
}

TEST(syntax_error_names_the_file)
{
	CHECK_REJECTS("[global\nlog_level = info\n", "");
	CHECK(strstr(msg, "syntax error") != NULL || strstr(msg, "cannot read") != NULL);
}

TEST(queues_and_threads)
{
	CHECK_EQ(load(DISK_HEAD "devid = 1\nqueues = 4\nthreads = 2\n"), 0);
	CHECK_EQ(cfg.disks[0].disk.queues, 4);
	CHECK_EQ(cfg.disks[0].disk.threads, 2);
	CHECK_EQ(load(DISK_HEAD "devid = 1\n"), 0);
	CHECK_EQ(cfg.disks[0].disk.queues, 0); /* the default: one queue on the main loop */
	CHECK_EQ(cfg.disks[0].disk.threads, 0);
	CHECK_REJECTS(DISK_HEAD "devid = 1\nqueues = 9\n", "[disk:foo] queues: 9 is not 1-8");
	CHECK_REJECTS(DISK_HEAD "devid = 1\nqueues = 0\n", "[disk:foo] queues: 0 is not 1-8");
	CHECK_REJECTS(DISK_HEAD "devid = 1\nqueues = 2\nthreads = 3\n",
		      "[disk:foo] threads: 3 is more than queues (2)");
	config_free(&cfg);
}

/* [global] queues/threads: for every disk that sets neither (and xl's disks). */
TEST(global_queues_and_threads_are_defaults)
{
	CHECK_EQ(load("[global]\nqueues = 4\nthreads = 2\n" DISK_HEAD "devid = 1\n"
		      "[disk:bar]\ndomid = 5\npath = /b.img\ndevid = 2\nqueues = 2\n"
		      "[disk:baz]\ndomid = 5\npath = /c.img\ndevid = 3\nthreads = 1\n"),
		 0);
	CHECK_EQ(cfg.queues, 4);
	CHECK_EQ(cfg.threads, 2);
	CHECK_EQ(cfg.disks[0].disk.queues, 4);
	CHECK_EQ(cfg.disks[0].disk.threads, 2);
	CHECK_EQ(cfg.disks[1].disk.queues, 2); /* its own queues, and no threads from [global] */
	CHECK_EQ(cfg.disks[1].disk.threads, 0);
	CHECK_EQ(cfg.disks[2].disk.queues, 0); /* one queue, on its own thread */
	CHECK_EQ(cfg.disks[2].disk.threads, 1);
	CHECK_EQ(load("[global]\nqueues = 2\n"), 0);
	CHECK_EQ(cfg.queues, 2);
	CHECK_EQ(cfg.threads, 0);
	CHECK_REJECTS("[global]\nqueues = 9\n", "[global] queues: 9 is not 1-8");
	CHECK_REJECTS("[global]\nthreads = 0\n", "[global] threads: 0 is not 1-8");
	CHECK_REJECTS("[global]\nqueues = 2\nthreads = 4\n",
		      "[global] threads: 4 is more than queues (2)");
	CHECK_REJECTS("[global]\nthreads = 2\n", "[global] threads: 2 is more than queues (1)");
	config_free(&cfg);
}

TEST(global_poll_us)
{
	CHECK_EQ(load("[global]\nqueues = 2\n"), 0);
	CHECK(!cfg.has_poll_us);
	CHECK_EQ(load("[global]\npoll_us = 50\n"), 0);
	CHECK(cfg.has_poll_us);
	CHECK_EQ(cfg.poll_us, 50);
	CHECK_EQ(load("[global]\npoll_us = 0\n"), 0);
	CHECK(cfg.has_poll_us);
	CHECK_EQ(cfg.poll_us, 0);
	CHECK_REJECTS("[global]\npoll_us = 1001\n", "[global] poll_us: 1001 is not 0-1000");
	CHECK_REJECTS("[global]\npoll_us = soon\n", "[global] poll_us: soon is not a number");
	config_free(&cfg);
}

TEST(equal_compares_every_value)
{
	struct config a;
	char m[256];

	CHECK_EQ(load("[disk:a]\ndomid=5\npath=/a\nbase=0x2000000\nirq=33\n"), 0);
	CHECK_EQ(config_load(path, false, &a, m, sizeof(m)), 0);
	CHECK(config_disk_equal(&a.disks[0], &cfg.disks[0]));
	a.disks[0].disk.read_only = true;
	CHECK(!config_disk_equal(&a.disks[0], &cfg.disks[0]));
	a.disks[0].disk.read_only = false;
	a.disks[0].disk.irq = 34;
	CHECK(!config_disk_equal(&a.disks[0], &cfg.disks[0]));
	a.disks[0].disk.irq = 33;
	a.disks[0].disk.queues = 2;
	CHECK(!config_disk_equal(&a.disks[0], &cfg.disks[0]));
	a.disks[0].disk.queues = 0;
	a.disks[0].disk.threads = 1;
	CHECK(!config_disk_equal(&a.disks[0], &cfg.disks[0]));
	config_free(&a);
	config_free(&cfg);
}

/* The shipped example (etc/, installed as xen-virtio-blkd.conf.example) loads as is ... */
#define EXAMPLE "etc/xen-virtio-blkd.conf.example"

TEST(shipped_example_loads)
{
	CHECK_EQ(config_load(EXAMPLE, false, &cfg, msg, sizeof(msg)), 0);
	CHECK_EQ(cfg.n_disks, 0);
	CHECK(!cfg.x86);
	config_free(&cfg);
}

/* ... and with every commented-out setting enabled. */
TEST(shipped_example_uncommented_loads)
{
	char line[512], text[8192] = "";
	FILE *f = fopen(EXAMPLE, "r");

	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		/* "#key = value" and "#[section]" are settings; "# text" is prose. */
		const char *l = line[0] == '#' && line[1] != ' ' && line[1] != '\n' ? line + 1 : line;

		CHECK(strlen(text) + strlen(l) < sizeof(text));
		strcat(text, l);
	}
	fclose(f);
	CHECK_EQ(load(text), 0);
	CHECK_EQ(cfg.n_disks, 2);
	CHECK(cfg.x86);
	CHECK_EQ(cfg.x86_irq, 5);
	CHECK(cfg.disks[0].has_domid && cfg.disks[0].domid == 5 && !cfg.disks[0].has_devid);
	CHECK_EQ_U64(cfg.disks[0].disk.base, 0x2000000);
	CHECK(cfg.disks[1].has_devid && cfg.disks[1].devid == 0);
	CHECK(strcmp(cfg.disks[1].disk.serial, "guest3-data") == 0);
	config_free(&cfg);
}
