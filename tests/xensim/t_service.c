/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim integration tests, service mode (issue 5): the daemon started
 * with no disk watches xenstore; this test plays libxl 4.17 with the real
 * libxenstore against the simulator's xenstore server, writing each
 * device's backend and frontend directories in one transaction, byte for
 * byte as device_disk_add does (xen-interfaces.md §5.2), and removing
 * them as libxl__initiate_device_generic_remove does.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "../unit/check.h"
#include "guest_blk.h"
#include "sim.h"

#define RAM_SIZE (64ull << 20)
#define DISK_SIZE (8ull << 20)
#define BASE0 0x2000000ull
#define STATE2_MS 1000u /* libxl waits 10 s; we promise well under 1 s */
#define WAIT_MS 5000u

struct env {
	struct sim *sim;
	struct xs_handle *xs;
	char dir[128];
	char xs_path[192];
	char lock_path[192];
	char log[256];
	pid_t pid;
};

static struct env env;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static const char *daemon_path(void)
{
	const char *p = getenv("XVB_DAEMON");

	return p && *p ? p : XVB_DAEMON_PATH;
}

static void note_log(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	printf("# daemon log %s:\n", path);
	while (fgets(line, sizeof(line), f))
		printf("#   %s", line);
	fclose(f);
}

static void env_begin(const char *name)
{
	struct sim_config cfg = { .ioreq_timeout_ms = 10000 };
	int rc;

	env = (struct env){ .pid = 0 };
	snprintf(env.dir, sizeof(env.dir), "/tmp/xvb-svc-%s-XXXXXX", name);
	CHECK(mkdtemp(env.dir) != NULL);
	snprintf(env.xs_path, sizeof(env.xs_path), "%s/xenstored.sock", env.dir);
	snprintf(env.lock_path, sizeof(env.lock_path), "%s/lock", env.dir);
	mkdir("build/test-logs", 0755);
	snprintf(env.log, sizeof(env.log), "build/test-logs/xensim-service-%s.log", name);
	cfg.xenstore_path = env.xs_path;
	rc = sim_start(&cfg, &env.sim);
	if (rc)
		check_fail(__FILE__, __LINE__, "sim_start: %s", strerror(-rc));
	setenv("XENSTORED_PATH", env.xs_path, 1);
	setenv("XVB_LOCK_PATH", env.lock_path, 1);
	env.xs = xs_open(0);
	CHECK(env.xs != NULL);
	alarm(120);
}

static pid_t daemon_start_cfg(const char *log, const char *config)
{
	char *argv[] = { (char *)daemon_path(), "--foreground", "-v", config ? "-c" : NULL,
			 (char *)config, NULL };
	pid_t pid;
	int rc;

	rc = sim_daemon_start(env.sim, argv, log, &pid);
	if (rc)
		check_fail(__FILE__, __LINE__, "sim_daemon_start: %s", strerror(-rc));
	return pid;
}

static pid_t daemon_start(const char *log)
{
	return daemon_start_cfg(log, NULL);
}

static void service_start_cfg(const char *config)
{
	env.pid = daemon_start_cfg(env.log, config);
	if (sim_daemon_wait_log(env.log, "ready: service mode", WAIT_MS)) {
		note_log(env.log);
		check_fail(__FILE__, __LINE__, "daemon never reached service mode");
	}
}

static void service_start(void)
{
	env.pid = daemon_start(env.log);
	if (sim_daemon_wait_log(env.log, "ready: service mode", WAIT_MS)) {
		note_log(env.log);
		check_fail(__FILE__, __LINE__, "daemon never reached service mode");
	}
}

/* Daemon exits 0 on SIGTERM, holds nothing, no protocol violation. */
static void env_end(void)
{
	struct sim_holdings h;
	char viol[2048] = "";
	unsigned nviol;
	int st = 0, rc = 0;

	if (env.pid > 0)
		rc = sim_daemon_stop(env.pid, SIGTERM, 10000, &st);
	env.pid = 0;
	for (unsigned i = 0; i < 300; i++) {
		sim_holdings(env.sim, &h);
		if (!h.servers && !h.ranges && !h.bound_ports && !h.foreign_pages &&
		    !h.resource_maps && !h.connections)
			break;
		sleep_ms(10);
	}
	nviol = sim_violations(env.sim, viol, sizeof(viol));
	if (rc || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || nviol || h.servers || h.ranges ||
	    h.bound_ports || h.foreign_pages || h.connections) {
		printf("# exit rc %d status %d; violations %u: %s\n", rc, st, nviol, viol);
		printf("# held: servers %u ranges %u ports %u pages %u conns %u\n", h.servers,
		       h.ranges, h.bound_ports, h.foreign_pages, h.connections);
		note_log(env.log);
	}
	xs_close(env.xs);
	sim_stop(env.sim);
	alarm(0);
	CHECK_EQ(rc, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ(nviol, 0);
	CHECK_EQ(h.servers + h.ranges + h.bound_ports + h.foreign_pages + h.connections, 0);
	/* Images and the socket were in env.dir. */
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env.dir);
	CHECK_EQ(system(cmd), 0);
}

static void make_image(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, (off_t)DISK_SIZE), 0);
	close(fd);
}

/* One device as libxl 4.17 describes it; fields NULL are not written. */
struct dev {
	unsigned domid, devid;
	const char *vdev, *params, *mode, *base, *irq;
	const char *type, *specification, *transport;
};

static void bdir(const struct dev *d, char *buf, size_t len)
{
	snprintf(buf, len, "/local/domain/0/backend/virtio_disk/%u/%u", d->domid, d->devid);
}

static void txn_write(xs_transaction_t t, const char *dir, const char *key, const char *val)
{
	char path[256];

	if (!val)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	CHECK(xs_write(env.xs, t, path, val, (unsigned)strlen(val)));
}

/* libxl device_disk_add: backend and frontend directories in one transaction. */
static void libxl_add(const struct dev *d)
{
	char be[160], fe[160], fe_id[16], devid[16];
	struct xs_permissions be_perms[2] = { { .id = 0, .perms = XS_PERM_NONE },
					      { .id = d->domid, .perms = XS_PERM_READ } };
	struct xs_permissions fe_perms[2] = { { .id = d->domid, .perms = XS_PERM_NONE },
					      { .id = 0, .perms = XS_PERM_READ } };
	xs_transaction_t t;

	bdir(d, be, sizeof(be));
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/virtio_disk/%u", d->domid, d->devid);
	snprintf(fe_id, sizeof(fe_id), "%u", d->domid);
	snprintf(devid, sizeof(devid), "%u", d->devid);
	for (;;) {
		t = xs_transaction_start(env.xs);
		CHECK(t != XBT_NULL);
		CHECK(xs_mkdir(env.xs, t, fe));
		CHECK(xs_set_permissions(env.xs, t, fe, fe_perms, 2));
		CHECK(xs_mkdir(env.xs, t, be));
		CHECK(xs_set_permissions(env.xs, t, be, be_perms, 2));
		txn_write(t, fe, "backend", be);
		txn_write(t, fe, "backend-id", "0");
		txn_write(t, fe, "state", "1");
		txn_write(t, fe, "virtual-device", devid);
		txn_write(t, fe, "device-type", "disk");
		txn_write(t, fe, "trusted", "1");
		txn_write(t, be, "frontend", fe);
		txn_write(t, be, "params", d->params);
		txn_write(t, be, "frontend-id", fe_id);
		txn_write(t, be, "online", "1");
		txn_write(t, be, "removable", "0");
		txn_write(t, be, "bootable", "1");
		txn_write(t, be, "state", "1");
		txn_write(t, be, "dev", d->vdev);
		txn_write(t, be, "type", d->type ? d->type : "standalone");
		txn_write(t, be, "mode", d->mode ? d->mode : "w");
		txn_write(t, be, "device-type", "disk");
		txn_write(t, be, "discard-enable", "1");
		txn_write(t, be, "specification", d->specification ? d->specification : "virtio");
		txn_write(t, be, "transport", d->transport ? d->transport : "mmio");
		txn_write(t, be, "base", d->base);
		txn_write(t, be, "irq", d->irq);
		if (xs_transaction_end(env.xs, t, false))
			return;
		CHECK_EQ(errno, EAGAIN);
	}
}

