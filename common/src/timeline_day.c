/*
 * minecast — one day of a schedule per channel (timeline_day.h).
 *
 * The walk asks mc_sched_now() at the start of the day, jumps to the
 * result's segment_end_ms (the next change of the candidates, item ends
 * left out), and merges consecutive answers with the same winners, so a
 * looping playlist is one segment however many times it cycles.
 */
#include <stdlib.h>
#include <string.h>

#include "minecast/timeline_day.h"
#include "minecast/util.h"

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
	                            31, 31, 30, 31, 30, 31};

	return mdays[m - 1] + (m == 2 && leap(y));
}

bool mc_day_parse_date(const char *s, int *year, int *month, int *day)
{
	int y = 0, mo = 0, d = 0;

	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = atoi(s);
	mo = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1900 || y > 2198 || mo < 1 || mo > 12 || d < 1 ||
	    d > month_days(y, mo))
		return false;
	*year = y;
	*month = mo;
	*day = d;
	return true;
}

static bool latest_start(int64_t s, int64_t e, void *ud)
{
	int64_t *at = ud;

	(void)e;
	if (s <= at[0])
		at[1] = s;
	return true;
}

/*
 * The start of entry's occurrence in effect at t, whose date templates
 * read ({date}, {years}); for a standing entry, t itself (rule 9).
 */
static int64_t occ_start_at(const struct mc_manifest *m,
                            const struct mc_sched *s, size_t entry, int64_t t)
{
	int64_t at[2] = {t, t};

	if (!m->entries[entry].dtstart)
		return t;
	mc_sched_occurrences(s, entry, t, t + 1, latest_start, at);
	return at[1];
}

static enum mc_err add_item(const struct mc_sched *s, struct mc_day_seg *g,
                            size_t cap, size_t entry, const struct mc_item *it,
                            const struct mc_content *c, int64_t at_ms,
                            int64_t date_ms)
{
	struct mc_day_item *di;

	if (g->n_items >= cap)
		return MC_ERR_INVAL;
	di = &g->items[g->n_items];
	memset(di, 0, sizeof(*di));
	di->entry = entry;
	di->item = it;
	di->content = c;
	di->content_id = it ? it->content_id : c ? c->id : NULL;
	di->at_ms = at_ms;
	di->duration_ms = it ? it->duration_ms : 0;
	if (mc_sched_text(s, entry, c, date_ms, &di->text) != MC_OK)
		return MC_ERR_NOMEM;
	g->n_items++;
	return MC_OK;
}

/* The items a finished segment shows, as the engine plays them. */
static enum mc_err seg_items(const struct mc_manifest *m,
                             const struct mc_sched *s, struct mc_day_seg *g)
{
	size_t cap = 0, n = g->n_group, maxn = 0;
	enum mc_err rc = MC_OK;

	if (g->kind == MC_NOW_IDLE)
		return MC_OK;
	if (g->kind == MC_NOW_FALLBACK) {
		g->items = calloc(1, sizeof(*g->items));
		if (!g->items)
			return MC_ERR_NOMEM;
		return add_item(s, g, 1, SIZE_MAX, NULL, g->content, -1,
		                g->from_ms);
	}
	if (g->once) {
		const struct mc_entry *e = &m->entries[g->group[0]];
		int64_t at = g->occ_start_ms;

		cap = e->playlist ? e->playlist->n_items : 0;
		g->items = calloc(cap ? cap : 1, sizeof(*g->items));
		if (!g->items)
			return MC_ERR_NOMEM;
		for (size_t k = 0; k < cap && rc == MC_OK; k++) {
			const struct mc_item *it = &e->playlist->items[k];

			rc = add_item(s, g, cap, g->group[0], it, it->content,
			              at, g->occ_start_ms);
			at += it->duration_ms;
		}
		return rc;
	}
	/* The interleaved sequence: item k of each entry in turn. */
	for (size_t j = 0; j < n; j++) {
		const struct mc_playlist *pl = m->entries[g->group[j]].playlist;

		if (pl && pl->n_items > maxn)
			maxn = pl->n_items;
	}
	cap = maxn * n;
	g->items = calloc(cap ? cap : 1, sizeof(*g->items));
	if (!g->items)
		return MC_ERR_NOMEM;
	for (size_t k = 0; k < cap && rc == MC_OK; k++) {
		size_t ei = g->group[k % n];
		const struct mc_playlist *pl = m->entries[ei].playlist;
		const struct mc_item *it;

		if (!pl || pl->n_items == 0)
			continue;
		it = &pl->items[(k / n) % pl->n_items];
		rc = add_item(s, g, cap, ei, it, it->content, -1,
		              occ_start_at(m, s, ei, g->from_ms));
	}
	return rc;
}

