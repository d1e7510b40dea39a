/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Node database of the simulated xenstored. See xs_tree.h for the
 * semantics; this file keeps them in three layers:
 *   map   - a string-keyed hash table of nodes (the global store, and each
 *           transaction's private copies);
 *   view  - "the node as this caller sees it": the global node, or the
 *           transaction's copy made at first access;
 *   ops   - READ, WRITE, MKDIR, RM, ... written once against the view.
 */
#include "xs_tree.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

/* Generation of a node that does not exist (xenstored's NO_GENERATION). */
#define NO_GEN UINT64_MAX

#define MAP_MIN_BUCKETS 64u

struct xs_node {
	struct xs_node *hnext; /* hash chain */
	struct xs_node *onext; /* transaction copies, in first-access order */
	char *path;
	uint64_t gen;
	struct xs_perm *perms;
	uint32_t nperms;
	uint32_t len;
	char *data;
	uint32_t childlen;
	char *children; /* NUL-terminated names back to back */

	/* Transaction copies only. */
	uint64_t first_gen; /* generation when first accessed, for commit */
	bool present;	    /* the node exists as the transaction sees it */
	bool modified;
	bool fire;	    /* fire a watch event at commit ... */
	bool exact;	    /* ... matching only watches on this path */
};

struct xs_map {
	struct xs_node **bucket;
	uint32_t nbuckets; /* a power of two */
	uint32_t count;
};

struct xs_txn {
	struct xs_map map;
	struct xs_node *first;
	struct xs_node **tail;
};

struct xs_tree {
	struct xs_map map;
	uint64_t generation;
	xs_tree_event_fn *event;
	void *opaque;
};

/* ---- nodes ---- */

/* A copy of len bytes, never NULL unless out of memory (even for 0). */
static void *memdup(const void *src, size_t len)
{
	void *p = malloc(len ? len : 1);

	if (p && len)
		memcpy(p, src, len);
	return p;
}

static struct xs_node *node_new(const char *path)
{
	struct xs_node *node = calloc(1, sizeof(*node));

	if (!node)
		return NULL;
	node->path = strdup(path);
	if (!node->path) {
		free(node);
		return NULL;
	}
	node->gen = NO_GEN;
	node->first_gen = NO_GEN;
	return node;
}

static void node_clear(struct xs_node *node)
{
	free(node->perms);
	free(node->data);
	free(node->children);
	node->perms = NULL;
	node->data = NULL;
	node->children = NULL;
	node->nperms = node->len = node->childlen = 0;
}

static void node_free(struct xs_node *node)
{
	if (!node)
		return;
	node_clear(node);
	free(node->path);
	free(node);
}

static int node_set_perms(struct xs_node *node, const struct xs_perm *perms,
			  uint32_t n)
{
	struct xs_perm *p = memdup(perms, n * sizeof(*perms));

	if (!p)
		return -ENOMEM;
	free(node->perms);
	node->perms = p;
	node->nperms = n;
	return 0;
}

/* Copy value, children and permissions (not the path or generation). */
static int node_copy(struct xs_node *dst, const struct xs_node *src)
{
	struct xs_node tmp = {
		.perms = memdup(src->perms, src->nperms * sizeof(*src->perms)),
		.data = memdup(src->data, src->len),
		.children = memdup(src->children, src->childlen),
	};

	if (!tmp.perms || !tmp.data || !tmp.children) {
		node_clear(&tmp);
		return -ENOMEM;
	}
	node_clear(dst);
	dst->perms = tmp.perms;
	dst->nperms = src->nperms;
	dst->data = tmp.data;
	dst->len = src->len;
	dst->children = tmp.children;
	dst->childlen = src->childlen;
	return 0;
}

/* Move the contents of src into dst, leaving src empty. */
static void node_move(struct xs_node *dst, struct xs_node *src)
{
	node_clear(dst);
	dst->perms = src->perms;
	dst->nperms = src->nperms;
	dst->data = src->data;
	dst->len = src->len;
	dst->children = src->children;
	dst->childlen = src->childlen;
	src->perms = NULL;
	src->data = NULL;
	src->children = NULL;
	src->nperms = src->len = src->childlen = 0;
}

static int child_add(struct xs_node *node, const char *name)
{
	size_t n = strlen(name) + 1;
	char *c = realloc(node->children, node->childlen + n);

	if (!c)
		return -ENOMEM;
	memcpy(c + node->childlen, name, n);
	node->children = c;
	node->childlen += n;
	return 0;
}

static void child_del(struct xs_node *node, const char *name)
{
	uint32_t off, n;

	for (off = 0; off < node->childlen; off += n) {
		n = strlen(node->children + off) + 1;
		if (!strcmp(node->children + off, name)) {
			memmove(node->children + off, node->children + off + n,
				node->childlen - off - n);
			node->childlen -= n;
			return;
		}
	}
}

/* ---- paths ---- */

bool xs_path_valid(const char *path)
{
	size_t len = strlen(path);

	if (path[0] != '/' || len > XENSTORE_ABS_PATH_MAX)
		return false;
	if (len > 1 && path[len - 1] == '/')
		return false;
	if (strstr(path, "//"))
		return false;
	return strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz"
			    "0123456789-/_@") == len;
}

