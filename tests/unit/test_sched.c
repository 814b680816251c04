/*
 * Schedule engine (sched.h): one or more tests per numbered rule of
 * docs/schedule.md, each on a small campaign written inline as JSON and
 * parsed with mc_manifest_parse.  The JSON is written with single quotes
 * for legibility; doc() turns them into double quotes.
 *
 * Instants are built with utc(); the test runs with TZ=UTC but does not
 * depend on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "minecast/codec.h"
#include "minecast/sched.h"

#define S   1000LL
#define MIN (60 * S)
#define H   (60 * MIN)
#define DAY (24 * H)

/* Content and playlists every test document shares. */
#define CONTENT                                                                \
	"{'id':'a1','type':'slogan','name':'A1',"                              \
	"'text':'A1 {years} {since} {date}'},"                                 \
	"{'id':'a2','type':'slogan','text':'A2'},"                             \
	"{'id':'b1','type':'slogan','text':'B1'},"                             \
	"{'id':'b2','type':'slogan','text':'B2'},"                             \
	"{'id':'b3','type':'slogan','text':'B3'},"                             \
	"{'id':'fb','type':'slogan','text':'FB {date} {years}'},"              \
	"{'id':'sp1','type':'speech','text':'SP1','duration_ms':8000},"        \
	"{'id':'sp2','type':'speech','text':'SP2','duration_ms':2000},"        \
	"{'id':'sp-fb','type':'speech','text':'SPFB','duration_ms':1000}"

/* pa: 10 s + 20 s; pb: 3 x 5 s; pc: 10 s; ps: speech 8 s + 2 s. */
#define PLAYLISTS                                                              \
	"{'id':'pa','items':[{'content':'a1','duration_s':10},"                \
	"{'content':'a2','duration_s':20}]},"                                  \
	"{'id':'pb','items':[{'content':'b1','duration_s':5},"                 \
	"{'content':'b2','duration_s':5},{'content':'b3','duration_s':5}]},"   \
	"{'id':'pc','items':[{'content':'b1','duration_s':10}]},"              \
	"{'id':'ps','items':[{'content':'sp1'},{'content':'sp2'}]}"

#define DOC_TZ(tz, entries, fallback)                                          \
	"{'format':'minecast-campaign/1','name':'t','timezone':'" tz "',"      \
	"'content':[" CONTENT "],'playlists':[" PLAYLISTS "],"                 \
	"'entries':[" entries "],'fallback':{" fallback "}}"

#define DOC(entries, fallback) DOC_TZ("Asia/Ho_Chi_Minh", entries, fallback)

/* A parsed campaign and its schedule. */
struct fx {
	struct mc_manifest *m;
	struct mc_sched *s;
	struct mc_error err;
};

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {0};

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm) * 1000;
}

/* Parse json (single quotes) into f->m; compile into f->s.  Returns the
 * compile result so tests of rejections can look at f->err. */
static enum mc_err load(struct fx *f, const char *json)
{
	char *buf = strdup(json);
	enum mc_err rc;

	assert_non_null(buf);
	for (char *p = buf; *p; p++)
		if (*p == '\'')
			*p = '"';
	memset(f, 0, sizeof(*f));
	rc = mc_manifest_parse(buf, strlen(buf), MC_DOC_CAMPAIGN, &f->m,
	                       &f->err);
	free(buf);
	if (rc != MC_OK)
		fail_msg("campaign does not parse: %s", f->err.msg);
	f->s = mc_sched_new(f->m, &f->err);
	return f->s ? MC_OK : f->err.code;
}

static void fx_free(struct fx *f)
{
	mc_sched_free(f->s);
	mc_manifest_free(f->m);
}

static void load_ok(struct fx *f, const char *json)
{
	if (load(f, json) != MC_OK)
		fail_msg("schedule does not compile: %s", f->err.msg);
}

/* Collected occurrences. */
struct occs {
	int64_t s[64];
	int64_t e[64];
	size_t n;
};

static bool collect(int64_t s, int64_t e, void *ud)
{
	struct occs *o = ud;

	if (o->n < 64) {
		o->s[o->n] = s;
		o->e[o->n] = e;
		o->n++;
	}
	return true;
}

static void occs_of(struct fx *f, size_t entry, int64_t from, int64_t to,
                    struct occs *o)
{
	memset(o, 0, sizeof(*o));
	assert_int_equal(
	        mc_sched_occurrences(f->s, entry, from, to, collect, o), MC_OK);
}

/* now() on a channel for everyone, synchronised clock, all ready. */
static void now_at(struct fx *f, enum mc_channel ch, int64_t t,
                   struct mc_now *n)
{
	assert_int_equal(mc_sched_now(f->s, NULL, ch, t, NULL, n), MC_OK);
}

static const char *now_id(const struct mc_now *n)
{
	return n->content ? n->content->id : "(idle)";
}

/* ---- rule 1: time, zones, DST ---- */

static void r1_local_default_zone(void **state)
{
	struct fx f;
	struct occs o;

	(void)state;
	load_ok(&f, DOC("{'id':'e','playlist':'pa','channel':'screen',"
	                "'dtstart':'20231112T060000','duration':'PT1H'}",
	                ""));
	occs_of(&f, 0, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.n, 1);
	/* 06:00 in Ho Chi Minh City (+07:00) is 23:00Z the day before. */
	assert_int_equal(o.s[0], utc(2023, 11, 11, 23, 0, 0));
	assert_int_equal(o.e[0], utc(2023, 11, 12, 0, 0, 0));
	fx_free(&f);
}

