/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stand-in libxentoolcore.so.1: the registry of library handles that
 * xentoolcore_restrict_all() restricts. Debian's real libxenstore links
 * against it (register/deregister/restrict_by_dup2_null), so it must keep
 * the layout of struct Xentoolcore__Active_Handle (stub_common.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <xentoolcore.h>

#include "stub_common.h"

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static XEN_LIST_HEAD(, Xentoolcore__Active_Handle) handles = XEN_LIST_HEAD_INITIALIZER(handles);

void xentoolcore__register_active_handle(Xentoolcore__Active_Handle *ah)
{
	pthread_mutex_lock(&handles_lock);
	XEN_LIST_INSERT_HEAD(&handles, ah, entry);
	pthread_mutex_unlock(&handles_lock);
}

void xentoolcore__deregister_active_handle(Xentoolcore__Active_Handle *ah)
{
	pthread_mutex_lock(&handles_lock);
	XEN_LIST_REMOVE(ah, entry);
	pthread_mutex_unlock(&handles_lock);
}

int xentoolcore_restrict_all(domid_t domid)
{
	Xentoolcore__Active_Handle *ah;
	int rc = 0;

	pthread_mutex_lock(&handles_lock);
	XEN_LIST_FOREACH(ah, &handles, entry) {
		rc = ah->restrict_callback(ah, domid);
		if (rc)
			break;
	}
	pthread_mutex_unlock(&handles_lock);
	return rc;
}

/* Makes fd useless (for handles that cannot be restricted otherwise). */
int xentoolcore__restrict_by_dup2_null(int fd)
{
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC), saved;

	if (nullfd < 0)
		return -1;
	if (dup2(nullfd, fd) < 0) {
		saved = errno;
		close(nullfd);
		errno = saved;
		return -1;
	}
	close(nullfd);
	return 0;
}
