/*
 * Unit tests for the organisation (controller/daemon/org.c) against a
 * real database made by the controller's migrations: where a node sits,
 * targets validated, selected, expanded to their wire form and resolved
 * to nodes; and the broker files provisioning keeps (provision.c): the
 * password file changed with the real mosquitto_passwd, the ACL file
 * with its kept part, the reload command.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mc_test.h"
#include "mc_ctl_test.h"
#include "minecast/util.h"

#include "db.h"
#include "mcc.h"
#include "org.h"
#include "provision.h"

struct fixture {
	char dir[64]; /* temporary directory: data dir and broker files */
	struct mcc c; /* the controller's context */
	sqlite3 *db;  /* this thread's connection */
};

static void sql(sqlite3 *db, const char *text)
{
	char *msg = NULL;

	if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", text, msg ? msg : "?");
}

/*
 * The organisation every test starts from:
 *   vinacomin ─ than-ha-lam ─ ha-lam-1 ─ n1 (tags nha-an, cong-chinh)
 *                           └ ha-lam-2 ─ n2
 *   (no group) ─ than-mao-khe ─ mao-khe ─ n3 (tag nha-an)
 *   (no company) ─ kho-trung-tam ─ n4
 *   bo-cong-thuong (a group with no company)
 */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->db = mcct_open(&f->c, f->dir, sizeof(f->dir), "org");
	sql(f->db,
	    "INSERT INTO groups (id, name, created_ms) VALUES "
	    " ('vinacomin', 'Tập đoàn TKV', 1), ('bo-cong-thuong', '', 1);"
	    "INSERT INTO companies (id, name, group_id, created_ms) VALUES "
	    " ('than-ha-lam', 'Công ty Than Hà Lầm', 'vinacomin', 1),"
	    " ('than-mao-khe', 'Công ty Than Mạo Khê', NULL, 1);"
	    "INSERT INTO sites (id, name, company_id, created_ms) VALUES "
	    " ('ha-lam-1', '', 'than-ha-lam', 1),"
	    " ('ha-lam-2', '', 'than-ha-lam', 1),"
	    " ('mao-khe', '', 'than-mao-khe', 1),"
	    " ('kho-trung-tam', '', NULL, 1);"
	    "INSERT INTO nodes (id, name, site_id, created_ms) VALUES "
	    " ('n1', '', 'ha-lam-1', 1), ('n2', '', 'ha-lam-2', 1),"
	    " ('n3', '', 'mao-khe', 1), ('n4', '', 'kho-trung-tam', 1);"
	    "INSERT INTO node_tags (node_id, tag) VALUES "
	    " ('n1', 'nha-an'), ('n1', 'cong-chinh'), ('n3', 'nha-an');");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mcc_teardown(&f->c);
	mc_test_sh("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

static json_t *js(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	if (!v)
		fail_msg("bad test JSON %s: %s", text, je.text);
	return v;
}

/* ---- places -------------------------------------------------------- */

static void test_node_place(void **state)
{
	struct fixture *f = *state;
	struct mcc_place p = {0};
	struct mc_error err;
	enum mc_err rc;

	assert_int_equal(mcc_org_node_place(f->db, "n1", &p, &err), MC_OK);
	assert_string_equal(p.node, "n1");
	assert_string_equal(p.site, "ha-lam-1");
	assert_string_equal(p.company, "than-ha-lam");
	assert_string_equal(p.group, "vinacomin");
	assert_int_equal(p.n_tags, 2);
	assert_string_equal(p.tags[0], "cong-chinh"); /* sorted */
	assert_string_equal(p.tags[1], "nha-an");
	mcc_place_clear(&p);

	assert_int_equal(mcc_org_node_place(f->db, "n3", &p, &err), MC_OK);
	assert_string_equal(p.company, "than-mao-khe");
	assert_null(p.group);
	mcc_place_clear(&p);

	assert_int_equal(mcc_org_node_place(f->db, "n4", &p, &err), MC_OK);
	assert_null(p.company);
	assert_null(p.group);
	assert_int_equal(p.n_tags, 0);
	mcc_place_clear(&p);

	rc = mcc_org_node_place(f->db, "nope", &p, &err);
	mc_test_expect_error(rc, &err, MC_ERR_NOTFOUND, "node: ", "no node");
	assert_non_null(strstr(err.msg, "'nope'"));
	assert_null(p.node);
}

static void test_site_place(void **state)
{
	struct fixture *f = *state;
	struct mcc_place p = {0};
	struct mc_error err;
	enum mc_err rc;

	assert_int_equal(mcc_org_site_place(f->db, "ha-lam-2", &p, &err),
	                 MC_OK);
	assert_null(p.node);
	assert_string_equal(p.site, "ha-lam-2");
	assert_string_equal(p.company, "than-ha-lam");
	assert_string_equal(p.group, "vinacomin");
	mcc_place_clear(&p);
	rc = mcc_org_site_place(f->db, "x", &p, &err);
	mc_test_expect_error(rc, &err, MC_ERR_NOTFOUND, "site: ", "no site");
}

static void test_all_places(void **state)
{
	struct fixture *f = *state;
	struct mcc_place *pl = NULL;
	struct mc_error err;
	size_t n = 0;

	assert_int_equal(mcc_org_all_places(f->db, &pl, &n, &err), MC_OK);
	assert_int_equal(n, 4);
	assert_string_equal(pl[0].node, "n1");
	assert_int_equal(pl[0].n_tags, 2);
	assert_string_equal(pl[0].tags[1], "nha-an");
	assert_string_equal(pl[0].group, "vinacomin");
	assert_string_equal(pl[1].node, "n2");
	assert_int_equal(pl[1].n_tags, 0);
	assert_string_equal(pl[2].node, "n3");
	assert_int_equal(pl[2].n_tags, 1);
	assert_string_equal(pl[2].tags[0], "nha-an");
	assert_null(pl[2].group);
	assert_string_equal(pl[3].node, "n4");
	assert_null(pl[3].company);
	mcc_places_free(pl, n);

	/* No node at all. */
	sql(f->db, "DELETE FROM nodes");
	assert_int_equal(mcc_org_all_places(f->db, &pl, &n, &err), MC_OK);
	assert_int_equal(n, 0);
	assert_null(pl);
}

/* A fleet the size publishing is measured at: the bulk read agrees with
 * the one-by-one read, node by node. */
static void test_all_places_fleet(void **state)
{
	struct fixture *f = *state;
	struct mcc_place *pl = NULL;
	struct mc_error err;
	size_t n = 0;

	sql(f->db, "BEGIN;"
	           "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 "
	           "FROM k WHERE i < 9999) "
	           "INSERT INTO nodes (id, name, site_id, created_ms) "
	           "SELECT printf('pi-%05d', i), '', CASE i % 3 WHEN 0 THEN "
	           "'ha-lam-1' WHEN 1 THEN 'mao-khe' ELSE 'kho-trung-tam' END,"
	           " 1 FROM k;"
	           "INSERT INTO node_tags (node_id, tag) SELECT id, 'loa' FROM "
	           "nodes WHERE id LIKE 'pi-%' AND substr(id, 8, 1) IN "
	           "('1', '3');"
	           "INSERT INTO node_tags (node_id, tag) SELECT id, 'man-hinh' "
	           "FROM nodes WHERE id LIKE 'pi-%' AND substr(id, 8, 1) = '3';"
	           "COMMIT;");
	assert_int_equal(mcc_org_all_places(f->db, &pl, &n, &err), MC_OK);
	assert_int_equal(n, 10004);
	for (size_t i = 0; i < n; i += 97) {
		struct mcc_place one = {0};

		assert_int_equal(
		        mcc_org_node_place(f->db, pl[i].node, &one, &err),
		        MC_OK);
		assert_string_equal(one.site, pl[i].site);
		assert_int_equal(one.n_tags, pl[i].n_tags);
		for (size_t t = 0; t < one.n_tags; t++)
			assert_string_equal(one.tags[t], pl[i].tags[t]);
		mcc_place_clear(&one);
	}
	for (size_t i = 1; i < n; i++)
		assert_true(strcmp(pl[i - 1].node, pl[i].node) < 0);
	mcc_places_free(pl, n);
}

/* ---- validate ------------------------------------------------------ */

static void expect_invalid(struct fixture *f, const char *targets,
                           enum mc_err code, const char *field)
{
	json_t *t = js(targets);
	struct mc_error err;
	enum mc_err rc;

	mc_error_clear(&err);
	rc = mcc_targets_validate(f->db, t, &err);
	mc_test_expect_error(rc, &err, code, field, targets);
	json_decref(t);
}

static void test_validate(void **state)
{
	struct fixture *f = *state;
	static const char *const good[] = {
	        "null",
	        "{}",
	        "{\"sites\": []}",
	        "{\"groups\": [\"vinacomin\", \"bo-cong-thuong\"]}",
	        "{\"companies\": [\"than-mao-khe\"], \"sites\": [\"mao-khe\"]}",
	        "{\"tags\": [\"anything-goes\", \"nha-an\"]}",
	        "{\"nodes\": [\"n1\", \"n1\", \"n4\"], \"tags\": []}",
	};
	struct mc_error err;
	json_t *t;

	for (size_t i = 0; i < MC_ARRAY_LEN(good); i++) {
		t = js(good[i]);
		if (mcc_targets_validate(f->db, t, &err) != MC_OK)
			fail_msg("%s: %s", good[i], err.msg);
		json_decref(t);
	}
	assert_int_equal(mcc_targets_validate(f->db, NULL, &err), MC_OK);

	expect_invalid(f, "[]", MC_ERR_TYPE, "targets: ");
	expect_invalid(f, "\"cua-lo\"", MC_ERR_TYPE, "targets: ");
	expect_invalid(f, "{\"site\": [\"mao-khe\"]}", MC_ERR_RANGE,
	               "targets: ");
	expect_invalid(f, "{\"sites\": \"mao-khe\"}", MC_ERR_TYPE,
	               "targets.sites: ");
	expect_invalid(f, "{\"tags\": {}}", MC_ERR_TYPE, "targets.tags: ");
	expect_invalid(f, "{\"sites\": [\"mao-khe\", 7]}", MC_ERR_TYPE,
	               "targets.sites[1]: ");
	expect_invalid(f, "{\"nodes\": [null]}", MC_ERR_TYPE,
	               "targets.nodes[0]: ");
	expect_invalid(f, "{\"tags\": [\"a b\"]}", MC_ERR_RANGE,
	               "targets.tags[0]: ");
	expect_invalid(f, "{\"sites\": [\"\"]}", MC_ERR_RANGE,
	               "targets.sites[0]: ");
	expect_invalid(f, "{\"sites\": [\"mao-khe\", \"cua-lo\"]}", MC_ERR_REF,
	               "targets.sites[1]: ");
	expect_invalid(f, "{\"sites\": [\"mao-khe\", \"cua-lo\"]}", MC_ERR_REF,
	               "no site 'cua-lo'");
	expect_invalid(f, "{\"groups\": [\"tkv\"]}", MC_ERR_REF,
	               "targets.groups[0]: ");
	expect_invalid(f, "{\"companies\": [\"than-ha-lam\", \"x\"]}",
	               MC_ERR_REF, "targets.companies[1]: ");
	expect_invalid(f, "{\"nodes\": [\"n5\"]}", MC_ERR_REF,
	               "targets.nodes[0]: ");
	/* An id of 65 bytes. */
	expect_invalid(
	        f,
	        "{\"nodes\": [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	        "aaaaaaaaaaaaaaaaaaaaaa\"]}",
	        MC_ERR_RANGE, "targets.nodes[0]: ");

	/* 1000 ids pass, 1001 do not. */
	t = json_object();
	{
		json_t *a = json_array();

		for (int i = 0; i < MCC_TARGETS_MAX; i++)
			json_array_append_new(a, json_string("nha-an"));
		json_object_set_new(t, "tags", a);
		assert_int_equal(mcc_targets_validate(f->db, t, &err), MC_OK);
		json_array_append_new(a, json_string("nha-an"));
		mc_test_expect_error(mcc_targets_validate(f->db, t, &err), &err,
		                     MC_ERR_RANGE, "targets.tags: ", "1001");
	}
	json_decref(t);
}

/* ---- select, nodes ------------------------------------------------- */

/* The nodes targets selects, as "n1,n3". */
static void expect_nodes(struct fixture *f, const char *targets,
                         const char *want)
{
	json_t *t = js(targets);
	struct mc_error err;
	char got[256] = "";
	char **ids = NULL;
	size_t n = 0;

	if (mcc_targets_nodes(f->db, t, &ids, &n, &err) != MC_OK)
		fail_msg("%s: %s", targets, err.msg);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(got, ",");
		strcat(got, ids[i]);
	}
	if (strcmp(got, want) != 0)
		fail_msg("%s selects %s, expected %s", targets, got, want);
	mcc_ids_free(ids, n);

	/* mcc_targets_select says the same for every place. */
	{
		struct mcc_place *pl;
		char again[256] = "";

		assert_int_equal(mcc_org_all_places(f->db, &pl, &n, &err),
		                 MC_OK);
		for (size_t i = 0; i < n; i++) {
			if (!mcc_targets_select(t, &pl[i]))
				continue;
			if (*again)
				strcat(again, ",");
			strcat(again, pl[i].node);
		}
		assert_string_equal(again, want);
		mcc_places_free(pl, n);
	}
	json_decref(t);
}

