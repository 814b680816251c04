/*
 * The editorial workflow over content, playlists and entries (workflow.h).
 *
 * The three tables share the workflow columns, so every statement here is
 * written once with the table name filled in.  Table names come from a
 * fixed array indexed by enum mcc_kind, never from input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/log.h"
#include "minecast/text.h"
#include "minecast/util.h"

#include "audit.h"
#include "db.h"
#include "http.h"
#include "workflow.h"

/* Longest reject reason, in bytes after NFC. */
#define WF_REASON_MAX 1000

static const char *const kind_tables[] = {"content", "playlists", "entries"};
static const char *const kind_names[] = {"content", "playlist", "entry"};
/* How staff call each kind, for messages: Vietnamese / English. */
static const char *const kind_vi[] = {"nội dung", "danh sách phát",
                                      "lịch phát"};

const char *mcc_kind_table(enum mcc_kind kind)
{
	return kind_tables[kind];
}

const char *mcc_kind_name(enum mcc_kind kind)
{
	return kind_names[kind];
}

int mcc_kind_parse(const char *s)
{
	if (!s)
		return -1;
	if (strcmp(s, "content") == 0)
		return MCC_KIND_CONTENT;
	if (strcmp(s, "playlist") == 0 || strcmp(s, "playlists") == 0)
		return MCC_KIND_PLAYLIST;
	if (strcmp(s, "entry") == 0 || strcmp(s, "entries") == 0)
		return MCC_KIND_ENTRY;
	return -1;
}

/* What the transitions need to know about a row. */
struct wf_row {
	bool found;           /* a row with this id exists */
	bool deleted;         /* ... but it is deleted */
	char status[16];      /* draft, submitted, approved, rejected */
	int64_t rev;          /* current revision number */
	int64_t author_id;    /* who wrote the current revision */
	int64_t submitted_by; /* who submitted it; 0 = nobody */
	json_t *doc;          /* doc_json (new reference) or NULL */
};

/* The caller's answer to any database failure (logged where it happens). */
static enum mc_err db_err(struct mc_error *err)
{
	return mc_error_set(err, MC_ERR_IO,
	                    "cơ sở dữ liệu lỗi / database error");
}

static void row_clear(struct wf_row *r)
{
	json_decref(r->doc);
	memset(r, 0, sizeof(*r));
}

static json_t *parse_col(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	return s ? json_loads(s, 0, NULL) : NULL;
}

static enum mc_err read_row(sqlite3 *db, enum mcc_kind kind, const char *id,
                            struct wf_row *r, struct mc_error *err)
{
	char sql[256];
	sqlite3_stmt *st;
	int rc;

	memset(r, 0, sizeof(*r));
	snprintf(sql, sizeof(sql),
	         "SELECT status, rev, author_id, submitted_by, deleted, "
	         "doc_json FROM %s WHERE id = ?",
	         kind_tables[kind]);
	st = mcc_db_prepare(db, sql);
	if (!st)
		return db_err(err);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(st, 0);

		r->found = true;
		snprintf(r->status, sizeof(r->status), "%s",
		         status ? status : "");
		r->rev = sqlite3_column_int64(st, 1);
		r->author_id = sqlite3_column_int64(st, 2);
		r->submitted_by = sqlite3_column_int64(st, 3);
		r->deleted = sqlite3_column_int(st, 4) != 0;
		r->doc = parse_col(st, 5);
	}
	mcc_db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		mc_log_error("workflow", "reading %s '%s': %s",
		             kind_tables[kind], id, sqlite3_errstr(rc));
		return db_err(err);
	}
	return MC_OK;
}

/* read_row of a live object: MC_ERR_NOTFOUND naming it when there is none
 * or it is deleted.  Clear r with row_clear() whatever the result. */
static enum mc_err read_live_row(sqlite3 *db, enum mcc_kind kind,
                                 const char *id, struct wf_row *r,
                                 struct mc_error *err)
{
	enum mc_err rc = read_row(db, kind, id, r, err);

	if (rc == MC_OK && (!r->found || r->deleted))
		rc = mc_error_set(err, MC_ERR_NOTFOUND,
		                  "không có %s '%s' / no %s '%s'",
		                  kind_vi[kind], id, kind_names[kind], id);
	return rc;
}

/* Run a prepared statement to completion; MC_ERR_IO (logged) on error. */
static enum mc_err step_done(sqlite3_stmt *st, const char *what,
                             struct mc_error *err)
{
	int rc = sqlite3_step(st);

	mcc_db_done(st);
	if (rc == SQLITE_DONE)
		return MC_OK;
	mc_log_error("workflow", "%s: %s", what, sqlite3_errstr(rc));
	return db_err(err);
}

