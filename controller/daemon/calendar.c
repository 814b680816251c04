/*
 * Playlists, schedule entries, the schedule settings, campaign and
 * iCalendar import and export, and the day preview (calendar.h).
 *
 * Every document is checked by the codec the nodes run: the objects being
 * written are wrapped in a manifest together with the current revisions of
 * what they refer to (playlists, content, the images behind slogans),
 * parsed with mc_manifest_parse and compiled with mc_sched_new, so that a
 * field error here is exactly the error a node would give, named by its
 * path inside the object ("rrule: FREQ is missing").  What is stored is
 * the codec's canonical form of the object (its dump: defaults written,
 * keys sorted), so that re-importing the same campaign changes nothing.
 * Entry targets may also name groups and companies (org.h), which the
 * codec does not know: they are checked by mcc_targets_validate and kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/sched.h"
#include "minecast/text.h"
#include "minecast/timeline_day.h"
#include "minecast/util.h"

#include "audit.h"
#include "calendar.h"
#include "content.h"
#include "db.h"
#include "http.h"
#include "mcc.h"
#include "org.h"
#include "publish.h"
#include "workflow.h"

/* Body limits: one object; a whole campaign (4 MiB) with its wrapper. */
#define CAL_DOC_MAX_BODY      (256u * 1024u)
#define CAL_CAMPAIGN_MAX_BODY (5u * 1024u * 1024u)
/* Lists: default and largest page. */
#define CAL_LIST_DEFAULT 100
#define CAL_LIST_MAX     1000

static const char *const kind_keys[] = {"content", "playlists", "entries"};

/* Replace err's message with prefix + text (mc_error_set cuts it at a
 * character boundary). */
static void err_reword(struct mc_error *err, const char *prefix,
                       const char *text)
{
	char copy[MC_ERROR_MSG_MAX];

	snprintf(copy, sizeof(copy), "%s", text);
	mc_error_set(err, err->code, "%s%s", prefix, copy);
}

/* ---- settings -------------------------------------------------------- */

/* A settings value (parsed), or NULL when unset.  New reference. */
static json_t *setting(sqlite3 *db, const char *key)
{
	sqlite3_stmt *st = mcc_db_prepare(
	        db, "SELECT value_json FROM settings WHERE key = ?");
	json_t *v = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);

		v = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
	}
	mcc_db_done(st);
	return v;
}

/* The documents' default zone (malloc'd): the setting, else the
 * engine's default. */
static char *doc_zone(sqlite3 *db)
{
	json_t *v = setting(db, "timezone");
	char *z = mc_strdup(json_is_string(v) ? json_string_value(v)
	                                      : MC_SCHED_DEFAULT_TZ);

	json_decref(v);
	return z;
}

/* The fallback setting as {"screen": id|null, "speaker": id|null}. */
static json_t *fallback_setting(sqlite3 *db)
{
	json_t *v = setting(db, "fallback");
	json_t *out = json_pack("{s:n,s:n}", "screen", "speaker");

	for (int ch = 0; out && ch < MC_CH_COUNT; ch++) {
		const char *k = mc_channel_name((enum mc_channel)ch);
		json_t *id = json_object_get(v, k);

		if (json_is_string(id))
			json_object_set(out, k, id);
	}
	json_decref(v);
	return out;
}

/* Write a setting inside the caller's transaction, audited. */
static enum mc_err setting_put(sqlite3 *db, const struct mcc_principal *who,
                               const char *key, json_t *value,
                               struct mc_error *err)
{
	sqlite3_stmt *st;
	json_t *before = setting(db, key);
	char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS |
	                                       JSON_ENCODE_ANY);
	enum mc_err rc = MC_OK;
	int r;

	if (!text) {
		rc = mc_error_set(err, MC_ERR_NOMEM,
		                  "hết bộ nhớ / out of "
		                  "memory");
		goto out;
	}
	st = mcc_db_prepare(db, "INSERT INTO settings (key, value_json) "
	                        "VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE "
	                        "SET value_json = excluded.value_json");
	if (!st) {
		rc = mc_error_set(err, MC_ERR_IO,
		                  "cơ sở dữ liệu lỗi / database "
		                  "error");
		goto out;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	mcc_db_done(st);
	if (r != SQLITE_DONE) {
		rc = mc_error_set(err, MC_ERR_IO,
		                  "cơ sở dữ liệu lỗi / database "
		                  "error");
		goto out;
	}
	if (mcc_audit(db, who, "settings.update", "setting", key, before,
	              value) != MC_OK)
		rc = mc_error_set(err, MC_ERR_IO,
		                  "nhật ký kiểm tra lỗi / "
		                  "audit log error");
out:
	free(text);
	json_decref(before);
	return rc;
}

/* ---- checking documents with the codec ------------------------------ */

/* Current revision of a referenced object, or NULL.  New reference. */
typedef json_t *(*lookup_fn)(void *ud, enum mcc_kind kind, const char *id);

static json_t *db_lookup(void *ud, enum mcc_kind kind, const char *id)
{
	return mcc_wf_doc(ud, kind, id, false);
}

/*
 * Rewrites the message of an error found in given document idx of kind
 * (rest is the message after "kind[idx]."); NULL keeps it as it is.
 */
typedef void (*rebase_fn)(void *ud, struct mc_error *err, int kind, size_t idx,
                          const char *rest);

/* What assemble checks. */
struct asm_set {
	json_t *docs[3];      /* given content, playlists, entries (arrays;
	                         NULL = none); written to the front */
	json_t *users;        /* more entries, checked with the given ones
	                         but not returned (a playlist's users) */
	const char *timezone; /* document zone; NULL = default */
	json_t *fallback;     /* {"screen","speaker"} or NULL */
	lookup_fn lookup;     /* referenced objects not given; NULL: none */
	void *lookup_ud;
	rebase_fn rebase; /* errors in given documents; NULL: as is */
	void *rebase_ud;
};

/* Does arr hold an object whose "id" is id? */
static bool has_id(const json_t *arr, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(json_object_get(v, "id"));

		if (s && strcmp(s, id) == 0)
			return true;
	}
	return false;
}

/* Append the current revision of kind/id to arr unless it is there. */
static void pull(const struct asm_set *in, json_t *arr, enum mcc_kind kind,
                 const char *id)
{
	json_t *d;

	if (!id || !in->lookup || has_id(arr, id))
		return;
	d = in->lookup(in->lookup_ud, kind, id);
	if (json_is_object(d))
		json_array_append(arr, d);
	json_decref(d);
}

/* "kind[idx].rest: ..." → kind, idx and rest; false for other forms. */
static bool err_path(const char *msg, int *kind, size_t *idx, const char **rest)
{
	for (int k = 0; k < 3; k++) {
		size_t n = strlen(kind_keys[k]);
		char *end;
		unsigned long v;

		if (strncmp(msg, kind_keys[k], n) != 0 || msg[n] != '[')
			continue;
		v = strtoul(msg + n + 1, &end, 10);
		if (end == msg + n + 1 || *end != ']')
			return false;
		*kind = k;
		*idx = v;
		*rest = end[1] == '.' ? end + 2 : end + 1;
		if (**rest == ':' || **rest == ' ')
			*rest += strspn(*rest, ": ");
		return true;
	}
	return false;
}

static const char *const kind_vi[] = {"nội dung", "danh sách phát",
                                      "lịch phát"};
static const char *const kind_en[] = {"content", "playlist", "entry"};

