/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging: stderr in the foreground, syslog as a service. Every line from a
 * device names it ("dom5/xvda"). Guest-triggered lines go through a
 * rate limit so a guest cannot fill dom0's disk. Log functions preserve errno.
 */
#ifndef XVB_LOG_H
#define XVB_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "compiler.h"

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARNING, LOG_LVL_INFO, LOG_LVL_DEBUG };
enum log_target { LOG_TO_STDERR = 0, LOG_TO_SYSLOG };

void log_setup(enum log_target target, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "err", "warning", "info", "debug" -> level; -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *out);

/* prefix may be NULL (daemon-wide message). */
void log_msg(enum log_level level, const char *prefix, const char *fmt, ...) PRINTF_LIKE(3, 4);

#define log_err(prefix, ...) log_msg(LOG_LVL_ERR, prefix, __VA_ARGS__)
#define log_warn(prefix, ...) log_msg(LOG_LVL_WARNING, prefix, __VA_ARGS__)
#define log_info(prefix, ...) log_msg(LOG_LVL_INFO, prefix, __VA_ARGS__)
#define log_debug(prefix, ...)                                   \
	do {                                                     \
		if (log_get_level() >= LOG_LVL_DEBUG)             \
			log_msg(LOG_LVL_DEBUG, prefix, __VA_ARGS__); \
	} while (0)

/*
 * Rate limit for guest-triggered messages: at most GUEST_LOG_BURST lines
 * per GUEST_LOG_INTERVAL_S per limiter; the number suppressed is reported
 * when the next window opens. One limiter per device (zero-initialise it).
 */
struct log_ratelimit {
	time_t window_start;
	uint32_t printed;
	uint32_t suppressed;
};
void log_guest(struct log_ratelimit *rl, enum log_level level, const char *prefix,
	       const char *fmt, ...) PRINTF_LIKE(4, 5);

#endif