bool xs_path_is_child(const char *child, const char *parent)
{
	size_t len = strlen(parent);

	if (!strcmp(parent, "/"))
		return true;
	return !strncmp(child, parent, len) &&
	       (child[len] == '/' || child[len] == '\0');
}

static const char *path_base(const char *path)
{
	return strrchr(path, '/') + 1;
}

/* Parent of a valid path other than "/". */
static char *path_parent(const char *path)
{
	size_t n = (size_t)(strrchr(path, '/') - path);

	return n ? strndup(path, n) : strdup("/");
}

static char *path_child(const char *parent, const char *name)
{
	size_t lp = strcmp(parent, "/") ? strlen(parent) : 0;
	size_t ln = strlen(name);
	char *p = malloc(lp + 1 + ln + 1);

	if (!p)
		return NULL;
	memcpy(p, parent, lp);
	p[lp] = '/';
	memcpy(p + lp + 1, name, ln + 1);
	return p;
}

/* ---- map ---- */

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static int map_init(struct xs_map *map)
{
	map->bucket = calloc(MAP_MIN_BUCKETS, sizeof(*map->bucket));
	if (!map->bucket)
		return -ENOMEM;
	map->nbuckets = MAP_MIN_BUCKETS;
	map->count = 0;
	return 0;
}

static void map_destroy(struct xs_map *map)
{
	struct xs_node *node, *next;
	uint32_t i;

	for (i = 0; map->bucket && i < map->nbuckets; i++) {
		for (node = map->bucket[i]; node; node = next) {
			next = node->hnext;
			node_free(node);
		}
	}
	free(map->bucket);
	map->bucket = NULL;
}

static struct xs_node *map_find(const struct xs_map *map, const char *path)
{
	struct xs_node *node = map->bucket[hash_str(path) & (map->nbuckets - 1)];

	while (node && strcmp(node->path, path))
		node = node->hnext;
	return node;
}

static void map_grow(struct xs_map *map)
{
	uint32_t n = map->nbuckets * 2, i;
	struct xs_node **b = calloc(n, sizeof(*b));
	struct xs_node *node, *next;

	/* Without memory, chains just get longer. */
	if (!b)
		return;
	for (i = 0; i < map->nbuckets; i++) {
		for (node = map->bucket[i]; node; node = next) {
			next = node->hnext;
			node->hnext = b[hash_str(node->path) & (n - 1)];
			b[hash_str(node->path) & (n - 1)] = node;
		}
	}
	free(map->bucket);
	map->bucket = b;
	map->nbuckets = n;
}