/* Name the document an error is in, in terms of the request. */
static void rebase_error(const struct asm_set *in, json_t *doc,
                         struct mc_error *err)
{
	char msg[MC_ERROR_MSG_MAX];
	const char *rest, *id;
	int kind;
	size_t idx, given;
	json_t *arr;

	if (!err_path(err->msg, &kind, &idx, &rest))
		return;
	snprintf(msg, sizeof(msg), "%s", rest);
	given = in->docs[kind] ? json_array_size(in->docs[kind]) : 0;
	if (idx < given) {
		if (in->rebase)
			in->rebase(in->rebase_ud, err, kind, idx, msg);
		return;
	}
	arr = json_object_get(doc, kind_keys[kind]);
	id = json_string_value(json_object_get(json_array_get(arr, idx), "id"));
	if (kind == MCC_KIND_ENTRY && in->users &&
	    idx - given < json_array_size(in->users))
		mc_error_set(err, err->code,
		             "items: lịch phát '%s' dùng danh sách này / entry "
		             "'%s' uses this playlist: %s",
		             id ? id : "?", id ? id : "?", msg);
	else
		mc_error_set(err, err->code, "%s '%s' (đã có / existing): %s",
		             kind_vi[kind], id ? id : "?", msg);
}

/* Entry targets: the codec's three lists plus groups and companies. */
static void keep_org_targets(json_t *canon, const json_t *given)
{
	json_t *gt = json_object_get(given, "targets");
	json_t *ct = json_object_get(canon, "targets");
	static const char *const extra[] = {"groups", "companies"};

	if (!json_is_object(gt))
		return;
	if (!json_is_object(ct)) {
		ct = json_object();
		json_object_set_new(canon, "targets", ct);
	}
	for (size_t i = 0; i < MC_ARRAY_LEN(extra); i++) {
		json_t *v = json_object_get(gt, extra[i]);

		if (json_is_array(v) && json_array_size(v))
			json_object_set_new(ct, extra[i], json_deep_copy(v));
	}
}

/*
 * Check the given documents with everything they refer to and return
 * their canonical forms: *canon = {"content","playlists","entries"} of
 * the given ones only (new reference).  *mout (may be NULL) gets the
 * parsed manifest of the whole set (caller frees).
 */
static enum mc_err assemble(const struct asm_set *in, json_t **canon,
                            struct mc_manifest **mout, struct mc_error *err)
{
	json_t *doc = NULL, *dump = NULL, *arr[3] = {NULL, NULL, NULL};
	char *text = NULL, *dtext = NULL;
	struct mc_manifest *m = NULL;
	struct mc_sched *s = NULL;
	enum mc_err rc = MC_OK;
	size_t i;
	json_t *v;

	*canon = NULL;
	if (mout)
		*mout = NULL;
	for (int k = 0; k < 3; k++) {
		arr[k] = in->docs[k] ? json_deep_copy(in->docs[k])
		                     : json_array();
		if (!arr[k])
			goto nomem;
	}
	json_array_foreach(in->users, i, v) json_array_append(arr[2], v);
	/* What the given documents refer to, in dependency order. */
	json_array_foreach(arr[2], i, v)
	{
		pull(in, arr[1], MCC_KIND_PLAYLIST,
		     json_string_value(json_object_get(v, "playlist")));
	}
	json_array_foreach(arr[1], i, v)
	{
		size_t j;
		json_t *it;

		json_array_foreach(json_object_get(v, "items"), j, it)
		{
			pull(in, arr[0], MCC_KIND_CONTENT,
			     json_string_value(json_object_get(it, "content")));
		}
	}
	for (int ch = 0; in->fallback && ch < MC_CH_COUNT; ch++)
		pull(in, arr[0], MCC_KIND_CONTENT,
		     json_string_value(json_object_get(
		             in->fallback,
		             mc_channel_name((enum mc_channel)ch))));
	/* Images behind slogans; the array grows while it is walked. */
	for (i = 0; i < json_array_size(arr[0]); i++)
		pull(in, arr[0], MCC_KIND_CONTENT,
		     json_string_value(json_object_get(
		             json_object_get(json_array_get(arr[0], i),
		                             "style"),
		             "bg_image")));
	doc = json_pack("{s:s,s:O,s:O,s:O}", "format", "minecast-manifest/1",
	                "content", arr[0], "playlists", arr[1], "entries",
	                arr[2]);
	if (!doc)
		goto nomem;
	if (in->timezone)
		json_object_set_new(doc, "timezone", json_string(in->timezone));
	if (in->fallback)
		json_object_set(doc, "fallback", in->fallback);
	text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		goto nomem;
	rc = mc_manifest_parse(text, strlen(text), MC_DOC_MANIFEST, &m, err);
	if (rc == MC_OK) {
		s = mc_sched_new(m, err);
		if (!s)
			rc = err->code ? err->code : MC_ERR_RANGE;
	}
	/* A rule the engine does not run is the author's to change. */
	if (rc == MC_ERR_UNSUPPORTED)
		rc = err->code = MC_ERR_RANGE;
	if (rc != MC_OK) {
		rebase_error(in, doc, err);
		goto out;
	}
	dtext = mc_manifest_dump(m);
	dump = dtext ? json_loads(dtext, 0, NULL) : NULL;
	if (!dump)
		goto nomem;
	*canon = json_object();
	for (int k = 0; *canon && k < 3; k++) {
		size_t given = in->docs[k] ? json_array_size(in->docs[k]) : 0;
		json_t *out = json_array(), *all;

		all = json_object_get(dump, kind_keys[k]);
		for (i = 0; out && i < given; i++) {
			json_t *d = json_deep_copy(json_array_get(all, i));

			if (!d)
				break;
			if (k == MCC_KIND_CONTENT) {
				const char *sha = json_string_value(
				        json_object_get(d, "sha256"));

				json_object_del(d, "src");
				if (sha) {
					char url[96];

					snprintf(url, sizeof(url),
					         "/v1/content/%s", sha);
					json_object_set_new(d, "url",
					                    json_string(url));
				}
			}
			if (k == MCC_KIND_ENTRY)
				keep_org_targets(
				        d, json_array_get(in->docs[k], i));
			json_array_append_new(out, d);
		}
		if (!out || i < given) {
			json_decref(out);
			json_decref(*canon);
			*canon = NULL;
			goto nomem;
		}
		json_object_set_new(*canon, kind_keys[k], out);
	}
	if (!*canon)
		goto nomem;
	if (mout) {
		*mout = m;
		m = NULL;
	}
	goto out;
nomem:
	rc = mc_error_set(err, MC_ERR_NOMEM, "hết bộ nhớ / out of memory");
out:
	mc_sched_free(s);
	mc_manifest_free(m);
	free(text);
	free(dtext);
	json_decref(dump);
	json_decref(doc);
	for (int k = 0; k < 3; k++)
		json_decref(arr[k]);
	return rc;
}

/* Single-object saves: "playlists[0].items[1].content: x" → "items[1].
 * content: x". */
static void rebase_strip(void *ud, struct mc_error *err, int kind, size_t idx,
                         const char *rest)
{
	(void)ud;
	(void)kind;
	(void)idx;
	err_reword(err, "", rest);
}

