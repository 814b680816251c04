/*
 * minecast-controller — node commands and screenshots.
 *
 * A command is signed (purpose "command", so that it can never be taken
 * for a pointer or an alert), stored with its envelope, then published
 * QoS 1, not retained, on node/<id>/cmd.  Its life:
 *   pending   stored; the broker has not taken it (no connection): the
 *             tick publishes it again until it expires;
 *   sent      the broker took it;
 *   ok/failed the node's result (cmd/result) arrived;
 *   expired   no result before expires_ms (judged by the tick and on
 *             every read).  A result that arrives late still counts.
 * The node refuses a command past its expiry, so a late reboot never runs.
 *
 * Screenshots: the node answers a "screenshot" command by uploading the
 * PNG with its own credentials (docs/protocol.md §4); the file goes to
 * <shot_dir>/<node>/<shot id>.png, the row to screenshots.  The last
 * SHOTS_KEPT of each node are kept.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/sign.h"
#include "minecast/text.h"
#include "minecast/topics.h"
#include "minecast/util.h"

#include "audit.h"
#include "commands.h"
#include "db.h"
#include "http.h"
#include "mcc.h"
#include "mqtt.h"

/* Default and largest validity of a command, seconds. */
#define CMD_TTL_DEFAULT_S 60
#define CMD_TTL_MAX_S     3600

/* Largest screenshot accepted, bytes. */
#define SHOT_MAX_BYTES ((size_t)8 * 1024 * 1024)

/* Screenshots kept per node; older ones are deleted. */
#define SHOTS_KEPT 50

/* Page size of the lists, and its ceiling. */
#define LIST_DEFAULT 50
#define LIST_MAX     500

static const unsigned char png_sig[8] = {0x89, 'P',  'N',  'G',
                                         '\r', '\n', 0x1a, '\n'};

/* "<prefix>-<16 hex>" into out. */
static void random_id(const char *prefix, char *out, size_t len)
{
	unsigned char r[8];
	char hex[17];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	snprintf(out, len, "%s-%s", prefix, hex);
}

static void db_error(struct mcc_resp *rs)
{
	mcc_resp_error(rs, 500, NULL, "lỗi cơ sở dữ liệu / database error");
}

