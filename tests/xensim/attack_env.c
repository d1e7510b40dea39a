/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Attack-suite harness: one service-mode daemon serving the attacked disk
 * and two good disks with verified I/O running, and the closing checks of
 * every attack. See attack_env.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <xenstore.h>

#include "attack_env.h"

#define ATK_WATCHDOG_S 60u
#define ATK_WAIT_MS 5000u
#define ATK_STOP_MS 10000u
#define ATK_PROGRESS_OPS 3u /* good-guest operations required after the attack */
#define ATK_GOOD_TIMEOUT_MS 5000u
#define ATK_RECOVER_BYTES (64u * 1024u)

static struct atk atk_storage;
static struct atk *current;
static volatile pid_t watch_pid;
static bool handlers_set;

uint64_t atk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void atk_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* A's initial content: each 8-byte word names its own offset. */
static uint64_t pattern_word(uint64_t off)
{
	return mix(off ^ 0xa77ac4ull);
}

static const char *daemon_path(void)
{
	const char *p = getenv("XVB_DAEMON");

	return p && *p ? p : XVB_DAEMON_PATH;
}

static void on_alarm(int sig)
{
	static const char msg[] = "# attack watchdog expired: killing the daemon\n";

	(void)sig;
	if (watch_pid > 0)
		kill(watch_pid, SIGKILL);
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static void note_log(const struct atk *a, unsigned last)
{
	char cmd[400], line[512];
	FILE *p;

	if (!a->log[0])
		return;
	printf("# daemon log %s (last %u lines):\n", a->log, last);
	snprintf(cmd, sizeof(cmd), "tail -n %u '%s'", last, a->log);
	p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(line, sizeof(line), p))
		printf("#   %s", line);
	pclose(p);
}

/* ---- good guests ---- */

