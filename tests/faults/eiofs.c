/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * eiofs: a FUSE file system (libfuse3) serving one image file, with I/O
 * errors on chosen byte ranges, for the host-side fault tests. Machines
 * without device-mapper (no dm-error, dm-flakey) still get real EIO this
 * way: the daemon's reads and writes, io_uring or synchronous, go through
 * the kernel's FUSE client to this process (direct_io: no page cache in
 * between, so every request reaches us).
 *
 *   eiofs [--name NAME] [--read-error START:LEN]... [--write-error START:LEN]...
 *         [--sync-error] [--delay-us N] [--volatile] IMAGE MOUNTPOINT
 *
 * MOUNTPOINT/NAME (default disk.img) is IMAGE; an access overlapping an
 * error range fails with EIO, as does fsync with --sync-error. Every
 * operation first sleeps --delay-us (to keep requests in flight).
 * --volatile makes the file a disk with a volatile write cache: writes
 * stay in this process's memory until an fsync writes them to IMAGE, so
 * killing eiofs (a power cut) loses exactly what was never flushed.
 * MOUNTPOINT/.ctl changes this at run time, one command per line:
 * "read START LEN", "write START LEN", "clear", "delay USEC",
 * "sync-error 0|1"; reading it returns the counters:
 * "reads R writes W fsyncs F read_errors A write_errors B sync_errors C".
 * Runs in the foreground until unmounted (umount MOUNTPOINT) or killed.
 */
#define FUSE_USE_VERSION 31

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_RANGES 32u
#define CTL_NAME ".ctl"

struct range {
	uint64_t start, len;
};

static struct {
	int fd; /* the image */
	char name[256];
	pthread_mutex_t lock; /* ranges, delay, sync_error */
	struct range rd[MAX_RANGES], wr[MAX_RANGES];
	unsigned n_rd, n_wr;
	unsigned delay_us;
	bool sync_error;
	/* --volatile: the image in memory, and which sectors were written since the last fsync. */
	bool volatile_cache;
	pthread_rwlock_t cache_lock;
	uint8_t *cache;
	uint8_t *dirty; /* one bit per 512-byte sector */
	uint64_t size;
	atomic_ulong reads, writes, fsyncs, read_errors, write_errors, sync_errors;
} fs = { .fd = -1,
	   .name = "disk.img",
	   .lock = PTHREAD_MUTEX_INITIALIZER,
	   .cache_lock = PTHREAD_RWLOCK_INITIALIZER };

#define SECTOR 512u
#define VOLATILE_MAX (1ull << 30)

static int cache_load(void)
{
	struct stat st;
	uint64_t done = 0;

	if (fstat(fs.fd, &st) < 0)
		return -errno;
	fs.size = (uint64_t)st.st_size;
	if (fs.size > VOLATILE_MAX)
		return -EFBIG;
	fs.cache = calloc(1, fs.size ? fs.size : 1);
	fs.dirty = calloc(1, fs.size / SECTOR / 8 + 1);
	if (!fs.cache || !fs.dirty)
		return -ENOMEM;
	while (done < fs.size) {
		ssize_t n = pread(fs.fd, fs.cache + done, fs.size - done, (off_t)done);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (uint64_t)n;
	}
	return 0;
}

static int cache_read(char *buf, size_t size, uint64_t off)
{
	if (off >= fs.size)
		return 0;
	if (size > fs.size - off)
		size = (size_t)(fs.size - off);
	pthread_rwlock_rdlock(&fs.cache_lock);
	memcpy(buf, fs.cache + off, size);
	pthread_rwlock_unlock(&fs.cache_lock);
	return (int)size;
}

static int cache_write(const char *buf, size_t size, uint64_t off)
{
	if (off >= fs.size || size > fs.size - off)
		return -ENOSPC; /* the disk does not grow */
	pthread_rwlock_wrlock(&fs.cache_lock);
	memcpy(fs.cache + off, buf, size);
	for (uint64_t s = off / SECTOR; s <= (off + size - 1) / SECTOR; s++)
		fs.dirty[s / 8] |= (uint8_t)(1u << (s % 8));
	pthread_rwlock_unlock(&fs.cache_lock);
	return (int)size;
}

