/*
 * minecast — date-time values and zones for the schedule engine.
 *
 * Entries write times as RFC 5545 basic DATE or DATE-TIME strings.  We
 * parse them strictly here (libical's icaltime_from_string accepts too
 * much to report a clear error) and leave every zone conversion to
 * libical's icaltimezone, loaded from the system zoneinfo.
 */
#include <ctype.h>
#include <string.h>

#include "sched_internal.h"

/* Read exactly n digits. */
static bool digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool mc__dt_parse(const char *s, struct mc__dt *out)
{
	struct icaltimetype t = icaltime_null_time();
	size_t len;
	int y, mo, d, h = 0, mi = 0, se = 0;

	if (!s)
		return false;
	len = strlen(s);
	memset(out, 0, sizeof(*out));
	if (len != 8 && len != 15 && len != 16)
		return false;
	if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) ||
	    !digits(s + 6, 2, &d))
		return false;
	if (len >= 15) {
		if (s[8] != 'T' || !digits(s + 9, 2, &h) ||
		    !digits(s + 11, 2, &mi) || !digits(s + 13, 2, &se))
			return false;
		if (len == 16 && s[15] != 'Z')
			return false;
	}
	/* 1900..2199: libical's zone tables and our int64 ms are exact. */
	if (y < 1900 || y > 2199 || mo < 1 || mo > 12 || d < 1 ||
	    d > icaltime_days_in_month(mo, y) || h > 23 || mi > 59 || se > 59)
		return false;
	t.year = y;
	t.month = mo;
	t.day = d;
	t.hour = h;
	t.minute = mi;
	t.second = se;
	t.is_date = 0;
	t.zone = NULL;
	out->local = t;
	out->utc = len == 16;
	out->is_date = len == 8;
	return true;
}

icaltimezone *mc__zone(const char *tzid)
{
	const char *p;

	if (!tzid || !*tzid || strlen(tzid) > 64)
		return NULL;
	if (strcmp(tzid, "UTC") == 0 || strcmp(tzid, "Etc/UTC") == 0 ||
	    strcmp(tzid, "Z") == 0)
		return icaltimezone_get_utc_timezone();
	/*
	 * libical opens zoneinfo files by this name: refuse anything that
	 * is not a plain zone name so a document cannot name other files.
	 */
	if (tzid[0] == '/' || strstr(tzid, ".."))
		return NULL;
	for (p = tzid; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
			return NULL;
	return icaltimezone_get_builtin_timezone(tzid);
}

int64_t mc__local_to_ms(icaltimezone *zone, struct icaltimetype local)
{
	local.zone = NULL;
	local.is_date = 0;
	return (int64_t)icaltime_as_timet_with_zone(local, zone) * 1000;
}

int64_t mc__floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t mc__floor_mod(int64_t a, int64_t b)
{
	return a - mc__floor_div(a, b) * b;
}

struct icaltimetype mc__ms_to_local(icaltimezone *zone, int64_t ms)
{
	struct icaltimetype t;

	t = icaltime_from_timet_with_zone((time_t)mc__floor_div(ms, 1000), 0,
	                                  zone);
	t.zone = NULL;
	t.is_date = 0;
	return t;
}

int64_t mc__dt_to_ms(const struct mc__dt *dt, icaltimezone *zone)
{
	return mc__local_to_ms(dt->utc ? icaltimezone_get_utc_timezone() : zone,
	                       dt->local);
}