/* Campaign check shared by the pure function and the import. */
static enum mc_err campaign_docs(const json_t *campaign, lookup_fn lookup,
                                 void *ud, json_t **out, struct mc_error *err)
{
	struct asm_set in = {.lookup = lookup, .lookup_ud = ud};
	const char *fmt, *tz;
	json_t *fb, *canon = NULL, *v;
	enum mc_err rc;

	*out = NULL;
	if (!json_is_object(campaign))
		return mc_error_set(
		        err, MC_ERR_TYPE,
		        "campaign: phải là một đối tượng JSON / must "
		        "be a JSON object");
	v = json_object_get(campaign, "format");
	fmt = json_string_value(v);
	if (!v || json_is_null(v))
		return mc_error_set(err, MC_ERR_MISSING,
		                    "format: bắt buộc / "
		                    "required");
	if (!fmt || strcmp(fmt, "minecast-campaign/1") != 0)
		return mc_error_set(err, MC_ERR_RANGE,
		                    "format: phải là \"minecast-campaign/1\" / "
		                    "must be \"minecast-campaign/1\"");
	for (int k = 0; k < 3; k++) {
		v = json_object_get(campaign, kind_keys[k]);
		if (v && !json_is_null(v) && !json_is_array(v))
			return mc_error_set(err, MC_ERR_TYPE,
			                    "%s: phải là một mảng / must be an "
			                    "array",
			                    kind_keys[k]);
		in.docs[k] = json_is_array(v) ? v : NULL;
	}
	v = json_object_get(campaign, "timezone");
	if (v && !json_is_null(v) && !json_is_string(v))
		return mc_error_set(
		        err, MC_ERR_TYPE,
		        "timezone: phải là chuỗi / must be a string");
	tz = json_string_value(v);
	in.timezone = tz;
	fb = json_object_get(campaign, "fallback");
	if (fb && !json_is_null(fb) && !json_is_object(fb))
		return mc_error_set(
		        err, MC_ERR_TYPE,
		        "fallback: phải là một đối tượng / must be an "
		        "object");
	in.fallback = json_is_object(fb) ? fb : NULL;
	rc = assemble(&in, &canon, NULL, err);
	if (rc != MC_OK)
		return rc;
	json_object_set_new(canon, "timezone",
	                    tz ? json_string(tz) : json_null());
	if (in.fallback) {
		json_t *f = json_pack("{s:n,s:n}", "screen", "speaker");

		for (int ch = 0; f && ch < MC_CH_COUNT; ch++) {
			const char *k = mc_channel_name((enum mc_channel)ch);
			json_t *id = json_object_get(in.fallback, k);

			if (json_is_string(id))
				json_object_set(f, k, id);
		}
		json_object_set_new(canon, "fallback", f);
	} else {
		json_object_set_new(canon, "fallback", json_null());
	}
	*out = canon;
	return MC_OK;
}

enum mc_err mcc_campaign_docs(const json_t *campaign, json_t **out,
                              struct mc_error *err)
{
	return campaign_docs(campaign, NULL, NULL, out, err);
}

/* ---- HTTP helpers ---------------------------------------------------- */

static bool query_bool(struct mcc_req *rq, const char *key)
{
	const char *v = mcc_req_query(rq, key);

	return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
	             strcasecmp(v, "yes") == 0);
}

static void db_error(struct mcc_resp *rs)
{
	mcc_resp_error(rs, 500, NULL,
	               "cơ sở dữ liệu lỗi / database error (see the log)");
}

/*
 * End the request's transaction: commit it when rc is MC_OK (a commit
 * that fails is a database error in err), else roll it back and answer
 * err.  Returns the outcome.
 */
static enum mc_err end_tx(sqlite3 *db, struct mcc_resp *rs, enum mc_err rc,
                          struct mc_error *err)
{
	if (rc == MC_OK && mcc_db_commit(db) != MC_OK)
		rc = mc_error_set(err, MC_ERR_IO,
		                  "cơ sở dữ liệu lỗi / "
		                  "database error");
	if (rc != MC_OK) {
		mcc_db_rollback(db);
		mcc_resp_mc_error(rs, err);
	}
	return rc;
}

/* The audit record of an import (action), its report as "after". */
static enum mc_err audit_import(sqlite3 *db, const struct mcc_principal *who,
                                const char *action, json_t *report,
                                struct mc_error *err)
{
	if (mcc_audit(db, who, action, "import", NULL, NULL, report) != MC_OK)
		return mc_error_set(err, MC_ERR_IO,
		                    "nhật ký kiểm tra lỗi / "
		                    "audit log error");
	return MC_OK;
}

/* The kind of a /v1/playlists or /v1/entries path. */
static enum mcc_kind path_kind(const char *path)
{
	return strncmp(path, "/v1/entries", 11) == 0 ? MCC_KIND_ENTRY
	                                             : MCC_KIND_PLAYLIST;
}

/* ---- playlists and entries ------------------------------------------ */

static void h_list(struct mcc_req *rq, struct mcc_resp *rs)
{
	enum mcc_kind kind = path_kind(rq->path);
	const char *status = mcc_req_query(rq, "status");
	const char *channel = mcc_req_query(rq, "channel");
	/* ?1 and ?2 of both statements; channel is NULL but for entries. */
	const char *filters[2] = {status, channel};
	sqlite3 *db = mcc_db(rq->c);
	char where[256], count_sql[300], sql[768];
	json_t *items;
	int64_t limit, offset, total = 0;

	if (status && strcmp(status, "draft") != 0 &&
	    strcmp(status, "submitted") != 0 &&
	    strcmp(status, "approved") != 0 &&
	    strcmp(status, "rejected") != 0) {
		mcc_resp_error(
		        rs, 400, "status",
		        "status: phải là draft, submitted, approved hoặc "
		        "rejected / must be draft, submitted, approved "
		        "or rejected");
		return;
	}
	if (channel &&
	    (kind != MCC_KIND_ENTRY || mc_channel_parse(channel) < 0)) {
		mcc_resp_error(rs, 400, "channel",
		               "channel: phải là screen hoặc speaker / must be "
		               "screen or speaker");
		return;
	}
	if (!mcc_req_query_int(rq, rs, "limit", CAL_LIST_DEFAULT, 0,
	                       CAL_LIST_MAX, &limit) ||
	    !mcc_req_query_int(rq, rs, "offset", 0, 0, INT64_C(1) << 40,
	                       &offset))
		return;
	snprintf(where, sizeof(where),
	         "FROM %s t LEFT JOIN users ua ON ua.id = t.author_id "
	         "WHERE t.deleted = 0 AND (?1 IS NULL OR t.status = ?1)%s",
	         mcc_kind_table(kind),
	         kind == MCC_KIND_ENTRY ? " AND (?2 IS NULL OR t.channel = ?2)"
	                                : "");
	snprintf(count_sql, sizeof(count_sql), "SELECT count(*) %s", where);
	snprintf(sql, sizeof(sql),
	         "SELECT t.id, t.name, t.status, t.rev, t.approved_rev, "
	         "t.author_id, ua.name AS author, t.submitted_ms, "
	         "t.reviewed_ms, t.reject_reason, t.created_ms, t.updated_ms, "
	         "%st.doc_json %s ORDER BY t.id LIMIT ?3 OFFSET ?4",
	         kind == MCC_KIND_ENTRY ? "t.channel, t.priority, " : "",
	         where);
	items = mcc_db_page(db, count_sql, sql, filters, 2, limit, offset,
	                    &total);
	if (!items) {
		db_error(rs);
		return;
	}
	mcc_resp_json(rs, 200,
	              json_pack("{s:o,s:I}", "items", items, "total",
	                        (json_int_t)total));
}