/* libxl__initiate_device_generic_remove: online 0, state 5 (one transaction). */
static void libxl_close(const struct dev *d)
{
	char be[160];
	xs_transaction_t t;

	bdir(d, be, sizeof(be));
	for (;;) {
		t = xs_transaction_start(env.xs);
		CHECK(t != XBT_NULL);
		txn_write(t, be, "online", "0");
		txn_write(t, be, "state", "5");
		if (xs_transaction_end(env.xs, t, false))
			return;
		CHECK_EQ(errno, EAGAIN);
	}
}

/* After state 6: libxl removes both directories. */
static void libxl_remove(const struct dev *d)
{
	char be[160], fe[160];

	bdir(d, be, sizeof(be));
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/virtio_disk/%u", d->domid, d->devid);
	xs_rm(env.xs, XBT_NULL, fe);
	CHECK(xs_rm(env.xs, XBT_NULL, be));
}

/* Milliseconds until the backend state reads want, or -1 after timeout_ms. */
static long wait_state(const struct dev *d, const char *want, unsigned timeout_ms)
{
	char be[160], path[192];
	uint64_t start = now_ms();

	bdir(d, be, sizeof(be));
	snprintf(path, sizeof(path), "%s/state", be);
	for (;;) {
		unsigned len;
		char *v = xs_read(env.xs, XBT_NULL, path, &len);
		bool ok = v && strcmp(v, want) == 0;
		uint64_t el = now_ms() - start;

		free(v);
		if (ok)
			return (long)el;
		if (el > timeout_ms)
			return -1;
		sleep_ms(5);
	}
}

#define CHECK_STATE(d, want, ms)                                                           \
	do {                                                                               \
		long el_ = wait_state((d), (want), (ms));                                  \
		if (el_ < 0) {                                                             \
			note_log(env.log);                                                 \
			check_fail(__FILE__, __LINE__, "dom%u/%u: state never %s in %u ms", \
				   (d)->domid, (d)->devid, (want), (unsigned)(ms));        \
		}                                                                          \
	} while (0)

static struct sim_guest *new_guest(uint16_t domid, struct guest_vm *vm)
{
	struct sim_guest *g;

	CHECK_EQ(sim_guest_create(env.sim, domid, RAM_SIZE, 1, &g), 0);
	CHECK_EQ(guest_vm_init(vm, g, 1), 0);
	return g;
}

/* Write a sector through the guest driver and read it back; check the image. */
static void io_check(struct guest_vm *vm, uint64_t base, unsigned irq, const char *image)
{
	static struct gblk b;
	uint8_t buf[512], back[512], st = 0xff;
	int fd;

	memset(&b, 0, sizeof(b));
	CHECK_EQ(gblk_open(&b, vm, base, irq, NULL), 0);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + base);
	CHECK_EQ(gblk_write(&b, 0, 3, buf, sizeof(buf), &st), 0);
	CHECK_EQ(st, 0);
	CHECK_EQ(gblk_read(&b, 0, 3, back, sizeof(back), &st), 0);
	CHECK_EQ(st, 0);
	CHECK(memcmp(buf, back, sizeof(buf)) == 0);
	fd = open(image, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, back, sizeof(back), 3 * 512), (long)sizeof(back));
	close(fd);
	CHECK(memcmp(buf, back, sizeof(buf)) == 0);
	CHECK_EQ(gblk_reset(&b, 0), 0);
	gblk_close(&b);
}

static bool claimed(struct sim_guest *g, uint64_t addr)
{
	uint64_t v;

	return sim_mmio_read(g, 0, addr, 4, &v) == 0;
}

TEST(discovery_state2_io_and_close)
{
	struct guest_vm vm;
	struct sim_guest *g;
	char img[192];
	struct dev d = { .domid = 1, .devid = 51712, .vdev = "xvda", .params = img,
			 .base = "33554432", .irq = "33" };
	long el;

	env_begin("discovery");
	snprintf(img, sizeof(img), "%s/a.img", env.dir);
	make_image(img);
	g = new_guest(1, &vm);
	service_start();

	libxl_add(&d);
	el = wait_state(&d, "2", STATE2_MS);
	if (el < 0)
		note_log(env.log);
	CHECK(el >= 0);
	printf("# state 2 after %ld ms\n", el);
	CHECK_EQ(sim_wait_claimed(g, BASE0, WAIT_MS), 0);
	CHECK_EQ(sim_daemon_wait_log(env.log, "dom1/xvda: info: serving", WAIT_MS), 0);
	io_check(&vm, BASE0, 33, img);
	/* Kept at 2: libxl must never see 4. */
	sleep_ms(100);
	CHECK(wait_state(&d, "2", 0) >= 0);

	libxl_close(&d);
	CHECK_STATE(&d, "6", STATE2_MS);
	CHECK(!claimed(g, BASE0));
	{
		struct sim_holdings h;

		sim_holdings(env.sim, &h);
		CHECK_EQ(h.servers, 0); /* the guest's last disk: server destroyed */
	}
	libxl_remove(&d);
	sleep_ms(50);
	guest_vm_fini(&vm);
	sim_guest_destroy(g);
	env_end();
}

TEST(existing_nodes_served_at_startup)
{
	struct guest_vm vm;
	struct sim_guest *g;
	char img[192];
	struct dev d = { .domid = 2, .devid = 51728, .vdev = "xvdb", .params = img,
			 .mode = "r", .base = "33554944", .irq = "34" };

	env_begin("startup");
	snprintf(img, sizeof(img), "%s/b.img", env.dir);
	make_image(img);
	g = new_guest(2, &vm);
	libxl_add(&d);
	service_start();
	CHECK_STATE(&d, "2", STATE2_MS);
	CHECK_EQ(sim_wait_claimed(g, BASE0 + 0x200, WAIT_MS), 0);
	CHECK_EQ(sim_daemon_wait_log(env.log, "dom2/xvdb: info: serving .*read-only", WAIT_MS), 0);
	guest_vm_fini(&vm);
	sim_guest_destroy(g);
	/* The guest died: its disk is closed while libxl's directory stays. */
	CHECK_STATE(&d, "6", STATE2_MS);
	env_end();
}

