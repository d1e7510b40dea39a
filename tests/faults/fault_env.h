/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host-side fault tests: what they need besides the xensim harness
 * (tests/xensim/t_env.h). eiofs (tests/faults/eiofs.c) mounted over an
 * image for injected EIO, slow or volatile storage; size-limited tmpfs
 * mounts for ENOSPC; the daemon's fd, mapping and memory figures from
 * /proc; counting log lines. Every mount and eiofs process is recorded
 * and removed by the next fault_begin() and at exit, even after a failed
 * CHECK; fault_begin() skips the program (77) when FUSE or mount(2) is
 * truly unavailable, saying which.
 */
#ifndef XVB_FAULT_ENV_H
#define XVB_FAULT_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../xensim/t_env.h"
#include "guest_limits.h"

#ifndef XVB_LOGDIR
#define XVB_LOGDIR "build/test-logs"
#endif
#ifndef XVB_DAEMON_PATH
#define XVB_DAEMON_PATH "src/xen-virtio-blkd"
#endif

/* A scratch directory (removed with everything in it by fault_cleanup). */
const char *fault_scratch(void);
/* A sparse image of size bytes at dir/name; path gets its name. */
void fault_image(const char *dir, const char *name, uint64_t size, char *path, size_t len);

/* Serve path instead of the image t_disk made (which is removed). */
void fault_disk_path(struct t_disk *d, const char *path);

/* t_begin after removing what an earlier (failed) test left mounted; may skip. */
struct t_env *fault_begin(const char *name);
/* The same without a t_env (tests with a simulator of their own). */
void fault_prepare(void);
/* Unmount and stop everything recorded; remove the scratch directory. */
void fault_cleanup(void);

struct eiofs {
	pid_t pid;
	char dir[256];  /* the mount point */
	char file[300]; /* dir/disk.img: what the daemon opens */
	char ctl[300];  /* dir/.ctl */
};

/*
 * Mount eiofs over image at a new mount point; args are extra eiofs
 * options (NULL-terminated, may be NULL). Waits until the file is served.
 */
void eiofs_start(struct eiofs *fs, const char *image, const char *const *args);
/* One command to dir/.ctl ("read START LEN", "clear", ...). */
void eiofs_ctl(struct eiofs *fs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct eiofs_counters {
	unsigned long reads, writes, fsyncs, read_errors, write_errors, sync_errors;
};
void eiofs_counters(struct eiofs *fs, struct eiofs_counters *c);
/* Unmount (the daemon must have closed the file) and reap eiofs. */
void eiofs_stop(struct eiofs *fs);
/* A power cut: SIGKILL eiofs (its volatile cache is lost), then unmount. */
void eiofs_kill(struct eiofs *fs);

/* A tmpfs of size (mount -o size=...) at a new directory; its path in dir. */
void fault_tmpfs(const char *size, char *dir, size_t len);
void fault_umount(const char *dir);

/*
 * What a process holds: open fds (all of them: xensim's stand-in
 * libxenforeignmemory, like privcmd, holds no fd of a guest's RAM beyond
 * the map call, so one left behind is the daemon's), mapping lines,
 * resident memory.
 */
struct proc_figures {
	unsigned fds, maps;
	unsigned long rss_kb;
};
void fault_proc_figures(pid_t pid, struct proc_figures *f);
/* Each open fd of pid and what it is, as TAP comments. */
void fault_note_fds(pid_t pid);

/* Lines of a log file matching an extended regex. */
unsigned fault_log_count(const char *path, const char *regex);

/*
 * Requests against a model of the disk (guest_work.h) that also knows which
 * sectors a failed write left undefined. fault_io runs n requests of
 * nsect sectors each (IN or OUT; OUT data from the model with a fresh
 * generation) from vcpu on queue 0, up to qd in flight, and stores each
 * status byte in status[]; OUT that succeed are committed, OUT that fail
 * make their sectors unknown; IN that succeed are compared with the model
 * (unknown sectors skipped): returns the number of mismatching sectors.
 */
struct fault_model {
	struct gdisk_model m;
	uint8_t *unknown; /* one byte per sector */
};
void fault_model_init(struct fault_model *fm, uint64_t sectors, uint64_t seed);
void fault_model_fini(struct fault_model *fm);
struct fault_io {
	uint32_t type;
	uint64_t sector;
	uint32_t nsect;
	uint8_t status; /* result */
};
uint64_t fault_io(struct gblk *b, struct fault_model *fm, unsigned vcpu, struct fault_io *io,
		  unsigned n, unsigned qd);

/* Start g's daemon as t_daemon_start does, with extra ",key=value" options on every --disk. */
void fault_daemon_start(struct t_guest *g, const char *disk_extra);

uint64_t fault_now_ms(void);
void fault_sleep_ms(unsigned ms);

#endif
