/*
 * Publishing: approved documents → manifests → signed pointers → MQTT.
 *
 * A publish runs in four steps, all under c->publish_lock:
 *
 *  1. Load.  The approved revision of every live content item, playlist
 *     and entry, the fallback and timezone settings, every node with its
 *     place (mcc_org_all_places) and every node's current pointer.
 *  2. Select and group.  For each node the set of entries whose targets
 *     select it (a bit set over the entries); nodes with equal sets share
 *     one manifest.  Entries whose playlist or content is not approved
 *     (or whose single-entry manifest does not pass the manifest parser)
 *     are left out and reported, so that one bad entry never stops the
 *     fleet's publish and nothing unapproved is ever sent.
 *  3. Compile.  Per distinct set: the entries (targets dropped, since
 *     they are resolved), the playlists they use, the content those use
 *     (with slogan backgrounds) and the fallback, checked by
 *     mc_manifest_parse and dumped canonically.  No node and no time
 *     stamp goes into it, so equal sets give equal bytes, stored once in
 *     the blob store under their SHA-256.
 *  4. Sign and publish.  A node whose manifest differs from its pointer's
 *     (or every node with force, or one whose pointer nears expiry) gets
 *     version + 1, signed.  Every database write is one transaction; the
 *     MQTT publishes follow the commit, and a pointer the broker did not
 *     take stays published = 0 for the tick to retry.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/sign.h"
#include "minecast/text.h"
#include "minecast/topics.h"
#include "minecast/util.h"

#include "audit.h"
#include "blob.h"
#include "db.h"
#include "http.h"
#include "mcc.h"
#include "mqtt.h"
#include "org.h"
#include "publish.h"

#define LOG "publish"

/* Manifest title when the settings give none. */
#define DEFAULT_NAME "minecast"
#define DEFAULT_TZ   "Asia/Ho_Chi_Minh"

/* Below this many pointers to sign, threads cost more than they save. */
#define SIGN_THREAD_MIN  512
#define SIGN_THREADS_MAX 8

/* A document of one kind, by id (arrays are sorted by id). */
struct pub_doc {
	const char *id; /* borrowed from j or the row copy in idbuf */
	char *idbuf;    /* owned copy of the row's id */
	json_t *j;      /* the parsed document (owned reference) */
};

/* An entry as the compiler sees it. */
struct pub_entry {
	char *id;        /* owned */
	json_t *doc;     /* the entry without "targets" (owned) */
	json_t *targets; /* its targets (owned ref), NULL = all */
	bool all;        /* targets select every node */
	size_t playlist; /* index into src.playlists */
	size_t *content; /* indices into src.content it needs */
	size_t n_content;
};

/* Everything a compile reads, loaded once per publish. */
struct pub_src {
	struct pub_doc *content;
	size_t n_content;
	struct pub_doc *playlists;
	size_t n_playlists;
	struct pub_entry *entries; /* usable entries only, sorted by id */
	size_t n_entries;
	char *name;                  /* manifest title */
	char *timezone;              /* default zone */
	char *fallback[MC_CH_COUNT]; /* content id or NULL */
	size_t *fb_content;          /* content the fallback needs */
	size_t n_fb_content;
	json_t *skipped; /* [{"kind","id","reason"}] */
};

/* A distinct manifest: the set of entries and what it compiled to. */
struct pub_group {
	uint64_t *bits; /* the entry set (borrowed from the node bit table) */
	uint64_t hash;  /* of bits */
	char sha[65];   /* of the canonical bytes */
	int64_t size;   /* bytes */
	char *json;     /* the canonical bytes (owned) */
	int64_t nodes;  /* nodes that get it */
	bool is_new;    /* not in the manifests table before */
};

/* A node's current pointer (node_desired). */
struct pub_old {
	char *node;
	bool has_pointer;        /* false: a node_live row only */
	int64_t version;         /* of the pointer; 0 when none */
	char sha[65];            /* its manifest; "" when none */
	int64_t expires_ms;      /* of the pointer */
	bool published;          /* the broker took it */
	int64_t applied_version; /* what the node reports applied; 0 */
};

/* A pointer to sign (and then store and publish). */
struct sign_job {
	const char *node;
	int64_t version;
	const char *sha;
	int64_t size;
	char *envelope; /* result (owned) */
	size_t env_len;
	enum mc_err rc;
	struct mc_error err;
};

/* Shared by the signing threads. */
struct sign_ctx {
	struct mcc *c;
	struct sign_job *jobs;
	size_t n_jobs;
	size_t stride; /* thread t takes jobs t, t + stride, ... */
	size_t first;
	int64_t issued_ms, expires_ms;
	const char *url_base; /* "" or the public URL without its '/' */
};

static double now_ms_f(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- loading ---- */

static void skip(struct pub_src *s, const char *kind, const char *id,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void skip(struct pub_src *s, const char *kind, const char *id,
                 const char *fmt, ...)
{
	char reason[MC_ERROR_MSG_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	json_array_append_new(s->skipped,
	                      json_pack("{s:s, s:s, s:s}", "kind", kind, "id",
	                                id, "reason", reason));
}

static int doc_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pub_doc *)a)->id,
	              ((const struct pub_doc *)b)->id);
}

/* Index of id in docs, or -1. */
static ptrdiff_t doc_find(const struct pub_doc *docs, size_t n, const char *id)
{
	struct pub_doc key = {.id = id};
	const struct pub_doc *d;

	if (!id || n == 0)
		return -1;
	d = bsearch(&key, docs, n, sizeof(*docs), doc_cmp);
	return d ? d - docs : -1;
}

/* Read "SELECT id, json ..." rows into a sorted array. */
static enum mc_err load_docs(sqlite3 *db, const char *table, bool drafts,
                             struct pub_doc **out, size_t *n,
                             struct mc_error *err)
{
	char sql[256];
	sqlite3_stmt *st;
	struct pub_doc *docs = NULL;
	size_t cap = 0, len = 0;
	enum mc_err rc = MC_OK;
	int r;

	snprintf(sql, sizeof(sql),
	         "SELECT id, %s FROM %s WHERE deleted = 0 AND %s IS NOT NULL "
	         "ORDER BY id",
	         drafts ? "doc_json" : "approved_json", table,
	         drafts ? "doc_json" : "approved_json");
	st = mcc_db_prepare(db, sql);
	if (!st)
		return mc_error_set(err, MC_ERR_IO, "%s: cannot be read",
		                    table);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *text = (const char *)sqlite3_column_text(st, 1);
		json_t *j;

		j = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL)
		         : NULL;
		if (!j || !json_is_object(j) || !id) {
			mc_log_warn(LOG,
			            "%s '%s': stored document is not a "
			            "JSON object; left out",
			            table, id ? id : "?");
			json_decref(j);
			continue;
		}
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct pub_doc *nd = realloc(docs, ncap * sizeof(*nd));

			if (!nd) {
				json_decref(j);
				rc = mc_error_set(err, MC_ERR_NOMEM,
				                  "out of memory");
				break;
			}
			docs = nd;
			cap = ncap;
		}
		docs[len].idbuf = strdup(id);
		docs[len].id = docs[len].idbuf;
		docs[len].j = j;
		if (!docs[len].idbuf) {
			json_decref(j);
			rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
			break;
		}
		len++;
	}
	if (rc == MC_OK && r != SQLITE_DONE)
		rc = mc_error_set(err, MC_ERR_IO, "%s: %s", table,
		                  sqlite3_errmsg(db));
	mcc_db_done(st);
	/* SQLite's ORDER BY is memcmp order, the same as strcmp; sort
	 * anyway so that bsearch never depends on a collation. */
	if (len > 1)
		qsort(docs, len, sizeof(*docs), doc_cmp);
	*out = docs;
	*n = len;
	return rc;
}

static void free_docs(struct pub_doc *docs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(docs[i].idbuf);
		json_decref(docs[i].j);
	}
	free(docs);
}

/* A settings value (parsed), or NULL. */
static json_t *setting(sqlite3 *db, const char *key)
{
	sqlite3_stmt *st;
	json_t *j = NULL;

	st = mcc_db_prepare(db,
	                    "SELECT value_json FROM settings WHERE key = ?");
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (t)
			j = json_loads(t, JSON_DECODE_ANY, NULL);
	}
	mcc_db_done(st);
	return j;
}

