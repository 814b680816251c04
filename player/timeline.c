/* minecast-player — the timeline: schedule answers turned into playback. */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "timeline.h"

/* An item counts as completed if it stops this close to its end. */
#define END_SLACK_MS 100

/* Files that would not play are skipped this long, then tried again
 * (a resync may have replaced a damaged file). */
#define TIMELINE_FAILED_MS  (10 * 60 * 1000)
#define TIMELINE_FAILED_MAX 32

/* A content whose output refused to start it. */
struct failed {
	char id[65];     /* content id */
	char sha256[65]; /* its file, "" for text */
	int64_t until;   /* monotonic ms: skipped until then */
};

/* A late at-time play: an occurrence a forward clock step jumped over. */
struct late {
	bool on;
	const struct mc_manifest *m; /* whose entry (applied or pending) */
	const struct mc_sched *s;
	size_t entry;    /* index into m->entries */
	int64_t occ_ms;  /* the occurrence it stands for */
	int64_t base_ms; /* when the late play began */
};

/* What one channel plays now. */
struct chan {
	bool on;               /* something was started on the output */
	enum mc_now_kind kind; /* scheduled, fallback or idle */
	char *entry;           /* entry id, NULL for fallback/idle */
	char *content;         /* content id, NULL when idle */
	char *text;            /* resolved text, NULL if none */
	const char *reason;    /* "scheduled", "fallback", "clock", "idle" */
	int64_t item_start;    /* scheduled start of the item */
	int64_t item_end;      /* scheduled end of the item */
	int64_t occ_start;     /* occurrence it belongs to */
	char pop_id[96];       /* its proof-of-play record, "" if none */
	struct late late;      /* a late at-time play in progress */
	char prepared[96];     /* "content@item_start" of the item handed to
	                        * the output's prepare, "" if none */
};

struct mc_timeline {
	struct mc_timeline_deps d;
	struct mc_manifest *applied_m; /* last-known-good, all verified */
	struct mc_sched *applied_s;
	struct mc_manifest *pending_m; /* syncing; takes effect item by item */
	struct mc_sched *pending_s;
	struct chan ch[MC_CH_COUNT];
	struct mc_who who;  /* this node, for targets */
	char *alert;        /* id of the alert holding the channels, or
	                     * NULL */
	int64_t alert_from; /* when it takes them */
	struct failed failed[TIMELINE_FAILED_MAX]; /* files that would not
	                                            * play, skipped a while */
	size_t n_failed;
	int64_t last_wall; /* previous tick's wall clock, 0 = none */
	int64_t last_mono; /* and its monotonic clock */
};

/* What a channel should play, as decided by one evaluation. */
struct want {
	enum mc_now_kind kind;
	const struct mc_manifest *m; /* where entry and content live */
	const struct mc_sched *s;
	const struct mc_entry *entry; /* NULL for fallback and idle */
	size_t entry_index;
	const struct mc_content *content;
	const struct mc_item *item;
	int64_t item_start, item_end, occ_start;
	int64_t next_change;
	char *text; /* owned */
	const char *reason;
	bool late; /* from a late at-time play */
};

/* ---- readiness: an item plays only when its files are verified ---- */

struct ready_ud {
	const struct mc_manifest *m;
	struct mc_cache *cache;
	const struct mc_timeline *tl; /* its list of failed files */
};

static bool asset_ready(struct mc_cache *cache, const struct mc_content *c)
{
	return !c->has_asset ||
	       mc_cache_has(cache, c->asset.sha256, c->asset.size);
}

static bool failed_recently(const struct mc_timeline *tl,
                            const struct mc_content *c)
{
	int64_t mono = mc_mono_ms();

	for (size_t i = 0; tl && i < tl->n_failed; i++)
		if (tl->failed[i].until > mono &&
		    strcmp(tl->failed[i].id, c->id) == 0 &&
		    strcmp(tl->failed[i].sha256,
		           c->has_asset ? c->asset.sha256 : "") == 0)
			return true;
	return false;
}

static bool content_ready(const struct mc_content *c, void *ud)
{
	const struct ready_ud *r = ud;
	const struct mc_content *bg;

	if (failed_recently(r->tl, c))
		return false;
	if (!asset_ready(r->cache, c))
		return false;
	/* A slogan drawn on a pano needs the pano too. */
	if (c->type == MC_CONTENT_SLOGAN && c->style.bg_image) {
		bg = mc_manifest_content(r->m, c->style.bg_image);
		if (bg && !asset_ready(r->cache, bg))
			return false;
	}
	return true;
}

