/*
 * minecast-controller — people, roles and credentials (auth.h).
 *
 * Three kinds of credentials reach mcc_auth_identify():
 *   Authorization: Bearer mc_...   an API token (minecastctl), looked up
 *                                  by its SHA-256;
 *   Cookie: mc_session=...         a browser session, looked up by its
 *                                  SHA-256; 12 h, sliding; mutations must
 *                                  echo the session's CSRF token;
 *   Authorization: Basic ...       a node: its id and MQTT password,
 *                                  checked against nodes.secret_sha256.
 * No secret is stored in the clear: a stolen database gives no working
 * token, session or node password.  Passwords are argon2id strings.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "minecast/log.h"
#include "minecast/sign.h"
#include "minecast/text.h"
#include "minecast/util.h"

#include "audit.h"
#include "auth.h"
#include "db.h"
#include "http.h"
#include "mcc.h"

/* A session lives this long after its last use. */
#define SESSION_MS (12 * 3600 * 1000LL)
/* The sliding expiry is written at most this often per session. */
#define SESSION_TOUCH_MS (60 * 1000LL)
/* Token "last used" is written at most this often. */
#define TOKEN_TOUCH_MS (60 * 1000LL)

/* Failed logins per user name within LOGIN_WINDOW_MS before 429. */
#define LOGIN_FAILURES  5
#define LOGIN_WINDOW_MS (60 * 1000LL)

/* Password bounds in bytes. */
#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024

/* Display names, token names. */
#define NAME_TEXT_MAX 200

/* Random bytes behind tokens, sessions and CSRF tokens. */
#define SECRET_BYTES 32

static const char *const role_names[] = {"editor", "approver", "technician",
                                         "admin"};

long mcc_roles_parse(const char *list)
{
	long roles = 0;
	const char *p = list;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		bool found = false;

		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		while (n > 0 && p[n - 1] == ' ')
			n--;
		for (size_t i = 0; i < MC_ARRAY_LEN(role_names); i++) {
			if (strlen(role_names[i]) == n &&
			    strncmp(role_names[i], p, n) == 0) {
				roles |= 1L << i;
				found = true;
			}
		}
		if (!found && n > 0)
			return -1;
		p = e ? e + 1 : NULL;
	}
	return roles;
}

void mcc_roles_format(unsigned roles, char *buf, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < MC_ARRAY_LEN(role_names) && n < len; i++)
		if (roles & (1u << i))
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
			                      n ? "," : "", role_names[i]);
	if (roles & MCC_ROLE_NODE && n < len)
		snprintf(buf + n, len - n, "%snode", n ? "," : "");
}

/* Role bits as a JSON list of names. */
static json_t *roles_json(unsigned roles)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < MC_ARRAY_LEN(role_names); i++)
		if (roles & (1u << i))
			json_array_append_new(a, json_string(role_names[i]));
	if (a && (roles & MCC_ROLE_NODE))
		json_array_append_new(a, json_string("node"));
	return a;
}

/* ---- secrets ---- */

/* base64url (no padding) of SECRET_BYTES random bytes, with prefix. */
static void random_token(const char *prefix, char *out, size_t len)
{
	unsigned char raw[SECRET_BYTES];
	char b64[sodium_base64_ENCODED_LEN(
	        SECRET_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, len, "%s%s", prefix, b64);
	sodium_memzero(raw, sizeof(raw));
}

static void sha_hex(const char *s, char out[MC_SHA256_HEX_SIZE])
{
	mc_sha256_hex(s, strlen(s), out);
}

/* Equal strings, in time independent of where they differ. */
static bool same_secret(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

/* ---- identify ---- */

static enum mc_err by_token(struct mcc *c, sqlite3 *db, const char *token,
                            struct mcc_principal *who)
{
	char h[MC_SHA256_HEX_SIZE];
	sqlite3_stmt *st;
	enum mc_err rc = MC_ERR_AUTH;
	int64_t now = mc_now_ms(), tid = 0, last = 0;

	(void)c;
	if (strncmp(token, "mc_", 3) != 0 || strlen(token) > 128)
		return MC_ERR_AUTH;
	sha_hex(token, h);
	st = mcc_db_prepare(db,
	                    "SELECT t.id, u.id, u.name, u.roles, "
	                    "coalesce(t.last_used_ms, 0) FROM api_tokens t "
	                    "JOIN users u ON u.id = t.user_id "
	                    "WHERE t.token_sha256 = ? AND u.disabled = 0 "
	                    "AND (t.expires_ms IS NULL OR t.expires_ms > ?)");
	if (!st)
		return MC_ERR_IO;
	sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) == SQLITE_ROW) {
		tid = sqlite3_column_int64(st, 0);
		who->user_id = sqlite3_column_int64(st, 1);
		snprintf(who->name, sizeof(who->name), "%s",
		         (const char *)sqlite3_column_text(st, 2));
		who->roles =
		        (unsigned)sqlite3_column_int(st, 3) & MCC_ROLE_ANY_USER;
		last = sqlite3_column_int64(st, 4);
		rc = MC_OK;
	}
	mcc_db_done(st);
	if (rc == MC_OK && now - last > TOKEN_TOUCH_MS) {
		st = mcc_db_prepare(db, "UPDATE api_tokens SET last_used_ms = "
		                        "? WHERE id = ?");
		if (st) {
			sqlite3_bind_int64(st, 1, now);
			sqlite3_bind_int64(st, 2, tid);
			sqlite3_step(st); /* busy: next time */
			mcc_db_done(st);
		}
	}
	return rc;
}

static enum mc_err by_session(sqlite3 *db, const char *cookie,
                              struct mcc_principal *who)
{
	char h[MC_SHA256_HEX_SIZE];
	sqlite3_stmt *st;
	enum mc_err rc = MC_ERR_AUTH;
	int64_t now = mc_now_ms(), expires = 0;

