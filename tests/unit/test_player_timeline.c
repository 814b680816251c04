/*
 * Unit tests of the player's timeline (player/timeline.c): at-time items
 * across clock steps and restarts, the pending manifest taking effect
 * item by item, alerts holding the channels, dated items waiting for the
 * clock.  The timeline takes the wall clock as an argument, so these
 * tests step it freely; a recording output backend stands in for the
 * screen and speaker (outputs are pluggable by design).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "minecast/codec.h"
#include "minecast/sched.h"
#include "minecast/sign.h"
#include "minecast/util.h"

#include "cache.h"
#include "config.h"
#include "state.h"
#include "timeline.h"

#define S 1000LL
/* 2023-11-12T06:00:00Z: the bulletin's instant (the manifest is in UTC). */
#define T0 1699768800000LL

/* ---- a recording output ---- */

struct rec {
	char event[8]; /* "start" or "stop" */
	int channel;
	char content[65]; /* "" when idle */
	char entry[65];   /* "" for fallback/idle */
	int64_t start_ms; /* start: the instant it should start */
	bool completed;   /* stop: completed or interrupted */
};

static struct rec recs[256];
static size_t n_recs;

/* Content the recording output refuses to start (a "corrupt file"). */
static const char *refuse;

static enum mc_err rec_start(struct mc_output *o, const struct mc_play *p,
                             struct mc_error *err)
{
	if (refuse && p->content && strcmp(p->content->id, refuse) == 0)
		return mc_error_set(err, MC_ERR_IO, "%s: cannot decode",
		                    refuse);
	struct rec *r = &recs[n_recs < 256 ? n_recs++ : 255];

	memset(r, 0, sizeof(*r));
	strcpy(r->event, "start");
	r->channel = p->channel;
	if (p->content)
		snprintf(r->content, sizeof(r->content), "%s", p->content->id);
	if (p->entry_id)
		snprintf(r->entry, sizeof(r->entry), "%s", p->entry_id);
	r->start_ms = p->start_ms;
	return MC_OK;
}

static void rec_stop(struct mc_output *o, enum mc_channel ch, bool completed)
{
	struct rec *r = &recs[n_recs < 256 ? n_recs++ : 255];

	memset(r, 0, sizeof(*r));
	strcpy(r->event, "stop");
	r->channel = ch;
	r->completed = completed;
}

static enum mc_err rec_prepare(struct mc_output *o, const struct mc_play *p,
                               struct mc_error *err)
{
	struct rec *r = &recs[n_recs < 256 ? n_recs++ : 255];

	memset(r, 0, sizeof(*r));
	strcpy(r->event, "prep");
	r->channel = p->channel;
	snprintf(r->content, sizeof(r->content), "%s", p->content->id);
	r->start_ms = p->start_ms;
	return MC_OK;
}

static const struct mc_output_ops rec_ops = {
        .prepare = rec_prepare,
        .name = "record",
        .channels = 3,
        .start = rec_start,
        .stop = rec_stop,
};

/* How many starts of content (on any channel) were recorded. */
static int starts_of(const char *content)
{
	int n = 0;

	for (size_t i = 0; i < n_recs; i++)
		if (strcmp(recs[i].event, "start") == 0 &&
		    strcmp(recs[i].content, content) == 0)
			n++;
	return n;
}

/* The last start on a channel. */
static const struct rec *last_start(int ch)
{
	for (size_t i = n_recs; i-- > 0;)
		if (strcmp(recs[i].event, "start") == 0 &&
		    recs[i].channel == ch)
			return &recs[i];
	return NULL;
}

/* ---- fixture ---- */

#define MANIFEST(extra_content, extra_playlists, screen_entries)               \
	"{\"format\":\"minecast-manifest/1\",\"node\":\"pi-t\","               \
	"\"timezone\":\"UTC\",\"content\":["                                   \
	"{\"id\":\"s1\",\"type\":\"slogan\",\"text\":\"Một\"},"              \
	"{\"id\":\"s2\",\"type\":\"slogan\",\"text\":\"Hai\"},"                \
	"{\"id\":\"bt\",\"type\":\"speech\",\"text\":\"Bản tin\","           \
	"\"duration_ms\":10000},"                                              \
	"{\"id\":\"fb\",\"type\":\"slogan\",\"text\":\"Dự "                  \
	"phòng\"}" extra_content "],\"playlists\":["                           \
	"{\"id\":\"ps\",\"items\":[{\"content\":\"s1\",\"duration_s\":10},"    \
	"{\"content\":\"s2\",\"duration_s\":10}]},"                            \
	"{\"id\":\"pb\",\"items\":[{\"content\":\"bt\"}]}" extra_playlists     \
	"],\"entries\":[{\"id\":\"e-loop\",\"playlist\":\"ps\","               \
	"\"channel\":\"screen\",\"priority\":10},"                             \
	"{\"id\":\"e-bt\",\"playlist\":\"pb\",\"channel\":\"speaker\","        \
	"\"mode\":\"once\",\"dtstart\":\"20231112T060000\","                   \
	"\"rrule\":\"FREQ=DAILY\"}" screen_entries "],"                        \
	"\"fallback\":{\"screen\":\"fb\"}}"