/* ---- at-time items already played ---- */

struct skip_ud {
	struct mc_timeline *tl;
	enum mc_channel ch;
};

static bool skip_fired(const struct mc_entry *e, int64_t occ_ms, void *ud)
{
	const struct skip_ud *k = ud;
	const struct chan *c = &k->tl->ch[k->ch];

	if (e->mode != MC_MODE_ONCE)
		return false;
	/* The occurrence playing now is not skipped: it is being played. */
	if (c->on && c->entry && c->occ_start == occ_ms &&
	    strcmp(c->entry, e->id) == 0)
		return false;
	return mc_state_fired(k->tl->d.state, e->id, occ_ms);
}

/* ---- evaluation ---- */

static void want_clear(struct want *w)
{
	free(w->text);
	memset(w, 0, sizeof(*w));
}

static void want_from_now(struct want *w, const struct mc_manifest *m,
                          const struct mc_sched *s, struct mc_now *n)
{
	w->kind = n->kind;
	w->m = m;
	w->s = s;
	w->entry = n->entry;
	w->entry_index = n->entry_index;
	w->content = n->content;
	w->item = n->item;
	w->item_start = n->item_start_ms;
	w->item_end = n->item_end_ms;
	w->occ_start = n->occ_start_ms;
	w->next_change = n->next_change_ms;
	w->text = n->text;
	n->text = NULL;
	w->reason = n->kind == MC_NOW_SCHEDULED    ? "scheduled"
	            : n->reason == MC_REASON_CLOCK ? "clock"
	            : n->kind == MC_NOW_FALLBACK   ? "fallback"
	                                           : "idle";
}

static bool eval_one(struct mc_timeline *tl, const struct mc_manifest *m,
                     const struct mc_sched *s, enum mc_channel ch, int64_t now,
                     bool synced, struct mc_now *n)
{
	struct ready_ud r = {m, tl->d.cache, tl};
	struct skip_ud k = {tl, ch};
	struct mc_sched_opts o = {
	        .clock_synced = synced,
	        .ready = content_ready,
	        .ready_ud = &r,
	        .skip = skip_fired,
	        .skip_ud = &k,
	};

	memset(n, 0, sizeof(*n));
	if (!m || !s)
		return false;
	if (mc_sched_now(s, &tl->who, ch, now, &o, n) != MC_OK) {
		mc_log_error("timeline",
		             "%s: evaluation failed (out of memory)",
		             mc_channel_name(ch));
		return false;
	}
	return true;
}

/*
 * The pending manifest's scheduled item if it is ready, else the applied
 * manifest's; for fallback, the pending manifest's when it is ready.
 */
static void eval_channel(struct mc_timeline *tl, enum mc_channel ch,
                         int64_t now, bool synced, struct want *w)
{
	struct mc_now np, na;
	bool hp, ha;

	memset(w, 0, sizeof(*w));
	hp = eval_one(tl, tl->pending_m, tl->pending_s, ch, now, synced, &np);
	ha = eval_one(tl, tl->applied_m, tl->applied_s, ch, now, synced, &na);
	if (hp && np.kind == MC_NOW_SCHEDULED)
		want_from_now(w, tl->pending_m, tl->pending_s, &np);
	else if (ha && na.kind == MC_NOW_SCHEDULED)
		want_from_now(w, tl->applied_m, tl->applied_s, &na);
	else if (hp && np.kind == MC_NOW_FALLBACK)
		want_from_now(w, tl->pending_m, tl->pending_s, &np);
	else if (ha)
		want_from_now(w, tl->applied_m, tl->applied_s, &na);
	else if (hp)
		want_from_now(w, tl->pending_m, tl->pending_s, &np);
	else {
		w->kind = MC_NOW_IDLE;
		w->reason = "no manifest";
		w->next_change = MC_SCHED_NEVER;
	}
	if (hp && ha && np.next_change_ms < w->next_change)
		w->next_change = np.next_change_ms;
	if (hp && ha && na.next_change_ms < w->next_change)
		w->next_change = na.next_change_ms;
	mc_now_clear(&np);
	mc_now_clear(&na);
}

static int64_t item_len(const struct mc_item *it)
{
	return it->duration_ms > 0 ? it->duration_ms : 1000;
}