static void bind_opt_int(sqlite3_stmt *st, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

json_t *mcc_wf_view(sqlite3 *db, enum mcc_kind kind, const char *id)
{
	char sql[512];
	sqlite3_stmt *st;
	json_t *rows, *obj = NULL;

	snprintf(sql, sizeof(sql),
	         "SELECT t.*, ua.name AS author, us.name AS submitted_by_name, "
	         "ur.name AS reviewed_by_name FROM %s t "
	         "LEFT JOIN users ua ON ua.id = t.author_id "
	         "LEFT JOIN users us ON us.id = t.submitted_by "
	         "LEFT JOIN users ur ON ur.id = t.reviewed_by "
	         "WHERE t.id = ? AND t.deleted = 0",
	         kind_tables[kind]);
	st = mcc_db_prepare(db, sql);
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	rows = mcc_db_rows(st);
	mcc_db_done(st);
	if (rows && json_array_size(rows) == 1) {
		obj = json_incref(json_array_get(rows, 0));
		json_object_del(obj, "deleted");
		json_object_set_new(obj, "kind", json_string(kind_names[kind]));
	}
	json_decref(rows);
	return obj;
}

json_t *mcc_wf_doc(sqlite3 *db, enum mcc_kind kind, const char *id,
                   bool approved)
{
	char sql[256];
	sqlite3_stmt *st;
	json_t *doc = NULL;

	snprintf(sql, sizeof(sql),
	         "SELECT %s FROM %s WHERE id = ? AND deleted = 0",
	         approved ? "approved_json" : "doc_json", kind_tables[kind]);
	st = mcc_db_prepare(db, sql);
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		doc = parse_col(st, 0);
	mcc_db_done(st);
	return doc;
}

static const char *doc_str(const json_t *doc, const char *key)
{
	const char *s = json_string_value(json_object_get(doc, key));

	return s ? s : "";
}

/* The row's own columns, copied from doc so that lists need no JSON. */
static enum mc_err set_columns(sqlite3 *db, enum mcc_kind kind, const char *id,
                               json_t *doc, struct mc_error *err)
{
	sqlite3_stmt *st;
	json_t *prio;

	switch (kind) {
	case MCC_KIND_CONTENT:
		st = mcc_db_prepare(db, "UPDATE content SET type = ?, name = ? "
		                        "WHERE id = ?");
		if (!st)
			break;
		sqlite3_bind_text(st, 1, doc_str(doc, "type"), -1,
		                  SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, doc_str(doc, "name"), -1,
		                  SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, id, -1, SQLITE_TRANSIENT);
		return step_done(st, "content columns", err);
	case MCC_KIND_PLAYLIST:
		st = mcc_db_prepare(db, "UPDATE playlists SET name = ? "
		                        "WHERE id = ?");
		if (!st)
			break;
		sqlite3_bind_text(st, 1, doc_str(doc, "name"), -1,
		                  SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
		return step_done(st, "playlist columns", err);
	case MCC_KIND_ENTRY:
		st = mcc_db_prepare(db, "UPDATE entries SET name = ?, "
		                        "channel = ?, priority = ? "
		                        "WHERE id = ?");
		if (!st)
			break;
		prio = json_object_get(doc, "priority");
		sqlite3_bind_text(st, 1, doc_str(doc, "name"), -1,
		                  SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, doc_str(doc, "channel"), -1,
		                  SQLITE_TRANSIENT);
		sqlite3_bind_int64(
		        st, 3,
		        json_is_integer(prio) ? json_integer_value(prio) : 50);
		sqlite3_bind_text(st, 4, id, -1, SQLITE_TRANSIENT);
		return step_done(st, "entry columns", err);
	}
	return db_err(err);
}

static enum mc_err audit(sqlite3 *db, const struct mcc_principal *who,
                         enum mcc_kind kind, const char *verb, const char *id,
                         json_t *before, struct mc_error *err)
{
	char action[48];
	json_t *after = mcc_wf_view(db, kind, id);
	enum mc_err rc;

	snprintf(action, sizeof(action), "%s.%s", kind_names[kind], verb);
	rc = mcc_audit(db, who, action, kind_names[kind], id, before, after);
	json_decref(after);
	if (rc != MC_OK)
		return mc_error_set(err, rc,
		                    "nhật ký kiểm tra lỗi / "
		                    "audit log error");
	return MC_OK;
}

/* draft|rejected → submitted, inside a transaction; row already read. */
static enum mc_err submit_row(sqlite3 *db, const struct mcc_principal *who,
                              enum mcc_kind kind, const char *id,
                              const struct wf_row *r, struct mc_error *err)
{
	char sql[256];
	sqlite3_stmt *st;
	json_t *before;
	enum mc_err rc;

	if (strcmp(r->status, "draft") != 0 &&
	    strcmp(r->status, "rejected") != 0)
		return mc_error_set(err, MC_ERR_CONFLICT,
		                    "%s '%s' đang ở trạng thái %s, không gửi "
		                    "duyệt được / is %s: only a draft or a "
		                    "rejected object can be submitted",
		                    kind_vi[kind], id, r->status, r->status);
	before = mcc_wf_view(db, kind, id);
	snprintf(sql, sizeof(sql),
	         "UPDATE %s SET status = 'submitted', submitted_by = ?, "
	         "submitted_ms = ?, reject_reason = NULL, updated_ms = ? "
	         "WHERE id = ?",
	         kind_tables[kind]);
	st = mcc_db_prepare(db, sql);
	if (!st) {
		rc = db_err(err);
		goto out;
	}
	{
		int64_t now = mc_now_ms();

		bind_opt_int(st, 1, who->user_id);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_bind_int64(st, 3, now);
		sqlite3_bind_text(st, 4, id, -1, SQLITE_TRANSIENT);
	}
	rc = step_done(st, "submit", err);
	if (rc == MC_OK)
		rc = audit(db, who, kind, "submit", id, before, err);
out:
	json_decref(before);
	return rc;
}

enum mc_err mcc_wf_save(sqlite3 *db, const struct mcc_principal *who,
                        enum mcc_kind kind, const char *id, json_t *doc,
                        bool create, bool submit, struct mc_error *err)
{
	struct wf_row r;
	json_t *before = NULL;
	char *text = NULL;
	const char *status;
	sqlite3_stmt *st = NULL;
	char sql[640];
	int64_t now = mc_now_ms();
	bool sub;
	enum mc_err rc;

	if (!json_is_object(doc) || !mc_id_valid(id))
		return mc_error_set(err, MC_ERR_INVAL,
		                    "id: không hợp lệ / "
		                    "invalid");
	if (kind == MCC_KIND_CONTENT && !*doc_str(doc, "type"))
		return mc_error_set(err, MC_ERR_MISSING,
		                    "type: bắt buộc / "
		                    "required");
	if (kind == MCC_KIND_ENTRY && !*doc_str(doc, "channel"))
		return mc_error_set(err, MC_ERR_MISSING,
		                    "channel: bắt buộc / "
		                    "required");
	rc = read_row(db, kind, id, &r, err);
	if (rc != MC_OK)
		return rc;
	if (create && r.found && !r.deleted) {
		rc = mc_error_set(err, MC_ERR_EXISTS,
		                  "id: %s '%s' đã tồn tại / %s '%s' already "
		                  "exists",
		                  kind_vi[kind], id, kind_names[kind], id);
		goto out;
	}
	if (!create && (!r.found || r.deleted)) {
		rc = mc_error_set(err, MC_ERR_NOTFOUND,
		                  "không có %s '%s' / no %s '%s'",
		                  kind_vi[kind], id, kind_names[kind], id);
		goto out;
	}
	if (!create && r.doc && json_equal(r.doc, doc)) {
		/* Nothing to change; a submit still submits a draft. */
		rc = MC_OK;
		if (submit && (strcmp(r.status, "draft") == 0 ||
		               strcmp(r.status, "rejected") == 0))
			rc = submit_row(db, who, kind, id, &r, err);
		goto out;
	}
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text) {
		rc = mc_error_set(err, MC_ERR_NOMEM,
		                  "hết bộ nhớ / out of "
		                  "memory");
		goto out;
	}
	/* The new status: an approved object goes back to review, a rejected
	 * one becomes a draft again unless the editor submits at once. */
	if (create || !r.found || r.deleted)
		sub = submit;
	else if (strcmp(r.status, "approved") == 0 ||
	         strcmp(r.status, "submitted") == 0)
		sub = true;
	else
		sub = submit;
	status = sub ? "submitted" : "draft";
	if (r.found) {
		if (!r.deleted)
			before = mcc_wf_view(db, kind, id);
		snprintf(sql, sizeof(sql),
		         "UPDATE %s SET doc_json = ?, status = ?, "
		         "rev = rev + 1, author_id = ?, submitted_by = ?, "
		         "submitted_ms = ?, reject_reason = NULL, "
		         "updated_ms = ?%s WHERE id = ?",
		         kind_tables[kind],
		         r.deleted ? ", approved_json = NULL, approved_rev = "
		                     "NULL, reviewed_by = NULL, reviewed_ms = "
		                     "NULL, created_ms = ?6, deleted = 0"
		                   : "");
	} else {
		snprintf(
		        sql, sizeof(sql),
		        "INSERT INTO %s (id, doc_json, status, rev, "
		        "author_id, submitted_by, submitted_ms, created_ms, "
		        "updated_ms, deleted%s) VALUES (?7, ?1, ?2, 1, ?3, ?4, "
		        "?5, ?6, ?6, 0%s)",
		        kind_tables[kind],
		        kind == MCC_KIND_CONTENT ? ", type"
		        : kind == MCC_KIND_ENTRY ? ", channel"
		                                 : "",
		        kind == MCC_KIND_PLAYLIST ? "" : ", ?8");
	}
	/* One set of parameters serves both statements. */
	st = mcc_db_prepare(db, sql);
	if (!st) {
		rc = db_err(err);
		goto out;
	}
	sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, who->user_id);
	if (sub) {
		bind_opt_int(st, 4, who->user_id);
		sqlite3_bind_int64(st, 5, now);
	}
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_text(st, 7, id, -1, SQLITE_TRANSIENT);
	/* A new row's NOT NULL columns that have no default. */
	if (!r.found && kind != MCC_KIND_PLAYLIST)
		sqlite3_bind_text(st, 8,
		                  doc_str(doc, kind == MCC_KIND_CONTENT
		                                       ? "type"
		                                       : "channel"),
		                  -1, SQLITE_TRANSIENT);
	rc = step_done(st, "save", err);
	if (rc == MC_OK)
		rc = set_columns(db, kind, id, doc, err);
	if (rc == MC_OK)
		rc = audit(db, who, kind,
		           r.found && !r.deleted ? "update" : "create", id,
		           before, err);
out:
	free(text);
	json_decref(before);
	row_clear(&r);
	return rc;
}