	sha_hex(cookie, h);
	st = mcc_db_prepare(db, "SELECT u.id, u.name, u.roles, s.csrf, "
	                        "s.expires_ms FROM sessions s JOIN users u ON "
	                        "u.id = s.user_id WHERE s.token_sha256 = ? "
	                        "AND s.expires_ms > ? AND u.disabled = 0");
	if (!st)
		return MC_ERR_IO;
	sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) == SQLITE_ROW) {
		who->user_id = sqlite3_column_int64(st, 0);
		snprintf(who->name, sizeof(who->name), "%s",
		         (const char *)sqlite3_column_text(st, 1));
		who->roles =
		        (unsigned)sqlite3_column_int(st, 2) & MCC_ROLE_ANY_USER;
		snprintf(who->csrf, sizeof(who->csrf), "%s",
		         (const char *)sqlite3_column_text(st, 3));
		expires = sqlite3_column_int64(st, 4);
		who->via_cookie = true;
		rc = MC_OK;
	}
	mcc_db_done(st);
	if (rc == MC_OK && now + SESSION_MS - expires > SESSION_TOUCH_MS) {
		st = mcc_db_prepare(db, "UPDATE sessions SET expires_ms = ? "
		                        "WHERE token_sha256 = ?");
		if (st) {
			sqlite3_bind_int64(st, 1, now + SESSION_MS);
			sqlite3_bind_text(st, 2, h, -1, SQLITE_STATIC);
			sqlite3_step(st);
			mcc_db_done(st);
		}
	}
	return rc;
}

static enum mc_err by_node(sqlite3 *db, const char *b64,
                           struct mcc_principal *who)
{
	unsigned char raw[512];
	size_t n = 0;
	char *colon, h[MC_SHA256_HEX_SIZE];
	sqlite3_stmt *st;
	enum mc_err rc = MC_ERR_AUTH;

