/*
 * The organisation: group → company → site → node, node tags, and the
 * targets that select nodes through that hierarchy (org.h).
 *
 * The first half answers "where does this node sit" and "which nodes do
 * these targets select" for publishing, alerts and previews; the second
 * half is the CRUD API of /v1/groups, /v1/companies, /v1/sites and
 * /v1/nodes (docs/api.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/log.h"
#include "minecast/sched.h"
#include "minecast/text.h"
#include "minecast/topics.h"
#include "minecast/util.h"

#include "audit.h"
#include "commands.h"
#include "db.h"
#include "http.h"
#include "mcc.h"
#include "mqtt.h"
#include "org.h"
#include "org_internal.h"
#include "provision.h"

/* ------------------------------------------------------------------ */
/* A growable array of strings */

void mcc__strv_free(struct mcc__strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->s[i]);
	MC_FREE(v->s);
	v->n = v->cap = 0;
}

enum mc_err mcc__strv_push(struct mcc__strv *v, const char *s)
{
	char *copy;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		char **grown = realloc(v->s, cap * sizeof(*grown));

		if (!grown)
			return MC_ERR_NOMEM;
		v->s = grown;
		v->cap = cap;
	}
	copy = strdup(s);
	if (!copy)
		return MC_ERR_NOMEM;
	v->s[v->n++] = copy;
	return MC_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mcc__strv_sort_unique(struct mcc__strv *v)
{
	size_t out = 0;

	if (v->n < 2)
		return;
	qsort(v->s, v->n, sizeof(*v->s), cmp_str);
	for (size_t i = 0; i < v->n; i++) {
		if (out > 0 && strcmp(v->s[out - 1], v->s[i]) == 0) {
			free(v->s[i]);
			continue;
		}
		v->s[out++] = v->s[i];
	}
	v->n = out;
}

/* ------------------------------------------------------------------ */
/* Places */

/* A column as a new string; NULL for SQL NULL (and *oom on failure). */
static char *col_str(sqlite3_stmt *st, int i, bool *oom)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	char *s;

	if (!t)
		return NULL;
	s = strdup((const char *)t);
	if (!s)
		*oom = true;
	return s;
}

void mcc_place_clear(struct mcc_place *p)
{
	if (!p)
		return;
	free(p->node);
	free(p->site);
	free(p->company);
	free(p->group);
	for (size_t i = 0; i < p->n_tags; i++)
		free(p->tags[i]);
	free(p->tags);
	memset(p, 0, sizeof(*p));
}

void mcc_places_free(struct mcc_place *places, size_t n)
{
	if (!places)
		return;
	for (size_t i = 0; i < n; i++)
		mcc_place_clear(&places[i]);
	free(places);
}

static enum mc_err db_error(sqlite3 *db, const char *what, struct mc_error *err)
{
	mc_log_error("org", "%s: %s", what, sqlite3_errmsg(db));
	return mc_error_set(err, MC_ERR_IO,
	                    "cơ sở dữ liệu lỗi / database error (%s)", what);
}

/* Step st to its one row: MC_OK on a row, MC_ERR_NOTFOUND naming the
 * missing key/id (vi: what it is, in Vietnamese), a database error
 * otherwise (what: the query, for the log). */
static enum mc_err place_row(sqlite3 *db, sqlite3_stmt *st, const char *what,
                             const char *key, const char *vi, const char *id,
                             struct mc_error *err)
{
	const char *shown = mc_id_valid(id) ? id : "?";
	int step = sqlite3_step(st);

	if (step == SQLITE_ROW)
		return MC_OK;
	if (step == SQLITE_DONE)
		return mc_error_set(err, MC_ERR_NOTFOUND,
		                    "%s: không có %s '%.64s' / no %s '%.64s'",
		                    key, vi, shown, key, shown);
	return db_error(db, what, err);
}

/* Append a tag to a place. */
static enum mc_err place_add_tag(struct mcc_place *p, const char *tag)
{
	char **grown = realloc(p->tags, (p->n_tags + 1) * sizeof(*grown));

	if (!grown)
		return MC_ERR_NOMEM;
	p->tags = grown;
	p->tags[p->n_tags] = strdup(tag);
	if (!p->tags[p->n_tags])
		return MC_ERR_NOMEM;
	p->n_tags++;
	return MC_OK;
}

enum mc_err mcc_org_node_place(sqlite3 *db, const char *node,
                               struct mcc_place *out, struct mc_error *err)
{
	struct mcc_place p = {0};
	sqlite3_stmt *st = NULL;
	enum mc_err rc = MC_OK;
	bool oom = false;
	int step;

	st = mcc_db_prepare(db, "SELECT n.site_id, s.company_id, c.group_id "
	                        "FROM nodes n JOIN sites s ON s.id = n.site_id "
	                        "LEFT JOIN companies c ON c.id = s.company_id "
	                        "WHERE n.id = ?1");
	if (!st) {
		rc = db_error(db, "node place", err);
		goto fail;
	}
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	rc = place_row(db, st, "node place", "node", "thiết bị", node, err);
	if (rc != MC_OK)
		goto fail;
	p.node = strdup(node);
	oom = !p.node;
	p.site = col_str(st, 0, &oom);
	p.company = col_str(st, 1, &oom);
	p.group = col_str(st, 2, &oom);
	mcc_db_done(st);
	st = NULL;
	if (oom) {
		rc = MC_ERR_NOMEM;
		goto fail;
	}

	st = mcc_db_prepare(db, "SELECT tag FROM node_tags WHERE node_id = ?1 "
	                        "ORDER BY tag");
	if (!st) {
		rc = db_error(db, "node tags", err);
		goto fail;
	}
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		rc = place_add_tag(&p,
		                   (const char *)sqlite3_column_text(st, 0));
		if (rc != MC_OK)
			goto fail;
	}
	if (step != SQLITE_DONE) {
		rc = db_error(db, "node tags", err);
		goto fail;
	}
	mcc_db_done(st);
	*out = p;
	return MC_OK;
fail:
	if (st)
		mcc_db_done(st);
	if (rc == MC_ERR_NOMEM)
		mc_error_set(err, rc, "out of memory");
	mcc_place_clear(&p);
	return rc;
}

enum mc_err mcc_org_site_place(sqlite3 *db, const char *site,
                               struct mcc_place *out, struct mc_error *err)
{
	struct mcc_place p = {0};
	sqlite3_stmt *st;
	enum mc_err rc = MC_OK;
	bool oom = false;

	st = mcc_db_prepare(db, "SELECT s.company_id, c.group_id FROM sites s "
	                        "LEFT JOIN companies c ON c.id = s.company_id "
	                        "WHERE s.id = ?1");
	if (!st)
		return db_error(db, "site place", err);
	sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
	rc = place_row(db, st, "site place", "site", "công trường", site, err);
	if (rc != MC_OK)
		goto out;
	p.site = strdup(site);
	oom = !p.site;
	p.company = col_str(st, 0, &oom);
	p.group = col_str(st, 1, &oom);
	if (oom) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		mcc_place_clear(&p);
		goto out;
	}
	*out = p;
out:
	mcc_db_done(st);
	return rc;
}

enum mc_err mcc_org_all_places(sqlite3 *db, struct mcc_place **out, size_t *n,
                               struct mc_error *err)
{
	struct mcc_place *places = NULL;
	size_t count = 0, cap = 0, at = 0;
	sqlite3_stmt *st = NULL;
	enum mc_err rc = MC_OK;
	bool oom = false;
	int step;

