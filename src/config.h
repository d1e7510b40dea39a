/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The configuration file (ini, read with libiniparser), parsed into plain
 * structs; every error names the file, the section and the key:
 *   "FILE: [disk:foo] base: 0x2000100 is not aligned to 0x200"
 *
 *   [global]
 *   log_level = err|warning|info|debug
 *   log_target = stderr|syslog
 *   cache = writeback|direct
 *   queues = N, threads = T  for every disk that sets neither (xl's too)
 *   poll_us = N              adaptive polling window (0-1000), as --poll-us
 *   x86_base = ADDR          x86 guests: the window libxl does not allocate
 *   x86_irq = N              and its ISA IRQ (0-15); both or neither
 *
 *   [disk:NAME]              one disk; NAME is its default vdev
 *   domid = N | guest = NAME the guest (exactly one of them)
 *   path = IMG               image file or block device (required)
 *   base = ADDR, irq = N     a static disk (both required) ...
 *   devid = N                ... or the image of backend/virtio device N
 *   ro = yes|no, serial = S, version = 1|2, vdev = NAME
 *   queues = N, threads = T  virtqueues (1-8) and queue threads (1-N), as --disk
 *
 * Section and key names are case-insensitive (iniparser lowers them).
 */
#ifndef XVB_CONFIG_H
#define XVB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "log.h"

#define CONFIG_DEFAULT_PATH SYSCONFDIR "/xen/xen-virtio-blkd.conf"
#define CONFIG_NAME_MAX 64u /* section names and guest names */
#define CONFIG_DISKS_MAX 1024u

struct config_disk {
	char section[CONFIG_NAME_MAX + 8]; /* "disk:foo", for messages */
	bool has_domid;
	uint16_t domid;
	char guest[CONFIG_NAME_MAX]; /* when !has_domid */
	bool has_devid;              /* a backend/virtio image rather than a static disk */
	uint32_t devid;
	struct disk_config disk; /* disk.path is owned (disk.spec holds it) */
};

struct config {
	bool has_log_level;
	enum log_level log_level;
	bool has_log_target;
	enum log_target log_target;
	enum disk_cache_mode cache; /* DISK_CACHE_WRITEBACK unless set */
	/* [global] queues and threads, for disks that set neither; 0: unset. */
	uint32_t queues, threads;
	bool has_poll_us;
	uint32_t poll_us;
	bool x86;
	uint64_t x86_base;
	uint32_t x86_irq;
	unsigned n_disks;
	struct config_disk *disks;
};

/*
 * Load path into cfg (which needs no initialisation). -ENOENT (no
 * message) when the file does not exist and may_be_missing; otherwise
 * -EINVAL or -errno with msg naming file, section and key. On success
 * call config_free().
 */
int config_load(const char *path, bool may_be_missing, struct config *cfg, char *msg,
		size_t msg_len);
void config_free(struct config *cfg); /* idempotent */

/* Same disk, same settings (SIGHUP: an unchanged disk is left alone). */
bool config_disk_equal(const struct config_disk *a, const struct config_disk *b);

#endif
