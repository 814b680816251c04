/*
 * Recurrence expansion on libical (sched_expand.c):
 *
 *  - Queries jump into the middle of a series (moving DTSTART by whole
 *    intervals for SECONDLY..WEEKLY, icalrecur_iterator_set_start for
 *    MONTHLY and YEARLY).  For many rules and windows, the occurrences a
 *    query finds must be exactly those of a full iteration from DTSTART.
 *  - mc_sched_expand: formats, limits, and error messages that name the
 *    option ("--rrule: FREQ is missing", "--tz: unknown time zone").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "minecast/codec.h"
#include "minecast/sched.h"

/* A growing list of instants. */
struct list {
	int64_t *v;
	size_t n, cap;
};

static void push(struct list *l, int64_t x)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n++] = x;
}

static bool on_start(int64_t start_ms, const char *start, void *ud)
{
	(void)start;
	push(ud, start_ms);
	return true;
}

/* Window [from, to) of the occurrences query, starts >= from only. */
struct window {
	struct list got;
	int64_t from;
};

static bool on_occ(int64_t s, int64_t e, void *ud)
{
	struct window *w = ud;

	(void)e;
	if (s >= w->from)
		push(&w->got, s);
	return true;
}

/* Rules without COUNT, so that queries jump. */
static const char *const rules[] = {
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=2",
        "FREQ=DAILY;INTERVAL=10",
        "FREQ=DAILY;BYHOUR=6,14,22;BYMINUTE=0",
        "FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40",
        "FREQ=WEEKLY",
        "FREQ=WEEKLY;INTERVAL=2;WKST=SU",
        "FREQ=WEEKLY;BYDAY=TU,TH;WKST=SU",
        "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=MO,WE,FR",
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=SA,SU;BYHOUR=8,20",
        "FREQ=MONTHLY;BYDAY=1FR",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=1SU,-1SU",
        "FREQ=MONTHLY;BYMONTHDAY=-3",
        "FREQ=MONTHLY;INTERVAL=18;BYMONTHDAY=10,11,12,13,14,15",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=TU",
        "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
        "FREQ=MONTHLY;BYMONTHDAY=31",
        "FREQ=YEARLY;BYMONTH=6,7",
        "FREQ=YEARLY;INTERVAL=3;BYYEARDAY=1,100,200",
        "FREQ=YEARLY;BYDAY=20MO",
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        "FREQ=YEARLY;BYDAY=TH;BYMONTH=6,7,8",
        "FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=HOURLY;INTERVAL=3",
        "FREQ=HOURLY;INTERVAL=5;BYMINUTE=0,30",
        "FREQ=HOURLY;BYHOUR=6,7,8",
        "FREQ=HOURLY;INTERVAL=7;BYDAY=MO,FR",
        "FREQ=MINUTELY;INTERVAL=15",
        "FREQ=MINUTELY;INTERVAL=90",
        "FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10,11,12,13,14,15,16",
        "FREQ=SECONDLY;INTERVAL=7200",
        "FREQ=DAILY;UNTIL=20010101T000000Z",
        "FREQ=DAILY;BYMONTH=1",
        "FREQ=DAILY;BYMONTHDAY=1,15",
        "FREQ=DAILY;INTERVAL=2;BYDAY=MO,TH",
        "FREQ=DAILY;INTERVAL=3;BYMONTH=2,8;BYHOUR=7",
        "FREQ=WEEKLY;BYMONTH=1,6",
        "FREQ=WEEKLY;INTERVAL=2;BYMONTH=3;BYDAY=SA",
        "FREQ=HOURLY;BYDAY=SU",
        "FREQ=MINUTELY;INTERVAL=45;BYDAY=TU;BYHOUR=10,11",
};

static void jumps_agree_with_full_iteration(void **state)
{
	(void)state;
	for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
		struct list full = {0};
		struct mc_error err = {0};
		struct mc_manifest *m = NULL;
		struct mc_sched *s;
		char json[2048];
		int64_t first, last;

		assert_int_equal(mc_sched_expand("19970902T090000",
		                                 "America/New_York", rules[r],
		                                 4000, on_start, &full, &err),
		                 MC_OK);
		assert_true(full.n > 3);
		snprintf(json, sizeof(json),
		         "{\"format\":\"minecast-campaign/1\",\"name\":\"t\","
		         "\"timezone\":\"America/New_York\",\"content\":["
		         "{\"id\":\"c\",\"type\":\"slogan\",\"text\":\"x\"}],"
		         "\"playlists\":[{\"id\":\"p\",\"items\":["
		         "{\"content\":\"c\"}]}],\"entries\":[{\"id\":\"e\","
		         "\"playlist\":\"p\",\"channel\":\"screen\","
		         "\"dtstart\":\"19970902T090000\","
		         "\"duration\":\"PT1S\",\"rrule\":\"%s\"}]}",
		         rules[r]);
		if (mc_manifest_parse(json, strlen(json), MC_DOC_CAMPAIGN, &m,
		                      &err) != MC_OK)
			fail_msg("%s: %s", rules[r], err.msg);
		s = mc_sched_new(m, &err);
		if (!s)
			fail_msg("%s: %s", rules[r], err.msg);
		first = full.v[0];
		last = full.v[full.n - 1];
		for (int k = 0; k < 40; k++) {
			struct window w = {{0}, 0};
			int64_t span = (last - first) / 25 + 1;
			/* Windows at odd offsets, exact starts included. */
			int64_t from =
			        k % 3 == 0
			                ? full.v[(full.n - 1) * (size_t)k / 40]
			                : first + (last - first) / 40 * k +
			                          7919 * k;
			int64_t to = from + span;
			size_t j = 0;

			if (to > last)
				to = last;
			w.from = from;
			assert_int_equal(mc_sched_occurrences(s, 0, from, to,
			                                      on_occ, &w),
			                 MC_OK);
			for (size_t i = 0; i < full.n; i++) {
				if (full.v[i] < from || full.v[i] >= to)
					continue;
				if (j >= w.got.n || w.got.v[j] != full.v[i])
					fail_msg("%s: window %d: occurrence "
					         "%lld missing (got %zu of "
					         "them)",
					         rules[r], k,
					         (long long)full.v[i], w.got.n);
				j++;
			}
			if (j != w.got.n)
				fail_msg("%s: window %d: %zu extra", rules[r],
				         k, w.got.n - j);
			free(w.got.v);
		}
		mc_sched_free(s);
		mc_manifest_free(m);
		free(full.v);
	}
}