static void map_insert(struct xs_map *map, struct xs_node *node)
{
	struct xs_node **head;

	if (map->count >= map->nbuckets * 2 && map->nbuckets < (1u << 24))
		map_grow(map);
	head = &map->bucket[hash_str(node->path) & (map->nbuckets - 1)];
	node->hnext = *head;
	*head = node;
	map->count++;
}

static void map_remove(struct xs_map *map, struct xs_node *node)
{
	struct xs_node **p = &map->bucket[hash_str(node->path) &
					  (map->nbuckets - 1)];

	while (*p && *p != node)
		p = &(*p)->hnext;
	if (*p) {
		*p = node->hnext;
		map->count--;
	}
}

/* ---- view: the store as the caller (in a transaction or not) sees it ---- */

/* *out is NULL when the node does not exist. Inside a transaction the
 * first access copies the node and remembers its generation, so later
 * reads are repeatable and commit can detect changes by others. */
static int view_get(struct xs_tree *t, struct xs_txn *tx, const char *path,
		    struct xs_node **out)
{
	struct xs_node *g = map_find(&t->map, path);
	struct xs_node *e;

	*out = NULL;
	if (!tx) {
		*out = g;
		return 0;
	}
	e = map_find(&tx->map, path);
	if (!e) {
		e = node_new(path);
		if (!e || (g && node_copy(e, g))) {
			node_free(e);
			return -ENOMEM;
		}
		e->present = g != NULL;
		e->first_gen = e->gen = g ? g->gen : NO_GEN;
		map_insert(&tx->map, e);
		*tx->tail = e;
		tx->tail = &e->onext;
	}
	if (e->present)
		*out = e;
	return 0;
}

static void view_changed(struct xs_tree *t, struct xs_txn *tx,
			 struct xs_node *node)
{
	node->gen = ++t->generation;
	if (tx)
		node->modified = true;
}

/* Create an empty node with the parent's permissions, as construct_node()
 * does. The caller has found the node absent with view_get(). */
static int view_create(struct xs_tree *t, struct xs_txn *tx, const char *path,
		       const struct xs_node *parent, struct xs_node **out)
{
	struct xs_node *node;

	if (tx) {
		/* Make sure the transaction has its copy of the absent node. */
		if (view_get(t, tx, path, &node))
			return -ENOMEM;
		node = map_find(&tx->map, path);
		if (node_set_perms(node, parent->perms, parent->nperms))
			return -ENOMEM;
		node->present = true;
	} else {
		node = node_new(path);
		if (!node || node_set_perms(node, parent->perms, parent->nperms)) {
			node_free(node);
			return -ENOMEM;
		}
		map_insert(&t->map, node);
	}
	view_changed(t, tx, node);
	*out = node;
	return 0;
}

static void view_remove(struct xs_tree *t, struct xs_txn *tx,
			struct xs_node *node)
{
	if (tx) {
		node_clear(node);
		node->present = false;
		node->modified = true;
		node->gen = NO_GEN;
		return;
	}
	map_remove(&t->map, node);
	node_free(node);
}

/* Inside a transaction, remember the event for commit; one event per node,
 * and a non-exact one wins over an exact one (queue_watches()). */
static void view_event(struct xs_tree *t, struct xs_txn *tx, const char *path,
		       bool exact)
{
	struct xs_node *e;

	if (!tx) {
		if (t->event)
			t->event(t->opaque, path, exact);
		return;
	}
	e = map_find(&tx->map, path);
	if (!e)
		return;
	if (!e->fire) {
		e->fire = true;
		e->exact = exact;
	} else if (!exact) {
		e->exact = false;
	}
}

/* Get the node at path[0..n), or at "/" when n is 0. */
static int view_get_prefix(struct xs_tree *t, struct xs_txn *tx, char *path,
			   size_t n, struct xs_node **out)
{
	char c = path[n];
	int rc;

	if (!n)
		return view_get(t, tx, "/", out);
	path[n] = '\0';
	rc = view_get(t, tx, path, out);
	path[n] = c;
	return rc;
}

/* ---- operations ---- */

