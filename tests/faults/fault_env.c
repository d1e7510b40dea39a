/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host-side fault test helpers: eiofs and tmpfs mounts, /proc figures; see fault_env.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "fault_env.h"

#define MAX_MOUNTS 16u
#define MOUNT_WAIT_MS 10000u

static struct {
	char dir[256];
	pid_t eiofs; /* 0: a tmpfs */
} mounts[MAX_MOUNTS];
static char scratch[128];
static bool cleanup_registered;

uint64_t fault_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fault_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void record_mount(const char *dir, pid_t pid)
{
	for (unsigned i = 0; i < MAX_MOUNTS; i++) {
		if (!mounts[i].dir[0]) {
			snprintf(mounts[i].dir, sizeof(mounts[i].dir), "%s", dir);
			mounts[i].eiofs = pid;
			return;
		}
	}
	check_fail(__FILE__, __LINE__, "more than %u mounts", MAX_MOUNTS);
}

static void forget_mount(const char *dir)
{
	for (unsigned i = 0; i < MAX_MOUNTS; i++)
		if (strcmp(mounts[i].dir, dir) == 0)
			mounts[i].dir[0] = '\0';
}

/* Unmount dir: normally, or (something still holds it) lazily. */
static void umount_dir(const char *dir)
{
	for (unsigned i = 0; i < 50; i++) {
		if (umount2(dir, 0) == 0 || errno == EINVAL || errno == ENOENT)
			return;
		if (errno != EBUSY)
			break;
		fault_sleep_ms(20);
	}
	umount2(dir, MNT_DETACH);
}

void fault_cleanup(void)
{
	char cmd[200];

	for (unsigned i = 0; i < MAX_MOUNTS; i++) {
		if (!mounts[i].dir[0])
			continue;
		if (mounts[i].eiofs > 0) {
			kill(mounts[i].eiofs, SIGKILL);
			umount2(mounts[i].dir, MNT_DETACH);
			waitpid(mounts[i].eiofs, NULL, 0);
		} else {
			umount_dir(mounts[i].dir);
		}
		rmdir(mounts[i].dir);
		mounts[i].dir[0] = '\0';
	}
	if (scratch[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
		if (system(cmd) != 0)
			printf("# cannot remove %s\n", scratch);
		scratch[0] = '\0';
	}
}

const char *fault_scratch(void)
{
	if (!scratch[0]) {
		snprintf(scratch, sizeof(scratch), "/dev/shm/xvb-fault-XXXXXX");
		if (!mkdtemp(scratch)) {
			snprintf(scratch, sizeof(scratch), "/tmp/xvb-fault-XXXXXX");
			CHECK(mkdtemp(scratch) != NULL);
		}
	}
	return scratch;
}

void fault_image(const char *dir, const char *name, uint64_t size, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	if (ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		check_fail(__FILE__, __LINE__, "ftruncate %s: %s", path, strerror(errno));
	}
	close(fd);
}

/*
 * FUSE and mount(2) must really work here; otherwise the whole program is
 * skipped, before its first test (a skip after a passed test would count
 * as a failure), whether or not that first test needs them.
 */
static void require_mounts(void)
{
	static int checked = 0;
	char dir[200];
	int r, err, fd;

	if (checked)
		return;
	checked = 1;
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(dir, sizeof(dir), "/dev/fuse cannot be opened (%s): these tests need FUSE, as root",
			 strerror(errno));
		t_skip(dir);
	}
	close(fd);
	snprintf(dir, sizeof(dir), "%s/probe", fault_scratch());
	CHECK_EQ(mkdir(dir, 0700), 0);
	r = mount("tmpfs", dir, "tmpfs", 0, "size=64k");
	err = errno;
	if (r == 0)
		umount2(dir, 0);
	rmdir(dir);
	if (r != 0) {
		snprintf(dir, sizeof(dir), "mount(2) of a tmpfs fails (%s): the tests need root",
			 strerror(err));
		t_skip(dir);
	}
}

void fault_prepare(void)
{
	if (!cleanup_registered) {
		atexit(fault_cleanup);
		cleanup_registered = true;
	}
	fault_cleanup();
	require_mounts();
}

