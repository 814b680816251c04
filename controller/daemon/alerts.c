/*
 * Urgent broadcast (alerts.h).
 *
 * An alert is ONE signed message for the whole fleet, retained on
 * alert/<id>, carrying its own targets (groups and companies expanded to
 * sites, since a node knows only its site and tags), level, text, tone,
 * repeat count, start_at (now + [alerts] lead_ms, so that the speakers of
 * a site start together) and expiry.  The nodes its targets select when
 * it is sent are recorded in alert_nodes; their acknowledgements
 * (delivered, started with the instant, rejected with the reason) are
 * filled in as they arrive, so GET /v1/alerts/{id} shows who has it and
 * how fast.  A clear is the same id with seq + 1 and clear = true.  After
 * expiry the tick deletes the retained message (empty payload) so that a
 * node connecting later is not handed history.
 *
 * Storing the alert and its recipients is one transaction, committed
 * before the message goes to the broker; when the broker is away the
 * alert stays published = 0 and the tick sends it as soon as it can,
 * until it expires.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/sign.h"
#include "minecast/text.h"
#include "minecast/topics.h"
#include "minecast/util.h"

#include "alerts.h"
#include "audit.h"
#include "db.h"
#include "http.h"
#include "mcc.h"
#include "mqtt.h"
#include "org.h"

#define LOG "alert"

/* Longest alert text in bytes (docs/protocol.md §6.2). */
#define TEXT_MAX 4000
/* Longest validity an alert may ask for: a week. */
#define TTL_MAX_S (7 * 86400)

/* Who the tick acts as in the audit log. */
static const struct mcc_principal sys_who = {
        .user_id = 0, .name = "controller", .roles = MCC_ROLE_ADMIN};

/* What the body of POST /v1/alerts may hold ... */
static const char *const body_keys[] = {"id",    "level",   "text",
                                        "tone",  "repeat",  "targets",
                                        "ttl_s", "confirm", NULL};
/* ... and of POST /v1/alerts/{id}/clear (optional). */
static const char *const clear_keys[] = {"confirm", NULL};

/* A new alert id: "a-YYYYMMDD-HHMMSS-xxxxxx" (UTC, random suffix). */
static void new_id(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	unsigned char r[3];

	gmtime_r(&now, &tm);
	randombytes_buf(r, sizeof(r));
	snprintf(buf, len, "a-%04d%02d%02d-%02d%02d%02d-%02x%02x%02x",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, r[0], r[1], r[2]);
}

/* Integer field in [lo, hi] (absent or null: def). */
static bool get_int(json_t *body, const char *key, int64_t def, int64_t lo,
                    int64_t hi, int64_t *out, struct mcc_resp *rs)
{
	json_t *v = json_object_get(body, key);

	*out = def;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi) {
		mcc_resp_error(rs, 400, key,
		               "%s: phải là số nguyên %" PRId64 "..%" PRId64
		               " / must be an integer %" PRId64 "..%" PRId64,
		               key, lo, hi, lo, hi);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

/* Hand an envelope to the broker on alert/<id>; len 0 deletes. */
static bool send_alert(struct mcc *c, const char *id, const char *env,
                       size_t len)
{
	char topic[MC_TOPIC_MAX];

	if (mc_topic_alert(topic, sizeof(topic), id) != MC_OK)
		return false;
	return mcc_mqtt_publish(c, topic, env, len, 1, true) == MC_OK;
}

static void mark_published(sqlite3 *db, const char *id, int64_t seq)
{
	sqlite3_stmt *st = mcc_db_prepare(db, "UPDATE alerts SET published = "
	                                      "1, published_ms = ? WHERE id = "
	                                      "? AND seq = ?");

	if (!st)
		return;
	sqlite3_bind_int64(st, 1, mc_now_ms());
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, seq);
	if (sqlite3_step(st) != SQLITE_DONE)
		mc_log_warn(LOG, "%s: cannot record the publish: %s", id,
		            sqlite3_errmsg(db));
	mcc_db_done(st);
}

/* Sign an alert body; the envelope in *env (caller frees). */
static enum mc_err sign_alert(struct mcc *c, const struct mc_alert *a,
                              char **env, size_t *env_len, struct mc_error *err)
{
	char *body = mc_alert_dump(a);
	enum mc_err rc;

	*env = NULL;
	if (!body)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	if (strlen(body) > MC_MAX_ALERT_BYTES) {
		rc = mc_error_set(
		        err, MC_ERR_TOO_LARGE,
		        "targets: cảnh báo quá lớn (%zu byte, tối đa "
		        "%d) — bớt nội dung hoặc đích / the alert "
		        "is %zu bytes, more than %d: shorten the text "
		        "or the targets",
		        strlen(body), MC_MAX_ALERT_BYTES, strlen(body),
		        MC_MAX_ALERT_BYTES);
		free(body);
		return rc;
	}
	rc = mc_envelope_sign(&c->key, MC_PURPOSE_ALERT, body, strlen(body),
	                      env, env_len, err);
	if (rc == MC_ERR_TOO_LARGE)
		mc_error_set(err, MC_ERR_TOO_LARGE,
		             "targets: cảnh báo đã ký vượt %d byte — bớt nội "
		             "dung hoặc đích / the signed alert exceeds %d "
		             "bytes: shorten the text or the targets",
		             MC_MAX_ENVELOPE_BYTES, MC_MAX_ENVELOPE_BYTES);
	free(body);
	return rc;
}