/* The item a late at-time play shows at now; false when it is over. */
static bool eval_late(struct mc_timeline *tl, struct late *l, int64_t now,
                      struct want *w)
{
	const struct mc_entry *e = &l->m->entries[l->entry];
	struct ready_ud r = {l->m, tl->d.cache, tl};
	int64_t at = l->base_ms;

	memset(w, 0, sizeof(*w));
	for (size_t i = 0; i < e->playlist->n_items; i++) {
		const struct mc_item *it = &e->playlist->items[i];

		if (!content_ready(it->content, &r))
			continue;
		if (now < at + item_len(it)) {
			w->kind = MC_NOW_SCHEDULED;
			w->m = l->m;
			w->s = l->s;
			w->entry = e;
			w->entry_index = l->entry;
			w->content = it->content;
			w->item = it;
			w->item_start = at;
			w->item_end = at + item_len(it);
			w->occ_start = l->occ_ms;
			w->next_change = w->item_end;
			w->reason = "late";
			w->late = true;
			mc_sched_text(l->s, l->entry, it->content, l->occ_ms,
			              &w->text);
			return true;
		}
		at += item_len(it);
	}
	return false;
}

/* ---- clock steps ---- */

struct occ_pick {
	int64_t after, upto; /* (after, upto] */
	int64_t best;        /* latest start in range, or INT64_MIN */
	int64_t missed;      /* how many others in range */
};

static bool pick_occ(int64_t start, int64_t end, void *ud)
{
	struct occ_pick *p = ud;

	(void)end;
	if (start <= p->after || start > p->upto)
		return true;
	if (p->best != INT64_MIN)
		p->missed++;
	p->best = start;
	return true;
}

static int64_t playlist_len(const struct mc_playlist *p)
{
	int64_t sum = 0;

	for (size_t i = 0; i < p->n_items; i++)
		sum += item_len(&p->items[i]);
	return sum;
}

/*
 * The wall clock jumped from `from` to `to`: find at-time occurrences of
 * this channel that started in (from, to], were not played, and ended
 * before to (the engine no longer sees them), and play the latest of them
 * late when it is recent enough.
 */
static void catch_up(struct mc_timeline *tl, enum mc_channel ch,
                     const struct mc_manifest *m, const struct mc_sched *s,
                     int64_t from, int64_t to)
{
	struct chan *c = &tl->ch[ch];

	for (size_t i = 0; m && s && i < m->n_entries; i++) {
		const struct mc_entry *e = &m->entries[i];
		struct occ_pick p = {from, to, INT64_MIN, 0};

		if (e->channel != ch || e->mode != MC_MODE_ONCE ||
		    !e->dtstart || !mc_targets_match(&e->targets, &tl->who))
			continue;
		mc_sched_occurrences(s, i, from, to + 1, pick_occ, &p);
		if (p.best == INT64_MIN ||
		    mc_state_fired(tl->d.state, e->id, p.best))
			continue;
		if (p.best + playlist_len(e->playlist) > to)
			continue; /* still in its window: it plays normally */
		if (to - p.best > MC_TIMELINE_CATCHUP_MS) {
			mc_log_warn("timeline",
			            "%s: clock stepped forward over at-time "
			            "item %s (due %" PRId64 " s ago); too late "
			            "to play, skipped",
			            mc_channel_name(ch), e->id,
			            (to - p.best) / 1000);
			continue;
		}
		mc_log_warn("timeline",
		            "%s: clock stepped forward over at-time item %s "
		            "(due %" PRId64 " s ago); playing it now",
		            mc_channel_name(ch), e->id, (to - p.best) / 1000);
		c->late = (struct late){true, m, s, i, p.best, to};
	}
}

/* ---- starting and stopping ---- */

static bool same_play(const struct chan *c, const struct want *w)
{
	const char *cid = w->content ? w->content->id : NULL;
	const char *eid = w->entry ? w->entry->id : NULL;

	if (!c->on || c->kind != w->kind || c->item_start != w->item_start)
		return false;
	if ((c->content == NULL) != (cid == NULL) ||
	    (cid && strcmp(c->content, cid) != 0))
		return false;
	if ((c->entry == NULL) != (eid == NULL) ||
	    (eid && strcmp(c->entry, eid) != 0))
		return false;
	if ((c->text == NULL) != (w->text == NULL) ||
	    (w->text && strcmp(c->text, w->text) != 0))
		return false;
	return true;
}