static void good_fail(struct atk_good *w, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void good_fail(struct atk_good *w, int rc, const char *fmt, ...)
{
	va_list ap;

	if (w->rc)
		return;
	w->rc = rc;
	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
}

static uint64_t good_rnd(struct atk_good *w)
{
	w->rng = mix(w->rng + 0x9e3779b97f4a7c15ull);
	return w->rng;
}

/* Write a random range, read it back, compare with the model; time each request. */
static void *good_main(void *arg)
{
	struct atk_good *w = arg;

	while (!atomic_load(&w->stop)) {
		uint32_t nsect = 8u * (uint32_t)(1 + good_rnd(w) % 8);
		uint64_t sector = (good_rnd(w) % ((ATK_SECTORS - nsect) / 8)) * 8;
		uint32_t gen = gdisk_next_gen(&w->model);
		uint8_t st = 0xee;
		char msg[200];
		uint64_t t0, el, bad;
		int rc;

		gdisk_fill(&w->model, sector, nsect, gen, w->buf);
		t0 = now_ns();
		rc = gblk_write(&w->blk, w->vcpu, sector, w->buf, nsect * 512, &st);
		el = now_ns() - t0;
		w->max_ns = el > w->max_ns ? el : w->max_ns;
		if (rc || st != VIRTIO_BLK_S_OK) {
			w->errors++;
			good_fail(w, rc ? rc : -EIO, "%s: write of %u sectors at %" PRIu64
				  ": rc %d status %u", w->name, nsect, sector, rc, st);
			break;
		}
		gdisk_commit(&w->model, sector, nsect, gen);
		t0 = now_ns();
		rc = gblk_read(&w->blk, w->vcpu, sector, w->back, nsect * 512, &st);
		el = now_ns() - t0;
		w->max_ns = el > w->max_ns ? el : w->max_ns;
		if (rc || st != VIRTIO_BLK_S_OK) {
			w->errors++;
			good_fail(w, rc ? rc : -EIO, "%s: read of %u sectors at %" PRIu64
				  ": rc %d status %u", w->name, nsect, sector, rc, st);
			break;
		}
		bad = gdisk_compare(&w->model, sector, nsect, w->back, msg, sizeof(msg));
		if (bad) {
			w->mismatches += bad;
			good_fail(w, -EIO, "%s: %s", w->name, msg);
			break;
		}
		atomic_fetch_add(&w->ops, 1);
	}
	return NULL;
}

static void good_start(struct atk_good *w, const char *name, struct guest_vm *vm, uint64_t base,
		       unsigned irq, unsigned irq_vcpu, unsigned io_vcpu, const char *image,
		       uint64_t seed)
{
	struct gblk_opts opts = { .irq_vcpu = irq_vcpu, .timeout_ms = ATK_GOOD_TIMEOUT_MS };
	int rc;

	w->name = name;
	w->vcpu = io_vcpu;
	w->image = image;
	w->rng = seed;
	w->buf = malloc(64 * 512);
	w->back = malloc(64 * 512);
	CHECK(w->buf && w->back);
	CHECK_EQ(gdisk_model_init(&w->model, ATK_SECTORS, seed), 0);
	rc = gblk_open(&w->blk, vm, base, irq, &opts);
	w->open = true;
	if (rc)
		check_fail(__FILE__, __LINE__, "%s: driver start: %s", name, strerror(-rc));
	CHECK_EQ_U64(w->blk.capacity, ATK_SECTORS);
	atomic_store(&w->stop, false);
	CHECK_EQ(pthread_create(&w->thread, NULL, good_main, w), 0);
	w->running = true;
}

static void good_join(struct atk_good *w)
{
	if (!w->running)
		return;
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
	w->running = false;
}

static void good_free(struct atk_good *w)
{
	good_join(w);
	if (w->open)
		gblk_close(&w->blk);
	w->open = false;
	if (w->model.gen)
		gdisk_model_fini(&w->model);
	w->model.gen = NULL;
	free(w->buf);
	free(w->back);
	w->buf = w->back = NULL;
}

/* ---- libxl's side (xen-interfaces.md §5.2; as in t_service.c) ---- */

static void txn_write(struct atk *a, xs_transaction_t t, const char *dir, const char *key,
		      const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	CHECK(xs_write(a->xs, t, path, val, (unsigned)strlen(val)));
}

/* libxl 4.17 device_disk_add: backend/virtio_disk with the image in params. */
static void add_virtio_disk(struct atk *a, unsigned domid, unsigned devid, const char *vdev,
			    const char *image, uint64_t base, unsigned irq)
{
	char be[160], fe[160], fe_id[16], id[16], sbase[32], sirq[16];
	struct xs_permissions be_perms[2] = { { .id = 0, .perms = XS_PERM_NONE },
					      { .id = domid, .perms = XS_PERM_READ } };
	struct xs_permissions fe_perms[2] = { { .id = domid, .perms = XS_PERM_NONE },
					      { .id = 0, .perms = XS_PERM_READ } };
	xs_transaction_t t;

	snprintf(be, sizeof(be), "/local/domain/0/backend/virtio_disk/%u/%u", domid, devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/virtio_disk/%u", domid, devid);
	snprintf(fe_id, sizeof(fe_id), "%u", domid);
	snprintf(id, sizeof(id), "%u", devid);
	snprintf(sbase, sizeof(sbase), "%" PRIu64, base);
	snprintf(sirq, sizeof(sirq), "%u", irq);
	for (;;) {
		t = xs_transaction_start(a->xs);
		CHECK(t != XBT_NULL);
		CHECK(xs_mkdir(a->xs, t, fe));
		CHECK(xs_set_permissions(a->xs, t, fe, fe_perms, 2));
		CHECK(xs_mkdir(a->xs, t, be));
		CHECK(xs_set_permissions(a->xs, t, be, be_perms, 2));
		txn_write(a, t, fe, "backend", be);
		txn_write(a, t, fe, "backend-id", "0");
		txn_write(a, t, fe, "state", "1");
		txn_write(a, t, fe, "virtual-device", id);
		txn_write(a, t, fe, "device-type", "disk");
		txn_write(a, t, be, "frontend", fe);
		txn_write(a, t, be, "params", image);
		txn_write(a, t, be, "frontend-id", fe_id);
		txn_write(a, t, be, "online", "1");
		txn_write(a, t, be, "removable", "0");
		txn_write(a, t, be, "bootable", "1");
		txn_write(a, t, be, "state", "1");
		txn_write(a, t, be, "dev", vdev);
		txn_write(a, t, be, "type", "standalone");
		txn_write(a, t, be, "mode", "w");
		txn_write(a, t, be, "device-type", "disk");
		txn_write(a, t, be, "specification", "virtio");
		txn_write(a, t, be, "transport", "mmio");
		txn_write(a, t, be, "base", sbase);
		txn_write(a, t, be, "irq", sirq);
		if (xs_transaction_end(a->xs, t, false))
			return;
		CHECK_EQ(errno, EAGAIN);
	}
}

/* libxl 4.18 libxl__device_virtio_add: backend/virtio, the image from the config file. */
static void add_virtio(struct atk *a, unsigned domid, unsigned devid, uint64_t base, unsigned irq)
{
	char be[160], fe[160], fe_id[16], sbase[32], sirq[16];
	xs_transaction_t t;

	snprintf(be, sizeof(be), "/local/domain/0/backend/virtio/%u/%u", domid, devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/virtio/%u", domid, devid);
	snprintf(fe_id, sizeof(fe_id), "%u", domid);
	snprintf(sbase, sizeof(sbase), "%#" PRIx64, base);
	snprintf(sirq, sizeof(sirq), "%u", irq);
	for (;;) {
		t = xs_transaction_start(a->xs);
		CHECK(t != XBT_NULL);
		txn_write(a, t, be, "frontend", fe);
		txn_write(a, t, be, "frontend-id", fe_id);
		txn_write(a, t, be, "online", "1");
		txn_write(a, t, be, "state", "1");
		txn_write(a, t, be, "irq", sirq);
		txn_write(a, t, be, "base", sbase);
		txn_write(a, t, be, "type", "virtio,device2");
		txn_write(a, t, be, "transport", "mmio");
		txn_write(a, t, be, "grant_usage", "0");
		if (xs_transaction_end(a->xs, t, false))
			return;
		CHECK_EQ(errno, EAGAIN);
	}
}

static void wait_state2(struct atk *a, const char *be)
{
	char path[224];
	uint64_t start = atk_now_ms();

	snprintf(path, sizeof(path), "%s/state", be);
	for (;;) {
		unsigned len;
		char *v = xs_read(a->xs, XBT_NULL, path, &len);
		bool ok = v && strcmp(v, "2") == 0;

		free(v);
		if (ok)
			return;
		if (atk_now_ms() - start > ATK_WAIT_MS) {
			note_log(a, 30);
			check_fail(__FILE__, __LINE__, "%s never reached state 2", be);
		}
		atk_sleep_ms(2);
	}
}

/* ---- images ---- */

static void make_image(const char *path, bool with_pattern)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	if (with_pattern) {
		uint64_t *buf = malloc(1u << 20);

		CHECK(buf != NULL);
		for (uint64_t off = 0; off < ATK_DISK_SIZE; off += 1u << 20) {
			for (uint64_t i = 0; i < (1u << 20) / 8; i++)
				buf[i] = pattern_word(off + i * 8);
			CHECK_EQ(pwrite(fd, buf, 1u << 20, (off_t)off), 1 << 20);
		}
		free(buf);
	} else {
		CHECK_EQ(ftruncate(fd, (off_t)ATK_DISK_SIZE), 0);
	}
	close(fd);
}

static bool in_scratch(uint64_t off)
{
	return off >= (uint64_t)ATK_SCRATCH * 512 &&
	       off < (uint64_t)(ATK_SCRATCH + ATK_SCRATCH_N) * 512;
}

/* A's image: same size, the pattern everywhere outside the scratch range. */
static void check_image_a(struct atk *a)
{
	uint64_t *buf = malloc(1u << 20);
	struct stat st;
	int fd = open(a->img_a, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0 && buf != NULL);
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ_U64(st.st_size, ATK_DISK_SIZE);
	for (uint64_t off = 0; off < ATK_DISK_SIZE; off += 1u << 20) {
		CHECK_EQ(pread(fd, buf, 1u << 20, (off_t)off), 1 << 20);
		for (uint64_t i = 0; i < (1u << 20) / 8; i++) {
			uint64_t at = off + i * 8;

			if (!in_scratch(at) && buf[i] != pattern_word(at)) {
				close(fd);
				free(buf);
				check_fail(__FILE__, __LINE__,
					   "disk A's image changed at byte %" PRIu64
					   " (sector %" PRIu64 "), outside the scratch range",
					   at, at / 512);
			}
		}
	}
	close(fd);
	free(buf);
}

/* ---- setup and teardown ---- */

static void write_config(struct atk *a)
{
	FILE *f = fopen(a->conf, "w");

	CHECK(f != NULL);
	fprintf(f, "[global]\nlog_level = info\n[disk:atk]\ndomid = 1\ndevid = 0\npath = %s\n"
		"serial = %s\n", a->img_a, ATK_SERIAL);
	if (a->o.ro)
		fprintf(f, "ro = yes\n");
	if (a->o.version)
		fprintf(f, "version = %u\n", a->o.version);
	CHECK_EQ(fclose(f), 0);
}

static void log_path(struct atk *a)
{
	const char *dir = getenv("TEST_LOGDIR");
	char root[200] = "build/test-logs";

	if (dir && *dir)
		snprintf(root, sizeof(root), "%s", dir);
	mkdir(root, 0755);
	snprintf(a->log, sizeof(a->log), "%s/xensim-attack-%s.log", root, a->name);
}

/* Remove whatever a test left behind, checking nothing. */
static void atk_abandon(struct atk *a)
{
	char cmd[200];
	int st;

	if (a->pid > 0) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, &st, 0);
	}
	a->pid = 0;
	watch_pid = 0;
	for (unsigned i = 0; i < 2; i++)
		good_free(&a->good[i]);
	if (a->a_open)
		gblk_close(&a->a);
	a->a_open = false;
	if (a->vm1_init)
		guest_vm_fini(&a->vm1);
	if (a->vm2_init)
		guest_vm_fini(&a->vm2);
	a->vm1_init = a->vm2_init = false;
	sim_guest_destroy(a->g1);
	sim_guest_destroy(a->g2);
	a->g1 = a->g2 = NULL;
	if (a->xs)
		xs_close(a->xs);
	a->xs = NULL;
	if (a->sim)
		sim_stop(a->sim);
	a->sim = NULL;
	if (a->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%.127s'", a->dir);
		(void)!system(cmd);
	}
	a->dir[0] = 0;
	current = NULL;
}

