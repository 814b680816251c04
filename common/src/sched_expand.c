/*
 * minecast — occurrence streams: RRULE (expanded by libical's
 * icalrecur_iterator) + RDATE - EXDATE, and the end of each occurrence.
 *
 * Three libical habits shape this file, each pinned by a unit test:
 *
 *  - Iterating with a zoned DTSTART lets a DST-adjusted time leak into the
 *    following occurrences (a daily 02:30 rule in New York gives 03:30 on
 *    the day after the spring change too).  We iterate on floating local
 *    fields and convert each occurrence with the zone separately, so UNTIL
 *    is applied here, on instants, instead of by libical.
 *  - icalrecur_iterator_set_start ignores the INTERVAL phase of HOURLY and
 *    MINUTELY rules.  For SECONDLY..WEEKLY rules we jump instead by moving
 *    DTSTART forward by whole days or weeks that are whole intervals,
 *    which generates the same set (see rule_iter_from); set_start is used
 *    for the others, where it agrees with a full iteration
 *    (test_sched_rules.c checks both ways on many rules).
 *  - A sub-daily rule whose day-level limits never match (FREQ=MINUTELY;
 *    BYMONTH=2;BYMONTHDAY=30) makes icalrecur_iterator_next spin for
 *    minutes.  Such combinations are refused at compile time with a hint
 *    to use FREQ=DAILY with BYHOUR/BYMINUTE.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "minecast/log.h"
#include "minecast/util.h"
#include "sched_internal.h"

/* The parts of an RRULE we accept, and the frequency names. */
enum part {
	P_FREQ,
	P_UNTIL,
	P_COUNT,
	P_INTERVAL,
	P_BYSECOND,
	P_BYMINUTE,
	P_BYHOUR,
	P_BYDAY,
	P_BYMONTHDAY,
	P_BYYEARDAY,
	P_BYWEEKNO,
	P_BYMONTH,
	P_BYSETPOS,
	P_WKST,
	P_COUNT_OF_PARTS
};

static const char *const part_names[P_COUNT_OF_PARTS] = {
        "FREQ",     "UNTIL",   "COUNT",    "INTERVAL",   "BYSECOND",
        "BYMINUTE", "BYHOUR",  "BYDAY",    "BYMONTHDAY", "BYYEARDAY",
        "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST"};

/* Frequencies, finest first, as RFC 5545 names them. */
static const char *const freq_names[] = {"SECONDLY", "MINUTELY", "HOURLY",
                                         "DAILY",    "WEEKLY",   "MONTHLY",
                                         "YEARLY"};

enum {
	F_SECONDLY,
	F_MINUTELY,
	F_HOURLY,
	F_DAILY,
	F_WEEKLY,
	F_MONTHLY,
	F_YEARLY
};

static bool is_weekday(const char *s, size_t n)
{
	static const char *const days[] = {"SU", "MO", "TU", "WE",
	                                   "TH", "FR", "SA"};

	if (n != 2)
		return false;
	for (size_t i = 0; i < MC_ARRAY_LEN(days); i++)
		if (strncasecmp(s, days[i], 2) == 0)
			return true;
	return false;
}

/*
 * Check a comma list of signed integers, each |v| in lo..hi (0 allowed
 * only if lo is 0; negatives only if neg).
 */
static bool int_list(const char *v, size_t n, int lo, int hi, bool neg)
{
	size_t i = 0;

	while (i < n) {
		int sign = 1, val = 0, nd = 0;

		if (v[i] == '+' || v[i] == '-') {
			if (!neg)
				return false;
			sign = v[i] == '-' ? -1 : 1;
			i++;
		}
		while (i < n && isdigit((unsigned char)v[i]) && nd < 4) {
			val = val * 10 + (v[i] - '0');
			nd++;
			i++;
		}
		if (nd == 0 || val < lo || val > hi || (sign < 0 && val == 0))
			return false;
		if (i < n) {
			if (v[i] != ',' || i + 1 == n)
				return false;
			i++;
		}
	}
	return n > 0;
}

