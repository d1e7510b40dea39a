/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command line: options, the --disk KEY=VALUE grammar (numbers through
 * parse_num.h) and the checks that need every disk (overlapping windows,
 * shared IRQs, vdev names). The help text below is the one place the options are
 * described; the man page says the same.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xen/xen.h>

#include "cli.h"
#include "compiler.h"
#include "loop.h"
#include "parse_num.h"

#define PROGRAM "xen-virtio-blkd"

static const char help_text[] =
	"Usage: " PROGRAM " [OPTIONS]                 (service mode)\n"
	"       " PROGRAM " --domid N --disk SPEC [--disk SPEC ...] [OPTIONS]\n"
	"Serve files or block devices to Xen guests as virtio-mmio block devices.\n"
	"Without --domid and --disk, and without [disk:NAME] sections in the\n"
	"configuration file, serve every virtio disk the toolstack (xl) puts in\n"
	"xenstore under backend/virtio_disk (Xen 4.17+) or backend/virtio (4.18+).\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE  configuration file (default " SYSCONFDIR "/xen/xen-virtio-blkd.conf\n"
	"                     if it exists); command-line options override it\n"
	"  --domid N          the guest domain to serve (1-32751)\n"
	"  --disk SPEC        a disk to serve; repeat for more (at most 64 per guest).\n"
	"                     SPEC is a comma-separated list of:\n"
	"      path=IMG         image file or block device (required)\n"
	"      base=ADDR        guest physical address of the 0x200-byte virtio-mmio\n"
	"                       window, 0x200-aligned (required)\n"
	"      irq=N            interrupt: Arm SPI 32-1019 (libxl uses 33-43) or\n"
	"                       x86 ISA IRQ 0-15 (required)\n"
	"      ro               serve the disk read-only\n"
	"      serial=S         serial number the guest reads (at most 20 bytes)\n"
	"      vdev=NAME        name in log messages (default xvda, xvdb, ... by position)\n"
	"      version=1|2      virtio-mmio version: 2 modern (default) or 1 legacy\n"
	"      cache=MODE       writeback (default: page cache) or direct (O_DIRECT)\n"
	"      queues=N         virtqueues, 1-8 (default 1); more than one offers\n"
	"                       VIRTIO_BLK_F_MQ, so a guest can use one per vCPU\n"
	"      threads=T        queue threads, 1-N: queue q is served by thread\n"
	"                       q mod T (default: one per queue when N > 1; one\n"
	"                       queue is served by the main loop unless threads=1)\n"
	"      --poll-us N    poll for guest and disk events up to N microseconds\n"
	"                     (0-1000, adaptive) before sleeping: lower latency\n"
	"                     for more CPU; default 0 (never)\n"
	"  -F, --foreground   stay in the foreground and log to stderr\n"
	"                     (otherwise detach once ready and log to syslog)\n"
	"  -v, --verbose      log more: info by default, -v adds debug\n"
	"  -h, --help         print this help and exit\n"
	"  -V, --version      print the version and exit\n"
	"\n"
	"Numbers are decimal or 0x-prefixed hexadecimal.\n"
	"Exit status: 0 success, 1 runtime error, 2 usage error.\n";

void cli_print_help(FILE *out)
{
	fputs(help_text, out);
}

void cli_print_version(FILE *out)
{
	fprintf(out, "%s %s\n", PROGRAM, PACKAGE_VERSION);
}