static void test_select(void **state)
{
	struct fixture *f = *state;

	expect_nodes(f, "null", "n1,n2,n3,n4");
	expect_nodes(f, "{}", "n1,n2,n3,n4");
	expect_nodes(f, "{\"sites\": [], \"tags\": []}", "n1,n2,n3,n4");
	expect_nodes(f, "{\"groups\": [\"vinacomin\"]}", "n1,n2");
	expect_nodes(f, "{\"groups\": [\"bo-cong-thuong\"]}", "");
	expect_nodes(f, "{\"companies\": [\"than-mao-khe\"]}", "n3");
	expect_nodes(f, "{\"sites\": [\"ha-lam-2\", \"kho-trung-tam\"]}",
	             "n2,n4");
	expect_nodes(f, "{\"tags\": [\"nha-an\"]}", "n1,n3");
	expect_nodes(f, "{\"tags\": [\"khong-co\"]}", "");
	expect_nodes(f, "{\"nodes\": [\"n4\"], \"tags\": [\"cong-chinh\"]}",
	             "n1,n4");
	expect_nodes(f,
	             "{\"groups\": [\"vinacomin\"], \"companies\": "
	             "[\"than-mao-khe\"]}",
	             "n1,n2,n3");

	/* A site-wide place (no node, no tags). */
	{
		struct mcc_place p = {0};
		struct mc_error err;
		json_t *t = js("{\"groups\": [\"vinacomin\"]}");
		json_t *u = js("{\"tags\": [\"nha-an\"], \"nodes\": [\"n1\"]}");

		assert_int_equal(
		        mcc_org_site_place(f->db, "ha-lam-1", &p, &err), MC_OK);
		assert_true(mcc_targets_select(t, &p));
		assert_false(mcc_targets_select(u, &p));
		assert_true(mcc_targets_select(NULL, &p));
		mcc_place_clear(&p);
		json_decref(t);
		json_decref(u);
	}
}

