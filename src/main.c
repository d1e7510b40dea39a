/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xen-virtio-blkd: serves files and block devices to Xen guests as
 * virtio-mmio block devices, over Xen IOREQ servers.
 *
 * Trust model. The guest is untrusted: every register access, ring index,
 * descriptor and request header it supplies is validated before use, and
 * every number it controls is bounded (include/guest_limits.h). A guest may
 * break its own disk (its device is then marked broken until it resets it)
 * but never the daemon, dom0, or another guest's disks. The daemon trusts
 * its command line and dom0's configuration: whoever can start it can
 * already map any guest's memory.
 *
 * This file owns the process: startup order, detaching, signals, teardown.
 * Exit status: 0 clean stop, 1 runtime error, 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "compiler.h"
#include "config.h"
#include "guest.h"
#include "log.h"
#include "loop.h"
#include "sd_notify.h"
#include "service.h"
#include "signals.h"
#include "xen/store.h"
#include "xen/xen_handles.h"

#define PROGRAM "xen-virtio-blkd"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct daemon {
	struct cli_options opts;
	const char *config_path; /* NULL: no file */
	struct config cfg;
	char name[16]; /* "dom5": prefix of daemon-wide lines about the guest */
	const char *prefix; /* name, or NULL in service mode (many guests) */
	bool service; /* no disk given: discover them in xenstore */
	bool disks_from_file; /* per-guest launch of the file's static disks: SIGHUP applies */
	/* Per-guest launch: the guest's name, for sections with guest = NAME ("" unknown). */
	char guest_name[STORE_NAME_MAX];
	char status[96];      /* the last STATUS= sent to systemd */
	int lock_fd;  /* service mode's singleton lock, -1 when not held */
	enum log_level level;
	bool detached; /* a detached child still reporting to its parent */
	struct loop *loop;
	struct signals sig;
	struct xen_handles xh;
	struct guest *guest;
	struct service *svc;
};

static int service_options_of(struct daemon *d, const struct config *cfg,
			      struct service_options *o);

/*
 * systemd (sd_notify.h; a no-op without $NOTIFY_SOCKET): STATUS= with what
 * is served, sent when it changed or with READY=1 (startup, after a reload).
 */
static void notify_status(struct daemon *d, bool ready)
{
	char status[sizeof(d->status)];
	unsigned guests = 0, disks = 0;

	if (d->svc) {
		service_counts(d->svc, &guests, &disks);
	} else if (d->guest) {
		guests = 1;
		disks = guest_disk_count(d->guest);
	}
	snprintf(status, sizeof(status), "%s: serving %u disk(s) of %u guest(s)",
		 d->service ? "service mode" : d->name, disks, guests);
	if (!ready && strcmp(status, d->status) == 0)
		return;
	memcpy(d->status, status, sizeof(status));
	if (sd_notify_sendf("%sSTATUS=%s", ready ? "READY=1\n" : "", status) < 0)
		log_debug(d->prefix, "cannot notify systemd");
}

static void service_reconciled(void *ctx)
{
	notify_status(ctx, false);
}

/* A static section ([disk:] with base and irq) of the guest a per-guest launch serves. */
static bool is_static_disk_of(const struct daemon *d, const struct config_disk *cd)
{
	if (cd->has_devid)
		return false;
	if (cd->has_domid)
		return cd->domid == d->opts.domid;
	return d->guest_name[0] && strcmp(cd->guest, d->guest_name) == 0;
}

/* The same disk with the same settings in cfg, or NULL. */
static const struct config_disk *find_equal(const struct config *cfg, const struct config_disk *cd)
{
	for (unsigned i = 0; i < cfg->n_disks; i++)
		if (config_disk_equal(&cfg->disks[i], cd))
			return &cfg->disks[i];
	return NULL;
}

/* A new file for a per-guest launch: static disks of this guest only, as at startup. */
static int reload_check(const struct daemon *d, const struct config *cfg, char *msg, size_t len)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->n_disks; i++) {
		const struct config_disk *cd = &cfg->disks[i];

		if (cd->has_devid)
			continue;
		if (!is_static_disk_of(d, cd)) {
			snprintf(msg, len, "%s: [%s] %s: not dom%u, the guest this instance serves",
				 d->config_path, cd->section, cd->has_domid ? "domid" : "guest",
				 d->opts.domid);
			return -EINVAL;
		}
		n++;
	}
	if (n > DISKS_PER_GUEST_MAX) {
		snprintf(msg, len, "%s: more than %u disks for dom%u", d->config_path,
			 DISKS_PER_GUEST_MAX, d->opts.domid);
		return -EINVAL;
	}
	return 0;
}