TEST(bad_nodes_refused_daemon_alive_others_served)
{
	struct guest_vm vm;
	struct sim_guest *g;
	char img[192];
	struct dev good = { .domid = 1, .devid = 51712, .vdev = "xvda", .params = img,
			    .base = "33554432", .irq = "33" };
	struct dev bad[] = {
		{ .domid = 1, .devid = 51728, .vdev = "xvdb", .params = img, .base = "33554433",
		  .irq = "34" },
		{ .domid = 1, .devid = 51744, .vdev = "xvdc", .params = img, .base = "33555456",
		  .irq = "99" },
		{ .domid = 1, .devid = 51760, .vdev = "xvdd", .params = NULL, .base = "33555968",
		  .irq = "36" },
		{ .domid = 1, .devid = 51776, .vdev = "xvde", .params = img, .base = "0x2000800",
		  .irq = "37" },
		{ .domid = 1, .devid = 51792, .vdev = "xvdf", .params = "/nonexistent.img",
		  .base = "33556992", .irq = "38" },
		{ .domid = 1, .devid = 51808, .vdev = "xvdg", .params = img, .base = "33557504",
		  .irq = "33" }, /* good's IRQ */
		{ .domid = 1, .devid = 51824, .vdev = "xvdh", .params = img, .base = "33558016",
		  .irq = "40", .specification = "xen" },
	};
	static const char *const reasons[] = {
		"dom1/xvdb: error: refused .*base: 33554433 is not aligned to 0x200",
		"dom1/xvdc: error: refused .*irq: 99 is outside",
		"dom1/xvdd: error: refused .*params: missing",
		"dom1/xvde: error: refused .*base: 0x2000800 is not a number",
		"dom1/xvdf: error: refused .*params: /nonexistent.img: No such file",
		"dom1/xvdg: error: refused .*irq: 33 is already used by dom1/xvda",
		"dom1/xvdh: error: refused .*specification: xen is not virtio",
	};

	env_begin("bad_nodes");
	snprintf(img, sizeof(img), "%s/a.img", env.dir);
	make_image(img);
	g = new_guest(1, &vm);
	service_start();
	libxl_add(&good);
	CHECK_STATE(&good, "2", STATE2_MS);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		libxl_add(&bad[i]);
		CHECK_STATE(&bad[i], "6", STATE2_MS);
		if (sim_daemon_wait_log(env.log, reasons[i], WAIT_MS)) {
			note_log(env.log);
			check_fail(__FILE__, __LINE__, "no log line /%s/", reasons[i]);
		}
	}
	/* Still alive, and the good disk still works. */
	CHECK_EQ(kill(env.pid, 0), 0);
	io_check(&vm, BASE0, 33, img);
	CHECK(wait_state(&good, "2", 0) >= 0);
	/* The refused ones go when libxl removes them; nothing else changes. */
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		libxl_remove(&bad[i]);
	sleep_ms(50);
	CHECK(claimed(g, BASE0));
	guest_vm_fini(&vm);
	sim_guest_destroy(g);
	CHECK_STATE(&good, "6", STATE2_MS);
	env_end();
}

TEST(two_guests_death_and_reboot)
{
	struct guest_vm vm1, vm2, vm3;
	struct sim_guest *g1, *g2, *g3;
	char img[4][192];
	struct dev d[4] = {
		{ .domid = 1, .devid = 51712, .vdev = "xvda", .params = img[0], .base = "33554432",
		  .irq = "33" },
		{ .domid = 1, .devid = 51728, .vdev = "xvdb", .params = img[1], .base = "33554944",
		  .irq = "34" },
		{ .domid = 2, .devid = 51712, .vdev = "xvda", .params = img[2], .base = "33554432",
		  .irq = "33" },
		{ .domid = 2, .devid = 51728, .vdev = "xvdb", .params = img[3], .base = "33554944",
		  .irq = "34" },
	};

	env_begin("two_guests");
	for (unsigned i = 0; i < 4; i++) {
		snprintf(img[i], sizeof(img[i]), "%s/%u.img", env.dir, i);
		make_image(img[i]);
	}
	g1 = new_guest(1, &vm1);
	g2 = new_guest(2, &vm2);
	service_start();
	for (unsigned i = 0; i < 4; i++)
		libxl_add(&d[i]);
	for (unsigned i = 0; i < 4; i++)
		CHECK_STATE(&d[i], "2", STATE2_MS);
	io_check(&vm1, BASE0 + 0x200, 34, img[1]);
	io_check(&vm2, BASE0, 33, img[2]);

	/* dom1 dies (xl destroy: the domain goes, then libxl closes and removes). */
	guest_vm_fini(&vm1);
	sim_guest_destroy(g1);
	CHECK_STATE(&d[0], "6", STATE2_MS);
	CHECK_STATE(&d[1], "6", STATE2_MS);
	libxl_close(&d[0]);
	libxl_close(&d[1]);
	libxl_remove(&d[0]);
	libxl_remove(&d[1]);
	/* dom2 unaffected. */
	io_check(&vm2, BASE0 + 0x200, 34, img[3]);

	/* Reboot of dom1 as dom3, same images. */
	g3 = new_guest(3, &vm3);
	d[0].domid = d[1].domid = 3;
	libxl_add(&d[0]);
	libxl_add(&d[1]);
	CHECK_STATE(&d[0], "2", STATE2_MS);
	CHECK_STATE(&d[1], "2", STATE2_MS);
	io_check(&vm3, BASE0, 33, img[0]);

	guest_vm_fini(&vm2);
	guest_vm_fini(&vm3);
	sim_guest_destroy(g2);
	sim_guest_destroy(g3);
	env_end();
}

TEST(second_service_instance_refused)
{
	char log2[300];
	pid_t pid2;
	int st = 0;

	env_begin("singleton");
	service_start();
	snprintf(log2, sizeof(log2), "%s.second", env.log);
	pid2 = daemon_start(log2);
	CHECK_EQ(sim_daemon_stop(pid2, 0, 5000, &st), 0);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 1);
	CHECK_EQ(sim_daemon_wait_log(log2, "another xen-virtio-blkd service already runs", 100),
		 0);
	unlink(log2);
	env_end();
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
}

/* libxl 4.18 libxl__device_virtio_add: no params, hex base; the image comes from the file. */
TEST(virtio_418_image_from_config)
{
	char img[192], conf[192], text[512], be[160];
	struct guest_vm vm;
	struct sim_guest *g;
	xs_transaction_t t;
	long el = -1;

	env_begin("virtio418");
	snprintf(img, sizeof(img), "%s/v.img", env.dir);
	make_image(img);
	snprintf(conf, sizeof(conf), "%s/blkd.conf", env.dir);
	snprintf(text, sizeof(text), "[global]\nlog_level = info\n[disk:xvdz]\ndomid = 1\n"
		 "devid = 0\npath = %s\nserial = SVC418\nqueues = 2\n", img);
	write_file(conf, text);
	g = new_guest(1, &vm);
	service_start_cfg(conf);

	snprintf(be, sizeof(be), "/local/domain/0/backend/virtio/1/0");
	for (;;) {
		t = xs_transaction_start(env.xs);
		CHECK(t != XBT_NULL);
		txn_write(t, be, "frontend", "/local/domain/1/device/virtio/0");
		txn_write(t, be, "frontend-id", "1");
		txn_write(t, be, "online", "1");
		txn_write(t, be, "state", "1");
		txn_write(t, be, "irq", "33");
		txn_write(t, be, "base", "0x2000000");
		txn_write(t, be, "type", "virtio,device2");
		txn_write(t, be, "transport", "mmio");
		txn_write(t, be, "grant_usage", "0");
		if (xs_transaction_end(env.xs, t, false))
			break;
		CHECK_EQ(errno, EAGAIN);
	}
	for (uint64_t start = now_ms(); now_ms() - start < STATE2_MS;) {
		unsigned len;
		char path[192], *v;

		snprintf(path, sizeof(path), "%s/state", be);
		v = xs_read(env.xs, XBT_NULL, path, &len);
		if (v && strcmp(v, "2") == 0)
			el = (long)(now_ms() - start);
		free(v);
		if (el >= 0)
			break;
		sleep_ms(5);
	}
	if (el < 0)
		note_log(env.log);
	CHECK(el >= 0);
	CHECK_EQ(sim_daemon_wait_log(env.log, "dom1/xvdz: info: serving .*v.img", WAIT_MS), 0);
	/* The section's own queues (a driver may use fewer: io_check uses one). */
	CHECK_EQ(sim_daemon_wait_log(env.log, "dom1/xvdz: info: 2 queue", WAIT_MS), 0);
	io_check(&vm, BASE0, 33, img);
	guest_vm_fini(&vm);
	sim_guest_destroy(g);
	env_end();
}