/* The wire targets as JSON text (caller frees). */
static char *targets_text(const struct mc_targets *t)
{
	json_t *o = json_object(), *a;
	char *s;
	struct {
		const char *key;
		char **v;
		size_t n;
	} lists[] = {{"sites", t->sites, t->n_sites},
	             {"tags", t->tags, t->n_tags},
	             {"nodes", t->nodes, t->n_nodes}};

	for (size_t k = 0; o && k < MC_ARRAY_LEN(lists); k++) {
		a = json_array();
		for (size_t i = 0; a && i < lists[k].n; i++)
			json_array_append_new(a, json_string(lists[k].v[i]));
		json_object_set_new(o, lists[k].key, a ? a : json_array());
	}
	s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	return s;
}

/* Fill t from stored wire targets text. */
static void targets_from_text(const char *text, struct mc_targets *t)
{
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	struct {
		const char *key;
		char ***v;
		size_t *n;
	} lists[] = {{"sites", &t->sites, &t->n_sites},
	             {"tags", &t->tags, &t->n_tags},
	             {"nodes", &t->nodes, &t->n_nodes}};

	memset(t, 0, sizeof(*t));
	for (size_t k = 0; o && k < MC_ARRAY_LEN(lists); k++) {
		json_t *a = json_object_get(o, lists[k].key);
		size_t n = json_array_size(a);

		if (n == 0)
			continue;
		*lists[k].v = calloc(n, sizeof(char *));
		if (!*lists[k].v)
			continue;
		for (size_t i = 0; i < n; i++) {
			(*lists[k].v)[*lists[k].n] = mc_strdup(
			        json_string_value(json_array_get(a, i)));
			if ((*lists[k].v)[*lists[k].n])
				(*lists[k].n)++;
		}
	}
	json_decref(o);
}

/* ---- views ---- */

/* Per-alert counts, as SQL over alert_nodes. */
#define COUNTS_SQL                                                             \
	"(SELECT count(*) FROM alert_nodes x WHERE x.alert_id = a.id) AS "     \
	"targeted, (SELECT count(*) FROM alert_nodes x WHERE x.alert_id = "    \
	"a.id AND x.delivered_ms IS NOT NULL) AS delivered, (SELECT "          \
	"count(*) FROM alert_nodes x WHERE x.alert_id = a.id AND "             \
	"x.started_ms IS NOT NULL) AS started, (SELECT count(*) FROM "         \
	"alert_nodes x WHERE x.alert_id = a.id AND x.rejected IS NOT NULL) "   \
	"AS rejected, (SELECT count(*) FROM alert_nodes x WHERE x.alert_id "   \
	"= a.id AND x.clear_delivered_ms IS NOT NULL) AS clear_delivered"

#define ALERT_COLS                                                             \
	"a.id, a.seq, a.level, a.text, a.tone, a.repeat, a.targets_json, "     \
	"a.wire_targets_json, a.start_at_ms, a.issued_ms, a.expires_ms, "      \
	"a.status, a.published, a.published_ms, a.retained_deleted, "          \
	"a.created_ms, cu.name AS created_by, a.cleared_ms, clu.name AS "      \
	"cleared_by, a.expired_ms, a.clear_seq, "

#define ALERT_FROM                                                             \
	" FROM alerts a LEFT JOIN users cu ON cu.id = a.created_by LEFT JOIN " \
	"users clu ON clu.id = a.cleared_by"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* {n, min, median, p95, max} of v (sorted here), or null when empty. */
static json_t *stats(int64_t *v, size_t n)
{
	size_t p95;

	if (n == 0)
		return json_null();
	qsort(v, n, sizeof(*v), cmp_i64);
	p95 = (n * 95 + 99) / 100;
	p95 = p95 ? p95 - 1 : 0;
	return json_pack("{s:I, s:I, s:f, s:I, s:I}", "n", (json_int_t)n, "min",
	                 (json_int_t)v[0], "median",
	                 n % 2 ? (double)v[n / 2]
	                       : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2,
	                 "p95", (json_int_t)v[p95], "max",
	                 (json_int_t)v[n - 1]);
}

/* Booleans stored as integers become JSON booleans. */
static void fix_bools(json_t *o)
{
	static const char *const keys[] = {"published", "retained_deleted",
	                                   NULL};

	for (size_t i = 0; keys[i]; i++) {
		json_t *v = json_object_get(o, keys[i]);

		if (json_is_integer(v))
			json_object_set_new(
			        o, keys[i],
			        json_boolean(json_integer_value(v)));
	}
}

