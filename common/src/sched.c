/*
 * minecast — the schedule engine: compiling entries and answering "what
 * plays now, and when does that change".  docs/schedule.md is the
 * specification; the rule numbers in comments refer to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/sched.h"
#include "minecast/template.h"
#include "minecast/util.h"
#include "sched_internal.h"

/* Slack for DST changes in look-back windows (rule 8 needs exactness,
 * the window only needs to be wide enough). */
#define DST_SLACK_MS (3 * 3600 * 1000LL)

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Parse a list of date-times into a sorted array of unique instants. */
static enum mc_err dt_list(char *const *v, size_t n, icaltimezone *zone,
                           const char *path, int64_t **out, size_t *n_out,
                           struct mc_error *err)
{
	int64_t *a = NULL;
	size_t k = 0;

	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return MC_OK;
	a = calloc(n, sizeof(*a));
	if (!a)
		return mc_error_set(err, MC_ERR_NOMEM, "%s: %s", path,
		                    mc_strerror(MC_ERR_NOMEM));
	for (size_t i = 0; i < n; i++) {
		struct mc__dt dt;

		if (!mc__dt_parse(v[i], &dt)) {
			free(a);
			return mc_error_set(err, MC_ERR_PARSE,
			                    "%s[%zu]: '%s' is not an RFC 5545 "
			                    "DATE or DATE-TIME",
			                    path, i, v[i]);
		}
		a[i] = mc__dt_to_ms(&dt, zone);
	}
	qsort(a, n, sizeof(*a), cmp_i64);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || a[k - 1] != a[i])
			a[k++] = a[i];
	*out = a;
	*n_out = k;
	return MC_OK;
}

static enum mc_err compile_entry(struct mc_sched *s, size_t i,
                                 struct mc_error *err)
{
	const struct mc_entry *e = &s->m->entries[i];
	struct mc__centry *ce = &s->entries[i];
	const char *tz = e->tzid;
	struct mc__dt dt;
	char path[48];
	enum mc_err rc;

