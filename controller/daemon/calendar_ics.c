/*
 * iCalendar in and out (calendar.h): mcc_ics_parse reads what calendar
 * tools write into schedule entries; mcc_ics_export writes entries so that
 * mcc_ics_parse gives them back unchanged.
 *
 * Reading goes in two passes.  A line scanner checks the structure first
 * (one VCALENDAR, balanced BEGIN/END, every line a content line), so that
 * a truncated or garbled file is refused with the line that is wrong
 * instead of whatever libical makes of it, and keeps the raw RRULE and
 * DURATION text of each event (libical reorders RRULE parts, and an
 * import followed by an export must give the same text back).  libical
 * then parses the values: times with their zones, durations, escaped
 * text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libical/ical.h>
#include <sodium.h>
#include <unicode/ucal.h>

#include "minecast/text.h"
#include "minecast/util.h"

#include "calendar.h"

/* Deepest BEGIN nesting accepted (VCALENDAR > VEVENT > VALARM is 3). */
#define ICS_MAX_DEPTH 16
/* Longest component name kept for messages. */
#define ICS_NAME_MAX 32

/* ---- structure ------------------------------------------------------ */

/* What the scanner keeps of one top-level VEVENT. */
struct raw_event {
	int line;       /* line of its BEGIN:VEVENT */
	char *rrule;    /* raw RRULE value (first one), or NULL */
	int n_rrule;    /* RRULE properties seen */
	char *duration; /* raw DURATION value, or NULL */
};

struct scan {
	struct raw_event *ev; /* top-level VEVENTs in order */
	size_t n_ev;
};

static void scan_clear(struct scan *s)
{
	for (size_t i = 0; i < s->n_ev; i++) {
		free(s->ev[i].rrule);
		free(s->ev[i].duration);
	}
	free(s->ev);
	memset(s, 0, sizeof(*s));
}

/* The first invalid UTF-8 byte's offset, or len when all is valid. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i];
		size_t n;
		unsigned min, cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			min = 0x80;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			min = 0x800;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			min = 0x10000;
			cp = c & 0x07;
		} else {
			return i;
		}
		for (size_t k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return len;
}

/*
 * Next logical line of buf starting at *pos: unfolded (CRLF or LF
 * followed by a space or tab continues the line), without its line end,
 * into a malloc'd *out.  *line gets the physical line it starts on; *phys
 * counts physical lines.  Returns false at the end of input.
 */
static bool next_line(const char *buf, size_t len, size_t *pos, int *phys,
                      int *line, char **out)
{
	size_t p = *pos, cap = 128, n = 0;
	char *s;

	if (p >= len)
		return false;
	s = malloc(cap);
	if (!s)
		return false;
	*line = *phys + 1;
	for (;;) {
		size_t start = p, end;

		while (p < len && buf[p] != '\n')
			p++;
		end = p;
		if (end > start && buf[end - 1] == '\r')
			end--;
		(*phys)++;
		if (n + (end - start) + 1 > cap) {
			char *t;

			cap = n + (end - start) + 128;
			t = realloc(s, cap);
			if (!t) {
				free(s);
				return false;
			}
			s = t;
		}
		memcpy(s + n, buf + start, end - start);
		n += end - start;
		if (p < len)
			p++; /* the '\n' */
		/* A folded continuation starts with one space or tab; an
		 * empty line has none (libical reads that differently). */
		if (n > 0 && p < len && (buf[p] == ' ' || buf[p] == '\t')) {
			p++;
			continue;
		}
		break;
	}
	s[n] = '\0';
	*pos = p;
	*out = s;
	return true;
}

/* Property name of a content line, upper-cased, into name; value after
 * the first ':' that is not inside a quoted parameter value. */
static bool split_line(const char *l, char *name, size_t cap,
                       const char **value)
{
	size_t i = 0, n = 0;
	bool quoted = false;

	while (l[i] && l[i] != ';' && l[i] != ':') {
		char c = l[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (n + 1 < cap)
			name[n++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
		i++;
	}
	name[n] = '\0';
	if (n == 0)
		return false;
	for (; l[i]; i++) {
		if (l[i] == '"')
			quoted = !quoted;
		else if (l[i] == ':' && !quoted) {
			*value = l + i + 1;
			return true;
		}
	}
	return false;
}

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 32);
}

static enum mc_err scan(const char *buf, size_t len, struct scan *sc,
                        struct mc_error *err)
{
	char stack[ICS_MAX_DEPTH][ICS_NAME_MAX];
	int stack_line[ICS_MAX_DEPTH];
	int depth = 0, phys = 0, line = 0;
	bool seen_cal = false, closed = false;
	size_t pos = 0;
	char *l = NULL;
	struct raw_event *cur = NULL;
	enum mc_err rc = MC_OK;