/* Is kind/id live and approved at least once?  Sets *ok. */
static enum mc_err is_approved(sqlite3 *db, enum mcc_kind kind, const char *id,
                               bool *ok, struct mc_error *err)
{
	char sql[160];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql),
	         "SELECT 1 FROM %s WHERE id = ? AND deleted = 0 AND "
	         "approved_json IS NOT NULL",
	         kind_tables[kind]);
	st = mcc_db_prepare(db, sql);
	if (!st)
		return db_err(err);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	mcc_db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(err);
	*ok = rc == SQLITE_ROW;
	return MC_OK;
}

/*
 * The references of doc (a revision about to be approved) that have no
 * approved revision: MC_ERR_CONFLICT naming the first and how many more.
 */
static enum mc_err check_refs(sqlite3 *db, enum mcc_kind kind, json_t *doc,
                              struct mc_error *err)
{
	char field[64] = "", names[160] = "";
	size_t bad = 0, used = 0;
	enum mcc_kind rkind = MCC_KIND_CONTENT;
	json_t *refs = json_array();
	json_t *paths = json_array();
	enum mc_err rc = MC_OK;

	if (!refs || !paths) {
		rc = mc_error_set(err, MC_ERR_NOMEM,
		                  "hết bộ nhớ / out of "
		                  "memory");
		goto out;
	}
	if (kind == MCC_KIND_PLAYLIST) {
		json_t *items = json_object_get(doc, "items"), *it;
		size_t i;

		json_array_foreach(items, i, it)
		{
			const char *c = json_string_value(
			        json_object_get(it, "content"));
			char p[48];

			if (!c)
				continue;
			snprintf(p, sizeof(p), "items[%zu].content", i);
			json_array_append_new(refs, json_string(c));
			json_array_append_new(paths, json_string(p));
		}
	} else if (kind == MCC_KIND_ENTRY) {
		const char *pl =
		        json_string_value(json_object_get(doc, "playlist"));

		rkind = MCC_KIND_PLAYLIST;
		if (pl) {
			json_array_append_new(refs, json_string(pl));
			json_array_append_new(paths, json_string("playlist"));
		}
	} else {
		const char *bg = json_string_value(json_object_get(
		        json_object_get(doc, "style"), "bg_image"));

		if (bg) {
			json_array_append_new(refs, json_string(bg));
			json_array_append_new(paths,
			                      json_string("style.bg_image"));
		}
	}
	for (size_t i = 0; i < json_array_size(refs); i++) {
		const char *ref = json_string_value(json_array_get(refs, i));
		bool ok = false;
		int n;

		rc = is_approved(db, rkind, ref, &ok, err);
		if (rc != MC_OK)
			goto out;
		if (ok)
			continue;
		/* The same content twice in a playlist is named once. */
		{
			char q[72];

			snprintf(q, sizeof(q), "'%s'", ref);
			if (strstr(names, q))
				continue;
		}
		if (bad++ == 0)
			snprintf(field, sizeof(field), "%s",
			         json_string_value(json_array_get(paths, i)));
		if (used < sizeof(names) - 1) {
			n = snprintf(names + used, sizeof(names) - used,
			             "%s'%s'", used ? ", " : "", ref);
			used = n > 0 ? used + (size_t)n : used;
			if (used >= sizeof(names))
				used = sizeof(names) - 1;
		}
	}
	if (bad)
		rc = mc_error_set(err, MC_ERR_CONFLICT,
		                  "%s: %s chưa được duyệt / %s not approved "
		                  "yet: %s",
		                  field, kind_vi[rkind],
		                  rkind == MCC_KIND_CONTENT ? "content"
		                                            : "playlist",
		                  names);
out:
	json_decref(refs);
	json_decref(paths);
	return rc;
}