/* Does node exist?  -1 on a database error. */
static int node_exists(sqlite3 *db, const char *node)
{
	sqlite3_stmt *st =
	        mcc_db_prepare(db, "SELECT 1 FROM nodes WHERE id = ?1");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	mcc_db_done(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Mark commands past their expiry without a result as expired. */
static void expire(sqlite3 *db, int64_t now)
{
	sqlite3_stmt *st = mcc_db_prepare(
	        db, "UPDATE commands SET status = 'expired', message ="
	            " coalesce(message, 'no result before it expired')"
	            " WHERE status IN ('sent','pending') AND expires_ms <= ?1");

	if (!st)
		return;
	sqlite3_bind_int64(st, 1, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		mc_log_warn("commands", "cannot expire commands: %s",
		            sqlite3_errmsg(db));
	mcc_db_done(st);
}

/* Publish a stored envelope; on success the row becomes "sent". */
static bool send_envelope(struct mcc *c, sqlite3 *db, const char *id,
                          const char *node, const char *envelope)
{
	char topic[MC_TOPIC_MAX];
	sqlite3_stmt *st;

	if (mc_topic_node(topic, sizeof(topic), node, MC_TOPIC_CMD) != MC_OK)
		return false;
	if (mcc_mqtt_publish(c, topic, envelope, strlen(envelope), 1, false) !=
	    MC_OK)
		return false;
	st = mcc_db_prepare(db, "UPDATE commands SET status = 'sent'"
	                        " WHERE id = ?1 AND status = 'pending'");
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			mc_log_warn("commands", "command %s: %s", id,
			            sqlite3_errmsg(db));
		mcc_db_done(st);
	}
	return true;
}

void mcc_commands_tick(struct mcc *c)
{
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st;
	json_t *rows;
	size_t i;
	json_t *r;
	int64_t now = mc_now_ms();

	if (!db)
		return;
	expire(db, now);
	if (!mcc_mqtt_connected(c))
		return;
	st = mcc_db_prepare(db, "SELECT id, node_id, envelope FROM commands"
	                        " WHERE status IN ('sent','pending') AND"
	                        " status = 'pending' AND expires_ms > ?1"
	                        " ORDER BY issued_ms LIMIT 1000");
	if (!st)
		return;
	sqlite3_bind_int64(st, 1, now);
	rows = mcc_db_rows(st);
	mcc_db_done(st);
	json_array_foreach(rows, i, r)
	{
		const char *id = json_string_value(json_object_get(r, "id"));

		if (send_envelope(
		            c, db, id,
		            json_string_value(json_object_get(r, "node_id")),
		            json_string_value(json_object_get(r, "envelope"))))
			mc_log_info("commands",
			            "command %s sent after the broker "
			            "came back",
			            id);
	}
	json_decref(rows);
}

void mcc_commands_on_result(struct mcc *c, const struct mc_command_result *r)
{
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st;
	int rc, changed = 0;

	if (!db)
		return;
	st = mcc_db_prepare(db,
	                    "UPDATE commands SET status = ?3, message = ?4,"
	                    " result_ms = ?5 WHERE id = ?1 AND node_id = ?2"
	                    " AND status IN ('pending', 'sent', 'expired')");
	if (!st)
		return;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->ok ? "ok" : "failed", -1, SQLITE_STATIC);
	if (r->message)
		sqlite3_bind_text(st, 4, r->message, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, mc_now_ms());
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		changed = sqlite3_changes(db);
	else
		mc_log_error("commands", "result of %s not stored: %s", r->id,
		             sqlite3_errmsg(db));
	mcc_db_done(st);
	if (rc == SQLITE_DONE && !changed)
		mc_log_warn("commands",
		            "node %s answered command %s, which is not one of "
		            "its open commands; ignored",
		            r->node, r->id);
	else if (changed)
		mc_log_info("commands", "node %s: command %s %s%s%s", r->node,
		            r->id, r->ok ? "done" : "failed",
		            r->message ? ": " : "",
		            r->message ? r->message : "");
}

/* A command row as the API shows it. */
static const char cmd_cols[] =
        "SELECT c.id, c.node_id AS node, c.action, c.args_json, c.status,"
        " c.message, c.issued_ms, c.expires_ms, c.result_ms,"
        " u.name AS user FROM commands c LEFT JOIN users u ON u.id ="
        " c.user_id";

static json_t *command_get(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st;
	json_t *rows, *o = NULL;
	char *sql = mc_printf("%s WHERE c.id = ?1", cmd_cols);

	if (!sql)
		return NULL;
	st = mcc_db_prepare(db, sql);
	free(sql);
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rows = mcc_db_rows(st);
	mcc_db_done(st);
	if (rows && json_array_size(rows) == 1)
		o = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return o;
}

/* Common checks of /v1/nodes/{id}/...: valid id, node exists. */
static bool node_param(struct mcc_req *rq, struct mcc_resp *rs, sqlite3 *db)
{
	const char *id = rq->params[0];
	int e;

	if (!mc_id_valid(id)) {
		mcc_resp_error(
		        rs, 400, "id",
		        "id: mã thiết bị không hợp lệ / not a valid node "
		        "id");
		return false;
	}
	e = node_exists(db, id);
	if (e < 0) {
		db_error(rs);
		return false;
	}
	if (!e) {
		mcc_resp_error(rs, 404, "id",
		               "id: không có thiết bị '%s' / no node '%s'", id,
		               id);
		return false;
	}
	return true;
}

/* POST /v1/nodes/{id}/commands */
static void h_command_send(struct mcc_req *rq, struct mcc_resp *rs)
{
	struct mcc *c = rq->c;
	const char *node = rq->params[0];
	sqlite3 *db = mcc_db(c);
	json_t *body = NULL, *v, *args = NULL, *after = NULL;
	struct mc_command cmd = {0};
	struct mc_error err = {0};
	char id[32], *doc = NULL, *env = NULL, *args_text = NULL;
	const char *key;
	int action;
	int64_t ttl = CMD_TTL_DEFAULT_S, now = mc_now_ms();
	sqlite3_stmt *st;
	bool sent;

	if (!db) {
		db_error(rs);
		return;
	}
	if (!node_param(rq, rs, db))
		return;
	if (!(body = mcc_req_json(rq, rs)))
		return;
	json_object_foreach(body, key, v)
	{
		if (strcmp(key, "action") && strcmp(key, "volume") &&
		    strcmp(key, "power_on") && strcmp(key, "ttl_s")) {
			mcc_resp_error(rs, 400, key,
			               "%s: trường không được biết / unknown "
			               "field",
			               key);
			goto out;
		}
	}
	v = json_object_get(body, "action");
	if (!json_is_string(v)) {
		mcc_resp_error(rs, 400, "action",
		               "action: bắt buộc, một trong resync, identify, "
		               "screenshot, restart, reboot, screen_power, "
		               "volume / required, one of resync, identify, "
		               "screenshot, restart, reboot, screen_power, "
		               "volume");
		goto out;
	}
	action = mc_command_action_parse(json_string_value(v));
	if (action < 0) {
		mcc_resp_error(rs, 400, "action",
		               "action: không biết lệnh '%.32s'; một trong "
		               "resync, identify, screenshot, restart, reboot, "
		               "screen_power, volume / unknown action",
		               json_string_value(v));
		goto out;
	}
	cmd.action = (enum mc_command_action)action;
	args = json_object();
	v = json_object_get(body, "volume");
	if (cmd.action == MC_CMD_VOLUME) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 100) {
			mcc_resp_error(rs, 400, "volume",
			               "volume: bắt buộc, số nguyên 0..100 / "
			               "required, an integer 0..100");
			goto out;
		}
		cmd.volume = (int)json_integer_value(v);
		json_object_set_new(args, "volume", json_integer(cmd.volume));
	} else if (v && !json_is_null(v)) {
		mcc_resp_error(rs, 400, "volume",
		               "volume: chỉ dùng với action volume / only with "
		               "action volume");
		goto out;
	}
	v = json_object_get(body, "power_on");
	if (cmd.action == MC_CMD_SCREEN_POWER) {
		if (!json_is_boolean(v)) {
			mcc_resp_error(rs, 400, "power_on",
			               "power_on: bắt buộc, true hoặc false / "
			               "required, true or false");
			goto out;
		}
		cmd.power_on = json_is_true(v);
		json_object_set_new(args, "power_on",
		                    json_boolean(cmd.power_on));
	} else if (v && !json_is_null(v)) {
		mcc_resp_error(rs, 400, "power_on",
		               "power_on: chỉ dùng với action screen_power / "
		               "only with action screen_power");
		goto out;
	}
	v = json_object_get(body, "ttl_s");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > CMD_TTL_MAX_S) {
			mcc_resp_error(
			        rs, 400, "ttl_s",
			        "ttl_s: số nguyên 1..%d giây / an integer "
			        "1..%d seconds",
			        CMD_TTL_MAX_S, CMD_TTL_MAX_S);
			goto out;
		}
		ttl = json_integer_value(v);
	}
	if (!c->have_key) {
		mcc_resp_error(rs, 409, NULL,
		               "chưa có khóa ký, không thể gửi lệnh / no "
		               "signing key: commands cannot be signed");
		goto out;
	}

	random_id("cmd", id, sizeof(id));
	cmd.id = id;
	cmd.node = (char *)node;
	cmd.issued_ms = now;
	cmd.expires_ms = now + ttl * 1000;
	doc = mc_command_dump(&cmd);
	if (!doc || mc_envelope_sign(&c->key, MC_PURPOSE_COMMAND, doc,
	                             strlen(doc), &env, NULL, &err) != MC_OK) {
		mcc_resp_error(rs, 500, NULL,
		               "không ký được lệnh / cannot sign "
		               "the command: %s",
		               doc ? err.msg : "out of memory");
		goto out;
	}
	args_text = json_object_size(args)
	                    ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS)
	                    : NULL;

	if (mcc_db_begin(db) != MC_OK) {
		db_error(rs);
		goto out;
	}
	st = mcc_db_prepare(
	        db, "INSERT INTO commands(id, node_id, action, args_json,"
	            " user_id, issued_ms, expires_ms, status, envelope)"
	            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8)");
	if (!st)
		goto dbfail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, mc_command_action_name(cmd.action), -1,
	                  SQLITE_STATIC);
	if (args_text)
		sqlite3_bind_text(st, 4, args_text, -1, SQLITE_STATIC);
	if (rq->who.user_id)
		sqlite3_bind_int64(st, 5, rq->who.user_id);
	sqlite3_bind_int64(st, 6, cmd.issued_ms);
	sqlite3_bind_int64(st, 7, cmd.expires_ms);
	sqlite3_bind_text(st, 8, env, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		mcc_db_done(st);
		goto dbfail;
	}
	mcc_db_done(st);
	after = json_pack("{s:s, s:s, s:s, s:O, s:I}", "id", id, "node", node,
	                  "action", mc_command_action_name(cmd.action), "args",
	                  args, "expires_ms", (json_int_t)cmd.expires_ms);
	if (mcc_audit(db, &rq->who, "command.send", "node", node, NULL,
	              after) != MC_OK)
		goto dbfail;
	if (mcc_db_commit(db) != MC_OK)
		goto dbfail;

	sent = send_envelope(c, db, id, node, env);
	mc_log_info("commands", "%s sent %s to node %s as %s%s", rq->who.name,
	            mc_command_action_name(cmd.action), node, id,
	            sent ? "" : " (broker unreachable: sent when it is back)");
	mcc_resp_json(rs, 201, command_get(db, id));
	goto out;