/* BYDAY: [+-]NN?DAY, ordinals 1..53; *ordinal set if any has one. */
static bool byday_list(const char *v, size_t n, bool *ordinal)
{
	size_t i = 0;

	*ordinal = false;
	while (i < n) {
		size_t j = i, nd = 0;
		int val = 0;

		if (v[j] == '+' || v[j] == '-')
			j++;
		while (j < n && isdigit((unsigned char)v[j]) && nd < 2) {
			val = val * 10 + (v[j] - '0');
			j++;
			nd++;
		}
		if (j > i && (nd == 0 || val < 1 || val > 53))
			return false;
		if (nd)
			*ordinal = true;
		if (j + 2 > n || !is_weekday(v + j, 2))
			return false;
		j += 2;
		if (j < n) {
			if (v[j] != ',' || j + 1 == n)
				return false;
			j++;
		}
		i = j;
	}
	return n > 0;
}

/*
 * Check the rule text part by part, so that errors say what is wrong
 * ("FREQ is missing", "BYHOUR: 24 is not 0..23") instead of libical's
 * one MALFORMEDDATA for everything.  Fills *until when UNTIL is given.
 */
static enum mc_err rule_check(const char *rrule, const char *path,
                              struct mc__dt *until, bool *has_until,
                              unsigned *parts, struct mc_error *err)
{
	const char *p = rrule;
	bool seen[P_COUNT_OF_PARTS] = {false};
	int freq = -1;
	bool ordinal = false;

	*has_until = false;
	if (!*p)
		return mc_error_set(err, MC_ERR_PARSE, "%s: empty rule", path);
	if (strlen(rrule) > 1024)
		return mc_error_set(err, MC_ERR_TOO_LARGE,
		                    "%s: longer than 1024 bytes", path);
	while (*p) {
		const char *semi = strchr(p, ';');
		size_t len = semi ? (size_t)(semi - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t nlen, vlen;
		const char *v;
		int part = -1;
		bool ok = true;

		if (!eq)
			return mc_error_set(err, MC_ERR_PARSE,
			                    "%s: '%.*s' is not NAME=VALUE",
			                    path, (int)len, p);
		nlen = (size_t)(eq - p);
		v = eq + 1;
		vlen = len - nlen - 1;
		for (int i = 0; i < P_COUNT_OF_PARTS; i++)
			if (strlen(part_names[i]) == nlen &&
			    strncasecmp(p, part_names[i], nlen) == 0)
				part = i;
		if (part < 0)
			return mc_error_set(err, MC_ERR_PARSE,
			                    "%s: unknown part '%.*s'", path,
			                    (int)nlen, p);
		if (seen[part])
			return mc_error_set(err, MC_ERR_PARSE,
			                    "%s: %s given twice", path,
			                    part_names[part]);
		seen[part] = true;
		switch (part) {
		case P_FREQ:
			for (size_t i = 0; i < MC_ARRAY_LEN(freq_names); i++)
				if (strlen(freq_names[i]) == vlen &&
				    strncasecmp(v, freq_names[i], vlen) == 0)
					freq = (int)i;
			ok = freq >= 0;
			break;
		case P_UNTIL: {
			char tmp[24];

			ok = vlen < sizeof(tmp);
			if (ok) {
				memcpy(tmp, v, vlen);
				tmp[vlen] = '\0';
				ok = mc__dt_parse(tmp, until);
				*has_until = ok;
			}
			break;
		}
		case P_COUNT: {
			long c = 0;

			ok = vlen >= 1 && vlen <= 9;
			for (size_t i = 0; ok && i < vlen; i++) {
				ok = isdigit((unsigned char)v[i]);
				c = c * 10 + (v[i] - '0');
			}
			ok = ok && c >= 1 && c <= MC_SCHED_MAX_COUNT;
			break;
		}
		case P_INTERVAL:
			ok = int_list(v, vlen, 1, 9999, false) &&
			     !memchr(v, ',', vlen);
			break;
		case P_BYSECOND: ok = int_list(v, vlen, 0, 60, false); break;
		case P_BYMINUTE: ok = int_list(v, vlen, 0, 59, false); break;
		case P_BYHOUR: ok = int_list(v, vlen, 0, 23, false); break;
		case P_BYDAY: ok = byday_list(v, vlen, &ordinal); break;
		case P_BYMONTHDAY: ok = int_list(v, vlen, 1, 31, true); break;
		case P_BYYEARDAY: ok = int_list(v, vlen, 1, 366, true); break;
		case P_BYWEEKNO: ok = int_list(v, vlen, 1, 53, true); break;
		case P_BYMONTH: ok = int_list(v, vlen, 1, 12, false); break;
		case P_BYSETPOS: ok = int_list(v, vlen, 1, 366, true); break;
		case P_WKST: ok = is_weekday(v, vlen); break;
		}
		if (!ok)
			return mc_error_set(err, MC_ERR_RANGE,
			                    "%s: bad %s value '%.*s'", path,
			                    part_names[part], (int)vlen, v);
		p = semi ? semi + 1 : p + len;
		if (semi && !*p)
			break; /* a trailing ';' is harmless */
	}
	for (int i = 0; i < P_COUNT_OF_PARTS; i++)
		if (seen[i])
			*parts |= 1u << i;
	if (freq < 0)
		return mc_error_set(err, MC_ERR_MISSING, "%s: FREQ is missing",
		                    path);
	if (seen[P_COUNT] && seen[P_UNTIL])
		return mc_error_set(err, MC_ERR_PARSE,
		                    "%s: COUNT and UNTIL are exclusive", path);
	/* RFC 5545 3.3.10 restrictions, stated so authors learn them. */
	if (ordinal && freq != F_MONTHLY && freq != F_YEARLY)
		return mc_error_set(err, MC_ERR_PARSE,
		                    "%s: BYDAY with a number (1MO) needs "
		                    "FREQ=MONTHLY or YEARLY",
		                    path);
	if (seen[P_BYWEEKNO] && freq != F_YEARLY)
		return mc_error_set(err, MC_ERR_PARSE,
		                    "%s: BYWEEKNO needs FREQ=YEARLY", path);
	if (seen[P_BYYEARDAY] &&
	    (freq == F_DAILY || freq == F_WEEKLY || freq == F_MONTHLY))
		return mc_error_set(err, MC_ERR_PARSE,
		                    "%s: BYYEARDAY is not allowed with FREQ=%s",
		                    path, freq_names[freq]);
	if (seen[P_BYMONTHDAY] && freq == F_WEEKLY)
		return mc_error_set(err, MC_ERR_PARSE,
		                    "%s: BYMONTHDAY is not allowed with "
		                    "FREQ=WEEKLY",
		                    path);
	/*
	 * Sub-daily rules with day-level limits can keep libical searching
	 * for minutes (or forever when they never match): refuse them.
	 */
	if (freq <= F_HOURLY) {
		static const int day_parts[] = {P_BYMONTHDAY, P_BYYEARDAY,
		                                P_BYWEEKNO,   P_BYSETPOS,
		                                P_BYMONTH,    P_BYDAY};
		/* HOURLY and MINUTELY may keep BYDAY (every week has each
		 * weekday), SECONDLY nothing. */
		size_t n = freq == F_SECONDLY ? 6 : 5;

		for (size_t i = 0; i < n; i++)
			if (seen[day_parts[i]])
				return mc_error_set(
				        err, MC_ERR_UNSUPPORTED,
				        "%s: FREQ=%s with %s is not supported "
				        "(use FREQ=DAILY with BYHOUR/BYMINUTE)",
				        path, freq_names[freq],
				        part_names[day_parts[i]]);
	}
	return MC_OK;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Seconds of floating local fields, counted as if they were UTC. */
static int64_t floating_secs(struct icaltimetype t)
{
	t.zone = NULL;
	t.is_date = 0;
	return (int64_t)icaltime_as_timet(t);
}

/* True if occurrence x (floating, instant ms) is past the rule's UNTIL. */
static bool past_until(const struct mc__centry *ce, struct icaltimetype x,
                       int64_t ms)
{
	if (!ce->has_until)
		return false;
	if (ce->until_utc)
		return ms > ce->until_ms;
	if (ce->until.is_date) {
		/* A DATE UNTIL includes every occurrence on that day. */
		struct icaltimetype d = x;

		d.hour = d.minute = d.second = 0;
		return floating_secs(d) > floating_secs(ce->until);
	}
	return floating_secs(x) > floating_secs(ce->until);
}

enum mc_err mc__rule_compile(struct mc__centry *ce, const char *rrule,
                             const char *path, struct mc_error *err)
{
	struct mc__dt until;
	icalrecur_iterator *it = NULL;
	enum mc_err rc;

	ce->parts = 0;
	rc = rule_check(rrule, path, &until, &ce->has_until, &ce->parts, err);
	if (rc != MC_OK)
		goto fail;
	icalerror_clear_errno();
	ce->rule = icalrecurrencetype_from_string(rrule);
	if (ce->rule.freq == ICAL_NO_RECURRENCE) {
		rc = mc_error_set(err, MC_ERR_PARSE,
		                  "%s: libical cannot read this rule (%s)",
		                  path, icalerror_strerror(icalerrno));
		goto fail;
	}
	if (ce->has_until) {
		until.local.is_date = until.is_date;
		ce->until = until.local;
		ce->until_utc = until.utc;
		ce->until_ms = mc__dt_to_ms(&until, ce->rzone);
	}
	/* UNTIL is applied on instants in past_until(). */
	ce->rule.until = icaltime_null_time();
	ce->has_rule = true;
	it = icalrecur_iterator_new(ce->rule, ce->start);
	if (!it) {
		rc = mc_error_set(err, MC_ERR_PARSE,
		                  "%s: libical rejects this rule (%s)", path,
		                  icalerror_strerror(icalerrno));
		goto fail;
	}
	if (ce->rule.count > 0) {
		/* COUNT needs the whole series anyway: keep it. */
		ce->fixed = calloc((size_t)ce->rule.count, sizeof(int64_t));
		if (!ce->fixed) {
			rc = mc_error_set(err, MC_ERR_NOMEM, "%s: %s", path,
			                  mc_strerror(MC_ERR_NOMEM));
			goto fail;
		}
		while (ce->n_fixed < (size_t)ce->rule.count) {
			struct icaltimetype x = icalrecur_iterator_next(it);

			if (icaltime_is_null_time(x))
				break;
			ce->fixed[ce->n_fixed++] =
			        mc__local_to_ms(ce->rzone, x);
		}
		/* DST mapping can reorder neighbours by an hour. */
		qsort(ce->fixed, ce->n_fixed, sizeof(int64_t), cmp_i64);
		ce->use_fixed = true;
	} else {
		struct icaltimetype x = icalrecur_iterator_next(it);

		ce->rule_empty =
		        icaltime_is_null_time(x) ||
		        past_until(ce, x, mc__local_to_ms(ce->rzone, x));
	}
	rc = MC_OK;
fail:
	if (it)
		icalrecur_iterator_free(it);
	return rc;
}

/* Index of the first element >= v in a sorted array. */
static size_t lower_bound(const int64_t *a, size_t n, int64_t v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool excluded(const struct mc__centry *ce, int64_t v)
{
	size_t i = lower_bound(ce->exdates, ce->n_exdates, v);

	return i < ce->n_exdates && ce->exdates[i] == v;
}

/* The next start of the rule part, or NEVER. */
static int64_t rule_pull(struct mc__occ_gen *g)
{
	const struct mc__centry *ce = g->ce;
	struct icaltimetype x;
	int64_t ms;

	if (ce->use_fixed)
		return g->fi < ce->n_fixed ? ce->fixed[g->fi++]
		                           : MC_SCHED_NEVER;
	if (!g->it)
		return MC_SCHED_NEVER;
	if (g->budget-- <= 0) {
		/* Rare (a dense rule over a long window): say so, once per
		 * query, so a technician can find the entry. */
		mc_log_warn("sched",
		            "entry %s: rule needs more than %d "
		            "iterations here; later occurrences ignored",
		            ce->e && ce->e->id ? ce->e->id : "(expand)",
		            MC__ITER_BUDGET);
		goto end;
	}
	x = icalrecur_iterator_next(g->it);
	if (icaltime_is_null_time(x))
		goto end;
	ms = mc__local_to_ms(ce->rzone, x);
	if (past_until(ce, x, ms))
		goto end;
	return ms;
end:
	icalrecur_iterator_free(g->it);
	g->it = NULL;
	return MC_SCHED_NEVER;
}

static int64_t gcd64(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * Position a libical iterator so that it yields every start at or after
 * the floating local time want (and perhaps a few before).
 *
 * For SECONDLY..WEEKLY rules limited by time of day and weekday only, we
 * move DTSTART forward by a whole number of steps, a step being a
 * multiple of the interval that is also a whole number of days (weeks
 * with BYDAY), so the moved DTSTART has the same local time (and weekday)
 * and matches the rule as the real one does.  libical may still drop
 * members of the first step after the moved DTSTART, so we move to one
 * step before want.  Other rules use icalrecur_iterator_set_start, which
 * agrees with a full iteration for them (test_sched_rules.c).
 */
static icalrecur_iterator *rule_iter_from(const struct mc__centry *ce,
                                          struct icaltimetype want)
{
	static const int64_t unit_secs[] = {1, 60, 3600, 86400, 604800};
	const unsigned day_limits = 1u << P_BYMONTH | 1u << P_BYMONTHDAY |
	                            1u << P_BYYEARDAY | 1u << P_BYWEEKNO |
	                            1u << P_BYSETPOS;
	struct icaltimetype start = ce->start;
	int64_t diff = floating_secs(want) - floating_secs(start);
	icalrecur_iterator *it;
	int f = (int)ce->rule.freq;

	if (diff <= 0)
		return icalrecur_iterator_new(ce->rule, start);
	if (f >= ICAL_SECONDLY_RECURRENCE && f <= ICAL_WEEKLY_RECURRENCE &&
	    !(ce->parts & day_limits)) {
		int64_t unit = unit_secs[f - ICAL_SECONDLY_RECURRENCE] *
		               (ce->rule.interval > 0 ? ce->rule.interval : 1);
		int64_t align = ce->parts & 1u << P_BYDAY ? 604800 : 86400;
		int64_t step = unit / gcd64(unit, align) * align;
		int64_t k = diff / step - 1;

		if (k > 0) {
			int64_t secs = k * step;

			icaltime_adjust(&start, (int)(secs / 86400), 0, 0,
			                (int)(secs % 86400));
		}
		return icalrecur_iterator_new(ce->rule, start);
	}
	it = icalrecur_iterator_new(ce->rule, start);
	if (it)
		icalrecur_iterator_set_start(it, want);
	return it;
}

void mc__occ_init(struct mc__occ_gen *g, const struct mc__centry *ce,
                  int64_t from_ms)
{
	memset(g, 0, sizeof(*g));
	g->ce = ce;
	g->budget = MC__ITER_BUDGET;
	g->ri = lower_bound(ce->rdates, ce->n_rdates, from_ms);
	if (ce->use_fixed) {
		g->fi = lower_bound(ce->fixed, ce->n_fixed, from_ms);
	} else if (ce->has_rule && !ce->rule_empty) {
		struct icaltimetype want = mc__ms_to_local(ce->rzone, from_ms);

		/* Local fields are not monotonic across DST: keep margin. */
		icaltime_adjust(&want, 0, -3, 0, 0);
		g->it = rule_iter_from(ce, want);
	}
	g->rule_next = rule_pull(g);
}

bool mc__occ_next(struct mc__occ_gen *g, int64_t *start_ms)
{
	const struct mc__centry *ce = g->ce;

	for (;;) {
		int64_t r = g->rule_next;
		int64_t d = g->ri < ce->n_rdates ? ce->rdates[g->ri]
		                                 : MC_SCHED_NEVER;
		int64_t v;

		if (r == MC_SCHED_NEVER && d == MC_SCHED_NEVER)
			return false;
		if (r <= d) {
			v = r;
			g->rule_next = rule_pull(g);
		} else {
			v = d;
			g->ri++;
		}
		if (g->have_last && v == g->last)
			continue;
		if (excluded(ce, v))
			continue;
		g->last = v;
		g->have_last = true;
		*start_ms = v;
		return true;
	}
}

void mc__occ_done(struct mc__occ_gen *g)
{
	if (g->it)
		icalrecur_iterator_free(g->it);
	g->it = NULL;
}

int64_t mc__occ_end(const struct mc__centry *ce, int64_t s)
{
	struct icaltimetype l;
	int64_t e;

	switch (ce->end_kind) {
	case MC__END_EXACT: e = s + ce->exact_ms; break;
	case MC__END_NOMINAL:
		/* Nominal: P1D is "same local time tomorrow" (RFC 5545). */
		l = mc__ms_to_local(ce->zone, s);
		l = icaltime_add(l, ce->dur);
		e = mc__local_to_ms(ce->zone, l);
		if (e <= s) /* a DST gap swallowed it: fall back to exact */
			e = s +
			    (int64_t)icaldurationtype_as_int(ce->dur) * 1000;
		break;
	case MC__END_DAY:
		l = mc__ms_to_local(ce->zone, s);
		l.hour = l.minute = l.second = 0;
		icaltime_adjust(&l, 1, 0, 0, 0);
		e = mc__local_to_ms(ce->zone, l);
		if (e <= s)
			e = s + 86400000;
		break;
	case MC__END_PLAYLIST:
	default: return s + ce->playlist_ms;
	}
	if (ce->once_clip && s + ce->playlist_ms < e)
		e = s + ce->playlist_ms;
	return e;
}

/* Format instant ms like the dtstart the user gave. */
static void format_like(const struct mc__dt *like, icaltimezone *zone,
                        int64_t ms, char *out, size_t cap)
{
	struct icaltimetype t = mc__ms_to_local(
	        like->utc ? icaltimezone_get_utc_timezone() : zone, ms);

	if (like->is_date)
		snprintf(out, cap, "%04d%02d%02d", t.year, t.month, t.day);
	else
		snprintf(out, cap, "%04d%02d%02dT%02d%02d%02d%s", t.year,
		         t.month, t.day, t.hour, t.minute, t.second,
		         like->utc ? "Z" : "");
}

enum mc_err mc_sched_expand(const char *dtstart, const char *tzid,
                            const char *rrule, size_t limit,
                            bool (*cb)(int64_t start_ms, const char *start,
                                       void *ud),
                            void *ud, struct mc_error *err)
{
	struct mc__centry ce;
	struct mc__occ_gen g;
	struct mc__dt dt;
	enum mc_err rc;
	int64_t s;

	memset(&ce, 0, sizeof(ce));
	memset(&g, 0, sizeof(g));
	if (!tzid)
		tzid = MC_SCHED_DEFAULT_TZ;
	ce.zone = mc__zone(tzid);
	if (!ce.zone) {
		rc = mc_error_set(err, MC_ERR_TZ,
		                  "--tz: unknown time zone '%s'", tzid);
		goto fail;
	}
	if (!dtstart || !mc__dt_parse(dtstart, &dt)) {
		rc = mc_error_set(err, MC_ERR_PARSE,
		                  "--dtstart: '%s' is not YYYYMMDDTHHMMSS[Z] "
		                  "or YYYYMMDD (years 1900..2199)",
		                  dtstart ? dtstart : "");
		goto fail;
	}
	if (!rrule) {
		rc = mc_error_set(err, MC_ERR_MISSING, "--rrule: required");
		goto fail;
	}
	ce.rzone = dt.utc ? icaltimezone_get_utc_timezone() : ce.zone;
	ce.start = dt.local;
	ce.is_date = dt.is_date;
	ce.start_ms = mc__dt_to_ms(&dt, ce.zone);
	rc = mc__rule_compile(&ce, rrule, "--rrule", err);
	if (rc != MC_OK)
		goto fail;
	mc__occ_init(&g, &ce, ce.start_ms);
	for (size_t n = 0; n < limit && mc__occ_next(&g, &s); n++) {
		char buf[32];

		format_like(&dt, ce.zone, s, buf, sizeof(buf));
		if (!cb(s, buf, ud))
			break;
	}
	rc = MC_OK;
fail:
	mc__occ_done(&g);
	free(ce.fixed);
	return rc;
}