/* ---- expand -------------------------------------------------------- */

static void strv_is(char **v, size_t n, const char *want)
{
	char got[512] = "";

	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(got, ",");
		strcat(got, v[i]);
	}
	assert_string_equal(got, want);
}

static void test_expand(void **state)
{
	struct fixture *f = *state;
	struct mc_targets w;
	struct mc_error err;
	enum mc_err rc;
	json_t *t;

	t = js("{\"groups\": [\"vinacomin\"], \"sites\": [\"mao-khe\", "
	       "\"ha-lam-1\"], \"tags\": [\"nha-an\", \"a\", \"nha-an\"], "
	       "\"nodes\": [\"n4\"]}");
	assert_int_equal(mcc_targets_expand(f->db, t, &w, &err), MC_OK);
	strv_is(w.sites, w.n_sites, "ha-lam-1,ha-lam-2,mao-khe");
	strv_is(w.tags, w.n_tags, "a,nha-an");
	strv_is(w.nodes, w.n_nodes, "n4");
	mcc_targets_clear(&w);
	assert_null(w.sites);
	json_decref(t);

	t = js("{\"companies\": [\"than-mao-khe\", \"than-ha-lam\"]}");
	assert_int_equal(mcc_targets_expand(f->db, t, &w, &err), MC_OK);
	strv_is(w.sites, w.n_sites, "ha-lam-1,ha-lam-2,mao-khe");
	assert_int_equal(w.n_tags, 0);
	assert_int_equal(w.n_nodes, 0);
	mcc_targets_clear(&w);
	json_decref(t);

	/* Everyone stays everyone. */
	assert_int_equal(mcc_targets_expand(f->db, NULL, &w, &err), MC_OK);
	assert_int_equal(w.n_sites + w.n_tags + w.n_nodes, 0);
	t = js("{\"groups\": []}");
	assert_int_equal(mcc_targets_expand(f->db, t, &w, &err), MC_OK);
	assert_int_equal(w.n_sites + w.n_tags + w.n_nodes, 0);
	json_decref(t);

	/* A group without sites must not become the whole fleet. */
	t = js("{\"groups\": [\"bo-cong-thuong\"]}");
	rc = mcc_targets_expand(f->db, t, &w, &err);
	mc_test_expect_error(rc, &err, MC_ERR_RANGE,
	                     "targets: ", "empty group");
	assert_int_equal(w.n_sites + w.n_tags + w.n_nodes, 0);
	json_decref(t);
	/* ... unless something else is named. */
	t = js("{\"groups\": [\"bo-cong-thuong\"], \"tags\": [\"loa\"]}");
	assert_int_equal(mcc_targets_expand(f->db, t, &w, &err), MC_OK);
	assert_int_equal(w.n_sites, 0);
	strv_is(w.tags, w.n_tags, "loa");
	mcc_targets_clear(&w);
	json_decref(t);

	/* The wire form selects on the node exactly what the controller
	 * selects (mc_targets_match is the node's own check). */
	t = js("{\"groups\": [\"vinacomin\"], \"tags\": [\"nha-an\"]}");
	assert_int_equal(mcc_targets_expand(f->db, t, &w, &err), MC_OK);
	{
		struct mcc_place *pl;
		size_t n;

		assert_int_equal(mcc_org_all_places(f->db, &pl, &n, &err),
		                 MC_OK);
		for (size_t i = 0; i < n; i++) {
			struct mc_who who = {pl[i].node, pl[i].site,
			                     (const char *const *)pl[i].tags,
			                     pl[i].n_tags};

			assert_int_equal(mc_targets_match(&w, &who),
			                 mcc_targets_select(t, &pl[i]));
		}
		mcc_places_free(pl, n);
	}
	mcc_targets_clear(&w);
	json_decref(t);
}