/* Create path and its missing parents (the node itself is absent). */
static int create_node(struct xs_tree *t, struct xs_txn *tx, const char *path,
		       struct xs_node **out)
{
	char *buf = strdup(path);
	size_t len = strlen(path), end = len, p, q;
	struct xs_node *parent = NULL, *node;
	char c;
	int rc;

	if (!buf)
		return -ENOMEM;
	/* Walk up to the nearest existing ancestor; "/" always exists.
	 * buf[0..end) is the shallowest missing node found so far. */
	for (;;) {
		p = end;
		while (buf[--p] != '/')
			;
		rc = view_get_prefix(t, tx, buf, p, &parent);
		if (rc)
			goto out;
		if (parent)
			break;
		end = p;
	}
	/* Walk down creating each missing level; buf[p] is the '/' before
	 * the next missing component. */
	while (p < len) {
		for (q = p + 1; q < len && buf[q] != '/'; q++)
			;
		c = buf[q];
		buf[q] = '\0';
		rc = view_create(t, tx, buf, parent, &node);
		if (!rc) {
			rc = child_add(parent, buf + p + 1);
			if (rc)
				view_remove(t, tx, node);
		}
		buf[q] = c;
		if (rc)
			goto out;
		view_changed(t, tx, parent);
		parent = node;
		p = q;
	}
	*out = parent;
out:
	free(buf);
	return rc;
}

static int get_existing(struct xs_tree *t, struct xs_txn *tx, const char *path,
			struct xs_node **out)
{
	int rc;

	if (!xs_path_valid(path))
		return -EINVAL;
	rc = view_get(t, tx, path, out);
	if (!rc && !*out)
		rc = -ENOENT;
	return rc;
}

int xs_tree_read(struct xs_tree *t, struct xs_txn *tx, const char *path,
		 char **value, uint32_t *len)
{
	struct xs_node *node;
	char *v;
	int rc = get_existing(t, tx, path, &node);

	if (rc)
		return rc;
	/* One spare byte so that callers may NUL-terminate. */
	v = malloc(node->len + 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, node->data ? node->data : "", node->len);
	v[node->len] = '\0';
	*value = v;
	*len = node->len;
	return 0;
}

int xs_tree_write(struct xs_tree *t, struct xs_txn *tx, const char *path,
		  const void *value, uint32_t len)
{
	struct xs_node *node;
	char *data;
	int rc;

	if (!xs_path_valid(path))
		return -EINVAL;
	rc = view_get(t, tx, path, &node);
	if (!rc && !node)
		rc = create_node(t, tx, path, &node);
	if (rc)
		return rc;
	data = memdup(value, len);
	if (!data)
		return -ENOMEM;
	free(node->data);
	node->data = data;
	node->len = len;
	view_changed(t, tx, node);
	view_event(t, tx, path, false);
	return 0;
}

int xs_tree_mkdir(struct xs_tree *t, struct xs_txn *tx, const char *path)
{
	struct xs_node *node;
	int rc;

	if (!xs_path_valid(path))
		return -EINVAL;
	rc = view_get(t, tx, path, &node);
	/* An existing node is left alone, without an event. */
	if (rc || node)
		return rc;
	rc = create_node(t, tx, path, &node);
	if (!rc)
		view_event(t, tx, path, false);
	return rc;
}

/* Remove node and its children, deepest first; the top node's event
 * matches parents' watches, the others only exact ones (delnode_sub()). */
static int rm_subtree(struct xs_tree *t, struct xs_txn *tx,
		      struct xs_node *node, const char *top)
{
	struct xs_node *child;
	uint32_t off;
	char *cpath;
	int rc;

	for (off = 0; off < node->childlen;
	     off += strlen(node->children + off) + 1) {
		cpath = path_child(node->path, node->children + off);
		if (!cpath)
			return -ENOMEM;
		rc = view_get(t, tx, cpath, &child);
		free(cpath);
		if (!rc && child)
			rc = rm_subtree(t, tx, child, top);
		if (rc)
			return rc;
	}
	view_event(t, tx, node->path, strcmp(node->path, top) != 0);
	view_remove(t, tx, node);
	return 0;
}

