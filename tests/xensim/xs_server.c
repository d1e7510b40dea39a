/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xs_server: the xenstore wire protocol on a Unix socket, over xs_tree.
 *
 * One thread polls the listening socket, an eventfd (to wake it when the
 * API changed something from another thread) and every client. One mutex
 * protects everything; the thread drops it only while in poll(). Replies
 * and watch events are queued per client and written without blocking, so
 * a client that stops reading stalls nobody else. Message handling mirrors
 * Xen 4.17's xenstored (xenstored_core.c, _watch.c, _domain.c), quoted by
 * function name where a rule comes from there.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* also built standalone, without the Makefile flags */
#endif
#include "xs_server.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "xs_tree.h"

/* From xen/xen.h, which needs the arch headers. */
#define DOMID_FIRST_RESERVED 0x7ff0u
#define DOMID_SELF 0x7ff0u

#define HDR_LEN ((uint32_t)sizeof(struct xsd_sockmsg))
#define DOM0_PATH "/local/domain/0"

/* Limits that keep a misbehaving client from exhausting the process;
 * xenstored has none of these for dom0 (its socket clients). */
#define MAX_CONNS 256u
#define MAX_WATCHES 1024u
#define MAX_TXNS 1024u
/* Stop reading requests from a client with this much unread output ... */
#define OUT_PAUSE_BYTES (1u << 20)
/* ... and drop it when watch events pile up beyond this. */
#define OUT_MAX_BYTES (16u << 20)
/* Requests handled per client per wakeup, for fairness. */
#define MSGS_PER_WAKEUP 64u

struct xs_msg {
	struct xs_msg *next;
	uint32_t size; /* header + payload */
	uint32_t sent;
	bool event;
	unsigned char buf[]; /* struct xsd_sockmsg, payload */
};

struct xs_watch {
	struct xs_watch *next;
	char *node; /* canonical path, or @special */
	char *token;
	bool relative; /* events drop the DOM0_PATH prefix */
};

struct xs_conn_txn {
	struct xs_conn_txn *next;
	uint32_t id;
	struct xs_txn *txn;
};

struct xs_conn {
	struct xs_conn *next;
	int fd;
	unsigned int num; /* names the client in the log */
	bool dead;
	struct xs_watch *watches;
	uint32_t nwatches;
	struct xs_conn_txn *txns;
	uint32_t ntxns;
	uint32_t next_txid;
	struct xs_msg *out, **out_tail;
	uint32_t out_bytes;
	uint32_t in_used;
	/* Header, payload and a NUL so handlers can use string functions. */
	unsigned char in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 1];
};

struct xs_server {
	pthread_mutex_t lock;
	pthread_t thread;
	bool thread_running;
	bool stop;
	bool bound;
	int listen_fd;
	int wake_fd;
	char *socket_path;
	FILE *log;
	struct xs_tree *tree;
	struct xs_conn *conns;
	unsigned int nconns;
	unsigned int conn_seq;
	uint8_t introduced[DOMID_FIRST_RESERVED / 8];
	/* SET_PERMS on @introduceDomain / @releaseDomain, kept to be
	 * returned to nobody: GET_PERMS refuses '@' paths as xenstored does. */
	struct xs_perm *special_perms[2];
};

struct xs_req {
	struct xsd_sockmsg hdr;
	char *body;
	uint32_t len;
	struct xs_conn_txn *ctxn; /* the request's transaction, or NULL */
};

/* ---- output ---- */

static void log_line(struct xs_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void log_line(struct xs_server *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->log)
		return;
	va_start(ap, fmt);
	fputs("xenstored-sim: ", s->log);
	vfprintf(s->log, fmt, ap);
	fputc('\n', s->log);
	fflush(s->log);
	va_end(ap);
}

static void queue_msg(struct xs_server *s, struct xs_conn *c, uint32_t type,
		      const struct xsd_sockmsg *req, const void *a,
		      uint32_t alen, const void *b, uint32_t blen)
{
	struct xsd_sockmsg hdr = {
		.type = type,
		.req_id = req ? req->req_id : 0,
		.tx_id = req ? req->tx_id : 0,
		.len = alen + blen,
	};
	struct xs_msg *m;

	if (c->dead)
		return;
	if (c->out_bytes + HDR_LEN + hdr.len > OUT_MAX_BYTES) {
		log_line(s, "conn%u does not read its replies; dropped", c->num);
		c->dead = true;
		return;
	}
	m = malloc(sizeof(*m) + HDR_LEN + hdr.len);
	if (!m) {
		c->dead = true;
		return;
	}
	*m = (struct xs_msg){ .size = HDR_LEN + hdr.len,
			      .event = type == XS_WATCH_EVENT };
	memcpy(m->buf, &hdr, HDR_LEN);
	if (alen)
		memcpy(m->buf + HDR_LEN, a, alen);
	if (blen)
		memcpy(m->buf + HDR_LEN + alen, b, blen);
	*c->out_tail = m;
	c->out_tail = &m->next;
	c->out_bytes += m->size;
}