/* Tell the screen's output what the speaker broadcasts (NULL: nothing). */
static void banner(struct mc_timeline *tl, const char *text)
{
	struct mc_output *o = tl->d.out[MC_CH_SCREEN];

	if (o && o->ops->banner)
		o->ops->banner(o, text);
}

/* Log an error and report it for health when the player listens. */
static void report(struct mc_timeline *tl, const char *module, const char *fmt,
                   ...) __attribute__((format(printf, 3, 4)));

static void report(struct mc_timeline *tl, const char *module, const char *fmt,
                   ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (tl->d.error)
		tl->d.error(tl->d.error_ud, module, msg);
	else
		mc_log_error(module, "%s", msg);
}

static void stop_chan(struct mc_timeline *tl, enum mc_channel ch, int64_t now)
{
	struct chan *c = &tl->ch[ch];
	struct mc_output *o = tl->d.out[ch];
	bool completed = now >= c->item_end - END_SLACK_MS;
	struct mc_error err;

	if (!c->on)
		return;
	if (o && o->ops->stop)
		o->ops->stop(o, ch, completed);
	if (ch == MC_CH_SPEAKER && c->kind == MC_NOW_SCHEDULED && c->content)
		banner(tl, NULL);
	if (c->pop_id[0] && tl->d.outbox &&
	    mc_outbox_end(tl->d.outbox, c->pop_id, now, completed, &err) !=
	            MC_OK)
		report(tl, "pop", "cannot close record %s: %s", c->pop_id,
		       err.msg);
	MC_FREE(c->entry);
	MC_FREE(c->content);
	MC_FREE(c->text);
	c->pop_id[0] = '\0';
	c->on = false;
}

static void mark_fired(struct mc_timeline *tl, const struct want *w,
                       int64_t now)
{
	struct mc_error err;

	if (!w->entry || w->entry->mode != MC_MODE_ONCE ||
	    mc_state_fired(tl->d.state, w->entry->id, w->occ_start))
		return;
	mc_state_add_fired(tl->d.state, w->entry->id, w->occ_start, now);
	if (mc_state_save(tl->d.cfg->state_dir, tl->d.state, &err) != MC_OK)
		mc_log_error("timeline", "cannot save state: %s", err.msg);
}

/* Paths of the files an item needs, kept beside its struct mc_play. */
struct play_paths {
	char path[4096];
	char bg_path[4096];
};

/* What the outputs are handed for want w. */
static void play_of(struct mc_timeline *tl, enum mc_channel ch,
                    const struct want *w, int64_t now, struct mc_play *p,
                    struct play_paths *pp)
{
	memset(p, 0, sizeof(*p));
	p->channel = ch;
	p->content = w->content;
	p->text = w->text;
	p->entry_id = w->entry ? w->entry->id : NULL;
	p->start_ms = w->item_start ? w->item_start : now;
	p->end_ms = w->item_end;
	p->transition = w->item ? w->item->transition : MC_TRANSITION_CUT;
	p->volume = tl->d.volume;
	if (w->item && w->item->volume >= 0)
		p->volume = tl->d.volume * w->item->volume / 100;
	p->fallback = w->kind != MC_NOW_SCHEDULED;
	p->reason = w->reason;
	if (w->content && w->content->has_asset)
		p->path = mc_cache_path(tl->d.cache, w->content->asset.sha256,
		                        pp->path, sizeof(pp->path));
	if (w->content && w->content->type == MC_CONTENT_SLOGAN &&
	    w->content->style.bg_image) {
		const struct mc_content *bg =
		        mc_manifest_content(w->m, w->content->style.bg_image);

		if (bg && bg->has_asset)
			p->bg_path =
			        mc_cache_path(tl->d.cache, bg->asset.sha256,
			                      pp->bg_path, sizeof(pp->bg_path));
	}
}

/*
 * How long before its instant an item is prepared: the audio preroll or
 * the amplifier's warm-up, whichever is longer, and a margin for the
 * main loop.
 */
static int64_t prepare_lead(const struct mc_timeline *tl)
{
	int64_t lead = tl->d.cfg->preroll_ms;

	if (tl->d.cfg->hook_amplifier && tl->d.cfg->amp_lead_ms > lead)
		lead = tl->d.cfg->amp_lead_ms;
	return lead + 500;
}

