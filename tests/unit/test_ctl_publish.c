/*
 * Publishing against a real database (controller/daemon/publish.c):
 * grouping of nodes by the entries their targets select, one manifest
 * per distinct set, versions, republishing only what changed, entries
 * left out, the key check, the preview compile and the tick's re-sign.
 * There is no broker here, so every pointer stays pending (published 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "minecast/codec.h"
#include "minecast/sign.h"
#include "minecast/util.h"

#include "blob.h"
#include "config.h"
#include "db.h"
#include "mcc.h"
#include "org.h"
#include "publish.h"

#include "mc_test.h"

#define BG_SHA                                                                 \
	"0aa953e0b23a5db9db0c9fd118cbec3973ef96483b466e5c3f58b7481cfb9297"

/* The sql helpers take sqlite3_mprintf formats (%Q quotes a string), so
 * they carry no printf format attribute. */

/* One controller with its own data directory per test. */
struct fx {
	struct mcc c;
	char dir[64];
	sqlite3 *db;
	struct mcc_principal who;
};

static void sql(sqlite3 *db, const char *fmt, ...)
{
	va_list ap;
	char *q, *msg = NULL;

	va_start(ap, fmt);
	q = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	assert_non_null(q);
	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", q, msg);
	sqlite3_free(q);
}

static int64_t sql_int(sqlite3 *db, const char *fmt, ...)
{
	va_list ap;
	char *q;
	sqlite3_stmt *st;
	int64_t v = -1;

	va_start(ap, fmt);
	q = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_free(q);
	return v;
}

/* The text of one column of the first row (caller frees), or NULL. */
static char *sql_text(sqlite3 *db, const char *fmt, ...)
{
	va_list ap;
	char *q, *v = NULL;
	sqlite3_stmt *st;

	va_start(ap, fmt);
	q = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_free(q);
	return v;
}

/*
 * A workflow row: approved (approved_json = doc) or only a draft.
 * table is content, playlists or entries.
 */