static void reply(struct xs_server *s, struct xs_conn *c,
		  const struct xs_req *r, const void *data, uint32_t len);

static void reply_error(struct xs_server *s, struct xs_conn *c,
			const struct xs_req *r, int err)
{
	const char *name = "EINVAL"; /* untranslatable, as in send_error() */
	size_t i;

	for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) {
		if (xsd_errors[i].errnum == err)
			name = xsd_errors[i].errstring;
	}
	log_line(s, "conn%u   -> %s", c->num, name);
	queue_msg(s, c, XS_ERROR, &r->hdr, name, (uint32_t)strlen(name) + 1,
		  NULL, 0);
}

static void reply(struct xs_server *s, struct xs_conn *c,
		  const struct xs_req *r, const void *data, uint32_t len)
{
	if (len > XENSTORE_PAYLOAD_MAX)
		reply_error(s, c, r, E2BIG);
	else
		queue_msg(s, c, r->hdr.type, &r->hdr, data, len, NULL, 0);
}

static int ack(struct xs_server *s, struct xs_conn *c, const struct xs_req *r)
{
	reply(s, c, r, "OK", sizeof("OK"));
	return 0;
}

static void queue_event(struct xs_server *s, struct xs_conn *c,
			const struct xs_watch *w, const char *path)
{
	uint32_t plen, tlen = (uint32_t)strlen(w->token) + 1;
	struct xs_msg *m;

	if (w->relative) {
		path += strlen(DOM0_PATH);
		if (*path == '/')
			path++;
	}
	plen = (uint32_t)strlen(path) + 1;
	if (plen + tlen > XENSTORE_PAYLOAD_MAX)
		return;
	/* xenstored drops an event identical to one still queued. */
	for (m = c->out; path[0] != '@' && m; m = m->next) {
		if (m->event && !m->sent && m->size == HDR_LEN + plen + tlen &&
		    !memcmp(m->buf + HDR_LEN, path, plen) &&
		    !memcmp(m->buf + HDR_LEN + plen, w->token, tlen))
			return;
	}
	queue_msg(s, c, XS_WATCH_EVENT, NULL, path, plen, w->token, tlen);
}

/* Special events (@...) match only watches on that name (xenstored fires
 * them "exact"); others match watches on the path and on its parents. */
static void fire_watches(struct xs_server *s, const char *path, bool exact)
{
	struct xs_conn *c;
	struct xs_watch *w;

	if (path[0] == '@')
		exact = true;
	for (c = s->conns; c; c = c->next) {
		for (w = c->watches; w && !c->dead; w = w->next) {
			if (exact ? !strcmp(path, w->node)
				  : xs_path_is_child(path, w->node))
				queue_event(s, c, w, path);
		}
	}
}

static void tree_event(void *opaque, const char *path, bool exact)
{
	fire_watches(opaque, path, exact);
}

/* ---- domains ---- */

static bool is_introduced(const struct xs_server *s, uint32_t domid)
{
	return domid < DOMID_FIRST_RESERVED &&
	       (s->introduced[domid / 8] & (1u << (domid % 8)));
}

static void set_introduced(struct xs_server *s, uint32_t domid, bool on)
{
	if (on)
		s->introduced[domid / 8] |= (uint8_t)(1u << (domid % 8));
	else
		s->introduced[domid / 8] &= (uint8_t)~(1u << (domid % 8));
}

static void domain_introduce(struct xs_server *s, uint32_t domid)
{
	if (is_introduced(s, domid))
		return;
	set_introduced(s, domid, true);
	fire_watches(s, "@introduceDomain", true);
}

/* As destroy_domain(): orphaned nodes go first, then @releaseDomain. */
static void domain_release(struct xs_server *s, uint32_t domid)
{
	set_introduced(s, domid, false);
	xs_tree_rm_owned_by(s->tree, domid);
	fire_watches(s, "@releaseDomain", true);
}

/* ---- request helpers ---- */

/* The payload is exactly one string (xenstored's onearg()). */
static const char *onearg(const struct xs_req *r)
{
	if (!r->len || memchr(r->body, '\0', r->len) != r->body + r->len - 1)
		return NULL;
	return r->body;
}

/* Number of NUL-terminated strings, as xenstored's get_strings(). */
static uint32_t count_strings(const struct xs_req *r)
{
	uint32_t i, n = 0;

	for (i = 0; i < r->len; i++)
		n += r->body[i] == '\0';
	return n;
}

static const char *next_string(const char *s)
{
	return s + strlen(s) + 1;
}