/* Same winners as the open segment (merge into it)? */
static bool seg_same(const struct mc_day_seg *a, const struct mc_now *now,
                     bool once)
{
	if (a->kind != now->kind || a->reason != now->reason)
		return false;
	if (a->kind != MC_NOW_SCHEDULED)
		return a->content == now->content;
	if (a->n_group != now->n_group || a->once || once)
		return false;
	return memcmp(a->group, now->group,
	              now->n_group * sizeof(*now->group)) == 0;
}

static enum mc_err walk_channel(const struct mc_manifest *m,
                                const struct mc_sched *s, struct mc_day *day,
                                enum mc_channel ch, const struct mc_who *who,
                                const struct mc_sched_opts *opts)
{
	struct mc_day_channel *dc = &day->ch[ch];
	size_t cap = 0;
	int64_t t = day->from_ms;
	enum mc_err rc = MC_OK;

	while (t < day->to_ms) {
		struct mc_now now;
		struct mc_day_seg *cur =
		        dc->n_segs ? &dc->segs[dc->n_segs - 1] : NULL;
		int64_t to;
		bool once;

		rc = mc_sched_now(s, who, ch, t, opts, &now);
		if (rc != MC_OK)
			return rc;
		once = now.kind == MC_NOW_SCHEDULED && now.n_group == 1 &&
		       now.entry->mode == MC_MODE_ONCE;
		to = now.segment_end_ms < day->to_ms ? now.segment_end_ms
		                                     : day->to_ms;
		if (to <= t)
			to = t + 1;
		if (cur && seg_same(cur, &now, once)) {
			cur->to_ms = to;
		} else {
			if (cur) {
				rc = seg_items(m, s, cur);
				if (rc != MC_OK) {
					mc_now_clear(&now);
					return rc;
				}
			}
			if (dc->n_segs == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct mc_day_seg *ns =
				        realloc(dc->segs, nc * sizeof(*ns));

				if (!ns) {
					mc_now_clear(&now);
					return MC_ERR_NOMEM;
				}
				dc->segs = ns;
				cap = nc;
			}
			cur = &dc->segs[dc->n_segs++];
			memset(cur, 0, sizeof(*cur));
			cur->from_ms = t;
			cur->to_ms = to;
			cur->kind = now.kind;
			cur->reason = now.reason;
			cur->content = now.content;
			cur->once = once;
			cur->occ_start_ms = now.occ_start_ms;
			cur->anchor_ms = now.anchor_ms;
			cur->n_group = now.n_group;
			cur->group = now.group; /* take ownership */
			now.group = NULL;
		}
		mc_now_clear(&now);
		t = to;
	}
	if (dc->n_segs)
		rc = seg_items(m, s, &dc->segs[dc->n_segs - 1]);
	return rc;
}

enum mc_err mc_day_build(const struct mc_manifest *m, const struct mc_sched *s,
                         int year, int month, int day, const struct mc_who *who,
                         const struct mc_sched_opts *opts, struct mc_day *out)
{
	int ny = year, nm = month, nd = day + 1;
	enum mc_err rc;

	memset(out, 0, sizeof(*out));
	if (month < 1 || month > 12 || day < 1 || day > month_days(year, month))
		return MC_ERR_RANGE;
	out->year = year;
	out->month = month;
	out->day = day;
	if (nd > month_days(year, month)) {
		nd = 1;
		if (++nm > 12) {
			nm = 1;
			ny++;
		}
	}
	rc = mc_sched_local_midnight(s, year, month, day, &out->from_ms);
	if (rc == MC_OK)
		rc = mc_sched_local_midnight(s, ny, nm, nd, &out->to_ms);
	for (int ch = 0; rc == MC_OK && ch < MC_CH_COUNT; ch++)
		rc = walk_channel(m, s, out, (enum mc_channel)ch, who, opts);
	return rc;
}

void mc_day_clear(struct mc_day *day)
{
	if (!day)
		return;
	for (int ch = 0; ch < MC_CH_COUNT; ch++) {
		struct mc_day_channel *dc = &day->ch[ch];

		for (size_t i = 0; i < dc->n_segs; i++) {
			struct mc_day_seg *g = &dc->segs[i];

			for (size_t k = 0; k < g->n_items; k++)
				free(g->items[k].text);
			free(g->items);
			free(g->group);
		}
		free(dc->segs);
	}
	memset(day, 0, sizeof(*day));
}