/*
 * When the item after cur may be prepared: prepare_lead before its
 * instant, but on the screen not while cur is still fading in, when the
 * outgoing frame is held too (three full frames at once otherwise, 24 MB
 * at 1080p).  Items too short for both keep the plain lead.
 */
static int64_t prepare_at(const struct mc_timeline *tl, enum mc_channel ch,
                          const struct want *cur)
{
	int64_t at = cur->next_change - prepare_lead(tl), faded;

	if (ch != MC_CH_SCREEN || tl->d.cfg->crossfade_ms <= 0)
		return at;
	faded = cur->item_start + tl->d.cfg->crossfade_ms + 100;
	if (faded > at && faded <= cur->next_change - 250)
		at = faded;
	return at;
}

/*
 * Hand the output the item that follows the current one, so that it is
 * decoded (an image) or prerolled (audio) before its instant.  Each next
 * item is prepared once.
 */
static void prepare_next(struct mc_timeline *tl, enum mc_channel ch,
                         const struct want *cur, int64_t now, bool synced)
{
	struct chan *c = &tl->ch[ch];
	struct mc_output *o = tl->d.out[ch];
	struct play_paths *pp;
	struct mc_error err = {0};
	struct mc_play p;
	struct want nx;
	char key[sizeof(c->prepared)];

	if (!o->ops->prepare || cur->next_change == MC_SCHED_NEVER || tl->alert)
		return;
	/* Not too early: a prerolled pipeline may hold the audio device. */
	if (now < prepare_at(tl, ch, cur))
		return;
	eval_channel(tl, ch, cur->next_change, synced, &nx);
	if (!nx.content || nx.kind != MC_NOW_SCHEDULED)
		goto out;
	snprintf(key, sizeof(key), "%s@%" PRId64, nx.content->id,
	         nx.item_start);
	if (strcmp(key, c->prepared) == 0)
		goto out;
	pp = malloc(sizeof(*pp));
	if (!pp)
		goto out;
	play_of(tl, ch, &nx, now, &p, pp);
	if (o->ops->prepare(o, &p, &err) != MC_OK)
		mc_log_warn("output", "%s: cannot prepare %s: %s",
		            mc_channel_name(ch), nx.content->id, err.msg);
	memcpy(c->prepared, key, sizeof(key));
	free(pp);
out:
	want_clear(&nx);
}

/* Skip content c for a while: its output would not start it. */
static void mark_failed(struct mc_timeline *tl, const struct mc_content *c)
{
	struct failed *f;

	if (tl->n_failed == TIMELINE_FAILED_MAX) {
		memmove(tl->failed, tl->failed + 1,
		        (TIMELINE_FAILED_MAX - 1) * sizeof(*tl->failed));
		tl->n_failed--;
	}
	f = &tl->failed[tl->n_failed++];
	snprintf(f->id, sizeof(f->id), "%s", c->id);
	snprintf(f->sha256, sizeof(f->sha256), "%s",
	         c->has_asset ? c->asset.sha256 : "");
	f->until = mc_mono_ms() + TIMELINE_FAILED_MS;
}

/*
 * Start w on its channel.  Returns false when the output refused it (a
 * corrupt file, say): nothing is recorded as played, the content is
 * skipped for TIMELINE_FAILED_MS, and the caller evaluates again so that
 * the next item plays.
 */
static bool start_chan(struct mc_timeline *tl, enum mc_channel ch,
                       struct want *w, int64_t now)
{
	struct chan *c = &tl->ch[ch];
	struct mc_output *o = tl->d.out[ch];
	struct play_paths *pp = malloc(sizeof(*pp));
	struct mc_play p;
	struct mc_error err = {0};

