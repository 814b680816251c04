/*
 * Unit tests of the controller's fleet modules: node status and its
 * flags against the [fleet] thresholds (fleet.c mcc_fleet_eval), state
 * and health ingest, proof-of-play storage idempotent by node and record
 * id (mcc_fleet_pop_store, mcc_fleet_on_pop), and the proof-of-play
 * report by local day and month, across daylight-saving changes
 * (reports.c), with its CSV.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mc_test.h"
#include "mc_ctl_test.h"
#include "minecast/codec.h"
#include "minecast/util.h"

#include "db.h"
#include "fleet.h"
#include "mcc.h"
#include "reports.h"

struct fixture {
	char dir[64]; /* temporary data directory */
	struct mcc c; /* the controller's context */
	sqlite3 *db;  /* this thread's connection */
};

static void sql(sqlite3 *db, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void sql(sqlite3 *db, const char *fmt, ...)
{
	char text[4096], *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", text, msg ? msg : "?");
}

static int64_t sql_int(sqlite3 *db, const char *text)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, text, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", text, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->db = mcct_open(&f->c, f->dir, sizeof(f->dir), "fleet");
	sql(f->db, "INSERT INTO sites(id, name, created_ms) VALUES"
	           " ('cua-lo', 'Cửa lò', 0), ('mong-duong', 'Mông Dương', 0);"
	           "INSERT INTO nodes(id, site_id, created_ms) VALUES"
	           " ('pi-1', 'cua-lo', 0), ('pi-2', 'mong-duong', 0);");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mcc_db_thread_end();
	mcc_teardown(&f->c);
	mc_test_sh("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

/* ---- status ---- */

/* An online node with fresh, healthy health at now. */
static struct mcc_node_facts healthy(int64_t now)
{
	struct mcc_node_facts f = {
	        .seen = true,
	        .online = true,
	        .online_ms = now - 3600000,
	        .health_ms = now - 1000,
	        .has_health = true,
	        .has_temp = true,
	        .cpu_temp_c = 55,
	        .disk_free_bytes = 50,
	        .disk_total_bytes = 100,
	        .throttled = 0,
	        .clock_synced = true,
	        .clock_offset_ms = 3,
	        .applied_version = 7,
	        .desired_version = 7,
	        .desired_ms = now - 86400000,
	};
	return f;
}

static void test_eval_thresholds(void **state)
{
	struct fixture *f = *state;
	struct mcc_config *cfg = &f->c.cfg;
	int64_t now = 1700000000000;
	enum mcc_node_status s;
	struct mcc_node_facts n;

	mcct_set(&f->c, "fleet.stale_s=60s");
	mcct_set(&f->c, "fleet.sync_behind_s=300s");
	mcct_set(&f->c, "fleet.disk_low_pct=10");
	mcct_set(&f->c, "fleet.hot_c=75");
	mcct_set(&f->c, "fleet.clock_offset_ms=250");

	n = healthy(now);
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);
	assert_int_equal(s, MCC_NODE_ONLINE);

	/* hot: at the limit counts, below does not; no sensor never */
	n = healthy(now);
	n.cpu_temp_c = 75.0;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), MCC_FLAG_HOT);
	n.cpu_temp_c = 74.99;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);
	n.cpu_temp_c = 120;
	n.has_temp = false;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);

	/* disk: strictly below the percentage; unknown total is not low */
	n = healthy(now);
	n.disk_total_bytes = 1000;
	n.disk_free_bytes = 100;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);
	n.disk_free_bytes = 99;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), MCC_FLAG_DISK_LOW);
	n.disk_total_bytes = 0;
	n.disk_free_bytes = 0;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);

	/* clock: not synchronised, or |offset| over the limit */
	n = healthy(now);
	n.clock_synced = false;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), MCC_FLAG_CLOCK);
	n.clock_synced = true;
	n.clock_offset_ms = -250;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);
	n.clock_offset_ms = -250.5;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), MCC_FLAG_CLOCK);

	/* throttled: bits 0..3 are "now", 16..19 "has happened" */
	n = healthy(now);
	n.throttled = 0x4;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), MCC_FLAG_THROTTLED);
	n.throttled = 0x50000;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);
	n.throttled = -1;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);

	/* stale: no health for stale_s, counted from coming online when
	 * none ever came */
	n = healthy(now);
	n.health_ms = now - 60000;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);
	n.health_ms = now - 60001;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), MCC_FLAG_STALE);
	n = healthy(now);
	n.has_health = false;
	n.health_ms = 0;
	n.online_ms = now - 10000;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);
	n.online_ms = now - 61000;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), MCC_FLAG_STALE);

	/* behind: applied < desired for longer than sync_behind_s */
	n = healthy(now);
	n.desired_version = 8;
	n.desired_ms = now - 300000;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);
	n.desired_ms = now - 300001;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), MCC_FLAG_BEHIND);
	n.applied_version = 9; /* ahead (a newer pointer) is not behind */
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);

	/* offline: the last health is history, behind still counts */
	n = healthy(now);
	n.online = false;
	n.cpu_temp_c = 99;
	n.clock_synced = false;
	n.health_ms = now - 86400000;
	n.desired_version = 9;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), MCC_FLAG_BEHIND);
	assert_int_equal(s, MCC_NODE_OFFLINE);

	/* never seen */
	memset(&n, 0, sizeof(n));
	n.throttled = -1;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), 0);
	assert_int_equal(s, MCC_NODE_NEVER);
	n.desired_version = 1;
	n.desired_ms = now - 3600000;
	assert_int_equal(mcc_fleet_eval(cfg, &n, now, &s), MCC_FLAG_BEHIND);

	assert_string_equal(mcc_fleet_flag_name(4), "hot");
	assert_null(mcc_fleet_flag_name(MCC_FLAG_COUNT));
	assert_string_equal(mcc_fleet_status_name(MCC_NODE_NEVER), "never");
}

