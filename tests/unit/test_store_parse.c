/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The strict xenstore node parser: libxl's layouts accepted, every bad value refused by name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/xen/store_parse.h"
#include "check.h"

static char image[64];
static char why[256];
static const struct store_policy arm = { .self_domid = 0 };
static const struct store_policy x86 = { .self_domid = 0, .x86 = true, .x86_base = 0xfe000000,
					 .x86_irq = 5 };

static void remove_image(void)
{
	unlink(image);
}

static const char *make_image(void)
{
	int fd;

	if (image[0])
		return image;
	snprintf(image, sizeof(image), "/tmp/test_store_parse-XXXXXX");
	fd = mkstemp(image);
	CHECK(fd >= 0);
	close(fd);
	atexit(remove_image);
	return image;
}

/* Exactly what libxl 4.17 writes for 'vdev=xvda, ... target=IMG' on Arm. */
static struct store_nodes disk_nodes(void)
{
	return (struct store_nodes){
		.frontend_id = "5", .online = "1", .state = "1", .params = make_image(),
		.mode = "w", .base = "33554432", .irq = "33", .type = "standalone",
		.specification = "virtio", .transport = "mmio", .dev = "xvda",
	};
}

/* libxl 4.18 backend/virtio. */
static struct store_nodes virtio_nodes(void)
{
	return (struct store_nodes){
		.frontend_id = "7", .online = "1", .state = "1", .base = "0x2000200", .irq = "34",
		.type = "virtio,device2", .transport = "mmio", .grant_usage = "0",
	};
}

static int parse_disk(const struct store_nodes *n, struct store_device *d)
{
	return store_parse_device(STORE_VIRTIO_DISK, "5", "51712", n, &arm, d, why, sizeof(why));
}

#define CHECK_WHY(s)                                                                      \
	do {                                                                              \
		if (!strstr(why, (s)))                                                    \
			check_fail(__FILE__, __LINE__, "reason '%s' lacks '%s'", why, (s)); \
	} while (0)

/* Set one node of the libxl layout to value and expect a refusal naming it. */
#define CHECK_DISK_REFUSED(field, value, reason)                 \
	do {                                                     \
		struct store_nodes n_ = disk_nodes();            \
		struct store_device d_;                          \
		n_.field = (value);                              \
		CHECK_EQ(parse_disk(&n_, &d_), -EINVAL);         \
		CHECK_WHY(reason);                               \
	} while (0)

TEST(libxl_417_disk_accepted)
{
	struct store_nodes n = disk_nodes();
	struct store_device d;

	CHECK_EQ(parse_disk(&n, &d), 0);
	CHECK_EQ(d.kind, STORE_VIRTIO_DISK);
	CHECK_EQ(d.domid, 5);
	CHECK_EQ(d.devid, 51712);
	CHECK_EQ_U64(d.base, 0x2000000);
	CHECK_EQ(d.irq, 33);
	CHECK(!d.read_only);
	CHECK(strcmp(d.params, image) == 0);
	CHECK(strcmp(d.vdev, "xvda") == 0);
}

TEST(mode_r_is_read_only)
{
	struct store_nodes n = disk_nodes();
	struct store_device d;

	n.mode = "r";
	CHECK_EQ(parse_disk(&n, &d), 0);
	CHECK(d.read_only);
	CHECK_DISK_REFUSED(mode, "rw", "mode: rw is not r or w");
	CHECK_DISK_REFUSED(mode, NULL, "mode: missing");
}

TEST(libxl_418_virtio_accepted_hex_base)
{
	struct store_nodes n = virtio_nodes();
	struct store_device d;

	CHECK_EQ(store_parse_device(STORE_VIRTIO, "7", "1", &n, &arm, &d, why, sizeof(why)), 0);
	CHECK_EQ_U64(d.base, 0x2000200);
	CHECK_EQ(d.irq, 34);
	CHECK(d.params == NULL);
	CHECK(strcmp(d.vdev, "virtio1") == 0);
	/* virtio_disk's base is decimal: hex there did not come from libxl. */
	n = disk_nodes();
	n.base = "0x2000000";
	CHECK_EQ(parse_disk(&n, &d), -EINVAL);
	CHECK_WHY("base: 0x2000000 is not a number");
	/* and virtio's is hex: a decimal there is refused. */
	n = virtio_nodes();
	n.base = "33554432";
	CHECK_EQ(store_parse_device(STORE_VIRTIO, "7", "1", &n, &arm, &d, why, sizeof(why)),
		 -EINVAL);
	CHECK_WHY("base: 33554432");
	/* A doubled prefix is not hex libxl wrote (strtoull would take it as 0x5). */
	n = virtio_nodes();
	n.base = "0x0x5";
	CHECK_EQ(store_parse_device(STORE_VIRTIO, "7", "1", &n, &arm, &d, why, sizeof(why)),
		 -EINVAL);
	CHECK_WHY("base: 0x0x5");
	n = virtio_nodes();
	n.type = "virtio,device1";
	CHECK_EQ(store_parse_device(STORE_VIRTIO, "7", "1", &n, &arm, &d, why, sizeof(why)),
		 -EINVAL);
	CHECK_WHY("type: virtio,device1 is not virtio,device2");
}

TEST(base_strict)
{
	CHECK_DISK_REFUSED(base, "abc", "base: abc is not a number");
	CHECK_DISK_REFUSED(base, "33554432x", "base: 33554432x is not a number");
	CHECK_DISK_REFUSED(base, " 33554432", "is not a number");
	CHECK_DISK_REFUSED(base, "-33554432", "is not a number");
	CHECK_DISK_REFUSED(base, "033554432", "is not a number");
	CHECK_DISK_REFUSED(base, "", "is not a number");
	CHECK_DISK_REFUSED(base, "99999999999999999999999", "is out of range");
	CHECK_DISK_REFUSED(base, "33554433", "base: 33554433 is not aligned to 0x200");
	CHECK_DISK_REFUSED(base, "0", "base: 0 is not a window address");
	CHECK_DISK_REFUSED(base, "18446744073709551104", "past the address space");
	CHECK_DISK_REFUSED(base, NULL, "base: missing");
}