dbfail:
	mcc_db_rollback(db);
	db_error(rs);
out:
	json_decref(body);
	json_decref(args);
	json_decref(after);
	free(doc);
	free(env);
	free(args_text);
}

/* GET /v1/nodes/{id}/commands?limit=&offset= */
static void h_command_list(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	int64_t limit, offset, total = 0;
	json_t *items;
	char *sql;

	if (!db) {
		db_error(rs);
		return;
	}
	if (!node_param(rq, rs, db) ||
	    !mcc_req_query_int(rq, rs, "limit", LIST_DEFAULT, 1, LIST_MAX,
	                       &limit) ||
	    !mcc_req_query_int(rq, rs, "offset", 0, 0, INT32_MAX, &offset))
		return;
	expire(db, mc_now_ms());
	sql = mc_printf("%s WHERE c.node_id = ?1 ORDER BY c.issued_ms DESC,"
	                " c.id LIMIT ?2 OFFSET ?3",
	                cmd_cols);
	if (!sql) {
		db_error(rs);
		return;
	}
	items = mcc_db_page(db,
	                    "SELECT COUNT(*) FROM commands WHERE node_id = ?1",
	                    sql, rq->params, 1, limit, offset, &total);
	free(sql);
	if (!items) {
		db_error(rs);
		return;
	}
	mcc_resp_page(rs, items, total, limit, offset);
}

