/*
 * Unit tests for the controller's core without the network: the
 * configuration reader (config.c), the database layer and its migrations
 * (db.c), the audit log (audit.c), credentials (auth.c), the blob store
 * (blob.c) and the metrics registry (metrics.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "mc_test.h"
#include "minecast/sign.h"
#include "minecast/util.h"

#include "audit.h"
#include "auth.h"
#include "blob.h"
#include "config.h"
#include "db.h"
#include "db_internal.h"
#include "mcc.h"
#include "metrics.h"

struct fixture {
	char dir[64]; /* temporary directory: the data dir */
	struct mcc c; /* the controller's context */
	sqlite3 *db;  /* this thread's connection */
};

static void sql(sqlite3 *db, const char *text)
{
	char *msg = NULL;

	if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", text, msg ? msg : "?");
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mc_error err;
	char buf[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mc-core-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (mcc_config_load(&f->c.cfg, NULL, &err) != MC_OK)
		fail_msg("config: %s", err.msg);
	snprintf(buf, sizeof(buf), "controller.data_dir=%s/data", f->dir);
	if (mcc_config_set(&f->c.cfg, buf, &err) != MC_OK)
		fail_msg("--set: %s", err.msg);
	if (mcc_setup(&f->c, &err) != MC_OK)
		fail_msg("setup: %s", err.msg);
	f->db = mcc_db(&f->c);
	assert_non_null(f->db);
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

/* ---- config ---- */

/* Parse text; returns the result, err filled. */
static enum mc_err parse(struct mcc_config *cfg, const char *text,
                         struct mc_error *err)
{
	return mcc_config_parse(cfg, text, strlen(text), "/etc/mc/c.conf", NULL,
	                        err);
}

static void test_config_defaults(void **state)
{
	struct mcc_config cfg;
	struct mc_error err;

	(void)state;
	assert_int_equal(mcc_config_load(&cfg, NULL, &err), MC_OK);
	assert_string_equal(cfg.data_dir, "/var/lib/minecast");
	assert_string_equal(cfg.listen, "127.0.0.1:8080");
	assert_int_equal(cfg.http_threads, 8);
	assert_null(cfg.public_url);
	assert_string_equal(cfg.key_file, "/var/lib/minecast/signing.key");
	assert_string_equal(cfg.trusted_keys, "/var/lib/minecast/trusted.pub");
	assert_string_equal(cfg.log_level, "info");
	assert_true(cfg.max_upload_bytes == 256LL * 1024 * 1024);
	assert_string_equal(cfg.render_cmd, "minecast-player");
	assert_true(cfg.preview_cache_bytes == 64LL * 1024 * 1024);
	assert_string_equal(cfg.mqtt_host, "127.0.0.1");
	assert_int_equal(cfg.mqtt_port, 1883);
	assert_null(cfg.mqtt_user);
	assert_null(cfg.mqtt_password);
	assert_null(cfg.mqtt_cafile);
	assert_string_equal(cfg.mqtt_client_id, "minecast-controller");
	assert_true(cfg.pointer_ttl_s == 30 * 86400);
	assert_true(cfg.resign_before_s == 7 * 86400);
	assert_true(cfg.alert_lead_ms == 500);
	assert_true(cfg.alert_ttl_s == 3600);
	assert_true(cfg.stale_s == 120);
	assert_true(cfg.sync_behind_s == 600);
	assert_true(cfg.disk_low_pct == 10.0);
	assert_true(cfg.hot_c == 80.0);
	assert_true(cfg.clock_offset_ms == 1000.0);
	assert_true(cfg.pop_retention_days == 400);
	assert_null(cfg.mosquitto_passwd);
	assert_null(cfg.mosquitto_acl);
	assert_null(cfg.mosquitto_reload);
	assert_string_equal(cfg.node_mqtt_host, "127.0.0.1");
	assert_int_equal(cfg.node_mqtt_port, 1883);
	assert_null(cfg.node_http_base);
	mcc_config_free(&cfg);
}

static void test_config_full(void **state)
{
	static const char text[] =
	        "\xEF\xBB\xBF# controller.conf\n"
	        "[controller]\n"
	        "data_dir = data      # relative to the file\n"
	        "listen = [::1]:9090\r\n"
	        "http_threads = 4\n"
	        "public_url = https://minecast.example.vn\n"
	        "key_file = /etc/minecast/ctl.key\n"
	        "log_level = debug\n"
	        "max_upload_bytes = 1G\n"
	        "preview_cache = 0\n"
	        "render_cmd = \"/opt/mc/minecast-player # not a comment\"\n"
	        "; a comment\n"
	        "[mqtt]\n"
	        "host = broker.example.vn\n"
	        "port = 8883\n"
	        "user = controller\n"
	        "password = \"s3cr#t pass\"\n"
	        "cafile = /etc/ssl/ca.pem\n"
	        "client_id = ctl-1\n"
	        "[publish]\n"
	        "pointer_ttl_s = 14d\n"
	        "resign_before_s = 86400\n"
	        "[alerts]\n"
	        "alert_lead_ms = 1s\n"
	        "alert_ttl_s = 30m\n"
	        "[fleet]\n"
	        "stale_s = 2m\n"
	        "sync_behind_s = 1h\n"
	        "disk_low_pct = 5.5\n"
	        "hot_c = 75\n"
	        "clock_offset_ms = 250\n"
	        "pop_retention_days = 30\n"
	        "[provision]\n"
	        "mosquitto_passwd = /etc/mosquitto/passwd\n"
	        "mosquitto_acl = acl\n"
	        "mosquitto_reload = systemctl reload mosquitto\n"
	        "node_mqtt_port = 1884\n";
	struct mcc_config cfg;
	struct mc_error err;

	(void)state;
	if (parse(&cfg, text, &err) != MC_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(cfg.data_dir, "/etc/mc/data");
	assert_string_equal(cfg.listen, "[::1]:9090");
	assert_int_equal(cfg.http_threads, 4);
	assert_string_equal(cfg.public_url, "https://minecast.example.vn");
	assert_string_equal(cfg.key_file, "/etc/minecast/ctl.key");
	/* Derived from data_dir since not given. */
	assert_string_equal(cfg.trusted_keys, "/etc/mc/data/trusted.pub");
	assert_string_equal(cfg.log_level, "debug");
	assert_true(cfg.max_upload_bytes == 1024LL * 1024 * 1024);
	assert_true(cfg.preview_cache_bytes == 0);
	assert_string_equal(cfg.render_cmd,
	                    "/opt/mc/minecast-player # not a comment");
	assert_string_equal(cfg.mqtt_host, "broker.example.vn");
	assert_int_equal(cfg.mqtt_port, 8883);
	assert_string_equal(cfg.mqtt_user, "controller");
	assert_string_equal(cfg.mqtt_password, "s3cr#t pass");
	assert_string_equal(cfg.mqtt_cafile, "/etc/ssl/ca.pem");
	assert_string_equal(cfg.mqtt_client_id, "ctl-1");
	assert_true(cfg.pointer_ttl_s == 14 * 86400);
	assert_true(cfg.resign_before_s == 86400);
	assert_true(cfg.alert_lead_ms == 1000);
	assert_true(cfg.alert_ttl_s == 1800);
	assert_true(cfg.stale_s == 120);
	assert_true(cfg.sync_behind_s == 3600);
	assert_true(cfg.disk_low_pct == 5.5);
	assert_true(cfg.hot_c == 75.0);
	assert_true(cfg.clock_offset_ms == 250.0);
	assert_true(cfg.pop_retention_days == 30);
	assert_string_equal(cfg.mosquitto_passwd, "/etc/mosquitto/passwd");
	assert_string_equal(cfg.mosquitto_acl, "/etc/mc/acl");
	assert_string_equal(cfg.mosquitto_reload, "systemctl reload mosquitto");
	assert_string_equal(cfg.node_mqtt_host, "broker.example.vn");
	assert_int_equal(cfg.node_mqtt_port, 1884);
	assert_string_equal(cfg.node_http_base, "https://minecast.example.vn");
	mcc_config_free(&cfg);
}

/* Each bad file: the exact first message it must give. */
static void test_config_errors(void **state)
{
	static const struct {
		const char *text;
		enum mc_err code;
		const char *msg;
	} cases[] = {
	        {"[controller]\nlisten = 1.2.3.4\n", MC_ERR_RANGE,
	         "/etc/mc/c.conf:2 [controller] listen: '1.2.3.4' is not "
	         "valid"},
	        {"[controller]\nlisten = 1.2.3.4:70000\n", MC_ERR_RANGE,
	         "/etc/mc/c.conf:2 [controller] listen:"},
	        {"[controller]\nlisten = [::1:80\n", MC_ERR_RANGE,
	         "/etc/mc/c.conf:2 [controller] listen:"},
	        {"[controller]\nlisten = host.example:80\n", MC_ERR_RANGE,
	         "/etc/mc/c.conf:2 [controller] listen:"},
	        {"[controller]\nhttp_threads = 0\n", MC_ERR_RANGE,
	         "/etc/mc/c.conf:2 [controller] http_threads: '0' is out of "
	         "range"},
	        {"[controller]\nhttp_threads = eight\n", MC_ERR_TYPE,
	         "/etc/mc/c.conf:2 [controller] http_threads: 'eight' is not "
	         "a whole number"},
	        {"[controller]\nhttp_threads = 99999999999999999999\n",
	         MC_ERR_TYPE, "[controller] http_threads:"},
	        {"[controller]\nlisten_port = 80\n", MC_ERR_PARSE,
	         "/etc/mc/c.conf:2 [controller] listen_port: unknown key; "
	         "[controller] has data_dir, listen"},
	        {"[controller]\nport = 80\n", MC_ERR_PARSE,
	         "/etc/mc/c.conf:2 [controller] port: unknown key here; it "
	         "belongs in [mqtt]"},
	        {"[http]\nlisten = x\n", MC_ERR_PARSE,
	         "/etc/mc/c.conf:1 [http]: unknown section; known are "
	         "[controller], [mqtt]"},
	        {"listen = 1.2.3.4:80\n", MC_ERR_PARSE,
	         "/etc/mc/c.conf:1 listen: outside any section"},
	        {"[controller\n", MC_ERR_PARSE,
	         "/etc/mc/c.conf:1: '[controller' has no closing ']'"},
	        {"[controller]\nhttp_threads = 2\nhttp_threads = 3\n",
	         MC_ERR_PARSE,
	         "/etc/mc/c.conf:3 [controller] http_threads: given twice "
	         "(first on line 2)"},
	        {"[controller]\nrender_cmd = \"abc\n", MC_ERR_PARSE,
	         "/etc/mc/c.conf:2 [controller] render_cmd: a value opened "
	         "with \" is not closed"},
	        {"[controller]\nrender_cmd = \"abc\" x\n", MC_ERR_PARSE,
	         "[controller] render_cmd: text after the closing"},
	        {"[controller]\nlisten\n", MC_ERR_PARSE,
	         "/etc/mc/c.conf:2 [controller]: 'listen' is not a setting"},
	        {"[controller]\n= 5\n", MC_ERR_PARSE,
	         "/etc/mc/c.conf:2 [controller]: '=' without a key"},
	        {"[controller]\nlisten =\n", MC_ERR_MISSING,
	         "/etc/mc/c.conf:2 [controller] listen: empty"},
	        {"[controller]\ndata_dir = \"\"\n", MC_ERR_MISSING,
	         "[controller] data_dir: empty"},
	        {"[controller]\npublic_url = ftp://x\n", MC_ERR_RANGE,
	         "[controller] public_url: 'ftp://x' is not valid"},
	        {"[controller]\npublic_url = http://x/\n", MC_ERR_RANGE,
	         "[controller] public_url:"},
	        {"[controller]\nlog_level = loud\n", MC_ERR_RANGE,
	         "[controller] log_level: 'loud' is not valid"},
	        {"[controller]\nmax_upload_bytes = 1.5G\n", MC_ERR_TYPE,
	         "[controller] max_upload_bytes: '1.5G' is not a size"},
	        {"[controller]\nmax_upload_bytes = 100\n", MC_ERR_RANGE,
	         "[controller] max_upload_bytes: '100' is out of range"},
	        {"[mqtt]\npassword = \"a\x01\"\n", MC_ERR_UTF8,
	         "/etc/mc/c.conf:2: not valid UTF-8"},
	        {"[mqtt]\nhost = bad host\n", MC_ERR_RANGE,
	         "[mqtt] host: 'bad host' is not valid"},
	        {"[mqtt]\nport = 0\n", MC_ERR_RANGE, "[mqtt] port:"},
	        {"[publish]\npointer_ttl_s = 30 fortnights\n", MC_ERR_TYPE,
	         "[publish] pointer_ttl_s: '30 fortnights' is not a "
	         "duration"},
	        {"[publish]\npointer_ttl_s = 1500ms\n", MC_ERR_TYPE,
	         "[publish] pointer_ttl_s:"},
	        {"[publish]\npointer_ttl_s = 2d\nresign_before_s = 3d\n",
	         MC_ERR_RANGE,
	         "/etc/mc/c.conf [publish] resign_before_s: 259200 must be "
	         "shorter than pointer_ttl_s (172800)"},
	        {"[publish]\nresign_before_s = 666666666666667d\n", MC_ERR_TYPE,
	         "[publish] resign_before_s: '666666666666667d' is not a "
	         "duration"},
	        {"[controller]\nmax_upload_bytes = 999999999999999T\n",
	         MC_ERR_TYPE, "[controller] max_upload_bytes:"},
	        {"[fleet]\ndisk_low_pct = 101\n", MC_ERR_RANGE,
	         "[fleet] disk_low_pct: '101' is out of range"},
	        {"[fleet]\nhot_c = nan\n", MC_ERR_TYPE,
	         "[fleet] hot_c: 'nan' is not a number"},
	        {"[fleet]\nhot_c = 1e2\n", MC_ERR_TYPE, "[fleet] hot_c:"},
	        {"[controller]\nrender_cmd = caf\xC3\n", MC_ERR_UTF8,
	         "/etc/mc/c.conf:2: not valid UTF-8"},
	        {"[controller]\nrender_cmd = \xED\xA0\x80\n", MC_ERR_UTF8,
	         "not valid UTF-8"},
	        {"[controller]\nrender_cmd = \xC0\xAF\n", MC_ERR_UTF8,
	         "not valid UTF-8"},
	};
	struct mcc_config cfg;
	struct mc_error err;

	(void)state;
	for (size_t i = 0; i < MC_ARRAY_LEN(cases); i++) {
		enum mc_err rc = parse(&cfg, cases[i].text, &err);

		if (rc != cases[i].code || !strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: got %d \"%s\", expected %d \"%s\"",
			         i, rc, err.msg, cases[i].code, cases[i].msg);
		mcc_config_free(&cfg);
	}
}

/* Every problem of a file is reported, one per line. */
static void test_config_all_problems(void **state)
{
	static const char text[] = "[controller]\n"
	                           "listen = nowhere\n"
	                           "http_threads = 0\n"
	                           "colour = blue\n"
	                           "[mqtt]\n"
	                           "password = \"hunter22222\" trailing\n"
	                           "port = 99999\n";
	struct mcc_config cfg;
	struct mc_error err;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(
	        mcc_config_parse(&cfg, text, strlen(text), "c.conf", f, &err),
	        MC_ERR_RANGE);
	fclose(f);
	assert_non_null(strstr(out, "c.conf:2 [controller] listen:"));
	assert_non_null(strstr(out, "c.conf:3 [controller] http_threads:"));
	assert_non_null(strstr(out, "c.conf:4 [controller] colour: unknown"));
	assert_non_null(strstr(out, "c.conf:6 [mqtt] password:"));
	assert_non_null(strstr(out, "c.conf:7 [mqtt] port:"));
	/* A secret is never quoted back. */
	assert_null(strstr(out, "hunter"));
	assert_non_null(strstr(err.msg, "\nc.conf:3"));
	free(out);
	mcc_config_free(&cfg);
}

static void test_config_set(void **state)
{
	struct mcc_config cfg;
	struct mc_error err;

	(void)state;
	assert_int_equal(mcc_config_load(&cfg, NULL, &err), MC_OK);
	assert_int_equal(
	        mcc_config_set(&cfg, "controller.data_dir=/srv/mc", &err),
	        MC_OK);
	/* Derived defaults follow data_dir and [mqtt]. */
	assert_string_equal(cfg.key_file, "/srv/mc/signing.key");
	assert_int_equal(mcc_config_set(&cfg, "mqtt.port = 1999", &err), MC_OK);
	assert_int_equal(cfg.node_mqtt_port, 1999);
	assert_int_equal(mcc_config_set(&cfg, "controller.key_file=/k", &err),
	                 MC_OK);
	assert_int_equal(mcc_config_set(&cfg, "controller.data_dir=/x", &err),
	                 MC_OK);
	assert_string_equal(cfg.key_file, "/k"); /* given: kept */
	assert_string_equal(cfg.trusted_keys, "/x/trusted.pub");
	/* Empty asks for the default again. */
	assert_int_equal(mcc_config_set(&cfg, "controller.key_file=", &err),
	                 MC_OK);
	assert_string_equal(cfg.key_file, "/x/signing.key");
	mc_test_expect_error(mcc_config_set(&cfg, "mqtt.prot=1", &err), &err,
	                     MC_ERR_PARSE, "--set [mqtt] prot: unknown key",
	                     "unknown key");
	mc_test_expect_error(mcc_config_set(&cfg, "web.port=1", &err), &err,
	                     MC_ERR_PARSE, "--set [web]: unknown section",
	                     "unknown section");
	mc_test_expect_error(mcc_config_set(&cfg, "listen", &err), &err,
	                     MC_ERR_PARSE, "expected section.key=value",
	                     "no =");
	mc_test_expect_error(mcc_config_set(&cfg, "mqtt.port=x", &err), &err,
	                     MC_ERR_TYPE, "--set [mqtt] port:", "bad value");
	assert_int_equal(cfg.mqtt_port, 1999); /* unchanged */
	mcc_config_free(&cfg);
}

static void test_config_file(void **state)
{
	struct fixture *f = *state;
	struct mcc_config cfg;
	struct mc_error err;
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/c.conf", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("[controller]\ndata_dir = d\n", fp);
	fclose(fp);
	assert_int_equal(mcc_config_load(&cfg, path, &err), MC_OK);
	assert_non_null(strstr(cfg.data_dir, "/d"));
	assert_true(cfg.data_dir[0] == '/');
	mcc_config_free(&cfg);
	snprintf(path, sizeof(path), "%s/missing.conf", f->dir);
	mc_test_expect_error(mcc_config_load(&cfg, path, &err), &err, MC_ERR_IO,
	                     "missing.conf: cannot read", "missing");
	mcc_config_free(&cfg);
}

/* ---- db ---- */

static void test_db_migrations(void **state)
{
	struct fixture *f = *state;
	struct mc_error err;
	int last = 0;

	for (const struct mcc_migration *m = mcc_migrations; m->name; m++) {
		assert_true(m->version > last);
		last = m->version;
	}
	assert_int_equal(mcc_db_version(f->db), last);
	/* Running it again applies nothing and fails nothing. */
	assert_int_equal(mcc_db_init(&f->c, &err), MC_OK);
	assert_int_equal(mcc_db_version(f->db), last);
	/* A database from a newer build is refused, clearly. */
	sql(f->db, "INSERT INTO schema_version VALUES (999, '999-future.sql', "
	           "0)");
	mc_test_expect_error(mcc_db_init(&f->c, &err), &err, MC_ERR_UNSUPPORTED,
	                     "schema version 999 is newer", "newer database");
	sql(f->db, "DELETE FROM schema_version WHERE version = 999");
}

static void test_db_settings(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *st;
	char *mode = NULL;

	st = mcc_db_prepare(f->db, "PRAGMA journal_mode");
	assert_non_null(st);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	mode = strdup((const char *)sqlite3_column_text(st, 0));
	mcc_db_done(st);
	assert_string_equal(mode, "wal");
	free(mode);
	st = mcc_db_prepare(f->db, "PRAGMA foreign_keys");
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	mcc_db_done(st);
	/* The cache hands back the same statement. */
	assert_ptr_equal(mcc_db_prepare(f->db, "PRAGMA foreign_keys"), st);
	assert_null(mcc_db_prepare(f->db, "SELEKT 1"));
	/* A foreign key is enforced. */
	assert_int_not_equal(sqlite3_exec(f->db,
	                                  "INSERT INTO sessions VALUES ('x', "
	                                  "424242, 'c', 0, 0)",
	                                  NULL, NULL, NULL),
	                     SQLITE_OK);
}

static void test_db_rows(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *st;
	json_t *rows, *r;

	sql(f->db, "INSERT INTO settings VALUES ('a', '{\"screen\":\"x\"}'), "
	           "('b', 'not json')");
	st = mcc_db_prepare(f->db,
	                    "SELECT key, value_json, 1.5 AS r, NULL AS n, "
	                    "x'00' AS b, 7 AS i FROM settings ORDER BY key");
	rows = mcc_db_rows(st);
	mcc_db_done(st);
	assert_non_null(rows);
	assert_int_equal(json_array_size(rows), 2);
	r = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(r, "key")), "a");
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(r, "value"), "screen")),
	                    "x");
	assert_null(json_object_get(r, "value_json"));
	assert_true(json_real_value(json_object_get(r, "r")) == 1.5);
	assert_true(json_is_null(json_object_get(r, "n")));
	assert_null(json_object_get(r, "b")); /* blobs skipped */
	assert_int_equal(json_integer_value(json_object_get(r, "i")), 7);
	/* Bad JSON in a _json column reads as null, never a crash. */
	assert_true(json_is_null(
	        json_object_get(json_array_get(rows, 1), "value")));
	json_decref(rows);
}

