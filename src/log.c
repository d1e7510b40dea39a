/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging (include/log.h): one line per message to stderr
 * ("xen-virtio-blkd: dom5/xvda: warning: ...") or to syslog (LOG_DAEMON),
 * a level filter, and the rate limiter for guest-triggered messages.
 * Under systemd (JOURNAL_STREAM names our stderr) each stderr line starts
 * with the "<N>" priority prefix journald understands.
 * Every function here leaves errno as it found it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "guest_limits.h"
#include "log.h"

#define LOG_IDENT "xen-virtio-blkd"
#define LOG_MSG_MAX 1024u
#define LOG_LINE_MAX (LOG_MSG_MAX + 256u)

static struct {
	enum log_target target;
	enum log_level level;
	bool journal_checked;
	bool journal; /* stderr is a journald stream */
	bool syslog_open;
} log_state = {
	.target = LOG_TO_STDERR,
	.level = LOG_LVL_INFO,
};

static const struct {
	const char *name;
	int syslog_prio;
	const char *journal_prefix; /* sd-daemon.h SD_ERR... */
} log_levels[] = {
	[LOG_LVL_ERR] = { "error", LOG_ERR, "<3>" },
	[LOG_LVL_WARNING] = { "warning", LOG_WARNING, "<4>" },
	[LOG_LVL_INFO] = { "info", LOG_INFO, "<6>" },
	[LOG_LVL_DEBUG] = { "debug", LOG_DEBUG, "<7>" },
};

/* systemd sets JOURNAL_STREAM=<dev>:<ino> of the stream it gave us as stderr. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(enum log_target target, enum log_level level)
{
	int saved = errno;

	if (target == LOG_TO_SYSLOG && !log_state.syslog_open) {
		/* NDELAY: connect now, before any sandboxing could forbid it. */
		openlog(LOG_IDENT, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_state.syslog_open = true;
	} else if (target == LOG_TO_STDERR && log_state.syslog_open) {
		closelog();
		log_state.syslog_open = false;
	}
	log_state.target = target;
	log_state.journal = stderr_is_journal();
	log_state.journal_checked = true;
	log_set_level(level);
	errno = saved;
}

void log_set_level(enum log_level level)
{
	if ((unsigned)level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	log_state.level = level;
}

enum log_level log_get_level(void)
{
	return log_state.level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "err", LOG_LVL_ERR },
		{ "error", LOG_LVL_ERR },
		{ "warning", LOG_LVL_WARNING },
		{ "warn", LOG_LVL_WARNING },
		{ "info", LOG_LVL_INFO },
		{ "debug", LOG_LVL_DEBUG },
	};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

/* A guest can put bytes in messages (serials, paths): no control characters. */
static void sanitize(char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == '\n')
		s[--n] = '\0';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			*s = '?';
	}
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere left to report it */
		buf += n;
		len -= (size_t)n;
	}
}

static void log_emit(enum log_level level, const char *prefix, const char *msg)
{
	char line[LOG_LINE_MAX];
	int n;

	if (log_state.target == LOG_TO_SYSLOG) {
		syslog(log_levels[level].syslog_prio, "%s%s%s", prefix ? prefix : "",
		       prefix ? ": " : "", msg);
		return;
	}
	if (!log_state.journal_checked) {
		log_state.journal = stderr_is_journal();
		log_state.journal_checked = true;
	}
	n = snprintf(line, sizeof(line), "%s" LOG_IDENT ": %s%s%s: %s\n",
		     log_state.journal ? log_levels[level].journal_prefix : "",
		     prefix ? prefix : "", prefix ? ": " : "", log_levels[level].name, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line, so lines from several processes do not interleave. */
	write_all(STDERR_FILENO, line, (size_t)n);
}

static void log_vmsg(enum log_level level, const char *prefix, const char *fmt, va_list ap)
	PRINTF_LIKE(3, 0);

static void log_vmsg(enum log_level level, const char *prefix, const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX];

	/* errno is still the caller's here, so %m works. */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	sanitize(msg);
	log_emit(level, prefix, msg);
}

void log_msg(enum log_level level, const char *prefix, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if ((unsigned)level > (unsigned)log_state.level)
		return;
	va_start(ap, fmt);
	log_vmsg(level, prefix, fmt, ap);
	va_end(ap);
	errno = saved;
}

static time_t monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void log_guest(struct log_ratelimit *rl, enum log_level level, const char *prefix,
	       const char *fmt, ...)
{
	int saved = errno;
	time_t now;
	va_list ap;

	if ((unsigned)level > (unsigned)log_state.level)
		return;
	now = monotonic_seconds();
	if (now < rl->window_start || now - rl->window_start >= (time_t)GUEST_LOG_INTERVAL_S) {
		if (rl->suppressed) {
			char note[64];

			snprintf(note, sizeof(note), "%u messages suppressed", rl->suppressed);
			log_emit(LOG_LVL_WARNING, prefix, note);
		}
		rl->window_start = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed >= GUEST_LOG_BURST) {
		if (rl->suppressed < UINT32_MAX)
			rl->suppressed++;
		errno = saved;
		return;
	}
	rl->printed++;
	va_start(ap, fmt);
	log_vmsg(level, prefix, fmt, ap);
	va_end(ap);
	errno = saved;
}