static void put(struct fx *f, const char *table, const char *id,
                const char *doc, bool approved)
{
	json_t *j = json_loads(doc, 0, NULL);
	const char *extra_cols = "", *extra_vals = "";
	char vals[256];

	assert_non_null(j);
	if (strcmp(table, "content") == 0) {
		extra_cols = ", type";
		snprintf(vals, sizeof(vals), ", '%s'",
		         json_string_value(json_object_get(j, "type")));
		extra_vals = vals;
	} else if (strcmp(table, "entries") == 0) {
		extra_cols = ", channel";
		snprintf(vals, sizeof(vals), ", '%s'",
		         json_string_value(json_object_get(j, "channel")));
		extra_vals = vals;
	}
	json_decref(j);
	sql(f->db,
	    "INSERT INTO %s (id, doc_json, approved_json, status, rev, "
	    "approved_rev, author_id, created_ms, updated_ms%s) VALUES (%Q, "
	    "%Q, %Q, %Q, 1, %s, 1, 1, 1%s) ON CONFLICT(id) DO UPDATE SET "
	    "doc_json = excluded.doc_json, approved_json = CASE WHEN %d THEN "
	    "excluded.doc_json ELSE approved_json END, status = "
	    "excluded.status",
	    table, extra_cols, id, doc, approved ? doc : NULL,
	    approved ? "approved" : "submitted", approved ? "1" : "NULL",
	    extra_vals, approved);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct mc_error err = {0};
	char set[128];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-ctl-publish-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(mcc_config_load(&f->c.cfg, NULL, &err), MC_OK);
	snprintf(set, sizeof(set), "controller.data_dir=%s", f->dir);
	assert_int_equal(mcc_config_set(&f->c.cfg, set, &err), MC_OK);
	if (mcc_setup(&f->c, &err) != MC_OK)
		fail_msg("mcc_setup: %s", err.msg);
	f->db = mcc_db(&f->c);
	assert_non_null(f->db);
	sql(f->db, "INSERT INTO users (id, name, password_hash, roles, "
	           "created_ms) VALUES (1, 'approver', 'x', 2, 1)");
	f->who.user_id = 1;
	snprintf(f->who.name, sizeof(f->who.name), "approver");
	f->who.roles = 2;
	/* Two sites; a1 and a2 play alike, b1 and b2 differ by a tag. */
	sql(f->db, "INSERT INTO sites (id, name, created_ms) VALUES ('a', "
	           "'A', 1), ('b', 'B', 1)");
	sql(f->db, "INSERT INTO nodes (id, site_id, created_ms) VALUES ('a1', "
	           "'a', 1), ('a2', 'a', 1), ('b1', 'b', 1), ('b2', 'b', 1)");
	sql(f->db, "INSERT INTO node_tags (node_id, tag) VALUES ('b2', "
	           "'nha-an')");
	put(f, "content", "bg",
	    "{\"id\":\"bg\",\"type\":\"image\",\"sha256\":\"" BG_SHA
	    "\",\"size\":10,\"url\":\"/v1/content/" BG_SHA
	    "\",\"mime\":\"image/png\"}",
	    true);
	put(f, "content", "s-all",
	    "{\"id\":\"s-all\",\"type\":\"slogan\",\"text\":\"Kỷ luật và "
	    "Đồng tâm\",\"style\":{\"bg_image\":\"bg\"}}",
	    true);
	put(f, "content", "s-a",
	    "{\"id\":\"s-a\",\"type\":\"slogan\",\"text\":\"Công trường A\"}",
	    true);
	put(f, "content", "s-tag",
	    "{\"id\":\"s-tag\",\"type\":\"slogan\",\"text\":\"Nhà ăn\"}", true);
	put(f, "content", "s-fb",
	    "{\"id\":\"s-fb\",\"type\":\"slogan\",\"text\":\"Dự phòng\"}",
	    true);
	put(f, "playlists", "pl-all",
	    "{\"id\":\"pl-all\",\"items\":[{\"content\":\"s-all\"}]}", true);
	put(f, "playlists", "pl-a",
	    "{\"id\":\"pl-a\",\"items\":[{\"content\":\"s-a\"}]}", true);
	put(f, "playlists", "pl-tag",
	    "{\"id\":\"pl-tag\",\"items\":[{\"content\":\"s-tag\"}]}", true);
	put(f, "entries", "e-all",
	    "{\"id\":\"e-all\",\"playlist\":\"pl-all\",\"channel\":"
	    "\"screen\",\"priority\":10}",
	    true);
	put(f, "entries", "e-a",
	    "{\"id\":\"e-a\",\"playlist\":\"pl-a\",\"channel\":\"screen\","
	    "\"priority\":20,\"targets\":{\"sites\":[\"a\"]}}",
	    true);
	put(f, "entries", "e-tag",
	    "{\"id\":\"e-tag\",\"playlist\":\"pl-tag\",\"channel\":\"screen\","
	    "\"priority\":30,\"targets\":{\"tags\":[\"nha-an\"]}}",
	    true);
	sql(f->db, "INSERT INTO settings (key, value_json) VALUES "
	           "('fallback', '{\"screen\":\"s-fb\",\"speaker\":null}'), "
	           "('timezone', '\"UTC\"')");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	mcc_teardown(&f->c);
	mc_test_sh("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

static void publish_ok(struct fx *f, bool force, struct mcc_publish_report *rep)
{
	struct mc_error err = {0};

	if (mcc_publish(&f->c, &f->who, force, rep, &err) != MC_OK)
		fail_msg("mcc_publish: %s", err.msg);
}

static int64_t version_of(struct fx *f, const char *node)
{
	return sql_int(f->db,
	               "SELECT version FROM node_desired WHERE node_id = %Q",
	               node);
}

static char *sha_of(struct fx *f, const char *node)
{
	return sql_text(f->db,
	                "SELECT manifest_sha256 FROM node_desired WHERE "
	                "node_id = %Q",
	                node);
}

/* The stored manifest of a node, parsed as a node would. */
static struct mc_manifest *manifest_of(struct fx *f, const char *node)
{
	char *sha = sha_of(f, node), path[512], *text = NULL, got[65];
	struct mc_manifest *m = NULL;
	struct mc_error err = {0};
	size_t len;

	assert_non_null(sha);
	mcc_blob_path(&f->c, sha, path, sizeof(path));
	if (mc_read_file(path, MC_MAX_MANIFEST_BYTES, &text, &len, &err) !=
	    MC_OK)
		fail_msg("%s: %s", path, err.msg);
	mc_sha256_hex(text, len, got);
	assert_string_equal(got, sha);
	assert_null(strstr(text, "\"node\""));
	assert_null(strstr(text, "\"generated\""));
	if (mc_manifest_parse(text, len, MC_DOC_MANIFEST, &m, &err) != MC_OK)
		fail_msg("manifest of %s: %s", node, err.msg);
	free(text);
	free(sha);
	return m;
}

static bool has_entry(const struct mc_manifest *m, const char *id)
{
	for (size_t i = 0; i < m->n_entries; i++)
		if (strcmp(m->entries[i].id, id) == 0)
			return true;
	return false;
}

static void test_groups(void **state)
{
	struct fx *f = *state;
	struct mcc_publish_report rep;
	struct mc_manifest *m;
	char *a1, *a2, *b1, *b2;

	publish_ok(f, false, &rep);
	assert_int_equal(rep.nodes, 4);
	assert_int_equal(rep.changed, 4);
	assert_int_equal(rep.manifests, 3); /* {a1,a2}, {b1}, {b2} */
	assert_int_equal(rep.manifests_new, 3);
	assert_int_equal(rep.published, 0); /* no broker here */
	assert_int_equal(rep.pending, 4);
	assert_int_equal(json_array_size(rep.skipped), 0);
	assert_true(rep.id > 0);
	mcc_publish_report_clear(&rep);

	a1 = sha_of(f, "a1");
	a2 = sha_of(f, "a2");
	b1 = sha_of(f, "b1");
	b2 = sha_of(f, "b2");
	assert_string_equal(a1, a2);
	assert_string_not_equal(a1, b1);
	assert_string_not_equal(b1, b2);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM manifests"), 3);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM blobs WHERE "
	                                "mime = 'application/json'"),
	                 3);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM node_desired "
	                                "WHERE published = 0 AND version = 1"),
	                 4);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit WHERE "
	                                "action = 'publish'"),
	                 1);

	m = manifest_of(f, "a1");
	assert_true(has_entry(m, "e-all"));
	assert_true(has_entry(m, "e-a"));
	assert_false(has_entry(m, "e-tag"));
	/* Targets are resolved: none is left in the manifest. */
	for (size_t i = 0; i < m->n_entries; i++)
		assert_int_equal(m->entries[i].targets.n_sites +
		                         m->entries[i].targets.n_tags +
		                         m->entries[i].targets.n_nodes,
		                 0);
	/* The closure: the slogan's background image and the fallback. */
	assert_non_null(mc_manifest_content(m, "bg"));
	assert_non_null(mc_manifest_content(m, "s-fb"));
	assert_null(mc_manifest_content(m, "s-tag"));
	assert_non_null(m->fallback[MC_CH_SCREEN]);
	assert_string_equal(m->timezone, "UTC");
	mc_manifest_free(m);
	m = manifest_of(f, "b2");
	assert_true(has_entry(m, "e-all"));
	assert_true(has_entry(m, "e-tag"));
	assert_false(has_entry(m, "e-a"));
	mc_manifest_free(m);
	m = manifest_of(f, "b1");
	assert_int_equal(m->n_entries, 1);
	mc_manifest_free(m);
	free(a1);
	free(a2);
	free(b1);
	free(b2);
}