struct t_env *fault_begin(const char *name)
{
	struct t_env *e;

	if (!cleanup_registered) {
		/* Registered before t_env's own handler, so it runs after it (daemons gone first). */
		atexit(fault_cleanup);
		cleanup_registered = true;
	}
	e = t_begin(name); /* stops whatever an earlier test left running */
	fault_prepare();
	return e;
}

static void eiofs_path(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	CHECK(n > 0);
	exe[n] = '\0';
	snprintf(buf, len, "%s/eiofs", dirname(exe));
}

void eiofs_start(struct eiofs *fs, const char *image, const char *const *args)
{
	char bin[PATH_MAX + 8], log[PATH_MAX + 16];
	const char *argv[24];
	unsigned n = 0;
	struct stat st;
	pid_t pid;

	*fs = (struct eiofs){ .pid = -1 };
	eiofs_path(bin, sizeof(bin));
	snprintf(fs->dir, sizeof(fs->dir), "%s/eiofs-XXXXXX", fault_scratch());
	CHECK(mkdtemp(fs->dir) != NULL);
	snprintf(fs->file, sizeof(fs->file), "%s/disk.img", fs->dir);
	snprintf(fs->ctl, sizeof(fs->ctl), "%s/.ctl", fs->dir);
	snprintf(log, sizeof(log), "%s.log", fs->dir);
	argv[n++] = bin;
	for (unsigned i = 0; args && args[i] && n < 20; i++)
		argv[n++] = args[i];
	argv[n++] = image;
	argv[n++] = fs->dir;
	argv[n] = NULL;

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		/* Gone with the test: its mount then fails fast instead of hanging the daemon. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	fs->pid = pid;
	record_mount(fs->dir, pid);
	for (uint64_t t0 = fault_now_ms(); fault_now_ms() - t0 < MOUNT_WAIT_MS;) {
		int st_rc;

		if (stat(fs->ctl, &st) == 0)
			return;
		if (waitpid(pid, &st_rc, WNOHANG) == pid) {
			fs->pid = -1;
			forget_mount(fs->dir);
			check_fail(__FILE__, __LINE__, "eiofs exited (status %d) before mounting; see %s",
				   st_rc, log);
		}
		fault_sleep_ms(5);
	}
	check_fail(__FILE__, __LINE__, "eiofs never mounted %s; see %s", fs->dir, log);
}

void eiofs_ctl(struct eiofs *fs, const char *fmt, ...)
{
	char line[200];
	va_list ap;
	int fd, len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	CHECK(len > 0 && (size_t)len < sizeof(line));
	fd = open(fs->ctl, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, line, (size_t)len), len);
	close(fd);
}

void eiofs_counters(struct eiofs *fs, struct eiofs_counters *c)
{
	char text[300] = "";
	int fd = open(fs->ctl, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	CHECK(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	CHECK(n > 0);
	text[n] = '\0';
	CHECK_EQ(sscanf(text,
			"reads %lu writes %lu fsyncs %lu read_errors %lu write_errors %lu "
			"sync_errors %lu",
			&c->reads, &c->writes, &c->fsyncs, &c->read_errors, &c->write_errors,
			&c->sync_errors),
		 6);
}

static void eiofs_end(struct eiofs *fs, bool kill_first)
{
	int st = 0;

	if (fs->pid <= 0)
		return;
	if (kill_first) {
		kill(fs->pid, SIGKILL);
		waitpid(fs->pid, &st, 0);
		umount_dir(fs->dir);
	} else {
		umount_dir(fs->dir);
		/* Unmounted: fuse_main returns and eiofs exits by itself. */
		for (unsigned i = 0; i < 500 && waitpid(fs->pid, &st, WNOHANG) == 0; i++)
			fault_sleep_ms(10);
		if (kill(fs->pid, 0) == 0) {
			kill(fs->pid, SIGKILL);
			waitpid(fs->pid, &st, 0);
		}
	}
	forget_mount(fs->dir);
	rmdir(fs->dir);
	fs->pid = -1;
}

void eiofs_stop(struct eiofs *fs)
{
	eiofs_end(fs, false);
}

void eiofs_kill(struct eiofs *fs)
{
	eiofs_end(fs, true);
}