/* Relative paths are below the caller's home, /local/domain/0 for every
 * socket client (canonicalize(), get_implicit_path()). */
static char *canonical(const char *path)
{
	char *p;

	if (path[0] == '/' || path[0] == '@')
		return strdup(path);
	if (asprintf(&p, DOM0_PATH "/%s", path) < 0)
		return NULL;
	return p;
}

static unsigned int arg_domid(const char *s)
{
	/* atoi() in xenstored: garbage reads as 0, no error. */
	return (unsigned int)strtoul(s, NULL, 10);
}

static struct xs_txn *req_txn(const struct xs_req *r)
{
	return r->ctxn ? r->ctxn->txn : NULL;
}

/* ---- handlers: 0 after replying, or -errno for an error reply ---- */

typedef int xs_handler_fn(struct xs_server *s, struct xs_conn *c,
			  struct xs_req *r);

/* The canonical form of a path argument (NULL: malformed request). */
static int path_arg(const char *arg, char **path)
{
	*path = NULL;
	if (!arg)
		return -EINVAL;
	*path = canonical(arg);
	return *path ? 0 : -ENOMEM;
}

static int do_read(struct xs_server *s, struct xs_conn *c, struct xs_req *r)
{
	char *path, *value = NULL;
	uint32_t len;
	int rc = path_arg(onearg(r), &path);

	if (!rc)
		rc = xs_tree_read(s->tree, req_txn(r), path, &value, &len);
	if (!rc)
		reply(s, c, r, value, len);
	free(value);
	free(path);
	return rc;
}

static int do_write(struct xs_server *s, struct xs_conn *c, struct xs_req *r)
{
	const char *value;
	char *path;
	int rc;

	/* Path, then the value, which may hold NULs or be empty. */
	if (!count_strings(r))
		return -EINVAL;
	value = next_string(r->body);
	rc = path_arg(r->body, &path);
	if (!rc)
		rc = xs_tree_write(s->tree, req_txn(r), path, value,
				   (uint32_t)(r->body + r->len - value));
	free(path);
	return rc ? rc : ack(s, c, r);
}

static int do_mkdir(struct xs_server *s, struct xs_conn *c, struct xs_req *r)
{
	char *path;
	int rc = path_arg(onearg(r), &path);

	if (!rc)
		rc = xs_tree_mkdir(s->tree, req_txn(r), path);
	free(path);
	return rc ? rc : ack(s, c, r);
}

static int do_rm(struct xs_server *s, struct xs_conn *c, struct xs_req *r)
{
	char *path;
	int rc = path_arg(onearg(r), &path);

	if (!rc)
		rc = xs_tree_rm(s->tree, req_txn(r), path);
	free(path);
	return rc ? rc : ack(s, c, r);
}

static int do_directory(struct xs_server *s, struct xs_conn *c,
			struct xs_req *r)
{
	char *path, *names = NULL;
	uint32_t len;
	uint64_t gen;
	int rc = path_arg(onearg(r), &path);

	/* Too long for one reply: E2BIG, and libxenstore 4.17 falls back to
	 * DIRECTORY_PART. */
	if (!rc)
		rc = xs_tree_directory(s->tree, req_txn(r), path, &names, &len,
				       &gen);
	if (!rc)
		reply(s, c, r, names, len);
	free(names);
	free(path);
	return rc;
}

/* Reply: generation, NUL, as many whole names from offset as fit, and an
 * extra NUL once the list is complete (send_directory_part()). */
static int do_directory_part(struct xs_server *s, struct xs_conn *c,
			     struct xs_req *r)
{
	char *path = NULL, *names = NULL, *data = NULL;
	uint32_t len, off, n = 0, genlen, max;
	char gen[24];
	uint64_t g;
	int rc;

	if (count_strings(r) != 2)
		return -EINVAL;
	rc = path_arg(r->body, &path);
	if (!rc)
		rc = xs_tree_directory(s->tree, req_txn(r), path, &names, &len,
				       &g);
	if (rc)
		goto out;
	off = (uint32_t)strtoul(next_string(r->body), NULL, 10);
	genlen = (uint32_t)snprintf(gen, sizeof(gen), "%" PRIu64, g) + 1;
	max = XENSTORE_PAYLOAD_MAX - genlen - 1;
	if (off < len) {
		while (n + strlen(names + off + n) < max) {
			n += (uint32_t)strlen(names + off + n) + 1;
			if (off + n == len)
				break;
		}
	}
	data = malloc(genlen + n + 1);
	if (!data) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(data, gen, genlen);
	if (n)
		memcpy(data + genlen, names + off, n);
	data[genlen + n] = '\0';
	reply(s, c, r, data, genlen + n + (off + n >= len));
out:
	free(data);
	free(names);
	free(path);
	return rc;
}

