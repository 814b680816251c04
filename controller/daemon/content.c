/*
 * The content library (content.h): slogans, images, audio and speech.
 *
 * Every item is stored as its manifest form (docs/manifest.md §5) in
 * content.doc_json, so that publishing copies it as it is.  Before
 * anything is stored an item is checked by the same codec the nodes run:
 * it is wrapped in a minimal manifest (with the image its slogan draws
 * behind, if any) and parsed, so that a field error here is exactly the
 * error a node would give, named by its path inside the item
 * ("style.fg").  Uploaded files are decoded and measured first (media.h)
 * and stored in the blob store in the same transaction as their row; a
 * refused request leaves neither a row nor a file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/text.h"
#include "minecast/util.h"

#include "audit.h"
#include "blob.h"
#include "content.h"
#include "db.h"
#include "http.h"
#include "mcc.h"
#include "media.h"
#include "workflow.h"

/* Largest JSON body of POST and PUT /v1/content. */
#define CONTENT_MAX_BODY (64 * 1024)
/* Text and name limits of docs/manifest.md §5.1. */
#define TEXT_MAX       4000
#define NAME_MAX_BYTES 256
/* Listing: default and largest page. */
#define LIST_DEFAULT 100
#define LIST_MAX     1000
/* Previews: default size, largest side, and how long a render may take. */
#define PREVIEW_W          960
#define PREVIEW_H          540
#define PREVIEW_MAX_SIDE   3840
#define PREVIEW_TIMEOUT_MS 30000

extern char **environ;

static const char *const types[] = {"slogan", "image", "audio", "speech", NULL};
static const char *const statuses[] = {"draft", "submitted", "approved",
                                       "rejected", NULL};
static const char *const status_vi[] = {"bản nháp", "chờ duyệt", "đã duyệt",
                                        "bị từ chối"};

static bool in_list(const char *s, const char *const *list)
{
	for (; s && *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static bool flag(const char *v)
{
	return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
	             strcmp(v, "yes") == 0);
}

/* 64 lower-case hex digits: the URL of a blob, never a content id. */
static bool sha_like(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') ||
		      (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

/* Check an id for a new item; answers 400 and returns false if bad. */
static bool id_ok(const char *id, struct mcc_resp *rs)
{
	if (!id || !*id) {
		mcc_resp_error(rs, 400, "id", "id: bắt buộc / required");
		return false;
	}
	if (!mc_id_valid(id)) {
		mcc_resp_error(
		        rs, 400, "id",
		        "id: chỉ gồm 1–64 ký tự A-Z a-z 0-9 . _ - / must "
		        "be 1 to 64 characters of [A-Za-z0-9._-]");
		return false;
	}
	if (sha_like(id)) {
		mcc_resp_error(
		        rs, 400, "id",
		        "id: không được giống mã SHA-256 / must not look "
		        "like a SHA-256 (64 hex digits name files)");
		return false;
	}
	return true;
}

/*
 * NFC-normalise a text value in place in obj (key must be a string when
 * present); answers 400 naming the field and returns false on error.
 */
static bool norm_text(json_t *obj, const char *key, size_t max,
                      struct mcc_resp *rs)
{
	json_t *v = json_object_get(obj, key);
	struct mc_error err = {0};
	char *out = NULL;

	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		mcc_resp_error(rs, 400, key,
		               "%s: phải là chuỗi / must be a string", key);
		return false;
	}
	if (mc_text_normalize(json_string_value(v), json_string_length(v), max,
	                      key, &out, &err) != MC_OK) {
		const char *why = err.msg;

		if (strncmp(why, key, strlen(key)) == 0 &&
		    strncmp(why + strlen(key), ": ", 2) == 0)
			why += strlen(key) + 2;
		mcc_resp_error(rs, mcc_http_status_of(err.code), key,
		               "%s: văn bản không hợp lệ / %s", key, why);
		return false;
	}
	json_object_set_new(obj, key, json_string(out));
	free(out);
	return true;
}

/* ---- validation through the codec ---------------------------------- */

/*
 * Answer a codec error about the wrapped item: "content[0].style.fg:
 * reason" becomes field "style.fg"; an error inside the background image
 * (content[1]) is the slogan's style.bg_image.
 */
static void codec_error(struct mcc_resp *rs, const struct mc_error *e)
{
	const char *m = e->msg, *colon;
	char field[96];
	int status = mcc_http_status_of(e->code);

	if (status >= 500)
		status = 400;
	if (strncmp(m, "content[0].", 11) == 0) {
		m += 11;
	} else if (strncmp(m, "content[", 8) == 0) {
		mcc_resp_error(rs, status, "style.bg_image",
		               "style.bg_image: ảnh nền không hợp lệ / the "
		               "background image is not valid: %s",
		               m);
		return;
	}
	colon = strstr(m, ": ");
	if (!colon || (size_t)(colon - m) >= sizeof(field)) {
		mcc_resp_error(rs, status, NULL, "nội dung không hợp lệ / %s",
		               m);
		return;
	}
	snprintf(field, sizeof(field), "%.*s", (int)(colon - m), m);
	mcc_resp_error(rs, status, field, "%s: không hợp lệ / %s", field,
	               colon + 2);
}

/*
 * Check doc (an item in manifest form) by parsing it inside a minimal
 * manifest, with the image its style.bg_image names (current revision)
 * so that the reference resolves.  Answers and returns false on error.
 */
static bool validate(sqlite3 *db, json_t *doc, struct mcc_resp *rs)
{
	json_t *man = json_pack("{s:s, s:[O]}", "format", "minecast-manifest/1",
	                        "content", doc);
	json_t *style = json_object_get(doc, "style");
	const char *bg = json_string_value(json_object_get(style, "bg_image"));
	const char *id = json_string_value(json_object_get(doc, "id"));
	struct mc_manifest *m = NULL;
	struct mc_error err = {0};
	char *text;
	bool ok = false;

	if (!man)
		goto nomem;
	if (bg && id && strcmp(bg, id) != 0) {
		json_t *img = mcc_wf_doc(db, MCC_KIND_CONTENT, bg, false);

		if (img)
			json_array_append_new(json_object_get(man, "content"),
			                      img);
	}
	text = json_dumps(man, JSON_COMPACT);
	if (!text)
		goto nomem;
	if (mc_manifest_parse(text, strlen(text), MC_DOC_MANIFEST, &m, &err) !=
	    MC_OK)
		codec_error(rs, &err);
	else
		ok = true;
	free(text);
	mc_manifest_free(m);
	json_decref(man);
	return ok;
nomem:
	json_decref(man);
	mcc_resp_error(rs, 500, NULL, "hết bộ nhớ / out of memory");
	return false;
}

/*
 * Refuse members of obj not in keys (a typo must not pass silently);
 * prefix names obj in the field ("" or "style.").  Answers 400.
 */
static bool known_members(json_t *obj, const char *const *keys,
                          const char *prefix, struct mcc_resp *rs)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
	{
		size_t i;

		for (i = 0; keys[i] && strcmp(k, keys[i]) != 0; i++)
			;
		if (!keys[i]) {
			char field[128];

			snprintf(field, sizeof(field), "%s%.64s", prefix, k);
			mcc_resp_error(
			        rs, 400, field,
			        "%s: trường không xác định / unknown field",
			        field);
			return false;
		}
	}
	return true;
}

/* The JSON members POST and PUT /v1/content take. */
static const char *const body_keys[] = {
        "id",  "type",        "name",     "text",   "style",
        "fit", "duration_ms", "generate", "submit", NULL};

/* Keep only the style fields of §5.2 (others are refused before). */
static const char *const style_keys[] = {
        "font", "fg", "bg", "bg_image", "align", "effect", "ticker", NULL};

static json_t *clean_style(json_t *style)
{
	const char *const *keys = style_keys;
	json_t *out;

	if (!json_is_object(style))
		return json_incref(style);
	out = json_object();
	for (size_t i = 0; out && keys[i]; i++) {
		json_t *v = json_object_get(style, keys[i]);

		if (v && !json_is_null(v))
			json_object_set(out, keys[i], v);
	}
	return out;
}

/* ---- common responses ---------------------------------------------- */

/* Answer with the item as GET /v1/content/{id} shows it. */
static void respond_view(struct mcc_req *rq, struct mcc_resp *rs, int status,
                         const char *id)
{
	json_t *v = mcc_wf_view(mcc_db(rq->c), MCC_KIND_CONTENT, id);

	if (!v) {
		mcc_resp_error(rs, 404, NULL,
		               "không có nội dung '%s' / no content '%s'", id,
		               id);
		return;
	}
	mcc_resp_json(rs, status, v);
}

/* A database step that must finish; false (logged) otherwise. */
static bool step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		mc_log_error("content", "database: %s", sqlite3_errstr(rc));
	mcc_db_done(st);
	return rc == SQLITE_DONE;
}

