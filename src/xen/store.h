/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's xenstore connection (xen-interfaces.md §5): watches on
 * backend/virtio_disk, backend/virtio, @introduceDomain and @releaseDomain,
 * the scan of the backend directories, backend state writes, domain
 * liveness and guest names (/local/domain/<id>/name). The
 * xenstore fd is a loop watch: every batch of watch events is drained and
 * reported once (on_event), so the owner reconciles once per batch, as
 * Xen's 9pfsd does. Values are parsed by store_parse.h.
 */
#ifndef XVB_STORE_H
#define XVB_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "../loop.h"
#include "store_parse.h"

/* XenbusState values the daemon writes or reads (xen/io/xenbus.h). */
enum {
	STORE_STATE_INITIALISING = 1,
	STORE_STATE_INITWAIT = 2,
	STORE_STATE_CLOSING = 5,
	STORE_STATE_CLOSED = 6,
};

struct store;

/*
 * Connect (xs_open), learn the own domid (the "domid" node; 0 if absent),
 * watch the three paths, and call on_event(ctx) from the loop after each
 * batch of watch events (the first batch comes at once: xenstore fires
 * each new watch). Logs what failed.
 */
int store_open(struct loop *loop, void (*on_event)(void *ctx), void *ctx, struct store **out);
void store_close(struct store *s); /* NULL-tolerant */
uint16_t store_self_domid(const struct store *s);

/* Node values of one device directory; free with store_nodes_free(). */
struct store_nodes_buf {
	struct store_nodes n;
	char *owned[12];
};
void store_nodes_free(struct store_nodes_buf *b);

/*
 * Visit each <fe>/<devid> directory under backend/<kind> with its online
 * and state nodes read (the rest NULL): cheap enough for every event.
 * Returns 0 (an absent backend/<kind> is empty) or -errno (logged).
 */
typedef void store_visit_fn(void *ctx, enum store_kind kind, const char *fe, const char *devid,
			    const struct store_nodes *n);
int store_scan(struct store *s, enum store_kind kind, store_visit_fn *visit, void *ctx);

/*
 * Read every node of one device directory (after store_scan saw it new).
 * Returns -EPERM when the directory is not owned by this backend domain:
 * only the toolstack's own nodes are trusted.
 */
int store_read_device(struct store *s, enum store_kind kind, const char *fe, const char *devid,
		      struct store_nodes_buf *out);

/*
 * Write the backend state, in a transaction and only if the device
 * directory still exists (the toolstack removes it; we never recreate or
 * remove it). 0, -ENOENT when gone, or -errno (logged).
 */
int store_set_state(struct store *s, enum store_kind kind, uint16_t domid, uint32_t devid,
		    unsigned state);

/* false once the domain is dead (xs_is_domain_introduced). */
bool store_domain_alive(struct store *s, uint16_t domid);

/* Longest guest name looked up, NUL included (longer names never match). */
#define STORE_NAME_MAX 64u

/*
 * dom<domid>'s name, as the toolstack wrote it in /local/domain/<domid>/name,
 * into buf (STORE_NAME_MAX bytes). -ENOENT when absent, too long, or not
 * the toolstack's (a node the guest owns is never trusted).
 */
int store_domain_name(struct store *s, uint16_t domid, char buf[STORE_NAME_MAX]);

/* One domain of the listing below. */
struct store_domain {
	uint16_t domid;
	char name[STORE_NAME_MAX];
};

/*
 * Every domain under /local/domain with a name (store_domain_name), in one
 * listing: *out is malloc'ed (free() it), *n entries; -errno (logged).
 */
int store_domains(struct store *s, struct store_domain **out, unsigned *n);

/*
 * For a per-guest launch, which has no store: connect, read dom<domid>'s
 * name as store_domain_name() does, disconnect. -errno; logs nothing.
 */
int store_lookup_domain_name(uint16_t domid, char buf[STORE_NAME_MAX]);

#endif
