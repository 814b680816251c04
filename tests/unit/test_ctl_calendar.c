/*
 * Unit tests for the calendar's pure parts (controller/daemon/calendar.h)
 * and the workflow (workflow.h) against a real database:
 *   - mcc_ics_parse: what calendar tools write (folded lines, VTIMEZONE,
 *     TZID forms, all-day events, RECURRENCE-ID, cancelled events, UIDs
 *     that are not ids) mapped to entries, and every refusal;
 *   - mcc_ics_export: read back by mcc_ics_parse to the same entries;
 *   - mcc_campaign_docs: a campaign mapped to canonical documents, its
 *     errors named from the campaign root;
 *   - mcc_wf_*: the transitions, self-approval, back to review.
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
#include "minecast/util.h"

#include "calendar.h"
#include "db.h"
#include "mcc.h"
#include "workflow.h"

static json_t *js(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	if (!v)
		fail_msg("bad test JSON %s: %s", text, je.text);
	return v;
}

/* Lines joined with CRLF, as calendar tools write them. */
static char *crlf(const char *const *lines)
{
	size_t n = 0;
	char *s;

	for (size_t i = 0; lines[i]; i++)
		n += strlen(lines[i]) + 2;
	s = calloc(1, n + 1);
	assert_non_null(s);
	for (size_t i = 0; lines[i]; i++) {
		strcat(s, lines[i]);
		strcat(s, "\r\n");
	}
	return s;
}

static json_t *parse_ok(const char *text, const struct mcc_ics_opts *o)
{
	struct mc_error err = {0};
	json_t *out = NULL;

	if (mcc_ics_parse(text, strlen(text), o, &out, &err) != MC_OK)
		fail_msg("mcc_ics_parse: %s", err.msg);
	assert_non_null(out);
	return out;
}

static void parse_bad(const char *text, size_t len, enum mc_err code,
                      const char *words)
{
	struct mc_error err = {0};
	json_t *out = NULL;
	enum mc_err rc;

	if (len == SIZE_MAX)
		len = strlen(text);
	rc = mcc_ics_parse(text, len, NULL, &out, &err);

	assert_null(out);
	mc_test_expect_error(rc, &err, code, words, words);
}

