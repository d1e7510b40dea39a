/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenstore access for service mode; see store.h. libxenstore must be the
 * shared, threaded build: with Debian's static one the xs_fileno() fd
 * never becomes readable (real-xen-notes.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <xen/xen.h>
#include <xenstore.h>

#include "compiler.h"
#include "log.h"
#include "store.h"

#define STORE_PATH_MAX 256u
/* Directory paths, each level longer than the one above it fits in. */
#define STORE_FE_DIR_MAX 128u
#define STORE_DEV_DIR_MAX 192u
#define STORE_TOKEN "xvb"
/* Transactions retried on EAGAIN (a concurrent writer) at most this often. */
#define STORE_TXN_RETRIES 16u

struct store {
	struct xs_handle *xs;
	uint16_t self;
	struct loop *loop;
	struct loop_watch watch;
	void (*on_event)(void *ctx);
	void *ctx;
	char backend[STORE_KINDS][64]; /* "/local/domain/0/backend/virtio_disk" */
	bool watched[STORE_KINDS];
	bool watched_release;
	bool watched_introduce;
};

static const char release_path[] = "@releaseDomain";
/* A new domain: a static disk of the configuration file may be its. */
static const char introduce_path[] = "@introduceDomain";

uint16_t store_self_domid(const struct store *s)
{
	return s->self;
}

static void store_readable(struct loop_watch *w, uint32_t events UNUSED)
{
	struct store *s = container_of(w, struct store, watch);
	unsigned n = 0;
	char **ev;

	/* Drain every queued event, then reconcile once for all of them. */
	while ((ev = xs_check_watch(s->xs)) != NULL) {
		free(ev);
		n++;
	}
	if (errno != EAGAIN)
		log_err(NULL, "xenstore: cannot read watch events: %s", strerror(errno));
	log_debug(NULL, "xenstore: %u watch event(s)", n);
	s->on_event(s->ctx);
}

/* Own domid: "domid" relative to our home; absent in dom0 on some setups (§5.1). */
static int store_read_self(struct store *s)
{
	unsigned int len;
	char *v = xs_read(s->xs, XBT_NULL, "domid", &len);
	unsigned long d;
	char *end;

	s->self = 0;
	if (!v)
		return 0;
	errno = 0;
	d = strtoul(v, &end, 10);
	if (errno || end == v || *end || d >= DOMID_FIRST_RESERVED) {
		log_err(NULL, "xenstore: own domid node \"%s\" is not a domid", v);
		free(v);
		return -EINVAL;
	}
	free(v);
	s->self = (uint16_t)d;
	return 0;
}

int store_open(struct loop *loop, void (*on_event)(void *ctx), void *ctx, struct store **out)
{
	struct store *s;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		log_err(NULL, "out of memory");
		return -ENOMEM;
	}
	s->loop = loop;
	s->on_event = on_event;
	s->ctx = ctx;
	s->watch = (struct loop_watch){ .fd = -1, .cb = store_readable };
	s->xs = xs_open(0);
	if (!s->xs) {
		rc = errno ? -errno : -EIO;
		log_err(NULL, "cannot connect to xenstore: %s", strerror(-rc));
		goto err;
	}
	rc = store_read_self(s);
	if (rc < 0)
		goto err;
	for (unsigned k = 0; k < STORE_KINDS; k++) {
		snprintf(s->backend[k], sizeof(s->backend[k]), "/local/domain/%u/backend/%s",
			 s->self, store_kind_dir[k]);
		if (!xs_watch(s->xs, s->backend[k], STORE_TOKEN)) {
			rc = -errno;
			log_err(NULL, "xenstore: cannot watch %s: %s", s->backend[k],
				strerror(-rc));
			goto err;
		}
		s->watched[k] = true;
	}
	if (!xs_watch(s->xs, release_path, STORE_TOKEN)) {
		rc = -errno;
		log_err(NULL, "xenstore: cannot watch %s: %s", release_path, strerror(-rc));
		goto err;
	}
	s->watched_release = true;
	if (!xs_watch(s->xs, introduce_path, STORE_TOKEN)) {
		rc = -errno;
		log_err(NULL, "xenstore: cannot watch %s: %s", introduce_path, strerror(-rc));
		goto err;
	}
	s->watched_introduce = true;
	rc = loop_add(loop, &s->watch, xs_fileno(s->xs), EPOLLIN);
	if (rc < 0) {
		log_err(NULL, "cannot watch the xenstore connection: %s", strerror(-rc));
		goto err;
	}
	log_info(NULL, "xenstore: dom%u, watching %s and %s", s->self, s->backend[0],
		 s->backend[1]);
	*out = s;
	return 0;

err:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->loop)
		loop_del(s->loop, &s->watch);
	if (s->xs) {
		for (unsigned k = 0; k < STORE_KINDS; k++)
			if (s->watched[k])
				xs_unwatch(s->xs, s->backend[k], STORE_TOKEN);
		if (s->watched_release)
			xs_unwatch(s->xs, release_path, STORE_TOKEN);
		if (s->watched_introduce)
			xs_unwatch(s->xs, introduce_path, STORE_TOKEN);
		xs_close(s->xs);
	}
	free(s);
}