TEST(irq_within_arm_spi_range)
{
	struct store_nodes n = disk_nodes();
	struct store_device d;

	n.irq = "43";
	CHECK_EQ(parse_disk(&n, &d), 0);
	CHECK_EQ(d.irq, 43);
	CHECK_DISK_REFUSED(irq, "32", "irq: 32 is outside the Arm virtio SPI range 33-43");
	CHECK_DISK_REFUSED(irq, "44", "irq: 44 is outside");
	CHECK_DISK_REFUSED(irq, "5", "irq: 5 is outside");
	CHECK_DISK_REFUSED(irq, "33 ", "irq: 33  is not a number");
	CHECK_DISK_REFUSED(irq, NULL, "irq: missing");
}

TEST(x86_zeros_take_the_configured_window)
{
	struct store_nodes n = disk_nodes();
	struct store_device d;

	n.base = "0";
	n.irq = "0";
	CHECK_EQ(store_parse_device(STORE_VIRTIO_DISK, "5", "51712", &n, &x86, &d, why,
				    sizeof(why)), 0);
	CHECK_EQ_U64(d.base, 0xfe000000);
	CHECK_EQ(d.irq, 5);
	/* An explicit ISA IRQ only when it is the configured one. */
	n = disk_nodes();
	n.irq = "5";
	CHECK_EQ(store_parse_device(STORE_VIRTIO_DISK, "5", "51712", &n, &x86, &d, why,
				    sizeof(why)), 0);
	n.irq = "6";
	CHECK_EQ(store_parse_device(STORE_VIRTIO_DISK, "5", "51712", &n, &x86, &d, why,
				    sizeof(why)), -EINVAL);
	CHECK_WHY("irq: 6");
}

TEST(fixed_strings_exact)
{
	CHECK_DISK_REFUSED(type, "phy", "type: phy is not standalone");
	CHECK_DISK_REFUSED(type, NULL, "type: missing");
	CHECK_DISK_REFUSED(specification, "xen", "specification: xen is not virtio");
	CHECK_DISK_REFUSED(transport, "pci", "transport: pci is not mmio");
	CHECK_DISK_REFUSED(grant_usage, "1", "grant_usage: 1 is not supported");
	CHECK_DISK_REFUSED(grant_usage, "2", "grant_usage: 2 is not 0 or 1");
	CHECK_DISK_REFUSED(dev, "xv/da", "dev: xv/da is not a device name");
}

TEST(frontend_id_must_match_directory)
{
	CHECK_DISK_REFUSED(frontend_id, "6", "frontend-id: 6 does not match the directory 5");
	CHECK_DISK_REFUSED(frontend_id, NULL, "frontend-id: missing");
}

TEST(params_must_be_file_or_block_device)
{
	CHECK_DISK_REFUSED(params, NULL, "params: missing");
	CHECK_DISK_REFUSED(params, "", "params: missing");
	CHECK_DISK_REFUSED(params, "/nonexistent/img", "params: /nonexistent/img: No such file");
	CHECK_DISK_REFUSED(params, "/dev/null", "params: /dev/null is neither a regular file");
	CHECK_DISK_REFUSED(params, "/tmp", "params: /tmp is neither");
	CHECK_DISK_REFUSED(params, "relative.img", "is not an absolute path");
}

TEST(ids_strict)
{
	uint16_t domid;
	uint32_t devid;
	const struct store_policy self5 = { .self_domid = 5 };

	CHECK_EQ(store_parse_ids("7", "51712", &arm, &domid, &devid, why, sizeof(why)), 0);
	CHECK_EQ(domid, 7);
	CHECK_EQ(devid, 51712);
	CHECK_EQ(store_parse_ids("32752", "0", &arm, &domid, &devid, why, sizeof(why)), -EINVAL);
	CHECK_WHY("domid out of range");
	CHECK_EQ(store_parse_ids("5", "0", &self5, &domid, &devid, why, sizeof(why)), -EINVAL);
	CHECK_WHY("is the backend itself");
	CHECK_EQ(store_parse_ids("x5", "0", &arm, &domid, &devid, why, sizeof(why)), -EINVAL);
	CHECK_EQ(store_parse_ids("5", "4294967296", &arm, &domid, &devid, why, sizeof(why)),
		 -EINVAL);
	CHECK_WHY("is not a devid");
}

TEST(new_and_closing_states)
{
	struct store_nodes n = disk_nodes();

	CHECK(store_nodes_new(&n));
	CHECK(!store_nodes_closing(&n));
	n.state = "2";
	CHECK(!store_nodes_new(&n));
	CHECK(!store_nodes_closing(&n));
	n.state = "5";
	CHECK(store_nodes_closing(&n));
	n.state = "2";
	n.online = "0";
	CHECK(store_nodes_closing(&n));
	CHECK(!store_nodes_new(&n));
	n.online = "1";
	n.state = NULL;
	CHECK(store_nodes_closing(&n));
}

TEST(hostile_value_quoted_short_and_printable)
{
	char longv[300];

	memset(longv, 'A', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	longv[3] = '\n';
	CHECK_DISK_REFUSED(mode, longv, "AAA?AAAA");
	CHECK(strstr(why, "...") != NULL);
	CHECK(strlen(why) < 120);
}
