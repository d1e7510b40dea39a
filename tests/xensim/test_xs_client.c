/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_xs_client: checks of the simulated xenstored through Debian's real
 * libxenstore (and, for "raw" and "garbage", the bare wire protocol), for
 * what the xenstore-* tools cannot express: two handles racing
 * transactions, the watch reader thread seen through xs_fileno() and
 * xs_check_watch(), DIRECTORY_PART, domain introduction and release.
 *
 *   XENSTORED_PATH=SOCK test_xs_client COMMAND [ARGS]
 *
 * "api DIR" instead starts a server in this process, on a socket in DIR,
 * and checks the C API the hypervisor simulator uses.
 *
 * Exit status 0 when every check passed, 1 otherwise; each failure is
 * printed with its line.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

#include "xs_server.h"

#define EVENT_WAIT_MS 2000
#define QUIET_MS 300

static unsigned int failures;

#define CHECK(cond, ...) check(cond, __LINE__, #cond, __VA_ARGS__)

static bool check(bool ok, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool check(bool ok, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	failures++;
	fprintf(stderr, "FAIL line %d: %s: ", line, expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

static struct xs_handle *open_or_die(void)
{
	struct xs_handle *h = xs_open(0);

	if (!h) {
		perror("xs_open (is XENSTORED_PATH set?)");
		exit(1);
	}
	return h;
}

/* NULL-safe comparison of a read value. */
static bool read_is(struct xs_handle *h, xs_transaction_t t, const char *path,
		    const char *want)
{
	char *v = xs_read(h, t, path, NULL);
	bool ok = want ? v && !strcmp(v, want) : !v && errno == ENOENT;

	free(v);
	return ok;
}

static bool write_str(struct xs_handle *h, xs_transaction_t t,
		      const char *path, const char *value)
{
	return xs_write(h, t, path, value, (unsigned int)strlen(value));
}

/* ---- watch events through the fd, as an event loop sees them ---- */

struct event {
	char path[256];
	char token[64];
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Events arriving within ms, stopping early once `want` have come (0:
 * wait the whole time). */
static unsigned int collect(struct xs_handle *h, int ms, unsigned int want,
			    struct event *ev, unsigned int max)
{
	struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };
	long deadline = now_ms() + ms, left;
	unsigned int n = 0;
	char **v;

	for (;;) {
		while (n < max && (v = xs_check_watch(h))) {
			snprintf(ev[n].path, sizeof(ev[n].path), "%s",
				 v[XS_WATCH_PATH]);
			snprintf(ev[n].token, sizeof(ev[n].token), "%s",
				 v[XS_WATCH_TOKEN]);
			free(v);
			n++;
		}
		left = deadline - now_ms();
		if ((want && n >= want) || n >= max || left <= 0)
			return n;
		poll(&pfd, 1, (int)left);
	}
}

static bool has_event(const struct event *ev, unsigned int n,
		      const char *path, const char *token)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!strcmp(ev[i].path, path) && !strcmp(ev[i].token, token))
			return true;
	}
	return false;
}

static void print_events(const char *what, const struct event *ev,
			 unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		fprintf(stderr, "  %s: %s [%s]\n", what, ev[i].path,
			ev[i].token);
}

/* ---- commands ---- */