	if (strlen(b64) > 680 ||
	    sodium_base642bin(raw, sizeof(raw) - 1, b64, strlen(b64), NULL, &n,
	                      NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return MC_ERR_AUTH;
	raw[n] = '\0';
	if (memchr(raw, '\0', n))
		goto out;
	colon = strchr((char *)raw, ':');
	if (!colon)
		goto out;
	*colon = '\0';
	if (!mc_id_valid((char *)raw))
		goto out;
	mc_sha256_hex(colon + 1, strlen(colon + 1), h);
	st = mcc_db_prepare(db, "SELECT secret_sha256 FROM nodes WHERE id = ? "
	                        "AND secret_sha256 IS NOT NULL");
	if (!st) {
		rc = MC_ERR_IO;
		goto out;
	}
	sqlite3_bind_text(st, 1, (char *)raw, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    same_secret((const char *)sqlite3_column_text(st, 0), h)) {
		who->user_id = 0;
		/* mc_id_valid: at most 64 bytes, so it fits. */
		memcpy(who->name, raw, strlen((char *)raw) + 1);
		who->roles = MCC_ROLE_NODE;
		rc = MC_OK;
	}
	mcc_db_done(st);
out:
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

/* The value of cookie name in a Cookie header into out; false if none. */
static bool cookie_value(const char *header, const char *name, char *out,
                         size_t len)
{
	size_t nl = strlen(name);
	const char *p = header;

	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1, *e = strchr(v, ';');
			size_t n = e ? (size_t)(e - v) : strlen(v);

			if (n == 0 || n >= len)
				return false;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
		p = strchr(p, ';');
	}
	return false;
}

enum mc_err mcc_auth_identify(struct mcc *c, const char *authorization,
                              const char *cookie, struct mcc_principal *who)
{
	sqlite3 *db;
	char sess[128];

	memset(who, 0, sizeof(*who));
	if (!authorization && !cookie)
		return MC_OK;
	if (!authorization &&
	    !cookie_value(cookie, "mc_session", sess, sizeof(sess)))
		return MC_OK; /* other cookies are not credentials */
	db = mcc_db(c);
	if (!db)
		return MC_ERR_IO;
	if (authorization) {
		enum mc_err rc = MC_ERR_AUTH;

		if (strncasecmp(authorization, "Bearer ", 7) == 0)
			rc = by_token(c, db, authorization + 7, who);
		else if (strncasecmp(authorization, "Basic ", 6) == 0)
			rc = by_node(db, authorization + 6, who);
		if (rc != MC_OK)
			memset(who, 0, sizeof(*who));
		return rc;
	}
	return by_session(db, sess, who) == MC_OK ? MC_OK : MC_ERR_AUTH;
}

/* ---- users ---- */

int64_t mcc_user_count(struct mcc *c)
{
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st =
	        db ? mcc_db_prepare(db, "SELECT count(*) FROM users") : NULL;
	int64_t n = -1;

	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	mcc_db_done(st);
	return n;
}

int64_t mcc_user_id(struct mcc *c, const char *name)
{
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st =
	        db ? mcc_db_prepare(db, "SELECT id FROM users WHERE name = ?")
	           : NULL;
	int64_t id = 0;

	if (!st)
		return 0;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	mcc_db_done(st);
	return id;
}

static enum mc_err check_password(const char *pw, const char *field,
                                  struct mc_error *err)
{
	size_t n = strlen(pw);

	if (n < PASSWORD_MIN)
		return mc_error_set(err, MC_ERR_RANGE,
		                    "%s: mật khẩu phải có ít nhất %d ký tự / "
		                    "must be at least %d bytes",
		                    field, PASSWORD_MIN, PASSWORD_MIN);
	if (n > PASSWORD_MAX)
		return mc_error_set(err, MC_ERR_RANGE,
		                    "%s: mật khẩu quá dài / at most %d bytes",
		                    field, PASSWORD_MAX);
	return MC_OK;
}

static enum mc_err hash_password(const char *pw,
                                 char out[crypto_pwhash_STRBYTES],
                                 struct mc_error *err)
{
	if (crypto_pwhash_str(out, pw, strlen(pw),
	                      crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return mc_error_set(err, MC_ERR_NOMEM,
		                    "password: cannot hash (out of memory)");
	return MC_OK;
}

enum mc_err mcc_user_create(struct mcc *c, const char *name,
                            const char *password, unsigned roles, int64_t *id,
                            struct mc_error *err)
{
	char hash[crypto_pwhash_STRBYTES];
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st;
	enum mc_err rc;
	int step;

	mc_sign_init();
	if (!mc_id_valid(name))
		return mc_error_set(
		        err, MC_ERR_RANGE,
		        "name: tên đăng nhập chỉ gồm chữ, số, . _ - "
		        "(1-64) / must be 1-64 of A-Z a-z 0-9 . _ -");
	if ((roles & ~MCC_ROLE_ANY_USER) != 0)
		return mc_error_set(err, MC_ERR_RANGE, "roles: unknown role");
	if ((rc = check_password(password, "password", err)) != MC_OK)
		return rc;
	if (!db)
		return mc_error_set(err, MC_ERR_IO, "database unavailable");
	if ((rc = hash_password(password, hash, err)) != MC_OK)
		return rc;
	st = mcc_db_prepare(db, "INSERT INTO users (name, password_hash, "
	                        "roles, created_ms, updated_ms) VALUES (?, ?, "
	                        "?, ?, ?)");
	if (!st)
		return mc_error_set(err, MC_ERR_IO, "database error");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, (int)roles);
	sqlite3_bind_int64(st, 4, mc_now_ms());
	sqlite3_bind_int64(st, 5, mc_now_ms());
	step = sqlite3_step(st);
	mcc_db_done(st);
	sodium_memzero(hash, sizeof(hash));
	if (step == SQLITE_CONSTRAINT_UNIQUE || step == SQLITE_CONSTRAINT)
		return mc_error_set(err, MC_ERR_EXISTS,
		                    "name: người dùng '%s' đã có / user exists",
		                    name);
	if (step != SQLITE_DONE)
		return mc_error_set(err, MC_ERR_IO, "database error: %s",
		                    sqlite3_errmsg(db));
	if (id)
		*id = sqlite3_last_insert_rowid(db);
	return MC_OK;
}

enum mc_err mcc_token_create(struct mcc *c, int64_t user_id, const char *name,
                             int64_t expires_ms, char out[MCC_TOKEN_SIZE],
                             int64_t *id, struct mc_error *err)
{
	char h[MC_SHA256_HEX_SIZE], prefix[11];
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st;
	int step;

	mc_sign_init();
	if (!db)
		return mc_error_set(err, MC_ERR_IO, "database unavailable");
	random_token("mc_", out, MCC_TOKEN_SIZE);
	sha_hex(out, h);
	snprintf(prefix, sizeof(prefix), "%.10s", out);
	st = mcc_db_prepare(db, "INSERT INTO api_tokens (user_id, "
	                        "token_sha256, prefix, name, created_ms, "
	                        "expires_ms) VALUES (?, ?, ?, ?, ?, ?)");
	if (!st)
		return mc_error_set(err, MC_ERR_IO, "database error");
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_text(st, 2, h, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, prefix, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, name ? name : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, mc_now_ms());
	if (expires_ms > 0)
		sqlite3_bind_int64(st, 6, expires_ms);
	else
		sqlite3_bind_null(st, 6);
	step = sqlite3_step(st);
	mcc_db_done(st);
	if (step != SQLITE_DONE) {
		sodium_memzero(out, MCC_TOKEN_SIZE);
		return mc_error_set(err, MC_ERR_IO, "database error: %s",
		                    sqlite3_errmsg(db));
	}
	if (id)
		*id = sqlite3_last_insert_rowid(db);
	return MC_OK;
}

/* ---- handlers ---- */

/* A user row as JSON (never the hash). */
static json_t *user_json(sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st = mcc_db_prepare(
	        db, "SELECT id, name, display_name, roles, disabled, "
	            "created_ms, updated_ms FROM users WHERE id = ?");
	json_t *u = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		u = json_pack(
		        "{s:I, s:s, s:s, s:o, s:b, s:I, s:I}", "id",
		        (json_int_t)sqlite3_column_int64(st, 0), "name",
		        (const char *)sqlite3_column_text(st, 1),
		        "display_name",
		        (const char *)sqlite3_column_text(st, 2), "roles",
		        roles_json((unsigned)sqlite3_column_int(st, 3)),
		        "disabled", sqlite3_column_int(st, 4) != 0,
		        "created_ms", (json_int_t)sqlite3_column_int64(st, 5),
		        "updated_ms", (json_int_t)sqlite3_column_int64(st, 6));
	mcc_db_done(st);
	return u;
}

static void db_error(struct mcc_resp *rs)
{
	mcc_resp_error(rs, 500, NULL,
	               "lỗi cơ sở dữ liệu / database error (see the controller "
	               "log)");
}

/* A string member; NULL and an answered 400 when wrong. */
static const char *get_str(json_t *doc, const char *key, bool required,
                           size_t max, struct mcc_resp *rs)
{
	json_t *v = json_object_get(doc, key);

	if (!v) {
		if (required)
			mcc_resp_error(rs, 400, key, "%s: bắt buộc / required",
			               key);
		return NULL;
	}
	if (!json_is_string(v)) {
		mcc_resp_error(rs, 400, key,
		               "%s: phải là chuỗi / must be a string", key);
		return NULL;
	}
	if (json_string_length(v) > max) {
		mcc_resp_error(
		        rs, 400, key,
		        "%s: quá dài (tối đa %zu byte) / too long (at most "
		        "%zu bytes)",
		        key, max, max);
		return NULL;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		mcc_resp_error(rs, 400, key,
		               "%s: chứa ký tự NUL / contains a NUL", key);
		return NULL;
	}
	return json_string_value(v);
}

/* display_name when given, normalised into *norm (left NULL when it is
 * absent); answers 400 and returns false when it is bad. */
static bool get_display_name(json_t *doc, char **norm, struct mcc_resp *rs)
{
	struct mc_error err;
	const char *display;

	if (!json_object_get(doc, "display_name"))
		return true;
	display = get_str(doc, "display_name", true, NAME_TEXT_MAX * 4, rs);
	if (!display)
		return false;
	if (mc_text_normalize(display, strlen(display), NAME_TEXT_MAX,
	                      "display_name", norm, &err) != MC_OK) {
		mcc_resp_mc_error(rs, &err);
		return false;
	}
	return true;
}

/* Refuse members other than those listed (a typo must not pass). */
static bool only_keys(json_t *doc, const char *const *allowed, size_t n,
                      struct mcc_resp *rs)
{
	const char *key;
	json_t *v;

	json_object_foreach(doc, key, v)
	{
		bool ok = false;

		for (size_t i = 0; i < n; i++)
			ok = ok || strcmp(key, allowed[i]) == 0;
		if (!ok) {
			mcc_resp_error(
			        rs, 400, key,
			        "%s: trường không xác định / unknown field",
			        key);
			return false;
		}
	}
	return true;
}

/* "roles": ["editor", ...] into bits; -1 with 400 answered. */
static long get_roles(json_t *doc, struct mcc_resp *rs)
{
	json_t *a = json_object_get(doc, "roles"), *v;
	size_t i;
	long roles = 0;

	if (!json_is_array(a) || json_array_size(a) > 8) {
		mcc_resp_error(
		        rs, 400, "roles",
		        "roles: phải là danh sách vai trò / must be a list "
		        "of editor, approver, technician, admin");
		return -1;
	}
	json_array_foreach(a, i, v)
	{
		long r = json_is_string(v)
		                 ? mcc_roles_parse(json_string_value(v))
		                 : -1;

		if (r <= 0) {
			mcc_resp_error(
			        rs, 400, "roles",
			        "roles[%zu]: vai trò không xác định / unknown "
			        "role; use editor, approver, technician, "
			        "admin",
			        i);
			return -1;
		}
		roles |= r;
	}
	return roles;
}

/* Count failed logins of name in the window. */
static int64_t recent_failures(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st = mcc_db_prepare(
	        db, "SELECT count(*) FROM login_failures WHERE name = ? AND "
	            "at_ms > ?");
	int64_t n = 0;

	if (!st)
		return 0;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, mc_now_ms() - LOGIN_WINDOW_MS);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	mcc_db_done(st);
	return n;
}

/* Record a failure (and forget old ones), with its audit row. */
static void note_failure(sqlite3 *db, const char *name)
{
	struct mcc_principal anon;
	sqlite3_stmt *st;
	int64_t now = mc_now_ms();
	json_t *after;

	memset(&anon, 0, sizeof(anon));
	if (mcc_db_begin(db) != MC_OK)
		return;
	st = mcc_db_prepare(db, "DELETE FROM login_failures WHERE at_ms <= ?");
	if (st) {
		sqlite3_bind_int64(st, 1, now - LOGIN_WINDOW_MS);
		sqlite3_step(st);
		mcc_db_done(st);
	}
	st = mcc_db_prepare(db, "INSERT INTO login_failures (name, at_ms) "
	                        "VALUES (?, ?)");
	if (st) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_step(st);
		mcc_db_done(st);
	}
	after = json_pack("{s:s}", "user", name);
	mcc_audit(db, &anon, "auth.login_failed", "user", name, NULL, after);
	json_decref(after);
	if (mcc_db_commit(db) != MC_OK)
		mcc_db_rollback(db);
}

/*
 * A hash to verify against when the user does not exist, so that the
 * answer takes as long as for a real one and does not tell which names
 * exist.
 */
static char dummy[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
	char pw[64];

	random_token("", pw, sizeof(pw));
	if (crypto_pwhash_str(dummy, pw, strlen(pw),
	                      crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		dummy[0] = '\0';
}

static void h_login(struct mcc_req *rq, struct mcc_resp *rs)
{
	static const char *const keys[] = {"user", "password"};
	sqlite3 *db = mcc_db(rq->c);
	json_t *doc = mcc_req_json(rq, rs), *user = NULL, *out;
	const char *name, *pw;
	char hash[crypto_pwhash_STRBYTES] = "", token[96], csrf[96],
	     th[MC_SHA256_HEX_SIZE], cookie[256];
	sqlite3_stmt *st;
	int64_t uid = 0, now = mc_now_ms();
	bool disabled = true, ok;
	struct mcc_principal who;

	if (!doc)
		return;
	if (!db) {
		db_error(rs);
		goto out;
	}
	if (!only_keys(doc, keys, MC_ARRAY_LEN(keys), rs) ||
	    !(name = get_str(doc, "user", true, 64, rs)) ||
	    !(pw = get_str(doc, "password", true, PASSWORD_MAX, rs)))
		goto out;
	if (recent_failures(db, name) >= LOGIN_FAILURES) {
		mcc_resp_header(rs, "Retry-After", "60");
		mcc_resp_error(
		        rs, 429, NULL,
		        "đăng nhập sai quá nhiều lần, hãy thử lại sau "
		        "một phút / too many failed logins; try again in "
		        "a minute");
		goto out;
	}
	st = mcc_db_prepare(db, "SELECT id, password_hash, disabled FROM users "
	                        "WHERE name = ?");
	if (!st) {
		db_error(rs);
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		uid = sqlite3_column_int64(st, 0);
		snprintf(hash, sizeof(hash), "%s",
		         (const char *)sqlite3_column_text(st, 1));
		disabled = sqlite3_column_int(st, 2) != 0;
	}
	mcc_db_done(st);
	if (!uid) {
		pthread_once(&dummy_once, make_dummy);
		memcpy(hash, dummy, sizeof(hash));
	}
	ok = hash[0] && crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0 &&
	     uid && !disabled;
	sodium_memzero(hash, sizeof(hash));
	if (!ok) {
		mc_log_info("auth", "failed login for '%s'%s", name,
		            uid && disabled ? " (account disabled)" : "");
		note_failure(db, name);
		mcc_resp_error(
		        rs, 401, NULL,
		        "sai tên đăng nhập hoặc mật khẩu / wrong user name "
		        "or password");
		goto out;
	}
	random_token("", token, sizeof(token));
	random_token("", csrf, sizeof(csrf));
	sha_hex(token, th);
	memset(&who, 0, sizeof(who));
	who.user_id = uid;
	snprintf(who.name, sizeof(who.name), "%s", name);
	if (mcc_db_begin(db) != MC_OK) {
		db_error(rs);
		goto out;
	}
	st = mcc_db_prepare(db, "INSERT INTO sessions (token_sha256, user_id, "
	                        "csrf, created_ms, expires_ms) VALUES (?, ?, "
	                        "?, ?, ?)");
	if (!st)
		goto dbfail;
	sqlite3_bind_text(st, 1, th, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_text(st, 3, csrf, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, now + SESSION_MS);
	if (sqlite3_step(st) != SQLITE_DONE) {
		mcc_db_done(st);
		goto dbfail;
	}
	mcc_db_done(st);
	/* Old sessions of this user and this name's failures go. */
	st = mcc_db_prepare(db, "DELETE FROM sessions WHERE user_id = ? AND "
	                        "expires_ms <= ?");
	if (st) {
		sqlite3_bind_int64(st, 1, uid);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_step(st);
		mcc_db_done(st);
	}
	st = mcc_db_prepare(db, "DELETE FROM login_failures WHERE name = ?");
	if (st) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_step(st);
		mcc_db_done(st);
	}
	if (mcc_audit(db, &who, "auth.login", "user", name, NULL, NULL) !=
	            MC_OK ||
	    mcc_db_commit(db) != MC_OK)
		goto dbfail;
	snprintf(cookie, sizeof(cookie),
	         "mc_session=%s; HttpOnly; SameSite=Strict; Path=/; "
	         "Max-Age=%lld%s",
	         token, SESSION_MS / 1000,
	         rq->c->cfg.public_url && strncmp(rq->c->cfg.public_url,
	                                          "https:", 6) == 0
	                 ? "; Secure"
	                 : "");
	mcc_resp_header(rs, "Set-Cookie", cookie);
	user = user_json(db, uid);
	out = json_pack("{s:o, s:s, s:I}", "user", user ? user : json_null(),
	                "csrf", csrf, "expires_ms",
	                (json_int_t)(now + SESSION_MS));
	mcc_resp_json(rs, 200, out);
	mc_log_info("auth", "'%s' logged in", name);
	goto out;
dbfail:
	mcc_db_rollback(db);
	db_error(rs);
out:
	sodium_memzero(token, sizeof(token));
	json_decref(doc);
}

static void h_logout(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	const char *cookie = mcc_req_header(rq, "Cookie");
	char sess[128], h[MC_SHA256_HEX_SIZE];
	sqlite3_stmt *st;

	if (!db) {
		db_error(rs);
		return;
	}
	if (rq->who.via_cookie && cookie &&
	    cookie_value(cookie, "mc_session", sess, sizeof(sess))) {
		sha_hex(sess, h);
		if (mcc_db_begin(db) != MC_OK)
			goto fail;
		st = mcc_db_prepare(
		        db, "DELETE FROM sessions WHERE token_sha256 = ?");
		if (!st)
			goto fail;
		sqlite3_bind_text(st, 1, h, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			mcc_db_done(st);
			goto fail;
		}
		mcc_db_done(st);
		if (mcc_audit(db, &rq->who, "auth.logout", "user", rq->who.name,
		              NULL, NULL) != MC_OK ||
		    mcc_db_commit(db) != MC_OK)
			goto fail;
	}
	mcc_resp_header(rs, "Set-Cookie",
	                "mc_session=; HttpOnly; SameSite=Strict; Path=/; "
	                "Max-Age=0");
	mcc_resp_json(rs, 200, json_pack("{s:b}", "ok", 1));
	return;
fail:
	mcc_db_rollback(db);
	db_error(rs);
}

static void h_me(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	json_t *u;

	if (rq->who.roles == MCC_ROLE_NODE) {
		mcc_resp_json(rs, 200,
		              json_pack("{s:s, s:o, s:s}", "name", rq->who.name,
		                        "roles", roles_json(rq->who.roles),
		                        "via", "node"));
		return;
	}
	u = db ? user_json(db, rq->who.user_id) : NULL;
	if (!u) {
		db_error(rs);
		return;
	}
	json_object_set_new(
	        u, "via",
	        json_string(rq->who.via_cookie ? "session" : "token"));
	if (rq->who.via_cookie)
		json_object_set_new(u, "csrf", json_string(rq->who.csrf));
	mcc_resp_json(rs, 200, u);
}

static void h_users_list(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	sqlite3_stmt *st =
	        db ? mcc_db_prepare(db, "SELECT id FROM users ORDER BY name")
	           : NULL;
	json_t *items = json_array();

	if (!st || !items) {
		json_decref(items);
		db_error(rs);
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		/* user_json uses another statement; this one stays open. */
		json_t *u = user_json(db, id);

		if (u)
			json_array_append_new(items, u);
	}
	mcc_db_done(st);
	mcc_resp_json(rs, 200, json_pack("{s:o}", "items", items));
}

static void h_users_create(struct mcc_req *rq, struct mcc_resp *rs)
{
	static const char *const keys[] = {"name", "password", "roles",
	                                   "display_name"};
	sqlite3 *db = mcc_db(rq->c);
	json_t *doc = mcc_req_json(rq, rs), *u = NULL;
	const char *name, *pw;
	char *norm = NULL;
	struct mc_error err;
	long roles;
	int64_t id = 0;
	sqlite3_stmt *st;

	if (!doc)
		return;
	if (!db) {
		db_error(rs);
		goto out;
	}
	if (!only_keys(doc, keys, MC_ARRAY_LEN(keys), rs) ||
	    !(name = get_str(doc, "name", true, 64, rs)) ||
	    !(pw = get_str(doc, "password", true, PASSWORD_MAX, rs)) ||
	    (roles = get_roles(doc, rs)) < 0)
		goto out;
	if (!get_display_name(doc, &norm, rs))
		goto out;
	if (mcc_db_begin(db) != MC_OK) {
		db_error(rs);
		goto out;
	}
	if (mcc_user_create(rq->c, name, pw, (unsigned)roles, &id, &err) !=
	    MC_OK) {
		mcc_db_rollback(db);
		mcc_resp_mc_error(rs, &err);
		goto out;
	}
	if (norm) {
		st = mcc_db_prepare(db, "UPDATE users SET display_name = ? "
		                        "WHERE id = ?");
		if (!st)
			goto dbfail;
		sqlite3_bind_text(st, 1, norm, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, id);
		if (sqlite3_step(st) != SQLITE_DONE) {
			mcc_db_done(st);
			goto dbfail;
		}
		mcc_db_done(st);
	}
	u = user_json(db, id);
	if (!u ||
	    mcc_audit(db, &rq->who, "user.create", "user", name, NULL, u) !=
	            MC_OK ||
	    mcc_db_commit(db) != MC_OK)
		goto dbfail;
	mc_log_info("auth", "'%s' created user '%s'", rq->who.name, name);
	mcc_resp_json(rs, 201, u);
	u = NULL;
	goto out;
dbfail:
	mcc_db_rollback(db);
	db_error(rs);
out:
	json_decref(u);
	free(norm);
	json_decref(doc);
}

/* Enabled admins other than id. */
static int64_t other_admins(sqlite3 *db, int64_t id)
{
	sqlite3_stmt *st = mcc_db_prepare(
	        db, "SELECT count(*) FROM users WHERE id != ? AND disabled = 0 "
	            "AND (roles & 8) != 0");
	int64_t n = 0;

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	mcc_db_done(st);
	return n;
}

static bool exec_bind(sqlite3 *db, const char *sql, int64_t id,
                      const char *text, int64_t num)
{
	sqlite3_stmt *st = mcc_db_prepare(db, sql);
	int step;

	if (!st)
		return false;
	if (text)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(st, 1, num);
	sqlite3_bind_int64(st, 2, mc_now_ms());
	sqlite3_bind_int64(st, 3, id);
	step = sqlite3_step(st);
	mcc_db_done(st);
	return step == SQLITE_DONE;
}

static bool end_sessions(sqlite3 *db, int64_t user_id)
{
	sqlite3_stmt *st =
	        mcc_db_prepare(db, "DELETE FROM sessions WHERE user_id = ?");
	int step;

	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, user_id);
	step = sqlite3_step(st);
	mcc_db_done(st);
	return step == SQLITE_DONE;
}

static void h_users_patch(struct mcc_req *rq, struct mcc_resp *rs)
{
	static const char *const keys[] = {"roles", "password", "disabled",
	                                   "display_name"};
	sqlite3 *db = mcc_db(rq->c);
	json_t *doc = mcc_req_json(rq, rs), *before = NULL, *after = NULL, *v;
	const char *name = rq->params[0], *pw = NULL;
	char hash[crypto_pwhash_STRBYTES], *norm = NULL;
	struct mc_error err;
	bool admin = rq->who.roles & MCC_ROLE_ADMIN;
	long roles = -1;
	int disabled = -1;
	int64_t id;

	if (!doc)
		return;
	if (!db) {
		db_error(rs);
		goto out;
	}
	if (!only_keys(doc, keys, MC_ARRAY_LEN(keys), rs))
		goto out;
	id = mcc_user_id(rq->c, name);
	if (!admin && (id != rq->who.user_id || json_object_get(doc, "roles") ||
	               json_object_get(doc, "disabled"))) {
		mcc_resp_error(
		        rs, 403, NULL,
		        "chỉ quản trị viên được sửa người khác, vai trò, "
		        "khóa tài khoản / only an admin may change other "
		        "users, roles or disabled");
		goto out;
	}
	if (!id) {
		mcc_resp_error(rs, 404, NULL,
		               "không có người dùng '%s' / no such user", name);
		goto out;
	}
	if (json_object_get(doc, "roles") && (roles = get_roles(doc, rs)) < 0)
		goto out;
	if ((v = json_object_get(doc, "disabled"))) {
		if (!json_is_boolean(v)) {
			mcc_resp_error(
			        rs, 400, "disabled",
			        "disabled: phải là true/false / must be a "
			        "boolean");
			goto out;
		}
		disabled = json_is_true(v);
	}
	if (json_object_get(doc, "password")) {
		if (!(pw = get_str(doc, "password", true, PASSWORD_MAX, rs)))
			goto out;
		if (check_password(pw, "password", &err) != MC_OK) {
			mcc_resp_mc_error(rs, &err);
			goto out;
		}
	}
	if (!get_display_name(doc, &norm, rs))
		goto out;
	if (pw && hash_password(pw, hash, &err) != MC_OK) {
		mcc_resp_mc_error(rs, &err);
		goto out;
	}
	if (mcc_db_begin(db) != MC_OK) {
		db_error(rs);
		goto out;
	}
	before = user_json(db, id);
	if (!before)
		goto dbfail;
	/* The last admin may not lock everyone out. */
	if (((roles >= 0 && !(roles & MCC_ROLE_ADMIN)) || disabled == 1) &&
	    json_is_true(json_object_get(before, "disabled")) == 0 &&
	    other_admins(db, id) == 0) {
		json_t *r = json_object_get(before, "roles");
		size_t i;
		bool was_admin = false;

		json_array_foreach(r, i, v) was_admin =
		        was_admin || strcmp(json_string_value(v), "admin") == 0;
		if (was_admin) {
			mcc_db_rollback(db);
			mcc_resp_error(rs, 409,
			               roles >= 0 ? "roles" : "disabled",
			               "không thể bỏ quản trị viên cuối cùng / "
			               "cannot remove the last admin");
			goto out;
		}
	}
	if ((roles >= 0 && !exec_bind(db,
	                              "UPDATE users SET roles = ?, updated_ms "
	                              "= ? WHERE id = ?",
	                              id, NULL, roles)) ||
	    (disabled >= 0 &&
	     !exec_bind(db,
	                "UPDATE users SET disabled = ?, updated_ms = ? WHERE "
	                "id = ?",
	                id, NULL, disabled)) ||
	    (norm && !exec_bind(db,
	                        "UPDATE users SET display_name = ?, "
	                        "updated_ms = ? WHERE id = ?",
	                        id, norm, 0)) ||
	    (pw &&
	     !exec_bind(db,
	                "UPDATE users SET password_hash = ?, updated_ms = "
	                "? WHERE id = ?",
	                id, hash, 0)))
		goto dbfail;
	/* A new password or a locked account ends its sessions. */
	if ((pw || disabled == 1) && !end_sessions(db, id))
		goto dbfail;
	after = user_json(db, id);
	if (after && pw)
		json_object_set_new(after, "password_changed", json_true());
	if (!after ||
	    mcc_audit(db, &rq->who, "user.update", "user", name, before,
	              after) != MC_OK ||
	    mcc_db_commit(db) != MC_OK)
		goto dbfail;
	json_object_del(after, "password_changed");
	mcc_resp_json(rs, 200, after);
	after = NULL;
	goto out;
dbfail:
	mcc_db_rollback(db);
	db_error(rs);
out:
	sodium_memzero(hash, sizeof(hash));
	json_decref(before);
	json_decref(after);
	free(norm);
	json_decref(doc);
}

static void h_tokens_list(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	sqlite3_stmt *st =
	        db ? mcc_db_prepare(db, "SELECT id, name, prefix, created_ms, "
	                                "last_used_ms, expires_ms FROM "
	                                "api_tokens WHERE user_id = ? ORDER BY "
	                                "id")
	           : NULL;
	json_t *items;

	if (!st) {
		db_error(rs);
		return;
	}
	sqlite3_bind_int64(st, 1, rq->who.user_id);
	items = mcc_db_rows(st);
	mcc_db_done(st);
	if (!items) {
		db_error(rs);
		return;
	}
	mcc_resp_json(rs, 200, json_pack("{s:o}", "items", items));
}

static void h_tokens_create(struct mcc_req *rq, struct mcc_resp *rs)
{
	static const char *const keys[] = {"name", "user", "expires_days"};
	sqlite3 *db = mcc_db(rq->c);
	json_t *doc = NULL, *v, *after = NULL;
	const char *tname = "", *uname = NULL;
	char token[MCC_TOKEN_SIZE], *norm = NULL;
	struct mc_error err;
	int64_t uid = rq->who.user_id, id = 0, expires = 0;

	memset(token, 0, sizeof(token));
	/* An empty body asks for an unnamed token. */
	if (rq->body_len > 0 && !(doc = mcc_req_json(rq, rs)))
		return;
	if (!db) {
		db_error(rs);
		goto out;
	}
	if (doc) {
		if (!only_keys(doc, keys, MC_ARRAY_LEN(keys), rs))
			goto out;
		if (json_object_get(doc, "name")) {
			if (!(tname = get_str(doc, "name", true,
			                      NAME_TEXT_MAX * 4, rs)))
				goto out;
			if (mc_text_normalize(tname, strlen(tname),
			                      NAME_TEXT_MAX, "name", &norm,
			                      &err) != MC_OK) {
				mcc_resp_mc_error(rs, &err);
				goto out;
			}
			tname = norm;
		}
		if (json_object_get(doc, "user") &&
		    !(uname = get_str(doc, "user", true, 64, rs)))
			goto out;
		if ((v = json_object_get(doc, "expires_days"))) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 3650) {
				mcc_resp_error(rs, 400, "expires_days",
				               "expires_days: từ 1 đến 3650 / "
				               "must be an integer 1 to 3650");
				goto out;
			}
			expires = mc_now_ms() +
			          json_integer_value(v) * 86400000LL;
		}
	}
	if (uname && strcmp(uname, rq->who.name) != 0) {
		if (!(rq->who.roles & MCC_ROLE_ADMIN)) {
			mcc_resp_error(
			        rs, 403, "user",
			        "user: chỉ quản trị viên cấp mã cho người "
			        "khác / only an admin may make tokens for "
			        "others");
			goto out;
		}
		uid = mcc_user_id(rq->c, uname);
		if (!uid) {
			mcc_resp_error(
			        rs, 404, "user",
			        "user: không có người dùng '%s' / no such "
			        "user",
			        uname);
			goto out;
		}
	}
	if (mcc_db_begin(db) != MC_OK) {
		db_error(rs);
		goto out;
	}
	if (mcc_token_create(rq->c, uid, tname, expires, token, &id, &err) !=
	    MC_OK)
		goto dbfail;
	after = json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)id, "name",
	                  tname, "user", uname ? uname : rq->who.name,
	                  "expires_ms", (json_int_t)expires);
	if (!after ||
	    mcc_audit(db, &rq->who, "token.create", "token", NULL, NULL,
	              after) != MC_OK ||
	    mcc_db_commit(db) != MC_OK)
		goto dbfail;
	json_object_set_new(after, "token", json_string(token));
	if (!expires)
		json_object_set_new(after, "expires_ms", json_null());
	mcc_resp_json(rs, 201, after);
	after = NULL;
	goto out;