static void test_db_transactions(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *st;

	assert_int_equal(mcc_db_begin(f->db), MC_OK);
	sql(f->db, "INSERT INTO settings VALUES ('t', '1')");
	mcc_db_rollback(f->db);
	mcc_db_rollback(f->db); /* harmless without a transaction */
	st = mcc_db_prepare(f->db, "SELECT count(*) FROM settings WHERE key = "
	                           "'t'");
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	mcc_db_done(st);
	assert_int_equal(mcc_db_begin(f->db), MC_OK);
	sql(f->db, "INSERT INTO settings VALUES ('t', '1')");
	assert_int_equal(mcc_db_commit(f->db), MC_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	mcc_db_done(st);
}

static void progress(int done, int total, void *arg)
{
	int *calls = arg;

	assert_true(done <= total);
	(*calls)++;
}

static void test_db_backup(void **state)
{
	struct fixture *f = *state;
	struct mc_error err;
	char path[128], tmp[140];
	sqlite3 *b = NULL;
	sqlite3_stmt *st;
	struct stat sb;
	int calls = 0;

	sql(f->db, "INSERT INTO settings VALUES ('backup', '\"yes\"')");
	snprintf(path, sizeof(path), "%s/backup.db", f->dir);
	assert_int_equal(mcc_db_backup(&f->c, path, progress, &calls, &err),
	                 MC_OK);
	assert_true(calls > 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_not_equal(access(tmp, F_OK), 0);
	assert_int_equal(sqlite3_open_v2(path, &b, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(b,
	                                    "SELECT value_json FROM settings "
	                                    "WHERE key = 'backup'",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0),
	                    "\"yes\"");
	sqlite3_finalize(st);
	assert_int_equal(mcc_db_version(b), mcc_db_version(f->db));
	sqlite3_close(b);
	/* An unwritable destination fails cleanly. */
	mc_test_expect_error(
	        mcc_db_backup(&f->c, "/nonexistent/dir/x.db", NULL, NULL, &err),
	        &err, MC_ERR_IO, "/nonexistent/dir/x.db.tmp", "bad dest");
}

/* ---- audit ---- */

static void test_audit_append_only(void **state)
{
	struct fixture *f = *state;
	struct mcc_principal who;
	json_t *before = json_pack("{s:s}", "name", "cũ");
	json_t *after = json_pack("{s:s}", "name", "mới");
	sqlite3_stmt *st;

	memset(&who, 0, sizeof(who));
	who.user_id = 0;
	snprintf(who.name, sizeof(who.name), "tester");
	assert_int_equal(mcc_db_begin(f->db), MC_OK);
	assert_int_equal(mcc_audit(f->db, &who, "thing.update", "thing", "t1",
	                           before, after),
	                 MC_OK);
	assert_int_equal(
	        mcc_audit(f->db, NULL, "thing.ping", NULL, NULL, NULL, NULL),
	        MC_OK);
	assert_int_equal(mcc_db_commit(f->db), MC_OK);
	json_decref(before);
	json_decref(after);
	st = mcc_db_prepare(f->db, "SELECT user_name, action, kind, object_id, "
	                           "before_json, after_json FROM audit WHERE "
	                           "action = 'thing.update'");
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "tester");
	assert_string_equal((const char *)sqlite3_column_text(st, 3), "t1");
	assert_string_equal((const char *)sqlite3_column_text(st, 4),
	                    "{\"name\":\"cũ\"}");
	assert_string_equal((const char *)sqlite3_column_text(st, 5),
	                    "{\"name\":\"mới\"}");
	mcc_db_done(st);
	/* History cannot be rewritten or erased. */
	assert_int_not_equal(sqlite3_exec(f->db,
	                                  "UPDATE audit SET user_name = 'x'",
	                                  NULL, NULL, NULL),
	                     SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(f->db), "append-only"));
	assert_int_not_equal(
	        sqlite3_exec(f->db, "DELETE FROM audit", NULL, NULL, NULL),
	        SQLITE_OK);
	st = mcc_db_prepare(f->db, "SELECT count(*) FROM audit");
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2);
	mcc_db_done(st);
}