/*
 * SIGHUP in a per-guest launch from the file: compare by value. Gone or
 * changed disks are removed first (a changed one may keep its window),
 * then new or changed ones are added; unchanged, served disks are not
 * touched. A disk whose earlier add failed is not served: it is retried.
 */
static void reload_disks(struct daemon *d, const struct config *old, const struct config *cfg)
{
	unsigned added = 0, removed = 0, kept = 0, failed = 0;
	struct served_disk *sd;

	for (unsigned i = 0; i < old->n_disks; i++) {
		const struct config_disk *od = &old->disks[i];

		if (!is_static_disk_of(d, od) || find_equal(cfg, od))
			continue;
		sd = guest_find_disk(d->guest, od->disk.vdev);
		if (!sd)
			continue;
		log_info(d->prefix, "SIGHUP: [%s] removed or changed", od->section);
		guest_remove_disk(d->guest, sd);
		removed++;
	}
	for (unsigned i = 0; i < cfg->n_disks; i++) {
		const struct config_disk *nd = &cfg->disks[i];

		if (!is_static_disk_of(d, nd))
			continue;
		if (find_equal(old, nd) && guest_find_disk(d->guest, nd->disk.vdev)) {
			kept++;
			continue;
		}
		/* guest_add_disk logs why it failed; the rest goes on. */
		if (guest_add_disk(d->guest, &nd->disk, &sd) < 0)
			failed++;
		else
			added++;
	}
	log_info(d->prefix, "SIGHUP: %u disk(s) added, %u removed, %u unchanged, %u failed", added,
		 removed, kept, failed);
}

/*
 * SIGHUP: re-read the file. A bad file changes nothing (logged). [global]
 * and service mode's backend/virtio images apply to devices that appear
 * from now on; static disks (of the served guest in a per-guest launch, of
 * any guest in service mode) are added and removed.
 */
static void daemon_reload(struct daemon *d)
{
	struct service_options o = { 0 };
	struct config cfg, old;
	struct timespec now;
	char msg[512];
	int rc;

	if (!d->config_path) {
		log_info(d->prefix, "SIGHUP: no configuration file to reload");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	sd_notify_sendf("RELOADING=1\nMONOTONIC_USEC=%llu",
			(unsigned long long)now.tv_sec * 1000000ull +
				(unsigned long long)now.tv_nsec / 1000ull);
	rc = config_load(d->config_path, false, &cfg, msg, sizeof(msg));
	if (rc == 0 && d->disks_from_file)
		rc = reload_check(d, &cfg, msg, sizeof(msg));
	if (rc == 0 && d->svc) {
		rc = service_options_of(d, &cfg, &o);
		if (rc < 0)
			snprintf(msg, sizeof(msg), "out of memory");
	}
	if (rc < 0) {
		config_free(&cfg);
		log_err(d->prefix, "SIGHUP: keeping the current configuration: %s", msg);
		notify_status(d, true);
		return;
	}
	old = d->cfg;
	d->cfg = cfg;
	if (!d->opts.verbose)
		log_set_level(cfg.has_log_level ? cfg.log_level : LOG_LVL_INFO);
	if (d->svc) {
		/* o points into cfg, now d->cfg; the service copies what it keeps. */
		service_set_options(d->svc, &o);
		free((void *)o.statics);
	}
	if (d->disks_from_file && d->guest)
		reload_disks(d, &old, &d->cfg);
	/* The command line's copies of the file's disks pointed into the old config. */
	if (d->disks_from_file)
		d->opts.n_disks = 0;
	config_free(&old);
	log_info(d->prefix, "SIGHUP: reloaded %s", d->config_path);
	notify_status(d, true);
}

static void on_signal(struct signals *sig, int signo)
{
	struct daemon *d = container_of(sig, struct daemon, sig);

	switch (signo) {
	case SIGTERM:
	case SIGINT:
		log_info(d->prefix, "stopping (SIG%s)", sigabbrev_np(signo));
		sd_notify_send("STOPPING=1");
		loop_stop(d->loop);
		break;
	case SIGHUP:
		daemon_reload(d);
		break;
	default:
		break;
	}
}

/*
 * Detaching. The fork happens before any Xen handle or io_uring ring
 * exists: libxenforeignmemory's handles must not be used by a forked child,
 * and rings do not survive fork either. So the child does all the setup,
 * and its stderr is a pipe to the waiting parent until it is ready: every
 * startup message reaches the user, and the parent exits 0 only once the
 * child is serving (it writes one NUL byte then), else with its status.
 */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* In the parent: relay the child's startup messages; its exit status. */
static int detach_wait(int fd, pid_t pid)
{
	char buf[4096];
	int st;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		char *ready;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		ready = memchr(buf, '\0', (size_t)n);
		write_all(STDERR_FILENO, buf, ready ? (size_t)(ready - buf) : (size_t)n);
		if (ready)
			return EXIT_OK;
	}
	/* The pipe closed without the ready byte: the child failed. */
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, PROGRAM ": cannot wait for the daemon: %s\n",
				strerror(errno));
			return EXIT_RUNTIME;
		}
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) != EXIT_OK)
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		fprintf(stderr, PROGRAM ": daemon killed by SIG%s during startup\n",
			sigabbrev_np(WTERMSIG(st)));
	else
		fprintf(stderr, PROGRAM ": daemon exited during startup\n");
	return EXIT_RUNTIME;
}