static int fail(char *msg, size_t msg_len, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int fail(char *msg, size_t msg_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int number_error(int rc, const char *what, const char *value, char *msg, size_t len)
{
	if (rc == -ERANGE)
		return fail(msg, len, "%s%s: out of range", what, value);
	return fail(msg, len, "%s%s: not a number", what, value);
}

static int parse_domid(const char *value, struct cli_options *opts, char *msg, size_t len)
{
	uint64_t v;
	int rc = parse_u64(value, NUM_DEC_OR_HEX, &v);

	if (rc < 0)
		return number_error(rc, "--domid ", value, msg, len);
	if (v == 0)
		return fail(msg, len, "--domid %s: dom0 cannot be served", value);
	if (v >= DOMID_FIRST_RESERVED)
		return fail(msg, len, "--domid %s: out of range (1-%u)", value,
			    DOMID_FIRST_RESERVED - 1);
	opts->domid = (uint16_t)v;
	return 0;
}

static int parse_poll_us(const char *value, struct cli_options *opts, char *msg, size_t len)
{
	uint64_t v;
	int rc = parse_u64(value, NUM_DEC_OR_HEX, &v);

	if (opts->has_poll_us)
		return fail(msg, len, "--poll-us %s: given twice", value);
	if (rc < 0)
		return number_error(rc, "--poll-us ", value, msg, len);
	if (v > LOOP_POLL_MAX_US)
		return fail(msg, len, "--poll-us %s: out of range (0-%u)", value, LOOP_POLL_MAX_US);
	opts->poll_us = (uint32_t)v;
	opts->has_poll_us = true;
	return 0;
}

static bool irq_valid(uint64_t irq)
{
	return irq < 16 || (irq >= 32 && irq <= 1019);
}

/* "xvda" .. "xvdz", "xvdaa" ..., as Linux names disks by index. */
static void vdev_default(unsigned index, char *out, size_t len)
{
	char suffix[8];
	size_t i = sizeof(suffix) - 1;
	unsigned n = index + 1;

	suffix[i] = '\0';
	while (n > 0 && i > 0) {
		n--;
		suffix[--i] = (char)('a' + n % 26);
		n /= 26;
	}
	snprintf(out, len, "xvd%s", &suffix[i]);
}

enum disk_key {
	KEY_PATH, KEY_BASE, KEY_IRQ, KEY_RO, KEY_SERIAL, KEY_VDEV, KEY_VERSION, KEY_CACHE,
	KEY_QUEUES, KEY_THREADS,
};

static const char *const disk_keys[] = {
	[KEY_PATH] = "path",	   [KEY_BASE] = "base", [KEY_IRQ] = "irq",
	[KEY_RO] = "ro",	   [KEY_SERIAL] = "serial", [KEY_VDEV] = "vdev",
	[KEY_VERSION] = "version", [KEY_CACHE] = "cache", [KEY_QUEUES] = "queues",
	[KEY_THREADS] = "threads",
};

/* One KEY=VALUE item of a --disk spec; key and value already split. */
static int parse_disk_item(struct disk_config *d, enum disk_key k, const char *key,
			   const char *value, char *msg, size_t len)
{
	uint64_t v, end;
	int rc;

	if (k == KEY_RO) {
		if (value)
			return fail(msg, len, "--disk %s=%s: ro takes no value", key, value);
		d->read_only = true;
		return 0;
	}
	if (!value)
		return fail(msg, len, "--disk %s: needs a value (%s=...)", key, key);
	if (value[0] == '\0')
		return fail(msg, len, "--disk %s=: empty value", key);

	switch (k) {
	case KEY_PATH:
		d->path = value;
		return 0;
	case KEY_BASE:
		rc = parse_u64(value, NUM_DEC_OR_HEX, &v);
		if (rc < 0)
			return number_error(rc, "--disk base=", value, msg, len);
		if (v == 0)
			return fail(msg, len, "--disk base=%s: must not be 0", value);
		if (v % VIRTIO_MMIO_WINDOW_SIZE)
			return fail(msg, len, "--disk base=%s: not aligned to 0x%x", value,
				    VIRTIO_MMIO_WINDOW_SIZE);
		/* The window must end inside the address space: base + size fits. */
		if (add_overflows(v, (uint64_t)VIRTIO_MMIO_WINDOW_SIZE, &end))
			return fail(msg, len, "--disk base=%s: window ends past the address space",
				    value);
		d->base = v;
		return 0;
	case KEY_IRQ:
		rc = parse_u64(value, NUM_DEC_OR_HEX, &v);
		if (rc < 0)
			return number_error(rc, "--disk irq=", value, msg, len);
		if (!irq_valid(v))
			return fail(msg, len,
				    "--disk irq=%s: neither an Arm SPI (32-1019) "
				    "nor an x86 ISA IRQ (0-15)",
				    value);
		d->irq = (uint32_t)v;
		return 0;
	case KEY_SERIAL:
		if (strlen(value) > VIRTIO_BLK_ID_LEN)
			return fail(msg, len, "--disk serial=%s: longer than %u bytes", value,
				    VIRTIO_BLK_ID_LEN);
		snprintf(d->serial, sizeof(d->serial), "%s", value);
		return 0;
	case KEY_VDEV:
		if (!disk_vdev_name_valid(value))
			return fail(msg, len,
				    "--disk vdev=%s: must be 1-%u letters, digits, '_' or '-'",
				    value, DISK_VDEV_NAME_MAX);
		snprintf(d->vdev, sizeof(d->vdev), "%s", value);
		return 0;
	case KEY_VERSION:
		if (strcmp(value, "1") == 0)
			d->mmio_version = 1;
		else if (strcmp(value, "2") == 0)
			d->mmio_version = 2;
		else
			return fail(msg, len, "--disk version=%s: must be 1 or 2", value);
		return 0;
	case KEY_CACHE:
		if (strcmp(value, "writeback") == 0)
			d->cache = DISK_CACHE_WRITEBACK;
		else if (strcmp(value, "direct") == 0)
			d->cache = DISK_CACHE_DIRECT;
		else
			return fail(msg, len, "--disk cache=%s: must be writeback or direct",
				    value);
		return 0;
	case KEY_QUEUES:
	case KEY_THREADS:
		rc = parse_u64(value, NUM_DEC_OR_HEX, &v);
		if (rc < 0)
			return number_error(rc, k == KEY_QUEUES ? "--disk queues=" :
								  "--disk threads=",
					    value, msg, len);
		if (v == 0 || v > VIRTIO_MAX_QUEUES)
			return fail(msg, len, "--disk %s=%s: must be 1-%u", key, value,
				    VIRTIO_MAX_QUEUES);
		if (k == KEY_QUEUES)
			d->queues = (uint32_t)v;
		else
			d->threads = (uint32_t)v;
		return 0;
	case KEY_RO:
		break;
	}
	return fail(msg, len, "--disk %s: internal error", key);
}

/* Parse one --disk argument into the next slot of opts. */
static int parse_disk(const char *arg, struct cli_options *opts, char *msg, size_t len)
{
	struct disk_config *d;
	unsigned seen = 0;
	char *rest, *item;
	int rc;

	if (opts->n_disks == DISKS_PER_GUEST_MAX)
		return fail(msg, len, "--disk %s: more than %u disks", arg, DISKS_PER_GUEST_MAX);

	d = &opts->disks[opts->n_disks];
	*d = (struct disk_config){ .mmio_version = 2, .cache = DISK_CACHE_WRITEBACK };
	d->spec = strdup(arg);
	if (!d->spec)
		return fail(msg, len, "out of memory");
	/* Owned from here on: cli_free() releases it, whatever happens next. */
	opts->n_disks++;

	rest = d->spec;
	while ((item = strsep(&rest, ",")) != NULL) {
		char *value = strchr(item, '=');
		unsigned k;

		if (item[0] == '\0' || item == value)
			return fail(msg, len, "--disk %s: empty item", arg);
		if (value)
			*value++ = '\0';
		for (k = 0; k < ARRAY_SIZE(disk_keys); k++)
			if (strcmp(item, disk_keys[k]) == 0)
				break;
		if (k == ARRAY_SIZE(disk_keys))
			return fail(msg, len, "--disk %s%s%s: unknown key '%s'", item,
				    value ? "=" : "", value ? value : "", item);
		if (seen & (1u << k))
			return fail(msg, len, "--disk %s%s%s: %s given twice", item,
				    value ? "=" : "", value ? value : "", item);
		seen |= 1u << k;
		rc = parse_disk_item(d, (enum disk_key)k, item, value, msg, len);
		if (rc < 0)
			return rc;
	}

	if (!(seen & (1u << KEY_PATH)))
		return fail(msg, len, "--disk %s: path= is required", arg);
	if (!(seen & (1u << KEY_BASE)))
		return fail(msg, len, "--disk %s: base= is required", arg);
	if (!(seen & (1u << KEY_IRQ)))
		return fail(msg, len, "--disk %s: irq= is required", arg);
	if (!(seen & (1u << KEY_VDEV)))
		vdev_default(opts->n_disks - 1, d->vdev, sizeof(d->vdev));
	if (d->threads > (d->queues ? d->queues : 1))
		return fail(msg, len, "--disk %s: threads=%u is more than queues=%u", arg,
			    d->threads, d->queues ? d->queues : 1);
	return 0;
}

/* Checks between disks: each window, IRQ and name belongs to one disk. */
static int check_disks(const struct cli_options *opts, char *msg, size_t len)
{
	for (unsigned i = 0; i < opts->n_disks; i++) {
		const struct disk_config *a = &opts->disks[i];

		for (unsigned j = 0; j < i; j++) {
			const struct disk_config *b = &opts->disks[j];

			/* Both windows fit below 2^64 (checked when parsed). */
			if (a->base < b->base + VIRTIO_MMIO_WINDOW_SIZE &&
			    b->base < a->base + VIRTIO_MMIO_WINDOW_SIZE)
				return fail(msg, len,
					    "--disk base=0x%" PRIx64 " (%s): window overlaps "
					    "%s's [0x%" PRIx64 ", 0x%" PRIx64 ")",
					    a->base, a->vdev, b->vdev, b->base,
					    b->base + VIRTIO_MMIO_WINDOW_SIZE);
			if (a->irq == b->irq)
				return fail(msg, len, "--disk irq=%u (%s): already used by %s",
					    a->irq, a->vdev, b->vdev);
			if (strcmp(a->vdev, b->vdev) == 0)
				return fail(msg, len, "--disk vdev=%s: two disks have this name",
					    a->vdev);
		}
	}
	return 0;
}

enum { OPT_DOMID = 256, OPT_DISK, OPT_POLL_US };

static const struct option long_options[] = {
	{ "domid", required_argument, NULL, OPT_DOMID },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "config", required_argument, NULL, 'c' },
	{ "poll-us", required_argument, NULL, OPT_POLL_US },
	{ "foreground", no_argument, NULL, 'F' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int cli_parse(int argc, char **argv, struct cli_options *opts, char *msg, size_t msg_len)
{
	bool have_domid = false;
	int c, rc = 0;

	*opts = (struct cli_options){ .action = CLI_RUN };
	msg[0] = '\0';
	/* optind = 0 fully resets glibc's getopt, so cli_parse can run again (tests). */
	optind = 0;
	opterr = 0;
	/* Leading ':' makes a missing option value return ':' rather than '?'. */
	while ((c = getopt_long(argc, argv, ":c:FvhV", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_DOMID:
			if (have_domid) {
				rc = fail(msg, msg_len, "--domid %s: given twice", optarg);
				goto err;
			}
			rc = parse_domid(optarg, opts, msg, msg_len);
			if (rc < 0)
				goto err;
			have_domid = true;
			break;
		case OPT_DISK:
			rc = parse_disk(optarg, opts, msg, msg_len);
			if (rc < 0)
				goto err;
			break;
		case 'c':
			if (opts->config_path) {
				rc = fail(msg, msg_len, "--config %s: given twice", optarg);
				goto err;
			}
			if (optarg[0] == '\0') {
				rc = fail(msg, msg_len, "--config: empty file name");
				goto err;
			}
			opts->config_path = optarg;
			break;
		case OPT_POLL_US:
			rc = parse_poll_us(optarg, opts, msg, msg_len);
			if (rc < 0)
				goto err;
			break;
		case 'F':
			opts->foreground = true;
			break;
		case 'v':
			opts->verbose++;
			break;
		case 'h':
			cli_free(opts);
			opts->action = CLI_HELP;
			return 0;
		case 'V':
			cli_free(opts);
			opts->action = CLI_VERSION;
			return 0;
		case ':':
			rc = fail(msg, msg_len, "option '%s' needs a value", argv[optind - 1]);
			goto err;
		default:
			if (optopt)
				rc = fail(msg, msg_len, "unknown option '-%c'", optopt);
			else
				rc = fail(msg, msg_len, "unknown option '%s'", argv[optind - 1]);
			goto err;
		}
	}
	if (optind < argc) {
		rc = fail(msg, msg_len, "unexpected argument '%s'", argv[optind]);
		goto err;
	}
	if (opts->n_disks > 0 && !have_domid) {
		rc = fail(msg, msg_len, "--domid is required");
		goto err;
	}
	/* --domid alone: the guest's disks must come from a file named here. */
	if (have_domid && opts->n_disks == 0 && !opts->config_path) {
		rc = fail(msg, msg_len, "--disk is required");
		goto err;
	}
	opts->have_domid = have_domid;
	rc = check_disks(opts, msg, msg_len);
	if (rc < 0)
		goto err;
	return 0;

err:
	cli_free(opts);
	return rc;
}

void cli_free(struct cli_options *opts)
{
	for (unsigned i = 0; i < opts->n_disks; i++) {
		free(opts->disks[i].spec);
		opts->disks[i].spec = NULL;
		opts->disks[i].path = NULL;
	}
	opts->n_disks = 0;
}