void fault_tmpfs(const char *size, char *dir, size_t len)
{
	char opts[64];

	snprintf(dir, len, "%s/tmpfs-XXXXXX", fault_scratch());
	CHECK(mkdtemp(dir) != NULL);
	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0)
		check_fail(__FILE__, __LINE__, "mount tmpfs -o %s %s: %s", opts, dir,
			   strerror(errno));
	record_mount(dir, 0);
}

void fault_umount(const char *dir)
{
	umount_dir(dir);
	forget_mount(dir);
	rmdir(dir);
}

void fault_proc_figures(pid_t pid, struct proc_figures *f)
{
	char path[64], line[512];
	struct dirent *de;
	DIR *d;
	FILE *fp;

	*f = (struct proc_figures){ 0 };
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	CHECK(d != NULL);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			f->fds++;
	closedir(d);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fp = fopen(path, "r");
	CHECK(fp != NULL);
	while (fgets(line, sizeof(line), fp))
		if (strchr(line, '\n'))
			f->maps++;
	fclose(fp);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	CHECK(fp != NULL);
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmRSS: %lu kB", &f->rss_kb) == 1)
			break;
	fclose(fp);
}

unsigned fault_log_count(const char *path, const char *regex)
{
	char line[1024];
	unsigned n = 0;
	regex_t re;
	FILE *fp;

	CHECK_EQ(regcomp(&re, regex, REG_EXTENDED | REG_NOSUB), 0);
	fp = fopen(path, "r");
	if (fp) {
		while (fgets(line, sizeof(line), fp))
			if (regexec(&re, line, 0, NULL, 0) == 0)
				n++;
		fclose(fp);
	}
	regfree(&re);
	return n;
}

void fault_daemon_start(struct t_guest *g, const char *disk_extra)
{
	char domid[16], specs[T_MAX_DISKS][512], dir[256];
	char *argv[8 + 2 * T_MAX_DISKS];
	const char *logdir = getenv("TEST_LOGDIR");
	unsigned n = 0;
	int r;

	CHECK(g->pid == 0);
	snprintf(dir, sizeof(dir), "%s", logdir && *logdir ? logdir : XVB_LOGDIR);
	mkdir(dir, 0755);
	snprintf(g->log, sizeof(g->log), "%s/fault-%s-dom%u.log", dir, g->env->name, g->domid);
	unlink(g->log);
	snprintf(domid, sizeof(domid), "%u", g->domid);
	argv[n++] = getenv("XVB_DAEMON") && *getenv("XVB_DAEMON") ? getenv("XVB_DAEMON")
								   : (char *)XVB_DAEMON_PATH;
	argv[n++] = "--domid";
	argv[n++] = domid;
	for (unsigned i = 0; i < g->nr_disks; i++) {
		const struct t_disk *d = &g->disk[i];

		snprintf(specs[i], sizeof(specs[i]), "path=%s,base=%#" PRIx64 ",irq=%u%s%s", d->path,
			 d->base, d->irq, d->o.ro ? ",ro" : "", disk_extra ? disk_extra : "");
		argv[n++] = "--disk";
		argv[n++] = specs[i];
	}
	argv[n++] = "--foreground";
	argv[n++] = "-v";
	argv[n] = NULL;
	r = sim_daemon_start(g->env->sim, argv, g->log, &g->pid);
	if (r)
		check_fail(__FILE__, __LINE__, "sim_daemon_start: %s", strerror(-r));
	g->stopped = false;
	if (sim_daemon_wait_log(g->log, "ready", 15000)) {
		t_note_log(g, 30);
		check_fail(__FILE__, __LINE__, "daemon for dom%u never logged \"ready\"", g->domid);
	}
	for (unsigned i = 0; i < g->nr_disks; i++)
		CHECK_EQ(sim_wait_claimed(g->sim, g->disk[i].base, 15000), 0);
}

void fault_model_init(struct fault_model *fm, uint64_t sectors, uint64_t seed)
{
	CHECK_EQ(gdisk_model_init(&fm->m, sectors, seed), 0);
	fm->unknown = calloc(sectors, 1);
	CHECK(fm->unknown != NULL);
}

