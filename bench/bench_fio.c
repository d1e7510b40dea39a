/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The reference side of `make bench`: Debian's fio with the io_uring engine
 * on the same file, block size, depth and O_DIRECT flag, for the same time.
 * One fio job per guest queue, the depth split between them, so the number
 * of submitters matches the guest's vCPUs. fio's JSON output is kept next
 * to results.json; the few numbers we need are picked out of it here.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* The value after `"key" :` between p and end, or NULL. */
static const char *json_find(const char *p, const char *end, const char *key)
{
	size_t kl = strlen(key);

	while (p && p < end) {
		const char *q = strstr(p, key);

		if (!q || q >= end)
			return NULL;
		if (q > p && q[-1] == '"' && q[kl] == '"') {
			const char *v = q + kl + 1;

			while (*v == ' ' || *v == '\t' || *v == '\n')
				v++;
			if (*v == ':') {
				v++;
				while (*v == ' ' || *v == '\t' || *v == '\n')
					v++;
				return v;
			}
		}
		p = q + kl;
	}
	return NULL;
}

static double json_num(const char *p, const char *end, const char *key)
{
	const char *v = json_find(p, end, key);

	return v ? strtod(v, NULL) : 0.0;
}

/* Sum the jobs of fio's JSON output into r. */
static int fio_parse(const char *text, struct bench_result *r)
{
	const char *jobs = strstr(text, "\"jobs\"");
	const char *text_end = text + strlen(text);
	const char *p = jobs;
	unsigned njobs = 0;

	if (!jobs)
		return -EPROTO;
	r->ref_iops = r->ref_mibs = r->ref_cpu_secs = r->ref_secs = 0;
	r->ref_reqs = 0;
	while ((p = json_find(p, text_end, "jobname")) != NULL) {
		const char *next = json_find(p, text_end, "jobname");
		const char *end = next ? next : text_end;
		const char *rd = json_find(p, end, "read");
		const char *wr = json_find(p, end, "write");
		double runtime_s = json_num(p, end, "job_runtime") / 1000.0;

		if (!rd || !wr)
			return -EPROTO;
		r->ref_iops += json_num(rd, wr, "iops") + json_num(wr, end, "iops");
		r->ref_mibs += (json_num(rd, wr, "bw_bytes") + json_num(wr, end, "bw_bytes")) /
			       (1024.0 * 1024.0);
		r->ref_reqs += (uint64_t)(json_num(rd, wr, "total_ios") +
					  json_num(wr, end, "total_ios"));
		if (runtime_s > r->ref_secs)
			r->ref_secs = runtime_s;
		njobs++;
		p = end;
	}
	return njobs ? 0 : -EPROTO;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = 0;
		}
	}
	fclose(f);
	return buf;
}

int bench_fio_run(const char *path, uint64_t size, unsigned ms, const char *json_out,
		  struct bench_result *r)
{
	const struct bench_case *c = &r->c;
	unsigned jobs = c->queues ? c->queues : 1;
	char a_file[512], a_size[64], a_rw[32], a_bs[32], a_qd[32], a_jobs[32], a_direct[32],
		a_rt[32], a_out[512];
	char *argv[] = {
		"fio", "--name=ref", a_file, a_size, "--ioengine=io_uring", a_rw, a_bs, a_qd,
		a_jobs, a_direct, a_rt, "--time_based", "--invalidate=0", "--norandommap",
		"--randrepeat=0", "--output-format=json", a_out, NULL,
	};
	struct rusage ru;
	char *text;
	pid_t pid;
	int st, rc;

	r->ref_ok = false;
	snprintf(a_file, sizeof(a_file), "--filename=%s", path);
	snprintf(a_size, sizeof(a_size), "--size=%" PRIu64, size);
	snprintf(a_rw, sizeof(a_rw), "--rw=%s", bench_rw_fio(c->rw));
	snprintf(a_bs, sizeof(a_bs), "--bs=%u", c->bs);
	snprintf(a_qd, sizeof(a_qd), "--iodepth=%u", c->qd / jobs ? c->qd / jobs : 1);
	snprintf(a_jobs, sizeof(a_jobs), "--numjobs=%u", jobs);
	snprintf(a_direct, sizeof(a_direct), "--direct=%d", c->direct ? 1 : 0);
	snprintf(a_rt, sizeof(a_rt), "--runtime=%ums", ms);
	snprintf(a_out, sizeof(a_out), "--output=%s", json_out);

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		execvp("fio", argv);
		_exit(127);
	}
	/*
	 * fio's own usr_cpu/sys_cpu leave out its io_uring workers (iou-wrk
	 * threads, which do the copying for tmpfs): take the whole process's
	 * rusage instead, as /proc/PID/stat gives for the daemon. It includes
	 * fio's start-up, a few ms.
	 */
	if (wait4(pid, &st, 0, &ru) < 0)
		return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench: fio failed (status %d); see %s\n",
			WIFEXITED(st) ? WEXITSTATUS(st) : -1, json_out);
		return -EIO;
	}
	text = slurp(json_out);
	if (!text)
		return -EIO;
	rc = fio_parse(text, r);
	free(text);
	if (rc) {
		fprintf(stderr, "bench: cannot read fio's output %s\n", json_out);
		return rc;
	}
	r->ref_cpu_secs = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	r->ref_ok = true;
	return 0;
}
