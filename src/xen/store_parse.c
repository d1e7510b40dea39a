/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Strict parsing of libxl's virtio backend nodes; see store_parse.h.
 * libxl writes base as %PRIu64 for virtio_disk and %#PRIx64 for virtio,
 * irq as decimal: anything else did not come from libxl and is refused.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xen/xen.h>

#include "../parse_num.h"
#include "compiler.h"
#include "guest_limits.h"
#include "store_parse.h"

const char *const store_kind_dir[STORE_KINDS] = {
	[STORE_VIRTIO_DISK] = "virtio_disk",
	[STORE_VIRTIO] = "virtio",
};

/* Longest node value quoted in a reason: hostile values can be long. */
#define QUOTE_MAX 64

static int refuse(char *why, size_t len, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A value made printable and short for a log line. */
static const char *quote(const char *s, char buf[QUOTE_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] && i < QUOTE_MAX; i++)
		buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	buf[i] = '\0';
	if (s[i])
		strcpy(&buf[i], "...");
	return buf;
}

static int num_refused(int rc, const char *node, const char *value, char *why, size_t len)
{
	char q[QUOTE_MAX + 4];

	return refuse(why, len, "%s: %s %s", node, quote(value, q),
		      rc == -ERANGE ? "is out of range" : "is not a number");
}

int store_parse_ids(const char *fe, const char *devid, const struct store_policy *pol,
		    uint16_t *domid, uint32_t *devid_out, char *why, size_t why_len)
{
	char q[QUOTE_MAX + 4];
	uint64_t v;
	int rc;

	rc = parse_u64(fe, NUM_DECIMAL, &v);
	if (rc < 0)
		return refuse(why, why_len, "frontend domain directory %s is not a domid",
			      quote(fe, q));
	if (v >= DOMID_FIRST_RESERVED)
		return refuse(why, why_len, "frontend domain directory %s: domid out of range",
			      quote(fe, q));
	if (v == pol->self_domid)
		return refuse(why, why_len, "frontend domain %s is the backend itself",
			      quote(fe, q));
	*domid = (uint16_t)v;
	rc = parse_u64(devid, NUM_DECIMAL, &v);
	if (rc < 0 || v > UINT32_MAX)
		return refuse(why, why_len, "device directory %s is not a devid", quote(devid, q));
	*devid_out = (uint32_t)v;
	return 0;
}

static bool is(const char *value, const char *want)
{
	return value && strcmp(value, want) == 0;
}

bool store_nodes_new(const struct store_nodes *n)
{
	return is(n->online, "1") && is(n->state, "1");
}

bool store_nodes_closing(const struct store_nodes *n)
{
	return !is(n->online, "1") || !n->state || is(n->state, "5") || is(n->state, "6");
}

/* A present node with exactly this value. */
static int need(const char *node, const char *value, const char *want, char *why, size_t len)
{
	char q[QUOTE_MAX + 4];

	if (!value)
		return refuse(why, len, "%s: missing (want %s)", node, want);
	if (strcmp(value, want) != 0)
		return refuse(why, len, "%s: %s is not %s", node, quote(value, q), want);
	return 0;
}

static int parse_window(enum store_kind kind, const struct store_nodes *n,
			const struct store_policy *pol, struct store_device *d, char *why,
			size_t len)
{
	enum num_form form = kind == STORE_VIRTIO ? NUM_HEX_OR_ZERO : NUM_DECIMAL;
	char q[QUOTE_MAX + 4];
	uint64_t base, irq, end;
	int rc;

	if (!n->base)
		return refuse(why, len, "base: missing");
	if (!n->irq)
		return refuse(why, len, "irq: missing");
	rc = parse_u64(n->base, form, &base);
	if (rc < 0)
		return num_refused(rc, "base", n->base, why, len);
	rc = parse_u64(n->irq, NUM_DECIMAL, &irq);
	if (rc < 0)
		return num_refused(rc, "irq", n->irq, why, len);

	/* x86: libxl allocates nothing and writes zeros (§5.4). */
	if (base == 0 && irq == 0 && pol->x86) {
		d->base = pol->x86_base;
		d->irq = pol->x86_irq;
		return 0;
	}
	if (base == 0)
		return refuse(why, len, "base: %s is not a window address%s", quote(n->base, q),
			      pol->x86 ? "" : " (x86 guest? set x86_base and x86_irq)");
	if (base % VIRTIO_MMIO_WINDOW_SIZE)
		return refuse(why, len, "base: %s is not aligned to 0x%x", quote(n->base, q),
			      VIRTIO_MMIO_WINDOW_SIZE);
	if (add_overflows(base, (uint64_t)VIRTIO_MMIO_WINDOW_SIZE, &end))
		return refuse(why, len, "base: %s: the window ends past the address space",
			      quote(n->base, q));
	if (irq >= GUEST_VIRTIO_MMIO_SPI_FIRST && irq <= GUEST_VIRTIO_MMIO_SPI_LAST) {
		/* Arm SPI as libxl allocates it. */
	} else if (pol->x86 && irq < X86_ISA_IRQ_COUNT && irq == pol->x86_irq) {
		/* The ISA IRQ configured for x86 guests. */
	} else {
		return refuse(why, len, "irq: %s is outside the Arm virtio SPI range %u-%u%s",
			      quote(n->irq, q), GUEST_VIRTIO_MMIO_SPI_FIRST,
			      GUEST_VIRTIO_MMIO_SPI_LAST,
			      pol->x86 ? " and is not the configured x86_irq" : "");
	}
	d->base = base;
	d->irq = (uint32_t)irq;
	return 0;
}