	*out = NULL;
	*n = 0;
	st = mcc_db_prepare(db, "SELECT n.id, n.site_id, s.company_id, "
	                        "c.group_id FROM nodes n "
	                        "JOIN sites s ON s.id = n.site_id "
	                        "LEFT JOIN companies c ON c.id = s.company_id "
	                        "ORDER BY n.id");
	if (!st) {
		rc = db_error(db, "all places", err);
		goto fail;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct mcc_place *p;

		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct mcc_place *grown =
			        realloc(places, ncap * sizeof(*grown));

			if (!grown) {
				rc = MC_ERR_NOMEM;
				goto fail;
			}
			places = grown;
			cap = ncap;
		}
		p = &places[count++];
		memset(p, 0, sizeof(*p));
		p->node = col_str(st, 0, &oom);
		p->site = col_str(st, 1, &oom);
		p->company = col_str(st, 2, &oom);
		p->group = col_str(st, 3, &oom);
		if (oom) {
			rc = MC_ERR_NOMEM;
			goto fail;
		}
	}
	if (step != SQLITE_DONE) {
		rc = db_error(db, "all places", err);
		goto fail;
	}
	mcc_db_done(st);

	/* Tags, in the same order as the nodes: one merge pass. */
	st = mcc_db_prepare(db, "SELECT node_id, tag FROM node_tags "
	                        "ORDER BY node_id, tag");
	if (!st) {
		rc = db_error(db, "all tags", err);
		goto fail;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *node = (const char *)sqlite3_column_text(st, 0);
		const char *tag = (const char *)sqlite3_column_text(st, 1);
		int c = 1;

		while (at < count && (c = strcmp(places[at].node, node)) < 0)
			at++;
		if (at == count)
			break;
		if (c != 0)
			continue; /* a tag of a node not listed: cannot be */
		rc = place_add_tag(&places[at], tag);
		if (rc != MC_OK)
			goto fail;
	}
	if (step != SQLITE_DONE && step != SQLITE_ROW) {
		rc = db_error(db, "all tags", err);
		goto fail;
	}
	mcc_db_done(st);
	*out = places;
	*n = count;
	return MC_OK;
fail:
	if (st)
		mcc_db_done(st);
	if (rc == MC_ERR_NOMEM)
		mc_error_set(err, rc, "out of memory");
	mcc_places_free(places, count);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Targets */

/* The lists a targets object may hold, and what their ids name. */
static const struct target_list {
	const char *key;   /* JSON key */
	const char *table; /* table whose ids it names; NULL = free (tags) */
	const char *vi;    /* what it names, in Vietnamese */
	const char *en;    /* and in English */
} target_lists[] = {
        {"groups", "groups", "tập đoàn", "group"},
        {"companies", "companies", "công ty", "company"},
        {"sites", "sites", "công trường", "site"},
        {"tags", NULL, "nhãn", "tag"},
        {"nodes", "nodes", "thiết bị", "node"},
};

static const struct target_list *target_list_find(const char *key)
{
	for (size_t i = 0; i < MC_ARRAY_LEN(target_lists); i++)
		if (strcmp(target_lists[i].key, key) == 0)
			return &target_lists[i];
	return NULL;
}

/* Does id exist in table?  -1 on a database error. */
int mcc__org_exists(sqlite3 *db, const char *table, const char *id)
{
	char sql[80];
	sqlite3_stmt *st;
	int step;

	snprintf(sql, sizeof(sql), "SELECT 1 FROM \"%s\" WHERE id = ?1", table);
	st = mcc_db_prepare(db, sql);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	mcc_db_done(st);
	if (step == SQLITE_ROW)
		return 1;
	return step == SQLITE_DONE ? 0 : -1;
}

enum mc_err mcc_targets_validate(sqlite3 *db, const json_t *targets,
                                 struct mc_error *err)
{
	const char *key;
	json_t *list;

	if (!targets || json_is_null(targets))
		return MC_OK;
	if (!json_is_object(targets))
		return mc_error_set(err, MC_ERR_TYPE,
		                    "targets: phải là một đối tượng / must be "
		                    "an object");
	json_object_foreach((json_t *)targets, key, list)
	{
		const struct target_list *tl = target_list_find(key);
		size_t i;
		json_t *v;

		if (!tl)
			return mc_error_set(
			        err, MC_ERR_RANGE,
			        "targets: khóa không hợp lệ / unknown key "
			        "(groups, companies, sites, tags, nodes)");
		if (!json_is_array(list))
			return mc_error_set(err, MC_ERR_TYPE,
			                    "targets.%s: phải là một mảng / "
			                    "must be an array",
			                    tl->key);
		if (json_array_size(list) > MCC_TARGETS_MAX)
			return mc_error_set(
			        err, MC_ERR_RANGE,
			        "targets.%s: tối đa %d / at most %d", tl->key,
			        MCC_TARGETS_MAX, MCC_TARGETS_MAX);
		json_array_foreach(list, i, v)
		{
			const char *id = json_string_value(v);
			int found;

			if (!id)
				return mc_error_set(err, MC_ERR_TYPE,
				                    "targets.%s[%zu]: phải là "
				                    "chuỗi / must be a string",
				                    tl->key, i);
			if (!mc_id_valid(id))
				return mc_error_set(
				        err, MC_ERR_RANGE,
				        "targets.%s[%zu]: mã không hợp lệ / "
				        "not an id ([A-Za-z0-9._-], 1 to 64)",
				        tl->key, i);
			if (!tl->table)
				continue;
			found = mcc__org_exists(db, tl->table, id);
			if (found < 0)
				return db_error(db, "targets", err);
			if (!found)
				return mc_error_set(
				        err, MC_ERR_REF,
				        "targets.%s[%zu]: không có %s "
				        "'%s' / no %s '%s'",
				        tl->key, i, tl->vi, id, tl->en, id);
		}
	}
	return MC_OK;
}

/* Does the array list hold the string s? */
static bool list_has(const json_t *list, const char *s)
{
	size_t i;
	json_t *v;

	if (!s || !json_is_array(list))
		return false;
	json_array_foreach((json_t *)list, i, v)
	{
		const char *id = json_string_value(v);

		if (id && strcmp(id, s) == 0)
			return true;
	}
	return false;
}

static size_t list_size(const json_t *targets, const char *key)
{
	const json_t *list = json_object_get(targets, key);

	return json_is_array(list) ? json_array_size(list) : 0;
}

/* True when targets names nothing (the whole fleet). */
static bool targets_empty(const json_t *targets)
{
	if (!json_is_object(targets))
		return true;
	for (size_t i = 0; i < MC_ARRAY_LEN(target_lists); i++)
		if (list_size(targets, target_lists[i].key) > 0)
			return false;
	return true;
}

bool mcc_targets_select(const json_t *targets, const struct mcc_place *p)
{
	const json_t *tags;

	if (targets_empty(targets))
		return true;
	if (list_has(json_object_get(targets, "nodes"), p->node) ||
	    list_has(json_object_get(targets, "sites"), p->site) ||
	    list_has(json_object_get(targets, "companies"), p->company) ||
	    list_has(json_object_get(targets, "groups"), p->group))
		return true;
	tags = json_object_get(targets, "tags");
	for (size_t i = 0; i < p->n_tags; i++)
		if (list_has(tags, p->tags[i]))
			return true;
	return false;
}

void mcc_targets_clear(struct mc_targets *t)
{
	struct mcc__strv v;

	if (!t)
		return;
	v = (struct mcc__strv){t->sites, t->n_sites, t->n_sites};
	mcc__strv_free(&v);
	v = (struct mcc__strv){t->tags, t->n_tags, t->n_tags};
	mcc__strv_free(&v);
	v = (struct mcc__strv){t->nodes, t->n_nodes, t->n_nodes};
	mcc__strv_free(&v);
	memset(t, 0, sizeof(*t));
}