/* ---- auth ---- */

static void test_roles(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(mcc_roles_parse("editor"), MCC_ROLE_EDITOR);
	assert_int_equal(mcc_roles_parse("editor, approver"),
	                 MCC_ROLE_EDITOR | MCC_ROLE_APPROVER);
	assert_int_equal(mcc_roles_parse("technician,admin"),
	                 MCC_ROLE_TECHNICIAN | MCC_ROLE_ADMIN);
	assert_int_equal(mcc_roles_parse(""), 0);
	assert_int_equal(mcc_roles_parse("editor,boss"), -1);
	assert_int_equal(mcc_roles_parse("node"), -1); /* not for people */
	assert_int_equal(mcc_roles_parse("Editor"), -1);
	mcc_roles_format(MCC_ROLE_EDITOR | MCC_ROLE_ADMIN, buf, sizeof(buf));
	assert_string_equal(buf, "editor,admin");
	mcc_roles_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	mcc_roles_format(MCC_ROLE_NODE, buf, sizeof(buf));
	assert_string_equal(buf, "node");
}

static void test_users_tokens(void **state)
{
	struct fixture *f = *state;
	struct mcc_principal who;
	struct mc_error err;
	char token[MCC_TOKEN_SIZE], auth[128];
	int64_t id = 0, tid = 0;

	assert_int_equal(mcc_user_count(&f->c), 0);
	assert_int_equal(mcc_user_create(&f->c, "bien-tap.1", "mật khẩu dài",
	                                 MCC_ROLE_EDITOR, &id, &err),
	                 MC_OK);
	assert_true(id > 0);
	assert_int_equal(mcc_user_count(&f->c), 1);
	assert_true(mcc_user_id(&f->c, "bien-tap.1") == id);
	assert_true(mcc_user_id(&f->c, "nobody") == 0);
	mc_test_expect_error(
	        mcc_user_create(&f->c, "bien-tap.1", "12345678", 0, NULL, &err),
	        &err, MC_ERR_EXISTS, "name:", "exists");
	mc_test_expect_error(
	        mcc_user_create(&f->c, "bad name", "12345678", 0, NULL, &err),
	        &err, MC_ERR_RANGE, "name:", "bad name");
	mc_test_expect_error(
	        mcc_user_create(&f->c, "short", "1234567", 0, NULL, &err), &err,
	        MC_ERR_RANGE, "password:", "short pw");
	mc_test_expect_error(mcc_user_create(&f->c, "nodey", "12345678",
	                                     MCC_ROLE_NODE, NULL, &err),
	                     &err, MC_ERR_RANGE, "roles:", "node role");
	/* The hash is argon2id, never the password. */
	{
		sqlite3_stmt *st = mcc_db_prepare(
		        f->db, "SELECT password_hash FROM users WHERE id = ?");

		sqlite3_bind_int64(st, 1, id);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_memory_equal(sqlite3_column_text(st, 0), "$argon2id$",
		                    10);
		mcc_db_done(st);
	}
	assert_int_equal(
	        mcc_token_create(&f->c, id, "laptop", 0, token, &tid, &err),
	        MC_OK);
	assert_memory_equal(token, "mc_", 3);
	assert_int_equal(strlen(token), 46);
	snprintf(auth, sizeof(auth), "Bearer %s", token);
	assert_int_equal(mcc_auth_identify(&f->c, auth, NULL, &who), MC_OK);
	assert_string_equal(who.name, "bien-tap.1");
	assert_int_equal(who.roles, MCC_ROLE_EDITOR);
	assert_false(who.via_cookie);
	/* Nothing given: anonymous, not an error. */
	assert_int_equal(mcc_auth_identify(&f->c, NULL, NULL, &who), MC_OK);
	assert_int_equal(who.roles, 0);
	assert_int_equal(mcc_auth_identify(&f->c, NULL, "theme=dark", &who),
	                 MC_OK);
	assert_int_equal(who.roles, 0);
	/* Wrong, malformed or other schemes: MC_ERR_AUTH. */
	token[10] ^= 1;
	snprintf(auth, sizeof(auth), "Bearer %s", token);
	assert_int_equal(mcc_auth_identify(&f->c, auth, NULL, &who),
	                 MC_ERR_AUTH);
	assert_int_equal(who.roles, 0);
	assert_int_equal(mcc_auth_identify(&f->c, "Bearer", NULL, &who),
	                 MC_ERR_AUTH);
	assert_int_equal(mcc_auth_identify(&f->c, "Digest x", NULL, &who),
	                 MC_ERR_AUTH);
	assert_int_equal(
	        mcc_auth_identify(&f->c, NULL, "mc_session=nonsense", &who),
	        MC_ERR_AUTH);
	token[10] ^= 1;
	/* A disabled user's token stops working. */
	sql(f->db, "UPDATE users SET disabled = 1");
	snprintf(auth, sizeof(auth), "Bearer %s", token);
	assert_int_equal(mcc_auth_identify(&f->c, auth, NULL, &who),
	                 MC_ERR_AUTH);
	sql(f->db, "UPDATE users SET disabled = 0");
	/* An expired one too. */
	sql(f->db, "UPDATE api_tokens SET expires_ms = 1");
	assert_int_equal(mcc_auth_identify(&f->c, auth, NULL, &who),
	                 MC_ERR_AUTH);
}