static int do_get_perms(struct xs_server *s, struct xs_conn *c,
			struct xs_req *r)
{
	struct xs_perm *perms = NULL;
	char *path, *text = NULL;
	uint32_t n, len;
	int rc = path_arg(onearg(r), &path);

	if (!rc)
		rc = xs_tree_get_perms(s->tree, req_txn(r), path, &perms, &n);
	if (!rc)
		rc = xs_perms_format(perms, n, &text, &len);
	if (!rc)
		reply(s, c, r, text, len);
	free(text);
	free(perms);
	free(path);
	return rc;
}

static int do_set_perms(struct xs_server *s, struct xs_conn *c,
			struct xs_req *r)
{
	const char *strings;
	struct xs_perm *perms = NULL;
	char *path = NULL;
	uint32_t n;
	int rc, special;

	if (count_strings(r) < 2)
		return -EINVAL;
	strings = next_string(r->body);
	rc = xs_perms_parse(strings, (uint32_t)(r->body + r->len - strings),
			    &perms, &n);
	if (rc)
		return rc;
	if (r->body[0] == '@') {
		/* set_perms_special(): only the two special watches. */
		special = !strcmp(r->body, "@introduceDomain") ? 0
			: !strcmp(r->body, "@releaseDomain")   ? 1
							       : -1;
		if (special < 0) {
			free(perms);
			return -EINVAL;
		}
		free(s->special_perms[special]);
		s->special_perms[special] = perms;
		return ack(s, c, r);
	}
	rc = path_arg(r->body, &path);
	if (!rc)
		rc = xs_tree_set_perms(s->tree, req_txn(r), path, perms, n);
	free(path);
	free(perms);
	return rc ? rc : ack(s, c, r);
}

static void watch_free(struct xs_watch *w)
{
	if (!w)
		return;
	free(w->node);
	free(w->token);
	free(w);
}

static int do_watch(struct xs_server *s, struct xs_conn *c, struct xs_req *r)
{
	struct xs_watch *w, **tail;
	int rc = 0;

	if (count_strings(r) != 2)
		return -EINVAL;
	/* check_watch_path() */
	if (r->body[0] == '@' && strlen(r->body) > XENSTORE_REL_PATH_MAX)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->relative = r->body[0] != '/' && r->body[0] != '@';
	w->node = canonical(r->body);
	w->token = strdup(next_string(r->body));
	if (!w->node || !w->token)
		rc = -ENOMEM;
	else if (w->node[0] != '@' && !xs_path_valid(w->node))
		rc = -EINVAL;
	for (tail = &c->watches; !rc && *tail; tail = &(*tail)->next) {
		if (!strcmp((*tail)->node, w->node) &&
		    !strcmp((*tail)->token, w->token))
			rc = -EEXIST;
	}
	if (!rc && c->nwatches >= MAX_WATCHES)
		rc = -E2BIG;
	if (rc) {
		watch_free(w);
		return rc;
	}
	*tail = w;
	c->nwatches++;
	ack(s, c, r);
	/* "We fire once up front: simplifies clients and restart." */
	queue_event(s, c, w, w->node);
	return 0;
}

static int do_unwatch(struct xs_server *s, struct xs_conn *c,
		      struct xs_req *r)
{
	const char *token;
	struct xs_watch **p, *w;
	char *node;

	if (count_strings(r) != 2)
		return -EINVAL;
	token = next_string(r->body);
	node = canonical(r->body);
	if (!node)
		return -ENOMEM;
	for (p = &c->watches; *p; p = &(*p)->next) {
		if (!strcmp((*p)->node, node) && !strcmp((*p)->token, token))
			break;
	}
	free(node);
	w = *p;
	if (!w)
		return -ENOENT;
	*p = w->next;
	watch_free(w);
	c->nwatches--;
	return ack(s, c, r);
}

static int do_transaction_start(struct xs_server *s, struct xs_conn *c,
				struct xs_req *r)
{
	struct xs_conn_txn *t, *i;
	char id[16];
	int rc;

	/* No nesting: a valid tx_id here means "already in one". */
	if (r->ctxn)
		return -EBUSY;
	if (c->ntxns >= MAX_TXNS)
		return -ENOSPC;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	rc = xs_tree_txn_start(s->tree, &t->txn);
	if (rc) {
		free(t);
		return rc;
	}
	/* Pick an unused non-zero id. */
	do {
		t->id = c->next_txid++;
		for (i = c->txns; i && i->id != t->id; i = i->next)
			;
	} while (!t->id || i);
	t->next = c->txns;
	c->txns = t;
	c->ntxns++;
	reply(s, c, r, id, (uint32_t)snprintf(id, sizeof(id), "%u", t->id) + 1);
	return 0;
}