/* [global] queues/threads apply to the disks xl writes: the guest gets MQ. */
TEST(global_queues_for_xl_disks)
{
	struct gblk_opts o = { .nr_queues = 2 };
	static struct gblk b;
	struct guest_vm vm;
	struct sim_guest *g;
	char img[192], conf[192];
	struct dev d = { .domid = 1, .devid = 51712, .vdev = "xvda", .params = img,
			 .base = "33554432", .irq = "33" };
	uint8_t buf[4096], st = 0xff;

	env_begin("globalq");
	snprintf(img, sizeof(img), "%s/q.img", env.dir);
	make_image(img);
	snprintf(conf, sizeof(conf), "%s/blkd.conf", env.dir);
	write_file(conf, "[global]\nlog_level = info\nqueues = 2\nthreads = 2\n");
	/* Two vCPUs: the driver puts vCPU i's requests on queue i. */
	CHECK_EQ(sim_guest_create(env.sim, 1, RAM_SIZE, 2, &g), 0);
	CHECK_EQ(guest_vm_init(&vm, g, 2), 0);
	service_start_cfg(conf);
	libxl_add(&d);
	if (wait_state(&d, "2", STATE2_MS) < 0)
		note_log(env.log);
	CHECK_EQ(sim_daemon_wait_log(env.log, "dom1/xvda: info: 2 queue\\(s\\) on 2 queue thread",
				     WAIT_MS),
		 0);
	memset(&b, 0, sizeof(b));
	CHECK_EQ(gblk_open(&b, &vm, BASE0, 33, &o), 0);
	CHECK_EQ(b.nr_queues, 2);
	for (unsigned q = 0; q < 2; q++) {
		memset(buf, 0x40 + q, sizeof(buf));
		CHECK_EQ(gblk_write(&b, q, 8 * q, buf, sizeof(buf), &st), 0);
		CHECK_EQ(st, 0);
	}
	CHECK_EQ(gblk_reset(&b, 0), 0);
	gblk_close(&b);
	libxl_close(&d);
	CHECK_STATE(&d, "6", STATE2_MS);
	libxl_remove(&d);
	guest_vm_fini(&vm);
	sim_guest_destroy(g);
	env_end();
}

TEST(config_error_names_file_section_key)
{
	char conf[192], log2[300], want[300];
	pid_t pid;
	int st = 0;

	env_begin("config_error");
	snprintf(conf, sizeof(conf), "%s/bad.conf", env.dir);
	write_file(conf, "[disk:foo]\ndomid = 5\npath = /x.img\nbase = 0x2000100\nirq = 33\n");
	snprintf(log2, sizeof(log2), "%s.daemon", env.log);
	pid = daemon_start_cfg(log2, conf);
	CHECK_EQ(sim_daemon_stop(pid, 0, 5000, &st), 0);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 2);
	snprintf(want, sizeof(want), "%s: \\[disk:foo\\] base: 0x2000100 is not aligned to 0x200",
		 conf);
	if (sim_daemon_wait_log(log2, want, 100)) {
		note_log(log2);
		check_fail(__FILE__, __LINE__, "no /%s/", want);
	}
	unlink(log2);
	env_end();
}

/* As libxl_add, but the backend directory owned by owner (not the backend domain). */
static void add_owned_by(const struct dev *d, unsigned owner)
{
	char be[160], devid[16], fe_id[16];
	struct xs_permissions perms[1] = { { .id = owner, .perms = XS_PERM_NONE } };
	xs_transaction_t t;

	bdir(d, be, sizeof(be));
	snprintf(devid, sizeof(devid), "%u", d->devid);
	snprintf(fe_id, sizeof(fe_id), "%u", d->domid);
	for (;;) {
		t = xs_transaction_start(env.xs);
		CHECK(t != XBT_NULL);
		CHECK(xs_mkdir(env.xs, t, be));
		txn_write(t, be, "params", d->params);
		txn_write(t, be, "frontend-id", fe_id);
		txn_write(t, be, "online", "1");
		txn_write(t, be, "state", "1");
		txn_write(t, be, "dev", d->vdev);
		txn_write(t, be, "type", "standalone");
		txn_write(t, be, "mode", "w");
		txn_write(t, be, "specification", "virtio");
		txn_write(t, be, "transport", "mmio");
		txn_write(t, be, "base", d->base);
		txn_write(t, be, "irq", d->irq);
		CHECK(xs_set_permissions(env.xs, t, be, perms, 1));
		if (xs_transaction_end(env.xs, t, false))
			return;
		CHECK_EQ(errno, EAGAIN);
	}
}

TEST(two_guests_three_disks_each)
{
	struct guest_vm vm[2];
	struct sim_guest *g[2];
	char img[6][192], base[3][16], irq[3][8];
	struct dev d[6];
	struct sim_holdings h;

	env_begin("two_by_three");
	for (unsigned j = 0; j < 3; j++) {
		snprintf(base[j], sizeof(base[j]), "%llu", BASE0 + 0x200ull * j);
		snprintf(irq[j], sizeof(irq[j]), "%u", 33 + j);
	}
	for (unsigned i = 0; i < 6; i++) {
		static const char *const vdevs[] = { "xvda", "xvdb", "xvdc" };

		snprintf(img[i], sizeof(img[i]), "%s/%u.img", env.dir, i);
		make_image(img[i]);
		d[i] = (struct dev){ .domid = 1 + i / 3, .devid = 51712 + 16 * (i % 3),
				     .vdev = vdevs[i % 3], .params = img[i], .base = base[i % 3],
				     .irq = irq[i % 3] };
	}
	g[0] = new_guest(1, &vm[0]);
	g[1] = new_guest(2, &vm[1]);
	service_start();
	for (unsigned i = 0; i < 6; i++)
		libxl_add(&d[i]);
	for (unsigned i = 0; i < 6; i++)
		CHECK_STATE(&d[i], "2", STATE2_MS);
	/* One IOREQ server per guest, every window claimed. */
	sim_holdings(env.sim, &h);
	CHECK_EQ(h.servers, 2);
	for (unsigned i = 0; i < 6; i++)
		CHECK(claimed(g[i / 3], BASE0 + 0x200ull * (i % 3)));
	/* Every disk writes its own image (io_check compares the file). */
	for (unsigned i = 0; i < 6; i++)
		io_check(&vm[i / 3], BASE0 + 0x200ull * (i % 3), 33 + i % 3, img[i]);
	/* Closing one disk of dom2 leaves the other five. */
	libxl_close(&d[4]);
	CHECK_STATE(&d[4], "6", STATE2_MS);
	CHECK(!claimed(g[1], BASE0 + 0x200));
	for (unsigned i = 0; i < 6; i++)
		if (i != 4)
			CHECK(claimed(g[i / 3], BASE0 + 0x200ull * (i % 3)));
	io_check(&vm[1], BASE0 + 0x400, 35, img[5]);
	for (unsigned k = 0; k < 2; k++) {
		guest_vm_fini(&vm[k]);
		sim_guest_destroy(g[k]);
	}
	env_end();
}