	memset(sc, 0, sizeof(*sc));
	while (next_line(buf, len, &pos, &phys, &line, &l)) {
		char name[ICS_NAME_MAX];
		const char *value = NULL;

		if (l[strspn(l, " \t")] == '\0') {
			MC_FREE(l);
			continue;
		}
		if (closed) {
			rc = mc_error_set(err, MC_ERR_PARSE,
			                  "ics: dòng %d: có dữ liệu sau "
			                  "END:VCALENDAR / line %d: text after "
			                  "END:VCALENDAR",
			                  line, line);
			goto fail;
		}
		if (!split_line(l, name, sizeof(name), &value)) {
			rc = mc_error_set(
			        err, MC_ERR_PARSE,
			        "ics: dòng %d: không phải một dòng "
			        "iCalendar (TÊN:giá trị) / line %d: not "
			        "an iCalendar content line",
			        line, line);
			goto fail;
		}
		if ((strcmp(name, "BEGIN") == 0 || strcmp(name, "END") == 0) &&
		    (l[strlen(name)] != ':' || !*value)) {
			/* libical would not take it for a component edge,
			 * and the structure would be read two ways. */
			rc = mc_error_set(
			        err, MC_ERR_PARSE,
			        "ics: dòng %d: %s phải có dạng %s:TÊN / "
			        "line %d: %s must be written %s:NAME",
			        line, name, name, line, name, name);
			goto fail;
		}
		if (!seen_cal && !(strcmp(name, "BEGIN") == 0 &&
		                   strcasecmp(value, "VCALENDAR") == 0)) {
			rc = mc_error_set(err, MC_ERR_PARSE,
			                  "ics: dòng %d: tệp phải bắt đầu bằng "
			                  "BEGIN:VCALENDAR / line %d: the file "
			                  "must start with BEGIN:VCALENDAR",
			                  line, line);
			goto fail;
		}
		if (strcmp(name, "BEGIN") == 0) {
			if (depth == ICS_MAX_DEPTH) {
				rc = mc_error_set(
				        err, MC_ERR_PARSE,
				        "ics: dòng %d: lồng quá sâu / "
				        "line %d: nested too deep",
				        line, line);
				goto fail;
			}
			snprintf(stack[depth], ICS_NAME_MAX, "%s", value);
			upper(stack[depth]);
			stack_line[depth] = line;
			depth++;
			seen_cal = true;
			if (depth == 2 && strcmp(stack[1], "VEVENT") == 0) {
				struct raw_event *t;

				if (sc->n_ev >= MCC_ICS_MAX_EVENTS) {
					rc = mc_error_set(
					        err, MC_ERR_TOO_LARGE,
					        "ics: hơn %d sự kiện / more "
					        "than %d VEVENTs",
					        MCC_ICS_MAX_EVENTS,
					        MCC_ICS_MAX_EVENTS);
					goto fail;
				}
				t = realloc(sc->ev,
				            (sc->n_ev + 1) * sizeof(*t));
				if (!t) {
					rc = mc_error_set(err, MC_ERR_NOMEM,
					                  "ics: out of memory");
					goto fail;
				}
				sc->ev = t;
				cur = &sc->ev[sc->n_ev++];
				memset(cur, 0, sizeof(*cur));
				cur->line = line;
			}
		} else if (strcmp(name, "END") == 0) {
			char v[ICS_NAME_MAX];

			snprintf(v, sizeof(v), "%s", value);
			upper(v);
			if (depth > 0 && strcmp(stack[depth - 1], v) != 0 &&
			    pos >= len) {
				/* The last line, cut short: "END:VAL". */
				rc = mc_error_set(
				        err, MC_ERR_PARSE,
				        "ics: tệp bị cắt cụt ở dòng %d: "
				        "BEGIN:%.20s (dòng %d) chưa có END / "
				        "truncated at line %d: BEGIN:%.20s at "
				        "line %d is never closed",
				        line, stack[depth - 1],
				        stack_line[depth - 1], line,
				        stack[depth - 1],
				        stack_line[depth - 1]);
				goto fail;
			}
			if (depth == 0 || strcmp(stack[depth - 1], v) != 0) {
				rc = mc_error_set(
				        err, MC_ERR_PARSE,
				        "ics: dòng %d: END:%.20s không khớp "
				        "BEGIN:%.20s (dòng %d) / line %d: "
				        "END:%.20s does not close BEGIN:%.20s",
				        line, v, depth ? stack[depth - 1] : "-",
				        depth ? stack_line[depth - 1] : 0, line,
				        v, depth ? stack[depth - 1] : "-");
				goto fail;
			}
			depth--;
			if (depth == 1)
				cur = NULL;
			if (depth == 0)
				closed = true;
		} else if (depth == 2 && cur) {
			char **slot = NULL;

			if (strcmp(name, "RRULE") == 0) {
				if (cur->n_rrule++ == 0)
					slot = &cur->rrule;
			} else if (strcmp(name, "DURATION") == 0 &&
			           !cur->duration) {
				slot = &cur->duration;
			}
			if (slot) {
				*slot = mc_strdup(value);
				if (!*slot) {
					rc = mc_error_set(err, MC_ERR_NOMEM,
					                  "ics: out of memory");
					goto fail;
				}
			}
		}
		MC_FREE(l);
	}
	if (!seen_cal) {
		rc = mc_error_set(err, MC_ERR_PARSE,
		                  "ics: tệp rỗng, không có BEGIN:VCALENDAR / "
		                  "empty: no BEGIN:VCALENDAR");
		goto fail;
	}
	if (depth > 0) {
		rc = mc_error_set(err, MC_ERR_PARSE,
		                  "ics: tệp bị cắt cụt: BEGIN:%.20s ở dòng %d "
		                  "chưa có END / truncated: BEGIN:%.20s at "
		                  "line %d is never closed",
		                  stack[depth - 1], stack_line[depth - 1],
		                  stack[depth - 1], stack_line[depth - 1]);
		goto fail;
	}
	if (sc->n_ev == 0) {
		rc = mc_error_set(err, MC_ERR_MISSING,
		                  "ics: không có sự kiện (VEVENT) nào / no "
		                  "VEVENT to import");
		goto fail;
	}
	return MC_OK;
fail:
	free(l);
	scan_clear(sc);
	return rc;
}

/* The first X-LIC-ERROR libical left anywhere in c, or NULL. */
static const char *lic_error(icalcomponent *c)
{
	icalproperty *p =
	        icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY);
	icalcomponent *sub;

	if (p)
		return icalproperty_get_xlicerror(p);
	for (sub = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT);
	     sub;
	     sub = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT)) {
		const char *e = lic_error(sub);

		if (e)
			return e;
	}
	return NULL;
}

/* ---- zones ---------------------------------------------------------- */

/* Windows zone names Outlook writes, to the IANA zone of the same rules
 * (CLDR's mapping) for the territories minecast is used in first; other
 * names go to ICU's copy of the mapping. */