static void test_state_and_health_ingest(void **state)
{
	struct fixture *f = *state;
	struct mc_state st = {0};
	struct mc_health h = {0};
	struct mc_error err;
	json_t *o;
	int64_t on1, on2;
	const char *birth = "{\"v\":1,\"node\":\"pi-1\",\"online\":true,"
	                    "\"boot\":4,\"applied_version\":3,\"at_ms\":5}";
	const char *will = "{\"v\":1,\"node\":\"pi-1\",\"online\":false,"
	                   "\"boot\":4,\"applied_version\":3,\"at_ms\":5}";
	const char *health = "{\"v\":1,\"node\":\"pi-1\",\"at_ms\":9,"
	                     "\"cpu_temp_c\":91.5,\"throttled\":5,"
	                     "\"clock_synced\":true,\"disk_total_bytes\":100,"
	                     "\"disk_free_bytes\":5}";

	assert_int_equal(mc_state_parse(birth, strlen(birth), &st, &err),
	                 MC_OK);
	mcc_fleet_on_state(&f->c, &st);
	on1 = sql_int(f->db, "SELECT online_ms FROM node_live");
	assert_true(on1 > 0);
	/* A retained birth delivered again keeps "since". */
	usleep(3000);
	mcc_fleet_on_state(&f->c, &st);
	on2 = sql_int(f->db, "SELECT online_ms FROM node_live");
	assert_int_equal(on1, on2);
	mc_state_clear(&st);

	assert_int_equal(mc_health_parse(health, strlen(health), &h, &err),
	                 MC_OK);
	mcc_fleet_on_health(&f->c, &h);
	mc_health_clear(&h);
	o = mcc_fleet_status(&f->c, f->db, "pi-1");
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "status")),
	                    "online");
	assert_int_equal(json_integer_value(json_object_get(o, "since_ms")),
	                 on1);
	assert_int_equal(json_array_size(json_object_get(o, "flags")), 3);
	assert_true(
	        json_real_value(json_object_get(json_object_get(o, "health"),
	                                        "cpu_temp_c")) == 91.5);
	assert_int_equal(json_integer_value(json_object_get(
	                         json_object_get(o, "state"), "boot")),
	                 4);
	assert_int_equal(json_array_size(json_object_get(o, "throttled_bits")),
	                 2);
	json_decref(o);

	assert_int_equal(mc_state_parse(will, strlen(will), &st, &err), MC_OK);
	mcc_fleet_on_state(&f->c, &st);
	mc_state_clear(&st);
	o = mcc_fleet_status(&f->c, f->db, "pi-1");
	assert_string_equal(json_string_value(json_object_get(o, "status")),
	                    "offline");
	assert_int_equal(json_integer_value(json_object_get(o, "since_ms")),
	                 sql_int(f->db, "SELECT offline_ms FROM node_live"));
	/* Offline: the hot health no longer flags it. */
	assert_int_equal(json_array_size(json_object_get(o, "flags")), 0);
	json_decref(o);

	o = mcc_fleet_status(&f->c, f->db, "pi-2");
	assert_string_equal(json_string_value(json_object_get(o, "status")),
	                    "never");
	assert_true(json_is_null(json_object_get(o, "health")));
	json_decref(o);
	assert_null(mcc_fleet_status(&f->c, f->db, "pi-none"));
}

