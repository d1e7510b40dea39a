/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Command-line parsing into plain structs: no Xen, no I/O beyond the help
 * and version text, so every rule is unit-tested (tests/unit/test_cli.c).
 * The usage text lives in cli.c only.
 */
#ifndef XVB_CLI_H
#define XVB_CLI_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "disk/disk.h"
#include "guest_limits.h"

/* Longest vdev name ("xvda"): it is a log prefix, so keep it short. */
#define DISK_VDEV_NAME_MAX 15u

/* A vdev name: 1-DISK_VDEV_NAME_MAX of [A-Za-z0-9_-], wherever it comes from. */
static inline bool disk_vdev_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DISK_VDEV_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* One disk to serve, as --disk (and later xenstore or a config file) gives it. */
struct disk_config {
	const char *path; /* points into spec */
	uint64_t base;    /* virtio-mmio window [base, base + VIRTIO_MMIO_WINDOW_SIZE) */
	uint32_t irq;     /* x86 ISA IRQ 0-15 or Arm SPI 32-1019 */
	bool read_only;
	char serial[VIRTIO_BLK_ID_LEN + 1]; /* may be empty */
	char vdev[DISK_VDEV_NAME_MAX + 1];  /* "xvda": names the disk in logs */
	uint32_t mmio_version;              /* 1 legacy, 2 modern */
	enum disk_cache_mode cache;
	/*
	 * Virtqueues (VIRTIO_BLK_F_MQ when more than one; 0 means 1) and the
	 * queue threads serving them: queue q on thread q % threads. threads
	 * 0 means the default: one thread per queue when there are several,
	 * none (the main loop serves the queue) for one.
	 */
	uint32_t queues;
	uint32_t threads;
	char *spec; /* owned, tokenised copy of the --disk argument */
};

enum cli_action { CLI_RUN = 0, CLI_HELP, CLI_VERSION };

struct cli_options {
	enum cli_action action;
	const char *config_path; /* -c FILE (points into argv); NULL: the default if present */
	bool have_domid;
	uint16_t domid;
	unsigned verbose; /* -v count */
	bool foreground;
	bool has_poll_us;
	uint32_t poll_us; /* --poll-us: see loop_set_poll() */
	unsigned n_disks;
	struct disk_config disks[DISKS_PER_GUEST_MAX];
};

/*
 * Three ways to run: --domid N --disk ... (one guest, disks on the line);
 * --domid N -c FILE (that guest's disks from the file); neither --domid
 * nor --disk: the file's [disk:] sections, or else service mode.
 *
 * Parse argv into opts (which needs no initialisation). On a usage error
 * returns -EINVAL with a one-line message naming the bad value in msg
 * (without the program name); opts then owns nothing. On success call
 * cli_free() when done. For --help / --version, action says so and the
 * rest of opts is not filled.
 */
int cli_parse(int argc, char **argv, struct cli_options *opts, char *msg, size_t msg_len);
void cli_free(struct cli_options *opts); /* idempotent */

void cli_print_help(FILE *out);
void cli_print_version(FILE *out);

#endif
