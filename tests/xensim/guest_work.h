/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scripted guest, workload half: a model of the disk's content (a
 * generation number per sector; the data is a pure function of sector,
 * generation and seed, so a misplaced or stale sector names itself), and a
 * load generator that runs one thread per vCPU, each with its own MMIO,
 * its own region of the disk and N requests in flight, verifying every
 * read against the model. The image file can be checked with pread.
 */
#ifndef XENSIM_GUEST_WORK_H
#define XENSIM_GUEST_WORK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_blk.h"

struct gdisk_model {
	uint64_t sectors;
	uint32_t *gen; /* per sector; 0: never written here (zeros, as a new image) */
	uint64_t seed;
	atomic_uint next_gen;
};

int gdisk_model_init(struct gdisk_model *m, uint64_t sectors, uint64_t seed);
void gdisk_model_fini(struct gdisk_model *m);
/* A fresh generation number for a write. */
uint32_t gdisk_next_gen(struct gdisk_model *m);
/* The content of nsect sectors written with generation gen. */
void gdisk_fill(const struct gdisk_model *m, uint64_t sector, uint32_t nsect, uint32_t gen,
		uint8_t *out);
/* Record that the write completed. */
void gdisk_commit(struct gdisk_model *m, uint64_t sector, uint32_t nsect, uint32_t gen);
/* Sectors of data that differ from the model; the first is described in msg. */
uint64_t gdisk_compare(const struct gdisk_model *m, uint64_t sector, uint32_t nsect,
		       const uint8_t *data, char *msg, size_t msglen);
/* The whole image file against the model (pread); returns bad sectors or -errno. */
int64_t gdisk_verify_file(const struct gdisk_model *m, const char *path, char *msg, size_t msglen);

enum gwork_kind {
	GWORK_WRITE,  /* each vCPU writes its region once, sequentially */
	GWORK_READ,   /* each vCPU reads its region once, sequentially */
	GWORK_RANDOM, /* random reads and writes for duration_ms */
};

struct gwork {
	enum gwork_kind kind;
	unsigned nr_vcpus;              /* threads; vCPU i uses queue i % nr_queues */
	unsigned qd;                    /* requests in flight per vCPU */
	uint64_t first_sector, sectors; /* the area, split evenly between vCPUs */
	uint32_t min_bytes, max_bytes;  /* request sizes (multiples of 512) */
	unsigned max_segs;              /* data descriptors per request: 1 .. max_segs */
	unsigned layouts;               /* GBLK_L_* bits to cycle through */
	unsigned write_pct;             /* GWORK_RANDOM */
	unsigned duration_ms;           /* GWORK_RANDOM */
	bool verify;                    /* compare reads with the model */
	atomic_bool *stop;              /* optional: stop early when set */
	uint64_t seed;
};

struct gwork_result {
	uint64_t reqs, read_bytes, write_bytes;
	uint64_t errors;       /* status byte not OK */
	uint64_t mismatches;   /* sectors read that differ from the model */
	uint64_t bad_used_len; /* used.len other than the bytes the device had to write */
	uint64_t timeouts;     /* a wait for completions ran out */
	bool gone;             /* the device disappeared (-EFAULT on an access) */
	double secs;
	int rc; /* 0, or the first failure's -errno */
	char msg[256];
};

int gwork_run(struct gblk *b, struct gdisk_model *m, const struct gwork *w,
	      struct gwork_result *res);
/* One line: "WHAT: N MiB in S s = X MiB/s, Y IOPS". */
void gwork_describe(const struct gwork_result *res, const char *what, char *buf, size_t len);

#endif
