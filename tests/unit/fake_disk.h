/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An in-memory disk_ops for virtio-blk tests. Requests are queued by
 * submit(), become pending at kick(), and complete (data copied, callback
 * run) at reap() unless held; drain() completes everything. One request
 * can be made to fail, and submit() can be made to fail.
 */
#ifndef XVB_TEST_FAKE_DISK_H
#define XVB_TEST_FAKE_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "../../src/disk/disk.h"

#define FAKE_DISK_OPS_LOG 64u

struct fake_disk {
	struct disk disk;
	uint8_t *data;
	struct disk_req *queued, *pending; /* FIFO lists through req->next */

	bool hold;          /* reap() completes nothing */
	int submit_error;   /* submit() fails with this when nonzero */
	uint32_t fail_nth;  /* the nth submitted request (1-based) completes with fail_err */
	int fail_err;

	unsigned submits, kicks, reaps, drains, completed;
	unsigned reads, writes, flushes;
	unsigned out_of_range; /* the device let a request past the end through */
	enum disk_op ops_log[FAKE_DISK_OPS_LOG]; /* completion order */
	unsigned n_ops;
};

void fake_disk_init(struct fake_disk *fd, uint64_t size, bool read_only);
void fake_disk_fini(struct fake_disk *fd);
unsigned fake_disk_inflight(const struct fake_disk *fd);

#endif