/* Append index i to a set of indices (kept unique, unsorted). */
static bool idx_add(size_t **v, size_t *n, size_t i)
{
	size_t *nv;

	for (size_t k = 0; k < *n; k++)
		if ((*v)[k] == i)
			return true;
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return false;
	nv[(*n)++] = i;
	*v = nv;
	return true;
}

/*
 * Add content id (and a slogan's background image) to the set.  Returns
 * false with why filled when it is not available.
 */
static bool need_content(const struct pub_src *s, const char *id, size_t **v,
                         size_t *n, char *why, size_t whylen)
{
	ptrdiff_t k = doc_find(s->content, s->n_content, id);
	json_t *style;
	const char *bg;

	if (k < 0) {
		snprintf(why, whylen,
		         "nội dung '%s' chưa được duyệt hoặc đã xoá / content "
		         "'%s' is not approved or was deleted",
		         id, id);
		return false;
	}
	if (!idx_add(v, n, (size_t)k)) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	style = json_object_get(s->content[k].j, "style");
	bg = json_string_value(json_object_get(style, "bg_image"));
	if (bg) {
		ptrdiff_t b = doc_find(s->content, s->n_content, bg);

		if (b < 0) {
			snprintf(why, whylen,
			         "ảnh nền '%s' của '%s' chưa được duyệt / "
			         "background '%s' of '%s' is not approved",
			         bg, id, bg, id);
			return false;
		}
		if (!idx_add(v, n, (size_t)b)) {
			snprintf(why, whylen, "out of memory");
			return false;
		}
	}
	return true;
}

static bool targets_all(const json_t *t)
{
	const char *k;
	json_t *v;

	if (!t || json_is_null(t))
		return true;
	if (!json_is_object(t))
		return false;
	json_object_foreach((json_t *)t, k, v)
	{
		if (json_is_array(v) && json_array_size(v) > 0)
			return false;
	}
	return true;
}

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The manifest of a set of entries (mask over s->entries; NULL = only
 * those in `only`), as compact JSON text (caller frees).  Content,
 * playlists and entries are in id order.
 */
static char *build_json(const struct pub_src *s, const uint64_t *bits,
                        const size_t *only, size_t n_only, bool with_fb)
{
	bool *cmask = NULL, *pmask = NULL;
	json_t *root = NULL, *ca, *pa, *ea, *fb;
	char *out = NULL;

	cmask = calloc(s->n_content + 1, sizeof(*cmask));
	pmask = calloc(s->n_playlists + 1, sizeof(*pmask));
	root = json_object();
	ca = json_array();
	pa = json_array();
	ea = json_array();
	fb = json_object();
	if (!cmask || !pmask || !root || !ca || !pa || !ea || !fb) {
		json_decref(ca);
		json_decref(pa);
		json_decref(ea);
		json_decref(fb);
		goto out;
	}
	json_object_set_new(root, "format", json_string("minecast-manifest/1"));
	json_object_set_new(root, "name", json_string(s->name));
	json_object_set_new(root, "timezone", json_string(s->timezone));
	for (size_t e = 0; e < s->n_entries; e++) {
		bool on;

		if (bits)
			on = bits[e / 64] >> (e % 64) & 1u;
		else {
			on = false;
			for (size_t k = 0; k < n_only; k++)
				on = on || only[k] == e;
		}
		if (!on)
			continue;
		json_array_append(ea, s->entries[e].doc);
		pmask[s->entries[e].playlist] = true;
		for (size_t k = 0; k < s->entries[e].n_content; k++)
			cmask[s->entries[e].content[k]] = true;
	}
	if (with_fb) {
		for (size_t k = 0; k < s->n_fb_content; k++)
			cmask[s->fb_content[k]] = true;
		for (int ch = 0; ch < MC_CH_COUNT; ch++)
			json_object_set_new(
			        fb, mc_channel_name(ch),
			        s->fallback[ch] ? json_string(s->fallback[ch])
			                        : json_null());
	}
	for (size_t i = 0; i < s->n_content; i++)
		if (cmask[i])
			json_array_append(ca, s->content[i].j);
	for (size_t i = 0; i < s->n_playlists; i++)
		if (pmask[i])
			json_array_append(pa, s->playlists[i].j);
	json_object_set_new(root, "content", ca);
	json_object_set_new(root, "playlists", pa);
	json_object_set_new(root, "entries", ea);
	json_object_set_new(root, "fallback", fb);
	out = json_dumps(root, JSON_COMPACT);
out:
	json_decref(root);
	free(cmask);
	free(pmask);
	return out;
}

/* Parse text as a manifest and dump it canonically (caller frees). */
static enum mc_err canonical(const char *text, char **out, struct mc_error *err)
{
	struct mc_manifest *m = NULL;
	enum mc_err rc;

	*out = NULL;
	rc = mc_manifest_parse(text, strlen(text), MC_DOC_MANIFEST, &m, err);
	if (rc != MC_OK)
		return rc;
	*out = mc_manifest_dump(m);
	mc_manifest_free(m);
	if (!*out)
		return mc_error_set(err, MC_ERR_NOMEM,
		                    "manifest: out of memory");
	return MC_OK;
}

/* Check that a manifest of just these parts passes the parser. */
static bool trial(const struct pub_src *s, const size_t *only, size_t n_only,
                  bool with_fb, struct mc_error *err)
{
	char *text = build_json(s, NULL, only, n_only, with_fb), *canon = NULL;
	enum mc_err rc;

	if (!text) {
		mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		return false;
	}
	rc = canonical(text, &canon, err);
	free(text);
	free(canon);
	return rc == MC_OK;
}

static void src_free(struct pub_src *s)
{
	free_docs(s->content, s->n_content);
	free_docs(s->playlists, s->n_playlists);
	for (size_t i = 0; i < s->n_entries; i++) {
		free(s->entries[i].id);
		json_decref(s->entries[i].doc);
		json_decref(s->entries[i].targets);
		free(s->entries[i].content);
	}
	free(s->entries);
	free(s->name);
	free(s->timezone);
	for (int ch = 0; ch < MC_CH_COUNT; ch++)
		free(s->fallback[ch]);
	free(s->fb_content);
	json_decref(s->skipped);
	memset(s, 0, sizeof(*s));
}

/* The entries, with their closure; unusable ones go to s->skipped. */
static enum mc_err load_entries(sqlite3 *db, struct pub_src *s, bool drafts,
                                struct mc_error *err)
{
	struct pub_doc *docs = NULL;
	size_t n = 0;
	enum mc_err rc;
	char why[MC_ERROR_MSG_MAX + 128];

	rc = load_docs(db, "entries", drafts, &docs, &n, err);
	if (rc != MC_OK)
		goto out;
	s->entries = calloc(n ? n : 1, sizeof(*s->entries));
	if (!s->entries) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct pub_entry *e = &s->entries[s->n_entries];
		json_t *items;
		const char *pl;
		ptrdiff_t p;
		size_t k;
		json_t *it;
		bool ok = true;
		struct mc_error terr = {0};
		size_t self;

		memset(e, 0, sizeof(*e));
		pl = json_string_value(json_object_get(docs[i].j, "playlist"));
		p = doc_find(s->playlists, s->n_playlists, pl);
		if (p < 0) {
			skip(s, "entry", docs[i].id,
			     "danh sách phát '%s' chưa được duyệt hoặc đã xoá "
			     "/ playlist '%s' is not approved or was deleted",
			     pl ? pl : "?", pl ? pl : "?");
			continue;
		}
		e->playlist = (size_t)p;
		items = json_object_get(s->playlists[p].j, "items");
		json_array_foreach(items, k, it)
		{
			const char *cid = json_string_value(
			        json_object_get(it, "content"));

			if (!cid ||
			    !need_content(s, cid, &e->content, &e->n_content,
			                  why, sizeof(why))) {
				ok = false;
				break;
			}
		}
		if (!ok) {
			skip(s, "entry", docs[i].id, "%s", why);
			free(e->content);
			continue;
		}
		qsort(e->content, e->n_content, sizeof(*e->content), size_cmp);
		e->id = strdup(docs[i].id);
		e->targets = json_incref(json_object_get(docs[i].j, "targets"));
		e->all = targets_all(e->targets);
		e->doc = json_copy(docs[i].j);
		if (!e->doc || !e->id) {
			json_decref(e->doc);
			free(e->id);
			json_decref(e->targets);
			free(e->content);
			rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
			goto out;
		}
		json_object_del(e->doc, "targets");
		/* The entry alone must make a valid manifest; one that does
		 * not (a playlist on the wrong channel, ...) is left out
		 * rather than stopping every node's publish. */
		self = s->n_entries;
		s->n_entries++;
		if (!trial(s, &self, 1, false, &terr)) {
			s->n_entries--;
			skip(s, "entry", docs[i].id, "%s", terr.msg);
			free(e->id);
			json_decref(e->doc);
			json_decref(e->targets);
			free(e->content);
			continue;
		}
	}