static json_t *entry(json_t *parsed, size_t i)
{
	json_t *e = json_array_get(json_object_get(parsed, "entries"), i);

	assert_non_null(e);
	return e;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *const anniversaries[] = {
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN",
        "BEGIN:VTIMEZONE",
        "TZID:/mozilla.org/20050126_1/Asia/Ho_Chi_Minh",
        "BEGIN:STANDARD",
        "TZOFFSETFROM:+0700",
        "TZOFFSETTO:+0700",
        "DTSTART:19700101T000000",
        "END:STANDARD",
        "END:VTIMEZONE",
        "BEGIN:VTIMEZONE",
        "TZID:Giờ mỏ",
        "BEGIN:STANDARD",
        "TZOFFSETFROM:+0800",
        "TZOFFSETTO:+0800",
        "DTSTART:19700101T000000",
        "END:STANDARD",
        "END:VTIMEZONE",
        "BEGIN:VEVENT",
        "UID:12-11@vinacomin.vn",
        "DTSTART;VALUE=DATE:20231112",
        "DTEND;VALUE=DATE:20231113",
        "RRULE:FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12",
        "SUMMARY:Kỷ niệm {years} năm Ngày Truyền thống công nhân Vùng mỏ\\, "
        "ngành",
        "  Than",
        "DESCRIPTION:Dòng một\\nDòng hai",
        "X-MINECAST-FOUNDED:1936",
        "X-MINECAST-PRIORITY:60",
        "X-MINECAST-LAYER:interrupt",
        "X-MINECAST-TARGETS:{\"sites\":[\"cua-lo\"]\\,\"groups\":[\"tkv\"]}",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:giao-ban",
        "DTSTART;TZID=/mozilla.org/20050126_1/Asia/Ho_Chi_Minh:"
        "20231106T070000",
        "DTEND;TZID=/mozilla.org/20050126_1/Asia/Ho_Chi_Minh:20231106T080000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        "EXDATE;TZID=/mozilla.org/20050126_1/Asia/Ho_Chi_Minh:"
        "20231113T070000,20231120T070000",
        "RDATE:20231108T000000Z",
        "X-MINECAST-PLAYLIST:pl-giao-ban",
        "X-MINECAST-CHANNEL:speaker",
        "X-MINECAST-MODE:once",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:gio-mo",
        "DTSTART;TZID=Giờ mỏ:20231106T080000",
        "DURATION:PT90M",
        "SUMMARY:Giờ riêng",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:giao-ban",
        "RECURRENCE-ID;TZID=/mozilla.org/20050126_1/Asia/Ho_Chi_Minh:"
        "20231127T070000",
        "DTSTART;TZID=/mozilla.org/20050126_1/Asia/Ho_Chi_Minh:"
        "20231127T090000",
        "DTEND;TZID=/mozilla.org/20050126_1/Asia/Ho_Chi_Minh:20231127T100000",
        "X-MINECAST-PLAYLIST:pl-giao-ban",
        "X-MINECAST-CHANNEL:speaker",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "DTSTART:20231130T100000",
        "SUMMARY:Không có UID",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:huy",
        "STATUS:CANCELLED",
        "DTSTART:20231130",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:thuong-truc",
        "DTSTART;VALUE=DATE:19700101",
        "X-MINECAST-STANDING:TRUE",
        "X-MINECAST-PLAYLIST:pl-standing",
        "END:VEVENT",
        "END:VCALENDAR",
        NULL,
};

static void test_ics_anniversaries(void **state)
{
	char *text = crlf(anniversaries);
	json_t *p = parse_ok(text, NULL), *e, *c, *pl, *t;

	(void)state;
	/* Six events; the cancelled one is left out. */
	assert_int_equal(json_array_size(json_object_get(p, "entries")), 6);
	assert_int_equal(json_array_size(json_object_get(p, "events")), 7);

	e = entry(p, 0);
	assert_string_equal(str(e, "id"), "12-11-vinacomin.vn");
	assert_string_equal(str(e, "dtstart"), "20231112");
	/* All day: one nominal day, not an exact 24 h. */
	assert_string_equal(str(e, "duration"), "P1D");
	assert_null(json_object_get(e, "dtend"));
	assert_null(json_object_get(e, "tzid"));
	assert_string_equal(str(e, "rrule"),
	                    "FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12");
	assert_string_equal(str(e, "name"),
	                    "Kỷ niệm {years} năm Ngày Truyền thống công nhân "
	                    "Vùng mỏ, ngành Than");
	assert_int_equal(json_integer_value(json_object_get(e, "founded")),
	                 1936);
	assert_int_equal(json_integer_value(json_object_get(e, "priority")),
	                 60);
	assert_string_equal(str(e, "layer"), "interrupt");
	assert_string_equal(str(e, "channel"), "screen");
	/* A tool escaped the comma in the JSON: still read. */
	t = json_object_get(e, "targets");
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(t, "groups"), 0)),
	                    "tkv");
	/* Its words became a slogan and a one-item playlist, same id. */
	assert_string_equal(str(e, "playlist"), "12-11-vinacomin.vn");
	c = json_array_get(json_object_get(p, "content"), 0);
	assert_string_equal(str(c, "id"), "12-11-vinacomin.vn");
	assert_string_equal(str(c, "type"), "slogan");
	assert_string_equal(str(c, "text"),
	                    "Kỷ niệm {years} năm Ngày Truyền thống công nhân "
	                    "Vùng mỏ, ngành Than\nDòng một\nDòng hai");
	pl = json_array_get(json_object_get(p, "playlists"), 0);
	assert_string_equal(
	        str(json_array_get(json_object_get(pl, "items"), 0), "content"),
	        "12-11-vinacomin.vn");

	/* A vendor-prefixed zone is its IANA name; EXDATE lists split;
	 * the moved occurrence leaves the series. */
	e = entry(p, 1);
	assert_string_equal(str(e, "id"), "giao-ban");
	assert_string_equal(str(e, "tzid"), "Asia/Ho_Chi_Minh");
	assert_string_equal(str(e, "dtstart"), "20231106T070000");
	assert_string_equal(str(e, "dtend"), "20231106T080000");
	assert_string_equal(str(e, "playlist"), "pl-giao-ban");
	assert_string_equal(str(e, "channel"), "speaker");
	assert_string_equal(str(e, "mode"), "once");
	assert_int_equal(json_array_size(json_object_get(e, "exdate")), 3);
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(e, "exdate"), 2)),
	                    "20231127T070000");
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(e, "rdate"), 0)),
	                    "20231108T000000Z");

	/* A zone only the file defines: applied, written in UTC; the
	 * DURATION as written. */
	e = entry(p, 2);
	assert_string_equal(str(e, "dtstart"), "20231106T000000Z");
	assert_string_equal(str(e, "duration"), "PT90M");
	assert_null(json_object_get(e, "tzid"));

	e = entry(p, 3);
	assert_string_equal(str(e, "id"), "giao-ban-2");
	assert_string_equal(str(e, "dtstart"), "20231127T090000");

	/* No UID: a name from its place; floating time stays floating. */
	e = entry(p, 4);
	assert_string_equal(str(e, "id"), "ics-event-5");
	assert_string_equal(str(e, "dtstart"), "20231130T100000");
	assert_null(json_object_get(e, "tzid"));

	e = entry(p, 5);
	assert_string_equal(str(e, "id"), "thuong-truc");
	assert_null(json_object_get(e, "dtstart"));

	/* Sources name the event each document came from. */
	assert_int_equal(json_integer_value(json_array_get(
	                         json_object_get(json_object_get(p, "sources"),
	                                         "entries"),
	                         4)),
	                 4);
	assert_int_equal(
	        json_integer_value(json_object_get(
	                json_array_get(json_object_get(p, "events"), 0),
	                "line")),
	        20);
	json_decref(p);
	free(text);
}