/* Approve or reject, inside a transaction. */
static enum mc_err review(sqlite3 *db, const struct mcc_principal *who,
                          enum mcc_kind kind, const char *id, bool approve,
                          const char *reason, struct mc_error *err)
{
	struct wf_row r;
	char sql[320];
	sqlite3_stmt *st;
	json_t *before = NULL;
	int64_t now = mc_now_ms();
	enum mc_err rc;

	rc = read_live_row(db, kind, id, &r, err);
	if (rc != MC_OK)
		goto out;
	if (!(who->roles & (MCC_ROLE_APPROVER | MCC_ROLE_ADMIN))) {
		rc = mc_error_set(err, MC_ERR_FORBIDDEN,
		                  "chỉ người duyệt mới được %s / only an "
		                  "approver may %s",
		                  approve ? "duyệt" : "từ chối",
		                  approve ? "approve" : "reject");
		goto out;
	}
	if (strcmp(r.status, "submitted") != 0) {
		rc = mc_error_set(err, MC_ERR_CONFLICT,
		                  "%s '%s' đang ở trạng thái %s, không chờ "
		                  "duyệt / is %s, not awaiting review",
		                  kind_vi[kind], id, r.status, r.status);
		goto out;
	}
	if (who->user_id == r.author_id) {
		rc = mc_error_set(err, MC_ERR_FORBIDDEN,
		                  "bạn là người soạn bản này, người khác phải "
		                  "duyệt / you wrote this revision: someone "
		                  "else must review it");
		goto out;
	}
	if (who->user_id == r.submitted_by) {
		rc = mc_error_set(err, MC_ERR_FORBIDDEN,
		                  "bạn là người gửi duyệt bản này, người khác "
		                  "phải duyệt / you submitted this revision: "
		                  "someone else must review it");
		goto out;
	}
	if (approve) {
		rc = check_refs(db, kind, r.doc, err);
		if (rc != MC_OK)
			goto out;
	}
	before = mcc_wf_view(db, kind, id);
	if (approve)
		snprintf(sql, sizeof(sql),
		         "UPDATE %s SET status = 'approved', approved_json = "
		         "doc_json, approved_rev = rev, reviewed_by = ?1, "
		         "reviewed_ms = ?2, reject_reason = NULL, "
		         "updated_ms = ?2 WHERE id = ?3",
		         kind_tables[kind]);
	else
		snprintf(sql, sizeof(sql),
		         "UPDATE %s SET status = 'rejected', reviewed_by = ?1, "
		         "reviewed_ms = ?2, reject_reason = ?4, "
		         "updated_ms = ?2 WHERE id = ?3",
		         kind_tables[kind]);
	st = mcc_db_prepare(db, sql);
	if (!st) {
		rc = db_err(err);
		goto out;
	}
	bind_opt_int(st, 1, who->user_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, id, -1, SQLITE_TRANSIENT);
	if (!approve)
		sqlite3_bind_text(st, 4, reason, -1, SQLITE_TRANSIENT);
	rc = step_done(st, approve ? "approve" : "reject", err);
	if (rc == MC_OK)
		rc = audit(db, who, kind, approve ? "approve" : "reject", id,
		           before, err);
	if (rc == MC_OK)
		mc_log_info("workflow", "%s %s '%s' rev %lld by %s",
		            approve ? "approved" : "rejected", kind_names[kind],
		            id, (long long)r.rev, who->name);
out:
	json_decref(before);
	row_clear(&r);
	return rc;
}