out:
	free_docs(docs, n);
	return rc;
}

/* Load everything a compile reads. */
static enum mc_err src_load(sqlite3 *db, bool drafts, struct pub_src *s,
                            struct mc_error *err)
{
	json_t *j;
	enum mc_err rc;
	char why[MC_ERROR_MSG_MAX + 128];

	memset(s, 0, sizeof(*s));
	s->skipped = json_array();
	if (!s->skipped)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	rc = load_docs(db, "content", drafts, &s->content, &s->n_content, err);
	if (rc == MC_OK)
		rc = load_docs(db, "playlists", drafts, &s->playlists,
		               &s->n_playlists, err);
	if (rc != MC_OK)
		return rc;
	j = setting(db, "name");
	s->name = strdup(json_is_string(j) && json_string_length(j) > 0
	                         ? json_string_value(j)
	                         : DEFAULT_NAME);
	json_decref(j);
	j = setting(db, "timezone");
	s->timezone = strdup(json_is_string(j) && json_string_length(j) > 0
	                             ? json_string_value(j)
	                             : DEFAULT_TZ);
	json_decref(j);
	if (!s->name || !s->timezone)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	j = setting(db, "fallback");
	for (int ch = 0; ch < MC_CH_COUNT; ch++) {
		const char *id = json_string_value(
		        json_object_get(j, mc_channel_name(ch)));
		size_t *v = NULL, nv = 0;

		if (!id)
			continue;
		if (!need_content(s, id, &v, &nv, why, sizeof(why))) {
			skip(s, "fallback", mc_channel_name(ch), "%s", why);
			free(v);
			continue;
		}
		s->fallback[ch] = strdup(id);
		for (size_t k = 0; k < nv; k++)
			idx_add(&s->fb_content, &s->n_fb_content, v[k]);
		free(v);
	}
	json_decref(j);
	if (s->fallback[0] || s->fallback[1]) {
		struct mc_error ferr = {0};

		if (!trial(s, NULL, 0, true, &ferr)) {
			skip(s, "fallback", "fallback", "%s", ferr.msg);
			for (int ch = 0; ch < MC_CH_COUNT; ch++)
				MC_FREE(s->fallback[ch]);
			MC_FREE(s->fb_content);
			s->n_fb_content = 0;
		}
	}
	return load_entries(db, s, drafts, err);
}

/* The selection bits of a place: which usable entries select it. */
static void select_bits(const struct pub_src *s, const struct mcc_place *p,
                        uint64_t *bits, size_t nw)
{
	memset(bits, 0, nw * sizeof(*bits));
	for (size_t e = 0; e < s->n_entries; e++)
		if (s->entries[e].all ||
		    mcc_targets_select(s->entries[e].targets, p))
			bits[e / 64] |= (uint64_t)1 << (e % 64);
}

static void log_skipped(const struct pub_src *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(s->skipped, i, v)
	{
		mc_log_warn(LOG, "%s '%s' left out: %s",
		            json_string_value(json_object_get(v, "kind")),
		            json_string_value(json_object_get(v, "id")),
		            json_string_value(json_object_get(v, "reason")));
	}
}

/* Compile the manifest of a selection, canonical (caller frees). */
static enum mc_err compile_bits(const struct pub_src *s, const uint64_t *bits,
                                char **out, struct mc_error *err)
{
	char *text = build_json(s, bits, NULL, 0, true);
	enum mc_err rc;

	*out = NULL;
	if (!text)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	rc = canonical(text, out, err);
	free(text);
	return rc;
}

enum mc_err mcc_compile_place_ex(struct mcc *c, sqlite3 *db,
                                 const struct mcc_place *place, bool drafts,
                                 char **json, json_t **skipped,
                                 struct mc_error *err)
{
	struct pub_src s;
	uint64_t *bits = NULL;
	size_t nw;
	enum mc_err rc;

	(void)c;
	*json = NULL;
	if (skipped)
		*skipped = NULL;
	rc = src_load(db, drafts, &s, err);
	if (rc != MC_OK)
		goto out;
	nw = s.n_entries / 64 + 1;
	bits = calloc(nw, sizeof(*bits));
	if (!bits) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto out;
	}
	select_bits(&s, place, bits, nw);
	rc = compile_bits(&s, bits, json, err);
	if (rc == MC_OK && skipped)
		*skipped = json_incref(s.skipped);
out:
	free(bits);
	src_free(&s);
	return rc;
}

enum mc_err mcc_compile_place(struct mcc *c, sqlite3 *db,
                              const struct mcc_place *place, bool drafts,
                              char **json, struct mc_error *err)
{
	return mcc_compile_place_ex(c, db, place, drafts, json, NULL, err);
}

/* ---- grouping ---- */

static uint64_t bits_hash(const uint64_t *b, size_t nw)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < nw; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
		h ^= h >> 29;
	}
	return h;
}

/* ---- current pointers ---- */

static int old_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pub_old *)a)->node,
	              ((const struct pub_old *)b)->node);
}

static enum mc_err load_old(sqlite3 *db, struct pub_old **out, size_t *n,
                            struct mc_error *err)
{
	sqlite3_stmt *st;
	struct pub_old *v = NULL;
	size_t len = 0, cap = 0;
	enum mc_err rc = MC_OK;
	int r;

	/*
	 * What the node reports applied counts too: after the database was
	 * restored from an older backup, the nodes are ahead of it, and a
	 * version not above theirs would be refused as a replay.
	 */
	/*
	 * So does a version retired with a deleted node of the same id
	 * (migrations/008-retired-versions.sql).
	 */
	st = mcc_db_prepare(
	        db,
	        "SELECT ids.id, d.version, d.manifest_sha256, "
	        "d.expires_ms, d.published, max(coalesce(l.applied_version, "
	        "0), coalesce(r.version, 0)) FROM (SELECT node_id AS id "
	        "FROM node_desired UNION SELECT node_id FROM node_live "
	        "WHERE applied_version > 0 UNION SELECT node_id FROM "
	        "retired_versions) ids LEFT JOIN node_desired d ON "
	        "d.node_id = ids.id LEFT JOIN node_live l ON l.node_id = "
	        "ids.id LEFT JOIN retired_versions r ON r.node_id = ids.id");
	if (!st)
		return mc_error_set(err, MC_ERR_IO,
		                    "node_desired: cannot be "
		                    "read");
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *node = (const char *)sqlite3_column_text(st, 0);
		const char *sha = (const char *)sqlite3_column_text(st, 2);

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			struct pub_old *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				rc = mc_error_set(err, MC_ERR_NOMEM,
				                  "out of memory");
				break;
			}
			v = nv;
			cap = ncap;
		}
		memset(&v[len], 0, sizeof(v[len]));
		v[len].node = strdup(node ? node : "");
		if (!v[len].node) {
			rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
			break;
		}
		v[len].has_pointer = sqlite3_column_type(st, 1) != SQLITE_NULL;
		v[len].version = sqlite3_column_int64(st, 1);
		snprintf(v[len].sha, sizeof(v[len].sha), "%s", sha ? sha : "");
		v[len].expires_ms = sqlite3_column_int64(st, 3);
		v[len].published = sqlite3_column_int(st, 4) != 0;
		v[len].applied_version = sqlite3_column_int64(st, 5);
		len++;
	}
	if (rc == MC_OK && r != SQLITE_DONE)
		rc = mc_error_set(err, MC_ERR_IO, "node_desired: %s",
		                  sqlite3_errmsg(db));
	mcc_db_done(st);
	if (len > 1)
		qsort(v, len, sizeof(*v), old_cmp);
	*out = v;
	*n = len;
	return rc;
}