/* NULL when absent (or unreadable); the caller frees. */
static char *read_node(struct store *s, xs_transaction_t t, const char *dir, const char *name)
{
	char path[STORE_PATH_MAX];
	unsigned int len;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return NULL;
	return xs_read(s->xs, t, path, &len);
}

void store_nodes_free(struct store_nodes_buf *b)
{
	for (unsigned i = 0; i < ARRAY_SIZE(b->owned); i++) {
		free(b->owned[i]);
		b->owned[i] = NULL;
	}
	b->n = (struct store_nodes){ 0 };
}

/* Directory names go into paths: refuse anything that could leave the directory. */
static bool name_ok(const char *s)
{
	return s[0] && !strchr(s, '/') && strlen(s) < 32;
}

int store_scan(struct store *s, enum store_kind kind, store_visit_fn *visit, void *ctx)
{
	unsigned int n_fe = 0;
	char **fes = xs_directory(s->xs, XBT_NULL, s->backend[kind], &n_fe);

	if (!fes) {
		if (errno == ENOENT)
			return 0;
		log_err(NULL, "xenstore: cannot list %s: %s", s->backend[kind], strerror(errno));
		return -errno;
	}
	for (unsigned i = 0; i < n_fe; i++) {
		char fe_dir[STORE_FE_DIR_MAX];
		unsigned int n_dev = 0;
		char **devs;

		if (!name_ok(fes[i]))
			continue;
		snprintf(fe_dir, sizeof(fe_dir), "%s/%s", s->backend[kind], fes[i]);
		devs = xs_directory(s->xs, XBT_NULL, fe_dir, &n_dev);
		for (unsigned j = 0; devs && j < n_dev; j++) {
			char dir[STORE_DEV_DIR_MAX];
			char *online, *state;

			if (!name_ok(devs[j]))
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", fe_dir, devs[j]);
			online = read_node(s, XBT_NULL, dir, "online");
			state = read_node(s, XBT_NULL, dir, "state");
			visit(ctx, kind, fes[i], devs[j],
			      &(struct store_nodes){ .online = online, .state = state });
			free(online);
			free(state);
		}
		free(devs);
	}
	free(fes);
	return 0;
}

static bool owned_by_self(struct store *s, xs_transaction_t t, const char *dir)
{
	unsigned int n = 0;
	struct xs_permissions *p = xs_get_permissions(s->xs, t, dir, &n);
	bool ok = p && n > 0 && p[0].id == s->self;

	free(p);
	return ok;
}

int store_read_device(struct store *s, enum store_kind kind, const char *fe, const char *devid,
		      struct store_nodes_buf *out)
{
	static const char *const names[] = {
		"frontend-id", "online", "state", "params", "mode", "base",
		"irq", "type", "specification", "transport", "dev", "grant_usage",
	};
	char dir[STORE_PATH_MAX];
	xs_transaction_t t;
	char *v[ARRAY_SIZE(names)];
	unsigned tries = 0;

	_Static_assert(ARRAY_SIZE(names) == ARRAY_SIZE(out->owned), "one buffer per node");
	*out = (struct store_nodes_buf){ 0 };
	if (!name_ok(fe) || !name_ok(devid))
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%s/%s/%s", s->backend[kind], fe, devid);
again:
	/* One snapshot: the toolstack writes a device in one transaction. */
	t = xs_transaction_start(s->xs);
	if (t == XBT_NULL) {
		log_err(NULL, "xenstore: cannot start a transaction: %s", strerror(errno));
		return -errno;
	}
	if (!owned_by_self(s, t, dir)) {
		xs_transaction_end(s->xs, t, true);
		return -EPERM;
	}
	for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
		v[i] = read_node(s, t, dir, names[i]);
	if (!xs_transaction_end(s->xs, t, false)) {
		int err = errno;

		for (unsigned i = 0; i < ARRAY_SIZE(names); i++)
			free(v[i]);
		if (err == EAGAIN && ++tries < STORE_TXN_RETRIES)
			goto again;
		log_err(NULL, "xenstore: cannot read %s: %s", dir, strerror(err));
		return -err;
	}
	memcpy(out->owned, v, sizeof(v));
	out->n = (struct store_nodes){
		.frontend_id = v[0], .online = v[1], .state = v[2], .params = v[3],
		.mode = v[4], .base = v[5], .irq = v[6], .type = v[7],
		.specification = v[8], .transport = v[9], .dev = v[10], .grant_usage = v[11],
	};
	return 0;
}