#define DEATH_REQS 48u
#define DEATH_BYTES (64u * 1024u)

TEST(guest_death_mid_io)
{
	struct guest_vm vm1, vm2;
	struct sim_guest *g1, *g2;
	struct gblk_req *reqs[DEATH_REQS];
	static struct gblk b;
	struct sim_holdings h;
	char img[2][192];
	struct dev d[2] = {
		{ .domid = 1, .devid = 51712, .vdev = "xvda", .params = img[0], .base = "33554432",
		  .irq = "33" },
		{ .domid = 2, .devid = 51712, .vdev = "xvda", .params = img[1], .base = "33554432",
		  .irq = "33" },
	};
	unsigned done = 0;

	env_begin("death_mid_io");
	for (unsigned i = 0; i < 2; i++) {
		snprintf(img[i], sizeof(img[i]), "%s/%u.img", env.dir, i);
		make_image(img[i]);
	}
	g1 = new_guest(1, &vm1);
	g2 = new_guest(2, &vm2);
	service_start();
	libxl_add(&d[0]);
	libxl_add(&d[1]);
	CHECK_STATE(&d[0], "2", STATE2_MS);
	CHECK_STATE(&d[1], "2", STATE2_MS);

	/* dom1 fills its queue with 3 MiB of writes and reads, kicks, and dies at once. */
	memset(&b, 0, sizeof(b));
	CHECK_EQ(gblk_open(&b, &vm1, BASE0, 33, NULL), 0);
	for (unsigned i = 0; i < DEATH_REQS; i++) {
		CHECK_EQ(gblk_req_alloc(&b, DEATH_BYTES, 4, &reqs[i]), 0);
		gblk_req_set(reqs[i], i % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
			     (uint64_t)(i % 64) * (DEATH_BYTES / 512), DEATH_BYTES, 1 + i % 4, 0);
		memset(reqs[i]->buf, 0x5a, DEATH_BYTES + 1);
		CHECK_EQ(gblk_submit(&b, 0, reqs[i]), 0);
	}
	CHECK_EQ(gblk_kick(&b, 0, 0), 0);
	gblk_close(&b);
	for (unsigned i = 0; i < DEATH_REQS; i++)
		done += reqs[i]->done;
	printf("# %u of %u requests completed before the guest died\n", done, DEATH_REQS);
	guest_vm_fini(&vm1);
	sim_guest_destroy(g1);

	/* Daemon alive, dom1's disk closed and its server gone, dom2 unaffected. */
	CHECK_STATE(&d[0], "6", STATE2_MS);
	CHECK_EQ(kill(env.pid, 0), 0);
	sim_holdings(env.sim, &h);
	CHECK_EQ(h.servers, 1);
	io_check(&vm2, BASE0, 33, img[1]);
	CHECK(wait_state(&d[1], "2", 0) >= 0);
	for (unsigned i = 0; i < DEATH_REQS; i++)
		gblk_req_free(reqs[i]);
	libxl_close(&d[0]);
	libxl_remove(&d[0]);
	guest_vm_fini(&vm2);
	sim_guest_destroy(g2);
	env_end();
}

/* The guest owns /local/domain/<id>/device/...: whatever it writes there is ignored. */
TEST(frontend_garbage_in_own_nodes_ignored)
{
	static const char *const keys[] = { "state", "backend", "backend-id", "virtual-device",
					    "params", "base", "irq", "online", "x/y/z" };
	static const char *const junk[] = { "5", "/local/domain/0/backend/virtio_disk/1/1",
					    "-1", "\xff\xfe", "/etc/shadow", "0", "99999999999999999999",
					    "", "state" };
	char img[192], fe[160], path[224];
	struct guest_vm vm;
	struct sim_guest *g;
	struct dev d = { .domid = 1, .devid = 51712, .vdev = "xvda", .params = img,
			 .base = "33554432", .irq = "33" };

	env_begin("fe_garbage");
	snprintf(img, sizeof(img), "%s/a.img", env.dir);
	make_image(img);
	g = new_guest(1, &vm);
	service_start();
	libxl_add(&d);
	CHECK_STATE(&d, "2", STATE2_MS);
	snprintf(fe, sizeof(fe), "/local/domain/1/device/virtio_disk/51712");
	for (unsigned round = 0; round < 20; round++) {
		for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", fe, keys[i]);
			CHECK(xs_write(env.xs, XBT_NULL, path, junk[(i + round) % 9],
				       (unsigned)strlen(junk[(i + round) % 9])));
		}
		if (round == 10) /* the frontend directory goes away altogether */
			CHECK(xs_rm(env.xs, XBT_NULL, fe));
	}
	/* A frontend directory of a device that has no backend, too. */
	CHECK(xs_write(env.xs, XBT_NULL, "/local/domain/1/device/virtio_disk/51728/state", "1",
		       1));
	sleep_ms(200);
	CHECK_EQ(kill(env.pid, 0), 0);
	CHECK(wait_state(&d, "2", 0) >= 0);
	io_check(&vm, BASE0, 33, img);
	guest_vm_fini(&vm);
	sim_guest_destroy(g);
	CHECK_STATE(&d, "6", STATE2_MS);
	env_end();
}

/* A backend directory this domain does not own is neither served nor written to. */
TEST(directory_not_ours_refused)
{
	char img[192];
	struct guest_vm vm;
	struct sim_guest *g;
	struct dev good = { .domid = 1, .devid = 51712, .vdev = "xvda", .params = img,
			    .base = "33554432", .irq = "33" };
	struct dev foreign = { .domid = 1, .devid = 51728, .vdev = "xvdb", .params = img,
			       .base = "33554944", .irq = "34" };

	env_begin("not_ours");
	snprintf(img, sizeof(img), "%s/a.img", env.dir);
	make_image(img);
	g = new_guest(1, &vm);
	service_start();
	add_owned_by(&foreign, 1); /* as if the guest had made it */
	libxl_add(&good);
	CHECK_STATE(&good, "2", STATE2_MS);
	if (sim_daemon_wait_log(env.log, "ignored backend/virtio_disk/1/51728: not owned by dom0",
				WAIT_MS)) {
		note_log(env.log);
		check_fail(__FILE__, __LINE__, "no refusal logged");
	}
	/* Untouched: still state 1, no window. */
	CHECK(wait_state(&foreign, "1", 0) >= 0);
	CHECK(!claimed(g, BASE0 + 0x200));
	CHECK(claimed(g, BASE0));
	CHECK_EQ(kill(env.pid, 0), 0);
	CHECK(xs_rm(env.xs, XBT_NULL, "/local/domain/0/backend/virtio_disk/1/51728"));
	guest_vm_fini(&vm);
	sim_guest_destroy(g);
	CHECK_STATE(&good, "6", STATE2_MS);
	env_end();
}

/* systemd's side of sd_notify: an abstract datagram socket; NOTIFY_SOCKET names it. */
static int notify_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64];
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int n;

	CHECK(fd >= 0);
	n = snprintf(name, sizeof(name), "@xvb-t-service-%d", (int)getpid());
	memcpy(sa.sun_path, name, (size_t)n);
	sa.sun_path[0] = '\0';
	CHECK_EQ(bind(fd, (struct sockaddr *)&sa,
		      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n)),
		 0);
	setenv("NOTIFY_SOCKET", name, 1);
	return fd;
}