static void test_node_auth(void **state)
{
	struct fixture *f = *state;
	struct mcc_principal who;
	char h[MC_SHA256_HEX_SIZE], q[512], auth[256], b64[200];
	const char *pw = "Zm9vYmFyYmF6cXV1eA-secret";

	mc_sha256_hex(pw, strlen(pw), h);
	snprintf(q, sizeof(q),
	         "INSERT INTO sites (id, name, created_ms) VALUES ('s', '', 1);"
	         "INSERT INTO nodes (id, name, site_id, secret_sha256, "
	         "created_ms) VALUES ('pi-1', '', 's', '%s', 1), ('pi-2', '', "
	         "'s', NULL, 1)",
	         h);
	sql(f->db, q);
	snprintf(q, sizeof(q), "pi-1:%s", pw);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)q, strlen(q),
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(auth, sizeof(auth), "Basic %s", b64);
	assert_int_equal(mcc_auth_identify(&f->c, auth, NULL, &who), MC_OK);
	assert_int_equal(who.roles, MCC_ROLE_NODE);
	assert_string_equal(who.name, "pi-1");
	assert_true(who.user_id == 0);
	/* Wrong password, unprovisioned node, no colon, bad base64. */
	snprintf(q, sizeof(q), "pi-1:%sx", pw);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)q, strlen(q),
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(auth, sizeof(auth), "Basic %s", b64);
	assert_int_equal(mcc_auth_identify(&f->c, auth, NULL, &who),
	                 MC_ERR_AUTH);
	snprintf(q, sizeof(q), "pi-2:");
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)q, strlen(q),
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(auth, sizeof(auth), "Basic %s", b64);
	assert_int_equal(mcc_auth_identify(&f->c, auth, NULL, &who),
	                 MC_ERR_AUTH);
	assert_int_equal(mcc_auth_identify(&f->c, "Basic cGktMQ==", NULL, &who),
	                 MC_ERR_AUTH);
	assert_int_equal(mcc_auth_identify(&f->c, "Basic !!!", NULL, &who),
	                 MC_ERR_AUTH);
}