static void free_old(struct pub_old *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].node);
	free(v);
}

static const struct pub_old *find_old(const struct pub_old *v, size_t n,
                                      const char *node)
{
	struct pub_old key = {.node = (char *)node};

	return n ? bsearch(&key, v, n, sizeof(*v), old_cmp) : NULL;
}

/* ---- signing ---- */

static void sign_one(const struct sign_ctx *x, struct sign_job *j)
{
	struct mc_pointer p = {0};
	char url[1200];
	char *body;

	snprintf(url, sizeof(url), "%s/v1/manifests/%s", x->url_base, j->sha);
	p.node = (char *)j->node;
	p.version = j->version;
	snprintf(p.manifest_sha256, sizeof(p.manifest_sha256), "%s", j->sha);
	p.manifest_size = j->size;
	p.manifest_url = url;
	p.issued_ms = x->issued_ms;
	p.expires_ms = x->expires_ms;
	body = mc_pointer_dump(&p);
	if (!body) {
		j->rc = mc_error_set(&j->err, MC_ERR_NOMEM, "out of memory");
		return;
	}
	j->rc = mc_envelope_sign(&x->c->key, MC_PURPOSE_POINTER, body,
	                         strlen(body), &j->envelope, &j->env_len,
	                         &j->err);
	free(body);
}

static void *sign_thread(void *arg)
{
	struct sign_ctx *x = arg;

	for (size_t i = x->first; i < x->n_jobs; i += x->stride)
		sign_one(x, &x->jobs[i]);
	return NULL;
}

/* Sign every job, on several threads when there are many. */
static enum mc_err sign_all(struct mcc *c, struct sign_job *jobs, size_t n,
                            int64_t issued_ms, struct mc_error *err)
{
	struct sign_ctx ctx[SIGN_THREADS_MAX];
	pthread_t th[SIGN_THREADS_MAX];
	bool started[SIGN_THREADS_MAX] = {0};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nt = 1;
	const char *base = c->cfg.public_url ? c->cfg.public_url : "";
	char *url_base;
	size_t bl;

	url_base = strdup(base);
	if (!url_base)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	bl = strlen(url_base);
	while (bl > 0 && url_base[bl - 1] == '/')
		url_base[--bl] = '\0';
	if (n >= SIGN_THREAD_MIN && cpus > 1)
		nt = (size_t)(cpus < SIGN_THREADS_MAX ? cpus
		                                      : SIGN_THREADS_MAX);
	for (size_t t = 0; t < nt; t++) {
		ctx[t] = (struct sign_ctx){
		        .c = c,
		        .jobs = jobs,
		        .n_jobs = n,
		        .stride = nt,
		        .first = t,
		        .issued_ms = issued_ms,
		        .expires_ms = issued_ms + c->cfg.pointer_ttl_s * 1000,
		        .url_base = url_base,
		};
	}
	for (size_t t = 1; t < nt; t++)
		started[t] =
		        pthread_create(&th[t], NULL, sign_thread, &ctx[t]) == 0;
	/* This thread takes its own share, and that of any thread that
	 * could not be started. */
	sign_thread(&ctx[0]);
	for (size_t t = 1; t < nt; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		else
			sign_thread(&ctx[t]);
	}
	free(url_base);
	for (size_t i = 0; i < n; i++)
		if (jobs[i].rc != MC_OK)
			return mc_error_set(err, jobs[i].rc, "node '%s': %s",
			                    jobs[i].node, jobs[i].err.msg);
	return MC_OK;
}

/* Store one signed pointer (inside the caller's transaction). */
static enum mc_err store_job(sqlite3 *db, const struct sign_job *j,
                             int64_t issued_ms, int64_t expires_ms,
                             int64_t publish_id, struct mc_error *err)
{
	sqlite3_stmt *st;
	int r;

	st = mcc_db_prepare(
	        db, "INSERT INTO node_desired (node_id, version, "
	            "manifest_sha256, issued_ms, expires_ms, envelope, "
	            "published, published_ms, publish_id) VALUES "
	            "(?, ?, ?, ?, ?, ?, 0, NULL, ?) ON CONFLICT(node_id) DO "
	            "UPDATE SET version = excluded.version, manifest_sha256 "
	            "= excluded.manifest_sha256, issued_ms = "
	            "excluded.issued_ms, expires_ms = excluded.expires_ms, "
	            "envelope = excluded.envelope, published = 0, "
	            "published_ms = NULL, publish_id = excluded.publish_id");
	if (!st)
		return mc_error_set(err, MC_ERR_IO,
		                    "node_desired: cannot be "
		                    "written");
	sqlite3_bind_text(st, 1, j->node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, j->version);
	sqlite3_bind_text(st, 3, j->sha, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, issued_ms);
	sqlite3_bind_int64(st, 5, expires_ms);
	sqlite3_bind_text(st, 6, j->envelope, (int)j->env_len, SQLITE_STATIC);
	if (publish_id > 0)
		sqlite3_bind_int64(st, 7, publish_id);
	else
		sqlite3_bind_null(st, 7);
	r = sqlite3_step(st);
	mcc_db_done(st);
	if (r != SQLITE_DONE)
		return mc_error_set(err, MC_ERR_IO, "node_desired '%s': %s",
		                    j->node, sqlite3_errmsg(db));
	return MC_OK;
}

/* A pointer handed to the broker: node and the version it carried. */
struct sent {
	const char *node;
	int64_t version;
};

/*
 * Mark pointers published (one transaction).  all: every pointer of
 * publish_id was sent, so that one statement marks them (10,000 single
 * updates cost a tenth of a second).
 */
static void mark_published(sqlite3 *db, const struct sent *v, size_t n,
                           int64_t publish_id, bool all, int64_t duration_ms)
{
	sqlite3_stmt *st;
	int64_t now = mc_now_ms();

	if (mcc_db_begin(db) != MC_OK)
		return;
	if (all && publish_id > 0) {
		st = mcc_db_prepare(db,
		                    "UPDATE node_desired SET published = "
		                    "1, published_ms = ? WHERE publish_id = "
		                    "? AND published = 0");
		if (!st)
			goto fail;
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, publish_id);
		if (sqlite3_step(st) != SQLITE_DONE) {
			mcc_db_done(st);
			goto fail;
		}
		mcc_db_done(st);
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		st = mcc_db_prepare(db, "UPDATE node_desired SET published = "
		                        "1, published_ms = ? WHERE node_id = ? "
		                        "AND version = ?");
		if (!st)
			goto fail;
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_text(st, 2, v[i].node, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, v[i].version);
		if (sqlite3_step(st) != SQLITE_DONE) {
			mcc_db_done(st);
			goto fail;
		}
		mcc_db_done(st);
	}
	if (publish_id > 0) {
		st = mcc_db_prepare(db, "UPDATE publishes SET duration_ms = ? "
		                        "WHERE id = ?");
		if (st) {
			sqlite3_bind_int64(st, 1, duration_ms);
			sqlite3_bind_int64(st, 2, publish_id);
			sqlite3_step(st);
			mcc_db_done(st);
		}
	}
	if (mcc_db_commit(db) == MC_OK)
		return;
fail:
	mc_log_error(LOG,
	             "cannot mark pointers published: %s; the tick "
	             "will publish them again",
	             sqlite3_errmsg(db));
	mcc_db_rollback(db);
}

/* Hand one pointer to the broker. */
static bool send_pointer(struct mcc *c, const char *node, const char *env,
                         size_t len)
{
	char topic[MC_TOPIC_MAX];

	if (mc_topic_node(topic, sizeof(topic), node, MC_TOPIC_DESIRED) !=
	    MC_OK)
		return false;
	return mcc_mqtt_publish(c, topic, env, len, 1, true) == MC_OK;
}

/*
 * Publish every pointer still marked published = 0 (earlier failures).
 * Returns how many the broker took; *left how many are still pending.
 */