/*
 * An all-day event over a DST change (New York, 10/03/2024) lasts its
 * days as the calendar counts them: P3D, which the schedule engine adds to
 * the local start (71 hours that time), never dtend - dtstart = 72 h.
 */
static void test_ics_all_day_days(void **state)
{
	static const char *const lines[] = {"BEGIN:VCALENDAR",
	                                    "VERSION:2.0",
	                                    "PRODID:-//test//EN",
	                                    "X-WR-TIMEZONE:America/New_York",
	                                    "BEGIN:VEVENT",
	                                    "UID:ba-ngay",
	                                    "DTSTART;VALUE=DATE:20240309",
	                                    "DTEND;VALUE=DATE:20240312",
	                                    "SUMMARY:Ba ngày",
	                                    "END:VEVENT",
	                                    "BEGIN:VEVENT",
	                                    "UID:nguoc",
	                                    "DTSTART;VALUE=DATE:20240309",
	                                    "DTEND;VALUE=DATE:20240309",
	                                    "SUMMARY:Không ngày nào",
	                                    "END:VEVENT",
	                                    "END:VCALENDAR",
	                                    NULL};
	char *text = crlf(lines);
	json_t *p = parse_ok(text, NULL), *e;

	(void)state;
	e = entry(p, 0);
	assert_string_equal(str(e, "dtstart"), "20240309");
	assert_string_equal(str(e, "duration"), "P3D");
	assert_null(json_object_get(e, "dtend"));
	/* An end not after the start stays a dtend, for the entry check
	 * to refuse with its own words. */
	e = entry(p, 1);
	assert_string_equal(str(e, "dtend"), "20240309");
	assert_null(json_object_get(e, "duration"));
	json_decref(p);
	free(text);
}

static void test_ics_options_and_ids(void **state)
{
	static const char *const lines[] = {
	        "BEGIN:VCALENDAR",
	        "BEGIN:VEVENT",
	        "UID:"
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	        "aaaaa"
	        "aaaa@example",
	        "DTSTART;TZID=SE Asia Standard Time:20231101T060000",
	        "RRULE:FREQ=DAILY",
	        "SUMMARY:Bản tin",
	        "END:VEVENT",
	        "BEGIN:VEVENT",
	        "UID:a b",
	        "DTSTART;TZID=Arabian Standard Time:20231101T060000",
	        "DTEND;TZID=Arabian Standard Time:20231101T070000",
	        "SUMMARY:x",
	        "END:VEVENT",
	        "BEGIN:VEVENT",
	        "UID:a/b",
	        "DTSTART;TZID=West Asia Standard Time:20231101T060000",
	        "DTEND;TZID=Arabian Standard Time:20231101T060000",
	        "SUMMARY:y",
	        "END:VEVENT",
	        "END:VCALENDAR",
	        NULL,
	};
	struct mcc_ics_opts o = {.playlist = "pl-x", .channel = "speaker"};
	char *text = crlf(lines);
	json_t *p = parse_ok(text, &o), *e;

	(void)state;
	e = entry(p, 0);
	assert_int_equal(strlen(str(e, "id")), 64);
	assert_true(strncmp(str(e, "id"), "aaaa", 4) == 0);
	assert_string_equal(str(e, "tzid"), "Asia/Ho_Chi_Minh");
	assert_string_equal(str(e, "playlist"), "pl-x");
	assert_string_equal(str(e, "channel"), "speaker");
	assert_string_equal(str(entry(p, 1), "id"), "a-b");
	assert_string_equal(str(entry(p, 2), "id"), "a-b-2");
	/* Windows names outside the table, by ICU's copy of CLDR's map. */
	assert_string_equal(str(entry(p, 1), "tzid"), "Asia/Dubai");
	assert_string_equal(str(entry(p, 1), "dtend"), "20231101T070000");
	assert_string_equal(str(entry(p, 2), "tzid"), "Asia/Tashkent");
	/* Another zone's end is converted: 06:00 Dubai = 02:00 UTC. */
	assert_string_equal(str(entry(p, 2), "dtend"), "20231101T020000Z");
	/* The playlist given: no content made. */
	assert_int_equal(json_array_size(json_object_get(p, "content")), 0);
	json_decref(p);

	/* The same file again gives the same ids (re-import updates). */
	o.playlist = NULL;
	p = parse_ok(text, &o);
	assert_string_equal(
	        str(json_array_get(json_object_get(p, "content"), 0), "type"),
	        "speech");
	json_decref(p);
	free(text);
}