void mcc_ids_free(char **ids, size_t n)
{
	struct mcc__strv v = {ids, n, n};

	mcc__strv_free(&v);
}

/* Push every string of targets[key] to v. */
static enum mc_err push_list(struct mcc__strv *v, const json_t *targets,
                             const char *key)
{
	const json_t *list = json_object_get(targets, key);
	size_t i;
	json_t *e;

	if (!json_is_array(list))
		return MC_OK;
	json_array_foreach((json_t *)list, i, e)
	{
		const char *s = json_string_value(e);

		if (s && mcc__strv_push(v, s) != MC_OK)
			return MC_ERR_NOMEM;
	}
	return MC_OK;
}

/* Push the sites sql (one ?1 parameter) returns for each id of key. */
static enum mc_err push_sites_of(sqlite3 *db, struct mcc__strv *v,
                                 const json_t *targets, const char *key,
                                 const char *sql, struct mc_error *err)
{
	const json_t *list = json_object_get(targets, key);
	sqlite3_stmt *st;
	size_t i;
	json_t *e;

	if (!json_is_array(list) || json_array_size(list) == 0)
		return MC_OK;
	st = mcc_db_prepare(db, sql);
	if (!st)
		return db_error(db, "expand targets", err);
	json_array_foreach((json_t *)list, i, e)
	{
		const char *id = json_string_value(e);
		int step;

		if (!id)
			continue;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		while ((step = sqlite3_step(st)) == SQLITE_ROW)
			if (mcc__strv_push(v, (const char *)sqlite3_column_text(
			                              st, 0)) != MC_OK) {
				mcc_db_done(st);
				return mc_error_set(err, MC_ERR_NOMEM,
				                    "out of memory");
			}
		if (step != SQLITE_DONE) {
			mcc_db_done(st);
			return db_error(db, "expand targets", err);
		}
		sqlite3_reset(st);
	}
	mcc_db_done(st);
	return MC_OK;
}

enum mc_err mcc_targets_expand(sqlite3 *db, const json_t *targets,
                               struct mc_targets *out, struct mc_error *err)
{
	struct mcc__strv sites = {0}, tags = {0}, nodes = {0};
	enum mc_err rc;

	memset(out, 0, sizeof(*out));
	if (targets_empty(targets))
		return MC_OK;
	if (push_list(&sites, targets, "sites") != MC_OK ||
	    push_list(&tags, targets, "tags") != MC_OK ||
	    push_list(&nodes, targets, "nodes") != MC_OK) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto fail;
	}
	rc = push_sites_of(db, &sites, targets, "companies",
	                   "SELECT id FROM sites WHERE company_id = ?1", err);
	if (rc != MC_OK)
		goto fail;
	rc = push_sites_of(db, &sites, targets, "groups",
	                   "SELECT s.id FROM sites s JOIN companies c ON "
	                   "c.id = s.company_id WHERE c.group_id = ?1",
	                   err);
	if (rc != MC_OK)
		goto fail;
	if (sites.n == 0 && tags.n == 0 && nodes.n == 0) {
		rc = mc_error_set(
		        err, MC_ERR_RANGE,
		        "targets: các tập đoàn, công ty đã chọn không "
		        "có công trường nào / the groups and "
		        "companies named hold no site");
		goto fail;
	}
	mcc__strv_sort_unique(&sites);
	mcc__strv_sort_unique(&tags);
	mcc__strv_sort_unique(&nodes);
	out->sites = sites.s;
	out->n_sites = sites.n;
	out->tags = tags.s;
	out->n_tags = tags.n;
	out->nodes = nodes.s;
	out->n_nodes = nodes.n;
	return MC_OK;
fail:
	mcc__strv_free(&sites);
	mcc__strv_free(&tags);
	mcc__strv_free(&nodes);
	return rc;
}

enum mc_err mcc_targets_nodes(sqlite3 *db, const json_t *targets, char ***ids,
                              size_t *n, struct mc_error *err)
{
	struct mcc_place *places = NULL;
	struct mcc__strv v = {0};
	size_t count = 0;
	enum mc_err rc;

	*ids = NULL;
	*n = 0;
	rc = mcc_org_all_places(db, &places, &count, err);
	if (rc != MC_OK)
		return rc;
	for (size_t i = 0; i < count; i++) {
		if (!mcc_targets_select(targets, &places[i]))
			continue;
		if (mcc__strv_push(&v, places[i].node) != MC_OK) {
			rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
			mcc__strv_free(&v);
			goto out;
		}
	}
	*ids = v.s; /* sorted: places come sorted by node id */
	*n = v.n;
out:
	mcc_places_free(places, count);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The API: /v1/groups, /v1/companies, /v1/sites, /v1/nodes */

#define ORG_BODY_MAX (64 * 1024) /* an org object is a few hundred bytes */
#define ORG_NAME_MAX 200         /* bytes of a name, after NFC */
#define ORG_TAGS_MAX 32          /* the player reads at most 32 tags */
#define ORG_LIST_MAX 10000       /* largest ?limit= */
#define ORG_WRITE    MCC_ROLE_TECHNICIAN
#define ORG_READ     MCC_ROLE_ANY_USER

/*
 * A group, a company or a site: what their handlers need to know.  Nodes
 * have handlers of their own (site required, tags).
 */
struct org_kind {
	const char *kind;         /* "group": audit kind, action prefix */
	const char *table;        /* "groups" */
	const char *vi, *en;      /* "tập đoàn", "group" */
	const char *parent;       /* JSON key of the parent; NULL = none */
	const char *parent_col;   /* its column ("group_id") */
	const char *parent_table; /* its table ("groups") */
	const char *parent_vi;    /* its name in Vietnamese */
	const char *child_table;  /* rows that refer to it ("companies") */
	const char *child_col;    /* their column ("group_id") */
	const char *child_vi, *child_en; /* "công ty", "companies" */
	bool timezone;                   /* sites have one */
	const char *insert_sql; /* ?1 id ?2 name ?3 parent ?4 now ?5 tz */
	const char *one_sql;    /* the object whose id is ?1 */
	const char *list_sql;   /* filters ?1..?4, limit ?5, offset ?6 */
	const char *count_sql;  /* filters ?1..?4 */
	const char *filters[4]; /* query keys bound to ?1..?4 */
};

#define GROUP_COLS                                                             \
	"SELECT g.id, g.name, (SELECT count(*) FROM companies x WHERE "        \
	"x.group_id = g.id) AS companies, g.created_ms FROM groups g"
#define COMPANY_COLS                                                           \
	"SELECT c.id, c.name, c.group_id AS \"group\", (SELECT count(*) FROM " \
	"sites x WHERE x.company_id = c.id) AS sites, c.created_ms FROM "      \
	"companies c"
#define COMPANY_WHERE " WHERE (?1 IS NULL OR c.group_id = ?1)"
#define SITE_COLS                                                              \
	"SELECT s.id, s.name, s.company_id AS company, c.group_id AS "         \
	"\"group\", s.timezone, (SELECT count(*) FROM nodes x WHERE "          \
	"x.site_id = s.id) AS nodes, s.created_ms FROM sites s LEFT JOIN "     \
	"companies c ON c.id = s.company_id"
#define SITE_WHERE                                                             \
	" WHERE (?1 IS NULL OR s.company_id = ?1) AND (?2 IS NULL OR "         \
	"c.group_id = ?2)"
#define NODE_COLS                                                              \
	"SELECT n.id, n.name, n.site_id AS site, s.company_id AS company, "    \
	"c.group_id AS \"group\", (SELECT json_group_array(tag) FROM (SELECT " \
	"t.tag FROM node_tags t WHERE t.node_id = n.id ORDER BY t.tag)) AS "   \
	"tags_json, n.provisioned_ms, n.created_ms FROM nodes n JOIN sites s " \
	"ON s.id = n.site_id LEFT JOIN companies c ON c.id = s.company_id"
#define NODE_WHERE                                                             \
	" WHERE (?1 IS NULL OR n.site_id = ?1) AND (?2 IS NULL OR EXISTS "     \
	"(SELECT 1 FROM node_tags t WHERE t.node_id = n.id AND t.tag = ?2)) "  \
	"AND (?3 IS NULL OR s.company_id = ?3) AND (?4 IS NULL OR "            \
	"c.group_id = ?4)"
#define PAGE " LIMIT ?5 OFFSET ?6"

static const struct org_kind k_group = {
        .kind = "group",
        .table = "groups",
        .vi = "tập đoàn",
        .en = "group",
        .child_table = "companies",
        .child_col = "group_id",
        .child_vi = "công ty",
        .child_en = "companies",
        .insert_sql = "INSERT INTO groups (id, name, created_ms) "
                      "VALUES (?1, ?2, ?4)",
        .one_sql = GROUP_COLS " WHERE g.id = ?1",
        .list_sql = GROUP_COLS " ORDER BY g.id" PAGE,
        .count_sql = "SELECT count(*) FROM groups",
};

static const struct org_kind k_company = {
        .kind = "company",
        .table = "companies",
        .vi = "công ty",
        .en = "company",
        .parent = "group",
        .parent_col = "group_id",
        .parent_table = "groups",
        .parent_vi = "tập đoàn",
        .child_table = "sites",
        .child_col = "company_id",
        .child_vi = "công trường",
        .child_en = "sites",
        .insert_sql = "INSERT INTO companies (id, name, group_id, "
                      "created_ms) VALUES (?1, ?2, ?3, ?4)",
        .one_sql = COMPANY_COLS " WHERE c.id = ?1",
        .list_sql = COMPANY_COLS COMPANY_WHERE " ORDER BY c.id" PAGE,
        .count_sql = "SELECT count(*) FROM companies c" COMPANY_WHERE,
        .filters = {"group"},
};

static const struct org_kind k_site = {
        .kind = "site",
        .table = "sites",
        .vi = "công trường",
        .en = "site",
        .parent = "company",
        .parent_col = "company_id",
        .parent_table = "companies",
        .parent_vi = "công ty",
        .child_table = "nodes",
        .child_col = "site_id",
        .child_vi = "thiết bị",
        .child_en = "nodes",
        .timezone = true,
        .insert_sql = "INSERT INTO sites (id, name, company_id, timezone, "
                      "created_ms) VALUES (?1, ?2, ?3, ?5, ?4)",
        .one_sql = SITE_COLS " WHERE s.id = ?1",
        .list_sql = SITE_COLS SITE_WHERE " ORDER BY s.id" PAGE,
        .count_sql = "SELECT count(*) FROM sites s LEFT JOIN companies c "
                     "ON c.id = s.company_id" SITE_WHERE,
        .filters = {"company", "group"},
};

static const char *const node_filters[4] = {"site", "tag", "company", "group"};

/* -- reading bodies ------------------------------------------------- */

/* Refuse keys not in allowed (NULL-terminated). */
static enum mc_err check_keys(json_t *body, const char *const *allowed,
                              struct mc_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v)
	{
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (!allowed[i])
			return mc_error_set(
			        err, MC_ERR_RANGE,
			        "%.64s: trường không biết / unknown "
			        "field",
			        mc_id_valid(key) ? key : "body");
	}
	return MC_OK;
}