static const char *const windows_zones[][2] = {
        {"SE Asia Standard Time", "Asia/Ho_Chi_Minh"},
        {"China Standard Time", "Asia/Shanghai"},
        {"Tokyo Standard Time", "Asia/Tokyo"},
        {"Korea Standard Time", "Asia/Seoul"},
        {"Singapore Standard Time", "Asia/Singapore"},
        {"India Standard Time", "Asia/Kolkata"},
        {"UTC", "UTC"},
        {"GMT Standard Time", "Europe/London"},
        {"W. Europe Standard Time", "Europe/Berlin"},
        {"Romance Standard Time", "Europe/Paris"},
        {"Russian Standard Time", "Europe/Moscow"},
        {"Eastern Standard Time", "America/New_York"},
        {"Central Standard Time", "America/Chicago"},
        {"Mountain Standard Time", "America/Denver"},
        {"Pacific Standard Time", "America/Los_Angeles"},
        {"AUS Eastern Standard Time", "Australia/Sydney"},
};

static bool zone_known(const char *name)
{
	if (!name || !*name || strlen(name) > 64)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' ||
		      *p == '+' || *p == '-'))
			return false;
	return name[0] != '/' &&
	       icaltimezone_get_builtin_timezone(name) != NULL;
}

/*
 * Any other Windows name, by the same CLDR mapping as carried by ICU (the
 * zone of its "001" territory).  The result is libical's own name of the
 * zone, which lives as long as the process; NULL when ICU or libical do
 * not know it.
 */
static const char *windows_zone_icu(const char *win)
{
	UChar wid[80], iid[80];
	char id[80];
	UErrorCode st = U_ZERO_ERROR;
	size_t n = strlen(win);
	int32_t len;
	icaltimezone *z;

	if (n == 0 || n >= MC_ARRAY_LEN(wid))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		/* Windows zone names are plain ASCII. */
		if ((unsigned char)win[i] < 0x20 ||
		    (unsigned char)win[i] > 0x7e)
			return NULL;
		wid[i] = (UChar)win[i];
	}
	len = ucal_getTimeZoneIDForWindowsID(wid, (int32_t)n, NULL, iid,
	                                     (int32_t)MC_ARRAY_LEN(iid), &st);
	if (U_FAILURE(st) || len <= 0 || len >= (int32_t)sizeof(id))
		return NULL;
	for (int32_t i = 0; i < len; i++) {
		if (iid[i] > 0x7e)
			return NULL;
		id[i] = (char)iid[i];
	}
	id[len] = '\0';
	if (!zone_known(id) || !(z = icaltimezone_get_builtin_timezone(id)))
		return NULL;
	return icaltimezone_get_location(z);
}

/*
 * The IANA name a TZID parameter stands for, or NULL: the name itself,
 * a "/vendor/.../Area/City" suffix, the VTIMEZONE's X-LIC-LOCATION, or a
 * Windows name.  The result points into tzid, the calendar or the table.
 */
static const char *iana_zone(icalcomponent *cal, const char *tzid)
{
	icaltimezone *vz;

	if (zone_known(tzid))
		return tzid;
	for (const char *p = strchr(tzid, '/'); p; p = strchr(p + 1, '/'))
		if (zone_known(p + 1))
			return p + 1;
	vz = icalcomponent_get_timezone(cal, tzid);
	if (vz) {
		const char *loc = icaltimezone_get_location(vz);

		if (zone_known(loc))
			return loc;
	}
	for (size_t i = 0; i < MC_ARRAY_LEN(windows_zones); i++)
		if (strcmp(tzid, windows_zones[i][0]) == 0)
			return windows_zones[i][1];
	return windows_zone_icu(tzid);
}

/* ---- events --------------------------------------------------------- */

/* How an event's DTSTART was written; related times follow it. */
struct start_form {
	bool date;        /* a DATE: related times are dates */
	bool utc;         /* written (or converted) in UTC */
	const char *tzid; /* the TZID parameter as written, or NULL */
	const char *iana; /* its IANA zone, or NULL (floating or converted) */
};

static void fmt_time(struct icaltimetype t, bool date, bool utc, char *buf,
                     size_t cap)
{
	if (date)
		snprintf(buf, cap, "%04d%02d%02d", t.year, t.month, t.day);
	else
		snprintf(buf, cap, "%04d%02d%02dT%02d%02d%02d%s", t.year,
		         t.month, t.day, t.hour, t.minute, t.second,
		         utc ? "Z" : "");
}

static const char *tzid_param(icalproperty *p)
{
	icalparameter *par =
	        icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);

	return par ? icalparameter_get_tzid(par) : NULL;
}

/* The zone of a TZID for conversion: builtin IANA or the VTIMEZONE. */
static icaltimezone *zone_of(icalcomponent *cal, const char *tzid)
{
	const char *iana = iana_zone(cal, tzid);

	if (iana)
		return icaltimezone_get_builtin_timezone(iana);
	return icalcomponent_get_timezone(cal, tzid);
}

/*
 * A time related to DTSTART (DTEND, RDATE, EXDATE, RECURRENCE-ID) in the
 * form that compares with DTSTART's occurrences: a date for a date, the
 * same local form for the same zone or floating, UTC otherwise.
 */
static bool fmt_related(icalcomponent *cal, const struct start_form *f,
                        struct icaltimetype t, const char *tzid, char *buf,
                        size_t cap)
{
	if (f->date || t.is_date) {
		fmt_time(t, true, false, buf, cap);
		return true;
	}
	if (icaltime_is_utc(t)) {
		fmt_time(t, false, true, buf, cap);
		return true;
	}
	if (!tzid) {
		/* Floating: local in DTSTART's zone (or the document's). */
		if (f->utc && f->tzid) {
			t = icaltime_convert_to_zone(
			        icaltime_set_timezone(&t,
			                              zone_of(cal, f->tzid)),
			        icaltimezone_get_utc_timezone());
			fmt_time(t, false, true, buf, cap);
		} else {
			fmt_time(t, false, false, buf, cap);
		}
		return true;
	}
	if (f->iana && !f->utc) {
		const char *iana = iana_zone(cal, tzid);

		if (iana && strcmp(iana, f->iana) == 0) {
			fmt_time(t, false, false, buf, cap);
			return true;
		}
	}
	{
		icaltimezone *z = zone_of(cal, tzid);

		if (!z)
			return false;
		t = icaltime_convert_to_zone(icaltime_set_timezone(&t, z),
		                             icaltimezone_get_utc_timezone());
		fmt_time(t, false, true, buf, cap);
	}
	return true;
}