static void r1_utc_z_and_entry_tzid(void **state)
{
	struct fx f;
	struct occs o;

	(void)state;
	load_ok(&f, DOC("{'id':'z','playlist':'pa','channel':'screen',"
	                "'dtstart':'20231112T060000Z','duration':'PT1H'},"
	                "{'id':'b','playlist':'pa','channel':'screen',"
	                "'tzid':'Europe/Berlin',"
	                "'dtstart':'20231112T060000','duration':'PT1H'}",
	                ""));
	occs_of(&f, 0, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.s[0], utc(2023, 11, 12, 6, 0, 0));
	occs_of(&f, 1, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.s[0], utc(2023, 11, 12, 5, 0, 0)); /* CET */
	fx_free(&f);
}

static void r1_date_is_local_midnight(void **state)
{
	struct fx f;
	struct occs o;

	(void)state;
	load_ok(&f, DOC("{'id':'d','playlist':'pa','channel':'screen',"
	                "'dtstart':'20231112'}",
	                ""));
	occs_of(&f, 0, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.n, 1);
	/* A DATE is 00:00 local and, looping, lasts the whole day. */
	assert_int_equal(o.s[0], utc(2023, 11, 11, 17, 0, 0));
	assert_int_equal(o.e[0], utc(2023, 11, 12, 17, 0, 0));
	fx_free(&f);
}

static void r1_unknown_zone_is_an_error(void **state)
{
	struct fx f;

	(void)state;
	assert_int_equal(load(&f, DOC("{'id':'ok','playlist':'pa',"
	                              "'channel':'screen'},"
	                              "{'id':'mars','playlist':'pa',"
	                              "'channel':'screen','tzid':'Mars/Base',"
	                              "'dtstart':'20231112T060000'}",
	                              "")),
	                 MC_ERR_TZ);
	assert_non_null(strstr(f.err.msg, "entries[1].tzid"));
	assert_non_null(strstr(f.err.msg, "Mars/Base"));
	assert_non_null(strstr(f.err.msg, "mars"));
	fx_free(&f);
	assert_int_equal(load(&f, DOC_TZ("Asia/Nowhere", "", "")), MC_ERR_TZ);
	assert_non_null(strstr(f.err.msg, "timezone"));
	fx_free(&f);
	/* Zone names are names, never paths (the codec refuses them too;
	 * the engine must not rely on that). */
	load_ok(&f, DOC("{'id':'p','playlist':'pa','channel':'screen',"
	                "'tzid':'UTC','dtstart':'20231112T060000'}",
	                ""));
	mc_sched_free(f.s);
	free(f.m->entries[0].tzid);
	f.m->entries[0].tzid = strdup("../../../../etc/passwd");
	f.s = mc_sched_new(f.m, &f.err);
	assert_null(f.s);
	assert_int_equal(f.err.code, MC_ERR_TZ);
	fx_free(&f);
}

/*
 * A daily 02:30 rule in New York across the spring change: 02:30 does not
 * exist on 10 March 2024.  libical reads it with the offset in force after
 * the change (-04:00), giving 06:30Z (= 01:30 EST); the next day is 02:30
 * EDT again, not 03:30 (which iterating on a zoned DTSTART would give).
 * In the autumn 01:30 on 3 November happens twice; libical takes the
 * second (EST, 06:30Z).
 */
static void r1_dst_daily_0230_new_york(void **state)
{
	struct fx f;
	struct occs o;

	(void)state;
	load_ok(&f, DOC_TZ("America/New_York",
	                   "{'id':'n','playlist':'pa','channel':'screen',"
	                   "'dtstart':'20240308T023000','duration':'PT10M',"
	                   "'rrule':'FREQ=DAILY'},"
	                   "{'id':'f','playlist':'pa','channel':'screen',"
	                   "'dtstart':'20241102T013000','duration':'PT10M',"
	                   "'rrule':'FREQ=DAILY;COUNT=3'}",
	                   ""));
	occs_of(&f, 0, utc(2024, 3, 8, 0, 0, 0), utc(2024, 3, 12, 12, 0, 0),
	        &o);
	assert_int_equal(o.n, 5);
	assert_int_equal(o.s[0], utc(2024, 3, 8, 7, 30, 0)); /* EST */
	assert_int_equal(o.s[1], utc(2024, 3, 9, 7, 30, 0));
	assert_int_equal(o.s[2], utc(2024, 3, 10, 6, 30, 0)); /* the gap */
	assert_int_equal(o.s[3], utc(2024, 3, 11, 6, 30, 0)); /* EDT 02:30 */
	assert_int_equal(o.s[4], utc(2024, 3, 12, 6, 30, 0));
	occs_of(&f, 1, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.n, 3);
	assert_int_equal(o.s[0], utc(2024, 11, 2, 5, 30, 0));
	assert_int_equal(o.s[1], utc(2024, 11, 3, 6, 30, 0)); /* EST */
	assert_int_equal(o.s[2], utc(2024, 11, 4, 6, 30, 0)); /* EST */
	fx_free(&f);
}

static void r1_dst_daily_0230_berlin(void **state)
{
	struct fx f;
	struct occs o;

	(void)state;
	load_ok(&f, DOC_TZ("Europe/Berlin",
	                   "{'id':'b','playlist':'pa','channel':'screen',"
	                   "'dtstart':'20240330T023000','duration':'PT10M',"
	                   "'rrule':'FREQ=DAILY;COUNT=3'}",
	                   ""));
	occs_of(&f, 0, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.n, 3);
	assert_int_equal(o.s[0], utc(2024, 3, 30, 1, 30, 0)); /* CET */
	assert_int_equal(o.s[1], utc(2024, 3, 31, 0, 30, 0)); /* the gap */
	assert_int_equal(o.s[2], utc(2024, 4, 1, 0, 30, 0));  /* CEST */
	fx_free(&f);
}