static void test_conflict(void)
{
	struct xs_handle *h1 = open_or_die(), *h2 = open_or_die();
	xs_transaction_t t, t2;
	bool ok;

	xs_rm(h1, XBT_NULL, "/test/tx");
	CHECK(write_str(h1, XBT_NULL, "/test/tx/a", "1"), "setup");

	/* Read in a transaction, someone else changes it: EAGAIN, and
	 * nothing of the transaction is applied. */
	t = xs_transaction_start(h1);
	CHECK(t != XBT_NULL, "start: %s", strerror(errno));
	CHECK(read_is(h1, t, "/test/tx/a", "1"), "read in tx");
	CHECK(write_str(h2, XBT_NULL, "/test/tx/a", "2"), "concurrent write");
	CHECK(write_str(h1, t, "/test/tx/b", "x"), "write in tx");
	ok = xs_transaction_end(h1, t, false);
	CHECK(!ok && errno == EAGAIN, "read conflict: ok=%d errno=%s", ok,
	      strerror(errno));
	CHECK(read_is(h1, XBT_NULL, "/test/tx/b", NULL), "b not applied");

	/* Isolation, reading one's own writes, then commit. */
	t = xs_transaction_start(h1);
	CHECK(write_str(h1, t, "/test/tx/c", "3"), "write c");
	CHECK(read_is(h1, t, "/test/tx/c", "3"), "tx sees own write");
	CHECK(read_is(h2, XBT_NULL, "/test/tx/c", NULL), "others do not");
	CHECK(xs_transaction_end(h1, t, false), "commit: %s", strerror(errno));
	CHECK(read_is(h2, XBT_NULL, "/test/tx/c", "3"), "visible after commit");

	/* Abort discards writes and removals. */
	t = xs_transaction_start(h1);
	CHECK(write_str(h1, t, "/test/tx/d", "4"), "write d");
	CHECK(xs_rm(h1, t, "/test/tx/a"), "rm a");
	CHECK(read_is(h1, t, "/test/tx/a", NULL), "rm seen in tx");
	CHECK(xs_transaction_end(h1, t, true), "abort: %s", strerror(errno));
	CHECK(read_is(h1, XBT_NULL, "/test/tx/d", NULL), "d discarded");
	CHECK(read_is(h1, XBT_NULL, "/test/tx/a", "2"), "a kept");

	/* Write against a concurrent write. */
	t = xs_transaction_start(h1);
	CHECK(write_str(h1, t, "/test/tx/a", "5"), "write a in tx");
	CHECK(write_str(h2, XBT_NULL, "/test/tx/a", "6"), "concurrent write");
	ok = xs_transaction_end(h1, t, false);
	CHECK(!ok && errno == EAGAIN, "write conflict: ok=%d", ok);
	CHECK(read_is(h1, XBT_NULL, "/test/tx/a", "6"), "other write wins");

	/* Repeatable reads; the later change still fails the commit. */
	t = xs_transaction_start(h1);
	CHECK(read_is(h1, t, "/test/tx/c", "3"), "first read");
	CHECK(write_str(h2, XBT_NULL, "/test/tx/c", "7"), "concurrent write");
	CHECK(read_is(h1, t, "/test/tx/c", "3"), "repeatable read");
	ok = xs_transaction_end(h1, t, false);
	CHECK(!ok && errno == EAGAIN, "stale read: ok=%d", ok);

	/* Two transactions creating siblings under a new parent both edit
	 * the parent: the second to commit loses. */
	t = xs_transaction_start(h1);
	t2 = xs_transaction_start(h2);
	CHECK(write_str(h1, t, "/test/tx/new/x", "1"), "x");
	CHECK(write_str(h2, t2, "/test/tx/new/y", "1"), "y");
	CHECK(xs_transaction_end(h1, t, false), "first commit");
	ok = xs_transaction_end(h2, t2, false);
	CHECK(!ok && errno == EAGAIN, "sibling conflict: ok=%d", ok);

	/* Disjoint existing nodes: both commit. */
	t = xs_transaction_start(h1);
	t2 = xs_transaction_start(h2);
	CHECK(write_str(h1, t, "/test/tx/a", "8"), "a");
	CHECK(write_str(h2, t2, "/test/tx/c", "9"), "c");
	CHECK(xs_transaction_end(h1, t, false), "t1: %s", strerror(errno));
	CHECK(xs_transaction_end(h2, t2, false), "t2: %s", strerror(errno));
	CHECK(read_is(h1, XBT_NULL, "/test/tx/a", "8") &&
		      read_is(h1, XBT_NULL, "/test/tx/c", "9"),
	      "both applied");

	/* A transaction id the server does not know. */
	CHECK(read_is(h1, 4242, "/test/tx/a", NULL), "unknown tx: ENOENT");
	xs_rm(h1, XBT_NULL, "/test/tx");
	xs_close(h2);
	xs_close(h1);
}

static void test_watch(void)
{
	struct xs_handle *w = open_or_die(), *h = open_or_die();
	struct event ev[16];
	xs_transaction_t t;
	unsigned int n;

	xs_rm(h, XBT_NULL, "/test/w");
	/* The fd before the watch, as an event loop would set it up. */
	CHECK(xs_fileno(w) >= 0, "xs_fileno");
	CHECK(xs_watch(w, "/test/w", "tok"), "watch: %s", strerror(errno));
	n = collect(w, EVENT_WAIT_MS, 1, ev, 16);
	CHECK(n == 1 && has_event(ev, n, "/test/w", "tok"),
	      "initial event on a missing node (%u events)", n);
	CHECK(!xs_watch(w, "/test/w", "tok") && errno == EEXIST,
	      "duplicate watch");

	CHECK(write_str(h, XBT_NULL, "/test/w/child", "1"), "write child");
	n = collect(w, EVENT_WAIT_MS, 1, ev, 16);
	CHECK(n == 1 && has_event(ev, n, "/test/w/child", "tok"),
	      "child change (%u events)", n);

	CHECK(write_str(h, XBT_NULL, "/test/other", "1"), "write elsewhere");
	n = collect(w, QUIET_MS, 0, ev, 16);
	if (!CHECK(n == 0, "no event for a sibling tree (%u)", n))
		print_events("unexpected", ev, n);

	/* Inside a transaction: nothing until commit. */
	t = xs_transaction_start(h);
	CHECK(write_str(h, t, "/test/w/t1", "x"), "tx write");
	n = collect(w, QUIET_MS, 0, ev, 16);
	CHECK(n == 0, "no event before commit (%u)", n);
	CHECK(xs_transaction_end(h, t, false), "commit");
	n = collect(w, EVENT_WAIT_MS, 1, ev, 16);
	CHECK(n == 1 && has_event(ev, n, "/test/w/t1", "tok"),
	      "event at commit (%u)", n);

	/* Recursive RM: a watch on a removed child fires for that child; the
	 * parent's watch gets the removed top node. */
	CHECK(xs_watch(w, "/test/w/child", "c"), "watch child");
	n = collect(w, EVENT_WAIT_MS, 1, ev, 16);
	CHECK(n == 1 && has_event(ev, n, "/test/w/child", "c"), "initial c");
	CHECK(xs_rm(h, XBT_NULL, "/test/w"), "rm");
	n = collect(w, EVENT_WAIT_MS, 2, ev, 16);
	if (!CHECK(n == 2 && has_event(ev, n, "/test/w/child", "c") &&
			   has_event(ev, n, "/test/w", "tok"),
		   "rm events (%u)", n))
		print_events("rm", ev, n);

	/* Relative paths: the event path stays relative. */
	CHECK(xs_watch(w, "rel/w", "r"), "relative watch");
	n = collect(w, EVENT_WAIT_MS, 1, ev, 16);
	CHECK(n == 1 && has_event(ev, n, "rel/w", "r"), "initial relative");
	CHECK(write_str(h, XBT_NULL, "/local/domain/0/rel/w/k", "1"), "write");
	n = collect(w, EVENT_WAIT_MS, 1, ev, 16);
	if (!CHECK(n == 1 && has_event(ev, n, "rel/w/k", "r"), "relative event"))
		print_events("relative", ev, n);

	CHECK(xs_unwatch(w, "/test/w", "tok"), "unwatch");
	CHECK(!xs_unwatch(w, "/test/w", "tok") && errno == ENOENT,
	      "unwatch twice");
	CHECK(write_str(h, XBT_NULL, "/test/w/again", "1"), "write");
	n = collect(w, QUIET_MS, 0, ev, 16);
	CHECK(!has_event(ev, n, "/test/w/again", "tok"), "unwatched is quiet");

	xs_rm(h, XBT_NULL, "/test/w");
	xs_rm(h, XBT_NULL, "/test/other");
	xs_rm(h, XBT_NULL, "/local/domain/0/rel");
	xs_close(h);
	xs_close(w);
}