/* ---- blobs ---- */

static void test_blobs(void **state)
{
	struct fixture *f = *state;
	struct mc_error err;
	char sha[65], sha2[65], path[512], src[128];
	const char *data = "Kỷ luật và Đồng tâm";
	struct stat st;
	int64_t size = 0;
	FILE *fp;

	assert_int_equal(mcc_blob_put(&f->c, f->db, data, strlen(data),
	                              "text/plain", sha, &err),
	                 MC_OK);
	assert_true(mcc_sha256_valid(sha));
	assert_true(mcc_blob_exists(&f->c, sha));
	mcc_blob_path(&f->c, sha, path, sizeof(path));
	assert_non_null(strstr(path, "/blobs/"));
	assert_memory_equal(strstr(path, "/blobs/") + 7, sha, 2);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, (off_t)strlen(data));
	/* Storing the same bytes again is a no-op. */
	assert_int_equal(mcc_blob_put(&f->c, f->db, data, strlen(data),
	                              "text/plain", sha2, &err),
	                 MC_OK);
	assert_string_equal(sha, sha2);
	/* From a file: linked in, the source left in place. */
	snprintf(src, sizeof(src), "%s/upload", f->dir);
	fp = fopen(src, "w");
	assert_non_null(fp);
	fputs("PNG-ish bytes", fp);
	fclose(fp);
	assert_int_equal(mcc_blob_put_file(&f->c, f->db, src, "image/png", sha2,
	                                   &size, &err),
	                 MC_OK);
	assert_int_equal(size, 13);
	assert_true(mcc_blob_exists(&f->c, sha2));
	assert_int_equal(access(src, F_OK), 0);
	{
		sqlite3_stmt *q = mcc_db_prepare(
		        f->db, "SELECT size, mime FROM blobs WHERE sha256 = ?");

		sqlite3_bind_text(q, 1, sha2, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(q, 0), 13);
		assert_string_equal((const char *)sqlite3_column_text(q, 1),
		                    "image/png");
		mcc_db_done(q);
	}
	assert_false(mcc_blob_exists(&f->c, "../../etc/passwd"));
	assert_false(mcc_sha256_valid("ABCDEF"));
	assert_false(mcc_sha256_valid("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4"
	                              "649B934CA495991B7852B855"));
	assert_true(mcc_sha256_valid("e3b0c44298fc1c149afbf4c8996fb92427ae41e46"
	                             "49b934ca495991b7852b855"));
	mc_test_expect_error(mcc_blob_put_file(&f->c, f->db, "/nonexistent",
	                                       NULL, sha2, NULL, &err),
	                     &err, MC_ERR_IO, "/nonexistent", "missing file");
}