static void test_pointer_verifies(void **state)
{
	struct fx *f = *state;
	struct mcc_publish_report rep;
	struct mc_keyring kr = {0};
	struct mc_pointer p = {0};
	struct mc_error err = {0};
	char *env, *sha, url[128];

	publish_ok(f, false, &rep);
	mcc_publish_report_clear(&rep);
	env = sql_text(
	        f->db,
	        "SELECT envelope FROM node_desired WHERE node_id = 'b2'");
	sha = sha_of(f, "b2");
	assert_non_null(env);
	assert_int_equal(mc_keyring_add(&kr, f->c.key.pk, &err), MC_OK);
	if (mc_pointer_open(&kr, env, strlen(env), "b2", 0, mc_now_ms(), &p,
	                    &err) != MC_OK)
		fail_msg("pointer of b2: %s", err.msg);
	assert_int_equal(p.version, 1);
	assert_string_equal(p.manifest_sha256, sha);
	snprintf(url, sizeof(url), "/v1/manifests/%s", sha);
	assert_string_equal(p.manifest_url, url);
	assert_int_equal(p.manifest_size,
	                 sql_int(f->db,
	                         "SELECT size FROM manifests WHERE sha256 = %Q",
	                         sha));
	assert_true(p.expires_ms - p.issued_ms ==
	            f->c.cfg.pointer_ttl_s * 1000);
	/* Another node refuses it. */
	mc_pointer_clear(&p);
	assert_int_equal(mc_pointer_open(&kr, env, strlen(env), "b1", 0,
	                                 mc_now_ms(), &p, &err),
	                 MC_ERR_NODE);
	mc_keyring_clear(&kr);
	free(env);
	free(sha);
}