/* GET /v1/commands/{id} */
static void h_command_get(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	const char *id = rq->params[0];
	json_t *o;

	if (!mc_id_valid(id)) {
		mcc_resp_error(rs, 400, "id",
		               "id: mã lệnh không hợp lệ / not a valid command "
		               "id");
		return;
	}
	if (!db) {
		db_error(rs);
		return;
	}
	expire(db, mc_now_ms());
	o = command_get(db, id);
	if (!o) {
		mcc_resp_error(rs, 404, "id",
		               "id: không có lệnh '%s' / no command '%s'", id,
		               id);
		return;
	}
	mcc_resp_json(rs, 200, o);
}

/* ------------------------------------------------------------------ */
/* Screenshots */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* mkdir with 0700; an existing directory is fine. */
static bool ensure_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return true;
	return errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void mcc_shots_forget(struct mcc *c, const char *node)
{
	char *dir = mc_printf("%s/%s", c->shot_dir, node);
	struct dirent *e;
	DIR *d;

	if (!dir)
		return;
	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			mc_log_warn("commands",
			            "screenshots of node %s: %s: %s", node, dir,
			            strerror(errno));
		free(dir);
		return;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' &&
		    unlinkat(dirfd(d), e->d_name, 0) != 0)
			mc_log_warn("commands", "cannot remove %s/%s: %s", dir,
			            e->d_name, strerror(errno));
	closedir(d);
	if (rmdir(dir) != 0)
		mc_log_warn("commands", "cannot remove %s: %s", dir,
		            strerror(errno));
	else
		mc_log_info("commands", "screenshots of node %s removed", node);
	free(dir);
}