/* The text of a TEXT property (unescaped), or NULL. */
static const char *text_prop(icalcomponent *ev, icalproperty_kind kind)
{
	icalproperty *p = icalcomponent_get_first_property(ev, kind);

	if (!p)
		return NULL;
	switch (kind) {
	case ICAL_SUMMARY_PROPERTY: return icalproperty_get_summary(p);
	case ICAL_DESCRIPTION_PROPERTY: return icalproperty_get_description(p);
	case ICAL_UID_PROPERTY: return icalproperty_get_uid(p);
	default: return NULL;
	}
}

/* The value of X-name, or NULL. */
static const char *x_prop(icalcomponent *ev, const char *name)
{
	icalproperty *p;

	for (p = icalcomponent_get_first_property(ev, ICAL_X_PROPERTY); p;
	     p = icalcomponent_get_next_property(ev, ICAL_X_PROPERTY)) {
		const char *n = icalproperty_get_x_name(p);

		if (n && strcasecmp(n, name) == 0) {
			const char *v = icalproperty_get_x(p);

			return v ? v : "";
		}
	}
	return NULL;
}

/* s cut to at most max bytes at a UTF-8 boundary, malloc'd. */
static char *utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	char *o;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	o = malloc(n + 1);
	if (o) {
		memcpy(o, s, n);
		o[n] = '\0';
	}
	return o;
}

/* An entry id from a UID: the id rule's characters, shortened with a hash
 * of the whole UID when longer than an id may be. */
static void id_from_uid(const char *uid, size_t n_event, char out[65])
{
	size_t n = 0;
	bool dash = false;

	for (const char *p = uid ? uid : ""; *p && n < 200; p++) {
		char c = *p;
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_';

		if (ok) {
			if (n < 64)
				out[n] = c;
			n++;
			dash = false;
		} else if (!dash && n > 0) {
			if (n < 64)
				out[n] = '-';
			n++;
			dash = true;
		} else if (c == '-' && n == 0) {
			continue;
		}
	}
	if (n > 0 && n <= 64 && out[n - 1] == '-')
		n--;
	if (n == 0) {
		snprintf(out, 65, "ics-event-%zu", n_event + 1);
		return;
	}
	if (n > 64) {
		unsigned char h[crypto_hash_sha256_BYTES];

		crypto_hash_sha256(h, (const unsigned char *)uid, strlen(uid));
		n = 47;
		out[n++] = '-';
		for (int i = 0; i < 8; i++) {
			static const char hex[] = "0123456789abcdef";

			out[n++] = hex[h[i] >> 4];
			out[n++] = hex[h[i] & 15];
		}
	}
	out[n] = '\0';
}

/* Make id unique among used (a JSON object used as a set). */
static void dedupe(json_t *used, char id[65])
{
	char base[65];

	if (!json_object_get(used, id))
		goto done;
	snprintf(base, sizeof(base), "%s", id);
	for (unsigned k = 2;; k++) {
		char sfx[16];
		size_t sl = (size_t)snprintf(sfx, sizeof(sfx), "-%u", k);
		size_t bl = strlen(base);

		if (bl + sl > 64)
			bl = 64 - sl;
		snprintf(id, 65, "%.*s%s", (int)bl, base, sfx);
		if (!json_object_get(used, id))
			break;
	}
done:
	json_object_set_new(used, id, json_true());
}

/* An integer X-MINECAST value: digits only, at most 9 of them. */
static bool int_value(const char *s, long *out)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 9 || s[n])
		return false;
	*out = strtol(s, NULL, 10);
	return true;
}

/* X-MINECAST-TARGETS: JSON, also when a tool escaped its commas. */
static json_t *targets_value(const char *s)
{
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
	char *u;
	size_t n = 0;

	if (j)
		return j;
	u = malloc(strlen(s) + 1);
	if (!u)
		return NULL;
	for (const char *p = s; *p; p++) {
		if (p[0] == '\\' &&
		    (p[1] == ',' || p[1] == ';' || p[1] == '\\'))
			p++;
		u[n++] = *p;
	}
	u[n] = '\0';
	j = json_loads(u, JSON_REJECT_DUPLICATES, NULL);
	free(u);
	return j;
}

struct ics_ctx {
	icalcomponent *cal;
	const struct mcc_ics_opts *opts;
	json_t *content, *playlists, *entries; /* the documents */
	json_t *src_content, *src_playlists, *src_entries;
	json_t *events;  /* [{"line","uid"}] */
	json_t *used;    /* entry ids taken */
	json_t *masters; /* uid -> entry index (events without RECURRENCE-ID) */
	json_t *overrides; /* [[uid, exdate]] to add to masters */
};

#define EV_FAIL(code, ...)                                                     \
	do {                                                                   \
		char m_[200];                                                  \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                         \
		rc = mc_error_set(err, code, "VEVENT %zu (dòng/line %d): %s",  \
		                  k + 1, raw->line, m_);                       \
		goto fail;                                                     \
	} while (0)

static enum mc_err add_times(struct ics_ctx *x, icalcomponent *ev, json_t *e,
                             const struct raw_event *raw, size_t k,
                             struct mc_error *err)
{
	icalproperty *p =
	        icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
	struct start_form f = {0};
	struct icaltimetype t;
	char buf[40];
	json_t *rdate = NULL, *exdate = NULL;
	enum mc_err rc = MC_OK;