static void test_republish_nothing(void **state)
{
	struct fx *f = *state;
	struct mcc_publish_report rep;

	publish_ok(f, false, &rep);
	mcc_publish_report_clear(&rep);
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 0);
	assert_int_equal(rep.manifests, 3);
	assert_int_equal(rep.manifests_new, 0);
	mcc_publish_report_clear(&rep);
	assert_int_equal(sql_int(f->db, "SELECT max(version) FROM "
	                                "node_desired"),
	                 1);
	/* A draft edit changes nothing on the fleet until approved. */
	put(f, "entries", "e-a",
	    "{\"id\":\"e-a\",\"playlist\":\"pl-a\",\"channel\":\"screen\","
	    "\"priority\":99,\"targets\":{\"sites\":[\"a\"]}}",
	    false);
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 0);
	mcc_publish_report_clear(&rep);
}

static void test_only_changed(void **state)
{
	struct fx *f = *state;
	struct mcc_publish_report rep;
	char *b1 = NULL, *b1_after = NULL;

	publish_ok(f, false, &rep);
	mcc_publish_report_clear(&rep);
	b1 = sha_of(f, "b1");
	/* An approved edit of site a's entry: only a1 and a2 change. */
	put(f, "entries", "e-a",
	    "{\"id\":\"e-a\",\"playlist\":\"pl-a\",\"channel\":\"screen\","
	    "\"priority\":21,\"targets\":{\"sites\":[\"a\"]}}",
	    true);
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 2);
	assert_int_equal(rep.manifests, 3);
	assert_int_equal(rep.manifests_new, 1);
	mcc_publish_report_clear(&rep);
	assert_int_equal(version_of(f, "a1"), 2);
	assert_int_equal(version_of(f, "a2"), 2);
	assert_int_equal(version_of(f, "b1"), 1);
	assert_int_equal(version_of(f, "b2"), 1);
	b1_after = sha_of(f, "b1");
	assert_string_equal(b1, b1_after);
	/* Content used only by site b (through the tag entry). */
	put(f, "content", "s-tag",
	    "{\"id\":\"s-tag\",\"type\":\"slogan\",\"text\":\"Nhà ăn ca 2\"}",
	    true);
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 1);
	mcc_publish_report_clear(&rep);
	assert_int_equal(version_of(f, "b2"), 2);
	assert_int_equal(version_of(f, "b1"), 1);
	/* Content every node uses. */
	put(f, "content", "s-all",
	    "{\"id\":\"s-all\",\"type\":\"slogan\",\"text\":\"Kỷ luật\"}",
	    true);
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 4);
	mcc_publish_report_clear(&rep);
	/* The bg image is no longer used by anyone. */
	{
		struct mc_manifest *m = manifest_of(f, "a1");

		assert_null(mc_manifest_content(m, "bg"));
		mc_manifest_free(m);
	}
	free(b1);
	free(b1_after);
}