/* Delete the oldest screenshots of node beyond SHOTS_KEPT (rows in the
 * caller's transaction; files after it, by the returned list). */
static json_t *prune_rows(sqlite3 *db, const char *node)
{
	sqlite3_stmt *st;
	json_t *old;

	st = mcc_db_prepare(db, "SELECT id FROM screenshots WHERE node_id = ?1"
	                        " ORDER BY created_ms DESC, id LIMIT -1"
	                        " OFFSET ?2");
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, SHOTS_KEPT);
	old = mcc_db_rows(st);
	mcc_db_done(st);
	if (!old || !json_array_size(old))
		return old;
	st = mcc_db_prepare(
	        db, "DELETE FROM screenshots WHERE id IN (SELECT id FROM"
	            " screenshots WHERE node_id = ?1 ORDER BY created_ms DESC,"
	            " id LIMIT -1 OFFSET ?2)");
	if (!st) {
		json_decref(old);
		return NULL;
	}
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, SHOTS_KEPT);
	if (sqlite3_step(st) != SQLITE_DONE) {
		json_decref(old);
		old = NULL;
	}
	mcc_db_done(st);
	return old;
}

/* POST /v1/nodes/{id}/screenshots?command=<cmd id> (the node itself) */
static void h_shot_upload(struct mcc_req *rq, struct mcc_resp *rs)
{
	struct mcc *c = rq->c;
	const char *node = rq->params[0];
	const char *command = mcc_req_query(rq, "command");
	const char *ctype = mcc_req_header(rq, "Content-Type");
	const unsigned char *p = (const unsigned char *)rq->body;
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st;
	struct mc_error err = {0};
	char sid[32], sha[MC_SHA256_HEX_SIZE];
	char *dir = NULL, *path = NULL;
	json_t *after = NULL, *old = NULL, *o;
	uint32_t w = 0, h = 0;
	int64_t now = mc_now_ms();
	int rc;

	if (!mc_id_valid(node)) {
		mcc_resp_error(
		        rs, 400, "id",
		        "id: mã thiết bị không hợp lệ / not a valid node "
		        "id");
		return;
	}
	/* Admins pass every role check; only the node itself uploads its
	 * screen, so a person is refused here too. */
	if (!(rq->who.roles & MCC_ROLE_NODE) || strcmp(rq->who.name, node)) {
		mcc_resp_error(rs, 403, NULL,
		               "chỉ thiết bị %s được gửi ảnh màn hình của nó / "
		               "only node %s may upload its screenshots",
		               node, node);
		return;
	}
	if (!ctype || strncasecmp(ctype, "image/png", 9) ||
	    (ctype[9] && ctype[9] != ';' && ctype[9] != ' ')) {
		mcc_resp_error(rs, 415, "Content-Type",
		               "Content-Type: phải là image/png / must be "
		               "image/png");
		return;
	}
	/* Signature, then the IHDR chunk that must come first. */
	if (!p || rq->body_len < 33 || memcmp(p, png_sig, 8) ||
	    be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4)) {
		mcc_resp_error(rs, 415, "body",
		               "body: không phải ảnh PNG / not a PNG image");
		return;
	}
	if (rq->body_len > SHOT_MAX_BYTES) {
		mcc_resp_error(rs, 413, "body",
		               "body: ảnh quá lớn (tối đa 8 MiB) / image too "
		               "large (at most 8 MiB)");
		return;
	}
	w = be32(p + 16);
	h = be32(p + 20);
	if (!db) {
		db_error(rs);
		return;
	}
	if (command) {
		if (!mc_id_valid(command)) {
			mcc_resp_error(rs, 400, "command",
			               "command: mã lệnh không hợp lệ / not a "
			               "valid command id");
			return;
		}
		st = mcc_db_prepare(db, "SELECT 1 FROM commands WHERE id = ?1"
		                        " AND node_id = ?2");
		if (!st) {
			db_error(rs);
			return;
		}
		sqlite3_bind_text(st, 1, command, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		mcc_db_done(st);
		if (rc != SQLITE_ROW) {
			mcc_resp_error(
			        rs, 404, "command",
			        "command: không có lệnh '%s' cho thiết bị "
			        "này / no command '%s' for this node",
			        command, command);
			return;
		}
	}
	random_id("shot", sid, sizeof(sid));
	mc_sha256_hex(p, rq->body_len, sha);
	dir = mc_printf("%s/%s", c->shot_dir, node);
	path = mc_printf("%s/%s.png", dir ? dir : "", sid);
	if (!dir || !path || !ensure_dir(c->shot_dir) || !ensure_dir(dir) ||
	    mc_write_file_atomic(path, p, rq->body_len, 0600, &err) != MC_OK) {
		mc_log_error("commands", "screenshot of %s not saved: %s", node,
		             err.msg[0] ? err.msg : strerror(errno));
		mcc_resp_error(rs, 500, NULL,
		               "không lưu được ảnh / cannot store the image");
		goto out;
	}
	if (mcc_db_begin(db) != MC_OK)
		goto dbfail;
	st = mcc_db_prepare(
	        db, "INSERT INTO screenshots(id, node_id, command_id, size,"
	            " sha256, width, height, created_ms)"
	            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	if (!st)
		goto dbfail;
	sqlite3_bind_text(st, 1, sid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
	if (command)
		sqlite3_bind_text(st, 3, command, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)rq->body_len);
	sqlite3_bind_text(st, 5, sha, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, w);
	sqlite3_bind_int64(st, 7, h);
	sqlite3_bind_int64(st, 8, now);
	rc = sqlite3_step(st);
	mcc_db_done(st);
	if (rc != SQLITE_DONE)
		goto dbfail;
	after = json_pack("{s:s, s:s?, s:I, s:s}", "id", sid, "command",
	                  command, "size", (json_int_t)rq->body_len, "sha256",
	                  sha);
	if (mcc_audit(db, &rq->who, "screenshot.upload", "node", node, NULL,
	              after) != MC_OK)
		goto dbfail;
	old = prune_rows(db, node);
	if (!old)
		goto dbfail;
	if (mcc_db_commit(db) != MC_OK)
		goto dbfail;
	{
		size_t i;
		json_t *r;

		json_array_foreach(old, i, r)
		{
			char *f = mc_printf(
			        "%s/%s.png", dir,
			        json_string_value(json_object_get(r, "id")));

			if (f)
				unlink(f);
			free(f);
		}
	}
	mc_log_info("commands", "screenshot %s from node %s: %ux%u, %zu bytes",
	            sid, node, w, h, rq->body_len);
	o = json_pack("{s:s, s:s, s:s?, s:I, s:s, s:I, s:I, s:I, s:s++}", "id",
	              sid, "node", node, "command", command, "size",
	              (json_int_t)rq->body_len, "sha256", sha, "width",
	              (json_int_t)w, "height", (json_int_t)h, "created_ms",
	              (json_int_t)now, "url", "/v1/screenshots/", sid, ".png");
	mcc_resp_json(rs, 201, o);
	goto out;
dbfail:
	mcc_db_rollback(db);
	unlink(path);
	db_error(rs);
out:
	json_decref(after);
	json_decref(old);
	free(dir);
	free(path);
}

/* GET /v1/nodes/{id}/screenshots?limit=&offset= */
static void h_shot_list(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	int64_t limit, offset, total = 0;
	json_t *items, *r;
	size_t i;

	if (!db) {
		db_error(rs);
		return;
	}
	if (!node_param(rq, rs, db) ||
	    !mcc_req_query_int(rq, rs, "limit", LIST_DEFAULT, 1, LIST_MAX,
	                       &limit) ||
	    !mcc_req_query_int(rq, rs, "offset", 0, 0, INT32_MAX, &offset))
		return;
	items = mcc_db_page(
	        db, "SELECT COUNT(*) FROM screenshots WHERE node_id = ?1",
	        "SELECT id, node_id AS node, command_id AS command,"
	        " size, sha256, width, height, created_ms"
	        " FROM screenshots WHERE node_id = ?1"
	        " ORDER BY created_ms DESC, id LIMIT ?2 OFFSET ?3",
	        rq->params, 1, limit, offset, &total);
	if (!items) {
		db_error(rs);
		return;
	}
	json_array_foreach(items, i, r)
	{
		char *url =
		        mc_printf("/v1/screenshots/%s.png",
		                  json_string_value(json_object_get(r, "id")));

		json_object_set_new(r, "url",
		                    url ? json_string(url) : json_null());
		free(url);
	}
	mcc_resp_page(rs, items, total, limit, offset);
}

/* GET /v1/screenshots/{id}.png */
static void h_shot_get(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	const char *seg = rq->params[0];
	char id[MC_ID_MAX + 1], node[MC_ID_MAX + 1], sha[MC_SHA256_HEX_SIZE];
	size_t len = strlen(seg);
	sqlite3_stmt *st;
	char *path;
	int rc;

	if (len < 5 || len - 4 > MC_ID_MAX || strcmp(seg + len - 4, ".png")) {
		mcc_resp_error(rs, 404, "id",
		               "id: không có ảnh này / no such screenshot");
		return;
	}
	memcpy(id, seg, len - 4);
	id[len - 4] = '\0';
	if (!mc_id_valid(id)) {
		mcc_resp_error(rs, 404, "id",
		               "id: không có ảnh này / no such screenshot");
		return;
	}
	if (!db) {
		db_error(rs);
		return;
	}
	st = mcc_db_prepare(db, "SELECT node_id, sha256 FROM screenshots"
	                        " WHERE id = ?1");
	if (!st) {
		db_error(rs);
		return;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(node, sizeof(node), "%s", sqlite3_column_text(st, 0));
		snprintf(sha, sizeof(sha), "%s", sqlite3_column_text(st, 1));
	}
	mcc_db_done(st);
	if (rc != SQLITE_ROW) {
		mcc_resp_error(rs, 404, "id",
		               "id: không có ảnh '%s' / no screenshot '%s'", id,
		               id);
		return;
	}
	path = mc_printf("%s/%s/%s.png", rq->c->shot_dir, node, id);
	if (!path) {
		mcc_resp_error(rs, 500, NULL, "out of memory");
		return;
	}
	mcc_resp_file(rs, path, "image/png", sha, true);
	free(path);
}

const struct mcc_route mcc_commands_routes[] = {
        {"POST", "/v1/nodes/{}/commands", MCC_ROLE_TECHNICIAN, 0, 0,
         h_command_send},
        {"GET", "/v1/nodes/{}/commands", MCC_ROLE_TECHNICIAN, 0, 0,
         h_command_list},
        {"GET", "/v1/commands/{}", MCC_ROLE_TECHNICIAN, 0, 0, h_command_get},
        {"POST", "/v1/nodes/{}/screenshots", MCC_ROLE_NODE, SHOT_MAX_BYTES, 0,
         h_shot_upload},
        {"GET", "/v1/nodes/{}/screenshots", MCC_ROLE_TECHNICIAN, 0, 0,
         h_shot_list},
        {"GET", "/v1/screenshots/{}", MCC_ROLE_TECHNICIAN, 0, 0, h_shot_get},
        {NULL, NULL, 0, 0, 0, NULL},
};
