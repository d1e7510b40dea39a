/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Integration-test harness: simulator, guests, images, the daemon, and the
 * closing checks. See t_env.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t_env.h"

#define T_WATCHDOG_S 150u   /* one test, start to end */
#define T_READY_MS 15000u   /* daemon start to "ready" */
#define T_STOP_MS 15000u    /* SIGTERM to exit */
#define T_HOLDINGS_MS 3000u /* exit to every resource released */

static struct t_env env_storage;
static struct t_env *current;
static volatile pid_t watch_pids[T_MAX_GUESTS];
static bool atexit_done;
#define T_MAX_BG 8u
static struct t_bg *bgs[T_MAX_BG]; /* running background workloads */

void t_skip(const char *why)
{
	printf("# SKIP: %s\n", why);
	fflush(stdout);
	exit(77);
}

static void on_alarm(int sig)
{
	static const char msg[] = "# test watchdog expired: killing the daemon\n";

	(void)sig;
	for (unsigned i = 0; i < T_MAX_GUESTS; i++)
		if (watch_pids[i] > 0)
			kill(watch_pids[i], SIGKILL);
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

/* Remove what a test left behind, without checking anything. */
static void t_abandon(struct t_env *e)
{
	int status;

	/* Daemons first: background workloads then fail fast and can be joined. */
	for (unsigned i = 0; i < e->nr_guests; i++) {
		struct t_guest *g = &e->guest[i];

		if (g->pid > 0 && !g->stopped) {
			kill(g->pid, SIGKILL);
			waitpid(g->pid, &status, 0);
		}
		g->pid = 0;
		watch_pids[i] = 0;
	}
	for (unsigned i = 0; i < T_MAX_BG; i++) {
		if (bgs[i]) {
			t_bg_join(bgs[i]);
			bgs[i] = NULL;
		}
	}
	for (unsigned i = 0; i < e->nr_guests; i++)
		for (unsigned d = 0; d < e->guest[i].nr_disks; d++)
			t_blk_close(&e->guest[i].disk[d]);
	for (unsigned i = 0; i < e->nr_guests; i++) {
		struct t_guest *g = &e->guest[i];

		guest_vm_fini(&g->vm);
		if (g->sim)
			sim_guest_destroy(g->sim);
		g->sim = NULL;
		for (unsigned d = 0; d < g->nr_disks; d++)
			unlink(g->disk[d].path);
	}
	if (e->sim)
		sim_stop(e->sim);
	e->sim = NULL;
	if (e->dir[0])
		rmdir(e->dir);
	e->dir[0] = 0;
	current = NULL;
}

static void at_exit(void)
{
	if (current)
		t_abandon(current);
}

static const char *root_dir(void)
{
	static char root[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n;

	if (root[0])
		return root;
	/* build/tests/xensim/<prog> -> the source tree three levels up */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		snprintf(root, sizeof(root), "%s/../../..", dirname(exe));
		if (realpath(root, exe))
			snprintf(root, sizeof(root), "%s", exe);
	} else {
		snprintf(root, sizeof(root), ".");
	}
	return root;
}

static const char *daemon_path(void)
{
	static char path[PATH_MAX + 32];
	const char *env = getenv("XVB_DAEMON");

	if (env && *env)
		return env;
	snprintf(path, sizeof(path), "%s/src/xen-virtio-blkd", root_dir());
	return path;
}

static void log_dir(char *buf, size_t len)
{
	const char *env = getenv("TEST_LOGDIR");

	if (env && *env)
		snprintf(buf, len, "%s", env);
	else
		snprintf(buf, len, "%s/build/test-logs", root_dir());
	mkdir(buf, 0755);
}

struct t_env *t_begin(const char *name)
{
	struct sim_config cfg = { .ioreq_timeout_ms = 10000 };
	struct t_env *e = &env_storage;
	static const char *const tmpdirs[] = { "/dev/shm", "/tmp" };
	int r;

	if (current)
		t_abandon(current);
	if (!atexit_done) {
		atexit(at_exit);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGALRM, on_alarm);
		atexit_done = true;
	}
	if (access(daemon_path(), X_OK) != 0)
		check_fail(__FILE__, __LINE__, "daemon binary %s: %s (run make first)",
			   daemon_path(), strerror(errno));
	*e = (struct t_env){ .name = name };
	for (unsigned i = 0; i < 2 && !e->dir[0]; i++) {
		snprintf(e->dir, sizeof(e->dir), "%s/xvb-%s-XXXXXX", tmpdirs[i], name);
		if (!mkdtemp(e->dir))
			e->dir[0] = 0;
	}
	if (!e->dir[0])
		t_skip("no writable /dev/shm or /tmp for disk images");
	r = sim_start(&cfg, &e->sim);
	if (r == -ENOSYS)
		t_skip("the simulator needs memfd_create, which this kernel lacks");
	if (r) {
		rmdir(e->dir);
		check_fail(__FILE__, __LINE__, "sim_start: %s", strerror(-r));
	}
	current = e;
	alarm(T_WATCHDOG_S);
	return e;
}