/* End the transaction begin() opened: commit when the work succeeded. */
static enum mc_err finish(sqlite3 *db, enum mc_err rc_work,
                          struct mc_error *err)
{
	if (rc_work != MC_OK) {
		mcc_db_rollback(db);
		return rc_work;
	}
	if (mcc_db_commit(db) != MC_OK) {
		mcc_db_rollback(db);
		return db_err(err);
	}
	return MC_OK;
}

static enum mc_err begin(sqlite3 *db, struct mc_error *err)
{
	if (!db || mcc_db_begin(db) != MC_OK)
		return mc_error_set(
		        err, MC_ERR_IO,
		        "cơ sở dữ liệu bận hoặc lỗi / database busy "
		        "or failing");
	return MC_OK;
}

enum mc_err mcc_wf_submit(sqlite3 *db, const struct mcc_principal *who,
                          enum mcc_kind kind, const char *id,
                          struct mc_error *err)
{
	struct wf_row r;
	enum mc_err rc;

	if (!(who->roles & (MCC_ROLE_EDITOR | MCC_ROLE_ADMIN)))
		return mc_error_set(
		        err, MC_ERR_FORBIDDEN,
		        "chỉ biên tập viên mới được gửi duyệt / only "
		        "an editor may submit");
	rc = begin(db, err);
	if (rc != MC_OK)
		return rc;
	rc = read_live_row(db, kind, id, &r, err);
	if (rc == MC_OK)
		rc = submit_row(db, who, kind, id, &r, err);
	row_clear(&r);
	return finish(db, rc, err);
}