/* Datagrams until one contains want (true), or WAIT_MS pass (false). */
static bool notify_wait(int fd, const char *want)
{
	uint64_t start = now_ms();
	char buf[1024];

	while (now_ms() - start < WAIT_MS) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		for (char *c = buf; *c; c++)
			if (*c == '\n')
				*c = ' ';
		printf("# notify: %s\n", buf);
		for (char *c = buf; *c; c++)
			if (*c == ' ' && (strncmp(c + 1, "STATUS=", 7) == 0 ||
					  strncmp(c + 1, "MONOTONIC_USEC=", 15) == 0))
				*c = '\n';
		if (strstr(buf, want))
			return true;
	}
	return false;
}

#define SEC_A "[disk:xvda]\ndomid = 1\npath = %s/a.img\nbase = 0x2000000\nirq = 33\n"
#define SEC_B "[disk:xvdb]\ndomid = 1\npath = %s/b.img\nbase = 0x2000200\nirq = 34\n"
#define SEC_C "[disk:xvdc]\ndomid = 1\npath = %s/c.img\nbase = 0x2000400\nirq = 35\n"
#define SEC_C_RO SEC_C "ro = yes\n"

/* The reload test's file: xvda, and xvdb or xvdc (read-only or not), images in env.dir. */
enum { CONF_B, CONF_C, CONF_C_RO };
static void write_disks_conf(const char *conf, unsigned second)
{
	char text[2048];
	int n = snprintf(text, sizeof(text), "[global]\nlog_level = info\n" SEC_A, env.dir);

	CHECK(n > 0 && (size_t)n < sizeof(text));
	if (second == CONF_B)
		snprintf(text + n, sizeof(text) - (size_t)n, SEC_B, env.dir);
	else if (second == CONF_C)
		snprintf(text + n, sizeof(text) - (size_t)n, SEC_C, env.dir);
	else
		snprintf(text + n, sizeof(text) - (size_t)n, SEC_C_RO, env.dir);
	write_file(conf, text);
}

static void sighup_and_wait(const char *log_regex)
{
	CHECK_EQ(kill(env.pid, SIGHUP), 0);
	if (sim_daemon_wait_log(env.log, log_regex, WAIT_MS)) {
		note_log(env.log);
		check_fail(__FILE__, __LINE__, "no /%s/ after SIGHUP", log_regex);
	}
}

/* Per-guest launch from a file: SIGHUP adds, removes, re-serves changed, leaves unchanged. */
TEST(sighup_reload_add_remove_unchanged)
{
	static struct gblk a;
	char conf[192], img[3][192];
	uint8_t buf[512], back[512], st = 0xff;
	struct guest_vm vm;
	struct sim_guest *g;
	int nfd;

	env_begin("reload");
	for (unsigned i = 0; i < 3; i++) {
		snprintf(img[i], sizeof(img[i]), "%s/%c.img", env.dir, 'a' + i);
		make_image(img[i]);
	}
	snprintf(conf, sizeof(conf), "%s/guest1.conf", env.dir);
	write_disks_conf(conf, CONF_B);
	g = new_guest(1, &vm);
	nfd = notify_listen();
	env.pid = daemon_start_cfg(env.log, conf);
	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ(sim_daemon_wait_log(env.log, "dom1: info: ready: 2 disk", WAIT_MS), 0);
	CHECK(notify_wait(nfd, "READY=1\nSTATUS=dom1: serving 2 disk(s) of 1 guest(s)"));
	CHECK(claimed(g, BASE0 + 0x200));

	/* xvda stays in use across every reload: driver open, never re-initialised. */
	memset(&a, 0, sizeof(a));
	CHECK_EQ(gblk_open(&a, &vm, BASE0, 33, NULL), 0);
	memset(buf, 0xa1, sizeof(buf));
	CHECK_EQ(gblk_write(&a, 0, 1, buf, sizeof(buf), &st), 0);
	CHECK_EQ(st, 0);

	/* Remove xvdb, add xvdc. */
	write_disks_conf(conf, CONF_C);
	sighup_and_wait("SIGHUP: 1 disk\\(s\\) added, 1 removed, 1 unchanged, 0 failed");
	CHECK(notify_wait(nfd, "RELOADING=1"));
	CHECK(notify_wait(nfd, "READY=1\nSTATUS=dom1: serving 2 disk(s)"));
	CHECK(!claimed(g, BASE0 + 0x200)); /* -EFAULT: the window is gone */
	CHECK_EQ(sim_wait_claimed(g, BASE0 + 0x400, WAIT_MS), 0);
	io_check(&vm, BASE0 + 0x400, 35, img[2]);
	CHECK_EQ(gblk_read(&a, 0, 1, back, sizeof(back), &st), 0);
	CHECK_EQ(st, 0);
	CHECK(memcmp(buf, back, sizeof(buf)) == 0);

	/* A broken file changes nothing. */
	write_file(conf, "[disk:xvdc\n");
	sighup_and_wait("SIGHUP: keeping the current configuration");
	CHECK(claimed(g, BASE0 + 0x400));

	/* A changed disk (now read-only) is served again with its new settings. */
	write_disks_conf(conf, CONF_C_RO);
	sighup_and_wait("SIGHUP: 1 disk\\(s\\) added, 1 removed, 1 unchanged, 0 failed");
	CHECK_EQ(sim_daemon_wait_log(env.log, "dom1/xvdc: info: serving .*c.img .*read-only",
				     WAIT_MS), 0);
	CHECK_EQ(sim_wait_claimed(g, BASE0 + 0x400, WAIT_MS), 0);

	/* xvda was never stopped and still serves the same driver. */
	CHECK(sim_daemon_wait_log(env.log, "dom1/xvda: info: stopping", 0) != 0);
	memset(buf, 0xb2, sizeof(buf));
	CHECK_EQ(gblk_write(&a, 0, 2, buf, sizeof(buf), &st), 0);
	CHECK_EQ(st, 0);
	CHECK_EQ(gblk_read(&a, 0, 2, back, sizeof(back), &st), 0);
	CHECK(memcmp(buf, back, sizeof(buf)) == 0);
	CHECK(!atomic_load(&a.needs_reset));
	CHECK_EQ(gblk_reset(&a, 0), 0);
	gblk_close(&a);

	CHECK_EQ(kill(env.pid, SIGTERM), 0);
	CHECK(notify_wait(nfd, "STOPPING=1"));
	close(nfd);
	guest_vm_fini(&vm);
	sim_guest_destroy(g);
	env_end();
}

/* ---------------------------------------------------------------- static disks, guest names */

/* What libxl writes in libxl__domain_make: /local/domain/<id>/name, owned by owner. */
static void set_name(unsigned domid, const char *name, unsigned owner)
{
	struct xs_permissions perms[1] = { { .id = owner, .perms = XS_PERM_NONE } };
	char path[64];

	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	CHECK(xs_write(env.xs, XBT_NULL, path, name, (unsigned)strlen(name)));
	CHECK(xs_set_permissions(env.xs, XBT_NULL, path, perms, 1));
}

/* As libxl__destroy_domid: the domain's directory goes. */
static void rm_domain_dir(unsigned domid)
{
	char path[64];

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	CHECK(xs_rm(env.xs, XBT_NULL, path));
}