/*
 * Fork. Returns 1 in the parent with *status set (the parent only exits),
 * 0 in the child (stdio redirected, new session), or -errno (logged).
 */
static int detach_begin(int *status)
{
	int pipefd[2], null_fd, rc;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = -errno;
		log_err(NULL, "cannot create pipe: %s", strerror(-rc));
		return rc;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		log_err(NULL, "cannot fork: %s", strerror(-rc));
		close(pipefd[0]);
		close(pipefd[1]);
		return rc;
	}
	if (pid > 0) {
		close(pipefd[1]);
		*status = detach_wait(pipefd[0], pid);
		close(pipefd[0]);
		return 1;
	}

	close(pipefd[0]);
	/* Cannot fail: a fresh child is never a process group leader. */
	setsid();
	/* stderr first: pipefd[1] may itself be 0 or 1 if stdio was closed. */
	if (pipefd[1] != STDERR_FILENO) {
		dup2(pipefd[1], STDERR_FILENO);
		if (pipefd[1] > STDERR_FILENO)
			close(pipefd[1]);
	}
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		if (null_fd > STDERR_FILENO)
			close(null_fd);
	}
	return 0;
}

/* In the child, once serving: release the parent, log to syslog from now on. */
static void detach_finish(struct daemon *d)
{
	int null_fd;

	write_all(STDERR_FILENO, "", 1);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd >= 0) {
		dup2(null_fd, STDERR_FILENO);
		if (null_fd > STDERR_FILENO)
			close(null_fd);
	}
	log_setup(d->cfg.has_log_target ? d->cfg.log_target : LOG_TO_SYSLOG, d->level);
	/* Images are open: relative paths no longer matter; don't pin a mount. */
	if (chdir("/") < 0)
		log_warn(d->prefix, "cannot chdir to /: %s", strerror(errno));
	d->detached = false;
}

/* NULL-tolerant, in reverse order of setup: the error path and the normal one. */
static void daemon_teardown(struct daemon *d)
{
	service_destroy(d->svc);
	d->svc = NULL;
	guest_destroy(d->guest);
	d->guest = NULL;
	xen_handles_close(&d->xh);
	signals_close(&d->sig);
	loop_destroy(d->loop);
	d->loop = NULL;
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	d->lock_fd = -1;
}

/* backend/virtio devices: the image of the [disk:] section with this domid and devid. */
static int virtio_image(void *ctx, uint16_t domid, const char *name, uint32_t devid,
			struct disk_config *out)
{
	const struct config *cfg = ctx;

	for (unsigned i = 0; i < cfg->n_disks; i++) {
		const struct config_disk *cd = &cfg->disks[i];

		if (!cd->has_devid || cd->devid != devid)
			continue;
		if (cd->has_domid ? cd->domid != domid : !name || strcmp(cd->guest, name) != 0)
			continue;
		out->path = cd->disk.path;
		out->read_only = out->read_only || cd->disk.read_only;
		memcpy(out->serial, cd->disk.serial, sizeof(out->serial));
		memcpy(out->vdev, cd->disk.vdev, sizeof(out->vdev));
		out->mmio_version = cd->disk.mmio_version;
		out->queues = cd->disk.queues; /* [global]'s unless the section sets its own */
		out->threads = cd->disk.threads;
		return 0;
	}
	return -ENOENT;
}