static int64_t publish_pending(struct mcc *c, sqlite3 *db, int64_t *left)
{
	sqlite3_stmt *st;
	struct sent *v = NULL;
	size_t n = 0, cap = 0;
	char **names = NULL;
	int64_t failed = 0;
	int r;

	*left = 0;
	st = mcc_db_prepare(db, "SELECT node_id, version, envelope FROM "
	                        "node_desired WHERE published = 0 ORDER BY "
	                        "node_id");
	if (!st)
		return 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *node = (const char *)sqlite3_column_text(st, 0);
		const char *env = (const char *)sqlite3_column_text(st, 2);
		int elen = sqlite3_column_bytes(st, 2);

		if (!node || !env ||
		    !send_pointer(c, node, env, (size_t)elen)) {
			failed++;
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct sent *nv = realloc(v, ncap * sizeof(*nv));
			char **nn = realloc(names, ncap * sizeof(*nn));

			if (nv)
				v = nv;
			if (nn)
				names = nn;
			if (!nv || !nn)
				break;
			cap = ncap;
		}
		names[n] = strdup(node);
		if (!names[n])
			break;
		v[n].node = names[n];
		v[n].version = sqlite3_column_int64(st, 1);
		n++;
	}
	mcc_db_done(st);
	if (n)
		mark_published(db, v, n, 0, false, 0);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(v);
	*left = failed;
	return (int64_t)n;
}

/* ---- the publish ---- */

void mcc_publish_report_clear(struct mcc_publish_report *rep)
{
	if (!rep)
		return;
	json_decref(rep->skipped);
	memset(rep, 0, sizeof(*rep));
}

static const char *const phase_names[MCC_PHASE_COUNT] = {
        "load", "select", "compile", "sign", "store", "mqtt"};

json_t *mcc_publish_report_json(const struct mcc_publish_report *rep)
{
	json_t *o, *ph = json_object();

	for (int i = 0; ph && i < MCC_PHASE_COUNT; i++)
		json_object_set_new(
		        ph, phase_names[i],
		        json_real((double)(int64_t)(rep->phase_ms[i] * 100.0) /
		                  100.0));
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, "
	              "s:O}",
	              "id", (json_int_t)rep->id, "at_ms",
	              (json_int_t)rep->at_ms, "nodes", (json_int_t)rep->nodes,
	              "changed", (json_int_t)rep->changed, "published",
	              (json_int_t)rep->published, "pending",
	              (json_int_t)rep->pending, "manifests",
	              (json_int_t)rep->manifests, "manifests_new",
	              (json_int_t)rep->manifests_new, "duration_ms",
	              (json_int_t)rep->duration_ms, "phases_ms",
	              ph ? ph : json_object(), "skipped",
	              rep->skipped ? rep->skipped : json_array());
	return o;
}

/* Is sha already in the manifests table? */
static bool manifest_known(sqlite3 *db, const char *sha)
{
	sqlite3_stmt *st = mcc_db_prepare(db, "SELECT 1 FROM manifests WHERE "
	                                      "sha256 = ?");
	bool known;

	if (!st)
		return false;
	sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
	known = sqlite3_step(st) == SQLITE_ROW;
	mcc_db_done(st);
	return known;
}