static void test_ics_refused(void **state)
{
	char *good = crlf(anniversaries), *bad;
	size_t n = strlen(good);

	(void)state;
	/* Truncated anywhere inside. */
	parse_bad(good, n / 2, MC_ERR_PARSE, "truncated");
	parse_bad(good, strstr(good, "END:VCALENDAR") - good, MC_ERR_PARSE,
	          "truncated: BEGIN:VCALENDAR at line 1");
	parse_bad(good, strstr(good, "END:VEVENT") - good + 7, MC_ERR_PARSE,
	          "truncated");
	parse_bad("", 0, MC_ERR_PARSE, "empty");
	parse_bad("\r\n\r\n", 4, MC_ERR_PARSE, "empty");
	parse_bad("SUMMARY:x\r\n", SIZE_MAX, MC_ERR_PARSE, "BEGIN:VCALENDAR");
	parse_bad("BEGIN:VCALENDAR\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
	          SIZE_MAX, MC_ERR_PARSE, "line 2: END:VEVENT does not close");
	parse_bad("BEGIN:VCALENDAR\r\nno colon here\r\nEND:VCALENDAR\r\n",
	          SIZE_MAX, MC_ERR_PARSE,
	          "line 2: not an iCalendar content line");
	parse_bad("BEGIN:VCALENDAR\r\nBEGIN;X=1:VEVENT\r\nEND:VEVENT\r\n"
	          "END:VCALENDAR\r\n",
	          SIZE_MAX, MC_ERR_PARSE, "line 2: BEGIN must be written");
	parse_bad("\r\n\tBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", SIZE_MAX,
	          MC_ERR_PARSE, "line 2: not an iCalendar content line");
	parse_bad("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", SIZE_MAX,
	          MC_ERR_MISSING, "no VEVENT");
	parse_bad("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nSTATUS:"
	          "CANCELLED\r\nDTSTART:20231101\r\nEND:VEVENT\r\n"
	          "END:VCALENDAR\r\n",
	          SIZE_MAX, MC_ERR_MISSING, "cancelled");
	parse_bad("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n"
	          "END:VCALENDAR\r\n",
	          SIZE_MAX, MC_ERR_MISSING, "VEVENT 1 (dòng/line 2): DTSTART");
	parse_bad("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20231101\r\n"
	          "RRULE:FREQ=DAILY\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n"
	          "END:VCALENDAR\r\n",
	          SIZE_MAX, MC_ERR_RANGE, "only one RRULE");
	parse_bad(
	        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20231101T000000\r\n"
	        "DTEND:20231102T000000\r\nDURATION:P1D\r\nEND:VEVENT\r\n"
	        "END:VCALENDAR\r\n",
	        SIZE_MAX, MC_ERR_RANGE, "exclusive");
	parse_bad("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2023\r\n"
	          "END:VEVENT\r\nEND:VCALENDAR\r\n",
	          SIZE_MAX, MC_ERR_PARSE, "VEVENT 1");
	parse_bad("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;TZID=Nowhere:"
	          "20231101T000000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
	          SIZE_MAX, MC_ERR_TZ, "Nowhere");
	parse_bad("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20231101\r\n"
	          "X-MINECAST-PRIORITY:-5\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
	          SIZE_MAX, MC_ERR_RANGE, "X-MINECAST-PRIORITY");
	parse_bad("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20231101\r\n"
	          "X-MINECAST-TARGETS:sites=a\r\nEND:VEVENT\r\nEND:VCALENDAR"
	          "\r\n",
	          SIZE_MAX, MC_ERR_PARSE, "X-MINECAST-TARGETS");
	/* Not text. */
	bad = strdup(good);
	bad[30] = '\0';
	parse_bad(bad, n, MC_ERR_PARSE, "NUL");
	bad[30] = (char)0xc3;
	bad[31] = 'x';
	parse_bad(bad, n, MC_ERR_UTF8, "invalid UTF-8 at byte 30");
	free(bad);
	/* Over the limit: refused before anything is read. */
	bad = calloc(1, MCC_ICS_MAX_BYTES + 2);
	assert_non_null(bad);
	memset(bad, 'x', MCC_ICS_MAX_BYTES + 1);
	parse_bad(bad, MCC_ICS_MAX_BYTES + 1, MC_ERR_TOO_LARGE, "ics: ");
	free(bad);
	free(good);
}

/* The fuzz seeds: "bad-*" are refused, the others read, and what they
 * give is written and read back to the same entries. */