static void at_exit(void)
{
	if (current)
		atk_abandon(current);
}

struct atk *atk_begin(const char *name, const struct atk_opts *o)
{
	struct sim_config cfg = { .ioreq_timeout_ms = 5000 };
	struct atk *a = &atk_storage;
	char *argv[] = { (char *)daemon_path(), "--foreground", "-v", "-c", a->conf, NULL };
	int rc;

	if (current)
		atk_abandon(current);
	if (!handlers_set) {
		atexit(at_exit);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGALRM, on_alarm);
		handlers_set = true;
	}
	if (access(daemon_path(), X_OK) != 0)
		check_fail(__FILE__, __LINE__, "daemon binary %s: %s (run make first)",
			   daemon_path(), strerror(errno));
	*a = (struct atk){ .name = name, .o = o ? *o : (struct atk_opts){ 0 } };
	a->recover_seed = mix((uintptr_t)name);
	snprintf(a->dir, sizeof(a->dir), "/tmp/xvb-atk-XXXXXX");
	if (!mkdtemp(a->dir)) {
		a->dir[0] = 0;
		check_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
	}
	current = a;
	alarm(ATK_WATCHDOG_S);
	snprintf(a->xs_path, sizeof(a->xs_path), "%.127s/xenstored.sock", a->dir);
	snprintf(a->lock_path, sizeof(a->lock_path), "%.127s/lock", a->dir);
	snprintf(a->conf, sizeof(a->conf), "%.127s/blkd.conf", a->dir);
	snprintf(a->img_a, sizeof(a->img_a), "%.127s/a.img", a->dir);
	snprintf(a->img_b, sizeof(a->img_b), "%.127s/b.img", a->dir);
	snprintf(a->img_c, sizeof(a->img_c), "%.127s/c.img", a->dir);
	log_path(a);
	make_image(a->img_a, true);
	make_image(a->img_b, false);
	make_image(a->img_c, false);
	write_config(a);

	cfg.xenstore_path = a->xs_path;
	rc = sim_start(&cfg, &a->sim);
	if (rc == -ENOSYS) {
		printf("# SKIP: the simulator needs memfd_create and its xenstore server\n");
		exit(77);
	}
	if (rc)
		check_fail(__FILE__, __LINE__, "sim_start: %s", strerror(-rc));
	setenv("XENSTORED_PATH", a->xs_path, 1);
	setenv("XVB_LOCK_PATH", a->lock_path, 1);
	a->xs = xs_open(0);
	CHECK(a->xs != NULL);
	CHECK_EQ(sim_guest_create(a->sim, 1, ATK_RAM_SIZE, ATK_VCPUS, &a->g1), 0);
	CHECK_EQ(guest_vm_init(&a->vm1, a->g1, ATK_VCPUS), 0);
	a->vm1_init = true;
	CHECK_EQ(sim_guest_create(a->sim, 2, ATK_RAM_SIZE, 2, &a->g2), 0);
	CHECK_EQ(guest_vm_init(&a->vm2, a->g2, 2), 0);
	a->vm2_init = true;

	rc = sim_daemon_start(a->sim, argv, a->log, &a->pid);
	if (rc)
		check_fail(__FILE__, __LINE__, "sim_daemon_start: %s", strerror(-rc));
	watch_pid = a->pid;
	if (sim_daemon_wait_log(a->log, "ready: service mode", ATK_WAIT_MS)) {
		note_log(a, 30);
		check_fail(__FILE__, __LINE__, "the daemon never reached service mode");
	}
	add_virtio(a, 1, 0, ATK_BASE, ATK_IRQ);
	add_virtio_disk(a, 1, 51728, "xvdb", a->img_b, ATK_BASE_B, ATK_IRQ_B);
	add_virtio_disk(a, 2, 51712, "xvda", a->img_c, ATK_BASE, ATK_IRQ);
	wait_state2(a, "/local/domain/0/backend/virtio/1/0");
	wait_state2(a, "/local/domain/0/backend/virtio_disk/1/51728");
	wait_state2(a, "/local/domain/0/backend/virtio_disk/2/51712");
	CHECK_EQ(sim_wait_claimed(a->g1, ATK_BASE, ATK_WAIT_MS), 0);
	CHECK_EQ(sim_wait_claimed(a->g1, ATK_BASE_B, ATK_WAIT_MS), 0);
	CHECK_EQ(sim_wait_claimed(a->g2, ATK_BASE, ATK_WAIT_MS), 0);

	good_start(&a->good[0], "dom1 disk B", &a->vm1, ATK_BASE_B, ATK_IRQ_B, ATK_VCPU_B_IRQ,
		   ATK_VCPU_B_IO, a->img_b, 101);
	good_start(&a->good[1], "dom2 disk C", &a->vm2, ATK_BASE, ATK_IRQ, 0, 1, a->img_c, 202);

	guest_mmio_bind(&a->m, &a->vm1, ATK_BASE, ATK_IRQ);
	CHECK_EQ(guest_mmio_probe(&a->m, ATK_VCPU), 0);
	CHECK_EQ(a->m.version, a->o.version ? a->o.version : 2);
	return a;
}