static enum mc_err store_manifest(struct mcc *c, sqlite3 *db,
                                  struct pub_group *g, const struct pub_src *s,
                                  int64_t publish_id, struct mc_error *err)
{
	char sha[65];
	sqlite3_stmt *st;
	json_t *ids = json_array();
	char *ids_text;
	enum mc_err rc;
	int r;

	rc = mcc_blob_put(c, db, g->json, (size_t)g->size, "application/json",
	                  sha, err);
	if (rc != MC_OK) {
		json_decref(ids);
		return rc;
	}
	for (size_t e = 0; ids && e < s->n_entries; e++)
		if (g->bits[e / 64] >> (e % 64) & 1u)
			json_array_append_new(ids,
			                      json_string(s->entries[e].id));
	ids_text = ids ? json_dumps(ids, JSON_COMPACT) : NULL;
	json_decref(ids);
	st = mcc_db_prepare(db, "INSERT OR IGNORE INTO manifests (sha256, "
	                        "size, created_ms, publish_id, entries_json) "
	                        "VALUES (?, ?, ?, ?, ?)");
	if (!st) {
		free(ids_text);
		return mc_error_set(err, MC_ERR_IO,
		                    "manifests: cannot be "
		                    "written");
	}
	sqlite3_bind_text(st, 1, g->sha, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, g->size);
	sqlite3_bind_int64(st, 3, mc_now_ms());
	if (publish_id > 0)
		sqlite3_bind_int64(st, 4, publish_id);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_text(st, 5, ids_text ? ids_text : "[]", -1,
	                  SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	mcc_db_done(st);
	free(ids_text);
	if (r != SQLITE_DONE)
		return mc_error_set(err, MC_ERR_IO, "manifests: %s",
		                    sqlite3_errmsg(db));
	return MC_OK;
}

static enum mc_err insert_publish(sqlite3 *db, const struct mcc_principal *who,
                                  bool force, struct mcc_publish_report *rep,
                                  struct mc_error *err)
{
	sqlite3_stmt *st;
	char *skipped = json_dumps(rep->skipped, JSON_COMPACT);
	int r;

	st = mcc_db_prepare(db, "INSERT INTO publishes (at_ms, user_id, "
	                        "force, nodes, changed, manifests, "
	                        "manifests_new, skipped_json, duration_ms) "
	                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)");
	if (!st) {
		free(skipped);
		return mc_error_set(err, MC_ERR_IO,
		                    "publishes: cannot be "
		                    "written");
	}
	sqlite3_bind_int64(st, 1, rep->at_ms);
	if (who && who->user_id > 0)
		sqlite3_bind_int64(st, 2, who->user_id);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int(st, 3, force);
	sqlite3_bind_int64(st, 4, rep->nodes);
	sqlite3_bind_int64(st, 5, rep->changed);
	sqlite3_bind_int64(st, 6, rep->manifests);
	sqlite3_bind_int64(st, 7, rep->manifests_new);
	sqlite3_bind_text(st, 8, skipped ? skipped : "[]", -1,
	                  SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	mcc_db_done(st);
	free(skipped);
	if (r != SQLITE_DONE)
		return mc_error_set(err, MC_ERR_IO, "publishes: %s",
		                    sqlite3_errmsg(db));
	rep->id = sqlite3_last_insert_rowid(db);
	return MC_OK;
}

/* Everything one publish holds, freed in one place. */
struct pub_run {
	struct pub_src src;
	struct mcc_place *places;
	size_t n_places;
	struct pub_old *old;
	size_t n_old;
	uint64_t *bits; /* n_places * nw */
	size_t nw;
	size_t *node_group; /* group index per place */
	struct pub_group *groups;
	size_t n_groups;
	struct sign_job *jobs;
	size_t n_jobs;
	struct sent *sent;
};

static void run_free(struct pub_run *r)
{
	src_free(&r->src);
	mcc_places_free(r->places, r->n_places);
	free_old(r->old, r->n_old);
	free(r->bits);
	free(r->node_group);
	for (size_t i = 0; i < r->n_groups; i++)
		free(r->groups[i].json);
	free(r->groups);
	for (size_t i = 0; i < r->n_jobs; i++)
		free(r->jobs[i].envelope);
	free(r->jobs);
	free(r->sent);
	memset(r, 0, sizeof(*r));
}

/* Group the nodes by their bit sets (open addressing on the hash). */
static enum mc_err group_nodes(struct pub_run *r, struct mc_error *err)
{
	size_t cap = 16, mask;
	ptrdiff_t *table;

	while (cap < r->n_places * 2 + 2)
		cap *= 2;
	mask = cap - 1;
	table = malloc(cap * sizeof(*table));
	r->groups = calloc(r->n_places + 1, sizeof(*r->groups));
	r->node_group = calloc(r->n_places + 1, sizeof(*r->node_group));
	if (!table || !r->groups || !r->node_group) {
		free(table);
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < cap; i++)
		table[i] = -1;
	for (size_t i = 0; i < r->n_places; i++) {
		uint64_t *b = r->bits + i * r->nw;
		uint64_t h = bits_hash(b, r->nw);
		size_t slot = (size_t)h & mask;

		for (;;) {
			ptrdiff_t g = table[slot];

			if (g < 0) {
				g = (ptrdiff_t)r->n_groups++;
				r->groups[g].bits = b;
				r->groups[g].hash = h;
				table[slot] = g;
			}
			if (r->groups[g].hash == h &&
			    memcmp(r->groups[g].bits, b, r->nw * sizeof(*b)) ==
			            0) {
				r->node_group[i] = (size_t)g;
				r->groups[g].nodes++;
				break;
			}
			slot = (slot + 1) & mask;
		}
	}
	free(table);
	return MC_OK;
}

enum mc_err mcc_publish(struct mcc *c, const struct mcc_principal *who,
                        bool force, struct mcc_publish_report *rep,
                        struct mc_error *err)
{
	struct pub_run r = {0};
	sqlite3 *db = mcc_db(c);
	double t0 = now_ms_f(), t = t0, t1;
	int64_t now = mc_now_ms(), left = 0;
	int64_t resign_ms = c->cfg.resign_before_s * 1000;
	enum mc_err rc = MC_OK;
	bool in_tx = false;
	char idbuf[32];
	json_t *after = NULL;
	size_t n_sent = 0;

	memset(rep, 0, sizeof(*rep));
	rep->at_ms = now;
	if (!c->have_key)
		return mc_error_set(
		        err, MC_ERR_CONFLICT,
		        "key: controller không có khoá ký, không thể "
		        "phát hành / the controller has no signing "
		        "key (key_file), publishing is refused");
	if (!db)
		return mc_error_set(err, MC_ERR_IO,
		                    "database: cannot be opened");
	pthread_mutex_lock(&c->publish_lock);
	/* The write lock first: what is read is what is written over. */
	rc = mcc_db_begin(db);
	if (rc != MC_OK) {
		mc_error_set(err, rc, "database: busy");
		goto out;
	}
	in_tx = true;
	rc = src_load(db, false, &r.src, err);
	if (rc == MC_OK)
		rc = mcc_org_all_places(db, &r.places, &r.n_places, err);
	if (rc == MC_OK)
		rc = load_old(db, &r.old, &r.n_old, err);
	if (rc != MC_OK)
		goto out;
	log_skipped(&r.src);
	t1 = now_ms_f();
	rep->phase_ms[MCC_PHASE_LOAD] = t1 - t;
	t = t1;

	r.nw = r.src.n_entries / 64 + 1;
	r.bits = calloc(r.n_places * r.nw + 1, sizeof(*r.bits));
	if (!r.bits) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r.n_places; i++)
		select_bits(&r.src, &r.places[i], r.bits + i * r.nw, r.nw);
	rc = group_nodes(&r, err);
	if (rc != MC_OK)
		goto out;
	t1 = now_ms_f();
	rep->phase_ms[MCC_PHASE_SELECT] = t1 - t;
	t = t1;

	for (size_t g = 0; g < r.n_groups; g++) {
		struct pub_group *pg = &r.groups[g];

		rc = compile_bits(&r.src, pg->bits, &pg->json, err);
		if (rc != MC_OK) {
			char msg[MC_ERROR_MSG_MAX];

			snprintf(msg, sizeof(msg), "%s", err->msg);
			rc = mc_error_set(err, MC_ERR_CONFLICT,
			                  "manifest: %s (%" PRId64 " nodes)",
			                  msg, pg->nodes);
			goto out;
		}
		pg->size = (int64_t)strlen(pg->json);
		mc_sha256_hex(pg->json, (size_t)pg->size, pg->sha);
		pg->is_new = !manifest_known(db, pg->sha);
		rep->manifests_new += pg->is_new;
	}
	rep->manifests = (int64_t)r.n_groups;
	rep->nodes = (int64_t)r.n_places;
	rep->skipped = json_incref(r.src.skipped);
	t1 = now_ms_f();
	rep->phase_ms[MCC_PHASE_COMPILE] = t1 - t;
	t = t1;

	/* Which nodes get a new pointer. */
	r.jobs = calloc(r.n_places + 1, sizeof(*r.jobs));
	if (!r.jobs) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r.n_places; i++) {
		const struct pub_group *pg = &r.groups[r.node_group[i]];
		const struct pub_old *o =
		        find_old(r.old, r.n_old, r.places[i].node);
		bool need = force || !o || !o->has_pointer ||
		            strcmp(o->sha, pg->sha) != 0 ||
		            o->expires_ms - now < resign_ms ||
		            o->applied_version > o->version;
		int64_t last = 0;

		if (!need)
			continue;
		if (o)
			last = o->version > o->applied_version
			               ? o->version
			               : o->applied_version;
		if (o && o->applied_version > o->version)
			mc_log_warn(LOG,
			            "node %s has had version %" PRId64
			            ", above the %" PRId64
			            " this database holds (restored from a "
			            "backup, or the node was deleted and "
			            "registered again); its new pointer gets "
			            "%" PRId64,
			            o->node, o->applied_version, o->version,
			            last + 1);
		r.jobs[r.n_jobs++] = (struct sign_job){
		        .node = r.places[i].node,
		        .version = last + 1,
		        .sha = pg->sha,
		        .size = pg->size,
		};
	}
	rc = sign_all(c, r.jobs, r.n_jobs, now, err);
	if (rc != MC_OK)
		goto out;
	rep->changed = (int64_t)r.n_jobs;
	t1 = now_ms_f();
	rep->phase_ms[MCC_PHASE_SIGN] = t1 - t;
	t = t1;

	rc = insert_publish(db, who, force, rep, err);
	for (size_t g = 0; rc == MC_OK && g < r.n_groups; g++)
		if (r.groups[g].is_new)
			rc = store_manifest(c, db, &r.groups[g], &r.src,
			                    rep->id, err);
	for (size_t i = 0; rc == MC_OK && i < r.n_jobs; i++)
		rc = store_job(db, &r.jobs[i], now,
		               now + c->cfg.pointer_ttl_s * 1000, rep->id, err);
	if (rc != MC_OK)
		goto out;
	snprintf(idbuf, sizeof(idbuf), "%" PRId64, rep->id);
	after = json_pack(
	        "{s:b, s:I, s:I, s:I, s:I, s:O}", "force", force, "nodes",
	        (json_int_t)rep->nodes, "changed", (json_int_t)rep->changed,
	        "manifests", (json_int_t)rep->manifests, "manifests_new",
	        (json_int_t)rep->manifests_new, "skipped", rep->skipped);
	rc = mcc_audit(db, who, "publish", "publish", idbuf, NULL, after);
	if (rc != MC_OK) {
		mc_error_set(err, rc, "audit: cannot be written");
		goto out;
	}
	rc = mcc_db_commit(db);
	if (rc != MC_OK) {
		mc_error_set(err, rc, "database: commit failed");
		goto out;
	}
	in_tx = false;
	t1 = now_ms_f();
	rep->phase_ms[MCC_PHASE_STORE] = t1 - t;
	t = t1;

	/* After the commit: the broker gets only what is stored. */
	r.sent = calloc(r.n_jobs + 1, sizeof(*r.sent));
	if (!r.sent) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < r.n_jobs; i++) {
		if (!send_pointer(c, r.jobs[i].node, r.jobs[i].envelope,
		                  r.jobs[i].env_len))
			continue;
		r.sent[n_sent].node = r.jobs[i].node;
		r.sent[n_sent].version = r.jobs[i].version;
		n_sent++;
	}
	rep->duration_ms = (int64_t)(now_ms_f() - t0 + 0.5);
	if (n_sent || rep->id > 0)
		mark_published(db, r.sent, n_sent, rep->id, n_sent == r.n_jobs,
		               rep->duration_ms);
	rep->published = (int64_t)n_sent;
	rep->pending = (int64_t)(r.n_jobs - n_sent);
	/* Pointers of earlier publishes the broker did not take. */
	if (mcc_mqtt_connected(c)) {
		rep->published += publish_pending(c, db, &left);
		rep->pending = left;
	} else {
		sqlite3_stmt *st = mcc_db_prepare(db, "SELECT count(*) FROM "
		                                      "node_desired WHERE "
		                                      "published = 0");

		if (st && sqlite3_step(st) == SQLITE_ROW)
			rep->pending = sqlite3_column_int64(st, 0);
		mcc_db_done(st);
	}
	t1 = now_ms_f();
	rep->phase_ms[MCC_PHASE_MQTT] = t1 - t;
	rep->duration_ms = (int64_t)(t1 - t0 + 0.5);
	mc_log_info(LOG,
	            "publish %" PRId64 " by %s: %" PRId64 " nodes, %" PRId64
	            " new pointers (%" PRId64 " to the broker, %" PRId64
	            " pending), %" PRId64 " manifests (%" PRId64
	            " new), %zu left out, in %" PRId64 " ms (load %.0f, "
	            "select %.0f, compile %.0f, sign %.0f, store %.0f, "
	            "mqtt %.0f)",
	            rep->id, who && who->name[0] ? who->name : "controller",
	            rep->nodes, rep->changed, rep->published, rep->pending,
	            rep->manifests, rep->manifests_new,
	            json_array_size(rep->skipped), rep->duration_ms,
	            rep->phase_ms[0], rep->phase_ms[1], rep->phase_ms[2],
	            rep->phase_ms[3], rep->phase_ms[4], rep->phase_ms[5]);