	if (!p)
		EV_FAIL(MC_ERR_MISSING, "DTSTART: bắt buộc / required");
	t = icalproperty_get_dtstart(p);
	if (icaltime_is_null_time(t) || !icaltime_is_valid_time(t))
		EV_FAIL(MC_ERR_PARSE, "DTSTART: không đọc được / unreadable");
	f.date = t.is_date;
	f.tzid = tzid_param(p);
	if (f.date) {
		fmt_time(t, true, false, buf, sizeof(buf));
	} else if (icaltime_is_utc(t)) {
		f.utc = true;
		fmt_time(t, false, true, buf, sizeof(buf));
	} else if (f.tzid) {
		f.iana = iana_zone(x->cal, f.tzid);
		if (f.iana) {
			fmt_time(t, false, false, buf, sizeof(buf));
			json_object_set_new(e, "tzid", json_string(f.iana));
		} else {
			icaltimezone *z =
			        icalcomponent_get_timezone(x->cal, f.tzid);

			if (!z)
				EV_FAIL(MC_ERR_TZ,
				        "DTSTART: múi giờ '%.40s' không có "
				        "VTIMEZONE / unknown time zone "
				        "'%.40s'",
				        f.tzid, f.tzid);
			/* A zone only the file defines: its instants, in
			 * UTC. */
			f.utc = true;
			t = icaltime_convert_to_zone(
			        icaltime_set_timezone(&t, z),
			        icaltimezone_get_utc_timezone());
			fmt_time(t, false, true, buf, sizeof(buf));
		}
	} else {
		fmt_time(t, false, false, buf, sizeof(buf));
	}
	json_object_set_new(e, "dtstart", json_string(buf));

	p = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY);
	if (p) {
		struct icaltimetype te = icalproperty_get_dtend(p);

		if (raw->duration)
			EV_FAIL(MC_ERR_RANGE, "DTEND và DURATION không được đi "
			                      "cùng nhau / DTEND and DURATION "
			                      "are exclusive");
		if (!icaltime_is_valid_time(te) ||
		    !fmt_related(x->cal, &f, te, tzid_param(p), buf,
		                 sizeof(buf)))
			EV_FAIL(MC_ERR_PARSE, "DTEND: không đọc được / "
			                      "unreadable");
		if (f.date && te.is_date &&
		    icaltime_compare_date_only(te, t) > 0) {
			/* All day: a number of days, nominal, so that a day
			 * with a DST change lasts its 23 or 25 hours rather
			 * than an exact 24. */
			snprintf(buf, sizeof(buf), "P%lldD",
			         (long long)((icaltime_as_timet(te) -
			                      icaltime_as_timet(t)) /
			                     86400));
			json_object_set_new(e, "duration", json_string(buf));
		} else {
			json_object_set_new(e, "dtend", json_string(buf));
		}
	} else if (raw->duration) {
		json_object_set_new(e, "duration", json_string(raw->duration));
	}
	if (raw->n_rrule > 1)
		EV_FAIL(MC_ERR_RANGE, "RRULE: chỉ được một / only one "
		                      "RRULE is supported");
	if (raw->rrule)
		json_object_set_new(e, "rrule", json_string(raw->rrule));

	rdate = json_array();
	exdate = json_array();
	for (p = icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY); p;
	     p = icalcomponent_get_next_property(ev, ICAL_RDATE_PROPERTY)) {
		struct icaldatetimeperiodtype dp = icalproperty_get_rdate(p);
		struct icaltimetype tr = icaltime_is_null_time(dp.time)
		                                 ? dp.period.start
		                                 : dp.time;

		if (!icaltime_is_valid_time(tr) ||
		    !fmt_related(x->cal, &f, tr, tzid_param(p), buf,
		                 sizeof(buf)))
			EV_FAIL(MC_ERR_PARSE, "RDATE: không đọc được / "
			                      "unreadable");
		json_array_append_new(rdate, json_string(buf));
	}
	for (p = icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY); p;
	     p = icalcomponent_get_next_property(ev, ICAL_EXDATE_PROPERTY)) {
		struct icaltimetype tx = icalproperty_get_exdate(p);

		if (!icaltime_is_valid_time(tx) ||
		    !fmt_related(x->cal, &f, tx, tzid_param(p), buf,
		                 sizeof(buf)))
			EV_FAIL(MC_ERR_PARSE, "EXDATE: không đọc được / "
			                      "unreadable");
		json_array_append_new(exdate, json_string(buf));
	}
	if (json_array_size(rdate))
		json_object_set(e, "rdate", rdate);
	if (json_array_size(exdate))
		json_object_set(e, "exdate", exdate);

	/* An override of one occurrence: that occurrence leaves its
	 * master. */
	p = icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY);
	if (p) {
		struct icaltimetype tr = icalproperty_get_recurrenceid(p);
		const char *uid = text_prop(ev, ICAL_UID_PROPERTY);

		if (uid && icaltime_is_valid_time(tr) &&
		    fmt_related(x->cal, &f, tr, tzid_param(p), buf,
		                sizeof(buf)))
			json_array_append_new(x->overrides,
			                      json_pack("[ss]", uid, buf));
	}
fail:
	json_decref(rdate);
	json_decref(exdate);
	return rc;
}

static enum mc_err add_event(struct ics_ctx *x, icalcomponent *ev,
                             const struct raw_event *raw, size_t k,
                             struct mc_error *err)
{
	const char *uid = text_prop(ev, ICAL_UID_PROPERTY);
	const char *summary = text_prop(ev, ICAL_SUMMARY_PROPERTY);
	const char *desc = text_prop(ev, ICAL_DESCRIPTION_PROPERTY);
	const char *v, *playlist, *channel;
	char id[65];
	char *name = NULL;
	json_t *e = json_object();
	bool standing = false;
	long n;
	enum mc_err rc = MC_OK;