static bool set_meta(sqlite3 *db, const char *id, json_t *meta)
{
	sqlite3_stmt *st =
	        mcc_db_prepare(db, "UPDATE content SET meta_json = ? "
	                           "WHERE id = ?");
	char *text =
	        meta ? json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	bool ok;

	if (!st) {
		free(text);
		return false;
	}
	if (text)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
	ok = step_done(st);
	free(text);
	return ok;
}

/* The current meta_json of an item (new reference; NULL when none). */
static json_t *get_meta(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = mcc_db_prepare(
	        db, "SELECT meta_json FROM content WHERE id = ? AND "
	            "deleted = 0");
	json_t *meta = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) == SQLITE_TEXT)
		meta = json_loads((const char *)sqlite3_column_text(st, 0), 0,
		                  NULL);
	mcc_db_done(st);
	return meta;
}

/* Is there a live item with this id? */
static bool exists(sqlite3 *db, const char *id)
{
	json_t *d = mcc_wf_doc(db, MCC_KIND_CONTENT, id, false);
	bool yes = d != NULL;

	json_decref(d);
	return yes;
}

/* ---- storing a file ------------------------------------------------ */

/* What a file became once stored: its doc fields and its meta. */
struct stored {
	char sha256[65];
	int64_t size;
	bool existed; /* the blob was in the store before */
	struct mcc_media_info info;
};

/*
 * Store path as a blob inside the open transaction.  On a later failure
 * unstore() removes a file this call added.
 */
static bool store(struct mcc *c, sqlite3 *db, const char *path,
                  struct stored *s, struct mcc_resp *rs)
{
	struct mc_error err = {0};
	char sha[65];

	/* The hash first, to know whether the file is new to the store. */
	{
		unsigned char h[crypto_hash_sha256_BYTES];
		crypto_hash_sha256_state hs;
		unsigned char buf[65536];
		size_t n;
		FILE *f = fopen(path, "rb");

		if (!f) {
			mcc_resp_error(rs, 500, NULL,
			               "không đọc được tệp tải lên / cannot "
			               "read the upload");
			return false;
		}
		crypto_hash_sha256_init(&hs);
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			crypto_hash_sha256_update(&hs, buf, n);
		fclose(f);
		crypto_hash_sha256_final(&hs, h);
		sodium_bin2hex(sha, sizeof(sha), h, sizeof(h));
	}
	s->existed = mcc_blob_exists(c, sha);
	if (mcc_blob_put_file(c, db, path, s->info.mime, s->sha256, &s->size,
	                      &err) != MC_OK) {
		mcc_resp_error(rs, 500, NULL,
		               "không lưu được tệp / cannot store the file: %s",
		               err.msg);
		return false;
	}
	return true;
}

/* Undo store() of a file that was new (the transaction is rolled back). */
static void unstore(struct mcc *c, const struct stored *s)
{
	char path[4096];

	if (s->existed || !s->sha256[0])
		return;
	mcc_blob_path(c, s->sha256, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		mc_log_warn("content", "removing unused blob %s: %s", path,
		            strerror(errno));
}

/* Probe an uploaded file of type image|audio; answers 400/415/422. */
static bool probe(const char *type, const char *path,
                  struct mcc_media_info *info, struct mcc_resp *rs)
{
	struct mc_error err = {0};
	enum mc_err rc;

	rc = strcmp(type, "image") == 0
	             ? mcc_media_probe_image(path, info, &err)
	             : mcc_media_probe_audio(path, info, &err);
	if (rc == MC_OK)
		return true;
	mcc_resp_error(rs,
	               rc == MC_ERR_UNSUPPORTED ? 415
	               : rc == MC_ERR_MEDIA     ? 422
	                                        : 500,
	               "file", "%s", err.msg);
	return false;
}

/* What was measured of a stored file into meta (image or audio). */
static void measured(json_t *meta, const char *type, const struct stored *s)
{
	if (strcmp(type, "image") == 0) {
		json_object_set_new(meta, "width", json_integer(s->info.width));
		json_object_set_new(meta, "height",
		                    json_integer(s->info.height));
		return;
	}
	json_object_set_new(meta, "lufs", json_real(s->info.lufs));
	json_object_set_new(meta, "channels", json_integer(s->info.channels));
	json_object_set_new(meta, "rate", json_integer(s->info.rate));
}

/* The doc and meta fields of a stored file (image or audio). */
static void file_fields(json_t *doc, json_t *meta, const char *type,
                        const struct stored *s)
{
	char url[96];

	snprintf(url, sizeof(url), "/v1/content/%s", s->sha256);
	json_object_set_new(doc, "sha256", json_string(s->sha256));
	json_object_set_new(doc, "size", json_integer(s->size));
	json_object_set_new(doc, "url", json_string(url));
	json_object_set_new(doc, "mime", json_string(s->info.mime));
	measured(meta, type, s);
	if (strcmp(type, "audio") == 0) {
		json_object_set_new(doc, "duration_ms",
		                    json_integer(s->info.duration_ms));
		json_object_set_new(doc, "gain_db", json_real(s->info.gain_db));
	}
}

/* Keep what was measured of s with its blob (in the open transaction). */
static bool set_blob_meta(sqlite3 *db, const char *type, const struct stored *s)
{
	json_t *meta = json_object();
	char *text = NULL;
	sqlite3_stmt *st;
	bool ok = false;

	if (!meta)
		return false;
	measured(meta, type, s);
	text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
	st = mcc_db_prepare(db,
	                    "UPDATE blobs SET meta_json = ? WHERE sha256 = ?");
	if (text && st) {
		sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, s->sha256, -1, SQLITE_TRANSIENT);
		ok = step_done(st);
	} else if (st) {
		mcc_db_done(st);
	}
	free(text);
	json_decref(meta);
	return ok;
}