static bool path_id(struct mcc_req *rq, struct mcc_resp *rs, enum mcc_kind kind)
{
	if (rq->n_params >= 1 && mc_id_valid(rq->params[0]))
		return true;
	mcc_resp_error(rs, 404, NULL, "không có %s này / no such %s",
	               kind_vi[kind], kind_en[kind]);
	return false;
}

static void h_get(struct mcc_req *rq, struct mcc_resp *rs)
{
	enum mcc_kind kind = path_kind(rq->path);
	json_t *view;

	if (!path_id(rq, rs, kind))
		return;
	view = mcc_wf_view(mcc_db(rq->c), kind, rq->params[0]);
	if (!view) {
		mcc_resp_error(rs, 404, NULL, "không có %s '%s' / no %s '%s'",
		               kind_vi[kind], rq->params[0], kind_en[kind],
		               rq->params[0]);
		return;
	}
	mcc_resp_json(rs, 200, view);
}

/* Append each row's first column, a JSON document, to out (one that does
 * not parse is passed over); finishes st. */
static void append_docs(sqlite3_stmt *st, json_t *out)
{
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		json_t *d = s ? json_loads(s, 0, NULL) : NULL;

		if (d)
			json_array_append_new(out, d);
	}
	mcc_db_done(st);
}

/* Live entries whose current doc plays playlist id (a playlist edit must
 * still fit their channels).  New reference. */
static json_t *playlist_users(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = mcc_db_prepare(
	        db, "SELECT doc_json FROM entries WHERE deleted = 0 AND "
	            "json_extract(doc_json, '$.playlist') = ? ORDER BY id");
	json_t *out = json_array();

	if (!st)
		return out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	append_docs(st, out);
	return out;
}

/*
 * Check one playlist or entry doc (its "id" set) against the library
 * and give its canonical form.
 */
static enum mc_err check_one(sqlite3 *db, enum mcc_kind kind, json_t *doc,
                             json_t **canon, struct mc_error *err)
{
	struct asm_set in = {
	        .lookup = db_lookup, .lookup_ud = db, .rebase = rebase_strip};
	json_t *one = json_pack("[O]", doc), *all = NULL;
	char *tz = doc_zone(db);
	enum mc_err rc;

	*canon = NULL;
	if (!one || !tz) {
		rc = mc_error_set(err, MC_ERR_NOMEM,
		                  "hết bộ nhớ / out of "
		                  "memory");
		goto out;
	}
	in.docs[kind] = one;
	in.timezone = tz;
	if (kind == MCC_KIND_PLAYLIST) {
		json_t *users = playlist_users(
		        db, json_string_value(json_object_get(doc, "id")));
		size_t i;
		json_t *u;

		/* The users as they will be: this playlist's new items. */
		in.users = json_array();
		json_array_foreach(users, i, u) json_array_append(in.users, u);
		json_decref(users);
	}
	rc = assemble(&in, &all, NULL, err);
	if (rc != MC_OK)
		goto out;
	if (kind == MCC_KIND_ENTRY) {
		json_t *t = json_object_get(doc, "targets");

		rc = mcc_targets_validate(db, json_is_null(t) ? NULL : t, err);
		if (rc != MC_OK)
			goto out;
	}
	*canon = json_incref(
	        json_array_get(json_object_get(all, kind_keys[kind]), 0));
out:
	json_decref(all);
	json_decref(one);
	json_decref(in.users);
	free(tz);
	return rc;
}

/* POST (create) or PUT (edit) of a playlist or entry. */
static void save(struct mcc_req *rq, struct mcc_resp *rs, bool create)
{
	enum mcc_kind kind = path_kind(rq->path);
	sqlite3 *db = mcc_db(rq->c);
	struct mc_error err = {0};
	json_t *body, *v, *canon = NULL;
	const char *id;
	bool submit = false;
	enum mc_err rc;

	if (!create && !path_id(rq, rs, kind))
		return;
	body = mcc_req_json(rq, rs);
	if (!body)
		return;
	v = json_object_get(body, "submit");
	if (v) {
		if (!json_is_boolean(v)) {
			mcc_resp_error(rs, 400, "submit",
			               "submit: phải là true hoặc false / must "
			               "be true or false");
			goto out;
		}
		submit = json_is_true(v);
		json_object_del(body, "submit");
	}
	submit = submit || query_bool(rq, "submit");
	v = json_object_get(body, "id");
	if (!create) {
		if (v && (!json_is_string(v) ||
		          strcmp(json_string_value(v), rq->params[0]) != 0)) {
			mcc_resp_error(
			        rs, 400, "id",
			        "id: khác với id trong đường dẫn / differs "
			        "from the id in the path");
			goto out;
		}
		json_object_set_new(body, "id", json_string(rq->params[0]));
	} else if (!v || json_is_null(v)) {
		mcc_resp_error(rs, 400, "id", "id: bắt buộc / required");
		goto out;
	} else if (!json_is_string(v) || !mc_id_valid(json_string_value(v))) {
		mcc_resp_error(
		        rs, 400, "id",
		        "id: 1 đến 64 ký tự A-Z a-z 0-9 . _ - / must be 1 "
		        "to 64 characters of A-Z a-z 0-9 . _ -");
		goto out;
	}
	id = json_string_value(json_object_get(body, "id"));
	if (mcc_db_begin(db) != MC_OK) {
		db_error(rs);
		goto out;
	}
	rc = check_one(db, kind, body, &canon, &err);
	if (rc == MC_OK)
		rc = mcc_wf_save(db, &rq->who, kind, id, canon, create, submit,
		                 &err);
	if (end_tx(db, rs, rc, &err) != MC_OK)
		goto out;
	mc_log_info("calendar", "%s %s '%s' by %s",
	            create ? "created" : "saved", mcc_kind_name(kind), id,
	            rq->who.name);
	v = mcc_wf_view(db, kind, id);
	if (v)
		mcc_resp_json(rs, create ? 201 : 200, v);
	else
		db_error(rs);
out:
	json_decref(canon);
	json_decref(body);
}

static void h_create(struct mcc_req *rq, struct mcc_resp *rs)
{
	save(rq, rs, true);
}

static void h_edit(struct mcc_req *rq, struct mcc_resp *rs)
{
	save(rq, rs, false);
}

static void h_delete(struct mcc_req *rq, struct mcc_resp *rs)
{
	enum mcc_kind kind = path_kind(rq->path);
	sqlite3 *db = mcc_db(rq->c);
	struct mc_error err = {0};
	enum mc_err rc;

	if (!path_id(rq, rs, kind))
		return;
	if (mcc_db_begin(db) != MC_OK) {
		db_error(rs);
		return;
	}
	rc = mcc_wf_delete(db, &rq->who, kind, rq->params[0], &err);
	if (end_tx(db, rs, rc, &err) != MC_OK)
		return;
	mc_log_info("calendar", "deleted %s '%s' by %s", mcc_kind_name(kind),
	            rq->params[0], rq->who.name);
	mcc_resp_json(rs, 200,
	              json_pack("{s:s,s:s,s:b}", "kind", mcc_kind_name(kind),
	                        "id", rq->params[0], "deleted", 1));
}

/* ---- settings -------------------------------------------------------- */

