/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim integration tests, data: 64 MiB of patterns written and read back
 * at queue depths 1, 8 and 32 on 1 and 4 vCPUs (one thread per vCPU doing
 * its own MMIO), with request sizes from 4 KiB to 256 KiB, data split into
 * up to 8 descriptors, and every chain layout (indirect, split header,
 * status merged into data, pieces in reverse memory order). Every read is
 * checked against the model of the disk, then the image file is checked
 * with pread. EVENT_IDX is off in two runs; one run polls the used ring
 * instead of taking interrupts.
 */
#include <stdio.h>

#include "t_env.h"

#define DISK_SIZE (64 * T_MIB)
#define RAM_SIZE (128 * T_MIB)

static void run(const char *name, unsigned vcpus, unsigned qd, bool event_idx, bool poll)
{
	struct t_env *e = t_begin(name);
	struct t_guest *g = t_guest(e, 1, vcpus, RAM_SIZE);
	struct t_disk *d = t_disk(g, &(struct t_disk_opts){ .size = DISK_SIZE });
	uint64_t features = GBLK_DEFAULT_FEATURES;
	struct gwork_result res;
	struct gdisk_model m;
	char msg[256] = "", line[160];
	struct gblk *b;
	int64_t bad;

	if (!event_idx)
		features &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
	t_daemon_start(g);
	b = t_blk(d, &(struct gblk_opts){ .features = features, .nr_queues = vcpus, .poll = poll });
	CHECK_EQ(gblk_has(b, VIRTIO_RING_F_EVENT_IDX), event_idx);
	CHECK_EQ(gdisk_model_init(&m, DISK_SIZE / 512, qd * 31 + vcpus), 0);

	struct gwork w = {
		.kind = GWORK_WRITE, .nr_vcpus = vcpus, .qd = qd, .sectors = DISK_SIZE / 512,
		.min_bytes = 4096, .max_bytes = 256 * 1024, .max_segs = 8,
		.layouts = GBLK_L_ALL, .seed = qd * 131 + vcpus,
	};
	gwork_run(b, &m, &w, &res);
	gwork_describe(&res, "write", line, sizeof(line));
	printf("# %s: %s (%u queue(s), %s)\n", name, line, b->nr_queues,
	       poll ? "polling the used ring" : "interrupts");
	if (res.rc)
		check_fail(__FILE__, __LINE__, "write: %s", res.msg);
	CHECK_EQ_U64(res.write_bytes, DISK_SIZE);

	w.kind = GWORK_READ;
	w.verify = true;
	gwork_run(b, &m, &w, &res);
	gwork_describe(&res, "read+verify", line, sizeof(line));
	printf("# %s: %s\n", name, line);
	if (res.rc)
		check_fail(__FILE__, __LINE__, "read: %s", res.msg);
	CHECK_EQ_U64(res.read_bytes, DISK_SIZE);
	CHECK_EQ(res.mismatches, 0);
	CHECK_EQ(res.bad_used_len, 0);

	bad = gdisk_verify_file(&m, d->path, msg, sizeof(msg));
	if (bad)
		check_fail(__FILE__, __LINE__, "image file: %lld bad sectors; %s", (long long)bad,
			   msg);
	for (unsigned q = 0; q < b->nr_queues; q++)
		CHECK_EQ(b->vq[q].bad_used, 0);
	CHECK(!atomic_load(&b->ring_error));
	CHECK(!atomic_load(&b->needs_reset));
	CHECK_EQ(atomic_load(&e->guest[0].vm.mmio_timeouts), 0);
	gdisk_model_fini(&m);
	t_end(e);
}

TEST(io_64mib_qd1_1vcpu)
{
	run("io_qd1_1vcpu", 1, 1, true, false);
}

TEST(io_64mib_qd8_1vcpu)
{
	run("io_qd8_1vcpu", 1, 8, false, true);
}

TEST(io_64mib_qd32_1vcpu)
{
	run("io_qd32_1vcpu", 1, 32, true, false);
}

TEST(io_64mib_qd1_4vcpu)
{
	run("io_qd1_4vcpu", 4, 1, false, false);
}

TEST(io_64mib_qd8_4vcpu)
{
	run("io_qd8_4vcpu", 4, 8, true, false);
}

TEST(io_64mib_qd32_4vcpu)
{
	run("io_qd32_4vcpu", 4, 32, true, false);
}
