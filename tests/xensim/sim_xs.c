/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The hook between the simulated hypervisor and the xenstore server
 * (xs_server.c, another file's job): started with the simulator when
 * sim_config.xenstore_path is set, a domain introduced when its guest is
 * created and released when it dies. sim.mk defines XENSIM_HAVE_XS=1 when
 * the xenstore server is part of libsim.a; without it, asking for
 * xenstore fails with -ENOSYS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

#ifndef XENSIM_HAVE_XS
#define XENSIM_HAVE_XS 0
#endif

#if XENSIM_HAVE_XS
#include "xs_server.h"

int sim_xs_start(struct sim *sim, const char *path)
{
	int rc;

	sim->xs_path = strdup(path);
	if (!sim->xs_path)
		return -ENOMEM;
	rc = xs_server_start(path, &sim->xs);
	if (rc)
		fprintf(stderr, "xensim: cannot start the xenstore server at %s: %s\n", path,
			strerror(-rc));
	return rc;
}

void sim_xs_stop(struct sim *sim)
{
	xs_server_stop(sim->xs);
	sim->xs = NULL;
	free(sim->xs_path);
	sim->xs_path = NULL;
}

void sim_xs_introduce(struct sim *sim, uint16_t domid)
{
	if (sim->xs)
		xs_server_introduce_domain(sim->xs, domid);
}

void sim_xs_release(struct sim *sim, uint16_t domid)
{
	if (sim->xs)
		xs_server_release_domain(sim->xs, domid);
}

#else

int sim_xs_start(struct sim *sim, const char *path)
{
	(void)sim;
	fprintf(stderr, "xensim: built without the xenstore server (tests/xensim/xs_server.c): "
		"cannot serve %s\n", path);
	return -ENOSYS;
}

void sim_xs_stop(struct sim *sim)
{
	(void)sim;
}

void sim_xs_introduce(struct sim *sim, uint16_t domid)
{
	(void)sim;
	(void)domid;
}

void sim_xs_release(struct sim *sim, uint16_t domid)
{
	(void)sim;
	(void)domid;
}

#endif