	id_from_uid(uid, k, id);
	dedupe(x->used, id);
	json_object_set_new(e, "id", json_string(id));
	if (summary && *summary) {
		name = utf8_cut(summary, 256);
		json_object_set_new(e, "name", json_string(name ? name : ""));
	}
	playlist = x_prop(ev, "X-MINECAST-PLAYLIST");
	if (!playlist || !*playlist)
		playlist =
		        x->opts && x->opts->playlist ? x->opts->playlist : NULL;
	channel = x_prop(ev, "X-MINECAST-CHANNEL");
	if (!channel || !*channel)
		channel = x->opts && x->opts->channel ? x->opts->channel
		                                      : "screen";
	json_object_set_new(e, "channel", json_string(channel));
	if ((v = x_prop(ev, "X-MINECAST-PRIORITY"))) {
		if (!int_value(v, &n))
			EV_FAIL(MC_ERR_RANGE,
			        "X-MINECAST-PRIORITY: '%.20s' "
			        "không phải số / is not a "
			        "number",
			        v);
		json_object_set_new(e, "priority", json_integer(n));
	}
	if ((v = x_prop(ev, "X-MINECAST-LAYER")))
		json_object_set_new(e, "layer", json_string(v));
	if ((v = x_prop(ev, "X-MINECAST-MODE")))
		json_object_set_new(e, "mode", json_string(v));
	if ((v = x_prop(ev, "X-MINECAST-FOUNDED"))) {
		if (!int_value(v, &n))
			EV_FAIL(MC_ERR_RANGE,
			        "X-MINECAST-FOUNDED: '%.20s' "
			        "không phải năm / is not a year",
			        v);
		json_object_set_new(e, "founded", json_integer(n));
	}
	if ((v = x_prop(ev, "X-MINECAST-TARGETS")) && *v) {
		json_t *t = targets_value(v);

		if (!json_is_object(t)) {
			json_decref(t);
			EV_FAIL(MC_ERR_PARSE, "X-MINECAST-TARGETS: phải là một "
			                      "đối tượng JSON / must be a JSON "
			                      "object");
		}
		json_object_set_new(e, "targets", t);
	}
	v = x_prop(ev, "X-MINECAST-STANDING");
	standing = v && (strcasecmp(v, "TRUE") == 0 || strcmp(v, "1") == 0);
	if (!standing) {
		rc = add_times(x, ev, e, raw, k, err);
		if (rc != MC_OK)
			goto fail;
	}
	if (!playlist) {
		/* No playlist: the event's own words become the content. */
		bool speaker = strcmp(channel, "speaker") == 0;
		size_t sl = summary ? strlen(summary) : 0;
		size_t dl = desc ? strlen(desc) : 0;
		char *text = malloc(sl + dl + 2);
		json_t *c, *pl;

		if (!text)
			EV_FAIL(MC_ERR_NOMEM, "out of memory");
		snprintf(text, sl + dl + 2, "%s%s%s", summary ? summary : "",
		         sl && dl ? "\n" : "", desc ? desc : "");
		if (!*text) {
			free(text);
			EV_FAIL(MC_ERR_MISSING,
			        "SUMMARY: trống, không có gì để hiển thị / "
			        "empty: nothing to show");
		}
		c = json_pack("{s:s,s:s,s:s}", "id", id, "type",
		              speaker ? "speech" : "slogan", "text", text);
		free(text);
		if (name)
			json_object_set_new(c, "name", json_string(name));
		pl = json_pack("{s:s,s:[{s:s}]}", "id", id, "items", "content",
		               id);
		if (name)
			json_object_set_new(pl, "name", json_string(name));
		json_array_append_new(x->content, c);
		json_array_append_new(x->playlists, pl);
		json_array_append_new(x->src_content, json_integer((long)k));
		json_array_append_new(x->src_playlists, json_integer((long)k));
		playlist = id;
	}
	json_object_set_new(e, "playlist", json_string(playlist));
	if (uid &&
	    !icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY))
		json_object_set_new(
		        x->masters, uid,
		        json_integer((json_int_t)json_array_size(x->entries)));
	json_array_append(x->entries, e);
	json_array_append_new(x->src_entries, json_integer((long)k));
fail:
	free(name);
	json_decref(e);
	return rc;
}

#undef EV_FAIL

enum mc_err mcc_ics_parse(const char *buf, size_t len,
                          const struct mcc_ics_opts *opts, json_t **out,
                          struct mc_error *err)
{
	struct scan sc = {0};
	struct ics_ctx x = {0};
	icalcomponent *cal = NULL, *ev;
	char *copy = NULL;
	const char *lic;
	size_t bad, k = 0;
	enum mc_err rc;

