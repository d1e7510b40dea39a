/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `make bench`: shared declarations of the benchmark driver (bench_guest.c
 * runs our daemon through xensim, bench_fio.c runs the fio reference,
 * bench_report.c prints, writes results.json and the plot data).
 */
#ifndef XVB_BENCH_H
#define XVB_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_rw { BENCH_RANDREAD, BENCH_RANDWRITE, BENCH_SEQREAD, BENCH_SEQWRITE };

/* One case: what both sides run. */
struct bench_case {
	const char *config; /* "pagecache", "pagecache-2q", "direct" */
	enum bench_rw rw;
	uint32_t bs;     /* bytes per request */
	unsigned qd;     /* requests in flight, all queues together */
	unsigned queues; /* guest queues asked for (= vCPUs issuing I/O) */
	bool direct;
};

/* CPU seconds spent, and where. */
struct bench_cpu {
	double daemon; /* the daemon process (utime + stime, all its threads) */
	double daemon_iowq; /* of which io_uring's worker threads (iou-wrk-*) */
	double guest;  /* the scripted guest: vCPU and interrupt threads */
	double sim;    /* the simulated hypervisor's server thread */
};

struct bench_result {
	struct bench_case c;
	char name[64];
	/* ours */
	uint64_t reqs, errors;
	double secs, iops, mibs;
	struct bench_cpu cpu;
	unsigned queues_got; /* queues the device gave the guest */
	uint64_t notifies;   /* QUEUE_NOTIFY writes (kicks) */
	uint64_t irqs;       /* interrupts taken by the guest */
	double notify_p50_us, notify_p90_us, notify_p99_us;
	/* the reference */
	bool ref_ok;
	double ref_iops, ref_mibs, ref_cpu_secs, ref_secs;
	uint64_t ref_reqs;
	double ratio; /* ours / ref (IOPS; same block size) */
};

const char *bench_rw_name(enum bench_rw rw);
const char *bench_rw_fio(enum bench_rw rw);
void bench_case_name(const struct bench_case *c, char *buf, size_t len);

/* fio --ioengine=io_uring on path for ms: fills the ref_* fields of r. */
int bench_fio_run(const char *path, uint64_t size, unsigned ms, const char *json_out,
		  struct bench_result *r);

/* The line `bench: NAME ours=... ref=... ratio=...` and friends. */
void bench_report_line(const struct bench_result *r);
int bench_write_json(const char *path, const struct bench_result *r, unsigned n, unsigned secs,
		     const char *pc_image, const char *direct_image);
int bench_write_dat(const char *path, const struct bench_result *r, unsigned n);

/* Percentiles of n samples (sorted in place); 0 when n == 0. */
double bench_percentile(uint32_t *v, size_t n, double p);

#endif
