/*
 * minecast-controller — the append-only audit log (audit.h).
 *
 * Rows are only ever inserted; triggers in 001-core.sql refuse UPDATE and
 * DELETE, so not even a bug in a handler can rewrite history.  The user
 * name is copied into the row so that it still reads after a rename.
 */
#include <stdlib.h>
#include <string.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "audit.h"
#include "db.h"
#include "http.h"
#include "mcc.h"

/* Rows per page by default and at most. */
#define PAGE_DEFAULT 100
#define PAGE_MAX     1000

enum mc_err mcc_audit(sqlite3 *db, const struct mcc_principal *who,
                      const char *action, const char *kind,
                      const char *object_id, json_t *before, json_t *after)
{
	sqlite3_stmt *st;
	char *b = NULL, *a = NULL;
	enum mc_err rc = MC_ERR_IO;
	int step;

	st = mcc_db_prepare(db, "INSERT INTO audit (at_ms, user_id, user_name, "
	                        "action, kind, object_id, before_json, "
	                        "after_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
	if (!st)
		return MC_ERR_IO;
	if ((before &&
	     !(b = json_dumps(before, JSON_COMPACT | JSON_ENCODE_ANY))) ||
	    (after &&
	     !(a = json_dumps(after, JSON_COMPACT | JSON_ENCODE_ANY)))) {
		rc = MC_ERR_NOMEM;
		goto out;
	}
	sqlite3_bind_int64(st, 1, mc_now_ms());
	if (who && who->user_id)
		sqlite3_bind_int64(st, 2, who->user_id);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, who ? who->name : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, kind ? kind : "", -1, SQLITE_TRANSIENT);
	if (object_id)
		sqlite3_bind_text(st, 6, object_id, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 6);
	if (b)
		sqlite3_bind_text(st, 7, b, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 7);
	if (a)
		sqlite3_bind_text(st, 8, a, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 8);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		rc = MC_OK;
	else
		mc_log_error("audit", "cannot write the audit row for %s: %s",
		             action, sqlite3_errmsg(db));
out:
	mcc_db_done(st);
	free(b);
	free(a);
	return rc;
}

/* A non-negative integer query parameter; -1 when bad, def when absent. */
static int64_t query_int(struct mcc_req *rq, const char *key, int64_t def)
{
	const char *v = mcc_req_query(rq, key);
	char *end;
	long long n;

	if (!v)
		return def;
	if (!*v || strlen(v) > 18)
		return -1;
	n = strtoll(v, &end, 10);
	if (*end || n < 0)
		return -1;
	return n;
}

/* Bind the filters shared by the page and the count. */
static void bind_filters(sqlite3_stmt *st, const char *kind, const char *id,
                         const char *user, const char *action, int64_t since,
                         int64_t until)
{
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, user, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, since);
	sqlite3_bind_int64(st, 6, until);
}

#define AUDIT_WHERE                                                            \
	" WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR object_id = ?2) " \
	"AND (?3 IS NULL OR user_name = ?3) AND (?4 IS NULL OR action = ?4 "   \
	"OR action LIKE ?4 || '.%') AND at_ms >= ?5 AND at_ms < ?6"

static void h_audit(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	const char *kind = mcc_req_query(rq, "kind");
	const char *id = mcc_req_query(rq, "id");
	const char *user = mcc_req_query(rq, "user");
	const char *action = mcc_req_query(rq, "action");
	int64_t since = query_int(rq, "since", 0);
	int64_t until = query_int(rq, "until", INT64_MAX);
	int64_t limit = query_int(rq, "limit", PAGE_DEFAULT);
	int64_t offset = query_int(rq, "offset", 0);
	int64_t total = 0;
	sqlite3_stmt *st;
	json_t *items;

	if (since < 0 || until < 0) {
		mcc_resp_error(rs, 400, since < 0 ? "since" : "until",
		               "%s: phải là mốc thời gian ms / must be epoch "
		               "milliseconds",
		               since < 0 ? "since" : "until");
		return;
	}
	if (limit < 1 || limit > PAGE_MAX) {
		mcc_resp_error(rs, 400, "limit",
		               "limit: từ 1 đến %d / must be 1 to %d", PAGE_MAX,
		               PAGE_MAX);
		return;
	}
	if (offset < 0) {
		mcc_resp_error(rs, 400, "offset",
		               "offset: phải là số không âm / must be a "
		               "non-negative integer");
		return;
	}
	if (!db) {
		mcc_resp_error(rs, 500, NULL,
		               "lỗi cơ sở dữ liệu / database error");
		return;
	}
	st = mcc_db_prepare(db, "SELECT count(*) FROM audit" AUDIT_WHERE);
	if (!st)
		goto dbfail;
	bind_filters(st, kind, id, user, action, since, until);
	if (sqlite3_step(st) == SQLITE_ROW)
		total = sqlite3_column_int64(st, 0);
	mcc_db_done(st);
	st = mcc_db_prepare(db, "SELECT id, at_ms, user_name AS user, action, "
	                        "kind, object_id, before_json, "
	                        "after_json FROM audit" AUDIT_WHERE
	                        " ORDER BY id DESC LIMIT ?7 OFFSET ?8");
	if (!st)
		goto dbfail;
	bind_filters(st, kind, id, user, action, since, until);
	sqlite3_bind_int64(st, 7, limit);
	sqlite3_bind_int64(st, 8, offset);
	items = mcc_db_rows(st);
	mcc_db_done(st);
	if (!items)
		goto dbfail;
	mcc_resp_page(rs, items, total, limit, offset);
	return;
dbfail:
	mcc_resp_error(rs, 500, NULL, "lỗi cơ sở dữ liệu / database error");
}

const struct mcc_route mcc_audit_routes[] = {
        {"GET", "/v1/audit", MCC_ROLE_ADMIN | MCC_ROLE_APPROVER, 0, 0, h_audit},
        {NULL, NULL, 0, 0, 0, NULL},
};