	*out = NULL;
	if (len > MCC_ICS_MAX_BYTES)
		return mc_error_set(
		        err, MC_ERR_TOO_LARGE,
		        "ics: lớn hơn %u byte / larger than %u bytes",
		        MCC_ICS_MAX_BYTES, MCC_ICS_MAX_BYTES);
	if (memchr(buf, '\0', len))
		return mc_error_set(err, MC_ERR_PARSE,
		                    "ics: có byte NUL, không phải văn bản / "
		                    "holds a NUL byte: not text");
	bad = utf8_check((const unsigned char *)buf, len);
	if (bad < len)
		return mc_error_set(err, MC_ERR_UTF8,
		                    "ics: UTF-8 không hợp lệ ở byte %zu / "
		                    "invalid UTF-8 at byte %zu",
		                    bad, bad);
	rc = scan(buf, len, &sc, err);
	if (rc != MC_OK)
		return rc;
	copy = malloc(len + 1);
	if (!copy) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "ics: out of memory");
		goto out;
	}
	memcpy(copy, buf, len);
	copy[len] = '\0';
	cal = icalparser_parse_string(copy);
	if (!cal || icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT) {
		rc = mc_error_set(err, MC_ERR_PARSE,
		                  "ics: libical không đọc được tệp / libical "
		                  "cannot read the calendar");
		goto out;
	}
	/* What libical could not read, named by its event when it is in
	 * one. */
	k = 0;
	for (ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	     ev && k < sc.n_ev;
	     ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT),
	    k++) {
		lic = lic_error(ev);
		if (lic) {
			rc = mc_error_set(err, MC_ERR_PARSE,
			                  "VEVENT %zu (dòng/line %d): %.200s",
			                  k + 1, sc.ev[k].line, lic);
			goto out;
		}
	}
	k = 0;
	lic = lic_error(cal);
	if (lic) {
		rc = mc_error_set(err, MC_ERR_PARSE, "ics: %.200s", lic);
		goto out;
	}
	x.cal = cal;
	x.opts = opts;
	x.content = json_array();
	x.playlists = json_array();
	x.entries = json_array();
	x.src_content = json_array();
	x.src_playlists = json_array();
	x.src_entries = json_array();
	x.events = json_array();
	x.used = json_object();
	x.masters = json_object();
	x.overrides = json_array();
	if (!x.content || !x.playlists || !x.entries || !x.src_content ||
	    !x.src_playlists || !x.src_entries || !x.events || !x.used ||
	    !x.masters || !x.overrides) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "ics: out of memory");
		goto out;
	}
	for (ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
	     ev && k < sc.n_ev;
	     ev = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT),
	    k++) {
		const char *uid = text_prop(ev, ICAL_UID_PROPERTY);
		icalproperty *st = icalcomponent_get_first_property(
		        ev, ICAL_STATUS_PROPERTY);

		json_array_append_new(x.events,
		                      json_pack("{s:i,s:s?}", "line",
		                                sc.ev[k].line, "uid", uid));
		if (st && icalproperty_get_status(st) == ICAL_STATUS_CANCELLED)
			continue;
		rc = add_event(&x, ev, &sc.ev[k], k, err);
		if (rc != MC_OK)
			goto out;
	}
	{
		/* Overridden occurrences leave their masters. */
		size_t i;
		json_t *ov;

		json_array_foreach(x.overrides, i, ov)
		{
			json_t *mi = json_object_get(
			        x.masters,
			        json_string_value(json_array_get(ov, 0)));
			json_t *m, *ex;

			if (!mi)
				continue;
			m = json_array_get(x.entries,
			                   (size_t)json_integer_value(mi));
			ex = json_object_get(m, "exdate");
			if (!ex) {
				ex = json_array();
				json_object_set_new(m, "exdate", ex);
			}
			json_array_append(ex, json_array_get(ov, 1));
		}
	}
	if (json_array_size(x.entries) == 0) {
		rc = mc_error_set(
		        err, MC_ERR_MISSING,
		        "ics: mọi sự kiện đều đã huỷ / every VEVENT is "
		        "cancelled: nothing to import");
		goto out;
	}
	*out = json_pack("{s:O,s:O,s:O,s:{s:O,s:O,s:O},s:O}", "content",
	                 x.content, "playlists", x.playlists, "entries",
	                 x.entries, "sources", "content", x.src_content,
	                 "playlists", x.src_playlists, "entries", x.src_entries,
	                 "events", x.events);
	rc = *out ? MC_OK
	          : mc_error_set(err, MC_ERR_NOMEM, "ics: out of memory");
out:
	json_decref(x.content);
	json_decref(x.playlists);
	json_decref(x.entries);
	json_decref(x.src_content);
	json_decref(x.src_playlists);
	json_decref(x.src_entries);
	json_decref(x.events);
	json_decref(x.used);
	json_decref(x.masters);
	json_decref(x.overrides);
	if (cal)
		icalcomponent_free(cal);
	free(copy);
	scan_clear(&sc);
	return rc;
}

/* ---- export --------------------------------------------------------- */

/* A growing output buffer; ok turns false on allocation failure. */
struct sbuf {
	char *s;
	size_t n, cap;
	bool ok;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (!b->ok)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *t = realloc(b->s, cap);