enum mc_err mcc_content_meta_from_blobs(sqlite3 *db, json_t *content)
{
	sqlite3_stmt *st = mcc_db_prepare(
	        db, "UPDATE content SET meta_json = (SELECT meta_json FROM "
	            "blobs WHERE sha256 = ?2) WHERE id = ?1 AND deleted = 0 "
	            "AND EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?2 AND "
	            "meta_json IS NOT NULL)");
	size_t i;
	json_t *c;
	bool ok = st != NULL;

	json_array_foreach(content, i, c)
	{
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *sha =
		        json_string_value(json_object_get(c, "sha256"));

		if (!ok || !id || !sha)
			continue;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, sha, -1, SQLITE_TRANSIENT);
		ok = sqlite3_step(st) == SQLITE_DONE;
		sqlite3_reset(st);
	}
	if (st)
		mcc_db_done(st);
	return ok ? MC_OK : MC_ERR_IO;
}

/* Open the request's transaction; answers 500 and returns false when the
 * database is busy. */
static bool begin_tx(sqlite3 *db, struct mcc_resp *rs)
{
	if (mcc_db_begin(db) != MC_OK) {
		mcc_resp_error(rs, 500, NULL,
		               "cơ sở dữ liệu bận / database busy");
		return false;
	}
	return true;
}

/*
 * How a create, an edit or an upload ends: doc saved through the
 * workflow (create: a new item; submit: for approval), meta stored
 * unless NULL, the commit.  Answers the error and returns false
 * otherwise (the caller rolls back).
 */
static bool save_commit(struct mcc_req *rq, sqlite3 *db, const char *id,
                        json_t *doc, json_t *meta, bool create, bool submit,
                        struct mcc_resp *rs)
{
	struct mc_error err = {0};

	if (mcc_wf_save(db, &rq->who, MCC_KIND_CONTENT, id, doc, create, submit,
	                &err) != MC_OK) {
		mcc_resp_mc_error(rs, &err);
		return false;
	}
	if ((meta && !set_meta(db, id, meta)) || mcc_db_commit(db) != MC_OK) {
		mcc_resp_db_error(rs);
		return false;
	}
	return true;
}

/* ---- POST /v1/blobs?type=image|audio -------------------------------- */

static void h_blob(struct mcc_req *rq, struct mcc_resp *rs)
{
	const char *type = mcc_req_query(rq, "type");
	sqlite3 *db = mcc_db(rq->c);
	struct stored s = {0};
	json_t *out = NULL;

	if (!type ||
	    (strcmp(type, "image") != 0 && strcmp(type, "audio") != 0)) {
		mcc_resp_error(rs, 400, "type",
		               "type: phải là image hoặc audio / must be image "
		               "or audio");
		return;
	}
	if (!rq->body_path || rq->body_len == 0) {
		mcc_resp_error(
		        rs, 400, "body",
		        "body: trống, cần nội dung tệp / empty: send the "
		        "file as the body");
		return;
	}
	if (!probe(type, rq->body_path, &s.info, rs))
		return;
	if (!begin_tx(db, rs))
		return;
	if (!store(rq->c, db, rq->body_path, &s, rs))
		goto fail;
	if (!set_blob_meta(db, type, &s)) {
		mcc_resp_db_error(rs);
		goto fail;
	}
	out = json_pack("{s:s, s:I, s:s}", "sha256", s.sha256, "size",
	                (json_int_t)s.size, "mime", s.info.mime);
	if (strcmp(type, "image") == 0) {
		json_object_set_new(out, "width", json_integer(s.info.width));
		json_object_set_new(out, "height", json_integer(s.info.height));
	} else {
		json_object_set_new(out, "duration_ms",
		                    json_integer(s.info.duration_ms));
		json_object_set_new(out, "lufs", json_real(s.info.lufs));
		json_object_set_new(out, "gain_db", json_real(s.info.gain_db));
	}
	if (mcc_audit(db, &rq->who, "blob.put", "blob", s.sha256, NULL, out) !=
	            MC_OK ||
	    mcc_db_commit(db) != MC_OK) {
		mcc_resp_db_error(rs);
		goto fail;
	}
	mc_log_info("content", "%s stored blob %s (%s, %lld bytes)",
	            rq->who.name, s.sha256, s.info.mime, (long long)s.size);
	mcc_resp_json(rs, s.existed ? 200 : 201, out);
	return;
fail:
	json_decref(out);
	mcc_db_rollback(db);
	unstore(rq->c, &s);
}

/* ---- POST /v1/content/upload ---------------------------------------- */

/*
 * ?id=&type=image|audio&name=&fit=&text=&submit=1 with the file as the
 * body; ?replace=1 replaces the file of an existing item (its other
 * fields kept unless given).
 */