struct t_guest *t_guest(struct t_env *e, uint16_t domid, unsigned nr_vcpus, uint64_t ram_bytes)
{
	struct t_guest *g;
	int r;

	CHECK(e->nr_guests < T_MAX_GUESTS);
	g = &e->guest[e->nr_guests];
	*g = (struct t_guest){ .env = e, .domid = domid };
	r = sim_guest_create(e->sim, domid, ram_bytes, nr_vcpus, &g->sim);
	if (r)
		check_fail(__FILE__, __LINE__, "sim_guest_create(dom%u): %s", domid, strerror(-r));
	e->nr_guests++;
	CHECK_EQ(guest_vm_init(&g->vm, g->sim, nr_vcpus), 0);
	return g;
}

struct t_disk *t_disk(struct t_guest *g, const struct t_disk_opts *o)
{
	struct t_disk *d;
	int fd;

	CHECK(g->nr_disks < T_MAX_DISKS);
	d = &g->disk[g->nr_disks];
	*d = (struct t_disk){
		.o = *o,
		.base = T_DISK_BASE + g->nr_disks * 0x200ull,
		.irq = T_DISK_IRQ + g->nr_disks,
	};
	snprintf(d->path, sizeof(d->path), "%s/dom%u-disk%u.img", g->env->dir, g->domid,
		 g->nr_disks);
	g->nr_disks++;
	fd = open(d->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	if (ftruncate(fd, (off_t)o->size) != 0) {
		close(fd);
		check_fail(__FILE__, __LINE__, "ftruncate %s: %s", d->path, strerror(errno));
	}
	close(fd);
	return d;
}

void t_note_log(const struct t_guest *g, unsigned lines)
{
	char cmd[700];
	FILE *p;
	char line[512];

	if (!g->log[0])
		return;
	printf("# daemon log %s (last %u lines):\n", g->log, lines);
	snprintf(cmd, sizeof(cmd), "tail -n %u '%s'", lines, g->log);
	p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(line, sizeof(line), p))
		printf("#   %s", line);
	pclose(p);
}

void t_daemon_start(struct t_guest *g)
{
	char domid[16], specs[T_MAX_DISKS][512], dir[256], poll[16];
	char *argv[10 + 2 * T_MAX_DISKS];
	unsigned n = 0;
	int r;

	CHECK(g->pid == 0);
	log_dir(dir, sizeof(dir));
	snprintf(g->log, sizeof(g->log), "%s/xensim-%s-dom%u.log", dir, g->env->name, g->domid);
	unlink(g->log);
	snprintf(domid, sizeof(domid), "%u", g->domid);
	argv[n++] = (char *)daemon_path();
	argv[n++] = "--domid";
	argv[n++] = domid;
	for (unsigned i = 0; i < g->nr_disks; i++) {
		const struct t_disk *d = &g->disk[i];
		int len = snprintf(specs[i], sizeof(specs[i]), "path=%s,base=%#" PRIx64 ",irq=%u",
				   d->path, d->base, d->irq);

		if (d->o.ro)
			len += snprintf(specs[i] + len, sizeof(specs[i]) - (size_t)len, ",ro");
		if (d->o.serial)
			len += snprintf(specs[i] + len, sizeof(specs[i]) - (size_t)len,
					",serial=%s", d->o.serial);
		if (d->o.version)
			len += snprintf(specs[i] + len, sizeof(specs[i]) - (size_t)len,
					",version=%u", d->o.version);
		if (d->o.queues)
			len += snprintf(specs[i] + len, sizeof(specs[i]) - (size_t)len,
					",queues=%u", d->o.queues);
		if (d->o.threads)
			snprintf(specs[i] + len, sizeof(specs[i]) - (size_t)len, ",threads=%u",
				 d->o.threads);
		argv[n++] = "--disk";
		argv[n++] = specs[i];
	}
	if (g->poll_us) {
		snprintf(poll, sizeof(poll), "%u", g->poll_us);
		argv[n++] = "--poll-us";
		argv[n++] = poll;
	}
	argv[n++] = "--foreground";
	argv[n++] = "-v";
	argv[n] = NULL;

	r = sim_daemon_start(g->env->sim, argv, g->log, &g->pid);
	if (r)
		check_fail(__FILE__, __LINE__, "sim_daemon_start: %s", strerror(-r));
	watch_pids[g - g->env->guest] = g->pid;
	g->stopped = false;
	r = sim_daemon_wait_log(g->log, "ready", T_READY_MS);
	if (r) {
		t_note_log(g, 30);
		check_fail(__FILE__, __LINE__, "daemon for dom%u never logged \"ready\": %s",
			   g->domid, strerror(-r));
	}
	for (unsigned i = 0; i < g->nr_disks; i++) {
		r = sim_wait_claimed(g->sim, g->disk[i].base, T_READY_MS);
		if (r) {
			t_note_log(g, 30);
			check_fail(__FILE__, __LINE__, "window %#" PRIx64 " never served: %s",
				   g->disk[i].base, strerror(-r));
		}
	}
}

