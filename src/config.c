/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The configuration file; see config.h. Strict like the command line:
 * unknown sections and keys are errors, numbers are decimal or 0x hex with
 * nothing around them, and every message names file, section and key.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <iniparser/iniparser.h>
#include <xen/xen.h>

#include "compiler.h"
#include "config.h"
#include "guest_limits.h"
#include "loop.h"
#include "parse_num.h"

static int fail(char *msg, size_t len, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int fail(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* iniparser reports syntax errors through a global callback: keep the first. */
static char ini_error[256];

static int ini_error_cb(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int ini_error_cb(const char *fmt, ...)
{
	va_list ap;

	if (ini_error[0])
		return 0;
	va_start(ap, fmt);
	vsnprintf(ini_error, sizeof(ini_error), fmt, ap);
	va_end(ap);
	for (char *p = ini_error; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return 0;
}

static bool name_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "1", "on" };
	static const char *const no[] = { "no", "false", "0", "off" };

	for (unsigned i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

struct where {
	const char *file;
	const char *section;
	char *msg;
	size_t len;
};

#define BAD(w, key, ...) bad_value((w), (key), __VA_ARGS__)
static int bad_value(const struct where *w, const char *key, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
static int bad_value(const struct where *w, const char *key, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fail(w->msg, w->len, "%s: [%s] %s: %s", w->file, w->section, key, what);
}

static int number(const struct where *w, const char *key, const char *v, uint64_t *out)
{
	int rc = parse_u64(v, NUM_DEC_OR_HEX, out);

	if (rc == -ERANGE)
		return BAD(w, key, "%s is out of range", v);
	if (rc < 0)
		return BAD(w, key, "%s is not a number", v);
	return 0;
}

static int parse_base(const struct where *w, const char *key, const char *v, uint64_t *out)
{
	uint64_t base, end;
	int rc = number(w, key, v, &base);

	if (rc < 0)
		return rc;
	if (base == 0)
		return BAD(w, key, "%s: must not be 0", v);
	if (base % VIRTIO_MMIO_WINDOW_SIZE)
		return BAD(w, key, "%s is not aligned to 0x%x", v, VIRTIO_MMIO_WINDOW_SIZE);
	if (add_overflows(base, (uint64_t)VIRTIO_MMIO_WINDOW_SIZE, &end))
		return BAD(w, key, "%s: the window ends past the address space", v);
	*out = base;
	return 0;
}

static int parse_global_key(const struct where *w, const char *key, const char *v,
			    struct config *c, bool *have_base, bool *have_irq)
{
	uint64_t n;
	int rc;

	if (strcmp(key, "log_level") == 0) {
		if (log_level_parse(v, &c->log_level) < 0)
			return BAD(w, key, "%s is not err, warning, info or debug", v);
		c->has_log_level = true;
	} else if (strcmp(key, "log_target") == 0) {
		if (strcmp(v, "stderr") == 0)
			c->log_target = LOG_TO_STDERR;
		else if (strcmp(v, "syslog") == 0)
			c->log_target = LOG_TO_SYSLOG;
		else
			return BAD(w, key, "%s is not stderr or syslog", v);
		c->has_log_target = true;
	} else if (strcmp(key, "cache") == 0) {
		if (strcmp(v, "writeback") == 0)
			c->cache = DISK_CACHE_WRITEBACK;
		else if (strcmp(v, "direct") == 0)
			c->cache = DISK_CACHE_DIRECT;
		else
			return BAD(w, key, "%s is not writeback or direct", v);
	} else if (strcmp(key, "queues") == 0 || strcmp(key, "threads") == 0) {
		rc = number(w, key, v, &n);
		if (rc < 0)
			return rc;
		if (n == 0 || n > VIRTIO_MAX_QUEUES)
			return BAD(w, key, "%s is not 1-%u", v, VIRTIO_MAX_QUEUES);
		if (key[0] == 'q')
			c->queues = (uint32_t)n;
		else
			c->threads = (uint32_t)n;
	} else if (strcmp(key, "poll_us") == 0) {
		rc = number(w, key, v, &n);
		if (rc < 0)
			return rc;
		if (n > LOOP_POLL_MAX_US)
			return BAD(w, key, "%s is not 0-%u", v, LOOP_POLL_MAX_US);
		c->poll_us = (uint32_t)n;
		c->has_poll_us = true;
	} else if (strcmp(key, "x86_base") == 0) {
		rc = parse_base(w, key, v, &c->x86_base);
		if (rc < 0)
			return rc;
		*have_base = true;
	} else if (strcmp(key, "x86_irq") == 0) {
		rc = number(w, key, v, &n);
		if (rc < 0)
			return rc;
		if (n >= 16)
			return BAD(w, key, "%s is not an ISA IRQ (0-15)", v);
		c->x86_irq = (uint32_t)n;
		*have_irq = true;
	} else {
		return BAD(w, key, "unknown key");
	}
	return 0;
}

enum {
	K_DOMID, K_GUEST, K_PATH, K_BASE, K_IRQ, K_DEVID, K_RO, K_SERIAL, K_VERSION, K_VDEV,
	K_QUEUES, K_THREADS,
};
static const char *const disk_keys[] = {
	[K_DOMID] = "domid", [K_GUEST] = "guest", [K_PATH] = "path",	   [K_BASE] = "base",
	[K_IRQ] = "irq",     [K_DEVID] = "devid", [K_RO] = "ro",	   [K_SERIAL] = "serial",
	[K_VERSION] = "version", [K_VDEV] = "vdev", [K_QUEUES] = "queues",
	[K_THREADS] = "threads",
};

static int parse_disk_key(const struct where *w, unsigned k, const char *key, const char *v,
			  struct config_disk *d)
{
	uint64_t n;
	int rc;

	if (v[0] == '\0')
		return BAD(w, key, "empty value");
	switch (k) {
	case K_DOMID:
		rc = number(w, key, v, &n);
		if (rc < 0)
			return rc;
		if (n == 0 || n >= DOMID_FIRST_RESERVED)
			return BAD(w, key, "%s is not a guest domid (1-%u)", v,
				   DOMID_FIRST_RESERVED - 1);
		d->domid = (uint16_t)n;
		d->has_domid = true;
		return 0;
	case K_GUEST:
		if (!name_valid(v, CONFIG_NAME_MAX - 1))
			return BAD(w, key, "%s is not a guest name", v);
		snprintf(d->guest, sizeof(d->guest), "%s", v);
		return 0;
	case K_PATH:
		d->disk.spec = strdup(v);
		if (!d->disk.spec)
			return fail(w->msg, w->len, "out of memory");
		d->disk.path = d->disk.spec;
		return 0;
	case K_BASE:
		return parse_base(w, key, v, &d->disk.base);
	case K_IRQ:
		rc = number(w, key, v, &n);
		if (rc < 0)
			return rc;
		if (!(n < 16 || (n >= 32 && n <= 1019)))
			return BAD(w, key, "%s is neither an Arm SPI (32-1019) nor an x86 ISA IRQ (0-15)",
				   v);
		d->disk.irq = (uint32_t)n;
		return 0;
	case K_DEVID:
		rc = number(w, key, v, &n);
		if (rc < 0)
			return rc;
		if (n > UINT32_MAX)
			return BAD(w, key, "%s is out of range", v);
		d->devid = (uint32_t)n;
		d->has_devid = true;
		return 0;
	case K_RO:
		if (parse_bool(v, &d->disk.read_only) < 0)
			return BAD(w, key, "%s is not yes or no", v);
		return 0;
	case K_SERIAL:
		if (strlen(v) > VIRTIO_BLK_ID_LEN)
			return BAD(w, key, "%s is longer than %u bytes", v, VIRTIO_BLK_ID_LEN);
		snprintf(d->disk.serial, sizeof(d->disk.serial), "%s", v);
		return 0;
	case K_VERSION:
		if (strcmp(v, "1") && strcmp(v, "2"))
			return BAD(w, key, "%s is not 1 or 2", v);
		d->disk.mmio_version = (uint32_t)(v[0] - '0');
		return 0;
	case K_VDEV:
		if (!disk_vdev_name_valid(v))
			return BAD(w, key, "%s must be 1-%u letters, digits, '_' or '-'", v,
				   DISK_VDEV_NAME_MAX);
		snprintf(d->disk.vdev, sizeof(d->disk.vdev), "%s", v);
		return 0;
	case K_QUEUES:
	case K_THREADS:
		rc = number(w, key, v, &n);
		if (rc < 0)
			return rc;
		if (n == 0 || n > VIRTIO_MAX_QUEUES)
			return BAD(w, key, "%s is not 1-%u", v, VIRTIO_MAX_QUEUES);
		if (k == K_QUEUES)
			d->disk.queues = (uint32_t)n;
		else
			d->disk.threads = (uint32_t)n;
		return 0;
	default:
		return BAD(w, key, "internal error");
	}
}

/*
 * Sections in file order. iniparser_getnsec() skips names with a ':' (it
 * takes them for keys), so walk the dictionary: a section is an entry
 * without a value.
 */
static const char *section_at(const dictionary *ini, ssize_t *pos)
{
	for (; *pos < ini->size; (*pos)++) {
		if (ini->key[*pos] && !ini->val[*pos])
			return ini->key[(*pos)++];
	}
	return NULL;
}

/* Keys of section sec as "sec:key" strings; NULL for an empty section. */
static const char **section_keys(const dictionary *ini, const char *sec, int *n)
{
	const char **keys;

	*n = iniparser_getsecnkeys(ini, sec);
	if (*n <= 0)
		return NULL;
	keys = calloc((size_t)*n, sizeof(*keys));
	if (keys && !iniparser_getseckeys(ini, sec, keys)) {
		free(keys);
		keys = NULL;
	}
	return keys;
}

static int parse_global(const dictionary *ini, struct where *w, struct config *c)
{
	bool have_base = false, have_irq = false;
	const char **keys;
	int n, rc = 0;

	keys = section_keys(ini, "global", &n);
	for (int i = 0; keys && i < n && rc == 0; i++) {
		const char *key = keys[i] + strlen("global:");

		rc = parse_global_key(w, key, iniparser_getstring(ini, keys[i], ""), c, &have_base,
				      &have_irq);
	}
	free(keys);
	if (rc < 0)
		return rc;
	if (have_base != have_irq)
		return BAD(w, have_base ? "x86_irq" : "x86_base",
			   "missing (x86_base and x86_irq go together)");
	if (c->threads > (c->queues ? c->queues : 1))
		return BAD(w, "threads", "%u is more than queues (%u)", c->threads,
			   c->queues ? c->queues : 1);
	c->x86 = have_base;
	return 0;
}

static int parse_disk_section(const dictionary *ini, struct where *w, const char *sec,
			      struct config_disk *d)
{
	const char *name = sec + strlen("disk:");
	unsigned seen = 0;
	const char **keys;
	int n, rc = 0;

	snprintf(d->section, sizeof(d->section), "%s", sec);
	d->disk = (struct disk_config){ .mmio_version = 2, .cache = DISK_CACHE_WRITEBACK };
	if (!name_valid(name, CONFIG_NAME_MAX - 1))
		return fail(w->msg, w->len, "%s: [%s]: the disk name must be 1-%u letters, digits, "
			    "'_', '-' or '.'", w->file, sec, CONFIG_NAME_MAX - 1);
	keys = section_keys(ini, sec, &n);
	for (int i = 0; keys && i < n && rc == 0; i++) {
		const char *key = keys[i] + strlen(sec) + 1;
		unsigned k;

		for (k = 0; k < ARRAY_SIZE(disk_keys); k++)
			if (strcmp(key, disk_keys[k]) == 0)
				break;
		if (k == ARRAY_SIZE(disk_keys)) {
			rc = BAD(w, key, "unknown key");
			break;
		}
		seen |= 1u << k;
		rc = parse_disk_key(w, k, key, iniparser_getstring(ini, keys[i], ""), d);
	}
	free(keys);
	if (rc < 0)
		return rc;

	if (!(seen & (1u << K_PATH)))
		return BAD(w, "path", "missing");
	if (!!(seen & (1u << K_DOMID)) == !!(seen & (1u << K_GUEST)))
		return BAD(w, "domid", "give exactly one of domid and guest");
	if (d->has_devid) {
		if (seen & ((1u << K_BASE) | (1u << K_IRQ)))
			return BAD(w, (seen & (1u << K_BASE)) ? "base" : "irq",
				   "not with devid (the toolstack gives backend/virtio windows)");
	} else {
		if (!(seen & (1u << K_BASE)))
			return BAD(w, "base", "missing (or devid for a backend/virtio device)");
		if (!(seen & (1u << K_IRQ)))
			return BAD(w, "irq", "missing");
	}
	if (d->disk.threads > (d->disk.queues ? d->disk.queues : 1))
		return BAD(w, "threads", "%u is more than queues (%u)", d->disk.threads,
			   d->disk.queues ? d->disk.queues : 1);
	if (!(seen & (1u << K_VDEV))) {
		if (!disk_vdev_name_valid(name))
			return BAD(w, "vdev", "missing, and the section name %s is not a vdev name",
				   name);
		snprintf(d->disk.vdev, sizeof(d->disk.vdev), "%s", name);
	}
	return 0;
}

static bool same_guest(const struct config_disk *a, const struct config_disk *b)
{
	if (a->has_domid != b->has_domid)
		return false;
	return a->has_domid ? a->domid == b->domid : strcmp(a->guest, b->guest) == 0;
}

/* Within one guest: one window, IRQ, devid and vdev per disk. */
static int check_disks(const struct config *c, const char *file, char *msg, size_t len)
{
	for (unsigned i = 0; i < c->n_disks; i++) {
		const struct config_disk *a = &c->disks[i];

		for (unsigned j = 0; j < i; j++) {
			const struct config_disk *b = &c->disks[j];
			const char *key = NULL;

			if (!same_guest(a, b))
				continue;
			if (strcmp(a->disk.vdev, b->disk.vdev) == 0)
				key = "vdev";
			else if (a->has_devid && b->has_devid && a->devid == b->devid)
				key = "devid";
			else if (!a->has_devid && !b->has_devid && a->disk.base == b->disk.base)
				key = "base";
			else if (!a->has_devid && !b->has_devid && a->disk.irq == b->disk.irq)
				key = "irq";
			if (key)
				return fail(msg, len, "%s: [%s] %s: the same as in [%s]", file,
					    a->section, key, b->section);
		}
	}
	return 0;
}

int config_load(const char *path, bool may_be_missing, struct config *cfg, char *msg,
		size_t msg_len)
{
	struct where w = { .file = path, .msg = msg, .len = msg_len };
	dictionary *ini = NULL;
	const char *sec;
	struct stat st;
	int rc = 0;

	*cfg = (struct config){ .cache = DISK_CACHE_WRITEBACK };
	msg[0] = '\0';
	if (stat(path, &st) < 0) {
		rc = -errno;
		if (rc == -ENOENT && may_be_missing)
			return rc;
		fail(msg, msg_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode))
		return fail(msg, msg_len, "%s: not a regular file", path);
	ini_error[0] = '\0';
	iniparser_set_error_callback(ini_error_cb);
	ini = iniparser_load(path);
	if (!ini || ini_error[0]) {
		rc = fail(msg, msg_len, "%s: %s", path,
			  ini_error[0] ? ini_error : "cannot read the file");
		goto out;
	}
	for (ssize_t pos = 0; (sec = section_at(ini, &pos)) != NULL;) {
		if (strncmp(sec, "disk:", 5) == 0) {
			cfg->n_disks++;
		} else if (strcmp(sec, "global") != 0) {
			rc = fail(msg, msg_len, "%s: [%s]: unknown section (global or disk:NAME)",
				  path, sec);
			goto out;
		}
	}
	if (cfg->n_disks > CONFIG_DISKS_MAX) {
		rc = fail(msg, msg_len, "%s: more than %u [disk:] sections", path, CONFIG_DISKS_MAX);
		goto out;
	}
	w.section = "global";
	rc = parse_global(ini, &w, cfg);
	if (rc < 0)
		goto out;
	cfg->disks = calloc(cfg->n_disks ? cfg->n_disks : 1, sizeof(*cfg->disks));
	if (!cfg->disks) {
		rc = fail(msg, msg_len, "out of memory");
		goto out;
	}
	for (ssize_t pos = 0, d = 0; (sec = section_at(ini, &pos)) != NULL;) {
		if (strncmp(sec, "disk:", 5) != 0)
			continue;
		w.section = sec;
		cfg->disks[d].disk.cache = cfg->cache;
		rc = parse_disk_section(ini, &w, sec, &cfg->disks[d]);
		if (rc < 0)
			goto out;
		/* A disk that sets either key takes neither from [global]. */
		if (!cfg->disks[d].disk.queues && !cfg->disks[d].disk.threads) {
			cfg->disks[d].disk.queues = cfg->queues;
			cfg->disks[d].disk.threads = cfg->threads;
		}
		d++;
	}
	for (unsigned i = 0; i < cfg->n_disks; i++)
		cfg->disks[i].disk.cache = cfg->cache;
	rc = check_disks(cfg, path, msg, msg_len);
out:
	iniparser_freedict(ini);
	iniparser_set_error_callback(NULL);
	if (rc < 0)
		config_free(cfg);
	return rc;
}

void config_free(struct config *cfg)
{
	for (unsigned i = 0; cfg->disks && i < cfg->n_disks; i++) {
		free(cfg->disks[i].disk.spec);
		cfg->disks[i].disk.spec = NULL;
		cfg->disks[i].disk.path = NULL;
	}
	free(cfg->disks);
	cfg->disks = NULL;
	cfg->n_disks = 0;
}

bool config_disk_equal(const struct config_disk *a, const struct config_disk *b)
{
	const struct disk_config *x = &a->disk, *y = &b->disk;

	return strcmp(a->section, b->section) == 0 && same_guest(a, b) &&
	       a->has_devid == b->has_devid && a->devid == b->devid &&
	       strcmp(x->path, y->path) == 0 && x->base == y->base && x->irq == y->irq &&
	       x->read_only == y->read_only && strcmp(x->serial, y->serial) == 0 &&
	       strcmp(x->vdev, y->vdev) == 0 && x->mmio_version == y->mmio_version &&
	       x->cache == y->cache && x->queues == y->queues && x->threads == y->threads;
}
