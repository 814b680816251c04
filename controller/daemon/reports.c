/*
 * minecast-controller — proof-of-play reports (reports.h).
 *
 * Days are local days of the controller's zone.  Their boundaries are
 * computed with libical's zone tables, as the schedule engine does
 * (common/src/sched_time.c): a day in a zone with daylight saving may be
 * 23 or 25 hours long, and the process-wide TZ is never touched (the
 * daemon is threaded).  Each period is then one indexed range query on
 * pop.start_ms, grouped by content and site.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "minecast/log.h"
#include "minecast/sched.h"
#include "minecast/text.h"
#include "minecast/util.h"

#include "db.h"
#include "http.h"
#include "mcc.h"
#include "reports.h"

/* A local calendar date. */
struct ymd {
	int y, m, d;
};

static bool parse_date(const char *s, struct ymd *out)
{
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return false;
	out->y = atoi(s);
	out->m = atoi(s + 5);
	out->d = atoi(s + 8);
	/* libical's zone tables and int64 ms are exact in this span. */
	return out->y >= 1970 && out->y <= 2199 && out->m >= 1 &&
	       out->m <= 12 && out->d >= 1 &&
	       out->d <= icaltime_days_in_month(out->m, out->y);
}

static void next_day(struct ymd *t)
{
	if (++t->d > icaltime_days_in_month(t->m, t->y)) {
		t->d = 1;
		if (++t->m > 12) {
			t->m = 1;
			t->y++;
		}
	}
}

static void next_month(struct ymd *t)
{
	t->d = 1;
	if (++t->m > 12) {
		t->m = 1;
		t->y++;
	}
}

static int ymd_cmp(const struct ymd *a, const struct ymd *b)
{
	if (a->y != b->y)
		return a->y < b->y ? -1 : 1;
	if (a->m != b->m)
		return a->m < b->m ? -1 : 1;
	if (a->d != b->d)
		return a->d < b->d ? -1 : 1;
	return 0;
}

/* Days from a to b (b after a), counting up to limit + 1. */
static int days_between(struct ymd a, const struct ymd *b, int limit)
{
	int n = 0;

	while (ymd_cmp(&a, b) < 0 && n <= limit) {
		next_day(&a);
		n++;
	}
	return n;
}

/* The zone of a plain IANA name (no paths), or NULL. */
static icaltimezone *zone_get(const char *tzid)
{
	if (!tzid || !*tzid || strlen(tzid) > 64 || tzid[0] == '/' ||
	    strstr(tzid, ".."))
		return NULL;
	for (const char *p = tzid; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
			return NULL;
	if (!strcmp(tzid, "UTC") || !strcmp(tzid, "Etc/UTC"))
		return icaltimezone_get_utc_timezone();
	return icaltimezone_get_builtin_timezone(tzid);
}

/* UTC ms of local midnight starting day t in zone. */
static int64_t midnight_ms(icaltimezone *zone, const struct ymd *t)
{
	struct icaltimetype lt = icaltime_null_time();

	lt.year = t->y;
	lt.month = t->m;
	lt.day = t->d;
	lt.is_date = 0;
	lt.zone = NULL;
	return (int64_t)icaltime_as_timet_with_zone(lt, zone) * 1000;
}

/* Name column of table for id, cached in cache (id → name). */
static const char *name_of(sqlite3 *db, json_t *cache, const char *sql,
                           const char *id)
{
	json_t *v = json_object_get(cache, id);
	sqlite3_stmt *st;
	const char *name = "";

	if (v)
		return json_string_value(v);
	st = mcc_db_prepare(db, sql);
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_text(st, 0))
			name = (const char *)sqlite3_column_text(st, 0);
		json_object_set_new(cache, id, json_string(name));
		mcc_db_done(st);
	} else {
		json_object_set_new(cache, id, json_string(""));
	}
	return json_string_value(json_object_get(cache, id));
}