/* ---- proof of play ---- */

/* A parsed batch of node with records "<node>-1-<seq>" for seqs. */
static struct mc_pop_batch *batch(const char *node, const char *id,
                                  const int *seqs, size_t n)
{
	struct mc_pop_batch *b = calloc(1, sizeof(*b));
	struct mc_error err;
	char *text = mc_printf("{\"v\":1,\"node\":\"%s\",\"batch\":\"%s\","
	                       "\"records\":[",
	                       node, id);

	for (size_t i = 0; i < n; i++) {
		char *more = mc_printf(
		        "%s%s{\"id\":\"%s-1-%d\",\"content\":\"slogan-a\","
		        "\"channel\":\"screen\",\"start_ms\":1700000000000,"
		        "\"end_ms\":1700000010000}",
		        text, i ? "," : "", node, seqs[i]);

		free(text);
		text = more;
	}
	{
		char *more = mc_printf("%s]}", text);

		free(text);
		text = more;
	}
	if (mc_pop_batch_parse(text, strlen(text), b, &err) != MC_OK)
		fail_msg("%s: %s", text, err.msg);
	free(text);
	return b;
}

static void free_batch(struct mc_pop_batch *b)
{
	mc_pop_batch_clear(b);
	free(b);
}

static void test_pop_store_idempotent(void **state)
{
	struct fixture *f = *state;
	static const int a[] = {1, 2, 3}, b2[] = {2, 3, 4}, one[] = {1};
	struct mc_pop_batch *x = batch("pi-1", "b-1", a, 3);
	struct mc_pop_batch *y = batch("pi-1", "b-2", b2, 3);
	struct mc_pop_batch *ghost = batch("ghost", "b-g", one, 1);
	struct mc_pop_batch *other = batch("pi-2", "b-o", one, 1);
	struct mc_pop_batch *v[3];
	bool ok[3];
	int64_t ins;

	v[0] = x;
	assert_int_equal(mcc_fleet_pop_store(f->db, v, 1, ok, 42, &ins), MC_OK);
	assert_true(ok[0]);
	assert_int_equal(ins, 3);
	/* The same batch again: stored already, acknowledged again. */
	assert_int_equal(mcc_fleet_pop_store(f->db, v, 1, ok, 43, &ins), MC_OK);
	assert_true(ok[0]);
	assert_int_equal(ins, 0);
	/* Overlapping, an unregistered node, and another node whose record
	 * ids look alike: one transaction, each batch judged alone. */
	v[0] = y;
	v[1] = ghost;
	v[2] = other;
	assert_int_equal(mcc_fleet_pop_store(f->db, v, 3, ok, 44, &ins), MC_OK);
	assert_true(ok[0]);
	assert_false(ok[1]);
	assert_true(ok[2]);
	assert_int_equal(ins, 2);
	assert_int_equal(sql_int(f->db, "SELECT COUNT(*) FROM pop"), 5);
	assert_int_equal(sql_int(f->db, "SELECT SUM(count) FROM pop"), 5);
	assert_int_equal(sql_int(f->db, "SELECT COUNT(*) FROM pop WHERE"
	                                " node_id = 'pi-2' AND site_id ="
	                                " 'mong-duong'"),
	                 1);
	assert_int_equal(sql_int(f->db, "SELECT COUNT(*) FROM pop WHERE"
	                                " sha256 IS NULL AND entry_id IS NULL"
	                                " AND completed = 1"),
	                 5);
	/* The first receipt time stays. */
	assert_int_equal(sql_int(f->db, "SELECT received_ms FROM pop WHERE"
	                                " id = 'pi-1-1-2'"),
	                 42);

	/* Without the writer thread a batch is stored at once (its ack
	 * cannot go out: no broker), and taken over. */
	free_batch(x);
	x = batch("pi-1", "b-3", (const int[]){5, 6}, 2);
	mcc_fleet_on_pop(&f->c, x);
	assert_null(x->records);
	assert_int_equal(sql_int(f->db, "SELECT COUNT(*) FROM pop"), 7);
	free_batch(x);
	free_batch(y);
	free_batch(ghost);
	free_batch(other);
}