out:
	if (in_tx)
		mcc_db_rollback(db);
	if (rc != MC_OK) {
		mc_log_error(LOG, "publish failed: %s", err->msg);
		mcc_publish_report_clear(rep);
	}
	json_decref(after);
	run_free(&r);
	pthread_mutex_unlock(&c->publish_lock);
	return rc;
}

/* ---- the tick ---- */

/* Re-sign pointers close to expiry: new version, same manifest. */
static void resign_due(struct mcc *c, sqlite3 *db)
{
	static const struct mcc_principal sys = {
	        .user_id = 0, .name = "controller", .roles = MCC_ROLE_ADMIN};
	int64_t now = mc_now_ms();
	sqlite3_stmt *st;
	struct sign_job *jobs = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct mc_error err = {0};
	json_t *after = NULL;
	int r;

	st = mcc_db_prepare(db, "SELECT d.node_id, max(d.version, "
	                        "coalesce(l.applied_version, 0)), "
	                        "d.manifest_sha256, m.size FROM node_desired "
	                        "d JOIN manifests m ON m.sha256 = "
	                        "d.manifest_sha256 LEFT JOIN node_live l ON "
	                        "l.node_id = d.node_id WHERE d.expires_ms < ? "
	                        "ORDER BY d.node_id");
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, now + c->cfg.resign_before_s * 1000);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct sign_job *nj = realloc(jobs, ncap * sizeof(*nj));
			char **nn = realloc(names, ncap * 2 * sizeof(*nn));

			if (nj)
				jobs = nj;
			if (nn)
				names = nn;
			if (!nj || !nn)
				break;
			cap = ncap;
		}
		memset(&jobs[n], 0, sizeof(jobs[n]));
		names[2 * n] =
		        mc_strdup((const char *)sqlite3_column_text(st, 0));
		names[2 * n + 1] =
		        mc_strdup((const char *)sqlite3_column_text(st, 2));
		if (!names[2 * n] || !names[2 * n + 1]) {
			free(names[2 * n]);
			free(names[2 * n + 1]);
			break;
		}
		jobs[n].node = names[2 * n];
		jobs[n].version = sqlite3_column_int64(st, 1) + 1;
		jobs[n].sha = names[2 * n + 1];
		jobs[n].size = sqlite3_column_int64(st, 3);
		n++;
	}
	mcc_db_done(st);
	if (n == 0)
		goto out;
	if (sign_all(c, jobs, n, now, &err) != MC_OK) {
		mc_log_error(LOG, "re-signing pointers failed: %s", err.msg);
		goto out;
	}
	if (mcc_db_begin(db) != MC_OK)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (store_job(db, &jobs[i], now,
		              now + c->cfg.pointer_ttl_s * 1000, 0,
		              &err) != MC_OK) {
			mc_log_error(LOG, "re-signing pointers failed: %s",
			             err.msg);
			mcc_db_rollback(db);
			goto out;
		}
	after = json_pack("{s:I, s:I}", "nodes", (json_int_t)n, "expires_ms",
	                  (json_int_t)(now + c->cfg.pointer_ttl_s * 1000));
	if (mcc_audit(db, &sys, "publish.resign", "publish", NULL, NULL,
	              after) != MC_OK ||
	    mcc_db_commit(db) != MC_OK) {
		mcc_db_rollback(db);
		goto out;
	}
	mc_log_info(LOG,
	            "re-signed %zu pointers nearing expiry (new versions, "
	            "same manifests)",
	            n);
out:
	json_decref(after);
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].envelope);
		free(names[2 * i]);
		free(names[2 * i + 1]);
	}
	free(jobs);
	free(names);
}

void mcc_publish_tick(struct mcc *c)
{
	sqlite3 *db;
	int64_t left = 0, sent;

	if (pthread_mutex_trylock(&c->publish_lock) != 0)
		return; /* a publish runs; next second */
	db = mcc_db(c);
	if (!db)
		goto out;
	/* An indexed look at expires_ms: nothing to read on most ticks. */
	if (c->have_key)
		resign_due(c, db);
	if (mcc_mqtt_connected(c)) {
		sqlite3_stmt *st = mcc_db_prepare(db, "SELECT 1 FROM "
		                                      "node_desired WHERE "
		                                      "published = 0 LIMIT 1");
		bool any = st && sqlite3_step(st) == SQLITE_ROW;

		mcc_db_done(st);
		if (any) {
			sent = publish_pending(c, db, &left);
			if (sent)
				mc_log_info(LOG,
				            "%" PRId64
				            " pending pointers handed "
				            "to the broker, %" PRId64 " still "
				            "pending",
				            sent, left);
		}
	}
out:
	pthread_mutex_unlock(&c->publish_lock);
}

/* ---- HTTP ---- */

/* What the (optional) body of POST /v1/publish may hold. */
static const char *const publish_keys[] = {"force", NULL};

static void h_publish(struct mcc_req *rq, struct mcc_resp *rs)
{
	struct mcc_publish_report rep = {0};
	struct mc_error err = {0};
	bool force = false;
	json_t *body = NULL, *v;

	if (rq->body_len > 0) {
		body = mcc_req_json(rq, rs);
		if (!body)
			return;
		if (!mcc_req_keys_known(body, publish_keys, rs))
			goto out;
		v = json_object_get(body, "force");
		if (v && !json_is_null(v)) {
			if (!json_is_boolean(v)) {
				mcc_resp_error(
				        rs, 400, "force",
				        "force: phải là true hoặc false / "
				        "must be true or false");
				goto out;
			}
			force = json_is_true(v);
		}
	}
	if (mcc_publish(rq->c, &rq->who, force, &rep, &err) != MC_OK) {
		mcc_resp_mc_error(rs, &err);
		goto out;
	}
	mcc_resp_json(rs, 200, mcc_publish_report_json(&rep));
out:
	mcc_publish_report_clear(&rep);
	json_decref(body);
}