static int do_transaction_end(struct xs_server *s, struct xs_conn *c,
			      struct xs_req *r)
{
	const char *arg = onearg(r);
	struct xs_conn_txn **p;
	int rc;

	if (!arg || (strcmp(arg, "T") && strcmp(arg, "F")))
		return -EINVAL;
	if (!r->ctxn)
		return -ENOENT;
	for (p = &c->txns; *p != r->ctxn; p = &(*p)->next)
		;
	*p = r->ctxn->next;
	c->ntxns--;
	rc = xs_tree_txn_end(s->tree, r->ctxn->txn, !strcmp(arg, "T"));
	free(r->ctxn);
	r->ctxn = NULL;
	return rc ? rc : ack(s, c, r);
}

static int do_introduce(struct xs_server *s, struct xs_conn *c,
			struct xs_req *r)
{
	const char *mfn, *port;
	unsigned int domid;

	/* domid, mfn, event channel; an unbound port is required. */
	if (count_strings(r) < 3)
		return -EINVAL;
	mfn = next_string(r->body);
	port = next_string(mfn);
	domid = arg_domid(r->body);
	if (atoi(port) <= 0 || !domid || domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	domain_introduce(s, domid);
	return ack(s, c, r);
}

/* RELEASE and RESUME: a domain other than dom0 that is introduced. */
static int domain_arg(const struct xs_server *s, const struct xs_req *r,
		      unsigned int *domid)
{
	const char *arg = onearg(r);

	if (!arg)
		return -EINVAL;
	*domid = arg_domid(arg);
	if (!*domid)
		return -EINVAL;
	return is_introduced(s, *domid) ? 0 : -ENOENT;
}

static int do_release(struct xs_server *s, struct xs_conn *c,
		      struct xs_req *r)
{
	unsigned int domid;
	int rc = domain_arg(s, r, &domid);

	if (rc)
		return rc;
	domain_release(s, domid);
	return ack(s, c, r);
}

static int do_resume(struct xs_server *s, struct xs_conn *c, struct xs_req *r)
{
	unsigned int domid;
	int rc = domain_arg(s, r, &domid);

	return rc ? rc : ack(s, c, r);
}

static int do_set_target(struct xs_server *s, struct xs_conn *c,
			 struct xs_req *r)
{
	if (count_strings(r) < 2)
		return -EINVAL;
	if (!is_introduced(s, arg_domid(r->body)) ||
	    !is_introduced(s, arg_domid(next_string(r->body))))
		return -ENOENT;
	/* Targets only widen permissions, which nobody enforces here. */
	return ack(s, c, r);
}

static int do_get_domain_path(struct xs_server *s, struct xs_conn *c,
			      struct xs_req *r)
{
	const char *arg = onearg(r);
	char path[40];
	int n;

	if (!arg)
		return -EINVAL;
	n = snprintf(path, sizeof(path), "/local/domain/%u", arg_domid(arg));
	reply(s, c, r, path, (uint32_t)n + 1);
	return 0;
}

static int do_is_domain_introduced(struct xs_server *s, struct xs_conn *c,
				   struct xs_req *r)
{
	const char *arg = onearg(r);
	unsigned int domid;

	if (!arg)
		return -EINVAL;
	domid = arg_domid(arg);
	reply(s, c, r, domid == DOMID_SELF || is_introduced(s, domid) ? "T" : "F",
	      2);
	return 0;
}

static void conn_drop_state(struct xs_server *s, struct xs_conn *c)
{
	struct xs_watch *w;
	struct xs_conn_txn *t;

	while ((w = c->watches)) {
		c->watches = w->next;
		watch_free(w);
	}
	c->nwatches = 0;
	while ((t = c->txns)) {
		c->txns = t->next;
		xs_tree_txn_end(s->tree, t->txn, false);
		free(t);
	}
	c->ntxns = 0;
}

static int do_reset_watches(struct xs_server *s, struct xs_conn *c,
			    struct xs_req *r)
{
	/* Drops transactions too (do_reset_watches()). */
	conn_drop_state(s, c);
	return ack(s, c, r);
}

/* Commands are implementation-specific; a simulator needs only these. */
static int do_control(struct xs_server *s, struct xs_conn *c,
		      struct xs_req *r)
{
	static const char help[] = "help\nprint\n";