/* Aggregate one period [lo, hi) into items; totals summed. */
static enum mc_err period_rows(sqlite3 *db, const struct mcc_report_query *q,
                               const char *label, int64_t lo, int64_t hi,
                               json_t *items, json_t *cnames, json_t *snames,
                               int64_t tot[4], struct mc_error *err)
{
	sqlite3_stmt *st;
	int rc;

	st = mcc_db_prepare(
	        db,
	        "SELECT content_id, site_id, SUM(count),"
	        " SUM(CASE WHEN completed THEN count ELSE 0 END),"
	        " SUM(CASE WHEN count = 1 THEN end_ms - start_ms ELSE 0"
	        " END), SUM(CASE WHEN count > 1 THEN count ELSE 0 END)"
	        " FROM pop WHERE start_ms >= ?1 AND start_ms < ?2"
	        " AND (?3 IS NULL OR site_id = ?3)"
	        " AND (?4 IS NULL OR content_id = ?4)"
	        " GROUP BY content_id, site_id ORDER BY content_id, site_id");
	if (!st)
		return mc_error_set(err, MC_ERR_IO, "database error");
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	if (q->site)
		sqlite3_bind_text(st, 3, q->site, -1, SQLITE_STATIC);
	if (q->content)
		sqlite3_bind_text(st, 4, q->content, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char content[MC_ID_MAX + 1], site[MC_ID_MAX + 1];
		int64_t plays = sqlite3_column_int64(st, 2);
		int64_t done = sqlite3_column_int64(st, 3);
		int64_t ms = sqlite3_column_int64(st, 4);
		int64_t summ = sqlite3_column_int64(st, 5);
		int64_t secs = (ms + 500) / 1000;
		json_t *o;

		snprintf(content, sizeof(content), "%s",
		         (const char *)sqlite3_column_text(st, 0));
		snprintf(site, sizeof(site), "%s",
		         (const char *)sqlite3_column_text(st, 1));
		o = json_pack(
		        "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}",
		        "period", label, "content", content, "content_name",
		        name_of(db, cnames,
		                "SELECT name FROM content WHERE id = ?1",
		                content),
		        "site", site, "site_name",
		        name_of(db, snames,
		                "SELECT name FROM sites WHERE id = ?1", site),
		        "plays", (json_int_t)plays, "completed",
		        (json_int_t)done, "seconds", (json_int_t)secs,
		        "summarised", (json_int_t)summ);
		if (!o || json_array_append_new(items, o)) {
			mcc_db_done(st);
			return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		}
		tot[0] += plays;
		tot[1] += done;
		tot[2] += secs;
		tot[3] += summ;
	}
	mcc_db_done(st);
	if (rc != SQLITE_DONE)
		return mc_error_set(err, MC_ERR_IO, "database error: %s",
		                    sqlite3_errmsg(db));
	return MC_OK;
}