static void h_upload(struct mcc_req *rq, struct mcc_resp *rs)
{
	const char *id = mcc_req_query(rq, "id");
	const char *type = mcc_req_query(rq, "type");
	const char *fit = mcc_req_query(rq, "fit");
	bool replace = flag(mcc_req_query(rq, "replace"));
	bool submit = flag(mcc_req_query(rq, "submit"));
	sqlite3 *db = mcc_db(rq->c);
	struct stored s = {0};
	json_t *doc = NULL, *meta = NULL, *given = json_object();
	const char *name;
	const char *old_type = NULL;
	bool in_tx = false;

	if (!given) {
		mcc_resp_error(rs, 500, NULL, "hết bộ nhớ / out of memory");
		return;
	}
	if (!replace && !id_ok(id, rs))
		goto out;
	if (replace && (!id || !mc_id_valid(id))) {
		mcc_resp_error(rs, 400, "id",
		               "id: thiếu hoặc không hợp lệ / missing or "
		               "invalid");
		goto out;
	}
	if (type && strcmp(type, "image") != 0 && strcmp(type, "audio") != 0) {
		mcc_resp_error(
		        rs, 400, "type",
		        "type: tải tệp chỉ cho image hoặc audio / uploads "
		        "are image or audio (slogans and speech: POST "
		        "/v1/content)");
		goto out;
	}
	if (!type && !replace) {
		mcc_resp_error(rs, 400, "type",
		               "type: bắt buộc (image hoặc audio) / required "
		               "(image or audio)");
		goto out;
	}
	/* Query values are text like any other. */
	if (mcc_req_query(rq, "name"))
		json_object_set_new(
		        given, "name",
		        json_string_nocheck(mcc_req_query(rq, "name")));
	if (mcc_req_query(rq, "text"))
		json_object_set_new(
		        given, "text",
		        json_string_nocheck(mcc_req_query(rq, "text")));
	if (!norm_text(given, "name", NAME_MAX_BYTES, rs) ||
	    !norm_text(given, "text", TEXT_MAX, rs))
		goto out;
	if (replace) {
		doc = mcc_wf_doc(db, MCC_KIND_CONTENT, id, false);
		if (!doc) {
			mcc_resp_error(
			        rs, 404, NULL,
			        "không có nội dung '%s' / no content '%s'", id,
			        id);
			goto out;
		}
		old_type = json_string_value(json_object_get(doc, "type"));
		if (!old_type || (strcmp(old_type, "image") != 0 &&
		                  strcmp(old_type, "audio") != 0)) {
			mcc_resp_error(rs, 409, "type",
			               "type: nội dung '%s' không phải tệp / "
			               "content '%s' is not an image or audio "
			               "item",
			               id, id);
			goto out;
		}
		if (type && strcmp(type, old_type) != 0) {
			mcc_resp_error(rs, 409, "type",
			               "type: nội dung '%s' là %s / content "
			               "'%s' is %s",
			               id, old_type, id, old_type);
			goto out;
		}
		type = old_type;
		meta = get_meta(db, id);
	} else {
		doc = json_pack("{s:s, s:s, s:s}", "id", id, "type", type,
		                "name", "");
	}
	if (!meta)
		meta = json_object();
	if (!doc || !meta) {
		mcc_resp_error(rs, 500, NULL, "hết bộ nhớ / out of memory");
		goto out;
	}
	name = json_string_value(json_object_get(given, "name"));
	if (name)
		json_object_set_new(doc, "name", json_string(name));
	if (fit) {
		if (strcmp(type, "image") != 0) {
			mcc_resp_error(
			        rs, 400, "fit",
			        "fit: chỉ dùng cho ảnh / only for images");
			goto out;
		}
		json_object_set_new(doc, "fit", json_string(fit));
	}
	if (json_object_get(given, "text")) {
		if (strcmp(type, "audio") != 0) {
			mcc_resp_error(
			        rs, 400, "text",
			        "text: chỉ dùng cho âm thanh (bản ghi lời) "
			        "/ only for audio (a transcript)");
			goto out;
		}
		json_object_set(doc, "text", json_object_get(given, "text"));
	}
	if (!rq->body_path || rq->body_len == 0) {
		mcc_resp_error(
		        rs, 400, "body",
		        "body: trống, cần nội dung tệp / empty: send the "
		        "file as the body");
		goto out;
	}
	if (!probe(type, rq->body_path, &s.info, rs))
		goto out;
	if (!begin_tx(db, rs))
		goto out;
	in_tx = true;
	if (!replace && exists(db, id)) {
		mcc_resp_error(rs, 409, "id",
		               "id: nội dung '%s' đã có / content '%s' already "
		               "exists",
		               id, id);
		goto fail;
	}
	if (!store(rq->c, db, rq->body_path, &s, rs))
		goto fail;
	if (!set_blob_meta(db, type, &s)) {
		mcc_resp_db_error(rs);
		goto fail;
	}
	file_fields(doc, meta, type, &s);
	json_object_del(meta, "generated");
	if (!validate(db, doc, rs))
		goto fail;
	if (!save_commit(rq, db, id, doc, meta, !replace, submit, rs))
		goto fail;
	mc_log_info("content", "%s %s %s '%s' (%s, %lld bytes, blob %s)",
	            rq->who.name, replace ? "replaced the file of" : "uploaded",
	            type, id, s.info.mime, (long long)s.size, s.sha256);
	respond_view(rq, rs, replace ? 200 : 201, id);
	goto out;
fail:
	if (in_tx)
		mcc_db_rollback(db);
	unstore(rq->c, &s);
out:
	json_decref(given);
	json_decref(doc);
	json_decref(meta);
}

/* ---- POST /v1/content ----------------------------------------------- */

/*
 * Generated audio is recorded once, so a template ("{years}") in its
 * text would be read out as it is: answer 400 and return false.
 */
static bool no_template(const char *text, struct mcc_resp *rs)
{
	static const char *const tpl[] = {"{years}", "{since}", "{date}"};

	for (size_t i = 0; text && i < MC_ARRAY_LEN(tpl); i++)
		if (strstr(text, tpl[i])) {
			mcc_resp_error(
			        rs, 400, "text",
			        "text: không dùng mẫu %s khi tạo tiếng "
			        "nói (bản ghi chỉ làm một lần) / the "
			        "template %s cannot be used in generated "
			        "speech (it is recorded once; use a speech "
			        "item, spoken by the nodes, instead)",
			        tpl[i], tpl[i]);
			return false;
		}
	return true;
}

/* The text of generated speech: required, and no template in it; else
 * answers 400 and returns false. */
static bool gen_text_ok(const char *text, struct mcc_resp *rs)
{
	if (!text) {
		mcc_resp_error(rs, 400, "text",
		               "text: bắt buộc để tạo tiếng nói / required to "
		               "generate speech");
		return false;
	}
	return no_template(text, rs);
}

/* Speak text into a new blob (inside the open transaction). */
static bool generate(struct mcc_req *rq, sqlite3 *db, const char *text,
                     struct stored *s, struct mcc_resp *rs)
{
	struct mc_error err = {0};
	char *path = mc_printf("%s/speech-XXXXXX", rq->c->tmp_dir);
	bool ok = false;
	int fd;

	if (!path || (fd = mkstemp(path)) < 0) {
		mcc_resp_error(rs, 500, NULL,
		               "không tạo được tệp tạm / cannot create a "
		               "temporary file");
		free(path);
		return false;
	}
	close(fd);
	if (mcc_media_speak(text, path, &s->info, &err) != MC_OK) {
		mcc_resp_error(rs,
		               err.code == MC_ERR_MEDIA         ? 422
		               : err.code == MC_ERR_UNSUPPORTED ? 503
		                                                : 500,
		               "text", "%s", err.msg);
		goto out;
	}
	ok = store(rq->c, db, path, s, rs);
out:
	unlink(path);
	free(path);
	return ok;
}

/* Speak doc's text into a new blob (s) and make it doc's file, marked
 * generated in meta; answers and returns false when that fails. */
static bool generate_into(struct mcc_req *rq, sqlite3 *db, json_t *doc,
                          json_t *meta, struct stored *s, struct mcc_resp *rs)
{
	if (!generate(rq, db, json_string_value(json_object_get(doc, "text")),
	              s, rs))
		return false;
	file_fields(doc, meta, "audio", s);
	json_object_set_new(meta, "generated", json_true());
	return validate(db, doc, rs);
}

/*
 * Apply the editable fields of body to doc (a new or the current item of
 * type): name, text, style, fit, duration_ms.  Answers 400 and returns
 * false on a field that type does not take.
 */