/* More children than one reply holds: libxenstore gets E2BIG for
 * DIRECTORY and falls back to DIRECTORY_PART. */
static void test_dirpart(void)
{
	struct xs_handle *h = open_or_die();
	unsigned int i, num = 0, bad = 0, total = 600;
	char path[128], **list;
	xs_transaction_t t;

	xs_rm(h, XBT_NULL, "/test/big");
	t = xs_transaction_start(h);
	for (i = 0; i < total; i++) {
		snprintf(path, sizeof(path),
			 "/test/big/a-rather-long-child-name-%04u", i);
		CHECK(write_str(h, t, path, "v"), "write %u", i);
	}
	CHECK(xs_transaction_end(h, t, false), "commit: %s", strerror(errno));
	list = xs_directory(h, XBT_NULL, "/test/big", &num);
	CHECK(list && num == total, "directory: %u of %u (%s)", num, total,
	      list ? "" : strerror(errno));
	for (i = 0; list && i < num; i++) {
		snprintf(path, sizeof(path), "a-rather-long-child-name-%04u", i);
		bad += strcmp(list[i], path) != 0;
	}
	CHECK(!bad, "%u names differ or are out of order", bad);
	free(list);
	xs_rm(h, XBT_NULL, "/test/big");
	xs_close(h);
}

static bool perms_are(struct xs_handle *h, const char *path,
		      const struct xs_permissions *want, unsigned int n)
{
	unsigned int num = 0, i;
	struct xs_permissions *p = xs_get_permissions(h, XBT_NULL, path, &num);
	bool ok = p && num == n;

	for (i = 0; ok && i < n; i++)
		ok = p[i].id == want[i].id && p[i].perms == want[i].perms;
	free(p);
	return ok;
}

static void test_domains(void)
{
	static const struct xs_permissions owned7[] = {
		{ .id = 7, .perms = XS_PERM_NONE },
		{ .id = 0, .perms = XS_PERM_READ },
	};
	struct xs_handle *w = open_or_die(), *h = open_or_die();
	struct event ev[16];
	unsigned int n;
	char *p;

	CHECK(xs_watch(w, "@introduceDomain", "i"), "watch @introduceDomain");
	CHECK(xs_watch(w, "@releaseDomain", "r"), "watch @releaseDomain");
	n = collect(w, EVENT_WAIT_MS, 2, ev, 16);
	CHECK(n == 2, "initial special events (%u)", n);

	CHECK(xs_is_domain_introduced(h, 0), "dom0 introduced");
	CHECK(!xs_is_domain_introduced(h, 7), "dom7 not yet");
	p = xs_get_domain_path(h, 7);
	CHECK(p && !strcmp(p, "/local/domain/7"), "domain path %s", p);
	free(p);

	CHECK(xs_introduce_domain(h, 7, 0x1234, 5), "introduce: %s",
	      strerror(errno));
	n = collect(w, EVENT_WAIT_MS, 1, ev, 16);
	CHECK(n == 1 && has_event(ev, n, "@introduceDomain", "i"),
	      "@introduceDomain (%u)", n);
	CHECK(xs_is_domain_introduced(h, 7), "dom7 introduced");

	/* What libxl leaves: a home owned by dom0, device nodes owned by the
	 * guest, a backend owned by dom0 that the guest may read. */
	CHECK(write_str(h, XBT_NULL, "/local/domain/7/device/vbd/1/state", "1"),
	      "write");
	CHECK(xs_set_permissions(h, XBT_NULL, "/local/domain/7/device",
				 (struct xs_permissions *)owned7, 2),
	      "chown");
	CHECK(perms_are(h, "/local/domain/7/device", owned7, 2), "perms");
	CHECK(write_str(h, XBT_NULL, "/local/domain/0/backend/vbd/7/1/state",
			"2"),
	      "backend");
	CHECK(xs_watch(w, "/local/domain/7/device/vbd/1/state", "d"), "watch");
	n = collect(w, EVENT_WAIT_MS, 1, ev, 16);

	CHECK(xs_release_domain(h, 7), "release: %s", strerror(errno));
	n = collect(w, EVENT_WAIT_MS, 2, ev, 16);
	if (!CHECK(n == 2 && has_event(ev, n, "@releaseDomain", "r") &&
			   has_event(ev, n, "/local/domain/7/device/vbd/1/state",
				     "d"),
		   "release events (%u)", n))
		print_events("release", ev, n);
	CHECK(!xs_is_domain_introduced(h, 7), "dom7 gone");
	CHECK(read_is(h, XBT_NULL, "/local/domain/7/device", NULL),
	      "guest-owned nodes removed");
	CHECK(read_is(h, XBT_NULL, "/local/domain/7", ""), "dom0-owned home kept");
	CHECK(read_is(h, XBT_NULL, "/local/domain/0/backend/vbd/7/1/state", "2"),
	      "backend kept");
	CHECK(!xs_release_domain(h, 7) && errno == ENOENT, "release twice");
	CHECK(!xs_release_domain(h, 0) && errno == EINVAL, "release dom0");

	xs_rm(h, XBT_NULL, "/local/domain/7");
	xs_rm(h, XBT_NULL, "/local/domain/0/backend/vbd");
	xs_close(h);
	xs_close(w);
}

