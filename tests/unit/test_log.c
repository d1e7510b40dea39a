/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The logger (src/log.c): line format, level filter, errno, rate limiter. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "guest_limits.h"
#include "log.h"

static char captured[16384];
static int saved_stderr = -1;
static int capture_fd = -1;

/* Send stderr to a temporary file until capture_end(). */
static void capture_begin(enum log_level level)
{
	char path[PATH_MAX];
	const char *dir = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/xvb-log-XXXXXX", dir && *dir ? dir : "/tmp");
	capture_fd = mkstemp(path);
	CHECK(capture_fd >= 0);
	unlink(path);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	CHECK(saved_stderr >= 0);
	CHECK_EQ(dup2(capture_fd, STDERR_FILENO), STDERR_FILENO);
	log_setup(LOG_TO_STDERR, level);
}

/* Restore stderr; the captured text is in captured[]. Returns the number of lines. */
static int capture_end(void)
{
	ssize_t n;
	int lines = 0;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	n = pread(capture_fd, captured, sizeof(captured) - 1, 0);
	close(capture_fd);
	CHECK(n >= 0);
	captured[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		lines += captured[i] == '\n';
	return lines;
}

TEST(line_names_program_prefix_and_level)
{
	capture_begin(LOG_LVL_INFO);
	log_warn("dom5/xvda", "queue %d is %s", 2, "broken");
	log_err(NULL, "daemon-wide");
	CHECK_EQ(capture_end(), 2);
	CHECK(strcmp(captured, "xen-virtio-blkd: dom5/xvda: warning: queue 2 is broken\n"
			       "xen-virtio-blkd: error: daemon-wide\n") == 0);
}

TEST(level_filter_drops_less_important_lines)
{
	int evaluated = 0;

	capture_begin(LOG_LVL_WARNING);
	CHECK_EQ(log_get_level(), LOG_LVL_WARNING);
	log_info("p", "not shown");
	log_debug("p", "not shown %d", ++evaluated);
	log_warn("p", "shown");
	log_err("p", "shown too");
	CHECK_EQ(capture_end(), 2);
	CHECK(strstr(captured, "not shown") == NULL);
	/* log_debug does not even evaluate its arguments below DEBUG. */
	CHECK_EQ(evaluated, 0);
	capture_begin(LOG_LVL_DEBUG);
	log_debug("p", "now %d", ++evaluated);
	CHECK_EQ(capture_end(), 1);
	CHECK(strstr(captured, ": debug: now 1") != NULL);
}

TEST(errno_is_preserved)
{
	struct log_ratelimit rl = { 0 };

	capture_begin(LOG_LVL_INFO);
	errno = EIO;
	log_err("p", "failed: %m");
	CHECK_EQ(errno, EIO);
	errno = ENOSPC;
	log_debug("p", "filtered");
	CHECK_EQ(errno, ENOSPC);
	errno = EBADF;
	log_guest(&rl, LOG_LVL_WARNING, "p", "guest");
	CHECK_EQ(errno, EBADF);
	log_setup(LOG_TO_STDERR, LOG_LVL_INFO);
	CHECK_EQ(errno, EBADF);
	capture_end();
	/* %m still saw the caller's errno. */
	CHECK(strstr(captured, strerror(EIO)) != NULL);
}

TEST(level_parse_accepts_the_four_names)
{
	enum log_level l = LOG_LVL_INFO;

	CHECK_EQ(log_level_parse("err", &l), 0);
	CHECK_EQ(l, LOG_LVL_ERR);
	CHECK_EQ(log_level_parse("warning", &l), 0);
	CHECK_EQ(l, LOG_LVL_WARNING);
	CHECK_EQ(log_level_parse("debug", &l), 0);
	CHECK_EQ(l, LOG_LVL_DEBUG);
	CHECK_EQ(log_level_parse("info", &l), 0);
	CHECK_EQ(l, LOG_LVL_INFO);
	CHECK_EQ(log_level_parse("loud", &l), -EINVAL);
	CHECK_EQ(log_level_parse("", &l), -EINVAL);
	CHECK_EQ(log_level_parse(NULL, &l), -EINVAL);
	CHECK_EQ(l, LOG_LVL_INFO);
}

TEST(control_characters_are_neutralised)
{
	capture_begin(LOG_LVL_INFO);
	log_info("p", "serial %s", "ab\ncd\x1b[2J");
	CHECK_EQ(capture_end(), 1);
	CHECK(strcmp(captured, "xen-virtio-blkd: p: info: serial ab?cd?[2J\n") == 0);
}

TEST(ratelimit_stops_after_the_burst)
{
	struct log_ratelimit rl = { 0 };

	capture_begin(LOG_LVL_INFO);
	for (unsigned i = 0; i < GUEST_LOG_BURST + 7; i++)
		log_guest(&rl, LOG_LVL_WARNING, "dom1/xvda", "bad chain %u", i);
	CHECK_EQ(capture_end(), GUEST_LOG_BURST);
	CHECK_EQ(rl.printed, GUEST_LOG_BURST);
	CHECK_EQ(rl.suppressed, 7);
	CHECK(strstr(captured, "bad chain 9\n") != NULL);
	CHECK(strstr(captured, "bad chain 10\n") == NULL);
}

TEST(ratelimit_reports_suppressed_when_window_reopens)
{
	struct log_ratelimit rl = { 0 };

	capture_begin(LOG_LVL_INFO);
	for (unsigned i = 0; i < GUEST_LOG_BURST + 5; i++)
		log_guest(&rl, LOG_LVL_WARNING, "d", "m%u", i);
	/* Same window: still quiet. */
	log_guest(&rl, LOG_LVL_WARNING, "d", "still quiet");
	/* Move the window into the past (the clock is CLOCK_MONOTONIC). */
	rl.window_start -= GUEST_LOG_INTERVAL_S;
	log_guest(&rl, LOG_LVL_WARNING, "d", "after");
	CHECK_EQ(capture_end(), GUEST_LOG_BURST + 2);
	CHECK(strstr(captured, "still quiet") == NULL);
	CHECK(strstr(captured, "xen-virtio-blkd: d: warning: 6 messages suppressed\n"
			       "xen-virtio-blkd: d: warning: after\n") != NULL);
	CHECK_EQ(rl.printed, 1);
	CHECK_EQ(rl.suppressed, 0);
}

TEST(ratelimit_ignores_filtered_levels)
{
	struct log_ratelimit rl = { 0 };

	capture_begin(LOG_LVL_WARNING);
	for (int i = 0; i < 50; i++)
		log_guest(&rl, LOG_LVL_INFO, "d", "filtered");
	log_guest(&rl, LOG_LVL_ERR, "d", "shown");
	CHECK_EQ(capture_end(), 1);
	CHECK_EQ(rl.suppressed, 0);
	CHECK_EQ(rl.printed, 1);
}

TEST(journal_stream_gets_priority_prefix)
{
	struct stat st;
	char env[64];

	capture_begin(LOG_LVL_INFO);
	CHECK_EQ(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_setup(LOG_TO_STDERR, LOG_LVL_INFO);
	log_warn("p", "to the journal");
	unsetenv("JOURNAL_STREAM");
	log_setup(LOG_TO_STDERR, LOG_LVL_INFO);
	log_warn("p", "plain");
	CHECK_EQ(capture_end(), 2);
	CHECK(strcmp(captured, "<4>xen-virtio-blkd: p: warning: to the journal\n"
			       "xen-virtio-blkd: p: warning: plain\n") == 0);
}

TEST(long_messages_are_truncated_to_one_line)
{
	static char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	capture_begin(LOG_LVL_INFO);
	log_info("p", "%s", big);
	CHECK_EQ(capture_end(), 1);
	CHECK(strlen(captured) < 2048);
	CHECK_EQ(captured[strlen(captured) - 1], '\n');
}