enum mc_err mcc_wf_approve(sqlite3 *db, const struct mcc_principal *who,
                           enum mcc_kind kind, const char *id,
                           struct mc_error *err)
{
	enum mc_err rc = begin(db, err);

	if (rc != MC_OK)
		return rc;
	return finish(db, review(db, who, kind, id, true, NULL, err), err);
}

enum mc_err mcc_wf_reject(sqlite3 *db, const struct mcc_principal *who,
                          enum mcc_kind kind, const char *id,
                          const char *reason, struct mc_error *err)
{
	char *norm = NULL;
	enum mc_err rc;

	if (!reason || !*reason)
		return mc_error_set(err, MC_ERR_MISSING,
		                    "reason: phải nêu lý do từ chối / a reason "
		                    "is required");
	rc = mc_text_normalize(reason, strlen(reason), WF_REASON_MAX, "reason",
	                       &norm, err);
	if (rc != MC_OK)
		return rc;
	rc = begin(db, err);
	if (rc == MC_OK)
		rc = finish(db, review(db, who, kind, id, false, norm, err),
		            err);
	free(norm);
	return rc;
}

/*
 * The first live referrer of kind/id into buf; false when none.  Both the
 * current and the approved revision count: the approved one is what the
 * fleet plays.
 */
bool mcc_wf_referrer(sqlite3 *db, enum mcc_kind kind, const char *id, char *buf,
                     size_t len)
{
	static const char *const content_sql[] = {
	        "SELECT p.id FROM playlists p, json_each(p.doc_json, "
	        "'$.items') i WHERE p.deleted = 0 AND "
	        "json_extract(i.value, '$.content') = ?1 UNION ALL "
	        "SELECT p.id FROM playlists p, json_each(p.approved_json, "
	        "'$.items') i WHERE p.deleted = 0 AND "
	        "json_extract(i.value, '$.content') = ?1 LIMIT 1",
	        "SELECT id FROM content WHERE deleted = 0 AND id <> ?1 AND "
	        "(json_extract(doc_json, '$.style.bg_image') = ?1 OR "
	        "json_extract(approved_json, '$.style.bg_image') = ?1) "
	        "LIMIT 1",
	        "SELECT key FROM settings WHERE key = 'fallback' AND "
	        "(json_extract(value_json, '$.screen') = ?1 OR "
	        "json_extract(value_json, '$.speaker') = ?1)",
	};
	static const char *const what[] = {"playlist", "content", "setting"};
	const char *playlist_sql =
	        "SELECT id FROM entries WHERE deleted = 0 AND "
	        "(json_extract(doc_json, '$.playlist') = ?1 OR "
	        "json_extract(approved_json, '$.playlist') = ?1) LIMIT 1";

	for (size_t q = 0; q < 3; q++) {
		const char *sql = kind == MCC_KIND_CONTENT ? content_sql[q]
		                                           : playlist_sql;
		sqlite3_stmt *st;
		bool hit = false;

		if (kind == MCC_KIND_ENTRY)
			return false;
		if (kind == MCC_KIND_PLAYLIST && q > 0)
			return false;
		st = mcc_db_prepare(db, sql);
		if (!st) {
			/* Cannot tell: refuse rather than orphan. */
			snprintf(buf, len, "(database error)");
			return true;
		}
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *r =
			        (const char *)sqlite3_column_text(st, 0);

			snprintf(buf, len, "%s '%s'",
			         kind == MCC_KIND_CONTENT ? what[q] : "entry",
			         r ? r : "");
			hit = true;
		}
		mcc_db_done(st);
		if (hit)
			return true;
	}
	return false;
}

enum mc_err mcc_wf_delete(sqlite3 *db, const struct mcc_principal *who,
                          enum mcc_kind kind, const char *id,
                          struct mc_error *err)
{
	struct wf_row r;
	char ref[128], sql[160];
	sqlite3_stmt *st;
	json_t *before = NULL;
	enum mc_err rc;

