/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The systemd notification datagram; see sd_notify.h. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sd_notify.h"

#define SD_NOTIFY_MSG_MAX 1024u

/* $NOTIFY_SOCKET as an address: "/path" or "@abstract" (NUL-prefixed). */
static int notify_addr(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(name);

	if ((name[0] != '/' && name[0] != '@') || n < 2 || n >= sizeof(sa->sun_path))
		return -EINVAL;
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	memcpy(sa->sun_path, name, n);
	if (name[0] == '@') {
		/* Abstract names are counted by length, not terminated. */
		sa->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

int sd_notify_send(const char *msg)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t sa_len;
	size_t len = strlen(msg);
	ssize_t n;
	int fd, rc;

	if (!name || !name[0])
		return 0;
	rc = notify_addr(name, &sa, &sa_len);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do {
		n = sendto(fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, sa_len);
	} while (n < 0 && errno == EINTR);
	rc = n < 0 ? -errno : (size_t)n == len ? 0 : -EMSGSIZE;
	close(fd);
	return rc;
}

int sd_notify_sendf(const char *fmt, ...)
{
	char msg[SD_NOTIFY_MSG_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EMSGSIZE;
	return sd_notify_send(msg);
}