static int check_image(const char *path, char *why, size_t len)
{
	char q[QUOTE_MAX + 4];
	struct stat st;

	if (path[0] != '/')
		return refuse(why, len, "params: %s is not an absolute path", quote(path, q));
	if (stat(path, &st) < 0)
		return refuse(why, len, "params: %s: %s", quote(path, q), strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return refuse(why, len, "params: %s is neither a regular file nor a block device",
			      quote(path, q));
	return 0;
}

int store_parse_device(enum store_kind kind, const char *fe, const char *devid,
		       const struct store_nodes *n, const struct store_policy *pol,
		       struct store_device *out, char *why, size_t why_len)
{
	struct store_device d = { .kind = kind };
	char q[QUOTE_MAX + 4];
	int rc;

	rc = store_parse_ids(fe, devid, pol, &d.domid, &d.devid, why, why_len);
	if (rc < 0)
		return rc;
	/* frontend-id must agree with the directory it sits in. */
	if (!n->frontend_id)
		return refuse(why, why_len, "frontend-id: missing");
	if (strcmp(n->frontend_id, fe) != 0)
		return refuse(why, why_len, "frontend-id: %s does not match the directory %s",
			      quote(n->frontend_id, q), fe);
	if (is(n->grant_usage, "1"))
		return refuse(why, why_len,
			      "grant_usage: 1 is not supported (guest-physical addresses only)");
	if (n->grant_usage && !is(n->grant_usage, "0"))
		return refuse(why, why_len, "grant_usage: %s is not 0 or 1",
			      quote(n->grant_usage, q));

	if (kind == STORE_VIRTIO_DISK) {
		if ((rc = need("type", n->type, "standalone", why, why_len)) < 0 ||
		    (rc = need("specification", n->specification, "virtio", why, why_len)) < 0 ||
		    (rc = need("transport", n->transport, "mmio", why, why_len)) < 0)
			return rc;
		if (!n->mode)
			return refuse(why, why_len, "mode: missing");
		if (is(n->mode, "r"))
			d.read_only = true;
		else if (!is(n->mode, "w"))
			return refuse(why, why_len, "mode: %s is not r or w", quote(n->mode, q));
		if (!n->params || !n->params[0])
			return refuse(why, why_len, "params: missing");
		rc = check_image(n->params, why, why_len);
		if (rc < 0)
			return rc;
		d.params = n->params;
	} else {
		if ((rc = need("type", n->type, "virtio,device2", why, why_len)) < 0 ||
		    (rc = need("transport", n->transport, "mmio", why, why_len)) < 0)
			return rc;
	}
	rc = parse_window(kind, n, pol, &d, why, why_len);
	if (rc < 0)
		return rc;

	if (n->dev) {
		if (!disk_vdev_name_valid(n->dev))
			return refuse(why, why_len, "dev: %s is not a device name (1-%u of [A-Za-z0-9_-])",
				      quote(n->dev, q), DISK_VDEV_NAME_MAX);
		snprintf(d.vdev, sizeof(d.vdev), "%s", n->dev);
	} else {
		snprintf(d.vdev, sizeof(d.vdev), "virtio%" PRIu32, d.devid % 1000000000u);
	}
	*out = d;
	return 0;
}
