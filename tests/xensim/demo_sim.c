/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `make demo-sim`: the real xen-virtio-blkd binary serving a scripted
 * virtio-blk guest on a simulated Xen. Writes and reads back 256 MiB with
 * 1 MiB requests, then runs 4 KiB random I/O at queue depth 32, verifies
 * every byte (through the guest and in the image file), stops the daemon
 * and prints the protocol checker's verdict. Nothing to configure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "guest_blk.h"
#include "guest_work.h"
#include "sim.h"

#define MIB (1024ull * 1024ull)
#define DISK_SIZE (512 * MIB)
#define SEQ_BYTES (256 * MIB)
#define RAM_SIZE (256 * MIB)
#define VCPUS 4u
#define DOMID 1u
#define BASE 0x2000000ull
#define IRQ 33u
#define RANDOM_MS 5000u

struct demo {
	struct sim *sim;
	struct sim_guest *guest;
	struct guest_vm vm;
	struct gblk blk;
	bool blk_open;
	struct gdisk_model model;
	pid_t pid;
	char dir[128], image[192], log[PATH_MAX + 32];
	char line_write[160], line_read[160], line_rand[160];
};

static volatile pid_t daemon_pid; /* for the watchdog */

static void on_alarm(int sig)
{
	static const char msg[] = "demo: took too long, giving up\n";

	(void)sig;
	if (daemon_pid > 0)
		kill(daemon_pid, SIGKILL);
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void step(const char *fmt, ...)
{
	va_list ap;

	printf("==> ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static const char *root_dir(void)
{
	static char root[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (root[0])
		return root;
	if (n <= 0)
		return ".";
	exe[n] = 0;
	snprintf(root, sizeof(root), "%s/../../..", dirname(exe)); /* build/tests/xensim/ */
	if (realpath(root, exe))
		snprintf(root, sizeof(root), "%s", exe);
	return root;
}

static void tail_log(const char *path)
{
	char cmd[PATH_MAX + 64];

	fprintf(stderr, "--- last lines of the daemon log %s ---\n", path);
	snprintf(cmd, sizeof(cmd), "tail -n 20 '%s' >&2", path);
	(void)!system(cmd);
}

static int make_image(struct demo *d)
{
	static const char *const dirs[] = { "/dev/shm", "/tmp" };
	int fd = -1;

	for (unsigned i = 0; i < 2 && fd < 0; i++) {
		snprintf(d->dir, sizeof(d->dir), "%s/xvb-demo-XXXXXX", dirs[i]);
		if (!mkdtemp(d->dir))
			continue;
		snprintf(d->image, sizeof(d->image), "%s/disk.img", d->dir);
		fd = open(d->image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 && ftruncate(fd, DISK_SIZE) != 0) {
			close(fd);
			fd = -1;
		}
		if (fd < 0) {
			unlink(d->image);
			rmdir(d->dir);
			d->dir[0] = 0;
		}
	}
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int start_daemon(struct demo *d)
{
	char daemon[PATH_MAX + 32], spec[300];
	char *argv[] = { daemon, "--domid", "1", "--disk", spec, "--foreground", "-v", NULL };
	int r;

	snprintf(daemon, sizeof(daemon), "%s/src/xen-virtio-blkd", root_dir());
	snprintf(spec, sizeof(spec), "path=%s,base=%#llx,irq=%u,serial=xensim-demo", d->image,
		 (unsigned long long)BASE, IRQ);
	snprintf(d->log, sizeof(d->log), "%s/build/demo-sim-daemon.log", root_dir());
	step("starting the daemon: src/xen-virtio-blkd --domid 1 --disk %s --foreground -v", spec);
	printf("    (unchanged binary; stand-in Xen libraries via LD_LIBRARY_PATH; log in %s)\n",
	       d->log);
	r = sim_daemon_start(d->sim, argv, d->log, &d->pid);
	if (r)
		return r;
	daemon_pid = d->pid;
	r = sim_daemon_wait_log(d->log, "ready", 15000);
	if (!r)
		r = sim_wait_claimed(d->guest, BASE, 15000);
	return r;
}

static int probe(struct demo *d)
{
	uint8_t id[21] = "", status;
	int r;

	step("guest: probing virtio-mmio at %#llx (IRQ %u), negotiating, setting up queues",
	     (unsigned long long)BASE, IRQ);
	r = gblk_open(&d->blk, &d->vm, BASE, IRQ, &(struct gblk_opts){ .nr_queues = VCPUS });
	d->blk_open = true;
	if (r)
		return r;
	printf("    virtio-mmio version %u, device id %u, features offered %#" PRIx64
	       ", accepted %#" PRIx64 "\n",
	       d->blk.dev.version, d->blk.dev.device_id, d->blk.dev.device_features,
	       d->blk.dev.driver_features);
	printf("    capacity %" PRIu64 " sectors (%" PRIu64 " MiB), %u queue(s) of %u, seg_max %u, "
	       "size_max %u\n",
	       d->blk.capacity, (uint64_t)(d->blk.capacity / 2048), d->blk.nr_queues,
	       d->blk.vq[0].num, d->blk.seg_max, d->blk.size_max);
	r = gblk_get_id(&d->blk, 0, id, 20, &status);
	if (!r && status == VIRTIO_BLK_S_OK)
		printf("    GET_ID: \"%s\"\n", (char *)id);
	return r;
}

static int phase(struct demo *d, const struct gwork *w, const char *what, char *line, size_t len)
{
	struct gwork_result res;

	gwork_run(&d->blk, &d->model, w, &res);
	gwork_describe(&res, what, line, len);
	printf("    %s\n", line);
	if (res.rc) {
		fprintf(stderr, "demo: %s failed: %s\n", what, res.msg);
		return res.rc;
	}
	if (res.mismatches || res.errors) {
		fprintf(stderr, "demo: %s: %" PRIu64 " errors, %" PRIu64 " bad sectors\n", what,
			res.errors, res.mismatches);
		return -EIO;
	}
	return 0;
}

static int run_io(struct demo *d)
{
	struct gwork w = {
		.kind = GWORK_WRITE, .nr_vcpus = 1, .qd = 8, .sectors = SEQ_BYTES / 512,
		.min_bytes = 1 << 20, .max_bytes = 1 << 20, .max_segs = 4, .seed = 2024,
	};
	char msg[256] = "";
	uint8_t status;
	int64_t bad;
	int r;

	step("guest: writing %llu MiB, 1 MiB requests, queue depth 8", SEQ_BYTES / MIB);
	r = phase(d, &w, "sequential write", d->line_write, sizeof(d->line_write));
	if (r)
		return r;
	step("guest: reading it back and checking every sector, 1 MiB requests, queue depth 8");
	w.kind = GWORK_READ;
	w.verify = true;
	r = phase(d, &w, "sequential read", d->line_read, sizeof(d->line_read));
	if (r)
		return r;
	step("guest: 4 KiB random I/O (70%% reads, all checked) on %u vCPUs, queue depth %u "
	     "(%u per vCPU), %u s", VCPUS, 32 / VCPUS * VCPUS, 32 / VCPUS, RANDOM_MS / 1000);
	w = (struct gwork){
		.kind = GWORK_RANDOM, .nr_vcpus = VCPUS, .qd = 32 / VCPUS,
		.sectors = DISK_SIZE / 512, .min_bytes = 4096, .max_bytes = 4096, .max_segs = 1,
		.layouts = GBLK_L_INDIRECT, .write_pct = 30, .duration_ms = RANDOM_MS,
		.verify = true, .seed = 99,
	};
	r = phase(d, &w, "random 4 KiB", d->line_rand, sizeof(d->line_rand));
	if (r)
		return r;
	step("guest: FLUSH");
	r = gblk_flush(&d->blk, 0, &status);
	if (!r && status != VIRTIO_BLK_S_OK)
		r = -EIO;
	if (r)
		return r;
	step("host: checking the image file against the guest's model (pread, %llu MiB)",
	     DISK_SIZE / MIB);
	bad = gdisk_verify_file(&d->model, d->image, msg, sizeof(msg));
	if (bad) {
		fprintf(stderr, "demo: image file: %" PRId64 " bad sectors; %s\n", bad, msg);
		return -EIO;
	}
	printf("    all %llu sectors match\n", DISK_SIZE / 512);
	return 0;
}

static bool stop_and_judge(struct demo *d)
{
	struct sim_holdings h = { 0 };
	char viol[4096] = "";
	unsigned n;
	int st = -1;
	bool ok;

	step("stopping the daemon with SIGTERM");
	if (d->blk_open)
		gblk_close(&d->blk);
	d->blk_open = false;
	if (sim_daemon_stop(d->pid, SIGTERM, 15000, &st) != 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &st, 0);
	}
	d->pid = 0;
	daemon_pid = 0;
	for (unsigned i = 0; i < 300; i++) {
		sim_holdings(d->sim, &h);
		if (!h.servers && !h.ranges && !h.bound_ports && !h.foreign_pages &&
		    !h.resource_maps && !h.connections)
			break;
		usleep(10000);
	}
	n = sim_violations(d->sim, viol, sizeof(viol));
	ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && n == 0 && !h.servers && !h.ranges &&
	     !h.bound_ports && !h.foreign_pages && !h.resource_maps && !h.connections;
	printf("    daemon %s %d; left behind: %u servers, %u ranges, %u ports, %u foreign pages, "
	       "%u resource maps, %u connections\n",
	       WIFEXITED(st) ? "exited with status" : "killed by signal",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), h.servers, h.ranges, h.bound_ports,
	       h.foreign_pages, h.resource_maps, h.connections);
	printf("    protocol checker: %u violation(s)%s\n%s", n, n ? ":" : "", viol);
	return ok;
}

static void cleanup(struct demo *d)
{
	if (d->blk_open)
		gblk_close(&d->blk);
	if (d->pid > 0) {
		int st;

		kill(d->pid, SIGKILL);
		waitpid(d->pid, &st, 0);
	}
	guest_vm_fini(&d->vm);
	if (d->guest)
		sim_guest_destroy(d->guest);
	if (d->sim)
		sim_stop(d->sim);
	gdisk_model_fini(&d->model);
	if (d->image[0])
		unlink(d->image);
	if (d->dir[0])
		rmdir(d->dir);
}

int main(void)
{
	static struct demo d;
	bool ok = false;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(300); /* never hang a terminal */
	printf("xen-virtio-blkd on xensim: a simulated Xen (IOREQ, event channels, foreign "
	       "memory)\nand a scripted virtio-blk guest driver; every register access is an "
	       "ioreq.\n\n");
	r = make_image(&d);
	if (r) {
		fprintf(stderr, "demo: cannot create a %llu MiB image in /dev/shm or /tmp: %s\n",
			DISK_SIZE / MIB, strerror(-r));
		return 1;
	}
	step("simulator up; guest dom%u with %u vCPUs and %llu MiB RAM; image %s (%llu MiB)",
	     DOMID, VCPUS, RAM_SIZE / MIB, d.image, DISK_SIZE / MIB);
	r = sim_start(&(struct sim_config){ 0 }, &d.sim);
	if (!r)
		r = sim_guest_create(d.sim, DOMID, RAM_SIZE, VCPUS, &d.guest);
	if (!r)
		r = guest_vm_init(&d.vm, d.guest, VCPUS);
	if (!r)
		r = gdisk_model_init(&d.model, DISK_SIZE / 512, 2024);
	if (r) {
		fprintf(stderr, "demo: simulator: %s\n", strerror(-r));
		goto out;
	}
	r = start_daemon(&d);
	if (r) {
		fprintf(stderr, "demo: the daemon did not come up: %s\n", strerror(-r));
		tail_log(d.log);
		goto out;
	}
	r = probe(&d);
	if (r) {
		fprintf(stderr, "demo: guest driver: %s\n", strerror(-r));
		tail_log(d.log);
		goto out;
	}
	r = run_io(&d);
	if (r)
		tail_log(d.log);
	ok = stop_and_judge(&d) && !r;
	printf("\nthroughput: %s; %s; %s\n", d.line_write, d.line_read, d.line_rand);
	printf("verdict: %s\n",
	       ok ? "PASS (data verified, zero protocol violations, nothing leaked)" : "FAIL");
out:
	cleanup(&d);
	return ok ? 0 : 1;
}