/* Remove an existing node other than "/" and unlink it from its parent. */
static int rm_node(struct xs_tree *t, struct xs_txn *tx, struct xs_node *node)
{
	char *top = strdup(node->path);
	char *ppath = path_parent(node->path);
	struct xs_node *parent = NULL;
	int rc = -ENOMEM;

	if (!top || !ppath)
		goto out;
	rc = view_get(t, tx, ppath, &parent);
	if (!rc && !parent)
		rc = -EINVAL;
	if (!rc)
		rc = rm_subtree(t, tx, node, top);
	if (!rc) {
		child_del(parent, path_base(top));
		view_changed(t, tx, parent);
	}
out:
	free(ppath);
	free(top);
	return rc;
}

int xs_tree_rm(struct xs_tree *t, struct xs_txn *tx, const char *path)
{
	struct xs_node *node, *parent;
	char *ppath;
	int rc = get_existing(t, tx, path, &node);

	if (rc == -ENOENT) {
		/* Not there: fine if the parent is (do_rm()). */
		ppath = path_parent(path);
		if (!ppath)
			return -ENOMEM;
		rc = view_get(t, tx, ppath, &parent);
		free(ppath);
		if (!rc && !parent)
			rc = -ENOENT;
		return rc;
	}
	if (rc)
		return rc;
	if (!strcmp(path, "/"))
		return -EINVAL;
	return rm_node(t, tx, node);
}

int xs_tree_directory(struct xs_tree *t, struct xs_txn *tx, const char *path,
		      char **names, uint32_t *len, uint64_t *generation)
{
	struct xs_node *node;
	int rc = get_existing(t, tx, path, &node);

	if (rc)
		return rc;
	*names = memdup(node->children, node->childlen);
	if (!*names)
		return -ENOMEM;
	*len = node->childlen;
	*generation = node->gen;
	return 0;
}

int xs_tree_get_perms(struct xs_tree *t, struct xs_txn *tx, const char *path,
		      struct xs_perm **perms, uint32_t *n)
{
	struct xs_node *node;
	int rc = get_existing(t, tx, path, &node);

	if (rc)
		return rc;
	*perms = memdup(node->perms, node->nperms * sizeof(**perms));
	if (!*perms)
		return -ENOMEM;
	*n = node->nperms;
	return 0;
}

int xs_tree_set_perms(struct xs_tree *t, struct xs_txn *tx, const char *path,
		      const struct xs_perm *perms, uint32_t n)
{
	struct xs_node *node;
	int rc;

	if (!n || n > XS_TREE_MAX_PERMS)
		return -EINVAL;
	rc = get_existing(t, tx, path, &node);
	if (!rc)
		rc = node_set_perms(node, perms, n);
	if (rc)
		return rc;
	view_changed(t, tx, node);
	view_event(t, tx, path, false);
	return 0;
}

static void rm_owned_below(struct xs_tree *t, struct xs_node *node,
			   uint32_t domid)
{
	struct xs_node *child;
	uint32_t off, len = node->childlen;
	char *names, *cpath;

	/* Removing children edits node's child list: walk a copy. */
	names = memdup(node->children, len);
	if (!names)
		return;
	for (off = 0; off < len; off += strlen(names + off) + 1) {
		cpath = path_child(node->path, names + off);
		child = cpath ? map_find(&t->map, cpath) : NULL;
		free(cpath);
		if (!child)
			continue;
		if (child->nperms && child->perms[0].id == domid)
			rm_node(t, NULL, child);
		else
			rm_owned_below(t, child, domid);
	}
	free(names);
}

void xs_tree_rm_owned_by(struct xs_tree *t, uint32_t domid)
{
	struct xs_node *root = map_find(&t->map, "/");

	if (root)
		rm_owned_below(t, root, domid);
}

/* ---- transactions ---- */