static void wait_log(const char *regex)
{
	if (sim_daemon_wait_log(env.log, regex, WAIT_MS)) {
		note_log(env.log);
		check_fail(__FILE__, __LINE__, "no log line /%s/", regex);
	}
}

static unsigned servers_held(void)
{
	struct sim_holdings h;

	sim_holdings(env.sim, &h);
	return h.servers;
}

/* Until the simulator holds n IOREQ servers (true), or WAIT_MS pass. */
static bool wait_servers(unsigned n)
{
	for (uint64_t start = now_ms(); now_ms() - start < WAIT_MS; sleep_ms(5))
		if (servers_held() == n)
			return true;
	return false;
}

/*
 * Static disks of two guests in one service process: dom1 by domid (there
 * before the service), "beta" by name (created later: @introduceDomain).
 * The name follows a reboot to a new domid; a name node the guest wrote
 * itself is not believed; a xenstore disk that wants a static disk's
 * window is refused, one beside it is served.
 */
TEST(static_disks_of_two_guests_by_domid_and_by_name)
{
	struct guest_vm vm1, vm2, vm3, vm4;
	struct sim_guest *g1, *g2, *g3, *g4;
	char conf[192], text[1024], img[4][192];
	struct dev dyn = { .domid = 2, .devid = 51728, .vdev = "xvdc", .params = img[2],
			   .base = "33554944", .irq = "34" };
	struct dev clash = { .domid = 2, .devid = 51744, .vdev = "xvdd", .params = img[3],
			     .base = "33554432", .irq = "35" };

	env_begin("static_two_guests");
	for (unsigned i = 0; i < 4; i++) {
		snprintf(img[i], sizeof(img[i]), "%s/%u.img", env.dir, i);
		make_image(img[i]);
	}
	snprintf(conf, sizeof(conf), "%s/blkd.conf", env.dir);
	snprintf(text, sizeof(text),
		 "[disk:xvda]\ndomid = 1\npath = %s\nbase = 0x2000000\nirq = 33\n"
		 "[disk:xvdb]\nguest = beta\npath = %s\nbase = 0x2000000\nirq = 33\n",
		 img[0], img[1]);
	write_file(conf, text);
	g1 = new_guest(1, &vm1);
	/* dom4 claims to be beta in a node it owns: never believed. */
	set_name(4, "beta", 4);
	g4 = new_guest(4, &vm4);
	service_start_cfg(conf); /* static disks of two guests: service mode */
	CHECK_EQ(sim_wait_claimed(g1, BASE0, WAIT_MS), 0);
	wait_log("dom1/xvda: info: serving \\[disk:xvda\\]");
	io_check(&vm1, BASE0, 33, img[0]);

	set_name(2, "beta", 0);
	g2 = new_guest(2, &vm2);
	CHECK_EQ(sim_wait_claimed(g2, BASE0, WAIT_MS), 0);
	wait_log("dom2/xvdb: info: serving \\[disk:xvdb\\] to guest beta");
	io_check(&vm2, BASE0, 33, img[1]);
	CHECK(!claimed(g4, BASE0));
	CHECK_EQ(servers_held(), 2u);

	/* xenstore disks of beta: beside the static one served, on its window refused. */
	libxl_add(&dyn);
	CHECK_STATE(&dyn, "2", STATE2_MS);
	libxl_add(&clash);
	CHECK_STATE(&clash, "6", STATE2_MS);
	wait_log("dom2/xvdd: error: refused .*base: 0x2000000 is already dom2/xvdb's window");
	io_check(&vm2, BASE0 + 0x200, 34, img[2]);
	io_check(&vm2, BASE0, 33, img[1]);

	/* beta dies: its static disk goes with it (libxl closes the xenstore ones). */
	guest_vm_fini(&vm2);
	sim_guest_destroy(g2);
	wait_log("dom2/xvdb: info: closing \\[disk:xvdb\\]: the guest is gone");
	CHECK_STATE(&dyn, "6", STATE2_MS);
	libxl_remove(&dyn);
	libxl_remove(&clash);
	rm_domain_dir(2);
	CHECK(wait_servers(1));

	/* beta again as dom3: the name is looked up again. */
	set_name(3, "beta", 0);
	g3 = new_guest(3, &vm3);
	CHECK_EQ(sim_wait_claimed(g3, BASE0, WAIT_MS), 0);
	wait_log("dom3/xvdb: info: serving \\[disk:xvdb\\] to guest beta");
	io_check(&vm3, BASE0, 33, img[1]);
	CHECK(claimed(g1, BASE0));
	CHECK_EQ(kill(env.pid, 0), 0);

	guest_vm_fini(&vm1);
	sim_guest_destroy(g1);
	wait_log("dom1/xvda: info: closing \\[disk:xvda\\]: the guest is gone");
	CHECK(wait_servers(1));
	guest_vm_fini(&vm3);
	guest_vm_fini(&vm4);
	sim_guest_destroy(g3);
	sim_guest_destroy(g4);
	wait_log("dom3/xvdb: info: closing \\[disk:xvdb\\]: the guest is gone");
	wait_log("dom3: info: no disk left: IOREQ server destroyed");
	/* A dead guest's teardown is no error (ESRCH from Xen is expected then). */
	CHECK(sim_daemon_wait_log(env.log, "error: xen", 0) != 0);
	env_end();
}