static void test_ics_corpus(void **state)
{
	static const char *const files[] = {
	        "google-anniversaries.ics", "outlook-lf.ics",
	        "minecast-export.ics",      "bad-truncated.ics",
	        "bad-mismatched-end.ics",   "bad-utf8.ics",
	};

	(void)state;
	for (size_t i = 0; i < MC_ARRAY_LEN(files); i++) {
		char path[512], *buf = NULL, *text = NULL;
		size_t len = 0;
		struct mc_error err = {0};
		json_t *out = NULL, *again = NULL;
		enum mc_err rc;

		snprintf(path, sizeof(path),
		         MC_SOURCE_DIR "/tests/fuzz/corpus/ctl_ics/%s",
		         files[i]);
		assert_int_equal(
		        mc_read_file(path, MCC_ICS_MAX_BYTES, &buf, &len, &err),
		        MC_OK);
		rc = mcc_ics_parse(buf, len, NULL, &out, &err);
		if (strncmp(files[i], "bad-", 4) == 0) {
			if (rc == MC_OK)
				fail_msg("%s was read", files[i]);
		} else {
			if (rc != MC_OK)
				fail_msg("%s: %s", files[i], err.msg);
			assert_int_equal(
			        mcc_ics_export(json_object_get(out, "entries"),
			                       NULL, "UTC", &text, &err),
			        MC_OK);
			if (mcc_ics_parse(text, strlen(text), NULL, &again,
			                  &err) != MC_OK)
				fail_msg("%s exported: %s", files[i], err.msg);
			/* Events without a playlist got one of their own,
			 * which the export names: compare all but that. */
			for (size_t k = 0;
			     k <
			     json_array_size(json_object_get(out, "entries"));
			     k++) {
				json_t *a = json_deep_copy(entry(out, k));
				json_t *b = entry(again, k);

				if (!json_object_get(a, "name"))
					json_object_set(
					        a, "name",
					        json_object_get(b, "name"));
				if (!json_equal(a, b))
					fail_msg("%s entry %zu changed",
					         files[i], k);
				json_decref(a);
			}
		}
		json_decref(out);
		json_decref(again);
		free(text);
		free(buf);
	}
}

/* Export then parse: the same entries. */
static void test_ics_round_trip(void **state)
{
	json_t *in = js(
	        "[{\"id\":\"e-12-11\",\"name\":\"12/11; Vùng mỏ, ngành Than\","
	        "\"playlist\":\"pl-12-11\",\"channel\":\"screen\","
	        "\"priority\":60,\"layer\":\"interrupt\",\"mode\":\"loop\","
	        "\"dtstart\":\"20231112\",\"duration\":\"P1D\","
	        "\"rrule\":\"FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12\","
	        "\"founded\":1936,\"targets\":{\"groups\":[\"tkv\"],"
	        "\"sites\":[\"cua-lo\"],\"tags\":[],\"nodes\":[]}},"
	        "{\"id\":\"e-ny\",\"name\":\"New York\",\"playlist\":\"p\","
	        "\"channel\":\"speaker\",\"priority\":80,\"layer\":"
	        "\"interrupt\","
	        "\"mode\":\"once\",\"dtstart\":\"20240310T023000\","
	        "\"dtend\":\"20240310T033000\",\"tzid\":\"America/New_York\","
	        "\"rrule\":\"FREQ=DAILY;COUNT=5\",\"rdate\":["
	        "\"20240320T023000\"],"
	        "\"exdate\":[\"20240311T023000\",\"20240312T063000Z\"]},"
	        "{\"id\":\"e-standing\",\"playlist\":\"p\",\"channel\":"
	        "\"screen\",\"priority\":10,\"layer\":\"fill\",\"mode\":"
	        "\"loop\"},"
	        "{\"id\":\"e-utc\",\"name\":\"UTC\",\"playlist\":\"p\","
	        "\"channel\":\"screen\",\"priority\":50,\"layer\":\"fill\","
	        "\"mode\":\"loop\",\"dtstart\":\"20231101T000000Z\","
	        "\"duration\":\"PT90M\",\"rrule\":\"FREQ=WEEKLY;BYDAY=MO,WE\"}"
	        "]");
	struct mc_error err = {0};
	char *text = NULL;
	json_t *p;
	size_t i;
	json_t *e;

	(void)state;
	assert_int_equal(
	        mcc_ics_export(in, "minecast", "Asia/Ho_Chi_Minh", &text, &err),
	        MC_OK);
	assert_non_null(strstr(text, "BEGIN:VTIMEZONE\r\nTZID:America/"
	                             "New_York\r\n"));
	assert_non_null(strstr(text, "SUMMARY:12/11\\; Vùng mỏ\\, ngành Than"));
	for (const char *l = text; *l;) {
		const char *end = strstr(l, "\r\n");

		assert_non_null(end);
		assert_true(end - l <= 75); /* folded */
		l = end + 2;
	}
	p = parse_ok(text, NULL);
	assert_int_equal(json_array_size(json_object_get(p, "content")), 0);
	json_array_foreach(in, i, e)
	{
		json_t *got = entry(p, i);

		/* The same fields; the parser leaves out empty lists and
		 * defaults it was not told. */
		json_t *want = json_deep_copy(e);

		if (i == 2)
			json_object_set_new(want, "name",
			                    json_string("e-standing"));
		if (!json_equal(got, want)) {
			char *a = json_dumps(got, JSON_SORT_KEYS);
			char *b = json_dumps(want, JSON_SORT_KEYS);

			fail_msg("entry %zu:\n got  %s\n want %s", i, a, b);
		}
		json_decref(want);
	}
	json_decref(p);
	free(text);
	json_decref(in);
}

