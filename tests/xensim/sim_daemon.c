/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Running the real daemon binary against the simulator: fork/exec with the
 * stand-in libraries first on LD_LIBRARY_PATH and the simulator's socket
 * in the environment, output to a log file; waiting for a line in that
 * log; stopping it with a signal and a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim_internal.h"

#ifndef XENSIM_LIBDIR
#define XENSIM_LIBDIR "build/xensim/lib"
#endif

extern char **environ;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool env_is(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static void free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* environ without our variables, plus ours: built before fork (no malloc after). */
static char **build_env(struct sim *sim)
{
	const char *libdir = getenv("XENSIM_LIBDIR");
	const char *old_llp = getenv("LD_LIBRARY_PATH");
	size_t n = 0, k = 0;
	char **env;

	if (!libdir || !*libdir)
		libdir = XENSIM_LIBDIR;
	while (environ[n])
		n++;
	env = calloc(n + 4, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (env_is(environ[i], "LD_LIBRARY_PATH") || env_is(environ[i], SIM_ENV_SOCKET) ||
		    env_is(environ[i], "XENSTORED_PATH") || env_is(environ[i], SIM_ENV_CALLER_DOMID))
			continue;
		env[k] = strdup(environ[i]);
		if (!env[k++])
			goto err;
	}
	if (asprintf(&env[k++], "LD_LIBRARY_PATH=%s%s%s", libdir, old_llp && *old_llp ? ":" : "",
		     old_llp && *old_llp ? old_llp : "") < 0)
		goto err_last;
	if (asprintf(&env[k++], "%s=%s", SIM_ENV_SOCKET, sim->path) < 0)
		goto err_last;
	if (sim->xs && asprintf(&env[k++], "XENSTORED_PATH=%s", sim->xs_path) < 0)
		goto err_last;
	return env;
err_last:
	env[k - 1] = NULL; /* asprintf left it undefined */
err:
	free_env(env);
	return NULL;
}

int sim_daemon_start(struct sim *sim, char *const argv[], const char *log_path, pid_t *pid)
{
	char **env = NULL;
	int logfd = -1, nullfd = -1, rc;
	pid_t child;

	*pid = -1;
	if (!argv || !argv[0])
		return -EINVAL;
	env = build_env(sim);
	if (!env)
		return -ENOMEM;
	logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (logfd < 0 || nullfd < 0) {
		rc = -errno;
		goto out;
	}
	child = fork();
	if (child < 0) {
		rc = -errno;
		goto out;
	}
	if (child == 0) {
		/* Only async-signal-safe calls from here: the parent has threads. */
		sigset_t none;
		static const char msg[] = "xensim: exec of the daemon failed\n";

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		execve(argv[0], argv, env);
		if (write(2, msg, sizeof(msg) - 1) < 0) {
			/* nothing left to report to */
		}
		_exit(127);
	}
	*pid = child;
	rc = 0;
out:
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	free_env(env);
	return rc;
}

static bool log_matches(const char *path, const regex_t *re)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	for (ssize_t n; !found && (n = getline(&line, &cap, f)) >= 0;) {
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0'; /* so that '$' matches the end of the line */
		found = regexec(re, line, 0, NULL, 0) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

int sim_daemon_wait_log(const char *log_path, const char *regex, unsigned timeout_ms)
{
	regex_t re;
	uint64_t deadline = sim_now_ms() + timeout_ms;
	int rc = -ETIMEDOUT;

	if (regcomp(&re, regex, REG_EXTENDED | REG_NOSUB) != 0)
		return -EINVAL;
	for (;;) {
		if (log_matches(log_path, &re)) {
			rc = 0;
			break;
		}
		if (sim_now_ms() >= deadline)
			break;
		sleep_ms(10);
	}
	regfree(&re);
	return rc;
}

int sim_daemon_stop(pid_t pid, int sig, unsigned timeout_ms, int *status)
{
	uint64_t deadline = sim_now_ms() + timeout_ms;
	int st = 0;

	if (pid <= 0)
		return -EINVAL;
	if (sig && kill(pid, sig) < 0 && errno != ESRCH)
		return -errno;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			if (status)
				*status = st;
			return 0;
		}
		if (r < 0)
			return -errno;
		if (sim_now_ms() >= deadline)
			break;
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) == pid && status)
		*status = st;
	return -ETIMEDOUT;
}