enum mc_err mcc_report_pop(sqlite3 *db, const struct mcc_report_query *q,
                           json_t **out, struct mc_error *err)
{
	const char *tzid = q->timezone ? q->timezone : MC_SCHED_DEFAULT_TZ;
	icaltimezone *zone;
	struct ymd from, to, t, end;
	json_t *items = NULL, *cnames = NULL, *snames = NULL;
	int64_t tot[4] = {0};
	char label[16];
	enum mc_err rc;

	*out = NULL;
	if (!parse_date(q->from, &from))
		return mc_error_set(err, MC_ERR_RANGE,
		                    "from: phải là ngày YYYY-MM-DD / must be a "
		                    "date YYYY-MM-DD");
	if (!parse_date(q->to, &to))
		return mc_error_set(err, MC_ERR_RANGE,
		                    "to: phải là ngày YYYY-MM-DD / must be a "
		                    "date YYYY-MM-DD");
	if (ymd_cmp(&to, &from) < 0)
		return mc_error_set(err, MC_ERR_RANGE,
		                    "to: không được trước from / must not be "
		                    "before from");
	if (days_between(from, &to, MCC_REPORT_MAX_DAYS) >= MCC_REPORT_MAX_DAYS)
		return mc_error_set(err, MC_ERR_RANGE,
		                    "to: tối đa %d ngày / at most %d days",
		                    MCC_REPORT_MAX_DAYS, MCC_REPORT_MAX_DAYS);
	zone = zone_get(tzid);
	if (!zone)
		return mc_error_set(
		        err, MC_ERR_TZ,
		        "timezone: không biết múi giờ '%s' / unknown "
		        "time zone '%s'",
		        tzid, tzid);

	items = json_array();
	cnames = json_object();
	snames = json_object();
	if (!items || !cnames || !snames) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto fail;
	}
	end = to;
	next_day(&end); /* the day after the last: exclusive */
	for (t = from; ymd_cmp(&t, &end) < 0;) {
		struct ymd nx = t;
		int64_t lo, hi;

		if (q->by_month) {
			next_month(&nx);
			if (ymd_cmp(&nx, &end) > 0)
				nx = end;
			snprintf(label, sizeof(label), "%04d-%02d", t.y, t.m);
		} else {
			next_day(&nx);
			snprintf(label, sizeof(label), "%04d-%02d-%02d", t.y,
			         t.m, t.d);
		}
		lo = midnight_ms(zone, &t);
		hi = midnight_ms(zone, &nx);
		rc = period_rows(db, q, label, lo, hi, items, cnames, snames,
		                 tot, err);
		if (rc != MC_OK)
			goto fail;
		t = nx;
	}
	*out = json_pack("{s:s, s:s, s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I}}",
	                 "from", q->from, "to", q->to, "by",
	                 q->by_month ? "month" : "day", "timezone", tzid,
	                 "items", items, "totals", "plays", (json_int_t)tot[0],
	                 "completed", (json_int_t)tot[1], "seconds",
	                 (json_int_t)tot[2], "summarised", (json_int_t)tot[3]);
	items = NULL;
	json_decref(cnames);
	json_decref(snames);
	if (!*out)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	return MC_OK;
fail:
	json_decref(items);
	json_decref(cnames);
	json_decref(snames);
	return rc;
}

/* ------------------------------------------------------------------ */
/* CSV */

struct buf {
	char *p;    /* the text, NUL-terminated */
	size_t n;   /* bytes used */
	size_t cap; /* bytes allocated */
	bool oom;   /* an append failed */
};

static void put(struct buf *b, const char *s, size_t len)
{
	char *np;

	if (b->oom)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->n + len + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

/* One field, quoted when RFC 4180 requires it. */
static void field(struct buf *b, const char *s, bool last)
{
	if (!s)
		s = "";
	if (strpbrk(s, ",\"\r\n")) {
		put(b, "\"", 1);
		for (const char *p = s; *p; p++) {
			if (*p == '"')
				put(b, "\"\"", 2);
			else
				put(b, p, 1);
		}
		put(b, "\"", 1);
	} else {
		put(b, s, strlen(s));
	}
	put(b, last ? "\r\n" : ",", last ? 2 : 1);
}

static void field_int(struct buf *b, json_t *v, bool last)
{
	char num[32];

	snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
	         json_integer_value(v));
	field(b, num, last);
}

char *mcc_report_csv(const json_t *report, size_t *len)
{
	static const char *const keys[] = {"content", "content_name", "site",
	                                   "site_name"};
	static const char *const nums[] = {"plays", "completed", "seconds",
	                                   "summarised"};
	struct buf b = {0};
	const char *by = json_string_value(json_object_get(report, "by"));
	json_t *items = json_object_get(report, "items"), *it;
	size_t i;

	field(&b, by ? by : "day", false);
	for (size_t k = 0; k < 4; k++)
		field(&b, keys[k], false);
	for (size_t k = 0; k < 4; k++)
		field(&b, nums[k], k == 3);
	json_array_foreach(items, i, it)
	{
		field(&b, json_string_value(json_object_get(it, "period")),
		      false);
		for (size_t k = 0; k < 4; k++)
			field(&b,
			      json_string_value(json_object_get(it, keys[k])),
			      false);
		for (size_t k = 0; k < 4; k++)
			field_int(&b, json_object_get(it, nums[k]), k == 3);
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (len)
		*len = b.n;
	return b.p;
}

/* ------------------------------------------------------------------ */
/* HTTP */

/* The controller's zone: settings "timezone" (a JSON string). */
static char *setting_zone(sqlite3 *db)
{
	sqlite3_stmt *st;
	char *zone = NULL;

	st = mcc_db_prepare(db, "SELECT value_json FROM settings"
	                        " WHERE key = 'timezone'");
	if (!st)
		return NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *txt = (const char *)sqlite3_column_text(st, 0);
		json_t *v = txt ? json_loads(txt, JSON_DECODE_ANY, NULL) : NULL;

		if (json_is_string(v))
			zone = mc_strdup(json_string_value(v));
		json_decref(v);
	}
	mcc_db_done(st);
	return zone;
}