/* One alert with its nodes, counts and latencies; NULL if absent. */
static json_t *alert_view(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st;
	json_t *rows, *o, *nodes, *counts;
	int64_t issued, *dl = NULL, *sl = NULL, *starts = NULL;
	size_t n, nd = 0, ns = 0, nst = 0, i;
	json_t *v;

	st = mcc_db_prepare(db, "SELECT " ALERT_COLS COUNTS_SQL ALERT_FROM
	                        " WHERE a.id = ?");
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rows = mcc_db_rows(st);
	mcc_db_done(st);
	o = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	if (!o)
		return NULL;
	fix_bools(o);
	/* "targets" = as sent; "wire_targets" = as signed. */
	st = mcc_db_prepare(db, "SELECT node_id AS node, delivered_ms, "
	                        "started_ms, start_ms, rejected, rejected_ms, "
	                        "clear_delivered_ms FROM alert_nodes WHERE "
	                        "alert_id = ? ORDER BY node_id");
	if (!st) {
		json_decref(o);
		return NULL;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	nodes = mcc_db_rows(st);
	mcc_db_done(st);
	if (!nodes) {
		json_decref(o);
		return NULL;
	}
	issued = json_integer_value(json_object_get(o, "issued_ms"));
	n = json_array_size(nodes);
	dl = calloc(n + 1, sizeof(*dl));
	sl = calloc(n + 1, sizeof(*sl));
	starts = calloc(n + 1, sizeof(*starts));
	json_array_foreach(nodes, i, v)
	{
		json_t *d = json_object_get(v, "delivered_ms");
		json_t *s = json_object_get(v, "started_ms");
		json_t *sm = json_object_get(v, "start_ms");
		const char *state;

		if (dl && json_is_integer(d))
			dl[nd++] = json_integer_value(d) - issued;
		if (sl && json_is_integer(s))
			sl[ns++] = json_integer_value(s) - issued;
		if (starts && json_is_integer(sm) && json_integer_value(sm) > 0)
			starts[nst++] = json_integer_value(sm);
		if (json_is_string(json_object_get(v, "rejected")))
			state = "rejected";
		else if (json_is_integer(s))
			state = "started";
		else if (json_is_integer(d))
			state = "delivered";
		else
			state = "waiting";
		json_object_set_new(v, "state", json_string(state));
	}
	counts = json_pack("{s:O, s:O, s:O, s:O, s:O}", "targeted",
	                   json_object_get(o, "targeted"), "delivered",
	                   json_object_get(o, "delivered"), "started",
	                   json_object_get(o, "started"), "rejected",
	                   json_object_get(o, "rejected"), "clear_delivered",
	                   json_object_get(o, "clear_delivered"));
	json_object_set_new(o, "counts", counts ? counts : json_object());
	json_object_set_new(o, "latency_ms",
	                    json_pack("{s:o, s:o}", "delivered", stats(dl, nd),
	                              "started", stats(sl, ns)));
	if (nst > 1) {
		qsort(starts, nst, sizeof(*starts), cmp_i64);
		json_object_set_new(o, "start_spread_ms",
		                    json_integer(starts[nst - 1] - starts[0]));
	} else {
		json_object_set_new(o, "start_spread_ms", json_null());
	}
	json_object_set_new(o, "nodes", nodes);
	free(dl);
	free(sl);
	free(starts);
	return o;
}

/* ---- POST /v1/alerts ---- */

static void h_send(struct mcc_req *rq, struct mcc_resp *rs)
{
	struct mcc *c = rq->c;
	sqlite3 *db = mcc_db(c);
	struct mc_alert a = {0};
	struct mc_error err = {0};
	json_t *body, *v, *targets = NULL, *after = NULL, *view;
	const char *s;
	char idbuf[80], *env = NULL, *text = NULL, *wire = NULL;
	char *targets_json = NULL;
	char **ids = NULL;
	size_t env_len = 0, n_ids = 0;
	int64_t repeat, ttl_s, now;
	int level;
	bool in_tx = false, sent;
	sqlite3_stmt *st;
	int r;

	body = mcc_req_json(rq, rs);
	if (!body)
		return;
	if (!mcc_req_keys_known(body, body_keys, rs))
		goto out;
	/* id */
	v = json_object_get(body, "id");
	if (v && !json_is_null(v)) {
		s = json_string_value(v);
		if (!s || !mc_id_valid(s)) {
			mcc_resp_error(
			        rs, 400, "id",
			        "id: 1–64 ký tự A-Z a-z 0-9 . _ - / "
			        "1 to 64 characters of A-Z a-z 0-9 . _ -");
			goto out;
		}
		snprintf(idbuf, sizeof(idbuf), "%s", s);
	} else {
		new_id(idbuf, sizeof(idbuf));
	}
	/* level */
	v = json_object_get(body, "level");
	if (!v || json_is_null(v)) {
		mcc_resp_error(rs, 400, "level",
		               "level: bắt buộc (info, warning, danger, "
		               "evacuate) / required (info, warning, danger, "
		               "evacuate)");
		goto out;
	}
	level = json_is_string(v) ? mc_alert_level_parse(json_string_value(v))
	                          : -1;
	if (level < 0) {
		mcc_resp_error(rs, 400, "level",
		               "level: phải là info, warning, danger hoặc "
		               "evacuate / must be info, warning, danger or "
		               "evacuate");
		goto out;
	}
	/* text */
	v = json_object_get(body, "text");
	if (!v || json_is_null(v) || !json_is_string(v)) {
		mcc_resp_error(rs, 400, "text",
		               "text: bắt buộc, là chuỗi / required, a string");
		goto out;
	}
	if (mc_text_normalize(json_string_value(v), json_string_length(v),
	                      TEXT_MAX, "text", &text, &err) != MC_OK) {
		mcc_resp_error(rs, 400, "text",
		               "%s (tối đa %d byte UTF-8 / at most %d bytes of "
		               "UTF-8)",
		               err.msg, TEXT_MAX, TEXT_MAX);
		goto out;
	}
	if (text[strspn(text, " \t\n")] == '\0') {
		mcc_resp_error(rs, 400, "text",
		               "text: không được để trống / must not be "
		               "empty");
		goto out;
	}
	/* tone */
	v = json_object_get(body, "tone");
	if (v && !json_is_null(v) &&
	    (!json_is_string(v) || !mc_id_valid(json_string_value(v)))) {
		mcc_resp_error(
		        rs, 400, "tone",
		        "tone: tên âm báo 1–64 ký tự A-Z a-z 0-9 . _ - / "
		        "a tone name of 1 to 64 characters "
		        "A-Z a-z 0-9 . _ -");
		goto out;
	}
	a.tone = v && !json_is_null(v) ? strdup(json_string_value(v)) : NULL;
	if (!get_int(body, "repeat", 1, 1, 10, &repeat, rs) ||
	    !get_int(body, "ttl_s", c->cfg.alert_ttl_s, 1, TTL_MAX_S, &ttl_s,
	             rs))
		goto out;
	/* targets: validated against the organisation, then expanded */
	targets = json_object_get(body, "targets");
	if (targets && json_is_null(targets))
		targets = NULL;
	if (mcc_targets_validate(db, targets, &err) != MC_OK ||
	    mcc_targets_expand(db, targets, &a.targets, &err) != MC_OK) {
		mcc_resp_mc_error(rs, &err);
		goto out;
	}
	/* Everything else is valid: a body without the confirmation can
	 * thus be used to check an alert before sending it. */
	if (!json_is_true(json_object_get(body, "confirm"))) {
		mcc_resp_error(rs, 400, "confirm",
		               "confirm: phải là true để xác nhận phát cảnh "
		               "báo khẩn / must be true to confirm sending an "
		               "urgent alert");
		goto out;
	}
	if (!c->have_key) {
		mcc_resp_error(rs, 409, "key",
		               "key: controller không có khoá ký, không thể "
		               "phát cảnh báo / the controller has no signing "
		               "key, alerts are refused");
		goto out;
	}
	now = mc_now_ms();
	a.id = strdup(idbuf);
	a.seq = 1;
	a.level = (enum mc_alert_level)level;
	a.text = text;
	text = NULL;
	a.repeat = (int)repeat;
	a.start_at_ms = now + c->cfg.alert_lead_ms;
	a.issued_ms = now;
	a.expires_ms = now + ttl_s * 1000;
	if (!a.id || sign_alert(c, &a, &env, &env_len, &err) != MC_OK) {
		if (!a.id)
			mc_error_set(&err, MC_ERR_NOMEM, "out of memory");
		mcc_resp_mc_error(rs, &err);
		goto out;
	}
	wire = targets_text(&a.targets);
	targets_json = targets ? json_dumps(targets, JSON_COMPACT) : NULL;
	if (!wire || (targets && !targets_json)) {
		mcc_resp_error(rs, 500, NULL, "out of memory");
		goto out;
	}

	if (mcc_db_begin(db) != MC_OK) {
		mcc_resp_error(rs, 503, NULL,
		               "cơ sở dữ liệu bận / database busy");
		goto out;
	}
	in_tx = true;
	st = mcc_db_prepare(
	        db, "INSERT INTO alerts (id, seq, alert_seq, level, text, "
	            "tone, repeat, targets_json, wire_targets_json, "
	            "start_at_ms, issued_ms, expires_ms, status, envelope, "
	            "published, created_by, created_ms) VALUES (?, 1, 1, ?, "
	            "?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, 0, ?, ?) ON "
	            "CONFLICT(id) DO NOTHING");
	if (!st)
		goto dberr;
	sqlite3_bind_text(st, 1, a.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, mc_alert_level_name(a.level), -1,
	                  SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a.text, -1, SQLITE_STATIC);
	if (a.tone)
		sqlite3_bind_text(st, 4, a.tone, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, a.repeat);
	if (targets_json)
		sqlite3_bind_text(st, 6, targets_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, wire, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, a.start_at_ms);
	sqlite3_bind_int64(st, 9, a.issued_ms);
	sqlite3_bind_int64(st, 10, a.expires_ms);
	sqlite3_bind_text(st, 11, env, (int)env_len, SQLITE_STATIC);
	if (rq->who.user_id > 0)
		sqlite3_bind_int64(st, 12, rq->who.user_id);
	sqlite3_bind_int64(st, 13, now);
	r = sqlite3_step(st);
	mcc_db_done(st);
	if (r != SQLITE_DONE)
		goto dberr;
	if (sqlite3_changes(db) == 0) {
		mcc_resp_error(rs, 409, "id",
		               "id: cảnh báo '%s' đã có / alert '%s' exists "
		               "already",
		               a.id, a.id);
		goto out;
	}
	if (mcc_targets_nodes(db, targets, &ids, &n_ids, &err) != MC_OK) {
		mcc_resp_mc_error(rs, &err);
		goto out;
	}
	for (size_t i = 0; i < n_ids; i++) {
		st = mcc_db_prepare(db, "INSERT OR IGNORE INTO alert_nodes "
		                        "(alert_id, node_id) VALUES (?, ?)");
		if (!st)
			goto dberr;
		sqlite3_bind_text(st, 1, a.id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, ids[i], -1, SQLITE_STATIC);
		r = sqlite3_step(st);
		mcc_db_done(st);
		if (r != SQLITE_DONE)
			goto dberr;
	}
	after = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "level",
	                  mc_alert_level_name(a.level), "text", a.text, "tone",
	                  a.tone ? a.tone : "default", "repeat",
	                  (json_int_t)a.repeat, "start_at_ms",
	                  (json_int_t)a.start_at_ms, "expires_ms",
	                  (json_int_t)a.expires_ms, "nodes", (json_int_t)n_ids);
	if (after)
		json_object_set_new(after, "targets",
		                    targets ? json_incref(targets)
		                            : json_null());
	if (mcc_audit(db, &rq->who, "alert.send", "alert", a.id, NULL, after) !=
	            MC_OK ||
	    mcc_db_commit(db) != MC_OK)
		goto dberr;
	in_tx = false;

	/* Stored; now the one message for the whole fleet. */
	sent = send_alert(c, a.id, env, env_len);
	if (sent)
		mark_published(db, a.id, 1);
	if (sent)
		mc_log_info(
		        LOG,
		        "%s (%s) sent by %s to %zu nodes: \"%.60s\"; starts "
		        "in %" PRId64 " ms, expires in %" PRId64 " s",
		        a.id, mc_alert_level_name(a.level), rq->who.name, n_ids,
		        a.text, c->cfg.alert_lead_ms, ttl_s);
	else
		mc_log_warn(LOG,
		            "%s (%s) by %s stored but the broker is not "
		            "reachable; it is sent as soon as it is",
		            a.id, mc_alert_level_name(a.level), rq->who.name);
	view = alert_view(db, a.id);
	mcc_resp_json(rs, 201, view);
	goto out;
dberr:
	mcc_resp_error(rs, 500, NULL, "cơ sở dữ liệu lỗi: %s / database error",
	               sqlite3_errmsg(db));
out:
	if (in_tx)
		mcc_db_rollback(db);
	mcc_ids_free(ids, n_ids);
	json_decref(after);
	free(targets_json);
	free(wire);
	free(env);
	free(text);
	mc_alert_clear(&a);
	json_decref(body);
}