/* An id: *out is NULL when absent (MC_ERR_MISSING if required). */
static enum mc_err get_id(json_t *body, const char *key, bool required,
                          const char **out, struct mc_error *err)
{
	json_t *v = json_object_get(body, key);

	*out = NULL;
	if (!v) {
		if (required)
			return mc_error_set(err, MC_ERR_MISSING,
			                    "%s: bắt buộc / required", key);
		return MC_OK;
	}
	if (!json_is_string(v))
		return mc_error_set(err, MC_ERR_TYPE,
		                    "%s: phải là chuỗi / must be a string",
		                    key);
	if (!mc_id_valid(json_string_value(v)))
		return mc_error_set(err, MC_ERR_RANGE,
		                    "%s: mã không hợp lệ / not an id "
		                    "([A-Za-z0-9._-], 1 to 64)",
		                    key);
	*out = json_string_value(v);
	return MC_OK;
}

/* A reference that may be null: *present tells whether the key is there,
 * *out is NULL for null. */
static enum mc_err get_ref(json_t *body, const char *key, bool *present,
                           const char **out, struct mc_error *err)
{
	json_t *v = json_object_get(body, key);

	*present = v != NULL;
	*out = NULL;
	if (!v || json_is_null(v))
		return MC_OK;
	return get_id(body, key, false, out, err);
}

/* A person's name: one line of NFC text, *out NULL when absent. */
static enum mc_err get_name(json_t *body, const char *key, char **out,
                            struct mc_error *err)
{
	json_t *v = json_object_get(body, key);
	enum mc_err rc;

	*out = NULL;
	if (!v)
		return MC_OK;
	if (!json_is_string(v))
		return mc_error_set(err, MC_ERR_TYPE,
		                    "%s: phải là chuỗi / must be a string",
		                    key);
	if (json_string_length(v) > 4 * ORG_NAME_MAX)
		return mc_error_set(err, MC_ERR_RANGE,
		                    "%s: tối đa %d byte / at most %d bytes",
		                    key, ORG_NAME_MAX, ORG_NAME_MAX);
	rc = mc_text_normalize(json_string_value(v), json_string_length(v),
	                       ORG_NAME_MAX, key, out, err);
	if (rc == MC_ERR_TOO_LARGE) /* a field too long is bad input */
		return mc_error_set(err, MC_ERR_RANGE,
		                    "%s: tối đa %d byte / at most %d bytes",
		                    key, ORG_NAME_MAX, ORG_NAME_MAX);
	if (rc != MC_OK)
		return rc;
	if (strpbrk(*out, "\t\n")) {
		MC_FREE(*out);
		return mc_error_set(err, MC_ERR_RANGE,
		                    "%s: chỉ một dòng / one line, no tabs",
		                    key);
	}
	return MC_OK;
}

/* tags: an array of at most ORG_TAGS_MAX ids, kept sorted and distinct. */
static enum mc_err get_tags(json_t *body, bool *present, struct mcc__strv *out,
                            struct mc_error *err)
{
	json_t *v = json_object_get(body, "tags"), *e;
	size_t i;

	*present = v != NULL;
	if (!v || json_is_null(v))
		return MC_OK;
	if (!json_is_array(v))
		return mc_error_set(
		        err, MC_ERR_TYPE,
		        "tags: phải là một mảng / must be an array");
	if (json_array_size(v) > ORG_TAGS_MAX)
		return mc_error_set(err, MC_ERR_RANGE,
		                    "tags: tối đa %d nhãn / at most %d tags",
		                    ORG_TAGS_MAX, ORG_TAGS_MAX);
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return mc_error_set(
			        err, MC_ERR_TYPE,
			        "tags[%zu]: phải là chuỗi / must be "
			        "a string",
			        i);
		if (!mc_id_valid(json_string_value(e)))
			return mc_error_set(
			        err, MC_ERR_RANGE,
			        "tags[%zu]: mã không hợp lệ / not an "
			        "id ([A-Za-z0-9._-], 1 to 64)",
			        i);
		if (mcc__strv_push(out, json_string_value(e)) != MC_OK)
			return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	}
	mcc__strv_sort_unique(out);
	return MC_OK;
}

