/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `make bench` driver: the daemon (an -O2 build without sanitizers,
 * build/bench/xen-virtio-blkd) serving the scripted guest on xensim, next
 * to fio with the io_uring engine on the same image, case by case.
 *
 * Per configuration (page cache on tmpfs, page cache with two queues,
 * O_DIRECT on a real file system) one simulator, guest and daemon; per
 * case a lean load loop per issuing vCPU (no data pattern, no checking:
 * the guest should cost what a kernel's blk-mq costs, not more), then fio.
 * CPU is taken from /proc: the daemon's process, the simulator's server
 * thread, and the rest of this process (the guest's vCPU and interrupt
 * threads). The QUEUE_NOTIFY round trip is timed by wrapping
 * sim_mmio_write (-Wl,--wrap): the time the vCPU is blocked in it.
 *
 * --callgrind N runs N 4 KiB random reads at QD32 against a daemon under
 * valgrind --tool=callgrind instead (see bench/bench.mk, bench-callgrind).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_mmio.h>

#include "../tests/xensim/guest_blk.h"
#include "../tests/xensim/sim.h"
#include "bench.h"

#define MIB (1024ull * 1024ull)
#define IMAGE_SIZE (1024 * MIB)
#define RAM_SIZE (512 * MIB)
#define NR_VCPUS 3u /* two issuing vCPUs at most, the interrupt on the third */
#define IRQ_VCPU 2u
#define DOMID 1u
#define BASE 0x2000000ull
#define IRQ 33u
#define POOL_REQS 64u /* per issuing vCPU: the deepest case */
#define POOL_BYTES (1u << 20)
#define MAX_LANES 2u
#define NOTIFY_SAMPLES (1u << 22)
#define BENCH_POLL_US 50u /* the pagecache-poll cases' --poll-us */
#define BENCH_POLL_US_STR "50"

/* ---- QUEUE_NOTIFY round trips (the wrapped sim_mmio_write) ---- */

static uint32_t *notify_ns;
static atomic_uint notify_n;

int __real_sim_mmio_write(struct sim_guest *g, unsigned vcpu, uint64_t addr, unsigned size,
			  uint64_t val);
int __wrap_sim_mmio_write(struct sim_guest *g, unsigned vcpu, uint64_t addr, unsigned size,
			  uint64_t val);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int __wrap_sim_mmio_write(struct sim_guest *g, unsigned vcpu, uint64_t addr, unsigned size,
			  uint64_t val)
{
	uint64_t t0;
	unsigned i;
	int rc;

	if (addr - BASE != VIRTIO_MMIO_QUEUE_NOTIFY)
		return __real_sim_mmio_write(g, vcpu, addr, size, val);
	t0 = now_ns();
	rc = __real_sim_mmio_write(g, vcpu, addr, size, val);
	i = atomic_fetch_add(&notify_n, 1);
	if (notify_ns && i < NOTIFY_SAMPLES) {
		uint64_t d = now_ns() - t0;

		notify_ns[i] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	}
	return rc;
}

/* ---- CPU accounting from /proc ---- */

static double clk_tck;

/* utime + stime in seconds of /proc/<path>/stat. */
static double proc_cpu(const char *path)
{
	char buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0.0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command may contain spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			 &st) != 2)
		return 0.0;
	return (double)(ut + st) / clk_tck;
}

static double self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

#define MAX_TIDS 64u

static unsigned list_tids(pid_t *tids, unsigned max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max)
		if (e->d_name[0] != '.')
			tids[n++] = (pid_t)atoi(e->d_name);
	closedir(d);
	return n;
}

/* ---- one configuration: simulator, guest, daemon ---- */

struct env {
	const char *config;
	const char *image;
	bool direct;
	unsigned queues;
	unsigned poll_us; /* --poll-us when not 0 */
	struct sim *sim;
	struct sim_guest *guest;
	struct guest_vm vm;
	bool vm_up;
	struct gblk blk;
	bool blk_open;
	pid_t pid;
	pid_t sim_tids[MAX_TIDS];
	unsigned nr_sim_tids;
	struct gblk_req **pool[MAX_LANES];
	char log[PATH_MAX + 64];
};

static char root[PATH_MAX];
static const char *filter; /* --filter: only cases whose name contains it */