static void test_force_and_nodes(void **state)
{
	struct fx *f = *state;
	struct mcc_publish_report rep;

	publish_ok(f, false, &rep);
	mcc_publish_report_clear(&rep);
	publish_ok(f, true, &rep);
	assert_int_equal(rep.changed, 4);
	assert_int_equal(rep.manifests_new, 0);
	mcc_publish_report_clear(&rep);
	assert_int_equal(version_of(f, "a1"), 2);
	/* A new node gets version 1, the others keep theirs. */
	sql(f->db, "INSERT INTO nodes (id, site_id, created_ms) VALUES ('a3', "
	           "'a', 1)");
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 1);
	assert_int_equal(rep.manifests_new, 0); /* shares a1's manifest */
	mcc_publish_report_clear(&rep);
	assert_int_equal(version_of(f, "a3"), 1);
	assert_int_equal(version_of(f, "a1"), 2);
	/* A node moved to another site gets that site's manifest. */
	sql(f->db, "UPDATE nodes SET site_id = 'b' WHERE id = 'a3'");
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 1);
	mcc_publish_report_clear(&rep);
	assert_int_equal(version_of(f, "a3"), 2);
	{
		char *s3 = sha_of(f, "a3"), *sb = sha_of(f, "b1");

		assert_string_equal(s3, sb);
		free(s3);
		free(sb);
	}
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM publishes"), 4);
}

static void test_skipped(void **state)
{
	struct fx *f = *state;
	struct mcc_publish_report rep;
	json_t *v;
	struct mc_manifest *m;

	/* A playlist that is only a draft, a content that is deleted, and
	 * a playlist of slogans on the speaker. */
	put(f, "playlists", "pl-draft",
	    "{\"id\":\"pl-draft\",\"items\":[{\"content\":\"s-a\"}]}", false);
	put(f, "entries", "e-draft",
	    "{\"id\":\"e-draft\",\"playlist\":\"pl-draft\",\"channel\":"
	    "\"screen\"}",
	    true);
	put(f, "content", "s-gone",
	    "{\"id\":\"s-gone\",\"type\":\"slogan\",\"text\":\"x\"}", true);
	sql(f->db, "UPDATE content SET deleted = 1 WHERE id = 's-gone'");
	put(f, "playlists", "pl-gone",
	    "{\"id\":\"pl-gone\",\"items\":[{\"content\":\"s-gone\"}]}", true);
	put(f, "entries", "e-gone",
	    "{\"id\":\"e-gone\",\"playlist\":\"pl-gone\",\"channel\":"
	    "\"screen\"}",
	    true);
	put(f, "entries", "e-chan",
	    "{\"id\":\"e-chan\",\"playlist\":\"pl-a\",\"channel\":"
	    "\"speaker\"}",
	    true);
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 4);
	assert_int_equal(json_array_size(rep.skipped), 3);
	v = json_array_get(rep.skipped, 0);
	assert_string_equal(json_string_value(json_object_get(v, "id")),
	                    "e-chan");
	assert_non_null(strstr(json_string_value(json_object_get(v, "reason")),
	                       "speaker"));
	v = json_array_get(rep.skipped, 1);
	assert_string_equal(json_string_value(json_object_get(v, "id")),
	                    "e-draft");
	assert_non_null(strstr(json_string_value(json_object_get(v, "reason")),
	                       "pl-draft"));
	v = json_array_get(rep.skipped, 2);
	assert_string_equal(json_string_value(json_object_get(v, "id")),
	                    "e-gone");
	assert_non_null(strstr(json_string_value(json_object_get(v, "reason")),
	                       "s-gone"));
	mcc_publish_report_clear(&rep);
	m = manifest_of(f, "a1");
	assert_false(has_entry(m, "e-draft"));
	assert_false(has_entry(m, "e-gone"));
	assert_true(has_entry(m, "e-a"));
	mc_manifest_free(m);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM publishes WHERE "
	                                "skipped_json LIKE '%%e-gone%%'"),
	                 1);
}