/* ---- POST /v1/alerts/{id}/clear ---- */

static void h_clear(struct mcc_req *rq, struct mcc_resp *rs)
{
	struct mcc *c = rq->c;
	sqlite3 *db = mcc_db(c);
	const char *id = rq->params[0];
	struct mc_alert a = {0};
	struct mc_error err = {0};
	sqlite3_stmt *st;
	char *env = NULL, *status = NULL, *wire = NULL;
	size_t env_len = 0;
	int64_t seq = 0, expires = 0, now = mc_now_ms();
	int level = 0;
	json_t *body = NULL, *after = NULL;
	bool in_tx = false, found = false;
	int r;

	if (rq->body_len > 0) {
		body = mcc_req_json(rq, rs);
		if (!body)
			return;
		if (!mcc_req_keys_known(body, clear_keys, rs))
			goto out;
	}
	if (!mc_id_valid(id)) {
		mcc_resp_error(rs, 404, NULL,
		               "không có cảnh báo '%.64s' / no alert '%.64s'",
		               id, id);
		goto out;
	}
	if (!c->have_key) {
		mcc_resp_error(rs, 409, "key",
		               "key: controller không có khoá ký / the "
		               "controller has no signing key");
		goto out;
	}
	if (mcc_db_begin(db) != MC_OK) {
		mcc_resp_error(rs, 503, NULL,
		               "cơ sở dữ liệu bận / database busy");
		goto out;
	}
	in_tx = true;
	st = mcc_db_prepare(db, "SELECT seq, status, expires_ms, level, "
	                        "wire_targets_json FROM alerts WHERE id = ?");
	if (!st)
		goto dberr;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = true;
		seq = sqlite3_column_int64(st, 0);
		status = mc_strdup((const char *)sqlite3_column_text(st, 1));
		expires = sqlite3_column_int64(st, 2);
		level = mc_alert_level_parse(
		        (const char *)sqlite3_column_text(st, 3));
		wire = mc_strdup((const char *)sqlite3_column_text(st, 4));
	}
	mcc_db_done(st);
	if (!found) {
		mcc_resp_error(rs, 404, NULL,
		               "không có cảnh báo '%s' / no alert '%s'", id,
		               id);
		goto out;
	}
	if (!status || strcmp(status, "active") != 0 || now >= expires) {
		mcc_resp_error(rs, 409, NULL,
		               "cảnh báo '%s' không còn hiệu lực (%s) / alert "
		               "'%s' is no longer active (%s)",
		               id, now >= expires ? "expired" : status, id,
		               now >= expires ? "expired" : status);
		goto out;
	}
	/* The clear carries the same targets, so that only the nodes the
	 * alert was for act on it (and acknowledge it). */
	a.id = strdup(id);
	a.seq = seq + 1;
	a.clear = true;
	a.level = level < 0 ? MC_ALERT_INFO : (enum mc_alert_level)level;
	a.repeat = 1;
	a.issued_ms = now;
	a.expires_ms = expires;
	targets_from_text(wire, &a.targets);
	if (!a.id || sign_alert(c, &a, &env, &env_len, &err) != MC_OK) {
		if (!a.id)
			mc_error_set(&err, MC_ERR_NOMEM, "out of memory");
		mcc_resp_mc_error(rs, &err);
		goto out;
	}
	st = mcc_db_prepare(db, "UPDATE alerts SET seq = ?, clear_seq = ?, "
	                        "status = 'cleared', envelope = ?, published "
	                        "= 0, published_ms = NULL, cleared_by = ?, "
	                        "cleared_ms = ? WHERE id = ?");
	if (!st)
		goto dberr;
	sqlite3_bind_int64(st, 1, a.seq);
	sqlite3_bind_int64(st, 2, a.seq);
	sqlite3_bind_text(st, 3, env, (int)env_len, SQLITE_STATIC);
	if (rq->who.user_id > 0)
		sqlite3_bind_int64(st, 4, rq->who.user_id);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_text(st, 6, id, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	mcc_db_done(st);
	if (r != SQLITE_DONE)
		goto dberr;
	after = json_pack("{s:s, s:I}", "status", "cleared", "seq",
	                  (json_int_t)a.seq);
	if (mcc_audit(db, &rq->who, "alert.clear", "alert", id, NULL, after) !=
	            MC_OK ||
	    mcc_db_commit(db) != MC_OK)
		goto dberr;
	in_tx = false;
	if (send_alert(c, id, env, env_len)) {
		mark_published(db, id, a.seq);
		mc_log_info(LOG, "%s cleared by %s (seq %" PRId64 ")", id,
		            rq->who.name, a.seq);
	} else {
		mc_log_warn(LOG,
		            "%s cleared by %s, but the broker is not "
		            "reachable; the clear is sent as soon as it is",
		            id, rq->who.name);
	}
	mcc_resp_json(rs, 200, alert_view(db, id));
	goto out;
dberr:
	mcc_resp_error(rs, 500, NULL, "cơ sở dữ liệu lỗi: %s / database error",
	               sqlite3_errmsg(db));
out:
	if (in_tx)
		mcc_db_rollback(db);
	json_decref(after);
	json_decref(body);
	free(env);
	free(status);
	free(wire);
	mc_alert_clear(&a);
}