static bool apply_fields(json_t *doc, json_t *body, const char *type,
                         struct mcc_resp *rs)
{
	static const struct {
		const char *key;
		const char *types; /* where it may be given */
	} fields[] = {
	        {"name", "slogan image audio speech"},
	        {"text", "slogan audio speech"},
	        {"style", "slogan"},
	        {"fit", "image"},
	        {"duration_ms", "speech"},
	};

	for (size_t i = 0; i < MC_ARRAY_LEN(fields); i++) {
		json_t *v = json_object_get(body, fields[i].key);

		if (!v)
			continue;
		if (!strstr(fields[i].types, type)) {
			mcc_resp_error(rs, 400, fields[i].key,
			               "%s: không dùng cho %s / not a field of "
			               "%s content",
			               fields[i].key, type, type);
			return false;
		}
		if (json_is_null(v)) {
			json_object_del(doc, fields[i].key);
			continue;
		}
		if (strcmp(fields[i].key, "style") == 0) {
			if (json_is_object(v) &&
			    !known_members(v, style_keys, "style.", rs))
				return false;
			json_object_set_new(doc, "style", clean_style(v));
			continue;
		}
		json_object_set(doc, fields[i].key, v);
	}
	if (!json_object_get(doc, "name"))
		json_object_set_new(doc, "name", json_string(""));
	return true;
}

/* Is body.submit true?  Answers 400 when it is not a boolean. */
static bool submit_of(json_t *body, bool *submit, struct mcc_resp *rs)
{
	json_t *v = json_object_get(body, "submit");

	*submit = false;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_boolean(v)) {
		mcc_resp_error(rs, 400, "submit",
		               "submit: phải là true hoặc false / must be a "
		               "boolean");
		return false;
	}
	*submit = json_is_true(v);
	return true;
}

static void h_create(struct mcc_req *rq, struct mcc_resp *rs)
{
	json_t *body = mcc_req_json(rq, rs), *doc = NULL, *meta = NULL;
	sqlite3 *db = mcc_db(rq->c);
	struct stored s = {0};
	const char *id, *type;
	bool submit, gen = false, in_tx = false;

	if (!body)
		return;
	if (!known_members(body, body_keys, "", rs))
		goto out;
	id = json_string_value(json_object_get(body, "id"));
	type = json_string_value(json_object_get(body, "type"));
	if (json_object_get(body, "id") && !id) {
		mcc_resp_error(rs, 400, "id",
		               "id: phải là chuỗi / must be a "
		               "string");
		goto out;
	}
	if (!id_ok(id, rs))
		goto out;
	if (!in_list(type, types)) {
		mcc_resp_error(rs, 400, "type",
		               "type: phải là slogan, speech hoặc audio (với "
		               "generate) / must be slogan, speech, or audio "
		               "with generate");
		goto out;
	}
	if (json_object_get(body, "generate") &&
	    !json_is_boolean(json_object_get(body, "generate"))) {
		mcc_resp_error(rs, 400, "generate",
		               "generate: phải là true hoặc false / must be a "
		               "boolean");
		goto out;
	}
	gen = json_is_true(json_object_get(body, "generate"));
	if (strcmp(type, "image") == 0 ||
	    (strcmp(type, "audio") == 0 && !gen)) {
		mcc_resp_error(
		        rs, 400, "type",
		        "type: ảnh và âm thanh tải lên qua POST "
		        "/v1/content/upload / images and audio files are "
		        "uploaded with POST /v1/content/upload (or give "
		        "\"generate\": true and a text for speech audio)");
		goto out;
	}
	if (gen && strcmp(type, "audio") != 0) {
		mcc_resp_error(rs, 400, "generate",
		               "generate: chỉ cho type audio / only with type "
		               "audio");
		goto out;
	}
	if (!submit_of(body, &submit, rs) ||
	    !norm_text(body, "name", NAME_MAX_BYTES, rs) ||
	    !norm_text(body, "text", TEXT_MAX, rs))
		goto out;
	if (gen &&
	    !gen_text_ok(json_string_value(json_object_get(body, "text")), rs))
		goto out;
	doc = json_pack("{s:s, s:s}", "id", id, "type", type);
	meta = json_object();
	if (!doc || !meta) {
		mcc_resp_error(rs, 500, NULL, "hết bộ nhớ / out of memory");
		goto out;
	}
	if (!apply_fields(doc, body, type, rs))
		goto out;
	if (!gen && !validate(db, doc, rs))
		goto out;
	if (!begin_tx(db, rs))
		goto out;
	in_tx = true;
	if (exists(db, id)) {
		mcc_resp_error(rs, 409, "id",
		               "id: nội dung '%s' đã có / content '%s' already "
		               "exists",
		               id, id);
		goto fail;
	}
	if (gen) {
		if (!generate_into(rq, db, doc, meta, &s, rs))
			goto fail;
	}
	if (!save_commit(rq, db, id, doc, json_object_size(meta) ? meta : NULL,
	                 true, submit, rs))
		goto fail;
	mc_log_info("content", "%s created %s '%s'%s", rq->who.name, type, id,
	            gen ? " (speech generated)" : "");
	respond_view(rq, rs, 201, id);
	goto out;
fail:
	if (in_tx)
		mcc_db_rollback(db);
	unstore(rq->c, &s);
out:
	json_decref(body);
	json_decref(doc);
	json_decref(meta);
}

/* ---- GET /v1/content ------------------------------------------------ */