static json_t *schedule_settings(sqlite3 *db)
{
	char *tz = doc_zone(db);
	json_t *out = json_pack("{s:s,s:o}", "timezone",
	                        tz ? tz : MC_SCHED_DEFAULT_TZ, "fallback",
	                        fallback_setting(db));

	free(tz);
	return out;
}

static void h_settings_get(struct mcc_req *rq, struct mcc_resp *rs)
{
	mcc_resp_json(rs, 200, schedule_settings(mcc_db(rq->c)));
}

/* Check a zone name the way a document's timezone is checked. */
static enum mc_err check_zone(const char *tz, struct mc_error *err)
{
	struct asm_set in = {.timezone = tz};
	json_t *canon = NULL;
	enum mc_err rc = assemble(&in, &canon, NULL, err);

	json_decref(canon);
	return rc;
}

static void h_settings_put(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	struct mc_error err = {0};
	json_t *body, *tz, *fb, *newfb = NULL;
	enum mc_err rc = MC_OK;

	body = mcc_req_json(rq, rs);
	if (!body)
		return;
	tz = json_object_get(body, "timezone");
	fb = json_object_get(body, "fallback");
	if (tz && !json_is_string(tz)) {
		mcc_resp_error(
		        rs, 400, "timezone",
		        "timezone: phải là tên múi giờ IANA / must be an "
		        "IANA zone name");
		goto out;
	}
	if (fb && !json_is_object(fb)) {
		mcc_resp_error(rs, 400, "fallback",
		               "fallback: phải là {\"screen\", \"speaker\"} / "
		               "must be an object {\"screen\", \"speaker\"}");
		goto out;
	}
	if (tz && check_zone(json_string_value(tz), &err) != MC_OK) {
		mcc_resp_mc_error(rs, &err);
		goto out;
	}
	if (mcc_db_begin(db) != MC_OK) {
		db_error(rs);
		goto out;
	}
	if (fb) {
		const char *key;
		json_t *v;

		newfb = fallback_setting(db);
		json_object_foreach(fb, key, v)
		{
			if (mc_channel_parse(key) < 0) {
				rc = mc_error_set(
				        &err, MC_ERR_RANGE,
				        "fallback.%.20s: chỉ có screen "
				        "và speaker / only screen and "
				        "speaker",
				        key);
				break;
			}
			if (!json_is_null(v) && !json_is_string(v)) {
				rc = mc_error_set(
				        &err, MC_ERR_TYPE,
				        "fallback.%s: phải là id nội dung "
				        "hoặc null / must be a content id "
				        "or null",
				        key);
				break;
			}
			json_object_set(newfb, key, v);
		}
		if (rc == MC_OK) {
			/* The codec checks existence and the channel fit. */
			struct asm_set in = {.fallback = newfb,
			                     .lookup = db_lookup,
			                     .lookup_ud = db};
			json_t *canon = NULL;

			rc = assemble(&in, &canon, NULL, &err);
			json_decref(canon);
		}
		if (rc == MC_OK)
			rc = setting_put(db, &rq->who, "fallback", newfb, &err);
	}
	if (rc == MC_OK && tz)
		rc = setting_put(db, &rq->who, "timezone", tz, &err);
	if (end_tx(db, rs, rc, &err) != MC_OK)
		goto out;
	mcc_resp_json(rs, 200, schedule_settings(db));
out:
	json_decref(newfb);
	json_decref(body);
}

/* ---- import ---------------------------------------------------------- */

struct counts {
	int created, updated, unchanged;
};

static json_t *counts_json(const struct counts *c)
{
	return json_pack("{s:i,s:i,s:i}", "created", c->created, "updated",
	                 c->updated, "unchanged", c->unchanged);
}

/*
 * Is cur (a stored content doc, perhaps written by content.c in a
 * shorter form) the same item as canon (the codec's canonical form)?
 * Compared in canonical form, so that importing an export of items made
 * in the console does not send them back to review.
 */
static bool same_content(sqlite3 *db, json_t *cur, json_t *canon)
{
	struct asm_set in = {.lookup = db_lookup, .lookup_ud = db};
	struct mc_error err = {0};
	json_t *one = json_pack("[O]", cur), *out = NULL;
	bool same = false;

	in.docs[MCC_KIND_CONTENT] = one;
	if (one && assemble(&in, &out, NULL, &err) == MC_OK)
		same = json_equal(
		        json_array_get(json_object_get(out, "content"), 0),
		        canon);
	json_decref(out);
	json_decref(one);
	return same;
}

/*
 * Write docs of kind through the workflow inside the caller's
 * transaction: new ids are created, changed ones edited (an approved one
 * goes back to review), equal ones left alone (submit still submits a
 * draft).  where(i) names document i in errors.
 */
static enum mc_err store_docs(sqlite3 *db, const struct mcc_principal *who,
                              enum mcc_kind kind, json_t *docs, bool submit,
                              struct counts *cnt, struct mc_error *err)
{
	size_t i;
	json_t *d;

	json_array_foreach(docs, i, d)
	{
		const char *id = json_string_value(json_object_get(d, "id"));
		json_t *cur = mcc_wf_doc(db, kind, id, false);
		bool existed = cur != NULL, same = cur && json_equal(cur, d);
		enum mc_err rc;

		if (cur && !same && kind == MCC_KIND_CONTENT)
			same = same_content(db, cur, d);
		json_decref(cur);
		if (same && !submit) {
			cnt->unchanged++;
			continue;
		}
		if (same) {
			/* Only a draft to submit: keep the stored form. */
			cur = mcc_wf_doc(db, kind, id, false);
			rc = mcc_wf_save(db, who, kind, id, cur, false, true,
			                 err);
			json_decref(cur);
		} else {
			rc = mcc_wf_save(db, who, kind, id, d, !existed, submit,
			                 err);
		}
		if (rc != MC_OK) {
			char where[48];

			snprintf(where, sizeof(where),
			         "%s[%zu]: ", kind_keys[kind], i);
			err_reword(err, where, err->msg);
			return rc;
		}
		if (same)
			cnt->unchanged++;
		else if (existed)
			cnt->updated++;
		else
			cnt->created++;
	}
	return MC_OK;
}

/*
 * Every image and audio item's sha256 must name an uploaded blob of its
 * size; its MIME type comes from the blob when the document has none.
 */
static enum mc_err check_blobs(sqlite3 *db, json_t *content,
                               struct mc_error *err)
{
	sqlite3_stmt *st =
	        mcc_db_prepare(db, "SELECT size, mime FROM blobs WHERE "
	                           "sha256 = ?");
	size_t i;
	json_t *c;
	enum mc_err rc = MC_OK;

	if (!st)
		return mc_error_set(err, MC_ERR_IO,
		                    "cơ sở dữ liệu lỗi / "
		                    "database error");
	json_array_foreach(content, i, c)
	{
		const char *sha =
		        json_string_value(json_object_get(c, "sha256"));
		int64_t size = json_integer_value(json_object_get(c, "size"));
		int r;

		if (!sha)
			continue;
		sqlite3_bind_text(st, 1, sha, -1, SQLITE_TRANSIENT);
		r = sqlite3_step(st);
		if (r != SQLITE_ROW) {
			rc = mc_error_set(
			        err, MC_ERR_REF,
			        "content[%zu].sha256: chưa có tệp này trên máy "
			        "chủ, hãy tải lên trước (POST /v1/blobs) / no "
			        "uploaded file has this sha256: upload it "
			        "first",
			        i);
		} else if (sqlite3_column_int64(st, 0) != size) {
			rc = mc_error_set(
			        err, MC_ERR_RANGE,
			        "content[%zu].size: %lld khác kích thước "
			        "tệp đã tải lên %lld / differs from the "
			        "uploaded file's %lld bytes",
			        i, (long long)size,
			        (long long)sqlite3_column_int64(st, 0),
			        (long long)sqlite3_column_int64(st, 0));
		} else if (!json_object_get(c, "mime") &&
		           sqlite3_column_text(st, 1)) {
			json_object_set_new(
			        c, "mime",
			        json_string((const char *)sqlite3_column_text(
			                st, 1)));
		}
		mcc_db_done(st);
		if (rc != MC_OK)
			break;
	}
	return rc;
}