/* ---- GET ---- */

static void h_list(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	const char *status = mcc_req_query(rq, "status");
	const char *os = mcc_req_query(rq, "offset");
	int64_t limit;
	long long offset = 0, total = 0;
	char *end;
	sqlite3_stmt *st;
	json_t *items, *v;
	size_t i;

	if (!mcc_req_query_int(rq, rs, "limit", 50, 0, 1000, &limit))
		return;
	if (os) {
		offset = strtoll(os, &end, 10);
		if (!*os || *end || offset < 0) {
			mcc_resp_error(
			        rs, 400, "offset",
			        "offset: phải là số nguyên ≥ 0 / must be "
			        "an integer ≥ 0");
			return;
		}
	}
	if (status && strcmp(status, "active") != 0 &&
	    strcmp(status, "cleared") != 0 && strcmp(status, "expired") != 0) {
		mcc_resp_error(rs, 400, "status",
		               "status: phải là active, cleared hoặc expired / "
		               "must be active, cleared or expired");
		return;
	}
	st = mcc_db_prepare(db, "SELECT count(*) FROM alerts WHERE ?1 IS NULL "
	                        "OR status = ?1");
	if (st) {
		if (status)
			sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			total = sqlite3_column_int64(st, 0);
	}
	mcc_db_done(st);
	st = mcc_db_prepare(db, "SELECT " ALERT_COLS COUNTS_SQL ALERT_FROM
	                        " WHERE ?1 IS NULL OR a.status = ?1 ORDER BY "
	                        "a.created_ms DESC, a.id LIMIT ?2 OFFSET ?3");
	if (!st) {
		mcc_resp_db_error(rs);
		return;
	}
	if (status)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, limit);
	sqlite3_bind_int64(st, 3, offset);
	items = mcc_db_rows(st);
	mcc_db_done(st);
	if (!items) {
		mcc_resp_db_error(rs);
		return;
	}
	json_array_foreach(items, i, v) fix_bools(v);
	mcc_resp_json(rs, 200,
	              json_pack("{s:o, s:I}", "items", items, "total",
	                        (json_int_t)total));
}

