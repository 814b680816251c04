/*
 * minecast-player — what the node remembers across restarts.
 *
 * state_dir/state.json, written atomically (temp file, fsync, rename)
 * whenever it changes.  It holds the replay guard (the highest pointer
 * version ever accepted), the last-known-good manifest a node plays from
 * at boot with no network, the manifest being synced, the at-time items
 * already played (so a clock step or a restart never plays one twice),
 * the last alert seq seen per alert id, and the volume.
 */
#ifndef MC_PLAYER_STATE_H
#define MC_PLAYER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minecast/error.h"

/* At-time occurrences are remembered this long after they start. */
#define MC_STATE_FIRED_KEEP_MS (48LL * 3600 * 1000)

/* Alert ids remembered (oldest forgotten first). */
#define MC_STATE_ALERTS_MAX 64

/* One at-time occurrence already played. */
struct mc_fired {
	char *entry;    /* entry id */
	int64_t occ_ms; /* occurrence start */
};

/* The last seq seen of one alert id. */
struct mc_alert_seen {
	char *id;
	int64_t seq;
};

/* A manifest the node knows by pointer. */
struct mc_manifest_ref {
	int64_t version; /* pointer version; 0 = none */
	char sha256[65]; /* "" = none */
	int64_t size;
	char *url; /* where to fetch it; may be NULL once cached */
};

struct mc_player_state {
	int64_t boot;                   /* starts so far, this one included */
	int64_t accepted_version;       /* highest verified pointer version */
	struct mc_manifest_ref applied; /* last-known-good, playing */
	struct mc_manifest_ref pending; /* accepted, still syncing */
	int volume;                     /* percent; -1 = config default */
	struct mc_fired *fired;         /* at-time items played */
	size_t n_fired;
	struct mc_alert_seen *alerts;
	size_t n_alerts;
};

/*
 * Load dir/state.json into st (zeroed first).  A missing file gives a
 * fresh state.  A file that does not parse is renamed state.json.corrupt
 * and a fresh state is returned with MC_ERR_PARSE, so the caller can log
 * it: the node then accepts any validly signed pointer once.
 */
enum mc_err mc_state_load(const char *dir, struct mc_player_state *st,
                          struct mc_error *err);

/* Write st to dir/state.json atomically. */
enum mc_err mc_state_save(const char *dir, const struct mc_player_state *st,
                          struct mc_error *err);

void mc_state_free(struct mc_player_state *st);

/* Was this at-time occurrence played? */
bool mc_state_fired(const struct mc_player_state *st, const char *entry,
                    int64_t occ_ms);

/* Remember it; forget those older than MC_STATE_FIRED_KEEP_MS. */
enum mc_err mc_state_add_fired(struct mc_player_state *st, const char *entry,
                               int64_t occ_ms, int64_t now_ms);

/* Last seq seen for alert id, or INT64_MIN. */
int64_t mc_state_alert_seq(const struct mc_player_state *st, const char *id);
enum mc_err mc_state_set_alert_seq(struct mc_player_state *st, const char *id,
                                   int64_t seq);

/* Set or clear (sha256 NULL) a manifest reference. */
enum mc_err mc_manifest_ref_set(struct mc_manifest_ref *r, int64_t version,
                                const char *sha256, int64_t size,
                                const char *url);

#endif
