/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xs_tree: the node database of the simulated xenstored, with the
 * semantics of Xen 4.17's C xenstored (tools/xenstore/xenstored_core.c,
 * xenstored_transaction.c), but no protocol and no connections.
 *
 * - Nodes are stored flat, keyed by absolute path, each with a value, an
 *   ordered child list and permissions; every change stamps the node with a
 *   new generation from one global counter.
 * - WRITE and MKDIR create missing parents; new nodes inherit the
 *   permissions of their parent. RM is recursive.
 * - A transaction keeps a private copy of every node it touches, taken at
 *   first access, together with that node's generation (or "absent").
 *   Commit fails with -EAGAIN when any touched node's generation changed
 *   meanwhile, else copies the modified nodes into the global store.
 * - Watch events are reported through a callback: immediately for changes
 *   outside transactions, at commit for changes inside one. "exact" events
 *   (children removed by a recursive RM) only match watches on that very
 *   path; the others also match watches on every parent.
 *
 * Paths given to these functions must be canonical absolute paths;
 * anything else fails with -EINVAL. Not thread-safe: the caller locks.
 */
#ifndef XENSIM_XS_TREE_H
#define XENSIM_XS_TREE_H

#include <stdbool.h>
#include <stdint.h>

/* Permission of one domain on a node; the first entry names the owner
 * and, by its mode, what every domain not listed may do. */
struct xs_perm {
	uint32_t id;
	char mode; /* 'n' none, 'r' read, 'w' write, 'b' both */
};

/* At most this many permission entries per node (dom0 is not limited by
 * xenstored's quota of 5; this only bounds memory). */
#define XS_TREE_MAX_PERMS 256u

struct xs_tree;
struct xs_txn;

typedef void xs_tree_event_fn(void *opaque, const char *path, bool exact);

/* The new tree holds "/" owned by dom0 with no access for others. */
int xs_tree_new(xs_tree_event_fn *event, void *opaque, struct xs_tree **out);
void xs_tree_free(struct xs_tree *tree);

/* Path syntax as xenstored checks it: starts with '/', no "//", no
 * trailing '/' (except "/"), at most XENSTORE_ABS_PATH_MAX bytes, only
 * [A-Za-z0-9-/_@]. */
bool xs_path_valid(const char *path);
/* True when child is parent or below it; everything is below "/". */
bool xs_path_is_child(const char *child, const char *parent);

int xs_tree_txn_start(struct xs_tree *tree, struct xs_txn **out);
/* Commits (or discards) and frees the transaction in every case.
 * -EAGAIN: a node it read or wrote was changed by someone else. */
int xs_tree_txn_end(struct xs_tree *tree, struct xs_txn *txn, bool commit);

/* txn may be NULL in all of these. Output buffers are malloc'd. */
int xs_tree_read(struct xs_tree *tree, struct xs_txn *txn, const char *path,
		 char **value, uint32_t *len);
int xs_tree_write(struct xs_tree *tree, struct xs_txn *txn, const char *path,
		  const void *value, uint32_t len);
int xs_tree_mkdir(struct xs_tree *tree, struct xs_txn *txn, const char *path);
/* Absent node: 0 if its parent exists, else -ENOENT. "/": -EINVAL. */
int xs_tree_rm(struct xs_tree *tree, struct xs_txn *txn, const char *path);
/* Children as NUL-terminated names back to back, and the generation. */
int xs_tree_directory(struct xs_tree *tree, struct xs_txn *txn,
		      const char *path, char **names, uint32_t *len,
		      uint64_t *generation);
int xs_tree_get_perms(struct xs_tree *tree, struct xs_txn *txn,
		      const char *path, struct xs_perm **perms, uint32_t *n);
int xs_tree_set_perms(struct xs_tree *tree, struct xs_txn *txn,
		      const char *path, const struct xs_perm *perms,
		      uint32_t n);

/* What xenstored 4.17 does when a domain dies (domain_tree_remove, unless
 * started with --keep-orphans): remove every node that domain owns, with
 * its children, firing the usual RM events. Outside any transaction. */
void xs_tree_rm_owned_by(struct xs_tree *tree, uint32_t domid);

/* Wire format of permissions: "n0\0r5\0" (libxenstore's
 * xenstore_strings_to_perms / xenstore_perm_to_string). Parsing takes every
 * NUL-terminated string in buf[0..len) and ignores a trailing partial one,
 * as xenstored's get_strings() does. */
int xs_perms_parse(const char *buf, uint32_t len, struct xs_perm **perms,
		   uint32_t *n);
int xs_perms_format(const struct xs_perm *perms, uint32_t n, char **strings,
		    uint32_t *len);

#endif /* XENSIM_XS_TREE_H */
