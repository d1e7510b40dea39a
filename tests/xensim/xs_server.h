/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xs_server: a xenstore server speaking the real wire protocol
 * (xen/io/xs_wire.h) on a Unix socket, for tests without Xen. Debian's
 * unmodified libxenstore 4.17 and the xenstore-* tools reach it with
 *
 *     XENSTORED_PATH=<socket path>
 *
 * What libxenstore 4.17 does with that (tools/libs/store/xs.c, xs_lib.c):
 * xs_open() tries xs_daemon_socket(), which returns $XENSTORED_PATH (else
 * $XENSTORED_RUNDIR/socket, else /var/run/xenstored/socket); it stat()s the
 * path and connect()s when it is a socket. Only if that fails does it try
 * xs_domain_dev(), which is again $XENSTORED_PATH when set, so with the
 * variable set /dev/xen/xenbus is never opened. XS_OPEN_SOCKETONLY and
 * XS_OPEN_READONLY are ignored by 4.17; any flags work.
 *
 * Semantics follow Xen 4.17's C xenstored: see xs_tree.h for the store and
 * transactions. Every client counts as dom0 (as on xenstored's socket):
 * permissions are stored, returned and inherited but not enforced, and
 * relative paths resolve against /local/domain/0. Watches fire once on
 * registration and on every change of the node or a child, after commit
 * for transactions; @introduceDomain and @releaseDomain fire on
 * xs_server_introduce_domain()/xs_server_release_domain() and on the
 * INTRODUCE/RELEASE messages. Unknown message types get ENOSYS, as from
 * xenstored. A client that sends an oversized or truncated message, or
 * stops reading its replies, is dropped; the server keeps serving others.
 *
 * The store starts with /tool/xenstored and /local/domain/0/{domid,name}
 * ("0", "Domain-0", as xen-init-dom0 writes them), all owned by dom0, and
 * with dom0 introduced.
 */
#ifndef XENSIM_XS_SERVER_H
#define XENSIM_XS_SERVER_H

#include <stdio.h>

struct xs_server;

/* Listen on a Unix socket at socket_path (a stale socket there is
 * replaced; any other file is an error: -EEXIST) and serve in a dedicated
 * thread. Clients may connect as soon as this returns. */
int xs_server_start(const char *socket_path, struct xs_server **out);
/* NULL-tolerant; disconnects every client, joins the thread, unlinks the
 * socket. */
void xs_server_stop(struct xs_server *srv);

/* Log every request and error reply to f (NULL: quiet, the default). */
void xs_server_set_log(struct xs_server *srv, FILE *f);

/*
 * Domain lifecycle as the hypervisor and libxl see it.
 *
 * introduce: IS_DOMAIN_INTRODUCED answers "T"; fires @introduceDomain.
 *   Like libxl__domain_make(), it also creates /local/domain/<domid> if
 *   missing, owned by dom0 and readable by the domain ("n0", "r<domid>").
 *   Introducing an introduced domain does nothing. domid 1..0x7fef.
 * release: what xenstored 4.17 does when a domain dies: removes every
 *   node the domain owns (domain_tree_remove(); nodes owned by dom0 such as
 *   /local/domain/<domid> itself stay until the toolstack removes them, as
 *   libxl's domain destroy does with xs_server_rm() here), makes
 *   IS_DOMAIN_INTRODUCED answer "F", then fires @releaseDomain.
 *   -ENOENT if the domain is not introduced.
 */
int xs_server_introduce_domain(struct xs_server *srv, unsigned int domid);
int xs_server_release_domain(struct xs_server *srv, unsigned int domid);

/* Direct store access for tests and the simulator, thread-safe, with
 * watch events as for a client's request. Paths are absolute. All return
 * 0 or -errno (-ENOENT, -EINVAL for a bad path, ...). */
int xs_server_write(struct xs_server *srv, const char *path,
		    const char *value);
/* *value_out is malloc'd and NUL-terminated. */
int xs_server_read(struct xs_server *srv, const char *path, char **value_out);
/* Recursive, like XS_RM. */
int xs_server_rm(struct xs_server *srv, const char *path);
/* *perms_out is malloc'd, entries separated by one space: "n0 r5". */
int xs_server_get_perms(struct xs_server *srv, const char *path,
			char **perms_out);

#endif /* XENSIM_XS_SERVER_H */
