/*
 * minecast-player — the timeline: what each channel plays, started and
 * stopped on the outputs at the right instants, with proof of play.
 *
 * The common schedule engine (sched.h) decides; this module acts on its
 * answers.  It holds two manifests: the applied one (last-known-good,
 * every asset verified) and, while a new one syncs, the pending one.  The
 * pending manifest takes effect item by item: on each channel a scheduled
 * item of the pending manifest whose assets are verified plays; otherwise
 * the applied manifest keeps playing.
 *
 * At-time (once) items are remembered when they start (state.h), so that
 * a clock step back or a restart never plays one twice; a clock step
 * forward over an at-time instant plays the item late, at once, if the
 * instant is less than MC_TIMELINE_CATCHUP_MS ago, and logs it as missed
 * otherwise.
 */
#ifndef MC_PLAYER_TIMELINE_H
#define MC_PLAYER_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "minecast/messages.h"
#include "minecast/model.h"
#include "minecast/sched.h"

#include "cache.h"
#include "config.h"
#include "outbox.h"
#include "outputs/output.h"
#include "state.h"

/* How late an at-time item skipped by a forward clock step still plays. */
#define MC_TIMELINE_CATCHUP_MS (10 * 60 * 1000)

/* A wall-clock jump larger than this (against the monotonic clock) is a
 * clock step. */
#define MC_TIMELINE_STEP_MS 2000

struct mc_timeline;

/* What the timeline works with; all borrowed, all outlive it. */
struct mc_timeline_deps {
	const struct mc_player_config *cfg;
	struct mc_player_state *state; /* fired at-time items; saved here */
	struct mc_cache *cache;        /* readiness and file paths */
	struct mc_outbox *outbox;      /* proof of play; may be NULL */
	struct mc_output *out[MC_CH_COUNT]; /* NULL: channel not present */
	int volume;                         /* channel volume, percent */
	/* Report an error for health (the player's error list); may be
	 * NULL, then errors are only logged. */
	void (*error)(void *ud, const char *module, const char *msg);
	void *error_ud; /* passed to error */
};

struct mc_timeline *mc_timeline_new(const struct mc_timeline_deps *deps);

/* Stop every channel (records end as interrupted) and free. */
void mc_timeline_free(struct mc_timeline *tl);

/*
 * Hand over a manifest and its compiled schedule (the timeline owns both
 * from now on).  set_applied replaces the last-known-good; set_pending
 * replaces the one syncing (NULL, NULL to drop it); promote makes the
 * pending one the applied one.
 */
void mc_timeline_set_applied(struct mc_timeline *tl, struct mc_manifest *m,
                             struct mc_sched *s);
void mc_timeline_set_pending(struct mc_timeline *tl, struct mc_manifest *m,
                             struct mc_sched *s);
void mc_timeline_promote(struct mc_timeline *tl);

const struct mc_manifest *mc_timeline_applied(const struct mc_timeline *tl);
const struct mc_manifest *mc_timeline_pending(const struct mc_timeline *tl);

/*
 * Re-evaluate every channel at now_ms (wall clock) and start or stop
 * outputs.  Returns the wall-clock instant of the next change (the main
 * loop sleeps until then at most).
 */
int64_t mc_timeline_tick(struct mc_timeline *tl, int64_t now_ms,
                         bool clock_synced);

/*
 * An urgent alert takes every channel from from_ms on: what plays stops
 * there (interrupted) and nothing scheduled starts until the alert ends
 * (alert_id NULL), after which the schedule resumes where it stands.  The
 * alert itself is shown by the outputs (control.c); health reports the
 * channels as playing "alert".
 */
void mc_timeline_alert(struct mc_timeline *tl, const char *alert_id,
                       int64_t from_ms);

/* Set the channel volume (percent) and tell the outputs. */
void mc_timeline_set_volume(struct mc_timeline *tl, int percent);

/* Fill what each channel plays, for health (strings owned by p). */
void mc_timeline_playing(const struct mc_timeline *tl,
                         struct mc_playing p[MC_CH_COUNT]);

#endif