static void test_no_key(void **state)
{
	struct fx *f = *state;
	struct mcc_publish_report rep;
	struct mc_error err = {0};

	f->c.have_key = false;
	mc_test_expect_error(mcc_publish(&f->c, &f->who, false, &rep, &err),
	                     &err, MC_ERR_CONFLICT, "key", "no key");
	f->c.have_key = true;
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM node_desired"),
	                 0);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM publishes"), 0);
}

static void test_compile_place(void **state)
{
	struct fx *f = *state;
	struct mcc_place p = {0};
	struct mc_error err = {0};
	struct mc_manifest *m = NULL;
	char *json = NULL;

	/* A draft entry for site b: only the drafts preview shows it. */
	put(f, "entries", "e-b-draft",
	    "{\"id\":\"e-b-draft\",\"playlist\":\"pl-a\",\"channel\":"
	    "\"screen\",\"targets\":{\"sites\":[\"b\"]}}",
	    false);
	assert_int_equal(mcc_org_site_place(f->db, "b", &p, &err), MC_OK);
	assert_int_equal(
	        mcc_compile_place(&f->c, f->db, &p, false, &json, &err), MC_OK);
	assert_int_equal(mc_manifest_parse(json, strlen(json), MC_DOC_MANIFEST,
	                                   &m, &err),
	                 MC_OK);
	assert_true(has_entry(m, "e-all"));
	assert_false(has_entry(m, "e-b-draft"));
	assert_false(has_entry(m, "e-tag")); /* a site has no tags */
	mc_manifest_free(m);
	free(json);
	assert_int_equal(mcc_compile_place(&f->c, f->db, &p, true, &json, &err),
	                 MC_OK);
	assert_int_equal(mc_manifest_parse(json, strlen(json), MC_DOC_MANIFEST,
	                                   &m, &err),
	                 MC_OK);
	assert_true(has_entry(m, "e-b-draft"));
	mc_manifest_free(m);
	free(json);
	mcc_place_clear(&p);
	/* The node's preview equals what publish stores for it. */
	{
		struct mcc_publish_report rep;
		char *sha, got[65];

		assert_int_equal(mcc_org_node_place(f->db, "b2", &p, &err),
		                 MC_OK);
		assert_int_equal(
		        mcc_compile_place(&f->c, f->db, &p, false, &json, &err),
		        MC_OK);
		publish_ok(f, false, &rep);
		mcc_publish_report_clear(&rep);
		sha = sha_of(f, "b2");
		mc_sha256_hex(json, strlen(json), got);
		assert_string_equal(got, sha);
		free(sha);
		free(json);
		mcc_place_clear(&p);
	}
}