/* Collect formatted starts. */
struct strs {
	char v[8][32];
	size_t n;
};

static bool on_str(int64_t start_ms, const char *start, void *ud)
{
	struct strs *l = ud;

	(void)start_ms;
	if (l->n < 8)
		snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", start);
	return true;
}

static void expand_formats_like_dtstart(void **state)
{
	struct strs l = {.n = 0};
	struct mc_error err = {0};

	(void)state;
	assert_int_equal(mc_sched_expand("20231112T060000Z", NULL,
	                                 "FREQ=DAILY;COUNT=2", 10, on_str, &l,
	                                 &err),
	                 MC_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[1], "20231113T060000Z");
	l.n = 0;
	assert_int_equal(mc_sched_expand("20231112", NULL,
	                                 "FREQ=YEARLY;COUNT=3", 2, on_str, &l,
	                                 &err),
	                 MC_OK);
	assert_int_equal(l.n, 2); /* the limit */
	assert_string_equal(l.v[1], "20241112");
	l.n = 0;
	/* Default zone: Asia/Ho_Chi_Minh, local times printed as local. */
	assert_int_equal(mc_sched_expand("20231112T060000", NULL,
	                                 "FREQ=WEEKLY;COUNT=2", 10, on_str, &l,
	                                 &err),
	                 MC_OK);
	assert_string_equal(l.v[1], "20231119T060000");
}

static void expand_errors_name_the_option(void **state)
{
	struct strs l = {.n = 0};
	struct mc_error err = {0};

	(void)state;
	assert_int_equal(mc_sched_expand("20231112T060000", NULL, "COUNT=2", 10,
	                                 on_str, &l, &err),
	                 MC_ERR_MISSING);
	assert_string_equal(err.msg, "--rrule: FREQ is missing");
	assert_int_equal(mc_sched_expand("20231112T060000", "Mars/Base",
	                                 "FREQ=DAILY", 10, on_str, &l, &err),
	                 MC_ERR_TZ);
	assert_string_equal(err.msg, "--tz: unknown time zone 'Mars/Base'");
	assert_int_equal(mc_sched_expand("2023-11-12", NULL, "FREQ=DAILY", 10,
	                                 on_str, &l, &err),
	                 MC_ERR_PARSE);
	assert_non_null(strstr(err.msg, "--dtstart"));
	assert_int_equal(mc_sched_expand("20230230T000000", NULL, "FREQ=DAILY",
	                                 10, on_str, &l, &err),
	                 MC_ERR_PARSE);
	assert_int_equal(mc_sched_expand("20231112T060000", NULL,
	                                 "FREQ=DAILY;;", 10, on_str, &l, &err),
	                 MC_ERR_PARSE);
	assert_int_equal(l.n, 0);
}

/* A rule whose day-level limits never match is refused, not spun on. */
static void impossible_subdaily_rules_are_refused(void **state)
{
	struct strs l = {.n = 0};
	struct mc_error err = {0};

	(void)state;
	assert_int_equal(mc_sched_expand("20230101T000000", "UTC",
	                                 "FREQ=SECONDLY;BYMONTH=2;"
	                                 "BYMONTHDAY=30",
	                                 10, on_str, &l, &err),
	                 MC_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "FREQ=DAILY"));
	/* The daily form is fine and simply empty. */
	assert_int_equal(mc_sched_expand("20230101T000000", "UTC",
	                                 "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
	                                 10, on_str, &l, &err),
	                 MC_OK);
	assert_int_equal(l.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(jumps_agree_with_full_iteration),
	        cmocka_unit_test(expand_formats_like_dtstart),
	        cmocka_unit_test(expand_errors_name_the_option),
	        cmocka_unit_test(impossible_subdaily_rules_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