/* 09:00 every day stays 09:00 local while the UTC offset changes. */
static void r1_dst_daily_0900_offset_changes(void **state)
{
	struct fx f;
	struct occs o;
	struct mc_now n;

	(void)state;
	load_ok(&f, DOC_TZ("America/New_York",
	                   "{'id':'n','playlist':'pa','channel':'screen',"
	                   "'dtstart':'20240301T090000','duration':'PT1H',"
	                   "'rrule':'FREQ=DAILY'}",
	                   ""));
	occs_of(&f, 0, utc(2024, 3, 9, 0, 0, 0), utc(2024, 3, 11, 0, 0, 0), &o);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.s[0], utc(2024, 3, 9, 14, 0, 0));  /* -05:00 */
	assert_int_equal(o.s[1], utc(2024, 3, 10, 13, 0, 0)); /* -04:00 */
	/* now() agrees: 13:30Z on the 10th is inside, on the 9th not. */
	now_at(&f, MC_CH_SCREEN, utc(2024, 3, 10, 13, 30, 0), &n);
	assert_int_equal(n.kind, MC_NOW_SCHEDULED);
	assert_int_equal(n.occ_start_ms, utc(2024, 3, 10, 13, 0, 0));
	mc_now_clear(&n);
	now_at(&f, MC_CH_SCREEN, utc(2024, 3, 9, 13, 30, 0), &n);
	assert_int_equal(n.kind, MC_NOW_IDLE);
	assert_int_equal(n.next_change_ms, utc(2024, 3, 9, 14, 0, 0));
	mc_now_clear(&n);
	fx_free(&f);
}

/* ---- rule 2: occurrences and their length ---- */

