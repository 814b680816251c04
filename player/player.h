/*
 * minecast-player — the player: every module of a node tied together and
 * driven by one main loop on the main thread.
 *
 * main.c parses the command line and calls mc_player_init, mc_player_run
 * and mc_player_fini.  The handlers of the other files of this folder
 * (sync.c, control.c) work on struct mc_player from the main thread only;
 * worker threads reach it through the event queue.
 */
#ifndef MC_PLAYER_PLAYER_H
#define MC_PLAYER_PLAYER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "minecast/messages.h"

#include "cache.h"
#include "config.h"
#include "evq.h"
#include "fetch.h"
#include "health.h"
#include "link.h"
#include "outbox.h"
#include "outputs/output.h"
#include "state.h"
#include "timeline.h"

/* How long identify shows the node's id and address. */
#define MC_IDENTIFY_MS (30 * 1000)

/* Where the sync of the pending manifest stands. */
struct mc_sync {
	bool manifest_wanted; /* waiting for the manifest file itself */
	char **assets;        /* sha256 of assets still wanted */
	size_t n_assets;
	int64_t bytes_left; /* their total size */
	char *held_pointer; /* a verified-later pointer held until the
	                     * clock is synchronised (expiry unknown) */
	size_t held_len;
	bool failed; /* the last attempt failed (see errors) */
};

/* An alert accepted and waiting for, or in, its start. */
struct mc_active_alert {
	bool on;           /* an alert is accepted */
	bool started;      /* its outputs were started */
	struct mc_alert a; /* the alert (owned) */
};

struct mc_player {
	struct mc_player_config cfg;
	struct mc_player_state st;
	struct mc_evq *q;
	struct mc_cache *cache;
	struct mc_fetcher *fetch;
	struct mc_outbox *outbox;
	struct mc_link *link;
	struct mc_output outputs[MC_CH_COUNT]; /* backend instances */
	size_t n_outputs;
	struct mc_output *out[MC_CH_COUNT]; /* per channel, or NULL */
	struct mc_timeline *tl;
	struct mc_sync sync;
	struct mc_active_alert alert;

	struct mc_errlist errors; /* recent errors for health */

	bool clock_synced;      /* as of the last check */
	double clock_offset_ms; /* estimated error, NAN if unknown */
	int volume;             /* channel volume, percent */
	int64_t started_mono;   /* for uptime of the player itself */
	int64_t next_health_ms; /* monotonic instants of periodic work */
	int64_t next_pop_ms;
	int64_t next_clock_ms;
	int64_t next_gc_ms;
	int64_t identify_until;     /* wall clock; 0 = not identifying */
	bool state_dirty;           /* publish the retained state soon */
	volatile sig_atomic_t stop; /* set by signals: leave the loop */
	int exit_code;              /* what mc_player_run returns */
};

/*
 * Read the config and bring every module up: state, cache (plays the
 * last-known-good manifest at once), outbox, outputs, fetcher, link.
 * Returns MC_OK, or an error in err; call mc_player_fini in any case.
 */
enum mc_err mc_player_init(struct mc_player *p, const char *config_path,
                           struct mc_error *err);

/* Run the main loop until p->stop; returns the process exit code. */
int mc_player_run(struct mc_player *p);

/* Bring everything down in reverse order. */
void mc_player_fini(struct mc_player *p);

/*
 * Record an error for health (and log it at error level): module is the
 * log module name.
 */
void mc_player_error(struct mc_player *p, const char *module, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));

/* Publish the retained state (online) now if connected. */
void mc_player_publish_state(struct mc_player *p);

/* ---- sync.c ---- */

/* Load the last-known-good and pending manifests from the cache at boot. */
void mc_sync_boot(struct mc_player *p);

/* After the fetcher started: want what the pending manifest still needs. */
void mc_sync_resume(struct mc_player *p);

/* A desired-state envelope arrived on node/<id>/desired. */
void mc_sync_pointer(struct mc_player *p, const char *payload, size_t len);

/* A download finished (MC_EV_FETCH_DONE). */
void mc_sync_fetched(struct mc_player *p, const struct mc_event *ev);

/* The clock became synchronised: re-examine a held pointer. */
void mc_sync_clock_synced(struct mc_player *p);

/* Re-verify every cached file of the manifests and fetch what is missing
 * (the resync command).  Returns how many files are (re)wanted. */
size_t mc_sync_resync(struct mc_player *p);

/* Delete cache blobs no manifest of ours needs, under the quota. */
void mc_sync_gc(struct mc_player *p, bool force);

/* Bytes still to download: the manifest while it is wanted, then its
 * assets. */
int64_t mc_sync_bytes_left(const struct mc_player *p);

/* "idle", "syncing" or "error". */
const char *mc_sync_status(const struct mc_player *p);

/* ---- control.c: commands and alerts ---- */

/* A command envelope arrived on node/<id>/cmd. */
void mc_control_command(struct mc_player *p, const char *payload, size_t len);

/* An alert envelope arrived on alert/<id> (len 0: a deleted retained). */
void mc_control_alert(struct mc_player *p, const char *alert_id,
                      const char *payload, size_t len);

/* An upload or hook finished (MC_EV_UPLOAD_DONE, MC_EV_HOOK_DONE). */
void mc_control_done(struct mc_player *p, const struct mc_event *ev);

/* Periodic: start an accepted alert at its instant, end it at expiry,
 * end identify.  Returns the next wall-clock instant it needs a call. */
int64_t mc_control_tick(struct mc_player *p, int64_t now_ms);

#endif