/* ---- reports ---- */

/* Insert a record of content at start (UTC ms) on site. */
static void play(sqlite3 *db, const char *id, const char *content,
                 const char *site, int64_t start, int64_t len_ms, int completed,
                 int count)
{
	sql(db,
	    "INSERT INTO pop(node_id, id, site_id, content_id, channel,"
	    " start_ms, end_ms, completed, count, received_ms) VALUES"
	    " ('pi-1', '%s', '%s', '%s', 'screen', %lld, %lld, %d, %d, 0)",
	    id, site, content, (long long)start, (long long)(start + len_ms),
	    completed, count);
}

static json_t *item(json_t *rep, const char *period, const char *content,
                    const char *site)
{
	json_t *it;
	size_t i;

	json_array_foreach(json_object_get(rep, "items"), i, it)
	{
		if (!strcmp(json_string_value(json_object_get(it, "period")),
		            period) &&
		    !strcmp(json_string_value(json_object_get(it, "content")),
		            content) &&
		    !strcmp(json_string_value(json_object_get(it, "site")),
		            site))
			return it;
	}
	return NULL;
}

static int64_t field(json_t *it, const char *key)
{
	if (!it)
		fail_msg("no such report row");
	return json_integer_value(json_object_get(it, key));
}

static void test_report_days_across_dst(void **state)
{
	struct fixture *f = *state;
	struct mcc_report_query q = {0};
	struct mc_error err;
	json_t *rep = NULL;

	/* New York, 2023-11-05: clocks go back at 02:00, the day has 25
	 * hours (04:00Z to 05:00Z next day).  A fixed offset would put the
	 * 23:30 play into the 6th. */
	play(f->db, "a", "slogan-a", "cua-lo", 1699158600000, 10000, 1,
	     1); /* 2023-11-05T04:30Z = 00:30 EDT, the 5th */
	play(f->db, "b", "slogan-a", "cua-lo", 1699245000000, 10000, 1,
	     1); /* 2023-11-06T04:30Z = 23:30 EST, still the 5th */
	play(f->db, "c", "slogan-a", "cua-lo", 1699247400000, 4000, 0,
	     1); /* 2023-11-06T05:10Z = 00:10 EST, the 6th */
	play(f->db, "d", "slogan-a", "cua-lo", 1699158000000, 10000, 1,
	     1); /* 2023-11-05T04:20Z = 00:20 EDT, the 5th */
	play(f->db, "e", "slogan-a", "cua-lo", 1699157400000, 10000, 1,
	     1); /* 2023-11-05T04:10Z = 00:10 EDT, the 5th */
	play(f->db, "f", "slogan-a", "cua-lo", 1699156200000, 10000, 1,
	     1); /* 2023-11-05T03:50Z = 23:50 EDT, the 4th */
	/* March 12, 2023: 23 hours (05:00Z to 04:00Z next day). */
	play(f->db, "g", "slogan-a", "cua-lo", 1678680000000, 1000, 1,
	     1); /* 2023-03-13T04:00Z = 00:00 EDT, the 13th */
	play(f->db, "h", "slogan-a", "cua-lo", 1678679999000, 1000, 1,
	     1); /* 2023-03-13T03:59:59Z = 23:59:59 EDT, the 12th */

	q.from = "2023-11-04";
	q.to = "2023-11-06";
	q.timezone = "America/New_York";
	assert_int_equal(mcc_report_pop(f->db, &q, &rep, &err), MC_OK);
	assert_int_equal(json_array_size(json_object_get(rep, "items")), 3);
	assert_int_equal(
	        field(item(rep, "2023-11-04", "slogan-a", "cua-lo"), "plays"),
	        1);
	assert_int_equal(
	        field(item(rep, "2023-11-05", "slogan-a", "cua-lo"), "plays"),
	        4);
	assert_int_equal(
	        field(item(rep, "2023-11-05", "slogan-a", "cua-lo"), "seconds"),
	        40);
	assert_int_equal(field(item(rep, "2023-11-06", "slogan-a", "cua-lo"),
	                       "completed"),
	                 0);
	assert_string_equal(
	        json_string_value(json_object_get(
	                item(rep, "2023-11-06", "slogan-a", "cua-lo"),
	                "site_name")),
	        "Cửa lò");
	json_decref(rep);

	q.from = "2023-03-12";
	q.to = "2023-03-13";
	assert_int_equal(mcc_report_pop(f->db, &q, &rep, &err), MC_OK);
	assert_int_equal(
	        field(item(rep, "2023-03-12", "slogan-a", "cua-lo"), "plays"),
	        1);
	assert_int_equal(
	        field(item(rep, "2023-03-13", "slogan-a", "cua-lo"), "plays"),
	        1);
	json_decref(rep);

	/* The same plays in the default zone (Asia/Ho_Chi_Minh, +07, no
	 * DST): 04:30Z and 05:10Z on the 6th are both the 6th there. */
	q.from = "2023-11-05";
	q.to = "2023-11-06";
	q.timezone = NULL;
	assert_int_equal(mcc_report_pop(f->db, &q, &rep, &err), MC_OK);
	assert_string_equal(json_string_value(json_object_get(rep, "timezone")),
	                    "Asia/Ho_Chi_Minh");
	assert_int_equal(
	        field(item(rep, "2023-11-05", "slogan-a", "cua-lo"), "plays"),
	        4);
	assert_int_equal(
	        field(item(rep, "2023-11-06", "slogan-a", "cua-lo"), "plays"),
	        2);
	json_decref(rep);
}