	rc = read_live_row(db, kind, id, &r, err);
	if (rc != MC_OK)
		goto out;
	if (mcc_wf_referrer(db, kind, id, ref, sizeof(ref))) {
		rc = mc_error_set(
		        err, MC_ERR_CONFLICT,
		        "%s '%s' đang được dùng bởi %s / is still used "
		        "by %s",
		        kind_vi[kind], id, ref, ref);
		goto out;
	}
	before = mcc_wf_view(db, kind, id);
	snprintf(sql, sizeof(sql),
	         "UPDATE %s SET deleted = 1, updated_ms = ? WHERE id = ?",
	         kind_tables[kind]);
	st = mcc_db_prepare(db, sql);
	if (!st) {
		rc = db_err(err);
		goto out;
	}
	sqlite3_bind_int64(st, 1, mc_now_ms());
	sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
	rc = step_done(st, "delete", err);
	if (rc == MC_OK) {
		char action[48];

		snprintf(action, sizeof(action), "%s.delete", kind_names[kind]);
		if (mcc_audit(db, who, action, kind_names[kind], id, before,
		              NULL) != MC_OK)
			rc = mc_error_set(err, MC_ERR_IO,
			                  "nhật ký kiểm tra lỗi "
			                  "/ audit log error");
	}
out:
	json_decref(before);
	row_clear(&r);
	return rc;
}

/* ---- HTTP ---------------------------------------------------------- */

/* The kind named by the path's first segment after /v1/. */
static enum mcc_kind path_kind(const char *path)
{
	if (strncmp(path, "/v1/playlists/", 14) == 0)
		return MCC_KIND_PLAYLIST;
	if (strncmp(path, "/v1/entries/", 12) == 0)
		return MCC_KIND_ENTRY;
	return MCC_KIND_CONTENT;
}

static void respond(struct mcc_req *rq, struct mcc_resp *rs, enum mcc_kind kind,
                    const char *id, enum mc_err rc, const struct mc_error *err)
{
	json_t *view;

	if (rc != MC_OK) {
		mcc_resp_mc_error(rs, err);
		return;
	}
	view = mcc_wf_view(mcc_db(rq->c), kind, id);
	if (!view) {
		mcc_resp_db_error(rs);
		return;
	}
	mcc_resp_json(rs, 200, view);
}

static bool path_id(struct mcc_req *rq, struct mcc_resp *rs, enum mcc_kind kind)
{
	if (rq->n_params >= 1 && mc_id_valid(rq->params[0]))
		return true;
	mcc_resp_error(rs, 404, NULL, "không có %s này / no such %s",
	               kind_vi[kind], kind_names[kind]);
	return false;
}

/* A transition that takes no body (submit, approve) of the path's object. */
static void transition(struct mcc_req *rq, struct mcc_resp *rs,
                       enum mc_err (*move)(sqlite3 *db,
                                           const struct mcc_principal *who,
                                           enum mcc_kind kind, const char *id,
                                           struct mc_error *err))
{
	enum mcc_kind kind = path_kind(rq->path);
	struct mc_error err = {0};
	enum mc_err rc;

	if (!path_id(rq, rs, kind))
		return;
	rc = move(mcc_db(rq->c), &rq->who, kind, rq->params[0], &err);
	respond(rq, rs, kind, rq->params[0], rc, &err);
}

static void h_submit(struct mcc_req *rq, struct mcc_resp *rs)
{
	transition(rq, rs, mcc_wf_submit);
}

static void h_approve(struct mcc_req *rq, struct mcc_resp *rs)
{
	transition(rq, rs, mcc_wf_approve);
}

static void h_reject(struct mcc_req *rq, struct mcc_resp *rs)
{
	enum mcc_kind kind = path_kind(rq->path);
	struct mc_error err = {0};
	json_t *body, *reason;
	enum mc_err rc;

	if (!path_id(rq, rs, kind))
		return;
	body = mcc_req_json(rq, rs);
	if (!body)
		return;
	reason = json_object_get(body, "reason");
	if (!reason || json_is_null(reason)) {
		mcc_resp_error(rs, 400, "reason",
		               "reason: phải nêu lý do từ chối / a reason is "
		               "required");
	} else if (!json_is_string(reason)) {
		mcc_resp_error(rs, 400, "reason",
		               "reason: phải là chuỗi / must be a string");
	} else {
		rc = mcc_wf_reject(mcc_db(rq->c), &rq->who, kind, rq->params[0],
		                   json_string_value(reason), &err);
		respond(rq, rs, kind, rq->params[0], rc, &err);
	}
	json_decref(body);
}

/* Paths under doc where a and b differ ("text", "style.fg"). */
static void diff(const json_t *a, const json_t *b, const char *prefix,
                 json_t *out)
{
	const char *key;
	json_t *v;

	if (json_equal(a, b))
		return;
	if (!json_is_object(a) || !json_is_object(b)) {
		json_array_append_new(out, json_string(*prefix ? prefix : "."));
		return;
	}
	json_object_foreach((json_t *)a, key, v)
	{
		char p[256];

		snprintf(p, sizeof(p), "%s%s%s", prefix, *prefix ? "." : "",
		         key);
		diff(v, json_object_get(b, key), p, out);
	}
	json_object_foreach((json_t *)b, key, v)
	{
		char p[256];

		if (json_object_get(a, key))
			continue;
		snprintf(p, sizeof(p), "%s%s%s", prefix, *prefix ? "." : "",
		         key);
		json_array_append_new(out, json_string(p));
	}
}