/* ---- setup: the signing key ---- */

static void test_signing_key(void **state)
{
	struct fixture *f = *state;
	struct mc_keyring kr;
	struct mc_error err;
	struct stat st;
	struct mcc again;
	char buf[256];

	assert_true(f->c.have_key);
	assert_int_equal(stat(f->c.cfg.key_file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	mc_keyring_init(&kr);
	assert_int_equal(mc_keyring_load(&kr, f->c.cfg.trusted_keys, &err),
	                 MC_OK);
	assert_non_null(mc_keyring_find(&kr, f->c.key.kid));
	mc_keyring_clear(&kr);
	/* A second start loads the same key. */
	memset(&again, 0, sizeof(again));
	assert_int_equal(mcc_config_load(&again.cfg, NULL, &err), MC_OK);
	snprintf(buf, sizeof(buf), "controller.data_dir=%s/data", f->dir);
	assert_int_equal(mcc_config_set(&again.cfg, buf, &err), MC_OK);
	assert_int_equal(mcc_setup(&again, &err), MC_OK);
	assert_string_equal(again.key.kid, f->c.key.kid);
	mcc_teardown(&again);
	/* A key file others may read is refused. */
	chmod(f->c.cfg.key_file, 0644);
	memset(&again, 0, sizeof(again));
	assert_int_equal(mcc_config_load(&again.cfg, NULL, &err), MC_OK);
	assert_int_equal(mcc_config_set(&again.cfg, buf, &err), MC_OK);
	assert_int_equal(mcc_setup(&again, &err), MC_ERR_KEY);
	mcc_teardown(&again);
	/* The fixture's own connection is per thread: reopen it. */
	f->db = mcc_db(&f->c);
}

/* ---- metrics ---- */

static void test_metrics_counters(void **state)
{
	struct fixture *f = *state;

	mcc_metrics_count(&f->c, "minecast_test_total", 2);
	mcc_metrics_count(&f->c, "minecast_test_total", 3);
	mcc_metrics_count(&f->c, "minecast_x_total{reason=\"a\"}", 1);
	assert_true(mcc_metrics_counter(&f->c, "minecast_test_total") == 5);
	assert_true(mcc_metrics_counter(&f->c,
	                                "minecast_x_total{reason=\"a\"}") == 1);
	assert_true(mcc_metrics_counter(&f->c, "nothing") == 0);
	mcc_metrics_request(&f->c, "/v1/x", 200, 0.002);
	mcc_metrics_request(&f->c, "/v1/x", 404, 0.5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_config_defaults),
	        cmocka_unit_test(test_config_full),
	        cmocka_unit_test(test_config_errors),
	        cmocka_unit_test(test_config_all_problems),
	        cmocka_unit_test(test_config_set),
	        cmocka_unit_test_setup_teardown(test_config_file, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_db_migrations, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_db_settings, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_db_rows, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_db_transactions, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_db_backup, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_audit_append_only, setup,
	                                        teardown),
	        cmocka_unit_test(test_roles),
	        cmocka_unit_test_setup_teardown(test_users_tokens, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_node_auth, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_blobs, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_signing_key, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_metrics_counters, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