static void h_list(struct mcc_req *rq, struct mcc_resp *rs)
{
	static const char *const where =
	        "FROM content c LEFT JOIN users u ON u.id = c.author_id "
	        "WHERE c.deleted = 0 AND (?1 IS NULL OR c.type = ?1) AND "
	        "(?2 IS NULL OR c.status = ?2) AND (?3 IS NULL OR "
	        "c.id LIKE ?3 ESCAPE '\\' OR c.name LIKE ?3 ESCAPE '\\' OR "
	        "json_extract(c.doc_json, '$.text') LIKE ?3 ESCAPE '\\')";
	const char *type = mcc_req_query(rq, "type");
	const char *status = mcc_req_query(rq, "status");
	const char *q = mcc_req_query(rq, "q");
	sqlite3 *db = mcc_db(rq->c);
	char count_sql[512], sql[1024], *like = NULL, *nq = NULL;
	/* ?1, ?2, ?3 of both statements; the pattern of q goes last. */
	const char *filters[3] = {type, status, NULL};
	struct mc_error err = {0};
	json_t *items = NULL;
	int64_t limit, offset, total = 0;

	if (type && !in_list(type, types)) {
		mcc_resp_error(rs, 400, "type",
		               "type: phải là slogan, image, audio hoặc speech "
		               "/ must be slogan, image, audio or speech");
		return;
	}
	if (status && !in_list(status, statuses)) {
		mcc_resp_error(
		        rs, 400, "status",
		        "status: phải là draft, submitted, approved hoặc "
		        "rejected / must be draft, submitted, approved "
		        "or rejected");
		return;
	}
	if (!mcc_req_query_int(rq, rs, "limit", LIST_DEFAULT, 0, LIST_MAX,
	                       &limit) ||
	    !mcc_req_query_int(rq, rs, "offset", 0, 0, INT64_C(1) << 40,
	                       &offset))
		return;
	if (q) {
		size_t n = 0;

		if (mc_text_normalize(q, strlen(q), NAME_MAX_BYTES, "q", &nq,
		                      &err) != MC_OK) {
			mcc_resp_error(rs, 400, "q", "q: không hợp lệ / %s",
			               err.msg + 3);
			return;
		}
		like = malloc(strlen(nq) * 2 + 3);
		if (!like)
			goto nomem;
		like[n++] = '%';
		for (const char *p = nq; *p; p++) {
			if (*p == '%' || *p == '_' || *p == '\\')
				like[n++] = '\\';
			like[n++] = *p;
		}
		like[n++] = '%';
		like[n] = '\0';
	}
	snprintf(count_sql, sizeof(count_sql), "SELECT count(*) %s", where);
	snprintf(sql, sizeof(sql),
	         "SELECT c.id, c.type, c.name, c.status, c.rev, "
	         "c.approved_rev, u.name AS author, c.created_ms, "
	         "c.updated_ms, c.doc_json, c.meta_json %s "
	         "ORDER BY c.updated_ms DESC, c.id LIMIT ?4 OFFSET ?5",
	         where);
	filters[2] = like;
	items = mcc_db_page(db, count_sql, sql, filters, 3, limit, offset,
	                    &total);
	if (!items)
		goto dberr;
	mcc_resp_page(rs, items, total, limit, offset);
	goto out;
dberr:
	mcc_resp_db_error(rs);
	goto out;
nomem:
	mcc_resp_error(rs, 500, NULL, "hết bộ nhớ / out of memory");
out:
	free(like);
	free(nq);
}

/* ---- GET /v1/content/{id} ------------------------------------------- */

static void h_get(struct mcc_req *rq, struct mcc_resp *rs)
{
	const char *id = rq->params[0];
	sqlite3 *db = mcc_db(rq->c);
	sqlite3_stmt *st;
	json_t *v, *hist;

	v = mcc_wf_view(db, MCC_KIND_CONTENT, id);
	if (!v) {
		mcc_resp_error(rs, 404, NULL,
		               "không có nội dung '%s' / no content '%s'", id,
		               id);
		return;
	}
	st = mcc_db_prepare(db, "SELECT id, at_ms, user_name AS user, action "
	                        "FROM audit WHERE kind = 'content' AND "
	                        "object_id = ? ORDER BY id");
	hist = NULL;
	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		hist = mcc_db_rows(st);
		mcc_db_done(st);
	}
	json_object_set_new(v, "history", hist ? hist : json_array());
	{
		const char *s = json_string_value(json_object_get(v, "status"));

		for (size_t i = 0; statuses[i]; i++)
			if (s && strcmp(s, statuses[i]) == 0)
				json_object_set_new(v, "status_vi",
				                    json_string(status_vi[i]));
	}
	mcc_resp_json(rs, 200, v);
}

/* ---- PUT /v1/content/{id} ------------------------------------------- */

static void h_edit(struct mcc_req *rq, struct mcc_resp *rs)
{
	const char *id = rq->params[0];
	json_t *body = mcc_req_json(rq, rs), *doc = NULL, *meta = NULL;
	sqlite3 *db = mcc_db(rq->c);
	struct stored s = {0};
	const char *type, *given;
	bool submit, gen, in_tx = false;
	static const char *const fixed[] = {"id",   "sha256",  "size", "url",
	                                    "mime", "gain_db", NULL};

	if (!body)
		return;
	if (!known_members(body, body_keys, "", rs))
		goto out;
	doc = mcc_wf_doc(db, MCC_KIND_CONTENT, id, false);
	if (!doc) {
		mcc_resp_error(rs, 404, NULL,
		               "không có nội dung '%s' / no content '%s'", id,
		               id);
		goto out;
	}
	type = json_string_value(json_object_get(doc, "type"));
	given = json_string_value(json_object_get(body, "type"));
	if (json_object_get(body, "type") &&
	    (!given || !type || strcmp(given, type) != 0)) {
		mcc_resp_error(
		        rs, 400, "type",
		        "type: không đổi được loại nội dung / the type of "
		        "content cannot change (it is %s)",
		        type ? type : "?");
		goto out;
	}
	for (size_t i = 0; fixed[i]; i++)
		if (json_object_get(body, fixed[i]) &&
		    (strcmp(fixed[i], "id") != 0 ||
		     !json_equal(json_object_get(body, "id"),
		                 json_object_get(doc, "id")))) {
			mcc_resp_error(
			        rs, 400, fixed[i],
			        "%s: không sửa trực tiếp được / cannot be "
			        "edited (upload a new file with POST "
			        "/v1/content/upload?replace=1)",
			        fixed[i]);
			goto out;
		}
	if (json_object_get(body, "generate") &&
	    (!json_is_boolean(json_object_get(body, "generate")) ||
	     (json_is_true(json_object_get(body, "generate")) &&
	      strcmp(type, "audio") != 0))) {
		mcc_resp_error(
		        rs, 400, "generate",
		        "generate: true chỉ cho âm thanh / true only for "
		        "audio");
		goto out;
	}
	gen = json_is_true(json_object_get(body, "generate"));
	if (!submit_of(body, &submit, rs) ||
	    !norm_text(body, "name", NAME_MAX_BYTES, rs) ||
	    !norm_text(body, "text", TEXT_MAX, rs) ||
	    !apply_fields(doc, body, type, rs))
		goto out;
	if (gen &&
	    !gen_text_ok(json_string_value(json_object_get(doc, "text")), rs))
		goto out;
	if (!gen && !validate(db, doc, rs))
		goto out;
	if (!begin_tx(db, rs))
		goto out;
	in_tx = true;
	if (gen) {
		meta = get_meta(db, id);
		if (!meta)
			meta = json_object();
		if (!generate_into(rq, db, doc, meta, &s, rs))
			goto fail;
	}
	if (!save_commit(rq, db, id, doc, meta, false, submit, rs))
		goto fail;
	mc_log_info("content", "%s edited %s '%s'", rq->who.name, type, id);
	respond_view(rq, rs, 200, id);
	goto out;
fail:
	if (in_tx)
		mcc_db_rollback(db);
	unstore(rq->c, &s);
out:
	json_decref(body);
	json_decref(doc);
	json_decref(meta);
}

/* ---- DELETE /v1/content/{id} ---------------------------------------- */

