/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim integration tests, O_DIRECT (issue 7). On real Xen a foreign
 * mapping of guest RAM is VM_PFNMAP: get_user_pages() refuses it, so
 * O_DIRECT I/O straight into guest memory fails with EFAULT. xensim's guest
 * RAM is a memfd_secret() where the kernel has one, which GUP refuses the
 * same way (sim_guest.c). The first test shows that the simulator does
 * refuse it; the second runs the daemon with cache=direct on a file system
 * that takes O_DIRECT and writes, reads back and checks data of every size
 * and chain layout: a daemon that handed a guest pointer to an O_DIRECT
 * read or write would answer IOERR here instead of the data.
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
#include <sys/syscall.h>
#include <unistd.h>

#include "compiler.h"
#include "t_env.h"

#define DISK_SIZE (32 * T_MIB)
#define RAM_SIZE (128 * T_MIB)

static char direct_dir[PATH_MAX];

static const char *root_dir(void)
{
	static char root[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n;

	if (root[0])
		return root;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	snprintf(root, sizeof(root), ".");
	if (n > 0) {
		char tmp[PATH_MAX + 16];

		exe[n] = 0;
		snprintf(tmp, sizeof(tmp), "%s/../../..", dirname(exe)); /* build/tests/xensim */
		if (realpath(tmp, exe))
			snprintf(root, sizeof(root), "%s", exe);
	}
	return root;
}

/* A directory whose file system does O_DIRECT for real (tmpfs only pretends). */
static const char *find_direct_dir(void)
{
	char build[PATH_MAX + 16];
	const char *dirs[] = { "/var/tmp", build };

	snprintf(build, sizeof(build), "%s/build", root_dir());
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char path[PATH_MAX + 32];
		void *buf = NULL;
		bool ok = false;
		int fd;

		snprintf(path, sizeof(path), "%s/.xvb-direct-XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		close(fd);
		fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (fd >= 0 && posix_memalign(&buf, 4096, 4096) == 0) {
			memset(buf, 0x5a, 4096);
			ok = pwrite(fd, buf, 4096, 0) == 4096 && pread(fd, buf, 4096, 0) == 4096;
		}
		free(buf);
		if (fd >= 0)
			close(fd);
		unlink(path);
		if (ok) {
			snprintf(direct_dir, sizeof(direct_dir), "%s", dirs[i]);
			return direct_dir;
		}
	}
	return NULL;
}

static bool kernel_has_secretmem(void)
{
#ifdef SYS_memfd_secret
	int fd = (int)syscall(SYS_memfd_secret, (unsigned int)O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return !getenv("XENSIM_PLAIN_RAM");
	}
#endif
	return false;
}

/* A file of n bytes of a pattern in the O_DIRECT directory; returns its path. */
static void make_file(char *path, size_t len, uint64_t bytes)
{
	uint8_t buf[4096];
	int fd;

	snprintf(path, len, "%s/xvb-t_direct-XXXXXX", direct_dir);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	for (uint64_t off = 0; off < bytes; off += sizeof(buf))
		CHECK_EQ(pwrite(fd, buf, sizeof(buf), (off_t)off), (ssize_t)sizeof(buf));
	CHECK_EQ(fsync(fd), 0);
	close(fd);
}

TEST(simulated_guest_ram_refuses_o_direct)
{
	struct t_env *e;
	struct t_guest *g;
	uint8_t *ram;
	char path[PATH_MAX + 64];
	ssize_t r;
	int fd;

	if (!find_direct_dir()) {
		printf("# skipped: no file system here takes O_DIRECT (/var/tmp, build/)\n");
		return;
	}
	e = t_begin("direct_refused");
	g = t_guest(e, 1, 1, 16 * T_MIB);
	ram = sim_guest_ram(g->sim, SIM_GUEST_RAM_BASE + T_MIB, 4096);
	CHECK(ram != NULL);
	make_file(path, sizeof(path), 4096);
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	CHECK(fd >= 0);
	errno = 0;
	r = pread(fd, ram, 4096, 0);
	if (kernel_has_secretmem()) {
		/* What real Xen does to O_DIRECT into a foreign (VM_PFNMAP) mapping. */
		CHECK_EQ(r, -1);
		CHECK_EQ(errno, EFAULT);
	} else {
		printf("# no memfd_secret here: guest RAM is a plain memfd that O_DIRECT reaches\n");
	}
	close(fd);
	/* Buffered I/O into guest RAM works, as into a foreign mapping. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, ram, 4096, 0), 4096);
	CHECK_EQ(ram[1], 8);
	close(fd);
	unlink(path);
	t_end(e);
}

/* Start the daemon on image with cache=direct for disk d of g. */
static void start_direct_daemon(struct t_guest *g, struct t_disk *d, const char *image)
{
	char daemon[PATH_MAX + 32], spec[PATH_MAX + 128], logdir[400];
	char *argv[] = { daemon, "--domid", "1", "--disk", spec, "--foreground", "-v", NULL };
	const char *env = getenv("XVB_DAEMON");

	if (env && *env)
		snprintf(daemon, sizeof(daemon), "%s", env);
	else
		snprintf(daemon, sizeof(daemon), "%s/src/xen-virtio-blkd", root_dir());
	snprintf(spec, sizeof(spec), "path=%s,base=%#" PRIx64 ",irq=%u,cache=direct", image,
		 d->base, d->irq);
	env = getenv("TEST_LOGDIR");
	snprintf(logdir, sizeof(logdir), "%.399s", env && *env ? env : "");
	if (!logdir[0])
		snprintf(logdir, sizeof(logdir), "%.380s/build/test-logs", root_dir());
	mkdir(logdir, 0755);
	snprintf(g->log, sizeof(g->log), "%.399s/xensim-direct-dom1.log", logdir);
	CHECK_EQ(sim_daemon_start(g->env->sim, argv, g->log, &g->pid), 0);
	g->stopped = false;
	if (sim_daemon_wait_log(g->log, "ready", 15000) != 0 ||
	    sim_wait_claimed(g->sim, d->base, 15000) != 0) {
		t_note_log(g, 30);
		check_fail(__FILE__, __LINE__, "the daemon with cache=direct did not come up");
	}
}

static void run_phase(struct gblk *b, struct gdisk_model *m, struct gwork *w, const char *what)
{
	struct gwork_result res;
	char line[160];

	gwork_run(b, m, w, &res);
	gwork_describe(&res, what, line, sizeof(line));
	printf("# %s\n", line);
	if (res.rc)
		check_fail(__FILE__, __LINE__, "%s: %s", what, res.msg);
	CHECK_EQ(res.errors, 0);
	CHECK_EQ(res.mismatches, 0);
	CHECK_EQ(res.bad_used_len, 0);
}

TEST(direct_mode_never_gives_guest_memory_to_o_direct)
{
	struct t_env *e;
	struct t_guest *g;
	struct t_disk *d;
	char image[PATH_MAX + 64], msg[256] = "";
	struct gdisk_model m;
	struct gblk *b;
	int fd;

	if (!find_direct_dir()) {
		printf("# skipped: no file system here takes O_DIRECT (/var/tmp, build/)\n");
		return;
	}
	e = t_begin("direct_io");
	g = t_guest(e, 1, 2, RAM_SIZE);
	d = t_disk(g, &(struct t_disk_opts){ .size = 4096 });

	/* The image: zeros (the model's "never written"), on a file system doing O_DIRECT. */
	snprintf(image, sizeof(image), "%s/xvb-t_direct-XXXXXX", direct_dir);
	fd = mkstemp(image);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, (off_t)DISK_SIZE), 0);
	close(fd);
	start_direct_daemon(g, d, image);
	CHECK_EQ(sim_daemon_wait_log(g->log, "O_DIRECT via", 2000), 0);
	b = t_blk(d, &(struct gblk_opts){ .nr_queues = 2 });
	CHECK_EQ(gdisk_model_init(&m, DISK_SIZE / 512, 77), 0);

	struct gwork w = {
		.kind = GWORK_WRITE, .nr_vcpus = 2, .qd = 8, .sectors = DISK_SIZE / 512,
		.min_bytes = 4096, .max_bytes = 512 * 1024, .max_segs = 8,
		.layouts = GBLK_L_ALL, .seed = 7,
	};
	run_phase(b, &m, &w, "cache=direct write");
	w.kind = GWORK_READ;
	w.verify = true;
	run_phase(b, &m, &w, "cache=direct read+verify");
	w = (struct gwork){
		.kind = GWORK_RANDOM, .nr_vcpus = 2, .qd = 16, .sectors = DISK_SIZE / 512,
		.min_bytes = 4096, .max_bytes = 64 * 1024, .max_segs = 4, .layouts = GBLK_L_ALL,
		.write_pct = 50, .duration_ms = 1500, .verify = true, .seed = 8,
	};
	run_phase(b, &m, &w, "cache=direct random r/w+verify");
	t_blk_close(d);
	CHECK_EQ(t_daemon_stop(g, SIGTERM), 0);
	CHECK_EQ(gdisk_verify_file(&m, image, msg, sizeof(msg)), 0);
	gdisk_model_fini(&m);
	unlink(image);
	t_end(e);
}

