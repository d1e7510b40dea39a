/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Strict parsing of one virtio backend directory as libxl writes it
 * (xen-interfaces.md §5.2 backend/virtio_disk, Xen 4.17; §5.3
 * backend/virtio, Xen 4.18). Pure functions apart from one stat() of the
 * image: no xenstore, unit-tested (tests/unit/test_store_parse.c).
 *
 * Only backend nodes are parsed: they are written by the toolstack and
 * owned by the backend domain. The frontend's nodes are never read.
 */
#ifndef XVB_STORE_PARSE_H
#define XVB_STORE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../cli.h"

/* Copied from xen/arch-arm.h, which cannot be included on x86 (§5.4). */
#define GUEST_VIRTIO_MMIO_SPI_FIRST 33u
#define GUEST_VIRTIO_MMIO_SPI_LAST 43u
#define X86_ISA_IRQ_COUNT 16u

enum store_kind {
	STORE_VIRTIO_DISK = 0, /* backend/virtio_disk: Xen 4.17+, params and mode given */
	STORE_VIRTIO,          /* backend/virtio: Xen 4.18+, image from the config file */
	STORE_KINDS,
};
extern const char *const store_kind_dir[STORE_KINDS]; /* "virtio_disk", "virtio" */

/* Values of one backend device directory as read; NULL when absent. */
struct store_nodes {
	const char *frontend_id;
	const char *online;
	const char *state;
	const char *params;
	const char *mode;
	const char *base;
	const char *irq;
	const char *type;
	const char *specification;
	const char *transport;
	const char *dev;
	const char *grant_usage;
};

struct store_policy {
	uint16_t self_domid;
	/* x86 guests: libxl writes base 0 and irq 0; these replace them. */
	bool x86;
	uint64_t x86_base;
	uint32_t x86_irq;
};

struct store_device {
	enum store_kind kind;
	uint16_t domid;
	uint32_t devid;
	uint64_t base;
	uint32_t irq;
	bool read_only;
	const char *params; /* points into the nodes (virtio_disk); NULL for virtio */
	char vdev[DISK_VDEV_NAME_MAX + 1];
};

/*
 * The directory names: fe is the frontend domid (decimal, below
 * DOMID_FIRST_RESERVED, not the backend itself), devid a decimal u32.
 * On error returns -EINVAL with why naming the node and value.
 */
int store_parse_ids(const char *fe, const char *devid, const struct store_policy *pol,
		    uint16_t *domid, uint32_t *devid_out, char *why, size_t why_len);

/* online "1" and state "1": the toolstack asks for a new device. */
bool store_nodes_new(const struct store_nodes *n);
/* online not "1", state 5 or 6, or state gone: the device is going away. */
bool store_nodes_closing(const struct store_nodes *n);

/*
 * Every value of a new device, strictly: numbers with nothing before or
 * after them and in range, fixed strings exact, the image an existing
 * regular file or block device (virtio_disk). -EINVAL and a reason
 * "<node>: <value> <what is wrong>" in why.
 */
int store_parse_device(enum store_kind kind, const char *fe, const char *devid,
		       const struct store_nodes *n, const struct store_policy *pol,
		       struct store_device *out, char *why, size_t why_len);

#endif