static bool stop_at_first(int64_t start_ms, const char *start, void *ud)
{
	(void)start_ms;
	(void)start;
	(void)ud;
	return false;
}

/* timezone: a zone the schedule engine (players included) knows. */
static enum mc_err get_timezone(json_t *body, const char **out,
                                struct mc_error *err)
{
	json_t *v = json_object_get(body, "timezone");
	struct mc_error e;
	const char *tz;

	*out = NULL;
	if (!v)
		return MC_OK;
	if (!json_is_string(v))
		return mc_error_set(
		        err, MC_ERR_TYPE,
		        "timezone: phải là chuỗi / must be a string");
	tz = json_string_value(v);
	if (json_string_length(v) > 64 ||
	    mc_sched_expand("20240101T000000", tz, "FREQ=DAILY;COUNT=1", 1,
	                    stop_at_first, NULL, &e) != MC_OK)
		return mc_error_set(
		        err, MC_ERR_TZ,
		        "timezone: múi giờ không biết / unknown time "
		        "zone (e.g. Asia/Ho_Chi_Minh)");
	*out = tz;
	return MC_OK;
}

/* The controller's default zone: settings "timezone", else the
 * schedule engine's default. */
static char *default_timezone(sqlite3 *db)
{
	sqlite3_stmt *st;
	char *tz = NULL;

	st = mcc_db_prepare(db, "SELECT value_json FROM settings WHERE key = "
	                        "'timezone'");
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		json_t *v = t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;

		if (json_is_string(v))
			tz = strdup(json_string_value(v));
		json_decref(v);
	}
	if (st)
		mcc_db_done(st);
	return tz ? tz : strdup(MC_SCHED_DEFAULT_TZ);
}

/* -- database helpers ----------------------------------------------- */

/* The object sql (?1 = id) selects: json null when there is none, NULL
 * on a database error.  New reference. */
static json_t *fetch_one(sqlite3 *db, const char *sql, const char *id)
{
	sqlite3_stmt *st = mcc_db_prepare(db, sql);
	json_t *rows, *one;

	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	rows = mcc_db_rows(st);
	mcc_db_done(st);
	if (!rows)
		return NULL;
	one = json_array_get(rows, 0);
	one = one ? json_incref(one) : json_null();
	json_decref(rows);
	return one;
}

/* Run sql with text parameters ?1 and ?2 (NULL binds SQL NULL); returns
 * sqlite3_step's result (SQLITE_DONE on success). */
static int run2(sqlite3 *db, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st = mcc_db_prepare(db, sql);
	int step;

	if (!st)
		return SQLITE_ERROR;
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
	step = sqlite3_step(st);
	mcc_db_done(st);
	return step;
}

/* count(*) of sql with text parameter ?1; -1 on error. */
static int64_t count1(sqlite3 *db, const char *sql, const char *a)
{
	sqlite3_stmt *st = mcc_db_prepare(db, sql);
	int64_t n = -1;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	mcc_db_done(st);
	return n;
}

/* Replace a node's tags. */
static int set_tags(sqlite3 *db, const char *node, const struct mcc__strv *t)
{
	int step = run2(db, "DELETE FROM node_tags WHERE node_id = ?1", node,
	                NULL);

	for (size_t i = 0; i < t->n && step == SQLITE_DONE; i++)
		step = run2(
		        db,
		        "INSERT INTO node_tags (node_id, tag) VALUES (?1, ?2)",
		        node, t->s[i]);
	return step;
}

/* A path id: 400 unless it is an id. */
static const char *path_id(struct mcc_req *rq, struct mc_error *err)
{
	const char *id = rq->n_params > 0 ? rq->params[0] : NULL;

	if (!id || !mc_id_valid(id)) {
		mc_error_set(err, MC_ERR_RANGE,
		             "id: mã không hợp lệ / not an id ([A-Za-z0-9._-], "
		             "1 to 64)");
		return NULL;
	}
	return id;
}

/* A whole number from the query in [min, max]; def when absent. */
static bool query_int(struct mcc_req *rq, const char *key, int64_t min,
                      int64_t max, int64_t def, int64_t *out,
                      struct mc_error *err)
{
	const char *s = mcc_req_query(rq, key);
	int64_t v = 0;

	*out = def;
	if (!s)
		return true;
	if (!*s || strlen(s) > 18)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (*p - '0');
	}
	if (v < min || v > max)
		goto bad;
	*out = v;
	return true;
bad:
	mc_error_set(err, MC_ERR_RANGE,
	             "%s: phải là số nguyên từ %lld đến %lld / must be a whole "
	             "number from %lld to %lld",
	             key, (long long)min, (long long)max, (long long)min,
	             (long long)max);
	return false;
}

static enum mc_err db_fail(struct mc_error *err)
{
	return mc_error_set(err, MC_ERR_IO,
	                    "cơ sở dữ liệu lỗi / database error; see the "
	                    "controller's log");
}

/* Open the request's transaction in *db. */
static enum mc_err begin(struct mcc_req *rq, sqlite3 **db, struct mc_error *err)
{
	*db = mcc_db(rq->c);
	if (!*db || mcc_db_begin(*db) != MC_OK)
		return db_fail(err);
	return MC_OK;
}

/* The object sql (?1 = id) selects, in *out (new reference); MC_ERR_NOTFOUND
 * naming it (vi, en: what it is) when there is none. */
static enum mc_err fetch_existing(sqlite3 *db, const char *sql, const char *id,
                                  const char *vi, const char *en, json_t **out,
                                  struct mc_error *err)
{
	json_t *obj = fetch_one(db, sql, id);

	*out = NULL;
	if (!obj)
		return db_fail(err);
	if (json_is_null(obj)) {
		json_decref(obj);
		return mc_error_set(err, MC_ERR_NOTFOUND,
		                    "id: không có %s '%s' / no %s '%s'", vi, id,
		                    en, id);
	}
	*out = obj;
	return MC_OK;
}

/* id must not be in table yet: MC_ERR_EXISTS otherwise. */
static enum mc_err check_new(sqlite3 *db, const char *table, const char *id,
                             const char *vi, const char *en,
                             struct mc_error *err)
{
	int found = mcc__org_exists(db, table, id);

	if (found < 0)
		return db_fail(err);
	if (found)
		return mc_error_set(
		        err, MC_ERR_EXISTS,
		        "id: %s '%s' đã có / %s '%s' exists already", vi, id,
		        en, id);
	return MC_OK;
}

/* The id the body's key names must be in table: MC_ERR_REF otherwise. */
static enum mc_err check_ref(sqlite3 *db, const char *table, const char *key,
                             const char *vi, const char *id,
                             struct mc_error *err)
{
	int found = mcc__org_exists(db, table, id);

	if (found < 0)
		return db_fail(err);
	if (!found)
		return mc_error_set(err, MC_ERR_REF,
		                    "%s: không có %s '%s' / no %s '%s'", key,
		                    vi, id, key, id);
	return MC_OK;
}

/*
 * How a create or an update ends: the object as it now stands (one_sql,
 * ?1 = id) in *after (a new reference, also on failure), its audit record
 * (action, from before) and the commit.  MC_ERR_IO on a database error,
 * the transaction left open for the caller to roll back.
 */
static enum mc_err audit_commit(struct mcc_req *rq, sqlite3 *db,
                                const char *one_sql, const char *action,
                                const char *kind, const char *id,
                                json_t *before, json_t **after)
{
	*after = fetch_one(db, one_sql, id);
	if (!json_is_object(*after) ||
	    mcc_audit(db, &rq->who, action, kind, id, before, *after) !=
	            MC_OK ||
	    mcc_db_commit(db) != MC_OK)
		return MC_ERR_IO;
	return MC_OK;
}