/* fsync: every dirty sector to the image, then make the image durable. */
static int cache_flush(void)
{
	int rc = 0;

	pthread_rwlock_wrlock(&fs.cache_lock);
	for (uint64_t s = 0; s * SECTOR < fs.size && !rc; s++) {
		uint64_t off = s * SECTOR, len = fs.size - off < SECTOR ? fs.size - off : SECTOR;

		if (!(fs.dirty[s / 8] & (1u << (s % 8))))
			continue;
		if (pwrite(fs.fd, fs.cache + off, len, (off_t)off) != (ssize_t)len)
			rc = -EIO;
		else
			fs.dirty[s / 8] &= (uint8_t)~(1u << (s % 8));
	}
	pthread_rwlock_unlock(&fs.cache_lock);
	if (!rc && fdatasync(fs.fd) < 0)
		rc = -errno;
	return rc;
}

static int add_range(struct range *r, unsigned *n, uint64_t start, uint64_t len)
{
	if (*n == MAX_RANGES || len == 0)
		return -EINVAL;
	r[(*n)++] = (struct range){ .start = start, .len = len };
	return 0;
}

static bool overlaps(const struct range *r, unsigned n, uint64_t off, uint64_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (off < r[i].start + r[i].len && r[i].start < off + len)
			return true;
	return false;
}

/* Sleep the configured delay; true when [off, off + len) is an error range of r/n. */
static bool fault_check(const struct range *r, const unsigned *n, uint64_t off, uint64_t len)
{
	unsigned delay;
	bool bad;

	pthread_mutex_lock(&fs.lock);
	delay = fs.delay_us;
	bad = overlaps(r, *n, off, len);
	pthread_mutex_unlock(&fs.lock);
	if (delay) {
		struct timespec ts = { .tv_sec = delay / 1000000u,
				       .tv_nsec = (long)(delay % 1000000u) * 1000L };

		nanosleep(&ts, NULL);
	}
	return bad;
}

static int parse_range(const char *s, struct range *out)
{
	char *end;

	errno = 0;
	out->start = strtoull(s, &end, 0);
	if (errno || (*end != ':' && *end != ' '))
		return -EINVAL;
	out->len = strtoull(end + 1, &end, 0);
	if (errno || (*end != '\0' && *end != '\n'))
		return -EINVAL;
	return 0;
}

/* One .ctl command. */
static int ctl_command(const char *line)
{
	struct range r;
	int rc = 0;

	pthread_mutex_lock(&fs.lock);
	if (strncmp(line, "read ", 5) == 0 && parse_range(line + 5, &r) == 0)
		rc = add_range(fs.rd, &fs.n_rd, r.start, r.len);
	else if (strncmp(line, "write ", 6) == 0 && parse_range(line + 6, &r) == 0)
		rc = add_range(fs.wr, &fs.n_wr, r.start, r.len);
	else if (strcmp(line, "clear") == 0)
		fs.n_rd = fs.n_wr = 0;
	else if (strncmp(line, "delay ", 6) == 0)
		fs.delay_us = (unsigned)strtoul(line + 6, NULL, 0);
	else if (strncmp(line, "sync-error ", 11) == 0)
		fs.sync_error = line[11] == '1';
	else
		rc = -EINVAL;
	pthread_mutex_unlock(&fs.lock);
	return rc;
}

static bool is_image(const char *path)
{
	return path[0] == '/' && strcmp(path + 1, fs.name) == 0;
}

static bool is_ctl(const char *path)
{
	return strcmp(path, "/" CTL_NAME) == 0;
}

static int e_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (is_ctl(path)) {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = 4096;
		return 0;
	}
	if (!is_image(path))
		return -ENOENT;
	if (fstat(fs.fd, st) < 0)
		return -errno;
	st->st_blksize = 4096;
	return 0;
}

static int e_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		     struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, fs.name, NULL, 0, 0);
	fill(buf, CTL_NAME, NULL, 0, 0);
	return 0;
}

static int e_open(const char *path, struct fuse_file_info *fi)
{
	if (!is_image(path) && !is_ctl(path))
		return -ENOENT;
	/* Every read and write comes to us: no page cache, no readahead. */
	fi->direct_io = 1;
	return 0;
}