static void h_delete(struct mcc_req *rq, struct mcc_resp *rs)
{
	const char *id = rq->params[0];
	sqlite3 *db = mcc_db(rq->c);
	struct mc_error err = {0};

	if (!begin_tx(db, rs))
		return;
	if (mcc_wf_delete(db, &rq->who, MCC_KIND_CONTENT, id, &err) != MC_OK) {
		mcc_db_rollback(db);
		mcc_resp_mc_error(rs, &err);
		return;
	}
	if (mcc_db_commit(db) != MC_OK) {
		mcc_db_rollback(db);
		mcc_resp_db_error(rs);
		return;
	}
	mc_log_info("content", "%s deleted content '%s'", rq->who.name, id);
	mcc_resp_json(rs, 200, json_pack("{s:s, s:b}", "id", id, "deleted", 1));
}

/* ---- GET /v1/content/{id}/preview.png ------------------------------- */

/*
 * Run argv with stdout and stderr into log, for at most timeout_ms;
 * true when it exited 0.
 */
static bool run_cmd(char *const argv[], const char *log, int timeout_ms)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = 0, rc;
	int64_t deadline = mc_mono_ms() + timeout_ms;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return false;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log,
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		FILE *f = fopen(log, "w");

		if (f) {
			fprintf(f, "%s: %s\n", argv[0], strerror(rc));
			fclose(f);
		}
		return false;
	}
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return false;
		if (mc_mono_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return false;
		}
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The first line of a file, for an error message. */
static void first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

/* Link blob sha into dir/blobs/ (the player's cache layout). */
static bool link_blob(struct mcc *c, const char *dir, json_t *doc)
{
	const char *sha = json_string_value(json_object_get(doc, "sha256"));
	char src[4096], dst[4096];

	if (!sha)
		return true;
	mcc_blob_path(c, sha, src, sizeof(src));
	snprintf(dst, sizeof(dst), "%s/blobs/%s", dir, sha);
	return symlink(src, dst) == 0 || errno == EEXIST;
}

/*
 * The first entry (approved ones with approved) whose playlist plays
 * content id and that has a founding year, re-pointed at the preview's
 * own one-item playlist: the renderer resolves {years} and {since} by
 * the first entry that plays the item.  NULL when there is none.
 */
static json_t *founding_entry(sqlite3 *db, const char *id, bool approved)
{
	const char *sql =
	        approved
	                ? "SELECT e.approved_json FROM entries e JOIN "
	                  "playlists p ON p.id = json_extract(e.approved_json, "
	                  "'$.playlist') , json_each(p.approved_json, "
	                  "'$.items') it WHERE e.deleted = 0 AND p.deleted = 0 "
	                  "AND json_extract(it.value, '$.content') = ? AND "
	                  "json_extract(e.approved_json, '$.founded') IS NOT "
	                  "NULL ORDER BY e.id LIMIT 1"
	                : "SELECT e.doc_json FROM entries e JOIN playlists p "
	                  "ON p.id = json_extract(e.doc_json, '$.playlist') , "
	                  "json_each(p.doc_json, '$.items') it WHERE "
	                  "e.deleted = 0 AND p.deleted = 0 AND "
	                  "json_extract(it.value, '$.content') = ? AND "
	                  "json_extract(e.doc_json, '$.founded') IS NOT NULL "
	                  "ORDER BY e.id LIMIT 1";
	sqlite3_stmt *st = mcc_db_prepare(db, sql);
	json_t *e = NULL;

	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		e = json_loads((const char *)sqlite3_column_text(st, 0), 0,
		               NULL);
	mcc_db_done(st);
	if (e) {
		json_object_set_new(e, "playlist", json_string("preview"));
		json_object_set_new(e, "channel", json_string("screen"));
		json_object_del(e, "targets");
	}
	return e;
}

/* A preview used within this long is never pruned (it may be being
 * served). */
#define PREVIEW_KEEP_RECENT_S 60

struct cached {
	char name[80];  /* file name in the cache */
	off_t size;     /* its bytes */
	time_t mtime_s; /* last drawn or served */
};

static int by_mtime(const void *a, const void *b)
{
	const struct cached *x = a, *y = b;

	return (x->mtime_s > y->mtime_s) - (x->mtime_s < y->mtime_s);
}

/*
 * Keep the preview cache within max bytes: the least recently used
 * previews (by mtime, which a cache hit renews) go first, except those
 * used in the last PREVIEW_KEEP_RECENT_S.  Called after a new preview
 * was drawn; errors are logged and leave the files.
 */
static void prune_previews(const char *dir, int64_t max)
{
	struct cached *list = NULL, *grown;
	size_t n = 0, cap = 0, gone = 0;
	int64_t total = 0;
	time_t now = time(NULL);
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 5 || len >= sizeof(list->name) ||
		    strcmp(e->d_name + len - 4, ".png") != 0 ||
		    fstatat(dirfd(d), e->d_name, &st, 0) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown)
				goto out;
			list = grown;
		}
		memcpy(list[n].name, e->d_name, len + 1);
		list[n].size = st.st_size;
		list[n].mtime_s = st.st_mtime;
		total += st.st_size;
		n++;
	}
	if (total <= max)
		goto out;
	qsort(list, n, sizeof(*list), by_mtime);
	for (size_t i = 0; i < n && total > max; i++) {
		if (now - list[i].mtime_s < PREVIEW_KEEP_RECENT_S)
			break;
		if (unlinkat(dirfd(d), list[i].name, 0) != 0) {
			if (errno != ENOENT)
				mc_log_warn("content",
				            "preview cache: %s/%s: %s", dir,
				            list[i].name, strerror(errno));
			continue;
		}
		total -= list[i].size;
		gone++;
	}
	if (gone)
		mc_log_info("content",
		            "preview cache: %zu old previews removed, %" PRId64
		            " bytes kept",
		            gone, total);
out:
	free(list);
	closedir(d);
}