/* -- lists ---------------------------------------------------------- */

static void list_rows(struct mcc_req *rq, struct mcc_resp *rs,
                      const char *const filters[4], const char *list_sql,
                      const char *count_sql)
{
	const char *vals[4] = {NULL, NULL, NULL, NULL};
	struct mc_error err;
	int64_t limit, offset, total = -1;
	json_t *rows = NULL, *doc;
	sqlite3_stmt *st;
	sqlite3 *db;
	bool paged;

	mc_error_clear(&err);
	for (int i = 0; i < 4; i++) {
		if (!filters[i])
			continue;
		vals[i] = mcc_req_query(rq, filters[i]);
		if (vals[i] && !mc_id_valid(vals[i])) {
			mc_error_set(&err, MC_ERR_RANGE,
			             "%s: mã không hợp lệ / not an id "
			             "([A-Za-z0-9._-], 1 to 64)",
			             filters[i]);
			goto bad;
		}
	}
	paged = mcc_req_query(rq, "limit") || mcc_req_query(rq, "offset");
	if (!query_int(rq, "limit", 1, ORG_LIST_MAX, -1, &limit, &err) ||
	    !query_int(rq, "offset", 0, INT32_MAX, 0, &offset, &err))
		goto bad;
	db = mcc_db(rq->c);
	if (!db) {
		db_fail(&err);
		goto bad;
	}
	st = mcc_db_prepare_texts(db, list_sql, vals, 4);
	if (!st) {
		db_fail(&err);
		goto bad;
	}
	sqlite3_bind_int64(st, 5, limit);
	sqlite3_bind_int64(st, 6, offset);
	rows = mcc_db_rows(st);
	mcc_db_done(st);
	if (!rows) {
		db_fail(&err);
		goto bad;
	}
	if (paged) {
		st = mcc_db_prepare_texts(db, count_sql, vals, 4);
		if (!st) {
			db_fail(&err);
			goto bad;
		}
		if (sqlite3_step(st) == SQLITE_ROW)
			total = sqlite3_column_int64(st, 0);
		mcc_db_done(st);
		if (total < 0) {
			db_fail(&err);
			goto bad;
		}
	}
	doc = json_object();
	json_object_set_new(doc, "items", rows);
	if (paged)
		json_object_set_new(doc, "total", json_integer(total));
	mcc_resp_json(rs, 200, doc);
	return;
bad:
	json_decref(rows);
	mcc_resp_mc_error(rs, &err);
}

static void get_object(struct mcc_req *rq, struct mcc_resp *rs, const char *sql,
                       const char *vi, const char *en)
{
	struct mc_error err;
	const char *id;
	json_t *obj;
	sqlite3 *db;

	mc_error_clear(&err);
	id = path_id(rq, &err);
	if (!id)
		goto bad;
	db = mcc_db(rq->c);
	if (!db) {
		db_fail(&err);
		goto bad;
	}
	if (fetch_existing(db, sql, id, vi, en, &obj, &err) != MC_OK)
		goto bad;
	mcc_resp_json(rs, 200, obj);
	return;
bad:
	mcc_resp_mc_error(rs, &err);
}

/* -- groups, companies, sites --------------------------------------- */

static void kind_create(const struct org_kind *k, struct mcc_req *rq,
                        struct mcc_resp *rs)
{
	const char *allowed[] = {"id", "name", k->parent,
	                         k->timezone ? "timezone" : NULL, NULL};
	const char *id = NULL, *parent = NULL, *tz = NULL;
	char *name = NULL, *tz_default = NULL;
	json_t *body, *after = NULL;
	sqlite3_stmt *st;
	struct mc_error err;
	bool in_tx = false, present;
	sqlite3 *db = NULL;
	char action[32];
	int step;

	mc_error_clear(&err);
	body = mcc_req_json(rq, rs);
	if (!body)
		return;
	if (!k->parent) /* allowed[] must stay NULL-terminated */
		allowed[2] = k->timezone ? "timezone" : NULL;
	if (check_keys(body, allowed, &err) != MC_OK ||
	    get_id(body, "id", true, &id, &err) != MC_OK ||
	    get_name(body, "name", &name, &err) != MC_OK ||
	    (k->parent &&
	     get_ref(body, k->parent, &present, &parent, &err) != MC_OK) ||
	    (k->timezone && get_timezone(body, &tz, &err) != MC_OK))
		goto bad;
	if (begin(rq, &db, &err) != MC_OK)
		goto bad;
	in_tx = true;
	if (check_new(db, k->table, id, k->vi, k->en, &err) != MC_OK ||
	    (parent && check_ref(db, k->parent_table, k->parent, k->parent_vi,
	                         parent, &err) != MC_OK))
		goto bad;
	if (k->timezone && !tz)
		tz = tz_default = default_timezone(db);
	st = mcc_db_prepare(db, k->insert_sql);
	if (!st)
		goto dberr;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_TRANSIENT);
	if (k->parent && parent)
		sqlite3_bind_text(st, 3, parent, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, mc_now_ms());
	if (k->timezone)
		sqlite3_bind_text(st, 5, tz, -1, SQLITE_TRANSIENT);
	step = sqlite3_step(st);
	mcc_db_done(st);
	if (step != SQLITE_DONE)
		goto dberr;
	snprintf(action, sizeof(action), "%s.create", k->kind);
	if (audit_commit(rq, db, k->one_sql, action, k->kind, id, NULL,
	                 &after) != MC_OK)
		goto dberr;
	in_tx = false;
	mc_log_info("org", "%s created %s %s", rq->who.name, k->en, id);
	mcc_resp_json(rs, 201, after);
	after = NULL;
	goto out;
dberr:
	db_fail(&err);
bad:
	mcc_resp_mc_error(rs, &err);
out:
	if (in_tx)
		mcc_db_rollback(db);
	json_decref(after);
	json_decref(body);
	free(name);
	free(tz_default);
}

static void kind_update(const struct org_kind *k, struct mcc_req *rq,
                        struct mcc_resp *rs)
{
	const char *allowed[] = {"name", k->parent,
	                         k->timezone ? "timezone" : NULL, NULL};
	const char *id, *parent = NULL, *tz = NULL;
	json_t *body = NULL, *before = NULL, *after = NULL;
	bool in_tx = false, parent_given = false;
	struct mc_error err;
	char *name = NULL;
	sqlite3 *db = NULL;
	char sql[128];