/* Targets of every entry exist (groups, companies, sites, nodes). */
static enum mc_err check_targets(sqlite3 *db, json_t *entries,
                                 void (*where)(void *ud, size_t i, char *buf,
                                               size_t len),
                                 void *ud, struct mc_error *err)
{
	size_t i;
	json_t *e;

	json_array_foreach(entries, i, e)
	{
		json_t *t = json_object_get(e, "targets");
		enum mc_err rc;

		if (!t || json_is_null(t))
			continue;
		rc = mcc_targets_validate(db, t, err);
		if (rc != MC_OK) {
			char w[96];

			where(ud, i, w, sizeof(w));
			err_reword(err, w, err->msg);
			return rc;
		}
	}
	return MC_OK;
}

static void where_campaign(void *ud, size_t i, char *buf, size_t len)
{
	(void)ud;
	snprintf(buf, len, "entries[%zu].", i);
}

/* Store checked documents (content, playlists, entries in that order so
 * that references exist) and report the counts. */
static enum mc_err store_all(sqlite3 *db, const struct mcc_principal *who,
                             json_t *docs, bool submit, json_t *report,
                             struct mc_error *err)
{
	for (int k = 0; k < 3; k++) {
		struct counts cnt = {0};
		enum mc_err rc = store_docs(db, who, (enum mcc_kind)k,
		                            json_object_get(docs, kind_keys[k]),
		                            submit, &cnt, err);

		if (rc != MC_OK)
			return rc;
		json_object_set_new(report, kind_keys[k], counts_json(&cnt));
	}
	return MC_OK;
}

static void h_import_campaign(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	struct mc_error err = {0};
	json_t *body, *campaign, *sub, *docs = NULL, *report = NULL, *v;
	bool submit = false;
	enum mc_err rc;

	body = mcc_req_json(rq, rs);
	if (!body)
		return;
	campaign = json_object_get(body, "campaign");
	sub = json_object_get(body, "submit");
	if (!json_is_object(campaign)) {
		mcc_resp_error(rs, 400, "campaign",
		               "campaign: bắt buộc, một chiến dịch JSON / "
		               "required: a campaign JSON object");
		goto out;
	}
	if (sub && !json_is_boolean(sub)) {
		mcc_resp_error(rs, 400, "submit",
		               "submit: phải là true hoặc false / must be true "
		               "or false");
		goto out;
	}
	submit = json_is_true(sub);
	if (mcc_db_begin(db) != MC_OK) {
		db_error(rs);
		goto out;
	}
	rc = campaign_docs(campaign, db_lookup, db, &docs, &err);
	if (rc == MC_OK)
		rc = check_blobs(db, json_object_get(docs, "content"), &err);
	if (rc == MC_OK)
		rc = check_targets(db, json_object_get(docs, "entries"),
		                   where_campaign, NULL, &err);
	report = json_object();
	if (rc == MC_OK)
		rc = store_all(db, &rq->who, docs, submit, report, &err);
	if (rc == MC_OK &&
	    mcc_content_meta_from_blobs(db, json_object_get(docs, "content")) !=
	            MC_OK)
		rc = mc_error_set(&err, MC_ERR_IO,
		                  "cơ sở dữ liệu lỗi / database error");
	v = json_object_get(docs, "timezone");
	if (rc == MC_OK && json_is_string(v))
		rc = setting_put(db, &rq->who, "timezone", v, &err);
	v = json_object_get(docs, "fallback");
	if (rc == MC_OK && json_is_object(v))
		rc = setting_put(db, &rq->who, "fallback", v, &err);
	if (rc == MC_OK)
		rc = audit_import(db, &rq->who, "import.campaign", report,
		                  &err);
	if (end_tx(db, rs, rc, &err) != MC_OK)
		goto out;
	{
		const char *name =
		        json_string_value(json_object_get(campaign, "name"));

		mc_log_info("calendar", "imported campaign '%s' by %s",
		            name ? name : "-", rq->who.name);
	}
	json_object_set_new(report, "submitted", json_boolean(submit));
	json_object_set(report, "timezone", json_object_get(docs, "timezone"));
	json_object_set(report, "fallback", json_object_get(docs, "fallback"));
	mcc_resp_json(rs, 200, json_incref(report));
out:
	json_decref(report);
	json_decref(docs);
	json_decref(body);
}

/* Where iCalendar documents came from, for messages. */
struct ics_where {
	json_t *parsed; /* mcc_ics_parse's answer */
};

static void ics_event_of(const struct ics_where *w, int kind, size_t idx,
                         int *n, int *line)
{
	json_t *src = json_object_get(json_object_get(w->parsed, "sources"),
	                              kind_keys[kind]);
	size_t ev = (size_t)json_integer_value(json_array_get(src, idx));

	*n = (int)ev + 1;
	*line = (int)json_integer_value(json_object_get(
	        json_array_get(json_object_get(w->parsed, "events"), ev),
	        "line"));
}

static void rebase_ics(void *ud, struct mc_error *err, int kind, size_t idx,
                       const char *rest)
{
	int n, line;
	char where[64];

	ics_event_of(ud, kind, idx, &n, &line);
	snprintf(where, sizeof(where), "VEVENT %d (dòng/line %d): ", n, line);
	err_reword(err, where, rest);
}

static void where_ics(void *ud, size_t i, char *buf, size_t len)
{
	int n, line;

	ics_event_of(ud, MCC_KIND_ENTRY, i, &n, &line);
	snprintf(buf, len, "VEVENT %d (dòng/line %d): ", n, line);
}