static void h_preview(struct mcc_req *rq, struct mcc_resp *rs)
{
	struct mcc *c = rq->c;
	const char *id = rq->params[0];
	const char *size = mcc_req_query(rq, "size");
	bool approved = flag(mcc_req_query(rq, "approved"));
	sqlite3 *db = mcc_db(c);
	json_t *doc = NULL, *man = NULL, *bg = NULL, *entry = NULL;
	char *text = NULL, *dir = NULL, *cache = NULL, *log = NULL;
	char *mpath = NULL, *tmp_png = NULL, *png = NULL, *blobs = NULL;
	char key[65], sz[32], why[200];
	const char *type, *bgid;
	unsigned char h[crypto_hash_sha256_BYTES];
	int w = PREVIEW_W, ht = PREVIEW_H;

	if (size) {
		char x, extra;

		if (sscanf(size, "%d%c%d%c", &w, &x, &ht, &extra) != 3 ||
		    x != 'x' || w < 16 || ht < 16 || w > PREVIEW_MAX_SIDE ||
		    ht > PREVIEW_MAX_SIDE) {
			mcc_resp_error(
			        rs, 400, "size",
			        "size: phải là RộngxCao, 16..3840 mỗi cạnh "
			        "/ must be WxH, 16..3840 a side (960x540)");
			return;
		}
	}
	snprintf(sz, sizeof(sz), "%dx%d", w, ht);
	doc = mcc_wf_doc(db, MCC_KIND_CONTENT, id, approved);
	if (!doc) {
		mcc_resp_error(rs, 404, NULL,
		               approved
		                       ? "nội dung '%s' chưa được duyệt / "
		                         "content '%s' has no approved revision"
		                       : "không có nội dung '%s' / no content "
		                         "'%s'",
		               id, id);
		return;
	}
	type = json_string_value(json_object_get(doc, "type"));
	if (!type ||
	    (strcmp(type, "slogan") != 0 && strcmp(type, "image") != 0)) {
		mcc_resp_error(rs, 409, NULL,
		               "chỉ khẩu hiệu và ảnh có ảnh xem trước / only "
		               "slogans and images have a preview ('%s' is %s)",
		               id, type ? type : "?");
		goto out;
	}
	man = json_pack("{s:s, s:[O]}", "format", "minecast-manifest/1",
	                "content", doc);
	entry = founding_entry(db, id, approved);
	if (man && entry) {
		json_object_set_new(man, "entries", json_pack("[o]", entry));
		json_object_set_new(man, "playlists",
		                    json_pack("[{s:s, s:[{s:s}]}]", "id",
		                              "preview", "items", "content",
		                              id));
	} else {
		json_decref(entry);
	}
	bgid = json_string_value(
	        json_object_get(json_object_get(doc, "style"), "bg_image"));
	if (bgid && strcmp(bgid, id) != 0) {
		bg = mcc_wf_doc(db, MCC_KIND_CONTENT, bgid, approved);
		if (bg)
			json_array_append(json_object_get(man, "content"), bg);
	}
	text = man ? json_dumps(man, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!text)
		goto nomem;
	/* The cache key: what is drawn, how big, and by what. */
	{
		crypto_hash_sha256_state hs;

		crypto_hash_sha256_init(&hs);
		crypto_hash_sha256_update(&hs, (const unsigned char *)"v1\n",
		                          3);
		crypto_hash_sha256_update(
		        &hs, (const unsigned char *)c->cfg.render_cmd,
		        strlen(c->cfg.render_cmd) + 1);
		crypto_hash_sha256_update(&hs, (const unsigned char *)sz,
		                          strlen(sz) + 1);
		crypto_hash_sha256_update(&hs, (const unsigned char *)text,
		                          strlen(text));
		crypto_hash_sha256_final(&hs, h);
		sodium_bin2hex(key, sizeof(key), h, sizeof(h));
	}
	cache = mc_printf("%s/previews", c->tmp_dir);
	png = mc_printf("%s/previews/%s.png", c->tmp_dir, key);
	if (!cache || !png)
		goto nomem;
	if (access(png, R_OK) == 0) {
		/* Recently used: the last to be pruned. */
		utimensat(AT_FDCWD, png, NULL, 0);
		goto send;
	}
	if (mkdir(cache, 0700) != 0 && errno != EEXIST)
		goto ioerr;
	dir = mc_printf("%s/render-XXXXXX", c->tmp_dir);
	if (!dir || !mkdtemp(dir))
		goto ioerr;
	blobs = mc_printf("%s/blobs", dir);
	mpath = mc_printf("%s/manifest.json", dir);
	log = mc_printf("%s/render.log", dir);
	tmp_png = mc_printf("%s/out.png", dir);
	if (!blobs || !mpath || !log || !tmp_png)
		goto nomem;
	if (mkdir(blobs, 0700) != 0 || !link_blob(c, dir, doc) ||
	    (bg && !link_blob(c, dir, bg)))
		goto ioerr;
	{
		struct mc_error err = {0};

		if (mc_write_file_atomic(mpath, text, strlen(text), 0600,
		                         &err) != MC_OK)
			goto ioerr;
	}
	{
		char *argv[] = {c->cfg.render_cmd,
		                "render",
		                "--manifest",
		                mpath,
		                "--item",
		                (char *)id,
		                "--size",
		                sz,
		                "--out",
		                tmp_png,
		                "--cache",
		                dir,
		                NULL};

		if (!run_cmd(argv, log, PREVIEW_TIMEOUT_MS)) {
			first_line(log, why, sizeof(why));
			mc_log_warn("content", "preview of '%s' failed: %s", id,
			            why);
			mcc_resp_error(
			        rs, 500, NULL,
			        "không vẽ được ảnh xem trước / the preview "
			        "could not be drawn: %s",
			        why[0] ? why : "render failed");
			goto out;
		}
	}
	if (rename(tmp_png, png) != 0)
		goto ioerr;
	prune_previews(cache, c->cfg.preview_cache_bytes);
send:
	mcc_resp_file(rs, png, "image/png", key, false);
	goto out;
ioerr:
	mc_log_error("content", "preview of '%s': %s", id, strerror(errno));
	mcc_resp_error(rs, 500, NULL,
	               "lỗi máy chủ khi vẽ ảnh xem trước / server error while "
	               "drawing the preview");
	goto out;
nomem:
	mcc_resp_error(rs, 500, NULL, "hết bộ nhớ / out of memory");
out:
	if (dir) {
		char p[4096];

		snprintf(p, sizeof(p), "%s/blobs", dir);
		{
			const char *sha[2] = {json_string_value(json_object_get(
			                              doc, "sha256")),
			                      json_string_value(json_object_get(
			                              bg, "sha256"))};

			for (int i = 0; i < 2; i++)
				if (sha[i]) {
					snprintf(p, sizeof(p), "%s/blobs/%s",
					         dir, sha[i]);
					unlink(p);
				}
		}
		if (blobs)
			rmdir(blobs);
		if (mpath)
			unlink(mpath);
		if (log)
			unlink(log);
		if (tmp_png)
			unlink(tmp_png);
		rmdir(dir);
	}
	json_decref(doc);
	json_decref(bg);
	json_decref(man);
	free(text);
	free(dir);
	free(cache);
	free(log);
	free(mpath);
	free(tmp_png);
	free(png);
	free(blobs);
}

const struct mcc_route mcc_content_routes[] = {
        {"POST", "/v1/blobs", MCC_ROLE_EDITOR, 0, MCC_SPOOL, h_blob},
        {"POST", "/v1/content/upload", MCC_ROLE_EDITOR, 0, MCC_SPOOL, h_upload},
        {"POST", "/v1/content", MCC_ROLE_EDITOR, CONTENT_MAX_BODY, 0, h_create},
        {"GET", "/v1/content", MCC_ROLE_ANY_USER, 0, 0, h_list},
        {"GET", "/v1/content/{}", MCC_ROLE_ANY_USER, 0, 0, h_get},
        {"PUT", "/v1/content/{}", MCC_ROLE_EDITOR, CONTENT_MAX_BODY, 0, h_edit},
        {"DELETE", "/v1/content/{}", MCC_ROLE_EDITOR, 0, 0, h_delete},
        {"GET", "/v1/content/{}/preview.png", MCC_ROLE_ANY_USER, 0, 0,
         h_preview},
        {NULL, NULL, 0, 0, 0, NULL},
};