	snprintf(path, sizeof(path), "entries[%zu]", i);
	ce->e = e;
	ce->zone = tz ? mc__zone(tz) : s->zone;
	if (!ce->zone)
		return mc_error_set(err, MC_ERR_TZ,
		                    "%s.tzid: unknown time zone '%s' (entry "
		                    "'%s')",
		                    path, tz, e->id ? e->id : "");
	ce->rzone = ce->zone;
	if (e->playlist)
		for (size_t k = 0; k < e->playlist->n_items; k++)
			ce->playlist_ms += e->playlist->items[k].duration_ms;
	if (!e->dtstart) {
		/* Rule 2: standing entries are on at every instant. */
		if (e->rrule || e->dtend || e->duration || e->n_rdates ||
		    e->n_exdates)
			return mc_error_set(err, MC_ERR_MISSING,
			                    "%s.dtstart: required with rrule, "
			                    "rdate, exdate, dtend or duration "
			                    "(entry '%s')",
			                    path, e->id);
		ce->standing = true;
		ce->lookback_ms = 0;
		return MC_OK;
	}
	if (!mc__dt_parse(e->dtstart, &dt))
		return mc_error_set(err, MC_ERR_PARSE,
		                    "%s.dtstart: '%s' is not an RFC 5545 DATE "
		                    "or DATE-TIME (years 1900..2199)",
		                    path, e->dtstart);
	if (dt.utc)
		ce->rzone = icaltimezone_get_utc_timezone();
	ce->start = dt.local;
	ce->is_date = dt.is_date;
	ce->start_ms = mc__dt_to_ms(&dt, ce->zone);
	if (e->dtend && e->duration)
		return mc_error_set(err, MC_ERR_PARSE,
		                    "%s.duration: dtend and duration are "
		                    "exclusive",
		                    path);
	if (e->dtend) {
		struct mc__dt end;

		if (!mc__dt_parse(e->dtend, &end))
			return mc_error_set(err, MC_ERR_PARSE,
			                    "%s.dtend: '%s' is not an RFC 5545 "
			                    "DATE or DATE-TIME",
			                    path, e->dtend);
		ce->end_kind = MC__END_EXACT;
		ce->exact_ms = mc__dt_to_ms(&end, ce->zone) - ce->start_ms;
		if (ce->exact_ms <= 0)
			return mc_error_set(err, MC_ERR_RANGE,
			                    "%s.dtend: must be after dtstart",
			                    path);
		ce->lookback_ms = ce->exact_ms;
	} else if (e->duration) {
		ce->dur = icaldurationtype_from_string(e->duration);
		if (icaldurationtype_is_bad_duration(ce->dur) ||
		    ce->dur.is_neg || icaldurationtype_as_int(ce->dur) <= 0)
			return mc_error_set(
			        err, MC_ERR_PARSE,
			        "%s.duration: '%s' is not a positive "
			        "RFC 5545 duration (PT8H, P1D)",
			        path, e->duration);
		ce->end_kind = MC__END_NOMINAL;
		ce->lookback_ms =
		        (int64_t)icaldurationtype_as_int(ce->dur) * 1000 +
		        DST_SLACK_MS;
	} else if (e->mode == MC_MODE_LOOP) {
		ce->end_kind = MC__END_DAY;
		ce->lookback_ms = 24 * 3600 * 1000LL + DST_SLACK_MS;
	} else {
		ce->end_kind = MC__END_PLAYLIST;
		ce->lookback_ms = ce->playlist_ms;
	}
	if (e->mode == MC_MODE_ONCE && ce->end_kind != MC__END_PLAYLIST) {
		ce->once_clip = true;
		if (ce->playlist_ms < ce->lookback_ms)
			ce->lookback_ms = ce->playlist_ms;
	}
	if (e->rrule) {
		char rpath[64];

		snprintf(rpath, sizeof(rpath), "%s.rrule", path);
		rc = mc__rule_compile(ce, e->rrule, rpath, err);
		if (rc != MC_OK)
			return rc;
	} else {
		ce->fixed = malloc(sizeof(int64_t));
		if (!ce->fixed)
			return mc_error_set(err, MC_ERR_NOMEM, "%s: %s", path,
			                    mc_strerror(MC_ERR_NOMEM));
		ce->fixed[0] = ce->start_ms;
		ce->n_fixed = 1;
		ce->use_fixed = true;
	}
	snprintf(path, sizeof(path), "entries[%zu].rdate", i);
	rc = dt_list(e->rdates, e->n_rdates, ce->rzone, path, &ce->rdates,
	             &ce->n_rdates, err);
	if (rc != MC_OK)
		return rc;
	snprintf(path, sizeof(path), "entries[%zu].exdate", i);
	return dt_list(e->exdates, e->n_exdates, ce->rzone, path, &ce->exdates,
	               &ce->n_exdates, err);
}

struct mc_sched *mc_sched_new(const struct mc_manifest *m, struct mc_error *err)
{
	struct mc_sched *s = NULL;
	const char *tz;

	if (!m) {
		mc_error_set(err, MC_ERR_INVAL, "manifest: NULL");
		goto fail;
	}
	/* libical's default is to abort() on some errors; we report them. */
	icalerror_set_errors_are_fatal(0);
	s = calloc(1, sizeof(*s));
	if (!s) {
		mc_error_set(err, MC_ERR_NOMEM, "sched: %s",
		             mc_strerror(MC_ERR_NOMEM));
		goto fail;
	}
	s->m = m;
	tz = m->timezone ? m->timezone : MC_SCHED_DEFAULT_TZ;
	s->zone = mc__zone(tz);
	if (!s->zone) {
		mc_error_set(err, MC_ERR_TZ, "timezone: unknown time zone '%s'",
		             tz);
		goto fail;
	}
	s->entries =
	        calloc(m->n_entries ? m->n_entries : 1, sizeof(*s->entries));
	if (!s->entries) {
		mc_error_set(err, MC_ERR_NOMEM, "sched: %s",
		             mc_strerror(MC_ERR_NOMEM));
		goto fail;
	}
	s->n_entries = m->n_entries;
	for (size_t i = 0; i < m->n_entries; i++)
		if (compile_entry(s, i, err) != MC_OK)
			goto fail;
	return s;
fail:
	mc_sched_free(s);
	return NULL;
}

void mc_sched_free(struct mc_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->entries && i < s->n_entries; i++) {
		free(s->entries[i].fixed);
		free(s->entries[i].rdates);
		free(s->entries[i].exdates);
	}
	free(s->entries);
	free(s);
}