static int e_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	(void)fi;
	if (is_ctl(path)) {
		char text[256];
		int len = snprintf(text, sizeof(text),
				   "reads %lu writes %lu fsyncs %lu read_errors %lu write_errors %lu "
				   "sync_errors %lu\n",
				   atomic_load(&fs.reads), atomic_load(&fs.writes),
				   atomic_load(&fs.fsyncs), atomic_load(&fs.read_errors),
				   atomic_load(&fs.write_errors), atomic_load(&fs.sync_errors));

		if (off >= len)
			return 0;
		if (size > (size_t)(len - off))
			size = (size_t)(len - off);
		memcpy(buf, text + off, size);
		return (int)size;
	}
	atomic_fetch_add(&fs.reads, 1);
	if (fault_check(fs.rd, &fs.n_rd, (uint64_t)off, size)) {
		atomic_fetch_add(&fs.read_errors, 1);
		return -EIO;
	}
	if (fs.volatile_cache)
		return cache_read(buf, size, (uint64_t)off);
	n = pread(fs.fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int e_write(const char *path, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	ssize_t n;

	(void)fi;
	if (is_ctl(path)) {
		char line[256];
		size_t len = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
		int rc = 0;

		memcpy(line, buf, len);
		line[len] = '\0';
		for (char *save = NULL, *l = strtok_r(line, "\n", &save); l && !rc;
		     l = strtok_r(NULL, "\n", &save))
			rc = ctl_command(l);
		return rc ? rc : (int)size;
	}
	atomic_fetch_add(&fs.writes, 1);
	if (fault_check(fs.wr, &fs.n_wr, (uint64_t)off, size)) {
		atomic_fetch_add(&fs.write_errors, 1);
		return -EIO;
	}
	if (fs.volatile_cache)
		return cache_write(buf, size, (uint64_t)off);
	n = pwrite(fs.fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int e_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	bool bad;

	(void)fi;
	if (!is_image(path))
		return 0;
	atomic_fetch_add(&fs.fsyncs, 1);
	pthread_mutex_lock(&fs.lock);
	bad = fs.sync_error;
	pthread_mutex_unlock(&fs.lock);
	if (bad) {
		atomic_fetch_add(&fs.sync_errors, 1);
		return -EIO;
	}
	if (fs.volatile_cache)
		return cache_flush();
	if ((datasync ? fdatasync(fs.fd) : fsync(fs.fd)) < 0)
		return -errno;
	return 0;
}

static int e_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)fi;
	if (is_ctl(path))
		return 0;
	if (!is_image(path))
		return -ENOENT;
	if (fs.volatile_cache)
		return -EPERM;
	return ftruncate(fs.fd, size) < 0 ? -errno : 0;
}

static const struct fuse_operations eiofs_ops = {
	.getattr = e_getattr,
	.readdir = e_readdir,
	.open = e_open,
	.read = e_read,
	.write = e_write,
	.fsync = e_fsync,
	.truncate = e_truncate,
};

static void usage(void)
{
	fprintf(stderr, "usage: eiofs [--name NAME] [--read-error START:LEN]... "
			"[--write-error START:LEN]... [--sync-error] [--delay-us N] [--volatile] "
			"IMAGE MOUNTPOINT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	char *fargv[8];
	int i, fargc = 0;
	struct range r;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "--sync-error") == 0) {
			fs.sync_error = true;
			continue;
		}
		if (strcmp(opt, "--volatile") == 0) {
			fs.volatile_cache = true;
			continue;
		}
		if (!val)
			usage();
		i++;
		if (strcmp(opt, "--name") == 0 && strlen(val) < sizeof(fs.name) && !strchr(val, '/'))
			snprintf(fs.name, sizeof(fs.name), "%s", val);
		else if (strcmp(opt, "--read-error") == 0 && parse_range(val, &r) == 0)
			add_range(fs.rd, &fs.n_rd, r.start, r.len);
		else if (strcmp(opt, "--write-error") == 0 && parse_range(val, &r) == 0)
			add_range(fs.wr, &fs.n_wr, r.start, r.len);
		else if (strcmp(opt, "--delay-us") == 0)
			fs.delay_us = (unsigned)strtoul(val, NULL, 0);
		else
			usage();
	}
	if (argc - i != 2)
		usage();
	fs.fd = open(argv[i], O_RDWR | O_CLOEXEC);
	if (fs.fd < 0) {
		fprintf(stderr, "eiofs: %s: %s\n", argv[i], strerror(errno));
		return 1;
	}
	if (fs.volatile_cache) {
		int rc = cache_load();

		if (rc < 0) {
			fprintf(stderr, "eiofs: %s: cannot cache: %s\n", argv[i], strerror(-rc));
			return 1;
		}
	}
	fargv[fargc++] = argv[0];
	fargv[fargc++] = "-f";
	fargv[fargc++] = "-o";
	fargv[fargc++] = "fsname=eiofs,subtype=eiofs,default_permissions";
	fargv[fargc++] = argv[i + 1];
	fargv[fargc] = NULL;
	i = fuse_main(fargc, fargv, &eiofs_ops, NULL);
	free(fs.cache);
	free(fs.dirty);
	close(fs.fd);
	return i;
}