static void h_review(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	const char *kq = mcc_req_query(rq, "kind");
	int only = -1;
	json_t *items = json_array();

	if (kq) {
		only = mcc_kind_parse(kq);
		if (only < 0) {
			mcc_resp_error(rs, 400, "kind",
			               "kind: phải là content, playlist hoặc "
			               "entry / must be content, playlist or "
			               "entry");
			goto out;
		}
	}
	/* Kinds in dependency order, so that approving the queue from the
	 * top never meets an unapproved reference it could approve first. */
	for (int k = 0; k < 3; k++) {
		char sql[640];
		sqlite3_stmt *st;
		json_t *rows, *row;
		size_t i;

		if (only >= 0 && only != k)
			continue;
		snprintf(sql, sizeof(sql),
		         "SELECT t.id, t.name, t.rev, t.approved_rev, "
		         "t.author_id, ua.name AS author, t.submitted_by, "
		         "us.name AS submitted_by_name, t.submitted_ms, "
		         "t.updated_ms, t.doc_json, t.approved_json FROM %s t "
		         "LEFT JOIN users ua ON ua.id = t.author_id "
		         "LEFT JOIN users us ON us.id = t.submitted_by "
		         "WHERE t.status = 'submitted' AND t.deleted = 0 "
		         "ORDER BY t.submitted_ms, t.id",
		         kind_tables[k]);
		st = mcc_db_prepare(db, sql);
		rows = st ? mcc_db_rows(st) : NULL;
		if (st)
			mcc_db_done(st);
		if (!rows) {
			mcc_resp_error(rs, 500, NULL,
			               "cơ sở dữ liệu lỗi / "
			               "database error");
			goto out;
		}
		json_array_foreach(rows, i, row)
		{
			json_t *doc = json_object_get(row, "doc");
			json_t *appr = json_object_get(row, "approved");
			int64_t author = json_integer_value(
			        json_object_get(row, "author_id"));
			int64_t subm = json_integer_value(
			        json_object_get(row, "submitted_by"));
			bool may = (rq->who.roles &
			            (MCC_ROLE_APPROVER | MCC_ROLE_ADMIN)) &&
			           rq->who.user_id != author &&
			           rq->who.user_id != subm;

			json_object_set_new(row, "kind",
			                    json_string(kind_names[k]));
			json_object_set_new(row, "status",
			                    json_string("submitted"));
			json_object_set_new(row, "may_approve",
			                    json_boolean(may));
			if (appr && !json_is_null(appr)) {
				json_t *ch = json_array();

				diff(appr, doc, "", ch);
				json_object_set_new(row, "changed", ch);
			} else {
				json_object_set_new(row, "changed",
				                    json_null());
			}
			json_array_append(items, row);
		}
		json_decref(rows);
	}
	mcc_resp_json(rs, 200,
	              json_pack("{s:O,s:I}", "items", items, "total",
	                        (json_int_t)json_array_size(items)));
out:
	json_decref(items);
}

const struct mcc_route mcc_workflow_routes[] = {
        {"POST", "/v1/content/{}/submit", MCC_ROLE_EDITOR, 4096, 0, h_submit},
        {"POST", "/v1/content/{}/approve", MCC_ROLE_APPROVER, 4096, 0,
         h_approve},
        {"POST", "/v1/content/{}/reject", MCC_ROLE_APPROVER, 16384, 0,
         h_reject},
        {"POST", "/v1/playlists/{}/submit", MCC_ROLE_EDITOR, 4096, 0, h_submit},
        {"POST", "/v1/playlists/{}/approve", MCC_ROLE_APPROVER, 4096, 0,
         h_approve},
        {"POST", "/v1/playlists/{}/reject", MCC_ROLE_APPROVER, 16384, 0,
         h_reject},
        {"POST", "/v1/entries/{}/submit", MCC_ROLE_EDITOR, 4096, 0, h_submit},
        {"POST", "/v1/entries/{}/approve", MCC_ROLE_APPROVER, 4096, 0,
         h_approve},
        {"POST", "/v1/entries/{}/reject", MCC_ROLE_APPROVER, 16384, 0,
         h_reject},
        {"GET", "/v1/review", MCC_ROLE_EDITOR | MCC_ROLE_APPROVER, 0, 0,
         h_review},
        {NULL, NULL, 0, 0, 0, NULL},
};