static double sim_cpu(const struct env *e)
{
	double sum = 0;

	for (unsigned i = 0; i < e->nr_sim_tids; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)e->sim_tids[i]);
		sum += proc_cpu(path);
	}
	return sum;
}

static double daemon_cpu(const struct env *e)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)e->pid);
	return proc_cpu(path);
}

/*
 * The part of daemon_cpu() that io_uring's worker threads spent: the
 * process's total less its own threads (iou-wrk-* threads come and go,
 * and an exited thread's time stays in the process's total).
 */
static double daemon_iowq_cpu(const struct env *e, double total)
{
	char path[64], sub[PATH_MAX], comm[64];
	double own = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)e->pid);
	d = opendir(path);
	if (!d)
		return 0.0;
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s/comm", path, de->d_name);
		f = fopen(sub, "r");
		if (!f)
			continue;
		comm[0] = 0;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (strncmp(comm, "iou-", 4) == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s/stat", path, de->d_name);
		own += proc_cpu(sub);
	}
	closedir(d);
	return total > own ? total - own : 0.0;
}

static void env_down(struct env *e)
{
	int st;

	if (e->blk_open)
		gblk_close(&e->blk);
	e->blk_open = false;
	if (e->pid > 0 && sim_daemon_stop(e->pid, SIGTERM, 120000, &st) != 0)
		fprintf(stderr, "bench: the daemon did not stop cleanly\n");
	e->pid = 0;
	if (e->vm_up)
		guest_vm_fini(&e->vm);
	e->vm_up = false;
	if (e->guest)
		sim_guest_destroy(e->guest);
	e->guest = NULL;
	if (e->sim)
		sim_stop(e->sim);
	e->sim = NULL;
}

