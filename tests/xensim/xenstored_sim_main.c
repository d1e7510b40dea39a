/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenstored-sim: the simulator's xenstore server as a program, for manual
 * use and tests. Serves until SIGINT or SIGTERM, then removes its socket.
 *
 *   xenstored-sim --socket PATH [--introduce DOMID]... [--verbose]
 *   XENSTORED_PATH=PATH xenstore-ls
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_server.h"

#define MAX_INTRODUCE 64

static void usage(FILE *f)
{
	fputs("Usage: xenstored-sim --socket PATH [--introduce DOMID]... "
	      "[--verbose]\n"
	      "Serve the xenstore protocol on the Unix socket PATH until "
	      "SIGINT or SIGTERM.\n"
	      "Clients use it with XENSTORED_PATH=PATH.\n"
	      "  -s, --socket PATH      socket to listen on (required)\n"
	      "  -i, --introduce DOMID  introduce this domain at start "
	      "(repeatable)\n"
	      "  -v, --verbose          log every request to stderr\n"
	      "  -h, --help             show this help\n",
	      f);
}

static int parse_domid(const char *s, unsigned int *domid)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || !v || v >= 0x7ff0)
		return -EINVAL;
	*domid = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ .name = "socket", .has_arg = required_argument, .val = 's' },
		{ .name = "introduce", .has_arg = required_argument, .val = 'i' },
		{ .name = "verbose", .has_arg = no_argument, .val = 'v' },
		{ .name = "help", .has_arg = no_argument, .val = 'h' },
		{ 0 },
	};
	unsigned int domids[MAX_INTRODUCE], ndomids = 0, i;
	const char *socket_path = NULL;
	struct xs_server *srv = NULL;
	bool verbose = false;
	sigset_t set;
	int opt, sig, rc;

	while ((opt = getopt_long(argc, argv, "s:i:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'i':
			if (ndomids == MAX_INTRODUCE ||
			    parse_domid(optarg, &domids[ndomids])) {
				fprintf(stderr, "xenstored-sim: bad domid '%s'\n",
					optarg);
				return 1;
			}
			ndomids++;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (!socket_path || optind != argc) {
		usage(stderr);
		return 1;
	}

	/* Wait for signals with sigwait(), so they never interrupt anything;
	 * the server thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	rc = xs_server_start(socket_path, &srv);
	if (rc) {
		fprintf(stderr, "xenstored-sim: cannot serve on %s: %s\n",
			socket_path, strerror(-rc));
		return 1;
	}
	if (verbose)
		xs_server_set_log(srv, stderr);
	for (i = 0; i < ndomids; i++) {
		rc = xs_server_introduce_domain(srv, domids[i]);
		if (rc) {
			fprintf(stderr, "xenstored-sim: introduce %u: %s\n",
				domids[i], strerror(-rc));
			xs_server_stop(srv);
			return 1;
		}
	}
	printf("xenstored-sim: listening on %s\n", socket_path);
	fflush(stdout);

	do {
		rc = sigwait(&set, &sig);
	} while (rc == EINTR);
	xs_server_stop(srv);
	return 0;
}