	mc_error_clear(&err);
	id = path_id(rq, &err);
	if (!id)
		goto bad;
	body = mcc_req_json(rq, rs);
	if (!body)
		return;
	if (!k->parent)
		allowed[1] = k->timezone ? "timezone" : NULL;
	if (check_keys(body, allowed, &err) != MC_OK ||
	    get_name(body, "name", &name, &err) != MC_OK ||
	    (k->parent &&
	     get_ref(body, k->parent, &parent_given, &parent, &err) != MC_OK) ||
	    (k->timezone && get_timezone(body, &tz, &err) != MC_OK))
		goto bad;
	if (json_object_size(body) == 0) {
		mc_error_set(&err, MC_ERR_MISSING,
		             "body: không có gì để sửa / nothing to change");
		goto bad;
	}
	if (begin(rq, &db, &err) != MC_OK)
		goto bad;
	in_tx = true;
	if (fetch_existing(db, k->one_sql, id, k->vi, k->en, &before, &err) !=
	            MC_OK ||
	    (parent && check_ref(db, k->parent_table, k->parent, k->parent_vi,
	                         parent, &err) != MC_OK))
		goto bad;
	if (name) {
		snprintf(sql, sizeof(sql),
		         "UPDATE %s SET name = ?2 WHERE id = ?1", k->table);
		if (run2(db, sql, id, name) != SQLITE_DONE)
			goto dberr;
	}
	if (parent_given) {
		snprintf(sql, sizeof(sql),
		         "UPDATE %s SET %s = ?2 WHERE id = ?1", k->table,
		         k->parent_col);
		if (run2(db, sql, id, parent) != SQLITE_DONE)
			goto dberr;
	}
	if (tz && run2(db, "UPDATE sites SET timezone = ?2 WHERE id = ?1", id,
	               tz) != SQLITE_DONE)
		goto dberr;
	snprintf(sql, sizeof(sql), "%s.update", k->kind);
	if (audit_commit(rq, db, k->one_sql, sql, k->kind, id, before,
	                 &after) != MC_OK)
		goto dberr;
	in_tx = false;
	mc_log_info("org", "%s changed %s %s", rq->who.name, k->en, id);
	mcc_resp_json(rs, 200, after);
	after = NULL;
	goto out;
dberr:
	db_fail(&err);
bad:
	mcc_resp_mc_error(rs, &err);
out:
	if (in_tx)
		mcc_db_rollback(db);
	json_decref(before);
	json_decref(after);
	json_decref(body);
	free(name);
}

static void kind_delete(const struct org_kind *k, struct mcc_req *rq,
                        struct mcc_resp *rs)
{
	json_t *before = NULL, *doc;
	struct mc_error err;
	bool in_tx = false;
	sqlite3 *db = NULL;
	const char *id;
	char sql[128];
	int64_t n;

	mc_error_clear(&err);
	id = path_id(rq, &err);
	if (!id)
		goto bad;
	if (begin(rq, &db, &err) != MC_OK)
		goto bad;
	in_tx = true;
	if (fetch_existing(db, k->one_sql, id, k->vi, k->en, &before, &err) !=
	    MC_OK)
		goto bad;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s = ?1",
	         k->child_table, k->child_col);
	n = count1(db, sql, id);
	if (n < 0)
		goto dberr;
	if (n > 0) {
		mc_error_set(&err, MC_ERR_CONFLICT,
		             "id: %s '%s' còn %lld %s / %s '%s' still has %lld "
		             "%s",
		             k->vi, id, (long long)n, k->child_vi, k->en, id,
		             (long long)n, k->child_en);
		goto bad;
	}
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ?1", k->table);
	if (run2(db, sql, id, NULL) != SQLITE_DONE)
		goto dberr;
	snprintf(sql, sizeof(sql), "%s.delete", k->kind);
	if (mcc_audit(db, &rq->who, sql, k->kind, id, before, NULL) != MC_OK ||
	    mcc_db_commit(db) != MC_OK)
		goto dberr;
	in_tx = false;
	mc_log_info("org", "%s deleted %s %s", rq->who.name, k->en, id);
	doc = json_pack("{s:s, s:b}", "id", id, "deleted", 1);
	mcc_resp_json(rs, 200, doc);
	goto out;
dberr:
	db_fail(&err);
bad:
	mcc_resp_mc_error(rs, &err);
out:
	if (in_tx)
		mcc_db_rollback(db);
	json_decref(before);
}

/* One set of five handlers per kind. */
#define KIND_HANDLERS(name, k)                                                 \
	static void name##_list(struct mcc_req *rq, struct mcc_resp *rs)       \
	{                                                                      \
		list_rows(rq, rs, (k).filters, (k).list_sql, (k).count_sql);   \
	}                                                                      \
	static void name##_get(struct mcc_req *rq, struct mcc_resp *rs)        \
	{                                                                      \
		get_object(rq, rs, (k).one_sql, (k).vi, (k).en);               \
	}                                                                      \
	static void name##_create(struct mcc_req *rq, struct mcc_resp *rs)     \
	{                                                                      \
		kind_create(&(k), rq, rs);                                     \
	}                                                                      \
	static void name##_update(struct mcc_req *rq, struct mcc_resp *rs)     \
	{                                                                      \
		kind_update(&(k), rq, rs);                                     \
	}                                                                      \
	static void name##_delete(struct mcc_req *rq, struct mcc_resp *rs)     \
	{                                                                      \
		kind_delete(&(k), rq, rs);                                     \
	}

KIND_HANDLERS(groups, k_group)
KIND_HANDLERS(companies, k_company)
KIND_HANDLERS(sites, k_site)

/* -- nodes ---------------------------------------------------------- */

#define NODE_ONE_SQL NODE_COLS " WHERE n.id = ?1"

static void nodes_list(struct mcc_req *rq, struct mcc_resp *rs)
{
	list_rows(rq, rs, node_filters,
	          NODE_COLS NODE_WHERE " ORDER BY n.id" PAGE,
	          "SELECT count(*) FROM nodes n JOIN sites s ON s.id = "
	          "n.site_id LEFT JOIN companies c ON c.id = "
	          "s.company_id" NODE_WHERE);
}

static void nodes_get(struct mcc_req *rq, struct mcc_resp *rs)
{
	get_object(rq, rs, NODE_ONE_SQL, "thiết bị", "node");
}

/* site must exist: MC_ERR_REF otherwise. */
static enum mc_err check_site(sqlite3 *db, const char *site,
                              struct mc_error *err)
{
	return check_ref(db, "sites", "site", "công trường", site, err);
}

static void nodes_create(struct mcc_req *rq, struct mcc_resp *rs)
{
	static const char *const allowed[] = {"id", "name", "site", "tags",
	                                      NULL};
	const char *id = NULL, *site = NULL;
	json_t *body, *after = NULL;
	struct mcc__strv tags = {0};
	struct mc_error err;
	bool in_tx = false, tags_given;
	char *name = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int step;

	mc_error_clear(&err);
	body = mcc_req_json(rq, rs);
	if (!body)
		return;
	if (check_keys(body, allowed, &err) != MC_OK ||
	    get_id(body, "id", true, &id, &err) != MC_OK ||
	    get_name(body, "name", &name, &err) != MC_OK ||
	    get_id(body, "site", true, &site, &err) != MC_OK ||
	    get_tags(body, &tags_given, &tags, &err) != MC_OK)
		goto bad;
	/* The node id is its MQTT user name: never the controller's. */
	if (rq->c->cfg.mqtt_user && strcmp(rq->c->cfg.mqtt_user, id) == 0) {
		mc_error_set(&err, MC_ERR_CONFLICT,
		             "id: '%s' là tên MQTT của bộ điều khiển / is the "
		             "controller's MQTT user name",
		             id);
		goto bad;
	}
	if (begin(rq, &db, &err) != MC_OK)
		goto bad;
	in_tx = true;
	if (check_new(db, "nodes", id, "thiết bị", "node", &err) != MC_OK ||
	    check_site(db, site, &err) != MC_OK)
		goto bad;
	st = mcc_db_prepare(db, "INSERT INTO nodes (id, name, site_id, "
	                        "created_ms) VALUES (?1, ?2, ?3, ?4)");
	if (!st)
		goto dberr;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, site, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, mc_now_ms());
	step = sqlite3_step(st);
	mcc_db_done(st);
	if (step != SQLITE_DONE || set_tags(db, id, &tags) != SQLITE_DONE)
		goto dberr;
	if (audit_commit(rq, db, NODE_ONE_SQL, "node.create", "node", id, NULL,
	                 &after) != MC_OK)
		goto dberr;
	in_tx = false;
	mc_log_info("org", "%s registered node %s at site %s", rq->who.name, id,
	            site);
	mcc_resp_json(rs, 201, after);
	after = NULL;
	goto out;