void fault_model_fini(struct fault_model *fm)
{
	gdisk_model_fini(&fm->m);
	free(fm->unknown);
	fm->unknown = NULL;
}

/* Sectors of a successful read that differ from the model, skipping unknown ones. */
static uint64_t compare_known(struct fault_model *fm, const struct fault_io *io,
			      const uint8_t *data)
{
	uint64_t bad = 0;
	char msg[200];

	for (uint32_t i = 0; i < io->nsect; i++) {
		uint64_t s = io->sector + i;

		if (fm->unknown[s])
			continue;
		if (gdisk_compare(&fm->m, s, 1, data + (size_t)i * 512u, msg, sizeof(msg))) {
			if (!bad)
				printf("# sector %" PRIu64 ": %s\n", s, msg);
			bad++;
		}
	}
	return bad;
}

static void finish(struct fault_model *fm, struct fault_io *io, struct gblk_req *r, uint32_t gen,
		   uint8_t *buf, uint64_t *bad)
{
	io->status = r->result;
	if (io->type == VIRTIO_BLK_T_OUT) {
		if (io->status == VIRTIO_BLK_S_OK)
			gdisk_commit(&fm->m, io->sector, io->nsect, gen);
		for (uint32_t i = 0; i < io->nsect; i++)
			fm->unknown[io->sector + i] = io->status != VIRTIO_BLK_S_OK;
	} else if (io->status == VIRTIO_BLK_S_OK) {
		gblk_req_copy_out(r, buf, io->nsect * 512u);
		*bad += compare_known(fm, io, buf);
	}
}

uint64_t fault_io(struct gblk *b, struct fault_model *fm, unsigned vcpu, struct fault_io *io,
		  unsigned n, unsigned qd)
{
	struct gblk_req **reqs;
	uint32_t *gens, max = 0;
	unsigned *slot_of, next = 0, done = 0;
	uint64_t bad = 0;
	uint8_t *buf;

	for (unsigned i = 0; i < n; i++)
		if (io[i].nsect > max)
			max = io[i].nsect;
	CHECK(qd > 0 && max > 0);
	CHECK_EQ(gblk_pool(b, vcpu, qd, max * 512u, 4, &reqs), 0);
	gens = calloc(qd, sizeof(*gens));
	slot_of = calloc(qd, sizeof(*slot_of));
	buf = malloc((size_t)max * 512u);
	CHECK(gens && slot_of && buf);
	/* Request i runs in slot i % qd: issue qd, then refill each slot as it finishes. */
	while (done < n) {
		unsigned issued = 0;

		for (unsigned k = 0; k < qd && next < n; k++, next++, issued++) {
			struct fault_io *x = &io[next];
			struct gblk_req *r = reqs[k];

			CHECK(x->sector + x->nsect <= fm->m.sectors);
			gblk_req_set(r, x->type, x->sector, x->nsect * 512u, 1 + next % 4,
				     GBLK_L_INDIRECT);
			if (x->type == VIRTIO_BLK_T_OUT) {
				gens[k] = gdisk_next_gen(&fm->m);
				gdisk_fill(&fm->m, x->sector, x->nsect, gens[k], buf);
				gblk_req_copy_in(r, buf, x->nsect * 512u);
			}
			slot_of[k] = next;
			CHECK_EQ(gblk_submit(b, 0, r), 0);
		}
		CHECK_EQ(gblk_kick(b, vcpu, 0), 0);
		for (unsigned k = 0; k < issued; k++) {
			CHECK_EQ(gblk_wait_req(b, reqs[k]), 0);
			finish(fm, &io[slot_of[k]], reqs[k], gens[k], buf, &bad);
			done++;
		}
	}
	free(gens);
	free(slot_of);
	free(buf);
	return bad;
}

void fault_note_fds(pid_t pid)
{
	char path[64], link[PATH_MAX], target[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		printf("#   fd %s -> %s\n", de->d_name, target);
	}
	closedir(d);
}

void fault_disk_path(struct t_disk *d, const char *path)
{
	unlink(d->path); /* t_disk's own image, not used */
	snprintf(d->path, sizeof(d->path), "%s", path);
}