static void test_tick_resigns(void **state)
{
	struct fx *f = *state;
	struct mcc_publish_report rep;
	char *before, *after;

	publish_ok(f, false, &rep);
	mcc_publish_report_clear(&rep);
	before = sha_of(f, "b1");
	/* b1's pointer is about to expire. */
	sql(f->db,
	    "UPDATE node_desired SET expires_ms = %lld WHERE node_id "
	    "= 'b1'",
	    (long long)(mc_now_ms() + 1000));
	mcc_publish_tick(&f->c);
	assert_int_equal(version_of(f, "b1"), 2);
	assert_int_equal(version_of(f, "b2"), 1);
	after = sha_of(f, "b1");
	assert_string_equal(before, after);
	assert_true(sql_int(f->db, "SELECT expires_ms FROM node_desired WHERE "
	                           "node_id = 'b1'") >
	            mc_now_ms() + f->c.cfg.resign_before_s * 1000);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM audit WHERE "
	                                "action = 'publish.resign'"),
	                 1);
	/* A publish also re-signs a pointer near expiry. */
	sql(f->db,
	    "UPDATE node_desired SET expires_ms = %lld WHERE node_id "
	    "= 'b2'",
	    (long long)(mc_now_ms() + 1000));
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 1);
	mcc_publish_report_clear(&rep);
	assert_int_equal(version_of(f, "b2"), 2);
	free(before);
	free(after);
}

static void test_node_ahead(void **state)
{
	struct fx *f = *state;
	struct mcc_publish_report rep;

	publish_ok(f, false, &rep);
	mcc_publish_report_clear(&rep);
	/* The database was restored from an older backup: b1 reports a
	 * version above the one stored, a1 one equal to it. */
	sql(f->db, "INSERT INTO node_live (node_id, online, applied_version) "
	           "VALUES ('b1', 1, 5), ('a1', 1, 1)");
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 1);
	mcc_publish_report_clear(&rep);
	assert_int_equal(version_of(f, "b1"), 6);
	assert_int_equal(version_of(f, "a1"), 1);
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 0);
	mcc_publish_report_clear(&rep);
	/* A node with no pointer here but a version applied. */
	sql(f->db, "DELETE FROM node_desired WHERE node_id = 'b2'");
	sql(f->db, "INSERT INTO node_live (node_id, online, applied_version) "
	           "VALUES ('b2', 1, 9)");
	publish_ok(f, false, &rep);
	assert_int_equal(rep.changed, 1);
	mcc_publish_report_clear(&rep);
	assert_int_equal(version_of(f, "b2"), 10);
	/* The tick's re-sign also stays above what the node applied. */
	sql(f->db, "UPDATE node_live SET applied_version = 20 WHERE node_id = "
	           "'b2'");
	sql(f->db, "UPDATE node_desired SET expires_ms = 1 WHERE node_id = "
	           "'b2'");
	mcc_publish_tick(&f->c);
	assert_int_equal(version_of(f, "b2"), 21);
}

/* A node deleted and registered again under its id: its player still
 * holds the old version, so the new pointers must be above it. */
static void test_node_reregistered(void **state)
{
	struct fx *f = *state;
	struct mcc_publish_report rep;
	int64_t before;

	publish_ok(f, false, &rep);
	mcc_publish_report_clear(&rep);
	publish_ok(f, true, &rep);
	mcc_publish_report_clear(&rep);
	before = version_of(f, "b1");
	assert_true(before >= 2);
	sql(f->db, "DELETE FROM nodes WHERE id = 'b1'");
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM node_desired "
	                                "WHERE node_id = 'b1'"),
	                 0);
	sql(f->db, "INSERT INTO nodes (id, site_id, created_ms) VALUES ('b1', "
	           "'b', 2)");
	publish_ok(f, false, &rep);
	mcc_publish_report_clear(&rep);
	assert_int_equal(version_of(f, "b1"), before + 1);
}

static void test_empty_fleet(void **state)
{
	struct fx *f = *state;
	struct mcc_publish_report rep;

	sql(f->db, "DELETE FROM node_tags; DELETE FROM nodes");
	publish_ok(f, false, &rep);
	assert_int_equal(rep.nodes, 0);
	assert_int_equal(rep.changed, 0);
	assert_int_equal(rep.manifests, 0);
	mcc_publish_report_clear(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pointer_verifies, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_republish_nothing, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_only_changed, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_force_and_nodes, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_skipped, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_no_key, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_compile_place, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_tick_resigns, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_node_ahead, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_node_reregistered, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_empty_fleet, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