void mc_now_clear(struct mc_now *now)
{
	if (!now)
		return;
	free(now->group);
	free(now->text);
	memset(now, 0, sizeof(*now));
}

/*
 * The occurrence of ce in effect at t (the latest-starting one that
 * contains t) and the first start after t.
 */
static bool entry_at(const struct mc__centry *ce, int64_t t, int64_t *os,
                     int64_t *oe, int64_t *next_start)
{
	struct mc__occ_gen g;
	int64_t s;
	bool in = false;

	*next_start = MC_SCHED_NEVER;
	mc__occ_init(&g, ce,
	             t > INT64_MIN + ce->lookback_ms ? t - ce->lookback_ms
	                                             : INT64_MIN);
	while (mc__occ_next(&g, &s)) {
		int64_t e;

		if (s > t) {
			*next_start = s;
			break;
		}
		e = mc__occ_end(ce, s);
		if (e > t) {
			in = true;
			*os = s;
			*oe = e;
		}
	}
	mc__occ_done(&g);
	return in;
}

/* An entry that could play at t (rule 3). */
struct cand {
	size_t idx;    /* index into the entries */
	int64_t s, e;  /* its occurrence [s, e) */
	size_t *ready; /* indices of its ready items (rule 6) */
	size_t n_ready;
	int64_t ready_ms; /* their total length */
};

static int64_t item_ms(const struct mc_item *it)
{
	/* The codec guarantees >= 1 s; stay safe on hand-built models. */
	return it->duration_ms > 0 ? it->duration_ms : 1;
}

/* The item at position k of the group's interleaved sequence (rule 4). */
static const struct mc_item *seq_item(const struct mc_sched *s,
                                      struct cand *const *grp, size_t n,
                                      size_t k, size_t *entry, size_t *index)
{
	const struct cand *c = grp[k % n];
	size_t r = (k / n) % c->n_ready;

	*entry = c->idx;
	*index = c->ready[r];
	return &s->entries[c->idx].e->playlist->items[c->ready[r]];
}

static bool pick_item(const struct mc_sched *s, struct cand *const *grp,
                      size_t n, int64_t t, struct mc_now *out)
{
	const struct mc__centry *first = &s->entries[grp[0]->idx];
	size_t maxn = 0, len, k, ei = 0, ii = 0;
	int64_t anchor = grp[0]->s, cycle = 0, off, acc = 0;
	const struct mc_item *it = NULL;
	bool once = n == 1 && first->e->mode == MC_MODE_ONCE;

	for (size_t j = 0; j < n; j++) {
		if (grp[j]->n_ready > maxn)
			maxn = grp[j]->n_ready;
		if (grp[j]->s > anchor)
			anchor = grp[j]->s;
	}
	len = maxn * n;
	for (k = 0; k < len; k++)
		cycle += item_ms(seq_item(s, grp, n, k, &ei, &ii));
	/* Rule 5: loops are clocked from the anchor, like a broadcast. */
	off = once ? t - anchor : mc__floor_mod(t - anchor, cycle);
	for (k = 0; k < len; k++) {
		it = seq_item(s, grp, n, k, &ei, &ii);
		if (off < acc + item_ms(it))
			break;
		acc += item_ms(it);
	}
	if (k == len)
		return false; /* once, past the end: cannot happen here */
	out->entry_index = ei;
	out->entry = s->entries[ei].e;
	out->item = it;
	out->item_index = ii;
	out->content = it->content;
	out->seq_index = k;
	out->seq_len = len;
	out->item_start_ms = t - (off - acc);
	out->item_end_ms = out->item_start_ms + item_ms(it);
	out->anchor_ms = anchor;
	for (size_t j = 0; j < n; j++)
		if (grp[j]->idx == ei) {
			out->occ_start_ms = grp[j]->s;
			out->occ_end_ms = grp[j]->e;
		}
	return true;
}