static void h_import_ics(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	struct mc_error err = {0};
	struct mcc_ics_opts o = {0};
	struct ics_where w = {0};
	const char *ct = mcc_req_header(rq, "Content-Type");
	json_t *docs = NULL, *report = NULL, *ids = NULL;
	char *tz = NULL;
	bool submit = query_bool(rq, "submit");
	enum mc_err rc;

	if (ct && strncasecmp(ct, "text/calendar", 13) != 0 &&
	    strncasecmp(ct, "text/plain", 10) != 0 &&
	    strncasecmp(ct, "application/octet-stream", 24) != 0) {
		mcc_resp_error(rs, 415, NULL,
		               "Content-Type phải là text/calendar / must be "
		               "text/calendar");
		return;
	}
	o.playlist = mcc_req_query(rq, "playlist");
	o.channel = mcc_req_query(rq, "channel");
	if (o.playlist && !*o.playlist)
		o.playlist = NULL;
	if (o.channel && mc_channel_parse(o.channel) < 0) {
		mcc_resp_error(rs, 400, "channel",
		               "channel: phải là screen hoặc speaker / must be "
		               "screen or speaker");
		return;
	}
	if (o.playlist && !mc_id_valid(o.playlist)) {
		mcc_resp_error(rs, 400, "playlist",
		               "playlist: id không hợp lệ / not a valid id");
		return;
	}
	if (o.playlist) {
		json_t *pl =
		        mcc_wf_doc(db, MCC_KIND_PLAYLIST, o.playlist, false);

		json_decref(pl);
		if (!pl) {
			mcc_resp_error(
			        rs, 400, "playlist",
			        "playlist: không có danh sách phát '%s' / "
			        "no playlist '%s'",
			        o.playlist, o.playlist);
			return;
		}
	}
	if (!rq->body || rq->body_len == 0) {
		mcc_resp_error(rs, 400, NULL,
		               "ics: nội dung trống / the body is empty: send "
		               "the .ics file");
		return;
	}
	rc = mcc_ics_parse(rq->body, rq->body_len, &o, &w.parsed, &err);
	if (rc != MC_OK) {
		mcc_resp_mc_error(rs, &err);
		return;
	}
	tz = doc_zone(db);
	if (mcc_db_begin(db) != MC_OK) {
		db_error(rs);
		goto out;
	}
	{
		struct asm_set in = {.lookup = db_lookup,
		                     .lookup_ud = db,
		                     .rebase = rebase_ics,
		                     .rebase_ud = &w,
		                     .timezone = tz};

		for (int k = 0; k < 3; k++)
			in.docs[k] = json_object_get(w.parsed, kind_keys[k]);
		rc = assemble(&in, &docs, NULL, &err);
	}
	if (rc == MC_OK)
		rc = check_targets(db, json_object_get(docs, "entries"),
		                   where_ics, &w, &err);
	report = json_object();
	if (rc == MC_OK)
		rc = store_all(db, &rq->who, docs, submit, report, &err);
	if (rc == MC_OK)
		rc = audit_import(db, &rq->who, "import.ics", report, &err);
	if (end_tx(db, rs, rc, &err) != MC_OK)
		goto out;
	ids = json_array();
	{
		size_t i;
		json_t *e;

		json_array_foreach(json_object_get(docs, "entries"), i, e)
		{
			json_array_append(ids, json_object_get(e, "id"));
		}
	}
	mc_log_info("calendar", "imported %zu events from iCalendar by %s",
	            json_array_size(ids), rq->who.name);
	json_object_set_new(report, "submitted", json_boolean(submit));
	json_object_set(report, "ids", ids);
	mcc_resp_json(rs, 200, json_incref(report));
out:
	free(tz);
	json_decref(ids);
	json_decref(report);
	json_decref(docs);
	json_decref(w.parsed);
}

/* ---- export ---------------------------------------------------------- */

/* Every live object's approved (or current) doc, by id.  New ref. */
static json_t *all_docs(sqlite3 *db, enum mcc_kind kind, bool drafts)
{
	char sql[200];
	sqlite3_stmt *st;
	json_t *out = json_array();

	snprintf(sql, sizeof(sql),
	         "SELECT %s FROM %s WHERE deleted = 0 AND %s IS NOT NULL "
	         "ORDER BY id",
	         drafts ? "doc_json" : "approved_json", mcc_kind_table(kind),
	         drafts ? "doc_json" : "approved_json");
	st = mcc_db_prepare(db, sql);
	if (!st || !out) {
		json_decref(out);
		return NULL;
	}
	append_docs(st, out);
	return out;
}

static void h_export_campaign(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	bool drafts = query_bool(rq, "drafts");
	char *tz = doc_zone(db);
	json_t *c = all_docs(db, MCC_KIND_CONTENT, drafts);
	json_t *p = all_docs(db, MCC_KIND_PLAYLIST, drafts);
	json_t *e = all_docs(db, MCC_KIND_ENTRY, drafts);
	json_t *fb = fallback_setting(db);

	if (!tz || !c || !p || !e || !fb) {
		json_decref(c);
		json_decref(p);
		json_decref(e);
		json_decref(fb);
		free(tz);
		db_error(rs);
		return;
	}
	mcc_resp_json(rs, 200,
	              json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "format",
	                        "minecast-campaign/1", "name",
	                        drafts ? "minecast (bản nháp / drafts)"
	                               : "minecast (đã duyệt / approved)",
	                        "timezone", tz, "content", c, "playlists", p,
	                        "entries", e, "fallback", fb));
	free(tz);
}

static void h_export_ics(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	bool drafts = query_bool(rq, "drafts");
	struct mc_error err = {0};
	char *tz = doc_zone(db), *text = NULL;
	json_t *e = all_docs(db, MCC_KIND_ENTRY, drafts);

	if (!tz || !e) {
		db_error(rs);
	} else if (mcc_ics_export(e, "minecast", tz, &text, &err) != MC_OK) {
		mcc_resp_mc_error(rs, &err);
	} else {
		mcc_resp_header(rs, "Content-Disposition",
		                "attachment; filename=\"minecast.ics\"");
		mcc_resp_bytes(rs, 200, "text/calendar; charset=utf-8", text,
		               strlen(text));
	}
	json_decref(e);
	free(tz);
}

/* ---- preview --------------------------------------------------------- */

static json_t *clock_json(const struct mc_sched *s, const struct mc_day *day,
                          int64_t t)
{
	char buf[24];
	int h, mi, se;

	if (t >= day->to_ms)
		return json_string("24:00:00");
	mc_sched_local(s, SIZE_MAX, t, NULL, NULL, NULL, &h, &mi, &se);
	if (t % 1000)
		snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03d", h, mi, se,
		         (int)((t % 1000 + 1000) % 1000));
	else
		snprintf(buf, sizeof(buf), "%02d:%02d:%02d", h, mi, se);
	return json_string(buf);
}

static json_t *seg_json(const struct mc_manifest *m, const struct mc_sched *s,
                        const struct mc_day *day, const struct mc_day_seg *g)
{
	static const char *const kinds[] = {"scheduled", "fallback", "idle"};
	static const char *const reasons[] = {"none", "idle", "clock"};
	json_t *o = json_object(), *ents = json_array(), *items = json_array();

	if (!o || !ents || !items) {
		json_decref(o);
		json_decref(ents);
		json_decref(items);
		return NULL;
	}
	json_object_set_new(o, "from_ms", json_integer(g->from_ms));
	json_object_set_new(o, "to_ms", json_integer(g->to_ms));
	json_object_set_new(o, "from", clock_json(s, day, g->from_ms));
	json_object_set_new(o, "to", clock_json(s, day, g->to_ms));
	json_object_set_new(o, "kind", json_string(kinds[g->kind]));
	json_object_set_new(o, "reason", json_string(reasons[g->reason]));
	json_object_set_new(o, "once", json_boolean(g->once));
	json_object_set_new(o, "shared", json_boolean(g->n_group > 1));
	if (g->kind == MC_NOW_SCHEDULED)
		json_object_set_new(o, "anchor_ms", json_integer(g->anchor_ms));
	for (size_t j = 0; j < g->n_group; j++) {
		const struct mc_entry *e = &m->entries[g->group[j]];
		json_t *ej = json_pack("{s:s,s:s,s:i,s:s,s:s?}", "id", e->id,
		                       "layer", mc_layer_name(e->layer),
		                       "priority", e->priority, "mode",
		                       mc_mode_name(e->mode), "name", e->name);

		if (ej && e->founded)
			json_object_set_new(ej, "founded",
			                    json_integer(e->founded));
		json_array_append_new(ents, ej);
	}
	for (size_t k = 0; k < g->n_items; k++) {
		const struct mc_day_item *di = &g->items[k];
		const struct mc_content *c = di->content;
		json_t *ij = json_pack(
		        "{s:s?,s:s?,s:s?,s:I}", "content", di->content_id,
		        "name", c ? c->name : NULL, "type",
		        c ? mc_content_type_name(c->type) : NULL, "duration_ms",
		        (json_int_t)di->duration_ms);

		if (!ij)
			continue;
		if (di->entry != SIZE_MAX)
			json_object_set_new(
			        ij, "entry",
			        json_string(m->entries[di->entry].id));
		if (di->at_ms >= 0) {
			json_object_set_new(ij, "at_ms",
			                    json_integer(di->at_ms));
			json_object_set_new(ij, "at",
			                    clock_json(s, day, di->at_ms));
		}
		if (di->text)
			json_object_set_new(ij, "text", json_string(di->text));
		json_array_append_new(items, ij);
	}
	json_object_set_new(o, "entries", ents);
	json_object_set_new(o, "items", items);
	return o;
}