dbfail:
	mcc_db_rollback(db);
	db_error(rs);
out:
	sodium_memzero(token, sizeof(token));
	json_decref(after);
	free(norm);
	json_decref(doc);
}

static void h_tokens_delete(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	sqlite3_stmt *st;
	char *end;
	long long id = strtoll(rq->params[0], &end, 10);
	int64_t owner = 0;
	json_t *before;
	char ids[32];

	if (*end || id <= 0) {
		mcc_resp_error(rs, 400, "id",
		               "id: phải là số / must be a number");
		return;
	}
	if (!db || mcc_db_begin(db) != MC_OK) {
		db_error(rs);
		return;
	}
	st = mcc_db_prepare(db, "SELECT user_id FROM api_tokens WHERE id = ?");
	if (!st)
		goto dbfail;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		owner = sqlite3_column_int64(st, 0);
	mcc_db_done(st);
	if (!owner ||
	    (owner != rq->who.user_id && !(rq->who.roles & MCC_ROLE_ADMIN))) {
		mcc_db_rollback(db);
		mcc_resp_error(rs, 404, NULL,
		               "không có mã truy cập %lld / no such token", id);
		return;
	}
	st = mcc_db_prepare(db, "DELETE FROM api_tokens WHERE id = ?");
	if (!st)
		goto dbfail;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		mcc_db_done(st);
		goto dbfail;
	}
	mcc_db_done(st);
	snprintf(ids, sizeof(ids), "%lld", id);
	before = json_pack("{s:I, s:I}", "id", (json_int_t)id, "user_id",
	                   (json_int_t)owner);
	if (mcc_audit(db, &rq->who, "token.delete", "token", ids, before,
	              NULL) != MC_OK) {
		json_decref(before);
		goto dbfail;
	}
	json_decref(before);
	if (mcc_db_commit(db) != MC_OK)
		goto dbfail;
	mcc_resp_json(rs, 200,
	              json_pack("{s:b, s:I}", "ok", 1, "id", (json_int_t)id));
	return;