struct fx {
	char dir[64];
	struct mc_player_config cfg;
	struct mc_player_state st;
	struct mc_cache *cache;
	struct mc_output out;
	struct mc_timeline *tl;
};

static void load(const char *json, struct mc_manifest **m, struct mc_sched **s)
{
	struct mc_error err;

	if (mc_manifest_parse(json, strlen(json), MC_DOC_MANIFEST, m, &err) !=
	    MC_OK)
		fail_msg("manifest: %s", err.msg);
	*s = mc_sched_new(*m, &err);
	if (!*s)
		fail_msg("schedule: %s", err.msg);
}

static struct mc_timeline *new_timeline(struct fx *f)
{
	struct mc_timeline_deps d = {0};

	d.cfg = &f->cfg;
	d.state = &f->st;
	d.cache = f->cache;
	d.out[MC_CH_SCREEN] = &f->out;
	d.out[MC_CH_SPEAKER] = &f->out;
	d.volume = 80;
	return mc_timeline_new(&d);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct mc_manifest *m;
	struct mc_sched *s;
	char cache[96];

	snprintf(f->dir, sizeof(f->dir), "/tmp/mc-tl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(cache, sizeof(cache), "%s/cache", f->dir);
	f->cfg.node_id = "pi-t";
	f->cfg.state_dir = f->dir;
	f->st.volume = -1;
	f->cache = mc_cache_open(cache, 0, NULL);
	assert_non_null(f->cache);
	f->out.ops = &rec_ops;
	f->tl = new_timeline(f);
	load(MANIFEST("", "", ""), &m, &s);
	mc_timeline_set_applied(f->tl, m, s);
	n_recs = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	mc_timeline_free(f->tl);
	mc_cache_close(f->cache);
	mc_state_free(&f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Tick every second from `from` to `to` inclusive, as a running node. */
static void run(struct fx *f, int64_t from, int64_t to)
{
	for (int64_t t = from; t <= to; t += S)
		mc_timeline_tick(f->tl, t, true);
}

/* ---- tests ---- */

static void at_time_item_fires_on_its_instant(void **state)
{
	struct fx *f = *state;
	int64_t next = mc_timeline_tick(f->tl, T0 - 3 * S, true);

	assert_int_equal(starts_of("bt"), 0);
	assert_true(next <= T0); /* the loop wakes at the instant */
	mc_timeline_tick(f->tl, T0, true);
	assert_int_equal(starts_of("bt"), 1);
	assert_int_equal(last_start(MC_CH_SPEAKER)->start_ms, T0);
	assert_true(mc_state_fired(&f->st, "e-bt", T0));
	/* The screen loop plays beside it. */
	assert_string_equal(last_start(MC_CH_SCREEN)->entry, "e-loop");
}

static void step_back_does_not_play_it_twice(void **state)
{
	struct fx *f = *state;

	run(f, T0 - 2 * S, T0 + 12 * S); /* played and ended */
	assert_int_equal(starts_of("bt"), 1);
	/* The clock steps back 15 s, then runs through 06:00 again. */
	run(f, T0 - 3 * S, T0 + 12 * S);
	assert_int_equal(starts_of("bt"), 1);
	/* Tomorrow's occurrence is another one. */
	run(f, T0 + 86400 * S - S, T0 + 86400 * S);
	assert_int_equal(starts_of("bt"), 2);
}

static void step_back_during_it_cuts_it_once(void **state)
{
	struct fx *f = *state;

	run(f, T0 - S, T0 + 4 * S); /* playing */
	run(f, T0 - 5 * S, T0 + 12 * S);
	assert_int_equal(starts_of("bt"), 1);
}

static void step_forward_over_it_plays_it_late(void **state)
{
	struct fx *f = *state;
	const struct rec *r;

	mc_timeline_tick(f->tl, T0 - 5 * S, true);
	/* The clock jumps 65 s: the bulletin's window passed unseen. */
	mc_timeline_tick(f->tl, T0 + 60 * S, true);
	assert_int_equal(starts_of("bt"), 1);
	r = last_start(MC_CH_SPEAKER);
	assert_string_equal(r->content, "bt");
	assert_int_equal(r->start_ms, T0 + 60 * S);
	run(f, T0 + 61 * S, T0 + 75 * S);
	assert_int_equal(starts_of("bt"), 1);
	assert_true(mc_state_fired(&f->st, "e-bt", T0));
	/* Remembered: a later step back does not bring it again. */
	run(f, T0 - S, T0 + 3 * S);
	assert_int_equal(starts_of("bt"), 1);
}

static void step_forward_too_far_skips_it(void **state)
{
	struct fx *f = *state;

	mc_timeline_tick(f->tl, T0 - 5 * S, true);
	mc_timeline_tick(f->tl, T0 + 11 * 60 * S, true);
	run(f, T0 + 11 * 60 * S + S, T0 + 11 * 60 * S + 20 * S);
	assert_int_equal(starts_of("bt"), 0);
}

static void restart_does_not_replay_it(void **state)
{
	struct fx *f = *state;
	struct mc_player_state again;
	struct mc_manifest *m;
	struct mc_sched *s;
	struct mc_error err;

	run(f, T0, T0 + 2 * S);
	assert_int_equal(starts_of("bt"), 1);
	/* A kill -9 now: a new process reads the saved state. */
	mc_timeline_free(f->tl);
	mc_state_free(&f->st);
	assert_int_equal(mc_state_load(f->dir, &again, &err), MC_OK);
	f->st = again;
	assert_true(mc_state_fired(&f->st, "e-bt", T0));
	f->tl = new_timeline(f);
	load(MANIFEST("", "", ""), &m, &s);
	mc_timeline_set_applied(f->tl, m, s);
	run(f, T0 + 3 * S, T0 + 12 * S);
	assert_int_equal(starts_of("bt"), 1);
}

static void dated_items_wait_for_the_clock(void **state)
{
	struct fx *f = *state;

	mc_timeline_tick(f->tl, T0 + S, false);
	assert_int_equal(starts_of("bt"), 0);
	/* Standing content plays meanwhile. */
	assert_string_equal(last_start(MC_CH_SCREEN)->entry, "e-loop");
	mc_timeline_tick(f->tl, T0 + 2 * S, true);
	assert_int_equal(starts_of("bt"), 1);
}

static void pending_manifest_takes_effect_item_by_item(void **state)
{
	struct fx *f = *state;
	static const char png[] = "not really a png, but bytes to verify";
	char sha[65], doc[4096];
	struct mc_manifest *m;
	struct mc_sched *s;
	struct mc_error err;

	mc_sha256_hex(png, sizeof(png), sha);
	snprintf(doc, sizeof(doc),
	         MANIFEST(",{\"id\":\"pano\",\"type\":\"image\","
	                  "\"sha256\":\"%s\",\"size\":%zu}",
	                  ",{\"id\":\"pp\",\"items\":[{\"content\":\"pano\"}]}",
	                  ",{\"id\":\"e-pano\",\"playlist\":\"pp\","
	                  "\"channel\":\"screen\",\"priority\":50}"),
	         sha, sizeof(png));
	load(doc, &m, &s);
	mc_timeline_set_pending(f->tl, m, s);
	/* The pano is not in the cache: the applied loop keeps playing. */
	mc_timeline_tick(f->tl, T0 + 100 * S, true);
	assert_string_equal(last_start(MC_CH_SCREEN)->entry, "e-loop");
	/* Verified into the cache: the new item plays at the next turn. */
	assert_int_equal(mc_cache_put(f->cache, sha, png, sizeof(png), &err),
	                 MC_OK);
	mc_timeline_tick(f->tl, T0 + 101 * S, true);
	assert_string_equal(last_start(MC_CH_SCREEN)->content, "pano");
	assert_string_equal(last_start(MC_CH_SCREEN)->entry, "e-pano");
	mc_timeline_promote(f->tl);
	assert_null(mc_timeline_pending(f->tl));
	mc_timeline_tick(f->tl, T0 + 102 * S, true);
	assert_string_equal(last_start(MC_CH_SCREEN)->content, "pano");
}

static void next_item_is_prepared_once_before_its_instant(void **state)
{
	struct fx *f = *state;
	int preps = 0;

	f->cfg.preroll_ms = 1500; /* prepared 2 s ahead: preroll + margin */
	/* 06:00:05: s1 of the loop plays until 06:00:10, then s2; the
	 * loop wakes at 06:00:08 to prepare s2. */
	assert_int_equal(mc_timeline_tick(f->tl, T0 + 5 * S, true), T0 + 8 * S);
	mc_timeline_tick(f->tl, T0 + 6 * S, true);
	for (size_t i = 0; i < n_recs; i++)
		assert_string_not_equal(recs[i].event, "prep");
	mc_timeline_tick(f->tl, T0 + 8 * S, true);
	mc_timeline_tick(f->tl, T0 + 9 * S, true);
	for (size_t i = 0; i < n_recs; i++) {
		if (strcmp(recs[i].event, "prep") != 0 ||
		    recs[i].channel != MC_CH_SCREEN)
			continue;
		preps++;
		assert_string_equal(recs[i].content, "s2");
		assert_int_equal(recs[i].start_ms, T0 + 10 * S);
	}
	assert_int_equal(preps, 1);
	assert_string_equal(last_start(MC_CH_SCREEN)->content, "s1");
}

/*
 * On the screen the next item is not prepared while the current one is
 * still fading in (the outgoing frame is held then): a lead longer than
 * the item waits for the crossfade to end.
 */
static void screen_prepares_after_the_crossfade(void **state)
{
	struct fx *f = *state;
	int preps = 0;

	f->cfg.preroll_ms = 9800; /* lead 10.3 s: more than an item */
	f->cfg.crossfade_ms = 600;
	/* 06:00:10.2: s2 has just started (06:00:10, until 06:00:20).  The
	 * plain lead says now; the crossfade runs until 06:00:10.6, so the
	 * loop wakes at 06:00:10.7 instead. */
	assert_int_equal(mc_timeline_tick(f->tl, T0 + 10 * S + 200, true),
	                 T0 + 10 * S + 700);
	assert_string_equal(last_start(MC_CH_SCREEN)->content, "s2");
	for (size_t i = 0; i < n_recs; i++)
		assert_false(strcmp(recs[i].event, "prep") == 0 &&
		             recs[i].channel == MC_CH_SCREEN);
	mc_timeline_tick(f->tl, T0 + 10 * S + 700, true);
	for (size_t i = 0; i < n_recs; i++) {
		if (strcmp(recs[i].event, "prep") != 0 ||
		    recs[i].channel != MC_CH_SCREEN)
			continue;
		preps++;
		assert_string_equal(recs[i].content, "s1");
		assert_int_equal(recs[i].start_ms, T0 + 20 * S);
	}
	assert_int_equal(preps, 1);
}

static void a_file_that_will_not_play_is_skipped(void **state)
{
	struct fx *f = *state;

	refuse = "s1";
	/* 06:00:05 is s1's turn: refused, so s2 plays at once. */
	mc_timeline_tick(f->tl, T0 + 5 * S, true);
	refuse = NULL;
	assert_string_equal(last_start(MC_CH_SCREEN)->content, "s2");
	/* s1 stays skipped for a while even though it would work now. */
	run(f, T0 + 6 * S, T0 + 25 * S);
	assert_int_equal(starts_of("s1"), 0);
	assert_string_equal(last_start(MC_CH_SCREEN)->content, "s2");
}

static void alert_holds_every_channel(void **state)
{
	struct fx *f = *state;
	struct mc_playing p[MC_CH_COUNT];
	size_t before;

	run(f, T0 - 2 * S, T0 + 2 * S);
	mc_timeline_alert(f->tl, "evac", T0 + 3 * S);
	/* Until its instant nothing changes; the loop wakes for it. */
	assert_true(mc_timeline_tick(f->tl, T0 + 2 * S + 500, true) <=
	            T0 + 3 * S);
	before = n_recs;
	run(f, T0 + 3 * S, T0 + 30 * S);
	/* Both channels stopped (interrupted) and nothing started. */
	assert_int_equal(n_recs, before + 2);
	assert_string_equal(recs[before].event, "stop");
	assert_false(recs[before].completed);
	assert_string_equal(recs[before + 1].event, "stop");
	mc_timeline_playing(f->tl, p);
	assert_string_equal(p[MC_CH_SCREEN].reason, "alert");
	for (int ch = 0; ch < MC_CH_COUNT; ch++) {
		free(p[ch].content);
		free(p[ch].entry);
		free(p[ch].reason);
	}
	/* Cleared: the schedule resumes where it stands. */
	mc_timeline_alert(f->tl, NULL, 0);
	mc_timeline_tick(f->tl, T0 + 31 * S, true);
	assert_string_equal(last_start(MC_CH_SCREEN)->entry, "e-loop");
	/* The loop is clocked from its anchor: 06:00:31 is item 2 (s2). */
	assert_string_equal(last_start(MC_CH_SCREEN)->content, "s2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                at_time_item_fires_on_its_instant, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                step_back_does_not_play_it_twice, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                step_back_during_it_cuts_it_once, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                step_forward_over_it_plays_it_late, setup, teardown),
	        cmocka_unit_test_setup_teardown(step_forward_too_far_skips_it,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(restart_does_not_replay_it,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(dated_items_wait_for_the_clock,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                pending_manifest_takes_effect_item_by_item, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                next_item_is_prepared_once_before_its_instant, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                screen_prepares_after_the_crossfade, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                a_file_that_will_not_play_is_skipped, setup, teardown),
	        cmocka_unit_test_setup_teardown(alert_holds_every_channel,
	                                        setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