	if (!count_strings(r))
		return -EINVAL;
	if (!strcmp(r->body, "help")) {
		reply(s, c, r, help, sizeof(help));
		return 0;
	}
	if (!strcmp(r->body, "print") && count_strings(r) >= 2) {
		log_line(s, "print: %s", next_string(r->body));
		return ack(s, c, r);
	}
	return -EINVAL;
}

static const struct {
	const char *name;
	xs_handler_fn *fn;
	bool notid; /* tx_id ignored (XS_FLAG_NOTID) */
} handlers[XS_TYPE_COUNT] = {
	[XS_CONTROL] = { .name = "CONTROL", .fn = do_control },
	[XS_DIRECTORY] = { .name = "DIRECTORY", .fn = do_directory },
	[XS_READ] = { .name = "READ", .fn = do_read },
	[XS_GET_PERMS] = { .name = "GET_PERMS", .fn = do_get_perms },
	[XS_WATCH] = { .name = "WATCH", .fn = do_watch, .notid = true },
	[XS_UNWATCH] = { .name = "UNWATCH", .fn = do_unwatch, .notid = true },
	[XS_TRANSACTION_START] = { .name = "TRANSACTION_START",
				   .fn = do_transaction_start },
	[XS_TRANSACTION_END] = { .name = "TRANSACTION_END",
				 .fn = do_transaction_end },
	[XS_INTRODUCE] = { .name = "INTRODUCE", .fn = do_introduce },
	[XS_RELEASE] = { .name = "RELEASE", .fn = do_release },
	[XS_GET_DOMAIN_PATH] = { .name = "GET_DOMAIN_PATH",
				 .fn = do_get_domain_path },
	[XS_WRITE] = { .name = "WRITE", .fn = do_write },
	[XS_MKDIR] = { .name = "MKDIR", .fn = do_mkdir },
	[XS_RM] = { .name = "RM", .fn = do_rm },
	[XS_SET_PERMS] = { .name = "SET_PERMS", .fn = do_set_perms },
	[XS_WATCH_EVENT] = { .name = "WATCH_EVENT" },
	[XS_ERROR] = { .name = "ERROR" },
	[XS_IS_DOMAIN_INTRODUCED] = { .name = "IS_DOMAIN_INTRODUCED",
				      .fn = do_is_domain_introduced },
	[XS_RESUME] = { .name = "RESUME", .fn = do_resume },
	[XS_SET_TARGET] = { .name = "SET_TARGET", .fn = do_set_target },
	[XS_RESET_WATCHES] = { .name = "RESET_WATCHES",
			       .fn = do_reset_watches },
	[XS_DIRECTORY_PART] = { .name = "DIRECTORY_PART",
				.fn = do_directory_part },
};

static void log_request(struct xs_server *s, const struct xs_conn *c,
			const struct xs_req *r)
{
	char args[160];
	uint32_t i, n = 0;
	const char *name = r->hdr.type < XS_TYPE_COUNT &&
				   handlers[r->hdr.type].name
			   ? handlers[r->hdr.type].name
			   : "UNKNOWN";

	if (!s->log)
		return;
	for (i = 0; i < r->len && n < sizeof(args) - 1; i++) {
		unsigned char ch = (unsigned char)r->body[i];

		args[n++] = !ch ? ' ' : ch < 0x20 || ch > 0x7e ? '.' : (char)ch;
	}
	while (n && args[n - 1] == ' ')
		n--;
	args[n] = '\0';
	log_line(s, "conn%u %s(%u) req=%u tx=%u %s%s", c->num, name,
		 r->hdr.type, r->hdr.req_id, r->hdr.tx_id, args,
		 i < r->len ? "..." : "");
}

static void process_message(struct xs_server *s, struct xs_conn *c)
{
	struct xs_req r = { .body = (char *)c->in + HDR_LEN };
	struct xs_conn_txn *t = NULL;
	int rc = 0;

	memcpy(&r.hdr, c->in, HDR_LEN);
	r.len = r.hdr.len;
	r.body[r.len] = '\0';
	log_request(s, c, &r);
	if (r.hdr.type >= XS_TYPE_COUNT || !handlers[r.hdr.type].fn) {
		rc = -ENOSYS;
	} else if (r.hdr.tx_id && !handlers[r.hdr.type].notid) {
		for (t = c->txns; t && t->id != r.hdr.tx_id; t = t->next)
			;
		r.ctxn = t;
		if (!t)
			rc = -ENOENT;
	}
	if (!rc)
		rc = handlers[r.hdr.type].fn(s, c, &r);
	if (rc)
		reply_error(s, c, &r, -rc);
}

/* ---- connections ---- */

static uint32_t in_payload_len(const struct xs_conn *c)
{
	struct xsd_sockmsg hdr;

	memcpy(&hdr, c->in, HDR_LEN);
	return hdr.len;
}

/* Read and handle whole messages until the socket runs dry. A message
 * longer than XENSTORE_PAYLOAD_MAX, or end of file (even mid-message),
 * ends the connection, as in xenstored's handle_input(). */
static void conn_read(struct xs_server *s, struct xs_conn *c)
{
	unsigned int handled = 0;
	uint32_t need;
	ssize_t n;

	while (!c->dead && handled < MSGS_PER_WAKEUP &&
	       c->out_bytes < OUT_PAUSE_BYTES) {
		need = c->in_used < HDR_LEN
			       ? HDR_LEN - c->in_used
			       : HDR_LEN + in_payload_len(c) - c->in_used;
		if (!need) {
			process_message(s, c);
			c->in_used = 0;
			handled++;
			continue;
		}
		n = recv(c->fd, c->in + c->in_used, need, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			c->dead = true;
			return;
		}
		c->in_used += (uint32_t)n;
		if (c->in_used == HDR_LEN &&
		    in_payload_len(c) > XENSTORE_PAYLOAD_MAX) {
			log_line(s, "conn%u sent a %u-byte payload; dropped",
				 c->num, in_payload_len(c));
			c->dead = true;
		}
	}
}

static void conn_flush(struct xs_conn *c)
{
	struct xs_msg *m;
	ssize_t n;

	while (!c->dead && (m = c->out)) {
		n = send(c->fd, m->buf + m->sent, m->size - m->sent,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			c->dead = true;
			return;
		}
		m->sent += (uint32_t)n;
		if (m->sent < m->size)
			continue;
		c->out = m->next;
		if (!c->out)
			c->out_tail = &c->out;
		c->out_bytes -= m->size;
		free(m);
	}
}

static void conn_free(struct xs_server *s, struct xs_conn *c)
{
	struct xs_msg *m;

	conn_drop_state(s, c);
	while ((m = c->out)) {
		c->out = m->next;
		free(m);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void accept_clients(struct xs_server *s)
{
	struct xs_conn *c;
	int fd;

	for (;;) {
		fd = accept4(s->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c = s->nconns < MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			log_line(s, "refusing a client: %u connected", s->nconns);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->num = ++s->conn_seq;
		c->next_txid = 1;
		c->out_tail = &c->out;
		c->next = s->conns;
		s->conns = c;
		s->nconns++;
		log_line(s, "conn%u connected", c->num);
	}
}

static void reap_dead(struct xs_server *s)
{
	struct xs_conn **p = &s->conns, *c;

	while ((c = *p)) {
		if (!c->dead) {
			p = &c->next;
			continue;
		}
		log_line(s, "conn%u closed", c->num);
		*p = c->next;
		s->nconns--;
		conn_free(s, c);
	}
}

/* ---- the server thread ---- */

static void *serve(void *arg)
{
	struct xs_server *s = arg;
	struct pollfd pfd[MAX_CONNS + 2];
	struct xs_conn *pc[MAX_CONNS + 2];
	struct xs_conn *c;
	unsigned int n, i;
	uint64_t count;
	short re;
	int ready;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		pfd[0] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
		n = 2;
		for (c = s->conns; c && n < MAX_CONNS + 2; c = c->next, n++) {
			pfd[n] = (struct pollfd){ .fd = c->fd };
			if (c->out_bytes < OUT_PAUSE_BYTES)
				pfd[n].events |= POLLIN;
			if (c->out)
				pfd[n].events |= POLLOUT;
			pc[n] = c;
		}
		pthread_mutex_unlock(&s->lock);
		ready = poll(pfd, n, -1);
		pthread_mutex_lock(&s->lock);
		if (ready < 0)
			continue;
		if ((pfd[1].revents & POLLIN) &&
		    read(s->wake_fd, &count, sizeof(count)) < 0)
			count = 0;
		for (i = 2; i < n; i++) {
			re = pfd[i].revents;
			if (re & POLLIN)
				conn_read(s, pc[i]);
			/* Hung up with nothing (more) to read: gone. */
			if ((re & (POLLHUP | POLLERR | POLLNVAL)) && !(re & POLLIN))
				pc[i]->dead = true;
		}
		if (pfd[0].revents & POLLIN)
			accept_clients(s);
		for (c = s->conns; c; c = c->next)
			conn_flush(c);
		reap_dead(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void wake(struct xs_server *s)
{
	uint64_t one = 1;

	/* Full counter still wakes the thread: nothing to do on error. */
	if (write(s->wake_fd, &one, sizeof(one)) < 0)
		return;
}

/* ---- setup ---- */

static int listen_on(struct xs_server *s, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		/* Replace a stale socket, never a live server's. */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (!connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
			close(fd);
			return -EADDRINUSE;
		}
		close(fd);
		if (unlink(path) && errno != ENOENT)
			return -errno;
	}
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
					       SOCK_NONBLOCK, 0);
	if (s->listen_fd < 0)
		return -errno;
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)))
		return -errno;
	s->bound = true;
	if (listen(s->listen_fd, 64))
		return -errno;
	return 0;
}

/* What a freshly booted dom0 has: xenstored's own node and what
 * xen-init-dom0 writes. */
static int populate(struct xs_server *s)
{
	int rc = xs_tree_mkdir(s->tree, NULL, "/tool/xenstored");

	if (!rc)
		rc = xs_tree_write(s->tree, NULL, DOM0_PATH "/domid", "0", 1);
	if (!rc)
		rc = xs_tree_write(s->tree, NULL, DOM0_PATH "/name",
				   "Domain-0", 8);
	set_introduced(s, 0, true);
	return rc;
}

int xs_server_start(const char *socket_path, struct xs_server **out)
{
	struct xs_server *s = calloc(1, sizeof(*s));
	sigset_t all, old;
	int rc = -ENOMEM;

	if (!s)
		return -ENOMEM;
	s->listen_fd = s->wake_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->socket_path = strdup(socket_path);
	if (!s->socket_path)
		goto err;
	rc = xs_tree_new(tree_event, s, &s->tree);
	if (!rc)
		rc = populate(s);
	if (rc)
		goto err;
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0) {
		rc = -errno;
		goto err;
	}
	rc = listen_on(s, socket_path);
	if (rc)
		goto err;
	/* Signals belong to the embedding program's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&s->thread, NULL, serve, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		goto err;
	s->thread_running = true;
	*out = s;
	return 0;
err:
	xs_server_stop(s);
	return rc;
}

void xs_server_stop(struct xs_server *s)
{
	struct xs_conn *c;

	if (!s)
		return;
	if (s->thread_running) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_mutex_unlock(&s->lock);
		wake(s);
		pthread_join(s->thread, NULL);
	}
	while ((c = s->conns)) {
		s->conns = c->next;
		conn_free(s, c);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->bound)
		unlink(s->socket_path);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	xs_tree_free(s->tree);
	free(s->special_perms[0]);
	free(s->special_perms[1]);
	free(s->socket_path);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void xs_server_set_log(struct xs_server *s, FILE *f)
{
	pthread_mutex_lock(&s->lock);
	s->log = f;
	pthread_mutex_unlock(&s->lock);
}

/* ---- API for the simulator and tests ---- */

/* libxl__domain_make(): the domain's home, dom0's, readable by it. */
static int make_domain_path(struct xs_server *s, unsigned int domid)
{
	const struct xs_perm perms[] = {
		{ .id = 0, .mode = 'n' },
		{ .id = domid, .mode = 'r' },
	};
	struct xs_txn *tx;
	char path[40], *v;
	uint32_t len;
	int rc;

	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	rc = xs_tree_read(s->tree, NULL, path, &v, &len);
	if (!rc) {
		free(v);
		return 0;
	}
	/* One transaction, so watchers see one event. */
	rc = xs_tree_txn_start(s->tree, &tx);
	if (rc)
		return rc;
	rc = xs_tree_mkdir(s->tree, tx, path);
	if (!rc)
		rc = xs_tree_set_perms(s->tree, tx, path, perms, 2);
	if (rc) {
		xs_tree_txn_end(s->tree, tx, false);
		return rc;
	}
	return xs_tree_txn_end(s->tree, tx, true);
}

int xs_server_introduce_domain(struct xs_server *s, unsigned int domid)
{
	int rc = 0;

	if (!domid || domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (!is_introduced(s, domid)) {
		rc = make_domain_path(s, domid);
		if (!rc)
			domain_introduce(s, domid);
	}
	pthread_mutex_unlock(&s->lock);
	wake(s);
	return rc;
}

int xs_server_release_domain(struct xs_server *s, unsigned int domid)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&s->lock);
	if (domid && is_introduced(s, domid)) {
		domain_release(s, domid);
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	wake(s);
	return rc;
}

int xs_server_write(struct xs_server *s, const char *path, const char *value)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = xs_tree_write(s->tree, NULL, path, value, (uint32_t)strlen(value));
	pthread_mutex_unlock(&s->lock);
	wake(s);
	return rc;
}

int xs_server_read(struct xs_server *s, const char *path, char **value_out)
{
	uint32_t len;
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = xs_tree_read(s->tree, NULL, path, value_out, &len);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int xs_server_rm(struct xs_server *s, const char *path)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = xs_tree_rm(s->tree, NULL, path);
	pthread_mutex_unlock(&s->lock);
	wake(s);
	return rc;
}

int xs_server_get_perms(struct xs_server *s, const char *path,
			char **perms_out)
{
	struct xs_perm *perms = NULL;
	uint32_t n, len, i;
	char *text = NULL;
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = xs_tree_get_perms(s->tree, NULL, path, &perms, &n);
	pthread_mutex_unlock(&s->lock);
	if (!rc)
		rc = xs_perms_format(perms, n, &text, &len);
	if (!rc) {
		/* "n0\0r5\0" -> "n0 r5" */
		for (i = 0; i + 1 < len; i++)
			text[i] = text[i] ? text[i] : ' ';
		*perms_out = text;
	}
	free(perms);
	return rc;
}
