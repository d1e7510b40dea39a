/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sd_notify: datagrams reach a socket the test binds, by path and by abstract name. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../src/sd_notify.h"
#include "check.h"

/* A datagram socket bound to name ("/path" or "@abstract"), non-blocking. */
static int bind_notify(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	CHECK(fd >= 0);
	CHECK(n < sizeof(sa.sun_path));
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@') {
		sa.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		unlink(name);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	CHECK_EQ(bind(fd, (struct sockaddr *)&sa, len), 0);
	return fd;
}

/* The next datagram as a string; "" when none is queued. */
static const char *recv_msg(int fd)
{
	static char buf[2048];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

	if (n < 0) {
		CHECK_EQ(errno, EAGAIN);
		n = 0;
	}
	buf[n] = '\0';
	return buf;
}

TEST(no_socket_is_a_silent_noop)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ(sd_notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK_EQ(sd_notify_send("READY=1"), 0);
}

TEST(path_socket_receives_each_message)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_sd_notify-%d.sock", (int)getpid());
	fd = bind_notify(path);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK_EQ(sd_notify_send("READY=1"), 0);
	CHECK_EQ(sd_notify_sendf("STATUS=serving %u disk(s) of %u guest(s)", 3u, 2u), 0);
	CHECK_EQ(sd_notify_send("STOPPING=1"), 0);
	CHECK(strcmp(recv_msg(fd), "READY=1") == 0);
	CHECK(strcmp(recv_msg(fd), "STATUS=serving 3 disk(s) of 2 guest(s)") == 0);
	CHECK(strcmp(recv_msg(fd), "STOPPING=1") == 0);
	CHECK(strcmp(recv_msg(fd), "") == 0);
	close(fd);
	unlink(path);
	unsetenv("NOTIFY_SOCKET");
}

TEST(abstract_socket_with_at_sign)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@xvb-test-sd-notify-%d", (int)getpid());
	fd = bind_notify(name);
	setenv("NOTIFY_SOCKET", name, 1);
	CHECK_EQ(sd_notify_send("RELOADING=1"), 0);
	CHECK(strcmp(recv_msg(fd), "RELOADING=1") == 0);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

TEST(bad_socket_names_refused)
{
	char longname[200];

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_EQ(sd_notify_send("READY=1"), -EINVAL);
	setenv("NOTIFY_SOCKET", "@", 1);
	CHECK_EQ(sd_notify_send("READY=1"), -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	CHECK_EQ(sd_notify_send("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
}

TEST(nobody_listening_is_an_error_not_a_crash)
{
	setenv("NOTIFY_SOCKET", "/nonexistent-dir/notify.sock", 1);
	CHECK_EQ(sd_notify_send("READY=1"), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

TEST(oversized_message_refused)
{
	static char big[2000];

	memset(big, 'a', sizeof(big) - 1);
	CHECK_EQ(sd_notify_sendf("STATUS=%s", big), -EMSGSIZE);
}