int t_daemon_stop(struct t_guest *g, int sig)
{
	int r;

	if (g->pid <= 0 || g->stopped)
		return g->status;
	r = sim_daemon_stop(g->pid, sig, T_STOP_MS, &g->status);
	g->stopped = true;
	watch_pids[g - g->env->guest] = 0;
	if (r) {
		/* sim_daemon_stop escalates or gives up: make sure it is gone. */
		kill(g->pid, SIGKILL);
		waitpid(g->pid, &g->status, 0);
		printf("# dom%u daemon did not exit on signal %d within %u ms\n", g->domid, sig,
		       T_STOP_MS);
		g->status = -1;
	}
	return g->status;
}

struct gblk *t_blk(struct t_disk *d, const struct gblk_opts *opts)
{
	struct t_guest *g = NULL;
	struct t_env *e = current;
	int r;

	for (unsigned i = 0; e && i < e->nr_guests && !g; i++)
		if (d >= e->guest[i].disk && d < e->guest[i].disk + T_MAX_DISKS)
			g = &e->guest[i];
	CHECK(g != NULL);
	CHECK(!d->blk_open);
	r = gblk_open(&d->blk, &g->vm, d->base, d->irq, opts);
	d->blk_open = true;
	if (r) {
		t_note_log(g, 20);
		check_fail(__FILE__, __LINE__, "driver start on %#" PRIx64 ": %s", d->base,
			   strerror(-r));
	}
	return &d->blk;
}

void t_blk_close(struct t_disk *d)
{
	if (!d->blk_open)
		return;
	gblk_close(&d->blk);
	d->blk_open = false;
}

static bool holdings_zero(const struct sim_holdings *h)
{
	return !h->servers && !h->ranges && !h->bound_ports && !h->foreign_pages &&
	       !h->resource_maps && !h->connections;
}

static void wait_holdings(struct sim *sim, struct sim_holdings *h)
{
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };

	for (unsigned ms = 0; ms < T_HOLDINGS_MS; ms += 10) {
		sim_holdings(sim, h);
		if (holdings_zero(h))
			return;
		nanosleep(&pause, NULL);
	}
}

void t_end(struct t_env *e)
{
	struct sim_holdings h = { 0 };
	bool exit_ok = true;
	char viol[4096] = "";
	unsigned nviol;
	int bad_guest = -1;

	for (unsigned i = 0; i < e->nr_guests; i++) {
		struct t_guest *g = &e->guest[i];
		int st;

		for (unsigned d = 0; d < g->nr_disks; d++)
			t_blk_close(&g->disk[d]);
		if (g->pid <= 0)
			continue;
		st = t_daemon_stop(g, SIGTERM);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("# dom%u daemon: %s %d\n", g->domid,
			       WIFSIGNALED(st) ? "killed by signal" : "exit status",
			       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			t_note_log(g, 30);
			exit_ok = false;
			bad_guest = (int)i;
		}
	}
	wait_holdings(e->sim, &h);
	nviol = sim_violations(e->sim, viol, sizeof(viol));
	if (nviol) {
		printf("# %u protocol violation(s):\n", nviol);
		for (char *line = strtok(viol, "\n"); line; line = strtok(NULL, "\n"))
			printf("#   %s\n", line);
	}
	if (!holdings_zero(&h))
		printf("# held after exit: servers %u ranges %u ports %u foreign pages %u resource "
		       "maps %u connections %u\n",
		       h.servers, h.ranges, h.bound_ports, h.foreign_pages, h.resource_maps,
		       h.connections);
	if ((nviol || !holdings_zero(&h)) && bad_guest < 0 && e->nr_guests)
		t_note_log(&e->guest[0], 20);
	alarm(0);
	t_abandon(e);
	CHECK(exit_ok);
	CHECK_EQ(nviol, 0);
	CHECK(holdings_zero(&h));
}

uint64_t t_file_hash(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ull, buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n / 8; i++) {
			h ^= buf[i];
			h *= 0x100000001b3ull;
		}
	}
	close(fd);
	return h;
}

static void *bg_main(void *arg)
{
	struct t_bg *bg = arg;

	gwork_run(bg->b, bg->m, &bg->w, &bg->res);
	return NULL;
}

void t_bg_start(struct t_bg *bg)
{
	unsigned i = 0;

	CHECK(!bg->running);
	while (i < T_MAX_BG && bgs[i])
		i++;
	CHECK(i < T_MAX_BG);
	CHECK_EQ(pthread_create(&bg->thread, NULL, bg_main, bg), 0);
	bg->running = true;
	bgs[i] = bg;
}

void t_bg_join(struct t_bg *bg)
{
	if (!bg->running)
		return;
	pthread_join(bg->thread, NULL);
	bg->running = false;
	for (unsigned i = 0; i < T_MAX_BG; i++)
		if (bgs[i] == bg)
			bgs[i] = NULL;
}