static void test_report_months_sums_filters(void **state)
{
	struct fixture *f = *state;
	struct mcc_report_query q = {0};
	struct mc_error err;
	json_t *rep = NULL, *tot;

	/* +07: 2023-10-31T17:00Z is 2023-11-01 00:00 local. */
	play(f->db, "m1", "slogan-a", "cua-lo", 1698771599000, 30000, 1, 1);
	play(f->db, "m2", "slogan-a", "cua-lo", 1698771600000, 30000, 1, 1);
	play(f->db, "m3", "slogan-a", "mong-duong", 1698771600000, 30000, 1, 1);
	play(f->db, "m4", "audio-b", "cua-lo", 1699000000000, 600000, 1, 7);
	play(f->db, "m5", "audio-b", "cua-lo", 1699000000000, 1500, 0, 1);

	q.from = "2023-10-15";
	q.to = "2023-11-30";
	q.by_month = true;
	assert_int_equal(mcc_report_pop(f->db, &q, &rep, &err), MC_OK);
	assert_string_equal(json_string_value(json_object_get(rep, "by")),
	                    "month");
	assert_int_equal(json_array_size(json_object_get(rep, "items")), 4);
	assert_int_equal(
	        field(item(rep, "2023-10", "slogan-a", "cua-lo"), "plays"), 1);
	assert_int_equal(
	        field(item(rep, "2023-11", "slogan-a", "cua-lo"), "plays"), 1);
	/* A summary (count 7) counts its plays, not its span. */
	assert_int_equal(
	        field(item(rep, "2023-11", "audio-b", "cua-lo"), "plays"), 8);
	assert_int_equal(
	        field(item(rep, "2023-11", "audio-b", "cua-lo"), "completed"),
	        7);
	assert_int_equal(
	        field(item(rep, "2023-11", "audio-b", "cua-lo"), "seconds"), 2);
	assert_int_equal(
	        field(item(rep, "2023-11", "audio-b", "cua-lo"), "summarised"),
	        7);
	/* Sorted by period, content, site. */
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(rep, "items"), 1),
	                "content")),
	        "audio-b");
	tot = json_object_get(rep, "totals");
	assert_int_equal(field(tot, "plays"), 11);
	assert_int_equal(field(tot, "seconds"), 92);
	json_decref(rep);

	q.site = "mong-duong";
	assert_int_equal(mcc_report_pop(f->db, &q, &rep, &err), MC_OK);
	assert_int_equal(field(json_object_get(rep, "totals"), "plays"), 1);
	json_decref(rep);
	q.site = NULL;
	q.content = "audio-b";
	q.by_month = false;
	assert_int_equal(mcc_report_pop(f->db, &q, &rep, &err), MC_OK);
	assert_int_equal(json_array_size(json_object_get(rep, "items")), 1);
	assert_int_equal(field(json_object_get(rep, "totals"), "plays"), 8);
	json_decref(rep);
}