/* The service's static disks on SIGHUP: added, removed, changed, unchanged, bad file. */
TEST(static_disks_sighup_in_service_mode)
{
	static struct gblk a;
	struct guest_vm vm1, vm2;
	struct sim_guest *g1, *g2;
	char conf[192], text[1536], img[3][192];
	uint8_t buf[512], back[512], st = 0xff;
	static const char fmt_a[] = "[disk:xvda]\ndomid = 1\npath = %s\nbase = 0x2000000\n"
				    "irq = 33\n";
	static const char fmt_b[] = "[disk:xvdb]\nguest = two\npath = %s\nbase = 0x2000000\n"
				    "irq = 33\n";
	static const char fmt_c[] = "[disk:xvdc]\ndomid = 1\npath = %s\nbase = 0x2000400\n"
				    "irq = 35\n%s";
	int n, nfd;

	env_begin("static_sighup");
	for (unsigned i = 0; i < 3; i++) {
		snprintf(img[i], sizeof(img[i]), "%s/%c.img", env.dir, 'a' + i);
		make_image(img[i]);
	}
	snprintf(conf, sizeof(conf), "%s/blkd.conf", env.dir);
	n = snprintf(text, sizeof(text), fmt_a, img[0]);
	snprintf(text + n, sizeof(text) - (size_t)n, fmt_b, img[1]);
	write_file(conf, text);
	g1 = new_guest(1, &vm1);
	set_name(2, "two", 0);
	g2 = new_guest(2, &vm2);
	nfd = notify_listen();
	service_start_cfg(conf);
	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ(sim_wait_claimed(g1, BASE0, WAIT_MS), 0);
	CHECK_EQ(sim_wait_claimed(g2, BASE0, WAIT_MS), 0);
	CHECK(notify_wait(nfd, "STATUS=service mode: serving 2 disk(s) of 2 guest(s)"));

	/* dom1's xvda stays in use across every reload. */
	memset(&a, 0, sizeof(a));
	CHECK_EQ(gblk_open(&a, &vm1, BASE0, 33, NULL), 0);
	memset(buf, 0xc3, sizeof(buf));
	CHECK_EQ(gblk_write(&a, 0, 1, buf, sizeof(buf), &st), 0);
	CHECK_EQ(st, 0);

	/* Drop dom2's disk, add a second one to dom1. */
	n = snprintf(text, sizeof(text), fmt_a, img[0]);
	snprintf(text + n, sizeof(text) - (size_t)n, fmt_c, img[2], "");
	write_file(conf, text);
	sighup_and_wait("SIGHUP: static disks: 1 added, 1 removed, 1 unchanged");
	wait_log("dom2/xvdb: info: closing \\[disk:xvdb\\]: its section was removed or changed");
	CHECK(wait_servers(1)); /* dom2's last disk: its server is gone */
	CHECK(!claimed(g2, BASE0));
	CHECK_EQ(sim_wait_claimed(g1, BASE0 + 0x400, WAIT_MS), 0);
	io_check(&vm1, BASE0 + 0x400, 35, img[2]);
	CHECK(notify_wait(nfd, "READY=1\nSTATUS=service mode: serving 2 disk(s) of 1 guest(s)"));

	/* A broken file changes nothing. */
	write_file(conf, "[disk:xvdc\n");
	sighup_and_wait("SIGHUP: keeping the current configuration");
	CHECK(claimed(g1, BASE0 + 0x400));

	/* Changed (read-only now): served again with the new settings. */
	n = snprintf(text, sizeof(text), fmt_a, img[0]);
	snprintf(text + n, sizeof(text) - (size_t)n, fmt_c, img[2], "ro = yes\n");
	write_file(conf, text);
	sighup_and_wait("SIGHUP: static disks: 1 added, 1 removed, 1 unchanged");
	wait_log("dom1/xvdc: info: serving .*c.img .*read-only");
	CHECK_EQ(sim_wait_claimed(g1, BASE0 + 0x400, WAIT_MS), 0);

	/* xvda was never stopped and still serves the same driver. */
	CHECK(sim_daemon_wait_log(env.log, "dom1/xvda: info: stopping", 0) != 0);
	CHECK_EQ(gblk_read(&a, 0, 1, back, sizeof(back), &st), 0);
	CHECK_EQ(st, 0);
	CHECK(memcmp(buf, back, sizeof(buf)) == 0);
	CHECK(!atomic_load(&a.needs_reset));
	CHECK_EQ(gblk_reset(&a, 0), 0);
	gblk_close(&a);

	/* dom2 named "two" is back in the file: served again. */
	n = snprintf(text, sizeof(text), fmt_a, img[0]);
	snprintf(text + n, sizeof(text) - (size_t)n, fmt_b, img[1]);
	write_file(conf, text);
	sighup_and_wait("SIGHUP: static disks: 1 added, 1 removed, 1 unchanged");
	CHECK_EQ(sim_wait_claimed(g2, BASE0, WAIT_MS), 0);
	CHECK(!claimed(g1, BASE0 + 0x400));
	io_check(&vm2, BASE0, 33, img[1]);
	close(nfd);

	guest_vm_fini(&vm1);
	guest_vm_fini(&vm2);
	sim_guest_destroy(g1);
	sim_guest_destroy(g2);
	wait_log("dom1/xvda: info: closing \\[disk:xvda\\]: the guest is gone");
	wait_log("dom2/xvdb: info: closing \\[disk:xvdb\\]: the guest is gone");
	env_end();
}

/* libxl 4.18 backend/virtio device whose image the file keys by guest name. */
TEST(virtio_418_image_by_guest_name)
{
	char img[192], conf[192], text[512], be[160];
	struct guest_vm vm;
	struct sim_guest *g;
	xs_transaction_t t;

	env_begin("virtio418_name");
	snprintf(img, sizeof(img), "%s/v.img", env.dir);
	make_image(img);
	snprintf(conf, sizeof(conf), "%s/blkd.conf", env.dir);
	write_file(conf, "[global]\nlog_level = debug\n");
	set_name(5, "gamma", 0);
	g = new_guest(5, &vm);
	service_start_cfg(conf);
	/* The section arrives with a reload: it applies to devices that appear afterwards. */
	snprintf(text, sizeof(text), "[disk:xvdy]\nguest = gamma\ndevid = 0\npath = %s\n", img);
	write_file(conf, text);
	sighup_and_wait("SIGHUP: reloaded");
	snprintf(be, sizeof(be), "/local/domain/0/backend/virtio/5/0");
	for (;;) {
		t = xs_transaction_start(env.xs);
		CHECK(t != XBT_NULL);
		txn_write(t, be, "frontend", "/local/domain/5/device/virtio/0");
		txn_write(t, be, "frontend-id", "5");
		txn_write(t, be, "online", "1");
		txn_write(t, be, "state", "1");
		txn_write(t, be, "irq", "33");
		txn_write(t, be, "base", "0x2000000");
		txn_write(t, be, "type", "virtio,device2");
		txn_write(t, be, "transport", "mmio");
		txn_write(t, be, "grant_usage", "0");
		if (xs_transaction_end(env.xs, t, false))
			break;
		CHECK_EQ(errno, EAGAIN);
	}
	wait_log("dom5/xvdy: info: serving .*v.img");
	CHECK_EQ(sim_wait_claimed(g, BASE0, WAIT_MS), 0);
	io_check(&vm, BASE0, 33, img);
	guest_vm_fini(&vm);
	sim_guest_destroy(g);
	env_end();
}

/* A per-guest launch (--domid) takes the sections naming its guest, by the name in xenstore. */
TEST(per_guest_launch_sections_by_guest_name)
{
	char conf[192], text[1024], img[2][192], log2[300];
	char *argv[] = { (char *)daemon_path(), "--foreground", "-v", "--domid", "3", "-c", conf,
			 NULL };
	struct guest_vm vm;
	struct sim_guest *g;
	pid_t pid;
	int st = 0;

	env_begin("per_guest_name");
	for (unsigned i = 0; i < 2; i++) {
		snprintf(img[i], sizeof(img[i]), "%s/%u.img", env.dir, i);
		make_image(img[i]);
	}
	snprintf(conf, sizeof(conf), "%s/guest.conf", env.dir);
	snprintf(text, sizeof(text),
		 "[disk:xvda]\nguest = delta\npath = %s\nbase = 0x2000000\nirq = 33\n"
		 "[disk:xvdb]\nguest = other\npath = %s\nbase = 0x2000200\nirq = 34\n",
		 img[0], img[1]);
	write_file(conf, text);
	set_name(3, "delta", 0);
	g = new_guest(3, &vm);
	CHECK_EQ(sim_daemon_start(env.sim, argv, env.log, &env.pid), 0);
	wait_log("dom3: info: ready: 1 disk");
	io_check(&vm, BASE0, 33, img[0]);
	CHECK(!claimed(g, BASE0 + 0x200));

	/* A guest whose name no section has: refused at startup, exit 2. */
	snprintf(log2, sizeof(log2), "%s.unnamed", env.log);
	argv[4] = "4";
	set_name(4, "epsilon", 0);
	CHECK_EQ(sim_daemon_start(env.sim, argv, log2, &pid), 0);
	CHECK_EQ(sim_daemon_stop(pid, 0, 5000, &st), 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	CHECK_EQ(sim_daemon_wait_log(log2, "no \\[disk:\\] section for dom4 \\(guest epsilon\\)",
				     100), 0);
	unlink(log2);
	guest_vm_fini(&vm);
	sim_guest_destroy(g);
	env_end();
}