/*
 * Service mode's options from cfg (which they point into): o->statics is
 * malloc'ed, free it once the service has copied it. -ENOMEM (logged).
 */
static int service_options_of(struct daemon *d, const struct config *cfg,
			      struct service_options *o)
{
	struct service_static *st = NULL;
	unsigned n = 0;

	for (unsigned i = 0; i < cfg->n_disks; i++)
		n += !cfg->disks[i].has_devid;
	if (n > 0) {
		st = calloc(n, sizeof(*st));
		if (!st) {
			log_err(NULL, "out of memory");
			return -ENOMEM;
		}
	}
	n = 0;
	for (unsigned i = 0; i < cfg->n_disks; i++) {
		const struct config_disk *cd = &cfg->disks[i];

		if (cd->has_devid)
			continue;
		st[n++] = (struct service_static){
			.id = cd->section,
			.has_domid = cd->has_domid,
			.domid = cd->domid,
			.guest = cd->guest,
			.disk = cd->disk,
		};
	}
	*o = (struct service_options){
		.cache = cfg->cache,
		.queues = cfg->queues,
		.threads = cfg->threads,
		.x86 = cfg->x86,
		.x86_base = cfg->x86_base,
		.x86_irq = cfg->x86_irq,
		.virtio_image = virtio_image,
		/* Looked up when a device appears: the daemon's config, whichever it is then. */
		.image_ctx = &d->cfg,
		.statics = st,
		.n_statics = n,
		.reconciled = service_reconciled,
		.reconciled_ctx = d,
	};
	return 0;
}

/* Service mode: the lock, then Xen, then xenstore (its first event reconciles). */
static int service_start(struct daemon *d)
{
	struct service_options o;
	int rc;

	rc = service_lock();
	if (rc < 0)
		return rc;
	d->lock_fd = rc;
	rc = xen_handles_open(&d->xh);
	if (rc < 0)
		return rc;
	rc = service_options_of(d, &d->cfg, &o);
	if (rc < 0)
		return rc;
	rc = service_create(d->loop, &d->xh, &o, &d->svc);
	free((void *)o.statics);
	if (rc < 0)
		return rc;
	log_info(NULL, "ready: service mode");
	return 0;
}

static int daemon_run(struct daemon *d)
{
	int rc;

	rc = loop_create(&d->loop);
	if (rc < 0) {
		log_err(NULL, "cannot create the event loop: %s", strerror(-rc));
		goto err;
	}
	/* Before anything that takes time: a SIGTERM now waits for the loop. */
	rc = signals_open(&d->sig, d->loop, on_signal);
	if (rc < 0)
		goto err;
	if (d->service) {
		rc = service_start(d);
		if (rc < 0)
			goto err;
		goto run;
	}
	/* Images first: a wrong path is reported even where Xen is absent. */
	rc = guest_open(d->opts.domid, d->opts.disks, d->opts.n_disks, &d->guest);
	if (rc < 0)
		goto err;
	rc = xen_handles_open(&d->xh);
	if (rc < 0)
		goto err;
	rc = guest_start(d->guest, &d->xh, d->loop);
	if (rc < 0)
		goto err;
run:
	if (d->detached)
		detach_finish(d);
	notify_status(d, true);

	rc = loop_run(d->loop);
	if (rc < 0)
		log_err(d->prefix, "event loop failed: %s", strerror(-rc));
	daemon_teardown(d);
	if (rc < 0)
		return EXIT_RUNTIME;
	log_info(d->prefix, "stopped");
	return EXIT_OK;

err:
	daemon_teardown(d);
	return EXIT_RUNTIME;
}

/*
 * Static sections of exactly one guest, all by domid: its domid (a
 * per-guest launch for it). 0 when there are none, or several guests, or
 * a guest given by name: service mode serves those as their guests come.
 */
static uint16_t single_static_guest(const struct config *cfg)
{
	uint16_t domid = 0;

	for (unsigned i = 0; i < cfg->n_disks; i++) {
		const struct config_disk *cd = &cfg->disks[i];

		if (cd->has_devid)
			continue; /* a backend/virtio image for service mode */
		if (!cd->has_domid || (domid && cd->domid != domid))
			return 0;
		domid = cd->domid;
	}
	return domid;
}

static bool has_static_by_name(const struct config *cfg)
{
	for (unsigned i = 0; i < cfg->n_disks; i++)
		if (!cfg->disks[i].has_devid && !cfg->disks[i].has_domid)
			return true;
	return false;
}