static void test_report_bad_input(void **state)
{
	struct fixture *f = *state;
	struct mcc_report_query q = {.from = "2023-11-05", .to = "2023-11-04"};
	struct mc_error err;
	json_t *rep = NULL;
	enum mc_err rc;

	rc = mcc_report_pop(f->db, &q, &rep, &err);
	mc_test_expect_error(rc, &err, MC_ERR_RANGE, "to:", "to before from");
	assert_null(rep);
	q.from = "2023-02-29";
	q.to = "2023-03-01";
	rc = mcc_report_pop(f->db, &q, &rep, &err);
	mc_test_expect_error(rc, &err, MC_ERR_RANGE, "from:", "no such day");
	q.from = "2023-1-05";
	rc = mcc_report_pop(f->db, &q, &rep, &err);
	mc_test_expect_error(rc, &err, MC_ERR_RANGE, "from:", "short month");
	q.from = "2000-01-01";
	q.to = "2023-01-01";
	rc = mcc_report_pop(f->db, &q, &rep, &err);
	mc_test_expect_error(rc, &err, MC_ERR_RANGE, "to:", "too long");
	q.from = "2023-01-01";
	q.to = "2023-01-01";
	q.timezone = "Mars/Olympus";
	rc = mcc_report_pop(f->db, &q, &rep, &err);
	mc_test_expect_error(rc, &err, MC_ERR_TZ, "timezone:", "zone");
	q.timezone = "../../etc/passwd";
	rc = mcc_report_pop(f->db, &q, &rep, &err);
	mc_test_expect_error(rc, &err, MC_ERR_TZ, "timezone:", "a path");
	/* An empty range of data is a report with no rows. */
	q.timezone = "UTC";
	assert_int_equal(mcc_report_pop(f->db, &q, &rep, &err), MC_OK);
	assert_int_equal(json_array_size(json_object_get(rep, "items")), 0);
	json_decref(rep);
}

static void test_report_csv(void **state)
{
	json_t *rep = json_pack(
	        "{s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i}]}",
	        "by", "month", "items", "period", "2023-11", "content",
	        "slogan-a", "content_name",
	        "Khẩu hiệu \"Kỷ luật, Đồng tâm\"\nhai dòng", "site", "cua-lo",
	        "site_name", "Cửa lò", "plays", 12, "completed", 11, "seconds",
	        180, "summarised", 0);
	size_t len = 0;
	char *csv;

	(void)state;
	csv = mcc_report_csv(rep, &len);
	assert_non_null(csv);
	assert_int_equal(len, strlen(csv));
	assert_string_equal(
	        csv, "month,content,content_name,site,site_name,plays,"
	             "completed,seconds,summarised\r\n"
	             "2023-11,slogan-a,\"Khẩu hiệu \"\"Kỷ luật, Đồng tâm\"\"\n"
	             "hai dòng\",cua-lo,Cửa lò,12,11,180,0\r\n");
	free(csv);
	json_decref(rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_eval_thresholds, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_state_and_health_ingest,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pop_store_idempotent,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_report_days_across_dst,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_report_months_sums_filters,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_report_bad_input, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_report_csv, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