static void h_show(struct mcc_req *rq, struct mcc_resp *rs)
{
	const char *id = rq->params[0];
	json_t *o = mc_id_valid(id) ? alert_view(mcc_db(rq->c), id) : NULL;

	if (!o) {
		mcc_resp_error(rs, 404, NULL,
		               "không có cảnh báo '%.64s' / no alert '%.64s'",
		               id, id);
		return;
	}
	mcc_resp_json(rs, 200, o);
}

/* ---- acknowledgements ---- */

void mcc_alerts_on_ack(struct mcc *c, const struct mc_alert_ack *a)
{
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st;
	int64_t alert_seq = -1, clear_seq = -1, now = mc_now_ms();
	bool found = false, targeted = false;
	const char *sql = NULL;
	int r;

	if (!db || !a || !a->alert || !a->node || !a->status)
		return;
	st = mcc_db_prepare(db, "SELECT a.alert_seq, a.clear_seq, "
	                        "(SELECT 1 FROM alert_nodes n WHERE "
	                        "n.alert_id = a.id AND n.node_id = ?2) FROM "
	                        "alerts a WHERE a.id = ?1");
	if (!st)
		return;
	sqlite3_bind_text(st, 1, a->alert, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->node, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = true;
		alert_seq = sqlite3_column_int64(st, 0);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			clear_seq = sqlite3_column_int64(st, 1);
		targeted = sqlite3_column_type(st, 2) != SQLITE_NULL;
	}
	mcc_db_done(st);
	if (!found) {
		mc_log_info(
		        LOG,
		        "acknowledgement from %s for alert '%s', which this "
		        "controller did not send; ignored",
		        a->node, a->alert);
		return;
	}
	if (!targeted) {
		mc_log_warn(LOG,
		            "acknowledgement '%s' from %s for alert %s, which "
		            "was not sent to that node; ignored",
		            a->status, a->node, a->alert);
		return;
	}
	if (a->seq == alert_seq) {
		if (strcmp(a->status, "delivered") == 0)
			sql = "UPDATE alert_nodes SET delivered_ms = "
			      "coalesce(delivered_ms, ?3) WHERE alert_id = ?1 "
			      "AND node_id = ?2";
		else if (strcmp(a->status, "started") == 0)
			sql = "UPDATE alert_nodes SET delivered_ms = "
			      "coalesce(delivered_ms, ?3), started_ms = "
			      "coalesce(started_ms, ?3), start_ms = "
			      "coalesce(start_ms, ?4) WHERE alert_id = ?1 AND "
			      "node_id = ?2";
		else if (strcmp(a->status, "rejected") == 0)
			sql = "UPDATE alert_nodes SET rejected = ?5, "
			      "rejected_ms = ?3 WHERE alert_id = ?1 AND "
			      "node_id "
			      "= ?2";
	} else if (a->seq == clear_seq && strcmp(a->status, "delivered") == 0) {
		sql = "UPDATE alert_nodes SET clear_delivered_ms = "
		      "coalesce(clear_delivered_ms, ?3) WHERE alert_id = ?1 "
		      "AND "
		      "node_id = ?2";
	}
	if (!sql) {
		mc_log_info(LOG,
		            "%s: '%s' for seq %" PRId64 " of alert %s "
		            "(alert seq %" PRId64 "%s); not recorded%s%s",
		            a->node, a->status, a->seq, a->alert, alert_seq,
		            clear_seq > 0 ? ", cleared" : "",
		            a->reason ? ": " : "", a->reason ? a->reason : "");
		return;
	}
	if (strcmp(a->status, "rejected") == 0)
		mc_log_warn(LOG, "%s rejected alert %s seq %" PRId64 ": %s",
		            a->node, a->alert, a->seq,
		            a->reason ? a->reason : "(no reason)");
	st = mcc_db_prepare(db, sql);
	if (!st)
		return;
	sqlite3_bind_text(st, 1, a->alert, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if (strstr(sql, "?4"))
		sqlite3_bind_int64(st, 4, a->start_ms > 0 ? a->start_ms : now);
	if (strstr(sql, "?5"))
		sqlite3_bind_text(st, 5, a->reason ? a->reason : "", -1,
		                  SQLITE_STATIC);
	r = sqlite3_step(st);
	mcc_db_done(st);
	if (r != SQLITE_DONE)
		mc_log_warn(LOG,
		            "acknowledgement of %s from %s not recorded: %s",
		            a->alert, a->node, sqlite3_errmsg(db));
}

/* ---- the tick ---- */

/* Room for an (n + 1)th entry in ids[] and seqs[], which grow together
 * (*cap: the room both have); false when out of memory. */
static bool room_for_one(char ***ids, int64_t **seqs, size_t n, size_t *cap)
{
	size_t ncap;
	char **ni;
	int64_t *ns;

	if (n < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 8;
	ni = realloc(*ids, ncap * sizeof(*ni));
	ns = realloc(*seqs, ncap * sizeof(*ns));
	if (ni)
		*ids = ni;
	if (ns)
		*seqs = ns;
	if (!ni || !ns)
		return false;
	*cap = ncap;
	return true;
}

void mcc_alerts_tick(struct mcc *c)
{
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st;
	int64_t now = mc_now_ms();
	char **ids = NULL;
	int64_t *seqs = NULL;
	size_t n = 0, cap = 0;
	bool connected = mcc_mqtt_connected(c);

	if (!db)
		return;
	/* 1. Alerts the broker did not take yet (still valid). */
	if (connected) {
		st = mcc_db_prepare(db, "SELECT id, seq, envelope FROM alerts "
		                        "WHERE retained_deleted = 0 AND "
		                        "published = 0 AND expires_ms > ?");
		if (!st)
			return;
		sqlite3_bind_int64(st, 1, now);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *id =
			        (const char *)sqlite3_column_text(st, 0);
			const char *env =
			        (const char *)sqlite3_column_text(st, 2);
			int len = sqlite3_column_bytes(st, 2);

			if (!room_for_one(&ids, &seqs, n, &cap))
				break;
			if (!id || !env || !send_alert(c, id, env, (size_t)len))
				continue;
			ids[n] = strdup(id);
			if (!ids[n])
				break;
			seqs[n++] = sqlite3_column_int64(st, 1);
		}
		mcc_db_done(st);
		for (size_t i = 0; i < n; i++) {
			mark_published(db, ids[i], seqs[i]);
			mc_log_info(LOG,
			            "%s seq %" PRId64 " handed to the broker "
			            "(it was away when the alert was made)",
			            ids[i], seqs[i]);
			free(ids[i]);
		}
		n = 0;
	}
	/* 2. Expired: mark it, and delete the retained message. */
	st = mcc_db_prepare(db, "SELECT id, status FROM alerts WHERE "
	                        "retained_deleted = 0 AND expires_ms <= ?");
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, now);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (!room_for_one(&ids, &seqs, n, &cap))
			break;
		ids[n] = mc_strdup((const char *)sqlite3_column_text(st, 0));
		if (!ids[n])
			break;
		/* seqs[] holds 1 for an alert that was still active. */
		seqs[n++] = strcmp((const char *)sqlite3_column_text(st, 1),
		                   "active") == 0;
	}
	mcc_db_done(st);
	for (size_t i = 0; i < n; i++) {
		bool deleted = connected && send_alert(c, ids[i], "", 0);
		json_t *after;

		if (!seqs[i] && !deleted)
			continue; /* already marked; the broker is away */
		if (mcc_db_begin(db) != MC_OK)
			break;
		st = mcc_db_prepare(
		        db, "UPDATE alerts SET status = CASE status WHEN "
		            "'active' THEN 'expired' ELSE status END, "
		            "expired_ms = coalesce(expired_ms, ?), "
		            "retained_deleted = ? WHERE id = ?");
		if (!st) {
			mcc_db_rollback(db);
			break;
		}
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int(st, 2, deleted);
		sqlite3_bind_text(st, 3, ids[i], -1, SQLITE_STATIC);
		sqlite3_step(st);
		mcc_db_done(st);
		/* Audit the change of state once, not every retry. */
		after = json_pack("{s:b, s:b}", "was_active", seqs[i] != 0,
		                  "retained_deleted", deleted);
		if (mcc_audit(db, &sys_who, "alert.expire", "alert", ids[i],
		              NULL, after) != MC_OK) {
			json_decref(after);
			mcc_db_rollback(db);
			break;
		}
		json_decref(after);
		if (mcc_db_commit(db) != MC_OK) {
			mcc_db_rollback(db);
			break;
		}
		mc_log_info(LOG, "%s expired%s", ids[i],
		            deleted ? "; retained message deleted"
		                    : "; the retained message is deleted "
		                      "once the broker is back");
	}
out:
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	free(seqs);
}

const struct mcc_route mcc_alerts_routes[] = {
        {"POST", "/v1/alerts",
         MCC_ROLE_ADMIN | MCC_ROLE_TECHNICIAN | MCC_ROLE_APPROVER, 64 * 1024, 0,
         h_send},
        {"GET", "/v1/alerts", MCC_ROLE_ANY_USER, 0, 0, h_list},
        {"GET", "/v1/alerts/{}", MCC_ROLE_ANY_USER, 0, 0, h_show},
        {"POST", "/v1/alerts/{}/clear",
         MCC_ROLE_ADMIN | MCC_ROLE_TECHNICIAN | MCC_ROLE_APPROVER, 4096, 0,
         h_clear},
        {NULL, NULL, 0, 0, 0, NULL},
};