static const char campaign[] =
        "{\"format\":\"minecast-campaign/1\",\"name\":\"Tháng 11\","
        "\"timezone\":\"Asia/Ho_Chi_Minh\",\"content\":["
        "{\"id\":\"bg\",\"type\":\"image\",\"fit\":\"cover\","
        "\"sha256\":"
        "\"0aa953e0b23a5db9db0c9fd118cbec3973ef96483b466e5c3f58b7481cfb9297\","
        "\"size\":129558,\"mime\":\"image/png\",\"src\":\"assets/bg.png\"},"
        "{\"id\":\"s\",\"type\":\"slogan\",\"text\":\"Kỷ niệm {years} năm\","
        "\"style\":{\"fg\":\"#ffd700\",\"bg_image\":\"bg\"}},"
        "{\"id\":\"fb\",\"type\":\"slogan\",\"text\":\"Dự phòng\"}],"
        "\"playlists\":[{\"id\":\"p\",\"items\":[{\"content\":\"s\"},"
        "{\"content\":\"bg\",\"duration_s\":20}]}],"
        "\"entries\":[{\"id\":\"e\",\"playlist\":\"p\",\"channel\":"
        "\"screen\",\"mode\":\"once\",\"dtstart\":\"20231112T070000\","
        "\"targets\":{\"companies\":[\"than-cua-lo\"]}}],"
        "\"fallback\":{\"screen\":\"fb\"}}";

static void test_campaign_docs(void **state)
{
	json_t *camp = js(campaign), *out = NULL, *c, *e;
	struct mc_error err = {0};

	(void)state;
	assert_int_equal(mcc_campaign_docs(camp, &out, &err), MC_OK);
	c = json_array_get(json_object_get(out, "content"), 0);
	assert_null(json_object_get(c, "src"));
	assert_string_equal(str(c, "url"),
	                    "/v1/content/0aa953e0b23a5db9db0c9fd118cbec3973ef"
	                    "96483b466e5c3f58b7481cfb9297");
	c = json_array_get(json_object_get(out, "content"), 1);
	/* Canonical: colours upper case, defaults written. */
	assert_string_equal(str(json_object_get(c, "style"), "fg"), "#FFD700");
	assert_string_equal(str(json_object_get(c, "style"), "align"),
	                    "center");
	e = json_array_get(json_object_get(out, "entries"), 0);
	assert_string_equal(str(e, "layer"), "interrupt"); /* once */
	assert_int_equal(json_integer_value(json_object_get(e, "priority")),
	                 50);
	assert_string_equal(
	        json_string_value(json_array_get(
	                json_object_get(json_object_get(e, "targets"),
	                                "companies"),
	                0)),
	        "than-cua-lo");
	assert_string_equal(str(out, "timezone"), "Asia/Ho_Chi_Minh");
	assert_string_equal(str(json_object_get(out, "fallback"), "screen"),
	                    "fb");
	assert_true(json_is_null(
	        json_object_get(json_object_get(out, "fallback"), "speaker")));
	/* Mapping twice gives the same documents (idempotent import). */
	{
		json_t *camp2 = json_deep_copy(camp), *out2 = NULL;

		json_object_set(camp2, "content",
		                json_object_get(out, "content"));
		assert_int_equal(mcc_campaign_docs(camp2, &out2, &err), MC_OK);
		assert_true(json_equal(json_object_get(out, "content"),
		                       json_object_get(out2, "content")));
		json_decref(out2);
		json_decref(camp2);
	}
	json_decref(out);
	json_decref(camp);
}

static void campaign_bad(const char *path, const char *value, enum mc_err code,
                         const char *field)
{
	char *text = mc_test_patch(campaign, path, value);
	json_t *camp = js(text), *out = NULL;
	struct mc_error err = {0};
	enum mc_err rc = mcc_campaign_docs(camp, &out, &err);

	assert_null(out);
	mc_test_expect_error(rc, &err, code, field, path);
	json_decref(camp);
	free(text);
}

static void test_campaign_errors(void **state)
{
	(void)state;
	campaign_bad("format", "\"minecast-manifest/1\"", MC_ERR_RANGE,
	             "format: ");
	campaign_bad("format", NULL, MC_ERR_MISSING, "format: ");
	campaign_bad("content", "{}", MC_ERR_TYPE, "content: ");
	campaign_bad("content.0.sha256", NULL, MC_ERR_MISSING,
	             "content[0].sha256: ");
	campaign_bad("content.0.sha256", "\"ABC\"", MC_ERR_RANGE,
	             "content[0].sha256: ");
	campaign_bad("content.1.style.bg_image", "\"nope\"", MC_ERR_REF,
	             "content[1].style.bg_image");
	campaign_bad("playlists.0.items.0.content", "\"nope\"", MC_ERR_REF,
	             "playlists[0].items[0].content");
	campaign_bad("entries.0.rrule", "\"FREQ=YEARLY;BYMONTH=13\"",
	             MC_ERR_RANGE, "entries[0].rrule");
	campaign_bad("entries.0.tzid", "\"Mars/Base\"", MC_ERR_TZ,
	             "entries[0].tzid");
	campaign_bad("entries.0.channel", "\"speaker\"", MC_ERR_RANGE,
	             "entries[0].playlist");
	campaign_bad("fallback.screen", "\"nope\"", MC_ERR_REF,
	             "fallback.screen");
	campaign_bad("timezone", "7", MC_ERR_TYPE, "timezone: ");
	{
		json_t *arr = js("[1]"), *out = NULL;
		struct mc_error err = {0};

		mc_test_expect_error(mcc_campaign_docs(arr, &out, &err), &err,
		                     MC_ERR_TYPE, "campaign: ", "array root");
		json_decref(arr);
	}
}