int store_set_state(struct store *s, enum store_kind kind, uint16_t domid, uint32_t devid,
		    unsigned state)
{
	char dir[STORE_DEV_DIR_MAX], path[STORE_PATH_MAX], value[4];
	unsigned tries = 0;
	xs_transaction_t t;
	unsigned int n;
	char **ls;
	int len;

	snprintf(dir, sizeof(dir), "%s/%u/%" PRIu32, s->backend[kind], domid, devid);
	snprintf(path, sizeof(path), "%s/state", dir);
	len = snprintf(value, sizeof(value), "%u", state);
again:
	t = xs_transaction_start(s->xs);
	if (t == XBT_NULL) {
		log_err(NULL, "xenstore: cannot start a transaction: %s", strerror(errno));
		return -errno;
	}
	/* Never recreate a directory the toolstack has removed. */
	ls = xs_directory(s->xs, t, dir, &n);
	if (!ls) {
		xs_transaction_end(s->xs, t, true);
		return -ENOENT;
	}
	free(ls);
	if (!xs_write(s->xs, t, path, value, (unsigned int)len)) {
		int err = errno;

		xs_transaction_end(s->xs, t, true);
		log_err(NULL, "xenstore: cannot write %s: %s", path, strerror(err));
		return -err;
	}
	if (!xs_transaction_end(s->xs, t, false)) {
		if (errno == EAGAIN && ++tries < STORE_TXN_RETRIES)
			goto again;
		log_err(NULL, "xenstore: cannot write %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

bool store_domain_alive(struct store *s, uint16_t domid)
{
	return xs_is_domain_introduced(s->xs, domid);
}

/* The name node of dom<domid> on connection xs; see store_domain_name(). */
static int read_domain_name(struct xs_handle *xs, uint16_t domid, char buf[STORE_NAME_MAX])
{
	struct xs_permissions *p;
	char path[STORE_PATH_MAX];
	unsigned int len = 0, n = 0;
	bool trusted;
	char *v;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	/* libxl writes it in the domain's directory, which the guest can only read. */
	p = xs_get_permissions(xs, XBT_NULL, path, &n);
	trusted = p && n > 0 && p[0].id != domid;
	free(p);
	if (!trusted)
		return -ENOENT;
	v = xs_read(xs, XBT_NULL, path, &len);
	if (!v)
		return -ENOENT;
	if (len == 0 || len >= STORE_NAME_MAX || strlen(v) != len) {
		free(v);
		return -ENOENT;
	}
	memcpy(buf, v, (size_t)len + 1);
	free(v);
	return 0;
}

int store_domain_name(struct store *s, uint16_t domid, char buf[STORE_NAME_MAX])
{
	return read_domain_name(s->xs, domid, buf);
}

/* A directory name under /local/domain that is a domid (decimal, no leading 0). */
static bool parse_domid(const char *s, uint16_t *out)
{
	unsigned long v;
	char *end;

	if (!s[0] || (s[0] == '0' && s[1]) || s[0] < '0' || s[0] > '9' || strlen(s) > 5)
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v >= DOMID_FIRST_RESERVED)
		return false;
	*out = (uint16_t)v;
	return true;
}

int store_domains(struct store *s, struct store_domain **out, unsigned *n)
{
	struct store_domain *doms;
	unsigned int n_dirs = 0;
	char **dirs;

	*out = NULL;
	*n = 0;
	dirs = xs_directory(s->xs, XBT_NULL, "/local/domain", &n_dirs);
	if (!dirs) {
		int err = errno;

		if (err == ENOENT)
			return 0;
		log_err(NULL, "xenstore: cannot list /local/domain: %s", strerror(err));
		return -err;
	}
	doms = calloc(n_dirs ? n_dirs : 1, sizeof(*doms));
	if (!doms) {
		free(dirs);
		log_err(NULL, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n_dirs; i++) {
		uint16_t domid;

		if (!parse_domid(dirs[i], &domid) || domid == 0 || domid == s->self)
			continue;
		if (read_domain_name(s->xs, domid, doms[*n].name) < 0)
			continue;
		doms[*n].domid = domid;
		(*n)++;
	}
	free(dirs);
	*out = doms;
	return 0;
}

int store_lookup_domain_name(uint16_t domid, char buf[STORE_NAME_MAX])
{
	struct xs_handle *xs = xs_open(0);
	int rc;

	buf[0] = '\0';
	if (!xs)
		return errno ? -errno : -EIO;
	rc = read_domain_name(xs, domid, buf);
	xs_close(xs);
	return rc;
}