static void h_publishes(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	sqlite3_stmt *st;
	int64_t limit, offset, total = 0;
	json_t *items, *v;
	size_t i;

	if (!mcc_req_query_int(rq, rs, "limit", 50, 0, 1000, &limit) ||
	    !mcc_req_query_int(rq, rs, "offset", 0, 0, INT64_MAX / 2, &offset))
		return;
	st = mcc_db_prepare(db, "SELECT count(*) FROM publishes");
	if (st && sqlite3_step(st) == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	mcc_db_done(st);
	st = mcc_db_prepare(
	        db, "SELECT p.id, p.at_ms, p.user_id, u.name AS user, "
	            "p.force, p.nodes, p.changed, p.manifests, "
	            "p.manifests_new, p.skipped_json, p.duration_ms FROM "
	            "publishes p LEFT JOIN users u ON u.id = p.user_id ORDER "
	            "BY p.id DESC LIMIT ? OFFSET ?");
	if (!st) {
		mcc_resp_db_error(rs);
		return;
	}
	sqlite3_bind_int64(st, 1, limit);
	sqlite3_bind_int64(st, 2, offset);
	items = mcc_db_rows(st);
	mcc_db_done(st);
	if (!items) {
		mcc_resp_db_error(rs);
		return;
	}
	json_array_foreach(items, i, v)
	{
		json_object_set_new(v, "force",
		                    json_boolean(json_integer_value(
		                            json_object_get(v, "force"))));
	}
	mcc_resp_json(rs, 200,
	              json_pack("{s:o, s:I}", "items", items, "total",
	                        (json_int_t)total));
}

/* State of a node in the rollout. */
static const char *rollout_state(sqlite3_stmt *st)
{
	bool has_desired = sqlite3_column_type(st, 2) != SQLITE_NULL;
	int64_t desired = sqlite3_column_int64(st, 2);
	int64_t applied = sqlite3_column_int64(st, 5);
	bool online = sqlite3_column_int(st, 7) != 0;

	if (!has_desired)
		return "unpublished";
	if (applied >= desired)
		return "applied";
	return online ? "pending" : "offline";
}

static void h_rollout(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	sqlite3_stmt *st;
	const char *site = mcc_req_query(rq, "site");
	const char *want = mcc_req_query(rq, "state");
	int64_t limit, offset, n_desired = 0, idx = 0;
	int64_t count[4] = {0}; /* applied, pending, offline, unpublished */
	static const char *const names[4] = {"applied", "pending", "offline",
	                                     "unpublished"};
	json_t *items = json_array(), *totals;
	int r;

	if (!mcc_req_query_int(rq, rs, "limit", INT64_MAX / 2, 0, INT64_MAX / 2,
	                       &limit) ||
	    !mcc_req_query_int(rq, rs, "offset", 0, 0, INT64_MAX / 2, &offset))
		goto fail;
	if (site && !mc_id_valid(site)) {
		mcc_resp_error(rs, 400, "site",
		               "site: mã không hợp lệ / not a valid id");
		goto fail;
	}
	if (want && strcmp(want, "applied") != 0 &&
	    strcmp(want, "pending") != 0 && strcmp(want, "offline") != 0 &&
	    strcmp(want, "unpublished") != 0) {
		mcc_resp_error(rs, 400, "state",
		               "state: phải là applied, pending, offline hoặc "
		               "unpublished / must be applied, pending, "
		               "offline or unpublished");
		goto fail;
	}
	st = mcc_db_prepare(
	        db, "SELECT n.id, n.site_id, d.version, d.manifest_sha256, "
	            "d.issued_ms, l.applied_version, l.applied_ms, l.online, "
	            "d.published FROM nodes n LEFT JOIN node_desired d ON "
	            "d.node_id = n.id LEFT JOIN node_live l ON l.node_id = "
	            "n.id WHERE ?1 IS NULL OR n.site_id = ?1 ORDER BY n.id");
	if (!st) {
		mcc_resp_db_error(rs);
		goto fail;
	}
	if (site)
		sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *state = rollout_state(st);
		json_t *o;

		for (int i = 0; i < 4; i++)
			if (strcmp(state, names[i]) == 0)
				count[i]++;
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			n_desired++;
		if (want && strcmp(want, state) != 0)
			continue;
		if (idx++ < offset || (int64_t)json_array_size(items) >= limit)
			continue;
		o = json_pack("{s:s, s:s, s:s}", "node",
		              (const char *)sqlite3_column_text(st, 0), "site",
		              (const char *)sqlite3_column_text(st, 1), "state",
		              state);
		if (!o)
			continue;
		json_object_set_new(
		        o, "desired_version",
		        sqlite3_column_type(st, 2) == SQLITE_NULL
		                ? json_null()
		                : json_integer(sqlite3_column_int64(st, 2)));
		json_object_set_new(
		        o, "manifest_sha256",
		        sqlite3_column_type(st, 3) == SQLITE_NULL
		                ? json_null()
		                : json_string((const char *)sqlite3_column_text(
		                          st, 3)));
		json_object_set_new(
		        o, "issued_ms",
		        sqlite3_column_type(st, 4) == SQLITE_NULL
		                ? json_null()
		                : json_integer(sqlite3_column_int64(st, 4)));
		json_object_set_new(o, "applied_version",
		                    json_integer(sqlite3_column_int64(st, 5)));
		json_object_set_new(
		        o, "applied_ms",
		        sqlite3_column_type(st, 6) == SQLITE_NULL
		                ? json_null()
		                : json_integer(sqlite3_column_int64(st, 6)));
		json_object_set_new(o, "online",
		                    json_boolean(sqlite3_column_int(st, 7)));
		json_object_set_new(o, "published",
		                    json_boolean(sqlite3_column_type(st, 8) !=
		                                         SQLITE_NULL &&
		                                 sqlite3_column_int(st, 8)));
		json_array_append_new(items, o);
	}
	if (r != SQLITE_DONE) {
		mcc_resp_error(rs, 500, NULL,
		               "cơ sở dữ liệu lỗi: %s / "
		               "database error",
		               sqlite3_errmsg(db));
		mcc_db_done(st);
		goto fail;
	}
	mcc_db_done(st);
	totals = json_pack(
	        "{s:I, s:I, s:I, s:I, s:I, s:I}", "nodes",
	        (json_int_t)(count[0] + count[1] + count[2] + count[3]),
	        "desired", (json_int_t)n_desired, "applied",
	        (json_int_t)count[0], "pending", (json_int_t)count[1],
	        "offline", (json_int_t)count[2], "unpublished",
	        (json_int_t)count[3]);
	json_object_set_new(totals, "progress_percent",
	                    json_real(n_desired ? 100.0 * (double)count[0] /
	                                                  (double)n_desired
	                                        : 100.0));
	json_object_set_new(
	        totals, "online_progress_percent",
	        json_real(count[0] + count[1]
	                          ? 100.0 * (double)count[0] /
	                                    (double)(count[0] + count[1])
	                          : 100.0));
	mcc_resp_json(rs, 200,
	              json_pack("{s:o, s:I, s:o}", "items", items, "total",
	                        (json_int_t)idx, "totals", totals));
	return;
fail:
	json_decref(items);
}

static void h_desired(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	const char *node = rq->params[0];
	sqlite3_stmt *st;
	json_t *rows, *o, *env;
	const char *body;

	if (!mc_id_valid(node)) {
		mcc_resp_error(rs, 404, NULL,
		               "không có nút '%.64s' / no node '%.64s'", node,
		               node);
		return;
	}
	st = mcc_db_prepare(db, "SELECT node_id AS node, version, "
	                        "manifest_sha256, issued_ms, expires_ms, "
	                        "published, published_ms, publish_id, "
	                        "envelope FROM node_desired WHERE node_id = "
	                        "?");
	if (!st) {
		mcc_resp_db_error(rs);
		return;
	}
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	rows = mcc_db_rows(st);
	mcc_db_done(st);
	o = json_array_get(rows, 0);
	if (!o) {
		json_decref(rows);
		mcc_resp_error(rs, 404, NULL,
		               "nút '%s' chưa được phát hành / node '%s' has "
		               "no published pointer",
		               node, node);
		return;
	}
	json_incref(o);
	json_decref(rows);
	json_object_set_new(o, "published",
	                    json_boolean(json_integer_value(
	                            json_object_get(o, "published"))));
	/* The signed body, decoded for people; the envelope stays exact. */
	env = json_loads(json_string_value(json_object_get(o, "envelope")), 0,
	                 NULL);
	body = json_string_value(json_object_get(env, "body"));
	if (body)
		json_object_set_new(o, "pointer", json_loads(body, 0, NULL));
	json_decref(env);
	mcc_resp_json(rs, 200, o);
}

const struct mcc_route mcc_publish_routes[] = {
        {"POST", "/v1/publish", MCC_ROLE_APPROVER, 4096, 0, h_publish},
        {"GET", "/v1/publishes", MCC_ROLE_ANY_USER, 0, 0, h_publishes},
        {"GET", "/v1/rollout", MCC_ROLE_ANY_USER, 0, 0, h_rollout},
        {"GET", "/v1/nodes/{}/desired", MCC_ROLE_ANY_USER, 0, 0, h_desired},
        {NULL, NULL, 0, 0, 0, NULL},
};