static void h_preview(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	const char *node = mcc_req_query(rq, "node");
	const char *site = mcc_req_query(rq, "site");
	const char *date = mcc_req_query(rq, "date");
	bool drafts = query_bool(rq, "drafts");
	struct mc_error err = {0};
	struct mcc_place place = {0};
	struct mc_manifest *m = NULL;
	struct mc_sched *s = NULL;
	struct mc_sched_opts opts = {.clock_synced = true};
	struct mc_day day = {0};
	json_t *out = NULL, *chans = NULL, *skipped = NULL;
	char *text = NULL;
	int y, mo, d;
	enum mc_err rc;

	if ((node && site) || (!node && !site)) {
		mcc_resp_error(rs, 400, "node",
		               "node hoặc site: cần đúng một trong hai / give "
		               "exactly one of node and site");
		return;
	}
	if (!date || !mc_day_parse_date(date, &y, &mo, &d)) {
		mcc_resp_error(rs, 400, "date",
		               "date: phải là một ngày YYYY-MM-DD / must be a "
		               "date YYYY-MM-DD");
		return;
	}
	if ((node && !mc_id_valid(node)) || (site && !mc_id_valid(site))) {
		mcc_resp_error(rs, 404, node ? "node" : "site",
		               "%s: không có / no such %s",
		               node ? "node" : "site", node ? "node" : "site");
		return;
	}
	rc = node ? mcc_org_node_place(db, node, &place, &err)
	          : mcc_org_site_place(db, site, &place, &err);
	if (rc != MC_OK) {
		mcc_resp_mc_error(rs, &err);
		return;
	}
	rc = mcc_compile_place_ex(rq->c, db, &place, drafts, &text, &skipped,
	                          &err);
	if (rc != MC_OK) {
		mcc_resp_mc_error(rs, &err);
		goto out;
	}
	rc = mc_manifest_parse(text, strlen(text), MC_DOC_MANIFEST, &m, &err);
	if (rc == MC_OK) {
		s = mc_sched_new(m, &err);
		if (!s)
			rc = err.code ? err.code : MC_ERR_RANGE;
	}
	if (rc != MC_OK) {
		/* The library was checked when it was saved; a manifest
		 * that does not compile is the server's fault. */
		mc_log_error("calendar",
		             "preview: compiled manifest refused: "
		             "%s",
		             err.msg);
		mcc_resp_error(rs, 500, NULL,
		               "lịch không biên dịch được / the schedule does "
		               "not compile: %s",
		               err.msg);
		goto out;
	}
	if (mc_day_build(m, s, y, mo, d, NULL, &opts, &day) != MC_OK) {
		mcc_resp_error(rs, 500, NULL, "hết bộ nhớ / out of memory");
		goto out;
	}
	chans = json_object();
	for (int ch = 0; chans && ch < MC_CH_COUNT; ch++) {
		json_t *segs = json_array();

		for (size_t i = 0; segs && i < day.ch[ch].n_segs; i++)
			json_array_append_new(
			        segs,
			        seg_json(m, s, &day, &day.ch[ch].segs[i]));
		json_object_set_new(chans, mc_channel_name((enum mc_channel)ch),
		                    segs);
	}
	out = json_pack(
	        "{s:s?,s:s?,s:s,s:s,s:b,s:I,s:I,s:O,s:o}", "node", place.node,
	        "site", place.site, "date", date, "timezone",
	        m->timezone ? m->timezone : MC_SCHED_DEFAULT_TZ, "drafts",
	        drafts, "from_ms", (json_int_t)day.from_ms, "to_ms",
	        (json_int_t)day.to_ms, "channels", chans, "skipped",
	        skipped ? json_incref(skipped) : json_array());
	mcc_resp_json(rs, 200, out);
out:
	json_decref(chans);
	json_decref(skipped);
	mc_day_clear(&day);
	mc_sched_free(s);
	mc_manifest_free(m);
	free(text);
	mcc_place_clear(&place);
}

const struct mcc_route mcc_calendar_routes[] = {
        {"GET", "/v1/playlists", MCC_ROLE_ANY_USER, 0, 0, h_list},
        {"POST", "/v1/playlists", MCC_ROLE_EDITOR, CAL_DOC_MAX_BODY, 0,
         h_create},
        {"GET", "/v1/playlists/{}", MCC_ROLE_ANY_USER, 0, 0, h_get},
        {"PUT", "/v1/playlists/{}", MCC_ROLE_EDITOR, CAL_DOC_MAX_BODY, 0,
         h_edit},
        {"DELETE", "/v1/playlists/{}", MCC_ROLE_EDITOR, 0, 0, h_delete},
        {"GET", "/v1/entries", MCC_ROLE_ANY_USER, 0, 0, h_list},
        {"POST", "/v1/entries", MCC_ROLE_EDITOR, CAL_DOC_MAX_BODY, 0, h_create},
        {"GET", "/v1/entries/{}", MCC_ROLE_ANY_USER, 0, 0, h_get},
        {"PUT", "/v1/entries/{}", MCC_ROLE_EDITOR, CAL_DOC_MAX_BODY, 0, h_edit},
        {"DELETE", "/v1/entries/{}", MCC_ROLE_EDITOR, 0, 0, h_delete},
        {"GET", "/v1/settings/schedule", MCC_ROLE_ANY_USER, 0, 0,
         h_settings_get},
        {"PUT", "/v1/settings/schedule", MCC_ROLE_EDITOR, 65536, 0,
         h_settings_put},
        {"POST", "/v1/import/campaign", MCC_ROLE_EDITOR, CAL_CAMPAIGN_MAX_BODY,
         0, h_import_campaign},
        {"POST", "/v1/import/ics", MCC_ROLE_EDITOR, MCC_ICS_MAX_BYTES, 0,
         h_import_ics},
        {"GET", "/v1/export/campaign", MCC_ROLE_ANY_USER, 0, 0,
         h_export_campaign},
        {"GET", "/v1/export/ics", MCC_ROLE_ANY_USER, 0, 0, h_export_ics},
        {"GET", "/v1/preview", MCC_ROLE_ANY_USER, 0, 0, h_preview},
        {NULL, NULL, 0, 0, 0, NULL},
};