/* GET /v1/reports/pop */
static void h_report_pop(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	struct mcc_report_query q = {0};
	struct mc_error err = {0};
	const char *by = mcc_req_query(rq, "by");
	const char *format = mcc_req_query(rq, "format");
	json_t *report = NULL;
	char *zone = NULL, *csv, *fname;
	size_t len;

	q.from = mcc_req_query(rq, "from");
	q.to = mcc_req_query(rq, "to");
	q.site = mcc_req_query(rq, "site");
	q.content = mcc_req_query(rq, "content");
	if (!q.from) {
		mcc_resp_error(rs, 400, "from",
		               "from: bắt buộc, ngày YYYY-MM-DD / required, a "
		               "date YYYY-MM-DD");
		return;
	}
	if (!q.to) {
		mcc_resp_error(rs, 400, "to",
		               "to: bắt buộc, ngày YYYY-MM-DD / required, a "
		               "date YYYY-MM-DD");
		return;
	}
	if (by && strcmp(by, "day") && strcmp(by, "month")) {
		mcc_resp_error(rs, 400, "by",
		               "by: phải là day hoặc month / must be day or "
		               "month");
		return;
	}
	q.by_month = by && !strcmp(by, "month");
	if (format && strcmp(format, "json") && strcmp(format, "csv")) {
		mcc_resp_error(
		        rs, 400, "format",
		        "format: phải là json hoặc csv / must be json or "
		        "csv");
		return;
	}
	if (q.site && !mc_id_valid(q.site)) {
		mcc_resp_error(
		        rs, 400, "site",
		        "site: mã công trường không hợp lệ / not a valid "
		        "site id");
		return;
	}
	if (q.content && !mc_id_valid(q.content)) {
		mcc_resp_error(
		        rs, 400, "content",
		        "content: mã nội dung không hợp lệ / not a valid "
		        "content id");
		return;
	}
	if (!db) {
		mcc_resp_error(rs, 500, NULL,
		               "lỗi cơ sở dữ liệu / database error");
		return;
	}
	zone = setting_zone(db);
	if (zone && !zone_get(zone)) {
		mc_log_warn("reports",
		            "settings timezone '%s' is not a known zone; "
		            "reporting in %s",
		            zone, MC_SCHED_DEFAULT_TZ);
		MC_FREE(zone);
	}
	q.timezone = zone;
	if (mcc_report_pop(db, &q, &report, &err) != MC_OK) {
		mcc_resp_mc_error(rs, &err);
		goto out;
	}
	if (!format || !strcmp(format, "json")) {
		mcc_resp_json(rs, 200, report);
		report = NULL;
		goto out;
	}
	csv = mcc_report_csv(report, &len);
	fname = mc_printf("attachment; filename=\"pop-%s-%s-%s.csv\"", q.from,
	                  q.to, q.by_month ? "month" : "day");
	if (!csv || !fname) {
		free(csv);
		free(fname);
		mcc_resp_error(rs, 500, NULL, "out of memory");
		goto out;
	}
	mcc_resp_header(rs, "Content-Disposition", fname);
	free(fname);
	mcc_resp_bytes(rs, 200, "text/csv; charset=utf-8", csv, len);
out:
	json_decref(report);
	free(zone);
}

const struct mcc_route mcc_reports_routes[] = {
        {"GET", "/v1/reports/pop", MCC_ROLE_ANY_USER, 0, 0, h_report_pop},
        {NULL, NULL, 0, 0, 0, NULL},
};