/* Fill c->ready with the items the node can play (rule 6). */
static enum mc_err ready_items(const struct mc_entry *e,
                               const struct mc_sched_opts *o, struct cand *c)
{
	const struct mc_playlist *p = e->playlist;

	c->n_ready = 0;
	c->ready_ms = 0;
	if (!p || p->n_items == 0)
		return MC_OK;
	c->ready = malloc(p->n_items * sizeof(*c->ready));
	if (!c->ready)
		return MC_ERR_NOMEM;
	for (size_t k = 0; k < p->n_items; k++) {
		const struct mc_item *it = &p->items[k];

		if (!it->content)
			continue;
		if (o && o->ready && !o->ready(it->content, o->ready_ud))
			continue;
		c->ready[c->n_ready++] = k;
		c->ready_ms += item_ms(it);
	}
	return MC_OK;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

enum mc_err mc_sched_now(const struct mc_sched *s, const struct mc_who *who,
                         enum mc_channel ch, int64_t t,
                         const struct mc_sched_opts *opts, struct mc_now *out)
{
	struct cand *c = NULL, **grp = NULL;
	size_t nc = 0, ng = 0, best = SIZE_MAX;
	bool synced = opts ? opts->clock_synced : true;
	bool dated = false;
	int64_t seg = MC_SCHED_NEVER;
	enum mc_err rc = MC_OK;

	if (!s || !out)
		return MC_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	out->entry_index = SIZE_MAX;
	out->next_change_ms = MC_SCHED_NEVER;
	out->segment_end_ms = MC_SCHED_NEVER;
	if ((int)ch < 0 || ch >= MC_CH_COUNT)
		return MC_ERR_INVAL;
	c = calloc(s->n_entries ? s->n_entries : 1, sizeof(*c));
	grp = calloc(s->n_entries ? s->n_entries : 1, sizeof(*grp));
	if (!c || !grp) {
		rc = MC_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < s->n_entries; i++) {
		const struct mc__centry *ce = &s->entries[i];
		const struct mc_entry *e = ce->e;
		struct cand *k = &c[nc];
		int64_t os = 0, oe = MC_SCHED_NEVER, ns;

		if (e->channel != ch ||
		    (who && !mc_targets_match(&e->targets, who)))
			continue;
		if (!ce->standing) {
			dated = true;
			if (!synced)
				continue; /* rule 3: dated items wait */
			/* Rule 8: every start and end is a change point. */
			if (!entry_at(ce, t, &os, &oe, &ns)) {
				seg = min64(seg, ns);
				continue;
			}
			seg = min64(seg, min64(ns, oe));
			if (opts && opts->skip &&
			    opts->skip(e, os, opts->skip_ud))
				continue; /* already played (a clock step) */
		}
		k->idx = i;
		k->s = os;
		k->e = oe;
		if (ready_items(e, opts, k) != MC_OK) {
			rc = MC_ERR_NOMEM;
			goto fail;
		}
		if (k->n_ready == 0) {
			MC_FREE(k->ready);
			continue;
		}
		if (e->mode == MC_MODE_ONCE) {
			/* Once: nothing after the (ready) playlist ends. */
			int64_t end = os > MC_SCHED_NEVER - k->ready_ms
			                      ? MC_SCHED_NEVER
			                      : os + k->ready_ms;

			if (t >= end) {
				MC_FREE(k->ready);
				continue;
			}
			if (end < oe)
				seg = min64(seg, end);
		}
		nc++;
	}
	/* Rule 4: the best interrupt alone, else the top fill priority. */
	for (size_t j = 0; j < nc; j++) {
		const struct mc_entry *e = s->entries[c[j].idx].e;

		if (e->layer != MC_LAYER_INTERRUPT)
			continue;
		if (best == SIZE_MAX ||
		    e->priority > s->entries[c[best].idx].e->priority ||
		    (e->priority == s->entries[c[best].idx].e->priority &&
		     c[j].s > c[best].s))
			best = j;
	}
	if (best != SIZE_MAX) {
		grp[ng++] = &c[best];
	} else {
		int top = -1;

		for (size_t j = 0; j < nc; j++)
			if (s->entries[c[j].idx].e->priority > top)
				top = s->entries[c[j].idx].e->priority;
		for (size_t j = 0; j < nc; j++)
			if (s->entries[c[j].idx].e->priority == top)
				grp[ng++] = &c[j];
	}
	out->segment_end_ms = seg;
	out->next_change_ms = seg;
	if (ng > 0 && pick_item(s, grp, ng, t, out)) {
		const struct mc__centry *ce = &s->entries[out->entry_index];

		out->kind = MC_NOW_SCHEDULED;
		out->reason = MC_REASON_NONE;
		out->next_change_ms = min64(seg, out->item_end_ms);
		out->group = malloc(ng * sizeof(*out->group));
		if (!out->group) {
			rc = MC_ERR_NOMEM;
			goto fail;
		}
		for (size_t j = 0; j < ng; j++)
			out->group[j] = grp[j]->idx;
		out->n_group = ng;
		rc = mc_sched_text(s, out->entry_index, out->content,
		                   ce->standing ? t : out->occ_start_ms,
		                   &out->text);
		if (rc != MC_OK)
			goto fail;
	} else {
		/* Rule 7: fallback content, or idle, with a reason. */
		const struct mc_content *fb = s->m->fallback[ch];

		out->reason =
		        dated && !synced ? MC_REASON_CLOCK : MC_REASON_IDLE;
		if (fb && (!opts || !opts->ready ||
		           opts->ready(fb, opts->ready_ud))) {
			out->kind = MC_NOW_FALLBACK;
			out->content = fb;
			rc = mc_sched_text(s, SIZE_MAX, fb, t, &out->text);
			if (rc != MC_OK)
				goto fail;
		} else {
			out->kind = MC_NOW_IDLE;
		}
	}
	rc = MC_OK;
fail:
	if (rc != MC_OK)
		mc_now_clear(out);
	for (size_t j = 0; c && j < nc; j++)
		free(c[j].ready);
	free(c);
	free(grp);
	return rc;
}

enum mc_err mc_sched_occurrences(
        const struct mc_sched *s, size_t entry, int64_t from_ms, int64_t to_ms,
        bool (*cb)(int64_t start_ms, int64_t end_ms, void *ud), void *ud)
{
	const struct mc__centry *ce;
	struct mc__occ_gen g;
	int64_t st;

	if (!s || entry >= s->n_entries || !cb)
		return MC_ERR_INVAL;
	ce = &s->entries[entry];
	if (ce->standing) {
		if (from_ms < MC_SCHED_NEVER && to_ms > 0)
			cb(0, MC_SCHED_NEVER, ud);
		return MC_OK;
	}
	mc__occ_init(&g, ce,
	             from_ms > INT64_MIN + ce->lookback_ms
	                     ? from_ms - ce->lookback_ms
	                     : INT64_MIN);
	while (mc__occ_next(&g, &st) && st < to_ms) {
		int64_t e = mc__occ_end(ce, st);

		if (e > from_ms && !cb(st, e, ud))
			break;
	}
	mc__occ_done(&g);
	return MC_OK;
}

void mc_sched_local(const struct mc_sched *s, size_t entry, int64_t t_ms,
                    int *year, int *month, int *day, int *hour, int *minute,
                    int *second)
{
	icaltimezone *z =
	        entry < s->n_entries ? s->entries[entry].zone : s->zone;
	struct icaltimetype l = mc__ms_to_local(z, t_ms);

	if (year)
		*year = l.year;
	if (month)
		*month = l.month;
	if (day)
		*day = l.day;
	if (hour)
		*hour = l.hour;
	if (minute)
		*minute = l.minute;
	if (second)
		*second = l.second;
}

enum mc_err mc_sched_local_midnight(const struct mc_sched *s, int year,
                                    int month, int day, int64_t *out_ms)
{
	struct icaltimetype l = icaltime_null_time();

	if (year < 1900 || year > 2199 || month < 1 || month > 12 || day < 1 ||
	    day > icaltime_days_in_month(month, year))
		return MC_ERR_RANGE;
	l.year = year;
	l.month = month;
	l.day = day;
	*out_ms = mc__local_to_ms(s->zone, l);
	return MC_OK;
}

enum mc_err mc_sched_text(const struct mc_sched *s, size_t entry,
                          const struct mc_content *content, int64_t date_ms,
                          char **out)
{
	struct mc_template_ctx ctx = {0};

	*out = NULL;
	if (!content || !content->text)
		return MC_OK;
	if (entry < s->n_entries)
		ctx.founded = s->entries[entry].e->founded;
	mc_sched_local(s, entry, date_ms, &ctx.year, &ctx.month, &ctx.day, NULL,
	               NULL, NULL);
	*out = mc_template_resolve(content->text, &ctx);
	return *out ? MC_OK : MC_ERR_NOMEM;
}