		if (!t) {
			b->ok = false;
			return;
		}
		b->s = t;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

/* One content line, folded at 75 octets without splitting a UTF-8
 * sequence (RFC 5545 §3.1), CRLF-terminated. */
static void sb_line(struct sbuf *b, const char *line)
{
	size_t n = strlen(line), pos = 0, width = 75;

	while (n - pos > width) {
		size_t cut = pos + width;

		while (cut > pos && ((unsigned char)line[cut] & 0xc0) == 0x80)
			cut--;
		sb_put(b, line + pos, cut - pos);
		sb_put(b, "\r\n ", 3);
		pos = cut;
		width = 74; /* the leading space counts */
	}
	sb_put(b, line + pos, n - pos);
	sb_put(b, "\r\n", 2);
}

static void sb_linef(struct sbuf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void sb_linef(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0) {
		b->ok = false;
		return;
	}
	sb_line(b, s);
	free(s);
}

/* TEXT escaping (RFC 5545 §3.3.11), malloc'd. */
static char *ics_escape(const char *s)
{
	char *o = malloc(strlen(s) * 2 + 1), *q = o;

	if (!o)
		return NULL;
	for (; *s; s++) {
		if (*s == '\\' || *s == ';' || *s == ',') {
			*q++ = '\\';
			*q++ = *s;
		} else if (*s == '\n') {
			*q++ = '\\';
			*q++ = 'n';
		} else if (*s != '\r') {
			*q++ = *s;
		}
	}
	*q = '\0';
	return o;
}

/* "NAME;params:value" for a date-time as the entry wrote it. */
static void put_time(struct sbuf *b, const char *prop, const char *v,
                     const char *tzid)
{
	if (strlen(v) == 8)
		sb_linef(b, "%s;VALUE=DATE:%s", prop, v);
	else if (v[strlen(v) - 1] == 'Z' || !tzid)
		sb_linef(b, "%s:%s", prop, v);
	else
		sb_linef(b, "%s;TZID=%s:%s", prop, tzid, v);
}

static void put_vtimezone(struct sbuf *b, const char *tzid)
{
	icaltimezone *z = icaltimezone_get_builtin_timezone(tzid);
	icalcomponent *c, *clone;
	icalproperty *p;
	char *s;

	if (!z || !(c = icaltimezone_get_component(z)))
		return;
	clone = icalcomponent_new_clone(c);
	if (!clone) {
		b->ok = false;
		return;
	}
	/* libical names its zones "/freeassociation.sourceforge.net/...";
	 * the events say the IANA name. */
	p = icalcomponent_get_first_property(clone, ICAL_TZID_PROPERTY);
	if (p)
		icalproperty_set_tzid(p, tzid);
	s = icalcomponent_as_ical_string_r(clone);
	if (s) {
		/* libical ends lines with CRLF already and folds them. */
		sb_put(b, s, strlen(s));
		free(s);
	} else {
		b->ok = false;
	}
	icalcomponent_free(clone);
}

enum mc_err mcc_ics_export(const json_t *entries, const char *name,
                           const char *zone, char **out, struct mc_error *err)
{
	struct sbuf b = {.ok = true};
	json_t *zones = json_object(), *e;
	size_t i;
	char stamp[24];
	const char *zkey;
	json_t *zv;

	*out = NULL;
	fmt_time(icaltime_from_timet_with_zone((time_t)(mc_now_ms() / 1000), 0,
	                                       icaltimezone_get_utc_timezone()),
	         false, true, stamp, sizeof(stamp));
	sb_line(&b, "BEGIN:VCALENDAR");
	sb_line(&b, "VERSION:2.0");
	sb_line(&b, "PRODID:-//minecast//minecast-controller//VI");
	sb_line(&b, "CALSCALE:GREGORIAN");
	if (name && *name) {
		char *n = ics_escape(name);

		if (n)
			sb_linef(&b, "X-WR-CALNAME:%s", n);
		free(n);
	}
	if (zone && *zone)
		sb_linef(&b, "X-WR-TIMEZONE:%s", zone);
	json_array_foreach(entries, i, e)
	{
		const char *tz = json_string_value(json_object_get(e, "tzid"));

		if (tz && json_object_get(e, "dtstart"))
			json_object_set_new(zones, tz, json_true());
	}
	json_object_foreach(zones, zkey, zv)
	{
		put_vtimezone(&b, zkey);
	}
	json_array_foreach(entries, i, e)
	{
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *nm = json_string_value(json_object_get(e, "name"));
		const char *tz = json_string_value(json_object_get(e, "tzid"));
		const char *ds =
		        json_string_value(json_object_get(e, "dtstart"));
		const char *s;
		json_t *v, *arr;
		size_t j;
		char *esc;

		if (!id)
			continue;
		sb_line(&b, "BEGIN:VEVENT");
		sb_linef(&b, "UID:%s", id);
		sb_linef(&b, "DTSTAMP:%s", stamp);
		esc = ics_escape(nm && *nm ? nm : id);
		if (esc)
			sb_linef(&b, "SUMMARY:%s", esc);
		free(esc);
		if (!ds) {
			sb_line(&b, "DTSTART;VALUE=DATE:19700101");
			sb_line(&b, "X-MINECAST-STANDING:TRUE");
		} else {
			put_time(&b, "DTSTART", ds, tz);
			if ((s = json_string_value(
			             json_object_get(e, "dtend"))))
				put_time(&b, "DTEND", s, tz);
			if ((s = json_string_value(
			             json_object_get(e, "duration"))))
				sb_linef(&b, "DURATION:%s", s);
			if ((s = json_string_value(
			             json_object_get(e, "rrule"))))
				sb_linef(&b, "RRULE:%s", s);
			arr = json_object_get(e, "rdate");
			json_array_foreach(arr, j, v)
			{
				if (json_is_string(v))
					put_time(&b, "RDATE",
					         json_string_value(v), tz);
			}
			arr = json_object_get(e, "exdate");
			json_array_foreach(arr, j, v)
			{
				if (json_is_string(v))
					put_time(&b, "EXDATE",
					         json_string_value(v), tz);
			}
		}
		if ((s = json_string_value(json_object_get(e, "playlist"))))
			sb_linef(&b, "X-MINECAST-PLAYLIST:%s", s);
		if ((s = json_string_value(json_object_get(e, "channel"))))
			sb_linef(&b, "X-MINECAST-CHANNEL:%s", s);
		if (json_is_integer(v = json_object_get(e, "priority")))
			sb_linef(&b, "X-MINECAST-PRIORITY:%lld",
			         (long long)json_integer_value(v));
		if ((s = json_string_value(json_object_get(e, "layer"))))
			sb_linef(&b, "X-MINECAST-LAYER:%s", s);
		if ((s = json_string_value(json_object_get(e, "mode"))))
			sb_linef(&b, "X-MINECAST-MODE:%s", s);
		if (json_is_integer(v = json_object_get(e, "founded")))
			sb_linef(&b, "X-MINECAST-FOUNDED:%lld",
			         (long long)json_integer_value(v));
		if (json_is_object(v = json_object_get(e, "targets"))) {
			char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

			if (t)
				sb_linef(&b, "X-MINECAST-TARGETS:%s", t);
			else
				b.ok = false;
			free(t);
		}
		sb_line(&b, "END:VEVENT");
	}
	sb_line(&b, "END:VCALENDAR");
	json_decref(zones);
	if (!b.ok) {
		free(b.s);
		return mc_error_set(err, MC_ERR_NOMEM, "ics: out of memory");
	}
	*out = b.s;
	return MC_OK;
}