/* libxl 4.17 libxl__device_generic_add() for a virtio disk (xl:
 * "specification=virtio"), in one transaction, retried on EAGAIN. */
static bool libxl_add_disk(struct xs_handle *h, unsigned int fe,
			   unsigned int be, unsigned int devid,
			   const char *target)
{
	char bp[128], fp[128], lp[128], k[192], v[32];
	const struct xs_permissions fperms[] = {
		{ .id = fe, .perms = XS_PERM_NONE },
		{ .id = be, .perms = XS_PERM_READ },
	};
	const struct xs_permissions bperms[] = {
		{ .id = be, .perms = XS_PERM_NONE },
		{ .id = fe, .perms = XS_PERM_READ },
	};
	const char *back[][2] = {
		{ "frontend-id", NULL }, { "online", "1" },
		{ "removable", "0" },	 { "bootable", "1" },
		{ "state", "1" },	 { "dev", "xvda" },
		{ "type", "standalone" }, { "mode", "w" },
		{ "device-type", "disk" }, { "discard-enable", "1" },
		{ "specification", "virtio" }, { "transport", "mmio" },
		{ "base", "33554432" },	 { "irq", "33" },
		{ "params", NULL },
	};
	const char *front[][2] = {
		{ "backend-id", NULL }, { "state", "1" },
		{ "virtual-device", NULL }, { "device-type", "disk" },
		{ "trusted", "1" },
	};
	unsigned int i;
	xs_transaction_t t;
	bool ok;

	snprintf(bp, sizeof(bp), "/local/domain/%u/backend/virtio_disk/%u/%u",
		 be, fe, devid);
	snprintf(fp, sizeof(fp), "/local/domain/%u/device/virtio_disk/%u", fe,
		 devid);
	snprintf(lp, sizeof(lp), "/libxl/%u/device/virtio_disk/%u", fe, devid);
	for (;;) {
		t = xs_transaction_start(h);
		ok = t != XBT_NULL;
		xs_rm(h, t, lp);
		snprintf(k, sizeof(k), "%s/frontend", lp);
		ok = ok && write_str(h, t, k, fp);
		snprintf(k, sizeof(k), "%s/backend", lp);
		ok = ok && write_str(h, t, k, bp);

		xs_rm(h, t, fp);
		ok = ok && xs_mkdir(h, t, fp) &&
		     xs_set_permissions(h, t, fp,
					(struct xs_permissions *)fperms, 2);
		snprintf(k, sizeof(k), "%s/backend", fp);
		ok = ok && write_str(h, t, k, bp);
		for (i = 0; ok && i < sizeof(front) / sizeof(front[0]); i++) {
			snprintf(k, sizeof(k), "%s/%s", fp, front[i][0]);
			snprintf(v, sizeof(v), "%u", i ? devid : be);
			ok = write_str(h, t, k, front[i][1] ? front[i][1] : v) &&
			     xs_set_permissions(h, t, k,
						(struct xs_permissions *)fperms,
						2);
		}

		xs_rm(h, t, bp);
		ok = ok && xs_mkdir(h, t, bp) &&
		     xs_set_permissions(h, t, bp,
					(struct xs_permissions *)bperms, 2);
		snprintf(k, sizeof(k), "%s/frontend", bp);
		ok = ok && write_str(h, t, k, fp);
		snprintf(v, sizeof(v), "%u", fe);
		for (i = 0; ok && i < sizeof(back) / sizeof(back[0]); i++) {
			snprintf(k, sizeof(k), "%s/%s", bp, back[i][0]);
			ok = write_str(h, t, k,
				       back[i][1] ? back[i][1] : i ? target : v);
			snprintf(k, sizeof(k), "%s/%s", lp, back[i][0]);
			ok = ok && write_str(h, t, k,
					     back[i][1] ? back[i][1]
					     : i	? target
							: v);
		}
		if (xs_transaction_end(h, t, !ok) && ok)
			return true;
		if (ok && errno == EAGAIN)
			continue;
		return false;
	}
}