/* ---- broker files -------------------------------------------------- */

static char *slurp(const char *path)
{
	struct mc_error err;
	char *text = NULL;
	size_t len;

	if (mc_read_file(path, 1 << 24, &text, &len, &err) != MC_OK)
		fail_msg("%s", err.msg);
	return text;
}

/* Occurrences of needle in text. */
static int count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_broker_files(void **state)
{
	struct fixture *f = *state;
	char pw[128], acl[128], mark[128];
	struct mc_error err;
	char *text;
	struct stat st;

	snprintf(pw, sizeof(pw), "%s/passwd", f->dir);
	snprintf(acl, sizeof(acl), "%s/acl", f->dir);
	snprintf(mark, sizeof(mark), "%s/reloaded", f->dir);
	mcct_set(&f->c, "provision.mosquitto_passwd=%s", pw);
	mcct_set(&f->c, "provision.mosquitto_acl=%s", acl);
	mcct_set(&f->c, "provision.mosquitto_reload=echo hup >> %s", mark);
	mcct_set(&f->c, "mqtt.user=controller");
	mcct_set(&f->c, "mqtt.password=ctl-secret");

	/* An ACL someone wrote by hand: kept, below the marker. */
	mc_test_sh("printf 'user bridge-mao-khe\\ntopic read #\\n' > %s", acl);
	assert_int_equal(mcc_provision_sync(&f->c, &err), MC_OK);
	text = slurp(pw);
	assert_non_null(strstr(text, "controller:$"));
	free(text);
	assert_int_equal(stat(pw, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	text = slurp(acl);
	assert_non_null(
	        strstr(text, "pattern write minecast/v1/node/%u/state"));
	assert_non_null(strstr(text, "user controller\ntopic read      "
	                             "minecast/v1/node/+/#"));
	assert_non_null(strstr(text, "local additions"));
	assert_true(strstr(text, "user bridge-mao-khe") >
	            strstr(text, "local additions"));
	free(text);
	text = slurp(mark);
	assert_string_equal(text, "hup\n");
	free(text);

	/* Again: nothing changes, no reload. */
	assert_int_equal(mcc_provision_sync(&f->c, &err), MC_OK);
	text = slurp(mark);
	assert_string_equal(text, "hup\n");
	free(text);
	/* Rewritten: the kept part once, not twice. */
	assert_int_equal(mcc_provision_write_acl(&f->c, &err), MC_OK);
	text = slurp(acl);
	assert_int_equal(count(text, "user bridge-mao-khe"), 1);
	free(text);

	/* A node's user is removed with the node. */
	mc_test_sh("mosquitto_passwd -b %s n1 n1-secret", pw);
	assert_int_equal(mcc_provision_forget(&f->c, "n1", &err), MC_OK);
	text = slurp(pw);
	assert_null(strstr(text, "n1:"));
	assert_non_null(strstr(text, "controller:"));
	free(text);
	text = slurp(mark);
	assert_string_equal(text, "hup\nhup\n");
	free(text);
	/* Forgetting a node that has no entry changes nothing. */
	assert_int_equal(mcc_provision_forget(&f->c, "n2", &err), MC_OK);
	text = slurp(mark);
	assert_string_equal(text, "hup\nhup\n");
	free(text);
	/* No temporary file is left beside the password file. */
	mc_test_sh("test $(ls %s | grep -c passwd) -eq 1", f->dir);
}

static void test_broker_files_fail(void **state)
{
	struct fixture *f = *state;
	struct mc_error err;
	char pw[128];

	/* A password file in a directory that does not exist. */
	snprintf(pw, sizeof(pw), "%s/nowhere/passwd", f->dir);
	mcct_set(&f->c, "provision.mosquitto_passwd=%s", pw);
	mcct_set(&f->c, "mqtt.user=controller");
	mcct_set(&f->c, "mqtt.password=ctl-secret");
	assert_int_not_equal(mcc_provision_sync(&f->c, &err), MC_OK);
	assert_int_equal(err.code, MC_ERR_IO);
	assert_non_null(strstr(err.msg, "provision: "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_node_place, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_site_place, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_all_places, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_all_places_fleet, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_validate, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_select, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_expand, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_broker_files, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_broker_files_fail, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