	if (!pp) {
		mc_log_error("output", "%s: out of memory",
		             mc_channel_name(ch));
		return true;
	}
	play_of(tl, ch, w, now, &p, pp);
	if (o->ops->start(o, &p, &err) != MC_OK) {
		report(tl, "output",
		       "%s: cannot play %s: %s; skipped for %d min",
		       mc_channel_name(ch),
		       w->content ? w->content->id : "(idle)", err.msg,
		       TIMELINE_FAILED_MS / 60000);
		free(pp);
		if (!w->content)
			return true; /* the built-in screen: nothing to skip */
		mark_failed(tl, w->content);
		return false;
	}
	c->on = true;
	c->kind = w->kind;
	c->entry = mc_strdup(p.entry_id);
	c->content = w->content ? mc_strdup(w->content->id) : NULL;
	c->text = mc_strdup(w->text);
	c->reason = w->reason;
	c->item_start = w->item_start;
	c->item_end = w->item_end ? w->item_end : MC_SCHED_NEVER;
	c->occ_start = w->occ_start;
	if (w->content && w->content->has_asset)
		mc_cache_touch(tl->d.cache, w->content->asset.sha256);
	if (w->content && tl->d.outbox) {
		struct mc_pop_record r = {0};

		r.content = w->content->id;
		if (w->content->has_asset)
			memcpy(r.sha256, w->content->asset.sha256, 65);
		r.entry = (char *)p.entry_id;
		r.channel = ch;
		r.start_ms = now;
		r.count = 1;
		if (mc_outbox_start(tl->d.outbox, &r, c->pop_id,
		                    sizeof(c->pop_id), &err) != MC_OK) {
			c->pop_id[0] = '\0';
			report(tl, "pop", "cannot record start of %s: %s",
			       w->content->id, err.msg);
		}
	}
	if (ch == MC_CH_SPEAKER && w->kind == MC_NOW_SCHEDULED && w->content)
		banner(tl,
		       w->content->name ? w->content->name : w->content->id);
	mark_fired(tl, w, now);
	free(pp);
	return true;
	mc_log_debug("timeline", "%s: %s %s (%s)", mc_channel_name(ch),
	             w->entry ? w->entry->id : "-",
	             w->content ? w->content->id : "(idle)", w->reason);
}

/* ---- public ---- */

struct mc_timeline *mc_timeline_new(const struct mc_timeline_deps *deps)
{
	struct mc_timeline *tl = calloc(1, sizeof(*tl));

	if (!tl)
		return NULL;
	tl->d = *deps;
	tl->who.node = deps->cfg->node_id;
	tl->who.site = deps->cfg->site;
	tl->who.tags = (const char *const *)deps->cfg->tags;
	tl->who.n_tags = deps->cfg->n_tags;
	return tl;
}

void mc_timeline_free(struct mc_timeline *tl)
{
	if (!tl)
		return;
	for (int ch = 0; ch < MC_CH_COUNT; ch++)
		stop_chan(tl, (enum mc_channel)ch, mc_now_ms());
	mc_sched_free(tl->applied_s);
	mc_manifest_free(tl->applied_m);
	mc_sched_free(tl->pending_s);
	mc_manifest_free(tl->pending_m);
	free(tl->alert);
	free(tl);
}

/* A late play must not outlive the manifest it points into. */
static void drop_late_of(struct mc_timeline *tl, const struct mc_manifest *m)
{
	for (int ch = 0; ch < MC_CH_COUNT; ch++)
		if (tl->ch[ch].late.on && tl->ch[ch].late.m == m)
			tl->ch[ch].late.on = false;
}

void mc_timeline_set_applied(struct mc_timeline *tl, struct mc_manifest *m,
                             struct mc_sched *s)
{
	drop_late_of(tl, tl->applied_m);
	mc_sched_free(tl->applied_s);
	mc_manifest_free(tl->applied_m);
	tl->applied_m = m;
	tl->applied_s = s;
}

void mc_timeline_set_pending(struct mc_timeline *tl, struct mc_manifest *m,
                             struct mc_sched *s)
{
	drop_late_of(tl, tl->pending_m);
	mc_sched_free(tl->pending_s);
	mc_manifest_free(tl->pending_m);
	tl->pending_m = m;
	tl->pending_s = s;
}

void mc_timeline_promote(struct mc_timeline *tl)
{
	struct mc_manifest *m = tl->pending_m;
	struct mc_sched *s = tl->pending_s;

	if (!m)
		return;
	tl->pending_m = NULL;
	tl->pending_s = NULL;
	/* Late plays of the pending manifest stay valid: same objects. */
	drop_late_of(tl, tl->applied_m);
	mc_sched_free(tl->applied_s);
	mc_manifest_free(tl->applied_m);
	tl->applied_m = m;
	tl->applied_s = s;
}

const struct mc_manifest *mc_timeline_applied(const struct mc_timeline *tl)
{
	return tl->applied_m;
}

const struct mc_manifest *mc_timeline_pending(const struct mc_timeline *tl)
{
	return tl->pending_m;
}