static void r2_rrule_rdate_exdate(void **state)
{
	struct fx f;
	struct occs o;

	(void)state;
	load_ok(&f, DOC("{'id':'e','playlist':'pa','channel':'screen',"
	                "'dtstart':'20231101T080000','duration':'PT1H',"
	                "'rrule':'FREQ=DAILY;COUNT=4',"
	                "'rdate':['20231110T090000','20231102T080000'],"
	                "'exdate':['20231103T080000','20231104T080100']}",
	                ""));
	occs_of(&f, 0, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	/* 1, 2 (rule and rdate once), 4 (exdate one minute off: kept), 10. */
	assert_int_equal(o.n, 4);
	assert_int_equal(o.s[0], utc(2023, 11, 1, 1, 0, 0));
	assert_int_equal(o.s[1], utc(2023, 11, 2, 1, 0, 0));
	assert_int_equal(o.s[2], utc(2023, 11, 4, 1, 0, 0));
	assert_int_equal(o.s[3], utc(2023, 11, 10, 2, 0, 0));
	fx_free(&f);
}

static void r2_lengths(void **state)
{
	struct fx f;
	struct occs o;

	(void)state;
	load_ok(&f,
	        DOC_TZ("Europe/Berlin",
	               "{'id':'dtend','playlist':'pa','channel':'screen',"
	               "'dtstart':'20240330T120000','dtend':'20240331T120000',"
	               "'rrule':'FREQ=DAILY;COUNT=2'},"
	               "{'id':'dur','playlist':'pa','channel':'screen',"
	               "'dtstart':'20240330T120000','duration':'P1D',"
	               "'rrule':'FREQ=DAILY;COUNT=2'},"
	               "{'id':'day','playlist':'pa','channel':'screen',"
	               "'dtstart':'20240330T200000'},"
	               "{'id':'once','playlist':'ps','channel':'speaker',"
	               "'mode':'once','dtstart':'20240330T060000'},"
	               "{'id':'once-clip','playlist':'ps','channel':'speaker',"
	               "'mode':'once','dtstart':'20240330T070000','duration':'"
	               "PT5S'}",
	               ""));
	/* DTEND - DTSTART is an exact length: 12:00 CET to 12:00 CEST is
	 * 23 h, and every occurrence lasts 23 h, the next one too. */
	occs_of(&f, 0, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.e[0] - o.s[0], 23 * H);
	assert_int_equal(o.e[1] - o.s[1], 23 * H);
	/* DURATION is nominal: P1D from 12:00 CET ends 12:00 CEST (23 h). */
	occs_of(&f, 1, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.s[0], utc(2024, 3, 30, 11, 0, 0));
	assert_int_equal(o.e[0], utc(2024, 3, 31, 10, 0, 0));
	assert_int_equal(o.e[1] - o.s[1], 24 * H);
	/* Loop, neither: to the end of DTSTART's local day. */
	occs_of(&f, 2, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.s[0], utc(2024, 3, 30, 19, 0, 0));
	assert_int_equal(o.e[0], utc(2024, 3, 30, 23, 0, 0));
	/* Once: the playlist's length (8 s + 2 s), clipped by DURATION. */
	occs_of(&f, 3, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.e[0] - o.s[0], 10 * S);
	occs_of(&f, 4, 0, utc(2030, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.e[0] - o.s[0], 5 * S);
	fx_free(&f);
}

static void r2_standing_is_always_on(void **state)
{
	struct fx f;
	struct occs o;
	struct mc_now n;

	(void)state;
	load_ok(&f, DOC("{'id':'s','playlist':'pa','channel':'screen'}", ""));
	occs_of(&f, 0, utc(2023, 1, 1, 0, 0, 0), utc(2024, 1, 1, 0, 0, 0), &o);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.s[0], 0);
	assert_true(o.e[0] == MC_SCHED_NEVER);
	now_at(&f, MC_CH_SCREEN, utc(2023, 11, 12, 3, 4, 5), &n);
	assert_int_equal(n.kind, MC_NOW_SCHEDULED);
	assert_int_equal(n.anchor_ms, 0);
	mc_now_clear(&n);
	fx_free(&f);
}

static void r2_compile_errors_name_the_field(void **state)
{
	static const struct {
		const char *entry; /* the one bad entry */
		enum mc_err code;  /* expected class */
		const char *msg;   /* expected in the message */
	} cases[] = {
	        {"'dtstart':'20231101T080000','rrule':'COUNT=3'",
	         MC_ERR_MISSING, "entries[0].rrule: FREQ is missing"},
	        {"'dtstart':'20231101T080000','rrule':'FREQ=DAILY;BYHOUR=24'",
	         MC_ERR_RANGE, "entries[0].rrule: bad BYHOUR"},
	        {"'dtstart':'20231101T080000','rrule':'FREQ=FORTNIGHTLY'",
	         MC_ERR_RANGE, "entries[0].rrule: bad FREQ"},
	        {"'dtstart':'20231101T080000',"
	         "'rrule':'FREQ=DAILY;COUNT=2;UNTIL=20231201T000000Z'",
	         MC_ERR_PARSE, "COUNT and UNTIL"},
	        {"'dtstart':'20231101T080000','rrule':'FREQ=DAILY;X-FOO=1'",
	         MC_ERR_PARSE, "unknown part 'X-FOO'"},
	        {"'dtstart':'20231101T080000',"
	         "'rrule':'FREQ=MINUTELY;BYMONTHDAY=30;BYMONTH=2'",
	         MC_ERR_UNSUPPORTED, "FREQ=MINUTELY with BYMONTHDAY"},
	        {"'dtstart':'20231101T080000','rrule':'FREQ=DAILY;BYDAY=1MO'",
	         MC_ERR_PARSE, "needs FREQ=MONTHLY or YEARLY"},
	        {"'dtstart':'20231101T080000','rrule':'FREQ=DAILY;COUNT="
	         "100001'",
	         MC_ERR_RANGE, "bad COUNT"},
	        {"'dtstart':'20231101T080000','duration':'PT0S'", MC_ERR_PARSE,
	         "entries[0].duration"},
	        {"'dtstart':'20231101T080000','duration':'soon'", MC_ERR_PARSE,
	         "entries[0].duration"},
	        {"'dtstart':'20231101T080000','dtend':'20231101T070000'",
	         MC_ERR_RANGE, "entries[0].dtend: must be after dtstart"},
	        {"'dtstart':'20231101T080000','exdate':['2023-11-02']",
	         MC_ERR_PARSE, "entries[0].exdate[0]"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[4096];
		struct fx f;
		enum mc_err rc;
		char *p, *q;

		snprintf(json, sizeof(json),
		         DOC("{'id':'x','playlist':'pa','channel':'screen',%s}",
		             ""),
		         cases[i].entry);
		/* Parse by hand: the codec may reject some of these first. */
		for (p = json; *p; p++)
			if (*p == '\'')
				*p = '"';
		memset(&f, 0, sizeof(f));
		if (mc_manifest_parse(json, strlen(json), MC_DOC_CAMPAIGN, &f.m,
		                      &f.err) != MC_OK) {
			/* Codec rejected it: fine, as long as it names it. */
			q = strstr(f.err.msg, "entries[0]");
			if (!q)
				fail_msg("case %zu: %s", i, f.err.msg);
			continue;
		}
		f.s = mc_sched_new(f.m, &f.err);
		rc = f.s ? MC_OK : f.err.code;
		if (rc != cases[i].code || !strstr(f.err.msg, cases[i].msg))
			fail_msg("case %zu: got %d '%s', want %d '%s'", i, rc,
			         f.err.msg, cases[i].code, cases[i].msg);
		fx_free(&f);
	}
}

/* ---- rule 3: candidates ---- */

static void r3_targets_and_window(void **state)
{
	struct fx f;
	struct mc_now n;
	struct mc_who cua_lo = {.node = "pi-1", .site = "cua-lo"};
	struct mc_who mao_khe = {.node = "pi-2", .site = "mao-khe"};
	int64_t t = utc(2023, 11, 12, 1, 0, 0); /* 08:00 local */

	(void)state;
	load_ok(&f, DOC("{'id':'e','playlist':'pc','channel':'screen',"
	                "'dtstart':'20231112T070000','duration':'PT2H',"
	                "'targets':{'sites':['cua-lo']}}",
	                "'screen':'fb'"));
	assert_int_equal(mc_sched_now(f.s, &cua_lo, MC_CH_SCREEN, t, NULL, &n),
	                 MC_OK);
	assert_int_equal(n.kind, MC_NOW_SCHEDULED);
	assert_string_equal(n.entry->id, "e");
	mc_now_clear(&n);
	assert_int_equal(mc_sched_now(f.s, &mao_khe, MC_CH_SCREEN, t, NULL, &n),
	                 MC_OK);
	assert_int_equal(n.kind, MC_NOW_FALLBACK);
	mc_now_clear(&n);
	/* [s, e): the end instant is outside, the start inside. */
	assert_int_equal(mc_sched_now(f.s, &cua_lo, MC_CH_SCREEN,
	                              utc(2023, 11, 12, 2, 0, 0), NULL, &n),
	                 MC_OK);
	assert_int_equal(n.kind, MC_NOW_FALLBACK);
	mc_now_clear(&n);
	assert_int_equal(mc_sched_now(f.s, &cua_lo, MC_CH_SCREEN,
	                              utc(2023, 11, 12, 0, 0, 0), NULL, &n),
	                 MC_OK);
	assert_int_equal(n.kind, MC_NOW_SCHEDULED);
	mc_now_clear(&n);
	/* The other channel has nothing. */
	assert_int_equal(mc_sched_now(f.s, &cua_lo, MC_CH_SPEAKER, t, NULL, &n),
	                 MC_OK);
	assert_int_equal(n.kind, MC_NOW_IDLE);
	mc_now_clear(&n);
	fx_free(&f);
}

static void r3_dated_items_wait_for_the_clock(void **state)
{
	struct fx f;
	struct mc_now n;
	struct mc_sched_opts unsynced = {.clock_synced = false};
	int64_t t = utc(2023, 11, 12, 1, 0, 0);

	(void)state;
	load_ok(&f, DOC("{'id':'std','playlist':'pc','channel':'screen',"
	                "'priority':10},"
	                "{'id':'dated','playlist':'pa','channel':'screen',"
	                "'layer':'interrupt','dtstart':'20231112'}",
	                ""));
	now_at(&f, MC_CH_SCREEN, t, &n);
	assert_string_equal(n.entry->id, "dated");
	mc_now_clear(&n);
	assert_int_equal(
	        mc_sched_now(f.s, NULL, MC_CH_SCREEN, t, &unsynced, &n), MC_OK);
	assert_int_equal(n.kind, MC_NOW_SCHEDULED);
	assert_string_equal(n.entry->id, "std");
	mc_now_clear(&n);
	fx_free(&f);
}

/* ---- rule 4: the winner ---- */

#define WINDOW "'dtstart':'20231112T000000','duration':'PT12H'"

static void r4_interrupt_takes_the_channel(void **state)
{
	struct fx f;
	struct mc_now n;

	(void)state;
	load_ok(&f, DOC("{'id':'fill-hi','playlist':'pa','channel':'screen',"
	                "'priority':90," WINDOW "},"
	                "{'id':'int-lo','playlist':'pb','channel':'screen',"
	                "'priority':20,'layer':'interrupt'," WINDOW "},"
	                "{'id':'int-hi','playlist':'pc','channel':'screen',"
	                "'priority':30,'layer':'interrupt'," WINDOW "}",
	                ""));
	now_at(&f, MC_CH_SCREEN, utc(2023, 11, 12, 0, 0, 0), &n);
	assert_string_equal(n.entry->id, "int-hi");
	assert_int_equal(n.n_group, 1);
	mc_now_clear(&n);
	fx_free(&f);
}

static void r4_interrupt_ties(void **state)
{
	struct fx f;
	struct mc_now n;

	(void)state;
	/* Same priority: the later occurrence start wins ... */
	load_ok(&f, DOC("{'id':'early','playlist':'pa','channel':'screen',"
	                "'layer':'interrupt','dtstart':'20231112T060000',"
	                "'duration':'PT4H'},"
	                "{'id':'late','playlist':'pb','channel':'screen',"
	                "'layer':'interrupt','dtstart':'20231112T070000',"
	                "'duration':'PT1H'},"
	                "{'id':'late-too','playlist':'pc','channel':'screen',"
	                "'layer':'interrupt','dtstart':'20231112T070000',"
	                "'duration':'PT1H'}",
	                ""));
	now_at(&f, MC_CH_SCREEN, utc(2023, 11, 12, 0, 30, 0), &n);
	/* ... then the earlier entry in the document. */
	assert_string_equal(n.entry->id, "late");
	mc_now_clear(&n);
	now_at(&f, MC_CH_SCREEN, utc(2023, 11, 11, 23, 30, 0), &n);
	assert_string_equal(n.entry->id, "early");
	mc_now_clear(&n);
	fx_free(&f);
}

static void r4_fill_shares_round_robin(void **state)
{
	static const char *const want[] = {"a1", "b1", "a2", "b2", "a1", "b3"};
	static const int64_t len[] = {10, 5, 20, 5, 10, 5}; /* 55 s */
	struct fx f;
	struct mc_now n;
	/* pa starts at 00:00 local, pb at 00:01: the anchor is 00:01. */
	int64_t anchor = utc(2023, 11, 11, 17, 1, 0), t = anchor;

	(void)state;
	load_ok(&f, DOC("{'id':'A','playlist':'pa','channel':'screen',"
	                "'priority':50," WINDOW "},"
	                "{'id':'low','playlist':'pc','channel':'screen',"
	                "'priority':40," WINDOW "},"
	                "{'id':'B','playlist':'pb','channel':'screen',"
	                "'priority':50,'dtstart':'20231112T000100',"
	                "'duration':'PT11H'}",
	                ""));
	for (int cycle = 0; cycle < 2; cycle++)
		for (size_t k = 0; k < 6; k++) {
			now_at(&f, MC_CH_SCREEN, t + 1, &n);
			assert_string_equal(now_id(&n), want[k]);
			assert_int_equal(n.seq_index, k);
			assert_int_equal(n.seq_len, 6);
			assert_int_equal(n.n_group, 2);
			assert_int_equal(n.group[0], 0); /* document order */
			assert_int_equal(n.group[1], 2);
			assert_int_equal(n.anchor_ms, anchor);
			assert_int_equal(n.item_start_ms, t);
			assert_int_equal(n.item_end_ms, t + len[k] * S);
			mc_now_clear(&n);
			t += len[k] * S;
		}
	/* Before B starts, A plays alone, clocked from its own start. */
	now_at(&f, MC_CH_SCREEN, utc(2023, 11, 11, 17, 0, 15), &n);
	assert_string_equal(now_id(&n), "a2");
	assert_int_equal(n.n_group, 1);
	assert_int_equal(n.next_change_ms, utc(2023, 11, 11, 17, 0, 30));
	mc_now_clear(&n);
	fx_free(&f);
}

/* ---- rule 5: position ---- */

static void r5_loop_is_clocked_like_a_broadcast(void **state)
{
	struct fx f;
	struct mc_now n;
	int64_t start = utc(2023, 11, 11, 17, 0, 0); /* 00:00 local */

	(void)state;
	load_ok(&f,
	        DOC("{'id':'loop','playlist':'pa','channel':'screen'," WINDOW
	            "},"
	            "{'id':'int','playlist':'pc','channel':'screen',"
	            "'layer':'interrupt','dtstart':'20231112T010000',"
	            "'duration':'PT7M'}",
	            ""));
	/* 1 h in = 120 cycles of 30 s: a1 again at 01:00:00 ... */
	now_at(&f, MC_CH_SCREEN, start + H - 1, &n);
	assert_string_equal(now_id(&n), "a2");
	mc_now_clear(&n);
	now_at(&f, MC_CH_SCREEN, start + H, &n);
	assert_string_equal(n.entry->id, "int");
	assert_int_equal(n.next_change_ms, start + H + 10 * S); /* item */
	assert_int_equal(n.segment_end_ms, start + H + 7 * MIN);
	mc_now_clear(&n);
	/* ... and after the 7-minute interruption the loop is where it
	 * would have been: 01:07:00 is 14 cycles in, a1; 01:07:15 is a2. */
	now_at(&f, MC_CH_SCREEN, start + H + 7 * MIN, &n);
	assert_string_equal(now_id(&n), "a1");
	assert_int_equal(n.item_start_ms, start + H + 7 * MIN);
	mc_now_clear(&n);
	now_at(&f, MC_CH_SCREEN, start + H + 7 * MIN + 15 * S, &n);
	assert_string_equal(now_id(&n), "a2");
	assert_int_equal(n.item_start_ms, start + H + 7 * MIN + 10 * S);
	mc_now_clear(&n);
	fx_free(&f);
}

static void r5_standing_anchored_at_epoch(void **state)
{
	struct fx f;
	struct mc_now n;
	int64_t t = 30 * S * 1000000 + 12 * S; /* a2 of some cycle */

	(void)state;
	load_ok(&f, DOC("{'id':'s','playlist':'pa','channel':'screen'}", ""));
	now_at(&f, MC_CH_SCREEN, t, &n);
	assert_string_equal(now_id(&n), "a2");
	assert_int_equal(n.item_start_ms, t - 2 * S);
	assert_int_equal(n.next_change_ms, t + 18 * S);
	mc_now_clear(&n);
	fx_free(&f);
}

static void r5_once_plays_once(void **state)
{
	struct fx f;
	struct mc_now n;
	int64_t at = utc(2023, 11, 11, 23, 0, 0); /* 06:00 local */

	(void)state;
	load_ok(&f, DOC("{'id':'bt','playlist':'ps','channel':'speaker',"
	                "'mode':'once','dtstart':'20231112T060000',"
	                "'rrule':'FREQ=DAILY'}",
	                "'speaker':'sp-fb'"));
	now_at(&f, MC_CH_SPEAKER, at, &n);
	assert_string_equal(now_id(&n), "sp1");
	assert_int_equal(n.entry->layer, MC_LAYER_INTERRUPT); /* default */
	assert_int_equal(n.item_start_ms, at);
	assert_int_equal(n.next_change_ms, at + 8 * S);
	mc_now_clear(&n);
	now_at(&f, MC_CH_SPEAKER, at + 9 * S, &n);
	assert_string_equal(now_id(&n), "sp2");
	assert_int_equal(n.next_change_ms, at + 10 * S);
	mc_now_clear(&n);
	now_at(&f, MC_CH_SPEAKER, at + 10 * S, &n);
	assert_int_equal(n.kind, MC_NOW_FALLBACK);
	assert_int_equal(n.next_change_ms, at + DAY);
	mc_now_clear(&n);
	fx_free(&f);
}

/* The 06:00 occurrence of today, as a node that already played it. */
static bool played_0600(const struct mc_entry *e, int64_t occ, void *ud)
{
	return strcmp(e->id, "bt") == 0 && occ == *(const int64_t *)ud;
}

static void r5_played_occurrence_is_skipped(void **state)
{
	struct fx f;
	struct mc_now n;
	int64_t at = utc(2023, 11, 11, 23, 0, 0); /* 06:00 local */
	struct mc_sched_opts o = {
	        .clock_synced = true, .skip = played_0600, .skip_ud = &at};

	(void)state;
	load_ok(&f, DOC("{'id':'bt','playlist':'ps','channel':'speaker',"
	                "'mode':'once','dtstart':'20231112T060000',"
	                "'rrule':'FREQ=DAILY'}",
	                "'speaker':'sp-fb'"));
	/* After a clock step back into the window: not played again. */
	assert_int_equal(
	        mc_sched_now(f.s, NULL, MC_CH_SPEAKER, at + 2 * S, &o, &n),
	        MC_OK);
	assert_int_equal(n.kind, MC_NOW_FALLBACK);
	mc_now_clear(&n);
	/* The next day's occurrence is another one and plays. */
	assert_int_equal(
	        mc_sched_now(f.s, NULL, MC_CH_SPEAKER, at + DAY, &o, &n),
	        MC_OK);
	assert_string_equal(now_id(&n), "sp1");
	mc_now_clear(&n);
	fx_free(&f);
}

/* ---- rule 6: readiness ---- */

static bool not_a2(const struct mc_content *c, void *ud)
{
	(void)ud;
	return strcmp(c->id, "a2") != 0;
}

static bool nothing_of_pc(const struct mc_content *c, void *ud)
{
	(void)ud;
	return strcmp(c->id, "b1") != 0;
}

static void r6_unready_items_are_skipped(void **state)
{
	struct fx f;
	struct mc_now n;
	struct mc_sched_opts o = {.clock_synced = true, .ready = not_a2};

	(void)state;
	load_ok(&f, DOC("{'id':'s','playlist':'pa','channel':'screen'}", ""));
	/* Only a1 (10 s) is ready: the cycle is 10 s of a1. */
	assert_int_equal(mc_sched_now(f.s, NULL, MC_CH_SCREEN, 15 * S, &o, &n),
	                 MC_OK);
	assert_string_equal(now_id(&n), "a1");
	assert_int_equal(n.item_start_ms, 10 * S);
	assert_int_equal(n.seq_len, 1);
	mc_now_clear(&n);
	fx_free(&f);
}

static void r6_entry_without_ready_items_is_no_candidate(void **state)
{
	struct fx f;
	struct mc_now n;
	struct mc_sched_opts o = {.clock_synced = true, .ready = nothing_of_pc};

	(void)state;
	load_ok(&f, DOC("{'id':'low','playlist':'pa','channel':'screen',"
	                "'priority':10},"
	                "{'id':'hi','playlist':'pc','channel':'screen',"
	                "'layer':'interrupt'}",
	                "'screen':'b1'"));
	assert_int_equal(mc_sched_now(f.s, NULL, MC_CH_SCREEN, 5 * S, &o, &n),
	                 MC_OK);
	assert_string_equal(n.entry->id, "low");
	mc_now_clear(&n);
	fx_free(&f);
}

/* ---- rule 7: fallback ---- */

static void r7_fallback_and_reasons(void **state)
{
	struct fx f;
	struct mc_now n;
	struct mc_sched_opts unsynced = {.clock_synced = false};
	int64_t t = utc(2023, 11, 13, 1, 0, 0);

	(void)state;
	load_ok(&f, DOC("{'id':'d','playlist':'pa','channel':'screen',"
	                "'dtstart':'20231112T070000','duration':'PT1H'},"
	                "{'id':'sp','playlist':'ps','channel':'speaker',"
	                "'dtstart':'20231112T070000','mode':'once'}",
	                "'screen':'fb'"));
	now_at(&f, MC_CH_SCREEN, t, &n);
	assert_int_equal(n.kind, MC_NOW_FALLBACK);
	assert_int_equal(n.reason, MC_REASON_IDLE);
	assert_string_equal(now_id(&n), "fb");
	/* {date} is the local date of t; no founded year here. */
	assert_string_equal(n.text, "FB 13/11/2023 {years}");
	mc_now_clear(&n);
	assert_int_equal(
	        mc_sched_now(f.s, NULL, MC_CH_SCREEN, t, &unsynced, &n), MC_OK);
	assert_int_equal(n.kind, MC_NOW_FALLBACK);
	assert_int_equal(n.reason, MC_REASON_CLOCK);
	mc_now_clear(&n);
	/* No fallback content on the speaker: idle, same reasons. */
	now_at(&f, MC_CH_SPEAKER, t, &n);
	assert_int_equal(n.kind, MC_NOW_IDLE);
	assert_int_equal(n.reason, MC_REASON_IDLE);
	assert_null(n.content);
	mc_now_clear(&n);
	assert_int_equal(
	        mc_sched_now(f.s, NULL, MC_CH_SPEAKER, t, &unsynced, &n),
	        MC_OK);
	assert_int_equal(n.kind, MC_NOW_IDLE);
	assert_int_equal(n.reason, MC_REASON_CLOCK);
	mc_now_clear(&n);
	fx_free(&f);
}

static void r7_unsynced_without_dated_entries_is_idle_reason(void **state)
{
	struct fx f;
	struct mc_now n;
	struct mc_sched_opts unsynced = {.clock_synced = false};

	(void)state;
	load_ok(&f, DOC("", "'screen':'fb'"));
	assert_int_equal(
	        mc_sched_now(f.s, NULL, MC_CH_SCREEN, 0, &unsynced, &n), MC_OK);
	assert_int_equal(n.reason, MC_REASON_IDLE);
	assert_true(n.next_change_ms == MC_SCHED_NEVER);
	mc_now_clear(&n);
	fx_free(&f);
}

/* ---- rule 8: next change ---- */

static void r8_next_change_points(void **state)
{
	struct fx f;
	struct mc_now n;
	int64_t start = utc(2023, 11, 11, 17, 0, 0); /* 00:00 local */

	(void)state;
	load_ok(&f, DOC("{'id':'loop','playlist':'pa','channel':'screen',"
	                "'dtstart':'20231112T000000','duration':'PT1H'},"
	                "{'id':'soon','playlist':'pc','channel':'screen',"
	                "'layer':'interrupt','dtstart':'20231112T000005',"
	                "'duration':'PT1M'},"
	                "{'id':'other','playlist':'ps','channel':'speaker',"
	                "'dtstart':'20231112T000001'}",
	                ""));
	/* a1 would end at +10 s, but 'soon' starts at +5 s. */
	now_at(&f, MC_CH_SCREEN, start, &n);
	assert_string_equal(now_id(&n), "a1");
	assert_int_equal(n.item_end_ms, start + 10 * S);
	assert_int_equal(n.next_change_ms, start + 5 * S);
	assert_int_equal(n.segment_end_ms, start + 5 * S);
	mc_now_clear(&n);
	/* Inside 'soon': its item (10 s) ends before the occurrence. */
	now_at(&f, MC_CH_SCREEN, start + 5 * S, &n);
	assert_int_equal(n.next_change_ms, start + 15 * S);
	assert_int_equal(n.segment_end_ms, start + 65 * S);
	mc_now_clear(&n);
	/* Near the end of 'loop': the occurrence end comes first. */
	now_at(&f, MC_CH_SCREEN, start + H - 3 * S, &n);
	assert_int_equal(n.next_change_ms, start + H);
	mc_now_clear(&n);
	/* After everything: nothing will change. */
	now_at(&f, MC_CH_SCREEN, start + H, &n);
	assert_int_equal(n.kind, MC_NOW_IDLE);
	assert_true(n.next_change_ms == MC_SCHED_NEVER);
	mc_now_clear(&n);
	/* Before: the first start. */
	now_at(&f, MC_CH_SCREEN, start - DAY, &n);
	assert_int_equal(n.next_change_ms, start);
	mc_now_clear(&n);
	fx_free(&f);
}

/* ---- rule 9: templates in now() ---- */

static void r9_anniversary_reads_87_years(void **state)
{
	struct fx f;
	struct mc_now n;

	(void)state;
	load_ok(&f, DOC("{'id':'e-12-11','playlist':'pa','channel':'screen',"
	                "'layer':'interrupt','dtstart':'20231112T000000',"
	                "'duration':'P1D','founded':1936,"
	                "'rrule':'FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12'},"
	                "{'id':'s','playlist':'pa','channel':'screen'}",
	                ""));
	/* 12/11/2023 23:59:30 local: {date} is the occurrence start date. */
	now_at(&f, MC_CH_SCREEN, utc(2023, 11, 12, 16, 59, 30), &n);
	assert_string_equal(n.entry->id, "e-12-11");
	assert_string_equal(now_id(&n), "a1");
	assert_string_equal(n.text, "A1 87 1936 12/11/2023");
	mc_now_clear(&n);
	/* A year later, no edit: 88. */
	now_at(&f, MC_CH_SCREEN, utc(2024, 11, 11, 17, 0, 0), &n);
	assert_string_equal(n.text, "A1 88 1936 12/11/2024");
	mc_now_clear(&n);
	/* Standing text: no founded, {date} of t. */
	now_at(&f, MC_CH_SCREEN, utc(2023, 11, 13, 17, 0, 0), &n);
	assert_string_equal(n.entry->id, "s");
	assert_string_equal(n.text, "A1 {years} {since} 14/11/2023");
	mc_now_clear(&n);
	fx_free(&f);
}

/* The sample campaign, as 11-preview.sh sees it, through the API. */
static void sample_campaign_12_11(void **state)
{
	struct mc_manifest *m = NULL;
	struct mc_error err = {0};
	struct mc_sched *s;
	struct mc_now n;
	int found = 0;

	(void)state;
	if (mc_manifest_load(MC_SOURCE_DIR "/playlists/november-2023.json",
	                     MC_DOC_CAMPAIGN, &m, &err) != MC_OK)
		fail_msg("sample campaign: %s", err.msg);
	s = mc_sched_new(m, &err);
	if (!s)
		fail_msg("sample campaign: %s", err.msg);
	for (int64_t t = utc(2023, 11, 11, 17, 0, 0);
	     t < utc(2023, 11, 12, 17, 0, 0);) {
		assert_int_equal(
		        mc_sched_now(s, NULL, MC_CH_SCREEN, t, NULL, &n),
		        MC_OK);
		if (n.text && strstr(n.text, "87 năm"))
			found++;
		assert_true(n.next_change_ms > t);
		t = n.next_change_ms;
		mc_now_clear(&n);
	}
	assert_true(found > 0);
	mc_sched_free(s);
	mc_manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(r1_local_default_zone),
	        cmocka_unit_test(r1_utc_z_and_entry_tzid),
	        cmocka_unit_test(r1_date_is_local_midnight),
	        cmocka_unit_test(r1_unknown_zone_is_an_error),
	        cmocka_unit_test(r1_dst_daily_0230_new_york),
	        cmocka_unit_test(r1_dst_daily_0230_berlin),
	        cmocka_unit_test(r1_dst_daily_0900_offset_changes),
	        cmocka_unit_test(r2_rrule_rdate_exdate),
	        cmocka_unit_test(r2_lengths),
	        cmocka_unit_test(r2_standing_is_always_on),
	        cmocka_unit_test(r2_compile_errors_name_the_field),
	        cmocka_unit_test(r3_targets_and_window),
	        cmocka_unit_test(r3_dated_items_wait_for_the_clock),
	        cmocka_unit_test(r4_interrupt_takes_the_channel),
	        cmocka_unit_test(r4_interrupt_ties),
	        cmocka_unit_test(r4_fill_shares_round_robin),
	        cmocka_unit_test(r5_loop_is_clocked_like_a_broadcast),
	        cmocka_unit_test(r5_standing_anchored_at_epoch),
	        cmocka_unit_test(r5_once_plays_once),
	        cmocka_unit_test(r5_played_occurrence_is_skipped),
	        cmocka_unit_test(r6_unready_items_are_skipped),
	        cmocka_unit_test(r6_entry_without_ready_items_is_no_candidate),
	        cmocka_unit_test(r7_fallback_and_reasons),
	        cmocka_unit_test(
	                r7_unsynced_without_dated_entries_is_idle_reason),
	        cmocka_unit_test(r8_next_change_points),
	        cmocka_unit_test(r9_anniversary_reads_87_years),
	        cmocka_unit_test(sample_campaign_12_11),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