/*
 * The file (-c, or the default if it exists), and the disks it gives a
 * per-guest launch: with --domid and no --disk, that guest's static
 * [disk:] sections (by domid, or by the name xenstore gives the domain);
 * with neither, static sections of a single guest by domid make a
 * per-guest launch for it (service mode otherwise, which serves every
 * static section while its guest exists).
 */
static int load_config(struct daemon *d)
{
	struct cli_options *o = &d->opts;
	const char *path = o->config_path ? o->config_path : CONFIG_DEFAULT_PATH;
	int name_rc = 0;
	char msg[512];
	int rc;

	rc = config_load(path, !o->config_path, &d->cfg, msg, sizeof(msg));
	if (rc == -ENOENT && !o->config_path)
		return 0;
	if (rc < 0) {
		fprintf(stderr, PROGRAM ": %s\n", msg);
		return rc;
	}
	d->config_path = path;
	if (o->n_disks > 0)
		return 0; /* the command line's disks override the file's */
	if (!o->have_domid) {
		o->domid = single_static_guest(&d->cfg);
		if (!o->domid)
			return 0;
		o->have_domid = true;
	} else if (has_static_by_name(&d->cfg)) {
		/* Read once: a per-guest launch serves one domain, not a name over reboots. */
		name_rc = store_lookup_domain_name(o->domid, d->guest_name);
	}
	for (unsigned i = 0; i < d->cfg.n_disks; i++) {
		const struct config_disk *cd = &d->cfg.disks[i];

		if (!is_static_disk_of(d, cd))
			continue;
		if (o->n_disks == DISKS_PER_GUEST_MAX) {
			fprintf(stderr, PROGRAM ": %s: more than %u disks for dom%u\n", path,
				DISKS_PER_GUEST_MAX, o->domid);
			return -EINVAL;
		}
		o->disks[o->n_disks] = cd->disk;
		o->disks[o->n_disks].spec = NULL; /* owned by the config */
		o->n_disks++;
		d->disks_from_file = true;
	}
	if (o->n_disks == 0) {
		if (name_rc < 0)
			fprintf(stderr,
				PROGRAM ": %s: no [disk:] section for dom%u (its name is not "
				"readable in xenstore: %s)\n",
				path, o->domid, strerror(-name_rc));
		else
			fprintf(stderr, PROGRAM ": %s: no [disk:] section for dom%u%s%s%s\n", path,
				o->domid, d->guest_name[0] ? " (guest " : "", d->guest_name,
				d->guest_name[0] ? ")" : "");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = { .sig = SIGNALS_INIT, .lock_fd = -1 };
	char msg[512];
	int status = EXIT_OK;
	uint32_t poll_us;

	if (cli_parse(argc, argv, &d.opts, msg, sizeof(msg)) < 0) {
		fprintf(stderr, PROGRAM ": %s\nTry '" PROGRAM " --help'.\n", msg);
		return EXIT_USAGE;
	}
	if (d.opts.action == CLI_HELP) {
		cli_print_help(stdout);
		return EXIT_OK;
	}
	if (d.opts.action == CLI_VERSION) {
		cli_print_version(stdout);
		return EXIT_OK;
	}

	if (load_config(&d) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	snprintf(d.name, sizeof(d.name), "dom%u", d.opts.domid);
	d.service = !d.opts.have_domid && d.opts.n_disks == 0;
	d.prefix = d.service ? NULL : d.name;
	d.level = d.opts.verbose ? LOG_LVL_DEBUG
		  : d.cfg.has_log_level ? d.cfg.log_level
					: LOG_LVL_INFO;
	/* stderr until ready, even when detaching: the parent relays it. */
	log_setup(LOG_TO_STDERR, d.level);

	if (!d.opts.foreground) {
		int rc = detach_begin(&status);

		if (rc < 0) {
			status = EXIT_RUNTIME;
			goto out;
		}
		if (rc > 0)
			goto out;
		d.detached = true;
	}
	/* Every event loop, the queue threads' too, polls alike; read at start. */
	poll_us = d.opts.has_poll_us ? d.opts.poll_us : d.cfg.has_poll_us ? d.cfg.poll_us : 0;
	loop_set_default_poll(poll_us);
	if (poll_us)
		log_info(d.prefix, "event loops poll up to %u us before sleeping (adaptive)",
			 poll_us);
	status = daemon_run(&d);
out:
	config_free(&d.cfg);
	cli_free(&d.opts);
	return status;
}