dbfail:
	mcc_db_rollback(db);
	db_error(rs);
}

static void h_info(struct mcc_req *rq, struct mcc_resp *rs)
{
	struct mcc *c = rq->c;
	int64_t users = mcc_user_count(c);

	mcc_resp_json(rs, 200,
	              json_pack("{s:s, s:s?, s:b, s:I, s:I, s:s?}", "version",
	                        MC_VERSION, "kid",
	                        c->have_key ? c->key.kid : NULL, "first_run",
	                        users == 0, "time_ms", (json_int_t)mc_now_ms(),
	                        "started_ms", (json_int_t)c->started_ms,
	                        "public_url", c->cfg.public_url));
}

static void h_backup(struct mcc_req *rq, struct mcc_resp *rs)
{
	struct mcc *c = rq->c;
	sqlite3 *db = mcc_db(c);
	struct mc_error err;
	char *path = mc_printf("%s/backup-XXXXXX", c->tmp_dir);
	char disp[128], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int fd;

	if (!path || !db) {
		free(path);
		db_error(rs);
		return;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		free(path);
		db_error(rs);
		return;
	}
	close(fd);
	unlink(path); /* mcc_db_backup creates it afresh, mode 0600 */
	if (mcc_db_backup(c, path, NULL, NULL, &err) != MC_OK) {
		mc_log_error("backup", "backup failed: %s", err.msg);
		unlink(path);
		free(path);
		mcc_resp_error(rs, 500, NULL,
		               "sao lưu thất bại / backup failed: %s", err.msg);
		return;
	}
	if (mcc_db_begin(db) != MC_OK ||
	    mcc_audit(db, &rq->who, "backup.create", "database", NULL, NULL,
	              NULL) != MC_OK ||
	    mcc_db_commit(db) != MC_OK) {
		mcc_db_rollback(db);
		unlink(path);
		free(path);
		db_error(rs);
		return;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(disp, sizeof(disp), "attachment; filename=\"minecast-%s.db\"",
	         stamp);
	mcc_resp_header(rs, "Content-Disposition", disp);
	/* The open descriptor keeps the bytes after the name is gone. */
	mcc_resp_file(rs, path, "application/vnd.sqlite3", NULL, false);
	unlink(path);
	free(path);
	mc_log_info("backup", "'%s' downloaded a database backup",
	            rq->who.name);
}

const struct mcc_route mcc_auth_routes[] = {
        {"POST", "/v1/auth/login", 0, 64 * 1024, MCC_NO_CSRF, h_login},
        {"POST", "/v1/auth/logout", MCC_ROLE_ANY_USER, 0, 0, h_logout},
        {"GET", "/v1/auth/me", MCC_ROLE_ANY_USER | MCC_ROLE_NODE, 0, 0, h_me},
        {"GET", "/v1/users", MCC_ROLE_ADMIN, 0, 0, h_users_list},
        {"POST", "/v1/users", MCC_ROLE_ADMIN, 64 * 1024, 0, h_users_create},
        {"PATCH", "/v1/users/{}", MCC_ROLE_ANY_USER, 64 * 1024, 0,
         h_users_patch},
        {"GET", "/v1/tokens", MCC_ROLE_ANY_USER, 0, 0, h_tokens_list},
        {"POST", "/v1/tokens", MCC_ROLE_ANY_USER, 64 * 1024, 0,
         h_tokens_create},
        {"DELETE", "/v1/tokens/{}", MCC_ROLE_ANY_USER, 0, 0, h_tokens_delete},
        {"GET", "/v1/info", 0, 0, 0, h_info},
        {"POST", "/v1/backup", MCC_ROLE_ADMIN, 0, 0, h_backup},
        {NULL, NULL, 0, 0, 0, NULL},
};