int xs_tree_txn_start(struct xs_tree *t, struct xs_txn **out)
{
	struct xs_txn *tx = calloc(1, sizeof(*tx));

	(void)t;
	if (!tx || map_init(&tx->map)) {
		free(tx);
		return -ENOMEM;
	}
	tx->tail = &tx->first;
	*out = tx;
	return 0;
}

static int txn_commit(struct xs_tree *t, struct xs_txn *tx)
{
	struct xs_node *e, *g;

	/* Everything the transaction touched must be as it found it. */
	for (e = tx->first; e; e = e->onext) {
		g = map_find(&t->map, e->path);
		if ((g ? g->gen : NO_GEN) != e->first_gen)
			return -EAGAIN;
	}
	for (e = tx->first; e; e = e->onext) {
		if (!e->modified)
			continue;
		g = map_find(&t->map, e->path);
		if (e->present) {
			if (!g) {
				g = node_new(e->path);
				if (!g)
					return -ENOMEM;
				map_insert(&t->map, g);
			}
			node_move(g, e);
			g->gen = ++t->generation;
		} else if (g) {
			map_remove(&t->map, g);
			node_free(g);
		}
	}
	for (e = tx->first; e; e = e->onext) {
		if (e->fire && t->event)
			t->event(t->opaque, e->path, e->exact);
	}
	return 0;
}

int xs_tree_txn_end(struct xs_tree *t, struct xs_txn *tx, bool commit)
{
	int rc = commit ? txn_commit(t, tx) : 0;

	map_destroy(&tx->map);
	free(tx);
	return rc;
}

/* ---- tree ---- */

int xs_tree_new(xs_tree_event_fn *event, void *opaque, struct xs_tree **out)
{
	static const struct xs_perm root_perm = { .id = 0, .mode = 'n' };
	struct xs_tree *t = calloc(1, sizeof(*t));
	struct xs_node *root = NULL;

	if (!t || map_init(&t->map))
		goto err;
	t->event = event;
	t->opaque = opaque;
	root = node_new("/");
	if (!root || node_set_perms(root, &root_perm, 1))
		goto err;
	root->gen = ++t->generation;
	map_insert(&t->map, root);
	*out = t;
	return 0;
err:
	node_free(root);
	xs_tree_free(t);
	return -ENOMEM;
}

void xs_tree_free(struct xs_tree *t)
{
	if (!t)
		return;
	map_destroy(&t->map);
	free(t);
}

/* ---- permissions in wire format ---- */

int xs_perms_parse(const char *buf, uint32_t len, struct xs_perm **perms,
		   uint32_t *n)
{
	const char *s, *nul, *end = buf + len;
	struct xs_perm *p;
	uint32_t count = 0, i;
	unsigned long id;
	char *e;

	for (s = buf; s < end && (nul = memchr(s, '\0', end - s)); s = nul + 1)
		count++;
	if (!count || count > XS_TREE_MAX_PERMS)
		return -EINVAL;
	p = calloc(count, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (s = buf, i = 0; i < count; s += strlen(s) + 1, i++) {
		if (!strchr("nrwb", s[0]) || !s[0] ||
		    !isdigit((unsigned char)s[1]))
			goto inval;
		errno = 0;
		id = strtoul(s + 1, &e, 0);
		/* Domain ids are 16 bits wide on the wire to Xen. */
		if (*e || errno || id > UINT16_MAX)
			goto inval;
		p[i] = (struct xs_perm){ .id = (uint32_t)id, .mode = s[0] };
	}
	*perms = p;
	*n = count;
	return 0;
inval:
	free(p);
	return -EINVAL;
}

int xs_perms_format(const struct xs_perm *perms, uint32_t n, char **strings,
		    uint32_t *len)
{
	/* 'b' + 10 digits + NUL per entry. */
	char *s = malloc((size_t)n * 12 + 1);
	uint32_t i, off = 0;

	if (!s)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		off += (uint32_t)sprintf(s + off, "%c%u", perms[i].mode,
					 perms[i].id) + 1;
	*strings = s;
	*len = off;
	return 0;
}