static unsigned latency_bound_ms(void)
{
	const char *env = getenv("XVB_ATTACK_LATENCY_MS");
	unsigned long v = env && *env ? strtoul(env, NULL, 10) : 0;

	return v > 0 && v < 600000 ? (unsigned)v : ATK_LATENCY_MS;
}

/* The good guest made ATK_PROGRESS_OPS more operations (or failed); then stop it. */
static void good_finish(struct atk_good *w)
{
	unsigned long start = atomic_load(&w->ops);
	uint64_t t0 = atk_now_ms();

	while (atomic_load(&w->ops) < start + ATK_PROGRESS_OPS &&
	       atk_now_ms() - t0 < 2 * latency_bound_ms() + 1000)
		atk_sleep_ms(2);
	good_join(w);
}

static void good_check(struct atk *a, struct atk_good *w, unsigned long ops_before)
{
	unsigned bound = latency_bound_ms();
	char msg[256] = "";
	struct stat st;
	int64_t bad;

	printf("# %s: %lu verified write+read pairs, slowest request %.1f ms\n", w->name,
	       atomic_load(&w->ops), (double)w->max_ns / 1e6);
	if (w->rc) {
		note_log(a, 20);
		check_fail(__FILE__, __LINE__, "good guest failed: %s", w->msg);
	}
	CHECK_EQ(w->errors, 0);
	CHECK_EQ(w->mismatches, 0);
	if (atomic_load(&w->ops) < ops_before + ATK_PROGRESS_OPS)
		check_fail(__FILE__, __LINE__, "%s made no progress after the attack", w->name);
	if (w->max_ns >= (uint64_t)bound * 1000000ull)
		check_fail(__FILE__, __LINE__, "%s: a request took %.1f ms (bound %u ms)", w->name,
			   (double)w->max_ns / 1e6, bound);
	CHECK_EQ(stat(w->image, &st), 0);
	CHECK_EQ_U64(st.st_size, ATK_DISK_SIZE);
	bad = gdisk_verify_file(&w->model, w->image, msg, sizeof(msg));
	if (bad)
		check_fail(__FILE__, __LINE__, "%s's image: %" PRId64 " bad sectors: %s", w->name,
			   bad, msg);
}

