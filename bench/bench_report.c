/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `make bench` output: case names, the one line per case, bench/results.json
 * and the data file that bench/plot.gp turns into docs/bench-iops.png.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

const char *bench_rw_name(enum bench_rw rw)
{
	static const char *const names[] = { "randread", "randwrite", "seqread", "seqwrite" };

	return names[rw];
}

const char *bench_rw_fio(enum bench_rw rw)
{
	static const char *const names[] = { "randread", "randwrite", "read", "write" };

	return names[rw];
}

void bench_case_name(const struct bench_case *c, char *buf, size_t len)
{
	if (c->bs >= 1024 * 1024)
		snprintf(buf, len, "%s/%s-%uM-qd%u", c->config, bench_rw_name(c->rw),
			 c->bs / (1024 * 1024), c->qd);
	else
		snprintf(buf, len, "%s/%s-%uk-qd%u", c->config, bench_rw_name(c->rw), c->bs / 1024,
			 c->qd);
}

static double per_req_us(double secs, uint64_t reqs)
{
	return reqs ? secs * 1e6 / (double)reqs : 0.0;
}

void bench_report_line(const struct bench_result *r)
{
	bool seq = r->c.rw == BENCH_SEQREAD || r->c.rw == BENCH_SEQWRITE;
	char ours[48], ref[48];

	if (seq) {
		snprintf(ours, sizeof(ours), "%.0fMiB/s", r->mibs);
		snprintf(ref, sizeof(ref), r->ref_ok ? "%.0fMiB/s" : "n/a", r->ref_mibs);
	} else {
		snprintf(ours, sizeof(ours), "%.0fIOPS", r->iops);
		snprintf(ref, sizeof(ref), r->ref_ok ? "%.0fIOPS" : "n/a", r->ref_iops);
	}
	printf("bench: %-30s ours=%-12s ref=%-12s ratio=%.2f  cpu/req: daemon=%.2fus (io-wq %.2f) "
	       "guest=%.2fus xensim=%.2fus fio=%.2fus  notify rt p50/p90/p99=%.1f/%.1f/%.1fus "
	       "(%" PRIu64 " kicks, %" PRIu64 " irqs, %u queue%s)%s\n",
	       r->name, ours, ref, r->ratio, per_req_us(r->cpu.daemon, r->reqs),
	       per_req_us(r->cpu.daemon_iowq, r->reqs), per_req_us(r->cpu.guest, r->reqs), per_req_us(r->cpu.sim, r->reqs),
	       per_req_us(r->ref_cpu_secs, r->ref_reqs), r->notify_p50_us, r->notify_p90_us,
	       r->notify_p99_us, r->notifies, r->irqs, r->queues_got,
	       r->queues_got == 1 ? "" : "s", r->errors ? "  ERRORS" : "");
	fflush(stdout);
}

int bench_write_json(const char *path, const struct bench_result *res, unsigned n, unsigned secs,
		     const char *pc_image, const char *direct_image)
{
	FILE *f = fopen(path, "w");
	time_t now = time(NULL);
	char when[64];

	if (!f)
		return -errno;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	fprintf(f, "{\n  \"date\": \"%s\",\n  \"secs_per_case\": %u,\n", when, secs);
	fprintf(f, "  \"pagecache_image\": \"%s\",\n  \"direct_image\": \"%s\",\n",
		pc_image ? pc_image : "", direct_image ? direct_image : "");
	fprintf(f, "  \"cases\": [\n");
	for (unsigned i = 0; i < n; i++) {
		const struct bench_result *r = &res[i];

		fprintf(f,
			"    {\"name\": \"%s\", \"config\": \"%s\", \"rw\": \"%s\", \"bs\": %u, "
			"\"qd\": %u, \"queues_asked\": %u, \"queues_got\": %u, \"direct\": %s,\n",
			r->name, r->c.config, bench_rw_name(r->c.rw), r->c.bs, r->c.qd,
			r->c.queues, r->queues_got, r->c.direct ? "true" : "false");
		fprintf(f,
			"     \"ours\": {\"iops\": %.1f, \"mib_s\": %.2f, \"requests\": %" PRIu64
			", \"errors\": %" PRIu64 ", \"secs\": %.3f,\n"
			"              \"cpu_us_per_req\": {\"daemon\": %.3f, \"daemon_io_wq\": %.3f, "
			"\"guest\": %.3f, \"xensim\": %.3f},\n"
			"              \"kicks\": %" PRIu64 ", \"irqs\": %" PRIu64
			", \"notify_rt_us\": {\"p50\": %.2f, \"p90\": %.2f, \"p99\": %.2f}},\n",
			r->iops, r->mibs, r->reqs, r->errors, r->secs,
			per_req_us(r->cpu.daemon, r->reqs), per_req_us(r->cpu.daemon_iowq, r->reqs),
			per_req_us(r->cpu.guest, r->reqs), per_req_us(r->cpu.sim, r->reqs), r->notifies, r->irqs, r->notify_p50_us,
			r->notify_p90_us, r->notify_p99_us);
		if (r->ref_ok)
			fprintf(f,
				"     \"ref\": {\"tool\": \"fio io_uring\", \"iops\": %.1f, \"mib_s\": "
				"%.2f, \"requests\": %" PRIu64 ", \"cpu_us_per_req\": %.3f},\n",
				r->ref_iops, r->ref_mibs, r->ref_reqs,
				per_req_us(r->ref_cpu_secs, r->ref_reqs));
		else
			fprintf(f, "     \"ref\": null,\n");
		fprintf(f, "     \"ratio\": %.3f}%s\n", r->ratio, i + 1 < n ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	return fclose(f) == 0 ? 0 : -errno;
}

/*
 * One block per (config, rw) of the random 4 KiB cases, separated by two
 * blank lines (gnuplot's index): "qd ours ref".
 */
int bench_write_dat(const char *path, const struct bench_result *res, unsigned n)
{
	static const char *const configs[] = { "pagecache", "direct", "pagecache-poll" };
	static const enum bench_rw rws[] = { BENCH_RANDREAD, BENCH_RANDWRITE };
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	for (size_t ci = 0; ci < 3; ci++) {
		for (size_t wi = 0; wi < 2; wi++) {
			fprintf(f, "# %s %s: qd ours_iops fio_iops\n", configs[ci],
				bench_rw_name(rws[wi]));
			for (unsigned i = 0; i < n; i++) {
				const struct bench_result *r = &res[i];

				if (strcmp(r->c.config, configs[ci]) || r->c.rw != rws[wi] ||
				    r->c.bs != 4096)
					continue;
				fprintf(f, "%u %.1f %.1f\n", r->c.qd, r->iops,
					r->ref_ok ? r->ref_iops : 0.0);
			}
			fprintf(f, "\n\n");
		}
	}
	return fclose(f) == 0 ? 0 : -errno;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

double bench_percentile(uint32_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0.0;
	qsort(v, n, sizeof(*v), cmp_u32);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i < n ? i : n - 1];
}