/* The late play of ch is over (if any): remember it; then evaluate. */
static void end_late_and_eval(struct mc_timeline *tl, enum mc_channel ch,
                              int64_t now, bool synced, struct want *w)
{
	struct chan *c = &tl->ch[ch];

	if (c->late.on) {
		struct want done = {0};

		done.entry = &c->late.m->entries[c->late.entry];
		done.occ_start = c->late.occ_ms;
		mark_fired(tl, &done, now);
		c->late.on = false;
	}
	eval_channel(tl, ch, now, synced, w);
}

int64_t mc_timeline_tick(struct mc_timeline *tl, int64_t now, bool clock_synced)
{
	int64_t mono = mc_mono_ms(), next = MC_SCHED_NEVER, expected;
	bool stepped_forward = false;

	if (tl->last_wall) {
		expected = tl->last_wall + (mono - tl->last_mono);
		if (now - expected > MC_TIMELINE_STEP_MS) {
			mc_log_warn("timeline",
			            "wall clock stepped forward by %" PRId64
			            " ms",
			            now - expected);
			stepped_forward = true;
		} else if (expected - now > MC_TIMELINE_STEP_MS) {
			mc_log_warn("timeline",
			            "wall clock stepped back by %" PRId64
			            " ms; at-time items already played will "
			            "not play again",
			            expected - now);
		}
	}
	for (int i = 0; i < MC_CH_COUNT; i++) {
		enum mc_channel ch = (enum mc_channel)i;
		struct chan *c = &tl->ch[ch];
		struct want w;

		if (!tl->d.out[ch])
			continue;
		if (tl->alert && now >= tl->alert_from) {
			/* The alert holds the channel: nothing scheduled. */
			stop_chan(tl, ch, now);
			c->reason = "alert";
			continue;
		}
		if (tl->alert && tl->alert_from < next)
			next = tl->alert_from;
		if (stepped_forward && clock_synced) {
			catch_up(tl, ch, tl->applied_m, tl->applied_s,
			         tl->last_wall, now);
			catch_up(tl, ch, tl->pending_m, tl->pending_s,
			         tl->last_wall, now);
		}
		/* A file that will not play is skipped at once: evaluate
		 * again without it (a few times at most). */
		for (int attempt = 0;; attempt++) {
			if (!(c->late.on && eval_late(tl, &c->late, now, &w)))
				end_late_and_eval(tl, ch, now, clock_synced,
				                  &w);
			if (same_play(c, &w))
				break;
			stop_chan(tl, ch, now);
			if (start_chan(tl, ch, &w, now) || attempt == 3)
				break;
			want_clear(&w);
		}
		prepare_next(tl, ch, &w, now, clock_synced);
		/* Wake in time to prepare the next item. */
		if (tl->d.out[ch]->ops->prepare &&
		    w.next_change != MC_SCHED_NEVER &&
		    prepare_at(tl, ch, &w) > now &&
		    prepare_at(tl, ch, &w) < next)
			next = prepare_at(tl, ch, &w);
		if (w.next_change < next)
			next = w.next_change;
		want_clear(&w);
	}
	tl->last_wall = now;
	tl->last_mono = mono;
	return next;
}

void mc_timeline_alert(struct mc_timeline *tl, const char *alert_id,
                       int64_t from_ms)
{
	MC_FREE(tl->alert);
	tl->alert = mc_strdup(alert_id);
	tl->alert_from = from_ms;
}

void mc_timeline_set_volume(struct mc_timeline *tl, int percent)
{
	tl->d.volume = percent;
	for (int ch = 0; ch < MC_CH_COUNT; ch++) {
		struct mc_output *o = tl->d.out[ch];

		/* One backend may serve both channels: tell it once. */
		if (!o || !o->ops->set_volume ||
		    (ch > 0 && tl->d.out[ch - 1] == o))
			continue;
		o->ops->set_volume(o, percent);
	}
}

void mc_timeline_playing(const struct mc_timeline *tl,
                         struct mc_playing p[MC_CH_COUNT])
{
	for (int ch = 0; ch < MC_CH_COUNT; ch++) {
		const struct chan *c = &tl->ch[ch];

		p[ch].content = mc_strdup(c->content);
		p[ch].entry = mc_strdup(c->entry);
		p[ch].reason =
		        mc_strdup(tl->d.out[ch] ? c->reason : "not present");
	}
}