static bool daemon_alive(pid_t pid)
{
	int st;

	return kill(pid, 0) == 0 && waitpid(pid, &st, WNOHANG) == 0;
}

/* Sanitizer reports and internal-consistency errors in the daemon log. */
static void check_log_clean(struct atk *a)
{
	static const char *const bad[] = { "AddressSanitizer", "LeakSanitizer", "runtime error",
					   "BUG" };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sim_daemon_wait_log(a->log, bad[i], 0) == 0) {
			note_log(a, 40);
			check_fail(__FILE__, __LINE__, "the daemon log has \"%s\"", bad[i]);
		}
	}
}

void atk_end(struct atk *a)
{
	struct sim_holdings h = { 0 };
	unsigned long ops[2];
	char viol[4096] = "";
	unsigned nviol;
	int st = 0, rc;

	CHECK(daemon_alive(a->pid));
	for (unsigned i = 0; i < 2; i++) {
		ops[i] = atomic_load(&a->good[i].ops);
		good_finish(&a->good[i]);
	}
	CHECK(daemon_alive(a->pid));
	for (unsigned i = 0; i < 2; i++)
		good_check(a, &a->good[i], ops[i]);
	check_image_a(a);
	CHECK_EQ(atomic_load(&a->vm1.mmio_timeouts) + atomic_load(&a->vm2.mmio_timeouts), 0);

	/* Drivers stop without touching registers; then the daemon, as systemd would. */
	for (unsigned i = 0; i < 2; i++)
		good_free(&a->good[i]);
	if (a->a_open)
		gblk_close(&a->a);
	a->a_open = false;
	rc = sim_daemon_stop(a->pid, SIGTERM, ATK_STOP_MS, &st);
	a->pid = 0;
	watch_pid = 0;
	for (unsigned i = 0; i < 300; i++) {
		sim_holdings(a->sim, &h);
		if (!h.servers && !h.ranges && !h.bound_ports && !h.foreign_pages &&
		    !h.resource_maps && !h.connections)
			break;
		atk_sleep_ms(10);
	}
	nviol = sim_violations(a->sim, viol, sizeof(viol));
	if (rc || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || nviol || h.servers || h.ranges ||
	    h.bound_ports || h.foreign_pages || h.resource_maps || h.connections) {
		printf("# daemon stop rc %d, wait status 0x%x; %u violation(s):\n", rc, st, nviol);
		for (char *line = strtok(viol, "\n"); line; line = strtok(NULL, "\n"))
			printf("#   %s\n", line);
		printf("# held: servers %u ranges %u ports %u pages %u resources %u conns %u\n",
		       h.servers, h.ranges, h.bound_ports, h.foreign_pages, h.resource_maps,
		       h.connections);
		note_log(a, 30);
	}
	CHECK_EQ(rc, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ(nviol, 0);
	CHECK_EQ(h.servers + h.ranges + h.bound_ports + h.foreign_pages + h.resource_maps +
			 h.connections,
		 0);
	check_log_clean(a);
	alarm(0);
	atk_abandon(a);
}

/* ---- A ---- */

struct gblk *atk_open_a_with(struct atk *a, const struct gblk_opts *opts,
			     int (*after_features)(struct gblk *, void *), void *ctx)
{
	int rc;

	CHECK(!a->a_open);
	a->a_opts = opts ? *opts : (struct gblk_opts){ .irq_vcpu = ATK_VCPU_IRQ };
	rc = gblk_open_with(&a->a, &a->vm1, ATK_BASE, ATK_IRQ, &a->a_opts, after_features, ctx);
	a->a_open = true;
	if (rc) {
		note_log(a, 20);
		check_fail(__FILE__, __LINE__, "disk A's driver start: %s", strerror(-rc));
	}
	return &a->a;
}

struct gblk *atk_open_a(struct atk *a, const struct gblk_opts *opts)
{
	return atk_open_a_with(a, opts, NULL, NULL);
}

uint32_t atk_rd(struct atk *a, uint32_t off)
{
	uint32_t v = 0;

	CHECK_EQ(guest_mmio_rd(&a->m, ATK_VCPU, off, &v), 0);
	return v;
}

void atk_wr(struct atk *a, uint32_t off, uint32_t val)
{
	CHECK_EQ(guest_mmio_wr(&a->m, ATK_VCPU, off, val), 0);
}

uint8_t atk_status(struct atk *a)
{
	return (uint8_t)atk_rd(a, VIRTIO_MMIO_STATUS);
}

void atk_raw_init(struct atk *a, uint64_t features)
{
	CHECK_EQ(guest_mmio_reset(&a->m, ATK_VCPU), 0);
	CHECK_EQ(guest_mmio_add_status(&a->m, ATK_VCPU, VIRTIO_CONFIG_S_ACKNOWLEDGE), 0);
	CHECK_EQ(guest_mmio_add_status(&a->m, ATK_VCPU, VIRTIO_CONFIG_S_DRIVER), 0);
	CHECK_EQ(guest_mmio_negotiate(&a->m, ATK_VCPU, features, false), 0);
}

void atk_raw_queue(struct atk *a, uint32_t num, uint64_t desc, uint64_t avail, uint64_t used,
		   bool ready)
{
	atk_wr(a, VIRTIO_MMIO_QUEUE_SEL, 0);
	atk_wr(a, VIRTIO_MMIO_QUEUE_NUM, num);
	atk_wr(a, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	atk_wr(a, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	atk_wr(a, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	atk_wr(a, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	atk_wr(a, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	atk_wr(a, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	if (ready)
		atk_wr(a, VIRTIO_MMIO_QUEUE_READY, 1);
}

void *atk_alloc(struct atk *a, uint64_t size, uint64_t align, uint64_t *gpa)
{
	void *p = NULL;

	CHECK_EQ(guest_vm_alloc(&a->vm1, size, align, gpa, &p), 0);
	return p;
}

/* ---- outcomes ---- */

void atk_expect_needs_reset(struct atk *a)
{
	uint64_t t0 = atk_now_ms();
	uint8_t st = atk_status(a), again;

	while (!(st & ATK_S_NEEDS_RESET) && atk_now_ms() - t0 < ATK_WAIT_MS) {
		atk_sleep_ms(2);
		st = atk_status(a);
	}
	if (!(st & ATK_S_NEEDS_RESET)) {
		note_log(a, 15);
		check_fail(__FILE__, __LINE__,
			   "disk A never set DEVICE_NEEDS_RESET (status 0x%02x)", st);
	}
	/* Sticky: the driver writing the rest back, or kicking, changes nothing. */
	atk_wr(a, VIRTIO_MMIO_STATUS, st & ~ATK_S_NEEDS_RESET);
	atk_wr(a, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	again = atk_status(a);
	CHECK_EQ(again, st);
	/* The config-change interrupt announced it (to the driver's handler, if one runs). */
	if (a->a_open && a->a.irq_running) {
		for (t0 = atk_now_ms(); !atomic_load(&a->a.needs_reset);) {
			if (atk_now_ms() - t0 > ATK_WAIT_MS)
				check_fail(__FILE__, __LINE__, "no configuration interrupt");
			atk_sleep_ms(1);
		}
	} else {
		CHECK(atk_rd(a, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	}
}

void atk_expect_healthy(struct atk *a)
{
	uint8_t st = atk_status(a);

	if (st & ATK_S_NEEDS_RESET) {
		note_log(a, 15);
		check_fail(__FILE__, __LINE__, "disk A is in DEVICE_NEEDS_RESET (status 0x%02x)",
			   st);
	}
}

void atk_publish_expect_reset(struct atk *a, uint16_t head)
{
	struct gvq *vq = &a->a.vq[0];
	uint16_t used0 = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	uint64_t bad0;

	CHECK(a->a_open);
	pthread_mutex_lock(&vq->lock);
	bad0 = vq->bad_used;
	pthread_mutex_unlock(&vq->lock);
	CHECK_EQ(gvq_publish_raw(vq, head), 0);
	CHECK_EQ(guest_mmio_notify(&a->a.dev, ATK_VCPU, 0), 0);
	atk_expect_needs_reset(a);
	/* Nothing was completed for the broken chain. */
	CHECK_EQ(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE), used0);
	pthread_mutex_lock(&vq->lock);
	bad0 = vq->bad_used - bad0;
	pthread_mutex_unlock(&vq->lock);
	CHECK_EQ(bad0, 0);
}

uint8_t atk_submit(struct atk *a, struct gblk_req *r, const struct gvq_seg *segs, unsigned n,
		   bool indirect)
{
	int rc;

	CHECK(a->a_open);
	CHECK_EQ(gblk_submit_segs(&a->a, 0, r, segs, n, indirect), 0);
	CHECK_EQ(gblk_kick(&a->a, ATK_VCPU, 0), 0);
	rc = gblk_wait_req(&a->a, r);
	if (rc) {
		note_log(a, 15);
		check_fail(__FILE__, __LINE__, "request on disk A not completed: %s",
			   strerror(-rc));
	}
	return r->result;
}

void atk_recover(struct atk *a)
{
	uint8_t *buf = malloc(ATK_RECOVER_BYTES), *back = malloc(ATK_RECOVER_BYTES);
	uint8_t id[20], st = 0xee;
	uint64_t sector = ATK_SCRATCH + (a->recover_seed % (ATK_SCRATCH_N / 128)) * 64;
	int rc;

	CHECK(buf && back);
	if (a->a_open) {
		CHECK_EQ(gblk_reset(&a->a, ATK_VCPU), 0);
		rc = gblk_start(&a->a, ATK_VCPU);
		if (rc) {
			note_log(a, 15);
			check_fail(__FILE__, __LINE__, "disk A restart: %s", strerror(-rc));
		}
	} else {
		atk_open_a(a, NULL);
	}
	atk_expect_healthy(a);
	if (a->o.ro) {
		/* Read-only: the scratch range still holds the pattern. */
		CHECK_EQ(gblk_read(&a->a, ATK_VCPU, sector, back, ATK_RECOVER_BYTES, &st), 0);
		CHECK_EQ(st, VIRTIO_BLK_S_OK);
		for (uint32_t i = 0; i < ATK_RECOVER_BYTES; i += 8) {
			uint64_t w;

			memcpy(&w, back + i, 8);
			CHECK_EQ_U64(w, pattern_word(sector * 512 + i));
		}
	} else {
		for (uint32_t i = 0; i < ATK_RECOVER_BYTES; i++)
			buf[i] = (uint8_t)(mix(a->recover_seed + i / 8) >> (8 * (i % 8)));
		CHECK_EQ(gblk_write(&a->a, ATK_VCPU, sector, buf, ATK_RECOVER_BYTES, &st), 0);
		CHECK_EQ(st, VIRTIO_BLK_S_OK);
		CHECK_EQ(gblk_read(&a->a, ATK_VCPU, sector, back, ATK_RECOVER_BYTES, &st), 0);
		CHECK_EQ(st, VIRTIO_BLK_S_OK);
		CHECK(memcmp(buf, back, ATK_RECOVER_BYTES) == 0);
	}
	CHECK_EQ(gblk_get_id(&a->a, ATK_VCPU, id, sizeof(id), &st), 0);
	CHECK_EQ(st, VIRTIO_BLK_S_OK);
	CHECK(memcmp(id, ATK_SERIAL, 20) == 0);
	atk_expect_healthy(a);
	a->recover_seed = mix(a->recover_seed);
	free(buf);
	free(back);
}

/* ---- the log ---- */

unsigned atk_log_lines(const struct atk *a)
{
	FILE *f = fopen(a->log, "r");
	unsigned n = 0;
	int c;

	if (!f)
		return 0;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

void atk_log_mark(struct atk *a)
{
	a->log_mark = atk_log_lines(a);
}

unsigned atk_log_since_mark(const struct atk *a)
{
	unsigned n = atk_log_lines(a);

	return n > a->log_mark ? n - a->log_mark : 0;
}

bool atk_log_has(const struct atk *a, const char *regex, unsigned timeout_ms)
{
	return sim_daemon_wait_log(a->log, regex, timeout_ms) == 0;
}