/* valgrind: NULL, or the callgrind output file (the daemon then runs under callgrind). */
static int env_up(struct env *e, const char *valgrind_out)
{
	char daemon[PATH_MAX + 32], spec[PATH_MAX + 128], vg_out[PATH_MAX + 32], poll[16];
	char *argv[18];
	unsigned a = 0;
	pid_t before[MAX_TIDS], after[MAX_TIDS];
	unsigned nb = list_tids(before, MAX_TIDS), na;
	struct sim_config sc = { .ioreq_timeout_ms = valgrind_out ? 60000 : 0 };
	int rc;

	rc = sim_start(&sc, &e->sim);
	if (rc)
		return rc;
	na = list_tids(after, MAX_TIDS);
	for (unsigned i = 0; i < na; i++) {
		bool old = false;

		for (unsigned j = 0; j < nb; j++)
			old |= after[i] == before[j];
		if (!old)
			e->sim_tids[e->nr_sim_tids++] = after[i];
	}
	rc = sim_guest_create(e->sim, DOMID, RAM_SIZE, NR_VCPUS, &e->guest);
	if (rc)
		return rc;
	rc = guest_vm_init(&e->vm, e->guest, NR_VCPUS);
	if (rc)
		return rc;
	e->vm_up = true;

	snprintf(daemon, sizeof(daemon), "%s/build/bench/xen-virtio-blkd", root);
	/* queues=N: one queue thread per queue (the daemon's default for N > 1). */
	snprintf(spec, sizeof(spec), "path=%s,base=%#llx,irq=%u,serial=bench,cache=%s,queues=%u",
		 e->image, (unsigned long long)BASE, IRQ, e->direct ? "direct" : "writeback",
		 e->queues > 1 ? e->queues : 1);
	snprintf(e->log, sizeof(e->log), "%s/build/bench/daemon-%s.log", root, e->config);
	if (valgrind_out) {
		snprintf(vg_out, sizeof(vg_out), "--callgrind-out-file=%s", valgrind_out);
		argv[a++] = "/usr/bin/valgrind";
		argv[a++] = "--tool=callgrind";
		argv[a++] = vg_out;
		/* Only what the event loop runs for the guest: no start-up, no teardown. */
		argv[a++] = "--collect-atstart=no";
		argv[a++] = "--toggle-collect=ioreq_event";
		argv[a++] = "--toggle-collect=served_disk_process";
		argv[a++] = "--toggle-collect=served_disk_completions";
	}
	argv[a++] = daemon;
	argv[a++] = "--domid";
	argv[a++] = "1";
	argv[a++] = "--disk";
	argv[a++] = spec;
	if (e->poll_us) {
		snprintf(poll, sizeof(poll), "%u", e->poll_us);
		argv[a++] = "--poll-us";
		argv[a++] = poll;
	}
	argv[a++] = "--foreground";
	argv[a] = NULL;
	rc = sim_daemon_start(e->sim, argv, e->log, &e->pid);
	if (rc)
		return rc;
	rc = sim_daemon_wait_log(e->log, "ready", valgrind_out ? 120000 : 15000);
	if (!rc)
		rc = sim_wait_claimed(e->guest, BASE, valgrind_out ? 120000 : 15000);
	if (rc) {
		fprintf(stderr, "bench: the daemon did not come up (log %s)\n", e->log);
		return rc;
	}
	rc = gblk_open(&e->blk, &e->vm, BASE, IRQ,
		       &(struct gblk_opts){ .nr_queues = e->queues, .irq_vcpu = IRQ_VCPU,
					    .timeout_ms = valgrind_out ? 60000 : 0 });
	e->blk_open = true;
	if (rc)
		return rc;
	for (unsigned l = 0; l < MAX_LANES; l++) {
		rc = gblk_pool(&e->blk, l, POOL_REQS, POOL_BYTES + 1, 1, &e->pool[l]);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the load: one loop per issuing vCPU ---- */

struct lane {
	struct env *e;
	const struct bench_case *c;
	unsigned vcpu, q, qd;
	uint64_t first, sectors, pos, rng;
	uint64_t deadline_ns, max_reqs;
	uint64_t reqs, errors;
	uint64_t t_end;
	int rc;
	pthread_t thread;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t next_sector(struct lane *l)
{
	uint32_t ns = l->c->bs / GBLK_SECTOR;
	uint64_t s;

	if (l->c->rw == BENCH_SEQREAD || l->c->rw == BENCH_SEQWRITE) {
		if (l->pos + ns > l->first + l->sectors)
			l->pos = l->first;
		s = l->pos;
		l->pos += ns;
		return s;
	}
	l->rng = mix64(l->rng + 0x9e3779b97f4a7c15ull);
	return l->first + (l->rng % (l->sectors / ns)) * ns;
}

static void *lane_main(void *arg)
{
	struct lane *l = arg;
	struct gblk *b = &l->e->blk;
	struct gvq *vq = &b->vq[l->q];
	struct gblk_req **reqs = l->e->pool[l->vcpu];
	bool write = l->c->rw == BENCH_RANDWRITE || l->c->rw == BENCH_SEQWRITE;
	bool busy[POOL_REQS] = { false };
	unsigned inflight = 0;
	uint64_t issued = 0, seen;
	bool more = true;

	while (more || inflight) {
		unsigned added = 0, harvested = 0;

		if (more && ((l->max_reqs && issued >= l->max_reqs) ||
			     (!l->max_reqs && now_ns() >= l->deadline_ns)))
			more = false;
		for (unsigned i = 0; more && i < l->qd; i++) {
			int rc;

			if (busy[i])
				continue;
			if (l->max_reqs && issued >= l->max_reqs)
				break;
			gblk_req_set(reqs[i], write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
				     next_sector(l), l->c->bs, 1, GBLK_L_INDIRECT);
			rc = gblk_submit(b, l->q, reqs[i]);
			if (rc == -ENOSPC)
				break;
			if (rc) {
				l->rc = rc;
				return NULL;
			}
			busy[i] = true;
			inflight++;
			issued++;
			added++;
		}
		if (added) {
			int rc = gblk_kick(b, l->vcpu, l->q);

			if (rc) {
				l->rc = rc;
				return NULL;
			}
		}
		pthread_mutex_lock(&vq->lock);
		seen = vq->completions;
		for (unsigned i = 0; i < l->qd; i++) {
			if (!busy[i] || !reqs[i]->done)
				continue;
			busy[i] = false;
			inflight--;
			harvested++;
			l->reqs++;
			l->errors += reqs[i]->result != VIRTIO_BLK_S_OK;
		}
		pthread_mutex_unlock(&vq->lock);
		if (harvested || !inflight)
			continue;
		l->rc = gblk_wait_progress(b, l->q, &seen, 60000);
		if (l->rc)
			return NULL;
	}
	l->t_end = now_ns();
	return NULL;
}

static int run_ours(struct env *e, struct bench_result *r, unsigned ms, uint64_t max_reqs)
{
	const struct bench_case *c = &r->c;
	unsigned nl = c->queues > 1 ? c->queues : 1;
	struct lane lanes[MAX_LANES];
	uint64_t per = IMAGE_SIZE / GBLK_SECTOR / nl, t0, t_end = 0;
	uint64_t irq0 = atomic_load(&e->blk.irqs);
	double d0, w0, s0, g0;
	int rc = 0;

	d0 = daemon_cpu(e);
	w0 = daemon_iowq_cpu(e, d0);
	s0 = sim_cpu(e);
	g0 = self_cpu();
	t0 = now_ns();
	for (unsigned i = 0; i < nl; i++) {
		lanes[i] = (struct lane){
			.e = e, .c = c, .vcpu = i, .q = i % e->blk.nr_queues,
			.qd = c->qd / nl ? c->qd / nl : 1, .first = per * i, .sectors = per,
			.pos = per * i, .rng = mix64(1234 + i),
			.deadline_ns = t0 + (uint64_t)ms * 1000000ull,
			.max_reqs = max_reqs ? max_reqs / nl : 0,
		};
		if (pthread_create(&lanes[i].thread, NULL, lane_main, &lanes[i]) != 0)
			return -EAGAIN;
	}
	for (unsigned i = 0; i < nl; i++) {
		pthread_join(lanes[i].thread, NULL);
		r->reqs += lanes[i].reqs;
		r->errors += lanes[i].errors;
		if (!rc)
			rc = lanes[i].rc;
		if (lanes[i].t_end > t_end)
			t_end = lanes[i].t_end;
	}
	r->secs = (double)((t_end ? t_end : now_ns()) - t0) / 1e9;
	r->cpu.daemon = daemon_cpu(e) - d0;
	r->cpu.daemon_iowq = daemon_iowq_cpu(e, r->cpu.daemon + d0) - w0;
	/* Threads are read one by one, a tick apart at worst: never below 0. */
	if (r->cpu.daemon_iowq < 0)
		r->cpu.daemon_iowq = 0;
	r->cpu.sim = sim_cpu(e) - s0;
	r->cpu.guest = self_cpu() - g0 - r->cpu.sim;
	r->iops = (double)r->reqs / r->secs;
	r->mibs = r->iops * c->bs / (double)MIB;
	r->queues_got = e->blk.nr_queues;
	r->irqs = atomic_load(&e->blk.irqs) - irq0;
	if (rc)
		fprintf(stderr, "bench: %s: guest load failed: %s\n", r->name, strerror(-rc));
	return rc;
}

/* The QUEUE_NOTIFY round trips recorded since notify_n was last reset. */
static void notify_stats(struct bench_result *r)
{
	unsigned n = atomic_load(&notify_n);

	r->notifies = n;
	if (n > NOTIFY_SAMPLES)
		n = NOTIFY_SAMPLES;
	r->notify_p50_us = bench_percentile(notify_ns, n, 0.50) / 1000.0;
	r->notify_p90_us = bench_percentile(notify_ns, n, 0.90) / 1000.0;
	r->notify_p99_us = bench_percentile(notify_ns, n, 0.99) / 1000.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? v[n / 2] : 0.0;
}

/*
 * One case: ROUNDS slices of ours and of fio, alternating, so that noise
 * from whatever else shares the machine hits both sides alike; each side's
 * figure is the median of its slices, its CPU cost the sum over them.
 */
#define ROUNDS 3u

static int run_case(struct env *e, struct bench_result *r, const char *image, unsigned secs)
{
	unsigned slice_ms = secs * 1000u / ROUNDS;
	double ours_iops[ROUNDS], ref_iops[ROUNDS], ref_mibs[ROUNDS];
	char json[PATH_MAX + 64];
	unsigned nref = 0;

	atomic_store(&notify_n, 0);
	for (unsigned k = 0; k < ROUNDS; k++) {
		struct bench_result s = { .c = r->c };
		int rc = run_ours(e, &s, slice_ms, 0);

		if (rc)
			return rc;
		ours_iops[k] = s.iops;
		r->reqs += s.reqs;
		r->errors += s.errors;
		r->secs += s.secs;
		r->cpu.daemon += s.cpu.daemon;
		r->cpu.daemon_iowq += s.cpu.daemon_iowq;
		r->cpu.guest += s.cpu.guest;
		r->cpu.sim += s.cpu.sim;
		r->irqs += s.irqs;
		r->queues_got = s.queues_got;
		snprintf(json, sizeof(json), "%s/build/bench/fio-%s-%s-%u-%u.json", root,
			 r->c.config, bench_rw_name(r->c.rw), r->c.qd, k);
		if (bench_fio_run(image, IMAGE_SIZE, slice_ms, json, &s) == 0 && s.ref_iops > 0) {
			ref_iops[nref] = s.ref_iops;
			ref_mibs[nref++] = s.ref_mibs;
			r->ref_reqs += s.ref_reqs;
			r->ref_cpu_secs += s.ref_cpu_secs;
			r->ref_secs += s.ref_secs;
		}
	}
	notify_stats(r);
	r->iops = median(ours_iops, ROUNDS);
	r->mibs = r->iops * r->c.bs / (double)MIB;
	r->ref_ok = nref > 0;
	if (nref) {
		r->ref_iops = median(ref_iops, nref);
		r->ref_mibs = median(ref_mibs, nref);
		r->ratio = r->iops / r->ref_iops;
	}
	return 0;
}

/* ---- images ---- */

static int fill_image(const char *path, bool direct)
{
	size_t chunk = 4 * MIB;
	uint8_t *buf = NULL;
	int fd, rc = 0;

	if (posix_memalign((void **)&buf, 4096, chunk))
		return -ENOMEM;
	for (size_t i = 0; i < chunk; i++)
		buf[i] = (uint8_t)mix64(i / 8);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | (direct ? O_DIRECT : 0), 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	for (uint64_t off = 0; off < IMAGE_SIZE && !rc; off += chunk) {
		buf[0] = (uint8_t)(off >> 22); /* not all chunks alike */
		if (pwrite(fd, buf, chunk, (off_t)off) != (ssize_t)chunk)
			rc = errno ? -errno : -EIO;
	}
	if (!rc && fsync(fd))
		rc = -errno;
	close(fd);
out:
	free(buf);
	return rc;
}

/* A file system that takes O_DIRECT: an aligned 4 KiB read must work. */
static bool direct_ok(const char *dir)
{
	char path[PATH_MAX];
	void *buf = NULL;
	bool ok = false;
	int fd;

	snprintf(path, sizeof(path), "%s/.xvb-bench-direct-probe", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	if (!posix_memalign(&buf, 4096, 4096)) {
		memset(buf, 0, 4096);
		ok = pwrite(fd, buf, 4096, 0) == 4096 && pread(fd, buf, 4096, 0) == 4096;
	}
	free(buf);
	close(fd);
	unlink(path);
	return ok;
}

static int make_dir_image(const char *const *dirs, size_t n, bool direct, char *dir_out,
			  size_t dlen, char *img_out, size_t ilen)
{
	for (size_t i = 0; i < n; i++) {
		if (direct && !direct_ok(dirs[i]))
			continue;
		snprintf(dir_out, dlen, "%s/xvb-bench-XXXXXX", dirs[i]);
		if (!mkdtemp(dir_out))
			continue;
		snprintf(img_out, ilen, "%s/disk.img", dir_out);
		if (fill_image(img_out, direct) == 0)
			return 0;
		unlink(img_out);
		rmdir(dir_out);
	}
	dir_out[0] = img_out[0] = 0;
	return -ENOENT;
}

/* ---- main ---- */

static volatile pid_t watchdog_pid;

static void on_alarm(int sig)
{
	static const char msg[] = "bench: took too long, giving up\n";

	(void)sig;
	if (watchdog_pid > 0)
		kill(watchdog_pid, SIGKILL);
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static void find_root(void)
{
	char exe[PATH_MAX], tmp[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	snprintf(root, sizeof(root), ".");
	if (n <= 0)
		return;
	exe[n] = 0;
	snprintf(tmp, sizeof(tmp), "%s/../..", dirname(exe)); /* build/bench/ */
	if (realpath(tmp, exe))
		snprintf(root, sizeof(root), "%s", exe);
}

#define MAX_RESULTS 64u

static struct bench_result results[MAX_RESULTS];
static unsigned nr_results;

static void add_cases(const char *config, bool direct, unsigned queues, bool full)
{
	static const unsigned qds[] = { 1, 8, 32, 64 };
	static const enum bench_rw rnd[] = { BENCH_RANDREAD, BENCH_RANDWRITE };

	for (size_t w = 0; w < 2; w++) {
		for (size_t i = 0; i < 4; i++) {
			if (!full && qds[i] < 32)
				continue;
			results[nr_results++].c = (struct bench_case){
				.config = config, .rw = rnd[w], .bs = 4096, .qd = qds[i],
				.queues = queues, .direct = direct,
			};
		}
	}
	if (!full)
		return;
	results[nr_results++].c = (struct bench_case){
		.config = config, .rw = BENCH_SEQREAD, .bs = 1 << 20, .qd = 8,
		.queues = queues, .direct = direct,
	};
	results[nr_results++].c = (struct bench_case){
		.config = config, .rw = BENCH_SEQWRITE, .bs = 1 << 20, .qd = 8,
		.queues = queues, .direct = direct,
	};
}

/* Random reads at every depth only: the daemon's --poll-us against its default. */
static void add_read_cases(const char *config)
{
	static const unsigned qds[] = { 1, 8, 32, 64 };

	for (size_t i = 0; i < 4; i++)
		results[nr_results++].c = (struct bench_case){
			.config = config, .rw = BENCH_RANDREAD, .bs = 4096, .qd = qds[i],
			.queues = 1,
		};
}

static int run_config(const char *config, const char *image, bool direct, unsigned queues,
		      unsigned poll_us, unsigned first, unsigned last, unsigned secs)
{
	struct env e = { .config = config, .image = image, .direct = direct, .queues = queues,
			 .poll_us = poll_us };
	int rc;

	printf("bench: --- %s: image %s, %u queue%s asked%s, daemon build/bench/xen-virtio-blkd\n",
	       config, image, queues, queues == 1 ? "" : "s",
	       poll_us ? ", --poll-us " BENCH_POLL_US_STR : "");
	rc = env_up(&e, NULL);
	watchdog_pid = e.pid;
	if (rc) {
		fprintf(stderr, "bench: %s: setup failed: %s\n", config, strerror(-rc));
		env_down(&e);
		return rc;
	}
	for (unsigned i = first; i < last; i++) {
		struct bench_result *r = &results[i];

		bench_case_name(&r->c, r->name, sizeof(r->name));
		if (filter && !strstr(r->name, filter))
			continue;
		rc = run_case(&e, r, image, secs);
		if (rc)
			break;
		bench_report_line(r);
	}
	env_down(&e);
	watchdog_pid = 0;
	return rc;
}

static int run_callgrind(const char *image, uint64_t nreq, const char *out)
{
	struct env e = { .config = "callgrind", .image = image, .queues = 1 };
	struct bench_result r = {
		.c = { .config = "callgrind", .rw = BENCH_RANDREAD, .bs = 4096, .qd = 32,
		       .queues = 1 },
	};
	int rc = env_up(&e, out);

	watchdog_pid = e.pid;
	atomic_store(&notify_n, 0);
	if (!rc)
		rc = run_ours(&e, &r, 0, nreq);
	notify_stats(&r);
	env_down(&e);
	if (rc) {
		fprintf(stderr, "bench: callgrind run failed: %s\n", strerror(-rc));
		return rc;
	}
	printf("bench-callgrind: requests=%" PRIu64 " errors=%" PRIu64 " kicks=%" PRIu64
	       " irqs=%" PRIu64 "\n",
	       r.reqs, r.errors, r.notifies, r.irqs);
	return r.errors ? -EIO : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_guest [--secs N] "
			"[--only pagecache|pagecache-2q|pagecache-poll|direct] "
			"[--filter SUBSTRING] [--json FILE] [--dat FILE]\n"
			"       bench_guest --callgrind NREQ --callgrind-out FILE\n");
}

int main(int argc, char **argv)
{
	static const char *const pc_dirs[] = { "/dev/shm", "/tmp" };
	static const struct option opts[] = {
		{ "secs", required_argument, NULL, 's' },
		{ "only", required_argument, NULL, 'o' },
		{ "json", required_argument, NULL, 'j' },
		{ "dat", required_argument, NULL, 'd' },
		{ "callgrind", required_argument, NULL, 'c' },
		{ "callgrind-out", required_argument, NULL, 'C' },
		{ "filter", required_argument, NULL, 'f' },
		{ 0 },
	};
	const char *only = NULL, *json = "bench/results.json", *dat = NULL, *cg_out = NULL;
	char pc_dir[PATH_MAX] = "", pc_img[PATH_MAX] = "", d_dir[PATH_MAX] = "",
	     d_img[PATH_MAX] = "", build_dir[PATH_MAX + 16];
	const char *d_dirs[3] = { "/var/tmp", build_dir, "/tmp" };
	unsigned secs = 5, start;
	uint64_t cg_reqs = 0;
	int o, rc = 0;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': secs = (unsigned)atoi(optarg); break;
		case 'o': only = optarg; break;
		case 'j': json = optarg; break;
		case 'd': dat = optarg; break;
		case 'c': cg_reqs = strtoull(optarg, NULL, 0); break;
		case 'C': cg_out = optarg; break;
		case 'f': filter = optarg; break;
		default: usage(); return 2;
		}
	}
	if (!secs || (cg_reqs && !cg_out)) {
		usage();
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	clk_tck = (double)sysconf(_SC_CLK_TCK);
	find_root();
	snprintf(build_dir, sizeof(build_dir), "%s/build/bench", root);
	mkdir(build_dir, 0755);
	notify_ns = calloc(NOTIFY_SAMPLES, sizeof(*notify_ns));
	if (!notify_ns)
		return 1;

	if (make_dir_image(pc_dirs, 2, false, pc_dir, sizeof(pc_dir), pc_img, sizeof(pc_img))) {
		fprintf(stderr, "bench: cannot create a %llu MiB image in /dev/shm or /tmp\n",
			IMAGE_SIZE / MIB);
		return 1;
	}
	if (cg_reqs) {
		alarm(1200);
		rc = run_callgrind(pc_img, cg_reqs, cg_out);
		goto out;
	}
	alarm(1800);
	if (!only || !strcmp(only, "pagecache")) {
		start = nr_results;
		add_cases("pagecache", false, 1, true);
		rc |= run_config("pagecache", pc_img, false, 1, 0, start, nr_results, secs);
	}
	if (!only || !strcmp(only, "pagecache-2q")) {
		start = nr_results;
		add_cases("pagecache-2q", false, 2, false);
		rc |= run_config("pagecache-2q", pc_img, false, 2, 0, start, nr_results, secs);
	}
	if (!only || !strcmp(only, "pagecache-poll")) {
		start = nr_results;
		add_read_cases("pagecache-poll");
		rc |= run_config("pagecache-poll", pc_img, false, 1, BENCH_POLL_US, start,
				 nr_results, secs);
	}
	if (!only || !strcmp(only, "direct")) {
		if (make_dir_image(d_dirs, 3, true, d_dir, sizeof(d_dir), d_img, sizeof(d_img))) {
			fprintf(stderr, "bench: no file system here takes O_DIRECT; skipping\n");
		} else {
			start = nr_results;
			add_cases("direct", true, 1, true);
			rc |= run_config("direct", d_img, true, 1, 0, start, nr_results, secs);
		}
	}
	if (bench_write_json(json, results, nr_results, secs, pc_img, d_img[0] ? d_img : NULL))
		fprintf(stderr, "bench: cannot write %s\n", json);
	else
		printf("bench: wrote %s\n", json);
	if (dat && bench_write_dat(dat, results, nr_results))
		fprintf(stderr, "bench: cannot write %s\n", dat);
out:
	if (pc_img[0])
		unlink(pc_img);
	if (pc_dir[0])
		rmdir(pc_dir);
	if (d_img[0])
		unlink(d_img);
	if (d_dir[0])
		rmdir(d_dir);
	free(notify_ns);
	return rc ? 1 : 0;
}