dberr:
	db_fail(&err);
bad:
	mcc_resp_mc_error(rs, &err);
out:
	if (in_tx)
		mcc_db_rollback(db);
	json_decref(after);
	json_decref(body);
	mcc__strv_free(&tags);
	free(name);
}

static void nodes_update(struct mcc_req *rq, struct mcc_resp *rs)
{
	static const char *const allowed[] = {"name", "site", "tags", NULL};
	json_t *body = NULL, *before = NULL, *after = NULL;
	const char *id, *site = NULL;
	struct mcc__strv tags = {0};
	struct mc_error err;
	bool in_tx = false, tags_given = false;
	char *name = NULL;
	sqlite3 *db = NULL;

	mc_error_clear(&err);
	id = path_id(rq, &err);
	if (!id)
		goto bad;
	body = mcc_req_json(rq, rs);
	if (!body)
		return;
	if (check_keys(body, allowed, &err) != MC_OK ||
	    get_name(body, "name", &name, &err) != MC_OK ||
	    get_id(body, "site", false, &site, &err) != MC_OK ||
	    get_tags(body, &tags_given, &tags, &err) != MC_OK)
		goto bad;
	if (json_object_size(body) == 0) {
		mc_error_set(&err, MC_ERR_MISSING,
		             "body: không có gì để sửa / nothing to change");
		goto bad;
	}
	if (begin(rq, &db, &err) != MC_OK)
		goto bad;
	in_tx = true;
	if (fetch_existing(db, NODE_ONE_SQL, id, "thiết bị", "node", &before,
	                   &err) != MC_OK)
		goto bad;
	if (site && check_site(db, site, &err) != MC_OK)
		goto bad;
	if (name && run2(db, "UPDATE nodes SET name = ?2 WHERE id = ?1", id,
	                 name) != SQLITE_DONE)
		goto dberr;
	if (site && run2(db, "UPDATE nodes SET site_id = ?2 WHERE id = ?1", id,
	                 site) != SQLITE_DONE)
		goto dberr;
	if (tags_given && set_tags(db, id, &tags) != SQLITE_DONE)
		goto dberr;
	if (audit_commit(rq, db, NODE_ONE_SQL, "node.update", "node", id,
	                 before, &after) != MC_OK)
		goto dberr;
	in_tx = false;
	mc_log_info("org", "%s changed node %s", rq->who.name, id);
	mcc_resp_json(rs, 200, after);
	after = NULL;
	goto out;
dberr:
	db_fail(&err);
bad:
	mcc_resp_mc_error(rs, &err);
out:
	if (in_tx)
		mcc_db_rollback(db);
	json_decref(before);
	json_decref(after);
	json_decref(body);
	mcc__strv_free(&tags);
	free(name);
}

static void nodes_delete(struct mcc_req *rq, struct mcc_resp *rs)
{
	json_t *before = NULL, *doc;
	struct mc_error err;
	bool in_tx = false;
	sqlite3 *db = NULL;
	const char *id;
	int step;

	mc_error_clear(&err);
	id = path_id(rq, &err);
	if (!id)
		goto bad;
	if (begin(rq, &db, &err) != MC_OK)
		goto bad;
	in_tx = true;
	if (fetch_existing(db, NODE_ONE_SQL, id, "thiết bị", "node", &before,
	                   &err) != MC_OK)
		goto bad;
	step = run2(db, "DELETE FROM nodes WHERE id = ?1", id, NULL);
	if ((step & 0xff) == SQLITE_CONSTRAINT) {
		mc_error_set(
		        &err, MC_ERR_CONFLICT,
		        "id: thiết bị '%s' còn dữ liệu liên quan (lịch phát, "
		        "lệnh, cảnh báo) / node '%s' is still referenced",
		        id, id);
		goto bad;
	}
	if (step != SQLITE_DONE)
		goto dberr;
	if (mcc_audit(db, &rq->who, "node.delete", "node", id, before, NULL) !=
	    MC_OK)
		goto dberr;
	/* Its broker login goes with it (before the commit: a failure
	 * keeps the node). */
	if (mcc_provision_forget(rq->c, id, &err) != MC_OK)
		goto bad;
	if (mcc_db_commit(db) != MC_OK)
		goto dberr;
	in_tx = false;
	mc_log_info("org", "%s deleted node %s", rq->who.name, id);
	mcc_shots_forget(rq->c, id);
	/* Its retained pointer goes too, so that nothing waits on the
	 * broker for a node that is gone (a clear is an empty retained
	 * message; offline now, it stays: harmless, it is signed). */
	if (rq->c->mqtt) {
		char topic[MC_TOPIC_MAX];

		if (mc_topic_node(topic, sizeof(topic), id, MC_TOPIC_DESIRED) ==
		            MC_OK &&
		    mcc_mqtt_publish(rq->c, topic, "", 0, 1, true) != MC_OK)
			mc_log_warn("org",
			            "node %s: its retained pointer could "
			            "not be cleared (broker away)",
			            id);
	}
	doc = json_pack("{s:s, s:b}", "id", id, "deleted", 1);
	mcc_resp_json(rs, 200, doc);
	goto out;
dberr:
	db_fail(&err);
bad:
	mcc_resp_mc_error(rs, &err);
out:
	if (in_tx)
		mcc_db_rollback(db);
	json_decref(before);
}

const struct mcc_route mcc_org_routes[] = {
        {"GET", "/v1/groups", ORG_READ, 0, 0, groups_list},
        {"POST", "/v1/groups", ORG_WRITE, ORG_BODY_MAX, 0, groups_create},
        {"GET", "/v1/groups/{}", ORG_READ, 0, 0, groups_get},
        {"PATCH", "/v1/groups/{}", ORG_WRITE, ORG_BODY_MAX, 0, groups_update},
        {"DELETE", "/v1/groups/{}", ORG_WRITE, ORG_BODY_MAX, 0, groups_delete},
        {"GET", "/v1/companies", ORG_READ, 0, 0, companies_list},
        {"POST", "/v1/companies", ORG_WRITE, ORG_BODY_MAX, 0, companies_create},
        {"GET", "/v1/companies/{}", ORG_READ, 0, 0, companies_get},
        {"PATCH", "/v1/companies/{}", ORG_WRITE, ORG_BODY_MAX, 0,
         companies_update},
        {"DELETE", "/v1/companies/{}", ORG_WRITE, ORG_BODY_MAX, 0,
         companies_delete},
        {"GET", "/v1/sites", ORG_READ, 0, 0, sites_list},
        {"POST", "/v1/sites", ORG_WRITE, ORG_BODY_MAX, 0, sites_create},
        {"GET", "/v1/sites/{}", ORG_READ, 0, 0, sites_get},
        {"PATCH", "/v1/sites/{}", ORG_WRITE, ORG_BODY_MAX, 0, sites_update},
        {"DELETE", "/v1/sites/{}", ORG_WRITE, ORG_BODY_MAX, 0, sites_delete},
        {"GET", "/v1/nodes", ORG_READ, 0, 0, nodes_list},
        {"POST", "/v1/nodes", ORG_WRITE, ORG_BODY_MAX, 0, nodes_create},
        {"GET", "/v1/nodes/{}", ORG_READ, 0, 0, nodes_get},
        {"PATCH", "/v1/nodes/{}", ORG_WRITE, ORG_BODY_MAX, 0, nodes_update},
        {"DELETE", "/v1/nodes/{}", ORG_WRITE, ORG_BODY_MAX, 0, nodes_delete},
        {NULL, NULL, 0, 0, 0, NULL},
};