/* ---- the workflow on a real database -------------------------------- */

struct fixture {
	char dir[64];
	struct mcc c;
	sqlite3 *db;
	struct mcc_principal ed, ed2, ap, edap;
};

static void sql(sqlite3 *db, const char *text)
{
	char *msg = NULL;

	if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", text, msg ? msg : "?");
}

static void who(struct mcc_principal *p, int64_t id, const char *name,
                unsigned roles)
{
	memset(p, 0, sizeof(*p));
	p->user_id = id;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->roles = roles;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mc_error err;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mc-cal-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (mcc_config_load(&f->c.cfg, NULL, &err) != MC_OK)
		fail_msg("config: %s", err.msg);
	{
		char buf[128];

		snprintf(buf, sizeof(buf), "controller.data_dir=%s/data",
		         f->dir);
		if (mcc_config_set(&f->c.cfg, buf, &err) != MC_OK)
			fail_msg("%s", err.msg);
	}
	if (mcc_setup(&f->c, &err) != MC_OK)
		fail_msg("setup: %s", err.msg);
	f->db = mcc_db(&f->c);
	assert_non_null(f->db);
	sql(f->db, "INSERT INTO users (id, name, password_hash, roles, "
	           "created_ms) VALUES (1, 'ed', 'x', 1, 1), (2, 'ed2', 'x', "
	           "1, 1), (3, 'ap', 'x', 2, 1), (4, 'edap', 'x', 3, 1)");
	who(&f->ed, 1, "ed", MCC_ROLE_EDITOR);
	who(&f->ed2, 2, "ed2", MCC_ROLE_EDITOR);
	who(&f->ap, 3, "ap", MCC_ROLE_APPROVER);
	who(&f->edap, 4, "edap", MCC_ROLE_EDITOR | MCC_ROLE_APPROVER);
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

static void save(struct fixture *f, const struct mcc_principal *p,
                 enum mcc_kind kind, const char *id, const char *doc,
                 bool create, bool submit)
{
	struct mc_error err = {0};
	json_t *d = js(doc);

	assert_int_equal(mcc_db_begin(f->db), MC_OK);
	if (mcc_wf_save(f->db, p, kind, id, d, create, submit, &err) != MC_OK)
		fail_msg("save %s: %s", id, err.msg);
	assert_int_equal(mcc_db_commit(f->db), MC_OK);
	json_decref(d);
}

static const char *status(struct fixture *f, enum mcc_kind kind, const char *id)
{
	static char buf[16];
	json_t *v = mcc_wf_view(f->db, kind, id);

	assert_non_null(v);
	snprintf(buf, sizeof(buf), "%s", str(v, "status"));
	json_decref(v);
	return buf;
}

static void test_workflow(void **state)
{
	struct fixture *f = *state;
	struct mc_error err = {0};
	json_t *v, *d;
	char ref[128];

	save(f, &f->edap, MCC_KIND_CONTENT, "s",
	     "{\"id\":\"s\",\"type\":\"slogan\",\"text\":\"A\"}", true, true);
	assert_string_equal(status(f, MCC_KIND_CONTENT, "s"), "submitted");
	/* Self-approval, wrong role, then a good approval. */
	mc_test_expect_error(
	        mcc_wf_approve(f->db, &f->edap, MCC_KIND_CONTENT, "s", &err),
	        &err, MC_ERR_FORBIDDEN, "you wrote", "self");
	mc_test_expect_error(
	        mcc_wf_approve(f->db, &f->ed, MCC_KIND_CONTENT, "s", &err),
	        &err, MC_ERR_FORBIDDEN, "approver", "role");
	mc_test_expect_error(
	        mcc_wf_reject(f->db, &f->ap, MCC_KIND_CONTENT, "s", "", &err),
	        &err, MC_ERR_MISSING, "reason", "no reason");
	assert_int_equal(
	        mcc_wf_approve(f->db, &f->ap, MCC_KIND_CONTENT, "s", &err),
	        MC_OK);
	/* An edit goes back to review; the approved doc stays. */
	save(f, &f->ed2, MCC_KIND_CONTENT, "s",
	     "{\"id\":\"s\",\"type\":\"slogan\",\"text\":\"B\"}", false, false);
	v = mcc_wf_view(f->db, MCC_KIND_CONTENT, "s");
	assert_string_equal(str(v, "status"), "submitted");
	assert_string_equal(str(json_object_get(v, "approved"), "text"), "A");
	assert_string_equal(str(json_object_get(v, "doc"), "text"), "B");
	assert_int_equal(json_integer_value(json_object_get(v, "rev")), 2);
	json_decref(v);
	d = mcc_wf_doc(f->db, MCC_KIND_CONTENT, "s", true);
	assert_string_equal(str(d, "text"), "A");
	json_decref(d);
	/* The same doc again: nothing written. */
	save(f, &f->ed, MCC_KIND_CONTENT, "s",
	     "{\"id\":\"s\",\"type\":\"slogan\",\"text\":\"B\"}", false, false);
	v = mcc_wf_view(f->db, MCC_KIND_CONTENT, "s");
	assert_int_equal(json_integer_value(json_object_get(v, "rev")), 2);
	assert_string_equal(str(v, "author"), "ed2");
	json_decref(v);
	/* ed2 submitted it (by editing approved work): ed2 may not
	 * approve even as an approver; ap rejects. */
	assert_int_equal(mcc_wf_reject(f->db, &f->ap, MCC_KIND_CONTENT, "s",
	                               "Chưa đạt", &err),
	                 MC_OK);
	assert_string_equal(status(f, MCC_KIND_CONTENT, "s"), "rejected");
	mc_test_expect_error(
	        mcc_wf_approve(f->db, &f->ap, MCC_KIND_CONTENT, "s", &err),
	        &err, MC_ERR_CONFLICT, "rejected", "state");
	assert_int_equal(
	        mcc_wf_submit(f->db, &f->ed, MCC_KIND_CONTENT, "s", &err),
	        MC_OK);
	mc_test_expect_error(
	        mcc_wf_submit(f->db, &f->ed, MCC_KIND_CONTENT, "s", &err), &err,
	        MC_ERR_CONFLICT, "submitted", "twice");
	/* ed submitted, ed2 wrote: the approver may. */
	assert_int_equal(
	        mcc_wf_approve(f->db, &f->ap, MCC_KIND_CONTENT, "s", &err),
	        MC_OK);

	/* References and deletes. */
	save(f, &f->ed, MCC_KIND_PLAYLIST, "p",
	     "{\"id\":\"p\",\"items\":[{\"content\":\"s\"}]}", true, false);
	save(f, &f->ed, MCC_KIND_ENTRY, "e",
	     "{\"id\":\"e\",\"playlist\":\"p\",\"channel\":\"screen\"}", true,
	     true);
	mc_test_expect_error(
	        mcc_wf_approve(f->db, &f->ap, MCC_KIND_ENTRY, "e", &err), &err,
	        MC_ERR_CONFLICT, "playlist: ", "ref");
	assert_non_null(strstr(err.msg, "'p'"));
	assert_true(mcc_wf_referrer(f->db, MCC_KIND_CONTENT, "s", ref,
	                            sizeof(ref)));
	assert_string_equal(ref, "playlist 'p'");
	assert_true(mcc_wf_referrer(f->db, MCC_KIND_PLAYLIST, "p", ref,
	                            sizeof(ref)));
	assert_string_equal(ref, "entry 'e'");
	assert_int_equal(mcc_db_begin(f->db), MC_OK);
	mc_test_expect_error(
	        mcc_wf_delete(f->db, &f->ed, MCC_KIND_PLAYLIST, "p", &err),
	        &err, MC_ERR_CONFLICT, "entry 'e'", "in use");
	assert_int_equal(
	        mcc_wf_delete(f->db, &f->ed, MCC_KIND_ENTRY, "e", &err), MC_OK);
	assert_int_equal(
	        mcc_wf_delete(f->db, &f->ed, MCC_KIND_PLAYLIST, "p", &err),
	        MC_OK);
	assert_int_equal(mcc_db_commit(f->db), MC_OK);
	assert_null(mcc_wf_view(f->db, MCC_KIND_PLAYLIST, "p"));
	/* Created again: a new object, nothing approved. */
	save(f, &f->ed, MCC_KIND_PLAYLIST, "p",
	     "{\"id\":\"p\",\"items\":[{\"content\":\"s\"}]}", true, false);
	v = mcc_wf_view(f->db, MCC_KIND_PLAYLIST, "p");
	assert_string_equal(str(v, "status"), "draft");
	assert_true(json_is_null(json_object_get(v, "approved")));
	json_decref(v);
	/* Every transition left an audit row. */
	{
		sqlite3_stmt *st;

		assert_int_equal(
		        sqlite3_prepare_v2(f->db,
		                           "SELECT count(*) FROM audit "
		                           "WHERE kind = 'content' AND "
		                           "object_id = 's'",
		                           -1, &st, NULL),
		        SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		/* create, approve, update, reject, submit, approve */
		assert_int_equal(sqlite3_column_int(st, 0), 6);
		sqlite3_finalize(st);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ics_anniversaries),
	        cmocka_unit_test(test_ics_all_day_days),
	        cmocka_unit_test(test_ics_options_and_ids),
	        cmocka_unit_test(test_ics_refused),
	        cmocka_unit_test(test_ics_round_trip),
	        cmocka_unit_test(test_ics_corpus),
	        cmocka_unit_test(test_campaign_docs),
	        cmocka_unit_test(test_campaign_errors),
	        cmocka_unit_test_setup_teardown(test_workflow, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