static void test_libxl_disk(unsigned int fe, unsigned int be,
			    unsigned int devid, const char *target)
{
	struct xs_handle *w = open_or_die(), *h = open_or_die();
	const struct xs_permissions bperms[] = {
		{ .id = be, .perms = XS_PERM_NONE },
		{ .id = fe, .perms = XS_PERM_READ },
	};
	char watched[96], bp[128], k[160], fe_s[16];
	struct event ev[64];
	unsigned int n;

	snprintf(watched, sizeof(watched),
		 "/local/domain/%u/backend/virtio_disk", be);
	snprintf(bp, sizeof(bp), "%s/%u/%u", watched, fe, devid);
	snprintf(fe_s, sizeof(fe_s), "%u", fe);
	CHECK(xs_watch(w, watched, "be"), "watch backend dir");
	n = collect(w, EVENT_WAIT_MS, 1, ev, 64);
	CHECK(n == 1, "initial event (%u)", n);

	CHECK(libxl_add_disk(h, fe, be, devid, target), "libxl replay: %s",
	      strerror(errno));
	/* The watcher sees the device complete at its first event. */
	n = collect(w, EVENT_WAIT_MS, 1, ev, 64);
	CHECK(n >= 1, "event after commit (%u)", n);
	snprintf(k, sizeof(k), "%s/params", bp);
	CHECK(read_is(w, XBT_NULL, k, target), "params");
	snprintf(k, sizeof(k), "%s/frontend-id", bp);
	CHECK(read_is(w, XBT_NULL, k, fe_s), "frontend-id");
	snprintf(k, sizeof(k), "%s/base", bp);
	CHECK(read_is(w, XBT_NULL, k, "33554432"), "base");
	snprintf(k, sizeof(k), "%s/state", bp);
	CHECK(read_is(w, XBT_NULL, k, "1"), "state");
	CHECK(perms_are(w, bp, bperms, 2), "backend perms n%u,r%u", be, fe);
	snprintf(k, sizeof(k), "%s/irq", bp);
	CHECK(perms_are(w, k, bperms, 2), "keys inherit the backend perms");

	/* The backend's part: InitWait. */
	snprintf(k, sizeof(k), "%s/state", bp);
	CHECK(write_str(h, XBT_NULL, k, "2"), "backend state 2");
	CHECK(read_is(w, XBT_NULL, k, "2"), "state 2");
	xs_close(h);
	xs_close(w);
}

/* ---- the bare wire protocol ---- */

static int raw_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = getenv("XENSTORED_PATH");
	int fd;

	if (!path || strlen(path) >= sizeof(addr.sun_path))
		return -1;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static bool raw_send(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id,
		     const void *body, uint32_t len)
{
	struct xsd_sockmsg hdr = {
		.type = type, .req_id = req_id, .tx_id = tx_id, .len = len
	};

	return send(fd, &hdr, sizeof(hdr), MSG_NOSIGNAL) == sizeof(hdr) &&
	       (!len || send(fd, body, len, MSG_NOSIGNAL) == (ssize_t)len);
}

