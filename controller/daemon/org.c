/*
 * The organisation: group → company → site → node, node tags, and the
 * targets that select nodes through that hierarchy (org.h).
 *
 * The first half answers "where does this node sit" and "which nodes do
 * these targets select" for publishing, alerts and previews; the second
 * half is the CRUD API of /v1/groups, /v1/companies, /v1/sites and
 * /v1/nodes (docs/api-parts/org.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/log.h"
#include "minecast/text.h"
#include "minecast/util.h"

#include "db.h"
#include "http.h"
#include "org.h"
#include "org_internal.h"

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
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = mc_error_set(err, MC_ERR_NOTFOUND,
		                  "node: không có thiết bị '%.64s' / no node "
		                  "'%.64s'",
		                  mc_id_valid(node) ? node : "?",
		                  mc_id_valid(node) ? node : "?");
		goto fail;
	}
	if (step != SQLITE_ROW) {
		rc = db_error(db, "node place", err);
		goto fail;
	}
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
	int step;

	st = mcc_db_prepare(db, "SELECT s.company_id, c.group_id FROM sites s "
	                        "LEFT JOIN companies c ON c.id = s.company_id "
	                        "WHERE s.id = ?1");
	if (!st)
		return db_error(db, "site place", err);
	sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = mc_error_set(err, MC_ERR_NOTFOUND,
		                  "site: không có công trường '%.64s' / no "
		                  "site '%.64s'",
		                  mc_id_valid(site) ? site : "?",
		                  mc_id_valid(site) ? site : "?");
		goto out;
	}
	if (step != SQLITE_ROW) {
		rc = db_error(db, "site place", err);
		goto out;
	}
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

const struct mcc_route mcc_org_routes[] = {
        {NULL, NULL, 0, 0, 0, NULL},
};