static bool recv_all(int fd, void *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if (poll(&pfd, 1, EVENT_WAIT_MS) != 1)
			return false;
		n = recv(fd, (char *)buf + got, len - got, 0);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* The next message that is not a watch event. */
static bool raw_recv(int fd, struct xsd_sockmsg *hdr, char *body)
{
	do {
		if (!recv_all(fd, hdr, sizeof(*hdr)) ||
		    hdr->len > XENSTORE_PAYLOAD_MAX ||
		    !recv_all(fd, body, hdr->len))
			return false;
		body[hdr->len] = '\0';
	} while (hdr->type == XS_WATCH_EVENT);
	return true;
}

/* Send one request; true when the reply has this type and payload. */
static bool raw_expect(int fd, uint32_t type, uint32_t tx_id, const void *req,
		       uint32_t len, uint32_t rtype, const void *rbody,
		       uint32_t rlen)
{
	static uint32_t req_id = 0x10000;
	char body[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg hdr;

	req_id++;
	if (!raw_send(fd, type, req_id, tx_id, req, len) ||
	    !raw_recv(fd, &hdr, body)) {
		fprintf(stderr, "  no reply to type %u\n", type);
		return false;
	}
	if (hdr.type != rtype || hdr.req_id != req_id || hdr.tx_id != tx_id ||
	    hdr.len != rlen || memcmp(body, rbody, rlen)) {
		fprintf(stderr, "  type %u: got type %u req %#x tx %u '%.*s'\n",
			type, hdr.type, hdr.req_id, hdr.tx_id, (int)hdr.len,
			body);
		return false;
	}
	return true;
}

#define S(lit) lit, sizeof(lit) /* a string literal with its NUL */
#define ERR(e) XS_ERROR, S(#e)

static bool closed_by_server(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&pfd, 1, EVENT_WAIT_MS) == 1 && recv(fd, &c, 1, 0) == 0;
}

static void test_raw(void)
{
	char long_path[XENSTORE_ABS_PATH_MAX + 2];
	char reply[64];
	int fd = raw_connect(), fd2;
	uint32_t n;

	CHECK(fd >= 0, "connect: %s", strerror(errno));
	CHECK(raw_expect(fd, XS_READ, 0, S("/local/domain/0/name"), XS_READ,
			 "Domain-0", 8),
	      "read echoes req_id");
	CHECK(raw_expect(fd, XS_READ, 0, S("name"), XS_READ, "Domain-0", 8),
	      "relative to /local/domain/0");
	CHECK(raw_expect(fd, 999, 0, S("x"), ERR(ENOSYS)), "unknown type");
	CHECK(raw_expect(fd, XS_WATCH_EVENT, 0, S("x"), ERR(ENOSYS)),
	      "event as request");
	CHECK(raw_expect(fd, XS_READ, 77, S("/local"), ERR(ENOENT)),
	      "unknown tx_id echoed");
	CHECK(raw_expect(fd, XS_READ, 0, S("/a//b"), ERR(EINVAL)), "//");
	CHECK(raw_expect(fd, XS_READ, 0, S("/a/"), ERR(EINVAL)), "trailing /");
	CHECK(raw_expect(fd, XS_READ, 0, S("/a b"), ERR(EINVAL)), "space");
	CHECK(raw_expect(fd, XS_WRITE, 0, S("@x"), ERR(EINVAL)), "write @");
	CHECK(raw_expect(fd, XS_READ, 0, "/local", 6, ERR(EINVAL)), "no NUL");
	CHECK(raw_expect(fd, XS_READ, 0, S("/local\0extra"), ERR(EINVAL)),
	      "two strings");
	memset(long_path, 'a', sizeof(long_path));
	long_path[0] = '/';
	long_path[XENSTORE_ABS_PATH_MAX + 1] = '\0';
	CHECK(raw_expect(fd, XS_WRITE, 0, long_path, sizeof(long_path),
			 ERR(EINVAL)),
	      "path over XENSTORE_ABS_PATH_MAX");
	long_path[XENSTORE_ABS_PATH_MAX] = '\0';
	CHECK(raw_expect(fd, XS_WRITE, 0, long_path, XENSTORE_ABS_PATH_MAX + 1,
			 XS_WRITE, S("OK")),
	      "path of XENSTORE_ABS_PATH_MAX");
	CHECK(raw_expect(fd, XS_RM, 0, long_path, XENSTORE_ABS_PATH_MAX + 1,
			 XS_RM, S("OK")),
	      "rm it");
	CHECK(raw_expect(fd, XS_RM, 0, S("/"), ERR(EINVAL)), "rm /");
	CHECK(raw_expect(fd, XS_RM, 0, S("/no/such"), ERR(ENOENT)),
	      "rm without parent");
	CHECK(raw_expect(fd, XS_RM, 0, S("/no-such"), XS_RM, S("OK")),
	      "rm absent node");
	CHECK(raw_expect(fd, XS_WRITE, 0, "/test/raw/v\0bin\0ary",
			 sizeof("/test/raw/v\0bin\0ary") - 1, XS_WRITE, S("OK")),
	      "binary value without a trailing NUL");
	CHECK(raw_expect(fd, XS_READ, 0, S("/test/raw/v"), XS_READ, "bin\0ary",
			 7),
	      "read binary value");
	CHECK(raw_expect(fd, XS_GET_PERMS, 0, S("/test/raw/v"), XS_GET_PERMS,
			 S("n0")),
	      "inherited perms");
	CHECK(raw_expect(fd, XS_SET_PERMS, 0, S("/test/raw/v\0b3\0r0x10"),
			 XS_SET_PERMS, S("OK")),
	      "set perms");
	CHECK(raw_expect(fd, XS_GET_PERMS, 0, S("/test/raw/v"), XS_GET_PERMS,
			 S("b3\0r16")),
	      "perms text format");
	CHECK(raw_expect(fd, XS_SET_PERMS, 0, S("/test/raw/v\0x3"),
			 ERR(EINVAL)),
	      "bad perm");
	CHECK(raw_expect(fd, XS_SET_PERMS, 0, S("/test/raw/v"), ERR(EINVAL)),
	      "no perms");
	CHECK(raw_expect(fd, XS_SET_PERMS, 0, S("@releaseDomain\0n0"),
			 XS_SET_PERMS, S("OK")),
	      "special perms");
	CHECK(raw_expect(fd, XS_DIRECTORY, 0, S("/test/raw"), XS_DIRECTORY,
			 S("v")),
	      "directory");
	CHECK(raw_send(fd, XS_DIRECTORY_PART, 5, 0, S("/test/raw\0" "0")) &&
		      raw_recv(fd, &(struct xsd_sockmsg){ 0 }, reply) &&
		      (n = (uint32_t)strlen(reply) + 1,
		       !memcmp(reply + n, "v\0", 3)),
	      "directory part: generation, names, end mark");
	CHECK(raw_expect(fd, XS_GET_DOMAIN_PATH, 0, S("5"), XS_GET_DOMAIN_PATH,
			 S("/local/domain/5")),
	      "domain path");
	CHECK(raw_expect(fd, XS_IS_DOMAIN_INTRODUCED, 0, S("0"),
			 XS_IS_DOMAIN_INTRODUCED, S("T")),
	      "dom0 introduced");
	CHECK(raw_expect(fd, XS_IS_DOMAIN_INTRODUCED, 0, S("32752"),
			 XS_IS_DOMAIN_INTRODUCED, S("T")),
	      "DOMID_SELF");
	CHECK(raw_expect(fd, XS_IS_DOMAIN_INTRODUCED, 0, S("9"),
			 XS_IS_DOMAIN_INTRODUCED, S("F")),
	      "dom9 not introduced");
	CHECK(raw_expect(fd, XS_TRANSACTION_END, 0, S("T"), ERR(ENOENT)),
	      "end without transaction");
	CHECK(raw_expect(fd, XS_TRANSACTION_START, 0, S(""),
			 XS_TRANSACTION_START, S("1")),
	      "first transaction id");
	CHECK(raw_expect(fd, XS_TRANSACTION_START, 1, S(""), ERR(EBUSY)),
	      "nested transaction");
	CHECK(raw_expect(fd, XS_TRANSACTION_END, 1, S("X"), ERR(EINVAL)),
	      "end with junk");
	CHECK(raw_expect(fd, XS_WATCH, 1, S("/test/raw\0t"), XS_WATCH, S("OK")),
	      "watch ignores tx_id");
	CHECK(raw_expect(fd, XS_TRANSACTION_END, 1, S("F"), XS_TRANSACTION_END,
			 S("OK")),
	      "abort");
	CHECK(raw_expect(fd, XS_RESET_WATCHES, 0, S(""), XS_RESET_WATCHES,
			 S("OK")),
	      "reset watches");
	CHECK(raw_expect(fd, XS_UNWATCH, 0, S("/test/raw\0t"), ERR(ENOENT)),
	      "watch gone after reset");
	CHECK(raw_expect(fd, XS_CONTROL, 0, S("no-such-command"), ERR(EINVAL)),
	      "control");
	CHECK(raw_expect(fd, XS_RM, 0, S("/test/raw"), XS_RM, S("OK")), "rm");

	/* Oversized payload: xenstored drops the connection. */
	CHECK(raw_send(fd, XS_READ, 1, 0, NULL, 0) &&
		      raw_recv(fd, &(struct xsd_sockmsg){ 0 }, reply),
	      "still talking");
	{
		struct xsd_sockmsg big = { .type = XS_WRITE,
					   .len = XENSTORE_PAYLOAD_MAX + 1 };

		CHECK(send(fd, &big, sizeof(big), MSG_NOSIGNAL) == sizeof(big) &&
			      closed_by_server(fd),
		      "oversized message closes the connection");
	}
	close(fd);

	/* Half a header, then gone. */
	fd = raw_connect();
	CHECK(fd >= 0 && send(fd, "\x02\0\0", 3, MSG_NOSIGNAL) == 3,
	      "half header");
	close(fd);
	/* A client that never reads, with a watch on everything. */
	fd2 = raw_connect();
	CHECK(fd2 >= 0 && raw_send(fd2, XS_WATCH, 0, 0, S("/\0all")),
	      "silent watcher");
	fd = raw_connect();
	CHECK(raw_expect(fd, XS_READ, 0, S("name"), XS_READ, "Domain-0", 8),
	      "server still serves");
	close(fd);
	close(fd2);
}

/* Random bytes from several clients at once, then a normal request. */
static void test_garbage(void)
{
	unsigned char buf[4096];
	unsigned int seed = 12345, i, k, round;
	int fds[8];
	size_t j;

	for (round = 0; round < 20; round++) {
		for (k = 0; k < 8; k++) {
			fds[k] = raw_connect();
			for (i = 0; fds[k] >= 0 && i < 8; i++) {
				for (j = 0; j < sizeof(buf); j++)
					buf[j] = (unsigned char)(rand_r(&seed) >> 7);
				/* Small lengths, so that some messages parse. */
				if (k & 1) {
					buf[12] = buf[12] & 0x3f;
					buf[13] = buf[14] = buf[15] = 0;
					buf[0] %= XS_TYPE_COUNT + 2;
					buf[1] = buf[2] = buf[3] = 0;
				}
				if (send(fds[k], buf, sizeof(buf) >> (i & 3),
					 MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
					break;
			}
		}
		for (k = 0; k < 8; k++) {
			if (fds[k] >= 0)
				close(fds[k]);
		}
	}
	fds[0] = raw_connect();
	CHECK(fds[0] >= 0 && raw_expect(fds[0], XS_READ, 0, S("name"), XS_READ,
					"Domain-0", 8),
	      "server survives garbage");
	close(fds[0]);
}

/* ---- the in-process API, as the hypervisor simulator uses it ---- */

static bool api_read_is(struct xs_server *srv, const char *path,
			const char *want)
{
	char *v = NULL;
	int rc = xs_server_read(srv, path, &v);
	bool ok = want ? !rc && !strcmp(v, want) : rc == -ENOENT;

	free(v);
	return ok;
}

static void test_api(const char *dir)
{
	struct xs_server *srv = NULL, *other = NULL;
	struct xs_handle *h;
	struct event ev[16];
	char sock[256], *perms = NULL;
	unsigned int n;
	int rc;

	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	rc = xs_server_start(sock, &srv);
	if (!CHECK(!rc, "start: %s", strerror(-rc)))
		return;
	rc = xs_server_start(sock, &other);
	CHECK(rc == -EADDRINUSE, "a live server's socket is kept: %d", rc);
	setenv("XENSTORED_PATH", sock, 1);
	h = open_or_die();

	CHECK(xs_watch(h, "@introduceDomain", "i") &&
		      xs_watch(h, "@releaseDomain", "r") &&
		      xs_watch(h, "/local/domain/9", "d"),
	      "watches");
	n = collect(h, EVENT_WAIT_MS, 3, ev, 16);
	CHECK(n == 3, "initial events (%u)", n);

	CHECK(!xs_server_introduce_domain(srv, 9), "introduce");
	n = collect(h, EVENT_WAIT_MS, 2, ev, 16);
	if (!CHECK(n == 2 && has_event(ev, n, "/local/domain/9", "d") &&
			   has_event(ev, n, "@introduceDomain", "i"),
		   "introduce events (%u)", n))
		print_events("introduce", ev, n);
	CHECK(xs_is_domain_introduced(h, 9), "introduced");
	CHECK(!xs_server_get_perms(srv, "/local/domain/9", &perms) && perms &&
		      !strcmp(perms, "n0 r9"),
	      "home owned by dom0, readable by the guest: %s", perms);
	free(perms);
	CHECK(!xs_server_introduce_domain(srv, 9), "introduce twice");
	CHECK(xs_server_introduce_domain(srv, 0) == -EINVAL, "dom0");
	CHECK(xs_server_introduce_domain(srv, 0x7ff0) == -EINVAL, "reserved");

	CHECK(!xs_server_write(srv, "/local/domain/9/data/x", "1"), "write");
	n = collect(h, EVENT_WAIT_MS, 1, ev, 16);
	CHECK(n == 1 && has_event(ev, n, "/local/domain/9/data/x", "d"),
	      "API writes fire watches (%u)", n);
	CHECK(read_is(h, XBT_NULL, "/local/domain/9/data/x", "1"),
	      "client sees API write");
	CHECK(write_str(h, XBT_NULL, "/local/domain/9/data/y", "2"), "write");
	CHECK(api_read_is(srv, "/local/domain/9/data/y", "2"),
	      "API sees client write");
	CHECK(api_read_is(srv, "/local/domain/9/none", NULL), "ENOENT");
	CHECK(xs_server_write(srv, "/bad//path", "x") == -EINVAL, "bad path");
	CHECK(xs_server_write(srv, "relative", "x") == -EINVAL,
	      "API paths are absolute");

	/* Guest death: its nodes go, its home stays for the toolstack. */
	CHECK(xs_set_permissions(h, XBT_NULL, "/local/domain/9/data",
				 &(struct xs_permissions){ .id = 9 }, 1),
	      "chown to the guest");
	collect(h, EVENT_WAIT_MS, 1, ev, 16);
	CHECK(!xs_server_release_domain(srv, 9), "release");
	n = collect(h, EVENT_WAIT_MS, 2, ev, 16);
	CHECK(n == 2 && has_event(ev, n, "/local/domain/9/data", "d") &&
		      has_event(ev, n, "@releaseDomain", "r"),
	      "release events (%u)", n);
	CHECK(!xs_is_domain_introduced(h, 9), "released");
	CHECK(api_read_is(srv, "/local/domain/9/data/x", NULL), "data gone");
	CHECK(api_read_is(srv, "/local/domain/9", ""), "home kept");
	CHECK(xs_server_release_domain(srv, 9) == -ENOENT, "release twice");
	CHECK(!xs_server_rm(srv, "/local/domain/9"), "toolstack cleanup");
	n = collect(h, EVENT_WAIT_MS, 1, ev, 16);
	CHECK(n == 1 && has_event(ev, n, "/local/domain/9", "d"),
	      "rm event (%u)", n);
	CHECK(xs_server_rm(srv, "/") == -EINVAL, "rm /");

	xs_close(h);
	xs_server_stop(srv);
	CHECK(access(sock, F_OK) && errno == ENOENT, "socket unlinked");
	xs_server_stop(NULL);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "conflict"))
		test_conflict();
	else if (!strcmp(cmd, "watch"))
		test_watch();
	else if (!strcmp(cmd, "dirpart"))
		test_dirpart();
	else if (!strcmp(cmd, "domains"))
		test_domains();
	else if (!strcmp(cmd, "libxl-disk") && argc == 6)
		test_libxl_disk((unsigned int)atoi(argv[2]),
				(unsigned int)atoi(argv[3]),
				(unsigned int)atoi(argv[4]), argv[5]);
	else if (!strcmp(cmd, "raw"))
		test_raw();
	else if (!strcmp(cmd, "garbage"))
		test_garbage();
	else if (!strcmp(cmd, "api") && argc == 3)
		test_api(argv[2]);
	else {
		fprintf(stderr,
			"usage: %s conflict|watch|dirpart|domains|raw|garbage\n"
			"       %s libxl-disk FE BE DEVID TARGET\n"
			"       %s api DIR\n",
			argv[0], argv[0], argv[0]);
		return 2;
	}
	if (failures)
		fprintf(stderr, "%s: %u check(s) failed\n", cmd, failures);
	return failures ? 1 : 0;
}
